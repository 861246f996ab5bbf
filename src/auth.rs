//! Authentication: turns a request's credential headers into a verified [`Principal`].
//!
//! This module owns the credentials that machine clients of government departments present:
//!
//! * **API keys**, sent as `X-Api-Key: <key>` or `Authorization: ApiKey <key>`. The hub stores
//!   only their SHA-256 ([`hash_api_key`]) in a TOML file named by `auth.api_keys_file`; each
//!   entry binds one key to an agency, an officer and roles.
//! * **JWTs**, sent as `Authorization: Bearer <token>`. RS256 and ES256 tokens are verified
//!   against the public keys of a JWKS file (`auth.jwt.jwks_file`), of a JWKS URL
//!   (`auth.jwt.jwks_url`, the identity provider's in production), or of both; HS256 with a
//!   shared secret (`auth.jwt.hs256_secret`) exists for development only. No other algorithm is
//!   accepted, and the token header's `alg` is checked against that list before any
//!   verification code runs.
//!
//! Both JWKS sources go through one parser with the same checks. The file is read once; the URL
//! is fetched at start-up (a failure stops the start) and again every
//! `auth.jwt.jwks_refresh_secs` by a background task. The key set is swapped whole
//! ([`ArcSwap`]), so verification stays synchronous and never waits for the network: a refresh
//! that fails keeps the last good keys, and a token naming an unknown `kid` is rejected from the
//! current set while asking the background task for one early refetch (at most one per 30 s).
//!
//! It does not decide what a principal may see — that is the policies' job — and it never
//! falls back to a broader principal: every failure is an [`AuthError`], whose message is safe
//! to show the client and whose [`code`](AuthError::code) goes into `extensions.code`.
//!
//! Logs carry the API key's `id` or the token's `kid`, never a key or a token.
//!
//! ```
//! use mandate::auth::{hash_api_key, generate_api_key};
//!
//! let key = generate_api_key();          // hand this to the department once
//! let stored = hash_api_key(&key);       // put this in the keys file's `sha256`
//! assert!(key.starts_with("mk_"));
//! assert_eq!(stored.len(), 64);
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mandate_resolvers::Code;
use poem::http::header::AUTHORIZATION;
use poem::http::{HeaderMap, HeaderValue};
use rand::RngCore as _;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::sync::Notify;

/// The header that carries an API key.
const API_KEY_HEADER: &str = "x-api-key";

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size).
const MIN_HS256_SECRET_BYTES: usize = 32;

/// Largest clock skew `auth.jwt.leeway_secs` may allow.
const MAX_LEEWAY_SECS: u64 = 300;

/// Smallest and largest RSA modulus accepted in the JWKS, in bytes (2048 and 8192 bits).
const RSA_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;

/// Smallest `auth.jwt.jwks_refresh_secs` accepted.
const MIN_JWKS_REFRESH_SECS: u64 = 10;

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

/// Authentication settings: the `[auth]` section of the hub's TOML config.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// TOML file of API keys (`[[key]]` entries with `id`, `agency`, `officer`, `roles` and the
    /// key's `sha256`); empty = API keys disabled.
    pub api_keys_file: String,
    /// Development only: serve every request, without credentials, as an unrestricted
    /// reader (no responsibility list applies, nothing is masked). Off by default.
    pub open: bool,
    /// JSON Web Token verification.
    pub jwt: JwtConfig,
}

/// JWT settings: the `[auth.jwt]` section.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// HS256 shared secret, for development only; empty = off. At least 32 bytes.
    pub hs256_secret: String,
    /// Path to a JWKS JSON file with RS256/ES256 public keys; empty = off.
    pub jwks_file: String,
    /// URL of a JWKS with RS256/ES256 public keys (the identity provider's), fetched at
    /// start-up and every `jwks_refresh_secs`; empty = off. Must be `https://`; `http://` is
    /// allowed only to 127.0.0.1, ::1 or localhost. May be set together with `jwks_file`: keys
    /// from both are used.
    pub jwks_url: String,
    /// Seconds between refetches of `jwks_url` (default 300, at least 10).
    pub jwks_refresh_secs: u64,
    /// Required `iss`; empty = not checked.
    pub issuer: String,
    /// Required `aud`; empty = not checked (tokens minted for any audience are then accepted,
    /// so set it in production).
    pub audience: String,
    /// Clock skew allowed on exp/nbf, seconds (default 30, at most 300).
    pub leeway_secs: u64,
    /// Which agencies each JWKS key (by `kid`) may sign tokens for, e.g.
    /// `{ "ca-2026" = ["D-CIVIL_AFFAIRS"] }`. When set, a token signed by a key not
    /// listed, or whose `agency` claim is not among its key's, is refused: one
    /// department's identity provider cannot speak for another. Empty = any trusted key
    /// may sign for any agency (a warning at start-up).
    pub key_agencies: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            hs256_secret: String::new(),
            jwks_file: String::new(),
            jwks_url: String::new(),
            jwks_refresh_secs: 300,
            issuer: String::new(),
            audience: String::new(),
            leeway_secs: 30,
            key_agencies: std::collections::BTreeMap::new(),
        }
    }
}

/// Like a derived `Debug`, with the shared secret redacted.
impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = if self.hs256_secret.is_empty() {
            ""
        } else {
            "[redacted]"
        };
        f.debug_struct("JwtConfig")
            .field("hs256_secret", &secret)
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field("jwks_refresh_secs", &self.jwks_refresh_secs)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .field("key_agencies", &self.key_agencies)
            .finish()
    }
}

impl JwtConfig {
    /// Checks `jwks_url` and `jwks_refresh_secs`; returns the parsed URL, or `None` if the URL
    /// source is off.
    ///
    /// # Errors
    /// [`AuthConfigError::JwksUrl`] if the URL is not `https://` (or `http://` to a loopback
    /// host), carries credentials or does not parse; [`AuthConfigError::JwksRefreshTooShort`]
    /// if the refresh interval is under 10 seconds.
    pub fn check_jwks_url(&self) -> Result<Option<Url>, AuthConfigError> {
        if self.jwks_refresh_secs < MIN_JWKS_REFRESH_SECS {
            return Err(AuthConfigError::JwksRefreshTooShort(self.jwks_refresh_secs));
        }
        if self.jwks_url.is_empty() {
            return Ok(None);
        }
        parse_jwks_url(&self.jwks_url).map(Some)
    }
}

/// A verified caller: who sent the request, for which agency, with which roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The agency (department) the credential belongs to, e.g. `D-CIVIL_AFFAIRS`.
    pub agency: String,
    /// The officer or system account: the key entry's `officer`, or the token's `sub`.
    pub officer: String,
    /// Roles granted by the key entry or the token's `roles` claim; possibly empty.
    pub roles: Vec<String>,
    /// How the credential was verified.
    pub method: AuthMethod,
}

/// How a [`Principal`] was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// An API key from the keys file.
    ApiKey,
    /// A signed JSON Web Token.
    Jwt,
}

impl AuthMethod {
    /// The name used in logs and in the serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Jwt => "jwt",
        }
    }
}

/// Why authentication failed. Messages are client-safe (no key material, no library internals).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carries no credential.
    #[error("no credential: send `Authorization: Bearer <token>` or `X-Api-Key: <key>`")]
    Missing,
    /// The credential headers cannot be read, use an unknown scheme, or carry more than one
    /// credential.
    #[error("the credential headers are malformed or ambiguous: send exactly one credential")]
    Malformed,
    /// The API key is not in the keys file (or API keys are disabled).
    #[error("the API key is not known")]
    UnknownKey,
    /// The token does not verify; the reason is client-safe.
    #[error("the token is not valid: {0}")]
    BadToken(String),
    /// The token's `exp` has passed (beyond the allowed leeway).
    #[error("the token has expired")]
    Expired,
    /// The token header names an algorithm this hub does not accept (`none`, or one not
    /// configured).
    #[error("the token's signing algorithm is not allowed")]
    AlgorithmNotAllowed,
}

impl AuthError {
    /// The stable code for `extensions.code`.
    pub fn code(&self) -> Code {
        match self {
            AuthError::Expired => Code::TokenExpired,
            AuthError::Missing
            | AuthError::Malformed
            | AuthError::UnknownKey
            | AuthError::BadToken(_)
            | AuthError::AlgorithmNotAllowed => Code::Unauthenticated,
        }
    }

    /// A fixed name for the `reason` log field.
    fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::UnknownKey => "unknown_key",
            AuthError::BadToken(_) => "bad_token",
            AuthError::Expired => "expired",
            AuthError::AlgorithmNotAllowed => "algorithm_not_allowed",
        }
    }

    fn bad_token(reason: &str) -> AuthError {
        AuthError::BadToken(reason.to_owned())
    }
}

