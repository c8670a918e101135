//! How an error returned by the raced closure becomes an outcome class: a `sqlx::Error` by
//! SQLSTATE (PostgreSQL) or error number (MySQL/MariaDB) through the engine's backend, like
//! every statement keyrace runs itself.

use crate::db::Engine;
use crate::vocab::{DbError, Outcome};

/// An error the raced closure may return.
pub trait Classify {
    /// The outcome class, code and message of this error on `engine`.
    fn classify(&self, engine: Engine) -> DbError;
}

impl Classify for sqlx::Error {
    fn classify(&self, engine: Engine) -> DbError {
        engine.classify(self)
    }
}

impl Classify for DbError {
    fn classify(&self, _: Engine) -> DbError {
        self.clone()
    }
}

/// A boxed error: classified as the `sqlx::Error` it wraps (anywhere in its source chain),
/// else `other` with code `app`.
impl Classify for Box<dyn std::error::Error + Send + Sync> {
    fn classify(&self, engine: Engine) -> DbError {
        let mut e: Option<&(dyn std::error::Error + 'static)> = Some(self.as_ref());
        while let Some(err) = e {
            if let Some(sql) = err.downcast_ref::<sqlx::Error>() {
                return engine.classify(sql);
            }
            e = err.source();
        }
        DbError {
            class: Outcome::Other,
            code: "app".into(),
            message: self.to_string(),
        }
    }
}
