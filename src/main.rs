//! The keyrace binary: parse the command line, build the runtime, call the library, and map
//! the result to an exit code (0 held, 1 expectation failed, 2 usage/harness error, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use std::io::Write;

mod cli;

use cli::{Cli, Command, Format, ShowFormat};
use keyrace::db::Dialect;
use keyrace::exit::Ending;
use keyrace::report::table::TableOptions;
use keyrace::report::{self, Report};
use keyrace::{app, strategy};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Server notices (e.g. "there is no transaction in progress") only with -vv.
    // sqlx logs unrecognised URL parameters with their values (`sslpassword=...`): never.
    let filter = match cli.verbose {
        0 => "warn,sqlx::postgres::notice=error,sqlx::query=error,sqlx_postgres::options=error",
        1 => "info,sqlx::postgres::notice=error,sqlx::query=error,sqlx_postgres::options=error",
        _ => "debug,sqlx_postgres::options=error",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    // Last line of defence: throwaway servers are stopped however main is left.
    let _stop_all = keyrace::provision::StopAllOnDrop;
    match cli.command {
        Command::Reap => {
            let reaped = reap_orphans();
            if reaped.reaped.is_empty() {
                eprintln!("no orphaned throwaway servers");
            }
            let databases = reap_databases();
            if reaped.errors.is_empty() {
                databases
            } else {
                code(Ending::Error)
            }
        }
        Command::Run(args) => {
            // Only `run` (which starts servers) and `reap` clean up after killed runs;
            // `check`, `show` and `strategies` never signal or remove anything.
            reap_orphans();
            run(args, cli.threads, false)
        }
        Command::Lessons(args) => {
            reap_orphans();
            run(args, cli.threads, true)
        }
        Command::Check(args) => match app::load_all(&args.paths) {
            Ok(found) if args.postgres.is_some() || args.mysql.is_some() => {
                check_on_servers(&found, &args)
            }
            Ok(found) => {
                let mut text = String::new();
                for p in found.plans {
                    let n = p.strategies.len();
                    text.push_str(&format!(
                        "ok: {} ({n} {})\n",
                        p.source.display(),
                        if n == 1 { "strategy" } else { "strategies" }
                    ));
                }
                for p in found.apps {
                    let count = |n: usize, one: &str, many: &str| {
                        format!("{n} {}", if n == 1 { one } else { many })
                    };
                    let mut what = Vec::new();
                    if !p.endpoints.is_empty() {
                        what.push(count(p.endpoints.len(), "endpoint", "endpoints"));
                    }
                    if !p.commands.is_empty() {
                        what.push(count(p.commands.len(), "command", "commands"));
                    }
                    text.push_str(&format!(
                        "ok: {} ({}, application)\n",
                        p.source.display(),
                        what.join(", ")
                    ));
                }
                for p in found.interleavings {
                    let n = p.sessions.len();
                    text.push_str(&format!(
                        "ok: {} ({n} {}, interleaving)\n",
                        p.source.display(),
                        if n == 1 { "session" } else { "sessions" }
                    ));
                }
                print_out(&text, code(Ending::Done))
            }
            Err(e) => {
                report_error(&e);
                code(Ending::Error)
            }
        },
        Command::Show(args) => match Report::read_json(&args.file) {
            Ok(r) => {
                let opts = TableOptions {
                    width: report::table::terminal_width(),
                    wide: args.wide,
                };
                let text = match args.format {
                    ShowFormat::Table => report::table::render(&r, &opts),
                    ShowFormat::Markdown => report::markdown::render(&r),
                    ShowFormat::Json => json(&r),
                    ShowFormat::Csv => report::csv::render(&r),
                    ShowFormat::Html => report::html::render(&r),
                };
                print_out(&text, exit_code(&r))
            }
            Err(e) => {
                eprintln!("error: {e}");
                code(Ending::Error)
            }
        },
        Command::Compare(args) => compare(&args),
        Command::Strategies => {
            let mut text = format!(
                "{:32} {:10} {:5} {}\n",
                "strategy", "PostgreSQL", "MySQL", "what it does"
            );
            for b in strategy::BUILTINS {
                let mark = |d: Dialect| if exists_on(b, d) { "✓" } else { "–" };
                text.push_str(&format!(
                    "{:32} {:10} {:5} {}\n",
                    b.name,
                    mark(Dialect::Postgres),
                    mark(Dialect::Mysql),
                    b.summary
                ));
            }
            print_out(&text, code(Ending::Done))
        }
    }
}

