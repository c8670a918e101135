//! What one interleaving step prints, against the real servers: each result set on its own
//! (rows before an error kept), zero-row result sets known from the protocol, notices as they
//! arrive, notifications, and the `(step notices N)` marker. The specs are in
//! tests/fixtures/step_output/; the expected texts below were checked against what
//! PostgreSQL 15's isolation tester prints for the same specs (keyrace's own format aside:
//! no blank line after a result, `ERROR: <class> <SQLSTATE>: message`).

mod common;

use std::path::{Path, PathBuf};

use keyrace::db::Dialect;
use keyrace::interleave::{self, InterleaveReport};
use tokio_util::sync::CancellationToken;

fn spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/step_output")
        .join(name)
}

async fn run_file(name: &str, which: &[Dialect], times: usize) -> Vec<InterleaveReport> {
    let plan = interleave::load(&spec(name)).unwrap_or_else(|d| panic!("{d}"));
    interleave::run_repeated(
        &plan,
        &common::interleave_targets(which),
        CancellationToken::new(),
        times,
    )
    .await
    .unwrap_or_else(|e| panic!("cannot run {name} (is the server up? CI starts it): {e}"))
}

async fn run_toml(name: &str, text: &str, which: &[Dialect]) -> InterleaveReport {
    let plan = interleave::parse(Path::new(name), text).unwrap_or_else(|d| panic!("{d}"));
    let mut r = interleave::run_repeated(
        &plan,
        &common::interleave_targets(which),
        CancellationToken::new(),
        1,
    )
    .await
    .unwrap_or_else(|e| panic!("cannot run {name} (is the server up? CI starts it): {e}"));
    r.remove(0)
}

/// Runs `name` on PostgreSQL `times` times, checks every run printed the same, returns it.
async fn pg_text(name: &str, times: usize) -> String {
    let reports = run_file(name, &[Dialect::Postgres], times).await;
    let first = reports[0].render_text("postgres");
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.render_text("postgres"), first, "{name}: run {i} differs");
    }
    first
}

/// Issue 11 item 3: `SELECT 1 AS a; SELECT 2 AS b, 3 AS c` used to print `a / 1 / 2` (the
/// second set merged under the first one's header, `3` lost), and rows before an error in
/// the same step were lost.
#[tokio::test]
async fn each_result_set_is_printed_on_its_own_then_the_error() {
    let text = pg_text("result-sets.spec", 1).await;
    assert_eq!(
        text,
        "starting permutation: two_sets set_then_error\n\
         step two_sets: SELECT 1 AS a; SELECT 2 AS b, 3 AS c;\n\
         a\n-\n1\n(1 row)\n\
         b|c\n-+-\n2|3\n(1 row)\n\
         step set_then_error: SELECT 1 AS a; SELECT 1/0 AS boom;\n\
         a\n-\n1\n(1 row)\n\
         ERROR: other 22012: division by zero\n"
    );
}

/// Issue 11 item 3 on MySQL/MariaDB: a step of several statements keeps each result set.
#[tokio::test]
async fn each_result_set_is_printed_on_its_own_on_mysql() {
    let toml = r#"
permutations = [["two_sets"]]
[[session]]
name = "s1"
[[session.step]]
name = "two_sets"
sql = "SELECT 1 AS a; SELECT 2 AS b, 3 AS c"
"#;
    let r = run_toml("sets.toml", toml, &[Dialect::Mysql]).await;
    let text = r.render_text("mysql");
    assert!(
        text.contains("a\n-\n1\n(1 row)\nb|c\n-+-\n2|3\n(1 row)\n"),
        "{text}"
    );
}

