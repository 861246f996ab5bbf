//! Constraints and indexes derived from the catalog, applied idempotently.

use mandate_schema::Catalog;

/// Constraints of the audit log (not part of the data model).
pub const AUDIT: [&str; 3] = [
    "CREATE CONSTRAINT `audit_head_chain_unique` IF NOT EXISTS FOR (h:`AuditHead`) REQUIRE h.`chain` IS UNIQUE",
    "CREATE CONSTRAINT `audit_chain_seq_unique` IF NOT EXISTS FOR (a:`AuditRecord`) REQUIRE (a.`chain`, a.`seq`) IS UNIQUE",
    "CREATE INDEX `audit_time_index` IF NOT EXISTS FOR (a:`AuditRecord`) ON (a.`time`)",
];

/// The statements that make Neo4j match the model: a uniqueness constraint for
/// every `@id` and `@unique` field, a range index for every `@index` field.
/// Each is `IF NOT EXISTS`, so applying them again changes nothing.
pub fn statements(catalog: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    for t in &catalog.types {
        let base = t.label.to_lowercase();
        for f in &t.fields {
            if f.unique {
                out.push(format!(
                    "CREATE CONSTRAINT `{base}_{}_unique` IF NOT EXISTS FOR (n:`{}`) REQUIRE n.`{}` IS UNIQUE",
                    f.name.to_lowercase(),
                    t.label,
                    f.name
                ));
            } else if f.indexed {
                out.push(format!(
                    "CREATE INDEX `{base}_{}_index` IF NOT EXISTS FOR (n:`{}`) ON (n.`{}`)",
                    f.name.to_lowercase(),
                    t.label,
                    f.name
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ddl_snapshot() {
        let catalog = mandate_schema::hub_catalog().unwrap();
        insta::assert_snapshot!(super::statements(&catalog).join("\n"));
    }
}
