//! Structure-aware fuzzing of the three file readers (stress TOML, interleaving TOML, `.spec`):
//! 20,000 mutations of the bundled scenarios and the test fixtures (lines deleted, duplicated,
//! swapped; numbers and durations replaced by extreme values; random bytes and Unicode
//! inserted; truncation; over-deep dotted headers). Asserts that no input panics and that
//! every rejection is located inside the file (a line and a column that exist), and prints
//! the figures (`inputs`, `panics`, `unlocated`) for the record.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keyrace::scenario::Diagnostic;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// How many mutated files are read (the issue asks for at least 10,000).
const INPUTS: usize = 20_000;

/// Numbers a careless or hostile file might hold.
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "inf",
    "-inf",
    "nan",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "0.0000000001",
    "1e-320",
    "99999999999999999999",
];

/// Durations (and duration-like strings) of the same kind.
const EXTREME_DURATIONS: &[&str] = &[
    "\"99999999999999999999s\"",
    "\"10000000000000000000s\"",
    "\"0.0000000001ms\"",
    "\"-5s\"",
    "\"0s\"",
    "\"infs\"",
    "\"nanms\"",
    "\"1e400s\"",
    "\"604801s\"",
    "\"1e-3s\"",
    "\"s\"",
    "\"\"",
];

/// One edit of a file; indices are taken modulo what exists.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceNumber(usize, usize),
    ReplaceString(usize, usize),
    InsertBytes(usize, Vec<u8>),
    InsertText(usize, String),
    Truncate(usize),
    DeepHeader(usize, usize),
    /// Set `key = value` (a key the formats know, an extreme value) where the key belongs.
    SetKey(usize, usize),
    /// Replace the value of an existing `key = value` line with an extreme value.
    ReplaceValue(usize, usize),
    /// Repeat a run of lines many times (thousands of sessions, steps, strategies).
    RepeatLines(usize, usize, usize),
}

/// Keys of the formats whose values are numbers or durations.
const KEYS: &[&str] = &[
    "duration",
    "repeat",
    "operations",
    "workers",
    "keys",
    "zipf_exponent",
    "hot_share",
    "hot_keys",
    "seed",
    "lock_timeout_ms",
    "retry",
    "wait_timeout_ms",
    "distribution",
];

/// Every extreme value, numbers then durations, then a few structured ones.
fn extreme(i: usize) -> String {
    let structured = [
        "{ max = 4294967296 }",
        "{ on = [], max = -1, backoff_us = 1e308 }",
        "{ }",
        "\"zipf\"",
        "\"hot-key\"",
        "[]",
    ];
    let all: Vec<&str> = EXTREME_NUMBERS
        .iter()
        .chain(EXTREME_DURATIONS)
        .chain(&structured)
        .copied()
        .collect();
    all[i % all.len()].to_string()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<usize>().prop_map(Mutation::DeleteLine),
        1 => any::<usize>().prop_map(Mutation::DuplicateLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        3 => (any::<usize>(), 0..EXTREME_NUMBERS.len())
            .prop_map(|(a, b)| Mutation::ReplaceNumber(a, b)),
        3 => (any::<usize>(), 0..EXTREME_DURATIONS.len())
            .prop_map(|(a, b)| Mutation::ReplaceString(a, b)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(a, b)| Mutation::InsertBytes(a, b)),
        1 => (any::<usize>(), "[\\PC\\n\\[\\]{}()=\\\"',.*#]{1,12}")
            .prop_map(|(a, s)| Mutation::InsertText(a, s)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), 60usize..220).prop_map(|(a, d)| Mutation::DeepHeader(a, d)),
        6 => (0..KEYS.len(), any::<usize>()).prop_map(|(k, v)| Mutation::SetKey(k, v)),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(a, v)| Mutation::ReplaceValue(a, v)),
        1 => (any::<usize>(), 1usize..5, 10usize..400)
            .prop_map(|(a, n, t)| Mutation::RepeatLines(a, n, t)),
    ]
}

/// Byte offsets of line starts.
fn line_starts(b: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            b.iter()
                .enumerate()
                .filter(|(_, c)| **c == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i < b.len())
        .collect()
}

fn line_range(b: &[u8], k: usize) -> Option<std::ops::Range<usize>> {
    let starts = line_starts(b);
    let s = *starts.get(k % starts.len().max(1))?;
    let e = b[s..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| s + p + 1);
    Some(s..e)
}

