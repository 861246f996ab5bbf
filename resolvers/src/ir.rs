//! The query IR: one root field of a GraphQL operation, resolved (fragments
//! expanded, variables substituted, `@skip`/`@include` applied, same response keys
//! merged) and checked against the catalog and the access plan. The Cypher compiler
//! reads only this.

use serde_json::Value;

/// A root field to compile into one Cypher query.
#[derive(Debug, Clone, PartialEq)]
pub struct RootField {
    /// Node type name.
    pub type_name: String,
    /// Lookup by id, or a list.
    pub kind: RootKind,
}

/// The two root field shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum RootKind {
    /// `resident(id:)`: one node or null.
    Lookup {
        /// The id looked up.
        id: String,
        /// What to read of the node.
        selection: NodeSelection,
    },
    /// `residents(...)`: a connection.
    List(Connection),
}

/// The federation entry point `_entities(representations:)`: nodes by type and
/// id, each read through the same plan as a lookup of its type.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityFetch {
    /// One group per entity type asked for, in order of first appearance.
    pub groups: Vec<EntityGroup>,
    /// The representations in the order given: (type name, id). The answer lists
    /// one entity (or null) per representation, in this order.
    pub order: Vec<(String, String)>,
}

/// The nodes of one type an entity fetch asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityGroup {
    /// Node type name.
    pub type_name: String,
    /// Distinct ids asked for, in order of first appearance.
    pub ids: Vec<String>,
    /// What to read of each node: the selection's fragments on this type.
    pub selection: NodeSelection,
}

/// Selected items of one node, each under its response key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSelection {
    /// Items in first-seen order, unique by key.
    pub items: Vec<NodeItem>,
}

/// One selected item of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeItem {
    /// A scalar field.
    Scalar {
        /// Response key (alias or field name).
        key: String,
        /// Field name.
        field: String,
    },
    /// A single-valued relationship.
    One {
        /// Response key.
        key: String,
        /// Relationship field name.
        relation: String,
        /// What to read of the target.
        selection: NodeSelection,
    },
    /// A list relationship, served as a connection.
    Many {
        /// Response key.
        key: String,
        /// Relationship field name.
        relation: String,
        /// Arguments and selection.
        connection: Connection,
    },
}

impl NodeItem {
    /// The item's response key.
    pub fn key(&self) -> &str {
        match self {
            NodeItem::Scalar { key, .. }
            | NodeItem::One { key, .. }
            | NodeItem::Many { key, .. } => key,
        }
    }
}

/// A connection: list arguments and what is read of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Row filter from `where`.
    pub filter: Option<Filter>,
    /// Sort keys from `orderBy` (the id is appended by the compiler as the final key).
    pub order: Vec<SortKey>,
    /// Page size.
    pub first: usize,
    /// Decoded `after` cursor: the sort-key values of the last row seen, id last.
    pub after: Option<Vec<Value>>,
    /// Binds cursors to this query's position space.
    pub scope: String,
    /// Whether rows are needed (`edges` or `pageInfo` selected).
    pub rows: bool,
    /// Whether `totalCount` is selected.
    pub total: bool,
    /// Merged selection of every `edges { node { ... } }`.
    pub node: NodeSelection,
    /// Edge properties selected on `edges`, as (response key, property name).
    pub edge_props: Vec<(String, String)>,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Field name.
    pub field: String,
    /// Descending when true.
    pub descending: bool,
}

/// A row predicate over one node, from a `where` argument or an access plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Filter {
    /// All must hold (empty: true).
    And(Vec<Filter>),
    /// One must hold (empty: false).
    Or(Vec<Filter>),
    /// Must not hold.
    Not(Box<Filter>),
    /// A comparison of a scalar field with a value.
    Compare {
        /// Field name.
        field: String,
        /// Operator.
        op: CompareOp,
        /// Value (a list for `In`), as JSON; dates as `YYYY-MM-DD`, enums as names.
        value: Value,
    },
    /// `field IS NULL` (or `IS NOT NULL`).
    IsNull {
        /// Field name.
        field: String,
        /// `true` for IS NULL.
        is_null: bool,
    },
    /// A related node exists (matching `filter`, if given), or none does when `exists` is false.
    Related {
        /// Relationship field name.
        relation: String,
        /// Whether a matching related node must exist (`false`: none may).
        exists: bool,
        /// Predicate on the related node.
        filter: Option<Box<Filter>>,
    },
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `IN`
    In,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `STARTS WITH`
    StartsWith,
}
