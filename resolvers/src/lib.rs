//! mandate-resolvers: GraphQL → Cypher.
//!
//! The data flow of one root field:
//!
//! ```text
//! GraphQL AST ──selection::Walker──▶ ir::RootField ──cypher::compile──▶ store::CypherQuery
//!      (checked against access::AccessPlan)                 (one query, parameters only)
//!
//! GraphStore::run ──data──▶ answer::{Node, Page, Row} ──▶ resolvers, disclose (audit)
//! ```
//!
//! [`build_schema`] generates an agency's GraphQL schema from the catalog and its
//! access plan, with root resolvers that run the pipeline above through the
//! [`GraphStore`] port; [`build_federation_schema`] the one schema a federation
//! router composes, over every mandate, run with the caller's plan
//! ([`CallerPlan`]). This crate knows neither the HTTP server nor the Neo4j
//! driver.
//!
//! The modules are private; the public surface is re-exported here.

mod access;
mod answer;
mod api;
mod cost;
mod cursor;
mod cypher;
mod disclose;
mod errors;
mod federation;
mod ir;
mod limits;
mod meter;
mod principal;
mod remote;
mod selection;
mod shape;
mod store;
mod writes;

pub use access::{AccessPlan, FieldAccess, Mask, TypeAccess};
pub use api::{build_federation_schema, build_schema, parse_date, Engine};
pub use cursor::CursorKey;
pub use errors::{
    bounded_document, check_nesting, over_limit, parse_document, with_code, Code, HubError,
};
pub use federation::CallerPlan;
pub use ir::{CompareOp, Filter};
pub use limits::{Limits, ShapeLimits};
pub use meter::{Meter, StoreTicket, Throttled};
pub use principal::Principal;
pub use remote::{EntitiesAnswer, EntitiesCall, NoSubgraphs, SubgraphError, Subgraphs};
pub use selection::{Document, Walker};
pub use store::{CypherQuery, GraphStore, StoreError, WriteOutcome, WriteSeal, Written};
