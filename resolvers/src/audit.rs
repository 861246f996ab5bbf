//! What each request disclosed, for the audit record.
//!
//! The root resolvers report into the request's [`Disclosure`]: the fields read
//! (from the IR: selections, filters and sort keys; masked ones marked), and the ids
//! of the data subjects (residents) whose data was returned — read from the
//! compiled query's hidden id key, walking the answer alongside the IR so only
//! rows actually shown count. Values are never recorded. [`AuditRecord`] is the
//! hash-chained record; [`AuditSink`] is the port that stores it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use futures::future::BoxFuture;
use mandate_schema::Catalog;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::access::{AccessPlan, FieldAccess};
use crate::cypher::SUBJECT_KEY;
use crate::ir::{Connection, EntityFetch, Filter, NodeItem, NodeSelection, RootField, RootKind};

/// Collected during one request.
#[derive(Debug, Default)]
pub struct Disclosure {
    fields: Mutex<BTreeSet<String>>,
    subjects: Mutex<BTreeSet<String>>,
}

impl Disclosure {
    /// Records what `root` read and which subjects `data` (its answer) disclosed.
    pub fn note(&self, catalog: &Catalog, plan: &AccessPlan, root: &RootField, data: &Value) {
        self.walk(catalog, plan, |w| match &root.kind {
            RootKind::Lookup { selection, .. } => {
                w.field(&root.type_name, "id");
                w.node(&root.type_name, selection, data);
            }
            RootKind::List(conn) => w.connection(&root.type_name, None, conn, data),
        });
    }

    /// Runs `f` over a fresh walk and adds what it found.
    fn walk(&self, catalog: &Catalog, plan: &AccessPlan, f: impl FnOnce(&mut Walk<'_>)) {
        let mut fields = BTreeSet::new();
        let mut subjects = BTreeSet::new();
        f(&mut Walk {
            catalog,
            plan,
            fields: &mut fields,
            subjects: &mut subjects,
        });
        if let Ok(mut f) = self.fields.lock() {
            f.extend(fields);
        }
        if let Ok(mut s) = self.subjects.lock() {
            s.extend(subjects);
        }
    }

    /// Records what an entity fetch read and which subjects `data` (its answer,
    /// `{Type: [{k, v}]}`) disclosed.
    pub fn note_entities(
        &self,
        catalog: &Catalog,
        plan: &AccessPlan,
        fetch: &EntityFetch,
        data: &Value,
    ) {
        self.walk(catalog, plan, |w| {
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
    pub fn note_receipts(&self, id: &str) {
        if let Ok(mut f) = self.fields.lock() {
            f.insert("AccessReceipt".to_string());
        }
        if let Ok(mut s) = self.subjects.lock() {
            s.insert(id.to_string());
        }
    }

    /// Fields read, as `Type.field` (masked ones as `Type.field:masked`).
    pub fn fields(&self) -> Vec<String> {
        self.fields
            .lock()
            .map(|f| f.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Ids of the data subjects whose data was returned.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether any masked field was read.
    pub fn masked(&self) -> bool {
        self.fields
            .lock()
            .map(|f| f.iter().any(|x| x.ends_with(":masked")))
            .unwrap_or(false)
    }
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
        self.fields.insert(format!(
            "{ty}.{name}{}",
            if masked { ":masked" } else { "" }
        ));
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

/// The hash a chain starts from.
pub const GENESIS: &str = "genesis";

/// One audit record. Every request — allowed, masked, denied, rejected — writes one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Which hub instance's chain this record belongs to.
    pub chain: String,
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The request id (also in the logs and the response).
    pub request_id: String,
    /// Verified agency, or `-` when the request was rejected before that.
    pub agency: String,
    /// Verified officer or system, or `-`.
    pub officer: String,
    /// Stated purpose, or `-`.
    pub purpose: String,
    /// Stated case number, or `-`.
    pub case_number: String,
    /// SHA-256 of the operation text, operation name and variables.
    pub operation: String,
    /// `allowed`, `masked`, `partial`, `denied` or `rejected`.
    pub decision: String,
    /// The error code when not allowed, else empty.
    pub code: String,
    /// Fields read (`Type.field`, `Type.field:masked`).
    pub fields: Vec<String>,
    /// Ids of the residents whose data was returned.
    pub residents: Vec<String>,
    /// Hash of the previous record of the chain ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// Hash of this record with `prev_hash` (not of itself).
    pub hash: String,
}

impl AuditRecord {
    /// The hash this record must carry: SHA-256 over its canonical JSON with
    /// `hash` empty.
    pub fn compute_hash(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.hash = String::new();
        let bytes = serde_json::to_vec(&unsealed).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// Why an audit record could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store did not take the record.
    #[error("audit record not written: {0}")]
    NotWritten(String),
}

/// Stores audit records: assigns `seq`, `prev_hash` and `hash` and commits.
pub trait AuditSink: Send + Sync + 'static {
    /// Appends `record` (its `chain`, `seq`, `prev_hash` and `hash` are filled
    /// here) and resolves once it is durably written.
    fn append(&self, record: AuditRecord) -> BoxFuture<'_, Result<(), AuditError>>;

    /// Resolves once every record appended so far can be read back from the
    /// audit log's store (for a sink that writes through a local journal: once
    /// they are shipped). Readers of the log — access receipts — wait here, so
    /// they see every read acknowledged before them.
    fn settle(&self) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(async { Ok(()) })
    }

    /// Records durably written but not yet readable in the store (a journal's
    /// backlog); 0 for a sink that writes straight to it.
    fn unshipped(&self) -> u64 {
        0
    }

    /// Whether a record appended now can be written (for readiness probes): a
    /// journal that is broken, not yet reconciled with Neo4j, or whose backlog is
    /// full is not. A sink writing straight to Neo4j is as ready as Neo4j is.
    fn ready(&self) -> bool {
        true
    }
}
