//! The HTML report page: built from the sample report fixture and from edge cases (no
//! results, unavailable strategies, zero operations, one database), checked for content,
//! escaping, one inline SVG per plot and no network references.

use std::path::PathBuf;

use keyrace::report::{Report, html};

fn sample() -> Report {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-sample.json");
    Report::read_json(&path).expect("fixture is a report")
}

/// Plots per scenario with results.
const PLOTS: usize = 6;

/// Every `<svg` in the page.
fn svg_count(page: &str) -> usize {
    page.matches("<svg").count()
}

/// The text of every SVG `<text>` element, trimmed.
fn svg_texts(page: &str) -> Vec<String> {
    page.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

/// Fails on anything a browser would fetch: scripts, stylesheets, imports, images, fonts.
fn assert_offline(page: &str) {
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "page has a script element");
    assert!(!lower.contains("<link"), "page links a resource");
    assert!(!lower.contains("@import"), "stylesheet imports a resource");
    assert!(!lower.contains("<img"), "page has an image");
    assert!(!lower.contains("<iframe"), "page has an iframe");
    for attr in ["src=", "href=", "url("] {
        for (i, _) in lower.match_indices(attr) {
            let rest = &lower[i + attr.len()..];
            let rest = rest.trim_start_matches(['"', '\'', ' ']);
            assert!(
                !rest.starts_with("http://")
                    && !rest.starts_with("https://")
                    && !rest.starts_with("//"),
                "page references a network resource: {}",
                &page[i..(i + 80).min(page.len())]
            );
        }
    }
}

#[test]
fn page_shows_scenarios_strategies_and_servers() {
    let r = sample();
    let page = html::render(&r);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(&r.run_id));
    assert!(page.contains(&r.keyrace_version));
    assert!(page.contains(&r.started_at));
    assert!(page.contains("signup-race"));
    for s in &r.scenarios {
        for res in &s.results {
            assert!(
                page.contains(&html::escape(&res.strategy)),
                "strategy {} missing",
                res.strategy
            );
        }
    }
    for srv in &r.servers {
        assert!(page.contains(&html::escape(&srv.database)));
        assert!(page.contains(&html::escape(&srv.url)));
    }
    for claim in &r.scenarios[0].claims {
        assert!(page.contains(&html::escape(claim)));
    }
    // Unavailable strategies say so, with their note.
    assert!(page.contains("n/a — not available on mysql"));
    // A failed expectation is highlighted with its value.
    assert!(page.contains("<li class=\"failed\">✗ inserted = 150 (got 5)</li>"));
    assert!(page.contains("bad-cell"));
    // The second scenario stopped on an error.
    assert!(page.contains("stopped on an error: setup SQL failed"));
    assert!(!page.contains("Interrupted:"));
}

#[test]
fn one_svg_per_plot() {
    let r = sample();
    let page = html::render(&r);
    // Six plots for each scenario with results.
    let with_results = r.scenarios.iter().filter(|s| !s.results.is_empty()).count();
    assert_eq!(svg_count(&page), PLOTS * with_results, "{page}");
    assert!(!page.contains("plot unavailable"), "a plot failed to draw");
    for title in [
        "What went wrong",
        "Throughput",
        "Throughput over time",
        "Latency",
        "Latency distribution",
        "Outcome mix",
    ] {
        assert!(page.contains(&format!("<h3>{title}</h3>")));
    }
    // Outcome classes appear in the outcome-mix legend.
    let texts = svg_texts(&page);
    for class in [
        "inserted",
        "existed",
        "unique_violation",
        "deadlock",
        "serialization_failure",
        "lock_timeout",
    ] {
        assert!(texts.iter().any(|t| t == class), "legend lacks {class}");
    }
}

