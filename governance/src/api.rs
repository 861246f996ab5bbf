//! The admin GraphQL API (`/admin/graphql`): transport-free. The server puts
//! the officer ([`Officer`]), the request id ([`RequestId`]), the lists in force
//! ([`InForce`]) and the [`Extras`] it implements into each request's data.
//! Every resolver checks the officer's roles in [`crate::service`] or here;
//! every error carries a stable `extensions.code`.

use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, Object, Schema, SimpleObject, ID,
};
use futures::future::BoxFuture;
use mandate_audit::AuditRecord;
use mandate_policies::Policies;

use crate::error::AdminError;
use crate::records::{Application, ApplicationState, Draft, DraftState, Grant, GrantKind, Officer};
use crate::service::Governance;
use crate::store::Version;
use crate::views::{self, CatalogField, Change, Explanation, MatrixCell};

/// The schema type.
pub type AdminSchema = Schema<Query, Mutation, EmptySubscription>;

/// The admin schema's complexity limit (also the most selections an admin
/// document's fragments may expand to).
pub const MAX_COMPLEXITY: usize = 5000;

/// Builds the schema (limits as the data API's: depth and complexity bounded).
pub fn schema() -> AdminSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .limit_depth(12)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The hub's request id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The lists in force when the request arrived.
#[derive(Clone)]
pub struct InForce(pub Arc<Policies>);

/// Audit search criteria.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Agency.
    pub agency: Option<String>,
    /// Purpose.
    pub purpose: Option<String>,
    /// Case number.
    pub case_number: Option<String>,
    /// Resident whose data was disclosed.
    pub resident: Option<String>,
    /// From (RFC 3339, inclusive).
    pub from: Option<String>,
    /// To (RFC 3339, exclusive).
    pub to: Option<String>,
    /// At most this many, newest first.
    pub first: usize,
}

/// Reads of one agency on one day: (agency, `YYYY-MM-DD`, reads).
pub type DayCount = (String, String, i64);

/// What the admin API needs from the hub around it.
pub trait Extras: Send + Sync + 'static {
    /// Audit records matching `filter`, newest first.
    fn audit_search(
        &self,
        filter: AuditFilter,
    ) -> BoxFuture<'_, Result<Vec<AuditRecord>, AdminError>>;
    /// Data reads per agency per day since `since` (`YYYY-MM-DD`).
    fn reads_per_day(&self, since: String) -> BoxFuture<'_, Result<Vec<DayCount>, AdminError>>;
    /// Runs `query` (with `variables`) as `agency`/`role` for `purpose` under
    /// `policies` instead of the lists in force: admitted, scoped, masked and
    /// audited as any request of that agency, with `officer` and `case`
    /// recorded. The response as JSON.
    #[allow(clippy::too_many_arguments)]
    fn run_under(
        &self,
        policies: Arc<Policies>,
        agency: String,
        role: String,
        purpose: String,
        officer: String,
        case: String,
        query: String,
        variables: serde_json::Value,
    ) -> BoxFuture<'_, Result<serde_json::Value, AdminError>>;
}

fn err(e: AdminError) -> async_graphql::Error {
    let code = e.code();
    let roles = match &e {
        AdminError::RoleRequired { roles, .. } => roles.clone(),
        _ => Vec::new(),
    };
    async_graphql::Error::new(e.to_string()).extend_with(|_, x| {
        x.set("code", code.as_str());
        if !roles.is_empty() {
            x.set(
                "roles",
                roles
                    .iter()
                    .map(|r| async_graphql::Value::from(*r))
                    .collect::<Vec<_>>(),
            );
        }
    })
}

struct Env<'a> {
    gov: &'a Arc<Governance>,
    officer: &'a Officer,
    request_id: String,
}

fn env<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<Env<'a>> {
    Ok(Env {
        gov: ctx.data::<Arc<Governance>>()?,
        officer: ctx.data::<Officer>()?,
        request_id: ctx
            .data::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
    })
}

/// Runs a mutation; a refusal is recorded in the audit log before it is returned.
async fn act<T>(
    e: &Env<'_>,
    action: &str,
    target: &str,
    f: impl std::future::Future<Output = Result<T, AdminError>>,
) -> async_graphql::Result<T> {
    match f.await {
        Ok(x) => Ok(x),
        Err(error @ (AdminError::AuditUnavailable | AdminError::Unavailable)) => Err(err(error)),
        Err(error) => Err(err(e
            .gov
            .refused(&e.request_id, e.officer, action, target, error)
            .await)),
    }
}

