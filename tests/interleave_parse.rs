//! Parsing interleaving files without a server: every `.spec` construct, the TOML format,
//! located errors (snapshots), and that every bundled scenario loads.

use std::path::Path;

use keyrace::db::Dialect;
use keyrace::interleave::{self, Blocker, SourceFormat};

const FULL_SPEC: &str = r#"
# A comment before everything.
setup { CREATE TABLE t (k int PRIMARY KEY); }
setup
{
  INSERT INTO t VALUES (1);
}
teardown { DROP TABLE t; }

session "s1"
setup { SET lock_timeout = '5s'; }
step "s1b" { BEGIN; }
step s1u { UPDATE t SET k = k WHERE k = 1; }   # bare name, trailing comment
step "s1 c" { COMMIT; }
teardown { RESET lock_timeout; }

session s2
step s2b { BEGIN; }
step s2u { UPDATE t SET k = k WHERE k = 1; }
step s2c { COMMIT; }

permutation "s1b" s2b s1u s2u(*) "s1 c" s2c
permutation s1b s1u s2b s2u("s1 c") "s1 c" s2c(s2u, *)
"#;

#[test]
fn spec_reads_every_construct() {
    let plan = interleave::parse(Path::new("full.spec"), FULL_SPEC).expect("valid spec");
    assert_eq!(plan.format, SourceFormat::Spec);
    assert_eq!(plan.name, "full");
    assert_eq!(plan.setup.len(), 2, "two setup blocks");
    // As PostgreSQL's specscanner.l: spaces and tabs after `{` and before `}` go, newlines
    // stay (the isolation tester prints the block so).
    assert_eq!(
        plan.setup[1].for_dialect(Dialect::Postgres),
        Some("\n  INSERT INTO t VALUES (1);\n")
    );
    assert_eq!(plan.teardown.len(), 1);
    assert_eq!(plan.sessions.len(), 2);
    let s1 = &plan.sessions[0];
    assert_eq!(s1.name, "s1");
    assert_eq!(s1.setup[0].any.as_deref(), Some("SET lock_timeout = '5s';"));
    assert_eq!(s1.teardown[0].any.as_deref(), Some("RESET lock_timeout;"));
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s1b", "s1u", "s1 c", "s2b", "s2u", "s2c"]);
    assert_eq!(
        plan.steps[1].sql.any.as_deref(),
        Some("UPDATE t SET k = k WHERE k = 1;")
    );
    assert!(!plan.permutations_generated);
    assert_eq!(plan.permutations.len(), 2);
    let p0 = &plan.permutations[0];
    assert_eq!(p0.steps[3].step, 4);
    assert_eq!(p0.steps[3].blockers, vec![Blocker::Star]);
    let p1 = &plan.permutations[1];
    assert_eq!(p1.steps[3].blockers, vec![Blocker::Step(2)]);
    assert_eq!(p1.steps[5].blockers, vec![Blocker::Step(4), Blocker::Star]);
    assert_eq!(
        plan.permutation_label(p1),
        "s1b s1u s2b s2u(s1 c) s1 c s2c(s2u,*)"
    );
}

#[test]
fn spec_without_permutations_runs_every_interleaving() {
    let spec =
        "session a\nstep a1 { SELECT 1 }\nstep a2 { SELECT 2 }\nsession b\nstep b1 { SELECT 3 }\n";
    let plan = interleave::parse(Path::new("gen.spec"), spec).expect("valid");
    assert!(plan.permutations_generated);
    let labels: Vec<String> = plan
        .permutations
        .iter()
        .map(|p| plan.permutation_label(p))
        .collect();
    assert_eq!(labels, ["a1 a2 b1", "a1 b1 a2", "b1 a1 a2"]);
}

