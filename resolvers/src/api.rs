//! The GraphQL API generated from the catalog and one access plan.
//!
//! [`build_schema`] emits, for every type the plan shows: the object type with its
//! readable fields, a lookup and a list root field, `where` / `orderBy` inputs
//! holding only fields the plan lets the agency read in full, and Relay connection
//! types. A field the plan withholds is not in the schema at all, so validation
//! rejects it — and the walker rejects it again on its own (see `selection`).
//!
//! Root resolvers compile their whole selection into one Cypher query and decode
//! its answer once into typed nodes, pages and rows (the crate's `answer`
//! contract); every other resolver only reads those.
//!
//! [`build_federation_schema`] builds the one schema a federation router composes:
//! the same generator over the union of every mandate's plan (see `federation`),
//! whose resolvers take the caller's plan from the request ([`CallerPlan`]) and
//! run the same walker and compiler with it.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Object,
    ResolverContext, Scalar, Schema, SchemaError, TypeRef,
};
use async_graphql::{Name, Value as GqlValue};
use mandate_schema::{Catalog, NodeType, Relation, RemoteField, RemoteValue, ScalarKind};
use serde_json::Value;

use crate::access::{AccessPlan, FieldAccess, Mask};
use crate::answer::{Answer, Fetched, Item, Node, Page, Row};
use crate::cursor::CursorKey;
use crate::errors::{Code, HubError};
use crate::federation::{not_granted, CallerPlan, Union};
use crate::limits::{Limits, ShapeLimits, DEFAULT_RECEIPTS, MAX_FRAGMENT_DEPTH};
use crate::selection::{ops_for, sort_enum_value, Document, Walker};
use crate::store::{CypherQuery, GraphStore};

/// What every resolver of every agency's schema shares.
pub struct Engine {
    /// The data model.
    pub catalog: Arc<Catalog>,
    /// Page and input limits.
    pub limits: Limits,
    /// Query-shape limits.
    pub shape: ShapeLimits,
    /// Cursor sealing key.
    pub cursors: CursorKey,
    /// The graph database.
    pub store: Arc<dyn GraphStore>,
    /// The departmental subgraphs remote fields come from.
    pub subgraphs: Arc<dyn crate::Subgraphs>,
    /// The catalog's remote lists and their weights in a query's cost, built
    /// once for every schema generated from this engine.
    remote_lists: Arc<crate::cost::RemoteLists>,
}

impl Engine {
    /// The engine over `catalog` and `store`.
    pub fn new(
        catalog: Arc<Catalog>,
        limits: Limits,
        shape: ShapeLimits,
        cursors: CursorKey,
        store: Arc<dyn GraphStore>,
        subgraphs: Arc<dyn crate::Subgraphs>,
    ) -> Engine {
        let remote_lists = Arc::new(crate::cost::remote_lists(&catalog));
        Engine {
            catalog,
            limits,
            shape,
            cursors,
            store,
            subgraphs,
            remote_lists,
        }
    }
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

pub(crate) fn scalar_type_name(kind: &ScalarKind) -> &str {
    match kind {
        ScalarKind::Id => "ID",
        ScalarKind::String => "String",
        ScalarKind::Int => "Int",
        ScalarKind::Boolean => "Boolean",
        ScalarKind::Date => "Date",
        ScalarKind::Enum(e) => e,
    }
}

fn filter_type_name(kind: &ScalarKind) -> String {
    match kind {
        ScalarKind::Id => "IDFilter".to_string(),
        other => format!("{}Filter", scalar_type_name(other)),
    }
}

fn output_type(kind: &ScalarKind, access: FieldAccess, nullable: bool) -> TypeRef {
    let name = match access {
        FieldAccess::Read => scalar_type_name(kind).to_string(),
        FieldAccess::Masked(_) => "String".to_string(),
    };
    if nullable {
        TypeRef::named(name)
    } else {
        TypeRef::named_nn(name)
    }
}

/// What a mask shows, in words, under the name the lists give it.
fn mask_note(mask: Mask) -> &'static str {
    match mask {
        Mask::KeepEnds => "keep_ends — only the first 6 and the last 4 characters are shown",
        Mask::KeepStart => "keep_start — only the first 6 characters are shown",
        Mask::Phone => "phone — only the first 3 and the last 4 characters are shown",
        Mask::FirstChar => "first_char — only the first character is shown",
        Mask::YearOnly => "year_only — only the year is shown (YYYY-**-**)",
        Mask::Redact => "redact — the value is replaced by ***",
    }
}

/// A field's description as its reader sees it: the catalog's, extended, when
/// the plan grants the field masked, with what the mask shows (the catalog may
/// say "18 digits" of a value that arrives as `340102************`).
fn field_description(catalog: Option<&str>, access: FieldAccess) -> Option<String> {
    let FieldAccess::Masked(mask) = access else {
        return catalog.map(str::to_string);
    };
    let note = format!(
        "Masked for your mandate: {}. Not usable in `where` or `orderBy`.",
        mask_note(mask)
    );
    Some(match catalog {
        Some(d) if !d.trim().is_empty() => format!("{}\n\n{note}", d.trim_end()),
        _ => note,
    })
}

/// What a field of the federation schema needs granted, checked against the
/// caller's plan before it answers: outside it, the field answers `null` with
/// `FIELD_NOT_GRANTED` on its path (as Apollo's `@policy` does).
#[derive(Debug, Clone)]
enum Grant {
    /// Scalar field `field` of type `ty`.
    Field { ty: String, field: String },
    /// Relationship `rel` of type `ty` (and its target type).
    Relation { ty: String, rel: String },
    /// Property `prop` of relationship `rel` of type `ty`.
    EdgeProp {
        ty: String,
        rel: String,
        prop: String,
    },
    /// The access receipts.
    Receipts,
}

