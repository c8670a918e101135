//! The `http` application target's driver: one keep-alive HTTP/1.1 connection per worker
//! (hyper), requests rendered from templates per operation, and the response's status mapped
//! to an outcome class; timeouts and refused connections get their own classes.

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::race::Op;
use crate::vocab::{DbError, Outcome};

/// How response statuses become outcome classes: exact codes first (`409`), then classes
/// (`2xx` … `5xx`); a status mapped to neither is `other` with code `http <status>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusMap {
    /// Exact statuses.
    pub exact: BTreeMap<u16, Outcome>,
    /// By hundreds: index 1 for `1xx` … 5 for `5xx`.
    pub classes: [Option<Outcome>; 6],
}

impl StatusMap {
    /// The class of `status`, if mapped.
    pub fn get(&self, status: u16) -> Option<Outcome> {
        self.exact.get(&status).copied().or_else(|| {
            self.classes
                .get(usize::from(status / 100))
                .copied()
                .flatten()
        })
    }

    /// Adds a mapping from its scenario-file spelling: `"201"` or `"5xx"`.
    ///
    /// Errors: a message when `key` is neither.
    pub fn insert(&mut self, key: &str, outcome: Outcome) -> Result<(), String> {
        if let Ok(code) = key.parse::<u16>()
            && (100..600).contains(&code)
        {
            self.exact.insert(code, outcome);
            return Ok(());
        }
        let b = key.as_bytes();
        if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && key[1..].eq_ignore_ascii_case("xx") {
            self.classes[usize::from(b[0] - b'0')] = Some(outcome);
            return Ok(());
        }
        Err(format!(
            "`{key}` is not a status (`201`) nor a status class (`5xx`)"
        ))
    }
}

/// Outcome classes by the value of one field of a JSON response body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonMap {
    /// The field, as a JSON pointer (RFC 6901): `/status`, `/data/result`.
    pub pointer: String,
    /// The field's value (a string as it is; a number, `true`, `false` or `null` as
    /// written in JSON) → outcome class.
    pub values: BTreeMap<String, Outcome>,
}

impl JsonMap {
    /// The field's value in `body` as text, if the body is JSON and has the field (an
    /// object or array value is its JSON text).
    pub fn value(&self, body: &[u8]) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        match v.pointer(&self.pointer)? {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// One endpoint to race: the request template and how to read the response.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path and query template (`/signup?email={key}`), appended to the base URL's path.
    pub path: String,
    /// Body template, if any.
    pub body: Option<String>,
    /// Extra headers (values are templates too).
    pub headers: Vec<(HeaderName, String)>,
    /// Per-request limit (default 10 s).
    pub timeout: Duration,
    /// Status → outcome class.
    pub status: StatusMap,
    /// A JSON field of the body → outcome class, tried before `status`.
    pub json: Option<JsonMap>,
}

/// Replaces `{key}`, `{worker}`, `{seq}` and `{payload}` in `template` with the
/// operation's values; other braces are left as they are (JSON bodies keep theirs).
pub fn render(template: &str, op: &Op) -> String {
    let mut out = String::with_capacity(template.len() + op.key.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let hit = [
            ("{key}", None),
            ("{worker}", Some(op.worker as u64)),
            ("{seq}", Some(op.seq)),
            ("{payload}", None),
        ]
        .into_iter()
        .find(|(name, _)| tail.starts_with(name));
        match hit {
            Some(("{key}", _)) => out.push_str(&op.key),
            Some(("{payload}", _)) => out.push_str(&op.payload),
            Some((_, Some(n))) => out.push_str(&n.to_string()),
            _ => {
                out.push('{');
                rest = &tail[1..];
                continue;
            }
        }
        rest = &tail[hit.map_or(1, |(n, _)| n.len())..];
    }
    out.push_str(rest);
    out
}

/// A base URL taken apart: `http://host:port/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// `host:port` to connect to and send as `Host`.
    pub authority: String,
    /// Path prefix without a trailing slash (often empty).
    pub prefix: String,
}

impl Base {
    /// Parses an `http://` URL (https is not supported).
    ///
    /// Errors: a message naming the URL.
    pub fn parse(url: &str) -> Result<Base, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("`{url}`: only http:// URLs are supported"))?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("`{url}`: no host"));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Base {
            authority,
            prefix: prefix.to_string(),
        })
    }
}

/// One worker's connection: opened on first use, reopened after a failure or a timeout.
pub struct HttpConn {
    base: Base,
    sender: Option<SendRequest<Full<Bytes>>>,
}

fn failure(class: Outcome, code: &str, message: String) -> DbError {
    DbError {
        class,
        code: code.into(),
        message,
    }
}