/// Issue 11 item 4: whether a step returns rows comes from the protocol. Zero-row `EXECUTE`,
/// `FETCH` and `(SELECT …)` used to print nothing; `WITH … INSERT` printed a spurious
/// `(0 rows)`, and so did a `DO` block whose body has a `;` followed by `SELECT … INTO`.
#[tokio::test]
async fn zero_row_sets_print_their_header_and_writes_print_nothing() {
    let text = pg_text("row-description.spec", 1).await;
    assert_eq!(
        text,
        "starting permutation: exec_none paren_none fetch_none with_insert do_block\n\
         step exec_none: EXECUTE kr_steps_q;\n\
         id\n--\n(0 rows)\n\
         step paren_none: (SELECT id AS got FROM kr_steps_rd);\n\
         got\n---\n(0 rows)\n\
         step fetch_none: BEGIN; DECLARE kr_steps_c CURSOR FOR SELECT id FROM kr_steps_rd; FETCH kr_steps_c; COMMIT;\n\
         id\n--\n(0 rows)\n\
         step with_insert: WITH src AS (SELECT 7 AS v) INSERT INTO kr_steps_rd SELECT v FROM src WHERE v < 0;\n\
         step do_block: DO $$ DECLARE n int; BEGIN n := 1; SELECT count(*) INTO n FROM kr_steps_rd; END $$;\n"
    );
}

/// Issue 11 item 4 on MySQL/MariaDB: a zero-row `SELECT` and `(SELECT …)` print their header
/// and `(0 rows)` (the server describes the prepared statement's columns; sqlx's stream
/// drops them for an empty set), an `UPDATE` of no row prints nothing.
#[tokio::test]
async fn zero_row_sets_print_their_header_on_mysql() {
    let toml = r#"
setup = "CREATE TABLE kr_steps_my (id int PRIMARY KEY, v int)"
teardown = "DROP TABLE kr_steps_my"
permutations = [["sel", "paren", "upd"]]
[[session]]
name = "s1"
[[session.step]]
name = "sel"
sql = "SELECT id, v FROM kr_steps_my WHERE id = 1"
[[session.step]]
name = "paren"
sql = "(SELECT id AS got FROM kr_steps_my)"
[[session.step]]
name = "upd"
sql = "UPDATE kr_steps_my SET v = 1 WHERE id = 5"
"#;
    let r = run_toml("zero-rows.toml", toml, &[Dialect::Mysql]).await;
    let text = r.render_text("mysql");
    assert!(
        text.contains(
            "step sel: SELECT id, v FROM kr_steps_my WHERE id = 1\nid|v\n--+-\n(0 rows)\n\
             step paren: (SELECT id AS got FROM kr_steps_my)\ngot\n---\n(0 rows)\n\
             step upd: UPDATE kr_steps_my SET v = 1 WHERE id = 5\n"
        ),
        "{text}"
    );
}

/// Issue 11 item 4 on MySQL/MariaDB, several statements in one step: a zero-row set among
/// them prints its header and `(0 rows)` in its place (such a text cannot be prepared as a
/// whole; each statement is described on its own), writes print nothing, and quoted `;`
/// do not split a statement.
#[tokio::test]
async fn zero_row_sets_among_several_statements_print_their_header_on_mysql() {
    let toml = r#"
setup = "CREATE TABLE kr_steps_my2 (id int PRIMARY KEY, v varchar(8))"
teardown = "DROP TABLE kr_steps_my2"
permutations = [["multi"]]
[[session]]
name = "s1"
[[session.step]]
name = "multi"
sql = "SELECT id FROM kr_steps_my2 WHERE v = 'a;b'; UPDATE kr_steps_my2 SET v = 'x' WHERE id = 5; SELECT 2 AS two; (SELECT v AS none FROM kr_steps_my2)"
"#;
    let r = run_toml("zero-rows-multi.toml", toml, &[Dialect::Mysql]).await;
    let text = r.render_text("mysql");
    assert!(
        text.ends_with(
            "FROM kr_steps_my2)\n\
             id\n--\n(0 rows)\n\
             two\n---\n2\n(1 row)\n\
             none\n----\n(0 rows)\n"
        ),
        "{text}"
    );
}

/// Issue 11 item 5: NOTICE (from a trigger) and WARNING (from a step) are printed as they
/// arrive, before the step's line as the isolation tester prints them.
#[tokio::test]
async fn notices_and_warnings_are_printed_as_they_arrive() {
    let text = pg_text("notices.spec", 1).await;
    assert_eq!(
        text,
        "starting permutation: ins warn\n\
         s1: NOTICE:  inserting 5\n\
         step ins: INSERT INTO kr_steps_nt VALUES (5);\n\
         s1: WARNING:  look out\n\
         step warn: DO $$ BEGIN RAISE WARNING 'look out'; END $$;\n"
    );
}

