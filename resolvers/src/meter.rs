//! The port through which the hub meters a request's work: its measured cost is
//! charged to the asker's budgets before anything runs, and every query to the
//! graph store waits for a share of the store's connections set aside for the
//! asker's agency. A request carries its meter as request data
//! (`Arc<dyn Meter>`); without one, nothing is metered (the unrestricted
//! development schema, tests).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::errors::{Code, HubError};

/// Budgets and a share of the graph store for one asker.
pub trait Meter: Send + Sync {
    /// Charges `cost` units; refused when a budget is spent.
    ///
    /// # Errors
    /// [`Throttled`], to answer with `429` and `Retry-After`.
    fn charge(&self, cost: u64) -> Result<(), Throttled>;

    /// Waits for one of the store connections the asker's agency may hold; the
    /// ticket gives it back when dropped.
    ///
    /// # Errors
    /// [`Throttled`] when none frees up in time.
    fn enter(&self) -> BoxFuture<'_, Result<StoreTicket, Throttled>>;

    /// Reports the time one query of the asker kept the graph store busy (the
    /// work the cost estimate could not see), charged to the agency's share of
    /// the store's time: an agency whose queries are costly in practice is
    /// refused until it is paid back.
    fn spent(&self, store_time: Duration);
}

/// A refusal for spent budget: the code (`RATE_LIMITED`, `QUOTA_EXCEEDED`), a
/// message, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// The code sent.
    pub code: Code,
    /// The client-facing message.
    pub message: String,
    /// When the budget allows the request again (`Retry-After`, whole seconds,
    /// at least 1).
    pub retry_after: Duration,
}

impl Throttled {
    /// Seconds for `Retry-After`, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let secs = if self.retry_after.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs
        };
        secs.max(1)
    }

    /// As an async-graphql error with `extensions.code` and `extensions.retryAfter`.
    pub(crate) fn into_server_error(self) -> async_graphql::ServerError {
        let secs = self.retry_after_secs();
        let mut e = async_graphql::ServerError::new(self.message, None);
        let ext = e.extensions.get_or_insert_with(Default::default);
        ext.set("code", self.code.as_str());
        ext.set("retryAfter", secs);
        e
    }

    /// As a resolver error (a path's store query refused).
    pub(crate) fn into_graphql(self) -> async_graphql::Error {
        let secs = self.retry_after_secs();
        let code = self.code.as_str();
        use async_graphql::ErrorExtensions as _;
        async_graphql::Error::new(self.message).extend_with(|_, ext| {
            ext.set("code", code);
            ext.set("retryAfter", secs);
        })
    }
}

impl From<Throttled> for HubError {
    fn from(t: Throttled) -> Self {
        HubError::new(t.code, t.message)
    }
}

/// A share of the graph store held while one query runs; released when dropped.
pub struct StoreTicket {
    _guard: Box<dyn Send + Sync>,
    longest: Option<std::time::Duration>,
}

impl StoreTicket {
    /// A ticket holding `guard` (e.g. a semaphore permit) until dropped.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        StoreTicket {
            _guard: Box::new(guard),
            longest: None,
        }
    }

    /// The longest the query may keep the store busy (`None`: the store's own
    /// deadline only); past it the query is stopped.
    #[must_use]
    pub fn longest(mut self, longest: Option<std::time::Duration>) -> Self {
        self.longest = longest;
        self
    }

    /// See [`StoreTicket::longest`].
    pub fn longest_run(&self) -> Option<std::time::Duration> {
        self.longest
    }
}
