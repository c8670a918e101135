//! Expectations: bounds on figures per strategy and database (`unique_violation = 0`,
//! `deadlock > 0`, `p99_us < 5000` ...), absolute or relative to the workload as run
//! (`rows = rounds`, `ops = operations`), and their evaluation.

use serde::{Deserialize, Serialize};

use crate::vocab::{Dialect, Outcome, SqlKey};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// The figures an expectation can bound, besides the outcome classes
/// (`inserted` … `other`, see [`Outcome::name`]).
pub const FIGURES: &[&str] = &[
    "ops",
    "errors",
    "retries",
    "duplicate_rows",
    "lost_updates",
    "missing_rows",
    "rows",
    "handled_unique_violation",
    "handled_deadlock",
    "handled_serialization_failure",
    "ops_per_sec",
    "p50_us",
    "p99_us",
];

/// Figures measured rather than counted: with repetitions they are bounded on the median
/// over repetitions, where counted figures are bounded in every repetition.
pub const PERFORMANCE_FIGURES: &[&str] = &["ops_per_sec", "p50_us", "p99_us"];

/// Quantities of the workload as run that a bound may name instead of a number, so an
/// expectation still holds under `--operations` / `--duration` overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantity {
    /// Operations finished (`ops`).
    Ops,
    /// Operations the workload asked for; the operations finished when it ran for a
    /// duration instead.
    Operations,
    /// Rounds: operations finished ÷ workers, rounded up (rounds mode gives each round a
    /// fresh key, so a signup race writes one row per round).
    Rounds,
    /// Keys the run could write: the rounds in rounds mode, the key space (`keys`) in random mode.
    Keys,
    /// Concurrent sessions (`workers`).
    Workers,
}

impl Quantity {
    /// Every quantity with its name in scenario files.
    pub const ALL: [(&'static str, Quantity); 5] = [
        ("ops", Quantity::Ops),
        ("operations", Quantity::Operations),
        ("rounds", Quantity::Rounds),
        ("keys", Quantity::Keys),
        ("workers", Quantity::Workers),
    ];
}

/// The workload as one run (one repetition) of a strategy × database ran it: what a
/// relative bound ([`Quantity`]) resolves against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunFigures {
    /// Operations finished.
    pub ops: u64,
    /// Operations asked for (`u64::MAX` when bounded by a duration instead).
    pub operations: u64,
    /// Concurrent sessions.
    pub workers: u64,
    /// True in rounds mode.
    pub rounds_mode: bool,
    /// The key space (random mode).
    pub keys: u64,
}

impl RunFigures {
    /// The value of a quantity in this run.
    pub fn get(&self, q: Quantity) -> f64 {
        let rounds = self.ops.div_ceil(self.workers.max(1));
        (match q {
            Quantity::Ops => self.ops,
            Quantity::Operations if self.operations == u64::MAX => self.ops,
            Quantity::Operations => self.operations,
            Quantity::Rounds => rounds,
            Quantity::Keys if self.rounds_mode => rounds,
            Quantity::Keys => self.keys,
            Quantity::Workers => self.workers,
        }) as f64
    }
}

/// The right-hand side of an expectation: a number, or a multiple of a workload quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// A fixed number.
    Value(f64),
    /// `factor × quantity` (`rounds`, `2 * workers`).
    Relative {
        /// The multiplier (1 when none is written).
        factor: f64,
        /// The quantity.
        quantity: Quantity,
    },
}

impl Bound {
    fn parse(text: &str) -> Option<Bound> {
        if let Ok(v) = text.parse::<f64>() {
            return v.is_finite().then_some(Bound::Value(v));
        }
        let (factor, name) = match text.split_once('*') {
            Some((f, n)) => (f.trim().parse::<f64>().ok()?, n.trim()),
            None => (1.0, text),
        };
        let quantity = Quantity::ALL.iter().find(|(n, _)| *n == name)?.1;
        Some(Bound::Relative { factor, quantity })
    }

    /// The bound's value in a run.
    pub fn resolve(&self, run: &RunFigures) -> f64 {
        match *self {
            Bound::Value(v) => v,
            Bound::Relative { factor, quantity } => factor * run.get(quantity),
        }
    }
}

/// One bound: `figure op value`, for matching strategies and databases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// Strategy name, or `*` for all.
    pub strategy: String,
    /// A dialect (`postgres`, `mysql`) or one engine of it (`mariadb`, `mysql8`, `galera`);
    /// `None` for every database. An engine's expectation on a figure replaces the less
    /// specific ones on the same figure for that engine (see [`select`]).
    #[serde(serialize_with = "ser_scope")]
    pub database: Option<SqlKey>,
    /// The figure's name.
    pub figure: String,
    /// The comparison.
    pub op: Op,
    /// The bound: a number or a workload quantity.
    pub bound: Bound,
    /// The text as written (`unique_violation = 0`).
    pub text: String,
}

