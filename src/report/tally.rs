//! The run's summary counts (scenarios, predictions held and failed) as both the terminal and
//! the HTML page print them: held and failed come from [`Report::predictions`], the one
//! function the terminal's summary line uses too, for every kind of run.

use super::Report;

/// How many scenarios ran and how many of their predictions held.
///
/// A stress scenario's predictions are its expectations, one per strategy × database each; an
/// interleaving scenario with expected files is one prediction (its output matched them or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Stress scenarios (files with a workload).
    pub stress: usize,
    /// Interleaving scenarios (sessions and permutations).
    pub interleavings: usize,
    /// Predictions that held.
    pub held: usize,
    /// Predictions that failed.
    pub failed: usize,
    /// Scenarios stopped by a harness error.
    pub stopped: usize,
}

impl Tally {
    /// Counts `report`.
    pub fn of(report: &Report) -> Tally {
        let (held, total) = report.predictions();
        Tally {
            stress: report.scenarios.len(),
            interleavings: report.interleavings.len(),
            held,
            failed: total - held,
            stopped: report
                .scenarios
                .iter()
                .filter(|s| s.error.is_some())
                .count(),
        }
    }

    /// All scenarios, stress and interleaving.
    pub fn scenarios(&self) -> usize {
        self.stress + self.interleavings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{InterleaveResult, Report};

    fn interleaving(matched: Option<bool>) -> InterleaveResult {
        serde_json::from_value(serde_json::json!({
            "scenario": "x", "file": "x.toml", "teaches": "", "outputs": {}, "summary": "",
            "matched_expected": matched, "diffs": [], "report": null
        }))
        .expect("an interleaving result")
    }

    #[test]
    fn interleavings_count_as_scenarios_and_predictions() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/report-sample.json"
        );
        let mut r = Report::read_json(std::path::Path::new(path)).expect("fixture");
        let stress = Tally::of(&r);
        assert_eq!(stress.scenarios(), r.scenarios.len());
        r.interleavings = vec![
            interleaving(Some(true)),
            interleaving(Some(false)),
            interleaving(None),
        ];
        let t = Tally::of(&r);
        assert_eq!(t.scenarios(), r.scenarios.len() + 3);
        assert_eq!(t.held, stress.held + 1);
        assert_eq!(t.failed, stress.failed + 1);
    }
}