impl Grant {
    fn granted(&self, catalog: &Catalog, plan: &AccessPlan) -> bool {
        match self {
            Grant::Field { ty, field } => plan.field(ty, field).is_some(),
            Grant::Relation { ty, rel } => plan.relation_visible(catalog, ty, rel),
            Grant::EdgeProp { ty, rel, prop } => plan
                .type_access(ty)
                .and_then(|a| a.relations.get(rel))
                .is_some_and(|props| props.contains_key(prop)),
            Grant::Receipts => plan.receipts,
        }
    }

    fn name(&self) -> String {
        match self {
            Grant::Field { ty, field } => format!("{ty}.{field}"),
            Grant::Relation { ty, rel } => format!("{ty}.{rel}"),
            Grant::EdgeProp { ty, rel, prop } => format!("{ty}.{rel}.{prop}"),
            Grant::Receipts => "accessReceipts".to_string(),
        }
    }
}

/// In the federation schema (`grant` is set), whether the caller's plan
/// withholds the field: then its `FIELD_NOT_GRANTED` error is added, on the
/// field's path, and the field answers `null`.
fn withheld(ctx: &ResolverContext<'_>, grant: Option<&Grant>) -> async_graphql::Result<bool> {
    let Some(grant) = grant else {
        return Ok(false);
    };
    let caller = ctx
        .data::<CallerPlan>()
        .map_err(|_| HubError::internal("federation request without a caller plan"))?;
    let engine = ctx.data::<Arc<Engine>>()?;
    if grant.granted(&engine.catalog, &caller.0) {
        return Ok(false);
    }
    null_with(ctx, not_granted(&grant.name()).into_graphql());
    Ok(true)
}

/// Adds `error` to the response on the field's path; the field answers `null`.
/// (async-graphql 7.2's dynamic schema drops a failed field from its object and
/// reports the error without a path; a field the federation view withholds must
/// be there, null, with the reason on its path.)
fn null_with(ctx: &ResolverContext<'_>, error: async_graphql::Error) {
    let error = ctx
        .ctx
        .set_error_path(error.into_server_error(ctx.ctx.item.pos));
    ctx.ctx.add_error(error);
}

/// The plan a root resolver runs with, and whether it runs in the federation
/// view: an agency's schema carries its plan (`fixed`); the federation schema
/// takes the caller's from the request.
pub(crate) fn plan_of(
    ctx: &ResolverContext<'_>,
    fixed: Option<&Arc<AccessPlan>>,
) -> async_graphql::Result<(Arc<AccessPlan>, bool)> {
    match fixed {
        Some(plan) => Ok((plan.clone(), false)),
        None => ctx
            .data::<CallerPlan>()
            .map(|c| (c.0.clone(), true))
            .map_err(|_| HubError::internal("federation request without a caller plan").into()),
    }
}

/// The one type of a field in the federation schema. A field some list masks is
/// a `String`: masks keep characters of the stored text and star the rest
/// (`1958-**-**`, `王**`, `***`), which only a `String` holds whatever the
/// field's own type — a `Date` or an enum would make the masked value invalid
/// for the mandates that read it masked, and two types for one field do not
/// compose. A mandate that reads it in full gets the same text unmasked.
fn federation_type(kind: &ScalarKind, masked: bool, nullable: bool) -> TypeRef {
    let name = if masked {
        TypeRef::STRING
    } else {
        scalar_type_name(kind)
    };
    if nullable {
        TypeRef::named(name)
    } else {
        TypeRef::named_nn(name)
    }
}

/// A field's description in the federation schema: the catalog's, and for a
/// field some mandate reads masked, why it is a `String`.
fn federation_description(catalog: Option<&str>, masked: bool) -> Option<String> {
    if !masked {
        return catalog.map(str::to_string);
    }
    let note = "Some mandates read this field masked (characters replaced by `*`), so its \
                type here is String for every mandate; usable in `where` and `orderBy` only \
                by a mandate that reads it in full.";
    Some(match catalog {
        Some(d) if !d.trim().is_empty() => format!("{}\n\n{note}", d.trim_end()),
        _ => note.to_string(),
    })
}

fn response_key<'a>(ctx: &ResolverContext<'a>) -> &'a str {
    let f = &ctx.ctx.item.node;
    f.alias
        .as_ref()
        .map(|a| a.node.as_str())
        .unwrap_or_else(|| f.name.node.as_str())
}

/// The decoded answer (a [`Node`], [`Page`] or [`Row`]) the parent resolver passed down.
fn parent<'a, T: std::any::Any>(ctx: &ResolverContext<'a>) -> async_graphql::Result<&'a T> {
    ctx.parent_value.try_downcast_ref::<T>()
}

/// The item of the parent node under the field's response key.
fn parent_item<'a>(ctx: &ResolverContext<'a>) -> async_graphql::Result<Option<&'a Item>> {
    Ok(parent::<Node>(ctx)?.items.get(response_key(ctx)))
}

fn to_gql(value: &Value, kind: Option<&ScalarKind>) -> async_graphql::Result<GqlValue> {
    Ok(match (kind, value) {
        (Some(ScalarKind::Enum(_)), Value::String(s)) => GqlValue::Enum(Name::new(s)),
        _ => GqlValue::from_json(value.clone())?,
    })
}

/// A resolver reading `parent[key]` as a scalar of `kind` (`None`: as is),
/// after checking `grant` (federation schema).
fn scalar_field(name: &str, ty: TypeRef, kind: Option<ScalarKind>, grant: Option<Grant>) -> Field {
    Field::new(name, ty, move |ctx| {
        let kind = kind.clone();
        let grant = grant.clone();
        FieldFuture::new(async move {
            if withheld(&ctx, grant.as_ref())? {
                return Ok(None);
            }
            match parent_item(&ctx)? {
                Some(Item::Scalar(v)) if !v.is_null() => {
                    Ok(Some(FieldValue::value(to_gql(v, kind.as_ref())?)))
                }
                _ => Ok(None),
            }
        })
    })
}

