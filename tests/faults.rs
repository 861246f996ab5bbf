//! Faults under load, seen from outside the way a client and an auditor see them:
//!
//! - Neo4j SIGKILLed while demo agencies send a steady mix of queries: while it is
//!   down every answer is a clean error with a stable code (never a 500, never
//!   data that differs from before, never data without an error), and once it is
//!   back the same hub — not restarted — answers as before; every answer released
//!   has its record in the chain, which stays intact.
//! - The hub (`mandate serve`, audit journal on) SIGKILLed mid-load and started
//!   again: `mandate audit verify` finds the chain and the journal whole, and every
//!   answer that carried data before the kill has its record.
//! - SIGTERM with requests in flight: each completes with its answer and its
//!   record, and new connections are refused meanwhile.
//! - The journal's disk full (the hub's file-size limit lowered under it, so its
//!   writes fail with EFBIG as on a full disk): no data leaves without a record,
//!   the refusals are `AUDIT_UNAVAILABLE`, and the hub takes records again once
//!   the space returns.
//!
//! Uses a Neo4j of its own (port 7701, home `.neo4j/faults`) for the first, the
//! test Neo4j for the rest. `cargo test --test faults -- --nocapture` prints what
//! was measured: codes seen, recovery times, requests in flight.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestHub;
use serde_json::{json, Value};

const TODAY: &str = "2026-11-29";

/// Demo agencies and a query each is allowed to ask: (agency, role, purpose, query).
const MIX: [(&str, &str, &str, &str); 6] = [
    (
        "D-CIVIL_AFFAIRS",
        "caseworker",
        "subsidy_review",
        "{ residents(first: 5, orderBy: [{field: NAME}]) { totalCount edges { node { id name idNumber household { memberCount } } } } }",
    ),
    (
        "D-PUBLIC_SECURITY",
        "officer",
        "household_registration",
        "{ resident(id: \"R00000042\") { id name idNumber ethnicity household { householdNumber } } }",
    ),
    (
        "D-HEALTH",
        "health_officer",
        "elderly_health_service",
        "{ residents(first: 3, orderBy: [{field: BIRTH_DATE}]) { totalCount edges { node { name birthDate disabilityStatus phone } } } }",
    ),
    (
        "D-HUMAN_RESOURCES",
        "employment_officer",
        "employment_services",
        "{ residents(first: 3, orderBy: [{field: NAME}]) { totalCount edges { node { name occupation hukouType idNumber } } } }",
    ),
    (
        "D-GRID_MANAGEMENT-S01",
        "grid_worker",
        "grid_inspection",
        "{ residents(first: 2, orderBy: [{field: NAME}]) { totalCount edges { node { name phone } } } grids(first: 10) { totalCount edges { node { id name } } } }",
    ),
    (
        "D-EDUCATION",
        "enrollment_officer",
        "school_enrollment",
        "{ residents(first: 3, orderBy: [{field: BIRTH_DATE, direction: DESC}]) { totalCount edges { node { name birthDate } } } }",
    ),
];

/// A slow but allowed query: a full page of residents with their households.
const HEAVY: (&str, &str, &str, &str) = (
    "D-PUBLIC_SECURITY",
    "officer",
    "household_registration",
    "{ residents(first: 100, orderBy: [{field: NAME}]) { totalCount edges { node { id name idNumber ethnicity household { householdNumber } } } } }",
);

/// Text that would betray internals in a client's answer.
const INTERNAL: [&str; 9] = [
    "MATCH ",
    "RETURN ",
    "neo4rs",
    "Neo4j error",
    "Connection refused",
    ".rs:",
    "panicked",
    "backtrace",
    "bolt://",
];

fn key_of(agency: &str, role: &str) -> String {
    format!("mk_faults_{agency}_{role}")
}

