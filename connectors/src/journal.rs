//! The audit journal: audit records made durable in a local append-only file
//! first, shipped to Neo4j behind the request.
//!
//! A request's record is acknowledged — and its data released — once it is in
//! the journal and the journal is synced to disk (`fdatasync`, one per batch of
//! waiting records: group commit). A shipper task then writes the journaled
//! records to the Neo4j chain in large batches, with the same conditional
//! statement as [`crate::audit::AuditWriter`], so the chain in Neo4j is exactly
//! the chain in the journal. Nothing acknowledged is lost if the hub or Neo4j
//! stops: on start the journal is read back, reconciled with the chain's head in
//! Neo4j, and its unshipped tail shipped first.
//!
//! One journal per chain and per hub instance; the file is locked against a
//! second process. The hub fails closed (no data released) when the journal
//! cannot be written, when the unshipped backlog passes its bound (Neo4j not
//! taking records for too long), or when the journal and Neo4j disagree about
//! the chain (another writer on the same chain, a replaced database) — the last
//! needs an operator, so it is logged as such and not retried.
//!
//! Format: one [`AuditRecord`] as JSON per line. A torn last line (a crash in the
//! middle of a write that was never acknowledged) is cut off on open; damage
//! anywhere else refuses the start. Once the file has grown past its bound it is
//! rewritten (beside it, then renamed over it) to hold only the records not yet
//! known to be in Neo4j.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mandate_audit::{
    reconcile, seal, AuditError, AuditRecord, AuditSink, Head, Reconciled, GENESIS,
};
use tokio::sync::{mpsc, watch};

use crate::audit::{hand_over, read_head, write_sealed, Pending};
use crate::Neo4jStore;

/// Records taken into one journal write (one sync).
const WRITE_BATCH: usize = 512;
/// Records sent to Neo4j in one statement.
const SHIP_BATCH: usize = 2_000;

/// How the journal is kept.
#[derive(Debug, Clone)]
pub struct JournalSettings {
    /// The journal file.
    pub path: PathBuf,
    /// The chain it holds.
    pub chain: String,
    /// How long a request waits for its record.
    pub timeout: Duration,
    /// Unshipped records beyond which new records are refused.
    pub max_backlog: usize,
    /// Size past which the journal is rewritten to hold only its unshipped tail.
    pub compact_bytes: u64,
    /// Least time between two shipping statements (unless a full batch waits):
    /// Neo4j commits a few large batches rather than one per request.
    pub ship_interval: Duration,
}

/// Why a journal cannot be opened or does not continue the chain in Neo4j.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file cannot be opened, read or locked.
    #[error("audit journal {path}: {detail}")]
    Io {
        /// The journal file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A record in the middle of the file is unreadable or out of chain.
    #[error("audit journal {path} line {line}: {detail}")]
    Damaged {
        /// The journal file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
}

/// What a journal holds once read back.
#[derive(Debug)]
pub struct JournalContents {
    /// The records, in chain order.
    pub records: Vec<AuditRecord>,
    /// Bytes of a torn last line that was cut (or would be, read-only).
    pub torn_bytes: u64,
}

/// Reads a journal and checks its records chain onto each other. `repair` cuts a
/// torn last line off the file.
///
/// # Errors
/// See [`JournalError`].
pub fn read_journal(path: &Path, repair: bool) -> Result<JournalContents, JournalError> {
    let io = |e: std::io::Error| JournalError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(JournalContents {
                records: Vec::new(),
                torn_bytes: 0,
            })
        }
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::new(file);
    let mut records: Vec<AuditRecord> = Vec::new();
    let mut good_end = 0u64;
    let mut line = String::new();
    let mut number = 0;
    let mut bad: Option<(usize, String)> = None;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        number += 1;
        if let Some((at, detail)) = bad.take() {
            // Something follows the bad line: it was not the torn tail.
            return Err(JournalError::Damaged {
                path: path.display().to_string(),
                line: at,
                detail,
            });
        }
        if !line.ends_with('\n') {
            bad = Some((number, "incomplete line".into()));
            continue;
        }
        let record: AuditRecord = match serde_json::from_str(line.trim_end()) {
            Ok(r) => r,
            Err(e) => {
                bad = Some((number, format!("unreadable record ({e})")));
                continue;
            }
        };
        if let Some(prev) = records.last() {
            if record.chain != prev.chain
                || record.seq != prev.seq + 1
                || record.prev_hash != prev.hash
            {
                return Err(JournalError::Damaged {
                    path: path.display().to_string(),
                    line: number,
                    detail: format!(
                        "record {} of chain {} does not follow record {} of chain {}",
                        record.seq, record.chain, prev.seq, prev.chain
                    ),
                });
            }
        }
        if record.compute_hash() != record.hash {
            return Err(JournalError::Damaged {
                path: path.display().to_string(),
                line: number,
                detail: format!("record {} does not match its hash (edited)", record.seq),
            });
        }
        good_end += n as u64;
        records.push(record);
    }
    let torn_bytes = len - good_end;
    if torn_bytes > 0 && repair {
        let file = OpenOptions::new().write(true).open(path).map_err(io)?;
        file.set_len(good_end).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(JournalContents {
        records,
        torn_bytes,
    })
}

