//! JWT verification: the allow-listed algorithms (HS256 with the development secret, RS256 and
//! ES256 with the JWKS keys), the `iss`/`aud`/time checks, and the claims that make a
//! [`Principal`]. Every failure maps to a client-safe [`AuthError`]; the library's detail goes
//! to the debug log only.

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::{JwtConfig, MIN_HS256_SECRET_BYTES};
use crate::error::{AuthConfigError, AuthError};
use crate::jwks::JwksKey;
use crate::{AuthMethod, Authenticator, Principal};

/// The HS256 development key from `auth.jwt.hs256_secret`, if set (with a warning).
pub(crate) fn hs256_key(jwt: &JwtConfig) -> Result<Option<DecodingKey>, AuthConfigError> {
    if jwt.hs256_secret.is_empty() {
        return Ok(None);
    }
    if jwt.hs256_secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(AuthConfigError::WeakHs256Secret);
    }
    let key = DecodingKey::from_secret(jwt.hs256_secret.as_bytes())
        .map_err(|_| AuthConfigError::WeakHs256Secret)?;
    tracing::warn!("HS256 shared-secret tokens are enabled; this is for development only");
    Ok(Some(key))
}

/// The `iss`/`aud`/time checks of `auth.jwt`, shared by all algorithms (each token sets its
/// own `algorithms`).
pub(crate) fn validation(jwt: &JwtConfig) -> Validation {
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
    validation
}

/// `auth.jwt.key_agencies` as sets; `None` (with a warning if a JWKS is configured) when empty.
pub(crate) fn key_agencies(jwt: &JwtConfig) -> Option<HashMap<String, HashSet<String>>> {
    if jwt.key_agencies.is_empty() {
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
    }
}

impl Authenticator {
    /// Verifies a bearer token and logs the outcome with the token's `kid`.
    pub(crate) fn verify_jwt(&self, token: &str) -> Result<Principal, AuthError> {
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

    /// The checks of [`Authenticator::verify_jwt`], in order; records the `kid` for its log.
    fn verify_jwt_inner(
        &self,
        token: &str,
        kid_for_log: &mut String,
    ) -> Result<Principal, AuthError> {
        // 1. Read the header ourselves and check `alg` against the allow-list before any
        //    library decoding path sees the token: `none` and unconfigured algorithms stop here.
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::bad_token(
                "it is not a signed JWT (three base64url parts)",
            ));
        };
        let header_bytes = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| AuthError::bad_token("its header is not base64url"))?;
        let header = unique_members(&header_bytes).map_err(|e| e.in_part("header"))?;
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
        // A claim written twice is read by different parsers as different values
        // (serde keeps the last, others the first): refuse it rather than pick one.
        let claims_bytes = URL_SAFE_NO_PAD
            .decode(claims_b64)
            .map_err(|_| AuthError::bad_token("its claims are not base64url"))?;
        unique_members(&claims_bytes).map_err(|e| e.in_part("claims"))?;
        check_lifetime(&data.claims, self.max_lifetime_secs)?;

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

/// `value` if it is short visible ASCII, else a placeholder: token fields are attacker input.
pub(crate) fn loggable(value: &str) -> &str {
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
            Some(claim) => AuthError::BadToken(format!(
                "the token has no usable `{claim}` claim (absent, or not a time)"
            )),
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

/// Why a JSON part of a token was refused.
enum PartError {
    NotAnObject,
    Repeated,
}

impl PartError {
    fn in_part(self, part: &str) -> AuthError {
        match self {
            PartError::NotAnObject => {
                AuthError::BadToken(format!("its {part} is not a JSON object"))
            }
            PartError::Repeated => {
                AuthError::BadToken(format!("it names a member of its {part} twice"))
            }
        }
    }
}

/// A JSON object whose members each appear once.
struct UniqueMembers(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueMembers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = UniqueMembers;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UniqueMembers, A::Error> {
                let mut out = Map::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(REPEATED));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueMembers(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

const REPEATED: &str = "repeated member";

/// `bytes` as a JSON object, refusing one that names a member twice.
fn unique_members(bytes: &[u8]) -> Result<Map<String, Value>, PartError> {
    match serde_json::from_slice::<UniqueMembers>(bytes) {
        Ok(m) => Ok(m.0),
        Err(e) if e.to_string().starts_with(REPEATED) => Err(PartError::Repeated),
        Err(_) => Err(PartError::NotAnObject),
    }
}

/// Refuses a token that lives longer than `max` seconds: `exp` too far ahead of
/// now, or of its `iat`. Times are NumericDate (RFC 7519): whole or fractional
/// seconds; a fractional `exp` counts up, a fractional `iat` down, so no form
/// of a time lengthens what is accepted.
fn check_lifetime(claims: &Map<String, Value>, max: u64) -> Result<(), AuthError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let exp = time_claim(claims, "exp", f64::ceil)?
        .ok_or_else(|| AuthError::bad_token("it has no `exp` claim"))?;
    let from = time_claim(claims, "iat", f64::floor)?.unwrap_or(now);
    // A minute's leeway for clocks apart; a token issued later is not yet.
    if from > now.saturating_add(60) {
        return Err(AuthError::bad_token("its `iat` is in the future"));
    }
    if exp.saturating_sub(from.min(now)) > max {
        return Err(AuthError::BadToken(format!(
            "it lives longer than the {max} s this hub accepts"
        )));
    }
    Ok(())
}

/// A NumericDate claim in whole seconds (`round` for a fractional one); absent
/// is `None`, anything but a non-negative number is refused.
fn time_claim(
    claims: &Map<String, Value>,
    name: &str,
    round: fn(f64) -> f64,
) -> Result<Option<u64>, AuthError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let not_a_time = || AuthError::BadToken(format!("its `{name}` claim is not a time"));
    if let Some(secs) = value.as_u64() {
        return Ok(Some(secs));
    }
    let secs = value.as_f64().map(round).ok_or_else(not_a_time)?;
    // Past u64's range the cast saturates: a far-future `exp` stays too long.
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(not_a_time());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(secs as u64))
}

