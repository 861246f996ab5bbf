//! The reference evaluator: the answer a query must get under a mandate
//! (validation, `where` in Cypher's three-valued logic, `orderBy`, paging,
//! masks, async-graphql's merging), and the comparison of answers.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::city::{City, Row};
use crate::oracle::{Access, Mandate};
use crate::query::{
    root_key, upper_first, Args, ConnSel, Dir, EdgesSel, Entry, Item, Op, Query, RootKind, Where,
};
use crate::EMPTY_OBJECT_IS_NULL;

/// What the hub must answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expect {
    /// An error with this code, and no data.
    Reject(&'static str),
    /// This `data`.
    Data(Value),
}

/// async-graphql's merge of two results under one response key
/// (`insert_value` in resolver_utils/container.rs).
fn merge_results(prev: Value, new: Value) -> Value {
    match (prev, new) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                let merged = match a.remove(&k) {
                    Some(old) => merge_results(old, v),
                    None => v,
                };
                a.insert(k, merged);
            }
            Value::Object(a)
        }
        (Value::Array(mut a), Value::Array(b)) => {
            for (x, y) in a.iter_mut().zip(b) {
                if x.is_object() && y.is_object() {
                    *x = merge_results(x.take(), y);
                }
            }
            Value::Array(a)
        }
        (prev, _) => prev,
    }
}

/// An object value, as the hub renders it.
fn object(m: Map<String, Value>) -> Value {
    if m.is_empty() && EMPTY_OBJECT_IS_NULL {
        Value::Null
    } else {
        Value::Object(m)
    }
}

/// Stands for any cursor string (cursors are sealed with a random nonce).
const CURSOR: &str = "<cursor>";

pub(crate) struct Reference<'a> {
    pub(crate) city: &'a City,
    pub(crate) m: &'a Mandate,
}