struct Shared {
    /// Journaled, not yet in Neo4j, in chain order.
    queue: Mutex<VecDeque<AuditRecord>>,
    /// Why the journal refuses records, once it does for good.
    broken: Mutex<Option<String>>,
    /// Last seq durably journaled.
    written: watch::Sender<u64>,
    /// Last seq in Neo4j.
    shipped: watch::Sender<u64>,
    /// Set once the journal is reconciled with the chain in Neo4j.
    started: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn break_with(&self, why: String) {
        tracing::error!(detail = %why, "audit journal stopped: no data is released until an operator resolves this");
        if let Ok(mut b) = self.broken.lock() {
            b.get_or_insert(why);
        }
    }

    fn broken(&self) -> Option<String> {
        self.broken.lock().ok().and_then(|b| b.clone())
    }

    fn backlog(&self) -> usize {
        self.queue.lock().map(|q| q.len()).unwrap_or(0)
    }
}

/// The journaling audit sink; cheap to clone.
#[derive(Clone)]
pub struct AuditJournal {
    tx: mpsc::Sender<Pending>,
    timeout: Duration,
    max_backlog: usize,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AuditJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditJournal").finish_non_exhaustive()
    }
}

impl AuditJournal {
    /// Opens (or creates) and locks the journal, reads it back (cutting a torn
    /// last line), and starts the writer and the shipper. Neo4j is contacted by
    /// the tasks, not here: until the journal is reconciled with Neo4j's head,
    /// records wait.
    ///
    /// # Errors
    /// If the journal cannot be opened or locked, or is damaged.
    pub fn open(
        store: Neo4jStore,
        settings: JournalSettings,
    ) -> Result<AuditJournal, JournalError> {
        let path = settings.path.clone();
        let io = |e: std::io::Error| JournalError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        file.try_lock().map_err(|e| JournalError::Io {
            path: path.display().to_string(),
            detail: format!(
                "locked by another process ({e}); give each hub its own journal and chain"
            ),
        })?;
        let contents = read_journal(&path, true)?;
        if contents.torn_bytes > 0 {
            tracing::warn!(journal = %path.display(), bytes = contents.torn_bytes, "audit journal: cut an unfinished last record (never acknowledged)");
        }
        let size = file.metadata().map_err(io)?.len();
        let (tx, rx) = mpsc::channel::<Pending>(4096);
        let (written, _) = watch::channel(0);
        let (shipped, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            broken: Mutex::new(None),
            written,
            shipped,
            started: std::sync::atomic::AtomicBool::new(false),
        });
        let timeout = settings.timeout;
        let max_backlog = settings.max_backlog;
        tokio::spawn(run(
            store,
            settings,
            file,
            size,
            contents.records,
            rx,
            shared.clone(),
        ));
        Ok(AuditJournal {
            tx,
            timeout,
            max_backlog,
            shared,
        })
    }

    async fn wait_shipped(&self, target: u64) -> Result<(), AuditError> {
        let mut shipped = self.shared.shipped.subscribe();
        let reached = tokio::time::timeout(self.timeout, shipped.wait_for(|s| *s >= target))
            .await
            .is_ok_and(|r| r.is_ok());
        if reached {
            Ok(())
        } else {
            Err(AuditError::NotWritten(
                "the audit journal has not reached Neo4j in time".into(),
            ))
        }
    }
}

