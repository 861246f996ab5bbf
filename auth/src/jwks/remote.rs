//! The `auth.jwt.jwks_url` source: which URLs are allowed (and where redirects may go), the
//! bounded fetch (5 s, 1 MiB, 3 redirects), the background refresh that swaps the key set, and
//! the rate-limited early refetch asked for by tokens naming an unknown `kid`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use tokio::sync::Notify;

use super::{parse_jwks, JwksKey, JwksKeys, JwksOrigin};
use crate::error::AuthConfigError;
use crate::jwt::loggable;

/// Deadline for one fetch of `auth.jwt.jwks_url`: connecting, the request and the whole body.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest JWKS response body read from `auth.jwt.jwks_url`, in bytes.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Most redirects followed when fetching `auth.jwt.jwks_url`.
const MAX_JWKS_REDIRECTS: usize = 3;

/// Least time between two early refetches asked for by tokens with an unknown `kid`.
const EARLY_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The only hosts `auth.jwt.jwks_url` may reach over plain `http://`.
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// The `auth.jwt.jwks_url` source.
pub(super) struct RemoteJwks {
    /// The URL, checked by [`parse_jwks_url`].
    pub(super) url: Url,
    /// Client with the fetch timeout and redirect policy.
    client: reqwest::Client,
    /// The file's keys, put first in every new set.
    file_keys: Vec<JwksKey>,
    /// Wakes the background task for an early refetch.
    wake: Notify,
    /// Origin of `next_early_ms`.
    started: Instant,
    /// Milliseconds since `started` before which no early refetch is asked for.
    next_early_ms: AtomicU64,
}

/// Checks `auth.jwt.jwks_url`: `https://`, or `http://` to 127.0.0.1, ::1 or localhost; no
/// credentials in it (they would end up in logs).
pub(crate) fn parse_jwks_url(text: &str) -> Result<Url, AuthConfigError> {
    let fail = |problem: &'static str| AuthConfigError::JwksUrl {
        url: shown_url(text),
        problem,
    };
    let url = Url::parse(text).map_err(|_| fail("it is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail(
            "it carries credentials; a JWKS is public, serve it without them",
        ));
    }
    match url.scheme() {
        "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" if is_loopback_http(&url) => Ok(url),
        "http" => Err(fail(
            "plain `http://` is allowed only to 127.0.0.1, ::1 or localhost; use `https://`",
        )),
        "https" => Err(fail("it has no host")),
        _ => Err(fail("it must be an `https://` URL")),
    }
}

/// A rejected `auth.jwt.jwks_url` as error messages show it: without user and password, and
/// wholly redacted if it has an `@` that is not part of a parsed host URL.
fn shown_url(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if url.has_host() => {
            if url.set_username("").is_ok() && url.set_password(None).is_ok() {
                url.to_string()
            } else {
                "[redacted]".to_owned()
            }
        }
        _ if text.contains('@') => "[redacted]".to_owned(),
        _ => text.to_owned(),
    }
}

/// An `http://` URL to 127.0.0.1, ::1 or localhost.
fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && url
            .host_str()
            .is_some_and(|host| LOOPBACK_HOSTS.contains(&host))
}

/// Whether a fetch that started at `first` may follow a redirect to `next`: to `https://`,
/// or to loopback `http://` when it started at loopback `http://`. Never to anything else.
fn redirect_allowed(first: Option<&Url>, next: &Url) -> bool {
    let credentials = !next.username().is_empty() || next.password().is_some();
    !credentials
        && (next.scheme() == "https"
            || (is_loopback_http(next) && first.is_some_and(is_loopback_http)))
}

/// The redirect policy of the JWKS client: at most 3, each as [`redirect_allowed`].
fn jwks_redirect(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    if attempt.previous().len() > MAX_JWKS_REDIRECTS {
        attempt.error("too many redirects")
    } else if redirect_allowed(attempt.previous().first(), attempt.url()) {
        attempt.follow()
    } else {
        attempt.error("refused a redirect to a URL that is not https://")
    }
}

/// `error` and its sources on one line, for a fetch failure's reason.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}

impl RemoteJwks {
    /// The source for `url` (already checked), with the file's keys to put first.
    pub(super) fn new(url: Url, file_keys: Vec<JwksKey>) -> Result<RemoteJwks, AuthConfigError> {
        let client = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .connect_timeout(JWKS_FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::custom(jwks_redirect))
            .user_agent(concat!("mandate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuthConfigError::JwksFetch {
                url: url.to_string(),
                reason: error_chain(&e),
            })?;
        Ok(RemoteJwks {
            url,
            client,
            file_keys,
            wake: Notify::new(),
            started: Instant::now(),
            next_early_ms: AtomicU64::new(0),
        })
    }

