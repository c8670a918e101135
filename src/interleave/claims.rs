//! `[[claim]]` tables of an interleaving scenario: read from TOML (every error located), and
//! decided on a run's report by reading each step's measured result.

use std::collections::HashMap;

use toml::de::DeValue;

use super::diag::Diagnostic;
use super::output::{Event, InterleaveReport, StepOutcome, TargetReport};
use super::plan::InterleavePlan;
use super::session::{Rows, StepItem};
use super::toml::{Ctx, V};
use crate::db::Dialect;
use crate::lesson::{
    Check, CheckResult, Claim, ClaimOnServer, ClaimResult, Figure, Operand, Value, Verdict, compare,
};

const CLAIM_KEYS: &[&str] = &[
    "id", "seed", "quote", "dialects", "note", "checks", "predict",
];
const CHECK_KEYS: &[&str] = &["check", "says"];

/// Reads the `claim` array of tables; checks must name existing steps, `dialects` must be
/// among the scenario's.
pub(super) fn parse_claims(
    cx: &Ctx<'_>,
    v: &V<'_>,
    steps: &HashMap<String, usize>,
    plan_dialects: &[Dialect],
) -> Result<Vec<Claim>, Diagnostic> {
    let mut out: Vec<Claim> = Vec::new();
    for cv in cx.array(v, "claim")? {
        let t = cx.table(cv, "a `[[claim]]` entry")?;
        cx.check_keys(t, CLAIM_KEYS, "`[[claim]]`")?;
        let required = |key: &str| -> Result<String, Diagnostic> {
            let v = t
                .get(key)
                .ok_or_else(|| cx.err(cv.span(), format!("`[[claim]]` needs `{key}`")))?;
            let s = cx.string(v, key)?;
            if s.trim().is_empty() || s.contains('\n') {
                return Err(cx.err(v.span(), format!("`{key}` must be one non-empty line")));
            }
            Ok(s)
        };
        let id = required("id")?;
        if out.iter().any(|c| c.id == id) {
            return Err(cx.err(
                t.get("id").map(|v| v.span()).unwrap_or(cv.span()),
                format!("duplicate claim id `{id}`"),
            ));
        }
        let seed = required("seed")?;
        let quote = required("quote")?;
        let note = cx.opt_string(t, "note")?;
        let dialects = match t.get("dialects") {
            None => plan_dialects.to_vec(),
            Some(dv) => {
                let mut ds = Vec::new();
                for item in cx.array(dv, "dialects")? {
                    let s = cx.string(item, "dialects")?;
                    let d = Dialect::parse(&s)
                        .filter(|d| plan_dialects.contains(d))
                        .ok_or_else(|| {
                            cx.err(
                                item.span(),
                                format!("`{s}` is not one of the scenario's dialects"),
                            )
                        })?;
                    if !ds.contains(&d) {
                        ds.push(d);
                    }
                }
                ds
            }
        };
        let checks_v = t
            .get("checks")
            .ok_or_else(|| cx.err(cv.span(), "`[[claim]]` needs `checks`"))?;
        let mut checks = Vec::new();
        for ck in cx.array(checks_v, "checks")? {
            let (text, says, span) = match ck.get_ref() {
                DeValue::String(s) => (s.to_string(), None, ck.span()),
                DeValue::Table(ct) => {
                    cx.check_keys(ct, CHECK_KEYS, "a check")?;
                    let tv = ct
                        .get("check")
                        .ok_or_else(|| cx.err(ck.span(), "a check table needs `check`"))?;
                    (
                        cx.string(tv, "check")?,
                        cx.opt_string(ct, "says")?,
                        tv.span(),
                    )
                }
                other => {
                    return Err(cx.err(
                        ck.span(),
                        format!(
                            "a check must be a string or a table {{ check, says }}, found {}",
                            other.type_str()
                        ),
                    ));
                }
            };
            let check = Check::parse(&text, says).map_err(|m| cx.err(span.clone(), m))?;
            if let Some(s) = check.steps().into_iter().find(|s| !steps.contains_key(*s)) {
                return Err(cx.err(span, format!("check `{text}` names no step `{s}`")));
            }
            checks.push(check);
        }
        if checks.is_empty() {
            return Err(cx.err(checks_v.span(), "a claim needs at least one check"));
        }
        let predict = match t.get("predict") {
            None => Vec::new(),
            Some(pv) => parse_predict(cx, pv, &dialects)?,
        };
        out.push(Claim {
            id,
            seed,
            quote,
            dialects,
            note,
            checks,
            predict,
        });
    }
    Ok(out)
}

