//! mandate-governance: the policy officers' side of the hub.
//!
//! Responsibility lists live in the policy store as numbered, immutable
//! versions ([`store`]); officers change them through drafts that another
//! officer approves (two-person rule), answer sharing applications with
//! time-boxed grants, and issue break-glass grants under review ([`service`]).
//! What the hub puts in force is a version's lists plus the grants active now
//! ([`lists`]), loaded by the same casbin loader and compiler as files are —
//! casbin stays the source of truth of every decision. [`views`] answers the
//! officers' questions (catalog, matrix, explain, what a change does) from the
//! compiled plans; [`preview`] bounds what a draft's preview runs and shows;
//! [`calendar`] counts working days for deadlines; [`api`] is
//! the admin GraphQL schema, transport-free.

pub mod api;
pub mod calendar;
pub mod error;
pub mod lists;
pub mod preview;
pub mod records;
pub mod service;
pub mod store;
pub mod views;

pub use calendar::Calendar;
pub use error::AdminError;
pub use records::Officer;
pub use service::{Effective, Governance, Settings};