/// Issue 11 item 5: `(step notices N)` used to be rejected by the parser
/// (`expected , or ) after a blocker marker`); it parses, keeps its label, and holds the
/// marked step until that session sent its notice, the same way on every run.
#[tokio::test]
async fn the_notices_marker_is_parsed_and_respected() {
    let text = pg_text("notices-marker.spec", 5).await;
    let want = "starting permutation: s1_lock s3_wait(s2_say notices 1) s2_say s1_unlock\n\
         step s1_lock: SELECT pg_advisory_lock(731101) IS NOT NULL AS locked;\n\
         locked\n------\nt\n(1 row)\n\
         step s3_wait: SELECT pg_advisory_lock(731101) IS NOT NULL AS got; SELECT pg_advisory_unlock(731101) AS released; <waiting ...>\n\
         s2: NOTICE:  waiting now\n\
         step s2_say: DO $$ BEGIN RAISE NOTICE 'waiting now'; PERFORM pg_advisory_lock(731101); PERFORM pg_advisory_unlock(731101); END $$; <waiting ...>\n\
         step s1_unlock: SELECT pg_advisory_unlock(731101) AS unlocked;\n\
         unlocked\n--------\nt\n(1 row)\n\
         step s3_wait: <... completed>\n\
         got\n---\nt\n(1 row)\n\
         released\n--------\nt\n(1 row)\n\
         step s2_say: <... completed>\n";
    assert_eq!(text, want);
}

/// A bad notice count is a located parse error, not a silent `(step)` marker.
#[test]
fn a_notices_marker_needs_a_positive_count() {
    let text = "session s1\nstep a { SELECT 1; }\nsession s2\nstep b { SELECT 2; }\npermutation a(b notices 0) b\n";
    let err = interleave::parse(Path::new("bad.spec"), text)
        .expect_err("a zero count is rejected")
        .to_string();
    assert!(err.contains("positive number of notices"), "{err}");
}

/// Issue 11 item 6: `LISTEN c; NOTIFY c, 'hi'` used to end with `ERROR: connection_error
/// protocol: … unexpected message: NotificationResponse`; the notification is printed after
/// the step's result, naming the session that sent it.
#[tokio::test]
async fn notifications_are_printed_not_an_error() {
    let text = pg_text("notify.spec", 1).await;
    assert_eq!(
        text,
        "starting permutation: listen_notify unlisten\n\
         step listen_notify: LISTEN kr_steps_ch; NOTIFY kr_steps_ch, 'hi';\n\
         s1: NOTIFY \"kr_steps_ch\" with payload \"hi\" from s1\n\
         step unlisten: UNLISTEN *;\n"
    );
}

/// Issue 11 item 5: a step that finished at once but is marked `(s2_after notices 1)` is
/// reported waiting, then completed only after s2's notice, and after s2's step that sent it
/// (the order PostgreSQL's isolation tester prints), on every run.
#[tokio::test]
async fn a_notices_marker_holds_a_finished_step_until_the_notice() {
    let text = pg_text("notices-marker-held.spec", 10).await;
    let want = "starting permutation: s1_lock s2_after s3_quick(s2_after notices 1) s1_unlock\n\
         step s1_lock: SELECT pg_advisory_lock(731102) IS NOT NULL AS locked;\n\
         locked\n------\nt\n(1 row)\n\
         step s2_after: DO $$ BEGIN PERFORM pg_advisory_lock(731102); RAISE NOTICE 'got the lock'; PERFORM pg_advisory_unlock(731102); END $$; <waiting ...>\n\
         step s3_quick: SELECT 3 AS three; <waiting ...>\n\
         step s1_unlock: SELECT pg_advisory_unlock(731102) AS unlocked;\n\
         unlocked\n--------\nt\n(1 row)\n\
         s2: NOTICE:  got the lock\n\
         step s2_after: <... completed>\n\
         step s3_quick: <... completed>\n\
         three\n-----\n3\n(1 row)\n";
    assert_eq!(text, want);
}
