//! The Neo4j store: runs compiled queries through neo4rs.
//!
//! Reads run as read transactions and writes (the audit log, seeding, schema)
//! as write transactions. With a `neo4j://` (or `neo4j+s://`) URI the driver
//! routes (neo4rs's `unstable-bolt-protocol-impl-v2` feature): it asks the
//! server it was given for a routing table and sends reads to the readers
//! (followers, read replicas) and writes to the writer (the leader) it lists,
//! refreshing the table when its TTL runs out; a lone server lists itself for
//! every role. Routing tables are cached per named database, so a routed store
//! always names one (`neo4j`, the default database's name, unless configured).
//! `bolt://` connects to the one server given.
//!
//! The driver's pool connects lazily, so the hub starts while Neo4j is down and
//! recovers by itself when it returns: a failed call leaves the pool to open fresh
//! connections next time. Every call runs under the hub's own deadline (neo4rs
//! retries transient failures for up to a minute on its own). Driver errors are
//! logged here and reach clients only as a code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use mandate_resolvers::{CypherQuery, GraphStore, StoreError, WriteOutcome, WriteSeal};

use crate::group_commit::GroupCommit;
use neo4rs::{BoltType, ConfigBuilder, Graph, Operation, Query};
use serde_json::Value;

/// How to reach Neo4j.
#[derive(Debug, Clone)]
pub struct Neo4jSettings {
    /// Bolt URI, e.g. `bolt://127.0.0.1:7687`.
    pub uri: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Database name; `None` for the server's default (`neo4j` when routing).
    pub database: Option<String>,
    /// Pool size.
    pub max_connections: usize,
    /// Deadline for one query, connection included.
    pub query_timeout: Duration,
    /// Deadline for opening a connection.
    pub connect_timeout: Duration,
}

/// The neo4rs-backed [`GraphStore`].
#[derive(Clone)]
pub struct Neo4jStore {
    graph: Graph,
    timeout: Duration,
    queries: Arc<AtomicU64>,
    /// Owner writes, committed in groups; started by the first write (inside
    /// the runtime).
    writes: Arc<std::sync::OnceLock<GroupCommit>>,
}

impl std::fmt::Debug for Neo4jStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4jStore").finish_non_exhaustive()
    }
}

