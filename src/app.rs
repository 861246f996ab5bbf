//! The HTTP application: routes, shared state, request ids and access logs.
//!
//! ```text
//! POST|GET /graphql         GraphQL over HTTP: the asking agency's own schema
//! POST|GET /subgraph        the same, through the federation view a router composes
//!                           (one schema for every agency; the caller's plan decides)
//! GET      /graphiql        GraphiQL (assets embedded in the binary; in development
//!                           mode also /graphiql/mandates and /graphiql/token, see assets.rs)
//! GET      /healthz         the process is up
//! GET      /readyz          Neo4j answers and the audit log takes records (503 otherwise)
//! GET      /metrics         Prometheus text: requests, Cypher queries
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mandate_audit::AuditSink;
use mandate_connectors::AuditWriter;
use mandate_connectors::{AuditJournal, JournalSettings};
use mandate_connectors::{Neo4jSettings, Neo4jStore};
use mandate_hub::{Call, Caller, Hub, HubBuilder, Statement};
use mandate_policies::Policies;
use mandate_resolvers::{Code, HubError, Limits};
use poem::http::{header, HeaderMap, StatusCode};
use poem::web::Data;
use poem::{
    get, handler, Endpoint, EndpointExt, IntoResponse, Middleware, Request, Response, Route,
};
use tracing::Instrument as _;

use crate::assets;
use crate::auth::{Authenticator, Principal};
use crate::config::{Config, PolicySource};
use crate::graphql::{self, Decoded};

/// Counters exposed at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// GraphQL requests received.
    pub graphql_requests: AtomicU64,
    /// GraphQL responses that carried errors.
    pub graphql_errors: AtomicU64,
    /// Times the lists folder was read (at a changed stamp, on the interval or
    /// SIGHUP), whether or not the lists had changed.
    pub policy_reads: AtomicU64,
    /// Changed lists put in force.
    pub policy_reloads: AtomicU64,
    /// Changed lists that did not load (the lists in force stayed).
    pub policy_reload_failures: AtomicU64,
    /// Sharing applications past a deadline they have not met (store mode).
    pub applications_overdue: AtomicU64,
    /// Break-glass reviews past due and not signed off (store mode).
    pub reviews_overdue: AtomicU64,
    /// Milliseconds from a version's publication to its being in force here
    /// (the last one seen; store mode).
    pub publish_to_effect_ms: AtomicU64,
    /// Connections closed as they were accepted, past `server.max_connections`
    /// or `server.max_connections_per_ip` (shared with the acceptor).
    pub connections_refused: Arc<AtomicU64>,
}

/// Everything the handlers share: the hub and what serving it over HTTP needs.
pub struct App {
    /// Configuration in force.
    pub config: Config,
    /// The request pipeline.
    pub hub: Hub,
    /// The Neo4j store the hub reads (also for readiness and metrics).
    pub store: Neo4jStore,
    /// Verifies credentials.
    pub auth: Authenticator,
    /// The audit log's own store (for metrics).
    pub audit_store: Neo4jStore,
    /// Counters.
    pub metrics: Metrics,
    /// What the lists folder looked like when the lists in force were read.
    lists: ListsSeen,
    /// Persisted and trusted documents.
    pub documents: crate::documents::Documents,
    /// The policy officers' side (`policies.source = "store"`).
    pub(crate) admin: Option<crate::admin::Admin>,
    /// The departmental subgraphs remote fields come from.
    pub subgraphs: Arc<mandate_connectors::HttpSubgraphs>,
    /// Refusals of held-back agencies being held (`budgets.tarpit_max` permits).
    tarpit: Arc<tokio::sync::Semaphore>,
}

