//! mandate-codes: the one registry of error codes clients see in
//! `extensions.code`, with the HTTP status of a request refused with each.
//!
//! Codes are stable: they are documented in README.md and never renamed. Every
//! layer — authentication, admission, the resolvers, the GraphQL-over-HTTP edge —
//! refuses with one of these; this crate depends on nothing, so each can.
//!
//! ```
//! use mandate_codes::Code;
//!
//! assert_eq!(Code::parse("TOKEN_EXPIRED"), Some(Code::TokenExpired));
//! assert_eq!(Code::TokenExpired.http_status(), 401);
//! ```

use std::fmt;

/// A stable, machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// The request body or URL is not a GraphQL request (bad JSON, batch, missing query).
    BadRequest,
    /// A request named a persisted document the hub does not know (send its text).
    PersistedQueryNotFound,
    /// Under trusted documents, the document is not among the approved ones.
    DocumentNotTrusted,
    /// The query text is not valid GraphQL syntax.
    GraphqlParseFailed,
    /// The query does not validate against the schema (unknown field, wrong type, ...).
    GraphqlValidationFailed,
    /// The query nests deeper than the configured limit.
    QueryTooDeep,
    /// The query's estimated cost exceeds the configured limit.
    QueryTooComplex,
    /// An argument value is well-typed but unacceptable (e.g. a negative `first`).
    BadUserInput,
    /// `first` exceeds the maximum page size.
    PageSizeExceeded,
    /// The `after` cursor was not issued for this query, or was altered.
    InvalidCursor,
    /// Neo4j cannot be reached; retry later.
    Neo4jUnavailable,
    /// Neo4j did not answer within the configured time.
    Neo4jTimeout,
    /// The request body exceeds the configured size.
    PayloadTooLarge,
    /// The request body did not arrive whole in time.
    RequestTimeout,
    /// No credential, or one that does not verify (bad key, bad signature, `alg: none`).
    Unauthenticated,
    /// The token's `exp` has passed.
    TokenExpired,
    /// The request does not state its purpose (事由) or case number.
    PurposeRequired,
    /// The stated purpose is not one the agency's responsibility list names.
    PurposeNotAllowed,
    /// A header claims an agency other than the verified credential's.
    AgencyMismatch,
    /// The purpose is in the agency's list, but the credential's roles grant nothing for it.
    NothingGranted,
    /// Through the federation entry point (`/subgraph`, the union of every mandate's
    /// schema): the field is in the supergraph but outside the caller's mandate, so it
    /// answers null; filtering or sorting on it is refused the same way.
    FieldNotGranted,
    /// The audit record could not be written, so no data is returned.
    AuditUnavailable,
    /// The agency (or its purpose) has spent its rate budget; retry after `Retry-After`.
    RateLimited,
    /// The agency (or its purpose) has spent its daily quota; retry after `Retry-After`.
    QuotaExceeded,
    /// The credential carries no officer role (policy_editor, policy_approver, data_steward, auditor, platform_admin, resident_service).
    NotAnOfficer,
    /// The officer's roles do not allow this admin action.
    RoleRequired,
    /// An officer acted on another department's list, application or fields.
    OtherDepartment,
    /// The officer who proposed a change may not approve it.
    TwoPersonRule,
    /// The catalog's share class of a field forbids the grant asked for.
    ShareClassForbids,
    /// A list text does not load; the message names file, line and reason.
    InvalidPolicy,
    /// The record does not exist (or is outside the caller's mandate).
    NotFound,
    /// An update's precondition no longer holds: the record changed since it was read.
    Conflict,
    /// The record is not in a state that allows this, or changed since it was read.
    StateConflict,
    /// A console request carried no or a wrong X-CSRF-Token.
    CsrfRejected,
    /// The console session has expired; sign in again.
    SessionExpired,
    /// A departmental subgraph did not answer within its `timeout_ms`: the fields it
    /// serves are null on their paths; the rest of the answer is intact.
    SubgraphTimeout,
    /// A departmental subgraph cannot be reached, refused the hub, or its circuit
    /// breaker is open: the fields it serves are null on their paths.
    SubgraphUnavailable,
    /// A departmental subgraph answered with an error, or with a value that does not
    /// fit the catalog's type: that field is null on its path.
    SubgraphError,
    /// Anything else; details are in the server log under the request id.
    InternalError,
}

