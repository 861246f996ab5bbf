//! The policy officers' endpoints: `/admin/graphql` (the admin API of
//! `mandate-governance`) and the console's sessions under `/console/session`.
//!
//! An officer is authenticated like any caller (API key or JWT) and must carry
//! an officer role. Machine clients send their credential with every request;
//! the console exchanges it once for a session: an HttpOnly, SameSite=Strict
//! cookie sealed with XChaCha20-Poly1305 (officer, roles, expiry, CSRF token),
//! so any instance sharing `admin.session_secret` accepts it without a session
//! table. Every request under a session must echo the session's CSRF token in
//! `X-CSRF-Token`. Signing out revokes the session's id in Neo4j until it would
//! have expired (`ConsoleRevocation`), so every instance refuses a copy of the
//! cookie from then on. In development mode (HS256 demo tokens on) the console may
//! sign in as one of the demo officers.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use futures::future::BoxFuture;
use mandate_audit::AuditRecord;
use mandate_governance::api::{
    self, AdminSchema, AuditFilter, DayCount, Extras, InForce, RequestId as AdminRequestId,
};
use mandate_governance::{AdminError, Governance, Officer};
use mandate_resolvers::Code;
use poem::http::{header, HeaderMap, HeaderValue, StatusCode};
use poem::web::Data;
use poem::{handler, Body, Request, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::{App, RequestId};

/// The cookie holding a console session.
pub const SESSION_COOKIE: &str = "mandate_console";

/// The header a console request echoes the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a refused caller of the admin API or the console's sign-in may
/// authenticate (`WWW-Authenticate` of a 401).
const CHALLENGE: &str =
    r#"Bearer realm="mandate-admin", ApiKey realm="mandate-admin", header="x-api-key""#;

/// A demo officer of development mode.
#[derive(Debug, Clone, Serialize)]
pub struct DemoOfficer {
    /// Id.
    pub officer: &'static str,
    /// Agency.
    pub agency: &'static str,
    /// Roles.
    pub roles: &'static [&'static str],
    /// What the sign-in page shows.
    pub label: &'static str,
}

/// The demo officers (development mode only).
pub const DEMO_OFFICERS: [DemoOfficer; 7] = [
    DemoOfficer {
        officer: "civil-editor",
        agency: "D-CIVIL_AFFAIRS",
        roles: &["policy_editor"],
        label: "民政局 政策编辑 Civil affairs policy editor",
    },
    DemoOfficer {
        officer: "civil-approver",
        agency: "D-CIVIL_AFFAIRS",
        roles: &["policy_approver"],
        label: "民政局 审批人 Civil affairs approver",
    },
    DemoOfficer {
        officer: "health-editor",
        agency: "D-HEALTH",
        roles: &["policy_editor"],
        label: "卫健委 政策编辑 Health policy editor",
    },
    DemoOfficer {
        officer: "ps-steward",
        agency: "D-PUBLIC_SECURITY",
        roles: &["data_steward"],
        label: "公安局 数据管理员 Public security data steward",
    },
    DemoOfficer {
        officer: "bureau-admin",
        agency: "D-DATA_BUREAU",
        roles: &["platform_admin", "auditor"],
        label: "大数据局 平台管理员 Data bureau platform admin",
    },
    DemoOfficer {
        officer: "auditor",
        agency: "D-DATA_BUREAU",
        roles: &["auditor"],
        label: "大数据局 审计员 Data bureau auditor",
    },
    DemoOfficer {
        officer: "resident-service",
        agency: "D-DATA_BUREAU",
        roles: &["resident_service"],
        label: "大数据局 居民服务 Resident service",
    },
];

/// What a session cookie seals.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    officer: Officer,
    /// Unix seconds.
    exp: u64,
    csrf: String,
    /// The session's own random id: what signing out revokes. Cookies sealed
    /// before sessions had one open with it empty, and are refused.
    #[serde(default)]
    sid: String,
}

/// The constraint behind the revocation lookup (one per session id).
const REVOCATIONS_DDL: &str = "CREATE CONSTRAINT console_revocation_sid IF NOT EXISTS \
     FOR (r:ConsoleRevocation) REQUIRE r.sid IS UNIQUE";

/// Writes one revocation, kept until the session would have expired, and drops
/// the revocations of sessions that expired by now.
const REVOKE: &str = "MERGE (r:ConsoleRevocation {sid: $sid}) SET r.exp = $exp \
     WITH 1 AS one OPTIONAL MATCH (old:ConsoleRevocation) WHERE old.exp <= $now DELETE old";

