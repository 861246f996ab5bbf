//! Import connectors: a department's CSV, JSON lines or Excel export, mapped
//! to catalog fields by a declarative mapping file, validated row by row and
//! merged into the graph in batches.
//!
//! - [`mapping`]: the mapping file and the plan compiled from it (ownership:
//!   a department imports only the fields it owns; the key finds the node);
//! - [`read`]: streaming readers;
//! - [`validate`]: types, enumerations, dates, GB 11643 check characters;
//! - [`write`]: batches and the reject file.
//!
//! A run makes two passes over the file, each streaming (memory does not grow
//! with the file). The first checks every row, writes the bad ones to the
//! reject file and counts; then the run's one audit record (`import.write`,
//! its target naming the file, its SHA-256 and the counts) is written — before
//! any data, so an import that cannot be audited writes nothing (fail closed).
//! The second pass reads the file again and writes the good rows, one
//! transaction per batch, in a few concurrent lanes (a row's lane follows from
//! its key, so one key's rows stay in file order), while a reader thread keeps
//! each lane's next batch ready. Rows Neo4j refuses while writing (an update whose key
//! matches no node, a unique value another node holds) are added to the
//! reject file; the summary counts them.

pub mod mapping;
pub mod read;
pub mod validate;
pub mod write;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mandate_audit::{AuditRecord, AuditSink, Decision};
use mandate_schema::Catalog;
use sha2::{Digest, Sha256};

pub use mapping::{Format, Mapping, Mode, Plan};

use crate::Neo4jStore;

/// Why an import did not run or did not finish.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The mapping file is malformed or does not fit the catalog.
    #[error("mapping: {0}")]
    Mapping(String),
    /// The mapping names fields the department does not own.
    #[error("{department} may import only the fields it owns; the mapping also writes {} — {department} owns: {}", fields.join(", "), owned.join(", "))]
    NotOwned {
        /// The importing department's code.
        department: String,
        /// The fields refused, `Type.field (OWNER)`.
        fields: Vec<String>,
        /// The fields it owns, `Type.field`.
        owned: Vec<String>,
    },
    /// The data file (or reject file) cannot be read or written.
    #[error("file: {0}")]
    File(String),
    /// The audit record was not written; nothing was imported.
    #[error("the import's audit record was not written, so nothing was imported: {0}")]
    Audit(String),
    /// Neo4j failed; batches committed before stay (re-running completes the import).
    #[error("Neo4j: {0} (batches committed before stay; re-running the import completes it)")]
    Store(String),
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// The importing agency (`D-<CODE>[-unit]`) or department code.
    pub department: String,
    /// Officer or system running the import (audit record).
    pub officer: String,
    /// The run's id (audit record).
    pub request_id: String,
    /// The mapping file.
    pub mapping: PathBuf,
    /// The data file.
    pub file: PathBuf,
    /// The reject file; default `<file>.rejects.csv`.
    pub rejects: Option<PathBuf>,
    /// Rows per batch (one transaction each).
    pub batch_size: usize,
    /// Batches written at once (1–8), over disjoint keys.
    pub parallel: usize,
    /// Show progress bars on stderr.
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    /// Data rows read (the header not counted).
    pub read: u64,
    /// Rows written to the graph.
    pub imported: u64,
    /// Rows rejected (in the reject file).
    pub rejected: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// The reject file.
    pub rejects: PathBuf,
    /// How rows were written.
    pub mode: Mode,
}

impl ImportSummary {
    /// Rows read per second of the whole run.
    pub fn rows_per_second(&self) -> f64 {
        self.read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rows read: {}, imported: {}, rejected: {} (see {}), {:.1} s, {:.0} rows/s",
            self.read,
            self.imported,
            self.rejected,
            self.rejects.display(),
            self.elapsed.as_secs_f64(),
            self.rows_per_second()
        )
    }
}

/// The department code of `department`: an agency id `D-<CODE>[-unit]` or a
/// bare code.
pub fn department_code(department: &str) -> &str {
    mandate_policies::department_of(department).unwrap_or(department)
}

/// Compiles the mapping at `path` for `department` without reading any data.
///
/// # Errors
/// As [`Plan::compile`]; [`ImportError::File`] if the mapping cannot be read.
pub fn plan_for(
    path: &Path,
    catalog: &Catalog,
    department: &str,
) -> Result<(Mapping, Plan), ImportError> {
    let (mapping, plan, _) = load_mapping(path, catalog, department)?;
    Ok((mapping, plan))
}

/// The mapping, its plan and the SHA-256 of its text.
fn load_mapping(
    path: &Path,
    catalog: &Catalog,
    department: &str,
) -> Result<(Mapping, Plan, String), ImportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ImportError::File(format!("{}: {e}", path.display())))?;
    let mapping = Mapping::parse(&text)?;
    let plan = Plan::compile(&mapping, catalog, department_code(department))?;
    Ok((mapping, plan, hex::encode(Sha256::digest(text.as_bytes()))))
}