impl Code {
    /// All codes, for documentation and tests.
    pub const ALL: [Code; 39] = [
        Code::BadRequest,
        Code::PersistedQueryNotFound,
        Code::DocumentNotTrusted,
        Code::GraphqlParseFailed,
        Code::GraphqlValidationFailed,
        Code::QueryTooDeep,
        Code::QueryTooComplex,
        Code::BadUserInput,
        Code::PageSizeExceeded,
        Code::InvalidCursor,
        Code::Neo4jUnavailable,
        Code::Neo4jTimeout,
        Code::PayloadTooLarge,
        Code::RequestTimeout,
        Code::Unauthenticated,
        Code::TokenExpired,
        Code::PurposeRequired,
        Code::PurposeNotAllowed,
        Code::AgencyMismatch,
        Code::NothingGranted,
        Code::FieldNotGranted,
        Code::AuditUnavailable,
        Code::RateLimited,
        Code::QuotaExceeded,
        Code::NotAnOfficer,
        Code::RoleRequired,
        Code::OtherDepartment,
        Code::TwoPersonRule,
        Code::ShareClassForbids,
        Code::InvalidPolicy,
        Code::NotFound,
        Code::Conflict,
        Code::StateConflict,
        Code::CsrfRejected,
        Code::SessionExpired,
        Code::SubgraphTimeout,
        Code::SubgraphUnavailable,
        Code::SubgraphError,
        Code::InternalError,
    ];

