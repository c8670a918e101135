//! Throwaway servers in containers through testcontainers (postgres, mysql and mariadb
//! modules), and the cheap "does a Docker engine answer?" check behind `auto`.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use testcontainers::core::IntoContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt};
use testcontainers_modules::{mariadb::Mariadb, mysql::Mysql, postgres::Postgres};

use crate::db::{Conn, Dialect, redact_url};

use super::lifecycle::{DockerContainer, Handle, Resource};
use super::local::READY_DEADLINE;
use super::local_mysql::MYSQL_MAX_CONNECTIONS;
use super::local_pg::PG_MAX_CONNECTIONS;
use super::{Provider, ProvisionError, Server};

/// How long the engine ping may take before `auto` moves on to local binaries.
pub const PING_TIMEOUT: Duration = Duration::from_millis(500);

/// How long pulling an image and starting a container may take.
const CONTAINER_STARTUP_TIMEOUT: Duration = Duration::from_secs(300);

/// The label put on every container keyrace starts; its value is keyrace's pid.
pub const OWNER_LABEL: &str = "keyrace.owner.pid";
/// Label with the owner's start time (clock ticks since boot), to recognise a reused pid.
pub const OWNER_START_LABEL: &str = "keyrace.owner.start";
/// Label with the owner's host name: only containers started from this host are reaped.
pub const OWNER_HOST_LABEL: &str = "keyrace.owner.host";

/// This machine's host name (`/proc/sys/kernel/hostname`), empty when unknown.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Removes containers labelled by a keyrace on this host whose process is gone (through the
/// `docker` CLI; nothing happens when no engine answers or the CLI is missing). Returns the
/// removed container ids and the problems met.
pub(crate) fn reap_containers(
    owner_alive: impl Fn(i32, Option<u64>) -> bool,
) -> (Vec<String>, Vec<String>) {
    let (mut removed, mut errors) = (Vec::new(), Vec::new());
    if docker_ping().is_err() {
        return (removed, errors);
    }
    let Some(docker) = super::local::find_binary("docker") else {
        return (removed, errors);
    };
    let format = format!(
        "{{{{.ID}}}}\t{{{{.Label \"{OWNER_LABEL}\"}}}}\t{{{{.Label \"{OWNER_START_LABEL}\"}}}}\t{{{{.Label \"{OWNER_HOST_LABEL}\"}}}}"
    );
    let out = match std::process::Command::new(&docker)
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label={OWNER_LABEL}"),
            "--format",
            &format,
        ])
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            errors.push(format!(
                "docker ps failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            return (removed, errors);
        }
        Err(e) => {
            errors.push(format!("could not run {}: {e}", docker.display()));
            return (removed, errors);
        }
    };
    let me = host_name();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [id, pid, start, host] = f[..] else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        if host != me || owner_alive(pid, start.parse().ok()) {
            continue;
        }
        match std::process::Command::new(&docker)
            .args(["rm", "-f", "-v", id])
            .output()
        {
            Ok(o) if o.status.success() => removed.push(id.to_string()),
            Ok(o) => errors.push(format!(
                "docker rm {id}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => errors.push(format!("could not run {}: {e}", docker.display())),
        }
    }
    (removed, errors)
}

/// Where the Docker engine is expected: `$DOCKER_HOST` (`unix://PATH` or `tcp://HOST:PORT`),
/// else `unix:///var/run/docker.sock` (the same order testcontainers follows).
pub fn docker_endpoint() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => h,
        _ => "unix:///var/run/docker.sock".to_string(),
    }
}

/// Asks the engine at [`docker_endpoint`] for `GET /_ping` and expects HTTP 200, within
/// [`PING_TIMEOUT`] for each of connect, write and read. With `DOCKER_TLS_VERIFY` set only the
/// TCP connection is checked (keyrace speaks no TLS here; testcontainers does).
///
/// Errors: [`ProvisionError::DockerUnavailable`] naming the endpoint and the reason.
pub fn docker_ping() -> Result<(), ProvisionError> {
    let endpoint = docker_endpoint();
    let unavailable = |reason: String| ProvisionError::DockerUnavailable {
        endpoint: endpoint.clone(),
        reason,
    };
    let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let mut response = Vec::new();
    if let Some(path) = endpoint.strip_prefix("unix://") {
        let mut s = std::os::unix::net::UnixStream::connect(path)
            .map_err(|e| unavailable(e.to_string()))?;
        s.set_read_timeout(Some(PING_TIMEOUT))
            .map_err(|e| unavailable(e.to_string()))?;
        s.set_write_timeout(Some(PING_TIMEOUT))
            .map_err(|e| unavailable(e.to_string()))?;
        s.write_all(request)
            .map_err(|e| unavailable(e.to_string()))?;
        s.take(4096)
            .read_to_end(&mut response)
            .map_err(|e| unavailable(e.to_string()))?;
    } else if let Some(addr) = endpoint.strip_prefix("tcp://") {
        use std::net::ToSocketAddrs;
        let addr = addr.trim_end_matches('/');
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| unavailable(e.to_string()))?
            .next()
            .ok_or_else(|| unavailable("the address does not resolve".into()))?;
        let mut s = std::net::TcpStream::connect_timeout(&sock, PING_TIMEOUT)
            .map_err(|e| unavailable(e.to_string()))?;
        if std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty()) {
            return Ok(());
        }
        s.set_read_timeout(Some(PING_TIMEOUT))
            .map_err(|e| unavailable(e.to_string()))?;
        s.set_write_timeout(Some(PING_TIMEOUT))
            .map_err(|e| unavailable(e.to_string()))?;
        s.write_all(request)
            .map_err(|e| unavailable(e.to_string()))?;
        s.take(4096)
            .read_to_end(&mut response)
            .map_err(|e| unavailable(e.to_string()))?;
    } else {
        return Err(unavailable(
            "unsupported DOCKER_HOST scheme (expected unix:// or tcp://)".into(),
        ));
    }
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or("");
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(unavailable(format!(
            "unexpected answer to GET /_ping: {status_line:?}"
        )))
    }
}

