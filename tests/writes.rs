//! Owner writes over HTTP against the real Neo4j: the grid-management centre
//! corrects residents' phone numbers (a field it owns, granted by a `write`
//! item): the update lands and readers see it; a stale precondition is
//! `CONFLICT` with nothing written — also when two updates race; a resident
//! outside the centre's rows is `NOT_FOUND`; a field it does not own is not in
//! its schema; every write is recorded with before/after hashes, never values;
//! a mutation by GET is refused; and the loader refuses `write` items of
//! fields the agency does not own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::{keys_file, policies_with_test_centre, test_config, TestHub};
use serde_json::{json, Value};

const GRID: &str = "key-grid-worker-t1-000000000000";
/// A one-grid centre (the S01 centre's list under its name, write item included).
const CENTRE: &str = "D-GRID_MANAGEMENT-W1";
const CIVIL: &str = "key-civil-caseworker-0000000000";
const PURPOSE: &str = "grid_inspection";

/// Where the hub's audit records go: each committed to Neo4j before the write
/// (no journal), or sealed inside the write's transaction (the journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audit {
    Direct,
    Journal,
}

async fn hub(audit: Audit) -> TestHub {
    hub_with(audit, |_| {}).await
}

async fn hub_with(audit: Audit, tune: impl FnOnce(&mut mandate::Config)) -> TestHub {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("mandate-writes-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let keys = keys_file(
        &root,
        "writes",
        &[
            (CENTRE, vec!["grid_worker"], GRID.into()),
            ("D-CIVIL_AFFAIRS", vec!["caseworker"], CIVIL.into()),
        ],
    );
    let policies = policies_with_test_centre(&root, CENTRE);
    let mut config = test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    if audit == Audit::Journal {
        // A chain of its own per journal.
        config.audit.chain = format!("writes-{}-{n}", std::process::id());
        config.audit.journal = root.join(format!("audit-{n}.jsonl")).display().to_string();
        config.audit.journal_ship_ms = 50;
    }
    tune(&mut config);
    let hub = TestHub::start_with(config).await;
    hub.write(
        "MATCH (g:Grid) WITH g ORDER BY g.id LIMIT 1
         MERGE (d:Department {id: $id}) SET d.name = '测试网格化管理中心', d.code = 'GRID_MANAGEMENT', d.level = 'SUBDISTRICT'
         MERGE (d)-[:SERVES]->(g)",
        json!({"id": CENTRE}),
    )
    .await;
    hub
}

/// A phone number no earlier run wrote.
fn fresh_phone() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("139{:08}", nanos % 100_000_000)
}

async fn gql(hub: &TestHub, key: &str, purpose: &str, query: &str, variables: Value) -> Value {
    hub.post_as(key, purpose, "CASE-W-1", query, variables)
        .await
        .json()
        .await
        .unwrap()
}

const UPDATE: &str = "mutation($id: ID!, $to: String, $was: String) { updateResident(id: $id, set: { phone: $to }, expect: { phone: $was }) { id updated } }";

/// A resident inside the centre's rows, with its phone as the centre reads it.
async fn inside(hub: &TestHub, skip: usize) -> (String, Value) {
    let v = gql(
        hub,
        GRID,
        PURPOSE,
        "{ residents(first: 20) { edges { node { id phone } } } }",
        json!({}),
    )
    .await;
    let node = &v["data"]["residents"]["edges"][skip]["node"];
    (
        node["id"].as_str().unwrap().to_string(),
        node["phone"].clone(),
    )
}

