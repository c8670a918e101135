//! `keyrace compare OLD NEW`: a pure function of two reports. Per strategy × database:
//! verdict changes and violation-count changes first, then ops/s, p50 and p99 as a ratio
//! new ÷ old with a 95 % interval (a seeded bootstrap over both runs' repetitions), flagged
//! as regressed / improved only beyond the noise of both runs, or beyond `--threshold`.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::stats::{BOOTSTRAP_RESAMPLES, median};
use super::{Report, StrategyResult, VerdictLevel, num};

/// What a figure did between the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// No change beyond the noise (or the threshold).
    Same,
    /// Better beyond the noise (or the threshold).
    Improved,
    /// Worse beyond the noise (or the threshold).
    Regressed,
    /// Neither run has repetitions and no `--threshold` was given: the noise is unknown.
    Unknown,
}

/// One performance figure of one cell in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct MetricChange {
    /// The old run's value (median over its repetitions).
    pub old: f64,
    /// The new run's value.
    pub new: f64,
    /// new ÷ old (0 when old is 0).
    pub ratio: f64,
    /// 95 % interval of the ratio: bootstrap over both runs' repetitions; equal to `ratio`
    /// when neither has repetitions.
    pub ratio_low: f64,
    /// Upper end of the interval.
    pub ratio_high: f64,
    /// The judgement.
    pub flag: Flag,
}

/// A count that changed (unique violations, deadlocks, duplicate rows ...), per repetition.
#[derive(Debug, Clone, Serialize)]
pub struct CountChange {
    /// The figure's name (as expectations name it).
    pub figure: String,
    /// Old run, mean per repetition.
    pub old: f64,
    /// New run, mean per repetition.
    pub new: f64,
}

/// One strategy × database in both runs (or in one only).
#[derive(Debug, Clone, Serialize)]
pub struct CellChange {
    /// Scenario name.
    pub scenario: String,
    /// Strategy name.
    pub strategy: String,
    /// Database label in the new run (or the old, when only there).
    pub database: String,
    /// The old run's label when it differs (another server version of the same engine).
    pub old_database: Option<String>,
    /// Verdict in the old run (`None`: not run or not there).
    pub old_verdict: Option<VerdictLevel>,
    /// Verdict in the new run.
    pub new_verdict: Option<VerdictLevel>,
    /// Regressed / improved / same, from the verdict levels.
    pub verdict_flag: Flag,
    /// Counts of errors and bad rows that changed.
    pub counts: Vec<CountChange>,
    /// ops/s (higher is better).
    pub ops_per_sec: Option<MetricChange>,
    /// p50 latency, µs (lower is better).
    pub p50_us: Option<MetricChange>,
    /// p99 latency, µs (lower is better).
    pub p99_us: Option<MetricChange>,
    /// `both`, `only-old` or `only-new`.
    pub presence: String,
}

/// The comparison of two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The old run's id and start.
    pub old_run: String,
    /// The new run's id and start.
    pub new_run: String,
    /// `--threshold`, percent.
    pub threshold_pct: Option<f64>,
    /// How databases were matched when labels differ, and other remarks.
    pub notes: Vec<String>,
    /// Every cell, in the new run's order (the text renderers list verdict and count
    /// changes first).
    pub cells: Vec<CellChange>,
    /// Cells whose verdict got worse.
    pub verdict_regressions: usize,
    /// Performance figures flagged as regressed.
    pub performance_regressions: usize,
}

impl Comparison {
    /// True when CI should fail: a verdict regression, or (with `--threshold`) a
    /// performance regression beyond it.
    pub fn failed(&self) -> bool {
        self.verdict_regressions > 0
            || (self.threshold_pct.is_some() && self.performance_regressions > 0)
    }
}

/// The engine family of a database label: `PostgreSQL 15.14 (local)` → `PostgreSQL`.
pub fn family(label: &str) -> &str {
    label.split_whitespace().next().unwrap_or(label)
}

