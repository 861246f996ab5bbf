//! The typed catalog read from the SDL: node types, fields, relationships, enums.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql_parser::types::{
    BaseType, ConstDirective, FieldDefinition, ServiceDocument, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql_parser::Positioned;
use async_graphql_value::ConstValue;

use crate::SchemaError;

/// Sensitivity of a data item, in the sense of PIPL art. 28.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Sensitivity {
    /// Not personal information.
    Public,
    /// Personal information.
    Personal,
    /// Sensitive personal information.
    Sensitive,
}

/// Share class of a data item in the shared-data catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShareClass {
    /// Any agency may be granted it.
    Unconditional,
    /// Granted only under a responsibility-list item with a purpose.
    Conditional,
    /// Never leaves its owner department.
    NotShared,
}

/// Catalog metadata every field carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ShareMeta {
    /// Providing department code (提供部门), e.g. `PUBLIC_SECURITY`.
    pub owner: String,
    /// Sensitivity of the item.
    pub sensitivity: Sensitivity,
    /// Share class of the item.
    pub class: ShareClass,
}

/// The kind of value a scalar field holds, which decides how it is filtered,
/// sorted, passed as a parameter and read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ScalarKind {
    /// Opaque string id.
    Id,
    /// UTF-8 string.
    String,
    /// 64-bit integer.
    Int,
    /// Boolean.
    Boolean,
    /// Calendar date, stored as a Neo4j `date`, exchanged as `YYYY-MM-DD`.
    Date,
    /// A value of the named enum, stored as its name.
    Enum(String),
}

/// How a segment of a structured value is counted when estimating how many values
/// an answer leaves possible (`@segment(kind:)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SegmentKind {
    /// Characters each one of `values` symbols (10 for digits), known one by one.
    Chars,
    /// A calendar date written `YYYYMMDD` or `YYYY-MM-DD` within `values` years;
    /// year, month and day are known apart (12 months, 28 days counted).
    Date,
    /// One check character computed from all the others, one of `values`
    /// symbols: hidden it adds nothing, shown it leaves one in `values` of the rest.
    Check,
    /// Known to every reader whatever is shown (e.g. the region code of a
    /// resident of the hub's city): counted as one value.
    Known,
}

/// One part of a structured value (`@segment`), e.g. the birth date in
/// characters 7–14 of an ID number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Segment {
    /// What the part is, for messages.
    pub name: String,
    /// First character, 1-based.
    pub from: usize,
    /// Last character, inclusive; `None`: to the end of a value of varying
    /// length (only the last segment; counted as one character).
    pub to: Option<usize>,
    /// How it is counted.
    pub kind: SegmentKind,
    /// Symbols per character (`Chars`, `Check`) or years spanned (`Date`); 1 for `Known`.
    pub values: u32,
    /// A field beside this one (same type, or same relationship) carrying the same
    /// information: a `Date` field (or text whose first segment is a 10-character
    /// `Date`, YYYY-MM-DD) for a `Date` segment (year, month and day correspond), an enum for a one-character `Chars` segment (each enum value
    /// leaves `values` / number of enum values characters, e.g. sex and the
    /// parity of an ID number's 17th digit). Knowing either reveals the other.
    pub revealed_by: Option<String>,
}

impl Segment {
    /// The 1-based character positions of the segment; an open segment counts
    /// as its first character.
    pub fn positions(&self) -> std::ops::RangeInclusive<usize> {
        self.from..=self.to.unwrap_or(self.from)
    }
}

/// A scalar field: a property on a node or on a relationship.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Field {
    /// GraphQL field name, also the Neo4j property name.
    pub name: String,
    /// Value kind.
    pub kind: ScalarKind,
    /// Whether the field may be null.
    pub nullable: bool,
    /// Description from the SDL.
    pub description: Option<String>,
    /// Catalog metadata.
    pub share: ShareMeta,
    /// The node's id field (`@id`).
    pub is_id: bool,
    /// Backed by a uniqueness constraint.
    pub unique: bool,
    /// Backed by a range index.
    pub indexed: bool,
    /// `@countOf`: the stored count of the rows this relationship field (of the
    /// same type) reaches — a derived fact that obeys the reader's row scope.
    pub count_of: Option<String>,
    /// The structure of the value (`@segment`, in order, covering it from the
    /// first character): what a mask shows of it, and what other fields reveal,
    /// can be counted. Empty for an unstructured value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
}

impl Field {
    /// The length of a structured value whose every segment is closed.
    pub fn fixed_length(&self) -> Option<usize> {
        match self.segments.last() {
            Some(s) => s.to,
            None => None,
        }
    }
}

/// Direction of a relationship as seen from the declaring type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Direction {
    /// `(this)-[:TYPE]->(target)`
    Out,
    /// `(this)<-[:TYPE]-(target)`
    In,
}

/// A relationship field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Relation {
    /// GraphQL field name.
    pub name: String,
    /// Neo4j relationship type.
    pub rel_type: String,
    /// Direction from the declaring type.
    pub direction: Direction,
    /// Target node type name.
    pub target: String,
    /// `true` for list fields (served as connections), `false` for a single object.
    pub many: bool,
    /// Description from the SDL.
    pub description: Option<String>,
    /// Catalog metadata of the association itself.
    pub share: ShareMeta,
    /// Name of the @relationshipProperties type, if the relationship carries properties.
    pub properties_type: Option<String>,
    /// Properties stored on the relationship.
    pub properties: Vec<Field>,
}

/// What a remote field holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum RemoteValue {
    /// A scalar or enum value.
    Scalar(ScalarKind),
    /// A value object (`@value` type), read whole with the field.
    Object(String),
}

