//! Side by side: mandate, the peer (@neo4j/graphql behind Apollo Server) and the
//! floor (hand-written Cypher through neo4rs), on the same Neo4j and city, for a
//! grid-management centre whose mandate is its own grids.
//!
//! First a correctness gate: for every workload, sampled variables are sent to
//! all three and the answers, brought to one canonical JSON shape, must be equal.
//! Then each (workload, concurrency, target) runs closed loop for a while; the
//! servers' CPU time (`/proc/<pid>/stat`) and peak RSS are read around it, and
//! mandate's own Cypher counter gives queries per request. The result is a
//! Markdown table on stdout.

use std::sync::Arc;
use std::time::Duration;

use mandate_connectors::{Neo4jSettings, Neo4jStore};
use rand::seq::IndexedRandom as _;
use serde_json::{json, Map, Value};

/// The workloads, by name.
pub const WORKLOADS: [&str; 8] = [
    "point",
    "nested",
    "scoped-list",
    "filtered-list",
    "members",
    "count",
    "deny-heavy",
    "mix",
];

/// One request: the same question in each dialect.
struct Ask {
    hub_query: &'static str,
    peer_query: &'static str,
    floor_cypher: &'static str,
    vars: Value,
}

const HUB_POINT: &str = "query($id: ID!) { resident(id: $id) { id name birthDate sex phone } }";
const PEER_POINT: &str = "query($id: ID!) { residents(where: {id: {eq: $id}}, limit: 1) { id name birthDate sex phone } }";
const FLOOR_POINT: &str = "MATCH (r:Resident {id: $id})
WHERE EXISTS { MATCH (r)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid) WHERE g.id IN $grids }
RETURN {id: r.id, name: r.name, birthDate: toString(r.birthDate), sex: r.sex, phone: r.phone} AS data";

const HUB_NESTED: &str = "query($id: ID!) { resident(id: $id) { name household { unit building { address grid { name } } } } }";
const PEER_NESTED: &str = "query($id: ID!) { residents(where: {id: {eq: $id}}, limit: 1) { name household { unit building { address grid { name } } } } }";
const FLOOR_NESTED: &str = "MATCH (r:Resident {id: $id})-[:MEMBER_OF]->(h:Household)-[:RESIDES_IN]->(b:Building)-[:IN_GRID]->(g:Grid)
WHERE g.id IN $grids
RETURN {name: r.name, household: {unit: h.unit, building: {address: b.address, grid: {name: g.name}}}} AS data";

const HUB_SCOPED: &str = "{ residents(first: 50, orderBy: [{field: BIRTH_DATE}]) { totalCount edges { node { id name birthDate } } } }";
const PEER_SCOPED: &str = "{ residentsConnection(first: 50, sort: [{birthDate: ASC}, {id: ASC}]) { totalCount edges { node { id name birthDate } } } }";
const FLOOR_SCOPED: &str = "MATCH (g:Grid) WHERE g.id IN $grids
RETURN {
  total: COUNT { MATCH (g)<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(:Household)<-[:MEMBER_OF]-(r:Resident) },
  rows: COLLECT { MATCH (g)<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(:Household)<-[:MEMBER_OF]-(r:Resident)
    WITH r ORDER BY r.birthDate, r.id LIMIT 50 RETURN {id: r.id, name: r.name, birthDate: toString(r.birthDate)} }
} AS data";

const HUB_FILTERED: &str = "{ residents(first: 50, where: {sex: {eq: FEMALE}, birthDate: {lt: \"1970-01-01\"}}, orderBy: [{field: BIRTH_DATE, direction: DESC}]) { totalCount edges { node { id name birthDate } } } }";
const PEER_FILTERED: &str = "{ residentsConnection(first: 50, where: {sex: {eq: FEMALE}, birthDate: {lt: \"1970-01-01\"}}, sort: [{birthDate: DESC}, {id: ASC}]) { totalCount edges { node { id name birthDate } } } }";
const FLOOR_FILTERED: &str = "MATCH (g:Grid) WHERE g.id IN $grids
RETURN {
  total: COUNT { MATCH (g)<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(:Household)<-[:MEMBER_OF]-(r:Resident)
    WHERE r.sex = 'FEMALE' AND r.birthDate < date('1970-01-01') },
  rows: COLLECT { MATCH (g)<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(:Household)<-[:MEMBER_OF]-(r:Resident)
    WHERE r.sex = 'FEMALE' AND r.birthDate < date('1970-01-01')
    WITH r ORDER BY r.birthDate DESC, r.id LIMIT 50 RETURN {id: r.id, name: r.name, birthDate: toString(r.birthDate)} }
} AS data";

