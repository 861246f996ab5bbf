//! The departmental subgraphs over HTTP: the [`Subgraphs`] port of
//! `mandate-resolvers`, speaking the Apollo Federation subgraph protocol.
//!
//! Each configured subgraph gets one `POST` per call with the `_entities`
//! document the resolvers built and the representations as its variable. The
//! hub authenticates with the subgraph's own credential (`token`, sent as
//! `Authorization: Bearer`) and forwards who asks in `x-mandate-agency`,
//! `x-mandate-officer`, `x-mandate-purpose`, `x-mandate-case` and
//! `x-mandate-request-id` (UTF-8, percent-encoded outside printable ASCII), so
//! the department's own system can log them; the caller's credential never
//! leaves the hub. A call that does not finish within `timeout` fails
//! (`SUBGRAPH_TIMEOUT`); an answer larger than `max_answer_bytes` is refused;
//! after `breaker_failures` failures in a row the circuit opens and calls fail
//! at once (`SUBGRAPH_UNAVAILABLE`) until `breaker_cooldown` has passed and a
//! trial call succeeds (the `failsafe` crate's state machine).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use failsafe::futures::CircuitBreaker as _;
use failsafe::{backoff, failure_policy, Config, StateMachine};
use futures::future::BoxFuture;
use mandate_resolvers::{EntitiesAnswer, EntitiesCall, Principal, SubgraphError, Subgraphs};
use mandate_schema::{Catalog, RemoteValue, ScalarKind};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::Value;

/// Bytes kept as they are in a forwarded header value: printable ASCII but `%`.
const HEADER_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// One configured subgraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphSettings {
    /// The name remote fields use (`@remote(subgraph:)`).
    pub name: String,
    /// Its GraphQL endpoint.
    pub url: String,
    /// The hub's credential there, sent as `Authorization: Bearer <token>`; empty: none.
    pub token: String,
    /// How long one call may take.
    pub timeout: Duration,
    /// Failures in a row that open the circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before a trial call.
    pub breaker_cooldown: Duration,
    /// The largest answer taken.
    pub max_answer_bytes: usize,
}

type Breaker = StateMachine<failure_policy::ConsecutiveFailures<backoff::Constant>, ()>;

/// Outcomes of a call, as `/metrics` names them.
const OUTCOMES: [&str; 5] = ["ok", "timeout", "unavailable", "failed", "circuit_open"];

fn outcome(result: &Result<EntitiesAnswer, SubgraphError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(SubgraphError::Timeout(_)) => 1,
        Err(SubgraphError::Unavailable(_) | SubgraphError::NotConfigured(_)) => 2,
        Err(SubgraphError::Failed(_)) => 3,
        Err(SubgraphError::CircuitOpen(_)) => 4,
    }
}

struct Remote {
    settings: SubgraphSettings,
    client: reqwest::Client,
    breaker: Breaker,
    /// Calls by outcome (`OUTCOMES`).
    calls: [std::sync::atomic::AtomicU64; 5],
}

/// What `/metrics` shows of one subgraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphStats {
    /// Its name.
    pub name: String,
    /// Calls by outcome: `ok`, `timeout`, `unavailable`, `failed`, `circuit_open`.
    pub calls: Vec<(&'static str, u64)>,
    /// Whether its circuit breaker refuses calls now.
    pub circuit_open: bool,
}

/// The configured subgraphs.
pub struct HttpSubgraphs {
    remotes: HashMap<String, Remote>,
}

impl std::fmt::Debug for HttpSubgraphs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSubgraphs")
            .field("subgraphs", &self.remotes.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A subgraph's answer, as the protocol has it.
#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(serde::Deserialize)]
struct Data {
    #[serde(rename = "_entities", default)]
    entities: Option<Vec<Value>>,
}

#[derive(serde::Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    path: Vec<Value>,
}

