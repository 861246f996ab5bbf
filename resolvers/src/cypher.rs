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
//! A derived column (a `@countOf` field under a plan that limits the rows it
//! counts) is a subquery; it is computed once per bound row, in a `WITH` right
//! after the clause that binds the node, and every filter term, sort key and
//! cursor predicate reads its alias. Inlined once per term, Neo4j's planning
//! time grew by the better part of a second with each term.
//!
//! What the query returns, and the keys it is written with, is the contract in
//! [`crate::answer`]; the resolvers read it decoded and turn it into edges,
//! cursors and pageInfo.

use std::collections::HashMap;
use std::fmt::Write as _;

use mandate_schema::{Catalog, Direction, Field, NodeType, Relation, ScalarKind};
use serde_json::{Map, Value};

use crate::access::{AccessPlan, FieldAccess, Piece};
use crate::answer::key::{
    AFTER, COUNTED, DESCRIBED, EDGE, ENTITY_ID, ENTITY_KEY, ENTITY_NODE, FIRST, NODE, ROWS, SCOPE,
    SORT_KEYS, SUBJECT, TOTAL,
};
use crate::errors::{Code, HubError};
use crate::ir::{
    CompareOp, Connection, EdgeProp, EntityFetch, Filter, NodeItem, NodeSelection, RootField,
    RootKind,
};
use crate::store::CypherQuery;

/// Compiles one root field.
///
/// # Errors
/// `INVALID_CURSOR` when the decoded cursor does not fit the sort keys;
/// `INTERNAL_ERROR` if a row predicate names something the catalog lacks.
pub(crate) fn compile<'a>(
    catalog: &'a Catalog,
    plan: &'a AccessPlan,
    root: &RootField<'a>,
) -> Result<CypherQuery, HubError> {
    let mut c = Compiler::new(catalog, plan);
    let t = root.node;
    let expr = match &root.kind {
        RootKind::Lookup { id, selection } => {
            let v = c.var("n");
            let id_param = c.param(Value::String(id.clone()));
            let scope = c.scope(t, &v)?;
            let filtered = c.bind(&v, &scope);
            let proj = c.projection(t, &v, selection)?;
            let late = c.late(&v);
            format!(
                "head(COLLECT {{ MATCH ({v}:`{}` {{`{}`: {id_param}}}){filtered}{late} RETURN {proj} }})",
                t.label,
                t.id_field().name
            )
        }
        RootKind::List(conn) => c.connection(t, None, conn)?,
    };
    c.all_written()?;
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
/// `INTERNAL_ERROR` if a row predicate names something the catalog lacks.
pub(crate) fn compile_entities<'a>(
    catalog: &'a Catalog,
    plan: &'a AccessPlan,
    fetch: &EntityFetch<'a>,
) -> Result<CypherQuery, HubError> {
    let mut c = Compiler::new(catalog, plan);
    let mut parts = Vec::with_capacity(fetch.groups.len());
    for group in &fetch.groups {
        let t = group.node;
        let v = c.var("n");
        let id = &t.id_field().name;
        let ids = c.param(Value::from(group.ids.clone()));
        let mut preds = vec![Pred::plain(format!("{v}.`{id}` IN {ids}"))];
        preds.extend(c.scope(t, &v)?);
        let filtered = c.bind(&v, &preds);
        let proj = c.projection(t, &v, &group.selection)?;
        let late = c.late(&v);
        parts.push(format!(
            "`{}`: COLLECT {{ MATCH ({v}:`{}`){filtered}{late} RETURN {{{ENTITY_ID}: {v}.`{id}`, {ENTITY_NODE}: {proj}}} }}",
            t.name,
            t.label,
        ));
    }
    c.all_written()?;
    Ok(CypherQuery {
        text: format!("RETURN {{{}}} AS data", parts.join(", ")),
        params: c.params,
    })
}

/// What a receipt says of a read whose purpose its list marks confidential.
pub(crate) const CONFIDENTIAL_PURPOSE: &str = "a law-enforcement access";