/// Spans of tokens matched by `is_start`/`is_part` (numbers, strings).
fn tokens(b: &[u8], string: bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if string && b[i] == b'"' {
            let end = b[i + 1..].iter().position(|&c| c == b'"' || c == b'\n');
            match end {
                Some(p) if b[i + 1 + p] == b'"' => {
                    out.push(i..i + p + 2);
                    i += p + 2;
                }
                _ => i += 1,
            }
        } else if !string && b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            let s = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push(s..i);
        } else {
            i += 1;
        }
    }
    out
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    let at = |n: usize, b: &Vec<u8>| if b.is_empty() { 0 } else { n % (b.len() + 1) };
    match m {
        Mutation::DeleteLine(k) => {
            if let Some(r) = line_range(b, *k) {
                b.drain(r);
            }
        }
        Mutation::DuplicateLine(k) => {
            if let Some(r) = line_range(b, *k) {
                let line = b[r.clone()].to_vec();
                b.splice(r.end..r.end, line);
            }
        }
        Mutation::SwapLines(x, y) => {
            if let (Some(r1), Some(r2)) = (line_range(b, *x), line_range(b, *y)) {
                let (r1, r2) = if r1.start <= r2.start {
                    (r1, r2)
                } else {
                    (r2, r1)
                };
                if r1.end <= r2.start {
                    let (l1, l2) = (b[r1.clone()].to_vec(), b[r2.clone()].to_vec());
                    b.splice(r2, l1);
                    b.splice(r1, l2);
                }
            }
        }
        Mutation::ReplaceNumber(k, v) => {
            let t = tokens(b, false);
            if !t.is_empty() {
                let r = t[k % t.len()].clone();
                b.splice(r, EXTREME_NUMBERS[*v].bytes());
            }
        }
        Mutation::ReplaceString(k, v) => {
            let t = tokens(b, true);
            if !t.is_empty() {
                let r = t[k % t.len()].clone();
                b.splice(r, EXTREME_DURATIONS[*v].bytes());
            }
        }
        Mutation::InsertBytes(p, bytes) => {
            let p = at(*p, b);
            b.splice(p..p, bytes.iter().copied());
        }
        Mutation::InsertText(p, s) => {
            let p = at(*p, b);
            b.splice(p..p, s.bytes());
        }
        Mutation::Truncate(p) => {
            let p = at(*p, b);
            b.truncate(p);
        }
        Mutation::DeepHeader(p, depth) => {
            let header = format!("\n[{}]\nx = 1\n", vec!["a"; *depth].join("."));
            let p = line_range(b, *p).map_or(b.len(), |r| r.start);
            b.splice(p..p, header.bytes());
        }
        Mutation::SetKey(k, v) => {
            // Where the key belongs: replace its value if it is there, else add it under
            // its table's header (top-level keys at the top).
            let key = KEYS[*k];
            let text = String::from_utf8_lossy(b).into_owned();
            let mut offset = 0;
            let mut existing = None;
            let header = match key {
                "retry" => Some("[[strategy]]"),
                "wait_timeout_ms" => None,
                _ => Some("[workload]"),
            };
            let mut after_header = None;
            for line in text.split_inclusive('\n') {
                let t = line.trim();
                if existing.is_none() && t.starts_with(&format!("{key} =")) {
                    let eq = line.find('=').unwrap_or(0);
                    existing = Some(offset + eq + 1..offset + line.trim_end().len());
                }
                if after_header.is_none() && header.is_some_and(|h| t == h) {
                    after_header = Some(offset + line.len());
                }
                offset += line.len();
            }
            if text.len() != b.len() {
                return; // not UTF-8: offsets would not match
            }
            match existing {
                Some(r) => {
                    b.splice(r, format!(" {}", extreme(*v)).into_bytes());
                }
                None => {
                    let at = after_header.unwrap_or(0);
                    b.splice(at..at, format!("{key} = {}\n", extreme(*v)).into_bytes());
                }
            }
        }
        Mutation::RepeatLines(k, n, times) => {
            if let Some(first) = line_range(b, *k) {
                let end = (1..*n)
                    .filter_map(|i| line_range(b, k + i))
                    .map(|r| r.end)
                    .filter(|&e| e > first.start)
                    .max()
                    .unwrap_or(first.end);
                let block = b[first.start..end].to_vec();
                let mut copies = Vec::with_capacity(block.len() * times);
                for _ in 0..*times {
                    copies.extend_from_slice(&block);
                }
                b.splice(end..end, copies);
            }
        }
        Mutation::ReplaceValue(k, v) => {
            let starts = line_starts(b);
            let assignments: Vec<std::ops::Range<usize>> = starts
                .iter()
                .filter_map(|&s| {
                    let e = b[s..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(b.len(), |p| s + p);
                    let eq = b[s..e].windows(3).position(|w| w == b" = ")?;
                    Some(s + eq + 3..e)
                })
                .collect();
            if !assignments.is_empty() {
                let r = assignments[k % assignments.len()].clone();
                b.splice(r, extreme(*v).into_bytes());
            }
        }
    }
}

