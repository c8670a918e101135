//! The terminal report: one row per strategy × database, the verdict first, in a layout
//! chosen to fit the terminal's width (never wrapping a cell), then the conclusions: why a
//! strategy is not safe, the fastest safe strategy, failed predictions.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};

use super::{Report, ScenarioReport, StrategyResult, VerdictLevel, num};

/// How the table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    /// Terminal width in columns: the layout is chosen so no line is longer.
    pub width: usize,
    /// Every column, however wide.
    pub wide: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            width: 120,
            wide: false,
        }
    }
}

/// The terminal's width: `COLUMNS` when set, else stdout's terminal size, else 120.
pub fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&n| n >= 20)
    {
        return n;
    }
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .filter(|&n| n >= 20)
        .unwrap_or(120)
}

/// A column of the comparison table; the same definitions serve the Markdown renderer.
pub struct Col {
    /// Header.
    pub title: &'static str,
    /// The cell's text for a result.
    pub value: fn(&StrategyResult) -> String,
    /// In the compact layout (else only with `--wide`).
    pub compact: bool,
    /// Shown only when some result has a non-empty, non-zero value.
    pub optional: bool,
    /// Left-aligned (names) rather than right-aligned (numbers).
    pub left: bool,
}

fn count(r: &StrategyResult, n: u64) -> String {
    if r.available { num(n) } else { "–".into() }
}

/// The verdict cell: `✓ safe`, `! errors`, `✗ unsafe`, `n/a` (not available), `–` (no figures).
pub fn verdict_cell(r: &StrategyResult) -> String {
    match (&r.verdict, r.available) {
        (_, false) => "n/a".into(),
        (Some(v), true) => v.level.marked().into(),
        (None, true) => "–".into(),
    }
}

/// `6,872` or, over repetitions, `6,872 ±48%` (half the 95 % interval of the median).
pub fn ops_cell(r: &StrategyResult) -> String {
    if !r.available {
        return "–".into();
    }
    let mut s = num(r.ops_per_sec.round() as u64);
    if let Some(sp) = &r.spread {
        s.push_str(&format!(" ±{:.0}%", sp.ops_per_sec.half_width_pct()));
    }
    s
}

/// p99 in µs, with its spread over repetitions like [`ops_cell`].
pub fn p99_cell(r: &StrategyResult) -> String {
    if !r.available {
        return "–".into();
    }
    let mut s = num(r.latency_us.p99);
    if let Some(sp) = &r.spread {
        s.push_str(&format!(" ±{:.0}%", sp.p99_us.half_width_pct()));
    }
    s
}

/// The predictions (the scenario's expectations): `✓ 4` all held, `✗ 1 of 4` failed.
pub fn predictions_cell(r: &StrategyResult) -> String {
    if !r.available || r.expectations.is_empty() {
        return "–".into();
    }
    let failed = r.expectations.iter().filter(|v| !v.held).count();
    if failed == 0 {
        format!("✓ {}", r.expectations.len())
    } else {
        format!("✗ {failed} of {}", r.expectations.len())
    }
}

/// The release spread of a round (application scenarios and `keyrace::race` in rounds
/// mode): median and largest over the rounds, µs; empty for other results.
pub fn release_cell(r: &StrategyResult) -> String {
    match (
        r.figure("release_spread_p50_us"),
        r.figure("release_spread_max_us"),
    ) {
        (Some(p50), Some(max)) => {
            format!("{} / {}", num(p50.round() as u64), num(max.round() as u64))
        }
        _ => String::new(),
    }
}

fn range(s: Option<&super::Stat>) -> String {
    s.map(|s| {
        format!(
            "{}–{}",
            num(s.min.round() as u64),
            num(s.max.round() as u64)
        )
    })
    .unwrap_or_default()
}

macro_rules! col {
    ($title:expr, $compact:expr, $opt:expr, $left:expr, $f:expr) => {
        Col {
            title: $title,
            value: $f,
            compact: $compact,
            optional: $opt,
            left: $left,
        }
    };
}

