//! Post-run checks against the table itself: duplicate rows per key, acknowledged rows that
//! are missing, lost updates (counter totals below acknowledged increments), and writes the
//! client never heard acknowledged.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::plan::{Shape, TableSpec};
use crate::vocab::{Dialect, KeyText};

/// Rows and counter total per key number, as read from the table.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Key number → (rows with that key, sum of the counter column).
    pub keys: HashMap<u64, (u64, i64)>,
    /// All rows in the table, including rows whose key keyrace did not generate.
    pub rows: u64,
}

/// What verification found, for one strategy × database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Rows the run added to the table.
    pub rows: u64,
    /// Rows beyond the first per key that the run added (possible only without the unique constraint).
    pub duplicate_rows: u64,
    /// Increments acknowledged to the client but absent from the counter totals.
    pub lost_updates: u64,
    /// Keys acknowledged as written whose row is not in the table.
    pub missing_rows: u64,
    /// Rows or increments in the table that no client saw acknowledged (e.g. a COMMIT
    /// whose reply was lost).
    pub unacknowledged: u64,
}

/// The query that reads rows and counter totals per key: one row per key with the key as
/// text, its row count and the sum of its counter (`0` for shapes that do not count), all
/// as text. The runner executes it; [`Snapshot::from_rows`] reads its answer.
pub fn snapshot_sql(d: Dialect, table: &TableSpec, shape: Shape) -> String {
    let (t, k) = (d.quote_ident(&table.name), d.quote_ident(&table.key));
    let sum = match (&table.counter, shape.counts()) {
        (Some(n), true) => format!("SUM({})", d.quote_ident(n)),
        _ => "0".to_string(),
    };
    match d {
        Dialect::Postgres => {
            format!("SELECT {k}::text, COUNT(*), ({sum})::text FROM {t} GROUP BY {k}")
        }
        Dialect::Mysql => {
            format!("SELECT CAST({k} AS CHAR), COUNT(*), CAST({sum} AS CHAR) FROM {t} GROUP BY {k}")
        }
    }
}

impl Snapshot {
    /// Reads the answer of [`snapshot_sql`] (cells as text, `None` for NULL); rows whose key
    /// keyrace did not generate count in [`Snapshot::rows`] only.
    pub fn from_rows(rows: Vec<Vec<Option<String>>>, table: &TableSpec) -> Snapshot {
        let key_text = KeyText::new(table.key_type, &table.key_format);
        let mut snap = Snapshot::default();
        for row in rows {
            let count: u64 = row
                .get(1)
                .and_then(|c| c.as_deref())
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            snap.rows += count;
            let Some(key) = row
                .first()
                .and_then(|c| c.as_deref())
                .and_then(|c| key_text.parse(c))
            else {
                continue;
            };
            let total: i64 = row
                .get(2)
                .and_then(|c| c.as_deref())
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            snap.keys.insert(key, (count, total));
        }
        snap
    }
}

/// Compares the table after the run with the table before it and with what workers were told.
///
/// `acked`: key number → acknowledged inserts (signup) or increments (counting shapes).
pub fn verify(
    before: &Snapshot,
    after: &Snapshot,
    acked: &HashMap<u64, u64>,
    shape: Shape,
) -> Verification {
    let mut v = Verification {
        rows: after.rows.saturating_sub(before.rows),
        ..Verification::default()
    };
    let zero = (0u64, 0i64);
    for (key, &(rows, total)) in &after.keys {
        let (rows0, total0) = *before.keys.get(key).unwrap_or(&zero);
        let added = rows.saturating_sub(rows0);
        let dups_before = rows0.saturating_sub(1);
        v.duplicate_rows += rows.saturating_sub(1).saturating_sub(dups_before);
        let a = acked.get(key).copied().unwrap_or(0);
        if shape.counts() {
            let delta = total - total0;
            v.lost_updates += a.saturating_sub(delta.max(0) as u64);
            v.unacknowledged += (delta.max(0) as u64).saturating_sub(a);
        } else {
            v.unacknowledged += added.saturating_sub(a);
        }
    }
    for (key, &a) in acked {
        if a > 0 && after.keys.get(key).is_none_or(|&(rows, _)| rows == 0) {
            v.missing_rows += 1;
            if shape.counts() {
                v.lost_updates += a;
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(keys: &[(u64, u64, i64)]) -> Snapshot {
        Snapshot {
            keys: keys.iter().map(|&(k, r, t)| (k, (r, t))).collect(),
            rows: keys.iter().map(|k| k.1).sum(),
        }
    }

    #[test]
    fn finds_duplicates_missing_and_lost_updates() {
        let before = snap(&[(1, 1, 0)]);
        let after = snap(&[(1, 1, 0), (2, 3, 0)]);
        let acked = HashMap::from([(2, 3), (5, 1)]);
        let v = verify(&before, &after, &acked, Shape::Signup);
        assert_eq!(
            (v.rows, v.duplicate_rows, v.missing_rows, v.unacknowledged),
            (3, 2, 1, 0)
        );
        let after = snap(&[(1, 1, 10)]);
        let v = verify(
            &snap(&[]),
            &after,
            &HashMap::from([(1, 12)]),
            Shape::Counter,
        );
        assert_eq!(v.lost_updates, 2);
    }
}
