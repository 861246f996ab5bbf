//! Owner writes committed in groups.
//!
//! Each write is one compiled conditional statement (it changes its node only
//! when its `expect` holds, and returns `{apply, before}`) that takes its
//! values from `$rows`. Writes waiting at the same moment run in one write
//! transaction, one statement per shape with all their rows; then the
//! seal of every applied write (its audit record; the journal syncs the group's
//! records together) runs while the transaction is open, and the transaction
//! commits only when every seal succeeded. One commit (and one sync of
//! Neo4j's transaction log) then serves the whole group instead of one per
//! write.
//!
//! Failures stay per write where they can:
//! - a statement that fails (a constraint, a deadlock with another instance)
//!   sends every write of its group back to run alone, so one bad write never
//!   fails the others;
//! - a failed seal rolls the group back: that write answers `Unsealed`, the
//!   other sealed writes answer an error (their callers void their records),
//!   and writes that changed nothing keep their answer;
//! - a failed commit answers an error to every write that was sealed.
//!
//! Several workers take groups from one queue, so a group gathers while the
//! previous one commits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{join_all, BoxFuture};
use mandate_resolvers::{CypherQuery, StoreError, WriteOutcome, WriteSeal, Written};
use neo4rs::{Graph, Operation, Txn};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::neo4j::{classify, to_query};

/// Writes in one transaction at most.
const MAX_GROUP: usize = 64;
/// Groups in flight at once: a second group gathers and runs while the first
/// commits (or waits on a lock another hub instance holds). One worker made
/// larger groups and the same rate within noise (bench/gateway).
const WORKERS: usize = 2;
/// Writes waiting for a worker at most (then callers wait to enqueue).
const QUEUE: usize = 1024;

/// One caller's write.
pub(crate) struct Job {
    query: CypherQuery,
    seal: WriteSeal,
    reply: oneshot::Sender<WriteOutcome>,
}

/// The queue of writes, and its workers.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    tx: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the workers on `graph`; they stop once every handle is dropped.
    pub(crate) fn start(graph: Graph, timeout: Duration, queries: Arc<AtomicU64>) -> GroupCommit {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            tokio::spawn(work(graph.clone(), timeout, queries.clone(), rx.clone()));
        }
        GroupCommit { tx }
    }

    /// Queues `query` and waits for its outcome.
    pub(crate) async fn write(&self, query: CypherQuery, seal: WriteSeal) -> WriteOutcome {
        let stopped = || WriteOutcome {
            written: Err(StoreError::Unavailable(
                "the write queue has stopped".into(),
            )),
            store_time: Duration::ZERO,
        };
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Job { query, seal, reply }).await.is_err() {
            return stopped();
        }
        answer.await.unwrap_or_else(|_| stopped())
    }
}

async fn work(
    graph: Graph,
    timeout: Duration,
    queries: Arc<AtomicU64>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
) {
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            group
        };
        queries.fetch_add(group.len() as u64, Ordering::Relaxed);
        commit_group(&graph, timeout, group).await;
    }
}

/// Runs a group; a group whose statements fail runs again one write at a time.
fn commit_group(graph: &Graph, timeout: Duration, group: Vec<Job>) -> BoxFuture<'_, ()> {
    Box::pin(async move {
        let started = Instant::now();
        let queries: Vec<&CypherQuery> = group.iter().map(|j| &j.query).collect();
        let ran = tokio::time::timeout(timeout, statements(graph, &queries)).await;
        let (txn, data) = match ran {
            Ok(Ok(ran)) => ran,
            Ok(Err(e)) if group.len() > 1 => {
                tracing::debug!(detail = %e, writes = group.len(), "a write of the group failed; each runs alone");
                for job in group {
                    commit_group(graph, timeout, vec![job]).await;
                }
                return;
            }
            Ok(Err(e)) => return answer_all(group, &e, started),
            Err(_) => return answer_all(group, &StoreError::Timeout, started),
        };
        seal_and_commit(txn, group, data, timeout, started).await;
    })
}

