//! Every answer cut to the asking agency's mandate, over HTTP against the real
//! Neo4j: per-department golden answers, masks, row scopes, hidden fields, and the
//! authentication and purpose rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::TestHub;
use serde_json::{json, Value};

const TODAY: &str = "2026-11-29";

/// A test-only grid centre serving exactly one grid, to see jurisdiction bite.
const TEST_GRID_CENTRE: &str = "D-GRID_MANAGEMENT-T1";
const TEST_GRID: &str = "G00002";

/// API keys of the test agencies: (agency, roles) → key.
const AGENCIES: [(&str, &str); 10] = [
    ("D-CIVIL_AFFAIRS", "caseworker"),
    ("D-PUBLIC_SECURITY", "officer"),
    ("D-HEALTH", "health_officer"),
    ("D-EDUCATION", "enrollment_officer"),
    ("D-HOUSING", "inspector"),
    ("D-HUMAN_RESOURCES", "employment_officer"),
    ("D-GRID_MANAGEMENT-S01", "grid_worker"),
    (TEST_GRID_CENTRE, "grid_worker"),
    ("D-PUBLIC_SECURITY", "detective"),
    ("D-STREET_OFFICE-S01", "service_clerk"),
];

const JWT_SECRET: &str = "test-only-hs256-secret-at-least-32-bytes!";

fn key_of(agency: &str, role: &str) -> String {
    format!("mk_test_{agency}_{role}")
}

/// Policies folder: the checked-in lists plus one for the test grid centre.
fn fixtures() -> &'static (PathBuf, PathBuf) {
    static DIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("mandate-mandates-{}", std::process::id()));
        let policies = common::policies_with_test_centre(&root, TEST_GRID_CENTRE);
        let entries: Vec<_> = AGENCIES
            .iter()
            .map(|(agency, role)| (*agency, vec![*role], key_of(agency, role)))
            .collect();
        let keys_file = common::keys_file(&root, "test", &entries);
        (policies, keys_file)
    })
}

async fn start() -> TestHub {
    let (policies, keys) = fixtures();
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.auth.jwt.hs256_secret = JWT_SECRET.into();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    let hub = TestHub::start_with(config).await;
    hub.write(
        "MERGE (d:Department {id: $id}) SET d.name = '测试网格化管理中心', d.code = 'GRID_MANAGEMENT', d.level = 'SUBDISTRICT'
         WITH d MATCH (g:Grid {id: $grid}) MERGE (d)-[:SERVES]->(g)",
        json!({"id": TEST_GRID_CENTRE, "grid": TEST_GRID}),
    )
    .await;
    hub
}