/// `predict = "nuanced"` (every dialect of the claim) or `{ postgres = "…", mysql = "…" }`.
fn parse_predict(
    cx: &Ctx<'_>,
    v: &V<'_>,
    dialects: &[Dialect],
) -> Result<Vec<(String, Verdict)>, Diagnostic> {
    let verdict = |v: &V<'_>| -> Result<Verdict, Diagnostic> {
        let s = cx.string(v, "predict")?;
        Verdict::parse(&s)
            .filter(|v| matches!(v, Verdict::Confirmed | Verdict::Refuted | Verdict::Nuanced))
            .ok_or_else(|| {
                cx.err(
                    v.span(),
                    format!("`{s}` is not a verdict: confirmed, refuted or nuanced"),
                )
            })
    };
    match v.get_ref() {
        DeValue::String(_) => {
            let p = verdict(v)?;
            Ok(dialects.iter().map(|d| (d.name().to_string(), p)).collect())
        }
        DeValue::Table(t) => {
            let mut out = Vec::new();
            for (k, pv) in t.iter() {
                let key = crate::vocab::SqlKey::parse(k.get_ref())
                    .filter(|key| dialects.contains(&key.dialect()))
                    .ok_or_else(|| {
                        cx.err(
                            k.span(),
                            format!(
                                "`{}` is not one of the claim's dialects nor an engine of them (mariadb, mysql8, galera)",
                                k.get_ref()
                            ),
                        )
                    })?;
                out.push((key.name().to_string(), verdict(pv)?));
            }
            Ok(out)
        }
        other => Err(cx.err(
            v.span(),
            format!(
                "`predict` must be a verdict or a table of verdicts per dialect, found {}",
                other.type_str()
            ),
        )),
    }
}

/// What one step measured on one server: the first time it ran in the report.
#[derive(Debug, Default)]
struct Facts {
    sql: String,
    error: Option<super::output::StepError>,
    rows: Option<Rows>,
    affected: Vec<u64>,
    warnings: Vec<(String, String, String)>,
    notices: Vec<String>,
    waited: bool,
}

impl Facts {
    fn value(&self, figure: Figure) -> Value {
        let warnings = || self.warnings.iter().filter(|w| w.0 != "Error");
        match figure {
            Figure::Error => self
                .error
                .as_ref()
                .map_or(Value::Nothing, |e| Value::Text(e.code.clone())),
            Figure::Class => self
                .error
                .as_ref()
                .map_or(Value::Nothing, |e| Value::Text(e.class.name().to_string())),
            Figure::Message => self
                .error
                .as_ref()
                .map_or(Value::Nothing, |e| Value::Text(e.message.clone())),
            Figure::Affected => Value::Number(self.affected.iter().sum::<u64>() as f64),
            Figure::Rows => Value::Number(self.rows.as_ref().map_or(0, |r| r.rows.len()) as f64),
            Figure::Warnings => Value::Number((warnings().count() + self.notices.len()) as f64),
            Figure::Warning => Value::Codes(warnings().map(|w| w.1.clone()).collect()),
            Figure::Value => match self.rows.as_ref().and_then(|r| r.rows.first()?.first()) {
                Some(Some(s)) => Value::Text(s.clone()),
                Some(None) => Value::Null,
                None => Value::Nothing,
            },
            Figure::Waited => Value::Number(if self.waited { 1.0 } else { 0.0 }),
        }
    }