/// A field a departmental subgraph serves (`@remote`): not stored in Neo4j but
/// fetched, for the rows a reader may see, through the subgraph's `_entities`
/// by the node's id. It is a catalog item like any other: owner, sensitivity and
/// share class; lists grant, mask and audit it by `Type.field`. It is never
/// filtered, sorted or written through the hub, and always nullable in the API
/// (its subgraph may not answer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteField {
    /// GraphQL field name, as the subgraph names it.
    pub name: String,
    /// The subgraph serving it (a `[subgraphs.<name>]` of the hub's configuration).
    pub subgraph: String,
    /// What it holds.
    pub value: RemoteValue,
    /// A list of values (`[T!]`).
    pub list: bool,
    /// The most items a list may hold (`maxItems`, default
    /// [`DEFAULT_REMOTE_ITEMS`]): what the query's cost weighs it as, and past
    /// which the subgraph's answer is refused. 1 for a single value.
    pub max_items: u32,
    /// Description from the SDL.
    pub description: Option<String>,
    /// Catalog metadata.
    pub share: ShareMeta,
}

/// `maxItems` of a remote list that does not state it.
pub const DEFAULT_REMOTE_ITEMS: u32 = 20;

impl RemoteField {
    /// Whether a mask can apply: a single scalar value.
    pub fn maskable(&self) -> bool {
        !self.list && matches!(self.value, RemoteValue::Scalar(_))
    }
}

/// One field of a value object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValueField {
    /// GraphQL field name.
    pub name: String,
    /// Value kind (scalars and enums only).
    pub kind: ScalarKind,
    /// Whether the field may be null.
    pub nullable: bool,
    /// Description from the SDL.
    pub description: Option<String>,
}

/// A value object a remote field returns (`@value`): scalar fields only, no
/// identity of its own, read with the remote field that holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValueType {
    /// GraphQL type name.
    pub name: String,
    /// Description from the SDL.
    pub description: Option<String>,
    /// Fields in SDL order.
    pub fields: Vec<ValueField>,
}

impl ValueType {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&ValueField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A node type: one Neo4j label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeType {
    /// GraphQL type name.
    pub name: String,
    /// Neo4j label.
    pub label: String,
    /// Name of the list root field.
    pub plural: String,
    /// Description from the SDL.
    pub description: Option<String>,
    /// Scalar fields in SDL order; the id field is among them.
    pub fields: Vec<Field>,
    /// Relationship fields in SDL order.
    pub relations: Vec<Relation>,
    /// Fields departmental subgraphs serve (`@remote`), in SDL order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remotes: Vec<RemoteField>,
    /// Marked `@dataSubject`: its nodes are people whose data disclosures are
    /// audited by id and can be listed in access receipts.
    pub data_subject: bool,
    /// `@describes`: the relationship to the data subjects this type's fields
    /// are facts about; reading them is a disclosure about each.
    pub describes: Option<String>,
}

impl NodeType {
    /// The scalar field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The relationship field named `name`.
    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations.iter().find(|r| r.name == name)
    }

    /// The remote field named `name`.
    pub fn remote(&self, name: &str) -> Option<&RemoteField> {
        self.remotes.iter().find(|r| r.name == name)
    }

    /// The catalog metadata of field `name`: scalar, relationship or remote.
    pub fn share_of(&self, name: &str) -> Option<&ShareMeta> {
        self.field(name)
            .map(|f| &f.share)
            .or_else(|| self.relation(name).map(|r| &r.share))
            .or_else(|| self.remote(name).map(|r| &r.share))
    }

    /// The `@id` field.
    pub fn id_field(&self) -> &Field {
        // `Catalog::load` guarantees exactly one id field per node type.
        self.fields
            .iter()
            .find(|f| f.is_id)
            .unwrap_or(&self.fields[0])
    }

    /// Name of the lookup root field: the type name in lower camel case.
    pub fn lookup_field(&self) -> String {
        let mut chars = self.name.chars();
        match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}

/// An enum exposed by the API (used as a field type).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnumType {
    /// GraphQL enum name.
    pub name: String,
    /// Description from the SDL.
    pub description: Option<String>,
    /// Values with their descriptions, in SDL order.
    pub values: Vec<(String, Option<String>)>,
}

/// The checked data model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Catalog {
    /// Node types in SDL order.
    pub types: Vec<NodeType>,
    /// Enums used as field types, in SDL order.
    pub enums: Vec<EnumType>,
    /// Value objects remote fields return, in SDL order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueType>,
}

/// Names the hub generates for every node type, which the model may not use itself.
const RESERVED_SUFFIXES: [&str; 6] = [
    "Connection",
    "Edge",
    "Where",
    "Order",
    "OrderField",
    "RelationFilter",
];

impl Catalog {
    /// Parses and checks an SDL document.
    ///
    /// # Errors
    /// A [`SchemaError`] naming the offending type or field.
    pub fn load(sdl: &str) -> Result<Catalog, SchemaError> {
        let doc = async_graphql_parser::parse_schema(sdl)
            .map_err(|e| SchemaError::Syntax(e.to_string()))?;
        Reader::new(&doc)?.read()
    }

    /// The node type named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The enum named `name`.
    pub fn enum_type(&self, name: &str) -> Option<&EnumType> {
        self.enums.iter().find(|e| e.name == name)
    }

    /// The value object type named `name`.
    pub fn value_type(&self, name: &str) -> Option<&ValueType> {
        self.values.iter().find(|v| v.name == name)
    }

