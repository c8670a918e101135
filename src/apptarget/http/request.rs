//! The bytes of an endpoint's request: an HTTP/1.1 request line, `host`, the endpoint's
//! headers and, with a body, `content-length`, compiled once per connection from the
//! endpoint's templates and rendered per operation into a reused buffer; rendered once and
//! for all when no template has a placeholder.

use super::{Base, Endpoint, failure};
use crate::apptarget::template::{Template, push_decimal};
use crate::race::Op;
use crate::vocab::{DbError, Outcome};

/// An endpoint's request against one base URL, ready to render.
#[derive(Debug, Clone)]
pub struct Request {
    /// `METHOD /prefix`: the request line up to the endpoint's path.
    line: Vec<u8>,
    path: Template,
    /// ` HTTP/1.1` and the `host` line (unless the endpoint sets `host` itself).
    after_path: Vec<u8>,
    /// `name: ` and the value's template, per header.
    headers: Vec<(Vec<u8>, Template)>,
    body: Option<Template>,
    /// False when the endpoint sets `content-length` itself.
    set_length: bool,
    /// `HEAD`: the response has no body.
    head_only: bool,
    /// The whole request, when no template has a placeholder.
    constant: Option<Result<Vec<u8>, DbError>>,
}

impl Request {
    /// Compiles `ep`'s request for the application at `base`.
    pub fn new(base: &Base, ep: &Endpoint) -> Request {
        let has = |name: &str| ep.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut after_path = b" HTTP/1.1\r\n".to_vec();
        if !has("host") {
            after_path.extend_from_slice(format!("host: {}\r\n", base.authority).as_bytes());
        }
        let mut r = Request {
            line: format!("{} {}", ep.method, base.prefix).into_bytes(),
            path: Template::parse(&ep.path),
            after_path,
            headers: ep
                .headers
                .iter()
                .map(|(n, v)| (format!("{n}: ").into_bytes(), Template::parse(v)))
                .collect(),
            body: ep.body.as_deref().map(Template::parse),
            set_length: !has("content-length") && !has("transfer-encoding"),
            head_only: ep.method == "HEAD",
            constant: None,
        };
        let constant = r.path.is_constant()
            && r.headers.iter().all(|(_, v)| v.is_constant())
            && r.body.as_ref().is_none_or(Template::is_constant);
        if constant {
            let mut out = Vec::new();
            r.constant = Some(
                r.render(&Op::default(), &mut out, &mut Vec::new())
                    .map(|()| out),
            );
        }
        r
    }

    /// True for a `HEAD` request (its response has no body).
    pub fn head_only(&self) -> bool {
        self.head_only
    }

