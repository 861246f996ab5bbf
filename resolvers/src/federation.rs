//! Federation: the entry point `_entities(representations:)` and the union view
//! a router composes.
//!
//! A gateway asks a subgraph for entities by key; here every representation is a
//! lookup by id and passes through the same access plan as the type's lookup
//! root field: the walker checks the selection, the compiler pushes the row
//! scope and masks into one Cypher query for all the types asked for, and the
//! audit record names what was read and whose data it was. A node outside the
//! mandate answers `null`, exactly as one that does not exist. In an agency's
//! own schema a type outside the mandate is refused exactly as one that does not
//! exist; in the federation view (below) it answers `null` at its position with
//! `FIELD_NOT_GRANTED`, so one reference never wipes the rest of an answer.
//!
//! **The federation view.** A router composes one supergraph for every caller,
//! so the hub offers one schema for it: [`Union`] of the plans of every mandate
//! the lists grant, built by [`build_federation_schema`](crate::build_federation_schema).
//! Each field has one type in every view: a field some list masks is a `String`
//! (a masked `birthDate` is `1958-**-**`, which no `Date` can hold, and an
//! enum masked `redact` is `***`), every field a plan governs is nullable, and
//! an id stays non-null only where every mandate reading its type reads it in
//! full. At execution the caller's own plan ([`CallerPlan`]) decides, through
//! the same walker and compiler as a direct query: what it does not grant is
//! left out of the Cypher and answers `null` with `FIELD_NOT_GRANTED` on its
//! path; filtering or sorting on it is refused with that code.
//!
//! async-graphql 7.2's dynamic schema cannot put `null` into a list of a union
//! (async-graphql#1577: it resolves the item's fields anyway), so the resolver
//! marks the positions to answer `null` and the [`EntityGaps`] extension answers
//! them without resolving anything.

use std::collections::BTreeSet;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_graphql::dynamic::{FieldValue, ResolverContext};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{QueryPathSegment, Request, ServerResult, Value as GqlValue};

use crate::access::{AccessPlan, FieldAccess, TypeAccess};
use crate::answer::Node;
use crate::api::{walker, Engine};
use crate::errors::{Code, HubError};

/// The plan of the caller a federation-view request runs for: the hub puts it
/// into the request's data; every resolver of the federation schema reads what
/// it may answer from it.
#[derive(Debug, Clone)]
pub struct CallerPlan(pub Arc<AccessPlan>);

/// The union of every mandate's plan: the shape of the federation schema.
#[derive(Debug, Clone)]
pub(crate) struct Union {
    /// Every type, field, relationship and edge property some plan reads; a
    /// field is `Read` when some plan reads it in full (so `where` and
    /// `orderBy` offer it), else masked. A type is a root when some plan
    /// roots it.
    pub plan: AccessPlan,
    /// `Type.field` and `Type.relation.property` some plan masks: served as
    /// `String`, the type every masked value fits.
    pub masked: BTreeSet<String>,
    /// Types whose id every plan that sees them reads in full: the id stays
    /// non-null (`ID!`), as a key.
    pub full_ids: BTreeSet<String>,
}

impl Union {
    /// The union of `plans` over `catalog`.
    pub(crate) fn of(catalog: &mandate_schema::Catalog, plans: &[AccessPlan]) -> Union {
        let mut plan = AccessPlan {
            fingerprint: "federation".to_string(),
            types: std::collections::BTreeMap::new(),
            receipts: false,
            receipts_rows: None,
            confidential: Vec::new(),
        };
        let mut masked = BTreeSet::new();
        let mut partial_ids = BTreeSet::new();
        let merge = |into: &mut std::collections::BTreeMap<String, FieldAccess>,
                     from: &std::collections::BTreeMap<String, FieldAccess>,
                     prefix: &str,
                     masked: &mut BTreeSet<String>| {
            for (name, access) in from {
                if !access.is_full() {
                    masked.insert(format!("{prefix}.{name}"));
                }
                let entry = into.entry(name.clone()).or_insert(*access);
                if access.is_full() {
                    *entry = FieldAccess::Read;
                }
            }
        };
        for p in plans {
            plan.receipts |= p.receipts;
            for (ty, access) in &p.types {
                let id_full = catalog
                    .node(ty)
                    .and_then(|t| access.fields.get(&t.id_field().name))
                    .is_some_and(|a| a.is_full());
                if !id_full {
                    partial_ids.insert(ty.clone());
                }
                let into = plan.types.entry(ty.clone()).or_insert_with(|| TypeAccess {
                    fields: Default::default(),
                    relations: Default::default(),
                    root: false,
                    rows: None,
                });
                into.root |= access.root;
                merge(&mut into.fields, &access.fields, ty, &mut masked);
                for (rel, props) in &access.relations {
                    let entry = into.relations.entry(rel.clone()).or_default();
                    merge(entry, props, &format!("{ty}.{rel}"), &mut masked);
                }
            }
        }
        let full_ids = plan
            .types
            .keys()
            .filter(|t| !partial_ids.contains(*t))
            .cloned()
            .collect();
        Union {
            plan,
            masked,
            full_ids,
        }
    }
}

