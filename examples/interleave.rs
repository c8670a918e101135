//! Try deterministic interleavings before the CLI exists: runs each file given on both engines
//! and prints the isolation-tester style output and a summary table.
//!
//! Usage: `cargo run --example interleave -- [--expected DIR] [--update-expected] [--json] FILE...`
//! URLs come from `KEYRACE_POSTGRES_URL` / `KEYRACE_MYSQL_URL` (defaults: local servers).
//! Exit code: 0 all ran (and matched), 1 an expected output differed, 2 usage or harness error.

use std::path::PathBuf;
use std::process::ExitCode;

use keyrace::interleave::{self, Target};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let mut files = Vec::new();
    let mut expected: Option<PathBuf> = None;
    let mut update = false;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--expected" => expected = args.next().map(PathBuf::from),
            "--update-expected" => update = true,
            "--json" => json = true,
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        eprintln!("usage: interleave [--expected DIR] [--update-expected] [--json] FILE...");
        return ExitCode::from(2);
    }
    let cancel = CancellationToken::new();
    let ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            ctrl_c.cancel();
        }
    });
    let targets = Target::defaults();
    let mut differs = false;
    for file in &files {
        let plan = match interleave::load(file) {
            Ok(p) => p,
            Err(d) => {
                eprintln!("{d}");
                return ExitCode::from(2);
            }
        };
        let report = match interleave::run(&plan, &targets, cancel.clone()).await {
            Ok(r) => r,
            Err(e) => {
                let mut msg = format!("error: {e}");
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(&format!(": {s}"));
                    src = s.source();
                }
                eprintln!("{msg}");
                return ExitCode::from(2);
            }
        };
        if json {
            match serde_json::to_string_pretty(&report) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot serialize the report: {e}"),
            }
        } else {
            for t in &targets {
                println!("==== {} on {} ====", plan.name, t.label);
                print!("{}", report.render_text(&t.label));
                println!();
            }
        }
        if !json {
            println!("{}", report.render_summary());
        }
        if let Some(dir) = expected
            .as_deref()
            .or(update.then_some(std::path::Path::new("scenarios/interleave/expected")))
        {
            match interleave::compare_expected(&report, dir, update) {
                Ok(true) => {}
                Ok(false) => differs = true,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    if differs {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
