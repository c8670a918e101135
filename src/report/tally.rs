//! The run's summary counts (scenarios, predictions held and failed), computed once here so
//! that the terminal and the HTML page always print the same numbers for every kind of run.

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
    /// Expectations of stress scenarios that held.
    pub expectations_held: usize,
    /// Expectations of stress scenarios that failed.
    pub expectations_failed: usize,
    /// Interleavings whose output matched their expected files.
    pub interleavings_matched: usize,
    /// Interleavings whose output differed from their expected files.
    pub interleavings_differ: usize,
    /// Scenarios stopped by a harness error.
    pub stopped: usize,
}

impl Tally {
    /// Counts `report`.
    pub fn of(report: &Report) -> Tally {
        let expectations = || {
            report
                .scenarios
                .iter()
                .flat_map(|s| &s.results)
                .flat_map(|r| &r.expectations)
        };
        let failed = expectations().filter(|v| !v.held).count();
        Tally {
            stress: report.scenarios.len(),
            interleavings: report.interleavings.len(),
            expectations_held: expectations().count() - failed,
            expectations_failed: failed,
            interleavings_matched: report
                .interleavings
                .iter()
                .filter(|i| i.matched_expected == Some(true))
                .count(),
            interleavings_differ: report
                .interleavings
                .iter()
                .filter(|i| i.matched_expected == Some(false))
                .count(),
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

    /// Predictions that held: expectations plus interleavings matching their expected files.
    pub fn held(&self) -> usize {
        self.expectations_held + self.interleavings_matched
    }

    /// Predictions that failed.
    pub fn failed(&self) -> usize {
        self.expectations_failed + self.interleavings_differ
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
        assert_eq!(stress.failed(), stress.expectations_failed);
        r.interleavings = vec![
            interleaving(Some(true)),
            interleaving(Some(false)),
            interleaving(None),
        ];
        let t = Tally::of(&r);
        assert_eq!(t.scenarios(), r.scenarios.len() + 3);
        assert_eq!(t.held(), stress.held() + 1);
        assert_eq!(t.failed(), stress.failed() + 1);
    }
}
