//! The reference city: the whole unrestricted test graph, read once with
//! hand-written Cypher and held in memory (rows, relationship edges, the
//! PART_OF hierarchy and SERVES), with each agency's jurisdiction over it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mandate_policies::{years_before, Jurisdiction};
use mandate_schema::{Catalog, Direction, NodeType};
use serde_json::{json, Map, Value};

use crate::common::TestHub;
use crate::TODAY;

pub(crate) type Row = Map<String, Value>;

/// Edges of one relationship field: from id → [(to id, edge properties)].
type Adjacency = HashMap<String, Vec<(String, Row)>>;

pub(crate) struct City {
    pub(crate) catalog: Catalog,
    /// Rows per type name, sorted by id; catalog fields plus derived attributes.
    pub(crate) rows: BTreeMap<String, Vec<Row>>,
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
    pub(crate) async fn load(hub: &TestHub) -> City {
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

    pub(crate) fn ty(&self, name: &str) -> &NodeType {
        self.catalog.node(name).expect("type in catalog")
    }

    pub(crate) fn row(&self, ty: &str, id: &str) -> Option<&Row> {
        let i = *self.index.get(ty)?.get(id)?;
        Some(&self.rows[ty][i])
    }

    pub(crate) fn edges(&self, ty: &str, rel: &str, id: &str) -> &[(String, Row)] {
        self.adj
            .get(ty)
            .and_then(|m| m.get(rel))
            .and_then(|m| m.get(id))
            .map_or(&[], Vec::as_slice)
    }

    /// The agency's Department code, as the hub reads it ("" without a node).
    pub(crate) fn department(&self, agency: &str) -> String {
        self.row("Department", agency)
            .and_then(|r| r["code"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// What the agency's Department SERVES, closed over grid → community →
    /// subdistrict: grids served directly or through their community or
    /// subdistrict; their communities; those communities' subdistricts.
    pub(crate) fn jurisdiction(&self, agency: &str) -> Jurisdiction {
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
    pub(crate) fn facts_row(&self, ty: &str, row: &Row) -> Value {
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
