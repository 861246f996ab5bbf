//! The federation view over HTTP against the real Neo4j: `/subgraph` serves one
//! schema for every agency (the union of the lists), and the caller's plan still
//! decides — a field outside it answers null with `FIELD_NOT_GRANTED` on its
//! path, filtering or sorting on it is refused with that code, rows outside the
//! scope answer null exactly as missing ones (`_entities` included, without
//! wiping the other entities), and masks, row scopes and the audit record are
//! those of the same query on `/graphql`, which stays as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::TestHub;
use serde_json::{json, Value};

const TODAY: &str = "2026-11-29";

const CA: (&str, &str, &str) = ("D-CIVIL_AFFAIRS", "caseworker", "subsidy_review");
const PS: (&str, &str, &str) = ("D-PUBLIC_SECURITY", "officer", "household_registration");
const HOUSING: (&str, &str, &str) = ("D-HOUSING", "inspector", "building_safety");

fn key_of(agency: &str, role: &str) -> String {
    format!("mk_fed_{agency}_{role}")
}

fn fixtures() -> &'static (PathBuf, PathBuf) {
    static DIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("mandate-federation-{}", std::process::id()));
        let policies = root.join("policies");
        common::copy_policies(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
            &policies,
        );
        let mut pairs: Vec<(String, String)> = [CA, PS, HOUSING]
            .iter()
            .map(|(agency, role, _)| (agency.to_string(), role.to_string()))
            .collect();
        for (_, h, _) in examples() {
            let pair = (h["agency"].clone(), h["role"].clone());
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
        let entries: Vec<_> = pairs
            .iter()
            .map(|(agency, role)| (agency.as_str(), vec![role.as_str()], key_of(agency, role)))
            .collect();
        let keys = common::keys_file(&root, "fed", &entries);
        (policies, keys)
    })
}

/// The example queries (`examples/queries/*.graphql`): file name, header
/// (`agency`, `role`, `purpose`, `variables`) and text.
fn examples() -> Vec<(String, std::collections::BTreeMap<String, String>, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/queries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let header = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .filter_map(|l| {
                    let (k, v) = l.trim_start_matches('#').trim().split_once(": ")?;
                    Some((k.to_string(), v.trim().to_string()))
                })
                .collect();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            (name, header, text)
        })
        .collect()
}

/// A hub with API keys for the three agencies and those the examples name, writing its audit records to a
/// chain of its own (emptied first).
async fn start(chain: &str) -> TestHub {
    let (policies, keys) = fixtures();
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    config.audit.chain = format!("fed-{chain}-{}", std::process::id());
    let hub = TestHub::start_with(config).await;
    hub.write(
        "MATCH (a:AuditRecord {chain: $c}) DETACH DELETE a WITH count(*) AS n OPTIONAL MATCH (h:AuditHead {chain: $c}) DELETE h",
        json!({"c": hub.hub.config.audit.chain}),
    )
    .await;
    hub
}

