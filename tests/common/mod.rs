//! Shared test helpers: server URLs from the environment (with the local services as
//! default), and running a scenario text through the library.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Once, OnceLock};

use keyrace::app::{self, Server};
use keyrace::cli::RunArgs;
use keyrace::db::Dialect;
use keyrace::provision::ServerSpec;
use keyrace::report::{Report, StrategyResult};
use tokio_util::sync::CancellationToken;

/// The URL tests use for a dialect: KEYRACE_POSTGRES_URL / KEYRACE_MYSQL_URL when set,
/// else a throwaway local server started once per test binary through keyrace's own `local`
/// provider (stopped when the test binary exits; a killed one is reaped by the next start).
pub fn url(dialect: Dialect) -> String {
    if let Ok(u) = std::env::var(keyrace::provision::url_env_var(dialect)) {
        return u;
    }
    static PG: OnceLock<String> = OnceLock::new();
    static MY: OnceLock<String> = OnceLock::new();
    let cell = match dialect {
        Dialect::Postgres => &PG,
        Dialect::Mysql => &MY,
    };
    cell.get_or_init(|| start_throwaway(dialect)).clone()
}

extern "C" fn stop_throwaway_servers() {
    keyrace::provision::stop_all_blocking();
}

fn start_throwaway(dialect: Dialect) -> String {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        keyrace::provision::reap_orphans();
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { libc::atexit(stop_throwaway_servers) };
    });
    // Its own thread and runtime: the test calling this may be inside another runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let server = rt
            .block_on(keyrace::provision::start(dialect, &ServerSpec::Local))
            .unwrap_or_else(|e| panic!("cannot start a throwaway {dialect} server for the tests: {e}\n(install the server package, or set {})", keyrace::provision::url_env_var(dialect)));
        let url = server.url.clone();
        // Keep it running for the whole test binary: stop_all_blocking at exit stops it.
        std::mem::forget(server);
        url
    })
    .join()
    .expect("server start thread")
}

/// Targets for interleaving runs on the given dialects.
pub fn interleave_targets(which: &[Dialect]) -> Vec<keyrace::interleave::Target> {
    which
        .iter()
        .map(|&d| keyrace::interleave::Target {
            dialect: d,
            label: d.name().to_string(),
            url: url(d),
            nodes: Vec::new(),
        })
        .collect()
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
