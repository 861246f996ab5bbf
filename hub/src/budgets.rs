//! Budgets: what each agency, and each of its purposes, may spend in cost units
//! (a rate, sustained with a burst, and a rolling daily quota), and the share of
//! the graph store's connections one agency may hold at once — so that no agency
//! can starve the others, whatever it sends.
//!
//! A request's cost is measured on its document before anything runs (see
//! `mandate_resolvers`'s limits) and charged here through the [`Meter`] port;
//! a spent budget refuses the request with `RATE_LIMITED` or `QUOTA_EXCEEDED`
//! and the time to retry. Buckets are GCRA rate limiters (`governor`), one per
//! agency and one per (agency, purpose) for purposes with a budget of their own.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use mandate_resolvers::{Code, Meter, StoreTicket, Throttled};
use tokio::sync::Semaphore;

/// What one agency (or one purpose) may spend; 0 turns a bound off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Cost units a second, sustained.
    pub cost_per_sec: u32,
    /// Cost units at once (the bucket's size).
    pub burst: u32,
    /// Cost units in any 24 hours.
    pub cost_per_day: u32,
    /// Milliseconds of graph-store time a second, sustained (agencies only: the
    /// time its queries actually kept Neo4j busy, measured after each).
    pub store_ms_per_sec: u32,
    /// Milliseconds of graph-store time at once; also the longest one query
    /// may keep the store busy (stopped past it).
    pub store_ms_burst: u32,
}

impl Default for Budget {
    /// 50,000 units a second with bursts of 250,000 (ten requests at the default
    /// cost limit at once); 500 million a day; no bound on Neo4j time (it is
    /// measured as wall time in the store, which includes waiting for a pooled
    /// connection, so it is set per deployment, per agency).
    fn default() -> Self {
        Budget {
            cost_per_sec: 50_000,
            burst: 250_000,
            cost_per_day: 500_000_000,
            store_ms_per_sec: 0,
            store_ms_burst: 0,
        }
    }
}

/// The budgets of every agency and purpose, and the store share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    /// Every agency's budget, unless `agencies` names it.
    pub agency: Budget,
    /// Budgets of particular agencies.
    pub agencies: BTreeMap<String, Budget>,
    /// Budgets of particular purposes: each agency's use of the purpose is
    /// counted apart, on top of the agency's own budget.
    pub purposes: BTreeMap<String, Budget>,
    /// Graph-store queries one agency may run at once (0: no bound).
    pub store_share: usize,
    /// How long a query waits for its agency's share before it is refused.
    pub store_wait: Duration,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            agency: Budget::default(),
            agencies: BTreeMap::new(),
            purposes: BTreeMap::new(),
            store_share: 8,
            store_wait: Duration::from_secs(5),
        }
    }
}

/// The hub's budget state: buckets per agency and per (agency, purpose), created
/// when first used (their number is bounded by the responsibility lists).
pub(crate) struct Ledger {
    budgets: Budgets,
    agencies: Mutex<HashMap<String, Arc<Account>>>,
    purposes: Mutex<HashMap<(String, String), Arc<Buckets>>>,
}

/// One agency's buckets and store share.
struct Account {
    buckets: Buckets,
    share: Option<Arc<Semaphore>>,
    /// Its share of the store's time, in milliseconds, and the time one
    /// millisecond takes to earn back.
    time: Option<(DefaultDirectRateLimiter, Duration)>,
    /// The longest one query may keep the store busy: the whole burst of its
    /// time share (a query past it is stopped, in Neo4j too, and charged).
    longest: Option<Duration>,
    /// Until when it is refused for having spent more store time than its share.
    owes_until: Mutex<Option<std::time::Instant>>,
}

impl Account {
    /// The refusal of `agency` while it owes Neo4j time at `now`, if it does.
    fn owing(&self, agency: &str, now: std::time::Instant) -> Option<Throttled> {
        let owes = *self
            .owes_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let until = owes.filter(|u| *u > now)?;
        Some(Throttled {
            code: Code::RateLimited,
            message: format!(
                "agency {agency} has spent its share of the graph database's time; retry later"
            ),
            retry_after: until - now,
        })
    }
}

