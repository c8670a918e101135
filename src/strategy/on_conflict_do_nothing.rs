//! on-conflict-do-nothing: `INSERT … ON CONFLICT (key) DO NOTHING` (PostgreSQL 9.5+,
//! manual: SQL Commands, INSERT, "ON CONFLICT Clause"). Counter shape: UPDATE when nothing
//! was inserted.

use super::{Builtin, Ctx, Program, not_for, not_on};
use crate::plan::Shape;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "on-conflict-do-nothing",
    summary: "INSERT … ON CONFLICT DO NOTHING (counter: then UPDATE when nothing was inserted)",
    isolation: None,
    requires: &[crate::vocab::Feature::OnConflict],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    if ctx.dialect != Dialect::Postgres {
        return Err(not_on(
            ctx.dialect,
            "ON CONFLICT is PostgreSQL syntax (use insert-ignore)",
        ));
    }
    if ctx.shape == Shape::ReadModifyWrite {
        return Err(not_for(ctx.shape));
    }
    let sql = format!("{} ON CONFLICT ({}) DO NOTHING", ctx.insert("1"), ctx.k());
    Ok(ctx.insert_or_increment(&sql))
}
