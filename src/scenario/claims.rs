//! `[[claim]]` tables of a stress scenario: each check reads a strategy's figure
//! (`blind-retry.retries > 0`, `blind-retry.p99_us > upsert.p99_us`), located on error.

use std::path::Path;

use toml::Spanned;

use super::Diagnostic;
use super::raw::RawClaim;
use crate::lesson::{Check, Claim, Verdict};
use crate::plan::StrategyPlan;
use crate::vocab::Dialect;

/// Checks `raw` claims against the scenario's strategies and dialects.
pub(super) fn stress_claims(
    path: &Path,
    text: &str,
    raw: &[RawClaim],
    strategies: &[StrategyPlan],
    dialects: &[Dialect],
) -> Result<Vec<Claim>, Diagnostic> {
    let err = |span: std::ops::Range<usize>, m: String| Diagnostic::at(path, text, span, m);
    let line = |s: &Spanned<String>| {
        let v = s.get_ref();
        if v.trim().is_empty() || v.contains('\n') {
            Err(err(s.span(), "must be one non-empty line".into()))
        } else {
            Ok(v.clone())
        }
    };
    let mut out: Vec<Claim> = Vec::new();
    for c in raw {
        let id = line(&c.id)?;
        if out.iter().any(|o| o.id == id) {
            return Err(err(c.id.span(), format!("duplicate claim id `{id}`")));
        }
        let mut ds = Vec::new();
        for d in &c.dialects {
            let dialect = Dialect::parse(d.get_ref())
                .filter(|x| dialects.contains(x))
                .ok_or_else(|| {
                    err(
                        d.span(),
                        format!("`{}` is not one of the scenario's dialects", d.get_ref()),
                    )
                })?;
            if !ds.contains(&dialect) {
                ds.push(dialect);
            }
        }
        if ds.is_empty() {
            ds = dialects.to_vec();
        }
        let mut checks = Vec::new();
        for v in c.checks.get_ref() {
            let (t, says) = match v.get_ref() {
                toml::Value::String(s) => (s.clone(), None),
                toml::Value::Table(t) => {
                    let check = t.get("check").and_then(|x| x.as_str());
                    let says = t.get("says").and_then(|x| x.as_str());
                    let unknown = t.keys().find(|k| *k != "check" && *k != "says");
                    match (check, unknown) {
                        (Some(ch), None) => (ch.to_string(), says.map(str::to_string)),
                        _ => {
                            return Err(err(
                                v.span(),
                                "a check table has `check` (a string) and optionally `says`".into(),
                            ));
                        }
                    }
                }
                _ => {
                    return Err(err(
                        v.span(),
                        "a check is a string or a table { check, says }".into(),
                    ));
                }
            };
            let check = Check::parse_stress(&t, says).map_err(|m| err(v.span(), m))?;
            if let Some(s) = check
                .steps()
                .into_iter()
                .find(|s| !strategies.iter().any(|p| p.name == *s))
            {
                let names: Vec<&str> = strategies.iter().map(|p| p.name.as_str()).collect();
                return Err(err(
                    v.span(),
                    format!(
                        "check `{t}` names no strategy `{s}`; the scenario has: {}",
                        names.join(", ")
                    ),
                ));
            }
            checks.push(check);
        }
        if checks.is_empty() {
            return Err(err(
                c.checks.span(),
                "a claim needs at least one check".into(),
            ));
        }
        let verdict = |v: &toml::Value, span: std::ops::Range<usize>| {
            v.as_str()
                .and_then(Verdict::parse)
                .filter(|v| matches!(v, Verdict::Confirmed | Verdict::Refuted | Verdict::Nuanced))
                .ok_or_else(|| {
                    err(
                        span,
                        "a predicted verdict is confirmed, refuted or nuanced".into(),
                    )
                })
        };
        let predict = match &c.predict {
            None => Vec::new(),
            Some(p) => match p.get_ref() {
                toml::Value::Table(t) => {
                    let mut out = Vec::new();
                    for (k, v) in t {
                        let key = crate::vocab::SqlKey::parse(k)
                            .filter(|key| ds.contains(&key.dialect()))
                            .ok_or_else(|| {
                                err(
                                    p.span(),
                                    format!(
                                        "`{k}` is not one of the claim's dialects nor an engine of them (mariadb, mysql8, galera)"
                                    ),
                                )
                            })?;
                        out.push((key.name().to_string(), verdict(v, p.span())?));
                    }
                    out
                }
                v => {
                    let one = verdict(v, p.span())?;
                    ds.iter().map(|d| (d.name().to_string(), one)).collect()
                }
            },
        };
        out.push(Claim {
            id,
            seed: line(&c.seed)?,
            quote: line(&c.quote)?,
            dialects: ds,
            note: c.note.clone(),
            checks,
            predict,
        });
    }
    Ok(out)
}
