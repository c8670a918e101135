//! serializable-retry: check-then-insert at SERIALIZABLE, retrying serialization failures
//! and deadlocks (PostgreSQL manual, 13.2.3 "Serializable Isolation Level": applications must
//! be prepared to retry transactions that fail with SQLSTATE 40001).

use super::{Builtin, Ctx, Program, RETRYABLE, RetryPolicy};
use crate::plan::Isolation;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "serializable-retry",
    summary: "check-then-insert at SERIALIZABLE, retrying serialization failures and deadlocks (up to 10 times)",
    isolation: Some(Isolation::Serializable),
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    Ok(Program {
        retry: RetryPolicy::on(&RETRYABLE, 10, 500),
        ..ctx.transactional(ctx.check_then_insert_steps(""))
    })
}