impl Reference<'_> {
    /// The answer to `q`; `after` is the id the `$after` cursor points at.
    pub(crate) fn answer(&self, q: &Query, after: Option<&str>) -> Expect {
        if !self.m.purpose_ok {
            return Expect::Reject("PURPOSE_NOT_ALLOWED");
        }
        if self.m.nothing_granted {
            return Expect::Reject("NOTHING_GRANTED");
        }
        if !self.valid(q) {
            return Expect::Reject("GRAPHQL_VALIDATION_FAILED");
        }
        let mut data = Map::new();
        for (i, root) in q.roots.iter().enumerate() {
            if !Dir::keeps(&root.dir) {
                continue;
            }
            let key = root_key(q, i, self.city);
            let v = match &root.kind {
                RootKind::Lookup { id, sel, .. } => {
                    if self.city.row(&root.ty, id).is_some() && self.m.sees(&root.ty, id) {
                        self.node(&root.ty, id, &[sel])
                    } else {
                        Value::Null
                    }
                }
                RootKind::List { args, conn } => {
                    let after = if args.after_var { after } else { None };
                    self.connection(&root.ty, None, args, &[conn], after).0
                }
                RootKind::Entities {
                    reps,
                    typename,
                    parts,
                    ..
                } => {
                    // A type outside the mandate is refused as one that does not exist.
                    if reps.iter().any(|(ty, _)| !self.m.is_entity(ty)) {
                        return Expect::Reject("BAD_USER_INPUT");
                    }
                    let typename_item = [Item::Typename { dir: None }];
                    let typename: &[Item] = if *typename { &typename_item } else { &[] };
                    let entities = reps.iter().map(|(ty, id)| {
                        if self.city.row(ty, id).is_none() || !self.m.sees(ty, id) {
                            return Value::Null;
                        }
                        let mut sets = vec![typename];
                        sets.extend(
                            parts
                                .iter()
                                .filter(|(t, _)| t == ty)
                                .map(|(_, sel)| sel.as_slice()),
                        );
                        self.node(ty, id, &sets)
                    });
                    Value::Array(entities.collect())
                }
            };
            data.insert(key, v);
        }
        Expect::Data(object(data))
    }

    /// The id of the last row on the first page of the root asking for a second.
    pub(crate) fn last_on_first_page(&self, q: &Query) -> Option<String> {
        let root = q.roots.first()?;
        let RootKind::List { args, conn } = &root.kind else {
            return None;
        };
        if !args.after_var || !Dir::keeps(&root.dir) {
            return None;
        }
        self.connection(&root.ty, None, args, &[conn], None).1
    }

    // -- validation: every name anywhere in the document, skipped or not ------

    fn valid(&self, q: &Query) -> bool {
        q.roots.iter().all(|root| {
            if let RootKind::Entities { parts, .. } = &root.kind {
                // `_entities` and `_Any` exist only where some type is an
                // entity; a fragment may name only members of `_Entity`.
                return self.m.types.keys().any(|t| self.m.is_entity(t))
                    && parts
                        .iter()
                        .all(|(ty, sel)| self.m.is_entity(ty) && self.valid_items(ty, sel));
            }
            let Some(_) = self.m.types.get(&root.ty) else {
                return false;
            };
            match &root.kind {
                RootKind::Lookup { sel, .. } => {
                    self.m.full(&root.ty, "id") && self.valid_items(&root.ty, sel)
                }
                RootKind::List { args, conn } => {
                    self.valid_args(&root.ty, args) && self.valid_conn(&root.ty, None, conn)
                }
                RootKind::Entities { .. } => unreachable!("checked above"),
            }
        })
    }

    fn valid_items(&self, ty: &str, sel: &[Item]) -> bool {
        sel.iter().all(|it| match it {
            Item::Field { name, .. } => self.m.field(ty, name).is_some(),
            Item::Typename { .. } => true,
            Item::One { rel, sel, .. } => {
                self.m.relation_visible(self.city, ty, rel)
                    && self.valid_items(self.target(ty, rel), sel)
            }
            Item::Many {
                rel, args, conn, ..
            } => {
                let target = self.target(ty, rel);
                self.m.relation_visible(self.city, ty, rel)
                    && self.valid_args(target, args)
                    && self.valid_conn(target, Some((ty, rel)), conn)
            }
            Item::Inline { sel, .. } | Item::Spread { sel, .. } => self.valid_items(ty, sel),
        })
    }

    fn valid_args(&self, ty: &str, a: &Args) -> bool {
        a.filter.as_ref().is_none_or(|w| self.valid_where(ty, w))
            && a.order.iter().all(|(f, _)| self.m.full(ty, f))
    }

    fn valid_where(&self, ty: &str, w: &Where) -> bool {
        w.0.iter().all(|e| match e {
            Entry::And(ws) | Entry::Or(ws) => ws.iter().all(|w| self.valid_where(ty, w)),
            Entry::Not(w) => self.valid_where(ty, w),
            Entry::Scalar { field, .. } => self.m.full(ty, field),
            Entry::Rel { rel, inner, .. } => {
                self.m.relation_visible(self.city, ty, rel)
                    && inner
                        .as_ref()
                        .is_none_or(|w| self.valid_where(self.target(ty, rel), w))
            }
        })
    }

    fn valid_conn(&self, ty: &str, owner: Option<(&str, &str)>, c: &ConnSel) -> bool {
        let Some(e) = &c.edges else { return true };
        let props_ok = e.props.iter().all(|p| {
            owner
                .and_then(|(o, r)| self.m.edge_props(o, r))
                .is_some_and(|props| props.contains_key(p))
        });
        props_ok && e.node.as_ref().is_none_or(|n| self.valid_items(ty, n))
    }

    fn target(&self, ty: &str, rel: &str) -> &str {
        &self.city.ty(ty).relation(rel).unwrap().target
    }

    // -- execution ----------------------------------------------------------------

    /// GraphQL's CollectFields: fragments expanded, skips applied, items grouped
    /// by response key in first-seen order.
    fn collect<'q>(sets: &[&'q [Item]]) -> Vec<(String, Vec<&'q Item>)> {
        fn walk<'q>(sel: &'q [Item], out: &mut Vec<(String, Vec<&'q Item>)>) {
            for it in sel {
                if !Dir::keeps(it.dir()) {
                    continue;
                }
                match it {
                    Item::Inline { sel, .. } | Item::Spread { sel, .. } => walk(sel, out),
                    _ => {
                        let key = it.key();
                        match out.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, v)) => v.push(it),
                            None => out.push((key, vec![it])),
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for s in sets {
            walk(s, &mut out);
        }
        out
    }

    fn node(&self, ty: &str, id: &str, sets: &[&[Item]]) -> Value {
        let row = self.city.row(ty, id).expect("row exists");
        let mut obj = Map::new();
        for (key, items) in Self::collect(sets) {
            let v = if EMPTY_OBJECT_IS_NULL {
                // async-graphql resolves each occurrence of a response key on its
                // own and merges the results (first value wins unless both are
                // objects or lists), so an occurrence that came out null shadows
                // the others.
                items
                    .iter()
                    .map(|it| self.value(ty, id, row, &[*it]))
                    .reduce(merge_results)
                    .unwrap_or(Value::Null)
            } else {
                self.value(ty, id, row, &items)
            };
            obj.insert(key, v);
        }
        object(obj)
    }

    /// The value of one response key of a node, its occurrences merged.
    fn value(&self, ty: &str, id: &str, row: &Row, items: &[&Item]) -> Value {
        match items[0] {
            Item::Field { name, .. } => self.scalar(ty, id, row, name),
            Item::Typename { .. } => Value::String(ty.to_string()),
            Item::One { rel, .. } => {
                let target = self.target(ty, rel);
                let subs: Vec<&[Item]> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::One { sel, .. } => Some(sel.as_slice()),
                        _ => None,
                    })
                    .collect();
                self.city
                    .edges(ty, rel, id)
                    .iter()
                    .find(|(t, _)| self.m.sees(target, t))
                    .map_or(Value::Null, |(t, _)| self.node(target, t, &subs))
            }
            Item::Many { rel, args, .. } => {
                let target = self.target(ty, rel);
                let conns: Vec<&ConnSel> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Many { conn, .. } => Some(conn),
                        _ => None,
                    })
                    .collect();
                self.connection(target, Some((ty, rel, id)), args, &conns, None)
                    .0
            }
            Item::Inline { .. } | Item::Spread { .. } => unreachable!("expanded"),
        }
    }

    /// The value of `field` of one row as this mandate sees it: the stored value,
    /// except for a `@countOf` field, which counts the related rows the mandate
    /// sees (exactly the stored count when it sees them all).
    fn col(&self, ty: &str, id: &str, row: &Row, field: &str) -> Value {
        let counted = self
            .city
            .ty(ty)
            .field(field)
            .and_then(|f| f.count_of.as_deref());
        match counted {
            None => row.get(field).cloned().unwrap_or(Value::Null),
            Some(rel) => {
                let target = self.target(ty, rel);
                let seen = self
                    .city
                    .edges(ty, rel, id)
                    .iter()
                    .filter(|(t, _)| self.m.sees(target, t))
                    .count();
                Value::from(seen as u64)
            }
        }
    }

    fn scalar(&self, ty: &str, id: &str, row: &Row, field: &str) -> Value {
        let v = self.col(ty, id, row, field);
        match self.m.field(ty, field) {
            Some(Access::Full) => v,
            Some(Access::Masked(mask)) => apply_mask(mask, &v),
            None => unreachable!("validated"),
        }
    }

    /// A connection over all rows of `ty` (`anchor` None) or over the edges of a
    /// relationship; returns the value and the id of the last row shown.
    fn connection(
        &self,
        ty: &str,
        anchor: Option<(&str, &str, &str)>,
        args: &Args,
        conns: &[&ConnSel],
        after: Option<&str>,
    ) -> (Value, Option<String>) {
        let candidates: Vec<(&str, Option<&Row>)> = match anchor {
            None => self.city.rows[ty]
                .iter()
                .map(|r| (r["id"].as_str().unwrap(), None))
                .collect(),
            Some((owner, rel, id)) => self
                .city
                .edges(owner, rel, id)
                .iter()
                .map(|(t, props)| (t.as_str(), Some(props)))
                .collect(),
        };
        let rows: Vec<(&str, &Row, Option<&Row>)> = candidates
            .into_iter()
            .filter(|(id, _)| self.m.sees(ty, id))
            .map(|(id, props)| (id, self.city.row(ty, id).unwrap(), props))
            .filter(|(id, row, _)| {
                args.filter
                    .as_ref()
                    .is_none_or(|w| self.holds(ty, id, row, w) == Some(true))
            })
            .collect();
        let mut keys: Vec<(&str, bool)> = args
            .order
            .iter()
            .map(|(f, d)| (f.as_str(), d.unwrap_or(false)))
            .collect();
        if !keys.iter().any(|(f, _)| *f == "id") {
            keys.push(("id", false));
        }
        let sort_values = |id: &str, row: &Row| -> Vec<Value> {
            keys.iter().map(|(f, _)| self.col(ty, id, row, f)).collect()
        };
        let mut rows: Vec<_> = rows
            .into_iter()
            .map(|(id, row, props)| ((id, row, props), sort_values(id, row)))
            .collect();
        rows.sort_by(|a, b| order_rows(&a.1, &b.1, &keys));
        let rows: Vec<(&str, &Row, Option<&Row>)> = rows.into_iter().map(|(r, _)| r).collect();
        let total = rows.len();
        let start = match after {
            None => 0,
            Some(last) => rows
                .iter()
                .position(|(id, _, _)| *id == last)
                .map_or(total, |p| p + 1),
        };
        let first = args.first.unwrap_or(20) as usize;
        let shown = &rows[start..total.min(start + first)];
        let has_next = total - start > first;
        let last_shown = shown.last().map(|(id, _, _)| id.to_string());
        let (conn_type, edge_type) = match anchor {
            Some((owner, rel, _))
                if self.m.edge_props(owner, rel).is_some_and(|p| !p.is_empty()) =>
            {
                let base = format!("{owner}{}", upper_first(rel));
                (format!("{base}Connection"), format!("{base}Edge"))
            }
            _ => (format!("{ty}Connection"), format!("{ty}Edge")),
        };
        let mut out = Map::new();
        for c in conns {
            if c.total {
                out.insert("totalCount".into(), json!(total));
            }
            if c.typename {
                out.insert("__typename".into(), json!(conn_type));
            }
            if let Some(p) = &c.page {
                let cursor_of = |r: Option<&(&str, &Row, Option<&Row>)>| {
                    r.map_or(Value::Null, |_| json!(CURSOR))
                };
                let mut page = match out.remove("pageInfo") {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                if p.next {
                    page.insert("hasNextPage".into(), json!(has_next));
                }
                if p.prev {
                    page.insert("hasPreviousPage".into(), json!(after.is_some()));
                }
                if p.start {
                    page.insert("startCursor".into(), cursor_of(shown.first()));
                }
                if p.end {
                    page.insert("endCursor".into(), cursor_of(shown.last()));
                }
                out.insert("pageInfo".into(), Value::Object(page));
            }
        }
        let edge_sels: Vec<&EdgesSel> = conns.iter().filter_map(|c| c.edges.as_ref()).collect();
        if !edge_sels.is_empty() {
            let nodes: Vec<&[Item]> = edge_sels.iter().filter_map(|e| e.node.as_deref()).collect();
            let edges = shown
                .iter()
                .map(|(id, _, props)| {
                    let mut e = Map::new();
                    for s in &edge_sels {
                        if s.cursor {
                            e.insert("cursor".into(), json!(CURSOR));
                        }
                        if s.typename {
                            e.insert("__typename".into(), json!(edge_type));
                        }
                        for p in &s.props {
                            let (owner, rel, _) =
                                anchor.expect("edge properties on a relationship");
                            let access = self.m.edge_props(owner, rel).unwrap()[p];
                            let raw = props.and_then(|r| r.get(p)).cloned().unwrap_or(Value::Null);
                            let v = match access {
                                Access::Full => raw,
                                Access::Masked(mask) => apply_mask(mask, &raw),
                            };
                            e.insert(p.clone(), v);
                        }
                    }
                    if !nodes.is_empty() {
                        e.insert("node".into(), self.node(ty, id, &nodes));
                    }
                    Value::Object(e)
                })
                .collect();
            out.insert("edges".into(), Value::Array(edges));
        }
        (Value::Object(out), last_shown)
    }

    /// A `where` over one row, in Cypher's three-valued logic (None: unknown).
    fn holds(&self, ty: &str, id: &str, row: &Row, w: &Where) -> Option<bool> {
        and3(w.0.iter().map(|e| self.entry(ty, id, row, e)))
    }

    fn entry(&self, ty: &str, id: &str, row: &Row, e: &Entry) -> Option<bool> {
        match e {
            Entry::And(ws) => and3(ws.iter().map(|w| self.holds(ty, id, row, w))),
            Entry::Or(ws) => or3(ws.iter().map(|w| self.holds(ty, id, row, w))),
            Entry::Not(w) => self.holds(ty, id, row, w).map(|b| !b),
            Entry::Scalar { field, ops } => {
                let v = self.col(ty, id, row, field);
                and3(ops.iter().map(|(op, x)| compare(&v, *op, x)))
            }
            Entry::Rel { rel, exists, inner } => {
                let target = self.target(ty, rel);
                let any = self.city.edges(ty, rel, id).iter().any(|(t, _)| {
                    self.m.sees(target, t)
                        && inner.as_ref().is_none_or(|w| {
                            let r = self.city.row(target, t).unwrap();
                            self.holds(target, t, r, w) == Some(true)
                        })
                });
                Some(any == exists.unwrap_or(true))
            }
        }
    }
}