/// Runs an import: checks the mapping, checks every row (bad ones to the reject
/// file), writes the audit record, then writes the good rows in batches.
///
/// # Errors
/// [`ImportError`]; on [`ImportError::Store`] the batches committed before stay.
pub async fn import(
    store: &Neo4jStore,
    audit: &dyn AuditSink,
    catalog: &Catalog,
    settings: &ImportSettings,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let (mapping, plan, mapping_sha256) =
        load_mapping(&settings.mapping, catalog, &settings.department)?;
    let format = match mapping.format {
        Some(f) => f,
        None => Format::of_path(&settings.file).ok_or_else(|| {
            ImportError::Mapping(format!(
                "cannot tell the format of {} from its extension: set `format` (csv, jsonl, xlsx) in the mapping",
                settings.file.display()
            ))
        })?,
    };
    // A known label: `Mapping::parse` checked it.
    let encoding = mapping
        .encoding
        .as_deref()
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    let options = read::ReadOptions {
        sheet: mapping.sheet.clone(),
        delimiter: mapping.delimiter,
        encoding,
    };
    let rejects_path = settings.rejects.clone().unwrap_or_else(|| {
        let mut p = settings.file.clone().into_os_string();
        p.push(".rejects.csv");
        PathBuf::from(p)
    });
    let batch_size = settings.batch_size.max(1);

    // Pass 1: check every row; bad ones to the reject file.
    let checked = {
        let plan = plan.clone();
        let file = settings.file.clone();
        let rejects_path = rejects_path.clone();
        let options = options.clone();
        let bar = spinner(settings.progress, "checking");
        let result = tokio::task::spawn_blocking(move || {
            check_pass(&plan, &file, format, &options, &rejects_path, &bar)
        })
        .await
        .map_err(|e| ImportError::File(format!("checking stopped: {e}")))?;
        result?
    };
    tracing::info!(
        file = %settings.file.display(),
        rows = checked.read,
        valid = checked.valid,
        rejected = checked.rejected,
        "import file checked"
    );

    // The run's audit record, before any data is written.
    let mut record = AuditRecord::new(&settings.request_id, Decision::Allowed);
    record.agency = settings.department.clone();
    record.officer = settings.officer.clone();
    record.purpose = "import".to_string();
    record.operation = mapping_sha256;
    record.fields = plan.written.clone();
    record.action = "import.write".to_string();
    record.target = format!(
        "file:{} sha256:{} type:{} mode:{} rows:{} valid:{} rejected:{}",
        settings
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        checked.sha256,
        plan.type_name,
        match plan.mode {
            Mode::Upsert => "upsert",
            Mode::Update => "update",
        },
        checked.read,
        checked.valid,
        checked.rejected
    );
    audit
        .append(record)
        .await
        .map_err(|e| ImportError::Audit(e.to_string()))?;

    // Pass 2: write the good rows, in `lanes` concurrent sequences of batches.
    // A row's lane follows from its key, so rows with one key are written in
    // file order (the last one wins, as in a sequential import) and no two
    // concurrent transactions merge the same key.
    let lanes = settings.parallel.clamp(1, 8);
    let plan = std::sync::Arc::new(plan);
    let bar = bar(settings.progress, checked.valid);
    let late = std::sync::Arc::new(std::sync::Mutex::new(write::Rejects::append(
        &rejects_path,
    )?));
    let mut senders = Vec::with_capacity(lanes);
    let mut writers = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<serde_json::Value>>(1);
        senders.push(tx);
        writers.push(tokio::spawn(write_lane(
            store.clone(),
            plan.clone(),
            rx,
            late.clone(),
            bar.clone(),
        )));
    }
    let reader = {
        let plan = plan.clone();
        let file = settings.file.clone();
        tokio::task::spawn_blocking(move || {
            let key = plan.columns[plan.key].field.name.clone();
            let mut batches: Vec<Vec<serde_json::Value>> =
                (0..lanes).map(|_| Vec::with_capacity(batch_size)).collect();
            let mut open = true;
            let result = read::read(&file, format, &options, &columns(&plan), &mut |record| {
                let Ok(values) = record.values else {
                    return true;
                };
                if let Ok(row) = validate::convert(&plan, record.line, values) {
                    let lane = lane_of(&row[&key], lanes);
                    batches[lane].push(row);
                    if batches[lane].len() >= batch_size {
                        let full =
                            std::mem::replace(&mut batches[lane], Vec::with_capacity(batch_size));
                        open = senders[lane].blocking_send(full).is_ok();
                    }
                }
                open
            });
            if open {
                for (lane, batch) in batches.into_iter().enumerate() {
                    if !batch.is_empty() && senders[lane].blocking_send(batch).is_err() {
                        break;
                    }
                }
            }
            result
        })
    };
    let read_result = reader
        .await
        .map_err(|e| ImportError::File(format!("reading stopped: {e}")))?;
    let mut written = 0u64;
    let mut failure = None;
    for w in writers {
        match w.await {
            Ok(Ok(n)) => written += n,
            Ok(Err((e, n))) => {
                written += n;
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(ImportError::Store(format!("a writer stopped: {e}")));
            }
        }
    }
    bar.finish_and_clear();
    let late = std::sync::Arc::try_unwrap(late)
        .map_err(|_| ImportError::File("reject file still in use".into()))?
        .into_inner()
        .map_err(|_| ImportError::File("reject file: a writer failed while writing it".into()))?;
    let late_count = late.count();
    late.finish()?;
    if let Some(e) = failure {
        let ImportError::Store(detail) = e else {
            return Err(e);
        };
        tracing::error!(db.system = "neo4j", imported = written, detail = %detail, "import stopped");
        return Err(ImportError::Store(format!(
            "{detail}; {written} rows were imported before it stopped"
        )));
    }
    read_result?;
    let summary = ImportSummary {
        read: checked.read,
        imported: written,
        rejected: checked.rejected + late_count,
        elapsed: started.elapsed(),
        rejects: rejects_path,
        mode: plan.mode,
    };
    tracing::info!(
        rows = summary.read,
        imported = summary.imported,
        rejected = summary.rejected,
        seconds = summary.elapsed.as_secs_f64(),
        "import done"
    );
    Ok(summary)
}