/// POSTs `query` to `path` as `who`; the status and the whole response.
async fn ask_at(
    hub: &TestHub,
    path: &str,
    who: (&str, &str, &str),
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let resp = hub
        .client
        .post(hub.url(path))
        .header("x-api-key", key_of(who.0, who.1))
        .header("x-mandate-purpose", who.2)
        .header("x-mandate-case", "CASE-FED-1")
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn subgraph(hub: &TestHub, who: (&str, &str, &str), query: &str, vars: Value) -> Value {
    let (status, body) = ask_at(hub, "/subgraph", who, query, vars).await;
    assert_eq!(status, 200, "{body:#}");
    body
}

async fn direct(hub: &TestHub, who: (&str, &str, &str), query: &str, vars: Value) -> Value {
    ask_at(hub, "/graphql", who, query, vars).await.1
}

/// (path, code) of every error of a response.
fn errors(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let path = e["path"]
                        .as_array()
                        .map(|p| {
                            p.iter()
                                .map(|s| match s {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                })
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let code = e["extensions"]["code"].as_str().unwrap_or("").to_string();
                    (path, code)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Residents inside the civil affairs subsidy review's scope (elderly living
/// alone) and outside it (no low income in the household, not living alone).
async fn inside_and_outside(hub: &TestHub) -> (Vec<String>, Vec<String>) {
    let inside = hub
        .reference_ids(
            "MATCH (r:Resident) WHERE r.elderlyLivingAlone RETURN r.id AS id ORDER BY r.id LIMIT 2",
            json!({}),
        )
        .await;
    let outside = hub
        .reference_ids(
            "MATCH (r:Resident) WHERE NOT coalesce(r.elderlyLivingAlone, false)
               AND NOT EXISTS { MATCH (r)-[:MEMBER_OF]->(:Household)<-[:MEMBER_OF]-(m:Resident) WHERE coalesce(m.lowIncome, false) }
               AND NOT coalesce(r.lowIncome, false)
             RETURN r.id AS id ORDER BY r.id LIMIT 2",
            json!({}),
        )
        .await;
    assert_eq!((inside.len(), outside.len()), (2, 2));
    (inside, outside)
}

#[tokio::test]
async fn a_field_outside_the_plan_answers_null_with_a_code_and_the_rest_is_the_direct_answer() {
    let hub = start("fields").await;
    let granted = "id name idNumber phone birthDate household { memberCount members(first: 3) { edges { relationToHead node { id } } } }";
    // `ethnicity` and `Household.unit` are in the union (other agencies read
    // them) but not in the civil affairs caseworker's plan.
    let q = |extra: &str| {
        format!(
            "{{ residents(first: 3, orderBy: [{{field: NAME}}]) {{ totalCount edges {{ node {{ {granted} {extra} }} }} }} }}"
        )
    };
    let fed = subgraph(&hub, CA, &q("ethnicity household { unit }"), json!({})).await;
    let edges = fed["data"]["residents"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3, "{fed:#}");
    let mut want_errors = Vec::new();
    for (i, e) in edges.iter().enumerate() {
        assert_eq!(e["node"]["ethnicity"], Value::Null, "{fed:#}");
        assert_eq!(e["node"]["household"]["unit"], Value::Null, "{fed:#}");
        want_errors.push((
            format!("residents.edges.{i}.node.ethnicity"),
            "FIELD_NOT_GRANTED".to_string(),
        ));
        if !e["node"]["household"].is_null() {
            want_errors.push((
                format!("residents.edges.{i}.node.household.unit"),
                "FIELD_NOT_GRANTED".to_string(),
            ));
        }
    }
    let mut got_errors = errors(&fed);
    got_errors.sort();
    want_errors.sort();
    assert_eq!(got_errors, want_errors, "{fed:#}");
    // Everything else is exactly the direct answer: the same rows, row scope
    // and masks (idNumber keep_start, phone).
    let plain = direct(&hub, CA, &q(""), json!({})).await;
    assert!(plain.get("errors").is_none(), "{plain:#}");
    let mut stripped = fed["data"].clone();
    for e in stripped["residents"]["edges"].as_array_mut().unwrap() {
        let node = e["node"].as_object_mut().unwrap();
        node.remove("ethnicity");
        if let Some(h) = node.get_mut("household").and_then(Value::as_object_mut) {
            h.remove("unit");
        }
    }
    assert_eq!(stripped, plain["data"]);
    let first = &edges[0]["node"];
    assert!(first["idNumber"]
        .as_str()
        .unwrap()
        .ends_with("************"));

    // The same field is granted to another agency through the same schema.
    let ps = subgraph(&hub, PS, &q("ethnicity household { unit }"), json!({})).await;
    assert!(ps.get("errors").is_none(), "{ps:#}");
    let node = &ps["data"]["residents"]["edges"][0]["node"];
    assert!(node["ethnicity"].is_string(), "{ps:#}");
    assert!(!node["idNumber"].as_str().unwrap().contains('*'), "{ps:#}");
}

#[tokio::test]
async fn one_type_per_field_masked_values_fit_it() {
    let hub = start("masks").await;
    let q = "{ residents(first: 2, where: {elderlyLivingAlone: {eq: true}}, orderBy: [{field: ID}]) { edges { node { id birthDate } } } }";
    // Housing reads birthDate masked to the year; its value is a String of the
    // one federation type, as the public security officer's full date is.
    let ids: Vec<String> = hub
        .reference_ids(
            "MATCH (r:Resident)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(b:Building)
             WHERE b.safetyGrade IN ['C', 'D'] RETURN r.id AS id ORDER BY r.id LIMIT 1",
            json!({}),
        )
        .await;
    let one = format!("{{ resident(id: \"{}\") {{ id birthDate name }} }}", ids[0]);
    let housing = subgraph(&hub, HOUSING, &one, json!({})).await;
    assert!(housing.get("errors").is_none(), "{housing:#}");
    let masked = housing["data"]["resident"]["birthDate"].as_str().unwrap();
    assert!(masked.ends_with("-**-**"), "{housing:#}");
    assert!(housing["data"]["resident"]["name"]
        .as_str()
        .unwrap()
        .ends_with('*'));
    let ps = subgraph(&hub, PS, &one, json!({})).await;
    let full = ps["data"]["resident"]["birthDate"].as_str().unwrap();
    assert_eq!(&full[..4], &masked[..4]);
    assert!(
        full.len() == 10 && full.chars().filter(char::is_ascii_digit).count() == 8,
        "a full date: {ps:#}"
    );
    // The direct, per-agency answer of housing is the same value.
    let plain = direct(&hub, HOUSING, &one, json!({})).await;
    assert_eq!(plain["data"], housing["data"]);
    // Filtering or sorting on a field is reading it: refused with the same
    // code when the plan does not grant it in full (masked to housing,
    // absent for civil affairs), on the root field, not the whole answer.
    for (who, query) in [
        (
            HOUSING,
            "{ residents(where: {birthDate: {lt: \"1960-01-01\"}}) { totalCount } }",
        ),
        (
            CA,
            "{ residents(where: {ethnicity: {eq: \"汉族\"}}) { totalCount } }",
        ),
        (
            CA,
            "{ residents(orderBy: [{field: ETHNICITY}]) { totalCount } }",
        ),
        (
            CA,
            "{ residents(where: {idNumber: {startsWith: \"3401\"}}) { totalCount } }",
        ),
        (
            CA,
            "{ households(where: {members: {where: {ethnicity: {eq: \"汉族\"}}}}) { totalCount } }",
        ),
    ] {
        let body = subgraph(&hub, who, query, json!({})).await;
        let data = body["data"].as_object().unwrap();
        assert!(data.values().all(Value::is_null), "{body:#}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FIELD_NOT_GRANTED",
            "{query}: {body:#}"
        );
    }
    // A granted filter works as directly.
    let a = subgraph(&hub, CA, q, json!({})).await;
    let b = direct(&hub, CA, q, json!({})).await;
    assert!(a.get("errors").is_none(), "{a:#}");
    assert_eq!(a["data"], b["data"]);
    // A root type outside the plan: null with the code, beside granted roots.
    let body = subgraph(
        &hub,
        CA,
        "{ subdistricts(first: 1) { totalCount } residents(first: 1) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["subdistricts"], Value::Null, "{body:#}");
    assert!(body["data"]["residents"]["totalCount"].as_u64().unwrap() > 0);
    assert_eq!(
        errors(&body),
        vec![("subdistricts".to_string(), "FIELD_NOT_GRANTED".to_string())]
    );
}

const ENTITIES: &str = "query($reps: [_Any!]!) { _entities(representations: $reps) {
    __typename ... on Resident { id name idNumber ethnicity } ... on Subdistrict { id name } } }";

#[tokio::test]
async fn entities_inside_and_outside_the_mandate_never_wipe_the_answer() {
    let hub = start("entities").await;
    let (inside, outside) = inside_and_outside(&hub).await;
    let subdistrict = hub
        .reference_ids(
            "MATCH (s:Subdistrict) RETURN s.id AS id ORDER BY s.id LIMIT 1",
            json!({}),
        )
        .await;
    let reps = json!([
        {"__typename": "Resident", "id": inside[0]},
        {"__typename": "Resident", "id": outside[0]},
        {"__typename": "Resident", "id": "R99999999"},
        {"__typename": "Subdistrict", "id": subdistrict[0]},
        {"__typename": "Resident", "id": inside[1]},
    ]);
    let body = subgraph(&hub, CA, ENTITIES, json!({"reps": reps})).await;
    let got = body["data"]["_entities"].as_array().unwrap();
    assert_eq!(got.len(), 5, "{body:#}");
    assert_eq!(got[0]["id"], inside[0].as_str());
    assert!(got[0]["idNumber"]
        .as_str()
        .unwrap()
        .ends_with("************"));
    assert_eq!(got[0]["ethnicity"], Value::Null);
    // Outside the row scope and missing: the same null.
    assert_eq!(got[1], Value::Null);
    assert_eq!(got[2], Value::Null);
    // A type outside the plan: null at its position.
    assert_eq!(got[3], Value::Null);
    assert_eq!(got[4]["id"], inside[1].as_str());
    let mut errs = errors(&body);
    errs.sort();
    assert_eq!(
        errs,
        vec![
            (
                "_entities.0.ethnicity".to_string(),
                "FIELD_NOT_GRANTED".to_string()
            ),
            ("_entities.3".to_string(), "FIELD_NOT_GRANTED".to_string()),
            (
                "_entities.4.ethnicity".to_string(),
                "FIELD_NOT_GRANTED".to_string()
            ),
        ],
        "{body:#}"
    );
    // The same representations as the public security officer: all but the
    // missing one.
    let ps = subgraph(&hub, PS, ENTITIES, json!({"reps": reps})).await;
    assert!(ps.get("errors").is_none(), "{ps:#}");
    let got = ps["data"]["_entities"].as_array().unwrap();
    assert_eq!(got[1]["id"], outside[0].as_str());
    assert_eq!(got[2], Value::Null);
    assert!(got[3]["name"].is_string(), "{ps:#}");

    // The audit record names exactly what was disclosed: the two residents
    // inside, the masked idNumber, never the withheld field.
    let records = hub
        .reference(
            "MATCH (a:AuditRecord {chain: $c}) OPTIONAL MATCH (a)-[:DISCLOSED]->(r:Resident)
             WITH a, collect(r.id) AS disclosed ORDER BY a.seq
             RETURN properties(a) AS a, disclosed",
            json!({"c": hub.hub.config.audit.chain}),
        )
        .await;
    assert_eq!(records.len(), 2, "{records:#?}");
    let ca = &records[0];
    assert_eq!(ca["a"]["agency"], "D-CIVIL_AFFAIRS");
    assert_eq!(ca["a"]["caseNumber"], "CASE-FED-1");
    let fields = ca["a"]["fields"].to_string();
    assert!(fields.contains("Resident.idNumber:masked"), "{fields}");
    assert!(!fields.contains("ethnicity"), "{fields}");
    let mut disclosed: Vec<String> = ca["disclosed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    disclosed.sort();
    assert_eq!(disclosed, inside);
}

#[tokio::test]
async fn the_audit_record_of_a_federated_read_is_that_of_the_direct_one() {
    let hub = start("audit").await;
    let q = "{ residents(first: 2, orderBy: [{field: NAME}]) { edges { node { id name idNumber household { memberCount } } } } }";
    let a = direct(&hub, CA, q, json!({})).await;
    let b = subgraph(&hub, CA, q, json!({})).await;
    assert_eq!(a, b);
    let records = hub
        .reference(
            "MATCH (a:AuditRecord {chain: $c}) OPTIONAL MATCH (a)-[:DISCLOSED]->(r:Resident)
             WITH a, collect(r.id) AS disclosed ORDER BY a.seq
             RETURN properties(a) AS a, disclosed",
            json!({"c": hub.hub.config.audit.chain}),
        )
        .await;
    assert_eq!(records.len(), 2);
    for key in [
        "agency",
        "officer",
        "purpose",
        "caseNumber",
        "decision",
        "fields",
        "residents",
        "operation",
    ] {
        assert_eq!(records[0]["a"][key], records[1]["a"][key], "{key}");
    }
    let sorted = |v: &Value| {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        sorted(&records[0]["disclosed"]),
        sorted(&records[1]["disclosed"])
    );
    assert!(!sorted(&records[1]["disclosed"]).is_empty());
    assert_eq!(records[1]["a"]["decision"], "masked");
}

#[tokio::test]
async fn limits_and_admission_are_those_of_graphql() {
    let hub = start("limits").await;
    // Page size and cost limits: the same refusals.
    for q in [
        "{ residents(first: 101) { totalCount } }",
        "{ residents(first: 100) { edges { node { household { members(first: 100) { edges { node { household { members(first: 100) { edges { node { id } } } } } } } } } } } }",
    ] {
        let a = direct(&hub, PS, q, json!({})).await;
        let b = subgraph(&hub, PS, q, json!({})).await;
        let code = |v: &Value| v["errors"][0]["extensions"]["code"].clone();
        assert!(code(&a).is_string(), "{a:#}");
        assert_eq!(code(&a), code(&b), "{q}");
    }
    // No credential, or a purpose the list does not name: refused as directly.
    let resp = hub
        .client
        .post(hub.url("/subgraph"))
        .json(&json!({"query": "{ residents { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (status, body) = ask_at(
        &hub,
        "/subgraph",
        (CA.0, CA.1, "household_registration"),
        "{ residents { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body:#}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PURPOSE_NOT_ALLOWED"
    );
}

#[tokio::test]
async fn graphql_keeps_per_agency_schemas_and_subgraph_serves_the_federation_sdl() {
    let hub = start("sdl").await;
    let service = "{ _service { sdl } }";
    let fed = subgraph(&hub, CA, service, json!({})).await;
    let sdl = fed["data"]["_service"]["sdl"].as_str().unwrap();
    assert_eq!(sdl, hub.hub.hub.federation_sdl().unwrap());
    assert!(
        sdl.contains("ethnicity"),
        "the union holds other agencies' fields"
    );
    // Every agency is served the same federation schema.
    let ps = subgraph(&hub, PS, service, json!({})).await;
    assert_eq!(ps["data"]["_service"]["sdl"].as_str().unwrap(), sdl);
    // /graphql: the agency's own schema, unchanged — a field outside the plan
    // does not exist there, and its SDL is its own.
    let own = direct(&hub, CA, service, json!({})).await;
    let own_sdl = own["data"]["_service"]["sdl"].as_str().unwrap();
    assert!(!own_sdl.contains("ethnicity"));
    assert!(own_sdl.contains("birthDate: Date"), "{own_sdl}");
    let refused = direct(
        &hub,
        CA,
        "{ residents { edges { node { ethnicity } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(refused.get("data").is_none(), "{refused:#}");
    // Per-agency `_entities` still refuses a type outside the mandate outright.
    let body = direct(
        &hub,
        CA,
        "query($reps: [_Any!]!) { _entities(representations: $reps) { __typename } }",
        json!({"reps": [{"__typename": "Subdistrict", "id": "S0"}]}),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

/// Every example query, asked as the agency it names, answers the same through
/// `/subgraph` as through `/graphql`: one walker, compiler, plan and masks.
/// (The access receipts example is left out: each read adds to the receipts; so
/// are examples selecting remote fields, which the federation view leaves to the
/// departments' own subgraphs.)
#[tokio::test]
async fn every_example_answers_the_same_through_the_federation_view() {
    let hub = start("examples").await;
    let catalog = mandate_schema::hub_catalog().unwrap();
    let remote: Vec<String> = catalog
        .types
        .iter()
        .flat_map(|t| t.remotes.iter().map(|r| format!(" {} ", r.name)))
        .collect();
    let mut compared = 0;
    for (name, h, text) in examples() {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(" ");
        if text.contains("accessReceipts") || remote.iter().any(|r| body.contains(r.as_str())) {
            continue;
        }
        let who = (
            h["agency"].as_str(),
            h["role"].as_str(),
            h["purpose"].as_str(),
        );
        let variables: Value = h
            .get("variables")
            .map(|v| serde_json::from_str(v).unwrap())
            .unwrap_or(json!({}));
        let a = direct(&hub, who, &text, variables.clone()).await;
        let b = subgraph(&hub, who, &text, variables).await;
        assert!(a.get("errors").is_none(), "{name}: {a:#}");
        assert_eq!(a, b, "{name}");
        compared += 1;
    }
    assert!(compared >= 5, "examples compared: {compared}");
}
