//! insert-ignore: `INSERT IGNORE` (MySQL/MariaDB). Seed 003's caution holds: IGNORE turns
//! other errors into warnings too. Counter shape: UPDATE when nothing was inserted.

use super::{Builtin, Ctx, Program, not_for, not_on};
use crate::plan::Shape;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "insert-ignore",
    summary: "INSERT IGNORE (counter: then UPDATE when nothing was inserted)",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    if ctx.dialect != Dialect::Mysql {
        return Err(not_on(
            ctx.dialect,
            "INSERT IGNORE is MySQL syntax (use on-conflict-do-nothing)",
        ));
    }
    if ctx.shape == Shape::ReadModifyWrite {
        return Err(not_for(ctx.shape));
    }
    let sql = ctx
        .insert("1")
        .replacen("INSERT INTO", "INSERT IGNORE INTO", 1);
    Ok(ctx.insert_or_increment(&sql))
}
