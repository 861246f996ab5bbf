//! Typed configuration: defaults, then an optional TOML file, then environment.
//!
//! Environment overrides use the `MANDATE__SECTION__KEY` form (for example
//! `MANDATE__SERVER__LISTEN=127.0.0.1:9000`); the conventional `NEO4J_URI`,
//! `NEO4J_USER`, `NEO4J_PASSWORD` and `NEO4J_DATABASE` are honoured as well.
//! Unknown keys are errors, reported with their path.

use std::path::Path;

use serde::Deserialize;

/// The whole configuration. See README.md, "Configuration reference".
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP server.
    pub server: ServerConfig,
    /// Neo4j connection.
    pub neo4j: Neo4jConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// Pagination cursors.
    pub cursors: CursorConfig,
    /// Logging.
    pub log: LogConfig,
    /// Authentication of departmental systems.
    pub auth: crate::auth::AuthConfig,
    /// Responsibility lists.
    pub policies: PoliciesConfig,
    /// The audit log.
    pub audit: AuditConfig,
    /// What each agency and purpose may spend, in cost units.
    pub budgets: BudgetsConfig,
    /// Persisted and trusted documents.
    pub documents: crate::documents::DocumentsConfig,
    /// The policy officers' admin API and console.
    pub admin: AdminConfig,
    /// Departmental subgraphs serving remote fields, by the name the catalog's
    /// `@remote(subgraph:)` gives them.
    pub subgraphs: std::collections::BTreeMap<String, SubgraphConfig>,
}

/// One departmental subgraph (Apollo Federation subgraph protocol).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SubgraphConfig {
    /// Its GraphQL endpoint (`http://` or `https://`).
    pub url: String,
    /// The hub's own credential there, sent as `Authorization: Bearer`; empty: none.
    /// Never the caller's: who asks is forwarded in `x-mandate-*` headers.
    pub token: String,
    /// Milliseconds one call may take; past it the fields it serves are null
    /// with `SUBGRAPH_TIMEOUT` and the rest of the answer goes out.
    pub timeout_ms: u64,
    /// Failures in a row after which calls stop (circuit open) for `breaker_cooldown_ms`.
    pub breaker_failures: u32,
    /// Milliseconds an open circuit refuses calls before one trial call.
    pub breaker_cooldown_ms: u64,
    /// The largest answer taken, in KiB.
    pub max_answer_kb: usize,
}

impl Default for SubgraphConfig {
    fn default() -> Self {
        SubgraphConfig {
            url: String::new(),
            token: String::new(),
            timeout_ms: 2_000,
            breaker_failures: 5,
            breaker_cooldown_ms: 10_000,
            max_answer_kb: 8_192,
        }
    }
}

impl Config {
    /// The subgraph settings the connector takes.
    pub fn subgraph_settings(&self) -> Vec<mandate_connectors::SubgraphSettings> {
        self.subgraphs
            .iter()
            .map(|(name, s)| mandate_connectors::SubgraphSettings {
                name: name.clone(),
                url: s.url.clone(),
                token: s.token.clone(),
                timeout: std::time::Duration::from_millis(s.timeout_ms.max(1)),
                breaker_failures: s.breaker_failures,
                breaker_cooldown: std::time::Duration::from_millis(s.breaker_cooldown_ms),
                max_answer_bytes: s.max_answer_kb.saturating_mul(1024),
            })
            .collect()
    }
}

