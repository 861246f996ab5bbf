//! The federation entry point `_entities(representations:)`.
//!
//! A gateway asks a subgraph for entities by key; here every representation is a
//! lookup by id and passes through the same access plan as the type's lookup
//! root field: the walker checks the selection, the compiler pushes the row
//! scope and masks into one Cypher query for all the types asked for, and the
//! audit record names what was read and whose data it was. A node outside the
//! mandate answers `null`, exactly as one that does not exist; a type outside
//! the mandate is refused exactly as one that does not exist.
//!
//! async-graphql 7.2's dynamic schema cannot put `null` into a list of a union
//! (async-graphql#1577: it resolves the item's fields anyway), so the resolver
//! marks the positions to answer `null` and the [`EntityGaps`] extension answers
//! them without resolving anything.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_graphql::dynamic::{FieldValue, ResolverContext};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{QueryPathSegment, Request, ServerResult, Value as GqlValue};

use crate::access::AccessPlan;
use crate::answer::Node;
use crate::api::{walker, Engine};
use crate::errors::HubError;

/// `_entities` answers: one entity or null per representation, in order, from
/// one Cypher query.
pub(crate) async fn resolve<'a>(
    ctx: ResolverContext<'a>,
    engine: Arc<Engine>,
    plan: Arc<AccessPlan>,
) -> async_graphql::Result<Option<FieldValue<'a>>> {
    let fetch = walker(&ctx, &engine, &plan).entities(&ctx.ctx.item.node)?;
    if fetch.order.is_empty() {
        return Ok(Some(FieldValue::list(Vec::<FieldValue>::new())));
    }
    let query = crate::cypher::compile_entities(&engine.catalog, &plan, &fetch)?;
    let answer = crate::api::run_disclosed(
        &ctx,
        &engine,
        &query,
        |data| crate::answer::entities(&fetch, data),
        |d, answer| crate::disclose::entities(d, &engine.catalog, &plan, &fetch, answer),
    )
    .await?;
    let mut found: HashMap<(&str, String), Node> = HashMap::new();
    for (group, nodes) in fetch.groups.iter().zip(answer.groups) {
        for (id, node) in nodes {
            if let Some(id) = id {
                found.insert((group.node.name.as_str(), id), node);
            }
        }
    }
    let gaps = ctx
        .data::<Gaps>()
        .map_err(|_| HubError::internal("entity gaps are not tracked"))?;
    let key = ctx.ctx.item.node.response_key().node.to_string();
    let mut items = Vec::with_capacity(fetch.order.len());
    for (i, (t, id)) in fetch.order.iter().enumerate() {
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
