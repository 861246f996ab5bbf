//! Residents' receipts list every read that disclosed something about them
//! (issue 11, class 7): reading a household's fields is a disclosure about each
//! of its members, and a small count (which, with a filter, answers a question
//! about the few people counted) is a disclosure about each person counted; a
//! large count is an aggregate and names nobody.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::TestHub;
use serde_json::{json, Value};

const CA: (&str, &str, &str) = ("D-CIVIL_AFFAIRS", "caseworker", "subsidy_review");
const CLERK: (&str, &str, &str) = ("D-STREET_OFFICE-S01", "service_clerk", "resident_inquiry");
const TODAY: &str = "2026-11-29";

fn key_of(who: (&str, &str, &str)) -> String {
    format!("mk_receipts_{}_{}", who.0, who.1)
}

fn keys() -> &'static PathBuf {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("mandate-receipts-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let entries: Vec<_> = [CA, CLERK]
            .iter()
            .map(|w| (w.0, vec![w.1], key_of(*w)))
            .collect();
        common::keys_file(&root, "receipts", &entries)
    })
}

async fn ask(hub: &TestHub, who: (&str, &str, &str), case: &str, query: &str) -> Value {
    let body: Value = hub
        .post_as(&key_of(who), who.2, case, query, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

/// The case numbers of civil affairs' reads in `resident`'s receipts.
async fn cases_in_receipts(hub: &TestHub, resident: &str) -> Vec<String> {
    let data = ask(
        hub,
        CLERK,
        "CASE-INQUIRY",
        &format!("{{ accessReceipts(residentId: \"{resident}\", first: 100) {{ agency caseNumber fields }} }}"),
    )
    .await;
    data["accessReceipts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["agency"] == CA.0)
        .map(|r| r["caseNumber"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn household_reads_and_small_counts_reach_the_residents_receipts() {
    let mut config = common::test_config();
    config.auth.api_keys_file = keys().display().to_string();
    config.policies.today = TODAY.into();
    config.audit.chain = format!("receipts-{}", std::process::id());
    let hub = TestHub::start_with(config).await;
    let tag = std::process::id();

    // A household's number and size, read without any of its members.
    let household_case = format!("CASE-HH-{tag}");
    let page = ask(
        &hub,
        CA,
        &household_case,
        "{ households(first: 1, orderBy: [{field: MEMBER_COUNT, direction: DESC}]) { edges { node { id householdNumber memberCount } } } }",
    )
    .await;
    let household = page["households"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let members = hub
        .reference_ids(
            "MATCH (:Household {id: $h})<-[:MEMBER_OF]-(r:Resident) RETURN r.id AS id ORDER BY r.id",
            json!({ "h": household }),
        )
        .await;
    assert!(members.len() > 1, "a household of several people");
    for m in &members {
        assert!(
            cases_in_receipts(&hub, m).await.contains(&household_case),
            "the household read is in the receipts of its member {m}"
        );
    }

    // A count of one, through a filter that names a resident: a question about her.
    let person = &members[0];
    let count_case = format!("CASE-COUNT-{tag}");
    let counted = ask(
        &hub,
        CA,
        &count_case,
        &format!("{{ residents(where: {{id: {{in: [\"{person}\"]}}}}) {{ totalCount }} }}"),
    )
    .await;
    assert_eq!(counted["residents"]["totalCount"], 1, "{counted}");
    assert!(
        cases_in_receipts(&hub, person).await.contains(&count_case),
        "the count that singled {person} out is in her receipts"
    );

    // Questions about a resident named by id reach her receipts whatever the
    // answer shows: a page of none whose hasNextPage says whether she matched,
    // and a count padded past the small-count bound with other residents
    // (both used to link nobody, so a test of her phone a bit at a time left
    // no trace in her receipts).
    let other = &members[1];
    let named_case = format!("CASE-NAMED-{tag}");
    ask(
        &hub,
        CA,
        &named_case,
        &format!("{{ residents(first: 0, where: {{id: {{eq: \"{other}\"}}, name: {{startsWith: \"x\"}}}}) {{ pageInfo {{ hasNextPage }} }} }}"),
    )
    .await;
    assert!(
        cases_in_receipts(&hub, other).await.contains(&named_case),
        "the page that asked about {other} by id is in her receipts"
    );
    let padding = hub
        .reference_ids(
            "MATCH (r:Resident) WHERE r.lowIncome RETURN r.id AS id ORDER BY r.id LIMIT 11",
            json!({}),
        )
        .await;
    let padded_case = format!("CASE-PADDED-{tag}");
    let padded = ask(
        &hub,
        CA,
        &padded_case,
        &format!(
            "{{ residents(where: {{OR: [{{id: {{eq: \"{other}\"}}}}, {{id: {{in: {}}}}}]}}) {{ totalCount }} }}",
            serde_json::to_string(&padding).unwrap()
        ),
    )
    .await;
    assert!(
        padded["residents"]["totalCount"].as_u64().unwrap() > 10,
        "{padded}"
    );
    assert!(
        cases_in_receipts(&hub, other).await.contains(&padded_case),
        "a padded count naming {other} is in her receipts"
    );

    // A large count is an aggregate: its record links nobody.
    let aggregate_case = format!("CASE-AGG-{tag}");
    let all = ask(&hub, CA, &aggregate_case, "{ residents { totalCount } }").await;
    assert!(
        all["residents"]["totalCount"].as_u64().unwrap() > 10,
        "{all}"
    );
    let linked = hub
        .reference(
            "MATCH (a:AuditRecord {chain: $c, caseNumber: $case}) OPTIONAL MATCH (a)-[:DISCLOSED]->(r:Resident) RETURN count(r) AS n, count(DISTINCT a) AS records",
            json!({ "c": hub.hub.config.audit.chain, "case": aggregate_case }),
        )
        .await;
    assert_eq!(linked[0]["records"], 1);
    assert_eq!(linked[0]["n"], 0, "an aggregate names nobody");
}
