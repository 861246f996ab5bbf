//! What a compiled query returns: the contract between the Cypher compiler and
//! the resolvers.
//!
//! The compiler writes its `data` column with the short keys below (one place:
//! [`key`]); the answer is decoded once, guided by the IR it was compiled from,
//! right after the store returns it. Resolvers and the disclosure report read
//! only these types.
//!
//! ```text
//! node       {`#id`: <subject id>?, `#ids`: [<described subject id>]?, `#key`: <id>?,
//!             <response key>: <scalar | node | null | page>, ...}
//! page       {rows: [row], total: <count | null>, first: <page size>, after: <bool>,
//!             `#counted`: [<subject id>]?}
//! row        {n: <node>, k: [<sort-key values>], s: <cursor scope>, e: {<edge props>}?}
//! entities   {<Type>: [{k: <id>, v: <node>}]}
//! ```

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::errors::HubError;
use crate::ir::{Connection, EntityFetch, NodeItem, NodeSelection, RootField, RootKind};

/// The keys of the `data` column, as the compiler writes them.
pub(crate) mod key {
    /// A page's rows: one more than shown when there is a next page.
    pub(crate) const ROWS: &str = "rows";
    /// A page's total count, or null when `totalCount` is not selected.
    pub(crate) const TOTAL: &str = "total";
    /// A page's size.
    pub(crate) const FIRST: &str = "first";
    /// Whether a page was asked for after a cursor.
    pub(crate) const AFTER: &str = "after";
    /// A row's node.
    pub(crate) const NODE: &str = "n";
    /// A row's edge properties.
    pub(crate) const EDGE: &str = "e";
    /// A row's sort-key values, id last (what its cursor seals).
    pub(crate) const SORT_KEYS: &str = "k";
    /// A row's cursor scope.
    pub(crate) const SCOPE: &str = "s";
    /// An entity's id.
    pub(crate) const ENTITY_ID: &str = "k";
    /// An entity's node.
    pub(crate) const ENTITY_NODE: &str = "v";
    /// A data subject's id in its node, for the audit record only: resolvers
    /// read response keys, and `#` is never part of a GraphQL name.
    pub(crate) const SUBJECT: &str = "#id";
    /// The ids of the data subjects a node's fields are facts about (`@describes`).
    pub(crate) const DESCRIBED: &str = "#ids";
    /// The data subjects a small count counted (see `disclose::SMALL_COUNT`).
    pub(crate) const COUNTED: &str = "#counted";
    /// A node's id, when remote fields are selected of it: the key its
    /// subgraph's `_entities` is asked by.
    pub(crate) const ENTITY_KEY: &str = "#key";
}

/// One node as read: its selected items by response key.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Node {
    /// The data subject's id, when the node's type is a data subject.
    pub subject: Option<String>,
    /// The data subjects the node's fields are facts about (`@describes`).
    pub described: Vec<String>,
    /// The node's id, when remote fields are selected of it.
    pub key: Option<String>,
    /// The selected items, by response key.
    pub items: HashMap<String, Item>,
}

/// One item of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// A scalar value (null when absent or masked away).
    Scalar(Value),
    /// A single-valued relationship: the related node, if one is visible.
    One(Option<Node>),
    /// A list relationship.
    Many(Page),
    /// A field a departmental subgraph serves.
    Remote(Remote),
}

/// A remote field of one node: what to ask its subgraph, then its answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Remote {
    /// The subgraph serving it.
    pub subgraph: String,
    /// The node's type (`__typename` of the representation).
    pub ty: String,
    /// The field's name.
    pub field: String,
    /// The value object's fields selected, when it returns objects.
    pub value_fields: Vec<String>,
    /// The mask the plan reads it through, if any.
    pub mask: Option<crate::access::Mask>,
    /// The answer, once fetched.
    pub fetched: Fetched,
}

/// The state of a remote field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fetched {
    /// Not asked yet.
    Pending,
    /// The value (checked against the catalog, masked, null when the subgraph
    /// knows nothing).
    Value(Value),
    /// The subgraph did not answer for it; the field is null with this error.
    Failed(HubError),
}

/// One page of a connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Page {
    /// The rows fetched: up to `first + 1`, the extra one only telling that
    /// there is a next page. Empty when neither edges nor pageInfo is selected.
    pub rows: Vec<Row>,
    /// The number of matching rows, when `totalCount` is selected.
    pub total: Option<u64>,
    /// The page size.
    pub first: usize,
    /// Whether the page starts after a cursor.
    pub after: bool,
    /// The data subjects counted, when `totalCount` is selected and small.
    pub counted: Vec<String>,
}

impl Page {
    /// The rows shown.
    pub fn shown(&self) -> &[Row] {
        &self.rows[..self.rows.len().min(self.first)]
    }

    /// Whether rows follow this page.
    pub fn has_next(&self) -> bool {
        self.rows.len() > self.first
    }
}

/// One row of a page.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row {
    /// The node.
    pub node: Node,
    /// Edge properties selected, by response key.
    pub edge: Map<String, Value>,
    /// Sort-key values, id last: what the row's cursor seals.
    pub sort_keys: Vec<Value>,
    /// The scope its cursor is sealed for.
    pub scope: String,
}

/// The answer to a root field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// A lookup: the node, or none.
    Lookup(Option<Node>),
    /// A list.
    List(Page),
}

/// The answer to an entity fetch: per group of the fetch, in its order, the
/// nodes found with their ids (`None`: an id that is not a string).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Entities {
    /// Aligned with [`EntityFetch::groups`].
    pub groups: Vec<Vec<(Option<String>, Node)>>,
}

fn mismatch(what: &str) -> HubError {
    HubError::internal(format_args!(
        "the store's answer does not match the query: {what}"
    ))
}