/// The authentication settings cannot be used. Messages name the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// A configured file cannot be read.
    #[error("cannot read the {what} `{path}`: {source}")]
    Read {
        /// Which file: "API keys file" or "JWKS file".
        what: &'static str,
        /// The path as configured.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The API keys file is not valid TOML or does not have the expected shape.
    #[error("the API keys file `{path}` is malformed: {message}")]
    KeysFile {
        /// The path as configured.
        path: String,
        /// What is wrong, with its line and column.
        message: String,
    },
    /// One `[[key]]` entry of the API keys file is unusable.
    #[error("the API keys file `{path}`, [[key]] #{index} (id `{id}`): {problem}")]
    KeyEntry {
        /// The path as configured.
        path: String,
        /// The entry's position in the file, from 1.
        index: usize,
        /// The entry's `id`.
        id: String,
        /// What is wrong.
        problem: String,
    },
    /// The JWKS (from the file or the URL) is not valid JSON or not a key set.
    #[error("the {what} `{path}` is malformed: {message}")]
    JwksFile {
        /// Where it came from: "JWKS file" or "JWKS served at".
        what: &'static str,
        /// The path or URL as configured.
        path: String,
        /// What is wrong, with its line and column where known.
        message: String,
    },
    /// One key of the JWKS (from the file or the URL) is unusable.
    #[error("the {what} `{path}`, key #{index} (kid `{kid}`): {problem}")]
    JwksKey {
        /// Where it came from: "JWKS file" or "JWKS served at".
        what: &'static str,
        /// The path or URL as configured.
        path: String,
        /// The key's position in `keys`, from 1.
        index: usize,
        /// The key's `kid`, or `-` if it has none.
        kid: String,
        /// What is wrong.
        problem: String,
    },
    /// `auth.jwt.hs256_secret` is set but too short to be a secret.
    #[error("`auth.jwt.hs256_secret` must be at least {MIN_HS256_SECRET_BYTES} bytes")]
    WeakHs256Secret,
    /// `auth.jwt.leeway_secs` is larger than allowed.
    #[error("`auth.jwt.leeway_secs` is {0}; at most {MAX_LEEWAY_SECS} is allowed")]
    LeewayTooLarge(u64),
    /// `auth.jwt.jwks_url` is not a URL keys may be fetched from.
    #[error("`auth.jwt.jwks_url` `{url}` is not allowed: {problem}")]
    JwksUrl {
        /// The URL as configured (without any credentials it carried).
        url: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// `auth.jwt.jwks_refresh_secs` is shorter than allowed.
    #[error("`auth.jwt.jwks_refresh_secs` is {0}; at least {MIN_JWKS_REFRESH_SECS} is required")]
    JwksRefreshTooShort(u64),
    /// The JWKS cannot be fetched from `auth.jwt.jwks_url` (network, HTTP status, size).
    #[error("cannot fetch the JWKS from `{url}`: {reason}")]
    JwksFetch {
        /// The URL as configured.
        url: String,
        /// Why, on one line.
        reason: String,
    },
}

/// Verifies request credentials against the keys loaded at start-up (and, for
/// `auth.jwt.jwks_url`, refreshed in the background).
pub struct Authenticator {
    /// API key entries by the SHA-256 of the key.
    api_keys: HashMap<[u8; 32], ApiKeyEntry>,
    /// The HS256 development key, if configured.
    hs256: Option<DecodingKey>,
    /// Public keys from the JWKS file and URL.
    jwks: Arc<JwksKeys>,
    /// The background refetch of `auth.jwt.jwks_url`; stopped when this is dropped.
    refresher: Option<tokio::task::AbortHandle>,
    /// `iss`/`aud`/time checks shared by all algorithms (its `algorithms` is set per token).
    validation: Validation,
    /// `auth.jwt.key_agencies`: the agencies each JWKS key may sign for; `None` = any.
    key_agencies: Option<HashMap<String, HashSet<String>>>,
}

/// The JWKS keys in use, swapped whole when the URL's keys are refreshed.
struct JwksKeys {
    /// The file's keys, then the URL's (less any whose `kid` the file already has).
    current: ArcSwap<Vec<JwksKey>>,
    /// Where the URL's keys come from, if `auth.jwt.jwks_url` is set.
    remote: Option<RemoteJwks>,
}

/// The `auth.jwt.jwks_url` source.
struct RemoteJwks {
    /// The URL, checked by [`parse_jwks_url`].
    url: Url,
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

/// One API key entry, as loaded.
struct ApiKeyEntry {
    /// Label for logs.
    id: String,
    /// SHA-256 of the key.
    hash: [u8; 32],
    /// Who the key authenticates.
    principal: Principal,
}

/// One public key from the JWKS file or URL.
#[derive(Clone)]
struct JwksKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// Counts only: never prints key material.
impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("api_keys", &self.api_keys.len())
            .field("hs256", &self.hs256.is_some())
            .field("jwks_keys", &self.jwks.current.load().len())
            .field(
                "jwks_url",
                &self.jwks.remote.as_ref().map(|r| r.url.as_str()),
            )
            .finish_non_exhaustive()
    }
}

/// The credential found in the headers, not yet verified.
enum Credential<'a> {
    ApiKey(&'a str),
    Bearer(&'a str),
}

impl Authenticator {
    /// Loads the API keys and the JWKS file, and fetches the JWKS URL (within 5 seconds).
    /// Errors name the file or URL and what is wrong.
    ///
    /// With `auth.jwt.jwks_url` set, this spawns the task that refetches it every
    /// `auth.jwt.jwks_refresh_secs` (so it must run inside a tokio runtime); the task stops when
    /// the authenticator is dropped.
    ///
    /// # Errors
    /// If a configured file cannot be read or holds an unusable entry, if the JWKS URL is not
    /// allowed, cannot be fetched or serves an unusable key set, if the HS256 secret is shorter
    /// than 32 bytes, if the leeway is over 300 seconds, or if the refresh interval is under 10.
    pub async fn load(cfg: &AuthConfig) -> Result<Authenticator, AuthConfigError> {
        let jwt = &cfg.jwt;
        if jwt.leeway_secs > MAX_LEEWAY_SECS {
            return Err(AuthConfigError::LeewayTooLarge(jwt.leeway_secs));
        }
        let jwks_url = jwt.check_jwks_url()?;
        let api_keys = if cfg.api_keys_file.is_empty() {
            HashMap::new()
        } else {
            load_api_keys(&cfg.api_keys_file)?
        };
        let hs256 = if jwt.hs256_secret.is_empty() {
            None
        } else {
            if jwt.hs256_secret.len() < MIN_HS256_SECRET_BYTES {
                return Err(AuthConfigError::WeakHs256Secret);
            }
            let key = DecodingKey::from_secret(jwt.hs256_secret.as_bytes())
                .map_err(|_| AuthConfigError::WeakHs256Secret)?;
            tracing::warn!("HS256 shared-secret tokens are enabled; this is for development only");
            Some(key)
        };
        let file_keys = if jwt.jwks_file.is_empty() {
            Vec::new()
        } else {
            load_jwks_file(&jwt.jwks_file)?
        };
        let (jwks, refresher) = match jwks_url {
            None => {
                let jwks = JwksKeys {
                    current: ArcSwap::from_pointee(file_keys),
                    remote: None,
                };
                (Arc::new(jwks), None)
            }
            Some(url) => {
                let remote = RemoteJwks::new(url, file_keys)?;
                let keys = remote.combine(remote.fetch().await?);
                let jwks = Arc::new(JwksKeys {
                    current: ArcSwap::from_pointee(keys),
                    remote: Some(remote),
                });
                let every = Duration::from_secs(jwt.jwks_refresh_secs);
                let task = tokio::spawn(refresh_jwks_every(jwks.clone(), every));
                (jwks, Some(task.abort_handle()))
            }
        };
        let jwks_keys = jwks.current.load().len();

        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = jwt.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if jwt.issuer.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&[jwt.issuer.as_str()]);
            required.push("iss");
        }
        if jwt.audience.is_empty() {
            validation.validate_aud = false;
            validation.aud = None;
        } else {
            validation.validate_aud = true;
            validation.set_audience(&[jwt.audience.as_str()]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);

        let jwt_on = hs256.is_some() || jwks_keys > 0;
        if jwt_on && jwt.audience.is_empty() {
            tracing::warn!("JWT audience is not checked; set auth.jwt.audience");
        }
        if api_keys.is_empty() && !jwt_on {
            tracing::warn!("no credential source is configured; every request will be rejected");
        }
        tracing::info!(
            api_keys = api_keys.len(),
            jwks_keys,
            jwks.url = jwks.remote.as_ref().map_or("", |r| r.url.as_str()),
            hs256 = hs256.is_some(),
            issuer_checked = !jwt.issuer.is_empty(),
            audience_checked = !jwt.audience.is_empty(),
            "authentication configured"
        );
        let key_agencies = if jwt.key_agencies.is_empty() {
            if !jwt.jwks_file.is_empty() || !jwt.jwks_url.is_empty() {
                tracing::warn!("auth.jwt.key_agencies is empty: every trusted JWKS key may sign tokens for any agency");
            }
            None
        } else {
            Some(
                jwt.key_agencies
                    .iter()
                    .map(|(kid, agencies)| (kid.clone(), agencies.iter().cloned().collect()))
                    .collect(),
            )
        };
        Ok(Authenticator {
            api_keys,
            hs256,
            jwks,
            refresher,
            validation,
            key_agencies,
        })
    }

    /// Refetches `auth.jwt.jwks_url` now, as the background task does: on success the URL's
    /// keys are replaced; on failure the current keys stay and a warning is logged. Returns the
    /// number of JWKS keys in use afterwards (without a URL nothing is fetched).
    ///
    /// # Errors
    /// Why the refetch failed (the current keys are then still in use).
    pub async fn refresh_jwks(&self) -> Result<usize, AuthConfigError> {
        self.jwks.refresh().await
    }

    /// Verifies the request's credential.
    ///
    /// # Errors
    /// [`AuthError`] if there is no credential, more than one, or one that does not verify.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let credential = match extract_credential(headers) {
            Ok(credential) => credential,
            Err(error) => {
                tracing::info!(reason = error.reason(), "credential rejected");
                return Err(error);
            }
        };
        match credential {
            Credential::ApiKey(key) => self.verify_api_key(key),
            Credential::Bearer(token) => self.verify_jwt(token),
        }
    }

    fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        match self.api_keys.get(&digest) {
            Some(entry) if hashes_match(&entry.hash, &digest) => {
                tracing::debug!(
                    method = "api_key",
                    key_id = %entry.id,
                    agency = %entry.principal.agency,
                    "credential verified"
                );
                Ok(entry.principal.clone())
            }
            _ => {
                let error = AuthError::UnknownKey;
                tracing::info!(
                    method = "api_key",
                    reason = error.reason(),
                    "credential rejected"
                );
                Err(error)
            }
        }
    }

    fn verify_jwt(&self, token: &str) -> Result<Principal, AuthError> {
        let mut kid_for_log = String::from("-");
        let result = self.verify_jwt_inner(token, &mut kid_for_log);
        match &result {
            Ok(principal) => tracing::debug!(
                method = "jwt",
                kid = %kid_for_log,
                agency = %principal.agency,
                "credential verified"
            ),
            Err(error) => tracing::info!(
                method = "jwt",
                kid = %kid_for_log,
                reason = error.reason(),
                "credential rejected"
            ),
        }
        result
    }

    fn verify_jwt_inner(
        &self,
        token: &str,
        kid_for_log: &mut String,
    ) -> Result<Principal, AuthError> {
        // 1. Read the header ourselves and check `alg` against the allow-list before any
        //    library decoding path sees the token: `none` and unconfigured algorithms stop here.
        let mut parts = token.split('.');
        let (Some(header_b64), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::bad_token(
                "it is not a signed JWT (three base64url parts)",
            ));
        };
        let header_bytes = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| AuthError::bad_token("its header is not base64url"))?;
        let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
            .map_err(|_| AuthError::bad_token("its header is not a JSON object"))?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            Some(_) => return Err(AuthError::bad_token("its header's `alg` is not a string")),
            None => return Err(AuthError::bad_token("its header has no `alg`")),
        };
        let kid = match header.get("kid") {
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(AuthError::bad_token("its header's `kid` is not a string")),
            None => None,
        };
        if let Some(kid) = kid {
            *kid_for_log = loggable(kid).to_owned();
        }
        if header.contains_key("crit") {
            return Err(AuthError::bad_token(
                "its header has `crit` extensions this hub does not understand",
            ));
        }
        // One snapshot of the JWKS keys for the whole check; a refresh meanwhile swaps in a
        // new set without disturbing this one.
        let jwks = self.jwks.current.load();
        let algorithm = match alg {
            "HS256" if self.hs256.is_some() => Algorithm::HS256,
            "RS256" if jwks.iter().any(|k| k.alg == Algorithm::RS256) => Algorithm::RS256,
            "ES256" if jwks.iter().any(|k| k.alg == Algorithm::ES256) => Algorithm::ES256,
            _ => {
                if let ("RS256" | "ES256", Some(kid)) = (alg, kid) {
                    self.jwks.note_kid(&jwks, kid);
                }
                tracing::debug!(alg = loggable(alg), "token algorithm not allowed");
                return Err(AuthError::AlgorithmNotAllowed);
            }
        };

        // 2. Pick the one key for that algorithm. HS256 uses only the configured secret; the
        //    JWKS keys are only ever used with their own algorithm (no algorithm confusion).
        let (key, signer) = match algorithm {
            Algorithm::HS256 => (
                self.hs256.as_ref().ok_or(AuthError::AlgorithmNotAllowed)?,
                None,
            ),
            _ => {
                let k = select_jwks_key(&jwks, algorithm, kid).inspect_err(|_| {
                    if let Some(kid) = kid {
                        self.jwks.note_kid(&jwks, kid);
                    }
                })?;
                (&k.key, Some(k.kid.as_deref()))
            }
        };

        // 3. Verify signature, exp, nbf, iss, aud.
        let mut validation = self.validation.clone();
        validation.algorithms = vec![algorithm];
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| map_jwt_error(&e))?;

        // 4. The hub's own claims, and whether the signing key may speak for the agency.
        let principal = principal_from_claims(&data.claims)?;
        if let (Some(bound), Some(signer)) = (&self.key_agencies, signer) {
            let allowed = signer
                .and_then(|kid| bound.get(kid))
                .is_some_and(|agencies| agencies.contains(&principal.agency));
            if !allowed {
                return Err(AuthError::bad_token(
                    "its signing key may not sign for the agency it names",
                ));
            }
        }
        Ok(principal)
    }
}

