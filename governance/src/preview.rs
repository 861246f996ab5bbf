//! What a draft's preview may run and what it shows the officer.
//!
//! A preview runs a query as the draft's own department under the draft's
//! lists. An officer role is not a data mandate, and a draft's grants are not
//! yet approved, so the officer learns what the agency could ask and how much
//! it would reach — never anything that tells one resident from another.
//! [`read_only`] refuses, before anything runs, what would write or single
//! residents out (mutations, subscriptions, any argument but a page size,
//! aliases that would pass a value off as a kept key); [`withhold`] keeps of
//! the answer only each root field's `totalCount` and `__typename`, every other
//! selected key standing as [`WITHHELD`], and errors without their paths.

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::parser::Positioned;
use serde_json::Value;

use crate::error::AdminError;

/// What stands in for every non-null leaf value of a preview's answer.
pub const WITHHELD: &str = "‹withheld›";

/// Response keys whose values are kept: counts and type names say nothing
/// about a resident.
const KEPT: [&str; 2] = ["totalCount", "__typename"];

/// Arguments a preview may pass: a page size only. A filter or an id would ask
/// about one resident (is R… in the rows? does anyone have this ID number?),
/// which the counts would answer; an order or a cursor would only matter to
/// rows, which a preview never shows.
const PAGING: [&str; 1] = ["first"];

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

/// The answer as the officer sees it: per root field, its `totalCount` (the
/// rows the mandate reaches: an aggregate) and `__typename`, every other key it
/// selected standing as [`WITHHELD`] — no rows, no nulls, no list lengths, no
/// order, so nothing tells one resident from another; `errors` reduced to
/// their message and code (without paths, which index rows), each once.
pub fn withhold(answer: Value) -> Value {
    let Value::Object(mut map) = answer else {
        return Value::Null;
    };
    let mut out = serde_json::Map::new();
    if let Some(Value::Object(data)) = map.remove("data") {
        let roots = data
            .into_iter()
            .map(|(key, value)| (key, root(value)))
            .collect::<serde_json::Map<_, _>>();
        out.insert("data".into(), Value::Object(roots));
    }
    if let Some(Value::Array(errors)) = map.remove("errors") {
        let mut seen = Vec::new();
        for e in errors {
            let kept = serde_json::json!({
                "message": e["message"],
                "extensions": {"code": e["extensions"]["code"]},
            });
            if !seen.contains(&kept) {
                seen.push(kept);
            }
        }
        out.insert("errors".into(), Value::Array(seen));
    }
    Value::Object(out)
}

/// One root field's answer: its counts and type name, the rest withheld.
fn root(value: Value) -> Value {
    let Value::Object(fields) = value else {
        return Value::String(WITHHELD.into());
    };
    fields
        .into_iter()
        .map(|(key, v)| {
            let kept = KEPT.contains(&key.as_str()) && !v.is_object() && !v.is_array();
            (
                key,
                if kept {
                    v
                } else {
                    Value::String(WITHHELD.into())
                },
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
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
            code("{ residents(first: 2) { totalCount edges { node { id name } } } }"),
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
            "{ residents(first: 2, after: \"x\") { totalCount } }",
            "{ residents(orderBy: [{ id: ASC }]) { totalCount } }",
        ];
        for q in bad {
            assert_eq!(code(q).as_deref(), Some("BAD_USER_INPUT"), "{q}");
        }
    }

    #[test]
    fn only_root_counts_and_type_names_are_kept() {
        let answer = json!({
            "data": {"residents": {"totalCount": 3, "__typename": "ResidentConnection",
                "edges": [{"node": {"id": "R1", "name": "张三", "phone": null}}],
                "pageInfo": {"hasNextPage": true}},
                "buildings": null},
            "errors": [
                {"message": "m", "path": ["residents", "edges", 0, "node", "x"], "extensions": {"code": "SUBGRAPH_UNAVAILABLE"}},
                {"message": "m", "path": ["residents", "edges", 3, "node", "x"], "extensions": {"code": "SUBGRAPH_UNAVAILABLE"}}
            ],
            "extensions": {"anything": "x"}
        });
        assert_eq!(
            withhold(answer),
            json!({
                "data": {"residents": {"totalCount": 3, "__typename": "ResidentConnection",
                    "edges": WITHHELD, "pageInfo": WITHHELD},
                    "buildings": WITHHELD},
                "errors": [{"message": "m", "extensions": {"code": "SUBGRAPH_UNAVAILABLE"}}]
            })
        );
        assert_eq!(withhold(json!("x")), Value::Null);
    }
}