/// Compiles the access receipts of resident `id` for a reader under `plan`: the
/// resident must be inside the receipts grant's scope (receipts are personal data
/// too; outside it the answer is empty, as for a resident that does not exist),
/// and reads for a confidential purpose show neither officer, case number nor
/// purpose. `None` when the plan grants no receipts.
///
/// # Errors
/// `INTERNAL_ERROR` if the row predicate names something the catalog lacks.
pub(crate) fn compile_receipts(
    catalog: &Catalog,
    plan: &AccessPlan,
    id: &str,
    first: i64,
) -> Result<Option<CypherQuery>, HubError> {
    let Some(t) = catalog.node("Resident") else {
        return Ok(None);
    };
    if !plan.receipts {
        return Ok(None);
    }
    let mut c = Compiler::new(catalog, plan);
    let v = c.var("n");
    let id_param = c.param(Value::String(id.to_string()));
    let first = c.param(Value::from(first));
    let hidden: Vec<Value> = plan
        .confidential
        .iter()
        .map(|(agency, purpose)| Value::from(vec![agency.clone(), purpose.clone()]))
        .collect();
    let hidden = c.param(Value::Array(hidden));
    let label = c.param(Value::String(CONFIDENTIAL_PURPOSE.to_string()));
    let mut text = format!(
        "RETURN COLLECT {{ MATCH ({v}:`{}` {{`{}`: {id_param}}})",
        t.label,
        t.id_field().name
    );
    if let Some(rows) = &plan.receipts_rows {
        let scope = c.preds(t, &v, rows, Trust::Plan)?;
        text.push_str(&c.bind(&v, &scope));
    }
    write!(
        text,
        " MATCH ({v})<-[:DISCLOSED]-(a:AuditRecord) \
WITH a ORDER BY a.time DESC, a.seq DESC LIMIT {first} \
WITH a, [a.agency, a.purpose] IN {hidden} AS hidden \
RETURN {{time: a.time, agency: a.agency, \
officer: CASE WHEN hidden THEN '-' ELSE a.officer END, \
purpose: CASE WHEN hidden THEN {label} ELSE a.purpose END, \
caseNumber: CASE WHEN hidden THEN '-' ELSE a.caseNumber END, \
fields: a.fields}} }} AS data"
    )
    .ok();
    c.all_written()?;
    Ok(Some(CypherQuery {
        text,
        params: c.params,
    }))
}

/// Compiles an owner's update of node `id` of `t`: inside the plan's row scope
/// (a row outside it is missing, as for reads), a compare-and-set — every field
/// in `set` is written only if each still holds its `expect` value. The node's
/// write lock is taken before the comparison (`SET` of its id to itself), so
/// concurrent updates of one node are serialized and a stale one finds the
/// changed value.
///
/// The write statement takes its values from `$rows`, a list of maps, one per
/// write (so a store may run several writes of one shape as one statement,
/// adding their maps to the list and numbering them with `i`), and returns, per
/// map whose node is in scope, `i` and `data: {apply, before}`; none for the
/// others. With `probe`: the same comparison, read only (no lock, no writes),
/// from `$` parameters, in one row whose `data` is null when the node is not in
/// scope. `set` and `expect` name catalog fields only; values are parameters.
///
/// # Errors
/// `INTERNAL_ERROR` if a field or the row predicate names something the catalog lacks.
pub(crate) fn compile_update(
    catalog: &Catalog,
    plan: &AccessPlan,
    t: &NodeType,
    id: &str,
    set: &[(String, Value)],
    expect: &[(String, Value)],
    probe: bool,
) -> Result<CypherQuery, HubError> {
    let mut c = Compiler::new(catalog, plan);
    c.row_values = !probe;
    let v = c.var("n");
    let id_field = t.id_field().name.clone();
    let id_param = c.param(Value::String(id.to_string()));
    let mut text = format!("MATCH ({v}:`{}` {{`{id_field}`: {id_param}}})", t.label);
    let scope = c.scope(t, &v)?;
    text.push_str(&c.bind(&v, &scope));
    if !probe {
        write!(text, " SET {v}.`{id_field}` = {v}.`{id_field}`").ok();
    }
    let mut before = Vec::new();
    let mut fresh = Vec::new();
    for (name, value) in expect {
        let f = t
            .field(name)
            .ok_or_else(|| HubError::internal("update field missing from catalog"))?;
        let col = read_expr(format!("{v}.`{}`", f.name), &f.kind);
        let p = c.param(value.clone());
        fresh.push(format!("(({col} IS NULL AND {p} IS NULL) OR {col} = {p})"));
        before.push(format!("`{}`: {col}", f.name));
    }
    let mut sets = Vec::new();
    for (name, value) in set {
        let f = t
            .field(name)
            .ok_or_else(|| HubError::internal("update field missing from catalog"))?;
        let p = c.param(value.clone());
        sets.push(format!("{v}.`{}` = {}", f.name, param_expr(&f.kind, p)));
    }
    let fresh = if fresh.is_empty() {
        "true".to_string()
    } else {
        fresh.join(" AND ")
    };
    if probe {
        // Read only, always one row: null when the node is not in scope.
        let text = format!(
            "RETURN head(COLLECT {{ {text} WITH {v}, {{{}}} AS before, {fresh} AS fresh \
RETURN {{apply: fresh, before: before}} }}) AS data",
            before.join(", ")
        );
        c.all_written()?;
        return Ok(CypherQuery {
            text,
            params: c.params,
        });
    }
    write!(
        text,
        " WITH {v}, {{{}}} AS before, {fresh} AS fresh \
FOREACH (_ IN CASE WHEN fresh THEN [1] ELSE [] END | SET {}) \
RETURN {{apply: fresh, before: before}} AS data",
        before.join(", "),
        sets.join(", ")
    )
    .ok();
    c.all_written()?;
    let mut row = c.params;
    row.insert("i".into(), Value::from(0));
    let mut params = Map::new();
    params.insert("rows".into(), Value::Array(vec![Value::Object(row)]));
    Ok(CypherQuery {
        text: format!("UNWIND $rows AS row CALL (row) {{ {text} }} RETURN row.i AS i, data"),
        params,
    })
}

