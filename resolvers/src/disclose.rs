//! What each request disclosed, reported into its [`Disclosure`].
//!
//! The root resolvers walk the IR alongside the answer: the fields read
//! (selections, filters and sort keys; masked ones marked), and the ids of the data
//! subjects (residents) the answer discloses facts about, from the compiled
//! query's hidden keys:
//!
//! - every data subject shown;
//! - the subjects a shown node's fields are facts about (`@describes`: a
//!   household read is a disclosure about each of its members);
//! - the subjects of a small count: a `totalCount` of at most [`SMALL_COUNT`]
//!   rows (of a subject type, or of a `@describes` type) singles people out — with
//!   a filter it answers questions about each of them — so each is linked; a larger
//!   count is an aggregate and links nobody;
//! - every subject a filter names by id (`id: {eq}` / `{in}` on a subject type,
//!   wherever the filter stands): the answer — rows, a count padded past
//!   [`SMALL_COUNT`] with other ids, or a page of none whose `hasNextPage` says
//!   whether she matched — answers a question about each of them.
//!
//! Values are never recorded.

use std::collections::BTreeSet;

use mandate_audit::Disclosure;
use mandate_schema::{Catalog, NodeType, Relation};

use crate::access::{AccessPlan, FieldAccess};
use crate::answer::{Answer, Entities, Item, Node, Page};
use crate::ir::{
    CompareOp, Connection, EntityFetch, Filter, NodeItem, NodeSelection, RootField, RootKind,
};

/// A count of at most this many rows is a disclosure about each row counted.
pub(crate) const SMALL_COUNT: u64 = 10;

/// Records what `root` read and which subjects `answer` (its answer) disclosed.
pub(crate) fn root(
    disclosure: &Disclosure,
    catalog: &Catalog,
    plan: &AccessPlan,
    root: &RootField<'_>,
    answer: &Answer,
) {
    walk(disclosure, catalog, plan, |w| match (&root.kind, answer) {
        (RootKind::Lookup { selection, .. }, Answer::Lookup(node)) => {
            w.field(&root.node.name, "id");
            w.node(root.node, selection, node.as_ref());
        }
        (RootKind::List(conn), Answer::List(page)) => w.connection(root.node, None, conn, page),
        // The answer is decoded from `root`, so the shapes always agree.
        (RootKind::Lookup { .. }, _) | (RootKind::List(_), _) => {}
    });
}

/// Records what an entity fetch read and which subjects `answer` disclosed.
pub(crate) fn entities(
    disclosure: &Disclosure,
    catalog: &Catalog,
    plan: &AccessPlan,
    fetch: &EntityFetch<'_>,
    answer: &Entities,
) {
    walk(disclosure, catalog, plan, |w| {
        for (group, found) in fetch.groups.iter().zip(&answer.groups) {
            w.field(&group.node.name, "id");
            for (_, node) in found {
                w.node(group.node, &group.selection, Some(node));
            }
        }
    });
}

/// Records that the access receipts of resident `id` were read.
/// The resident is a data subject of the answer only when it listed something.
pub(crate) fn receipts(disclosure: &Disclosure, id: &str, listed: bool) {
    let subject = listed.then(|| id.to_string());
    disclosure.add(["AccessReceipt".to_string()], subject);
}

/// Runs `f` over a fresh walk and adds what it found.
fn walk(
    disclosure: &Disclosure,
    catalog: &Catalog,
    plan: &AccessPlan,
    f: impl FnOnce(&mut Walk<'_>),
) {
    let mut fields = BTreeSet::new();
    let mut subjects = BTreeSet::new();
    f(&mut Walk {
        catalog,
        plan,
        fields: &mut fields,
        subjects: &mut subjects,
    });
    disclosure.add(fields, subjects);
}

struct Walk<'a> {
    catalog: &'a Catalog,
    plan: &'a AccessPlan,
    fields: &'a mut BTreeSet<String>,
    subjects: &'a mut BTreeSet<String>,
}

