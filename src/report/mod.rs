//! The report: one serde struct holding plan, environment and results. Every renderer
//! (terminal table, Markdown, CSV, JSON, HTML) is a pure function of it, so `keyrace show` and `keyrace compare` re-render a
//! saved run. Field names are a contract (see `docs/results-schema.json`).

mod build;
pub mod claims;
pub mod compare;
pub mod csv;
pub mod errors;
pub mod html;
pub mod markdown;
pub mod repeat;
pub mod stats;
pub mod table;
mod tally;
pub mod verdict;
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use build::{evaluate, run_figures};
pub use repeat::combine;
pub use tally::Tally;

use crate::expect::Verdict as Check;
use crate::metrics::{CdfPoint, Latency, PerSecond};
use crate::vocab::Outcome;
pub use stats::{Spread, Stat};
pub use verdict::{FastestSafe, Verdict, VerdictLevel};

/// A count with thousands separators (`12,345`), as both renderers print counts.
pub fn num(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Version of the results format; bumped when a field changes meaning or is removed.
pub const FORMAT_VERSION: u32 = 1;

/// One run of keyrace: every scenario it ran, on every server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Results format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// keyrace's version.
    pub keyrace_version: String,
    /// Short random id of the run; also in the names of the databases it created.
    pub run_id: String,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// The command line's scenario paths.
    pub command: Vec<String>,
    /// True when Ctrl-C stopped the run: figures are partial.
    pub interrupted: bool,
    /// The servers, in column order.
    pub servers: Vec<ServerInfo>,
    /// One entry per scenario file.
    pub scenarios: Vec<ScenarioReport>,
    /// One entry per interleaving scenario (sessions and permutations).
    #[serde(default)]
    pub interleavings: Vec<InterleaveResult>,
}

/// An interleaving scenario's run: isolation-tester style output per server, the summary
/// table, and whether it matched the expected files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterleaveResult {
    /// Scenario name.
    pub scenario: String,
    /// The file.
    pub file: String,
    /// What it teaches.
    pub teaches: String,
    /// Server label → the per-permutation output.
    pub outputs: BTreeMap<String, String>,
    /// Permutation → outcome per server, side by side.
    pub summary: String,
    /// The same as data: a header row (permutation, then one label per server), then one
    /// row per permutation; the terminal renderer fits it to the width. Empty in results
    /// written before it existed (the pre-rendered `summary` is printed then).
    #[serde(default)]
    pub summary_rows: Vec<Vec<String>>,
    /// `Some(true)` when the output matched the expected files, `Some(false)` when it
    /// differed, `None` when there were none to compare with.
    pub matched_expected: Option<bool>,
    /// Unified diffs of the differences.
    pub diffs: Vec<String>,
    /// The full structured report (steps, waits, errors with codes).
    pub report: serde_json::Value,
    /// Set when the interleaving could not run (a server lost, a database not created):
    /// the run goes on with the next scenario and exits 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The scenario's claims (a lesson), each with its verdict and evidence per server;
    /// empty for scenarios without `[[claim]]` and in results written before lessons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<crate::lesson::ClaimResult>,
    /// True when a setup block failed on some server: the run there stopped (as
    /// PostgreSQL's isolation tester exits 1), and `keyrace run` exits 1.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub setup_failed: bool,
    /// With `--format isolationtester`: what the isolation tester would print on stderr
    /// (failed setup or teardown blocks), per server in `outputs` order.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
}

impl InterleaveResult {
    /// The claims' predicted verdicts, one per claim × server with a prediction: whether
    /// each held.
    pub fn claim_predictions(&self) -> impl Iterator<Item = bool> + '_ {
        self.claims
            .iter()
            .flat_map(|c| &c.servers)
            .filter(|s| s.predicted.is_some())
            .map(crate::lesson::ClaimOnServer::prediction_held)
    }
}

