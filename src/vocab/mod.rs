//! The words every stage uses: outcome classes, SQL dialects and engine keys, features,
//! key types and key text.
//!
//! This module is the bottom of keyrace's dependency graph: it imports nothing of keyrace,
//! and scenario, plan, runner, verification and report all import it.

mod dialect;
mod feature;
mod key;
mod outcome;

pub use dialect::{Dialect, ENGINE_KEYS, SqlKey};
pub use feature::Feature;
pub use key::{KeyText, KeyType};
pub use outcome::{DbError, Outcome};
