//! The audit log in Neo4j: hash-chained `AuditRecord` nodes, each linked to the
//! residents whose data it disclosed (`DISCLOSED`), written with group commit.
//!
//! A writer task per hub instance takes the records requests hand it (up to a
//! batch at a time), chains the batch (`seq`, `prevHash`, `hash`) onto the head
//! it last wrote, and sends one statement that locks the chain's `AuditHead`
//! node, checks the head is still where the writer left it, writes the records
//! and moves the head, committed as one transaction; then it answers every
//! waiter. Replicas sharing a chain queue on the head's lock; a writer that finds
//! the head moved by another re-reads it and chains the batch again. If the write
//! fails, every waiter gets the error — the hub then returns no data — and
//! nothing of the batch is kept, so the chain has no gaps.

use std::time::Duration;

use futures::future::BoxFuture;
use mandate_audit::{seal, AuditError, AuditLog, AuditRecord, AuditSink, Head, StoredLog, GENESIS};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::Neo4jStore;

const BATCH: usize = 256;

/// A record and where its writer answers.
pub(crate) type Pending = (AuditRecord, oneshot::Sender<Result<(), String>>);

/// The group-commit writer; cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Pending>,
    timeout: Duration,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditWriter").finish_non_exhaustive()
    }
}

impl AuditWriter {
    /// Starts the writer task for `chain`.
    pub fn start(store: Neo4jStore, chain: String, timeout: Duration) -> AuditWriter {
        let (tx, rx) = mpsc::channel::<Pending>(4096);
        tokio::spawn(run(store, chain, rx));
        AuditWriter { tx, timeout }
    }
}

impl AuditSink for AuditWriter {
    fn append(&self, record: AuditRecord) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(hand_over(&self.tx, self.timeout, record, "audit writer"))
    }
}

/// Hands `record` to a writer task and waits for its answer; the deadline covers
/// the queue too, so a writer stuck waiting for its store holds no request
/// past it.
pub(crate) async fn hand_over(
    tx: &mpsc::Sender<Pending>,
    timeout: Duration,
    record: AuditRecord,
    writer: &str,
) -> Result<(), AuditError> {
    let (done, wait) = oneshot::channel();
    let written = tokio::time::timeout(timeout, async move {
        tx.send((record, done))
            .await
            .map_err(|_| format!("{writer} stopped"))?;
        wait.await
            .map_err(|_| format!("{writer} dropped the record"))?
    })
    .await;
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AuditError::NotWritten(e)),
        Err(_) => Err(AuditError::NotWritten("audit write timed out".into())),
    }
}

/// Reads the chain's head, creating it for a new chain. Only a chain without a
/// head yet (records from before heads existed) looks at its records, once.
const READ_HEAD: &str = "OPTIONAL MATCH (existing:AuditHead {chain: $chain})
OPTIONAL CALL (existing) {
  WITH existing WHERE existing IS NULL
  MATCH (last:AuditRecord {chain: $chain})
  RETURN last ORDER BY last.seq DESC LIMIT 1
}
MERGE (h:AuditHead {chain: $chain})
ON CREATE SET h.seq = coalesce(last.seq, 0), h.hash = coalesce(last.hash, 'genesis')
RETURN h.seq AS seq, h.hash AS hash";

/// Locks the head (the `SET` takes its write lock before the head is read, so
/// replicas queue here and none reads a head another is moving), and only if
/// it is where this writer chained the batch from, writes the records with
/// their `DISCLOSED` links and moves the head. No row back: the head had moved.
const WRITE: &str = "MATCH (h:AuditHead {chain: $chain})
SET h.lockedAt = timestamp()
WITH h WHERE h.seq = $fromSeq AND h.hash = $fromHash
UNWIND $rows AS row
CREATE (a:AuditRecord)
SET a = row.props
WITH h, a, row
CALL (a, row) {
  UNWIND row.props.residents AS rid
  MATCH (r:Resident {id: rid})
  CREATE (a)-[:DISCLOSED]->(r)
}
WITH h, count(*) AS written
SET h.seq = $seq, h.hash = $hash
RETURN written";

async fn run(store: Neo4jStore, chain: String, mut rx: mpsc::Receiver<Pending>) {
    let mut head: Option<Head> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let records: Vec<AuditRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
        let result = write_batch(&store, &chain, &mut head, records).await;
        if let Err(e) = &result {
            // Whether it committed is unknown: learn the head again next time.
            head = None;
            tracing::error!(audit.chain = %chain, records = batch.len(), detail = %e, "audit write failed");
        }
        for (_, done) in batch {
            let _ = done.send(result.clone());
        }
    }
}

