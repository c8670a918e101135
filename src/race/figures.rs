//! The user's verification queries of a [`super::race`]: each returns one number that
//! becomes a figure of the result. Five names fill the result's table checks, and so the
//! verdict: `duplicate_rows`, `missing_rows`, `lost_updates`, `unacknowledged`, `rows`.
//! When `rows` is given without `missing_rows` / `unacknowledged`, those are derived from it
//! and the inserts the closure acknowledged (`Outcome::Inserted`): keys acknowledged but
//! fewer rows present are missing rows, more rows than acknowledged inserts are
//! unacknowledged ones.

use std::collections::BTreeMap;

use super::RaceError;
use crate::db::Conn;
use crate::metrics::Recorder;
use crate::report::StrategyResult;
use crate::runner::Target;
use crate::verify::Verification;

/// Runs each named query and reads its single value as a number.
///
/// Errors: [`RaceError::Sql`] naming the query when it fails or its value is not a number.
pub(super) async fn measure(
    conn: &mut Conn,
    target: &Target,
    queries: &[(String, String)],
) -> Result<BTreeMap<String, f64>, RaceError> {
    let mut out = BTreeMap::new();
    for (name, sql) in queries {
        let err = |message: String| RaceError::Sql {
            what: format!("verification query `{name}`"),
            url: crate::db::redact_url(&target.url),
            message,
        };
        let text = conn
            .scalar_text(sql)
            .await
            .map_err(|e| err(format!("{} ({})", e.message, e.code)))?;
        let value = match text.as_deref().map(str::trim) {
            None => 0.0,
            Some(t) => t
                .parse::<f64>()
                .map_err(|_| err(format!("returned `{t}`, not a number")))?,
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// The table checks from the measured figures and the acknowledged inserts.
pub(super) fn verification(m: &BTreeMap<String, f64>, rec: &Recorder) -> Verification {
    let get = |n: &str| m.get(n).map(|v| v.max(0.0) as u64);
    let acked_keys = rec.acked.len() as u64;
    let acked_inserts: u64 = rec.acked.values().sum();
    let rows = get("rows");
    Verification {
        rows: rows.unwrap_or(0),
        duplicate_rows: get("duplicate_rows").unwrap_or(0),
        lost_updates: get("lost_updates").unwrap_or(0),
        missing_rows: get("missing_rows")
            .or(rows.map(|r| acked_keys.saturating_sub(r)))
            .unwrap_or(0),
        unacknowledged: get("unacknowledged")
            .or(rows.map(|r| r.saturating_sub(acked_inserts)))
            .unwrap_or(0),
    }
}

/// The figures of repetitions together: release spreads by their largest value, the
/// verification figures summed (like the table checks).
pub(super) fn combine(reps: &[StrategyResult]) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for r in reps {
        for (name, v) in &r.figures {
            let slot = out.entry(name.clone()).or_insert(0.0);
            if name.starts_with("release_spread") {
                *slot = slot.max(*v);
            } else {
                *slot += v;
            }
        }
    }
    out
}
