//! The ports: [`AuditSink`] takes records, [`AuditLog`] reads the chain back.

use futures::future::BoxFuture;

use crate::chain::{verify, Head, Verification};
use crate::record::AuditRecord;

/// Why the audit log did not take or give records.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store did not take the record.
    #[error("audit record not written: {0}")]
    NotWritten(String),
    /// The log could not be read.
    #[error("audit log not read: {0}")]
    NotRead(String),
}

/// Stores audit records: assigns `seq`, `prev_hash` and `hash` and commits.
pub trait AuditSink: Send + Sync + 'static {
    /// Appends `record` (its `chain`, `seq`, `prev_hash` and `hash` are filled
    /// here) and resolves once it is durably written.
    fn append(&self, record: AuditRecord) -> BoxFuture<'_, Result<(), AuditError>>;

    /// Resolves once every record appended so far can be read back from the
    /// audit log's store (for a sink that writes through a local journal: once
    /// they are shipped). Readers of the log — access receipts — wait here, so
    /// they see every read acknowledged before them.
    fn settle(&self) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(async { Ok(()) })
    }

    /// Records durably written but not yet readable in the store (a journal's
    /// backlog); 0 for a sink that writes straight to it.
    fn unshipped(&self) -> u64 {
        0
    }

    /// Whether a record can be appended while a graph write transaction holds
    /// its nodes' locks. A journal can (the record is durable once synced to
    /// its file); a sink committing each record to the data's own Neo4j cannot
    /// (the record's links to residents wait for those very locks).
    fn appends_under_locks(&self) -> bool {
        false
    }

    /// Whether a record appended now can be written (for readiness probes): a
    /// journal that is broken, not yet reconciled with its store, or whose backlog
    /// is full is not. A sink writing straight to its store is as ready as it is.
    fn ready(&self) -> bool {
        true
    }
}

/// What a store holds of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredLog {
    /// The records, any order.
    pub records: Vec<AuditRecord>,
    /// Stored records that could not be read as records, each described.
    pub unreadable: Vec<String>,
    /// Each chain's stored head.
    pub heads: Vec<(String, Head)>,
}

/// Reads the audit log back.
pub trait AuditLog: Send + Sync {
    /// Every record and head of `chain` (all chains if `None`).
    fn read(&self, chain: Option<&str>) -> BoxFuture<'_, Result<StoredLog, AuditError>>;
}

/// Reads the log of `chain` (or all) and verifies it: unreadable records first,
/// then [`verify`]'s problems.
///
/// # Errors
/// If the log cannot be read.
pub async fn verify_log(
    log: &dyn AuditLog,
    chain: Option<&str>,
) -> Result<Verification, AuditError> {
    let stored = log.read(chain).await?;
    let mut report = verify(stored.records, &stored.heads);
    let mut problems = stored.unreadable;
    problems.append(&mut report.problems);
    report.problems = problems;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::seal;
    use crate::record::Decision;

    struct InMemory(StoredLog);

    impl AuditLog for InMemory {
        fn read(&self, chain: Option<&str>) -> BoxFuture<'_, Result<StoredLog, AuditError>> {
            let mut log = self.0.clone();
            if let Some(c) = chain {
                log.records.retain(|r| r.chain == c);
                log.heads.retain(|(h, _)| h == c);
            }
            Box::pin(async move { Ok(log) })
        }
    }

    #[test]
    fn a_log_is_verified_through_its_port() {
        let mut records = vec![
            AuditRecord::new("1", Decision::Allowed),
            AuditRecord::new("2", Decision::Denied),
        ];
        let head = seal("a", &Head::genesis(), &mut records);
        let log = InMemory(StoredLog {
            records,
            unreadable: vec!["chain a seq 9: unreadable record".into()],
            heads: vec![("a".into(), head)],
        });
        let report = futures::executor::block_on(verify_log(&log, Some("a"))).unwrap();
        assert_eq!(report.chains["a"], 2);
        assert_eq!(report.problems, vec!["chain a seq 9: unreadable record"]);
    }
}
