//! The `http` application target: what an endpoint is (request templates, timeout, how a
//! response becomes an outcome class) and its driver, one keep-alive HTTP/1.1 connection
//! per worker written and read by keyrace itself on the worker's own task ([`conn`]):
//! requests rendered into a reused buffer ([`request`]), responses parsed by `httparse`
//! ([`response`]); timeouts and refused connections get their own classes.

pub mod conn;
pub mod request;
pub mod response;
#[cfg(test)]
mod scripted;

use std::collections::BTreeMap;
use std::time::Duration;

pub use conn::HttpConn;

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
    /// HTTP method, upper case (`POST`); see [`is_token`].
    pub method: String,
    /// Path and query template (`/signup?email={key}`), appended to the base URL's path.
    pub path: String,
    /// Body template, if any.
    pub body: Option<String>,
    /// Extra headers: lower-case name (see [`is_token`]), value template.
    pub headers: Vec<(String, String)>,
    /// Per-request limit (default 10 s).
    pub timeout: Duration,
    /// Status → outcome class.
    pub status: StatusMap,
    /// A JSON field of the body → outcome class, tried before `status`.
    pub json: Option<JsonMap>,
}

/// True when `s` is an HTTP token (RFC 9110 §5.6.2): what a method or a header name may be.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
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
            .ok_or_else(|| {
                format!("`{url}`: only http:// URLs are supported (keyrace speaks plain HTTP/1.1, without TLS)")
            })?;
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

fn failure(class: Outcome, code: &str, message: String) -> DbError {
    DbError {
        class,
        code: code.into(),
        message,
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
            method: "POST".into(),
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

    #[test]
    fn tokens() {
        assert!(is_token("POST") && is_token("x-request-id") && is_token("M-SEARCH"));
        assert!(!is_token("") && !is_token("GET X") && !is_token("a:b") && !is_token("é"));
    }
}
