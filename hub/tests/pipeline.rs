//! The request pipeline with in-memory ports — no Neo4j, no HTTP: admission,
//! execution with disclosure, and the audit record of every outcome.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use mandate_audit::{AuditError, AuditRecord, AuditSink, Decision};
use mandate_hub::{AgencyProfile, Call, Caller, Hub, HubBuilder, Jurisdictions, Statement};
use mandate_resolvers::{Code, CypherQuery, GraphStore, StoreError};
use serde_json::{json, Value};

/// Answers every compiled query with one resident, the way the compiled Cypher
/// shapes it (the hidden `#id` key names the data subject).
#[derive(Default)]
struct OneResident {
    queries: AtomicUsize,
}

impl GraphStore for OneResident {
    fn run<'a>(&'a self, _query: &'a CypherQuery) -> BoxFuture<'a, Result<Value, StoreError>> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        Box::pin(async {
            Ok(
                json!({"#id": "R00000001", "id": "R00000001", "name": "张三", "phone": "138****0000", "ethnicity": "汉"}),
            )
        })
    }
}

/// A jurisdiction for every agency; counts reads; can be made unreachable.
#[derive(Default)]
struct Grids {
    reads: AtomicUsize,
    down: AtomicBool,
}

impl Jurisdictions for Grids {
    fn profile<'a>(
        &'a self,
        _agency: &'a str,
    ) -> BoxFuture<'a, Result<Option<AgencyProfile>, StoreError>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let down = self.down.load(Ordering::Relaxed);
        Box::pin(async move {
            if down {
                return Err(StoreError::Unavailable("connection refused".into()));
            }
            Ok(Some(AgencyProfile {
                department: "CIVIL_AFFAIRS".into(),
                grids: vec!["G00001".into()],
                communities: vec!["C001".into()],
                subdistricts: vec!["S01".into()],
            }))
        })
    }
}

/// Keeps records in memory; can be made to refuse them.
#[derive(Default)]
struct Records {
    kept: Mutex<Vec<AuditRecord>>,
    broken: AtomicBool,
}

impl Records {
    fn all(&self) -> Vec<AuditRecord> {
        self.kept.lock().unwrap().clone()
    }
    fn last(&self) -> AuditRecord {
        self.all().pop().expect("a record")
    }
}

impl AuditSink for Records {
    fn append(&self, record: AuditRecord) -> BoxFuture<'_, Result<(), AuditError>> {
        let broken = self.broken.load(Ordering::Relaxed);
        Box::pin(async move {
            if broken {
                return Err(AuditError::NotWritten("disk full".into()));
            }
            self.kept.lock().unwrap().push(record);
            Ok(())
        })
    }
}

struct Fixture {
    hub: Hub,
    store: Arc<OneResident>,
    grids: Arc<Grids>,
    records: Arc<Records>,
}

async fn fixture(open: bool) -> Fixture {
    built(|b| b.today(Some("2026-11-29".into())).open(open)).await
}

/// A hub over in-memory ports and the checked-in lists, set up by `configure`.
async fn built(configure: impl FnOnce(HubBuilder) -> HubBuilder) -> Fixture {
    let catalog = Arc::new(mandate_schema::hub_catalog().unwrap());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
    let policies = mandate_policies::Policies::load(std::path::Path::new(dir), &catalog)
        .await
        .unwrap();
    let store = Arc::new(OneResident::default());
    let grids = Arc::new(Grids::default());
    let records = Arc::new(Records::default());
    let builder = HubBuilder::new(
        catalog,
        store.clone(),
        grids.clone(),
        records.clone(),
        policies,
    );
    let hub = configure(builder).build().unwrap();
    Fixture {
        hub,
        store,
        grids,
        records,
    }
}

fn caseworker() -> Caller {
    Caller {
        agency: "D-CIVIL_AFFAIRS".into(),
        officer: "officer-7".into(),
        roles: vec!["caseworker".into()],
        purposes: vec![],
    }
}

fn call(query: &str, purpose: Option<&str>) -> Call {
    Call {
        request_id: "req-1".into(),
        client_request_id: None,
        caller: Some(caseworker()),
        statement: Statement {
            claimed_agency: None,
            purpose: purpose.map(str::to_string),
            case: Some("CASE-1".into()),
        },
        request: async_graphql::Request::new(query),
    }
}

const LOOKUP: &str = r#"{ resident(id: "R00000001") { id name phone } }"#;

