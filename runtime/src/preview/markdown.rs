//! A preview as Markdown for a pull-request comment (GitHub, GitLab,
//! Gitea and Forgejo render the same subset): a summary line with the
//! counts, the policies' findings first, then a collapsible section per
//! provider with its changes and the fields that change. Values of
//! sensitive fields are already withheld from the plan (`(sensitive)`),
//! and every text from the repository or a provider is escaped, so that a
//! resource name cannot inject Markdown or HTML into the comment.

use super::Preview;
use crate::plan::{PlanAction, PlannedChange, PolicyFinding};
use cairn_contract::FindingSeverity;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The most field changes shown per resource: a comment stays readable,
/// and the JSON form has every one.
pub const MAX_FIELDS_SHOWN: usize = 20;

/// The most characters a comment may hold: GitHub refuses a comment over
/// 65,536, and a CI job may add its own lines around it.
pub const MAX_COMMENT_CHARS: usize = 60_000;

/// The rows listed per table (findings, each provider's changes), largest
/// first: the comment is rendered with each in turn until it fits in
/// [`MAX_COMMENT_CHARS`]; the rows left out are counted, and the JSON form
/// has every one.
const ROWS_PER_TABLE: [usize; 5] = [500, 100, 25, 5, 0];

/// The preview as Markdown, within [`MAX_COMMENT_CHARS`].
pub fn render(preview: &Preview) -> String {
    let mut text = String::new();
    for rows in ROWS_PER_TABLE {
        text = render_with(preview, rows);
        if text.chars().count() <= MAX_COMMENT_CHARS {
            break;
        }
    }
    text
}

/// The preview as Markdown, listing at most `rows` rows per table.
fn render_with(preview: &Preview, rows: usize) -> String {
    let plan = &preview.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Cairn preview of {} for tenant {}\n",
        code(&preview.reference),
        code(&plan.tenant)
    );
    let _ = writeln!(
        out,
        "Commit {} by {}: {}\n",
        code(plan.commit.short_id()),
        escape(&plan.commit.author),
        escape(&plan.commit.summary)
    );
    let counts: Vec<String> = plan
        .counts()
        .into_iter()
        .map(|(action, count)| format!("{count} to {}", action.as_str()))
        .collect();
    let summary = match counts.is_empty() {
        true => "No changes".to_string(),
        false => counts.join(", "),
    };
    let verdict = match (preview.blocked_by.is_empty(), plan.findings.len()) {
        (false, _) => format!(
            "❌ **blocked** by {}",
            preview
                .blocked_by
                .iter()
                .map(|p| code(p))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (true, 0) => "✅ policies pass".to_string(),
        (true, n) => format!("⚠️ policies pass with {n} finding(s)"),
    };
    let _ = writeln!(
        out,
        "**{summary}**; {} unchanged. {verdict}.\n",
        plan.unchanged
    );
    for reason in &plan.blocked {
        let _ = writeln!(out, "> ⚠️ {}\n", escape(reason));
    }
    if !plan.findings.is_empty() {
        findings(&mut out, &plan.findings, rows);
    }
    let mut by_provider: BTreeMap<&str, Vec<&PlannedChange>> = BTreeMap::new();
    for change in &plan.changes {
        by_provider
            .entry(change.address.provider.as_str())
            .or_default()
            .push(change);
    }
    for (provider, changes) in by_provider {
        provider_section(&mut out, provider, &changes, rows);
    }
    for note in &plan.notes {
        let _ = writeln!(out, "> {}\n", escape(note));
    }
    let _ = writeln!(
        out,
        "<sub>Planned against the live world by Cairn; nothing was applied. Plan checksum {}.</sub>",
        code(plan.checksum.get(..12).unwrap_or(&plan.checksum))
    );
    out
}

fn findings(out: &mut String, findings: &[PolicyFinding], rows: usize) {
    let _ = writeln!(out, "#### Policy findings\n");
    if rows == 0 {
        let _ = writeln!(
            out,
            "{} finding(s): too many to list here (the JSON form lists them).\n",
            findings.len()
        );
        return;
    }
    let _ = writeln!(out, "| | Policy | Rule | Resource | Message |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for found in findings.iter().take(rows) {
        let finding = &found.finding;
        let mark = match (found.blocks(), finding.severity) {
            (true, _) => "❌ blocks",
            (false, FindingSeverity::Error) => "❗ error",
            (false, FindingSeverity::Warning) => "⚠️ warning",
            (false, FindingSeverity::Info) => "ℹ️ info",
        };
        let resource = match (&finding.address, &finding.field) {
            (Some(address), Some(field)) => format!("{} {}", code(address), code(field)),
            (Some(address), None) => code(address),
            _ => String::new(),
        };
        let message = match &finding.help {
            Some(help) => format!("{}<br>*{}*", cell(&finding.message), cell(help)),
            None => cell(&finding.message),
        };
        let _ = writeln!(
            out,
            "| {mark} | {} ({}) | {} | {resource} | {message} |",
            code(&found.policy),
            found.enforcement.as_str(),
            code(&finding.rule),
        );
    }
    if findings.len() > rows {
        let _ = writeln!(
            out,
            "\n…and {} more finding(s) (the JSON form lists every one).",
            findings.len() - rows
        );
    }
    out.push('\n');
}

