//! mandate-connectors: the outside world behind the resolvers' ports.
//!
//! - [`neo4j`]: the neo4rs-backed [`mandate_resolvers::GraphStore`];
//! - [`ddl`]: constraints and indexes derived from the catalog;
//! - [`audit`] and [`journal`]: the audit log in Neo4j, written directly or
//!   through a local journal;
//! - [`policy_store`]: the policy officers' store (versions, drafts,
//!   applications, grants) and the audit search the console uses;
//! - [`import`]: departments' CSV, JSON lines and Excel exports into the graph.
//!
//! The demo city and its writer live in the `mandate-seed` crate.

mod audit;
mod ddl;
mod group_commit;
pub mod import;
mod journal;
mod neo4j;
pub mod policy_store;
mod subgraph;

pub use audit::AuditWriter;
pub use journal::{
    read_journal, verify as verify_journal, AuditJournal, JournalContents, JournalError,
    JournalSettings,
};
pub use neo4j::{Neo4jSettings, Neo4jStore};
pub use subgraph::{HttpSubgraphs, SubgraphSettings, SubgraphStats};

use mandate_hub::AgencyProfile;

/// Applies the catalog's constraints and indexes, then waits for the indexes to
/// come online.
///
/// # Errors
/// If Neo4j is unreachable or rejects a statement.
pub async fn apply_schema(
    store: &Neo4jStore,
    catalog: &mandate_schema::Catalog,
) -> Result<usize, mandate_resolvers::StoreError> {
    let mut statements = ddl::statements(catalog);
    statements.extend(ddl::AUDIT.iter().map(|s| s.to_string()));
    for s in &statements {
        store.execute(s, serde_json::Map::new()).await?;
    }
    store
        .execute("CALL db.awaitIndexes(300)", serde_json::Map::new())
        .await?;
    Ok(statements.len())
}

/// Agencies' jurisdictions, read from their Department nodes.
impl mandate_hub::Jurisdictions for Neo4jStore {
    fn profile<'a>(
        &'a self,
        agency: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<AgencyProfile>, mandate_resolvers::StoreError>>
    {
        Box::pin(agency_profile(self, agency))
    }
}

/// An agency's Department node: its department code and what it serves, closed over
/// the grid → community → subdistrict hierarchy. `None` if there is no such node.
async fn agency_profile(
    store: &Neo4jStore,
    agency: &str,
) -> Result<Option<AgencyProfile>, mandate_resolvers::StoreError> {
    let mut params = serde_json::Map::new();
    params.insert(
        "agency".into(),
        serde_json::Value::String(agency.to_string()),
    );
    let rows = store
        .rows(
            "MATCH (d:Department {id: $agency})
             OPTIONAL MATCH (d)-[:SERVES]->(x)
             OPTIONAL MATCH (x)<-[:PART_OF*0..2]-(g:Grid)
             OPTIONAL MATCH (g)-[:PART_OF]->(c:Community)
             OPTIONAL MATCH (c)-[:PART_OF]->(s:Subdistrict)
             RETURN d.code AS code, collect(DISTINCT g.id) AS grids,
                    collect(DISTINCT c.id) AS communities, collect(DISTINCT s.id) AS subdistricts",
            params,
        )
        .await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let list = |k: &str| {
        let mut v: Vec<String> = row[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    Ok(Some(AgencyProfile {
        department: row["code"].as_str().unwrap_or_default().to_string(),
        grids: list("grids"),
        communities: list("communities"),
        subdistricts: list("subdistricts"),
    }))
}
