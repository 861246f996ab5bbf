//! The officers' actions: each checks the officer's roles and department,
//! validates, and commits its writes sealed by one audit record (fail closed:
//! the record is written before the transaction commits, and nothing commits
//! without it). Refusals are recorded too.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mandate_audit::{AuditRecord, AuditSink, Decision};
use mandate_policies::{department_of, Policies, Scope};
use mandate_schema::{Catalog, ShareClass};

use crate::calendar::Calendar;
use crate::error::AdminError;
use crate::lists::{self, agency_of, foreign_lines};
use crate::records::{Application, ApplicationState, Draft, DraftState, Grant, GrantKind, Officer};
use crate::store::{Doc, GovStore, Head, Kind, ListFile, Version, Write};
use crate::views;

/// The purpose admin actions are recorded under.
pub const ADMIN_PURPOSE: &str = "policy_administration";

/// Deadlines and bounds of the officers' work.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Working days to acknowledge an application.
    pub acknowledge_days: u32,
    /// Working days to answer it.
    pub answer_days: u32,
    /// The longest break-glass grant, in hours.
    pub break_glass_max_hours: u32,
    /// The longest grant an application may ask for, in days.
    pub max_grant_days: u32,
    /// Whether the test clock may be moved (`setClock`; never in production).
    pub test_clock: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            acknowledge_days: 2,
            answer_days: 5,
            break_glass_max_hours: 72,
            max_grant_days: 365,
            test_clock: false,
        }
    }
}

/// The lists in force as the store has them: the version, the grants active at
/// `at`, and what loaded.
pub struct Effective {
    /// The head they were read at.
    pub head: Head,
    /// Ids of the grants in force.
    pub grants: Vec<String>,
    /// The policies.
    pub policies: Policies,
    /// Files left out because they do not load (fail closed).
    pub refused: Vec<String>,
}

/// The policy officers' service.
pub struct Governance {
    store: Arc<dyn GovStore>,
    audit: Arc<dyn AuditSink>,
    catalog: Catalog,
    model: String,
    calendar: Calendar,
    settings: Settings,
    clock: std::sync::Mutex<TestClock>,
}

/// The test clock's offset, and how many times this instance moved it: a head
/// read that began before the latest move is older than it and is ignored.
#[derive(Debug, Default, Clone, Copy)]
struct TestClock {
    offset_secs: i64,
    moves: u64,
}

fn new_id(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &u[..12])
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn body<T: serde::Serialize>(x: &T) -> serde_json::Value {
    serde_json::to_value(x).unwrap_or(serde_json::Value::Null)
}

fn need(officer: &Officer, action: &str, roles: &[&'static str]) -> Result<(), AdminError> {
    if roles.iter().any(|r| officer.has(r)) {
        Ok(())
    } else {
        Err(AdminError::role(action, roles))
    }
}

fn not_empty(name: &str, value: &str) -> Result<(), AdminError> {
    if value.trim().is_empty() {
        return Err(AdminError::BadRequest(format!("`{name}` may not be empty")));
    }
    if value.len() > 2000 {
        return Err(AdminError::BadRequest(format!(
            "`{name}` is longer than 2000 bytes"
        )));
    }
    Ok(())
}

/// A plain name (role, purpose): letters, digits, `_` and `-`.
fn plain(name: &str, value: &str) -> Result<(), AdminError> {
    if value.is_empty()
        || value.len() > 100
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(AdminError::BadRequest(format!(
            "`{name}` is not a plain name (letters, digits, _ and -)"
        )));
    }
    Ok(())
}

