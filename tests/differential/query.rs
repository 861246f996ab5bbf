//! The query AST the generator draws, [`finalize`] (a response key per list
//! relationship, one root with a second page), and rendering it as GraphQL text
//! and variables.

use std::fmt::Write as _;

use mandate_schema::ScalarKind;
use serde_json::{json, Map, Value};

use crate::city::City;

/// `@include(if: $b)` (or `@skip`) with the value the variable carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dir {
    pub(crate) include: bool,
    pub(crate) value: bool,
    /// Declared with a default and not sent.
    pub(crate) default: bool,
}

impl Dir {
    pub(crate) fn keeps(d: &Option<Dir>) -> bool {
        d.is_none_or(|d| d.include == d.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    StartsWith,
    IsNull,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::In => "in",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::StartsWith => "startsWith",
            Op::IsNull => "isNull",
        }
    }
}

/// A `where` object: its entries all hold.
#[derive(Debug, Clone)]
pub(crate) struct Where(pub(crate) Vec<Entry>);

#[derive(Debug, Clone)]
pub(crate) enum Entry {
    And(Vec<Where>),
    Or(Vec<Where>),
    Not(Box<Where>),
    Scalar {
        field: String,
        ops: Vec<(Op, Value)>,
    },
    Rel {
        rel: String,
        exists: Option<bool>,
        inner: Option<Box<Where>>,
    },
}

