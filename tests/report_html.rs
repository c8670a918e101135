//! The HTML report page: built from the sample report fixture and from edge cases (no
//! results, unavailable strategies, zero operations, one database), checked for content,
//! escaping, one inline SVG per plot and no network references.

use std::path::PathBuf;

use keyrace::report::{Report, html};

fn sample() -> Report {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-sample.json");
    Report::read_json(&path).expect("fixture is a report")
}

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
    // Three plots for each scenario with results.
    let with_results = r.scenarios.iter().filter(|s| !s.results.is_empty()).count();
    assert_eq!(svg_count(&page), 3 * with_results, "{page}");
    assert!(!page.contains("plot unavailable"), "a plot failed to draw");
    for title in ["Throughput", "Latency", "Outcome mix"] {
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
    let page = html::render(&r);
    assert_eq!(svg_count(&page), 3 * 2);
    assert!(!page.contains("MariaDB"));
    // With one database the outcome rows are labelled by strategy alone.
    assert!(!page.contains(&format!("check-then-insert · {only}")));
}