fn and3(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut out = Some(true);
    for i in items {
        match i {
            Some(false) => return Some(false),
            None => out = None,
            Some(true) => {}
        }
    }
    out
}

fn or3(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut out = Some(false);
    for i in items {
        match i {
            Some(true) => return Some(true),
            None => out = None,
            Some(false) => {}
        }
    }
    out
}

/// Two non-null stored values of one field.
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.as_i64().cmp(&y.as_i64()).then_with(|| {
            x.as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal)
        }),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => panic!("incomparable values {a} and {b}"),
    }
}

/// One comparison of a stored value (Cypher: null compares to unknown, except
/// `IN []`, which is false, and `IS NULL`).
fn compare(v: &Value, op: Op, x: &Value) -> Option<bool> {
    if op == Op::IsNull {
        return Some(v.is_null() == x.as_bool().unwrap());
    }
    if op == Op::In && x.as_array().is_some_and(Vec::is_empty) {
        return Some(false);
    }
    if v.is_null() {
        return None;
    }
    Some(match op {
        Op::Eq => cmp_values(v, x) == Ordering::Equal,
        Op::In => x
            .as_array()
            .unwrap()
            .iter()
            .any(|i| cmp_values(v, i) == Ordering::Equal),
        Op::Gt => cmp_values(v, x) == Ordering::Greater,
        Op::Gte => cmp_values(v, x) != Ordering::Less,
        Op::Lt => cmp_values(v, x) == Ordering::Less,
        Op::Lte => cmp_values(v, x) != Ordering::Greater,
        Op::StartsWith => v.as_str().unwrap().starts_with(x.as_str().unwrap()),
        Op::IsNull => unreachable!(),
    })
}