impl AuditSink for AuditJournal {
    fn append(&self, record: AuditRecord) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(hand_over(&self.tx, self.timeout, record, "audit journal"))
    }

    fn settle(&self) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(async move {
            let target = *self.shared.written.borrow();
            self.wait_shipped(target).await
        })
    }

    fn unshipped(&self) -> u64 {
        self.shared.backlog() as u64
    }

    fn appends_under_locks(&self) -> bool {
        true
    }

    fn ready(&self) -> bool {
        self.shared
            .started
            .load(std::sync::atomic::Ordering::Relaxed)
            && self.shared.broken().is_none()
            && self.shared.backlog() < self.max_backlog
    }
}

/// Reads the chain's head in Neo4j until it answers, and reconciles the journal
/// with it.
async fn start_chain(
    store: &Neo4jStore,
    settings: &JournalSettings,
    records: &[AuditRecord],
) -> Result<(Head, Reconciled), String> {
    let mut delay = Duration::from_millis(100);
    let neo4j = loop {
        match read_head(store, &settings.chain).await {
            Ok(h) => break h,
            Err(e) => {
                tracing::warn!(audit.chain = %settings.chain, detail = %e, "audit journal: Neo4j not reachable yet; records wait");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    let r = reconcile(&settings.chain, records, &neo4j).map_err(|e| {
        format!(
            "audit journal {} and Neo4j disagree: {e}",
            settings.path.display()
        )
    })?;
    Ok((neo4j, r))
}

async fn run(
    store: Neo4jStore,
    settings: JournalSettings,
    file: File,
    size: u64,
    records: Vec<AuditRecord>,
    mut rx: mpsc::Receiver<Pending>,
    shared: Arc<Shared>,
) {
    let (neo4j, reconciled) = match start_chain(&store, &settings, &records).await {
        Ok(r) => r,
        Err(why) => {
            shared.break_with(why.clone());
            while let Some((_, done)) = rx.recv().await {
                let _ = done.send(Err(why.clone()));
            }
            return;
        }
    };
    if reconciled.unshipped > 0 {
        tracing::info!(audit.chain = %settings.chain, records = reconciled.unshipped, "audit journal: shipping records not yet in Neo4j");
    }
    if let Ok(mut q) = shared.queue.lock() {
        q.extend(records.into_iter().filter(|r| r.seq > neo4j.seq));
    }
    shared.written.send_replace(reconciled.head.seq);
    shared.shipped.send_replace(neo4j.seq);
    shared
        .started
        .store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::spawn(ship(
        store,
        settings.chain.clone(),
        neo4j,
        settings.ship_interval,
        shared.clone(),
    ));
    write(settings, file, size, reconciled.head, rx, shared).await;
}

/// The writer: takes waiting records a batch at a time, chains them, appends
/// them and syncs, then answers their requests.
async fn write(
    settings: JournalSettings,
    mut file: File,
    mut size: u64,
    mut head: Head,
    mut rx: mpsc::Receiver<Pending>,
    shared: Arc<Shared>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let backlog = shared.backlog();
        let result = if let Some(why) = shared.broken() {
            Err(why)
        } else if backlog + batch.len() > settings.max_backlog {
            tracing::error!(audit.chain = %settings.chain, backlog, "audit journal backlog full: Neo4j is not taking records");
            Err("the audit backlog is full".to_string())
        } else {
            let mut records: Vec<AuditRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
            let to = seal(&settings.chain, &head, &mut records);
            let mut bytes = Vec::with_capacity(records.len() * 512);
            for r in &records {
                // An AuditRecord always serializes.
                if serde_json::to_writer(&mut bytes, r).is_ok() {
                    bytes.push(b'\n');
                }
            }
            // Past its bound the journal is rewritten to hold only what Neo4j
            // may not have yet (taken now; some of it may ship meanwhile, which
            // a later start reconciles).
            let keep = (size > settings.compact_bytes).then(|| {
                let mut keep = Vec::new();
                if let Ok(q) = shared.queue.lock() {
                    for r in q.iter() {
                        if serde_json::to_writer(&mut keep, r).is_ok() {
                            keep.push(b'\n');
                        }
                    }
                }
                keep
            });
            let path = settings.path.clone();
            let joined = tokio::task::spawn_blocking(move || {
                if let Some(keep) = keep {
                    match compact(&path, &keep) {
                        Ok(fresh) => {
                            file = fresh;
                            size = keep.len() as u64;
                        }
                        Err(e) => {
                            tracing::warn!(journal = %path.display(), detail = %e, "audit journal could not be compacted; appending to it as it is");
                        }
                    }
                }
                let outcome = append(&mut file, size, &bytes);
                (file, outcome)
            })
            .await;
            let Ok((back, outcome)) = joined else {
                let why = "the audit journal's writer failed".to_string();
                shared.break_with(why.clone());
                for (_, done) in batch {
                    let _ = done.send(Err(why.clone()));
                }
                return;
            };
            file = back;
            match outcome {
                Ok(new_size) => {
                    size = new_size;
                    head = to;
                    if let Ok(mut q) = shared.queue.lock() {
                        q.extend(records);
                    }
                    shared.written.send_replace(head.seq);
                    Ok(())
                }
                Err(Appended::NotWritten(e)) => {
                    tracing::error!(audit.chain = %settings.chain, detail = %e, "audit journal write failed; the records were cut off again");
                    Err("the audit journal cannot be written".to_string())
                }
                Err(Appended::Damaged(e)) => {
                    let why = format!(
                        "audit journal {} could not be restored after a failed write: {e}",
                        settings.path.display()
                    );
                    shared.break_with(why.clone());
                    Err(why)
                }
            }
        };
        for (_, done) in batch {
            let _ = done.send(result.clone());
        }
    }
}

enum Appended {
    /// Nothing of the write is in the file.
    NotWritten(std::io::Error),
    /// A partial write could not be cut off.
    Damaged(std::io::Error),
}

/// Appends `bytes` and syncs; on failure cuts the file back to `size`.
fn append(file: &mut File, size: u64, bytes: &[u8]) -> Result<u64, Appended> {
    let written = file
        .seek(SeekFrom::End(0))
        .and_then(|_| file.write_all(bytes))
        .and_then(|()| file.sync_data());
    match written {
        Ok(()) => Ok(size + bytes.len() as u64),
        Err(e) => match file.set_len(size).and_then(|()| file.sync_data()) {
            Ok(()) => Err(Appended::NotWritten(e)),
            Err(cut) => Err(Appended::Damaged(cut)),
        },
    }
}

/// Replaces the journal at `path` with one holding only `keep` (the records not
/// yet known to be in Neo4j): written and synced beside it, locked, renamed over
/// it, the folder synced. A crash at any point leaves either the old journal or
/// the new one, both whole. Returns the new file, open for appending and
/// locked from before it took the journal's name.
fn compact(path: &Path, keep: &[u8]) -> std::io::Result<File> {
    let fresh_path = path.with_file_name(format!(
        "{}.compacting",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    // Left by a compaction that failed half-way: never the journal itself.
    match std::fs::remove_file(&fresh_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut fresh = OpenOptions::new()
        .create_new(true)
        .read(true)
        .append(true)
        .open(&fresh_path)?;
    fresh.try_lock().map_err(std::io::Error::other)?;
    fresh.write_all(keep)?;
    fresh.sync_all()?;
    std::fs::rename(&fresh_path, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(fresh)
}

/// The shipper: writes journaled records to Neo4j, oldest first, a large batch
/// per statement.
async fn ship(
    store: Neo4jStore,
    chain: String,
    mut head: Head,
    interval: Duration,
    shared: Arc<Shared>,
) {
    let mut written = shared.written.subscribe();
    let mut delay = Duration::from_millis(50);
    let mut last = tokio::time::Instant::now();
    // After a failed statement, whether it committed is unknown until the head
    // in Neo4j has been read again.
    let mut uncertain = false;
    loop {
        let batch: Vec<AuditRecord> = shared
            .queue
            .lock()
            .map(|q| q.iter().take(SHIP_BATCH).cloned().collect())
            .unwrap_or_default();
        if batch.is_empty() {
            if written.changed().await.is_err() {
                return;
            }
            continue;
        }
        if batch.len() < SHIP_BATCH && last.elapsed() < interval {
            tokio::time::sleep_until(last + interval).await;
            continue;
        }
        last = tokio::time::Instant::now();
        let landed = if uncertain {
            match read_head(&store, &chain).await {
                Ok(now) if now == head => {
                    uncertain = false;
                    0
                }
                Ok(now) => match batch
                    .iter()
                    .position(|r| r.seq == now.seq && r.hash == now.hash)
                {
                    Some(i) => {
                        uncertain = false;
                        i + 1
                    }
                    None => {
                        shared.break_with(format!(
                            "chain {chain} in Neo4j is at record {} which this journal did not ship",
                            now.seq
                        ));
                        return;
                    }
                },
                Err(e) => {
                    tracing::warn!(audit.chain = %chain, detail = %e, "audit journal: Neo4j not reachable; records wait");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        } else {
            match write_sealed(&store, &chain, &head, &batch).await {
                Ok(true) => batch.len(),
                Ok(false) => {
                    shared.break_with(format!(
                        "chain {chain} in Neo4j moved past record {} without this hub: another writer is on this chain",
                        head.seq
                    ));
                    return;
                }
                Err(e) => {
                    tracing::warn!(audit.chain = %chain, records = batch.len(), detail = %e, "audit journal: shipping to Neo4j failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    uncertain = true;
                    continue;
                }
            }
        };
        if landed > 0 {
            delay = Duration::from_millis(50);
            let last = &batch[landed - 1];
            head = Head::of(last);
            if let Ok(mut q) = shared.queue.lock() {
                let n = landed.min(q.len());
                q.drain(..n);
            }
            shared.shipped.send_replace(head.seq);
        }
    }
}

/// Checks the journal at `path` on its own and against chain `chain` in Neo4j
/// (read-only: a torn last line is reported, not cut); returns how many of its
/// records Neo4j does not hold yet.
///
/// # Errors
/// The problem found, as one line.
pub async fn verify(store: &Neo4jStore, path: &Path, chain: &str) -> Result<usize, String> {
    let contents = read_journal(path, false).map_err(|e| e.to_string())?;
    let head = read_head_readonly(store, chain).await?;
    let r = reconcile(chain, &contents.records, &head)
        .map_err(|e| format!("audit journal {} and Neo4j disagree: {e}", path.display()))?;
    if contents.torn_bytes > 0 {
        tracing::warn!(journal = %path.display(), bytes = contents.torn_bytes, "the journal ends in an unfinished record (cut when the hub next starts)");
    }
    Ok(r.unshipped)
}

/// The chain's head without creating it.
async fn read_head_readonly(store: &Neo4jStore, chain: &str) -> Result<Head, String> {
    let mut params = serde_json::Map::new();
    params.insert("chain".into(), serde_json::Value::String(chain.to_string()));
    let rows = store
        .rows(
            "OPTIONAL MATCH (h:AuditHead {chain: $chain}) RETURN h.seq AS seq, h.hash AS hash",
            params,
        )
        .await
        .map_err(|e| format!("cannot read the audit log: {e}"))?;
    let row = rows.first();
    Ok(Head {
        seq: row.and_then(|r| r["seq"].as_u64()).unwrap_or(0),
        hash: row
            .and_then(|r| r["hash"].as_str())
            .unwrap_or(GENESIS)
            .to_string(),
    })
}