impl HttpSubgraphs {
    /// Clients for `settings`.
    ///
    /// # Errors
    /// A message naming the subgraph whose URL or token is unusable.
    pub fn new(settings: Vec<SubgraphSettings>) -> Result<HttpSubgraphs, String> {
        let mut remotes = HashMap::new();
        for s in settings {
            let url = reqwest::Url::parse(&s.url)
                .map_err(|e| format!("subgraph `{}`: url `{}`: {e}", s.name, s.url))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("subgraph `{}`: url must be http or https", s.name));
            }
            if !s.token.is_empty()
                && reqwest::header::HeaderValue::from_str(&format!("Bearer {}", s.token)).is_err()
            {
                return Err(format!(
                    "subgraph `{}`: the token is not a valid header value",
                    s.name
                ));
            }
            let client = reqwest::Client::builder()
                .timeout(s.timeout)
                .connect_timeout(s.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("subgraph `{}`: {e}", s.name))?;
            let breaker = Config::new()
                .failure_policy(failure_policy::consecutive_failures(
                    s.breaker_failures.max(1),
                    backoff::constant(s.breaker_cooldown),
                ))
                .build();
            remotes.insert(
                s.name.clone(),
                Remote {
                    settings: s,
                    client,
                    breaker,
                    calls: Default::default(),
                },
            );
        }
        Ok(HttpSubgraphs { remotes })
    }

    /// The configured subgraphs' names.
    pub fn names(&self) -> BTreeSet<&str> {
        self.remotes.keys().map(String::as_str).collect()
    }

    /// Per subgraph, sorted by name: its calls by outcome and whether its
    /// circuit is open now.
    pub fn stats(&self) -> Vec<SubgraphStats> {
        let mut out: Vec<_> = self
            .remotes
            .iter()
            .map(|(name, r)| SubgraphStats {
                name: name.clone(),
                calls: OUTCOMES
                    .iter()
                    .zip(&r.calls)
                    .map(|(o, n)| (*o, n.load(std::sync::atomic::Ordering::Relaxed)))
                    .collect(),
                circuit_open: !r.breaker.is_call_permitted(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Asks each subgraph for its SDL (`_service { sdl }`) and compares it with
    /// the remote fields the catalog gives it: per subgraph, the problems found
    /// (empty: it serves every field as the catalog declares it). Subgraphs
    /// the catalog names but the configuration does not are reported too.
    pub async fn check(&self, catalog: &Catalog) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for name in catalog.subgraphs() {
            let problems = match self.remotes.get(name) {
                None => vec!["not configured: its fields answer SUBGRAPH_UNAVAILABLE".to_string()],
                Some(remote) => match remote.sdl().await {
                    Ok(sdl) => compare(catalog, name, &sdl),
                    Err(e) => vec![format!("`_service {{ sdl }}` failed: {e}")],
                },
            };
            out.insert(name.to_string(), problems);
        }
        out
    }
}

impl Remote {
    async fn post(
        &self,
        body: &Value,
        principal: Option<&Principal>,
    ) -> Result<Vec<u8>, SubgraphError> {
        let name = &self.settings.name;
        let mut request = self
            .client
            .post(&self.settings.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/graphql-response+json, application/json",
            )
            .json(body);
        if !self.settings.token.is_empty() {
            request = request.bearer_auth(&self.settings.token);
        }
        if let Some(p) = principal {
            for (header, value) in [
                ("x-mandate-agency", &p.agency),
                ("x-mandate-officer", &p.officer),
                ("x-mandate-purpose", &p.purpose),
                ("x-mandate-case", &p.case),
                ("x-mandate-request-id", &p.request_id),
            ] {
                let value = utf8_percent_encode(value, HEADER_ESCAPES).to_string();
                request = request.header(header, value);
            }
        }
        let mut response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                SubgraphError::Timeout(name.clone())
            } else {
                tracing::warn!(subgraph = %name, error = %e, "subgraph unreachable");
                SubgraphError::Unavailable(name.clone())
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(subgraph = %name, status = status.as_u16(), "subgraph refused the call");
            return Err(SubgraphError::Unavailable(name.clone()));
        }
        let limit = self.settings.max_answer_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(self.too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(self.too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(SubgraphError::Timeout(name.clone())),
                Err(e) => {
                    tracing::warn!(subgraph = %name, error = %e, "subgraph answer cut off");
                    return Err(SubgraphError::Unavailable(name.clone()));
                }
            }
        }
        Ok(body)
    }

    fn too_large(&self) -> SubgraphError {
        tracing::warn!(
            subgraph = %self.settings.name,
            limit = self.settings.max_answer_bytes,
            "subgraph answer too large"
        );
        SubgraphError::Failed(self.settings.name.clone())
    }

    async fn entities(&self, call: EntitiesCall) -> Result<EntitiesAnswer, SubgraphError> {
        let name = &self.settings.name;
        let asked = call.representations.len();
        let body = serde_json::json!({
            "query": call.query,
            "variables": {"representations": call.representations},
        });
        let bytes = self.post(&body, call.principal.as_ref()).await?;
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(subgraph = %name, error = %e, "subgraph answer is not GraphQL JSON");
            SubgraphError::Failed(name.clone())
        })?;
        let Some(entities) = answer.data.and_then(|d| d.entities) else {
            let messages: Vec<&str> = answer.errors.iter().map(|e| e.message.as_str()).collect();
            tracing::warn!(subgraph = %name, errors = ?messages, "subgraph answered no _entities");
            return Err(SubgraphError::Failed(name.clone()));
        };
        if entities.len() != asked {
            tracing::warn!(subgraph = %name, asked, answered = entities.len(), "subgraph answered another number of entities");
            return Err(SubgraphError::Failed(name.clone()));
        }
        let mut failed = BTreeSet::new();
        for e in &answer.errors {
            match (
                e.path.first().and_then(Value::as_str),
                e.path.get(1).and_then(Value::as_u64),
            ) {
                (Some("_entities"), Some(i)) => {
                    failed.insert(usize::try_from(i).unwrap_or(usize::MAX));
                }
                _ => {
                    tracing::warn!(subgraph = %name, error = %e.message, "subgraph error without an entity path");
                }
            }
        }
        Ok(EntitiesAnswer { entities, failed })
    }

    async fn sdl(&self) -> Result<String, SubgraphError> {
        let name = &self.settings.name;
        let body = serde_json::json!({"query": "{ _service { sdl } }"});
        let bytes = self.post(&body, None).await?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| SubgraphError::Failed(name.clone()))?;
        value
            .pointer("/data/_service/sdl")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| SubgraphError::Failed(name.clone()))
    }
}