impl Expectation {
    /// Parses `figure op bound`, where the bound is a number, a workload quantity (`ops`,
    /// `operations`, `rounds`, `keys`, `workers`) or `N * quantity`. Errors: a message saying
    /// what is wrong, with the list of known figures for an unknown one.
    pub fn parse(
        strategy: &str,
        database: Option<SqlKey>,
        text: &str,
    ) -> Result<Expectation, String> {
        Self::parse_with(strategy, database, text, &[])
    }

    /// [`Expectation::parse`], also accepting the user's figure names `extra` (verification
    /// queries of a race).
    pub fn parse_with(
        strategy: &str,
        database: Option<SqlKey>,
        text: &str,
        extra: &[String],
    ) -> Result<Expectation, String> {
        let t = text.trim();
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let Some((pos, sym, op)) = ops
            .iter()
            .filter_map(|(s, o)| t.find(s).map(|p| (p, *s, *o)))
            .min_by_key(|x| (x.0, -(x.1.len() as i64)))
        else {
            return Err(format!(
                "expectation `{t}` has no comparison: write e.g. `unique_violation = 0` or `deadlock > 0`"
            ));
        };
        let figure = t[..pos].trim().to_string();
        let value_text = t[pos + sym.len()..].trim();
        if !is_figure(&figure) && !extra.contains(&figure) {
            let known: Vec<&str> = Outcome::ALL
                .iter()
                .map(|o| o.name())
                .chain(FIGURES.iter().copied())
                .chain(extra.iter().map(String::as_str))
                .collect();
            let hint = did_you_mean(&figure, &known)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown figure `{figure}` in `{t}`; {hint}known: {}",
                known.join(", ")
            ));
        }
        let bound = Bound::parse(value_text).ok_or_else(|| {
            let names: Vec<&str> = Quantity::ALL.iter().map(|(n, _)| *n).collect();
            format!(
                "`{value_text}` in `{t}` is not a number nor a workload quantity ({}, or e.g. `2 * workers`)",
                names.join(", ")
            )
        })?;
        Ok(Expectation {
            strategy: strategy.to_string(),
            database,
            figure,
            op,
            bound,
            text: t.to_string(),
        })
    }

    /// Whether this expectation applies to a strategy on a database of `dialect` whose
    /// engine is called `engine` (`postgres`, `mariadb`, `mysql8`, `galera`).
    pub fn applies(&self, strategy: &str, dialect: Dialect, engine: &str) -> bool {
        (self.strategy == "*" || self.strategy == strategy)
            && match self.database {
                None => true,
                Some(SqlKey::Dialect(d)) => d == dialect,
                Some(SqlKey::Engine(e, _)) => e == engine,
            }
    }

    /// How specific the expectation's database is: 0 for all, 1 for a dialect, 2 for an
    /// engine.
    fn specificity(&self) -> u8 {
        match self.database {
            None => 0,
            Some(SqlKey::Dialect(_)) => 1,
            Some(SqlKey::Engine(..)) => 2,
        }
    }

    /// Checks the figure's actual value against the bound resolved in `run`.
    pub fn holds(&self, actual: f64, run: &RunFigures) -> bool {
        self.op.holds(actual, self.bound.resolve(run))
    }

    /// True for a bound on ops/s or latency (evaluated on the median over repetitions).
    pub fn is_performance(&self) -> bool {
        PERFORMANCE_FIGURES.contains(&self.figure.as_str())
    }
}

/// The closest of `known` to `word`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// True for a name an expectation may bound.
pub fn is_figure(name: &str) -> bool {
    Outcome::parse(name).is_some_and(|o| o.name() == name) || FIGURES.contains(&name)
}

/// The expectations of `all` that apply to `strategy` on a database of `dialect` whose
/// engine is `engine`, in file order. Like engine SQL keys override a dialect's SQL, the most
/// specific database wins per figure: where an expectation names the engine (`database =
/// "galera"`) on a figure, the dialect-wide and database-wide ones on that figure are left
/// out for that engine (and a dialect's replaces the all-database ones likewise).
pub fn select<'a>(
    all: &'a [Expectation],
    strategy: &str,
    dialect: Dialect,
    engine: &str,
) -> Vec<&'a Expectation> {
    let applying: Vec<&Expectation> = all
        .iter()
        .filter(|e| e.applies(strategy, dialect, engine))
        .collect();
    applying
        .iter()
        .filter(|e| {
            !applying
                .iter()
                .any(|o| o.figure == e.figure && o.specificity() > e.specificity())
        })
        .copied()
        .collect()
}

