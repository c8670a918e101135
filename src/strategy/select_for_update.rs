//! select-for-update-then-insert: SELECT … FOR UPDATE, INSERT when no row came back.
//!
//! Seed 003 claims this prevents the race. On a missing row there is nothing to lock in
//! PostgreSQL (the second insert still fails with 23505); InnoDB at REPEATABLE READ takes a
//! gap lock that both sessions can hold, so their inserts deadlock (1213); at READ COMMITTED
//! InnoDB takes no gap lock and the second insert gets 1062.

use super::{Builtin, Ctx, Program};

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "select-for-update-then-insert",
    summary: "SELECT … FOR UPDATE, then INSERT when no row was found, in one transaction",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    Ok(ctx.transactional(ctx.check_then_insert_steps(" FOR UPDATE")))
}