/// A resolver passing `parent[key]` down: a related node or a page, after
/// checking `grant` (federation schema).
fn object_field(name: &str, ty: TypeRef, grant: Option<Grant>) -> Field {
    Field::new(name, ty, move |ctx| {
        let grant = grant.clone();
        FieldFuture::new(async move {
            if withheld(&ctx, grant.as_ref())? {
                return Ok(None);
            }
            match parent_item(&ctx)? {
                Some(Item::One(Some(node))) => Ok(Some(FieldValue::borrowed_any(node))),
                Some(Item::Many(page)) => Ok(Some(FieldValue::borrowed_any(page))),
                _ => Ok(None),
            }
        })
    })
}

/// One remote value: a value object passed down to its fields' resolvers, or a scalar.
fn remote_value<'a>(
    v: &'a Value,
    kind: Option<&ScalarKind>,
) -> async_graphql::Result<FieldValue<'a>> {
    Ok(match v {
        Value::Object(_) => FieldValue::borrowed_any(v),
        other => FieldValue::value(to_gql(other, kind)?),
    })
}

fn list_args(field: Field, target: &str, sortable: bool) -> Field {
    let mut field = field
        .argument(InputValue::new(
            "where",
            TypeRef::named(format!("{target}Where")),
        ))
        .argument(
            InputValue::new("first", TypeRef::named(TypeRef::INT)).description(
                "Page size; defaults to the hub's default page size, capped at its maximum.",
            ),
        )
        .argument(
            InputValue::new("after", TypeRef::named(TypeRef::STRING)).description(
                "Return rows after this cursor (from `pageInfo.endCursor` or an edge).",
            ),
        );
    if sortable {
        field = field.argument(InputValue::new(
            "orderBy",
            TypeRef::named_nn_list(format!("{target}Order")),
        ));
    }
    field
}

struct Builder<'a> {
    catalog: &'a Catalog,
    /// What the schema shows: the agency's plan, or the union of every plan.
    plan: &'a AccessPlan,
    engine: Arc<Engine>,
    /// The plan resolvers run with: the agency's; `None` in the federation
    /// schema, whose resolvers take the caller's from the request.
    fixed: Option<Arc<AccessPlan>>,
    /// The federation schema's union (masked fields, non-null ids).
    union: Option<&'a Union>,
    enums_used: BTreeSet<String>,
    filters_used: BTreeSet<String>,
    /// Value object types remote fields return, registered once each.
    values_used: BTreeSet<String>,
    /// Whether a field of the schema is a `Date`.
    dates_used: bool,
    objects: Vec<Object>,
    inputs: Vec<InputObject>,
    enums: Vec<Enum>,
}

/// Builds the GraphQL schema one access plan allows.
///
/// # Errors
/// If async-graphql rejects the generated schema (a bug in the generator).
pub fn build_schema(engine: Arc<Engine>, plan: Arc<AccessPlan>) -> Result<Schema, SchemaError> {
    generate(engine, &plan.clone(), Some(plan), None)
}

/// Builds the federation schema: the union of what `plans` (every mandate the
/// lists grant) may read, each field with one type whatever the view — a
/// `String` where some plan masks it — and nullable wherever a plan governs it.
/// Every resolver takes the caller's plan from the request's [`CallerPlan`]
/// and answers what it does not grant with `null` and `FIELD_NOT_GRANTED`.
///
/// # Errors
/// If async-graphql rejects the generated schema (a bug in the generator).
pub fn build_federation_schema(
    engine: Arc<Engine>,
    plans: &[AccessPlan],
) -> Result<Schema, SchemaError> {
    let union = Union::of(&engine.catalog, plans);
    generate(engine, &union.plan, None, Some(&union))
}

