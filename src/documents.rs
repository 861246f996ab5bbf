//! Persisted and trusted documents: a request may name its GraphQL document by
//! its SHA-256 instead of sending the text, and a hub in production may run only
//! the documents its operators approved.
//!
//! - `documents.manifest`: a JSON file of approved documents, either Apollo's
//!   persisted-query manifest (`{"format": "apollo-persisted-query-manifest",
//!   "operations": [{"id", "body", ...}]}`) or a flat `{"<sha256>": "<document>"}`
//!   (graphql-codegen's `persisted-documents.json`). Every id must be the SHA-256
//!   of its body; a manifest that disagrees is refused at start, naming the entry.
//! - A request names a document by `documentId` (`"sha256:<hex>"` or `"<hex>"`,
//!   the GraphQL-over-HTTP persisted documents proposal) or by Apollo's
//!   `extensions.persistedQuery.sha256Hash` (automatic persisted queries).
//! - `documents.trusted_only = true`: only the manifest's documents run, named
//!   or sent in full; anything else is `DOCUMENT_NOT_TRUSTED`. Otherwise any
//!   document runs, and documents sent once with their hash are remembered (up to
//!   `documents.remember_bytes`) so later requests may send the hash alone — an
//!   unknown hash is `PERSISTED_QUERY_NOT_FOUND`, and the client sends the text.
//!   A remembered document is remembered for the verified caller (agency and
//!   officer) that sent it, and only that caller may name it: which documents
//!   other callers sent (ids written into query text included) never shows,
//!   and a request not yet authenticated finds none.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use mandate_resolvers::Code;
use sha2::{Digest, Sha256};

/// Configuration of persisted and trusted documents.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsConfig {
    /// Path of the manifest of approved documents; empty: none.
    pub manifest: String,
    /// Run only the manifest's documents.
    pub trusted_only: bool,
    /// Bytes of documents remembered from requests that sent text and hash
    /// (automatic persisted queries); 0 turns remembering off.
    pub remember_bytes: usize,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        DocumentsConfig {
            manifest: String::new(),
            trusted_only: false,
            remember_bytes: 4 << 20,
        }
    }
}

/// Why a request's document could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code sent.
    pub code: Code,
    /// The message sent.
    pub message: &'static str,
}

fn refuse(code: Code, message: &'static str) -> Refusal {
    Refusal { code, message }
}

/// Documents remembered from requests, oldest first, bounded in bytes.
#[derive(Default)]
struct Remembered {
    by_hash: HashMap<String, Arc<str>>,
    order: VecDeque<String>,
    bytes: usize,
    /// Bytes held per caller.
    held: HashMap<String, usize>,
}

/// The part of `documents.remember_bytes` one caller may hold: a caller
/// sending many large documents forgets its own, not everyone's.
const CALLER_SHARE: usize = 8;

impl Remembered {
    /// Forgets the oldest document, of `caller` only when named.
    fn forget_oldest(&mut self, caller: Option<&str>) -> bool {
        let at = match caller {
            None => (!self.order.is_empty()).then_some(0),
            Some(c) => self.order.iter().position(|k| caller_of(k) == c),
        };
        let Some(key) = at.and_then(|i| self.order.remove(i)) else {
            return false;
        };
        if let Some(gone) = self.by_hash.remove(&key) {
            let size = key.len() + gone.len();
            self.bytes -= size;
            let owner = caller_of(&key).to_string();
            if let Some(n) = self.held.get_mut(&owner) {
                *n = n.saturating_sub(size);
                if *n == 0 {
                    self.held.remove(&owner);
                }
            }
        }
        true
    }
}

/// The caller a remembered key belongs to.
fn caller_of(key: &str) -> &str {
    key.rsplit_once('\u{0}').map_or("", |(caller, _)| caller)
}

/// The approved and remembered documents.
pub struct Documents {
    approved: HashMap<String, Arc<str>>,
    trusted_only: bool,
    remember_bytes: usize,
    remembered: Mutex<Remembered>,
}

/// Where a caller's remembered document is kept: its hash under the caller.
fn remembered_key(caller: &str, hash: &str) -> String {
    format!("{caller}\u{0}{hash}")
}

