//! The HTML report in a real browser: headless Chromium (Debian package `chromium`, installed
//! by `.ci/run`) renders the pages of real runs (stress scenarios, interleavings, both in one
//! run) and of the sample fixture. The rendered DOM must hold the verdicts, the charts and the
//! swim lanes; its counts must equal the JSON's and the terminal's; at 1280 px the key tables
//! need no horizontal scroll, at 400 px the page none at all. Screenshots at both widths are
//! kept in `target/tmp/report-browser/` for a human to look at.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyrace::db::Dialect;
use keyrace::report::{Report, html, num};
use serde_json::Value;

/// Where Debian's package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser, or a loud failure saying how to get it.
fn chromium() -> PathBuf {
    let p = PathBuf::from(CHROMIUM);
    assert!(
        p.exists(),
        "{CHROMIUM} is missing: the browser test needs headless Chromium \
         (`apt-get install chromium`; .ci/run installs it)"
    );
    p
}

/// Runs Chromium on `url` with `extra` arguments in a fresh profile and returns its stdout;
/// fails when it exits with an error or takes over two minutes.
fn browse(url: &str, width: u32, height: u32, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // The 400 px frame reads its page's measurements (both are file:// pages).
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Read both pipes while waiting: a page's DOM is larger than a pipe's buffer.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish {url} within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().expect("stdout reader");
    let err = err_reader.join().expect("stderr reader");
    assert!(
        status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&err)
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// A script appended to a copy of the page (the page itself has none): it records the
/// viewport width, the document's scroll width and each key or summary table's wrapper
/// client and scroll widths in `<body data-measure>`.
const MEASURE: &str = "<script>document.body.setAttribute('data-measure', JSON.stringify({\
    vw: innerWidth, doc: document.documentElement.scrollWidth, \
    tables: [...document.querySelectorAll('table.key, table.interleave-summary, table.servers')]\
    .map(t => [t.parentElement.clientWidth, t.parentElement.scrollWidth])}));</script>";

/// What the layout measurement found.
#[derive(Debug)]
struct Layout {
    viewport: u64,
    document: u64,
    /// (client width, scroll width) of each table's wrapper.
    tables: Vec<(u64, u64)>,
}

fn layout_of(attr: &str) -> Layout {
    let json = attr.replace("&quot;", "\"");
    let v: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    Layout {
        viewport: v["vw"].as_u64().expect("vw"),
        document: v["doc"].as_u64().expect("doc"),
        tables: v["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .map(|t| (t[0].as_u64().unwrap(), t[1].as_u64().unwrap()))
            .collect(),
    }
}

/// The value of the first `name="…"` attribute in `dom`.
fn attribute<'a>(dom: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let at = dom
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in the DOM"))
        + key.len();
    &dom[at..at + dom[at..].find('"').expect("attribute ends")]
}

/// A page rendered in the browser: its DOM at 1280 px, layouts at 1280 and 400 px, and
/// screenshots at both widths.
struct Rendered {
    dom: String,
    wide: Layout,
    narrow: Layout,
}

fn render_in_browser(page_html: &str, name: &str) -> Rendered {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, page_html).expect("write page");
    let measured = dir.join(format!("{name}-measured.html"));
    std::fs::write(
        &measured,
        page_html.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .expect("write measured page");
    // Chromium's windows are at least 500 px wide: 400 px is a frame of that width.
    let frame = |src: &Path| {
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0\"><iframe id=\"f\" src=\"{}\" \
             style=\"width:400px;height:2400px;border:0\"></iframe><script>\
             document.getElementById('f').addEventListener('load', () => \
             document.body.setAttribute('data-inner', document.getElementById('f')\
             .contentDocument.body.getAttribute('data-measure') || 'none'));</script>\
             </body></html>",
            src.file_name().unwrap().to_string_lossy()
        )
    };
    let narrow_page = dir.join(format!("{name}-400.html"));
    std::fs::write(&narrow_page, frame(&measured)).expect("write frame");
    let narrow_shot_page = dir.join(format!("{name}-400-shot.html"));
    std::fs::write(&narrow_shot_page, frame(&page)).expect("write frame");
    let url = |p: &Path| format!("file://{}", p.display());

    let dom = browse(&url(&measured), 1280, 900, &["--dump-dom"]);
    let wide = layout_of(attribute(&dom, "data-measure"));
    let framed = browse(&url(&narrow_page), 500, 900, &["--dump-dom"]);
    let narrow = layout_of(attribute(&framed, "data-inner"));
    for (w, target, shot) in [(1280, &page, "1280"), (400, &narrow_shot_page, "400")] {
        let png = dir.join(format!("{name}-{shot}.png"));
        let _ = std::fs::remove_file(&png);
        browse(
            &url(target),
            w,
            2000,
            &[&format!("--screenshot={}", png.display())],
        );
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(width, w, "{} is {width} px wide", png.display());
        assert!(bytes.len() > 20_000, "{} looks blank", png.display());
    }
    Rendered { dom, wide, narrow }
}

