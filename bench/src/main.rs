//! mandate-bench: closed-loop load against the hub over HTTP, or against Neo4j
//! directly with hand-written Cypher (the floor), with the same workload.
//!
//! ```text
//! mandate-bench hub    --url http://127.0.0.1:8080/graphql --workload nested --concurrency 8 --seconds 10
//! mandate-bench floor  --neo4j bolt://127.0.0.1:7687 --workload nested --concurrency 8 --seconds 10
//! ```
//!
//! Each client picks a random resident id of the seeded city per request.

mod abuse;
mod compare;
mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use mandate_connectors::{Neo4jSettings, Neo4jStore};
use rand::Rng;
use serde_json::{json, Map, Value};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Workload {
    /// Lookup by id: resident → household → building → grid.
    Nested,
    /// Lookup by id of one resident's scalar fields.
    Point,
    /// A filtered, sorted page of 50 residents of one grid.
    GridList,
    /// A sorted page of 50 residents with no filter: for an agency whose mandate is
    /// one grid, the row scope alone selects them (compare with grid-list's floor).
    ScopedList,
    /// The first 20 residents of the agency's rows, id and name: the twin of
    /// remote-list without remote fields.
    LocalList,
    /// The first 20 residents with two fields the health commission's subgraph
    /// serves (vaccinations, familyDoctor): one `_entities` call per request.
    RemoteList,
    /// Owner writes: `updateResident` of a phone number, each client on its own
    /// residents (taken from the agency's first 100), with the value it last wrote
    /// as the precondition.
    Update,
}

