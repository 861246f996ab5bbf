//! Helpers shared by the unit tests: real keys and real signatures throughout. The RSA and
//! P-256 keys are the test-only PEMs in `tests/fixtures/`, from which each test derives its
//! JWKS.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::{hash_api_key, AuthConfig, AuthError, Authenticator, JwtConfig, Principal};

pub(crate) const SECRET: &str = "a-development-secret-of-at-least-32-bytes";
pub(crate) const ISSUER: &str = "https://idp.example.gov";
pub(crate) const AUDIENCE: &str = "mandate-hub";

/// A scratch directory removed when dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("mandate-auth-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> String {
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

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).expect("read fixture")
}

pub(crate) fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).expect("rsa pem")
}

pub(crate) fn rsa_other_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture("rsa-other-private.pem")).expect("rsa pem")
}

pub(crate) fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("p256-private.pem")).expect("ec pem")
}

/// The public JWK of `key` with `kid`, as an identity provider would publish it.
pub(crate) fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: Option<&str>) -> Value {
    let jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
    let mut value = serde_json::to_value(jwk).expect("jwk json");
    if let (Some(kid), Some(map)) = (kid, value.as_object_mut()) {
        map.insert("kid".to_owned(), json!(kid));
        map.insert("use".to_owned(), json!("sig"));
    }
    value
}

pub(crate) fn standard_jwks() -> Value {
    json!({ "keys": [
        public_jwk(&rsa_key(), Algorithm::RS256, Some("rsa-1")),
        public_jwk(&ec_key(), Algorithm::ES256, Some("ec-1")),
    ]})
}

/// An authenticator with HS256, the standard JWKS, issuer and audience.
pub(crate) async fn jwt_auth(scratch: &Scratch) -> Authenticator {
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

pub(crate) fn claims() -> Value {
    json!({
        "sub": "officer-17",
        "agency": "D-CIVIL_AFFAIRS",
        "roles": ["subsidy_reviewer"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": get_current_timestamp() + 600,
    })
}

pub(crate) fn with(mut claims: Value, name: &str, value: Value) -> Value {
    if let Some(map) = claims.as_object_mut() {
        if value.is_null() {
            map.remove(name);
        } else {
            map.insert(name.to_owned(), value);
        }
    }
    claims
}

pub(crate) fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).expect("encode")
}

pub(crate) fn secret_key(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).expect("hmac key")
}

pub(crate) fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        claims,
        &secret_key(SECRET.as_bytes()),
    )
}

pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("name");
        map.append(name, HeaderValue::from_str(value).expect("value"));
    }
    map
}

pub(crate) fn bearer(auth: &Authenticator, token: &str) -> Result<Principal, AuthError> {
    auth.authenticate(&headers(&[("authorization", &format!("Bearer {token}"))]))
}

pub(crate) fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

pub(crate) async fn keys_file(scratch: &Scratch, key: &str) -> Authenticator {
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
