//! What happened to a request, as its audit record says it.

use mandate_audit::{AuditRecord, Decision, Disclosure};
use mandate_resolvers::Code;

use crate::admission::{Asker, Caller};

/// What the audit record says of a request before the sink fills the chain fields.
pub(crate) struct Outcome<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) client_request_id: Option<&'a str>,
    /// Who asked, as far as known: nobody (not authenticated), a caller (refused
    /// before its statement was admitted), or an admitted asker.
    pub(crate) who: Who<'a>,
    pub(crate) operation: String,
    pub(crate) decision: Decision,
    pub(crate) code: Option<Code>,
    pub(crate) disclosure: Option<&'a Disclosure>,
    /// Anonymous refusals counted but not recorded before this one.
    pub(crate) unrecorded_before: u64,
}

/// How much the hub knows of who asked.
#[derive(Clone, Copy)]
pub(crate) enum Who<'a> {
    Unknown,
    Caller(&'a Caller),
    Asker(&'a Asker),
}

impl Outcome<'_> {
    pub(crate) fn record(self) -> AuditRecord {
        let mut record = AuditRecord::new(self.request_id, self.decision);
        if let Some(id) = self.client_request_id {
            record.client_request_id = id.to_string();
        }
        match self.who {
            Who::Unknown => {}
            Who::Caller(c) => {
                record.agency.clone_from(&c.agency);
                record.officer.clone_from(&c.officer);
            }
            Who::Asker(a) => {
                record.agency.clone_from(&a.caller.agency);
                record.officer.clone_from(&a.caller.officer);
                record.purpose.clone_from(&a.purpose);
                record.case_number.clone_from(&a.case);
            }
        }
        record.operation = self.operation;
        if let Some(code) = self.code {
            record.code = code.as_str().to_string();
        }
        record.unrecorded_before = self.unrecorded_before;
        if let Some(d) = self.disclosure {
            record.fields = d.fields();
            record.residents = d.subjects();
        }
        record
    }
}

/// The decision an executed request's response makes.
pub(crate) fn decision_of(response: &async_graphql::Response, disclosure: &Disclosure) -> Decision {
    match (
        response.errors.is_empty(),
        response.data == async_graphql::Value::Null,
    ) {
        (true, _) if disclosure.masked() => Decision::Masked,
        (true, _) => Decision::Allowed,
        (false, true) => Decision::Denied,
        (false, false) => Decision::Partial,
    }
}

/// The code of an executed request's response: its first error's, or
/// `INTERNAL_ERROR` for errors without a known one; `None` without errors.
pub(crate) fn code_of(response: &async_graphql::Response) -> Option<Code> {
    if response.errors.is_empty() {
        return None;
    }
    let first = response.errors.iter().find_map(|e| {
        match e.extensions.as_ref().and_then(|x| x.get("code")) {
            Some(async_graphql::Value::String(s)) => Code::parse(s),
            _ => None,
        }
    });
    Some(first.unwrap_or(Code::InternalError))
}

/// Whether an answer's `data` tells nothing: null, or every root field null.
/// Anything below a root tells something — an empty page, or rows of nulls,
/// answers whether anyone matched (with a filter, a question about a person),
/// so it leaves only with a record.
pub(crate) fn discloses_nothing(v: &async_graphql::Value) -> bool {
    use async_graphql::Value as V;
    match v {
        V::Null => true,
        V::Object(roots) => roots.values().all(|r| matches!(r, V::Null)),
        _ => false,
    }
}

/// The record's hash of the operation: text, name and variables.
pub(crate) fn operation_of(request: &async_graphql::Request) -> String {
    let variables = serde_json::to_vec(&request.variables).unwrap_or_default();
    mandate_audit::operation_hash(
        &request.query,
        request.operation_name.as_deref(),
        &variables,
    )
}

#[cfg(test)]
mod tests {
    use async_graphql::{value, Value};

    use super::discloses_nothing;

    #[test]
    fn only_null_roots_disclose_nothing() {
        assert!(discloses_nothing(&Value::Null));
        assert!(discloses_nothing(
            &value!({"residents": null, "buildings": null})
        ));
        // An empty page, or a page of rows whose fields are null, answers
        // whether anyone matched: not nothing.
        assert!(!discloses_nothing(&value!({"residents": {"edges": []}})));
        assert!(!discloses_nothing(
            &value!({"residents": {"edges": [{"node": {"familyDoctor": null}}]}})
        ));
        assert!(!discloses_nothing(&value!({"__typename": "Query"})));
    }
}