const HUB_MEMBERS: &str = "query($id: ID!) { household(id: $id) { unit members(first: 10) { edges { relationToHead node { name idNumber } } } } }";
const PEER_MEMBERS: &str = "query($id: ID!) { households(where: {id: {eq: $id}}, limit: 1) { unit membersConnection(first: 10, sort: [{node: {id: ASC}}]) { edges { properties { relationToHead } node { name idNumber } } } } }";
const FLOOR_MEMBERS: &str = "MATCH (h:Household {id: $id})-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid)
WHERE g.id IN $grids
RETURN {unit: h.unit, members: COLLECT { MATCH (h)<-[m:MEMBER_OF]-(r:Resident)
  WITH r, m ORDER BY r.id LIMIT 10
  RETURN {relationToHead: m.relationToHead, name: r.name, idNumber: left(r.idNumber, 6) + '************'} }} AS data";

const HUB_COUNT: &str = "{ residents { totalCount } }";
const PEER_COUNT: &str = "{ residentsConnection { totalCount } }";
const FLOOR_COUNT: &str = "MATCH (g:Grid) WHERE g.id IN $grids
RETURN COUNT { MATCH (g)<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(:Household)<-[:MEMBER_OF]-(r:Resident) } AS data";

const HUB_DENY: &str = "query($id: ID!) { resident(id: $id) { id household { id } } }";
const PEER_DENY: &str =
    "query($id: ID!) { residents(where: {id: {eq: $id}}, limit: 1) { id household { id } } }";
const FLOOR_DENY: &str = "MATCH (r:Resident {id: $id})-[:MEMBER_OF]->(h:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid)
WHERE g.id IN $grids
RETURN {id: r.id, household: {id: h.id}} AS data";

/// Ids to ask for: inside the jurisdiction, and (sometimes) outside it.
pub struct Pools {
    residents_in: Vec<String>,
    residents_out: Vec<String>,
    households_in: Vec<String>,
}

impl Pools {
    /// Reads the pools from the city.
    pub async fn load(store: &Neo4jStore, grids: &[String]) -> Result<Pools, String> {
        let ids = |text: &'static str, grids: &[String]| {
            let mut p = Map::new();
            p.insert("grids".into(), json!(grids));
            let store = store.clone();
            async move {
                store
                    .rows(text, p)
                    .await
                    .map(|rows| {
                        rows.iter()
                            .filter_map(|r| r["id"].as_str().map(str::to_string))
                            .collect::<Vec<_>>()
                    })
                    .map_err(|e| e.to_string())
            }
        };
        let residents_in = ids("MATCH (g:Grid) WHERE g.id IN $grids MATCH (g)<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(:Household)<-[:MEMBER_OF]-(r:Resident) RETURN r.id AS id", grids).await?;
        let residents_out = ids("MATCH (r:Resident)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(g:Grid) WHERE NOT g.id IN $grids RETURN r.id AS id LIMIT 5000", grids).await?;
        let households_in = ids("MATCH (g:Grid) WHERE g.id IN $grids MATCH (g)<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(h:Household) RETURN h.id AS id", grids).await?;
        if residents_in.is_empty() || households_in.is_empty() || residents_out.is_empty() {
            return Err("the jurisdiction holds no residents (is the city seeded?)".into());
        }
        Ok(Pools {
            residents_in,
            residents_out,
            households_in,
        })
    }

    /// A resident id: nine in ten inside the jurisdiction.
    fn resident(&self, rng: &mut impl rand::Rng) -> String {
        let pool = if rng.random_bool(0.9) {
            &self.residents_in
        } else {
            &self.residents_out
        };
        pool.choose(rng).cloned().unwrap_or_default()
    }
}