/// Reaps throwaway servers left by killed keyrace runs, saying what was done and what was
/// refused.
fn reap_orphans() -> keyrace::provision::ReapReport {
    let reaped = keyrace::provision::reap_orphans();
    for r in &reaped.reaped {
        eprintln!(
            "reaped a throwaway server left by a killed keyrace (pid {}): {}",
            r.owner_pid,
            r.dir.display()
        );
    }
    for e in &reaped.errors {
        eprintln!("warning: {e}");
    }
    reaped
}

/// True when the built-in can be built on the dialect for some workload shape.
fn exists_on(b: &strategy::Builtin, dialect: Dialect) -> bool {
    use keyrace::plan::{KeyType, Shape, TableSpec};
    let table = TableSpec {
        name: "t".into(),
        key: "k".into(),
        key_type: KeyType::Text,
        key_format: "k{}".into(),
        counter: Some("n".into()),
        payload: Some("p".into()),
    };
    [Shape::Signup, Shape::Counter, Shape::ReadModifyWrite]
        .into_iter()
        .any(|shape| {
            (b.build)(&strategy::Ctx {
                dialect,
                table: &table,
                shape,
            })
            .is_ok()
        })
}

/// Prints a library error the way a user reads it: located scenario diagnostics as they
/// are (they carry their own `error:`), everything else after `error: `.
fn report_error(e: &app::AppError) {
    match e {
        app::AppError::Scenario(_) => eprintln!("{e}"),
        _ => eprintln!("error: {e}"),
    }
}

/// Writes `text` to stdout; a closed stdout (`| head -1`) ends quietly with `code`.
fn print_out(text: &str, then: ExitCode) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => then,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => then,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            code(Ending::Error)
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

fn compare(args: &cli::CompareArgs) -> ExitCode {
    if args.format == Format::Isolationtester {
        eprintln!("error: --format isolationtester is for `keyrace run` on interleavings");
        return code(Ending::Error);
    }
    let (old, new) = match (Report::read_json(&args.old), Report::read_json(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return code(Ending::Error);
        }
    };
    let c = report::compare::compare(&old, &new, args.threshold);
    let text = match args.format {
        Format::Table => report::compare::render_table(&c, report::table::terminal_width()),
        Format::Markdown => report::compare::render_markdown(&c),
        Format::Json => json(&c),
        Format::Csv | Format::Isolationtester => report::compare::render_csv(&c),
    };
    print_out(&text, code(Ending::Compared(&c)))
}

/// The exit code of a run's report, for `run` and `show` alike (see [`keyrace::exit`]).
fn exit_code(report: &Report) -> ExitCode {
    code(Ending::Report {
        report,
        unwritten: false,
    })
}

/// The process exit code of `ending`.
fn code(ending: Ending<'_>) -> ExitCode {
    ExitCode::from(keyrace::exit::exit_code(ending))
}

