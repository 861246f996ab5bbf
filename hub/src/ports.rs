//! What the hub needs from outside besides the graph store and the audit sink.

use futures::future::BoxFuture;
use mandate_resolvers::StoreError;

/// An agency's place in the city: its department code and what it serves, closed
/// over the grid → community → subdistrict hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgencyProfile {
    /// The department code (`Department.code`); empty if none.
    pub department: String,
    /// Grid ids it serves.
    pub grids: Vec<String>,
    /// Community ids it serves.
    pub communities: Vec<String>,
    /// Subdistrict ids it serves.
    pub subdistricts: Vec<String>,
}

/// Where agencies' jurisdictions are read from (the Department nodes in Neo4j).
pub trait Jurisdictions: Send + Sync + 'static {
    /// The profile of `agency`; `None` if the agency has no Department node.
    fn profile<'a>(
        &'a self,
        agency: &'a str,
    ) -> BoxFuture<'a, Result<Option<AgencyProfile>, StoreError>>;
}
