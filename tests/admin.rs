//! The policy officers' admin API over HTTP against the real Neo4j, with the
//! lists in the policy store: two-person rule, another department's list
//! refused, share-class bounds, revocation in force on the data API at once,
//! rollback, sharing applications with deadlines and expiring grants (the test
//! clock moves), break-glass review, console sessions with CSRF, every action
//! in the audit chain — and a second hub instance on the same Neo4j picking up
//! a publication within a second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use mandate_governance::store::{CommitError, Doc, GovStore, Head, Kind, Seal, Version, Write};
use mandate_resolvers::StoreError;

use common::{copy_policies, keys_file, test_config, TestHub};
use serde_json::{json, Value};

/// One store, one scenario at a time.
static STORE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CASEWORKER: &str = "key-caseworker-0000000000000000";
const HEALTH: &str = "key-health-officer-000000000000";
const CIVIL_EDITOR: &str = "key-civil-editor-00000000000000";
const CIVIL_APPROVER: &str = "key-civil-approver-000000000000";
const HEALTH_EDITOR: &str = "key-health-editor-0000000000000";
const PS_STEWARD: &str = "key-ps-steward-0000000000000000";
const ADMIN: &str = "key-bureau-admin-00000000000000";
/// Index 7: a second civil-affairs officer who edits and approves.
const CIVIL_CHIEF: &str = "key-civil-chief-000000000000000";
/// Index 8, 9: an editor and an approver of a lookalike agency id.
const LOOKALIKE_EDITOR: &str = "key-lookalike-editor-0000000000";
const LOOKALIKE_APPROVER: &str = "key-lookalike-approver-00000000";
/// Index 10: resident service.
const RESIDENT_SERVICE: &str = "key-resident-service-0000000000";

struct Hubs {
    config: mandate::Config,
}

async fn setup() -> Hubs {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "mandate-admin-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let policies = root.join("policies");
    copy_policies(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &policies,
    );
    let keys = keys_file(
        &root,
        "admin",
        &[
            ("D-CIVIL_AFFAIRS", vec!["caseworker"], CASEWORKER.into()),
            ("D-HEALTH", vec!["health_officer"], HEALTH.into()),
            (
                "D-CIVIL_AFFAIRS",
                vec!["policy_editor"],
                CIVIL_EDITOR.into(),
            ),
            (
                "D-CIVIL_AFFAIRS",
                vec!["policy_approver"],
                CIVIL_APPROVER.into(),
            ),
            ("D-HEALTH", vec!["policy_editor"], HEALTH_EDITOR.into()),
            ("D-PUBLIC_SECURITY", vec!["data_steward"], PS_STEWARD.into()),
            (
                "D-DATA_BUREAU",
                vec!["platform_admin", "auditor"],
                ADMIN.into(),
            ),
            (
                "D-CIVIL_AFFAIRS",
                vec!["policy_editor", "policy_approver"],
                CIVIL_CHIEF.into(),
            ),
            (
                "D-CIVIL-AFFAIRS",
                vec!["policy_editor"],
                LOOKALIKE_EDITOR.into(),
            ),
            (
                "D-CIVIL-AFFAIRS",
                vec!["policy_approver"],
                LOOKALIKE_APPROVER.into(),
            ),
            (
                "D-DATA_BUREAU",
                vec!["resident_service"],
                RESIDENT_SERVICE.into(),
            ),
        ],
    );
    let mut config = test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.source = mandate::PolicySource::Store;
    config.policies.store_poll_ms = 50;
    config.admin.test_clock = true;
    // A chain of its own: the test verifies it while nothing else writes to it.
    config.audit.chain = format!(
        "admin-{}-{}",
        std::process::id(),
        N.load(std::sync::atomic::Ordering::Relaxed)
    );
    Hubs { config }
}

/// Empties the policy store (other test binaries use files, not the store).
async fn clean_store(hub: &TestHub) {
    hub.write(
        "MATCH (n) WHERE n:PolicyVersion OR n:PolicyHead OR n:PolicyDraft OR n:SharingApplication OR n:PolicyGrant DETACH DELETE n",
        json!({}),
    )
    .await;
}

async fn admin(hub: &TestHub, key: &str, query: &str, variables: Value) -> Value {
    hub.client
        .post(hub.url("/admin/graphql"))
        .header("x-api-key", key)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code(v: &Value) -> String {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error code in {v}"))
        .to_string()
}

fn ok(v: &Value) -> &Value {
    assert!(v.get("errors").is_none(), "no errors: {v}");
    &v["data"]
}

const RESIDENTS: &str = "{ residents(first: 2) { edges { node { id name hukouType } } } }";
const ETHNICITY: &str = "{ residents(first: 2) { edges { node { id ethnicity } } } }";

async fn data_code(hub: &TestHub, key: &str, purpose: &str, query: &str) -> Option<String> {
    let v: Value = hub
        .post_as(key, purpose, "CASE-ADMIN-1", query, json!({}))
        .await
        .json()
        .await
        .unwrap();
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string)
}

/// Moves the hub's test clock to `seconds` past the wall clock.
async fn set_clock(hub: &TestHub, seconds: i64) {
    ok(&admin(
        hub,
        ADMIN,
        "mutation($s: Int!) { setClock(offsetSeconds: $s) }",
        json!({"s": seconds}),
    )
    .await);
}

/// The entry of a list whose `id` is `id`.
fn with_id(list: &Value, id: &str) -> Value {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .find(|x| x["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {list}"))
        .clone()
}

