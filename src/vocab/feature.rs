//! SQL features a strategy may need and an engine version may lack.

/// A feature whose presence depends on the engine and its version (see
/// `db::Backend::capabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// `MERGE INTO … WHEN MATCHED … WHEN NOT MATCHED …` (PostgreSQL 15+).
    Merge,
    /// `MERGE … RETURNING merge_action()` (PostgreSQL 17+).
    MergeReturning,
    /// `INSERT … ON CONFLICT` (PostgreSQL 9.5+).
    OnConflict,
    /// `INSERT IGNORE`, `ON DUPLICATE KEY UPDATE`, `REPLACE` (MySQL family).
    InsertIgnore,
}

impl Feature {
    /// The version-dependent features one SQL text uses: a statement beginning with `MERGE`
    /// needs [`Feature::Merge`], one calling `merge_action(` needs
    /// [`Feature::MergeReturning`].
    pub fn used_by(sql: &str) -> impl Iterator<Item = Feature> {
        let sql = sql.to_ascii_lowercase();
        let merge = sql.split_whitespace().next() == Some("merge");
        let returning = sql.contains("merge_action(");
        [
            (merge, Feature::Merge),
            (returning, Feature::MergeReturning),
        ]
        .into_iter()
        .filter_map(|(used, f)| used.then_some(f))
    }

    /// How an error message names it, with the first version that has it.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::Merge => "MERGE (PostgreSQL 15 or later)",
            Feature::MergeReturning => "MERGE … RETURNING merge_action() (PostgreSQL 17 or later)",
            Feature::OnConflict => "INSERT … ON CONFLICT (PostgreSQL 9.5 or later)",
            Feature::InsertIgnore => "INSERT IGNORE (MySQL/MariaDB)",
        }
    }
}
