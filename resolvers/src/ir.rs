//! The query IR: one root field of a GraphQL operation, resolved (fragments
//! expanded, variables substituted, `@skip`/`@include` applied, same response keys
//! merged) and checked against the catalog and the access plan. The Cypher compiler
//! reads only this.
//!
//! What the walker resolved is carried as references into the catalog (`'a` is
//! the catalog's lifetime) together with the access the plan grants, so the
//! compiler never looks a name up again. Row predicates ([`Filter`]) stay by
//! name: access plans carry them too, and they are written without a catalog.

use mandate_schema::{Field, NodeType, Relation, RemoteField};
use serde_json::Value;

use crate::access::FieldAccess;

/// A root field to compile into one Cypher query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RootField<'a> {
    /// The node type read.
    pub node: &'a NodeType,
    /// Lookup by id, or a list.
    pub kind: RootKind<'a>,
}

/// The two root field shapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RootKind<'a> {
    /// `resident(id:)`: one node or null.
    Lookup {
        /// The id looked up.
        id: String,
        /// What to read of the node.
        selection: NodeSelection<'a>,
    },
    /// `residents(...)`: a connection.
    List(Connection<'a>),
}

/// The federation entry point `_entities(representations:)`: nodes by type and
/// id, each read through the same plan as a lookup of its type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EntityFetch<'a> {
    /// One group per entity type asked for, in order of first appearance.
    pub groups: Vec<EntityGroup<'a>>,
    /// The representations in the order given: (type, id). The answer lists
    /// one entity (or null) per representation, in this order.
    pub order: Vec<(&'a NodeType, String)>,
    /// Positions in `order` whose type the caller's plan does not grant (only
    /// in the federation view; an agency's own schema refuses them): they are
    /// in no group and answer `null`.
    pub ungranted: Vec<usize>,
}

/// The nodes of one type an entity fetch asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EntityGroup<'a> {
    /// The node type.
    pub node: &'a NodeType,
    /// Distinct ids asked for, in order of first appearance.
    pub ids: Vec<String>,
    /// What to read of each node: the selection's fragments on this type.
    pub selection: NodeSelection<'a>,
}

/// Selected items of one node, each under its response key.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NodeSelection<'a> {
    /// Items in first-seen order, unique by key.
    pub items: Vec<NodeItem<'a>>,
}

/// One selected item of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeItem<'a> {
    /// A scalar field.
    Scalar {
        /// Response key (alias or field name).
        key: String,
        /// The field.
        field: &'a Field,
        /// How the plan lets it be read.
        access: FieldAccess,
    },
    /// A single-valued relationship.
    One {
        /// Response key.
        key: String,
        /// The relationship field.
        relation: &'a Relation,
        /// The type it leads to.
        target: &'a NodeType,
        /// What to read of the target.
        selection: NodeSelection<'a>,
    },
    /// A field a departmental subgraph serves, fetched by the node's id after
    /// the node is read (see `remote`).
    Remote {
        /// Response key.
        key: String,
        /// The node type that has the field (its `__typename` in the subgraph).
        ty: &'a str,
        /// The remote field.
        field: &'a RemoteField,
        /// How the plan lets it be read.
        access: FieldAccess,
        /// The value object's fields selected (by name, in first-seen order),
        /// when the field returns `@value` objects.
        value_fields: Vec<&'a str>,
    },
    /// A list relationship, served as a connection.
    Many {
        /// Response key.
        key: String,
        /// The relationship field.
        relation: &'a Relation,
        /// The type it leads to.
        target: &'a NodeType,
        /// Arguments and selection.
        connection: Connection<'a>,
    },
}

impl NodeItem<'_> {
    /// The item's response key.
    pub fn key(&self) -> &str {
        match self {
            NodeItem::Scalar { key, .. }
            | NodeItem::One { key, .. }
            | NodeItem::Remote { key, .. }
            | NodeItem::Many { key, .. } => key,
        }
    }
}

/// A connection: list arguments and what is read of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Connection<'a> {
    /// Row filter from `where`.
    pub filter: Option<Filter>,
    /// Sort keys from `orderBy` (the id is appended by the compiler as the final key).
    pub order: Vec<SortKey<'a>>,
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
    pub node: NodeSelection<'a>,
    /// Edge properties selected on `edges`.
    pub edge_props: Vec<EdgeProp<'a>>,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortKey<'a> {
    /// The field sorted on (readable in full).
    pub field: &'a Field,
    /// Descending when true.
    pub descending: bool,
}

/// A relationship property selected on a connection's edges.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EdgeProp<'a> {
    /// Response key.
    pub key: String,
    /// The property.
    pub field: &'a Field,
    /// How the plan lets it be read.
    pub access: FieldAccess,
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