impl Neo4jStore {
    /// A store for `settings`. Does not connect yet.
    ///
    /// # Errors
    /// If the settings are malformed (e.g. an unsupported URI scheme).
    pub fn new(settings: &Neo4jSettings) -> Result<Self, StoreError> {
        let mut config = ConfigBuilder::default()
            .uri(settings.uri.as_str())
            .user(settings.user.as_str())
            .password(settings.password.as_str())
            .max_connections(settings.max_connections)
            .fetch_size(500)
            // neo4rs applies this to connecting *and* to every read: it must cover
            // the slowest query (first-time planning included); our own deadline
            // below is the real bound.
            .connection_timeout(settings.connect_timeout.max(settings.query_timeout))
            // In neo4rs this bounds the wait for a pooled connection.
            .max_lifetime(settings.query_timeout)
            .idle_timeout(Duration::from_secs(300));
        // neo4rs caches a routing table per named database and fetches a fresh
        // one before every query for an unnamed one.
        let database = settings
            .database
            .clone()
            .or_else(|| routed(&settings.uri).then(|| DEFAULT_DATABASE.to_string()));
        if let Some(db) = &database {
            config = config.db(db.as_str());
        }
        let config = config
            .build()
            .map_err(|e| StoreError::Unavailable(format!("invalid Neo4j settings: {e}")))?;
        let graph = Graph::connect(config)
            .map_err(|e| StoreError::Unavailable(format!("invalid Neo4j settings: {e}")))?;
        Ok(Neo4jStore {
            graph,
            timeout: settings.query_timeout,
            queries: Arc::new(AtomicU64::new(0)),
            writes: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// Number of queries sent since start (all kinds).
    pub fn queries_sent(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Whether Neo4j answers `RETURN 1` now.
    pub async fn ping(&self) -> bool {
        let q = CypherQuery {
            text: "RETURN 1 AS data".to_string(),
            params: serde_json::Map::new(),
        };
        matches!(self.fetch(&q).await, Ok(Value::Number(_)))
    }

    /// Runs a write or schema statement, discarding its result.
    ///
    /// # Errors
    /// As [`GraphStore::run`].
    pub async fn execute(
        &self,
        text: &str,
        params: serde_json::Map<String, Value>,
    ) -> Result<(), StoreError> {
        let query = to_query(text, params)?;
        self.queries.fetch_add(1, Ordering::Relaxed);
        let run = async {
            // `run` is a write: routed to the leader.
            self.graph.run(query).await.map_err(classify)?;
            Ok(())
        };
        // Writes may be long (seeding batches): give them a wider deadline.
        match tokio::time::timeout(self.timeout * 20, run).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Runs a query returning rows; each row as a JSON object of its columns.
    ///
    /// # Errors
    /// As [`GraphStore::run`].
    pub async fn rows(
        &self,
        text: &str,
        params: serde_json::Map<String, Value>,
    ) -> Result<Vec<Value>, StoreError> {
        self.collect(text, params, Access::Read).await
    }

    /// Runs a write statement in its own transaction (committed before this
    /// returns) and returns its rows, each as a JSON object of its columns.
    ///
    /// # Errors
    /// As [`GraphStore::run`].
    pub async fn write_rows(
        &self,
        text: &str,
        params: serde_json::Map<String, Value>,
    ) -> Result<Vec<Value>, StoreError> {
        self.collect(text, params, Access::Write).await
    }

    async fn collect(
        &self,
        text: &str,
        params: serde_json::Map<String, Value>,
        access: Access,
    ) -> Result<Vec<Value>, StoreError> {
        let query = to_query(text, params)?;
        self.queries.fetch_add(1, Ordering::Relaxed);
        let run = async {
            // Auto-commit in the access mode asked for: routed to a reader or
            // the writer.
            let mut stream = match access {
                Access::Read => self.graph.execute_read(query).await,
                Access::Write => self.graph.execute(query).await,
            }
            .map_err(classify)?;
            let mut out = Vec::new();
            while let Some(row) = stream.next().await.map_err(classify)? {
                let v: Value = row
                    .to::<Value>()
                    .map_err(|e| StoreError::Query(format!("cannot read row: {e}")))?;
                out.push(v);
            }
            Ok(out)
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// In one transaction: runs `read`, hands its rows to `build`, runs the write
    /// statement `build` returns, and commits. Locks taken by `read` (e.g. by a
    /// `SET`) serialize concurrent callers until the commit.
    ///
    /// # Errors
    /// As [`GraphStore::run`]; `build`'s error as [`StoreError::Query`].
    pub async fn read_then_write<F>(
        &self,
        read: &str,
        params: serde_json::Map<String, Value>,
        build: F,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(Vec<Value>) -> Result<(String, serde_json::Map<String, Value>), String> + Send,
    {
        let query = to_query(read, params)?;
        self.queries.fetch_add(2, Ordering::Relaxed);
        let run = async {
            // A write transaction: routed to the leader.
            let mut txn = self
                .graph
                .start_txn_as(Operation::Write, None)
                .await
                .map_err(classify)?;
            let mut stream = txn.execute(query).await.map_err(classify)?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next(txn.handle()).await.map_err(classify)? {
                rows.push(
                    row.to::<Value>()
                        .map_err(|e| StoreError::Query(format!("cannot read row: {e}")))?,
                );
            }
            let (text, params) = build(rows).map_err(StoreError::Query)?;
            txn.run(to_query(&text, params)?).await.map_err(classify)?;
            txn.commit().await.map_err(classify)?;
            Ok(())
        };
        match tokio::time::timeout(self.timeout * 2, run).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Runs `statements` in one write transaction; each must return a row
    /// (none: [`TransactError::NoRow`], and nothing is committed). Then awaits
    /// `seal` and commits only if it succeeded.
    ///
    /// # Errors
    /// [`TransactError`]; the transaction is rolled back on every error.
    pub async fn transact(
        &self,
        statements: Vec<(String, serde_json::Map<String, Value>)>,
        seal: futures::future::BoxFuture<'_, Result<(), String>>,
    ) -> Result<(), TransactError> {
        self.queries
            .fetch_add(statements.len() as u64, Ordering::Relaxed);
        let run = async {
            let mut txn = self
                .graph
                .start_txn_as(Operation::Write, None)
                .await
                .map_err(classify)?;
            for (text, params) in statements {
                let mut stream = txn
                    .execute(to_query(&text, params)?)
                    .await
                    .map_err(classify)?;
                let mut rows = 0;
                while stream.next(txn.handle()).await.map_err(classify)?.is_some() {
                    rows += 1;
                }
                if rows == 0 {
                    let _ = txn.rollback().await;
                    return Err(TransactError::NoRow);
                }
            }
            if let Err(why) = seal.await {
                let _ = txn.rollback().await;
                return Err(TransactError::Seal(why));
            }
            txn.commit().await.map_err(classify)?;
            Ok(())
        };
        match tokio::time::timeout(self.timeout * 4, run).await {
            Ok(r) => r,
            Err(_) => Err(TransactError::Store(StoreError::Timeout)),
        }
    }

    async fn fetch(&self, query: &CypherQuery) -> Result<Value, StoreError> {
        let q = to_query(&query.text, query.params.clone())?;
        self.queries.fetch_add(1, Ordering::Relaxed);
        let run = async {
            let mut stream = self.graph.execute_read(q).await.map_err(classify)?;
            let row = stream
                .next()
                .await
                .map_err(classify)?
                .ok_or_else(|| StoreError::Query("query returned no row".to_string()))?;
            let data: Value = row
                .get("data")
                .map_err(|e| StoreError::Query(format!("cannot read `data`: {e}")))?;
            // Drain so the connection goes back to the pool clean.
            while stream.next().await.map_err(classify)?.is_some() {}
            Ok(data)
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        }
    }
}

impl GraphStore for Neo4jStore {
    fn run<'a>(&'a self, query: &'a CypherQuery) -> BoxFuture<'a, Result<Value, StoreError>> {
        use tracing::Instrument;
        Box::pin(
            self.fetch(query)
                .instrument(tracing::info_span!("neo4j.query", db.system = "neo4j")),
        )
    }

    fn write<'a>(&'a self, query: &'a CypherQuery, seal: WriteSeal) -> BoxFuture<'a, WriteOutcome> {
        use tracing::Instrument;
        let writes = self.writes.get_or_init(|| {
            GroupCommit::start(self.graph.clone(), self.timeout, self.queries.clone())
        });
        Box::pin(
            writes
                .write(query.clone(), seal)
                .instrument(tracing::info_span!("neo4j.write", db.system = "neo4j")),
        )
    }
}

/// The name of Neo4j's default database (also on Aura).
const DEFAULT_DATABASE: &str = "neo4j";

/// Whether `uri` asks for a routing driver (`neo4j://`, `neo4j+s://`, `neo4j+ssc://`).
fn routed(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("neo4j") || scheme.to_ascii_lowercase().starts_with("neo4j+")
    })
}

/// Whether a statement only reads (routed and run read-only) or may write.
#[derive(Debug, Clone, Copy)]
enum Access {
    Read,
    Write,
}

pub(crate) fn to_query(
    text: &str,
    params: serde_json::Map<String, Value>,
) -> Result<Query, StoreError> {
    let mut q = Query::new(text.to_string());
    for (k, v) in params {
        let bolt = BoltType::try_from(v)
            .map_err(|e| StoreError::Query(format!("parameter `{k}` cannot be sent: {e}")))?;
        q = q.param(&k, bolt);
    }
    Ok(q)
}

/// Connection-level failures are "unavailable"; the rest are query failures.
pub(crate) fn classify(e: neo4rs::Error) -> StoreError {
    use neo4rs::Error as E;
    match e {
        E::IOError { .. }
        | E::ConnectionError
        | E::ConnectionTimedOut
        | E::ServerUnavailableError(_)
        | E::AuthenticationError(_)
        | E::IncompleteBoltExchange
        | E::UnexpectedMessage(_)
        | E::RoutingTableRefreshFailed(_) => StoreError::Unavailable(e.to_string()),
        other => {
            let text = other.to_string();
            // Pool errors (no connection could be opened) surface as other kinds.
            if text.contains("pool")
                || text.contains("Connection refused")
                || text.contains("timed out")
            {
                StoreError::Unavailable(text)
            } else {
                StoreError::Query(text)
            }
        }
    }
}

/// Why [`Neo4jStore::transact`] did not commit.
#[derive(Debug)]
pub enum TransactError {
    /// A statement returned no row.
    NoRow,
    /// The seal failed.
    Seal(String),
    /// Neo4j failed.
    Store(StoreError),
}

impl From<StoreError> for TransactError {
    fn from(e: StoreError) -> Self {
        TransactError::Store(e)
    }
}