#[tokio::test]
async fn an_admitted_read_is_answered_and_recorded_with_what_it_disclosed() {
    let f = fixture(false).await;
    let response = f
        .hub
        .handle(call(LOOKUP, Some("subsidy_review")))
        .await
        .unwrap();
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    assert_eq!(data["resident"]["name"], "张三");
    let r = f.records.last();
    assert_eq!(
        r.decision,
        Decision::Masked,
        "phone is masked for this purpose"
    );
    assert_eq!(
        (
            r.agency.as_str(),
            r.officer.as_str(),
            r.purpose.as_str(),
            r.case_number.as_str()
        ),
        ("D-CIVIL_AFFAIRS", "officer-7", "subsidy_review", "CASE-1")
    );
    assert_eq!(r.residents, ["R00000001"]);
    assert!(
        r.fields.contains(&"Resident.phone:masked".to_string()),
        "{:?}",
        r.fields
    );
    assert!(r.fields.contains(&"Resident.name".to_string()));
    assert_eq!(r.request_id, "req-1");
    assert_eq!(r.operation.len(), 64);
    assert_eq!(f.store.queries.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn plans_are_compiled_once_per_agency_roles_and_purpose() {
    let f = fixture(false).await;
    for _ in 0..3 {
        f.hub
            .handle(call("{ __typename }", Some("subsidy_review")))
            .await
            .unwrap();
    }
    assert_eq!(f.grids.reads.load(Ordering::Relaxed), 1);
    assert_eq!(f.hub.plans_cached(), 1);
    f.hub
        .handle(call("{ __typename }", Some("elderly_care")))
        .await
        .unwrap();
    assert_eq!(f.hub.plans_cached(), 2);
    // New lists drop every plan compiled from the old ones; the same lists change nothing.
    let same = mandate_policies::Policies::load(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies")),
        f.hub.catalog(),
    )
    .await
    .unwrap();
    assert_eq!(f.hub.put_policies(same), None);
    assert_eq!(f.hub.plans_cached(), 2);
}

#[tokio::test]
async fn refusals_at_admission_are_recorded_with_the_verified_caller() {
    let f = fixture(false).await;
    let cases = [
        (call(LOOKUP, None), Code::PurposeRequired),
        (
            call(LOOKUP, Some("criminal_investigation")),
            Code::PurposeNotAllowed,
        ),
        (
            Call {
                statement: Statement {
                    claimed_agency: Some("D-PUBLIC_SECURITY".into()),
                    ..call(LOOKUP, Some("subsidy_review")).statement
                },
                ..call(LOOKUP, Some("subsidy_review"))
            },
            Code::AgencyMismatch,
        ),
    ];
    for (call, code) in cases {
        let e = f.hub.handle(call).await.unwrap_err();
        assert_eq!(e.code, code);
        let r = f.records.last();
        assert_eq!(r.decision, Decision::Rejected);
        assert_eq!(r.code, code.as_str());
        assert_eq!(
            (r.agency.as_str(), r.officer.as_str()),
            ("D-CIVIL_AFFAIRS", "officer-7")
        );
        assert_eq!(r.purpose, "-");
        assert!(r.residents.is_empty() && r.fields.is_empty());
    }
    assert_eq!(
        f.store.queries.load(Ordering::Relaxed),
        0,
        "nothing was read"
    );
}

#[tokio::test]
async fn an_unreadable_jurisdiction_refuses_with_a_clean_code() {
    let f = fixture(false).await;
    f.grids.down.store(true, Ordering::Relaxed);
    let e = f
        .hub
        .handle(call(LOOKUP, Some("subsidy_review")))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Neo4jUnavailable);
    assert!(
        !e.message.contains("refused"),
        "no driver detail: {}",
        e.message
    );
    assert_eq!(f.records.last().code, "NEO4J_UNAVAILABLE");
    // Not cached: the next request reads the jurisdiction again.
    f.grids.down.store(false, Ordering::Relaxed);
    f.hub
        .handle(call(LOOKUP, Some("subsidy_review")))
        .await
        .unwrap();
    assert_eq!(f.grids.reads.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn no_data_leaves_without_a_record() {
    let f = fixture(false).await;
    f.records.broken.store(true, Ordering::Relaxed);
    let e = f
        .hub
        .handle(call(LOOKUP, Some("subsidy_review")))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::AuditUnavailable);
    // A refusal whose record cannot be written says so instead.
    let e = f.hub.handle(call(LOOKUP, None)).await.unwrap_err();
    assert_eq!(e.code, Code::AuditUnavailable);
    let e = f
        .hub
        .refuse("req-2", None, None, Code::BadRequest)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::AuditUnavailable);
    // An answer without any data may still go out, so the client sees its cause.
    let response = f
        .hub
        .handle(call(
            r#"{ resident(id: "R00000001") { nope } }"#,
            Some("subsidy_review"),
        ))
        .await
        .unwrap();
    assert!(!response.errors.is_empty());
    assert!(f.records.all().is_empty());
}

#[tokio::test]
async fn what_the_agency_may_not_read_does_not_validate_and_is_recorded_as_denied() {
    let f = fixture(false).await;
    let response = f
        .hub
        .handle(call(
            r#"{ resident(id: "R00000001") { id ethnicity } }"#,
            Some("subsidy_review"),
        ))
        .await
        .unwrap();
    let codes: Vec<_> = response
        .errors
        .iter()
        .map(|e| e.extensions.as_ref().and_then(|x| x.get("code")).cloned())
        .collect();
    assert_eq!(
        codes,
        [Some(async_graphql::Value::String(
            "GRAPHQL_VALIDATION_FAILED".into()
        ))]
    );
    let r = f.records.last();
    assert_eq!(
        (r.decision, r.code.as_str()),
        (Decision::Denied, "GRAPHQL_VALIDATION_FAILED")
    );
    assert_eq!(f.store.queries.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn refusals_before_admission_are_recorded_without_a_principal() {
    let f = fixture(false).await;
    let request = async_graphql::Request::new(LOOKUP);
    f.hub
        .refuse(
            "req-9",
            Some("client-9"),
            Some(&request),
            Code::Unauthenticated,
        )
        .await
        .unwrap();
    let r = f.records.last();
    assert_eq!(
        (
            r.decision,
            r.code.as_str(),
            r.agency.as_str(),
            r.request_id.as_str()
        ),
        (Decision::Rejected, "UNAUTHENTICATED", "-", "req-9")
    );
    assert_eq!(r.client_request_id, "client-9");
    assert_eq!(r.operation.len(), 64);
    // Without a caller a closed hub admits nothing.
    let anonymous = Call {
        caller: None,
        ..call(LOOKUP, Some("subsidy_review"))
    };
    assert_eq!(
        f.hub.handle(anonymous).await.unwrap_err().code,
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn an_open_hub_serves_the_unrestricted_schema_without_a_caller() {
    let f = fixture(true).await;
    let response = f
        .hub
        .handle(Call {
            caller: None,
            ..call(r#"{ resident(id: "R00000001") { id ethnicity } }"#, None)
        })
        .await
        .unwrap();
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let r = f.records.last();
    assert_eq!((r.decision, r.agency.as_str()), (Decision::Allowed, "-"));
    assert_eq!(f.grids.reads.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn shape_limits_refuse_with_their_own_codes() {
    let Fixture { hub, records, .. } = built(|b| {
        b.shape(mandate_resolvers::ShapeLimits {
            max_depth: 2,
            max_complexity: 4,
            ..Default::default()
        })
        .open(true)
    })
    .await;
    let code_of = |r: &async_graphql::Response| {
        r.errors[0]
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .cloned()
    };
    let wide = hub
        .handle(Call {
            caller: None,
            ..call(
                r#"{ resident(id: "R00000001") { id name phone ethnicity } }"#,
                None,
            )
        })
        .await
        .unwrap();
    assert_eq!(
        code_of(&wide),
        Some(async_graphql::Value::String("QUERY_TOO_COMPLEX".into()))
    );
    let deep = hub
        .handle(Call {
            caller: None,
            ..call(
                r#"{ resident(id: "R00000001") { household { building { id } } } }"#,
                None,
            )
        })
        .await
        .unwrap();
    assert_eq!(
        code_of(&deep),
        Some(async_graphql::Value::String("QUERY_TOO_DEEP".into()))
    );
    assert_eq!(records.last().code, "QUERY_TOO_DEEP");
}

/// Regression: every unauthenticated request used to write one audit record, so
/// anyone could grow the log without bound (or fill the journal's backlog).
#[tokio::test]
async fn anonymous_refusals_are_sampled_and_counted() {
    let Fixture { hub, records, .. } = built(|b| b.anonymous_refusals_per_sec(3)).await;
    for i in 0..10 {
        hub.refuse(&format!("anon-{i}"), None, None, Code::Unauthenticated)
            .await
            .unwrap();
    }
    assert_eq!(records.all().len(), 3);
    assert_eq!(hub.unrecorded_refusals(), 7);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    hub.refuse("anon-later", None, None, Code::Unauthenticated)
        .await
        .unwrap();
    let r = records.last();
    assert_eq!(
        (r.request_id.as_str(), r.unrecorded_before),
        ("anon-later", 7)
    );
    // A verified caller's refusal is never sampled away.
    for _ in 0..10 {
        let _ = hub.handle(call(LOOKUP, None)).await;
    }
    assert_eq!(records.all().len(), 4 + 10);
}
