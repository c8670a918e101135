//! Reader for PostgreSQL isolation tester `.spec` files (setup/teardown/session/step/permutation).
//!
//! Supported: any number of top-level `setup { ... }` blocks, one top-level
//! `teardown { ... }`, `session name` with an optional `setup`, one or more `step name { SQL }`
//! and an optional `teardown`, then `permutation a b ...` lines whose entries may carry
//! blocker markers `step(*)`, `step(other)` or `step(other, *)`. Names are bare identifiers
//! (`[A-Za-z_][A-Za-z0-9_]*`) or double-quoted (`""` is a literal quote). `#` starts a comment
//! to the end of the line outside SQL blocks. A SQL block ends at the first `}`, as in
//! PostgreSQL's scanner.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use super::diag::Diagnostic;
use super::plan::{
    Blocker, InterleavePlan, MAX_GENERATED_PERMUTATIONS, MAX_SESSIONS, Permutation,
    PermutationStep, Session, SourceFormat, SqlText, Step, all_interleavings,
};
use crate::db::Dialect;

/// Default fallback wait timeout for `.spec` files (milliseconds).
pub const DEFAULT_WAIT_TIMEOUT_MS: u64 = 5000;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare identifier (keywords are bare identifiers too).
    Ident(String),
    /// A double-quoted name.
    Quoted(String),
    /// The contents of `{ ... }` without the spaces and tabs right after `{` and right
    /// before `}` (newlines kept), as PostgreSQL's `specscanner.l` keeps them.
    Sql(String),
    LParen,
    RParen,
    Star,
    Comma,
    /// Any other character (reported by the parser where it is not expected).
    Other(char),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Sql(_) => "a SQL block".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Star => "`*`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Other(c) => format!("`{c}`"),
            Tok::Eof => "end of file".into(),
        }
    }
}

/// A located lexing/parsing problem: byte span and message.
pub(crate) type LocErr = (Range<usize>, String);

fn lex(text: &str) -> Result<Vec<(Tok, Range<usize>)>, LocErr> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                let Some(close) = text[i + 1..].find('}') else {
                    return Err((
                        start..start + 1,
                        "unterminated SQL block: missing `}`".into(),
                    ));
                };
                let body = &text[i + 1..i + 1 + close];
                i = i + 1 + close + 1;
                let body = body.trim_matches([' ', '\t', '\r', '\x0c']);
                out.push((Tok::Sql(body.to_string()), start..i));
            }
            b'"' => {
                let mut name = String::new();
                i += 1;
                loop {
                    match text[i..].find('"') {
                        None => {
                            return Err((
                                start..start + 1,
                                "unterminated quoted name: missing `\"`".into(),
                            ));
                        }
                        Some(q) => {
                            name.push_str(&text[i..i + q]);
                            i += q + 1;
                            if bytes.get(i) == Some(&b'"') {
                                name.push('"');
                                i += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                if name.is_empty() {
                    return Err((start..i, "empty name".into()));
                }
                out.push((Tok::Quoted(name), start..i));
            }
            b'(' | b')' | b'*' | b',' => {
                i += 1;
                let t = match c {
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b'*' => Tok::Star,
                    _ => Tok::Comma,
                };
                out.push((t, start..i));
            }
            // As PostgreSQL's specscanner.l: identifiers start with a letter, `_` or a
            // non-ASCII byte and continue with those, digits and `$`.
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                out.push((Tok::Ident(text[start..i].to_string()), start..i));
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                i += ch.len_utf8().max(1);
                out.push((Tok::Other(ch), start..i));
            }
        }
    }
    out.push((Tok::Eof, text.len()..text.len()));
    Ok(out)
}

/// A name with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Named {
    pub name: String,
    pub span: Range<usize>,
}

/// A permutation entry before its names are resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawPermStep {
    pub name: Named,
    pub blockers: Vec<RawBlocker>,
}

/// A marker before its name is resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawBlocker {
    Star(Range<usize>),
    Step(Named),
    /// `(other notices N)` (PostgreSQL 14+).
    Notices(Named, u32),
}

