//! The one registry of error codes clients see in `extensions.code`.
//!
//! Codes are stable: they are documented in README.md and never renamed. Messages
//! are short and written for the client; internal detail (Cypher text, driver
//! errors) goes to logs only, never into a [`HubError`]'s client message.

use std::fmt;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};

/// A stable, machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// The request body or URL is not a GraphQL request (bad JSON, batch, missing query).
    BadRequest,
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
    /// The audit record could not be written, so no data is returned.
    AuditUnavailable,
    /// Anything else; details are in the server log under the request id.
    InternalError,
}

impl Code {
    /// All codes, for documentation and tests.
    pub const ALL: [Code; 18] = [
        Code::BadRequest,
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
        Code::Unauthenticated,
        Code::TokenExpired,
        Code::PurposeRequired,
        Code::PurposeNotAllowed,
        Code::AgencyMismatch,
        Code::AuditUnavailable,
        Code::InternalError,
    ];

    /// The string sent in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "BAD_REQUEST",
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
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::TokenExpired => "TOKEN_EXPIRED",
            Code::PurposeRequired => "PURPOSE_REQUIRED",
            Code::PurposeNotAllowed => "PURPOSE_NOT_ALLOWED",
            Code::AgencyMismatch => "AGENCY_MISMATCH",
            Code::AuditUnavailable => "AUDIT_UNAVAILABLE",
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
            Code::Unauthenticated | Code::TokenExpired => 401,
            Code::PurposeNotAllowed | Code::AgencyMismatch => 403,
            Code::PayloadTooLarge => 413,
            Code::Neo4jUnavailable | Code::Neo4jTimeout | Code::AuditUnavailable => 503,
            Code::InternalError => 500,
            Code::BadRequest
            | Code::GraphqlParseFailed
            | Code::GraphqlValidationFailed
            | Code::QueryTooDeep
            | Code::QueryTooComplex
            | Code::BadUserInput
            | Code::PageSizeExceeded
            | Code::InvalidCursor
            | Code::PurposeRequired => 400,
        }
    }

    /// One line of documentation for the README's table.
    pub fn meaning(self) -> &'static str {
        match self {
            Code::BadRequest => "not a GraphQL request (bad JSON, batch, missing query)",
            Code::GraphqlParseFailed => "the query is not valid GraphQL syntax",
            Code::GraphqlValidationFailed => "the query does not validate against your schema",
            Code::QueryTooDeep => "the query nests deeper than `limits.max_depth`",
            Code::QueryTooComplex => "the query costs more than `limits.max_complexity`",
            Code::BadUserInput => "an argument value is unacceptable",
            Code::PageSizeExceeded => "`first` is larger than `limits.max_page_size`",
            Code::InvalidCursor => "the cursor was not issued for this query or was altered",
            Code::Neo4jUnavailable => "Neo4j cannot be reached; the hub retries by itself",
            Code::Neo4jTimeout => "Neo4j did not answer within `neo4j.query_timeout_ms`",
            Code::PayloadTooLarge => "the request body is larger than `limits.max_body_bytes`",
            Code::Unauthenticated => "no credential, or one that does not verify",
            Code::TokenExpired => "the token has expired",
            Code::PurposeRequired => {
                "the request does not state its purpose (事由) and case number"
            }
            Code::PurposeNotAllowed => "the purpose is not in your agency's responsibility list",
            Code::AgencyMismatch => "a header claims an agency other than your credential's",
            Code::AuditUnavailable => "the audit record could not be written; no data is returned",
            Code::InternalError => "unexpected; see the server log under the request id",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with a code and a client-safe message.
///
/// Deliberately not `Display`: async-graphql converts every `Display` type into an
/// error without a code, so the only way out is [`HubError::into_graphql`] (also
/// used by `?` through the `From` impl below), which always sets `extensions.code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubError {
    /// Stable code.
    pub code: Code,
    /// Client-safe message.
    pub message: String,
}

impl HubError {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        HubError {
            code,
            message: message.into(),
        }
    }

    /// `BAD_USER_INPUT` with a message.
    pub fn input(message: impl Into<String>) -> Self {
        HubError::new(Code::BadUserInput, message)
    }

    /// `INTERNAL_ERROR`; the detail is logged, never sent.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(detail = %detail, "internal error");
        HubError::new(Code::InternalError, "internal error")
    }

    /// As an async-graphql error carrying `extensions.code`.
    pub fn into_graphql(self) -> async_graphql::Error {
        let code = self.code.as_str();
        use async_graphql::ErrorExtensions as _;
        async_graphql::Error::new(self.message).extend_with(|_, ext| ext.set("code", code))
    }
}

impl From<HubError> for async_graphql::Error {
    fn from(e: HubError) -> Self {
        e.into_graphql()
    }
}

/// Sets `extensions.code` on `e` unless it has one.
pub fn with_code(mut e: ServerError, code: Code) -> ServerError {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code.as_str());
    }
    e
}

/// The schema extension that keeps requests inside the error policy: it tags
/// parse and validation errors with their codes, and applies variable defaults
/// before execution (async-graphql 7.2 evaluates `@skip`/`@include` without them).
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // A default value needs `=` (`$first: Int = 10`): without one there is
        // nothing to apply, and the query is not parsed twice.
        let has_defaults = request.query.contains('=');
        if let Some(Ok(doc)) =
            has_defaults.then(|| async_graphql::parser::parse_query(&request.query))
        {
            let op = match (&doc.operations, &request.operation_name) {
                (DocumentOperations::Single(op), _) => Some(op),
                (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str()),
                (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
                _ => None,
            };
            if let Some(op) = op {
                for def in &op.node.variable_definitions {
                    let name = &def.node.name.node;
                    if let (None, Some(default)) =
                        (request.variables.get(name), &def.node.default_value)
                    {
                        request.variables.insert(name.clone(), default.node.clone());
                    }
                }
            }
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, Code::GraphqlParseFailed))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let code = if e.message.contains("nested too deep") {
                        Code::QueryTooDeep
                    } else if e.message.contains("too complex") {
                        Code::QueryTooComplex
                    } else {
                        Code::GraphqlValidationFailed
                    };
                    with_code(e, code)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_screaming_snake() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            assert!(c
                .as_str()
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch == '_' || ch.is_ascii_digit()));
            assert!(!c.meaning().is_empty());
        }
    }
}
