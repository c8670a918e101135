//! advisory-lock: serialize sessions per key with an advisory lock, then check-then-insert.
//! PostgreSQL: `pg_advisory_xact_lock` inside the transaction (released at COMMIT/ROLLBACK).
//! MySQL/MariaDB: `GET_LOCK(name, timeout)` before the transaction, `RELEASE_LOCK` after it.

use super::{Builtin, Ctx, Effect, Program, When};
use crate::plan::KeyType;
use crate::vocab::Dialect;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "advisory-lock",
    summary: "per-key advisory lock (pg_advisory_xact_lock / GET_LOCK), then check-then-insert",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    let body = ctx.check_then_insert_steps("");
    Ok(match ctx.dialect {
        Dialect::Postgres => {
            let arg = match ctx.table.key_type {
                KeyType::Bigint => "{key}",
                KeyType::Text => "hashtext({key})",
            };
            let lock = ctx.step(
                "lock",
                &format!("SELECT pg_advisory_xact_lock({arg})"),
                When::Always,
                Effect::Lock,
            );
            ctx.transactional(std::iter::once(lock).chain(body).collect())
        }
        Dialect::Mysql => {
            let name = "CONCAT('keyrace/', {key})";
            Program {
                pre: vec![ctx.step(
                    "lock",
                    &format!("SELECT GET_LOCK({name}, 30)"),
                    When::Always,
                    Effect::Lock,
                )],
                finally: vec![ctx.step(
                    "unlock",
                    &format!("SELECT RELEASE_LOCK({name})"),
                    When::Always,
                    Effect::Lock,
                )],
                ..ctx.transactional(body)
            }
        }
    })
}
