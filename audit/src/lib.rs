//! mandate-audit: the audit log's own vocabulary, free of any store.
//!
//! Every request the hub answers — allowed, masked, partial, denied or rejected —
//! leaves one [`AuditRecord`]. Records form hash chains, one per hub instance:
//! [`seal`] chains records onto a [`Head`], [`verify`] checks a chain read back, and
//! [`reconcile`] checks a local journal against the head of the stored chain.
//! [`Disclosure`] collects, during one request, the fields read and the residents
//! whose data left the hub. The ports are [`AuditSink`] (append, durably, before the
//! data is released) and [`AuditLog`] (read the chain back for verification);
//! `mandate-connectors` implements both with Neo4j and a local journal.
//!
//! ```
//! use mandate_audit::{seal, verify, AuditRecord, Decision, Head};
//!
//! let mut records = vec![AuditRecord::new("req-1", Decision::Allowed)];
//! let end = seal("hub-a", &Head::genesis(), &mut records);
//! assert_eq!(end.seq, 1);
//! let report = verify(records, &[("hub-a".to_string(), end)]);
//! assert!(report.problems.is_empty());
//! ```

mod chain;
mod disclosure;
mod record;
mod sink;

pub use chain::{reconcile, seal, verify, Head, Reconciled, Verification};
pub use disclosure::Disclosure;
pub use record::{now_rfc3339, operation_hash, AuditRecord, Decision, GENESIS};
pub use sink::{verify_log, AuditError, AuditLog, AuditSink, StoredLog};
