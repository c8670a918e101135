//! The verdict per strategy × database (`safe`, `errors`, `unsafe`) computed from the
//! verification and the outcome counts alone, independent of the scenario's expectations;
//! and the fastest safe strategy per scenario and database.

use serde::{Deserialize, Serialize};

use super::{ScenarioReport, StrategyResult, num};

/// How a strategy fared, from best to worst (`Ord` follows that order, so the worst of
/// several is their `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictLevel {
    /// No duplicate, lost or missing row, and no error left to the application.
    Safe,
    /// The data is right, but unique violations, deadlocks, serialization failures or other
    /// errors reached the application, which must handle them.
    Errors,
    /// Duplicate rows, lost updates or missing rows.
    Unsafe,
}

impl VerdictLevel {
    /// `safe`, `errors` or `unsafe`, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            VerdictLevel::Safe => "safe",
            VerdictLevel::Errors => "errors",
            VerdictLevel::Unsafe => "unsafe",
        }
    }

    /// The name with a mark for the terminal (`✓ safe`, `! errors`, `✗ unsafe`).
    pub fn marked(self) -> &'static str {
        match self {
            VerdictLevel::Safe => "✓ safe",
            VerdictLevel::Errors => "! errors",
            VerdictLevel::Unsafe => "✗ unsafe",
        }
    }
}

impl std::fmt::Display for VerdictLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The verdict on one strategy × database, with the reasons for its level
/// (e.g. "888 unique violations reached the application").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The level; over repetitions, the worst.
    pub level: VerdictLevel,
    /// Why, one short sentence each; for `safe`, what the strategy handled itself.
    pub reasons: Vec<String>,
}