/// Writes one lane's batches in order; returns the rows written, or the error
/// with the rows written before it.
async fn write_lane(
    store: Neo4jStore,
    plan: std::sync::Arc<Plan>,
    mut batches: tokio::sync::mpsc::Receiver<Vec<serde_json::Value>>,
    late: std::sync::Arc<std::sync::Mutex<write::Rejects>>,
    bar: ProgressBar,
) -> Result<u64, (ImportError, u64)> {
    let mut written = 0u64;
    while let Some(batch) = batches.recv().await {
        let n = batch.len() as u64;
        let rejected = write::write_batch(&store, &plan, batch)
            .await
            .map_err(|e| (e, written))?;
        if !rejected.is_empty() {
            let mut late = late.lock().map_err(|_| {
                (
                    ImportError::File("reject file: lock poisoned".into()),
                    written,
                )
            })?;
            for (line, why) in &rejected {
                late.add(*line, why).map_err(|e| (e, written))?;
            }
        }
        written += n - rejected.len() as u64;
        bar.inc(n);
    }
    Ok(written)
}

/// The lane of a row: FNV-1a of its key's text.
fn lane_of(key: &serde_json::Value, lanes: usize) -> usize {
    let text = key.as_str().unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes as u64) as usize
}

/// What the checking pass found.
struct Checked {
    read: u64,
    valid: u64,
    rejected: u64,
    sha256: String,
}

fn columns(plan: &Plan) -> Vec<String> {
    plan.columns.iter().map(|c| c.column.clone()).collect()
}

fn check_pass(
    plan: &Plan,
    file: &Path,
    format: Format,
    options: &read::ReadOptions,
    rejects_path: &Path,
    bar: &ProgressBar,
) -> Result<Checked, ImportError> {
    let sha256 = file_sha256(file)?;
    let mut rejects = write::Rejects::create(rejects_path)?;
    let mut read = 0u64;
    let mut valid = 0u64;
    let mut failed: Option<ImportError> = None;
    let outcome = read::read(file, format, options, &columns(plan), &mut |record| {
        read += 1;
        if read.is_multiple_of(4096) {
            bar.set_position(read);
        }
        let outcome = record
            .values
            .and_then(|values| validate::convert(plan, record.line, values).map(|_| ()));
        match outcome {
            Ok(()) => valid += 1,
            Err(why) => {
                if let Err(e) = rejects.add(record.line, &why) {
                    failed = Some(e);
                    return false;
                }
            }
        }
        true
    });
    if let Some(e) = outcome.err().or(failed) {
        // Nothing was imported: leave no reject file behind.
        drop(rejects);
        let _ = std::fs::remove_file(rejects_path);
        return Err(e);
    }
    bar.finish_and_clear();
    let rejected = rejects.count();
    rejects.finish()?;
    Ok(Checked {
        read,
        valid,
        rejected,
        sha256,
    })
}

fn file_sha256(path: &Path) -> Result<String, ImportError> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| ImportError::File(format!("{}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| ImportError::File(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The checking pass's spinner.
const SPINNER: &str = "{spinner} {msg}: {human_pos} rows";
/// The writing pass's bar.
const BAR: &str = "importing [{bar:40}] {human_pos}/{human_len} rows ({eta} left)";

fn spinner(show: bool, what: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template(SPINNER) {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn bar(show: bool, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(BAR) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_templates_parse() {
        assert!(ProgressStyle::with_template(SPINNER).is_ok());
        assert!(ProgressStyle::with_template(BAR).is_ok());
    }

    #[test]
    fn lanes_spread_keys_and_keep_one_key_in_one_lane() {
        let mut seen = [0u32; 3];
        for i in 0..3000 {
            let key = serde_json::Value::String(format!("R{i:06}"));
            let lane = lane_of(&key, 3);
            assert_eq!(lane, lane_of(&key, 3));
            seen[lane] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn department_codes_come_from_agency_ids() {
        assert_eq!(department_code("D-CIVIL_AFFAIRS"), "CIVIL_AFFAIRS");
        assert_eq!(department_code("D-GRID_MANAGEMENT-S01"), "GRID_MANAGEMENT");
        assert_eq!(department_code("HOUSING"), "HOUSING");
    }
}