struct Compiler<'a> {
    catalog: &'a Catalog,
    plan: &'a AccessPlan,
    params: Map<String, Value>,
    vars: usize,
    /// The derived columns read so far, of every bound variable.
    derived: Vec<Derived>,
    /// Per bound variable, how often one of its derived columns was read.
    reads: HashMap<String, usize>,
    /// Values are read from the map `row` (a write statement, one `row` per
    /// write) instead of from `$` parameters.
    row_values: bool,
}

/// A derived column of a bound variable (see [`Compiler::column`]).
struct Derived {
    /// The variable whose column it is.
    var: String,
    /// The field.
    field: String,
    /// The alias every read uses.
    alias: String,
    /// The expression computing it.
    expr: String,
    /// Whether a `WITH` computing it has been taken into the text.
    written: bool,
}

/// A compiled predicate on a bound variable, and whether it reads one of that
/// variable's derived columns (and so must follow the `WITH` computing them).
#[derive(Clone)]
struct Pred {
    text: String,
    derived: bool,
}

impl Pred {
    fn plain(text: String) -> Self {
        Pred {
            text,
            derived: false,
        }
    }
}

impl<'a> Compiler<'a> {
    fn new(catalog: &'a Catalog, plan: &'a AccessPlan) -> Self {
        Compiler {
            catalog,
            plan,
            params: Map::new(),
            vars: 0,
            derived: Vec::new(),
            reads: HashMap::new(),
            row_values: false,
        }
    }

    /// Every derived column read has a `WITH` computing it (else the query
    /// would name an alias it never bound).
    fn all_written(&self) -> Result<(), HubError> {
        if self.derived.iter().all(|d| d.written) {
            Ok(())
        } else {
            Err(HubError::internal(
                "a derived column was read but never computed",
            ))
        }
    }

    fn reads_of(&self, v: &str) -> usize {
        self.reads.get(v).copied().unwrap_or(0)
    }

    /// The derived columns of `v` read and not yet computed, as `(alias, expr)`,
    /// now marked computed: the caller writes them into a `WITH`.
    fn take(&mut self, v: &str) -> Vec<(String, String)> {
        self.derived
            .iter_mut()
            .filter(|d| d.var == v && !d.written)
            .map(|d| {
                d.written = true;
                (d.alias.clone(), d.expr.clone())
            })
            .collect()
    }

    /// What follows the clause binding `v` (see [`bound`]), computing the
    /// derived columns of `v` that `preds` read.
    fn bind(&mut self, v: &str, preds: &[Pred]) -> String {
        let computed = self.take(v);
        bound(preds, &computed)
    }