impl Verdict {
    /// True when the level is [`VerdictLevel::Safe`].
    pub fn is_safe(&self) -> bool {
        self.level == VerdictLevel::Safe
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", num(n), if n == 1 { one } else { many })
}

/// Figures a verdict looks at: (count, singular, plural, level, sentence tail).
type Check = (
    fn(&StrategyResult) -> u64,
    &'static str,
    &'static str,
    VerdictLevel,
    &'static str,
);

const CHECKS: &[Check] = &[
    (
        |r| r.duplicate_rows,
        "duplicate row",
        "duplicate rows",
        VerdictLevel::Unsafe,
        "in the table",
    ),
    (
        |r| r.lost_updates,
        "lost update",
        "lost updates",
        VerdictLevel::Unsafe,
        "(acknowledged increments missing from the totals)",
    ),
    (
        |r| r.missing_rows,
        "missing row",
        "missing rows",
        VerdictLevel::Unsafe,
        "(acknowledged as written, absent from the table)",
    ),
    (
        |r| r.outcomes.unique_violation,
        "unique violation",
        "unique violations",
        VerdictLevel::Errors,
        "reached the application",
    ),
    (
        |r| r.outcomes.deadlock,
        "deadlock",
        "deadlocks",
        VerdictLevel::Errors,
        "reached the application",
    ),
    (
        |r| r.outcomes.serialization_failure,
        "serialization failure",
        "serialization failures",
        VerdictLevel::Errors,
        "reached the application",
    ),
    (
        |r| r.outcomes.lock_timeout,
        "lock wait timeout",
        "lock wait timeouts",
        VerdictLevel::Errors,
        "reached the application",
    ),
    (
        |r| r.outcomes.query_canceled,
        "cancelled statement",
        "cancelled statements",
        VerdictLevel::Errors,
        "reached the application",
    ),
    (
        |r| r.outcomes.connection_error,
        "connection error",
        "connection errors",
        VerdictLevel::Errors,
        "reached the application",
    ),
    (
        |r| r.outcomes.timeout,
        "statement timeout",
        "statement timeouts",
        VerdictLevel::Errors,
        "reached the application (keyrace's statement deadline)",
    ),
    (
        |r| r.outcomes.other,
        "other error",
        "other errors",
        VerdictLevel::Errors,
        "reached the application",
    ),
];

/// The verdict on one strategy × database; `None` when it did not run (unavailable on the
/// dialect) or finished no operation. Counts are the result's (summed over repetitions);
/// with repetitions, each reason says in how many of them the count was not zero.
pub fn judge(r: &StrategyResult) -> Option<Verdict> {
    if !r.available || r.ops == 0 {
        return None;
    }
    let mut level = VerdictLevel::Safe;
    let mut reasons = Vec::new();
    for (count, one, many, lvl, tail) in CHECKS {
        let n = count(r);
        if n == 0 {
            continue;
        }
        level = level.max(*lvl);
        let mut reason = format!("{} {tail}", plural(n, one, many));
        if r.repetitions.len() > 1 {
            let hit = r.repetitions.iter().filter(|rep| count(rep) > 0).count();
            reason.push_str(&format!(
                " (in {hit} of {} repetitions)",
                r.repetitions.len()
            ));
        }
        if *one == "other error" && !r.other_codes.is_empty() {
            let codes: Vec<String> = r
                .other_codes
                .iter()
                .map(|(c, n)| format!("{c}×{}", num(*n)))
                .collect();
            reason.push_str(&format!(": {}", codes.join(" ")));
        }
        reasons.push(reason);
    }
    if level == VerdictLevel::Safe {
        let h = &r.handled;
        for (n, one, many) in [
            (h.unique_violation, "unique violation", "unique violations"),
            (h.deadlock, "deadlock", "deadlocks"),
            (
                h.serialization_failure,
                "serialization failure",
                "serialization failures",
            ),
            (h.lock_timeout, "lock wait timeout", "lock wait timeouts"),
        ] {
            if n > 0 {
                reasons.push(format!(
                    "{} handled inside the strategy (retried or caught)",
                    plural(n, one, many)
                ));
            }
        }
        if reasons.is_empty() {
            reasons
                .push("no duplicate, lost or missing row; no error reached the application".into());
        }
    }
    Some(Verdict { level, reasons })
}

/// The fastest safe strategy of one scenario on one database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FastestSafe {
    /// Server label (see [`super::ServerInfo::database`]).
    pub database: String,
    /// The strategy, or `None` when no strategy was safe on this database.
    pub strategy: Option<String>,
    /// Its throughput, ops/s (the median over repetitions).
    pub ops_per_sec: f64,
    /// Its p99 latency, µs (the median over repetitions).
    pub p99_us: u64,
    /// Other safe strategies whose ops/s 95 % interval overlaps the fastest's: not ranked
    /// against it ("within noise"). Empty without repetitions.
    pub within_noise: Vec<String>,
}

/// Whether two results' ops/s confidence intervals overlap (false when either has none).
pub fn ops_overlap(a: &StrategyResult, b: &StrategyResult) -> bool {
    match (&a.spread, &b.spread) {
        (Some(x), Some(y)) => x.ops_per_sec.overlaps(&y.ops_per_sec),
        _ => false,
    }
}

/// The fastest safe strategy per database of a scenario, in the order databases first
/// appear in its results.
pub fn fastest_safe(s: &ScenarioReport) -> Vec<FastestSafe> {
    let mut databases: Vec<&str> = Vec::new();
    for r in &s.results {
        if !databases.contains(&r.database.as_str()) {
            databases.push(&r.database);
        }
    }
    databases
        .into_iter()
        .map(|db| {
            let mut safe: Vec<&StrategyResult> = s
                .results
                .iter()
                .filter(|r| r.database == db)
                .filter(|r| {
                    r.verdict
                        .as_ref()
                        .is_some_and(|v| v.level == VerdictLevel::Safe)
                })
                .collect();
            safe.sort_by(|a, b| b.ops_per_sec.total_cmp(&a.ops_per_sec));
            match safe.first() {
                None => FastestSafe {
                    database: db.to_string(),
                    strategy: None,
                    ops_per_sec: 0.0,
                    p99_us: 0,
                    within_noise: vec![],
                },
                Some(top) => FastestSafe {
                    database: db.to_string(),
                    strategy: Some(top.strategy.clone()),
                    ops_per_sec: top.ops_per_sec,
                    p99_us: top.latency_us.p99,
                    within_noise: safe[1..]
                        .iter()
                        .filter(|r| ops_overlap(top, r))
                        .map(|r| r.strategy.clone())
                        .collect(),
                },
            }
        })
        .collect()
}

