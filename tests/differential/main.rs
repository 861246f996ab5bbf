//! Differential test of the mandate (house style 13, after AWS Cedar's differential
//! random testing): random (agency, roles, purpose, query) triples are sent to the
//! hub over HTTP, and each answer is compared, exactly, with the answer of a plain
//! reference evaluator written here.
//!
//! The reference knows nothing of the hub's plan compiler, IR, filters or Cypher.
//! It reads the whole unrestricted test city once with hand-written Cypher, and
//! decides everything in plain Rust from three sources of truth only:
//!
//! - casbin's `enforce()` over the responsibility lists: which rows of each type
//!   an officer sees (row by row, from the row's facts, `facts_of`), and whether
//!   each field is read in full, masked (which mask) or not at all;
//! - the catalog: fields, relationships, share classes (a NOT_SHARED item stays
//!   with its owner department whatever a list says);
//! - the documented API semantics (README "The API"): `where` with Cypher's
//!   three-valued logic, relationship filters reaching only visible rows,
//!   `orderBy` with the id as final tie-breaker and nulls last ascending, paging,
//!   `totalCount`, masks, lookups outside the mandate answering null, and
//!   validation failure for any name outside the mandate.
//!
//! The officers are those of the checked-in lists (with one holding two roles,
//! one inheriting a role, and one holding a role its list never grants), a
//! one-grid test centre, and a test-only agency whose row scopes cut across every
//! relationship, so that relationship filters, nested lists and single
//! relationships keep meeting rows outside the mandate.
//!
//! Queries are generated with proptest (fixed seed) from an AST that is rendered
//! to GraphQL text here: aliases, named and inline fragments, `@include`/`@skip`
//! with variables (some with defaults), `where`/`first` passed as variables,
//! nested relationships both ways, relationship filters, `AND`/`OR`/`NOT`, and a
//! second page through the `after` cursor. Each generated query is also checked
//! with [`VARIANTS`]` - 1` other sets of values (same shape, same Cypher text, one
//! Neo4j plan). A failing case is shrunk with
//! proptest's value trees and reported with agency, roles, purpose, query,
//! variables, expected and actual answers.
//!
//! Two behaviours of async-graphql 7.2 that depart from the GraphQL spec but have
//! nothing to do with mandates are modelled, not failed on (see
//! [`EMPTY_OBJECT_IS_NULL`] and the note on `__typename` directives in the
//! generator). A hub that could not answer at all (`NEO4J_TIMEOUT`,
//! `NEO4J_UNAVAILABLE`, `AUDIT_UNAVAILABLE`) is asked again; such a code is never
//! an answer to judge.
//!
//! `MANDATE_DIFF_CASES` sets the number of cases (default 10 000),
//! `MANDATE_DIFF_SEED` another seed to explore;
//! `MANDATE_DIFF_KEEP_GOING=1` collects every (shrunk) mismatch before failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "../common/mod.rs"]
mod common;

mod check;
mod city;
mod generate;
mod hub;
mod oracle;
mod query;
mod reference;
mod values;

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::Instant;

use common::TestHub;
use futures::StreamExt as _;
use mandate_policies::Policies;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};

use check::{check, shrink, Combo, Env, Kind, ENTITY_CASES, ENTITY_HITS, SECOND_PAGES};
use city::City;
use generate::{weighted, Gen};
use hub::{ask, clear_chain, fixtures, start, RETRIES};
use oracle::{Mandate, Oracle};
use query::Case;
use values::{Ids, Mix, Pools};

const TODAY: &str = "2026-11-29";
const TEST_GRID_CENTRE: &str = "D-GRID_MANAGEMENT-T1";
const TEST_GRID: &str = "G00002";
const SEED: [u8; 32] = *b"mandate-differential-test-seed!!";
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// In one query of POISONED_ONE_IN, this percent of picks (fields, filters, sort
/// keys, relationships, edge properties, root types) is drawn from the whole
/// catalog instead of the mandate; the other queries stay inside it.
const POISON: u32 = 6;
const POISONED_ONE_IN: u32 = 4;
/// Each generated query is checked as is and with VARIANTS - 1 other sets of
/// values (ids, filter constants, `first`): the same Cypher text, so Neo4j plans
/// it once. A fresh plan costs tens to hundreds of milliseconds; a cached one runs
/// in a few.
const VARIANTS: usize = 5;
/// Deepest relationship nesting in a selection.
const MAX_DEPTH: usize = 3;