/// Why the hub could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubBuildError {
    /// The data model does not load.
    #[error(transparent)]
    Schema(#[from] mandate_schema::SchemaError),
    /// The Neo4j settings are unusable.
    #[error(transparent)]
    Store(#[from] mandate_resolvers::StoreError),
    /// The generated GraphQL schema was rejected (a bug).
    #[error(transparent)]
    Hub(#[from] mandate_hub::BuildError),
    /// Credentials configuration is wrong.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthConfigError),
    /// The responsibility lists do not load.
    #[error(transparent)]
    Policies(#[from] mandate_policies::PolicyError),
    /// The audit journal cannot be opened or is damaged.
    #[error(transparent)]
    Journal(#[from] mandate_connectors::JournalError),
    /// The manifest of trusted documents does not load.
    #[error("{0}")]
    Documents(String),
    /// The policy store cannot be read or bootstrapped.
    #[error("policy store: {0}")]
    PolicyStore(String),
    /// A `[subgraphs.<name>]` section is unusable.
    #[error("{0}")]
    Subgraphs(String),
}

impl App {
    /// Assembles the hub: loads credentials and responsibility lists. Does not
    /// contact Neo4j.
    ///
    /// # Errors
    /// See [`HubBuildError`].
    pub async fn new(config: Config) -> Result<Arc<App>, HubBuildError> {
        Self::build(config, None).await
    }

    /// [`App::new`] with another audit sink in place of the Neo4j writer — for
    /// measuring what the audit write costs (the benchmark harness), never for
    /// serving: the server binary always builds the hub with [`App::new`].
    ///
    /// # Errors
    /// See [`HubBuildError`].
    pub async fn with_audit_sink(
        config: Config,
        sink: Arc<dyn AuditSink>,
    ) -> Result<Arc<App>, HubBuildError> {
        Self::build(config, Some(sink)).await
    }

    async fn build(
        config: Config,
        sink: Option<Arc<dyn AuditSink>>,
    ) -> Result<Arc<App>, HubBuildError> {
        let catalog = Arc::new(mandate_schema::hub_catalog()?);
        let store = Neo4jStore::new(&neo4j_settings(&config))?;
        let cursors = if config.cursors.secret.is_empty() {
            mandate_resolvers::CursorKey::random()
        } else {
            mandate_resolvers::CursorKey::from_secret(config.cursors.secret.as_bytes())
        };
        let auth = Authenticator::load(&config.auth).await?;
        // A pool of its own, so audit writes never wait behind reads (and are
        // counted apart from them).
        let audit_store = {
            let mut settings = neo4j_settings(&config);
            if !config.audit.neo4j_uri.is_empty() {
                settings.uri = config.audit.neo4j_uri.clone();
            }
            settings.max_connections = 4;
            Neo4jStore::new(&settings)?
        };
        let audit: Arc<dyn AuditSink> = match sink {
            Some(sink) => sink,
            None if config.audit.journal.is_empty() => Arc::new(AuditWriter::start(
                audit_store.clone(),
                config.audit.chain.clone(),
                Duration::from_millis(config.audit.timeout_ms),
            )),
            None => Arc::new(AuditJournal::open(
                audit_store.clone(),
                JournalSettings {
                    path: config.audit.journal.clone().into(),
                    chain: config.audit.chain.clone(),
                    timeout: Duration::from_millis(config.audit.timeout_ms),
                    max_backlog: config.audit.journal_max_backlog,
                    compact_bytes: config.audit.journal_max_mb.saturating_mul(1 << 20),
                    ship_interval: Duration::from_millis(config.audit.journal_ship_ms),
                },
            )?),
        };
        let lists = ListsSeen::new(lists_stamp(Path::new(&config.policies.dir), None));
        let (policies, admin) = match config.policies.source {
            PolicySource::Files => (
                Policies::load(Path::new(&config.policies.dir), &catalog).await?,
                None,
            ),
            PolicySource::Store => {
                let (policies, admin) =
                    crate::admin::start(&config, &catalog, &store, audit.clone())
                        .await
                        .map_err(HubBuildError::PolicyStore)?;
                (policies, Some(admin))
            }
        };
        if config.auth.open {
            tracing::warn!("auth.open is set: every request is served unrestricted, without credentials or audit of a mandate; development only");
        }
        tracing::info!(policy.version = %policies.version(), agencies = policies.agencies().len(), "responsibility lists loaded");
        let subgraphs = Arc::new(
            mandate_connectors::HttpSubgraphs::new(config.subgraph_settings())
                .map_err(HubBuildError::Subgraphs)?,
        );
        for name in subgraphs.names() {
            if !catalog.subgraphs().contains(name) {
                tracing::warn!(
                    subgraph = name,
                    "configured, but no remote field of the catalog names it"
                );
            }
        }
        let hub = HubBuilder::new(
            catalog,
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            audit,
            policies,
        )
        .limits(Limits {
            default_page_size: config.limits.default_page_size,
            max_page_size: config.limits.max_page_size,
            max_in_values: config.limits.max_in_values,
            ..Limits::default()
        })
        .shape(config.limits.shape())
        .budgets(config.budgets.budgets(config.neo4j.max_connections))
        .subgraphs(subgraphs.clone())
        .cursors(cursors)
        .plan_ttl(Duration::from_secs(config.policies.plan_ttl_secs))
        .jurisdiction_ttl(Duration::from_secs(config.policies.jurisdiction_ttl_secs))
        .today(Some(config.policies.today.clone()).filter(|t| !t.is_empty()))
        .open(config.auth.open)
        .anonymous_refusals_per_sec(config.audit.anonymous_refusals_per_sec)
        .build()?;
        let documents = crate::documents::Documents::load(&config.documents)
            .map_err(HubBuildError::Documents)?;
        if documents.approved() > 0 {
            tracing::info!(
                approved = documents.approved(),
                trusted_only = config.documents.trusted_only,
                "trusted documents loaded"
            );
        }
        let tarpit = Arc::new(tokio::sync::Semaphore::new(config.budgets.tarpit_max));
        Ok(Arc::new(App {
            documents,
            subgraphs,
            tarpit,
            config,
            hub,
            store,
            auth,
            audit_store,
            metrics: Metrics::default(),
            lists,
            admin,
        }))
    }

    /// The routes, with request ids and access logging.
    pub fn endpoint(self: &Arc<Self>) -> impl Endpoint {
        // With an origin allow-list, browser applications of departments may call
        // `/graphql`: preflights are answered here, other requests go on to the
        // handler (and its audit record) with the CORS headers added.
        let server = &self.config.server;
        let cors = || {
            poem::middleware::Cors::new()
                .allow_origins(server.cors_allow_origins.iter().map(String::as_str))
                .allow_methods([poem::http::Method::GET, poem::http::Method::POST])
                .allow_headers(server.cors_allow_headers.iter().map(String::as_str))
                .expose_headers(["x-request-id", "retry-after"])
                .max_age(i32::try_from(server.cors_max_age_secs).unwrap_or(i32::MAX))
        };
        let graphql = graphql_handler.with_if(!server.cors_allow_origins.is_empty(), cors());
        let subgraph = subgraph_handler.with_if(!server.cors_allow_origins.is_empty(), cors());
        let mut route = Route::new()
            // Every method reaches the handler, so every answer — a 405 included —
            // leaves an audit record (graphql.rs decides what is GraphQL).
            .at("/graphql", graphql)
            .at("/subgraph", subgraph)
            .at("/healthz", get(healthz))
            .at("/readyz", get(readyz))
            .at("/admin/graphql", crate::admin::admin_graphql)
            .at("/console/session", crate::admin::session_handler)
            .at("/console/session/demo", crate::admin::demo_session_handler)
            .at("/metrics", get(metrics));
        if self.config.server.graphiql {
            route = assets::routes(route, self);
        }
        route = crate::console::routes(route);
        route
            .data(self.clone())
            .with(crate::connections::BodyDeadline(Duration::from_secs(
                server.body_read_secs.max(1),
            )))
            .with(RequestIds)
    }
}

impl App {
    /// The responsibility lists in force.
    pub fn policies(&self) -> Arc<Policies> {
        self.hub.policies()
    }

    /// Reads the lists again and puts what loads in force, dropping the plans
    /// compiled from the old ones. A list file that does not load is left out —
    /// fail closed: its grants lapse until it is mended — while the changes of
    /// every other file, revocations first of all, take effect. Returns the new
    /// version, or `None` when nothing changed. One reload runs at a time; the
    /// requests that find the folder changed wait for it (see
    /// [`App::refresh_policies`]).
    ///
    /// # Errors
    /// The first file left out, naming its file and line (the others are logged;
    /// the lists that loaded are in force all the same); or, when the folder or
    /// model cannot be read, that error, the lists in force staying.
    pub async fn reload_policies(&self) -> Result<Option<String>, mandate_policies::PolicyError> {
        let _one = self.lists.reloading.lock().await;
        self.reload_locked().await
    }

    /// Puts lists saved since the last read in force before the caller goes on:
    /// the request that runs this after a save is answered under the saved lists,
    /// a revocation included, on every instance reading the folder. Costs a few
    /// `stat` calls when nothing changed (inode, size and times of `model.conf`
    /// and each list, no contents);
    /// when something did, the first request reloads and the others wait for it
    /// (single flight). Off with `policies.check_per_request = false`.
    pub async fn refresh_policies(&self) {
        if !self.config.policies.check_per_request || self.admin.is_some() {
            return;
        }
        let dir = Path::new(&self.config.policies.dir);
        if self.lists.unchanged(dir) {
            return;
        }
        let _one = self.lists.reloading.lock().await;
        // Another request may have reloaded while this one waited.
        if self.lists.unchanged(dir) {
            return;
        }
        // Errors are logged and counted inside; the lists in force stay.
        let _ = self.reload_locked().await;
    }

    /// [`App::reload_policies`] with the single-flight lock held.
    async fn reload_locked(&self) -> Result<Option<String>, mandate_policies::PolicyError> {
        let dir = Path::new(&self.config.policies.dir);
        // Stamped before reading: a save during the read leaves the stamp behind
        // the folder, and the next request reads again.
        self.lists.saw(lists_stamp(dir, None));
        self.metrics.policy_reads.fetch_add(1, Ordering::Relaxed);
        let (next, refused) = match Policies::load_failing_closed(dir, self.hub.catalog()).await {
            Ok(loaded) => loaded,
            Err(e) => {
                self.metrics
                    .policy_reload_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, policy.version = %self.hub.policies().version(), "responsibility lists do not load; the lists in force stay");
                return Err(e);
            }
        };
        for e in &refused {
            tracing::error!(error = %e, "a responsibility list does not load; its grants are withdrawn until it is mended");
        }
        let changed = self.hub.put_policies(next);
        if changed.is_some() {
            self.metrics.policy_reloads.fetch_add(1, Ordering::Relaxed);
        }
        match refused.into_iter().next() {
            Some(first) => {
                self.metrics
                    .policy_reload_failures
                    .fetch_add(1, Ordering::Relaxed);
                Err(first)
            }
            None => Ok(changed),
        }
    }
}

/// One file's identity and state as `stat` reports it: inode, size, and
/// modification and change times in nanoseconds. A save changes at least one
/// of them — an editor's rename a new inode, a rewrite in place the times —
/// except a rewrite in place of the same size within one tick of the file
/// system's clock, which the interval reload (`policies.reload_secs`) catches.
type FileStamp = (u64, u64, i128, i128);

/// The stamp of a policies folder: `model.conf`, the `lists` folder and every
/// `lists/*.csv` by name, each with its [`FileStamp`] (`None`: unreadable).
/// Symbolic links are followed, so a Kubernetes ConfigMap's swap of its
/// `..data` link shows as new inodes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ListsStamp(Vec<(std::ffi::OsString, Option<FileStamp>)>);

/// Reads the stamp of the policies folder `dir`: a `stat` per file and, when
/// the `lists` folder itself changed since `previous` (a file added, removed or
/// renamed there), one directory read; no file contents. Tens of microseconds
/// (the unit test prints the cost).
pub(crate) fn lists_stamp(dir: &Path, previous: Option<&ListsStamp>) -> ListsStamp {
    let stamp = |path: &Path| std::fs::metadata(path).ok().map(|m| file_stamp(&m));
    let lists = dir.join("lists");
    let folder = stamp(&lists);
    let names: Vec<std::ffi::OsString> = match previous {
        // The same folder as before: the same names (a removed file shows as
        // unreadable below).
        Some(ListsStamp(before))
            if folder.is_some() && before.get(1).is_some_and(|(_, f)| *f == folder) =>
        {
            before
                .iter()
                .skip(2)
                .map(|(name, _)| name.clone())
                .collect()
        }
        _ => {
            let mut names: Vec<_> = std::fs::read_dir(&lists)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.file_name())
                        .filter(|n| Path::new(n).extension().is_some_and(|x| x == "csv"))
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        }
    };
    let mut entries = Vec::with_capacity(names.len() + 2);
    entries.push(("model.conf".into(), stamp(&dir.join("model.conf"))));
    entries.push(("lists".into(), folder));
    for name in names {
        let file = stamp(&lists.join(&name));
        entries.push((name, file));
    }
    ListsStamp(entries)
}

#[cfg(unix)]
fn file_stamp(m: &std::fs::Metadata) -> FileStamp {
    use std::os::unix::fs::MetadataExt as _;
    let nanos = |secs: i64, ns: i64| i128::from(secs) * 1_000_000_000 + i128::from(ns);
    (
        m.ino(),
        m.len(),
        nanos(m.mtime(), m.mtime_nsec()),
        nanos(m.ctime(), m.ctime_nsec()),
    )
}

#[cfg(not(unix))]
fn file_stamp(m: &std::fs::Metadata) -> FileStamp {
    let modified = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
    (0, m.len(), modified, 0)
}

/// The stamp of the folder as the lists in force were read, and the lock one
/// reload at a time holds.
struct ListsSeen {
    seen: std::sync::Mutex<Arc<ListsStamp>>,
    reloading: tokio::sync::Mutex<()>,
}

impl ListsSeen {
    fn new(stamp: ListsStamp) -> Self {
        ListsSeen {
            seen: std::sync::Mutex::new(Arc::new(stamp)),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether `dir` looks as it did when the lists in force were read.
    fn unchanged(&self, dir: &Path) -> bool {
        // A poisoned lock holds a whole stamp all the same.
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        lists_stamp(dir, Some(&seen)) == *seen
    }

    fn saw(&self, stamp: ListsStamp) {
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(stamp);
    }
}

/// Reloads the lists every `policies.reload_secs` and on SIGHUP, while the hub lives.
pub(crate) async fn watch_policies(hub: std::sync::Weak<App>) {
    let every = match hub.upgrade() {
        // The store has its own watcher (admin::watch_store).
        Some(h) if h.admin.is_some() => return,
        Some(h) => h.config.policies.reload_secs,
        None => return,
    };
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut ticks = (every > 0).then(|| {
        let mut t = tokio::time::interval(Duration::from_secs(every));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        let tick = async {
            match ticks.as_mut() {
                Some(t) => {
                    t.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(unix)]
        let hup = async {
            match hangup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hup = std::future::pending::<()>();
        tokio::select! {
            () = tick => {}
            () = hup => {}
        }
        let Some(hub) = hub.upgrade() else { return };
        // Errors are logged and counted inside; the lists in force stay.
        let _ = hub.reload_policies().await;
    }
}

/// The store settings from the configuration.
pub fn neo4j_settings(config: &Config) -> Neo4jSettings {
    Neo4jSettings {
        uri: config.neo4j.uri.clone(),
        user: config.neo4j.user.clone(),
        password: config.neo4j.password.clone(),
        database: Some(config.neo4j.database.clone()).filter(|d| !d.is_empty()),
        max_connections: config.neo4j.max_connections,
        query_timeout: Duration::from_millis(config.neo4j.query_timeout_ms),
        connect_timeout: Duration::from_millis(config.neo4j.connect_timeout_ms),
    }
}

/// The hub's id of the current request (set by [`RequestIds`]), and the id the
/// client sent in `x-request-id`, if it was sane.
#[derive(Debug, Clone)]
pub struct RequestId {
    /// Issued by the hub, unique: the identity of the request in logs and audit.
    pub hub: String,
    /// The client's own, for correlation only.
    pub client: Option<String>,
}

/// Issues each request the hub's own id (a client's `x-request-id` is kept beside
/// it, never used in its place: clients cannot choose or repeat the recorded id),
/// runs it in a span, logs its outcome, and returns the hub's id in `x-request-id`.
pub struct RequestIds;

impl<E: Endpoint> Middleware<E> for RequestIds {
    type Output = RequestIdEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        RequestIdEndpoint(ep)
    }
}

/// See [`RequestIds`].
pub struct RequestIdEndpoint<E>(E);

impl<E: Endpoint> Endpoint for RequestIdEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        let client = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            .map(str::to_string);
        let id = uuid::Uuid::new_v4().to_string();
        req.extensions_mut().insert(RequestId {
            hub: id.clone(),
            client: client.clone(),
        });
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let span = tracing::info_span!("request", request_id = %id, client_request_id = client.as_deref().unwrap_or(""), http.method = %method, http.path = %path);
        crate::telemetry::continue_trace(&span, req.headers());
        let started = Instant::now();
        let result = self.0.call(req).instrument(span.clone()).await;
        let mut resp = match result {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        if let Ok(v) = id.parse() {
            resp.headers_mut().insert("x-request-id", v);
        }
        span.in_scope(|| {
            tracing::info!(
                http.status = resp.status().as_u16(),
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "request finished"
            );
        });
        Ok(resp)
    }
}

/// The response for a request refused with `e`; a `401` names the scheme to
/// authenticate with (RFC 9110 §11.6.1): a bearer token, or the `x-api-key` header.
fn refusal(e: &HubError, request_id: &str, media: bool) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = graphql::error_response(status, e.code, &e.message, request_id, media);
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if e.code == Code::TokenExpired {
            r#"Bearer realm="mandate", error="invalid_token", error_description="the token has expired", ApiKey realm="mandate", header="x-api-key""#
        } else {
            r#"Bearer realm="mandate", ApiKey realm="mandate", header="x-api-key""#
        };
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(challenge),
        );
    }
    resp
}

/// The hub's view of a verified principal.
fn caller_of(principal: Principal) -> Caller {
    Caller {
        agency: principal.agency,
        officer: principal.officer,
        roles: principal.roles,
        purposes: principal.purposes,
    }
}

/// What the request states in its headers: the agency it claims to act for, its
/// purpose (事由) and case number. A header sent twice, or with a value that is
/// not text, states a value no identifier matches, so the request is refused
/// (never read from one of the copies, nor skipped for `extensions.mandate`).
fn statement_of(headers: &HeaderMap) -> Statement {
    let single = |name: &str| {
        let mut values = headers.get_all(name).iter();
        let first = values.next()?;
        if values.next().is_some() {
            return Some(UNREADABLE.to_string());
        }
        Some(first.to_str().map_or(UNREADABLE, str::trim).to_string())
    };
    Statement {
        claimed_agency: single("x-mandate-agency"),
        purpose: single("x-mandate-purpose"),
        case: single("x-mandate-case"),
    }
}

/// A statement header's value when it cannot be read as one value.
const UNREADABLE: &str = "\u{FFFD}";

/// `/graphql`: every answer may hold personal data, so none may be stored by a
/// browser or an intermediary cache, whatever the method or the outcome.
#[handler]
async fn graphql_handler(req: &Request, body: poem::Body, app: Data<&Arc<App>>) -> Response {
    no_store(answer(req, body, &app, false).await)
}

/// `/subgraph`: the federation view for a router (Apollo Federation 2), with
/// the same credentials, purpose headers, audit and cache policy as `/graphql`.
#[handler]
async fn subgraph_handler(req: &Request, body: poem::Body, app: Data<&Arc<App>>) -> Response {
    no_store(answer(req, body, &app, true).await)
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn answer(req: &Request, body: poem::Body, app: &App, federated: bool) -> Response {
    let (request_id, client_request_id) = req
        .extensions()
        .get::<RequestId>()
        .map(|r| (r.hub.clone(), r.client.clone()))
        .unwrap_or_default();
    app.metrics.graphql_requests.fetch_add(1, Ordering::Relaxed);
    let media = graphql::wants_graphql_response(req);
    let refused = |e: HubError| {
        app.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
        refusal(&e, &request_id, media)
    };
    // Who asks, from the headers alone. An agency held back for spent budget
    // (its last refusal's Retry-After still runs) is refused before its body is
    // read: ignoring Retry-After costs the hub next to nothing.
    let verified =
        (!app.hub.is_open()).then(|| app.auth.authenticate(req.headers()).map(caller_of));
    let statement = statement_of(req.headers());
    if let Some(Ok(caller)) = &verified {
        match app
            .hub
            .holding_back(
                &request_id,
                client_request_id.as_deref(),
                caller,
                statement.purpose.as_deref(),
            )
            .await
        {
            Ok(None) => {}
            Ok(Some(mut why)) => {
                // The tarpit: held a while (never past Retry-After), so a client
                // ignoring Retry-After cannot spend the hub's CPU thousands of
                // times a second. Bounded: past `tarpit_max` held, at once.
                let hold = why
                    .retry_after
                    .min(Duration::from_millis(app.config.budgets.tarpit_ms));
                if !hold.is_zero() {
                    if let Ok(_permit) = app.tarpit.clone().try_acquire_owned() {
                        tokio::time::sleep(hold).await;
                        why.retry_after = why.retry_after.saturating_sub(hold);
                    }
                }
                let secs = why.retry_after_secs();
                let mut resp = refused(HubError::from(why));
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
                return resp;
            }
            Err(e) => return refused(e),
        }
    }
    // Persisted documents remembered for this very caller only (an open hub's
    // callers are one).
    let document_owner = match &verified {
        None => Some(String::new()),
        Some(Ok(caller)) => Some(format!("{}\u{0}{}", caller.agency, caller.officer)),
        Some(Err(_)) => None,
    };
    let request = match graphql::decode(
        req,
        body,
        app.config.limits.max_body_bytes,
        &request_id,
        &app.documents,
        document_owner.as_deref(),
    )
    .await
    {
        Decoded::Request(r) => *r,
        Decoded::Reject(resp, code) => {
            return match app
                .hub
                .refuse(&request_id, client_request_id.as_deref(), None, code)
                .await
            {
                Ok(()) => {
                    app.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
                    resp
                }
                Err(e) => refused(e),
            };
        }
    };
    let caller = match verified {
        None => None,
        Some(verified) => match verified {
            Ok(caller) => Some(caller),
            Err(e) => {
                tracing::info!(code = %e.code(), "request rejected");
                let error = HubError::new(e.code(), e.to_string());
                return match app
                    .hub
                    .refuse(
                        &request_id,
                        client_request_id.as_deref(),
                        Some(&request),
                        error.code,
                    )
                    .await
                {
                    Ok(()) => refused(error),
                    Err(audit_error) => refused(audit_error),
                };
            }
        },
    };
    // Lists saved before this request are in force for it (revocations included).
    app.refresh_policies().await;
    let call = Call {
        request_id: request_id.clone(),
        client_request_id,
        caller,
        statement,
        request,
    };
    let handled = if federated {
        app.hub.handle_subgraph(call).await
    } else {
        app.hub.handle(call).await
    };
    match handled {
        Ok(response) => {
            if !response.errors.is_empty() {
                app.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
            }
            graphql::encode(response, &request_id, media)
        }
        Err(e) => refused(e),
    }
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(app: Data<&Arc<App>>) -> Response {
    let neo4j = tokio::time::timeout(Duration::from_secs(3), app.store.ping())
        .await
        .unwrap_or(false);
    // Without a writable audit log no data may be released: not ready either.
    let audit = app.hub.audit().ready();
    let up = |ok: bool| if ok { "up" } else { "down" };
    let (status, word) = if neo4j && audit {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    };
    let body = serde_json::json!({"status": word, "neo4j": up(neo4j), "audit": up(audit)});
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// Whether `req` may read `/metrics`: with `server.metrics_token` set, it must
/// carry it as a bearer token; without one, only loopback connections may.
fn may_read_metrics(req: &Request, token: &str) -> bool {
    if token.is_empty() {
        return req
            .remote_addr()
            .as_socket_addr()
            .is_some_and(|a| a.ip().is_loopback());
    }
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared as digests, so the time taken says nothing about the token.
    use sha2::Digest as _;
    sha2::Sha256::digest(sent.as_bytes()) == sha2::Sha256::digest(token.as_bytes())
}

#[handler]
fn metrics(req: &Request, app: Data<&Arc<App>>) -> Response {
    if !may_read_metrics(req, &app.config.server.metrics_token) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")
            .body("metrics need the scraper's bearer token");
    }
    let m = &app.metrics;
    let body = format!(
        "# HELP mandate_graphql_requests_total GraphQL requests received.\n\
         # TYPE mandate_graphql_requests_total counter\n\
         mandate_graphql_requests_total {}\n\
         # HELP mandate_graphql_error_responses_total GraphQL responses carrying errors.\n\
         # TYPE mandate_graphql_error_responses_total counter\n\
         mandate_graphql_error_responses_total {}\n\
         # HELP mandate_cypher_queries_total Cypher queries sent to Neo4j.\n\
         # TYPE mandate_cypher_queries_total counter\n\
         mandate_cypher_queries_total {}\n\
         # HELP mandate_audit_statements_total Statements sent to the audit log (batched records).\n\
         # TYPE mandate_audit_statements_total counter\n\
         mandate_audit_statements_total {}\n\
         # HELP mandate_audit_unshipped_records Audit records journaled but not yet in Neo4j.\n\
         # TYPE mandate_audit_unshipped_records gauge\n\
         mandate_audit_unshipped_records {}\n\
         # HELP mandate_audit_unrecorded_refusals_total Refusals of unauthenticated requests counted but not recorded (sampled).\n\
         # TYPE mandate_audit_unrecorded_refusals_total counter\n\
         mandate_audit_unrecorded_refusals_total {}\n\
         # HELP mandate_agency_plans_cached Compiled per-agency plans in the cache.\n\
         # TYPE mandate_agency_plans_cached gauge\n\
         mandate_agency_plans_cached {}\n\
         # HELP mandate_policy_reads_total Times the responsibility lists were read again (saved, on the interval or SIGHUP).\n\
         # TYPE mandate_policy_reads_total counter\n\
         mandate_policy_reads_total {}\n\
         # HELP mandate_policy_reloads_total Changed responsibility lists put in force.\n\
         # TYPE mandate_policy_reloads_total counter\n\
         mandate_policy_reloads_total {}\n\
         # HELP mandate_policy_reload_failures_total Changed responsibility lists that did not load.\n\
         # TYPE mandate_policy_reload_failures_total counter\n\
         mandate_policy_reload_failures_total {}\n\
         # HELP mandate_sharing_applications_overdue Sharing applications past a deadline they have not met.\n\
         # TYPE mandate_sharing_applications_overdue gauge\n\
         mandate_sharing_applications_overdue {}\n\
         # HELP mandate_break_glass_reviews_overdue Break-glass grants whose after-review is past due.\n\
         # TYPE mandate_break_glass_reviews_overdue gauge\n\
         mandate_break_glass_reviews_overdue {}\n\
         # HELP mandate_policy_publish_to_effect_ms Milliseconds from the last version's publication to its being in force here.\n\
         # TYPE mandate_policy_publish_to_effect_ms gauge\n\
         mandate_policy_publish_to_effect_ms {}\n\
         # HELP mandate_connections_refused_total Connections closed as accepted: past server.max_connections or server.max_connections_per_ip.\n\
         # TYPE mandate_connections_refused_total counter\n\
         mandate_connections_refused_total {}\n\
         # HELP mandate_policy_version_info The responsibility lists in force.\n\
         # TYPE mandate_policy_version_info gauge\n\
         mandate_policy_version_info{{version=\"{}\"}} 1\n",
        m.graphql_requests.load(Ordering::Relaxed),
        m.graphql_errors.load(Ordering::Relaxed),
        app.store.queries_sent(),
        app.audit_store.queries_sent(),
        app.hub.audit().unshipped(),
        app.hub.unrecorded_refusals(),
        app.hub.plans_cached(),
        m.policy_reads.load(Ordering::Relaxed),
        m.policy_reloads.load(Ordering::Relaxed),
        m.policy_reload_failures.load(Ordering::Relaxed),
        m.applications_overdue.load(Ordering::Relaxed),
        m.reviews_overdue.load(Ordering::Relaxed),
        m.publish_to_effect_ms.load(Ordering::Relaxed),
        m.connections_refused.load(Ordering::Relaxed),
        app.hub.policies().version(),
    );
    let mut body = body;
    let stats = app.subgraphs.stats();
    if !stats.is_empty() {
        body.push_str(
            "# HELP mandate_subgraph_calls_total _entities calls to departmental subgraphs, by outcome.\n\
             # TYPE mandate_subgraph_calls_total counter\n",
        );
        for s in &stats {
            for (outcome, n) in &s.calls {
                body.push_str(&format!(
                    "mandate_subgraph_calls_total{{subgraph=\"{}\",outcome=\"{outcome}\"}} {n}\n",
                    s.name
                ));
            }
        }
        body.push_str(
            "# HELP mandate_subgraph_circuit_open 1 while a subgraph's circuit breaker refuses calls.\n\
             # TYPE mandate_subgraph_circuit_open gauge\n",
        );
        for s in &stats {
            body.push_str(&format!(
                "mandate_subgraph_circuit_open{{subgraph=\"{}\"}} {}\n",
                s.name,
                u8::from(s.circuit_open)
            ));
        }
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(body)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::lists_stamp;

    /// A scratch copy of the checked-in policies folder.
    fn scratch(name: &str) -> std::path::PathBuf {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let to = std::env::temp_dir().join(format!("mandate-stamp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&to);
        std::fs::create_dir_all(to.join("lists")).unwrap();
        std::fs::copy(from.join("model.conf"), to.join("model.conf")).unwrap();
        for entry in std::fs::read_dir(from.join("lists")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, to.join("lists").join(path.file_name().unwrap())).unwrap();
        }
        to
    }

    #[test]
    fn a_saved_list_changes_the_stamp_and_checking_costs_microseconds() {
        let dir = scratch("saves");
        let seen = lists_stamp(&dir, None);
        assert_eq!(
            seen,
            lists_stamp(&dir, Some(&seen)),
            "nothing saved, nothing changed"
        );
        assert!(seen.0.len() > 5, "{seen:?}");

        // What a request pays when nothing changed: the stamp and a comparison.
        let runs: u32 = 2_000;
        let started = Instant::now();
        for _ in 0..runs {
            assert!(std::hint::black_box(lists_stamp(&dir, Some(&seen)) == seen));
        }
        let each = started.elapsed() / runs;
        println!(
            "policy check per request: {:.1} µs ({} files, {runs} runs)",
            each.as_secs_f64() * 1e6,
            seen.0.len()
        );
        assert!(each < Duration::from_millis(1), "{each:?}");

        // A revocation saved in place (a line fewer) is seen at once.
        let list = dir.join("lists/civil-affairs.csv");
        let text = std::fs::read_to_string(&list).unwrap();
        let revoked: Vec<&str> = text.lines().filter(|l| !l.contains("idNumber")).collect();
        std::fs::write(&list, revoked.join("\n")).unwrap();
        let after = lists_stamp(&dir, Some(&seen));
        assert_ne!(after, seen);
        // So is a save through a new file renamed over the old (editors, ConfigMaps)…
        let tmp = dir.join("lists/.civil-affairs.tmp");
        std::fs::write(&tmp, revoked.join("\n")).unwrap();
        std::fs::rename(&tmp, &list).unwrap();
        let renamed = lists_stamp(&dir, Some(&after));
        assert_ne!(renamed, after);
        // …a list added, and one removed.
        std::fs::write(dir.join("lists/extra.csv"), "").unwrap();
        let added = lists_stamp(&dir, Some(&renamed));
        assert_ne!(added, renamed);
        assert_eq!(added.0.len(), renamed.0.len() + 1, "{added:?}");
        std::fs::remove_file(dir.join("lists/extra.csv")).unwrap();
        let removed = lists_stamp(&dir, Some(&added));
        assert_ne!(removed, added);
        assert_eq!(removed, lists_stamp(&dir, None));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
