//! The command line: subcommands and flags (clap derive), each with a doc comment and,
//! where it makes sense, an environment variable fallback.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Reproduce the races behind duplicate-key errors (PostgreSQL 23505, MySQL/MariaDB 1062)
/// and measure which insert strategy holds up.
///
/// Exit codes: 0 all expectations held; 1 an expectation failed; 2 usage, scenario-file or
/// harness error; 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "keyrace", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log more (-v: info, -vv: debug); or set RUST_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Threads that drive the sessions: 1 runs them all on one thread (the least CPU taken
    /// from a server on the same machine); N > 1 uses a work-stealing runtime with N threads.
    #[arg(long, global = true, env = "KEYRACE_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// Run scenario files (or directories of them) against PostgreSQL and MySQL/MariaDB.
    Run(RunArgs),
    /// Check scenario files without running them (exit 2 on the first bad file).
    Check(CheckArgs),
    /// Re-render a saved results file.
    Show(ShowArgs),
    /// Compare two results files (before/after a change, a server upgrade, a setting):
    /// verdict and violation-count changes first, then ops/s, p50 and p99 as ratios with
    /// their uncertainty, flagged regressed / improved only beyond the noise of both runs.
    /// Databases of another server version are matched by engine. Exit 1 on a verdict
    /// regression, or (with `--threshold`) on a performance regression beyond it; else 0.
    Compare(CompareArgs),
    /// Run the lessons (scenarios with `[[claim]]`s quoted from articles) under the paths
    /// and list one line per claim with its verdict per server (confirmed, refuted,
    /// nuanced), then the evidence that decided each. Takes `run`'s flags.
    Lessons(RunArgs),
    /// List the built-in strategies and where they exist.
    Strategies,
    /// Stop throwaway servers left by a keyrace that was killed (SIGKILL), and remove their
    /// directories. Every keyrace command does this first; this one does only that.
    Reap,
}

/// `keyrace run`
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Scenario files (.toml, .spec) or directories searched recursively.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// PostgreSQL server: a URL (postgres://user:pass@host:port/db), `local` (a throwaway
    /// server from the installed binaries), `docker` / `docker:IMAGE:TAG` (e.g.
    /// docker:postgres:17), or `auto` (the default: URL, else Docker, else local). Repeat to
    /// compare servers side by side.
    #[arg(
        long = "postgres",
        env = "KEYRACE_POSTGRES_URL",
        hide_env_values = true,
        value_name = "SPEC",
        value_delimiter = ','
    )]
    pub postgres: Vec<String>,
    /// MySQL/MariaDB server: a URL (mysql://user:pass@host:port/db), `local`, `docker` /
    /// `docker:IMAGE:TAG` (e.g. docker:mysql:8.4, docker:mariadb:11.4), or `auto` (the
    /// default). Repeat to compare servers side by side.
    #[arg(
        long = "mysql",
        env = "KEYRACE_MYSQL_URL",
        hide_env_values = true,
        value_name = "SPEC",
        value_delimiter = ','
    )]
    pub mysql: Vec<String>,
    /// Run on these dialects only (postgres, mysql).
    #[arg(long, value_name = "DIALECT", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Run only these strategies (by name).
    #[arg(long = "strategy", value_name = "NAME", value_delimiter = ',')]
    pub strategies: Vec<String>,
    /// Override the number of workers (concurrent sessions), 1 to 10,000 (each holds a
    /// connection: the server's max_connections must allow them).
    #[arg(long, value_parser = parse_workers)]
    pub workers: Option<usize>,
    /// Override the number of operations per strategy and database, 1 to 10^12.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub operations: Option<u64>,
    /// Override the run length per strategy and database (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Limit on each statement (e.g. 5s, 500ms): one that gets no answer in time is counted
    /// as `timeout` and cancelled from a side connection. Default: the scenario's lock wait
    /// limit plus 5 s (see docs/scenario-format.md).
    #[arg(long, value_parser = parse_duration, env = "KEYRACE_STATEMENT_TIMEOUT")]
    pub statement_timeout: Option<std::time::Duration>,
    /// Limit on opening a connection (TCP, TLS, start-up, authentication); default 10s.
    #[arg(long, value_parser = parse_duration, env = "KEYRACE_CONNECT_TIMEOUT")]
    pub connect_timeout: Option<std::time::Duration>,
    /// Override the key seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Directory for the JSON (and HTML) results, checked before the run starts. Files are
    /// written atomically; one that cannot be written there at the end goes to
    /// $TMPDIR/keyrace-results-<uid>/ instead (and keyrace says so and exits 2).
    #[arg(long = "out", default_value = "results", env = "KEYRACE_OUT")]
    pub out: PathBuf,
    /// Do not write the HTML page.
    #[arg(long)]
    pub no_html: bool,
    /// Print the report as JSON on stdout instead of the table (short for `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// What to print on stdout: the terminal table, Markdown (for a pull request), the
    /// JSON report, or CSV (one line per strategy × database).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The table with every column, however wide (default: the columns that fit the terminal).
    #[arg(long)]
    pub wide: bool,
    /// Run each strategy × database N times (all strategies once, then all again ...) and
    /// report the median with its spread; overrides `repeat` in the scenario file.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: Option<u32>,
    /// No progress bars.
    #[arg(short, long)]
    pub quiet: bool,
    /// Interleaving scenarios: compare the output with this file (exit 1 on a difference).
    #[arg(long, value_name = "FILE")]
    pub expected: Option<PathBuf>,
    /// Interleaving scenarios: write the output as the new expected file.
    #[arg(long)]
    pub update_expected: bool,
    /// Interleaving scenarios: under each `<waiting ...>` line, say which session blocks the
    /// step and on what lock (PostgreSQL pg_locks, InnoDB lock waits, MySQL 8
    /// data_lock_waits). The JSON results always have it.
    #[arg(long)]
    pub explain: bool,
}