    /// The string sent in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "BAD_REQUEST",
            Code::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Code::DocumentNotTrusted => "DOCUMENT_NOT_TRUSTED",
            Code::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Code::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Code::QueryTooDeep => "QUERY_TOO_DEEP",
            Code::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::PageSizeExceeded => "PAGE_SIZE_EXCEEDED",
            Code::InvalidCursor => "INVALID_CURSOR",
            Code::Neo4jUnavailable => "NEO4J_UNAVAILABLE",
            Code::Neo4jTimeout => "NEO4J_TIMEOUT",
            Code::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Code::RequestTimeout => "REQUEST_TIMEOUT",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::TokenExpired => "TOKEN_EXPIRED",
            Code::PurposeRequired => "PURPOSE_REQUIRED",
            Code::PurposeNotAllowed => "PURPOSE_NOT_ALLOWED",
            Code::AgencyMismatch => "AGENCY_MISMATCH",
            Code::NothingGranted => "NOTHING_GRANTED",
            Code::FieldNotGranted => "FIELD_NOT_GRANTED",
            Code::AuditUnavailable => "AUDIT_UNAVAILABLE",
            Code::RateLimited => "RATE_LIMITED",
            Code::QuotaExceeded => "QUOTA_EXCEEDED",
            Code::NotAnOfficer => "NOT_AN_OFFICER",
            Code::RoleRequired => "ROLE_REQUIRED",
            Code::OtherDepartment => "OTHER_DEPARTMENT",
            Code::TwoPersonRule => "TWO_PERSON_RULE",
            Code::ShareClassForbids => "SHARE_CLASS_FORBIDS",
            Code::InvalidPolicy => "INVALID_POLICY",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::StateConflict => "STATE_CONFLICT",
            Code::CsrfRejected => "CSRF_REJECTED",
            Code::SessionExpired => "SESSION_EXPIRED",
            Code::SubgraphTimeout => "SUBGRAPH_TIMEOUT",
            Code::SubgraphUnavailable => "SUBGRAPH_UNAVAILABLE",
            Code::SubgraphError => "SUBGRAPH_ERROR",
            Code::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The code sent as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status of a response refused with this code (the GraphQL-over-HTTP
    /// layer may be more precise for `BAD_REQUEST`: 405 for a method, 415 for a
    /// media type). Errors raised while executing a request travel inside a `200`.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Unauthenticated | Code::TokenExpired | Code::SessionExpired => 401,
            Code::NotFound => 404,
            Code::StateConflict | Code::Conflict => 409,
            Code::PurposeNotAllowed
            | Code::AgencyMismatch
            | Code::NothingGranted
            | Code::FieldNotGranted
            | Code::DocumentNotTrusted
            | Code::NotAnOfficer
            | Code::RoleRequired
            | Code::OtherDepartment
            | Code::TwoPersonRule
            | Code::ShareClassForbids
            | Code::CsrfRejected => 403,
            Code::PayloadTooLarge => 413,
            Code::RequestTimeout => 408,
            Code::RateLimited | Code::QuotaExceeded => 429,
            Code::Neo4jUnavailable
            | Code::Neo4jTimeout
            | Code::AuditUnavailable
            | Code::SubgraphTimeout
            | Code::SubgraphUnavailable => 503,
            Code::SubgraphError => 502,
            Code::InternalError => 500,
            Code::BadRequest
            | Code::PersistedQueryNotFound
            | Code::GraphqlParseFailed
            | Code::GraphqlValidationFailed
            | Code::QueryTooDeep
            | Code::QueryTooComplex
            | Code::BadUserInput
            | Code::PageSizeExceeded
            | Code::InvalidCursor
            | Code::PurposeRequired
            | Code::InvalidPolicy => 400,
        }
    }

    /// One line of documentation for the README's table.
    pub fn meaning(self) -> &'static str {
        match self {
            Code::BadRequest => "not a GraphQL request (bad JSON, batch, missing query)",
            Code::PersistedQueryNotFound => {
                "the document id is not known here; send the document's text with it"
            }
            Code::DocumentNotTrusted => {
                "the hub runs only approved documents (`documents.trusted_only`) and this is not one"
            }
            Code::GraphqlParseFailed => "the query is not valid GraphQL syntax",
            Code::GraphqlValidationFailed => "the query does not validate against your schema",
            Code::QueryTooDeep => {
                "the query nests deeper than `limits.max_depth` (or its brackets deeper than 64)"
            }
            Code::QueryTooComplex => {
                "the query exceeds a cost or shape limit (`extensions.limit` names it)"
            }
            Code::BadUserInput => "an argument value is unacceptable",
            Code::PageSizeExceeded => "`first` is larger than `limits.max_page_size`",
            Code::InvalidCursor => "the cursor was not issued for this query or was altered",
            Code::Neo4jUnavailable => "Neo4j cannot be reached; the hub retries by itself",
            Code::Neo4jTimeout => "Neo4j did not answer within `neo4j.query_timeout_ms`",
            Code::PayloadTooLarge => "the request body is larger than `limits.max_body_bytes`",
            Code::RequestTimeout => {
                "the request body did not arrive whole within `server.body_read_secs`"
            }
            Code::Unauthenticated => "no credential, or one that does not verify",
            Code::TokenExpired => "the token has expired",
            Code::PurposeRequired => {
                "the request does not state its purpose (事由) and case number"
            }
            Code::PurposeNotAllowed => "the purpose is not in your agency's responsibility list",
            Code::AgencyMismatch => "a header claims an agency other than your credential's",
            Code::NothingGranted => {
                "your credential's roles grant nothing for this purpose (its list names the purpose for other roles)"
            }
            Code::FieldNotGranted => {
                "through `/subgraph` (federation): the field is outside your mandate and answers null; filtering or sorting on it is refused"
            }
            Code::AuditUnavailable => "the audit record could not be written; no data is returned",
            Code::RateLimited => {
                "your agency's rate budget (cost units a second) is spent; retry after `Retry-After`"
            }
            Code::QuotaExceeded => {
                "your agency's daily quota of cost units is spent; retry after `Retry-After`"
            }
            Code::NotAnOfficer => "the credential carries no officer role, so the admin API and console refuse it",
            Code::RoleRequired => "your officer roles do not allow this action (`extensions.roles` lists those that do)",
            Code::OtherDepartment => "the list, application or field belongs to another department",
            Code::TwoPersonRule => "the officer who proposed a change may not approve it; another approver must",
            Code::ShareClassForbids => "the field's share class (不予共享 not shared, or not conditional) forbids this grant",
            Code::InvalidPolicy => "the list does not load; the message names the line and the reason",
            Code::NotFound => "no such record (a draft, version, application, grant, or a row outside your mandate)",
            Code::Conflict => "the record changed since you read it (an update's `expect` no longer holds); read it again",
            Code::StateConflict => "the record is not in a state that allows this, or someone changed it since you read it; read it again",
            Code::CsrfRejected => "a console request without the session's `X-CSRF-Token`",
            Code::SessionExpired => "the console session has expired; sign in again",
            Code::SubgraphTimeout => "a departmental subgraph did not answer within its `timeout_ms`; its fields are null on their paths, the rest is intact",
            Code::SubgraphUnavailable => "a departmental subgraph cannot be reached, refused the hub, or its circuit breaker is open; its fields are null on their paths",
            Code::SubgraphError => "a departmental subgraph answered with an error or a value that does not fit the catalog; that field is null",
            Code::InternalError => "unexpected; see the server log under the request id",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(Code::parse(code.as_str()), Some(code));
            assert!(!code.meaning().is_empty());
            assert!((400..600).contains(&code.http_status()));
        }
        assert_eq!(Code::parse("NOT_A_CODE"), None);
    }
}

