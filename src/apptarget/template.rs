//! Templates of the application targets (URL paths, bodies, header values, argv):
//! `{key}`, `{worker}`, `{seq}` and `{payload}` replaced by an operation's values, other
//! braces kept as they are (JSON bodies keep theirs). Parsed once, rendered per operation.

use crate::race::Op;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Box<str>),
    Key,
    Worker,
    Seq,
    Payload,
}

/// A parsed template: its text split at the placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Splits `text` at `{key}`, `{worker}`, `{seq}` and `{payload}`.
    pub fn parse(text: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('{') {
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            let hit = [
                ("{key}", Part::Key),
                ("{worker}", Part::Worker),
                ("{seq}", Part::Seq),
                ("{payload}", Part::Payload),
            ]
            .into_iter()
            .find(|(name, _)| tail.starts_with(name));
            match hit {
                Some((name, part)) => {
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit).into()));
                    }
                    parts.push(part);
                    rest = &tail[name.len()..];
                }
                None => {
                    lit.push('{');
                    rest = &tail[1..];
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit.into()));
        }
        Template { parts }
    }

    /// True when the template has no placeholder: it renders the same for every operation.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Appends the template rendered for `op` to `out`.
    pub fn render_into(&self, op: &Op, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Key => out.extend_from_slice(op.key.as_bytes()),
                Part::Payload => out.extend_from_slice(op.payload.as_bytes()),
                Part::Worker => push_decimal(out, op.worker as u64),
                Part::Seq => push_decimal(out, op.seq),
            }
        }
    }
}

/// Appends `n` in decimal to `out`.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `template` rendered for `op` (see [`Template`]).
pub fn render(template: &str, op: &Op) -> String {
    let mut out = Vec::with_capacity(template.len() + op.key.len());
    Template::parse(template).render_into(op, &mut out);
    // Only whole UTF-8 strings are spliced into UTF-8 text.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The operation the template and request tests render: key `user7@example.com` (number
    /// 7), worker 3, sequence 12, payload `w3-12`.
    pub(crate) fn op() -> Op {
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
        assert_eq!(render("{{seq}}", &op()), "{12}");
        assert_eq!(render("", &op()), "");
    }

    #[test]
    fn constant_templates_are_known() {
        assert!(Template::parse("/ping?{x}").is_constant());
        assert!(Template::parse("").is_constant());
        assert!(!Template::parse("/u/{worker}").is_constant());
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
