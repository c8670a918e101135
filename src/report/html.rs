//! The HTML report: one self-contained page (inline CSS, plots as inline SVG, no scripts),
//! rendered as a pure function of the [`Report`], so saved JSON re-renders the same page.

mod plots;

use crate::db::Outcome;
use crate::expect::Verdict;

use super::{Report, ScenarioReport, ServerInfo, StrategyResult};

use super::num;
use plots::PlotData;

/// The page's stylesheet, compiled in.
const STYLE: &str = include_str!("html/style.css");

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the report as a self-contained HTML page: no scripts, no external resources.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>keyrace run {} — {}</title>\n",
        escape(&report.run_id),
        escape(&report.started_at)
    ));
    out.push_str(&format!("<style>\n{STYLE}</style>\n</head>\n<body>\n"));
    header(&mut out, report);
    servers(&mut out, &report.servers);
    if report.scenarios.is_empty() {
        out.push_str("<p class=\"plot-missing\">This run has no scenarios.</p>\n");
    }
    for (i, s) in report.scenarios.iter().enumerate() {
        scenario(&mut out, report, i, s);
    }
    for i in &report.interleavings {
        interleaving(&mut out, i);
    }
    out.push_str(&format!(
        "<footer>keyrace {} · results format {} · run {} · rendered from the run's JSON; \
         this page loads nothing from the network.</footer>\n",
        escape(&report.keyrace_version),
        report.format_version,
        escape(&report.run_id)
    ));
    out.push_str("</body>\n</html>\n");
    out
}

/// An interleaving scenario: verdict, summary table and per-server step output, as text.
fn interleaving(out: &mut String, i: &super::InterleaveResult) {
    out.push_str(&format!(
        "<section>\n<h2>{} <small>(interleaving)</small></h2>\n",
        escape(&i.scenario)
    ));
    out.push_str(&format!("<p><code>{}</code></p>\n", escape(&i.file)));
    if !i.teaches.is_empty() {
        out.push_str(&format!("<p><b>teaches</b> {}</p>\n", escape(&i.teaches)));
    }
    match i.matched_expected {
        Some(true) => out.push_str("<p class=\"held\">✓ same output as the expected files</p>\n"),
        Some(false) => {
            out.push_str("<p class=\"failed\">✗ output differs from the expected files</p>\n")
        }
        None => {}
    }
    out.push_str(&format!("<pre>{}</pre>\n", escape(&i.summary)));
    for d in &i.diffs {
        out.push_str(&format!("<pre class=\"failed\">{}</pre>\n", escape(d)));
    }
    for (label, text) in &i.outputs {
        out.push_str(&format!(
            "<details><summary>{}</summary><pre>{}</pre></details>\n",
            escape(label),
            escape(text)
        ));
    }
    out.push_str("</section>\n");
}

fn header(out: &mut String, report: &Report) {
    out.push_str(&format!(
        "<h1>keyrace run <code>{}</code></h1>\n",
        escape(&report.run_id)
    ));
    out.push_str(&format!(
        "<p class=\"meta\"><span>started {}</span><span>keyrace {}</span><span>{} \
         scenario{}</span>",
        escape(&report.started_at),
        escape(&report.keyrace_version),
        report.scenarios.len(),
        if report.scenarios.len() == 1 { "" } else { "s" }
    ));
    if !report.command.is_empty() {
        let cmd: Vec<String> = report.command.iter().map(|c| escape(c)).collect();
        out.push_str(&format!(
            "<span>keyrace run <code>{}</code></span>",
            cmd.join(" ")
        ));
    }
    out.push_str("</p>\n");
    if report.interrupted {
        out.push_str(
            "<div class=\"banner\">Interrupted: the run was stopped before it finished; \
             figures are partial.</div>\n",
        );
    }
    let verdicts = || {
        report
            .scenarios
            .iter()
            .flat_map(|s| &s.results)
            .flat_map(|r| &r.expectations)
    };
    let total = verdicts().count();
    let failed = verdicts().filter(|v| !v.held).count();
    let errors = report
        .scenarios
        .iter()
        .filter(|s| s.error.is_some())
        .count();
    out.push_str(&format!(
        "<p class=\"summary\">Expectations: <span class=\"ok\">{} held</span>, \
         <span class=\"{}\">{failed} failed</span>",
        total - failed,
        if failed > 0 { "bad" } else { "ok" }
    ));
    if errors > 0 {
        out.push_str(&format!(
            " · <span class=\"bad\">{errors} scenario{} stopped on an error</span>",
            if errors == 1 { "" } else { "s" }
        ));
    }
    out.push_str("</p>\n");
}