fn generate(
    engine: Arc<Engine>,
    plan: &AccessPlan,
    fixed: Option<Arc<AccessPlan>>,
    union: Option<&Union>,
) -> Result<Schema, SchemaError> {
    let catalog = engine.catalog.clone();
    let mut b = Builder {
        catalog: &catalog,
        plan,
        engine: engine.clone(),
        fixed: fixed.clone(),
        union,
        enums_used: BTreeSet::new(),
        filters_used: BTreeSet::new(),
        values_used: BTreeSet::new(),
        dates_used: false,
        objects: Vec::new(),
        inputs: Vec::new(),
        enums: Vec::new(),
    };
    let description = if union.is_some() {
        "Read the city graph, cut to your mandate. This is the federation view: \
         every field any mandate may read is here; one outside yours answers null \
         with the error code FIELD_NOT_GRANTED on its path."
    } else {
        "Read the city graph, cut to your mandate."
    };
    let mut query = Object::new("Query").description(description);
    for t in &catalog.types {
        let Some(access) = plan.type_access(&t.name) else {
            continue;
        };
        b.node_types(t);
        if access.root {
            for f in b.root_fields(t) {
                query = query.field(f);
            }
        }
    }
    if plan.receipts {
        query = query.field(receipts_field(engine.clone(), fixed.clone()));
    }
    if plan.grants_nothing() {
        // A GraphQL schema needs one root field. The hub never serves this schema: a
        // request whose plan grants nothing is refused as `NOTHING_GRANTED`.
        query = query.field(
            Field::new("nothingGranted", TypeRef::named(TypeRef::BOOLEAN), |_| {
                FieldFuture::new(async { Ok(None::<FieldValue>) })
            })
            .description("Your mandate grants no data for this purpose; always null."),
        );
    }
    let shape = engine.shape;
    let entities = (engine.clone(), fixed.clone());
    // Owner writes, in an agency's own schema only (never the federation view).
    let writes = match (&fixed, union) {
        (Some(fixed), None) => crate::writes::mutation(&engine, fixed),
        _ => None,
    };
    let mut schema = Schema::build("Query", writes.as_ref().map(|_| "Mutation"), None)
        .enable_federation()
        .entity_resolver(move |ctx| {
            let (engine, plan) = entities.clone();
            FieldFuture::new(async move { crate::federation::resolve(ctx, engine, plan).await })
        })
        .extension(crate::federation::EntityGaps)
        .limit_directives(shape.max_directives)
        .limit_recursive_depth(MAX_FRAGMENT_DEPTH)
        .disable_suggestions()
        .data(engine.clone())
        .extension(crate::errors::ErrorCodes {
            shape,
            remote_lists: engine.remote_lists.clone(),
            pages: engine.limits,
        })
        .register(query)
        .register(page_info())
        .register(
            Enum::new("OrderDirection")
                .item(EnumItem::new("ASC"))
                .item(EnumItem::new("DESC")),
        );
    if plan.receipts {
        schema = schema.register(access_receipt());
    }
    if let Some((mutation, inputs, result)) = writes {
        schema = schema.register(mutation).register(result);
        for i in inputs {
            schema = schema.register(i);
        }
    }
    let dates_used = b.dates_used
        || catalog.types.iter().any(|t| {
            plan.type_access(&t.name).is_some()
                && t.fields.iter().any(|f| f.kind == ScalarKind::Date)
        });
    if dates_used {
        schema = schema.register(
            Scalar::new("Date")
                .description("ISO 8601 calendar date, YYYY-MM-DD.")
                .validator(|v| matches!(v, GqlValue::String(s) if parse_date(s).is_some())),
        );
    }
    for kind_name in b.filters_used.clone() {
        schema = schema.register(b.filter_input(&kind_name));
    }
    for e in &catalog.enums {
        if b.enums_used.contains(&e.name) {
            let mut en = Enum::new(&e.name);
            if let Some(d) = &e.description {
                en = en.description(d);
            }
            for (v, d) in &e.values {
                let mut item = EnumItem::new(v);
                if let Some(d) = d {
                    item = item.description(d);
                }
                en = en.item(item);
            }
            schema = schema.register(en);
        }
    }
    for o in b.objects {
        schema = schema.register(o);
    }
    for i in b.inputs {
        schema = schema.register(i);
    }
    for e in b.enums {
        schema = schema.register(e);
    }
    schema.finish()
}

fn access_receipt() -> Object {
    let text = |name: &str| scalar_field(name, TypeRef::named_nn(TypeRef::STRING), None, None);
    Object::new("AccessReceipt")
        .description("One disclosure of a resident's data: who read it, when, for what.")
        .field(text("time").description("When, RFC 3339 UTC."))
        .field(text("agency"))
        .field(text("officer"))
        .field(text("purpose").description("The stated purpose (事由)."))
        .field(text("caseNumber"))
        .field(
            scalar_field(
                "fields",
                TypeRef::named_nn_list_nn(TypeRef::STRING),
                None,
                None,
            )
            .description("The fields read in that request (`Type.field`, masked ones marked)."),
        )
}

fn receipts_field(engine: Arc<Engine>, fixed: Option<Arc<AccessPlan>>) -> Field {
    // Nullable in the federation schema: a caller without receipts gets null.
    let ty = if fixed.is_some() {
        TypeRef::named_nn_list_nn("AccessReceipt")
    } else {
        TypeRef::named_list_nn("AccessReceipt")
    };
    Field::new("accessReceipts", ty, move |ctx| {
            let engine = engine.clone();
            let fixed = fixed.clone();
            FieldFuture::new(async move {
                let (plan, federated) = plan_of(&ctx, fixed.as_ref())?;
                if withheld(&ctx, federated.then_some(&Grant::Receipts))? {
                    return Ok(None);
                }
                let id = ctx.args.try_get("residentId")?.string()?.to_string();
                let first = match ctx.args.get("first") {
                    Some(v) => v.i64()?,
                    None => DEFAULT_RECEIPTS,
                };
                if first < 0 || first as u64 > engine.limits.max_page_size as u64 {
                    return Err(HubError::new(
                        Code::PageSizeExceeded,
                        format!("`first` is between 0 and {}", engine.limits.max_page_size),
                    )
                    .into_graphql());
                }
                // Every read acknowledged before this one is in the log.
                if let Ok(sink) = ctx.data::<Arc<dyn mandate_audit::AuditSink>>() {
                    sink.settle().await.map_err(|e| {
                        tracing::error!(detail = %e, "access receipts not read: the audit log is behind");
                        HubError::new(
                            Code::AuditUnavailable,
                            "the audit log is unavailable; no data is returned",
                        )
                        .into_graphql()
                    })?;
                }
                let Some(query) =
                    crate::cypher::compile_receipts(&engine.catalog, &plan, &id, first)?
                else {
                    return Ok(Some(FieldValue::list(Vec::<FieldValue>::new())));
                };
                let items = run_disclosed(
                    &ctx,
                    &engine,
                    &query,
                    |data| Ok(crate::answer::scalar_nodes(data)),
                    |d, items| crate::disclose::receipts(d, &id, !items.is_empty()),
                )
                .await?;
                Ok(Some(FieldValue::list(
                    items.into_iter().map(FieldValue::owned_any),
                )))
            })
        },
    )
    .argument(InputValue::new(
        "residentId",
        TypeRef::named_nn(TypeRef::ID),
    ))
    .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
    .description("Who read this resident's data, newest first (PIPL art. 44, right to know).")
}