impl Walk<'_> {
    fn field(&mut self, ty: &str, name: &str) {
        let masked = matches!(self.plan.field(ty, name), Some(FieldAccess::Masked(_)));
        self.fields.insert(Disclosure::field_name(ty, name, masked));
    }

    fn relation(&mut self, t: &NodeType, rel: &Relation) {
        self.fields.insert(format!("{}.{}", t.name, rel.name));
    }

    /// Row predicates name what they test (see [`Filter`]).
    fn filter(&mut self, ty: &str, f: &Filter) {
        match f {
            Filter::And(parts) | Filter::Or(parts) => parts.iter().for_each(|p| self.filter(ty, p)),
            Filter::Not(inner) => self.filter(ty, inner),
            Filter::Compare { field, op, value } => {
                self.field(ty, field);
                self.named(ty, field, *op, value);
            }
            Filter::IsNull { field, .. } => self.field(ty, field),
            Filter::Related {
                relation, filter, ..
            } => {
                self.fields.insert(format!("{ty}.{relation}"));
                let catalog = self.catalog;
                let target = catalog
                    .node(ty)
                    .and_then(|t| t.relation(relation))
                    .map(|r| r.target.as_str());
                if let (Some(target), Some(inner)) = (target, filter) {
                    self.filter(target, inner);
                }
            }
        }
    }

    /// Links the subjects an `id` comparison names on a subject type.
    fn named(&mut self, ty: &str, field: &str, op: CompareOp, value: &serde_json::Value) {
        let subject = self.catalog.node(ty).is_some_and(|t| t.data_subject);
        if !subject || field != "id" {
            return;
        }
        let ids: Vec<&serde_json::Value> = match (op, value) {
            (CompareOp::Eq, v) => vec![v],
            (CompareOp::In, serde_json::Value::Array(vs)) => vs.iter().collect(),
            _ => Vec::new(),
        };
        self.subjects.extend(
            ids.into_iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_string),
        );
    }

    fn connection(
        &mut self,
        t: &NodeType,
        owner: Option<(&NodeType, &Relation)>,
        conn: &Connection<'_>,
        page: &Page,
    ) {
        if let Some(f) = &conn.filter {
            self.filter(&t.name, f);
        }
        for k in &conn.order {
            self.field(&t.name, &k.field.name);
        }
        for prop in &conn.edge_props {
            if let Some((owner, rel)) = owner {
                self.fields
                    .insert(format!("{}.{}.{}", owner.name, rel.name, prop.field.name));
            }
        }
        for row in page.shown() {
            self.node(t, &conn.node, Some(&row.node));
        }
        if page.total.is_some_and(|n| n <= SMALL_COUNT) {
            self.subjects.extend(page.counted.iter().cloned());
        }
    }

    fn node(&mut self, t: &NodeType, sel: &NodeSelection<'_>, node: Option<&Node>) {
        let Some(node) = node else {
            return;
        };
        if let Some(id) = &node.subject {
            self.subjects.insert(id.clone());
        }
        self.subjects.extend(node.described.iter().cloned());
        for item in &sel.items {
            match item {
                NodeItem::Scalar { field, .. } => self.field(&t.name, &field.name),
                // Read like a scalar: the subgraph is asked only for shown rows.
                NodeItem::Remote { field, .. } => self.field(&t.name, &field.name),
                NodeItem::One {
                    key,
                    relation,
                    target,
                    selection,
                } => {
                    self.relation(t, relation);
                    let related = match node.items.get(key) {
                        Some(Item::One(related)) => related.as_ref(),
                        _ => None,
                    };
                    self.node(target, selection, related);
                }
                NodeItem::Many {
                    key,
                    relation,
                    target,
                    connection,
                } => {
                    self.relation(t, relation);
                    let none = Page::default();
                    let page = match node.items.get(key) {
                        Some(Item::Many(page)) => page,
                        _ => &none,
                    };
                    self.connection(target, Some((t, relation)), connection, page);
                }
            }
        }
    }
}