/// A rate bucket and a daily-quota bucket (either may be off), and the last
/// refusal: until its `Retry-After` has passed, every request is refused as it
/// was — before its document is read — so an agency that ignores `Retry-After`
/// costs next to nothing.
struct Buckets {
    rate: Option<DefaultDirectRateLimiter>,
    day: Option<DefaultDirectRateLimiter>,
    refused: Mutex<Option<(std::time::Instant, Throttled)>>,
}

impl Buckets {
    fn new(budget: Budget) -> Buckets {
        let rate = NonZeroU32::new(budget.cost_per_sec).map(|per_sec| {
            let burst = NonZeroU32::new(budget.burst.max(budget.cost_per_sec)).unwrap_or(per_sec);
            RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst))
        });
        let day = NonZeroU32::new(budget.cost_per_day).and_then(|per_day| {
            Quota::with_period(Duration::from_secs(86_400) / per_day.get())
                .map(|q| RateLimiter::direct(q.allow_burst(per_day)))
        });
        Buckets {
            rate,
            day,
            refused: Mutex::new(None),
        }
    }

    /// The earlier refusal whose `Retry-After` still runs at `now`, if any.
    fn held(&self, now: std::time::Instant) -> Option<Throttled> {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        let (until, why) = refused.as_ref()?;
        (*until > now).then(|| Throttled {
            retry_after: *until - now,
            ..why.clone()
        })
    }

    /// Takes `cost` from the rate bucket, then from the daily one; refused
    /// while an earlier refusal's `Retry-After` runs.
    fn charge(&self, cost: u64, whose: &str) -> Result<(), Throttled> {
        let now = std::time::Instant::now();
        if let Some(why) = self.held(now) {
            return Err(why);
        }
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = self.take(cost, whose);
        if let Err(why) = &taken {
            *refused = Some((now + why.retry_after, why.clone()));
        }
        taken
    }

    fn take(&self, cost: u64, whose: &str) -> Result<(), Throttled> {
        let Some(n) = NonZeroU32::new(u32::try_from(cost).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        if let Some(rate) = &self.rate {
            take(rate, n).map_err(|retry_after| Throttled {
                code: Code::RateLimited,
                message: format!(
                    "{whose} has spent its rate budget ({cost} units asked); retry later"
                ),
                retry_after,
            })?;
        }
        if let Some(day) = &self.day {
            take(day, n).map_err(|retry_after| Throttled {
                code: Code::QuotaExceeded,
                message: format!(
                    "{whose} has spent its daily quota ({cost} units asked); retry later"
                ),
                retry_after,
            })?;
        }
        Ok(())
    }
}

/// Takes `n` cells from `bucket`, or says how long until it could.
fn take(bucket: &DefaultDirectRateLimiter, n: NonZeroU32) -> Result<(), Duration> {
    match bucket.check_n(n) {
        Ok(Ok(())) => Ok(()),
        // The time until all `n` cells fit (governor accounts for `n`).
        Ok(Err(not_until)) => Err(not_until.wait_time_from(DefaultClock::default().now())),
        // More than the bucket ever holds: the limits are configured so that a
        // request within `limits.max_complexity` always fits; say when it refills.
        Err(_) => Err(Duration::from_secs(1)),
    }
}

impl Ledger {
    pub(crate) fn new(budgets: Budgets) -> Ledger {
        Ledger {
            budgets,
            agencies: Mutex::new(HashMap::new()),
            purposes: Mutex::new(HashMap::new()),
        }
    }

