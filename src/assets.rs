//! GraphiQL, served from files embedded in the binary (no CDN, works offline),
//! under a `default-src 'self'` content security policy.

use poem::http::{header, StatusCode};
use poem::web::Path;
use poem::{handler, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/graphiql/"]
struct Graphiql;

/// The policy GraphiQL works under: its stylesheet embeds fonts as data URIs and
/// it injects style elements.
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

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

#[handler]
pub(crate) fn graphiql_index() -> Response {
    embedded("index.html")
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