/// Whether a session id was revoked (by any instance).
const IS_REVOKED: &str = "MATCH (r:ConsoleRevocation {sid: $sid}) RETURN r.exp AS exp";

/// The admin side of the hub.
pub struct Admin {
    gov: Arc<Governance>,
    schema: AdminSchema,
    cipher: XChaCha20Poly1305,
    session_secs: u64,
    demo: bool,
    /// The session cookie's attributes (`Secure` when served over HTTPS).
    cookie_attributes: &'static str,
    /// Where revocations are shared with the other instances (the policy store).
    store: mandate_connectors::Neo4jStore,
    /// Session ids this instance saw revoked, with their expiry (unix seconds).
    revoked: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Admin {
    /// The admin side over `gov`; `secret` seals sessions (random if empty);
    /// revocations of sessions are shared through `store`; `secure` marks the
    /// session cookie `Secure`.
    pub fn new(
        gov: Arc<Governance>,
        store: mandate_connectors::Neo4jStore,
        secret: &str,
        session_minutes: u32,
        demo: bool,
        secure: bool,
    ) -> Self {
        let key: [u8; 32] = if secret.is_empty() {
            rand::random()
        } else {
            Sha256::digest(format!("mandate console session\0{secret}").as_bytes()).into()
        };
        Admin {
            gov,
            schema: api::schema(),
            cipher: XChaCha20Poly1305::new(&key.into()),
            session_secs: u64::from(session_minutes.max(1)) * 60,
            demo,
            cookie_attributes: if secure {
                "HttpOnly; Secure; SameSite=Strict; Path=/"
            } else {
                "HttpOnly; SameSite=Strict; Path=/"
            },
            store,
            revoked: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Remembers `sid` as revoked here, forgetting revocations that expired.
    fn remember_revoked(&self, sid: &str, exp: u64) {
        let now = unix_now();
        let mut revoked = self
            .revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        revoked.retain(|_, e| *e > now);
        revoked.insert(sid.to_string(), exp);
    }

    /// Revokes the session `sid` (expiring at `exp`) on this instance at once
    /// and, through Neo4j, on every instance sharing the store.
    ///
    /// # Errors
    /// If the revocation could not be written to Neo4j (this instance refuses
    /// the session all the same).
    async fn revoke(&self, sid: &str, exp: u64) -> Result<(), mandate_resolvers::StoreError> {
        self.remember_revoked(sid, exp);
        let mut params = serde_json::Map::new();
        params.insert("sid".into(), sid.into());
        params.insert("exp".into(), exp.into());
        params.insert("now".into(), unix_now().into());
        self.store.execute(REVOKE, params).await
    }

    /// Whether the session `sid` was revoked, here or by another instance.
    ///
    /// # Errors
    /// If Neo4j cannot be asked (the session is then not admitted: fail closed).
    async fn is_revoked(&self, sid: &str) -> Result<bool, mandate_resolvers::StoreError> {
        let now = unix_now();
        let known = self
            .revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sid)
            .is_some_and(|exp| *exp > now);
        if known {
            return Ok(true);
        }
        let mut params = serde_json::Map::new();
        params.insert("sid".into(), sid.into());
        let rows = self.store.rows(IS_REVOKED, params).await?;
        let Some(exp) = rows.first().and_then(|r| r["exp"].as_u64()) else {
            return Ok(false);
        };
        self.remember_revoked(sid, exp);
        Ok(true)
    }

    /// The live session `cookie` opens to, or why it does not.
    async fn session_of(&self, cookie: &str) -> Result<Session, Refused> {
        let session = self
            .open(cookie)
            .filter(|s| !s.sid.is_empty())
            .ok_or_else(|| {
                Refused::anonymous(
                    Code::SessionExpired,
                    "the console session is not valid; sign in again",
                )
            })?;
        let ended = |message: &str| Refused {
            code: Code::SessionExpired,
            message: message.to_string(),
            officer: Some(session.officer.clone()),
        };
        if session.exp <= unix_now() {
            return Err(ended("the console session has expired; sign in again"));
        }
        match self.is_revoked(&session.sid).await {
            Ok(false) => Ok(session),
            Ok(true) => Err(ended("the console session was signed out; sign in again")),
            Err(error) => {
                tracing::warn!(%error, "console session revocations not read; the session is refused");
                Err(Refused {
                    code: Code::Neo4jUnavailable,
                    message: "the console session cannot be checked now; retry later".into(),
                    officer: Some(session.officer.clone()),
                })
            }
        }
    }

    /// The service.
    pub fn governance(&self) -> &Arc<Governance> {
        &self.gov
    }

    fn seal(&self, session: &Session) -> String {
        let nonce: [u8; 24] = rand::random();
        let plain = serde_json::to_vec(session).unwrap_or_default();
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_slice())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn open(&self, cookie: &str) -> Option<Session> {
        let bytes = URL_SAFE_NO_PAD.decode(cookie).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }

    fn start_session(&self, officer: Officer) -> Response {
        let csrf = hex::encode(rand::random::<[u8; 16]>());
        let exp = unix_now() + self.session_secs;
        let session = Session {
            officer: officer.clone(),
            exp,
            csrf: csrf.clone(),
            sid: hex::encode(rand::random::<[u8; 16]>()),
        };
        let cookie = format!(
            "{SESSION_COOKIE}={}; {}; Max-Age={}",
            self.seal(&session),
            self.cookie_attributes,
            self.session_secs
        );
        let expires_at =
            chrono::DateTime::<chrono::Utc>::from_timestamp(i64::try_from(exp).unwrap_or(0), 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
        let body = serde_json::json!({
            "officer": officer.officer,
            "agency": officer.agency,
            "roles": officer.roles,
            "csrf": csrf,
            "expiresAt": expires_at,
        });
        let mut resp = json_response(StatusCode::OK, &body);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        resp
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.to_string())
}

fn refusal(code: Code, message: &str) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    json_response(
        status,
        &serde_json::json!({ "code": code.as_str(), "message": message }),
    )
}

fn graphql_refusal(code: Code, message: &str, request_id: &str) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    json_response(
        status,
        &serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str(), "requestId": request_id } }] }),
    )
}

