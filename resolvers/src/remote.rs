//! Remote fields: facts departmental subgraphs serve (`@remote` in the catalog).
//!
//! A root field's Cypher query reads the nodes the reader may see; their remote
//! fields come back [`Fetched::Pending`], each with the node's id. [`complete`]
//! then gathers the pending fields of the rows shown — never of a row outside the
//! reader's mandate, never a field its plan does not grant (the walker refused
//! those) — and asks each subgraph ONCE for the whole root field, at every depth:
//! one `_entities` query carrying each distinct (type, id) once and, per type,
//! the union of the fields selected of it. The answers are checked against the
//! catalog (a value that does not fit its type is refused, fields nobody selected
//! are dropped), masked as the plan says, and put in place before the disclosure
//! is reported, so the audit record is that of a local read.
//!
//! A subgraph that fails, times out or whose circuit breaker is open
//! ([`Subgraphs`] decides, in `mandate-connectors`) leaves its fields
//! [`Fetched::Failed`]: they answer `null` with the error on their own paths, and
//! the rest of the answer is intact.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::future::BoxFuture;

use mandate_schema::{Catalog, RemoteField, RemoteValue, ScalarKind};
use serde_json::{Map, Value};

use crate::answer::{Answer, Entities, Fetched, Item, Node, Remote};
use crate::errors::{Code, HubError};
use crate::principal::Principal;

/// One `_entities` request to a subgraph.
#[derive(Debug, Clone)]
pub struct EntitiesCall {
    /// The GraphQL document: one `_entities` selection, names from the catalog only.
    pub query: String,
    /// The representations, `{"__typename": T, "id": ...}`: the `$representations` variable.
    pub representations: Vec<Value>,
    /// Who asks, forwarded to the department (never the caller's credential);
    /// `None` in an open development hub.
    pub principal: Option<Principal>,
}

/// A subgraph's answer to an [`EntitiesCall`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntitiesAnswer {
    /// `_entities`, aligned with the representations (`null`: unknown there).
    pub entities: Vec<Value>,
    /// Positions an error of the answer names (`path: ["_entities", i, ...]`).
    pub failed: BTreeSet<usize>,
}

/// Why a subgraph did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubgraphError {
    /// No `[subgraphs.<name>]` is configured for it.
    #[error("subgraph `{0}` is not configured")]
    NotConfigured(String),
    /// It did not answer within its timeout.
    #[error("subgraph `{0}` did not answer in time")]
    Timeout(String),
    /// It cannot be reached or refused the hub (the detail stays in the log).
    #[error("subgraph `{0}` is unavailable")]
    Unavailable(String),
    /// Its circuit breaker is open after repeated failures.
    #[error("subgraph `{0}` is unavailable (circuit open after repeated failures)")]
    CircuitOpen(String),
    /// It answered something that is not a GraphQL answer to the call.
    #[error("subgraph `{0}` answered with an error")]
    Failed(String),
}

impl SubgraphError {
    /// The client-safe error the affected fields carry.
    pub fn into_hub_error(self) -> HubError {
        let code = match &self {
            SubgraphError::Timeout(_) => Code::SubgraphTimeout,
            SubgraphError::NotConfigured(_)
            | SubgraphError::Unavailable(_)
            | SubgraphError::CircuitOpen(_) => Code::SubgraphUnavailable,
            SubgraphError::Failed(_) => Code::SubgraphError,
        };
        HubError::new(code, self.to_string())
    }
}

/// Port: the departmental subgraphs (Apollo Federation `_entities`).
pub trait Subgraphs: Send + Sync + 'static {
    /// Sends `call` to `subgraph`; a [`SubgraphError`] nulls the fields asked for.
    fn entities<'a>(
        &'a self,
        subgraph: &'a str,
        call: EntitiesCall,
    ) -> BoxFuture<'a, Result<EntitiesAnswer, SubgraphError>>;
}

/// No subgraph configured: every remote field answers `SUBGRAPH_UNAVAILABLE`.
#[derive(Debug, Default)]
pub struct NoSubgraphs;

