//! The report of `cairn plugin test`: text for people, JSON for tools, and
//! JUnit XML for CI systems, which show each rule as a test case.

use super::rules::Rule;
use super::runner::{Check, Verdict};
use serde_json::json;
use std::fmt::Write;

/// How many rules passed, failed and were skipped.
pub fn counts(checks: &[Check]) -> (usize, usize, usize) {
    let count = |verdict| checks.iter().filter(|c| c.verdict == verdict).count();
    (
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Skip),
    )
}

/// One line per rule, the hint under each failure, and a summary.
pub fn text(plugin: &str, checks: &[Check]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cairn plugin test: {plugin}");
    for check in checks {
        let word = match check.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        let _ = writeln!(
            out,
            "  {word}  {:<9} {:<26} {}",
            group_name(check.rule),
            check.rule.id(),
            check.detail
        );
        if check.verdict == Verdict::Fail {
            let _ = writeln!(out, "        fix: {}", check.rule.hint());
        }
    }
    let (passed, failed, skipped) = counts(checks);
    let _ = write!(out, "{passed} passed, {failed} failed, {skipped} skipped");
    out
}

/// The checks as a JSON document.
pub fn json(plugin: &str, checks: &[Check]) -> String {
    let (passed, failed, skipped) = counts(checks);
    let rules: Vec<_> = checks
        .iter()
        .map(|check| {
            json!({
                "rule": check.rule.id(),
                "group": check.rule.group(),
                "verdict": check.verdict,
                "detail": check.detail,
                "hint": (check.verdict == Verdict::Fail).then(|| check.rule.hint()),
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({
        "plugin": plugin,
        "passed": passed,
        "failed": failed,
        "skipped": skipped,
        "rules": rules,
    }))
    .expect("a report serializes")
}

/// The checks as JUnit XML: one test suite, one test case per rule, named
/// by its group.
pub fn junit(plugin: &str, checks: &[Check]) -> String {
    let (_, failed, skipped) = counts(checks);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites><testsuite name=\"cairn plugin test {}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\">",
        escape(plugin),
        checks.len()
    );
    for check in checks {
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\">",
            group_name(check.rule),
            check.rule.id()
        );
        match check.verdict {
            Verdict::Pass => {}
            Verdict::Fail => {
                let _ = write!(
                    out,
                    "<failure message=\"{}\">{}</failure>",
                    escape(&check.detail),
                    escape(check.rule.hint())
                );
            }
            Verdict::Skip => {
                let _ = write!(out, "<skipped message=\"{}\"/>", escape(&check.detail));
            }
        }
        let _ = writeln!(out, "</testcase>");
    }
    out.push_str("</testsuite></testsuites>");
    out
}

fn group_name(rule: Rule) -> &'static str {
    match rule.group() {
        super::rules::Group::Static => "static",
        super::rules::Group::Lifecycle => "lifecycle",
        super::rules::Group::Contract => "contract",
        super::rules::Group::Errors => "errors",
        super::rules::Group::Hygiene => "hygiene",
        super::rules::Group::Policy => "policy",
    }
}

/// Text made safe inside XML attributes and elements.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks() -> Vec<Check> {
        vec![
            Check {
                rule: Rule::Create,
                verdict: Verdict::Pass,
                detail: "1 change(s) applied".into(),
            },
            Check {
                rule: Rule::DeleteIdempotent,
                verdict: Verdict::Fail,
                detail: "entry/a: NotFound: <gone> & \"quoted\"".into(),
            },
            Check {
                rule: Rule::Unreachable,
                verdict: Verdict::Skip,
                detail: "no `[unreachable]`".into(),
            },
        ]
    }

    #[test]
    fn text_shows_each_rule_and_the_hint_of_a_failure() {
        let text = text("kv.wasm", &checks());
        assert!(text.contains("FAIL  lifecycle delete-idempotent"), "{text}");
        assert!(text.contains("fix: treat a 404"), "{text}");
        assert!(text.ends_with("1 passed, 1 failed, 1 skipped"), "{text}");
    }

    #[test]
    fn junit_is_escaped_and_counts_failures_and_skips() {
        let xml = junit("kv.wasm", &checks());
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("&lt;gone&gt; &amp; &quot;quoted&quot;"),
            "{xml}"
        );
        assert!(
            xml.contains("<testcase classname=\"errors\" name=\"unreachable\"><skipped"),
            "{xml}"
        );
    }

    #[test]
    fn json_names_rules_verdicts_and_hints() {
        let value: serde_json::Value = serde_json::from_str(&json("kv.wasm", &checks())).unwrap();
        assert_eq!(value["failed"], 1);
        assert_eq!(value["rules"][1]["rule"], "delete-idempotent");
        assert_eq!(value["rules"][1]["verdict"], "fail");
        assert!(value["rules"][0]["hint"].is_null());
        assert!(value["rules"][1]["hint"].as_str().unwrap().contains("404"));
    }
}
