//! The hub as gateway over departmental subgraphs, over HTTP against the real
//! Neo4j and a real HTTP subgraph (Apollo Federation `_entities`, served here by
//! a small poem server that records every call): remote fields are granted,
//! masked, row-scoped and audited like local ones; one `_entities` call per
//! subgraph per root field, never per row, only for rows shown and fields
//! granted; the caller's identity is forwarded, its credential never; a failed,
//! slow, wrong or dead subgraph nulls only its own fields, with a stable code on
//! their paths, and an open circuit stops the calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{keys_file, test_config, TestHub};
use mandate::SubgraphConfig;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json};
use poem::{handler, post, EndpointExt, Route};
use serde_json::{json, Value};

const HEALTH: &str = "key-gateway-health-000000000000";
const CIVIL: &str = "key-gateway-civil-0000000000000";
const HOUSING: &str = "key-gateway-housing-00000000000";
const GRID: &str = "key-gateway-grid-s01-0000000000";
const SUBGRAPH_TOKEN: &str = "hub-credential-at-health";

/// One call the subgraph received.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    query: String,
    representations: Vec<Value>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn ids(&self) -> Vec<String> {
        self.representations
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// How the subgraph behaves.
#[derive(Default)]
struct Subgraph {
    calls: Mutex<Vec<Received>>,
    delay_ms: AtomicU64,
    fail: AtomicBool,
    wrong_types: AtomicBool,
    too_many: AtomicBool,
}

impl Subgraph {
    fn calls(&self) -> Vec<Received> {
        self.calls.lock().unwrap().clone()
    }

    fn reset(&self) {
        self.calls.lock().unwrap().clear();
    }
}

/// What the department's system holds about resident `id`: deterministic.
fn vaccinations(id: &str) -> Value {
    let n: u32 = id.bytes().map(u32::from).sum::<u32>() % 3;
    Value::Array(
        (0..n)
            .map(|k| {
                json!({"vaccine": "流感疫苗", "dose": k + 1, "date": format!("2024-10-0{}", k + 1),
                       "clinic": "城东社区卫生服务中心"})
            })
            .collect(),
    )
}

fn family_doctor(id: &str) -> Value {
    if id.ends_with('0') {
        Value::Null
    } else {
        json!("王建国")
    }
}

fn inspections(id: &str) -> Value {
    json!([{"date": "2025-03-01", "inspector": "李工", "result": if id.ends_with('1') { "UNSAFE" } else { "PASSED" }, "note": null}])
}

#[handler]
async fn graphql(
    req: &poem::Request,
    Json(body): Json<Value>,
    state: Data<&Arc<Subgraph>>,
) -> poem::Response {
    let representations = body["variables"]["representations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    state.calls.lock().unwrap().push(Received {
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        query: body["query"].as_str().unwrap_or_default().to_string(),
        representations: representations.clone(),
    });
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if state.fail.load(Ordering::SeqCst) {
        return poem::Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .body("down");
    }
    let wrong = state.wrong_types.load(Ordering::SeqCst);
    let too_many = state.too_many.load(Ordering::SeqCst);
    let entities: Vec<Value> = representations
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            match r["__typename"].as_str() {
                Some("Resident") if wrong => json!({"__typename": "Resident",
                    "vaccinations": [{"vaccine": 7, "dose": "one", "date": "soon", "clinic": 1}],
                    "familyDoctor": "王建国"}),
                // More than the catalog's maxItems (50).
                Some("Resident") if too_many => json!({"__typename": "Resident",
                    "vaccinations": vec![json!({"vaccine": "流感疫苗", "dose": 1, "date": "2024-10-01", "clinic": "x"}); 51],
                    "familyDoctor": "王建国"}),
                Some("Resident") => json!({"__typename": "Resident",
                    "vaccinations": vaccinations(id), "familyDoctor": family_doctor(id)}),
                Some("Building") => {
                    json!({"__typename": "Building", "inspections": inspections(id)})
                }
                _ => Value::Null,
            }
        })
        .collect();
    poem::Response::builder()
        .content_type("application/json")
        .body(json!({"data": {"_entities": entities}}).to_string())
}

