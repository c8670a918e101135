//! insert-where-not-exists: one `INSERT … SELECT … WHERE NOT EXISTS (…)`. A single
//! statement is still not atomic against a concurrent insert of the same key: under READ
//! COMMITTED both sessions see no row and one gets the unique violation.

use super::{Builtin, Ctx, Program, not_for};
use crate::plan::Shape;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "insert-where-not-exists",
    summary: "INSERT … SELECT … WHERE NOT EXISTS (one statement)",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    if ctx.shape == Shape::ReadModifyWrite {
        return Err(not_for(ctx.shape));
    }
    let (t, k) = (ctx.t(), ctx.k());
    let (cols, vals) = ctx.row("1");
    let from = if ctx.dialect == Dialect::Mysql {
        " FROM DUAL"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO {t} ({cols}) SELECT {vals}{from} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {k} = {{key}})"
    );
    Ok(ctx.insert_or_increment(&sql))
}
