//! The cost of a request, measured on the parsed document before anything runs
//! (after [`shape`](crate::shape) has bounded its expansion), and the limits it
//! is held to:
//!
//! - **cost**: every field counts once for each time it is evaluated, so a list
//!   weighs its page size (`first`, or the default page size; `_entities` its
//!   representations) and the weights multiply through nesting:
//!   `residents(first: 100) { edges { node { household { members(first: 20)
//!   { edges { node { name } } } } } } }` costs about 100 × 20 × 3. One unit is
//!   one value in the answer, so the cost also bounds the answer's size;
//! - **root fields**: each becomes one Cypher query;
//! - **aliases**, and **distinct response keys on one object**: each becomes a
//!   projection in the query;
//! - **`where` terms and depth**: each term becomes a predicate, each nested
//!   relationship condition a subquery. The terms of every `where` in one root
//!   field (one Cypher query) are summed, a relationship condition weighing
//!   [`SUBQUERY_TERMS`] more: the time Neo4j takes to *plan* a query grows with
//!   its subqueries (each carries the related type's row scope, 0.5-1.2 s each
//!   under the education bureau's), not with its comparisons, so
//!   `limits.max_filter_terms` bounds the planning too, before Neo4j sees it.
//!
//! Every occurrence of a field counts, also occurrences sharing a response key:
//! async-graphql's executor evaluates each occurrence (it merges the answers,
//! not the work), so `{ residents {…} residents {…} … }` runs one query per
//! copy, and the measure is what would run (root fields, fields per object and
//! cost all count copies). Fields the schema does not know (invalid
//! documents) and introspection fields (`__schema`, `__type` and all below them)
//! count one unit each; validation refuses the former. Introspection answers
//! from the schema, not the graph, so its lists are not weighed by page size
//! (GraphiQL's schema fetch would cost millions); what bounds it instead is the
//! rule graphql-js applies (`MaxIntrospectionDepthRule`): at most
//! [`MAX_INTROSPECTION_LISTS`] of the type lists `fields`, `inputFields`,
//! `interfaces` and `possibleTypes` nested on one path, so a query cannot cycle
//! `fields { type { fields { type … } } }` into an exponential answer.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationDefinition,
    Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Name, Positioned, Value as ConstValue, Variables};

use crate::limits::{Limits, ShapeLimits};

/// The limit a document exceeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OverLimit {
    /// The code it is refused with.
    pub(crate) code: crate::errors::Code,
    /// The limit's configuration key (`limits.<key>`).
    pub(crate) limit: &'static str,
    /// Its value.
    pub(crate) max: u64,
    /// What the document measured.
    pub(crate) actual: u64,
}

impl OverLimit {
    /// The refusal as sent: `QUERY_TOO_COMPLEX` (`QUERY_TOO_DEEP` for
    /// `max_depth`) with the limit's key, its value and what was measured.
    pub(crate) fn into_server_error(self) -> async_graphql::ServerError {
        let mut e = async_graphql::ServerError::new(self.message(), None);
        let ext = e.extensions.get_or_insert_with(Default::default);
        ext.set("limit", self.limit);
        ext.set("max", self.max);
        ext.set("actual", self.actual);
        crate::errors::with_code(e, self.code)
    }

    /// A client-facing message.
    pub(crate) fn message(&self) -> String {
        if self.limit == INTROSPECTION_LISTS {
            return format!(
                "Query is too complex: introspection nests `fields`, `inputFields`, `interfaces` or `possibleTypes` {} deep, more than {}.",
                self.actual, self.max
            );
        }
        if self.limit == INTROSPECTION_REPEATS {
            return "Query is too complex: introspection selects one field twice in one object."
                .to_string();
        }
        let what = match self.limit {
            "max_complexity" => "the query costs",
            "max_root_fields" => "the query has root fields:",
            "max_aliases" => "the query has aliases:",
            "max_fields_per_object" => "one object selects fields:",
            "max_filter_terms" => {
                "the `where` filters of one root field weigh (a comparison 1, a relationship condition 13 more)"
            }
            "max_filter_depth" => "a `where` filter nests",
            "max_in_values" => "the `in` lists of one root field's `where` filters hold values:",
            "max_depth" => "the query nests",
            _ => "the query measures",
        };
        let kind = if self.code == crate::errors::Code::QueryTooDeep {
            "nested too deep"
        } else {
            "too complex"
        };
        format!(
            "Query is {kind}: {what} {}, more than the limit of {} (limits.{}).",
            self.actual, self.max, self.limit
        )
    }
}

