//! The console's session endpoints and the admin API's edge over HTTP against
//! the real Neo4j (lists in the policy store): signing out ends the session on
//! every instance, refusals name the verified caller in the audit log, bad
//! documents get the data API's codes and limits, and the endpoints that sign
//! in refuse cross-site and DNS-rebound requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::{copy_policies, keys_file, test_config, TestHub};
use serde_json::{json, Value};

const CASEWORKER: &str = "key-session-caseworker-00000000";
const CIVIL_EDITOR: &str = "key-session-civil-editor-000000";

/// A store-mode configuration of its own chain; `demo` turns development mode
/// (HS256 demo tokens, demo officers) on.
fn config(name: &str, demo: bool) -> mandate::Config {
    let root = std::env::temp_dir().join(format!("mandate-session-{name}-{}", std::process::id()));
    let policies = root.join("policies");
    copy_policies(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &policies,
    );
    let keys = keys_file(
        &root,
        "session",
        &[
            ("D-CIVIL_AFFAIRS", vec!["caseworker"], CASEWORKER.into()),
            (
                "D-CIVIL_AFFAIRS",
                vec!["policy_editor"],
                CIVIL_EDITOR.into(),
            ),
        ],
    );
    let mut config = test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.policies.dir = policies.display().to_string();
    config.policies.source = mandate::PolicySource::Store;
    config.admin.session_secret = "console-session-test-secret".into();
    config.audit.chain = format!("session-{name}-{}", std::process::id());
    if demo {
        config.auth.jwt.hs256_secret = "console-session-demo-secret-0123456789".into();
    }
    config
}

