//! Who asks, for what: the caller the server verified, what the request states,
//! and the checks that turn both into an [`Asker`].

use std::collections::HashMap;

use mandate_policies::Policies;
use mandate_resolvers::{Code, HubError};

/// A verified caller, as the server's authentication established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The agency (department) the credential belongs to, e.g. `D-CIVIL_AFFAIRS`.
    pub agency: String,
    /// The officer or system account.
    pub officer: String,
    /// Roles the credential grants; possibly empty.
    pub roles: Vec<String>,
    /// Purposes the credential is bound to; empty: any its agency's lists name.
    pub purposes: Vec<String>,
}

/// What the request states about itself outside the GraphQL document (the
/// server reads these from headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    /// The agency the request claims to act for (`x-mandate-agency`), if it
    /// claims one; it must be the caller's.
    pub claimed_agency: Option<String>,
    /// The stated purpose (事由), if stated outside the document.
    pub purpose: Option<String>,
    /// The stated case number, if stated outside the document.
    pub case: Option<String>,
}

/// The purpose and case number a request states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stated {
    /// Purpose name from the agency's list.
    pub purpose: String,
    /// Case or reference number.
    pub case: String,
}

/// An admitted caller: who, for which purpose, under which case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// The verified caller.
    pub caller: Caller,
    /// Stated purpose, named by the agency's list.
    pub purpose: String,
    /// Stated case number.
    pub case: String,
}

/// Checks the statement against the caller and the lists in force.
///
/// # Errors
/// `AGENCY_MISMATCH`, `PURPOSE_REQUIRED` or `PURPOSE_NOT_ALLOWED`.
pub(crate) fn admit(
    policies: &Policies,
    caller: &Caller,
    statement: &Statement,
    extensions: &HashMap<String, async_graphql::Value>,
) -> Result<Asker, HubError> {
    if let Some(claimed) = &statement.claimed_agency {
        if *claimed != caller.agency {
            return Err(HubError::new(
                Code::AgencyMismatch,
                "x-mandate-agency names another agency than your credential",
            ));
        }
    }
    let stated = stated_purpose(statement, extensions)?;
    if !mandate_codes::reserved::may_state_case(&caller.officer, &stated.case) {
        return Err(HubError::new(
            Code::PurposeRequired,
            "case numbers starting PREVIEW: or IMPACT: name the hub's own runs; state your own case number",
        ));
    }
    if !caller.purposes.is_empty() && !caller.purposes.contains(&stated.purpose) {
        return Err(HubError::new(
            Code::PurposeNotAllowed,
            format!(
                "your credential is bound to the purposes {}: state one of them, or use a credential for this purpose",
                caller.purposes.join(", ")
            ),
        ));
    }
    if !policies.names_purpose(&caller.agency, &stated.purpose) {
        return Err(HubError::new(
            Code::PurposeNotAllowed,
            "this purpose is not in your agency's responsibility list",
        ));
    }
    Ok(Asker {
        caller: caller.clone(),
        purpose: stated.purpose,
        case: stated.case,
    })
}

/// The purpose and case from the statement or, failing that, from the request's
/// `extensions.mandate`.
///
/// # Errors
/// `PURPOSE_REQUIRED` if either is missing or malformed.
pub(crate) fn stated_purpose(
    statement: &Statement,
    extensions: &HashMap<String, async_graphql::Value>,
) -> Result<Stated, HubError> {
    let stated = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let from_ext = |name: &str| match extensions.get("mandate") {
        Some(async_graphql::Value::Object(m)) => match m.get(name) {
            Some(async_graphql::Value::String(s)) if !s.trim().is_empty() => {
                Some(s.trim().to_string())
            }
            _ => None,
        },
        _ => None,
    };
    let purpose = stated(&statement.purpose).or_else(|| from_ext("purpose"));
    let case = stated(&statement.case).or_else(|| from_ext("case"));
    let (Some(purpose), Some(case)) = (purpose, case) else {
        return Err(HubError::new(
            Code::PurposeRequired,
            "state the purpose (事由) and case number: headers x-mandate-purpose and x-mandate-case, or extensions.mandate",
        ));
    };
    let plain = |s: &str, max: usize| {
        s.len() <= max
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.' | ':'))
    };
    if purpose.len() > 64 || case.len() > 128 {
        return Err(HubError::new(
            Code::PurposeRequired,
            "a purpose is at most 64 characters and a case number at most 128",
        ));
    }
    if !plain(&purpose, 64) || !plain(&case, 128) {
        return Err(HubError::new(
            Code::PurposeRequired,
            "purpose and case number are plain identifiers (letters, digits, _ - / . :), each stated once",
        ));
    }
    Ok(Stated { purpose, case })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(purpose: &str, case: &str) -> HashMap<String, async_graphql::Value> {
        let mut m = async_graphql::indexmap::IndexMap::new();
        m.insert(
            async_graphql::Name::new("purpose"),
            async_graphql::Value::String(purpose.into()),
        );
        m.insert(
            async_graphql::Name::new("case"),
            async_graphql::Value::String(case.into()),
        );
        HashMap::from([("mandate".to_string(), async_graphql::Value::Object(m))])
    }

    fn stating(purpose: Option<&str>, case: Option<&str>) -> Statement {
        Statement {
            claimed_agency: None,
            purpose: purpose.map(str::to_string),
            case: case.map(str::to_string),
        }
    }

    #[test]
    fn statements_come_before_extensions() {
        let s = stated_purpose(&stating(Some(" a "), Some("c-1")), &ext("b", "c-2")).unwrap();
        assert_eq!((s.purpose.as_str(), s.case.as_str()), ("a", "c-1"));
        let s = stated_purpose(&stating(None, Some("  ")), &ext("b", "c-2")).unwrap();
        assert_eq!((s.purpose.as_str(), s.case.as_str()), ("b", "c-2"));
    }

    #[test]
    fn missing_or_odd_purposes_are_refused() {
        for statement in [
            stating(None, None),
            stating(Some("a"), None),
            stating(Some("a b"), Some("c")),
            stating(Some("a"), Some("c;DROP")),
            stating(Some(&"p".repeat(65)), Some("c")),
        ] {
            let e = stated_purpose(&statement, &HashMap::new()).unwrap_err();
            assert_eq!(e.code, Code::PurposeRequired, "{statement:?}");
        }
    }
}