    /// The subgraphs remote fields name, sorted.
    pub fn subgraphs(&self) -> BTreeSet<&str> {
        self.types
            .iter()
            .flat_map(|t| &t.remotes)
            .map(|r| r.subgraph.as_str())
            .collect()
    }
}

/// A Neo4j identifier or GraphQL name the hub may write into a query: ASCII
/// letters, digits and underscores, not starting with a digit.
fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Reader<'a> {
    objects: BTreeMap<&'a str, &'a async_graphql_parser::types::TypeDefinition>,
    enums: BTreeMap<&'a str, &'a async_graphql_parser::types::TypeDefinition>,
    scalars: BTreeSet<&'a str>,
    order: Vec<&'a str>,
    departments: BTreeSet<String>,
}

impl<'a> Reader<'a> {
    fn new(doc: &'a ServiceDocument) -> Result<Self, SchemaError> {
        let mut reader = Reader {
            objects: BTreeMap::new(),
            enums: BTreeMap::new(),
            scalars: BTreeSet::new(),
            order: Vec::new(),
            departments: BTreeSet::new(),
        };
        for def in &doc.definitions {
            let TypeSystemDefinition::Type(def) = def else {
                continue;
            };
            let def = &def.node;
            let name = def.name.node.as_str();
            if def.extend {
                return Err(SchemaError::model(
                    name,
                    "type extensions are not supported",
                ));
            }
            let known = reader.objects.contains_key(name)
                || reader.enums.contains_key(name)
                || reader.scalars.contains(name);
            if known {
                return Err(SchemaError::model(name, "defined twice"));
            }
            match &def.kind {
                TypeKind::Object(_) => {
                    reader.objects.insert(name, def);
                    reader.order.push(name);
                }
                TypeKind::Enum(_) => {
                    reader.enums.insert(name, def);
                    reader.order.push(name);
                }
                TypeKind::Scalar => {
                    reader.scalars.insert(name);
                }
                _ => {
                    return Err(SchemaError::model(
                        name,
                        "only object, enum and scalar types are allowed in the model",
                    ))
                }
            }
        }
        let Some(dept) = reader.enums.get("DepartmentCode") else {
            return Err(SchemaError::model(
                "DepartmentCode",
                "the enum of department codes is missing",
            ));
        };
        if let TypeKind::Enum(e) = &dept.kind {
            reader.departments = e
                .values
                .iter()
                .map(|v| v.node.value.node.to_string())
                .collect();
        }
        Ok(reader)
    }

