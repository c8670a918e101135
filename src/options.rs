//! What a `keyrace run` is asked to do, as plain data: the library's entry point takes this
//! (never the command line); the binary maps its flags onto it.

use std::path::PathBuf;
use std::time::Duration;

/// The options of one run. Build it with [`RunOptions::quiet`] and change what you need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Scenario files (.toml, .spec) or directories searched recursively.
    pub paths: Vec<PathBuf>,
    /// PostgreSQL servers: URLs, `local`, `local:<major>`, `docker[:IMAGE:TAG]` or `auto`.
    /// Empty: `auto`.
    pub postgres: Vec<String>,
    /// MySQL/MariaDB servers: URLs, `local`, `galera:<nodes>`, `docker[:IMAGE:TAG]` or
    /// `auto`. Empty: `auto`.
    pub mysql: Vec<String>,
    /// Run on these dialects only (`postgres`, `mysql`); empty: all.
    pub only: Vec<String>,
    /// Run only these strategies (by name); empty: all.
    pub strategies: Vec<String>,
    /// Workers for every scenario (1 to 10,000), replacing the scenario's.
    pub workers: Option<usize>,
    /// Operations per strategy and database (1 to 10^12), replacing the scenario's.
    pub operations: Option<u64>,
    /// Run length per strategy and database, replacing the scenario's.
    pub duration: Option<Duration>,
    /// Limit on each statement (default: the scenario's lock wait limit plus 5 s).
    pub statement_timeout: Option<Duration>,
    /// Limit on opening a connection (default 10 s).
    pub connect_timeout: Option<Duration>,
    /// Key seed, replacing the scenario's.
    pub seed: Option<u64>,
    /// Directory for the JSON (and HTML) results.
    pub out: PathBuf,
    /// Do not write the HTML page.
    pub no_html: bool,
    /// Repetitions of each strategy × database (1 to 1000), replacing the scenario's.
    pub repeat: Option<u32>,
    /// No progress bars or progress lines.
    pub quiet: bool,
    /// Interleavings: compare the output with this file.
    pub expected: Option<PathBuf>,
    /// Interleavings: write the output as the new expected file.
    pub update_expected: bool,
    /// Interleavings: under each `<waiting ...>` line, say who blocks the step and on what
    /// (the JSON always has it).
    pub explain: bool,
    /// Interleavings: the per-server outputs are PostgreSQL's isolation tester's, byte for
    /// byte (`--format isolationtester`), with what it prints on stderr kept apart.
    pub isolationtester: bool,
}

impl RunOptions {
    /// `keyrace run --quiet --no-html --out OUT` on `scenarios/`, with the servers of
    /// `KEYRACE_POSTGRES_URL` / `KEYRACE_MYSQL_URL` when set (comma-separated, as the flags
    /// take them), else `auto`: for library callers and tests.
    pub fn quiet(out: &std::path::Path) -> RunOptions {
        let env_list = |name: &str| -> Vec<String> {
            std::env::var(name)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        RunOptions {
            paths: vec![PathBuf::from("scenarios")],
            postgres: env_list("KEYRACE_POSTGRES_URL"),
            mysql: env_list("KEYRACE_MYSQL_URL"),
            only: Vec::new(),
            strategies: Vec::new(),
            workers: None,
            operations: None,
            duration: None,
            statement_timeout: None,
            connect_timeout: None,
            seed: None,
            out: out.to_path_buf(),
            no_html: true,
            repeat: None,
            quiet: true,
            expected: None,
            update_expected: false,
            explain: false,
            isolationtester: false,
        }
    }

    /// Checks the overrides against the ranges a scenario file accepts, so a library caller
    /// cannot get past what the command line and the file format refuse.
    ///
    /// Errors: a message naming the option, the range and the value found.
    pub fn validate(&self) -> Result<(), String> {
        let max_workers = crate::scenario::MAX_WORKERS;
        if let Some(n) = self.workers
            && !(1..=max_workers as usize).contains(&n)
        {
            return Err(format!(
                "--workers must be from 1 to {max_workers}, found {n}"
            ));
        }
        if let Some(n) = self.operations
            && !(1..=1_000_000_000_000).contains(&n)
        {
            return Err(format!("--operations must be from 1 to 10^12, found {n}"));
        }
        if let Some(n) = self.repeat
            && !(1..=1000).contains(&n)
        {
            return Err(format!("--repeat must be from 1 to 1000, found {n}"));
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return Err("--duration must be longer than 0".into());
        }
        Ok(())
    }
}