fn ser_scope<S: serde::Serializer>(k: &Option<SqlKey>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        None => s.serialize_none(),
        Some(SqlKey::Dialect(d)) => s.serialize_some(d.name()),
        Some(SqlKey::Engine(e, _)) => s.serialize_some(*e),
    }
}

/// The outcome of one expectation (a prediction of the scenario) on one strategy × database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The expectation as written.
    pub text: String,
    /// Whether it held (in every repetition, for counted figures).
    pub held: bool,
    /// The figure's value in this run (in the first repetition where it failed, if any).
    pub actual: f64,
    /// The bound's value when it named a workload quantity (`rows = rounds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    /// The repetition (1-based) whose value is `actual`, when the cell ran more than once
    /// and the expectation failed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operators() {
        let e = Expectation::parse("*", None, "unique_violation >= 1").unwrap();
        assert_eq!(
            (e.op, e.bound, e.figure.as_str()),
            (Op::Ge, Bound::Value(1.0), "unique_violation")
        );
        assert_eq!(
            Expectation::parse("*", None, "deadlock == 0").unwrap().op,
            Op::Eq
        );
        assert_eq!(
            Expectation::parse("*", None, "lost_updates > 0")
                .unwrap()
                .op,
            Op::Gt
        );
        assert!(
            Expectation::parse("*", None, "dedlock = 0")
                .unwrap_err()
                .contains("unknown figure")
        );
        assert!(
            Expectation::parse("*", None, "deadlock 0")
                .unwrap_err()
                .contains("no comparison")
        );
        assert!(
            Expectation::parse("*", None, "deadlock = x")
                .unwrap_err()
                .contains("not a number")
        );
    }

    #[test]
    fn relative_bounds_follow_the_run() {
        let e = Expectation::parse("*", None, "rows = rounds").unwrap();
        let run = |ops, operations| RunFigures {
            ops,
            operations,
            workers: 8,
            rounds_mode: true,
            keys: 1000,
        };
        assert!(e.holds(150.0, &run(1200, 1200)));
        assert!(e.holds(2891.0, &run(23128, u64::MAX)));
        assert!(!e.holds(2891.0, &run(1200, 1200)));
        let e = Expectation::parse("*", None, "ops = operations").unwrap();
        assert!(e.holds(4000.0, &run(4000, 4000)));
        assert!(!e.holds(3999.0, &run(3999, 4000)));
        assert!(e.holds(777.0, &run(777, u64::MAX)));
        let e = Expectation::parse("*", None, "retries <= 2 * workers").unwrap();
        assert!(e.holds(16.0, &run(8, 8)) && !e.holds(17.0, &run(8, 8)));
        let e = Expectation::parse("*", None, "p99_us < 5000").unwrap();
        assert!(e.is_performance());
        assert!(
            Expectation::parse("*", None, "rows = roundz")
                .unwrap_err()
                .contains("workload quantity")
        );
    }

    #[test]
    fn the_most_specific_database_wins_per_figure() {
        let pg = Some(SqlKey::Dialect(Dialect::Postgres));
        let my = Some(SqlKey::Dialect(Dialect::Mysql));
        let galera = SqlKey::parse("galera");
        let all = [
            Expectation::parse("*", None, "duplicate_rows = 0").unwrap(),
            Expectation::parse("*", None, "errors = 0").unwrap(),
            Expectation::parse("lock", my, "errors > 0").unwrap(),
            Expectation::parse("lock", galera, "duplicate_rows > 0").unwrap(),
            Expectation::parse("lock", pg, "deadlock = 0").unwrap(),
            Expectation::parse("other", galera, "errors > 5").unwrap(),
        ];
        let texts = |strategy, d, engine| -> Vec<String> {
            select(&all, strategy, d, engine)
                .iter()
                .map(|e| e.text.clone())
                .collect()
        };
        assert_eq!(
            texts("lock", Dialect::Mysql, "galera"),
            ["errors > 0", "duplicate_rows > 0"]
        );
        assert_eq!(
            texts("lock", Dialect::Mysql, "mariadb"),
            ["duplicate_rows = 0", "errors > 0"]
        );
        assert_eq!(
            texts("lock", Dialect::Postgres, "postgres"),
            ["duplicate_rows = 0", "errors = 0", "deadlock = 0"]
        );
        assert_eq!(
            texts("other", Dialect::Mysql, "galera"),
            ["duplicate_rows = 0", "errors > 5"]
        );
    }
}