async fn phone_of(hub: &TestHub, id: &str) -> Value {
    hub.reference(
        "MATCH (r:Resident {id: $id}) RETURN r.phone AS phone",
        json!({"id": id}),
    )
    .await[0]["phone"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_updates_its_field_with_a_precondition_and_a_record() {
    owner_updates(hub(Audit::Direct).await, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_journal_the_owner_updates_its_field_with_a_precondition_and_a_record() {
    owner_updates(hub(Audit::Journal).await, 3).await;
}

async fn owner_updates(hub: TestHub, skip: usize) {
    let since = mandate_audit::now_rfc3339();
    let (id, was) = inside(&hub, skip).await;
    let to = fresh_phone();
    let to = to.as_str();
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        UPDATE,
        json!({"id": id, "to": to, "was": was}),
    )
    .await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(
        v["data"]["updateResident"]["updated"],
        json!(["Resident.phone"])
    );
    assert_eq!(phone_of(&hub, &id).await, json!(to));
    // Readers see it on their next query.
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        "query($id: ID!) { resident(id: $id) { phone } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(v["data"]["resident"]["phone"], json!(to));

    // Stale: the writer read `was`, which no longer holds.
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        UPDATE,
        json!({"id": id, "to": "13900002222", "was": was}),
    )
    .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "CONFLICT", "{v}");
    assert_eq!(phone_of(&hub, &id).await, json!(to), "nothing written");

    // Recorded: before and after hashes, never the values (a journal ships
    // its records behind the answers).
    let mut rec = Vec::new();
    for _ in 0..100 {
        rec = hub
            .reference(
                "MATCH (a:AuditRecord {action: 'data.update'}) WHERE a.target STARTS WITH $t AND a.time >= $since RETURN a.target AS target, a.fields AS fields, a.agency AS agency, a.caseNumber AS case, a.residents AS residents",
                json!({"t": format!("Resident:{id} "), "since": since}),
            )
            .await;
        if !rec.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(rec.len(), 1, "one record of the one write: {rec:?}");
    let target = rec[0]["target"].as_str().unwrap();
    assert!(
        target.contains("before:") && target.contains("after:"),
        "{target}"
    );
    assert!(
        !target.contains(to) && !target.contains(was.as_str().unwrap_or("-")),
        "no values in the record: {target}"
    );
    assert_eq!(rec[0]["agency"], CENTRE);
    assert_eq!(rec[0]["case"], "CASE-W-1");
    assert_eq!(rec[0]["residents"], json!([id]));

    // Back as it was (other tests read the city).
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        UPDATE,
        json!({"id": id, "to": was, "was": to}),
    )
    .await;
    assert!(v.get("errors").is_none(), "{v}");

    // Validation: `expect` must name the fields of `set`; a phone is at most 1000 characters.
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        "mutation($id: ID!) { updateResident(id: $id, set: { phone: \"1\" }, expect: {}) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_updates_of_one_resident_never_lose_one_silently() {
    racing_updates(hub(Audit::Direct).await, 1).await;
}

/// Racing updates committed in one group: the group's transaction runs them
/// one after the other, so the first wins and the rest see its value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_journal_racing_updates_of_one_resident_never_lose_one_silently() {
    racing_updates(hub(Audit::Journal).await, 2).await;
}