fn cookie_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
}

fn officer_of(p: mandate_auth::Principal) -> Officer {
    Officer {
        officer: p.officer,
        agency: p.agency,
        roles: p.roles.into_iter().collect(),
    }
}

/// Why a request was not admitted, and who asked when that is known (a session
/// that opened, a credential that verified).
struct Refused {
    code: Code,
    message: String,
    officer: Option<Officer>,
}

/// A sign-in's body: refused when it cannot be read, `None` when it is not a
/// sign-in's JSON.
async fn read_sign_in(body: Body) -> Result<Option<SignIn>, Refused> {
    let bytes = crate::edge::read_body(body, 16 * 1024).await.map_err(|e| {
        let (code, message) = body_refusal(e);
        Refused::anonymous(code, message)
    })?;
    Ok(serde_json::from_slice::<SignIn>(&bytes).ok())
}

/// The code and message for a body that was not read.
fn body_refusal(e: crate::edge::BodyError) -> (Code, &'static str) {
    match e {
        crate::edge::BodyError::TooLarge => (Code::PayloadTooLarge, "the body is too large"),
        crate::edge::BodyError::Late => (Code::RequestTimeout, "the body did not arrive in time"),
        crate::edge::BodyError::Unreadable => (Code::BadRequest, "the body could not be read"),
    }
}

impl Refused {
    fn anonymous(code: Code, message: &str) -> Self {
        Refused {
            code,
            message: message.to_string(),
            officer: None,
        }
    }
}

/// Who is asking the admin API: a live session (with its CSRF token) or a
/// credential.
async fn admitted(app: &App, admin: &Admin, headers: &HeaderMap) -> Result<Officer, Refused> {
    let has_credential =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key");
    if !has_credential {
        if let Some(cookie) = cookie_of(headers, SESSION_COOKIE) {
            let session = admin.session_of(cookie).await?;
            let sent = headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if sent.is_empty() || sent != session.csrf {
                return Err(Refused {
                    code: Code::CsrfRejected,
                    message: "the request lacks the session's X-CSRF-Token".into(),
                    officer: Some(session.officer),
                });
            }
            return Ok(session.officer);
        }
    }
    let principal = app
        .auth
        .authenticate(headers)
        .map_err(|e| Refused::anonymous(e.code(), &e.to_string()))?;
    let officer = officer_of(principal);
    if !officer.is_officer() {
        return Err(Refused {
            code: Code::NotAnOfficer,
            message: "the credential carries no officer role".into(),
            officer: Some(officer),
        });
    }
    Ok(officer)
}

fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.hub.clone())
        .unwrap_or_default()
}

/// `POST /admin/graphql`.
#[handler]
pub(crate) async fn admin_graphql(req: &Request, body: Body, app: Data<&Arc<App>>) -> Response {
    let request_id = request_id(req);
    let Some(admin) = app.admin.as_ref() else {
        return graphql_refusal(
            Code::NotFound,
            "the admin API is served with policies.source = \"store\"",
            &request_id,
        );
    };
    if req.method() != poem::http::Method::POST {
        let mut resp = graphql_refusal(
            Code::BadRequest,
            "the admin API takes POST with a JSON body",
            &request_id,
        );
        resp.set_status(StatusCode::METHOD_NOT_ALLOWED);
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let officer = match admitted(&app, admin, req.headers()).await {
        Ok(o) => o,
        Err(Refused {
            code,
            message,
            officer,
        }) => {
            tracing::info!(
                code = %code,
                officer = officer.as_ref().map_or("-", |o| o.officer.as_str()),
                "admin request refused"
            );
            match &officer {
                // A session that opened or a credential that verified: who asked
                // is known, and recorded (never sampled).
                Some(officer) => {
                    record_refusal(&app, &request_id, Some(officer), "admin.request", code).await;
                }
                // Nothing verified: sampled like every anonymous refusal.
                None => {
                    let _ = app.hub.refuse(&request_id, None, None, code).await;
                }
            }
            let mut resp = graphql_refusal(code, &message, &request_id);
            if resp.status() == StatusCode::UNAUTHORIZED {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
            }
            return resp;
        }
    };
    let bytes = match crate::edge::read_body(body, app.config.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => {
            let (code, message) = body_refusal(e);
            return graphql_refusal(code, message, &request_id);
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(_) => {
            return graphql_refusal(
                Code::BadRequest,
                "the body is not a JSON GraphQL request",
                &request_id,
            )
        }
    };
    let media = crate::graphql::wants_graphql_response(req);
    let encode = |response: async_graphql::Response| {
        let mut resp = crate::graphql::encode(response, &request_id, media);
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    };
    // The document's shape first, as on /graphql: its nesting before it is
    // parsed, its parse, and its aliases before anything walks it.
    if let Err(e) = admitted_shape(
        &request,
        app.config.limits.max_aliases,
        app.config.limits.max_root_fields,
    ) {
        return encode(async_graphql::Response::from_errors(vec![e]));
    }
    let request = request
        .data(admin.gov.clone())
        .data(officer)
        .data(AdminRequestId(request_id.clone()))
        .data(InForce(app.policies()))
        .data(Arc::new(HubExtras {
            app: Arc::clone(&app),
            request_id: request_id.clone(),
        }) as Arc<dyn Extras>);
    let mut response = admin.schema.execute(request).await;
    // The admin schema's own depth and complexity limits, coded as the data
    // API codes its; every other error by the edge's one policy (`encode`).
    crate::graphql::code_schema_limits(&mut response.errors);
    encode(response)
}

/// Refuses an admin document before it runs: nested deeper than the parser may
/// recurse (`QUERY_TOO_DEEP`), not parsing (`GRAPHQL_PARSE_FAILED`), or with
/// more aliases than `limits.max_aliases` (`QUERY_TOO_COMPLEX`), or lacking a
/// required variable (`GRAPHQL_VALIDATION_FAILED`).
fn admitted_shape(
    request: &async_graphql::Request,
    max_aliases: usize,
    max_root_fields: usize,
) -> Result<(), async_graphql::ServerError> {
    // Fragments expanded (memoised) within the admin schema's own complexity,
    // and root fields counted copy by copy: each is a resolver that may query
    // Neo4j and write an audit record.
    let doc = mandate_resolvers::bounded_document(
        &request.query,
        mandate_governance::api::MAX_COMPLEXITY,
        max_root_fields,
    )?;
    let aliases = crate::graphql::aliases(&doc);
    if aliases > max_aliases as u64 {
        return Err(mandate_resolvers::over_limit(
            "max_aliases",
            max_aliases,
            aliases,
        ));
    }
    match crate::graphql::missing_variable(
        &doc,
        request.operation_name.as_deref(),
        &request.variables,
    ) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
struct SignIn {
    credential: Option<String>,
    officer: Option<String>,
}

/// `POST /console/session` (a credential) and `DELETE /console/session`.
#[handler]
pub(crate) async fn session_handler(req: &Request, body: Body, app: Data<&Arc<App>>) -> Response {
    let Some(admin) = app.admin.as_ref() else {
        return refusal(
            Code::NotFound,
            "the console is served with policies.source = \"store\"",
        );
    };
    let request_id = request_id(req);
    if req.method() == poem::http::Method::DELETE {
        if !crate::edge::same_origin(req) {
            return refusal(
                Code::CsrfRejected,
                "a sign-out comes from the console's own origin",
            );
        }
        return sign_out(admin, &request_id, req.headers()).await;
    }
    match credential_officer(&app, req, body).await {
        Ok(officer) => sign_in_as(&app, admin, &request_id, officer).await,
        Err(refused) => refuse_sign_in(&app, &request_id, refused).await,
    }
}

/// The officer a `POST /console/session` names with its credential.
async fn credential_officer(app: &App, req: &Request, body: Body) -> Result<Officer, Refused> {
    let bad = || {
        Refused::anonymous(
            Code::BadRequest,
            "send {\"credential\": \"<API key or token>\"}",
        )
    };
    if req.method() != poem::http::Method::POST {
        return Err(Refused::anonymous(
            Code::BadRequest,
            "POST a credential, or DELETE to sign out",
        ));
    }
    if !crate::edge::is_json(req) {
        return Err(bad());
    }
    if !crate::edge::same_origin(req) {
        return Err(Refused::anonymous(
            Code::CsrfRejected,
            "a sign-in comes from the console's own origin",
        ));
    }
    let sign_in = read_sign_in(body).await?.ok_or_else(bad)?;
    let credential = sign_in
        .credential
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(bad)?;
    let credential = credential.trim();
    let scheme = if credential.split('.').count() == 3 {
        "Bearer"
    } else {
        "ApiKey"
    };
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("{scheme} {credential}"))
        .map_err(|_| Refused::anonymous(Code::Unauthenticated, "the credential is not readable"))?;
    headers.insert(header::AUTHORIZATION, value);
    app.auth
        .authenticate(&headers)
        .map(officer_of)
        .map_err(|e| Refused::anonymous(e.code(), &e.to_string()))
}

/// Writes the record of a refusal at the admin edge naming `officer` (or `-`
/// when nothing verified): `action` refused with `code`. A refusal goes out
/// whether or not the record could be written; a failed write is logged.
async fn record_refusal(
    app: &App,
    request_id: &str,
    officer: Option<&Officer>,
    action: &str,
    code: Code,
) {
    let mut record = AuditRecord::new(request_id, mandate_audit::Decision::Rejected);
    if let Some(officer) = officer {
        record.agency = officer.agency.clone();
        record.officer = officer.officer.clone();
    }
    record.purpose = mandate_governance::service::ADMIN_PURPOSE.to_string();
    record.action = action.to_string();
    record.target = "session".to_string();
    record.code = code.as_str().to_string();
    if let Err(error) = app.hub.audit().append(record).await {
        tracing::error!(%error, code = %code, action, "refusal at the admin edge not recorded");
    }
}

/// Refuses a console sign-in, and records it: every refused sign-in is a record
/// (`console.sign_in`, rejected), naming the officer when the credential
/// verified.
async fn refuse_sign_in(app: &App, request_id: &str, refused: Refused) -> Response {
    tracing::info!(
        code = %refused.code,
        officer = refused.officer.as_ref().map_or("-", |o| o.officer.as_str()),
        "console sign-in refused"
    );
    record_refusal(
        app,
        request_id,
        refused.officer.as_ref(),
        "console.sign_in",
        refused.code,
    )
    .await;
    let mut resp = refusal(refused.code, &refused.message);
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE),
        );
    }
    resp
}

