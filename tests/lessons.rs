//! Lessons against the real servers: every bundled lesson's claims get a verdict on each
//! engine they name (and the verdict the lesson predicted); a real run produces each of
//! confirmed, refuted and nuanced; a bad claim is refused with its location; `keyrace
//! lessons` lists one line per claim; the terminal text of one lesson is snapshotted.
//!
//! One test at a time (a shared lock): InnoDB's lock views are a cache that two monitors
//! polling at once would read stale.

mod common;

use std::path::{Path, PathBuf};

use keyrace::db::Dialect;
use keyrace::interleave::{self, InterleaveReport};
use keyrace::lesson::{ClaimResult, Verdict};
use tokio_util::sync::CancellationToken;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BOTH: [Dialect; 2] = [Dialect::Postgres, Dialect::Mysql];

async fn run_plan(plan: &interleave::InterleavePlan) -> (InterleaveReport, Vec<ClaimResult>) {
    let report = interleave::run(
        plan,
        &common::interleave_targets(&BOTH),
        CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("cannot run {} (are both servers up?): {e}", plan.name));
    let claims = interleave::evaluate_claims(plan, &report);
    (report, claims)
}

/// The bundled lessons that are interleavings (scripts), and those that are stress scenarios.
fn lesson_files() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir("scenarios/lessons")
        .expect("scenarios/lessons")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.into_iter().partition(|f| {
        interleave::is_interleaving_file(f, &std::fs::read_to_string(f).expect("read lesson"))
    })
}

fn check_claims(
    claims: &[ClaimResult],
    specs: &[keyrace::lesson::Claim],
    failures: &mut Vec<String>,
) {
    assert_eq!(claims.len(), specs.len());
    for (c, spec) in claims.iter().zip(specs) {
        assert_eq!(c.servers.len(), 2, "{}: one verdict per server", c.id);
        for s in &c.servers {
            if !spec.dialects.contains(&s.dialect) {
                assert_eq!(s.verdict, Verdict::NotApplicable, "{} on {}", c.id, s.label);
                continue;
            }
            assert_eq!(s.checks.len(), spec.checks.len());
            if !matches!(
                s.verdict,
                Verdict::Confirmed | Verdict::Refuted | Verdict::Nuanced
            ) || !s.prediction_held()
            {
                failures.push(format!(
                    "{} on {}: predicted {:?}, measured {:?}: {:#?}",
                    c.id, s.label, s.predicted, s.verdict, s.checks
                ));
            }
        }
    }
}