/// The lowercase hex SHA-256 of `text`.
pub fn hash_of(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A document id as sent: `sha256:<hex>` or `<hex>`, 64 hex digits.
fn parse_id(id: &str) -> Option<String> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

impl Documents {
    /// Loads the manifest named by `config`, if any.
    ///
    /// # Errors
    /// A manifest that cannot be read or parsed, or whose ids are not the SHA-256
    /// of their documents; `trusted_only` without a manifest.
    pub fn load(config: &DocumentsConfig) -> Result<Documents, String> {
        let approved = if config.manifest.is_empty() {
            if config.trusted_only {
                return Err(
                    "documents.trusted_only needs documents.manifest (the approved documents)"
                        .to_string(),
                );
            }
            HashMap::new()
        } else {
            let text = std::fs::read_to_string(&config.manifest)
                .map_err(|e| format!("documents.manifest `{}`: {e}", config.manifest))?;
            Self::parse_manifest(&text)
                .map_err(|e| format!("documents.manifest `{}`: {e}", config.manifest))?
        };
        Ok(Documents {
            approved,
            trusted_only: config.trusted_only,
            remember_bytes: config.remember_bytes,
            remembered: Mutex::new(Remembered::default()),
        })
    }

    fn parse_manifest(text: &str) -> Result<HashMap<String, Arc<str>>, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let entries: Vec<(String, String)> = match value.get("operations") {
            Some(serde_json::Value::Array(ops)) => ops
                .iter()
                .enumerate()
                .map(|(i, op)| {
                    match (
                        op.get("id").and_then(|v| v.as_str()),
                        op.get("body").and_then(|v| v.as_str()),
                    ) {
                        (Some(id), Some(body)) => Ok((id.to_string(), body.to_string())),
                        _ => Err(format!("operations[{i}] needs string `id` and `body`")),
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("`operations` must be an array".to_string()),
            None => match value {
                serde_json::Value::Object(map) => map
                    .into_iter()
                    .map(|(id, body)| match body {
                        serde_json::Value::String(b) => Ok((id, b)),
                        _ => Err(format!("entry `{id}` must be a document string")),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err("expected an object".to_string()),
            },
        };
        let mut approved = HashMap::with_capacity(entries.len());
        for (id, body) in entries {
            let hash = parse_id(&id)
                .ok_or_else(|| format!("id `{id}` is not a SHA-256 (64 hex digits)"))?;
            if hash_of(&body) != hash {
                return Err(format!(
                    "id `{id}` is not the SHA-256 of its document (that is {})",
                    hash_of(&body)
                ));
            }
            approved.insert(hash, Arc::from(body));
        }
        Ok(approved)
    }

    /// How many documents the manifest approves.
    pub fn approved(&self) -> usize {
        self.approved.len()
    }

    /// The document to run for a request that sent `query` (possibly empty),
    /// `document_id` and/or an APQ `sha256Hash`, from `caller` (its verified
    /// agency and officer; `None`: not authenticated, so nothing remembered is
    /// found or remembered).
    ///
    /// # Errors
    /// `BAD_REQUEST` for a malformed id, a hash that is not the query's, or
    /// neither query nor id; `PERSISTED_QUERY_NOT_FOUND` for an unknown id sent
    /// alone; `DOCUMENT_NOT_TRUSTED` for a document outside the manifest under
    /// `trusted_only`.
    pub fn resolve(
        &self,
        query: Option<&str>,
        document_id: Option<&str>,
        apq_hash: Option<&str>,
        caller: Option<&str>,
    ) -> Result<Arc<str>, Refusal> {
        let query = query.filter(|q| !q.is_empty());
        let named = match (document_id, apq_hash) {
            (Some(id), _) | (None, Some(id)) => Some(parse_id(id).ok_or_else(|| {
                refuse(
                    Code::BadRequest,
                    "a document id is `sha256:` and 64 hex digits",
                )
            })?),
            (None, None) => None,
        };
        if let (Some(a), Some(b)) = (document_id.and_then(parse_id), apq_hash.and_then(parse_id)) {
            if a != b {
                return Err(refuse(
                    Code::BadRequest,
                    "`documentId` and `extensions.persistedQuery` name different documents",
                ));
            }
        }
        match (query, named) {
            (None, None) => Err(refuse(
                Code::BadRequest,
                "`query` must be a non-empty string (or name a persisted document)",
            )),
            (None, Some(hash)) => {
                if let Some(doc) = self.approved.get(&hash) {
                    return Ok(doc.clone());
                }
                if let (false, Some(caller)) = (self.trusted_only, caller) {
                    if let Some(doc) = self
                        .remembered
                        .lock()
                        .ok()
                        .and_then(|r| r.by_hash.get(&remembered_key(caller, &hash)).cloned())
                    {
                        return Ok(doc);
                    }
                }
                Err(refuse(
                    Code::PersistedQueryNotFound,
                    "no document has this id here; send the document's text with it",
                ))
            }
            (Some(text), named) => {
                let hash = hash_of(text);
                if named.as_ref().is_some_and(|h| *h != hash) {
                    return Err(refuse(
                        Code::BadRequest,
                        "the document id is not the SHA-256 of the query sent",
                    ));
                }
                if let Some(doc) = self.approved.get(&hash) {
                    return Ok(doc.clone());
                }
                if self.trusted_only {
                    return Err(refuse(
                        Code::DocumentNotTrusted,
                        "this hub runs only approved documents (trusted documents); this one is not among them",
                    ));
                }
                let doc: Arc<str> = Arc::from(text);
                if let (Some(_), Some(caller)) = (named, caller) {
                    self.remember(remembered_key(caller, &hash), doc.clone());
                }
                Ok(doc)
            }
        }
    }

    /// Remembers `doc` under `key` (its caller and hash); the bound counts both.
    fn remember(&self, key: String, doc: Arc<str>) {
        let size = key.len() + doc.len();
        let share = (self.remember_bytes / CALLER_SHARE).max(1);
        if size > share {
            return;
        }
        let Ok(mut r) = self.remembered.lock() else {
            return;
        };
        if r.by_hash.contains_key(&key) {
            return;
        }
        let caller = caller_of(&key).to_string();
        // The caller's own oldest first, within its share; then everyone's
        // oldest, within the whole bound.
        while r.held.get(&caller).copied().unwrap_or(0) + size > share {
            if !r.forget_oldest(Some(&caller)) {
                break;
            }
        }
        while r.bytes + size > self.remember_bytes {
            if !r.forget_oldest(None) {
                break;
            }
        }
        r.bytes += size;
        *r.held.entry(caller).or_insert(0) += size;
        r.order.push_back(key.clone());
        r.by_hash.insert(key, doc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "{ residents(first: 1) { totalCount } }";
    const CALLER: &str = "D-TEST\u{0}system:test";

    fn docs(manifest: Option<&str>, trusted_only: bool, remember_bytes: usize) -> Documents {
        let dir = std::env::temp_dir().join(format!("mandate-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // One file per call: tests writing the same manifest at once would
        // read each other's half-written file.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("manifest-{n}.json"));
        if let Some(m) = manifest {
            std::fs::write(&path, m).unwrap();
        }
        Documents::load(&DocumentsConfig {
            manifest: manifest
                .map(|_| path.to_string_lossy().to_string())
                .unwrap_or_default(),
            trusted_only,
            remember_bytes,
        })
        .unwrap()
    }

    fn apollo(body: &str) -> String {
        serde_json::json!({"format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{"id": hash_of(body), "name": "Q", "type": "query", "body": body}]})
        .to_string()
    }

    #[test]
    fn manifests_in_both_formats_load_and_are_checked() {
        assert_eq!(docs(Some(&apollo(Q)), true, 0).approved(), 1);
        let flat = serde_json::json!({ hash_of(Q): Q }).to_string();
        assert_eq!(docs(Some(&flat), false, 0).approved(), 1);
        let wrong = serde_json::json!({ hash_of("{ a }"): Q }).to_string();
        let e = Documents::parse_manifest(&wrong).unwrap_err();
        assert!(e.contains("is not the SHA-256 of its document"), "{e}");
        assert!(Documents::load(&DocumentsConfig {
            trusted_only: true,
            ..DocumentsConfig::default()
        })
        .is_err());
    }

    #[test]
    fn trusted_only_runs_approved_documents_named_or_sent() {
        let d = docs(Some(&apollo(Q)), true, 1 << 20);
        let id = format!("sha256:{}", hash_of(Q));
        assert_eq!(&*d.resolve(None, Some(&id), None, Some(CALLER)).unwrap(), Q);
        assert_eq!(
            &*d.resolve(None, None, Some(&hash_of(Q)), Some(CALLER))
                .unwrap(),
            Q
        );
        assert_eq!(&*d.resolve(Some(Q), None, None, Some(CALLER)).unwrap(), Q);
        let other = "{ residents(first: 2) { totalCount } }";
        assert_eq!(
            d.resolve(Some(other), None, None, Some(CALLER))
                .unwrap_err()
                .code,
            Code::DocumentNotTrusted
        );
        // Sending text and hash does not get a document remembered either.
        assert_eq!(
            d.resolve(Some(other), None, Some(&hash_of(other)), Some(CALLER))
                .unwrap_err()
                .code,
            Code::DocumentNotTrusted
        );
        assert_eq!(
            d.resolve(None, None, Some(&hash_of(other)), Some(CALLER))
                .unwrap_err()
                .code,
            Code::PersistedQueryNotFound
        );
    }

    #[test]
    fn automatic_persisted_queries_remember_within_bounds() {
        // The caller's share (an eighth) holds two documents.
        let d = docs(None, false, 8 * 2 * (Q.len() + CALLER.len() + 65));
        let h = hash_of(Q);
        assert_eq!(
            d.resolve(None, None, Some(&h), Some(CALLER))
                .unwrap_err()
                .code,
            Code::PersistedQueryNotFound
        );
        assert_eq!(
            &*d.resolve(Some(Q), None, Some(&h), Some(CALLER)).unwrap(),
            Q
        );
        assert_eq!(&*d.resolve(None, None, Some(&h), Some(CALLER)).unwrap(), Q);
        // A wrong hash for the text is refused, not remembered.
        let wrong = hash_of("{ x }");
        assert_eq!(
            d.resolve(Some(Q), None, Some(&wrong), Some(CALLER))
                .unwrap_err()
                .code,
            Code::BadRequest
        );
        // Older documents make way within the byte bound.
        let q2 = "{ residents(first: 2) { totalCount } }";
        let q3 = "{ residents(first: 3) { totalCount } }";
        d.resolve(Some(q2), None, Some(&hash_of(q2)), Some(CALLER))
            .unwrap();
        d.resolve(Some(q3), None, Some(&hash_of(q3)), Some(CALLER))
            .unwrap();
        assert_eq!(
            d.resolve(None, None, Some(&h), Some(CALLER))
                .unwrap_err()
                .code,
            Code::PersistedQueryNotFound
        );
        assert_eq!(
            &*d.resolve(None, None, Some(&hash_of(q3)), Some(CALLER))
                .unwrap(),
            q3
        );
        // Malformed ids and empty requests.
        assert_eq!(
            d.resolve(None, Some("md5:abc"), None, Some(CALLER))
                .unwrap_err()
                .code,
            Code::BadRequest
        );
        assert_eq!(
            d.resolve(Some(""), None, None, Some(CALLER))
                .unwrap_err()
                .code,
            Code::BadRequest
        );
    }

    #[test]
    fn a_remembered_document_is_found_only_by_the_caller_that_sent_it() {
        let d = docs(None, false, 1 << 20);
        let h = hash_of(Q);
        d.resolve(Some(Q), None, Some(&h), Some(CALLER)).unwrap();
        assert_eq!(&*d.resolve(None, None, Some(&h), Some(CALLER)).unwrap(), Q);
        for other in [Some("D-OTHER\u{0}system:other"), None] {
            assert_eq!(
                d.resolve(None, Some(&h), None, other).unwrap_err().code,
                Code::PersistedQueryNotFound,
                "{other:?}"
            );
        }
        // A request not yet authenticated remembers nothing.
        let q2 = "{ residents(first: 2) { totalCount } }";
        d.resolve(Some(q2), None, Some(&hash_of(q2)), None).unwrap();
        assert_eq!(
            d.resolve(None, None, Some(&hash_of(q2)), None)
                .unwrap_err()
                .code,
            Code::PersistedQueryNotFound
        );
    }

    #[test]
    fn one_caller_forgets_its_own_documents_not_everyones() {
        let each = Q.len() + CALLER.len() + 65;
        let d = docs(None, false, 8 * 2 * each);
        let h = hash_of(Q);
        d.resolve(Some(Q), None, Some(&h), Some(CALLER)).unwrap();
        let other = "D-OTHER\u{0}system:other";
        for i in 0..50 {
            let q = format!("{{ residents(first: {i}) {{ totalCount }} }}");
            d.resolve(Some(&q), None, Some(&hash_of(&q)), Some(other))
                .unwrap();
        }
        assert_eq!(&*d.resolve(None, None, Some(&h), Some(CALLER)).unwrap(), Q);
    }
}
