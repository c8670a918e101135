//! Application scenario files (a top-level `[app]` table): the raw TOML, and its checking
//! into an [`AppPlan`] with located errors. Documented in `docs/scenario-format.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::command::{Command, OutputMatch, Pattern, Stream};
use super::http::{Base, Endpoint, JsonMap, StatusMap, is_token};
use crate::expect::Expectation;
use crate::plan::Workload;
use crate::scenario::{Diagnostic, RawWorkload, parse_duration, validate_workload};
use crate::vocab::{Dialect, Outcome};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    teaches: String,
    workload: RawWorkload,
    app: Spanned<RawApp>,
    #[serde(default, rename = "endpoint")]
    endpoints: Vec<RawEndpoint>,
    #[serde(default, rename = "command")]
    commands: Vec<RawCommand>,
    #[serde(default, rename = "expect")]
    expectations: Vec<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    url: Option<Spanned<String>>,
    start: Option<Spanned<Vec<String>>>,
    dir: Option<String>,
    ready: Option<String>,
    ready_timeout: Option<Spanned<String>>,
    database: Spanned<toml::Value>,
    key_format: Option<String>,
    setup: Option<String>,
    cleanup: Option<String>,
    #[serde(default)]
    verify: BTreeMap<String, String>,
    #[serde(default)]
    only_when_named: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    name: Spanned<String>,
    method: Option<Spanned<String>>,
    path: String,
    body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout: Option<Spanned<String>>,
    status: Spanned<BTreeMap<String, Spanned<String>>>,
    json: Option<RawJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJson {
    field: Spanned<String>,
    values: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    name: Spanned<String>,
    argv: Spanned<toml::Value>,
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    exit: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "match")]
    matches: Vec<Spanned<RawMatch>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_regex: Option<String>,
    stderr_regex: Option<String>,
    exit: Option<i32>,
    outcome: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    endpoint: Option<Spanned<String>>,
    command: Option<Spanned<String>>,
    database: Option<Spanned<String>>,
    that: Vec<Spanned<String>>,
}

/// Where the application's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppDatabase {
    /// The user's database at this URL: keyrace only reads it (and runs the scenario's
    /// `setup` / `cleanup` SQL).
    Url(String),
    /// A fresh database on each of the run's servers of these dialects, created before the
    /// application starts and dropped after it stopped (only with `start`).
    Run(Vec<Dialect>),
}

/// A checked application scenario.
#[derive(Debug, Clone)]
pub struct AppPlan {
    /// Scenario name.
    pub name: String,
    /// The file.
    pub source: PathBuf,
    /// Description.
    pub description: String,
    /// What it teaches.
    pub teaches: String,
    /// Workers, operations, mode … as in stress scenarios.
    pub workload: Workload,
    /// Base URL template (`{port}`: the port keyrace picked for a started application);
    /// required with endpoints or `start`.
    pub url: Option<String>,
    /// The command that starts the application (`{port}`, `{database_url}` filled in).
    pub start: Option<Vec<String>>,
    /// Working directory of `start`.
    pub dir: PathBuf,
    /// Readiness path (GET until 2xx); also checked, once, for an application not started.
    pub ready: String,
    /// How long a started application may take to become ready.
    pub ready_timeout: Duration,
    /// The application's database.
    pub database: AppDatabase,
    /// Key text format (`{}`: the key number).
    pub key_format: String,
    /// SQL run before each endpoint × repetition.
    pub setup: Option<String>,
    /// SQL run after each endpoint.
    pub cleanup: Option<String>,
    /// Named verification queries.
    pub verify: Vec<(String, String)>,
    /// Run only when the file or its directory is named on the command line.
    pub only_when_named: bool,
    /// Endpoints to race, by name.
    pub endpoints: Vec<(String, Endpoint)>,
    /// Commands to race, by name, after the endpoints.
    pub commands: Vec<(String, Command)>,
    /// Expectations (their `strategy` is the endpoint's or command's name).
    pub expectations: Vec<Expectation>,
}

