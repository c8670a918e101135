//! A directory of interleaving files on the real servers: each file still runs in a
//! database of its own (what one file leaves behind never reaches the next) although the
//! next file's database is created while this one runs and this one's dropped while the
//! next runs; every one of them is gone when the run ends.

mod common;

use std::path::Path;

use keyrace::app;
use keyrace::db::Dialect;
use keyrace::options::RunOptions;
use tokio_util::sync::CancellationToken;

/// A spec that creates a table and leaves it (no teardown), and prints its database's name.
fn leaving_spec(step: &str) -> String {
    format!(
        "setup {{ CREATE TABLE kr_left (k int PRIMARY KEY); }}\n\
         session s1\n\
         step {step} {{ INSERT INTO kr_left VALUES (1); SELECT current_database() AS db; }}\n"
    )
}

const LEAVING_TOML: &str = r#"
setup = "CREATE TABLE kr_left (k int PRIMARY KEY)"
[[session]]
name = "s1"
[[session.step]]
name = "s1_where"
postgres = "SELECT current_database() AS db"
mysql = "SELECT DATABASE() AS db"
"#;

/// The `keyrace_…` database names an output mentions.
fn databases_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("keyrace_"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_of_a_directory_gets_a_fresh_database_and_none_is_left() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-leaves.spec"), leaving_spec("a_insert")).unwrap();
    std::fs::write(dir.path().join("b-leaves.spec"), leaving_spec("b_insert")).unwrap();
    std::fs::write(dir.path().join("c-leaves.toml"), LEAVING_TOML).unwrap();
    std::fs::write(dir.path().join("d-leaves.spec"), leaving_spec("d_insert")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut args = RunOptions::quiet(out.path());
    args.postgres = vec![common::url(Dialect::Postgres)];
    args.mysql = vec![common::url(Dialect::Mysql)];
    args.paths = vec![dir.path().to_path_buf()];
    let report = app::run(&args, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("run failed: {e}"))
        .report;

    assert_eq!(report.interleavings.len(), 4);
    let mut seen: Vec<(Dialect, String)> = Vec::new();
    for r in &report.interleavings {
        assert!(r.error.is_none(), "{}: {:?}", r.file, r.error);
        for (label, text) in &r.outputs {
            // The table a file before it left behind would make this setup fail.
            assert!(!text.contains("ERROR"), "{} on {label}:\n{text}", r.file);
            let dialect = if label.contains("MariaDB") || label.contains("MySQL") {
                Dialect::Mysql
            } else {
                Dialect::Postgres
            };
            let names = databases_in(text);
            assert_eq!(names.len(), 1, "{} on {label}:\n{text}", r.file);
            seen.push((dialect, names[0].clone()));
        }
    }
    // Three specs on PostgreSQL only, the TOML file on both.
    assert_eq!(seen.len(), 5, "{seen:?}");
    let mut names: Vec<&String> = seen.iter().map(|(_, n)| n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 5, "a database was used twice: {seen:?}");
    for (dialect, name) in &seen {
        assert!(
            !common::database_exists(*dialect, name).await,
            "{name} is left on {dialect}"
        );
    }
}

/// The library's one-file entry point drops its database before it returns.
#[tokio::test]
async fn one_file_through_the_library_leaves_nothing() {
    let plan = keyrace::interleave::parse(Path::new("one.spec"), &leaving_spec("one_insert"))
        .unwrap_or_else(|d| panic!("{d}"));
    let report = keyrace::interleave::run(
        &plan,
        &common::interleave_targets(&[Dialect::Postgres]),
        CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("cannot run (is the server up? CI starts it): {e}"));
    let text = report.render_text("postgres");
    let names = databases_in(&text);
    assert_eq!(names.len(), 1, "{text}");
    assert!(
        !common::database_exists(Dialect::Postgres, &names[0]).await,
        "{} is left",
        names[0]
    );
}
