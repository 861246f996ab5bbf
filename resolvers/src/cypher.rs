//! IR + access plan → one parameterized Cypher query.
//!
//! Each root field becomes exactly one query of the form `RETURN <expr> AS data`.
//! Nested relationships are `COLLECT { ... }` and `COUNT { ... }` subquery
//! expressions inside map projections, with their own ORDER BY / LIMIT, so a whole
//! selection tree is read in one round trip. Labels, relationship types and
//! property names come from the catalog (checked identifiers, backtick-quoted);
//! every value is a `$parameter`. The same query shape always yields the same text,
//! so Neo4j's plan cache hits.
//!
//! A connection is returned as `{rows, total, first, after}`; each row is
//! `{n: <node map>, e: <edge properties>, k: <sort-key values>, s: <cursor scope>}`.
//! The GraphQL resolvers turn that into edges, cursors and pageInfo.

use std::fmt::Write as _;

use mandate_schema::{Catalog, Direction, Field, NodeType, Relation, ScalarKind};
use serde_json::{Map, Value};

use crate::access::{AccessPlan, FieldAccess, Mask};
use crate::errors::{Code, HubError};
use crate::ir::{
    CompareOp, Connection, EntityFetch, Filter, NodeItem, NodeSelection, RootField, RootKind,
};
use crate::store::CypherQuery;

/// Compiles one root field.
///
/// # Errors
/// `INVALID_CURSOR` when the decoded cursor does not fit the sort keys;
/// `INTERNAL_ERROR` if the IR names something the catalog lacks (a bug).
pub fn compile(
    catalog: &Catalog,
    plan: &AccessPlan,
    root: &RootField,
) -> Result<CypherQuery, HubError> {
    let mut c = Compiler::new(catalog, plan);
    let t = c.node(&root.type_name)?;
    let expr = match &root.kind {
        RootKind::Lookup { id, selection } => {
            let v = c.var("n");
            let id_param = c.param(Value::String(id.clone()));
            let mut text = format!(
                "head(COLLECT {{ MATCH ({v}:`{}` {{`{}`: {id_param}}})",
                t.label,
                t.id_field().name
            );
            if let Some(scope) = c.scope(t, &v)? {
                write!(text, " WHERE {scope}").ok();
            }
            let proj = c.projection(t, &v, selection)?;
            write!(text, " RETURN {proj} }})").ok();
            text
        }
        RootKind::List(conn) => c.connection(t, None, conn)?,
    };
    Ok(CypherQuery {
        text: format!("RETURN {expr} AS data"),
        params: c.params,
    })
}

/// Compiles a federation entity fetch into one query: per entity type, the
/// nodes whose id is in the list asked for (an index seek) and inside the
/// plan's row scope, as `{Type: [{k: id, v: <node map>}]}`.
///
/// # Errors
/// `INTERNAL_ERROR` if the IR names something the catalog lacks (a bug).
pub fn compile_entities(
    catalog: &Catalog,
    plan: &AccessPlan,
    fetch: &EntityFetch,
) -> Result<CypherQuery, HubError> {
    let mut c = Compiler::new(catalog, plan);
    let mut parts = Vec::with_capacity(fetch.groups.len());
    for group in &fetch.groups {
        let t = c.node(&group.type_name)?;
        let v = c.var("n");
        let id = &t.id_field().name;
        let ids = c.param(Value::from(group.ids.clone()));
        let mut preds = vec![format!("{v}.`{id}` IN {ids}")];
        if let Some(scope) = c.scope(t, &v)? {
            preds.push(scope);
        }
        let proj = c.projection(t, &v, &group.selection)?;
        parts.push(format!(
            "`{}`: COLLECT {{ MATCH ({v}:`{}`){} RETURN {{k: {v}.`{id}`, v: {proj}}} }}",
            t.name,
            t.label,
            where_clause(&preds)
        ));
    }
    Ok(CypherQuery {
        text: format!("RETURN {{{}}} AS data", parts.join(", ")),
        params: c.params,
    })
}