#[derive(Debug, Subcommand)]
enum Target {
    /// Run one write statement (fixtures for a benchmark, e.g. a test department).
    Exec {
        #[arg(long, default_value = "bolt://127.0.0.1:7687")]
        neo4j: String,
        #[arg(long, default_value = "mandate-dev-password")]
        password: String,
        /// The Cypher statement.
        cypher: String,
    },
    /// Cost of policy decisions: plan compilation (cold) and the per-request path
    /// (authenticate, purpose check, plan cache hit) — no GraphQL, no query.
    Policy {
        #[arg(long, default_value = "bolt://127.0.0.1:7687")]
        neo4j: String,
        #[arg(long, default_value = "mandate-dev-password")]
        password: String,
        /// Iterations of the per-request path.
        #[arg(long, default_value_t = 200_000)]
        iterations: u32,
    },
    /// The audit log alone: records appended through the hub's writer (group
    /// commit, chained, durable) with no query around them.
    Audit {
        #[arg(long, default_value = "bolt://127.0.0.1:7687")]
        neo4j: String,
        #[arg(long, default_value = "mandate-dev-password")]
        password: String,
        /// The chain written (its records are left in place).
        #[arg(long, default_value = "bench-audit")]
        chain: String,
        /// Resident ids each record discloses (each a `DISCLOSED` link).
        #[arg(long, default_value_t = 1)]
        disclosed: usize,
        /// Append through this journal file (synced per batch, shipped to Neo4j
        /// behind) instead of committing each batch to Neo4j.
        #[arg(long)]
        journal: Option<std::path::PathBuf>,
        #[command(flatten)]
        load: Load,
    },
    /// Serves mandate in-process with the audit write replaced by nothing, to
    /// measure what the audit costs (compare with `mandate serve`). Takes the
    /// same configuration (file and environment) as `mandate serve`.
    ServeWithoutAudit {
        #[arg(long, default_value = "127.0.0.1:8091")]
        listen: String,
    },
    /// Prints, as JSON lines, the Cypher mandate generates for each comparison
    /// workload (for the agency of the configuration in the environment) and the
    /// hand-written floor's, with parameters — input for bench/profile.py.
    Cypher {
        #[arg(long, default_value = "D-GRID_MANAGEMENT-T1")]
        agency: String,
        #[arg(long, default_value = "grid_worker")]
        role: String,
        #[arg(long, default_value = "grid_inspection")]
        purpose: String,
        #[arg(long, value_delimiter = ',', default_value = "G00001")]
        grids: Vec<String>,
    },
    /// Prints how many residents the city holds.
    Count {
        #[arg(long, default_value = "bolt://127.0.0.1:7687")]
        neo4j: String,
        #[arg(long, default_value = "mandate-dev-password")]
        password: String,
    },
    /// mandate vs the peer (@neo4j/graphql) vs the floor on the same Neo4j,
    /// after a correctness gate; prints a Markdown table (see bench/run).
    Compare {
        #[arg(long, default_value = "http://127.0.0.1:8090/graphql")]
        hub_url: String,
        /// The benchmark agency's API key at mandate.
        #[arg(long)]
        hub_key: String,
        /// The same mandate served by `serve-without-audit`, to show the audit's cost.
        #[arg(long)]
        bare_url: Option<String>,
        #[arg(long)]
        bare_pid: Option<u32>,
        /// The same mandate writing each audit record straight to Neo4j (no
        /// journal), to compare the two audit paths.
        #[arg(long)]
        direct_url: Option<String>,
        #[arg(long)]
        direct_pid: Option<u32>,
        #[arg(long, default_value = "http://127.0.0.1:4000/")]
        peer_url: String,
        /// A bearer token for the peer.
        #[arg(long)]
        peer_token: String,
        #[arg(long, default_value = "bolt://127.0.0.1:7700")]
        neo4j: String,
        #[arg(long, default_value = "mandate-dev-password")]
        password: String,
        /// The agency's jurisdiction.
        #[arg(long, value_delimiter = ',', default_value = "G00001")]
        grids: Vec<String>,
        /// Client counts to run each workload at.
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        concurrency: Vec<usize>,
        /// Seconds per measured run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Workloads (default: all).
        #[arg(long, value_delimiter = ',')]
        workloads: Vec<String>,
        /// Requests per workload in the correctness gate.
        #[arg(long, default_value_t = 25)]
        gate_samples: usize,
        /// Seconds of the mixed workload each target gets before anything is
        /// measured (Neo4j's JIT and caches take a while on one CPU).
        #[arg(long, default_value_t = 20)]
        warmup: u64,
        #[arg(long)]
        hub_pid: Option<u32>,
        #[arg(long)]
        peer_pid: Option<u32>,
        #[arg(long)]
        neo4j_pid: Option<u32>,
    },
    /// Abusive traffic beside normal traffic: the normal agency's p50/p99 alone
    /// and beside another agency's abusive clients, and how fast each abusive
    /// request was answered (see bench/abuse).
    Abuse {
        #[arg(long, default_value = "http://127.0.0.1:8093/graphql")]
        url: String,
        /// The normal agency's API key and purpose.
        #[arg(long)]
        normal_key: String,
        #[arg(long)]
        normal_purpose: String,
        /// The abusive agency's API key and purpose.
        #[arg(long)]
        abuser_key: String,
        #[arg(long)]
        abuser_purpose: String,
        /// Normal clients.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Abusive clients.
        #[arg(long, default_value_t = 4)]
        abusers: usize,
        /// Seconds of each phase.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Residents in the seeded city.
        #[arg(long, default_value_t = 100_000)]
        residents: u64,
    },
    /// Through the hub's GraphQL endpoint.
    Hub {
        #[arg(long, default_value = "http://127.0.0.1:8080/graphql")]
        url: String,
        /// Ask as an agency: its API key (sent as x-api-key)...
        #[arg(long)]
        api_key: Option<String>,
        /// ...and the purpose stated (x-mandate-purpose; the case is `BENCH`).
        #[arg(long, default_value = "")]
        purpose: String,
        #[command(flatten)]
        load: Load,
    },
    /// A departmental subgraph asked directly, as the hub asks it for the
    /// remote-list workload (one `_entities` of `representations` residents'
    /// `familyDoctor` and `vaccinations { date vaccine }`): the subgraph's own time.
    Subgraph {
        #[arg(long, default_value = "http://127.0.0.1:4801/graphql")]
        url: String,
        /// The hub's credential there (`Authorization: Bearer`).
        #[arg(long, default_value = "health-demo-token")]
        token: String,
        /// Residents per call.
        #[arg(long, default_value_t = 20)]
        representations: usize,
        #[command(flatten)]
        load: Load,
    },
    /// Hand-written Cypher through neo4rs, no GraphQL.
    Floor {
        #[arg(long, default_value = "bolt://127.0.0.1:7687")]
        neo4j: String,
        #[arg(long, default_value = "mandate-dev-password")]
        password: String,
        /// Run this Cypher instead of the workload's hand-written one (e.g. the
        /// hub's generated text, to separate Cypher cost from GraphQL cost).
        #[arg(long)]
        cypher: Option<String>,
        #[command(flatten)]
        load: Load,
    },
}