/// Pairs the new run's database labels with the old run's: the same label, else the one
/// old label of the same engine family not otherwise paired.
fn match_databases(old: &Report, new: &Report, notes: &mut Vec<String>) -> Vec<(String, String)> {
    let labels = |r: &Report| -> Vec<String> {
        let mut v: Vec<String> = r.servers.iter().map(|s| s.database.clone()).collect();
        for s in &r.scenarios {
            for x in &s.results {
                if !v.contains(&x.database) {
                    v.push(x.database.clone());
                }
            }
        }
        v
    };
    let (o, n) = (labels(old), labels(new));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for l in &n {
        if o.contains(l) {
            pairs.push((l.clone(), l.clone()));
        }
    }
    for l in &n {
        if pairs.iter().any(|(_, b)| b == l) {
            continue;
        }
        let candidates: Vec<&String> = o
            .iter()
            .filter(|x| family(x) == family(l) && !pairs.iter().any(|(a, _)| a == *x))
            .collect();
        if let [one] = candidates[..] {
            notes.push(format!(
                "{one} (old) compared with {l} (new): different server versions, matched by engine"
            ));
            pairs.push((one.clone(), l.clone()));
        }
    }
    pairs
}

fn bootstrap_ratio(old: &[f64], new: &[f64], seed: u64) -> (f64, f64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut ratios = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut a = vec![0.0; old.len()];
    let mut b = vec![0.0; new.len()];
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for x in a.iter_mut() {
            *x = old[rng.random_range(0..old.len())];
        }
        for x in b.iter_mut() {
            *x = new[rng.random_range(0..new.len())];
        }
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        let m = median(&a);
        if m > 0.0 {
            ratios.push(median(&b) / m);
        }
    }
    if ratios.is_empty() {
        return (0.0, 0.0);
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[(q * (ratios.len() - 1) as f64).round() as usize];
    (at(0.025), at(0.975))
}

fn values(r: &StrategyResult, f: fn(&StrategyResult) -> f64) -> Vec<f64> {
    if r.repetitions.len() > 1 {
        r.repetitions.iter().map(f).collect()
    } else {
        vec![f(r)]
    }
}

fn metric(
    old: &StrategyResult,
    new: &StrategyResult,
    f: fn(&StrategyResult) -> f64,
    higher_is_better: bool,
    threshold: Option<f64>,
) -> Option<MetricChange> {
    let (o, n) = (f(old), f(new));
    if o <= 0.0 || n <= 0.0 {
        return None;
    }
    let ratio = n / o;
    let (ov, nv) = (values(old, f), values(new, f));
    let noisy = ov.len() > 1 || nv.len() > 1;
    let (lo, hi) = if noisy {
        bootstrap_ratio(&ov, &nv, 0x0063_6f6d_7061_7265)
    } else {
        (ratio, ratio)
    };
    // "Better" as a ratio above 1, whatever the figure.
    let (b_lo, b_hi) = if higher_is_better {
        (lo, hi)
    } else {
        (1.0 / hi, 1.0 / lo)
    };
    let beyond_noise_up = noisy && b_lo > 1.0;
    let beyond_noise_down = noisy && b_hi < 1.0;
    let better = if higher_is_better { ratio } else { 1.0 / ratio };
    let flag = match threshold {
        Some(t) => {
            let t = t / 100.0;
            if better < 1.0 - t && (!noisy || beyond_noise_down) {
                Flag::Regressed
            } else if better > 1.0 + t && (!noisy || beyond_noise_up) {
                Flag::Improved
            } else {
                Flag::Same
            }
        }
        None if !noisy => Flag::Unknown,
        None if beyond_noise_down => Flag::Regressed,
        None if beyond_noise_up => Flag::Improved,
        None => Flag::Same,
    };
    Some(MetricChange {
        old: o,
        new: n,
        ratio,
        ratio_low: lo,
        ratio_high: hi,
        flag,
    })
}

