//! More than one machine: three hub instances behind a round-robin balancer on
//! one Neo4j, each with its own audit chain and journal, sharing one policies
//! folder. They answer identically (byte for byte, cursors included), each
//! chain verifies on its own and every request is recorded exactly once across
//! them; a revocation saved to the shared lists applies to the very next
//! request on every instance; a changed jurisdiction reaches every instance
//! within `policies.jurisdiction_ttl_secs`; and a `neo4j://` routing URI serves
//! reads and audit writes through the routing table the server answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestHub;
use serde_json::{json, Value};

const TODAY: &str = "2026-11-29";
/// Grid centres of this file's own: one that stays on grid G00001, and one whose
/// jurisdiction a test moves (tests run concurrently).
const CENTRE: &str = "D-GRID_MANAGEMENT-T8";
const MOVING_CENTRE: &str = "D-GRID_MANAGEMENT-T9";

const CA: (&str, &str) = ("D-CIVIL_AFFAIRS", "caseworker");
const PS: (&str, &str) = ("D-PUBLIC_SECURITY", "officer");
const HEALTH: (&str, &str) = ("D-HEALTH", "health_officer");
const HOUSING: (&str, &str) = ("D-HOUSING", "inspector");
const HRSS: (&str, &str) = ("D-HUMAN_RESOURCES", "employment_officer");
const GRID: (&str, &str) = (CENTRE, "grid_worker");
const MOVING: (&str, &str) = (MOVING_CENTRE, "grid_worker");

/// What the demo agencies ask: (who, purpose, query).
const CASES: [((&str, &str), &str, &str); 6] = [
    (CA, "subsidy_review", "{ residents(first: 5, orderBy: [{field: NAME}]) { totalCount pageInfo { endCursor hasNextPage } edges { cursor node { id name idNumber household { memberCount } } } } }"),
    // (Buildings only: a police read of residents here would show in the
    // receipts tests/mandates.rs expects to hold only investigations.)
    (PS, "household_registration", "{ buildings(first: 4, orderBy: [{field: ADDRESS, direction: DESC}]) { totalCount edges { cursor node { id address grid { name } } } } }"),
    (HEALTH, "elderly_health_service", "{ residents(first: 3, orderBy: [{field: BIRTH_DATE}]) { totalCount edges { node { name birthDate disabilityStatus phone } } } }"),
    (HOUSING, "building_safety", "{ buildings(first: 3, where: {safetyGrade: {in: [C, D]}}, orderBy: [{field: SAFETY_GRADE, direction: DESC}]) { totalCount edges { node { address safetyGrade } } } }"),
    (HRSS, "employment_services", "{ residents(first: 3, orderBy: [{field: NAME}]) { totalCount edges { node { name occupation hukouType idNumber } } } }"),
    (GRID, "grid_inspection", "{ grids(first: 10) { totalCount edges { node { id name } } } }"),
];

fn key_of(who: (&str, &str)) -> String {
    format!("mk_multi_{}_{}", who.0, who.1)
}

