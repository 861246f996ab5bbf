//! The audit record and its typed decision.

use sha2::{Digest, Sha256};

/// The hash a chain starts from.
pub const GENESIS: &str = "genesis";

/// What the hub did with a request. Stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Decision {
    /// Answered in full, nothing masked.
    Allowed,
    /// Answered, some fields masked.
    Masked,
    /// Answered with data and errors.
    Partial,
    /// Executed, but nothing answered (errors only).
    Denied,
    /// Refused before execution (bad request, credential, purpose).
    Rejected,
}

impl Decision {
    /// The name stored in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Masked => "masked",
            Decision::Partial => "partial",
            Decision::Denied => "denied",
            Decision::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit record. Every request — allowed, masked, denied, rejected — writes one.
///
/// The serialized form (camelCase JSON) is what the journal holds, what Neo4j
/// stores as properties, and what the hash covers: field names and order are part
/// of the chain's format and never change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Which hub instance's chain this record belongs to.
    pub chain: String,
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The hub's own id of the request (also in the logs and the response).
    pub request_id: String,
    /// The id the client sent in `x-request-id`, if any: kept for correlation,
    /// never trusted as the record's identity. Absent (not serialized) when
    /// empty, so records from before it existed hash as they did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_request_id: String,
    /// Verified agency, or `-` when the request was rejected before that.
    pub agency: String,
    /// Verified officer or system, or `-`.
    pub officer: String,
    /// Stated purpose, or `-`.
    pub purpose: String,
    /// Stated case number, or `-`.
    pub case_number: String,
    /// SHA-256 of the operation text, operation name and variables ([`operation_hash`]).
    pub operation: String,
    /// What the hub did.
    pub decision: Decision,
    /// The error code when not allowed, else empty.
    pub code: String,
    /// Fields read (`Type.field`, `Type.field:masked`).
    pub fields: Vec<String>,
    /// Ids of the residents whose data was returned.
    pub residents: Vec<String>,
    /// Refusals of unauthenticated requests the hub counted but did not record
    /// since the previous record of one (they are sampled, so that anonymous
    /// traffic cannot grow the log without bound). Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unrecorded_before: u64,
    /// What a policy officer did (`policy.propose`, `grant.expire`, ...); absent
    /// (not serialized) for data reads, so their records hash as they always did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// What the officer's action was about (`draft:…`, `version:7`,
    /// `application:…`, `grant:…`); absent when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Hash of the previous record of the chain ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// Hash of this record with `prev_hash` (not of itself).
    pub hash: String,
}

impl AuditRecord {
    /// A record of `decision` for request `request_id`, stamped now, with no
    /// principal (`-`), no operation, and chain fields left for the sink.
    pub fn new(request_id: &str, decision: Decision) -> AuditRecord {
        let dash = || "-".to_string();
        AuditRecord {
            chain: String::new(),
            seq: 0,
            time: now_rfc3339(),
            request_id: request_id.to_string(),
            client_request_id: String::new(),
            agency: dash(),
            officer: dash(),
            purpose: dash(),
            case_number: dash(),
            operation: String::new(),
            decision,
            code: String::new(),
            fields: Vec::new(),
            residents: Vec::new(),
            unrecorded_before: 0,
            action: String::new(),
            target: String::new(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// The hash this record must carry: SHA-256 over its canonical JSON with
    /// `hash` empty.
    pub fn compute_hash(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.hash = String::new();
        // Serializing plain strings, numbers and lists cannot fail; an empty input
        // would only make the hash disagree with the stored one, which verify reports.
        let bytes = serde_json::to_vec(&unsealed).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Now, as RFC 3339 UTC with milliseconds (`2026-12-06T14:35:37.123Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// What the record says of an operation: SHA-256 (applied twice, as records have
/// always been written) of its text, operation name and variables, NUL-separated.
pub fn operation_hash(query: &str, operation_name: Option<&str>, variables: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(query.as_bytes());
    h.update([0]);
    h.update(operation_name.unwrap_or("").as_bytes());
    h.update([0]);
    h.update(variables);
    hex::encode(Sha256::digest(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> AuditRecord {
        AuditRecord {
            chain: "hub-a".into(),
            seq: 7,
            time: "2026-11-29T08:00:00.000Z".into(),
            request_id: "req-1".into(),
            client_request_id: String::new(),
            agency: "D-CIVIL_AFFAIRS".into(),
            officer: "officer-1".into(),
            purpose: "subsidy_review".into(),
            case_number: "C-1".into(),
            operation: "op".into(),
            decision: Decision::Masked,
            code: String::new(),
            fields: vec!["Resident.idNumber:masked".into()],
            residents: vec!["R0000001".into()],
            unrecorded_before: 0,
            action: String::new(),
            target: String::new(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_serialized_form_is_the_chain_format() {
        // Records already in journals and in Neo4j were hashed over exactly this
        // text; a change here would break every existing chain.
        let json = serde_json::to_string(&fixed()).unwrap();
        assert_eq!(
            json,
            r#"{"chain":"hub-a","seq":7,"time":"2026-11-29T08:00:00.000Z","requestId":"req-1","agency":"D-CIVIL_AFFAIRS","officer":"officer-1","purpose":"subsidy_review","caseNumber":"C-1","operation":"op","decision":"masked","code":"","fields":["Resident.idNumber:masked"],"residents":["R0000001"],"prevHash":"genesis","hash":""}"#
        );
        assert_eq!(
            fixed().compute_hash(),
            hex::encode(Sha256::digest(json.as_bytes()))
        );
    }

    #[test]
    fn a_client_request_id_is_kept_beside_the_hubs_own() {
        let mut r = fixed();
        r.client_request_id = "client-7".into();
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains(r#""requestId":"req-1","clientRequestId":"client-7","#),
            "{json}"
        );
        let back: AuditRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_ne!(r.compute_hash(), fixed().compute_hash());
    }

    #[test]
    fn decisions_read_back_from_their_names() {
        for d in [
            Decision::Allowed,
            Decision::Masked,
            Decision::Partial,
            Decision::Denied,
            Decision::Rejected,
        ] {
            let text = serde_json::to_string(&d).unwrap();
            assert_eq!(text, format!("\"{}\"", d.as_str()));
            assert_eq!(serde_json::from_str::<Decision>(&text).unwrap(), d);
        }
        assert!(serde_json::from_str::<Decision>("\"maybe\"").is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 24, "{t}");
        assert!(chrono::DateTime::parse_from_rfc3339(&t).is_ok(), "{t}");
        assert!(t.ends_with('Z'));
    }

    #[test]
    fn operation_hashes_separate_their_parts() {
        let a = operation_hash("{a}", Some("b"), b"{}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, operation_hash("{a}b", None, b"{}"));
        assert_eq!(a, operation_hash("{a}", Some("b"), b"{}"));
    }
}
