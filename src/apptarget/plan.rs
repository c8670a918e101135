//! Application scenario files (a top-level `[app]` table): the raw TOML, and its checking
//! into an [`AppPlan`] with located errors. Documented in `docs/scenario-format.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::Method;
use hyper::header::HeaderName;
use serde::Deserialize;
use toml::Spanned;

use super::http::{Base, Endpoint, StatusMap};
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
    app: RawApp,
    #[serde(rename = "endpoint")]
    endpoints: Spanned<Vec<RawEndpoint>>,
    #[serde(default, rename = "expect")]
    expectations: Vec<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    url: Spanned<String>,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    endpoint: Option<Spanned<String>>,
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
    /// Base URL template (`{port}`: the port keyrace picked for a started application).
    pub url: String,
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
    /// Expectations (their `strategy` is the endpoint's name).
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
    let a = &raw.app;
    if a.start.is_none() && !a.url.get_ref().starts_with("http://") {
        return Err(err(a.url.span(), "`url` must be an http:// URL".into()));
    }
    Base::parse(&a.url.get_ref().replace("{port}", "1")).map_err(|m| err(a.url.span(), m))?;
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
    if matches!(database, AppDatabase::Run(_)) && a.start.is_none() {
        return Err(err(
            a.database.span(),
            "a database on the run's servers needs `start`: keyrace can only hand it to an application it starts; give the application's database URL instead".into(),
        ));
    }
    let ready_timeout = match &a.ready_timeout {
        None => Duration::from_secs(300),
        Some(t) => parse_duration(t.get_ref()).map_err(|e| err(t.span(), e.to_string()))?,
    };
    let mut endpoints: Vec<(String, Endpoint)> = Vec::new();
    for e in raw.endpoints.get_ref() {
        let name = e.name.get_ref().clone();
        if endpoints.iter().any(|(n, _)| *n == name) {
            return Err(err(
                e.name.span(),
                format!("a second endpoint named `{name}`"),
            ));
        }
        endpoints.push((name, endpoint(e).map_err(|(span, m)| err(span, m))?));
    }
    if endpoints.is_empty() {
        return Err(err(
            raw.endpoints.span(),
            "no `[[endpoint]]` to race".into(),
        ));
    }
    let verify: Vec<(String, String)> = a.verify.clone().into_iter().collect();
    let names: Vec<String> = verify.iter().map(|(n, _)| n.clone()).collect();
    let mut expectations = Vec::new();
    for x in &raw.expectations {
        let ep = match &x.endpoint {
            None => "*".to_string(),
            Some(n) if n.get_ref() == "*" || endpoints.iter().any(|(e, _)| e == n.get_ref()) => {
                n.get_ref().clone()
            }
            Some(n) => {
                return Err(err(
                    n.span(),
                    format!("no endpoint named `{}`", n.get_ref()),
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
        url: a.url.get_ref().clone(),
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
        expectations,
    })
}

fn dialect(s: &str) -> Result<Dialect, String> {
    Dialect::parse(s).ok_or_else(|| format!("unknown dialect `{s}`: use postgres or mysql"))
}

type Located = (std::ops::Range<usize>, String);

fn endpoint(e: &RawEndpoint) -> Result<Endpoint, Located> {
    let method = match &e.method {
        None => Method::POST,
        Some(m) => Method::from_bytes(m.get_ref().to_ascii_uppercase().as_bytes())
            .map_err(|_| (m.span(), format!("`{}` is not an HTTP method", m.get_ref())))?,
    };
    let timeout = match &e.timeout {
        None => Duration::from_secs(10),
        Some(t) => parse_duration(t.get_ref()).map_err(|x| (t.span(), x.to_string()))?,
    };
    let mut status = StatusMap::default();
    for (k, v) in e.status.get_ref() {
        let o = Outcome::parse(v.get_ref())
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
            })?;
        status.insert(k, o).map_err(|m| (e.status.span(), m))?;
    }
    let mut headers = Vec::new();
    for (k, v) in &e.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| (e.name.span(), format!("`{k}` is not a header name")))?;
        headers.push((name, v.clone()));
    }
    Ok(Endpoint {
        method,
        path: e.path.clone(),
        body: e.body.clone(),
        headers,
        timeout,
        status,
    })
}