pub(crate) async fn read_head(store: &Neo4jStore, chain: &str) -> Result<Head, String> {
    let mut params = Map::new();
    params.insert("chain".into(), Value::String(chain.to_string()));
    let rows = store
        .write_rows(READ_HEAD, params)
        .await
        .map_err(|e| e.to_string())?;
    let row = rows.first().ok_or("no chain head")?;
    Ok(Head {
        seq: row["seq"].as_u64().unwrap_or(0),
        hash: row["hash"].as_str().unwrap_or(GENESIS).to_string(),
    })
}

/// Chains `records` onto `head` and writes them; re-reads the head and tries
/// again while another writer of the same chain keeps moving it.
async fn write_batch(
    store: &Neo4jStore,
    chain: &str,
    head: &mut Option<Head>,
    mut records: Vec<AuditRecord>,
) -> Result<(), String> {
    for _ in 0..16 {
        let from = match head.take() {
            Some(h) => h,
            None => read_head(store, chain).await?,
        };
        let to = seal(chain, &from, &mut records);
        if write_sealed(store, chain, &from, &records).await? {
            *head = Some(to);
            return Ok(());
        }
        // Another writer moved the head: chain the batch onto where it is now.
    }
    Err("the chain head kept moving; batch not written".to_string())
}

/// Writes records already sealed onto `from` and moves the head past them, in
/// one statement. `Ok(false)`: the head was not at `from` (another writer moved
/// it) and nothing was written.
pub(crate) async fn write_sealed(
    store: &Neo4jStore,
    chain: &str,
    from: &Head,
    records: &[AuditRecord],
) -> Result<bool, String> {
    let Some(last) = records.last() else {
        return Ok(true);
    };
    let mut rows = Vec::with_capacity(records.len());
    for record in records {
        let props = serde_json::to_value(record).map_err(|e| e.to_string())?;
        rows.push(json!({ "props": props }));
    }
    let mut params = Map::new();
    params.insert("chain".into(), Value::String(chain.to_string()));
    params.insert("fromSeq".into(), json!(from.seq));
    params.insert("fromHash".into(), Value::String(from.hash.clone()));
    params.insert("rows".into(), Value::Array(rows));
    params.insert("seq".into(), json!(last.seq));
    params.insert("hash".into(), Value::String(last.hash.clone()));
    let written = store
        .write_rows(WRITE, params)
        .await
        .map_err(|e| e.to_string())?;
    Ok(!written.is_empty())
}

/// The audit log as Neo4j holds it: every record and chain head, for
/// [`mandate_audit::verify_log`].
impl AuditLog for Neo4jStore {
    fn read(&self, chain: Option<&str>) -> BoxFuture<'_, Result<StoredLog, AuditError>> {
        let chain = chain.map(str::to_string);
        Box::pin(async move {
            read_log(self, chain.as_deref())
                .await
                .map_err(|e| AuditError::NotRead(e.to_string()))
        })
    }
}

async fn read_log(
    store: &Neo4jStore,
    chain: Option<&str>,
) -> Result<StoredLog, mandate_resolvers::StoreError> {
    let chain_param = || {
        let mut params = Map::new();
        params.insert(
            "chain".into(),
            chain.map_or(Value::Null, |c| Value::String(c.to_string())),
        );
        params
    };
    let rows = store
        .rows(
            "MATCH (a:AuditRecord) WHERE $chain IS NULL OR a.chain = $chain
             RETURN properties(a) AS a",
            chain_param(),
        )
        .await?;
    let mut log = StoredLog::default();
    for row in rows {
        let props = &row["a"];
        match serde_json::from_value::<AuditRecord>(props.clone()) {
            Ok(record) => log.records.push(record),
            Err(e) => log.unreadable.push(format!(
                "chain {} seq {}: unreadable record ({e})",
                props["chain"], props["seq"]
            )),
        }
    }
    let heads = store
        .rows(
            "MATCH (h:AuditHead) WHERE $chain IS NULL OR h.chain = $chain
             RETURN h.chain AS chain, h.seq AS seq, h.hash AS hash",
            chain_param(),
        )
        .await?;
    for h in heads {
        let (Some(chain), Some(seq), Some(hash)) =
            (h["chain"].as_str(), h["seq"].as_u64(), h["hash"].as_str())
        else {
            log.unreadable
                .push(format!("an audit head is unreadable: {h}"));
            continue;
        };
        log.heads.push((
            chain.to_string(),
            Head {
                seq,
                hash: hash.to_string(),
            },
        ));
    }
    Ok(log)
}