impl Subgraphs for NoSubgraphs {
    fn entities<'a>(
        &'a self,
        subgraph: &'a str,
        _call: EntitiesCall,
    ) -> BoxFuture<'a, Result<EntitiesAnswer, SubgraphError>> {
        Box::pin(async move { Err(SubgraphError::NotConfigured(subgraph.to_string())) })
    }
}

/// A decoded answer whose remote fields can be completed.
pub(crate) trait Pending {
    /// The remote fields of the rows shown, each with its node's id.
    fn pending(&mut self) -> Vec<(Option<&str>, &mut Remote)>;
}

impl Pending for Answer {
    fn pending(&mut self) -> Vec<(Option<&str>, &mut Remote)> {
        let mut out = Vec::new();
        match self {
            Answer::Lookup(Some(node)) => gather(node, &mut out),
            Answer::Lookup(None) => {}
            Answer::List(page) => {
                let shown = page.first;
                for row in page.rows.iter_mut().take(shown) {
                    gather(&mut row.node, &mut out);
                }
            }
        }
        out
    }
}

impl Pending for Vec<Node> {
    fn pending(&mut self) -> Vec<(Option<&str>, &mut Remote)> {
        let mut out = Vec::new();
        for node in self {
            gather(node, &mut out);
        }
        out
    }
}

impl Pending for Entities {
    fn pending(&mut self) -> Vec<(Option<&str>, &mut Remote)> {
        let mut out = Vec::new();
        for group in &mut self.groups {
            for (_, node) in group {
                gather(node, &mut out);
            }
        }
        out
    }
}

fn gather<'n>(node: &'n mut Node, out: &mut Vec<(Option<&'n str>, &'n mut Remote)>) {
    let key = node.key.as_deref();
    for item in node.items.values_mut() {
        match item {
            Item::Remote(r) => out.push((key, r)),
            Item::One(Some(related)) => gather(related, out),
            Item::Many(page) => {
                let shown = page.first;
                for row in page.rows.iter_mut().take(shown) {
                    gather(&mut row.node, out);
                }
            }
            Item::One(None) | Item::Scalar(_) => {}
        }
    }
}

