//! The HTTP application: routes, shared state, request ids and access logs.
//!
//! ```text
//! POST|GET /graphql         GraphQL over HTTP
//! GET      /graphiql        GraphiQL (assets embedded in the binary)
//! GET      /healthz         the process is up
//! GET      /readyz          Neo4j answers (503 otherwise)
//! GET      /metrics         Prometheus text: requests, Cypher queries
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
use mandate_policies::Policies;
use mandate_resolvers::{Code, HubError};

/// Counters exposed at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// GraphQL requests received.
    pub graphql_requests: AtomicU64,
    /// GraphQL responses that carried errors.
    pub graphql_errors: AtomicU64,
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
    /// The responsibility lists.
    pub policies: Arc<Policies>,
    /// Compiled per-agency APIs.
    pub agencies: AgencyApis,
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
}

impl Hub {
    /// Assembles the hub: loads credentials and responsibility lists. Does not
    /// contact Neo4j.
    ///
    /// # Errors
    /// See [`HubBuildError`].
    pub async fn new(config: Config) -> Result<Arc<Hub>, HubBuildError> {
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
        let auth = Authenticator::load(&config.auth)?;
        let policies =
            Arc::new(Policies::load(std::path::Path::new(&config.policies.dir), &catalog).await?);
        if config.auth.open {
            tracing::warn!("auth.open is set: every request is served unrestricted, without credentials or audit of a mandate; development only");
        }
        tracing::info!(policy.version = %policies.version(), agencies = policies.agencies().len(), "responsibility lists loaded");
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
    if !hub
        .policies
        .purposes(&principal.agency)
        .contains(&stated.purpose)
    {
        return Err(HubError::new(
            Code::PurposeNotAllowed,
            "this purpose is not in your agency's responsibility list",
        ));
    }
    let api = hub
        .agencies
        .get(
            &hub.policies,
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

#[handler]
async fn graphql_handler(req: &Request, body: poem::Body, hub: Data<&Arc<Hub>>) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    hub.metrics.graphql_requests.fetch_add(1, Ordering::Relaxed);
    let media = graphql::wants_graphql_response(req);
    let request =
        match graphql::decode(req, body, hub.config.limits.max_body_bytes, &request_id).await {
            Decoded::Request(r) => *r,
            Decoded::Reject(resp) => {
                hub.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
                return resp;
            }
        };
    let (schema, request) = if hub.config.auth.open {
        (hub.schema.clone(), request)
    } else {
        match admit(&hub, req, &request).await {
            Ok((schema, asker)) => (schema, request.data(asker)),
            Err(e) => {
                hub.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
                return graphql::error_response(
                    status_of(e.code),
                    e.code,
                    &e.message,
                    &request_id,
                    media,
                );
            }
        }
    };
    let response = schema
        .execute(request.data(RequestId(request_id.clone())))
        .await;
    if !response.errors.is_empty() {
        hub.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    }
    graphql::encode(response, &request_id, media)
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(hub: Data<&Arc<Hub>>) -> Response {
    let ready = tokio::time::timeout(Duration::from_secs(3), hub.store.ping())
        .await
        .unwrap_or(false);
    let (status, body) = if ready {
        (
            StatusCode::OK,
            serde_json::json!({"status": "ready", "neo4j": "up"}),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "not ready", "neo4j": "down"}),
        )
    };
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
         mandate_cypher_queries_total {}\n",
        m.graphql_requests.load(Ordering::Relaxed),
        m.graphql_errors.load(Ordering::Relaxed),
        hub.store.queries_sent(),
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(body)
}
