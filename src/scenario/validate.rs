//! Checks a raw scenario and turns it into a [`Plan`], with located errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::Diagnostic;
use super::raw::{RawExpect, RawRetry, RawScenario, RawStep, RawStrategy, RawWorkload};
use crate::expect::{Bound, Expectation};
use crate::plan::{
    Distribution, Isolation, KeyType, Mode, Plan, Shape, StrategyPlan, TableSpec, Workload,
};
use crate::strategy::{
    self, Ctx, Effect, Program, RETRYABLE, RetryPolicy, Step, UniquePolicy, When,
};
use crate::vocab::{Dialect, Outcome, SqlKey};

/// Most concurrent sessions.
pub const MAX_WORKERS: u64 = 10_000;
/// Most operations, keys or hot keys: 10^12.
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// Largest Zipf exponent (1.0 is classic Zipf; above a few, every draw is key 0).
pub const MAX_ZIPF_EXPONENT: f64 = 100.0;
/// Most retries per operation.
pub const MAX_RETRIES: u32 = 1000;
/// Largest first backoff, µs (the doubling is capped at 100 ms anyway).
pub const MAX_BACKOFF_US: u64 = 100_000;

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn err<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.path, self.text, at.span(), message)
    }

    fn ident(&self, s: &Spanned<String>) -> Result<String, Diagnostic> {
        let v = s.get_ref();
        let ok = !v.is_empty()
            && v.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(v.clone())
        } else {
            Err(self.err(
                s,
                format!("`{v}` is not a plain identifier (letters, digits, _)"),
            ))
        }
    }

    /// An integer in `lo..=hi` (`hi` written with its meaning in `unit`, e.g. "(7 days)").
    fn int_in(
        &self,
        v: &Spanned<i64>,
        what: &str,
        lo: u64,
        hi: u64,
        unit: &str,
    ) -> Result<u64, Diagnostic> {
        let n = *v.get_ref();
        if n < 0 || (n as u64) < lo {
            return Err(self.err(v, format!("{what} must be at least {lo}, found {n}")));
        }
        if n as u64 > hi {
            return Err(self.err(v, format!("{what} must be at most {hi}{unit}, found {n}")));
        }
        Ok(n as u64)
    }

    /// A positive integer up to `hi`.
    fn positive(&self, v: &Spanned<i64>, what: &str, hi: u64) -> Result<u64, Diagnostic> {
        self.int_in(v, what, 1, hi, "")
    }

    /// A SQL key: a dialect (`postgres`, `mysql`) or one engine of it (`mariadb`, `mysql8`,
    /// `galera`).
    fn sql_key(&self, s: &Spanned<String>) -> Result<SqlKey, Diagnostic> {
        SqlKey::parse(s.get_ref()).ok_or_else(|| {
            self.err(
                s,
                format!(
                    "unknown database `{}`: use {}",
                    s.get_ref(),
                    SqlKey::names()
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    fn isolation(&self, s: &Spanned<String>) -> Result<Isolation, Diagnostic> {
        Isolation::parse(s.get_ref()).ok_or_else(|| {
            self.err(s, format!("unknown isolation level `{}`: use read-committed, repeatable-read, serializable or default", s.get_ref()))
        })
    }
}

/// Validates `raw` (parsed from `text` at `path`) into a plan.
pub fn validate(path: &Path, text: &str, raw: RawScenario) -> Result<Plan, Diagnostic> {
    let c = Checker { path, text };
    if raw.name.get_ref().trim().is_empty() {
        return Err(c.err(&raw.name, "name must not be empty"));
    }
    let mut schema = BTreeMap::new();
    let mut schema_engines = BTreeMap::new();
    for (k, v) in raw.schema.get_ref() {
        match c.sql_key(k)? {
            SqlKey::Dialect(d) => schema.insert(d, v.get_ref().clone()),
            SqlKey::Engine(e, _) => schema_engines.insert(e, v.get_ref().clone()),
        };
    }
    // The dialects whose programs are built: those with schema SQL, for the dialect or
    // for one of its engines.
    let dialects: Vec<Dialect> = Dialect::ALL
        .into_iter()
        .filter(|d| {
            schema.contains_key(d)
                || schema_engines
                    .keys()
                    .any(|e| SqlKey::parse(e).is_some_and(|k| k.dialect() == *d))
        })
        .collect();
    if dialects.is_empty() {
        return Err(c.err(
            &raw.schema,
            "schema needs setup SQL for at least one of `postgres`, `mysql`",
        ));
    }
    let workload = workload(&c, &raw.workload)?;
    let table =
        TableSpec {
            name: c.ident(&raw.table.name)?,
            key: c.ident(&raw.table.key)?,
            key_type: match &raw.table.key_type {
                None => KeyType::Text,
                Some(s) => match s.get_ref().as_str() {
                    "text" => KeyType::Text,
                    "bigint" | "int" | "integer" => KeyType::Bigint,
                    other => {
                        return Err(c.err(
                            s,
                            format!("unknown key_type `{other}`: use `text` or `bigint`"),
                        ));
                    }
                },
            },
            key_format: match &raw.table.key_format {
                None => "user{}@example.com".into(),
                Some(f) if f.get_ref().matches("{}").count() == 1 => f.get_ref().clone(),
                Some(f) => return Err(c.err(
                    f,
                    "key_format must contain `{}` exactly once (it is replaced by the key number)",
                )),
            },
            counter: raw.table.counter.as_ref().map(|s| c.ident(s)).transpose()?,
            payload: raw.table.payload.as_ref().map(|s| c.ident(s)).transpose()?,
        };
    if workload.shape.counts() && table.counter.is_none() {
        let at = raw
            .workload
            .shape
            .as_ref()
            .map(|s| s.span())
            .unwrap_or(raw.table.name.span());
        return Err(Diagnostic::at(
            path,
            text,
            at,
            "the counter and read-modify-write shapes need `counter` (a column name) in [table]",
        ));
    }
    let mut strategies: Vec<StrategyPlan> = Vec::new();
    for s in raw.strategies.get_ref() {
        let plan = strategy_plan(&c, s, &dialects, &table, &workload, &raw.strategies)?;
        if strategies.iter().any(|p| p.name == plan.name) {
            let at = s
                .name
                .as_ref()
                .or(s.builtin.as_ref())
                .map(|x| x.span())
                .unwrap_or(raw.strategies.span());
            return Err(Diagnostic::at(
                path,
                text,
                at,
                format!(
                    "strategy `{}` is listed twice; give one a `name`",
                    plan.name
                ),
            ));
        }
        strategies.push(plan);
    }
    if strategies.is_empty() {
        return Err(c.err(&raw.strategies, "list at least one [[strategy]]"));
    }
    let expectations = expectations(&c, &raw.expectations, &strategies)?;
    let dialects: Vec<Dialect> = schema.keys().copied().collect();
    let lesson_claims =
        super::claims::stress_claims(path, text, &raw.claim_tables, &strategies, &dialects)?;
    Ok(Plan {
        name: raw.name.into_inner(),
        description: raw.description,
        teaches: raw.teaches,
        claims: raw.claims,
        source: path.to_path_buf(),
        schema,
        schema_engines,
        table,
        workload,
        strategies,
        expectations,
        lesson_claims,
    })
}

/// Checks a `[workload]` table read from `path` (`text` is the file, for locating errors);
/// shared by stress and application scenario files.
///
/// Errors: a located [`Diagnostic`].
pub fn validate_workload(path: &Path, text: &str, w: &RawWorkload) -> Result<Workload, Diagnostic> {
    workload(&Checker { path, text }, w)
}

fn workload(c: &Checker, w: &RawWorkload) -> Result<Workload, Diagnostic> {
    let shape = match &w.shape {
        None => Shape::Signup,
        Some(s) => match s.get_ref().as_str() {
            "signup" => Shape::Signup,
            "counter" => Shape::Counter,
            "read-modify-write" | "rmw" => Shape::ReadModifyWrite,
            other => {
                return Err(c.err(
                    s,
                    format!("unknown shape `{other}`: use signup, counter or read-modify-write"),
                ));
            }
        },
    };
    let workers = c.positive(&w.workers, "workers", MAX_WORKERS)?;
    let duration = w
        .duration
        .as_ref()
        .map(|d| parse_duration(d.get_ref()).map_err(|e| c.err(d, e.to_string())))
        .transpose()?;
    let operations = match &w.operations {
        Some(o) => c.positive(o, "operations", MAX_COUNT)?,
        None if duration.is_some() => u64::MAX,
        None => return Err(c.err(&w.workers, "[workload] needs `operations` or `duration`")),
    };
    let keys = w
        .keys
        .as_ref()
        .map(|k| c.positive(k, "keys", MAX_COUNT))
        .transpose()?
        .unwrap_or(1000);
    let distribution = match &w.distribution {
        None => Distribution::Uniform,
        Some(d) => match d.get_ref().as_str() {
            "uniform" => Distribution::Uniform,
            "zipf" => {
                let e = w
                    .zipf_exponent
                    .as_ref()
                    .ok_or_else(|| c.err(d, "zipf needs `zipf_exponent` (e.g. 1.1)"))?;
                let v = *e.get_ref();
                if !(v > 0.0 && v <= MAX_ZIPF_EXPONENT) {
                    return Err(c.err(
                        e,
                        format!("zipf_exponent must be a number greater than 0 and at most {MAX_ZIPF_EXPONENT}, found {v}"),
                    ));
                }
                Distribution::Zipf {
                    exponent: *e.get_ref(),
                }
            }
            "hot-key" | "hot" => {
                let share = w
                    .hot_share
                    .as_ref()
                    .ok_or_else(|| c.err(d, "hot-key needs `hot_share` (0..1)"))?;
                if !(0.0..=1.0).contains(share.get_ref()) {
                    return Err(c.err(
                        share,
                        format!(
                            "hot_share must be between 0 and 1, found {}",
                            share.get_ref()
                        ),
                    ));
                }
                let hot_keys = w
                    .hot_keys
                    .as_ref()
                    .map(|h| c.positive(h, "hot_keys", MAX_COUNT))
                    .transpose()?
                    .unwrap_or(1);
                if hot_keys > keys {
                    let at = w.hot_keys.as_ref().map(|h| h.span()).unwrap_or(d.span());
                    return Err(Diagnostic::at(
                        c.path,
                        c.text,
                        at,
                        "hot_keys must not exceed keys",
                    ));
                }
                Distribution::HotKey {
                    share: *share.get_ref(),
                    hot_keys,
                }
            }
            other => {
                return Err(c.err(
                    d,
                    format!("unknown distribution `{other}`: use uniform, zipf or hot-key"),
                ));
            }
        },
    };
    let mode = match &w.mode {
        None => Mode::Random,
        Some(m) => match m.get_ref().as_str() {
            "random" => Mode::Random,
            "rounds" => Mode::Rounds,
            other => return Err(c.err(m, format!("unknown mode `{other}`: use random or rounds"))),
        },
    };
    let isolation = w
        .isolation
        .as_ref()
        .map(|i| c.isolation(i))
        .transpose()?
        .unwrap_or(Isolation::Default);
    let seed = w
        .seed
        .as_ref()
        .map(|s| c.int_in(s, "seed", 0, i64::MAX as u64, ""))
        .transpose()?
        .unwrap_or(42);
    let lock_timeout_ms = w
        .lock_timeout_ms
        .as_ref()
        .map(|l| c.positive(l, "lock_timeout_ms", MAX_DURATION.as_millis() as u64))
        .transpose()?
        .unwrap_or(10_000);
    let statement_timeout_ms = w
        .statement_timeout_ms
        .as_ref()
        .map(|l| c.positive(l, "statement_timeout_ms", MAX_DURATION.as_millis() as u64))
        .transpose()?;
    let repeat = match &w.repeat {
        None => 1,
        Some(r) => c.positive(r, "repeat", 1000)? as u32,
    };
    Ok(Workload {
        shape,
        workers: workers as usize,
        operations,
        duration,
        keys,
        distribution,
        mode,
        seed,
        isolation,
        lock_timeout_ms,
        statement_timeout_ms,
        repeat,
    })
}

/// The longest run a scenario or `--duration` may ask for: 7 days.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The shortest: 1 ms (anything shorter would run no operation at all).
pub const MIN_DURATION: Duration = Duration::from_millis(1);

/// Why a duration text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not `<number><unit>`.
    #[error("`{0}` is not a duration: write e.g. `10s`, `500ms`, `2m`")]
    Syntax(String),
    /// Zero, negative or not a number (`-5s`, `0s`, `nans`).
    #[error("`{0}` must be positive: write e.g. `10s`, `500ms`, `2m`")]
    NotPositive(String),
    /// Shorter than [`MIN_DURATION`].
    #[error("`{0}` is shorter than 1ms: the run would do nothing")]
    TooShort(String),
    /// Longer than [`MAX_DURATION`].
    #[error("`{0}` is longer than 7 days (604800s), the most keyrace runs")]
    TooLong(String),
}

/// Parses `10s`, `500ms`, `2m`, `1.5s` (units `ms`, `s`, `m` / `min`), between 1 ms and
/// 7 days.
///
/// Errors: [`DurationError`]: not a duration, not positive, too short or too long.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let syntax = || DurationError::Syntax(s.to_string());
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .ok_or_else(syntax)?;
    let (num, unit) = t.split_at(split);
    let v: f64 = num.trim().parse().map_err(|_| syntax())?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        _ => return Err(syntax()),
    };
    if secs.is_nan() || secs <= 0.0 {
        return Err(DurationError::NotPositive(s.to_string()));
    }
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(DurationError::TooLong(s.to_string()));
    }
    let d = Duration::from_secs_f64(secs);
    if d < MIN_DURATION {
        return Err(DurationError::TooShort(s.to_string()));
    }
    Ok(d)
}

