//! mandate-seed: the deterministic synthetic demo city.
//!
//! - [`generate`] builds a believable urban district (Hefei-like, area codes
//!   `3401xx`) in memory: subdistricts, communities, grids, buildings,
//!   households, residents and the departments that serve them. The same
//!   [`CityParams`] always give a byte-identical [`City`].
//! - [`seed`] generates a city and writes it to Neo4j with batched
//!   `UNWIND ... MERGE` statements keyed by id, so writing the same city again
//!   changes nothing; [`resident_count`] tells whether a city is there.
//!
//! The names, addresses, area codes and weights the generator draws from are
//! plain tab-separated text files under `seed/data/`, embedded at build time
//! and parsed once on first use.

mod generate;
mod ids;
mod names;
mod pick;
mod tables;
mod write;

pub use generate::{
    generate, BuildingRow, City, CityParams, CommunityRow, DepartmentRow, GridRow, HouseholdRow,
    ResidentRow, SubdistrictRow,
};
pub use ids::id_check_char;
pub use write::{resident_count, seed, SeedReport};

/// Why a city could not be generated or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// An embedded data table under `seed/data/` does not parse (a unit test
    /// parses every table, so a release build never meets this).
    #[error("seed table {file}, line {line}: {reason}")]
    Table {
        /// The data file, e.g. `surnames.tsv`.
        file: &'static str,
        /// 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Neo4j is unreachable or rejected a batch.
    #[error(transparent)]
    Store(#[from] mandate_resolvers::StoreError),
}
