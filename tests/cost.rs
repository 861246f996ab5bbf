//! Every request's cost is bounded before work starts (issue 11, class 3): the
//! shapes that made Neo4j or the hub work without bound — many root fields, many
//! aliases on one object, `where` trees thousands of terms wide or deep, nested
//! lists multiplying page sizes — are refused with `QUERY_TOO_COMPLEX` naming the
//! limit, before any Cypher runs; an agency that spends its budget gets `429`
//! with `Retry-After` while others are served; and one agency holds at most its
//! share of the Neo4j connections. HTTP in, JSON out, real Neo4j underneath.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::TestHub;
use serde_json::{json, Value};

const CA: (&str, &str) = ("D-CIVIL_AFFAIRS", "caseworker");
const HOUSING: (&str, &str) = ("D-HOUSING", "inspector");

fn key_of(who: (&str, &str)) -> String {
    format!("mk_cost_{}_{}", who.0, who.1)
}

/// API keys for the two agencies (the checked-in lists).
fn keys() -> &'static PathBuf {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("mandate-cost-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let entries: Vec<_> = [CA, HOUSING]
            .iter()
            .map(|who| (who.0, vec![who.1], key_of(*who)))
            .collect();
        common::keys_file(&root, "cost", &entries)
    })
}

async fn start(edit: impl FnOnce(&mut mandate::Config)) -> TestHub {
    let mut config = common::test_config();
    config.auth.api_keys_file = keys().display().to_string();
    edit(&mut config);
    TestHub::start_with(config).await
}

/// A budget of one moderate query (1,000 units at once, earned back at one a
/// second), on an audit chain of its own named `chain`.
fn one_query_budget(c: &mut mandate::Config, chain: &str) {
    c.limits.max_complexity = 1000;
    c.budgets.burst = 1000;
    c.budgets.cost_per_sec = 1;
    c.audit.chain = format!("cost-{chain}-{}", std::process::id());
}

/// 20 households × (1 + 10 members × 3): about 640 units.
const MODERATE: &str = "{ households(first: 20) { edges { node { id members(first: 10) { edges { relationToHead node { id name } } } } } } }";

/// POSTs `query` as `who` for `purpose`; returns the status, `Retry-After` and body.
async fn ask(
    hub: &TestHub,
    who: (&str, &str),
    purpose: &str,
    query: &str,
    variables: Value,
) -> (u16, Option<String>, Value) {
    let resp = hub
        .post_as(&key_of(who), purpose, "CASE-2026-0042", query, variables)
        .await;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, resp.json().await.unwrap())
}