fn servers(out: &mut String, servers: &[ServerInfo]) {
    out.push_str("<h2>Servers</h2>\n");
    if servers.is_empty() {
        out.push_str("<p class=\"plot-missing\">No servers.</p>\n");
        return;
    }
    out.push_str(
        "<div class=\"table-wrap\"><table>\n<thead><tr><th>label</th><th>dialect</th>\
         <th>provider</th><th>version</th><th>URL (password redacted)</th><th>settings</th>\
         </tr></thead>\n<tbody>\n",
    );
    for s in servers {
        let mut settings: Vec<String> = s
            .settings
            .iter()
            .map(|(k, v)| format!("<code>{}</code>&nbsp;=&nbsp;{}", escape(k), escape(v)))
            .collect();
        if let Some(ms) = s.startup_ms {
            settings.push(format!("started in {} ms", num(ms)));
        }
        out.push_str(&format!(
            "<tr><td class=\"strategy\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><code>{}</code></td><td class=\"settings\">{}</td></tr>\n",
            escape(&s.database),
            escape(&s.dialect),
            escape(&s.provider),
            escape(&s.version),
            escape(&s.url),
            settings.join("<br>")
        ));
    }
    out.push_str("</tbody></table></div>\n");
}

/// A workload or table value as a short human string.
fn value_text(key: &str, v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if key == "operations" && n.as_u64() == Some(u64::MAX) => {
            Some("unbounded (runs for the duration)".into())
        }
        Value::Number(n) => Some(n.as_u64().map_or_else(|| n.to_string(), num)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(m) => {
            let kind = m.get("kind").and_then(Value::as_str);
            let rest: Vec<String> = m
                .iter()
                .filter(|(k, v)| k.as_str() != "kind" && !v.is_null())
                .map(|(k, v)| format!("{k}={}", value_text(k, v).unwrap_or_default()))
                .collect();
            Some(match (kind, rest.is_empty()) {
                (Some(k), true) => k.to_string(),
                (Some(k), false) => format!("{k} ({})", rest.join(", ")),
                (None, _) => rest.join(", "),
            })
        }
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| value_text("", x))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

/// `key value · key value` for an object, well-known keys first.
fn summary(v: &serde_json::Value, first: &[&str]) -> String {
    let Some(m) = v.as_object() else {
        return value_text("", v).map(|s| escape(&s)).unwrap_or_default();
    };
    let mut keys: Vec<&str> = first
        .iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .collect();
    keys.extend(m.keys().map(String::as_str).filter(|k| !first.contains(k)));
    keys.iter()
        .filter_map(|k| {
            let t = value_text(k, &m[*k])?;
            Some(format!(
                "<span class=\"settings\">{}</span>&nbsp;{}",
                escape(k),
                escape(&t)
            ))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Database labels in column order: the servers' order, then any others the results name.
fn databases<'a>(report: &'a Report, s: &'a ScenarioReport) -> Vec<&'a str> {
    let mut dbs: Vec<&str> = report
        .servers
        .iter()
        .map(|x| x.database.as_str())
        .filter(|d| s.results.iter().any(|r| r.database == *d))
        .collect();
    for r in &s.results {
        if !dbs.contains(&r.database.as_str()) {
            dbs.push(&r.database);
        }
    }
    dbs
}

fn strategies(s: &ScenarioReport) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for r in &s.results {
        if !names.contains(&r.strategy.as_str()) {
            names.push(&r.strategy);
        }
    }
    names
}

fn scenario(out: &mut String, report: &Report, index: usize, s: &ScenarioReport) {
    out.push_str(&format!(
        "<section id=\"scenario-{index}\">\n<h2>{}</h2>\n<dl class=\"scenario\">\n",
        escape(&s.name)
    ));
    out.push_str(&format!(
        "<dt>file</dt><dd><code>{}</code></dd>\n",
        escape(&s.file)
    ));
    if !s.description.is_empty() {
        out.push_str(&format!(
            "<dt>description</dt><dd>{}</dd>\n",
            escape(&s.description)
        ));
    }
    if !s.teaches.is_empty() {
        out.push_str(&format!(
            "<dt>teaches</dt><dd>{}</dd>\n",
            escape(&s.teaches)
        ));
    }
    if !s.claims.is_empty() {
        out.push_str("<dt>claims</dt><dd><ul>");
        for c in &s.claims {
            out.push_str(&format!("<li>{}</li>", escape(c)));
        }
        out.push_str("</ul></dd>\n");
    }
    let workload = summary(
        &s.workload,
        &[
            "shape",
            "mode",
            "workers",
            "operations",
            "duration",
            "isolation",
            "keys",
            "distribution",
            "seed",
        ],
    );
    if !workload.is_empty() {
        out.push_str(&format!("<dt>workload</dt><dd>{workload}</dd>\n"));
    }
    let table = summary(&s.table, &["name", "key", "key_type", "payload", "counter"]);
    if !table.is_empty() {
        out.push_str(&format!("<dt>table</dt><dd>{table}</dd>\n"));
    }
    out.push_str("</dl>\n");
    if let Some(e) = &s.error {
        out.push_str(&format!(
            "<div class=\"banner bad\">This scenario stopped on an error: {}</div>\n",
            escape(e)
        ));
    }
    if s.results.is_empty() {
        out.push_str("<p class=\"plot-missing\">No results for this scenario.</p>\n</section>\n");
        return;
    }
    let dbs = databases(report, s);
    let names = strategies(s);
    comparison(out, s, &names, &dbs);
    let data = PlotData {
        strategies: names,
        databases: dbs,
        results: &s.results,
    };
    let plot_list: [(&str, &str, fn(&PlotData) -> Result<String, String>); 3] = [
        (
            "Throughput",
            "Operations per second, per strategy and database (higher is better).",
            plots::throughput,
        ),
        (
            "Latency",
            "Operation latency quantiles p50, p90, p99 and p99.9, log scale (lower is better).",
            plots::latency,
        ),
        (
            "Outcome mix",
            "Final outcome of each operation, as a share of all operations.",
            plots::outcomes,
        ),
    ];
    for (title, caption, f) in plot_list {
        out.push_str(&format!(
            "<div class=\"plot\">\n<h3>{title}</h3>\n<p class=\"meta\">{caption}</p>\n"
        ));
        match f(&data) {
            Ok(svg) => {
                out.push_str(&svg);
                out.push('\n');
            }
            Err(e) => out.push_str(&format!(
                "<p class=\"plot-missing\">plot unavailable: {}</p>\n",
                escape(&e)
            )),
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

/// One column of the comparison table.
struct Col {
    title: &'static str,
    /// Figures (as expectations name them) this column shows: a failed expectation on one
    /// highlights the cell.
    figures: &'static [&'static str],
    value: fn(&StrategyResult) -> Cell,
    /// Shown only when some result has a non-zero value.
    optional: bool,
}

/// A cell's HTML (already escaped) and whether it shows zero.
struct Cell {
    html: String,
    zero: bool,
}

fn count(v: u64) -> Cell {
    Cell {
        html: num(v),
        zero: v == 0,
    }
}

fn outcome_col(title: &'static str, o: Outcome, optional: bool) -> Col {
    let value: fn(&StrategyResult) -> Cell = match o {
        Outcome::Inserted => |r| count(r.outcomes.inserted),
        Outcome::Existed => |r| count(r.outcomes.existed),
        Outcome::Updated => |r| count(r.outcomes.updated),
        Outcome::UniqueViolation => |r| count(r.outcomes.unique_violation),
        Outcome::Deadlock => |r| count(r.outcomes.deadlock),
        Outcome::SerializationFailure => |r| count(r.outcomes.serialization_failure),
        Outcome::LockTimeout => |r| count(r.outcomes.lock_timeout),
        Outcome::ConnectionError => |r| count(r.outcomes.connection_error),
        Outcome::Timeout => |r| count(r.outcomes.timeout),
        Outcome::Other => |r| {
            if r.outcomes.other == 0 {
                return count(0);
            }
            let codes: Vec<String> = r
                .other_codes
                .iter()
                .map(|(c, n)| format!("{}×{}", escape(c), num(*n)))
                .collect();
            Cell {
                html: format!("{} ({})", num(r.outcomes.other), codes.join(" ")),
                zero: false,
            }
        },
    };
    let figures: &'static [&'static str] = match o {
        Outcome::Inserted => &["inserted"],
        Outcome::Existed => &["existed"],
        Outcome::Updated => &["updated"],
        Outcome::UniqueViolation => &["unique_violation", "errors"],
        Outcome::Deadlock => &["deadlock", "errors"],
        Outcome::SerializationFailure => &["serialization_failure", "errors"],
        Outcome::LockTimeout => &["lock_timeout", "errors"],
        Outcome::ConnectionError => &["connection_error", "errors"],
        Outcome::Timeout => &["timeout", "errors"],
        Outcome::Other => &["other", "errors"],
    };
    Col {
        title,
        figures,
        value,
        optional,
    }
}

/// A short name of an error class for narrow cells.
fn short(o: Outcome) -> &'static str {
    match o {
        Outcome::UniqueViolation => "unique viol.",
        Outcome::SerializationFailure => "serial. fail",
        Outcome::LockTimeout => "lock t/o",
        Outcome::ConnectionError => "conn err",
        o => o.name(),
    }
}

fn columns() -> Vec<Col> {
    vec![
        Col {
            title: "ops/s",
            figures: &[],
            value: |r| Cell {
                html: if r.ops_per_sec > 0.0 && r.ops_per_sec < 10.0 {
                    format!("{:.1}", r.ops_per_sec)
                } else {
                    num(r.ops_per_sec.round() as u64)
                },
                zero: r.ops_per_sec == 0.0,
            },
            optional: false,
        },
        Col {
            title: "ops",
            figures: &["ops"],
            value: |r| count(r.ops),
            optional: false,
        },
        Col {
            title: "p50 µs",
            figures: &[],
            value: |r| count(r.latency_us.p50),
            optional: false,
        },
        Col {
            title: "p99 µs",
            figures: &[],
            value: |r| count(r.latency_us.p99),
            optional: false,
        },
        outcome_col("inserted", Outcome::Inserted, false),
        outcome_col("existed", Outcome::Existed, false),
        outcome_col("updated", Outcome::Updated, true),
        outcome_col("unique viol.", Outcome::UniqueViolation, false),
        outcome_col("deadlock", Outcome::Deadlock, true),
        outcome_col("serial. fail", Outcome::SerializationFailure, true),
        outcome_col("lock t/o", Outcome::LockTimeout, true),
        outcome_col("conn err", Outcome::ConnectionError, true),
        outcome_col("other", Outcome::Other, true),
        Col {
            title: "handled",
            figures: &[
                "handled_unique_violation",
                "handled_deadlock",
                "handled_serialization_failure",
            ],
            value: |r| {
                let h = &r.handled;
                let parts: Vec<String> = Outcome::ALL
                    .iter()
                    .filter(|o| o.is_error() && h.get(**o) > 0)
                    .map(|o| format!("{}&nbsp;{}", short(*o), num(h.get(*o))))
                    .collect();
                Cell {
                    zero: parts.is_empty(),
                    html: if parts.is_empty() {
                        "0".into()
                    } else {
                        parts.join("<br>")
                    },
                }
            },
            optional: true,
        },
        Col {
            title: "retries",
            figures: &["retries"],
            value: |r| count(r.retries),
            optional: true,
        },
        Col {
            title: "rows",
            figures: &["rows"],
            value: |r| count(r.rows),
            optional: false,
        },
        Col {
            title: "dup rows",
            figures: &["duplicate_rows"],
            value: |r| count(r.duplicate_rows),
            optional: false,
        },
        Col {
            title: "lost upd",
            figures: &["lost_updates"],
            value: |r| count(r.lost_updates),
            optional: true,
        },
        Col {
            title: "missing",
            figures: &["missing_rows"],
            value: |r| count(r.missing_rows),
            optional: true,
        },
    ]
}

/// The figure an expectation's text names (`unique_violation` in `unique_violation > 0`).
fn figure_of(v: &Verdict) -> &str {
    let t = v.text.trim_start();
    let end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(t.len());
    &t[..end]
}

fn fmt_actual(v: f64) -> String {
    if v.is_nan() {
        "no value".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn verdicts(r: &StrategyResult) -> String {
    if r.expectations.is_empty() {
        return "<span class=\"settings\">none</span>".into();
    }
    let held: Vec<String> = r
        .expectations
        .iter()
        .filter(|v| v.held)
        .map(|v| escape(&v.text))
        .collect();
    let mut out = String::from("<ul class=\"verdicts\">");
    if !held.is_empty() {
        out.push_str(&format!(
            "<li class=\"held\" title=\"{}\">✓ {} held</li>",
            held.join("; "),
            held.len()
        ));
    }
    for v in &r.expectations {
        if !v.held {
            out.push_str(&format!(
                "<li class=\"failed\">✗ {} (got {})</li>",
                escape(&v.text),
                fmt_actual(v.actual)
            ));
        }
    }
    out.push_str("</ul>");
    out
}

fn comparison(out: &mut String, s: &ScenarioReport, names: &[&str], dbs: &[&str]) {
    let cols: Vec<Col> = columns()
        .into_iter()
        .filter(|c| !c.optional || s.results.iter().any(|r| r.available && !(c.value)(r).zero))
        .collect();
    let hidden: Vec<&str> = columns()
        .iter()
        .filter(|c| !cols.iter().any(|k| k.title == c.title))
        .map(|c| c.title)
        .collect();
    out.push_str("<h3>Comparison</h3>\n");
    if !hidden.is_empty() {
        out.push_str(&format!(
            "<p class=\"meta\">Columns that are zero for every strategy are left out: {}.</p>\n",
            escape(&hidden.join(", "))
        ));
    }
    out.push_str("<div class=\"table-wrap\"><table class=\"comparison\">\n");
    out.push_str("<thead><tr><th>strategy</th><th>database</th>");
    for c in &cols {
        out.push_str(&format!("<th>{}</th>", escape(c.title)));
    }
    out.push_str("<th>expectations</th></tr></thead>\n<tbody>\n");
    let mut notes = Vec::new();
    for name in names {
        let rows: Vec<&StrategyResult> = dbs
            .iter()
            .filter_map(|d| {
                s.results
                    .iter()
                    .find(|r| r.strategy == *name && r.database == *d)
            })
            .collect();
        for (i, r) in rows.iter().enumerate() {
            out.push_str(if i == 0 {
                "<tr class=\"group-start\">"
            } else {
                "<tr>"
            });
            if i == 0 {
                out.push_str(&format!(
                    "<td class=\"strategy\" rowspan=\"{}\">{}</td>",
                    rows.len(),
                    escape(name)
                ));
            }
            out.push_str(&format!("<td class=\"db\">{}</td>", escape(&r.database)));
            if !r.available {
                let note = r
                    .note
                    .as_deref()
                    .map(|n| format!(" — {}", escape(n)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "<td class=\"na\" colspan=\"{}\">n/a{note}</td></tr>\n",
                    cols.len() + 1
                ));
                continue;
            }
            let failed: Vec<&str> = r
                .expectations
                .iter()
                .filter(|v| !v.held)
                .map(figure_of)
                .collect();
            for c in &cols {
                let cell = (c.value)(r);
                let bad = c.figures.iter().any(|f| failed.contains(f));
                let class = match (bad, cell.zero) {
                    (true, _) => "n bad-cell",
                    (false, true) => "n z",
                    (false, false) => "n",
                };
                out.push_str(&format!("<td class=\"{class}\">{}</td>", cell.html));
            }
            out.push_str(&format!("<td>{}</td></tr>\n", verdicts(r)));
            if let Some(n) = &r.note {
                notes.push(format!(
                    "<li>{} on {}: {}</li>",
                    escape(&r.strategy),
                    escape(&r.database),
                    escape(n)
                ));
            }
        }
    }
    out.push_str("</tbody></table></div>\n");
    if !notes.is_empty() {
        out.push_str(&format!("<ul class=\"notes\">{}</ul>\n", notes.concat()));
    }
}
