//! GraphiQL's development mode: the agency / role / purpose picker's endpoints.
//!
//! ```text
//! GET  /graphiql/mandates   every (agency, role, purpose) the lists grant something for,
//!                           and the example operations of examples/queries
//! POST /graphiql/token      {agency, role} → a demo HS256 token (1 h)
//! ```
//!
//! Development mode is `auth.jwt.hs256_secret` set (as in `config/demo.toml`)
//! with GraphiQL on; otherwise these routes do not exist (404).
//!
//! Security stance: the token endpoint hands any caller who reaches the hub a
//! token for any (agency, role) the lists name — exactly what holding the HS256
//! secret already allows (`mandate token`), no more. It is for a developer's
//! machine or a demo on made-up data, never for a hub with a real secret or real
//! data; production authenticates with API keys and RS256/ES256 (JWKS), where
//! these routes are absent. Within that, it stays narrow: tokens live
//! [`TOKEN_TTL_SECS`] (or less, under `auth.jwt.max_lifetime_secs`), only for an
//! (agency, role) the lists in force name, with officer [`DEMO_OFFICER`] so the
//! audit log shows every read made with one; each mint is logged. The request
//! must be JSON (`application/json`: a cross-site form cannot send it without a
//! CORS preflight, which the hub does not grant here), be addressed to a
//! loopback name or address or the configured listen address (`Host`: a name
//! an attacker re-binds to this hub is refused) and, when the browser names an
//! `Origin`, come from exactly that origin (`crate::edge`). Every read made with a demo token goes
//! through the same admission, masks, row scopes and audit as any other.

use std::sync::Arc;

use mandate_policies::Mandate;
use poem::http::{header, StatusCode};
use poem::web::Data;
use poem::{handler, Request, Response};
use rust_embed::RustEmbed;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::App;
use crate::config::Config;

/// The example operations, embedded in the binary.
#[derive(RustEmbed)]
#[folder = "examples/queries/"]
struct Queries;

/// How long a demo token lives, seconds.
pub(crate) const TOKEN_TTL_SECS: u64 = 3600;

/// The officer (`sub`) of every demo token: what the audit log shows.
pub(crate) const DEMO_OFFICER: &str = "graphiql-demo";

/// The case number the picker states (`x-mandate-case`).
pub(crate) const DEMO_CASE: &str = "GRAPHIQL-DEMO";

/// Whether the picker's endpoints exist: GraphiQL on and HS256 demo tokens on.
pub(crate) fn enabled(config: &Config) -> bool {
    config.server.graphiql && !config.auth.jwt.hs256_secret.is_empty()
}

/// One example operation of `examples/queries`, with what its header comments say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Example {
    /// File name without `.graphql`.
    name: String,
    /// The first comment line.
    description: String,
    agency: Option<String>,
    role: Option<String>,
    purpose: Option<String>,
    /// JSON text of `# variables:`, if valid JSON.
    variables: Option<String>,
    /// The operation, without the `agency`/`role`/`purpose`/`variables` lines.
    query: String,
}

/// Reads the header comments of one example file: `# <description>`, then
/// `# agency: …`, `# role: …`, `# purpose: …` and optionally `# variables: {…}`.
fn parse_example(name: &str, text: &str) -> Example {
    let mut example = Example {
        name: name.to_string(),
        description: String::new(),
        agency: None,
        role: None,
        purpose: None,
        variables: None,
        query: String::new(),
    };
    let mut in_header = true;
    for line in text.lines() {
        let comment = line.trim_start().strip_prefix('#').map(str::trim);
        match comment {
            Some(c) if in_header => {
                let meta = c
                    .split_once(':')
                    .map(|(k, v)| (k.trim(), v.trim()))
                    .filter(|(k, _)| matches!(*k, "agency" | "role" | "purpose" | "variables"));
                match meta {
                    Some(("agency", v)) => example.agency = Some(v.to_string()),
                    Some(("role", v)) => example.role = Some(v.to_string()),
                    Some(("purpose", v)) => example.purpose = Some(v.to_string()),
                    Some((_, v)) => {
                        example.variables = serde_json::from_str::<serde_json::Value>(v)
                            .ok()
                            .and_then(|v| serde_json::to_string_pretty(&v).ok());
                    }
                    None => {
                        if example.description.is_empty() {
                            example.description = c.to_string();
                        }
                        example.query.push_str(line);
                        example.query.push('\n');
                    }
                }
            }
            _ => {
                in_header = false;
                example.query.push_str(line);
                example.query.push('\n');
            }
        }
    }
    example
}

/// Every embedded example, by file name.
fn examples() -> Vec<Example> {
    Queries::iter()
        .filter_map(|path| {
            let name = path.strip_suffix(".graphql")?;
            let file = Queries::get(&path)?;
            Some(parse_example(name, &String::from_utf8_lossy(&file.data)))
        })
        .collect()
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(body.to_string())
}

