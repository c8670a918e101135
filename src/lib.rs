//! keyrace: reproduce the race conditions behind duplicate-key errors (PostgreSQL SQLSTATE
//! 23505, MySQL/MariaDB error 1062) and measure which insert strategy holds up.
//!
//! The data flows one way: a scenario file is parsed and validated into a [`plan::Plan`]
//! ([`scenario`]); the [`runner`] fires each strategy's [`strategy::Program`] from one
//! dedicated connection per worker at a fresh database, workers count into their own
//! [`metrics::Recorder`] and batch latencies into shared [`metrics::Shards`]; [`verify`]
//! checks the table afterwards; [`report`] holds everything
//! and renders it (terminal table, JSON, HTML).
//!
//! Check your application's strategy from your own tests:
//!
//! ```no_run
//! # async fn example() -> Result<(), keyrace::app::AppError> {
//! let report = keyrace::app::run_scenario(
//!     std::path::Path::new("scenarios/signup-race.toml"),
//!     Some("postgres://postgres@127.0.0.1:5432/postgres"),
//!     Some("mysql://root@127.0.0.1:3306/mysql"),
//! )
//! .await?;
//! for r in &report.scenarios[0].results {
//!     println!("{} on {}: {} unique violations, {} duplicate rows", r.strategy, r.database,
//!              r.outcomes.unique_violation, r.duplicate_rows);
//! }
//! assert!(report.all_held(), "an expectation of the scenario failed");
//! # Ok(())
//! # }
//! ```
//!
//! Race your own Rust code (a repository's get-or-create, a service call) and assert its
//! verdict with [`race::race`]; see `docs/race.md`.

pub mod app;
pub mod apptarget;
pub mod db;
pub mod error;
pub mod exit;
pub mod expect;
pub mod interleave;
pub mod lesson;
pub mod lessons;
pub mod metrics;
pub mod options;
pub mod plan;
pub mod provision;
pub mod race;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod strategy;
pub mod verify;
pub mod vocab;
