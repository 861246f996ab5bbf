//! mandate-schema: the city data model and its typed catalog.
//!
//! The model is written as SDL in `schema/hub.graphql`. [`Catalog::load`] parses it and
//! checks it into a typed [`Catalog`]: node types (Neo4j labels), their scalar fields
//! with the catalog metadata every shared data item carries (owner department,
//! sensitivity, share class), relationship fields, and the remote fields departmental
//! subgraphs serve (`@remote`, returning scalars or `@value` objects). Every label, relationship type
//! and property name that the hub ever writes into Cypher comes from this catalog,
//! and each one is checked here to be a plain identifier. This crate does no I/O.

mod catalog;
mod error;

pub use catalog::{
    Catalog, Direction, EnumType, Field, NodeType, Relation, RemoteField, RemoteValue, ScalarKind,
    Segment, SegmentKind, Sensitivity, ShareClass, ShareMeta, ValueField, ValueType,
    DEFAULT_REMOTE_ITEMS,
};
pub use error::SchemaError;

/// The SDL of the hub's data model, as checked in.
pub const HUB_SDL: &str = include_str!("../hub.graphql");

/// The catalog of the hub's own data model ([`HUB_SDL`]).
///
/// # Errors
/// Only if the checked-in SDL is invalid, which the crate's tests rule out.
pub fn hub_catalog() -> Result<Catalog, SchemaError> {
    Catalog::load(HUB_SDL)
}