/// Stops the background JWKS refetch.
impl Drop for Authenticator {
    fn drop(&mut self) {
        if let Some(task) = &self.refresher {
            task.abort();
        }
    }
}

/// Picks the one key of `keys` that may verify a token with `alg` and `kid`.
fn select_jwks_key<'k>(
    keys: &'k [JwksKey],
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<&'k JwksKey, AuthError> {
    let mut candidates = keys.iter().filter(|k| k.alg == alg);
    match kid {
        Some(kid) => candidates
            .find(|k| k.kid.as_deref() == Some(kid))
            .ok_or_else(|| AuthError::bad_token("its `kid` names no key this hub trusts")),
        None => match (candidates.next(), candidates.next()) {
            (Some(only), None) => Ok(only),
            _ => Err(AuthError::bad_token(
                "it has no `kid` and more than one key could verify it",
            )),
        },
    }
}

/// Compares two key hashes in constant time.
fn hashes_match(stored: &[u8; 32], presented: &[u8; 32]) -> bool {
    bool::from(stored.ct_eq(presented))
}

/// Finds exactly one credential in the headers.
fn extract_credential(headers: &HeaderMap) -> Result<Credential<'_>, AuthError> {
    let mut found: Option<Credential<'_>> = None;
    for value in headers.get_all(AUTHORIZATION) {
        put_credential(&mut found, parse_authorization(value)?)?;
    }
    for value in headers.get_all(API_KEY_HEADER) {
        let key = header_text(value)?;
        if key.contains(' ') {
            return Err(malformed("space inside the API key"));
        }
        put_credential(&mut found, Credential::ApiKey(key))?;
    }
    found.ok_or(AuthError::Missing)
}

/// Records a credential; a second one makes the request ambiguous.
fn put_credential<'a>(
    found: &mut Option<Credential<'a>>,
    credential: Credential<'a>,
) -> Result<(), AuthError> {
    if found.is_some() {
        return Err(malformed("more than one credential"));
    }
    *found = Some(credential);
    Ok(())
}

/// Parses `Authorization: Bearer <token>` or `Authorization: ApiKey <key>`.
fn parse_authorization(value: &HeaderValue) -> Result<Credential<'_>, AuthError> {
    let text = header_text(value)?;
    let Some((scheme, rest)) = text.split_once(' ') else {
        return Err(malformed(
            "Authorization has no credential after the scheme",
        ));
    };
    let credential = rest.trim_start_matches(' ');
    if credential.is_empty() || credential.contains(' ') {
        return Err(malformed("Authorization credential is empty or has spaces"));
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Credential::Bearer(credential))
    } else if scheme.eq_ignore_ascii_case("apikey") {
        Ok(Credential::ApiKey(credential))
    } else {
        Err(malformed(
            "Authorization scheme is neither Bearer nor ApiKey",
        ))
    }
}

/// The header's text: visible ASCII and spaces only, trimmed, not empty.
fn header_text(value: &HeaderValue) -> Result<&str, AuthError> {
    let bytes = value.as_bytes();
    if !bytes.iter().all(|b| *b == b' ' || b.is_ascii_graphic()) {
        return Err(malformed("header value is not visible ASCII"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| malformed("header value is not visible ASCII"))?
        .trim_matches(' ');
    if text.is_empty() {
        return Err(malformed("header value is empty"));
    }
    Ok(text)
}

fn malformed(problem: &'static str) -> AuthError {
    tracing::debug!(problem, "credential headers rejected");
    AuthError::Malformed
}

/// `value` if it is short visible ASCII, else a placeholder: token fields are attacker input.
fn loggable(value: &str) -> &str {
    if value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic()) {
        value
    } else {
        "<unprintable>"
    }
}

/// Maps a verification failure to a client-safe error; the library's detail goes to the log.
fn map_jwt_error(error: &jsonwebtoken::errors::Error) -> AuthError {
    tracing::debug!(error = %error, "token verification failed");
    match error.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => AuthError::AlgorithmNotAllowed,
        ErrorKind::InvalidSignature => AuthError::bad_token("its signature does not verify"),
        ErrorKind::ImmatureSignature => {
            AuthError::bad_token("it is not valid yet (`nbf` is in the future)")
        }
        ErrorKind::InvalidIssuer => AuthError::bad_token("its `iss` is not the expected issuer"),
        ErrorKind::InvalidAudience => AuthError::bad_token("its `aud` does not name this hub"),
        ErrorKind::MissingRequiredClaim(claim) => match spec_claim(claim) {
            Some(claim) => AuthError::BadToken(format!("the token has no `{claim}` claim")),
            None => AuthError::bad_token("a required claim is missing"),
        },
        ErrorKind::InvalidClaimFormat(claim) => match spec_claim(claim) {
            Some(claim) => AuthError::BadToken(format!("its `{claim}` claim has the wrong type")),
            None => AuthError::bad_token("a claim has the wrong type"),
        },
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => AuthError::bad_token("it is not a well-formed JWT"),
        _ => AuthError::bad_token("it could not be verified"),
    }
}

