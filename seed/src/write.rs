//! The batched Neo4j writer: [`seed`] generates a city and stores it with
//! `UNWIND ... MERGE` statements keyed by id, one kind of node at a time in
//! batches of 5,000 rows, so writing the same city again changes nothing.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mandate_resolvers::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};

use mandate_connectors::Neo4jStore;

use crate::{generate, CityParams, SeedError};

/// Rows per UNWIND batch.
const BATCH: usize = 5_000;

const SUBDISTRICTS: &str = "UNWIND $rows AS row
MERGE (s:Subdistrict {id: row.id})
SET s.name = row.name, s.code = row.code";

const COMMUNITIES: &str = "UNWIND $rows AS row
MERGE (c:Community {id: row.id})
SET c.name = row.name, c.code = row.code
WITH c, row
MATCH (s:Subdistrict {id: row.subdistrictId})
MERGE (c)-[:PART_OF]->(s)";

const GRIDS: &str = "UNWIND $rows AS row
MERGE (g:Grid {id: row.id})
SET g.name = row.name, g.code = row.code, g.gridWorker = row.gridWorker
WITH g, row
MATCH (c:Community {id: row.communityId})
MERGE (g)-[:PART_OF]->(c)";

const BUILDINGS: &str = "UNWIND $rows AS row
MERGE (b:Building {id: row.id})
SET b.address = row.address, b.yearBuilt = row.yearBuilt, b.floors = row.floors,
    b.oldCompound = row.oldCompound, b.safetyGrade = row.safetyGrade
WITH b, row
MATCH (g:Grid {id: row.gridId})
MERGE (b)-[:IN_GRID]->(g)";

const HOUSEHOLDS: &str = "UNWIND $rows AS row
MERGE (h:Household {id: row.id})
SET h.householdNumber = row.householdNumber, h.unit = row.unit, h.memberCount = row.memberCount
WITH h, row
MATCH (b:Building {id: row.buildingId})
MERGE (h)-[:RESIDES_IN]->(b)";

const RESIDENTS: &str = "UNWIND $rows AS row
MERGE (r:Resident {id: row.id})
SET r.name = row.name, r.idNumber = row.idNumber, r.birthDate = date(row.birthDate),
    r.sex = row.sex, r.phone = row.phone, r.hukouType = row.hukouType,
    r.ethnicity = row.ethnicity, r.occupation = row.occupation,
    r.disabilityStatus = row.disabilityStatus, r.lowIncome = row.lowIncome,
    r.elderlyLivingAlone = row.elderlyLivingAlone
WITH r, row
MATCH (h:Household {id: row.householdId})
MERGE (r)-[m:MEMBER_OF]->(h)
SET m.relationToHead = row.relationToHead";

const DEPARTMENTS: &str = "UNWIND $rows AS row
MERGE (d:Department {id: row.id})
SET d.name = row.name, d.code = row.code, d.level = row.level
WITH d, row
CALL (d, row) {
  UNWIND row.servesSubdistricts AS sid
  MATCH (s:Subdistrict {id: sid})
  MERGE (d)-[:SERVES]->(s)
}
CALL (d, row) {
  UNWIND row.servesCommunities AS cid
  MATCH (c:Community {id: cid})
  MERGE (d)-[:SERVES]->(c)
}
CALL (d, row) {
  UNWIND row.servesGrids AS gid
  MATCH (g:Grid {id: gid})
  MERGE (d)-[:SERVES]->(g)
}";

/// What a seeding run did.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedReport {
    /// Nodes written per kind, in write order.
    pub counts: Vec<(&'static str, usize)>,
    /// Time spent generating.
    pub generate_time: Duration,
    /// Time spent writing.
    pub write_time: Duration,
}

impl SeedReport {
    /// Residents written per second of write time.
    pub fn residents_per_second(&self) -> f64 {
        let residents = self
            .counts
            .iter()
            .find(|(k, _)| *k == "residents")
            .map_or(0, |(_, n)| *n);
        residents as f64 / self.write_time.as_secs_f64().max(1e-9)
    }
}

/// Generates the city for `params` and writes it. `progress` shows a bar on stderr.
///
/// # Errors
/// [`SeedError::Store`] if Neo4j is unreachable or rejects a batch; batches
/// written before stay (re-running completes them, as every write is a MERGE).
/// [`SeedError::Table`] if an embedded data table does not parse.
pub async fn seed(
    store: &Neo4jStore,
    params: &CityParams,
    progress: bool,
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    let city = generate(params)?;
    let generate_time = started.elapsed();
    let started = Instant::now();
    let total = city.subdistricts.len()
        + city.communities.len()
        + city.grids.len()
        + city.buildings.len()
        + city.households.len()
        + city.residents.len()
        + city.departments.len();
    let bar = if progress {
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {msg:<12} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut counts = Vec::new();
    counts.push((
        "subdistricts",
        write_rows(
            store,
            &bar,
            "subdistricts",
            SUBDISTRICTS,
            &city.subdistricts,
        )
        .await?,
    ));
    counts.push((
        "communities",
        write_rows(store, &bar, "communities", COMMUNITIES, &city.communities).await?,
    ));
    counts.push((
        "grids",
        write_rows(store, &bar, "grids", GRIDS, &city.grids).await?,
    ));
    counts.push((
        "buildings",
        write_rows(store, &bar, "buildings", BUILDINGS, &city.buildings).await?,
    ));
    counts.push((
        "households",
        write_rows(store, &bar, "households", HOUSEHOLDS, &city.households).await?,
    ));
    counts.push((
        "residents",
        write_rows(store, &bar, "residents", RESIDENTS, &city.residents).await?,
    ));
    counts.push((
        "departments",
        write_rows(store, &bar, "departments", DEPARTMENTS, &city.departments).await?,
    ));
    bar.finish_and_clear();
    Ok(SeedReport {
        counts,
        generate_time,
        write_time: started.elapsed(),
    })
}

async fn write_rows<T: Serialize>(
    store: &Neo4jStore,
    bar: &ProgressBar,
    what: &'static str,
    statement: &str,
    rows: &[T],
) -> Result<usize, StoreError> {
    bar.set_message(what);
    for chunk in rows.chunks(BATCH) {
        let rows = serde_json::to_value(chunk)
            .map_err(|e| StoreError::Query(format!("cannot encode {what}: {e}")))?;
        let mut params = Map::new();
        params.insert("rows".to_string(), rows);
        store.execute(statement, params).await?;
        bar.inc(chunk.len() as u64);
    }
    Ok(rows.len())
}

/// Number of residents stored.
///
/// # Errors
/// If Neo4j is unreachable.
pub async fn resident_count(store: &Neo4jStore) -> Result<u64, StoreError> {
    let rows = store
        .rows("MATCH (r:Resident) RETURN count(r) AS n", Map::new())
        .await?;
    Ok(rows
        .first()
        .and_then(|r| r.get("n"))
        .and_then(Value::as_u64)
        .unwrap_or(0))
}