/// The housing bureau's small read: what another agency asks meanwhile.
async fn another_agency(hub: &TestHub) -> (u16, Value) {
    let (status, _, body) = ask(
        hub,
        HOUSING,
        "building_safety",
        "{ buildings(first: 5) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    (status, body)
}

/// The limit a refused answer names.
fn refused_by(body: &Value) -> (&str, &str) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or_else(|| panic!("{body:#}")),
        ext["limit"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn abusive_shapes_are_refused_by_name_before_any_query_runs() {
    let hub = start(|_| {}).await;
    let ask_ca = |q: String, vars: Value| {
        let hub = &hub;
        async move { ask(hub, CA, "subsidy_review", &q, vars).await }
    };
    let roots = (0..11)
        .map(|i| format!("r{i}: resident(id: \"R{:08}\") {{ id }}", i + 1))
        .collect::<Vec<_>>()
        .join(" ");
    let thousand_aliases = (0..2000)
        .map(|i| format!("a{i}: name"))
        .collect::<Vec<_>>()
        .join(" ");
    let sixty_aliases = |field: &str, prefix: &str| {
        (0..30)
            .map(|i| format!("{prefix}{i}: {field}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let wide = (0..3000)
        .map(|i| json!({"name": {"eq": format!("x{i}")}}))
        .collect::<Vec<_>>();
    let mut deep = json!({"name": {"eq": "x"}});
    for _ in 0..12 {
        deep = json!({"NOT": deep});
    }
    // Copies under one response key, no aliases: the executor runs every copy
    // (they used to be counted once, and 300 copies ran ~170 Cypher queries).
    let copies = |field: &str, n: usize| vec![field; n].join(" ");
    let cases: Vec<(String, Value, &str)> = vec![
        (format!("{{ {roots} }}"), json!({}), "max_root_fields"),
        (
            format!("{{ {} }}", copies("residents(first: 1) { totalCount }", 11)),
            json!({}),
            "max_root_fields",
        ),
        (
            format!("{{ resident(id: \"R00000001\") {{ {} }} }}", copies("name", 65)),
            json!({}),
            "max_fields_per_object",
        ),
        (
            format!("{{ resident(id: \"R00000001\") {{ {thousand_aliases} }} }}"),
            json!({}),
            "max_fields_per_object",
        ),
        (
            format!(
                "{{ a: residents(first: 1) {{ edges {{ node {{ {} }} }} }} b: residents(first: 1) {{ edges {{ node {{ {} }} }} }} }}",
                sixty_aliases("name", "n"),
                sixty_aliases("id", "i")
            ),
            json!({}),
            "max_aliases",
        ),
        (
            "query($w: ResidentWhere) { residents(first: 1, where: $w) { totalCount } }".into(),
            json!({"w": {"OR": wide}}),
            "max_filter_terms",
        ),
        (
            "query($w: ResidentWhere) { residents(first: 1, where: $w) { totalCount } }".into(),
            json!({"w": deep}),
            "max_filter_depth",
        ),
        (
            // 17 `in` lists of 1,000 values each, every list within the limit:
            // their values together are bounded (they ran Neo4j to its timeout).
            "query($w: ResidentWhere) { residents(first: 1, where: $w) { totalCount } }".into(),
            json!({"w": {"OR": (0..17).map(|k| json!({"name": {"in": (0..1000).map(|i| format!("n{k}-{i}")).collect::<Vec<_>>()}})).collect::<Vec<_>>()}}),
            "max_in_values",
        ),
        (
            // 100 households × 100 members × 3 fields: 30,000 values asked for.
            "{ households(first: 100) { edges { node { id members(first: 100) { edges { relationToHead node { id name } } } } } } }".into(),
            json!({}),
            "max_complexity",
        ),
    ];
    // The plan is compiled (its jurisdiction read) by a first request.
    let (_, _, warm) = ask_ca("{ resident(id: \"R00000001\") { id } }".into(), json!({})).await;
    assert!(warm.get("errors").is_none(), "{warm:#}");
    let before = hub.cypher_queries().await;
    for (query, vars, limit) in cases {
        let started = std::time::Instant::now();
        let (status, _, body) = ask_ca(query.clone(), vars).await;
        let took = started.elapsed();
        assert_eq!(
            refused_by(&body),
            ("QUERY_TOO_COMPLEX", limit),
            "{limit}: {body:#}"
        );
        assert!(body["data"].is_null(), "{limit}: nothing answered");
        assert_eq!(status, 200, "application/json carries refusals in a 200");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(&format!("limits.{limit}")), "{message}");
        assert!(body["errors"][0]["extensions"]["actual"].as_u64().unwrap() > 0);
        eprintln!("{limit}: refused in {took:?}");
    }
    assert_eq!(
        hub.cypher_queries().await,
        before,
        "no refused request reached Neo4j"
    );

    // Within the limits, the same kinds of request are answered.
    let fine = [
        (0..10)
            .map(|i| format!("r{i}: resident(id: \"R{:08}\") {{ id }}", i + 1))
            .collect::<Vec<_>>()
            .join(" "),
        "households(first: 20) { edges { node { id members(first: 10) { edges { relationToHead node { id name } } } } } }".into(),
    ];
    for q in fine {
        let (status, _, body) = ask_ca(format!("{{ {q} }}"), json!({})).await;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    let (_, _, body) = ask_ca(
        "query($w: ResidentWhere) { residents(first: 1, where: $w) { totalCount } }".into(),
        json!({"w": {"OR": wide[..50]}}),
    )
    .await;
    assert!(body.get("errors").is_none(), "50 terms are fine: {body:#}");
}

#[tokio::test]
async fn a_spent_budget_is_429_with_retry_after_and_others_are_served() {
    // 1,000 units at once, one a second after that: a request of ~600 passes, the
    // next does not for minutes.
    let hub = start(|c| {
        one_query_budget(c, "budget");
    })
    .await;
    let q = MODERATE;
    let (status, retry, body) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(retry.is_none());
    let before = hub.cypher_queries().await;
    let (status, retry, body) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 429, "{body:#}");
    assert_eq!(refused_by(&body).0, "RATE_LIMITED");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!(retry >= 60, "hundreds of units at one a second: {retry} s");
    assert_eq!(
        body["errors"][0]["extensions"]["retryAfter"].as_u64(),
        Some(retry)
    );
    assert_eq!(hub.cypher_queries().await, before, "refused before Neo4j");
    // Another agency has a budget of its own.
    let (status, body) = another_agency(&hub).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "{body:#}");
    // The refusal is in the audit log, with the caller and the code.
    let records = hub
        .reference(
            "MATCH (a:AuditRecord {chain: $c, code: 'RATE_LIMITED'}) RETURN a.agency AS agency, a.decision AS decision",
            json!({"c": hub.hub.config.audit.chain}),
        )
        .await;
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["agency"], "D-CIVIL_AFFAIRS");
}

/// A client that ignores `Retry-After` is answered its 429 only after the
/// tarpit's hold (at most its Retry-After), so it asks a few times a second
/// instead of thousands; others are not held.
#[tokio::test]
async fn a_held_back_agency_is_answered_slowly_and_others_are_not() {
    let hub = start(|c| {
        one_query_budget(c, "tarpit");
        c.budgets.tarpit_ms = 400;
    })
    .await;
    let q = MODERATE;
    let (status, _, _) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 200);
    let (status, _, _) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 429, "spent");
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (status, retry, body) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
        assert_eq!((status, refused_by(&body).0), (429, "RATE_LIMITED"));
        assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(400),
            "held: {:?}",
            started.elapsed()
        );
    }
    // Another agency is answered, and its request is not held by the tarpit.
    let (status, body) = another_agency(&hub).await;
    assert_eq!(status, 200, "{body:#}");
}

