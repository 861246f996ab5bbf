//! The policy store in Neo4j: `PolicyVersion` nodes (number, publishedAt, the
//! version as JSON), one `PolicyHead`, and the officers' documents
//! (`PolicyDraft`, `SharingApplication`, `PolicyGrant`: id, rev, JSON body).
//! Labels come from [`Kind::label`], never from input; every value is a
//! parameter. A commit runs its writes in one transaction, each returning a
//! row only if it applied (a moved head or revision returns none: a conflict),
//! then awaits the audit seal, then commits.

use futures::future::BoxFuture;
use mandate_audit::AuditRecord;
use mandate_governance::api::AuditFilter;
use mandate_governance::store::{CommitError, Doc, GovStore, Head, Kind, Seal, Version, Write};
use mandate_resolvers::StoreError;
use serde_json::{json, Map, Value};

use crate::neo4j::Neo4jStore;

/// The constraints the store relies on.
const DDL: [&str; 5] = [
    "CREATE CONSTRAINT `policy_version_number_unique` IF NOT EXISTS FOR (v:`PolicyVersion`) REQUIRE v.`number` IS UNIQUE",
    "CREATE CONSTRAINT `policy_head_key_unique` IF NOT EXISTS FOR (h:`PolicyHead`) REQUIRE h.`key` IS UNIQUE",
    "CREATE CONSTRAINT `policy_draft_id_unique` IF NOT EXISTS FOR (d:`PolicyDraft`) REQUIRE d.`id` IS UNIQUE",
    "CREATE CONSTRAINT `sharing_application_id_unique` IF NOT EXISTS FOR (d:`SharingApplication`) REQUIRE d.`id` IS UNIQUE",
    "CREATE CONSTRAINT `policy_grant_id_unique` IF NOT EXISTS FOR (d:`PolicyGrant`) REQUIRE d.`id` IS UNIQUE",
];

const HEAD: &str = "MERGE (h:PolicyHead {key: 'head'})
ON CREATE SET h.version = 0, h.grants = 0, h.clockOffset = 0";

fn params(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

fn statement(write: &Write) -> Result<(String, Map<String, Value>), StoreError> {
    let text = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    Ok(match write {
        Write::Create { kind, id, body } => (
            format!(
                "CREATE (d:`{}` {{id: $id, rev: 1, body: $body}}) RETURN d.rev AS rev",
                kind.label()
            ),
            params(&[("id", json!(id)), ("body", json!(text(body)))]),
        ),
        Write::Update {
            kind,
            id,
            rev,
            body,
        } => (
            // The SET takes the node's write lock before the revision is compared.
            format!(
                "MATCH (d:`{}` {{id: $id}}) SET d.lockedAt = timestamp()
                 WITH d WHERE d.rev = $rev
                 SET d.rev = $rev + 1, d.body = $body RETURN d.rev AS rev",
                kind.label()
            ),
            params(&[
                ("id", json!(id)),
                ("rev", json!(rev)),
                ("body", json!(text(body))),
            ]),
        ),
        Write::Publish(version) => {
            let body = serde_json::to_string(version.as_ref())
                .map_err(|e| StoreError::Query(format!("version: {e}")))?;
            (
                format!(
                    "{HEAD}
                     SET h.lockedAt = timestamp()
                     WITH h WHERE h.version = $number - 1
                     CREATE (v:PolicyVersion {{number: $number, publishedAt: $at, body: $body}})
                     SET h.version = $number
                     RETURN v.number AS rev"
                ),
                params(&[
                    ("number", json!(version.number)),
                    ("at", json!(version.published_at)),
                    ("body", json!(body)),
                ]),
            )
        }
        Write::TouchGrants => (
            format!("{HEAD} SET h.grants = h.grants + 1 RETURN h.grants AS rev"),
            Map::new(),
        ),
        Write::SetClock(offset) => (
            format!("{HEAD} SET h.clockOffset = $offset RETURN h.clockOffset AS rev"),
            params(&[("offset", json!(offset))]),
        ),
    })
}

fn version_of(row: &Value) -> Option<Version> {
    serde_json::from_str(row["body"].as_str()?).ok()
}

impl GovStore for Neo4jStore {
    fn prepare(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            for s in DDL {
                self.execute(s, Map::new()).await?;
            }
            Ok(())
        })
    }

    fn head(&self) -> BoxFuture<'_, Result<Head, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "MATCH (h:PolicyHead {key: 'head'})
                     RETURN h.version AS version, h.grants AS grants, h.clockOffset AS offset",
                    Map::new(),
                )
                .await?;
            Ok(rows.first().map_or(Head::default(), |r| Head {
                version: r["version"].as_u64().unwrap_or(0),
                grants: r["grants"].as_u64().unwrap_or(0),
                clock_offset_secs: r["offset"].as_i64().unwrap_or(0),
            }))
        })
    }

    fn version(&self, number: u64) -> BoxFuture<'_, Result<Option<Version>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "MATCH (v:PolicyVersion {number: $number}) RETURN v.body AS body",
                    params(&[("number", json!(number))]),
                )
                .await?;
            Ok(rows.first().and_then(version_of))
        })
    }

    fn versions(&self) -> BoxFuture<'_, Result<Vec<Version>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "MATCH (v:PolicyVersion) RETURN v.body AS body ORDER BY v.number DESC",
                    Map::new(),
                )
                .await?;
            Ok(rows.iter().filter_map(version_of).collect())
        })
    }

    fn docs(&self, kind: Kind) -> BoxFuture<'_, Result<Vec<Doc>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    &format!(
                        "MATCH (d:`{}`) RETURN d.id AS id, d.rev AS rev, d.body AS body",
                        kind.label()
                    ),
                    Map::new(),
                )
                .await?;
            Ok(rows.iter().filter_map(doc_of).collect())
        })
    }

    fn doc<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Doc>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    &format!(
                        "MATCH (d:`{}` {{id: $id}}) RETURN d.id AS id, d.rev AS rev, d.body AS body",
                        kind.label()
                    ),
                    params(&[("id", json!(id))]),
                )
                .await?;
            Ok(rows.first().and_then(doc_of))
        })
    }

    fn commit<'a>(
        &'a self,
        writes: Vec<Write>,
        seal: Seal<'a>,
    ) -> BoxFuture<'a, Result<(), CommitError>> {
        Box::pin(async move {
            let statements = writes
                .iter()
                .map(statement)
                .collect::<Result<Vec<_>, _>>()?;
            match self.transact(statements, seal).await {
                Ok(()) => Ok(()),
                Err(crate::neo4j::TransactError::NoRow) => Err(CommitError::Conflict),
                Err(crate::neo4j::TransactError::Seal(why)) => Err(CommitError::Seal(why)),
                // A unique constraint (a version number or id taken meanwhile) is a conflict.
                Err(crate::neo4j::TransactError::Store(StoreError::Query(m)))
                    if m.contains("ConstraintValidation") || m.contains("already exists") =>
                {
                    Err(CommitError::Conflict)
                }
                Err(crate::neo4j::TransactError::Store(e)) => Err(CommitError::Store(e)),
            }
        })
    }
}