impl Governance {
    /// The service over `store`, recording to `audit`.
    pub fn new(
        store: Arc<dyn GovStore>,
        audit: Arc<dyn AuditSink>,
        catalog: Catalog,
        model: String,
        calendar: Calendar,
        settings: Settings,
    ) -> Self {
        Governance {
            store,
            audit,
            catalog,
            model,
            calendar,
            settings,
            clock: std::sync::Mutex::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn GovStore> {
        &self.store
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Now, as the hub counts it (the wall clock plus the test clock's offset).
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.test_clock().offset_secs)
    }

    fn test_clock(&self) -> TestClock {
        *self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Today (local date of [`Governance::now`]) as `YYYY-MM-DD`.
    pub fn today(&self) -> String {
        self.now().format("%Y-%m-%d").to_string()
    }

    /// Reads the store's head and takes the test clock's offset from it,
    /// unless this instance moved the clock while the read was on its way
    /// (the head read is then older than the move).
    ///
    /// # Errors
    /// If the store cannot be read.
    pub async fn head(&self) -> Result<Head, AdminError> {
        let before = self.test_clock().moves;
        let head = self.store.head().await?;
        let mut clock = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if clock.moves == before {
            clock.offset_secs = head.clock_offset_secs;
        }
        Ok(head)
    }

    /// Writes `writes` sealed by a record of `action` on `target`.
    async fn commit(
        &self,
        request_id: &str,
        officer: &Officer,
        action: &str,
        target: &str,
        fields: Vec<String>,
        writes: Vec<Write>,
    ) -> Result<(), AdminError> {
        let record = self.record(
            request_id,
            officer,
            action,
            target,
            Decision::Allowed,
            "",
            fields,
        );
        let audit = self.audit.clone();
        let seal = Box::pin(async move { audit.append(record).await.map_err(|e| e.to_string()) });
        self.store
            .commit(writes, seal)
            .await
            .map_err(AdminError::from)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        request_id: &str,
        officer: &Officer,
        action: &str,
        target: &str,
        decision: Decision,
        code: &str,
        fields: Vec<String>,
    ) -> AuditRecord {
        let mut r = AuditRecord::new(request_id, decision);
        r.agency = officer.agency.clone();
        r.officer = officer.officer.clone();
        r.purpose = ADMIN_PURPOSE.to_string();
        r.action = action.to_string();
        r.target = target.to_string();
        r.code = code.to_string();
        r.fields = fields;
        r
    }

    /// Records a refused admin action; if even that cannot be written, says so.
    pub async fn refused(
        &self,
        request_id: &str,
        officer: &Officer,
        action: &str,
        target: &str,
        error: AdminError,
    ) -> AdminError {
        let record = self.record(
            request_id,
            officer,
            action,
            target,
            Decision::Rejected,
            error.code().as_str(),
            Vec::new(),
        );
        match self.audit.append(record).await {
            Ok(()) => error,
            Err(_) => AdminError::AuditUnavailable,
        }
    }

    // ---- versions ----------------------------------------------------------

    /// The version in force, if any was published.
    pub async fn current(&self) -> Result<Option<Version>, AdminError> {
        let head = self.store.head().await?;
        if head.version == 0 {
            return Ok(None);
        }
        Ok(self.store.version(head.version).await?)
    }

    /// Loads the lists in force now: the head's version and the active grants.
    /// A file (or the grants) that does not load is left out (fail closed).
    ///
    /// # Errors
    /// If the store cannot be read, or nothing was published yet.
    pub async fn effective(&self) -> Result<Effective, AdminError> {
        let head = self.head().await?;
        let version = match head.version {
            0 => None,
            n => self.store.version(n).await?,
        };
        let Some(version) = version else {
            return Err(AdminError::NotFound(
                "no version of the lists was published yet".into(),
            ));
        };
        let now = self.now();
        let grants: Vec<Grant> = self
            .grants_all()
            .await?
            .into_iter()
            .map(|(_, g)| g)
            .filter(|g| lists::active(g, now))
            .collect();
        let refs: Vec<&Grant> = grants.iter().collect();
        let texts = lists::texts(&version.files, &refs);
        // Everything loads together (the usual case: one load); otherwise each
        // file is tried alone and those that fail are left out.
        let (policies, refused) =
            match Policies::from_texts(&self.model, &texts, &self.catalog).await {
                Ok(p) => (p, Vec::new()),
                Err(_) => Policies::from_texts_failing_closed(&self.model, texts, &self.catalog)
                    .await
                    .map_err(|e| AdminError::InvalidPolicy(e.to_string()))?,
            };
        let mut ids: Vec<String> = grants.into_iter().map(|g| g.id).collect();
        ids.sort();
        Ok(Effective {
            head,
            grants: ids,
            policies,
            refused: refused.into_iter().map(|e| e.to_string()).collect(),
        })
    }

    /// The ids of grants active now (cheap check of whether they changed).
    pub async fn active_grant_ids(&self) -> Result<Vec<String>, AdminError> {
        let now = self.now();
        let mut ids: Vec<String> = self
            .grants_all()
            .await?
            .into_iter()
            .filter(|(_, g)| lists::active(g, now))
            .map(|(_, g)| g.id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Loads one version's lists strictly (no grants).
    async fn policies_of(&self, files: &[ListFile]) -> Result<Policies, AdminError> {
        lists::load(&self.model, &lists::texts(files, &[]), &self.catalog)
            .await
            .map_err(AdminError::InvalidPolicy)
    }

    /// Publishes `files` as version 1 when nothing was published yet (the first
    /// import, by the system). Returns the version in force afterwards.
    ///
    /// # Errors
    /// If the files do not load, or the store fails.
    pub async fn bootstrap(
        &self,
        request_id: &str,
        files: Vec<ListFile>,
        who: &str,
    ) -> Result<u64, AdminError> {
        let head = self.store.head().await?;
        if head.version > 0 {
            return Ok(head.version);
        }
        self.policies_of(&files).await?;
        let version = Version {
            number: 1,
            published_at: rfc3339(self.now()),
            author: who.to_string(),
            approver: who.to_string(),
            reason: "first import of the responsibility lists".into(),
            basis: "权责清单 as filed".into(),
            draft_id: None,
            rollback_of: None,
            files,
        };
        let system = Officer {
            officer: who.to_string(),
            agency: "-".into(),
            roles: std::collections::BTreeSet::new(),
        };
        match self
            .commit(
                request_id,
                &system,
                "policy.bootstrap",
                "version:1",
                Vec::new(),
                vec![Write::Publish(Box::new(version))],
            )
            .await
        {
            Ok(()) => Ok(1),
            // Another instance bootstrapped first.
            Err(AdminError::StateConflict(_)) => Ok(self.store.head().await?.version),
            Err(e) => Err(e),
        }
    }

    /// Rolls back to version `to`: one approver's emergency republication of
    /// an earlier approved version, published at once with no second officer
    /// (author = approver = the caller, `rollback_of` set, the basis saying
    /// so; `twoPerson` is false in the API).
    ///
    /// # Errors
    /// Role, department (a policy approver may roll back only changes of its
    /// own department's list), unknown version, store or audit failures.
    pub async fn rollback(
        &self,
        request_id: &str,
        officer: &Officer,
        to: u64,
        reason: &str,
    ) -> Result<Version, AdminError> {
        need(officer, "rollback", &["policy_approver", "platform_admin"])?;
        not_empty("reason", reason)?;
        let head = self.store.head().await?;
        let target = self
            .store
            .version(to)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no version {to}")))?;
        if to >= head.version {
            return Err(AdminError::StateConflict(format!(
                "version {to} is not earlier than the version in force ({})",
                head.version
            )));
        }
        let current = self
            .store
            .version(head.version)
            .await?
            .ok_or_else(|| AdminError::NotFound("the version in force is missing".into()))?;
        if !officer.has("platform_admin") {
            for name in changed_files(&current.files, &target.files) {
                let agency = current
                    .files
                    .iter()
                    .chain(&target.files)
                    .find(|f| f.name == name)
                    .and_then(|f| agency_of(&f.text));
                if agency.as_deref() != Some(officer.agency.as_str()) {
                    return Err(AdminError::OtherDepartment(format!(
                        "rolling back to version {to} changes {name}, another department's list; a platform admin may"
                    )));
                }
            }
        }
        self.policies_of(&target.files).await?;
        let version = Version {
            number: head.version + 1,
            published_at: rfc3339(self.now()),
            author: officer.officer.clone(),
            approver: officer.officer.clone(),
            reason: reason.to_string(),
            basis: format!(
                "emergency rollback by one approver, without a second officer: restores version {to}: {}",
                target.basis
            ),
            draft_id: None,
            rollback_of: Some(to),
            files: target.files,
        };
        let target_name = format!("version:{}", version.number);
        self.commit(
            request_id,
            officer,
            "policy.rollback",
            &target_name,
            Vec::new(),
            vec![Write::Publish(Box::new(version.clone()))],
        )
        .await?;
        Ok(version)
    }

    // ---- drafts ------------------------------------------------------------

    /// Every draft, newest first.
    pub async fn drafts(&self) -> Result<Vec<(u64, Draft)>, AdminError> {
        let mut out: Vec<(u64, Draft)> = self
            .store
            .docs(Kind::Draft)
            .await?
            .into_iter()
            .filter_map(|d| Some((d.rev, serde_json::from_value(d.body).ok()?)))
            .collect();
        out.sort_by(|a, b| {
            b.1.created_at
                .cmp(&a.1.created_at)
                .then(b.1.id.cmp(&a.1.id))
        });
        Ok(out)
    }

    /// One draft with its revision.
    pub async fn draft(&self, id: &str) -> Result<(u64, Draft), AdminError> {
        let doc = self
            .store
            .doc(Kind::Draft, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no draft {id}")))?;
        let draft = serde_json::from_value(doc.body)
            .map_err(|_| AdminError::NotFound(format!("draft {id} is unreadable")))?;
        Ok((doc.rev, draft))
    }

    /// Starts a draft of `department`'s list from the version in force.
    ///
    /// # Errors
    /// Role, another department, store or audit failures.
    pub async fn create_draft(
        &self,
        request_id: &str,
        officer: &Officer,
        department: &str,
        reason: &str,
        basis: &str,
    ) -> Result<Draft, AdminError> {
        need(officer, "drafting a change of a list", &["policy_editor"])?;
        if officer.agency != department {
            return Err(AdminError::OtherDepartment(format!(
                "{} edits only its own list ({}), not {department}'s",
                officer.officer, officer.agency
            )));
        }
        not_empty("reason", reason)?;
        not_empty("basis", basis)?;
        let current = self.current().await?;
        let found = current.as_ref().and_then(|v| {
            v.files
                .iter()
                .find(|f| agency_of(&f.text).as_deref() == Some(department))
        });
        let (base, file, text) = match found {
            Some(f) => (
                current.as_ref().map_or(0, |v| v.number),
                f.name.clone(),
                f.text.clone(),
            ),
            None => {
                // A name no list in force and no open draft of another
                // agency holds: `D-X-Y` and `D-X_Y` both map to `x-y.csv`.
                let mut taken: Vec<String> = current
                    .iter()
                    .flat_map(|v| v.files.iter().map(|f| f.name.clone()))
                    .collect();
                taken.extend(
                    self.drafts()
                        .await?
                        .into_iter()
                        .map(|(_, d)| d)
                        .filter(|d| {
                            d.department != department
                                && matches!(d.state, DraftState::Editing | DraftState::Proposed)
                        })
                        .map(|d| d.file),
                );
                (
                    current.as_ref().map_or(0, |v| v.number),
                    free_file_name(department, &taken),
                    String::new(),
                )
            }
        };
        let draft = Draft {
            id: new_id("draft"),
            department: department.to_string(),
            file,
            base_version: base,
            state: DraftState::Editing,
            author: officer.officer.clone(),
            editors: vec![officer.officer.clone()],
            reason: reason.to_string(),
            basis: basis.to_string(),
            created_at: rfc3339(self.now()),
            proposed_at: None,
            decided_by: None,
            decided_at: None,
            note: None,
            published_version: None,
            text,
        };
        self.commit(
            request_id,
            officer,
            "policy.draft",
            &format!("draft:{}", draft.id),
            Vec::new(),
            vec![Write::Create {
                kind: Kind::Draft,
                id: draft.id.clone(),
                body: body(&draft),
            }],
        )
        .await?;
        Ok(draft)
    }

    /// Checks a draft's text as the loader would, beside the other lists of the
    /// version in force; returns the lists with it in place.
    async fn check_draft_text(
        &self,
        draft: &Draft,
        text: &str,
    ) -> Result<Vec<ListFile>, AdminError> {
        if let Some((line, agency)) = foreign_lines(text, &draft.department).into_iter().next() {
            return Err(AdminError::OtherDepartment(format!(
                "{}:{line}: the line grants to {agency}; this list is {}'s",
                draft.file, draft.department
            )));
        }
        let current = self.current().await?.map(|v| v.files).unwrap_or_default();
        let mut files = with_draft(current, draft, text)?;
        files.sort_by(|a, b| a.name.cmp(&b.name));
        // The catalog's share class first, with its own code; then everything
        // the loader checks.
        for (i, line) in text.lines().enumerate() {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols.len() != 8 || cols[0] != "p" {
                continue;
            }
            let Some(share) = views::share_of(&self.catalog, cols[4]) else {
                continue;
            };
            if share.class == ShareClass::NotShared
                && department_of(cols[2]) != Some(share.owner.as_str())
            {
                return Err(AdminError::ShareClassForbids(format!(
                    "{}:{}: {} is 不予共享 (not shared, catalog): only its owner department {} may read it",
                    draft.file,
                    i + 1,
                    cols[4],
                    share.owner
                )));
            }
        }
        lists::load(&self.model, &lists::texts(&files, &[]), &self.catalog)
            .await
            .map(|_| files)
            .map_err(AdminError::InvalidPolicy)
    }

    async fn editable(&self, officer: &Officer, id: &str) -> Result<(u64, Draft), AdminError> {
        need(officer, "editing a draft", &["policy_editor"])?;
        let (rev, draft) = self.draft(id).await?;
        if draft.department != officer.agency {
            return Err(AdminError::OtherDepartment(format!(
                "draft {id} changes {}'s list",
                draft.department
            )));
        }
        if draft.state != DraftState::Editing {
            return Err(AdminError::StateConflict(format!(
                "draft {id} is {:?}, no longer editable",
                draft.state
            )));
        }
        Ok((rev, draft))
    }

    /// Replaces the draft's text, checked as the loader checks lists.
    ///
    /// # Errors
    /// Role, department, state, a line that does not load (file, line, reason).
    pub async fn update_draft(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
        text: &str,
    ) -> Result<Draft, AdminError> {
        let (rev, mut draft) = self.editable(officer, id).await?;
        if text.len() > 1 << 20 {
            return Err(AdminError::BadRequest("a list is at most 1 MiB".into()));
        }
        self.check_draft_text(&draft, text).await?;
        draft.text = text.to_string();
        if !draft.editors.iter().any(|e| officer.is(e)) {
            draft.editors.push(officer.officer.clone());
        }
        self.save_draft(request_id, officer, "policy.edit", id, rev, draft)
            .await
    }

    /// Drops from the draft the lines granting `object` to `role` for `purpose`
    /// (for a type: its `rows` lines too).
    ///
    /// # Errors
    /// As [`Governance::update_draft`]; `NOT_FOUND` if no line matches.
    pub async fn revoke_line(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
        object: &str,
        role: &str,
        purpose: &str,
    ) -> Result<Draft, AdminError> {
        let (_, draft) = self.editable(officer, id).await?;
        let mut dropped = 0;
        let kept: Vec<&str> = draft
            .text
            .lines()
            .filter(|line| {
                let cols: Vec<&str> = line.split(',').map(str::trim).collect();
                let hit = cols.len() == 8
                    && cols[0] == "p"
                    && cols[1] == role
                    && cols[3] == purpose
                    && cols[4] == object;
                if hit {
                    dropped += 1;
                }
                !hit
            })
            .collect();
        if dropped == 0 {
            return Err(AdminError::NotFound(format!(
                "no line of draft {id} grants {object} to {role} for {purpose}"
            )));
        }
        let mut text = kept.join("\n");
        if draft.text.ends_with('\n') {
            text.push('\n');
        }
        self.update_draft(request_id, officer, id, &text).await
    }

    /// Moves a draft on: `Editing → Proposed` (its author), `→ Withdrawn` (its author).
    async fn move_draft(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
        to: DraftState,
    ) -> Result<Draft, AdminError> {
        let (rev, mut draft) = self.draft(id).await?;
        if draft.author != officer.officer || draft.department != officer.agency {
            return Err(AdminError::role(
                "only the draft's author may propose or withdraw it; author",
                &["policy_editor"],
            ));
        }
        let allowed = match to {
            DraftState::Proposed => draft.state == DraftState::Editing,
            DraftState::Withdrawn => {
                matches!(draft.state, DraftState::Editing | DraftState::Proposed)
            }
            _ => false,
        };
        if !allowed {
            return Err(AdminError::StateConflict(format!(
                "draft {id} is {:?}",
                draft.state
            )));
        }
        if to == DraftState::Proposed {
            self.check_draft_text(&draft, &draft.text.clone()).await?;
            draft.proposed_at = Some(rfc3339(self.now()));
        }
        draft.state = to;
        let action = if to == DraftState::Proposed {
            "policy.propose"
        } else {
            "policy.withdraw"
        };
        self.save_draft(request_id, officer, action, id, rev, draft)
            .await
    }

    /// Saves `draft` (read at revision `rev`) sealed by a record of `action`.
    async fn save_draft(
        &self,
        request_id: &str,
        officer: &Officer,
        action: &str,
        id: &str,
        rev: u64,
        draft: Draft,
    ) -> Result<Draft, AdminError> {
        self.commit(
            request_id,
            officer,
            action,
            &format!("draft:{id}"),
            Vec::new(),
            vec![Write::Update {
                kind: Kind::Draft,
                id: id.to_string(),
                rev,
                body: body(&draft),
            }],
        )
        .await?;
        Ok(draft)
    }

    /// Proposes a draft for approval.
    ///
    /// # Errors
    /// Not the author, wrong state, a list that does not load.
    pub async fn propose(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
    ) -> Result<Draft, AdminError> {
        self.move_draft(request_id, officer, id, DraftState::Proposed)
            .await
    }

    /// Withdraws a draft.
    ///
    /// # Errors
    /// Not the author, wrong state.
    pub async fn withdraw(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
    ) -> Result<Draft, AdminError> {
        self.move_draft(request_id, officer, id, DraftState::Withdrawn)
            .await
    }

    fn check_approver(
        &self,
        officer: &Officer,
        draft: &Draft,
        action: &str,
    ) -> Result<(), AdminError> {
        need(officer, action, &["policy_approver", "platform_admin"])?;
        if !officer.has("platform_admin") && officer.agency != draft.department {
            return Err(AdminError::OtherDepartment(format!(
                "draft {} changes {}'s list; {} approves for {}",
                draft.id, draft.department, officer.officer, officer.agency
            )));
        }
        Ok(())
    }

    /// Approves a proposed draft and publishes it as the next version. The
    /// approver is never its author (two-person rule).
    ///
    /// # Errors
    /// Role, department, two-person rule, state, a list changed since the draft
    /// was written (`STATE_CONFLICT`), lists that do not load.
    pub async fn approve(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
        note: Option<&str>,
    ) -> Result<Version, AdminError> {
        let (rev, mut draft) = self.draft(id).await?;
        self.check_approver(officer, &draft, "approving a change")?;
        if officer.is(&draft.author) || draft.editors.iter().any(|e| officer.is(e)) {
            return Err(AdminError::TwoPersonRule(format!(
                "{} wrote or edited draft {id} and may not approve it; another approver must",
                officer.officer
            )));
        }
        if draft.state != DraftState::Proposed {
            return Err(AdminError::StateConflict(format!(
                "draft {id} is {:?}, not proposed",
                draft.state
            )));
        }
        let head = self.store.head().await?;
        if head.version != draft.base_version {
            let base = match draft.base_version {
                0 => None,
                n => self.store.version(n).await?,
            };
            let now = self.store.version(head.version).await?;
            let text_in = |v: &Option<Version>| {
                v.as_ref()
                    .and_then(|v| v.files.iter().find(|f| f.name == draft.file))
                    .map(|f| f.text.clone())
            };
            if text_in(&base) != text_in(&now) {
                return Err(AdminError::StateConflict(format!(
                    "{} changed in version {} after draft {id} was written; make a new draft",
                    draft.file, head.version
                )));
            }
        }
        let files = self.check_draft_text(&draft, &draft.text.clone()).await?;
        let number = head.version + 1;
        draft.state = DraftState::Published;
        draft.decided_by = Some(officer.officer.clone());
        draft.decided_at = Some(rfc3339(self.now()));
        draft.note = note.map(str::to_string);
        draft.published_version = Some(number);
        let version = Version {
            number,
            published_at: rfc3339(self.now()),
            author: draft.author.clone(),
            approver: officer.officer.clone(),
            reason: draft.reason.clone(),
            basis: draft.basis.clone(),
            draft_id: Some(id.to_string()),
            rollback_of: None,
            files,
        };
        self.commit(
            request_id,
            officer,
            "policy.approve",
            &format!("draft:{id} version:{number}"),
            Vec::new(),
            vec![
                Write::Publish(Box::new(version.clone())),
                Write::Update {
                    kind: Kind::Draft,
                    id: id.to_string(),
                    rev,
                    body: body(&draft),
                },
            ],
        )
        .await?;
        Ok(version)
    }

    /// Rejects a proposed draft with a note.
    ///
    /// # Errors
    /// Role, department, state.
    pub async fn reject(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
        note: &str,
    ) -> Result<Draft, AdminError> {
        not_empty("note", note)?;
        let (rev, mut draft) = self.draft(id).await?;
        self.check_approver(officer, &draft, "rejecting a change")?;
        if draft.state != DraftState::Proposed {
            return Err(AdminError::StateConflict(format!(
                "draft {id} is {:?}, not proposed",
                draft.state
            )));
        }
        draft.state = DraftState::Rejected;
        draft.decided_by = Some(officer.officer.clone());
        draft.decided_at = Some(rfc3339(self.now()));
        draft.note = Some(note.to_string());
        self.save_draft(request_id, officer, "policy.reject", id, rev, draft)
            .await
    }

    /// What a draft changes against the version it would replace, per mandate.
    ///
    /// # Errors
    /// If the lists do not load.
    pub async fn draft_changes(&self, draft: &Draft) -> Result<Vec<views::Change>, AdminError> {
        let current = self.current().await?.map(|v| v.files).unwrap_or_default();
        let before = self.policies_of(&current).await?;
        let files = with_draft(current, draft, &draft.text)?;
        let after = self.policies_of(&files).await?;
        Ok(views::changes(&before, &after, &self.today()))
    }

    /// The lists of published version `number`, as it was published (no
    /// grants): what a matrix of an earlier version shows.
    ///
    /// # Errors
    /// If there is no such version, or it does not load.
    pub async fn version_policies(&self, number: u64) -> Result<Policies, AdminError> {
        let version = self
            .store
            .version(number)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no version {number}")))?;
        self.policies_of(&version.files).await
    }

    /// The lists a draft would put in force (for previews).
    ///
    /// # Errors
    /// If they do not load.
    pub async fn draft_policies(&self, draft: &Draft) -> Result<Policies, AdminError> {
        let current = self.current().await?.map(|v| v.files).unwrap_or_default();
        self.policies_of(&with_draft(current, draft, &draft.text)?)
            .await
    }

    /// The lists a draft would put in force, for a preview by `officer` as
    /// `agency` of `query`: an editor or approver of the draft's department
    /// (or the platform admin), as that department only, of a draft still
    /// being written or proposed, and a query that only reads and asks about
    /// no resident in particular ([`crate::preview::read_only`]).
    ///
    /// # Errors
    /// Role, department (`OTHER_DEPARTMENT`), state (`STATE_CONFLICT`), a
    /// query that writes or singles residents out (`BAD_USER_INPUT`).
    pub async fn preview_policies(
        &self,
        officer: &Officer,
        id: &str,
        agency: &str,
        query: &str,
    ) -> Result<Policies, AdminError> {
        need(
            officer,
            "previewing a draft",
            &["policy_editor", "policy_approver", "platform_admin"],
        )?;
        let (_, draft) = self.draft(id).await?;
        if !officer.has("platform_admin") && draft.department != officer.agency {
            return Err(AdminError::OtherDepartment(format!(
                "draft {id} changes {}'s list",
                draft.department
            )));
        }
        if agency != draft.department {
            return Err(AdminError::OtherDepartment(format!(
                "draft {id} changes {}'s list; it is previewed as {} only, not as {agency}",
                draft.department, draft.department
            )));
        }
        if !matches!(draft.state, DraftState::Editing | DraftState::Proposed) {
            return Err(AdminError::StateConflict(format!(
                "draft {id} is {:?}; only a draft being written or proposed is previewed",
                draft.state
            )));
        }
        crate::preview::read_only(query)?;
        self.draft_policies(&draft).await
    }

    /// The lines a draft adds and removes against the version in force.
    pub async fn draft_lines(
        &self,
        draft: &Draft,
    ) -> Result<(Vec<String>, Vec<String>), AdminError> {
        let current = self.current().await?.map(|v| v.files).unwrap_or_default();
        let before = current
            .iter()
            .find(|f| f.name == draft.file)
            .map(|f| f.text.clone())
            .unwrap_or_default();
        with_draft(current, draft, &draft.text)?;
        let set = |t: &str| -> Vec<String> {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        };
        let (b, a) = (set(&before), set(&draft.text));
        let added = a.iter().filter(|l| !b.contains(l)).cloned().collect();
        let removed = b.iter().filter(|l| !a.contains(l)).cloned().collect();
        Ok((added, removed))
    }

    // ---- applications and grants -----------------------------------------

    /// Every application.
    pub async fn applications(&self) -> Result<Vec<(u64, Application)>, AdminError> {
        let mut out: Vec<(u64, Application)> = docs_of(self.store.docs(Kind::Application).await?);
        out.sort_by(|a, b| {
            b.1.submitted_at
                .cmp(&a.1.submitted_at)
                .then(b.1.id.cmp(&a.1.id))
        });
        Ok(out)
    }

    async fn application(&self, id: &str) -> Result<(u64, Application), AdminError> {
        let doc = self
            .store
            .doc(Kind::Application, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no application {id}")))?;
        Ok((
            doc.rev,
            serde_json::from_value(doc.body)
                .map_err(|_| AdminError::NotFound(format!("application {id} is unreadable")))?,
        ))
    }

    /// Every grant with its revision.
    pub async fn grants_all(&self) -> Result<Vec<(u64, Grant)>, AdminError> {
        let mut out: Vec<(u64, Grant)> = docs_of(self.store.docs(Kind::Grant).await?);
        out.sort_by(|a, b| b.1.starts_at.cmp(&a.1.starts_at).then(b.1.id.cmp(&a.1.id)));
        Ok(out)
    }

    /// Whether an application is past a deadline it has not met.
    pub fn overdue(&self, a: &Application) -> bool {
        let now = self.now();
        let past = |s: &str| parse_time(s).is_some_and(|t| now > t);
        match a.state {
            ApplicationState::Submitted => past(&a.acknowledge_by) || past(&a.answer_by),
            ApplicationState::Acknowledged => past(&a.answer_by),
            _ => false,
        }
    }

    /// Whether a break-glass grant's review is due and not signed off.
    pub fn review_overdue(&self, g: &Grant) -> bool {
        g.kind == GrantKind::BreakGlass
            && g.reviewed_by.is_none()
            && g.review_due_at
                .as_deref()
                .and_then(parse_time)
                .is_some_and(|t| self.now() > t)
    }

    /// Checks fields asked for: known objects, one owner, a share class that
    /// allows sharing, and an optional mask. Returns the owner.
    fn check_fields(
        &self,
        fields: &[String],
        applicant: &str,
        conditional_only: bool,
    ) -> Result<String, AdminError> {
        if fields.is_empty() || fields.len() > 100 {
            return Err(AdminError::BadRequest("name 1 to 100 fields".into()));
        }
        let mut owner: Option<String> = None;
        for f in fields {
            let (object, mask) = f
                .split_once(':')
                .map_or((f.as_str(), None), |(o, m)| (o, Some(m)));
            let share = views::share_of(&self.catalog, object).ok_or_else(|| {
                AdminError::BadRequest(format!("`{object}` is not a field of the catalog"))
            })?;
            if object.split('.').count() < 2 {
                return Err(AdminError::BadRequest(format!(
                    "`{object}` is a type; name its fields"
                )));
            }
            if let Some(m) = mask {
                if !mandate_policies::MASKS.iter().any(|(n, _)| *n == m) {
                    return Err(AdminError::BadRequest(format!("`{m}` is not a mask")));
                }
            }
            if share.class == ShareClass::NotShared
                && department_of(applicant) != Some(share.owner.as_str())
            {
                return Err(AdminError::ShareClassForbids(format!(
                    "{object} is 不予共享 (not shared): only {} reads it",
                    share.owner
                )));
            }
            if conditional_only && share.class == ShareClass::Unconditional {
                return Err(AdminError::ShareClassForbids(format!(
                    "{object} is 无条件共享 (unconditional): add it to your own list instead of applying"
                )));
            }
            match &owner {
                None => owner = Some(share.owner.clone()),
                Some(o) if *o == share.owner => {}
                Some(o) => {
                    return Err(AdminError::BadRequest(format!(
                        "{object} is owned by {}, others by {o}: apply to each owner separately",
                        share.owner
                    )))
                }
            }
        }
        owner.ok_or_else(|| AdminError::BadRequest("no field".into()))
    }

    fn check_scope(&self, scope: &str, fields: &[String]) -> Result<(), AdminError> {
        if scope.trim() == "-" {
            return Ok(());
        }
        for f in fields {
            let t = f.split('.').next().unwrap_or_default();
            Scope::parse(scope, t)
                .map_err(|e| AdminError::BadRequest(format!("scope `{scope}` for {t}: {e}")))?;
        }
        Ok(())
    }

    /// Checks that a grant's lines load beside the lists in force.
    async fn check_grant(&self, grant: &Grant) -> Result<(), AdminError> {
        let files = self.current().await?.map(|v| v.files).unwrap_or_default();
        let texts = lists::texts(&files, &[grant]);
        // The share class was checked field by field (check_fields).
        lists::load(&self.model, &texts, &self.catalog)
            .await
            .map(|_| ())
            .map_err(AdminError::InvalidPolicy)
    }

    /// Files a sharing application of the officer's agency.
    ///
    /// # Errors
    /// Role, bad fields, scope or duration, share class.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply(
        &self,
        request_id: &str,
        officer: &Officer,
        role: &str,
        purpose: &str,
        fields: Vec<String>,
        basis: &str,
        scope: &str,
        duration_days: u32,
    ) -> Result<Application, AdminError> {
        need(
            officer,
            "applying for shared data",
            &["policy_editor", "platform_admin"],
        )?;
        plain("role", role)?;
        plain("purpose", purpose)?;
        not_empty("basis", basis)?;
        not_empty("scope", scope)?;
        if duration_days == 0 || duration_days > self.settings.max_grant_days {
            return Err(AdminError::BadRequest(format!(
                "durationDays is 1 to {}",
                self.settings.max_grant_days
            )));
        }
        let owner = self.check_fields(&fields, &officer.agency, true)?;
        self.check_scope(scope, &fields)?;
        let now = self.now();
        let app = Application {
            id: new_id("app"),
            agency: officer.agency.clone(),
            officer: officer.officer.clone(),
            role: role.to_string(),
            purpose: purpose.to_string(),
            fields: fields.clone(),
            basis: basis.to_string(),
            scope: scope.trim().to_string(),
            duration_days,
            owner,
            state: ApplicationState::Submitted,
            submitted_at: rfc3339(now),
            acknowledge_by: rfc3339(self.calendar.deadline(now, self.settings.acknowledge_days)),
            answer_by: rfc3339(self.calendar.deadline(now, self.settings.answer_days)),
            acknowledged_at: None,
            answered_at: None,
            answered_by: None,
            reasons: None,
            grant_id: None,
        };
        self.commit(
            request_id,
            officer,
            "sharing.apply",
            &format!("application:{}", app.id),
            fields,
            vec![Write::Create {
                kind: Kind::Application,
                id: app.id.clone(),
                body: body(&app),
            }],
        )
        .await?;
        Ok(app)
    }

    fn check_steward(
        &self,
        officer: &Officer,
        app: &Application,
        action: &str,
    ) -> Result<(), AdminError> {
        need(officer, action, &["data_steward"])?;
        if department_of(&officer.agency) != Some(app.owner.as_str()) {
            return Err(AdminError::OtherDepartment(format!(
                "application {} asks for fields of {}; {} stewards {}'s",
                app.id, app.owner, officer.officer, officer.agency
            )));
        }
        Ok(())
    }

    /// Acknowledges an application (the owning department's steward).
    ///
    /// # Errors
    /// Role, department, state.
    pub async fn acknowledge(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
    ) -> Result<Application, AdminError> {
        let (rev, mut app) = self.application(id).await?;
        self.check_steward(officer, &app, "acknowledging an application")?;
        if app.state != ApplicationState::Submitted {
            return Err(AdminError::StateConflict(format!(
                "application {id} is {:?}",
                app.state
            )));
        }
        app.state = ApplicationState::Acknowledged;
        app.acknowledged_at = Some(rfc3339(self.now()));
        self.commit(
            request_id,
            officer,
            "sharing.acknowledge",
            &format!("application:{id}"),
            Vec::new(),
            vec![Write::Update {
                kind: Kind::Application,
                id: id.to_string(),
                rev,
                body: body(&app),
            }],
        )
        .await?;
        Ok(app)
    }

    /// Answers an application with written reasons; an approval issues a grant
    /// for the asked duration, in force at once on every instance.
    ///
    /// # Errors
    /// Role, department, state, a grant that does not load beside the lists.
    pub async fn answer(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
        approve: bool,
        reasons: &str,
    ) -> Result<Application, AdminError> {
        not_empty("reasons", reasons)?;
        let (rev, mut app) = self.application(id).await?;
        self.check_steward(officer, &app, "answering an application")?;
        if !matches!(
            app.state,
            ApplicationState::Submitted | ApplicationState::Acknowledged
        ) {
            return Err(AdminError::StateConflict(format!(
                "application {id} is {:?}",
                app.state
            )));
        }
        let now = self.now();
        app.answered_at = Some(rfc3339(now));
        app.answered_by = Some(officer.officer.clone());
        app.reasons = Some(reasons.to_string());
        if app.acknowledged_at.is_none() {
            app.acknowledged_at = Some(rfc3339(now));
        }
        let mut writes = Vec::new();
        let action;
        if approve {
            let grant = Grant {
                id: new_id("grant"),
                kind: GrantKind::Application,
                agency: app.agency.clone(),
                role: app.role.clone(),
                purpose: app.purpose.clone(),
                fields: app.fields.clone(),
                scope: app.scope.clone(),
                basis: format!("{} (共享申请 {})", app.basis, app.id),
                issued_by: officer.officer.clone(),
                starts_at: rfc3339(now),
                expires_at: rfc3339(now + Duration::days(i64::from(app.duration_days))),
                application_id: Some(app.id.clone()),
                incident: None,
                review_due_at: None,
                reviewed_by: None,
                reviewed_at: None,
                review_note: None,
                expiry_recorded: false,
            };
            self.check_grant(&grant).await?;
            app.state = ApplicationState::Approved;
            app.grant_id = Some(grant.id.clone());
            writes.push(Write::Create {
                kind: Kind::Grant,
                id: grant.id.clone(),
                body: body(&grant),
            });
            writes.push(Write::TouchGrants);
            action = "sharing.approve";
        } else {
            app.state = ApplicationState::Refused;
            action = "sharing.refuse";
        }
        writes.push(Write::Update {
            kind: Kind::Application,
            id: id.to_string(),
            rev,
            body: body(&app),
        });
        self.commit(
            request_id,
            officer,
            action,
            &format!("application:{id}"),
            app.fields.clone(),
            writes,
        )
        .await?;
        Ok(app)
    }

    /// Issues an emergency grant (platform admin), in force at once, for at most
    /// `break_glass_max_hours`; its after-review is due when it expires.
    ///
    /// # Errors
    /// Role, bounds, share class.
    #[allow(clippy::too_many_arguments)]
    pub async fn break_glass(
        &self,
        request_id: &str,
        officer: &Officer,
        agency: &str,
        role: &str,
        purpose: &str,
        fields: Vec<String>,
        incident: &str,
        hours: u32,
    ) -> Result<Grant, AdminError> {
        need(officer, "a break-glass grant", &["platform_admin"])?;
        plain("agency", agency)?;
        plain("role", role)?;
        plain("purpose", purpose)?;
        not_empty("incident", incident)?;
        if hours == 0 || hours > self.settings.break_glass_max_hours {
            return Err(AdminError::BadRequest(format!(
                "a break-glass grant lasts 1 to {} hours",
                self.settings.break_glass_max_hours
            )));
        }
        self.check_fields(&fields, agency, false)?;
        let now = self.now();
        let expires = now + Duration::hours(i64::from(hours));
        let grant = Grant {
            id: new_id("glass"),
            kind: GrantKind::BreakGlass,
            agency: agency.to_string(),
            role: role.to_string(),
            purpose: purpose.to_string(),
            fields: fields.clone(),
            scope: "-".to_string(),
            basis: format!("紧急授权 break-glass: {incident}"),
            issued_by: officer.officer.clone(),
            starts_at: rfc3339(now),
            expires_at: rfc3339(expires),
            application_id: None,
            incident: Some(incident.to_string()),
            review_due_at: Some(rfc3339(expires)),
            reviewed_by: None,
            reviewed_at: None,
            review_note: None,
            expiry_recorded: false,
        };
        self.check_grant(&grant).await?;
        self.commit(
            request_id,
            officer,
            "grant.break_glass",
            &format!("grant:{}", grant.id),
            fields,
            vec![
                Write::Create {
                    kind: Kind::Grant,
                    id: grant.id.clone(),
                    body: body(&grant),
                },
                Write::TouchGrants,
            ],
        )
        .await?;
        Ok(grant)
    }

    /// Signs off a break-glass grant's after-review (an approver other than its issuer).
    ///
    /// # Errors
    /// Role, two-person rule, state.
    pub async fn sign_off(
        &self,
        request_id: &str,
        officer: &Officer,
        id: &str,
        note: &str,
    ) -> Result<Grant, AdminError> {
        need(
            officer,
            "signing off a break-glass review",
            &["policy_approver", "platform_admin"],
        )?;
        not_empty("note", note)?;
        let doc = self
            .store
            .doc(Kind::Grant, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no grant {id}")))?;
        let mut grant: Grant = serde_json::from_value(doc.body)
            .map_err(|_| AdminError::NotFound(format!("grant {id} is unreadable")))?;
        if grant.kind != GrantKind::BreakGlass || grant.reviewed_by.is_some() {
            return Err(AdminError::StateConflict(format!(
                "grant {id} has no open review"
            )));
        }
        if officer.is(&grant.issued_by) {
            return Err(AdminError::TwoPersonRule(format!(
                "{} issued grant {id} and may not review it",
                officer.officer
            )));
        }
        grant.reviewed_by = Some(officer.officer.clone());
        grant.reviewed_at = Some(rfc3339(self.now()));
        grant.review_note = Some(note.to_string());
        self.commit(
            request_id,
            officer,
            "grant.review",
            &format!("grant:{id}"),
            Vec::new(),
            vec![Write::Update {
                kind: Kind::Grant,
                id: id.to_string(),
                rev: doc.rev,
                body: body(&grant),
            }],
        )
        .await?;
        Ok(grant)
    }

    /// Records the expiry of every grant past its end not yet recorded (once
    /// across instances: the update names the revision read). Returns how many.
    ///
    /// # Errors
    /// Store or audit failures (the expiry is recorded on a later call).
    pub async fn record_expiries(&self) -> Result<usize, AdminError> {
        let now = self.now();
        let mut n = 0;
        let system = Officer {
            officer: "system:expiry".into(),
            agency: "-".into(),
            roles: std::collections::BTreeSet::new(),
        };
        for (rev, mut g) in self.grants_all().await? {
            let ended = parse_time(&g.expires_at).is_some_and(|t| now >= t);
            if !ended || g.expiry_recorded {
                continue;
            }
            g.expiry_recorded = true;
            let id = g.id.clone();
            let fields = g.fields.clone();
            let result = self
                .commit(
                    &new_id("expiry"),
                    &system,
                    "grant.expire",
                    &format!("grant:{id} agency:{}", g.agency),
                    fields,
                    vec![Write::Update {
                        kind: Kind::Grant,
                        id,
                        rev,
                        body: body(&g),
                    }],
                )
                .await;
            match result {
                Ok(()) => n += 1,
                // Another instance recorded it.
                Err(AdminError::StateConflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Moves the test clock by setting its offset (only with `test_clock`).
    ///
    /// # Errors
    /// Off, role, store or audit failures.
    pub async fn set_clock(
        &self,
        request_id: &str,
        officer: &Officer,
        offset_secs: i64,
    ) -> Result<(), AdminError> {
        if !self.settings.test_clock {
            return Err(AdminError::role("the test clock (off in this hub)", &[]));
        }
        need(officer, "moving the test clock", &["platform_admin"])?;
        self.commit(
            request_id,
            officer,
            "clock.set",
            &format!("offset:{offset_secs}"),
            Vec::new(),
            vec![Write::SetClock(offset_secs)],
        )
        .await?;
        let mut clock = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clock.offset_secs = offset_secs;
        clock.moves += 1;
        Ok(())
    }
}

fn docs_of<T: serde::de::DeserializeOwned>(docs: Vec<Doc>) -> Vec<(u64, T)> {
    docs.into_iter()
        .filter_map(|d| Some((d.rev, serde_json::from_value(d.body).ok()?)))
        .collect()
}

/// The file name of a new list: `D-FOO_BAR-S01` → `foo-bar-s01.csv`.
fn new_file_name(agency: &str) -> String {
    let base = agency.strip_prefix("D-").unwrap_or(agency);
    format!("{}.csv", base.to_lowercase().replace('_', "-"))
}

/// A name for a new list of `agency` that none of `taken` holds:
/// [`new_file_name`], or with `-2`, `-3`, ... before `.csv`.
fn free_file_name(agency: &str, taken: &[String]) -> String {
    let first = new_file_name(agency);
    if !taken.contains(&first) {
        return first;
    }
    let stem = first.trim_end_matches(".csv");
    (2_u32..)
        .map(|n| format!("{stem}-{n}.csv"))
        .find(|n| !taken.contains(n))
        .unwrap_or(first)
}

/// `files` with `draft`'s file holding `text`. A draft replaces only a file
/// whose lines are all its own department's: one naming another agency is
/// that agency's list, whatever the draft's file name says.
fn with_draft(
    mut files: Vec<ListFile>,
    draft: &Draft,
    text: &str,
) -> Result<Vec<ListFile>, AdminError> {
    match files.iter_mut().find(|f| f.name == draft.file) {
        Some(f) => {
            if let Some((line, agency)) =
                foreign_lines(&f.text, &draft.department).into_iter().next()
            {
                return Err(AdminError::OtherDepartment(format!(
                    "{}:{line} grants to {agency}: the file is {agency}'s list, and draft {} of {} may not replace it",
                    draft.file, draft.id, draft.department
                )));
            }
            f.text = text.to_string();
        }
        None => files.push(ListFile {
            name: draft.file.clone(),
            text: text.to_string(),
        }),
    }
    Ok(files)
}

/// Names of files that differ between two versions.
fn changed_files(a: &[ListFile], b: &[ListFile]) -> Vec<String> {
    let mut names: Vec<String> = a.iter().chain(b).map(|f| f.name.clone()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| {
            a.iter().find(|f| &f.name == n).map(|f| &f.text)
                != b.iter().find(|f| &f.name == n).map(|f| &f.text)
        })
        .collect()
}

/// Reads a policies folder's lists as files of a version (names and bytes).
///
/// # Errors
/// If the folder cannot be read.
pub fn read_lists(dir: &std::path::Path) -> std::io::Result<Vec<ListFile>> {
    let mut out = Vec::new();
    let lists = dir.join("lists");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&lists)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p)?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(ListFile { name, text });
    }
    Ok(out)
}

/// The hub's now as RFC 3339.
pub fn rfc3339_now(gov: &Governance) -> String {
    rfc3339(gov.now())
}

impl Governance {
    /// Records an officer's action that changes nothing in the store (a console
    /// sign-in): fail closed, the caller refuses if it is not written.
    ///
    /// # Errors
    /// `AUDIT_UNAVAILABLE`.
    pub async fn record_action(
        &self,
        request_id: &str,
        officer: &Officer,
        action: &str,
        target: &str,
    ) -> Result<(), AdminError> {
        let record = self.record(
            request_id,
            officer,
            action,
            target,
            Decision::Allowed,
            "",
            Vec::new(),
        );
        self.audit
            .append(record)
            .await
            .map_err(|_| AdminError::AuditUnavailable)
    }
}

impl Governance {
    /// Imports list files: into an empty store as version 1; otherwise each file
    /// differing from the version in force becomes a proposed draft of its
    /// agency by `author`, all in one commit. Every file is checked first, all
    /// together: one bad line and nothing is written. Returns what was made.
    ///
    /// # Errors
    /// A file that does not load (file, line, reason), a file granting to more
    /// than one agency, store or audit failures.
    pub async fn import(
        &self,
        request_id: &str,
        author: &str,
        files: Vec<ListFile>,
        reason: &str,
        basis: &str,
    ) -> Result<Vec<String>, AdminError> {
        not_empty("reason", reason)?;
        not_empty("basis", basis)?;
        plain("officer", author.trim_start_matches("system:"))?;
        self.policies_of(&files).await?;
        let head = self.store.head().await?;
        if head.version == 0 {
            let n = self.bootstrap(request_id, files, author).await?;
            return Ok(vec![format!(
                "published as version {n} (the store was empty)"
            )]);
        }
        let current = self
            .store
            .version(head.version)
            .await?
            .map(|v| v.files)
            .unwrap_or_default();
        let now = rfc3339(self.now());
        let mut writes = Vec::new();
        let mut made = Vec::new();
        for f in files {
            if current.iter().any(|c| c.name == f.name && c.text == f.text) {
                continue;
            }
            let agency = agency_of(&f.text).ok_or_else(|| {
                AdminError::InvalidPolicy(format!(
                    "{}: a list grants to exactly one agency",
                    f.name
                ))
            })?;
            let draft = Draft {
                id: new_id("draft"),
                department: agency.clone(),
                file: f.name.clone(),
                base_version: head.version,
                state: DraftState::Proposed,
                author: author.to_string(),
                editors: vec![author.to_string()],
                reason: reason.to_string(),
                basis: basis.to_string(),
                created_at: now.clone(),
                proposed_at: Some(now.clone()),
                decided_by: None,
                decided_at: None,
                note: None,
                published_version: None,
                text: f.text,
            };
            made.push(format!(
                "{}: proposed as draft {} of {agency}",
                f.name, draft.id
            ));
            writes.push(Write::Create {
                kind: Kind::Draft,
                id: draft.id.clone(),
                body: body(&draft),
            });
        }
        if writes.is_empty() {
            return Ok(made);
        }
        let officer = Officer {
            officer: author.to_string(),
            agency: "-".into(),
            roles: std::collections::BTreeSet::new(),
        };
        self.commit(
            request_id,
            &officer,
            "policy.import",
            &format!("drafts:{}", made.len()),
            Vec::new(),
            writes,
        )
        .await?;
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(department: &str, file: &str) -> Draft {
        Draft {
            id: "draft-1".into(),
            department: department.into(),
            file: file.into(),
            base_version: 1,
            state: DraftState::Editing,
            author: "a".into(),
            editors: vec!["a".into()],
            reason: "r".into(),
            basis: "b".into(),
            created_at: String::new(),
            proposed_at: None,
            decided_by: None,
            decided_at: None,
            note: None,
            published_version: None,
            text: String::new(),
        }
    }

    #[test]
    fn a_new_list_never_takes_a_name_in_use() {
        assert_eq!(free_file_name("D-CIVIL-AFFAIRS", &[]), "civil-affairs.csv");
        let taken = vec!["civil-affairs.csv".to_string()];
        assert_eq!(
            free_file_name("D-CIVIL-AFFAIRS", &taken),
            "civil-affairs-2.csv"
        );
        let taken = vec![
            "civil-affairs.csv".to_string(),
            "civil-affairs-2.csv".to_string(),
        ];
        assert_eq!(
            free_file_name("D-Civil_Affairs", &taken),
            "civil-affairs-3.csv"
        );
    }

    #[test]
    fn a_draft_replaces_only_its_own_departments_file() {
        let files = vec![ListFile {
            name: "civil-affairs.csv".into(),
            text: "# civil\np, caseworker, D-CIVIL_AFFAIRS, s, Resident.name, read, -, b\n".into(),
        }];
        let e = with_draft(
            files.clone(),
            &draft("D-CIVIL-AFFAIRS", "civil-affairs.csv"),
            "",
        )
        .unwrap_err();
        assert_eq!(e.code().as_str(), "OTHER_DEPARTMENT", "{e}");
        let ok = with_draft(
            files.clone(),
            &draft("D-CIVIL_AFFAIRS", "civil-affairs.csv"),
            "x",
        )
        .unwrap();
        assert_eq!(ok[0].text, "x");
        let added =
            with_draft(files, &draft("D-CIVIL-AFFAIRS", "civil-affairs-2.csv"), "y").unwrap();
        assert_eq!(added.len(), 2);
    }
}
