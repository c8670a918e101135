//! One worker's HTTP/1.1 keep-alive connection, written and read by the worker's own task
//! (no connection task, no channel between them): opened on first use, opened again after a
//! failure, a timeout, or a response that closes it. The per-request timeout is one timer
//! per connection, moved forward for each request ([`Limit`]).

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::request::Request;
use super::response::ResponseReader;
use super::{Base, Endpoint, classify, failure};
use crate::race::Op;
use crate::race::limit::Limit;
use crate::vocab::{DbError, Outcome};

/// One worker's connection to the application, for one endpoint.
pub struct HttpConn {
    ep: Arc<Endpoint>,
    request: Request,
    link: Link,
    limit: Limit,
}

/// The socket and the buffers reused from request to request.
struct Link {
    /// `host:port`.
    authority: String,
    stream: Option<TcpStream>,
    /// The rendered request.
    out: Vec<u8>,
    /// The rendered body (scratch).
    body: Vec<u8>,
    reader: ResponseReader,
    /// A request was sent and its response not read to the end: set if that call was
    /// dropped half-way, so the next one does not read the stale response.
    busy: bool,
}

impl HttpConn {
    /// A connection to `base` for `ep`'s requests (not opened yet).
    pub fn new(base: &Base, ep: Arc<Endpoint>) -> HttpConn {
        HttpConn {
            request: Request::new(base, &ep),
            ep,
            link: Link {
                authority: base.authority.clone(),
                stream: None,
                out: Vec::new(),
                body: Vec::new(),
                reader: ResponseReader::default(),
                busy: false,
            },
            limit: Limit::default(),
        }
    }

    /// Sends the endpoint's request for `op` and maps the response, all (connecting
    /// included) within the endpoint's timeout.
    ///
    /// Errors: the outcome class of an error status, an unmapped status (`other`), a
    /// timeout or a connection failure, with the status or failure as code and the start of
    /// the body or the failure as message.
    pub async fn call(&mut self, op: &Op) -> Result<Outcome, DbError> {
        let limit = self.ep.timeout;
        let exchange = self.link.exchange(&self.request, &self.ep, op);
        let done = self.limit.run(limit, exchange).await;
        done.unwrap_or_else(|| {
            // The answer may still come on this connection: start a fresh one.
            self.link.close();
            Err(failure(
                Outcome::Timeout,
                "timeout",
                format!("no response within {} ms", limit.as_millis()),
            ))
        })
    }
}

impl Link {
    fn close(&mut self) {
        self.stream = None;
        self.busy = false;
    }

    async fn exchange(
        &mut self,
        request: &Request,
        ep: &Endpoint,
        op: &Op,
    ) -> Result<Outcome, DbError> {
        let bytes = request.bytes(op, &mut self.out, &mut self.body)?;
        let reuse = match &self.stream {
            Some(s) if !self.busy => !poll_fn(|cx| Poll::Ready(closed_while_idle(s, cx))).await,
            _ => false,
        };
        if !reuse {
            self.stream = Some(connect(&self.authority).await?);
        }
        let (stream, reader) = (self.stream.as_mut().expect("opened"), &mut self.reader);
        self.busy = true;
        let read = async move {
            stream.write_all(bytes).await?;
            reader.read(stream, request.head_only()).await
        }
        .await;
        self.busy = false;
        match read {
            Ok(response) => {
                if !response.keep_alive {
                    self.stream = None;
                }
                classify(ep, response.status, response.body)
            }
            Err(e) => {
                self.stream = None;
                Err(failure(Outcome::ConnectionError, "http", e.to_string()))
            }
        }
    }
}

/// True when the server closed an idle keep-alive connection (or sent bytes nobody asked
/// for): only then is the socket readable between requests. No system call unless it is.
fn closed_while_idle(s: &TcpStream, cx: &mut Context<'_>) -> bool {
    match s.poll_read_ready(cx) {
        Poll::Pending => false,
        Poll::Ready(Err(_)) => true,
        Poll::Ready(Ok(())) => !matches!(
            s.try_read(&mut [0u8; 1]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        ),
    }
}

/// Opens a connection to `authority` (`host:port`), Nagle's algorithm off.
///
/// Errors: `connection_error` with code `refused` when nothing listens there, else
/// `connect`, the message naming the address.
async fn connect(authority: &str) -> Result<TcpStream, DbError> {
    let stream = TcpStream::connect(authority).await.map_err(|e| {
        let code = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "refused",
            _ => "connect",
        };
        failure(
            Outcome::ConnectionError,
            code,
            format!("connecting to {authority}: {e}"),
        )
    })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

#[cfg(test)]
mod tests;
