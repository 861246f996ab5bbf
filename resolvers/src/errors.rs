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

pub use mandate_codes::Code;

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

/// The schema extension that keeps requests inside the error policy: it parses
/// the document once and checks its expansion and response keys before anything
/// else walks it (`shape`), tags parse and validation errors with their codes,
/// measures the operation's cost and shape and refuses it beyond the
/// [`ShapeLimits`](crate::ShapeLimits) (`cost`), charges the cost to the request's
/// [`Meter`](crate::Meter), refuses documents deeper than the limit from the depth
/// validation measured, and applies variable
/// defaults before execution (async-graphql 7.2 evaluates `@skip`/`@include`
/// without them).
/// Refuses GraphQL text whose brackets nest deeper than the hub ever needs:
/// the parser recurses into values without a bound, and a deep enough document
/// overflows the worker's stack (and aborts the process) before any limit
/// that looks at the parsed document could refuse it.
///
/// # Errors
/// `QUERY_TOO_DEEP`.
pub fn check_nesting(text: &str) -> ServerResult<()> {
    if crate::shape::nests_deeper(text, crate::limits::MAX_NESTING) {
        return Err(with_code(
            ServerError::new("Query is nested too deep.", None),
            Code::QueryTooDeep,
        ));
    }
    Ok(())
}

/// Parses untrusted GraphQL text: its nesting checked first, so the parser
/// never recurses past [`check_nesting`]'s bound. The one way the hub parses
/// a client's document (clippy.toml disallows the parser's own entry point).
///
/// # Errors
/// `QUERY_TOO_DEEP`, `GRAPHQL_PARSE_FAILED`.
pub fn parse_document(text: &str) -> ServerResult<ExecutableDocument> {
    check_nesting(text)?;
    #[allow(clippy::disallowed_methods)] // the guarded entry point itself
    async_graphql::parser::parse_query(text).map_err(parse_error)
}

/// A parse error as the hub reports it: `GRAPHQL_PARSE_FAILED`, at its
/// locations, with the parser's expectation in one line rather than its
/// formatted excerpt of the document.
fn parse_error(error: async_graphql::parser::Error) -> ServerError {
    let syntax = match &error {
        async_graphql::parser::Error::Syntax { message, .. } => Some(
            message
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("= "))
                .map_or_else(
                    || "Syntax error.".to_string(),
                    |m| format!("Syntax error: {m}."),
                ),
        ),
        _ => None,
    };
    let mut e: ServerError = error.into();
    if let Some(message) = syntax {
        e.message = message;
    }
    with_code(e, Code::GraphqlParseFailed)
}

/// A shape refusal as the client sees it.
fn shape_error(e: crate::shape::ShapeError) -> ServerError {
    let (message, code) = match e {
        crate::shape::ShapeError::TooLarge => {
            ("Query is too complex.".to_string(), Code::QueryTooComplex)
        }
        crate::shape::ShapeError::BadFragments(m) | crate::shape::ShapeError::KeyConflict(m) => {
            (m, Code::GraphqlValidationFailed)
        }
    };
    with_code(ServerError::new(message, None), code)
}

/// Parses a document for a schema without the data API's cost model (the
/// policy officers' admin API) and bounds it as the data API bounds its own
/// before anything walks it: nesting ([`parse_document`]), the selections its
/// fragments expand to (`max_selections`, memoised, so doubling spreads are
/// refused in linear time), and its root fields counted occurrence by
/// occurrence through fragments (`max_root_fields`: the executor runs every
/// copy, each a resolver that may query the store).
///
/// # Errors
/// `QUERY_TOO_DEEP`, `GRAPHQL_PARSE_FAILED`, `QUERY_TOO_COMPLEX`,
/// `GRAPHQL_VALIDATION_FAILED` (fragment cycles, conflicting fields).
pub fn bounded_document(
    text: &str,
    max_selections: usize,
    max_root_fields: usize,
) -> ServerResult<ExecutableDocument> {
    let doc = parse_document(text)?;
    crate::shape::check(&doc, max_selections).map_err(shape_error)?;
    let roots = crate::shape::root_fields(&doc) as u64;
    crate::cost::over("max_root_fields", max_root_fields, roots)
        .map_err(crate::cost::OverLimit::into_server_error)?;
    Ok(doc)
}

