//! GraphQL over HTTP: request decoding (GET and POST), execution, and the error
//! policy at the edge — every error leaves with an `extensions.code` from the
//! registry and the request id; errors without a code are internal and are
//! replaced by a generic message (the original goes to the log).

use async_graphql::Variables;
use mandate_resolvers::{with_code, Code};
use poem::http::{header, Method, StatusCode};
use poem::{Body, Request, Response};

use crate::documents::{Documents, Refusal};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// A decoded request, or the error response to send instead.
pub enum Decoded {
    /// A GraphQL request to execute.
    Request(Box<async_graphql::Request>),
    /// An error response (already complete), with its code.
    Reject(Response, Code),
}

/// Whether the client asked for `application/graphql-response+json`.
pub fn wants_graphql_response(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(GRAPHQL_RESPONSE))
}

/// A GraphQL-shaped error response carrying `code`.
pub fn error_response(
    status: StatusCode,
    code: Code,
    message: &str,
    request_id: &str,
    graphql_media: bool,
) -> Response {
    let body = serde_json::json!({
        "errors": [{
            "message": message,
            "extensions": {"code": code.as_str(), "requestId": request_id},
        }]
    });
    Response::builder()
        .status(status)
        .content_type(if graphql_media {
            GRAPHQL_RESPONSE
        } else {
            "application/json"
        })
        .body(body.to_string())
}

/// The `sha256Hash` of Apollo's `extensions.persistedQuery`, if sent.
fn apq_hash(extensions: Option<&serde_json::Value>) -> Option<String> {
    extensions?
        .get("persistedQuery")?
        .get("sha256Hash")?
        .as_str()
        .map(str::to_string)
}

/// Decodes a GET or POST request into a GraphQL request; its document is the one
/// sent, or the persisted one it names, as `documents` allow for `caller` (the
/// verified agency and officer; `None` before authentication succeeded).
pub async fn decode(
    req: &Request,
    body: Body,
    max_body: usize,
    request_id: &str,
    documents: &Documents,
    caller: Option<&str>,
) -> Decoded {
    let media = wants_graphql_response(req);
    let reject = |status, code, msg: &str| {
        Decoded::Reject(error_response(status, code, msg, request_id, media), code)
    };
    let refuse = |r: Refusal| {
        let status = StatusCode::from_u16(r.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        Decoded::Reject(
            error_response(status, r.code, r.message, request_id, media),
            r.code,
        )
    };
    if req.method() == Method::GET {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Params {
            query: Option<String>,
            document_id: Option<String>,
            operation_name: Option<String>,
            variables: Option<String>,
            extensions: Option<String>,
        }
        let params: Params = match serde_urlencoded::from_str(req.uri().query().unwrap_or("")) {
            Ok(p) => p,
            Err(_) => {
                return reject(
                    StatusCode::BAD_REQUEST,
                    Code::BadRequest,
                    "malformed query string",
                )
            }
        };
        let extensions = match params.extensions.as_deref().filter(|v| !v.is_empty()) {
            None => None,
            Some(ext) => match serde_json::from_str::<serde_json::Value>(ext) {
                Ok(v @ serde_json::Value::Object(_)) => Some(v),
                _ => {
                    return reject(
                        StatusCode::BAD_REQUEST,
                        Code::BadRequest,
                        "`extensions` must be a JSON object",
                    )
                }
            },
        };
        if params.query.as_deref().is_none_or(str::is_empty)
            && params.document_id.is_none()
            && apq_hash(extensions.as_ref()).is_none()
        {
            return reject(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "the `query` parameter is required",
            );
        }
        let query = match documents.resolve(
            params.query.as_deref(),
            params.document_id.as_deref(),
            apq_hash(extensions.as_ref()).as_deref(),
            caller,
        ) {
            Ok(q) => q.to_string(),
            Err(r) => return refuse(r),
        };
        if query.len() > max_body {
            return reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::PayloadTooLarge,
                "the query is too large",
            );
        }
        // GET is for queries: a mutation (an owner's update) only by POST.
        if query.contains("mutation") && is_mutation(&query, params.operation_name.as_deref()) {
            let mut resp = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::BadRequest,
                "a mutation is sent by POST",
                request_id,
                media,
            );
            resp.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            return Decoded::Reject(resp, Code::BadRequest);
        }
        let mut request = async_graphql::Request::new(query);
        if let Some(name) = params.operation_name {
            request = request.operation_name(name);
        }
        if let Some(vars) = params.variables.filter(|v| !v.is_empty()) {
            match serde_json::from_str::<serde_json::Value>(&vars) {
                Ok(v @ serde_json::Value::Object(_)) => {
                    request = request.variables(Variables::from_json(v))
                }
                _ => {
                    return reject(
                        StatusCode::BAD_REQUEST,
                        Code::BadRequest,
                        "`variables` must be a JSON object",
                    )
                }
            }
        }
        return Decoded::Request(Box::new(request));
    }
    if req.method() != Method::POST {
        let mut resp = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::BadRequest,
            "use GET or POST",
            request_id,
            media,
        );
        resp.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, POST"));
        return Decoded::Reject(resp, Code::BadRequest);
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes = match crate::edge::read_body(body, max_body).await {
        Ok(b) => b,
        Err(crate::edge::BodyError::Late) => {
            return reject(
                StatusCode::REQUEST_TIMEOUT,
                Code::RequestTimeout,
                "the request body did not arrive in time",
            )
        }
        Err(crate::edge::BodyError::TooLarge) => {
            return reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::PayloadTooLarge,
                "the request body is too large",
            )
        }
        Err(crate::edge::BodyError::Unreadable) => {
            return reject(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "the request body could not be read",
            )
        }
    };
    if content_type.starts_with("application/graphql")
        && !content_type.starts_with("application/graphql-response")
    {
        return match String::from_utf8(bytes) {
            Ok(q) => match documents.resolve(Some(&q), None, None, caller) {
                Ok(_) => Decoded::Request(Box::new(async_graphql::Request::new(q))),
                Err(r) => refuse(r),
            },
            Err(_) => reject(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "the body is not UTF-8",
            ),
        };
    }
    if !content_type.starts_with("application/json") {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::BadRequest,
            "send application/json",
        );
    }
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return reject(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "the body is not valid JSON",
            )
        }
    };
    if value.is_array() {
        return reject(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "batched requests are not supported",
        );
    }
    let mut value = value;
    let query = match value.get("query") {
        Some(serde_json::Value::String(q)) if !q.is_empty() => Some(q.clone()),
        None | Some(serde_json::Value::Null) => None,
        _ => {
            return reject(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "`query` must be a non-empty string",
            )
        }
    };
    let document_id = match value.get("documentId") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(id)) => Some(id.clone()),
        Some(_) => {
            return reject(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "`documentId` must be a string",
            )
        }
    };
    let apq = apq_hash(value.get("extensions"));
    if query.is_none() && document_id.is_none() && apq.is_none() {
        return reject(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "`query` must be a non-empty string",
        );
    }
    let document = match documents.resolve(
        query.as_deref(),
        document_id.as_deref(),
        apq.as_deref(),
        caller,
    ) {
        Ok(d) => d,
        Err(r) => return refuse(r),
    };
    if let Some(map) = value.as_object_mut() {
        map.remove("documentId");
        map.insert(
            "query".to_string(),
            serde_json::Value::String(document.to_string()),
        );
    }
    match serde_json::from_value::<async_graphql::Request>(value) {
        Ok(r) => Decoded::Request(Box::new(r)),
        Err(_) => reject(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "`operationName`, `variables` or `extensions` has the wrong type",
        ),
    }
}

