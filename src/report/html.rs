//! The HTML report: one self-contained page (inline CSS, plots as inline SVG, no scripts),
//! rendered as a pure function of the [`Report`], so saved JSON re-renders the same page.

mod correctness;
mod lanes;
mod plots;
mod tables;
mod timeline;

use super::{Report, ScenarioReport, ServerInfo, Tally};

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
    if report.scenarios.is_empty() && report.interleavings.is_empty() {
        out.push_str("<p class=\"plot-missing\">This run has no scenarios.</p>\n");
    }
    contents(&mut out, report);
    for (i, s) in report.scenarios.iter().enumerate() {
        scenario(&mut out, report, i, s);
    }
    for (n, i) in report.interleavings.iter().enumerate() {
        interleaving(&mut out, n, i);
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

/// A list of the run's scenarios, linking to their sections.
fn contents(out: &mut String, report: &Report) {
    if report.scenarios.len() + report.interleavings.len() < 2 {
        return;
    }
    out.push_str("<nav class=\"contents\"><h2>Scenarios</h2><ol>");
    for (i, s) in report.scenarios.iter().enumerate() {
        let failed = s
            .results
            .iter()
            .flat_map(|r| &r.expectations)
            .filter(|v| !v.held)
            .count();
        let mark = match (&s.error, failed) {
            (Some(_), _) => " <span class=\"bad\">stopped on an error</span>".to_string(),
            (None, 0) => String::new(),
            (None, n) => format!(" <span class=\"bad\">{n} failed</span>"),
        };
        out.push_str(&format!(
            "<li><a href=\"#scenario-{i}\">{}</a>{mark}</li>",
            escape(&s.name)
        ));
    }
    for (n, i) in report.interleavings.iter().enumerate() {
        let mark = match i.matched_expected {
            Some(false) => " <span class=\"bad\">differs from expected</span>",
            _ => "",
        };
        out.push_str(&format!(
            "<li><a href=\"#interleaving-{n}\">{}</a> <small>(interleaving)</small>{mark}</li>",
            escape(&i.scenario)
        ));
    }
    out.push_str("</ol></nav>\n");
}

/// An interleaving scenario: its match with the expected files, the summary table, one
/// swim-lane picture per permutation, and the isolation-tester style text per server.
fn interleaving(out: &mut String, n: usize, i: &super::InterleaveResult) {
    let id = format!("interleaving-{n}");
    out.push_str(&format!(
        "<section id=\"{id}\" class=\"interleaving\">\n<h2>{} <small>(interleaving)</small></h2>\n",
        escape(&i.scenario)
    ));
    out.push_str(&format!("<p><code>{}</code></p>\n", escape(&i.file)));
    if !i.teaches.is_empty() {
        out.push_str(&format!("<p><b>teaches</b> {}</p>\n", escape(&i.teaches)));
    }
    match i.matched_expected {
        Some(true) => {
            out.push_str("<p class=\"held match\">✓ same output as the expected files</p>\n")
        }
        Some(false) => {
            out.push_str("<p class=\"failed match\">✗ output differs from the expected files</p>\n")
        }
        None => {}
    }
    super::claims::html_claims(out, &i.claims);
    match lanes::run_of(i) {
        Some(run) => {
            out.push_str("<h3>Summary</h3>\n");
            lanes::summary_table(out, &run, &id);
            out.push_str(
                "<h3>Swim lanes</h3>\n<p class=\"meta\">One lane per session, steps left to \
                 right in the order they ran; a yellow bar is a step waiting for a lock, from \
                 <code>&lt;waiting …&gt;</code> to <code>&lt;… completed&gt;</code>; red boxes \
                 are errors (hover for the server's message).</p>\n",
            );
            lanes::lane_pictures(out, &run, &id);
        }
        None => out.push_str(&format!("<pre>{}</pre>\n", escape(&i.summary))),
    }
    for d in &i.diffs {
        out.push_str(&format!("<pre class=\"failed\">{}</pre>\n", escape(d)));
    }
    // Servers in column order (the targets' order), then any others.
    let mut outputs: Vec<(&String, &String)> = i.outputs.iter().collect();
    if let Some(run) = lanes::run_of(i) {
        let pos = |l: &str| run.targets.iter().position(|t| t.label == l);
        outputs.sort_by_key(|(l, _)| pos(l).unwrap_or(usize::MAX));
    }
    for (label, text) in outputs {
        out.push_str(&format!(
            "<details><summary>output on {}</summary><pre>{}</pre></details>\n",
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
    let tally = Tally::of(report);
    let kinds = match (tally.stress, tally.interleavings) {
        (_, 0) => String::new(),
        (0, _) => " (interleavings)".to_string(),
        (s, i) => format!(" ({s} stress, {i} interleaving)"),
    };
    out.push_str(&format!(
        "<p class=\"meta\"><span>started {}</span><span>keyrace {}</span><span \
         class=\"scenario-count\">{} scenario{}{kinds}</span>",
        escape(&report.started_at),
        escape(&report.keyrace_version),
        tally.scenarios(),
        if tally.scenarios() == 1 { "" } else { "s" }
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
    let failed = tally.failed;
    out.push_str(&format!(
        "<p class=\"summary\">Predictions: <span class=\"ok\" id=\"held\">{} held</span>, \
         <span class=\"{}\" id=\"failed\">{failed} failed</span>",
        tally.held,
        if failed > 0 { "bad" } else { "ok" }
    ));
    if tally.stopped > 0 {
        out.push_str(&format!(
            " · <span class=\"bad\">{} scenario{} stopped on an error</span>",
            tally.stopped,
            if tally.stopped == 1 { "" } else { "s" }
        ));
    }
    out.push_str(
        "</p>\n<p class=\"meta\">Predictions are the scenarios' expectations, and for \
         interleavings the match with their expected output; they say whether keyrace \
         reproduced what the scenario predicts, not whether a strategy is safe.</p>\n",
    );
}

fn servers(out: &mut String, servers: &[ServerInfo]) {
    if servers.is_empty() {
        out.push_str("<h2>Servers</h2>\n<p class=\"plot-missing\">No servers.</p>\n");
        return;
    }
    // Folded: versions and settings matter, but results come first.
    let labels: Vec<String> = servers.iter().map(|s| escape(&s.database)).collect();
    out.push_str(&format!(
        "<details class=\"servers\"><summary><h2>Servers</h2> {}</summary>\n",
        labels.join(" · ")
    ));
    out.push_str(
        "<div class=\"table-wrap\"><table class=\"servers cards\">\n<thead><tr><th>label</th><th>dialect</th>\
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
            "<tr><td class=\"strategy\" data-label=\"label\">{}</td>\
             <td data-label=\"dialect\">{}</td><td data-label=\"provider\">{}</td>\
             <td data-label=\"version\"><span>{}</span></td>\
             <td data-label=\"URL\"><code>{}</code></td>\
             <td class=\"settings\" data-label=\"settings\"><span>{}</span></td></tr>\n",
            escape(&s.database),
            escape(&s.dialect),
            escape(&s.provider),
            escape(&s.version),
            escape(&s.url),
            settings.join("<br>")
        ));
    }
    out.push_str("</tbody></table></div>\n</details>\n");
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
    out.push_str("<h3>Results</h3>\n");
    tables::fastest_safe(out, s);
    tables::key_table(out, s, &names, &dbs);
    tables::full_table(out, s, &names, &dbs);
    let data = PlotData {
        strategies: names,
        databases: dbs,
        results: &s.results,
    };
    type Plot = fn(&PlotData) -> Result<String, String>;
    let plot_list: [(&str, &str, &str, Plot); 6] = [
        (
            "correctness",
            "What went wrong",
            "Duplicate rows, lost updates and missing rows found by the verification, and \
             errors left to the application (unique violations, deadlocks, serialization \
             failures ...), per strategy and database; each panel has its own scale.",
            correctness::chart,
        ),
        (
            "throughput",
            "Throughput",
            "Operations per second, per strategy and database (higher is better).",
            plots::throughput,
        ),
        (
            "timeline",
            "Throughput over time",
            "Operations finished in each second of the run; ✕ marks a second in which unique \
             violations reached the application, ○ one in which they were handled by the \
             strategy, ▲ on the time axis the first violation.",
            timeline::throughput_over_time,
        ),
        (
            "latency",
            "Latency",
            "Operation latency quantiles p50, p90, p99 and p99.9, log scale (lower is better).",
            plots::latency,
        ),
        (
            "cdf",
            "Latency distribution",
            "Share of operations that finished within a latency (CDF from the hdrhistogram, \
             log scale): further left is faster, a long flat tail is a slow minority.",
            timeline::latency_cdf,
        ),
        (
            "outcomes",
            "Outcome mix",
            "Final outcome of each operation, as a share of all operations.",
            plots::outcomes,
        ),
    ];
    for (class, title, caption, f) in plot_list {
        out.push_str(&format!(
            "<div class=\"plot plot-{class}\">\n<h3>{title}</h3>\n<p class=\"meta\">{caption}</p>\n"
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
    super::claims::html_claims(out, &s.claim_verdicts);
    out.push_str("</section>\n");
}
