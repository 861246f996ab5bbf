//! GraphiQL, served from files embedded in the binary (no CDN, works offline),
//! under a `default-src 'self'` content security policy.
//!
//! The page learns how to get at the schema from a `<meta name="mandate-graphiql">`
//! the server fills in (no inline script, so the CSP stays strict):
//!
//! - `open` (`auth.open`): every request is served unrestricted, so the schema
//!   is fetched at once;
//! - `development` (`auth.jwt.hs256_secret` set): an agency / role / purpose
//!   picker mints short-lived demo tokens through [`dev`]'s endpoints and preloads
//!   the agency's example operations;
//! - `credentials`: nothing is sent until the Headers tab holds a credential
//!   (`Authorization` or `x-api-key`); the headers are then kept for the browser
//!   session (sessionStorage) and sent with every request, the schema fetch first.

mod dev;

use std::sync::Arc;

use poem::http::{header, StatusCode};
use poem::web::{Data, Path};
use poem::{get, handler, post, Response, Route};
use rust_embed::RustEmbed;

use crate::app::App;

#[derive(RustEmbed)]
#[folder = "assets/graphiql/"]
struct Graphiql;

/// The policy GraphiQL works under: its stylesheet embeds fonts as data URIs and
/// it injects style elements.
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/// The placeholder in `index.html` replaced by the page's mode.
const MODE_PLACEHOLDER: &str = "content=\"credentials\"";

/// Adds GraphiQL's routes to `route`: the page and its assets, and in
/// development mode ([`dev::enabled`]) the picker's endpoints — which do not
/// exist otherwise (404).
pub(crate) fn routes(route: Route, app: &App) -> Route {
    let route = route
        .at("/graphiql", get(graphiql_index))
        .at("/graphiql/assets/:file", get(graphiql_asset));
    if !dev::enabled(&app.config) {
        return route;
    }
    tracing::warn!(
        endpoints = "/graphiql/mandates /graphiql/token",
        "GraphiQL development mode: anyone reaching this hub may mint demo tokens for any agency the lists name; never set auth.jwt.hs256_secret in production"
    );
    route
        .at("/graphiql/mandates", get(dev::mandates))
        .at("/graphiql/token", post(dev::token))
}

fn embedded(name: &str) -> Response {
    let Some(file) = Graphiql::get(name) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("not found");
    };
    let content_type = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        _ => "application/octet-stream",
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_SECURITY_POLICY, CSP)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(file.data.into_owned())
}

/// The page's mode (see the module documentation).
fn mode(app: &App) -> &'static str {
    if app.hub.is_open() {
        "open"
    } else if dev::enabled(&app.config) {
        "development"
    } else {
        "credentials"
    }
}

#[handler]
pub(crate) fn graphiql_index(app: Data<&Arc<App>>) -> Response {
    let Some(file) = Graphiql::get("index.html") else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("not found");
    };
    let html = String::from_utf8_lossy(&file.data).replacen(
        MODE_PLACEHOLDER,
        &format!("content=\"{}\"", mode(&app)),
        1,
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, CSP)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        // The mode follows the configuration: not cached across restarts.
        .header(header::CACHE_CONTROL, "no-cache")
        .body(html)
}

#[handler]
pub(crate) fn graphiql_asset(Path(file): Path<String>) -> Response {
    if file == "index.html" || file.contains('/') {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body("not found");
    }
    embedded(&file)
}