fn strategy_plan(
    c: &Checker,
    s: &RawStrategy,
    dialects: &[Dialect],
    table: &TableSpec,
    workload: &Workload,
    all: &Spanned<Vec<RawStrategy>>,
) -> Result<StrategyPlan, Diagnostic> {
    let mut setup = BTreeMap::new();
    let mut setup_engines = BTreeMap::new();
    for (k, v) in &s.setup {
        match c.sql_key(k)? {
            SqlKey::Dialect(d) => setup.insert(d, v.get_ref().clone()),
            SqlKey::Engine(e, _) => setup_engines.insert(e, v.get_ref().clone()),
        };
    }
    let mut engine_programs = BTreeMap::new();
    let isolation_override = s.isolation.as_ref().map(|i| c.isolation(i)).transpose()?;
    let workers = s
        .workers
        .as_ref()
        .map(|n| c.positive(n, "workers", MAX_WORKERS).map(|n| n as usize))
        .transpose()?;
    let mut programs = BTreeMap::new();
    let mut requires: &'static [crate::vocab::Feature] = &[];
    let (name, builtin, isolation) = if let Some(u) = &s.builtin {
        let Some(b) = strategy::builtin(u.get_ref()) else {
            let known: Vec<_> = strategy::BUILTINS.iter().map(|b| b.name).collect();
            let hint = crate::expect::did_you_mean(u.get_ref(), &known)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(c.err(
                u,
                format!(
                    "unknown strategy `{}`; {hint}built-ins: {}",
                    u.get_ref(),
                    known.join(", ")
                ),
            ));
        };
        if !s.steps.is_empty() {
            return Err(c.err(
                u,
                "a strategy has either `use` (a built-in) or `step`s, not both",
            ));
        }
        requires = b.requires;
        for &dialect in dialects {
            let mut p = (b.build)(&Ctx {
                dialect,
                table,
                shape: workload.shape,
            });
            if let (Ok(prog), Some(u)) = (&mut p, &s.on_unique_violation) {
                prog.on_unique = unique_policy(c, u)?;
            }
            if let (Ok(prog), Some(r)) = (&mut p, &s.retry) {
                prog.retry = retry(c, r)?;
            }
            programs.insert(dialect, p);
        }
        let name = s
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_else(|| b.name.to_string());
        (
            name,
            Some(b.name),
            isolation_override
                .or(b.isolation)
                .unwrap_or(workload.isolation),
        )
    } else {
        let Some(name) = &s.name else {
            return Err(c.err(all, "each [[strategy]] needs `use = \"<built-in>\"` or a `name` with `[[strategy.step]]`s"));
        };
        if s.steps.is_empty() {
            return Err(c.err(
                name,
                format!("strategy `{}` has no [[strategy.step]]", name.get_ref()),
            ));
        }
        for &dialect in dialects {
            programs.insert(dialect, custom_program(c, s, SqlKey::Dialect(dialect))?);
        }
        // An engine gets its own program when one of its steps has SQL for it.
        for &(engine, dialect) in crate::vocab::ENGINE_KEYS {
            let has_own = [&s.pre, &s.steps, &s.fallback, &s.finally]
                .into_iter()
                .flatten()
                .any(|st| st.get_ref().engine_sql(engine).is_some());
            if has_own && dialects.contains(&dialect) {
                engine_programs.insert(
                    engine,
                    custom_program(c, s, SqlKey::Engine(engine, dialect))?,
                );
            }
        }
        (
            name.get_ref().clone(),
            None,
            isolation_override.unwrap_or(workload.isolation),
        )
    };
    Ok(StrategyPlan {
        name,
        builtin,
        requires,
        isolation,
        setup,
        setup_engines,
        programs,
        engine_programs,
        workers,
    })
}