fn provider_section(out: &mut String, provider: &str, changes: &[&PlannedChange], rows: usize) {
    let mut counts: BTreeMap<u8, (PlanAction, usize)> = BTreeMap::new();
    for change in changes {
        counts
            .entry(change.action as u8)
            .or_insert((change.action, 0))
            .1 += 1;
    }
    let counted: Vec<String> = counts
        .values()
        .map(|(action, count)| format!("{count} to {}", action.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "<details><summary><b>{}</b>: {}</summary>\n",
        html(provider),
        counted.join(", ")
    );
    if rows > 0 {
        let _ = writeln!(out, "| | Resource | Change |");
        let _ = writeln!(out, "|---|---|---|");
    }
    for change in changes.iter().take(rows) {
        let drift = if change.drift { " *(drift)*" } else { "" };
        let _ = writeln!(
            out,
            "| {} | {} | {}{drift} |",
            mark(change.action),
            code(&change.address.to_string()),
            cell(&change.summary)
        );
    }
    if changes.len() > rows {
        let _ = writeln!(
            out,
            "\n…and {} more change(s) (the JSON form lists every one).",
            changes.len() - rows
        );
    }
    let updates: Vec<&&PlannedChange> = changes
        .iter()
        .filter(|c| matches!(c.action, PlanAction::Update | PlanAction::Replace))
        .filter(|c| !c.fields.is_empty())
        .take(rows)
        .collect();
    if !updates.is_empty() {
        let _ = writeln!(out, "\n```diff");
        for change in updates {
            let _ = writeln!(out, "~ {}", fence_safe(&change.address.to_string()));
            for field in change.fields.iter().take(MAX_FIELDS_SHOWN) {
                let show = |value: &Option<serde_json::Value>| {
                    value
                        .as_ref()
                        .map_or_else(|| "(unset)".to_string(), |v| v.to_string())
                };
                let _ = writeln!(
                    out,
                    "-   {}: {}\n+   {}: {}",
                    fence_safe(&field.path),
                    fence_safe(&show(&field.before)),
                    fence_safe(&field.path),
                    fence_safe(&show(&field.after))
                );
            }
        }
        let _ = writeln!(out, "```");
    }
    let _ = writeln!(out, "\n</details>\n");
}

fn mark(action: PlanAction) -> &'static str {
    match action {
        PlanAction::Create => "➕ create",
        PlanAction::Update => "✏️ update",
        PlanAction::Replace => "♻️ replace",
        PlanAction::Delete => "➖ delete",
        PlanAction::Forget => "○ forget",
        PlanAction::Adopt => "⇐ adopt",
        PlanAction::Refresh => "= refresh",
    }
}

/// Text as an inline code span: backticks inside get a longer fence, and
/// `|` is escaped for tables.
fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Plain text with Markdown's and HTML's special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '!' | '(' | ')' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// [`escape`] for a table cell.
fn cell(text: &str) -> String {
    escape(text)
}

/// Text inside an HTML element.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text inside a fenced code block: a line of backticks cannot end it
/// early.
fn fence_safe(text: &str) -> String {
    text.replace("```", "ˋˋˋ").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_backticks_and_pipes() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), "`a\\|b`");
    }

    fn preview_of(changes: usize) -> Preview {
        use crate::plan::fixtures::{change, plan_of};
        let change = |index: usize| PlannedChange {
            summary: format!("create 10.0.{}.{} ttl 3600", index / 256, index % 256),
            ..change(
                &format!("dns/record/r{index}.example.org./A"),
                PlanAction::Create,
            )
        };
        Preview {
            reference: "feature".into(),
            blocked_by: Vec::new(),
            plan: plan_of((0..changes).map(change).collect()),
        }
    }

    #[test]
    fn a_large_plan_fits_in_one_comment() {
        let small = render(&preview_of(3));
        assert!(small.contains("**3 to create**"), "{small}");
        assert!(!small.contains("more change"), "{small}");
        let large = render(&preview_of(20_000));
        assert!(
            large.chars().count() <= MAX_COMMENT_CHARS,
            "{}",
            large.len()
        );
        assert!(large.contains("**20000 to create**"), "{large}");
        assert!(large.contains("more change(s) (the JSON form lists every one)"));
        assert!(large.contains("`dns/record/r0.example.org./A`"));
    }

    #[test]
    fn text_cannot_inject_markup() {
        assert_eq!(
            escape("<img src=x> *bold* [link](u)"),
            "&lt;img src=x&gt; \\*bold\\* \\[link\\]\\(u\\)"
        );
        assert_eq!(fence_safe("a```b\nc"), "aˋˋˋb c");
    }
}
