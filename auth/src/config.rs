//! The `[auth]` section of the hub's TOML configuration, and its limits.
//!
//! The serde attributes, defaults and doc comments here are the server's configuration
//! reference: unknown keys are errors, and every field has a default.

use std::fmt;

use reqwest::Url;
use serde::Deserialize;

use crate::error::AuthConfigError;
use crate::jwks::parse_jwks_url;

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size).
pub(crate) const MIN_HS256_SECRET_BYTES: usize = 32;

/// Largest clock skew `auth.jwt.leeway_secs` may allow.
pub(crate) const MAX_LEEWAY_SECS: u64 = 300;

/// Smallest `auth.jwt.jwks_refresh_secs` accepted.
pub(crate) const MIN_JWKS_REFRESH_SECS: u64 = 10;

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
    /// Longest lifetime a token may have, seconds (default 86,400: one working day):
    /// its `exp` may lie at most this far ahead, and at most this far after its
    /// `iat` when it has one. A token minted to live for years is refused.
    pub max_lifetime_secs: u64,
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
            max_lifetime_secs: 86_400,
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
            .field("max_lifetime_secs", &self.max_lifetime_secs)
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

#[cfg(test)]
mod tests {
    use crate::test_support::SECRET;
    use crate::{AuthConfig, AuthConfigError, JwtConfig};

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
}
