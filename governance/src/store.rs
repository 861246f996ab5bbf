//! The port the policy officers' records are kept through, and the records.
//!
//! Published versions of the responsibility lists are immutable and numbered
//! from 1; the head says which is in force, how often grants changed, and the
//! test clock's offset. Drafts, sharing applications and grants are documents
//! with a revision: every update names the revision it read, so two officers
//! acting on one record at once cannot silently overwrite each other.
//! [`GovStore::commit`] applies a set of writes in one transaction and seals it
//! with the audit record before committing: no record, no change.

use futures::future::BoxFuture;
use mandate_resolvers::StoreError;
use serde::{Deserialize, Serialize};

/// The kinds of documents kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A proposed change of one list ([`crate::Draft`]).
    Draft,
    /// A sharing application (共享申请).
    Application,
    /// A time-boxed grant: an approved application or a break-glass grant.
    Grant,
}

impl Kind {
    /// The Neo4j label the documents carry (fixed here, never from input).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Draft => "PolicyDraft",
            Kind::Application => "SharingApplication",
            Kind::Grant => "PolicyGrant",
        }
    }
}

/// A stored document: its id, revision and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// The id.
    pub id: String,
    /// The revision, from 1; each update adds one.
    pub rev: u64,
    /// The body.
    pub body: serde_json::Value,
}

/// The head of the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Head {
    /// The version in force; 0 when nothing was published yet.
    pub version: u64,
    /// Bumped whenever a grant is created or changed.
    pub grants: u64,
    /// Seconds added to the wall clock by the test clock (0 outside tests).
    pub clock_offset_secs: i64,
}

/// One list file of a version, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFile {
    /// The file name (`civil-affairs.csv`).
    pub name: String,
    /// Its text.
    pub text: String,
}

/// A published version of the responsibility lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// Its number, from 1.
    pub number: u64,
    /// When it was published (RFC 3339 UTC).
    pub published_at: String,
    /// Who wrote the change.
    pub author: String,
    /// Who approved it (never the author, except `system:` bootstrap imports
    /// and rollbacks, one approver's emergency republication).
    pub approver: String,
    /// Why.
    pub reason: String,
    /// On which legal basis.
    pub basis: String,
    /// The draft it published, if any.
    #[serde(default)]
    pub draft_id: Option<String>,
    /// The version it restored, for a rollback.
    #[serde(default)]
    pub rollback_of: Option<u64>,
    /// Every list, by file name in order.
    pub files: Vec<ListFile>,
}

/// One write of a [`GovStore::commit`].
#[derive(Debug, Clone)]
pub enum Write {
    /// Creates a document; fails if the id exists.
    Create {
        /// The kind.
        kind: Kind,
        /// The id.
        id: String,
        /// The body.
        body: serde_json::Value,
    },
    /// Replaces a document's body if it is still at `rev`.
    Update {
        /// The kind.
        kind: Kind,
        /// The id.
        id: String,
        /// The revision read.
        rev: u64,
        /// The new body.
        body: serde_json::Value,
    },
    /// Publishes `version` if the head is at `version.number - 1`, and puts it in force.
    Publish(Box<Version>),
    /// Marks grants changed (instances reload them).
    TouchGrants,
    /// Sets the test clock's offset.
    SetClock(i64),
}

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// A document or the head moved since it was read; nothing was written.
    #[error("changed by someone else since it was read")]
    Conflict,
    /// The audit record could not be written; nothing was written.
    #[error("audit record not written: {0}")]
    Seal(String),
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The audit step of a commit: runs after the writes, before the commit.
pub type Seal<'a> = BoxFuture<'a, Result<(), String>>;

/// Where policy versions and officers' records are kept.
pub trait GovStore: Send + Sync + 'static {
    /// Creates constraints the store relies on (idempotent).
    fn prepare(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// The head.
    fn head(&self) -> BoxFuture<'_, Result<Head, StoreError>>;

    /// A published version by number.
    fn version(&self, number: u64) -> BoxFuture<'_, Result<Option<Version>, StoreError>>;

    /// Every published version, newest first.
    fn versions(&self) -> BoxFuture<'_, Result<Vec<Version>, StoreError>>;

    /// Every document of a kind.
    fn docs(&self, kind: Kind) -> BoxFuture<'_, Result<Vec<Doc>, StoreError>>;

    /// One document.
    fn doc<'a>(&'a self, kind: Kind, id: &'a str)
        -> BoxFuture<'a, Result<Option<Doc>, StoreError>>;

    /// Applies `writes` in one transaction, runs `seal` (the audit record), and
    /// commits only if every write applied and the seal succeeded.
    fn commit<'a>(
        &'a self,
        writes: Vec<Write>,
        seal: Seal<'a>,
    ) -> BoxFuture<'a, Result<(), CommitError>>;
}