/// `keyrace check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files or directories.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Also prepare every step of every strategy on this PostgreSQL server (a URL), in a
    /// database keyrace creates with the scenario's schema and drops again.
    #[arg(long = "postgres", value_name = "URL")]
    pub postgres: Option<String>,
    /// The same on this MySQL/MariaDB server (a URL).
    #[arg(long = "mysql", value_name = "URL")]
    pub mysql: Option<String>,
}

/// `keyrace show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A results file written by `keyrace run`.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ShowFormat,
    /// The table with every column, however wide.
    #[arg(long)]
    pub wide: bool,
}

/// `keyrace compare`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The results file before the change.
    pub old: PathBuf,
    /// The results file after the change.
    pub new: PathBuf,
    /// Flag a change of ops/s, p50 or p99 as regressed / improved only beyond this many
    /// percent (and, for runs with repetitions, beyond their noise too); exit 1 on such a
    /// regression. Without it, performance changes are shown but never fail the comparison.
    #[arg(long, value_name = "PCT")]
    pub threshold: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Formats of `run`'s and `compare`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table fitted to the terminal's width.
    Table,
    /// Markdown tables, for pasting into a pull request.
    Markdown,
    /// JSON, pretty-printed.
    Json,
    /// CSV, one line per strategy × database.
    Csv,
    /// Interleavings only (`run`): each server's output byte for byte as PostgreSQL 15's
    /// isolation tester prints it (what it prints on stderr goes to stderr), for diffing
    /// against expected files written for it.
    Isolationtester,
}

/// Formats `keyrace show` can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    /// The terminal comparison table.
    Table,
    /// Markdown tables, for pasting into a pull request.
    Markdown,
    /// The JSON itself, pretty-printed.
    Json,
    /// CSV, one line per strategy × database.
    Csv,
    /// The HTML page.
    Html,
}

impl RunArgs {
    /// The output format: `--format`, or JSON for `--json`, else the table.
    pub fn output_format(&self) -> Format {
        match (self.format, self.json) {
            (Some(f), _) => f,
            (None, true) => Format::Json,
            (None, false) => Format::Table,
        }
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    keyrace::scenario::parse_duration(s).map_err(|e| e.to_string())
}

impl RunArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> keyrace::options::RunOptions {
        keyrace::options::RunOptions {
            paths: self.paths.clone(),
            postgres: self.postgres.clone(),
            mysql: self.mysql.clone(),
            only: self.only.clone(),
            strategies: self.strategies.clone(),
            workers: self.workers,
            operations: self.operations,
            duration: self.duration,
            statement_timeout: self.statement_timeout,
            connect_timeout: self.connect_timeout,
            seed: self.seed,
            out: self.out.clone(),
            no_html: self.no_html,
            repeat: self.repeat,
            quiet: self.quiet,
            expected: self.expected.clone(),
            update_expected: self.update_expected,
            explain: self.explain,
            isolationtester: self.output_format() == Format::Isolationtester,
        }
    }
}

/// `--workers`: 1 to 10,000, the range the scenario file accepts.
fn parse_workers(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if (1..=10_000).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be from 1 to 10000, found {n}"))
    }
}