    /// A `WITH` computing the derived columns of `v` read since it was bound
    /// (by a projection, after the rows are chosen), or nothing.
    fn late(&mut self, v: &str) -> String {
        let computed = self.take(v);
        with_derived(&computed, false)
    }

    /// `f` as conjuncts (nested ANDs flattened), each compiled on `t` bound to `v`.
    fn preds(
        &mut self,
        t: &NodeType,
        v: &str,
        f: &Filter,
        trust: Trust,
    ) -> Result<Vec<Pred>, HubError> {
        let mut conjuncts = Vec::new();
        flatten_and(f.clone(), &mut conjuncts);
        conjuncts
            .iter()
            .map(|c| self.pred(t, v, c, trust))
            .collect()
    }

    /// One compiled predicate on `t` bound to `v`.
    fn pred(&mut self, t: &NodeType, v: &str, f: &Filter, trust: Trust) -> Result<Pred, HubError> {
        let before = self.reads_of(v);
        let text = self.filter(t, v, f, trust)?;
        Ok(Pred {
            text,
            derived: self.reads_of(v) > before,
        })
    }

    /// The type a row predicate's relationship leads to.
    fn target(&self, rel: &Relation) -> Result<&'a NodeType, HubError> {
        self.catalog
            .node(&rel.target)
            .ok_or_else(|| HubError::internal("relation target missing from the catalog"))
    }

    fn var(&mut self, prefix: &str) -> String {
        let v = format!("{prefix}{}", self.vars);
        self.vars += 1;
        v
    }

    fn param(&mut self, value: Value) -> String {
        let name = format!("p{}", self.params.len());
        self.params.insert(name.clone(), value);
        if self.row_values {
            format!("row.{name}")
        } else {
            format!("${name}")
        }
    }

    /// The plan's row predicate for `t` bound to `v`, as conjuncts (none when
    /// the plan does not limit the rows of `t`).
    fn scope(&mut self, t: &NodeType, v: &str) -> Result<Vec<Pred>, HubError> {
        match self.plan.type_access(&t.name).and_then(|a| a.rows.clone()) {
            Some(rows) => self.preds(t, v, &rows, Trust::Plan),
            None => Ok(Vec::new()),
        }
    }

    /// The expression of field `f` of the `t` bound to `v`, wherever it is read,
    /// filtered or sorted on: its property — except a `@countOf` field under a
    /// plan that limits the rows of the type it counts, which is the count of the
    /// rows the reader may see (none when it may see no row of that type).
    ///
    /// That count is a derived column: the first read registers it and every
    /// read returns its alias; the clause binding `v` computes it once per row
    /// in a `WITH` ([`Compiler::bind`], [`Compiler::late`]).
    fn column(&mut self, t: &NodeType, v: &str, f: &Field) -> Result<String, HubError> {
        let stored = format!("{v}.`{}`", f.name);
        let Some(counted) = &f.count_of else {
            return Ok(stored);
        };
        if let Some(d) = self
            .derived
            .iter()
            .find(|d| d.var == v && d.field == f.name)
        {
            let alias = d.alias.clone();
            *self.reads.entry(v.to_string()).or_default() += 1;
            return Ok(alias);
        }
        let rel = t
            .relation(counted)
            .ok_or_else(|| HubError::internal("@countOf relation missing from the catalog"))?;
        let target = self.target(rel)?;
        let rows = match self.plan.type_access(&target.name) {
            None => return Ok("0".to_string()),
            Some(access) => access.rows.clone(),
        };
        let Some(rows) = rows else {
            return Ok(stored);
        };
        let m = self.var("n");
        let pattern = self.pattern(v, rel, "", &m, target);
        let scope = self.preds(target, &m, &rows, Trust::Plan)?;
        let ret = count_return(&scope, &m);
        let filtered = self.bind(&m, &scope);
        let alias = self.var("d");
        self.derived.push(Derived {
            var: v.to_string(),
            field: f.name.clone(),
            alias: alias.clone(),
            expr: format!("COUNT {{ MATCH {pattern}{filtered}{ret} }}"),
            written: false,
        });
        *self.reads.entry(v.to_string()).or_default() += 1;
        Ok(alias)
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
        t: &'a NodeType,
        anchor: Option<(&str, &Relation)>,
        conn: &Connection<'a>,
    ) -> Result<String, HubError> {
        let m = self.var("n");
        let r = self.var("r");
        let (source, preds) = match anchor {
            None => self.root_source(t, &m, conn.filter.as_ref())?,
            Some((from, rel)) => {
                let mut preds = self.scope(t, &m)?;
                if let Some(f) = &conn.filter {
                    preds.extend(self.preds(t, &m, f, Trust::Client)?);
                }
                (
                    format!("MATCH {}", self.pattern(from, rel, &r, &m, t)),
                    preds,
                )
            }
        };
        // A source ending in `WITH DISTINCT`, or conditions after a `WITH`,
        // need an explicit RETURN inside COUNT.
        let count_return = if source.contains(" WITH DISTINCT ") {
            format!(" RETURN {m}")
        } else {
            count_return(&preds, &m)
        };
        // The derived columns the conditions read: computed in all three copies.
        let computed = self.take(&m);
        let filtered = bound(&preds, &computed);
        let first = self.param(Value::from(conn.first as u64));
        let rows = if conn.rows {
            let keys = sort_keys(t, conn);
            let mut row_preds = preds.clone();
            if let Some(after) = &conn.after {
                let before = self.reads_of(&m);
                let text = self.keyset(t, &m, &keys, after)?;
                row_preds.push(Pred {
                    text,
                    derived: self.reads_of(&m) > before,
                });
            }
            let limit = self.param(Value::from(conn.first as u64 + 1));
            let mut order = Vec::with_capacity(keys.len());
            let mut key_values = Vec::with_capacity(keys.len());
            for (f, desc) in &keys {
                let col = self.column(t, &m, f)?;
                order.push(format!("{col} {}", if *desc { "DESC" } else { "ASC" }));
                key_values.push(read_expr(col, &f.kind));
            }
            let (order, key_values) = (order.join(", "), key_values.join(", "));
            // The rows copy also computes the derived columns it sorts on.
            let mut computed = computed.clone();
            computed.extend(self.take(&m));
            let filtered = bound(&row_preds, &computed);
            let node = self.projection(t, &m, &conn.node)?;
            let late = self.late(&m);
            let scope = self.param(Value::String(conn.scope.clone()));
            let mut row =
                format!("{{{NODE}: {node}, {SORT_KEYS}: [{key_values}], {SCOPE}: {scope}");
            if anchor.is_some() && !conn.edge_props.is_empty() {
                write!(row, ", {EDGE}: {}", edge_props(&r, &conn.edge_props)).ok();
            }
            row.push('}');
            let mut carried = vec![m.clone()];
            if anchor.is_some() {
                carried.push(r.clone());
            }
            carried.extend(computed.into_iter().map(|(alias, _)| alias));
            format!(
                "COLLECT {{ {source}{filtered} WITH {} ORDER BY {order} LIMIT {limit}{late} RETURN {row} }}",
                carried.join(", ")
            )
        } else {
            "[]".to_string()
        };
        let total = if conn.total {
            format!("COUNT {{ {source}{filtered}{count_return} }}")
        } else {
            "null".to_string()
        };
        // The people a small count is about, for the audit record.
        let counted = if conn.total {
            let subjects = if t.data_subject {
                Some(format!("RETURN {m}.`{}` AS id", t.id_field().name))
            } else {
                self.described(t, &m)?
            };
            subjects.map(|ids| {
                format!(
                    ", `{COUNTED}`: COLLECT {{ {source}{filtered} WITH DISTINCT {m} LIMIT {} {ids} }}",
                    crate::disclose::SMALL_COUNT + 1
                )
            })
        } else {
            None
        };
        let after = if conn.after.is_some() {
            "true"
        } else {
            "false"
        };
        Ok(format!(
            "{{{ROWS}: {rows}, {TOTAL}: {total}, {FIRST}: {first}, {AFTER}: {after}{}}}",
            counted.unwrap_or_default()
        ))
    }

    /// For a `@describes` type bound to `v`: the subquery returning (`AS id`) the
    /// ids of the data subjects its fields are facts about — every one of them,
    /// whatever the reader's row scope, since the fact read is about each.
    fn described(&mut self, t: &NodeType, v: &str) -> Result<Option<String>, HubError> {
        let Some(described) = &t.describes else {
            return Ok(None);
        };
        let rel = t
            .relation(described)
            .ok_or_else(|| HubError::internal("@describes relation missing from the catalog"))?;
        let target = self.target(rel)?;
        let x = self.var("n");
        let pattern = self.pattern(v, rel, "", &x, target);
        Ok(Some(format!(
            "MATCH {pattern} RETURN {x}.`{}` AS id",
            target.id_field().name
        )))
    }

    /// Where a root list starts. Normally `MATCH (n:Label)` with the row conditions
    /// in WHERE. When the conditions (the plan's row scope and the client's `where`
    /// together) require a chain of single-valued relationships ending in an
    /// equality on a unique field — "residents whose household's building is in
    /// grid G" — the list starts from that node through its index and walks the
    /// chain back, so it costs what the anchor holds, not what the city holds.
    fn root_source(
        &mut self,
        t: &'a NodeType,
        m: &str,
        filter: Option<&Filter>,
    ) -> Result<(String, Vec<Pred>), HubError> {
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
            .map(|(c, trust)| self.pred(t, m, c, *trust))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((source, preds))
    }

    /// The hops of an anchoring chain in `c`, nearest first, if `c` is one.
    fn anchor_chain(&self, t: &'a NodeType, c: &Filter) -> Option<Vec<Hop<'a>>> {
        let Filter::Related {
            relation,
            exists: true,
            filter: Some(inner),
        } = c
        else {
            return None;
        };
        let rel = t.relation(relation)?;
        if rel.many {
            return None;
        }
        let target = self.catalog.node(&rel.target)?;
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
                preds.extend(self.scope(hop.target, v)?);
            }
            for c in &hop.conjuncts {
                preds.push(self.pred(hop.target, v, c, trust)?);
            }
            text.push_str(&self.bind(v, &preds));
        }
        write!(
            text,
            " MATCH {} WITH DISTINCT {m}",
            link(m, &t.label, chain[0].rel, &vars[0])
        )
        .ok();
        Ok(text)
    }

    /// Rows strictly after the cursor position, in the order of `keys`
    /// (Neo4j sorts nulls last ascending and first descending).
    fn keyset(
        &mut self,
        t: &NodeType,
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
            let col = self.column(t, v, field)?;
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
        sel: &NodeSelection<'a>,
    ) -> Result<String, HubError> {
        let mut parts = Vec::with_capacity(sel.items.len() + 1);
        if t.data_subject {
            // For the audit record only (see `answer::key::SUBJECT`).
            parts.push(format!("`{SUBJECT}`: {v}.`{}`", t.id_field().name));
        }
        if sel
            .items
            .iter()
            .any(|i| matches!(i, NodeItem::Remote { .. }))
        {
            // The key remote fields are fetched by (see `answer::key::ENTITY_KEY`).
            parts.push(format!("`{ENTITY_KEY}`: {v}.`{}`", t.id_field().name));
        }
        if !sel.items.is_empty() {
            if let Some(ids) = self.described(t, v)? {
                parts.push(format!("`{DESCRIBED}`: COLLECT {{ {ids} }}"));
            }
        }
        for item in &sel.items {
            let part = match item {
                NodeItem::Scalar { key, field, access } => {
                    let col = self.column(t, v, field)?;
                    format!("`{key}`: {}", masked(read_expr(col, &field.kind), *access))
                }
                NodeItem::One {
                    key,
                    relation,
                    target,
                    selection,
                } => {
                    let m = self.var("n");
                    let r = self.var("r");
                    let pattern = self.pattern(v, relation, &r, &m, target);
                    let scope = self.scope(target, &m)?;
                    let filtered = self.bind(&m, &scope);
                    let proj = self.projection(target, &m, selection)?;
                    let late = self.late(&m);
                    format!(
                        "`{key}`: head(COLLECT {{ MATCH {pattern}{filtered}{late} RETURN {proj} LIMIT 1 }})"
                    )
                }
                // Served by its subgraph once the node is read (see `remote`).
                NodeItem::Remote { .. } => continue,
                NodeItem::Many {
                    key,
                    relation,
                    target,
                    connection,
                } => format!(
                    "`{key}`: {}",
                    self.connection(target, Some((v, relation)), connection)?
                ),
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
                    "{} IS {}NULL",
                    self.column(t, v, f)?,
                    if *is_null { "" } else { "NOT " }
                )
            }
            Filter::Compare { field, op, value } => {
                let f = t
                    .field(field)
                    .ok_or_else(|| HubError::internal("filter field missing from catalog"))?;
                let col = self.column(t, v, f)?;
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
                    .ok_or_else(|| HubError::internal("filter relation missing from catalog"))?;
                let target = self.target(rel)?;
                let m = self.var("n");
                let pattern = self.pattern(v, rel, "", &m, target);
                let mut preds = Vec::new();
                if trust == Trust::Client {
                    preds.extend(self.scope(target, &m)?);
                }
                if let Some(inner) = filter {
                    preds.extend(self.preds(target, &m, inner, trust)?);
                }
                format!(
                    "{}EXISTS {{ MATCH {pattern}{} }}",
                    if *exists { "" } else { "NOT " },
                    self.bind(&m, &preds)
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

/// Sort keys with the id appended as the final tie-breaker.
fn sort_keys<'a>(t: &'a NodeType, conn: &Connection<'a>) -> Vec<(&'a Field, bool)> {
    let mut keys: Vec<(&'a Field, bool)> =
        conn.order.iter().map(|k| (k.field, k.descending)).collect();
    if !keys.iter().any(|(f, _)| f.is_id) {
        keys.push((t.id_field(), false));
    }
    keys
}

/// The map of a row's edge properties, read from the relationship `r`.
fn edge_props(r: &str, props: &[EdgeProp<'_>]) -> String {
    let parts = props
        .iter()
        .map(|p| {
            let col = format!("{r}.`{}`", p.field.name);
            format!(
                "`{}`: {}",
                p.key,
                masked(read_expr(col, &p.field.kind), p.access)
            )
        })
        .collect::<Vec<_>>();
    format!("{{{}}}", parts.join(", "))
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

fn where_clause(preds: &[&str]) -> String {
    if preds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", preds.join(" AND "))
    }
}

/// What follows the clause that binds a node: the predicates reading none of
/// its derived columns in a WHERE on that clause (where an index serves them),
/// then one `WITH` computing the derived columns in `computed` (alias,
/// expression) once per row, and the other predicates in a WHERE on it.
fn bound(preds: &[Pred], computed: &[(String, String)]) -> String {
    let early: Vec<&str> = preds
        .iter()
        .filter(|p| !p.derived)
        .map(|p| p.text.as_str())
        .collect();
    let late: Vec<&str> = preds
        .iter()
        .filter(|p| p.derived)
        .map(|p| p.text.as_str())
        .collect();
    format!(
        "{}{}{}",
        where_clause(&early),
        with_derived(computed, !late.is_empty()),
        where_clause(&late)
    )
}

/// `WITH *, <expr> AS <alias>, ...`; nothing when there is nothing to compute,
/// unless `filtering` (a WHERE follows, which needs a clause to stand on).
fn with_derived(computed: &[(String, String)], filtering: bool) -> String {
    if computed.is_empty() {
        return if filtering {
            " WITH *".to_string()
        } else {
            String::new()
        };
    }
    let items = computed
        .iter()
        .map(|(alias, expr)| format!("{expr} AS {alias}"))
        .collect::<Vec<_>>();
    format!(" WITH *, {}", items.join(", "))
}

/// A COUNT subquery whose conditions follow a `WITH` needs an explicit RETURN.
fn count_return(preds: &[Pred], v: &str) -> String {
    if preds.iter().any(|p| p.derived) {
        format!(" RETURN {v}")
    } else {
        String::new()
    }
}

/// How a value of `kind` is read out: dates as `YYYY-MM-DD` strings.
fn read_expr(col: String, kind: &ScalarKind) -> String {
    match kind {
        ScalarKind::Date => format!("toString({col})"),
        _ => col,
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
    let value = format!("toString({expr})");
    let body = mask
        .pieces()
        .iter()
        .map(|piece| match *piece {
            Piece::Left(n) => format!("left({value}, {n})"),
            Piece::Text(t) => format!("'{t}'"),
            Piece::Right(n) => format!("right({value}, {n})"),
        })
        .collect::<Vec<_>>()
        .join(" + ");
    format!("CASE WHEN {expr} IS NULL THEN null ELSE {body} END")
}