/// The registered claim names the library reports, so only known text reaches the client.
fn spec_claim(claim: &str) -> Option<&'static str> {
    ["exp", "nbf", "iss", "aud", "sub"]
        .into_iter()
        .find(|c| *c == claim)
}

/// Builds the principal from verified claims: `sub`, `agency`, optional `roles`.
fn principal_from_claims(claims: &Map<String, Value>) -> Result<Principal, AuthError> {
    let officer = required_string_claim(claims, "sub")?;
    let agency = required_string_claim(claims, "agency")?;
    let roles = match claims.get("roles") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(role) if !role.is_empty() => Ok(role.clone()),
                _ => Err(AuthError::bad_token(
                    "its `roles` claim must be an array of non-empty strings",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(AuthError::bad_token(
                "its `roles` claim must be an array of non-empty strings",
            ))
        }
    };
    Ok(Principal {
        agency,
        officer,
        roles,
        method: AuthMethod::Jwt,
    })
}

fn required_string_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<String, AuthError> {
    match claims.get(name) {
        Some(Value::String(value)) if !value.trim().is_empty() => Ok(value.clone()),
        Some(Value::String(_)) => Err(AuthError::BadToken(format!("its `{name}` claim is empty"))),
        Some(_) => Err(AuthError::BadToken(format!(
            "its `{name}` claim is not a string"
        ))),
        None => Err(AuthError::BadToken(format!(
            "the token has no `{name}` claim"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// The API keys file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    key: Vec<KeyFileEntry>,
}

/// One `[[key]]` of the API keys file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileEntry {
    id: String,
    agency: String,
    officer: String,
    #[serde(default)]
    roles: Vec<String>,
    sha256: String,
}

fn read_file(what: &'static str, path: &str) -> Result<String, AuthConfigError> {
    std::fs::read_to_string(path).map_err(|source| AuthConfigError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn load_api_keys(path: &str) -> Result<HashMap<[u8; 32], ApiKeyEntry>, AuthConfigError> {
    let text = read_file("API keys file", path)?;
    let file: KeysFile = toml::from_str(&text).map_err(|e| AuthConfigError::KeysFile {
        path: path.to_owned(),
        message: toml_error_message(&text, &e),
    })?;
    if file.key.is_empty() {
        return Err(AuthConfigError::KeysFile {
            path: path.to_owned(),
            message: "it has no [[key]] entries; to turn API keys off, leave \
                      `auth.api_keys_file` empty"
                .to_owned(),
        });
    }
    let mut by_hash: HashMap<[u8; 32], ApiKeyEntry> = HashMap::with_capacity(file.key.len());
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (position, entry) in file.key.into_iter().enumerate() {
        let index = position + 1;
        let fail = |problem: String| AuthConfigError::KeyEntry {
            path: path.to_owned(),
            index,
            id: entry.id.clone(),
            problem,
        };
        if entry.id.trim().is_empty() {
            return Err(fail("`id` is empty".to_owned()));
        }
        if let Some(first) = ids.get(&entry.id) {
            return Err(fail(format!("`id` is already used by [[key]] #{first}")));
        }
        if entry.agency.trim().is_empty() {
            return Err(fail("`agency` is empty".to_owned()));
        }
        if entry.officer.trim().is_empty() {
            return Err(fail("`officer` is empty".to_owned()));
        }
        if entry.roles.iter().any(|r| r.trim().is_empty()) {
            return Err(fail("`roles` has an empty role".to_owned()));
        }
        let Some(hash) = parse_sha256_hex(&entry.sha256) else {
            return Err(fail("`sha256` must be 64 lowercase hex digits".to_owned()));
        };
        if let Some(other) = by_hash.get(&hash) {
            return Err(fail(format!(
                "`sha256` is the same as [[key]] `{}`'s: one key cannot name two principals",
                other.id
            )));
        }
        ids.insert(entry.id.clone(), index);
        let principal = Principal {
            agency: entry.agency,
            officer: entry.officer,
            roles: entry.roles,
            method: AuthMethod::ApiKey,
        };
        by_hash.insert(
            hash,
            ApiKeyEntry {
                id: entry.id,
                hash,
                principal,
            },
        );
    }
    Ok(by_hash)
}

/// `line L, column C: message` for a TOML error, on one line.
fn toml_error_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let before = text.as_bytes().get(..span.start).unwrap_or(text.as_bytes());
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let [high, low] = *pair else { return None };
        *slot = (nibble(high)? << 4) | nibble(low)?;
    }
    Some(out)
}

/// A JWKS document: `{"keys": [...]}`.
#[derive(Deserialize)]
struct JwksFile {
    keys: Vec<Map<String, Value>>,
}

/// Where a JWKS text came from, for its error messages.
#[derive(Debug, Clone, Copy)]
enum JwksOrigin<'a> {
    /// `auth.jwt.jwks_file`: the path.
    File(&'a str),
    /// `auth.jwt.jwks_url`: the URL.
    Url(&'a str),
}

impl<'a> JwksOrigin<'a> {
    /// The `what` of the error variants.
    fn what(self) -> &'static str {
        match self {
            JwksOrigin::File(_) => "JWKS file",
            JwksOrigin::Url(_) => "JWKS served at",
        }
    }

    /// The path or URL.
    fn location(self) -> &'a str {
        match self {
            JwksOrigin::File(path) | JwksOrigin::Url(path) => path,
        }
    }

    /// The configuration key that turns this source off.
    fn config_key(self) -> &'static str {
        match self {
            JwksOrigin::File(_) => "auth.jwt.jwks_file",
            JwksOrigin::Url(_) => "auth.jwt.jwks_url",
        }
    }
}

fn load_jwks_file(path: &str) -> Result<Vec<JwksKey>, AuthConfigError> {
    let text = read_file("JWKS file", path)?;
    parse_jwks(JwksOrigin::File(path), &text)
}

/// Parses and checks a JWKS document, from the file or the URL: the same rules for both.
fn parse_jwks(origin: JwksOrigin<'_>, text: &str) -> Result<Vec<JwksKey>, AuthConfigError> {
    let what = origin.what();
    let path = origin.location();
    let file: JwksFile = serde_json::from_str(text).map_err(|e| AuthConfigError::JwksFile {
        what,
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if file.keys.is_empty() {
        return Err(AuthConfigError::JwksFile {
            what,
            path: path.to_owned(),
            message: format!(
                "`keys` is empty; to turn JWKS off, leave `{}` empty",
                origin.config_key()
            ),
        });
    }
    let mut keys: Vec<JwksKey> = Vec::with_capacity(file.keys.len());
    let mut kids: HashSet<String> = HashSet::new();
    for (position, jwk) in file.keys.iter().enumerate() {
        let fail = |kid: Option<&str>, problem: &str| AuthConfigError::JwksKey {
            what,
            path: path.to_owned(),
            index: position + 1,
            kid: kid.unwrap_or("-").to_owned(),
            problem: problem.to_owned(),
        };
        let kid = match jwk.get("kid") {
            None => None,
            Some(Value::String(kid)) if !kid.is_empty() => Some(kid.clone()),
            Some(_) => return Err(fail(None, "`kid` must be a non-empty string")),
        };
        let fail = |problem: &str| fail(kid.as_deref(), problem);
        if let Some(kid) = &kid {
            if !kids.insert(kid.clone()) {
                return Err(fail("another key has the same `kid`"));
            }
        }
        let key = parse_jwk(jwk).map_err(|problem| fail(&problem))?;
        keys.push(JwksKey {
            kid,
            alg: key.0,
            key: key.1,
        });
    }
    Ok(keys)
}

/// Checks one JWK and builds its verification key. Errors are the problem, for the message.
fn parse_jwk(jwk: &Map<String, Value>) -> Result<(Algorithm, DecodingKey), String> {
    let member = |name: &str| -> Result<Option<&str>, String> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("`{name}` must be a string")),
        }
    };
    let required = |name: &str| -> Result<&str, String> {
        member(name)?.ok_or_else(|| format!("`{name}` is missing"))
    };
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        URL_SAFE_NO_PAD
            .decode(required(name)?)
            .map_err(|_| format!("`{name}` is not base64url without padding"))
    };
    if let Some(usage) = member("use")? {
        if usage != "sig" {
            return Err(format!("`use` is `{usage}`; only `sig` keys are accepted"));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err("`key_ops` does not include `verify`".to_owned());
        }
    }
    let alg = member("alg")?;
    match required("kty")? {
        "RSA" => {
            if ["d", "p", "q", "dp", "dq", "qi", "oth"]
                .iter()
                .any(|m| jwk.contains_key(*m))
            {
                return Err("it holds private key material; publish public keys only".to_owned());
            }
            if !matches!(alg, None | Some("RS256")) {
                return Err("an RSA key's `alg` must be RS256 (or absent)".to_owned());
            }
            let n = bytes("n")?;
            let e = bytes("e")?;
            let modulus_len = n.iter().skip_while(|b| **b == 0).count();
            if !RSA_MODULUS_BYTES.contains(&modulus_len) {
                return Err("the RSA modulus must be 2048 to 8192 bits".to_owned());
            }
            let exponent = e
                .iter()
                .skip_while(|b| **b == 0)
                .copied()
                .collect::<Vec<u8>>();
            let odd = exponent.last().is_some_and(|b| b & 1 == 1);
            if exponent.is_empty() || exponent.len() > 8 || !odd || exponent == [1] {
                return Err("the RSA exponent `e` is not a valid public exponent".to_owned());
            }
            Ok((
                Algorithm::RS256,
                DecodingKey::from_rsa_raw_components(&n, &e),
            ))
        }
        "EC" => {
            if jwk.contains_key("d") {
                return Err("it holds private key material; publish public keys only".to_owned());
            }
            if !matches!(alg, None | Some("ES256")) {
                return Err("an EC key's `alg` must be ES256 (or absent)".to_owned());
            }
            if required("crv")? != "P-256" {
                return Err("only `crv` P-256 is accepted".to_owned());
            }
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("P-256 `x` and `y` must be 32 bytes each".to_owned());
            }
            let key = DecodingKey::from_ec_components(required("x")?, required("y")?)
                .map_err(|_| "the EC key cannot be decoded".to_owned())?;
            // Building a verifier parses the point: a point not on the curve fails here.
            jsonwebtoken::crypto::verify("", b"", &key, Algorithm::ES256)
                .map_err(|_| "the EC point is not on the P-256 curve".to_owned())?;
            Ok((Algorithm::ES256, key))
        }
        "oct" => Err("`kty` oct (a shared secret) is not accepted in the JWKS".to_owned()),
        other => Err(format!("`kty` `{other}` is not accepted; use RSA or EC")),
    }
}

