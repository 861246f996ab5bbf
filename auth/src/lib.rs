//! Authentication: turns a request's credential headers into a verified [`Principal`].
//!
//! This crate owns the credentials that machine clients of government departments present:
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
//! ([`ArcSwap`](arc_swap::ArcSwap)), so verification stays synchronous and never waits for the
//! network: a refresh that fails keeps the last good keys, and a token naming an unknown `kid`
//! is rejected from the current set while asking the background task for one early refetch (at
//! most one per 30 s).
//!
//! It does not decide what a principal may see — that is the policies' job — and it never
//! falls back to a broader principal: every failure is an [`AuthError`], whose message is safe
//! to show the client and whose [`code`](AuthError::code) goes into `extensions.code`.
//!
//! Logs carry the API key's `id` or the token's `kid`, never a key or a token.
//!
//! The crate knows HTTP only as the `http` crate's [`HeaderMap`]; the server hands it the
//! request's headers.
//!
//! ```
//! use mandate_auth::{hash_api_key, generate_api_key};
//!
//! let key = generate_api_key();          // hand this to the department once
//! let stored = hash_api_key(&key);       // put this in the keys file's `sha256`
//! assert!(key.starts_with("mk_"));
//! assert_eq!(stored.len(), 64);
//! ```

mod api_keys;
mod config;
mod credential;
mod error;
mod jwks;
mod jwt;
#[cfg(test)]
mod test_support;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Serialize;

pub use api_keys::{generate_api_key, hash_api_key};
pub use config::{AuthConfig, JwtConfig};
pub use error::{AuthConfigError, AuthError};
pub use jwt::mint_hs256;

use api_keys::ApiKeyEntry;
use config::MAX_LEEWAY_SECS;
use credential::{extract_credential, Credential};
use jwks::JwksKeys;

/// A verified caller: who sent the request, for which agency, with which roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The agency (department) the credential belongs to, e.g. `D-CIVIL_AFFAIRS`.
    pub agency: String,
    /// The officer or system account: the key entry's `officer`, or the token's `sub`.
    pub officer: String,
    /// Roles granted by the key entry or the token's `roles` claim; possibly empty.
    pub roles: Vec<String>,
    /// Purposes the credential is bound to (the key entry's `purposes`, the
    /// token's `purposes` claim): a request may state only these. Empty: any
    /// purpose its agency's lists name.
    pub purposes: Vec<String>,
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
    /// `auth.jwt.max_lifetime_secs`: the longest lifetime a token may have.
    max_lifetime_secs: u64,
}

/// Counts only: never prints key material.
impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("api_keys", &self.api_keys.len())
            .field("hs256", &self.hs256.is_some())
            .field("jwks_keys", &self.jwks.current.load().len())
            .field("jwks_url", &self.jwks.url())
            .finish_non_exhaustive()
    }
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
            api_keys::load_api_keys(&cfg.api_keys_file)?
        };
        let hs256 = jwt::hs256_key(jwt)?;
        let (jwks, refresher) = JwksKeys::load(jwt, jwks_url).await?;
        let jwks_keys = jwks.current.load().len();
        let validation = jwt::validation(jwt);

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
            jwks.url = jwks.url().unwrap_or(""),
            hs256 = hs256.is_some(),
            issuer_checked = !jwt.issuer.is_empty(),
            audience_checked = !jwt.audience.is_empty(),
            "authentication configured"
        );
        let key_agencies = jwt::key_agencies(jwt);
        Ok(Authenticator {
            api_keys,
            hs256,
            jwks,
            refresher,
            validation,
            key_agencies,
            max_lifetime_secs: cfg.jwt.max_lifetime_secs,
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
}

/// Stops the background JWKS refetch.
impl Drop for Authenticator {
    fn drop(&mut self) {
        if let Some(task) = &self.refresher {
            task.abort();
        }
    }
}

/// Reads a configured file; the error names `what` and the path.
fn read_file(what: &'static str, path: &str) -> Result<String, AuthConfigError> {
    std::fs::read_to_string(path).map_err(|source| AuthConfigError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{AuthConfig, AuthConfigError, AuthMethod, Authenticator, JwtConfig, Principal};

    #[test]
    fn principal_serializes_for_audit_records() {
        let principal = Principal {
            agency: "D-POLICE".to_owned(),
            officer: "o-1".to_owned(),
            roles: vec![],
            purposes: vec![],
            method: AuthMethod::ApiKey,
        };
        let value = serde_json::to_value(&principal).expect("serialize");
        assert_eq!(value["method"], json!("api_key"));
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
}