#[test]
fn scenario_text_is_escaped() {
    let page = html::render(&sample());
    assert!(!page.to_ascii_lowercase().contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("Counters &amp; "));
    assert!(page.contains("counter &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    // Strategy names are escaped in the table and in the plots' SVG text.
    assert!(page.contains("atomic-increment &lt;b&gt;"));
    assert!(
        svg_texts(&page)
            .iter()
            .any(|t| t == "atomic-increment &lt;b&gt;")
    );
    assert!(!page.contains("atomic-increment <b>"));
    assert!(
        svg_texts(&page)
            .iter()
            .any(|t| t == "atomic-increment &lt;b&gt;")
    );
}

#[test]
fn page_is_offline() {
    assert_offline(&html::render(&sample()));
}

#[test]
fn interrupted_run_has_a_banner() {
    let mut r = sample();
    r.interrupted = true;
    assert!(html::render(&r).contains("Interrupted:"));
}

#[test]
fn empty_report_renders() {
    let mut r = sample();
    r.scenarios.clear();
    r.servers.clear();
    let page = html::render(&r);
    assert!(page.contains("no scenarios"));
    assert_eq!(svg_count(&page), 0);
    assert!(page.ends_with("</html>\n"));
}

#[test]
fn scenario_without_results_renders() {
    let mut r = sample();
    for s in &mut r.scenarios {
        s.results.clear();
    }
    let page = html::render(&r);
    assert!(page.contains("No results for this scenario."));
    assert_eq!(svg_count(&page), 0);
}

#[test]
fn all_unavailable_or_zero_ops_does_not_panic() {
    let mut r = sample();
    for s in &mut r.scenarios {
        for res in &mut s.results {
            res.available = false;
        }
    }
    let page = html::render(&r);
    // Throughput and outcome plots still draw ("n/a" rows); latency has nothing to show.
    assert!(page.contains("plot unavailable: no operations were measured"));
    assert_offline(&page);

    let mut r = sample();
    for s in &mut r.scenarios {
        for res in &mut s.results {
            res.ops = 0;
            res.ops_per_sec = 0.0;
            res.latency_us = Default::default();
            res.outcomes = Default::default();
        }
    }
    let page = html::render(&r);
    assert!(page.contains("no operations"));
}

#[test]
fn single_database() {
    let mut r = sample();
    r.servers.truncate(1);
    let only = r.servers[0].database.clone();
    for s in &mut r.scenarios {
        s.results.retain(|x| x.database == only);
    }
    r.conclude();
    let page = html::render(&r);
    assert_eq!(svg_count(&page), PLOTS * 2);
    assert!(!page.contains("MariaDB"));
    // With one database the outcome rows are labelled by strategy alone.
    assert!(!page.contains(&format!("check-then-insert · {only}")));
}

fn interleave_sample() -> Report {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-lanes.json");
    Report::read_json(&path).expect("fixture is a report")
}

/// The `N held, M failed` of the terminal's last line and of the page's summary.
fn terminal_counts(r: &Report) -> (usize, usize) {
    let text = keyrace::report::table::render(r, &Default::default());
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains(" held, ") && l.contains(" failed"))
        .expect("terminal summary line");
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn page_counts(page: &str) -> (usize, usize) {
    let grab = |id: &str| -> usize {
        let at = page.find(&format!("id=\"{id}\">")).expect("summary count") + id.len() + 6;
        page[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    (grab("held"), grab("failed"))
}

#[test]
fn interleavings_count_like_the_terminal() {
    // Interleavings only (was "0 scenarios, 0 held" while the terminal said 7 held).
    let il = interleave_sample();
    let page = html::render(&il);
    let n = il.interleavings.len();
    assert!(n > 0);
    assert!(
        page.contains(&format!("{n} scenarios (interleavings)")),
        "{page}"
    );
    assert_eq!(page_counts(&page), terminal_counts(&il));
    assert_eq!(
        page_counts(&page).0,
        n,
        "every interleaving matched its expected files"
    );
    // Both kinds in one run (was 189 held on the page, 196 in the terminal).
    let mut both = sample();
    both.interleavings = il.interleavings.clone();
    let page = html::render(&both);
    assert_eq!(page_counts(&page), terminal_counts(&both));
    let stress_only = page_counts(&html::render(&sample()));
    assert_eq!(page_counts(&page).0, stress_only.0 + n);
    assert!(page.contains(&format!(
        "{} scenarios ({} stress, {n} interleaving)",
        both.scenarios.len() + n,
        both.scenarios.len()
    )));
}

#[test]
fn interleavings_have_a_summary_table_and_swim_lanes() {
    let il = interleave_sample();
    let page = html::render(&il);
    assert_offline(&page);
    let tables = page
        .matches("<table class=\"interleave-summary cards\">")
        .count();
    assert_eq!(tables, il.interleavings.len());
    let permutations: usize = il
        .interleavings
        .iter()
        .map(|i| {
            i.report["targets"][0]["permutations"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    assert!(permutations >= il.interleavings.len());
    assert_eq!(page.matches("<tr data-permutation=").count(), permutations);
    assert_eq!(
        page.matches("<figure class=\"lanes\"").count(),
        permutations
    );
    assert_eq!(
        page.matches("<svg class=\"swimlanes\"").count(),
        permutations
    );
    // check-then-insert: s2_insert waits for s1's commit, then fails with a unique violation.
    let first = &page[page
        .find("id=\"interleaving-0-perm-0\"")
        .expect("first picture")..];
    let first = &first[..first.find("</figure>").expect("figure ends")];
    assert!(first.contains("class=\"wait-bar\""), "{first}");
    assert!(first.contains("lane-step lane-error"), "{first}");
    assert!(first.contains("✕ 23505 unique"), "{first}");
    assert!(first.contains("✕ 1062 unique"), "{first}");
    // Lanes are the sessions.
    assert!(first.contains(">s1</text>") && first.contains(">s2</text>"));
    // The summary rows say what the terminal's summary says.
    assert!(page.contains("s2_insert: unique_violation 23505 (waited: s2_insert)"));
}

#[test]
fn key_table_has_the_figures_and_time_to_first_violation() {
    let r = sample();
    let page = html::render(&r);
    let s = &r.scenarios[0];
    for res in s.results.iter().filter(|x| x.available) {
        let marker = format!(
            "data-strategy=\"{}\" data-database=\"{}\">",
            html::escape(&res.strategy),
            html::escape(&res.database)
        );
        let at = page
            .find(&marker)
            .unwrap_or_else(|| panic!("no key row for {marker}"));
        let row = &page[at..at + page[at..].find("</tr>").expect("row ends")];
        let cell = |label: &str| -> String {
            let k = format!("data-label=\"{label}\">");
            let i = row
                .find(&k)
                .unwrap_or_else(|| panic!("no {label} cell in {row}"))
                + k.len();
            row[i..i + row[i..].find("</td>").expect("cell ends")].to_string()
        };
        assert_eq!(cell("dup rows"), keyrace::report::num(res.duplicate_rows));
        assert!(
            cell("violations").starts_with(&keyrace::report::num(res.outcomes.unique_violation))
        );
        assert_eq!(cell("p99 µs"), keyrace::report::num(res.latency_us.p99));
        match res.time_to_first_violation_ms {
            Some(_) => {
                assert!(cell("1st viol.").ends_with(" ms") || cell("1st viol.").ends_with(" s"))
            }
            None => assert_eq!(cell("1st viol."), "–"),
        }
    }
}
