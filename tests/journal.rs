//! The audit journal (`audit.journal`): records made durable in a local file
//! before the data is released, shipped to the Neo4j chain behind the request,
//! and a journal's unshipped tail shipped when a hub starts. Real Neo4j, HTTP in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::{Path, PathBuf};

use common::TestHub;
use mandate_audit::{AuditRecord, GENESIS};
use serde_json::{json, Value};

const TODAY: &str = "2026-11-29";
const CA: (&str, &str) = ("D-CIVIL_AFFAIRS", "caseworker");
const CLERK: (&str, &str) = ("D-STREET_OFFICE-S01", "service_clerk");

fn key_of(who: (&str, &str)) -> String {
    format!("mk_journal_{}_{}", who.0, who.1)
}

/// A scratch folder, the policies and keys, and a chain name, all unique to `name`.
fn scratch(name: &str) -> (PathBuf, mandate::Config) {
    let root = std::env::temp_dir().join(format!("mandate-journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let policies = root.join("policies");
    common::copy_policies(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &policies,
    );
    let entries: Vec<_> = [CA, CLERK]
        .iter()
        .map(|w| (w.0, vec![w.1], key_of(*w)))
        .collect();
    let keys = common::keys_file(&root, "journal", &entries);
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    config.audit.chain = format!("journal-{name}-{}", std::process::id());
    config.audit.journal = root.join("audit.jsonl").display().to_string();
    (root, config)
}

async fn ask(hub: &TestHub, who: (&str, &str), purpose: &str, query: &str) -> Value {
    hub.client
        .post(hub.url("/graphql"))
        .header("x-api-key", key_of(who))
        .header("x-mandate-purpose", purpose)
        .header("x-mandate-case", "CASE-J-1")
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON response")
}

/// Removes whatever an earlier run left of `config`'s chain in Neo4j, through a
/// hub without a journal (before the journaling hub starts and reads the head).
async fn clear_chain(config: &mandate::Config) {
    let mut plain = config.clone();
    plain.audit.journal = String::new();
    let hub = TestHub::start_with(plain).await;
    let chain = &config.audit.chain;
    hub.write(
        "MATCH (a:AuditRecord {chain: $c}) DETACH DELETE a WITH count(*) AS n OPTIONAL MATCH (h:AuditHead {chain: $c}) DELETE h",
        json!({ "c": chain }),
    )
    .await;
}

async fn records_in_neo4j(hub: &TestHub, chain: &str) -> Vec<Value> {
    hub.reference(
        "MATCH (a:AuditRecord {chain: $c}) RETURN a.seq AS seq, a.requestId AS requestId ORDER BY a.seq",
        json!({ "c": chain }),
    )
    .await
}

/// Waits (bounded) until Neo4j holds `n` records of `chain`.
async fn wait_for_records(hub: &TestHub, chain: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let rows = records_in_neo4j(hub, chain).await;
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("chain {chain} never reached {n} records in Neo4j");
}

/// Waits (bounded) until the hub reports no journaled record waiting for Neo4j.
async fn wait_until_shipped(hub: &TestHub) {
    for _ in 0..100 {
        if hub.metric("mandate_audit_unshipped_records").await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the journal never finished shipping");
}

/// Sealed records of `chain`, seq 1..=n, as the hub would journal them.
fn sealed(chain: &str, n: u64) -> Vec<AuditRecord> {
    let mut prev = GENESIS.to_string();
    (1..=n)
        .map(|seq| {
            let mut r = AuditRecord {
                chain: chain.to_string(),
                seq,
                time: "2026-11-29T08:00:00Z".into(),
                request_id: format!("journal-tail-{seq}"),
                client_request_id: String::new(),
                unrecorded_before: 0,
                action: String::new(),
                target: String::new(),
                agency: "D-CIVIL_AFFAIRS".into(),
                officer: "system:journal-0".into(),
                purpose: "subsidy_review".into(),
                case_number: "CASE-J-1".into(),
                operation: "0".repeat(64),
                decision: mandate_audit::Decision::Allowed,
                code: String::new(),
                fields: vec!["Resident.name".into()],
                residents: vec!["R00000001".into()],
                prev_hash: prev.clone(),
                hash: String::new(),
            };
            r.hash = r.compute_hash();
            prev = r.hash.clone();
            r
        })
        .collect()
}

fn write_lines(path: &Path, records: &[AuditRecord], tail: &str) {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).unwrap());
        text.push('\n');
    }
    text.push_str(tail);
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn journaled_reads_reach_neo4j_and_receipts_see_them_at_once() {
    let (_root, config) = scratch("ship");
    let chain = config.audit.chain.clone();
    let journal = PathBuf::from(&config.audit.journal);
    clear_chain(&config).await;
    let hub = TestHub::start_with(config).await;
    // Concurrent reads: each answered only once its record is synced to the journal.
    let q = "{ resident(id: \"R00000470\") { name idNumber } }";
    let answers =
        futures::future::join_all((0..20).map(|_| ask(&hub, CA, "subsidy_review", q))).await;
    for a in &answers {
        assert!(a.get("errors").is_none(), "{a:#}");
    }
    let journaled = mandate_connectors::read_journal(&journal, false).unwrap();
    assert!(journaled.records.len() >= 20, "{}", journaled.records.len());
    // The receipts wait for the journal to be shipped: the reads are all there.
    let receipts = ask(
        &hub,
        CLERK,
        "resident_inquiry",
        "{ accessReceipts(residentId: \"R00000470\", first: 100) { agency purpose caseNumber } }",
    )
    .await;
    let ours = receipts["data"]["accessReceipts"]
        .as_array()
        .unwrap_or_else(|| panic!("{receipts:#}"))
        .iter()
        .filter(|r| r["caseNumber"] == "CASE-J-1" && r["agency"] == "D-CIVIL_AFFAIRS")
        .count();
    assert!(ours >= 20, "all 20 reads listed at once: {receipts:#}");
    // Neo4j holds exactly the journal's chain, intact, every request once.
    let rows = wait_for_records(&hub, &chain, 21).await;
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    hub.intact_chain(&chain).await;
    let unshipped = mandate_connectors::verify_journal(&hub.hub.store, &journal, &chain)
        .await
        .unwrap();
    let journaled = mandate_connectors::read_journal(&journal, false).unwrap();
    assert_eq!(
        journaled.records.len() - unshipped,
        rows.len(),
        "Neo4j holds the journal's records"
    );
    // The backlog is on /metrics.
    hub.metric("mandate_audit_unshipped_records").await;
    let ready: Value = hub
        .client
        .get(hub.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["audit"], "up", "{ready}");
}

#[tokio::test]
async fn a_journal_tail_left_by_a_stopped_hub_is_shipped_on_start() {
    let (_root, config) = scratch("tail");
    let chain = config.audit.chain.clone();
    let journal = PathBuf::from(&config.audit.journal);
    clear_chain(&config).await;
    // A stopped hub left five acknowledged records Neo4j never got, and a sixth
    // it was writing when it stopped (never acknowledged: torn).
    let tail = sealed(&chain, 6);
    let torn = serde_json::to_string(&tail[5]).unwrap();
    write_lines(&journal, &tail[..5], &torn[..torn.len() / 2]);
    let hub = TestHub::start_with(config).await;
    let body = ask(
        &hub,
        CA,
        "subsidy_review",
        "{ resident(id: \"R00000470\") { name } }",
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let rows = wait_for_records(&hub, &chain, 6).await;
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["requestId"].as_str().unwrap())
        .collect();
    assert_eq!(
        &ids[..5],
        &[
            "journal-tail-1",
            "journal-tail-2",
            "journal-tail-3",
            "journal-tail-4",
            "journal-tail-5"
        ]
    );
    assert_eq!(rows.len(), 6, "the torn record is not shipped: {rows:?}");
    assert_eq!(rows[5]["seq"], 6, "the new request continues the chain");
    assert_eq!(hub.intact_chain(&chain).await, 6);
    // The torn line was cut: the journal reads back whole.
    let back = mandate_connectors::read_journal(&journal, false).unwrap();
    assert_eq!(back.torn_bytes, 0);
    assert_eq!(back.records.len(), 6);
    // A second hub on the same journal is refused: one writer per journal.
    let mut second = hub.hub.config.clone();
    second.audit.chain = chain.clone();
    let err = mandate::App::new(second).await.err().expect("refused");
    assert!(err.to_string().contains("locked"), "{err}");
}

#[tokio::test]
async fn a_journal_that_does_not_continue_the_chain_in_neo4j_releases_nothing() {
    let (_root, mut config) = scratch("gap");
    let chain = config.audit.chain.clone();
    let journal = PathBuf::from(&config.audit.journal);
    clear_chain(&config).await;
    // Records 3..5 only: 1 and 2 are in neither Neo4j nor the journal.
    let records = sealed(&chain, 5);
    write_lines(&journal, &records[2..], "");
    config.audit.timeout_ms = 2_000;
    let hub = TestHub::start_with(config).await;
    let body = ask(
        &hub,
        CA,
        "subsidy_review",
        "{ resident(id: \"R00000470\") { name } }",
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "AUDIT_UNAVAILABLE",
        "{body:#}"
    );
    assert!(
        body["data"].is_null() || body.get("data").is_none(),
        "{body:#}"
    );
    assert!(
        !body.to_string().contains("journal"),
        "no internal detail: {body}"
    );
    // Load balancers see it: not ready, because of the audit log.
    let resp = hub.client.get(hub.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let ready: Value = resp.json().await.unwrap();
    assert_eq!(
        ready,
        json!({"status": "not ready", "neo4j": "up", "audit": "down"})
    );
    let problem = mandate_connectors::verify_journal(&hub.hub.store, &journal, &chain)
        .await
        .unwrap_err();
    assert!(problem.contains("records 1..2 are in neither"), "{problem}");
}

#[tokio::test]
async fn a_damaged_journal_refuses_the_start_naming_the_line() {
    let (_root, config) = scratch("damaged");
    let chain = config.audit.chain.clone();
    let journal = PathBuf::from(&config.audit.journal);
    let mut records = sealed(&chain, 4);
    records[1].fields.push("Resident.idNumber".into()); // edited after sealing
    write_lines(&journal, &records, "");
    let err = mandate::App::new(config.clone())
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.contains("line 2") && text.contains("edited"), "{text}");
    // Garbage in the middle (not a torn tail) is refused too, and nothing is cut.
    let good = sealed(&chain, 3);
    let mut text = String::new();
    text.push_str(&serde_json::to_string(&good[0]).unwrap());
    text.push_str("\n{not json\n");
    text.push_str(&serde_json::to_string(&good[1]).unwrap());
    text.push('\n');
    std::fs::write(&journal, &text).unwrap();
    let err = mandate::App::new(config).await.err().expect("refused");
    assert!(err.to_string().contains("line 2"), "{err}");
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), text);
}