async fn racing_updates(hub: TestHub, skip: usize) {
    let (id, was) = inside(&hub, skip).await;
    let mut racers = Vec::new();
    for i in 0..8 {
        let client = hub.client.clone();
        let url = hub.url("/graphql");
        let id = id.clone();
        let was = was.clone();
        racers.push(tokio::spawn(async move {
            let v: Value = client
                .post(url)
                .header("x-api-key", GRID)
                .header("x-mandate-purpose", PURPOSE)
                .header("x-mandate-case", "CASE-W-RACE")
                .json(&json!({"query": UPDATE, "variables": {"id": id, "to": format!("1370000000{i}"), "was": was}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (i, v)
        }));
    }
    let mut won = Vec::new();
    for r in racers {
        let (i, v) = r.await.unwrap();
        match v["errors"][0]["extensions"]["code"].as_str() {
            None => won.push(i),
            Some("CONFLICT") => {}
            other => panic!("unexpected {other:?}: {v}"),
        }
    }
    assert_eq!(
        won.len(),
        1,
        "exactly one of the racing updates wins: {won:?}"
    );
    assert_eq!(
        phone_of(&hub, &id).await,
        json!(format!("1370000000{}", won[0]))
    );
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        UPDATE,
        json!({"id": id, "to": was, "was": format!("1370000000{}", won[0])}),
    )
    .await;
    assert!(v.get("errors").is_none(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_rows_or_the_owned_fields_nothing_is_written() {
    outside_the_mandate(hub(Audit::Direct).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_journal_outside_the_rows_or_the_owned_fields_nothing_is_written() {
    outside_the_mandate(hub(Audit::Journal).await).await;
}

async fn outside_the_mandate(hub: TestHub) {
    // A resident the centre cannot see: not found, as one that does not exist.
    let all = hub
        .reference(
            "MATCH (r:Resident) RETURN r.id AS id ORDER BY r.id DESC LIMIT 400",
            json!({}),
        )
        .await;
    let mut outside = None;
    for r in &all {
        let id = r["id"].as_str().unwrap();
        let v = gql(
            &hub,
            GRID,
            PURPOSE,
            "query($id: ID!) { resident(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
        if v["data"]["resident"].is_null() {
            outside = Some(id.to_string());
            break;
        }
    }
    let outside = outside.expect("a resident outside the one-grid centre");
    let before = phone_of(&hub, &outside).await;
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        UPDATE,
        json!({"id": outside, "to": "13600000000", "was": before}),
    )
    .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "NOT_FOUND", "{v}");
    assert_eq!(phone_of(&hub, &outside).await, before);
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        UPDATE,
        json!({"id": "R99999999", "to": "13600000000", "was": null}),
    )
    .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "NOT_FOUND", "{v}");

    // A field the centre reads but does not own is not writable: not in its schema.
    let v = gql(&hub, GRID, PURPOSE, "mutation($id: ID!) { updateResident(id: $id, set: { name: \"x\" }, expect: { name: \"y\" }) { id } }", json!({"id": outside})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{v}"
    );
    // An agency with no write grant has no mutations at all.
    let v = gql(
        &hub,
        CIVIL,
        "subsidy_review",
        UPDATE,
        json!({"id": outside, "to": "1", "was": null}),
    )
    .await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{v}"
    );

    // A mutation by GET is refused with 405.
    let resp = hub
        .client
        .get(hub.url("/graphql"))
        .query(&[("query", "mutation { updateResident(id: \"R1\", set: { phone: \"1\" }, expect: { phone: \"2\" }) { id } }")])
        .header("x-api-key", GRID)
        .header("x-mandate-purpose", PURPOSE)
        .header("x-mandate-case", "CASE-W-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn the_loader_refuses_writes_of_fields_an_agency_does_not_own_or_read() {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let model =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/model.conf"))
            .unwrap();
    let load = |text: &str| {
        let texts = vec![(std::path::PathBuf::from("t.csv"), text.to_string())];
        let model = model.clone();
        let catalog = catalog.clone();
        async move {
            mandate_policies::Policies::from_texts(&model, &texts, &catalog)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    let base = "p, w, D-CIVIL_AFFAIRS, p1, Resident, rows, all, b\np, w, D-CIVIL_AFFAIRS, p1, Resident.phone, read, -, b\n";
    let e = load(&format!(
        "{base}p, w, D-CIVIL_AFFAIRS, p1, Resident.phone, write, -, b\n"
    ))
    .await
    .unwrap_err();
    assert!(
        e.contains("t.csv:3") && e.contains("owned by GRID_MANAGEMENT"),
        "{e}"
    );
    let e = load("p, w, D-GRID_MANAGEMENT-X, p1, Resident, rows, all, b\np, w, D-GRID_MANAGEMENT-X, p1, Resident.phone, write, -, b\n").await.unwrap_err();
    assert!(e.contains("t.csv:2") && e.contains("needs a `read`"), "{e}");
    let e = load("p, w, D-PUBLIC_SECURITY, p1, Resident.id, read, -, b\np, w, D-PUBLIC_SECURITY, p1, Resident.id, write, -, b\n").await.unwrap_err();
    assert!(e.contains("cannot be written"), "{e}");
}

/// No write without its record: when the journal refuses records (its backlog
/// is full, Neo4j not taking them), an update whose statement already ran in
/// its group's transaction is rolled back, and the caller is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_journal_a_write_whose_record_is_refused_is_not_written() {
    let direct = hub(Audit::Direct).await;
    let (id, was) = inside(&direct, 4).await;
    let hub = hub_with(Audit::Journal, |c| {
        c.audit.journal_max_backlog = 0;
    })
    .await;
    let v = gql(
        &hub,
        GRID,
        PURPOSE,
        UPDATE,
        json!({"id": id, "to": fresh_phone(), "was": was}),
    )
    .await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "AUDIT_UNAVAILABLE",
        "{v}"
    );
    assert!(
        v["data"].is_null() || v["data"]["updateResident"].is_null(),
        "{v}"
    );
    assert_eq!(phone_of(&hub, &id).await, was, "nothing written");
}

/// Group commit, at the store's port: of writes sent at the same moment, one
/// whose statement fails in Neo4j (an impossible date) gets its error, and the
/// others — which may have shared its transaction and its statement — are
/// committed all the same (the group runs again one write at a time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_write_never_fails_the_others_of_its_group() {
    use mandate_resolvers::{CypherQuery, GraphStore as _, WriteSeal, Written};
    let hub = hub(Audit::Direct).await;
    let run = format!("gc-{}", std::process::id());
    hub.write(
        "UNWIND range(0, 19) AS k MERGE (n:GroupCommitProbe {id: $run + '-' + toString(k)}) SET n.d = null",
        json!({"run": run}),
    )
    .await;
    let text =
        "UNWIND $rows AS row CALL (row) { MATCH (n:GroupCommitProbe {id: row.p0}) SET n.id = n.id \
        WITH n, {} AS before, true AS fresh \
        FOREACH (_ IN CASE WHEN fresh THEN [1] ELSE [] END | SET n.d = date(row.p1)) \
        RETURN {apply: fresh, before: before} AS data } RETURN row.i AS i, data";
    let write = |k: usize| {
        let day = if k == 7 {
            "2024-02-30".to_string()
        } else {
            format!("2024-01-{:02}", k + 1)
        };
        let mut row = serde_json::Map::new();
        row.insert("p0".into(), json!(format!("{run}-{k}")));
        row.insert("p1".into(), json!(day));
        row.insert("i".into(), json!(0));
        let mut params = serde_json::Map::new();
        params.insert("rows".into(), json!([row]));
        let query = CypherQuery {
            text: text.to_string(),
            params,
        };
        let store = hub.hub.store.clone();
        async move {
            let seal: WriteSeal = Box::new(|_| Box::pin(async { Ok(()) }));
            store.write(&query, seal).await.written
        }
    };
    let outcomes = futures::future::join_all((0..20).map(write)).await;
    for (k, outcome) in outcomes.iter().enumerate() {
        if k == 7 {
            assert!(outcome.is_err(), "the impossible date fails: {outcome:?}");
        } else {
            assert!(
                matches!(outcome, Ok(Written::Committed(_))),
                "write {k} committed: {outcome:?}"
            );
        }
    }
    let rows = hub
        .reference(
            "MATCH (n:GroupCommitProbe) WHERE n.id STARTS WITH $run + '-' RETURN n.id AS id, toString(n.d) AS d",
            json!({"run": run}),
        )
        .await;
    for r in &rows {
        let k: usize = r["id"]
            .as_str()
            .unwrap()
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let want = if k == 7 {
            Value::Null
        } else {
            json!(format!("2024-01-{:02}", k + 1))
        };
        assert_eq!(r["d"], want, "{r}");
    }
    assert_eq!(rows.len(), 20);
    hub.write(
        "MATCH (n:GroupCommitProbe) WHERE n.id STARTS WITH $run + '-' DETACH DELETE n",
        json!({"run": run}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_writes_are_charged_to_their_agency_s_share_of_neo4j_time() {
    // 200 milliseconds of Neo4j time at once, one a second: every write is
    // charged its part of its transaction's time (at least a millisecond), so
    // a writer that keeps Neo4j busy is refused until it has paid the time
    // back, as a reader is; writes used to be charged nothing. The resident
    // is read through a hub without the budget (a cold Neo4j may take longer
    // than the budget for a first read).
    let (id, mut was) = inside(&hub(Audit::Journal).await, 5).await;
    let hub = hub_with(Audit::Journal, |c| {
        c.budgets.agencies.insert(
            CENTRE.to_string(),
            mandate::BudgetConfig {
                cost_per_sec: c.budgets.cost_per_sec,
                burst: c.budgets.burst,
                cost_per_day: c.budgets.cost_per_day,
                store_ms_per_sec: Some(1),
                store_ms_burst: Some(200),
            },
        );
    })
    .await;
    let mut refused = None;
    for n in 0..600 {
        let to = json!(fresh_phone());
        let resp = hub
            .post_as(
                GRID,
                PURPOSE,
                "CASE-W-1",
                UPDATE,
                json!({"id": id, "to": to, "was": was}),
            )
            .await;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        if status == 429 {
            refused = Some((n, v, to));
            break;
        }
        assert!(v.get("errors").is_none(), "write {n}: {v}");
        was = to;
    }
    let (n, v, to) = refused.expect("refused once its share of Neo4j time is spent");
    assert!(n > 0, "the first write fits the share");
    assert_eq!(v["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("graph database's time"),
        "{v}"
    );
    assert_ne!(
        phone_of(&hub, &id).await,
        to,
        "the refused write wrote nothing"
    );
    assert_eq!(phone_of(&hub, &id).await, was);
    // Another agency is served.
    let v = gql(
        &hub,
        CIVIL,
        "subsidy_review",
        "{ buildings(first: 1) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert!(v.get("errors").is_none(), "{v}");
}
