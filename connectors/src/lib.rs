//! mandate-connectors: the outside world behind the resolvers' ports.
//!
//! - [`neo4j`]: the neo4rs-backed [`mandate_resolvers::GraphStore`];
//! - [`ddl`]: constraints and indexes derived from the catalog;
//! - [`seed`]: the deterministic synthetic demo city and its batched writer.

pub mod ddl;
pub mod neo4j;
pub mod seed;

pub use neo4j::{Neo4jSettings, Neo4jStore};

/// Applies the catalog's constraints and indexes, then waits for the indexes to
/// come online.
///
/// # Errors
/// If Neo4j is unreachable or rejects a statement.
pub async fn apply_schema(
    store: &Neo4jStore,
    catalog: &mandate_schema::Catalog,
) -> Result<usize, mandate_resolvers::StoreError> {
    let statements = ddl::statements(catalog);
    for s in &statements {
        store.execute(s, serde_json::Map::new()).await?;
    }
    store
        .execute("CALL db.awaitIndexes(300)", serde_json::Map::new())
        .await?;
    Ok(statements.len())
}
