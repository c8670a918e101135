//! Lessons: claims quoted from articles (`[[claim]]` in a scenario), each decided
//! `confirmed`, `refuted` or `nuanced` by checks on what the run measured, per server.
//!
//! A claim's checks are the predictions the article's sentence makes about what the server
//! will answer. When every check holds the claim is confirmed, when none holds it is refuted,
//! otherwise it is right only in part (nuanced). Nothing here knows the answer in advance:
//! the verdict is a function of the run (see `docs/lessons.md`).

mod check;

use serde::{Deserialize, Serialize};

pub use check::{Check, Figure, Operand, Value, compare};

use crate::vocab::Dialect;

/// A claim quoted from an article, with the checks that decide it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// A short name, unique in its file (`insert-ignore-all-errors`).
    pub id: String,
    /// The article it comes from: a file name in the seeds directory.
    pub seed: String,
    /// The article's sentence, in one line.
    pub quote: String,
    /// Where it is measured; other servers report it as not applicable.
    pub dialects: Vec<Dialect>,
    /// Why it is measured only there, or what differs elsewhere (e.g. MySQL 8), if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the claim predicts the server answers, one check each.
    pub checks: Vec<Check>,
    /// The verdict the lesson's author measured, per dialect (`postgres`, `mysql`) or engine
    /// (`mariadb`, `mysql8`, `galera`): a prediction checked like an `[[expect]]` line (a
    /// different verdict makes the run exit 1), never shown as the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predict: Vec<(String, Verdict)>,
}

impl Claim {
    /// The verdict predicted on a server of `dialect` whose engine is called `engine`: the
    /// engine's own prediction if the claim makes one, else its dialect's.
    pub fn predicted(&self, dialect: Dialect, engine: &str) -> Option<Verdict> {
        let by = |k: &str| self.predict.iter().find(|(n, _)| n == k).map(|x| x.1);
        by(engine).or_else(|| by(dialect.name()))
    }
}

/// A claim's verdict on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check held: the article is right.
    Confirmed,
    /// No check held: the article is wrong.
    Refuted,
    /// Some held, some did not: right only in part.
    Nuanced,
    /// A check's step did not run or its figure could not be read (harness failure).
    NotMeasured,
    /// The claim is not measured on this server's dialect.
    NotApplicable,
}

impl Verdict {
    /// Every verdict with its name in scenario files and reports.
    pub const ALL: [(&'static str, Verdict); 5] = [
        ("confirmed", Verdict::Confirmed),
        ("refuted", Verdict::Refuted),
        ("nuanced", Verdict::Nuanced),
        ("not_measured", Verdict::NotMeasured),
        ("n/a", Verdict::NotApplicable),
    ];

    /// The verdict of checks that held (`Some(true)`), failed (`Some(false)`) or could not
    /// be measured (`None`): all held → confirmed, none → refuted, some → nuanced; any
    /// unmeasured check → not measured.
    pub fn of(held: &[Option<bool>]) -> Verdict {
        if held.is_empty() || held.iter().any(Option::is_none) {
            return Verdict::NotMeasured;
        }
        let yes = held.iter().filter(|h| **h == Some(true)).count();
        if yes == held.len() {
            Verdict::Confirmed
        } else if yes == 0 {
            Verdict::Refuted
        } else {
            Verdict::Nuanced
        }
    }

    /// The name (`confirmed` …).
    pub fn name(self) -> &'static str {
        Verdict::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map(|x| x.0)
            .unwrap_or("?")
    }

    /// Parses a name as written in `predict`.
    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.iter().find(|(n, _)| *n == s).map(|x| x.1)
    }

    /// A one-character mark for tables: ✓ confirmed, ✗ refuted, ◐ nuanced, ? not measured.
    pub fn mark(self) -> &'static str {
        match self {
            Verdict::Confirmed => "✓",
            Verdict::Refuted => "✗",
            Verdict::Nuanced => "◐",
            Verdict::NotMeasured => "?",
            Verdict::NotApplicable => "–",
        }
    }
}

/// One check's outcome on one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check as written.
    pub text: String,
    /// What it means, if the lesson says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub says: Option<String>,
    /// Whether it held; `None` when it could not be measured.
    pub held: Option<bool>,
    /// The measured value of its left side (and right side when that is a figure).
    pub actual: String,
    /// The statement it read and what the server answered, in one line.
    pub evidence: String,
}

/// A claim's outcome on one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimOnServer {
    /// The server's label.
    pub label: String,
    /// `postgres` or `mysql`.
    pub dialect: Dialect,
    /// The verdict computed from the checks.
    pub verdict: Verdict,
    /// The verdict the lesson predicted here, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Verdict>,
    /// Every check, in the claim's order (empty when not applicable).
    pub checks: Vec<CheckResult>,
}

impl ClaimOnServer {
    /// True unless a prediction was made and the verdict differs.
    pub fn prediction_held(&self) -> bool {
        self.predicted.is_none_or(|p| p == self.verdict)
    }

    /// The check that decided the verdict: the first that failed when any did (what makes
    /// the article wrong), else the last (lessons list the decisive measurement last).
    pub fn deciding(&self) -> Option<&CheckResult> {
        self.checks
            .iter()
            .find(|c| c.held != Some(true))
            .or_else(|| self.checks.last())
    }
}

/// A claim's outcome on every server of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimResult {
    /// The claim's short name.
    pub id: String,
    /// Its article (seed file name).
    pub seed: String,
    /// The article's sentence.
    pub quote: String,
    /// The lesson's note (where measured, what differs elsewhere), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// One entry per server, in run order.
    pub servers: Vec<ClaimOnServer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_of_checks() {
        assert_eq!(Verdict::of(&[Some(true), Some(true)]), Verdict::Confirmed);
        assert_eq!(Verdict::of(&[Some(false)]), Verdict::Refuted);
        assert_eq!(Verdict::of(&[Some(true), Some(false)]), Verdict::Nuanced);
        assert_eq!(Verdict::of(&[Some(true), None]), Verdict::NotMeasured);
        assert_eq!(Verdict::of(&[]), Verdict::NotMeasured);
        for (name, v) in Verdict::ALL {
            assert_eq!(Verdict::parse(name), Some(v));
            assert_eq!(v.name(), name);
        }
    }
}

/// One claim of a run, as `keyrace lessons` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LessonLine {
    /// The lesson (scenario) name.
    pub lesson: String,
    /// Its file.
    pub file: String,
    /// The claim's id.
    pub claim: String,
    /// The article (seed file name).
    pub seed: String,
    /// The article's sentence.
    pub quote: String,
    /// The lesson's note, if any.
    pub note: Option<String>,
    /// Per server: its label, the verdict and the deciding check (text, held, evidence).
    pub servers: Vec<ClaimOnServer>,
}

impl LessonLine {
    /// The verdict on the server whose label is `label` (not applicable when absent).
    pub fn verdict_on(&self, label: &str) -> Verdict {
        self.servers
            .iter()
            .find(|s| s.label == label)
            .map_or(Verdict::NotApplicable, |s| s.verdict)
    }
}