#[tokio::test]
async fn every_bundled_lesson_decides_every_claim_on_both_engines() {
    let _serial = SERIAL.lock().await;
    let (scripts, stress) = lesson_files();
    assert!(
        scripts.len() >= 9 && !stress.is_empty(),
        "bundled lessons: {scripts:?} {stress:?}"
    );
    let mut failures = Vec::new();
    for f in scripts {
        let plan = interleave::load(&f).unwrap_or_else(|d| panic!("{d}"));
        assert!(!plan.claims.is_empty(), "{} has no claim", f.display());
        let (report, claims) = run_plan(&plan).await;
        let before = failures.len();
        check_claims(&claims, &plan.claims, &mut failures);
        if failures.len() > before {
            failures.push(report.render_text("mysql") + &report.render_text("postgres"));
        }
    }
    for f in stress {
        let text = std::fs::read_to_string(&f).expect("read lesson");
        let plan = keyrace::scenario::parse(&f, &text).unwrap_or_else(|d| panic!("{d}"));
        assert!(
            !plan.lesson_claims.is_empty(),
            "{} has no claim",
            f.display()
        );
        let report = common::run_toml(&text, &BOTH).await;
        let s = &report.scenarios[0];
        assert!(s.error.is_none(), "{}: {:?}", f.display(), s.error);
        check_claims(&s.claim_verdicts, &plan.lesson_claims, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A lesson whose checks hold, fail, or both, on a real duplicate insert.
const THREE_VERDICTS: &str = r#"
setup = "CREATE TABLE t (k INT PRIMARY KEY)"
teardown = "DROP TABLE t"
[[session]]
name = "s"
[[session.step]]
name = "first"
sql = "INSERT INTO t VALUES (1)"
[[session.step]]
name = "again"
sql = "INSERT INTO t VALUES (1)"
[[session.step]]
name = "count"
sql = "SELECT COUNT(*) FROM t"

[[claim]]
id = "right"
seed = "test"
quote = "a second insert of a key fails with a unique violation"
checks = ["again.class = unique_violation", "count.value = 1", "first.affected = 1"]

[[claim]]
id = "wrong"
seed = "test"
quote = "a second insert of a key is silently skipped"
checks = ["again.error = none"]

[[claim]]
id = "partly"
seed = "test"
quote = "a second insert fails and writes a second row"
checks = ["again.error != none", "count.value = 2"]
"#;

#[tokio::test]
async fn a_real_run_yields_confirmed_refuted_and_nuanced() {
    let _serial = SERIAL.lock().await;
    let plan = interleave::parse(Path::new("three-verdicts.toml"), THREE_VERDICTS)
        .unwrap_or_else(|d| panic!("{d}"));
    assert!(plan.effects, "claims turn on affected rows and warnings");
    let (_, claims) = run_plan(&plan).await;
    let verdicts = |id: &str| -> Vec<Verdict> {
        claims
            .iter()
            .find(|c| c.id == id)
            .expect("claim")
            .servers
            .iter()
            .map(|s| s.verdict)
            .collect()
    };
    assert_eq!(verdicts("right"), [Verdict::Confirmed; 2]);
    assert_eq!(verdicts("wrong"), [Verdict::Refuted; 2]);
    assert_eq!(verdicts("partly"), [Verdict::Nuanced; 2]);
    // The deciding evidence of the refuted claim is the statement and the server's error.
    for s in &claims[1].servers {
        let k = s.deciding().expect("a check");
        assert_eq!(k.held, Some(false));
        assert!(
            k.evidence.starts_with("INSERT INTO t VALUES (1) → ERROR "),
            "{}",
            k.evidence
        );
    }
}

#[tokio::test]
async fn warnings_and_affected_rows_are_measured() {
    let _serial = SERIAL.lock().await;
    let text = r#"
dialects = ["mysql"]
setup = "CREATE TABLE t (k INT PRIMARY KEY, v TINYINT)"
teardown = "DROP TABLE t"
[[session]]
name = "s"
[[session.step]]
name = "clipped"
sql = "INSERT IGNORE INTO t VALUES (1, 1000), (2, 5)"
[[claim]]
id = "c"
seed = "test"
quote = "q"
checks = ["clipped.warning = 1264", "clipped.warnings = 1", "clipped.affected = 2", "clipped.warning != 1062"]
"#;
    let plan = interleave::parse(Path::new("w.toml"), text).unwrap_or_else(|d| panic!("{d}"));
    let (report, claims) = run_plan(&plan).await;
    let my = &claims[0].servers[1];
    assert_eq!(my.verdict, Verdict::Confirmed, "{:#?}", my.checks);
    let out = report.render_text("mysql");
    assert!(
        out.contains(
            "affected rows: 2\nWarning 1264: Out of range value for column 'v' at row 1\n"
        ),
        "{out}"
    );
    assert_eq!(claims[0].servers[0].verdict, Verdict::NotApplicable);
}

#[test]
fn bad_claims_are_located() {
    let base = "setup = \"CREATE TABLE t (k INT)\"\n[[session]]\nname = \"s\"\n[[session.step]]\nname = \"a\"\nsql = \"SELECT 1\"\n";
    let cases = [
        (
            "[[claim]]\nid = \"x\"\nseed = \"s\"\nquote = \"q\"\nchecks = [\"b.error = none\"]\n",
            "names no step `b`",
        ),
        (
            "[[claim]]\nid = \"x\"\nseed = \"s\"\nquote = \"q\"\nchecks = [\"a.eror = none\"]\n",
            "figures: error",
        ),
        (
            "[[claim]]\nid = \"x\"\nseed = \"s\"\nchecks = [\"a.error = none\"]\n",
            "needs `quote`",
        ),
        (
            "[[claim]]\nid = \"x\"\nseed = \"s\"\nquote = \"q\"\nchecks = [\"a.error = none\"]\npredict = \"maybe\"\n",
            "not a verdict",
        ),
        (
            "[[claim]]\nid = \"x\"\nseed = \"s\"\nquote = \"q\"\nchecks = []\n",
            "at least one check",
        ),
    ];
    for (claim, want) in cases {
        let text = format!("{base}{claim}");
        let err = interleave::parse(Path::new("bad.toml"), &text)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(want), "{want}: {err}");
        assert!(err.starts_with("bad.toml:"), "located: {err}");
    }
}

#[tokio::test]
async fn claims_render_with_verdict_and_evidence() {
    let _serial = SERIAL.lock().await;
    let plan = interleave::load(Path::new("scenarios/lessons/replace-two-unique-keys.toml"))
        .unwrap_or_else(|d| panic!("{d}"));
    let (_, claims) = run_plan(&plan).await;
    let text = keyrace::report::claims::render_claims(&claims, 100);
    insta::assert_snapshot!("replace_two_unique_keys_claims", text);
}

#[test]
fn lessons_command_lists_one_line_per_claim() {
    let _serial = SERIAL.blocking_lock();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .args(["lessons", "scenarios/lessons", "--no-html", "--out"])
        .arg(out_dir.path())
        .env("KEYRACE_POSTGRES_URL", common::url(Dialect::Postgres))
        .env("KEYRACE_MYSQL_URL", common::url(Dialect::Mysql))
        .env("COLUMNS", "120")
        .output()
        .expect("run keyrace lessons");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (scripts, stress) = lesson_files();
    let claims: usize = scripts
        .iter()
        .map(|f| interleave::load(f).expect("lesson").claims.len())
        .chain(stress.iter().map(|f| {
            keyrace::scenario::load(f)
                .expect("lesson")
                .lesson_claims
                .len()
        }))
        .sum();
    let table: Vec<&str> = stdout.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(
        table.len(),
        claims + 1,
        "header + one line per claim:\n{stdout}"
    );
    assert!(table[1..].iter().all(|l| {
        ["✓ confirmed", "✗ refuted", "◐ nuanced"]
            .iter()
            .any(|v| l.contains(v))
    }));
    assert!(stdout.contains("predicted verdicts: "), "{stdout}");
}
