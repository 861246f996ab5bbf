//! The hub: admission, execution with disclosure, and the audit record of every
//! request, behind its ports.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_graphql::dynamic::Schema;
use mandate_audit::{AuditSink, Decision, Disclosure};
use mandate_policies::Policies;
use mandate_resolvers::{
    AccessPlan, CallerPlan, Code, CursorKey, Engine, GraphStore, HubError, Limits, NoSubgraphs,
    ShapeLimits, Subgraphs,
};
use mandate_schema::Catalog;
use tracing::Instrument as _;

use crate::admission::{admit, Asker, Caller, Statement};
use crate::budgets::{Budgets, Ledger};
use crate::outcome::{code_of, decision_of, discloses_nothing, operation_of, Outcome, Who};
use crate::plans::{AgencyApi, AgencyApis};
use crate::ports::Jurisdictions;

/// Compiled agency APIs kept at most.
const PLAN_CACHE_CAPACITY: usize = 1024;

/// One request as the hub takes it from the server.
pub struct Call {
    /// The hub's own request id (in logs, the response and the audit record).
    pub request_id: String,
    /// The id the client sent, if any, recorded beside the hub's.
    pub client_request_id: Option<String>,
    /// The verified caller; `None` only for a hub built `open`.
    pub caller: Option<Caller>,
    /// What the request states outside the document.
    pub statement: Statement,
    /// The decoded GraphQL request.
    pub request: async_graphql::Request,
}

/// Why a hub could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The GraphQL schema generated from the catalog was rejected (a bug).
    #[error("generated GraphQL schema is invalid: {0}")]
    Schema(String),
}

/// Assembles a [`Hub`] from its ports.
pub struct HubBuilder {
    catalog: Arc<Catalog>,
    store: Arc<dyn GraphStore>,
    subgraphs: Arc<dyn Subgraphs>,
    jurisdictions: Arc<dyn Jurisdictions>,
    audit: Arc<dyn AuditSink>,
    policies: Policies,
    limits: Limits,
    shape: ShapeLimits,
    cursors: Option<CursorKey>,
    plan_ttl: Duration,
    jurisdiction_ttl: Duration,
    today: Option<String>,
    open: bool,
    anonymous_refusals_per_sec: u32,
    budgets: Budgets,
}

impl HubBuilder {
    /// A builder over the given ports and lists, with default limits, a random
    /// cursor key, plans trusted for 5 minutes, jurisdictions for 10 seconds and
    /// scopes evaluated today.
    pub fn new(
        catalog: Arc<Catalog>,
        store: Arc<dyn GraphStore>,
        jurisdictions: Arc<dyn Jurisdictions>,
        audit: Arc<dyn AuditSink>,
        policies: Policies,
    ) -> HubBuilder {
        HubBuilder {
            catalog,
            store,
            subgraphs: Arc::new(NoSubgraphs),
            jurisdictions,
            audit,
            policies,
            limits: Limits::default(),
            shape: ShapeLimits::default(),
            cursors: None,
            plan_ttl: Duration::from_secs(300),
            jurisdiction_ttl: Duration::from_secs(10),
            today: None,
            open: false,
            anonymous_refusals_per_sec: 50,
            budgets: Budgets::default(),
        }
    }

    /// What each agency and purpose may spend, and the store share of one agency.
    pub fn budgets(mut self, budgets: Budgets) -> Self {
        self.budgets = budgets;
        self
    }

    /// How many refusals of unauthenticated requests are recorded a second at
    /// most (default 50); the others are counted, and the next record says how
    /// many it follows.
    pub fn anonymous_refusals_per_sec(mut self, n: u32) -> Self {
        self.anonymous_refusals_per_sec = n;
        self
    }

    /// The departmental subgraphs remote fields come from (default: none
    /// configured, so remote fields answer `SUBGRAPH_UNAVAILABLE`).
    pub fn subgraphs(mut self, subgraphs: Arc<dyn Subgraphs>) -> Self {
        self.subgraphs = subgraphs;
        self
    }

    /// Page and input limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Query-shape limits.
    pub fn shape(mut self, shape: ShapeLimits) -> Self {
        self.shape = shape;
        self
    }

    /// The key cursors are sealed with (shared by every instance that must accept
    /// each other's cursors).
    pub fn cursors(mut self, key: CursorKey) -> Self {
        self.cursors = Some(key);
        self
    }

    /// How long a compiled agency API is reused (while its jurisdiction holds).
    pub fn plan_ttl(mut self, ttl: Duration) -> Self {
        self.plan_ttl = ttl;
        self
    }