/// Tells the browser to drop the session cookie.
fn drop_cookie(resp: &mut Response, attributes: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("{SESSION_COOKIE}=; {attributes}; Max-Age=0")) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
}

/// `DELETE /console/session`: ends the session the cookie names on every
/// instance (revoked until it would have expired) and records the sign-out.
/// Without a live session there is nothing to end; the cookie is dropped all the
/// same.
async fn sign_out(admin: &Admin, request_id: &str, headers: &HeaderMap) -> Response {
    let session = cookie_of(headers, SESSION_COOKIE)
        .and_then(|c| admin.open(c))
        .filter(|s| !s.sid.is_empty() && s.exp > unix_now());
    if let Some(session) = &session {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if sent.is_empty() || sent != session.csrf {
            return refusal(
                Code::CsrfRejected,
                "a sign-out echoes the session's X-CSRF-Token",
            );
        }
    }
    let mut resp = match session {
        None => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::CACHE_CONTROL, "no-store")
            .finish(),
        Some(session) => {
            let shared = admin.revoke(&session.sid, session.exp).await;
            let recorded = admin
                .gov
                .record_action(request_id, &session.officer, "console.sign_out", "session")
                .await;
            if let Err(error) = shared {
                tracing::error!(%error, "console sign-out not shared through Neo4j; only this instance refuses the session");
                refusal(
                    Code::Neo4jUnavailable,
                    "signed out on this instance only: the sign-out could not be shared; sign out again",
                )
            } else if recorded.is_err() {
                tracing::error!("console sign-out done but not recorded in the audit log");
                refusal(
                    Code::AuditUnavailable,
                    "signed out, but the sign-out could not be recorded",
                )
            } else {
                Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header(header::CACHE_CONTROL, "no-store")
                    .finish()
            }
        }
    };
    drop_cookie(&mut resp, admin.cookie_attributes);
    resp
}

