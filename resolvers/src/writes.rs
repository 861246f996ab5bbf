//! Owner writes: `update<Type>(id:, set:, expect:)` mutations through which a
//! department updates the fields it owns — those its responsibility list grants
//! with `write` items (the loader allows them only to the owner department,
//! beside a full `read` of the same field). Present in an agency's schema only
//! when its plan grants a write.
//!
//! An update is a compare-and-set: `expect` holds, for every field in `set`, the
//! value the writer read; if any no longer holds the update is refused with
//! `CONFLICT` and nothing is written, so two concurrent updates of one record
//! cannot silently lose one. A row outside the plan's row scope is `NOT_FOUND`,
//! as one that does not exist.
//!
//! No write without a record. The update runs in a write transaction (the store
//! commits the writes waiting at the same moment together) that takes the
//! node's lock and checks the precondition; when it holds, the audit record
//! (before and after hashes, never values) is appended while the transaction
//! is open, and the write commits only once the record is durable. That needs a
//! sink that can append while the write holds the node's lock — the journal.
//! A sink that commits each record to the data's own Neo4j cannot (the record's
//! link to the resident would wait for that very lock), so there the
//! precondition is first checked read only, the record written, and only then
//! the update run; if a racing update got there in between, nothing is written
//! and a second record voids the first.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, TypeRef,
};
use async_graphql::Value as GqlValue;
use mandate_audit::{AuditRecord, AuditSink, Decision};
use mandate_schema::{NodeType, ScalarKind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::access::AccessPlan;
use crate::api::{parse_date, Engine};
use crate::errors::{Code, HubError};
use crate::meter::{Meter, Throttled};
use crate::principal::Principal;
use crate::store::{StoreError, WriteOutcome, WriteSeal, Written};

/// The longest string an update may write.
const MAX_TEXT: usize = 1000;

/// The mutation root, its inputs and its result type, when `plan` grants writes.
pub(crate) fn mutation(
    engine: &Arc<Engine>,
    plan: &Arc<AccessPlan>,
) -> Option<(Object, Vec<InputObject>, Object)> {
    let mut root = Object::new("Mutation").description(
        "Update the fields your department owns, as your responsibility list grants (`write` items).",
    );
    let mut inputs = Vec::new();
    let mut any = false;
    for t in &engine.catalog.types {
        let Some(access) = plan.type_access(&t.name) else {
            continue;
        };
        if access.writes.is_empty() {
            continue;
        }
        any = true;
        let input = format!("{}Update", t.name);
        let mut obj = InputObject::new(&input).description(format!(
            "Fields of {} you may write. In `set`: the new values; in `expect`: the values you read (null for none), one for each field set.",
            t.name
        ));
        for name in &access.writes {
            if let Some(f) = t.field(name) {
                obj = obj.field(InputValue::new(
                    &f.name,
                    TypeRef::named(crate::api::scalar_type_name(&f.kind)),
                ));
            }
        }
        inputs.push(obj);
        let field_name = format!("update{}", t.name);
        let ty = t.name.clone();
        let engine = engine.clone();
        let plan = plan.clone();
        root = root.field(
            Field::new(field_name, TypeRef::named_nn("UpdateResult"), move |ctx| {
                let engine = engine.clone();
                let plan = plan.clone();
                let ty = ty.clone();
                FieldFuture::new(async move {
                    let t = engine
                        .catalog
                        .node(&ty)
                        .ok_or_else(|| HubError::internal("type missing from catalog").into_graphql())?;
                    let id = ctx.args.try_get("id")?.string()?.to_string();
                    let set = values(ctx.args.try_get("set")?.object()?)?;
                    let expect = values(ctx.args.try_get("expect")?.object()?)?;
                    let writer = ctx.data::<Principal>()?.clone();
                    let sink = ctx.data::<Arc<dyn AuditSink>>()?.clone();
                    // A write holds one of its agency's store tickets until
                    // it is answered (so one agency cannot fill the shared
                    // write queue) and is charged its store time; it is not
                    // stopped at the agency's share, as a write already in its
                    // group may still commit.
                    let meter = ctx.data_opt::<Arc<dyn Meter>>().cloned();
                    let _ticket = match &meter {
                        Some(m) => Some(m.enter().await.map_err(Throttled::into_graphql)?),
                        None => None,
                    };
                    let updated =
                        update(&engine, &plan, t, &id, set, expect, writer, sink, meter.as_deref())
                            .await
                            .map_err(HubError::into_graphql)?;
                    Ok(Some(FieldValue::owned_any(updated)))
                })
            })
            .description(format!(
                "Updates one {} inside your mandate: every field in `set` is written only if it still holds its `expect` value (else CONFLICT, nothing written).",
                t.name
            ))
            .argument(InputValue::new("id", TypeRef::named_nn("ID")))
            .argument(InputValue::new("set", TypeRef::named_nn(&input)))
            .argument(InputValue::new("expect", TypeRef::named_nn(&input))),
        );
    }
    if !any {
        return None;
    }
    let result = Object::new("UpdateResult")
        .description("An update that was written (and recorded).")
        .field(Field::new("id", TypeRef::named_nn("ID"), |ctx| {
            FieldFuture::new(async move {
                let u = ctx.parent_value.try_downcast_ref::<Updated>()?;
                Ok(Some(FieldValue::value(GqlValue::String(u.id.clone()))))
            })
        }))
        .field(Field::new(
            "updated",
            TypeRef::named_nn_list_nn(TypeRef::STRING),
            |ctx| {
                FieldFuture::new(async move {
                    let u = ctx.parent_value.try_downcast_ref::<Updated>()?;
                    Ok(Some(FieldValue::list(
                        u.fields
                            .iter()
                            .map(|f| FieldValue::value(GqlValue::String(f.clone()))),
                    )))
                })
            },
        ));
    Some((root, inputs, result))
}

/// What an update wrote.
struct Updated {
    id: String,
    fields: Vec<String>,
}

fn values(
    obj: async_graphql::dynamic::ObjectAccessor<'_>,
) -> async_graphql::Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for (name, v) in obj.iter() {
        let json =
            v.as_value().clone().into_json().map_err(|_| {
                HubError::new(Code::BadUserInput, "unreadable value").into_graphql()
            })?;
        out.insert(name.to_string(), json);
    }
    Ok(out)
}

