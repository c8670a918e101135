//! A server resolved for a run: connected, asked what it is (engine, version, settings) and
//! labelled for reports; shared by `keyrace run`, application targets and `keyrace::race`.

use crate::db::{Conn, Dialect, Target, info, redact_url};
use crate::error::AppError;
use crate::report::ServerInfo;

/// A server resolved for this run.
#[derive(Debug, Clone)]
pub struct Server {
    /// What the runner needs.
    pub target: Target,
    /// What the report says about it.
    pub info: ServerInfo,
}

/// The default servers when no URL is given: the machine's local services.
pub fn default_url(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
        Dialect::Mysql => "mysql://root@127.0.0.1:3306/mysql",
    }
}

fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(0)),
        None => (hostport.to_string(), 0),
    }
}

/// Connects to a server by URL and reads its version and settings.
///
/// Errors: a message naming the redacted URL and the connection error.
pub async fn connect_server(
    dialect: Dialect,
    url: &str,
    provider: &str,
    startup_ms: Option<u64>,
) -> Result<Server, AppError> {
    let url = if dialect == Dialect::Mysql {
        url.replacen("mariadb://", "mysql://", 1)
    } else {
        url.to_string()
    };
    let mut conn = Conn::connect(dialect, &url).await.map_err(|e| {
        AppError::Server(format!(
            "cannot connect to {dialect} at {}: {}",
            redact_url(&url),
            crate::db::scrub_secrets(&e.message, &url)
        ))
    })?;
    let (version, engine) = crate::db::detect(&mut conn).await.map_err(|e| {
        AppError::Server(format!(
            "{}: {}",
            redact_url(&url),
            crate::db::scrub_secrets(&e.to_string(), &url)
        ))
    })?;
    let settings = info::settings(&mut conn).await;
    conn.close().await;
    let label = engine.label(&version);
    let (host, port) = host_port(&url);
    Ok(Server {
        target: Target::new(dialect, label.clone(), url.clone()).detected(engine, &version),
        info: ServerInfo {
            database: label,
            dialect: dialect.name().into(),
            engine: engine.name().into(),
            provider: provider.into(),
            version,
            host,
            port,
            url: redact_url(&url),
            settings,
            startup_ms,
        },
    })
}

/// Makes labels unique when several servers share engine and version.
pub fn disambiguate(servers: &mut [Server]) {
    for i in 0..servers.len() {
        let same = servers
            .iter()
            .filter(|s| s.info.database == servers[i].info.database)
            .count();
        if same > 1 {
            let s = &mut servers[i];
            let label = format!("{} ({} :{})", s.info.database, s.info.provider, s.info.port);
            s.info.database = label.clone();
            s.target.label = label;
        }
    }
}