    /// How long an agency's jurisdiction read through the [`Jurisdictions`] port
    /// is trusted before it is read again; a plan compiled from another
    /// jurisdiction than the one read is compiled afresh. Zero: read for every
    /// request.
    pub fn jurisdiction_ttl(mut self, ttl: Duration) -> Self {
        self.jurisdiction_ttl = ttl;
        self
    }

    /// Pins the date scopes are evaluated with (`YYYY-MM-DD`; tests).
    pub fn today(mut self, today: Option<String>) -> Self {
        self.today = today;
        self
    }

    /// Development only: every request is served the unrestricted schema, without
    /// a caller or a stated purpose.
    pub fn open(mut self, open: bool) -> Self {
        self.open = open;
        self
    }

    /// The hub.
    ///
    /// # Errors
    /// If the unrestricted schema cannot be generated (a bug).
    pub fn build(self) -> Result<Hub, BuildError> {
        let engine = Arc::new(Engine::new(
            self.catalog.clone(),
            self.limits,
            self.shape,
            self.cursors.unwrap_or_else(CursorKey::random),
            self.store,
            self.subgraphs,
        ));
        let unrestricted = Arc::new(AccessPlan::allow_all(&self.catalog));
        let schema = mandate_resolvers::build_schema(engine.clone(), unrestricted.clone())
            .map_err(|e| BuildError::Schema(e.to_string()))?;
        Ok(Hub {
            catalog: self.catalog,
            engine,
            schema,
            unrestricted,
            federation: std::sync::Mutex::new(None),
            jurisdictions: self.jurisdictions,
            audit: self.audit,
            policies: ArcSwap::from_pointee(self.policies),
            apis: AgencyApis::new(
                self.plan_ttl,
                self.jurisdiction_ttl,
                PLAN_CACHE_CAPACITY,
                self.today,
            ),
            open: self.open,
            sampler: RefusalSampler::new(self.anonymous_refusals_per_sec),
            throttled: RefusalSampler::new(self.anonymous_refusals_per_sec),
            ledger: Ledger::new(self.budgets),
        })
    }
}

/// The request pipeline from a verified caller to an audited answer.
pub struct Hub {
    catalog: Arc<Catalog>,
    engine: Arc<Engine>,
    /// The schema of the unrestricted plan: served to everyone only when open.
    schema: Schema,
    /// The unrestricted plan (the caller's plan in the federation view when open).
    unrestricted: Arc<AccessPlan>,
    /// The federation schema, with the policy version it was built from.
    federation: std::sync::Mutex<Option<(String, Schema)>>,
    jurisdictions: Arc<dyn Jurisdictions>,
    audit: Arc<dyn AuditSink>,
    policies: ArcSwap<Policies>,
    apis: AgencyApis,
    open: bool,
    sampler: RefusalSampler,
    /// Refusals for spent budget: they disclose nothing and an agency over its
    /// budget may send many, so they are sampled like anonymous ones.
    throttled: RefusalSampler,
    ledger: Ledger,
}

/// Lets through at most `per_sec` anonymous refusals a second for recording,
/// counting the rest.
struct RefusalSampler {
    per_sec: u32,
    /// (start of the current second, records let through in it, refusals held
    /// back since the last record, held back in all).
    state: std::sync::Mutex<(std::time::Instant, u32, u64, u64)>,
}

impl RefusalSampler {
    fn new(per_sec: u32) -> Self {
        RefusalSampler {
            per_sec,
            state: std::sync::Mutex::new((std::time::Instant::now(), 0, 0, 0)),
        }
    }

    /// `Some(held back before this one)` when this refusal is to be recorded.
    fn admit(&self) -> Option<u64> {
        // A poisoned lock only means another request panicked mid-update: the
        // counters are still plain numbers, so go on with them.
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.0.elapsed() >= Duration::from_secs(1) {
            s.0 = std::time::Instant::now();
            s.1 = 0;
        }
        if s.1 < self.per_sec {
            s.1 += 1;
            Some(std::mem::take(&mut s.2))
        } else {
            s.2 += 1;
            s.3 += 1;
            None
        }
    }

    fn total_unrecorded(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .3
    }
}

impl Hub {
    /// Answers `call`: admits it, executes it under the asker's plan and records
    /// it. `Err` is a refusal to send instead of an answer (already recorded, or
    /// `AUDIT_UNAVAILABLE` when its record could not be written).
    ///
    /// # Errors
    /// See above; the error's code decides the HTTP status.
    pub async fn handle(&self, call: Call) -> Result<async_graphql::Response, HubError> {
        self.handle_in(call, false, None).await
    }