/// Runs the group's statements in one new write transaction: one statement
/// per shape (writes compiled to the same text), with the `$rows` of its
/// writes together, each numbered `i` by its place in the group. Per write,
/// the `data` of its row (none: its node was not found).
async fn statements(
    graph: &Graph,
    queries: &[&CypherQuery],
) -> Result<(Txn, Vec<Option<Value>>), StoreError> {
    let mut shapes: Vec<(&str, Vec<Value>)> = Vec::new();
    for (i, query) in queries.iter().enumerate() {
        let rows = query
            .params
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| StoreError::Query("a write statement takes `$rows`".into()))?;
        let at = match shapes.iter().position(|(text, _)| *text == query.text) {
            Some(at) => at,
            None => {
                shapes.push((&query.text, Vec::new()));
                shapes.len() - 1
            }
        };
        for row in rows {
            let mut row = row.clone();
            if let Some(m) = row.as_object_mut() {
                m.insert("i".into(), Value::from(i));
            }
            shapes[at].1.push(row);
        }
    }
    tracing::debug!(
        writes = queries.len(),
        statements = shapes.len(),
        "owner writes: one transaction"
    );
    let mut txn = graph
        .start_txn_as(Operation::Write, None)
        .await
        .map_err(classify)?;
    let mut out: Vec<Option<Value>> = vec![None; queries.len()];
    for (text, rows) in shapes {
        let mut params = serde_json::Map::new();
        params.insert("rows".into(), Value::Array(rows));
        let q = to_query(text, params)?;
        let run = async {
            let mut stream = txn.execute(q).await.map_err(classify)?;
            while let Some(row) = stream.next(txn.handle()).await.map_err(classify)? {
                let i: usize = row
                    .get::<Value>("i")
                    .ok()
                    .and_then(|i| i.as_u64())
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|i| *i < out.len())
                    .ok_or_else(|| StoreError::Query("a write row without its `i`".into()))?;
                let data = row
                    .get::<Value>("data")
                    .map_err(|e| StoreError::Query(format!("cannot read `data`: {e}")))?;
                out[i].get_or_insert(data);
            }
            Ok::<_, StoreError>(())
        };
        if let Err(e) = run.await {
            let _ = txn.rollback().await;
            return Err(e);
        }
    }
    Ok((txn, out))
}

/// What a write's statement found, before its seal.
enum Found {
    Missing,
    Stale,
    Apply(Value),
}

async fn seal_and_commit(
    txn: Txn,
    group: Vec<Job>,
    data: Vec<Option<Value>>,
    timeout: Duration,
    started: Instant,
) {
    let mut found = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    let mut seals = Vec::new();
    for (job, data) in group.into_iter().zip(data) {
        let f = match data {
            None => Found::Missing,
            Some(d) if d["apply"] != Value::Bool(true) => Found::Stale,
            Some(d) => {
                seals.push((found.len(), (job.seal)(&d)));
                Found::Apply(d)
            }
        };
        found.push(f);
        replies.push(job.reply);
    }
    let (at, futures): (Vec<usize>, Vec<_>) = seals.into_iter().unzip();
    let sealed = join_all(futures).await;
    let mut unsealed: Vec<Option<String>> = vec![None; found.len()];
    for (i, r) in at.iter().zip(sealed) {
        if let Err(why) = r {
            unsealed[*i] = Some(why);
        }
    }
    let committed = if unsealed.iter().any(Option::is_some) {
        let _ = txn.rollback().await;
        Err(StoreError::Unavailable(
            "not committed: another write of its group was not recorded".into(),
        ))
    } else if at.is_empty() {
        // Nothing applied: nothing to keep.
        let _ = txn.rollback().await;
        Ok(())
    } else {
        match tokio::time::timeout(timeout, txn.commit()).await {
            Ok(r) => r.map(|_| ()).map_err(classify),
            Err(_) => Err(StoreError::Timeout),
        }
    };
    let store_time = share(started, found.len());
    for ((f, reply), unsealed) in found.into_iter().zip(replies).zip(unsealed) {
        let outcome = match (f, &committed, unsealed) {
            (Found::Missing, _, _) => Ok(Written::Missing),
            (Found::Stale, _, _) => Ok(Written::Stale),
            (Found::Apply(_), _, Some(why)) => Ok(Written::Unsealed(why)),
            (Found::Apply(d), Ok(()), None) => Ok(Written::Committed(d)),
            (Found::Apply(_), Err(e), None) => Err(copy(e)),
        };
        let _ = reply.send(WriteOutcome {
            written: outcome,
            store_time,
        });
    }
}

fn answer_all(group: Vec<Job>, e: &StoreError, started: Instant) {
    let store_time = share(started, group.len());
    for job in group {
        let _ = job.reply.send(WriteOutcome {
            written: Err(copy(e)),
            store_time,
        });
    }
}

/// Each write's part of its group's time so far.
fn share(started: Instant, writes: usize) -> Duration {
    started.elapsed() / u32::try_from(writes.max(1)).unwrap_or(u32::MAX)
}

fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(s) => StoreError::Unavailable(s.clone()),
        StoreError::Timeout => StoreError::Timeout,
        StoreError::Query(s) => StoreError::Query(s.clone()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}