impl AppPlan {
    /// The dialects of the run's servers this scenario needs (none for a URL database).
    pub fn needs(&self, dialect: Dialect) -> bool {
        matches!(&self.database, AppDatabase::Run(d) if d.contains(&dialect))
    }
}

/// True for an application scenario file: TOML with a top-level `[app]` table.
pub fn is_app_file(path: &Path, text: &str) -> bool {
    path.extension().is_some_and(|e| e == "toml")
        && text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.get("app").is_some_and(toml::Value::is_table))
}

/// Parses and checks an application scenario read from `path`.
///
/// Errors: a [`Diagnostic`] with file, line and column.
pub fn parse(path: &Path, text: &str) -> Result<AppPlan, Diagnostic> {
    let raw: RawAppScenario =
        toml::from_str(text).map_err(|e| Diagnostic::from_toml(path, text, &e, ""))?;
    let err = |span: std::ops::Range<usize>, m: String| Diagnostic::at(path, text, span, m);
    let workload = validate_workload(path, text, &raw.workload)?;
    let a = raw.app.get_ref();
    match &a.url {
        Some(url) => {
            Base::parse(&url.get_ref().replace("{port}", "1")).map_err(|m| err(url.span(), m))?;
        }
        None if a.start.is_some() || !raw.endpoints.is_empty() => {
            return Err(err(
                raw.app.span(),
                "`[app]` needs `url`: the application's http:// base URL (endpoints and `start` use it)".into(),
            ));
        }
        None => {}
    }
    if let Some(s) = &a.start
        && s.get_ref().is_empty()
    {
        return Err(err(s.span(), "`start` is an empty command".into()));
    }
    let database = match a.database.get_ref() {
        toml::Value::String(u) if u.contains("://") => AppDatabase::Url(u.clone()),
        toml::Value::String(d) => {
            AppDatabase::Run(vec![dialect(d).map_err(|m| err(a.database.span(), m))?])
        }
        toml::Value::Array(ds) => AppDatabase::Run(
            ds.iter()
                .map(|d| {
                    d.as_str()
                        .ok_or("a dialect name".to_string())
                        .and_then(dialect)
                })
                .collect::<Result<_, _>>()
                .map_err(|m| err(a.database.span(), m))?,
        ),
        _ => {
            return Err(err(
                a.database.span(),
                "`database` is a URL, a dialect (`postgres`, `mysql`) or a list of dialects".into(),
            ));
        }
    };
    if matches!(database, AppDatabase::Run(_)) && a.start.is_none() && !raw.endpoints.is_empty() {
        return Err(err(
            a.database.span(),
            "a database on the run's servers needs `start`: keyrace can only hand it to an application it starts (or to commands, as `{database_url}`); give the application's database URL instead".into(),
        ));
    }
    let ready_timeout = match &a.ready_timeout {
        None => Duration::from_secs(300),
        Some(t) => parse_duration(t.get_ref()).map_err(|e| err(t.span(), e.to_string()))?,
    };
    let mut endpoints: Vec<(String, Endpoint)> = Vec::new();
    let mut commands: Vec<(String, Command)> = Vec::new();
    let taken = |name: &str, e: &[(String, Endpoint)], c: &[(String, Command)]| {
        e.iter().any(|(n, _)| n == name) || c.iter().any(|(n, _)| n == name)
    };
    for e in &raw.endpoints {
        let name = e.name.get_ref().clone();
        if taken(&name, &endpoints, &commands) {
            return Err(err(
                e.name.span(),
                format!("a second endpoint or command named `{name}`"),
            ));
        }
        endpoints.push((name, endpoint(e).map_err(|(span, m)| err(span, m))?));
    }
    for c in &raw.commands {
        let name = c.name.get_ref().clone();
        if taken(&name, &endpoints, &commands) {
            return Err(err(
                c.name.span(),
                format!("a second endpoint or command named `{name}`"),
            ));
        }
        commands.push((name, command(c).map_err(|(span, m)| err(span, m))?));
    }
    if endpoints.is_empty() && commands.is_empty() {
        return Err(err(
            raw.app.span(),
            "no `[[endpoint]]` nor `[[command]]` to race".into(),
        ));
    }
    let verify: Vec<(String, String)> = a.verify.clone().into_iter().collect();
    let names: Vec<String> = verify.iter().map(|(n, _)| n.clone()).collect();
    let mut expectations = Vec::new();
    for x in &raw.expectations {
        if let (Some(_), Some(c)) = (&x.endpoint, &x.command) {
            return Err(err(
                c.span(),
                "give `endpoint` or `command`, not both".into(),
            ));
        }
        let ep = match x.endpoint.as_ref().or(x.command.as_ref()) {
            None => "*".to_string(),
            Some(n) if n.get_ref() == "*" || taken(n.get_ref(), &endpoints, &commands) => {
                n.get_ref().clone()
            }
            Some(n) => {
                return Err(err(
                    n.span(),
                    format!("no endpoint or command named `{}`", n.get_ref()),
                ));
            }
        };
        let db = match &x.database {
            None => None,
            Some(d) => Some(crate::vocab::SqlKey::Dialect(
                dialect(d.get_ref()).map_err(|m| err(d.span(), m))?,
            )),
        };
        for t in &x.that {
            expectations.push(
                Expectation::parse_with(&ep, db, t.get_ref(), &names)
                    .map_err(|m| err(t.span(), m))?,
            );
        }
    }
    let base_dir = path.parent().unwrap_or(Path::new("."));
    Ok(AppPlan {
        name: raw.name.get_ref().clone(),
        source: path.to_path_buf(),
        description: raw.description,
        teaches: raw.teaches,
        workload,
        url: a.url.as_ref().map(|u| u.get_ref().clone()),
        start: a.start.as_ref().map(|s| s.get_ref().clone()),
        dir: base_dir.join(a.dir.as_deref().unwrap_or(".")),
        ready: a.ready.clone().unwrap_or_else(|| "/".into()),
        ready_timeout,
        database,
        key_format: a
            .key_format
            .clone()
            .unwrap_or_else(|| "user{}@example.com".into()),
        setup: a.setup.clone(),
        cleanup: a.cleanup.clone(),
        verify,
        only_when_named: a.only_when_named,
        endpoints,
        commands,
        expectations,
    })
}