/// Neo4j's order: nulls last ascending, first descending; then the next key.
fn order_rows(a: &[Value], b: &[Value], keys: &[(&str, bool)]) -> Ordering {
    for ((x, y), (_, desc)) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => cmp_values(x, y),
        };
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A mask applied to the stored value rendered as a string; null stays null.
fn apply_mask(mask: &str, v: &Value) -> Value {
    let s = match v {
        Value::Null => return Value::Null,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let chars: Vec<char> = s.chars().collect();
    let left = |n: usize| chars[..n.min(chars.len())].iter().collect::<String>();
    let right = |n: usize| {
        chars[chars.len().saturating_sub(n)..]
            .iter()
            .collect::<String>()
    };
    Value::String(match mask {
        "keep_ends" => format!("{}********{}", left(6), right(4)),
        "keep_start" => format!("{}************", left(6)),
        "phone" => format!("{}****{}", left(3), right(4)),
        "first_char" => format!("{}**", left(1)),
        "year_only" => format!("{}-**-**", left(4)),
        "redact" => "***".to_string(),
        other => panic!("unknown mask {other}"),
    })
}

/// Exact JSON equality, except that [`CURSOR`] stands for any string.
fn same(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::String(e), Value::String(_)) if e == CURSOR => true,
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => expected == got,
    }
}

/// Paths where `got` differs from `expected` (at most `max`).
pub(crate) fn differences(
    expected: &Value,
    got: &Value,
    path: &str,
    out: &mut Vec<String>,
    max: usize,
) {
    if out.len() >= max || same(expected, got) {
        return;
    }
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (a.get(k), b.get(k));
                let p = format!("{path}.{k}");
                match (x, y) {
                    (Some(x), Some(y)) => differences(x, y, &p, out, max),
                    _ => out.push(format!("{p}: expected {x:?}, got {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{path}[{i}]"), out, max);
            }
        }
        _ => out.push(format!("{path}: expected {expected}, got {got}")),
    }
}

pub(crate) fn agrees(expect: &Expect, got: &Value) -> bool {
    match expect {
        Expect::Reject(code) => {
            got["errors"][0]["extensions"]["code"] == *code
                && got.get("data").is_none_or(Value::is_null)
        }
        Expect::Data(data) => got.get("errors").is_none() && same(data, &got["data"]),
    }
}
