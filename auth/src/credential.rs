//! Finding the one credential in a request's headers: `Authorization: Bearer <token>`,
//! `Authorization: ApiKey <key>` or `X-Api-Key: <key>`. Nothing is verified here; anything
//! unreadable, of an unknown scheme or ambiguous is [`AuthError::Malformed`].

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};

use crate::error::AuthError;

/// The header that carries an API key.
pub(crate) const API_KEY_HEADER: &str = "x-api-key";

/// The credential found in the headers, not yet verified.
pub(crate) enum Credential<'a> {
    ApiKey(&'a str),
    Bearer(&'a str),
}

/// Finds exactly one credential in the headers.
pub(crate) fn extract_credential(headers: &HeaderMap) -> Result<Credential<'_>, AuthError> {
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

#[cfg(test)]
mod tests {
    use http::header::AUTHORIZATION;
    use http::{HeaderMap, HeaderValue};
    use mandate_codes::Code;

    use super::API_KEY_HEADER;
    use crate::test_support::{claims, headers, hs256, jwt_auth, keys_file, Scratch};
    use crate::{generate_api_key, AuthError};

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
}