    /// Why `agency` (for `purpose`) is refused right now without looking at its
    /// request: an earlier refusal for spent budget whose `Retry-After` runs, or
    /// Neo4j time it owes. `None` when it may be heard.
    pub(crate) fn holding_back(&self, agency: &str, purpose: &str) -> Option<Throttled> {
        let now = std::time::Instant::now();
        let account = self
            .agencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(agency)
            .cloned();
        if let Some(why) =
            account.and_then(|a| a.owing(agency, now).or_else(|| a.buckets.held(now)))
        {
            return Some(why);
        }
        let purpose = self
            .purposes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(agency.to_string(), purpose.to_string()))
            .cloned();
        purpose.and_then(|b| b.held(now))
    }

    /// The meter of one request of `agency` for `purpose`.
    pub(crate) fn meter(&self, agency: &str, purpose: &str) -> Arc<dyn Meter> {
        let account = {
            let mut agencies = self.agencies.lock().unwrap_or_else(PoisonError::into_inner);
            agencies
                .entry(agency.to_string())
                .or_insert_with(|| {
                    let budget = self
                        .budgets
                        .agencies
                        .get(agency)
                        .copied()
                        .unwrap_or(self.budgets.agency);
                    let time = NonZeroU32::new(budget.store_ms_per_sec).map(|per_sec| {
                        let burst =
                            NonZeroU32::new(budget.store_ms_burst.max(budget.store_ms_per_sec))
                                .unwrap_or(per_sec);
                        let quota = Quota::per_second(per_sec).allow_burst(burst);
                        (RateLimiter::direct(quota), quota.replenish_interval())
                    });
                    let longest = (budget.store_ms_per_sec > 0).then(|| {
                        Duration::from_millis(u64::from(
                            budget.store_ms_burst.max(budget.store_ms_per_sec),
                        ))
                    });
                    Arc::new(Account {
                        buckets: Buckets::new(budget),
                        longest,
                        share: (self.budgets.store_share > 0)
                            .then(|| Arc::new(Semaphore::new(self.budgets.store_share))),
                        time,
                        owes_until: Mutex::new(None),
                    })
                })
                .clone()
        };
        let purpose_buckets = self.budgets.purposes.get(purpose).map(|budget| {
            self.purposes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((agency.to_string(), purpose.to_string()))
                .or_insert_with(|| Arc::new(Buckets::new(*budget)))
                .clone()
        });
        Arc::new(AskerMeter {
            agency: agency.to_string(),
            purpose: purpose.to_string(),
            account,
            purpose_buckets,
            wait: self.budgets.store_wait,
        })
    }
}

/// The meter of one request.
struct AskerMeter {
    agency: String,
    purpose: String,
    account: Arc<Account>,
    purpose_buckets: Option<Arc<Buckets>>,
    wait: Duration,
}

impl Meter for AskerMeter {
    fn charge(&self, cost: u64) -> Result<(), Throttled> {
        if let Some(why) = self.account.owing(&self.agency, std::time::Instant::now()) {
            return Err(why);
        }
        if let Some(purpose) = &self.purpose_buckets {
            purpose.charge(
                cost,
                &format!("agency {} for purpose {}", self.agency, self.purpose),
            )?;
        }
        self.account
            .buckets
            .charge(cost, &format!("agency {}", self.agency))
    }

