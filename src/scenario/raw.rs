//! The scenario file as written: serde types with spans, before any checking.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub teaches: String,
    #[serde(default)]
    pub claims: Vec<String>,
    pub schema: Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub table: RawTable,
    pub workload: RawWorkload,
    #[serde(rename = "strategy")]
    pub strategies: Spanned<Vec<RawStrategy>>,
    #[serde(default, rename = "expect")]
    pub expectations: Vec<RawExpect>,
    /// `[[claim]]`: claims quoted from articles, decided by checks on the strategies'
    /// figures (see `docs/lessons.md`).
    #[serde(default, rename = "claim")]
    pub claim_tables: Vec<RawClaim>,
}

/// `[[claim]]` of a stress scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaim {
    pub id: Spanned<String>,
    pub seed: Spanned<String>,
    pub quote: Spanned<String>,
    #[serde(default)]
    pub dialects: Vec<Spanned<String>>,
    pub note: Option<String>,
    /// Strings, or tables `{ check, says }`.
    pub checks: Spanned<Vec<Spanned<toml::Value>>>,
    /// A verdict, or a table of verdicts per dialect.
    pub predict: Option<Spanned<toml::Value>>,
}

/// `[table]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub name: Spanned<String>,
    pub key: Spanned<String>,
    pub key_type: Option<Spanned<String>>,
    pub key_format: Option<Spanned<String>>,
    pub counter: Option<Spanned<String>>,
    pub payload: Option<Spanned<String>>,
}

/// `[workload]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub shape: Option<Spanned<String>>,
    pub workers: Spanned<i64>,
    pub operations: Option<Spanned<i64>>,
    pub duration: Option<Spanned<String>>,
    pub keys: Option<Spanned<i64>>,
    pub distribution: Option<Spanned<String>>,
    pub zipf_exponent: Option<Spanned<f64>>,
    pub hot_share: Option<Spanned<f64>>,
    pub hot_keys: Option<Spanned<i64>>,
    pub mode: Option<Spanned<String>>,
    pub seed: Option<Spanned<i64>>,
    pub isolation: Option<Spanned<String>>,
    pub lock_timeout_ms: Option<Spanned<i64>>,
    pub statement_timeout_ms: Option<Spanned<i64>>,
    pub repeat: Option<Spanned<i64>>,
}

/// `[[strategy]]`: a built-in (`use = "..."`) or the user's own steps.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategy {
    #[serde(rename = "use")]
    pub builtin: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub isolation: Option<Spanned<String>>,
    pub workers: Option<Spanned<i64>>,
    #[serde(default)]
    pub setup: BTreeMap<Spanned<String>, Spanned<String>>,
    pub transaction: Option<bool>,
    #[serde(default, rename = "pre")]
    pub pre: Vec<Spanned<RawStep>>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub fallback: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub finally: Vec<Spanned<RawStep>>,
    pub on_unique_violation: Option<Spanned<String>>,
    pub retry: Option<RawRetry>,
}

/// One step of a user strategy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Option<String>,
    pub sql: Option<Spanned<String>>,
    pub postgres: Option<Spanned<String>>,
    pub mysql: Option<Spanned<String>>,
    pub mariadb: Option<Spanned<String>>,
    pub mysql8: Option<Spanned<String>>,
    pub galera: Option<Spanned<String>>,
    pub when: Option<Spanned<String>>,
    pub effect: Option<Spanned<String>>,
}

impl RawStep {
    /// The step's SQL written for engine `name` (`mariadb`, `mysql8`, `galera`), if any.
    pub fn engine_sql(&self, name: &str) -> Option<&Spanned<String>> {
        match name {
            "mariadb" => self.mariadb.as_ref(),
            "mysql8" => self.mysql8.as_ref(),
            "galera" => self.galera.as_ref(),
            _ => None,
        }
    }

    /// True when the step has SQL under any key.
    pub fn has_sql(&self) -> bool {
        self.sql.is_some()
            || self.postgres.is_some()
            || self.mysql.is_some()
            || self.mariadb.is_some()
            || self.mysql8.is_some()
            || self.galera.is_some()
    }
}

/// `retry = { on = [...], max = N, backoff_us = N }`; every key has a default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub on: Option<Spanned<Vec<Spanned<String>>>>,
    pub max: Option<Spanned<i64>>,
    pub backoff_us: Option<Spanned<i64>>,
}

/// `[[expect]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub strategy: Option<Spanned<String>>,
    pub database: Option<Spanned<String>>,
    pub that: Spanned<Vec<Spanned<String>>>,
}
