//! A claim's check: `step.figure op value` (or `op other_step.figure`), parsed from text and
//! decided on what a step measured (error code, warnings, affected rows, returned value).

use serde::{Deserialize, Serialize};

use crate::expect::Op;

/// What a check can read from a step's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// The error's SQLSTATE (PostgreSQL) or error number (MySQL/MariaDB); `none` when the
    /// step succeeded.
    Error,
    /// The error's outcome class (`unique_violation`, `deadlock` …); `none` when it succeeded.
    Class,
    /// The error's message as the server sent it; `none` when it succeeded.
    Message,
    /// Affected rows summed over the step's statements that returned no result set.
    Affected,
    /// Rows of the step's last result set (0 when it returned none).
    Rows,
    /// Warnings and notes (MySQL/MariaDB `SHOW WARNINGS`, level `Error` left out) plus
    /// PostgreSQL NOTICE/WARNING messages the step received.
    Warnings,
    /// The codes of those warnings: `warning = 1048` holds when one of them is 1048,
    /// `warning != 1048` when none is.
    Warning,
    /// The first cell of the step's last result set (`null` for SQL NULL, `none` when no row).
    Value,
    /// 1 when the step was reported `<waiting ...>` (it blocked on a lock), else 0.
    Waited,
}

impl Figure {
    /// Every figure with its name in scenario files.
    pub const ALL: [(&'static str, Figure); 9] = [
        ("error", Figure::Error),
        ("class", Figure::Class),
        ("message", Figure::Message),
        ("affected", Figure::Affected),
        ("rows", Figure::Rows),
        ("warnings", Figure::Warnings),
        ("warning", Figure::Warning),
        ("value", Figure::Value),
        ("waited", Figure::Waited),
    ];

    fn parse(name: &str) -> Option<Figure> {
        Figure::ALL.iter().find(|(n, _)| *n == name).map(|x| x.1)
    }
}

/// One side of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operand {
    /// A figure of a step's result.
    Figure {
        /// The step's name.
        step: String,
        /// What is read.
        figure: Figure,
    },
    /// A figure of a strategy's result in a stress scenario (`blind-retry.p99_us`), on the
    /// server being judged.
    Stat {
        /// The strategy's name.
        strategy: String,
        /// The figure, as an `[[expect]]` line names it.
        figure: String,
    },
    /// A number.
    Number {
        /// Its value.
        value: f64,
    },
    /// A string (`'text'` in the check).
    Text {
        /// The text.
        value: String,
    },
    /// SQL NULL (`null`).
    Null,
    /// Nothing: no error, no row (`none`).
    Nothing,
}

/// A value measured or written, compared by [`compare`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Number(f64),
    /// A text (also a code or a cell, compared as a number when both sides are numbers).
    Text(String),
    /// SQL NULL.
    Null,
    /// No error / no row.
    Nothing,
    /// A set of warning codes (compared by membership).
    Codes(Vec<String>),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) if t.trim().parse::<f64>().is_ok() => f.write_str(t),
            Value::Text(t) => write!(f, "'{t}'"),
            Value::Null => f.write_str("null"),
            Value::Nothing => f.write_str("none"),
            Value::Codes(c) if c.is_empty() => f.write_str("no warning"),
            Value::Codes(c) => write!(f, "{{{}}}", c.join(", ")),
        }
    }
}

/// A check as written in a `[[claim]]`: `left op right`, with what it says in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The text as written (`ignore_null.warning = 1048`).
    pub text: String,
    /// What the check means for the claim, in words (`says = "..."`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub says: Option<String>,
    /// The figure read (always a step's figure).
    pub left: Operand,
    /// The comparison.
    pub op: Op,
    /// A literal or another step's figure.
    pub right: Operand,
}

const OPS: [(&str, Op); 7] = [
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("=", Op::Eq),
    ("<", Op::Lt),
    (">", Op::Gt),
];

impl Check {
    /// Parses `step.figure op value`, where value is a number, `'text'`, `null`, `none` or
    /// `other_step.figure`. Errors: what is wrong, with the known figures.
    pub fn parse(text: &str, says: Option<String>) -> Result<Check, String> {
        Check::parse_with(text, says, parse_figure, &figure_names())
    }

    /// Parses `strategy.figure op value` for a stress scenario, where figure is one an
    /// `[[expect]]` line may bound (`unique_violation`, `retries`, `p99_us` …, see
    /// [`crate::expect::is_figure`]) and value as in [`Check::parse`], or
    /// `other_strategy.figure`.
    pub fn parse_stress(text: &str, says: Option<String>) -> Result<Check, String> {
        let known: Vec<&str> = crate::vocab::Outcome::ALL
            .iter()
            .map(|o| o.name())
            .chain(crate::expect::FIGURES.iter().copied())
            .collect();
        Check::parse_with(text, says, parse_stat, &known.join(", "))
    }

    fn parse_with(
        text: &str,
        says: Option<String>,
        parse_figure: fn(&str) -> Option<Operand>,
        known: &str,
    ) -> Result<Check, String> {
        let t = text.trim();
        // The first operator outside quotes, the longest at that position.
        let mut quoted = false;
        let mut found = None;
        for (i, c) in t.char_indices() {
            if c == '\'' {
                quoted = !quoted;
            }
            if quoted {
                continue;
            }
            if let Some((sym, op)) = OPS.iter().find(|(s, _)| t[i..].starts_with(s)) {
                found = Some((i, *sym, *op));
                break;
            }
        }
        let Some((pos, sym, op)) = found else {
            return Err(format!(
                "check `{t}` has no comparison: write e.g. `s1_insert.error = 1062` or `s1_insert.affected = 1`"
            ));
        };
        let lhs = t[..pos].trim();
        let left = parse_figure(lhs)
            .ok_or_else(|| format!("`{lhs}` in `{t}` is not `name.figure`; figures: {known}"))?;
        let rhs = t[pos + sym.len()..].trim();
        let right = parse_operand(rhs)
            .or_else(|| parse_figure(rhs))
            .ok_or_else(|| {
                format!(
                    "`{rhs}` in `{t}` is not a number, a word, 'text', null, none or `name.figure`"
                )
            })?;
        Ok(Check {
            text: t.to_string(),
            says,
            left,
            op,
            right,
        })
    }