fn unique_policy(c: &Checker, u: &Spanned<String>) -> Result<UniquePolicy, Diagnostic> {
    UniquePolicy::parse(u.get_ref())
        .ok_or_else(|| c.err(u, format!("unknown on_unique_violation `{}`: use fail, rollback-and-select or savepoint-and-select", u.get_ref())))
}

fn retry(c: &Checker, r: &RawRetry) -> Result<RetryPolicy, Diagnostic> {
    let mut classes = Vec::new();
    for o in r.on.iter().flat_map(|on| on.get_ref()) {
        match Outcome::parse(o.get_ref()) {
            Some(cls) if cls.is_error() => classes.push(cls),
            _ => return Err(c.err(o, format!("`{}` is not an error class: use e.g. deadlock, serialization_failure, unique_violation, lock_timeout", o.get_ref()))),
        }
    }
    if classes.is_empty() {
        classes.extend(RETRYABLE);
    }
    let max = r
        .max
        .as_ref()
        .map(|m| c.int_in(m, "retry.max", 0, MAX_RETRIES.into(), ""))
        .transpose()?
        .map_or(5, |m| m as u32);
    let backoff = r
        .backoff_us
        .as_ref()
        .map(|b| {
            c.int_in(
                b,
                "retry.backoff_us",
                0,
                MAX_BACKOFF_US,
                " (100 ms, where the doubling stops)",
            )
        })
        .transpose()?
        .unwrap_or(1000);
    Ok(RetryPolicy::on(&classes, max, backoff))
}

