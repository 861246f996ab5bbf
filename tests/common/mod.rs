//! Test harness: a hub served over real HTTP on a random loopback port, backed by
//! the real Neo4j the test command started (`scripts/test`), holding the test city.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use mandate::{App, Config};
use mandate_connectors::Neo4jStore;
use mandate_seed::{self as seed, CityParams};
use serde_json::{json, Map, Value};

/// The test city: small enough to seed in seconds, large enough to page through.
pub const CITY: CityParams = CityParams {
    residents: 3000,
    seed: 11,
};

/// Configuration pointing at the test Neo4j.
pub fn test_config() -> Config {
    let env: Vec<(String, String)> = vec![
        (
            "NEO4J_URI".into(),
            std::env::var("MANDATE_TEST_NEO4J_URI")
                .unwrap_or_else(|_| "bolt://127.0.0.1:7697".into()),
        ),
        (
            "NEO4J_PASSWORD".into(),
            std::env::var("MANDATE_TEST_NEO4J_PASSWORD")
                .unwrap_or_else(|_| "mandate-test-password".into()),
        ),
        ("MANDATE__CURSORS__SECRET".into(), "test-secret".into()),
        ("MANDATE__SERVER__LISTEN".into(), "127.0.0.1:0".into()),
        (
            "MANDATE__POLICIES__DIR".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies").into(),
        ),
    ];
    Config::load_from(None, env).expect("test config")
}

/// [`test_config`] with `auth.open`: every request unrestricted, the query
/// engine's own view.
pub fn open_config() -> Config {
    let mut config = test_config();
    config.auth.open = true;
    config
}

static NEXT_CHAIN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

static SEEDED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// A running hub.
pub struct TestHub {
    pub addr: SocketAddr,
    pub hub: Arc<App>,
    pub client: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestHub {
    /// Starts an open hub (every request unrestricted: the query engine's view) on
    /// the test Neo4j, seeding the test city once if needed.
    pub async fn start() -> TestHub {
        Self::start_with(open_config()).await
    }

    /// Starts a hub with `config`, seeding the test city once if needed.
    pub async fn start_with(config: Config) -> TestHub {
        // `RUST_LOG=mandate_resolvers=debug` shows the generated Cypher.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let hub = App::new(config).await.expect("hub builds");
        ensure_city(&hub.store).await;
        Self::serve(hub).await
    }

    /// Serves `hub` without touching the database.
    pub async fn serve(hub: Arc<App>) -> TestHub {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(mandate::serve(
            hub.clone(),
            "127.0.0.1:0".into(),
            tx,
            async move {
                let _ = stop_rx.await;
            },
        ));
        let addr = rx.await.expect("server binds");
        TestHub {
            addr,
            hub,
            client: reqwest::Client::new(),
            _shutdown: stop_tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a query with variables as the holder of API key `key`, stating
    /// `purpose` and `case`; returns the HTTP response.
    pub async fn post_as(
        &self,
        key: &str,
        purpose: &str,
        case: &str,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/graphql"))
            .header("x-api-key", key)
            .header("x-mandate-purpose", purpose)
            .header("x-mandate-case", case)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a query with variables; returns the whole JSON response.
    pub async fn post(&self, query: &str, variables: Value) -> Value {
        let resp = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request sent");
        resp.json().await.expect("JSON response")
    }

    /// POSTs a query and returns `data`, failing on any error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.post(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// POSTs a query expected to fail; returns the first error's code.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.post(query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error code: {body:#}"))
            .to_string()
    }

    /// Cypher queries sent so far, read from `/metrics`.
    pub async fn cypher_queries(&self) -> u64 {
        self.metric("mandate_cypher_queries_total").await
    }

    /// The `/metrics` page as text.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The `/metrics` value of `name`, failing if it is not there.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.metrics_text().await;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} present: {text}"))
    }

    /// Verifies audit chain `chain` in Neo4j, failing on any problem; its record count.
    pub async fn intact_chain(&self, chain: &str) -> u64 {
        let v = mandate_audit::verify_log(&self.hub.store, Some(chain))
            .await
            .expect("audit log readable");
        assert_eq!(v.problems, Vec::<String>::new());
        v.chains.get(chain).copied().unwrap_or(0)
    }

    /// Reference rows straight from Neo4j (hand-written Cypher).
    pub async fn reference(&self, cypher: &str, params: Value) -> Vec<Value> {
        let params = match params {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.hub
            .store
            .rows(cypher, params)
            .await
            .expect("reference query")
    }

    /// Writes test fixtures straight to Neo4j.
    pub async fn write(&self, cypher: &str, params: Value) {
        let params = match params {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.hub
            .store
            .execute(cypher, params)
            .await
            .expect("fixture write");
    }

    /// Reference: one column of strings.
    pub async fn reference_ids(&self, cypher: &str, params: Value) -> Vec<String> {
        self.reference(cypher, params)
            .await
            .into_iter()
            .map(|r| r["id"].as_str().expect("id column").to_string())
            .collect()
    }
}

/// Seeds the test city unless it is already there.
pub async fn ensure_city(store: &Neo4jStore) {
    SEEDED
        .get_or_init(|| async {
            let catalog = mandate_schema::hub_catalog().expect("catalog");
            mandate_connectors::apply_schema(store, &catalog)
                .await
                .expect("test Neo4j reachable: run the tests with scripts/test");
            let n = seed::resident_count(store).await.expect("count");
            if n != CITY.residents as u64 {
                seed::seed(store, &CITY, false)
                    .await
                    .expect("seed test city");
            }
        })
        .await;
}

/// The ids of a connection's edges.
pub fn edge_ids(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("node id").to_string())
        .collect()
}

/// A copy of the checked-in policies folder under `root`, plus a list for the
/// one-grid test centre `centre` (the S01 centre's lines under its name).
pub fn policies_with_test_centre(root: &std::path::Path, centre: &str) -> std::path::PathBuf {
    let policies = root.join("policies");
    copy_policies(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &policies,
    );
    let s01 = std::fs::read_to_string(policies.join("lists/grid-management-s01.csv")).unwrap();
    std::fs::write(
        policies.join("lists/grid-management-t1.csv"),
        s01.replace("D-GRID_MANAGEMENT-S01", centre),
    )
    .unwrap();
    policies
}

/// Copies a policies folder (`model.conf` and `lists/*`) from `from` to `to`.
pub fn copy_policies(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to.join("lists")).unwrap();
    std::fs::copy(from.join("model.conf"), to.join("model.conf")).unwrap();
    for entry in std::fs::read_dir(from.join("lists")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join("lists").join(path.file_name().unwrap())).unwrap();
    }
}

/// Writes an API keys file under `root`: one entry per (agency, roles, key), with
/// ids and officers `<prefix>-<i>` and `system:<prefix>-<i>`.
pub fn keys_file(
    root: &std::path::Path,
    prefix: &str,
    entries: &[(&str, Vec<&str>, String)],
) -> std::path::PathBuf {
    let mut keys = String::new();
    for (i, (agency, roles, key)) in entries.iter().enumerate() {
        let roles = roles
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ");
        keys.push_str(&format!(
            "[[key]]\nid = \"{prefix}-{i}\"\nagency = \"{agency}\"\nofficer = \"system:{prefix}-{i}\"\nroles = [{roles}]\nsha256 = \"{}\"\n\n",
            mandate::auth::hash_api_key(key)
        ));
    }
    let path = root.join("keys.toml");
    std::fs::write(&path, keys).unwrap();
    path
}
