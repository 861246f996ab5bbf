//! Neo4j goes away and comes back: the hub answers NEO4J_UNAVAILABLE and fails
//! `/readyz` meanwhile, then recovers by itself — no restart. Uses a Neo4j
//! instance of its own (own home and port) so the other tests are not disturbed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::TestHub;
use serde_json::json;

const PORT: &str = "7698";
const PASSWORD: &str = "mandate-recovery-password";

fn home() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".neo4j/recovery")
}

fn neo4j(action: &str) {
    let status = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/neo4j"))
        .arg(action)
        .env("MANDATE_NEO4J_HOME", home())
        .env("MANDATE_NEO4J_BOLT_PORT", PORT)
        .env("MANDATE_NEO4J_PASSWORD", PASSWORD)
        .env("MANDATE_NEO4J_HEAP", "512m")
        .env("MANDATE_NEO4J_PAGECACHE", "64m")
        .status()
        .expect("scripts/neo4j runs");
    assert!(status.success(), "scripts/neo4j {action} failed");
}

/// Stops this test's Neo4j however the test ends.
struct Instance;

impl Drop for Instance {
    fn drop(&mut self) {
        neo4j("stop");
    }
}

async fn ready(hub: &TestHub) -> u16 {
    hub.client
        .get(hub.url("/readyz"))
        .send()
        .await
        .expect("readyz answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn hub_recovers_when_neo4j_returns() {
    tokio::task::spawn_blocking(|| {
        neo4j("reset");
        neo4j("start");
    })
    .await
    .unwrap();
    let _instance = Instance;
    let mut config = common::test_config();
    config.neo4j.uri = format!("bolt://127.0.0.1:{PORT}");
    config.neo4j.password = PASSWORD.into();
    config.auth.open = true;
    let hub = mandate::App::new(config).await.unwrap();
    mandate_seed::seed(
        &hub.store,
        &mandate_seed::CityParams {
            residents: 30,
            seed: 1,
        },
        false,
    )
    .await
    .unwrap();
    let hub = TestHub::serve(hub).await;
    let query = "{ resident(id: \"R00000001\") { id household { id } } }";
    let before = hub.data(query, json!({})).await;
    assert_eq!(before["resident"]["id"], "R00000001");
    assert_eq!(ready(&hub).await, 200);

    tokio::task::spawn_blocking(|| neo4j("stop")).await.unwrap();
    let body = hub.post(query, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NEO4J_UNAVAILABLE",
        "{body:#}"
    );
    let text = body.to_string();
    assert!(
        !text.contains("Connection refused") && !text.contains("neo4rs"),
        "{text}"
    );
    assert_eq!(ready(&hub).await, 503);

    tokio::task::spawn_blocking(|| neo4j("start"))
        .await
        .unwrap();
    let mut recovered = None;
    for _ in 0..30 {
        let body = hub.post(query, json!({})).await;
        if body.get("errors").is_none() {
            recovered = Some(body["data"].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        recovered,
        Some(before),
        "the same answer once Neo4j is back"
    );
    assert_eq!(ready(&hub).await, 200);
}