/// A user strategy for one dialect or engine; "not available" when a step has no SQL for it.
fn custom_program(
    c: &Checker,
    s: &RawStrategy,
    key: SqlKey,
) -> Result<Result<Program, String>, Diagnostic> {
    let dialect = key.dialect();
    let mut lists: [Vec<Step>; 4] = Default::default();
    for (i, raw_steps) in [&s.pre, &s.steps, &s.fallback, &s.finally]
        .into_iter()
        .enumerate()
    {
        for (n, st) in raw_steps.iter().enumerate() {
            match custom_step(c, st, key, n)? {
                Some(step) => lists[i].push(step),
                None => {
                    return Ok(Err(format!(
                        "not available on {dialect}: step {} has no SQL for it",
                        n + 1
                    )));
                }
            }
        }
    }
    let [pre, steps, fallback, finally] = lists;
    let on_unique = s
        .on_unique_violation
        .as_ref()
        .map(|u| unique_policy(c, u))
        .transpose()?
        .unwrap_or(UniquePolicy::Fail);
    let retry = s
        .retry
        .as_ref()
        .map(|r| retry(c, r))
        .transpose()?
        .unwrap_or(RetryPolicy::NONE);
    let transaction = s
        .transaction
        .unwrap_or(steps.len() > 1 || !fallback.is_empty());
    Ok(Ok(Program {
        pre,
        transaction,
        steps,
        fallback,
        finally,
        on_unique,
        retry,
    }))
}