async fn sign_in_as(app: &App, admin: &Admin, request_id: &str, officer: Officer) -> Response {
    if !officer.is_officer() {
        let refused = Refused {
            code: Code::NotAnOfficer,
            message: "the credential carries no officer role".into(),
            officer: Some(officer),
        };
        return refuse_sign_in(app, request_id, refused).await;
    }
    if admin
        .gov
        .record_action(request_id, &officer, "console.sign_in", "session")
        .await
        .is_err()
    {
        return refusal(Code::AuditUnavailable, "the sign-in could not be recorded");
    }
    admin.start_session(officer)
}

/// `GET /console/session/demo` (the demo officers) and `POST` (sign in as one);
/// development mode only.
#[handler]
pub(crate) async fn demo_session_handler(
    req: &Request,
    body: Body,
    app: Data<&Arc<App>>,
) -> Response {
    let Some(admin) = app.admin.as_ref().filter(|a| a.demo) else {
        return refusal(
            Code::NotFound,
            "demo officers exist only in development mode",
        );
    };
    if req.method() == poem::http::Method::GET {
        return json_response(
            StatusCode::OK,
            &serde_json::to_value(DEMO_OFFICERS).unwrap_or_default(),
        );
    }
    let request_id = request_id(req);
    if req.method() == poem::http::Method::POST
        && !crate::edge::local_request(req, &app.config.server.listen)
    {
        let refused = Refused::anonymous(
            Code::CsrfRejected,
            "demo sign-in answers at a loopback address or the configured listen address, from this hub's own page only",
        );
        return refuse_sign_in(&app, &request_id, refused).await;
    }
    match demo_officer(req, body).await {
        Ok(officer) => sign_in_as(&app, admin, &request_id, officer).await,
        Err(refused) => refuse_sign_in(&app, &request_id, refused).await,
    }
}

/// The demo officer a `POST /console/session/demo` names.
async fn demo_officer(req: &Request, body: Body) -> Result<Officer, Refused> {
    if req.method() != poem::http::Method::POST {
        return Err(Refused::anonymous(
            Code::BadRequest,
            "GET the demo officers, or POST {\"officer\": …} to sign in as one",
        ));
    }
    if !crate::edge::is_json(req) {
        return Err(Refused::anonymous(
            Code::BadRequest,
            "send {\"officer\": …} as application/json",
        ));
    }
    let name = read_sign_in(body).await?.and_then(|s| s.officer);
    let demo = DEMO_OFFICERS
        .iter()
        .find(|d| Some(d.officer) == name.as_deref())
        .ok_or_else(|| Refused::anonymous(Code::NotFound, "no such demo officer"))?;
    Ok(Officer {
        officer: demo.officer.to_string(),
        agency: demo.agency.to_string(),
        roles: demo.roles.iter().map(|r| (*r).to_string()).collect(),
    })
}

/// The hub's side of the admin API: audit search over the audit store, and
/// requests run through the hub under other lists (previews, impact counts).
pub(crate) struct HubExtras {
    pub(crate) app: Arc<App>,
    pub(crate) request_id: String,
}