impl Subgraphs for HttpSubgraphs {
    fn entities<'a>(
        &'a self,
        subgraph: &'a str,
        call: EntitiesCall,
    ) -> BoxFuture<'a, Result<EntitiesAnswer, SubgraphError>> {
        Box::pin(async move {
            let Some(remote) = self.remotes.get(subgraph) else {
                return Err(SubgraphError::NotConfigured(subgraph.to_string()));
            };
            let started = Instant::now();
            let representations = call.representations.len();
            let result = match remote.breaker.call(remote.entities(call)).await {
                Ok(answer) => Ok(answer),
                Err(failsafe::Error::Inner(e)) => Err(e),
                Err(failsafe::Error::Rejected) => {
                    Err(SubgraphError::CircuitOpen(subgraph.to_string()))
                }
            };
            let o = outcome(&result);
            remote.calls[o].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(
                subgraph,
                representations,
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                outcome = OUTCOMES[o],
                "subgraph _entities"
            );
            result
        })
    }
}

/// What a subgraph's SDL does not serve of the remote fields the catalog gives it.
fn compare(catalog: &Catalog, subgraph: &str, sdl: &str) -> Vec<String> {
    use async_graphql_parser::types::{BaseType, TypeKind, TypeSystemDefinition};
    let doc = match async_graphql_parser::parse_schema(sdl) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("its SDL does not parse: {e}")],
    };
    // Fields of every object type, extensions included: name → (base type, list).
    let mut objects: HashMap<String, HashMap<String, (String, bool)>> = HashMap::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let TypeKind::Object(obj) = &t.node.kind else {
            continue;
        };
        let fields = objects.entry(t.node.name.node.to_string()).or_default();
        for f in &obj.fields {
            let (base, list) = match &f.node.ty.node.base {
                BaseType::Named(n) => (n.to_string(), false),
                BaseType::List(inner) => (inner.base.to_string(), true),
            };
            fields.insert(f.node.name.node.to_string(), (base, list));
        }
    }
    let scalar_name = |k: &ScalarKind| match k {
        ScalarKind::Id => "ID".to_string(),
        ScalarKind::String => "String".to_string(),
        ScalarKind::Int => "Int".to_string(),
        ScalarKind::Boolean => "Boolean".to_string(),
        ScalarKind::Date => "Date".to_string(),
        ScalarKind::Enum(e) => e.clone(),
    };
    let mut problems = Vec::new();
    for t in &catalog.types {
        for r in t.remotes.iter().filter(|r| r.subgraph == subgraph) {
            let here = format!("{}.{}", t.name, r.name);
            let Some((base, list)) = objects.get(&t.name).and_then(|o| o.get(&r.name)) else {
                problems.push(format!("{here}: not in its SDL"));
                continue;
            };
            let want = match &r.value {
                RemoteValue::Scalar(k) => scalar_name(k),
                RemoteValue::Object(v) => v.clone(),
            };
            if *base != want || *list != r.list {
                problems.push(format!(
                    "{here}: the catalog says {}{want}{}, the subgraph {}{base}{}",
                    if r.list { "[" } else { "" },
                    if r.list { "]" } else { "" },
                    if *list { "[" } else { "" },
                    if *list { "]" } else { "" },
                ));
                continue;
            }
            if let (RemoteValue::Object(v), Some(vt)) = (&r.value, catalog.value_type(&want)) {
                for f in &vt.fields {
                    let theirs = objects.get(v).and_then(|o| o.get(&f.name));
                    if theirs.map(|(b, l)| (b.as_str(), *l)) != Some((&scalar_name(&f.kind), false))
                    {
                        problems.push(format!("{v}.{}: missing or of another type", f.name));
                    }
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sdl_is_compared_with_the_catalog() {
        let catalog = mandate_schema::hub_catalog().unwrap();
        let good = r#"
            extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
            scalar Date
            type Resident @key(fields: "id") { id: ID! vaccinations: [Vaccination!] familyDoctor: String }
            type Vaccination { vaccine: String! dose: Int! date: Date! clinic: String! }
        "#;
        assert_eq!(compare(&catalog, "health", good), Vec::<String>::new());
        let bad = r#"
            type Resident @key(fields: "id") { id: ID! vaccinations: Vaccination }
            type Vaccination { vaccine: String! dose: String! date: Date! clinic: String! }
        "#;
        let problems = compare(&catalog, "health", bad);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("Resident.vaccinations: the catalog says [Vaccination]"));
        assert!(problems[1].starts_with("Resident.familyDoctor: not in its SDL"));
    }
}