/// A count's name and how to read it from a result.
type Count = (&'static str, fn(&StrategyResult) -> u64);

const COUNTS: &[Count] = &[
    ("duplicate_rows", |r| r.duplicate_rows),
    ("lost_updates", |r| r.lost_updates),
    ("missing_rows", |r| r.missing_rows),
    ("unique_violation", |r| r.outcomes.unique_violation),
    ("deadlock", |r| r.outcomes.deadlock),
    ("serialization_failure", |r| {
        r.outcomes.serialization_failure
    }),
    ("lock_timeout", |r| r.outcomes.lock_timeout),
    ("query_canceled", |r| r.outcomes.query_canceled),
    ("other", |r| r.outcomes.other),
];

/// Whether the per-repetition ranges (min–max) of a count overlap; a run without
/// repetitions is a single point, so any difference from it counts.
fn count_ranges_overlap(
    a: &StrategyResult,
    b: &StrategyResult,
    f: fn(&StrategyResult) -> u64,
) -> bool {
    let range = |r: &StrategyResult| {
        if r.repetitions.len() > 1 {
            let v: Vec<u64> = r.repetitions.iter().map(f).collect();
            (
                v.iter().copied().min().unwrap_or(0),
                v.iter().copied().max().unwrap_or(0),
            )
        } else {
            (f(r), f(r))
        }
    };
    let ((a0, a1), (b0, b1)) = (range(a), range(b));
    a0 <= b1 && b0 <= a1
}

fn reps(r: &StrategyResult) -> f64 {
    r.repetitions.len().max(1) as f64
}

fn cell(
    scenario: &str,
    old: Option<&StrategyResult>,
    new: Option<&StrategyResult>,
    threshold: Option<f64>,
) -> Option<CellChange> {
    let any = new.or(old)?;
    let level = |r: Option<&StrategyResult>| r.and_then(|r| r.verdict.as_ref()).map(|v| v.level);
    let (ov, nv) = (level(old), level(new));
    let verdict_flag = match (ov, nv) {
        (Some(a), Some(b)) if b > a => Flag::Regressed,
        (Some(a), Some(b)) if b < a => Flag::Improved,
        _ => Flag::Same,
    };
    let mut counts = Vec::new();
    let mut perf = (None, None, None);
    if let (Some(o), Some(n)) = (old, new) {
        for (name, f) in COUNTS {
            let (a, b) = (f(o) as f64 / reps(o), f(n) as f64 / reps(n));
            if (a == 0.0) != (b == 0.0) || (a != b && !count_ranges_overlap(o, n, *f)) {
                counts.push(CountChange {
                    figure: name.to_string(),
                    old: a,
                    new: b,
                });
            }
        }
        if o.available && n.available {
            perf = (
                metric(o, n, |r| r.ops_per_sec, true, threshold),
                metric(o, n, |r| r.latency_us.p50 as f64, false, threshold),
                metric(o, n, |r| r.latency_us.p99 as f64, false, threshold),
            );
        }
    }
    Some(CellChange {
        scenario: scenario.to_string(),
        strategy: any.strategy.clone(),
        database: any.database.clone(),
        old_database: match (old, new) {
            (Some(o), Some(n)) if o.database != n.database => Some(o.database.clone()),
            _ => None,
        },
        old_verdict: ov,
        new_verdict: nv,
        verdict_flag,
        counts,
        ops_per_sec: perf.0,
        p50_us: perf.1,
        p99_us: perf.2,
        presence: match (old, new) {
            (Some(_), Some(_)) => "both",
            (Some(_), None) => "only-old",
            _ => "only-new",
        }
        .into(),
    })
}

/// Compares two reports; `threshold_pct` replaces (with repetitions: adds to) the noise
/// criterion for flagging a performance change.
pub fn compare(old: &Report, new: &Report, threshold_pct: Option<f64>) -> Comparison {
    let mut notes = Vec::new();
    let pairs = match_databases(old, new, &mut notes);
    let old_label = |new_label: &str| {
        pairs
            .iter()
            .find(|(_, n)| n == new_label)
            .map(|(o, _)| o.clone())
    };
    let mut cells = Vec::new();
    for ns in &new.scenarios {
        let os = old.scenarios.iter().find(|s| s.name == ns.name);
        if os.is_none() {
            notes.push(format!("scenario {} is only in the new run", ns.name));
        }
        for r in &ns.results {
            let o = os.and_then(|os| {
                let label = old_label(&r.database)?;
                os.results
                    .iter()
                    .find(|x| x.strategy == r.strategy && x.database == label)
            });
            cells.extend(cell(&ns.name, o, Some(r), threshold_pct));
        }
        if let Some(os) = os {
            for r in &os.results {
                let paired = pairs.iter().any(|(o, _)| *o == r.database)
                    && ns.results.iter().any(|x| {
                        x.strategy == r.strategy
                            && old_label(&x.database).as_deref() == Some(&r.database)
                    });
                if !paired {
                    cells.extend(cell(&ns.name, Some(r), None, threshold_pct));
                }
            }
        }
    }
    for os in &old.scenarios {
        if !new.scenarios.iter().any(|s| s.name == os.name) {
            notes.push(format!("scenario {} is only in the old run", os.name));
        }
    }
    let verdict_regressions = cells
        .iter()
        .filter(|c| c.verdict_flag == Flag::Regressed)
        .count();
    let performance_regressions = cells
        .iter()
        .flat_map(|c| [&c.ops_per_sec, &c.p50_us, &c.p99_us])
        .flatten()
        .filter(|m| m.flag == Flag::Regressed)
        .count();
    if old.scenarios.iter().all(|s| s.repeat <= 1)
        && new.scenarios.iter().all(|s| s.repeat <= 1)
        && threshold_pct.is_none()
    {
        notes.push(
            "neither run has repetitions and no --threshold was given: performance changes are shown, not judged (run with --repeat 3 or pass --threshold)".into(),
        );
    }
    let id = |r: &Report| format!("{} ({})", r.run_id, r.started_at);
    Comparison {
        old_run: id(old),
        new_run: id(new),
        threshold_pct,
        notes,
        cells,
        verdict_regressions,
        performance_regressions,
    }
}

fn verdict_text(c: &CellChange) -> String {
    let name = |v: Option<VerdictLevel>| v.map_or("–", |v| v.name());
    match (c.old_verdict, c.new_verdict) {
        (a, b) if a == b => name(b).to_string(),
        (a, b) => format!("{} → {}", name(a), name(b)),
    }
}

fn flag_mark(f: Flag) -> &'static str {
    match f {
        Flag::Regressed => " ✗",
        Flag::Improved => " ✓",
        Flag::Same | Flag::Unknown => "",
    }
}

