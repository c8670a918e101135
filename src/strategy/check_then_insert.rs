//! check-then-insert: SELECT the key, INSERT when no row came back. The race every seed
//! article warns about: two sessions both see no row, both insert.

use super::{Builtin, Ctx, Program};

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "check-then-insert",
    summary: "SELECT, then INSERT when no row was found, in one transaction",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    Ok(ctx.transactional(ctx.check_then_insert_steps("")))
}
