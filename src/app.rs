//! `keyrace run`: load every scenario, resolve the servers, run each strategy on each
//! server with a progress bar, verify, evaluate expectations, and write the report.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::db::Dialect;
use crate::interleave;
pub use crate::options::RunOptions;
use crate::plan::Plan;
use crate::provision::{self, ServerSpec};
use crate::report::{self, InterleaveResult, Report, ScenarioReport};
use crate::runner::{self, Target};
use crate::scenario;

pub use crate::error::AppError;

/// A finished `keyrace run`.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report.
    pub report: Report,
    /// Where the JSON went: in `--out`, else in [`report::write::fallback_dir`]; `None` when
    /// it could not be written anywhere.
    pub json_path: Option<PathBuf>,
    /// Where the HTML page went, unless disabled or unwritable.
    pub html_path: Option<PathBuf>,
    /// What went wrong writing the results (each names the path and the I/O error); empty
    /// when everything went to `--out`.
    pub write_errors: Vec<String>,
}

pub use crate::server::{Server, connect_server, default_url, disambiguate};

/// Every scenario under `paths`: stress scenarios and deterministic interleavings.
#[derive(Debug, Clone, Default)]
pub struct Scenarios {
    /// Stress scenarios (workers, strategies, expectations).
    pub plans: Vec<Plan>,
    /// Interleaving scenarios (sessions, steps, permutations; TOML or isolation `.spec`).
    pub interleavings: Vec<interleave::InterleavePlan>,
    /// Application scenarios (an `[app]` table: HTTP endpoints raced, see [`crate::apptarget`]).
    pub apps: Vec<crate::apptarget::AppPlan>,
}