impl HttpConn {
    /// A connection to `base` (not opened yet).
    pub fn new(base: Base) -> HttpConn {
        HttpConn { base, sender: None }
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, DbError> {
        let a = &self.base.authority;
        let stream = tokio::net::TcpStream::connect(a).await.map_err(|e| {
            let code = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "refused",
                _ => "connect",
            };
            failure(
                Outcome::ConnectionError,
                code,
                format!("connecting to {a}: {e}"),
            )
        })?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failure(Outcome::ConnectionError, "http", format!("{a}: {e}")))?;
        tokio::spawn(conn);
        Ok(sender)
    }

    /// Sends `ep`'s request for `op` and maps the response, all within `ep.timeout`.
    ///
    /// Errors: the outcome class of an error status, an unmapped status (`other`), a
    /// timeout or a connection failure, with the status or failure as code and the start of
    /// the body or the failure as message.
    pub async fn call(&mut self, ep: &Endpoint, op: &Op) -> Result<Outcome, DbError> {
        match tokio::time::timeout(ep.timeout, self.exchange(ep, op)).await {
            Ok(r) => r,
            Err(_) => {
                // The answer may still come on this connection: start a fresh one.
                self.sender = None;
                Err(failure(
                    Outcome::Timeout,
                    "timeout",
                    format!("no response within {} ms", ep.timeout.as_millis()),
                ))
            }
        }
    }

    async fn exchange(&mut self, ep: &Endpoint, op: &Op) -> Result<Outcome, DbError> {
        let sender = match &mut self.sender {
            Some(s) if !s.is_closed() => s,
            _ => self.sender.insert(self.open().await?),
        };
        let mut req = Request::builder()
            .method(ep.method.clone())
            .uri(format!("{}{}", self.base.prefix, render(&ep.path, op)))
            .header(hyper::header::HOST, &self.base.authority);
        for (name, value) in &ep.headers {
            let v = HeaderValue::from_str(&render(value, op))
                .map_err(|e| failure(Outcome::Other, "request", format!("header {name}: {e}")))?;
            req = req.header(name, v);
        }
        let body = ep
            .body
            .as_deref()
            .map(|b| render(b, op))
            .unwrap_or_default();
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failure(Outcome::Other, "request", e.to_string()))?;
        let broken = |e: hyper::Error| failure(Outcome::ConnectionError, "http", e.to_string());
        let sent = async {
            sender.ready().await?;
            let resp = sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        }
        .await;
        let (status, body) = match sent {
            Ok(x) => x,
            Err(e) => {
                self.sender = None;
                return Err(broken(e));
            }
        };
        classify(ep, status, &body)
    }
}

/// The outcome of a response: by the JSON field's value when the endpoint maps one and the
/// body has it, else by the status.
///
/// Errors: an error class or an unmapped value or status (`other`), with code
/// `json <pointer>=<value>` when the JSON field decided, else `http <status>`, and the start
/// of the body as message.
fn classify(ep: &Endpoint, status: u16, body: &[u8]) -> Result<Outcome, DbError> {
    let field = ep.json.as_ref().and_then(|j| j.value(body).map(|v| (j, v)));
    let mapped = match &field {
        Some((j, v)) => j.values.get(v).copied(),
        None => ep.status.get(status),
    };
    match mapped {
        Some(o) if !o.is_error() => Ok(o),
        mapped => {
            let code = match &field {
                Some((j, v)) => format!("json {}={v}", j.pointer),
                None => format!("http {status}"),
            };
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            Err(failure(mapped.unwrap_or(Outcome::Other), &code, text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Op {
        Op {
            key: "user7@example.com".into(),
            key_number: 7,
            worker: 3,
            seq: 12,
            payload: "w3-12".into(),
            repetition: 0,
        }
    }

    #[test]
    fn templates_fill_known_names_and_keep_other_braces() {
        assert_eq!(
            render(
                r#"{"email":"{key}","w":{worker},"s":{seq},"p":"{payload}","x":{}}"#,
                &op()
            ),
            r#"{"email":"user7@example.com","w":3,"s":12,"p":"w3-12","x":{}}"#
        );
        assert_eq!(render("/u/{key}?{", &op()), "/u/user7@example.com?{");
    }

    #[test]
    fn statuses_map_exactly_then_by_class() {
        let mut m = StatusMap::default();
        m.insert("201", Outcome::Inserted).unwrap();
        m.insert("5xx", Outcome::Other).unwrap();
        m.insert("409", Outcome::UniqueViolation).unwrap();
        assert_eq!(m.get(201), Some(Outcome::Inserted));
        assert_eq!(m.get(503), Some(Outcome::Other));
        assert_eq!(m.get(409), Some(Outcome::UniqueViolation));
        assert_eq!(m.get(404), None);
        assert!(m.insert("6xx", Outcome::Other).is_err());
        assert!(m.insert("abc", Outcome::Other).is_err());
    }

    #[test]
    fn a_json_field_decides_before_the_status() {
        let mut status = StatusMap::default();
        status.insert("2xx", Outcome::Existed).unwrap();
        let ep = Endpoint {
            method: Method::POST,
            path: "/".into(),
            body: None,
            headers: vec![],
            timeout: Duration::from_secs(1),
            status,
            json: Some(JsonMap {
                pointer: "/result/state".into(),
                values: [
                    ("created".to_string(), Outcome::Inserted),
                    ("error".to_string(), Outcome::Other),
                    ("1".to_string(), Outcome::Updated),
                ]
                .into_iter()
                .collect(),
            }),
        };
        let c = |status, body: &str| classify(&ep, status, body.as_bytes());
        assert_eq!(
            c(200, r#"{"result":{"state":"created"}}"#),
            Ok(Outcome::Inserted)
        );
        assert_eq!(c(200, r#"{"result":{"state":1}}"#), Ok(Outcome::Updated));
        // Not JSON, or no such field: the status decides.
        assert_eq!(c(200, "created"), Ok(Outcome::Existed));
        assert_eq!(c(201, r#"{"result":{}}"#), Ok(Outcome::Existed));
        let e = c(200, r#"{"result":{"state":"error"}}"#).unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (Outcome::Other, "json /result/state=error")
        );
        // A value the endpoint does not map is `other`, with the value kept.
        let e = c(200, r#"{"result":{"state":"odd"}}"#).unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (Outcome::Other, "json /result/state=odd")
        );
        let e = c(404, "nope").unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("http 404", "nope"));
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            Base::parse("http://127.0.0.1:8080/api/").unwrap(),
            Base {
                authority: "127.0.0.1:8080".into(),
                prefix: "/api".into()
            }
        );
        assert_eq!(
            Base::parse("http://localhost").unwrap().authority,
            "localhost:80"
        );
        assert!(Base::parse("https://x").is_err());
    }
}
