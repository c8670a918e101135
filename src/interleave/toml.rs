//! Reader for keyrace's TOML interleaving scenarios (`[[session]]` with `[[session.step]]`).
//!
//! Parsed with `toml::de::DeTable`, which keeps the span of every key and value, then checked
//! by hand so that every error names file, line and column. The format is documented key by
//! key in `docs/interleavings.md`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::Diagnostic;
use super::plan::{
    InterleavePlan, MAX_GENERATED_PERMUTATIONS, MAX_SESSIONS, Session, SourceFormat, SqlText, Step,
    all_interleavings,
};
use super::spec::{DEFAULT_WAIT_TIMEOUT_MS, parse_permutation_entry, resolve_permutation};
use crate::db::Dialect;

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "teaches",
    "dialects",
    "setup",
    "teardown",
    "session",
    "permutations",
    "wait_timeout_ms",
    "effects",
    "claim",
];
const SESSION_KEYS: &[&str] = &["name", "setup", "teardown", "step", "node"];

/// The highest node a session can be pinned to (`node = K`): the largest Galera cluster
/// keyrace starts (`galera:9`).
const MAX_NODE: usize = 9;
const STEP_KEYS: &[&str] = &["name", "sql", "postgres", "mysql"];
const SQL_KEYS: &[&str] = &["sql", "postgres", "mysql"];

/// The longest `wait_timeout_ms`: one hour.
pub const MAX_WAIT_TIMEOUT_MS: u64 = 3_600_000;

pub(super) type V<'i> = Spanned<DeValue<'i>>;

pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    pub(super) fn err(&self, span: Range<usize>, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.path, self.text, span, msg)
    }

    pub(super) fn check_keys(
        &self,
        table: &DeTable<'_>,
        allowed: &[&str],
        what: &str,
    ) -> Result<(), Diagnostic> {
        for (k, _) in table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                return Err(self.err(
                    k.span(),
                    format!(
                        "unknown key `{}` in {what} (expected one of: {})",
                        k.get_ref(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn string(&self, v: &V<'_>, key: &str) -> Result<String, Diagnostic> {
        v.get_ref().as_str().map(str::to_string).ok_or_else(|| {
            self.err(
                v.span(),
                format!("`{key}` must be a string, found {}", v.get_ref().type_str()),
            )
        })
    }

    pub(super) fn opt_string(
        &self,
        t: &DeTable<'_>,
        key: &str,
    ) -> Result<Option<String>, Diagnostic> {
        t.get(key).map(|v| self.string(v, key)).transpose()
    }

    /// `sql = "..."` and/or `postgres = "..."` / `mysql = "..."` in `t`.
    fn sql_fields(
        &self,
        t: &DeTable<'_>,
        span: Range<usize>,
        what: &str,
    ) -> Result<SqlText, Diagnostic> {
        let sql = SqlText {
            any: self.opt_string(t, "sql")?,
            postgres: self.opt_string(t, "postgres")?,
            mysql: self.opt_string(t, "mysql")?,
        };
        if sql.any.is_none() && sql.postgres.is_none() && sql.mysql.is_none() {
            return Err(self.err(
                span,
                format!("{what} has no SQL: give `sql`, or `postgres` and/or `mysql`"),
            ));
        }
        Ok(sql)
    }

    /// A setup/teardown value: a string, a `{ sql, postgres, mysql }` table, or an array of those.
    fn sql_list(&self, v: &V<'_>, key: &str) -> Result<Vec<SqlText>, Diagnostic> {
        match v.get_ref() {
            DeValue::String(s) => Ok(vec![SqlText::shared(s.to_string())]),
            DeValue::Table(t) => {
                self.check_keys(t, SQL_KEYS, &format!("`{key}`"))?;
                Ok(vec![self.sql_fields(t, v.span(), &format!("`{key}`"))?])
            }
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    if item.get_ref().is_array() {
                        return Err(self.err(item.span(), format!("`{key}` entries must be strings or tables")));
                    }
                    out.extend(self.sql_list(item, key)?);
                }
                Ok(out)
            }
            other => Err(self.err(
                v.span(),
                format!("`{key}` must be a string, a table with `sql`/`postgres`/`mysql`, or an array of those, found {}", other.type_str()),
            )),
        }
    }

    pub(super) fn array<'v, 'i>(&self, v: &'v V<'i>, key: &str) -> Result<&'v [V<'i>], Diagnostic> {
        v.get_ref().as_array().map(|a| &a[..]).ok_or_else(|| {
            self.err(
                v.span(),
                format!("`{key}` must be an array, found {}", v.get_ref().type_str()),
            )
        })
    }

    pub(super) fn table<'v, 'i>(
        &self,
        v: &'v V<'i>,
        what: &str,
    ) -> Result<&'v DeTable<'i>, Diagnostic> {
        v.get_ref().as_table().ok_or_else(|| {
            self.err(
                v.span(),
                format!("{what} must be a table, found {}", v.get_ref().type_str()),
            )
        })
    }

    /// Where the contents of a string value start, when the source spells it without escapes.
    pub(super) fn string_content_offset(&self, v: &V<'_>, content: &str) -> Option<usize> {
        let span = v.span();
        let inner = self.text.get(span.start + 1..span.end.saturating_sub(1))?;
        (inner == content).then_some(span.start + 1)
    }
}

/// True when TOML text describes an interleaving scenario (has a `session` array of tables).
pub fn has_sessions(text: &str) -> bool {
    match DeTable::parse(text) {
        Ok(t) => t
            .get_ref()
            .get("session")
            .is_some_and(|v| v.get_ref().is_array()),
        Err(_) => text
            .lines()
            .any(|l| l.trim_start().starts_with("[[session]]")),
    }
}

/// Parses TOML scenario text into a checked plan; errors are located in `path`/`text`.
pub fn parse_toml(path: &Path, text: &str) -> Result<InterleavePlan, Diagnostic> {
    let cx = Ctx { path, text };
    let doc = DeTable::parse(text)
        .map_err(|e| Diagnostic::from_toml(path, text, &e, "invalid TOML: "))?;
    let top = doc.get_ref();
    cx.check_keys(top, TOP_KEYS, "the scenario")?;

    let name = match cx.opt_string(top, "name")? {
        Some(n) => n,
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into()),
    };
    let description = cx.opt_string(top, "description")?;
    let teaches = cx.opt_string(top, "teaches")?;
    let setup = top
        .get("setup")
        .map(|v| cx.sql_list(v, "setup"))
        .transpose()?
        .unwrap_or_default();
    let teardown = top
        .get("teardown")
        .map(|v| cx.sql_list(v, "teardown"))
        .transpose()?
        .unwrap_or_default();
    let wait_timeout_ms = match top.get("wait_timeout_ms") {
        None => DEFAULT_WAIT_TIMEOUT_MS,
        Some(v) => v
            .get_ref()
            .as_integer()
            .and_then(|i| u64::from_str_radix(i.as_str(), i.radix()).ok())
            .filter(|&ms| ms > 0 && ms <= MAX_WAIT_TIMEOUT_MS)
            .ok_or_else(|| {
                cx.err(
                    v.span(),
                    format!("`wait_timeout_ms` must be a whole number of milliseconds from 1 to {MAX_WAIT_TIMEOUT_MS} (1 hour)"),
                )
            })?,
    };

    let Some(sessions_v) = top.get("session") else {
        return Err(cx.err(
            0..0,
            "no `[[session]]` tables: an interleaving scenario needs at least one session",
        ));
    };
    let mut sessions = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut step_spans: Vec<Range<usize>> = Vec::new();
    let mut step_names: HashMap<String, usize> = HashMap::new();
    let mut session_names: HashMap<String, ()> = HashMap::new();
    for (si, sv) in cx.array(sessions_v, "session")?.iter().enumerate() {
        if si == MAX_SESSIONS {
            return Err(cx.err(
                sv.span(),
                format!("more than {MAX_SESSIONS} sessions (each holds a connection)"),
            ));
        }
        let st = cx.table(sv, "a `[[session]]` entry")?;
        cx.check_keys(st, SESSION_KEYS, "`[[session]]`")?;
        let name_v = st
            .get("name")
            .ok_or_else(|| cx.err(sv.span(), "`[[session]]` needs a `name`"))?;
        let sname = cx.string(name_v, "name")?;
        if session_names.insert(sname.clone(), ()).is_some() {
            return Err(cx.err(name_v.span(), format!("duplicate session name `{sname}`")));
        }
        let ssetup = st
            .get("setup")
            .map(|v| cx.sql_list(v, "setup"))
            .transpose()?
            .unwrap_or_default();
        let steardown = st
            .get("teardown")
            .map(|v| cx.sql_list(v, "teardown"))
            .transpose()?
            .unwrap_or_default();
        let node = match st.get("node") {
            None => 1,
            Some(v) => v
                .get_ref()
                .as_integer()
                .and_then(|i| usize::from_str_radix(i.as_str(), i.radix()).ok())
                .filter(|n| (1..=MAX_NODE).contains(n))
                .ok_or_else(|| {
                    cx.err(
                        v.span(),
                        format!("`node` must be a whole number from 1 to {MAX_NODE} (the cluster node the session connects to)"),
                    )
                })?,
        };
        let Some(steps_v) = st.get("step") else {
            return Err(cx.err(
                sv.span(),
                format!("session `{sname}` has no `[[session.step]]`"),
            ));
        };
        let mut idx = Vec::new();
        for stepv in cx.array(steps_v, "step")?.iter() {
            let t = cx.table(stepv, "a `[[session.step]]` entry")?;
            cx.check_keys(t, STEP_KEYS, "`[[session.step]]`")?;
            let nv = t
                .get("name")
                .ok_or_else(|| cx.err(stepv.span(), "`[[session.step]]` needs a `name`"))?;
            let step_name = cx.string(nv, "name")?;
            if step_name.is_empty()
                || step_name.contains(char::is_whitespace)
                || step_name.contains(['(', ')', ',', '*', '"'])
            {
                return Err(cx.err(nv.span(), format!("step name `{step_name}` must be non-empty, without spaces, quotes, `(`, `)`, `,` or `*`")));
            }
            if step_names.insert(step_name.clone(), steps.len()).is_some() {
                return Err(cx.err(nv.span(), format!("duplicate step name `{step_name}`")));
            }
            let sql = cx.sql_fields(t, stepv.span(), &format!("step `{step_name}`"))?;
            idx.push(steps.len());
            step_spans.push(nv.span());
            steps.push(Step {
                name: step_name,
                session: si,
                sql,
            });
        }
        if idx.is_empty() {
            return Err(cx.err(steps_v.span(), format!("session `{sname}` has no steps")));
        }
        sessions.push(Session {
            name: sname,
            setup: ssetup,
            teardown: steardown,
            steps: idx,
            node,
        });
    }

    // Dialects: listed, or every dialect for which all SQL is present.
    let complete = |d: Dialect| {
        setup
            .iter()
            .chain(&teardown)
            .all(|s| s.for_dialect(d).is_some())
            && sessions
                .iter()
                .flat_map(|s| s.setup.iter().chain(&s.teardown))
                .all(|s| s.for_dialect(d).is_some())
            && steps.iter().all(|s| s.sql.for_dialect(d).is_some())
    };
    let dialects = match top.get("dialects") {
        Some(v) => {
            let mut out = Vec::new();
            for item in cx.array(v, "dialects")? {
                let s = cx.string(item, "dialects")?;
                let d = Dialect::parse(&s).ok_or_else(|| {
                    cx.err(
                        item.span(),
                        format!("unknown dialect `{s}` (expected postgres or mysql)"),
                    )
                })?;
                if !complete(d) {
                    let what = steps
                        .iter()
                        .zip(&step_spans)
                        .find(|(s, _)| s.sql.for_dialect(d).is_none())
                        .map(|(s, span)| {
                            (
                                format!("step `{}` has no SQL for {d}: add `sql` or `{d}`", s.name),
                                span.clone(),
                            )
                        })
                        .unwrap_or_else(|| {
                            (
                                format!("a setup or teardown has no SQL for {d}"),
                                item.span(),
                            )
                        });
                    return Err(cx.err(what.1, what.0));
                }
                if !out.contains(&d) {
                    out.push(d);
                }
            }
            if out.is_empty() {
                return Err(cx.err(
                    v.span(),
                    "`dialects` must list at least one of postgres, mysql",
                ));
            }
            out
        }
        None => {
            let out: Vec<Dialect> = Dialect::ALL.into_iter().filter(|&d| complete(d)).collect();
            if out.is_empty() {
                return Err(cx.err(
                    0..0,
                    "no dialect has SQL for every step, setup and teardown",
                ));
            }
            out
        }
    };

    let (permutations, generated) = match top.get("permutations") {
        None => {
            let all = all_interleavings(&sessions, MAX_GENERATED_PERMUTATIONS).ok_or_else(|| {
                cx.err(sessions_v.span(), format!("no `permutations` and these sessions have more than {MAX_GENERATED_PERMUTATIONS} interleavings: list the ones to run in `permutations`"))
            })?;
            (all, true)
        }
        Some(v) => {
            let mut out = Vec::new();
            for pv in cx.array(v, "permutations")? {
                let entries_v = cx.array(pv, "each permutation")?;
                if entries_v.is_empty() {
                    return Err(cx.err(pv.span(), "a permutation must list at least one step"));
                }
                let mut entries = Vec::new();
                for ev in entries_v {
                    let s = cx.string(ev, "permutation entries")?;
                    let base = cx.string_content_offset(ev, &s);
                    let relocate = |span: Range<usize>| match base {
                        Some(b) => b + span.start..b + span.end,
                        None => ev.span(),
                    };
                    let entry = parse_permutation_entry(&s)
                        .map_err(|(span, msg)| cx.err(relocate(span), msg))?;
                    let mut entry = entry;
                    entry.name.span = relocate(entry.name.span.clone());
                    for b in &mut entry.blockers {
                        if let super::spec::RawBlocker::Step(n)
                        | super::spec::RawBlocker::Notices(n, _) = b
                        {
                            n.span = relocate(n.span.clone());
                        }
                    }
                    entries.push(entry);
                }
                out.push(
                    resolve_permutation(&entries, &step_names)
                        .map_err(|(span, msg)| cx.err(span, msg))?,
                );
            }
            if out.is_empty() {
                return Err(cx.err(
                    v.span(),
                    "`permutations` is empty: remove it to run every interleaving",
                ));
            }
            (out, false)
        }
    };

    let claims = match top.get("claim") {
        Some(v) => super::claims::parse_claims(&cx, v, &step_names, &dialects)?,
        None => Vec::new(),
    };
    let effects = match top.get("effects") {
        None => !claims.is_empty(),
        Some(v) => v.get_ref().as_bool().ok_or_else(|| {
            cx.err(
                v.span(),
                format!(
                    "`effects` must be true or false, found {}",
                    v.get_ref().type_str()
                ),
            )
        })?,
    };

    Ok(InterleavePlan {
        name,
        description,
        teaches,
        source: path.to_path_buf(),
        format: SourceFormat::Toml,
        dialects,
        setup,
        teardown,
        sessions,
        steps,
        permutations,
        permutations_generated: generated,
        wait_timeout_ms,
        effects,
        claims,
    })
}
