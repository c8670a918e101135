//! Where results go: `--out` checked before the run (a file, an uncreatable directory), the
//! JSON and HTML written atomically (a size limit mid-write leaves no partial file), a
//! fallback directory when `--out` fails at the end, and `keyrace show` exiting as `run` did.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use keyrace::db::Dialect;

const SCENARIO: &str = r#"# results-output test scenario
name = "results-output"
teaches = "results are never lost"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE)"
[table]
name = "users"
key = "email"
[workload]
workers = 2
LENGTH
[[strategy]]
use = "on-conflict-do-nothing"
[[expect]]
that = ["duplicate_rows = 0"]
"#;

fn scenario(dir: &Path, length: &str) -> String {
    let p = dir.join("s.toml");
    std::fs::write(&p, SCENARIO.replace("LENGTH", length)).unwrap();
    p.display().to_string()
}

fn keyrace(args: &[&str], tmpdir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args(args)
        .env_remove("KEYRACE_OUT")
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run keyrace")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Files in `dir` (none when it does not exist).
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn an_out_that_is_a_file_is_refused_before_any_server_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "operations = 10");
    let file = dir.path().join("results");
    std::fs::write(&file, "mine").unwrap();
    let start = Instant::now();
    // An unreachable server: had the run started, the error would be about connecting.
    let out = keyrace(
        &[
            "run",
            "--postgres",
            "postgres://nobody@127.0.0.1:1/none",
            "--out",
            file.to_str().unwrap(),
            &s,
        ],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is a file, not a directory") && err.contains("nothing was run"),
        "{err}"
    );
    assert!(!err.contains("connect"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "mine",
        "left alone"
    );
}

#[test]
fn an_out_that_cannot_be_created_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "operations = 10");
    std::fs::write(dir.path().join("f"), "x").unwrap();
    // Under a file (ENOTDIR) and under /proc (no directory can be made there, even by root).
    for bad in [
        dir.path().join("f/sub").display().to_string(),
        "/proc/keyrace-results-test".to_string(),
    ] {
        let out = keyrace(
            &[
                "run",
                "--postgres",
                "postgres://nobody@127.0.0.1:1/none",
                "--out",
                &bad,
                &s,
            ],
            dir.path(),
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains(&format!("error: --out: cannot write in {bad}")),
            "{bad}: {err}"
        );
        assert!(!err.contains("connect"), "{err}");
    }
}

#[test]
fn a_write_cut_short_leaves_no_partial_file_and_the_table_is_still_printed() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "operations = 20");
    let out_dir = dir.path().join("out");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let url = common::url(Dialect::Postgres);
    // `ulimit -f 2`: at most 1 KiB per file; the JSON is several KiB.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 2; exec '{}' run --quiet --only postgres --postgres '{url}' --out '{}' '{s}'",
            env!("CARGO_BIN_EXE_keyrace"),
            out_dir.display()
        ))
        .env("TMPDIR", &tmp)
        .env_remove("KEYRACE_OUT")
        .output()
        .expect("sh");
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{err}");
    assert!(
        stdout.contains("on-conflict-do-nothing"),
        "table printed: {stdout}"
    );
    assert!(
        err.contains("could not be written anywhere"),
        "says so: {err}"
    );
    assert!(err.contains("File too large"), "{err}");
    assert_eq!(
        files(&out_dir),
        Vec::<String>::new(),
        "no partial JSON, no temporary file"
    );
    let fallback: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .flat_map(|d| files(&d.unwrap().path()))
        .collect();
    assert_eq!(
        fallback,
        Vec::<String>::new(),
        "nothing partial in the fallback either"
    );
}

#[test]
fn when_out_fails_at_the_end_results_go_to_the_fallback_directory() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), "duration = \"3s\"");
    let out_dir = dir.path().join("out");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let url = common::url(Dialect::Postgres);
    let child = Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args([
            "run",
            "--quiet",
            "--only",
            "postgres",
            "--postgres",
            &url,
            "--out",
        ])
        .arg(&out_dir)
        .arg(&s)
        .env("TMPDIR", &tmp)
        .env_remove("KEYRACE_OUT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keyrace starts");
    // The pre-run check creates `out`; replace it with a file while the run is going.
    let start = Instant::now();
    while !out_dir.is_dir() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "--out never created"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    std::fs::remove_dir_all(&out_dir).unwrap();
    std::fs::write(&out_dir, "in the way").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{err}");
    assert!(stdout.contains("on-conflict-do-nothing"), "{stdout}");
    assert!(err.contains("cannot write results to"), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("results written instead to: "))
        .unwrap_or_else(|| panic!("no fallback line: {err}"));
    let json = Path::new(line.trim_start_matches("results written instead to: "));
    assert!(json.starts_with(&tmp), "{}", json.display());
    let report = keyrace::report::Report::read_json(json).expect("a complete results file");
    assert_eq!(report.scenarios.len(), 1);
    assert!(json.with_extension("html").is_file());
}

fn sample(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::NamedTempFile {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-sample.json"),
    )
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), serde_json::to_string(&v).unwrap()).unwrap();
    f
}

#[test]
fn show_exits_as_run_did() {
    let dir = tempfile::tempdir().unwrap();
    let show = |f: &tempfile::NamedTempFile| {
        keyrace(&["show", f.path().to_str().unwrap()], dir.path())
            .status
            .code()
    };
    let no_error = |v: &mut serde_json::Value| {
        for s in v["scenarios"].as_array_mut().unwrap() {
            s["error"] = serde_json::Value::Null;
        }
    };
    let clean = sample(no_error);
    let code = show(&clean);
    assert!(code == Some(0) || code == Some(1), "{code:?}");
    let harness = sample(|_| {});
    assert_eq!(show(&harness), Some(2), "a scenario with a harness error");
    let interrupted = sample(|v| {
        no_error(v);
        v["interrupted"] = true.into();
    });
    assert_eq!(show(&interrupted), Some(130), "an interrupted run");
}