/// Checks that the officer has one of `roles` for a query; a refusal is
/// recorded as one of `action` on `target`, as a refused mutation is.
async fn need(
    e: &Env<'_>,
    action: &str,
    target: &str,
    what: &str,
    roles: &[&'static str],
) -> async_graphql::Result<()> {
    let roles = roles.to_vec();
    act(e, action, target, async move {
        if roles.iter().any(|r| e.officer.has(r)) {
            Ok(())
        } else {
            Err(AdminError::role(what, &roles))
        }
    })
    .await
}

/// Records a read of the audit log (fail closed: no record, no answer).
async fn record_read(e: &Env<'_>, action: &str, target: &str) -> async_graphql::Result<()> {
    e.gov
        .record_action(&e.request_id, e.officer, action, target)
        .await
        .map_err(err)
}

/// The signed-in officer.
#[derive(SimpleObject)]
pub struct OfficerView {
    /// Id.
    officer: String,
    /// Agency.
    agency: String,
    /// Roles.
    roles: Vec<String>,
}

/// Lines a draft adds and removes.
#[derive(SimpleObject)]
pub struct LineDiff {
    /// Added lines.
    added: Vec<String>,
    /// Removed lines.
    removed: Vec<String>,
}

/// A published version.
pub struct VersionView {
    v: Version,
    current: bool,
}

#[Object(name = "PolicyVersion")]
impl VersionView {
    async fn number(&self) -> i64 {
        i64::try_from(self.v.number).unwrap_or(i64::MAX)
    }
    async fn published_at(&self) -> &str {
        &self.v.published_at
    }
    async fn author(&self) -> &str {
        &self.v.author
    }
    async fn approver(&self) -> &str {
        &self.v.approver
    }
    async fn reason(&self) -> &str {
        &self.v.reason
    }
    async fn basis(&self) -> &str {
        &self.v.basis
    }
    async fn draft_id(&self) -> Option<ID> {
        self.v.draft_id.clone().map(ID)
    }
    async fn rollback_of(&self) -> Option<i64> {
        self.v.rollback_of.and_then(|n| i64::try_from(n).ok())
    }
    /// Whether a second officer approved it: false for a rollback (one
    /// approver's emergency republication of an earlier version) and for the
    /// system's first import.
    async fn two_person(&self) -> bool {
        self.v.rollback_of.is_none() && self.v.author != self.v.approver
    }
    /// Whether it is the version in force.
    async fn current(&self) -> bool {
        self.current
    }
    /// Its list files.
    async fn files(&self) -> Vec<String> {
        self.v.files.iter().map(|f| f.name.clone()).collect()
    }
    /// One file's text.
    async fn text(&self, file: String) -> Option<String> {
        self.v
            .files
            .iter()
            .find(|f| f.name == file)
            .map(|f| f.text.clone())
    }
}

/// A draft.
pub struct DraftView(Draft);

#[Object(name = "Draft")]
impl DraftView {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn department(&self) -> &str {
        &self.0.department
    }
    async fn file(&self) -> &str {
        &self.0.file
    }
    async fn base_version(&self) -> i64 {
        i64::try_from(self.0.base_version).unwrap_or(i64::MAX)
    }
    async fn state(&self) -> DraftState {
        self.0.state
    }
    async fn author(&self) -> &str {
        &self.0.author
    }
    /// Everyone who changed its text, the author first; none may approve it.
    async fn editors(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![self.0.author.as_str()];
        for e in &self.0.editors {
            if !out.contains(&e.as_str()) {
                out.push(e);
            }
        }
        out
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn basis(&self) -> &str {
        &self.0.basis
    }
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }
    async fn proposed_at(&self) -> Option<&str> {
        self.0.proposed_at.as_deref()
    }
    async fn decided_by(&self) -> Option<&str> {
        self.0.decided_by.as_deref()
    }
    async fn decided_at(&self) -> Option<&str> {
        self.0.decided_at.as_deref()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn published_version(&self) -> Option<i64> {
        self.0.published_version.and_then(|n| i64::try_from(n).ok())
    }
    async fn text(&self) -> &str {
        &self.0.text
    }
    /// The lines it adds and removes against the version in force.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<LineDiff> {
        let gov = ctx.data::<Arc<Governance>>()?;
        let (added, removed) = gov.draft_lines(&self.0).await.map_err(err)?;
        Ok(LineDiff { added, removed })
    }
    /// What it changes, per agency, role and purpose, against the version in force.
    /// `residentsTouched` counts, in the current data, the residents whose
    /// data each change concerns: of a change on `Resident`, those the
    /// mandate's rows reach (after the change if it gains, before if it loses).
    #[graphql(complexity = 100)]
    async fn changes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Change>> {
        let e = env(ctx)?;
        let mut changes = e.gov.draft_changes(&self.0).await.map_err(err)?;
        if changes.is_empty() || !ctx.look_ahead().field("residentsTouched").exists() {
            return Ok(changes);
        }
        let Ok(extras) = ctx.data::<Arc<dyn Extras>>() else {
            return Ok(changes);
        };
        let before = ctx.data::<InForce>()?.0.clone();
        let after = Arc::new(e.gov.draft_policies(&self.0).await.map_err(err)?);
        let mut counted: std::collections::HashMap<(bool, String, String, String), Option<i64>> =
            std::collections::HashMap::new();
        for c in &mut changes {
            let on_residents = c.object == "Resident" || c.object.starts_with("Resident.");
            if !on_residents {
                continue;
            }
            let gains = matches!(
                c.kind,
                views::ChangeKind::GainsField | views::ChangeKind::GainsRows
            );
            let key = (gains, c.agency.clone(), c.role.clone(), c.purpose.clone());
            if let Some(n) = counted.get(&key) {
                c.residents_touched = *n;
                continue;
            }
            let policies = if gains { after.clone() } else { before.clone() };
            let answer = extras
                .run_under(
                    policies,
                    c.agency.clone(),
                    c.role.clone(),
                    c.purpose.clone(),
                    format!("impact:{}", e.officer.officer),
                    format!("IMPACT:{}", self.0.id),
                    "{ residents(first: 1) { totalCount } }".to_string(),
                    serde_json::Value::Null,
                )
                .await;
            let n = answer
                .ok()
                .and_then(|a| a["data"]["residents"]["totalCount"].as_i64());
            counted.insert(key, n);
            c.residents_touched = n;
        }
        Ok(changes)
    }
}

/// A sharing application.
pub struct ApplicationView {
    a: Application,
    overdue: bool,
}

impl ApplicationView {
    /// The view of `a`, overdue as the hub's clock counts it now.
    fn of(gov: &Governance, a: Application) -> Self {
        ApplicationView {
            overdue: gov.overdue(&a),
            a,
        }
    }
}

#[Object(name = "SharingApplication")]
impl ApplicationView {
    async fn id(&self) -> ID {
        ID(self.a.id.clone())
    }
    async fn agency(&self) -> &str {
        &self.a.agency
    }
    async fn officer(&self) -> &str {
        &self.a.officer
    }
    async fn role(&self) -> &str {
        &self.a.role
    }
    async fn purpose(&self) -> &str {
        &self.a.purpose
    }
    async fn fields(&self) -> &[String] {
        &self.a.fields
    }
    async fn basis(&self) -> &str {
        &self.a.basis
    }
    async fn scope(&self) -> &str {
        &self.a.scope
    }
    async fn duration_days(&self) -> u32 {
        self.a.duration_days
    }
    /// The department owning the fields.
    async fn owner(&self) -> &str {
        &self.a.owner
    }
    async fn state(&self) -> ApplicationState {
        self.a.state
    }
    async fn submitted_at(&self) -> &str {
        &self.a.submitted_at
    }
    async fn acknowledge_by(&self) -> &str {
        &self.a.acknowledge_by
    }
    async fn answer_by(&self) -> &str {
        &self.a.answer_by
    }
    async fn acknowledged_at(&self) -> Option<&str> {
        self.a.acknowledged_at.as_deref()
    }
    async fn answered_at(&self) -> Option<&str> {
        self.a.answered_at.as_deref()
    }
    async fn answered_by(&self) -> Option<&str> {
        self.a.answered_by.as_deref()
    }
    async fn reasons(&self) -> Option<&str> {
        self.a.reasons.as_deref()
    }
    /// Past a deadline it has not met.
    async fn overdue(&self) -> bool {
        self.overdue
    }
    async fn grant_id(&self) -> Option<ID> {
        self.a.grant_id.clone().map(ID)
    }
}

/// A time-boxed grant.
pub struct GrantView {
    g: Grant,
    expired: bool,
    review_overdue: bool,
}

#[Object(name = "Grant")]
impl GrantView {
    async fn id(&self) -> ID {
        ID(self.g.id.clone())
    }
    async fn kind(&self) -> GrantKind {
        self.g.kind
    }
    async fn agency(&self) -> &str {
        &self.g.agency
    }
    async fn role(&self) -> &str {
        &self.g.role
    }
    async fn purpose(&self) -> &str {
        &self.g.purpose
    }
    async fn fields(&self) -> &[String] {
        &self.g.fields
    }
    async fn scope(&self) -> &str {
        &self.g.scope
    }
    async fn issued_by(&self) -> &str {
        &self.g.issued_by
    }
    async fn starts_at(&self) -> &str {
        &self.g.starts_at
    }
    async fn expires_at(&self) -> &str {
        &self.g.expires_at
    }
    async fn expired(&self) -> bool {
        self.expired
    }
    async fn incident(&self) -> Option<&str> {
        self.g.incident.as_deref()
    }
    async fn review_due_at(&self) -> Option<&str> {
        self.g.review_due_at.as_deref()
    }
    async fn reviewed_by(&self) -> Option<&str> {
        self.g.reviewed_by.as_deref()
    }
    async fn reviewed_at(&self) -> Option<&str> {
        self.g.reviewed_at.as_deref()
    }
    /// A break-glass review past due and not signed off.
    async fn review_overdue(&self) -> bool {
        self.review_overdue
    }
}

/// One audit record.
#[derive(SimpleObject)]
pub struct AuditEntry {
    time: String,
    chain: String,
    seq: i64,
    request_id: String,
    agency: String,
    officer: String,
    purpose: String,
    case_number: String,
    decision: String,
    code: String,
    action: Option<String>,
    target: Option<String>,
    fields: Vec<String>,
    residents: Vec<String>,
}

impl From<AuditRecord> for AuditEntry {
    fn from(r: AuditRecord) -> Self {
        AuditEntry {
            time: r.time,
            chain: r.chain,
            seq: i64::try_from(r.seq).unwrap_or(i64::MAX),
            request_id: r.request_id,
            agency: r.agency,
            officer: r.officer,
            purpose: r.purpose,
            case_number: r.case_number,
            decision: r.decision.as_str().to_string(),
            code: r.code,
            action: Some(r.action).filter(|a| !a.is_empty()),
            target: Some(r.target).filter(|a| !a.is_empty()),
            fields: r.fields,
            residents: r.residents,
        }
    }
}

/// Reads of one agency on one day.
#[derive(SimpleObject)]
pub struct AgencyDayCount {
    agency: String,
    day: String,
    reads: i64,
}

/// One read of a resident's data, as the resident is told.
#[derive(SimpleObject)]
pub struct Receipt {
    time: String,
    agency: String,
    /// Absent for a purpose the lists mark confidential.
    purpose: Option<String>,
    case_number: Option<String>,
    officer: Option<String>,
    fields: Vec<String>,
}

/// Queries.
pub struct Query;

#[Object]
impl Query {
    /// The signed-in officer.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<OfficerView> {
        let o = ctx.data::<Officer>()?;
        Ok(OfficerView {
            officer: o.officer.clone(),
            agency: o.agency.clone(),
            roles: o.roles.iter().cloned().collect(),
        })
    }

    /// Every field of the catalog with owner, sensitivity and share class.
    async fn catalog(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CatalogField>> {
        Ok(views::catalog(env(ctx)?.gov.catalog()))
    }

    /// Agencies with a list in force.
    async fn agencies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(ctx.data::<InForce>()?.0.agencies().into_iter().collect())
    }

    /// Purposes the lists in force name (of one agency, or all).
    async fn purposes(
        &self,
        ctx: &Context<'_>,
        agency: Option<String>,
    ) -> async_graphql::Result<Vec<String>> {
        let p = &ctx.data::<InForce>()?.0;
        let mut out: Vec<String> = p
            .mandates()
            .into_iter()
            .filter(|m| agency.as_deref().is_none_or(|a| a == m.agency))
            .map(|m| m.purpose)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The matrix agency × role × purpose × field under the lists in force, or
    /// those a draft would put in force (`draftId`), or those of an earlier
    /// published version (`version`, its lists as published, without grants).
    #[graphql(complexity = 200)]
    async fn matrix(
        &self,
        ctx: &Context<'_>,
        agency: Option<String>,
        purpose: Option<String>,
        draft_id: Option<ID>,
        version: Option<i64>,
    ) -> async_graphql::Result<Vec<MatrixCell>> {
        let e = env(ctx)?;
        let today = e.gov.today();
        let looked_up = match (draft_id, version) {
            (Some(_), Some(_)) => {
                return Err(err(AdminError::BadRequest(
                    "give `draftId` or `version`, not both".into(),
                )))
            }
            (Some(id), None) => {
                let (_, draft) = e.gov.draft(&id).await.map_err(err)?;
                Some(e.gov.draft_policies(&draft).await.map_err(err)?)
            }
            (None, Some(n)) => {
                let n = u64::try_from(n).map_err(|_| {
                    err(AdminError::BadRequest(
                        "a version number is positive".into(),
                    ))
                })?;
                Some(e.gov.version_policies(n).await.map_err(err)?)
            }
            (None, None) => None,
        };
        let in_force = &ctx.data::<InForce>()?.0;
        Ok(views::matrix(
            looked_up.as_ref().unwrap_or(in_force),
            agency.as_deref(),
            purpose.as_deref(),
            &today,
        ))
    }

    /// Every published version, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<VersionView>> {
        let e = env(ctx)?;
        let head = e.gov.store().head().await.map_err(|x| err(x.into()))?;
        let all = e.gov.store().versions().await.map_err(|x| err(x.into()))?;
        Ok(all
            .into_iter()
            .map(|v| VersionView {
                current: v.number == head.version,
                v,
            })
            .collect())
    }

    /// One version; the one in force without `number`.
    async fn version(
        &self,
        ctx: &Context<'_>,
        number: Option<i64>,
    ) -> async_graphql::Result<Option<VersionView>> {
        let e = env(ctx)?;
        let head = e.gov.store().head().await.map_err(|x| err(x.into()))?;
        let n = match number {
            Some(n) => u64::try_from(n).map_err(|_| {
                err(AdminError::BadRequest(
                    "a version number is positive".into(),
                ))
            })?,
            None => head.version,
        };
        let v = e.gov.store().version(n).await.map_err(|x| err(x.into()))?;
        Ok(v.map(|v| VersionView {
            current: v.number == head.version,
            v,
        }))
    }

    /// Drafts, newest first (optionally in one state).
    async fn drafts(
        &self,
        ctx: &Context<'_>,
        state: Option<DraftState>,
    ) -> async_graphql::Result<Vec<DraftView>> {
        let e = env(ctx)?;
        Ok(e.gov
            .drafts()
            .await
            .map_err(err)?
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| state.is_none_or(|s| s == d.state))
            .map(DraftView)
            .collect())
    }

    /// One draft.
    async fn draft(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<DraftView>> {
        let e = env(ctx)?;
        match e.gov.draft(&id).await {
            Ok((_, d)) => Ok(Some(DraftView(d))),
            Err(AdminError::NotFound(_)) => Ok(None),
            Err(x) => Err(err(x)),
        }
    }

    /// Why `agency` may (or may not) read `object` for `purpose`.
    async fn explain(
        &self,
        ctx: &Context<'_>,
        agency: String,
        purpose: String,
        object: String,
        role: Option<String>,
    ) -> async_graphql::Result<Explanation> {
        let e = env(ctx)?;
        let p = &ctx.data::<InForce>()?.0;
        views::explain(
            p,
            &agency,
            &purpose,
            &object,
            role.as_deref(),
            &e.gov.today(),
        )
        .ok_or_else(|| {
            err(AdminError::NotFound(format!(
                "`{object}` is not in the catalog"
            )))
        })
    }

    /// Previews a draft: runs a GraphQL query as the draft's own department
    /// (`agency` must be it; `role` and `purpose` as a request of it would
    /// state) under the draft's lists, before anything is published — for an
    /// editor or approver of that department or the platform admin, of a draft
    /// being written or proposed. Reads only: a mutation or subscription, any
    /// argument but `first`, and aliasing a field as `totalCount` or
    /// `__typename` are refused (`BAD_USER_INPUT`) before anything runs. An
    /// officer role is not a data mandate and the draft is not approved, so
    /// the answer is what the department could ask and how much it would
    /// reach: each root field's `totalCount` and `__typename`, every other key
    /// `‹withheld›` (no rows, nulls, list lengths or order), errors without
    /// their paths. The read is audited as the department's, naming the
    /// previewing officer and the draft.
    #[allow(clippy::too_many_arguments)]
    async fn preview(
        &self,
        ctx: &Context<'_>,
        draft_id: ID,
        agency: String,
        role: String,
        purpose: String,
        query: String,
        variables: Option<async_graphql::Json<serde_json::Value>>,
    ) -> async_graphql::Result<async_graphql::Json<serde_json::Value>> {
        let e = env(ctx)?;
        let policies = act(
            &e,
            "policy.preview",
            &format!("draft:{}", draft_id.as_str()),
            e.gov
                .preview_policies(e.officer, &draft_id, &agency, &query),
        )
        .await?;
        let extras = ctx.data::<Arc<dyn Extras>>()?;
        let answer = extras
            .run_under(
                Arc::new(policies),
                agency,
                role,
                purpose,
                format!("preview:{}", e.officer.officer),
                format!("PREVIEW:{}", draft_id.as_str()),
                query,
                variables.map_or(serde_json::Value::Null, |v| v.0),
            )
            .await
            .map_err(err)?;
        Ok(async_graphql::Json(crate::preview::withhold(answer)))
    }

    /// Sharing applications: those of the officer's agency and those its
    /// stewards answer (every one for the platform admin and auditors).
    async fn applications(
        &self,
        ctx: &Context<'_>,
        state: Option<ApplicationState>,
    ) -> async_graphql::Result<Vec<ApplicationView>> {
        let e = env(ctx)?;
        let all = e.officer.has("platform_admin") || e.officer.has("auditor");
        let dept = mandate_policies::department_of(&e.officer.agency)
            .unwrap_or_default()
            .to_string();
        Ok(e.gov
            .applications()
            .await
            .map_err(err)?
            .into_iter()
            .map(|(_, a)| a)
            .filter(|a| all || a.agency == e.officer.agency || a.owner == dept)
            .filter(|a| state.is_none_or(|s| s == a.state))
            .map(|a| ApplicationView::of(e.gov, a))
            .collect())
    }

    /// Grants (only those in force unless `activeOnly: false`).
    async fn grants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = true)] active_only: bool,
    ) -> async_graphql::Result<Vec<GrantView>> {
        let e = env(ctx)?;
        let now = e.gov.now();
        Ok(e.gov
            .grants_all()
            .await
            .map_err(err)?
            .into_iter()
            .map(|(_, g)| g)
            .filter(|g| !active_only || crate::lists::active(g, now) || e.gov.review_overdue(g))
            .map(|g| GrantView {
                expired: !crate::lists::active(&g, now),
                review_overdue: e.gov.review_overdue(&g),
                g,
            })
            .collect())
    }

    /// Searches the audit log (auditors and the platform admin). Every search
    /// is recorded (`audit.search`, naming the criteria) before it answers.
    #[allow(clippy::too_many_arguments)]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        agency: Option<String>,
        purpose: Option<String>,
        case_number: Option<String>,
        resident: Option<String>,
        from: Option<String>,
        to: Option<String>,
        #[graphql(default = 100)] first: i32,
    ) -> async_graphql::Result<Vec<AuditEntry>> {
        let e = env(ctx)?;
        let mut target: Vec<String> = [
            ("agency", &agency),
            ("purpose", &purpose),
            ("case", &case_number),
            ("resident", &resident),
            ("from", &from),
            ("to", &to),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}:{v}")))
        .collect();
        if target.is_empty() {
            target.push("all".into());
        }
        let target = target.join(" ");
        need(
            &e,
            "audit.search",
            &target,
            "reading the audit log",
            &["auditor", "platform_admin"],
        )
        .await?;
        record_read(&e, "audit.search", &target).await?;
        let first = usize::try_from(first.clamp(1, 1000)).unwrap_or(100);
        let extras = ctx.data::<Arc<dyn Extras>>()?;
        let found = extras
            .audit_search(AuditFilter {
                agency,
                purpose,
                case_number,
                resident,
                from,
                to,
                first,
            })
            .await
            .map_err(err)?;
        Ok(found.into_iter().map(AuditEntry::from).collect())
    }

    /// Data reads per agency per day over the last `days` days (recorded as
    /// an `audit.search`).
    async fn reads_per_day(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 14)] days: i32,
    ) -> async_graphql::Result<Vec<AgencyDayCount>> {
        let e = env(ctx)?;
        let target = format!("reads_per_day:{days}");
        need(
            &e,
            "audit.search",
            &target,
            "reading the audit log",
            &["auditor", "platform_admin"],
        )
        .await?;
        record_read(&e, "audit.search", &target).await?;
        let days = i64::from(days.clamp(1, 366));
        let since = (e.gov.now() - chrono::Duration::days(days - 1))
            .format("%Y-%m-%d")
            .to_string();
        let extras = ctx.data::<Arc<dyn Extras>>()?;
        Ok(extras
            .reads_per_day(since)
            .await
            .map_err(err)?
            .into_iter()
            .map(|(agency, day, reads)| AgencyDayCount { agency, day, reads })
            .collect())
    }

    /// Who read a resident's data (resident service): reads for a confidential
    /// purpose show neither purpose, case number nor officer. Every look-up is
    /// recorded (`receipts.read`, naming the resident) before it answers.
    async fn receipts(
        &self,
        ctx: &Context<'_>,
        resident_id: ID,
    ) -> async_graphql::Result<Vec<Receipt>> {
        let e = env(ctx)?;
        let target = format!("resident:{}", resident_id.as_str());
        need(
            &e,
            "receipts.read",
            &target,
            "reading access receipts",
            &["resident_service", "auditor", "platform_admin"],
        )
        .await?;
        record_read(&e, "receipts.read", &target).await?;
        let p = &ctx.data::<InForce>()?.0;
        let extras = ctx.data::<Arc<dyn Extras>>()?;
        let found = extras
            .audit_search(AuditFilter {
                resident: Some(resident_id.to_string()),
                first: 1000,
                ..AuditFilter::default()
            })
            .await
            .map_err(err)?;
        Ok(found
            .into_iter()
            .filter(|r| r.action.is_empty())
            .map(|r| {
                let hidden = p
                    .confidential()
                    .iter()
                    .any(|(a, pu)| *a == r.agency && *pu == r.purpose);
                Receipt {
                    time: r.time,
                    agency: r.agency,
                    purpose: (!hidden).then_some(r.purpose),
                    case_number: (!hidden).then_some(r.case_number),
                    officer: (!hidden).then_some(r.officer),
                    fields: r.fields,
                }
            })
            .collect())
    }
}