fn doc_of(row: &Value) -> Option<Doc> {
    Some(Doc {
        id: row["id"].as_str()?.to_string(),
        rev: row["rev"].as_u64()?,
        body: serde_json::from_str(row["body"].as_str()?).ok()?,
    })
}

/// Searches the audit log: records matching every given criterion, newest first.
///
/// # Errors
/// If Neo4j fails.
pub async fn audit_search(
    store: &Neo4jStore,
    f: &AuditFilter,
) -> Result<Vec<AuditRecord>, StoreError> {
    let rows = store
        .rows(
            "MATCH (a:AuditRecord)
             WHERE ($agency IS NULL OR a.agency = $agency)
               AND ($purpose IS NULL OR a.purpose = $purpose)
               AND ($case IS NULL OR a.caseNumber = $case)
               AND ($resident IS NULL OR $resident IN a.residents)
               AND ($from IS NULL OR a.time >= $from)
               AND ($to IS NULL OR a.time < $to)
             RETURN properties(a) AS a ORDER BY a.time DESC, a.seq DESC LIMIT $first",
            params(&[
                ("agency", json!(f.agency)),
                ("purpose", json!(f.purpose)),
                ("case", json!(f.case_number)),
                ("resident", json!(f.resident)),
                ("from", json!(f.from)),
                ("to", json!(f.to)),
                ("first", json!(f.first)),
            ]),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| serde_json::from_value(r["a"].clone()).ok())
        .collect())
}

/// Data reads (records of requests that answered data) per agency per day
/// since `since` (`YYYY-MM-DD`).
///
/// # Errors
/// If Neo4j fails.
pub async fn reads_per_day(
    store: &Neo4jStore,
    since: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = store
        .rows(
            "MATCH (a:AuditRecord)
             WHERE a.time >= $since AND a.action IS NULL
               AND a.decision IN ['allowed', 'masked', 'partial']
             RETURN a.agency AS agency, substring(a.time, 0, 10) AS day, count(*) AS reads
             ORDER BY day, agency",
            params(&[("since", json!(since))]),
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                r["agency"].as_str()?.to_string(),
                r["day"].as_str()?.to_string(),
                r["reads"].as_i64()?,
            ))
        })
        .collect())
}