    /// Answers `call` through the federation view, for a router in front of the
    /// hub (`/subgraph`): the same admission, the same audit record, the same
    /// walker, compiler, masks, row scopes and cost limits as [`Hub::handle`],
    /// but executed against the one federation schema (every mandate's fields)
    /// with the caller's plan deciding: what it does not grant answers `null`
    /// with `FIELD_NOT_GRANTED`.
    ///
    /// # Errors
    /// As [`Hub::handle`].
    pub async fn handle_subgraph(&self, call: Call) -> Result<async_graphql::Response, HubError> {
        self.handle_in(call, true, None).await
    }

    /// Answers `call` under `policies` instead of the lists in force — a
    /// policy officer's preview of a draft: the same admission, plan
    /// compilation (with the agency's jurisdiction), execution, masks and audit
    /// record as any request, only the lists differ.
    ///
    /// # Errors
    /// As [`Hub::handle`].
    pub async fn handle_under(
        &self,
        call: Call,
        policies: Arc<Policies>,
    ) -> Result<async_graphql::Response, HubError> {
        self.handle_in(call, false, Some(policies)).await
    }

    async fn handle_in(
        &self,
        call: Call,
        federated: bool,
        policies: Option<Arc<Policies>>,
    ) -> Result<async_graphql::Response, HubError> {
        let policies = policies.unwrap_or_else(|| self.policies.load_full());
        let Call {
            request_id,
            client_request_id,
            caller,
            statement,
            request,
        } = call;
        let operation = operation_of(&request);
        let admitted = match (&caller, self.open) {
            (_, true) => Ok((self.schema.clone(), self.unrestricted.clone(), None)),
            (None, false) => Err((
                Who::Unknown,
                HubError::new(Code::Unauthenticated, "no credential"),
            )),
            (Some(caller), false) => self
                .admit(&policies, caller, &statement, &request)
                .await
                .map(|(api, asker)| (api.schema.clone(), api.plan.clone(), Some(asker)))
                .map_err(|e| (Who::Caller(caller), e)),
        };
        // The federation view: one schema for every caller, the caller's plan
        // deciding at execution.
        let admitted = match admitted {
            Ok((_, plan, asker)) if federated => match self.federation_schema() {
                Ok(schema) => Ok((schema, plan, asker)),
                Err(e) => Err((caller.as_ref().map_or(Who::Unknown, Who::Caller), e)),
            },
            other => other,
        };
        let (schema, plan, asker) = match admitted {
            Ok(x) => x,
            Err((who, e)) => {
                let outcome = Outcome {
                    request_id: &request_id,
                    client_request_id: client_request_id.as_deref(),
                    who,
                    operation,
                    decision: Decision::Rejected,
                    code: Some(e.code),
                    disclosure: None,
                    unrecorded_before: 0,
                };
                self.record(outcome).await?;
                return Err(e);
            }
        };
        let disclosure = Arc::new(Disclosure::default());
        let mut request = request.data(disclosure.clone()).data(self.audit.clone());
        if federated {
            request = request.data(CallerPlan(plan));
        }
        if let Some(asker) = &asker {
            request = request.data(self.ledger.meter(&asker.caller.agency, &asker.purpose));
            // Owner writes record who wrote, for what purpose and case;
            // remote fields forward it to the departmental subgraphs.
            request = request.data(mandate_resolvers::Principal {
                request_id: request_id.clone(),
                agency: asker.caller.agency.clone(),
                officer: asker.caller.officer.clone(),
                purpose: asker.purpose.clone(),
                case: asker.case.clone(),
            });
        }
        let response = schema.execute(request).await;
        let throttled = response.data == async_graphql::Value::Null
            && matches!(
                code_of(&response),
                Some(Code::RateLimited | Code::QuotaExceeded)
            );
        let unrecorded_before = if throttled {
            match self.throttled.admit() {
                Some(before) => before,
                None => return Ok(response),
            }
        } else {
            0
        };
        let outcome = Outcome {
            request_id: &request_id,
            client_request_id: client_request_id.as_deref(),
            who: asker.as_ref().map_or(Who::Unknown, Who::Asker),
            operation,
            decision: decision_of(&response, &disclosure),
            code: code_of(&response),
            disclosure: Some(&disclosure),
            unrecorded_before,
        };
        if let Err(e) = self.record(outcome).await {
            // Fail closed: nothing leaves without a record. An answer that carries
            // no data at all (only errors and nulls) may still go out, so the
            // client sees the real cause (e.g. NEO4J_UNAVAILABLE when the whole
            // database is down).
            if !discloses_nothing(&response.data) {
                return Err(e);
            }
        }
        Ok(response)
    }