#[derive(Debug, clap::Args)]
struct Load {
    #[arg(long, value_enum, default_value = "nested")]
    workload: Workload,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Residents in the seeded city (ids are drawn from 1..=N).
    #[arg(long, default_value_t = 100_000)]
    residents: u64,
    /// Grids in the seeded city (ids are drawn from 1..=N).
    #[arg(long, default_value_t = 90)]
    grids: u64,
}

fn graphql(w: Workload) -> &'static str {
    match w {
        Workload::Nested => "query($id: ID!) { resident(id: $id) { id name household { id memberCount building { address yearBuilt grid { id name } } } } }",
        Workload::Point => "query($id: ID!) { resident(id: $id) { id name birthDate sex hukouType } }",
        Workload::ScopedList => "{ residents(first: 50, orderBy: [{field: BIRTH_DATE}]) { edges { node { id name birthDate } } } }",
        Workload::LocalList => "{ residents(first: 20) { edges { node { id name } } } }",
        Workload::RemoteList => "{ residents(first: 20) { edges { node { id name familyDoctor vaccinations { vaccine date } } } } }",
        Workload::Update => "mutation($id: ID!, $to: String, $was: String) { updateResident(id: $id, set: { phone: $to }, expect: { phone: $was }) { id } }",
        Workload::GridList => "query($g: ID!) { residents(first: 50, orderBy: [{field: BIRTH_DATE}], where: {household: {where: {building: {where: {grid: {where: {id: {eq: $g}}}}}}}}) { edges { node { id name birthDate } } } }",
    }
}

fn cypher(w: Workload) -> &'static str {
    match w {
        Workload::Nested => "MATCH (r:Resident {id: $id}) OPTIONAL MATCH (r)-[:MEMBER_OF]->(h:Household) OPTIONAL MATCH (h)-[:RESIDES_IN]->(b:Building) OPTIONAL MATCH (b)-[:IN_GRID]->(g:Grid) RETURN {id: r.id, name: r.name, household: {id: h.id, memberCount: h.memberCount, building: {address: b.address, yearBuilt: b.yearBuilt, grid: {id: g.id, name: g.name}}}} AS data",
        Workload::Point => "MATCH (r:Resident {id: $id}) RETURN {id: r.id, name: r.name, birthDate: toString(r.birthDate), sex: r.sex, hukouType: r.hukouType} AS data",
        Workload::LocalList | Workload::RemoteList | Workload::Update => "RETURN null AS data",
        Workload::GridList | Workload::ScopedList => "MATCH (:Grid {id: $g})<-[:IN_GRID]-(:Building)<-[:RESIDES_IN]-(:Household)<-[:MEMBER_OF]-(r:Resident) WITH r ORDER BY r.birthDate, r.id LIMIT 50 RETURN collect({id: r.id, name: r.name, birthDate: toString(r.birthDate)}) AS data",
    }
}

