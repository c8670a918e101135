//! Shared test helpers: server URLs from the environment (with the local services as
//! default), and running a scenario text through the library.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, Once};

use keyrace::app::{self, Server};
use keyrace::db::Dialect;
use keyrace::options::RunOptions;
use keyrace::provision::ServerSpec;
use keyrace::report::{Report, StrategyResult};
use tokio_util::sync::CancellationToken;

/// The URL tests use for a dialect: KEYRACE_POSTGRES_URL / KEYRACE_MYSQL_URL when set to a
/// URL, else a throwaway server started once per test binary through keyrace's own provider:
/// the spec in that variable when it is one (`KEYRACE_POSTGRES_URL=local:13 cargo test --test
/// strategies` runs the strategy tests on PostgreSQL 13), else `local` (stopped when the test
/// binary exits; a killed one is reaped by the next start).
pub fn url(dialect: Dialect) -> String {
    let spec = match std::env::var(keyrace::provision::url_env_var(dialect)) {
        Ok(u) => match ServerSpec::parse(dialect, &u) {
            Ok(ServerSpec::Url(_)) | Err(_) => return u,
            Ok(spec) => spec,
        },
        Err(_) => ServerSpec::Local,
    };
    spec_url(dialect, &spec)
}

/// The URL of a throwaway server started from `spec` (e.g. `ServerSpec::LocalMajor(17)`),
/// once per test binary and spec; it runs until the test binary exits. A server that cannot
/// be started fails the test with the provider's message (for `local:<major>`, the install
/// command).
pub fn spec_url(dialect: Dialect, spec: &ServerSpec) -> String {
    static STARTED: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    // Held while starting: one start at a time, and each spec started once.
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{dialect} {spec}");
    if let Some(u) = started.get(&key) {
        return u.clone();
    }
    let u = start_throwaway(dialect, spec.clone());
    started.insert(key, u.clone());
    u
}

extern "C" fn stop_throwaway_servers() {
    keyrace::provision::stop_all_blocking();
}

fn start_throwaway(dialect: Dialect, spec: ServerSpec) -> String {
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
            .block_on(keyrace::provision::start(dialect, &spec))
            .unwrap_or_else(|e| panic!("cannot start a throwaway {dialect} server ({spec}) for the tests: {e}\n(install the server package, or set {})", keyrace::provision::url_env_var(dialect)));
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
        .map(|&d| keyrace::interleave::Target::new(d, d.name().to_string(), url(d)))
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

/// True when database `name` exists on the test server for `dialect` (a test's own
/// database, checked after keyrace should have dropped it).
pub async fn database_exists(dialect: Dialect, name: &str) -> bool {
    let mut c = keyrace::db::Conn::connect(dialect, &url(dialect))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the {dialect} test server: {e}"));
    let sql = match dialect {
        Dialect::Postgres => {
            format!("SELECT count(*)::text FROM pg_database WHERE datname = '{name}'")
        }
        Dialect::Mysql => format!(
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"
        ),
    };
    let n = c
        .scalar_text(&sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default();
    c.close().await;
    n != "0"
}

/// Default run arguments (quiet, results to a temp dir).
pub fn args(out: &Path) -> RunOptions {
    RunOptions::quiet(out)
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
