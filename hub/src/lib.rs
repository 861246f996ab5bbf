//! mandate-hub: one request's way through the hub, free of HTTP and of Neo4j.
//!
//! ```text
//! Call { caller, statement, GraphQL request }
//!   ─admission─▶ purpose checked against the lists ─▶ agency API (plan + schema),
//!                compiled once per (agency, roles, purpose, policy version, day)
//!                from the jurisdiction port and cached
//!   ─execution─▶ the agency's schema runs the request; resolvers report what they
//!                disclosed into the request's Disclosure
//!   ─outcome───▶ decision ─▶ AuditRecord ─▶ AuditSink (fail closed) ─▶ Response
//! ```
//!
//! The server authenticates the caller and decodes GraphQL over HTTP; everything
//! from there to the audit record is here, behind three ports: the graph store
//! ([`mandate_resolvers::GraphStore`]), the agencies' jurisdictions
//! ([`Jurisdictions`]) and the audit sink ([`mandate_audit::AuditSink`]). Tests
//! build a hub with in-memory ports through [`HubBuilder`].

mod admission;
mod budgets;
mod hub;
mod outcome;
mod plans;
mod ports;

pub use admission::{Asker, Caller, Stated, Statement};
pub use budgets::{Budget, Budgets};
pub use hub::{BuildError, Call, Hub, HubBuilder};
pub use plans::AgencyApi;
pub use ports::{AgencyProfile, Jurisdictions};
