//! The officers' records as stored (JSON bodies of [`crate::store::Doc`]s), and
//! who the officer is.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The roles that make a credential an officer's (never a data role: the
/// policy loader refuses lists naming them).
pub use mandate_policies::OFFICER_ROLES;

/// An authenticated officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    /// The officer's id (the credential's subject).
    pub officer: String,
    /// The officer's agency.
    pub agency: String,
    /// Every role the credential carries.
    pub roles: BTreeSet<String>,
}

impl Officer {
    /// Whether the officer has `role`.
    pub fn has(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Whether any role is an officer role.
    pub fn is_officer(&self) -> bool {
        OFFICER_ROLES.iter().any(|r| self.has(r))
    }

    /// Whether `id` names this officer (compared trimmed and case-insensitively:
    /// the two-person rule errs on the side of "the same person").
    pub fn is(&self, id: &str) -> bool {
        self.officer.trim().to_lowercase() == id.trim().to_lowercase()
    }
}

/// Where a draft is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DraftState {
    /// Being written by its author.
    Editing,
    /// Waiting for an approver.
    Proposed,
    /// Approved and published as a version.
    Published,
    /// Refused by an approver.
    Rejected,
    /// Withdrawn by its author.
    Withdrawn,
}

/// A proposed change of one agency's list: the whole new text of its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    /// Its id.
    pub id: String,
    /// The agency whose list it changes.
    pub department: String,
    /// The list file.
    pub file: String,
    /// The version it was written against.
    pub base_version: u64,
    /// Its state.
    pub state: DraftState,
    /// Who created it (and alone proposes or withdraws it).
    pub author: String,
    /// Everyone who changed its text, the author first: none of them may
    /// approve it (two-person rule).
    #[serde(default)]
    pub editors: Vec<String>,
    /// Why.
    pub reason: String,
    /// On which legal basis.
    pub basis: String,
    /// When it was created.
    pub created_at: String,
    /// When it was proposed.
    #[serde(default)]
    pub proposed_at: Option<String>,
    /// Who approved or rejected it.
    #[serde(default)]
    pub decided_by: Option<String>,
    /// When.
    #[serde(default)]
    pub decided_at: Option<String>,
    /// The approver's note or reasons.
    #[serde(default)]
    pub note: Option<String>,
    /// The version it became.
    #[serde(default)]
    pub published_version: Option<u64>,
    /// The new text of the file.
    pub text: String,
}

/// Where a sharing application is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationState {
    /// Filed, not yet acknowledged by the owner.
    Submitted,
    /// Acknowledged by the owner's steward.
    Acknowledged,
    /// Approved: a grant was issued.
    Approved,
    /// Refused, with reasons.
    Refused,
    /// Withdrawn by the applicant.
    Withdrawn,
}

/// A sharing application (共享申请) for conditional fields another department owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Its id.
    pub id: String,
    /// The applying agency.
    pub agency: String,
    /// The officer who filed it.
    pub officer: String,
    /// The role the grant is for.
    pub role: String,
    /// The purpose (事由).
    pub purpose: String,
    /// The fields asked for (`Type.field`, or `Type.field:mask`).
    pub fields: Vec<String>,
    /// The legal basis stated.
    pub basis: String,
    /// The rows: a scope expression, or `-` for the rows the purpose already reaches.
    pub scope: String,
    /// How long the grant would last.
    pub duration_days: u32,
    /// The department that owns the fields (catalog code).
    pub owner: String,
    /// Its state.
    pub state: ApplicationState,
    /// When it was filed.
    pub submitted_at: String,
    /// The acknowledgement deadline.
    pub acknowledge_by: String,
    /// The answer deadline.
    pub answer_by: String,
    /// When it was acknowledged.
    #[serde(default)]
    pub acknowledged_at: Option<String>,
    /// When it was answered.
    #[serde(default)]
    pub answered_at: Option<String>,
    /// By whom.
    #[serde(default)]
    pub answered_by: Option<String>,
    /// The written reasons of the answer.
    #[serde(default)]
    pub reasons: Option<String>,
    /// The grant an approval issued.
    #[serde(default)]
    pub grant_id: Option<String>,
}

/// What issued a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantKind {
    /// An approved sharing application.
    Application,
    /// An emergency grant of the platform admin.
    BreakGlass,
}

/// A time-boxed grant, in force from `starts_at` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// Its id.
    pub id: String,
    /// What issued it.
    pub kind: GrantKind,
    /// The agency it grants to.
    pub agency: String,
    /// The role.
    pub role: String,
    /// The purpose.
    pub purpose: String,
    /// The fields (`Type.field` or `Type.field:mask`).
    pub fields: Vec<String>,
    /// The rows (scope expression or `-`).
    pub scope: String,
    /// The legal basis written into its lines.
    pub basis: String,
    /// Who issued it.
    pub issued_by: String,
    /// From.
    pub starts_at: String,
    /// Until.
    pub expires_at: String,
    /// The application it answers.
    #[serde(default)]
    pub application_id: Option<String>,
    /// The incident of a break-glass grant.
    #[serde(default)]
    pub incident: Option<String>,
    /// When a break-glass grant's after-review is due.
    #[serde(default)]
    pub review_due_at: Option<String>,
    /// Who signed the review off.
    #[serde(default)]
    pub reviewed_by: Option<String>,
    /// When.
    #[serde(default)]
    pub reviewed_at: Option<String>,
    /// The review's note.
    #[serde(default)]
    pub review_note: Option<String>,
    /// Whether its expiry was recorded in the audit log.
    #[serde(default)]
    pub expiry_recorded: bool,
}
