//! The hub under test: its policies folder (the checked-in lists plus the test
//! grid centre's and the probe's) and API keys file, starting it, and asking it
//! as one of the officers (again, when it could not answer at all).

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::common::{self, TestHub};
use crate::{PRINCIPALS, PROBE_LIST, TEST_GRID, TEST_GRID_CENTRE, TODAY};

fn key_of(principal: usize) -> String {
    format!("mk_diff_{principal}")
}

/// Policies folder (the checked-in lists plus one for the test grid centre) and
/// the API keys file.
pub(crate) fn fixtures() -> &'static (PathBuf, PathBuf) {
    static DIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let root =
            std::env::temp_dir().join(format!("mandate-differential-{}", std::process::id()));
        let policies = common::policies_with_test_centre(&root, TEST_GRID_CENTRE);
        std::fs::write(policies.join("lists/test-probe.csv"), PROBE_LIST).unwrap();
        let entries: Vec<_> = PRINCIPALS
            .iter()
            .enumerate()
            .map(|(i, (agency, roles))| (*agency, roles.to_vec(), key_of(i)))
            .collect();
        let keys_file = common::keys_file(&root, "diff", &entries);
        (policies, keys_file)
    })
}

/// A hub with the test keys and lists, auditing to `chain`, and the test grid centre.
pub(crate) async fn start(chain: Option<&str>) -> TestHub {
    let (policies, keys) = fixtures();
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    // Ten thousand cases from one agency as fast as they go, nesting lists at the
    // default page size: the comparison is about what each answer holds, so the
    // budgets and the cost limits (tested in tests/cost.rs and tests/derived.rs:
    // its random filters hold more relationship conditions than a root field
    // may) are out of its way.
    config.budgets.cost_per_sec = 0;
    config.budgets.cost_per_day = 0;
    config.budgets.store_ms_per_sec = 0;
    config.limits.max_complexity = 1_000_000;
    config.limits.max_filter_terms = 10_000;
    if let Some(chain) = chain {
        config.audit.chain = chain.to_string();
    }
    let hub = TestHub::start_with(config).await;
    hub.write(
        "MERGE (d:Department {id: $id}) SET d.name = '测试网格化管理中心', d.code = 'GRID_MANAGEMENT', d.level = 'SUBDISTRICT'
         WITH d MATCH (g:Grid {id: $grid}) MERGE (d)-[:SERVES]->(g)",
        json!({"id": TEST_GRID_CENTRE, "grid": TEST_GRID}),
    )
    .await;
    hub
}

/// POSTs `query` as principal `who` for `purpose`; returns the whole response.
pub(crate) async fn ask(
    hub: &TestHub,
    who: usize,
    purpose: &str,
    query: &str,
    variables: &Value,
) -> Value {
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .header("x-api-key", key_of(who))
        .header("x-mandate-purpose", purpose)
        .header("x-mandate-case", "CASE-DIFF-1")
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request sent");
    resp.json().await.expect("JSON response")
}

/// Codes of a hub that could not answer at all (not an answer to judge).
const TRANSIENT: [&str; 3] = ["AUDIT_UNAVAILABLE", "NEO4J_TIMEOUT", "NEO4J_UNAVAILABLE"];

pub(crate) static RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// [`ask`], asking again (up to five times, backing off) when the hub could not
/// answer at all: on a loaded two-core machine Neo4j may miss a deadline.
pub(crate) async fn ask_steady(
    hub: &TestHub,
    who: usize,
    purpose: &str,
    query: &str,
    variables: &Value,
) -> Value {
    let mut attempt = 0;
    loop {
        let got = ask(hub, who, purpose, query, variables).await;
        let code = got["errors"][0]["extensions"]["code"].as_str();
        if attempt == 5 || !code.is_some_and(|c| TRANSIENT.contains(&c)) {
            return got;
        }
        attempt += 1;
        RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(std::time::Duration::from_millis(1000 * attempt)).await;
    }
}

/// Deletes the audit records of a test-only chain (they link to residents).
pub(crate) async fn clear_chain(hub: &TestHub, chain: &str) {
    loop {
        let left = hub
            .reference(
                "MATCH (a:AuditRecord {chain: $c}) RETURN count(a) AS n",
                json!({"c": chain}),
            )
            .await[0]["n"]
            .as_u64()
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        hub.write(
            "MATCH (a:AuditRecord {chain: $c}) WITH a LIMIT 2000 DETACH DELETE a",
            json!({"c": chain}),
        )
        .await;
    }
    hub.write(
        "MATCH (h:AuditHead {chain: $c}) DELETE h",
        json!({"c": chain}),
    )
    .await;
}
