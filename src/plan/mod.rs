//! The validated, immutable plan the runner consumes: no raw TOML past this point.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::expect::Expectation;
use crate::vocab::Dialect;
pub use crate::vocab::KeyType;
mod program;

pub use program::{Effect, ParamRef, Program, RetryPolicy, Step, UniquePolicy, When, compile};

/// A checked scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Short scenario name (from the file).
    pub name: String,
    /// One-paragraph description.
    pub description: String,
    /// What the scenario teaches (shown in reports).
    pub teaches: String,
    /// The seed-article claims the scenario tests.
    pub claims: Vec<String>,
    /// The scenario file.
    pub source: PathBuf,
    /// Setup SQL per dialect, run in a fresh database before each strategy. A dialect
    /// missing here is not supported by the scenario.
    pub schema: BTreeMap<Dialect, String>,
    /// Setup SQL for one engine (`mariadb`, `mysql8`, `galera`), replacing its dialect's
    /// (see [`Plan::schema_for`]).
    pub schema_engines: BTreeMap<&'static str, String>,
    /// The table the strategies write to.
    pub table: TableSpec,
    /// How many sessions, which keys, how long.
    pub workload: Workload,
    /// The strategies to compare, in file order.
    pub strategies: Vec<StrategyPlan>,
    /// Bounds on the counted figures.
    pub expectations: Vec<Expectation>,
    /// `[[claim]]`s quoted from articles, decided on the strategies' figures (a lesson).
    pub lesson_claims: Vec<crate::lesson::Claim>,
}

/// The table the built-in strategies write to and verification reads.
#[derive(Debug, Clone, Serialize)]
pub struct TableSpec {
    /// Table name (a plain identifier).
    pub name: String,
    /// The key column (unique in the schema, unless the scenario leaves the constraint out).
    pub key: String,
    /// How keys are bound: `bigint` or `text`.
    pub key_type: KeyType,
    /// For `text` keys: the format, with `{}` replaced by the key number (default `user{}@example.com`).
    pub key_format: String,
    /// The counter column, for the counter and read-modify-write shapes.
    pub counter: Option<String>,
    /// A text column the strategies fill with a per-operation payload (`w<worker>-<seq>`).
    pub payload: Option<String>,
}

/// What each operation does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// One row per key: insert it if it is missing (sign-up, idempotency key).
    Signup,
    /// Increment a per-key counter, inserting the row with 1 if it is missing.
    Counter,
    /// Read the counter, then write back read + 1 computed by the client (lost updates expected).
    ReadModifyWrite,
}

impl Shape {
    /// True for the shapes that count increments (counter, read-modify-write).
    pub fn counts(self) -> bool {
        !matches!(self, Shape::Signup)
    }
}

/// How keys are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Distribution {
    /// Every key in `0..keys` equally likely.
    Uniform,
    /// Zipf over `1..=keys` with the given exponent (> 0); key 1 is the most frequent.
    Zipf {
        /// The exponent `s` (1.0 is classic Zipf).
        exponent: f64,
    },
    /// A share of operations go to a few hot keys, the rest uniformly to the others.
    HotKey {
        /// Fraction of operations (0..=1) that hit a hot key.
        share: f64,
        /// How many hot keys (the first `hot_keys` of the key space).
        hot_keys: u64,
    },
}

/// How workers pick keys relative to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Each worker draws keys independently from the distribution.
    Random,
    /// Each round, every worker gets the same fresh key and all are released together by a
    /// barrier, so a race is near certain.
    Rounds,
}

/// A transaction isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// The server's default (PostgreSQL: read committed; InnoDB: repeatable read).
    Default,
    /// READ COMMITTED.
    ReadCommitted,
    /// REPEATABLE READ.
    RepeatableRead,
    /// SERIALIZABLE.
    Serializable,
}