    /// The request for `op`: the constant one, or rendered into `out` (`body` is scratch
    /// space for the body).
    ///
    /// Errors: `other` with code `request` when the rendered path or a header value has a
    /// character HTTP does not allow there (the message names which).
    pub fn bytes<'a>(
        &'a self,
        op: &Op,
        out: &'a mut Vec<u8>,
        body: &mut Vec<u8>,
    ) -> Result<&'a [u8], DbError> {
        match &self.constant {
            Some(Ok(bytes)) => Ok(bytes),
            Some(Err(e)) => Err(e.clone()),
            None => {
                self.render(op, out, body)?;
                Ok(&out[..])
            }
        }
    }

    fn render(&self, op: &Op, out: &mut Vec<u8>, body: &mut Vec<u8>) -> Result<(), DbError> {
        out.clear();
        out.extend_from_slice(&self.line);
        let at = out.len();
        self.path.render_into(op, out);
        if !out[at..].iter().all(|b| (0x21..0x7f).contains(b)) {
            let path = String::from_utf8_lossy(&out[at..]).into_owned();
            return Err(failure(
                Outcome::Other,
                "request",
                format!("path `{path}`: only visible ASCII characters are allowed"),
            ));
        }
        out.extend_from_slice(&self.after_path);
        for (name, value) in &self.headers {
            out.extend_from_slice(name);
            let at = out.len();
            value.render_into(op, out);
            if !out[at..]
                .iter()
                .all(|b| (0x20..0x7f).contains(b) || *b == b'\t')
            {
                let name = String::from_utf8_lossy(&name[..name.len() - 2]).into_owned();
                return Err(failure(
                    Outcome::Other,
                    "request",
                    format!("header {name}: only visible ASCII characters are allowed"),
                ));
            }
            out.extend_from_slice(b"\r\n");
        }
        body.clear();
        if let Some(b) = &self.body {
            b.render_into(op, body);
        }
        // As hyper did: no content-length for an empty body.
        if self.set_length && !body.is_empty() {
            out.extend_from_slice(b"content-length: ");
            push_decimal(out, body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::apptarget::http::StatusMap;
    use crate::apptarget::template::tests::op;

    fn ep(method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Endpoint {
        Endpoint {
            method: method.into(),
            path: path.into(),
            body: body.map(String::from),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            timeout: Duration::from_secs(1),
            status: StatusMap::default(),
            json: None,
        }
    }

    fn text(r: &Request, op: &Op) -> Result<String, DbError> {
        let (mut out, mut body) = (Vec::new(), Vec::new());
        r.bytes(op, &mut out, &mut body)
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn requests_are_rendered_per_operation() {
        let base = Base::parse("http://127.0.0.1:8080/api").unwrap();
        let e = ep(
            "POST",
            "/signup?w={worker}",
            Some(r#"{"email":"{key}","n":"{payload}"}"#),
            &[("content-type", "application/json"), ("x-seq", "{seq}")],
        );
        let r = Request::new(&base, &e);
        assert!(r.constant.is_none() && !r.head_only());
        let body = r#"{"email":"user7@example.com","n":"w3-12"}"#;
        assert_eq!(
            text(&r, &op()).unwrap(),
            format!(
                "POST /api/signup?w=3 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\
                 content-type: application/json\r\nx-seq: 12\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        );
    }

    #[test]
    fn constant_requests_are_rendered_once() {
        let base = Base::parse("http://localhost:3000").unwrap();
        let r = Request::new(&base, &ep("GET", "/ping", None, &[("host", "example")]));
        assert_eq!(
            r.constant.as_ref().unwrap().as_deref().unwrap(),
            b"GET /ping HTTP/1.1\r\nhost: example\r\n\r\n"
        );
        assert_eq!(
            text(&r, &op()).unwrap(),
            "GET /ping HTTP/1.1\r\nhost: example\r\n\r\n"
        );
        let head = Request::new(&base, &ep("HEAD", "/", Some(""), &[]));
        assert!(head.head_only());
        assert_eq!(
            text(&head, &op()).unwrap(),
            "HEAD / HTTP/1.1\r\nhost: localhost:3000\r\n\r\n"
        );
    }

    #[test]
    fn characters_http_forbids_are_request_errors() {
        let base = Base::parse("http://localhost:3000").unwrap();
        let mut o = op();
        o.key = "a b".into();
        let r = Request::new(&base, &ep("GET", "/u/{key}", None, &[]));
        let e = text(&r, &o).unwrap_err();
        assert_eq!((e.class, e.code.as_str()), (Outcome::Other, "request"));
        assert!(e.message.contains("/u/a b"), "{}", e.message);
        o.key = "x\r\ny: z".into();
        let r = Request::new(&base, &ep("GET", "/", None, &[("x-key", "{key}")]));
        let e = text(&r, &o).unwrap_err();
        assert!(e.message.starts_with("header x-key:"), "{}", e.message);
        // A constant request that cannot be sent fails every call the same way.
        let r = Request::new(&base, &ep("GET", "/a b", None, &[]));
        assert_eq!(text(&r, &op()).unwrap_err().code, "request");
    }
}