/// Starts a subgraph on a loopback port; returns its state and URL.
async fn subgraph() -> (Arc<Subgraph>, String) {
    let state = Arc::new(Subgraph::default());
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    let app = Route::new()
        .at("/graphql", post(graphql))
        .data(state.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (state, format!("http://{addr}/graphql"))
}

/// A hub whose `health` and `housing` subgraphs are the given test servers.
async fn hub(name: &str, health: &str, housing: &str, breaker_failures: u32) -> TestHub {
    let root = std::env::temp_dir().join(format!("mandate-gateway-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let keys = keys_file(
        &root,
        "gateway",
        &[
            ("D-HEALTH", vec!["health_officer"], HEALTH.into()),
            ("D-CIVIL_AFFAIRS", vec!["caseworker"], CIVIL.into()),
            ("D-HOUSING", vec!["inspector"], HOUSING.into()),
            ("D-GRID_MANAGEMENT-S01", vec!["grid_worker"], GRID.into()),
        ],
    );
    let mut config = test_config();
    config.auth.api_keys_file = keys.display().to_string();
    for (name, url) in [("health", health), ("housing", housing)] {
        config.subgraphs.insert(
            name.to_string(),
            SubgraphConfig {
                url: url.to_string(),
                token: SUBGRAPH_TOKEN.to_string(),
                timeout_ms: 400,
                breaker_failures,
                breaker_cooldown_ms: 60_000,
                max_answer_kb: 1024,
            },
        );
    }
    TestHub::start_with(config).await
}

async fn ask(hub: &TestHub, key: &str, purpose: &str, case: &str, query: &str) -> Value {
    hub.post_as(key, purpose, case, query, json!({}))
        .await
        .json()
        .await
        .unwrap()
}

fn case(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("CASE-GW-{name}-{nanos}")
}

const TWO_FIELDS: &str = "{ residents(first: 5) { edges { node { id name familyDoctor
    vaccinations { vaccine date } again: vaccinations { dose date } } } } }";

