//! The command line: `serve`, `seed`, `migrate`, `sdl`, `import`, ...

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mandate_connectors::{AuditWriter, Neo4jStore};
use mandate_seed::{self as seed, CityParams};
use std::sync::Arc;

use crate::app::{neo4j_settings, App};
use crate::config::Config;

/// mandate: a GraphQL data-sharing hub between government departments, over Neo4j.
#[derive(Debug, Parser)]
#[command(name = "mandate", version)]
pub struct Cli {
    /// TOML configuration file (see README.md, "Configuration reference").
    #[arg(long, global = true, env = "MANDATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply constraints and serve GraphQL, GraphiQL, health and metrics.
    Serve {
        /// Listen address; overrides `server.listen`.
        #[arg(long)]
        listen: Option<String>,
        /// Seed a demo city of this many residents if the database has none.
        #[arg(long, value_name = "RESIDENTS")]
        seed_if_empty: Option<usize>,
        /// Seed of the demo city generator.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Write the deterministic synthetic city (idempotent for the same seed).
    Seed {
        /// Number of residents.
        #[arg(long)]
        residents: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Apply the model's constraints and indexes to Neo4j.
    Migrate,
    /// Ask each configured departmental subgraph for its SDL and compare it with the
    /// remote fields the catalog gives it; exits non-zero on any difference.
    Subgraphs,
    /// Print a GraphQL SDL: an agency's schema for one purpose (for code generation),
    /// with `--federation` the federation view a router composes (`/subgraph`), or
    /// with neither the unrestricted plan's. Needs no Neo4j.
    Sdl {
        /// Agency (Department id), e.g. D-CIVIL_AFFAIRS.
        #[arg(long, requires_all = ["roles", "purpose"], conflicts_with = "federation")]
        agency: Option<String>,
        /// The federation SDL (Apollo Federation 2): the union of what every mandate
        /// of the lists in force may read, as `/subgraph` serves it.
        #[arg(long)]
        federation: bool,
        /// Role within the agency (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Purpose (事由) the schema is served for.
        #[arg(long)]
        purpose: Option<String>,
    },
    /// The audit log.
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Print the admin API's schema (`/admin/graphql`, for the console and
    /// officers' tools). Needs no Neo4j.
    AdminSdl,
    /// The policy store (`policies.source = "store"`): import list files as
    /// proposals, export a version as files.
    Policy {
        /// What to do.
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Import a department's CSV, JSON lines or Excel (.xlsx) export: rows mapped to
    /// catalog fields by a mapping file (examples/imports/), checked, merged on the key
    /// in batches; bad rows go to a reject file. A department imports only the fields it
    /// owns. Audited (chain `<audit.chain>-import`) before any data is written.
    Import {
        /// Importing agency (`D-<CODE>[-unit]`) or department code, e.g. D-CIVIL_AFFAIRS.
        #[arg(long)]
        department: String,
        /// Mapping file (TOML).
        #[arg(long)]
        mapping: PathBuf,
        /// Reject file (default: `FILE.rejects.csv`).
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Officer or system running the import, for the audit record.
        #[arg(long, default_value = "import-cli")]
        officer: String,
        /// Rows per batch (one transaction each).
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        batch_size: u64,
        /// Batches written at once, over disjoint keys.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=8))]
        parallel: u64,
        /// The data file (.csv, .jsonl, .xlsx).
        file: PathBuf,
    },
    /// Make a new API key: prints the key (give it to the departmental system) and the
    /// `[[key]]` entry to add to `auth.api_keys_file` (which stores only its hash).
    Apikey {
        /// Agency (Department id), e.g. D-CIVIL_AFFAIRS.
        #[arg(long)]
        agency: String,
        /// Officer or system id.
        #[arg(long)]
        officer: String,
        /// Role within the agency (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Development only: mint an HS256 token with `auth.jwt.hs256_secret`. The agency,
    /// roles and purpose must be ones the responsibility lists name.
    Token {
        /// Agency (Department id).
        #[arg(long)]
        agency: String,
        /// Officer id (`sub`).
        #[arg(long, default_value = "dev-officer")]
        officer: String,
        /// Role within the agency (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The purpose the token is for: checked against the lists and bound into
        /// the token (its `purposes` claim), so requests stating another purpose in
        /// `x-mandate-purpose` are refused. Without it the token is unbound.
        #[arg(long)]
        purpose: Option<String>,
        /// Lifetime in seconds (at most a day).
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        ttl: u64,
    },
}

/// `mandate audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check every record's sequence, link and hash; exits 1 on any problem.
    Verify {
        /// Only this chain.
        #[arg(long)]
        chain: Option<String>,
        /// Also check this audit journal (default: `audit.journal`) and that the
        /// chain in Neo4j is a prefix of it.
        #[arg(long)]
        journal: Option<String>,
    },
}

/// `mandate policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Loads `DIR/lists/*.csv` into the store: into an empty store as version 1;
    /// otherwise every file that differs from the version in force becomes a
    /// proposed draft of its agency, authored by `--officer`, for an approver to
    /// publish. All files are checked first; if any line does not load, nothing
    /// is written and the error names file, line and reason.
    Import {
        /// Policies folder (with `lists/`); default `policies.dir`.
        #[arg(long)]
        dir: Option<String>,
        /// The officer the drafts are authored by.
        #[arg(long)]
        officer: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// On which legal basis.
        #[arg(long)]
        basis: String,
    },
    /// Writes a version's lists, byte for byte, to `OUT/lists/*.csv`.
    Export {
        /// The version (default: the one in force).
        #[arg(long)]
        version: Option<u64>,
        /// Folder to write to.
        #[arg(long)]
        out: String,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mandate: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mandate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let telemetry = crate::telemetry::init(&config.log)?;
        let outcome = run(cli.command, config).await;
        telemetry.shutdown();
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mandate: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, mut config: Config) -> Result<(), String> {
    match command {
        Command::Sdl {
            agency,
            roles,
            purpose,
            federation,
        } => {
            // Needs no Neo4j: the schema of the lists in `policies.dir` (in store
            // mode, the folder the store was imported from).
            config.policies.source = crate::config::PolicySource::Files;
            let app = App::new(config).await.map_err(|e| e.to_string())?;
            if federation {
                println!("{}", app.hub.federation_sdl().map_err(|e| e.message)?);
                return Ok(());
            }
            match (agency, purpose) {
                (Some(agency), Some(purpose)) => {
                    check_mandate(&app.hub.policies(), &agency, &roles, Some(&purpose))?;
                    let schema = app
                        .hub
                        .schema_of(&agency, &roles, &purpose)
                        .map_err(|e| e.message)?;
                    println!("{}", schema.sdl());
                }
                _ => println!("{}", app.hub.unrestricted_schema().sdl()),
            }
            Ok(())
        }
        Command::Apikey {
            agency,
            officer,
            roles,
        } => {
            check_mandate(&load_policies(&config).await?, &agency, &roles, None)?;
            let key = crate::auth::generate_api_key();
            println!(
                "API key (shown once; give it to the system, store it nowhere else):\n  {key}\n"
            );
            println!("Add to the keys file:\n");
            println!(
                "[[key]]\nid = \"{officer}\"\nagency = \"{agency}\"\nofficer = \"{officer}\"\nroles = {:?}\nsha256 = \"{}\"",
                roles,
                crate::auth::hash_api_key(&key)
            );
            Ok(())
        }
        Command::Token {
            agency,
            officer,
            roles,
            purpose,
            ttl,
        } => {
            if config.auth.jwt.hs256_secret.is_empty() {
                return Err(
                    "`mandate token` needs auth.jwt.hs256_secret (development only)".to_string(),
                );
            }
            check_mandate(
                &load_policies(&config).await?,
                &agency,
                &roles,
                purpose.as_deref(),
            )?;
            let (token, exp) = crate::auth::mint_hs256(
                &config.auth.jwt,
                &officer,
                &agency,
                &roles,
                purpose.as_slice(),
                ttl,
            )
            .map_err(|e| format!("cannot sign with the HS256 secret: {e}"))?;
            println!("{token}");
            eprintln!(
                "mandate: token for {agency} ({}) valid {ttl} s, until {} UTC; send it as `Authorization: Bearer <token>` with x-mandate-purpose and x-mandate-case",
                roles.join(", "),
                chrono::DateTime::from_timestamp(i64::try_from(exp).unwrap_or(i64::MAX), 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default()
            );
            Ok(())
        }
        Command::Audit {
            action: AuditAction::Verify { chain, journal },
        } => {
            let mut settings = neo4j_settings(&config);
            if !config.audit.neo4j_uri.is_empty() {
                settings.uri = config.audit.neo4j_uri.clone();
            }
            let store = Neo4jStore::new(&settings).map_err(|e| e.to_string())?;
            let mut v = mandate_audit::verify_log(&store, chain.as_deref())
                .await
                .map_err(|e| format!("cannot read the audit log: {e}"))?;
            let journal = journal.unwrap_or_else(|| config.audit.journal.clone());
            if !journal.is_empty() {
                let chain = chain.unwrap_or_else(|| config.audit.chain.clone());
                match mandate_connectors::verify_journal(&store, Path::new(&journal), &chain).await
                {
                    Ok(unshipped) => {
                        println!("journal {journal}: {unshipped} records not yet in Neo4j")
                    }
                    Err(p) => v.problems.push(p),
                }
            }
            for (chain, n) in &v.chains {
                println!("chain {chain}: {n} records");
            }
            if v.problems.is_empty() {
                println!("audit log intact");
                Ok(())
            } else {
                for p in &v.problems {
                    println!("PROBLEM {p}");
                }
                Err(format!(
                    "audit log damaged: {} problem(s)",
                    v.problems.len()
                ))
            }
        }
        Command::Policy { action } => policy_command(&config, action).await,
        Command::Import {
            department,
            mapping,
            rejects,
            officer,
            batch_size,
            parallel,
            file,
        } => {
            use mandate_connectors::import;
            let catalog = mandate_schema::hub_catalog().map_err(|e| e.to_string())?;
            // Refuse a bad mapping before touching Neo4j or the file.
            import::plan_for(&mapping, &catalog, &department).map_err(|e| e.to_string())?;
            let store = store(&config)?;
            mandate_connectors::apply_schema(&store, &catalog)
                .await
                .map_err(|e| format!("cannot apply constraints: {e}"))?;
            let mut audit_settings = neo4j_settings(&config);
            if !config.audit.neo4j_uri.is_empty() {
                audit_settings.uri = config.audit.neo4j_uri.clone();
            }
            let audit = AuditWriter::start(
                Neo4jStore::new(&audit_settings).map_err(|e| e.to_string())?,
                format!("{}-import", config.audit.chain),
                Duration::from_millis(config.audit.timeout_ms),
            );
            let settings = import::ImportSettings {
                department,
                officer,
                request_id: uuid::Uuid::new_v4().to_string(),
                mapping,
                file,
                rejects,
                batch_size: usize::try_from(batch_size).unwrap_or(5000),
                parallel: usize::try_from(parallel).unwrap_or(2),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let summary = import::import(&store, &audit, &catalog, &settings)
                .await
                .map_err(|e| e.to_string())?;
            println!("{summary}");
            Ok(())
        }
        Command::AdminSdl => {
            print!("{}", mandate_governance::api::schema().sdl());
            Ok(())
        }
        Command::Migrate => {
            let store = store(&config)?;
            let n = mandate_connectors::apply_schema(
                &store,
                &mandate_schema::hub_catalog().map_err(|e| e.to_string())?,
            )
            .await
            .map_err(|e| format!("cannot apply constraints: {e}"))?;
            println!("applied {n} constraints and indexes");
            Ok(())
        }
        Command::Seed { residents, seed } => {
            let store = store(&config)?;
            let catalog = mandate_schema::hub_catalog().map_err(|e| e.to_string())?;
            mandate_connectors::apply_schema(&store, &catalog)
                .await
                .map_err(|e| format!("cannot apply constraints: {e}"))?;
            seed_city(&store, residents, seed).await
        }
        Command::Subgraphs => {
            let catalog = mandate_schema::hub_catalog().map_err(|e| e.to_string())?;
            let subgraphs = mandate_connectors::HttpSubgraphs::new(config.subgraph_settings())?;
            let report = subgraphs.check(&catalog).await;
            let mut bad = 0;
            for (name, problems) in &report {
                if problems.is_empty() {
                    println!("{name}: serves every remote field the catalog gives it");
                }
                for p in problems {
                    bad += 1;
                    println!("{name}: {p}");
                }
            }
            if bad > 0 {
                return Err(format!("{bad} problem(s) with the departmental subgraphs"));
            }
            Ok(())
        }
        Command::Serve {
            listen,
            seed_if_empty,
            seed,
        } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            let app = App::new(config).await.map_err(|e| e.to_string())?;
            let listen = app.config.server.listen.clone();
            // Each subgraph's SDL against the catalog, logged; never blocks serving.
            let check = app.subgraphs.clone();
            tokio::spawn(async move {
                let Ok(catalog) = mandate_schema::hub_catalog() else {
                    return;
                };
                for (name, problems) in check.check(&catalog).await {
                    if problems.is_empty() {
                        tracing::info!(subgraph = %name, "subgraph serves the catalog's remote fields");
                    }
                    for p in problems {
                        tracing::warn!(subgraph = %name, problem = %p, "subgraph does not match the catalog");
                    }
                }
            });
            let app_has_console = app.config.policies.source == crate::config::PolicySource::Store;
            // With Neo4j up, prepare it before serving (so the printed URL serves the
            // whole city); with Neo4j down, serve anyway and prepare it once it returns.
            let catalog = mandate_schema::hub_catalog().map_err(|e| e.to_string())?;
            match mandate_connectors::apply_schema(&app.store, &catalog).await {
                Ok(_) => prepare_database(app.store.clone(), seed_if_empty, seed).await,
                Err(e) => {
                    tracing::warn!(db.system = "neo4j", detail = %e, "Neo4j not reachable at start; serving anyway");
                    tokio::spawn(prepare_database(app.store.clone(), seed_if_empty, seed));
                }
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            let server = tokio::spawn(crate::serve(app, listen.clone(), tx, shutdown_signal()));
            match rx.await {
                Ok(addr) => {
                    println!("mandate is serving GraphQL at http://{addr}/graphql");
                    println!("GraphiQL: http://{addr}/graphiql");
                    if app_has_console {
                        println!("Policy officers' console: http://{addr}/console");
                    }
                    tracing::info!(address = %addr, "listening");
                }
                Err(_) => {
                    return match server.await {
                        Ok(Err(e)) => Err(format!("cannot listen on {listen}: {e}")),
                        _ => Err(format!("cannot listen on {listen}")),
                    };
                }
            }
            match server.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("server failed: {e}")),
                Err(e) => Err(format!("server task failed: {e}")),
            }
        }
    }
}

/// The responsibility lists of `config`, loaded as the hub would at start.
async fn load_policies(config: &Config) -> Result<mandate_policies::Policies, String> {
    let catalog = mandate_schema::hub_catalog().map_err(|e| e.to_string())?;
    mandate_policies::Policies::load(Path::new(&config.policies.dir), &catalog)
        .await
        .map_err(|e| format!("cannot load the responsibility lists: {e}"))
}

/// Refuses an agency, a role or a purpose that no responsibility list names for
/// one another, naming what the lists do offer.
fn check_mandate(
    policies: &mandate_policies::Policies,
    agency: &str,
    roles: &[String],
    purpose: Option<&str>,
) -> Result<(), String> {
    let mandates = policies.mandates();
    let of_agency: Vec<_> = mandates.iter().filter(|m| m.agency == agency).collect();
    if of_agency.is_empty() {
        let agencies: std::collections::BTreeSet<&str> =
            mandates.iter().map(|m| m.agency.as_str()).collect();
        return Err(format!(
            "no responsibility list names agency `{agency}`; agencies: {}",
            agencies.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let known: std::collections::BTreeSet<&str> =
        of_agency.iter().map(|m| m.role.as_str()).collect();
    if roles.is_empty() {
        return Err(format!(
            "name at least one --role; {agency}'s roles: {}",
            known.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(role) = roles.iter().find(|r| !known.contains(r.as_str())) {
        return Err(format!(
            "{agency}'s list names no role `{role}`; its roles: {}",
            known.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(purpose) = purpose {
        let granted: std::collections::BTreeSet<&str> = of_agency
            .iter()
            .filter(|m| roles.contains(&m.role))
            .map(|m| m.purpose.as_str())
            .collect();
        if !granted.contains(purpose) {
            return Err(format!(
                "{agency}'s list grants roles {} nothing for purpose `{purpose}`; their purposes: {}",
                roles.join(", "),
                granted.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}

async fn policy_command(config: &Config, action: PolicyAction) -> Result<(), String> {
    use mandate_governance::store::GovStore as _;
    let store = store(config)?;
    store
        .prepare()
        .await
        .map_err(|e| format!("policy store: {e}"))?;
    match action {
        PolicyAction::Export { version, out } => {
            let head = store.head().await.map_err(|e| e.to_string())?;
            let n = version.unwrap_or(head.version);
            let v = store
                .version(n)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the store has no version {n}"))?;
            let lists = Path::new(&out).join("lists");
            std::fs::create_dir_all(&lists).map_err(|e| format!("{}: {e}", lists.display()))?;
            for f in &v.files {
                if f.name.contains('/') || f.name.contains("..") {
                    return Err(format!("version {n} holds an unsafe file name {}", f.name));
                }
                std::fs::write(lists.join(&f.name), &f.text)
                    .map_err(|e| format!("{}: {e}", lists.join(&f.name).display()))?;
            }
            println!(
                "version {n} ({} lists) written to {}",
                v.files.len(),
                lists.display()
            );
            Ok(())
        }
        PolicyAction::Import {
            dir,
            officer,
            reason,
            basis,
        } => {
            let dir = dir.unwrap_or_else(|| config.policies.dir.clone());
            let dir = Path::new(&dir);
            let model = std::fs::read_to_string(Path::new(&config.policies.dir).join("model.conf"))
                .map_err(|e| format!("model.conf: {e}"))?;
            let files = mandate_governance::service::read_lists(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            let catalog = mandate_schema::hub_catalog().map_err(|e| e.to_string())?;
            let audit = Arc::new(AuditWriter::start(
                store.clone(),
                format!("{}-cli", config.audit.chain),
                Duration::from_millis(config.audit.timeout_ms),
            ));
            let calendar = mandate_governance::Calendar::new(
                config.admin.utc_offset_hours,
                &config.admin.holidays,
                &config.admin.workdays,
            )
            .map_err(|e| e.to_string())?;
            let gov = mandate_governance::Governance::new(
                Arc::new(store.clone()),
                audit,
                catalog,
                model,
                calendar,
                mandate_governance::Settings::default(),
            );
            let request_id = uuid::Uuid::new_v4().to_string();
            let made = gov
                .import(&request_id, &officer, files, &reason, &basis)
                .await
                .map_err(|e| format!("{} ({})", e, e.code()))?;
            if made.is_empty() {
                println!("nothing to import: the lists are those in force");
            }
            for line in made {
                println!("{line}");
            }
            Ok(())
        }
    }
}

fn store(config: &Config) -> Result<Neo4jStore, String> {
    Neo4jStore::new(&neo4j_settings(config)).map_err(|e| e.to_string())
}

async fn seed_city(store: &Neo4jStore, residents: usize, seed: u64) -> Result<(), String> {
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = seed::seed(store, &CityParams { residents, seed }, progress)
        .await
        .map_err(|e| format!("seeding failed: {e}"))?;
    for (kind, n) in &report.counts {
        println!("{kind:>13}: {n}");
    }
    println!(
        "generated in {:.1} s, written in {:.1} s ({:.0} residents/s)",
        report.generate_time.as_secs_f64(),
        report.write_time.as_secs_f64(),
        report.residents_per_second()
    );
    Ok(())
}

/// Applies constraints (and seeds the demo city if asked and empty) as soon as
/// Neo4j answers; retries in the background while it does not.
async fn prepare_database(store: Neo4jStore, seed_if_empty: Option<usize>, seed: u64) {
    let catalog = match mandate_schema::hub_catalog() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(detail = %e, "model does not load");
            return;
        }
    };
    loop {
        match mandate_connectors::apply_schema(&store, &catalog).await {
            Ok(n) => {
                tracing::info!(statements = n, "constraints and indexes applied");
                break;
            }
            Err(e) => {
                tracing::warn!(db.system = "neo4j", detail = %e, "cannot apply constraints yet; retrying");
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    }
    if let Some(residents) = seed_if_empty {
        match seed::resident_count(&store).await {
            Ok(0) => {
                tracing::info!(residents, seed, "seeding the demo city");
                if let Err(e) = seed_city(&store, residents, seed).await {
                    tracing::error!(detail = %e, "seeding failed");
                }
            }
            Ok(n) => tracing::info!(residents = n, "database already holds a city; not seeding"),
            Err(e) => tracing::warn!(detail = %e, "cannot count residents; not seeding"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