fn ask(workload: &str, pools: &Pools, rng: &mut impl rand::Rng) -> Ask {
    let w = if workload == "mix" {
        *WORKLOADS[..7].choose(rng).unwrap_or(&"point")
    } else {
        workload
    };
    let resident = || json!({ "id": pools.resident(&mut rand::rng()) });
    let (hub_query, peer_query, floor_cypher, vars) = match w {
        "point" => (HUB_POINT, PEER_POINT, FLOOR_POINT, resident()),
        "nested" => (HUB_NESTED, PEER_NESTED, FLOOR_NESTED, resident()),
        "scoped-list" => (HUB_SCOPED, PEER_SCOPED, FLOOR_SCOPED, json!({})),
        "filtered-list" => (HUB_FILTERED, PEER_FILTERED, FLOOR_FILTERED, json!({})),
        "members" => (
            HUB_MEMBERS,
            PEER_MEMBERS,
            FLOOR_MEMBERS,
            json!({ "id": pools.households_in.choose(rng).cloned().unwrap_or_default() }),
        ),
        "count" => (HUB_COUNT, PEER_COUNT, FLOOR_COUNT, json!({})),
        _ => (HUB_DENY, PEER_DENY, FLOOR_DENY, resident()),
    };
    Ask {
        hub_query,
        peer_query,
        floor_cypher,
        vars,
    }
}

/// A connection `{totalCount, edges: [{node}]}` as `{total, rows}`.
fn conn(c: &Value) -> Value {
    let rows: Vec<Value> = c["edges"]
        .as_array()
        .map(|e| e.iter().map(|x| x["node"].clone()).collect())
        .unwrap_or_default();
    json!({ "total": c["totalCount"], "rows": rows })
}

/// mandate's answer in the canonical shape.
fn canon_hub(query: &str, data: &Value) -> Value {
    match query {
        HUB_POINT | HUB_NESTED | HUB_DENY => data["resident"].clone(),
        HUB_SCOPED | HUB_FILTERED => conn(&data["residents"]),
        HUB_COUNT => data["residents"]["totalCount"].clone(),
        _ => {
            let h = &data["household"];
            if h.is_null() {
                return Value::Null;
            }
            let members: Vec<Value> = h["members"]["edges"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .map(|x| json!({"relationToHead": x["relationToHead"], "name": x["node"]["name"], "idNumber": x["node"]["idNumber"]}))
                        .collect()
                })
                .unwrap_or_default();
            json!({ "unit": h["unit"], "members": members })
        }
    }
}

/// The peer's answer in the canonical shape.
fn canon_peer(query: &str, data: &Value) -> Value {
    let first = |list: &Value| list.as_array().and_then(|a| a.first()).cloned();
    match query {
        PEER_POINT | PEER_NESTED | PEER_DENY => first(&data["residents"]).unwrap_or(Value::Null),
        PEER_SCOPED | PEER_FILTERED => conn(&data["residentsConnection"]),
        PEER_COUNT => data["residentsConnection"]["totalCount"].clone(),
        _ => match first(&data["households"]) {
            None => Value::Null,
            Some(h) => {
                let members: Vec<Value> = h["membersConnection"]["edges"]
                    .as_array()
                    .map(|e| {
                        e.iter()
                            .map(|x| json!({"relationToHead": x["properties"]["relationToHead"], "name": x["node"]["name"], "idNumber": x["node"]["idNumber"]}))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({ "unit": h["unit"], "members": members })
            }
        },
    }
}

/// Who answers, and how to reach it.
#[derive(Clone)]
pub struct Targets {
    /// mandate's GraphQL URL.
    pub hub_url: String,
    /// The benchmark agency's API key at mandate.
    pub hub_key: String,
    /// The same mandate with its audit write replaced by nothing, if served.
    pub bare_url: Option<String>,
    /// The same mandate with its audit written straight to Neo4j, if served.
    pub direct_url: Option<String>,
    /// The peer's GraphQL URL.
    pub peer_url: String,
    /// A bearer token for the peer (its JWT carries the grids).
    pub peer_token: String,
    /// Neo4j for the floor.
    pub store: Arc<Neo4jStore>,
    /// The jurisdiction.
    pub grids: Vec<String>,
    /// HTTP client.
    pub client: reqwest::Client,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Hub,
    /// mandate committing each audit record to Neo4j (no journal).
    Direct,
    /// mandate without the audit write (what the audit costs).
    Bare,
    Peer,
    Floor,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Hub => "mandate",
            Target::Direct => "mandate, audit to Neo4j",
            Target::Bare => "mandate, no audit",
            Target::Peer => "peer",
            Target::Floor => "floor",
        }
    }
}