fn dialect(s: &str) -> Result<Dialect, String> {
    Dialect::parse(s).ok_or_else(|| format!("unknown dialect `{s}`: use postgres or mysql"))
}

type Located = (std::ops::Range<usize>, String);

fn endpoint(e: &RawEndpoint) -> Result<Endpoint, Located> {
    let method = match &e.method {
        None => "POST".to_string(),
        Some(m) => Some(m.get_ref().to_ascii_uppercase())
            .filter(|m| is_token(m))
            .ok_or_else(|| (m.span(), format!("`{}` is not an HTTP method", m.get_ref())))?,
    };
    let timeout = match &e.timeout {
        None => Duration::from_secs(10),
        Some(t) => parse_duration(t.get_ref()).map_err(|x| (t.span(), x.to_string()))?,
    };
    let mut status = StatusMap::default();
    for (k, v) in e.status.get_ref() {
        status
            .insert(k, outcome(v)?)
            .map_err(|m| (e.status.span(), m))?;
    }
    let json = match &e.json {
        None => None,
        Some(j) => {
            let pointer = j.field.get_ref();
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err((
                    j.field.span(),
                    format!("`{pointer}` is not a JSON pointer: write `/{pointer}`"),
                ));
            }
            let mut values = BTreeMap::new();
            for (k, v) in &j.values {
                values.insert(k.clone(), outcome(v)?);
            }
            Some(JsonMap {
                pointer: pointer.clone(),
                values,
            })
        }
    };
    let mut headers = Vec::new();
    for (k, v) in &e.headers {
        if !is_token(k) {
            return Err((e.name.span(), format!("`{k}` is not a header name")));
        }
        headers.push((k.to_ascii_lowercase(), v.clone()));
    }
    Ok(Endpoint {
        method,
        path: e.path.clone(),
        body: e.body.clone(),
        headers,
        timeout,
        status,
        json,
    })
}

