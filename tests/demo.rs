//! The developer's path, checked against the running demo hub (`scripts/demo-check`
//! starts it on the demo city and runs this; `cargo test` alone does not, see
//! `test = false` in Cargo.toml): every example in `examples/queries/` runs as the
//! agency it names, the README's examples answer what they show, and the tables of
//! what each demo mandate may read (README and `docs/demo-agencies.md`) are current.
//!
//! Environment: `MANDATE_DEMO_URL` (the hub), `MANDATE_BIN` (the `mandate` binary)
//! and `MANDATE_CONFIG` (`config/demo.toml`); `MANDATE_DEMO_UPDATE=1` rewrites the
//! README's example answers and the tables instead of comparing them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mandate::mandates;
use mandate_policies::{Mandate, Policies};
use mandate_resolvers::FieldAccess;
use serde_json::{json, Value};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this through scripts/demo-check, which starts the demo hub")
    })
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var("MANDATE_DEMO_UPDATE").is_ok_and(|v| v == "1")
}

/// A token minted by `mandate token`, as the README tells a developer to.
fn token(agency: &str, role: &str, purpose: &str) -> String {
    let out = std::process::Command::new(env("MANDATE_BIN"))
        .args(["--config", &env("MANDATE_CONFIG"), "token"])
        .args(["--agency", agency, "--role", role, "--purpose", purpose])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mandate token --agency {agency} --role {role} --purpose {purpose}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Who a query asks as.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AskAs {
    agency: String,
    role: String,
    purpose: String,
}

async fn ask(who: &AskAs, query: &str, variables: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", env("MANDATE_DEMO_URL")))
        .bearer_auth(token(&who.agency, &who.role, &who.purpose))
        .header("x-mandate-purpose", &who.purpose)
        .header("x-mandate-case", "DEMO-CHECK")
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// Whether an answer carries anything: a non-null scalar somewhere.
fn carries_data(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => items.iter().any(carries_data),
        Value::Object(map) => map.values().any(carries_data),
        _ => true,
    }
}

/// The `# key: value` lines of an example file's leading comment.
fn header(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.trim_start_matches('#').trim().split_once(": ")?;
            Some((k.to_string(), v.trim().to_string()))
        })
        .filter(|(k, _)| ["agency", "role", "purpose", "variables"].contains(&k.as_str()))
        .collect()
}

#[tokio::test]
async fn every_example_runs_as_the_agency_it_names() {
    let dir = root().join("examples/queries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "examples/queries holds the examples");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let h = header(&text);
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let get = |k: &str| {
            h.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{name}: its header must state `# {k}: ...`"))
        };
        let who = AskAs {
            agency: get("agency"),
            role: get("role"),
            purpose: get("purpose"),
        };
        let variables = h
            .get("variables")
            .map(|v| serde_json::from_str(v).unwrap())
            .unwrap_or(json!({}));
        let answer = ask(&who, &text, variables).await;
        assert!(
            answer.get("errors").is_none(),
            "{name} as {who:?}: {answer}"
        );
        assert!(
            carries_data(&answer["data"]) || name.contains("receipts"),
            "{name} as {who:?} answers nothing: {answer}"
        );
    }
}

/// A README example: `<!-- example: agency=A role=R purpose=P -->`, a ```graphql
/// block and the ```json block of its answer.
struct ReadmeExample {
    who: AskAs,
    query: String,
    answer_at: std::ops::Range<usize>,
    answer: String,
}

fn readme_examples(readme: &str) -> Vec<ReadmeExample> {
    let marker = "<!-- example: ";
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = readme[at..].find(marker) {
        let start = at + found + marker.len();
        let end = start + readme[start..].find("-->").unwrap();
        let attrs: BTreeMap<&str, &str> = readme[start..end]
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let block = |from: usize, lang: &str| {
            let open = format!("```{lang}\n");
            let s = from + readme[from..].find(&open).unwrap() + open.len();
            let e = s + readme[s..].find("```").unwrap();
            s..e
        };
        let q = block(end, "graphql");
        let a = block(q.end, "json");
        out.push(ReadmeExample {
            who: AskAs {
                agency: attrs["agency"].to_string(),
                role: attrs["role"].to_string(),
                purpose: attrs["purpose"].to_string(),
            },
            query: readme[q.clone()].to_string(),
            answer: readme[a.clone()].to_string(),
            answer_at: a.clone(),
        });
        at = a.end;
    }
    out
}

#[tokio::test]
async fn the_readme_examples_answer_what_they_show() {
    let path = root().join("README.md");
    let mut readme = std::fs::read_to_string(&path).unwrap();
    let examples = readme_examples(&readme);
    assert!(!examples.is_empty(), "README.md marks its examples");
    // Replaced from the last, so earlier ranges stay valid.
    for ex in examples.iter().rev() {
        let got = ask(&ex.who, &ex.query, json!({})).await;
        assert!(got.get("errors").is_none(), "{:?}: {got}", ex.who);
        let pretty = serde_json::to_string_pretty(&got).unwrap() + "\n";
        if updating() {
            readme.replace_range(ex.answer_at.clone(), &pretty);
        } else {
            let shown: Value = serde_json::from_str(&ex.answer).unwrap();
            assert_eq!(
                got, shown,
                "README.md's example as {:?} answers differently; `scripts/demo-check --update` rewrites it",
                ex.who
            );
        }
    }
    if updating() {
        std::fs::write(&path, readme).unwrap();
    }
}