/// The refusal of a document over `limit` (a `limits.<key>`): `max` allowed,
/// `actual` measured — as the data API refuses its own.
pub fn over_limit(limit: &'static str, max: usize, actual: u64) -> ServerError {
    match crate::cost::over(limit, max, actual) {
        Err(over) => over.into_server_error(),
        Ok(()) => with_code(
            ServerError::new("Query is too complex.", None),
            Code::QueryTooComplex,
        ),
    }
}

/// Bytes of document text charged as one cost unit before parsing.
const DOCUMENT_BYTES_PER_UNIT: u64 = 64;

pub(crate) struct ErrorCodes {
    /// The limits on the query's shape and cost.
    pub(crate) shape: crate::ShapeLimits,
    /// The page sizes the cost is weighted with.
    pub(crate) pages: crate::Limits,
    /// Remote lists by (type, field), weighed as their `maxItems`.
    pub(crate) remote_lists: Arc<crate::cost::RemoteLists>,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension {
            shape: self.shape,
            pages: self.pages,
            remote_lists: self.remote_lists.clone(),
        })
    }
}

struct ErrorCodesExtension {
    shape: crate::ShapeLimits,
    pages: crate::Limits,
    remote_lists: Arc<crate::cost::RemoteLists>,
}
#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Nesting first, on the text, before anything is charged or parsed.
        check_nesting(&request.query)?;
        let meter = request
            .data
            .get(&std::any::TypeId::of::<Arc<dyn crate::Meter>>())
            .and_then(|m| m.downcast_ref::<Arc<dyn crate::Meter>>())
            .cloned();
        // Reading the document is work too: charged by its size before it is
        // parsed, so an agency over its budget is refused here, unparsed, and one
        // that floods refused documents spends its budget like any other.
        if let Some(meter) = &meter {
            meter
                .charge(1 + request.query.len() as u64 / DOCUMENT_BYTES_PER_UNIT)
                .map_err(crate::meter::Throttled::into_server_error)?;
        }
        // Parsed once, here, so that nothing walks the document before its
        // expansion is known to be bounded; async-graphql takes the parsed document.
        let doc = parse_document(&request.query)?;
        // A document refused for its size or cost was work to refuse: it is charged
        // what the largest allowed one would be, so an agency sending refused
        // shapes spends its budget and is then held back (unparsed, tarpitted).
        let charge_refusal = || {
            if let Some(meter) = &meter {
                // Refused either way; a spent budget holds the agency back from now on.
                let _ = meter.charge(self.shape.max_complexity as u64);
            }
        };
        crate::shape::check(&doc, self.shape.max_complexity).map_err(|e| {
            if matches!(e, crate::shape::ShapeError::TooLarge) {
                charge_refusal();
            }
            shape_error(e)
        })?;
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
        // The cost, measured and charged before anything runs.
        let cost = crate::cost::measure(
            &doc,
            request.operation_name.as_deref(),
            &request.variables,
            &ctx.schema_env.registry,
            &self.shape,
            &self.pages,
            &self.remote_lists,
        )
        .map_err(|over| {
            charge_refusal();
            over.into_server_error()
        })?;
        if let Some(meter) = &meter {
            meter
                .charge(cost)
                .map_err(crate::meter::Throttled::into_server_error)?;
        }
        request.set_parsed_query(doc);
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
        let measured = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, Code::GraphqlValidationFailed))
                .collect::<Vec<_>>()
        })?;
        let refuse =
            |message: &str, code| Err(vec![with_code(ServerError::new(message, None), code)]);
        if measured.depth > self.shape.max_depth {
            return refuse("Query is nested too deep.", Code::QueryTooDeep);
        }
        Ok(measured)
    }
}
