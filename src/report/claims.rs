//! Lessons in the terminal: each claim with its verdict per server and the checks that
//! decided it (under an interleaving), and the one-line-per-claim list of `keyrace lessons`.

use super::table::wrap;
use crate::lesson::{ClaimResult, LessonLine, Verdict};

fn verdict_text(v: Verdict) -> String {
    format!("{} {}", v.mark(), v.name())
}

/// Every claim of a lesson: the quote and its article, then per server the verdict
/// (with the prediction, if one was made) and every check: ✓/✗, the measured value,
/// what it means, and the statement with what the server answered.
pub fn render_claims(claims: &[ClaimResult], width: usize) -> String {
    let mut out = String::new();
    for c in claims {
        out.push('\n');
        out.push_str(&wrap(
            &format!("  claim {} ({})", c.id, c.seed),
            width,
            "    ",
        ));
        out.push_str(&wrap(&format!("    “{}”", c.quote), width, "     "));
        if let Some(n) = &c.note {
            out.push_str(&wrap(&format!("    note: {n}"), width, "      "));
        }
        for s in &c.servers {
            let predicted = match s.predicted {
                Some(p) if p == s.verdict => format!(" (predicted {}: ✓)", p.name()),
                Some(p) => format!(" (predicted {}: ✗ differs)", p.name()),
                None => String::new(),
            };
            out.push_str(&wrap(
                &format!("    {}: {}{predicted}", s.label, verdict_text(s.verdict)),
                width,
                "      ",
            ));
            for k in &s.checks {
                let mark = match k.held {
                    Some(true) => "✓",
                    Some(false) => "✗",
                    None => "?",
                };
                let says = k
                    .says
                    .as_deref()
                    .map(|s| format!(" — {s}"))
                    .unwrap_or_default();
                out.push_str(&wrap(
                    &format!("      {mark} {} (measured {}){says}", k.text, k.actual),
                    width,
                    "          ",
                ));
                out.push_str(&wrap(
                    &format!("          {}", k.evidence),
                    width,
                    "            ",
                ));
            }
        }
    }
    out
}