/// Polls until `check` holds; the time it took.
async fn until(mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never happened"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_change_the_lists_under_two_person_rule_and_it_is_in_force_at_once() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    // Clean the store before the hub bootstraps from the folder.
    {
        let probe = TestHub::start_with(test_config()).await;
        clean_store(&probe).await;
    }
    let hub = TestHub::start_with(setup.config.clone()).await;
    let v = ok(&admin(
        &hub,
        ADMIN,
        "{ version { number author current files } }",
        json!({}),
    )
    .await)
    .clone();
    assert_eq!(
        v["version"]["number"], 1,
        "the folder was imported as version 1: {v}"
    );
    assert_eq!(v["version"]["author"], "system:bootstrap");
    assert_eq!(
        data_code(&hub, CASEWORKER, "subsidy_review", RESIDENTS).await,
        None
    );

    // Not an officer.
    let v = admin(&hub, CASEWORKER, "{ me { officer } }", json!({})).await;
    assert_eq!(code(&v), "NOT_AN_OFFICER");

    // Another department's list is refused.
    let create = "mutation($d: String!) { createDraft(department: $d, reason: \"r\", basis: \"b\") { id text state } }";
    let v = admin(&hub, HEALTH_EDITOR, create, json!({"d": "D-CIVIL_AFFAIRS"})).await;
    assert_eq!(code(&v), "OTHER_DEPARTMENT", "{v}");
    // An approver is not an editor.
    let v = admin(
        &hub,
        CIVIL_APPROVER,
        create,
        json!({"d": "D-CIVIL_AFFAIRS"}),
    )
    .await;
    assert_eq!(code(&v), "ROLE_REQUIRED", "{v}");

    let d = ok(&admin(&hub, CIVIL_EDITOR, create, json!({"d": "D-CIVIL_AFFAIRS"})).await).clone();
    let id = d["createDraft"]["id"].as_str().unwrap().to_string();
    let text = d["createDraft"]["text"].as_str().unwrap().to_string();
    assert!(text.contains("Resident.hukouType"));

    // A line for another agency, a not-shared field, a broken line: refused, naming the line.
    let update = "mutation($id: ID!, $t: String!) { updateDraft(id: $id, text: $t) { id } }";
    let foreign =
        format!("{text}p, caseworker, D-HEALTH, subsidy_review, Resident.name, read, -, x\n");
    let v = admin(&hub, CIVIL_EDITOR, update, json!({"id": id, "t": foreign})).await;
    assert_eq!(code(&v), "OTHER_DEPARTMENT", "{v}");
    let forbidden = format!(
        "{text}p, caseworker, D-CIVIL_AFFAIRS, subsidy_review, Grid.gridWorker, read, -, x\n"
    );
    let v = admin(
        &hub,
        CIVIL_EDITOR,
        update,
        json!({"id": id, "t": forbidden}),
    )
    .await;
    assert_eq!(code(&v), "SHARE_CLASS_FORBIDS", "{v}");
    let broken = format!(
        "{text}p, caseworker, D-CIVIL_AFFAIRS, subsidy_review, Resident.nope, read, -, x\n"
    );
    let v = admin(&hub, CIVIL_EDITOR, update, json!({"id": id, "t": broken})).await;
    assert_eq!(code(&v), "INVALID_POLICY", "{v}");
    let lines = text.lines().count();
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("civil-affairs.csv:{}", lines + 1)),
        "names file and line: {v}"
    );

    // Revoke hukouType from the caseworker, propose, see the effect in plain terms.
    let revoke = "mutation($id: ID!) { revokeLine(id: $id, object: \"Resident.hukouType\", role: \"caseworker\", purpose: \"subsidy_review\") { id } }";
    ok(&admin(&hub, CIVIL_EDITOR, revoke, json!({"id": id})).await);
    ok(&admin(
        &hub,
        CIVIL_EDITOR,
        "mutation($id: ID!) { proposeDraft(id: $id) { state } }",
        json!({"id": id}),
    )
    .await);
    let d = ok(&admin(&hub, CIVIL_APPROVER, "query($id: ID!) { draft(id: $id) { state lines { added removed } changes { kind agency role purpose object before after } } }", json!({"id": id})).await).clone();
    assert_eq!(d["draft"]["state"], "PROPOSED");
    assert_eq!(
        d["draft"]["lines"]["removed"].as_array().unwrap().len(),
        1,
        "{d}"
    );
    let changes = d["draft"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{d}");
    assert_eq!(changes[0]["kind"], "LOSES_FIELD");
    assert_eq!(changes[0]["object"], "Resident.hukouType");
    assert_eq!(changes[0]["before"], "read");

    // How many residents of the current data the change touches: those the
    // caseworker's rows reach (compared with the data API's own count).
    let v = ok(&admin(
        &hub,
        CIVIL_APPROVER,
        "query($id: ID!) { draft(id: $id) { changes { object residentsTouched } } }",
        json!({"id": id}),
    )
    .await)
    .clone();
    let touched = v["draft"]["changes"][0]["residentsTouched"]
        .as_i64()
        .expect("counted");
    let direct: Value = hub
        .post_as(
            CASEWORKER,
            "subsidy_review",
            "CASE-ADMIN-1",
            "{ residents(first: 1) { totalCount } }",
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        touched,
        direct["data"]["residents"]["totalCount"].as_i64().unwrap(),
        "{v}"
    );
    assert!(touched > 0);

    // Preview as the caseworker under the draft: hukouType is gone there, the
    // rest is answered (and audited as the agency's read, naming the preview).
    let preview = "query($id: ID!, $q: String!) { preview(draftId: $id, agency: \"D-CIVIL_AFFAIRS\", role: \"caseworker\", purpose: \"subsidy_review\", query: $q) }";
    let v = ok(&admin(
        &hub,
        CIVIL_EDITOR,
        preview,
        json!({"id": id, "q": RESIDENTS}),
    )
    .await)
    .clone();
    assert_eq!(
        v["preview"]["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{v}"
    );
    let v = ok(&admin(
        &hub,
        CIVIL_EDITOR,
        preview,
        json!({"id": id, "q": "{ residents(first: 2) { edges { node { id name } } } }"}),
    )
    .await)
    .clone();
    assert_eq!(
        v["preview"]["data"]["residents"]["edges"], "‹withheld›",
        "{v}"
    );
    assert!(v["preview"].get("errors").is_none(), "{v}");
    let recorded = hub.reference("MATCH (a:AuditRecord {officer: 'preview:system:admin-2', caseNumber: $case}) WHERE size(a.residents) = 2 RETURN a.agency AS id", json!({"case": format!("PREVIEW:{id}")})).await;
    assert_eq!(recorded.len(), 1, "the preview's read is recorded");
    // Still in force: the caseworker itself sees hukouType until approval.
    assert_eq!(
        data_code(&hub, CASEWORKER, "subsidy_review", RESIDENTS).await,
        None
    );
    let v = admin(
        &hub,
        HEALTH_EDITOR,
        preview,
        json!({"id": id, "q": RESIDENTS}),
    )
    .await;
    assert_eq!(code(&v), "OTHER_DEPARTMENT");

    // Two-person rule: the author may not approve (even holding the role).
    let approve =
        "mutation($id: ID!) { approveDraft(id: $id, note: \"ok\") { number author approver } }";
    let v = admin(&hub, CIVIL_EDITOR, approve, json!({"id": id})).await;
    assert_eq!(code(&v), "ROLE_REQUIRED", "{v}");
    let v = ok(&admin(&hub, CIVIL_APPROVER, approve, json!({"id": id})).await).clone();
    assert_eq!(v["approveDraft"]["number"], 2);
    assert_eq!(v["approveDraft"]["approver"], "system:admin-3");
    let took = until(async || {
        data_code(&hub, CASEWORKER, "subsidy_review", RESIDENTS)
            .await
            .as_deref()
            == Some("GRAPHQL_VALIDATION_FAILED")
    })
    .await;
    println!("revocation in force on the same instance after {took:?}");
    let v = admin(&hub, CIVIL_APPROVER, approve, json!({"id": id})).await;
    assert_eq!(code(&v), "STATE_CONFLICT");

    // Explain.
    let v = ok(&admin(&hub, ADMIN, "{ a: explain(agency: \"D-CIVIL_AFFAIRS\", purpose: \"subsidy_review\", object: \"Resident.name\") { allowed access lines { file line } } b: explain(agency: \"D-CIVIL_AFFAIRS\", purpose: \"subsidy_review\", object: \"Grid.gridWorker\") { allowed reason } }", json!({})).await).clone();
    assert_eq!(v["a"]["allowed"], true);
    assert!(v["a"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["file"] == "civil-affairs.csv"));
    assert_eq!(v["b"]["allowed"], false);
    assert!(
        v["b"]["reason"].as_str().unwrap().contains("不予共享"),
        "{v}"
    );

    // The matrix of the lists in force lacks hukouType; that of version 1 has it.
    let cells = "query($v: Int) { matrix(agency: \"D-CIVIL_AFFAIRS\", purpose: \"subsidy_review\", version: $v) { role object access } }";
    let hukou = |v: &Value| {
        v["matrix"].as_array().unwrap().iter().any(|c| {
            c["role"] == "caseworker"
                && c["object"] == "Resident.hukouType"
                && c["access"] != "NONE"
        })
    };
    let now = ok(&admin(&hub, ADMIN, cells, json!({})).await).clone();
    assert!(!hukou(&now), "{now}");
    let then = ok(&admin(&hub, ADMIN, cells, json!({"v": 1})).await).clone();
    assert!(hukou(&then), "{then}");
    let v = admin(&hub, ADMIN, cells, json!({"v": 99})).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");

    // Rollback to version 1: hukouType is back.
    let v = ok(&admin(
        &hub,
        ADMIN,
        "mutation { rollback(toVersion: 1, reason: \"restore\") { number rollbackOf } }",
        json!({}),
    )
    .await)
    .clone();
    assert_eq!(v["rollback"]["number"], 3);
    assert_eq!(v["rollback"]["rollbackOf"], 1);
    until(async || {
        data_code(&hub, CASEWORKER, "subsidy_review", RESIDENTS)
            .await
            .is_none()
    })
    .await;
    let v = ok(&admin(&hub, ADMIN, "{ versions { number current } }", json!({})).await).clone();
    assert_eq!(v["versions"].as_array().unwrap().len(), 3);

    // A sharing application: health asks public security for ethnicity.
    assert_eq!(
        data_code(&hub, HEALTH, "elderly_health_service", ETHNICITY)
            .await
            .as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED")
    );
    let apply = "mutation($f: [String!]!) { applyForSharing(role: \"health_officer\", purpose: \"elderly_health_service\", fields: $f, basis: \"《基本医疗卫生与健康促进法》第36条\", scope: \"-\", durationDays: 1) { id owner state acknowledgeBy answerBy overdue } }";
    let v = admin(
        &hub,
        HEALTH_EDITOR,
        apply,
        json!({"f": ["Grid.gridWorker"]}),
    )
    .await;
    assert_eq!(code(&v), "SHARE_CLASS_FORBIDS", "{v}");
    let a = ok(&admin(
        &hub,
        HEALTH_EDITOR,
        apply,
        json!({"f": ["Resident.ethnicity"]}),
    )
    .await)
    .clone();
    let app_id = a["applyForSharing"]["id"].as_str().unwrap().to_string();
    assert_eq!(a["applyForSharing"]["owner"], "PUBLIC_SECURITY");
    assert_eq!(a["applyForSharing"]["overdue"], false);
    let answer = "mutation($id: ID!) { answerApplication(id: $id, approve: true, reasons: \"法定职责所需\") { state grantId } }";
    let v = admin(&hub, CIVIL_APPROVER, answer, json!({"id": app_id})).await;
    assert_eq!(code(&v), "ROLE_REQUIRED");
    ok(&admin(
        &hub,
        PS_STEWARD,
        "mutation($id: ID!) { acknowledgeApplication(id: $id) { state } }",
        json!({"id": app_id}),
    )
    .await);
    let v = ok(&admin(&hub, PS_STEWARD, answer, json!({"id": app_id})).await).clone();
    assert_eq!(v["answerApplication"]["state"], "APPROVED");
    until(async || {
        data_code(&hub, HEALTH, "elderly_health_service", ETHNICITY)
            .await
            .is_none()
    })
    .await;

    // A second application left unanswered becomes overdue as the clock passes its deadlines.
    let late = ok(&admin(
        &hub,
        HEALTH_EDITOR,
        apply,
        json!({"f": ["Resident.hukouType"]}),
    )
    .await)
    .clone();
    let late_id = late["applyForSharing"]["id"].as_str().unwrap().to_string();

    // The clock moves two days: the grant expires by itself, and the expiry is recorded.
    set_clock(&hub, 172_800).await;
    until(async || {
        data_code(&hub, HEALTH, "elderly_health_service", ETHNICITY)
            .await
            .as_deref()
            == Some("GRAPHQL_VALIDATION_FAILED")
    })
    .await;
    until(async || {
        !hub.reference(
            "MATCH (a:AuditRecord {action: 'grant.expire'}) RETURN a.target AS t",
            json!({}),
        )
        .await
        .is_empty()
    })
    .await;
    // Ten more days: the unanswered application is overdue, on the API and in /metrics.
    set_clock(&hub, 1_036_800).await;
    let v = ok(&admin(
        &hub,
        PS_STEWARD,
        "{ applications { id overdue state } }",
        json!({}),
    )
    .await)
    .clone();
    let overdue = with_id(&v["applications"], &late_id);
    assert_eq!(overdue["overdue"], true, "{v}");
    until(async || hub.metric("mandate_sharing_applications_overdue").await >= 1).await;

    // Break-glass: at most 72 hours; review stays overdue until another approver signs off.
    let glass = "mutation($h: Int!) { breakGlass(agency: \"D-HEALTH\", role: \"health_officer\", purpose: \"elderly_health_service\", fields: [\"Resident.ethnicity\"], incident: \"INC-7 flood evacuation\", hours: $h) { id expiresAt reviewDueAt } }";
    let v = admin(&hub, ADMIN, glass, json!({"h": 73})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let v = admin(&hub, CIVIL_APPROVER, glass, json!({"h": 2})).await;
    assert_eq!(code(&v), "ROLE_REQUIRED");
    let g = ok(&admin(&hub, ADMIN, glass, json!({"h": 2})).await).clone();
    let gid = g["breakGlass"]["id"].as_str().unwrap().to_string();
    until(async || {
        data_code(&hub, HEALTH, "elderly_health_service", ETHNICITY)
            .await
            .is_none()
    })
    .await;
    set_clock(&hub, 1_047_600).await;
    until(async || {
        data_code(&hub, HEALTH, "elderly_health_service", ETHNICITY)
            .await
            .as_deref()
            == Some("GRAPHQL_VALIDATION_FAILED")
    })
    .await;
    let v = ok(&admin(
        &hub,
        ADMIN,
        "{ grants(activeOnly: false) { id reviewOverdue expired } }",
        json!({}),
    )
    .await)
    .clone();
    let grant = with_id(&v["grants"], &gid);
    assert_eq!(grant["reviewOverdue"], true, "{v}");
    assert_eq!(grant["expired"], true);
    let sign = "mutation($id: ID!) { signOffReview(grantId: $id, note: \"necessary and proportionate\") { reviewedBy reviewOverdue } }";
    let v = admin(&hub, ADMIN, sign, json!({"id": gid})).await;
    assert_eq!(code(&v), "TWO_PERSON_RULE");
    let v = ok(&admin(&hub, CIVIL_APPROVER, sign, json!({"id": gid})).await).clone();
    assert_eq!(v["signOffReview"]["reviewOverdue"], false);

    // Every action and refusal is in the hash chain, which verifies.
    let actions: Vec<String> = hub
        .reference(
            "MATCH (a:AuditRecord) WHERE a.action IS NOT NULL RETURN DISTINCT a.action AS id",
            json!({}),
        )
        .await
        .into_iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    for a in [
        "policy.bootstrap",
        "policy.draft",
        "policy.edit",
        "policy.propose",
        "policy.approve",
        "policy.rollback",
        "sharing.apply",
        "sharing.acknowledge",
        "sharing.approve",
        "grant.expire",
        "grant.break_glass",
        "grant.review",
        "clock.set",
    ] {
        assert!(
            actions.contains(&a.to_string()),
            "{a} recorded: {actions:?}"
        );
    }
    let refused = hub.reference("MATCH (a:AuditRecord {action: 'policy.approve', decision: 'rejected'}) RETURN a.code AS id", json!({})).await;
    assert!(!refused.is_empty(), "refusals recorded");
    // Expiries are recorded in the background: wait until none is pending.
    until(async || {
        hub.reference(
            "MATCH (g:PolicyGrant) WHERE g.body CONTAINS '\"expiryRecorded\":false' RETURN g.id AS id",
            json!({}),
        )
        .await
        .is_empty()
    })
    .await;
    let chain = hub.hub.config.audit.chain.clone();
    assert!(hub.intact_chain(&chain).await > 20);
    // The audit search answers auditors.
    let v = ok(&admin(&hub, ADMIN, "{ auditLog(agency: \"D-CIVIL_AFFAIRS\", first: 5) { agency action decision } readsPerDay(days: 30) { agency day reads } }", json!({})).await).clone();
    assert_eq!(v["auditLog"].as_array().unwrap().len(), 5);
    let v = admin(&hub, HEALTH_EDITOR, "{ auditLog { agency } }", json!({})).await;
    assert_eq!(code(&v), "ROLE_REQUIRED");
    set_clock(&hub, 0).await;
}

/// A hub on a policy store emptied first (the folder imported as version 1).
async fn fresh_hub(setup: &Hubs) -> TestHub {
    {
        let probe = TestHub::start_with(test_config()).await;
        clean_store(&probe).await;
    }
    TestHub::start_with(setup.config.clone()).await
}

/// A new draft of `department` by `key`; its id and text.
async fn new_draft(hub: &TestHub, key: &str, department: &str) -> (String, String) {
    let d = ok(&admin(
        hub,
        key,
        "mutation($d: String!) { createDraft(department: $d, reason: \"r\", basis: \"b\") { id text } }",
        json!({"d": department}),
    )
    .await)
    .clone();
    (
        d["createDraft"]["id"].as_str().unwrap().to_string(),
        d["createDraft"]["text"].as_str().unwrap().to_string(),
    )
}

/// Audit records of this hub's chain by `officer` for `action`: `decision code target`.
async fn records_of(hub: &TestHub, officer: &str, action: &str) -> Vec<String> {
    hub.reference(
        "MATCH (a:AuditRecord {chain: $chain, officer: $officer, action: $action}) RETURN a.decision + ' ' + a.code + ' ' + a.target AS id ORDER BY a.seq",
        json!({"chain": hub.hub.config.audit.chain, "officer": officer, "action": action}),
    )
    .await
    .into_iter()
    .map(|r| r["id"].as_str().unwrap().to_string())
    .collect()
}

const PREVIEW: &str = "query($id: ID!, $a: String!, $r: String!, $p: String!, $q: String!) { preview(draftId: $id, agency: $a, role: $r, purpose: $p, query: $q) }";

/// F1: a preview runs as the draft's own department only, of a draft still
/// open, reads only, asks about no resident in particular, and shows the
/// shape of the answer with every value withheld.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_shows_the_drafts_department_the_shape_and_no_resident_data() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    let hub = fresh_hub(&setup).await;
    let (id, _) = new_draft(&hub, CIVIL_EDITOR, "D-CIVIL_AFFAIRS").await;
    let preview = |key: &'static str,
                   agency: &'static str,
                   role: &'static str,
                   purpose: &'static str,
                   q: &'static str| {
        let (hub, id) = (&hub, id.clone());
        async move {
            admin(
                hub,
                key,
                PREVIEW,
                json!({"id": id, "a": agency, "r": role, "p": purpose, "q": q}),
            )
            .await
        }
    };
    let whole = "{ resident(id: \"R00000042\") { name idNumber phone birthDate } }";
    // Another agency, by the editor or the approver of the draft's department: refused.
    for key in [CIVIL_EDITOR, CIVIL_APPROVER, ADMIN] {
        let v = preview(
            key,
            "D-PUBLIC_SECURITY",
            "officer",
            "household_registration",
            "{ residents(first: 2) { totalCount } }",
        )
        .await;
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "OTHER_DEPARTMENT",
            "{key}: {v}"
        );
    }
    // A mutation never runs, nor a subscription; a lookup by id or a filter is refused.
    let write = "mutation { updateResident(id: \"R00000001\", expect: {phone: \"1\"}, set: {phone: \"1\"}) { id updated } }";
    for q in [
        write,
        "subscription { residents { totalCount } }",
        whole,
        "{ residents(where: { idNumber: \"340104199603102314\" }) { totalCount } }",
        "{ residents(first: 1) { edges { node { totalCount: name } } } }",
        "{ residents(first: 1, orderBy: [{ id: ASC }]) { totalCount } }",
    ] {
        let v = preview(
            CIVIL_EDITOR,
            "D-CIVIL_AFFAIRS",
            "caseworker",
            "subsidy_review",
            q,
        )
        .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{q}: {v}");
    }
    // As the department itself: the root count, everything else withheld —
    // no rows, nulls, list lengths or order that could tell residents apart.
    let v = ok(&preview(
        CIVIL_APPROVER,
        "D-CIVIL_AFFAIRS",
        "caseworker",
        "subsidy_review",
        "{ residents(first: 2) { totalCount __typename edges { node { id name } } } }",
    )
    .await)
    .clone();
    let residents = &v["preview"]["data"]["residents"];
    assert!(residents["totalCount"].as_i64().unwrap() > 0, "{v}");
    assert_eq!(residents["__typename"], "ResidentConnection", "{v}");
    assert_eq!(residents["edges"], "‹withheld›", "{v}");
    assert!(v["preview"].get("errors").is_none(), "{v}");
    // Refused fields still say so.
    let v = ok(&preview(
        CIVIL_EDITOR,
        "D-CIVIL_AFFAIRS",
        "caseworker",
        "subsidy_review",
        "{ residents(first: 1) { edges { node { nope } } } }",
    )
    .await)
    .clone();
    assert_eq!(
        v["preview"]["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{v}"
    );
    // A withdrawn draft is not previewed.
    ok(&admin(
        &hub,
        CIVIL_EDITOR,
        "mutation($id: ID!) { withdrawDraft(id: $id) { state } }",
        json!({"id": id}),
    )
    .await);
    let v = preview(
        CIVIL_APPROVER,
        "D-CIVIL_AFFAIRS",
        "caseworker",
        "subsidy_review",
        "{ residents(first: 2) { totalCount } }",
    )
    .await;
    assert_eq!(code(&v), "STATE_CONFLICT", "{v}");
    // Nothing was written, and the refusals are recorded.
    let v = hub
        .reference(
            "MATCH (a:AuditRecord {chain: $chain, action: 'data.update'}) RETURN a.seq AS id",
            json!({"chain": hub.hub.config.audit.chain}),
        )
        .await;
    assert!(v.is_empty(), "{v:?}");
    let refused = records_of(&hub, "system:admin-2", "policy.preview").await;
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("rejected OTHER_DEPARTMENT")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("rejected BAD_USER_INPUT")),
        "{refused:?}"
    );
}