/// Applies the edge error policy to an executed response and encodes it.
pub fn encode(
    mut resp: async_graphql::Response,
    request_id: &str,
    graphql_media: bool,
) -> Response {
    for e in &mut resp.errors {
        let has_code = e.extensions.as_ref().and_then(|x| x.get("code")).is_some();
        if !has_code {
            if e.path.is_empty() {
                // Request-level errors raised by async-graphql itself (variables,
                // operation selection) are about the request, not internals.
                *e = with_code(e.clone(), Code::GraphqlValidationFailed);
            } else {
                tracing::error!(request_id = %request_id, detail = %e.message, "uncoded resolver error");
                e.message = "internal error".to_string();
                *e = with_code(e.clone(), Code::InternalError);
            }
        }
        e.extensions
            .get_or_insert_with(Default::default)
            .set("requestId", request_id);
    }
    one_error_per_problem(&mut resp.errors);
    // GraphQL-over-HTTP: with the graphql-response media type, a request that
    // failed before execution (no data) is a 400.
    let status =
        if graphql_media && resp.data == async_graphql::Value::Null && !resp.errors.is_empty() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
    // A request refused for spent budget is a 429 whatever the media type, with
    // the time to retry, so that clients and proxies back off.
    let throttled = (resp.data == async_graphql::Value::Null)
        .then(|| resp.errors.iter().find_map(retry_after))
        .flatten();
    let status = if throttled.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        status
    };
    // A request refused before execution began has no `data` entry at all
    // (GraphQL spec, "Response"; GraphQL over HTTP): its errors are all about the
    // request itself. A failed execution keeps `"data": null`.
    let before_execution = resp.data == async_graphql::Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| {
            e.path.is_empty() && matches!(code_of(e), Some(c) if REQUEST_ERRORS.contains(&c))
        });
    let encoded = serde_json::to_value(&resp).map(|mut v| {
        if before_execution {
            if let Some(map) = v.as_object_mut() {
                map.remove("data");
            }
        }
        v.to_string()
    });
    let body = match encoded {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::InternalError,
                "internal error",
                request_id,
                graphql_media,
            )
        }
    };
    let mut builder = Response::builder().status(status);
    if let Some(secs) = throttled {
        builder = builder.header(header::RETRY_AFTER, secs.to_string());
    }
    builder
        .content_type(if graphql_media {
            GRAPHQL_RESPONSE
        } else {
            "application/json"
        })
        .body(body)
}

