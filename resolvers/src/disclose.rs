//! What each request disclosed, reported into its [`Disclosure`].
//!
//! The root resolvers walk the IR alongside the answer: the fields read
//! (selections, filters and sort keys; masked ones marked), and the ids of the data
//! subjects (residents) whose data was returned — read from the compiled query's
//! hidden id key, so only rows actually shown count. Values are never recorded.

use std::collections::BTreeSet;

use mandate_audit::Disclosure;
use mandate_schema::Catalog;
use serde_json::Value;

use crate::access::{AccessPlan, FieldAccess};
use crate::cypher::SUBJECT_KEY;
use crate::ir::{Connection, EntityFetch, Filter, NodeItem, NodeSelection, RootField, RootKind};

/// Records what `root` read and which subjects `data` (its answer) disclosed.
pub(crate) fn root(
    disclosure: &Disclosure,
    catalog: &Catalog,
    plan: &AccessPlan,
    root: &RootField,
    data: &Value,
) {
    walk(disclosure, catalog, plan, |w| match &root.kind {
        RootKind::Lookup { selection, .. } => {
            w.field(&root.type_name, "id");
            w.node(&root.type_name, selection, data);
        }
        RootKind::List(conn) => w.connection(&root.type_name, None, conn, data),
    });
}

/// Records what an entity fetch read and which subjects `data` (its answer,
/// `{Type: [{k, v}]}`) disclosed.
pub(crate) fn entities(
    disclosure: &Disclosure,
    catalog: &Catalog,
    plan: &AccessPlan,
    fetch: &EntityFetch,
    data: &Value,
) {
    walk(disclosure, catalog, plan, |w| {
        for group in &fetch.groups {
            w.field(&group.type_name, "id");
            let found = data[group.type_name.as_str()].as_array();
            for node in found.into_iter().flatten() {
                w.node(&group.type_name, &group.selection, &node["v"]);
            }
        }
    });
}

/// Records that the access receipts of resident `id` were read.
pub(crate) fn receipts(disclosure: &Disclosure, id: &str) {
    disclosure.add(["AccessReceipt".to_string()], [id.to_string()]);
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

    fn filter(&mut self, ty: &str, f: &Filter) {
        match f {
            Filter::And(parts) | Filter::Or(parts) => parts.iter().for_each(|p| self.filter(ty, p)),
            Filter::Not(inner) => self.filter(ty, inner),
            Filter::Compare { field, .. } | Filter::IsNull { field, .. } => self.field(ty, field),
            Filter::Related {
                relation, filter, ..
            } => {
                self.fields.insert(format!("{ty}.{relation}"));
                let target = self
                    .catalog
                    .node(ty)
                    .and_then(|t| t.relation(relation))
                    .map(|r| r.target.clone());
                if let (Some(target), Some(inner)) = (target, filter) {
                    self.filter(&target, inner);
                }
            }
        }
    }

    fn connection(
        &mut self,
        ty: &str,
        owner: Option<(&str, &str)>,
        conn: &Connection,
        data: &Value,
    ) {
        if let Some(f) = &conn.filter {
            self.filter(ty, f);
        }
        for k in &conn.order {
            self.field(ty, &k.field);
        }
        for (_, prop) in &conn.edge_props {
            if let Some((owner, rel)) = owner {
                self.fields.insert(format!("{owner}.{rel}.{prop}"));
            }
        }
        let first = data["first"].as_u64().unwrap_or(0) as usize;
        if let Some(rows) = data["rows"].as_array() {
            for row in rows.iter().take(first) {
                self.node(ty, &conn.node, &row["n"]);
            }
        }
    }

    fn node(&mut self, ty: &str, sel: &NodeSelection, data: &Value) {
        if data.is_null() {
            return;
        }
        if let Some(id) = data.get(SUBJECT_KEY).and_then(Value::as_str) {
            self.subjects.insert(id.to_string());
        }
        for item in &sel.items {
            match item {
                NodeItem::Scalar { field, .. } => self.field(ty, field),
                NodeItem::One {
                    key,
                    relation,
                    selection,
                } => {
                    self.fields.insert(format!("{ty}.{relation}"));
                    if let Some(target) = self.target(ty, relation) {
                        self.node(&target, selection, &data[key.as_str()]);
                    }
                }
                NodeItem::Many {
                    key,
                    relation,
                    connection,
                } => {
                    self.fields.insert(format!("{ty}.{relation}"));
                    if let Some(target) = self.target(ty, relation) {
                        self.connection(
                            &target,
                            Some((ty, relation)),
                            connection,
                            &data[key.as_str()],
                        );
                    }
                }
            }
        }
    }

    fn target(&self, ty: &str, relation: &str) -> Option<String> {
        self.catalog
            .node(ty)
            .and_then(|t| t.relation(relation))
            .map(|r| r.target.clone())
    }
}
