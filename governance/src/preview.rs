//! What a draft's preview may run and what it shows the officer.
//!
//! A preview runs a query as the draft's own department under the draft's
//! lists. An officer role is not a data mandate, so the officer gets the
//! *shape* of the answer only: which fields answer, how many rows, what is
//! refused — never a resident's value. [`read_only`] refuses, before anything
//! runs, what would write or single residents out (mutations, subscriptions,
//! filters and lookups by id, aliases that would pass a value off as a kept
//! key); [`withhold`] replaces every non-null leaf value of the answer's
//! `data` with [`WITHHELD`].

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::parser::Positioned;
use serde_json::Value;

use crate::error::AdminError;

/// What stands in for every non-null leaf value of a preview's answer.
pub const WITHHELD: &str = "‹withheld›";

/// Response keys whose values are kept: counts and type names say nothing
/// about a resident.
const KEPT: [&str; 2] = ["totalCount", "__typename"];

/// Arguments a preview may pass: paging and order only. A filter or an id
/// would ask about one resident (is R… in the rows? does anyone have this
/// ID number?), which the counts and list lengths would answer.
const PAGING: [&str; 3] = ["first", "after", "orderBy"];

/// Checks that `query` only reads and asks about no resident in particular.
///
/// # Errors
/// `BAD_USER_INPUT`: it does not parse, has a mutation or subscription, a
/// filter or id argument, or aliases a field as `totalCount`/`__typename`.
pub fn read_only(query: &str) -> Result<(), AdminError> {
    let doc = mandate_resolvers::parse_document(query).map_err(|e| {
        AdminError::BadRequest(format!("a preview's query is refused: {}", e.message))
    })?;
    for (_, op) in doc.operations.iter() {
        match op.node.ty {
            OperationType::Query => {}
            OperationType::Mutation | OperationType::Subscription => {
                return Err(AdminError::BadRequest(
                    "a preview only reads: a mutation or subscription is refused".into(),
                ))
            }
        }
        selections(&op.node.selection_set)?;
    }
    fragments(&doc)
}

fn fragments(doc: &ExecutableDocument) -> Result<(), AdminError> {
    for f in doc.fragments.values() {
        selections(&f.node.selection_set)?;
    }
    Ok(())
}

fn selections(set: &Positioned<SelectionSet>) -> Result<(), AdminError> {
    for item in &set.node.items {
        match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                if let Some(alias) = &f.node.alias {
                    let alias = alias.node.as_str();
                    if KEPT.contains(&alias) && alias != name {
                        return Err(AdminError::BadRequest(format!(
                            "a preview keeps `{alias}` as it is; `{name}` may not be aliased to it"
                        )));
                    }
                }
                if let Some((arg, _)) = f
                    .node
                    .arguments
                    .iter()
                    .find(|(a, _)| !PAGING.contains(&a.node.as_str()))
                {
                    return Err(AdminError::BadRequest(format!(
                        "a preview takes paging arguments only ({}); `{}` on `{name}` would single residents out",
                        PAGING.join(", "),
                        arg.node
                    )));
                }
                selections(&f.node.selection_set)?;
            }
            Selection::InlineFragment(f) => selections(&f.node.selection_set)?,
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

/// The answer with every non-null leaf value of its `data` replaced by
/// [`WITHHELD`]: keys, nulls, list lengths, `totalCount` and `__typename`
/// kept; `errors` passed through; nothing else.
pub fn withhold(answer: Value) -> Value {
    let Value::Object(mut map) = answer else {
        return Value::Null;
    };
    let mut out = serde_json::Map::new();
    if let Some(mut data) = map.remove("data") {
        leaves(&mut data, None);
        out.insert("data".into(), data);
    }
    if let Some(errors) = map.remove("errors") {
        out.insert("errors".into(), errors);
    }
    Value::Object(out)
}

fn leaves(v: &mut Value, key: Option<&str>) {
    match v {
        Value::Null => {}
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                leaves(x, Some(k));
            }
        }
        Value::Array(xs) => {
            for x in xs {
                leaves(x, None);
            }
        }
        Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            if !key.is_some_and(|k| KEPT.contains(&k)) {
                *v = Value::String(WITHHELD.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(q: &str) -> Option<String> {
        read_only(q).err().map(|e| e.code().as_str().to_string())
    }

    #[test]
    fn only_plain_reads_pass() {
        assert_eq!(
            code("{ residents(first: 2, after: \"x\") { totalCount edges { node { id name } } } }"),
            None
        );
        assert_eq!(
            code("query A { ...F } fragment F on Query { residents { totalCount } }"),
            None
        );
        let bad = [
            "mutation { updateResident(id: \"R1\", set: {}) { id } }",
            "query A { residents { totalCount } } mutation B { x }",
            "subscription { x }",
            "{ resident(id: \"R00000042\") { name } }",
            "{ residents(where: { idNumber: \"3401\" }) { totalCount } }",
            "query A { ...F } fragment F on Query { resident(id: \"R1\") { id } }",
            "{ residents { edges { node { ... on Resident { households(where: {}) { id } } } } } }",
            "{ residents { edges { node { totalCount: name } } } }",
            "{ residents { edges { node { __typename: idNumber } } } }",
            "{ residents(",
        ];
        for q in bad {
            assert_eq!(code(q).as_deref(), Some("BAD_USER_INPUT"), "{q}");
        }
    }

    #[test]
    fn every_value_is_withheld_but_the_shape() {
        let answer = json!({
            "data": {"residents": {"totalCount": 3, "__typename": "ResidentConnection",
                "edges": [{"node": {"id": "R1", "name": "张三", "age": 7, "alive": true, "phone": null,
                    "tags": ["a", "b"]}}]}},
            "errors": [{"message": "m", "extensions": {"code": "FORBIDDEN_FIELD"}}],
            "extensions": {"anything": "x"}
        });
        assert_eq!(
            withhold(answer),
            json!({
                "data": {"residents": {"totalCount": 3, "__typename": "ResidentConnection",
                    "edges": [{"node": {"id": WITHHELD, "name": WITHHELD, "age": WITHHELD,
                        "alive": WITHHELD, "phone": null, "tags": [WITHHELD, WITHHELD]}}]}},
                "errors": [{"message": "m", "extensions": {"code": "FORBIDDEN_FIELD"}}]
            })
        );
        assert_eq!(withhold(json!("x")), Value::Null);
    }
}
