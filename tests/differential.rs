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

mod common;

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Instant;

use common::TestHub;
use futures::StreamExt as _;
use mandate_policies::scope::{atoms_for, facts_of, years_before, Jurisdiction, ScopeContext};
use mandate_policies::{Policies, MASKS};
use mandate_schema::{Catalog, Direction, NodeType, ScalarKind, ShareClass};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

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
/// lists mostly keep related rows inside; it also masks an edge property.
const PROBE_AGENCY: &str = "D-TEST_PROBE";
const PROBE_LIST: &str = "\
# Test-only agency for the differential test: scopes that cut across relationships.
p, prober, D-TEST_PROBE, probe, Resident, rows, elderly|disabled, test
p, prober, D-TEST_PROBE, probe, Resident.id, read, -, test
p, prober, D-TEST_PROBE, probe, Resident.name, read_masked, first_char, test
p, prober, D-TEST_PROBE, probe, Resident.birthDate, read, -, test
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

// ---------------------------------------------------------------------------------------------
// Fixtures: policies folder, API keys, hub
// ---------------------------------------------------------------------------------------------

fn key_of(principal: usize) -> String {
    format!("mk_diff_{principal}")
}

/// Policies folder (the checked-in lists plus one for the test grid centre) and
/// the API keys file.
fn fixtures() -> &'static (PathBuf, PathBuf) {
    static DIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let root =
            std::env::temp_dir().join(format!("mandate-differential-{}", std::process::id()));
        let policies = common::policies_with_test_centre(&root, TEST_GRID_CENTRE);
        std::fs::write(policies.join("lists/test-probe.csv"), PROBE_LIST).unwrap();
        let entries: Vec<_> = PRINCIPALS
            .iter()
            .enumerate()
            .map(|(i, (agency, roles))| (*agency, roles.to_vec(), key_of(i)))
            .collect();
        let keys_file = common::keys_file(&root, "diff", &entries);
        (policies, keys_file)
    })
}

/// A hub with the test keys and lists, auditing to `chain`, and the test grid centre.
async fn start(chain: Option<&str>) -> TestHub {
    let (policies, keys) = fixtures();
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.today = TODAY.into();
    if let Some(chain) = chain {
        config.audit.chain = chain.to_string();
    }
    let hub = TestHub::start_with(config).await;
    hub.write(
        "MERGE (d:Department {id: $id}) SET d.name = '测试网格化管理中心', d.code = 'GRID_MANAGEMENT', d.level = 'SUBDISTRICT'
         WITH d MATCH (g:Grid {id: $grid}) MERGE (d)-[:SERVES]->(g)",
        json!({"id": TEST_GRID_CENTRE, "grid": TEST_GRID}),
    )
    .await;
    hub
}

/// POSTs `query` as principal `who` for `purpose`; returns the whole response.
async fn ask(hub: &TestHub, who: usize, purpose: &str, query: &str, variables: &Value) -> Value {
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .header("x-api-key", key_of(who))
        .header("x-mandate-purpose", purpose)
        .header("x-mandate-case", "CASE-DIFF-1")
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request sent");
    resp.json().await.expect("JSON response")
}

/// Codes of a hub that could not answer at all (not an answer to judge).
const TRANSIENT: [&str; 3] = ["AUDIT_UNAVAILABLE", "NEO4J_TIMEOUT", "NEO4J_UNAVAILABLE"];

static SECOND_PAGES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Cases through the federation entry point, and those answering some entity.
static ENTITY_CASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static ENTITY_HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// [`ask`], asking again (up to five times, backing off) when the hub could not
/// answer at all: on a loaded two-core machine Neo4j may miss a deadline.
async fn ask_steady(
    hub: &TestHub,
    who: usize,
    purpose: &str,
    query: &str,
    variables: &Value,
) -> Value {
    let mut attempt = 0;
    loop {
        let got = ask(hub, who, purpose, query, variables).await;
        let code = got["errors"][0]["extensions"]["code"].as_str();
        if attempt == 5 || !code.is_some_and(|c| TRANSIENT.contains(&c)) {
            return got;
        }
        attempt += 1;
        RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(std::time::Duration::from_millis(1000 * attempt)).await;
    }
}