/// What a relationship condition in a `where` weighs, in terms, besides the
/// terms inside it: with `limits.max_filter_terms` at 50, one root field holds
/// at most three of them (a chain down to a grid is three). Under the education
/// bureau's scopes one condition plans in 0.5-1.2 s, so three stay within a few
/// seconds, where fifty (the old limit) planned for a minute.
pub(crate) const SUBQUERY_TERMS: u64 = 13;

/// Remote lists (departmental subgraphs' fields), by (type, field): each weighs
/// its `maxItems`, the most the hub takes of it.
pub(crate) type RemoteLists = HashMap<(String, String), u64>;

/// The remote lists of `catalog`.
pub(crate) fn remote_lists(catalog: &mandate_schema::Catalog) -> RemoteLists {
    catalog
        .types
        .iter()
        .flat_map(|t| {
            t.remotes
                .iter()
                .filter(|r| r.list)
                .map(|r| ((t.name.clone(), r.name.clone()), u64::from(r.max_items)))
        })
        .collect()
}

/// Measures the operation `operation_name` of `doc` (with `variables`) against
/// the schema in `registry` and checks it against the limits; returns its cost.
/// A document whose operation cannot be chosen measures 0 (execution reports it).
pub(crate) fn measure(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    registry: &Registry,
    shape: &ShapeLimits,
    pages: &Limits,
    remote_lists: &RemoteLists,
) -> Result<u64, OverLimit> {
    let op = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return Ok(0),
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return Ok(0),
        },
        _ => return Ok(0),
    };
    let mut m = Measure {
        fragments: &doc.fragments,
        variables,
        op: &op.node,
        registry,
        shape,
        pages,
        remote_lists,
        aliases: 0,
        filter_terms: 0,
        filter_values: 0,
    };
    let root = [&op.node.selection_set.node];
    let groups = m.groups(&root, &registry.query_type);
    let root_fields = groups
        .iter()
        .filter(|g| g.fields[0].name.node.as_str() != "__typename")
        .count() as u64;
    over("max_root_fields", shape.max_root_fields, root_fields)?;
    let lists = m.introspection_lists(&op.node.selection_set.node, false, 0, 0);
    over(INTROSPECTION_LISTS, MAX_INTROSPECTION_LISTS, lists)?;
    let cost = m.cost(groups, &registry.query_type, 1, None, 1)?;
    over("max_aliases", shape.max_aliases, m.aliases)?;
    over("max_complexity", shape.max_complexity, cost)?;
    Ok(cost)
}

/// The most type lists (`fields`, `inputFields`, `interfaces`, `possibleTypes`)
/// one introspection path may nest, as graphql-js's `MaxIntrospectionDepthRule`.
pub(crate) const MAX_INTROSPECTION_LISTS: usize = 3;

/// The [`OverLimit::limit`] of an introspection nesting its type lists too deep.
const INTROSPECTION_LISTS: &str = "introspection_lists";
/// The parent the fields below `__schema` / `__type` are measured on.
const INTROSPECTION: &str = "__introspection";

/// The [`OverLimit::limit`] of an introspection selecting one field twice in
/// one object.
const INTROSPECTION_REPEATS: &str = "introspection_repeats";

pub(crate) fn over(limit: &'static str, max: usize, actual: u64) -> Result<(), OverLimit> {
    let max = max as u64;
    if actual > max {
        let code = if limit == "max_depth" {
            crate::errors::Code::QueryTooDeep
        } else {
            crate::errors::Code::QueryTooComplex
        };
        Err(OverLimit {
            code,
            limit,
            max,
            actual,
        })
    } else {
        Ok(())
    }
}

struct Measure<'a> {
    remote_lists: &'a RemoteLists,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    op: &'a OperationDefinition,
    registry: &'a Registry,
    shape: &'a ShapeLimits,
    pages: &'a Limits,
    aliases: u64,
    /// The weighted `where` terms of the root field being measured.
    filter_terms: u64,
    /// The values of the `in` lists in the `where` filters of the root field
    /// being measured.
    filter_values: u64,
}

/// One field occurrence (`fields`: it alone) and where it is looked up.
struct Group<'a> {
    /// The type the fields are looked up on (a fragment's condition on a union).
    on: String,
    fields: Vec<&'a Field>,
}