/// F2: an agency whose id maps to another agency's file name gets a file of
/// its own, and a draft never replaces a file holding another agency's lines
/// (a draft saved before the fix with such a name is refused at every step).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_never_replaces_another_agencys_list() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    let hub = fresh_hub(&setup).await;
    let (id, text) = new_draft(&hub, LOOKALIKE_EDITOR, "D-CIVIL-AFFAIRS").await;
    assert_eq!(text, "");
    let d = ok(&admin(
        &hub,
        LOOKALIKE_EDITOR,
        "query($id: ID!) { draft(id: $id) { file } }",
        json!({"id": id}),
    )
    .await)
    .clone();
    let file = d["draft"]["file"].as_str().unwrap().to_string();
    assert_ne!(file, "civil-affairs.csv", "{d}");
    let update = "mutation($id: ID!, $t: String!) { updateDraft(id: $id, text: $t) { id } }";
    ok(&admin(
        &hub,
        LOOKALIKE_EDITOR,
        update,
        json!({"id": id, "t": "# lookalike\n"}),
    )
    .await);
    let d = ok(&admin(
        &hub,
        LOOKALIKE_EDITOR,
        "query($id: ID!) { draft(id: $id) { lines { removed } changes { agency } } }",
        json!({"id": id}),
    )
    .await)
    .clone();
    assert_eq!(d["draft"]["lines"]["removed"], json!([]), "{d}");
    assert_eq!(d["draft"]["changes"], json!([]), "{d}");

    // A draft whose file is civil affairs' list (as the old naming made it).
    hub.write(
        "MATCH (d:PolicyDraft {id: $id}) SET d.body = replace(replace(d.body, $from, 'civil-affairs.csv'), '\"EDITING\"', '\"PROPOSED\"')",
        json!({"id": id, "from": file}),
    )
    .await;
    let d = ok(&admin(
        &hub,
        LOOKALIKE_EDITOR,
        "query($id: ID!) { draft(id: $id) { file state } }",
        json!({"id": id}),
    )
    .await)
    .clone();
    assert_eq!(d["draft"]["file"], "civil-affairs.csv", "{d}");
    for (key, query) in [
        (
            LOOKALIKE_APPROVER,
            "mutation($id: ID!) { approveDraft(id: $id) { number } }",
        ),
        (
            LOOKALIKE_EDITOR,
            "query($id: ID!) { draft(id: $id) { changes { agency } } }",
        ),
        (
            LOOKALIKE_EDITOR,
            "query($id: ID!) { draft(id: $id) { lines { removed } } }",
        ),
        (
            ADMIN,
            "query($id: ID!) { matrix(agency: \"D-CIVIL_AFFAIRS\", draftId: $id) { object } }",
        ),
    ] {
        let v = admin(&hub, key, query, json!({"id": id})).await;
        assert_eq!(code(&v), "OTHER_DEPARTMENT", "{query}: {v}");
    }
    let v = ok(&admin(&hub, ADMIN, "{ version { number } }", json!({})).await).clone();
    assert_eq!(v["version"]["number"], 1, "nothing published: {v}");
}