/// A session: the cookie (`name=value`) and its CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(hub: &TestHub, credential: &str) -> Session {
    let resp = hub
        .client
        .post(hub.url("/console/session"))
        .json(&json!({ "credential": credential }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    Session {
        cookie,
        csrf: body["csrf"].as_str().unwrap().to_string(),
    }
}

/// `{ me { officer } }` under `session`: the answer.
async fn me(hub: &TestHub, session: &Session) -> Value {
    hub.client
        .post(hub.url("/admin/graphql"))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(&json!({"query": "{ me { officer } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error code in {v}"))
}

/// The audit records of `chain` with `action`: (agency, officer, decision, code).
async fn records(
    hub: &TestHub,
    chain: &str,
    action: &str,
) -> Vec<(String, String, String, String)> {
    hub.reference(
        "MATCH (a:AuditRecord {chain: $chain, action: $action})
         RETURN a.agency AS agency, a.officer AS officer, a.decision AS decision, a.code AS code
         ORDER BY a.seq",
        json!({"chain": chain, "action": action}),
    )
    .await
    .into_iter()
    .map(|r| {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        (s("agency"), s("officer"), s("decision"), s("code"))
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session_on_every_instance_and_is_recorded() {
    let config = config("sign-out", false);
    let a = TestHub::start_with(config.clone()).await;
    let mut second = config.clone();
    second.audit.chain = format!("{}-b", config.audit.chain);
    let b = TestHub::start_with(second).await;

    let session = sign_in(&a, CIVIL_EDITOR).await;
    assert_eq!(
        me(&a, &session).await["data"]["me"]["officer"],
        "system:session-1"
    );
    assert_eq!(
        me(&b, &session).await["data"]["me"]["officer"],
        "system:session-1"
    );

    let resp = a
        .client
        .delete(a.url("/console/session"))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));

    // A copy of the cookie taken before signing out opens nothing any more,
    // on this instance or on another sharing the store.
    for hub in [&a, &b] {
        let v = me(hub, &session).await;
        assert_eq!(code(&v), "SESSION_EXPIRED", "{v}");
    }
    // Another session of the same officer is not touched.
    let other = sign_in(&b, CIVIL_EDITOR).await;
    assert_eq!(
        me(&a, &other).await["data"]["me"]["officer"],
        "system:session-1"
    );

    assert_eq!(
        records(&a, &config.audit.chain, "console.sign_out").await,
        vec![(
            "D-CIVIL_AFFAIRS".to_string(),
            "system:session-1".to_string(),
            "allowed".to_string(),
            String::new()
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_at_the_admin_edge_and_refused_sign_ins_name_the_verified_caller() {
    let config = config("refusals", false);
    let chain = config.audit.chain.clone();
    let hub = TestHub::start_with(config).await;

    // A departmental credential at the admin API: verified, not an officer.
    let v: Value = hub
        .client
        .post(hub.url("/admin/graphql"))
        .header("x-api-key", CASEWORKER)
        .json(&json!({"query": "{ me { officer } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&v), "NOT_AN_OFFICER");
    // A signed-in officer's request without the session's CSRF token.
    let session = sign_in(&hub, CIVIL_EDITOR).await;
    let v: Value = hub
        .client
        .post(hub.url("/admin/graphql"))
        .header("cookie", &session.cookie)
        .json(&json!({"query": "{ me { officer } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&v), "CSRF_REJECTED");
    let row = |agency: &str, officer: &str, code: &str| {
        (
            agency.to_string(),
            officer.to_string(),
            "rejected".to_string(),
            code.to_string(),
        )
    };
    assert_eq!(
        records(&hub, &chain, "admin.request").await,
        vec![
            row("D-CIVIL_AFFAIRS", "system:session-0", "NOT_AN_OFFICER"),
            row("D-CIVIL_AFFAIRS", "system:session-1", "CSRF_REJECTED"),
        ]
    );

    // Refused sign-ins: a verified non-officer credential, an unknown key.
    for (credential, status) in [(CASEWORKER, 403), ("key-nobody-at-all-0000000000000", 401)] {
        let resp = hub
            .client
            .post(hub.url("/console/session"))
            .json(&json!({ "credential": credential }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{credential}");
        // A 401 names how to authenticate.
        if status == 401 {
            let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer realm="), "{challenge}");
        }
    }
    let sign_ins = records(&hub, &chain, "console.sign_in").await;
    assert_eq!(
        sign_ins,
        vec![
            (
                "D-CIVIL_AFFAIRS".to_string(),
                "system:session-1".to_string(),
                "allowed".to_string(),
                String::new()
            ),
            row("D-CIVIL_AFFAIRS", "system:session-0", "NOT_AN_OFFICER"),
            row("-", "-", "UNAUTHENTICATED"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_admin_documents_get_the_data_apis_codes_and_limits() {
    let hub = TestHub::start_with(config("documents", false)).await;
    let ask = |query: String| {
        let hub = &hub;
        async move {
            let v: Value = hub
                .client
                .post(hub.url("/admin/graphql"))
                .header("x-api-key", CIVIL_EDITOR)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v
        }
    };
    let flood = format!(
        "{{ {} }}",
        (0..20_000)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Fragments that double at each level (about 1 KB, 2^24 selections once
    // expanded): async-graphql's validation walked every spread for seconds.
    let doubling = (0..24)
        .map(|i| format!("fragment F{i} on Query {{ ...F{} ...F{} }}", i + 1, i + 1))
        .chain(std::iter::once(
            "fragment F24 on Query { me { officer } }".to_string(),
        ))
        .collect::<Vec<_>>()
        .join(" ");
    // Copies of one root field, no aliases: each runs (and reads Neo4j).
    let copies = format!("{{ {} }}", ["me { officer }"; 11].join(" "));
    for (query, expected) in [
        (format!("{{ ...F0 }} {doubling}"), "QUERY_TOO_COMPLEX"),
        (copies, "QUERY_TOO_COMPLEX"),
        ("{ me { officer } ".to_string(), "GRAPHQL_PARSE_FAILED"),
        (
            "{ drafts(state: BOGUS) { id } }".into(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ me { officer nope } }".into(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query($n: Int!) { version(number: $n) { number } }".into(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ me { ...F } } fragment F on OfficerView { ...F }".into(),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("subscription { x }".into(), "GRAPHQL_VALIDATION_FAILED"),
        (flood, "QUERY_TOO_COMPLEX"),
        (
            format!("{{ me {}officer{} }}", "{".repeat(100), "}".repeat(100)),
            "QUERY_TOO_DEEP",
        ),
    ] {
        let v = ask(query.clone()).await;
        assert_eq!(code(&v), expected, "{}: {v}", &query[..query.len().min(60)]);
        let message = v["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("-->"), "no parser excerpt: {message}");
        assert!(v["errors"][0]["extensions"]["requestId"].is_string(), "{v}");
    }
    // Under the limits, an answer.
    let v = ask("{ a: me { officer } b: me { agency } }".into()).await;
    assert_eq!(v["data"]["a"]["officer"], "system:session-1", "{v}");
}

/// A POST of `body` to `path` with `content_type`, and `headers` besides.
async fn post_raw(
    hub: &TestHub,
    path: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> reqwest::Response {
    let mut r = hub
        .client
        .post(hub.url(path))
        .header("content-type", content_type)
        .body(body.to_string());
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_endpoints_refuse_rebound_hosts_and_other_origins() {
    let hub = TestHub::start_with(config("rebinding", true)).await;
    let own = format!("http://{}", hub.addr);
    let token = r#"{"agency":"D-CIVIL_AFFAIRS","role":"caseworker"}"#;
    let officer = r#"{"officer":"bureau-admin"}"#;
    for path in ["/graphiql/token", "/console/session/demo"] {
        let body = if path == "/graphiql/token" {
            token
        } else {
            officer
        };
        // This hub's own page, and a client without Origin: answered.
        let resp = post_raw(&hub, path, "application/json", &[("origin", &own)], body).await;
        assert_eq!(resp.status(), 200, "{path}: {}", resp.text().await.unwrap());
        let resp = post_raw(&hub, path, "application/json", &[], body).await;
        assert_eq!(resp.status(), 200, "{path}");
        // A name re-bound to this hub, with its own origin; the hub's address
        // over https; another port; a JSON look-alike content type.
        for (headers, ct) in [
            (
                vec![("host", "evil.example"), ("origin", "http://evil.example")],
                "application/json",
            ),
            (vec![("host", "evil.example")], "application/json"),
            (
                vec![("origin", own.replace("http://", "https://").leak() as &str)],
                "application/json",
            ),
            (vec![("origin", "http://127.0.0.1:1")], "application/json"),
            (vec![("origin", &own)], "application/jsonx"),
            (vec![], "text/plain"),
        ] {
            let resp = post_raw(&hub, path, ct, &headers, body).await;
            assert!(
                [403, 400, 415].contains(&resp.status().as_u16()),
                "{path} {headers:?} {ct}: {}",
                resp.status()
            );
            assert!(
                resp.headers().get("set-cookie").is_none(),
                "{path} {headers:?}"
            );
            let text = resp.text().await.unwrap();
            assert!(!text.contains("token\""), "{path} {headers:?}: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_sign_in_and_sign_out_are_refused() {
    let hub = TestHub::start_with(config("csrf", true)).await;
    let evil = [("origin", "https://evil.example")];
    // Login CSRF: a cross-site text/plain form, and a cross-site JSON POST.
    for (path, body) in [
        (
            "/console/session/demo",
            r#"{"officer":"bureau-admin"}"#.to_string(),
        ),
        (
            "/console/session",
            json!({"credential": CIVIL_EDITOR}).to_string(),
        ),
    ] {
        for ct in ["text/plain", "application/json"] {
            let resp = post_raw(&hub, path, ct, &evil, &body).await;
            assert!(
                resp.status().is_client_error(),
                "{path} {ct}: {}",
                resp.status()
            );
            assert!(resp.headers().get("set-cookie").is_none(), "{path} {ct}");
        }
        let resp = post_raw(&hub, path, "text/plain", &[], &body).await;
        assert!(resp.status().is_client_error(), "{path} text/plain");
    }
    // Logout CSRF: a cross-site DELETE, and one without the session's token.
    let session = sign_in(&hub, CIVIL_EDITOR).await;
    let resp = hub
        .client
        .delete(hub.url("/console/session"))
        .header("cookie", &session.cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = hub
        .client
        .delete(hub.url("/console/session"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        me(&hub, &session).await["data"]["me"]["officer"],
        "system:session-1"
    );
}

/// The session cookie is `Secure` (HTTPS only) unless the hub listens on a
/// loopback address (served over plain HTTP to this machine alone), and
/// `admin.secure_cookie` decides when set; it is always HttpOnly and
/// SameSite=Strict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_secure_unless_served_on_loopback() {
    let attributes = |secure: Option<bool>| async move {
        let mut config = config("secure", false);
        config.admin.secure_cookie = secure;
        let hub = TestHub::start_with(config).await;
        let resp = hub
            .client
            .post(hub.url("/console/session"))
            .json(&json!({ "credential": CIVIL_EDITOR }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.headers()["set-cookie"].to_str().unwrap().to_string()
    };
    let loopback = attributes(None).await;
    assert!(!loopback.contains("Secure"), "{loopback}");
    let secure = attributes(Some(true)).await;
    assert!(secure.contains("; Secure"), "{secure}");
    for cookie in [&loopback, &secure] {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
    }
}