/// The policy officers' admin API (`/admin/graphql`) and console (`/console`),
/// served when `policies.source = "store"`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Hours the city's local time is ahead of UTC (deadlines end at local midnight).
    pub utc_offset_hours: i32,
    /// Public holidays (`YYYY-MM-DD`): not working days.
    pub holidays: Vec<String>,
    /// Make-up working days (调休, `YYYY-MM-DD`): working days although on a weekend.
    pub workdays: Vec<String>,
    /// Working days a steward has to acknowledge a sharing application.
    pub acknowledge_days: u32,
    /// Working days a steward has to answer it.
    pub answer_days: u32,
    /// The longest break-glass grant, in hours (at most 72).
    pub break_glass_max_hours: u32,
    /// Minutes a console session lasts.
    pub session_minutes: u32,
    /// Secret the console's session cookies are sealed with; shared by every
    /// instance behind one address. Empty: a random one per process (sessions
    /// then end when the process does).
    pub session_secret: String,
    /// Lets a platform admin move the hub's clock (`setClock`) to test expiries.
    /// Never in production.
    pub test_clock: bool,
    /// Marks the console's session cookie `Secure` (sent over HTTPS only).
    /// Unset: on, unless `server.listen` is a loopback address (a hub for one
    /// machine, served over plain HTTP); behind a TLS-terminating balancer set
    /// nothing or `true`.
    pub secure_cookie: Option<bool>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            utc_offset_hours: 8,
            holidays: Vec::new(),
            workdays: Vec::new(),
            acknowledge_days: 2,
            answer_days: 5,
            break_glass_max_hours: 72,
            session_minutes: 30,
            session_secret: String::new(),
            test_clock: false,
            secure_cookie: None,
        }
    }
}

/// What each agency and purpose may spend, in the cost units `limits.max_complexity`
/// is counted in, and one agency's share of the Neo4j connections. 0 turns a bound off.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetsConfig {
    /// Cost units an agency may spend a second, sustained.
    pub cost_per_sec: u32,
    /// Cost units an agency may spend at once; at least `limits.max_complexity`.
    pub burst: u32,
    /// Cost units an agency may spend in any 24 hours.
    pub cost_per_day: u32,
    /// Milliseconds of Neo4j time an agency's queries may take a second, sustained
    /// (measured after each query; the agency is refused until paid back).
    pub store_ms_per_sec: u32,
    /// Milliseconds of Neo4j time an agency's queries may take at once; also
    /// the longest one of its queries may run (stopped past it).
    pub store_ms_burst: u32,
    /// Neo4j queries one agency may run at once (off when not below `neo4j.max_connections`).
    pub store_share: usize,
    /// Milliseconds a query waits for its agency's share before `RATE_LIMITED`.
    pub store_wait_ms: u64,
    /// Milliseconds the refusal of an agency held back for spent budget is held
    /// before it goes out (at most its `Retry-After`): a client that ignores
    /// `Retry-After` then asks a few times a second instead of thousands, and
    /// the hub's CPU stays with the others. 0: answered at once.
    pub tarpit_ms: u64,
    /// Refusals held at once at most; past it they go out at once.
    pub tarpit_max: usize,
    /// Budgets of particular agencies, by agency id.
    pub agencies: std::collections::BTreeMap<String, BudgetConfig>,
    /// Budgets of particular purposes, counted per agency beside the agency's own.
    pub purposes: std::collections::BTreeMap<String, BudgetConfig>,
}

/// One agency's or purpose's budget.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Cost units a second, sustained.
    pub cost_per_sec: u32,
    /// Cost units at once.
    pub burst: u32,
    /// Cost units in any 24 hours.
    #[serde(default)]
    pub cost_per_day: u32,
    /// Milliseconds of Neo4j time a second (agencies only; default: `budgets.store_ms_per_sec`).
    #[serde(default)]
    pub store_ms_per_sec: Option<u32>,
    /// Milliseconds of Neo4j time at once, and the longest one query may run
    /// (default: `budgets.store_ms_burst`).
    #[serde(default)]
    pub store_ms_burst: Option<u32>,
}

impl Default for BudgetsConfig {
    fn default() -> Self {
        let b = mandate_hub::Budgets::default();
        BudgetsConfig {
            cost_per_sec: b.agency.cost_per_sec,
            burst: b.agency.burst,
            cost_per_day: b.agency.cost_per_day,
            store_ms_per_sec: b.agency.store_ms_per_sec,
            store_ms_burst: b.agency.store_ms_burst,
            store_share: b.store_share,
            store_wait_ms: u64::try_from(b.store_wait.as_millis()).unwrap_or(u64::MAX),
            tarpit_ms: 1_000,
            tarpit_max: 1_024,
            agencies: std::collections::BTreeMap::new(),
            purposes: std::collections::BTreeMap::new(),
        }
    }
}