/// Every column, in order; `database` is dropped in the per-database layouts.
pub fn columns() -> Vec<Col> {
    vec![
        col!("verdict", true, false, true, verdict_cell),
        col!("strategy", true, false, true, |r| r.strategy.clone()),
        col!("database", true, false, true, |r| r.database.clone()),
        col!("ops/s", true, false, false, ops_cell),
        col!("ops/s min–max", false, true, false, |r| range(
            r.spread.as_ref().map(|s| &s.ops_per_sec)
        )),
        col!("p50 µs", true, false, false, |r| count(
            r,
            r.latency_us.p50
        )),
        col!("p99 µs", true, false, false, p99_cell),
        col!("p99 min–max", false, true, false, |r| range(
            r.spread.as_ref().map(|s| &s.p99_us)
        )),
        col!("release µs p50/max", true, true, false, release_cell),
        col!("errors", true, false, false, |r| count(
            r,
            r.outcomes.errors()
        )),
        col!("dup/lost", true, false, false, |r| count(
            r,
            r.duplicate_rows + r.lost_updates + r.missing_rows
        )),
        col!("inserted", false, false, false, |r| count(
            r,
            r.outcomes.inserted
        )),
        col!("existed", false, false, false, |r| count(
            r,
            r.outcomes.existed
        )),
        col!("updated", false, true, false, |r| count(
            r,
            r.outcomes.updated
        )),
        col!("unique viol.", false, false, false, |r| count(
            r,
            r.outcomes.unique_violation
        )),
        col!("deadlock", false, false, false, |r| count(
            r,
            r.outcomes.deadlock
        )),
        col!("serial. fail", false, false, false, |r| count(
            r,
            r.outcomes.serialization_failure
        )),
        col!("lock t/o", false, true, false, |r| count(
            r,
            r.outcomes.lock_timeout
        )),
        col!("canceled", false, true, false, |r| count(
            r,
            r.outcomes.query_canceled
        )),
        col!("conn err", false, true, false, |r| count(
            r,
            r.outcomes.connection_error
        )),
        col!("other", false, true, false, |r| {
            if !r.available || r.outcomes.other == 0 {
                return count(r, r.outcomes.other);
            }
            let codes: Vec<String> = r
                .other_codes
                .iter()
                .map(|(c, n)| format!("{c}×{}", num(*n)))
                .collect();
            format!("{} ({})", num(r.outcomes.other), codes.join(" "))
        }),
        col!("handled", false, true, false, |r| {
            let h = &r.handled;
            let parts: Vec<String> = [
                ("uv", h.unique_violation),
                ("dl", h.deadlock),
                ("sf", h.serialization_failure),
                ("to", h.lock_timeout),
            ]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t} {}", num(*n)))
            .collect();
            if r.available {
                parts.join(" ")
            } else {
                "–".into()
            }
        }),
        col!("retries", false, true, false, |r| count(r, r.retries)),
        col!("dup rows", false, false, false, |r| count(
            r,
            r.duplicate_rows
        )),
        col!("lost upd", false, true, false, |r| count(r, r.lost_updates)),
        col!("missing", false, true, false, |r| count(r, r.missing_rows)),
        col!("predictions", false, false, true, predictions_cell),
    ]
}

fn is_zeroish(s: &str) -> bool {
    s.is_empty() || s == "0" || s == "–"
}

/// The columns a layout shows for these results.
pub fn visible(results: &[StrategyResult], wide: bool, with_database: bool) -> Vec<Col> {
    columns()
        .into_iter()
        .filter(|c| wide || c.compact)
        .filter(|c| with_database || c.title != "database")
        .filter(|c| !c.optional || results.iter().any(|r| !is_zeroish(&(c.value)(r))))
        .collect()
}

/// Column separation: comfy-table borders, or none with this many spaces between columns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Borders,
    Spaces(u16),
}

fn table(results: &[&StrategyResult], cols: &[Col], style: Style) -> String {
    let borders = style == Style::Borders;
    let mut t = Table::new();
    t.load_preset(if borders {
        presets::UTF8_FULL_CONDENSED
    } else {
        presets::NOTHING
    })
    .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(cols.iter().map(|c| Cell::new(c.title)));
    for r in results {
        t.add_row(cols.iter().map(|c| {
            let cell = Cell::new((c.value)(r));
            if c.left {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            }
        }));
    }
    if let Style::Spaces(n) = style {
        // The verdict ("! errors") reads as one phrase with the strategy after one space.
        for (i, c) in t.column_iter_mut().enumerate() {
            c.set_padding((0, if i == 0 { 1 } else { n }));
        }
    }
    let mut s = t.to_string();
    if !borders {
        // Trailing padding of the last column.
        s = s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    }
    s + "\n"
}

/// The display width of the longest line (every character keyrace prints is one column wide).
pub fn max_width(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

fn databases(s: &ScenarioReport) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in &s.results {
        if !out.contains(&r.database.as_str()) {
            out.push(&r.database);
        }
    }
    out
}

fn per_database(s: &ScenarioReport, style: Style) -> String {
    let cols = visible(&s.results, false, false);
    let mut out = String::new();
    for db in databases(s) {
        let rows: Vec<&StrategyResult> = s.results.iter().filter(|r| r.database == db).collect();
        out.push_str(&format!("{db}\n"));
        out.push_str(&table(&rows, &cols, style));
    }
    out
}

