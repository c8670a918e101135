//! on-duplicate-key-update: `INSERT … ON DUPLICATE KEY UPDATE` (MySQL/MariaDB). Affected
//! rows: 1 inserted, 2 updated (MySQL manual 15.2.7.2). Signup writes the new payload so an
//! update always changes the row (with CLIENT_FOUND_ROWS an unchanged row would also say 1).

use super::{Builtin, Ctx, Program, not_on};
use crate::plan::Shape;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "on-duplicate-key-update",
    summary: "INSERT … ON DUPLICATE KEY UPDATE (the MySQL upsert)",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    if ctx.dialect != Dialect::Mysql {
        return Err(not_on(
            ctx.dialect,
            "ON DUPLICATE KEY UPDATE is MySQL syntax (use on-conflict-do-update)",
        ));
    }
    let (k, n) = (ctx.k(), ctx.n());
    let set = match (ctx.shape, &ctx.table.payload) {
        (Shape::Counter, _) => format!("{n} = {n} + 1"),
        (Shape::ReadModifyWrite, _) => format!("{n} = VALUES({n})"),
        (Shape::Signup, Some(p)) => {
            let p = ctx.dialect.quote_ident(p);
            format!("{p} = VALUES({p})")
        }
        (Shape::Signup, None) => format!("{k} = {k}"),
    };
    let value = ctx.upsert_value();
    let sql = format!("{} ON DUPLICATE KEY UPDATE {set}", ctx.insert(value));
    Ok(ctx.upsert_program(&sql))
}
