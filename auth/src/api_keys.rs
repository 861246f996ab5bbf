//! API keys: the keys file (`auth.api_keys_file`), checking a presented key against it, and the
//! tools that make a key and its stored hash.
//!
//! The file holds only each key's SHA-256; a presented key is hashed, looked up, and the hashes
//! compared in constant time.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{AuthConfigError, AuthError};
use crate::{read_file, AuthMethod, Authenticator, Principal};

/// One API key entry, as loaded.
pub(crate) struct ApiKeyEntry {
    /// Label for logs.
    id: String,
    /// SHA-256 of the key.
    hash: [u8; 32],
    /// Who the key authenticates.
    principal: Principal,
}

impl Authenticator {
    /// Looks the presented key's hash up among the loaded entries.
    pub(crate) fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError> {
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
}

/// Compares two key hashes in constant time.
fn hashes_match(stored: &[u8; 32], presented: &[u8; 32]) -> bool {
    bool::from(stored.ct_eq(presented))
}

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
    /// Purposes the key is bound to; none: any its agency's lists name.
    #[serde(default)]
    purposes: Vec<String>,
    sha256: String,
}

/// Loads and checks the API keys file: entries by the SHA-256 of their key.
pub(crate) fn load_api_keys(path: &str) -> Result<HashMap<[u8; 32], ApiKeyEntry>, AuthConfigError> {
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
        if mandate_codes::reserved::is_hub_officer(&entry.officer) {
            return Err(fail(format!(
                "`officer` `{}` uses a name the hub reserves for its own runs (preview:, impact:)",
                entry.officer
            )));
        }
        if entry.roles.iter().any(|r| r.trim().is_empty()) {
            return Err(fail("`roles` has an empty role".to_owned()));
        }
        if entry.purposes.iter().any(|p| p.trim().is_empty()) {
            return Err(fail("`purposes` has an empty purpose".to_owned()));
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
            purposes: entry.purposes,
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

/// The 32 bytes of 64 lowercase hex digits; `None` for anything else.
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
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use mandate_codes::Code;
    use sha2::{Digest, Sha256};

    use super::{hashes_match, parse_sha256_hex};
    use crate::test_support::{headers, keys_file, Scratch};
    use crate::{
        generate_api_key, hash_api_key, AuthConfig, AuthError, AuthMethod, Authenticator, Principal,
    };

    #[tokio::test]
    async fn api_key_is_accepted_in_either_header() {
        let scratch = Scratch::new();
        let key = generate_api_key();
        let auth = keys_file(&scratch, &key).await;
        let expected = Principal {
            agency: "D-CIVIL_AFFAIRS".to_owned(),
            officer: "system:subsidy-review".to_owned(),
            roles: vec!["subsidy_reviewer".to_owned()],
            purposes: vec![],
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
}