/// Mutations.
pub struct Mutation;

fn days(n: i32, name: &str) -> async_graphql::Result<u32> {
    u32::try_from(n).map_err(|_| err(AdminError::BadRequest(format!("`{name}` is positive"))))
}

#[Object]
impl Mutation {
    /// Starts a draft of a department's list (a policy editor of it).
    async fn create_draft(
        &self,
        ctx: &Context<'_>,
        department: String,
        reason: String,
        basis: String,
    ) -> async_graphql::Result<DraftView> {
        let e = env(ctx)?;
        act(
            &e,
            "policy.draft",
            &format!("list:{department}"),
            e.gov
                .create_draft(&e.request_id, e.officer, &department, &reason, &basis),
        )
        .await
        .map(DraftView)
    }

    /// Replaces a draft's text (checked as the loader checks lists).
    async fn update_draft(
        &self,
        ctx: &Context<'_>,
        id: ID,
        text: String,
    ) -> async_graphql::Result<DraftView> {
        let e = env(ctx)?;
        act(
            &e,
            "policy.edit",
            &format!("draft:{}", id.as_str()),
            e.gov.update_draft(&e.request_id, e.officer, &id, &text),
        )
        .await
        .map(DraftView)
    }

    /// Drops the lines granting `object` to `role` for `purpose` from a draft.
    async fn revoke_line(
        &self,
        ctx: &Context<'_>,
        id: ID,
        object: String,
        role: String,
        purpose: String,
    ) -> async_graphql::Result<DraftView> {
        let e = env(ctx)?;
        act(
            &e,
            "policy.edit",
            &format!("draft:{}", id.as_str()),
            e.gov
                .revoke_line(&e.request_id, e.officer, &id, &object, &role, &purpose),
        )
        .await
        .map(DraftView)
    }