impl BudgetsConfig {
    /// As the hub takes them, for a Neo4j pool of `max_connections`: a share as
    /// large as the pool bounds nothing the pool does not, so it is off.
    pub fn budgets(&self, max_connections: usize) -> mandate_hub::Budgets {
        let budget = |b: &BudgetConfig| mandate_hub::Budget {
            cost_per_sec: b.cost_per_sec,
            burst: b.burst,
            cost_per_day: b.cost_per_day,
            store_ms_per_sec: b.store_ms_per_sec.unwrap_or(self.store_ms_per_sec),
            store_ms_burst: b.store_ms_burst.unwrap_or(self.store_ms_burst),
        };
        mandate_hub::Budgets {
            agency: mandate_hub::Budget {
                cost_per_sec: self.cost_per_sec,
                burst: self.burst,
                cost_per_day: self.cost_per_day,
                store_ms_per_sec: self.store_ms_per_sec,
                store_ms_burst: self.store_ms_burst,
            },
            agencies: self
                .agencies
                .iter()
                .map(|(k, v)| (k.clone(), budget(v)))
                .collect(),
            purposes: self
                .purposes
                .iter()
                .map(|(k, v)| (k.clone(), budget(v)))
                .collect(),
            store_share: if self.store_share >= max_connections {
                0
            } else {
                self.store_share
            },
            store_wait: std::time::Duration::from_millis(self.store_wait_ms),
        }
    }
}

/// The audit log.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Name of this instance's hash chain; give each hub replica its own.
    pub chain: String,
    /// Milliseconds a request waits for its audit record to be written before the
    /// data is withheld (`AUDIT_UNAVAILABLE`).
    pub timeout_ms: u64,
    /// Bolt URI of the Neo4j holding the audit log; empty = the data Neo4j.
    /// Same user and password.
    pub neo4j_uri: String,
    /// A local journal file through which records reach Neo4j: a request's
    /// record is durable once synced there, and shipped behind it. Empty = each
    /// record is committed to Neo4j before the data is released. One file per
    /// hub instance and chain.
    pub journal: String,
    /// Journaled records not yet in Neo4j beyond which requests are refused
    /// (`AUDIT_UNAVAILABLE`) until Neo4j takes them again.
    pub journal_max_backlog: usize,
    /// MiB past which the journal is rewritten to hold only the records not
    /// yet in Neo4j.
    pub journal_max_mb: u64,
    /// Least milliseconds between two shipments of journaled records to Neo4j
    /// (fewer, larger commits); access receipts may wait up to this long.
    pub journal_ship_ms: u64,
    /// Refusals of unauthenticated (or undecodable) requests recorded a second at
    /// most; the rest are counted (`/metrics`) and the next record says how many
    /// it follows, so anonymous traffic cannot grow the log without bound.
    pub anonymous_refusals_per_sec: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            chain: "hub-1".to_string(),
            timeout_ms: 5_000,
            neo4j_uri: String::new(),
            journal: String::new(),
            journal_max_backlog: 100_000,
            journal_max_mb: 64,
            journal_ship_ms: 250,
            anonymous_refusals_per_sec: 50,
        }
    }
}

/// Where the responsibility lists live.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PoliciesConfig {
    /// Folder holding `model.conf` and `lists/*.csv`.
    pub dir: String,
    /// Seconds a compiled plan is reused (its jurisdiction is checked more often:
    /// `jurisdiction_ttl_secs`).
    pub plan_ttl_secs: u64,
    /// Seconds an agency's jurisdiction (what its Department node SERVES) read
    /// from Neo4j is trusted; a change in the graph reaches every instance's
    /// plans within this bound. 0 = read for every request.
    pub jurisdiction_ttl_secs: u64,
    /// Before each request, check whether the lists were saved since they were
    /// read (a few `stat` calls), and if so put them in force first: a saved
    /// revocation applies from the next request on. Off: only the interval
    /// reload (`reload_secs`) and SIGHUP apply changes.
    pub check_per_request: bool,
    /// Seconds between reloads of `dir` besides the per-request check (a
    /// backstop for saves the check cannot see, e.g. on file systems with coarse
    /// times); a change that loads is put in force at once (cached plans of the
    /// old version are dropped), one that does not is logged and the lists in
    /// force stay. 0 = only on SIGHUP.
    pub reload_secs: u64,
    /// Fixes "today" (`YYYY-MM-DD`) for age-based scopes; empty = the real date
    /// (UTC+8). For tests and reproducible demos only.
    pub today: String,
    /// Where the lists in force come from: `files` (the folder `dir`, edited
    /// on the server) or `store` (versions in Neo4j, changed by policy officers
    /// through `/admin/graphql` and `/console`; on first start the folder is
    /// imported as version 1).
    pub source: PolicySource,
    /// With `source = "store"`: milliseconds between checks of the store's head;
    /// a published version, rollback or grant is in force on this instance
    /// within this bound (plus the time to compile it).
    pub store_poll_ms: u64,
}

