//! Per-agency APIs: for each (agency, roles, purpose, policy version, day) the
//! access plan compiled from the responsibility lists and the GraphQL schema built
//! from it, cached. A field the plan withholds is not in that schema, so it fails
//! validation; the resolvers check the same plan again on their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::dynamic::Schema;
use mandate_connectors::Neo4jStore;
use mandate_policies::{Jurisdiction, PlanKey, Policies, ScopeContext};
use mandate_resolvers::{AccessPlan, Code, Engine, HubError};

/// One agency's compiled view.
pub struct AgencyApi {
    /// The plan.
    pub plan: Arc<AccessPlan>,
    /// The schema generated from it.
    pub schema: Schema,
    /// When it was built.
    built: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    agency: String,
    roles: Vec<String>,
    purpose: String,
    version: String,
    today: String,
}

/// The cache of per-agency APIs.
pub struct AgencyApis {
    entries: Mutex<HashMap<CacheKey, Arc<AgencyApi>>>,
    /// How long a jurisdiction read from the graph is trusted.
    ttl: Duration,
    capacity: usize,
    fixed_today: Option<String>,
}

impl AgencyApis {
    /// An empty cache; `fixed_today` pins the date scopes are evaluated with.
    pub fn new(ttl: Duration, capacity: usize, fixed_today: Option<String>) -> Self {
        AgencyApis {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity,
            fixed_today,
        }
    }

    /// Cached entries (for metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Drops every cached API (after the lists changed).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The API of `agency` for `roles` and `purpose`, compiling it if needed.
    ///
    /// # Errors
    /// `NEO4J_UNAVAILABLE` if the agency's jurisdiction cannot be read;
    /// `INTERNAL_ERROR` if compilation fails.
    pub async fn get(
        &self,
        policies: &Policies,
        engine: &Arc<Engine>,
        store: &Neo4jStore,
        agency: &str,
        roles: &[String],
        purpose: &str,
    ) -> Result<Arc<AgencyApi>, HubError> {
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let today = self.fixed_today.clone().unwrap_or_else(today);
        let key = CacheKey {
            agency: agency.to_string(),
            roles: roles.clone(),
            purpose: purpose.to_string(),
            version: policies.version().to_string(),
            today: today.clone(),
        };
        if let Some(hit) = self.lookup(&key) {
            return Ok(hit);
        }
        let started = Instant::now();
        let profile = mandate_connectors::agency_profile(store, agency)
            .await
            .map_err(|e| e.into_hub_error())?
            .unwrap_or(mandate_connectors::AgencyProfile {
                department: String::new(),
                grids: Vec::new(),
                communities: Vec::new(),
                subdistricts: Vec::new(),
            });
        let plan_key = PlanKey {
            agency: agency.to_string(),
            department: profile.department,
            roles,
            purpose: purpose.to_string(),
            context: ScopeContext {
                jurisdiction: Jurisdiction {
                    grids: profile.grids,
                    communities: profile.communities,
                    subdistricts: profile.subdistricts,
                },
                today,
            },
        };
        let plan = Arc::new(policies.compile(&plan_key).map_err(HubError::internal)?);
        let schema = mandate_resolvers::build_schema(engine.clone(), plan.clone())
            .map_err(HubError::internal)?;
        tracing::info!(
            agency = %agency,
            purpose = %purpose,
            policy.version = %policies.version(),
            types = plan.types.len(),
            compile_us = started.elapsed().as_micros() as u64,
            "access plan compiled"
        );
        let api = Arc::new(AgencyApi {
            plan,
            schema,
            built: Instant::now(),
        });
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key, api.clone());
        }
        Ok(api)
    }

    fn lookup(&self, key: &CacheKey) -> Option<Arc<AgencyApi>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|api| api.built.elapsed() < self.ttl)
            .cloned()
    }
}

/// Today's date (UTC+8, the administrative day in China), `YYYY-MM-DD`.
pub fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    civil_date((now + 8 * 3600).div_euclid(86_400))
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// The purpose (事由) and case number a request states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    /// Purpose name from the agency's list.
    pub purpose: String,
    /// Case or reference number.
    pub case: String,
}

/// Reads purpose and case from `x-mandate-purpose` / `x-mandate-case` headers or,
/// failing that, from the request's `extensions.mandate`.
///
/// # Errors
/// `PURPOSE_REQUIRED` if either is missing or malformed.
pub fn stated_purpose(
    headers: &poem::http::HeaderMap,
    extensions: &HashMap<String, async_graphql::Value>,
) -> Result<Purpose, HubError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
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
    let purpose = header("x-mandate-purpose").or_else(|| from_ext("purpose"));
    let case = header("x-mandate-case").or_else(|| from_ext("case"));
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
    if !plain(&purpose, 64) || !plain(&case, 128) {
        return Err(HubError::new(
            Code::PurposeRequired,
            "purpose and case number are plain identifiers (letters, digits, _ - / . :)",
        ));
    }
    Ok(Purpose { purpose, case })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_786), "2026-11-29");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