/// An outcome class by its exact name.
fn outcome(v: &Spanned<String>) -> Result<Outcome, Located> {
    Outcome::parse(v.get_ref())
        .filter(|o| o.name() == v.get_ref())
        .ok_or_else(|| {
            let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.name()).collect();
            (
                v.span(),
                format!(
                    "unknown outcome `{}`; use one of {}",
                    v.get_ref(),
                    names.join(", ")
                ),
            )
        })
}

fn argv_of(v: &toml::Value) -> Option<Vec<String>> {
    let a = v.as_array()?;
    let argv: Option<Vec<String>> = a.iter().map(|x| x.as_str().map(String::from)).collect();
    argv.filter(|a| !a.is_empty())
}

fn command(c: &RawCommand) -> Result<Command, Located> {
    let span = c.argv.span();
    let shape = || {
        (
            span.clone(),
            "`argv` is a non-empty list of strings, or a table of them by dialect (`argv.postgres = [...]`, `argv.mysql = [...]`)".to_string(),
        )
    };
    let mut argv = BTreeMap::new();
    match c.argv.get_ref() {
        toml::Value::Table(t) => {
            for (d, v) in t {
                let d = dialect(d).map_err(|m| (span.clone(), m))?;
                argv.insert(Some(d), argv_of(v).ok_or_else(shape)?);
            }
            if argv.is_empty() {
                return Err(shape());
            }
        }
        v => {
            argv.insert(None, argv_of(v).ok_or_else(shape)?);
        }
    }
    let timeout = match &c.timeout {
        None => Duration::from_secs(10),
        Some(t) => parse_duration(t.get_ref()).map_err(|x| (t.span(), x.to_string()))?,
    };
    let mut exit = BTreeMap::new();
    for (k, v) in &c.exit {
        let code = k
            .parse::<i32>()
            .ok()
            .filter(|c| (0..=255).contains(c))
            .ok_or_else(|| (v.span(), format!("`{k}` is not an exit code (0 to 255)")))?;
        exit.insert(code, outcome(v)?);
    }
    let mut matches = Vec::new();
    for m in &c.matches {
        let r = m.get_ref();
        let given = [
            (Stream::Stdout, &r.stdout, false),
            (Stream::Stderr, &r.stderr, false),
            (Stream::Stdout, &r.stdout_regex, true),
            (Stream::Stderr, &r.stderr_regex, true),
        ];
        let mut given = given.into_iter().filter(|(_, t, _)| t.is_some());
        let (stream, text, regex) = match (given.next(), given.next()) {
            (Some((s, Some(t), re)), None) => (s, t.clone(), re),
            _ => {
                return Err((
                    m.span(),
                    "a `match` rule has exactly one of `stdout`, `stderr`, `stdout_regex`, `stderr_regex`".into(),
                ));
            }
        };
        let pattern = if regex {
            Pattern::Regex(
                regex::Regex::new(&text)
                    .map_err(|e| (m.span(), format!("bad regular expression: {e}")))?,
            )
        } else {
            Pattern::Contains(text)
        };
        matches.push(OutputMatch {
            stream,
            pattern,
            exit: r.exit,
            outcome: outcome(&r.outcome)?,
        });
    }
    if exit.is_empty() && matches.is_empty() {
        return Err((
            c.name.span(),
            "a command needs `exit` (exit code → outcome) or `match` rules: every run would be `other`".into(),
        ));
    }
    Ok(Command {
        argv,
        timeout,
        exit,
        matches,
    })
}
