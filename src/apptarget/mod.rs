//! Application targets: scenario files with an `[app]` table race the user's HTTP endpoints
//! (one keep-alive connection per worker, requests of a round released together) and
//! commands (one process per operation) with the same workload engine as [`crate::race`],
//! then check the application's database with the scenario's verification queries. The application is the user's running one (`url`), or
//! one keyrace starts per server of the run (`start`) against a fresh database there.

pub mod command;
pub mod http;
pub mod plan;
pub mod start;
pub mod template;

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

pub use plan::{AppDatabase, AppPlan, is_app_file, parse};

use crate::race::{self, Op, RaceOptions};
use crate::report::{ScenarioReport, ServerInfo, StrategyResult};
use crate::runner;
use crate::server::{self as app, Server};
use command::Prepared;
use http::{Base, HttpConn};

/// Runs an application scenario: per database (the URL's, or a fresh one on each of
/// `servers` of its dialects), the application started if the scenario says so, every
/// endpoint raced in turn. Databases are named `keyrace_<run_id>_app<n>`.
///
/// Returns the scenario's report (its `error` says what stopped it: an unreachable
/// application names the URL) and the servers its results name.
pub async fn run(
    plan: &AppPlan,
    servers: &[Server],
    run_id: &str,
    cancel: &CancellationToken,
) -> (ScenarioReport, Vec<ServerInfo>) {
    let mut sr = ScenarioReport {
        name: plan.name.clone(),
        file: plan.source.display().to_string(),
        description: plan.description.clone(),
        teaches: plan.teaches.clone(),
        claims: vec![],
        claim_verdicts: vec![],
        workload: serde_json::to_value(&plan.workload).unwrap_or_default(),
        table: serde_json::json!({ "key_type": "text", "key_format": plan.key_format }),
        results: vec![],
        error: None,
        repeat: plan.workload.repeat.max(1),
        fastest_safe: vec![],
    };
    let mut infos = Vec::new();
    let mut errors = Vec::new();
    match &plan.database {
        AppDatabase::Url(url) => {
            let dialect = race::dialect_of_url(url);
            let server = match dialect {
                None => Err(format!(
                    "`{}` is not a postgres:// or mysql:// URL",
                    crate::db::redact_url(url)
                )),
                Some(d) => app::connect_server(d, url, "url", None)
                    .await
                    .map_err(|e| e.to_string()),
            };
            match server {
                Ok(s) => {
                    infos.push(s.info.clone());
                    if let Err(e) = on_database(plan, &s, &mut sr.results, cancel).await {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        AppDatabase::Run(dialects) => {
            for (n, s) in servers
                .iter()
                .filter(|s| dialects.contains(&s.target.dialect()))
                .enumerate()
            {
                if cancel.is_cancelled() {
                    break;
                }
                let name = format!("keyrace_{run_id}_app{n}");
                if s.info.provider == "url" {
                    crate::provision::run_state::record_database(
                        s.target.dialect(),
                        &s.target.url,
                        &name,
                    );
                }
                if let Err(e) = runner::create_database(&s.target, &name).await {
                    errors.push(format!(
                        "cannot create database {name} on {}: {e}",
                        s.target.label
                    ));
                    continue;
                }
                let mut own = s.clone();
                own.target.url = crate::db::database_url(&s.target.url, &name);
                infos.push(s.info.clone());
                if let Err(e) = on_database(plan, &own, &mut sr.results, cancel).await {
                    errors.push(e);
                }
                if let Err(e) = runner::drop_database(&s.target, &name).await {
                    tracing::warn!("could not drop database {name} on {}: {e}", s.target.label);
                }
            }
        }
    }
    if !errors.is_empty() {
        sr.error = Some(errors.join("\n"));
    }
    (sr, infos)
}

/// Starts the application if needed, checks it answers, races every endpoint and every
/// command, stops it. Commands' programs are looked up first, so a missing one stops the
/// scenario before anything ran (naming the program).
async fn on_database(
    plan: &AppPlan,
    server: &Server,
    results: &mut Vec<StrategyResult>,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let port = start::free_port().map_err(|e| format!("no free port: {e}"))?;
    let url = plan
        .url
        .as_ref()
        .map(|u| u.replace("{port}", &port.to_string()));
    let dialect = server.target.dialect();
    let mut commands = Vec::new();
    for (name, c) in &plan.commands {
        match Prepared::new(c, dialect, &server.target.url, url.as_deref(), &plan.dir) {
            None => tracing::info!("{}: command {name} has no argv for {dialect}", plan.name),
            Some(Ok(p)) => commands.push((name, p)),
            Some(Err(e)) => return Err(format!("{} · {name}: {e}", plan.name)),
        }
    }
    let base = url.as_deref().map(Base::parse).transpose()?;
    let url = url.unwrap_or_default();
    let mut started = None;
    if let (Some(argv), Some(base)) = (&plan.start, &base) {
        let argv: Vec<String> = argv
            .iter()
            .map(|a| {
                a.replace("{port}", &port.to_string())
                    .replace("{database_url}", &server.target.url)
            })
            .collect();
        let mut a = start::App::start(&argv, &plan.dir)?;
        let ready = tokio::select! {
            r = a.wait_ready(base, &plan.ready, plan.ready_timeout) => r,
            _ = cancel.cancelled() => Err("interrupted".into()),
        };
        if let Err(e) = ready {
            a.stop().await;
            return Err(format!("{}: {url}{}: {e}", plan.name, plan.ready));
        }
        started = Some(a);
    } else if let Some(base) = &base
        && let Err(e) = start::probe(base, &plan.ready).await
    {
        return Err(format!(
            "{}: the application at {url} is unreachable ({e})",
            plan.name
        ));
    }
    let mut outcome = Ok(());
    for (name, ep) in &plan.endpoints {
        let Some(base) = &base else { break };
        if cancel.is_cancelled() {
            break;
        }
        let step = format!("{} {}", ep.method, ep.path);
        let timeout = ep.timeout;
        let ep = Arc::new(ep.clone());
        let conns: Arc<Vec<Mutex<HttpConn>>> = Arc::new(
            (0..plan.workload.workers)
                .map(|_| Mutex::new(HttpConn::new(base, ep.clone())))
                .collect(),
        );
        let f = move |op: Op| {
            let conns = conns.clone();
            async move { conns[op.worker].lock().await.call(&op).await }
        };
        if let Err(e) = race_one(plan, server, name, step, timeout, Arc::new(f), results).await {
            outcome = Err(e);
            break;
        }
    }
    for (name, cmd) in commands {
        if cancel.is_cancelled() || outcome.is_err() {
            break;
        }
        let (step, timeout) = (cmd.step(), cmd.timeout());
        let cmd = Arc::new(cmd);
        let f = move |op: Op| {
            let cmd = cmd.clone();
            async move { cmd.call(&op).await }
        };
        if let Err(e) = race_one(plan, server, name, step, timeout, Arc::new(f), results).await {
            outcome = Err(e);
        }
    }
    if let Some(a) = started {
        a.stop().await;
    }
    outcome
}

/// Races one endpoint or command (`f` bounds each call itself within `timeout`) and adds
/// its result to `results`.
///
/// Errors: the set-up, verification or clean-up SQL failed (the message names the scenario,
/// the endpoint or command, and the server).
async fn race_one<F, Fut>(
    plan: &AppPlan,
    server: &Server,
    name: &str,
    step: String,
    timeout: std::time::Duration,
    f: Arc<F>,
    results: &mut Vec<StrategyResult>,
) -> Result<(), String>
where
    F: Fn(Op) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<crate::vocab::Outcome, crate::vocab::DbError>>
        + Send
        + 'static,
{
    let options = RaceOptions {
        name: name.to_string(),
        url: server.target.url.clone(),
        workload: plan.workload.clone(),
        key_format: plan.key_format.clone(),
        // The driver bounds each call itself; this only catches a stuck driver.
        call_timeout: timeout + std::time::Duration::from_secs(1),
        step,
        setup: plan.setup.clone(),
        cleanup: plan.cleanup.clone(),
        verify: plan.verify.clone(),
        expect: vec![],
    };
    match race::race_on(&options, server, f, &plan.expectations).await {
        Ok(mut r) => {
            r.isolation = "the application's".into();
            results.push(r);
            Ok(())
        }
        Err(e) => Err(format!(
            "{} · {name} · {}: {e}",
            plan.name, server.target.label
        )),
    }
}
