//! The HTML report's result tables: the key table (verdict, throughput, latency, what went
//! wrong — readable at 1280 px without scrolling, as cards at 400 px) and the full table of
//! every figure, folded under it.

use crate::expect::Verdict as Check;
use crate::report::{ScenarioReport, StrategyResult, num};
use crate::vocab::Outcome;

use super::escape;

/// A cell's HTML (already escaped) and whether it shows zero.
pub struct Cell {
    html: String,
    zero: bool,
}

fn count(v: u64) -> Cell {
    Cell {
        html: num(v),
        zero: v == 0,
    }
}

/// ops/s as both tables print it: one decimal under 10, else a whole number with separators.
pub fn rate(v: f64) -> String {
    if v > 0.0 && v < 10.0 {
        format!("{v:.1}")
    } else {
        num(v.round() as u64)
    }
}

/// One column of a table.
struct Col {
    title: &'static str,
    /// A longer explanation, shown as the header's tooltip.
    help: &'static str,
    /// Figures (as expectations name them) this column shows: a failed expectation on one
    /// highlights the cell.
    figures: &'static [&'static str],
    value: fn(&StrategyResult) -> Cell,
    /// Shown only when some result has a non-zero value.
    optional: bool,
}

/// The verdict cell: the level, marked and coloured, with its reasons below it.
fn verdict_cell(r: &StrategyResult) -> String {
    match &r.verdict {
        Some(v) => format!(
            "<div class=\"verdict-box\"><span class=\"verdict v-{0}\" title=\"{1}\">{0}</span>\
             <ul class=\"reasons\">{2}</ul></div>",
            v.level.name(),
            escape(&v.reasons.join("; ")),
            v.reasons
                .iter()
                .map(|x| format!("<li>{}</li>", escape(x)))
                .collect::<String>()
        ),
        None => {
            "<span class=\"settings\" title=\"no operation finished: nothing to judge\">–</span>"
                .into()
        }
    }
}

/// Errors that reached the application, other than unique violations.
fn other_errors(r: &StrategyResult) -> u64 {
    r.outcomes.errors() - r.outcomes.unique_violation
}

/// `<small>` with the min–max range over repetitions, when there were several.
fn range(r: &StrategyResult, f: fn(&crate::report::Spread) -> crate::report::Stat) -> String {
    match &r.spread {
        Some(sp) if sp.repetitions > 1 => {
            let st = f(sp);
            format!(
                "<small title=\"median of {} repetitions; min–max\">{}–<wbr>{}</small>",
                sp.repetitions,
                rate(st.min),
                rate(st.max)
            )
        }
        _ => String::new(),
    }
}

fn key_columns() -> Vec<Col> {
    vec![
        Col {
            title: "ops/s",
            help: "throughput, operations per second (median over repetitions, min–max below)",
            figures: &["ops_per_sec"],
            value: |r| Cell {
                html: rate(r.ops_per_sec) + &range(r, |s| s.ops_per_sec),
                zero: r.ops_per_sec == 0.0,
            },
            optional: false,
        },
        Col {
            title: "p99 µs",
            help: "99th percentile latency, µs (median over repetitions, min–max below)",
            figures: &["p99_us"],
            value: |r| Cell {
                html: num(r.latency_us.p99) + &range(r, |s| s.p99_us),
                zero: r.latency_us.p99 == 0,
            },
            optional: false,
        },
        Col {
            title: "violations",
            help: "unique violations (23505 / 1062) that reached the application; \
                   handled ones (caught or retried inside the strategy) below",
            figures: &["unique_violation", "handled_unique_violation"],
            value: |r| {
                let h = r.handled.unique_violation;
                let mut html = num(r.outcomes.unique_violation);
                if h > 0 {
                    html.push_str(&format!("<small>+{} handled</small>", num(h)));
                }
                Cell {
                    html,
                    zero: r.outcomes.unique_violation == 0 && h == 0,
                }
            },
            optional: false,
        },
        Col {
            title: "other err.",
            help: "deadlocks, serialization failures, lock timeouts, cancelled statements, connection and other \
                   errors that reached the application",
            figures: &[
                "deadlock",
                "serialization_failure",
                "lock_timeout",
                "query_canceled",
                "connection_error",
                "other",
                "errors",
            ],
            value: |r| count(other_errors(r)),
            optional: false,
        },
        Col {
            title: "dup rows",
            help: "extra rows for a key (possible only without a unique constraint)",
            figures: &["duplicate_rows"],
            value: |r| count(r.duplicate_rows),
            optional: false,
        },
        Col {
            title: "lost upd",
            help: "acknowledged increments missing from the counters",
            figures: &["lost_updates"],
            value: |r| count(r.lost_updates),
            optional: false,
        },
        Col {
            title: "missing",
            help: "keys acknowledged as written but absent",
            figures: &["missing_rows"],
            value: |r| count(r.missing_rows),
            optional: true,
        },
        Col {
            title: "1st viol.",
            help: "time from the start to the first unique violation, handled or not",
            figures: &[],
            value: |r| match r.time_to_first_violation_ms {
                Some(ms) => Cell {
                    html: fmt_ms(ms),
                    zero: false,
                },
                None => Cell {
                    html: "–".into(),
                    zero: true,
                },
            },
            optional: false,
        },
    ]
}

