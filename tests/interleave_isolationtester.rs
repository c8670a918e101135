//! `keyrace run --format isolationtester` against PostgreSQL 15's own isolation tester: each
//! spec under tests/fixtures/isolationtester/ (written for keyrace: blocking, errors, several
//! result sets, notices and notifications, zero rows, numbers, setup and teardown results, a
//! failing setup, a step left waiting) runs through both on the same server, each in a
//! database of its own. Stdout must be equal byte for byte, the isolation tester's stderr
//! lines must be among keyrace's, and the exit codes must agree. The isolation tester comes
//! with Debian's postgresql-client-15 (.ci/run installs it); without it the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use keyrace::db::Dialect;

const ISOLATIONTESTER: &str = "/usr/lib/postgresql/15/lib/pgxs/src/test/isolation/isolationtester";

/// The isolation tester: `KEYRACE_ISOLATIONTESTER`, else Debian's PostgreSQL 15 one.
fn isolationtester() -> PathBuf {
    let p = std::env::var("KEYRACE_ISOLATIONTESTER").unwrap_or_else(|_| ISOLATIONTESTER.into());
    assert!(
        Path::new(&p).is_file(),
        "{p} is missing: install postgresql-client-15 (.ci/run does) or set KEYRACE_ISOLATIONTESTER"
    );
    p.into()
}

fn specs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/isolationtester");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "spec"))
        .collect();
    v.sort();
    assert!(v.len() >= 6, "specs missing under {}", dir.display());
    v
}

struct Out {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn output(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("run the command");
    Out {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code(),
    }
}

/// Runs `spec` through the real isolation tester in a database of its own on `url`.
async fn reference(spec: &Path, url: &str, n: usize) -> Out {
    let db = format!("keyrace_itref_{}_{n}", std::process::id());
    let (admin, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to {url} (is PostgreSQL up? CI starts it): {e}")
        });
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create the reference database");
    let spec_file = std::fs::File::open(spec).expect("open spec");
    let out = output(
        Command::new(isolationtester())
            .arg(keyrace::db::database_url(url, &db))
            .stdin(Stdio::from(spec_file)),
    );
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await
        .expect("drop the reference database");
    out
}

fn keyrace_run(spec: &Path, url: &str, results: &Path) -> Out {
    output(
        Command::new(env!("CARGO_BIN_EXE_keyrace"))
            .args(["run", "--format", "isolationtester", "--only", "postgres"])
            .args(["--no-html", "--quiet", "--out"])
            .arg(results)
            .arg(spec)
            .env("KEYRACE_POSTGRES_URL", url)
            .env_remove("KEYRACE_MYSQL_URL"),
    )
}

#[tokio::test]
async fn output_equals_the_isolation_testers_byte_for_byte() {
    let url = common::url(Dialect::Postgres);
    let results = std::env::temp_dir().join(format!("keyrace-it-{}", std::process::id()));
    let mut differ = Vec::new();
    for (n, spec) in specs().iter().enumerate() {
        let want = reference(spec, &url, n).await;
        let got = keyrace_run(spec, &url, &results);
        let name = spec.file_name().unwrap().to_string_lossy().into_owned();
        if got.stdout != want.stdout {
            differ.push(format!(
                "{name}: stdout differs\n{}",
                keyrace::interleave::unified_diff(
                    &want.stdout,
                    &got.stdout,
                    "isolationtester",
                    "keyrace"
                )
            ));
        }
        for line in want.stderr.lines() {
            if !got.stderr.lines().any(|l| l == line) {
                differ.push(format!(
                    "{name}: stderr line {line:?} missing from keyrace's:\n{}",
                    got.stderr
                ));
            }
        }
        if got.code != want.code {
            differ.push(format!(
                "{name}: exit code {:?}, the isolation tester's {:?}\n{}",
                got.code, want.code, got.stderr
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&results);
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