fn report(name: &str, load: &Load, mut latencies: Vec<Duration>, errors: usize, elapsed: Duration) {
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{name} workload={:?} concurrency={} requests={} errors={} throughput={:.0}/s p50={:.2}ms p99={:.2}ms",
        load.workload,
        load.concurrency,
        latencies.len(),
        errors,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
}

async fn run<F, Fut>(load: &Load, one: F) -> (Vec<Duration>, usize, Duration)
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let (residents, grids) = (load.residents, load.grids);
    let random_ids = move || {
        let mut rng = rand::rng();
        let r = rng.random_range(1..=residents);
        let g = rng.random_range(1..=grids);
        json!({"id": format!("R{r:08}"), "g": format!("G{g:05}")})
    };
    load::closed_loop(load.concurrency, load.seconds, random_ids, one).await
}

/// The `update` workload: each request takes a resident no other client is
/// updating, sets a new phone number with the one it last wrote as `expect`,
/// and gives the resident back.
async fn updates(
    url: String,
    api_key: Option<String>,
    purpose: String,
    load: &Load,
) -> (Vec<Duration>, usize, Duration) {
    let client = reqwest::Client::new();
    let ask = {
        let client = client.clone();
        move |query: &str, variables: Value| {
            let mut req = client
                .post(&url)
                .json(&json!({"query": query, "variables": variables}));
            if let Some(key) = &api_key {
                req = req
                    .header("x-api-key", key)
                    .header("x-mandate-purpose", &purpose)
                    .header("x-mandate-case", "BENCH-WRITES");
            }
            req.send()
        }
    };
    let first: Value = match ask(
        "{ residents(first: 100) { edges { node { id phone } } } }",
        json!({}),
    )
    .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => {
            eprintln!("bench: cannot list residents: {e}");
            std::process::exit(1);
        }
    };
    let pool: Vec<(String, Value)> = first["data"]["residents"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| {
                    Some((
                        e["node"]["id"].as_str()?.to_string(),
                        e["node"]["phone"].clone(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if pool.len() < load.concurrency {
        eprintln!(
            "bench: the agency reads {} residents, fewer than the clients: {first}",
            pool.len()
        );
        std::process::exit(1);
    }
    let pool = std::sync::Arc::new(std::sync::Mutex::new(pool));
    let take = {
        let pool = pool.clone();
        move || {
            let mut p = pool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let i = rand::rng().random_range(0..p.len());
            p.swap_remove(i)
        }
    };
    let ask = std::sync::Arc::new(ask);
    load::closed_loop(
        load.concurrency,
        load.seconds,
        take,
        move |(id, was): (String, Value)| {
            let ask = ask.clone();
            let pool = pool.clone();
            async move {
                let to = format!("139{:08}", rand::rng().random_range(0..100_000_000u32));
                let ok = match ask(
                    graphql(Workload::Update),
                    json!({"id": id, "to": to, "was": was}),
                )
                .await
                {
                    Ok(resp) => resp
                        .json::<Value>()
                        .await
                        .is_ok_and(|b| b.get("errors").is_none()),
                    Err(_) => false,
                };
                let now = if ok { json!(to) } else { was };
                pool.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((id, now));
                ok
            }
        },
    )
    .await
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match cli.target {
        Target::Exec {
            neo4j,
            password,
            cypher,
        } => {
            let store = Neo4jStore::new(&Neo4jSettings {
                uri: neo4j,
                user: "neo4j".into(),
                password,
                database: None,
                max_connections: 1,
                query_timeout: Duration::from_secs(60),
                connect_timeout: Duration::from_secs(2),
            });
            match store {
                Ok(s) => {
                    if let Err(e) = s.execute(&cypher, Map::new()).await {
                        eprintln!("mandate-bench: {e}");
                    }
                }
                Err(e) => eprintln!("mandate-bench: {e}"),
            }
        }
        Target::Audit {
            neo4j,
            password,
            chain,
            disclosed,
            journal,
            load,
        } => audit(neo4j, password, chain, disclosed, journal, load).await,
        Target::ServeWithoutAudit { listen } => serve_without_audit(listen).await,
        Target::Abuse {
            url,
            normal_key,
            normal_purpose,
            abuser_key,
            abuser_purpose,
            concurrency,
            abusers,
            seconds,
            residents,
        } => {
            let side = |key, purpose| abuse::Side {
                url: url.clone(),
                key,
                purpose,
            };
            abuse::run(
                side(normal_key, normal_purpose),
                side(abuser_key, abuser_purpose),
                concurrency,
                abusers,
                seconds,
                residents,
            )
            .await;
        }
        Target::Cypher {
            agency,
            role,
            purpose,
            grids,
        } => {
            let result = async {
                let config = mandate::Config::load(None).map_err(|e| e.to_string())?;
                let hub = mandate::App::new(config).await.map_err(|e| e.to_string())?;
                let pools = compare::Pools::load(&hub.store, &grids).await?;
                compare::statements(&hub, &agency, &[role], &purpose, &pools, &grids).await
            }
            .await;
            match result {
                Ok(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                }
                Err(e) => {
                    eprintln!("mandate-bench: {e}");
                    std::process::exit(1);
                }
            }
        }
        Target::Count { neo4j, password } => {
            let count = match compare::floor_store(neo4j, password) {
                Ok(store) => store
                    .rows("MATCH (r:Resident) RETURN count(r) AS n", Map::new())
                    .await
                    .map_err(|e| e.to_string())
                    .map(|rows| rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0)),
                Err(e) => Err(e),
            };
            match count {
                Ok(n) => println!("{n}"),
                Err(e) => {
                    eprintln!("mandate-bench: {e}");
                    std::process::exit(1);
                }
            }
        }
        Target::Compare {
            hub_url,
            hub_key,
            bare_url,
            bare_pid,
            direct_url,
            direct_pid,
            peer_url,
            peer_token,
            neo4j,
            password,
            grids,
            concurrency,
            seconds,
            workloads,
            gate_samples,
            warmup,
            hub_pid,
            peer_pid,
            neo4j_pid,
        } => {
            let store = match compare::floor_store(neo4j, password) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!("mandate-bench: {e}");
                    std::process::exit(1);
                }
            };
            let pools = match compare::Pools::load(&store, &grids).await {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    eprintln!("mandate-bench: {e}");
                    std::process::exit(1);
                }
            };
            let targets = compare::Targets {
                hub_url,
                hub_key,
                bare_url,
                direct_url,
                peer_url,
                peer_token,
                store,
                grids,
                client: reqwest::Client::new(),
            };
            match compare::gate(&targets, &pools, gate_samples).await {
                Ok(n) => eprintln!(
                    "mandate-bench: correctness gate passed: {n} requests, mandate = peer = floor"
                ),
                Err(e) => {
                    eprintln!("mandate-bench: correctness gate FAILED\n{e}");
                    std::process::exit(1);
                }
            }
            let pids = compare::Pids {
                hub: hub_pid,
                bare: bare_pid,
                direct: direct_pid,
                peer: peer_pid,
                neo4j: neo4j_pid,
            };
            let workloads: Vec<String> = if workloads.is_empty() {
                compare::WORKLOADS.iter().map(|w| w.to_string()).collect()
            } else {
                workloads
            };
            // Warm every server up once (Neo4j's plan cache and JIT, the audit
            // statement, the peer's V8) so the first workload is not penalized.
            let _ = compare::measure(&targets, pools.clone(), pids, "mix", 4, warmup).await;
            let mut rows = Vec::new();
            for w in &workloads {
                for &c in &concurrency {
                    let got = compare::measure(&targets, pools.clone(), pids, w, c, seconds).await;
                    for r in &got {
                        eprintln!(
                            "mandate-bench: {w} x{c} {}: {:.0}/s p50 {:.2} ms",
                            r.target, r.throughput, r.p50
                        );
                    }
                    rows.extend(got);
                }
            }
            print!("{}", compare::table(&rows, &compare::peaks(pids)));
        }
        Target::Policy {
            neo4j,
            password,
            iterations,
        } => policy_bench(neo4j, password, iterations).await,
        Target::Hub {
            url,
            api_key,
            purpose,
            load,
        } if matches!(load.workload, Workload::Update) => {
            let (lat, errors, elapsed) = updates(url, api_key, purpose, &load).await;
            report("hub", &load, lat, errors, elapsed);
        }
        Target::Hub {
            url,
            api_key,
            purpose,
            load,
        } => {
            let client = reqwest::Client::new();
            let query = graphql(load.workload);
            let (lat, errors, elapsed) = run(&load, move |vars| {
                let client = client.clone();
                let url = url.clone();
                let api_key = api_key.clone();
                let purpose = purpose.clone();
                async move {
                    let mut req = client
                        .post(&url)
                        .json(&json!({"query": query, "variables": vars}));
                    if let Some(key) = api_key {
                        req = req
                            .header("x-api-key", key)
                            .header("x-mandate-purpose", purpose)
                            .header("x-mandate-case", "BENCH");
                    }
                    match req.send().await {
                        Ok(resp) => match resp.json::<Value>().await {
                            Ok(body) => body.get("errors").is_none(),
                            Err(_) => false,
                        },
                        Err(_) => false,
                    }
                }
            })
            .await;
            report("hub", &load, lat, errors, elapsed);
        }
        Target::Subgraph {
            url,
            token,
            representations,
            load,
        } => {
            let client = reqwest::Client::new();
            let body = json!({
                "query": "query($representations:[_Any!]!){_entities(representations:$representations){...on Resident{familyDoctor vaccinations{date vaccine} }}}",
                "variables": {"representations": (1..=representations)
                    .map(|i| json!({"__typename": "Resident", "id": format!("R{i:08}")}))
                    .collect::<Vec<_>>()},
            });
            let (lat, errors, elapsed) = run(&load, move |_| {
                let client = client.clone();
                let url = url.clone();
                let token = token.clone();
                let body = body.clone();
                async move {
                    match client
                        .post(&url)
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(resp) => resp
                            .json::<Value>()
                            .await
                            .is_ok_and(|b| b["data"]["_entities"].is_array()),
                        Err(_) => false,
                    }
                }
            })
            .await;
            report("subgraph", &load, lat, errors, elapsed);
        }
        Target::Floor {
            neo4j,
            password,
            cypher: custom,
            load,
        } => {
            let store = match Neo4jStore::new(&Neo4jSettings {
                uri: neo4j,
                user: "neo4j".into(),
                password,
                database: None,
                max_connections: 16,
                query_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(2),
            }) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!("mandate-bench: {e}");
                    std::process::exit(1);
                }
            };
            let text: &'static str = match custom {
                Some(t) => Box::leak(t.into_boxed_str()),
                None => cypher(load.workload),
            };
            let (lat, errors, elapsed) = run(&load, move |vars| {
                let store = store.clone();
                async move {
                    let mut params: Map<String, Value> =
                        vars.as_object().cloned().unwrap_or_default();
                    // The hub's generated text names its parameters $p0, $p1, ...
                    params.insert("p0".into(), params["id"].clone());
                    store.rows(text, params).await.is_ok()
                }
            })
            .await;
            report("floor", &load, lat, errors, elapsed);
        }
    }
}

