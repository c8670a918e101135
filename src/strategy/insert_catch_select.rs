//! insert-catch-select: INSERT; on a unique violation roll back and select the existing row
//! (counting shapes: update it instead). The pattern of Django's get_or_create and seed 002's
//! psycopg2 example.

use super::{Builtin, Ctx, Effect, Program, UniquePolicy, When};
use crate::plan::Shape;

/// The built-in entry.
pub const BUILTIN: Builtin = Builtin {
    name: "insert-catch-select",
    summary: "INSERT; on unique violation ROLLBACK, then SELECT (or UPDATE) the existing row",
    isolation: None,
    requires: &[],
    build,
};

fn build(ctx: &Ctx) -> Result<Program, String> {
    let fallback = match ctx.shape {
        Shape::Signup => vec![ctx.step("select", &ctx.lookup(""), When::Always, Effect::Read)],
        Shape::Counter => vec![ctx.step("update", &ctx.increment(), When::Always, Effect::Update)],
        Shape::ReadModifyWrite => vec![
            ctx.step("select", &ctx.lookup(""), When::Always, Effect::Read),
            ctx.step("update", &ctx.increment(), When::Found, Effect::Update),
        ],
    };
    let mut steps = Vec::new();
    if ctx.shape == Shape::ReadModifyWrite {
        steps.push(ctx.step("select", &ctx.lookup(""), When::Always, Effect::Read));
        steps.push(ctx.step("update", &ctx.increment(), When::Found, Effect::Update));
        steps.push(ctx.step("insert", &ctx.insert("1"), When::NotFound, Effect::Insert));
    } else {
        steps.push(ctx.step("insert", &ctx.insert("1"), When::Always, Effect::Insert));
    }
    Ok(Program {
        fallback,
        on_unique: UniquePolicy::RollbackAndSelect,
        ..ctx.transactional(steps)
    })
}
