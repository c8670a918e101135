//! The database layer: one backend per engine (see [`backend`]), dedicated connections,
//! server information and URL handling.

pub mod backend;
mod conn;
mod drop_guard;
pub mod galera;
pub mod info;
mod step_conn;
mod target;
mod url;

pub use backend::{Backend, Capabilities, Engine, Version};
pub use conn::{
    Conn, DEFAULT_CONNECT_TIMEOUT, Param, StepResult, bounded, cancel_backend, connect_timeout,
    set_connect_timeout,
};
pub use drop_guard::{DropGuard, drop_database_sql};
pub use step_conn::{Notice, PgStepConn, Reply, StepConn, StepText, Warning};
pub use target::{Target, detect};
pub use url::{database_url, percent_decode, redact_url, scrub_secrets, url_secrets};

pub use crate::vocab::{DbError, Dialect, KeyText, KeyType, Outcome};