impl Extras for HubExtras {
    fn audit_search(
        &self,
        filter: AuditFilter,
    ) -> BoxFuture<'_, Result<Vec<AuditRecord>, AdminError>> {
        Box::pin(async move {
            mandate_connectors::policy_store::audit_search(&self.app.audit_store, &filter)
                .await
                .map_err(AdminError::from)
        })
    }

    fn reads_per_day(&self, since: String) -> BoxFuture<'_, Result<Vec<DayCount>, AdminError>> {
        Box::pin(async move {
            mandate_connectors::policy_store::reads_per_day(&self.app.audit_store, &since)
                .await
                .map_err(AdminError::from)
        })
    }

    fn run_under(
        &self,
        policies: Arc<mandate_policies::Policies>,
        agency: String,
        role: String,
        purpose: String,
        officer: String,
        case: String,
        query: String,
        variables: serde_json::Value,
    ) -> BoxFuture<'_, Result<serde_json::Value, AdminError>> {
        Box::pin(async move {
            let mut request = async_graphql::Request::new(query);
            if !variables.is_null() {
                request = request.variables(async_graphql::Variables::from_json(variables));
            }
            let call = mandate_hub::Call {
                request_id: format!("{}-{}", self.request_id, uuid::Uuid::new_v4().simple()),
                client_request_id: None,
                caller: Some(mandate_hub::Caller {
                    agency,
                    officer,
                    roles: vec![role],
                    purposes: vec![purpose.clone()],
                }),
                statement: mandate_hub::Statement {
                    claimed_agency: None,
                    purpose: Some(purpose),
                    case: Some(case),
                },
                request,
            };
            match self.app.hub.handle_under(call, policies).await {
                Ok(response) => {
                    Ok(serde_json::to_value(&response).unwrap_or(serde_json::Value::Null))
                }
                Err(e) => Ok(
                    serde_json::json!({ "errors": [{ "message": e.message, "extensions": { "code": e.code.as_str() } }] }),
                ),
            }
        })
    }
}

/// Opens the policy store: creates its constraints, imports `policies.dir` as
/// version 1 if nothing was published yet, and loads the lists in force.
///
/// # Errors
/// If the store cannot be read, or the lists do not load.
pub(crate) async fn start(
    config: &crate::Config,
    catalog: &mandate_schema::Catalog,
    store: &mandate_connectors::Neo4jStore,
    audit: Arc<dyn mandate_audit::AuditSink>,
) -> Result<(mandate_policies::Policies, Admin), String> {
    use mandate_governance::store::GovStore as _;
    let dir = std::path::Path::new(&config.policies.dir);
    let model = std::fs::read_to_string(dir.join("model.conf"))
        .map_err(|e| format!("{}: {e}", dir.join("model.conf").display()))?;
    let calendar = mandate_governance::Calendar::new(
        config.admin.utc_offset_hours,
        &config.admin.holidays,
        &config.admin.workdays,
    )
    .map_err(|e| format!("admin calendar: {e}"))?;
    let settings = mandate_governance::Settings {
        acknowledge_days: config.admin.acknowledge_days,
        answer_days: config.admin.answer_days,
        break_glass_max_hours: config.admin.break_glass_max_hours.min(72),
        test_clock: config.admin.test_clock,
        ..mandate_governance::Settings::default()
    };
    store.prepare().await.map_err(|e| e.to_string())?;
    store
        .execute(REVOCATIONS_DDL, serde_json::Map::new())
        .await
        .map_err(|e| e.to_string())?;
    let gov = Arc::new(Governance::new(
        Arc::new(store.clone()),
        audit,
        catalog.clone(),
        model,
        calendar,
        settings,
    ));
    let head = store.head().await.map_err(|e| e.to_string())?;
    if head.version == 0 {
        let files = mandate_governance::service::read_lists(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let n = gov
            .bootstrap("bootstrap", files, "system:bootstrap")
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            policy.store_version = n,
            "responsibility lists imported into the policy store"
        );
    }
    let effective = gov.effective().await.map_err(|e| e.to_string())?;
    for e in &effective.refused {
        tracing::error!(error = %e, "a responsibility list in the store does not load; its grants are withdrawn");
    }
    tracing::info!(
        policy.store_version = effective.head.version,
        grants = effective.grants.len(),
        "responsibility lists loaded from the policy store"
    );
    let demo = !config.auth.jwt.hs256_secret.is_empty();
    let admin = Admin::new(
        gov,
        store.clone(),
        &config.admin.session_secret,
        config.admin.session_minutes,
        demo,
        config
            .admin
            .secure_cookie
            .unwrap_or_else(|| !listens_on_loopback(&config.server.listen)),
    );
    Ok((effective.policies, admin))
}