/// A server keyrace ran on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The label reports use (engine, version, provider).
    pub database: String,
    /// `postgres` or `mysql`.
    pub dialect: String,
    /// The engine keyrace recognised (`postgres`, `mariadb`, `mysql8`, `galera`; see
    /// `db::backend`); empty in reports written before engines were told apart.
    #[serde(default)]
    pub engine: String,
    /// Where it came from: `url`, `local` or `docker`.
    pub provider: String,
    /// `SELECT version()`.
    pub version: String,
    /// Host and port.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The URL with its password redacted.
    pub url: String,
    /// Settings that change outcomes (isolation, max_connections, innodb_autoinc_lock_mode ...).
    pub settings: BTreeMap<String, String>,
    /// Time to start a throwaway server, ms.
    pub startup_ms: Option<u64>,
}

/// One scenario's plan summary and results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// Scenario name.
    pub name: String,
    /// The file.
    pub file: String,
    /// Description.
    pub description: String,
    /// What it teaches.
    pub teaches: String,
    /// The seed-article claims it tests.
    pub claims: Vec<String>,
    /// The workload as run (after command-line overrides), including `seed`.
    pub workload: serde_json::Value,
    /// The table spec.
    pub table: serde_json::Value,
    /// One entry per strategy × database.
    pub results: Vec<StrategyResult>,
    /// A harness error that stopped this scenario (setup SQL failed, server unreachable).
    pub error: Option<String>,
    /// Repetitions of every strategy × database (`--repeat`, `repeat` in the file); 1 when
    /// absent (results written before repetitions existed).
    #[serde(default = "one")]
    pub repeat: u32,
    /// The fastest safe strategy per database (see [`verdict::fastest_safe`]).
    #[serde(default)]
    pub fastest_safe: Vec<FastestSafe>,
    /// The scenario's `[[claim]]`s (a stress lesson), each with its verdict per server;
    /// empty without claims and in results written before lessons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_verdicts: Vec<crate::lesson::ClaimResult>,
}

fn one() -> u32 {
    1
}

/// Outcome counts by class (final outcome of each operation, or handled errors).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    /// Rows inserted.
    pub inserted: u64,
    /// Existing rows left alone.
    pub existed: u64,
    /// Existing rows changed.
    pub updated: u64,
    /// Unique violations (23505 / 1062).
    pub unique_violation: u64,
    /// Deadlocks (40P01 / 1213).
    pub deadlock: u64,
    /// Serialization failures (40001 / 1020).
    pub serialization_failure: u64,
    /// Lock wait timeouts (55P03 / 1205).
    pub lock_timeout: u64,
    /// Statements the server cancelled (57014 / 1969 / 3024); absent from results written
    /// before the class existed (counted as lock timeouts then).
    #[serde(default)]
    pub query_canceled: u64,
    /// Connection errors.
    pub connection_error: u64,
    /// Statements that missed keyrace's per-statement deadline (or the end of the run) and
    /// were cancelled.
    #[serde(default)]
    pub timeout: u64,
    /// Other errors (codes in `other_codes`).
    pub other: u64,
}

impl Outcomes {
    /// From counts indexed by [`Outcome::index`].
    pub fn from_array(a: &[u64; Outcome::COUNT]) -> Outcomes {
        Outcomes {
            inserted: a[Outcome::Inserted.index()],
            existed: a[Outcome::Existed.index()],
            updated: a[Outcome::Updated.index()],
            unique_violation: a[Outcome::UniqueViolation.index()],
            deadlock: a[Outcome::Deadlock.index()],
            serialization_failure: a[Outcome::SerializationFailure.index()],
            lock_timeout: a[Outcome::LockTimeout.index()],
            query_canceled: a[Outcome::QueryCanceled.index()],
            connection_error: a[Outcome::ConnectionError.index()],
            timeout: a[Outcome::Timeout.index()],
            other: a[Outcome::Other.index()],
        }
    }

    /// The count of one class.
    pub fn get(&self, o: Outcome) -> u64 {
        match o {
            Outcome::Inserted => self.inserted,
            Outcome::Existed => self.existed,
            Outcome::Updated => self.updated,
            Outcome::UniqueViolation => self.unique_violation,
            Outcome::Deadlock => self.deadlock,
            Outcome::SerializationFailure => self.serialization_failure,
            Outcome::LockTimeout => self.lock_timeout,
            Outcome::QueryCanceled => self.query_canceled,
            Outcome::ConnectionError => self.connection_error,
            Outcome::Timeout => self.timeout,
            Outcome::Other => self.other,
        }
    }