/// F7: whoever changed a draft's text may not approve it; a rollback is
/// recorded as one approver's emergency republication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_of_a_draft_may_not_approve_it_and_a_rollback_says_it_is_one_persons() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    let hub = fresh_hub(&setup).await;
    let (id, _) = new_draft(&hub, CIVIL_EDITOR, "D-CIVIL_AFFAIRS").await;
    // The chief rewrites the editor's draft; the editor proposes it.
    ok(&admin(
        &hub,
        CIVIL_CHIEF,
        "mutation($id: ID!) { revokeLine(id: $id, object: \"Resident.hukouType\", role: \"caseworker\", purpose: \"subsidy_review\") { id } }",
        json!({"id": id}),
    )
    .await);
    ok(&admin(
        &hub,
        CIVIL_EDITOR,
        "mutation($id: ID!) { proposeDraft(id: $id) { state } }",
        json!({"id": id}),
    )
    .await);
    let d = ok(&admin(
        &hub,
        CIVIL_APPROVER,
        "query($id: ID!) { draft(id: $id) { author editors } }",
        json!({"id": id}),
    )
    .await)
    .clone();
    assert_eq!(
        d["draft"]["editors"],
        json!(["system:admin-2", "system:admin-7"]),
        "{d}"
    );
    let approve =
        "mutation($id: ID!) { approveDraft(id: $id) { number author approver twoPerson } }";
    let v = admin(&hub, CIVIL_CHIEF, approve, json!({"id": id})).await;
    assert_eq!(code(&v), "TWO_PERSON_RULE", "{v}");
    let v = ok(&admin(&hub, CIVIL_APPROVER, approve, json!({"id": id})).await).clone();
    assert_eq!(v["approveDraft"]["twoPerson"], true, "{v}");
    // A rollback: one approver, and the version says so.
    let v = ok(&admin(
        &hub,
        CIVIL_APPROVER,
        "mutation { rollback(toVersion: 1, reason: \"restore\") { number author approver basis rollbackOf twoPerson } }",
        json!({}),
    )
    .await)
    .clone();
    assert_eq!(v["rollback"]["twoPerson"], false, "{v}");
    assert_eq!(v["rollback"]["rollbackOf"], 1, "{v}");
    assert!(
        v["rollback"]["basis"]
            .as_str()
            .unwrap()
            .starts_with("emergency rollback by one approver"),
        "{v}"
    );
}

