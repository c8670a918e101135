//! The library entry point a user calls from their own `cargo test`.

mod common;

use keyrace::db::Dialect;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_scenario_runs_a_bundled_file_and_its_expectations_hold() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sequence-drift.toml");
    let report = keyrace::app::run_scenario(
        &path,
        Some(&common::url(Dialect::Postgres)),
        Some(&common::url(Dialect::Mysql)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let s = &report.scenarios[0];
    assert_eq!(s.results.len(), 4, "2 strategies x 2 databases");
    let pg = s
        .results
        .iter()
        .find(|r| r.strategy == "insert-after-import" && r.dialect == "postgres")
        .unwrap();
    assert_eq!(
        pg.outcomes.unique_violation, pg.ops,
        "every insert hits the lagging sequence"
    );
    assert!(
        report.all_held(),
        "{:#?}",
        s.results
            .iter()
            .flat_map(|r| &r.expectations)
            .filter(|v| !v.held)
            .collect::<Vec<_>>()
    );
    let err = keyrace::app::run_scenario(&path, None, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no URL"));
}
