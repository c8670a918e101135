//! replace-into: `REPLACE INTO` (MySQL/MariaDB): a delete plus an insert when the key
//! exists, so the row gets a new AUTO_INCREMENT id and its other columns are reset. It never
//! raises 1062, but concurrent REPLACEs of one key on a table with a unique secondary index
//! can deadlock (1213) in InnoDB.

use super::{Builtin, Ctx, Effect, Program, When, not_for, not_on};
use crate::plan::Shape;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "replace-into",
    summary: "REPLACE INTO (delete + insert of the existing row)",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    if ctx.dialect != Dialect::Mysql {
        return Err(not_on(ctx.dialect, "REPLACE is MySQL syntax"));
    }
    if ctx.shape != Shape::Signup {
        return Err(not_for(ctx.shape));
    }
    let sql = ctx.insert("1").replacen("INSERT INTO", "REPLACE INTO", 1);
    Ok(ctx.simple(vec![ctx.step(
        "replace",
        &sql,
        When::Always,
        Effect::Replace,
    )]))
}