fn custom_step(
    c: &Checker,
    spanned: &Spanned<RawStep>,
    key: SqlKey,
    n: usize,
) -> Result<Option<Step>, Diagnostic> {
    let st = spanned.get_ref();
    let dialect = key.dialect();
    let for_dialect = match dialect {
        Dialect::Postgres => &st.postgres,
        Dialect::Mysql => &st.mysql,
    };
    let for_engine = match key {
        SqlKey::Engine(e, _) => st.engine_sql(e),
        SqlKey::Dialect(_) => None,
    };
    let Some(sql) = for_engine.or(for_dialect.as_ref()).or(st.sql.as_ref()) else {
        if !st.has_sql() {
            let name = st.name.clone().unwrap_or_else(|| format!("step {}", n + 1));
            return Err(c.err(
                spanned,
                format!("{name} has no `sql` (or `postgres` / `mysql`)"),
            ));
        }
        return Ok(None);
    };
    let when = match &st.when {
        None => When::Always,
        Some(w) => When::parse(w.get_ref()).ok_or_else(|| c.err(w, format!("unknown condition `{}`: use always, found, not-found, affected or not-affected", w.get_ref())))?,
    };
    let effect = match &st.effect {
        None => Effect::infer(sql.get_ref()),
        Some(e) => Effect::parse(e.get_ref()).ok_or_else(|| {
            c.err(
                e,
                format!(
                    "unknown effect `{}`: use read, lock, insert, update, upsert, replace or write",
                    e.get_ref()
                ),
            )
        })?,
    };
    let name = st.name.clone().unwrap_or_else(|| format!("step{}", n + 1));
    let at = c.err(sql, "");
    Step::new(dialect, &name, sql.get_ref(), when, effect)
        .map(|s| {
            Some(Step {
                location: Some(format!("{}:{}:{}", at.path.display(), at.line, at.column)),
                ..s
            })
        })
        .map_err(|e| c.err(sql, e))
}

