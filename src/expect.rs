//! Expectations: bounds on counted figures per strategy and database
//! (`unique_violation = 0`, `deadlock > 0` ...), and their evaluation.

use serde::{Deserialize, Serialize};

use crate::db::{Dialect, Outcome};

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
];

/// One bound: `figure op value`, for matching strategies and databases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// Strategy name, or `*` for all.
    pub strategy: String,
    /// Dialect, or `None` for both.
    pub database: Option<Dialect>,
    /// The figure's name.
    pub figure: String,
    /// The comparison.
    pub op: Op,
    /// The bound.
    pub value: f64,
    /// The text as written (`unique_violation = 0`).
    pub text: String,
}

impl Expectation {
    /// Parses `figure op number`. Errors: a message saying what is wrong, with the list of
    /// known figures for an unknown one.
    pub fn parse(
        strategy: &str,
        database: Option<Dialect>,
        text: &str,
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
        if !is_figure(&figure) {
            let known: Vec<&str> = Outcome::ALL
                .iter()
                .map(|o| o.name())
                .chain(FIGURES.iter().copied())
                .collect();
            let hint = did_you_mean(&figure, &known)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown figure `{figure}` in `{t}`; {hint}known: {}",
                known.join(", ")
            ));
        }
        let value: f64 = value_text
            .parse()
            .map_err(|_| format!("`{value_text}` in `{t}` is not a number"))?;
        Ok(Expectation {
            strategy: strategy.to_string(),
            database,
            figure,
            op,
            value,
            text: t.to_string(),
        })
    }

    /// Whether this expectation applies to a strategy on a dialect.
    pub fn applies(&self, strategy: &str, dialect: Dialect) -> bool {
        (self.strategy == "*" || self.strategy == strategy)
            && self.database.is_none_or(|d| d == dialect)
    }

    /// Checks the figure's actual value.
    pub fn holds(&self, actual: f64) -> bool {
        self.op.holds(actual, self.value)
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

/// The outcome of one expectation on one strategy × database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The expectation as written.
    pub text: String,
    /// Whether it held.
    pub held: bool,
    /// The figure's value in this run.
    pub actual: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operators() {
        let e = Expectation::parse("*", None, "unique_violation >= 1").unwrap();
        assert_eq!(
            (e.op, e.value, e.figure.as_str()),
            (Op::Ge, 1.0, "unique_violation")
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
}
