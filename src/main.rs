//! The keyrace binary: parse the command line, build the runtime, call the library, and map
//! the result to an exit code (0 held, 1 expectation failed, 2 usage/harness error, 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use keyrace::cli::{Cli, Command, ShowFormat};
use keyrace::report::{self, Report};
use keyrace::{app, strategy};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Server notices (e.g. "there is no transaction in progress") only with -vv.
    let filter = match cli.verbose {
        0 => "warn,sqlx::postgres::notice=error,sqlx::query=error",
        1 => "info,sqlx::postgres::notice=error,sqlx::query=error",
        _ => "debug",
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
    let reaped = keyrace::provision::reap_orphans();
    for r in &reaped.reaped {
        eprintln!(
            "reaped a throwaway server left by a killed keyrace (pid {}): {}",
            r.owner_pid,
            r.dir.display()
        );
    }
    match cli.command {
        Command::Reap => {
            if reaped.reaped.is_empty() {
                eprintln!("no orphaned throwaway servers");
            }
            ExitCode::SUCCESS
        }
        Command::Run(args) => run(args, cli.threads),
        Command::Check(args) => match app::load_all(&args.paths) {
            Ok(found) => {
                for p in found.plans {
                    println!(
                        "ok: {} ({} strategies)",
                        p.source.display(),
                        p.strategies.len()
                    );
                }
                for p in found.interleavings {
                    println!(
                        "ok: {} ({} sessions, interleaving)",
                        p.source.display(),
                        p.sessions.len()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Show(args) => match Report::read_json(&args.file) {
            Ok(r) => {
                match args.format {
                    ShowFormat::Table => print!("{}", report::table::render(&r)),
                    ShowFormat::Json => {
                        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default())
                    }
                    ShowFormat::Html => print!("{}", report::html::render(&r)),
                }
                exit_code(&r)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Strategies => {
            for b in strategy::BUILTINS {
                println!("{:32} {}", b.name, b.summary);
            }
            ExitCode::SUCCESS
        }
    }
}

/// The exit code of a run's report, for `run` and `show` alike: 130 interrupted, 2 a harness
/// error in a scenario, 0 every expectation held, 1 one failed.
fn exit_code(report: &Report) -> ExitCode {
    if report.interrupted {
        ExitCode::from(130)
    } else if report.has_errors() {
        ExitCode::from(2)
    } else if report.all_held() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run(args: keyrace::cli::RunArgs, threads: u16) -> ExitCode {
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
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        // First SIGINT/SIGTERM/SIGHUP: cancel, finish the step, drop databases, stop servers,
        // write partial results. Second: stop servers at once and exit 130.
        if let Err(e) = keyrace::provision::install_signal_handlers(cancel.clone()) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        match app::run(&args, &cancel).await {
            Ok(out) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&out.report).unwrap_or_default()
                    );
                } else {
                    print!("{}", report::table::render(&out.report));
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
                if !out.write_errors.is_empty() && !out.report.interrupted {
                    ExitCode::from(2)
                } else {
                    exit_code(&out.report)
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    })
}