/// `FIELD_NOT_GRANTED`: `what` is in the federation schema but outside the
/// caller's plan.
pub(crate) fn not_granted(what: &str) -> HubError {
    HubError::new(
        Code::FieldNotGranted,
        format!("`{what}` is not granted to your mandate"),
    )
}

/// `_entities` answers: one entity or null per representation, in order, from
/// one Cypher query. `fixed` is the plan of an agency's own schema; `None` in
/// the federation view, where the caller's plan comes with the request.
pub(crate) async fn resolve<'a>(
    ctx: ResolverContext<'a>,
    engine: Arc<Engine>,
    fixed: Option<Arc<AccessPlan>>,
) -> async_graphql::Result<Option<FieldValue<'a>>> {
    let (plan, federated) = crate::api::plan_of(&ctx, fixed.as_ref())?;
    let fetch = walker(&ctx, &engine, &plan, federated).entities(&ctx.ctx.item.node)?;
    if fetch.order.is_empty() {
        return Ok(Some(FieldValue::list(Vec::<FieldValue>::new())));
    }
    let mut found: HashMap<(&str, String), Node> = HashMap::new();
    if !fetch.groups.is_empty() {
        let query = crate::cypher::compile_entities(&engine.catalog, &plan, &fetch)?;
        let answer = crate::api::run_disclosed(
            &ctx,
            &engine,
            &query,
            |data| crate::answer::entities(&fetch, data),
            |d, answer| crate::disclose::entities(d, &engine.catalog, &plan, &fetch, answer),
        )
        .await?;
        for (group, nodes) in fetch.groups.iter().zip(answer.groups) {
            for (id, node) in nodes {
                if let Some(id) = id {
                    found.insert((group.node.name.as_str(), id), node);
                }
            }
        }
    }
    let gaps = ctx
        .data::<Gaps>()
        .map_err(|_| HubError::internal("entity gaps are not tracked"))?;
    let key = ctx.ctx.item.node.response_key().node.to_string();
    let mut items = Vec::with_capacity(fetch.order.len());
    for (i, (t, id)) in fetch.order.iter().enumerate() {
        if fetch.ungranted.contains(&i) {
            // The federation view: a type outside the caller's plan answers
            // null at its position, with the reason on that position's path.
            let mut error = not_granted(&t.name)
                .into_graphql()
                .into_server_error(ctx.ctx.item.pos);
            error.path = vec![
                async_graphql::PathSegment::Field(key.clone()),
                async_graphql::PathSegment::Index(i),
            ];
            ctx.ctx.add_error(error);
        }
        let node = match found.get(&(t.name.as_str(), id.clone())) {
            Some(node) => node.clone(),
            None => {
                // Answered `null` by `EntityGaps` without reading the node.
                gaps.mark(&key, i);
                Node::default()
            }
        };
        items.push(FieldValue::owned_any(node).with_type(t.name.clone()));
    }
    Ok(Some(FieldValue::list(items)))
}

/// The `_entities` positions of one request that answer `null`, by the root
/// field's response key.
#[derive(Debug, Default)]
struct Gaps(Mutex<HashSet<(String, usize)>>);

impl Gaps {
    fn mark(&self, key: &str, index: usize) {
        if let Ok(mut g) = self.0.lock() {
            g.insert((key.to_string(), index));
        }
    }

    fn contains(&self, key: &str, index: usize) -> bool {
        self.0
            .lock()
            .map(|g| g.contains(&(key.to_string(), index)))
            .unwrap_or(false)
    }
}

/// The schema extension that answers marked `_entities` positions with `null`.
pub(crate) struct EntityGaps;

impl ExtensionFactory for EntityGaps {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EntityGapsExtension)
    }
}

struct EntityGapsExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for EntityGapsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(Gaps::default())).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<GqlValue>> {
        if info.parent_type == "[_Entity]" {
            let node = info.path_node;
            if let (QueryPathSegment::Index(i), Some(parent)) = (&node.segment, node.parent) {
                if let QueryPathSegment::Name(key) = parent.segment {
                    if ctx.data_opt::<Gaps>().is_some_and(|g| g.contains(key, *i)) {
                        return Ok(None);
                    }
                }
            }
        }
        next.run(ctx, info).await
    }
}