/// The key under which a data subject's id rides along in node maps.
pub const SUBJECT_KEY: &str = "#id";

struct Compiler<'a> {
    catalog: &'a Catalog,
    plan: &'a AccessPlan,
    params: Map<String, Value>,
    vars: usize,
}

impl<'a> Compiler<'a> {
    fn new(catalog: &'a Catalog, plan: &'a AccessPlan) -> Self {
        Compiler {
            catalog,
            plan,
            params: Map::new(),
            vars: 0,
        }
    }

    fn node(&self, name: &str) -> Result<&'a NodeType, HubError> {
        self.catalog
            .node(name)
            .ok_or_else(|| HubError::internal("IR names a type missing from the catalog"))
    }

    fn var(&mut self, prefix: &str) -> String {
        let v = format!("{prefix}{}", self.vars);
        self.vars += 1;
        v
    }

    fn param(&mut self, value: Value) -> String {
        let name = format!("p{}", self.params.len());
        self.params.insert(name.clone(), value);
        format!("${name}")
    }

    /// The plan's row predicate for `t` bound to `v`, if any.
    fn scope(&mut self, t: &NodeType, v: &str) -> Result<Option<String>, HubError> {
        let rows = self.plan.type_access(&t.name).and_then(|a| a.rows.clone());
        rows.map(|f| self.filter(t, v, &f, Trust::Plan)).transpose()
    }

    /// `(v)-[r:TYPE]->(m:Label)` from the relation's direction.
    fn pattern(
        &self,
        from: &str,
        rel: &Relation,
        rel_var: &str,
        to: &str,
        target: &NodeType,
    ) -> String {
        match rel.direction {
            Direction::Out => format!(
                "({from})-[{rel_var}:`{}`]->({to}:`{}`)",
                rel.rel_type, target.label
            ),
            Direction::In => format!(
                "({from})<-[{rel_var}:`{}`]-({to}:`{}`)",
                rel.rel_type, target.label
            ),
        }
    }

    fn connection(
        &mut self,
        t: &NodeType,
        anchor: Option<(&str, &NodeType, &Relation)>,
        conn: &Connection,
    ) -> Result<String, HubError> {
        let m = self.var("n");
        let r = self.var("r");
        let (source, preds) = match anchor {
            None => self.root_source(t, &m, conn.filter.as_ref())?,
            Some((from, _, rel)) => {
                let mut preds = Vec::new();
                if let Some(scope) = self.scope(t, &m)? {
                    preds.push(scope);
                }
                if let Some(f) = &conn.filter {
                    preds.push(self.filter(t, &m, f, Trust::Client)?);
                }
                (
                    format!("MATCH {}", self.pattern(from, rel, &r, &m, t)),
                    preds,
                )
            }
        };
        // A source ending in `WITH DISTINCT` needs an explicit RETURN inside COUNT.
        let count_return = if source.contains(" WITH DISTINCT ") {
            format!(" RETURN {m}")
        } else {
            String::new()
        };
        let first = self.param(Value::from(conn.first as u64));
        let rows = if conn.rows {
            let keys = self.sort_keys(t, conn)?;
            let mut row_preds = preds.clone();
            if let Some(after) = &conn.after {
                row_preds.push(self.keyset(&m, &keys, after)?);
            }
            let limit = self.param(Value::from(conn.first as u64 + 1));
            let order = keys
                .iter()
                .map(|(f, desc)| format!("{m}.`{}` {}", f.name, if *desc { "DESC" } else { "ASC" }))
                .collect::<Vec<_>>()
                .join(", ");
            let key_values = keys
                .iter()
                .map(|(f, _)| read_expr(&m, f))
                .collect::<Vec<_>>()
                .join(", ");
            let node = self.projection(t, &m, &conn.node)?;
            let scope = self.param(Value::String(conn.scope.clone()));
            let mut row = format!("{{n: {node}, k: [{key_values}], s: {scope}");
            if anchor.is_some() && !conn.edge_props.is_empty() {
                let props = match anchor {
                    Some((_, owner, rel)) => self.edge_props(owner, rel, &r, &conn.edge_props)?,
                    None => "{}".to_string(),
                };
                write!(row, ", e: {props}").ok();
            }
            row.push('}');
            let carried = if anchor.is_some() {
                format!("{m}, {r}")
            } else {
                m.clone()
            };
            format!(
                "COLLECT {{ {source}{} WITH {carried} ORDER BY {order} LIMIT {limit} RETURN {row} }}",
                where_clause(&row_preds)
            )
        } else {
            "[]".to_string()
        };
        let total = if conn.total {
            format!("COUNT {{ {source}{}{count_return} }}", where_clause(&preds))
        } else {
            "null".to_string()
        };
        let after = if conn.after.is_some() {
            "true"
        } else {
            "false"
        };
        Ok(format!(
            "{{rows: {rows}, total: {total}, first: {first}, after: {after}}}"
        ))
    }

    /// Where a root list starts. Normally `MATCH (n:Label)` with the row conditions
    /// in WHERE. When the conditions (the plan's row scope and the client's `where`
    /// together) require a chain of single-valued relationships ending in an
    /// equality on a unique field — "residents whose household's building is in
    /// grid G" — the list starts from that node through its index and walks the
    /// chain back, so it costs what the anchor holds, not what the city holds.
    fn root_source(
        &mut self,
        t: &NodeType,
        m: &str,
        filter: Option<&Filter>,
    ) -> Result<(String, Vec<String>), HubError> {
        let mut conjuncts: Vec<(Filter, Trust)> = Vec::new();
        let mut add = |f: Filter, trust: Trust| {
            let mut flat = Vec::new();
            flatten_and(f, &mut flat);
            conjuncts.extend(flat.into_iter().map(|c| (c, trust)));
        };
        if let Some(rows) = self.plan.type_access(&t.name).and_then(|a| a.rows.clone()) {
            add(rows, Trust::Plan);
        }
        if let Some(f) = filter {
            add(f.clone(), Trust::Client);
        }
        let chain = conjuncts
            .iter()
            .enumerate()
            .find_map(|(i, (c, trust))| self.anchor_chain(t, c).map(|chain| (i, chain, *trust)));
        let source = match chain {
            None => format!("MATCH ({m}:`{}`)", t.label),
            Some((i, chain, trust)) => {
                conjuncts.remove(i);
                self.chain_source(t, m, chain, trust)?
            }
        };
        let preds = conjuncts
            .iter()
            .map(|(c, trust)| self.filter(t, m, c, *trust))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((source, preds))
    }

    /// The hops of an anchoring chain in `c`, nearest first, if `c` is one.
    fn anchor_chain(&self, t: &NodeType, c: &Filter) -> Option<Vec<Hop<'a>>> {
        let Filter::Related {
            relation,
            exists: true,
            filter: Some(inner),
        } = c
        else {
            return None;
        };
        let catalog = self.catalog;
        let rel = catalog.node(&t.name)?.relation(relation)?;
        if rel.many {
            return None;
        }
        let target = catalog.node(&rel.target)?;
        let mut conjuncts = Vec::new();
        flatten_and((**inner).clone(), &mut conjuncts);
        let selective = conjuncts.iter().any(|f| {
            matches!(f, Filter::Compare { field, op: CompareOp::Eq | CompareOp::In, .. }
                if target.field(field).is_some_and(|x| x.unique))
        });
        if selective {
            return Some(vec![Hop {
                rel,
                target,
                conjuncts,
            }]);
        }
        let (i, rest) = conjuncts
            .iter()
            .enumerate()
            .find_map(|(i, f)| self.anchor_chain(target, f).map(|rest| (i, rest)))?;
        conjuncts.remove(i);
        let mut chain = vec![Hop {
            rel,
            target,
            conjuncts,
        }];
        chain.extend(rest);
        Some(chain)
    }

    /// `MATCH` clauses from the far end of `chain` back to the root node `m`.
    fn chain_source(
        &mut self,
        t: &NodeType,
        m: &str,
        chain: Vec<Hop<'a>>,
        trust: Trust,
    ) -> Result<String, HubError> {
        let vars: Vec<String> = chain.iter().map(|_| self.var("a")).collect();
        let mut text = String::new();
        for (k, hop) in chain.iter().enumerate().rev() {
            let v = &vars[k];
            if k + 1 == chain.len() {
                write!(text, "MATCH ({v}:`{}`)", hop.target.label).ok();
            } else {
                let next = &chain[k + 1];
                write!(
                    text,
                    " MATCH {}",
                    link(v, &hop.target.label, next.rel, &vars[k + 1])
                )
                .ok();
            }
            let mut preds = Vec::new();
            if trust == Trust::Client {
                if let Some(scope) = self.scope(hop.target, v)? {
                    preds.push(scope);
                }
            }
            for c in &hop.conjuncts {
                preds.push(self.filter(hop.target, v, c, trust)?);
            }
            text.push_str(&where_clause(&preds));
        }
        write!(
            text,
            " MATCH {} WITH DISTINCT {m}",
            link(m, &t.label, chain[0].rel, &vars[0])
        )
        .ok();
        Ok(text)
    }

    fn edge_props(
        &mut self,
        owner: &NodeType,
        rel: &Relation,
        r: &str,
        props: &[(String, String)],
    ) -> Result<String, HubError> {
        let mut parts = Vec::new();
        for (key, prop) in props {
            let field = rel
                .properties
                .iter()
                .find(|p| p.name == *prop)
                .ok_or_else(|| HubError::internal("edge property missing from catalog"))?;
            let access = self
                .plan
                .type_access(&owner.name)
                .and_then(|a| a.relations.get(&rel.name))
                .and_then(|p| p.get(prop))
                .copied()
                .ok_or_else(|| HubError::internal("edge property not in plan"))?;
            parts.push(format!("`{key}`: {}", masked(read_expr(r, field), access)));
        }
        Ok(format!("{{{}}}", parts.join(", ")))
    }

    /// Sort keys with the id appended as the final tie-breaker.
    fn sort_keys(
        &self,
        t: &'a NodeType,
        conn: &Connection,
    ) -> Result<Vec<(&'a Field, bool)>, HubError> {
        let mut keys = Vec::with_capacity(conn.order.len() + 1);
        for k in &conn.order {
            let f = t
                .field(&k.field)
                .ok_or_else(|| HubError::internal("sort key missing from catalog"))?;
            keys.push((f, k.descending));
        }
        let id = t.id_field();
        if !keys.iter().any(|(f, _)| f.is_id) {
            keys.push((id, false));
        }
        Ok(keys)
    }

    /// Rows strictly after the cursor position, in the order of `keys`
    /// (Neo4j sorts nulls last ascending and first descending).
    fn keyset(
        &mut self,
        v: &str,
        keys: &[(&Field, bool)],
        after: &[Value],
    ) -> Result<String, HubError> {
        if after.len() != keys.len() {
            return Err(HubError::new(
                Code::InvalidCursor,
                "invalid cursor for this query",
            ));
        }
        let mut expr: Option<String> = None;
        for ((field, desc), value) in keys.iter().zip(after).rev() {
            let col = format!("{v}.`{}`", field.name);
            let p = if value.is_null() {
                None
            } else {
                Some(param_expr(&field.kind, self.param(value.clone())))
            };
            let after_here = match (desc, &p) {
                (false, None) => "false".to_string(),
                (false, Some(p)) => format!("({col} > {p} OR {col} IS NULL)"),
                (true, None) => format!("{col} IS NOT NULL"),
                (true, Some(p)) => format!("{col} < {p}"),
            };
            let equal_here = match &p {
                None => format!("{col} IS NULL"),
                Some(p) => format!("{col} = {p}"),
            };
            expr = Some(match expr {
                None => after_here,
                Some(rest) => format!("({after_here} OR ({equal_here} AND {rest}))"),
            });
        }
        Ok(expr.unwrap_or_else(|| "false".to_string()))
    }

    fn projection(
        &mut self,
        t: &NodeType,
        v: &str,
        sel: &NodeSelection,
    ) -> Result<String, HubError> {
        let mut parts = Vec::with_capacity(sel.items.len() + 1);
        if t.data_subject {
            // For the audit record only: resolvers read response keys, and `#` is
            // never part of a GraphQL name.
            parts.push(format!("`{SUBJECT_KEY}`: {v}.`{}`", t.id_field().name));
        }
        for item in &sel.items {
            let part = match item {
                NodeItem::Scalar { key, field } => {
                    let f = t
                        .field(field)
                        .ok_or_else(|| HubError::internal("field missing from catalog"))?;
                    let access = self
                        .plan
                        .field(&t.name, field)
                        .ok_or_else(|| HubError::internal("field not in plan"))?;
                    format!("`{key}`: {}", masked(read_expr(v, f), access))
                }
                NodeItem::One {
                    key,
                    relation,
                    selection,
                } => {
                    let rel = t
                        .relation(relation)
                        .ok_or_else(|| HubError::internal("relation missing from catalog"))?;
                    let target = self.node(&rel.target)?;
                    let m = self.var("n");
                    let r = self.var("r");
                    let pattern = self.pattern(v, rel, &r, &m, target);
                    let scope = self.scope(target, &m)?.into_iter().collect::<Vec<_>>();
                    let proj = self.projection(target, &m, selection)?;
                    format!(
                        "`{key}`: head(COLLECT {{ MATCH {pattern}{} RETURN {proj} LIMIT 1 }})",
                        where_clause(&scope)
                    )
                }
                NodeItem::Many {
                    key,
                    relation,
                    connection,
                } => {
                    let rel = t
                        .relation(relation)
                        .ok_or_else(|| HubError::internal("relation missing from catalog"))?;
                    let target = self.node(&rel.target)?;
                    format!(
                        "`{key}`: {}",
                        self.connection(target, Some((v, t, rel)), connection)?
                    )
                }
            };
            parts.push(part);
        }
        Ok(format!("{{{}}}", parts.join(", ")))
    }

    /// Compiles a row predicate. A client's filter (`Trust::Client`) reaching a
    /// related node also applies that node's row scope, so a filter can never
    /// test rows the agency may not see; the plan's own scopes (`Trust::Plan`)
    /// describe facts about related nodes and are taken as written.
    fn filter(
        &mut self,
        t: &NodeType,
        v: &str,
        f: &Filter,
        trust: Trust,
    ) -> Result<String, HubError> {
        Ok(match f {
            Filter::And(parts) if parts.is_empty() => "true".to_string(),
            Filter::Or(parts) if parts.is_empty() => "false".to_string(),
            Filter::And(parts) | Filter::Or(parts) => {
                let sep = if matches!(f, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let compiled = parts
                    .iter()
                    .map(|p| self.filter(t, v, p, trust))
                    .collect::<Result<Vec<_>, _>>()?;
                if compiled.len() == 1 {
                    compiled.into_iter().next().unwrap_or_default()
                } else {
                    format!("({})", compiled.join(sep))
                }
            }
            Filter::Not(inner) => format!("NOT ({})", self.filter(t, v, inner, trust)?),
            Filter::IsNull { field, is_null } => {
                let f = t
                    .field(field)
                    .ok_or_else(|| HubError::internal("filter field missing from catalog"))?;
                format!(
                    "{v}.`{}` IS {}NULL",
                    f.name,
                    if *is_null { "" } else { "NOT " }
                )
            }
            Filter::Compare { field, op, value } => {
                let f = t
                    .field(field)
                    .ok_or_else(|| HubError::internal("filter field missing from catalog"))?;
                let col = format!("{v}.`{}`", f.name);
                let p = self.param(value.clone());
                match op {
                    CompareOp::In => {
                        if f.kind == ScalarKind::Date {
                            format!("{col} IN [x IN {p} | date(x)]")
                        } else {
                            format!("{col} IN {p}")
                        }
                    }
                    CompareOp::StartsWith => format!("{col} STARTS WITH {p}"),
                    op => {
                        let sym = match op {
                            CompareOp::Eq => "=",
                            CompareOp::Gt => ">",
                            CompareOp::Gte => ">=",
                            CompareOp::Lt => "<",
                            _ => "<=",
                        };
                        format!("{col} {sym} {}", param_expr(&f.kind, p))
                    }
                }
            }
            Filter::Related {
                relation,
                exists,
                filter,
            } => {
                let rel = t
                    .relation(relation)
                    .ok_or_else(|| HubError::internal("relation missing from catalog"))?;
                let target = self.node(&rel.target)?;
                let m = self.var("n");
                let pattern = self.pattern(v, rel, "", &m, target);
                let mut preds = Vec::new();
                if trust == Trust::Client {
                    if let Some(scope) = self.scope(target, &m)? {
                        preds.push(scope);
                    }
                }
                if let Some(inner) = filter {
                    preds.push(self.filter(target, &m, inner, trust)?);
                }
                format!(
                    "{}EXISTS {{ MATCH {pattern}{} }}",
                    if *exists { "" } else { "NOT " },
                    where_clause(&preds)
                )
            }
        })
    }
}

