//! From the GraphQL document to the IR.
//!
//! The walker reads the root field's AST itself: it expands named and inline
//! fragments, applies `@skip`/`@include`, substitutes variables, and merges items
//! with the same response key. Every field, filter and sort key is checked against
//! the access plan here, independently of the schema's own validation: a name the
//! plan does not grant is rejected even if it somehow passed validation.

use std::collections::HashMap;

use async_graphql::parser::types::{
    Directive, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    VariableDefinition,
};
use async_graphql::{Name, Positioned, Value as ConstValue, Variables};
use mandate_schema::{Catalog, NodeType, Relation, ScalarKind};
use serde_json::Value;

use crate::access::AccessPlan;
use crate::api::Engine;
use crate::cursor::{scope_of, CursorKey};
use crate::errors::{Code, HubError};
use crate::ir::{
    CompareOp, Connection, EdgeProp, EntityFetch, EntityGroup, Filter, NodeItem, NodeSelection,
    RootField, RootKind, SortKey,
};
use crate::limits::{Limits, MAX_FRAGMENT_DEPTH};
use crate::store::CypherQuery;

/// The parts of an operation the walker needs besides the field itself.
#[derive(Clone, Copy)]
pub struct Document<'a> {
    /// Named fragments of the document.
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Variable values sent with the request.
    variables: &'a Variables,
    /// The operation's variable definitions (for defaults).
    definitions: &'a [Positioned<VariableDefinition>],
}

impl<'a> Document<'a> {
    /// The operation `operation` of a document with `fragments`, run with
    /// `variables`.
    pub fn new(
        fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
        operation: &'a OperationDefinition,
        variables: &'a Variables,
    ) -> Self {
        Document {
            fragments,
            variables,
            definitions: &operation.variable_definitions,
        }
    }
}

/// Reads root fields of one operation into the IR, checking them against one
/// access plan.
#[derive(Clone, Copy)]
pub struct Walker<'a> {
    /// The data model.
    catalog: &'a Catalog,
    /// The asking agency's plan.
    plan: &'a AccessPlan,
    /// Limits.
    limits: &'a Limits,
    /// Cursor key, to open `after` cursors.
    cursors: &'a CursorKey,
    /// The operation.
    doc: Document<'a>,
    /// The federation view: a field outside the plan is left out (its resolver
    /// answers `null` with `FIELD_NOT_GRANTED`) instead of refusing the root
    /// field, and filtering or sorting on it is refused with that code.
    federated: bool,
}

fn denied(what: &str) -> HubError {
    // Same words whether the name does not exist or is outside the mandate.
    HubError::new(
        Code::GraphqlValidationFailed,
        format!("unknown field `{what}`"),
    )
}

impl<'a> Walker<'a> {
    /// A walker of `doc` for an agency with `plan`, under `engine`'s catalog,
    /// limits and cursor key.
    pub fn new(engine: &'a Engine, plan: &'a AccessPlan, doc: Document<'a>) -> Self {
        Walker {
            catalog: &engine.catalog,
            plan,
            limits: &engine.limits,
            cursors: &engine.cursors,
            doc,
            federated: false,
        }
    }

    /// The same walker for the federation view (see `federation`): what the
    /// plan withholds is left out of the query rather than refused, except in
    /// `where` and `orderBy`, where using a field is reading it.
    pub fn federated(mut self, federated: bool) -> Self {
        self.federated = federated;
        self
    }

    /// The refusal of a name outside the plan: in an agency's own schema the
    /// same words as a name that does not exist; in the federation view, where
    /// every caller sees the name, `FIELD_NOT_GRANTED`.
    fn refuse(&self, what: &str) -> HubError {
        if self.federated {
            crate::federation::not_granted(what)
        } else {
            denied(what)
        }
    }

    /// [`Walker::refuse`] of field `name` of `t`, named `Type.field` in the
    /// federation view.
    fn refuse_named(&self, t: &NodeType, name: &str) -> HubError {
        if self.federated {
            crate::federation::not_granted(&format!("{}.{name}", t.name))
        } else {
            denied(name)
        }
    }