/// `keyrace run`, or with `lessons` `keyrace lessons` (only scenarios with claims; the
/// table format lists the claims).
fn run(args: cli::RunArgs, threads: u16, lessons: bool) -> ExitCode {
    // One thread by default: the sessions spend their time waiting on the server, and on a
    // machine the server shares every cross-thread wake-up (futex, work stealing) is CPU
    // taken from it. `--threads N` for a work-stealing runtime when the client needs more.
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(usize::from(threads));
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return code(Ending::Error);
        }
    };
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        // First SIGINT/SIGTERM/SIGHUP: cancel, finish the step, drop databases, stop servers,
        // write partial results. Second: stop servers at once and exit 130.
        if let Err(e) = keyrace::provision::install_signal_handlers(cancel.clone()) {
            eprintln!("error: {e}");
            return code(Ending::Error);
        }
        let options = args.options();
        let outcome = if lessons {
            keyrace::lessons::run_lessons(&options, &cancel).await
        } else {
            app::run(&options, &cancel).await
        };
        match outcome {
            Ok(out) => {
                let opts = TableOptions {
                    width: report::table::terminal_width(),
                    wide: args.wide,
                };
                let text = match args.output_format() {
                    Format::Table if lessons => report::claims::render_lessons(
                        &keyrace::lessons::lesson_lines(&out.report),
                        opts.width,
                    ),
                    Format::Table => {
                        report::table::render(&out.report, &opts)
                            + &report::errors::render(&out.report)
                    }
                    Format::Markdown => report::markdown::render(&out.report),
                    Format::Json => json(&out.report),
                    Format::Csv => report::csv::render(&out.report),
                    Format::Isolationtester => {
                        // Each interleaving's output per server, as the isolation tester
                        // prints it; its stderr lines (and keyrace's errors) to stderr.
                        let mut text = String::new();
                        for i in &out.report.interleavings {
                            for o in i.outputs.values() {
                                text.push_str(o);
                            }
                            eprint!("{}", i.stderr);
                            if let Some(e) = &i.error {
                                eprintln!("error: {}: {e}", i.file);
                            }
                        }
                        text
                    }
                };
                let printed = print_out(&text, code(Ending::Done));
                for s in out.report.scenarios.iter() {
                    for e in s.error.iter().flat_map(|e| e.lines()) {
                        eprintln!("error: {}: {e}", s.file);
                    }
                }
                for e in &out.write_errors {
                    eprintln!("error: {e}");
                }
                // A file that could not go to --out went to the fallback directory.
                let moved = |p: &std::path::Path| !p.starts_with(&args.out);
                match &out.json_path {
                    Some(j) if moved(j) => eprintln!("results written instead to: {}", j.display()),
                    Some(j) => eprintln!("results: {}", j.display()),
                    None => eprintln!("error: the results could not be written anywhere; the table above is all that is left"),
                }
                match &out.html_path {
                    Some(h) if moved(h) => eprintln!("html written instead to: {}", h.display()),
                    Some(h) => eprintln!("html: {}", h.display()),
                    None => {}
                }
                if printed != code(Ending::Done) {
                    printed
                } else {
                    code(Ending::Report {
                        report: &out.report,
                        unwritten: !out.write_errors.is_empty(),
                    })
                }
            }
            Err(e @ app::AppError::Interrupted(_)) => {
                eprintln!("{e}");
                code(Ending::Interrupted)
            }
            Err(e) => {
                report_error(&e);
                code(Ending::Error)
            }
        }
    })
}

/// `keyrace check --postgres URL --mysql URL`: prepare every step on the servers.
fn check_on_servers(found: &app::Scenarios, args: &cli::CheckArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return code(Ending::Error);
        }
    };
    let urls = [
        (keyrace::db::Dialect::Postgres, args.postgres.as_deref()),
        (keyrace::db::Dialect::Mysql, args.mysql.as_deref()),
    ];
    match runtime.block_on(app::check_on_servers(&found.plans, &urls)) {
        Ok(lines) => print_out(&(lines.join("\n") + "\n"), code(Ending::Done)),
        Err(e) => {
            report_error(&e);
            code(Ending::Error)
        }
    }
}

/// `keyrace reap`, second half: drop the databases that killed runs left on URL servers.
fn reap_databases() -> ExitCode {
    match keyrace::provision::run_state::reap_run_databases() {
        Ok(r) => {
            for (db, server) in &r.dropped {
                eprintln!("dropped database {db} left by a killed keyrace on {server}");
            }
            for (db, server, why) in &r.kept {
                eprintln!("kept database {db} on {server} (tried again next time): {why}");
            }
            for (path, why) in &r.ignored {
                eprintln!("ignored {}: {why}", path.display());
            }
            if r.dropped.is_empty() && r.kept.is_empty() {
                eprintln!("no databases left by killed runs");
            }
            code(Ending::Done)
        }
        Err(e) => {
            eprintln!("error: {e}");
            code(Ending::Error)
        }
    }
}