impl Isolation {
    /// Parses `read committed`, `read-committed`, `READ_COMMITTED`, `serializable` ...
    pub fn parse(s: &str) -> Option<Isolation> {
        let norm: String = s
            .chars()
            .map(|c| {
                if c == '_' || c == ' ' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        match norm.as_str() {
            "default" => Some(Isolation::Default),
            "read-committed" => Some(Isolation::ReadCommitted),
            "repeatable-read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }

    /// The SQL words (`READ COMMITTED` ...), or `None` for the server default.
    pub fn sql(self) -> Option<&'static str> {
        match self {
            Isolation::Default => None,
            Isolation::ReadCommitted => Some("READ COMMITTED"),
            Isolation::RepeatableRead => Some("REPEATABLE READ"),
            Isolation::Serializable => Some("SERIALIZABLE"),
        }
    }

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Default => "default",
            Isolation::ReadCommitted => "read-committed",
            Isolation::RepeatableRead => "repeatable-read",
            Isolation::Serializable => "serializable",
        }
    }
}

/// Sessions, keys and run length.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    /// What each operation does.
    pub shape: Shape,
    /// Concurrent sessions, each on its own dedicated connection.
    pub workers: usize,
    /// Total operations per strategy and database (split evenly across workers), unless
    /// `duration` is set, in which case this is an upper bound.
    pub operations: u64,
    /// Run each strategy for this long instead (workers stop at the deadline).
    #[serde(with = "duration_secs")]
    pub duration: Option<Duration>,
    /// Size of the key space (keys `0..keys`; ignored in rounds mode, where each round has a fresh key).
    pub keys: u64,
    /// How keys are drawn in random mode.
    pub distribution: Distribution,
    /// Random or rounds.
    pub mode: Mode,
    /// Seed for key generation; the same seed gives every worker the same key sequence.
    pub seed: u64,
    /// Default isolation level for the strategies.
    pub isolation: Isolation,
    /// Lock wait limit per statement, ms (PostgreSQL `lock_timeout`; InnoDB
    /// `innodb_lock_wait_timeout`, rounded up to whole seconds).
    pub lock_timeout_ms: u64,
    /// keyrace's own deadline per statement, ms; `None`: the lock wait limit plus 5 s (see
    /// [`crate::runner::statement_timeout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout_ms: Option<u64>,
    /// Runs of each strategy × database (`repeat` in the file, `--repeat`); 1 by default.
    pub repeat: u32,
}

/// One strategy to compare, with its program per dialect.
#[derive(Debug, Clone)]
pub struct StrategyPlan {
    /// Display name (the built-in's name, or the user's).
    pub name: String,
    /// The built-in it comes from, if any.
    pub builtin: Option<&'static str>,
    /// Features the server must have (the built-in's; none for user steps).
    pub requires: &'static [crate::vocab::Feature],
    /// Effective isolation level.
    pub isolation: Isolation,
    /// Extra setup SQL per dialect, run after the schema and before the workers.
    pub setup: BTreeMap<Dialect, String>,
    /// Extra setup SQL for one engine, replacing its dialect's.
    pub setup_engines: BTreeMap<&'static str, String>,
    /// The program per dialect, or why the strategy is not available there.
    pub programs: BTreeMap<Dialect, Result<Program, String>>,
    /// The program for one engine whose SQL differs from its dialect's (a user step with a
    /// `mariadb`, `mysql8` or `galera` key).
    pub engine_programs: BTreeMap<&'static str, Result<Program, String>>,
    /// Concurrent sessions for this strategy, replacing the workload's (and `--workers`),
    /// so one scenario can compare a strategy as the sessions grow.
    pub workers: Option<usize>,
}

impl StrategyPlan {
    /// The program for `engine` (a backend name) of `dialect`: the engine's own, else the
    /// dialect's; `None` when the scenario has no SQL for it.
    pub fn program_for(&self, dialect: Dialect, engine: &str) -> Option<&Result<Program, String>> {
        self.engine_programs
            .get(engine)
            .or_else(|| self.programs.get(&dialect))
    }

    /// The extra setup SQL for `engine` of `dialect` (the engine's own, else the dialect's).
    pub fn setup_for(&self, dialect: Dialect, engine: &str) -> Option<&str> {
        self.setup_engines
            .get(engine)
            .or_else(|| self.setup.get(&dialect))
            .map(String::as_str)
    }
}

impl Plan {
    /// The workload `strategy` runs: the scenario's, with the strategy's own `workers` if it
    /// sets them.
    pub fn workload_for(&self, strategy: &StrategyPlan) -> Workload {
        let mut w = self.workload.clone();
        if let Some(n) = strategy.workers {
            w.workers = n;
        }
        w
    }

    /// The schema SQL for `engine` (a backend name) of `dialect`: the engine's own, else
    /// the dialect's; `None` when the scenario does not support it.
    pub fn schema_for(&self, dialect: Dialect, engine: &str) -> Option<&str> {
        self.schema_engines
            .get(engine)
            .or_else(|| self.schema.get(&dialect))
            .map(String::as_str)
    }

    /// True when the scenario has schema SQL for `dialect` or one of its engines.
    pub fn supports(&self, dialect: Dialect) -> bool {
        self.schema.contains_key(&dialect)
            || self
                .schema_engines
                .keys()
                .any(|e| crate::vocab::SqlKey::parse(e).is_some_and(|k| k.dialect() == dialect))
    }
}

mod duration_secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}