/// `keyrace lessons`: a table of claims × servers with the verdicts, then per claim its
/// quote and, per server, the verdict with the one line of evidence that decided it.
pub fn render_lessons(lines: &[LessonLine], width: usize) -> String {
    let mut labels: Vec<String> = Vec::new();
    for l in lines {
        for s in &l.servers {
            if !labels.contains(&s.label) {
                labels.push(s.label.clone());
            }
        }
    }
    let id_w = lines
        .iter()
        .map(|l| l.claim.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let col_w: Vec<usize> = labels
        .iter()
        .map(|l| l.chars().count().max("◐ not_measured".chars().count()))
        .collect();
    let mut out = format!("{:id_w$}", "claim");
    for (l, w) in labels.iter().zip(&col_w) {
        out.push_str(&format!("  {l:w$}"));
    }
    out.push_str("  article\n");
    for l in lines {
        out.push_str(&format!("{:id_w$}", l.claim));
        for (label, w) in labels.iter().zip(&col_w) {
            out.push_str(&format!("  {:w$}", verdict_text(l.verdict_on(label))));
        }
        out.push_str(&format!("  {}\n", l.seed));
    }
    for l in lines {
        out.push('\n');
        out.push_str(&wrap(
            &format!("{} ({}, {})", l.claim, l.file, l.seed),
            width,
            "    ",
        ));
        out.push_str(&wrap(&format!("  “{}”", l.quote), width, "   "));
        if let Some(n) = &l.note {
            out.push_str(&wrap(&format!("  note: {n}"), width, "    "));
        }
        for s in &l.servers {
            let line = match s.deciding() {
                Some(k) if s.verdict != Verdict::NotApplicable => {
                    let mark = if k.held == Some(true) { "✓" } else { "✗" };
                    format!(
                        "  {}: {} — {mark} {}: {}",
                        s.label,
                        verdict_text(s.verdict),
                        k.text,
                        k.evidence
                    )
                }
                _ => format!("  {}: {}", s.label, verdict_text(s.verdict)),
            };
            out.push_str(&wrap(&line, width, "      "));
        }
    }
    let (held, total) = lines
        .iter()
        .flat_map(|l| &l.servers)
        .filter(|s| s.predicted.is_some())
        .fold((0, 0), |(h, t), s| {
            (h + usize::from(s.prediction_held()), t + 1)
        });
    out.push_str(&format!(
        "\n{} claims; predicted verdicts: {held} held, {} differ\n",
        lines.len(),
        total - held
    ));
    out
}

/// The claims of a lesson for the HTML page: per claim the quote and its article, then a
/// table with one row per server (verdict, prediction) and its checks with the evidence.
pub fn html_claims(out: &mut String, claims: &[ClaimResult]) {
    use super::html::escape;
    if claims.is_empty() {
        return;
    }
    out.push_str("<h3>Claims</h3>\n");
    for c in claims {
        out.push_str(&format!(
            "<blockquote class=\"claim\"><p>“{}”</p><footer>{} — <code>{}</code></footer></blockquote>\n",
            escape(&c.quote),
            escape(&c.seed),
            escape(&c.id)
        ));
        if let Some(n) = &c.note {
            out.push_str(&format!("<p class=\"meta\">{}</p>\n", escape(n)));
        }
        out.push_str(
            "<div class=\"table-wrap\"><table class=\"claims\"><thead><tr><th>server</th><th>verdict</th><th>check</th>\
             <th>measured</th><th>evidence: statement → what the server answered</th></tr></thead><tbody>\n",
        );
        for s in &c.servers {
            let predicted = match s.predicted {
                Some(p) if p == s.verdict => " (as predicted)".to_string(),
                Some(p) => format!(" (predicted {})", p.name()),
                None => String::new(),
            };
            let rows = s.checks.len().max(1);
            out.push_str(&format!(
                "<tr><td rowspan=\"{rows}\">{}</td><td rowspan=\"{rows}\" class=\"{}\">{}{}</td>",
                escape(&s.label),
                if s.prediction_held() {
                    "held"
                } else {
                    "failed"
                },
                escape(&verdict_text(s.verdict)),
                escape(&predicted)
            ));
            if s.checks.is_empty() {
                out.push_str("<td colspan=\"3\">not measured here</td></tr>\n");
            }
            for (i, k) in s.checks.iter().enumerate() {
                if i > 0 {
                    out.push_str("<tr>");
                }
                let mark = match k.held {
                    Some(true) => "✓",
                    Some(false) => "✗",
                    None => "?",
                };
                let says = k
                    .says
                    .as_deref()
                    .map(|s| format!("<br><small>{}</small>", escape(s)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "<td>{mark} <code>{}</code>{says}</td><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
                    escape(&k.text),
                    escape(&k.actual),
                    escape(&k.evidence)
                ));
            }
        }
        out.push_str("</tbody></table></div>\n");
    }
}

/// Decides a stress scenario's claims on every server of the run: each check reads a
/// strategy's figure on that server (a strategy not run there leaves the check, and the
/// verdict, not measured).
pub fn stress_claims(
    claims: &[crate::lesson::Claim],
    sr: &super::ScenarioReport,
    servers: &[super::ServerInfo],
) -> Vec<ClaimResult> {
    use crate::lesson::{CheckResult, ClaimOnServer, Operand, Value, compare};
    claims
        .iter()
        .map(|c| ClaimResult {
            id: c.id.clone(),
            seed: c.seed.clone(),
            quote: c.quote.clone(),
            note: c.note.clone(),
            servers: servers
                .iter()
                .filter_map(|info| {
                    let dialect = crate::vocab::Dialect::parse(&info.dialect)?;
                    let label = info.database.clone();
                    if !c.dialects.contains(&dialect) {
                        return Some(ClaimOnServer {
                            label,
                            dialect,
                            verdict: Verdict::NotApplicable,
                            predicted: None,
                            checks: Vec::new(),
                        });
                    }
                    let side = |o: &Operand| -> Option<(Value, Option<String>)> {
                        Some(match o {
                            Operand::Stat { strategy, figure } => {
                                let r = sr.results.iter().find(|r| {
                                    r.strategy == *strategy && r.database == label && r.available
                                })?;
                                let v = r.figure(figure)?;
                                let evidence = format!(
                                    "{strategy}: {figure} = {v} ({} ops, {} errors, {} retries, {:.0} ops/s, p99 {} µs)",
                                    r.ops,
                                    r.outcomes.errors(),
                                    r.retries,
                                    r.ops_per_sec,
                                    r.latency_us.p99
                                );
                                (Value::Number(v), Some(evidence))
                            }
                            Operand::Number { value } => (Value::Number(*value), None),
                            Operand::Text { value } => (Value::Text(value.clone()), None),
                            Operand::Null => (Value::Null, None),
                            Operand::Nothing => (Value::Nothing, None),
                            Operand::Figure { .. } => return None,
                        })
                    };
                    let checks: Vec<CheckResult> = c
                        .checks
                        .iter()
                        .map(|k| match (side(&k.left), side(&k.right)) {
                            (Some((l, le)), Some((r, re))) => CheckResult {
                                text: k.text.clone(),
                                says: k.says.clone(),
                                held: Some(compare(&l, k.op, &r)),
                                actual: match &k.right {
                                    Operand::Stat { .. } => format!("{l} vs {r}"),
                                    _ => l.to_string(),
                                },
                                evidence: [le, re].into_iter().flatten().collect::<Vec<_>>().join(" / "),
                            },
                            _ => CheckResult {
                                text: k.text.clone(),
                                says: k.says.clone(),
                                held: None,
                                actual: "not measured".into(),
                                evidence: "the strategy did not run on this server".into(),
                            },
                        })
                        .collect();
                    let held: Vec<Option<bool>> = checks.iter().map(|k| k.held).collect();
                    Some(ClaimOnServer {
                        label,
                        dialect,
                        verdict: Verdict::of(&held),
                        predicted: c.predicted(dialect, &info.engine),
                        checks,
                    })
                })
                .collect(),
        })
        .collect()
}
