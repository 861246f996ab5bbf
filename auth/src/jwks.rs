//! The JWKS: the RS256/ES256 public keys of `auth.jwt.jwks_file` and `auth.jwt.jwks_url`, parsed
//! and checked by one set of rules, and held as one set that a refresh swaps whole.
//!
//! Fetching the URL, its refresh and the early refetch on an unknown `kid` are in [`remote`].

mod remote;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::JwtConfig;
use crate::error::AuthConfigError;
use crate::read_file;

pub(crate) use remote::parse_jwks_url;
use remote::{refresh_jwks_every, RemoteJwks};

/// Smallest and largest RSA modulus accepted in the JWKS, in bytes (2048 and 8192 bits).
const RSA_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;

/// The JWKS keys in use, swapped whole when the URL's keys are refreshed.
pub(crate) struct JwksKeys {
    /// The file's keys, then the URL's (less any whose `kid` the file already has).
    pub(crate) current: ArcSwap<Vec<JwksKey>>,
    /// Where the URL's keys come from, if `auth.jwt.jwks_url` is set.
    remote: Option<RemoteJwks>,
}

/// One public key from the JWKS file or URL.
#[derive(Clone)]
pub(crate) struct JwksKey {
    /// The key's `kid`, if it has one.
    pub(crate) kid: Option<String>,
    /// The one algorithm it verifies.
    pub(crate) alg: Algorithm,
    /// The verification key.
    pub(crate) key: DecodingKey,
}

impl JwksKeys {
    /// The keys of the JWKS file, then, with `url`, those fetched from it now; with `url`, also
    /// the background task that refetches it every `auth.jwt.jwks_refresh_secs`.
    pub(crate) async fn load(
        jwt: &JwtConfig,
        url: Option<Url>,
    ) -> Result<(Arc<JwksKeys>, Option<tokio::task::AbortHandle>), AuthConfigError> {
        let file_keys = if jwt.jwks_file.is_empty() {
            Vec::new()
        } else {
            load_jwks_file(&jwt.jwks_file)?
        };
        match url {
            None => {
                let jwks = JwksKeys {
                    current: ArcSwap::from_pointee(file_keys),
                    remote: None,
                };
                Ok((Arc::new(jwks), None))
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
                Ok((jwks, Some(task.abort_handle())))
            }
        }
    }

    /// `auth.jwt.jwks_url`, if set.
    pub(crate) fn url(&self) -> Option<&str> {
        self.remote.as_ref().map(|r| r.url.as_str())
    }

    /// Asks for an early refetch if `kid` names no key of `keys` (the caller's snapshot) and a
    /// JWKS URL is configured. The token itself is judged against `keys`.
    pub(crate) fn note_kid(&self, keys: &[JwksKey], kid: &str) {
        if let Some(remote) = &self.remote {
            if !keys.iter().any(|k| k.kid.as_deref() == Some(kid)) {
                remote.ask_early_refetch();
            }
        }
    }
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

/// Reads and parses `auth.jwt.jwks_file`.
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

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use jsonwebtoken::Algorithm;
    use serde_json::{json, Value};

    use crate::test_support::{ec_key, public_jwk, rsa_key, with, Scratch};
    use crate::{AuthConfig, Authenticator, JwtConfig};

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
}