/// POSTs `query` as `agency`/`role` for `purpose`; returns the whole response.
async fn ask(
    hub: &TestHub,
    who: (&str, &str),
    purpose: &str,
    query: &str,
    variables: Value,
) -> Value {
    hub.client
        .post(hub.url("/graphql"))
        .header("x-api-key", key_of(who.0, who.1))
        .header("x-mandate-purpose", purpose)
        .header("x-mandate-case", "CASE-2026-0001")
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn data(hub: &TestHub, who: (&str, &str), purpose: &str, query: &str) -> Value {
    let body = ask(hub, who, purpose, query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

async fn count(hub: &TestHub, cypher_where: &str) -> u64 {
    hub.reference(
        &format!("MATCH (r:Resident) WHERE {cypher_where} RETURN count(r) AS n"),
        json!({}),
    )
    .await[0]["n"]
        .as_u64()
        .unwrap()
}

fn edges(conn: &Value) -> Vec<Value> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn masked_id(s: &str) -> bool {
    s.len() == 18 && s[6..14] == *"********" && s[..6].chars().all(|c| c.is_ascii_digit())
}

const CA: (&str, &str) = ("D-CIVIL_AFFAIRS", "caseworker");
const PS: (&str, &str) = ("D-PUBLIC_SECURITY", "officer");

#[tokio::test]
async fn civil_affairs_reads_low_income_and_elderly_alone_with_masked_ids() {
    let hub = start().await;
    let q = "{ residents(first: 5, orderBy: [{field: NAME}]) { totalCount edges { node { id name idNumber phone lowIncome elderlyLivingAlone household { memberCount members(first: 10) { edges { relationToHead node { name lowIncome } } } } } } } }";
    let got = data(&hub, CA, "subsidy_review", q).await;
    let want = count(
        &hub,
        // (a pattern's relationships are distinct, so `m` here is another member: add `r` itself)
        "r.elderlyLivingAlone OR r.lowIncome OR EXISTS { MATCH (r)-[:MEMBER_OF]->(:Household)<-[:MEMBER_OF]-(m:Resident) WHERE m.lowIncome }",
    )
    .await;
    assert!(want > 0);
    assert_eq!(got["residents"]["totalCount"].as_u64().unwrap(), want);
    for r in edges(&got["residents"]) {
        assert!(masked_id(r["idNumber"].as_str().unwrap()), "{r}");
        if let Some(p) = r["phone"].as_str() {
            assert_eq!(&p[3..7], "****");
        }
        let members = &r["household"]["members"]["edges"];
        let family_low_income = members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["node"]["lowIncome"] == true);
        assert!(r["elderlyLivingAlone"] == true || family_low_income, "{r}");
    }
    insta::assert_json_snapshot!("civil_affairs_subsidy_review", got);
}

#[tokio::test]
async fn public_security_reads_id_numbers_in_full() {
    let hub = start().await;
    let got = data(&hub, PS, "household_registration", "{ resident(id: \"R00000042\") { id name idNumber ethnicity household { householdNumber } } }").await;
    let want = hub
        .reference(
            "MATCH (r:Resident {id: 'R00000042'}) RETURN r.idNumber AS idn",
            json!({}),
        )
        .await;
    assert_eq!(got["resident"]["idNumber"], want[0]["idn"]);
    insta::assert_json_snapshot!("public_security_household_registration", got);
    // A detective inherits the investigator role.
    let det = data(
        &hub,
        ("D-PUBLIC_SECURITY", "detective"),
        "case_investigation",
        "{ resident(id: \"R00000042\") { idNumber } }",
    )
    .await;
    assert_eq!(det["resident"]["idNumber"], want[0]["idn"]);
}

#[tokio::test]
async fn education_reads_school_age_children_and_their_guardians() {
    let hub = start().await;
    let q = "{ residents(first: 3, orderBy: [{field: BIRTH_DATE, direction: DESC}]) { totalCount edges { node { name birthDate idNumber household { members(first: 10) { edges { relationToHead node { birthDate } } } } } } } }";
    let got = data(
        &hub,
        ("D-EDUCATION", "enrollment_officer"),
        "school_enrollment",
        q,
    )
    .await;
    let school_age = "r.birthDate > date('2008-11-29') AND r.birthDate <= date('2020-11-29')";
    let want = count(
        &hub,
        &format!("({school_age}) OR (r.birthDate <= date('2008-11-29') AND EXISTS {{ MATCH (r)-[:MEMBER_OF]->(:Household)<-[:MEMBER_OF]-(m:Resident) WHERE m.birthDate > date('2008-11-29') AND m.birthDate <= date('2020-11-29') }})"),
    )
    .await;
    assert_eq!(got["residents"]["totalCount"].as_u64().unwrap(), want);
    for r in edges(&got["residents"]) {
        let b = r["birthDate"].as_str().unwrap();
        assert!(
            b > "2008-11-29" && b <= "2020-11-29",
            "youngest first are school-age: {r}"
        );
    }
    insta::assert_json_snapshot!("education_school_enrollment", got);
}

#[tokio::test]
async fn housing_sees_occupants_of_unsafe_buildings_masked() {
    let hub = start().await;
    let q = "{ buildings(first: 3, where: {safetyGrade: {in: [C, D]}}, orderBy: [{field: SAFETY_GRADE, direction: DESC}]) { totalCount edges { node { address safetyGrade households(first: 2) { edges { node { unit members(first: 3) { edges { node { name birthDate phone elderlyLivingAlone } } } } } } } } } }";
    let got = data(&hub, ("D-HOUSING", "inspector"), "building_safety", q).await;
    let n = got["buildings"]["edges"].as_array().unwrap().len();
    assert!(n > 0);
    let text = got.to_string();
    for b in edges(&got["buildings"]) {
        for h in b["households"]["edges"].as_array().unwrap() {
            for m in h["node"]["members"]["edges"].as_array().unwrap() {
                let m = &m["node"];
                assert!(m["name"].as_str().unwrap().ends_with("**"), "{m}");
                assert!(m["birthDate"].as_str().unwrap().ends_with("-**-**"), "{m}");
            }
        }
    }
    assert!(!text.contains("idNumber"));
    insta::assert_json_snapshot!("housing_building_safety", got);
    // Residents of safe buildings are not visible to housing at all.
    let safe = hub
        .reference_ids(
            "MATCH (r:Resident)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(b:Building) WHERE b.safetyGrade IN ['A', 'B'] RETURN r.id AS id ORDER BY r.id LIMIT 1",
            json!({}),
        )
        .await;
    let q = format!("{{ resident(id: \"{}\") {{ id }} }}", safe[0]);
    assert_eq!(
        data(&hub, ("D-HOUSING", "inspector"), "building_safety", &q).await,
        json!({"resident": null})
    );
}

#[tokio::test]
async fn health_and_hrss_read_their_cohorts() {
    let hub = start().await;
    let health = data(&hub, ("D-HEALTH", "health_officer"), "elderly_health_service", "{ residents(first: 3, orderBy: [{field: BIRTH_DATE}]) { totalCount edges { node { name birthDate disabilityStatus phone } } } }").await;
    let want = count(
        &hub,
        "r.birthDate <= date('1966-11-29') OR r.disabilityStatus <> 'NONE'",
    )
    .await;
    assert_eq!(health["residents"]["totalCount"].as_u64().unwrap(), want);
    insta::assert_json_snapshot!("health_elderly_health_service", health);
    let hrss = data(&hub, ("D-HUMAN_RESOURCES", "employment_officer"), "employment_services", "{ residents(first: 3, orderBy: [{field: NAME}]) { totalCount edges { node { name occupation hukouType idNumber } } } }").await;
    let want = count(
        &hub,
        "r.birthDate > date('1966-11-29') AND r.birthDate <= date('2010-11-29')",
    )
    .await;
    assert_eq!(hrss["residents"]["totalCount"].as_u64().unwrap(), want);
    insta::assert_json_snapshot!("human_resources_employment_services", hrss);
}

#[tokio::test]
async fn grid_centre_reads_only_its_own_grids() {
    let hub = start().await;
    let who = (TEST_GRID_CENTRE, "grid_worker");
    let got = data(&hub, who, "grid_inspection", "{ residents(first: 2, orderBy: [{field: NAME}]) { totalCount edges { node { name phone household { building { grid { id gridWorker } } } } } } grids(first: 10) { totalCount edges { node { id name } } } }").await;
    let want = count(&hub, &format!("EXISTS {{ MATCH (r)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(:Grid {{id: '{TEST_GRID}'}}) }}")).await;
    assert!(want > 100);
    assert_eq!(got["residents"]["totalCount"].as_u64().unwrap(), want);
    assert_eq!(got["grids"]["totalCount"], 1);
    for r in edges(&got["residents"]) {
        assert_eq!(r["household"]["building"]["grid"]["id"], TEST_GRID);
    }
    insta::assert_json_snapshot!("grid_centre_grid_inspection", got);
    // Outside the grid: exactly what a nonexistent id answers.
    let outside = hub
        .reference_ids(
            &format!("MATCH (r:Resident)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid) WHERE g.id <> '{TEST_GRID}' RETURN r.id AS id LIMIT 1"),
            json!({}),
        )
        .await;
    let q = "query($id: ID!) { resident(id: $id) { id name } }";
    let a = ask(&hub, who, "grid_inspection", q, json!({"id": outside[0]})).await;
    let b = ask(&hub, who, "grid_inspection", q, json!({"id": "R99999999"})).await;
    assert_eq!(a, b);
    assert_eq!(a, json!({"data": {"resident": null}}));
}

#[tokio::test]
async fn hidden_fields_are_absent_and_unexecutable() {
    let hub = start().await;
    // Not in the agency's schema: validation fails, without suggestions.
    for q in [
        "{ residents(first: 1) { edges { node { ethnicity } } } }",
        "{ residents(first: 1, where: {ethnicity: {eq: \"汉族\"}}) { totalCount } }",
        "{ residents(first: 1, orderBy: [{field: ID_NUMBER}]) { totalCount } }",
        "{ residents(first: 1, where: {idNumber: {startsWith: \"3401\"}}) { totalCount } }",
        "{ grids(first: 1) { totalCount } }",
        "{ residents(first: 1) { edges { node { household { building { grid { id } } } } } } }",
    ] {
        let body = ask(&hub, CA, "subsidy_review", q, json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{q}: {body}"
        );
        assert!(!body.to_string().contains("Did you mean"), "{body}");
        assert!(body["data"].is_null());
    }
    // Introspection shows only the mandate.
    let body = ask(
        &hub,
        CA,
        "subsidy_review",
        "{ __type(name: \"Resident\") { fields { name } } g: __type(name: \"Grid\") { name } }",
        json!({}),
    )
    .await;
    let fields: Vec<&str> = body["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"idNumber") && fields.contains(&"lowIncome"));
    assert!(
        !fields.contains(&"ethnicity") && !fields.contains(&"occupation"),
        "{fields:?}"
    );
    assert!(
        body["data"]["g"].is_null(),
        "Grid is not in civil affairs' schema"
    );
    // The masked field is a String, and may not be filtered on.
    let body = ask(
        &hub,
        CA,
        "subsidy_review",
        "{ __type(name: \"ResidentWhere\") { inputFields { name } } }",
        json!({}),
    )
    .await;
    let inputs = body["data"]["__type"]["inputFields"].to_string();
    assert!(
        !inputs.contains("idNumber") && !inputs.contains("phone") && inputs.contains("lowIncome"),
        "{inputs}"
    );
}

#[tokio::test]
async fn counts_and_filters_cover_only_visible_rows() {
    let hub = start().await;
    let who = (TEST_GRID_CENTRE, "grid_worker");
    // A filter on a relationship cannot reach households outside the jurisdiction.
    let got = data(&hub, who, "grid_inspection", "{ households(first: 1) { totalCount } buildings(first: 1, where: {households: {exists: true}}) { totalCount } }").await;
    let hh = hub
        .reference("MATCH (h:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(:Grid {id: $g}) RETURN count(h) AS n", json!({"g": TEST_GRID}))
        .await;
    assert_eq!(got["households"]["totalCount"], hh[0]["n"]);
    let bb = hub
        .reference(
            "MATCH (b:Building)-[:IN_GRID]->(:Grid {id: $g}) RETURN count(b) AS n",
            json!({"g": TEST_GRID}),
        )
        .await;
    assert_eq!(got["buildings"]["totalCount"], bb[0]["n"]);
}

type Headers = Vec<(&'static str, String)>;

#[tokio::test]
async fn who_is_asking_and_why() {
    let hub = start().await;
    let q = json!({"query": "{ residents(first: 1) { totalCount } }"});
    let post = |headers: Vec<(&'static str, String)>| {
        let mut req = hub.client.post(hub.url("/graphql")).json(&q);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let key = key_of(CA.0, CA.1);
    let purpose = || ("x-mandate-purpose", "subsidy_review".to_string());
    let case = || ("x-mandate-case", "CASE-1".to_string());
    let cases: Vec<(Headers, u16, &str)> = vec![
        (vec![purpose(), case()], 401, "UNAUTHENTICATED"),
        (
            vec![("x-api-key", "mk_wrong".into()), purpose(), case()],
            401,
            "UNAUTHENTICATED",
        ),
        (
            vec![("x-api-key", key.clone()), case()],
            400,
            "PURPOSE_REQUIRED",
        ),
        (
            vec![("x-api-key", key.clone()), purpose()],
            400,
            "PURPOSE_REQUIRED",
        ),
        (
            vec![
                ("x-api-key", key.clone()),
                ("x-mandate-purpose", "household_registration".into()),
                case(),
            ],
            403,
            "PURPOSE_NOT_ALLOWED",
        ),
        (
            vec![
                ("x-api-key", key.clone()),
                ("x-mandate-agency", "D-PUBLIC_SECURITY".into()),
                purpose(),
                case(),
            ],
            403,
            "AGENCY_MISMATCH",
        ),
        (
            vec![
                ("x-api-key", key.clone()),
                ("authorization", format!("Bearer {}", token(CA.0, 3600))),
                purpose(),
                case(),
            ],
            401,
            "UNAUTHENTICATED",
        ),
        (
            vec![
                ("authorization", format!("Bearer {}", token(CA.0, -3600))),
                purpose(),
                case(),
            ],
            401,
            "TOKEN_EXPIRED",
        ),
        // A role the agency's list does not grant anything for this purpose: an
        // error, not an empty schema.
        (
            vec![
                (
                    "authorization",
                    format!("Bearer {}", token_for(CA.0, &["inspector"], 3600)),
                ),
                purpose(),
                case(),
            ],
            403,
            "NOTHING_GRANTED",
        ),
        (
            vec![
                ("authorization", format!("Bearer {}", alg_none_token())),
                purpose(),
                case(),
            ],
            401,
            "UNAUTHENTICATED",
        ),
    ];
    for (headers, status, code) in cases {
        let shown = format!("{headers:?}");
        let resp = post(headers).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{shown}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], code,
            "{shown}: {body}"
        );
        assert!(body.get("data").is_none_or(Value::is_null));
    }
    // The verified JWT works, and purpose may come in the request's extensions.
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .header("authorization", format!("Bearer {}", token(CA.0, 3600)))
        .json(&json!({"query": "{ residents(first: 1) { totalCount } }", "extensions": {"mandate": {"purpose": "subsidy_review", "case": "CASE-7"}}}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["data"]["residents"]["totalCount"].as_u64().unwrap() > 0,
        "{body}"
    );
}

fn token(agency: &str, expires_in: i64) -> String {
    token_for(agency, &["caseworker"], expires_in)
}

fn token_for(agency: &str, roles: &[&str], expires_in: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "officer-7", "agency": agency, "roles": roles, "exp": now + expires_in}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn alg_none_token() -> String {
    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(
            json!({"sub": "x", "agency": "D-PUBLIC_SECURITY", "roles": ["officer"], "exp": 4_000_000_000u64})
        )
    )
}

/// A hub writing its audit records to a chain of its own.
async fn start_on_chain(chain: &str) -> TestHub {
    let (policies, keys) = fixtures();
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    config.audit.chain = format!("{chain}-{}", std::process::id());
    let hub = TestHub::start_with(config).await;
    let chain = hub.hub.config.audit.chain.clone();
    hub.write(
        "MATCH (a:AuditRecord {chain: $c}) DETACH DELETE a WITH count(*) AS n OPTIONAL MATCH (h:AuditHead {chain: $c}) DELETE h",
        json!({"c": chain}),
    )
    .await;
    hub
}

async fn chain_records(hub: &TestHub) -> Vec<Value> {
    hub.reference(
        "MATCH (a:AuditRecord {chain: $c}) OPTIONAL MATCH (a)-[:DISCLOSED]->(r:Resident)
         WITH a, collect(r.id) AS disclosed ORDER BY a.seq
         RETURN properties(a) AS a, disclosed",
        json!({"c": hub.hub.config.audit.chain}),
    )
    .await
}

#[tokio::test]
async fn every_request_is_audited_in_a_hash_chain() {
    let hub = start_on_chain("audit").await;
    let q =
        "{ residents(first: 2, orderBy: [{field: NAME}]) { edges { node { name idNumber } } } }";
    let ok = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    let shown: Vec<String> = ok["data"]["residents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect();
    ask(
        &hub,
        CA,
        "subsidy_review",
        "{ residents { edges { node { ethnicity } } } }",
        json!({}),
    )
    .await;
    ask(&hub, CA, "household_registration", q, json!({})).await;
    let records = chain_records(&hub).await;
    assert_eq!(records.len(), 3);
    let first = &records[0]["a"];
    assert_eq!(first["agency"], "D-CIVIL_AFFAIRS");
    assert_eq!(first["purpose"], "subsidy_review");
    assert_eq!(first["caseNumber"], "CASE-2026-0001");
    assert_eq!(first["decision"], "masked");
    assert_eq!(first["seq"], 1);
    assert_eq!(first["prevHash"], "genesis");
    let fields = first["fields"].to_string();
    assert!(
        fields.contains("Resident.idNumber:masked") && fields.contains("Resident.name"),
        "{fields}"
    );
    // The residents whose data was returned, by id only (names are never recorded).
    let ids = first["residents"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(records[0]["disclosed"].as_array().unwrap().len(), 2);
    let text = records.iter().map(|r| r.to_string()).collect::<String>();
    for name in &shown {
        assert!(
            !text.contains(name.as_str()),
            "values never reach the audit log"
        );
    }
    assert_eq!(records[1]["a"]["decision"], "denied");
    assert_eq!(records[1]["a"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(records[2]["a"]["decision"], "rejected");
    assert_eq!(records[2]["a"]["code"], "PURPOSE_NOT_ALLOWED");
    assert_eq!(records[1]["a"]["prevHash"], records[0]["a"]["hash"]);

    let chain = hub.hub.config.audit.chain.clone();
    assert_eq!(hub.intact_chain(&chain).await, 3);

    // Edit one record: verification names it.
    hub.write(
        "MATCH (a:AuditRecord {chain: $c, seq: 2}) SET a.agency = 'D-HOUSING'",
        json!({"c": chain}),
    )
    .await;
    let v = mandate_audit::verify_log(&hub.hub.store, Some(&chain))
        .await
        .unwrap();
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("seq 2") && p.contains("edited")),
        "{:?}",
        v.problems
    );
    // Remove one: the gap shows.
    hub.write(
        "MATCH (a:AuditRecord {chain: $c, seq: 2}) DETACH DELETE a",
        json!({"c": chain}),
    )
    .await;
    let v = mandate_audit::verify_log(&hub.hub.store, Some(&chain))
        .await
        .unwrap();
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("seq 3") && p.contains("missing")),
        "{:?}",
        v.problems
    );
    // Cut the tail: the head notices.
    hub.write(
        "MATCH (a:AuditRecord {chain: $c, seq: 3}) DETACH DELETE a",
        json!({"c": chain}),
    )
    .await;
    let v = mandate_audit::verify_log(&hub.hub.store, Some(&chain))
        .await
        .unwrap();
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("last record is missing")),
        "{:?}",
        v.problems
    );
}

#[tokio::test]
async fn records_carry_the_verified_caller_and_the_hubs_own_request_id() {
    let hub = start_on_chain("ids").await;
    let q = "{ residents(first: 1) { edges { node { name } } } }";
    let send = |purpose: &'static str, key: String| {
        hub.client
            .post(hub.url("/graphql"))
            .header("x-api-key", key)
            .header("x-mandate-purpose", purpose)
            .header("x-mandate-case", "CASE-2026-0001")
            .header("x-request-id", "client-chosen-1")
            .json(&json!({ "query": q }))
            .send()
    };
    let mut hub_ids = Vec::new();
    for (purpose, key) in [
        ("subsidy_review", key_of(CA.0, CA.1)),
        ("subsidy_review", key_of(CA.0, CA.1)),
        ("criminal_investigation", key_of(CA.0, CA.1)),
        ("subsidy_review", "mk_not-a-key".to_string()),
    ] {
        let resp = send(purpose, key).await.unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, "client-chosen-1", "the hub issues its own id");
        hub_ids.push(id);
    }
    let records = chain_records(&hub).await;
    assert_eq!(records.len(), 4);
    for (r, id) in records.iter().zip(&hub_ids) {
        assert_eq!(r["a"]["requestId"], id.as_str());
        assert_eq!(r["a"]["clientRequestId"], "client-chosen-1");
    }
    assert_ne!(
        hub_ids[0], hub_ids[1],
        "a repeated client id is two requests"
    );
    // Any other method is refused, and on record too.
    let put = hub
        .client
        .put(hub.url("/graphql"))
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 405);
    let put_id = put.headers()["x-request-id"].to_str().unwrap().to_string();
    let last = chain_records(&hub).await.pop().unwrap();
    assert_eq!(last["a"]["requestId"], put_id.as_str());
    assert_eq!(last["a"]["code"], "BAD_REQUEST");
    // Refused at admission: the verified caller is on record.
    let refused = &records[2]["a"];
    assert_eq!(refused["decision"], "rejected");
    assert_eq!(refused["code"], "PURPOSE_NOT_ALLOWED");
    assert_eq!(refused["agency"], "D-CIVIL_AFFAIRS");
    assert_ne!(refused["officer"], "-");
    // Not authenticated: nobody is named.
    assert_eq!(records[3]["a"]["code"], "UNAUTHENTICATED");
    assert_eq!(records[3]["a"]["agency"], "-");
    let chain = hub.hub.config.audit.chain.clone();
    assert_eq!(hub.intact_chain(&chain).await, 5);
}