/// Every seed file: bundled scenarios, interleavings and the tests' fixtures.
fn seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = ["scenarios", "tests/fixtures"].map(|d| root.join(d));
    let files = keyrace::scenario::discover(&dirs).expect("seed directories exist");
    let seeds: Vec<_> = files
        .into_iter()
        .map(|f| {
            let b = std::fs::read(&f).expect("seed readable");
            (f, b)
        })
        .collect();
    let count = |ext: &str, interleave: bool| {
        seeds
            .iter()
            .filter(|(p, b)| {
                p.extension().is_some_and(|e| e == ext)
                    && (ext == "spec"
                        || keyrace::interleave::is_interleaving_file(
                            p,
                            &String::from_utf8_lossy(b),
                        ) == interleave)
            })
            .count()
    };
    assert!(count("toml", false) >= 10, "stress seeds");
    assert!(count("toml", true) >= 5, "interleaving seeds");
    assert!(count("spec", false) >= 2, ".spec seeds");
    seeds
}

/// Is the diagnostic's line:column inside `text`?
fn located(d: &Diagnostic, text: &str) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    d.line >= 1
        && d.line <= lines.len()
        && d.column >= 1
        && d.column <= lines[d.line - 1].chars().count() + 1
}

/// Why an accepted stress plan could not run safely (the runner adds the duration to an
/// `Instant`, binds `lock_timeout_ms` as a 32-bit setting, loops `max_retries` times ...).
fn stress_unrunnable(plan: &keyrace::plan::Plan) -> Option<String> {
    use keyrace::plan::Distribution;
    let w = &plan.workload;
    let week = Duration::from_secs(7 * 24 * 3600);
    let problems = [
        (w.workers == 0 || w.workers > 10_000, "workers"),
        (w.operations == 0, "operations"),
        (
            w.duration.is_some_and(|d| {
                d < Duration::from_millis(1)
                    || d > week
                    || Instant::now().checked_add(d * 2).is_none()
            }),
            "duration",
        ),
        (
            w.lock_timeout_ms == 0 || w.lock_timeout_ms > i32::MAX as u64,
            "lock_timeout_ms",
        ),
        (w.keys == 0, "keys"),
        (
            match w.distribution {
                Distribution::Zipf { exponent } => !(exponent.is_finite() && exponent > 0.0),
                Distribution::HotKey { share, hot_keys } => {
                    !(0.0..=1.0).contains(&share) || hot_keys == 0 || hot_keys > w.keys
                }
                Distribution::Uniform => false,
            },
            "distribution",
        ),
        (plan.strategies.is_empty(), "strategies"),
        (
            plan.expectations.iter().any(|e| match e.bound {
                keyrace::expect::Bound::Value(v) => !v.is_finite(),
                keyrace::expect::Bound::Relative { factor, .. } => !factor.is_finite(),
            }),
            "expectation bound",
        ),
        (
            plan.strategies
                .iter()
                .flat_map(|s| s.programs.values())
                .any(|p| {
                    p.as_ref()
                        .is_ok_and(|p| p.retry.max_retries > 1000 || p.retry.backoff_us > 100_000)
                }),
            "retry",
        ),
    ];
    problems
        .iter()
        .find(|(bad, _)| *bad)
        .map(|(_, what)| format!("accepted with an unusable {what}: {w:?}"))
}

/// The same for an interleaving plan.
fn interleave_unrunnable(plan: &keyrace::interleave::InterleavePlan) -> Option<String> {
    let wait = Duration::from_millis(plan.wait_timeout_ms);
    if plan.wait_timeout_ms == 0
        || wait.checked_mul(2).is_none()
        || plan.wait_timeout_ms > 3_600_000
    {
        return Some(format!(
            "accepted wait_timeout_ms = {}",
            plan.wait_timeout_ms
        ));
    }
    if plan.permutations.is_empty() || plan.dialects.is_empty() || plan.sessions.is_empty() {
        return Some("accepted a plan that runs nothing".into());
    }
    None
}

/// What a reader made of one input: accepted (with a problem if it could not run), or
/// rejected with a diagnostic.
type Read = Result<Option<String>, Diagnostic>;