/// A scratch folder unique to `name`: the shared policies folder (the checked-in
/// lists plus one for `centre`) and the API keys every instance accepts.
fn scratch(name: &str, centre: &str) -> Shared {
    let root = std::env::temp_dir().join(format!("mandate-multi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let policies = common::policies_with_test_centre(&root, centre);
    let entries: Vec<_> = [CA, PS, HEALTH, HOUSING, HRSS, GRID, MOVING]
        .iter()
        .map(|w| (w.0, vec![w.1], key_of(*w)))
        .collect();
    let keys = common::keys_file(&root, "multi", &entries);
    Shared {
        root,
        policies,
        keys,
    }
}

/// The test Neo4j's URI with the routing scheme (`neo4j://`), if it is a
/// `bolt://` one.
fn routing_uri(config: &mandate::Config) -> Option<String> {
    config
        .neo4j
        .uri
        .strip_prefix("bolt://")
        .map(|rest| format!("neo4j://{rest}"))
}

/// What the instances of a test share: its scratch folder, policies and keys.
struct Shared {
    root: PathBuf,
    policies: PathBuf,
    keys: PathBuf,
}

/// `n` instances on one Neo4j sharing `shared.policies`; instance `i` writes
/// chain `<name>-<pid>-<i>` through its own journal (when `journal`), and the
/// second one reaches Neo4j through the routing URI. `centre` serves grid
/// G00001 only.
async fn instances(
    name: &str,
    n: usize,
    shared: &Shared,
    centre: &str,
    journal: bool,
    tweak: impl Fn(&mut mandate::Config),
) -> Vec<TestHub> {
    let Shared {
        root,
        policies,
        keys,
    } = shared;
    let mut hubs = Vec::new();
    for i in 0..n {
        let mut config = common::test_config();
        config.auth.api_keys_file = keys.display().to_string();
        config.policies.dir = policies.display().to_string();
        config.policies.today = TODAY.into();
        config.audit.chain = format!("{name}-{}-{i}", std::process::id());
        if journal {
            config.audit.journal = root.join(format!("audit-{i}.jsonl")).display().to_string();
        }
        if i == 1 {
            if let Some(uri) = routing_uri(&config) {
                config.neo4j.uri = uri;
            }
        }
        tweak(&mut config);
        hubs.push(TestHub::start_with(config).await);
    }
    hubs[0]
        .write(
            "MERGE (d:Department {id: $id}) SET d.name = '测试网格化管理中心九', d.code = 'GRID_MANAGEMENT', d.level = 'SUBDISTRICT'
             WITH d OPTIONAL MATCH (d)-[s:SERVES]->() DELETE s
             WITH DISTINCT d MATCH (g:Grid {id: 'G00001'}) MERGE (d)-[:SERVES]->(g)",
            json!({ "id": centre }),
        )
        .await;
    hubs
}

/// One answer as it came over the wire.
struct Answer {
    /// Which instance answered.
    instance: usize,
    /// The hub's request id (`x-request-id`).
    request_id: String,
    /// The body's bytes.
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn code(&self) -> Value {
        self.json()["errors"][0]["extensions"]["code"].clone()
    }
}

/// A load balancer in front of the instances: round robin, nothing else.
struct Balancer {
    urls: Vec<String>,
    next: AtomicUsize,
    client: reqwest::Client,
}

impl Balancer {
    fn new(hubs: &[TestHub]) -> Arc<Balancer> {
        Arc::new(Balancer {
            urls: hubs.iter().map(|h| h.url("/graphql")).collect(),
            next: AtomicUsize::new(0),
            client: reqwest::Client::new(),
        })
    }

    /// Sends `query` as `who` for `purpose` to the next instance in turn.
    async fn send(
        &self,
        who: (&str, &str),
        purpose: &str,
        query: &str,
        variables: Value,
    ) -> Answer {
        let instance = self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len();
        let resp = self
            .client
            .post(&self.urls[instance])
            .header("x-api-key", key_of(who))
            .header("x-mandate-purpose", purpose)
            .header("x-mandate-case", "CASE-MULTI-1")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        Answer {
            instance,
            request_id,
            body: resp.text().await.unwrap(),
        }
    }
}

/// Waits (bounded) until no journaled record of `hub` waits for Neo4j.
async fn wait_until_shipped(hub: &TestHub) {
    for _ in 0..200 {
        if hub.metric("mandate_audit_unshipped_records").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the journal never finished shipping");
}

#[tokio::test]
async fn instances_behind_a_balancer_answer_alike_and_record_each_request_once() {
    let shared = scratch("alike", CENTRE);
    let hubs = instances("multi-alike", 3, &shared, CENTRE, true, |_| {}).await;
    let lb = Balancer::new(&hubs);
    let mut sent = Vec::new();

    // Every case asked of every instance in turn (twice round): the same bytes.
    for (who, purpose, query) in CASES {
        let mut bodies = BTreeMap::new();
        for _ in 0..2 * hubs.len() {
            let a = lb.send(who, purpose, query, json!({})).await;
            assert!(a.json().get("errors").is_none(), "{}: {}", who.0, a.body);
            assert!(a.json()["data"].is_object(), "{}", a.body);
            sent.push(a.request_id.clone());
            bodies
                .entry(a.body)
                .or_insert_with(Vec::new)
                .push(a.instance);
        }
        assert_eq!(
            bodies.len(),
            1,
            "{} answered differently by instance: {bodies:#?}",
            who.0
        );
        let answered: std::collections::BTreeSet<_> = bodies.values().flatten().copied().collect();
        assert_eq!(answered.len(), hubs.len(), "every instance answered");
    }

    // A cursor issued by one instance pages on another (one cursor secret).
    let page = "query($after: String) { residents(first: 5, after: $after, orderBy: [{field: NAME}]) { edges { node { id } } } }";
    let first = lb.send(CA, "subsidy_review", CASES[0].2, json!({})).await;
    sent.push(first.request_id.clone());
    let cursor = first.json()["data"]["residents"]["pageInfo"]["endCursor"].clone();
    assert!(cursor.is_string(), "{}", first.body);
    let mut seconds = BTreeMap::new();
    for _ in 0..hubs.len() {
        let a = lb
            .send(CA, "subsidy_review", page, json!({ "after": cursor }))
            .await;
        assert!(a.json().get("errors").is_none(), "{}", a.body);
        sent.push(a.request_id.clone());
        seconds
            .entry(a.body)
            .or_insert_with(Vec::new)
            .push(a.instance);
    }
    assert_eq!(seconds.len(), 1, "{seconds:#?}");

    // Concurrent load through the balancer.
    let burst = futures::future::join_all((0..30).map(|i| {
        let lb = lb.clone();
        let (who, purpose, query) = CASES[i % CASES.len()];
        async move { lb.send(who, purpose, query, json!({})).await }
    }))
    .await;
    for a in &burst {
        assert!(a.json().get("errors").is_none(), "{}", a.body);
        sent.push(a.request_id.clone());
    }

    // Each instance's chain verifies on its own (journal and Neo4j alike), and
    // across the chains every request is recorded exactly once.
    let mut recorded = Vec::new();
    for hub in &hubs {
        wait_until_shipped(hub).await;
        let chain = hub.hub.config.audit.chain.clone();
        let n = hub.intact_chain(&chain).await;
        assert!(n > 0, "chain {chain} holds records");
        let journal = PathBuf::from(&hub.hub.config.audit.journal);
        let unshipped = mandate_connectors::verify_journal(&hub.hub.store, &journal, &chain)
            .await
            .unwrap();
        assert_eq!(unshipped, 0, "{chain}");
        let ids = hub
            .reference_ids(
                "MATCH (a:AuditRecord {chain: $c}) RETURN a.requestId AS id",
                json!({ "c": chain }),
            )
            .await;
        assert_eq!(ids.len() as u64, n);
        recorded.extend(ids);
    }
    recorded.sort();
    sent.sort();
    assert_eq!(recorded, sent, "every request recorded once, in one chain");
    let _ = std::fs::remove_dir_all(&shared.root);
}

#[tokio::test]
async fn a_saved_revocation_applies_to_the_next_request_on_every_instance() {
    let shared = scratch("revoke", CENTRE);
    // No interval reload: only the per-request check can put the save in force.
    let hubs = instances("multi-revoke", 3, &shared, CENTRE, false, |c| {
        c.policies.reload_secs = 0;
    })
    .await;
    let lb = Balancer::new(&hubs);
    let q = "{ residents(first: 3, orderBy: [{field: NAME}]) { edges { node { id idNumber } } } }";
    for _ in 0..hubs.len() {
        let a = lb.send(CA, "subsidy_review", q, json!({})).await;
        let ids = a.json()["data"]["residents"]["edges"].clone();
        assert!(ids[0]["node"]["idNumber"].is_string(), "{}", a.body);
    }

    // The revocation: civil affairs no longer reads ID numbers.
    let list = shared.policies.join("lists/civil-affairs.csv");
    let granted = std::fs::read_to_string(&list).unwrap();
    let revoked: String = granted
        .lines()
        .filter(|l| !l.contains("Resident.idNumber"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(revoked, granted);
    let reads_before: Vec<u64> =
        futures::future::join_all(hubs.iter().map(|h| h.metric("mandate_policy_reads_total")))
            .await;
    std::fs::write(&list, &revoked).unwrap();

    // The very next request on every instance is refused: the field is gone
    // from the agency's schema.
    for _ in 0..hubs.len() {
        let a = lb.send(CA, "subsidy_review", q, json!({})).await;
        assert_eq!(
            a.code(),
            "GRAPHQL_VALIDATION_FAILED",
            "instance {}: {}",
            a.instance,
            a.body
        );
        assert!(!a.body.contains("\"idNumber\":\""), "{}", a.body);
    }
    // The rest of the list stands.
    let a = lb
        .send(
            CA,
            "subsidy_review",
            "{ residents(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(
        a.json()["data"]["residents"]["totalCount"].is_number(),
        "{}",
        a.body
    );

    // Granted again, then revoked again under concurrent load: no request that
    // starts after the save is served the field, and each instance reads the
    // lists once per save however many requests find them changed.
    std::fs::write(&list, &granted).unwrap();
    let a = lb.send(CA, "subsidy_review", q, json!({})).await;
    assert!(a.json().get("errors").is_none(), "{}", a.body);
    for h in &hubs {
        // Each instance sees the grant before the next revocation.
        let body = h
            .client
            .post(h.url("/graphql"))
            .header("x-api-key", key_of(CA))
            .header("x-mandate-purpose", "subsidy_review")
            .header("x-mandate-case", "CASE-MULTI-1")
            .json(&json!({ "query": q }))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!body.contains("errors"), "{body}");
    }
    std::fs::write(&list, &revoked).unwrap();
    let burst = futures::future::join_all((0..30).map(|_| {
        let lb = lb.clone();
        async move { lb.send(CA, "subsidy_review", q, json!({})).await }
    }))
    .await;
    for a in &burst {
        assert_eq!(
            a.code(),
            "GRAPHQL_VALIDATION_FAILED",
            "instance {}: {}",
            a.instance,
            a.body
        );
    }
    for (h, before) in hubs.iter().zip(reads_before) {
        // Three saves (revoke, grant, revoke): three reads, not one per request.
        assert_eq!(h.metric("mandate_policy_reads_total").await - before, 3);
    }
    let _ = std::fs::remove_dir_all(&shared.root);
}

/// The grids [`MOVING_CENTRE`] serves, as each instance answers.
async fn grids_seen(lb: &Balancer, n: usize) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let a = lb
            .send(MOVING, "grid_inspection", CASES[5].2, json!({}))
            .await;
        let ids: Vec<Value> = a.json()["data"]["grids"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", a.body))
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();
        seen.push(json!(ids));
    }
    seen
}

#[tokio::test]
async fn a_changed_jurisdiction_reaches_every_instance_within_its_ttl() {
    let shared = scratch("jurisdiction", MOVING_CENTRE);
    let ttl = Duration::from_secs(1);
    let hubs = instances(
        "multi-jurisdiction",
        3,
        &shared,
        MOVING_CENTRE,
        false,
        |c| {
            c.policies.jurisdiction_ttl_secs = ttl.as_secs();
        },
    )
    .await;
    let lb = Balancer::new(&hubs);
    assert_eq!(grids_seen(&lb, 3).await, vec![json!(["G00001"]); 3]);

    // The centre now serves another grid instead.
    hubs[0]
        .write(
            "MATCH (d:Department {id: $id})-[s:SERVES]->() DELETE s
             WITH DISTINCT d MATCH (g:Grid {id: 'G00002'}) MERGE (d)-[:SERVES]->(g)",
            json!({ "id": MOVING_CENTRE }),
        )
        .await;
    let changed = Instant::now();
    loop {
        let seen = grids_seen(&lb, 3).await;
        if seen == vec![json!(["G00002"]); 3] {
            break;
        }
        assert!(
            changed.elapsed() < ttl + Duration::from_millis(1500),
            "still {seen:?} after {:?}",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "jurisdiction change in force on all instances after {:?} (ttl {ttl:?})",
        changed.elapsed()
    );
    let _ = std::fs::remove_dir_all(&shared.root);
}

/// What a [`Relay`] saw the hub ask of Neo4j, by Bolt message.
#[derive(Default)]
struct Seen {
    /// `ROUTE`: routing-table requests.
    routes: AtomicUsize,
    /// `RUN` in read mode (`mode: "r"`).
    read_runs: AtomicUsize,
    /// `RUN` in write mode (`mode: "w"`).
    write_runs: AtomicUsize,
}

/// Reads the client's side of a Bolt connection: the 20-byte handshake, then
/// chunks (a big-endian length, that many bytes; a zero length ends a message).
struct BoltReader {
    handshake: usize,
    header: Vec<u8>,
    remaining: usize,
    message: Vec<u8>,
}

impl BoltReader {
    fn new() -> Self {
        BoltReader {
            handshake: 20,
            header: Vec::new(),
            remaining: 0,
            message: Vec::new(),
        }
    }

    fn feed(&mut self, mut bytes: &[u8], seen: &Seen) {
        while !bytes.is_empty() {
            if self.handshake > 0 {
                let n = self.handshake.min(bytes.len());
                self.handshake -= n;
                bytes = &bytes[n..];
            } else if self.remaining == 0 {
                self.header.push(bytes[0]);
                bytes = &bytes[1..];
                if self.header.len() == 2 {
                    let len = usize::from(u16::from_be_bytes([self.header[0], self.header[1]]));
                    self.header.clear();
                    if len == 0 {
                        Self::count(&std::mem::take(&mut self.message), seen);
                    }
                    self.remaining = len;
                }
            } else {
                let n = self.remaining.min(bytes.len());
                self.message.extend_from_slice(&bytes[..n]);
                self.remaining -= n;
                bytes = &bytes[n..];
            }
        }
    }

    /// A message is a PackStream structure: marker `0xB_` (fields), signature.
    fn count(message: &[u8], seen: &Seen) {
        let has = |needle: &[u8]| message.windows(needle.len()).any(|w| w == needle);
        match message {
            [m, 0x66, ..] if m & 0xF0 == 0xB0 => {
                seen.routes.fetch_add(1, Ordering::Relaxed);
            }
            [m, 0x10, ..] if m & 0xF0 == 0xB0 => {
                // The extra map's `mode`: tiny string "mode", tiny string "r"/"w".
                if has(b"\x84mode\x81r") {
                    seen.read_runs.fetch_add(1, Ordering::Relaxed);
                } else if has(b"\x84mode\x81w") {
                    seen.write_runs.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

/// A TCP relay to the test Neo4j that reads what the hub sends through it.
struct Relay {
    port: u16,
    seen: Arc<Seen>,
}

impl Relay {
    async fn to(target: String) -> Relay {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Seen::default());
        let seen_by_relay = seen.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(target.clone()).await else {
                    continue;
                };
                let (mut from_hub, mut to_hub) = inbound.into_split();
                let (mut from_neo4j, mut to_neo4j) = outbound.into_split();
                let seen = seen_by_relay.clone();
                tokio::spawn(async move {
                    let mut reader = BoltReader::new();
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = from_hub.read(&mut buf).await {
                        if n == 0 || to_neo4j.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        reader.feed(&buf[..n], &seen);
                    }
                    let _ = to_neo4j.shutdown().await;
                });
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_neo4j, &mut to_hub).await;
                    let _ = to_hub.shutdown().await;
                });
            }
        });
        Relay { port, seen }
    }
}

#[tokio::test]
async fn a_routing_uri_reads_from_readers_and_audits_to_the_writer() {
    let Shared {
        root,
        policies,
        keys,
    } = scratch("routing", CENTRE);
    let mut config = common::test_config();
    let Some(address) = config.neo4j.uri.strip_prefix("bolt://").map(str::to_string) else {
        panic!("the test Neo4j has a bolt:// URI: {}", config.neo4j.uri);
    };
    // The hub reaches Neo4j through a relay that reads its Bolt messages. A lone
    // server answers a routing table naming the address it was reached at (the
    // relay) for every role.
    let relay = Relay::to(address).await;
    config.neo4j.uri = format!("neo4j://127.0.0.1:{}", relay.port);
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    config.audit.chain = format!("multi-routing-{}", std::process::id());
    let hub = TestHub::start_with(config).await;
    let lb = Balancer::new(std::slice::from_ref(&hub));
    let (who, purpose, query) = CASES[0];
    let first = lb.send(who, purpose, query, json!({})).await;
    assert!(first.json().get("errors").is_none(), "{}", first.body);
    let mut ids = vec![first.request_id.clone()];
    for _ in 0..10 {
        let a = lb.send(who, purpose, query, json!({})).await;
        assert_eq!(a.body, first.body);
        ids.push(a.request_id);
    }
    let ready: Value = hub
        .client
        .get(hub.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    // The driver asked for routing tables — once per pool (the data and the
    // audit log's), cached for the table's TTL, not once per query — sent the
    // reads in read mode and the audit writes in write mode.
    let routes = relay.seen.routes.load(Ordering::Relaxed);
    let reads = relay.seen.read_runs.load(Ordering::Relaxed);
    let writes = relay.seen.write_runs.load(Ordering::Relaxed);
    println!("through the routing URI: {routes} ROUTE, {reads} read RUN, {writes} write RUN");
    assert!((1..=4).contains(&routes), "{routes} routing-table requests");
    assert!(reads >= 11, "{reads} reads in read mode");
    assert!(writes >= 2, "{writes} writes in write mode");
    // The audit records are in Neo4j, chained, one per request.
    let chain = hub.hub.config.audit.chain.clone();
    assert_eq!(hub.intact_chain(&chain).await, 11);
    let mut recorded = hub
        .reference_ids(
            "MATCH (a:AuditRecord {chain: $c}) RETURN a.requestId AS id",
            json!({ "c": chain }),
        )
        .await;
    recorded.sort();
    ids.sort();
    assert_eq!(recorded, ids);
    let _ = std::fs::remove_dir_all(&root);
}

/// The hub configurations of `deploy/` load (every key known, every value well
/// formed), and what differs per replica comes from the environment.
#[test]
fn the_deployment_configurations_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["deploy/mandate.toml", "deploy/k8s/mandate.toml"] {
        let env = vec![
            (
                "MANDATE__AUDIT__CHAIN".to_string(),
                "mandate-hub-2".to_string(),
            ),
            ("NEO4J_PASSWORD".to_string(), "from-a-secret".to_string()),
        ];
        let config = mandate::Config::load_from(Some(&root.join(file)), env)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(config.audit.chain, "mandate-hub-2", "{file}");
        assert_eq!(config.neo4j.password, "from-a-secret", "{file}");
        assert_eq!(config.server.listen, "0.0.0.0:8080", "{file}");
        assert!(!config.server.graphiql && !config.auth.open, "{file}");
        assert!(config.policies.check_per_request, "{file}");
        assert_eq!(
            config.audit.journal, "/var/lib/mandate/audit.jsonl",
            "{file}"
        );
        assert_eq!(config.log.format, mandate::LogFormat::Json, "{file}");
    }
}