    fn read(&self) -> Result<Catalog, SchemaError> {
        let mut types = Vec::new();
        let mut used_enums = BTreeSet::new();
        let mut used_values = BTreeSet::new();
        for name in &self.order {
            let Some(def) = self.objects.get(name) else {
                continue;
            };
            let Some(node) = directive(&def.directives, "node") else {
                continue;
            };
            let TypeKind::Object(obj) = &def.kind else {
                continue;
            };
            for suffix in RESERVED_SUFFIXES {
                let generated = format!("{name}{suffix}");
                if self.objects.contains_key(generated.as_str())
                    || self.enums.contains_key(generated.as_str())
                {
                    return Err(SchemaError::model(
                        generated,
                        "this name is generated by the hub and may not be declared",
                    ));
                }
            }
            let label = string_arg(node, "label", name)?;
            let plural = string_arg(node, "plural", name)?;
            for ident in [name, &label.as_str(), &plural.as_str()] {
                if !is_plain_identifier(ident) {
                    return Err(SchemaError::model(
                        *name,
                        format!("`{ident}` is not a plain identifier"),
                    ));
                }
            }
            let mut fields = Vec::new();
            let mut relations = Vec::new();
            let mut remotes: Vec<RemoteField> = Vec::new();
            let mut seen = BTreeSet::new();
            for fdef in &obj.fields {
                if !seen.insert(fdef.node.name.node.as_str()) {
                    return Err(SchemaError::model(
                        format!("{name}.{}", fdef.node.name.node),
                        "defined twice",
                    ));
                }
                let fdef = &fdef.node;
                let loc = format!("{name}.{}", fdef.name.node);
                if !fdef.arguments.is_empty() {
                    return Err(SchemaError::model(loc, "model fields take no arguments"));
                }
                if let Some(rel) = directive(&fdef.directives, "relationship") {
                    relations.push(self.relation(fdef, rel, &loc, &mut used_enums)?);
                } else if let Some(remote) = directive(&fdef.directives, "remote") {
                    remotes.push(self.remote(
                        fdef,
                        remote,
                        &loc,
                        &mut used_values,
                        &mut used_enums,
                    )?);
                } else {
                    fields.push(self.field(fdef, &loc, &mut used_enums)?);
                }
            }
            for f in &fields {
                if let Some(rel) = &f.count_of {
                    if !relations.iter().any(|r| &r.name == rel) {
                        return Err(SchemaError::model(
                            format!("{name}.{}", f.name),
                            format!("@countOf names `{rel}`, not a relationship field of {name}"),
                        ));
                    }
                }
            }
            self.check_links(name, &fields)?;
            let ids = fields.iter().filter(|f| f.is_id).count();
            if ids != 1 {
                return Err(SchemaError::model(
                    *name,
                    "a node type needs exactly one @id field",
                ));
            }
            // Nodes are created by the department owning their id (imports and
            // the seeder MERGE on it); another department's fields may not be
            // recorded yet, so only the creator can promise a value.
            if let Some(id) = fields.iter().find(|f| f.is_id) {
                if let Some(f) = fields
                    .iter()
                    .find(|f| !f.nullable && f.share.owner != id.share.owner)
                {
                    return Err(SchemaError::model(
                        format!("{name}.{}", f.name),
                        format!(
                            "non-null, but owned by {} while {} owns the id and creates the nodes: \
                             make it nullable (null until its owner records it)",
                            f.share.owner, id.share.owner
                        ),
                    ));
                }
            }
            types.push(NodeType {
                name: (*name).to_string(),
                label,
                plural,
                description: def.description.as_ref().map(|d| d.node.clone()),
                fields,
                relations,
                remotes,
                data_subject: directive(&def.directives, "dataSubject").is_some(),
                describes: directive(&def.directives, "describes")
                    .map(|d| string_arg(d, "relation", name))
                    .transpose()?,
            });
        }
        if types.is_empty() {
            return Err(SchemaError::model("schema", "no @node types"));
        }
        let mut seen_roots = BTreeSet::new();
        for t in &types {
            for root in [t.lookup_field(), t.plural.clone()] {
                if !seen_roots.insert(root.clone()) {
                    return Err(SchemaError::model(
                        &t.name,
                        format!("root field `{root}` is generated twice"),
                    ));
                }
            }
            for rel in &t.relations {
                if !types.iter().any(|u| u.name == rel.target) {
                    return Err(SchemaError::model(
                        format!("{}.{}", t.name, rel.name),
                        format!("`{}` is not a @node type", rel.target),
                    ));
                }
            }
            if let Some(described) = &t.describes {
                let to_subjects = t.relation(described).is_some_and(|rel| {
                    types.iter().any(|u| u.name == rel.target && u.data_subject)
                });
                if !to_subjects {
                    return Err(SchemaError::model(
                        &t.name,
                        format!("@describes names `{described}`, not a relationship of {} to a @dataSubject type", t.name),
                    ));
                }
            }
        }
        let values = self.values(&used_values, &mut used_enums)?;
        let enums = self
            .order
            .iter()
            .filter(|n| used_enums.contains(**n))
            .filter_map(|n| self.enums.get(n))
            .map(|def| {
                let values = match &def.kind {
                    TypeKind::Enum(e) => e
                        .values
                        .iter()
                        .map(|v| {
                            (
                                v.node.value.node.to_string(),
                                v.node.description.as_ref().map(|d| d.node.clone()),
                            )
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                EnumType {
                    name: def.name.node.to_string(),
                    description: def.description.as_ref().map(|d| d.node.clone()),
                    values,
                }
            })
            .collect();
        Ok(Catalog {
            types,
            enums,
            values,
        })
    }

    /// A `@remote` field: `T`, `[T!]` or `[T]` (always nullable: its subgraph
    /// may not answer), `T` a scalar, an enum or a `@value` type.
    fn remote(
        &self,
        fdef: &FieldDefinition,
        remote: &ConstDirective,
        loc: &str,
        used_values: &mut BTreeSet<String>,
        used_enums: &mut BTreeSet<String>,
    ) -> Result<RemoteField, SchemaError> {
        let name = fdef.name.node.to_string();
        if !is_plain_identifier(&name) || name.starts_with("__") || name.starts_with('_') {
            return Err(SchemaError::model(loc, "not a plain identifier"));
        }
        let subgraph = string_arg(remote, "subgraph", loc)?;
        if !is_plain_identifier(&subgraph) {
            return Err(SchemaError::model(
                loc,
                format!("subgraph `{subgraph}` is not a plain identifier"),
            ));
        }
        for other in [
            "id",
            "relationship",
            "unique",
            "index",
            "countOf",
            "segment",
        ] {
            if directive(&fdef.directives, other).is_some() {
                return Err(SchemaError::model(
                    loc,
                    format!("@{other} does not apply to a @remote field (its subgraph keeps it)"),
                ));
            }
        }
        let ty = &fdef.ty.node;
        if !ty.nullable {
            return Err(SchemaError::model(
                loc,
                "a @remote field is nullable: its subgraph may not answer",
            ));
        }
        let (type_name, list) = match &ty.base {
            BaseType::Named(t) => (t.as_str(), false),
            BaseType::List(inner) => match &inner.base {
                BaseType::Named(t) => (t.as_str(), true),
                BaseType::List(_) => {
                    return Err(SchemaError::model(loc, "nested lists are not supported"))
                }
            },
        };
        let value = match self.scalar_kind(type_name) {
            Some(kind) => {
                if let ScalarKind::Enum(e) = &kind {
                    used_enums.insert(e.clone());
                }
                if kind == ScalarKind::Id {
                    return Err(SchemaError::model(loc, "a @remote field cannot be an ID"));
                }
                RemoteValue::Scalar(kind)
            }
            None => {
                let is_value = self
                    .objects
                    .get(type_name)
                    .is_some_and(|d| directive(&d.directives, "value").is_some());
                if !is_value {
                    return Err(SchemaError::model(
                        loc,
                        format!(
                            "`{type_name}` is not a scalar, an enum or a @value type of the model"
                        ),
                    ));
                }
                used_values.insert(type_name.to_string());
                RemoteValue::Object(type_name.to_string())
            }
        };
        let max_items = match remote.get_argument("maxItems").map(|v| &v.node) {
            None | Some(ConstValue::Null) if list => DEFAULT_REMOTE_ITEMS,
            None | Some(ConstValue::Null) => 1,
            Some(ConstValue::Number(n)) if list => match n.as_u64() {
                Some(n @ 1..=1000) => n as u32,
                _ => {
                    return Err(SchemaError::model(
                        loc,
                        "maxItems is an integer from 1 to 1000",
                    ))
                }
            },
            Some(_) if list => {
                return Err(SchemaError::model(
                    loc,
                    "maxItems is an integer from 1 to 1000",
                ))
            }
            Some(_) => return Err(SchemaError::model(loc, "maxItems applies to a list")),
        };
        Ok(RemoteField {
            name,
            subgraph,
            value,
            list,
            max_items,
            description: fdef.description.as_ref().map(|d| d.node.clone()),
            share: self.share(fdef, loc)?,
        })
    }

    /// The kind of a scalar or enum type named `name`.
    fn scalar_kind(&self, name: &str) -> Option<ScalarKind> {
        Some(match name {
            "ID" => ScalarKind::Id,
            "String" => ScalarKind::String,
            "Int" => ScalarKind::Int,
            "Boolean" => ScalarKind::Boolean,
            "Date" if self.scalars.contains("Date") => ScalarKind::Date,
            other if self.enums.contains_key(other) => ScalarKind::Enum(other.to_string()),
            _ => return None,
        })
    }

    /// The `@value` types remote fields return, in SDL order.
    fn values(
        &self,
        used: &BTreeSet<String>,
        used_enums: &mut BTreeSet<String>,
    ) -> Result<Vec<ValueType>, SchemaError> {
        let mut values = Vec::new();
        for name in &self.order {
            let Some(def) = self.objects.get(name) else {
                continue;
            };
            if directive(&def.directives, "value").is_none() {
                continue;
            }
            if !used.contains(*name) {
                return Err(SchemaError::model(
                    *name,
                    "a @value type no @remote field returns",
                ));
            }
            if directive(&def.directives, "node").is_some() {
                return Err(SchemaError::model(
                    *name,
                    "@value and @node exclude each other",
                ));
            }
            let TypeKind::Object(obj) = &def.kind else {
                continue;
            };
            let mut fields = Vec::new();
            for f in &obj.fields {
                let f = &f.node;
                let loc = format!("{name}.{}", f.name.node);
                if !is_plain_identifier(&f.name.node) || f.name.node.starts_with('_') {
                    return Err(SchemaError::model(loc, "not a plain identifier"));
                }
                if fields
                    .iter()
                    .any(|x: &ValueField| x.name == f.name.node.as_str())
                {
                    return Err(SchemaError::model(loc, "defined twice"));
                }
                if !f.arguments.is_empty() || !f.directives.is_empty() {
                    return Err(SchemaError::model(
                        loc,
                        "value fields take no arguments and no directives (the remote field carries the catalog metadata)",
                    ));
                }
                let kind = match &f.ty.node.base {
                    BaseType::Named(t) => self.scalar_kind(t),
                    BaseType::List(_) => None,
                }
                .ok_or_else(|| SchemaError::model(&loc, "a value field is a scalar or an enum"))?;
                if let ScalarKind::Enum(e) = &kind {
                    used_enums.insert(e.clone());
                }
                fields.push(ValueField {
                    name: f.name.node.to_string(),
                    kind,
                    nullable: f.ty.node.nullable,
                    description: f.description.as_ref().map(|d| d.node.clone()),
                });
            }
            if fields.is_empty() {
                return Err(SchemaError::model(*name, "a @value type needs fields"));
            }
            values.push(ValueType {
                name: (*name).to_string(),
                description: def.description.as_ref().map(|d| d.node.clone()),
                fields,
            });
        }
        Ok(values)
    }

    fn share(&self, fdef: &FieldDefinition, loc: &str) -> Result<ShareMeta, SchemaError> {
        let Some(share) = directive(&fdef.directives, "share") else {
            return Err(SchemaError::model(
                loc,
                "every field needs @share(owner, sensitivity, class)",
            ));
        };
        let owner = enum_arg(share, "owner", loc)?;
        if !self.departments.contains(&owner) {
            return Err(SchemaError::model(
                loc,
                format!("owner `{owner}` is not a DepartmentCode"),
            ));
        }
        let sensitivity = match enum_arg(share, "sensitivity", loc)?.as_str() {
            "PUBLIC" => Sensitivity::Public,
            "PERSONAL" => Sensitivity::Personal,
            "SENSITIVE" => Sensitivity::Sensitive,
            other => {
                return Err(SchemaError::model(
                    loc,
                    format!("unknown sensitivity `{other}`"),
                ))
            }
        };
        let class = match enum_arg(share, "class", loc)?.as_str() {
            "UNCONDITIONAL" => ShareClass::Unconditional,
            "CONDITIONAL" => ShareClass::Conditional,
            "NOT_SHARED" => ShareClass::NotShared,
            other => {
                return Err(SchemaError::model(
                    loc,
                    format!("unknown share class `{other}`"),
                ))
            }
        };
        Ok(ShareMeta {
            owner,
            sensitivity,
            class,
        })
    }

    fn field(
        &self,
        fdef: &FieldDefinition,
        loc: &str,
        used_enums: &mut BTreeSet<String>,
    ) -> Result<Field, SchemaError> {
        let name = fdef.name.node.to_string();
        if !is_plain_identifier(&name) || name.starts_with("__") {
            return Err(SchemaError::model(loc, "not a plain identifier"));
        }
        let ty = &fdef.ty.node;
        let BaseType::Named(type_name) = &ty.base else {
            return Err(SchemaError::model(
                loc,
                "list-valued properties are not supported; use a relationship",
            ));
        };
        let kind = match type_name.as_str() {
            "ID" => ScalarKind::Id,
            "String" => ScalarKind::String,
            "Int" => ScalarKind::Int,
            "Boolean" => ScalarKind::Boolean,
            "Date" if self.scalars.contains("Date") => ScalarKind::Date,
            other if self.enums.contains_key(other) => {
                used_enums.insert(other.to_string());
                ScalarKind::Enum(other.to_string())
            }
            other => {
                return Err(SchemaError::model(
                    loc,
                    format!("`{other}` is not a scalar or enum of the model (relationship fields need @relationship)"),
                ))
            }
        };
        let count_of = match directive(&fdef.directives, "countOf") {
            Some(d) if kind == ScalarKind::Int => Some(string_arg(d, "relation", loc)?),
            Some(_) => return Err(SchemaError::model(loc, "@countOf needs an `Int` field")),
            None => None,
        };
        let is_id = directive(&fdef.directives, "id").is_some();
        if is_id && (kind != ScalarKind::Id || ty.nullable) {
            return Err(SchemaError::model(loc, "the @id field must be `ID!`"));
        }
        let segments = segments(fdef, loc)?;
        if !segments.is_empty() && !matches!(kind, ScalarKind::String | ScalarKind::Date) {
            return Err(SchemaError::model(
                loc,
                "@segment describes String and Date values only",
            ));
        }
        Ok(Field {
            name,
            kind,
            nullable: ty.nullable,
            description: fdef.description.as_ref().map(|d| d.node.clone()),
            share: self.share(fdef, loc)?,
            is_id,
            unique: is_id || directive(&fdef.directives, "unique").is_some(),
            indexed: directive(&fdef.directives, "index").is_some(),
            count_of,
            segments,
        })
    }

    /// Checks each `revealedBy` of `fields` (the fields of one type, or the
    /// properties of one relationship): a `Date` field (or a date kept as text,
    /// one `DATE` segment of 10 characters) for a `DATE` segment, an
    /// enum of at most `values` values for a one-character `CHARS` segment.
    fn check_links(&self, owner: &str, fields: &[Field]) -> Result<(), SchemaError> {
        for f in fields {
            for seg in &f.segments {
                let Some(by) = &seg.revealed_by else {
                    continue;
                };
                let loc = format!("{owner}.{}", f.name);
                let other = fields.iter().find(|o| o.name == *by && o.name != f.name);
                let fits = match (seg.kind, other.map(|o| &o.kind)) {
                    (SegmentKind::Date, Some(ScalarKind::Date)) => true,
                    // A date kept as text, YYYY-MM-DD.
                    (SegmentKind::Date, Some(_)) => {
                        other.and_then(|o| o.segments.first()).is_some_and(|d| {
                            d.kind == SegmentKind::Date && d.from == 1 && d.to == Some(10)
                        })
                    }
                    (SegmentKind::Chars, Some(ScalarKind::Enum(e))) => {
                        let n = self.enums.get(e.as_str()).map_or(0, |d| match &d.kind {
                            TypeKind::Enum(e) => e.values.len(),
                            _ => 0,
                        });
                        seg.to == Some(seg.from) && n >= 2 && n <= seg.values as usize
                    }
                    _ => false,
                };
                if !fits {
                    return Err(SchemaError::model(
                        loc,
                        format!(
                            "segment `{}` revealed by `{by}`: a DATE segment is revealed by a Date field beside it, a one-character CHARS segment by an enum beside it with at most `values` values",
                            seg.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn relation(
        &self,
        fdef: &FieldDefinition,
        rel: &ConstDirective,
        loc: &str,
        used_enums: &mut BTreeSet<String>,
    ) -> Result<Relation, SchemaError> {
        let name = fdef.name.node.to_string();
        if !is_plain_identifier(&name) || name.starts_with("__") {
            return Err(SchemaError::model(loc, "not a plain identifier"));
        }
        let rel_type = string_arg(rel, "type", loc)?;
        if !is_plain_identifier(&rel_type) {
            return Err(SchemaError::model(
                loc,
                format!("relationship type `{rel_type}` is not a plain identifier"),
            ));
        }
        let direction = match enum_arg(rel, "direction", loc)?.as_str() {
            "OUT" => Direction::Out,
            "IN" => Direction::In,
            other => {
                return Err(SchemaError::model(
                    loc,
                    format!("unknown direction `{other}`"),
                ))
            }
        };
        let (target, many) = match &fdef.ty.node {
            Type {
                base: BaseType::Named(t),
                nullable: true,
            } => (t.to_string(), false),
            Type {
                base: BaseType::List(inner),
                nullable: false,
            } if !inner.nullable => match &inner.base {
                BaseType::Named(t) => (t.to_string(), true),
                BaseType::List(_) => {
                    return Err(SchemaError::model(loc, "nested lists are not supported"))
                }
            },
            _ => {
                return Err(SchemaError::model(
                    loc,
                    "a relationship field is `Target` (nullable, at most one) or `[Target!]!`",
                ))
            }
        };
        let properties_type = match rel.get_argument("properties") {
            Some(v) => match &v.node {
                ConstValue::String(s) => Some(s.clone()),
                ConstValue::Null => None,
                _ => {
                    return Err(SchemaError::model(
                        loc,
                        "`properties` must name a type as a string",
                    ))
                }
            },
            None => None,
        };
        let mut properties = Vec::new();
        if let Some(pt) = &properties_type {
            let def = self
                .objects
                .get(pt.as_str())
                .filter(|d| directive(&d.directives, "relationshipProperties").is_some())
                .ok_or_else(|| {
                    SchemaError::model(loc, format!("`{pt}` is not a @relationshipProperties type"))
                })?;
            if let TypeKind::Object(obj) = &def.kind {
                for p in &obj.fields {
                    let ploc = format!("{pt}.{}", p.node.name.node);
                    if directive(&p.node.directives, "relationship").is_some() {
                        return Err(SchemaError::model(
                            ploc,
                            "relationship properties cannot be relationships",
                        ));
                    }
                    let field = self.field(&p.node, &ploc, used_enums)?;
                    if field.is_id || field.name == "node" || field.name == "cursor" {
                        return Err(SchemaError::model(
                            ploc,
                            "`id`, `node` and `cursor` are reserved on edges",
                        ));
                    }
                    properties.push(field);
                }
            }
            self.check_links(pt, &properties)?;
        }
        Ok(Relation {
            name,
            rel_type,
            direction,
            target,
            many,
            description: fdef.description.as_ref().map(|d| d.node.clone()),
            share: self.share(fdef, loc)?,
            properties_type,
            properties,
        })
    }
}

/// The `@segment` directives of a field, checked: in order from the first
/// character, each starting where the last ended, only the last open-ended.
fn segments(fdef: &FieldDefinition, loc: &str) -> Result<Vec<Segment>, SchemaError> {
    let mut out: Vec<Segment> = Vec::new();
    for d in fdef
        .directives
        .iter()
        .map(|d| &d.node)
        .filter(|d| d.name.node.as_str() == "segment")
    {
        let name = string_arg(d, "name", loc)?;
        let bad = |message: String| SchemaError::model(loc, format!("segment `{name}`: {message}"));
        let kind = match enum_arg(d, "kind", loc)?.as_str() {
            "CHARS" => SegmentKind::Chars,
            "DATE" => SegmentKind::Date,
            "CHECK" => SegmentKind::Check,
            "KNOWN" => SegmentKind::Known,
            other => return Err(bad(format!("unknown kind `{other}`"))),
        };
        let from = int_arg(d, "from", loc)?.ok_or_else(|| bad("needs `from`".into()))?;
        let to = int_arg(d, "to", loc)?;
        let values = int_arg(d, "values", loc)?;
        let revealed_by = match d.get_argument("revealedBy").map(|v| &v.node) {
            Some(ConstValue::String(s)) => Some(s.clone()),
            None | Some(ConstValue::Null) => None,
            Some(_) => return Err(bad("`revealedBy` names a field as a string".into())),
        };
        let expected = out.last().map_or(Some(1), |s| s.to.map(|t| t + 1));
        if expected != Some(from) {
            return Err(bad(match expected {
                Some(e) => {
                    format!("starts at character {from}, not {e} where the previous one ends")
                }
                None => "follows an open-ended segment".into(),
            }));
        }
        let len = match to {
            Some(t) if t < from => return Err(bad(format!("ends at {t}, before it starts"))),
            Some(t) => Some(t - from + 1),
            None => None,
        };
        let values = match (kind, values, len) {
            (SegmentKind::Known, None, _) => 1,
            (SegmentKind::Known, Some(_), _) => {
                return Err(bad("a KNOWN segment takes no `values`".into()))
            }
            (SegmentKind::Date, Some(v), Some(8 | 10)) if v >= 1 => v,
            (SegmentKind::Date, ..) => {
                return Err(bad(
                    "a DATE segment is 8 or 10 characters with `values` years (at least 1)".into(),
                ))
            }
            (SegmentKind::Check, Some(v), Some(1)) if v >= 2 => v,
            (SegmentKind::Check, ..) => {
                return Err(bad(
                    "a CHECK segment is one character of `values` symbols (at least 2)".into(),
                ))
            }
            (SegmentKind::Chars, Some(v), _) if v >= 2 => v,
            (SegmentKind::Chars, ..) => {
                return Err(bad(
                    "a CHARS segment needs `values` symbols per character (at least 2)".into(),
                ))
            }
        };
        let values = u32::try_from(values).map_err(|_| bad("`values` is too large".into()))?;
        out.push(Segment {
            name,
            from,
            to,
            kind,
            values,
            revealed_by,
        });
    }
    Ok(out)
}

fn int_arg(d: &ConstDirective, arg: &str, loc: &str) -> Result<Option<usize>, SchemaError> {
    match d.get_argument(arg).map(|v| &v.node) {
        None | Some(ConstValue::Null) => Ok(None),
        Some(ConstValue::Number(n)) => match n.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(SchemaError::model(
                loc,
                format!("@{} needs a non-negative integer `{arg}`", d.name.node),
            )),
        },
        Some(_) => Err(SchemaError::model(
            loc,
            format!("@{} needs an integer `{arg}`", d.name.node),
        )),
    }
}

fn directive<'d>(dirs: &'d [Positioned<ConstDirective>], name: &str) -> Option<&'d ConstDirective> {
    dirs.iter()
        .map(|d| &d.node)
        .find(|d| d.name.node.as_str() == name)
}

fn string_arg(d: &ConstDirective, arg: &str, loc: &str) -> Result<String, SchemaError> {
    match d.get_argument(arg).map(|v| &v.node) {
        Some(ConstValue::String(s)) => Ok(s.clone()),
        _ => Err(SchemaError::model(
            loc,
            format!("@{} needs a string `{arg}`", d.name.node),
        )),
    }
}

fn enum_arg(d: &ConstDirective, arg: &str, loc: &str) -> Result<String, SchemaError> {
    match d.get_argument(arg).map(|v| &v.node) {
        Some(ConstValue::Enum(s)) => Ok(s.to_string()),
        _ => Err(SchemaError::model(
            loc,
            format!("@{} needs an enum value `{arg}`", d.name.node),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Catalog {
        crate::hub_catalog().expect("hub SDL loads")
    }

    #[test]
    fn hub_model_has_the_city_types() {
        let c = hub();
        let names: Vec<_> = c.types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Resident",
                "Household",
                "Building",
                "Grid",
                "Community",
                "Subdistrict",
                "Department"
            ]
        );
        let resident = c.node("Resident").unwrap();
        assert!(resident.data_subject);
        assert!(!c.node("Building").unwrap().data_subject);
        assert_eq!(resident.lookup_field(), "resident");
        assert_eq!(resident.plural, "residents");
        let id_number = resident.field("idNumber").unwrap();
        assert_eq!(id_number.share.sensitivity, Sensitivity::Sensitive);
        assert_eq!(id_number.share.owner, "PUBLIC_SECURITY");
        assert!(id_number.unique);
        let household = resident.relation("household").unwrap();
        assert_eq!(household.rel_type, "MEMBER_OF");
        assert_eq!(household.direction, Direction::Out);
        assert!(!household.many);
        assert_eq!(household.properties[0].name, "relationToHead");
        let members = c.node("Household").unwrap().relation("members").unwrap();
        assert_eq!(members.direction, Direction::In);
        assert!(members.many);
        assert!(c.enum_type("RelationToHead").is_some());
        assert!(
            c.enum_type("Sensitivity").is_none(),
            "metadata enums stay internal"
        );
    }

    #[test]
    fn structured_values_declare_their_segments() {
        let c = hub();
        let r = c.node("Resident").unwrap();
        let id = r.field("idNumber").unwrap();
        let names: Vec<_> = id.segments.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "region",
                "birth date",
                "order number",
                "sex digit",
                "check character"
            ]
        );
        assert_eq!(id.fixed_length(), Some(18));
        assert_eq!(id.segments[1].revealed_by.as_deref(), Some("birthDate"));
        assert_eq!(id.segments[1].kind, SegmentKind::Date);
        assert_eq!(id.segments[3].revealed_by.as_deref(), Some("sex"));
        assert_eq!(r.field("name").unwrap().fixed_length(), None, "open-ended");
        assert!(r.field("ethnicity").unwrap().segments.is_empty());
    }

    #[test]
    fn rejects_segments_that_do_not_fit() {
        let t = |fields: &str| {
            err(&format!(
                "enum E {{ X Y Z }}
                type T @node(label: \"T\", plural: \"ts\") {{ id: ID! @id @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) {fields} }}"
            ))
        };
        let share = "@share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL)";
        for (fields, want) in [
            (
                format!("s: String {share} @segment(name: \"a\", from: 2, to: 3, kind: CHARS, values: 10)"),
                "starts at character 2, not 1",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, to: 3, kind: CHARS, values: 10) @segment(name: \"b\", from: 5, to: 5, kind: CHARS, values: 10)"),
                "starts at character 5, not 4",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, kind: CHARS, values: 10) @segment(name: \"b\", from: 2, to: 2, kind: CHARS, values: 10)"),
                "follows an open-ended segment",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, to: 6, kind: DATE, values: 100)"),
                "8 or 10 characters",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, to: 2, kind: CHECK, values: 11)"),
                "one character",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, to: 2, kind: CHARS)"),
                "needs `values`",
            ),
            (
                format!("n: Int {share} @segment(name: \"a\", from: 1, to: 2, kind: CHARS, values: 10)"),
                "String and Date values only",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, to: 8, kind: DATE, values: 100, revealedBy: \"n\") n: Int {share}"),
                "revealed by `n`",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, to: 2, kind: CHARS, values: 10, revealedBy: \"e\") e: E {share}"),
                "revealed by `e`",
            ),
            (
                format!("s: String {share} @segment(name: \"a\", from: 1, to: 1, kind: CHARS, values: 2, revealedBy: \"e\") e: E {share}"),
                "revealed by `e`",
            ),
        ] {
            let e = t(&fields);
            assert!(e.contains(want), "{fields}: {e}");
        }
    }

