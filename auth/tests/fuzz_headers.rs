//! Property test of the request path, through the public API only: arbitrary `Authorization`
//! and `X-Api-Key` values — raw bytes, printable strings, and JWT-shaped `a.b.c` tokens whose
//! parts are random base64url or encoded JSON with random `alg`, `kid` and claims — are fed to
//! an [`Authenticator`] with every credential source configured (API keys, HS256, a JWKS file
//! with RS256 and ES256 keys, issuer and audience).
//!
//! Whatever the input, `authenticate` does not panic, does not accept it, answers with
//! `UNAUTHENTICATED` or `TOKEN_EXPIRED`, and its message echoes none of the input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use mandate_auth::{hash_api_key, AuthConfig, Authenticator, JwtConfig};
use mandate_codes::Code;
use proptest::prelude::{any, prop, prop_assert, prop_oneof, proptest, Just, ProptestConfig};
use proptest::strategy::Strategy;
use serde_json::{json, Value};

/// Shortest run of input characters whose presence in a message counts as an echo. Shorter
/// runs can coincide with the messages' own fixed English text.
const ECHO_CHARS: usize = 8;

/// One credential header: its name, the value, and the arbitrary pieces it was made from
/// (which the error message must not contain).
#[derive(Debug, Clone)]
struct Sent {
    name: &'static str,
    value: Vec<u8>,
    pieces: Vec<String>,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).expect("read fixture")
}

fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(key, alg).expect("jwk")).expect("json");
    jwk["kid"] = json!(kid);
    jwk
}

/// The authenticator under test, loaded once from files in a scratch directory.
fn authenticator() -> &'static Authenticator {
    static AUTH: OnceLock<Authenticator> = OnceLock::new();
    AUTH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mandate-auth-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let keys = dir.join("keys.toml");
        let text = format!(
            "[[key]]\nid = \"fuzz\"\nagency = \"D-POLICE\"\nofficer = \"system:fuzz\"\nsha256 = \"{}\"\n",
            hash_api_key("mk_the-only-key-this-hub-knows")
        );
        std::fs::write(&keys, text).expect("write keys");
        let rsa = EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).expect("rsa pem");
        let ec = EncodingKey::from_ec_pem(&fixture("p256-private.pem")).expect("ec pem");
        let jwks = json!({ "keys": [
            public_jwk(&rsa, Algorithm::RS256, "rsa-1"),
            public_jwk(&ec, Algorithm::ES256, "ec-1"),
        ]});
        let jwks_file = dir.join("jwks.json");
        std::fs::write(&jwks_file, jwks.to_string()).expect("write jwks");
        let cfg = AuthConfig {
            api_keys_file: keys.to_string_lossy().into_owned(),
            open: false,
            jwt: JwtConfig {
                hs256_secret: "a-development-secret-of-at-least-32-bytes".to_owned(),
                jwks_file: jwks_file.to_string_lossy().into_owned(),
                issuer: "https://idp.example.gov".to_owned(),
                audience: "mandate-hub".to_owned(),
                ..JwtConfig::default()
            },
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let auth = runtime.block_on(Authenticator::load(&cfg)).expect("load");
        let _ = std::fs::remove_dir_all(&dir);
        auth
    })
}

/// Bytes a header value may hold: visible ASCII, space, tab and obs-text.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff],
        0..=max,
    )
}

/// Arbitrary text: raw header bytes (possibly not UTF-8), or printable Unicode.
fn arbitrary_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => header_bytes(96),
        1 => "\\PC{0,48}".prop_map(String::into_bytes),
        2 => "[A-Za-z0-9_-]{1,64}".prop_map(String::into_bytes),
    ]
}

/// A base64url part: random text of the alphabet, or random bytes encoded.
fn base64url_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,120}",
        prop::collection::vec(any::<u8>(), 0..=300).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
    ]
}