    /// The steps (or, in a stress scenario, the strategies) the check reads.
    pub fn steps(&self) -> Vec<&str> {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(|o| match o {
                Operand::Figure { step, .. } => Some(step.as_str()),
                Operand::Stat { strategy, .. } => Some(strategy.as_str()),
                _ => None,
            })
            .collect()
    }
}

fn figure_names() -> String {
    Figure::ALL
        .iter()
        .map(|x| x.0)
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_figure(s: &str) -> Option<Operand> {
    let (step, fig) = s.rsplit_once('.')?;
    let figure = Figure::parse(fig.trim())?;
    let step = step.trim();
    (!step.is_empty() && !step.contains(char::is_whitespace)).then(|| Operand::Figure {
        step: step.to_string(),
        figure,
    })
}

fn parse_stat(s: &str) -> Option<Operand> {
    let (strategy, fig) = s.rsplit_once('.')?;
    let (strategy, fig) = (strategy.trim(), fig.trim());
    (crate::expect::is_figure(fig)
        && !strategy.is_empty()
        && !strategy.contains(char::is_whitespace))
    .then(|| Operand::Stat {
        strategy: strategy.to_string(),
        figure: fig.to_string(),
    })
}

fn parse_operand(s: &str) -> Option<Operand> {
    if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Some(Operand::Text {
            value: inner.to_string(),
        });
    }
    match s {
        "null" | "NULL" => return Some(Operand::Null),
        "none" => return Some(Operand::Nothing),
        _ => {}
    }
    if let Some(value) = s.parse::<f64>().ok().filter(|v| v.is_finite()) {
        return Some(Operand::Number { value });
    }
    // A bare word (`unique_violation`, SQLSTATE `428C9`) is a text.
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then(|| {
        Operand::Text {
            value: s.to_string(),
        }
    })
}

/// Whether `left op right` holds. Codes are compared by membership (`=` one of them is,
/// `!=` none is); texts that both read as numbers compare as numbers; `none` and `null`
/// equal only themselves; an order between non-numbers never holds.
pub fn compare(left: &Value, op: Op, right: &Value) -> bool {
    let num = |v: &Value| match v {
        Value::Number(n) => Some(*n),
        Value::Text(t) => t.trim().parse::<f64>().ok(),
        _ => None,
    };
    match (left, right) {
        (Value::Codes(codes), other) | (other, Value::Codes(codes)) => {
            let needle = match other {
                Value::Number(n) => n.to_string(),
                Value::Text(t) => t.clone(),
                _ => return false,
            };
            let has = codes.contains(&needle);
            match op {
                Op::Eq => has,
                Op::Ne => !has,
                _ => false,
            }
        }
        _ => {
            if let (Some(a), Some(b)) = (num(left), num(right)) {
                let ops_hold = match op {
                    Op::Eq => a == b,
                    Op::Ne => a != b,
                    Op::Lt => a < b,
                    Op::Le => a <= b,
                    Op::Gt => a > b,
                    Op::Ge => a >= b,
                };
                return ops_hold;
            }
            match op {
                Op::Eq => left == right,
                Op::Ne => left != right,
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks() {
        let c = Check::parse("ignore_null.warning = 1048", None).unwrap();
        assert_eq!(
            c.left,
            Operand::Figure {
                step: "ignore_null".into(),
                figure: Figure::Warning
            }
        );
        assert_eq!(c.right, Operand::Number { value: 1048.0 });
        let c = Check::parse("show.value = 'a=b'", None).unwrap();
        assert_eq!(
            c.right,
            Operand::Text {
                value: "a=b".into()
            }
        );
        let c = Check::parse("a.message = b.message", None).unwrap();
        assert_eq!(c.steps(), vec!["a", "b"]);
        assert!(
            Check::parse("a.erorr = none", None)
                .unwrap_err()
                .contains("figures")
        );
        assert!(
            Check::parse("a.error none", None)
                .unwrap_err()
                .contains("no comparison")
        );
        let c = Check::parse_stress("blind.p99_us > upsert.p99_us", None).unwrap();
        assert_eq!(c.steps(), vec!["blind", "upsert"]);
        assert!(Check::parse_stress("blind.value = 1", None).is_err());
    }

    #[test]
    fn compares_values() {
        let codes = Value::Codes(vec!["1048".into()]);
        assert!(compare(&codes, Op::Eq, &Value::Number(1048.0)));
        assert!(!compare(&codes, Op::Ne, &Value::Number(1048.0)));
        assert!(compare(
            &Value::Text("2".into()),
            Op::Gt,
            &Value::Number(1.0)
        ));
        assert!(compare(&Value::Nothing, Op::Eq, &Value::Nothing));
        assert!(!compare(&Value::Text("x".into()), Op::Eq, &Value::Nothing));
        assert!(compare(
            &Value::Text("23505".into()),
            Op::Eq,
            &Value::Text("23505".into())
        ));
        assert!(!compare(
            &Value::Text("x".into()),
            Op::Lt,
            &Value::Text("y".into())
        ));
    }
}