/// Where the lists in force come from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PolicySource {
    /// The folder `policies.dir`.
    #[default]
    Files,
    /// The policy store in Neo4j.
    Store,
}

impl Default for PoliciesConfig {
    fn default() -> Self {
        PoliciesConfig {
            dir: "policies".to_string(),
            plan_ttl_secs: 300,
            jurisdiction_ttl_secs: 10,
            check_per_request: true,
            reload_secs: 5,
            today: String::new(),
            source: PolicySource::Files,
            store_poll_ms: 200,
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; loopback by default.
    pub listen: String,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Serve GraphiQL at `/graphiql`.
    pub graphiql: bool,
    /// Bearer token a scraper must send to read `/metrics`. Empty: `/metrics`
    /// answers only connections from loopback (a scraper beside the hub).
    pub metrics_token: String,
    /// Browser origins allowed to call `/graphql` (CORS), e.g.
    /// `https://case.civil.example.gov.cn`. Empty: CORS is off.
    pub cors_allow_origins: Vec<String>,
    /// Request headers a browser application may send (answered in preflight).
    pub cors_allow_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer.
    pub cors_max_age_secs: u32,
    /// Connections open at once; past it a new one is closed as accepted.
    /// Keep it below the process's file limit (`ulimit -n`).
    pub max_connections: usize,
    /// Connections one remote address may hold at once.
    pub max_connections_per_ip: usize,
    /// Seconds a connection may send and receive nothing before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds a request's head may take from its first byte to its blank line.
    pub header_read_secs: u64,
    /// Seconds a request body has to arrive whole (else `408`).
    pub body_read_secs: u64,
}

/// Neo4j connection settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Neo4jConfig {
    /// Bolt URI.
    pub uri: String,
    /// User.
    pub user: String,
    /// Password.
    pub password: String,
    /// Database; empty for the server default.
    pub database: String,
    /// Connection pool size.
    pub max_connections: usize,
    /// Deadline for one query, in milliseconds.
    pub query_timeout_ms: u64,
    /// Deadline for opening a connection, in milliseconds.
    pub connect_timeout_ms: u64,
}

/// Limits on what one request may ask.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Page size when `first` is not given.
    pub default_page_size: usize,
    /// Largest accepted `first`.
    pub max_page_size: usize,
    /// Largest list accepted by an `in` filter.
    pub max_in_values: usize,
    /// Maximum selection depth.
    pub max_depth: usize,
    /// Maximum query cost: each field once per evaluation, lists weighted by
    /// their page sizes through nesting (about one unit per value answered).
    pub max_complexity: usize,
    /// Maximum root fields (each one Cypher query).
    pub max_root_fields: usize,
    /// Maximum aliased fields in one operation.
    pub max_aliases: usize,
    /// Maximum distinct response keys on one object.
    pub max_fields_per_object: usize,
    /// Maximum terms of the `where` filters of one root field (a comparison 1,
    /// a relationship condition 13 more).
    pub max_filter_terms: usize,
    /// Maximum nesting of one `where`.
    pub max_filter_depth: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl LimitsConfig {
    /// The shape limits as the hub takes them.
    pub fn shape(&self) -> mandate_resolvers::ShapeLimits {
        mandate_resolvers::ShapeLimits {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            max_root_fields: self.max_root_fields,
            max_aliases: self.max_aliases,
            max_fields_per_object: self.max_fields_per_object,
            max_filter_terms: self.max_filter_terms,
            max_filter_depth: self.max_filter_depth,
            ..mandate_resolvers::ShapeLimits::default()
        }
    }
}

/// Cursor sealing.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CursorConfig {
    /// Secret the cursor key is derived from. Empty: a random key per process
    /// (cursors do not survive a restart and differ between replicas).
    pub secret: String,
}