/// A scratch folder holding the checked-in policies and the demo agencies' keys.
fn scratch(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let root = std::env::temp_dir().join(format!("mandate-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let policies = root.join("policies");
    common::copy_policies(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &policies,
    );
    let entries: Vec<_> = MIX
        .iter()
        .map(|(agency, role, _, _)| (*agency, vec![*role], key_of(agency, role)))
        .collect();
    let keys = common::keys_file(&root, "faults", &entries);
    (root, policies, keys)
}

/// One answer as the client saw it.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    request_id: String,
    body: Value,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    /// Whether the answer carries any value (not only nulls and empty lists).
    fn carries_data(&self) -> bool {
        fn some(v: &Value) -> bool {
            match v {
                Value::Null => false,
                Value::Array(a) => a.iter().any(some),
                Value::Object(m) => m.values().any(some),
                _ => true,
            }
        }
        some(&self.body["data"])
    }

    fn good(&self) -> bool {
        self.status == 200 && self.body.get("errors").is_none() && self.carries_data()
    }
}

async fn ask(
    client: &reqwest::Client,
    base: &str,
    who: (&str, &str, &str, &str),
) -> Result<Answer, reqwest::Error> {
    let (agency, role, purpose, query) = who;
    let resp = client
        .post(format!("{base}/graphql"))
        .header("x-api-key", key_of(agency, role))
        .header("x-mandate-purpose", purpose)
        .header("x-mandate-case", "CASE-FAULTS-1")
        .json(&json!({ "query": query }))
        .send()
        .await?;
    let status = resp.status().as_u16();
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "unparsed": text }));
    Ok(Answer {
        status,
        request_id,
        body,
    })
}

/// What is wrong with `answer` to a query that answered `reference` when all
/// was well, if anything: a 500, an error without a registry code (or with
/// INTERNAL_ERROR), internal text, data that differs, data without an error.
fn violation(answer: &Answer, reference: &Value) -> Option<String> {
    let text = answer.body.to_string();
    if answer.status == 500 {
        return Some(format!("a 500: {text}"));
    }
    if let Some(leak) = INTERNAL.iter().find(|t| text.contains(*t)) {
        return Some(format!("internal text {leak:?}: {text}"));
    }
    if answer.request_id.is_empty() {
        return Some(format!("no x-request-id: {text}"));
    }
    match answer.body.get("errors") {
        None => {
            (answer.body["data"] != *reference).then(|| format!("data differs from before: {text}"))
        }
        Some(errors) => {
            let errors = errors.as_array().cloned().unwrap_or_default();
            if errors.is_empty() {
                return Some(format!("an empty error list: {text}"));
            }
            for e in &errors {
                let code = e["extensions"]["code"].as_str().unwrap_or("");
                match mandate_resolvers::Code::parse(code) {
                    None => return Some(format!("an error without a registry code: {text}")),
                    Some(mandate_resolvers::Code::InternalError) => {
                        return Some(format!("INTERNAL_ERROR: {text}"))
                    }
                    Some(_) => {}
                }
            }
            // Partial data may come with an error, but only the data of before.
            if let Some(data) = answer.body["data"].as_object() {
                for (field, value) in data {
                    if !value.is_null() && reference[field] != *value {
                        return Some(format!("partial data differs from before: {text}"));
                    }
                }
            }
            None
        }
    }
}

// --- a Neo4j of this test's own ------------------------------------------------------------

const PORT: &str = "7701";
const PASSWORD: &str = "mandate-faults-password";

fn neo4j_home() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".neo4j/faults")
}

fn neo4j(action: &str) {
    let status = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/neo4j"))
        .arg(action)
        .env("MANDATE_NEO4J_HOME", neo4j_home())
        .env("MANDATE_NEO4J_BOLT_PORT", PORT)
        .env("MANDATE_NEO4J_PASSWORD", PASSWORD)
        .env("MANDATE_NEO4J_HEAP", "512m")
        .env("MANDATE_NEO4J_PAGECACHE", "64m")
        .stdout(Stdio::null())
        .status()
        .expect("scripts/neo4j runs");
    assert!(status.success(), "scripts/neo4j {action} failed");
}

