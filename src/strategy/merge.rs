//! merge: SQL-standard `MERGE` (PostgreSQL 15+). Concurrent MERGEs on a missing key can
//! both take the NOT MATCHED branch and the second fails with 23505 (PostgreSQL manual,
//! MERGE: "a unique violation can occur" under concurrency).

use super::{Builtin, Ctx, Effect, Program, When, not_for, not_on};
use crate::plan::Shape;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "merge",
    summary: "MERGE … WHEN MATCHED THEN UPDATE WHEN NOT MATCHED THEN INSERT (PostgreSQL 15+)",
    isolation: None,
    requires: &[crate::vocab::Feature::Merge],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    if ctx.dialect != Dialect::Postgres {
        return Err(not_on(
            ctx.dialect,
            "MERGE does not exist in MySQL/MariaDB 10.11",
        ));
    }
    if ctx.shape == Shape::ReadModifyWrite {
        return Err(not_for(ctx.shape));
    }
    let (t, k, n) = (ctx.t(), ctx.k(), ctx.n());
    let (cols, vals) = ctx.row("1");
    let vals = vals.replacen("{key}", "s.k", 1);
    let matched = match ctx.shape {
        Shape::Counter => format!(" WHEN MATCHED THEN UPDATE SET {n} = {t}.{n} + 1"),
        _ => String::new(),
    };
    let sql = format!(
        "MERGE INTO {t} USING (SELECT {{key}} AS k) AS s ON {t}.{k} = s.k{matched} WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({vals})"
    );
    let effect = if ctx.shape == Shape::Counter {
        Effect::Write
    } else {
        Effect::Insert
    };
    Ok(ctx.simple(vec![ctx.step("merge", &sql, When::Always, effect)]))
}