/// F13: a list may not grant data to an officer role (nor let a role inherit one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_may_not_name_an_officer_role() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    let hub = fresh_hub(&setup).await;
    let (id, text) = new_draft(&hub, CIVIL_EDITOR, "D-CIVIL_AFFAIRS").await;
    let lines = text.lines().count();
    let update = "mutation($id: ID!, $t: String!) { updateDraft(id: $id, text: $t) { id } }";
    for (line, role) in [
        (
            "p, platform_admin, D-CIVIL_AFFAIRS, subsidy_review, Building, rows, all, x",
            "platform_admin",
        ),
        (
            "g, caseworker, policy_approver, D-CIVIL_AFFAIRS",
            "policy_approver",
        ),
    ] {
        let v = admin(
            &hub,
            CIVIL_EDITOR,
            update,
            json!({"id": id, "t": format!("{text}{line}\n")}),
        )
        .await;
        assert_eq!(code(&v), "INVALID_POLICY", "{line}: {v}");
        let message = v["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("civil-affairs.csv:{}", lines + 1))
                && message.contains(&format!("`{role}` is an officer role")),
            "names file, line and role: {v}"
        );
    }
}

/// F5: a query refused for a missing role leaves a record as a refused
/// mutation does, and every read of the audit log or of receipts is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_query_refusals_and_audit_reads_are_recorded() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    let hub = fresh_hub(&setup).await;
    let (id, _) = new_draft(&hub, CIVIL_EDITOR, "D-CIVIL_AFFAIRS").await;
    // Refused for a missing role: the audit log, receipts, a preview.
    let v = admin(&hub, HEALTH_EDITOR, "{ auditLog { agency } }", json!({})).await;
    assert_eq!(code(&v), "ROLE_REQUIRED");
    let v = admin(&hub, HEALTH_EDITOR, "{ readsPerDay { reads } }", json!({})).await;
    assert_eq!(code(&v), "ROLE_REQUIRED");
    let receipts = "{ receipts(residentId: \"R00000042\") { agency } }";
    let v = admin(&hub, HEALTH_EDITOR, receipts, json!({})).await;
    assert_eq!(code(&v), "ROLE_REQUIRED");
    let v = admin(
        &hub,
        PS_STEWARD,
        PREVIEW,
        json!({"id": id, "a": "D-CIVIL_AFFAIRS", "r": "caseworker", "p": "subsidy_review", "q": "{ residents { totalCount } }"}),
    )
    .await;
    assert_eq!(code(&v), "ROLE_REQUIRED");
    assert_eq!(
        records_of(&hub, "system:admin-4", "audit.search").await,
        vec![
            "rejected ROLE_REQUIRED all",
            "rejected ROLE_REQUIRED reads_per_day:14"
        ]
    );
    assert_eq!(
        records_of(&hub, "system:admin-4", "receipts.read").await,
        vec!["rejected ROLE_REQUIRED resident:R00000042"]
    );
    assert_eq!(
        records_of(&hub, "system:admin-5", "policy.preview").await,
        vec![format!("rejected ROLE_REQUIRED draft:{id}")]
    );
    // Answered reads of the audit log and of receipts are recorded too.
    ok(&admin(&hub, RESIDENT_SERVICE, receipts, json!({})).await);
    ok(&admin(
        &hub,
        ADMIN,
        "{ auditLog(resident: \"R00000042\", first: 5) { agency } }",
        json!({}),
    )
    .await);
    assert_eq!(
        records_of(&hub, "system:admin-10", "receipts.read").await,
        vec!["allowed  resident:R00000042"]
    );
    assert_eq!(
        records_of(&hub, "system:admin-6", "audit.search").await,
        vec!["allowed  resident:R00000042"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_need_their_csrf_token_and_a_second_instance_follows_within_a_second() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    {
        let probe = TestHub::start_with(test_config()).await;
        clean_store(&probe).await;
    }
    let a = TestHub::start_with(setup.config.clone()).await;
    let mut second = setup.config.clone();
    second.audit.chain = format!("{}-b", second.audit.chain);
    let b = TestHub::start_with(second).await;

    // A session from an officer's credential; a data credential is refused.
    let resp = a
        .client
        .post(a.url("/console/session"))
        .json(&json!({"credential": CASEWORKER}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = a
        .client
        .post(a.url("/console/session"))
        .json(&json!({"credential": CIVIL_EDITOR}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let session: Value = resp.json().await.unwrap();
    let csrf = session["csrf"].as_str().unwrap();
    let me = |csrf: Option<&str>| {
        let mut r = a
            .client
            .post(a.url("/admin/graphql"))
            .header("cookie", &cookie)
            .json(&json!({"query": "{ me { officer roles } }"}));
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.send()
    };
    let v: Value = me(None).await.unwrap().json().await.unwrap();
    assert_eq!(code(&v), "CSRF_REJECTED");
    let v: Value = me(Some("forged")).await.unwrap().json().await.unwrap();
    assert_eq!(code(&v), "CSRF_REJECTED");
    let v: Value = me(Some(csrf)).await.unwrap().json().await.unwrap();
    assert_eq!(ok(&v)["me"]["roles"], json!(["policy_editor"]));
    let tampered = format!("{}x", &cookie);
    let v: Value = a
        .client
        .post(a.url("/admin/graphql"))
        .header("cookie", tampered)
        .header("x-csrf-token", csrf)
        .json(&json!({"query": "{ me { officer } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&v), "SESSION_EXPIRED");

    // Publish on A; measure when B (another hub on the same Neo4j) enforces it.
    assert_eq!(
        data_code(&b, CASEWORKER, "subsidy_review", RESIDENTS).await,
        None
    );
    let d = ok(&admin(&a, CIVIL_EDITOR, "mutation { createDraft(department: \"D-CIVIL_AFFAIRS\", reason: \"r\", basis: \"b\") { id } }", json!({})).await).clone();
    let id = d["createDraft"]["id"].as_str().unwrap().to_string();
    ok(&admin(&a, CIVIL_EDITOR, "mutation($id: ID!) { revokeLine(id: $id, object: \"Resident.hukouType\", role: \"caseworker\", purpose: \"subsidy_review\") { id } }", json!({"id": id})).await);
    ok(&admin(
        &a,
        CIVIL_EDITOR,
        "mutation($id: ID!) { proposeDraft(id: $id) { id } }",
        json!({"id": id}),
    )
    .await);
    let published = Instant::now();
    ok(&admin(
        &a,
        CIVIL_APPROVER,
        "mutation($id: ID!) { approveDraft(id: $id) { number } }",
        json!({"id": id}),
    )
    .await);
    let approve_took = published.elapsed();
    let took = until(async || {
        data_code(&b, CASEWORKER, "subsidy_review", RESIDENTS)
            .await
            .as_deref()
            == Some("GRAPHQL_VALIDATION_FAILED")
    })
    .await
        + approve_took;
    println!("publish-to-effect on the second instance: {took:?} (approve call {approve_took:?})");
    // How fast is measured by bench/policy-propagation (release build); here: it happens.
}

fn mandate_cli(config: &mandate::Config, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
        .args(args)
        .env("NEO4J_URI", &config.neo4j.uri)
        .env("NEO4J_PASSWORD", &config.neo4j.password)
        .env("MANDATE__POLICIES__DIR", &config.policies.dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_a_bad_file_whole_and_export_is_byte_stable() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    let probe = TestHub::start_with(test_config()).await;
    clean_store(&probe).await;
    let hub = TestHub::start_with(setup.config.clone()).await;
    let dir = std::path::PathBuf::from(&setup.config.policies.dir);

    // Export version 1: the files, byte for byte.
    let out = dir.parent().unwrap().join("exported");
    let o = mandate_cli(
        &setup.config,
        &["policy", "export", "--out", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for entry in std::fs::read_dir(dir.join("lists")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(out.join("lists").join(name)).unwrap(),
            "{name:?} byte-stable"
        );
    }

    // A changed file and a broken one: refused whole, naming file and line; nothing written.
    let edited = dir.parent().unwrap().join("edited");
    copy_policies(&dir, &edited);
    let civil = edited.join("lists/civil-affairs.csv");
    let text = std::fs::read_to_string(&civil).unwrap();
    std::fs::write(&civil, text.replace("p, caseworker, D-CIVIL_AFFAIRS, subsidy_review, Resident.hukouType, read, -, 《社会救助暂行办法》第11条 最低生活保障审核\n", "")).unwrap();
    let health = edited.join("lists/health.csv");
    let good_health = std::fs::read_to_string(&health).unwrap();
    std::fs::write(&health, format!("{good_health}p, health_officer, D-HEALTH, elderly_health_service, Resident.nope, read, -, x\n")).unwrap();
    let args = [
        "policy",
        "import",
        "--dir",
        edited.to_str().unwrap(),
        "--officer",
        "civil-editor",
        "--reason",
        "r",
        "--basis",
        "b",
    ];
    let o = mandate_cli(&setup.config, &args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("health.csv:{}", good_health.lines().count() + 1))
            && err.contains("INVALID_POLICY"),
        "{err}"
    );
    assert!(
        hub.reference("MATCH (d:PolicyDraft) RETURN d.id AS id", json!({}))
            .await
            .is_empty(),
        "nothing half-imported"
    );

    // Mended: the one changed file becomes a proposed draft of its agency.
    std::fs::write(&health, good_health).unwrap();
    let o = mandate_cli(&setup.config, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("civil-affairs.csv: proposed as draft"));
    let v = ok(&admin(
        &hub,
        CIVIL_APPROVER,
        "{ drafts(state: PROPOSED) { department author changes { kind object } } }",
        json!({}),
    )
    .await)
    .clone();
    let drafts = v["drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 1, "{v}");
    assert_eq!(drafts[0]["department"], "D-CIVIL_AFFAIRS");
    assert_eq!(drafts[0]["changes"][0]["object"], "Resident.hukouType");
}

/// `mandate serve` as a child process on the test Neo4j, in store mode.
struct Served {
    child: std::process::Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_process(config: &mandate::Config, chain: &str) -> Served {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NEO4J_URI", &config.neo4j.uri)
        .env("NEO4J_PASSWORD", &config.neo4j.password)
        .env("MANDATE__SERVER__LISTEN", "127.0.0.1:0")
        .env("MANDATE__CURSORS__SECRET", "test-secret")
        .env("MANDATE__POLICIES__DIR", &config.policies.dir)
        .env("MANDATE__POLICIES__SOURCE", "store")
        .env("MANDATE__AUTH__API_KEYS_FILE", &config.auth.api_keys_file)
        .env("MANDATE__AUDIT__CHAIN", chain)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.strip_prefix("mandate is serving GraphQL at ") {
                let _ = tx.send(rest.trim_end_matches("/graphql").to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("mandate serve starts");
    Served { child, base }
}

/// Two `mandate serve` processes on one Neo4j: a version published through one
/// is in force on the other without restart (the time is printed; bench
/// numbers are in BENCHMARKS.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_through_one_process_is_in_force_in_another() {
    let _one = STORE.lock().await;
    let setup = setup().await;
    let probe = TestHub::start_with(test_config()).await;
    clean_store(&probe).await;
    let a = serve_process(&setup.config, "admin-proc-a");
    let b = serve_process(&setup.config, "admin-proc-b");
    let client = reqwest::Client::new();
    let post = |base: &str, path: &str, key: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .header("x-api-key", key)
            .header("x-mandate-purpose", "subsidy_review")
            .header("x-mandate-case", "CASE-PROC-1")
            .json(&body)
            .send()
    };
    let on_b = async || -> Option<String> {
        let v: Value = post(&b.base, "/graphql", CASEWORKER, json!({"query": RESIDENTS}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(on_b().await, None);
    let gql = async |key: &str, query: &str, variables: Value| -> Value {
        let v: Value = post(
            &a.base,
            "/admin/graphql",
            key,
            json!({"query": query, "variables": variables}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        ok(&v).clone()
    };
    let d = gql(CIVIL_EDITOR, "mutation { createDraft(department: \"D-CIVIL_AFFAIRS\", reason: \"r\", basis: \"b\") { id } }", json!({})).await;
    let id = d["createDraft"]["id"].as_str().unwrap().to_string();
    gql(CIVIL_EDITOR, "mutation($id: ID!) { revokeLine(id: $id, object: \"Resident.hukouType\", role: \"caseworker\", purpose: \"subsidy_review\") { id } }", json!({"id": id})).await;
    gql(
        CIVIL_EDITOR,
        "mutation($id: ID!) { proposeDraft(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    let started = Instant::now();
    gql(
        CIVIL_APPROVER,
        "mutation($id: ID!) { approveDraft(id: $id) { number } }",
        json!({"id": id}),
    )
    .await;
    let published = started.elapsed();
    let took = until(async || on_b().await.as_deref() == Some("GRAPHQL_VALIDATION_FAILED")).await
        + published;
    println!(
        "publish-to-effect across processes: {took:?} (the approving call itself {published:?})"
    );
    // And back: a rollback through B is in force on A.
    let v: Value = post(
        &b.base,
        "/admin/graphql",
        ADMIN,
        json!({"query": "mutation { rollback(toVersion: 1, reason: \"restore\") { number } }"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    ok(&v);
    until(async || {
        let v: Value = post(&a.base, "/graphql", CASEWORKER, json!({"query": RESIDENTS}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.get("errors").is_none()
    })
    .await;
}

/// The real policy store, whose head reads wait at a gate once it is closed:
/// a poll that read the head just before an officer moved the clock.
struct GatedStore {
    inner: mandate_connectors::Neo4jStore,
    gate: std::sync::Arc<tokio::sync::Semaphore>,
    gated: std::sync::atomic::AtomicBool,
}

impl GovStore for GatedStore {
    fn prepare(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.prepare()
    }
    fn head(&self) -> BoxFuture<'_, Result<Head, StoreError>> {
        Box::pin(async move {
            let head = self.inner.head().await;
            if self.gated.load(std::sync::atomic::Ordering::SeqCst) {
                let _pass = self.gate.acquire().await;
            }
            head
        })
    }
    fn version(&self, number: u64) -> BoxFuture<'_, Result<Option<Version>, StoreError>> {
        self.inner.version(number)
    }
    fn versions(&self) -> BoxFuture<'_, Result<Vec<Version>, StoreError>> {
        self.inner.versions()
    }
    fn docs(&self, kind: Kind) -> BoxFuture<'_, Result<Vec<Doc>, StoreError>> {
        self.inner.docs(kind)
    }
    fn doc<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Doc>, StoreError>> {
        self.inner.doc(kind, id)
    }
    fn commit<'a>(
        &'a self,
        writes: Vec<Write>,
        seal: Seal<'a>,
    ) -> BoxFuture<'a, Result<(), CommitError>> {
        self.inner.commit(writes, seal)
    }
}

/// A head read that was on its way while the clock moved is older than the
/// move and must not undo it (CI once saw an application not overdue twelve
/// days after its deadline: the store's poll had put the old offset back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_read_older_than_a_clock_move_does_not_undo_it() {
    let _one = STORE.lock().await;
    let hubs = setup().await;
    let hub = TestHub::start_with(hubs.config.clone()).await;
    clean_store(&hub).await;
    let settings = mandate_connectors::Neo4jSettings {
        uri: hubs.config.neo4j.uri.clone(),
        user: hubs.config.neo4j.user.clone(),
        password: hubs.config.neo4j.password.clone(),
        database: None,
        max_connections: 4,
        query_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
    };
    let neo4j = mandate_connectors::Neo4jStore::new(&settings).unwrap();
    neo4j.prepare().await.unwrap();
    let store = std::sync::Arc::new(GatedStore {
        inner: neo4j.clone(),
        gate: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
        gated: std::sync::atomic::AtomicBool::new(false),
    });
    let audit = mandate_connectors::AuditWriter::start(
        neo4j,
        format!("clock-{}", std::process::id()),
        Duration::from_secs(5),
    );
    let gov = std::sync::Arc::new(mandate_governance::Governance::new(
        store.clone(),
        std::sync::Arc::new(audit),
        mandate_schema::hub_catalog().unwrap(),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf"),
        )
        .unwrap(),
        mandate_governance::Calendar::new(8, &[], &[]).unwrap(),
        mandate_governance::Settings {
            test_clock: true,
            ..mandate_governance::Settings::default()
        },
    ));
    let admin = mandate_governance::Officer {
        officer: "clock-test".into(),
        agency: "D-DATA_BUREAU".into(),
        roles: ["platform_admin".to_string()].into_iter().collect(),
    };
    gov.head().await.unwrap();
    let before = gov.now();

    // A poll reads the head (offset 0) and is held before it returns.
    store.gated.store(true, std::sync::atomic::Ordering::SeqCst);
    let poll = tokio::spawn({
        let gov = gov.clone();
        async move { gov.head().await.map(|h| h.clock_offset_secs) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile the clock moves ten days ahead.
    store
        .gated
        .store(false, std::sync::atomic::Ordering::SeqCst);
    gov.set_clock("clock-test-1", &admin, 864_000)
        .await
        .unwrap();
    store.gate.add_permits(1);
    assert_eq!(
        poll.await.unwrap().unwrap(),
        0,
        "the poll read the old head"
    );
    let ahead = gov.now() - before;
    assert!(
        ahead >= chrono::Duration::days(10),
        "the clock stays moved: {ahead}"
    );
    // The next read agrees with the store.
    gov.head().await.unwrap();
    assert!(gov.now() - before >= chrono::Duration::days(10));
    clean_store(&hub).await;
}
