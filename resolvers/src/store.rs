//! The port to the graph database. `connectors` implements it with neo4rs; the
//! resolvers only see compiled queries going out and JSON coming back.

use futures::future::BoxFuture;
use serde_json::{Map, Value};

/// A compiled, parameterized Cypher query returning one row with one column `data`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CypherQuery {
    /// Query text: identifiers from the catalog only, every value a `$parameter`.
    pub text: String,
    /// Parameter values.
    pub params: Map<String, Value>,
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached.
    #[error("graph store unavailable: {0}")]
    Unavailable(String),
    /// The database did not answer in time.
    #[error("graph store timed out")]
    Timeout,
    /// The database rejected the query, or its answer could not be read.
    #[error("graph store query failed: {0}")]
    Query(String),
}

impl StoreError {
    /// The client-facing error; the detail stays in the log.
    pub fn into_hub_error(self) -> crate::HubError {
        use crate::errors::Code;
        match self {
            StoreError::Unavailable(detail) => {
                tracing::warn!(db.system = "neo4j", detail = %detail, "graph store unavailable");
                crate::HubError::new(
                    Code::Neo4jUnavailable,
                    "the graph database is unavailable; retry later",
                )
            }
            StoreError::Timeout => {
                tracing::warn!(db.system = "neo4j", "graph store timed out");
                crate::HubError::new(
                    Code::Neo4jTimeout,
                    "the graph database did not answer in time",
                )
            }
            StoreError::Query(detail) => crate::HubError::internal(detail),
        }
    }
}

/// Runs compiled queries.
pub trait GraphStore: Send + Sync + 'static {
    /// Runs `query` and returns the `data` column of its single row.
    fn run<'a>(&'a self, query: &'a CypherQuery) -> BoxFuture<'a, Result<Value, StoreError>>;

    /// Runs a compiled update in a write transaction: when its `data` says
    /// `apply: true`, `seal` records it (the audit record) while the
    /// transaction is open, and the write commits only once `seal` succeeded.
    /// A store may commit several callers' writes in one transaction (group
    /// commit); each caller's write still commits only after its own seal. A
    /// store that takes no writes refuses.
    ///
    /// An error after `seal` succeeded means nothing was committed, and the
    /// caller voids its record.
    fn write<'a>(&'a self, query: &'a CypherQuery, seal: WriteSeal) -> BoxFuture<'a, WriteOutcome> {
        let _ = (query, seal);
        Box::pin(async {
            WriteOutcome {
                written: Err(StoreError::Query("this store takes no writes".into())),
                store_time: std::time::Duration::ZERO,
            }
        })
    }
}

/// What became of one write, and the part of the store's time that was its
/// own: the time of the transaction it ran in over the writes that shared it
/// (not the time it waited for its turn), charged to its agency's share.
#[derive(Debug)]
pub struct WriteOutcome {
    /// The write's outcome.
    pub written: Result<Written, StoreError>,
    /// Its part of the store's time.
    pub store_time: std::time::Duration,
}

/// The audit step of one write, given the statement's `data`: records the
/// write durably or says why it could not.
pub type WriteSeal = Box<dyn FnOnce(&Value) -> BoxFuture<'static, Result<(), String>> + Send>;

/// What became of one write.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Sealed and committed; the statement's `data`.
    Committed(Value),
    /// The statement found the node but its precondition did not hold
    /// (`apply: false`): nothing written, nothing sealed.
    Stale,
    /// The statement found no node (absent, or outside the scope): nothing
    /// written, nothing sealed.
    Missing,
    /// The seal failed: nothing written.
    Unsealed(String),
}
