//! Shared test helpers: server URLs from the environment (with the local services as
//! default), and running a scenario text through the library.
#![allow(dead_code)]

use std::path::Path;

use keyrace::app::{self, Server};
use keyrace::cli::RunArgs;
use keyrace::db::Dialect;
use keyrace::report::{Report, StrategyResult};
use tokio_util::sync::CancellationToken;

/// The URL tests use for a dialect: KEYRACE_POSTGRES_URL / KEYRACE_MYSQL_URL, else the
/// machine's local service.
pub fn url(dialect: Dialect) -> String {
    let var = match dialect {
        Dialect::Postgres => "KEYRACE_POSTGRES_URL",
        Dialect::Mysql => "KEYRACE_MYSQL_URL",
    };
    std::env::var(var).unwrap_or_else(|_| app::default_url(dialect).to_string())
}

/// Connects to the test server for `dialect`, failing with a message that says how to
/// provide one (CI starts both services).
pub async fn server(dialect: Dialect) -> Server {
    match app::connect_server(dialect, &url(dialect), "url", None).await {
        Ok(s) => s,
        Err(e) => panic!(
            "{e}\n(tests need a {dialect} server: start the local service or set KEYRACE_{}_URL)",
            dialect.name().to_uppercase()
        ),
    }
}

/// Default run arguments (quiet, results to a temp dir).
pub fn args(out: &Path) -> RunArgs {
    RunArgs::quiet(out)
}

/// Parses `toml` as a scenario and runs it on the given dialects.
pub async fn run_toml(toml: &str, dialects: &[Dialect]) -> Report {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, toml).expect("write scenario");
    let plan = keyrace::scenario::load(&path).unwrap_or_else(|d| panic!("{d}"));
    let mut servers = Vec::new();
    for &d in dialects {
        servers.push(server(d).await);
    }
    let a = args(dir.path());
    app::run_plans(&[plan], &servers, &a, vec![], &CancellationToken::new()).await
}

/// The result of `strategy` on `dialect`.
pub fn result<'a>(report: &'a Report, strategy: &str, dialect: Dialect) -> &'a StrategyResult {
    let s = &report.scenarios[0];
    if let Some(e) = &s.error {
        panic!("scenario failed: {e}");
    }
    s.results
        .iter()
        .find(|r| r.strategy == strategy && r.dialect == dialect.name())
        .unwrap_or_else(|| panic!("no result for {strategy} on {dialect}"))
}