    /// Operations that ended in an error class.
    pub fn errors(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_error())
            .map(|&o| self.get(o))
            .sum()
    }
}

/// One strategy on one database: the comparison's unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StrategyResult {
    /// Strategy name.
    pub strategy: String,
    /// Server label (see [`ServerInfo::database`]).
    pub database: String,
    /// `postgres` or `mysql`.
    pub dialect: String,
    /// False when the strategy does not exist on this dialect (see `note`).
    pub available: bool,
    /// Why it was not run, or what stopped it early.
    pub note: Option<String>,
    /// Isolation level the sessions ran at (read back from the server).
    pub isolation: String,
    /// Operations finished.
    pub ops: u64,
    /// Measured wall time, s.
    pub duration_s: f64,
    /// Throughput, operations per second.
    pub ops_per_sec: f64,
    /// Latency of all operations, µs (from the first attempt's start to the end of the last).
    pub latency_us: Latency,
    /// Latency per final outcome class, µs.
    pub latency_by_outcome_us: BTreeMap<String, Latency>,
    /// Final outcome of each operation.
    pub outcomes: Outcomes,
    /// Errors handled inside operations: retried, or caught and followed by a select.
    pub handled: Outcomes,
    /// Codes (SQLSTATE / error number) of `other` errors, with counts.
    pub other_codes: BTreeMap<String, u64>,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Time from the start to the first unique violation (handled or not), ms.
    pub time_to_first_violation_ms: Option<f64>,
    /// Per-second operations and outcome classes since the start (empty when not run).
    #[serde(default)]
    pub per_second: PerSecond,
    /// Latency distribution of all operations, µs: at most 56 points of the CDF.
    #[serde(default)]
    pub latency_cdf_us: Vec<CdfPoint>,
    /// Rows the run added.
    pub rows: u64,
    /// Extra rows per key (only possible without the unique constraint).
    pub duplicate_rows: u64,
    /// Acknowledged increments missing from counter totals.
    pub lost_updates: u64,
    /// Keys acknowledged as written but absent.
    pub missing_rows: u64,
    /// Rows or increments present that no client saw acknowledged.
    pub unacknowledged: u64,
    /// The scenario's expectations for this strategy × database ("predictions").
    pub expectations: Vec<Check>,
    /// The verdict from the figures alone (see [`verdict::judge`]); `None` when the strategy
    /// did not run here. Computed on load for results written before verdicts existed.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// Median, min–max and 95 % interval over repetitions; `None` for a single run.
    #[serde(default)]
    pub spread: Option<Spread>,
    /// Every repetition's own figures, in run order, when the cell ran more than once. The
    /// figures above then aggregate them: counts and `duration_s` are sums, `ops_per_sec`
    /// and latencies medians, the verdict the worst.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repetitions: Vec<StrategyResult>,
    /// True when the figures are partial: the run was interrupted, its server was lost or
    /// stopped answering, or the table could not be checked afterwards (see `note`).
    #[serde(default)]
    pub partial: bool,
    /// Every error code that ended operations, with the first message and step.
    #[serde(default)]
    pub errors: Vec<ErrorSummary>,
    /// Figures named by the user: values of verification queries and measurements of an
    /// application race (`release_spread_p50_us` ...); expectations may bound them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, f64>,
}

/// The operations that ended in one error code, with the server's first message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// SQLSTATE (PostgreSQL), error number (MySQL/MariaDB), or a client tag (`io`,
    /// `timeout`, `connect_timeout` ...).
    pub code: String,
    /// The outcome class (`unique_violation`, `other` ...).
    pub class: String,
    /// Operations that ended in it.
    pub count: u64,
    /// The server's message of the first one.
    pub message: String,
    /// The step that raised the first one (`insert`, `COMMIT` ...).
    pub step: String,
}