struct Parser {
    toks: Vec<(Tok, Range<usize>)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn span(&self) -> Range<usize> {
        self.toks[self.pos].1.clone()
    }
    fn bump(&mut self) -> (Tok, Range<usize>) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }
    fn err<T>(&self, msg: String) -> Result<T, LocErr> {
        Err((self.span(), msg))
    }
    fn name(&mut self, what: &str) -> Result<Named, LocErr> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::Quoted(s) => {
                let (_, span) = self.bump();
                Ok(Named { name: s, span })
            }
            t => self.err(format!("expected {what} name, found {}", t.describe())),
        }
    }
    fn sql(&mut self, after: &str) -> Result<String, LocErr> {
        match self.peek().clone() {
            Tok::Sql(s) => {
                self.bump();
                Ok(s)
            }
            t => self.err(format!(
                "expected `{{ SQL }}` after {after}, found {}",
                t.describe()
            )),
        }
    }
    /// A positive integer (the lexer hands digits over one `Other` token each).
    fn count(&mut self) -> Result<u32, LocErr> {
        let start = self.span();
        let mut digits = String::new();
        while let Tok::Other(c) = self.peek() {
            if !c.is_ascii_digit() {
                break;
            }
            digits.push(*c);
            self.bump();
        }
        match digits.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err((start, "expected a positive number of notices".into())),
        }
    }
    /// `name` or `name(marker, ...)`; a marker is `*`, `step` or `step notices N`.
    fn perm_step(&mut self) -> Result<RawPermStep, LocErr> {
        let name = self.name("step")?;
        let mut blockers = Vec::new();
        if *self.peek() == Tok::LParen {
            self.bump();
            loop {
                match self.peek().clone() {
                    Tok::Star => blockers.push(RawBlocker::Star(self.bump().1)),
                    Tok::Ident(_) | Tok::Quoted(_) => {
                        let other = self.name("blocker step")?;
                        if self.is_kw("notices") {
                            self.bump();
                            let n = self.count()?;
                            blockers.push(RawBlocker::Notices(other, n));
                        } else {
                            blockers.push(RawBlocker::Step(other));
                        }
                    }
                    t => {
                        return self.err(format!(
                            "expected `*` or a step name in blocker markers, found {}",
                            t.describe()
                        ));
                    }
                }
                match self.peek() {
                    Tok::Comma => {
                        self.bump();
                    }
                    Tok::RParen => {
                        self.bump();
                        break;
                    }
                    t => {
                        return self.err(format!(
                            "expected `,` or `)` after a blocker marker, found {}",
                            t.describe()
                        ));
                    }
                }
            }
        }
        Ok(RawPermStep { name, blockers })
    }
}

/// Parses one permutation entry such as `s2a(s1b)` or `"s1 a"(*)` (used by the TOML format).
pub(crate) fn parse_permutation_entry(text: &str) -> Result<RawPermStep, LocErr> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
    };
    let entry = p.perm_step()?;
    match p.peek() {
        Tok::Eof => Ok(entry),
        t => p.err(format!(
            "unexpected {} after the permutation entry",
            t.describe()
        )),
    }
}

struct RawSession {
    name: Named,
    setup: Option<String>,
    teardown: Option<String>,
    steps: Vec<(Named, String)>,
}