/// `0.93× [0.71–1.20] ✗`: the ratio, its interval when there is one, and a mark when flagged.
pub fn metric_text(m: &Option<MetricChange>) -> String {
    match m {
        None => "–".into(),
        Some(m) if m.ratio_low == m.ratio_high => format!("{:.2}×{}", m.ratio, flag_mark(m.flag)),
        Some(m) => format!(
            "{:.2}× [{:.2}–{:.2}]{}",
            m.ratio,
            m.ratio_low,
            m.ratio_high,
            flag_mark(m.flag)
        ),
    }
}

fn count_text(c: &CountChange) -> String {
    let f = |v: f64| num(v.round() as u64);
    format!("{} {} → {}", c.figure, f(c.old), f(c.new))
}

fn database_text(c: &CellChange) -> String {
    match &c.old_database {
        Some(o) => format!("{o} → {}", c.database),
        None => c.database.clone(),
    }
}

/// The change lines: one per cell whose verdict or counts changed, verdict regressions
/// first, then improvements, then count changes.
fn change_lines(c: &Comparison) -> Vec<String> {
    let rank = |c: &CellChange| match (c.verdict_flag, c.counts.is_empty()) {
        (Flag::Regressed, _) => 0,
        (Flag::Improved, _) => 1,
        (_, false) => 2,
        _ => 3,
    };
    let mut cells: Vec<&CellChange> = c.cells.iter().collect();
    cells.sort_by_key(|x| rank(x));
    cells
        .into_iter()
        .filter(|x| x.verdict_flag != Flag::Same || !x.counts.is_empty() || x.presence != "both")
        .map(|x| {
            let head = match (x.verdict_flag, x.presence.as_str()) {
                (Flag::Regressed, _) => "✗ verdict regressed",
                (Flag::Improved, _) => "✓ verdict improved",
                (_, "only-old") => "- only in the old run",
                (_, "only-new") => "+ only in the new run",
                _ => "· counts changed",
            };
            let counts: Vec<String> = x.counts.iter().map(count_text).collect();
            let mut s = format!(
                "{head}: {} / {} on {}: {}",
                x.scenario,
                x.strategy,
                database_text(x),
                verdict_text(x)
            );
            if !counts.is_empty() {
                s.push_str(&format!(" ({} per run)", counts.join(", ")));
            }
            s
        })
        .collect()
}