/// A time in ms as a short label (`0.8 ms`, `12 ms`, `1.52 s`).
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
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
        Outcome::QueryCanceled => |r| count(r.outcomes.query_canceled),
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
        Outcome::QueryCanceled => &["query_canceled", "errors"],
        Outcome::ConnectionError => &["connection_error", "errors"],
        Outcome::Timeout => &["timeout", "errors"],
        Outcome::Other => &["other", "errors"],
    };
    Col {
        title,
        help: "",
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
        Outcome::QueryCanceled => "canceled",
        Outcome::ConnectionError => "conn err",
        o => o.name(),
    }
}

fn all_columns() -> Vec<Col> {
    let plain = |title, figures, value| Col {
        title,
        help: "",
        figures,
        value,
        optional: false,
    };
    vec![
        plain("ops/s", &[], |r| Cell {
            html: rate(r.ops_per_sec),
            zero: r.ops_per_sec == 0.0,
        }),
        plain("ops", &["ops"], |r| count(r.ops)),
        plain("p50 µs", &[], |r| count(r.latency_us.p50)),
        plain("p99 µs", &[], |r| count(r.latency_us.p99)),
        outcome_col("inserted", Outcome::Inserted, false),
        outcome_col("existed", Outcome::Existed, false),
        outcome_col("updated", Outcome::Updated, true),
        outcome_col("unique viol.", Outcome::UniqueViolation, false),
        outcome_col("deadlock", Outcome::Deadlock, true),
        outcome_col("serial. fail", Outcome::SerializationFailure, true),
        outcome_col("lock t/o", Outcome::LockTimeout, true),
        outcome_col("canceled", Outcome::QueryCanceled, true),
        outcome_col("conn err", Outcome::ConnectionError, true),
        outcome_col("timeout", Outcome::Timeout, true),
        outcome_col("other", Outcome::Other, true),
        Col {
            title: "handled",
            help: "errors handled inside operations: retried, or caught and followed by a select",
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
            optional: true,
            ..plain("retries", &["retries"], |r| count(r.retries))
        },
        plain("rows", &["rows"], |r| count(r.rows)),
        plain("dup rows", &["duplicate_rows"], |r| count(r.duplicate_rows)),
        Col {
            optional: true,
            ..plain("lost upd", &["lost_updates"], |r| count(r.lost_updates))
        },
        Col {
            optional: true,
            ..plain("missing", &["missing_rows"], |r| count(r.missing_rows))
        },
    ]
}

/// The figure an expectation's text names (`unique_violation` in `unique_violation > 0`).
fn figure_of(v: &Check) -> &str {
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

/// The scenario's predictions for one result: a tick with the number that held (their text
/// as a tooltip), each failed one with its value.
fn predictions(r: &StrategyResult) -> String {
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

/// The results in display order: strategies in first-seen order, databases in `dbs` order.
fn groups<'a>(s: &'a ScenarioReport, names: &[&str], dbs: &[&str]) -> Vec<Vec<&'a StrategyResult>> {
    names
        .iter()
        .map(|name| {
            dbs.iter()
                .filter_map(|d| {
                    s.results
                        .iter()
                        .find(|r| r.strategy == *name && r.database == *d)
                })
                .collect()
        })
        .filter(|g: &Vec<&StrategyResult>| !g.is_empty())
        .collect()
}

fn header_cell(c: &Col) -> String {
    if c.help.is_empty() {
        format!("<th>{}</th>", escape(c.title))
    } else {
        format!("<th title=\"{}\">{}</th>", escape(c.help), escape(c.title))
    }
}

fn cells(out: &mut String, r: &StrategyResult, cols: &[Col]) {
    let failed: Vec<&str> = r
        .expectations
        .iter()
        .filter(|v| !v.held)
        .map(figure_of)
        .collect();
    for c in cols {
        let cell = (c.value)(r);
        let bad = c.figures.iter().any(|f| failed.contains(f));
        let class = match (bad, cell.zero) {
            (true, _) => "n bad-cell",
            (false, true) => "n z",
            (false, false) => "n",
        };
        out.push_str(&format!(
            "<td class=\"{class}\" data-label=\"{}\">{}</td>",
            escape(c.title),
            cell.html
        ));
    }
}