impl Targets {
    /// Asks `target`; the canonical answer, or why not.
    async fn answer(&self, target: Target, a: &Ask) -> Result<Value, String> {
        match target {
            Target::Floor => {
                let mut params: Map<String, Value> =
                    a.vars.as_object().cloned().unwrap_or_default();
                params.insert("grids".into(), json!(self.grids));
                let rows = self
                    .store
                    .rows(a.floor_cypher, params)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(rows
                    .first()
                    .map(|r| r["data"].clone())
                    .unwrap_or(Value::Null))
            }
            Target::Hub | Target::Direct | Target::Bare | Target::Peer => {
                let (url, query) = match target {
                    Target::Hub => (&self.hub_url, a.hub_query),
                    Target::Direct => (
                        self.direct_url.as_ref().unwrap_or(&self.hub_url),
                        a.hub_query,
                    ),
                    Target::Bare => (self.bare_url.as_ref().unwrap_or(&self.hub_url), a.hub_query),
                    _ => (&self.peer_url, a.peer_query),
                };
                let mandate = target != Target::Peer;
                let mut req = self
                    .client
                    .post(url)
                    .json(&json!({"query": query, "variables": a.vars}));
                req = if mandate {
                    req.header("x-api-key", &self.hub_key)
                        .header("x-mandate-purpose", "grid_inspection")
                        .header("x-mandate-case", "BENCH")
                } else {
                    req.bearer_auth(&self.peer_token)
                };
                let body: Value = req
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(errors) = body.get("errors") {
                    return Err(errors.to_string());
                }
                Ok(if mandate {
                    canon_hub(query, &body["data"])
                } else {
                    canon_peer(query, &body["data"])
                })
            }
        }
    }
}

/// The correctness gate: `samples` requests per workload, all three answers equal.
pub async fn gate(t: &Targets, pools: &Pools, samples: usize) -> Result<usize, String> {
    let mut checked = 0;
    for w in &WORKLOADS[..7] {
        for _ in 0..samples {
            let a = ask(w, pools, &mut rand::rng());
            let hub = t.answer(Target::Hub, &a).await?;
            if t.direct_url.is_some() && t.answer(Target::Direct, &a).await? != hub {
                return Err(format!(
                    "workload {w}: mandate with its audit straight to Neo4j answers differently"
                ));
            }
            if t.bare_url.is_some() && t.answer(Target::Bare, &a).await? != hub {
                return Err(format!(
                    "workload {w}: mandate without audit answers differently"
                ));
            }
            let peer = t.answer(Target::Peer, &a).await?;
            let floor = t.answer(Target::Floor, &a).await?;
            if hub != floor || peer != floor {
                return Err(format!(
                    "workload {w}, variables {}:\n  mandate {hub}\n  peer    {peer}\n  floor   {floor}",
                    a.vars
                ));
            }
            checked += 1;
        }
    }
    Ok(checked)
}

/// CPU seconds (user + system) of a process so far.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// Peak resident set of a process, MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn hub_cypher_total(t: &Targets) -> Option<f64> {
    let url = t.hub_url.replace("/graphql", "/metrics");
    let text = t.client.get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("mandate_cypher_queries_total "))
        .and_then(|v| v.trim().parse().ok())
}

/// One measured row.
pub struct Row {
    /// Workload name.
    pub workload: String,
    /// Clients.
    pub concurrency: usize,
    /// Who answered.
    pub target: &'static str,
    /// Answers per second.
    pub throughput: f64,
    /// Median latency, ms.
    pub p50: f64,
    /// 99th percentile latency, ms.
    pub p99: f64,
    /// Failed requests.
    pub errors: usize,
    /// Server CPU per request, ms (mandate or the peer; none for the floor).
    pub server_cpu_ms: Option<f64>,
    /// Neo4j CPU per request, ms.
    pub neo4j_cpu_ms: Option<f64>,
    /// Cypher queries per request (mandate only).
    pub cypher_per_request: Option<f64>,
}

