//! mandate-resolvers: GraphQL → Cypher.
//!
//! The data flow of one root field:
//!
//! ```text
//! GraphQL AST ──selection::Walker──▶ ir::RootField ──cypher::compile──▶ store::CypherQuery
//!      (checked against access::AccessPlan)                 (one query, parameters only)
//! ```
//!
//! [`api::build_schema`] generates an agency's GraphQL schema from the catalog and its
//! access plan, with root resolvers that run the pipeline above through the
//! [`store::GraphStore`] port. This crate knows neither the HTTP server nor the
//! Neo4j driver.

pub mod access;
pub mod api;
pub mod cursor;
pub mod cypher;
mod disclose;
pub mod errors;
pub mod federation;
pub mod ir;
pub mod selection;
pub mod store;

pub use access::AccessPlan;
pub use api::{build_schema, Engine, ShapeLimits};
pub use errors::{Code, HubError};
pub use selection::Limits;
pub use store::{CypherQuery, GraphStore, StoreError};
