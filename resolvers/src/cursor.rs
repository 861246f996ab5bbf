//! Opaque pagination cursors.
//!
//! A cursor holds the sort-key values of a row (id last), encrypted and
//! authenticated with XChaCha20-Poly1305 under the hub's cursor key. The scope of
//! the query that issued it (plan fingerprint, type path, filter, order) is the
//! associated data, so a cursor opens only for the same query shape under the same
//! access plan: it cannot be forged, moved into another query, or read for values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::errors::{Code, HubError};

const NONCE_LEN: usize = 24;

/// The key cursors are sealed with.
#[derive(Clone)]
pub struct CursorKey {
    cipher: XChaCha20Poly1305,
    nonce_key: [u8; 32],
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A key derived from a secret of any length (hashed to 32 bytes).
    pub fn from_secret(secret: &[u8]) -> Self {
        let digest = Sha256::digest(secret);
        let mut nonce_key = [0u8; 32];
        nonce_key.copy_from_slice(
            &Sha256::new()
                .chain_update(b"mandate cursor nonce")
                .chain_update(secret)
                .finalize(),
        );
        CursorKey {
            cipher: XChaCha20Poly1305::new(&digest),
            nonce_key,
        }
    }

    /// A fresh random key: cursors then do not survive a restart.
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::from_secret(&secret)
    }

    /// Seals sort-key values for the query `scope`. The nonce is synthetic (a keyed
    /// hash of scope and values), so the same row in the same query always gets
    /// the same cursor and distinct rows never share a nonce.
    pub(crate) fn seal(&self, scope: &str, keys: &[Value]) -> Result<String, HubError> {
        let plain = serde_json::to_vec(keys).map_err(HubError::internal)?;
        let digest = Sha256::new()
            .chain_update(self.nonce_key)
            .chain_update((scope.len() as u64).to_be_bytes())
            .chain_update(scope.as_bytes())
            .chain_update(&plain)
            .finalize();
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&digest[..NONCE_LEN]);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: scope.as_bytes(),
                },
            )
            .map_err(|_| HubError::internal("cursor sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a cursor issued for `scope`; anything else is `INVALID_CURSOR`.
    pub(crate) fn open(&self, scope: &str, cursor: &str) -> Result<Vec<Value>, HubError> {
        let invalid = || HubError::new(Code::InvalidCursor, "invalid cursor for this query");
        if cursor.len() > 4096 {
            return Err(invalid());
        }
        let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        if raw.len() <= NONCE_LEN {
            return Err(invalid());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: scope.as_bytes(),
                },
            )
            .map_err(|_| invalid())?;
        match serde_json::from_slice(&plain) {
            Ok(Value::Array(values)) => Ok(values),
            _ => Err(invalid()),
        }
    }
}

/// The scope string of a query position space: a hash of its parts.
pub(crate) fn scope_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_within_its_scope_only() {
        let key = CursorKey::from_secret(b"test");
        let keys = json!(["王伟", "R00000042"]);
        let keys = keys.as_array().unwrap().as_slice();
        let c = key.seal("scope-a", keys).unwrap();
        assert!(!c.contains("R000"), "values are not readable");
        assert_eq!(key.open("scope-a", &c).unwrap(), keys);
        assert_eq!(key.seal("scope-a", keys).unwrap(), c, "deterministic");
        assert_ne!(key.seal("scope-b", keys).unwrap(), c);
        assert_eq!(
            key.open("scope-b", &c).unwrap_err().code,
            Code::InvalidCursor
        );
        let other = CursorKey::from_secret(b"other");
        assert_eq!(
            other.open("scope-a", &c).unwrap_err().code,
            Code::InvalidCursor
        );
        let mut tampered = c.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            key.open("scope-a", &tampered).unwrap_err().code,
            Code::InvalidCursor
        );
        assert_eq!(
            key.open("scope-a", "not base64!").unwrap_err().code,
            Code::InvalidCursor
        );
        assert_eq!(
            key.open("scope-a", "").unwrap_err().code,
            Code::InvalidCursor
        );
    }

    #[test]
    fn scopes_differ_by_part_boundaries() {
        assert_ne!(scope_of(&["ab", "c"]), scope_of(&["a", "bc"]));
        assert_eq!(scope_of(&["a"]), scope_of(&["a"]));
    }
}
