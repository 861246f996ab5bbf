//! Writing: one batch is one statement (`UNWIND $rows`) in one auto-commit
//! transaction, so a batch lands whole or not at all; and the reject file.
//!
//! If Neo4j refuses a batch (say one row's unique field is already another
//! node's), the batch is retried row by row, each in its own transaction, so
//! the refused rows are rejected with their line and the rest land. If Neo4j is
//! unavailable the import stops; batches committed before stay, and re-running
//! the import completes it (every write is a MERGE or an update by key).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use mandate_resolvers::StoreError;
use serde_json::{Map, Value};

use super::mapping::{Mode, Plan};
use super::ImportError;
use crate::Neo4jStore;

/// Writes one batch; returns the rows rejected while writing, as (line, reason).
///
/// # Errors
/// [`ImportError::Store`] if Neo4j is unavailable or times out.
pub async fn write_batch(
    store: &Neo4jStore,
    plan: &Plan,
    rows: Vec<Value>,
) -> Result<Vec<(u64, String)>, ImportError> {
    match run(store, plan, rows.clone()).await {
        Ok(rejected) => Ok(rejected),
        Err(StoreError::Query(detail)) => {
            tracing::warn!(db.system = "neo4j", rows = rows.len(), detail = %detail, "import batch refused; retrying row by row");
            let mut rejected = Vec::new();
            for row in rows {
                let line = row["line"].as_u64().unwrap_or(0);
                match run(store, plan, vec![row]).await {
                    Ok(mut r) => rejected.append(&mut r),
                    Err(StoreError::Query(detail)) => {
                        let why = if detail.contains("already exists") {
                            "a unique field's value belongs to another node already"
                        } else {
                            "refused by the database"
                        };
                        tracing::info!(db.system = "neo4j", line, detail = %detail, "import row refused");
                        rejected.push((line, why.to_string()));
                    }
                    Err(e) => return Err(ImportError::Store(e.to_string())),
                }
            }
            Ok(rejected)
        }
        Err(e) => Err(ImportError::Store(e.to_string())),
    }
}

async fn run(
    store: &Neo4jStore,
    plan: &Plan,
    rows: Vec<Value>,
) -> Result<Vec<(u64, String)>, StoreError> {
    let mut params = Map::new();
    params.insert("rows".into(), Value::Array(rows));
    match plan.mode {
        // No rows back: `execute`, whose deadline is the one for long writes.
        Mode::Upsert => {
            store.execute(&plan.statement, params).await?;
            Ok(Vec::new())
        }
        Mode::Update => {
            let out = store.write_rows(&plan.statement, params).await?;
            let key = &plan.columns[plan.key].field.name;
            Ok(out
                .iter()
                .filter_map(|r| r["line"].as_u64())
                .map(|line| (line, format!("no {} has this {key}", plan.type_name)))
                .collect())
        }
    }
}

/// The reject file: a CSV of `line,reason`.
#[derive(Debug)]
pub struct Rejects {
    writer: csv::Writer<BufWriter<File>>,
    count: u64,
}

impl Rejects {
    /// Creates (truncates) the file and writes its header.
    ///
    /// # Errors
    /// [`ImportError::File`] if it cannot be written.
    pub fn create(path: &Path) -> Result<Rejects, ImportError> {
        let file = File::create(path)
            .map_err(|e| ImportError::File(format!("{}: {e}", path.display())))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        writer
            .write_record(["line", "reason"])
            .map_err(|e| ImportError::File(format!("{}: {e}", path.display())))?;
        Ok(Rejects { writer, count: 0 })
    }

    /// Opens the file to add to it (no header).
    ///
    /// # Errors
    /// [`ImportError::File`] if it cannot be opened.
    pub fn append(path: &Path) -> Result<Rejects, ImportError> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| ImportError::File(format!("{}: {e}", path.display())))?;
        Ok(Rejects {
            writer: csv::Writer::from_writer(BufWriter::new(file)),
            count: 0,
        })
    }

    /// Records one rejected row.
    ///
    /// # Errors
    /// [`ImportError::File`] if it cannot be written.
    pub fn add(&mut self, line: u64, reason: &str) -> Result<(), ImportError> {
        self.count += 1;
        self.writer
            .write_record([line.to_string().as_str(), reason])
            .map_err(|e| ImportError::File(format!("reject file: {e}")))
    }

    /// Rows recorded so far by this writer.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes to disk.
    ///
    /// # Errors
    /// [`ImportError::File`] if it cannot be written.
    pub fn finish(mut self) -> Result<(), ImportError> {
        self.writer
            .flush()
            .map_err(|e| ImportError::File(format!("reject file: {e}")))
    }
}
