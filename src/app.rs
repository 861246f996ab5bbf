//! The HTTP application: routes, shared state, request ids and access logs.
//!
//! ```text
//! POST|GET /graphql         GraphQL over HTTP
//! GET      /graphiql        GraphiQL (assets embedded in the binary)
//! GET      /healthz         the process is up
//! GET      /readyz          Neo4j answers and the audit log takes records (503 otherwise)
//! GET      /metrics         Prometheus text: requests, Cypher queries
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_graphql::dynamic::Schema;
use mandate_connectors::{Neo4jSettings, Neo4jStore};
use mandate_resolvers::{AccessPlan, Engine, Limits, ShapeLimits};
use mandate_schema::Catalog;
use poem::http::{header, StatusCode};
use poem::web::Data;
use poem::{
    get, handler, Endpoint, EndpointExt, IntoResponse, Middleware, Request, Response, Route,
};
use tracing::Instrument as _;

use crate::agencies::{stated_purpose, AgencyApis};
use crate::assets;
use crate::auth::{Authenticator, Principal};
use crate::config::Config;
use crate::graphql::{self, Decoded};
use mandate_connectors::audit::AuditWriter;
use mandate_connectors::journal::{AuditJournal, JournalSettings};
use mandate_policies::Policies;
use mandate_resolvers::audit::{AuditRecord, AuditSink, Disclosure};
use mandate_resolvers::{Code, HubError};
use sha2::{Digest, Sha256};

/// Counters exposed at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// GraphQL requests received.
    pub graphql_requests: AtomicU64,
    /// GraphQL responses that carried errors.
    pub graphql_errors: AtomicU64,
    /// Changed lists put in force.
    pub policy_reloads: AtomicU64,
    /// Changed lists that did not load (the lists in force stayed).
    pub policy_reload_failures: AtomicU64,
}