    /// Fetches the URL (within 5 s, at most 1 MiB) and parses it like the file.
    pub(super) async fn fetch(&self) -> Result<Vec<JwksKey>, AuthConfigError> {
        let url = self.url.as_str();
        let fail = |reason: String| AuthConfigError::JwksFetch {
            url: url.to_owned(),
            reason,
        };
        let mut response = self
            .client
            .get(self.url.clone())
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(|e| fail(error_chain(&e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!("the server answered HTTP {status}")));
        }
        let too_large = || {
            fail(format!(
                "the response is larger than {MAX_JWKS_BYTES} bytes"
            ))
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(error_chain(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| fail("the response is not UTF-8 text".to_owned()))?;
        parse_jwks(JwksOrigin::Url(url), text)
    }

    /// The file's keys, then `url_keys` less any whose `kid` a file key has: on a clash the
    /// file, which the operator pinned, wins.
    pub(super) fn combine(&self, url_keys: Vec<JwksKey>) -> Vec<JwksKey> {
        let mut keys = self.file_keys.clone();
        for key in url_keys {
            if let Some(kid) = key.kid.as_deref() {
                if self.file_keys.iter().any(|k| k.kid.as_deref() == Some(kid)) {
                    tracing::warn!(
                        jwks.url = %self.url,
                        kid = loggable(kid),
                        "JWKS URL key skipped: the JWKS file has a key with the same kid"
                    );
                    continue;
                }
            }
            keys.push(key);
        }
        keys
    }

    /// Wakes the background task for a refetch, unless one was asked for in the last 30 s.
    /// Cheap and lock-free: called on the request path.
    pub(super) fn ask_early_refetch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_early_ms.load(Ordering::Relaxed);
        if now < next {
            return;
        }
        let pause = u64::try_from(EARLY_REFETCH_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        let claimed = self
            .next_early_ms
            .compare_exchange(
                next,
                now.saturating_add(pause),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        if claimed {
            tracing::debug!(jwks.url = %self.url, "JWKS refetch asked for: unknown kid");
            self.wake.notify_one();
        }
    }
}

impl JwksKeys {
    /// Refetches the URL; on success swaps in the new set, on failure keeps the current one
    /// and logs a warning. Returns the number of keys in use.
    pub(crate) async fn refresh(&self) -> Result<usize, AuthConfigError> {
        let Some(remote) = &self.remote else {
            return Ok(self.current.load().len());
        };
        match remote.fetch().await {
            Ok(url_keys) => {
                let keys = remote.combine(url_keys);
                let count = keys.len();
                let same_kids = {
                    let old = self.current.load();
                    old.len() == count
                        && old
                            .iter()
                            .zip(&keys)
                            .all(|(a, b)| a.kid == b.kid && a.alg == b.alg)
                };
                self.current.store(Arc::new(keys));
                if same_kids {
                    tracing::debug!(jwks.url = %remote.url, jwks_keys = count, "JWKS refreshed");
                } else {
                    tracing::info!(jwks.url = %remote.url, jwks_keys = count, "JWKS keys replaced");
                }
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(
                    jwks.url = %remote.url,
                    reason = %error,
                    "JWKS refresh failed; keeping the last good keys"
                );
                Err(error)
            }
        }
    }
}

/// The background task: refetches the JWKS URL every `every`, or early when a token named an
/// unknown `kid`. Runs until aborted (when its [`Authenticator`](crate::Authenticator) is dropped).
pub(super) async fn refresh_jwks_every(jwks: Arc<JwksKeys>, every: Duration) {
    let Some(remote) = jwks.remote.as_ref() else {
        return;
    };
    loop {
        let early = tokio::select! {
            () = tokio::time::sleep(every) => false,
            () = remote.wake.notified() => true,
        };
        if early {
            tracing::info!(jwks.url = %remote.url, "JWKS refetch early: a token named an unknown kid");
        }
        // A failure is logged by `refresh` and keeps the last good keys.
        let _ = jwks.refresh().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use jsonwebtoken::{Algorithm, EncodingKey};
    use mandate_codes::Code;
    use reqwest::Url;
    use serde_json::json;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::{redirect_allowed, MAX_JWKS_BYTES};
    use crate::test_support::{
        bearer, claims, ec_key, public_jwk, rsa_key, rsa_other_key, sign, with, Scratch, AUDIENCE,
        ISSUER,
    };
    use crate::{AuthConfig, AuthConfigError, AuthError, Authenticator, JwtConfig};

    #[test]
    fn redirects_are_followed_only_to_https_or_between_loopback_urls() {
        let url = |text: &str| Url::parse(text).expect("url");
        let https = url("https://idp.example.gov/jwks");
        let loopback = url("http://127.0.0.1:8080/jwks");
        let allowed = [
            (&https, "https://keys.example.gov/jwks"),
            (&loopback, "https://keys.example.gov/jwks"),
            (&loopback, "http://localhost:9000/jwks"),
        ];
        for (first, next) in allowed {
            assert!(
                redirect_allowed(Some(first), &url(next)),
                "{first} -> {next}"
            );
        }
        let refused = [
            (&https, "http://keys.example.gov/jwks"),
            (&https, "http://127.0.0.1/jwks"),
            (&loopback, "http://keys.example.gov/jwks"),
            (&https, "ftp://keys.example.gov/jwks"),
            (&https, "https://a:b@keys.example.gov/jwks"),
        ];
        for (first, next) in refused {
            assert!(
                !redirect_allowed(Some(first), &url(next)),
                "{first} -> {next}"
            );
        }
    }

    /// What the test JWKS server answers.
    #[derive(Clone)]
    enum Served {
        /// This body, with a Content-Length.
        Json(String),
        /// This body in 64 KiB chunks, without a Content-Length.
        Chunked(String),
        /// An empty answer with this status.
        Status(u16),
        /// A 302 to this location.
        Redirect(String),
    }

    /// A real HTTP/1.1 server on 127.0.0.1 answering `/jwks.json` with what it is told to serve,
    /// one request per connection.
    struct JwksServer {
        url: String,
        served: Arc<Mutex<Served>>,
        hits: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl JwksServer {
        async fn start(initial: Served) -> JwksServer {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local address");
            let served = Arc::new(Mutex::new(initial));
            let hits = Arc::new(AtomicUsize::new(0));
            let (now_served, counter) = (served.clone(), hits.clone());
            let task = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(answer(stream, now_served.clone(), counter.clone()));
                }
            });
            JwksServer {
                url: format!("http://{addr}/jwks.json"),
                served,
                hits,
                task,
            }
        }

        fn serve(&self, what: Served) {
            *self.served.lock().expect("lock") = what;
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    impl Drop for JwksServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Reads one request's head from `stream`, answers it as `served` says, and closes.
    async fn answer(mut stream: TcpStream, served: Arc<Mutex<Served>>, hits: Arc<AtomicUsize>) {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let response = if head.starts_with(b"GET /jwks.json ") {
            hits.fetch_add(1, Ordering::SeqCst);
            let served = served.lock().expect("lock").clone();
            match served {
                Served::Json(text) => response(200, &[JSON], text.as_bytes()),
                Served::Chunked(text) => {
                    let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                        transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                        .to_vec();
                    for chunk in text.as_bytes().chunks(64 * 1024) {
                        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        out.extend_from_slice(chunk);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                    out
                }
                Served::Status(code) => response(code, &[], b""),
                Served::Redirect(to) => response(302, &[("location", &to)], b""),
            }
        } else {
            response(404, &[], b"")
        };
        // The client may hang up early (a body that is too large): that is not an error here.
        let _ = stream.write_all(&response).await;
        let _ = stream.shutdown().await;
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    /// An HTTP/1.1 response with a Content-Length, closing the connection.
    fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// JWT settings with `url` as the only JWKS source; refreshes are triggered by the tests.
    fn url_config(url: &str) -> AuthConfig {
        AuthConfig {
            jwt: JwtConfig {
                jwks_url: url.to_owned(),
                jwks_refresh_secs: 3600,
                issuer: ISSUER.to_owned(),
                audience: AUDIENCE.to_owned(),
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        }
    }

    fn rsa_jwks(key: &EncodingKey, kid: &str) -> String {
        json!({ "keys": [public_jwk(key, Algorithm::RS256, Some(kid))] }).to_string()
    }

    #[tokio::test]
    async fn jwks_url_keys_verify_and_a_refresh_rotates_them() {
        let server = JwksServer::start(Served::Json(rsa_jwks(&rsa_key(), "rsa-1"))).await;
        let auth = Authenticator::load(&url_config(&server.url))
            .await
            .expect("load");
        let old = sign(Algorithm::RS256, Some("rsa-1"), &claims(), &rsa_key());
        let new = sign(Algorithm::RS256, Some("rsa-2"), &claims(), &rsa_other_key());
        let verified = bearer(&auth, &old).map(|p| p.officer);
        assert_eq!(verified.ok().as_deref(), Some("officer-17"));
        // Only RS256 keys are published: ES256 is not an accepted algorithm.
        let es = sign(Algorithm::ES256, Some("ec-1"), &claims(), &ec_key());
        assert!(matches!(
            bearer(&auth, &es),
            Err(AuthError::AlgorithmNotAllowed)
        ));

        // The identity provider rotates: only the other key is published now.
        server.serve(Served::Json(rsa_jwks(&rsa_other_key(), "rsa-2")));
        assert_eq!(auth.refresh_jwks().await.expect("refresh"), 1);
        let verified = bearer(&auth, &new).map(|p| p.agency);
        assert_eq!(verified.ok().as_deref(), Some("D-CIVIL_AFFAIRS"));
        let error = bearer(&auth, &old).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("kid")),
            "{error:?}"
        );
        assert_eq!(error.code(), Code::Unauthenticated);
        // The removed key verifies nothing, with or without a `kid`.
        let no_kid = sign(Algorithm::RS256, None, &claims(), &rsa_key());
        assert!(matches!(
            bearer(&auth, &no_kid),
            Err(AuthError::BadToken(_))
        ));
        let relabelled = sign(Algorithm::RS256, Some("rsa-2"), &claims(), &rsa_key());
        assert!(matches!(
            bearer(&auth, &relabelled),
            Err(AuthError::BadToken(_))
        ));
    }

    #[tokio::test]
    async fn unknown_kid_is_rejected_now_and_refetched_once_in_the_background() {
        let server = JwksServer::start(Served::Json(rsa_jwks(&rsa_key(), "rsa-1"))).await;
        let auth = Authenticator::load(&url_config(&server.url))
            .await
            .expect("load");
        assert_eq!(server.hits(), 1);
        server.serve(Served::Json(rsa_jwks(&rsa_other_key(), "rsa-2")));
        let new = sign(Algorithm::RS256, Some("rsa-2"), &claims(), &rsa_other_key());
        // Answered from the current set: the new kid is not known yet.
        let error = bearer(&auth, &new).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("kid")),
            "{error:?}"
        );
        assert_eq!(error.code(), Code::Unauthenticated);
        // The background task refetches, and then the new key verifies.
        let deadline = Instant::now() + Duration::from_secs(10);
        while bearer(&auth, &new).is_err() {
            assert!(
                Instant::now() < deadline,
                "the early refetch did not happen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(server.hits(), 2, "one early refetch, however many requests");
        // Within 30 s, more unknown kids ask for no further fetch.
        for kid in ["rsa-9", "rsa-10", "ec-7"] {
            let alg = if kid.starts_with("ec") {
                Algorithm::ES256
            } else {
                Algorithm::RS256
            };
            let key = if kid.starts_with("ec") {
                ec_key()
            } else {
                rsa_key()
            };
            for _ in 0..20 {
                assert!(bearer(&auth, &sign(alg, Some(kid), &claims(), &key)).is_err());
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(server.hits(), 2, "early refetches are rate-limited");
    }

    #[tokio::test]
    async fn failed_refreshes_keep_the_last_good_keys() {
        let server = JwksServer::start(Served::Json(rsa_jwks(&rsa_key(), "rsa-1"))).await;
        let auth = Authenticator::load(&url_config(&server.url))
            .await
            .expect("load");
        let token = sign(Algorithm::RS256, Some("rsa-1"), &claims(), &rsa_key());
        assert!(bearer(&auth, &token).is_ok());
        let jwk = public_jwk(&rsa_key(), Algorithm::RS256, Some("rsa-1"));
        let padded = format!("{{\"keys\": [{jwk}]{}}}", " ".repeat(MAX_JWKS_BYTES));
        let failures = [
            (Served::Json("<html>oops</html>".to_owned()), "is malformed"),
            (Served::Json("{\"keys\": []}".to_owned()), "`keys` is empty"),
            (
                Served::Json(
                    json!({ "keys": [with(jwk.clone(), "d", json!("AAAA"))] }).to_string(),
                ),
                "key #1 (kid `rsa-1`): it holds private key material",
            ),
            (
                Served::Json(
                    json!({ "keys": [with(jwk.clone(), "kty", json!("oct"))] }).to_string(),
                ),
                "`kty` oct",
            ),
            (Served::Status(500), "HTTP 500"),
            (Served::Status(404), "HTTP 404"),
            (Served::Json(padded.clone()), "larger than 1048576 bytes"),
            (Served::Chunked(padded), "larger than 1048576 bytes"),
            (
                Served::Redirect("http://example.invalid/jwks.json".to_owned()),
                "redirect",
            ),
        ];
        for (served, needle) in failures {
            server.serve(served);
            let error = auth.refresh_jwks().await.expect_err(needle);
            let message = error.to_string();
            assert!(message.contains(&server.url), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
            assert!(!message.contains('\n'), "one line: {message}");
            assert!(
                bearer(&auth, &token).is_ok(),
                "the last good keys are kept after {needle:?}"
            );
        }
        // A good answer afterwards is taken.
        server.serve(Served::Chunked(rsa_jwks(&rsa_other_key(), "rsa-2")));
        assert_eq!(auth.refresh_jwks().await.expect("refresh"), 1);
        assert!(bearer(&auth, &token).is_err());
    }

    #[tokio::test]
    async fn unusable_jwks_url_at_start_up_is_an_error_naming_it() {
        // Nothing listens on this port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let url = format!("http://127.0.0.1:{port}/jwks.json");
        let error = Authenticator::load(&url_config(&url))
            .await
            .expect_err("must fail");
        assert!(
            matches!(&error, AuthConfigError::JwksFetch { url: u, .. } if *u == url),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot fetch the JWKS from `{url}`: ")),
            "{message}"
        );
        assert!(message.contains("connect"), "{message}");

        let server = JwksServer::start(Served::Status(503)).await;
        let cases = [
            (Served::Status(503), "HTTP 503"),
            (Served::Json("garbage".to_owned()), "is malformed"),
            (
                Served::Json("{\"keys\": []}".to_owned()),
                "leave `auth.jwt.jwks_url` empty",
            ),
            (
                Served::Redirect("http://example.invalid/jwks.json".to_owned()),
                "redirect",
            ),
        ];
        for (served, needle) in cases {
            server.serve(served);
            let message = Authenticator::load(&url_config(&server.url))
                .await
                .expect_err(needle)
                .to_string();
            assert!(message.contains(&server.url), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
        let error = Authenticator::load(&url_config("http://idp.example.gov/jwks.json"))
            .await
            .expect_err("plain http elsewhere");
        assert!(
            matches!(error, AuthConfigError::JwksUrl { .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn keys_from_the_jwks_file_and_url_are_both_used() {
        let scratch = Scratch::new();
        let ec_only = json!({ "keys": [public_jwk(&ec_key(), Algorithm::ES256, Some("ec-1"))] });
        let server = JwksServer::start(Served::Json(rsa_jwks(&rsa_key(), "rsa-1"))).await;
        let mut cfg = url_config(&server.url);
        cfg.jwt.jwks_file = scratch.write("jwks.json", &ec_only.to_string());
        let auth = Authenticator::load(&cfg).await.expect("load");
        let rs = sign(Algorithm::RS256, Some("rsa-1"), &claims(), &rsa_key());
        let es = sign(Algorithm::ES256, Some("ec-1"), &claims(), &ec_key());
        assert!(bearer(&auth, &rs).is_ok());
        assert!(bearer(&auth, &es).is_ok());
        // The URL's keys are replaced on refresh; the file's stay.
        server.serve(Served::Json(rsa_jwks(&rsa_other_key(), "rsa-2")));
        assert_eq!(auth.refresh_jwks().await.expect("refresh"), 2);
        assert!(bearer(&auth, &es).is_ok());
        assert!(bearer(&auth, &rs).is_err());

        // On a `kid` clash the file's key wins; the URL's is not used.
        let pinned = json!({ "keys": [public_jwk(&rsa_key(), Algorithm::RS256, Some("rsa-1"))] });
        cfg.jwt.jwks_file = scratch.write("pinned.json", &pinned.to_string());
        server.serve(Served::Json(rsa_jwks(&rsa_other_key(), "rsa-1")));
        let auth = Authenticator::load(&cfg).await.expect("load");
        assert!(bearer(&auth, &rs).is_ok());
        let impostor = sign(Algorithm::RS256, Some("rsa-1"), &claims(), &rsa_other_key());
        let error = bearer(&auth, &impostor).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("signature")),
            "{error:?}"
        );
        assert!(!format!("{auth:?}").contains("AQAB"));
    }
}