/// Logging.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` for people, `json` for collectors.
    pub format: LogFormat,
    /// Filter in `tracing` syntax, e.g. `info,mandate=debug`. `RUST_LOG` wins if set.
    pub level: String,
    /// OTLP/HTTP collector to export traces to, e.g. `http://127.0.0.1:4318` (`/v1/traces` is added to a URL without a path);
    /// empty = no export.
    pub otlp_endpoint: String,
    /// `service.name` of the exported traces.
    pub service_name: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".to_string(),
            shutdown_grace_secs: 10,
            graphiql: true,
            metrics_token: String::new(),
            cors_allow_origins: Vec::new(),
            cors_allow_headers: [
                "content-type",
                "accept",
                "authorization",
                "x-api-key",
                "x-mandate-purpose",
                "x-mandate-case",
                "x-mandate-agency",
                "x-request-id",
                "traceparent",
            ]
            .map(str::to_string)
            .to_vec(),
            cors_max_age_secs: 600,
            max_connections: 4096,
            max_connections_per_ip: 256,
            idle_timeout_secs: 60,
            header_read_secs: 10,
            body_read_secs: 30,
        }
    }
}

impl Default for Neo4jConfig {
    fn default() -> Self {
        Neo4jConfig {
            uri: "bolt://127.0.0.1:7687".to_string(),
            user: "neo4j".to_string(),
            password: "mandate-dev-password".to_string(),
            database: String::new(),
            max_connections: 16,
            query_timeout_ms: 10_000,
            connect_timeout_ms: 2_000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        // The engine's own defaults, written once (mandate-resolvers' limits).
        let page = mandate_resolvers::Limits::default();
        let shape = mandate_resolvers::ShapeLimits::default();
        LimitsConfig {
            default_page_size: page.default_page_size,
            max_page_size: page.max_page_size,
            max_in_values: page.max_in_values,
            max_depth: shape.max_depth,
            max_complexity: shape.max_complexity,
            max_root_fields: shape.max_root_fields,
            max_aliases: shape.max_aliases,
            max_fields_per_object: shape.max_fields_per_object,
            max_filter_terms: shape.max_filter_terms,
            max_filter_depth: shape.max_filter_depth,
            max_body_bytes: 1 << 20,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            level: "info".to_string(),
            otlp_endpoint: String::new(),
            service_name: "mandate".to_string(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file, the environment, or a value is wrong; the message names the key.
    #[error("configuration error: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then `file` (if given), then the process environment.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the offending key or file.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Config::load`], with an explicit environment (for tests).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the offending key or file.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let mut overrides = std::collections::HashMap::new();
        for (key, value) in env {
            let path = match key.as_str() {
                "NEO4J_URI" => Some("neo4j.uri".to_string()),
                "NEO4J_USER" | "NEO4J_USERNAME" => Some("neo4j.user".to_string()),
                "NEO4J_PASSWORD" => Some("neo4j.password".to_string()),
                "NEO4J_DATABASE" => Some("neo4j.database".to_string()),
                _ => key
                    .strip_prefix("MANDATE__")
                    .map(|rest| rest.to_lowercase().replace("__", ".")),
            };
            if let Some(path) = path {
                overrides.insert(path, (key, value));
            }
        }
        let mut overrides: Vec<_> = overrides.into_iter().collect();
        overrides.sort();
        for (path, (key, value)) in overrides {
            // The parser's own message is only the path with a caret under it:
            // name the variable instead.
            builder = builder.set_override(path.as_str(), value).map_err(|_| {
                ConfigError::Invalid(format!(
                    "environment variable {key} names no configuration key \
                     (MANDATE__<SECTION>__<KEY>, e.g. MANDATE__SERVER__LISTEN)"
                ))
            })?;
        }
        let raw = builder
            .build()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let cfg: Config = raw
            .try_deserialize()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad("server.listen must be an address like 127.0.0.1:8080");
        }
        if self.limits.max_page_size == 0
            || self.limits.default_page_size > self.limits.max_page_size
        {
            return bad("limits.default_page_size must be at most limits.max_page_size, which must be positive");
        }
        let b = &self.budgets;
        let too_small = |burst: u32| burst != 0 && (burst as usize) < self.limits.max_complexity;
        if too_small(b.burst.max(b.cost_per_sec))
            || b.agencies
                .values()
                .chain(b.purposes.values())
                .any(|x| x.cost_per_sec != 0 && too_small(x.burst.max(x.cost_per_sec)))
        {
            return bad("budgets: every burst must be at least limits.max_complexity, or a request the limits accept could never run");
        }
        if !self.policies.today.is_empty()
            && mandate_resolvers::parse_date(&self.policies.today).is_none()
        {
            return bad("policies.today must be a date YYYY-MM-DD");
        }
        if self.neo4j.max_connections == 0 {
            return bad("neo4j.max_connections must be positive");
        }
        if self.neo4j.query_timeout_ms == 0 || self.neo4j.connect_timeout_ms == 0 {
            return bad("neo4j timeouts must be positive");
        }
        self.auth
            .jwt
            .check_jwks_url()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn key_agencies_keep_the_case_of_their_kids() {
        let dir = std::env::temp_dir().join(format!("mandate-cfg-kid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mandate.toml");
        std::fs::write(
            &file,
            "[auth.jwt.key_agencies]\n\"CA-Key-2026\" = [\"D-CIVIL_AFFAIRS\"]\n",
        )
        .unwrap();
        let config = Config::load_from(Some(&file), env(&[])).unwrap();
        assert_eq!(
            config.auth.jwt.key_agencies.get("CA-Key-2026"),
            Some(&vec!["D-CIVIL_AFFAIRS".to_string()]),
            "{:?}",
            config.auth.jwt.key_agencies
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn defaults_then_file_then_env() {
        let dir = std::env::temp_dir().join(format!("mandate-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mandate.toml");
        std::fs::write(
            &file,
            "[limits]\nmax_page_size = 50\n[neo4j]\nuser = \"reader\"\n",
        )
        .unwrap();
        let cfg = Config::load_from(
            Some(&file),
            env(&[
                ("NEO4J_URI", "bolt://10.0.0.1:7687"),
                ("MANDATE__NEO4J__USER", "envuser"),
                ("MANDATE__SERVER__LISTEN", "127.0.0.1:9999"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.limits.max_page_size, 50);
        assert_eq!(cfg.neo4j.uri, "bolt://10.0.0.1:7687");
        assert_eq!(cfg.neo4j.user, "envuser");
        assert_eq!(cfg.server.listen, "127.0.0.1:9999");
        assert_eq!(cfg.limits.default_page_size, 20);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = std::env::temp_dir().join(format!("mandate-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "[neo4j]\nurl = \"x\"\n").unwrap();
        let err = Config::load_from(Some(&file), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("url"), "{err}");
        let err = Config::load_from(None, env(&[("MANDATE__LIMITS__MAX_PAGE_SIZE", "lots")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_page_size"), "{err}");
        let err = Config::load_from(None, env(&[("MANDATE__SERVER__LISTEN", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.listen"), "{err}");
        let err = Config::load_from(Some(Path::new("/nonexistent.toml")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn jwks_url_and_refresh_are_checked_and_named() {
        let cfg = Config::load_from(
            None,
            env(&[
                (
                    "MANDATE__AUTH__JWT__JWKS_URL",
                    "https://idp.example.gov/jwks.json",
                ),
                ("MANDATE__AUTH__JWT__JWKS_REFRESH_SECS", "60"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.auth.jwt.jwks_url, "https://idp.example.gov/jwks.json");
        assert_eq!(cfg.auth.jwt.jwks_refresh_secs, 60);
        assert_eq!(
            Config::load_from(None, env(&[]))
                .unwrap()
                .auth
                .jwt
                .jwks_refresh_secs,
            300
        );
        let err = Config::load_from(
            None,
            env(&[(
                "MANDATE__AUTH__JWT__JWKS_URL",
                "http://idp.example.gov/jwks.json",
            )]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("auth.jwt.jwks_url"), "{err}");
        let err = Config::load_from(
            None,
            env(&[
                (
                    "MANDATE__AUTH__JWT__JWKS_URL",
                    "https://idp.example.gov/jwks.json",
                ),
                ("MANDATE__AUTH__JWT__JWKS_REFRESH_SECS", "9"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("auth.jwt.jwks_refresh_secs"), "{err}");
    }
}