/// Deletes the audit records of a test-only chain (they link to residents).
async fn clear_chain(hub: &TestHub, chain: &str) {
    loop {
        let left = hub
            .reference(
                "MATCH (a:AuditRecord {chain: $c}) RETURN count(a) AS n",
                json!({"c": chain}),
            )
            .await[0]["n"]
            .as_u64()
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        hub.write(
            "MATCH (a:AuditRecord {chain: $c}) WITH a LIMIT 2000 DETACH DELETE a",
            json!({"c": chain}),
        )
        .await;
    }
    hub.write(
        "MATCH (h:AuditHead {chain: $c}) DELETE h",
        json!({"c": chain}),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The reference city: the whole unrestricted graph, in memory
// ---------------------------------------------------------------------------------------------

type Row = Map<String, Value>;

/// Edges of one relationship field: from id → [(to id, edge properties)].
type Adjacency = HashMap<String, Vec<(String, Row)>>;

struct City {
    catalog: Catalog,
    /// Rows per type name, sorted by id; catalog fields plus derived attributes.
    rows: BTreeMap<String, Vec<Row>>,
    /// Position of each id in `rows`, per type.
    index: HashMap<String, HashMap<String, usize>>,
    /// Per (type, relationship field).
    adj: HashMap<String, HashMap<String, Adjacency>>,
    /// PART_OF: child id → parent id.
    parent: HashMap<String, String>,
    /// SERVES: department id → served ids.
    serves: HashMap<String, Vec<String>>,
}

const RESIDENTS: &str = "MATCH (r:Resident)
OPTIONAL MATCH (r)-[:MEMBER_OF]->(h:Household)
OPTIONAL MATCH (h)-[:RESIDES_IN]->(b:Building)
OPTIONAL MATCH (b)-[:IN_GRID]->(g:Grid)
RETURN r.id AS id, r.name AS name, r.idNumber AS idNumber, toString(r.birthDate) AS birthDate,
  r.sex AS sex, r.phone AS phone, r.hukouType AS hukouType, r.ethnicity AS ethnicity,
  r.occupation AS occupation, r.disabilityStatus AS disabilityStatus, r.lowIncome AS lowIncome,
  r.elderlyLivingAlone AS elderlyLivingAlone,
  g.id AS gridId, b.safetyGrade AS buildingSafetyGrade,
  h IS NOT NULL AND EXISTS { MATCH (h)<-[:MEMBER_OF]-(m:Resident) WHERE m.lowIncome } AS householdLowIncome,
  h IS NOT NULL AND EXISTS { MATCH (h)<-[:MEMBER_OF]-(m:Resident)
    WHERE m.birthDate > date($adult) AND m.birthDate <= date($six) } AS householdHasSchoolAge";

const HOUSEHOLDS: &str = "MATCH (h:Household)
OPTIONAL MATCH (h)-[:RESIDES_IN]->(b:Building)
OPTIONAL MATCH (b)-[:IN_GRID]->(g:Grid)
RETURN h.id AS id, h.householdNumber AS householdNumber, h.unit AS unit, h.memberCount AS memberCount,
  g.id AS gridId, b.safetyGrade AS buildingSafetyGrade, b.oldCompound AS buildingOldCompound";

const BUILDINGS: &str = "MATCH (b:Building) OPTIONAL MATCH (b)-[:IN_GRID]->(g:Grid)
RETURN b.id AS id, b.address AS address, b.yearBuilt AS yearBuilt, b.floors AS floors,
  b.oldCompound AS oldCompound, b.safetyGrade AS safetyGrade, g.id AS gridId";

const GRIDS: &str =
    "MATCH (g:Grid) RETURN g.id AS id, g.name AS name, g.code AS code, g.gridWorker AS gridWorker";
const COMMUNITIES: &str = "MATCH (c:Community) RETURN c.id AS id, c.name AS name, c.code AS code";
const SUBDISTRICTS: &str =
    "MATCH (s:Subdistrict) RETURN s.id AS id, s.name AS name, s.code AS code";
const DEPARTMENTS: &str =
    "MATCH (d:Department) RETURN d.id AS id, d.name AS name, d.code AS code, d.level AS level";

/// (relationship type, from label, to label, query returning `a`, `b` and edge properties).
const EDGES: [(&str, &str, &str, &str); 6] = [
    (
        "MEMBER_OF",
        "Resident",
        "Household",
        "MATCH (a:Resident)-[e:MEMBER_OF]->(b:Household) RETURN a.id AS a, b.id AS b, e.relationToHead AS relationToHead",
    ),
    (
        "RESIDES_IN",
        "Household",
        "Building",
        "MATCH (a:Household)-[:RESIDES_IN]->(b:Building) RETURN a.id AS a, b.id AS b",
    ),
    (
        "IN_GRID",
        "Building",
        "Grid",
        "MATCH (a:Building)-[:IN_GRID]->(b:Grid) RETURN a.id AS a, b.id AS b",
    ),
    (
        "PART_OF",
        "Grid",
        "Community",
        "MATCH (a:Grid)-[:PART_OF]->(b:Community) RETURN a.id AS a, b.id AS b",
    ),
    (
        "PART_OF",
        "Community",
        "Subdistrict",
        "MATCH (a:Community)-[:PART_OF]->(b:Subdistrict) RETURN a.id AS a, b.id AS b",
    ),
    (
        "SERVES",
        "Department",
        "*",
        "MATCH (a:Department)-[:SERVES]->(b) RETURN a.id AS a, b.id AS b, labels(b) AS labels",
    ),
];

impl City {
    async fn load(hub: &TestHub) -> City {
        let catalog = mandate_schema::hub_catalog().expect("catalog");
        let mut rows = BTreeMap::new();
        for (ty, cypher) in [
            ("Resident", RESIDENTS),
            ("Household", HOUSEHOLDS),
            ("Building", BUILDINGS),
            ("Grid", GRIDS),
            ("Community", COMMUNITIES),
            ("Subdistrict", SUBDISTRICTS),
            ("Department", DEPARTMENTS),
        ] {
            let params = json!({
                "adult": years_before(TODAY, 18),
                "six": years_before(TODAY, 6),
            });
            let mut list: Vec<Row> = hub
                .reference(cypher, params)
                .await
                .into_iter()
                .map(|v| match v {
                    Value::Object(m) => m,
                    other => panic!("row is not an object: {other}"),
                })
                .collect();
            list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            let before = list.len();
            list.dedup_by(|a, b| a["id"] == b["id"]);
            assert_eq!(
                before,
                list.len(),
                "{ty}: a node reached twice (two parents?)"
            );
            rows.insert(ty.to_string(), list);
        }
        let index = rows
            .iter()
            .map(|(ty, list)| {
                let ids = list
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r["id"].as_str().unwrap().to_string(), i))
                    .collect();
                (ty.clone(), ids)
            })
            .collect();
        // Raw edges, keyed by (type, from label, to label).
        let mut raw: Vec<(&str, String, String, String, String, Row)> = Vec::new();
        for (rel, from, to, cypher) in EDGES {
            for v in hub.reference(cypher, json!({})).await {
                let Value::Object(mut m) = v else { continue };
                let a = m.remove("a").and_then(|x| x.as_str().map(str::to_string));
                let b = m.remove("b").and_then(|x| x.as_str().map(str::to_string));
                let (Some(a), Some(b)) = (a, b) else { continue };
                let to = if to == "*" {
                    let labels = m.remove("labels").unwrap_or(Value::Null);
                    match labels
                        .as_array()
                        .and_then(|l| l.first())
                        .and_then(Value::as_str)
                    {
                        Some(l) => l.to_string(),
                        None => continue,
                    }
                } else {
                    to.to_string()
                };
                raw.push((rel, from.to_string(), to, a, b, m));
            }
        }
        let mut adj: HashMap<String, HashMap<String, Adjacency>> = HashMap::new();
        for t in &catalog.types {
            for r in &t.relations {
                let target = catalog.node(&r.target).unwrap();
                let mut map: Adjacency = HashMap::new();
                for (rel, from, to, a, b, props) in &raw {
                    if *rel != r.rel_type {
                        continue;
                    }
                    match r.direction {
                        Direction::Out if *from == t.label && *to == target.label => {
                            map.entry(a.clone())
                                .or_default()
                                .push((b.clone(), props.clone()));
                        }
                        Direction::In if *from == target.label && *to == t.label => {
                            map.entry(b.clone())
                                .or_default()
                                .push((a.clone(), props.clone()));
                        }
                        _ => {}
                    }
                }
                adj.entry(t.name.clone())
                    .or_default()
                    .insert(r.name.clone(), map);
            }
        }
        let mut parent = HashMap::new();
        let mut serves: HashMap<String, Vec<String>> = HashMap::new();
        for (rel, _, _, a, b, _) in &raw {
            match *rel {
                "PART_OF" => {
                    parent.insert(a.clone(), b.clone());
                }
                "SERVES" => serves.entry(a.clone()).or_default().push(b.clone()),
                _ => {}
            }
        }
        City {
            catalog,
            rows,
            index,
            adj,
            parent,
            serves,
        }
    }

    fn ty(&self, name: &str) -> &NodeType {
        self.catalog.node(name).expect("type in catalog")
    }

    fn row(&self, ty: &str, id: &str) -> Option<&Row> {
        let i = *self.index.get(ty)?.get(id)?;
        Some(&self.rows[ty][i])
    }

    fn edges(&self, ty: &str, rel: &str, id: &str) -> &[(String, Row)] {
        self.adj
            .get(ty)
            .and_then(|m| m.get(rel))
            .and_then(|m| m.get(id))
            .map_or(&[], Vec::as_slice)
    }

    /// The agency's Department code, as the hub reads it ("" without a node).
    fn department(&self, agency: &str) -> String {
        self.row("Department", agency)
            .and_then(|r| r["code"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// What the agency's Department SERVES, closed over grid → community →
    /// subdistrict: grids served directly or through their community or
    /// subdistrict; their communities; those communities' subdistricts.
    fn jurisdiction(&self, agency: &str) -> Jurisdiction {
        let served: HashSet<&String> = self.serves.get(agency).into_iter().flatten().collect();
        let mut grids = BTreeSet::new();
        for g in self.rows["Grid"].iter().map(|r| r["id"].as_str().unwrap()) {
            let c = self.parent.get(g);
            let s = c.and_then(|c| self.parent.get(c));
            let g_owned = g.to_string();
            if served.contains(&g_owned)
                || c.is_some_and(|c| served.contains(c))
                || s.is_some_and(|s| served.contains(s))
            {
                grids.insert(g_owned);
            }
        }
        let communities: BTreeSet<String> = grids
            .iter()
            .filter_map(|g| self.parent.get(g).cloned())
            .collect();
        let subdistricts: BTreeSet<String> = communities
            .iter()
            .filter_map(|c| self.parent.get(c).cloned())
            .collect();
        Jurisdiction {
            grids: grids.into_iter().collect(),
            communities: communities.into_iter().collect(),
            subdistricts: subdistricts.into_iter().collect(),
        }
    }

    /// The row as `facts_of` wants it (households carry their members' rows).
    fn facts_row(&self, ty: &str, row: &Row) -> Value {
        let mut m = row.clone();
        if ty == "Household" {
            let id = row["id"].as_str().unwrap();
            let members: Vec<Value> = self
                .edges("Household", "members", id)
                .iter()
                .filter_map(|(r, _)| self.row("Resident", r))
                .map(|r| Value::Object(r.clone()))
                .collect();
            m.insert("members".into(), Value::Array(members));
        }
        Value::Object(m)
    }
}

// ---------------------------------------------------------------------------------------------
// The mandate of one (agency, roles, purpose), asked of casbin
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Full,
    Masked(&'static str),
}

#[derive(Debug, Default)]
struct TypeView {
    /// Visible row ids.
    rows: HashSet<String>,
    /// Readable scalar fields.
    fields: BTreeMap<String, Access>,
    /// Relationship fields readable in full, with their readable edge properties.
    relations: BTreeMap<String, BTreeMap<String, Access>>,
}

#[derive(Debug)]
struct Mandate {
    /// The purpose is in the agency's list.
    purpose_ok: bool,
    /// Visible types (those with a row grant).
    types: BTreeMap<String, TypeView>,
}

/// casbin's `enforce()` with two shortcuts that cannot change a verdict: a
/// question no line of the lists could match (same agency, purpose, object and
/// action, and for field reads the same condition) is false without asking; and
/// a row's facts are cut to the atoms the agency's row lines for that type and
/// purpose mention, since `condMatch` reads no other. Verdicts are remembered.
/// (casbin takes milliseconds per question in a debug build.)
struct Oracle<'a> {
    policies: &'a Policies,
    verdicts: HashMap<[String; 6], bool>,
    /// Facts of every row, per (jurisdiction grids, type).
    facts: HashMap<(Vec<String>, String), Vec<BTreeSet<String>>>,
    /// Questions answered by the shortcut.
    skipped: usize,
}

impl Oracle<'_> {
    fn enforce(
        &mut self,
        role: &str,
        agency: &str,
        purpose: &str,
        object: &str,
        action: &str,
        condition: &str,
    ) -> bool {
        let could = self.policies.items().iter().any(|i| {
            i.agency == agency
                && i.purpose == purpose
                && i.object == object
                && i.action == action
                && (action == "rows" || i.condition == condition)
        });
        if !could {
            // Spot-check the shortcut against casbin (it rests on the model's
            // matcher comparing these columns exactly).
            self.skipped += 1;
            if self.skipped.is_multiple_of(32) {
                let v = self
                    .policies
                    .enforce(role, agency, purpose, object, action, condition)
                    .expect("casbin evaluates");
                assert!(
                    !v,
                    "casbin grants {role} {agency} {purpose} {object} {action} {condition} without a matching line"
                );
            }
            return false;
        }
        let key = [role, agency, purpose, object, action, condition].map(str::to_string);
        if let Some(v) = self.verdicts.get(&key) {
            return *v;
        }
        let v = self
            .policies
            .enforce(role, agency, purpose, object, action, condition)
            .expect("casbin evaluates");
        self.verdicts.insert(key, v);
        v
    }

    /// The atoms the row lines of (agency, purpose, type) mention.
    fn atoms(&self, agency: &str, purpose: &str, ty: &str) -> BTreeSet<String> {
        self.policies
            .items()
            .iter()
            .filter(|i| {
                i.agency == agency && i.purpose == purpose && i.object == ty && i.action == "rows"
            })
            .flat_map(|i| {
                i.condition
                    .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn facts(&mut self, city: &City, ty: &str, ctx: &ScopeContext) -> &[BTreeSet<String>] {
        let key = (ctx.jurisdiction.grids.clone(), ty.to_string());
        self.facts.entry(key).or_insert_with(|| {
            city.rows[ty]
                .iter()
                .map(|row| facts_of(ty, &city.facts_row(ty, row), ctx))
                .collect()
        })
    }
}

impl Mandate {
    fn compute(
        oracle: &mut Oracle,
        city: &City,
        agency: &str,
        roles: &[&str],
        purpose: &str,
    ) -> Mandate {
        let purpose_ok = oracle
            .policies
            .items()
            .iter()
            .any(|i| i.agency == agency && i.purpose == purpose);
        let department = city.department(agency);
        let ctx = ScopeContext {
            jurisdiction: city.jurisdiction(agency),
            today: TODAY.to_string(),
        };
        let allowed = |o: &mut Oracle, object: &str, action: &str, condition: &str| {
            roles
                .iter()
                .any(|role| o.enforce(role, agency, purpose, object, action, condition))
        };
        let access =
            |o: &mut Oracle, object: &str, class: ShareClass, owner: &str| -> Option<Access> {
                if class == ShareClass::NotShared && owner != department {
                    return None;
                }
                if allowed(o, object, "read", "-") {
                    return Some(Access::Full);
                }
                MASKS
                    .iter()
                    .find(|(name, _)| allowed(o, object, "read_masked", name))
                    .map(|(name, _)| Access::Masked(name))
            };
        let mut types = BTreeMap::new();
        if purpose_ok {
            for t in &city.catalog.types {
                // Any row grant at all: every atom of the type holds.
                let every = format!("facts:{}", atoms_for(&t.name).join(" "));
                if !allowed(oracle, &t.name, "rows", &every) {
                    continue;
                }
                let mut view = TypeView::default();
                let atoms = oracle.atoms(agency, purpose, &t.name);
                let conds: Vec<String> = oracle
                    .facts(city, &t.name, &ctx)
                    .iter()
                    .map(|facts| {
                        let kept: Vec<&str> = facts
                            .iter()
                            .filter(|f| atoms.contains(*f))
                            .map(String::as_str)
                            .collect();
                        format!("facts:{}", kept.join(" "))
                    })
                    .collect();
                for (row, cond) in city.rows[&t.name].iter().zip(&conds) {
                    if allowed(oracle, &t.name, "rows", cond) {
                        view.rows.insert(row["id"].as_str().unwrap().to_string());
                    }
                }
                for f in &t.fields {
                    let object = format!("{}.{}", t.name, f.name);
                    if let Some(a) = access(oracle, &object, f.share.class, &f.share.owner) {
                        view.fields.insert(f.name.clone(), a);
                    }
                }
                for r in &t.relations {
                    let object = format!("{}.{}", t.name, r.name);
                    if access(oracle, &object, r.share.class, &r.share.owner) != Some(Access::Full)
                    {
                        continue;
                    }
                    let props = r
                        .properties
                        .iter()
                        .filter_map(|p| {
                            let object = format!("{}.{}.{}", t.name, r.name, p.name);
                            access(oracle, &object, p.share.class, &p.share.owner)
                                .map(|a| (p.name.clone(), a))
                        })
                        .collect();
                    view.relations.insert(r.name.clone(), props);
                }
                types.insert(t.name.clone(), view);
            }
        }
        Mandate { purpose_ok, types }
    }

    fn field(&self, ty: &str, field: &str) -> Option<Access> {
        self.types.get(ty)?.fields.get(field).copied()
    }

    /// Whether `_entities` fetches `ty`: visible (every visible type has root
    /// fields) with its id readable in full.
    fn is_entity(&self, ty: &str) -> bool {
        self.full(ty, "id")
    }

    fn full(&self, ty: &str, field: &str) -> bool {
        self.field(ty, field) == Some(Access::Full)
    }

    fn relation_visible(&self, city: &City, ty: &str, rel: &str) -> bool {
        let Some(view) = self.types.get(ty) else {
            return false;
        };
        view.relations.contains_key(rel)
            && city
                .ty(ty)
                .relation(rel)
                .is_some_and(|r| self.types.contains_key(&r.target))
    }

    fn edge_props(&self, ty: &str, rel: &str) -> Option<&BTreeMap<String, Access>> {
        self.types.get(ty)?.relations.get(rel)
    }

    fn sees(&self, ty: &str, id: &str) -> bool {
        self.types.get(ty).is_some_and(|v| v.rows.contains(id))
    }
}

// ---------------------------------------------------------------------------------------------
// The query AST
// ---------------------------------------------------------------------------------------------

/// `@include(if: $b)` (or `@skip`) with the value the variable carries.
#[derive(Debug, Clone, Copy)]
struct Dir {
    include: bool,
    value: bool,
    /// Declared with a default and not sent.
    default: bool,
}

impl Dir {
    fn keeps(d: &Option<Dir>) -> bool {
        d.is_none_or(|d| d.include == d.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    StartsWith,
    IsNull,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::In => "in",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::StartsWith => "startsWith",
            Op::IsNull => "isNull",
        }
    }
}

/// A `where` object: its entries all hold.
#[derive(Debug, Clone)]
struct Where(Vec<Entry>);

#[derive(Debug, Clone)]
enum Entry {
    And(Vec<Where>),
    Or(Vec<Where>),
    Not(Box<Where>),
    Scalar {
        field: String,
        ops: Vec<(Op, Value)>,
    },
    Rel {
        rel: String,
        exists: Option<bool>,
        inner: Option<Box<Where>>,
    },
}

impl Entry {
    fn key(&self) -> &str {
        match self {
            Entry::And(_) => "AND",
            Entry::Or(_) => "OR",
            Entry::Not(_) => "NOT",
            Entry::Scalar { field, .. } => field,
            Entry::Rel { rel, .. } => rel,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Args {
    filter: Option<Where>,
    filter_var: bool,
    /// (field, descending; None = direction omitted).
    order: Vec<(String, Option<bool>)>,
    first: Option<i64>,
    first_var: bool,
    /// `after: $after` (the second page is asked with the first page's endCursor).
    after_var: bool,
}

#[derive(Debug, Clone, Default)]
struct PageSel {
    next: bool,
    prev: bool,
    start: bool,
    end: bool,
}

#[derive(Debug, Clone, Default)]
struct EdgesSel {
    node: Option<Vec<Item>>,
    props: Vec<String>,
    cursor: bool,
    typename: bool,
}

#[derive(Debug, Clone, Default)]
struct ConnSel {
    total: bool,
    page: Option<PageSel>,
    edges: Option<EdgesSel>,
    typename: bool,
}

#[derive(Debug, Clone)]
enum Item {
    Field {
        name: String,
        alias: bool,
        dir: Option<Dir>,
    },
    Typename {
        dir: Option<Dir>,
    },
    One {
        rel: String,
        alias: bool,
        sel: Vec<Item>,
        dir: Option<Dir>,
    },
    Many {
        rel: String,
        /// Response key, unique in the document (set by [`finalize`]).
        key: String,
        args: Args,
        conn: ConnSel,
        dir: Option<Dir>,
    },
    Inline {
        typed: bool,
        sel: Vec<Item>,
        dir: Option<Dir>,
    },
    Spread {
        sel: Vec<Item>,
        dir: Option<Dir>,
    },
}

impl Item {
    fn dir(&self) -> &Option<Dir> {
        match self {
            Item::Field { dir, .. }
            | Item::Typename { dir }
            | Item::One { dir, .. }
            | Item::Many { dir, .. }
            | Item::Inline { dir, .. }
            | Item::Spread { dir, .. } => dir,
        }
    }

    fn set_dir(&mut self, d: Option<Dir>) {
        match self {
            Item::Field { dir, .. }
            | Item::Typename { dir }
            | Item::One { dir, .. }
            | Item::Many { dir, .. }
            | Item::Inline { dir, .. }
            | Item::Spread { dir, .. } => *dir = d,
        }
    }

    /// Response key (fragments have none).
    fn key(&self) -> String {
        match self {
            Item::Field { name, alias, .. } => {
                if *alias {
                    format!("{name}_a")
                } else {
                    name.clone()
                }
            }
            Item::Typename { .. } => "__typename".into(),
            Item::One { rel, alias, .. } => {
                if *alias {
                    format!("{rel}_a")
                } else {
                    rel.clone()
                }
            }
            Item::Many { key, .. } => key.clone(),
            Item::Inline { .. } | Item::Spread { .. } => String::new(),
        }
    }
}

#[derive(Debug, Clone)]
enum RootKind {
    Lookup {
        id: String,
        id_var: bool,
        sel: Vec<Item>,
    },
    List {
        args: Args,
        conn: ConnSel,
    },
    /// `_entities(representations:)`: (type, id) per representation, and one
    /// inline fragment per (type, selection).
    Entities {
        reps: Vec<(String, String)>,
        reps_var: bool,
        typename: bool,
        parts: Vec<(String, Vec<Item>)>,
    },
}

#[derive(Debug, Clone)]
struct Root {
    ty: String,
    kind: RootKind,
    dir: Option<Dir>,
}

#[derive(Debug, Clone)]
struct Query {
    roots: Vec<Root>,
}

#[derive(Debug, Clone)]
struct Case {
    combo: usize,
    query: Query,
    /// Seeds of the other variants' values.
    seeds: Vec<u64>,
}

/// Gives every list relationship a response key of its own, and lets only the
/// first root ask for a second page.
fn finalize(q: &mut Query) {
    fn items(sel: &mut [Item], n: &mut usize) {
        for it in sel {
            match it {
                Item::Many { rel, key, conn, .. } => {
                    *key = format!("{rel}_{n}");
                    *n += 1;
                    if let Some(node) = conn.edges.as_mut().and_then(|e| e.node.as_mut()) {
                        items(node, n);
                    }
                }
                Item::One { sel, .. } | Item::Inline { sel, .. } | Item::Spread { sel, .. } => {
                    items(sel, n)
                }
                Item::Field { .. } | Item::Typename { .. } => {}
            }
        }
    }
    let mut n = 0;
    for (i, root) in q.roots.iter_mut().enumerate() {
        match &mut root.kind {
            RootKind::Lookup { sel, .. } => items(sel, &mut n),
            RootKind::Entities { parts, .. } => {
                for (_, sel) in parts {
                    items(sel, &mut n);
                }
            }
            RootKind::List { args, conn } => {
                if i > 0 {
                    args.after_var = false;
                }
                if let Some(node) = conn.edges.as_mut().and_then(|e| e.node.as_mut()) {
                    items(node, &mut n);
                }
            }
        }
    }
}

fn root_key(q: &Query, i: usize, city: &City) -> String {
    if q.roots.len() > 1 {
        format!("r{i}")
    } else {
        let root = &q.roots[i];
        match root.kind {
            RootKind::Lookup { .. } => city.ty(&root.ty).lookup_field(),
            RootKind::List { .. } => city.ty(&root.ty).plural.clone(),
            RootKind::Entities { .. } => "_entities".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering the AST as GraphQL text and variables
// ---------------------------------------------------------------------------------------------

struct Render<'a> {
    city: &'a City,
    defs: Vec<String>,
    vars: Map<String, Value>,
    frags: Vec<String>,
    n: usize,
}

fn render(q: &Query, city: &City) -> (String, Value) {
    let mut r = Render {
        city,
        defs: Vec::new(),
        vars: Map::new(),
        frags: Vec::new(),
        n: 0,
    };
    let mut body = String::new();
    for (i, root) in q.roots.iter().enumerate() {
        if q.roots.len() > 1 {
            write!(body, "r{i}: ").unwrap();
        }
        match &root.kind {
            RootKind::Lookup { id, id_var, sel } => {
                body.push_str(&city.ty(&root.ty).lookup_field());
                if *id_var {
                    let v = r.var("id", "ID!", Value::String(id.clone()));
                    write!(body, "(id: ${v})").unwrap();
                } else {
                    write!(body, "(id: {})", Value::String(id.clone())).unwrap();
                }
                r.dir(&root.dir, &mut body);
                let inner = r.items(&root.ty, sel);
                write!(body, " {{ {inner} }} ").unwrap();
            }
            RootKind::Entities {
                reps,
                reps_var,
                typename,
                parts,
            } => {
                let json_reps: Vec<Value> = reps
                    .iter()
                    .map(|(ty, id)| json!({"__typename": ty, "id": id}))
                    .collect();
                if *reps_var {
                    let v = r.var("reps", "[_Any!]!", Value::Array(json_reps));
                    write!(body, "_entities(representations: ${v})").unwrap();
                } else {
                    let literal: Vec<String> = reps
                        .iter()
                        .map(|(ty, id)| format!("{{__typename: {}, id: {}}}", json!(ty), json!(id)))
                        .collect();
                    write!(body, "_entities(representations: [{}])", literal.join(", ")).unwrap();
                }
                r.dir(&root.dir, &mut body);
                body.push_str(" { ");
                if *typename {
                    body.push_str("__typename ");
                }
                for (ty, sel) in parts {
                    let inner = r.items(ty, sel);
                    write!(body, "... on {ty} {{ {inner} }} ").unwrap();
                }
                body.push_str("} ");
            }
            RootKind::List { args, conn } => {
                body.push_str(&city.ty(&root.ty).plural);
                let a = r.args(&root.ty, args);
                body.push_str(&a);
                r.dir(&root.dir, &mut body);
                let inner = r.conn(&root.ty, conn);
                write!(body, " {{ {inner} }} ").unwrap();
            }
        }
    }
    let mut text = String::new();
    if r.defs.is_empty() {
        text.push_str("query Diff");
    } else {
        write!(text, "query Diff({})", r.defs.join(", ")).unwrap();
    }
    write!(text, " {{ {body}}}").unwrap();
    for f in &r.frags {
        write!(text, "\n{f}").unwrap();
    }
    (text, Value::Object(r.vars))
}

impl Render<'_> {
    fn var(&mut self, prefix: &str, ty: &str, value: Value) -> String {
        let name = format!("{prefix}{}", self.n);
        self.n += 1;
        self.defs.push(format!("${name}: {ty}"));
        self.vars.insert(name.clone(), value);
        name
    }

    fn dir(&mut self, d: &Option<Dir>, out: &mut String) {
        let Some(d) = d else { return };
        let name = format!("b{}", self.n);
        self.n += 1;
        if d.default {
            self.defs.push(format!("${name}: Boolean = {}", d.value));
        } else {
            self.defs.push(format!("${name}: Boolean!"));
            self.vars.insert(name.clone(), Value::Bool(d.value));
        }
        let which = if d.include { "include" } else { "skip" };
        write!(out, " @{which}(if: ${name})").unwrap();
    }

    fn items(&mut self, ty: &str, sel: &[Item]) -> String {
        let mut out = String::new();
        for it in sel {
            match it {
                Item::Field { name, alias, dir } => {
                    if *alias {
                        write!(out, "{name}_a: ").unwrap();
                    }
                    out.push_str(name);
                    self.dir(dir, &mut out);
                }
                Item::Typename { dir } => {
                    out.push_str("__typename");
                    self.dir(dir, &mut out);
                }
                Item::One {
                    rel,
                    alias,
                    sel,
                    dir,
                } => {
                    let target = self.target(ty, rel);
                    if *alias {
                        write!(out, "{rel}_a: ").unwrap();
                    }
                    out.push_str(rel);
                    self.dir(dir, &mut out);
                    let inner = self.items(&target, sel);
                    write!(out, " {{ {inner} }}").unwrap();
                }
                Item::Many {
                    rel,
                    key,
                    args,
                    conn,
                    dir,
                } => {
                    let target = self.target(ty, rel);
                    write!(out, "{key}: {rel}").unwrap();
                    let a = self.args(&target, args);
                    out.push_str(&a);
                    self.dir(dir, &mut out);
                    let inner = self.conn(&target, conn);
                    write!(out, " {{ {inner} }}").unwrap();
                }
                Item::Inline { typed, sel, dir } => {
                    out.push_str("...");
                    if *typed {
                        write!(out, " on {ty}").unwrap();
                    }
                    self.dir(dir, &mut out);
                    let inner = self.items(ty, sel);
                    write!(out, " {{ {inner} }}").unwrap();
                }
                Item::Spread { sel, dir } => {
                    let name = format!("F{}", self.n);
                    self.n += 1;
                    write!(out, "...{name}").unwrap();
                    self.dir(dir, &mut out);
                    let inner = self.items(ty, sel);
                    self.frags
                        .push(format!("fragment {name} on {ty} {{ {inner} }}"));
                }
            }
            out.push(' ');
        }
        out
    }

    fn target(&self, ty: &str, rel: &str) -> String {
        self.city.ty(ty).relation(rel).unwrap().target.clone()
    }

    fn args(&mut self, ty: &str, a: &Args) -> String {
        let mut parts = Vec::new();
        if let Some(w) = &a.filter {
            if a.filter_var {
                let v = self.var("w", &format!("{ty}Where"), self.where_json(ty, w));
                parts.push(format!("where: ${v}"));
            } else {
                parts.push(format!("where: {}", self.where_literal(ty, w)));
            }
        }
        if !a.order.is_empty() {
            let keys = a
                .order
                .iter()
                .map(|(f, desc)| {
                    let field = sort_enum(f);
                    match desc {
                        None => format!("{{field: {field}}}"),
                        Some(d) => format!(
                            "{{field: {field}, direction: {}}}",
                            if *d { "DESC" } else { "ASC" }
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!("orderBy: [{keys}]"));
        }
        if let Some(n) = a.first {
            if a.first_var {
                let v = self.var("n", "Int", json!(n));
                parts.push(format!("first: ${v}"));
            } else {
                parts.push(format!("first: {n}"));
            }
        }
        if a.after_var {
            self.defs.push("$after: String".into());
            parts.push("after: $after".into());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("({})", parts.join(", "))
        }
    }

    fn conn(&mut self, ty: &str, c: &ConnSel) -> String {
        let mut out = String::new();
        if c.total {
            out.push_str("totalCount ");
        }
        if c.typename {
            out.push_str("__typename ");
        }
        if let Some(p) = &c.page {
            out.push_str("pageInfo { ");
            for (on, name) in [
                (p.next, "hasNextPage"),
                (p.prev, "hasPreviousPage"),
                (p.start, "startCursor"),
                (p.end, "endCursor"),
            ] {
                if on {
                    write!(out, "{name} ").unwrap();
                }
            }
            out.push_str("} ");
        }
        if let Some(e) = &c.edges {
            out.push_str("edges { ");
            if e.cursor {
                out.push_str("cursor ");
            }
            if e.typename {
                out.push_str("__typename ");
            }
            for p in &e.props {
                write!(out, "{p} ").unwrap();
            }
            if let Some(node) = &e.node {
                let inner = self.items(ty, node);
                write!(out, "node {{ {inner} }} ").unwrap();
            }
            out.push_str("} ");
        }
        out
    }

    fn kind(&self, ty: &str, field: &str) -> ScalarKind {
        self.city.ty(ty).field(field).unwrap().kind.clone()
    }

    fn literal(kind: &ScalarKind, v: &Value) -> String {
        match (kind, v) {
            (_, Value::Array(items)) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| Self::literal(kind, i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (ScalarKind::Enum(_), Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        }
    }

    fn where_literal(&self, ty: &str, w: &Where) -> String {
        let entries =
            w.0.iter()
                .map(|e| match e {
                    Entry::And(ws) | Entry::Or(ws) => format!(
                        "{}: [{}]",
                        e.key(),
                        ws.iter()
                            .map(|w| self.where_literal(ty, w))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Entry::Not(w) => format!("NOT: {}", self.where_literal(ty, w)),
                    Entry::Scalar { field, ops } => {
                        let kind = self.kind(ty, field);
                        let ops = ops
                            .iter()
                            .map(|(op, v)| format!("{}: {}", op.name(), Self::literal(&kind, v)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!("{field}: {{{ops}}}")
                    }
                    Entry::Rel { rel, exists, inner } => {
                        let target = self.target(ty, rel);
                        let mut parts = Vec::new();
                        if let Some(x) = exists {
                            parts.push(format!("exists: {x}"));
                        }
                        if let Some(w) = inner {
                            parts.push(format!("where: {}", self.where_literal(&target, w)));
                        }
                        format!("{rel}: {{{}}}", parts.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
        format!("{{{entries}}}")
    }

    fn where_json(&self, ty: &str, w: &Where) -> Value {
        let mut m = Map::new();
        for e in &w.0 {
            let v = match e {
                Entry::And(ws) | Entry::Or(ws) => {
                    Value::Array(ws.iter().map(|w| self.where_json(ty, w)).collect())
                }
                Entry::Not(w) => self.where_json(ty, w),
                Entry::Scalar { ops, .. } => Value::Object(
                    ops.iter()
                        .map(|(op, v)| (op.name().to_string(), v.clone()))
                        .collect(),
                ),
                Entry::Rel { rel, exists, inner } => {
                    let target = self.target(ty, rel);
                    let mut o = Map::new();
                    if let Some(x) = exists {
                        o.insert("exists".into(), Value::Bool(*x));
                    }
                    if let Some(w) = inner {
                        o.insert("where".into(), self.where_json(&target, w));
                    }
                    Value::Object(o)
                }
            };
            m.insert(e.key().to_string(), v);
        }
        Value::Object(m)
    }
}

/// `birthDate` → `BIRTH_DATE`.
fn sort_enum(field: &str) -> String {
    let mut out = String::new();
    for (i, c) in field.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The reference evaluator
// ---------------------------------------------------------------------------------------------

/// What the hub must answer.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// An error with this code, and no data.
    Reject(&'static str),
    /// This `data`.
    Data(Value),
}

/// Known deviation from the GraphQL spec, modelled here rather than failing every
/// run: async-graphql 7.2 answers an object whose whole selection is skipped
/// (`node { name @skip(if: true) }`) with `null`, even where the type is non-null,
/// instead of `{}`; and it resolves each occurrence of a response key on its own,
/// so `household { id @skip(if: true) } household { unit }` answers
/// `household: null` instead of `{unit}` (resolver_utils/container.rs). Not a
/// mandate question; set to false once the hub follows the spec.
const EMPTY_OBJECT_IS_NULL: bool = true;

/// async-graphql's merge of two results under one response key
/// (`insert_value` in resolver_utils/container.rs).
fn merge_results(prev: Value, new: Value) -> Value {
    match (prev, new) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                let merged = match a.remove(&k) {
                    Some(old) => merge_results(old, v),
                    None => v,
                };
                a.insert(k, merged);
            }
            Value::Object(a)
        }
        (Value::Array(mut a), Value::Array(b)) => {
            for (x, y) in a.iter_mut().zip(b) {
                if x.is_object() && y.is_object() {
                    *x = merge_results(x.take(), y);
                }
            }
            Value::Array(a)
        }
        (prev, _) => prev,
    }
}

/// An object value, as the hub renders it.
fn object(m: Map<String, Value>) -> Value {
    if m.is_empty() && EMPTY_OBJECT_IS_NULL {
        Value::Null
    } else {
        Value::Object(m)
    }
}

/// Stands for any cursor string (cursors are sealed with a random nonce).
const CURSOR: &str = "<cursor>";

struct Reference<'a> {
    city: &'a City,
    m: &'a Mandate,
}

impl Reference<'_> {
    /// The answer to `q`; `after` is the id the `$after` cursor points at.
    fn answer(&self, q: &Query, after: Option<&str>) -> Expect {
        if !self.m.purpose_ok {
            return Expect::Reject("PURPOSE_NOT_ALLOWED");
        }
        if !self.valid(q) {
            return Expect::Reject("GRAPHQL_VALIDATION_FAILED");
        }
        let mut data = Map::new();
        for (i, root) in q.roots.iter().enumerate() {
            if !Dir::keeps(&root.dir) {
                continue;
            }
            let key = root_key(q, i, self.city);
            let v = match &root.kind {
                RootKind::Lookup { id, sel, .. } => {
                    if self.city.row(&root.ty, id).is_some() && self.m.sees(&root.ty, id) {
                        self.node(&root.ty, id, &[sel])
                    } else {
                        Value::Null
                    }
                }
                RootKind::List { args, conn } => {
                    let after = if args.after_var { after } else { None };
                    self.connection(&root.ty, None, args, &[conn], after).0
                }
                RootKind::Entities {
                    reps,
                    typename,
                    parts,
                    ..
                } => {
                    // A type outside the mandate is refused as one that does not exist.
                    if reps.iter().any(|(ty, _)| !self.m.is_entity(ty)) {
                        return Expect::Reject("BAD_USER_INPUT");
                    }
                    let typename_item = [Item::Typename { dir: None }];
                    let typename: &[Item] = if *typename { &typename_item } else { &[] };
                    let entities = reps.iter().map(|(ty, id)| {
                        if self.city.row(ty, id).is_none() || !self.m.sees(ty, id) {
                            return Value::Null;
                        }
                        let mut sets = vec![typename];
                        sets.extend(
                            parts
                                .iter()
                                .filter(|(t, _)| t == ty)
                                .map(|(_, sel)| sel.as_slice()),
                        );
                        self.node(ty, id, &sets)
                    });
                    Value::Array(entities.collect())
                }
            };
            data.insert(key, v);
        }
        Expect::Data(object(data))
    }

    /// The id of the last row on the first page of the root asking for a second.
    fn last_on_first_page(&self, q: &Query) -> Option<String> {
        let root = q.roots.first()?;
        let RootKind::List { args, conn } = &root.kind else {
            return None;
        };
        if !args.after_var || !Dir::keeps(&root.dir) {
            return None;
        }
        self.connection(&root.ty, None, args, &[conn], None).1
    }

    // -- validation: every name anywhere in the document, skipped or not ------

    fn valid(&self, q: &Query) -> bool {
        q.roots.iter().all(|root| {
            if let RootKind::Entities { parts, .. } = &root.kind {
                // `_entities` and `_Any` exist only where some type is an
                // entity; a fragment may name only members of `_Entity`.
                return self.m.types.keys().any(|t| self.m.is_entity(t))
                    && parts
                        .iter()
                        .all(|(ty, sel)| self.m.is_entity(ty) && self.valid_items(ty, sel));
            }
            let Some(_) = self.m.types.get(&root.ty) else {
                return false;
            };
            match &root.kind {
                RootKind::Lookup { sel, .. } => {
                    self.m.full(&root.ty, "id") && self.valid_items(&root.ty, sel)
                }
                RootKind::List { args, conn } => {
                    self.valid_args(&root.ty, args) && self.valid_conn(&root.ty, None, conn)
                }
                RootKind::Entities { .. } => unreachable!("checked above"),
            }
        })
    }

    fn valid_items(&self, ty: &str, sel: &[Item]) -> bool {
        sel.iter().all(|it| match it {
            Item::Field { name, .. } => self.m.field(ty, name).is_some(),
            Item::Typename { .. } => true,
            Item::One { rel, sel, .. } => {
                self.m.relation_visible(self.city, ty, rel)
                    && self.valid_items(self.target(ty, rel), sel)
            }
            Item::Many {
                rel, args, conn, ..
            } => {
                let target = self.target(ty, rel);
                self.m.relation_visible(self.city, ty, rel)
                    && self.valid_args(target, args)
                    && self.valid_conn(target, Some((ty, rel)), conn)
            }
            Item::Inline { sel, .. } | Item::Spread { sel, .. } => self.valid_items(ty, sel),
        })
    }

    fn valid_args(&self, ty: &str, a: &Args) -> bool {
        a.filter.as_ref().is_none_or(|w| self.valid_where(ty, w))
            && a.order.iter().all(|(f, _)| self.m.full(ty, f))
    }

    fn valid_where(&self, ty: &str, w: &Where) -> bool {
        w.0.iter().all(|e| match e {
            Entry::And(ws) | Entry::Or(ws) => ws.iter().all(|w| self.valid_where(ty, w)),
            Entry::Not(w) => self.valid_where(ty, w),
            Entry::Scalar { field, .. } => self.m.full(ty, field),
            Entry::Rel { rel, inner, .. } => {
                self.m.relation_visible(self.city, ty, rel)
                    && inner
                        .as_ref()
                        .is_none_or(|w| self.valid_where(self.target(ty, rel), w))
            }
        })
    }

    fn valid_conn(&self, ty: &str, owner: Option<(&str, &str)>, c: &ConnSel) -> bool {
        let Some(e) = &c.edges else { return true };
        let props_ok = e.props.iter().all(|p| {
            owner
                .and_then(|(o, r)| self.m.edge_props(o, r))
                .is_some_and(|props| props.contains_key(p))
        });
        props_ok && e.node.as_ref().is_none_or(|n| self.valid_items(ty, n))
    }

    fn target(&self, ty: &str, rel: &str) -> &str {
        &self.city.ty(ty).relation(rel).unwrap().target
    }

    // -- execution ----------------------------------------------------------------

    /// GraphQL's CollectFields: fragments expanded, skips applied, items grouped
    /// by response key in first-seen order.
    fn collect<'q>(sets: &[&'q [Item]]) -> Vec<(String, Vec<&'q Item>)> {
        fn walk<'q>(sel: &'q [Item], out: &mut Vec<(String, Vec<&'q Item>)>) {
            for it in sel {
                if !Dir::keeps(it.dir()) {
                    continue;
                }
                match it {
                    Item::Inline { sel, .. } | Item::Spread { sel, .. } => walk(sel, out),
                    _ => {
                        let key = it.key();
                        match out.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, v)) => v.push(it),
                            None => out.push((key, vec![it])),
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for s in sets {
            walk(s, &mut out);
        }
        out
    }

    fn node(&self, ty: &str, id: &str, sets: &[&[Item]]) -> Value {
        let row = self.city.row(ty, id).expect("row exists");
        let mut obj = Map::new();
        for (key, items) in Self::collect(sets) {
            let v = if EMPTY_OBJECT_IS_NULL {
                // async-graphql resolves each occurrence of a response key on its
                // own and merges the results (first value wins unless both are
                // objects or lists), so an occurrence that came out null shadows
                // the others.
                items
                    .iter()
                    .map(|it| self.value(ty, id, row, &[*it]))
                    .reduce(merge_results)
                    .unwrap_or(Value::Null)
            } else {
                self.value(ty, id, row, &items)
            };
            obj.insert(key, v);
        }
        object(obj)
    }

    /// The value of one response key of a node, its occurrences merged.
    fn value(&self, ty: &str, id: &str, row: &Row, items: &[&Item]) -> Value {
        match items[0] {
            Item::Field { name, .. } => self.scalar(ty, row, name),
            Item::Typename { .. } => Value::String(ty.to_string()),
            Item::One { rel, .. } => {
                let target = self.target(ty, rel);
                let subs: Vec<&[Item]> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::One { sel, .. } => Some(sel.as_slice()),
                        _ => None,
                    })
                    .collect();
                self.city
                    .edges(ty, rel, id)
                    .iter()
                    .find(|(t, _)| self.m.sees(target, t))
                    .map_or(Value::Null, |(t, _)| self.node(target, t, &subs))
            }
            Item::Many { rel, args, .. } => {
                let target = self.target(ty, rel);
                let conns: Vec<&ConnSel> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Many { conn, .. } => Some(conn),
                        _ => None,
                    })
                    .collect();
                self.connection(target, Some((ty, rel, id)), args, &conns, None)
                    .0
            }
            Item::Inline { .. } | Item::Spread { .. } => unreachable!("expanded"),
        }
    }

    fn scalar(&self, ty: &str, row: &Row, field: &str) -> Value {
        let v = row.get(field).cloned().unwrap_or(Value::Null);
        match self.m.field(ty, field) {
            Some(Access::Full) => v,
            Some(Access::Masked(mask)) => apply_mask(mask, &v),
            None => unreachable!("validated"),
        }
    }

    /// A connection over all rows of `ty` (`anchor` None) or over the edges of a
    /// relationship; returns the value and the id of the last row shown.
    fn connection(
        &self,
        ty: &str,
        anchor: Option<(&str, &str, &str)>,
        args: &Args,
        conns: &[&ConnSel],
        after: Option<&str>,
    ) -> (Value, Option<String>) {
        let candidates: Vec<(&str, Option<&Row>)> = match anchor {
            None => self.city.rows[ty]
                .iter()
                .map(|r| (r["id"].as_str().unwrap(), None))
                .collect(),
            Some((owner, rel, id)) => self
                .city
                .edges(owner, rel, id)
                .iter()
                .map(|(t, props)| (t.as_str(), Some(props)))
                .collect(),
        };
        let mut rows: Vec<(&str, &Row, Option<&Row>)> = candidates
            .into_iter()
            .filter(|(id, _)| self.m.sees(ty, id))
            .map(|(id, props)| (id, self.city.row(ty, id).unwrap(), props))
            .filter(|(id, row, _)| {
                args.filter
                    .as_ref()
                    .is_none_or(|w| self.holds(ty, id, row, w) == Some(true))
            })
            .collect();
        let mut keys: Vec<(&str, bool)> = args
            .order
            .iter()
            .map(|(f, d)| (f.as_str(), d.unwrap_or(false)))
            .collect();
        if !keys.iter().any(|(f, _)| *f == "id") {
            keys.push(("id", false));
        }
        rows.sort_by(|a, b| order_rows(a.1, b.1, &keys));
        let total = rows.len();
        let start = match after {
            None => 0,
            Some(last) => rows
                .iter()
                .position(|(id, _, _)| *id == last)
                .map_or(total, |p| p + 1),
        };
        let first = args.first.unwrap_or(20) as usize;
        let shown = &rows[start..total.min(start + first)];
        let has_next = total - start > first;
        let last_shown = shown.last().map(|(id, _, _)| id.to_string());
        let (conn_type, edge_type) = match anchor {
            Some((owner, rel, _))
                if self.m.edge_props(owner, rel).is_some_and(|p| !p.is_empty()) =>
            {
                let base = format!("{owner}{}", upper_first(rel));
                (format!("{base}Connection"), format!("{base}Edge"))
            }
            _ => (format!("{ty}Connection"), format!("{ty}Edge")),
        };
        let mut out = Map::new();
        for c in conns {
            if c.total {
                out.insert("totalCount".into(), json!(total));
            }
            if c.typename {
                out.insert("__typename".into(), json!(conn_type));
            }
            if let Some(p) = &c.page {
                let cursor_of = |r: Option<&(&str, &Row, Option<&Row>)>| {
                    r.map_or(Value::Null, |_| json!(CURSOR))
                };
                let mut page = match out.remove("pageInfo") {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                if p.next {
                    page.insert("hasNextPage".into(), json!(has_next));
                }
                if p.prev {
                    page.insert("hasPreviousPage".into(), json!(after.is_some()));
                }
                if p.start {
                    page.insert("startCursor".into(), cursor_of(shown.first()));
                }
                if p.end {
                    page.insert("endCursor".into(), cursor_of(shown.last()));
                }
                out.insert("pageInfo".into(), Value::Object(page));
            }
        }
        let edge_sels: Vec<&EdgesSel> = conns.iter().filter_map(|c| c.edges.as_ref()).collect();
        if !edge_sels.is_empty() {
            let nodes: Vec<&[Item]> = edge_sels.iter().filter_map(|e| e.node.as_deref()).collect();
            let edges = shown
                .iter()
                .map(|(id, _, props)| {
                    let mut e = Map::new();
                    for s in &edge_sels {
                        if s.cursor {
                            e.insert("cursor".into(), json!(CURSOR));
                        }
                        if s.typename {
                            e.insert("__typename".into(), json!(edge_type));
                        }
                        for p in &s.props {
                            let (owner, rel, _) =
                                anchor.expect("edge properties on a relationship");
                            let access = self.m.edge_props(owner, rel).unwrap()[p];
                            let raw = props.and_then(|r| r.get(p)).cloned().unwrap_or(Value::Null);
                            let v = match access {
                                Access::Full => raw,
                                Access::Masked(mask) => apply_mask(mask, &raw),
                            };
                            e.insert(p.clone(), v);
                        }
                    }
                    if !nodes.is_empty() {
                        e.insert("node".into(), self.node(ty, id, &nodes));
                    }
                    Value::Object(e)
                })
                .collect();
            out.insert("edges".into(), Value::Array(edges));
        }
        (Value::Object(out), last_shown)
    }

    /// A `where` over one row, in Cypher's three-valued logic (None: unknown).
    fn holds(&self, ty: &str, id: &str, row: &Row, w: &Where) -> Option<bool> {
        and3(w.0.iter().map(|e| self.entry(ty, id, row, e)))
    }

    fn entry(&self, ty: &str, id: &str, row: &Row, e: &Entry) -> Option<bool> {
        match e {
            Entry::And(ws) => and3(ws.iter().map(|w| self.holds(ty, id, row, w))),
            Entry::Or(ws) => or3(ws.iter().map(|w| self.holds(ty, id, row, w))),
            Entry::Not(w) => self.holds(ty, id, row, w).map(|b| !b),
            Entry::Scalar { field, ops } => {
                let v = row.get(field).unwrap_or(&Value::Null);
                and3(ops.iter().map(|(op, x)| compare(v, *op, x)))
            }
            Entry::Rel { rel, exists, inner } => {
                let target = self.target(ty, rel);
                let any = self.city.edges(ty, rel, id).iter().any(|(t, _)| {
                    self.m.sees(target, t)
                        && inner.as_ref().is_none_or(|w| {
                            let r = self.city.row(target, t).unwrap();
                            self.holds(target, t, r, w) == Some(true)
                        })
                });
                Some(any == exists.unwrap_or(true))
            }
        }
    }
}

fn and3(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut out = Some(true);
    for i in items {
        match i {
            Some(false) => return Some(false),
            None => out = None,
            Some(true) => {}
        }
    }
    out
}

fn or3(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut out = Some(false);
    for i in items {
        match i {
            Some(true) => return Some(true),
            None => out = None,
            Some(false) => {}
        }
    }
    out
}

/// Two non-null stored values of one field.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.as_i64().cmp(&y.as_i64()).then_with(|| {
            x.as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal)
        }),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => panic!("incomparable values {a} and {b}"),
    }
}

/// One comparison of a stored value (Cypher: null compares to unknown, except
/// `IN []`, which is false, and `IS NULL`).
fn compare(v: &Value, op: Op, x: &Value) -> Option<bool> {
    if op == Op::IsNull {
        return Some(v.is_null() == x.as_bool().unwrap());
    }
    if op == Op::In && x.as_array().is_some_and(Vec::is_empty) {
        return Some(false);
    }
    if v.is_null() {
        return None;
    }
    Some(match op {
        Op::Eq => cmp_values(v, x) == Ordering::Equal,
        Op::In => x
            .as_array()
            .unwrap()
            .iter()
            .any(|i| cmp_values(v, i) == Ordering::Equal),
        Op::Gt => cmp_values(v, x) == Ordering::Greater,
        Op::Gte => cmp_values(v, x) != Ordering::Less,
        Op::Lt => cmp_values(v, x) == Ordering::Less,
        Op::Lte => cmp_values(v, x) != Ordering::Greater,
        Op::StartsWith => v.as_str().unwrap().starts_with(x.as_str().unwrap()),
        Op::IsNull => unreachable!(),
    })
}

/// Neo4j's order: nulls last ascending, first descending; then the next key.
fn order_rows(a: &Row, b: &Row, keys: &[(&str, bool)]) -> Ordering {
    for (f, desc) in keys {
        let x = a.get(*f).unwrap_or(&Value::Null);
        let y = b.get(*f).unwrap_or(&Value::Null);
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => cmp_values(x, y),
        };
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A mask applied to the stored value rendered as a string; null stays null.
fn apply_mask(mask: &str, v: &Value) -> Value {
    let s = match v {
        Value::Null => return Value::Null,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let chars: Vec<char> = s.chars().collect();
    let left = |n: usize| chars[..n.min(chars.len())].iter().collect::<String>();
    let right = |n: usize| {
        chars[chars.len().saturating_sub(n)..]
            .iter()
            .collect::<String>()
    };
    Value::String(match mask {
        "keep_ends" => format!("{}********{}", left(6), right(4)),
        "phone" => format!("{}****{}", left(3), right(4)),
        "first_char" => format!("{}**", left(1)),
        "year_only" => format!("{}-**-**", left(4)),
        "redact" => "***".to_string(),
        other => panic!("unknown mask {other}"),
    })
}

/// Exact JSON equality, except that [`CURSOR`] stands for any string.
fn same(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::String(e), Value::String(_)) if e == CURSOR => true,
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => expected == got,
    }
}

/// Paths where `got` differs from `expected` (at most `max`).
fn differences(expected: &Value, got: &Value, path: &str, out: &mut Vec<String>, max: usize) {
    if out.len() >= max || same(expected, got) {
        return;
    }
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (a.get(k), b.get(k));
                let p = format!("{path}.{k}");
                match (x, y) {
                    (Some(x), Some(y)) => differences(x, y, &p, out, max),
                    _ => out.push(format!("{p}: expected {x:?}, got {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{path}[{i}]"), out, max);
            }
        }
        _ => out.push(format!("{path}: expected {expected}, got {got}")),
    }
}

fn agrees(expect: &Expect, got: &Value) -> bool {
    match expect {
        Expect::Reject(code) => {
            got["errors"][0]["extensions"]["code"] == *code
                && got.get("data").is_none_or(Value::is_null)
        }
        Expect::Data(data) => got.get("errors").is_none() && same(data, &got["data"]),
    }
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

/// Values to filter with, per (type, field), from the unrestricted city.
struct Pools {
    values: HashMap<(String, String), Vec<Value>>,
    prefixes: HashMap<(String, String), Vec<Value>>,
}

impl Pools {
    fn new(city: &City) -> Pools {
        let mut values = HashMap::new();
        let mut prefixes = HashMap::new();
        for t in &city.catalog.types {
            let rows = &city.rows[&t.name];
            for f in &t.fields {
                let mut distinct: Vec<Value> = rows
                    .iter()
                    .filter_map(|r| r.get(&f.name))
                    .filter(|v| !v.is_null())
                    .cloned()
                    .collect();
                distinct.sort_by(cmp_values);
                distinct.dedup();
                let mut pool = spread(&distinct, 40);
                match &f.kind {
                    ScalarKind::Enum(e) => {
                        pool = city
                            .catalog
                            .enum_type(e)
                            .unwrap()
                            .values
                            .iter()
                            .map(|(v, _)| json!(v))
                            .collect();
                    }
                    ScalarKind::Boolean => pool = vec![json!(true), json!(false)],
                    ScalarKind::Int => {
                        let more: Vec<Value> = pool
                            .iter()
                            .filter_map(Value::as_i64)
                            .map(|i| json!(i + 1))
                            .collect();
                        pool.extend(more);
                    }
                    ScalarKind::Date => {
                        for years in [6, 16, 18, 60] {
                            pool.push(json!(years_before(TODAY, years)));
                        }
                    }
                    ScalarKind::Id => pool.push(json!("X00000000")),
                    ScalarKind::String => {}
                }
                if pool.is_empty() {
                    pool.push(json!("none"));
                }
                if f.kind == ScalarKind::String {
                    let mut p: Vec<Value> = spread(&distinct, 12)
                        .iter()
                        .filter_map(Value::as_str)
                        .flat_map(|s| {
                            let chars: Vec<char> = s.chars().collect();
                            [1, 2].map(|n| {
                                json!(chars[..n.min(chars.len())].iter().collect::<String>())
                            })
                        })
                        .collect();
                    p.push(json!(""));
                    p.sort_by(cmp_values);
                    p.dedup();
                    prefixes.insert((t.name.clone(), f.name.clone()), p);
                }
                values.insert((t.name.clone(), f.name.clone()), pool);
            }
        }
        Pools { values, prefixes }
    }
}

/// At most `n` items, evenly spread over `items`.
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// (type, relationship depth, inside a fragment).
type ItemsKey = (String, usize, bool);

/// What the generator draws from for one combo: mostly the mandate, sometimes
/// the whole catalog.
struct Gen {
    /// Percent of picks outside the mandate.
    poison: u32,
    cat: Rc<Catalog>,
    pools: Rc<Pools>,
    /// Readable fields per visible type.
    fields: HashMap<String, Vec<String>>,
    /// Fields readable in full (filterable, sortable).
    full: HashMap<String, Vec<String>>,
    /// Visible relationships.
    rels: HashMap<String, Vec<String>>,
    /// Readable edge properties per (type, relationship).
    props: HashMap<(String, String), Vec<String>>,
    visible_types: Vec<String>,
    ids: Rc<Ids>,
    items_memo: RefCell<HashMap<ItemsKey, BoxedStrategy<Vec<Item>>>>,
    where_memo: RefCell<HashMap<(String, usize), BoxedStrategy<Where>>>,
}

/// One of `allowed`, or (`poison` %, or when nothing is allowed) one of `all`.
fn choose<T: std::fmt::Debug + 'static>(
    poison: u32,
    allowed: Vec<BoxedStrategy<T>>,
    all: Vec<BoxedStrategy<T>>,
) -> BoxedStrategy<T> {
    if allowed.is_empty() {
        return Union::new(all).boxed();
    }
    if poison == 0 {
        return Union::new(allowed).boxed();
    }
    Union::new_weighted(vec![
        (100 - poison, Union::new(allowed).boxed()),
        (poison, Union::new(all).boxed()),
    ])
    .boxed()
}

fn weighted<T: std::fmt::Debug + 'static>(
    options: Vec<(u32, BoxedStrategy<T>)>,
) -> BoxedStrategy<T> {
    Union::new_weighted(options).boxed()
}

fn s_dir(p: f64) -> BoxedStrategy<Option<Dir>> {
    proptest::option::weighted(
        p,
        (any::<bool>(), any::<bool>(), proptest::bool::weighted(0.3)).prop_map(
            |(include, value, default)| Dir {
                include,
                value,
                default,
            },
        ),
    )
    .boxed()
}

impl Gen {
    fn new(
        cat: Rc<Catalog>,
        pools: Rc<Pools>,
        ids: Rc<Ids>,
        city: &City,
        m: &Mandate,
        poison: u32,
    ) -> Gen {
        let mut g = Gen {
            poison,
            cat,
            pools,
            fields: HashMap::new(),
            full: HashMap::new(),
            rels: HashMap::new(),
            props: HashMap::new(),
            visible_types: m.types.keys().cloned().collect(),
            ids,
            items_memo: RefCell::new(HashMap::new()),
            where_memo: RefCell::new(HashMap::new()),
        };
        for t in &city.catalog.types {
            let name = &t.name;
            if let Some(view) = m.types.get(name) {
                g.fields
                    .insert(name.clone(), view.fields.keys().cloned().collect());
                g.full.insert(
                    name.clone(),
                    view.fields
                        .iter()
                        .filter(|(_, a)| **a == Access::Full)
                        .map(|(f, _)| f.clone())
                        .collect(),
                );
                g.rels.insert(
                    name.clone(),
                    t.relations
                        .iter()
                        .filter(|r| m.relation_visible(city, name, &r.name))
                        .map(|r| r.name.clone())
                        .collect(),
                );
                for (r, props) in &view.relations {
                    g.props
                        .insert((name.clone(), r.clone()), props.keys().cloned().collect());
                }
            }
        }
        g
    }

    fn list<'a>(map: &'a HashMap<String, Vec<String>>, ty: &str) -> &'a [String] {
        map.get(ty).map_or(&[], Vec::as_slice)
    }

    fn query(&self) -> BoxedStrategy<Query> {
        let root = self.root();
        let roots = (root.clone(), proptest::option::weighted(0.1, root))
            .prop_map(|(a, b)| Query {
                roots: std::iter::once(a).chain(b).collect(),
            })
            .boxed();
        // `_entities` stands alone: async-graphql 7.2 drops, rather than nulls
        // the data of, a failing non-null root beside others (async-graphql#1746).
        let entities = self
            .entities()
            .prop_map(|e| Query { roots: vec![e] })
            .boxed();
        weighted(vec![(90, roots), (10, entities)])
    }

    /// `_entities` over the mandate's entity types (sometimes any type).
    fn entities(&self) -> BoxedStrategy<Root> {
        let all: Vec<String> = self.cat.types.iter().map(|t| t.name.clone()).collect();
        let entity: Vec<String> = self
            .visible_types
            .iter()
            .filter(|t| Self::list(&self.full, t).iter().any(|f| f == "id"))
            .cloned()
            .collect();
        let ty = |names: &[String]| -> BoxedStrategy<String> {
            proptest::sample::select(names.to_vec()).boxed()
        };
        let s_type = if entity.is_empty() {
            ty(&all)
        } else if self.poison == 0 {
            ty(&entity)
        } else {
            weighted(vec![
                (100 - self.poison, ty(&entity)),
                (self.poison, ty(&all)),
            ])
        };
        let ids = self.ids.clone();
        let id_of = move |t: String| {
            let pools: Vec<(u32, BoxedStrategy<String>)> = ids
                .choices(&t)
                .into_iter()
                .map(|(w, pool)| (w, proptest::sample::select(pool).boxed()))
                .collect();
            (Just(t), weighted(pools))
        };
        let mut part_types: Vec<BoxedStrategy<(String, Vec<Item>)>> = Vec::new();
        for t in &all {
            let t2 = t.clone();
            part_types.push(
                self.items(t, 1, true)
                    .prop_map(move |sel| (t2.clone(), sel))
                    .boxed(),
            );
        }
        let chosen: Vec<BoxedStrategy<(String, Vec<Item>)>> = all
            .iter()
            .zip(&part_types)
            .filter(|(t, _)| entity.contains(t))
            .map(|(_, s)| s.clone())
            .collect();
        let part = choose(self.poison, chosen, part_types);
        (
            proptest::collection::vec(part, 1..=2),
            proptest::bool::weighted(0.6),
            proptest::bool::weighted(0.4),
            s_dir(0.03),
        )
            .prop_flat_map(move |(parts, reps_var, typename, dir)| {
                // Mostly the types the fragments select from, so entities answer.
                let selected: Vec<String> = parts.iter().map(|(t, _)| t.clone()).collect();
                let rep_type = weighted(vec![
                    (3, proptest::sample::select(selected).boxed()),
                    (1, s_type.clone()),
                ]);
                let rep = rep_type.prop_flat_map(id_of.clone()).boxed();
                (
                    proptest::collection::vec(rep, 0..=4),
                    Just((parts, reps_var, typename, dir)),
                )
            })
            .prop_map(|(reps, (parts, reps_var, typename, dir))| Root {
                ty: String::new(),
                kind: RootKind::Entities {
                    reps,
                    reps_var,
                    typename,
                    parts,
                },
                dir,
            })
            .boxed()
    }

    fn root(&self) -> BoxedStrategy<Root> {
        let per_type = |names: &[String]| -> Vec<BoxedStrategy<Root>> {
            names.iter().map(|t| self.root_of(t)).collect()
        };
        let all: Vec<String> = self.cat.types.iter().map(|t| t.name.clone()).collect();
        let all = Union::new(per_type(&all)).boxed();
        if self.visible_types.is_empty() {
            return all;
        }
        let visible = Union::new(per_type(&self.visible_types)).boxed();
        if self.poison == 0 {
            return visible;
        }
        weighted(vec![(100 - self.poison, visible), (self.poison, all)])
    }

    fn root_of(&self, ty: &str) -> BoxedStrategy<Root> {
        let ids: Vec<(u32, BoxedStrategy<String>)> = self
            .ids
            .choices(ty)
            .into_iter()
            .map(|(w, pool)| (w, proptest::sample::select(pool).boxed()))
            .collect();
        let t1 = ty.to_string();
        let lookup = (
            weighted(ids),
            proptest::bool::weighted(0.3),
            self.items(ty, 0, false),
            s_dir(0.03),
        )
            .prop_map(move |(id, id_var, sel, dir)| Root {
                ty: t1.clone(),
                kind: RootKind::Lookup { id, id_var, sel },
                dir,
            });
        let t2 = ty.to_string();
        let list = (
            self.args(ty, true),
            self.conn(ty, None, 0),
            proptest::bool::weighted(0.12),
            s_dir(0.03),
        )
            .prop_map(move |(mut args, mut conn, paginate, dir)| {
                if paginate {
                    args.after_var = true;
                    let page = conn.page.get_or_insert_with(PageSel::default);
                    page.end = true;
                }
                Root {
                    ty: t2.clone(),
                    kind: RootKind::List { args, conn },
                    dir,
                }
            });
        // A root list of residents or households scans the whole city twice (rows
        // and count) under the row scope: the dearest query there is.
        let list_weight = if matches!(ty, "Resident" | "Household") {
            25
        } else {
            50
        };
        weighted(vec![
            (100 - list_weight, lookup.boxed()),
            (list_weight, list.boxed()),
        ])
    }

    fn items(&self, ty: &str, depth: usize, in_frag: bool) -> BoxedStrategy<Vec<Item>> {
        let key = (ty.to_string(), depth, in_frag);
        if let Some(s) = self.items_memo.borrow().get(&key) {
            return s.clone();
        }
        let s = proptest::collection::vec(self.item(ty, depth, in_frag), 1..=4).boxed();
        self.items_memo.borrow_mut().insert(key, s.clone());
        s
    }

    fn item(&self, ty: &str, depth: usize, in_frag: bool) -> BoxedStrategy<Item> {
        let t = self.cat.node(ty).unwrap();
        let field = |name: &String| {
            let name = name.clone();
            proptest::bool::weighted(0.2)
                .prop_map(move |alias| Item::Field {
                    name: name.clone(),
                    alias,
                    dir: None,
                })
                .boxed()
        };
        let all_fields: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        let mut options = vec![
            (
                60,
                choose(
                    self.poison,
                    Self::list(&self.fields, ty).iter().map(field).collect(),
                    all_fields.iter().map(field).collect(),
                ),
            ),
            (4, Just(Item::Typename { dir: None }).boxed()),
        ];
        if depth < MAX_DEPTH && !t.relations.is_empty() {
            let rel = |name: &String| self.rel_item(ty, name, depth);
            let all: Vec<String> = t.relations.iter().map(|r| r.name.clone()).collect();
            // Shallower is likelier: every nested relationship is a subquery
            // Neo4j must plan afresh (random queries never hit its plan cache).
            options.push((
                [18, 10, 5][depth],
                choose(
                    self.poison,
                    Self::list(&self.rels, ty).iter().map(rel).collect(),
                    all.iter().map(rel).collect(),
                ),
            ));
        }
        if !in_frag {
            let inner = self.items(ty, depth, true);
            options.push((
                5,
                (any::<bool>(), inner.clone())
                    .prop_map(|(typed, sel)| Item::Inline {
                        typed,
                        sel,
                        dir: None,
                    })
                    .boxed(),
            ));
            options.push((
                4,
                inner
                    .prop_map(|sel| Item::Spread { sel, dir: None })
                    .boxed(),
            ));
        }
        (weighted(options), s_dir(0.12))
            .prop_map(|(mut it, dir)| {
                // Known deviation: async-graphql 7.2's validation does not see a
                // variable used only in a directive on `__typename` ("Variable is
                // not used by operation"), so `__typename` carries none here.
                if !matches!(it, Item::Typename { .. }) {
                    it.set_dir(dir);
                }
                it
            })
            .boxed()
    }

    fn rel_item(&self, ty: &str, rel: &str, depth: usize) -> BoxedStrategy<Item> {
        let r = self.cat.node(ty).unwrap().relation(rel).unwrap();
        let name = rel.to_string();
        if r.many {
            (
                self.args(&r.target, false),
                self.conn(&r.target, Some((ty, rel)), depth + 1),
            )
                .prop_map(move |(args, conn)| Item::Many {
                    rel: name.clone(),
                    key: String::new(),
                    args,
                    conn,
                    dir: None,
                })
                .boxed()
        } else {
            (
                self.items(&r.target, depth + 1, false),
                proptest::bool::weighted(0.2),
            )
                .prop_map(move |(sel, alias)| Item::One {
                    rel: name.clone(),
                    alias,
                    sel,
                    dir: None,
                })
                .boxed()
        }
    }

    fn conn(&self, ty: &str, owner: Option<(&str, &str)>, depth: usize) -> BoxedStrategy<ConnSel> {
        let page = (
            proptest::bool::weighted(0.7),
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(next, prev, start, end)| PageSel {
                next: next || !(prev || start || end),
                prev,
                start,
                end,
            });
        let (readable, all_props): (Vec<String>, Vec<String>) = match owner {
            Some((o, r)) => (
                self.props
                    .get(&(o.to_string(), r.to_string()))
                    .cloned()
                    .unwrap_or_default(),
                self.cat
                    .node(o)
                    .unwrap()
                    .relation(r)
                    .unwrap()
                    .properties
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let props: BoxedStrategy<Vec<String>> = if all_props.is_empty() {
            Just(Vec::new()).boxed()
        } else if readable.is_empty() {
            (
                proptest::bool::weighted(f64::from(self.poison) / 100.0),
                proptest::sample::select(all_props),
            )
                .prop_map(|(on, p)| if on { vec![p] } else { Vec::new() })
                .boxed()
        } else {
            proptest::option::weighted(0.5, proptest::sample::select(readable))
                .prop_map(|p| p.into_iter().collect())
                .boxed()
        };
        let edges = (
            proptest::option::weighted(0.95, self.items(ty, depth, false)),
            props,
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.05),
        )
            .prop_map(|(node, props, cursor, typename)| {
                let empty = node.is_none() && props.is_empty() && !cursor && !typename;
                EdgesSel {
                    node,
                    props,
                    cursor: cursor || empty,
                    typename,
                }
            });
        (
            proptest::bool::weighted(0.5),
            proptest::option::weighted(0.25, page),
            proptest::option::weighted(0.85, edges),
            proptest::bool::weighted(0.05),
        )
            .prop_map(|(total, page, edges, typename)| ConnSel {
                total: total || (page.is_none() && edges.is_none() && !typename),
                page,
                edges,
                typename,
            })
            .boxed()
    }

    fn args(&self, ty: &str, root: bool) -> BoxedStrategy<Args> {
        let t = self.cat.node(ty).unwrap();
        let key = |f: &String| {
            let f = f.clone();
            proptest::option::of(any::<bool>())
                .prop_map(move |d| (f.clone(), d))
                .boxed()
        };
        let all: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        let order_key = choose(
            self.poison,
            Self::list(&self.full, ty).iter().map(key).collect(),
            all.iter().map(key).collect(),
        );
        let order = proptest::collection::vec(order_key, 1..=2).prop_map(|mut v| {
            let mut seen = HashSet::new();
            v.retain(|(f, _)| seen.insert(f.clone()));
            v
        });
        (
            proptest::option::weighted(if root { 0.55 } else { 0.4 }, self.filter(ty, 2)),
            proptest::bool::weighted(0.2),
            proptest::option::weighted(0.45, order),
            proptest::option::weighted(0.8, 0i64..=30),
            proptest::bool::weighted(0.15),
        )
            .prop_map(|(filter, filter_var, order, first, first_var)| Args {
                filter,
                filter_var,
                order: order.unwrap_or_default(),
                first,
                first_var,
                after_var: false,
            })
            .boxed()
    }

    fn filter(&self, ty: &str, depth: usize) -> BoxedStrategy<Where> {
        let memo_key = (ty.to_string(), depth);
        if let Some(s) = self.where_memo.borrow().get(&memo_key) {
            return s.clone();
        }
        let t = self.cat.node(ty).unwrap();
        let scalar = |f: &String| self.scalar_entry(ty, f);
        let all: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        let mut options = vec![(
            55,
            choose(
                self.poison,
                Self::list(&self.full, ty).iter().map(scalar).collect(),
                all.iter().map(scalar).collect(),
            ),
        )];
        if !t.relations.is_empty() {
            let rel = |name: &String| {
                let target = t.relation(name).unwrap().target.clone();
                let inner = if depth > 0 {
                    proptest::option::weighted(0.7, self.filter(&target, depth - 1))
                        .prop_map(|w| w.map(Box::new))
                        .boxed()
                } else {
                    Just(None).boxed()
                };
                let name = name.clone();
                (proptest::option::weighted(0.4, any::<bool>()), inner)
                    .prop_map(move |(exists, inner)| Entry::Rel {
                        rel: name.clone(),
                        exists,
                        inner,
                    })
                    .boxed()
            };
            let all: Vec<String> = t.relations.iter().map(|r| r.name.clone()).collect();
            options.push((
                30,
                choose(
                    self.poison,
                    Self::list(&self.rels, ty).iter().map(rel).collect(),
                    all.iter().map(rel).collect(),
                ),
            ));
        }
        if depth > 0 {
            let sub = self.filter(ty, depth - 1);
            options.push((
                7,
                proptest::collection::vec(sub.clone(), 0..=3)
                    .prop_map(Entry::And)
                    .boxed(),
            ));
            options.push((
                8,
                proptest::collection::vec(sub.clone(), 0..=3)
                    .prop_map(Entry::Or)
                    .boxed(),
            ));
            options.push((6, sub.prop_map(|w| Entry::Not(Box::new(w))).boxed()));
        }
        let s = proptest::collection::vec(weighted(options), 1..=2)
            .prop_map(|mut entries| {
                let mut seen = HashSet::new();
                entries.retain(|e| seen.insert(e.key().to_string()));
                Where(entries)
            })
            .boxed();
        self.where_memo.borrow_mut().insert(memo_key, s.clone());
        s
    }

    fn scalar_entry(&self, ty: &str, field: &str) -> BoxedStrategy<Entry> {
        let f = self.cat.node(ty).unwrap().field(field).unwrap();
        let key = (ty.to_string(), field.to_string());
        let pool = self.pools.values[&key].clone();
        let value = proptest::sample::select(pool.clone());
        let op = |op: Op| {
            let v = value.clone();
            v.prop_map(move |v| (op, v)).boxed()
        };
        let mut ops: Vec<(u32, BoxedStrategy<(Op, Value)>)> = vec![
            (
                1,
                any::<bool>()
                    .prop_map(|b| (Op::IsNull, Value::Bool(b)))
                    .boxed(),
            ),
            (4, op(Op::Eq)),
        ];
        if f.kind != ScalarKind::Boolean {
            ops.push((
                2,
                proptest::collection::vec(proptest::sample::select(pool), 0..=4)
                    .prop_map(|v| (Op::In, Value::Array(v)))
                    .boxed(),
            ));
        }
        if matches!(
            f.kind,
            ScalarKind::String | ScalarKind::Int | ScalarKind::Date
        ) {
            for o in [Op::Gt, Op::Gte, Op::Lt, Op::Lte] {
                ops.push((1, op(o)));
            }
        }
        if f.kind == ScalarKind::String {
            let prefixes = self.pools.prefixes[&key].clone();
            ops.push((
                3,
                proptest::sample::select(prefixes)
                    .prop_map(|p| (Op::StartsWith, p))
                    .boxed(),
            ));
        }
        let name = field.to_string();
        proptest::collection::vec(weighted(ops), 1..=2)
            .prop_map(move |mut ops| {
                let mut seen = Vec::new();
                ops.retain(|(o, _)| {
                    let fresh = !seen.contains(o);
                    seen.push(*o);
                    fresh
                });
                Entry::Scalar {
                    field: name.clone(),
                    ops,
                }
            })
            .boxed()
    }
}

/// Ids to look up, per type: inside and outside the mandate.
struct Ids {
    inside: HashMap<String, Vec<String>>,
    outside: HashMap<String, Vec<String>>,
}

impl Ids {
    fn new(city: &City, m: &Mandate) -> Ids {
        let mut ids = Ids {
            inside: HashMap::new(),
            outside: HashMap::new(),
        };
        for t in &city.catalog.types {
            let all: Vec<String> = city.rows[&t.name]
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            let (inside, outside): (Vec<String>, Vec<String>) =
                all.into_iter().partition(|id| m.sees(&t.name, id));
            ids.inside.insert(t.name.clone(), spread(&inside, 60));
            ids.outside.insert(t.name.clone(), spread(&outside, 30));
        }
        ids
    }

    /// Lookup candidates with weights: inside 5, outside 3, nonexistent 2.
    fn choices(&self, ty: &str) -> Vec<(u32, Vec<String>)> {
        [
            (5, self.inside.get(ty).cloned().unwrap_or_default()),
            (3, self.outside.get(ty).cloned().unwrap_or_default()),
            (
                2,
                vec!["X99999999".to_string(), format!("{}99999999", &ty[..1])],
            ),
        ]
        .into_iter()
        .filter(|(_, pool)| !pool.is_empty())
        .collect()
    }
}

/// splitmix64: the values of a variant, from its seed.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Draws new values into every value slot of `q` (lookup ids, filter constants,
/// `first`), leaving its shape, and so its Cypher text, unchanged.
struct Revalue<'a> {
    city: &'a City,
    pools: &'a Pools,
    ids: &'a Ids,
    mix: Mix,
}

impl Revalue<'_> {
    fn query(&mut self, q: &mut Query) {
        for root in &mut q.roots {
            match &mut root.kind {
                RootKind::Lookup { id, sel, .. } => {
                    *id = self.pick_id(&root.ty);
                    self.items(&root.ty, sel);
                }
                RootKind::List { args, conn } => {
                    self.args(&root.ty, args);
                    self.conn(&root.ty, conn);
                }
                RootKind::Entities { reps, parts, .. } => {
                    for (ty, id) in reps {
                        *id = self.pick_id(ty);
                    }
                    for (ty, sel) in parts {
                        self.items(ty, sel);
                    }
                }
            }
        }
    }

    fn pick_id(&mut self, ty: &str) -> String {
        let choices = self.ids.choices(ty);
        let total: u32 = choices.iter().map(|(w, _)| w).sum();
        let mut at = (self.mix.next() % u64::from(total)) as u32;
        for (w, pool) in &choices {
            if at < *w {
                return self.mix.pick(pool).clone();
            }
            at -= w;
        }
        unreachable!("weights cover the total")
    }

    fn target(&self, ty: &str, rel: &str) -> String {
        self.city.ty(ty).relation(rel).unwrap().target.clone()
    }

    fn items(&mut self, ty: &str, sel: &mut [Item]) {
        for it in sel {
            match it {
                Item::One { rel, sel, .. } => {
                    let target = self.target(ty, rel);
                    self.items(&target, sel);
                }
                Item::Many {
                    rel, args, conn, ..
                } => {
                    let target = self.target(ty, rel);
                    self.args(&target, args);
                    self.conn(&target, conn);
                }
                Item::Inline { sel, .. } | Item::Spread { sel, .. } => self.items(ty, sel),
                Item::Field { .. } | Item::Typename { .. } => {}
            }
        }
    }

    fn conn(&mut self, ty: &str, c: &mut ConnSel) {
        if let Some(node) = c.edges.as_mut().and_then(|e| e.node.as_mut()) {
            self.items(ty, node);
        }
    }

    fn args(&mut self, ty: &str, a: &mut Args) {
        if let Some(n) = a.first.as_mut() {
            *n = (self.mix.next() % 31) as i64;
        }
        if let Some(w) = a.filter.as_mut() {
            self.filter(ty, w);
        }
    }

    fn filter(&mut self, ty: &str, w: &mut Where) {
        for e in &mut w.0 {
            match e {
                Entry::And(ws) | Entry::Or(ws) => {
                    for w in ws {
                        self.filter(ty, w);
                    }
                }
                Entry::Not(w) => self.filter(ty, w),
                Entry::Rel { rel, inner, .. } => {
                    if let Some(w) = inner {
                        let target = self.target(ty, rel);
                        self.filter(&target, w);
                    }
                }
                Entry::Scalar { field, ops } => {
                    let key = (ty.to_string(), field.clone());
                    for (op, v) in ops {
                        match op {
                            // `IS NULL` and `IS NOT NULL` are different Cypher.
                            Op::IsNull => {}
                            Op::In => {
                                let pool = &self.pools.values[&key];
                                for x in v.as_array_mut().unwrap() {
                                    *x = self.mix.pick(pool).clone();
                                }
                            }
                            Op::StartsWith => {
                                *v = self.mix.pick(&self.pools.prefixes[&key]).clone()
                            }
                            _ => *v = self.mix.pick(&self.pools.values[&key]).clone(),
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

/// One (officer, purpose) pair and what the lists grant it.
struct Combo {
    principal: usize,
    purpose: String,
    mandate: Mandate,
    /// Lookup ids of the mandate queries are shaped for.
    ids: Rc<Ids>,
}

struct Env {
    hub: TestHub,
    city: City,
    pools: Rc<Pools>,
    combos: Vec<Combo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Rejected,
    Denied,
    Data,
}

struct Mismatch {
    report: String,
}

/// Checks a case: its query as generated, then with each variant's values, one
/// after the other (the first plans the Cypher, the others reuse the plan).
async fn check(env: &Env, case: &Case) -> Result<Vec<Kind>, Mismatch> {
    let combo = &env.combos[case.combo];
    let mut q = case.query.clone();
    finalize(&mut q);
    let mut kinds = Vec::with_capacity(case.seeds.len() + 1);
    kinds.push(check_one(env, combo, &q).await?);
    for seed in &case.seeds {
        let mut v = q.clone();
        Revalue {
            city: &env.city,
            pools: &env.pools,
            ids: &combo.ids,
            mix: Mix(*seed),
        }
        .query(&mut v);
        kinds.push(check_one(env, combo, &v).await?);
    }
    Ok(kinds)
}

async fn check_one(env: &Env, combo: &Combo, q: &Query) -> Result<Kind, Mismatch> {
    let (text, vars) = render(q, &env.city);
    let reference = Reference {
        city: &env.city,
        m: &combo.mandate,
    };
    // The request goes out first; the reference answers while it is in flight.
    let (got, expect) = futures::join!(
        ask_steady(&env.hub, combo.principal, &combo.purpose, &text, &vars),
        async { reference.answer(q, None) }
    );
    let report = |expect: &Expect, got: &Value, vars: &Value, page: &str| {
        let (agency, roles) = PRINCIPALS[combo.principal];
        let (expected, diff) = match expect {
            Expect::Reject(code) => (format!("error {code}, no data"), String::new()),
            Expect::Data(d) => {
                let mut diffs = Vec::new();
                differences(d, &got["data"], "data", &mut diffs, 8);
                (
                    serde_json::to_string_pretty(&json!({ "data": d })).unwrap(),
                    diffs.join("\n  "),
                )
            }
        };
        Mismatch {
            report: format!(
                "agency:   {agency}\nroles:    {roles:?}\npurpose:  {}\n{page}query:\n{text}\nvariables: {vars}\ndifferences:\n  {diff}\nexpected: {expected}\ngot:      {}\n",
                combo.purpose,
                serde_json::to_string_pretty(got).unwrap()
            ),
        }
    };
    if !agrees(&expect, &got) {
        return Err(report(&expect, &got, &vars, ""));
    }
    if matches!(q.roots[0].kind, RootKind::Entities { .. }) {
        ENTITY_CASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let hit = got["data"]["_entities"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| !x.is_null()));
        if hit {
            ENTITY_HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let kind = match &expect {
        Expect::Reject("PURPOSE_NOT_ALLOWED") => Kind::Rejected,
        Expect::Reject(_) => Kind::Denied,
        Expect::Data(_) => Kind::Data,
    };
    // The second page, through the first page's endCursor.
    if kind == Kind::Data {
        if let Some(last) = reference.last_on_first_page(q) {
            let key = root_key(q, 0, &env.city);
            let cursor = got["data"][&key]["pageInfo"]["endCursor"].clone();
            let mut vars2 = vars.clone();
            vars2["after"] = cursor;
            SECOND_PAGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let expect2 = reference.answer(q, Some(&last));
            let got2 = ask_steady(&env.hub, combo.principal, &combo.purpose, &text, &vars2).await;
            if !agrees(&expect2, &got2) {
                return Err(report(&expect2, &got2, &vars2, "(second page)\n"));
            }
        }
    }
    Ok(kind)
}

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

/// Shrinks a failing case through its value tree; returns the smallest report.
async fn shrink(
    env: &Env,
    tree: &mut dyn ValueTree<Value = Case>,
    mut report: String,
) -> (String, usize) {
    let mut steps = 0;
    if !tree.simplify() {
        return (report, steps);
    }
    while steps < 600 {
        steps += 1;
        match check(env, &tree.current()).await {
            Err(m) => {
                report = m.report;
                if !tree.simplify() {
                    break;
                }
            }
            Ok(_) => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    (report, steps)
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
        assert_eq!(
            n["idNumber"],
            json!(format!("{}********{}", &idn[..6], &idn[14..]))
        );
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