fn summary(c: &Comparison) -> String {
    format!(
        "{} verdict regression{}, {} performance regression{}{}",
        c.verdict_regressions,
        if c.verdict_regressions == 1 { "" } else { "s" },
        c.performance_regressions,
        if c.performance_regressions == 1 {
            ""
        } else {
            "s"
        },
        match c.threshold_pct {
            Some(t) => format!(" (beyond {t}% and the noise of both runs)"),
            None if c.performance_regressions > 0 => {
                " (beyond the noise of both runs; not failing without --threshold)".into()
            }
            None => " (beyond the noise of both runs)".into(),
        }
    )
}

/// One table of the performance section: a scenario on a database.
struct Block {
    heading: String,
    rows: Vec<[String; 5]>,
}

fn blocks(c: &Comparison) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for x in c
        .cells
        .iter()
        .filter(|x| x.presence == "both" && x.ops_per_sec.is_some())
    {
        let heading = format!("{} on {}", x.scenario, database_text(x));
        let row = [
            verdict_text(x),
            x.strategy.clone(),
            metric_text(&x.ops_per_sec),
            metric_text(&x.p50_us),
            metric_text(&x.p99_us),
        ];
        match out.iter_mut().find(|b| b.heading == heading) {
            Some(b) => b.rows.push(row),
            None => out.push(Block {
                heading,
                rows: vec![row],
            }),
        }
    }
    out
}