fn page_info() -> Object {
    let cursor = |name: &str, last: bool| {
        Field::new(name, TypeRef::named(TypeRef::STRING), move |ctx| {
            FieldFuture::new(async move {
                let rows = parent::<Page>(&ctx)?.shown();
                let row = if last { rows.last() } else { rows.first() };
                match row {
                    None => Ok(None),
                    Some(row) => {
                        let engine = ctx.data::<Arc<Engine>>()?;
                        Ok(Some(FieldValue::value(seal_row(&engine.cursors, row)?)))
                    }
                }
            })
        })
    };
    Object::new("PageInfo")
        .description("Relay page information.")
        .field(Field::new(
            "hasNextPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let page = parent::<Page>(&ctx)?;
                    Ok(Some(FieldValue::value(page.has_next())))
                })
            },
        ))
        .field(Field::new(
            "hasPreviousPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let page = parent::<Page>(&ctx)?;
                    Ok(Some(FieldValue::value(page.after)))
                })
            },
        ))
        .field(cursor("startCursor", false))
        .field(cursor("endCursor", true))
}

fn seal_row(key: &CursorKey, row: &Row) -> async_graphql::Result<String> {
    key.seal(&row.scope, &row.sort_keys)
        .map_err(HubError::into_graphql)
}

impl Builder<'_> {
    fn field_visible(&self, t: &NodeType, name: &str) -> Option<FieldAccess> {
        self.plan.field(&t.name, name)
    }

    fn sortable(&self, t: &NodeType) -> Vec<String> {
        t.fields
            .iter()
            .filter(|f| {
                self.field_visible(t, &f.name)
                    .is_some_and(FieldAccess::is_full)
            })
            .map(|f| f.name.clone())
            .collect()
    }

    fn root_fields(&self, t: &NodeType) -> Vec<Field> {
        let mut out = Vec::new();
        let id = t.id_field();
        if self
            .field_visible(t, &id.name)
            .is_some_and(FieldAccess::is_full)
        {
            let engine = self.engine.clone();
            let plan = self.fixed.clone();
            let mut lookup = Field::new(t.lookup_field(), TypeRef::named(&t.name), move |ctx| {
                let engine = engine.clone();
                let plan = plan.clone();
                FieldFuture::new(async move { resolve_root(ctx, engine, plan).await })
            })
            .argument(InputValue::new(&id.name, TypeRef::named_nn(TypeRef::ID)));
            lookup = lookup.description(format!("One {} by id, or null.", t.name));
            out.push(lookup);
        }
        let engine = self.engine.clone();
        let plan = self.fixed.clone();
        // In the federation schema a caller may not list the type: null.
        let list_type = if self.union.is_some() {
            TypeRef::named(format!("{}Connection", t.name))
        } else {
            TypeRef::named_nn(format!("{}Connection", t.name))
        };
        let list = Field::new(&t.plural, list_type, move |ctx| {
            let engine = engine.clone();
            let plan = plan.clone();
            FieldFuture::new(async move { resolve_root(ctx, engine, plan).await })
        })
        .description(format!("{} rows, filtered, sorted and paged.", t.name));
        out.push(list_args(list, &t.name, !self.sortable(t).is_empty()));
        out
    }

    fn node_types(&mut self, t: &NodeType) {
        let mut obj = Object::new(&t.name);
        if let Some(d) = &t.description {
            obj = obj.description(d);
        }
        if self.plan.is_entity(t) {
            // A federation entity: `_entities` fetches it by id, like its lookup.
            obj = obj.key(t.id_field().name.as_str());
        }
        let mut where_input = InputObject::new(format!("{}Where", t.name))
            .description(format!(
                "Conditions on {}; all given conditions must hold.",
                t.name
            ))
            .field(InputValue::new(
                "AND",
                TypeRef::named_nn_list(format!("{}Where", t.name)),
            ))
            .field(InputValue::new(
                "OR",
                TypeRef::named_nn_list(format!("{}Where", t.name)),
            ))
            .field(InputValue::new(
                "NOT",
                TypeRef::named(format!("{}Where", t.name)),
            ));
        for f in &t.fields {
            let Some(access) = self.field_visible(t, &f.name) else {
                continue;
            };
            let field = match self.union {
                None => {
                    if let (ScalarKind::Enum(e), FieldAccess::Read) = (&f.kind, access) {
                        self.enums_used.insert(e.clone());
                    }
                    let mut field = scalar_field(
                        &f.name,
                        output_type(&f.kind, access, f.nullable),
                        Some(f.kind.clone()).filter(|_| access.is_full()),
                        None,
                    );
                    if let Some(d) = field_description(f.description.as_deref(), access) {
                        field = field.description(d);
                    }
                    field
                }
                Some(union) => {
                    let masked = union.masked.contains(&format!("{}.{}", t.name, f.name));
                    if let (ScalarKind::Enum(e), false) = (&f.kind, masked) {
                        self.enums_used.insert(e.clone());
                    }
                    // The id of a type every plan reads it of in full stays a
                    // non-null key; anything else some plan may withhold.
                    let nullable = f.nullable
                        || f.name != t.id_field().name
                        || !union.full_ids.contains(&t.name);
                    let mut field = scalar_field(
                        &f.name,
                        federation_type(&f.kind, masked, nullable),
                        Some(f.kind.clone()).filter(|_| !masked),
                        Some(Grant::Field {
                            ty: t.name.clone(),
                            field: f.name.clone(),
                        }),
                    );
                    if let Some(d) = federation_description(f.description.as_deref(), masked) {
                        field = field.description(d);
                    }
                    field
                }
            };
            obj = obj.field(field);
            if access.is_full() {
                let filter = filter_type_name(&f.kind);
                self.filters_used.insert(match &f.kind {
                    ScalarKind::Enum(e) => format!("enum:{e}"),
                    other => scalar_type_name(other).to_string(),
                });
                where_input = where_input.field(InputValue::new(&f.name, TypeRef::named(filter)));
            }
        }
        // Remote fields: in an agency's own schema only. The federation view
        // leaves them to the subgraphs that serve them in a supergraph.
        if self.union.is_none() {
            for r in &t.remotes {
                if let Some(access) = self.field_visible(t, &r.name) {
                    obj = obj.field(self.remote_field(r, access));
                }
            }
        }
        for rel in &t.relations {
            if !self.plan.relation_visible(self.catalog, &t.name, &rel.name) {
                continue;
            }
            let Some(target) = self.catalog.node(&rel.target) else {
                continue;
            };
            let grant = self.union.map(|_| Grant::Relation {
                ty: t.name.clone(),
                rel: rel.name.clone(),
            });
            let mut field = if rel.many {
                let conn_type = self.relation_connection(t, rel, target);
                let ty = if self.union.is_some() {
                    TypeRef::named(conn_type)
                } else {
                    TypeRef::named_nn(conn_type)
                };
                list_args(
                    object_field(&rel.name, ty, grant),
                    &target.name,
                    !self.sortable(target).is_empty(),
                )
            } else {
                object_field(&rel.name, TypeRef::named(&target.name), grant)
            };
            if let Some(d) = &rel.description {
                field = field.description(d);
            }
            obj = obj.field(field);
            where_input = where_input.field(InputValue::new(
                &rel.name,
                TypeRef::named(format!("{}RelationFilter", target.name)),
            ));
        }
        self.objects.push(obj);
        self.inputs.push(where_input);
        self.inputs.push(
            InputObject::new(format!("{}RelationFilter", t.name))
                .description(format!("A condition on related {} nodes.", t.name))
                .field(
                    InputValue::new("exists", TypeRef::named(TypeRef::BOOLEAN)).description(
                        "true (default): a related node matching `where` exists; false: none does.",
                    ),
                )
                .field(InputValue::new(
                    "where",
                    TypeRef::named(format!("{}Where", t.name)),
                )),
        );
        let sortable = self.sortable(t);
        if !sortable.is_empty() {
            let mut order_field = Enum::new(format!("{}OrderField", t.name));
            for f in &sortable {
                order_field = order_field.item(EnumItem::new(sort_enum_value(f)));
            }
            self.enums.push(order_field);
            self.inputs.push(
                InputObject::new(format!("{}Order", t.name))
                    .field(InputValue::new(
                        "field",
                        TypeRef::named_nn(format!("{}OrderField", t.name)),
                    ))
                    .field(
                        InputValue::new("direction", TypeRef::named_nn("OrderDirection"))
                            .default_value(GqlValue::Enum(Name::new("ASC"))),
                    ),
            );
        }
        self.connection_types(
            &format!("{}Connection", t.name),
            &format!("{}Edge", t.name),
            t,
            None,
        );
    }

    /// A remote field: its value from the subgraph, or null with the subgraph's
    /// error on its path. Always nullable.
    fn remote_field(&mut self, r: &RemoteField, access: FieldAccess) -> Field {
        let (type_name, kind) = match &r.value {
            RemoteValue::Scalar(kind) => {
                if !access.is_full() {
                    (TypeRef::STRING.to_string(), None)
                } else {
                    if let ScalarKind::Enum(e) = kind {
                        self.enums_used.insert(e.clone());
                    }
                    self.dates_used |= *kind == ScalarKind::Date;
                    (scalar_type_name(kind).to_string(), Some(kind.clone()))
                }
            }
            RemoteValue::Object(v) => {
                self.value_type(v);
                (v.clone(), None)
            }
        };
        let ty = if r.list {
            TypeRef::named_nn_list(type_name)
        } else {
            TypeRef::named(type_name)
        };
        let catalog = match &r.description {
            Some(d) => format!(
                "{d}\n\nServed by the `{}` subgraph: null, with an error on its path, when it does not answer.",
                r.subgraph
            ),
            None => format!(
                "Served by the `{}` subgraph: null, with an error on its path, when it does not answer.",
                r.subgraph
            ),
        };
        let mut field = Field::new(&r.name, ty, move |ctx| {
            let kind = kind.clone();
            FieldFuture::new(async move {
                let Some(Item::Remote(remote)) = parent_item(&ctx)? else {
                    return Ok(None);
                };
                let value = match &remote.fetched {
                    Fetched::Value(Value::Null) => return Ok(None),
                    Fetched::Value(v) => v,
                    Fetched::Failed(e) => {
                        null_with(&ctx, e.clone().into_graphql());
                        return Ok(None);
                    }
                    Fetched::Pending => {
                        return Err(HubError::internal("a remote field was not fetched").into())
                    }
                };
                Ok(Some(match value {
                    Value::Array(items) => FieldValue::list(
                        items
                            .iter()
                            .map(|v| remote_value(v, kind.as_ref()))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    other => remote_value(other, kind.as_ref())?,
                }))
            })
        });
        if let Some(d) = field_description(Some(&catalog), access) {
            field = field.description(d);
        }
        field
    }

    /// Registers value object type `name` (once): fields read from the JSON
    /// object the subgraph served, checked against the catalog on arrival.
    fn value_type(&mut self, name: &str) {
        if !self.values_used.insert(name.to_string()) {
            return;
        }
        let Some(vt) = self.catalog.value_type(name) else {
            return;
        };
        let mut obj = Object::new(&vt.name);
        if let Some(d) = &vt.description {
            obj = obj.description(d);
        }
        for f in &vt.fields {
            if let ScalarKind::Enum(e) = &f.kind {
                self.enums_used.insert(e.clone());
            }
            self.dates_used |= f.kind == ScalarKind::Date;
            let ty = if f.nullable {
                TypeRef::named(scalar_type_name(&f.kind))
            } else {
                TypeRef::named_nn(scalar_type_name(&f.kind))
            };
            let kind = f.kind.clone();
            let key = f.name.clone();
            let mut field = Field::new(&f.name, ty, move |ctx| {
                let kind = kind.clone();
                let key = key.clone();
                FieldFuture::new(async move {
                    match parent::<Value>(&ctx)?.get(&key) {
                        None | Some(Value::Null) => Ok(None),
                        Some(v) => Ok(Some(FieldValue::value(to_gql(v, Some(&kind))?))),
                    }
                })
            });
            if let Some(d) = &f.description {
                field = field.description(d);
            }
            obj = obj.field(field);
        }
        self.objects.push(obj);
    }

    /// The connection type a list relationship returns: the target's own, or a
    /// dedicated one when the relationship carries readable properties.
    fn relation_connection(
        &mut self,
        owner: &NodeType,
        rel: &Relation,
        target: &NodeType,
    ) -> String {
        let props = self
            .plan
            .type_access(&owner.name)
            .and_then(|a| a.relations.get(&rel.name))
            .filter(|p| !p.is_empty());
        if props.is_none() {
            return format!("{}Connection", target.name);
        }
        let base = format!("{}{}", owner.name, upper_first(&rel.name));
        let conn = format!("{base}Connection");
        self.connection_types(&conn, &format!("{base}Edge"), target, Some((owner, rel)));
        conn
    }

    fn connection_types(
        &mut self,
        conn_name: &str,
        edge_name: &str,
        target: &NodeType,
        rel: Option<(&NodeType, &Relation)>,
    ) {
        let mut edge = Object::new(edge_name)
            .field(Field::new(
                "cursor",
                TypeRef::named_nn(TypeRef::STRING),
                |ctx| {
                    FieldFuture::new(async move {
                        let row = parent::<Row>(&ctx)?;
                        let engine = ctx.data::<Arc<Engine>>()?;
                        Ok(Some(FieldValue::value(seal_row(&engine.cursors, row)?)))
                    })
                },
            ))
            .field(Field::new("node", TypeRef::named_nn(&target.name), |ctx| {
                FieldFuture::new(async move {
                    let row = parent::<Row>(&ctx)?;
                    Ok(Some(FieldValue::borrowed_any(&row.node)))
                })
            }));
        if let Some((owner, rel)) = rel {
            let props = self
                .plan
                .type_access(&owner.name)
                .and_then(|a| a.relations.get(&rel.name))
                .cloned()
                .unwrap_or_default();
            for p in &rel.properties {
                let Some(access) = props.get(&p.name).copied() else {
                    continue;
                };
                let path = format!("{}.{}.{}", owner.name, rel.name, p.name);
                let (ty, kind, grant) = match self.union {
                    None => (
                        output_type(&p.kind, access, p.nullable),
                        Some(p.kind.clone()).filter(|_| access.is_full()),
                        None,
                    ),
                    Some(union) => {
                        let masked = union.masked.contains(&path);
                        (
                            federation_type(&p.kind, masked, true),
                            Some(p.kind.clone()).filter(|_| !masked),
                            Some(Grant::EdgeProp {
                                ty: owner.name.clone(),
                                rel: rel.name.clone(),
                                prop: p.name.clone(),
                            }),
                        )
                    }
                };
                if let Some(ScalarKind::Enum(e)) = &kind {
                    self.enums_used.insert(e.clone());
                }
                let description = match self.union {
                    None => field_description(p.description.as_deref(), access),
                    Some(union) => federation_description(
                        p.description.as_deref(),
                        union.masked.contains(&path),
                    ),
                };
                let mut field = Field::new(&p.name, ty, move |ctx| {
                    let kind = kind.clone();
                    let grant = grant.clone();
                    FieldFuture::new(async move {
                        if withheld(&ctx, grant.as_ref())? {
                            return Ok(None);
                        }
                        let row = parent::<Row>(&ctx)?;
                        match row.edge.get(response_key(&ctx)) {
                            None | Some(Value::Null) => Ok(None),
                            Some(v) => Ok(Some(FieldValue::value(to_gql(v, kind.as_ref())?))),
                        }
                    })
                });
                if let Some(d) = description {
                    field = field.description(d);
                }
                edge = edge.field(field);
            }
        }
        let conn = Object::new(conn_name)
            .field(Field::new(
                "edges",
                TypeRef::named_nn_list_nn(edge_name),
                |ctx| {
                    FieldFuture::new(async move {
                        let page = parent::<Page>(&ctx)?;
                        Ok(Some(FieldValue::list(
                            page.shown().iter().map(|row| FieldValue::borrowed_any(row)),
                        )))
                    })
                },
            ))
            .field(Field::new(
                "pageInfo",
                TypeRef::named_nn("PageInfo"),
                |ctx| {
                    FieldFuture::new(async move {
                        let page = parent::<Page>(&ctx)?;
                        Ok(Some(FieldValue::borrowed_any(page)))
                    })
                },
            ))
            .field(
                Field::new("totalCount", TypeRef::named_nn(TypeRef::INT), |ctx| {
                    FieldFuture::new(async move {
                        let total = match parent::<Page>(&ctx)?.total {
                            Some(n) => GqlValue::Number(n.into()),
                            None => GqlValue::Null,
                        };
                        Ok(Some(FieldValue::value(total)))
                    })
                })
                .description("Rows matching `where`, over all pages."),
            );
        self.objects.push(edge);
        self.objects.push(conn);
    }

    fn filter_input(&mut self, key: &str) -> InputObject {
        let (kind, name, value_type) = match key.strip_prefix("enum:") {
            Some(e) => {
                self.enums_used.insert(e.to_string());
                (
                    ScalarKind::Enum(e.to_string()),
                    format!("{e}Filter"),
                    e.to_string(),
                )
            }
            None => {
                let kind = match key {
                    "ID" => ScalarKind::Id,
                    "String" => ScalarKind::String,
                    "Int" => ScalarKind::Int,
                    "Boolean" => ScalarKind::Boolean,
                    _ => ScalarKind::Date,
                };
                let name = filter_type_name(&kind);
                (kind, name, key.to_string())
            }
        };
        let mut input = InputObject::new(name).field(
            InputValue::new("isNull", TypeRef::named(TypeRef::BOOLEAN))
                .description("true: the value is absent; false: it is present."),
        );
        for op in ops_for(&kind) {
            use crate::ir::CompareOp::*;
            let (op_name, ty) = match op {
                Eq => ("eq", TypeRef::named(&value_type)),
                In => ("in", TypeRef::named_nn_list(&value_type)),
                Gt => ("gt", TypeRef::named(&value_type)),
                Gte => ("gte", TypeRef::named(&value_type)),
                Lt => ("lt", TypeRef::named(&value_type)),
                Lte => ("lte", TypeRef::named(&value_type)),
                StartsWith => ("startsWith", TypeRef::named(&value_type)),
            };
            input = input.field(InputValue::new(op_name, ty));
        }
        input
    }
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The walker of the operation `ctx` belongs to.
pub(crate) fn walker<'a>(
    ctx: &ResolverContext<'a>,
    engine: &'a Engine,
    plan: &'a AccessPlan,
    federated: bool,
) -> Walker<'a> {
    let env = &ctx.ctx.query_env;
    Walker::new(
        engine,
        plan,
        Document::new(&env.fragments, &env.operation.node, &env.variables),
    )
    .federated(federated)
}

