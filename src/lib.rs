//! keyrace: reproduce the race conditions behind duplicate-key errors (PostgreSQL SQLSTATE
//! 23505, MySQL/MariaDB error 1062) and measure which insert strategy holds up.

pub mod app;
pub mod cli;
pub mod db;
pub mod expect;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod strategy;
pub mod verify;
