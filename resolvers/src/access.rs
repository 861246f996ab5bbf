//! The access plan: what one asking agency may read, as input to schema generation
//! and Cypher compilation.
//!
//! A plan lists, per node type, the readable scalar fields (each read in full or
//! masked), the readable relationship fields with their readable edge properties, and
//! an optional row predicate. The `policies` crate compiles responsibility lists into
//! plans; [`AccessPlan::allow_all`] is the plan of an unrestricted reader (used by
//! operators' tools and tests). Both the per-agency GraphQL schema and the Cypher
//! compiler read only the plan, so a field absent from the plan is absent from the
//! schema and cannot reach a query.

use std::collections::BTreeMap;

use mandate_schema::{Catalog, NodeType};

use crate::ir::Filter;

/// How a readable scalar field leaves the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum FieldAccess {
    /// The stored value.
    Read,
    /// A masked rendering of the value; the field may not be filtered or sorted on.
    Masked(Mask),
}

impl FieldAccess {
    /// Whether `where` and `orderBy` may use the field (reading it in full).
    pub fn is_full(self) -> bool {
        matches!(self, FieldAccess::Read)
    }
}

/// Masks applied inside Cypher, before data leaves Neo4j.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Mask {
    /// Keep the first 6 and last 4 characters: `340102********123X`.
    KeepEnds,
    /// Keep the first 6 characters (an ID number's region): `340102************`.
    KeepStart,
    /// Keep the first 3 and last 4 characters: `138****5678`.
    Phone,
    /// Keep the first character: `王**`.
    FirstChar,
    /// Replace the whole value with `***`.
    Redact,
    /// Keep only the year of a date: `1958-**-**`.
    YearOnly,
}

/// One piece of a masked value: characters kept from either end of the value
/// (all of it when shorter), or fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// The first n characters.
    Left(usize),
    /// Fixed text.
    Text(&'static str),
    /// The last n characters.
    Right(usize),
}

impl Mask {
    /// What the masked value is made of. The one definition of each mask:
    /// Cypher renders it inside Neo4j (`cypher::masked`), the hub renders it on
    /// values a subgraph served ([`Mask::apply`]).
    pub(crate) fn pieces(self) -> &'static [Piece] {
        use Piece::{Left, Right, Text};
        match self {
            Mask::KeepEnds => &[Left(6), Text("********"), Right(4)],
            Mask::KeepStart => &[Left(6), Text("************")],
            Mask::Phone => &[Left(3), Text("****"), Right(4)],
            Mask::FirstChar => &[Left(1), Text("**")],
            Mask::Redact => &[Text("***")],
            Mask::YearOnly => &[Left(4), Text("-**-**")],
        }
    }

    /// The mask applied in the hub, to a value a subgraph served (characters,
    /// not bytes, as Cypher's `left` and `right`).
    pub fn apply(self, s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for piece in self.pieces() {
            match *piece {
                Piece::Left(n) => out.extend(chars.iter().take(n)),
                Piece::Text(t) => out.push_str(t),
                Piece::Right(n) => out.extend(&chars[chars.len().saturating_sub(n)..]),
            }
        }
        out
    }
}

/// What an agency may read of one node type.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TypeAccess {
    /// Readable scalar fields.
    pub fields: BTreeMap<String, FieldAccess>,
    /// Readable relationship fields, with their readable edge properties.
    pub relations: BTreeMap<String, BTreeMap<String, FieldAccess>>,
    /// Whether the type has root fields (lookup and list); when false, the type is
    /// reachable only through relationships.
    pub root: bool,
    /// Rows of this type the agency may see; `None` is every row. Applied wherever
    /// the type is reached: root fields, nested paths, relationship filters, counts.
    pub rows: Option<Filter>,
    /// Scalar fields the agency may update (`write` items: fields its department
    /// owns and reads in full), within `rows`.
    pub writes: std::collections::BTreeSet<String>,
}

/// The compiled access of one (agency, purpose, policy version).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AccessPlan {
    /// Identifies the plan; bound into every cursor so a cursor cannot cross plans.
    pub fingerprint: String,
    /// Per node type name; a type absent here is invisible.
    pub types: BTreeMap<String, TypeAccess>,
    /// Whether the agency may list who read a resident's data (access receipts,
    /// the resident's right to know under PIPL art. 44).
    #[serde(default)]
    pub receipts: bool,
    /// Whose receipts: the residents the receipts grant's scope selects (`None`:
    /// every resident). Receipts are personal data of their own.
    #[serde(default)]
    pub receipts_rows: Option<Filter>,
    /// The (agency, purpose) pairs whose reads a receipt shows only as a lawful,
    /// confidential access — no officer, no case number, no stated purpose
    /// (PIPL art. 18 and 35): the purposes the lists mark `confidential`.
    #[serde(default)]
    pub confidential: Vec<(String, String)>,
}

impl AccessPlan {
    /// Everything readable in full, every type a root: the plan of an unrestricted reader.
    pub fn allow_all(catalog: &Catalog) -> AccessPlan {
        let types = catalog
            .types
            .iter()
            .map(|t| {
                let access = TypeAccess {
                    fields: t
                        .fields
                        .iter()
                        .map(|f| &f.name)
                        .chain(t.remotes.iter().map(|r| &r.name))
                        .map(|name| (name.clone(), FieldAccess::Read))
                        .collect(),
                    relations: t
                        .relations
                        .iter()
                        .map(|r| {
                            let props = r
                                .properties
                                .iter()
                                .map(|p| (p.name.clone(), FieldAccess::Read))
                                .collect();
                            (r.name.clone(), props)
                        })
                        .collect(),
                    root: true,
                    rows: None,
                    // The open (development) hub reads everything and writes nothing.
                    writes: Default::default(),
                };
                (t.name.clone(), access)
            })
            .collect();
        AccessPlan {
            fingerprint: "allow-all".to_string(),
            types,
            receipts: true,
            receipts_rows: None,
            confidential: Vec::new(),
        }
    }

    /// Whether the plan reaches no data at all: no type has a root field (and so no
    /// `_entities` entry either) and no access receipts are granted.
    pub fn grants_nothing(&self) -> bool {
        !self.receipts && !self.types.values().any(|a| a.root)
    }

    /// The access to type `name`, if any.
    pub fn type_access(&self, name: &str) -> Option<&TypeAccess> {
        self.types.get(name)
    }

    /// The access to field `field` of type `ty`, if readable.
    pub fn field(&self, ty: &str, field: &str) -> Option<FieldAccess> {
        self.types.get(ty)?.fields.get(field).copied()
    }

    /// Whether nodes of `t` may be fetched by id — by its lookup root field or the
    /// federation entry point `_entities`: the type has root fields and its id is
    /// readable in full.
    pub fn is_entity(&self, t: &NodeType) -> bool {
        self.types.get(&t.name).is_some_and(|a| a.root)
            && self
                .field(&t.name, &t.id_field().name)
                .is_some_and(FieldAccess::is_full)
    }

    /// Whether relationship `rel` of `ty` is readable and its target type visible.
    pub fn relation_visible(&self, catalog: &Catalog, ty: &str, rel: &str) -> bool {
        let Some(access) = self.types.get(ty) else {
            return false;
        };
        if !access.relations.contains_key(rel) {
            return false;
        }
        catalog
            .node(ty)
            .and_then(|t| t.relation(rel))
            .is_some_and(|r| self.types.contains_key(&r.target))
    }
}