// ---------------------------------------------------------------------------------------------
// The JWKS URL
// ---------------------------------------------------------------------------------------------

/// Checks `auth.jwt.jwks_url`: `https://`, or `http://` to 127.0.0.1, ::1 or localhost; no
/// credentials in it (they would end up in logs).
fn parse_jwks_url(text: &str) -> Result<Url, AuthConfigError> {
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
    fn new(url: Url, file_keys: Vec<JwksKey>) -> Result<RemoteJwks, AuthConfigError> {
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
    async fn fetch(&self) -> Result<Vec<JwksKey>, AuthConfigError> {
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
    fn combine(&self, url_keys: Vec<JwksKey>) -> Vec<JwksKey> {
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
    fn ask_early_refetch(&self) {
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
    /// Asks for an early refetch if `kid` names no key of `keys` (the caller's snapshot) and a
    /// JWKS URL is configured. The token itself is judged against `keys`.
    fn note_kid(&self, keys: &[JwksKey], kid: &str) {
        if let Some(remote) = &self.remote {
            if !keys.iter().any(|k| k.kid.as_deref() == Some(kid)) {
                remote.ask_early_refetch();
            }
        }
    }

    /// Refetches the URL; on success swaps in the new set, on failure keeps the current one
    /// and logs a warning. Returns the number of keys in use.
    async fn refresh(&self) -> Result<usize, AuthConfigError> {
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
/// unknown `kid`. Runs until aborted (when its [`Authenticator`] is dropped).
async fn refresh_jwks_every(jwks: Arc<JwksKeys>, every: Duration) {
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

// ---------------------------------------------------------------------------------------------
// Key tools
// ---------------------------------------------------------------------------------------------

/// The stored form of an API key: lowercase hex SHA-256 of the key.
pub fn hash_api_key(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// A new random API key (32 random bytes, base64url, prefixed "mk_").
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("mk_{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    //! Real keys and real signatures throughout: the RSA and P-256 keys are the test-only PEMs
    //! in `tests/fixtures/auth/`, from which each test derives its JWKS.

    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{encode, get_current_timestamp, EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const SECRET: &str = "a-development-secret-of-at-least-32-bytes";
    const ISSUER: &str = "https://idp.example.gov";
    const AUDIENCE: &str = "mandate-hub";

    /// A scratch directory removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("mandate-auth-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create scratch dir");
            Scratch(dir)
        }

        fn write(&self, name: &str, text: &str) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, text).expect("write scratch file");
            path.to_string_lossy().into_owned()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/auth/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).expect("read fixture")
    }

    fn rsa_key() -> EncodingKey {
        EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).expect("rsa pem")
    }

    fn rsa_other_key() -> EncodingKey {
        EncodingKey::from_rsa_pem(&fixture("rsa-other-private.pem")).expect("rsa pem")
    }

    fn ec_key() -> EncodingKey {
        EncodingKey::from_ec_pem(&fixture("p256-private.pem")).expect("ec pem")
    }

    /// The public JWK of `key` with `kid`, as an identity provider would publish it.
    fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: Option<&str>) -> Value {
        let jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
        let mut value = serde_json::to_value(jwk).expect("jwk json");
        if let (Some(kid), Some(map)) = (kid, value.as_object_mut()) {
            map.insert("kid".to_owned(), json!(kid));
            map.insert("use".to_owned(), json!("sig"));
        }
        value
    }

    fn standard_jwks() -> Value {
        json!({ "keys": [
            public_jwk(&rsa_key(), Algorithm::RS256, Some("rsa-1")),
            public_jwk(&ec_key(), Algorithm::ES256, Some("ec-1")),
        ]})
    }

    /// An authenticator with HS256, the standard JWKS, issuer and audience.
    async fn jwt_auth(scratch: &Scratch) -> Authenticator {
        let jwks = scratch.write("jwks.json", &standard_jwks().to_string());
        Authenticator::load(&AuthConfig {
            open: false,
            api_keys_file: String::new(),
            jwt: JwtConfig {
                hs256_secret: SECRET.to_owned(),
                jwks_file: jwks,
                issuer: ISSUER.to_owned(),
                audience: AUDIENCE.to_owned(),
                leeway_secs: 30,
                ..JwtConfig::default()
            },
        })
        .await
        .expect("load")
    }

    fn claims() -> Value {
        json!({
            "sub": "officer-17",
            "agency": "D-CIVIL_AFFAIRS",
            "roles": ["subsidy_reviewer"],
            "iss": ISSUER,
            "aud": AUDIENCE,
            "exp": get_current_timestamp() + 600,
        })
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        if let Some(map) = claims.as_object_mut() {
            if value.is_null() {
                map.remove(name);
            } else {
                map.insert(name.to_owned(), value);
            }
        }
        claims
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, key).expect("encode")
    }

    fn secret_key(secret: &[u8]) -> EncodingKey {
        EncodingKey::from_secret(secret).expect("hmac key")
    }

    fn hs256(claims: &Value) -> String {
        sign(
            Algorithm::HS256,
            None,
            claims,
            &secret_key(SECRET.as_bytes()),
        )
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = poem::http::HeaderName::from_bytes(name.as_bytes()).expect("name");
            map.append(name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    fn bearer(auth: &Authenticator, token: &str) -> Result<Principal, AuthError> {
        auth.authenticate(&headers(&[("authorization", &format!("Bearer {token}"))]))
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    // --- API keys -------------------------------------------------------------------------

    async fn keys_file(scratch: &Scratch, key: &str) -> Authenticator {
        let text = format!(
            r#"
[[key]]
id = "civil-affairs-subsidy-system"
agency = "D-CIVIL_AFFAIRS"
officer = "system:subsidy-review"
roles = ["subsidy_reviewer"]
sha256 = "{}"

[[key]]
id = "police-records"
agency = "D-POLICE"
officer = "system:records"
sha256 = "{}"
"#,
            hash_api_key(key),
            hash_api_key("some-other-key"),
        );
        let path = scratch.write("keys.toml", &text);
        Authenticator::load(&AuthConfig {
            open: false,
            api_keys_file: path,
            ..AuthConfig::default()
        })
        .await
        .expect("load keys")
    }

    #[tokio::test]
    async fn api_key_is_accepted_in_either_header() {
        let scratch = Scratch::new();
        let key = generate_api_key();
        let auth = keys_file(&scratch, &key).await;
        let expected = Principal {
            agency: "D-CIVIL_AFFAIRS".to_owned(),
            officer: "system:subsidy-review".to_owned(),
            roles: vec!["subsidy_reviewer".to_owned()],
            method: AuthMethod::ApiKey,
        };
        assert_eq!(
            auth.authenticate(&headers(&[("x-api-key", &key)])).ok(),
            Some(expected.clone())
        );
        let via_authorization = headers(&[("authorization", &format!("ApiKey {key}"))]);
        assert_eq!(auth.authenticate(&via_authorization).ok(), Some(expected));
        let police = auth.authenticate(&headers(&[("X-Api-Key", "some-other-key")]));
        assert_eq!(police.map(|p| p.agency).ok().as_deref(), Some("D-POLICE"));
    }

    #[tokio::test]
    async fn unknown_api_key_is_rejected() {
        let scratch = Scratch::new();
        let key = generate_api_key();
        let auth = keys_file(&scratch, &key).await;
        let mut near_miss = key.clone();
        near_miss.push('x');
        for presented in [near_miss.as_str(), &key[..key.len() - 1], "mk_nope"] {
            let error = auth
                .authenticate(&headers(&[("x-api-key", presented)]))
                .unwrap_err();
            assert!(matches!(error, AuthError::UnknownKey), "{error:?}");
            assert_eq!(error.code(), Code::Unauthenticated);
        }
        // The stored hash itself is not a key.
        let error = auth.authenticate(&headers(&[("x-api-key", &hash_api_key(&key))]));
        assert!(matches!(error, Err(AuthError::UnknownKey)));
    }

    #[tokio::test]
    async fn api_keys_disabled_means_every_key_is_unknown() {
        let auth = Authenticator::load(&AuthConfig::default())
            .await
            .expect("load");
        let error = auth.authenticate(&headers(&[("x-api-key", "mk_anything")]));
        assert!(matches!(error, Err(AuthError::UnknownKey)));
    }

    #[test]
    fn key_hashes_are_compared_in_constant_time_and_exactly() {
        let a: [u8; 32] = Sha256::digest(b"a").into();
        let mut b = a;
        assert!(hashes_match(&a, &b));
        b[31] ^= 0x01;
        assert!(!hashes_match(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!hashes_match(&a, &b));
    }

    #[test]
    fn key_tools() {
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let key = generate_api_key();
        assert!(key.starts_with("mk_"));
        assert_eq!(key.len(), 3 + 43);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&key[3..]).map(|b| b.len()).ok(),
            Some(32)
        );
        assert_ne!(generate_api_key(), key);
        assert_eq!(
            parse_sha256_hex(&hash_api_key("abc")),
            Some(Sha256::digest(b"abc").into())
        );
        assert_eq!(parse_sha256_hex(&hash_api_key("abc").to_uppercase()), None);
        assert_eq!(parse_sha256_hex("ab"), None);
    }

    // --- Headers --------------------------------------------------------------------------

    #[tokio::test]
    async fn no_credential_is_missing() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let error = auth
            .authenticate(&headers(&[("accept", "application/json")]))
            .unwrap_err();
        assert!(matches!(error, AuthError::Missing));
        assert_eq!(error.code(), Code::Unauthenticated);
    }

    #[tokio::test]
    async fn two_credentials_are_malformed() {
        let scratch = Scratch::new();
        let key = generate_api_key();
        let auth = keys_file(&scratch, &key).await;
        let token = hs256(&claims());
        let cases = [
            headers(&[
                ("authorization", &format!("Bearer {token}")),
                ("x-api-key", &key),
            ]),
            headers(&[
                ("authorization", &format!("ApiKey {key}")),
                ("x-api-key", &key),
            ]),
            headers(&[("x-api-key", &key), ("x-api-key", &key)]),
            headers(&[
                ("authorization", &format!("ApiKey {key}")),
                ("authorization", &format!("ApiKey {key}")),
            ]),
        ];
        for case in cases {
            assert!(
                matches!(auth.authenticate(&case), Err(AuthError::Malformed)),
                "{case:?}"
            );
        }
    }

    #[tokio::test]
    async fn unreadable_headers_are_malformed() {
        let scratch = Scratch::new();
        let key = generate_api_key();
        let auth = keys_file(&scratch, &key).await;
        let mut non_ascii = HeaderMap::new();
        non_ascii.insert(
            API_KEY_HEADER,
            HeaderValue::from_bytes(b"mk_caf\xc3\xa9").expect("obs-text header value"),
        );
        let mut tab = HeaderMap::new();
        tab.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer\tabc.def.ghi"),
        );
        let cases = [
            non_ascii,
            tab,
            headers(&[("authorization", "Basic dXNlcjpwYXNz")]),
            headers(&[("authorization", "Bearer")]),
            headers(&[("authorization", "Bearer a b")]),
            headers(&[("x-api-key", "")]),
            headers(&[("x-api-key", "two words")]),
        ];
        for case in cases {
            assert!(
                matches!(auth.authenticate(&case), Err(AuthError::Malformed)),
                "{case:?}"
            );
        }
        // Scheme names are case-insensitive; extra spaces after the scheme are allowed.
        let ok = headers(&[("authorization", &format!("apikey   {key}"))]);
        assert!(auth.authenticate(&ok).is_ok());
    }

    // --- JWT: HS256 -----------------------------------------------------------------------

    #[tokio::test]
    async fn hs256_token_is_accepted() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let principal = bearer(&auth, &hs256(&claims())).expect("valid token");
        assert_eq!(
            principal,
            Principal {
                agency: "D-CIVIL_AFFAIRS".to_owned(),
                officer: "officer-17".to_owned(),
                roles: vec!["subsidy_reviewer".to_owned()],
                method: AuthMethod::Jwt,
            }
        );
        // `roles` is optional.
        let no_roles = bearer(&auth, &hs256(&with(claims(), "roles", Value::Null)));
        assert_eq!(no_roles.map(|p| p.roles).ok(), Some(Vec::new()));
    }

    #[tokio::test]
    async fn expired_token_is_token_expired() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let now = get_current_timestamp();
        let error = bearer(&auth, &hs256(&with(claims(), "exp", json!(now - 120)))).unwrap_err();
        assert!(matches!(error, AuthError::Expired), "{error:?}");
        assert_eq!(error.code(), Code::TokenExpired);
        assert_eq!(error.code().as_str(), "TOKEN_EXPIRED");
        // Within the 30 s leeway it still passes.
        assert!(bearer(&auth, &hs256(&with(claims(), "exp", json!(now - 10)))).is_ok());
        // `exp` is required.
        let error = bearer(&auth, &hs256(&with(claims(), "exp", Value::Null))).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("`exp`")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn not_yet_valid_token_is_rejected() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let future = json!(get_current_timestamp() + 600);
        let error = bearer(&auth, &hs256(&with(claims(), "nbf", future))).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("nbf")),
            "{error:?}"
        );
        let past = json!(get_current_timestamp() - 600);
        assert!(bearer(&auth, &hs256(&with(claims(), "nbf", past))).is_ok());
    }

    #[tokio::test]
    async fn alg_none_is_not_allowed() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let payload = b64(&claims());
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = b64(&json!({ "alg": alg, "typ": "JWT" }));
            for signature in ["", "AAAA"] {
                let token = format!("{header}.{payload}.{signature}");
                let error = bearer(&auth, &token).unwrap_err();
                assert!(
                    matches!(error, AuthError::AlgorithmNotAllowed),
                    "{alg}: {error:?}"
                );
                assert_eq!(error.code(), Code::Unauthenticated);
            }
        }
    }

    #[tokio::test]
    async fn other_algorithms_are_not_allowed() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let hs512 = sign(
            Algorithm::HS512,
            None,
            &claims(),
            &secret_key(SECRET.as_bytes()),
        );
        assert!(matches!(
            bearer(&auth, &hs512),
            Err(AuthError::AlgorithmNotAllowed)
        ));
        let ps256 = sign(Algorithm::PS256, Some("rsa-1"), &claims(), &rsa_key());
        assert!(matches!(
            bearer(&auth, &ps256),
            Err(AuthError::AlgorithmNotAllowed)
        ));
        // Algorithm names are case-sensitive.
        let header = b64(&json!({ "alg": "hs256" }));
        let token = format!("{header}.{}.AAAA", b64(&claims()));
        assert!(matches!(
            bearer(&auth, &token),
            Err(AuthError::AlgorithmNotAllowed)
        ));
    }

    #[tokio::test]
    async fn hs256_without_a_configured_secret_is_rejected() {
        let scratch = Scratch::new();
        let jwks = scratch.write("jwks.json", &standard_jwks().to_string());
        let cfg = AuthConfig {
            jwt: JwtConfig {
                jwks_file: jwks,
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        };
        let auth = Authenticator::load(&cfg).await.expect("load");
        let error = bearer(&auth, &hs256(&claims())).unwrap_err();
        assert!(matches!(error, AuthError::AlgorithmNotAllowed), "{error:?}");
        // Nothing configured at all: still rejected, never accepted.
        let nothing = Authenticator::load(&AuthConfig::default())
            .await
            .expect("load");
        assert!(matches!(
            bearer(&nothing, &hs256(&claims())),
            Err(AuthError::AlgorithmNotAllowed)
        ));
    }

    #[tokio::test]
    async fn hs256_with_the_wrong_secret_is_bad_token() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let other = secret_key(b"another-secret-that-is-32-bytes-long!!");
        let error = bearer(&auth, &sign(Algorithm::HS256, None, &claims(), &other)).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("signature")),
            "{error:?}"
        );
        assert!(!error.to_string().contains(SECRET));
        // A tampered payload fails the same way.
        let token = hs256(&claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(&with(claims(), "agency", json!("D-POLICE")));
        parts[1] = &forged;
        let error = bearer(&auth, &parts.join(".")).unwrap_err();
        assert!(matches!(error, AuthError::BadToken(_)), "{error:?}");
    }

    #[tokio::test]
    async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
        // The classic algorithm confusion: HMAC keyed with the verifier's public key bytes.
        let scratch = Scratch::new();
        let public_pem = fixture("rsa-public.pem");
        let confused = secret_key(&public_pem);
        let jwk = public_jwk(&rsa_key(), Algorithm::RS256, Some("rsa-1"));
        let n = URL_SAFE_NO_PAD
            .decode(jwk["n"].as_str().unwrap_or_default())
            .expect("n");
        let confused_n = secret_key(&n);
        let forged = [
            sign(Algorithm::HS256, Some("rsa-1"), &claims(), &confused),
            sign(Algorithm::HS256, None, &claims(), &confused),
            sign(Algorithm::HS256, Some("rsa-1"), &claims(), &confused_n),
        ];
        // JWKS only: HS256 is not an accepted algorithm at all.
        let jwks = scratch.write("jwks.json", &standard_jwks().to_string());
        let cfg = AuthConfig {
            jwt: JwtConfig {
                jwks_file: jwks,
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        };
        let jwks_only = Authenticator::load(&cfg).await.expect("load");
        for token in &forged {
            assert!(matches!(
                bearer(&jwks_only, token),
                Err(AuthError::AlgorithmNotAllowed)
            ));
        }
        // JWKS and an HS256 secret: HS256 is checked against the secret only.
        let both = jwt_auth(&scratch).await;
        for token in &forged {
            let error = bearer(&both, token).unwrap_err();
            assert!(matches!(error, AuthError::BadToken(_)), "{error:?}");
        }
    }

    // --- JWT: RS256 / ES256 via JWKS ------------------------------------------------------

    #[tokio::test]
    async fn rs256_and_es256_tokens_verify_against_the_jwks() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let rs = bearer(
            &auth,
            &sign(Algorithm::RS256, Some("rsa-1"), &claims(), &rsa_key()),
        );
        assert_eq!(rs.map(|p| p.officer).ok().as_deref(), Some("officer-17"));
        let es = bearer(
            &auth,
            &sign(Algorithm::ES256, Some("ec-1"), &claims(), &ec_key()),
        );
        assert_eq!(
            es.map(|p| p.agency).ok().as_deref(),
            Some("D-CIVIL_AFFAIRS")
        );
        // Without `kid`: accepted because the set has exactly one key of each algorithm.
        assert!(bearer(&auth, &sign(Algorithm::RS256, None, &claims(), &rsa_key())).is_ok());
        assert!(bearer(&auth, &sign(Algorithm::ES256, None, &claims(), &ec_key())).is_ok());
    }

    #[tokio::test]
    async fn a_jwks_key_signs_only_for_the_agencies_bound_to_it() {
        let scratch = Scratch::new();
        let jwks = scratch.write("jwks.json", &standard_jwks().to_string());
        let mut key_agencies = std::collections::BTreeMap::new();
        key_agencies.insert("rsa-1".to_owned(), vec!["D-CIVIL_AFFAIRS".to_owned()]);
        let auth = Authenticator::load(&AuthConfig {
            jwt: JwtConfig {
                jwks_file: jwks,
                issuer: ISSUER.to_owned(),
                audience: AUDIENCE.to_owned(),
                key_agencies,
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        })
        .await
        .expect("load");
        // Its own agency: accepted, with or without `kid` (the one RS256 key is found).
        let own = bearer(
            &auth,
            &sign(Algorithm::RS256, Some("rsa-1"), &claims(), &rsa_key()),
        );
        assert_eq!(
            own.map(|p| p.agency).ok().as_deref(),
            Some("D-CIVIL_AFFAIRS")
        );
        assert!(bearer(&auth, &sign(Algorithm::RS256, None, &claims(), &rsa_key())).is_ok());
        // Another agency, validly signed by the same key: refused.
        let police = with(claims(), "agency", json!("D-PUBLIC_SECURITY"));
        let error = bearer(
            &auth,
            &sign(Algorithm::RS256, Some("rsa-1"), &police, &rsa_key()),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the token is not valid: its signing key may not sign for the agency it names"
        );
        assert_eq!(error.code(), Code::Unauthenticated);
        // A trusted key bound to no agency signs for none.
        let unbound = bearer(
            &auth,
            &sign(Algorithm::ES256, Some("ec-1"), &claims(), &ec_key()),
        );
        assert!(
            matches!(unbound, Err(AuthError::BadToken(_))),
            "{unbound:?}"
        );
    }

    #[tokio::test]
    async fn token_without_kid_is_rejected_when_the_key_is_ambiguous() {
        let scratch = Scratch::new();
        let jwks = json!({ "keys": [
            public_jwk(&rsa_key(), Algorithm::RS256, Some("rsa-1")),
            public_jwk(&rsa_other_key(), Algorithm::RS256, Some("rsa-2")),
        ]});
        let path = scratch.write("jwks.json", &jwks.to_string());
        let cfg = AuthConfig {
            jwt: JwtConfig {
                jwks_file: path,
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        };
        let auth = Authenticator::load(&cfg).await.expect("load");
        let error =
            bearer(&auth, &sign(Algorithm::RS256, None, &claims(), &rsa_key())).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("kid")),
            "{error:?}"
        );
        let by_kid = sign(Algorithm::RS256, Some("rsa-2"), &claims(), &rsa_other_key());
        assert!(bearer(&auth, &by_kid).is_ok());
    }

    #[tokio::test]
    async fn wrong_kid_or_wrong_key_is_bad_token() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let unknown = sign(Algorithm::RS256, Some("rsa-9"), &claims(), &rsa_key());
        let error = bearer(&auth, &unknown).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("kid")),
            "{error:?}"
        );
        // A kid that exists, but for another algorithm.
        let cross = sign(Algorithm::RS256, Some("ec-1"), &claims(), &rsa_key());
        assert!(matches!(bearer(&auth, &cross), Err(AuthError::BadToken(_))));
        // The right kid, signed by a key the hub does not trust.
        let impostor = sign(Algorithm::RS256, Some("rsa-1"), &claims(), &rsa_other_key());
        let error = bearer(&auth, &impostor).unwrap_err();
        assert!(
            matches!(&error, AuthError::BadToken(r) if r.contains("signature")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn issuer_and_audience_are_checked_when_configured() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let rs = |c: &Value| sign(Algorithm::RS256, Some("rsa-1"), c, &rsa_key());
        let cases = [
            (
                with(claims(), "iss", json!("https://evil.example")),
                "`iss`",
            ),
            (with(claims(), "iss", Value::Null), "`iss`"),
            (with(claims(), "aud", json!("another-service")), "`aud`"),
            (with(claims(), "aud", Value::Null), "`aud`"),
        ];
        for (claims, needle) in cases {
            let error = bearer(&auth, &rs(&claims)).unwrap_err();
            assert!(
                matches!(&error, AuthError::BadToken(r) if r.contains(needle)),
                "{error:?}"
            );
        }
        let list = with(claims(), "aud", json!(["another-service", AUDIENCE]));
        assert!(bearer(&auth, &rs(&list)).is_ok());
    }

    #[tokio::test]
    async fn missing_or_mistyped_claims_are_bad_token() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let error = bearer(&auth, &hs256(&with(claims(), "agency", Value::Null))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the token is not valid: the token has no `agency` claim"
        );
        let cases = [
            (
                with(claims(), "agency", json!(42)),
                "`agency` claim is not a string",
            ),
            (
                with(claims(), "agency", json!("")),
                "`agency` claim is empty",
            ),
            (with(claims(), "sub", Value::Null), "no `sub` claim"),
            (with(claims(), "roles", json!("admin")), "`roles`"),
            (with(claims(), "roles", json!(["a", 1])), "`roles`"),
        ];
        for (claims, needle) in cases {
            let error = bearer(&auth, &hs256(&claims)).unwrap_err();
            assert!(
                matches!(&error, AuthError::BadToken(r) if r.contains(needle)),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn garbage_tokens_are_bad_token() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let header = b64(&json!({ "alg": "HS256" }));
        let cases = [
            "abc".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d.e".to_owned(),
            "!!!.e30.".to_owned(),
            format!("{}.e30.", URL_SAFE_NO_PAD.encode("[1,2]")),
            format!("{}.e30.", b64(&json!({ "alg": 256 }))),
            format!("{}.e30.", b64(&json!({ "typ": "JWT" }))),
            format!("{header}.not-json.AAAA"),
            format!(
                "{}.{}.AAAA",
                b64(&json!({ "alg": "HS256", "crit": ["exp"] })),
                b64(&claims())
            ),
        ];
        for token in cases {
            let error = bearer(&auth, &token).unwrap_err();
            assert!(
                matches!(error, AuthError::BadToken(_)),
                "{token}: {error:?}"
            );
        }
    }

    // --- Configuration --------------------------------------------------------------------

    #[test]
    fn config_reads_from_toml_with_defaults() {
        let cfg: AuthConfig =
            toml::from_str("api_keys_file = \"keys.toml\"\n[jwt]\nissuer = \"https://idp\"\n")
                .expect("parse");
        assert_eq!(cfg.api_keys_file, "keys.toml");
        assert_eq!(cfg.jwt.issuer, "https://idp");
        assert_eq!(cfg.jwt.leeway_secs, 30);
        assert!(toml::from_str::<AuthConfig>("[jwt]\nsecret = \"x\"\n").is_err());
        let debug = format!(
            "{:?}",
            JwtConfig {
                hs256_secret: SECRET.to_owned(),
                ..JwtConfig::default()
            }
        );
        assert!(!debug.contains(SECRET), "{debug}");
    }

    #[test]
    fn principal_serializes_for_audit_records() {
        let principal = Principal {
            agency: "D-POLICE".to_owned(),
            officer: "o-1".to_owned(),
            roles: vec![],
            method: AuthMethod::ApiKey,
        };
        let value = serde_json::to_value(&principal).expect("serialize");
        assert_eq!(value["method"], json!("api_key"));
    }

    async fn load_keys_error(text: &str) -> (String, String) {
        let scratch = Scratch::new();
        let path = scratch.write("keys.toml", text);
        let error = Authenticator::load(&AuthConfig {
            open: false,
            api_keys_file: path.clone(),
            ..AuthConfig::default()
        })
        .await
        .expect_err("must fail");
        (path, error.to_string())
    }

    fn entry(id: &str, agency: &str, sha256: &str) -> String {
        format!(
            "[[key]]\nid = \"{id}\"\nagency = \"{agency}\"\nofficer = \"o\"\nsha256 = \"{sha256}\"\n"
        )
    }

    #[tokio::test]
    async fn malformed_keys_files_are_errors_naming_file_and_entry() {
        let good = hash_api_key("k1");
        let cases = [
            ("[[key]\nid = 1\n".to_owned(), "line 1"),
            (entry("a", "D-X", &good) + "colour = \"blue\"\n", "line 6"),
            (
                entry("a", "D-X", &good) + entry("b", "D-Y", &good).as_str(),
                "[[key]] #2 (id `b`)",
            ),
            (
                entry("a", "D-X", &good) + entry("a", "D-Y", &hash_api_key("k2")).as_str(),
                "`id` is already used",
            ),
            (
                entry("a", "D-X", "xyz"),
                "[[key]] #1 (id `a`): `sha256` must be 64 lowercase hex",
            ),
            (entry("a", "D-X", &good.to_uppercase()), "lowercase hex"),
            (
                entry("a", " ", &good),
                "[[key]] #1 (id `a`): `agency` is empty",
            ),
            (
                "[[key]]\nid = \"a\"\nagency = \"D\"\nofficer = \"o\"\n".to_owned(),
                "sha256",
            ),
            (String::new(), "no [[key]] entries"),
        ];
        for (text, needle) in cases {
            let (path, message) = load_keys_error(&text).await;
            assert!(message.contains(&path), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }

    #[tokio::test]
    async fn unreadable_files_are_errors_naming_the_file() {
        let missing = "/nonexistent/mandate/keys.toml";
        let error = Authenticator::load(&AuthConfig {
            open: false,
            api_keys_file: missing.to_owned(),
            ..AuthConfig::default()
        })
        .await
        .expect_err("must fail");
        assert!(matches!(error, AuthConfigError::Read { .. }));
        assert!(error.to_string().contains(missing), "{error}");
        let jwks = "/nonexistent/mandate/jwks.json";
        let cfg = AuthConfig {
            jwt: JwtConfig {
                jwks_file: jwks.to_owned(),
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        };
        let error = Authenticator::load(&cfg).await.expect_err("must fail");
        assert!(error.to_string().contains(jwks), "{error}");
    }

    #[tokio::test]
    async fn malformed_jwks_files_are_errors_naming_file_and_key() {
        let rsa = public_jwk(&rsa_key(), Algorithm::RS256, Some("rsa-1"));
        let ec = public_jwk(&ec_key(), Algorithm::ES256, Some("ec-1"));
        let with_member = |jwk: &Value, name: &str, value: Value| with(jwk.clone(), name, value);
        let cases: Vec<(String, &str)> = vec![
            (
                "{\"keys\": [\n  {\"kty\": \"RSA\",}\n]}".to_owned(),
                "line 2",
            ),
            ("{\"keys\": []}".to_owned(), "`keys` is empty"),
            ("[]".to_owned(), "malformed"),
            (
                json!({"keys": [rsa, rsa]}).to_string(),
                "key #2 (kid `rsa-1`): another key has the same `kid`",
            ),
            (
                json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}).to_string(),
                "key #1 (kid `s`): `kty` oct",
            ),
            (
                json!({"keys": [with_member(&rsa, "d", json!("AAAA"))]}).to_string(),
                "private key",
            ),
            (
                json!({"keys": [with_member(&ec, "d", json!("AAAA"))]}).to_string(),
                "private key",
            ),
            (
                json!({"keys": [with_member(&rsa, "alg", json!("RS512"))]}).to_string(),
                "RS256",
            ),
            (
                json!({"keys": [with_member(&rsa, "use", json!("enc"))]}).to_string(),
                "`use`",
            ),
            (
                json!({"keys": [with_member(&rsa, "n", json!("AQAB"))]}).to_string(),
                "2048",
            ),
            (
                json!({"keys": [with_member(&rsa, "n", json!("not base64!"))]}).to_string(),
                "`n`",
            ),
            (
                json!({"keys": [with_member(&ec, "crv", json!("P-384"))]}).to_string(),
                "P-256",
            ),
            (
                json!({"keys": [with_member(&ec, "x", json!(URL_SAFE_NO_PAD.encode([7u8; 32])))]})
                    .to_string(),
                "curve",
            ),
            (
                json!({"keys": [with_member(&ec, "kid", json!(5))]}).to_string(),
                "key #1 (kid `-`): `kid`",
            ),
        ];
        for (text, needle) in cases {
            let scratch = Scratch::new();
            let path = scratch.write("jwks.json", &text);
            let cfg = AuthConfig {
                jwt: JwtConfig {
                    jwks_file: path.clone(),
                    ..JwtConfig::default()
                },
                ..AuthConfig::default()
            };
            let message = Authenticator::load(&cfg)
                .await
                .expect_err("must fail")
                .to_string();
            assert!(message.contains(&path), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
    }

    #[tokio::test]
    async fn weak_secret_and_large_leeway_are_config_errors() {
        let short = AuthConfig {
            jwt: JwtConfig {
                hs256_secret: "short".to_owned(),
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        };
        assert!(matches!(
            Authenticator::load(&short).await,
            Err(AuthConfigError::WeakHs256Secret)
        ));
        let leeway = AuthConfig {
            jwt: JwtConfig {
                leeway_secs: u64::MAX,
                ..JwtConfig::default()
            },
            ..AuthConfig::default()
        };
        assert!(matches!(
            Authenticator::load(&leeway).await,
            Err(AuthConfigError::LeewayTooLarge(_))
        ));
    }

    // --- JWKS URL -------------------------------------------------------------------------

    #[test]
    fn jwks_url_must_be_https_or_loopback_http() {
        for ok in [
            "https://idp.example.gov/.well-known/jwks.json",
            "https://idp.example.gov:8443/keys?tenant=city",
            "HTTPS://IdP.Example.Gov/jwks",
            "http://127.0.0.1:8080/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:9000/jwks",
        ] {
            let cfg = JwtConfig {
                jwks_url: ok.to_owned(),
                ..JwtConfig::default()
            };
            assert!(cfg.check_jwks_url().is_ok_and(|u| u.is_some()), "{ok}");
        }
        let cases = [
            (
                "http://idp.example.gov/jwks.json",
                "only to 127.0.0.1, ::1 or localhost",
            ),
            ("http://127.0.0.2/jwks.json", "only to 127.0.0.1"),
            ("http://10.0.0.1/jwks", "only to 127.0.0.1"),
            ("http://localhost.example.gov/jwks", "only to 127.0.0.1"),
            ("ftp://idp.example.gov/jwks", "`https://` URL"),
            ("file:///etc/mandate/jwks.json", "`https://` URL"),
            ("idp.example.gov/jwks.json", "not an absolute URL"),
            ("not a url", "not an absolute URL"),
            ("https://reader:hunter2@idp.example.gov/jwks", "credentials"),
            ("http://reader:hunter2@127.0.0.1/jwks", "credentials"),
            ("reader:hunter2@idp", "`https://` URL"),
            ("https://reader:hunter2@", "not an absolute URL"),
        ];
        for (url, needle) in cases {
            let cfg = JwtConfig {
                jwks_url: url.to_owned(),
                ..JwtConfig::default()
            };
            let error = cfg.check_jwks_url().expect_err(url);
            assert!(
                matches!(error, AuthConfigError::JwksUrl { .. }),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(message.contains("`auth.jwt.jwks_url`"), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        // Off by default; the refresh interval has a floor.
        assert!(JwtConfig::default()
            .check_jwks_url()
            .is_ok_and(|u| u.is_none()));
        let every = |secs: u64| JwtConfig {
            jwks_url: "https://idp.example.gov/jwks".to_owned(),
            jwks_refresh_secs: secs,
            ..JwtConfig::default()
        };
        let error = every(9).check_jwks_url().expect_err("too short");
        assert!(matches!(error, AuthConfigError::JwksRefreshTooShort(9)));
        assert!(error.to_string().contains("`auth.jwt.jwks_refresh_secs`"));
        assert!(every(10).check_jwks_url().is_ok());
    }

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

    /// A real HTTP server on 127.0.0.1 answering `/jwks.json` with what it is told to serve.
    struct JwksServer {
        url: String,
        served: Arc<std::sync::Mutex<Served>>,
        hits: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl JwksServer {
        async fn start(initial: Served) -> JwksServer {
            use poem::listener::{Acceptor as _, Listener as _, TcpListener};
            let served = Arc::new(std::sync::Mutex::new(initial));
            let hits = Arc::new(AtomicUsize::new(0));
            let (now_served, counter) = (served.clone(), hits.clone());
            let answer = poem::endpoint::make_sync(move |_request| {
                counter.fetch_add(1, Ordering::SeqCst);
                let served = now_served.lock().expect("lock").clone();
                match served {
                    Served::Json(text) => poem::Response::builder()
                        .content_type("application/json")
                        .body(text),
                    Served::Chunked(text) => {
                        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
                            .into_bytes()
                            .chunks(64 * 1024)
                            .map(|c| Ok(c.to_vec()))
                            .collect();
                        poem::Response::builder()
                            .content_type("application/json")
                            .body(poem::Body::from_bytes_stream(futures::stream::iter(chunks)))
                    }
                    Served::Status(code) => poem::Response::builder()
                        .status(poem::http::StatusCode::from_u16(code).expect("status"))
                        .finish(),
                    Served::Redirect(to) => poem::Response::builder()
                        .status(poem::http::StatusCode::FOUND)
                        .header(poem::http::header::LOCATION, to)
                        .finish(),
                }
            });
            let app = poem::Route::new().at("/jwks.json", answer);
            let acceptor = TcpListener::bind("127.0.0.1:0")
                .into_acceptor()
                .await
                .expect("bind");
            let addr = acceptor
                .local_addr()
                .first()
                .and_then(|a| a.as_socket_addr().copied())
                .expect("local address");
            let task = tokio::spawn(async move {
                let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
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
