//! Per-agency APIs: for each (agency, roles, purpose, policy version, day) the
//! access plan compiled from the responsibility lists and the GraphQL schema built
//! from it, cached. A field the plan withholds is not in that schema, so it fails
//! validation; the resolvers check the same plan again on their own.
//!
//! A plan also depends on the agency's jurisdiction, read from the graph through
//! the [`Jurisdictions`] port. That is trusted for the jurisdiction TTL only
//! (`policies.jurisdiction_ttl_secs`, short): then it is read again, and a plan
//! compiled from another jurisdiction is compiled afresh — an unchanged one is
//! kept. So a changed `SERVES` reaches every instance within the TTL, at the cost
//! of one small query per agency and TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::dynamic::Schema;
use mandate_policies::{Jurisdiction, PlanKey, Policies, ScopeContext};
use mandate_resolvers::{AccessPlan, Engine, HubError};

use crate::ports::{AgencyProfile, Jurisdictions};

/// One agency's compiled view.
pub struct AgencyApi {
    /// The plan.
    pub plan: Arc<AccessPlan>,
    /// The schema generated from it.
    pub schema: Schema,
    /// When it was built.
    built: Instant,
    /// The jurisdiction it was compiled with.
    profile: Arc<AgencyProfile>,
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
pub(crate) struct AgencyApis {
    entries: Mutex<HashMap<CacheKey, Arc<AgencyApi>>>,
    /// Jurisdictions by agency, with when they were read.
    profiles: Mutex<HashMap<String, (Arc<AgencyProfile>, Instant)>>,
    /// How long a compiled plan is reused.
    ttl: Duration,
    /// How long a jurisdiction read from the graph is trusted.
    jurisdiction_ttl: Duration,
    capacity: usize,
    fixed_today: Option<String>,
}

impl AgencyApis {
    /// An empty cache; plans live `ttl`, jurisdictions `jurisdiction_ttl`;
    /// `fixed_today` pins the date scopes are evaluated with.
    pub(crate) fn new(
        ttl: Duration,
        jurisdiction_ttl: Duration,
        capacity: usize,
        fixed_today: Option<String>,
    ) -> Self {
        AgencyApis {
            entries: Mutex::new(HashMap::new()),
            profiles: Mutex::new(HashMap::new()),
            ttl,
            jurisdiction_ttl,
            capacity,
            fixed_today,
        }
    }

    /// Cached entries (for metrics).
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Drops every cached API (after the lists changed).
    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// The API of `agency` for `roles` and `purpose`, compiling it if needed.
    ///
    /// # Errors
    /// `NEO4J_UNAVAILABLE` / `NEO4J_TIMEOUT` if the agency's jurisdiction cannot be
    /// read; `INTERNAL_ERROR` if compilation fails.
    pub(crate) async fn get(
        &self,
        policies: &Policies,
        engine: &Arc<Engine>,
        jurisdictions: &dyn Jurisdictions,
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
        let profile = self.profile(jurisdictions, agency).await?;
        if let Some(hit) = self.lookup(&key) {
            if Arc::ptr_eq(&hit.profile, &profile) || *hit.profile == *profile {
                return Ok(hit);
            }
        }
        let started = Instant::now();
        let plan_key = PlanKey {
            agency: agency.to_string(),
            department: profile.department.clone(),
            roles,
            purpose: purpose.to_string(),
            context: ScopeContext {
                jurisdiction: Jurisdiction {
                    grids: profile.grids.clone(),
                    communities: profile.communities.clone(),
                    subdistricts: profile.subdistricts.clone(),
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
            compile_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "access plan compiled"
        );
        let api = Arc::new(AgencyApi {
            plan,
            schema,
            built: Instant::now(),
            profile,
        });
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key, api.clone());
        }
        Ok(api)
    }

    /// The jurisdiction of `agency`: the one read last if younger than the
    /// jurisdiction TTL, else read again (the same `Arc` kept when unchanged,
    /// so plans compare it by pointer).
    ///
    /// # Errors
    /// `NEO4J_UNAVAILABLE` / `NEO4J_TIMEOUT` if it cannot be read.
    async fn profile(
        &self,
        jurisdictions: &dyn Jurisdictions,
        agency: &str,
    ) -> Result<Arc<AgencyProfile>, HubError> {
        let known = self
            .profiles
            .lock()
            .ok()
            .and_then(|p| p.get(agency).cloned());
        if let Some((profile, read)) = &known {
            if read.elapsed() < self.jurisdiction_ttl {
                return Ok(profile.clone());
            }
        }
        let read = Instant::now();
        let fresh = jurisdictions
            .profile(agency)
            .await
            .map_err(|e| e.into_hub_error())?
            .unwrap_or_default();
        let profile = match known {
            Some((old, _)) if *old == fresh => old,
            Some(_) => {
                tracing::info!(agency = %agency, "jurisdiction changed in the graph; plans compiled afresh");
                Arc::new(fresh)
            }
            None => Arc::new(fresh),
        };
        if let Ok(mut profiles) = self.profiles.lock() {
            if profiles.len() >= self.capacity {
                profiles.clear();
            }
            profiles.insert(agency.to_string(), (profile.clone(), read));
        }
        Ok(profile)
    }

    fn lookup(&self, key: &CacheKey) -> Option<Arc<AgencyApi>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|api| api.built.elapsed() < self.ttl)
            .cloned()
    }
}

/// Today's date in China's administrative day (UTC+8), `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    let now = chrono::Utc::now();
    let day = chrono::FixedOffset::east_opt(8 * 3600).map_or_else(
        || now.date_naive(),
        |china| now.with_timezone(&china).date_naive(),
    );
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn today_is_a_plain_date() {
        let t = super::today();
        assert!(
            chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d").is_ok(),
            "{t}"
        );
    }
}