impl Entry {
    pub(crate) fn key(&self) -> &str {
        match self {
            Entry::And(_) => "AND",
            Entry::Or(_) => "OR",
            Entry::Not(_) => "NOT",
            Entry::Scalar { field, .. } => field,
            Entry::Rel { rel, .. } => rel,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Args {
    pub(crate) filter: Option<Where>,
    pub(crate) filter_var: bool,
    /// (field, descending; None = direction omitted).
    pub(crate) order: Vec<(String, Option<bool>)>,
    pub(crate) first: Option<i64>,
    pub(crate) first_var: bool,
    /// `after: $after` (the second page is asked with the first page's endCursor).
    pub(crate) after_var: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct PageSel {
    pub(crate) next: bool,
    pub(crate) prev: bool,
    pub(crate) start: bool,
    pub(crate) end: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct EdgesSel {
    pub(crate) node: Option<Vec<Item>>,
    pub(crate) props: Vec<String>,
    pub(crate) cursor: bool,
    pub(crate) typename: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ConnSel {
    pub(crate) total: bool,
    pub(crate) page: Option<PageSel>,
    pub(crate) edges: Option<EdgesSel>,
    pub(crate) typename: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    Field {
        name: String,
        alias: bool,
        dir: Option<Dir>,
    },
    Typename {
        dir: Option<Dir>,
    },
    One {
        rel: String,
        alias: bool,
        sel: Vec<Item>,
        dir: Option<Dir>,
    },
    Many {
        rel: String,
        /// Response key, unique in the document (set by [`finalize`]).
        key: String,
        args: Args,
        conn: ConnSel,
        dir: Option<Dir>,
    },
    Inline {
        typed: bool,
        sel: Vec<Item>,
        dir: Option<Dir>,
    },
    Spread {
        sel: Vec<Item>,
        dir: Option<Dir>,
    },
}

impl Item {
    pub(crate) fn dir(&self) -> &Option<Dir> {
        match self {
            Item::Field { dir, .. }
            | Item::Typename { dir }
            | Item::One { dir, .. }
            | Item::Many { dir, .. }
            | Item::Inline { dir, .. }
            | Item::Spread { dir, .. } => dir,
        }
    }

    pub(crate) fn set_dir(&mut self, d: Option<Dir>) {
        match self {
            Item::Field { dir, .. }
            | Item::Typename { dir }
            | Item::One { dir, .. }
            | Item::Many { dir, .. }
            | Item::Inline { dir, .. }
            | Item::Spread { dir, .. } => *dir = d,
        }
    }

    /// Response key (fragments have none).
    pub(crate) fn key(&self) -> String {
        match self {
            Item::Field { name, alias, .. } => {
                if *alias {
                    format!("{name}_a")
                } else {
                    name.clone()
                }
            }
            Item::Typename { .. } => "__typename".into(),
            Item::One { rel, alias, .. } => {
                if *alias {
                    format!("{rel}_a")
                } else {
                    rel.clone()
                }
            }
            Item::Many { key, .. } => key.clone(),
            Item::Inline { .. } | Item::Spread { .. } => String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum RootKind {
    Lookup {
        id: String,
        id_var: bool,
        sel: Vec<Item>,
    },
    List {
        args: Args,
        conn: ConnSel,
    },
    /// `_entities(representations:)`: (type, id) per representation, and one
    /// inline fragment per (type, selection).
    Entities {
        reps: Vec<(String, String)>,
        reps_var: bool,
        typename: bool,
        parts: Vec<(String, Vec<Item>)>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Root {
    pub(crate) ty: String,
    pub(crate) kind: RootKind,
    pub(crate) dir: Option<Dir>,
}

#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) roots: Vec<Root>,
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) combo: usize,
    pub(crate) query: Query,
    /// Seeds of the other variants' values.
    pub(crate) seeds: Vec<u64>,
}

/// Gives every list relationship a response key of its own, and lets only the
/// first root ask for a second page.
pub(crate) fn finalize(q: &mut Query) {
    fn items(sel: &mut [Item], n: &mut usize) {
        for it in sel {
            match it {
                Item::Many { rel, key, conn, .. } => {
                    *key = format!("{rel}_{n}");
                    *n += 1;
                    if let Some(node) = conn.edges.as_mut().and_then(|e| e.node.as_mut()) {
                        items(node, n);
                    }
                }
                Item::One { sel, .. } | Item::Inline { sel, .. } | Item::Spread { sel, .. } => {
                    items(sel, n)
                }
                Item::Field { .. } | Item::Typename { .. } => {}
            }
        }
    }
    let mut n = 0;
    for (i, root) in q.roots.iter_mut().enumerate() {
        match &mut root.kind {
            RootKind::Lookup { sel, .. } => items(sel, &mut n),
            RootKind::Entities { parts, .. } => {
                for (_, sel) in parts {
                    items(sel, &mut n);
                }
            }
            RootKind::List { args, conn } => {
                if i > 0 {
                    args.after_var = false;
                }
                if let Some(node) = conn.edges.as_mut().and_then(|e| e.node.as_mut()) {
                    items(node, &mut n);
                }
            }
        }
    }
}

pub(crate) fn root_key(q: &Query, i: usize, city: &City) -> String {
    if q.roots.len() > 1 {
        format!("r{i}")
    } else {
        let root = &q.roots[i];
        match root.kind {
            RootKind::Lookup { .. } => city.ty(&root.ty).lookup_field(),
            RootKind::List { .. } => city.ty(&root.ty).plural.clone(),
            RootKind::Entities { .. } => "_entities".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering the AST as GraphQL text and variables
// ---------------------------------------------------------------------------------------------

struct Render<'a> {
    city: &'a City,
    defs: Vec<String>,
    vars: Map<String, Value>,
    frags: Vec<String>,
    n: usize,
}

pub(crate) fn render(q: &Query, city: &City) -> (String, Value) {
    let mut r = Render {
        city,
        defs: Vec::new(),
        vars: Map::new(),
        frags: Vec::new(),
        n: 0,
    };
    let mut body = String::new();
    for (i, root) in q.roots.iter().enumerate() {
        if q.roots.len() > 1 {
            write!(body, "r{i}: ").unwrap();
        }
        match &root.kind {
            RootKind::Lookup { id, id_var, sel } => {
                body.push_str(&city.ty(&root.ty).lookup_field());
                if *id_var {
                    let v = r.var("id", "ID!", Value::String(id.clone()));
                    write!(body, "(id: ${v})").unwrap();
                } else {
                    write!(body, "(id: {})", Value::String(id.clone())).unwrap();
                }
                r.dir(&root.dir, &mut body);
                let inner = r.items(&root.ty, sel);
                write!(body, " {{ {inner} }} ").unwrap();
            }
            RootKind::Entities {
                reps,
                reps_var,
                typename,
                parts,
            } => {
                let json_reps: Vec<Value> = reps
                    .iter()
                    .map(|(ty, id)| json!({"__typename": ty, "id": id}))
                    .collect();
                if *reps_var {
                    let v = r.var("reps", "[_Any!]!", Value::Array(json_reps));
                    write!(body, "_entities(representations: ${v})").unwrap();
                } else {
                    let literal: Vec<String> = reps
                        .iter()
                        .map(|(ty, id)| format!("{{__typename: {}, id: {}}}", json!(ty), json!(id)))
                        .collect();
                    write!(body, "_entities(representations: [{}])", literal.join(", ")).unwrap();
                }
                r.dir(&root.dir, &mut body);
                body.push_str(" { ");
                if *typename {
                    body.push_str("__typename ");
                }
                for (ty, sel) in parts {
                    let inner = r.items(ty, sel);
                    write!(body, "... on {ty} {{ {inner} }} ").unwrap();
                }
                body.push_str("} ");
            }
            RootKind::List { args, conn } => {
                body.push_str(&city.ty(&root.ty).plural);
                let a = r.args(&root.ty, args);
                body.push_str(&a);
                r.dir(&root.dir, &mut body);
                let inner = r.conn(&root.ty, conn);
                write!(body, " {{ {inner} }} ").unwrap();
            }
        }
    }
    let mut text = String::new();
    if r.defs.is_empty() {
        text.push_str("query Diff");
    } else {
        write!(text, "query Diff({})", r.defs.join(", ")).unwrap();
    }
    write!(text, " {{ {body}}}").unwrap();
    for f in &r.frags {
        write!(text, "\n{f}").unwrap();
    }
    (text, Value::Object(r.vars))
}

impl Render<'_> {
    fn var(&mut self, prefix: &str, ty: &str, value: Value) -> String {
        let name = format!("{prefix}{}", self.n);
        self.n += 1;
        self.defs.push(format!("${name}: {ty}"));
        self.vars.insert(name.clone(), value);
        name
    }

    fn dir(&mut self, d: &Option<Dir>, out: &mut String) {
        let Some(d) = d else { return };
        let name = format!("b{}", self.n);
        self.n += 1;
        if d.default {
            self.defs.push(format!("${name}: Boolean = {}", d.value));
        } else {
            self.defs.push(format!("${name}: Boolean!"));
            self.vars.insert(name.clone(), Value::Bool(d.value));
        }
        let which = if d.include { "include" } else { "skip" };
        write!(out, " @{which}(if: ${name})").unwrap();
    }

    fn items(&mut self, ty: &str, sel: &[Item]) -> String {
        let mut out = String::new();
        for it in sel {
            match it {
                Item::Field { name, alias, dir } => {
                    if *alias {
                        write!(out, "{name}_a: ").unwrap();
                    }
                    out.push_str(name);
                    self.dir(dir, &mut out);
                }
                Item::Typename { dir } => {
                    out.push_str("__typename");
                    self.dir(dir, &mut out);
                }
                Item::One {
                    rel,
                    alias,
                    sel,
                    dir,
                } => {
                    let target = self.target(ty, rel);
                    if *alias {
                        write!(out, "{rel}_a: ").unwrap();
                    }
                    out.push_str(rel);
                    self.dir(dir, &mut out);
                    let inner = self.items(&target, sel);
                    write!(out, " {{ {inner} }}").unwrap();
                }
                Item::Many {
                    rel,
                    key,
                    args,
                    conn,
                    dir,
                } => {
                    let target = self.target(ty, rel);
                    write!(out, "{key}: {rel}").unwrap();
                    let a = self.args(&target, args);
                    out.push_str(&a);
                    self.dir(dir, &mut out);
                    let inner = self.conn(&target, conn);
                    write!(out, " {{ {inner} }}").unwrap();
                }
                Item::Inline { typed, sel, dir } => {
                    out.push_str("...");
                    if *typed {
                        write!(out, " on {ty}").unwrap();
                    }
                    self.dir(dir, &mut out);
                    let inner = self.items(ty, sel);
                    write!(out, " {{ {inner} }}").unwrap();
                }
                Item::Spread { sel, dir } => {
                    let name = format!("F{}", self.n);
                    self.n += 1;
                    write!(out, "...{name}").unwrap();
                    self.dir(dir, &mut out);
                    let inner = self.items(ty, sel);
                    self.frags
                        .push(format!("fragment {name} on {ty} {{ {inner} }}"));
                }
            }
            out.push(' ');
        }
        out
    }

    fn target(&self, ty: &str, rel: &str) -> String {
        self.city.ty(ty).relation(rel).unwrap().target.clone()
    }

    fn args(&mut self, ty: &str, a: &Args) -> String {
        let mut parts = Vec::new();
        if let Some(w) = &a.filter {
            if a.filter_var {
                let v = self.var("w", &format!("{ty}Where"), self.where_json(ty, w));
                parts.push(format!("where: ${v}"));
            } else {
                parts.push(format!("where: {}", self.where_literal(ty, w)));
            }
        }
        if !a.order.is_empty() {
            let keys = a
                .order
                .iter()
                .map(|(f, desc)| {
                    let field = sort_enum(f);
                    match desc {
                        None => format!("{{field: {field}}}"),
                        Some(d) => format!(
                            "{{field: {field}, direction: {}}}",
                            if *d { "DESC" } else { "ASC" }
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!("orderBy: [{keys}]"));
        }
        if let Some(n) = a.first {
            if a.first_var {
                let v = self.var("n", "Int", json!(n));
                parts.push(format!("first: ${v}"));
            } else {
                parts.push(format!("first: {n}"));
            }
        }
        if a.after_var {
            self.defs.push("$after: String".into());
            parts.push("after: $after".into());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("({})", parts.join(", "))
        }
    }

    fn conn(&mut self, ty: &str, c: &ConnSel) -> String {
        let mut out = String::new();
        if c.total {
            out.push_str("totalCount ");
        }
        if c.typename {
            out.push_str("__typename ");
        }
        if let Some(p) = &c.page {
            out.push_str("pageInfo { ");
            for (on, name) in [
                (p.next, "hasNextPage"),
                (p.prev, "hasPreviousPage"),
                (p.start, "startCursor"),
                (p.end, "endCursor"),
            ] {
                if on {
                    write!(out, "{name} ").unwrap();
                }
            }
            out.push_str("} ");
        }
        if let Some(e) = &c.edges {
            out.push_str("edges { ");
            if e.cursor {
                out.push_str("cursor ");
            }
            if e.typename {
                out.push_str("__typename ");
            }
            for p in &e.props {
                write!(out, "{p} ").unwrap();
            }
            if let Some(node) = &e.node {
                let inner = self.items(ty, node);
                write!(out, "node {{ {inner} }} ").unwrap();
            }
            out.push_str("} ");
        }
        out
    }

    fn kind(&self, ty: &str, field: &str) -> ScalarKind {
        self.city.ty(ty).field(field).unwrap().kind.clone()
    }

    fn literal(kind: &ScalarKind, v: &Value) -> String {
        match (kind, v) {
            (_, Value::Array(items)) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| Self::literal(kind, i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (ScalarKind::Enum(_), Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        }
    }

    fn where_literal(&self, ty: &str, w: &Where) -> String {
        let entries =
            w.0.iter()
                .map(|e| match e {
                    Entry::And(ws) | Entry::Or(ws) => format!(
                        "{}: [{}]",
                        e.key(),
                        ws.iter()
                            .map(|w| self.where_literal(ty, w))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Entry::Not(w) => format!("NOT: {}", self.where_literal(ty, w)),
                    Entry::Scalar { field, ops } => {
                        let kind = self.kind(ty, field);
                        let ops = ops
                            .iter()
                            .map(|(op, v)| format!("{}: {}", op.name(), Self::literal(&kind, v)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!("{field}: {{{ops}}}")
                    }
                    Entry::Rel { rel, exists, inner } => {
                        let target = self.target(ty, rel);
                        let mut parts = Vec::new();
                        if let Some(x) = exists {
                            parts.push(format!("exists: {x}"));
                        }
                        if let Some(w) = inner {
                            parts.push(format!("where: {}", self.where_literal(&target, w)));
                        }
                        format!("{rel}: {{{}}}", parts.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
        format!("{{{entries}}}")
    }

    fn where_json(&self, ty: &str, w: &Where) -> Value {
        let mut m = Map::new();
        for e in &w.0 {
            let v = match e {
                Entry::And(ws) | Entry::Or(ws) => {
                    Value::Array(ws.iter().map(|w| self.where_json(ty, w)).collect())
                }
                Entry::Not(w) => self.where_json(ty, w),
                Entry::Scalar { ops, .. } => Value::Object(
                    ops.iter()
                        .map(|(op, v)| (op.name().to_string(), v.clone()))
                        .collect(),
                ),
                Entry::Rel { rel, exists, inner } => {
                    let target = self.target(ty, rel);
                    let mut o = Map::new();
                    if let Some(x) = exists {
                        o.insert("exists".into(), Value::Bool(*x));
                    }
                    if let Some(w) = inner {
                        o.insert("where".into(), self.where_json(&target, w));
                    }
                    Value::Object(o)
                }
            };
            m.insert(e.key().to_string(), v);
        }
        Value::Object(m)
    }
}

/// `birthDate` → `BIRTH_DATE`.
fn sort_enum(field: &str) -> String {
    let mut out = String::new();
    for (i, c) in field.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

pub(crate) fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