impl FastestSafe {
    /// One line: `fastest safe strategy on PostgreSQL 15.14: on-conflict-do-nothing
    /// (6,872 ops/s, p99 1,234 µs)`, saying which others are within noise.
    pub fn line(&self) -> String {
        let Some(s) = &self.strategy else {
            return format!("no safe strategy on {}", self.database);
        };
        let mut out = format!(
            // No-break spaces keep a figure and its unit on one line when wrapped.
            "fastest safe strategy on {}: {s} ({}\u{a0}ops/s, p99\u{a0}{}\u{a0}µs)",
            self.database,
            num(self.ops_per_sec.round() as u64),
            num(self.p99_us)
        );
        if !self.within_noise.is_empty() {
            out.push_str(&format!(
                "; within noise of it: {}",
                self.within_noise.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Report;

    fn sample() -> Report {
        let mut r: Report =
            serde_json::from_str(include_str!("../../tests/fixtures/report-sample.json"))
                .expect("fixture parses");
        for s in &mut r.scenarios {
            for x in &mut s.results {
                x.verdict = None;
            }
        }
        r
    }

    fn ran(r: &Report) -> StrategyResult {
        r.scenarios[0]
            .results
            .iter()
            .find(|x| x.available && x.ops > 0)
            .expect("a result that ran")
            .clone()
    }

    #[test]
    fn levels_follow_the_figures_not_the_expectations() {
        let mut r = ran(&sample());
        r.outcomes = Default::default();
        r.handled = Default::default();
        r.duplicate_rows = 0;
        r.lost_updates = 0;
        r.missing_rows = 0;
        let v = judge(&r).unwrap();
        assert_eq!(v.level, VerdictLevel::Safe);
        assert_eq!(v.reasons.len(), 1);
        r.handled.unique_violation = 3;
        assert!(judge(&r).unwrap().reasons[0].starts_with("3 unique violations handled"));
        r.outcomes.unique_violation = 888;
        let v = judge(&r).unwrap();
        assert_eq!(v.level, VerdictLevel::Errors);
        assert_eq!(v.reasons, ["888 unique violations reached the application"]);
        r.lost_updates = 914;
        let v = judge(&r).unwrap();
        assert_eq!(v.level, VerdictLevel::Unsafe);
        assert!(v.reasons[0].starts_with("914 lost updates"));
        // Expectations do not matter.
        r.expectations.clear();
        assert_eq!(judge(&r).unwrap().level, VerdictLevel::Unsafe);
        r.ops = 0;
        assert!(judge(&r).is_none());
    }

    #[test]
    fn fastest_safe_skips_unsafe_and_errors() {
        let mut rep = sample();
        rep.conclude();
        let s = &rep.scenarios[0];
        for f in &s.fastest_safe {
            let name = f.strategy.as_deref().expect("a safe strategy");
            let best = s
                .results
                .iter()
                .filter(|r| r.database == f.database)
                .filter(|r| {
                    r.verdict
                        .as_ref()
                        .is_some_and(|v| v.level == VerdictLevel::Safe)
                })
                .map(|r| r.ops_per_sec)
                .fold(0.0, f64::max);
            let chosen = s
                .results
                .iter()
                .find(|r| r.database == f.database && r.strategy == name)
                .unwrap();
            assert_eq!(chosen.ops_per_sec, best);
            assert_eq!(chosen.verdict.as_ref().unwrap().level, VerdictLevel::Safe);
        }
        assert_eq!(s.fastest_safe.len(), 2);
    }
}