#[tokio::test]
async fn a_journal_past_its_bound_keeps_only_what_neo4j_may_lack() {
    let (_root, mut config) = scratch("compact");
    let chain = config.audit.chain.clone();
    let journal = PathBuf::from(&config.audit.journal);
    clear_chain(&config).await;
    config.audit.journal_max_mb = 0; // past the bound on every write
    let hub = TestHub::start_with(config).await;
    let q = "{ resident(id: \"R00000470\") { name } }";
    for _ in 0..30 {
        let body = ask(&hub, CA, "subsidy_review", q).await;
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    wait_for_records(&hub, &chain, 30).await;
    wait_until_shipped(&hub).await;
    // One more write after everything shipped: the journal is rewritten to
    // (almost) nothing but keeps chaining.
    let body = ask(&hub, CA, "subsidy_review", q).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let back = mandate_connectors::read_journal(&journal, false).unwrap();
    assert!(
        !back.records.is_empty() && back.records.len() < 30,
        "{} records kept",
        back.records.len()
    );
    assert_eq!(back.records.last().unwrap().seq, 31);
    let rows = wait_for_records(&hub, &chain, 31).await;
    assert_eq!(rows.len(), 31);
    hub.intact_chain(&chain).await;
    let unshipped = mandate_connectors::verify_journal(&hub.hub.store, &journal, &chain)
        .await
        .unwrap();
    assert_eq!(unshipped, 0);
    assert!(
        !journal.with_file_name("audit.jsonl.compacting").exists(),
        "no leftover beside the journal"
    );
}