/// Builds the principal from verified claims: `sub`, `agency`, optional `roles`.
fn principal_from_claims(claims: &Map<String, Value>) -> Result<Principal, AuthError> {
    let officer = required_string_claim(claims, "sub")?;
    if mandate_codes::reserved::is_hub_officer(&officer) {
        return Err(AuthError::bad_token(
            "its `sub` uses a name the hub reserves for its own runs (preview:, impact:)",
        ));
    }
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
    let purposes = match claims.get("purposes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(p) if !p.trim().is_empty() => Ok(p.trim().to_string()),
                _ => Err(AuthError::bad_token(
                    "its `purposes` claim must be a non-empty array of non-empty strings",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(AuthError::bad_token(
                "its `purposes` claim must be a non-empty array of non-empty strings",
            ))
        }
    };
    Ok(Principal {
        agency,
        officer,
        roles,
        purposes,
        method: AuthMethod::Jwt,
    })
}

/// The claim `name` as a non-empty string.
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

/// Signs a development HS256 token with `config.hs256_secret`: `sub` = `officer`,
/// `agency`, `roles`, `purposes` (when any: the token is bound to them), `iat`,
/// `exp` = now + `ttl_secs`, and `iss` / `aud` when the configuration checks them. Returns the token and its `exp` (Unix seconds).
/// Used by `mandate token` and GraphiQL's development mode; never for production.
///
/// # Errors
/// If the secret cannot be used or the claims cannot be signed.
pub fn mint_hs256(
    config: &crate::JwtConfig,
    officer: &str,
    agency: &str,
    roles: &[String],
    purposes: &[String],
    ttl_secs: u64,
) -> Result<(String, u64), jsonwebtoken::errors::Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let exp = now + ttl_secs;
    let mut claims = serde_json::json!({
        "sub": officer,
        "agency": agency,
        "roles": roles,
        "iat": now,
        "exp": exp,
    });
    if !purposes.is_empty() {
        claims["purposes"] = purposes.into();
    }
    if !config.issuer.is_empty() {
        claims["iss"] = config.issuer.clone().into();
    }
    if !config.audience.is_empty() {
        claims["aud"] = config.audience.clone().into();
    }
    let key = jsonwebtoken::EncodingKey::from_secret(config.hs256_secret.as_bytes())?;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &key,
    )?;
    Ok((token, exp))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use jsonwebtoken::get_current_timestamp;
    use jsonwebtoken::Algorithm;
    use mandate_codes::Code;
    use serde_json::{json, Value};

    use crate::test_support::{
        b64, bearer, claims, ec_key, fixture, hs256, jwt_auth, public_jwk, rsa_key, rsa_other_key,
        secret_key, sign, standard_jwks, with, Scratch, AUDIENCE, ISSUER, SECRET,
    };
    use crate::{AuthConfig, AuthError, AuthMethod, Authenticator, JwtConfig, Principal};

    #[tokio::test]
    async fn tokens_living_longer_than_allowed_are_refused() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let now = get_current_timestamp();
        let lives =
            |e: AuthError| matches!(&e, AuthError::BadToken(r) if r.contains("lives longer"));
        // Minted to live for years: refused although its signature is good.
        let years = with(claims(), "exp", json!(now + 3 * 365 * 86_400));
        assert!(lives(bearer(&auth, &hs256(&years)).unwrap_err()));
        // Issued a while ago for two days: refused by `iat` too.
        let two_days = with(
            with(claims(), "iat", json!(now - 60)),
            "exp",
            json!(now - 60 + 2 * 86_400),
        );
        assert!(lives(bearer(&auth, &hs256(&two_days)).unwrap_err()));
        // The same times as fractional seconds (NumericDate allows them): no
        // form of a time lengthens what is accepted (a fractional `exp` used
        // to be read as none, so a token for a century passed).
        for far in [3.0 * 365.0 * 86_400.0, 100.0 * 365.0 * 86_400.0] {
            #[allow(clippy::cast_precision_loss)]
            let exp = json!(now as f64 + far + 0.5);
            assert!(lives(
                bearer(&auth, &hs256(&with(claims(), "exp", exp))).unwrap_err()
            ));
        }
        #[allow(clippy::cast_precision_loss)]
        let fractional_iat = with(
            with(claims(), "iat", json!((now - 60) as f64 + 0.25)),
            "exp",
            json!(now - 60 + 2 * 86_400),
        );
        assert!(lives(bearer(&auth, &hs256(&fractional_iat)).unwrap_err()));
        #[allow(clippy::cast_precision_loss)]
        let hour = with(claims(), "exp", json!(now as f64 + 3600.5));
        assert!(
            bearer(&auth, &hs256(&hour)).is_ok(),
            "a fractional hour is fine"
        );
        let future = with(claims(), "iat", json!(now + 3600));
        assert!(matches!(
            bearer(&auth, &hs256(&future)).unwrap_err(),
            AuthError::BadToken(r) if r.contains("future")
        ));
        // A working day is fine, with or without `iat`.
        assert!(bearer(&auth, &hs256(&with(claims(), "exp", json!(now + 8 * 3600)))).is_ok());
        let with_iat = with(with(claims(), "iat", json!(now)), "exp", json!(now + 3600));
        assert!(bearer(&auth, &hs256(&with_iat)).is_ok());
    }

    #[tokio::test]
    async fn a_token_may_be_bound_to_purposes() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let bound = with(claims(), "purposes", json!(["subsidy_review"]));
        assert_eq!(
            bearer(&auth, &hs256(&bound)).unwrap().purposes,
            vec!["subsidy_review".to_string()]
        );
        for bad in [json!([]), json!("subsidy_review"), json!([""]), json!([1])] {
            let e = bearer(&auth, &hs256(&with(claims(), "purposes", bad.clone()))).unwrap_err();
            assert!(
                matches!(&e, AuthError::BadToken(r) if r.contains("purposes")),
                "{bad}: {e:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_hub_s_own_officer_names_are_refused() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        for sub in ["preview:civil-editor", "IMPACT:x"] {
            let e = bearer(&auth, &hs256(&with(claims(), "sub", json!(sub)))).unwrap_err();
            assert!(
                matches!(&e, AuthError::BadToken(r) if r.contains("reserves")),
                "{sub}: {e:?}"
            );
        }
        assert!(bearer(&auth, &hs256(&with(claims(), "sub", json!("previewer-7")))).is_ok());
    }

    #[tokio::test]
    async fn a_claim_or_header_member_written_twice_is_refused() {
        let scratch = Scratch::new();
        let auth = jwt_auth(&scratch).await;
        let key = secret_key(SECRET.as_bytes());
        let signed = |header: &str, payload: &str| {
            let message = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            );
            let signature =
                jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
            format!("{message}.{signature}")
        };
        let exp = get_current_timestamp() + 600;
        let body = |agency: &str| {
            format!(
                r#"{{"sub":"officer-17",{agency}"roles":["subsidy_reviewer"],"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{exp}}}"#
            )
        };
        let header = r#"{"alg":"HS256","typ":"JWT"}"#;
        // The control: the same token with each member once is accepted.
        assert!(bearer(
            &auth,
            &signed(header, &body(r#""agency":"D-CIVIL_AFFAIRS","#))
        )
        .is_ok());
        let twice = body(r#""agency":"D-CIVIL_AFFAIRS","agency":"D-PUBLIC_SECURITY","#);
        let e = bearer(&auth, &signed(header, &twice)).unwrap_err();
        assert!(
            matches!(&e, AuthError::BadToken(r) if r.contains("of its claims twice")),
            "{e:?}"
        );
        let header_twice = r#"{"alg":"HS256","alg":"HS256","typ":"JWT"}"#;
        let e = bearer(
            &auth,
            &signed(header_twice, &body(r#""agency":"D-CIVIL_AFFAIRS","#)),
        )
        .unwrap_err();
        assert!(
            matches!(&e, AuthError::BadToken(r) if r.contains("of its header twice")),
            "{e:?}"
        );
    }

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
                purposes: vec![],
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
}