/// Parses `.spec` text into a checked plan; errors are located in `path`/`text`.
pub fn parse_spec(path: &Path, text: &str) -> Result<InterleavePlan, Diagnostic> {
    let located = |(span, msg): LocErr| Diagnostic::at(path, text, span, msg);
    let mut p = Parser {
        toks: lex(text).map_err(located)?,
        pos: 0,
    };
    let mut setup = Vec::new();
    let mut teardown = Vec::new();
    let mut sessions: Vec<RawSession> = Vec::new();
    let mut perms: Vec<(Vec<RawPermStep>, Range<usize>)> = Vec::new();
    let result: Result<(), LocErr> = (|| {
        while p.is_kw("setup") {
            p.bump();
            setup.push(p.sql("setup")?);
        }
        if p.is_kw("teardown") {
            p.bump();
            teardown.push(p.sql("teardown")?);
        }
        while p.is_kw("session") {
            p.bump();
            let name = p.name("session")?;
            if sessions.len() == MAX_SESSIONS {
                return Err((
                    name.span,
                    format!("more than {MAX_SESSIONS} sessions (each holds a connection)"),
                ));
            }
            let mut s = RawSession {
                name,
                setup: None,
                teardown: None,
                steps: vec![],
            };
            if p.is_kw("setup") {
                p.bump();
                s.setup = Some(p.sql("session setup")?);
            }
            while p.is_kw("step") {
                p.bump();
                let step_name = p.name("step")?;
                let sql = p.sql(&format!("step {}", step_name.name))?;
                s.steps.push((step_name, sql));
            }
            if s.steps.is_empty() {
                return p.err(format!(
                    "session {} has no steps: expected `step`, found {}",
                    s.name.name,
                    p.peek().describe()
                ));
            }
            if p.is_kw("teardown") {
                p.bump();
                s.teardown = Some(p.sql("session teardown")?);
            }
            sessions.push(s);
        }
        if sessions.is_empty() {
            let found = p.peek().describe();
            return p.err(format!(
                "expected `setup`, `teardown` or `session`, found {found}"
            ));
        }
        while p.is_kw("permutation") {
            let kw = p.bump().1;
            let mut entries = Vec::new();
            while matches!(p.peek(), Tok::Ident(s) if !is_keyword(s))
                || matches!(p.peek(), Tok::Quoted(_))
            {
                entries.push(p.perm_step()?);
            }
            if entries.is_empty() {
                return p.err(format!(
                    "permutation lists no steps: found {}",
                    p.peek().describe()
                ));
            }
            perms.push((entries, kw));
        }
        match p.peek() {
            Tok::Eof => Ok(()),
            t => {
                let t = t.describe();
                p.err(format!("expected `session` or `permutation`, found {t} (sessions come before permutations)"))
            }
        }
    })();
    result.map_err(located)?;

    let mut steps = Vec::new();
    let mut plan_sessions = Vec::new();
    let mut session_names: HashMap<String, Range<usize>> = HashMap::new();
    let session_spans: Vec<Range<usize>> = sessions.iter().map(|s| s.name.span.clone()).collect();
    let mut step_names: HashMap<String, usize> = HashMap::new();
    for (si, s) in sessions.into_iter().enumerate() {
        if session_names
            .insert(s.name.name.clone(), s.name.span.clone())
            .is_some()
        {
            return Err(located((
                s.name.span,
                format!("duplicate session name `{}`", s.name.name),
            )));
        }
        let mut idx = Vec::new();
        for (n, sql) in s.steps {
            if step_names.insert(n.name.clone(), steps.len()).is_some() {
                return Err(located((
                    n.span,
                    format!("duplicate step name `{}`", n.name),
                )));
            }
            idx.push(steps.len());
            steps.push(Step {
                name: n.name,
                session: si,
                sql: SqlText::shared(sql),
            });
        }
        plan_sessions.push(Session {
            name: s.name.name,
            setup: s.setup.into_iter().map(SqlText::shared).collect(),
            teardown: s.teardown.into_iter().map(SqlText::shared).collect(),
            steps: idx,
            node: 1,
        });
    }
    let generated = perms.is_empty();
    let permutations = if generated {
        all_interleavings(&plan_sessions, MAX_GENERATED_PERMUTATIONS).ok_or_else(|| {
            located((
                session_spans.first().cloned().unwrap_or(0..0),
                format!("no permutations listed and these sessions have more than {MAX_GENERATED_PERMUTATIONS} interleavings: list the ones to run with `permutation` lines"),
            ))
        })?
    } else {
        let mut out = Vec::new();
        for (entries, _) in perms {
            out.push(resolve_permutation(&entries, &step_names).map_err(located)?);
        }
        out
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spec".into());
    Ok(InterleavePlan {
        name,
        description: None,
        teaches: None,
        source: path.to_path_buf(),
        format: SourceFormat::Spec,
        dialects: spec_dialects(text),
        setup: setup.into_iter().map(SqlText::shared).collect(),
        teardown: teardown.into_iter().map(SqlText::shared).collect(),
        sessions: plan_sessions,
        steps,
        permutations,
        permutations_generated: generated,
        wait_timeout_ms: DEFAULT_WAIT_TIMEOUT_MS,
        effects: false,
        claims: Vec::new(),
    })
}

fn is_keyword(s: &str) -> bool {
    matches!(s, "setup" | "teardown" | "session" | "step" | "permutation")
}

/// Resolves step and blocker names of one permutation to step indices.
pub(crate) fn resolve_permutation(
    entries: &[RawPermStep],
    steps: &HashMap<String, usize>,
) -> Result<Permutation, LocErr> {
    let lookup = |n: &Named, what: &str| {
        steps.get(&n.name).copied().ok_or_else(|| {
            let mut known: Vec<&String> = steps.keys().collect();
            known.sort();
            let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            (
                n.span.clone(),
                format!("unknown {what} `{}` (steps: {})", n.name, known.join(", ")),
            )
        })
    };
    let mut out = Vec::new();
    for e in entries {
        let step = lookup(&e.name, "step")?;
        let mut blockers = Vec::new();
        for b in &e.blockers {
            blockers.push(match b {
                RawBlocker::Star(_) => Blocker::Star,
                RawBlocker::Step(n) | RawBlocker::Notices(n, _) => {
                    let i = lookup(n, "blocker step")?;
                    if i == step {
                        return Err((
                            n.span.clone(),
                            format!("step `{}` cannot block itself", n.name),
                        ));
                    }
                    match b {
                        RawBlocker::Notices(_, count) => Blocker::Notices(i, *count),
                        _ => Blocker::Step(i),
                    }
                }
            });
        }
        out.push(PermutationStep { step, blockers });
    }
    Ok(Permutation { steps: out })
}

/// The engines a `.spec` file runs on. A `.spec` is PostgreSQL SQL, so PostgreSQL only,
/// unless a comment line says otherwise: `# keyrace: dialects = postgres, mysql`.
fn spec_dialects(text: &str) -> Vec<Dialect> {
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix('#') else {
            continue;
        };
        let Some(list) = rest
            .trim()
            .strip_prefix("keyrace:")
            .and_then(|r| r.trim().strip_prefix("dialects"))
            .and_then(|r| r.trim().strip_prefix('='))
        else {
            continue;
        };
        let found: Vec<Dialect> = Dialect::ALL
            .into_iter()
            .filter(|d| list.split(',').any(|w| w.trim() == d.name()))
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    vec![Dialect::Postgres]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_quoted_names_with_doubled_quotes() {
        let toks = lex(r#""a""b" x"#).expect("lexes");
        assert_eq!(toks[0].0, Tok::Quoted("a\"b".into()));
        assert_eq!(toks[1].0, Tok::Ident("x".into()));
    }

    #[test]
    fn permutation_entry_with_markers() {
        let e = parse_permutation_entry("s2a(s1b, *)").expect("parses");
        assert_eq!(e.name.name, "s2a");
        assert_eq!(e.blockers.len(), 2);
        assert!(parse_permutation_entry("s2a(").is_err());
    }
}
