//! on-conflict-do-update: `INSERT … ON CONFLICT (key) DO UPDATE` (PostgreSQL 9.5+), the
//! atomic upsert. `RETURNING (xmax = 0)` tells an insert from an update. In the
//! read-modify-write shape the client's `{next}` is written (lost updates expected).

use super::{Builtin, Ctx, Program, not_on};
use crate::plan::Shape;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "on-conflict-do-update",
    summary: "INSERT … ON CONFLICT DO UPDATE (the atomic upsert)",
    isolation: None,
    requires: &[crate::vocab::Feature::OnConflict],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    if ctx.dialect != Dialect::Postgres {
        return Err(not_on(
            ctx.dialect,
            "ON CONFLICT is PostgreSQL syntax (use on-duplicate-key-update)",
        ));
    }
    let (t, k, n) = (ctx.t(), ctx.k(), ctx.n());
    let set = match (ctx.shape, &ctx.table.payload) {
        (Shape::Counter, _) => format!("{n} = {t}.{n} + 1"),
        (Shape::ReadModifyWrite, _) => format!("{n} = EXCLUDED.{n}"),
        (Shape::Signup, Some(p)) => {
            let p = ctx.dialect.quote_ident(p);
            format!("{p} = EXCLUDED.{p}")
        }
        (Shape::Signup, None) => format!("{k} = EXCLUDED.{k}"),
    };
    let value = ctx.upsert_value();
    let sql = format!(
        "{} ON CONFLICT ({k}) DO UPDATE SET {set} RETURNING (xmax = 0)",
        ctx.insert(value)
    );
    Ok(ctx.upsert_program(&sql))
}