    /// Records a request refused before the hub could admit it: undecodable
    /// (`request` is `None`), or its credential did not verify. Such refusals
    /// carry no principal and disclose nothing, so they are sampled: at most
    /// `anonymous_refusals_per_sec` records a second, each naming how many went
    /// unrecorded before it (and [`Hub::unrecorded_refusals`] counts them all).
    ///
    /// # Errors
    /// `AUDIT_UNAVAILABLE` if the record could not be written (send that instead).
    pub async fn refuse(
        &self,
        request_id: &str,
        client_request_id: Option<&str>,
        request: Option<&async_graphql::Request>,
        code: Code,
    ) -> Result<(), HubError> {
        let Some(unrecorded_before) = self.sampler.admit() else {
            return Ok(());
        };
        let outcome = Outcome {
            request_id,
            client_request_id,
            who: Who::Unknown,
            operation: request.map(operation_of).unwrap_or_default(),
            decision: Decision::Rejected,
            code: Some(code),
            disclosure: None,
            unrecorded_before,
        };
        self.record(outcome).await
    }

    /// Whether `caller`, stating `purpose`, is held back for spent budget right
    /// now (an earlier refusal's `Retry-After` runs): then the request is refused
    /// before its body is read, and the refusal — which discloses nothing — is
    /// recorded sampled, with the caller.
    ///
    /// # Errors
    /// `AUDIT_UNAVAILABLE` if a sampled record could not be written.
    pub async fn holding_back(
        &self,
        request_id: &str,
        client_request_id: Option<&str>,
        caller: &Caller,
        purpose: Option<&str>,
    ) -> Result<Option<mandate_resolvers::Throttled>, HubError> {
        let Some(why) = self
            .ledger
            .holding_back(&caller.agency, purpose.unwrap_or_default())
        else {
            return Ok(None);
        };
        if let Some(unrecorded_before) = self.throttled.admit() {
            let outcome = Outcome {
                request_id,
                client_request_id,
                who: Who::Caller(caller),
                operation: String::new(),
                decision: Decision::Rejected,
                code: Some(why.code),
                disclosure: None,
                unrecorded_before,
            };
            self.record(outcome).await?;
        }
        Ok(Some(why))
    }

    /// Refusals counted but not recorded since the hub started: anonymous ones,
    /// and refusals of verified callers for spent budget (both sampled at
    /// `anonymous_refusals_per_sec`).
    pub fn unrecorded_refusals(&self) -> u64 {
        self.sampler.total_unrecorded() + self.throttled.total_unrecorded()
    }

    /// The compiled API of `caller` for `purpose` (from the cache when fresh).
    ///
    /// # Errors
    /// `NEO4J_UNAVAILABLE` / `NEO4J_TIMEOUT` when the jurisdiction cannot be read,
    /// `INTERNAL_ERROR` when the plan does not compile.
    pub async fn api(&self, caller: &Caller, purpose: &str) -> Result<Arc<AgencyApi>, HubError> {
        self.api_under(&self.policies.load_full(), caller, purpose)
            .await
    }

    /// [`Hub::api`] under `policies`.
    async fn api_under(
        &self,
        policies: &Policies,
        caller: &Caller,
        purpose: &str,
    ) -> Result<Arc<AgencyApi>, HubError> {
        self.apis
            .get(
                policies,
                &self.engine,
                self.jurisdictions.as_ref(),
                &caller.agency,
                &caller.roles,
                purpose,
            )
            .await
    }

    async fn admit(
        &self,
        policies: &Policies,
        caller: &Caller,
        statement: &Statement,
        request: &async_graphql::Request,
    ) -> Result<(Arc<AgencyApi>, Asker), HubError> {
        let asker = admit(policies, caller, statement, &request.extensions.0)?;
        let api = self.api_under(policies, caller, &asker.purpose).await?;
        if api.plan.grants_nothing() {
            return Err(HubError::new(
                Code::NothingGranted,
                "your roles grant nothing for this purpose: the responsibility list names it for other roles of your agency",
            ));
        }
        Ok((api, asker))
    }

    /// Writes the record; on failure the caller must not return data.
    async fn record(&self, outcome: Outcome<'_>) -> Result<(), HubError> {
        let record = outcome.record();
        let span = tracing::info_span!("audit.append", audit.decision = %record.decision);
        self.audit
            .append(record)
            .instrument(span)
            .await
            .map_err(|e| {
                tracing::error!(detail = %e, "audit record not written; withholding the answer");
                HubError::new(
                    Code::AuditUnavailable,
                    "the audit log is unavailable; no data is returned",
                )
            })
    }

