//! Interleaving scenarios in the HTML report: the summary as a table (one row per
//! permutation, one column per server) and, per permutation, a swim-lane picture (inline SVG:
//! one lane per session, steps in the order they ran, waits drawn as bars from `<waiting …>`
//! to `<… completed>`, errors marked).

use std::collections::HashMap;
use std::fmt::Write;

use serde::Deserialize;

use super::escape;
use crate::report::InterleaveResult;

/// The structured interleaving report as stored in [`InterleaveResult::report`]
/// (`crate::interleave::InterleaveReport`, read back leniently).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Run {
    /// Sessions and their steps.
    pub sessions: Vec<SessionSteps>,
    /// One entry per server.
    pub targets: Vec<Target>,
}

/// A session and its steps' names.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionSteps {
    /// Session name.
    pub name: String,
    /// Its steps.
    pub steps: Vec<String>,
}

/// What happened on one server.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Target {
    /// Server label.
    pub label: String,
    /// Server version.
    pub server_version: Option<String>,
    /// Why it was not run here.
    pub skipped: Option<String>,
    /// One entry per permutation.
    pub permutations: Vec<Permutation>,
}

/// One permutation on one server.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Permutation {
    /// The steps, space separated.
    pub label: String,
    /// What was printed, in order.
    pub events: Vec<Event>,
    /// A harness-level problem.
    pub failure: Option<String>,
}

/// A step's error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct StepError {
    /// Outcome class (`unique_violation` ...).
    pub class: String,
    /// SQLSTATE or error number.
    pub code: String,
    /// The server's message.
    pub message: String,
}

/// A step's result: `status` ok or error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct StepResult {
    /// `ok` or `error`.
    pub status: String,
    /// Set when `status` is `error`.
    #[serde(flatten)]
    pub error: StepError,
}

impl StepResult {
    fn error(&self) -> Option<&StepError> {
        (self.status == "error").then_some(&self.error)
    }
}

/// One printed event.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A step was launched.
    Step {
        /// Step name.
        step: String,
        /// Its SQL.
        #[serde(default)]
        sql: String,
        /// Reported as `<waiting ...>`.
        #[serde(default)]
        waiting: bool,
        /// Its result when it completed right away.
        #[serde(default)]
        result: Option<StepResult>,
    },
    /// A waiting step completed.
    Completed {
        /// Step name.
        step: String,
        /// Its result.
        result: StepResult,
    },
    /// A NOTICE or WARNING a session received (PostgreSQL).
    Notice {
        /// The session.
        session: String,
        /// `NOTICE`, `WARNING` ...
        #[serde(default)]
        severity: String,
        /// The message.
        #[serde(default)]
        message: String,
    },
    /// Setup or teardown failed.
    SetupError {
        /// Which block.
        what: String,
        /// The error.
        error: StepError,
    },
    /// Anything the lanes do not draw (a setup block's result set ...).
    #[serde(other)]
    Other,
}

impl Permutation {
    /// The summary line, as the terminal's summary prints it
    /// (`crate::interleave::PermutationReport::outcome`, which a test compares it with): the
    /// errors (`s2i: unique_violation 23505`) or `no error`, the steps that waited, a failure.
    pub fn outcome(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut waited: Vec<&str> = Vec::new();
        for e in &self.events {
            match e {
                Event::Step {
                    step,
                    result: Some(r),
                    ..
                }
                | Event::Completed { step, result: r } => {
                    if let Some(err) = r.error() {
                        parts.push(format!("{step}: {} {}", err.class, err.code));
                    }
                }
                _ => {}
            }
            if let Event::Step {
                step,
                waiting: true,
                ..
            } = e
            {
                waited.push(step);
            }
        }
        for e in &self.events {
            if let Event::SetupError { what, error } = e {
                parts.push(format!("{what}: {} {}", error.class, error.code));
            }
        }
        if parts.is_empty() {
            // A permutation that failed is never summarised as "no error".
            parts.push(if self.failure.is_some() {
                "failed".into()
            } else {
                "no error".into()
            });
        }
        let mut s = parts.join("; ");
        if !waited.is_empty() {
            s.push_str(&format!(" (waited: {})", waited.join(", ")));
        }
        if let Some(f) = &self.failure {
            s.push_str(&format!(" [failed: {f}]"));
        }
        s
    }
}

