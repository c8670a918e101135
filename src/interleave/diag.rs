//! Located errors for interleaving files: the same [`Diagnostic`] as stress scenarios
//! (`path:line:col: error: message` plus the offending line underlined).

pub use crate::scenario::Diagnostic;