/// Decodes the answer to `root`.
///
/// # Errors
/// `INTERNAL_ERROR` when `data` does not have the shape `root` compiles to.
pub(crate) fn root(root: &RootField<'_>, data: Value) -> Result<Answer, HubError> {
    Ok(match &root.kind {
        RootKind::Lookup { selection, .. } => Answer::Lookup(node(selection, data)?),
        RootKind::List(conn) => Answer::List(page(conn, data)?),
    })
}

/// Decodes the answer to an entity fetch.
///
/// # Errors
/// `INTERNAL_ERROR` when `data` does not have the shape `fetch` compiles to.
pub(crate) fn entities(fetch: &EntityFetch<'_>, data: Value) -> Result<Entities, HubError> {
    let mut data = object(data, "entities")?;
    let mut groups = Vec::with_capacity(fetch.groups.len());
    for group in &fetch.groups {
        let found = match data.remove(group.node.name.as_str()) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(found)) => found,
            Some(_) => return Err(mismatch("entity group")),
        };
        let mut nodes = Vec::with_capacity(found.len());
        for entity in found {
            let mut entity = object(entity, "entity")?;
            let id = match entity.remove(key::ENTITY_ID) {
                Some(Value::String(id)) => Some(id),
                _ => None,
            };
            let value = entity.remove(key::ENTITY_NODE).unwrap_or(Value::Null);
            let found = node(&group.selection, value)?.ok_or_else(|| mismatch("entity node"))?;
            nodes.push((id, found));
        }
        groups.push(nodes);
    }
    Ok(Entities { groups })
}

/// Decodes a list of flat maps (a hand-written query's answer, such as the
/// access receipts) as nodes of scalars.
pub(crate) fn scalar_nodes(data: Value) -> Vec<Node> {
    let items = match data {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|item| Node {
            subject: None,
            described: Vec::new(),
            key: None,
            items: match item {
                Value::Object(map) => map.into_iter().map(|(k, v)| (k, Item::Scalar(v))).collect(),
                _ => HashMap::new(),
            },
        })
        .collect()
}

/// A list of ids written for the audit record (anything else reads as none).
fn ids(value: Option<Value>) -> Vec<String> {
    match value {
        Some(Value::Array(ids)) => ids
            .into_iter()
            .filter_map(|id| match id {
                Value::String(id) => Some(id),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn object(value: Value, what: &str) -> Result<Map<String, Value>, HubError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(mismatch(what)),
    }
}

fn node(sel: &NodeSelection<'_>, value: Value) -> Result<Option<Node>, HubError> {
    let mut map = match value {
        Value::Null => return Ok(None),
        other => object(other, "node")?,
    };
    let subject = match map.remove(key::SUBJECT) {
        Some(Value::String(id)) => Some(id),
        _ => None,
    };
    let described = ids(map.remove(key::DESCRIBED));
    let entity_key = match map.remove(key::ENTITY_KEY) {
        Some(Value::String(id)) => Some(id),
        _ => None,
    };
    let mut items = HashMap::with_capacity(sel.items.len());
    for item in &sel.items {
        let value = map.remove(item.key()).unwrap_or(Value::Null);
        let decoded = match item {
            NodeItem::Scalar { .. } => Item::Scalar(value),
            NodeItem::One { selection, .. } => Item::One(node(selection, value)?),
            NodeItem::Remote {
                ty,
                field,
                access,
                value_fields,
                ..
            } => Item::Remote(Remote {
                subgraph: field.subgraph.clone(),
                ty: (*ty).to_string(),
                field: field.name.clone(),
                value_fields: value_fields.iter().map(|f| (*f).to_string()).collect(),
                mask: match access {
                    crate::access::FieldAccess::Masked(m) => Some(*m),
                    crate::access::FieldAccess::Read => None,
                },
                fetched: Fetched::Pending,
            }),
            NodeItem::Many { connection, .. } => Item::Many(page(connection, value)?),
        };
        items.insert(item.key().to_string(), decoded);
    }
    Ok(Some(Node {
        subject,
        described,
        key: entity_key,
        items,
    }))
}

fn page(conn: &Connection<'_>, value: Value) -> Result<Page, HubError> {
    let mut map = object(value, "connection")?;
    let rows = match map.remove(key::ROWS) {
        Some(Value::Array(rows)) => rows,
        _ => return Err(mismatch("connection rows")),
    };
    let total = match map.remove(key::TOTAL) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| mismatch("total"))?),
        Some(_) => return Err(mismatch("total")),
    };
    let first = map
        .get(key::FIRST)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| mismatch("page size"))?;
    let after = map
        .get(key::AFTER)
        .and_then(Value::as_bool)
        .ok_or_else(|| mismatch("after"))?;
    let rows = rows
        .into_iter()
        .map(|r| row(conn, r))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        rows,
        total,
        first,
        after,
        counted: ids(map.remove(key::COUNTED)),
    })
}

fn row(conn: &Connection<'_>, value: Value) -> Result<Row, HubError> {
    let mut map = object(value, "row")?;
    let node = node(&conn.node, map.remove(key::NODE).unwrap_or(Value::Null))?
        .ok_or_else(|| mismatch("row node"))?;
    let edge = match map.remove(key::EDGE) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(edge)) => edge,
        Some(_) => return Err(mismatch("row edge")),
    };
    let sort_keys = match map.remove(key::SORT_KEYS) {
        Some(Value::Array(keys)) => keys,
        _ => return Err(mismatch("row sort keys")),
    };
    let scope = match map.remove(key::SCOPE) {
        Some(Value::String(scope)) => scope,
        _ => return Err(mismatch("row scope")),
    };
    Ok(Row {
        node,
        edge,
        sort_keys,
        scope,
    })
}
