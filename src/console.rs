//! The policy officers' web console: the single-page application built from
//! `console/` (TypeScript, React, Ant Design) into `console/dist/`, embedded in the
//! binary and served at `/console` — nothing is fetched from outside, so it works
//! with no internet.
//!
//! - `/console`, `/console/` and any other path under it that does not name a
//!   file (the application's own pages, e.g. `/console/matrix`) answer
//!   `index.html`, `Cache-Control: no-cache`, with a fresh nonce for the style
//!   elements Ant Design injects, allowed by the page's Content-Security-Policy
//!   (`default-src 'self'`; no inline script, no other host);
//! - `/console/assets/*` are the content-hashed bundles: cached for a year,
//!   immutable; a name that is not in the bundle is a 404, never the page.
//!
//! The officer sessions (`/console/session`, `/console/session/demo`) and the
//! admin API (`/admin/graphql`) are routes of their own: poem's exact routes win
//! over this module's wildcard.

use poem::http::{header, StatusCode};
use poem::web::Path;
use poem::{get, handler, Response, Route};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "console/dist/"]
struct Dist;

/// The placeholder in `index.html` that each answer replaces with its nonce.
const NONCE_PLACEHOLDER: &str = "MANDATE_CSP_NONCE";

/// Adds the console's routes to `route`.
pub(crate) fn routes(route: Route) -> Route {
    route
        .at("/console", get(console_index))
        .at("/console/", get(console_index))
        .at("/console/*path", get(console_path))
}

/// The page's policy: scripts, styles, images and connections from this origin
/// only; style elements only with this answer's nonce.
fn csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self'; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

fn not_found() -> Response {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body("not found")
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `index.html` with a fresh nonce, under a policy that allows it.
fn index() -> Response {
    let Some(file) = Dist::get("index.html") else {
        return not_found();
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let html = String::from_utf8_lossy(&file.data).replacen(NONCE_PLACEHOLDER, &nonce, 1);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, csp(&nonce))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(html)
}

#[handler]
fn console_index() -> Response {
    index()
}

#[handler]
fn console_path(Path(path): Path<String>) -> Response {
    let path = path.trim_start_matches('/');
    if path == "index.html" {
        return index();
    }
    if let Some(file) = Dist::get(path) {
        // Bundles carry their content hash in the name; anything else may change.
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return Response::builder()
            .header(header::CONTENT_TYPE, content_type(path))
            .header(header::CONTENT_SECURITY_POLICY, csp("none"))
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::CACHE_CONTROL, cache)
            .body(file.data.into_owned());
    }
    // A file that is not in the bundle is missing, not a page of the application;
    // so are the session endpoints where they are not mounted (outside development
    // mode, `/console/session/demo` is a 404, not the page).
    let last = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with("assets/")
        || last.contains('.')
        || path == "session"
        || path.starts_with("session/")
    {
        return not_found();
    }
    index()
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::Method;
    use poem::{Endpoint, Request};

    #[handler]
    fn session() -> &'static str {
        "session"
    }

    /// The console's routes beside the session routes the admin module mounts.
    fn app() -> Route {
        routes(Route::new())
            .at("/console/session", poem::post(session).delete(session))
            .at("/console/session/demo", get(session).post(session))
    }

    async fn call(method: Method, uri: &str) -> (StatusCode, String, Vec<u8>) {
        let resp = app()
            .get_response(
                Request::builder()
                    .method(method)
                    .uri(uri.parse().unwrap_or_default())
                    .finish(),
            )
            .await;
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = resp.into_body().into_vec().await.unwrap_or_default();
        (status, ct, body)
    }

    #[tokio::test]
    async fn exact_session_routes_win_over_the_wildcard() {
        for (method, uri) in [
            (Method::POST, "/console/session"),
            (Method::DELETE, "/console/session"),
            (Method::GET, "/console/session/demo"),
            (Method::POST, "/console/session/demo"),
        ] {
            let (status, _, body) = call(method.clone(), uri).await;
            assert_eq!(status, StatusCode::OK, "{method} {uri}");
            assert_eq!(body, b"session", "{method} {uri}");
        }
    }

    #[tokio::test]
    async fn unmounted_session_endpoints_are_not_the_page() {
        let route = routes(Route::new());
        for uri in ["/console/session", "/console/session/demo"] {
            let resp = route
                .get_response(
                    Request::builder()
                        .uri(uri.parse().unwrap_or_default())
                        .finish(),
                )
                .await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{uri}");
        }
    }

    #[tokio::test]
    async fn pages_fall_back_to_the_index_and_missing_files_do_not() {
        for uri in [
            "/console",
            "/console/",
            "/console/matrix",
            "/console/drafts/x",
        ] {
            let (status, ct, body) = call(Method::GET, uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert!(ct.starts_with("text/html"), "{uri}: {ct}");
            assert!(
                String::from_utf8_lossy(&body).contains("<div id=\"root\">"),
                "{uri}"
            );
        }
        for uri in [
            "/console/assets/nope.js",
            "/console/nope.png",
            "/console/assets/x",
        ] {
            let (status, _, _) = call(Method::GET, uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        }
    }
}