/// Whether the operation `name` (or the only one) of `query` is a mutation. A
/// document that does not parse (or nests too deep to parse) is not: execution
/// reports it.
fn is_mutation(query: &str, name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(doc) = mandate_resolvers::parse_document(query) else {
        return false;
    };
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => match name {
            Some(n) => ops
                .iter()
                .any(|(k, op)| k.as_str() == n && op.node.ty == OperationType::Mutation),
            None => false,
        },
    }
}

/// Drops repeated request-level errors: the same message and code at the same
/// locations is one problem, reported once. async-graphql's validation walks the
/// document twice (rules, then cost) and reports some problems, such as an
/// operation type the schema lacks (every mutation and subscription), on each walk.
/// Errors with a path come from execution and are kept as they are.
fn one_error_per_problem(errors: &mut Vec<async_graphql::ServerError>) {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| {
        !e.path.is_empty() || seen.insert((e.message.clone(), e.locations.clone(), code_of(e)))
    });
}

/// The `Retry-After` seconds of a request-level refusal for spent budget.
fn retry_after(e: &async_graphql::ServerError) -> Option<u64> {
    if !e.path.is_empty() || code_of(e)?.http_status() != 429 {
        return None;
    }
    match e.extensions.as_ref()?.get("retryAfter")? {
        async_graphql::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Codes of errors raised before execution begins: parsing, validation, the
/// limits on the document, and budgets.
const REQUEST_ERRORS: [Code; 6] = [
    Code::GraphqlParseFailed,
    Code::GraphqlValidationFailed,
    Code::QueryTooDeep,
    Code::QueryTooComplex,
    Code::RateLimited,
    Code::QuotaExceeded,
];

/// The code of one error, if it carries a known one.
fn code_of(e: &async_graphql::ServerError) -> Option<Code> {
    match e.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(s) => Code::parse(s),
        _ => None,
    }
}

/// The aliased fields of the operation `name` (or every operation) of `doc`,
/// fragments counted once per spread; a fragment spreading itself counts
/// nothing more (validation refuses it).
pub fn aliases(doc: &async_graphql::parser::types::ExecutableDocument) -> u64 {
    use async_graphql::parser::types::{Selection, SelectionSet};
    use std::collections::HashMap;
    fn count<'a>(
        set: &'a SelectionSet,
        doc: &'a async_graphql::parser::types::ExecutableDocument,
        memo: &mut HashMap<&'a str, u64>,
        visiting: &mut Vec<&'a str>,
    ) -> u64 {
        let mut n: u64 = 0;
        for item in &set.items {
            let add = match &item.node {
                Selection::Field(f) => u64::from(f.node.alias.is_some()).saturating_add(count(
                    &f.node.selection_set.node,
                    doc,
                    memo,
                    visiting,
                )),
                Selection::InlineFragment(i) => {
                    count(&i.node.selection_set.node, doc, memo, visiting)
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if let Some(m) = memo.get(name) {
                        *m
                    } else if visiting.contains(&name) {
                        0
                    } else if let Some(frag) = doc.fragments.get(name) {
                        visiting.push(name);
                        let m = count(&frag.node.selection_set.node, doc, memo, visiting);
                        visiting.pop();
                        memo.insert(name, m);
                        m
                    } else {
                        0
                    }
                }
            };
            n = n.saturating_add(add);
        }
        n
    }
    let mut memo = HashMap::new();
    doc.operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node, doc, &mut memo, &mut Vec::new()))
        .fold(0, u64::saturating_add)
}

/// Codes async-graphql's own limits on a schema (`limit_depth`,
/// `limit_complexity`) by their messages, as the data API codes its own.
pub fn code_schema_limits(errors: &mut [async_graphql::ServerError]) {
    for e in errors.iter_mut() {
        let code = match e.message.as_str() {
            "Query is nested too deep." => Code::QueryTooDeep,
            "Query is too complex." => Code::QueryTooComplex,
            _ => continue,
        };
        *e = with_code(e.clone(), code);
    }
}

/// The first variable the operation to run (`operation_name`, or the only one)
/// requires — non-null, without a default — that `variables` lack, as a
/// `GRAPHQL_VALIDATION_FAILED` error at its definition.
pub fn missing_variable(
    doc: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Option<async_graphql::ServerError> {
    use async_graphql::parser::types::DocumentOperations;
    let op = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    op.node.variable_definitions.iter().find_map(|def| {
        let d = &def.node;
        let given = variables
            .get(&d.name.node)
            .is_some_and(|v| *v != async_graphql::Value::Null);
        (!d.var_type.node.nullable && d.default_value.is_none() && !given).then(|| {
            with_code(
                async_graphql::ServerError::new(
                    format!(
                        "Variable \"${}\" of required type \"{}\" was not provided.",
                        d.name.node, d.var_type.node
                    ),
                    Some(def.pos),
                ),
                Code::GraphqlValidationFailed,
            )
        })
    })
}
