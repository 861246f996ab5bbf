//! Trace export: the spans of a request — continuing the caller's W3C trace —
//! reach the OpenTelemetry exporter with the Neo4j query and the audit write as
//! children. The SDK's in-memory exporter stands in for the OTLP collector; the
//! hub and Neo4j are real.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::TestHub;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;

#[tokio::test]
async fn a_request_is_traced_as_a_child_of_the_callers_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let config = common::open_config();
    tracing::subscriber::set_global_default(mandate::telemetry::subscriber(
        &config.log,
        Some(&provider),
    ))
    .expect("first subscriber of this test binary");
    let hub = TestHub::start_with(config).await;
    let body: serde_json::Value = hub
        .client
        .post(hub.url("/graphql"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&json!({"query": "{ resident(id: \"R00000042\") { id name } }"}))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["data"]["resident"]["id"], "R00000042", "{body:#}");
    // The request span closes just after the response is written.
    let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let mut spans = Vec::new();
    for _ in 0..50 {
        provider.force_flush().expect("flush");
        spans = exporter
            .get_finished_spans()
            .expect("spans")
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace)
            .collect();
        if spans.iter().any(|s| s.name == "request") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    let request = spans
        .iter()
        .find(|s| s.name == "request")
        .unwrap_or_else(|| panic!("request span exported in the caller's trace: {names:?}"));
    assert_eq!(
        request.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        "the caller's span is the parent"
    );
    for child in ["neo4j.query", "audit.append"] {
        let span = spans
            .iter()
            .find(|s| s.name == child)
            .unwrap_or_else(|| panic!("{child} in the trace: {names:?}"));
        assert_ne!(span.parent_span_id, SpanId::INVALID, "{child} has a parent");
    }
    // Values never reach the trace: no resident data in any attribute.
    let name = body["data"]["resident"]["name"].as_str().unwrap();
    for s in &spans {
        for kv in &s.attributes {
            assert!(
                !kv.value.as_str().contains(name),
                "span {} attribute {} carries a value",
                s.name,
                kv.key
            );
        }
    }
}

/// The OTLP exporter itself: spans leave as an OTLP/HTTP protobuf POST to the
/// collector's `/v1/traces` (a collector's base URL gets the path), sent through
/// the hub's own HTTP client on its runtime. A plain HTTP listener stands in for
/// the collector and keeps what it receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_over_otlp_http() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read the head, then as many body bytes as Content-Length says.
        loop {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the exporter closed before sending a request");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while buf.len() < end + 4 + length {
                    let n = socket.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
                return (head, buf[end + 4..].to_vec());
            }
        }
    });
    let log = mandate::LogConfig {
        otlp_endpoint: format!("http://{addr}"),
        service_name: "mandate-otlp-test".to_string(),
        ..mandate::LogConfig::default()
    };
    let provider = mandate::telemetry::otlp_provider(&log).unwrap().unwrap();
    provider
        .tracer("mandate")
        .in_span("graphql.request", |_| {});
    // The batch exporter's thread waits for the runtime: flush off it.
    let flushed = tokio::task::spawn_blocking(move || {
        let r = provider.force_flush();
        let _ = provider.shutdown();
        r
    })
    .await
    .unwrap();
    assert!(flushed.is_ok(), "{flushed:?}");
    let (head, body) = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert!(head.starts_with("post /v1/traces http/1.1"), "{head}");
    assert!(
        head.contains("content-type: application/x-protobuf"),
        "{head}"
    );
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("graphql.request"),
        "the span's name is in the export"
    );
    assert!(
        text.contains("mandate-otlp-test"),
        "the service name is in the export"
    );
}