    fn enter(&self) -> BoxFuture<'_, Result<StoreTicket, Throttled>> {
        Box::pin(async move {
            let longest = self.account.longest;
            let Some(share) = &self.account.share else {
                return Ok(StoreTicket::new(()).longest(longest));
            };
            match tokio::time::timeout(self.wait, share.clone().acquire_owned()).await {
                Ok(Ok(permit)) => Ok(StoreTicket::new(permit).longest(longest)),
                // Timed out (or closed, which the hub never does): the agency
                // already holds its whole share.
                _ => Err(Throttled {
                    code: Code::RateLimited,
                    message: format!(
                        "agency {} already runs as many queries as its share allows; retry later",
                        self.agency
                    ),
                    retry_after: Duration::from_secs(1),
                }),
            }
        })
    }

    fn spent(&self, store_time: Duration) {
        let Some((time, per_ms)) = &self.account.time else {
            return;
        };
        let ms = u32::try_from(store_time.as_millis().max(1)).unwrap_or(u32::MAX);
        let Some(n) = NonZeroU32::new(ms) else {
            return;
        };
        let owed = match time.check_n(n) {
            Ok(Ok(())) => return,
            Ok(Err(not_until)) => not_until.wait_time_from(DefaultClock::default().now()),
            // One query longer than the whole burst: owed until earned back.
            Err(_) => per_ms.saturating_mul(ms),
        };
        let mut owes = self
            .account
            .owes_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let until = std::time::Instant::now() + owed;
        if owes.is_none_or(|u| u < until) {
            *owes = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agency_that_kept_the_store_busy_is_refused_until_paid_back() {
        let l = ledger(Budget {
            store_ms_per_sec: 100,
            store_ms_burst: 200,
            ..Budget::default()
        });
        let a = l.meter("D-A", "p");
        assert_eq!(a.charge(1), Ok(()));
        a.spent(Duration::from_millis(150));
        assert_eq!(a.charge(1), Ok(()), "within the burst");
        a.spent(Duration::from_millis(150));
        let refused = a.charge(1).unwrap_err();
        assert_eq!(refused.code, Code::RateLimited);
        assert!(refused.retry_after_secs() >= 1, "{refused:?}");
        // Another agency is not held back.
        assert_eq!(l.meter("D-B", "p").charge(1), Ok(()));
    }

    fn ledger(budget: Budget) -> Ledger {
        Ledger::new(Budgets {
            agency: budget,
            store_share: 2,
            store_wait: Duration::from_millis(50),
            ..Budgets::default()
        })
    }

    #[test]
    fn a_spent_rate_budget_refuses_with_a_retry_time() {
        let l = ledger(Budget {
            cost_per_sec: 100,
            burst: 1_000,
            cost_per_day: 0,
            ..Budget::default()
        });
        let m = l.meter("D-A", "p");
        assert_eq!(m.charge(600), Ok(()));
        let refused = m.charge(600).unwrap_err();
        assert_eq!(refused.code, Code::RateLimited);
        // 200 units missing at 100 a second.
        assert!((2..=3).contains(&refused.retry_after_secs()), "{refused:?}");
        // Another agency has its own budget.
        assert_eq!(l.meter("D-B", "p").charge(600), Ok(()));
    }

    #[test]
    fn a_spent_daily_quota_refuses_for_hours() {
        let l = ledger(Budget {
            cost_per_sec: 0,
            burst: 0,
            cost_per_day: 1_000,
            ..Budget::default()
        });
        let m = l.meter("D-A", "p");
        assert_eq!(m.charge(1_000), Ok(()));
        let refused = m.charge(100).unwrap_err();
        assert_eq!(refused.code, Code::QuotaExceeded);
        assert!(refused.retry_after_secs() > 3_600, "{refused:?}");
    }

    #[test]
    fn a_purpose_budget_counts_apart_and_beside_the_agency() {
        let mut budgets = Budgets::default();
        budgets.purposes.insert(
            "bulk".to_string(),
            Budget {
                cost_per_sec: 10,
                burst: 100,
                cost_per_day: 0,
                ..Budget::default()
            },
        );
        let l = Ledger::new(budgets);
        assert_eq!(l.meter("D-A", "bulk").charge(100), Ok(()));
        assert_eq!(
            l.meter("D-A", "bulk").charge(100).unwrap_err().code,
            Code::RateLimited
        );
        assert_eq!(l.meter("D-A", "other").charge(100), Ok(()));
        assert_eq!(l.meter("D-B", "bulk").charge(100), Ok(()));
    }

    #[tokio::test]
    async fn an_agency_holds_at_most_its_share_of_the_store() {
        let l = ledger(Budget::default());
        let a = l.meter("D-A", "p");
        let t1 = a.enter().await.unwrap();
        let _t2 = a.enter().await.unwrap();
        assert_eq!(a.enter().await.err().unwrap().code, Code::RateLimited);
        // Others are not held back.
        let _b = l.meter("D-B", "p").enter().await.unwrap();
        drop(t1);
        assert!(a.enter().await.is_ok());
    }
}