/// Everything the handlers share.
pub struct Hub {
    /// Configuration in force.
    pub config: Config,
    /// The data model.
    pub catalog: Arc<Catalog>,
    /// The Neo4j store.
    pub store: Neo4jStore,
    /// What every agency's schema shares.
    pub engine: Arc<Engine>,
    /// The schema of the unrestricted plan: served to everyone only with
    /// `auth.open` (development), and printed by `mandate sdl`.
    pub schema: Schema,
    /// Verifies credentials.
    pub auth: Authenticator,
    /// The responsibility lists in force; swapped whole when they change on disk.
    policies: ArcSwap<Policies>,
    /// Compiled per-agency APIs.
    pub agencies: AgencyApis,
    /// Where every request's audit record goes.
    pub audit: Arc<dyn AuditSink>,
    /// The audit log's own store (for metrics).
    pub audit_store: Neo4jStore,
    /// Counters.
    pub metrics: Metrics,
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
    #[error("generated GraphQL schema is invalid: {0}")]
    Graphql(String),
    /// Credentials configuration is wrong.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthConfigError),
    /// The responsibility lists do not load.
    #[error(transparent)]
    Policies(#[from] mandate_policies::PolicyError),
    /// The audit journal cannot be opened or is damaged.
    #[error(transparent)]
    Journal(#[from] mandate_connectors::journal::JournalError),
}

impl Hub {
    /// Assembles the hub: loads credentials and responsibility lists. Does not
    /// contact Neo4j.
    ///
    /// # Errors
    /// See [`HubBuildError`].
    pub async fn new(config: Config) -> Result<Arc<Hub>, HubBuildError> {
        Self::build(config, None).await
    }

    /// [`Hub::new`] with another audit sink in place of the Neo4j writer — for
    /// measuring what the audit write costs (the benchmark harness), never for
    /// serving: the server binary always builds the hub with [`Hub::new`].
    ///
    /// # Errors
    /// See [`HubBuildError`].
    pub async fn with_audit_sink(
        config: Config,
        sink: Arc<dyn AuditSink>,
    ) -> Result<Arc<Hub>, HubBuildError> {
        Self::build(config, Some(sink)).await
    }

    async fn build(
        config: Config,
        sink: Option<Arc<dyn AuditSink>>,
    ) -> Result<Arc<Hub>, HubBuildError> {
        let catalog = Arc::new(mandate_schema::hub_catalog()?);
        let store = Neo4jStore::new(&neo4j_settings(&config))?;
        let cursors = if config.cursors.secret.is_empty() {
            mandate_resolvers::cursor::CursorKey::random()
        } else {
            mandate_resolvers::cursor::CursorKey::from_secret(config.cursors.secret.as_bytes())
        };
        let engine = Arc::new(Engine {
            catalog: catalog.clone(),
            limits: Limits {
                default_page_size: config.limits.default_page_size,
                max_page_size: config.limits.max_page_size,
                max_in_values: config.limits.max_in_values,
                ..Limits::default()
            },
            shape: ShapeLimits {
                max_depth: config.limits.max_depth,
                max_complexity: config.limits.max_complexity,
                ..ShapeLimits::default()
            },
            cursors,
            store: Arc::new(store.clone()),
        });
        let plan = Arc::new(AccessPlan::allow_all(&catalog));
        let schema = mandate_resolvers::build_schema(engine.clone(), plan)
            .map_err(|e| HubBuildError::Graphql(e.to_string()))?;
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
        let policies =
            ArcSwap::from_pointee(Policies::load(Path::new(&config.policies.dir), &catalog).await?);
        let policies_loaded = policies.load();
        if config.auth.open {
            tracing::warn!("auth.open is set: every request is served unrestricted, without credentials or audit of a mandate; development only");
        }
        tracing::info!(policy.version = %policies_loaded.version(), agencies = policies_loaded.agencies().len(), "responsibility lists loaded");
        drop(policies_loaded);
        let agencies = AgencyApis::new(
            Duration::from_secs(config.policies.plan_ttl_secs),
            1024,
            Some(config.policies.today.clone()).filter(|t| !t.is_empty()),
        );
        Ok(Arc::new(Hub {
            config,
            catalog,
            store,
            engine,
            schema,
            auth,
            policies,
            agencies,
            audit,
            audit_store,
            metrics: Metrics::default(),
        }))
    }

    /// The routes, with request ids and access logging.
    pub fn endpoint(self: &Arc<Self>) -> impl Endpoint {
        let mut route = Route::new()
            .at("/graphql", get(graphql_handler).post(graphql_handler))
            .at("/healthz", get(healthz))
            .at("/readyz", get(readyz))
            .at("/metrics", get(metrics));
        if self.config.server.graphiql {
            route = route
                .at("/graphiql", get(assets::graphiql_index))
                .at("/graphiql/assets/:file", get(assets::graphiql_asset));
        }
        route.data(self.clone()).with(RequestIds)
    }
}

impl Hub {
    /// The responsibility lists in force.
    pub fn policies(&self) -> Arc<Policies> {
        self.policies.load_full()
    }

    /// Reads the lists again and, if they changed and load, puts them in force
    /// and drops the plans compiled from the old ones. Returns the new version,
    /// or `None` when nothing changed.
    ///
    /// # Errors
    /// [`PolicyError`](mandate_policies::PolicyError) naming the file and line;
    /// the lists in force stay.
    pub async fn reload_policies(&self) -> Result<Option<String>, mandate_policies::PolicyError> {
        let loaded = Policies::load(Path::new(&self.config.policies.dir), &self.catalog).await;
        let next = match loaded {
            Ok(next) => next,
            Err(e) => {
                self.metrics
                    .policy_reload_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, policy.version = %self.policies.load().version(), "changed responsibility lists do not load; the lists in force stay");
                return Err(e);
            }
        };
        let previous = self.policies.load();
        if next.version() == previous.version() {
            return Ok(None);
        }
        let version = next.version().to_string();
        tracing::info!(policy.version = %version, policy.previous = %previous.version(), agencies = next.agencies().len(), "responsibility lists reloaded");
        drop(previous);
        self.policies.store(Arc::new(next));
        self.agencies.clear();
        self.metrics.policy_reloads.fetch_add(1, Ordering::Relaxed);
        Ok(Some(version))
    }
}

/// Reloads the lists every `policies.reload_secs` and on SIGHUP, while the hub lives.
pub(crate) async fn watch_policies(hub: std::sync::Weak<Hub>) {
    let every = match hub.upgrade() {
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

/// The request id of the current request (set by [`RequestIds`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Assigns each request an id (or keeps a sane incoming `x-request-id`), runs it in
/// a span, logs its outcome, and returns the id in `x-request-id`.
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
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        req.extensions_mut().insert(RequestId(id.clone()));
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let span = tracing::info_span!("request", request_id = %id, http.method = %method, http.path = %path);
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

/// Who asked, for what: attached to every request the schema executes.
#[derive(Debug, Clone)]
pub struct Asker {
    /// The verified principal.
    pub principal: Principal,
    /// Stated purpose.
    pub purpose: String,
    /// Stated case number.
    pub case: String,
}

fn status_of(code: Code) -> StatusCode {
    match code {
        Code::Unauthenticated | Code::TokenExpired => StatusCode::UNAUTHORIZED,
        Code::PurposeNotAllowed | Code::AgencyMismatch => StatusCode::FORBIDDEN,
        Code::Neo4jUnavailable | Code::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Authenticates, checks the stated purpose, and picks the agency's schema.
async fn admit(
    hub: &Hub,
    req: &Request,
    request: &async_graphql::Request,
) -> Result<(Schema, Asker), HubError> {
    let principal = hub.auth.authenticate(req.headers()).map_err(|e| {
        tracing::info!(code = %e.code(), "request rejected");
        HubError::new(e.code(), e.to_string())
    })?;
    if let Some(claimed) = req.headers().get("x-mandate-agency") {
        if claimed.to_str().ok() != Some(principal.agency.as_str()) {
            return Err(HubError::new(
                Code::AgencyMismatch,
                "x-mandate-agency names another agency than your credential",
            ));
        }
    }
    let stated = stated_purpose(req.headers(), &request.extensions.0)?;
    let policies = hub.policies();
    if !policies.names_purpose(&principal.agency, &stated.purpose) {
        return Err(HubError::new(
            Code::PurposeNotAllowed,
            "this purpose is not in your agency's responsibility list",
        ));
    }
    let api = hub
        .agencies
        .get(
            &policies,
            &hub.engine,
            &hub.store,
            &principal.agency,
            &principal.roles,
            &stated.purpose,
        )
        .await?;
    Ok((
        api.schema.clone(),
        Asker {
            principal,
            purpose: stated.purpose,
            case: stated.case,
        },
    ))
}

/// What the audit record says of a request before the chain fields are filled.
struct Outcome<'a> {
    request_id: &'a str,
    asker: Option<&'a Asker>,
    operation: String,
    decision: &'static str,
    code: Option<Code>,
    disclosure: Option<&'a Disclosure>,
}

fn record_of(o: Outcome<'_>) -> AuditRecord {
    let dash = || "-".to_string();
    AuditRecord {
        chain: String::new(),
        seq: 0,
        time: now_rfc3339(),
        request_id: o.request_id.to_string(),
        agency: o.asker.map_or_else(dash, |a| a.principal.agency.clone()),
        officer: o.asker.map_or_else(dash, |a| a.principal.officer.clone()),
        purpose: o.asker.map_or_else(dash, |a| a.purpose.clone()),
        case_number: o.asker.map_or_else(dash, |a| a.case.clone()),
        operation: o.operation,
        decision: o.decision.to_string(),
        code: o.code.map(|c| c.as_str().to_string()).unwrap_or_default(),
        fields: o.disclosure.map(Disclosure::fields).unwrap_or_default(),
        residents: o.disclosure.map(Disclosure::subjects).unwrap_or_default(),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let date = crate::agencies::civil_date(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        now.subsec_millis()
    )
}

fn operation_hash(request: &async_graphql::Request) -> String {
    let mut h = Sha256::new();
    h.update(request.query.as_bytes());
    h.update([0]);
    h.update(request.operation_name.as_deref().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(&request.variables).unwrap_or_default());
    Sha256::digest(h.finalize())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether an answer holds no values: only nulls, empty lists and objects of those.
fn discloses_nothing(v: &async_graphql::Value) -> bool {
    use async_graphql::Value as V;
    match v {
        V::Null => true,
        V::List(items) => items.iter().all(discloses_nothing),
        V::Object(map) => map.values().all(discloses_nothing),
        _ => false,
    }
}

/// Writes the record; on failure the caller must not return data.
async fn audit(hub: &Hub, outcome: Outcome<'_>) -> Result<(), HubError> {
    let record = record_of(outcome);
    let span = tracing::info_span!("audit.append", audit.decision = %record.decision);
    hub.audit
        .append(record)
        .instrument(span)
        .await
        .map_err(|e| {
            tracing::error!(detail = %e, "audit record not written; withholding the answer");
            HubError::new(
                Code::AuditUnavailable,
                "the audit log is unavailable; no data is returned",
            )
        })
}

#[handler]
async fn graphql_handler(req: &Request, body: poem::Body, hub: Data<&Arc<Hub>>) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    hub.metrics.graphql_requests.fetch_add(1, Ordering::Relaxed);
    let media = graphql::wants_graphql_response(req);
    let reject = |e: HubError| {
        graphql::error_response(status_of(e.code), e.code, &e.message, &request_id, media)
    };
    let request =
        match graphql::decode(req, body, hub.config.limits.max_body_bytes, &request_id).await {
            Decoded::Request(r) => *r,
            Decoded::Reject(resp, code) => {
                hub.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
                let outcome = Outcome {
                    request_id: &request_id,
                    asker: None,
                    operation: String::new(),
                    decision: "rejected",
                    code: Some(code),
                    disclosure: None,
                };
                return match audit(&hub, outcome).await {
                    Ok(()) => resp,
                    Err(e) => reject(e),
                };
            }
        };
    let operation = operation_hash(&request);
    let admitted = if hub.config.auth.open {
        Ok((hub.schema.clone(), None))
    } else {
        admit(&hub, req, &request).await.map(|(s, a)| (s, Some(a)))
    };
    let (schema, asker) = match admitted {
        Ok(x) => x,
        Err(e) => {
            hub.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
            let outcome = Outcome {
                request_id: &request_id,
                asker: None,
                operation,
                decision: "rejected",
                code: Some(e.code),
                disclosure: None,
            };
            return match audit(&hub, outcome).await {
                Ok(()) => reject(e),
                Err(audit_error) => reject(audit_error),
            };
        }
    };
    let disclosure = Arc::new(Disclosure::default());
    let mut request = request
        .data(RequestId(request_id.clone()))
        .data(disclosure.clone())
        .data(hub.audit.clone());
    if let Some(asker) = &asker {
        request = request.data(asker.clone());
    }
    let response = schema.execute(request).await;
    let first_code = response.errors.iter().find_map(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(s) => Code::ALL.into_iter().find(|k| k.as_str() == s),
                _ => None,
            })
    });
    let decision = match (
        response.errors.is_empty(),
        response.data == async_graphql::Value::Null,
    ) {
        (true, _) if disclosure.masked() => "masked",
        (true, _) => "allowed",
        (false, true) => "denied",
        (false, false) => "partial",
    };
    if !response.errors.is_empty() {
        hub.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    }
    let outcome = Outcome {
        request_id: &request_id,
        asker: asker.as_ref(),
        operation,
        decision,
        code: first_code.or(if response.errors.is_empty() {
            None
        } else {
            Some(Code::InternalError)
        }),
        disclosure: Some(&disclosure),
    };
    if let Err(e) = audit(&hub, outcome).await {
        // Fail closed: nothing leaves without a record. An answer that carries no
        // data at all (only errors and nulls) may still go out, so the client sees
        // the real cause (e.g. NEO4J_UNAVAILABLE when the whole database is down).
        if !discloses_nothing(&response.data) {
            return reject(e);
        }
    }
    graphql::encode(response, &request_id, media)
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(hub: Data<&Arc<Hub>>) -> Response {
    let neo4j = tokio::time::timeout(Duration::from_secs(3), hub.store.ping())
        .await
        .unwrap_or(false);
    // Without a writable audit log no data may be released: not ready either.
    let audit = hub.audit.ready();
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

#[handler]
fn metrics(hub: Data<&Arc<Hub>>) -> Response {
    let m = &hub.metrics;
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
         # HELP mandate_agency_plans_cached Compiled per-agency plans in the cache.\n\
         # TYPE mandate_agency_plans_cached gauge\n\
         mandate_agency_plans_cached {}\n\
         # HELP mandate_policy_reloads_total Changed responsibility lists put in force.\n\
         # TYPE mandate_policy_reloads_total counter\n\
         mandate_policy_reloads_total {}\n\
         # HELP mandate_policy_reload_failures_total Changed responsibility lists that did not load.\n\
         # TYPE mandate_policy_reload_failures_total counter\n\
         mandate_policy_reload_failures_total {}\n\
         # HELP mandate_policy_version_info The responsibility lists in force.\n\
         # TYPE mandate_policy_version_info gauge\n\
         mandate_policy_version_info{{version=\"{}\"}} 1\n",
        m.graphql_requests.load(Ordering::Relaxed),
        m.graphql_errors.load(Ordering::Relaxed),
        hub.store.queries_sent(),
        hub.audit_store.queries_sent(),
        hub.audit.unshipped(),
        hub.agencies.len(),
        m.policy_reloads.load(Ordering::Relaxed),
        m.policy_reload_failures.load(Ordering::Relaxed),
        hub.policies.load().version(),
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(body)
}
