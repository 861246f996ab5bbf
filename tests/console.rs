//! The policy officers' console, served by the hub over HTTP (against the real
//! Neo4j like every hub): the page and its bundles come from the binary, each
//! with its content type and caching; the page's Content-Security-Policy allows
//! this origin only, with a fresh nonce per answer for the style elements the
//! page injects; the application's own paths fall back to the page while missing
//! files are 404; and nothing in the bundle points a browser at another host.
//! The console is driven in a real browser by `tests/browser/console-check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::Path;

use common::TestHub;

/// URLs in the bundle that are names, never fetched: XML namespaces (React
/// creates SVG and MathML elements in them) and the link React's production
/// build prints in its error messages.
const NOT_FETCHED: &[&str] = &[
    "http://www.w3.org/1998/Math/MathML",
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/XML/1998/namespace",
    "https://reactjs.org/docs/error-decoder.html?invariant=",
];

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} on {}", resp.url()))
        .to_str()
        .unwrap()
}

/// The `src` and `href` values of `html`.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            let end = rest.find('"').unwrap();
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[tokio::test]
async fn the_page_and_its_bundles_are_served_from_the_binary() {
    let hub = TestHub::start().await;
    let resp = hub.client.get(hub.url("/console")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    let csp = header(&resp, "content-security-policy").to_string();
    assert!(
        csp.starts_with("default-src 'self'; script-src 'self';"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();

    // The nonce the policy allows is the one the page is given, and it is fresh.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap()
        .to_string();
    assert!(nonce.len() >= 32, "{nonce}");
    assert!(
        html.contains(&format!("<meta name=\"csp-nonce\" content=\"{nonce}\"")),
        "{html}"
    );
    let again = hub.client.get(hub.url("/console/")).send().await.unwrap();
    assert!(
        !header(&again, "content-security-policy").contains(&nonce),
        "a fresh nonce per answer"
    );

    // No inline script: every script is a file of the bundle, served with its type and a long cache.
    assert!(
        !html.contains("<script>") && !html.contains("<script type=\"module\">"),
        "{html}"
    );
    let refs = references(&html);
    let scripts: Vec<_> = refs.iter().filter(|r| r.ends_with(".js")).collect();
    assert!(!scripts.is_empty(), "{html}");
    for r in &refs {
        assert!(
            r.starts_with("/console/"),
            "{r} stays on this origin under /console"
        );
        let resp = hub.client.get(hub.url(r)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{r}");
        let ct = header(&resp, "content-type").to_string();
        if r.ends_with(".js") {
            assert_eq!(ct, "text/javascript; charset=utf-8", "{r}");
        } else if r.ends_with(".css") {
            assert_eq!(ct, "text/css; charset=utf-8", "{r}");
        } else if r.ends_with(".svg") {
            assert_eq!(ct, "image/svg+xml", "{r}");
        }
        if r.starts_with("/console/assets/") {
            assert_eq!(
                header(&resp, "cache-control"),
                "public, max-age=31536000, immutable",
                "{r}"
            );
        }
        assert!(!resp.bytes().await.unwrap().is_empty(), "{r}");
    }
}

#[tokio::test]
async fn pages_of_the_application_fall_back_to_the_index_and_missing_files_are_404() {
    let hub = TestHub::start().await;
    for path in [
        "/console/matrix",
        "/console/drafts",
        "/console/applications/APP-1",
    ] {
        let resp = hub.client.get(hub.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            header(&resp, "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert!(
            resp.text().await.unwrap().contains("<div id=\"root\">"),
            "{path}"
        );
    }
    for path in [
        "/console/assets/missing-0000.js",
        "/console/missing.png",
        "/console/assets/",
    ] {
        let resp = hub.client.get(hub.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let resp = hub
        .client
        .post(hub.url("/console/matrix"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        405,
        "the console's pages are read with GET only"
    );
}

/// Offline-safe: nothing in `console/dist` names another host for a browser to fetch.
#[test]
fn the_bundle_points_at_no_other_host() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("console/dist");
    let mut files = vec![dist.clone()];
    let mut seen = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        seen += 1;
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        for scheme in ["http://", "https://"] {
            let mut rest = text.as_str();
            while let Some(at) = rest.find(scheme) {
                let url = &rest[at..];
                assert!(
                    NOT_FETCHED.iter().any(|ok| url.starts_with(ok)),
                    "{}: {}",
                    p.display(),
                    &url[..url.len().min(80)]
                );
                rest = &rest[at + scheme.len()..];
            }
        }
    }
    assert!(
        seen >= 3,
        "index.html, a script and a stylesheet at least: {seen}"
    );
}
