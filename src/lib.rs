//! mandate: the thin server binary's library — HTTP and GraphQL over HTTP,
//! configuration, telemetry and the command line. The work happens in the layer
//! crates: `mandate-auth` (credentials → principal), `mandate-hub` (admission,
//! execution, audit outcome), `mandate-policies` (responsibility lists),
//! `mandate-resolvers` (GraphQL → Cypher), `mandate-audit` (records and chains),
//! `mandate-connectors` (Neo4j), `mandate-schema` (model).

mod admin;
mod app;
mod assets;
pub use mandate_auth as auth;
pub mod cli;
mod config;
mod connections;
mod console;
pub mod documents;
mod edge;
mod graphql;
pub mod mandates;
pub mod telemetry;

pub use app::{App, HubBuildError, Metrics};
pub use config::{
    AdminConfig, AuditConfig, BudgetConfig, BudgetsConfig, Config, ConfigError, CursorConfig,
    LimitsConfig, LogConfig, LogFormat, Neo4jConfig, PoliciesConfig, PolicySource, ServerConfig,
    SubgraphConfig,
};

/// Binds `app` on its configured address (or `listen` if given) and serves until
/// `shutdown` resolves. Returns the bound address through `bound`.
///
/// # Errors
/// If the address cannot be bound.
pub async fn serve(
    app: std::sync::Arc<App>,
    listen: String,
    bound: tokio::sync::oneshot::Sender<std::net::SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let server = &app.config.server;
    let acceptor = connections::Bounded::new(
        TcpListener::bind(listen).into_acceptor().await?,
        server.max_connections,
        server.max_connections_per_ip,
        std::time::Duration::from_secs(server.header_read_secs.max(1)),
        std::sync::Arc::clone(&app.metrics.connections_refused),
    );
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("no local address"))?;
    let _ = bound.send(addr);
    let grace = std::time::Duration::from_secs(app.config.server.shutdown_grace_secs);
    tokio::spawn(app::watch_policies(std::sync::Arc::downgrade(&app)));
    tokio::spawn(admin::watch_store(std::sync::Arc::downgrade(&app)));
    poem::Server::new_with_acceptor(acceptor)
        .idle_timeout(std::time::Duration::from_secs(
            app.config.server.idle_timeout_secs.max(1),
        ))
        .run_with_graceful_shutdown(app.endpoint(), shutdown, Some(grace))
        .await
}