impl<'a> Measure<'a> {
    /// Every field occurrence of `sets` (through fragments), each its own group:
    /// the executor evaluates each occurrence, even of one response key.
    fn groups(&self, sets: &[&'a SelectionSet], parent: &str) -> Vec<Group<'a>> {
        let mut groups: Vec<Group<'a>> = Vec::new();
        let mut pending: Vec<(&'a SelectionSet, String)> =
            sets.iter().map(|s| (*s, parent.to_string())).collect();
        while let Some((set, on)) = pending.pop() {
            for item in &set.items {
                match &item.node {
                    Selection::Field(f) => groups.push(Group {
                        on: on.clone(),
                        fields: vec![&f.node],
                    }),
                    Selection::InlineFragment(i) => {
                        let cond = i
                            .node
                            .type_condition
                            .as_ref()
                            .map_or_else(|| on.clone(), |t| t.node.on.node.to_string());
                        pending.push((&i.node.selection_set.node, cond));
                    }
                    Selection::FragmentSpread(s) => {
                        if let Some(def) = self.fragments.get(s.node.fragment_name.node.as_str()) {
                            let cond = def.node.type_condition.node.on.node.to_string();
                            pending.push((&def.node.selection_set.node, cond));
                        }
                    }
                }
            }
        }
        groups
    }

    /// The cost of `groups` on `parent`, each evaluated `times` times; `page` is
    /// the page size of the connection the groups belong to, if any; `depth` is
    /// the groups' selection depth (root fields: 1), checked first.
    fn cost(
        &mut self,
        groups: Vec<Group<'a>>,
        parent: &str,
        times: u64,
        page: Option<u64>,
        depth: u64,
    ) -> Result<u64, OverLimit> {
        if !groups.is_empty() {
            over("max_depth", self.shape.max_depth, depth)?;
        }
        over(
            "max_fields_per_object",
            self.shape.max_fields_per_object,
            groups.len() as u64,
        )?;
        if parent == INTROSPECTION {
            // Inside introspection (answered from the schema, its lists not
            // weighed): a field at most once per object, so copies cannot
            // multiply the schema's size (`types { fields {…} }` sixty-four
            // times over, nested) while each counts one unit.
            let mut seen = std::collections::HashSet::new();
            for g in &groups {
                let name = g.fields[0].name.node.as_str();
                if name != "__typename" && !seen.insert(name) {
                    return Err(OverLimit {
                        code: crate::errors::Code::QueryTooComplex,
                        limit: INTROSPECTION_REPEATS,
                        max: 1,
                        actual: 2,
                    });
                }
            }
        }
        let mut total = 0u64;
        for group in groups {
            if depth == 1 {
                // Each root field is one Cypher query, planned on its own.
                self.filter_terms = 0;
                self.filter_values = 0;
            }
            let first = group.fields[0];
            let on = if group.on == parent || self.object(&group.on).is_none() {
                parent
            } else {
                group.on.as_str()
            };
            // Introspection (`__schema`, `__type`, the `__Type` … of their
            // fragments): unknown here, counted once each.
            let meta = self
                .object(on)
                .filter(|_| !first.name.node.starts_with("__") && !on.starts_with("__"))
                .and_then(|t| t.field_by_name(first.name.node.as_str()));
            let where_type = meta.and_then(|m| m.args.get("where")).map(|a| named(&a.ty));
            for f in &group.fields {
                if f.alias.as_ref().is_some_and(|a| a.node != f.name.node) {
                    self.aliases += 1;
                }
                for (name, value) in &f.arguments {
                    if name.node.as_str() == "where" {
                        let value = value
                            .node
                            .clone()
                            .into_const_with(|var| Ok::<_, ()>(self.variable(&var)))
                            .unwrap_or(ConstValue::Null);
                        self.filter(&value, where_type)?;
                    }
                }
            }
            total = total.saturating_add(times);
            let subs: Vec<&'a SelectionSet> = group
                .fields
                .iter()
                .map(|f| &f.selection_set.node)
                .filter(|s| !s.items.is_empty())
                .collect();
            if subs.is_empty() {
                continue;
            }
            let (inner, list, own_page) = match meta {
                Some(meta) => {
                    let own_page = if meta.args.contains_key("first") {
                        Some(self.page(first))
                    } else if meta.args.contains_key("representations") {
                        Some(self.representations(first))
                    } else {
                        self.remote_lists
                            .get(&(on.to_string(), first.name.node.to_string()))
                            .copied()
                    };
                    (named(&meta.ty).to_string(), meta.ty.contains('['), own_page)
                }
                // Unknown here (introspection, or invalid): children count once.
                None if first.name.node.starts_with("__")
                    || on.starts_with("__")
                    || parent == INTROSPECTION =>
                {
                    (INTROSPECTION.to_string(), false, None)
                }
                None => (String::new(), false, None),
            };
            let (times, page) = if list {
                let n = own_page
                    .or(page)
                    .unwrap_or(self.pages.max_page_size as u64)
                    .max(1);
                (times.saturating_mul(n), None)
            } else {
                (times, own_page)
            };
            let groups = self.groups(&subs, &inner);
            total = total.saturating_add(self.cost(groups, &inner, times, page, depth + 1)?);
            over("max_complexity", self.shape.max_complexity, total)?;
        }
        Ok(total)
    }

    /// The most introspection type lists nested on one path below `set`
    /// (`inside`: `set` is within `__schema` or `__type`; `lists`: how many are
    /// nested above it). Follows fragments; stops at `max_depth` (fragment cycles
    /// are refused by validation, and bounded here).
    fn introspection_lists(
        &self,
        set: &'a SelectionSet,
        inside: bool,
        lists: u64,
        depth: usize,
    ) -> u64 {
        if depth > self.shape.max_depth {
            return lists;
        }
        let mut most = lists;
        for item in &set.items {
            let below = match &item.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    let inside = inside || name == "__schema" || name == "__type";
                    let is_list = inside
                        && matches!(
                            name,
                            "fields" | "inputFields" | "interfaces" | "possibleTypes"
                        );
                    self.introspection_lists(
                        &f.node.selection_set.node,
                        inside,
                        lists + u64::from(is_list),
                        depth + 1,
                    )
                }
                Selection::InlineFragment(i) => {
                    self.introspection_lists(&i.node.selection_set.node, inside, lists, depth + 1)
                }
                Selection::FragmentSpread(s) => self
                    .fragments
                    .get(s.node.fragment_name.node.as_str())
                    .map_or(lists, |def| {
                        self.introspection_lists(
                            &def.node.selection_set.node,
                            inside,
                            lists,
                            depth + 1,
                        )
                    }),
            };
            most = most.max(below);
        }
        most
    }

    fn object(&self, name: &str) -> Option<&'a MetaType> {
        self.registry.types.get(name)
    }

