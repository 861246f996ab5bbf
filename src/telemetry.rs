//! Logging and tracing: `tracing` with fixed messages and structured fields,
//! pretty or JSON on stderr, and — with `log.otlp_endpoint` — the same spans
//! exported over OTLP/HTTP (protobuf, batched) through the HTTP client the hub
//! already has (reqwest), on the hub's runtime: no second HTTP stack, no gRPC.
//! A W3C `traceparent` on an incoming request makes its span a child of the
//! caller's.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
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
    let provider = otlp_provider(log)?;
    let _ = subscriber(log, provider.as_ref()).try_init();
    Ok(Telemetry { provider })
}

/// The tracer provider exporting to `log.otlp_endpoint` over OTLP/HTTP, if one is
/// configured. Call from inside the tokio runtime: exports are sent on it.
///
/// # Errors
/// If the endpoint is not an `http(s)://` URL or no exporter can be built for it.
pub fn otlp_provider(log: &LogConfig) -> Result<Option<SdkTracerProvider>, String> {
    if log.otlp_endpoint.is_empty() {
        return Ok(None);
    }
    let endpoint = traces_url(&log.otlp_endpoint).ok_or_else(|| {
        format!(
            "log.otlp_endpoint `{}` is not an http(s) URL",
            log.otlp_endpoint
        )
    })?;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "the OTLP exporter needs the async runtime".to_string())?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(OtlpHttp {
            client: reqwest::Client::new(),
            runtime,
        })
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| format!("log.otlp_endpoint `{}`: {e}", log.otlp_endpoint))?;
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(log.service_name.clone())
                    .build(),
            )
            .build(),
    ))
}

/// The OTLP/HTTP traces URL of a configured endpoint: a collector's base URL
/// (`http://collector:4318`) gets the signal path `/v1/traces`; a URL with a path
/// is used as given.
fn traces_url(endpoint: &str) -> Option<String> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))?;
    if rest.is_empty() {
        return None;
    }
    Some(match rest.find('/') {
        Some(i) if rest.len() > i + 1 => endpoint.to_string(),
        _ => format!("{}/v1/traces", endpoint.trim_end_matches('/')),
    })
}

/// OTLP/HTTP through reqwest. The batch exporter runs on a thread of its own;
/// each export is sent as a task on the hub's runtime and awaited from there.
#[derive(Debug, Clone)]
struct OtlpHttp {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// How long one export may take.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpHttp {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .timeout(EXPORT_TIMEOUT)
                .send()
                .await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok::<_, opentelemetry_http::HttpError>(out)
        });
        sent.await
            .map_err(|e| Box::new(e) as opentelemetry_http::HttpError)?
    }
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

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn a_collector_base_url_gets_the_traces_path() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            traces_url("https://otel.example:4318/").as_deref(),
            Some("https://otel.example:4318/v1/traces")
        );
        assert_eq!(
            traces_url("http://c:4318/custom/traces").as_deref(),
            Some("http://c:4318/custom/traces")
        );
        assert_eq!(traces_url("c:4317"), None);
        assert_eq!(traces_url("http://"), None);
    }
}