fn spec_error(text: &str) -> String {
    interleave::parse(Path::new("bad.spec"), text)
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn spec_errors_are_located() {
    insta::assert_snapshot!(
        "spec_unknown_step",
        spec_error("session s1\nstep a { SELECT 1 }\npermutation a b\n")
    );
    insta::assert_snapshot!(
        "spec_unterminated_block",
        spec_error("session s1\nstep a { SELECT 1\n")
    );
    insta::assert_snapshot!(
        "spec_missing_block",
        spec_error("session s1\nstep a SELECT 1\n")
    );
    insta::assert_snapshot!(
        "spec_duplicate_step",
        spec_error("session s1\nstep a { SELECT 1 }\nsession s2\nstep a { SELECT 2 }\n")
    );
    insta::assert_snapshot!(
        "spec_bad_marker",
        spec_error("session s1\nstep a { SELECT 1 }\nstep b { SELECT 1 }\npermutation a(b b\n")
    );
    insta::assert_snapshot!("spec_no_steps", spec_error("session s1\npermutation a\n"));
    insta::assert_snapshot!(
        "spec_stray_char",
        spec_error("session s1\nstep a { SELECT 1 }\n@\n")
    );
    insta::assert_snapshot!(
        "spec_unknown_blocker",
        spec_error("session s1\nstep a { SELECT 1 }\npermutation a(zz)\n")
    );
}

#[test]
fn spec_error_points_at_line_and_column() {
    let e = interleave::parse(
        Path::new("x.spec"),
        "session s1\nstep a { SELECT 1 }\npermutation a b\n",
    )
    .expect_err("bad");
    assert_eq!((e.line, e.column), (3, 15));
    assert!(
        e.to_string()
            .starts_with("x.spec:3:15: error: unknown step `b`"),
        "{e}"
    );
}

const TOML_OK: &str = r#"
name = "demo"
setup = ["CREATE TABLE t (k INT PRIMARY KEY)", { postgres = "SELECT 1", mysql = "DO 1" }]
teardown = "DROP TABLE t"
permutations = [["s1_a", "s2_a(s1_b)", "s1_b", "s2_b(*)"]]

[[session]]
name = "s1"
setup = { sql = "SELECT 1" }
[[session.step]]
name = "s1_a"
sql = "BEGIN"
[[session.step]]
name = "s1_b"
postgres = "SELECT now()"
mysql = "SELECT NOW()"

[[session]]
name = "s2"
[[session.step]]
name = "s2_a"
sql = "BEGIN"
[[session.step]]
name = "s2_b"
sql = "COMMIT"
"#;

#[test]
fn toml_reads_sessions_steps_dialect_sql_and_markers() {
    assert!(interleave::is_interleaving_file(
        Path::new("x.toml"),
        TOML_OK
    ));
    assert!(!interleave::is_interleaving_file(
        Path::new("x.toml"),
        "name = \"stress\"\n[workload]\n"
    ));
    assert!(interleave::is_interleaving_file(Path::new("x.spec"), ""));
    let plan = interleave::parse(Path::new("demo.toml"), TOML_OK).expect("valid");
    assert_eq!(plan.name, "demo");
    assert_eq!(plan.dialects, vec![Dialect::Postgres, Dialect::Mysql]);
    assert_eq!(plan.setup.len(), 2);
    assert_eq!(plan.setup[1].for_dialect(Dialect::Mysql), Some("DO 1"));
    assert_eq!(
        plan.steps[1].sql.for_dialect(Dialect::Postgres),
        Some("SELECT now()")
    );
    assert_eq!(
        plan.steps[1].sql.for_dialect(Dialect::Mysql),
        Some("SELECT NOW()")
    );
    let p = &plan.permutations[0];
    assert_eq!(p.steps[1].blockers, vec![Blocker::Step(1)]);
    assert_eq!(p.steps[3].blockers, vec![Blocker::Star]);
}

#[test]
fn toml_infers_dialects_from_sql() {
    let text =
        "[[session]]\nname = \"s\"\n[[session.step]]\nname = \"a\"\npostgres = \"SELECT 1\"\n";
    let plan = interleave::parse(Path::new("pg.toml"), text).expect("valid");
    assert_eq!(plan.dialects, vec![Dialect::Postgres]);
    assert!(plan.unsupported_reason(Dialect::Mysql).is_some());
}

fn toml_error(text: &str) -> String {
    interleave::parse(Path::new("bad.toml"), text)
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn toml_errors_are_located() {
    let step = "[[session]]\nname = \"s1\"\n[[session.step]]\nname = \"a\"\n";
    insta::assert_snapshot!(
        "toml_unknown_key",
        toml_error(&format!("{step}sq = \"BEGIN\"\n"))
    );
    insta::assert_snapshot!("toml_no_sql", toml_error(step));
    insta::assert_snapshot!(
        "toml_unknown_permutation_step",
        toml_error(&format!(
            "permutations = [[\"a\", \"b\"]]\n{step}sql = \"BEGIN\"\n"
        ))
    );
    insta::assert_snapshot!(
        "toml_bad_marker",
        toml_error(&format!(
            "permutations = [[\"a(\"]]\n{step}sql = \"BEGIN\"\n"
        ))
    );
    insta::assert_snapshot!("toml_syntax", toml_error("name = \"x\n"));
    insta::assert_snapshot!(
        "toml_wrong_type",
        toml_error(&format!("setup = 3\n{step}sql = \"BEGIN\"\n"))
    );
    insta::assert_snapshot!(
        "toml_missing_dialect_sql",
        toml_error(&format!(
            "dialects = [\"mysql\"]\n{step}postgres = \"BEGIN\"\n"
        ))
    );
    insta::assert_snapshot!(
        "toml_unknown_dialect",
        toml_error(&format!("dialects = [\"oracle\"]\n{step}sql = \"BEGIN\"\n"))
    );
}

#[test]
fn bundled_scenarios_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/interleave");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/interleave exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "toml" || e == "spec") {
            let text = std::fs::read_to_string(&path).expect("readable");
            assert!(
                text.starts_with('#'),
                "{} must open with a comment on what it teaches",
                path.display()
            );
            assert!(
                interleave::is_interleaving_file(&path, &text),
                "{}",
                path.display()
            );
            let plan = interleave::load(&path).unwrap_or_else(|d| panic!("{d}"));
            assert!(!plan.permutations.is_empty());
            n += 1;
        }
    }
    assert!(
        n >= 6,
        "expected at least 6 bundled interleavings, found {n}"
    );
}

#[test]
fn spec_identifiers_may_hold_dollar_signs_and_non_ascii_letters() {
    let spec =
        "session s1\nstep s1$a { SELECT 1; }\nstep s1_é { SELECT 2; }\npermutation s1$a s1_é\n";
    let plan = interleave::parse(Path::new("dollar.spec"), spec).unwrap_or_else(|d| panic!("{d}"));
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s1$a", "s1_é"]);
}

#[test]
fn a_spec_runs_on_postgresql_unless_it_says_otherwise() {
    use keyrace::db::Dialect;
    let body = "session s1\nstep a { SELECT 1; }\n";
    let plain = interleave::parse(Path::new("p.spec"), body).unwrap();
    assert_eq!(plain.dialects, [Dialect::Postgres]);
    let both = format!("# keyrace: dialects = postgres, mysql\n{body}");
    let both = interleave::parse(Path::new("b.spec"), &both).unwrap();
    assert_eq!(both.dialects, [Dialect::Postgres, Dialect::Mysql]);
}