    /// The page size a connection field asks for: its `first`, else the default,
    /// at most the largest page (a larger `first` is refused when it runs).
    fn page(&self, field: &Field) -> u64 {
        let asked = match self.argument(field, "first") {
            Some(ConstValue::Number(n)) => n.as_u64(),
            _ => None,
        };
        asked
            .unwrap_or(self.pages.default_page_size as u64)
            .min(self.pages.max_page_size as u64)
    }

    /// How many representations `_entities` is asked for (at most the largest
    /// `in` list, which it is refused beyond).
    fn representations(&self, field: &Field) -> u64 {
        match self.argument(field, "representations") {
            Some(ConstValue::List(items)) => items.len() as u64,
            _ => 1,
        }
        .min(self.pages.max_in_values as u64)
    }

    fn argument(&self, field: &Field, name: &str) -> Option<ConstValue> {
        let value = field.get_argument(name)?;
        value
            .node
            .clone()
            .into_const_with(|var| Ok::<_, ()>(self.variable(&var)))
            .ok()
    }

    fn variable(&self, name: &Name) -> ConstValue {
        if let Some(v) = self.variables.get(name) {
            return v.clone();
        }
        self.op
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map_or(ConstValue::Null, |d| d.node.clone())
    }

    /// Checks one `where` argument's depth, and adds its weighted terms to
    /// the root field's (`ty`: its input type, when the schema knows it).
    fn filter(&mut self, value: &ConstValue, ty: Option<&str>) -> Result<(), OverLimit> {
        let (terms, depth) = filter_size(value);
        over("max_filter_depth", self.shape.max_filter_depth, depth)?;
        let subqueries = ty.map_or(0, |ty| self.subqueries(value, ty));
        self.filter_terms = self
            .filter_terms
            .saturating_add(terms)
            .saturating_add(subqueries.saturating_mul(SUBQUERY_TERMS));
        over(
            "max_filter_terms",
            self.shape.max_filter_terms,
            self.filter_terms,
        )?;
        // Each `in` value is compared on every row the filter reads: the
        // values of all the lists of one root field (one Cypher query) are
        // bounded together, not list by list (17 lists of 1,000 values, ~140
        // KB, kept Neo4j busy to its timeout).
        self.filter_values = self.filter_values.saturating_add(list_values(value));
        over(
            "max_in_values",
            self.pages.max_in_values,
            self.filter_values,
        )
    }