#[tokio::test]
async fn remote_fields_come_in_one_call_per_subgraph_for_the_rows_shown_with_the_caller_forwarded()
{
    let (health, health_url) = subgraph().await;
    let (housing, housing_url) = subgraph().await;
    let hub = hub("one-call", &health_url, &housing_url, 5).await;
    let case = case("one-call");
    let body = ask(&hub, HEALTH, "elderly_health_service", &case, TWO_FIELDS).await;
    assert!(body.get("errors").is_none(), "{body}");

    // Every remote value is the department's, at every depth.
    let mut shown = BTreeSet::new();
    for edge in body["data"]["residents"]["edges"].as_array().unwrap() {
        let node = &edge["node"];
        let id = node["id"].as_str().unwrap();
        shown.insert(id.to_string());
        let want: Vec<Value> = vaccinations(id)
            .as_array()
            .unwrap()
            .iter()
            .map(|v| json!({"vaccine": v["vaccine"], "date": v["date"]}))
            .collect();
        assert_eq!(node["vaccinations"], Value::Array(want), "{id}");
        assert_eq!(node["familyDoctor"], family_doctor(id), "{id}");
        let want: Vec<Value> = vaccinations(id)
            .as_array()
            .unwrap()
            .iter()
            .map(|v| json!({"dose": v["dose"], "date": v["date"]}))
            .collect();
        assert_eq!(node["again"], Value::Array(want), "{id}");
    }
    assert_eq!(
        body["data"]["residents"]["edges"].as_array().unwrap().len(),
        5
    );

    // One call for the whole root field; each resident shown once, nobody else
    // (not the look-ahead row of the page); the union of the fields selected.
    let calls = health.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    let asked: BTreeSet<String> = call.ids().into_iter().collect();
    assert_eq!(asked, shown);
    assert_eq!(call.ids().len(), asked.len(), "each representation once");
    assert!(call
        .query
        .contains("...on Resident{familyDoctor vaccinations{date dose vaccine} }"));
    assert!(housing.calls().is_empty(), "no housing field was asked");

    // Who asks is forwarded; the caller's credential never is.
    assert_eq!(call.header("x-mandate-agency"), Some("D-HEALTH"));
    assert_eq!(call.header("x-mandate-officer"), Some("system:gateway-0"));
    assert_eq!(
        call.header("x-mandate-purpose"),
        Some("elderly_health_service")
    );
    assert_eq!(call.header("x-mandate-case"), Some(case.as_str()));
    assert!(call
        .header("x-mandate-request-id")
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {SUBGRAPH_TOKEN}").as_str())
    );
    assert!(call.header("x-api-key").is_none());
    assert!(!call.headers.iter().any(|(_, v)| v.contains(HEALTH)));

    // Audited like a local read: the field, and every resident it was read of.
    let records = hub
        .reference(
            "MATCH (a:AuditRecord {caseNumber: $case}) RETURN a.fields AS fields, a.residents AS residents",
            json!({"case": case}),
        )
        .await;
    assert_eq!(records.len(), 1);
    let fields: Vec<&str> = records[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(fields.contains(&"Resident.vaccinations"), "{fields:?}");
    assert!(fields.contains(&"Resident.familyDoctor"), "{fields:?}");
    let residents: BTreeSet<String> = records[0]["residents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    assert!(shown.is_subset(&residents));
}

#[tokio::test]
async fn the_mandate_decides_which_rows_and_fields_reach_a_subgraph() {
    let (health, health_url) = subgraph().await;
    let (_, housing_url) = subgraph().await;
    let hub = hub("mandate", &health_url, &housing_url, 5).await;

    // A resident outside the health commission's rows (neither elderly nor
    // disabled): null, and the subgraph is never asked about them.
    let outside = hub
        .reference_ids(
            "MATCH (r:Resident) WHERE r.birthDate > date('1980-01-01') AND r.disabilityStatus = 'NONE' RETURN r.id AS id ORDER BY r.id LIMIT 1",
            json!({}),
        )
        .await;
    let query = format!(
        r#"{{ resident(id: "{}") {{ id vaccinations {{ vaccine }} }} }}"#,
        outside[0]
    );
    let body = ask(
        &hub,
        HEALTH,
        "elderly_health_service",
        &case("outside"),
        &query,
    )
    .await;
    assert_eq!(body["data"]["resident"], Value::Null, "{body}");
    assert!(health.calls().is_empty());

    // An agency whose list does not grant the field: not in its schema, no call.
    let body = ask(
        &hub,
        CIVIL,
        "subsidy_review",
        &case("civil"),
        "{ residents(first: 2) { edges { node { id vaccinations { vaccine } } } } }",
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    assert!(health.calls().is_empty());

    // Filtering or sorting on a remote field is reading it through Neo4j: there is
    // no such input, for anyone.
    let body = ask(
        &hub,
        HEALTH,
        "elderly_health_service",
        &case("filter"),
        r#"{ residents(first: 2, where: {familyDoctor: {eq: "王建国"}}) { edges { node { id } } } }"#,
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    assert!(health.calls().is_empty());

    // A grant with a mask: civil affairs' elderly-care caseworker sees the family
    // doctor's surname only, and nothing of the vaccinations.
    let body = ask(
        &hub,
        CIVIL,
        "elderly_care",
        &case("masked"),
        "{ residents(first: 10) { edges { node { id familyDoctor } } } }",
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let mut with_doctor = 0;
    for e in body["data"]["residents"]["edges"].as_array().unwrap() {
        let id = e["node"]["id"].as_str().unwrap();
        match family_doctor(id) {
            Value::Null => assert_eq!(e["node"]["familyDoctor"], Value::Null),
            _ => {
                with_doctor += 1;
                assert_eq!(e["node"]["familyDoctor"], "王**");
            }
        }
    }
    assert!(with_doctor > 0);
    let calls = health.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        !calls[0].query.contains("vaccinations"),
        "{}",
        calls[0].query
    );
}

#[tokio::test]
async fn a_failed_slow_or_wrong_subgraph_nulls_only_its_own_fields() {
    let (health, health_url) = subgraph().await;
    let (housing, housing_url) = subgraph().await;
    let hub = hub("faults", &health_url, &housing_url, 100).await;
    let query = "{ residents(first: 3) { edges { node { id name familyDoctor vaccinations { vaccine } } } } }";

    for (setup, code) in [
        (
            Box::new(|s: &Subgraph| s.fail.store(true, Ordering::SeqCst)) as Box<dyn Fn(&Subgraph)>,
            "SUBGRAPH_UNAVAILABLE",
        ),
        (
            Box::new(|s: &Subgraph| s.delay_ms.store(3_000, Ordering::SeqCst)),
            "SUBGRAPH_TIMEOUT",
        ),
        (
            Box::new(|s: &Subgraph| s.wrong_types.store(true, Ordering::SeqCst)),
            "SUBGRAPH_ERROR",
        ),
        (
            Box::new(|s: &Subgraph| s.too_many.store(true, Ordering::SeqCst)),
            "SUBGRAPH_ERROR",
        ),
    ] {
        health.fail.store(false, Ordering::SeqCst);
        health.delay_ms.store(0, Ordering::SeqCst);
        health.wrong_types.store(false, Ordering::SeqCst);
        health.too_many.store(false, Ordering::SeqCst);
        setup(&health);
        let started = std::time::Instant::now();
        let body = ask(&hub, HEALTH, "elderly_health_service", &case(code), query).await;
        let edges = body["data"]["residents"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 3, "{body}");
        for (i, e) in edges.iter().enumerate() {
            // The hub's own fields are intact.
            assert!(e["node"]["name"].is_string(), "{body}");
            assert_eq!(e["node"]["vaccinations"], Value::Null, "{body}");
            let errors: Vec<&Value> = body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["path"] == json!(["residents", "edges", i, "node", "vaccinations"]))
                .collect();
            assert_eq!(errors.len(), 1, "{code}: {body}");
            assert_eq!(errors[0]["extensions"]["code"], code, "{body}");
        }
        if code == "SUBGRAPH_ERROR" {
            // Only the field whose value did not fit: the family doctor is served.
            assert_eq!(edges[0]["node"]["familyDoctor"], "王建国", "{body}");
        }
        if code == "SUBGRAPH_TIMEOUT" {
            assert!(
                started.elapsed() < Duration::from_millis(2_500),
                "{:?}",
                started.elapsed()
            );
        }
    }
    assert!(housing.calls().is_empty());
}

#[tokio::test]
async fn an_open_circuit_stops_calling_a_dead_subgraph() {
    let (health, health_url) = subgraph().await;
    let (_, housing_url) = subgraph().await;
    let hub = hub("breaker", &health_url, &housing_url, 2).await;
    health.fail.store(true, Ordering::SeqCst);
    let query = "{ residents(first: 2) { edges { node { id familyDoctor } } } }";
    for _ in 0..2 {
        let body = ask(
            &hub,
            HEALTH,
            "elderly_health_service",
            &case("breaker"),
            query,
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "SUBGRAPH_UNAVAILABLE"
        );
    }
    assert_eq!(health.calls().len(), 2);
    health.reset();
    let body = ask(&hub, HEALTH, "elderly_health_service", &case("open"), query).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
        "{body}"
    );
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("circuit open"));
    assert!(body["data"]["residents"]["edges"][0]["node"]["id"].is_string());
    assert!(health.calls().is_empty(), "an open circuit does not call");
    // The operator sees it.
    let metrics = hub.metrics_text().await;
    assert!(
        metrics.contains("mandate_subgraph_circuit_open{subgraph=\"health\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "mandate_subgraph_calls_total{subgraph=\"health\",outcome=\"unavailable\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "mandate_subgraph_calls_total{subgraph=\"health\",outcome=\"circuit_open\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn entities_and_other_types_take_the_same_path() {
    let (health, health_url) = subgraph().await;
    let (housing, housing_url) = subgraph().await;
    let hub = hub("entities", &health_url, &housing_url, 5).await;

    // The housing bureau's inspections of its buildings.
    let body = ask(
        &hub,
        HOUSING,
        "building_safety",
        &case("housing"),
        "{ buildings(first: 4) { edges { node { id inspections { date result note } } } } }",
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    for e in body["data"]["buildings"]["edges"].as_array().unwrap() {
        let id = e["node"]["id"].as_str().unwrap();
        let want = &inspections(id)[0];
        assert_eq!(
            e["node"]["inspections"],
            json!([{"date": want["date"], "result": want["result"], "note": null}])
        );
    }
    assert_eq!(housing.calls().len(), 1);
    assert_eq!(housing.calls()[0].ids().len(), 4);
    assert!(health.calls().is_empty());
    housing.reset();

    // Across depths: a grid worker's buildings, and the same buildings again
    // through their households: still one call, each building asked once, the
    // union of what each depth selects.
    let body = ask(
        &hub,
        GRID,
        "grid_inspection",
        &case("depths"),
        "{ buildings(first: 3) { edges { node { id inspections { result }
           households(first: 2) { edges { node { id building { id inspections { date } } } } } } } } }",
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let mut buildings = BTreeSet::new();
    for e in body["data"]["buildings"]["edges"].as_array().unwrap() {
        let id = e["node"]["id"].as_str().unwrap();
        buildings.insert(id.to_string());
        assert_eq!(
            e["node"]["inspections"],
            json!([{"result": inspections(id)[0]["result"]}])
        );
        for h in e["node"]["households"]["edges"].as_array().unwrap() {
            let b = &h["node"]["building"];
            assert_eq!(b["id"], id);
            assert_eq!(b["inspections"], json!([{"date": "2025-03-01"}]));
        }
    }
    let calls = housing.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].ids().into_iter().collect::<BTreeSet<_>>(),
        buildings
    );
    assert_eq!(calls[0].ids().len(), buildings.len());
    assert!(
        calls[0].query.contains("inspections{date result}"),
        "{}",
        calls[0].query
    );

    // The agency's `_entities` entry point: the same plan, the same one call.
    let ids = hub
        .reference_ids(
            "MATCH (r:Resident) WHERE r.birthDate <= date('1960-01-01') RETURN r.id AS id ORDER BY r.id LIMIT 3",
            json!({}),
        )
        .await;
    let reps: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{__typename: "Resident", id: "{id}"}}"#))
        .collect();
    let query = format!(
        "{{ _entities(representations: [{}]) {{ ... on Resident {{ id familyDoctor }} }} }}",
        reps.join(", ")
    );
    let body = ask(
        &hub,
        HEALTH,
        "elderly_health_service",
        &case("entities"),
        &query,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            body["data"]["_entities"][i]["familyDoctor"],
            family_doctor(id)
        );
    }
    assert_eq!(health.calls().len(), 1);
    assert_eq!(health.calls()[0].ids(), ids);
}