fn ask_as(view: &mandates::MandateView) -> AskAs {
    AskAs {
        agency: view.mandate.agency.clone(),
        role: view.mandate.role.clone(),
        purpose: view.mandate.purpose.clone(),
    }
}

/// A few residents inside `view`'s mandate, read through the hub as that mandate:
/// the youngest when it may sort by birth date (an age scope — elderly, school age,
/// working age — then keeps them for years), else the first by id.
async fn pick_ids(view: &mandates::MandateView) -> Vec<String> {
    if !view.root_types().contains(&"Resident") {
        return Vec::new();
    }
    let sortable = view.plan.field("Resident", "birthDate") == Some(FieldAccess::Read);
    let order = if sortable {
        "orderBy: [{field: BIRTH_DATE, direction: DESC}]"
    } else {
        ""
    };
    let q = format!("{{ residents(first: 3 {order}) {{ edges {{ node {{ id }} }} }} }}");
    let got = ask(&ask_as(view), &q, json!({})).await;
    assert!(got.get("errors").is_none(), "{:?}: {got}", view.mandate);
    got["data"]["residents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids the README's table shows for `m`.
fn shown_ids(readme: &str, m: &Mandate) -> Vec<String> {
    let start = format!("| `{}` | `{}` | `{}` |", m.agency, m.role, m.purpose);
    readme
        .lines()
        .find(|l| l.starts_with(&start))
        .and_then(|l| l.trim_end_matches('|').rsplit('|').next())
        .map(|cell| {
            cell.split_whitespace()
                .map(|id| id.trim_matches('`').to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_mandate_tables_are_current() {
    let catalog = mandate_schema::hub_catalog().unwrap();
    let policies = Policies::load(&root().join("policies"), &catalog)
        .await
        .unwrap();
    let views = mandates::views(&policies).unwrap();
    assert!(views.len() >= 9, "every demo agency has a mandate");
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let mut ids: BTreeMap<Mandate, Vec<String>> = BTreeMap::new();
    for v in &views {
        let picked = if updating() {
            pick_ids(v).await
        } else {
            // The ids shown must still be inside the mandate, each one.
            let shown = shown_ids(&readme, &v.mandate);
            for id in &shown {
                let q = format!("{{ resident(id: \"{id}\") {{ id }} }}");
                let got = ask(&ask_as(v), &q, json!({})).await;
                assert_eq!(
                    got["data"]["resident"]["id"], id.as_str(),
                    "README.md shows {id} inside {:?}, but it is not; `scripts/demo-check --update` picks others: {got}",
                    v.mandate
                );
            }
            shown
        };
        ids.insert(v.mandate.clone(), picked);
    }
    let want_readme = mandates::splice_readme(&readme, &mandates::summary(&views, &ids))
        .expect("README.md has the mandates markers");
    let details_path = root().join("docs/demo-agencies.md");
    let want_details = mandates::details(&views, &ids);
    if updating() {
        std::fs::write(&readme_path, want_readme).unwrap();
        std::fs::write(&details_path, want_details).unwrap();
        return;
    }
    assert!(
        readme == want_readme,
        "README.md's table of mandates is stale; `scripts/demo-check --update` rewrites it"
    );
    let details = std::fs::read_to_string(&details_path).unwrap_or_default();
    assert!(
        details == want_details,
        "docs/demo-agencies.md is stale; `scripts/demo-check --update` rewrites it"
    );
}

/// The paths this test reads exist (a moved file fails here, not silently).
#[test]
fn the_paths_exist() {
    for p in [
        "README.md",
        "examples/queries",
        "policies/lists",
        "config/demo.toml",
    ] {
        assert!(Path::new(&root().join(p)).exists(), "{p}");
    }
}

/// Remote fields through the demo's own departmental systems (examples/subgraphs/,
/// the health commission's built with `@apollo/subgraph`): the values arrive, in one
/// `_entities` call per request, and the department's call log names who asked, why
/// and under which case, with the hub's own credential, never the caller's token.
#[tokio::test]
async fn remote_fields_come_from_the_departments_systems_with_the_caller_forwarded() {
    let health = std::env::var("MANDATE_DEMO_HEALTH_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:4801".to_string());
    let client = reqwest::Client::new();
    client
        .delete(format!("{health}/calls"))
        .send()
        .await
        .unwrap();
    let who = AskAs {
        agency: "D-HEALTH".into(),
        role: "health_officer".into(),
        purpose: "elderly_health_service".into(),
    };
    let answer = ask(
        &who,
        "{ residents(first: 5) { edges { node { id familyDoctor vaccinations { vaccine dose date clinic } } } } }",
        json!({}),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let edges = answer["data"]["residents"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    assert!(
        edges.iter().all(|e| e["node"]["vaccinations"].is_array()),
        "{answer}"
    );
    assert!(
        edges.iter().any(|e| e["node"]["familyDoctor"].is_string()),
        "{answer}"
    );
    let calls: Value = client
        .get(format!("{health}/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = calls.as_array().unwrap();
    let entities: Vec<&Value> = calls
        .iter()
        .filter(|c| c["operation"] == "_entities")
        .collect();
    assert_eq!(entities.len(), 1, "one call for the page: {calls:?}");
    let call = entities[0];
    assert_eq!(call["representations"], 5);
    assert_eq!(call["agency"], "D-HEALTH");
    assert_eq!(call["purpose"], "elderly_health_service");
    assert_eq!(call["case"], "DEMO-CHECK");
    assert_eq!(call["authorization"], "valid", "the hub's own credential");
    assert!(call["requestId"].as_str().is_some_and(|id| !id.is_empty()));
}