/// A test-only agency whose row scopes cut across every relationship: residents
/// elderly or disabled, households with a migrant member, buildings old or
/// unsafe, and so on. Related rows are often outside the mandate, where the real
/// lists mostly keep related rows inside; it also masks an edge property, and
/// shows the ID number `keep_ends` (the birth date then stays hidden: beside it
/// the mask would give the number away, and the lists would not load).
const PROBE_AGENCY: &str = "D-TEST_PROBE";
const PROBE_LIST: &str = "\
# Test-only agency for the differential test: scopes that cut across relationships.
p, prober, D-TEST_PROBE, probe, Resident, rows, elderly|disabled, test
p, prober, D-TEST_PROBE, probe, Resident.id, read, -, test
p, prober, D-TEST_PROBE, probe, Resident.name, read_masked, first_char, test
p, prober, D-TEST_PROBE, probe, Resident.birthDate, read_masked, redact, test
p, prober, D-TEST_PROBE, probe, Resident.sex, read, -, test
p, prober, D-TEST_PROBE, probe, Resident.phone, read, -, test
p, prober, D-TEST_PROBE, probe, Resident.hukouType, read, -, test
p, prober, D-TEST_PROBE, probe, Resident.disabilityStatus, read, -, test
p, prober, D-TEST_PROBE, probe, Resident.idNumber, read_masked, keep_ends, test
p, prober, D-TEST_PROBE, probe, Resident.household, read, -, test
p, prober, D-TEST_PROBE, probe, Household, rows, migrant|old_compound, test
p, prober, D-TEST_PROBE, probe, Household.id, read, -, test
p, prober, D-TEST_PROBE, probe, Household.unit, read, -, test
p, prober, D-TEST_PROBE, probe, Household.memberCount, read, -, test
p, prober, D-TEST_PROBE, probe, Household.members, read, -, test
p, prober, D-TEST_PROBE, probe, Household.members.relationToHead, read_masked, redact, test
p, prober, D-TEST_PROBE, probe, Household.building, read, -, test
p, prober, D-TEST_PROBE, probe, Building, rows, old_compound|unsafe, test
p, prober, D-TEST_PROBE, probe, Building.id, read, -, test
p, prober, D-TEST_PROBE, probe, Building.address, read, -, test
p, prober, D-TEST_PROBE, probe, Building.yearBuilt, read, -, test
p, prober, D-TEST_PROBE, probe, Building.safetyGrade, read, -, test
p, prober, D-TEST_PROBE, probe, Building.households, read, -, test
p, prober, D-TEST_PROBE, probe, Building.grid, read, -, test
p, prober, D-TEST_PROBE, probe, Grid, rows, all, test
p, prober, D-TEST_PROBE, probe, Grid.id, read, -, test
p, prober, D-TEST_PROBE, probe, Grid.name, read, -, test
p, prober, D-TEST_PROBE, probe, Grid.buildings, read, -, test
p, prober, D-TEST_PROBE, probe, Grid.community, read, -, test
p, prober, D-TEST_PROBE, probe, Community, rows, all, test
p, prober, D-TEST_PROBE, probe, Community.id, read, -, test
p, prober, D-TEST_PROBE, probe, Community.name, read, -, test
p, prober, D-TEST_PROBE, probe, Community.grids, read, -, test
";

/// The officers: agency and roles. Some hold two roles, one holds a role that
/// its agency's list never grants.
const PRINCIPALS: [(&str, &[&str]); 14] = [
    ("D-CIVIL_AFFAIRS", &["caseworker"]),
    ("D-PUBLIC_SECURITY", &["officer"]),
    ("D-PUBLIC_SECURITY", &["detective"]),
    ("D-PUBLIC_SECURITY", &["officer", "detective"]),
    ("D-HEALTH", &["health_officer"]),
    ("D-EDUCATION", &["enrollment_officer"]),
    ("D-HOUSING", &["inspector"]),
    ("D-HUMAN_RESOURCES", &["employment_officer"]),
    ("D-GRID_MANAGEMENT-S01", &["grid_worker"]),
    ("D-GRID_MANAGEMENT-S02", &["grid_worker"]),
    (TEST_GRID_CENTRE, &["grid_worker"]),
    ("D-HOUSING", &["inspector", "caseworker"]),
    ("D-CIVIL_AFFAIRS", &["inspector"]),
    (PROBE_AGENCY, &["prober"]),
];