    #[test]
    fn catalog_snapshot() {
        insta::assert_yaml_snapshot!(hub());
    }

    fn err(sdl: &str) -> String {
        let base = "directive @node(label: String!, plural: String!) on OBJECT
            enum DepartmentCode { A }
            scalar Date\n";
        Catalog::load(&format!("{base}{sdl}"))
            .expect_err("must be rejected")
            .to_string()
    }

    #[test]
    fn rejects_models_that_would_reach_cypher_unchecked() {
        assert!(err("type T @node(label: \"T`) DETACH DELETE n //\", plural: \"ts\") { id: ID! @id @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) }").contains("plain identifier"));
        assert!(
            err("type T @node(label: \"T\", plural: \"ts\") { id: ID! @id }").contains("@share")
        );
        assert!(err("type T @node(label: \"T\", plural: \"ts\") { id: ID! @id @share(owner: B, sensitivity: PUBLIC, class: UNCONDITIONAL) }").contains("not a DepartmentCode"));
        assert!(err("type T @node(label: \"T\", plural: \"ts\") { name: String @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) }").contains("exactly one @id"));
        assert!(err("type T @node(label: \"T\", plural: \"ts\") { id: ID! @id @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) u: U @relationship(type: \"R\", direction: OUT) @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) }").contains("not a @node type"));
        assert!(err("type T @node(label: \"T\", plural: \"ts\") { id: ID! @id @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) } type TWhere { x: Int }").contains("generated by the hub"));
        assert!(err("type T @node(label: \"T\", plural: \"ts\") { id: ID! @id @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) x: Float @share(owner: A, sensitivity: PUBLIC, class: UNCONDITIONAL) }").contains("not a scalar"));
        assert!(Catalog::load("type {")
            .unwrap_err()
            .to_string()
            .contains("syntax"));
    }
}