    /// The one Cypher query a root field of the operation (a lookup, a list or
    /// `_entities`) runs: what its resolver would send to the store.
    ///
    /// # Errors
    /// As the resolver would answer: a field outside the plan, bad arguments,
    /// an invalid cursor.
    pub fn compile(&self, field: &'a Field) -> Result<CypherQuery, HubError> {
        if field.name.node == "_entities" {
            crate::cypher::compile_entities(self.catalog, self.plan, &self.entities(field)?)
        } else {
            crate::cypher::compile(self.catalog, self.plan, &self.root(field)?)
        }
    }

    /// The IR of a root field.
    pub(crate) fn root(&self, field: &'a Field) -> Result<RootField<'a>, HubError> {
        let name = field.name.node.as_str();
        let (t, is_lookup) = self
            .catalog
            .types
            .iter()
            .find_map(|t| {
                if t.lookup_field() == name {
                    Some((t, true))
                } else if t.plural == name {
                    Some((t, false))
                } else {
                    None
                }
            })
            .ok_or_else(|| denied(name))?;
        let access = self
            .plan
            .type_access(&t.name)
            .ok_or_else(|| self.refuse(name))?;
        // A lookup reads nodes by id: only where the id is read in full (an
        // agency's own schema has no lookup otherwise).
        if !access.root || (is_lookup && !self.plan.is_entity(t)) {
            return Err(self.refuse(name));
        }
        let args = self.arguments(field)?;
        let kind = if is_lookup {
            let id = match args.get("id") {
                Some(ConstValue::String(s)) => s.clone(),
                _ => return Err(HubError::input("`id` is required")),
            };
            RootKind::Lookup {
                id,
                selection: self.node_selection(t, &field.selection_set.node)?,
            }
        } else {
            RootKind::List(self.connection(t, &t.name, &args, &field.selection_set.node, None)?)
        };
        Ok(RootField { node: t, kind })
    }

    /// The IR of `_entities(representations:)`: every representation names an
    /// entity type of the plan (one with root fields and its id readable in
    /// full: the types a lookup reaches) and an id; each type's nodes are read
    /// with the selection's fragments on that type.
    pub(crate) fn entities(&self, field: &'a Field) -> Result<EntityFetch<'a>, HubError> {
        let args = self.arguments(field)?;
        let reps = match args.get("representations") {
            Some(ConstValue::List(items)) => items,
            _ => return Err(HubError::input("`representations` is a list")),
        };
        if reps.len() > self.limits.max_in_values {
            return Err(HubError::input(format!(
                "`representations` takes at most {} items",
                self.limits.max_in_values
            )));
        }
        let mut fetch = EntityFetch {
            groups: Vec::new(),
            order: Vec::with_capacity(reps.len()),
            ungranted: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for (i, rep) in reps.iter().enumerate() {
            let ConstValue::Object(obj) = rep else {
                return Err(HubError::input(format!(
                    "representation {i} is not an object"
                )));
            };
            let Some(ConstValue::String(type_name)) = obj.get("__typename") else {
                return Err(HubError::input(format!(
                    "representation {i} has no `__typename`"
                )));
            };
            // Same words whether the type does not exist or is outside the
            // mandate; in the federation view a type of the catalog outside the
            // mandate answers null at its position instead.
            let unknown = || {
                HubError::input(format!(
                    "representation {i}: `{type_name}` is not an entity type of your schema"
                ))
            };
            let t = self.catalog.node(type_name).ok_or_else(unknown)?;
            let granted = self.plan.is_entity(t);
            if !granted && !self.federated {
                return Err(unknown());
            }
            let id = match obj.get(t.id_field().name.as_str()) {
                Some(ConstValue::String(s)) => s.clone(),
                Some(ConstValue::Number(n)) => n.to_string(),
                _ => {
                    return Err(HubError::input(format!(
                        "representation {i} has no `{}`",
                        t.id_field().name
                    )))
                }
            };
            if !granted {
                fetch.ungranted.push(fetch.order.len());
                fetch.order.push((t, id));
                continue;
            }
            let group = match fetch.groups.iter().position(|g| g.node.name == t.name) {
                Some(g) => &mut fetch.groups[g],
                None => {
                    let selection = self.node_selection(t, &field.selection_set.node)?;
                    fetch.groups.push(EntityGroup {
                        node: t,
                        ids: Vec::new(),
                        selection,
                    });
                    fetch
                        .groups
                        .last_mut()
                        .ok_or_else(|| HubError::internal("no group"))?
                }
            };
            if seen.insert((t.name.as_str(), id.clone())) {
                group.ids.push(id.clone());
            }
            fetch.order.push((t, id));
        }
        Ok(fetch)
    }

    fn arguments(&self, field: &Field) -> Result<HashMap<String, ConstValue>, HubError> {
        field
            .arguments
            .iter()
            .map(|(name, value)| {
                let v = value
                    .node
                    .clone()
                    .into_const_with(|var| self.variable(&var))?;
                Ok((name.node.to_string(), v))
            })
            .collect()
    }

    fn variable(&self, name: &Name) -> Result<ConstValue, HubError> {
        if let Some(v) = self.doc.variables.get(name) {
            return Ok(v.clone());
        }
        let default = self
            .doc
            .definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map(|d| d.node.clone());
        Ok(default.unwrap_or(ConstValue::Null))
    }

    fn included(&self, directives: &[Positioned<Directive>]) -> Result<bool, HubError> {
        for d in directives {
            let name = d.node.name.node.as_str();
            if name != "skip" && name != "include" {
                continue;
            }
            let cond = match d.node.get_argument("if") {
                Some(v) => v.node.clone().into_const_with(|var| self.variable(&var))?,
                None => ConstValue::Boolean(name == "include"),
            };
            let cond = matches!(cond, ConstValue::Boolean(true));
            if (name == "skip" && cond) || (name == "include" && !cond) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The fields of a selection set with fragments expanded and skips applied.
    /// On a node (`on` names its type) a fragment applies when its type condition
    /// is that type — exactly what async-graphql 7.2 executes (it does not apply
    /// a fragment on the `_Entity` union to the union's members), so the plan
    /// reads what is answered and no more. On connections and edges validation
    /// allows no other condition than the type itself.
    fn fields(&self, set: &'a SelectionSet, on: Option<&str>) -> Result<Vec<&'a Field>, HubError> {
        let mut out = Vec::new();
        self.collect(set, on, &mut out, 0)?;
        Ok(out)
    }

    fn collect(
        &self,
        set: &'a SelectionSet,
        on: Option<&str>,
        out: &mut Vec<&'a Field>,
        depth: usize,
    ) -> Result<(), HubError> {
        if depth > MAX_FRAGMENT_DEPTH {
            return Err(HubError::new(Code::QueryTooDeep, "fragments nest too deep"));
        }
        let applies = |condition: Option<&Name>| match (on, condition) {
            (Some(ty), Some(c)) => c.as_str() == ty,
            _ => true,
        };
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    if self.included(&f.node.directives)? {
                        out.push(&f.node);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.node.directives)? {
                        continue;
                    }
                    let frag = self
                        .doc
                        .fragments
                        .get(&spread.node.fragment_name.node)
                        .ok_or_else(|| {
                            HubError::new(Code::GraphqlValidationFailed, "unknown fragment")
                        })?;
                    if applies(Some(&frag.node.type_condition.node.on.node)) {
                        self.collect(&frag.node.selection_set.node, on, out, depth + 1)?;
                    }
                }
                Selection::InlineFragment(inline) => {
                    let condition = inline.node.type_condition.as_ref().map(|c| &c.node.on.node);
                    if self.included(&inline.node.directives)? && applies(condition) {
                        self.collect(&inline.node.selection_set.node, on, out, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn node_selection(
        &self,
        t: &'a NodeType,
        set: &'a SelectionSet,
    ) -> Result<NodeSelection<'a>, HubError> {
        let mut sel = NodeSelection::default();
        self.add_node_items(t, set, &mut sel)?;
        Ok(sel)
    }

    fn add_node_items(
        &self,
        t: &'a NodeType,
        set: &'a SelectionSet,
        sel: &mut NodeSelection<'a>,
    ) -> Result<(), HubError> {
        for f in self.fields(set, Some(&t.name))? {
            let name = f.name.node.as_str();
            if name == "__typename" {
                continue;
            }
            let key = response_key(f);
            let item = if let Some(field) = t.field(name) {
                let Some(access) = self.plan.field(&t.name, name) else {
                    if self.federated {
                        // Not read; its resolver answers FIELD_NOT_GRANTED.
                        continue;
                    }
                    return Err(denied(name));
                };
                NodeItem::Scalar { key, field, access }
            } else if let Some(field) = t.remote(name) {
                let Some(access) = self.plan.field(&t.name, name) else {
                    if self.federated {
                        continue;
                    }
                    return Err(denied(name));
                };
                let mut value_fields = Vec::new();
                if let mandate_schema::RemoteValue::Object(v) = &field.value {
                    let value = self.catalog.value_type(v).ok_or_else(|| {
                        HubError::internal("remote value type missing from catalog")
                    })?;
                    for sub in self.fields(&f.selection_set.node, Some(v))? {
                        let sub = sub.name.node.as_str();
                        if sub == "__typename" || value_fields.contains(&sub) {
                            continue;
                        }
                        if value.field(sub).is_none() {
                            return Err(denied(sub));
                        }
                        value_fields.push(sub);
                    }
                }
                NodeItem::Remote {
                    key,
                    ty: &t.name,
                    field,
                    access,
                    value_fields,
                }
            } else if let Some(rel) = t.relation(name) {
                if !self.plan.relation_visible(self.catalog, &t.name, name) {
                    if self.federated {
                        continue;
                    }
                    return Err(denied(name));
                }
                let target = self.target(rel)?;
                if rel.many {
                    let args = self.arguments(f)?;
                    let path = format!("{}.{}", t.name, rel.name);
                    NodeItem::Many {
                        key,
                        relation: rel,
                        target,
                        connection: self.connection(
                            target,
                            &path,
                            &args,
                            &f.selection_set.node,
                            Some(rel),
                        )?,
                    }
                } else {
                    NodeItem::One {
                        key,
                        relation: rel,
                        target,
                        selection: self.node_selection(target, &f.selection_set.node)?,
                    }
                }
            } else {
                return Err(denied(name));
            };
            merge_item(&mut sel.items, item)?;
        }
        Ok(())
    }

    fn target(&self, rel: &Relation) -> Result<&'a NodeType, HubError> {
        self.catalog
            .node(&rel.target)
            .ok_or_else(|| HubError::internal("relation target missing from catalog"))
    }

    fn connection(
        &self,
        t: &'a NodeType,
        path: &str,
        args: &HashMap<String, ConstValue>,
        set: &'a SelectionSet,
        rel: Option<&'a Relation>,
    ) -> Result<Connection<'a>, HubError> {
        let filter = match args.get("where") {
            None | Some(ConstValue::Null) => None,
            Some(v) => Some(self.filter(t, v)?),
        };
        let order = self.order(t, args.get("orderBy"))?;
        let first = match args.get("first") {
            None | Some(ConstValue::Null) => self.limits.default_page_size,
            Some(ConstValue::Number(n)) => match n.as_i64() {
                Some(n) if n < 0 => return Err(HubError::input("`first` must not be negative")),
                Some(n) if n as u64 > self.limits.max_page_size as u64 => {
                    return Err(HubError::new(
                        Code::PageSizeExceeded,
                        format!("`first` may be at most {}", self.limits.max_page_size),
                    ))
                }
                Some(n) => n as usize,
                None => return Err(HubError::input("`first` must be an integer")),
            },
            Some(_) => return Err(HubError::input("`first` must be an integer")),
        };
        let canonical_filter = serde_json::to_string(&filter).map_err(HubError::internal)?;
        let canonical_order = order
            .iter()
            .map(|k| format!("{}:{}", k.field.name, if k.descending { "d" } else { "a" }))
            .collect::<Vec<_>>()
            .join(",");
        let scope = scope_of(&[
            &self.plan.fingerprint,
            path,
            &canonical_filter,
            &canonical_order,
        ]);
        let after = match args.get("after") {
            None | Some(ConstValue::Null) => None,
            Some(ConstValue::String(c)) => Some(self.cursors.open(&scope, c)?),
            Some(_) => {
                return Err(HubError::new(
                    Code::InvalidCursor,
                    "invalid cursor for this query",
                ))
            }
        };
        let mut conn = Connection {
            filter,
            order,
            first,
            after,
            scope,
            rows: false,
            total: false,
            node: NodeSelection::default(),
            edge_props: Vec::new(),
        };
        for f in self.fields(set, None)? {
            match f.name.node.as_str() {
                "__typename" => {}
                "totalCount" => conn.total = true,
                "pageInfo" => conn.rows = true,
                "edges" => {
                    conn.rows = true;
                    for ef in self.fields(&f.selection_set.node, None)? {
                        let name = ef.name.node.as_str();
                        match name {
                            "__typename" | "cursor" => {}
                            "node" => {
                                self.add_node_items(t, &ef.selection_set.node, &mut conn.node)?
                            }
                            prop => {
                                let granted = rel.and_then(|r| {
                                    let field = r.properties.iter().find(|p| p.name == prop)?;
                                    let access = self
                                        .plan
                                        .type_access(path_owner(path))?
                                        .relations
                                        .get(&r.name)?
                                        .get(prop)?;
                                    Some((field, *access))
                                });
                                let (field, access) = match granted {
                                    Some(g) => g,
                                    // Not read; its resolver answers FIELD_NOT_GRANTED.
                                    None if self.federated
                                        && rel.is_some_and(|r| {
                                            r.properties.iter().any(|p| p.name == prop)
                                        }) =>
                                    {
                                        continue
                                    }
                                    None => return Err(denied(prop)),
                                };
                                let key = response_key(ef);
                                if !conn.edge_props.iter().any(|p| p.key == key) {
                                    conn.edge_props.push(EdgeProp { key, field, access });
                                }
                            }
                        }
                    }
                }
                other => return Err(denied(other)),
            }
        }
        Ok(conn)
    }

    fn order(
        &self,
        t: &'a NodeType,
        value: Option<&ConstValue>,
    ) -> Result<Vec<SortKey<'a>>, HubError> {
        let items = match value {
            None | Some(ConstValue::Null) => return Ok(Vec::new()),
            Some(ConstValue::List(items)) => items.clone(),
            Some(single @ ConstValue::Object(_)) => vec![single.clone()],
            Some(_) => return Err(HubError::input("`orderBy` must be a list")),
        };
        if items.len() > self.limits.max_sort_keys {
            return Err(HubError::input(format!(
                "`orderBy` takes at most {} keys",
                self.limits.max_sort_keys
            )));
        }
        let mut keys: Vec<SortKey> = Vec::new();
        for item in items {
            let ConstValue::Object(obj) = item else {
                return Err(HubError::input("each `orderBy` item is an object"));
            };
            let field_enum = match obj.get("field") {
                Some(ConstValue::Enum(e)) => e.to_string(),
                Some(ConstValue::String(s)) => s.clone(),
                _ => return Err(HubError::input("`orderBy.field` is required")),
            };
            let descending = match obj.get("direction") {
                None | Some(ConstValue::Null) => false,
                Some(ConstValue::Enum(d)) if d.as_str() == "ASC" => false,
                Some(ConstValue::Enum(d)) if d.as_str() == "DESC" => true,
                Some(ConstValue::String(d)) if d == "ASC" => false,
                Some(ConstValue::String(d)) if d == "DESC" => true,
                Some(_) => return Err(HubError::input("`orderBy.direction` is ASC or DESC")),
            };
            let field = t
                .fields
                .iter()
                .find(|f| sort_enum_value(&f.name) == field_enum)
                .ok_or_else(|| denied(&field_enum))?;
            if !self
                .plan
                .field(&t.name, &field.name)
                .is_some_and(|a| a.is_full())
            {
                return Err(if self.federated {
                    crate::federation::not_granted(&format!("{}.{}", t.name, field.name))
                } else {
                    denied(&field_enum)
                });
            }
            if keys.iter().any(|k| k.field.name == field.name) {
                return Err(HubError::input("a field appears twice in `orderBy`"));
            }
            keys.push(SortKey { field, descending });
        }
        Ok(keys)
    }

    fn filter(&self, t: &NodeType, value: &ConstValue) -> Result<Filter, HubError> {
        let ConstValue::Object(obj) = value else {
            return Err(HubError::input("`where` must be an object"));
        };
        let mut all = Vec::new();
        for (name, v) in obj {
            let name = name.as_str();
            match name {
                "AND" | "OR" => {
                    let items = match v {
                        ConstValue::List(items) => items.iter().collect::<Vec<_>>(),
                        ConstValue::Null => continue,
                        single => vec![single],
                    };
                    let parts = items
                        .into_iter()
                        .map(|i| self.filter(t, i))
                        .collect::<Result<Vec<_>, _>>()?;
                    all.push(if name == "AND" {
                        Filter::And(parts)
                    } else {
                        Filter::Or(parts)
                    });
                }
                "NOT" => {
                    if !matches!(v, ConstValue::Null) {
                        all.push(Filter::Not(Box::new(self.filter(t, v)?)));
                    }
                }
                _ => {
                    if let Some(field) = t.field(name) {
                        let full = self.plan.field(&t.name, name).is_some_and(|a| a.is_full());
                        if !full {
                            return Err(self.refuse_named(t, name));
                        }
                        self.scalar_filter(name, &field.kind, v, &mut all)?;
                    } else if let Some(rel) = t.relation(name) {
                        if !self.plan.relation_visible(self.catalog, &t.name, name) {
                            return Err(self.refuse_named(t, name));
                        }
                        all.push(self.relation_filter(rel, v)?);
                    } else {
                        return Err(denied(name));
                    }
                }
            }
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Filter::And(all)
        })
    }

    fn relation_filter(&self, rel: &Relation, v: &ConstValue) -> Result<Filter, HubError> {
        let ConstValue::Object(obj) = v else {
            return Err(HubError::input("a relationship filter is an object"));
        };
        let target = self.target(rel)?;
        let exists = match obj.get("exists") {
            None | Some(ConstValue::Null) => true,
            Some(ConstValue::Boolean(b)) => *b,
            Some(_) => return Err(HubError::input("`exists` is a boolean")),
        };
        let filter = match obj.get("where") {
            None | Some(ConstValue::Null) => None,
            Some(w) => Some(Box::new(self.filter(target, w)?)),
        };
        for key in obj.keys() {
            if key.as_str() != "exists" && key.as_str() != "where" {
                return Err(denied(key.as_str()));
            }
        }
        Ok(Filter::Related {
            relation: rel.name.clone(),
            exists,
            filter,
        })
    }

    fn scalar_filter(
        &self,
        field: &str,
        kind: &ScalarKind,
        v: &ConstValue,
        out: &mut Vec<Filter>,
    ) -> Result<(), HubError> {
        let ConstValue::Object(ops) = v else {
            return Err(HubError::input(format!(
                "the filter on `{field}` is an object"
            )));
        };
        for (op, value) in ops {
            let op = op.as_str();
            if matches!(value, ConstValue::Null) {
                return Err(HubError::input(format!(
                    "`{field}.{op}` may not be null; use `isNull`"
                )));
            }
            if op == "isNull" {
                let ConstValue::Boolean(b) = value else {
                    return Err(HubError::input("`isNull` is a boolean"));
                };
                out.push(Filter::IsNull {
                    field: field.to_string(),
                    is_null: *b,
                });
                continue;
            }
            let op = match op {
                "eq" => CompareOp::Eq,
                "in" => CompareOp::In,
                "gt" => CompareOp::Gt,
                "gte" => CompareOp::Gte,
                "lt" => CompareOp::Lt,
                "lte" => CompareOp::Lte,
                "startsWith" => CompareOp::StartsWith,
                other => return Err(denied(other)),
            };
            if !ops_for(kind).contains(&op) {
                return Err(HubError::input(format!(
                    "`{field}` does not support this operator"
                )));
            }
            let value = if op == CompareOp::In {
                let ConstValue::List(items) = value else {
                    return Err(HubError::input(format!("`{field}.in` is a list")));
                };
                if items.len() > self.limits.max_in_values {
                    return Err(HubError::input(format!(
                        "`{field}.in` takes at most {} values",
                        self.limits.max_in_values
                    )));
                }
                Value::Array(
                    items
                        .iter()
                        .map(|i| scalar_value(field, kind, i, self.catalog))
                        .collect::<Result<_, _>>()?,
                )
            } else {
                scalar_value(field, kind, value, self.catalog)?
            };
            out.push(Filter::Compare {
                field: field.to_string(),
                op,
                value,
            });
        }
        Ok(())
    }
}

/// The operators offered for a kind of scalar.
pub(crate) fn ops_for(kind: &ScalarKind) -> &'static [CompareOp] {
    use CompareOp::*;
    match kind {
        ScalarKind::Id => &[Eq, In],
        ScalarKind::String => &[Eq, In, Gt, Gte, Lt, Lte, StartsWith],
        ScalarKind::Int | ScalarKind::Date => &[Eq, In, Gt, Gte, Lt, Lte],
        ScalarKind::Boolean => &[Eq],
        ScalarKind::Enum(_) => &[Eq, In],
    }
}

/// The `orderBy.field` enum value of a field: `birthDate` → `BIRTH_DATE`.
pub(crate) fn sort_enum_value(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for (i, c) in field.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn path_owner(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

fn response_key(f: &Field) -> String {
    f.alias
        .as_ref()
        .map(|a| a.node.to_string())
        .unwrap_or_else(|| f.name.node.to_string())
}

/// A checked parameter value for a filter on `kind`.
fn scalar_value(
    field: &str,
    kind: &ScalarKind,
    v: &ConstValue,
    catalog: &Catalog,
) -> Result<Value, HubError> {
    let bad = || HubError::input(format!("wrong value type for `{field}`"));
    Ok(match (kind, v) {
        (ScalarKind::Id | ScalarKind::String, ConstValue::String(s)) => Value::String(s.clone()),
        (ScalarKind::Id, ConstValue::Number(n)) => Value::String(n.to_string()),
        (ScalarKind::Int, ConstValue::Number(n)) => Value::from(n.as_i64().ok_or_else(bad)?),
        (ScalarKind::Boolean, ConstValue::Boolean(b)) => Value::Bool(*b),
        (ScalarKind::Date, ConstValue::String(s)) => {
            crate::api::parse_date(s).ok_or_else(bad)?;
            Value::String(s.clone())
        }
        // Enum values arrive as enums from literals and as strings from JSON variables.
        (ScalarKind::Enum(e), ConstValue::Enum(_) | ConstValue::String(_)) => {
            let name = match v {
                ConstValue::Enum(n) => n.to_string(),
                ConstValue::String(s) => s.clone(),
                _ => return Err(bad()),
            };
            let known = catalog
                .enum_type(e.as_str())
                .is_some_and(|en| en.values.iter().any(|(v, _)| *v == name));
            if !known {
                return Err(bad());
            }
            Value::String(name)
        }
        _ => return Err(bad()),
    })
}

/// Adds `item` under its key, merging it with an item already there.
fn merge_item<'a>(items: &mut Vec<NodeItem<'a>>, item: NodeItem<'a>) -> Result<(), HubError> {
    let Some(existing) = items.iter_mut().find(|i| i.key() == item.key()) else {
        items.push(item);
        return Ok(());
    };
    let conflict = || {
        HubError::new(
            Code::GraphqlValidationFailed,
            format!(
                "fields under response key `{}` conflict; use different aliases",
                item.key()
            ),
        )
    };
    match (existing, item.clone()) {
        (NodeItem::Scalar { field: a, .. }, NodeItem::Scalar { field: b, .. })
            if a.name == b.name =>
        {
            Ok(())
        }
        (
            NodeItem::Remote {
                field: a,
                value_fields: va,
                ..
            },
            NodeItem::Remote {
                field: b,
                value_fields: vb,
                ..
            },
        ) if a.name == b.name => {
            for v in vb {
                if !va.contains(&v) {
                    va.push(v);
                }
            }
            Ok(())
        }
        (
            NodeItem::One {
                relation: a,
                selection: sa,
                ..
            },
            NodeItem::One {
                relation: b,
                selection: sb,
                ..
            },
        ) if a.name == b.name => {
            for i in sb.items {
                merge_item(&mut sa.items, i)?;
            }
            Ok(())
        }
        (
            NodeItem::Many {
                relation: a,
                connection: ca,
                ..
            },
            NodeItem::Many {
                relation: b,
                connection: cb,
                ..
            },
        ) if a.name == b.name
            && ca.filter == cb.filter
            && ca.order == cb.order
            && ca.first == cb.first
            && ca.after == cb.after =>
        {
            ca.rows |= cb.rows;
            ca.total |= cb.total;
            for i in cb.node.items {
                merge_item(&mut ca.node.items, i)?;
            }
            for p in cb.edge_props {
                if !ca.edge_props.contains(&p) {
                    ca.edge_props.push(p);
                }
            }
            Ok(())
        }
        _ => Err(conflict()),
    }
}