/// A JOSE header: base64url of a JSON object with a chosen or random `alg` and `kid`.
fn jose_header() -> impl Strategy<Value = (String, Vec<String>)> {
    let alg = prop_oneof![
        Just("HS256".to_owned()),
        Just("RS256".to_owned()),
        Just("ES256".to_owned()),
        Just("none".to_owned()),
        Just("PS256".to_owned()),
        "\\PC{0,16}",
    ];
    let kid = prop::option::of(prop_oneof![
        Just("rsa-1".to_owned()),
        Just("ec-1".to_owned()),
        "\\PC{0,32}",
    ]);
    (alg, kid, prop::bool::weighted(0.1)).prop_map(|(alg, kid, crit)| {
        let mut header = json!({ "alg": alg, "typ": "JWT" });
        if let Some(kid) = &kid {
            header["kid"] = json!(kid);
        }
        if crit {
            header["crit"] = json!(["exp"]);
        }
        let mut pieces = vec![alg];
        pieces.extend(kid);
        (URL_SAFE_NO_PAD.encode(header.to_string()), pieces)
    })
}

/// A claims set: base64url of a JSON object with random values where the hub looks.
fn claims() -> impl Strategy<Value = (String, Vec<String>)> {
    ("\\PC{0,24}", "\\PC{0,24}", any::<i64>(), any::<bool>()).prop_map(
        |(sub, agency, exp, roles)| {
            let mut claims = json!({
                "sub": sub,
                "agency": agency,
                "exp": exp,
                "iss": "https://idp.example.gov",
                "aud": "mandate-hub",
            });
            if roles {
                claims["roles"] = json!([sub]);
            }
            (
                URL_SAFE_NO_PAD.encode(claims.to_string()),
                vec![sub, agency],
            )
        },
    )
}

/// A `Bearer` token shaped like a JWT: `header.payload.signature`.
fn jwt_shaped() -> impl Strategy<Value = Sent> {
    let header = prop_oneof![
        base64url_part().prop_map(|p| (p.clone(), vec![p])),
        jose_header(),
    ];
    let payload = prop_oneof![
        base64url_part().prop_map(|p| (p.clone(), vec![p])),
        claims(),
    ];
    (header, payload, base64url_part()).prop_map(
        |((header, mut pieces), (payload, more), signature)| {
            let token = format!("{header}.{payload}.{signature}");
            pieces.extend(more);
            pieces.push(signature);
            pieces.push(token.clone());
            Sent {
                name: AUTHORIZATION.as_str(),
                value: format!("Bearer {token}").into_bytes(),
                pieces,
            }
        },
    )
}

/// `Authorization: <scheme> <arbitrary>` or `X-Api-Key: <arbitrary>`.
fn credential_header() -> impl Strategy<Value = Sent> {
    let scheme = prop_oneof![
        Just(""),
        Just("Bearer "),
        Just("bearer  "),
        Just("ApiKey "),
        Just("APIKEY "),
        Just("Basic "),
    ];
    prop_oneof![
        2 => (scheme, arbitrary_text()).prop_map(|(scheme, text)| {
            let mut value = scheme.as_bytes().to_vec();
            value.extend_from_slice(&text);
            Sent {
                name: AUTHORIZATION.as_str(),
                value,
                pieces: vec![String::from_utf8_lossy(&text).into_owned()],
            }
        }),
        1 => arbitrary_text().prop_map(|text| Sent {
            name: "x-api-key",
            pieces: vec![String::from_utf8_lossy(&text).into_owned()],
            value: text,
        }),
        4 => jwt_shaped(),
    ]
}

/// Whether `message` holds a run of [`ECHO_CHARS`] characters of `piece`.
fn echoes(message: &str, piece: &str) -> bool {
    let chars: Vec<char> = piece.chars().collect();
    chars
        .windows(ECHO_CHARS)
        .any(|run| message.contains(&run.iter().collect::<String>()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_credential_headers_are_refused_safely(
        sent in prop_oneof![
            4 => prop::collection::vec(credential_header(), 1..=1),
            1 => prop::collection::vec(credential_header(), 2..=2),
        ]
    ) {
        let mut headers = HeaderMap::new();
        for header in &sent {
            let value = HeaderValue::from_bytes(&header.value).expect("a valid header value");
            headers.append(header.name, value);
        }
        let result = authenticator().authenticate(&headers);
        prop_assert!(result.is_err(), "accepted: {:?}", result);
        let Err(error) = result else { return Ok(()) };
        prop_assert!(
            matches!(error.code(), Code::Unauthenticated | Code::TokenExpired),
            "code {:?} for {:?}", error.code(), error
        );
        let message = error.to_string();
        for piece in sent.iter().flat_map(|s| &s.pieces) {
            prop_assert!(!echoes(&message, piece), "{:?} echoes {:?}", message, piece);
        }
    }
}