/// What one subgraph is asked: representations and, per type, field → value fields.
#[derive(Default)]
struct Ask {
    representations: Vec<(String, String)>,
    index: HashMap<(String, String), usize>,
    selection: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl Ask {
    fn position(&mut self, ty: &str, id: &str) -> usize {
        let key = (ty.to_string(), id.to_string());
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        let i = self.representations.len();
        self.representations.push(key.clone());
        self.index.insert(key, i);
        i
    }

    /// The `_entities` document: names from the catalog only, values as variables.
    fn query(&self) -> String {
        let mut q = String::from(
            "query($representations:[_Any!]!){_entities(representations:$representations){",
        );
        for (ty, fields) in &self.selection {
            q.push_str("...on ");
            q.push_str(ty);
            q.push('{');
            for (field, value_fields) in fields {
                q.push_str(field);
                if let Some(first) = value_fields.first() {
                    q.push('{');
                    q.push_str(first);
                    for v in value_fields.iter().skip(1) {
                        q.push(' ');
                        q.push_str(v);
                    }
                    q.push('}');
                }
                q.push(' ');
            }
            q.push('}');
        }
        q.push('}');
        q.push('}');
        q
    }
}

/// Fetches the pending remote fields of `answer`: one `_entities` call per
/// subgraph, all subgraphs at once.
pub(crate) async fn complete(
    catalog: &Catalog,
    subgraphs: &dyn Subgraphs,
    principal: Option<&Principal>,
    answer: &mut impl Pending,
) {
    let mut pending = answer.pending();
    if pending.is_empty() {
        return;
    }
    let mut asks: BTreeMap<String, Ask> = BTreeMap::new();
    let mut positions = Vec::with_capacity(pending.len());
    for (id, remote) in &mut pending {
        let Some(id) = id else {
            remote.fetched = Fetched::Failed(HubError::internal("a remote field without its key"));
            positions.push(None);
            continue;
        };
        let ask = asks.entry(remote.subgraph.clone()).or_default();
        positions.push(Some(ask.position(&remote.ty, id)));
        let fields = ask
            .selection
            .entry(remote.ty.clone())
            .or_default()
            .entry(remote.field.clone())
            .or_default();
        fields.extend(remote.value_fields.iter().cloned());
        let is_object = catalog
            .node(&remote.ty)
            .and_then(|t| t.remote(&remote.field))
            .is_some_and(|f| matches!(f.value, RemoteValue::Object(_)));
        if is_object && fields.is_empty() {
            fields.insert("__typename".to_string());
        }
    }
    let calls = asks.iter().map(|(subgraph, ask)| {
        let call = EntitiesCall {
            query: ask.query(),
            representations: ask
                .representations
                .iter()
                .map(|(ty, id)| serde_json::json!({"__typename": ty, "id": id}))
                .collect(),
            principal: principal.cloned(),
        };
        async move { (subgraph.clone(), subgraphs.entities(subgraph, call).await) }
    });
    let answers: HashMap<String, Result<EntitiesAnswer, SubgraphError>> =
        futures::future::join_all(calls).await.into_iter().collect();
    for ((_, remote), position) in pending.into_iter().zip(positions) {
        let Some(position) = position else {
            continue;
        };
        remote.fetched = match answers.get(&remote.subgraph) {
            None => Fetched::Failed(HubError::internal("a subgraph was not asked")),
            Some(Err(e)) => Fetched::Failed(e.clone().into_hub_error()),
            Some(Ok(answer)) => settle(catalog, remote, answer, position),
        };
    }
}

/// The value of `remote` from its subgraph's answer: checked, trimmed to the
/// selection, masked.
fn settle(catalog: &Catalog, remote: &Remote, answer: &EntitiesAnswer, position: usize) -> Fetched {
    let bad = |why: &str| {
        tracing::warn!(
            subgraph = %remote.subgraph,
            field = %format_args!("{}.{}", remote.ty, remote.field),
            why,
            "subgraph answer refused"
        );
        Fetched::Failed(HubError::new(
            Code::SubgraphError,
            format!(
                "subgraph `{}` answered with an error for this field",
                remote.subgraph
            ),
        ))
    };
    if answer.failed.contains(&position) {
        return bad("the subgraph reported an error for this entity");
    }
    let entity = match answer.entities.get(position) {
        None => return bad("fewer entities than representations"),
        Some(Value::Null) => return Fetched::Value(Value::Null),
        Some(Value::Object(entity)) => entity,
        Some(_) => return bad("an entity is not an object"),
    };
    let Some(field) = catalog
        .node(&remote.ty)
        .and_then(|t| t.remote(&remote.field))
    else {
        return Fetched::Failed(HubError::internal("remote field missing from catalog"));
    };
    let value = entity.get(&remote.field).cloned().unwrap_or(Value::Null);
    match check(catalog, field, &remote.value_fields, value) {
        Ok(Value::String(s)) if remote.mask.is_some() => Fetched::Value(Value::String(
            remote.mask.map_or(s.clone(), |m| m.apply(&s)),
        )),
        Ok(value) => Fetched::Value(value),
        Err(why) => bad(&why),
    }
}

/// Checks a remote value against the catalog: the declared shape and kinds, the
/// selected fields of value objects only.
fn check(
    catalog: &Catalog,
    field: &RemoteField,
    selected: &[String],
    value: Value,
) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let one = |v: Value| -> Result<Value, String> {
        match &field.value {
            RemoteValue::Scalar(kind) => scalar(catalog, kind, v),
            RemoteValue::Object(name) => {
                let Value::Object(mut obj) = v else {
                    return Err(format!("a {name} is not an object"));
                };
                let vt = catalog
                    .value_type(name)
                    .ok_or_else(|| format!("{name} missing from catalog"))?;
                let mut out = Map::new();
                for f in selected {
                    let Some(vf) = vt.field(f) else {
                        continue;
                    };
                    let v = obj.remove(f).unwrap_or(Value::Null);
                    if v.is_null() {
                        if !vf.nullable {
                            return Err(format!("{name}.{f} is null"));
                        }
                        out.insert(f.clone(), Value::Null);
                    } else {
                        out.insert(f.clone(), scalar(catalog, &vf.kind, v)?);
                    }
                }
                Ok(Value::Object(out))
            }
        }
    };
    if field.list {
        let Value::Array(items) = value else {
            return Err("a list is not an array".to_string());
        };
        if items.len() > field.max_items as usize {
            return Err(format!(
                "{} items, more than the catalog's maxItems ({})",
                items.len(),
                field.max_items
            ));
        }
        items
            .into_iter()
            .map(|v| {
                if v.is_null() {
                    Err("a list item is null".to_string())
                } else {
                    one(v)
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    } else {
        one(value)
    }
}

fn scalar(catalog: &Catalog, kind: &ScalarKind, v: Value) -> Result<Value, String> {
    let fits = match (kind, &v) {
        (ScalarKind::Id | ScalarKind::String, Value::String(_)) => true,
        (ScalarKind::Int, Value::Number(n)) => n.as_i64().is_some(),
        (ScalarKind::Boolean, Value::Bool(_)) => true,
        (ScalarKind::Date, Value::String(s)) => crate::api::parse_date(s).is_some(),
        (ScalarKind::Enum(e), Value::String(s)) => catalog
            .enum_type(e)
            .is_some_and(|e| e.values.iter().any(|(v, _)| v == s)),
        _ => false,
    };
    if fits {
        Ok(v)
    } else {
        Err(format!("a value does not fit {kind:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_each_field_once_with_the_union_of_its_selections() {
        let mut ask = Ask::default();
        assert_eq!(ask.position("Resident", "R1"), 0);
        assert_eq!(ask.position("Building", "B1"), 1);
        assert_eq!(ask.position("Resident", "R1"), 0);
        let r = ask.selection.entry("Resident".into()).or_default();
        r.entry("vaccinations".into())
            .or_default()
            .extend(["vaccine".to_string(), "date".to_string()]);
        r.entry("familyDoctor".into()).or_default();
        ask.selection
            .entry("Building".into())
            .or_default()
            .entry("inspections".into())
            .or_default()
            .insert("result".into());
        assert_eq!(
            ask.query(),
            "query($representations:[_Any!]!){_entities(representations:$representations){\
             ...on Building{inspections{result} }...on Resident{familyDoctor vaccinations{date vaccine} }}}"
        );
    }

    #[test]
    fn values_are_checked_against_the_catalog_and_trimmed_to_the_selection() {
        let catalog = mandate_schema::hub_catalog().unwrap();
        let resident = catalog.node("Resident").unwrap();
        let vaccinations = resident.remote("vaccinations").unwrap();
        let selected = vec!["vaccine".to_string(), "date".to_string()];
        let ok = serde_json::json!([
            {"vaccine": "流感疫苗", "dose": 1, "date": "2024-10-01", "clinic": "x", "extra": 1}
        ]);
        assert_eq!(
            check(&catalog, vaccinations, &selected, ok).unwrap(),
            serde_json::json!([{"vaccine": "流感疫苗", "date": "2024-10-01"}])
        );
        for bad in [
            serde_json::json!({"vaccine": "x"}),
            serde_json::json!([{"vaccine": 3, "date": "2024-10-01"}]),
            serde_json::json!([{"vaccine": "x", "date": "2024-13-01"}]),
            serde_json::json!([{"date": "2024-10-01"}]),
            serde_json::json!([null]),
        ] {
            assert!(
                check(&catalog, vaccinations, &selected, bad.clone()).is_err(),
                "{bad}"
            );
        }
        let inspections = catalog
            .node("Building")
            .unwrap()
            .remote("inspections")
            .unwrap();
        let result = vec!["result".to_string()];
        assert!(check(
            &catalog,
            inspections,
            &result,
            serde_json::json!([{"result": "PASSED"}])
        )
        .is_ok());
        assert!(check(
            &catalog,
            inspections,
            &result,
            serde_json::json!([{"result": "FINE"}])
        )
        .is_err());
    }
}
