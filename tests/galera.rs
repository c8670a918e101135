//! A throwaway MariaDB Galera cluster (`--mysql galera:N`) against the real packages: it
//! forms, a certification conflict across nodes fails at COMMIT with 1213 (classified as a
//! deadlock), stress workers are spread over every node, and nothing is left behind after a
//! normal stop or after SIGKILL of keyrace followed by `keyrace reap`.
//!
//! Needs the Debian packages mariadb-server, galera-4 and rsync (CI installs them); a missing
//! one fails the test with its name.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyrace::app;
use keyrace::db::{Conn, Dialect, galera};
use keyrace::interleave;
use keyrace::provision::{self, SERVERS_DIR_ENV, Server, ServerSpec};
use tokio_util::sync::CancellationToken;

/// One cluster at a time: three nodes and their state transfers load a 2-core machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Fails loudly, naming the packages, when the cluster cannot be started here.
fn require_galera() {
    if let Err(missing) = provision::find_galera_binaries() {
        panic!(
            "cannot start a galera cluster: missing {missing}; install the Debian packages mariadb-server {} (CI's .ci/run does)",
            provision::GALERA_PACKAGES
        );
    }
}

async fn start(nodes: u8) -> Server {
    require_galera();
    let spec = ServerSpec::parse(Dialect::Mysql, &format!("galera:{nodes}")).unwrap();
    let server = provision::start(Dialect::Mysql, &spec)
        .await
        .unwrap_or_else(|e| panic!("galera:{nodes} did not start: {e}"));
    eprintln!("galera:{nodes} formed in {} ms", server.startup_ms.unwrap());
    server
}

/// `wsrep_local_commits` of every node: transactions that node committed for its own clients.
async fn local_commits(nodes: &[String]) -> Vec<u64> {
    let mut v = Vec::new();
    for url in nodes {
        let mut c = Conn::connect(Dialect::Mysql, url).await.unwrap();
        let n = c
            .scalar_text(
                "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_COMMITS'",
            )
            .await
            .unwrap()
            .unwrap();
        v.push(n.parse().unwrap());
        c.close().await;
    }
    v
}

/// The client port of a node URL.
fn port_of(url: &str) -> u16 {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    authority.rsplit_once(':').unwrap().1.parse().unwrap()
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        .is_ok()
}

/// Nothing of the cluster remains: no process names its directory, no node port answers,
/// the directory is gone.
fn assert_gone(dir: &Path, nodes: &[String]) {
    let left = provision::processes_referencing(dir);
    assert!(
        left.is_empty(),
        "processes still run from {}: {left:?}",
        dir.display()
    );
    for url in nodes {
        let port = port_of(url);
        assert!(
            !port_open(port),
            "node port {port} still accepts connections"
        );
    }
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_forms_conflicts_at_commit_spreads_workers_and_stops_clean() {
    let _serial = SERIAL.lock().await;
    let server = start(3).await;
    assert_eq!(server.nodes.len(), 3);
    assert_eq!(server.nodes[0], server.url);
    assert_eq!(server.label(), "mysql galera:3");
    for (i, url) in server.nodes.iter().enumerate() {
        let mut c = Conn::connect(Dialect::Mysql, url).await.unwrap();
        assert_eq!(
            galera::cluster_size(&mut c).await,
            Some(3),
            "node {}",
            i + 1
        );
        let name = c.scalar_text("SELECT @@wsrep_node_name").await.unwrap();
        assert_eq!(name, Some(format!("node{}", i + 1)));
        c.close().await;
    }

    // The teaching interleaving: 1213 at COMMIT across nodes, 1062 after a wait on one node.
    let path = repo("scenarios/interleave/galera-certification.toml");
    let plan = interleave::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut target = interleave::Target::new(Dialect::Mysql, "galera", server.url.clone());
    target.nodes = server.nodes.clone();
    let report = interleave::run(&plan, &[target], CancellationToken::new())
        .await
        .unwrap();
    let text = report.targets[0].render_text();
    eprintln!("{text}");
    assert!(
        text.contains("step s2_commit: COMMIT\nERROR: deadlock 1213"),
        "no certification conflict at s2's COMMIT:\n{text}"
    );
    assert!(
        text.contains("<waiting ...>") && text.contains("ERROR: unique_violation 1062"),
        "the same-node permutation did not wait and fail with 1062:\n{text}"
    );
    let expected = std::fs::read_to_string(repo(
        "scenarios/interleave/expected/galera-certification.mysql.out",
    ))
    .unwrap();
    assert_eq!(text, expected, "output differs from the expected file");
    // The same scenario on a single server is skipped, naming the node it needs.
    let single = interleave::Target::new(Dialect::Mysql, "one", server.url.clone());
    let skipped = interleave::run(&plan, &[single], CancellationToken::new())
        .await
        .unwrap();
    let why = skipped.targets[0].skipped.clone().unwrap_or_default();
    assert!(why.contains("node 2"), "{why}");

    // The stress scenario: workers round-robin over the nodes, conflicts classified.
    let before = local_commits(&server.nodes).await;
    let scenario = keyrace::scenario::load(&repo("scenarios/galera-across-nodes.toml"))
        .unwrap_or_else(|d| panic!("{d}"));
    let mut s = app::connect_server(Dialect::Mysql, &server.url, "galera:3", server.startup_ms)
        .await
        .unwrap();
    s.target.nodes = server.nodes.clone();
    let out = tempfile::tempdir().unwrap();
    let args = keyrace::options::RunOptions::quiet(out.path());
    let report = app::run_plans(&[scenario], &[s], &args, vec![], &CancellationToken::new()).await;
    let after = local_commits(&server.nodes).await;
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(
            a > b,
            "node {} committed nothing for its own clients ({b} → {a}): workers were not spread",
            i + 1
        );
    }
    let sc = &report.scenarios[0];
    assert!(sc.error.is_none(), "{:?}", sc.error);
    let cti = sc
        .results
        .iter()
        .find(|r| r.strategy == "check-then-insert")
        .unwrap();
    eprintln!("check-then-insert across 3 nodes: {:?}", cti.outcomes);
    assert!(
        cti.outcomes.deadlock > 0,
        "no certification conflict (1213, counted as deadlock) across nodes: {:?}",
        cti.outcomes
    );
    let failed: Vec<_> = sc
        .results
        .iter()
        .flat_map(|r| r.expectations.iter().map(move |c| (&r.strategy, c)))
        .filter(|(_, c)| !c.held)
        .collect();
    assert!(report.all_held(), "expectations failed: {failed:#?}");

    let dir = server.dir.clone().unwrap();
    let nodes = server.nodes.clone();
    server.stop().await.unwrap();
    assert_gone(&dir, &nodes);
}