/// Known deviation from the GraphQL spec, modelled here rather than failing every
/// run: async-graphql 7.2 answers an object whose whole selection is skipped
/// (`node { name @skip(if: true) }`) with `null`, even where the type is non-null,
/// instead of `{}`; and it resolves each occurrence of a response key on its own,
/// so `household { id @skip(if: true) } household { unit }` answers
/// `household: null` instead of `{unit}` (resolver_utils/container.rs). Not a
/// mandate question; set to false once the hub follows the spec.
const EMPTY_OBJECT_IS_NULL: bool = true;

/// The RNG seed: [`SEED`], or one derived from `MANDATE_DIFF_SEED` to explore.
fn seed() -> [u8; 32] {
    match std::env::var("MANDATE_DIFF_SEED") {
        Ok(v) => {
            let mut mix = Mix(v.bytes().fold(0u64, |h, b| h.rotate_left(8) ^ u64::from(b)));
            let mut out = [0u8; 32];
            for chunk in out.chunks_mut(8) {
                chunk.copy_from_slice(&mix.next().to_le_bytes());
            }
            out
        }
        Err(_) => SEED,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_answers_as_the_reference_evaluator_of_the_lists() {
    let cases: u32 = std::env::var("MANDATE_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let keep_going = std::env::var("MANDATE_DIFF_KEEP_GOING").is_ok_and(|v| v == "1");
    let started = Instant::now();
    let chain = format!("differential-{}", std::process::id());
    let hub = start(Some(&chain)).await;
    let city = City::load(&hub).await;
    let policies = Policies::load(&fixtures().0, &city.catalog)
        .await
        .expect("lists load");

    // Every officer with every purpose of its agency's list, and with one purpose
    // of another agency's.
    let all_purposes: BTreeSet<(String, String)> = policies
        .items()
        .iter()
        .map(|i| (i.agency.clone(), i.purpose.clone()))
        .collect();
    let mut oracle = Oracle {
        policies: &policies,
        verdicts: HashMap::new(),
        facts: HashMap::new(),
        skipped: 0,
    };
    let mut combos = Vec::new();
    let mut weights = Vec::new();
    for (p, (agency, roles)) in PRINCIPALS.iter().enumerate() {
        let own: Vec<&String> = all_purposes
            .iter()
            .filter(|(a, _)| a == agency)
            .map(|(_, x)| x)
            .collect();
        let foreign = all_purposes
            .iter()
            .map(|(_, x)| x)
            .find(|x| !own.contains(x))
            .expect("another agency's purpose");
        for (purpose, weight) in own
            .iter()
            .map(|x| ((*x).clone(), 8))
            .chain([(foreign.clone(), 1)])
        {
            let mandate = Mandate::compute(&mut oracle, &city, agency, roles, &purpose);
            // A list purpose the roles hold nothing under: every query is denied;
            // a few suffice.
            let weight = if weight > 1 && mandate.types.is_empty() {
                2
            } else if weight > 1 && *agency == PROBE_AGENCY {
                // Its scopes cut across relationships: the sharpest probe.
                24
            } else {
                weight
            };
            combos.push(Combo {
                principal: p,
                purpose,
                mandate,
                ids: Rc::new(Ids {
                    inside: HashMap::new(),
                    outside: HashMap::new(),
                }),
            });
            weights.push(weight);
        }
    }
    let pools = Rc::new(Pools::new(&city));
    let cat = Rc::new(city.catalog.clone());
    let mut strategies: Vec<(u32, BoxedStrategy<Case>)> = Vec::new();
    for i in 0..combos.len() {
        // A purpose outside the list: queries as if for the agency's first purpose.
        let c = &combos[i];
        let shape = if c.mandate.purpose_ok {
            c
        } else {
            combos
                .iter()
                .find(|o| o.principal == c.principal && o.mandate.purpose_ok)
                .unwrap_or(c)
        };
        let ids = Rc::new(Ids::new(&city, &shape.mandate));
        let gen = |poison| {
            Gen::new(
                cat.clone(),
                pools.clone(),
                ids.clone(),
                &city,
                &shape.mandate,
                poison,
            )
            .query()
        };
        let (clean, poisoned) = (gen(0), gen(POISON));
        let s = (
            weighted(vec![(POISONED_ONE_IN - 1, clean), (1, poisoned)]),
            proptest::collection::vec(any::<u64>(), VARIANTS - 1),
        )
            .prop_map(move |(query, seeds)| Case {
                combo: i,
                query,
                seeds,
            })
            .boxed();
        strategies.push((weights[i], s));
        combos[i].ids = ids;
    }
    let strategy = weighted(strategies);
    eprintln!(
        "differential: reference ready in {:.1}s: {} residents, {} households, {} buildings, {} grids, {} (officer, purpose) pairs",
        started.elapsed().as_secs_f64(),
        city.rows["Resident"].len(),
        city.rows["Household"].len(),
        city.rows["Building"].len(),
        city.rows["Grid"].len(),
        combos.len()
    );
    let env = Env {
        hub,
        city,
        pools,
        combos,
    };
    // Compile every plan once, one at a time: a cold hub compiling many plans at
    // once keeps its workers busy long enough for quick rejections to miss the
    // audit deadline.
    for c in &env.combos {
        ask(
            &env.hub,
            c.principal,
            &c.purpose,
            "{ __typename }",
            &json!({}),
        )
        .await;
    }

    let shapes = (cases as usize).div_ceil(VARIANTS);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: shapes as u32,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed()),
    );
    let mut counts: HashMap<Kind, usize> = HashMap::new();
    let mut failed = Vec::new();
    let mut done = 0usize;
    {
        // Cases are drawn in a fixed order from the seeded runner; up to
        // CONCURRENCY are in flight at once.
        let env = &env;
        let runner = &mut runner;
        let mut results = futures::stream::iter((0..shapes).map(|_| {
            let tree = strategy.new_tree(runner).expect("case generated");
            async move {
                let result = check(env, &tree.current()).await;
                (tree, result)
            }
        }))
        .buffer_unordered(CONCURRENCY);
        let mut next_report = 2000;
        while let Some((tree, result)) = results.next().await {
            match result {
                Ok(kinds) => {
                    done += kinds.len();
                    for kind in kinds {
                        *counts.entry(kind).or_default() += 1;
                    }
                }
                Err(m) => {
                    done += 1;
                    failed.push((tree, m));
                    if !keep_going {
                        break;
                    }
                }
            }
            if done >= next_report {
                next_report += 2000;
                eprintln!(
                    "differential: {done} cases ({:.0}s)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    let mut failures: Vec<String> = Vec::new();
    for (mut tree, m) in failed {
        let (report, steps) = shrink(&env, tree.as_mut(), m.report).await;
        eprintln!("differential: MISMATCH (shrunk in {steps} steps)\n{report}");
        failures.push(report);
    }
    let elapsed = started.elapsed().as_secs_f64();
    clear_chain(&env.hub, &chain).await;
    let get = |k: Kind| counts.get(&k).copied().unwrap_or(0);
    eprintln!(
        "differential: {done} cases, {} validation-denied, {} with data, {} mismatches ({} purpose-rejected, {} second pages, {} through _entities of which {} answered entities, {} retried after a transient error; {elapsed:.1}s)",
        get(Kind::Denied),
        get(Kind::Data),
        failures.len(),
        get(Kind::Rejected),
        SECOND_PAGES.load(std::sync::atomic::Ordering::Relaxed),
        ENTITY_CASES.load(std::sync::atomic::Ordering::Relaxed),
        ENTITY_HITS.load(std::sync::atomic::Ordering::Relaxed),
        RETRIES.load(std::sync::atomic::Ordering::Relaxed),
    );
    assert!(
        failures.is_empty(),
        "{} mismatch(es) between the hub and the reference; the first, shrunk:\n{}",
        failures.len(),
        failures[0]
    );
    assert!(get(Kind::Data) > done / 3, "too few cases with data");
    assert!(
        get(Kind::Denied) > done / 20,
        "too few validation-denied cases"
    );
}

// ---------------------------------------------------------------------------------------------
// Pinned cases
// ---------------------------------------------------------------------------------------------

const CIVIL_AFFAIRS: usize = 0;
const GRID_CENTRE_T1: usize = 10;
const GRID_CENTRE_S01: usize = 8;

async fn data(hub: &TestHub, who: usize, purpose: &str, query: &str, variables: Value) -> Value {
    let body = ask(hub, who, purpose, query, &variables).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

#[tokio::test]
async fn grid_centre_lists_exactly_the_residents_of_its_grid() {
    let hub = start(None).await;
    let want = hub
        .reference_ids(
            "MATCH (r:Resident)-[:MEMBER_OF]->(:Household)-[:RESIDES_IN]->(:Building)-[:IN_GRID]->(:Grid {id: $g})
             RETURN r.id AS id ORDER BY id",
            json!({"g": TEST_GRID}),
        )
        .await;
    assert!(want.len() > 5, "the test grid has residents");
    // Every page, through the cursors.
    let q = "query($after: String) { residents(first: 7, after: $after, orderBy: [{field: ID}]) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }";
    let mut got = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = data(
            &hub,
            GRID_CENTRE_T1,
            "grid_inspection",
            q,
            json!({ "after": after }),
        )
        .await;
        let conn = &d["residents"];
        assert_eq!(conn["totalCount"], json!(want.len()));
        got.extend(common::edge_ids(conn));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(got, want);
}

#[tokio::test]
async fn civil_affairs_reads_id_numbers_and_phones_masked() {
    let hub = start(None).await;
    let d = data(
        &hub,
        CIVIL_AFFAIRS,
        "subsidy_review",
        "{ residents(first: 30, orderBy: [{field: ID}]) { edges { node { id idNumber phone } } } }",
        json!({}),
    )
    .await;
    let shown = d["residents"]["edges"].as_array().unwrap();
    assert!(!shown.is_empty());
    for e in shown {
        let n = &e["node"];
        let raw = hub
            .reference(
                "MATCH (r:Resident {id: $id}) RETURN r.idNumber AS idn, r.phone AS phone",
                json!({"id": n["id"]}),
            )
            .await;
        let idn = raw[0]["idn"].as_str().unwrap();
        // keep_start: the region, then stars (keep_ends would give the number
        // away beside the birth date this list grants).
        assert_eq!(n["idNumber"], json!(format!("{}************", &idn[..6])));
        assert_ne!(n["idNumber"], raw[0]["idn"]);
        match raw[0]["phone"].as_str() {
            Some(p) => assert_eq!(n["phone"], json!(format!("{}****{}", &p[..3], &p[7..]))),
            None => assert!(n["phone"].is_null()),
        }
    }
}

#[tokio::test]
async fn relationship_filters_cannot_reach_rows_outside_the_mandate() {
    let hub = start(None).await;
    // Another grid of the test grid's own community: the community is in the test
    // centre's jurisdiction, that grid is not.
    let sibling = hub
        .reference_ids(
            "MATCH (:Grid {id: $g})-[:PART_OF]->(c:Community)<-[:PART_OF]-(s:Grid)
             WHERE s.id <> $g RETURN s.id AS id ORDER BY id LIMIT 1",
            json!({"g": TEST_GRID}),
        )
        .await;
    let sibling = sibling.first().expect("the test grid has a sibling grid");
    let q = "query($s: ID!) {
        communities(where: {grids: {where: {id: {eq: $s}}}}) { totalCount }
        all: communities { totalCount edges { node { id grids { totalCount edges { node { id } } } } } }
        grid(id: $s) { id }
        buildings(where: {grid: {where: {id: {eq: $s}}}}) { totalCount } }";
    let t1 = data(
        &hub,
        GRID_CENTRE_T1,
        "grid_inspection",
        q,
        json!({ "s": sibling }),
    )
    .await;
    assert_eq!(t1["communities"]["totalCount"], 0, "{t1}");
    assert_eq!(t1["all"]["totalCount"], 1, "{t1}");
    let grids = &t1["all"]["edges"][0]["node"]["grids"];
    assert_eq!(grids["totalCount"], 1, "{t1}");
    assert_eq!(common::edge_ids(grids), vec![TEST_GRID.to_string()]);
    assert!(t1["grid"].is_null());
    assert_eq!(t1["buildings"]["totalCount"], 0);
    // The subdistrict's centre, serving both grids, does see the sibling.
    let s01 = data(
        &hub,
        GRID_CENTRE_S01,
        "grid_inspection",
        q,
        json!({ "s": sibling }),
    )
    .await;
    assert_eq!(s01["communities"]["totalCount"], 1, "{s01}");
    assert_eq!(s01["grid"]["id"], json!(sibling));
    // Nor can `exists: false` tell that an invisible row is there.
    let none = data(
        &hub,
        GRID_CENTRE_T1,
        "grid_inspection",
        "{ communities(where: {grids: {exists: false, where: {id: {eq: \"G00002\"}}}}) { totalCount }
           c2: communities(where: {grids: {where: {NOT: {id: {eq: \"G00002\"}}}}}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(none["communities"]["totalCount"], 0);
    assert_eq!(none["c2"]["totalCount"], 0);
}