/// Refusing a document for its cost is work: it is charged what the largest
/// allowed document would be, so an agency sending refused shapes is held back
/// like one spending its budget on answers; another agency is not.
#[tokio::test]
async fn refused_shapes_spend_the_budget_too() {
    let hub = start(|c| {
        one_query_budget(c, "refused");
        c.budgets.tarpit_ms = 0;
    })
    .await;
    let too_big = "{ households(first: 100) { edges { node { id members(first: 100) { edges { node { id name } } } } } } }";
    let (status, _, body) = ask(&hub, CA, "subsidy_review", too_big, json!({})).await;
    assert_eq!(
        (status, refused_by(&body).0),
        (200, "QUERY_TOO_COMPLEX"),
        "{body:#}"
    );
    let (status, retry, body) = ask(&hub, CA, "subsidy_review", too_big, json!({})).await;
    assert_eq!(
        (status, refused_by(&body).0),
        (429, "RATE_LIMITED"),
        "{body:#}"
    );
    assert!(retry.is_some());
    let (status, body) = another_agency(&hub).await;
    assert_eq!(status, 200, "{body:#}");
}

#[tokio::test]
async fn a_daily_quota_is_429_for_hours() {
    let hub = start(|c| {
        c.limits.max_complexity = 1000;
        c.budgets.cost_per_sec = 0;
        c.budgets.cost_per_day = 1000;
    })
    .await;
    let q = MODERATE;
    let (status, _, _) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 200);
    let (status, retry, body) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 429, "{body:#}");
    assert_eq!(refused_by(&body).0, "QUOTA_EXCEEDED");
    assert!(retry.unwrap().parse::<u64>().unwrap() > 3600);
}