/// Loads every scenario under `paths`; all diagnostics are collected before failing. Only
/// regular files of at most 1 MiB are read (see [`scenario::read_text`]); each file is
/// listed once however many symlinks lead to it (see [`scenario::discover`]).
///
/// Errors: [`AppError::Scenario`] with every bad file's located message;
/// [`AppError::Usage`] when there is no scenario file at all.
pub fn load_all(paths: &[PathBuf]) -> Result<Scenarios, AppError> {
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(AppError::Usage(format!(
            "{}: no such file or directory",
            p.display()
        )));
    }
    let files = scenario::discover(paths).map_err(|d| AppError::Scenario(vec![d.to_string()]))?;
    if files.is_empty() {
        return Err(AppError::Usage(format!(
            "no scenario files (*.toml, *.spec) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut out = Scenarios::default();
    let mut errors = Vec::new();
    for f in files {
        let text = match scenario::read_text(&f) {
            Ok(t) => t,
            Err(d) => {
                errors.push(d.to_string());
                continue;
            }
        };
        if crate::apptarget::is_app_file(&f, &text) {
            match crate::apptarget::parse(&f, &text) {
                Ok(p) if p.only_when_named && !named(paths, &f) => {
                    tracing::info!("{}: run only when named (only_when_named)", f.display());
                }
                Ok(p) => out.apps.push(p),
                Err(d) => errors.push(d.to_string()),
            }
        } else if interleave::is_interleaving_file(&f, &text) {
            match interleave::parse(&f, &text) {
                Ok(p) => out.interleavings.push(p),
                Err(d) => errors.push(d.to_string()),
            }
        } else {
            match scenario::parse(&f, &text) {
                Ok(p) => out.plans.push(p),
                Err(d) => errors.push(d.to_string()),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(AppError::Scenario(errors))
    }
}

/// True when `file` or its directory is one of `paths` (not merely below one).
fn named(paths: &[PathBuf], file: &std::path::Path) -> bool {
    let same = |a: &std::path::Path, b: &std::path::Path| match (a.canonicalize(), b.canonicalize())
    {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    paths
        .iter()
        .any(|p| same(p, file) || file.parent().is_some_and(|d| same(p, d)))
}

fn apply_overrides(plan: &mut Plan, args: &RunOptions) {
    let w = &mut plan.workload;
    if let Some(n) = args.workers {
        w.workers = n;
    }
    if let Some(n) = args.operations {
        w.operations = n;
    }
    if let Some(d) = args.duration {
        w.duration = Some(d);
        if args.operations.is_none() {
            w.operations = u64::MAX;
        }
    }
    if let Some(s) = args.seed {
        w.seed = s;
    }
    if let Some(r) = args.repeat {
        // So that the report's workload shows the repetitions that ran.
        w.repeat = r.max(1);
    }
    if !args.strategies.is_empty() {
        plan.strategies
            .retain(|s| args.strategies.contains(&s.name));
    }
}

/// `--strategy` names must name a strategy of some scenario.
///
/// Errors: [`AppError::Usage`] listing the known names.
pub fn check_strategy_names(scenarios: &Scenarios, args: &RunOptions) -> Result<(), AppError> {
    let mut known: Vec<&str> = Vec::new();
    for p in &scenarios.plans {
        for s in &p.strategies {
            if !known.contains(&s.name.as_str()) {
                known.push(&s.name);
            }
        }
    }
    let unknown: Vec<&String> = args
        .strategies
        .iter()
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
    Err(AppError::Usage(format!(
        "--strategy {}: no such strategy in these scenarios; known: {}",
        names.join(", "),
        known.join(", ")
    )))
}

/// The dialects to run on, from `--only`.
pub fn dialects(args: &RunOptions) -> Result<Vec<Dialect>, AppError> {
    if args.only.is_empty() {
        return Ok(Dialect::ALL.to_vec());
    }
    args.only
        .iter()
        .map(|s| {
            Dialect::parse(s)
                .ok_or_else(|| AppError::Usage(format!("--only {s}: use postgres or mysql")))
        })
        .collect()
}

fn new_run_id() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[rng.random_range(0..36)]))
        .collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn progress_bar(args: &RunOptions, len: Option<u64>, msg: String) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    if args.quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let style = if len.is_some() {
        ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} ops {elapsed} {wide_msg}")
    } else {
        ProgressStyle::with_template("{spinner} {pos} ops {elapsed} {wide_msg}")
    };
    if let Ok(s) = style {
        bar.set_style(s.progress_chars("=> "));
    }
    bar.set_message(msg);
    bar
}

/// The strategy × server cells of a plan (indices), strategy-major, servers in column order.
fn cells_of(plan: &Plan, servers: &[Server]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (si, strategy) in plan.strategies.iter().enumerate() {
        for (vi, server) in servers.iter().enumerate() {
            if runner::schema_for(plan, &server.target).is_some()
                && runner::program_for(strategy, &server.target).is_some()
            {
                out.push((si, vi));
            }
        }
    }
    out
}

/// Repetitions per cell: `--repeat`, else the scenario's `repeat`, at least 1.
fn repeat_of(plan: &Plan, args: &RunOptions) -> u32 {
    args.repeat.unwrap_or(plan.workload.repeat).max(1)
}

/// Which cell of the run is running, for the progress line.
struct Progress {
    cell: u64,
    cells: u64,
}

/// Runs one repetition of one cell with its progress bar (or, when stderr is not a
/// terminal, a progress line at the start, every 5 s and at the end).
#[allow(clippy::too_many_arguments)]
async fn run_cell(
    plan: &Plan,
    strategy: &crate::plan::StrategyPlan,
    target: &Target,
    db_name: &str,
    args: &RunOptions,
    cancel: &CancellationToken,
    progress: &Progress,
    label: &str,
) -> Result<Option<runner::StrategyRun>, runner::HarnessError> {
    use std::io::IsTerminal;
    let workload = plan.workload_for(strategy);
    let w = &workload;
    let len = (w.operations != u64::MAX).then_some(w.operations);
    let cell = format!("cell {} of {}", progress.cell, progress.cells);
    let lines = !args.quiet && !std::io::stderr().is_terminal();
    let bar = progress_bar(args, len, format!("{cell} · {label}"));
    if lines {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        eprintln!("[{cell}] {label}: started");
    }
    let done = Arc::new(AtomicU64::new(0));
    let violations = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let ticker = {
        let (bar, done, label, cell) = (bar.clone(), done.clone(), label.to_string(), cell.clone());
        let violations = violations.clone();
        tokio::spawn(async move {
            let mut last_line = std::time::Instant::now();
            loop {
                let n = done.load(Ordering::Relaxed);
                let v = violations.load(Ordering::Relaxed);
                bar.set_position(n);
                let secs = started.elapsed().as_secs_f64();
                let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
                bar.set_message(format!(
                    "{cell} · {} ops/s · {} unique violations · {label}",
                    report::num(rate as u64),
                    report::num(v)
                ));
                if lines && last_line.elapsed() >= Duration::from_secs(5) {
                    last_line = std::time::Instant::now();
                    eprintln!(
                        "[{cell}] {label}: {secs:.0} s, {} ops, {} ops/s, {} unique violations so far",
                        report::num(n),
                        report::num(rate as u64),
                        report::num(v)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let statement_timeout = runner::statement_timeout(target.engine, w, args.statement_timeout);
    let r = runner::run_strategy(
        plan,
        strategy,
        target,
        db_name,
        statement_timeout,
        cancel,
        done.clone(),
        violations.clone(),
    )
    .await;
    ticker.abort();
    bar.set_position(done.load(Ordering::Relaxed));
    bar.finish_and_clear();
    if lines && let Ok(Some(run)) = &r {
        let ops = run.recorder.ops();
        let secs = run.elapsed.as_secs_f64();
        let violations = run.recorder.outcomes[crate::db::Outcome::UniqueViolation.index()];
        eprintln!(
            "[{cell}] {label}: done, {} ops in {secs:.1} s, {} ops/s, {} unique violations to the application",
            report::num(ops),
            report::num(if secs > 0.0 {
                (ops as f64 / secs) as u64
            } else {
                0
            }),
            report::num(violations)
        );
    }
    r
}

/// Runs every plan on every server and returns the report (not yet written).
///
/// Each statement is bounded by the scenario's statement timeout (see
/// [`runner::statement_timeout`]); a server lost or stuck mid-run ends its cell with
/// partial figures, and its later cells are skipped (the scenario's `error` says so).
/// Databases created on URL servers are recorded in the run state file until dropped (see
/// [`provision::run_state`]).
pub async fn run_plans(
    plans: &[Plan],
    servers: &[Server],
    args: &RunOptions,
    command: Vec<String>,
    cancel: &CancellationToken,
) -> Report {
    run_plans_lost(plans, servers, args, command, cancel)
        .await
        .0
}

fn add_error(sr: &mut ScenarioReport, e: String) {
    sr.error = Some(match sr.error.take() {
        Some(old) => format!("{old}\n{e}"),
        None => e,
    });
}

/// [`run_plans`], also returning the labels of servers lost mid-run.
async fn run_plans_lost(
    plans: &[Plan],
    servers: &[Server],
    args: &RunOptions,
    command: Vec<String>,
    cancel: &CancellationToken,
) -> (Report, std::collections::BTreeSet<String>) {
    let mut lost = std::collections::BTreeSet::new();
    let run_id = new_run_id();
    provision::run_state::begin(&run_id);
    let mut report = Report {
        format_version: report::FORMAT_VERSION,
        keyrace_version: env!("CARGO_PKG_VERSION").into(),
        run_id: run_id.clone(),
        started_at: now_rfc3339(),
        command,
        interrupted: false,
        servers: servers.iter().map(|s| s.info.clone()).collect(),
        scenarios: Vec::new(),
        interleavings: Vec::new(),
    };
    let mut db_counter = 0u32;
    let mut progress = Progress {
        cell: 0,
        cells: plans
            .iter()
            .map(|p| {
                let mut p = p.clone();
                apply_overrides(&mut p, args);
                let runnable = cells_of(&p, servers)
                    .into_iter()
                    .filter(|&(si, vi)| {
                        matches!(
                            runner::program_for(&p.strategies[si], &servers[vi].target),
                            Some(Ok(_))
                        )
                    })
                    .count();
                runnable as u64 * u64::from(repeat_of(&p, args))
            })
            .sum(),
    };
    'plans: for plan in plans {
        let mut plan = plan.clone();
        apply_overrides(&mut plan, args);
        let repeat = repeat_of(&plan, args);
        let mut sr = ScenarioReport {
            name: plan.name.clone(),
            file: plan.source.display().to_string(),
            description: plan.description.clone(),
            teaches: plan.teaches.clone(),
            claims: plan.claims.clone(),
            workload: serde_json::to_value(&plan.workload).unwrap_or_default(),
            table: serde_json::to_value(&plan.table).unwrap_or_default(),
            results: Vec::new(),
            error: None,
            repeat,
            fastest_safe: Vec::new(),
            claim_verdicts: Vec::new(),
        };
        // Every repetition runs all strategies before the next starts, so drift of the
        // machine (caches, other load) spreads over all of them. A step the server rejects
        // or a broken setup stops the scenario; a strategy whose every operation fails, or a
        // lost server, only ends that cell.
        let cells = cells_of(&plan, servers);
        let mut reps: Vec<Vec<report::StrategyResult>> = vec![Vec::new(); cells.len()];
        let mut stop = false;
        'reps: for _rep in 0..repeat {
            for (i, &(si, vi)) in cells.iter().enumerate() {
                let (strategy, server) = (&plan.strategies[si], &servers[vi]);
                if cancel.is_cancelled() {
                    report.interrupted = true;
                    stop = true;
                    break 'reps;
                }
                let target = &server.target;
                if lost.contains(&target.label) {
                    continue;
                }
                if let Some(Err(why)) = runner::program_for(strategy, target) {
                    if reps[i].is_empty() {
                        reps[i].push(runner::unavailable(&strategy.name, target, &why));
                    }
                    continue;
                }
                db_counter += 1;
                progress.cell += 1;
                let db_name = format!("keyrace_{run_id}_{db_counter}");
                if server.info.provider == "url" {
                    provision::run_state::record_database(target.dialect(), &target.url, &db_name);
                }
                let label = format!("{} · {} · {}", plan.name, strategy.name, target.label);
                let r = run_cell(
                    &plan, strategy, target, &db_name, args, cancel, &progress, &label,
                )
                .await;
                match r {
                    Ok(Some(run)) => {
                        if run.interrupted {
                            report.interrupted = true;
                        }
                        reps[i].push(runner::result_of(
                            &strategy.name,
                            target,
                            &run,
                            &plan.expectations,
                            &plan.workload_for(strategy),
                        ));
                        if let Some(f) = &run.fatal {
                            add_error(&mut sr, f.clone());
                        }
                        if let Some(why) = &run.server_lost {
                            add_error(
                                &mut sr,
                                format!(
                                    "{} was lost mid-run (later cells on it skipped): {why}",
                                    target.label
                                ),
                            );
                            lost.insert(target.label.clone());
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let server_gone = matches!(
                            &e,
                            runner::HarnessError::Server { source, .. }
                                if matches!(source.class, crate::db::Outcome::ConnectionError | crate::db::Outcome::Timeout)
                        );
                        add_error(&mut sr, e.to_string());
                        if server_gone {
                            lost.insert(target.label.clone());
                            continue;
                        }
                        break 'reps;
                    }
                }
            }
        }
        for (i, rs) in reps.into_iter().enumerate() {
            if rs.is_empty() {
                continue;
            }
            let target = &servers[cells[i].1].target;
            sr.results.push(report::combine(
                rs,
                &plan.expectations,
                target.dialect(),
                target.engine.name(),
                &plan.workload_for(&plan.strategies[cells[i].0]),
            ));
        }
        sr.claim_verdicts =
            report::claims::stress_claims(&plan.lesson_claims, &sr, &report.servers);
        report.scenarios.push(sr);
        if stop {
            break 'plans;
        }
    }
    report.conclude();
    provision::run_state::finish(&run_id);
    (report, lost)
}

/// `keyrace check` with servers: for every plan, strategy and given server of a dialect the
/// scenario supports, creates a database, runs the schema and the strategy's setup, and
/// prepares every step (see [`runner::prepare_steps`]), then drops the database. Returns one
/// `ok:` line per file and server.
///
/// Errors: [`AppError::Server`] for an unreachable server; [`AppError::Scenario`] with every
/// rejected step (strategy, step, `file:line:column`, the server's message) or failed setup.
pub async fn check_on_servers(
    plans: &[Plan],
    urls: &[(Dialect, Option<&str>)],
) -> Result<Vec<String>, AppError> {
    let mut servers = Vec::new();
    for &(dialect, url) in urls {
        if let Some(url) = url {
            servers.push(connect_server(dialect, url, "url", None).await?);
        }
    }
    let run_id = new_run_id();
    provision::run_state::begin(&run_id);
    let mut n = 0u32;
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for plan in plans {
        for server in servers
            .iter()
            .filter(|s| runner::schema_for(plan, &s.target).is_some())
        {
            let target = &server.target;
            let mut prepared = 0;
            for strategy in &plan.strategies {
                let Some(Ok(program)) = runner::program_for(strategy, target) else {
                    continue;
                };
                n += 1;
                let db = format!("keyrace_{run_id}_{n}");
                provision::run_state::record_database(target.dialect(), &target.url, &db);
                let r = runner::check_strategy(plan, strategy, program, target, &db).await;
                match r {
                    Ok(steps) => prepared += steps,
                    Err(e) => errors.push(format!("{}: {e}", plan.source.display())),
                }
            }
            lines.push(format!(
                "ok: {} ({prepared} statements prepared on {})",
                plan.source.display(),
                target.label
            ));
        }
    }
    provision::run_state::finish(&run_id);
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(AppError::Scenario(errors))
    }
}

/// Writes the JSON (and, unless `--no-html`, the HTML) results to `--out`, falling back to
/// a temporary directory file by file (see [`report::write::write_report`]).
/// Returns where the JSON and HTML went (`None`: nowhere, or not asked for) and what failed.
pub fn write_results(
    report: &Report,
    args: &RunOptions,
) -> (Option<PathBuf>, Option<PathBuf>, Vec<String>) {
    let w = report::write::write_report(report, &args.out, !args.no_html);
    (w.json, w.html, w.errors)
}

/// The servers of one run, and the throwaway ones keyrace started for it (stopped by
/// [`Resolved::stop`], or synchronously when dropped on an error path or a panic).
#[derive(Debug, Default)]
pub struct Resolved {
    /// Every server, in column order.
    pub servers: Vec<Server>,
    /// Servers keyrace started (local processes, containers).
    pub provisioned: Vec<provision::Server>,
}

impl Resolved {
    /// Stops every server keyrace started and removes its directory.
    pub async fn stop(self) {
        for p in self.provisioned {
            if let Err(e) = p.stop().await {
                tracing::warn!("{e}");
            }
        }
    }
}

/// Resolves the servers for the dialects the scenarios need. Each `--postgres` / `--mysql`
/// spec is a URL, `local`, `docker[:IMAGE:TAG]` or `auto`; with none given, `auto`: the
/// environment's URL, else Docker if an engine answers, else a throwaway local server.
///
/// Errors: [`AppError::Usage`] for a bad spec; [`AppError::Server`] when a server cannot be
/// started or reached (the message says what to install or set); cancelled by Ctrl-C.
pub async fn resolve_servers(
    scenarios: &Scenarios,
    args: &RunOptions,
    cancel: &CancellationToken,
) -> Result<Resolved, AppError> {
    let mut resolved = Resolved::default();
    for dialect in dialects(args)? {
        let needed = scenarios.plans.iter().any(|p| p.supports(dialect))
            || scenarios
                .interleavings
                .iter()
                .any(|p| p.dialects.contains(&dialect))
            || scenarios.apps.iter().any(|p| p.needs(dialect));
        if !needed {
            continue;
        }
        let specs = match dialect {
            Dialect::Postgres => &args.postgres,
            Dialect::Mysql => &args.mysql,
        };
        let specs: Vec<String> = if specs.is_empty() {
            vec!["auto".to_string()]
        } else {
            specs.clone()
        };
        for spec in specs {
            let parsed =
                ServerSpec::parse(dialect, &spec).map_err(|e| AppError::Usage(e.to_string()))?;
            let started = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(AppError::Interrupted("while starting the servers")),
                r = provision::start(dialect, &parsed) => r.map_err(|e| AppError::Server(e.to_string()))?,
            };
            // A cluster is one target with several nodes; its provider reads `galera:N`.
            let nodes = started.nodes.clone();
            let provider = match nodes.len() {
                0 | 1 => started.provider.to_string(),
                n => format!("galera:{n}"),
            };
            let server = tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(AppError::Interrupted("while connecting to the servers")),
                r = connect_server(dialect, &started.url, &provider, started.startup_ms) => r,
            };
            if provider != "url" {
                resolved.provisioned.push(started);
            }
            let mut server = server?;
            server.target.nodes = nodes;
            if provider != "url" {
                server.info.database = format!("{} ({provider})", server.info.database);
                server.target.label = server.info.database.clone();
            }
            resolved.servers.push(server);
        }
    }
    disambiguate(&mut resolved.servers);
    Ok(resolved)
}

/// `keyrace run`, from loading scenarios to writing results.
///
/// Errors: [`AppError`] for bad scenario files, an `--out` that is not a writable
/// directory (checked before any server is started) and unreachable servers; failing
/// expectations are not errors (see [`Report::all_held`]), nor is a failure to write the
/// results at the end (see [`RunOutcome::write_errors`]).
pub async fn run(args: &RunOptions, cancel: &CancellationToken) -> Result<RunOutcome, AppError> {
    args.validate().map_err(AppError::Usage)?;
    if let Some(d) = args.connect_timeout {
        crate::db::set_connect_timeout(d);
    }
    let scenarios = load_all(&args.paths)?;
    run_loaded(&scenarios, args, cancel).await
}

/// [`run`] on scenarios already loaded (and perhaps filtered, as `keyrace lessons` does).
///
/// Errors: as [`run`].
pub async fn run_loaded(
    scenarios: &Scenarios,
    args: &RunOptions,
    cancel: &CancellationToken,
) -> Result<RunOutcome, AppError> {
    check_strategy_names(scenarios, args)?;
    report::write::check_out_dir(&args.out)?;
    let resolved = resolve_servers(scenarios, args, cancel).await?;
    let result = run_on(scenarios, &resolved.servers, args, cancel).await;
    resolved.stop().await;
    result
}

async fn run_on(
    scenarios: &Scenarios,
    servers: &[Server],
    args: &RunOptions,
    cancel: &CancellationToken,
) -> Result<RunOutcome, AppError> {
    if servers.is_empty() && (!scenarios.plans.is_empty() || !scenarios.interleavings.is_empty()) {
        return Err(AppError::Usage(
            "no server to run on: the scenarios support none of the selected dialects".into(),
        ));
    }
    let command = args.paths.iter().map(|p| p.display().to_string()).collect();
    let (mut report, lost) = run_plans_lost(&scenarios.plans, servers, args, command, cancel).await;
    for plan in &scenarios.apps {
        if cancel.is_cancelled() {
            report.interrupted = true;
            break;
        }
        let (sr, infos) = crate::apptarget::run(plan, servers, &report.run_id, cancel).await;
        for i in infos {
            if !report.servers.iter().any(|s| s.database == i.database) {
                report.servers.push(i);
            }
        }
        report.scenarios.push(sr);
        report.conclude();
    }
    let alive: Vec<Server> = servers
        .iter()
        .filter(|s| !lost.contains(&s.target.label))
        .cloned()
        .collect();
    // One database per interleaving file and server, as for a single file, but the next
    // file's is created while this one runs and this one's dropped while the next runs.
    let mut dbs = InterleaveDatabases::new(&alive);
    let files = &scenarios.interleavings;
    for (i, plan) in files.iter().enumerate() {
        if cancel.is_cancelled() {
            report.interrupted = true;
            break;
        }
        if i == 0 {
            dbs.ahead(plan);
        }
        if let Some(next) = files.get(i + 1) {
            dbs.ahead(next);
        }
        // A harness error ends this interleaving only: what was measured before (and the
        // scenarios after it) are still reported and written.
        let result = match run_interleaving_in(plan, &alive, args, cancel, &mut dbs).await {
            Ok(r) => r,
            Err(e) => InterleaveResult {
                scenario: plan.name.clone(),
                file: plan.source.display().to_string(),
                teaches: plan.teaches.clone().unwrap_or_default(),
                outputs: Default::default(),
                summary: String::new(),
                summary_rows: Vec::new(),
                matched_expected: None,
                diffs: Vec::new(),
                report: serde_json::Value::Null,
                error: Some(e.to_string()),
                claims: Vec::new(),
                setup_failed: false,
                stderr: String::new(),
            },
        };
        report.interleavings.push(result);
    }
    for f in dbs.finish().await {
        // A database created ahead for a file that did not run has no file to report on.
        let message = match f.file.as_str() {
            "" => chain(&f.error),
            file => format!("{file}: {}", chain(&f.error)),
        };
        match report.interleavings.iter_mut().find(|r| r.file == f.file) {
            Some(r) if r.error.is_none() => r.error = Some(message),
            _ => eprintln!("error: {message}"),
        }
    }
    let (json_path, html_path, write_errors) = write_results(&report, args);
    Ok(RunOutcome {
        report,
        json_path,
        html_path,
        write_errors,
    })
}

/// Runs one interleaving scenario on every server of its dialects and compares its output
/// with the expected files: `--expected`, else the `expected/` directory beside the scenario
/// when there is one (`--update-expected` writes them instead).
///
/// Errors: [`AppError::Server`] for a harness failure (a server unreachable mid-run),
/// [`AppError::Write`] when expected files cannot be written.
pub async fn run_interleaving(
    plan: &interleave::InterleavePlan,
    servers: &[Server],
    args: &RunOptions,
    cancel: &CancellationToken,
) -> Result<InterleaveResult, AppError> {
    let mut dbs = InterleaveDatabases::new(servers);
    let r = run_interleaving_in(plan, servers, args, cancel, &mut dbs).await;
    let failed = dbs.finish().await;
    let r = r?;
    match failed.into_iter().next() {
        Some(f) => Err(AppError::Server(format!("{}: {}", f.file, chain(&f.error)))),
        None => Ok(r),
    }
}

/// The databases of a run's interleavings, with the lifecycle of a stress run's:
/// `keyrace_<run id>_<n>`, recorded before it is created on a URL server (so `keyrace reap`
/// finds it after a SIGKILL), forgotten once dropped.
struct InterleaveDatabases {
    run_id: String,
    n: u32,
    servers: Vec<Server>,
    dbs: interleave::Databases,
}

impl InterleaveDatabases {
    fn new(servers: &[Server]) -> InterleaveDatabases {
        let run_id = new_run_id();
        provision::run_state::begin(&run_id);
        InterleaveDatabases {
            run_id,
            n: 0,
            servers: servers.to_vec(),
            dbs: interleave::Databases::default(),
        }
    }

    /// A namer for [`interleave::run_in`] and [`interleave::Databases::prepare_ahead`].
    fn namer(
        &mut self,
    ) -> (
        impl FnMut(&Target) -> String + Send + '_,
        &mut interleave::Databases,
    ) {
        let (run_id, n, servers) = (&self.run_id, &mut self.n, &self.servers);
        let name_of = move |t: &Target| {
            *n += 1;
            let name = format!("keyrace_{run_id}_{n}");
            let on_url = servers
                .iter()
                .any(|s| s.target.label == t.label && s.info.provider == "url");
            if on_url {
                provision::run_state::record_database(t.dialect(), &t.url, &name);
            }
            name
        };
        (name_of, &mut self.dbs)
    }

    /// Starts creating the databases `plan` will need.
    fn ahead(&mut self, plan: &interleave::InterleavePlan) {
        let targets: Vec<Target> = self
            .servers
            .iter()
            .map(|s| s.target.clone())
            .filter(|t| interleave::runs_on(plan, t))
            .collect();
        let (mut name_of, dbs) = self.namer();
        dbs.prepare_ahead(&targets, &mut name_of);
    }

    /// Drops what is left and waits for every drop; the drops that failed.
    async fn finish(self) -> Vec<interleave::DropFailure> {
        let failed = self.dbs.finish().await;
        provision::run_state::finish(&self.run_id);
        failed
    }
}

/// [`run_interleaving`] with the run's databases.
async fn run_interleaving_in(
    plan: &interleave::InterleavePlan,
    servers: &[Server],
    args: &RunOptions,
    cancel: &CancellationToken,
    dbs: &mut InterleaveDatabases,
) -> Result<InterleaveResult, AppError> {
    let targets: Vec<Target> = servers.iter().map(|s| s.target.clone()).collect();
    let (mut name_of, databases) = dbs.namer();
    let r = interleave::run_in(plan, &targets, cancel.clone(), 1, databases, &mut name_of).await;
    let r = r
        .map_err(|e| AppError::Server(format!("{}: {e}", plan.source.display())))?
        .pop()
        .ok_or_else(|| AppError::Server(format!("{}: nothing ran", plan.source.display())))?;
    let expected_dir = args.expected.clone().or_else(|| {
        let dir = plan.source.parent().map(|p| p.join("expected"))?;
        (dir.is_dir() || args.update_expected).then_some(dir)
    });
    let (matched, diffs) = match &expected_dir {
        Some(dir) => {
            let diffs = interleave::check_expected(&r, dir, args.update_expected).map_err(|e| {
                AppError::Write {
                    path: dir.clone(),
                    source: std::io::Error::other(e.to_string()),
                }
            })?;
            (
                Some(diffs.is_empty()),
                diffs.into_iter().map(|d| d.diff).collect(),
            )
        }
        None => (None, Vec::new()),
    };
    let mut stderr = String::new();
    let outputs = r
        .targets
        .iter()
        .filter(|t| t.skipped.is_none())
        .map(|t| {
            let text = if args.isolationtester {
                let it = t.render_isolationtester(r.sessions.len());
                stderr.push_str(&it.stderr);
                it.stdout
            } else if args.explain {
                t.render_explained()
            } else {
                t.render_text()
            };
            (t.label.clone(), text)
        })
        .collect();
    Ok(InterleaveResult {
        scenario: r.scenario.clone(),
        file: plan.source.display().to_string(),
        teaches: r.teaches.clone().unwrap_or_default(),
        outputs,
        summary: r.render_summary(),
        summary_rows: r.summary_rows(),
        matched_expected: matched,
        diffs,
        report: serde_json::to_value(&r).unwrap_or_default(),
        error: None,
        claims: interleave::evaluate_claims(plan, &r),
        setup_failed: r
            .targets
            .iter()
            .flat_map(|t| &t.permutations)
            .any(interleave::PermutationReport::setup_failed),
        stderr,
    })
}

/// Runs one scenario file against servers given by URL (`None`: skip that dialect) and
/// returns the report: the entry point for checking an application's insert strategy from
/// its own `cargo test`. Nothing is written to disk; results are in the returned [`Report`]
/// (see [`Report::all_held`] and each [`crate::report::StrategyResult`]).
///
/// Errors: [`AppError::Scenario`] for a bad file (located), [`AppError::Server`] for an
/// unreachable server, [`AppError::Usage`] when no URL is given.
pub async fn run_scenario(
    path: &std::path::Path,
    postgres_url: Option<&str>,
    mysql_url: Option<&str>,
) -> Result<Report, AppError> {
    let plan = scenario::load(path).map_err(|d| AppError::Scenario(vec![d.to_string()]))?;
    let mut servers = Vec::new();
    for (dialect, url) in [
        (Dialect::Postgres, postgres_url),
        (Dialect::Mysql, mysql_url),
    ] {
        if let Some(url) = url.filter(|_| plan.supports(dialect)) {
            servers.push(connect_server(dialect, url, "url", None).await?);
        }
    }
    if servers.is_empty() {
        return Err(AppError::Usage(format!(
            "{}: no URL given for a dialect the scenario supports",
            path.display()
        )));
    }
    disambiguate(&mut servers);
    let args = RunOptions::quiet(std::path::Path::new("results"));
    Ok(run_plans(
        &[plan],
        &servers,
        &args,
        vec![path.display().to_string()],
        &CancellationToken::new(),
    )
    .await)
}

/// `e` and its sources, `: `-separated (`pg 15: dropping database x failed: timeout (…)`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