    /// How many relationship conditions (values of a `…RelationFilter`: an
    /// input with `exists` and `where`) `value`, of input type `ty`, holds.
    fn subqueries(&self, value: &ConstValue, ty: &str) -> u64 {
        match value {
            ConstValue::List(items) => items
                .iter()
                .fold(0u64, |n, i| n.saturating_add(self.subqueries(i, ty))),
            ConstValue::Object(entries) => {
                let Some(MetaType::InputObject { input_fields, .. }) = self.object(ty) else {
                    return 0;
                };
                let relation =
                    input_fields.contains_key("exists") && input_fields.contains_key("where");
                entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let field = input_fields.get(k.as_str())?;
                        Some(self.subqueries(v, named(&field.ty)))
                    })
                    .fold(u64::from(relation), u64::saturating_add)
            }
            _ => 0,
        }
    }
}

/// The scalars in lists of scalars (`in` lists) anywhere in a `where` value.
fn list_values(value: &ConstValue) -> u64 {
    match value {
        ConstValue::Object(entries) => entries
            .values()
            .fold(0u64, |n, v| n.saturating_add(list_values(v))),
        ConstValue::List(items) => items.iter().fold(0u64, |n, i| {
            n.saturating_add(match i {
                ConstValue::Object(_) | ConstValue::List(_) => list_values(i),
                _ => 1,
            })
        }),
        _ => 0,
    }
}

/// (terms, depth) of a `where` value: a term is an entry whose value is a scalar
/// or a list of scalars (a comparison); depth counts nested objects.
fn filter_size(value: &ConstValue) -> (u64, u64) {
    match value {
        ConstValue::Object(entries) => {
            let mut terms = 0u64;
            let mut depth = 0u64;
            for v in entries.values() {
                let composite = match v {
                    ConstValue::Object(_) => true,
                    ConstValue::List(items) => items
                        .iter()
                        .any(|i| matches!(i, ConstValue::Object(_) | ConstValue::List(_))),
                    _ => false,
                };
                if composite {
                    let (t, d) = filter_size(v);
                    terms = terms.saturating_add(t);
                    depth = depth.max(d);
                } else {
                    terms = terms.saturating_add(1);
                }
            }
            (terms, depth.saturating_add(1))
        }
        ConstValue::List(items) => items.iter().fold((0, 0), |(t, d), i| {
            let (ti, di) = filter_size(i);
            (t.saturating_add(ti), d.max(di))
        }),
        _ => (1, 0),
    }
}

/// The named type of a type reference (`[ResidentEdge!]!` → `ResidentEdge`).
fn named(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_terms_and_depth() {
        let v = |s: &str| crate::parse_document(&format!("{{ f(w: {s}) }}"));
        let size = |s: &str| {
            let doc = v(s).unwrap();
            let DocumentOperations::Single(op) = &doc.operations else {
                panic!()
            };
            let Selection::Field(f) = &op.node.selection_set.node.items[0].node else {
                panic!()
            };
            let value = f.node.get_argument("w").unwrap().node.clone();
            filter_size(&value.into_const().unwrap())
        };
        assert_eq!(size(r#"{ name: { eq: "a" } }"#), (1, 2));
        assert_eq!(
            size(r#"{ name: { in: ["a", "b", "c"] }, sex: { eq: MALE } }"#),
            (2, 2)
        );
        assert_eq!(
            size(
                r#"{ OR: [{ name: { eq: "a" } }, { household: { where: { id: { eq: "h" } } } }] }"#
            ),
            (2, 5)
        );
    }

    #[test]
    fn named_types() {
        assert_eq!(named("[ResidentEdge!]!"), "ResidentEdge");
        assert_eq!(named("Resident"), "Resident");
    }
}