/// Names the hub gives its own runs: a policy officer's preview of a draft
/// (officer `preview:<officer>`, case `PREVIEW:<draft>`) and a draft's impact
/// count (`impact:<officer>`, `IMPACT:<draft>`). No credential may carry such an
/// officer name, and only such an officer may state such a case, so a client's
/// record can never pass for the hub's own (compared ignoring ASCII case).
pub mod reserved {
    /// (officer prefix, case prefix) of each kind of the hub's own runs.
    pub const RUNS: [(&str, &str); 2] = [("preview:", "PREVIEW:"), ("impact:", "IMPACT:")];

    /// `text` as it reads to a person: invisible and format characters and
    /// whitespace dropped, full-width forms folded to ASCII, ASCII lowercase.
    fn skeleton(text: &str) -> String {
        text.chars()
            .filter(|c| !c.is_whitespace() && !c.is_control() && !is_invisible(*c))
            .map(|c| match u32::from(c) {
                // Full-width ASCII (U+FF01–U+FF5E) and the ideographic space.
                n @ 0xFF01..=0xFF5E => char::from_u32(n - 0xFEE0).unwrap_or(c),
                _ => c,
            })
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }

    /// Zero-width and other format characters that render as nothing.
    fn is_invisible(c: char) -> bool {
        matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
        )
    }

    /// Whether `text` reads as one of the hub's run names: the word (`preview`,
    /// `impact`) followed by anything but a letter or digit, or by nothing.
    fn reads_as(text: &str, word: &str) -> bool {
        let s = skeleton(text);
        s.strip_prefix(word)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric()))
    }

    /// Whether `officer` is a name only the hub's own runs carry, or reads as
    /// one (case, spacing, invisible or full-width characters aside).
    pub fn is_hub_officer(officer: &str) -> bool {
        RUNS.iter()
            .any(|(o, _)| reads_as(officer, o.trim_end_matches(':')))
    }

    /// Whether `officer` may state case number `case`: a case that reads as a
    /// reserved one (`PREVIEW`, `IMPACT`, then a separator or nothing) only by
    /// the run it belongs to.
    pub fn may_state_case(officer: &str, case: &str) -> bool {
        RUNS.iter().all(|(o, c)| {
            !reads_as(case, &c.trim_end_matches(':').to_ascii_lowercase()) || officer.starts_with(o)
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_hub_s_run_names_are_its_own() {
            assert!(is_hub_officer("preview:civil-editor"));
            assert!(is_hub_officer(" Preview:civil-editor"));
            assert!(is_hub_officer("IMPACT:x"));
            assert!(!is_hub_officer("system:bench"));
            assert!(!is_hub_officer("officer-17"));
            assert!(may_state_case("preview:civil-editor", "PREVIEW:draft-1"));
            assert!(may_state_case("impact:a", "IMPACT:draft-1"));
            assert!(!may_state_case("officer-17", "PREVIEW:draft-1"));
            assert!(!may_state_case("officer-17", "preview:draft-1"));
            assert!(!may_state_case("impact:a", "PREVIEW:draft-1"));
            assert!(may_state_case("officer-17", "CASE-2026-0042"));
            assert!(may_state_case("officer-17", "REVIEW:1"));
            // Lookalikes of the reserved names read as them.
            for officer in [
                "\u{200b}preview:x",
                "\u{feff}preview:x",
                "preview：x",
                "preview :x",
                "ＰＲＥＶＩＥＷ:x",
            ] {
                assert!(is_hub_officer(officer), "{officer:?}");
            }
            assert!(!is_hub_officer("previewer-7"));
            for case in [
                "PREVIEW.x",
                "PREVIEW/x",
                "PREVIEW-x",
                "PREVIEW",
                "IMPACT",
                "impact_1",
            ] {
                assert!(!may_state_case("officer-17", case), "{case}");
            }
            assert!(may_state_case("officer-17", "PREVIEWS-2026"));
        }
    }
}