    /// `SQL → what the server answered`, in one line.
    fn evidence(&self) -> String {
        let mut parts = Vec::new();
        if self.waited {
            parts.push("waited for a lock".to_string());
        }
        if let Some(r) = &self.rows {
            let n = r.rows.len();
            let first = r.rows.first().map(|row| {
                row.iter()
                    .map(|c| c.as_deref().unwrap_or("NULL"))
                    .collect::<Vec<_>>()
                    .join("|")
            });
            parts.push(match first {
                Some(f) if n == 1 => format!("1 row: {f}"),
                Some(f) => format!("{n} rows, first: {f}"),
                None => "0 rows".into(),
            });
        }
        for a in &self.affected {
            parts.push(format!("affected rows: {a}"));
        }
        if let Some(e) = &self.error {
            parts.push(format!(
                "ERROR {} ({}): {}",
                e.code,
                e.class.name(),
                e.message
            ));
        }
        for (level, code, message) in &self.warnings {
            parts.push(format!("{level} {code}: {message}"));
        }
        for n in &self.notices {
            parts.push(format!("NOTICE: {n}"));
        }
        if parts.is_empty() {
            parts.push("ok".into());
        }
        format!("{} → {}", one_line(&self.sql), parts.join("; "))
    }
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn record_output(f: &mut Facts, output: &[StepItem], result: &StepOutcome) {
    for item in output {
        match item {
            StepItem::Affected { rows } => f.affected.push(*rows),
            StepItem::Warning {
                level,
                code,
                message,
            } => f
                .warnings
                .push((level.clone(), code.clone(), message.clone())),
            StepItem::Rows(_) | StepItem::Notify { .. } => {}
        }
    }
    match result {
        StepOutcome::Ok { rows, query } => {
            f.rows = rows.clone().or_else(|| query.then(Rows::default));
        }
        StepOutcome::Error(e) => f.error = Some(e.clone()),
    }
}

/// Every step's facts on one server (a step run in several permutations: its first run).
fn facts_of(plan: &InterleavePlan, target: &TargetReport) -> HashMap<String, Facts> {
    let session_of: HashMap<&str, &str> = plan
        .steps
        .iter()
        .map(|s| (s.name.as_str(), plan.sessions[s.session].name.as_str()))
        .collect();
    let mut out: HashMap<String, Facts> = HashMap::new();
    for p in &target.permutations {
        let mut seen: HashMap<String, Facts> = HashMap::new();
        // Notices a session received that no step of it has claimed yet: the isolation
        // tester prints a step's own notices before its line.
        let mut pending: HashMap<String, Vec<String>> = HashMap::new();
        for e in &p.events {
            match e {
                Event::Notice {
                    session, message, ..
                } => pending
                    .entry(session.clone())
                    .or_default()
                    .push(message.clone()),
                Event::Step {
                    step,
                    sql,
                    waiting,
                    output,
                    result,
                    ..
                } => {
                    let f = seen.entry(step.clone()).or_default();
                    f.sql = sql.clone();
                    f.waited = *waiting;
                    if let Some(s) = session_of.get(step.as_str()) {
                        f.notices.extend(pending.remove(*s).unwrap_or_default());
                    }
                    if let Some(r) = result {
                        record_output(f, output, r);
                    }
                }
                Event::Completed {
                    step,
                    output,
                    result,
                } => {
                    let f = seen.entry(step.clone()).or_default();
                    if let Some(s) = session_of.get(step.as_str()) {
                        f.notices.extend(pending.remove(*s).unwrap_or_default());
                    }
                    record_output(f, output, result);
                }
                Event::SetupError { .. } => {}
            }
        }
        for (k, v) in seen {
            out.entry(k).or_insert(v);
        }
    }
    out
}

fn check_on(check: &Check, facts: &HashMap<String, Facts>) -> CheckResult {
    let side = |o: &Operand| -> Option<(Value, Option<String>)> {
        Some(match o {
            Operand::Figure { step, figure } => {
                let f = facts.get(step)?;
                // A step that never completed (cancelled, harness failure) measured nothing.
                if f.sql.is_empty() {
                    return None;
                }
                (f.value(*figure), Some(f.evidence()))
            }
            Operand::Number { value } => (Value::Number(*value), None),
            Operand::Text { value } => (Value::Text(value.clone()), None),
            Operand::Null => (Value::Null, None),
            Operand::Nothing => (Value::Nothing, None),
            Operand::Stat { .. } => return None,
        })
    };
    let (left, right) = (side(&check.left), side(&check.right));
    let (held, actual, evidence) = match (left, right) {
        (Some((l, le)), Some((r, re))) => {
            let held = compare(&l, check.op, &r);
            let actual = match &check.right {
                Operand::Figure { .. } => format!("{l} vs {r}"),
                _ => l.to_string(),
            };
            let evidence = [le, re]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ");
            (Some(held), actual, evidence)
        }
        _ => (None, "not measured".into(), "the step did not run".into()),
    };
    CheckResult {
        text: check.text.clone(),
        says: check.says.clone(),
        held,
        actual,
        evidence,
    }
}

/// Decides every claim of `plan` on every server of `report`: a verdict per server from the
/// checks' outcomes (see [`Verdict::of`]), with each check's measured value and evidence.
pub fn evaluate_claims(plan: &InterleavePlan, report: &InterleaveReport) -> Vec<ClaimResult> {
    let facts: Vec<Option<HashMap<String, Facts>>> = report
        .targets
        .iter()
        .map(|t| t.skipped.is_none().then(|| facts_of(plan, t)))
        .collect();
    plan.claims
        .iter()
        .map(|c| ClaimResult {
            id: c.id.clone(),
            seed: c.seed.clone(),
            quote: c.quote.clone(),
            note: c.note.clone(),
            servers: report
                .targets
                .iter()
                .zip(&facts)
                .map(|(t, f)| {
                    let engine = t.engine.map(|e| e.name()).unwrap_or(t.dialect.name());
                    let predicted = c.predicted(t.dialect, engine);
                    match f.as_ref().filter(|_| c.dialects.contains(&t.dialect)) {
                        None => ClaimOnServer {
                            label: t.label.clone(),
                            dialect: t.dialect,
                            verdict: Verdict::NotApplicable,
                            predicted: None,
                            checks: Vec::new(),
                        },
                        Some(f) => {
                            let checks: Vec<CheckResult> =
                                c.checks.iter().map(|k| check_on(k, f)).collect();
                            let held: Vec<Option<bool>> = checks.iter().map(|k| k.held).collect();
                            ClaimOnServer {
                                label: t.label.clone(),
                                dialect: t.dialect,
                                verdict: Verdict::of(&held),
                                predicted,
                                checks,
                            }
                        }
                    }
                })
                .collect(),
        })
        .collect()
}