/// Last resort for a narrow terminal: per database, each strategy on a line of its own
/// followed by its figures, as many per line as fit.
fn stacked(s: &ScenarioReport, width: usize) -> String {
    let cols = visible(&s.results, false, false);
    let mut out = String::new();
    for db in databases(s) {
        out.push_str(&format!("{db}\n"));
        for r in s.results.iter().filter(|r| r.database == db && r.available) {
            out.push_str(&format!("  {}  {}\n", verdict_cell(r), r.strategy));
            let fields: Vec<String> = cols
                .iter()
                .filter(|c| !matches!(c.title, "verdict" | "strategy"))
                .map(|c| format!("{} {}", c.title, (c.value)(r)))
                .collect();
            out.push_str(&fill(&fields, width, "    ", "  "));
        }
        let na: Vec<&str> = s
            .results
            .iter()
            .filter(|r| r.database == db && !r.available)
            .map(|r| r.strategy.as_str())
            .collect();
        if !na.is_empty() {
            out.push_str(&wrap(
                &format!("  n/a (not on this engine): {}", na.join(", ")),
                width,
                "    ",
            ));
        }
    }
    out
}

/// Joins `items` into lines no longer than `width` (an item longer than that stands alone).
pub fn fill(items: &[String], width: usize, indent: &str, sep: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for item in items {
        let extra = if line.is_empty() {
            indent.chars().count()
        } else {
            sep.chars().count()
        };
        if !line.is_empty() && line.chars().count() + extra + item.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        line.push_str(if line.is_empty() { indent } else { sep });
        line.push_str(item);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Word-wraps prose to `width` (keeping its leading spaces), continuation lines indented by
/// `hang`. A word longer than the width stands alone on its line.
pub fn wrap(text: &str, width: usize, hang: &str) -> String {
    let body = text.trim_start_matches(' ');
    let lead = &text[..text.len() - body.len()];
    let mut out = String::new();
    let mut line = lead.to_string();
    let mut fresh = true;
    for w in body.split(' ').filter(|w| !w.is_empty()) {
        if !fresh && line.chars().count() + 1 + w.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = hang.to_string();
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(w);
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The table part of a scenario: the widest layout that fits `opts.width` (all in one
/// table, one table per database, the same without borders, then with single spaces, then
/// one block per strategy); with `opts.wide`, every column in one table whatever its width.
pub fn scenario_table(s: &ScenarioReport, opts: &TableOptions) -> String {
    let all: Vec<&StrategyResult> = s.results.iter().collect();
    if opts.wide {
        return table(&all, &visible(&s.results, true, true), Style::Borders);
    }
    let candidates = [
        table(&all, &visible(&s.results, false, true), Style::Borders),
        per_database(s, Style::Borders),
        per_database(s, Style::Spaces(2)),
        per_database(s, Style::Spaces(1)),
    ];
    for c in candidates {
        if max_width(&c) <= opts.width {
            return c;
        }
    }
    stacked(s, opts.width)
}

/// The conclusions under a scenario's table: why each strategy that is not safe is not,
/// the fastest safe strategy per database, failed predictions and notes; wrapped to width.
pub fn conclusions(s: &ScenarioReport, width: usize) -> String {
    let mut out = String::new();
    for r in &s.results {
        let Some(v) = r.verdict.as_ref().filter(|v| v.level != VerdictLevel::Safe) else {
            continue;
        };
        let text = format!(
            "{} {} on {}: {}",
            v.level.marked(),
            r.strategy,
            r.database,
            v.reasons.join("; ")
        );
        out.push_str(&wrap(&text, width, "    "));
    }
    for f in &s.fastest_safe {
        out.push_str(&wrap(&f.line(), width, "    "));
    }
    let held: usize = s
        .results
        .iter()
        .flat_map(|r| &r.expectations)
        .filter(|v| v.held)
        .count();
    let failed: Vec<String> = s
        .results
        .iter()
        .flat_map(|r| {
            r.expectations
                .iter()
                .filter(|v| !v.held)
                .map(move |v| (r, v))
        })
        .map(|(r, v)| {
            let mut got = format!("got {}", fmt_actual(v.actual));
            if let Some(b) = v.bound {
                got.push_str(&format!(", bound {}", fmt_actual(b)));
            }
            if let Some(k) = v.repetition {
                got.push_str(&format!(", in repetition {k}"));
            }
            format!("✗ {} ({got}) for {} on {}", v.text, r.strategy, r.database)
        })
        .collect();
    if held + failed.len() > 0 {
        out.push_str(&format!(
            "predictions held: {held} of {}\n",
            held + failed.len()
        ));
    }
    for f in failed {
        out.push_str(&wrap(&format!("  {f}"), width, "    "));
    }
    for r in &s.results {
        if let Some(n) = r.note.as_ref().filter(|_| r.available) {
            out.push_str(&wrap(
                &format!("  note: {} on {}: {n}", r.strategy, r.database),
                width,
                "    ",
            ));
        }
    }
    out
}

fn fmt_actual(v: f64) -> String {
    if v.is_nan() {
        "nothing".into()
    } else if v.fract() == 0.0 && v >= 0.0 {
        num(v as u64)
    } else {
        format!("{v:.1}")
    }
}

/// Renders one scenario: heading, table, conclusions.
pub fn render_scenario(s: &ScenarioReport, opts: &TableOptions) -> String {
    let mut out = String::from("\n");
    out.push_str(&wrap(
        &format!("{} ({})", s.name, s.file),
        opts.width,
        "    ",
    ));
    if !s.teaches.is_empty() {
        out.push_str(&wrap(
            &format!("  teaches: {}", s.teaches),
            opts.width,
            "    ",
        ));
    }
    if s.repeat > 1 {
        out.push_str(&wrap(
            &format!(
                "  {} repetitions per strategy × database: medians, ±half the 95 % interval",
                s.repeat
            ),
            opts.width,
            "    ",
        ));
    }
    if let Some(e) = &s.error {
        out.push_str(&wrap(&format!("  error: {e}"), opts.width, "    "));
    }
    if s.results.is_empty() {
        return out;
    }
    out.push_str(&scenario_table(s, opts));
    out.push('\n');
    out.push_str(&conclusions(s, opts.width));
    out
}

/// The interleaving summary fitted to `width`: a table when it fits, else per permutation
/// its steps and each server's outcome on lines of their own.
fn interleaving_summary(i: &super::InterleaveResult, width: usize) -> String {
    let Some((header, rows)) = i.summary_rows.split_first() else {
        return format!("{}\n", i.summary.trim_end());
    };
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(header);
    for r in rows {
        t.add_row(r);
    }
    let table = t.to_string() + "\n";
    if max_width(&table) <= width {
        return table;
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(&wrap(&format!("permutation: {}", r[0]), width, "    "));
        for (label, outcome) in header.iter().skip(1).zip(r.iter().skip(1)) {
            out.push_str(&wrap(&format!("  {label}: {outcome}"), width, "      "));
        }
    }
    out
}

/// Renders an interleaving scenario: each server's per-permutation output (PostgreSQL
/// first, as in the tables), the side-by-side summary fitted to the width, and the
/// expected-output verdict.
pub fn render_interleaving(i: &super::InterleaveResult, width: usize) -> String {
    let mut out = String::from("\n");
    out.push_str(&wrap(
        &format!("{} ({})", i.scenario, i.file),
        width,
        "    ",
    ));
    if !i.teaches.is_empty() {
        out.push_str(&wrap(&format!("  teaches: {}", i.teaches), width, "    "));
    }
    let mut outputs: Vec<(&String, &String)> = i.outputs.iter().collect();
    // The map is ordered by label; tables list PostgreSQL first, so do the same.
    outputs.sort_by_key(|(label, _)| !label.starts_with("PostgreSQL"));
    for (label, text) in outputs {
        out.push_str(&format!("\n--- {label}\n{text}"));
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    if let Some(e) = &i.error {
        out.push_str(&wrap(&format!("  error: {e}"), width, "    "));
    }
    out.push('\n');
    out.push_str(&interleaving_summary(i, width));
    match i.matched_expected {
        Some(true) => out.push_str("  expected output: ✓ same as the expected files\n"),
        Some(false) => {
            out.push_str("  expected output: ✗ differs\n");
            for d in &i.diffs {
                out.push_str(d);
                out.push('\n');
            }
        }
        None => {}
    }
    out.push_str(&super::claims::render_claims(&i.claims, width));
    out
}

/// Renders the whole report: servers, one table per scenario with its conclusions, the
/// interleavings, then the count of predictions held.
pub fn render(report: &Report, opts: &TableOptions) -> String {
    let mut out = String::new();
    for s in &report.servers {
        let iso = s
            .settings
            .get("isolation")
            .map(|i| format!(", default isolation {i}"))
            .unwrap_or_default();
        out.push_str(&wrap(
            &format!("server: {} — {} via {}{iso}", s.database, s.url, s.provider),
            opts.width,
            "    ",
        ));
    }
    for s in &report.scenarios {
        out.push_str(&render_scenario(s, opts));
        out.push_str(&super::claims::render_claims(&s.claim_verdicts, opts.width));
    }
    for i in &report.interleavings {
        out.push_str(&render_interleaving(i, opts.width));
    }
    let (held, total) = report.predictions();
    out.push_str(&format!(
        "\npredictions (expectations): {held} held, {} failed",
        total - held
    ));
    if report.interrupted {
        out.push_str(" (interrupted: partial results)");
    }
    out.push('\n');
    out
}
