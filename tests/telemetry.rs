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