const AGENCIES: [(&str, &str, &str, &str); 7] = [
    (
        "D-CIVIL_AFFAIRS",
        "CIVIL_AFFAIRS",
        "caseworker",
        "subsidy_review",
    ),
    (
        "D-PUBLIC_SECURITY",
        "PUBLIC_SECURITY",
        "officer",
        "household_registration",
    ),
    (
        "D-HEALTH",
        "HEALTH",
        "health_officer",
        "elderly_health_service",
    ),
    (
        "D-EDUCATION",
        "EDUCATION",
        "enrollment_officer",
        "school_enrollment",
    ),
    ("D-HOUSING", "HOUSING", "inspector", "building_safety"),
    (
        "D-HUMAN_RESOURCES",
        "HUMAN_RESOURCES",
        "employment_officer",
        "employment_services",
    ),
    (
        "D-GRID_MANAGEMENT-S01",
        "GRID_MANAGEMENT",
        "grid_worker",
        "grid_inspection",
    ),
];

async fn policy_bench(neo4j: String, password: String, iterations: u32) {
    let catalog = match mandate_schema::hub_catalog() {
        Ok(c) => c,
        Err(e) => return eprintln!("mandate-bench: {e}"),
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let started = Instant::now();
    let policies = match mandate_policies::Policies::load(&dir, &catalog).await {
        Ok(p) => p,
        Err(e) => return eprintln!("mandate-bench: {e}"),
    };
    println!(
        "policy load: {:.1} ms ({} items)",
        started.elapsed().as_secs_f64() * 1000.0,
        policies.items().len()
    );
    for (agency, dept, role, purpose) in AGENCIES {
        let key = mandate_policies::PlanKey {
            agency: agency.into(),
            department: dept.into(),
            roles: vec![role.into()],
            purpose: purpose.into(),
            context: mandate_policies::ScopeContext {
                jurisdiction: mandate_policies::Jurisdiction::default(),
                today: "2026-11-29".into(),
            },
        };
        let n = 50;
        let started = Instant::now();
        for _ in 0..n {
            if policies.compile(&key).is_err() {
                return eprintln!("mandate-bench: compile failed");
            }
        }
        println!(
            "plan compile (cold, casbin enforce per field) {agency}/{purpose}: {:.0} us",
            started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    }
    // The per-request path on a hub: API key check, purpose check, plan cache hit.
    let keys = std::env::temp_dir().join(format!("mandate-bench-keys-{}.toml", std::process::id()));
    let key = "mk_bench_key";
    let entry = format!(
        "[[key]]\nid = \"bench\"\nagency = \"D-CIVIL_AFFAIRS\"\nofficer = \"bench\"\nroles = [\"caseworker\"]\nsha256 = \"{}\"\n",
        mandate::auth::hash_api_key(key)
    );
    if std::fs::write(&keys, entry).is_err() {
        return eprintln!("mandate-bench: cannot write {}", keys.display());
    }
    let mut config = mandate::Config::default();
    config.neo4j.uri = neo4j;
    config.neo4j.password = password;
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = dir.display().to_string();
    let app = match mandate::App::new(config).await {
        Ok(h) => h,
        Err(e) => return eprintln!("mandate-bench: {e}"),
    };
    let caller = mandate_hub::Caller {
        agency: "D-CIVIL_AFFAIRS".to_string(),
        officer: "bench".to_string(),
        roles: vec!["caseworker".to_string()],
        purposes: vec![],
    };
    let started = Instant::now();
    if let Err(e) = app.hub.api(&caller, "subsidy_review").await {
        return eprintln!("mandate-bench: {e:?}");
    }
    println!(
        "first request of an agency (jurisdiction read + compile + schema build): {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let mut headers = poem::http::HeaderMap::new();
    if let Ok(v) = key.parse() {
        headers.insert("x-api-key", v);
    }
    let started = Instant::now();
    for _ in 0..iterations {
        let ok = match app.auth.authenticate(&headers) {
            Ok(p) => {
                let caller = mandate_hub::Caller {
                    agency: p.agency,
                    officer: p.officer,
                    roles: p.roles,
                    purposes: p.purposes,
                };
                app.policies()
                    .names_purpose(&caller.agency, "subsidy_review")
                    && app.hub.api(&caller, "subsidy_review").await.is_ok()
            }
            Err(_) => false,
        };
        if !ok {
            return eprintln!("mandate-bench: decision failed");
        }
    }
    println!(
        "per-request decision (authenticate + purpose + plan cache hit): {:.2} us over {iterations} requests",
        started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
    );
    let _ = std::fs::remove_file(&keys);
}

async fn audit(
    neo4j: String,
    password: String,
    chain: String,
    disclosed: usize,
    journal: Option<std::path::PathBuf>,
    load: Load,
) {
    use mandate_audit::{AuditRecord, AuditSink};
    let store = match Neo4jStore::new(&Neo4jSettings {
        uri: neo4j,
        user: "neo4j".into(),
        password,
        database: None,
        max_connections: 4,
        query_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
    }) {
        Ok(s) => s,
        Err(e) => return eprintln!("mandate-bench: {e}"),
    };
    let writer: Arc<dyn AuditSink> = match journal {
        None => Arc::new(mandate_connectors::AuditWriter::start(
            store.clone(),
            chain,
            Duration::from_secs(5),
        )),
        Some(path) => {
            let settings = mandate_connectors::JournalSettings {
                path,
                chain,
                timeout: Duration::from_secs(5),
                max_backlog: 1_000_000,
                compact_bytes: 64 << 20,
                ship_interval: Duration::from_millis(250),
            };
            match mandate_connectors::AuditJournal::open(store.clone(), settings) {
                Ok(j) => Arc::new(j),
                Err(e) => return eprintln!("mandate-bench: {e}"),
            }
        }
    };
    let settle = writer.clone();
    let residents = load.residents;
    let (latencies, errors, elapsed) = run(&load, move |_| {
        let writer = writer.clone();
        async move {
            let ids = {
                let mut rng = rand::rng();
                (0..disclosed)
                    .map(|_| format!("R{:08}", rng.random_range(1..=residents)))
                    .collect()
            };
            let record = AuditRecord {
                chain: String::new(),
                seq: 0,
                time: "2026-12-01T00:00:00.000Z".into(),
                request_id: "bench".into(),
                client_request_id: String::new(),
                unrecorded_before: 0,
                action: String::new(),
                target: String::new(),
                agency: "D-BENCH".into(),
                officer: "bench".into(),
                purpose: "bench".into(),
                case_number: "BENCH".into(),
                operation: "0".repeat(64),
                decision: mandate_audit::Decision::Allowed,
                code: String::new(),
                fields: vec!["Resident.name".into()],
                residents: ids,
                prev_hash: String::new(),
                hash: String::new(),
            };
            writer.append(record).await.is_ok()
        }
    })
    .await;
    report("audit", &load, latencies, errors, elapsed);
    // With a journal: how long Neo4j takes to hold everything acknowledged.
    let started = std::time::Instant::now();
    let backlog = settle.unshipped();
    match settle.settle().await {
        Ok(()) => println!(
            "shipped to Neo4j {:.1} ms after the last acknowledgement ({backlog} records were waiting)",
            started.elapsed().as_secs_f64() * 1000.0
        ),
        Err(e) => println!("not shipped: {e}"),
    }
    println!("audit statements sent: {}", store.queries_sent());
}

/// An audit sink that keeps nothing (benchmark only).
struct Discard;

impl mandate_audit::AuditSink for Discard {
    fn append(
        &self,
        _record: mandate_audit::AuditRecord,
    ) -> futures::future::BoxFuture<'_, Result<(), mandate_audit::AuditError>> {
        Box::pin(async { Ok(()) })
    }
}

async fn serve_without_audit(listen: String) {
    let config = match mandate::Config::load(None) {
        Ok(c) => c,
        Err(e) => return eprintln!("mandate-bench: {e}"),
    };
    let hub = match mandate::App::with_audit_sink(config, Arc::new(Discard)).await {
        Ok(h) => h,
        Err(e) => return eprintln!("mandate-bench: {e}"),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(mandate::serve(hub, listen, tx, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    if let Ok(addr) = rx.await {
        eprintln!("mandate-bench: serving WITHOUT AUDIT at http://{addr}/graphql (benchmark only)");
    }
    let _ = server.await;
}