#[tokio::test]
async fn no_read_without_a_record() {
    // The audit store is down while the data store answers.
    let (policies, keys) = fixtures();
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.audit.neo4j_uri = "bolt://127.0.0.1:1".into();
    config.audit.timeout_ms = 3000;
    let hub = TestHub::start_with(config).await;
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .header("x-api-key", key_of(CA.0, CA.1))
        .header("x-mandate-purpose", "subsidy_review")
        .header("x-mandate-case", "CASE-9")
        .json(&json!({"query": "{ residents(first: 1) { edges { node { name } } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "AUDIT_UNAVAILABLE");
    assert!(
        body.get("data").is_none(),
        "no data without a record: {body}"
    );
    assert!(!body.to_string().contains("refused"), "{body}");
    // Rejections are refused too, still without detail.
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "AUDIT_UNAVAILABLE");
}

#[tokio::test]
async fn replicas_share_a_chain_without_gaps() {
    let a = start_on_chain("replicas").await;
    let mut config = a.hub.config.clone();
    config.server.listen = "127.0.0.1:0".into();
    let b = TestHub::start_with(config).await;
    let q = "{ residents(first: 1) { totalCount } }";
    let mut calls = Vec::new();
    for i in 0..20 {
        let hub = if i % 2 == 0 { &a } else { &b };
        calls.push(ask(hub, CA, "subsidy_review", q, json!({})));
    }
    for body in futures::future::join_all(calls).await {
        assert!(body.get("errors").is_none(), "{body}");
    }
    let chain = a.hub.config.audit.chain.clone();
    assert_eq!(a.intact_chain(&chain).await, 20);
}

#[tokio::test]
async fn residents_learn_who_read_their_data() {
    let hub = start().await;
    // Civil affairs reads one resident's data for a case; housing reads others.
    let target = "R00000470";
    let q = format!("{{ resident(id: \"{target}\") {{ name idNumber }} }}");
    let read = data(&hub, CA, "subsidy_review", &q).await;
    assert!(read["resident"]["name"].is_string(), "{read}");
    let clerk = ("D-STREET_OFFICE-S01", "service_clerk");
    let receipts = data(
        &hub,
        clerk,
        "resident_inquiry",
        &format!("{{ accessReceipts(residentId: \"{target}\", first: 50) {{ time agency officer purpose caseNumber fields }} }}"),
    )
    .await;
    let list = receipts["accessReceipts"].as_array().unwrap();
    let ours = list
        .iter()
        .find(|r| r["agency"] == "D-CIVIL_AFFAIRS" && r["purpose"] == "subsidy_review")
        .unwrap_or_else(|| panic!("civil affairs' read is listed: {receipts}"));
    assert_eq!(ours["caseNumber"], "CASE-2026-0001");
    let fields = ours["fields"].to_string();
    assert!(
        fields.contains("Resident.idNumber:masked") && fields.contains("Resident.name"),
        "{fields}"
    );
    assert!(
        !receipts
            .to_string()
            .contains(read["resident"]["name"].as_str().unwrap()),
        "no values in receipts"
    );
    // Only the resident-service role has the field; others do not even see it.
    let body = ask(
        &hub,
        CA,
        "subsidy_review",
        &format!("{{ accessReceipts(residentId: \"{target}\") {{ agency }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // The clerk sees no resident data at all.
    let body = ask(
        &hub,
        clerk,
        "resident_inquiry",
        "{ residents(first: 1) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}

/// Residents of the test city inside civil affairs' subsidy-review mandate and
/// outside it, by id.
/// A low-income resident (readable by civil affairs) inside the test grid, and one
/// outside it.
async fn in_and_out_of_test_grid(hub: &TestHub) -> (String, String) {
    let pick = |inside: bool| {
        format!(
            "MATCH (r:Resident)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid)
             WHERE r.lowIncome AND (g.id = $grid) = {inside}
             RETURN r.id AS id ORDER BY id LIMIT 1"
        )
    };
    let inside = hub
        .reference_ids(&pick(true), json!({"grid": TEST_GRID}))
        .await;
    let outside = hub
        .reference_ids(&pick(false), json!({"grid": TEST_GRID}))
        .await;
    (inside[0].clone(), outside[0].clone())
}

/// Regression of a leak found from outside: a street office's clerk read the
/// receipts of a resident outside its subdistrict, with a police investigation's
/// purpose, case number and officer.
#[tokio::test]
async fn receipts_are_cut_to_the_readers_scope_and_keep_investigations_confidential() {
    // A street office whose jurisdiction is the one test grid: its list is the
    // checked-in street office's, under another id.
    const OFFICE: &str = "D-STREET_OFFICE-T1";
    let root = std::env::temp_dir().join(format!("mandate-receipts-{}", std::process::id()));
    let policies = common::policies_with_test_centre(&root, TEST_GRID_CENTRE);
    let s01 = std::fs::read_to_string(policies.join("lists/street-office-s01.csv")).unwrap();
    std::fs::write(
        policies.join("lists/street-office-t1.csv"),
        s01.replace("D-STREET_OFFICE-S01", OFFICE),
    )
    .unwrap();
    let who = [
        (CA.0, vec![CA.1], key_of(CA.0, CA.1)),
        (
            "D-PUBLIC_SECURITY",
            vec!["detective"],
            key_of("D-PUBLIC_SECURITY", "detective"),
        ),
        (
            OFFICE,
            vec!["service_clerk"],
            key_of(OFFICE, "service_clerk"),
        ),
    ];
    let keys = common::keys_file(&root, "receipts", &who);
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    let hub = TestHub::start_with(config).await;
    hub.write(
        "MERGE (d:Department {id: $id}) SET d.name = '测试街道办事处', d.code = 'STREET_OFFICE', d.level = 'SUBDISTRICT'
         WITH d MATCH (g:Grid {id: $grid}) MERGE (d)-[:SERVES]->(g)",
        json!({"id": OFFICE, "grid": TEST_GRID}),
    )
    .await;
    let (inside, outside) = in_and_out_of_test_grid(&hub).await;
    let detective = ("D-PUBLIC_SECURITY", "detective");
    for id in [&inside, &outside] {
        let q = format!("{{ resident(id: \"{id}\") {{ name }} }}");
        assert!(data(&hub, CA, "subsidy_review", &q).await["resident"]["name"].is_string());
        assert!(
            data(&hub, detective, "case_investigation", &q).await["resident"]["name"].is_string()
        );
    }
    let clerk = (OFFICE, "service_clerk");
    let receipts = |id: &str| {
        format!("{{ accessReceipts(residentId: \"{id}\", first: 100) {{ agency officer purpose caseNumber fields }} }}")
    };
    // Outside the office's jurisdiction: nothing, as for a resident that does not exist.
    let out = data(&hub, clerk, "resident_inquiry", &receipts(&outside)).await;
    assert_eq!(out["accessReceipts"], json!([]), "{out}");
    let nobody = data(&hub, clerk, "resident_inquiry", &receipts("R99999999")).await;
    assert_eq!(out, nobody);
    // Inside: civil affairs' read in full, the investigation's without who, why or which case.
    let list = data(&hub, clerk, "resident_inquiry", &receipts(&inside)).await;
    let list = list["accessReceipts"].as_array().unwrap().clone();
    let police: Vec<&Value> = list
        .iter()
        .filter(|r| r["agency"] == "D-PUBLIC_SECURITY")
        .collect();
    assert!(
        !police.is_empty(),
        "the investigation's read is listed: {list:?}"
    );
    for r in &police {
        assert_eq!(r["purpose"], "a law-enforcement access");
        assert_eq!(r["officer"], "-");
        assert_eq!(r["caseNumber"], "-");
    }
    assert!(list
        .iter()
        .any(|r| r["agency"] == "D-CIVIL_AFFAIRS" && r["purpose"] == "subsidy_review"));
    assert!(!list.iter().any(|r| r["purpose"] == "case_investigation"));
    // The audit log itself keeps the investigation whole.
    let kept = hub
        .reference(
            "MATCH (:Resident {id: $id})<-[:DISCLOSED]-(a:AuditRecord {agency: 'D-PUBLIC_SECURITY'})
             RETURN a.purpose AS purpose, a.caseNumber AS caseNumber LIMIT 1",
            json!({"id": inside}),
        )
        .await;
    assert_eq!(kept[0]["purpose"], "case_investigation");
    assert_eq!(kept[0]["caseNumber"], "CASE-2026-0001");
}

async fn civil_affairs_inside_and_outside(hub: &TestHub) -> (String, String) {
    let inside = hub
        .reference_ids(
            "MATCH (r:Resident)-[:MEMBER_OF]->(:Household) WHERE r.lowIncome RETURN r.id AS id ORDER BY id LIMIT 1",
            json!({}),
        )
        .await;
    let outside = hub
        .reference_ids(
            "MATCH (r:Resident) WHERE NOT (r.lowIncome OR r.elderlyLivingAlone
               OR EXISTS { MATCH (r)-[:MEMBER_OF]->(:Household)<-[:MEMBER_OF]-(m:Resident) WHERE m.lowIncome })
             RETURN r.id AS id ORDER BY id LIMIT 1",
            json!({}),
        )
        .await;
    (inside[0].clone(), outside[0].clone())
}

const ENTITIES: &str = "query($reps: [_Any!]!) { _entities(representations: $reps) {
    __typename
    ... on Resident { id name idNumber household { id memberCount } }
    ... on Household { id householdNumber }
} }";

#[tokio::test]
async fn federation_entities_pass_through_the_same_plan() {
    let hub = start().await;
    let (inside, outside) = civil_affairs_inside_and_outside(&hub).await;
    let lookup = data(
        &hub,
        CA,
        "subsidy_review",
        &format!("{{ resident(id: \"{inside}\") {{ id name idNumber household {{ id memberCount }} }} }}"),
    )
    .await;
    let household = lookup["resident"]["household"]["id"].clone();
    let before = hub.cypher_queries().await;
    let reps = json!([
        {"__typename": "Resident", "id": inside},
        {"__typename": "Resident", "id": outside},
        {"__typename": "Resident", "id": "R99999999"},
        {"__typename": "Household", "id": household},
        {"__typename": "Resident", "id": inside},
    ]);
    let body = ask(
        &hub,
        CA,
        "subsidy_review",
        ENTITIES,
        json!({ "reps": reps }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    // One Cypher query for the whole entity fetch, whatever types it spans.
    assert_eq!(hub.cypher_queries().await - before, 1);
    let got = &body["data"]["_entities"];
    let mut resident = lookup["resident"].clone();
    resident["__typename"] = json!("Resident");
    // The same answer as the lookup: masked the same, nested the same.
    assert_eq!(got[0], resident, "{got:#}");
    assert!(masked_id(got[0]["idNumber"].as_str().unwrap()));
    // Outside the mandate and nonexistent answer alike: null.
    assert!(got[1].is_null() && got[2].is_null(), "{got:#}");
    assert_eq!(got[3]["__typename"], "Household");
    assert_eq!(got[3]["id"], household);
    assert!(got[3]["householdNumber"].is_string());
    assert_eq!(got[4], got[0]);
    assert_eq!(got.as_array().unwrap().len(), 5);

    // A field outside the mandate is unexecutable through entities too.
    for q in [
        "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Resident { ethnicity } } }",
        "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Grid { id } } }",
        "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Household { building { grid { id } } } } }",
    ] {
        let body = ask(&hub, CA, "subsidy_review", q, json!({ "reps": [] })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{q}: {body}"
        );
    }
    // A type outside the mandate and one that does not exist: the same answer.
    async fn as_type(hub: &TestHub, name: &str) -> String {
        let reps = json!([{"__typename": name, "id": "G00002"}]);
        let mut body = ask(
            hub,
            CA,
            "subsidy_review",
            "query($reps: [_Any!]!) { _entities(representations: $reps) { __typename } }",
            json!({ "reps": reps }),
        )
        .await;
        body["errors"][0]["extensions"]
            .as_object_mut()
            .unwrap()
            .remove("requestId");
        body.to_string().replace(name, "<type>")
    }
    let hidden = as_type(&hub, "Grid").await;
    assert!(hidden.contains("BAD_USER_INPUT"), "{hidden}");
    assert_eq!(hidden, as_type(&hub, "Spaceship").await);

    // The agency's federation SDL is its own schema: entity keys, no hidden names.
    let sdl = data(&hub, CA, "subsidy_review", "{ _service { sdl } }").await;
    let sdl = sdl["_service"]["sdl"].as_str().unwrap();
    assert!(sdl.contains("type Resident @key(fields: \"id\")"), "{sdl}");
    for hidden in ["ethnicity", "occupation", "type Grid", "gridWorker"] {
        assert!(!sdl.contains(hidden), "{hidden} in {sdl}");
    }
}

#[tokio::test]
async fn entity_fetches_are_audited_with_the_residents_they_disclose() {
    let hub = start_on_chain("entities").await;
    let (inside, outside) = civil_affairs_inside_and_outside(&hub).await;
    let reps = json!([
        {"__typename": "Resident", "id": inside},
        {"__typename": "Resident", "id": outside},
    ]);
    let body = ask(
        &hub,
        CA,
        "subsidy_review",
        ENTITIES,
        json!({ "reps": reps }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let records = chain_records(&hub).await;
    let last = records.last().unwrap();
    assert_eq!(last["a"]["decision"], "masked", "{last}");
    // The resident shown, and — since her household's fields were read — every
    // member of her household (a household read discloses facts about each).
    let mut want = hub
        .reference_ids(
            "MATCH (:Resident {id: $r})-[:MEMBER_OF]->(:Household)<-[:MEMBER_OF]-(m:Resident) RETURN m.id AS id",
            json!({ "r": inside }),
        )
        .await;
    want.push(inside.clone());
    want.sort();
    want.dedup();
    let mut got: Vec<String> = serde_json::from_value(last["disclosed"].clone()).unwrap();
    got.sort();
    assert_eq!(got, want, "{last}");
    let fields = last["a"]["fields"].to_string();
    assert!(
        fields.contains("Resident.idNumber:masked") && fields.contains("Household.memberCount"),
        "{fields}"
    );
}

#[tokio::test]
async fn changed_lists_are_put_in_force_and_broken_ones_are_not() {
    // A policies folder of this test's own, watched every second.
    let dir = std::env::temp_dir().join(format!("mandate-reload-{}", std::process::id()));
    let lists = dir.join("lists");
    let (fixture, keys) = fixtures();
    common::copy_policies(fixture, &dir);
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = dir.display().to_string();
    config.policies.today = TODAY.into();
    config.policies.reload_secs = 1;
    let hub = TestHub::start_with(config).await;
    let (inside, _) = civil_affairs_inside_and_outside(&hub).await;
    let q = format!("{{ resident(id: \"{inside}\") {{ id ethnicity }} }}");
    let code = |body: &Value| body["errors"][0]["extensions"]["code"].clone();
    let body = ask(&hub, CA, "subsidy_review", &q, json!({})).await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");

    // Grant the field: the watcher puts the change in force within seconds.
    let list = lists.join("civil-affairs.csv");
    let original = std::fs::read_to_string(&list).unwrap();
    let granted = format!("{original}\np, caseworker, D-CIVIL_AFFAIRS, subsidy_review, Resident.ethnicity, read, -, 《社会救助暂行办法》第11条\n");
    std::fs::write(&list, &granted).unwrap();
    let mut answer = Value::Null;
    for _ in 0..40 {
        answer = ask(&hub, CA, "subsidy_review", &q, json!({})).await;
        if answer.get("errors").is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        answer["data"]["resident"]["ethnicity"].is_string(),
        "{answer}"
    );
    assert_eq!(hub.metric("mandate_policy_reloads_total").await, 1);
    let version = hub.hub.policies().version().to_string();

    // A broken list is refused, naming file and line, and fails closed: its grants
    // lapse (they used to stay in force, and so would a revocation saved beside
    // the error), while the other lists stay in force.
    std::fs::write(
        &list,
        format!("{granted}p, caseworker, D-CIVIL_AFFAIRS, subsidy_review, Resident.secretField, read, -, x\n"),
    )
    .unwrap();
    let err = hub.hub.reload_policies().await.unwrap_err().to_string();
    assert!(err.contains("civil-affairs.csv:"), "{err}");
    assert_ne!(hub.hub.policies().version(), version);
    let body = ask(&hub, CA, "subsidy_review", &q, json!({})).await;
    assert_eq!(code(&body), "PURPOSE_NOT_ALLOWED", "{body}");
    let other = ask(
        &hub,
        PS,
        "household_registration",
        "{ residents(first: 1) { totalCount } }",
        json!({}),
    )
    .await;
    assert!(
        other["data"]["residents"]["totalCount"].is_number(),
        "{other}"
    );
    assert!(hub.metric("mandate_policy_reload_failures_total").await >= 1);

    // Revoking takes the field away again, from schema and execution alike.
    std::fs::write(&list, &original).unwrap();
    // (The watcher may have been first: either way the original is in force.)
    hub.hub.reload_policies().await.unwrap();
    assert_ne!(hub.hub.policies().version(), version);
    let body = ask(&hub, CA, "subsidy_review", &q, json!({})).await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}
