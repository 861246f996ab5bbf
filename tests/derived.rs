//! Derived counts obey row scopes (issue 11, class 8): `Household.memberCount`
//! is a stored count of the household's members; a reader whose mandate limits
//! which residents it may see gets — and filters and sorts on — the count of the
//! members it may see, never a count that reveals residents outside its mandate.
//! The education bureau sees school-age children and their guardians only, so a
//! household with grandparents counts fewer members for it than it stores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::TestHub;
use serde_json::{json, Value};

const EDU: (&str, &str) = ("D-EDUCATION", "enrollment_officer");
const PURPOSE: &str = "school_enrollment";
const TODAY: &str = "2026-11-29";

fn key() -> String {
    format!("mk_derived_{}_{}", EDU.0, EDU.1)
}

fn keys() -> &'static PathBuf {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("mandate-derived-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        common::keys_file(&root, "derived", &[(EDU.0, vec![EDU.1], key())])
    })
}

async fn ask(hub: &TestHub, query: &str) -> Value {
    let body: Value = hub
        .post_as(&key(), PURPOSE, "CASE-2026-0008", query, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

/// (id, memberCount, members' totalCount) of every household on one page.
fn households(data: &Value) -> Vec<(String, u64, u64)> {
    data["households"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["id"].as_str().unwrap().to_string(),
                n["memberCount"].as_u64().unwrap(),
                n["members"]["totalCount"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn member_counts_count_only_the_members_a_mandate_sees() {
    let mut config = common::test_config();
    config.auth.api_keys_file = keys().display().to_string();
    config.policies.today = TODAY.into();
    let hub = TestHub::start_with(config).await;

    let page = ask(
        &hub,
        "{ households(first: 100, orderBy: [{field: MEMBER_COUNT, direction: DESC}]) { edges { node { id memberCount members(first: 1) { totalCount } } } } }",
    )
    .await;
    let seen = households(&page);
    assert!(!seen.is_empty(), "the bureau sees households: {page:#}");
    // The count is of the members the bureau may see, and the order follows it.
    for (id, count, visible) in &seen {
        assert_eq!(count, visible, "household {id}");
    }
    let counts: Vec<u64> = seen.iter().map(|(_, c, _)| *c).collect();
    let mut sorted = counts.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(counts, sorted, "sorted by the count the bureau sees");
    // Some of these households hold residents outside the mandate: their stored
    // count is larger (the case the fix is about).
    let ids: Vec<&str> = seen.iter().map(|(id, _, _)| id.as_str()).collect();
    let stored = hub
        .reference(
            "MATCH (h:Household) WHERE h.id IN $ids RETURN h.id AS id, h.memberCount AS n",
            json!({ "ids": ids }),
        )
        .await;
    let larger = stored
        .iter()
        .filter(|r| {
            let (_, count, _) = seen.iter().find(|(id, _, _)| *id == r["id"]).unwrap();
            r["n"].as_u64().unwrap() > *count
        })
        .count();
    assert!(
        larger > 0,
        "some households have members the bureau may not see"
    );

    // Filtering on the count uses the same count.
    let threshold = counts[0];
    let filtered = ask(
        &hub,
        &format!("{{ households(first: 100, where: {{memberCount: {{gte: {threshold}}}}}) {{ edges {{ node {{ id memberCount members(first: 1) {{ totalCount }} }} }} }} }}"),
    )
    .await;
    let filtered = households(&filtered);
    let want: Vec<&String> = seen
        .iter()
        .filter(|(_, c, _)| *c >= threshold)
        .map(|(id, _, _)| id)
        .collect();
    assert!(!filtered.is_empty());
    for (id, count, visible) in &filtered {
        assert!(*count >= threshold && count == visible, "household {id}");
        assert!(
            want.contains(&id),
            "household {id} passes on the visible count"
        );
    }
}
