//! Reading one HTTP/1.1 response from a keep-alive connection: the head parsed by
//! `httparse`, the body framed by `Content-Length`, chunked transfer coding or the end of
//! the connection, interim `1xx` responses skipped, and whether the connection can carry
//! the next request. One buffer, reused from response to response.

use std::mem::MaybeUninit;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The most header lines a response may have.
const MAX_HEADERS: usize = 100;
/// The largest response head (status line and headers), bytes.
const MAX_HEAD: usize = 64 * 1024;
/// The read buffer's starting size, bytes.
const START_SIZE: usize = 8 * 1024;

/// Why a response could not be read; the connection is unusable after any of them.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before the response was complete.
    #[error("connection closed before the response was complete")]
    Closed,
    /// The bytes are not an HTTP/1.x response.
    #[error("invalid response: {0}")]
    Invalid(String),
}

/// One response: its status, its body (de-chunked) and whether the connection stays open.
#[derive(Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: &'a [u8],
    /// False when the server closes the connection after it (`Connection: close`,
    /// HTTP/1.0 without keep-alive, a body delimited by the close, more bytes than asked).
    pub keep_alive: bool,
}

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    Close,
}

/// What the reader needs of a parsed head (the parse borrows the buffer).
#[derive(Debug)]
struct Head {
    status: u16,
    /// Bytes of the head, blank line included.
    len: usize,
    framing: Framing,
    keep_alive: bool,
}

/// Reads responses from one connection into one reused buffer.
#[derive(Debug)]
pub struct ResponseReader {
    buf: Vec<u8>,
    /// `buf[start..end]` is read and not yet consumed.
    start: usize,
    end: usize,
    /// The body of a chunked response, de-chunked.
    chunked: Vec<u8>,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader::with_capacity(START_SIZE)
    }
}

impl ResponseReader {
    /// A reader whose buffer starts at `size` bytes (it grows as responses need).
    pub fn with_capacity(size: usize) -> ResponseReader {
        ResponseReader {
            buf: vec![0; size.max(1)],
            start: 0,
            end: 0,
            chunked: Vec::new(),
        }
    }

    /// Reads the response to the request just sent on `s` (a fresh connection's bytes, or
    /// what follows the previous complete response on the same one). `head_only`: the
    /// request was `HEAD`, so the response has no body whatever its headers say.
    ///
    /// Errors: [`ReadError`]; the connection must then be closed.
    pub async fn read<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        head_only: bool,
    ) -> Result<Response<'_>, ReadError> {
        self.start = 0;
        self.end = 0;
        let head = loop {
            let head = self.read_head(s).await?;
            self.start += head.len;
            // Interim responses (100 Continue, 103 Early Hints) precede the real one.
            if !(100..200).contains(&head.status) || head.status == 101 {
                break head;
            }
        };
        let no_body = head_only || matches!(head.status, 101 | 204 | 304);
        let framing = if no_body {
            Framing::Length(0)
        } else {
            head.framing
        };
        let mut keep_alive = head.keep_alive && head.status != 101;
        let body = match framing {
            Framing::Length(n) => {
                let n = usize::try_from(n)
                    .map_err(|_| ReadError::Invalid(format!("content-length {n} too large")))?;
                while self.end - self.start < n {
                    self.fill(s, n - (self.end - self.start)).await?;
                }
                let at = self.start;
                self.start += n;
                at..self.start
            }
            Framing::Chunked => {
                self.read_chunks(s).await?;
                0..0
            }
            Framing::Close => {
                keep_alive = false;
                while self.fill_or_eof(s, 0).await? > 0 {}
                let at = self.start;
                self.start = self.end;
                at..self.end
            }
        };
        // Bytes nobody asked for: the connection's state is unknown.
        keep_alive &= self.start == self.end;
        let body = match framing {
            Framing::Chunked => &self.chunked[..],
            _ => &self.buf[body],
        };
        Ok(Response {
            status: head.status,
            body,
            keep_alive,
        })
    }

    /// Reads until `buf[start..]` holds a complete head; parses it.
    async fn read_head<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> Result<Head, ReadError> {
        loop {
            if let Some(head) = parse_head(&self.buf[self.start..self.end])? {
                return Ok(head);
            }
            if self.end - self.start >= MAX_HEAD {
                return Err(ReadError::Invalid(format!(
                    "response head longer than {MAX_HEAD} bytes"
                )));
            }
            self.fill(s, 0).await?;
        }
    }

    /// Decodes a chunked body into `self.chunked`, trailers skipped.
    async fn read_chunks<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> Result<(), ReadError> {
        self.chunked.clear();
        loop {
            let (used, size) = loop {
                match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete(x)) => break x,
                    Ok(httparse::Status::Partial) => self.fill(s, 0).await?,
                    Err(_) => return Err(ReadError::Invalid("invalid chunk size line".into())),
                }
            };
            self.start += used;
            if size == 0 {
                return self.skip_trailers(s).await;
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|n| n.checked_add(2).is_some())
                .ok_or_else(|| ReadError::Invalid(format!("chunk of {size} bytes")))?;
            while self.end - self.start < size + 2 {
                self.fill(s, size + 2 - (self.end - self.start)).await?;
            }
            let data = &self.buf[self.start..self.start + size + 2];
            if !data.ends_with(b"\r\n") {
                return Err(ReadError::Invalid("chunk not ended by CRLF".into()));
            }
            self.chunked.extend_from_slice(&data[..size]);
            self.start += size + 2;
        }
    }

    /// Skips the trailer section after the last chunk, up to its blank line.
    async fn skip_trailers<S: AsyncRead + Unpin>(&mut self, s: &mut S) -> Result<(), ReadError> {
        loop {
            let pending = &self.buf[self.start..self.end];
            match pending.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.start += 2;
                    return Ok(());
                }
                Some(i) => self.start += i + 2,
                None if pending.len() >= MAX_HEAD => {
                    return Err(ReadError::Invalid("trailers too long".into()));
                }
                None => self.fill(s, 0).await?,
            }
        }
    }

    /// Reads more bytes (at least one); the end of the connection is an error.
    async fn fill<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        want: usize,
    ) -> Result<(), ReadError> {
        match self.fill_or_eof(s, want).await? {
            0 => Err(ReadError::Closed),
            _ => Ok(()),
        }
    }

    /// Reads more bytes after `end`, making room for at least `want` more (compacting the
    /// consumed start away, else growing); 0 at the end of the connection.
    async fn fill_or_eof<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        want: usize,
    ) -> Result<usize, ReadError> {
        let want = want.max(1);
        if self.buf.len() - self.end < want {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < want {
                let size = (self.end + want).max(self.buf.len() * 2);
                self.buf.resize(size, 0);
            }
        }
        let n = s.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

/// Parses a response head from the start of `bytes`: `None` when incomplete.
///
/// Errors: not an HTTP/1.x response head, or a Content-Length that is not one number.
fn parse_head(bytes: &[u8]) -> Result<Option<Head>, ReadError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut r,
        bytes,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ReadError::Invalid(e.to_string())),
    };
    let status = r.code.unwrap_or_default();
    // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told not to.
    let mut keep_alive = r.version == Some(1);
    let mut length: Option<u64> = None;
    let mut chunked = None;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| length.is_none_or(|l| l == *n))
                .ok_or_else(|| {
                    ReadError::Invalid(format!(
                        "content-length `{}`",
                        String::from_utf8_lossy(h.value)
                    ))
                })?;
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the last coding frames the message.
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && r.version == Some(0) {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = match (chunked, length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::Close,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Close,
    };
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests;
