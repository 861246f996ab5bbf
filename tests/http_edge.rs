//! The HTTP edge a browser or a client library sees: a `401` names how to
//! authenticate (`WWW-Authenticate`), and with an origin allow-list configured a
//! browser application of a department may call `/graphql` (CORS preflight
//! answered, other origins refused); without one, CORS stays off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::TestHub;
use serde_json::json;

const ORIGIN: &str = "https://case.civil.example.gov.cn";

async fn start(origins: &[&str]) -> TestHub {
    let root = std::env::temp_dir().join(format!("mandate-http-edge-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let keys = common::keys_file(
        &root,
        "edge",
        &[("D-CIVIL_AFFAIRS", vec!["caseworker"], "mk_edge_key".into())],
    );
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    config.server.cors_allow_origins = origins.iter().map(|o| o.to_string()).collect();
    TestHub::start_with(config).await
}

fn preflight(hub: &TestHub, origin: &str) -> reqwest::RequestBuilder {
    hub.client
        .request(reqwest::Method::OPTIONS, hub.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-api-key,x-mandate-purpose,x-mandate-case",
        )
}

#[tokio::test]
async fn a_401_names_how_to_authenticate() {
    let hub = start(&[]).await;
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("Bearer realm=\"mandate\""),
        "{challenge}"
    );
    assert!(challenge.contains("header=\"x-api-key\""), "{challenge}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_405_names_the_methods_allowed() {
    let hub = start(&[]).await;
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        for path in ["/graphql", "/subgraph"] {
            let resp = hub
                .client
                .request(method.clone(), hub.url(path))
                .header("x-api-key", "mk_edge_key")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 405, "{method} {path}");
            assert_eq!(resp.headers()["allow"], "GET, POST", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let hub = start(&[]).await;
    let resp = preflight(&hub, ORIGIN).send().await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert_ne!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_answered_and_others_do_not() {
    let hub = start(&[ORIGIN]).await;
    let resp = preflight(&hub, ORIGIN).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_uppercase();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for wanted in [
        "content-type",
        "x-api-key",
        "x-mandate-purpose",
        "x-mandate-case",
    ] {
        assert!(headers.contains(wanted), "{headers}");
    }
    assert_eq!(h["access-control-max-age"], "600");

    let other = preflight(&hub, "https://elsewhere.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 403);
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // The request itself: answered as any other, with the CORS headers.
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .header("origin", ORIGIN)
        .header("x-api-key", "mk_edge_key")
        .header("x-mandate-purpose", "subsidy_review")
        .header("x-mandate-case", "CASE-CORS-1")
        .json(&json!({"query": "{ residents(first: 1) { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["data"]["residents"]["totalCount"].is_u64(), "{body}");
}

#[tokio::test]
async fn a_request_refused_before_execution_has_no_data_entry() {
    let hub = TestHub::start().await;
    for media in ["application/json", "application/graphql-response+json"] {
        for (query, code) in [
            ("{ residents(", "GRAPHQL_PARSE_FAILED"),
            ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ] {
            let body: serde_json::Value = hub
                .client
                .post(hub.url("/graphql"))
                .header("accept", media)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(body.get("data").is_none(), "{media} {query}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
        }
    }
    // A failure during execution keeps `"data": null`.
    let body = hub
        .post("{ residents(first: 101) { totalCount } }", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PAGE_SIZE_EXCEEDED"
    );
    assert!(body.get("data").is_some(), "{body}");
}

#[tokio::test]
async fn a_mutation_or_subscription_is_refused_once() {
    // The hub serves queries only. async-graphql's validation walks the document
    // twice and reported "not configured for mutations" once per walk: a client
    // counting errors saw two problems where there is one.
    let hub = start(&[]).await;
    for (query, word) in [
        ("mutation { residents { totalCount } }", "mutations"),
        ("subscription { residents { totalCount } }", "subscriptions"),
    ] {
        for get in [false, true] {
            let request = if get {
                hub.client
                    .get(hub.url("/graphql"))
                    .query(&[("query", query)])
            } else {
                hub.client
                    .post(hub.url("/graphql"))
                    .json(&json!({ "query": query }))
            };
            let resp = request
                .header("x-api-key", "mk_edge_key")
                .header("x-mandate-purpose", "subsidy_review")
                .header("x-mandate-case", "CASE-ONE-ERROR-1")
                .send()
                .await
                .unwrap();
            if get && query.starts_with("mutation") {
                // GET is for queries: a mutation by GET is refused before anything else.
                assert_eq!(resp.status().as_u16(), 405, "{query}");
                assert_eq!(resp.headers()["allow"], "POST");
                let body: serde_json::Value = resp.json().await.unwrap();
                assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
                assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
                continue;
            }
            assert_eq!(resp.status().as_u16(), 200, "{query}");
            let body: serde_json::Value = resp.json().await.unwrap();
            let errors = body["errors"].as_array().unwrap();
            assert_eq!(errors.len(), 1, "get={get} {query}: {body}");
            assert_eq!(
                errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
                "{body}"
            );
            assert!(
                errors[0]["message"].as_str().unwrap().contains(word),
                "{body}"
            );
            assert!(body.get("data").is_none(), "{body}");
        }
    }
    // Two problems are still two errors, one each.
    let body: serde_json::Value = hub
        .post_as(
            "mk_edge_key",
            "subsidy_review",
            "CASE-ONE-ERROR-2",
            "query A { __typename } mutation B { __typename } subscription C { __typename }",
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut messages: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    messages.sort_unstable();
    assert_eq!(
        messages,
        [
            "Schema is not configured for mutations.",
            "Schema is not configured for subscriptions."
        ],
        "{body}"
    );
}

/// Persisted and trusted documents, over HTTP: with `documents.trusted_only` a
/// hub runs the manifest's documents — named by `documentId` (POST or GET) or by
/// Apollo's `persistedQuery` hash, or sent in full — and refuses any other
/// document; without it, a document sent once with its hash may be named alone
/// afterwards (automatic persisted queries).
#[tokio::test]
async fn persisted_and_trusted_documents() {
    const APPROVED: &str = "query Count { residents(first: 1) { totalCount } }";
    let hash = mandate::documents::hash_of(APPROVED);
    let root = std::env::temp_dir().join(format!("mandate-http-docs-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let manifest = root.join("persisted-documents.json");
    std::fs::write(&manifest, json!({ hash.clone(): APPROVED }).to_string()).unwrap();
    let mut config = common::open_config();
    config.documents.manifest = manifest.display().to_string();
    config.documents.trusted_only = true;
    let hub = TestHub::start_with(config).await;
    let post = |body: serde_json::Value| {
        let req = hub.client.post(hub.url("/graphql")).json(&body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let counted = |body: &serde_json::Value| body["data"]["residents"]["totalCount"].as_u64();
    for body in [
        json!({"documentId": format!("sha256:{hash}")}),
        json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}}),
        json!({"query": APPROVED}),
    ] {
        let (status, got) = post(body.clone()).await;
        assert_eq!(status, 200, "{body}: {got}");
        assert!(counted(&got).is_some_and(|n| n > 0), "{body}: {got}");
    }
    let get = hub
        .client
        .get(hub.url("/graphql"))
        .query(&[("documentId", format!("sha256:{hash}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 200);
    let got: serde_json::Value = get.json().await.unwrap();
    assert!(counted(&got).is_some(), "{got}");
    // Anything else is refused before it is parsed.
    let other = "{ residents(first: 2) { totalCount } }";
    let (status, got) = post(json!({"query": other})).await;
    assert_eq!(status, 403, "{got}");
    assert_eq!(
        got["errors"][0]["extensions"]["code"],
        "DOCUMENT_NOT_TRUSTED"
    );
    assert!(got.get("data").is_none(), "{got}");
    let (status, got) = post(json!({"documentId": format!("sha256:{}", "0".repeat(64))})).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(
        got["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let (status, got) = post(json!({"documentId": "sha256:nothex"})).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(got["errors"][0]["extensions"]["code"], "BAD_REQUEST");

    // Without trusted_only: Apollo's automatic persisted queries.
    let hub = TestHub::start_with(common::open_config()).await;
    let apq = |with_text: bool| {
        let mut body = json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": mandate::documents::hash_of(other)}}});
        if with_text {
            body["query"] = other.into();
        }
        hub.client.post(hub.url("/graphql")).json(&body).send()
    };
    let first: serde_json::Value = apq(false).await.unwrap().json().await.unwrap();
    assert_eq!(
        first["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let sent: serde_json::Value = apq(true).await.unwrap().json().await.unwrap();
    assert!(counted(&sent).is_some(), "{sent}");
    let named: serde_json::Value = apq(false).await.unwrap().json().await.unwrap();
    assert_eq!(named, sent);
}

/// Automatic persisted queries remember a document for the caller that sent it
/// only: nobody else — another agency, or a request without a credential — can
/// tell by naming a hash which documents (and so which ids written into them)
/// others asked for. A remembered hash used to answer an anonymous request `401`
/// and an unknown one `400`.
#[tokio::test]
async fn a_remembered_document_is_named_only_by_the_caller_that_sent_it() {
    let root = std::env::temp_dir().join(format!("mandate-http-apq-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let keys = common::keys_file(
        &root,
        "apq",
        &[
            ("D-CIVIL_AFFAIRS", vec!["caseworker"], "mk_apq_civil".into()),
            ("D-HOUSING", vec!["inspector"], "mk_apq_housing".into()),
        ],
    );
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    let hub = TestHub::start_with(config).await;
    let doc = "{ buildings(first: 1) { edges { node { id } } } }";
    let hash = mandate::documents::hash_of(doc);
    let ask = |key: Option<&str>, purpose: &str, with_text: bool| {
        let mut body =
            json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}});
        if with_text {
            body["query"] = doc.into();
        }
        let mut req = hub
            .client
            .post(hub.url("/graphql"))
            .header("x-mandate-purpose", purpose)
            .header("x-mandate-case", "CASE-APQ-1")
            .json(&body);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let code = |v: &serde_json::Value| v["errors"][0]["extensions"]["code"].clone();
    let civil = Some("mk_apq_civil");
    let (status, sent) = ask(civil, "subsidy_review", true).await;
    assert_eq!(status, 200, "{sent}");
    let (status, named) = ask(civil, "subsidy_review", false).await;
    assert_eq!((status, &named), (200, &sent), "the sender names it");
    // Without a credential, a remembered hash and a never-seen one answer alike.
    let (status, anonymous) = ask(None, "subsidy_review", false).await;
    assert_eq!(status, 400, "{anonymous}");
    assert_eq!(code(&anonymous), "PERSISTED_QUERY_NOT_FOUND");
    // Another agency does not find it either.
    let (status, other) = ask(Some("mk_apq_housing"), "building_safety", false).await;
    assert_eq!(status, 400, "{other}");
    assert_eq!(code(&other), "PERSISTED_QUERY_NOT_FOUND");
}

/// Regression: a GET whose text held the word "mutation" was parsed to see
/// whether it is one (mutations go by POST only) before the nesting guard, and
/// a document of a few kilobytes nested deep enough overflowed the worker's
/// stack and aborted the hub — without a credential. Every parse of client
/// text now goes through the guarded parser (clippy.toml disallows the other).
// On tokio's worker threads (2 MiB stacks), as the hub serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_get_is_refused_and_the_hub_lives_on() {
    let hub = start(&[]).await;
    let depth = 3_000;
    let query = format!(
        "#mutation\n{{ a(x: {}1{}) }}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    for key in [None, Some("mk_edge_key")] {
        let mut req = hub
            .client
            .get(hub.url("/graphql"))
            .query(&[("query", query.as_str())])
            .header("x-mandate-purpose", "subsidy_review")
            .header("x-mandate-case", "CASE-DEEP-1");
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap();
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .to_string();
        match key {
            None => assert_eq!((status, code.as_str()), (401, "UNAUTHENTICATED"), "{body}"),
            Some(_) => assert_eq!(code, "QUERY_TOO_DEEP", "{body}"),
        }
    }
    let resp = hub
        .post_as(
            "mk_edge_key",
            "subsidy_review",
            "CASE-DEEP-1",
            "{ buildings(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200, "still serving");
}

/// The hub's own runs (a policy officer's preview, a draft's impact count) are
/// recorded with case numbers `PREVIEW:<draft>` / `IMPACT:<draft>`: a client
/// stating one is refused, so its records never pass for the hub's own.
#[tokio::test]
async fn a_client_cannot_state_the_hub_s_own_case_numbers() {
    let hub = start(&[]).await;
    for case in ["PREVIEW:draft-2e7889b2f8c0", "impact:draft-1", " Preview:x"] {
        let resp = hub
            .post_as(
                "mk_edge_key",
                "subsidy_review",
                case,
                "{ buildings(first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "PURPOSE_REQUIRED",
            "{case}: {body}"
        );
        assert!(body["data"].is_null(), "{body}");
    }
}

/// A statement header sent twice, or not readable as text, is refused: it used
/// to be read from its first copy, or skipped for `extensions.mandate`, so the
/// record could say something else than what the client sent.
#[tokio::test]
async fn a_statement_header_sent_twice_or_unreadable_is_refused() {
    let hub = start(&[]).await;
    let query = json!({
        "query": "{ buildings(first: 1) { edges { node { id } } } }",
        "extensions": {"mandate": {"purpose": "subsidy_review", "case": "CASE-EXT-1"}}
    });
    let send = |headers: Vec<(&'static str, reqwest::header::HeaderValue)>| {
        let mut req = hub
            .client
            .post(hub.url("/graphql"))
            .header("x-api-key", "mk_edge_key")
            .json(&query);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        async move {
            let body: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("none")
                .to_string()
        }
    };
    let v = reqwest::header::HeaderValue::from_static;
    // The control: the statement in the extensions alone is accepted.
    assert_eq!(send(vec![]).await, "none");
    for (headers, code) in [
        (
            vec![
                ("x-mandate-agency", v("D-CIVIL_AFFAIRS")),
                ("x-mandate-agency", v("D-HEALTH")),
            ],
            "AGENCY_MISMATCH",
        ),
        (
            vec![
                ("x-mandate-case", v("CASE-1")),
                ("x-mandate-case", v("CASE-2")),
            ],
            "PURPOSE_REQUIRED",
        ),
        (
            vec![(
                "x-mandate-case",
                reqwest::header::HeaderValue::from_bytes("案件-1".as_bytes()).unwrap(),
            )],
            "PURPOSE_REQUIRED",
        ),
        (
            vec![
                ("x-mandate-case", v("C").clone()),
                ("x-mandate-purpose", v("subsidy_review")),
            ],
            "none",
        ),
    ] {
        assert_eq!(send(headers.clone()).await, code, "{headers:?}");
    }
    // A too long case says so.
    let long = reqwest::header::HeaderValue::from_str(&"c".repeat(200)).unwrap();
    let resp = hub
        .client
        .post(hub.url("/graphql"))
        .header("x-api-key", "mk_edge_key")
        .header("x-mandate-case", long)
        .json(&query)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 128"),
        "{body}"
    );
}

/// Connections are bounded: one address may hold `server.max_connections_per_ip`
/// (more are closed as they are accepted), a connection idle for
/// `server.idle_timeout_secs` is closed, and a body that has not arrived whole
/// within `server.body_read_secs` is answered `408`. Idle and trickling
/// connections used to be held forever, so one host could exhaust the hub's
/// file descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_bounded_per_address_in_idleness_and_in_body_time() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    let mut config = common::test_config();
    config.server.max_connections_per_ip = 3;
    config.server.idle_timeout_secs = 1;
    config.server.header_read_secs = 1;
    config.server.body_read_secs = 1;
    let hub = TestHub::start_with(config).await;
    // Whether the hub closes `conn` within `within` (a read sees the end).
    let closed = |mut conn: TcpStream, within: std::time::Duration| async move {
        let mut buf = [0u8; 1024];
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout(within, conn.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    return (true, String::from_utf8_lossy(&seen).to_string())
                }
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                Err(_) => return (false, String::from_utf8_lossy(&seen).to_string()),
            }
        }
    };
    let refused = hub.metric("mandate_connections_refused_total").await;
    // The client's pooled connection is idle too: gone after the timeout.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // Three idle connections are held; a fourth from the same address is closed.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(hub.addr).await.unwrap());
    }
    let fourth = TcpStream::connect(hub.addr).await.unwrap();
    let (gone, _) = closed(fourth, std::time::Duration::from_millis(500)).await;
    assert!(gone, "a fourth connection from one address is closed");
    // The held connections are idle: closed after the idle timeout.
    for conn in held {
        let (gone, _) = closed(conn, std::time::Duration::from_secs(5)).await;
        assert!(gone, "an idle connection is closed");
    }
    // A head trickled a byte at a time (each byte restarting the idle
    // timeout) is cut off once its time is up.
    let mut trickle = TcpStream::connect(hub.addr).await.unwrap();
    trickle
        .write_all(b"POST /graphql HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let cut = loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if trickle.write_all(b"x").await.is_err() || started.elapsed().as_secs() > 6 {
            break started.elapsed();
        }
        let mut probe = [0u8; 64];
        match tokio::time::timeout(
            std::time::Duration::from_millis(1),
            trickle.read(&mut probe),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            _ => {}
        }
    };
    assert!(
        cut < std::time::Duration::from_secs(4),
        "a trickled head is cut off: {cut:?}"
    );
    // A trickled body is answered 408 once its time is up.
    let mut slow = TcpStream::connect(hub.addr).await.unwrap();
    slow.write_all(
        b"POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"query\":",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let (_, answer) = closed(slow, std::time::Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    // Once the connections are gone the address is served again, and the
    // refusal was counted.
    let resp = hub.client.get(hub.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(hub.metric("mandate_connections_refused_total").await > refused);
}

/// A credential may be bound to purposes (an API key's `purposes`, a token's
/// `purposes` claim, which `mandate token --purpose` writes): a request stating
/// another purpose is refused, even one its role is granted. Unbound, a
/// credential states any purpose its agency's lists name, as before.
#[tokio::test]
async fn a_credential_bound_to_a_purpose_states_no_other() {
    let root = std::env::temp_dir().join(format!("mandate-http-bound-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let keys = root.join("keys.toml");
    std::fs::write(
        &keys,
        format!(
            "[[key]]\nid = \"bound\"\nagency = \"D-CIVIL_AFFAIRS\"\nofficer = \"system:bound\"\nroles = [\"caseworker\"]\npurposes = [\"subsidy_review\"]\nsha256 = \"{}\"\n\n[[key]]\nid = \"free\"\nagency = \"D-CIVIL_AFFAIRS\"\nofficer = \"system:free\"\nroles = [\"caseworker\"]\nsha256 = \"{}\"\n",
            mandate::auth::hash_api_key("mk_bound_key"),
            mandate::auth::hash_api_key("mk_free_key"),
        ),
    )
    .unwrap();
    let mut config = common::test_config();
    config.auth.api_keys_file = keys.display().to_string();
    let hub = TestHub::start_with(config).await;
    let q = "{ buildings(first: 1) { edges { node { id } } } }";
    let code = |key: &'static str, purpose: &'static str| {
        let hub = &hub;
        async move {
            let body: serde_json::Value = hub
                .post_as(key, purpose, "CASE-BOUND-1", q, json!({}))
                .await
                .json()
                .await
                .unwrap();
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("none")
                .to_string()
        }
    };
    assert_eq!(code("mk_bound_key", "subsidy_review").await, "none");
    assert_eq!(
        code("mk_bound_key", "elderly_care").await,
        "PURPOSE_NOT_ALLOWED"
    );
    assert_eq!(code("mk_free_key", "elderly_care").await, "none");
}
