//! A scripted HTTP server on a real local TCP listener, for the driver's tests: each
//! accepted connection plays its script of steps (read a request, answer bytes, possibly
//! in small pieces with pauses, wait, close).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One step of a connection's script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Reads one request (up to its blank line, plus `content-length` bytes of body).
    Read,
    /// Writes the bytes in pieces of this many bytes, 1 ms apart.
    Write(Vec<u8>, usize),
    /// Pauses.
    Wait(Duration),
}

/// A request and then a whole response.
pub fn answer(response: &str) -> [Step; 2] {
    [
        Step::Read,
        Step::Write(response.as_bytes().to_vec(), usize::MAX),
    ]
}

/// A running scripted server.
pub struct Scripted {
    /// Where it listens.
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The requests read so far, in order, as text.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves `scripts[i]` on the i-th accepted connection, then closes it.
pub async fn serve(scripts: Vec<Vec<Step>>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = Scripted {
        addr: listener.local_addr().expect("address"),
        accepted: Arc::new(AtomicUsize::new(0)),
        requests: Arc::new(Mutex::new(Vec::new())),
    };
    let (count, requests) = (server.accepted.clone(), server.requests.clone());
    tokio::spawn(async move {
        for script in scripts {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let _ = s.set_nodelay(true);
            let requests = requests.clone();
            tokio::spawn(async move { play(&mut s, script, &requests).await });
        }
    });
    server
}

async fn play(s: &mut TcpStream, script: Vec<Step>, requests: &Mutex<Vec<String>>) {
    let mut pending = Vec::new();
    for step in script {
        match step {
            Step::Read => match read_request(s, &mut pending).await {
                Some(r) => requests
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&r).into_owned()),
                None => return,
            },
            Step::Write(bytes, piece) => {
                for part in bytes.chunks(piece.max(1)) {
                    if s.write_all(part).await.is_err() {
                        return;
                    }
                    if piece < bytes.len() {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            Step::Wait(d) => tokio::time::sleep(d).await,
        }
    }
}

/// Reads one request from `s` (bytes beyond it stay in `pending`); `None` at the end.
async fn read_request(s: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..i]).to_ascii_lowercase();
            let body = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if pending.len() >= i + 4 + body {
                return Some(pending.drain(..i + 4 + body).collect());
            }
        }
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}
