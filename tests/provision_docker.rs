//! Throwaway containers through testcontainers; skipped (with the reason) when no Docker
//! engine answers.

use keyrace::db::{Conn, Dialect};
use keyrace::provision::{self, Provider, ServerSpec};

fn engine() -> bool {
    match provision::docker_ping() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipping: {e}");
            false
        }
    }
}

async fn round_trip(dialect: Dialect, spec: &str, expect_version: &str) {
    let spec = ServerSpec::parse(dialect, spec).unwrap();
    let server = provision::start(dialect, &spec).await.unwrap();
    assert_eq!(server.provider, Provider::Docker);
    assert_eq!(server.host, "127.0.0.1");
    eprintln!(
        "{} started in {} ms",
        server.label(),
        server.startup_ms.unwrap()
    );
    let mut c = Conn::connect(dialect, &server.url).await.unwrap();
    let v = c.scalar_text("SELECT version()").await.unwrap().unwrap();
    assert!(v.contains(expect_version), "{v}");
    c.close().await;
    let port = server.port;
    server.stop().await.unwrap();
    let refused = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(
        refused.is_err(),
        "port {port} still open after the container was removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_container() {
    if engine() {
        round_trip(Dialect::Postgres, "docker:postgres:17", "PostgreSQL 17").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_container() {
    if engine() {
        round_trip(Dialect::Mysql, "docker:mysql:8.4", "8.4").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_container() {
    if engine() {
        round_trip(Dialect::Mysql, "docker:mariadb:11.4", "11.4").await;
    }
}

#[test]
fn ping_failure_names_the_endpoint() {
    if let Err(e) = provision::docker_ping() {
        assert!(e.to_string().contains(&provision::docker_endpoint()), "{e}");
    }
}