/// The structured report of `i`, or `None` for a result that has none.
pub fn run_of(i: &InterleaveResult) -> Option<Run> {
    serde_json::from_value::<Run>(i.report.clone())
        .ok()
        .filter(|r| !r.targets.is_empty())
}

/// A server's column heading (label, with the version when the label lacks it).
fn heading(t: &Target) -> String {
    match &t.server_version {
        Some(v) if !t.label.contains(v.as_str()) => format!("{} ({v})", t.label),
        _ => t.label.clone(),
    }
}

/// The permutation labels, from the first server that ran.
fn labels(run: &Run) -> Vec<&str> {
    run.targets
        .iter()
        .find(|t| t.skipped.is_none())
        .map(|t| t.permutations.iter().map(|p| p.label.as_str()).collect())
        .unwrap_or_default()
}

/// The summary as an HTML table: one row per permutation, one column per server; each
/// permutation links to its picture (anchors prefixed with `id`).
pub fn summary_table(out: &mut String, run: &Run, id: &str) {
    out.push_str(
        "<div class=\"table-wrap\"><table class=\"interleave-summary cards\">\n<thead><tr>\
         <th>permutation</th>",
    );
    for t in &run.targets {
        out.push_str(&format!("<th>{}</th>", escape(&heading(t))));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, label) in labels(run).iter().enumerate() {
        out.push_str(&format!(
            "<tr data-permutation=\"{}\"><td class=\"perm\" data-label=\"permutation\">\
             <a href=\"#{id}-perm-{i}\">{}</a></td>",
            escape(label),
            escape(label)
        ));
        for t in &run.targets {
            let (class, text) = match (&t.skipped, t.permutations.get(i)) {
                (Some(reason), _) => ("skipped", format!("skipped: {reason}")),
                (None, Some(p)) => {
                    let o = p.outcome();
                    let class = if o.starts_with("no error") {
                        "no-error"
                    } else {
                        "error"
                    };
                    (class, o)
                }
                (None, None) => ("skipped", "not run".into()),
            };
            out.push_str(&format!(
                "<td class=\"{class}\" data-label=\"{}\">{}</td>",
                escape(&t.label),
                escape(&text)
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// Width of one event column, px.
const COL: u32 = 92;
/// Width of the lane labels, px.
const LABEL: u32 = 64;
/// Height of one lane, px.
const LANE: u32 = 42;
/// Height of a server's title, px.
const TITLE: u32 = 24;

/// A short name of an error class, to fit a step's box.
fn short(class: &str) -> &str {
    match class {
        "unique_violation" => "unique",
        "serialization_failure" => "serializ.",
        "lock_timeout" => "lock t/o",
        "connection_error" => "conn.",
        "other" => "error",
        c => c,
    }
}

/// A name cut to fit a box, with an ellipsis.
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// Draws one server's lanes for one permutation at vertical offset `y0`; returns its height.
fn lanes_of(svg: &mut String, run: &Run, t: &Target, p: &Permutation, y0: u32) -> u32 {
    let lane_of: HashMap<&str, usize> = run
        .sessions
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.steps.iter().map(move |st| (st.as_str(), i)))
        .collect();
    let mut names: Vec<String> = run.sessions.iter().map(|s| s.name.clone()).collect();
    let unknown = names.len();
    let lane = |step: &str| lane_of.get(step).copied().unwrap_or(unknown);
    let needs_unknown = p.events.iter().any(|e| match e {
        Event::Step { step, .. } | Event::Completed { step, .. } => !lane_of.contains_key(&**step),
        Event::SetupError { .. } | Event::Notice { .. } | Event::Other => false,
    });
    if needs_unknown {
        names.push("steps".into());
    }
    let width = LABEL + COL * p.events.len().max(1) as u32 + 8;
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        y0 + 16,
        escape(&heading(t))
    );
    let top = y0 + TITLE;
    for (i, n) in names.iter().enumerate() {
        let y = top + i as u32 * LANE;
        let _ = write!(
            svg,
            "<rect x=\"0\" y=\"{y}\" width=\"{width}\" height=\"{LANE}\" fill=\"{}\"/>\
             <text x=\"6\" y=\"{}\" font-size=\"13\" font-weight=\"bold\" fill=\"#5f6b76\">{}</text>",
            if i % 2 == 0 { "#f5f7f9" } else { "#ffffff" },
            y + LANE / 2 + 5,
            escape(&fit(n, 7))
        );
    }
    // Where each waiting step started (column), to draw its wait bar on completion.
    let mut waiting: HashMap<&str, usize> = HashMap::new();
    for (c, e) in p.events.iter().enumerate() {
        let x = LABEL + c as u32 * COL;
        match e {
            Event::Step {
                step,
                sql,
                waiting: w,
                result,
            } => {
                let y = top + lane(step) as u32 * LANE;
                let err = result.as_ref().and_then(StepResult::error);
                let (class, status) = match (err, *w) {
                    (Some(e), _) => ("lane-error", format!("✕ {} {}", e.code, short(&e.class))),
                    (None, true) => ("lane-wait", "waiting…".to_string()),
                    (None, false) => ("lane-ok", "ok".to_string()),
                };
                if *w {
                    waiting.insert(step, c);
                }
                let title = match err {
                    Some(e) => format!("{step}: {sql}\n{}: {}", e.code, e.message),
                    None => format!("{step}: {sql}"),
                };
                step_box(svg, x, y, class, step, &status, &title);
            }
            Event::Completed { step, result } => {
                let y = top + lane(step) as u32 * LANE;
                if let Some(&from) = waiting.get(step.as_str()) {
                    let x0 = LABEL + from as u32 * COL + COL - 6;
                    let _ = write!(
                        svg,
                        "<rect class=\"wait-bar\" x=\"{x0}\" y=\"{}\" width=\"{}\" height=\"8\" \
                         fill=\"#e0a800\"><title>{} waited</title></rect>",
                        y + LANE / 2 - 4,
                        (x + 4).saturating_sub(x0),
                        escape(step)
                    );
                }
                let (class, status) = match result.error() {
                    Some(e) => ("lane-error", format!("✕ {} {}", e.code, short(&e.class))),
                    None => ("lane-ok", "completed".to_string()),
                };
                let title = match result.error() {
                    Some(e) => format!("{step} completed\n{}: {}", e.code, e.message),
                    None => format!("{step} completed"),
                };
                step_box(svg, x, y, class, step, &status, &title);
            }
            Event::Notice {
                session,
                severity,
                message,
            } => {
                let row = names.iter().position(|n| n == session).unwrap_or(0);
                let _ = write!(
                    svg,
                    "<text class=\"lane-notice\" x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#5f6b76\">\
                     {}<title>{}: {}:  {}</title></text>",
                    x + 4,
                    top + row as u32 * LANE + LANE / 2 + 4,
                    escape(&fit(severity, 10)),
                    escape(session),
                    escape(severity),
                    escape(message)
                );
            }
            Event::SetupError { what, error } => {
                let _ = write!(
                    svg,
                    "<text class=\"lane-error\" x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#b3261e\">\
                     ✕ {}<title>{}: {}</title></text>",
                    x + 4,
                    top + 14,
                    escape(&fit(what, 12)),
                    escape(&error.code),
                    escape(&error.message)
                );
            }
            Event::Other => {}
        }
    }
    let mut h = TITLE + names.len() as u32 * LANE;
    if let Some(f) = &p.failure {
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{}\" font-size=\"12\" fill=\"#b3261e\">permutation failed: {}</text>",
            y0 + h + 14,
            escape(f)
        );
        h += 20;
    }
    h + 8
}

fn step_box(svg: &mut String, x: u32, y: u32, class: &str, step: &str, status: &str, title: &str) {
    let (fill, stroke, fg) = match class {
        "lane-error" => ("#fde8e6", "#b3261e", "#b3261e"),
        "lane-wait" => ("#fff4d6", "#e0a800", "#6b5200"),
        _ => ("#e7f3ea", "#1f7a35", "#1d2329"),
    };
    let _ = write!(
        svg,
        "<g class=\"lane-step {class}\"><title>{}</title>\
         <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" font-weight=\"bold\" fill=\"{fg}\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"{fg}\">{}</text></g>",
        escape(title),
        x + 4,
        y + 5,
        COL - 8,
        LANE - 10,
        x + 8,
        y + 19,
        escape(&fit(step, 12)),
        x + 8,
        y + 32,
        escape(&fit(status, 15))
    );
}

/// One swim-lane SVG per permutation, every server stacked in it; `id` prefixes the anchors.
pub fn lane_pictures(out: &mut String, run: &Run, id: &str) {
    let ran: Vec<&Target> = run.targets.iter().filter(|t| t.skipped.is_none()).collect();
    for (i, label) in labels(run).iter().enumerate() {
        let events = ran
            .iter()
            .filter_map(|t| t.permutations.get(i))
            .map(|p| p.events.len())
            .max()
            .unwrap_or(1)
            .max(1);
        let width = LABEL + COL * events as u32 + 8;
        let mut body = String::new();
        let mut y = 0;
        for t in &ran {
            if let Some(p) = t.permutations.get(i) {
                y += lanes_of(&mut body, run, t, p, y);
            }
        }
        out.push_str(&format!(
            "<figure class=\"lanes\" id=\"{id}-perm-{i}\"><figcaption>permutation {}: \
             <code>{}</code></figcaption>\n\
             <svg class=\"swimlanes\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
             height=\"{y}\" viewBox=\"0 0 {width} {y}\" font-family=\"sans-serif\">{body}</svg>\
             </figure>\n",
            i + 1,
            escape(label)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interleave::{Event as E, PermutationReport, StepError as SE, StepOutcome as SO};
    use crate::vocab::Outcome;

    fn err(class: Outcome, code: &str) -> SO {
        SO::Error(SE {
            class,
            code: code.into(),
            message: "m".into(),
        })
    }

    fn step(name: &str, waiting: bool, result: Option<SO>) -> E {
        E::Step {
            step: name.into(),
            sql: "SELECT 1".into(),
            waiting,
            detected_by: None,
            waits_for: Vec::new(),
            output: Vec::new(),
            result,
        }
    }

    /// The page's summary line equals the terminal's for every kind of permutation.
    #[test]
    fn outcome_matches_the_terminal() {
        let ok = SO::Ok {
            rows: None,
            query: false,
        };
        let cases = vec![
            (vec![step("a", false, Some(ok.clone()))], None),
            (
                vec![
                    step("a", true, None),
                    step("b", false, Some(ok.clone())),
                    E::Completed {
                        step: "a".into(),
                        output: Vec::new(),
                        result: err(Outcome::UniqueViolation, "23505"),
                    },
                ],
                None,
            ),
            (
                vec![step("a", false, Some(err(Outcome::Deadlock, "1213")))],
                Some("step a still waiting".to_string()),
            ),
            (vec![step("a", true, None)], Some("timeout".to_string())),
            (
                vec![E::SetupError {
                    what: "setup".into(),
                    error: SE {
                        class: Outcome::Other,
                        code: "42P01".into(),
                        message: "no table".into(),
                    },
                    position: None,
                }],
                None,
            ),
        ];
        for (events, failure) in cases {
            let real = PermutationReport {
                label: "a b".into(),
                events,
                failure,
            };
            let json = serde_json::to_value(&real).expect("serializes");
            let mine: Permutation = serde_json::from_value(json).expect("reads back");
            assert_eq!(mine.outcome(), real.outcome());
        }
    }
}