fn expectations(
    c: &Checker,
    raw: &[RawExpect],
    strategies: &[StrategyPlan],
) -> Result<Vec<Expectation>, Diagnostic> {
    let mut out = Vec::new();
    for e in raw {
        let strategy = match &e.strategy {
            None => "*".to_string(),
            Some(s) if s.get_ref() == "*" || strategies.iter().any(|p| &p.name == s.get_ref()) => {
                s.get_ref().clone()
            }
            Some(s) => {
                let names: Vec<_> = strategies.iter().map(|p| p.name.as_str()).collect();
                return Err(c.err(
                    s,
                    format!(
                        "no strategy named `{}` in this scenario; it has: {}",
                        s.get_ref(),
                        names.join(", ")
                    ),
                ));
            }
        };
        let database = match &e.database {
            None => None,
            Some(d) if d.get_ref() == "*" => None,
            Some(d) => Some(c.sql_key(d)?),
        };
        if e.that.get_ref().is_empty() {
            return Err(c.err(&e.that, "`that` lists no expectation"));
        }
        for t in e.that.get_ref() {
            let x =
                Expectation::parse(&strategy, database, t.get_ref()).map_err(|m| c.err(t, m))?;
            let number = match x.bound {
                Bound::Value(v) => v,
                Bound::Relative { factor, .. } => factor,
            };
            if !number.is_finite() {
                return Err(c.err(
                    t,
                    format!(
                        "the bound in `{}` must be a finite number, found {number}",
                        t.get_ref()
                    ),
                ));
            }
            out.push(x);
        }
    }
    Ok(out)
}
