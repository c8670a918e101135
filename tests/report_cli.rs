//! Small things a user trips on: an unknown `--strategy` exits 2 naming the known ones, a
//! missing file is one plain error line, `keyrace strategies` shows where each strategy
//! exists, a closed stdout ends quietly, singular "1 strategy".

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn keyrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run keyrace")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn unknown_strategy_exits_2_listing_the_known_ones() {
    let o = keyrace(&[
        "run",
        "scenarios/signup-race.toml",
        "--strategy",
        "nosuch",
        "--no-html",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("`nosuch`"), "{e}");
    assert!(
        e.contains("check-then-insert") && e.contains("on-conflict-do-nothing"),
        "{e}"
    );
}

#[test]
fn missing_file_is_one_plain_error() {
    let o = keyrace(&["run", "nope.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(err(&o), "error: nope.toml: no such file or directory\n");
    let o = keyrace(&["check", "nope.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(err(&o), "error: nope.toml: no such file or directory\n");
}

#[test]
fn strategies_show_where_they_exist() {
    let o = keyrace(&["strategies"]);
    assert_eq!(o.status.code(), Some(0));
    let t = out(&o);
    let header = t.lines().next().unwrap();
    assert!(
        header.contains("PostgreSQL") && header.contains("MySQL"),
        "{t}"
    );
    let row = |name: &str| {
        t.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}:\n{t}"))
            .split_whitespace()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("insert-ignore"), ["–", "✓"]);
    assert_eq!(row("on-conflict-do-nothing"), ["✓", "–"]);
    assert_eq!(row("check-then-insert"), ["✓", "✓"]);
}

#[test]
fn closed_stdout_ends_quietly() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-repeat.json");
    for format in ["json", "table", "csv", "markdown"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyrace"))
            .args(["show", fixture.to_str().unwrap(), "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keyrace show");
        // Like `| head -c 1`: read a little, then close the pipe.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        let _ = stdout.read(&mut first);
        drop(stdout);
        let o = child.wait_with_output().expect("wait");
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{format}: {:?} {}",
            o.status,
            err(&o)
        );
        assert!(!err(&o).contains("panicked"), "{format}: {}", err(&o));
    }
}

#[test]
fn check_says_one_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/signup-race.toml"),
    )
    .unwrap();
    // Keep the first [[strategy]] only (and the expectations of all strategies out).
    let head = text.split("[[strategy]]").next().unwrap();
    let p = dir.path().join("one.toml");
    std::fs::write(
        &p,
        format!("{head}[[strategy]]\nuse = \"check-then-insert\"\n"),
    )
    .unwrap();
    let o = keyrace(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("(1 strategy)"), "{}", out(&o));
}
