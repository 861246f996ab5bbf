//! Logging and tracing: `tracing` with fixed messages and structured fields,
//! pretty or JSON on stderr, and — with `log.otlp_endpoint` — the same spans
//! exported over OTLP/gRPC (batched, from inside the runtime). A W3C
//! `traceparent` on an incoming request makes its span a child of the caller's.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogConfig, LogFormat};

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes it.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(p) = self.provider {
            if let Err(e) = p.shutdown() {
                eprintln!("mandate: trace export did not shut down cleanly: {e}");
            }
        }
    }
}

/// Installs the global subscriber (`RUST_LOG` overrides `log.level`). Call from
/// inside the tokio runtime: the OTLP batch exporter runs on it.
///
/// # Errors
/// If `log.otlp_endpoint` is set but no exporter can be built for it.
pub fn init(log: &LogConfig) -> Result<Telemetry, String> {
    let provider = if log.otlp_endpoint.is_empty() {
        None
    } else {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(log.otlp_endpoint.clone())
            .build()
            .map_err(|e| format!("log.otlp_endpoint `{}`: {e}", log.otlp_endpoint))?;
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    Resource::builder()
                        .with_service_name(log.service_name.clone())
                        .build(),
                )
                .build(),
        )
    };
    let _ = subscriber(log, provider.as_ref()).try_init();
    Ok(Telemetry { provider })
}

/// The subscriber [`init`] installs: the filter, the log lines, and spans sent to
/// `provider` if given (tests pass one with an in-memory exporter).
pub fn subscriber(
    log: &LogConfig,
    provider: Option<&SdkTracerProvider>,
) -> impl tracing::Subscriber + Send + Sync {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match log.format {
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Pretty => lines.compact().boxed(),
    };
    let traces = provider.map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("mandate"))
            .boxed()
    });
    tracing_subscriber::registry()
        .with(lines)
        .with(traces)
        .with(filter)
}

/// Makes `span` a child of the W3C trace context in `headers`, if any.
pub fn continue_trace(span: &tracing::Span, headers: &poem::http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let cx = TraceContextPropagator::new().extract(&Headers(headers));
        let _ = span.set_parent(cx);
    }
}

struct Headers<'a>(&'a poem::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