/// Process ids to read CPU from.
#[derive(Clone, Copy)]
pub struct Pids {
    /// mandate.
    pub hub: Option<u32>,
    /// mandate without the audit write.
    pub bare: Option<u32>,
    /// mandate with its audit straight to Neo4j.
    pub direct: Option<u32>,
    /// The peer (node).
    pub peer: Option<u32>,
    /// Neo4j (java).
    pub neo4j: Option<u32>,
}

/// Runs one (workload, concurrency) closed loop against each target.
pub async fn measure(
    t: &Targets,
    pools: Arc<Pools>,
    pids: Pids,
    workload: &str,
    concurrency: usize,
    seconds: u64,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut targets = vec![Target::Hub];
    if t.direct_url.is_some() {
        targets.push(Target::Direct);
    }
    if t.bare_url.is_some() {
        targets.push(Target::Bare);
    }
    targets.extend([Target::Peer, Target::Floor]);
    for target in targets {
        // Warm up (plans, caches, JIT) without measuring.
        let _ = closed_loop(t, pools.clone(), target, workload, concurrency, 2).await;
        let server = match target {
            Target::Hub => pids.hub,
            Target::Direct => pids.direct,
            Target::Bare => pids.bare,
            Target::Peer => pids.peer,
            Target::Floor => None,
        };
        let cpu0 = server.and_then(cpu_secs);
        let db0 = pids.neo4j.and_then(cpu_secs);
        let q0 = if target == Target::Hub {
            hub_cypher_total(t).await
        } else {
            None
        };
        let (mut lat, errors, elapsed) =
            closed_loop(t, pools.clone(), target, workload, concurrency, seconds).await;
        let cpu1 = server.and_then(cpu_secs);
        let db1 = pids.neo4j.and_then(cpu_secs);
        let q1 = if target == Target::Hub {
            hub_cypher_total(t).await
        } else {
            None
        };
        lat.sort();
        let n = lat.len().max(1) as f64;
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let per = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some((b - a) * 1000.0 / n),
            _ => None,
        };
        rows.push(Row {
            workload: workload.to_string(),
            concurrency,
            target: target.name(),
            throughput: lat.len() as f64 / elapsed.as_secs_f64(),
            p50: pct(0.5),
            p99: pct(0.99),
            errors,
            server_cpu_ms: per(cpu0, cpu1),
            neo4j_cpu_ms: per(db0, db1),
            // Hub requests only: the metrics scrape itself runs no Cypher.
            cypher_per_request: match (q0, q1) {
                (Some(a), Some(b)) => Some((b - a) / n),
                _ => None,
            },
        });
    }
    rows
}

async fn closed_loop(
    t: &Targets,
    pools: Arc<Pools>,
    target: Target,
    workload: &str,
    concurrency: usize,
    seconds: u64,
) -> (Vec<Duration>, usize, Duration) {
    let t = Arc::new(t.clone());
    let workload = workload.to_string();
    crate::load::closed_loop(
        concurrency,
        seconds,
        move || ask(&workload, &pools, &mut rand::rng()),
        move |a| {
            let t = t.clone();
            async move { t.answer(target, &a).await.is_ok() }
        },
    )
    .await
}

