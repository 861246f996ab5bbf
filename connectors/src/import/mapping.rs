//! The declarative mapping file (TOML) and the import plan compiled from it
//! against the catalog and the importing department.
//!
//! ```toml
//! type = "Resident"          # a catalog node type
//! key = "idNumber"           # the @id or @unique field rows are merged on
//! format = "csv"             # csv | jsonl | xlsx; default: the file's extension
//! sheet = "Sheet1"           # xlsx: the sheet (default: the first)
//! encoding = "gb18030"       # CSV, JSON lines: default UTF-8
//!
//! [columns]                  # column (CSV header, JSON key, xlsx header cell) → field
//! "身份证号" = "idNumber"
//! "性别" = "sex"
//!
//! [dates]                    # field → accepted formats (strftime), tried in order
//! birthDate = ["%Y-%m-%d", "%Y%m%d", "%Y年%m月%d日"]
//!
//! [codes.sex]                # field → source value → catalog value
//! "男" = "MALE"
//! "女" = "FEMALE"
//! ```
//!
//! Compiling refuses, before any row is read: an unknown type, column target or
//! key; a key that is not backed by a uniqueness constraint; a derived field
//! (`@countOf`); and any mapped field the department does not own. The key is
//! used to find the node and is written only if the department owns it.

use std::collections::{BTreeMap, HashMap};

use mandate_schema::{Catalog, Field, NodeType, ScalarKind};
use serde::Deserialize;

use super::ImportError;

/// File formats the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header line, UTF-8.
    Csv,
    /// One JSON object per line, UTF-8.
    Jsonl,
    /// An Excel workbook; the sheet's first row is the header.
    Xlsx,
}

impl Format {
    /// The format a file name's extension says, if any.
    pub fn of_path(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

/// A mapping file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The catalog node type every row describes, e.g. `Resident`.
    #[serde(rename = "type")]
    pub target: String,
    /// The field rows are merged on: the type's `@id` field or a `@unique` one.
    pub key: String,
    /// File format; default: from the file's extension.
    #[serde(default)]
    pub format: Option<Format>,
    /// xlsx only: the sheet to read; default: the first.
    #[serde(default)]
    pub sheet: Option<String>,
    /// CSV only: the field delimiter; default `,`.
    #[serde(default)]
    pub delimiter: Option<char>,
    /// CSV and JSON lines: the text encoding (a WHATWG label such as `gb18030`,
    /// `gbk`, `utf-16le`); default UTF-8. Bytes malformed in it are read as U+FFFD.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Column name → catalog field name.
    pub columns: BTreeMap<String, String>,
    /// Field → accepted date formats (chrono strftime), tried in order;
    /// default `%Y-%m-%d`. Only for `Date` fields.
    #[serde(default)]
    pub dates: BTreeMap<String, Vec<String>>,
    /// Field → code table: source value → catalog value (e.g. `男` → `MALE`,
    /// `是` → `true`). A value not in the table is taken as it is.
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
}

impl Mapping {
    /// Parses a mapping file's text.
    ///
    /// # Errors
    /// [`ImportError::Mapping`] naming the TOML problem.
    pub fn parse(text: &str) -> Result<Mapping, ImportError> {
        let mapping: Mapping =
            toml::from_str(text).map_err(|e| ImportError::Mapping(e.to_string()))?;
        if let Some(label) = &mapping.encoding {
            if encoding_rs::Encoding::for_label(label.as_bytes()).is_none() {
                return Err(ImportError::Mapping(format!(
                    "encoding `{label}` is not known (try utf-8, gb18030, gbk, big5, utf-16le)"
                )));
            }
        }
        Ok(mapping)
    }
}

/// How rows reach the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The department owns the key: `MERGE` on it, creating nodes not there yet.
    Upsert,
    /// The department does not own the key: it finds nodes by it (`MATCH`) and
    /// writes its own fields; a row whose key matches no node is rejected.
    Update,
}

/// One mapped column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Column name in the file.
    pub column: String,
    /// The catalog field it fills.
    pub field: Field,
    /// Accepted date formats (`Date` fields).
    pub formats: Vec<String>,
    /// Code table.
    pub codes: HashMap<String, String>,
    /// Enum values the field accepts (`Enum` fields).
    pub enum_values: Vec<String>,
    /// Written to the node (owned and not the key).
    pub write: bool,
}

