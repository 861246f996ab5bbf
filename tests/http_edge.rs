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