/// Whose predicate is being compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// The access plan's row scope.
    Plan,
    /// The client's `where`.
    Client,
}

/// One hop of an anchoring chain: the relationship from the nearer node, the node
/// reached, and the conditions on it.
struct Hop<'a> {
    rel: &'a Relation,
    target: &'a NodeType,
    conjuncts: Vec<Filter>,
}

/// `(near:Label)-[:TYPE]->(far)` with `far` already bound.
fn link(near: &str, near_label: &str, rel: &Relation, far: &str) -> String {
    match rel.direction {
        Direction::Out => format!("({near}:`{near_label}`)-[:`{}`]->({far})", rel.rel_type),
        Direction::In => format!("({near}:`{near_label}`)<-[:`{}`]-({far})", rel.rel_type),
    }
}

/// The conjuncts of a filter (nested ANDs flattened).
fn flatten_and(f: Filter, out: &mut Vec<Filter>) {
    match f {
        Filter::And(parts) => {
            for p in parts {
                flatten_and(p, out);
            }
        }
        other => out.push(other),
    }
}

fn where_clause(preds: &[String]) -> String {
    if preds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", preds.join(" AND "))
    }
}

/// How a stored value is read out: dates as `YYYY-MM-DD` strings.
fn read_expr(v: &str, f: &Field) -> String {
    match f.kind {
        ScalarKind::Date => format!("toString({v}.`{}`)", f.name),
        _ => format!("{v}.`{}`", f.name),
    }
}

/// How a parameter is compared with a stored value of `kind`.
fn param_expr(kind: &ScalarKind, p: String) -> String {
    match kind {
        ScalarKind::Date => format!("date({p})"),
        _ => p,
    }
}

/// Applies a mask to a read expression, inside Cypher.
fn masked(expr: String, access: FieldAccess) -> String {
    let FieldAccess::Masked(mask) = access else {
        return expr;
    };
    let body = match mask {
        Mask::KeepEnds => "left($, 6) + '********' + right($, 4)",
        Mask::Phone => "left($, 3) + '****' + right($, 4)",
        Mask::FirstChar => "left($, 1) + '**'",
        Mask::Redact => "'***'",
        Mask::YearOnly => "left($, 4) + '-**-**'",
    };
    let value = format!("toString({expr})");
    format!(
        "CASE WHEN {expr} IS NULL THEN null ELSE {} END",
        body.replace('$', &value)
    )
}
