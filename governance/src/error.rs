//! Why an officer's request was refused, each with its stable code.

use mandate_resolvers::Code;

/// Why an admin request was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The officer's roles do not allow the action; `roles` would.
    #[error("{message}")]
    RoleRequired {
        /// What was refused.
        message: String,
        /// The roles that allow it.
        roles: Vec<&'static str>,
    },
    /// Another department's list, application or field.
    #[error("{0}")]
    OtherDepartment(String),
    /// The proposer may not approve.
    #[error("{0}")]
    TwoPersonRule(String),
    /// The catalog's share class forbids the grant.
    #[error("{0}")]
    ShareClassForbids(String),
    /// A list does not load (file, line, reason).
    #[error("{0}")]
    InvalidPolicy(String),
    /// No such record.
    #[error("{0}")]
    NotFound(String),
    /// Wrong state, or changed since read.
    #[error("{0}")]
    StateConflict(String),
    /// An argument is unacceptable.
    #[error("{0}")]
    BadRequest(String),
    /// The audit record could not be written; nothing changed.
    #[error("the audit record could not be written; nothing was changed")]
    AuditUnavailable,
    /// Neo4j cannot be reached.
    #[error("the policy store cannot be reached; retry later")]
    Unavailable,
}

impl AdminError {
    /// The code sent in `extensions.code`.
    pub fn code(&self) -> Code {
        match self {
            AdminError::RoleRequired { .. } => Code::RoleRequired,
            AdminError::OtherDepartment(_) => Code::OtherDepartment,
            AdminError::TwoPersonRule(_) => Code::TwoPersonRule,
            AdminError::ShareClassForbids(_) => Code::ShareClassForbids,
            AdminError::InvalidPolicy(_) => Code::InvalidPolicy,
            AdminError::NotFound(_) => Code::NotFound,
            AdminError::StateConflict(_) => Code::StateConflict,
            AdminError::BadRequest(_) => Code::BadUserInput,
            AdminError::AuditUnavailable => Code::AuditUnavailable,
            AdminError::Unavailable => Code::Neo4jUnavailable,
        }
    }

    /// A refusal for lack of one of `roles`.
    pub fn role(action: &str, roles: &[&'static str]) -> AdminError {
        AdminError::RoleRequired {
            message: format!("{action} needs one of the roles {}", roles.join(", ")),
            roles: roles.to_vec(),
        }
    }
}

impl From<mandate_resolvers::StoreError> for AdminError {
    fn from(e: mandate_resolvers::StoreError) -> Self {
        tracing::error!(error = %e, "policy store failed");
        AdminError::Unavailable
    }
}

impl From<crate::store::CommitError> for AdminError {
    fn from(e: crate::store::CommitError) -> Self {
        match e {
            crate::store::CommitError::Conflict => AdminError::StateConflict(
                "someone changed this since it was read; read it again".to_string(),
            ),
            crate::store::CommitError::Seal(why) => {
                tracing::error!(error = %why, "admin action not recorded; nothing changed");
                AdminError::AuditUnavailable
            }
            crate::store::CommitError::Store(e) => e.into(),
        }
    }
}