fn refused(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// `GET /graphiql/mandates`: what the picker offers.
#[handler]
pub(crate) async fn mandates(app: Data<&Arc<App>>) -> Response {
    app.refresh_policies().await;
    let mandates: Vec<Mandate> = app.policies().mandates().into_iter().collect();
    json_response(
        StatusCode::OK,
        &json!({
            "mandates": mandates,
            "examples": examples(),
            "case": DEMO_CASE,
            "tokenTtlSecs": ttl(&app.config),
        }),
    )
}

/// The lifetime of a demo token: [`TOKEN_TTL_SECS`], or less if the hub accepts
/// only shorter-lived tokens.
fn ttl(config: &Config) -> u64 {
    TOKEN_TTL_SECS.min(config.auth.jwt.max_lifetime_secs)
}

/// What `POST /graphiql/token` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    agency: String,
    role: String,
}

/// `POST /graphiql/token`: a demo token for an (agency, role) the lists name.
#[handler]
pub(crate) async fn token(req: &Request, body: poem::Body, app: Data<&Arc<App>>) -> Response {
    if !crate::edge::is_json(req) {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send {\"agency\": …, \"role\": …} as application/json",
        );
    }
    if !crate::edge::local_request(req, &app.config.server.listen) {
        return refused(
            StatusCode::FORBIDDEN,
            "demo tokens are minted for this hub's own GraphiQL only, at a loopback address or the configured listen address",
        );
    }
    let bytes = match crate::edge::read_body(body, 4096).await {
        Ok(bytes) => bytes,
        Err(crate::edge::BodyError::Late) => {
            return refused(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )
        }
        Err(_) => return refused(StatusCode::BAD_REQUEST, "the request body is unreadable"),
    };
    let Ok(wanted) = serde_json::from_slice::<TokenRequest>(&bytes) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "send {\"agency\": …, \"role\": …} as application/json",
        );
    };
    app.refresh_policies().await;
    let named = app
        .policies()
        .mandates()
        .iter()
        .any(|m| m.agency == wanted.agency && m.role == wanted.role);
    if !named {
        return refused(
            StatusCode::FORBIDDEN,
            "the responsibility lists name no such agency and role",
        );
    }
    match mint(&app.config, &wanted.agency, &wanted.role) {
        Ok(token) => {
            tracing::info!(
                agency = %wanted.agency,
                role = %wanted.role,
                officer = DEMO_OFFICER,
                ttl_secs = ttl(&app.config),
                "GraphiQL demo token minted"
            );
            json_response(
                StatusCode::OK,
                &json!({
                    "token": token,
                    "agency": wanted.agency,
                    "role": wanted.role,
                    "expiresIn": ttl(&app.config),
                }),
            )
        }
        Err(error) => {
            tracing::error!(%error, "GraphiQL demo token not signed");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the token was not signed",
            )
        }
    }
}

/// Signs an HS256 token for `agency` and `role` with `auth.jwt.hs256_secret`,
/// carrying the configured `iss` and `aud`.
fn mint(config: &Config, agency: &str, role: &str) -> Result<String, jsonwebtoken::errors::Error> {
    crate::auth::mint_hs256(
        &config.auth.jwt,
        DEMO_OFFICER,
        agency,
        &[role.to_string()],
        &[],
        ttl(config),
    )
    .map(|(signed, _)| signed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::{examples, parse_example};

    #[test]
    fn header_comments_are_read_and_left_out_of_the_operation() {
        let text = "# Elderly living alone.\n# agency: D-CIVIL_AFFAIRS\n# role: caseworker\n# purpose: elderly_care\n# variables: {\"after\": null}\nquery Q($after: String) {\n  # a comment in the body stays\n  residents(after: $after) { totalCount }\n}\n";
        let e = parse_example("elderly", text);
        assert_eq!(e.description, "Elderly living alone.");
        assert_eq!(e.agency.as_deref(), Some("D-CIVIL_AFFAIRS"));
        assert_eq!(e.role.as_deref(), Some("caseworker"));
        assert_eq!(e.purpose.as_deref(), Some("elderly_care"));
        assert_eq!(e.variables.as_deref(), Some("{\n  \"after\": null\n}"));
        assert_eq!(
            e.query,
            "# Elderly living alone.\nquery Q($after: String) {\n  # a comment in the body stays\n  residents(after: $after) { totalCount }\n}\n"
        );
    }

    #[test]
    fn a_file_without_header_names_no_agency() {
        let e = parse_example("plain", "{ departments(first: 1) { totalCount } }\n");
        assert_eq!(e.agency, None);
        assert_eq!(e.description, "");
        assert_eq!(e.query, "{ departments(first: 1) { totalCount } }\n");
    }

    #[test]
    fn the_examples_are_embedded() {
        let all = examples();
        let civil = all
            .iter()
            .find(|e| e.name == "elderly-living-alone-in-old-compounds")
            .unwrap_or_else(|| panic!("{:?}", all.iter().map(|e| &e.name).collect::<Vec<_>>()));
        assert_eq!(civil.agency.as_deref(), Some("D-CIVIL_AFFAIRS"));
        assert!(all.iter().all(|e| !e.query.trim().is_empty()));
    }
}