/// SIGKILL to the Neo4j process recorded in its home; waits until it is gone.
fn kill_neo4j() {
    let pid = std::fs::read_to_string(neo4j_home().join("run/neo4j.pid"))
        .expect("Neo4j pid file")
        .trim()
        .to_string();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains(&neo4j_home().display().to_string()),
        "pid {pid} is this test's Neo4j"
    );
    let status = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(status.success());
    // Gone (or a zombie nobody reaps): its port closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(format!("127.0.0.1:{PORT}")).is_ok() {
        assert!(
            Instant::now() < deadline,
            "Neo4j still listening after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops this test's Neo4j however the test ends.
struct OwnNeo4j;

impl Drop for OwnNeo4j {
    fn drop(&mut self) {
        neo4j("stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4j_killed_under_load_clean_errors_then_the_same_answers() {
    tokio::task::spawn_blocking(|| {
        neo4j("reset");
        neo4j("start");
    })
    .await
    .unwrap();
    let _neo4j = OwnNeo4j;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (_root, policies, keys) = scratch("neo4j");
    let mut config = common::test_config();
    config.neo4j.uri = format!("bolt://127.0.0.1:{PORT}");
    config.neo4j.password = PASSWORD.into();
    config.neo4j.connect_timeout_ms = 1_000;
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    config.audit.chain = format!("faults-neo4j-{}", std::process::id());
    let chain = config.audit.chain.clone();
    let app = mandate::App::new(config).await.unwrap();
    mandate_connectors::apply_schema(&app.store, &mandate_schema::hub_catalog().unwrap())
        .await
        .unwrap();
    mandate_seed::seed(
        &app.store,
        &mandate_seed::CityParams {
            residents: 120,
            seed: 7,
        },
        false,
    )
    .await
    .unwrap();
    let hub = TestHub::serve(app).await;
    let base = format!("http://{}", hub.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Each query's answer while all is well.
    let mut reference = Vec::new();
    for who in MIX {
        let a = ask(&client, &base, who).await.unwrap();
        assert!(a.good(), "{who:?}: {:#}", a.body);
        reference.push(a.body["data"].clone());
    }
    let reference = Arc::new(reference);

    // Clients asking steadily, one per agency, each answer kept with its time.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(Instant, usize, Answer)>>> = Arc::default();
    let mut tasks = Vec::new();
    for (i, who) in MIX.into_iter().enumerate() {
        let (client, base, stop, seen) = (client.clone(), base.clone(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let a = ask(&client, &base, who)
                    .await
                    .expect("the hub answers every request, Neo4j up or down");
                seen.lock().unwrap().push((Instant::now(), i, a));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let killed = Instant::now();
    tokio::task::spawn_blocking(kill_neo4j).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let readyz = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(
        readyz.status().as_u16(),
        503,
        "not ready while Neo4j is down"
    );

    let restart = Instant::now();
    tokio::task::spawn_blocking(|| neo4j("start"))
        .await
        .unwrap();
    let ready = Instant::now();
    // A baseline: how soon a driver with no history (a fresh pool) reads again.
    let fresh = {
        let settings = mandate_connectors::Neo4jSettings {
            uri: format!("bolt://127.0.0.1:{PORT}"),
            user: "neo4j".into(),
            password: PASSWORD.into(),
            database: None,
            max_connections: 2,
            query_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(1),
        };
        let store = mandate_connectors::Neo4jStore::new(&settings).unwrap();
        tokio::spawn(async move {
            loop {
                let rows = store
                    .rows(
                        "MATCH (r:Resident {id: 'R00000042'}) RETURN r.name AS name",
                        serde_json::Map::new(),
                    )
                    .await;
                if rows.is_ok_and(|r| r.len() == 1) {
                    return Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Every agency answered well again, by the same hub. (Neo4j itself may need
    // many seconds after a crash before it answers in time: JIT and query plans
    // are cold, and on a loaded machine more so.)
    let deadline = ready + Duration::from_secs(90);
    loop {
        let recovered: BTreeSet<usize> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, a)| *t > ready && a.good())
            .map(|(_, i, _)| *i)
            .collect();
        if recovered.len() == MIX.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "agencies {recovered:?} of {} answered again within 90 s of Neo4j being ready",
            MIX.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    let fresh = fresh.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let mut problems = Vec::new();
    let mut codes_down: BTreeMap<String, usize> = BTreeMap::new();
    let mut good_down = 0;
    for (t, i, a) in &seen {
        if let Some(v) = violation(a, &reference[*i]) {
            problems.push(format!("{}: {v}", MIX[*i].0));
        }
        if *t > killed && *t < ready {
            match a.code() {
                Some(code) => *codes_down.entry(code.to_string()).or_default() += 1,
                None => good_down += 1,
            }
        }
    }
    assert_eq!(problems, Vec::<String>::new(), "answers that are not clean");
    // Only the codes of an unavailable backend while it is down.
    for code in codes_down.keys() {
        assert!(
            ["NEO4J_UNAVAILABLE", "NEO4J_TIMEOUT", "AUDIT_UNAVAILABLE"].contains(&code.as_str()),
            "{code} while Neo4j was down: {codes_down:?}"
        );
    }
    assert!(
        codes_down.contains_key("NEO4J_UNAVAILABLE"),
        "clients were told: {codes_down:?}"
    );
    let first_good = seen
        .iter()
        .filter(|(t, _, a)| *t > restart && a.good())
        .map(|(t, _, _)| *t)
        .min()
        .unwrap();
    let all_good = MIX
        .iter()
        .enumerate()
        .map(|(i, _)| {
            seen.iter()
                .filter(|(t, j, a)| *t > ready && *j == i && a.good())
                .map(|(t, _, _)| *t)
                .min()
                .unwrap()
        })
        .max()
        .unwrap();
    let ms_after_ready = |t: Instant| {
        t.duration_since(ready).as_millis() as i64 - ready.duration_since(t).as_millis() as i64
    };
    println!(
        "faults/neo4j: {} answers; while down ({:.1} s from SIGKILL to ready): {codes_down:?}, {good_down} good (answered before the kill took effect); \
         restart took {:.1} s; first good answer {:+} ms after `scripts/neo4j start` returned, every agency good {:+} ms after \
         (a fresh driver read again {:+} ms after)",
        seen.len(),
        (ready - killed).as_secs_f64(),
        (ready - restart).as_secs_f64(),
        ms_after_ready(first_good),
        ms_after_ready(all_good),
        ms_after_ready(fresh),
    );
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // Every answer that carried data was recorded first, and the kill left no
    // gap in the chain.
    let released: BTreeSet<String> = seen
        .iter()
        .filter(|(_, _, a)| a.carries_data())
        .map(|(_, _, a)| a.request_id.clone())
        .collect();
    let recorded: BTreeSet<String> = hub
        .reference(
            "MATCH (a:AuditRecord {chain: $c}) RETURN a.requestId AS id",
            json!({ "c": chain }),
        )
        .await
        .into_iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let unrecorded: Vec<_> = released.difference(&recorded).collect();
    assert!(
        unrecorded.is_empty(),
        "released without a record: {unrecorded:?}"
    );
    let n = hub.intact_chain(&chain).await;
    println!(
        "faults/neo4j: {} answers with data, all among the {n} records of an intact chain",
        released.len()
    );
}

// --- the hub as a child process ------------------------------------------------------------

/// `mandate serve` as a child process.
struct ChildHub {
    child: Child,
    base: String,
}

impl ChildHub {
    /// Starts `mandate serve --config <config>` (under `wrap`, a `bash -c` script
    /// that ends in `exec "$@"`, if given) and waits until it serves.
    fn start(config: &Path, log: &Path, wrap: Option<&str>, env: &[(&str, &str)]) -> ChildHub {
        let bin = env!("CARGO_BIN_EXE_mandate");
        let mut cmd = match wrap {
            Some(script) => {
                let mut c = Command::new("bash");
                c.args(["-c", script, "bash", bin]);
                c
            }
            None => Command::new(bin),
        };
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = cmd
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("mandate serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("mandate is serving GraphQL at http://") {
                    let addr: SocketAddr = rest.trim_end_matches("/graphql").parse().unwrap();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mandate serve did not start: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        };
        ChildHub {
            child,
            base: format!("http://{addr}"),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Waits (bounded) for the process to exit; its status.
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the hub did not exit in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn metric(&self, name: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name}: {text}"))
    }

    /// Waits (bounded) until every journaled record is in Neo4j.
    async fn wait_shipped(&self) {
        for _ in 0..200 {
            if self.metric("mandate_audit_unshipped_records").await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the journal never finished shipping");
    }
}

impl Drop for ChildHub {
    fn drop(&mut self) {
        // Only the child this test started, by its pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hub for one child-process test: its scratch folder, config file (audit
/// journal on, the test Neo4j), chain and journal, and an in-process hub on the
/// same Neo4j (no journal, another chain) that seeded the city, cleared the
/// chain and reads the audit log back.
struct Setup {
    root: PathBuf,
    config: PathBuf,
    chain: String,
    journal: PathBuf,
    admin: TestHub,
}

async fn setup(name: &str, extra_toml: &str) -> Setup {
    let (root, policies, keys) = scratch(name);
    let chain = format!("faults-{name}-{}", std::process::id());
    let journal = root.join("audit.jsonl");
    let mut admin = common::test_config();
    admin.auth.api_keys_file = keys.display().to_string();
    admin.policies.dir = policies.display().to_string();
    admin.audit.chain = format!("{chain}-admin");
    let uri = admin.neo4j.uri.clone();
    let password = admin.neo4j.password.clone();
    let admin = TestHub::start_with(admin).await;
    admin
        .write(
            "MATCH (a:AuditRecord {chain: $c}) DETACH DELETE a WITH count(*) AS n OPTIONAL MATCH (h:AuditHead {chain: $c}) DELETE h",
            json!({ "c": chain }),
        )
        .await;
    let config = root.join("mandate.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:0"
graphiql = false
{extra_server}
[neo4j]
uri = "{uri}"
password = "{password}"
{extra_neo4j}
[cursors]
secret = "faults-secret"

[auth]
api_keys_file = "{keys}"

[policies]
dir = "{policies}"
today = "{TODAY}"
reload_secs = 0

[audit]
chain = "{chain}"
journal = "{journal}"
journal_ship_ms = 50

[log]
level = "warn"
"#,
            extra_server = section(extra_toml, "server"),
            extra_neo4j = section(extra_toml, "neo4j"),
            keys = keys.display(),
            policies = policies.display(),
            journal = journal.display(),
        ),
    )
    .unwrap();
    Setup {
        root,
        config,
        chain,
        journal,
        admin,
    }
}

/// The lines of `extra` under `[name]` (a tiny helper for the settings each test adds).
fn section(extra: &str, name: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in extra.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == format!("[{name}]");
        } else if inside && !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

impl Setup {
    fn start(&self, wrap: Option<&str>) -> ChildHub {
        self.start_with_env(wrap, &[])
    }

    fn start_with_env(&self, wrap: Option<&str>, env: &[(&str, &str)]) -> ChildHub {
        ChildHub::start(&self.config, &self.root.join("hub.log"), wrap, env)
    }

    /// `mandate audit verify` with this hub's configuration: (success, output).
    fn verify(&self) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_mandate"))
            .arg("--config")
            .arg(&self.config)
            .args(["audit", "verify", "--chain", &self.chain])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Request ids of the records of this chain in Neo4j.
    async fn recorded(&self) -> BTreeSet<String> {
        self.admin
            .reference(
                "MATCH (a:AuditRecord {chain: $c}) RETURN a.requestId AS id",
                json!({ "c": self.chain }),
            )
            .await
            .into_iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Request ids of the records in the journal (which must read back whole).
    fn journaled(&self) -> BTreeSet<String> {
        let (ids, torn) = self.journaled_torn();
        assert_eq!(torn, 0, "the journal ends whole");
        ids
    }

    /// Request ids of the records in the journal, and the bytes of a torn last
    /// line (left by a process killed while writing it, never acknowledged).
    fn journaled_torn(&self) -> (BTreeSet<String>, u64) {
        let back = mandate_connectors::read_journal(&self.journal, false).unwrap();
        (
            back.records.into_iter().map(|r| r.request_id).collect(),
            back.torn_bytes,
        )
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Clients asking `MIX` in a loop against `base` until `stop`; every answer kept
/// (a request cut off by the hub's death is no answer).
fn load(
    base: &str,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> (Arc<Mutex<Vec<Answer>>>, Vec<tokio::task::JoinHandle<usize>>) {
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let tasks = (0..clients)
        .map(|c| {
            let (client, base, stop, answers) = (
                client.clone(),
                base.to_string(),
                stop.clone(),
                answers.clone(),
            );
            tokio::spawn(async move {
                let mut cut = 0;
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    match ask(&client, &base, MIX[i % MIX.len()]).await {
                        Ok(a) => answers.lock().unwrap().push(a),
                        Err(_) => cut += 1,
                    }
                    i += 1;
                }
                cut
            })
        })
        .collect();
    (answers, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_killed_mid_load_restarts_with_every_released_answer_recorded() {
    let s = setup("kill", "").await;
    // Nothing shipped to Neo4j before the kill: the records of the answers
    // released are in the journal only, and the restarted hub ships them.
    let mut hub = s.start_with_env(None, &[("MANDATE__AUDIT__JOURNAL_SHIP_MS", "600000")]);
    // Each agency's plan compiled once, as on a hub that has been serving.
    for who in MIX {
        let a = ask(&reqwest::Client::new(), &hub.base, who).await.unwrap();
        assert!(a.good(), "{:#}", a.body);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (answers, tasks) = load(&hub.base, 8, &stop);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hub.signal("KILL");
    let status = hub.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "killed: {status:?}");
    stop.store(true, Ordering::Relaxed);
    let mut cut = 0;
    for t in tasks {
        cut += t.await.unwrap();
    }
    let before: Vec<Answer> = answers.lock().unwrap().clone();
    let with_data: BTreeSet<String> = before
        .iter()
        .filter(|a| a.carries_data())
        .map(|a| a.request_id.clone())
        .collect();
    assert!(
        with_data.len() > 10,
        "load before the kill: {}",
        before.len()
    );
    for a in &before {
        assert!(a.good(), "{:#}", a.body);
    }
    let (journaled, torn) = s.journaled_torn();
    let unshipped_at_kill = journaled.len() - s.recorded().await.len();

    // Started again on the same journal: it ships what Neo4j lacks, and serves.
    let restarted = Instant::now();
    let hub = s.start(None);
    let serving = restarted.elapsed();
    let client = reqwest::Client::new();
    let after = ask(&client, &hub.base, MIX[0]).await.unwrap();
    assert!(after.good(), "{:#}", after.body);
    hub.wait_shipped().await;
    let recorded = s.recorded().await;
    let missing: Vec<_> = with_data.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "answers released without a record: {missing:?}"
    );
    assert!(recorded.contains(&after.request_id));
    let (ok, out) = s.verify();
    assert!(ok, "mandate audit verify: {out}");
    assert!(out.contains("audit log intact"), "{out}");
    assert!(
        out.contains(&format!("chain {}: {} records", s.chain, recorded.len())),
        "{out}"
    );
    s.admin.intact_chain(&s.chain).await;
    println!(
        "faults/hub-kill: {} answers with data before SIGKILL ({cut} requests cut off or refused), {unshipped_at_kill} records journaled but not yet in Neo4j at the kill, a torn last line of {torn} bytes; \
         restarted and serving in {} ms; {} records, `mandate audit verify`: intact",
        with_data.len(),
        serving.as_millis(),
        recorded.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_refuses_new_connections() {
    // One Neo4j connection for reads: the heavy requests queue behind each other,
    // so many are in flight when the signal comes.
    let s = setup(
        "drain",
        "[server]\nshutdown_grace_secs = 60\n[neo4j]\nmax_connections = 1\nquery_timeout_ms = 60000\n",
    )
    .await;
    let mut hub = s.start(None);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let warm = ask(&client, &hub.base, HEAVY).await.unwrap();
    assert!(warm.good(), "{:#}", warm.body);
    let received_before = hub.metric("mandate_graphql_requests_total").await;
    const N: u64 = 40;
    let started = Instant::now();
    let inflight: Vec<_> = (0..N)
        .map(|_| {
            let (client, base) = (client.clone(), hub.base.clone());
            tokio::spawn(async move {
                let a = ask(&client, &base, HEAVY).await;
                (a, Instant::now())
            })
        })
        .collect();
    // Every request has reached the handler before the signal.
    let deadline = Instant::now() + Duration::from_secs(30);
    while hub.metric("mandate_graphql_requests_total").await < received_before + N {
        assert!(Instant::now() < deadline, "requests never all arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done_before = inflight.iter().filter(|t| t.is_finished()).count();
    let term = Instant::now();
    hub.signal("TERM");
    // The listener closes at once; the process stays while the requests drain.
    let addr = hub.base.trim_start_matches("http://").to_string();
    let refused_at = loop {
        match std::net::TcpStream::connect(&addr) {
            // Refused, or reset when the connection reached the kernel's backlog
            // just as the listening socket closed: either way, not served.
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                    ),
                    "{e}"
                );
                break Instant::now();
            }
            Ok(_) => {
                assert!(term.elapsed() < Duration::from_secs(5), "still accepting");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let in_flight_when_refused = inflight.iter().filter(|t| !t.is_finished()).count();
    let mut answers = Vec::new();
    let mut last = term;
    for t in inflight {
        let (a, at) = t.await.unwrap();
        let a = a.expect("an in-flight request is answered, not cut");
        last = last.max(at);
        answers.push(a);
    }
    let status = hub.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "clean exit after draining: {status:?}");
    for a in &answers {
        assert!(a.good(), "{:#}", a.body);
    }
    assert!(
        done_before < N as usize,
        "requests were in flight at the signal"
    );
    assert!(
        in_flight_when_refused > 0,
        "new connections were refused while requests were still in flight"
    );
    // Every drained answer has its record, in the journal (synced before release).
    let journaled = s.journaled();
    let missing: Vec<_> = answers
        .iter()
        .map(|a| &a.request_id)
        .filter(|id| !journaled.contains(*id))
        .collect();
    assert!(missing.is_empty(), "drained without a record: {missing:?}");
    println!(
        "faults/drain: {N} heavy requests sent, {} in flight at SIGTERM ({:.1} s after sending), new connections refused after {} ms with {in_flight_when_refused} still in flight; \
         the last answered {} ms after SIGTERM; exit {status}; all {N} answered with data and journaled",
        N as usize - done_before,
        (term - started).as_secs_f64(),
        (refused_at - term).as_millis(),
        (last - term).as_millis(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_disk_full_fails_closed_and_recovers_when_space_returns() {
    let s = setup("full", "").await;
    // SIGXFSZ ignored (as a hub under a full disk would not see it), so a write
    // past the file-size limit fails with EFBIG instead of killing the process.
    let hub = s.start(Some("trap '' XFSZ; exec \"$@\""));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut answers = Vec::new();
    for who in MIX {
        let a = ask(&client, &hub.base, who).await.unwrap();
        assert!(a.good(), "{:#}", a.body);
        answers.push(a);
    }
    // The disk fills: room for less than one more record.
    let size = std::fs::metadata(&s.journal).unwrap().len();
    prlimit(hub.pid(), &format!("{}:", size + 200));
    let full = Instant::now();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    let mut during = Vec::new();
    for round in 0..3 {
        for who in MIX {
            let a = ask(&client, &hub.base, who).await.unwrap();
            assert!(
                !a.carries_data(),
                "round {round}: data released while the journal cannot be written: {:#}",
                a.body
            );
            assert_eq!(a.status, 503, "{:#}", a.body);
            assert!(violation(&a, &Value::Null).is_none(), "{:#}", a.body);
            *refused.entry(a.code().unwrap().to_string()).or_default() += 1;
            during.push(a);
        }
    }
    assert_eq!(
        refused.keys().collect::<Vec<_>>(),
        ["AUDIT_UNAVAILABLE"],
        "{refused:?}"
    );
    assert_eq!(
        std::fs::metadata(&s.journal).unwrap().len(),
        size,
        "the failed writes were cut off again"
    );
    let log = std::fs::read_to_string(s.root.join("hub.log")).unwrap();
    assert!(
        log.contains("audit journal write failed") && log.contains("File too large"),
        "the writes failed as on a full disk: {log}"
    );
    // Space returns: the same hub takes records again.
    prlimit(hub.pid(), "unlimited:");
    let back = Instant::now();
    let mut first_good = None;
    for _ in 0..100 {
        let a = ask(&client, &hub.base, MIX[1]).await.unwrap();
        if a.good() {
            first_good = Some(Instant::now());
            answers.push(a);
            break;
        }
        assert!(violation(&a, &Value::Null).is_none(), "{:#}", a.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_good = first_good.expect("the hub answers again once the space returns");
    for who in MIX {
        let a = ask(&client, &hub.base, who).await.unwrap();
        assert!(a.good(), "{:#}", a.body);
        answers.push(a);
    }
    // The journal reads back whole: every answer given is in it, no refusal is.
    let journaled = s.journaled();
    for a in &answers {
        assert!(
            journaled.contains(&a.request_id),
            "{} unrecorded",
            a.request_id
        );
    }
    for a in &during {
        assert!(
            !journaled.contains(&a.request_id),
            "a refused request journaled"
        );
    }
    hub.wait_shipped().await;
    let (ok, out) = s.verify();
    assert!(ok, "mandate audit verify: {out}");
    s.admin.intact_chain(&s.chain).await;
    println!(
        "faults/disk-full: {} requests refused while the journal could not grow ({refused:?}, {} ms), none with data; \
         first good answer {} ms after the space returned; {} answers, all journaled, chain intact",
        during.len(),
        (back - full).as_millis(),
        (first_good - back).as_millis(),
        answers.len()
    );
}

/// Sets the file-size limit of process `pid` (`soft:` keeps the hard limit, so
/// no privilege is needed to raise it again).
fn prlimit(pid: u32, limit: &str) {
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit --fsize={limit}");
}