    /// The responsibility lists in force.
    pub fn policies(&self) -> Arc<Policies> {
        self.policies.load_full()
    }

    /// Puts `next` in force if its version differs from the lists in force, and
    /// drops every plan compiled from the old ones. Returns the new version, or
    /// `None` when nothing changed.
    pub fn put_policies(&self, next: Policies) -> Option<String> {
        let previous = self.policies.load();
        if next.version() == previous.version() {
            return None;
        }
        let version = next.version().to_string();
        tracing::info!(policy.version = %version, policy.previous = %previous.version(), agencies = next.agencies().len(), "responsibility lists reloaded");
        drop(previous);
        self.policies.store(Arc::new(next));
        self.apis.clear();
        Some(version)
    }

    /// The data model.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// What every agency's schema shares (limits, cursor key, store).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The federation schema (`/subgraph`, `mandate sdl --federation`): the union
    /// of what every mandate the lists in force grant may read, built once per
    /// policy version. Needs no Neo4j: row scopes do not change a schema.
    ///
    /// # Errors
    /// `INTERNAL_ERROR` when a plan does not compile or the schema is rejected.
    pub fn federation_schema(&self) -> Result<Schema, HubError> {
        let policies = self.policies.load_full();
        if let Ok(cached) = self.federation.lock() {
            if let Some((version, schema)) = cached.as_ref() {
                if version == policies.version() {
                    return Ok(schema.clone());
                }
            }
        }
        let today = crate::plans::today();
        let plans = policies
            .mandates()
            .into_iter()
            .map(|m| {
                let key = mandate_policies::PlanKey::without_jurisdiction(
                    &m.agency,
                    std::slice::from_ref(&m.role),
                    &m.purpose,
                    &today,
                );
                policies.compile(&key).map_err(HubError::internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let schema = mandate_resolvers::build_federation_schema(self.engine.clone(), &plans)
            .map_err(HubError::internal)?;
        tracing::info!(
            policy.version = %policies.version(),
            mandates = plans.len(),
            "federation schema built"
        );
        if let Ok(mut cached) = self.federation.lock() {
            *cached = Some((policies.version().to_string(), schema.clone()));
        }
        Ok(schema)
    }

    /// The federation schema's SDL as a router composes it: Apollo Federation 2
    /// (`@link`, `@key(fields: "id")` on every type some mandate looks up by id),
    /// the same text `_service { sdl }` answers on `/subgraph`.
    ///
    /// # Errors
    /// As [`Hub::federation_schema`].
    pub fn federation_sdl(&self) -> Result<String, HubError> {
        Ok(self.federation_schema()?.sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        ))
    }

    /// The schema of the unrestricted plan (`mandate sdl`; served only when open).
    pub fn unrestricted_schema(&self) -> &Schema {
        &self.schema
    }

    /// The schema an agency's credential with `roles` is served for `purpose`, as
    /// the lists in force compile it, without reading the agency's jurisdiction
    /// (`mandate sdl --agency`): row scopes do not change a schema, only the rows.
    ///
    /// # Errors
    /// `NOTHING_GRANTED` when the roles grant nothing for the purpose (including a
    /// purpose or agency the lists do not name); `INTERNAL_ERROR` when the plan
    /// does not compile.
    pub fn schema_of(
        &self,
        agency: &str,
        roles: &[String],
        purpose: &str,
    ) -> Result<Schema, HubError> {
        let key = mandate_policies::PlanKey::without_jurisdiction(
            agency,
            roles,
            purpose,
            &crate::plans::today(),
        );
        let plan = Arc::new(
            self.policies
                .load_full()
                .compile(&key)
                .map_err(HubError::internal)?,
        );
        if plan.grants_nothing() {
            return Err(HubError::new(
                Code::NothingGranted,
                "these roles grant nothing for this purpose",
            ));
        }
        mandate_resolvers::build_schema(self.engine.clone(), plan).map_err(HubError::internal)
    }

    /// The audit sink.
    pub fn audit(&self) -> &Arc<dyn AuditSink> {
        &self.audit
    }

    /// Compiled agency APIs in the cache (for metrics).
    pub fn plans_cached(&self) -> usize {
        self.apis.len()
    }

    /// Whether every request is served unrestricted (development).
    pub fn is_open(&self) -> bool {
        self.open
    }
}
