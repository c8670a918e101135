//! keyrace: reproduce the race conditions behind duplicate-key errors (PostgreSQL SQLSTATE
//! 23505, MySQL/MariaDB error 1062) and measure which insert strategy holds up.

pub mod db;
pub mod provision;