fn bad(message: String) -> HubError {
    HubError::new(Code::BadUserInput, message)
}

/// Checks the values against the catalog: the type's fields, non-null where
/// the field is, dates, lengths and structured values' fixed length.
fn check(
    t: &NodeType,
    set: &BTreeMap<String, Value>,
    expect: &BTreeMap<String, Value>,
) -> Result<(), HubError> {
    if set.is_empty() {
        return Err(bad("`set` names no field".into()));
    }
    if set.keys().ne(expect.keys()) {
        return Err(bad(
            "`expect` names exactly the fields of `set`, with the values you read".into(),
        ));
    }
    for (name, value) in set {
        let f = t
            .field(name)
            .ok_or_else(|| bad(format!("`{name}` is not a field of {}", t.name)))?;
        match value {
            Value::Null if !f.nullable => return Err(bad(format!("`{name}` may not be null"))),
            Value::Null => {}
            Value::String(s) if f.kind == ScalarKind::Date && parse_date(s).is_none() => {
                return Err(bad(format!("`{name}`: `{s}` is not a date YYYY-MM-DD")))
            }
            Value::String(s) if s.chars().count() > MAX_TEXT => {
                return Err(bad(format!(
                    "`{name}` is longer than {MAX_TEXT} characters"
                )))
            }
            Value::String(s) if f.fixed_length().is_some_and(|n| s.chars().count() != n) => {
                return Err(bad(format!(
                    "`{name}` has {} characters, not {}",
                    s.chars().count(),
                    f.fixed_length().unwrap_or_default()
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

fn hash(v: &Value) -> String {
    hex::encode(&Sha256::digest(serde_json::to_vec(v).unwrap_or_default())[..16])
}

#[allow(clippy::too_many_arguments)]
async fn update(
    engine: &Engine,
    plan: &AccessPlan,
    t: &NodeType,
    id: &str,
    set: BTreeMap<String, Value>,
    expect: BTreeMap<String, Value>,
    writer: Principal,
    sink: Arc<dyn AuditSink>,
    meter: Option<&dyn Meter>,
) -> Result<Updated, HubError> {
    // Store time worked for the writer (not time the store was unreachable).
    let charge = |took: std::time::Duration, worked: bool| {
        if let (true, Some(m)) = (worked, meter) {
            m.spent(took);
        }
    };
    let writable = plan.type_access(&t.name).map(|a| &a.writes);
    if let Some(name) = set
        .keys()
        .find(|k| !writable.is_some_and(|w| w.contains(*k)))
    {
        return Err(HubError::new(
            Code::BadUserInput,
            format!("`{name}` is not writable under your mandate"),
        ));
    }
    check(t, &set, &expect)?;
    let set: Vec<(String, Value)> = set.into_iter().collect();
    let expect: Vec<(String, Value)> = expect.into_iter().collect();
    let query = crate::cypher::compile_update(&engine.catalog, plan, t, id, &set, &expect, false)?;
    let fields: Vec<String> = set.iter().map(|(f, _)| format!("{}.{f}", t.name)).collect();
    let after: serde_json::Map<String, Value> = set.iter().cloned().collect();
    let after = hash(&Value::Object(after));
    let residents = if t.data_subject {
        vec![id.to_string()]
    } else {
        Vec::new()
    };
    let record = {
        let (request, target) = (
            format!("{}/{}:{id}", writer.request_id, t.name),
            format!("{}:{id}", t.name),
        );
        let fields = fields.clone();
        move |action: &str, code: &str, before: &Value, residents: Vec<String>| {
            let mut r = AuditRecord::new(&request, Decision::Allowed);
            r.agency = writer.agency.clone();
            r.officer = writer.officer.clone();
            r.purpose = writer.purpose.clone();
            r.case_number = writer.case.clone();
            r.action = action.to_string();
            r.target = format!("{target} before:{} after:{after}", hash(before));
            r.code = code.to_string();
            r.fields = fields.clone();
            r.residents = residents;
            r
        }
    };
    let not_found = || {
        HubError::new(
            Code::NotFound,
            format!("no {} `{id}` inside your mandate", t.name),
        )
    };
    let conflict = || {
        HubError::new(
            Code::Conflict,
            format!("{} `{id}` changed since you read it: `expect` no longer holds; nothing was written", t.name),
        )
    };
    let unrecorded = |e: String| {
        tracing::error!(detail = %e, "write not recorded; nothing written");
        HubError::new(
            Code::AuditUnavailable,
            "the audit log is unavailable; nothing was written",
        )
    };
    // The record is sealed inside the write's transaction when the sink can
    // append while the write holds its locks (the journal); otherwise it is
    // written first, once a read-only probe found the precondition holding.
    let sealed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seal: WriteSeal = if sink.appends_under_locks() {
        let (sink, sealed, record, residents) = (
            sink.clone(),
            sealed.clone(),
            record.clone(),
            residents.clone(),
        );
        Box::new(move |data: &Value| {
            let r = record("data.update", "", &data["before"], residents);
            Box::pin(async move {
                sink.append(r).await.map_err(|e| e.to_string())?;
                sealed.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
        })
    } else {
        let probe =
            crate::cypher::compile_update(&engine.catalog, plan, t, id, &set, &expect, true)?;
        let started = std::time::Instant::now();
        let seen = engine.store.run(&probe).await;
        charge(
            started.elapsed(),
            !matches!(seen, Err(StoreError::Unavailable(_))),
        );
        let seen = seen.map_err(StoreError::into_hub_error)?;
        if seen.is_null() {
            return Err(not_found());
        }
        if seen["apply"] != Value::Bool(true) {
            return Err(conflict());
        }
        sink.append(record(
            "data.update",
            "",
            &seen["before"],
            residents.clone(),
        ))
        .await
        .map_err(|e| unrecorded(e.to_string()))?;
        sealed.store(true, std::sync::atomic::Ordering::SeqCst);
        Box::new(|_: &Value| Box::pin(async { Ok(()) }))
    };
    let WriteOutcome {
        written,
        store_time,
    } = engine.store.write(&query, seal).await;
    charge(
        store_time,
        !matches!(written, Err(StoreError::Unavailable(_))),
    );
    let error = match written {
        Ok(Written::Committed(_)) => {
            return Ok(Updated {
                id: id.to_string(),
                fields,
            })
        }
        Ok(Written::Missing) => not_found(),
        Ok(Written::Stale) => conflict(),
        Ok(Written::Unsealed(why)) => return Err(unrecorded(why)),
        Err(e) => e.into_hub_error(),
    };
    if sealed.load(std::sync::atomic::Ordering::SeqCst) {
        // Recorded but not written (a racing update, a row gone, a store
        // failure): void the record.
        let code = error.code.as_str();
        sink.append(record("data.update.void", code, &Value::Null, Vec::new()))
            .await
            .map_err(|e| unrecorded(e.to_string()))?;
    }
    Err(error)
}