/// Per database, the fastest strategy whose verdict is `safe` (ops/s, p99), and the safe
/// strategies within noise of it (see [`crate::report::FastestSafe`]).
pub fn fastest_safe(out: &mut String, s: &ScenarioReport) {
    if s.fastest_safe.is_empty() {
        return;
    }
    out.push_str("<ul class=\"conclusions\">");
    for f in &s.fastest_safe {
        let db = escape(&f.database);
        out.push_str(&match &f.strategy {
            Some(name) => {
                let mut li = format!(
                    "<li data-database=\"{db}\">Fastest safe strategy on {db}: \
                     <b>{}</b> ({} ops/s, p99 {} µs)",
                    escape(name),
                    rate(f.ops_per_sec),
                    num(f.p99_us)
                );
                if !f.within_noise.is_empty() {
                    li.push_str(&format!(
                        "; within noise of it: {}",
                        escape(&f.within_noise.join(", "))
                    ));
                }
                li + "</li>"
            }
            None => format!(
                "<li data-database=\"{db}\" class=\"bad\">No strategy was safe on {db}.</li>"
            ),
        });
    }
    out.push_str("</ul>\n");
}

/// The key table: one row per strategy × database (cards on a narrow screen).
pub fn key_table(out: &mut String, s: &ScenarioReport, names: &[&str], dbs: &[&str]) {
    let cols: Vec<Col> = key_columns()
        .into_iter()
        .filter(|c| !c.optional || s.results.iter().any(|r| r.available && !(c.value)(r).zero))
        .collect();
    let with_verdict = s.results.iter().any(|r| r.verdict.is_some());
    out.push_str("<div class=\"table-wrap\"><table class=\"key cards\">\n<thead><tr>");
    if with_verdict {
        out.push_str("<th title=\"safe: no duplicate, lost or missing row and no error left to the application; errors: the data is right but the application must handle errors; unsafe: duplicate, lost or missing rows\">verdict</th>");
    }
    out.push_str("<th>strategy</th><th>database</th>");
    for c in &cols {
        out.push_str(&header_cell(c));
    }
    out.push_str(
        "<th title=\"the scenario's expectations for this strategy\">predictions</th>\
         </tr></thead>\n<tbody>\n",
    );
    for g in groups(s, names, dbs) {
        for (i, r) in g.iter().enumerate() {
            out.push_str(&format!(
                "<tr class=\"{}\" data-strategy=\"{}\" data-database=\"{}\">",
                if i == 0 { "group-start" } else { "group-more" },
                escape(&r.strategy),
                escape(&r.database)
            ));
            if with_verdict {
                out.push_str(&format!(
                    "<td class=\"verdict-cell\" data-label=\"verdict\">{}</td>",
                    verdict_cell(r)
                ));
            }
            out.push_str(&format!(
                "<td class=\"strategy\" data-label=\"strategy\">{}</td>\
                 <td class=\"db\" data-label=\"database\">{}</td>",
                escape(&r.strategy),
                escape(&r.database)
            ));
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
            cells(out, r, &cols);
            out.push_str(&format!(
                "<td class=\"predictions\" data-label=\"predictions\">{}</td></tr>\n",
                predictions(r)
            ));
        }
    }
    out.push_str("</tbody></table></div>\n");
    let notes: Vec<String> = s
        .results
        .iter()
        .filter(|r| r.available)
        .filter_map(|r| {
            r.note.as_ref().map(|n| {
                format!(
                    "<li>{} on {}: {}</li>",
                    escape(&r.strategy),
                    escape(&r.database),
                    escape(n)
                )
            })
        })
        .collect();
    if !notes.is_empty() {
        out.push_str(&format!("<ul class=\"notes\">{}</ul>\n", notes.concat()));
    }
}

/// Every figure, folded under the key table.
pub fn full_table(out: &mut String, s: &ScenarioReport, names: &[&str], dbs: &[&str]) {
    let cols: Vec<Col> = all_columns()
        .into_iter()
        .filter(|c| !c.optional || s.results.iter().any(|r| r.available && !(c.value)(r).zero))
        .collect();
    let hidden: Vec<&str> = all_columns()
        .iter()
        .filter(|c| !cols.iter().any(|k| k.title == c.title))
        .map(|c| c.title)
        .collect();
    out.push_str("<details class=\"all-figures\"><summary>All figures</summary>\n");
    if !hidden.is_empty() {
        out.push_str(&format!(
            "<p class=\"meta\">Columns that are zero for every strategy are left out: {}.</p>\n",
            escape(&hidden.join(", "))
        ));
    }
    out.push_str("<div class=\"table-wrap\"><table class=\"comparison\">\n");
    out.push_str("<thead><tr><th>strategy</th><th>database</th>");
    for c in &cols {
        out.push_str(&header_cell(c));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for g in groups(s, names, dbs) {
        for (i, r) in g.iter().enumerate() {
            out.push_str(if i == 0 {
                "<tr class=\"group-start\">"
            } else {
                "<tr>"
            });
            if i == 0 {
                out.push_str(&format!(
                    "<td class=\"strategy\" rowspan=\"{}\">{}</td>",
                    g.len(),
                    escape(&r.strategy)
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
                    cols.len()
                ));
                continue;
            }
            cells(out, r, &cols);
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody></table></div>\n</details>\n");
}