/// The rows as a Markdown table, with ratios against the peer and the floor.
pub fn table(rows: &[Row], peak: &[(&str, Option<f64>)]) -> String {
    let mut out = String::from(
        "| workload | clients | target | req/s | p50 ms | p99 ms | server CPU ms/req | Neo4j CPU ms/req | Cypher/req | × peer (req/s) | p50 ÷ floor p50 |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let f = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |x| format!("{x:.d$}"));
    for r in rows {
        let peer = rows.iter().find(|o| {
            o.workload == r.workload && o.concurrency == r.concurrency && o.target == "peer"
        });
        let floor = rows.iter().find(|o| {
            o.workload == r.workload && o.concurrency == r.concurrency && o.target == "floor"
        });
        let vs_peer = r
            .target
            .starts_with("mandate")
            .then(|| peer.map(|p| r.throughput / p.throughput.max(0.001)))
            .flatten();
        let vs_floor = (r.target != "floor")
            .then(|| floor.map(|fl| r.p50 / fl.p50.max(0.001)))
            .flatten();
        out.push_str(&format!(
            "| {} | {} | {} | {}{} | {:.2} | {:.2} | {} | {} | {} | {} | {} |\n",
            r.workload,
            r.concurrency,
            r.target,
            if r.throughput < 10.0 {
                format!("{:.1}", r.throughput)
            } else {
                format!("{:.0}", r.throughput)
            },
            if r.errors > 0 {
                format!(" ({} errors)", r.errors)
            } else {
                String::new()
            },
            r.p50,
            r.p99,
            f(r.server_cpu_ms, 3),
            f(r.neo4j_cpu_ms, 3),
            f(r.cypher_per_request, 2),
            f(vs_peer, 1),
            f(vs_floor, 2),
        ));
    }
    out.push('\n');
    for (name, mb) in peak {
        out.push_str(&format!("- peak RSS of {name}: {} MB\n", f(*mb, 0)));
    }
    out
}

/// Peak RSS of the servers.
pub fn peaks(pids: Pids) -> Vec<(&'static str, Option<f64>)> {
    vec![
        ("mandate", pids.hub.and_then(peak_rss_mb)),
        ("mandate, audit to Neo4j", pids.direct.and_then(peak_rss_mb)),
        ("mandate, no audit", pids.bare.and_then(peak_rss_mb)),
        ("the peer (node)", pids.peer.and_then(peak_rss_mb)),
        ("Neo4j", pids.neo4j.and_then(peak_rss_mb)),
    ]
}

/// The floor's Neo4j connection.
pub fn floor_store(uri: String, password: String) -> Result<Neo4jStore, String> {
    Neo4jStore::new(&Neo4jSettings {
        uri,
        user: "neo4j".into(),
        password,
        database: None,
        max_connections: 16,
        query_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
    })
    .map_err(|e| e.to_string())
}

/// For each workload (lookups with `id`), the Cypher mandate generates for the
/// benchmark agency and the hand-written floor, with their parameters, as JSON
/// lines `{workload, target, cypher, params}` (for `bench/profile.py`).
pub async fn statements(
    app: &mandate::App,
    agency: &str,
    roles: &[String],
    purpose: &str,
    pools: &Pools,
    grids: &[String],
) -> Result<Vec<Value>, String> {
    use async_graphql::parser::types::{DocumentOperations, Selection};
    let caller = mandate_hub::Caller {
        agency: agency.to_string(),
        officer: "bench".to_string(),
        roles: roles.to_vec(),
        purposes: vec![],
    };
    let api = app.hub.api(&caller, purpose).await.map_err(|e| e.message)?;
    let engine = app.hub.engine();
    let resident = pools.residents_in.first().cloned().unwrap_or_default();
    let household = pools.households_in.first().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for w in &WORKLOADS[..7] {
        let a = ask(w, pools, &mut rand::rng());
        let id = if *w == "members" {
            &household
        } else {
            &resident
        };
        let vars = if a.vars.get("id").is_some() {
            json!({ "id": id })
        } else {
            json!({})
        };
        let doc = mandate_resolvers::parse_document(a.hub_query).map_err(|e| e.message)?;
        let op = match &doc.operations {
            DocumentOperations::Single(op) => op,
            DocumentOperations::Multiple(ops) => ops.values().next().ok_or("no operation")?,
        };
        let variables = async_graphql::Variables::from_json(vars.clone());
        let walker = mandate_resolvers::Walker::new(
            engine,
            &api.plan,
            mandate_resolvers::Document::new(&doc.fragments, &op.node, &variables),
        );
        for item in &op.node.selection_set.node.items {
            if let Selection::Field(f) = &item.node {
                let q = walker.compile(&f.node).map_err(|e| e.message)?;
                out.push(json!({"workload": w, "target": "mandate", "cypher": q.text, "params": q.params}));
            }
        }
        let mut params = vars.as_object().cloned().unwrap_or_default();
        params.insert("grids".into(), json!(grids));
        out.push(
            json!({"workload": w, "target": "floor", "cypher": a.floor_cypher, "params": params}),
        );
    }
    Ok(out)
}