impl StrategyResult {
    /// The value of a figure an expectation can name (see [`crate::expect::FIGURES`]).
    pub fn figure(&self, name: &str) -> Option<f64> {
        if let Some(o) = Outcome::parse(name) {
            return Some(self.outcomes.get(o) as f64);
        }
        let v = match name {
            "ops" => self.ops,
            "errors" => self.outcomes.errors(),
            "retries" => self.retries,
            "duplicate_rows" => self.duplicate_rows,
            "lost_updates" => self.lost_updates,
            "missing_rows" => self.missing_rows,
            "rows" => self.rows,
            "handled_unique_violation" => self.handled.unique_violation,
            "handled_deadlock" => self.handled.deadlock,
            "handled_serialization_failure" => self.handled.serialization_failure,
            "ops_per_sec" => return Some(self.ops_per_sec),
            "p50_us" => self.latency_us.p50,
            "p99_us" => self.latency_us.p99,
            _ => return self.figures.get(name).copied(),
        };
        Some(v as f64)
    }

    /// True when every expectation held.
    pub fn held(&self) -> bool {
        self.expectations.iter().all(|v| v.held)
    }
}

impl Report {
    /// Fills in what is derived from the figures: each result's verdict (when missing) and
    /// each scenario's fastest safe strategies. Idempotent; done after a run and on load.
    pub fn conclude(&mut self) {
        for s in &mut self.scenarios {
            for r in &mut s.results {
                for rep in &mut r.repetitions {
                    if rep.verdict.is_none() {
                        rep.verdict = verdict::judge(rep);
                    }
                }
                if r.verdict.is_none() {
                    r.verdict = verdict::judge(r);
                }
            }
            s.fastest_safe = verdict::fastest_safe(s);
        }
    }

    /// True when every expectation of every result held.
    pub fn all_held(&self) -> bool {
        self.scenarios
            .iter()
            .flat_map(|s| &s.results)
            .all(StrategyResult::held)
            && self
                .scenarios
                .iter()
                .flat_map(|s| &s.claim_verdicts)
                .flat_map(|c| &c.servers)
                .all(crate::lesson::ClaimOnServer::prediction_held)
            && self.interleavings.iter().all(|i| {
                i.matched_expected != Some(false)
                    && !i.setup_failed
                    && i.claim_predictions().all(|h| h)
            })
    }

    /// Predictions (expectations and expected interleaving outputs) held, and in all.
    pub fn predictions(&self) -> (usize, usize) {
        let checks = || {
            self.scenarios
                .iter()
                .flat_map(|s| &s.results)
                .flat_map(|r| &r.expectations)
        };
        let compared = || {
            self.interleavings
                .iter()
                .filter_map(|i| i.matched_expected)
                .chain(
                    self.interleavings
                        .iter()
                        .flat_map(|i| i.claim_predictions()),
                )
                .chain(
                    self.scenarios
                        .iter()
                        .flat_map(|s| &s.claim_verdicts)
                        .flat_map(|c| &c.servers)
                        .filter(|s| s.predicted.is_some())
                        .map(crate::lesson::ClaimOnServer::prediction_held),
                )
        };
        let held = checks().filter(|v| v.held).count() + compared().filter(|m| *m).count();
        (held, checks().count() + compared().count())
    }

    /// True when a scenario stopped on a harness error.
    pub fn has_errors(&self) -> bool {
        self.scenarios.iter().any(|s| s.error.is_some())
            || self.interleavings.iter().any(|i| i.error.is_some())
    }

    /// Writes the report as pretty JSON to `dir/keyrace-<time>-<run id>.json`, atomically
    /// (see [`write::write_atomic`]), and returns the path.
    ///
    /// Errors: the I/O error.
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        let stamp: String = self
            .started_at
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(14)
            .collect();
        let path = dir.join(format!("keyrace-{stamp}-{}.json", self.run_id));
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write::write_atomic(&path, (json + "\n").as_bytes())?;
        Ok(path)
    }

    /// Reads a report written by [`Report::write_json`].
    ///
    /// Errors: I/O, or JSON that is not a keyrace report (with line and column).
    pub fn read_json(path: &Path) -> Result<Report, String> {
        // A FIFO or a device given by mistake would block or never end.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(format!("{}: not a regular file", path.display()));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut report: Report = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not a keyrace results file: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        report.conclude();
        Ok(report)
    }
}