fn block_table(b: &Block, borders: bool) -> String {
    use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
    let mut t = Table::new();
    t.load_preset(if borders {
        presets::UTF8_FULL_CONDENSED
    } else {
        presets::NOTHING
    })
    .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(["verdict", "strategy", "ops/s", "p50", "p99"]);
    for r in &b.rows {
        t.add_row(r.iter().enumerate().map(|(i, v)| {
            let cell = Cell::new(v);
            if i >= 2 {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    if !borders {
        for col in t.column_iter_mut() {
            col.set_padding((0, 2));
        }
    }
    t.to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The comparison for a terminal of `width` columns: header, change lines (wrapped), then
/// per scenario and database the performance table in the widest layout that fits.
pub fn render_table(c: &Comparison, width: usize) -> String {
    use super::table::{max_width, wrap};
    let mut out = format!("old: {}\nnew: {}\n", c.old_run, c.new_run);
    for n in &c.notes {
        out.push_str(&wrap(&format!("note: {n}"), width, "    "));
    }
    let lines = change_lines(c);
    out.push_str(&format!(
        "\nverdicts and violations: {} changed\n",
        lines.len()
    ));
    for l in lines {
        out.push_str(&wrap(&format!("  {l}"), width, "      "));
    }
    out.push_str(&wrap(
        "\nperformance (new ÷ old, 95 % interval; ✗ regressed, ✓ improved):",
        width,
        "  ",
    ));
    for b in blocks(c) {
        out.push_str(&format!("{}\n", b.heading));
        let fitted = [block_table(&b, true), block_table(&b, false)]
            .into_iter()
            .find(|t| max_width(t) <= width);
        match fitted {
            Some(t) => out.push_str(&t),
            None => {
                for r in &b.rows {
                    out.push_str(&format!("  {}  {}\n", r[0], r[1]));
                    let fields = [
                        format!("ops/s {}", r[2]),
                        format!("p50 {}", r[3]),
                        format!("p99 {}", r[4]),
                    ];
                    out.push_str(&super::table::fill(&fields, width, "    ", "  "));
                }
            }
        }
    }
    out.push('\n');
    out.push_str(&wrap(&summary(c), width, "    "));
    out
}

/// The comparison as Markdown.
pub fn render_markdown(c: &Comparison) -> String {
    let mut out = format!(
        "## keyrace compare\n\n- old: {}\n- new: {}\n",
        c.old_run, c.new_run
    );
    for n in &c.notes {
        out.push_str(&format!("- note: {n}\n"));
    }
    out.push_str("\n### Verdicts and violations\n\n");
    let lines = change_lines(c);
    if lines.is_empty() {
        out.push_str("No change.\n");
    }
    for l in lines {
        out.push_str(&format!("- {l}\n"));
    }
    out.push_str(
        "\n### Performance (new ÷ old, 95 % interval)\n\n| verdict | scenario / strategy | database | ops/s | p50 | p99 |\n| --- | --- | --- | ---: | ---: | ---: |\n",
    );
    for x in c.cells.iter().filter(|x| x.presence == "both") {
        out.push_str(&format!(
            "| {} | {} / {} | {} | {} | {} | {} |\n",
            verdict_text(x),
            x.scenario,
            x.strategy,
            database_text(x),
            metric_text(&x.ops_per_sec),
            metric_text(&x.p50_us),
            metric_text(&x.p99_us)
        ));
    }
    out.push_str(&format!("\n{}\n", summary(c)));
    out
}

/// The comparison as CSV, one line per cell.
pub fn render_csv(c: &Comparison) -> String {
    let header = [
        "scenario",
        "strategy",
        "database",
        "old_database",
        "presence",
        "old_verdict",
        "new_verdict",
        "verdict_change",
        "count_changes",
        "ops_per_sec_old",
        "ops_per_sec_new",
        "ops_per_sec_ratio",
        "ops_per_sec_ratio_low",
        "ops_per_sec_ratio_high",
        "ops_per_sec_flag",
        "p50_us_ratio",
        "p50_us_flag",
        "p99_us_ratio",
        "p99_us_ratio_low",
        "p99_us_ratio_high",
        "p99_us_flag",
    ];
    let f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let flag = |m: &Option<MetricChange>| {
        m.as_ref()
            .map(|m| format!("{:?}", m.flag).to_lowercase())
            .unwrap_or_default()
    };
    let rows = c.cells.iter().map(|x| {
        let o = x.ops_per_sec.as_ref();
        let p50 = x.p50_us.as_ref();
        let p99 = x.p99_us.as_ref();
        vec![
            x.scenario.clone(),
            x.strategy.clone(),
            x.database.clone(),
            x.old_database.clone().unwrap_or_default(),
            x.presence.clone(),
            x.old_verdict
                .map(|v| v.name().to_string())
                .unwrap_or_default(),
            x.new_verdict
                .map(|v| v.name().to_string())
                .unwrap_or_default(),
            format!("{:?}", x.verdict_flag).to_lowercase(),
            x.counts
                .iter()
                .map(count_text)
                .collect::<Vec<_>>()
                .join("; "),
            f(o.map(|m| m.old)),
            f(o.map(|m| m.new)),
            f(o.map(|m| m.ratio)),
            f(o.map(|m| m.ratio_low)),
            f(o.map(|m| m.ratio_high)),
            flag(&x.ops_per_sec),
            f(p50.map(|m| m.ratio)),
            flag(&x.p50_us),
            f(p99.map(|m| m.ratio)),
            f(p99.map(|m| m.ratio_low)),
            f(p99.map(|m| m.ratio_high)),
            flag(&x.p99_us),
        ]
    });
    super::csv::write_rows(
        std::iter::once(header.iter().map(|s| s.to_string()).collect()).chain(rows),
    )
}