    /// Proposes a draft for approval (its author).
    async fn propose_draft(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<DraftView> {
        let e = env(ctx)?;
        act(
            &e,
            "policy.propose",
            &format!("draft:{}", id.as_str()),
            e.gov.propose(&e.request_id, e.officer, &id),
        )
        .await
        .map(DraftView)
    }

    /// Withdraws a draft (its author).
    async fn withdraw_draft(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<DraftView> {
        let e = env(ctx)?;
        act(
            &e,
            "policy.withdraw",
            &format!("draft:{}", id.as_str()),
            e.gov.withdraw(&e.request_id, e.officer, &id),
        )
        .await
        .map(DraftView)
    }

    /// Approves a proposed draft and publishes it (an approver other than its author).
    async fn approve_draft(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> async_graphql::Result<VersionView> {
        let e = env(ctx)?;
        act(
            &e,
            "policy.approve",
            &format!("draft:{}", id.as_str()),
            e.gov
                .approve(&e.request_id, e.officer, &id, note.as_deref()),
        )
        .await
        .map(|v| VersionView { v, current: true })
    }

    /// Rejects a proposed draft with a note.
    async fn reject_draft(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: String,
    ) -> async_graphql::Result<DraftView> {
        let e = env(ctx)?;
        act(
            &e,
            "policy.reject",
            &format!("draft:{}", id.as_str()),
            e.gov.reject(&e.request_id, e.officer, &id, &note),
        )
        .await
        .map(DraftView)
    }

    /// Emergency rollback: one approver republishes an earlier version at once,
    /// without a second officer (recorded as such: `twoPerson` false).
    async fn rollback(
        &self,
        ctx: &Context<'_>,
        to_version: i64,
        reason: String,
    ) -> async_graphql::Result<VersionView> {
        let e = env(ctx)?;
        let to = u64::try_from(to_version).map_err(|_| {
            err(AdminError::BadRequest(
                "a version number is positive".into(),
            ))
        })?;
        act(
            &e,
            "policy.rollback",
            &format!("version:{to}"),
            e.gov.rollback(&e.request_id, e.officer, to, &reason),
        )
        .await
        .map(|v| VersionView { v, current: true })
    }

    /// Files a sharing application for conditional fields another department owns.
    #[allow(clippy::too_many_arguments)]
    async fn apply_for_sharing(
        &self,
        ctx: &Context<'_>,
        role: String,
        purpose: String,
        fields: Vec<String>,
        basis: String,
        scope: String,
        duration_days: i32,
    ) -> async_graphql::Result<ApplicationView> {
        let e = env(ctx)?;
        let d = days(duration_days, "durationDays")?;
        let a = act(
            &e,
            "sharing.apply",
            "application:-",
            e.gov.apply(
                &e.request_id,
                e.officer,
                &role,
                &purpose,
                fields,
                &basis,
                &scope,
                d,
            ),
        )
        .await?;
        Ok(ApplicationView::of(e.gov, a))
    }

    /// Acknowledges an application (the owner's data steward).
    async fn acknowledge_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ApplicationView> {
        let e = env(ctx)?;
        let a = act(
            &e,
            "sharing.acknowledge",
            &format!("application:{}", id.as_str()),
            e.gov.acknowledge(&e.request_id, e.officer, &id),
        )
        .await?;
        Ok(ApplicationView::of(e.gov, a))
    }

    /// Answers an application with written reasons; approval issues a time-boxed grant.
    async fn answer_application(
        &self,
        ctx: &Context<'_>,
        id: ID,
        approve: bool,
        reasons: String,
    ) -> async_graphql::Result<ApplicationView> {
        let e = env(ctx)?;
        let a = act(
            &e,
            "sharing.answer",
            &format!("application:{}", id.as_str()),
            e.gov
                .answer(&e.request_id, e.officer, &id, approve, &reasons),
        )
        .await?;
        Ok(ApplicationView::of(e.gov, a))
    }

    /// Issues an emergency grant (platform admin, at most 72 hours, reviewed after).
    #[allow(clippy::too_many_arguments)]
    async fn break_glass(
        &self,
        ctx: &Context<'_>,
        agency: String,
        role: String,
        purpose: String,
        fields: Vec<String>,
        incident: String,
        hours: i32,
    ) -> async_graphql::Result<GrantView> {
        let e = env(ctx)?;
        let h = days(hours, "hours")?;
        let g = act(
            &e,
            "grant.break_glass",
            "grant:-",
            e.gov.break_glass(
                &e.request_id,
                e.officer,
                &agency,
                &role,
                &purpose,
                fields,
                &incident,
                h,
            ),
        )
        .await?;
        Ok(GrantView {
            expired: false,
            review_overdue: false,
            g,
        })
    }

    /// Signs off a break-glass grant's after-review.
    async fn sign_off_review(
        &self,
        ctx: &Context<'_>,
        grant_id: ID,
        note: String,
    ) -> async_graphql::Result<GrantView> {
        let e = env(ctx)?;
        let g = act(
            &e,
            "grant.review",
            &format!("grant:{}", grant_id.as_str()),
            e.gov.sign_off(&e.request_id, e.officer, &grant_id, &note),
        )
        .await?;
        let now = e.gov.now();
        Ok(GrantView {
            expired: !crate::lists::active(&g, now),
            review_overdue: false,
            g,
        })
    }

    /// Moves the test clock (hubs with `admin.test_clock` only; never in production).
    async fn set_clock(
        &self,
        ctx: &Context<'_>,
        offset_seconds: i64,
    ) -> async_graphql::Result<String> {
        let e = env(ctx)?;
        act(
            &e,
            "clock.set",
            &format!("offset:{offset_seconds}"),
            e.gov.set_clock(&e.request_id, e.officer, offset_seconds),
        )
        .await?;
        Ok(crate::service::rfc3339_now(e.gov))
    }
}