/// The cell labelled `label` in the key row of `strategy` on `database`.
fn key_cell(dom: &str, strategy: &str, database: &str, label: &str) -> String {
    let marker = format!(
        "data-strategy=\"{}\" data-database=\"{}\">",
        html::escape(strategy),
        html::escape(database)
    );
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no key row for {strategy} on {database}"));
    let row = &dom[at..at + dom[at..].find("</tr>").expect("row ends")];
    let key = format!("data-label=\"{label}\">");
    let i = row
        .find(&key)
        .unwrap_or_else(|| panic!("no {label} cell for {strategy} on {database}: {row}"))
        + key.len();
    row[i..i + row[i..].find("</td>").expect("cell ends")].to_string()
}

/// ops/s as the page prints it.
fn rate(v: f64) -> String {
    if v > 0.0 && v < 10.0 {
        format!("{v:.1}")
    } else {
        num(v.round() as u64)
    }
}

/// Predictions held and failed, counted from the JSON itself.
fn json_counts(doc: &Value) -> (usize, usize) {
    let mut held = 0;
    let mut failed = 0;
    for s in doc["scenarios"].as_array().into_iter().flatten() {
        for r in s["results"].as_array().into_iter().flatten() {
            for e in r["expectations"].as_array().into_iter().flatten() {
                if e["held"] == Value::Bool(true) {
                    held += 1;
                } else {
                    failed += 1;
                }
            }
        }
    }
    for i in doc["interleavings"].as_array().into_iter().flatten() {
        match i["matched_expected"].as_bool() {
            Some(true) => held += 1,
            Some(false) => failed += 1,
            None => {}
        }
    }
    // A lesson's claims with a predicted verdict are predictions too: held when the
    // measured verdict is the predicted one.
    let claims = doc["interleavings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["claims"].as_array().into_iter().flatten())
        .chain(
            doc["scenarios"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["claim_verdicts"].as_array().into_iter().flatten()),
        );
    for server in claims.flat_map(|c| c["servers"].as_array().into_iter().flatten()) {
        match server.get("predicted") {
            None | Some(Value::Null) => {}
            Some(p) if *p == server["verdict"] => held += 1,
            Some(_) => failed += 1,
        }
    }
    (held, failed)
}

/// The number before `word` in `text` (`7 held` → 7).
fn number_before(text: &str, word: &str) -> usize {
    let at = text
        .find(&format!(" {word}"))
        .unwrap_or_else(|| panic!("no '{word}' in {text}"));
    let digits: String = text[..at]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number before {word} in {text}"))
}

/// The page's `N held, M failed`.
fn page_counts(dom: &str) -> (usize, usize) {
    let at = dom.find("class=\"summary\"").expect("summary line");
    let line = &dom[at..at + dom[at..].find("</p>").expect("summary ends")];
    let text = strip_tags(line);
    (number_before(&text, "held"), number_before(&text, "failed"))
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut tag = false;
    for c in s.chars() {
        match c {
            '<' => tag = true,
            '>' => tag = false,
            c if !tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Checks a rendered page against its JSON: header counts, every key row's figures, the
/// verdicts, a chart of each kind per scenario, swim lanes per permutation, and the layout.
fn check_page(r: &Rendered, doc: &Value, terminal: Option<(usize, usize)>) {
    let dom = &r.dom;
    let counts = json_counts(doc);
    assert_eq!(page_counts(dom), counts, "page counts differ from the JSON");
    if let Some(t) = terminal {
        assert_eq!(page_counts(dom), t, "page counts differ from the terminal");
    }
    let scenarios = doc["scenarios"].as_array().map_or(0, Vec::len)
        + doc["interleavings"].as_array().map_or(0, Vec::len);
    let meta = strip_tags(attribute_block(dom, "scenario-count"));
    assert!(
        meta.starts_with(&format!(
            "{scenarios} scenario{}",
            if scenarios == 1 { "" } else { "s" }
        )),
        "header says {meta}, the JSON has {scenarios} scenarios"
    );
    for s in doc["scenarios"].as_array().into_iter().flatten() {
        let results = s["results"].as_array().expect("results");
        for res in results
            .iter()
            .filter(|x| x["available"] == Value::Bool(true))
        {
            let (st, db) = (
                res["strategy"].as_str().unwrap(),
                res["database"].as_str().unwrap(),
            );
            let cell = |label: &str| key_cell(dom, st, db, label);
            let n = |field: &str| num(res[field].as_u64().expect(field));
            // The median, then (for repeated cells) the min–max range in a <small>.
            let first = |c: String| c.split('<').next().unwrap_or_default().to_string();
            assert_eq!(
                first(cell("ops/s")),
                rate(res["ops_per_sec"].as_f64().unwrap())
            );
            assert_eq!(
                first(cell("p99 µs")),
                num(res["latency_us"]["p99"].as_u64().unwrap())
            );
            assert!(
                strip_tags(&cell("violations"))
                    .starts_with(&num(res["outcomes"]["unique_violation"].as_u64().unwrap())),
                "violations of {st} on {db}"
            );
            assert_eq!(cell("dup rows"), n("duplicate_rows"));
            assert_eq!(cell("lost upd"), n("lost_updates"));
            // The verdict comes first, with its reasons ("–" when no operation finished).
            let verdict = strip_tags(&cell("verdict"));
            match res["verdict"]["level"].as_str() {
                Some(level) => {
                    assert!(
                        verdict.starts_with(level),
                        "verdict of {st} on {db} is not {level}: {verdict}"
                    );
                    for reason in res["verdict"]["reasons"].as_array().unwrap() {
                        let reason = html::escape(reason.as_str().unwrap());
                        assert!(cell("verdict").contains(&reason), "{reason} missing");
                    }
                }
                None => {
                    assert_eq!(res["ops"], 0, "no verdict for {st} on {db} in the JSON");
                    assert_eq!(verdict, "–");
                }
            }
            let row_start = dom
                .find(&format!(
                    "data-strategy=\"{}\" data-database=\"{}\">",
                    html::escape(st),
                    html::escape(db)
                ))
                .unwrap();
            let first_cell = &dom[row_start..];
            assert!(
                first_cell[first_cell.find("<td").unwrap()..]
                    .starts_with("<td class=\"verdict-cell\""),
                "the verdict is not the first column"
            );
        }
        for f in s["fastest_safe"].as_array().expect("fastest_safe") {
            let db = html::escape(f["database"].as_str().unwrap());
            let line = match f["strategy"].as_str() {
                Some(name) => format!(
                    "Fastest safe strategy on {db}: <b>{}</b>",
                    html::escape(name)
                ),
                None => format!("No strategy was safe on {db}."),
            };
            assert!(dom.contains(&line), "missing: {line}");
        }
        if results.iter().any(|x| x["available"] == Value::Bool(true)) {
            for plot in ["correctness", "timeline", "cdf"] {
                let key = format!("class=\"plot plot-{plot}\"");
                let at = dom
                    .find(&key)
                    .unwrap_or_else(|| panic!("no {plot} chart for {}", s["name"]));
                let block = &dom[at..at + dom[at..].find("</div>").expect("plot ends")];
                assert!(block.contains("<svg"), "{plot} chart is not drawn: {block}");
            }
        }
    }
    let permutations: usize = doc["interleavings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            i["report"]["targets"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["skipped"].is_null()))
                .and_then(|t| t["permutations"].as_array())
                .map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(
        dom.matches("<figure class=\"lanes\"").count(),
        permutations,
        "one swim-lane picture per permutation"
    );
    assert_eq!(
        dom.matches("<svg class=\"swimlanes\"").count(),
        permutations
    );
    // Layout: at 1280 px no key table scrolls sideways and the page fits; at 400 px nothing
    // makes the page wider than the screen.
    assert_eq!(r.wide.viewport, 1280);
    assert!(
        r.wide.document <= 1280,
        "page scrolls sideways at 1280 px: {:?}",
        r.wide
    );
    for (client, scroll) in &r.wide.tables {
        assert!(
            scroll <= client,
            "a key table scrolls sideways at 1280 px: {:?}",
            r.wide
        );
    }
    assert_eq!(r.narrow.viewport, 400);
    assert!(
        r.narrow.document <= 400,
        "page scrolls sideways at 400 px: {:?}",
        r.narrow
    );
    for (client, scroll) in &r.narrow.tables {
        assert!(
            scroll <= client,
            "a key table scrolls sideways at 400 px: {:?}",
            r.narrow
        );
    }
}

/// The element holding class `class`, from its start tag to its end.
fn attribute_block<'a>(dom: &'a str, class: &str) -> &'a str {
    let at = dom
        .find(&format!("class=\"{class}\""))
        .unwrap_or_else(|| panic!("no {class} in the DOM"));
    let start = at + dom[at..].find('>').expect("tag ends") + 1;
    &dom[start..start + dom[start..].find("</").expect("element ends")]
}

/// A small stress scenario without a unique constraint: check-then-insert leaves duplicate
/// rows, the advisory lock does not.
const STRESS: &str = r#"
name = "browser-check"
description = "4 sessions race to insert the same email into a table without a unique constraint."
teaches = "Nothing new: this run feeds the browser test of the HTML report."

[schema]
postgres = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL, name TEXT)"
mysql = "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL, name VARCHAR(255)) ENGINE=InnoDB"

[table]
name = "users"
key = "email"
payload = "name"

[workload]
workers = 4
operations = 400
mode = "rounds"
isolation = "read-committed"
seed = 11

[[strategy]]
use = "check-then-insert"
[[strategy]]
use = "advisory-lock"

[[expect]]
strategy = "advisory-lock"
that = ["duplicate_rows = 0"]
"#;

/// Runs `keyrace run` on `files` and returns (terminal counts, JSON, HTML).
fn run(files: &[&Path], extra: &[&str]) -> ((usize, usize), Value, String) {
    let out_dir = tempfile::tempdir().expect("out dir");
    let out = Command::new(env!("CARGO_BIN_EXE_keyrace"))
        .arg("run")
        .args(files)
        .arg("--out")
        .arg(out_dir.path())
        .arg("--quiet")
        .args(extra)
        .env("KEYRACE_POSTGRES_URL", common::url(Dialect::Postgres))
        .env("KEYRACE_MYSQL_URL", common::url(Dialect::Mysql))
        .output()
        .expect("run keyrace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "keyrace run failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" held") && l.contains(" failed"))
        .unwrap_or_else(|| panic!("no summary line in the terminal output:\n{stdout}"));
    let terminal = (number_before(line, "held"), number_before(line, "failed"));
    let json = std::fs::read_dir(out_dir.path())
        .expect("results dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a results file");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("read json")).expect("json");
    let page = std::fs::read_to_string(json.with_extension("html")).expect("html written");
    (terminal, doc, page)
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn stress_and_interleaving_run_in_the_browser() {
    chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let stress = dir.path().join("browser-check.toml");
    std::fs::write(&stress, STRESS).expect("write scenario");
    let interleave = repo("scenarios/interleave/check-then-insert.toml");
    // Both kinds in one run, each stress cell twice (medians with their min–max).
    let (terminal, doc, page) = run(
        &[&stress, &interleave],
        &["--duration", "2s", "--repeat", "2"],
    );
    let rendered = render_in_browser(&page, "both");
    check_page(&rendered, &doc, Some(terminal));
    let dom = &rendered.dom;
    // check-then-insert without the constraint leaves duplicates, and the chart shows them.
    let dup = doc["scenarios"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["strategy"] == "check-then-insert")
        .map(|r| r["duplicate_rows"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(dup > 0, "check-then-insert left no duplicates: {doc}");
    let at = dom.find("class=\"plot plot-correctness\"").unwrap();
    let chart = &dom[at..at + dom[at..].find("</svg>").unwrap()];
    assert!(chart.contains(&format!(">{}</text>", num(dup))), "{chart}");
    assert!(chart.contains("duplicate rows") && chart.contains("lost updates"));
    // Per-second series in the JSON: each repetition's seconds add up to its operations.
    let cells = doc["scenarios"][0]["results"].as_array().unwrap();
    assert!(
        cells
            .iter()
            .all(|r| r["repetitions"].as_array().map(Vec::len) == Some(2))
    );
    assert!(dom.contains("title=\"median of 2 repetitions; min–max\""));
    for r in cells
        .iter()
        .flat_map(|r| r["repetitions"].as_array().unwrap())
    {
        let per_second: u64 = r["per_second"]["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(per_second, r["ops"].as_u64().unwrap());
    }
    // The interleaving: s2_insert waits for s1's commit, then fails with a unique violation.
    let lanes = &dom[dom.find("<figure class=\"lanes\"").unwrap()..];
    let lanes = &lanes[..lanes.find("</figure>").unwrap()];
    assert!(lanes.contains("class=\"wait-bar\""), "no wait bar: {lanes}");
    assert!(
        lanes.contains("lane-step lane-error"),
        "no error marked: {lanes}"
    );
    assert!(dom.contains("<table class=\"interleave-summary cards\">"));
}

#[test]
fn interleavings_only_run_counts_like_the_terminal() {
    chromium();
    let (terminal, doc, page) = run(
        &[
            &repo("scenarios/interleave/check-then-insert.toml"),
            &repo("scenarios/interleave/on-conflict-do-nothing.toml"),
        ],
        &[],
    );
    let rendered = render_in_browser(&page, "interleavings");
    check_page(&rendered, &doc, Some(terminal));
    let matched = doc["interleavings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["matched_expected"] == Value::Bool(true))
        .count();
    assert_eq!(matched, 2, "both interleavings match their expected files");
    // The rest of the predictions are the lessons' claims with a predicted verdict.
    assert_eq!(terminal, (json_counts(&doc).0, 0), "every prediction held");
    assert!(
        terminal.0 > matched,
        "check-then-insert's claims count as predictions"
    );
}

#[test]
fn sample_fixture_in_the_browser() {
    chromium();
    let path = repo("tests/fixtures/report-sample.json");
    let report = Report::read_json(&path).expect("fixture");
    let doc: Value = serde_json::to_value(&report).expect("json");
    let rendered = render_in_browser(&html::render(&report), "sample");
    check_page(&rendered, &doc, None);
    // A failed prediction is shown with its value; escaped names stay text.
    assert!(rendered.dom.contains("✗ inserted = 150 (got 5)"));
    assert!(rendered.dom.contains("atomic-increment &lt;b&gt;"));
}
