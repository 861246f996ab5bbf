//! Abusive traffic beside normal traffic: the normal agency's latency alone, then
//! with another agency's clients sending, in turn, every shape the cost model
//! refuses and queries the limits allow but the budgets cut short. Prints a
//! Markdown table: the normal p50/p99 alone, beside abuse and alone again (the
//! machine's own spread), and per abusive kind how it
//! was answered and how fast.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

/// One side of the test: where and as whom.
pub struct Side {
    pub url: String,
    pub key: String,
    pub purpose: String,
}

/// The abusive requests, by name: (name, query, variables).
fn abusive() -> Vec<(&'static str, String, Value)> {
    let mut fragments = String::from("{ ...F0 }\n");
    for i in 0..60 {
        fragments.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    fragments.push_str("fragment F60 on Query { __typename }\n");
    let roots = (0..40)
        .map(|i| format!("r{i}: households(first: 100) {{ totalCount }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let aliases = (0..5000)
        .map(|i| format!("a{i}: id"))
        .collect::<Vec<_>>()
        .join(" ");
    let wide: Vec<Value> = (0..5000)
        .map(|i| json!({"householdNumber": {"eq": format!("x{i}")}}))
        .collect();
    vec![
        ("fragments 2^60", fragments, json!({})),
        ("40 root fields", format!("{{ {roots} }}"), json!({})),
        (
            "5,000 aliases on one object",
            format!("{{ households(first: 1) {{ edges {{ node {{ {aliases} }} }} }} }}"),
            json!({}),
        ),
        (
            "where 5,000 terms wide",
            "query($w: HouseholdWhere) { households(first: 1, where: $w) { totalCount } }".into(),
            json!({"w": {"OR": wide}}),
        ),
        (
            "nested lists 100 x 100",
            "{ households(first: 100) { edges { node { id members(first: 100) { edges { relationToHead node { id name } } } } } } }".into(),
            json!({}),
        ),
        (
            "heaviest allowed (budget)",
            "{ households(first: 100) { edges { node { id householdNumber memberCount members(first: 20) { edges { relationToHead node { id name } } } } } } }".into(),
            json!({}),
        ),
    ]
}

async fn post(
    client: &reqwest::Client,
    side: &Side,
    query: &str,
    variables: &Value,
) -> (u16, String) {
    let body = json!({"query": query, "variables": variables}).to_string();
    send(client, side, body).await
}

/// Sends a request body already serialized (the abusive clients serialize
/// theirs once, so that the load generator's own work stays small).
async fn send(client: &reqwest::Client, side: &Side, body: String) -> (u16, String) {
    let sent = client
        .post(&side.url)
        .header("x-api-key", &side.key)
        .header("x-mandate-purpose", &side.purpose)
        .header("x-mandate-case", "BENCH")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let Ok(resp) = sent else {
        return (0, "transport".into());
    };
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("ok")
        .to_string();
    (status, code)
}

/// The normal traffic: lookups of random residents with their household and
/// building (the `nested` workload).
async fn normal(
    side: Arc<Side>,
    concurrency: usize,
    seconds: u64,
    residents: u64,
) -> (Vec<Duration>, usize) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let side = side.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let q = "query($id: ID!) { resident(id: $id) { id name household { id building { address grid { id } } } } }";
            let (mut lat, mut failed) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let id = format!("R{:08}", rand::rng().random_range(1..=residents));
                let at = Instant::now();
                let (status, code) = post(&client, &side, q, &json!({"id": id})).await;
                if status == 200 && code == "ok" {
                    lat.push(at.elapsed());
                } else {
                    failed += 1;
                }
            }
            (lat, failed)
        }));
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((l, f)) = t.await {
            all.extend(l);
            failed += f;
        }
    }
    all.sort();
    (all, failed)
}

type Seen = BTreeMap<&'static str, (BTreeMap<String, usize>, Vec<Duration>)>;

/// The abusive traffic until `deadline`: each client sends every kind in turn.
async fn abuse(side: Arc<Side>, clients: usize, deadline: Instant) -> Seen {
    let seen: Arc<Mutex<Seen>> = Arc::new(Mutex::new(BTreeMap::new()));
    let kinds: Arc<Vec<(&'static str, String)>> = Arc::new(
        abusive()
            .into_iter()
            .map(|(name, q, vars)| (name, json!({"query": q, "variables": vars}).to_string()))
            .collect(),
    );
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (side, seen, kinds) = (side.clone(), seen.clone(), kinds.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut i = c;
            while Instant::now() < deadline {
                let (name, body) = &kinds[i % kinds.len()];
                i += 1;
                let at = Instant::now();
                let (status, code) = send(&client, &side, body.clone()).await;
                let took = at.elapsed();
                let mut seen = seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let entry = seen.entry(name).or_default();
                *entry.0.entry(format!("{status} {code}")).or_default() += 1;
                entry.1.push(took);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *seen)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Runs the phases (alone, beside abuse, alone again) and prints the tables.
pub async fn run(
    normal_side: Side,
    abuser: Side,
    concurrency: usize,
    abusers: usize,
    seconds: u64,
    residents: u64,
) {
    let normal_side = Arc::new(normal_side);
    let abuser = Arc::new(abuser);
    // Warm up (plans compiled, Neo4j's page cache and JIT: a freshly started
    // Neo4j answers several times slower for its first seconds), then measure alone.
    let _ = normal(normal_side.clone(), concurrency, 20, residents).await;
    let (alone, alone_failed) = normal(normal_side.clone(), concurrency, seconds, residents).await;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let abusing = tokio::spawn(abuse(abuser, abusers, deadline));
    let (beside, beside_failed) =
        normal(normal_side.clone(), concurrency, seconds, residents).await;
    let seen = abusing.await.unwrap_or_default();
    // Alone again, once the abusive clients stopped: how far two runs of the
    // same traffic on this machine differ by themselves.
    let (after, after_failed) = normal(normal_side, concurrency, seconds, residents).await;
    println!(
        "| normal traffic ({concurrency} clients) | answered | failed | throughput | p50 | p99 |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, lat, failed) in [
        ("alone", &alone, alone_failed),
        (
            &*format!("beside {abusers} abusive clients"),
            &beside,
            beside_failed,
        ),
        ("alone again, after", &after, after_failed),
    ] {
        println!(
            "| {name} | {} | {failed} | {:.0}/s | {:.2} ms | {:.2} ms |",
            lat.len(),
            lat.len() as f64 / seconds as f64,
            pct(lat, 0.50),
            pct(lat, 0.99)
        );
    }
    println!();
    println!("| abusive request | sent | answered as | p50 | p99 |");
    println!("|---|---:|---|---:|---:|");
    for (name, (codes, mut lat)) in seen {
        lat.sort();
        let codes = codes
            .iter()
            .map(|(c, n)| format!("{c} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "| {name} | {} | {codes} | {:.2} ms | {:.2} ms |",
            lat.len(),
            pct(&lat, 0.50),
            pct(&lat, 0.99)
        );
    }
}
