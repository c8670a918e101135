//! The scenario format as data: every bundled scenario is valid, every bad fixture is
//! rejected with a located diagnostic (snapshotted), and no input makes the parser panic.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    keyrace::scenario::discover(&[root]).expect("directory exists")
}

#[test]
fn every_bundled_scenario_is_valid_and_has_expectations() {
    let bundled: Vec<PathBuf> = files("scenarios")
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && !p.components().any(|c| c.as_os_str() == "interleave")
                // Lessons that are single-session scripts are interleavings.
                && !keyrace::interleave::is_interleaving_file(
                    p,
                    &std::fs::read_to_string(p).unwrap_or_default(),
                )
        })
        .collect();
    assert!(
        bundled.len() >= 5,
        "expected the bundled scenarios, found {bundled:?}"
    );
    for f in bundled {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with('#'),
            "{}: should open with a comment on what it teaches",
            f.display()
        );
        if keyrace::apptarget::is_app_file(&f, &text) {
            let plan = keyrace::apptarget::parse(&f, &text).unwrap_or_else(|d| panic!("{d}"));
            assert!(
                !plan.expectations.is_empty(),
                "{}: no expectations",
                f.display()
            );
            assert!(!plan.teaches.is_empty(), "{}: no `teaches`", f.display());
            continue;
        }
        let plan = keyrace::scenario::load(&f).unwrap_or_else(|d| panic!("{d}"));
        assert!(
            !plan.expectations.is_empty(),
            "{}: no expectations",
            f.display()
        );
        assert!(!plan.teaches.is_empty(), "{}: no `teaches`", f.display());
    }
}

#[test]
fn bad_files_get_located_diagnostics() {
    let bad = files("tests/fixtures/bad");
    assert!(bad.len() >= 8);
    for f in bad {
        let d = keyrace::scenario::load(&f).expect_err("bad fixture must be rejected");
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        assert!(d.line >= 1 && d.column >= 1);
        let rendered = d.to_string().replace(env!("CARGO_MANIFEST_DIR"), "<root>");
        insta::assert_snapshot!(name, rendered);
    }
}

#[test]
fn diagnostics_point_at_the_offending_text() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/unknown-strategy.toml");
    let d = keyrace::scenario::load(&f).unwrap_err();
    assert_eq!((d.line, d.column), (11, 7));
    assert!(d.message.contains("check-than-insert") && d.message.contains("check-then-insert"));
}

const GOOD: &str = r#"name = "ok"
[schema]
postgres = "CREATE TABLE users (email TEXT UNIQUE)"
[table]
name = "users"
key = "email"
[workload]
workers = 2
operations = 10
[[strategy]]
use = "check-then-insert"
[[expect]]
that = ["errors >= 0"]
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Any edit of a valid file either parses or yields a diagnostic inside the file.
    #[test]
    fn mutated_files_never_panic(pos in 0usize..GOOD.len(), cut in 0usize..20, insert in "[ -~\n]{0,12}") {
        let mut text = GOOD.to_string();
        let start = (0..=pos).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let end = (start + cut).min(text.len());
        let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        text.replace_range(start..end, &insert);
        if let Err(d) = keyrace::scenario::parse(Path::new("m.toml"), &text) {
            prop_assert!(d.line >= 1 && d.line <= text.lines().count().max(1) + 1);
            prop_assert!(!d.message.is_empty());
        }
    }
}