/// Whether `listen` (`host:port`) is a loopback address: a hub for this
/// machine only, served over plain HTTP.
fn listens_on_loopback(listen: &str) -> bool {
    listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or_else(|_| listen.starts_with("localhost:"))
}

/// What was in force, to tell when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Seen {
    version: u64,
    grants_stamp: u64,
    active: Vec<String>,
    clock: i64,
}

/// Keeps this instance's lists in step with the policy store: every
/// `policies.store_poll_ms` reads the head (one small query); when the version,
/// the grants or the set of grants active now changed, loads and puts the lists
/// in force. Records grant expiries and counts overdue work about once a second.
pub(crate) async fn watch_store(app: std::sync::Weak<App>) {
    use std::sync::atomic::Ordering;
    let every = match app.upgrade() {
        Some(a) if a.admin.is_some() => a.config.policies.store_poll_ms.max(20),
        _ => return,
    };
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<Seen> = None;
    let mut grants: Vec<mandate_governance::records::Grant> = Vec::new();
    let mut last_housekeeping = std::time::Instant::now() - std::time::Duration::from_secs(60);
    loop {
        tick.tick().await;
        let Some(app) = app.upgrade() else { return };
        let Some(admin) = app.admin.as_ref() else {
            return;
        };
        let gov = admin.governance();
        let head = match gov.head().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "policy store head not read; the lists in force stay");
                continue;
            }
        };
        if seen.as_ref().is_none_or(|s| s.grants_stamp != head.grants) {
            match gov.grants_all().await {
                Ok(all) => grants = all.into_iter().map(|(_, g)| g).collect(),
                Err(_) => continue,
            }
        }
        let now = gov.now();
        let mut active: Vec<String> = grants
            .iter()
            .filter(|g| mandate_governance::lists::active(g, now))
            .map(|g| g.id.clone())
            .collect();
        active.sort();
        let next = Seen {
            version: head.version,
            grants_stamp: head.grants,
            active,
            clock: head.clock_offset_secs,
        };
        if seen.as_ref() != Some(&next) {
            let loading = std::time::Instant::now();
            match gov.effective().await {
                Ok(effective) => {
                    let load_ms = u64::try_from(loading.elapsed().as_millis()).unwrap_or(u64::MAX);
                    for e in &effective.refused {
                        tracing::error!(error = %e, "a responsibility list in the store does not load; its grants are withdrawn");
                    }
                    if app.hub.put_policies(effective.policies).is_some() {
                        app.metrics.policy_reloads.fetch_add(1, Ordering::Relaxed);
                        if seen.as_ref().is_some_and(|s| s.version != head.version) {
                            if let Ok(Some(v)) = gov.store().version(head.version).await {
                                if let Ok(at) =
                                    chrono::DateTime::parse_from_rfc3339(&v.published_at)
                                {
                                    let ms = (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
                                        .num_milliseconds();
                                    app.metrics
                                        .publish_to_effect_ms
                                        .store(u64::try_from(ms).unwrap_or(0), Ordering::Relaxed);
                                }
                            }
                        }
                        tracing::info!(
                            policy.store_version = head.version,
                            grants = effective.grants.len(),
                            load_ms,
                            publish_to_effect_ms =
                                app.metrics.publish_to_effect_ms.load(Ordering::Relaxed),
                            "responsibility lists from the policy store put in force"
                        );
                    }
                    seen = Some(next);
                }
                Err(e) => {
                    app.metrics
                        .policy_reload_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "the policy store's lists do not load; the lists in force stay");
                }
            }
        }
        if last_housekeeping.elapsed() >= std::time::Duration::from_secs(1) {
            last_housekeeping = std::time::Instant::now();
            if let Err(e) = gov.record_expiries().await {
                tracing::warn!(error = %e, "grant expiries not recorded yet");
            }
            if let Ok(apps) = gov.applications().await {
                let n = apps.iter().filter(|(_, a)| gov.overdue(a)).count();
                app.metrics
                    .applications_overdue
                    .store(n as u64, Ordering::Relaxed);
            }
            let reviews = grants.iter().filter(|g| gov.review_overdue(g)).count();
            app.metrics
                .reviews_overdue
                .store(reviews as u64, Ordering::Relaxed);
        }
    }
}