/// Starts `image:tag` and waits until a real connection succeeds through 127.0.0.1 and the
/// mapped port.
///
/// PostgreSQL images use the postgres module with fsync left on (the module turns it off by
/// default; results must be representative) and `max_connections` =
/// [`PG_MAX_CONNECTIONS`]; images whose name ends in `mariadb` use the mariadb module, other
/// MySQL-dialect images the mysql module, both with `max_connections` =
/// [`MYSQL_MAX_CONNECTIONS`] and root without a password.
pub(crate) async fn start(
    dialect: Dialect,
    image: &str,
    tag: &str,
) -> Result<Server, ProvisionError> {
    let t0 = Instant::now();
    let image_tag = format!("{image}:{tag}");
    let owner = std::process::id().to_string();
    let owner_start = super::procs::start_time(std::process::id() as i32)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let host = host_name();
    let docker_err = |source| ProvisionError::Docker {
        image: image_tag.clone(),
        source,
    };
    let (handle, port, url) = match dialect {
        Dialect::Postgres => {
            let req = Postgres::default()
                .with_fsync_enabled()
                .with_name(image)
                .with_tag(tag)
                .with_cmd([
                    "-c".to_string(),
                    format!("max_connections={PG_MAX_CONNECTIONS}"),
                ])
                .with_label(OWNER_LABEL, &owner)
                .with_label(OWNER_START_LABEL, &owner_start)
                .with_label(OWNER_HOST_LABEL, &host)
                .with_startup_timeout(CONTAINER_STARTUP_TIMEOUT);
            let c = req.start().await.map_err(docker_err)?;
            let (handle, port) = register(c, 5432, &image_tag).await.map_err(docker_err)?;
            (
                handle,
                port,
                format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres"),
            )
        }
        Dialect::Mysql => {
            let cmd = [format!("--max-connections={MYSQL_MAX_CONNECTIONS}")];
            let (handle, port) = if image
                .rsplit('/')
                .next()
                .is_some_and(|n| n.ends_with("mariadb"))
            {
                let req = Mariadb::default()
                    .with_name(image)
                    .with_tag(tag)
                    .with_cmd(cmd)
                    .with_label(OWNER_LABEL, &owner)
                    .with_label(OWNER_START_LABEL, &owner_start)
                    .with_label(OWNER_HOST_LABEL, &host)
                    .with_startup_timeout(CONTAINER_STARTUP_TIMEOUT);
                let c = req.start().await.map_err(docker_err)?;
                register(c, 3306, &image_tag).await.map_err(docker_err)?
            } else {
                let req = Mysql::default()
                    .with_name(image)
                    .with_tag(tag)
                    .with_cmd(cmd)
                    .with_label(OWNER_LABEL, &owner)
                    .with_label(OWNER_START_LABEL, &owner_start)
                    .with_label(OWNER_HOST_LABEL, &host)
                    .with_startup_timeout(CONTAINER_STARTUP_TIMEOUT);
                let c = req.start().await.map_err(docker_err)?;
                register(c, 3306, &image_tag).await.map_err(docker_err)?
            };
            (handle, port, format!("mysql://root@127.0.0.1:{port}/mysql"))
        }
    };
    wait_connectable(dialect, &url, &image_tag).await?;
    let startup_ms = t0.elapsed().as_millis() as u64;
    tracing::info!(image = %image_tag, port, startup_ms, "started a {dialect} container");
    Ok(Server {
        dialect,
        provider: Provider::Docker,
        url,
        host: "127.0.0.1".into(),
        port,
        startup_ms: Some(startup_ms),
        image: Some(image_tag),
        dir: None,
        pid: None,
        nodes: Vec::new(),
        node_handles: Vec::new(),
        handle: Some(handle),
    })
}

/// Registers the container for stopping (from here on a failure removes it) and reads the
/// host port mapped to `internal_port`.
async fn register<I: Image + 'static>(
    c: ContainerAsync<I>,
    internal_port: u16,
    image_tag: &str,
) -> Result<(Handle, u16), testcontainers::TestcontainersError> {
    let port = c.get_host_port_ipv4(internal_port.tcp()).await;
    let id = c.id().to_string();
    let handle = Handle::register(Resource::Docker(DockerContainer {
        id,
        image: image_tag.to_string(),
        container: Box::new(c),
    }));
    Ok((handle, port?))
}

/// Polls a connection until it succeeds: images log "ready" before the server accepts
/// TCP connections on some versions (the MySQL image restarts mysqld after initialization).
async fn wait_connectable(
    dialect: Dialect,
    url: &str,
    image_tag: &str,
) -> Result<(), ProvisionError> {
    let start = Instant::now();
    let mut last = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(2), Conn::connect(dialect, url)).await {
            Ok(Ok(c)) => {
                c.close().await;
                return Ok(());
            }
            Ok(Err(e)) => last = Some(e),
            Err(_) => {}
        }
        if start.elapsed() >= READY_DEADLINE {
            return Err(ProvisionError::NotReady {
                dialect,
                url: redact_url(url),
                waited_ms: start.elapsed().as_millis() as u64,
                log: format!("docker logs of {image_tag}").into(),
                source: last,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