#[tokio::test]
async fn one_agency_holds_at_most_its_share_of_neo4j() {
    // A share of one connection and no wait: of ten root fields run at once, the
    // ones that find the agency's connection taken are refused (each its own
    // error; the root field is left out of `data`, as for any failed root field),
    // while another agency's request is not held back.
    let hub = start(|c| {
        c.budgets.store_share = 1;
        c.budgets.store_wait_ms = 0;
    })
    .await;
    let roots = (0..10)
        .map(|i| format!("r{i}: households(first: 5) {{ totalCount }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (status, _, body) = ask(
        &hub,
        CA,
        "subsidy_review",
        &format!("{{ {roots} }}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        !errors.is_empty(),
        "ten queries at once on one share: {body:#}"
    );
    for e in &errors {
        assert_eq!(e["extensions"]["code"], "RATE_LIMITED", "{e:#}");
        assert_eq!(e["extensions"]["retryAfter"], 1, "{e:#}");
    }
    let answered = (0..10)
        .filter(|i| body["data"][format!("r{i}")]["totalCount"].is_u64())
        .count();
    assert!(answered >= 1, "{body:#}");
    assert_eq!(answered + errors.len(), 10);
    let (status, body) = another_agency(&hub).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body:#}");
}

#[tokio::test]
async fn an_agency_whose_queries_keep_neo4j_busy_is_stopped_and_refused_until_paid_back() {
    // One millisecond of Neo4j time a second, one at once: a query that takes
    // a few milliseconds is stopped at its agency's whole share (the estimate
    // could not see it coming), charged, and the agency is then refused until
    // it has paid the time back.
    let hub = start(|c| {
        c.budgets.agencies.insert(
            CA.0.to_string(),
            mandate::BudgetConfig {
                cost_per_sec: c.budgets.cost_per_sec,
                burst: c.budgets.burst,
                cost_per_day: c.budgets.cost_per_day,
                store_ms_per_sec: Some(1),
                store_ms_burst: Some(1),
            },
        );
    })
    .await;
    let q = "{ households(first: 50) { totalCount edges { node { id members(first: 5) { totalCount } } } } }";
    let (_, _, body) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(refused_by(&body).0, "NEO4J_TIMEOUT", "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("share of the graph database's time (1 ms at once)"),
        "{body:#}"
    );
    // Charged: within a few more tries the agency owes time and is refused
    // before anything reaches Neo4j.
    let mut refused = None;
    for _ in 0..5 {
        let before = hub.cypher_queries().await;
        let (status, retry, body) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
        if status == 429 {
            assert_eq!(hub.cypher_queries().await, before, "refused before Neo4j");
            refused = Some((retry, body));
            break;
        }
        assert_eq!(refused_by(&body).0, "NEO4J_TIMEOUT", "{body:#}");
    }
    let (retry, body) = refused.expect("refused once its share is spent");
    assert_eq!(refused_by(&body).0, "RATE_LIMITED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("graph database's time"),
        "{body:#}"
    );
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // Another agency is served.
    let (status, body) = another_agency(&hub).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "{body:#}");
}

#[tokio::test]
async fn introspection_cannot_multiply_the_schema_by_repeating_fields() {
    // Introspection lists answer from the schema and count one unit each, so
    // a field selected twice in one introspection object is refused: copies of
    // `types { fields {…} }` would multiply the schema's size unseen (3,100
    // copies of one `__schema` selection took 2 s of the hub's CPU).
    let hub = start(|_| {}).await;
    let types = "types { name fields { name } }";
    for (query, limit) in [
        (
            format!("{{ __schema {{ {types} {types} }} }}"),
            "introspection_repeats",
        ),
        (
            "{ __schema { types { fields { name } fields { name } } } }".to_string(),
            "introspection_repeats",
        ),
        (
            format!(
                "{{ {} }}",
                vec![format!("__schema {{ {types} }}"); 11].join(" ")
            ),
            "max_root_fields",
        ),
    ] {
        let (_, _, body) = ask(&hub, CA, "subsidy_review", &query, json!({})).await;
        assert_eq!(refused_by(&body), ("QUERY_TOO_COMPLEX", limit), "{body:#}");
    }
    // Once each is fine (GraphiQL's own introspection: tests/graphiql.rs).
    let (_, _, body) = ask(
        &hub,
        CA,
        "subsidy_review",
        &format!("{{ __schema {{ {types} }} }}"),
        json!({}),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
}

#[tokio::test]
async fn an_agency_over_budget_is_refused_unparsed_and_its_refusals_are_sampled() {
    let hub = start(|c| {
        one_query_budget(c, "flood");
        c.audit.anonymous_refusals_per_sec = 2;
        // Answered at once: this is about the records, not the pace.
        c.budgets.tarpit_ms = 0;
    })
    .await;
    let q = MODERATE;
    let unrecorded = hub.metric("mandate_audit_unrecorded_refusals_total").await;
    let (status, _, _) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 200);
    let (status, _, _) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
    assert_eq!(status, 429);
    // Until its Retry-After has passed, even a document that does not parse is
    // refused for the budget: it is never read.
    let (status, _, body) = ask(&hub, CA, "subsidy_review", "{ not graphql", json!({})).await;
    assert_eq!(
        (status, refused_by(&body).0),
        (429, "RATE_LIMITED"),
        "{body:#}"
    );
    // Its body is not even read: one past `limits.max_body_bytes` (else a 413)
    // gets the same 429, with its Retry-After.
    let huge = "x".repeat(hub.hub.config.limits.max_body_bytes + 1);
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .header("x-api-key", key_of(CA))
        .header("x-mandate-purpose", "subsidy_review")
        .header("x-mandate-case", "CASE-2026-0042")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    for _ in 0..18 {
        let (status, _, _) = ask(&hub, CA, "subsidy_review", q, json!({})).await;
        assert_eq!(status, 429);
    }
    // A flood of refusals for spent budget does not grow the audit log by one
    // record each: they are sampled, and counted.
    let records = hub
        .reference(
            "MATCH (a:AuditRecord {chain: $c, code: 'RATE_LIMITED'}) RETURN a.agency AS agency, coalesce(a.unrecordedBefore, 0) AS before",
            json!({"c": hub.hub.config.audit.chain}),
        )
        .await;
    assert!(records.len() < 21, "sampled: {} records", records.len());
    assert!(records.iter().all(|r| r["agency"] == CA.0));
    let counted = hub.metric("mandate_audit_unrecorded_refusals_total").await - unrecorded;
    assert_eq!(
        counted as usize + records.len(),
        21,
        "every refusal recorded or counted"
    );
}

/// A read the hub stops waiting for (its deadline passed, the request was
/// dropped, its agency's share of the store's time spent) is stopped in Neo4j
/// too: abandoned work does not keep the database busy until the server's own
/// transaction timeout (60 s in scripts/neo4j). neo4rs discards a connection
/// whose request is dropped half-way, and Neo4j terminates the transaction of
/// a closed connection; the agencies' time shares rely on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_the_hub_stops_waiting_for_is_stopped_in_neo4j() {
    use mandate_resolvers::GraphStore as _;
    let hub = TestHub::start().await;
    let tag = format!("abandoned-{}", std::process::id());
    let mut params = serde_json::Map::new();
    params.insert("tag".into(), json!(tag));
    let slow = mandate_resolvers::CypherQuery {
        text: "UNWIND range(1, 2000000000) AS x WITH count(x) AS n RETURN {n: n} AS data".into(),
        params,
    };
    let running = || async {
        hub.reference(
            // (not `$tag`: this statement's own parameters would match)
            "SHOW TRANSACTIONS YIELD parameters WHERE parameters.tag = $wanted RETURN count(*) AS n",
            json!({"wanted": tag}),
        )
        .await[0]["n"]
            .as_i64()
            .unwrap()
    };
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        hub.hub.store.run(&slow),
    )
    .await;
    assert!(gave_up.is_err(), "the read takes longer than the wait");
    let started = std::time::Instant::now();
    while running().await > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "the abandoned read still runs in Neo4j"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