/// A mapping checked against the catalog and the department: what is read,
/// how it is converted and the one statement every batch runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Catalog type name.
    pub type_name: String,
    /// The department code the import runs for.
    pub department: String,
    /// Upsert or update.
    pub mode: Mode,
    /// The mapped columns, in the order values are read.
    pub columns: Vec<Column>,
    /// Index of the key in `columns`.
    pub key: usize,
    /// The batch statement (`UNWIND $rows`); labels and property names from the
    /// catalog only, values as parameters.
    pub statement: String,
    /// `Type.field` of every field written, for the audit record.
    pub written: Vec<String>,
}

impl Plan {
    /// Checks `mapping` for `department` (a code such as `CIVIL_AFFAIRS`).
    ///
    /// # Errors
    /// [`ImportError::Mapping`] for a malformed mapping,
    /// [`ImportError::NotOwned`] for fields the department does not own.
    pub fn compile(
        mapping: &Mapping,
        catalog: &Catalog,
        department: &str,
    ) -> Result<Plan, ImportError> {
        let known_department = catalog
            .enum_type("DepartmentCode")
            .is_some_and(|e| e.values.iter().any(|(v, _)| v == department));
        if !known_department {
            return Err(ImportError::Mapping(format!(
                "`{department}` is not a department code of the catalog"
            )));
        }
        let node = catalog.node(&mapping.target).ok_or_else(|| {
            ImportError::Mapping(format!(
                "type `{}` is not in the catalog; types: {}",
                mapping.target,
                catalog
                    .types
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let key_field = node.field(&mapping.key).ok_or_else(|| {
            ImportError::Mapping(format!(
                "key `{}` is not a field of {}",
                mapping.key, node.name
            ))
        })?;
        if !(key_field.is_id || key_field.unique) {
            return Err(ImportError::Mapping(format!(
                "key {}.{} is neither the @id nor a @unique field: rows could not be merged on it",
                node.name, key_field.name
            )));
        }
        let mut columns = Vec::new();
        let mut seen: HashMap<&str, &str> = HashMap::new();
        let mut not_owned = Vec::new();
        for (column, field_name) in &mapping.columns {
            let field = node.field(field_name).ok_or_else(|| {
                ImportError::Mapping(format!(
                    "column `{column}` maps to `{field_name}`, which is not a field of {} (relationships are not imported)",
                    node.name
                ))
            })?;
            if let Some(other) = seen.insert(field.name.as_str(), column.as_str()) {
                return Err(ImportError::Mapping(format!(
                    "columns `{other}` and `{column}` both map to {}.{}",
                    node.name, field.name
                )));
            }
            if field.count_of.is_some() {
                return Err(ImportError::Mapping(format!(
                    "{}.{} is derived (@countOf) and cannot be imported",
                    node.name, field.name
                )));
            }
            let is_key = field.name == key_field.name;
            let owned = field.share.owner == department;
            if !owned && !is_key {
                not_owned.push(format!(
                    "{}.{} ({})",
                    node.name, field.name, field.share.owner
                ));
            }
            let formats = match mapping.dates.get(field_name) {
                Some(f) if f.is_empty() => {
                    return Err(ImportError::Mapping(format!(
                        "[dates] {field_name} lists no format"
                    )))
                }
                Some(f) => f.clone(),
                None => vec!["%Y-%m-%d".to_string()],
            };
            let enum_values = match &field.kind {
                ScalarKind::Enum(e) => catalog
                    .enum_type(e)
                    .map(|e| e.values.iter().map(|(v, _)| v.clone()).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            columns.push(Column {
                column: column.clone(),
                field: field.clone(),
                formats,
                codes: mapping
                    .codes
                    .get(field_name)
                    .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                enum_values,
                write: owned && !is_key,
            });
        }
        if !not_owned.is_empty() {
            return Err(ImportError::NotOwned {
                department: department.to_string(),
                fields: not_owned,
                owned: owned_fields(node, department),
            });
        }
        for name in mapping.dates.keys() {
            match node.field(name) {
                Some(f)
                    if f.kind == ScalarKind::Date
                        && mapping.columns.values().any(|v| v == name) => {}
                _ => {
                    return Err(ImportError::Mapping(format!(
                        "[dates] names `{name}`, which is not a mapped Date field"
                    )))
                }
            }
        }
        for name in mapping.codes.keys() {
            if !mapping.columns.values().any(|v| v == name) {
                return Err(ImportError::Mapping(format!(
                    "[codes] names `{name}`, which no column maps to"
                )));
            }
        }
        let key = columns
            .iter()
            .position(|c| c.field.name == key_field.name)
            .ok_or_else(|| {
                ImportError::Mapping(format!("no column maps to the key `{}`", key_field.name))
            })?;
        if !columns.iter().any(|c| c.write) {
            return Err(ImportError::Mapping(format!(
                "the mapping writes no field besides the key; {department} may import: {}",
                owned_fields(node, department).join(", ")
            )));
        }
        let mode = if key_field.share.owner == department {
            Mode::Upsert
        } else {
            Mode::Update
        };
        if mode == Mode::Upsert {
            // Rows may create nodes: each must carry every value the catalog
            // promises (non-null fields, all the key owner's own), or a reader
            // would meet a node without them.
            let missing: Vec<String> = node
                .fields
                .iter()
                .filter(|f| !f.nullable && f.count_of.is_none())
                .filter(|f| !columns.iter().any(|c| c.field.name == f.name))
                .map(|f| format!("{}.{}", node.name, f.name))
                .collect();
            if !missing.is_empty() {
                return Err(ImportError::Mapping(format!(
                    "{department} owns the key, so rows may create {} nodes, and a new node needs every non-null field; the mapping does not fill: {}",
                    node.name,
                    missing.join(", ")
                )));
            }
        }
        let statement = statement(node, &columns, key, mode);
        let written = columns
            .iter()
            .filter(|c| c.write)
            .map(|c| format!("{}.{}", node.name, c.field.name))
            .collect();
        Ok(Plan {
            type_name: node.name.clone(),
            department: department.to_string(),
            mode,
            columns,
            key,
            statement,
            written,
        })
    }
}

/// The importable fields of `node` owned by `department`, `Type.field`.
fn owned_fields(node: &NodeType, department: &str) -> Vec<String> {
    node.fields
        .iter()
        .filter(|f| f.share.owner == department && f.count_of.is_none())
        .map(|f| format!("{}.{}", node.name, f.name))
        .collect()
}

/// The value of `row.<field>` as stored: dates as Neo4j `date`s.
fn value_expr(field: &Field) -> String {
    match field.kind {
        ScalarKind::Date => format!("date(row.{})", field.name),
        _ => format!("row.{}", field.name),
    }
}

/// The batch statement. Every identifier comes from the catalog, which checked
/// each to be a plain identifier; every value is a parameter.
fn statement(node: &NodeType, columns: &[Column], key: usize, mode: Mode) -> String {
    let key_field = &columns[key].field;
    let sets: Vec<String> = columns
        .iter()
        .filter(|c| c.write)
        .map(|c| format!("n.{} = {}", c.field.name, value_expr(&c.field)))
        .collect();
    match mode {
        Mode::Upsert => format!(
            "UNWIND $rows AS row\nMERGE (n:{label} {{{key}: {value}}})\nSET {sets}",
            label = node.label,
            key = key_field.name,
            value = value_expr(key_field),
            sets = sets.join(", "),
        ),
        Mode::Update => format!(
            "UNWIND $rows AS row\nOPTIONAL MATCH (found:{label} {{{key}: {value}}})\n\
             FOREACH (n IN CASE WHEN found IS NULL THEN [] ELSE [found] END | SET {sets})\n\
             WITH row, found WHERE found IS NULL\nRETURN row.line AS line",
            label = node.label,
            key = key_field.name,
            value = value_expr(key_field),
            sets = sets.join(", "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        mandate_schema::hub_catalog().unwrap_or_else(|e| unreachable!("catalog: {e}"))
    }

    fn mapping(text: &str) -> Mapping {
        Mapping::parse(text).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn an_owner_upserts_on_its_key() {
        let m = mapping(
            r#"type = "Resident"
key = "id"
[columns]
"编号" = "id"
"姓名" = "name"
"身份证号" = "idNumber"
"出生日期" = "birthDate"
"性别" = "sex"
"户籍" = "hukouType"
"民族" = "ethnicity"
"#,
        );
        let plan = Plan::compile(&m, &catalog(), "PUBLIC_SECURITY")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(plan.mode, Mode::Upsert);
        assert!(
            plan.statement
                .starts_with("UNWIND $rows AS row\nMERGE (n:Resident {id: row.id})\nSET "),
            "{}",
            plan.statement
        );
        assert!(plan.statement.contains("n.name = row.name"));
        assert!(plan.statement.contains("n.birthDate = date(row.birthDate)"));
        assert_eq!(plan.written.len(), 6);
    }

    /// Reads answer every non-null field of every node: a mapping whose rows
    /// could create a node without one is refused, naming them.
    #[test]
    fn an_upsert_that_could_create_incomplete_nodes_is_refused() {
        let m = mapping(
            r#"type = "Resident"
key = "id"
[columns]
"编号" = "id"
"姓名" = "name"
"#,
        );
        let e = Plan::compile(&m, &catalog(), "PUBLIC_SECURITY")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("a new node needs every non-null field"), "{e}");
        assert!(e.contains("Resident.idNumber, Resident.birthDate, Resident.sex, Resident.hukouType, Resident.ethnicity"), "{e}");
    }

    #[test]
    fn another_department_updates_through_a_key_it_does_not_own() {
        let m = mapping(
            r#"type = "Resident"
key = "idNumber"
[columns]
"身份证号" = "idNumber"
"低保" = "lowIncome"
"#,
        );
        let plan =
            Plan::compile(&m, &catalog(), "CIVIL_AFFAIRS").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(plan.mode, Mode::Update);
        assert!(plan
            .statement
            .contains("OPTIONAL MATCH (found:Resident {idNumber: row.idNumber})"));
        assert!(plan.statement.contains("SET n.lowIncome = row.lowIncome"));
        assert!(!plan.statement.contains("n.idNumber ="));
        assert_eq!(plan.written, vec!["Resident.lowIncome"]);
    }

    #[test]
    fn a_field_not_owned_is_refused_with_what_is_owned() {
        let m = mapping(
            r#"type = "Resident"
key = "idNumber"
[columns]
"身份证号" = "idNumber"
"电话" = "phone"
"低保" = "lowIncome"
"#,
        );
        let e = Plan::compile(&m, &catalog(), "CIVIL_AFFAIRS")
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("Resident.phone (GRID_MANAGEMENT)"), "{e}");
        assert!(e.contains("Resident.lowIncome"), "{e}");
    }

    #[test]
    fn malformed_mappings_are_refused() {
        let cases = [
            (
                r#"type = "Nope"
key = "id"
[columns]
a = "id""#,
                "not in the catalog",
            ),
            (
                r#"type = "Resident"
key = "name"
[columns]
a = "name""#,
                "neither the @id nor a @unique",
            ),
            (
                r#"type = "Household"
key = "id"
[columns]
a = "id"
b = "memberCount""#,
                "derived",
            ),
            (
                r#"type = "Resident"
key = "id"
[columns]
a = "id"
b = "household""#,
                "relationships are not imported",
            ),
            (
                r#"type = "Resident"
key = "id"
[columns]
a = "name""#,
                "no column maps to the key",
            ),
            (
                r#"type = "Resident"
key = "id"
[columns]
a = "id"
b = "name"
[dates]
name = ["%Y"]"#,
                "not a mapped Date field",
            ),
            (
                r#"type = "Resident"
key = "id"
colums = {}"#,
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let e = Mapping::parse(text)
                .and_then(|m| Plan::compile(&m, &catalog(), "PUBLIC_SECURITY"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(expected), "{text}: {e}");
        }
        let m = mapping("type = \"Resident\"\nkey = \"id\"\n[columns]\na = \"id\"\n");
        let e = Plan::compile(&m, &catalog(), "NOBODY")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not a department code"), "{e}");
    }
}