/// Runs `query`, decodes its answer with `decode`, fetches its remote fields
/// from their subgraphs (see `remote`) and reports what it disclosed into the
/// request's [`Disclosure`](mandate_audit::Disclosure) through `note`: every
/// read of the store goes through here, so none escapes the audit record.
pub(crate) async fn run_disclosed<T: crate::remote::Pending>(
    ctx: &ResolverContext<'_>,
    engine: &Engine,
    query: &CypherQuery,
    decode: impl FnOnce(Value) -> Result<T, HubError>,
    note: impl FnOnce(&mandate_audit::Disclosure, &T),
) -> async_graphql::Result<T> {
    tracing::debug!(db.system = "neo4j", db.statement = %query.text, "cypher");
    // The asker's share of the store's connections, held while the query runs.
    let _ticket = match ctx.data_opt::<Arc<dyn crate::Meter>>() {
        Some(meter) => Some(
            meter
                .enter()
                .await
                .map_err(crate::meter::Throttled::into_graphql)?,
        ),
        None => None,
    };
    let started = std::time::Instant::now();
    // A query may keep the store busy for at most the asker's whole share of
    // its time; dropping it past that stops it in Neo4j too.
    let data = match _ticket
        .as_ref()
        .and_then(crate::meter::StoreTicket::longest_run)
    {
        Some(longest) => match tokio::time::timeout(longest, engine.store.run(query)).await {
            Ok(data) => data,
            Err(_) => {
                if let Some(meter) = ctx.data_opt::<Arc<dyn crate::Meter>>() {
                    meter.spent(longest);
                }
                return Err(HubError::new(
                    Code::Neo4jTimeout,
                    format!(
                        "the query ran past your agency's share of the graph database's time ({} ms at once) and was stopped; narrow it or page it",
                        longest.as_millis()
                    ),
                )
                .into_graphql());
            }
        },
        None => engine.store.run(query).await,
    };
    // Time the store worked for the asker (not time it was unreachable).
    let worked = !matches!(data, Err(crate::StoreError::Unavailable(_)));
    if let (true, Some(meter)) = (worked, ctx.data_opt::<Arc<dyn crate::Meter>>()) {
        meter.spent(started.elapsed());
    }
    let data = data.map_err(|e| e.into_hub_error().into_graphql())?;
    let mut answer = decode(data)?;
    crate::remote::complete(
        &engine.catalog,
        engine.subgraphs.as_ref(),
        ctx.data_opt::<crate::Principal>(),
        &mut answer,
    )
    .await;
    if let Ok(disclosure) = ctx.data::<Arc<mandate_audit::Disclosure>>() {
        note(disclosure, &answer);
    }
    Ok(answer)
}

async fn resolve_root(
    ctx: ResolverContext<'_>,
    engine: Arc<Engine>,
    fixed: Option<Arc<AccessPlan>>,
) -> async_graphql::Result<Option<FieldValue<'_>>> {
    let (plan, federated) = plan_of(&ctx, fixed.as_ref())?;
    let root = match walker(&ctx, &engine, &plan, federated).root(&ctx.ctx.item.node) {
        Ok(root) => root,
        // The federation view: a root type, filter or sort key outside the
        // caller's plan nulls this root field, with the reason on its path.
        Err(e) if federated && e.code == Code::FieldNotGranted => {
            null_with(&ctx, e.into_graphql());
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let query = crate::cypher::compile(&engine.catalog, &plan, &root)?;
    let answer = run_disclosed(
        &ctx,
        &engine,
        &query,
        |data| crate::answer::root(&root, data),
        |d, answer| crate::disclose::root(d, &engine.catalog, &plan, &root, answer),
    )
    .await?;
    Ok(match answer {
        Answer::Lookup(None) => None,
        Answer::Lookup(Some(node)) => Some(FieldValue::owned_any(node)),
        Answer::List(page) => Some(FieldValue::owned_any(page)),
    })
}