#[test]
fn sigkill_of_keyrace_then_reap_removes_every_node() {
    let _serial = SERIAL.blocking_lock();
    require_galera();
    let tmp = tempfile::tempdir().unwrap();
    // The nodes run as `mysql` when the test runs as root: they must traverse to their data.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let root = tmp.path().join("servers");
    let keyrace = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyrace"));
        c.env(SERVERS_DIR_ENV, &root)
            .env_remove("KEYRACE_POSTGRES_URL")
            .env_remove("KEYRACE_MYSQL_URL")
            .current_dir(tmp.path())
            .args(args);
        c
    };
    let log_path = tmp.path().join("keyrace.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let out = tmp.path().join("results");
    let mut child = keyrace(&[
        "run",
        "--mysql",
        "galera:2",
        "--duration",
        "600s",
        "--quiet",
        "--no-html",
        "--out",
        out.to_str().unwrap(),
        repo("scenarios/galera-across-nodes.toml").to_str().unwrap(),
    ])
    .stdin(Stdio::null())
    .stdout(log.try_clone().unwrap())
    .stderr(log)
    .process_group(0)
    .spawn()
    .unwrap();

    // Wait until both nodes are synced (node 2's log says so) and the run has begun.
    let deadline = Instant::now() + Duration::from_secs(180);
    let dir = loop {
        let synced = std::fs::read_dir(&root).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|d| {
                std::fs::read_to_string(d.join("node2/server.log"))
                    .is_ok_and(|l| l.contains("Synchronized with group"))
            })
        });
        if let Some(d) = synced {
            break d;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "keyrace exited ({status}) before the cluster formed:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "cluster not formed in 180 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_secs(3));
    let running = provision::processes_referencing(&dir);
    assert!(
        running.len() >= 2,
        "expected two node processes, found {running:?}"
    );

    // SIGKILL: nothing is cleaned up now; the nodes keep running in their own sessions.
    // SAFETY: kill(2) on the pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    assert!(dir.exists());
    for pid in &running {
        assert!(provision::pid_alive(*pid), "node {pid} died with keyrace");
    }

    let reap = keyrace(&["reap"]).output().unwrap();
    let said =
        String::from_utf8_lossy(&reap.stdout).into_owned() + &String::from_utf8_lossy(&reap.stderr);
    assert!(reap.status.success(), "keyrace reap failed:\n{said}");
    let left = provision::processes_referencing(&dir);
    assert!(
        left.is_empty(),
        "processes still run from {}: {left:?}\n{said}",
        dir.display()
    );
    for pid in &running {
        assert!(
            !provision::pid_alive(*pid),
            "node {pid} survived the reaper"
        );
    }
    assert!(!dir.exists(), "{} still exists\n{said}", dir.display());
}

#[test]
fn sessions_can_be_pinned_to_nodes() {
    let toml = |node: &str| {
        format!(
            "[[session]]\nname = \"a\"\n{node}\n[[session.step]]\nname = \"a1\"\nsql = \"SELECT 1\"\n\
             [[session]]\nname = \"b\"\n[[session.step]]\nname = \"b1\"\nsql = \"SELECT 1\"\n"
        )
    };
    let plan = interleave::parse(Path::new("x.toml"), &toml("node = 3")).unwrap();
    assert_eq!(plan.sessions[0].node, 3);
    assert_eq!(plan.sessions[1].node, 1);
    assert_eq!(plan.max_node(), 3);
    assert!(plan.nodes_reason(3).is_none());
    assert!(plan.nodes_reason(0).unwrap().contains("node 3"));
    for bad in ["node = 0", "node = 10", "node = \"2\"", "node = -1"] {
        let e = interleave::parse(Path::new("x.toml"), &toml(bad)).unwrap_err();
        assert!(e.to_string().contains("`node` must be"), "{bad}: {e}");
    }
}
