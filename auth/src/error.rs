//! The crate's errors: [`AuthError`] for a request whose credential does not verify (client-safe
//! message, stable code), [`AuthConfigError`] for settings or key material that cannot be used.

use mandate_codes::Code;

use crate::config::{MAX_LEEWAY_SECS, MIN_HS256_SECRET_BYTES, MIN_JWKS_REFRESH_SECS};

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
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::UnknownKey => "unknown_key",
            AuthError::BadToken(_) => "bad_token",
            AuthError::Expired => "expired",
            AuthError::AlgorithmNotAllowed => "algorithm_not_allowed",
        }
    }

    /// A [`AuthError::BadToken`] with a fixed, client-safe reason.
    pub(crate) fn bad_token(reason: &str) -> AuthError {
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
