//! No credential of a server URL appears in anything keyrace prints or writes, whatever form
//! it takes: `user:password@`, a password with unencoded `/`, `?`, `@` or `,`, query
//! parameters `password=` / `sslpassword=`, and the `[env: …]` line of `--help`.

mod common;

use std::process::{Command, Output};

use keyrace::db::Dialect;

const SECRET: &str = "Hunter2xyz";

fn keyrace(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keyrace"));
    c.args(args)
        .env_remove("KEYRACE_POSTGRES_URL")
        .env_remove("KEYRACE_MYSQL_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run keyrace")
}

fn all_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn help_hides_env_values() {
    for var in ["KEYRACE_POSTGRES_URL", "KEYRACE_MYSQL_URL"] {
        let url = format!("postgres://u:{SECRET}@h/db");
        let out = keyrace(&["run", "--help"], &[(var, &url)]);
        let text = all_text(&out);
        assert!(text.contains(var), "{text}");
        assert!(!text.contains(SECRET), "{var}: {text}");
    }
}

#[test]
fn unreachable_or_unparsable_urls_never_show_the_password() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/signup-race.toml");
    let forms = [
        format!("postgres://u@127.0.0.1:1/db?password={SECRET}"),
        format!("postgres://u@127.0.0.1:1/db?sslmode=disable&sslpassword={SECRET}"),
        format!("postgres://u:pa/{SECRET}@127.0.0.1:1/db"),
        format!("postgres://u:pa?{SECRET}@127.0.0.1:1/db"),
        format!("postgres://u:p@{SECRET}@127.0.0.1:1/db"),
        format!("postgres://u:a,{SECRET}@127.0.0.1:1/db"),
        format!("postgres://u:{SECRET}@127.0.0.1:notaport/db"),
    ];
    for url in &forms {
        for verbosity in ["-q", "-vv"] {
            let args = [
                "run",
                verbosity,
                "--only",
                "postgres",
                "--postgres",
                url,
                "--no-html",
                scenario,
            ];
            let args: Vec<&str> = args.into_iter().filter(|a| *a != "-q").collect();
            let out = keyrace(&args, &[("KEYRACE_OUT", "/nonexistent-keyrace-out")]);
            let text = all_text(&out);
            assert_eq!(out.status.code(), Some(2), "{url}: {text}");
            assert!(!text.contains(SECRET), "{url} leaked: {text}");
            assert!(
                text.contains("***"),
                "{url}: the URL is not shown redacted: {text}"
            );
        }
    }
}

#[test]
fn results_and_logs_of_a_real_run_hold_no_query_password() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        r#"name = "redaction"
teaches = "passwords stay out of results"
[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE) ENGINE=InnoDB"
[table]
name = "users"
key = "email"
[workload]
workers = 2
operations = 20
mode = "rounds"
[[strategy]]
use = "insert-catch-select"
"#,
    )
    .unwrap();
    let with_param = |u: String, p: &str| {
        let sep = if u.contains('?') { '&' } else { '?' };
        format!("{u}{sep}{p}={SECRET}")
    };
    // PostgreSQL with trust authentication ignores the password; sqlx warns about an
    // unknown `sslpassword` parameter, with its value, unless keyrace silences it.
    let pg = with_param(common::url(Dialect::Postgres), "sslpassword");
    let out_dir = dir.path().join("out");
    let out = keyrace(
        &[
            "-vv",
            "run",
            "--only",
            "postgres",
            "--postgres",
            &pg,
            "--out",
            out_dir.to_str().unwrap(),
            scenario.to_str().unwrap(),
        ],
        &[],
    );
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains(SECRET), "leaked in the output");
    let mut files = 0;
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        assert!(!body.contains(SECRET), "leaked in {}", path.display());
        assert!(
            body.contains("sslpassword=***"),
            "{} lacks the redacted URL",
            path.display()
        );
        files += 1;
    }
    assert!(
        files >= 2,
        "expected JSON and HTML results, found {files} files"
    );
}
