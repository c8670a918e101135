//! Hostile scenario input through `keyrace check` (the binary, as a user runs it): special
//! files, symlink loops, oversized and non-UTF-8 files, numbers out of range, durations that
//! overflow or round to nothing. Each must be refused quickly with a located message, exit 2,
//! and never hang, panic or read without bound.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Runs `keyrace ARGS` and kills it if it has not finished within 20 s (a hang is a failure).
fn keyrace(args: &[&std::ffi::OsStr]) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args(args)
        .env_remove("KEYRACE_POSTGRES_URL")
        .env_remove("KEYRACE_MYSQL_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keyrace starts");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().ok();
            let out = child.wait_with_output().expect("output");
            panic!(
                "keyrace {args:?} hung for 20 s; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().expect("output"), start.elapsed())
}

fn check(path: &Path) -> (i32, String) {
    let (out, _) = keyrace(&["check".as_ref(), path.as_os_str()]);
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}

/// `GOOD` with `old` replaced by `new` (which must occur).
fn good_with(old: &str, new: &str) -> String {
    assert!(GOOD.contains(old));
    GOOD.replacen(old, new, 1)
}

#[test]
fn a_fifo_named_toml_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.toml", GOOD);
    let fifo = dir.path().join("a.toml");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let (out, took) = keyrace(&["check".as_ref(), dir.path().as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a.toml: error: is a FIFO (named pipe), not a regular file"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Given directly, too.
    let (code, err) = check(&fifo);
    assert_eq!(code, 2);
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn a_symlink_to_dev_zero_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.toml")).unwrap();
    let (out, took) = keyrace(&["check".as_ref(), dir.path().as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("zero.toml: error: is a character device, not a regular file"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_symlink_loop_lists_each_scenario_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.toml", GOOD);
    std::os::unix::fs::symlink(".", dir.path().join("loop")).unwrap();
    std::os::unix::fs::symlink("self.toml", dir.path().join("self.toml")).unwrap();
    let files = keyrace::scenario::discover(&[dir.path().to_path_buf()]).unwrap();
    let good: Vec<_> = files
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "good.toml"))
        .collect();
    assert_eq!(good.len(), 1, "{files:?}");
    let (out, _) = keyrace(&["check".as_ref(), dir.path().as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout.matches("good.toml").count(),
        0,
        "exit 2 prints no ok lines"
    );
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("self.toml: error: cannot read the file") && err.contains("symbolic links"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("self.toml")).unwrap();
    let (out, _) = keyrace(&["check".as_ref(), dir.path().as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout.matches("good.toml").count(), 1, "{stdout}");
}

#[test]
fn a_file_over_one_mib_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!("{GOOD}{}", "# padding\n".repeat(110_000));
    let p = write(dir.path(), "big.toml", &big);
    let (code, err) = check(&p);
    assert_eq!(code, 2);
    assert!(err.contains("more than the 1 MiB"), "{err}");
}

#[test]
fn invalid_utf8_is_located_at_the_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.toml");
    let mut bytes = GOOD.as_bytes().to_vec();
    let at = GOOD.find("users\"").unwrap() + 2; // line 5, inside `name = "users"`
    bytes.insert(at, 0xE9);
    std::fs::write(&p, bytes).unwrap();
    let d = keyrace::scenario::load(&p).unwrap_err();
    assert_eq!((d.line, d.column), (5, 11), "{d}");
    assert!(d.message.contains("not valid UTF-8"), "{d}");
    let spec = dir.path().join("bad.spec");
    std::fs::write(&spec, b"setup { SELECT '\xff'; }\n").unwrap();
    let d = keyrace::interleave::load(&spec).unwrap_err();
    assert_eq!((d.line, d.column), (1, 17), "{d}");
}

/// Each case: the replacement, the located line and column, words the message must hold.
#[test]
fn numbers_out_of_range_are_located_errors() {
    let cases: &[(&str, &str, (usize, usize), &str)] = &[
        (
            "operations = 10",
            "duration = \"99999999999999999999s\"",
            (9, 12),
            "longer than 7 days",
        ),
        (
            "operations = 10",
            "duration = \"10000000000000000000s\"",
            (9, 12),
            "longer than 7 days",
        ),
        (
            "operations = 10",
            "duration = \"0.0000000001ms\"",
            (9, 12),
            "the run would do nothing",
        ),
        (
            "operations = 10",
            "duration = \"-5s\"",
            (9, 12),
            "must be positive",
        ),
        (
            "operations = 10",
            "duration = \"0s\"",
            (9, 12),
            "must be positive",
        ),
        (
            "use = \"check-then-insert\"",
            "use = \"serializable-retry\"\nretry = { max = 4294967296 }",
            (12, 17),
            "retry.max must be at most 1000, found 4294967296",
        ),
        (
            "operations = 10",
            "operations = 10\ndistribution = \"zipf\"\nzipf_exponent = inf",
            (11, 17),
            "zipf_exponent must be a number greater than 0",
        ),
        (
            "operations = 10",
            "operations = 10\ndistribution = \"zipf\"\nzipf_exponent = nan",
            (11, 17),
            "zipf_exponent",
        ),
        (
            "operations = 10",
            "operations = 10\ndistribution = \"hot-key\"\nhot_share = inf",
            (11, 13),
            "hot_share must be between 0 and 1",
        ),
        (
            "operations = 10",
            "operations = 10\nseed = -1",
            (10, 8),
            "seed must be at least 0",
        ),
        (
            "operations = 10",
            "operations = 10\nlock_timeout_ms = 9223372036854775807",
            (10, 19),
            "lock_timeout_ms must be at most",
        ),
        (
            "workers = 2",
            "workers = 0",
            (8, 11),
            "workers must be at least 1",
        ),
        (
            "that = [\"errors >= 0\"]",
            "that = [\"errors >= 0\", \"rows < inf * workers\"]",
            (13, 24),
            "must be a finite number, found inf",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (old, new, (line, col), words)) in cases.iter().enumerate() {
        let p = write(dir.path(), &format!("case{i}.toml"), &good_with(old, new));
        let d = keyrace::scenario::load(&p).expect_err(new);
        assert_eq!((d.line, d.column), (*line, *col), "{new}: {d}");
        assert!(d.message.contains(words), "{new}: {d}");
        let (code, err) = check(&p);
        assert_eq!(code, 2, "{new}: {err}");
        assert!(!err.contains("panicked"), "{new}: {err}");
    }
}

#[test]
fn run_refuses_an_overflowing_duration_before_touching_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "long.toml",
        &good_with("operations = 10", "duration = \"10000000000000000000s\""),
    );
    let out = dir.path().join("out");
    let (o, took) = keyrace(&[
        "run".as_ref(),
        "--postgres".as_ref(),
        "postgres://nobody@127.0.0.1:1/none".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        p.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("long.toml:9:12: error:"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("connect"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10));
}

#[test]
fn the_cli_duration_has_the_same_limits() {
    let (o, _) = keyrace(&["run".as_ref(), "--duration".as_ref(), "0s".as_ref()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("must be positive"), "{err}");
    let (o, _) = keyrace(&[
        "run".as_ref(),
        "--duration".as_ref(),
        "9999999999s".as_ref(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("longer than 7 days"));
}

#[test]
fn retry_on_has_its_documented_default() {
    let text = good_with(
        "use = \"check-then-insert\"",
        "name = \"mine\"\nretry = { max = 3 }\n[[strategy.step]]\nsql = \"INSERT INTO users (email) VALUES ({key})\"",
    );
    let plan =
        keyrace::scenario::parse(Path::new("retry.toml"), &text).unwrap_or_else(|d| panic!("{d}"));
    let program = plan.strategies[0].programs[&keyrace::db::Dialect::Postgres]
        .as_ref()
        .expect("available");
    assert_eq!(program.retry.max_retries, 3);
    for class in keyrace::strategy::RETRYABLE {
        assert!(
            program.retry.on[class.index()],
            "{class:?} retried by default"
        );
    }
}

#[test]
fn a_dotted_header_200_levels_deep_is_located_in_both_toml_readers() {
    let header = format!("[{}]", vec!["a"; 200].join("."));
    let stress = format!("{GOOD}\n{header}\nx = 1\n");
    let d = keyrace::scenario::parse(Path::new("deep.toml"), &stress).unwrap_err();
    assert_eq!((d.line, d.column), (15, 1), "{d}");
    let inter = format!("name = \"x\"\n{header}\nx = 1\n[[session]]\nname = \"s\"\n");
    let d = keyrace::interleave::parse(Path::new("deep.toml"), &inter).unwrap_err();
    assert_eq!((d.line, d.column), (2, 1), "{d}");
    assert!(d.message.contains("at most 80 parts"), "{d}");
}

#[test]
fn too_many_interleavings_is_located() {
    let steps = |s: &str| {
        (0..8)
            .map(|i| format!("step {s}{i} {{ SELECT {i}; }}\n"))
            .collect::<String>()
    };
    let spec = format!("session a\n{}session b\n{}", steps("a"), steps("b"));
    let d = keyrace::interleave::parse(Path::new("many.spec"), &spec).unwrap_err();
    assert_eq!((d.line, d.column), (1, 9), "{d}");
    assert!(d.message.contains("more than 1000 interleavings"), "{d}");
    let toml_steps = |s: &str| {
        (0..8)
            .map(|i| format!("[[session.step]]\nname = \"{s}{i}\"\nsql = \"SELECT 1\"\n"))
            .collect::<String>()
    };
    let toml = format!(
        "name = \"many\"\n[[session]]\nname = \"a\"\n{}[[session]]\nname = \"b\"\n{}",
        toml_steps("a"),
        toml_steps("b")
    );
    let d = keyrace::interleave::parse(Path::new("many.toml"), &toml).unwrap_err();
    assert!(d.line >= 2, "{d}");
    assert!(d.message.contains("more than 1000 interleavings"), "{d}");
}

#[test]
fn a_huge_wait_timeout_is_refused() {
    let toml = "name = \"w\"\nwait_timeout_ms = 18446744073709551615\n[[session]]\nname = \"a\"\n[[session.step]]\nname = \"a1\"\nsql = \"SELECT 1\"\n";
    let d = keyrace::interleave::parse(Path::new("w.toml"), toml).unwrap_err();
    assert_eq!((d.line, d.column), (2, 19), "{d}");
}

#[test]
fn the_extremes_a_file_may_ask_for_still_draw_keys_quickly() {
    for (exponent, keys) in [
        ("100", "1000000000000"),
        ("0.0001", "1000000000000"),
        ("100", "1"),
    ] {
        let text = good_with(
            "operations = 10",
            &format!(
                "operations = 10\nkeys = {keys}\ndistribution = \"zipf\"\nzipf_exponent = {exponent}"
            ),
        );
        let plan =
            keyrace::scenario::parse(Path::new("z.toml"), &text).unwrap_or_else(|d| panic!("{d}"));
        let mut keygen = keyrace::runner::keys::KeyGen::new(&plan.workload, 0);
        let start = Instant::now();
        for seq in 0..10_000 {
            assert!(keygen.next(seq) < plan.workload.keys);
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "zipf {exponent} over {keys} keys is slow"
        );
    }
}

#[test]
fn a_strategy_filter_that_matches_nothing_is_refused_instead_of_running_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", GOOD);
    let out = dir.path().join("out");
    let (o, _) = keyrace(&[
        "run".as_ref(),
        "--strategy".as_ref(),
        "check-than-insert".as_ref(),
        "--postgres".as_ref(),
        "postgres://nobody@127.0.0.1:1/none".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        p.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--strategy `check-than-insert`: no such strategy in these scenarios; known: check-then-insert"),
        "{err}"
    );
}

#[test]
fn two_links_to_one_file_list_it_once_and_deep_nesting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.toml", GOOD);
    std::os::unix::fs::symlink("a.toml", dir.path().join("b.toml")).unwrap();
    let files = keyrace::scenario::discover(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let mut deep = dir.path().join("n");
    for i in 0..40 {
        deep = deep.join(format!("{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    let d = keyrace::scenario::discover(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(d.message.contains("more than 32 levels"), "{d}");
}

#[test]
fn thousands_of_sessions_or_steps_neither_overflow_the_stack_nor_take_long() {
    let start = Instant::now();
    let wide: String = (0..25_000)
        .map(|i| format!("session s{i}\nstep a{i} {{ SELECT 1; }}\n"))
        .collect();
    let d = keyrace::interleave::parse(Path::new("wide.spec"), &wide).unwrap_err();
    assert_eq!((d.line, d.column), (201, 9), "{d}");
    assert!(d.message.contains("more than 100 sessions"), "{d}");
    // 99 one-step sessions: 99! interleavings, refused by counting, not by generating.
    let many: String = (0..99)
        .map(|i| format!("session s{i}\nstep a{i} {{ SELECT 1; }}\n"))
        .collect();
    let d = keyrace::interleave::parse(Path::new("many.spec"), &many).unwrap_err();
    assert!(d.message.contains("more than 1000 interleavings"), "{d}");
    let long = format!(
        "session s\n{}",
        (0..40_000)
            .map(|i| format!("step a{i} {{ SELECT 1; }}\n"))
            .collect::<String>()
    );
    let plan = keyrace::interleave::parse(Path::new("long.spec"), &long).expect("one order");
    assert_eq!(plan.permutations.len(), 1);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn command_line_counts_are_range_checked() {
    for args in [
        &["--workers", "0"][..],
        &["--workers", "100000"][..],
        &["--operations", "0"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyrace"))
            .arg("run")
            .args(args)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scenarios/signup-race.toml"
            ))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
    }
}