#[derive(Default, Debug)]
struct Figures {
    reads: usize,
    accepted: usize,
    rejected: usize,
    panics: usize,
    unlocated: usize,
    unrunnable: usize,
    examples: Vec<String>,
}

impl Figures {
    fn record(&mut self, path: &Path, text: &str, outcome: std::thread::Result<Read>) {
        self.reads += 1;
        match outcome {
            Err(p) => {
                self.panics += 1;
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.example(format!("panic: {msg}\n--- {}\n{text}", path.display()));
            }
            Ok(Ok(None)) => self.accepted += 1,
            Ok(Ok(Some(why))) => {
                self.accepted += 1;
                self.unrunnable += 1;
                self.example(format!("unrunnable: {why}\n--- {}\n{text}", path.display()));
            }
            Ok(Err(d)) => {
                self.rejected += 1;
                if !located(&d, text) {
                    self.unlocated += 1;
                    self.example(format!("unlocated: {d}\n--- {}\n{text}", path.display()));
                }
            }
        }
    }

    fn example(&mut self, s: String) {
        if self.examples.len() < 3 {
            self.examples.push(s.chars().take(3000).collect());
        }
    }
}

/// Reads mutated bytes the way `keyrace check` does: UTF-8 first, then the reader the
/// content calls for. TOML text is also given to the other TOML reader, for coverage.
fn read_all(path: &Path, bytes: Vec<u8>, fig: &mut Figures) {
    let lossy = String::from_utf8_lossy(&bytes).into_owned();
    let text = match keyrace::scenario::text_of(path, bytes) {
        Ok(t) => t,
        Err(d) => {
            fig.record(path, &lossy, Ok(Err(d)));
            return;
        }
    };
    let interleave = catch_unwind(|| keyrace::interleave::is_interleaving_file(path, &text));
    let Ok(interleave) = interleave else {
        let p: Box<dyn std::any::Any + Send> = Box::new("is_interleaving_file panicked");
        fig.record(path, &text, Err(p));
        return;
    };
    let stress = || {
        catch_unwind(AssertUnwindSafe(|| {
            keyrace::scenario::parse(path, &text).map(|p| stress_unrunnable(&p))
        }))
    };
    let other = || {
        catch_unwind(AssertUnwindSafe(|| {
            keyrace::interleave::parse(path, &text).map(|p| interleave_unrunnable(&p))
        }))
    };
    if interleave {
        fig.record(path, &text, other());
        if path.extension().is_some_and(|e| e == "toml") {
            fig.record(path, &text, stress());
        }
    } else {
        fig.record(path, &text, stress());
        fig.record(path, &text, other());
    }
}

#[test]
fn mutated_scenario_files_never_panic_and_every_rejection_is_located() {
    let seeds = seeds();
    let strategy = (
        0..seeds.len(),
        prop_oneof![
            3 => proptest::collection::vec(mutation(), 1..2),
            1 => proptest::collection::vec(mutation(), 2..5),
        ],
    );
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let mut fig = Figures::default();
    let mut cases = 0;
    while cases < INPUTS {
        let (seed, mutations) = strategy
            .new_tree(&mut runner)
            .expect("generate an input")
            .current();
        let (path, bytes) = &seeds[seed];
        let mut b = bytes.clone();
        for m in &mutations {
            apply(&mut b, m);
        }
        read_all(path, b, &mut fig);
        cases += 1;
    }
    // The seeds themselves, unmutated, are read too (and must all be accepted except the
    // bad fixtures).
    for (path, bytes) in &seeds {
        read_all(path, bytes.clone(), &mut fig);
    }
    std::panic::set_hook(quiet);
    eprintln!(
        "fuzz_readers: inputs {} (mutated files), reads {}: accepted {}, rejected {}, panics {}, unlocated {}, accepted but unrunnable {}; {:.1} s",
        cases,
        fig.reads,
        fig.accepted,
        fig.rejected,
        fig.panics,
        fig.unlocated,
        fig.unrunnable,
        started.elapsed().as_secs_f64()
    );
    for e in &fig.examples {
        eprintln!("{e}\n=====");
    }
    assert!(cases >= 10_000);
    assert_eq!(fig.panics, 0, "inputs made a reader panic (examples above)");
    assert_eq!(
        fig.unlocated, 0,
        "rejections without a line:column inside the file (examples above)"
    );
    assert_eq!(
        fig.unrunnable, 0,
        "accepted plans that cannot run (examples above)"
    );
    assert!(fig.accepted > 100 && fig.rejected > 1000, "{fig:?}");
}
