//! Human output: plans, apply progress, history and errors. Colour only
//! when the stream is a terminal (`anstream` strips it otherwise, and
//! honours `NO_COLOR`).

use anstream::{eprintln, println};
use anstyle::{AnsiColor, Style};
use cairn::config::Enforcement;
use cairn::contract::FindingSeverity;
use cairn::plan::{ActionReport, Plan, PlanAction, PlannedChange, PolicyFinding};
use cairn::reconcile::ReconcileError;
use cairn::store::{ActionResult, RunKind, RunOutcome, RunRecord};
use std::io::{IsTerminal, Write as _};

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const MAGENTA: Style = AnsiColor::Magenta.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// A progress line on stderr, only when a person is watching.
pub fn progress(message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{DIM}… {message}{DIM:#}");
    }
}

/// `writeln!` into a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Writes `text` to stdout in one piece, its colour stripped unless
/// stdout shows colour. A plan or an apply of thousands of changes is
/// thousands of lines: written one by one, each was a write of its own
/// (and a check of the terminal), about 30 ms for 10,000 lines.
fn emit(text: &str) {
    let stdout = std::io::stdout();
    let stripped;
    let bytes = match anstream::AutoStream::choice(&stdout) {
        anstream::ColorChoice::Never => {
            stripped = anstream::adapter::strip_str(text).to_string();
            stripped.as_bytes()
        }
        _ => text.as_bytes(),
    };
    // Output nobody reads any more (a closed pipe) is no error of Cairn's.
    let _ = stdout.lock().write_all(bytes);
}

fn marker(action: PlanAction) -> (&'static str, Style) {
    match action {
        PlanAction::Create => ("+", GREEN),
        PlanAction::Update => ("~", YELLOW),
        PlanAction::Replace => ("-/+", MAGENTA),
        PlanAction::Delete => ("-", RED),
        PlanAction::Forget => ("○", DIM),
        PlanAction::Adopt => ("⇐", YELLOW),
        PlanAction::Refresh => ("=", DIM),
    }
}

/// Prints a plan for people.
pub fn plan(plan: &Plan) {
    let mut out = String::new();
    plan_into(&mut out, plan);
    emit(&out);
}

/// A plan for people, written into `out`.
fn plan_into(out: &mut String, plan: &Plan) {
    put!(
        out,
        "{BOLD}Tenant {}{BOLD:#} at commit {} ({}: {})",
        plan.tenant,
        plan.commit.short_id(),
        plan.commit.author,
        plan.commit.summary
    );
    if plan.changes.is_empty() && plan.diverged.is_empty() {
        put!(
            out,
            "\nNo changes. The real world matches the repository ({} resource(s)).",
            plan.unchanged
        );
    } else if plan.changes.is_empty() {
        put!(
            out,
            "\nNo changes to make: {} resource(s) unchanged, {} held because their provider did not converge (see the notes).",
            plan.unchanged,
            plan.diverged.len()
        );
    } else {
        out.push('\n');
        let width = plan
            .changes
            .iter()
            .map(|c| c.address.to_string().chars().count())
            .max()
            .unwrap_or(0);
        for change in &plan.changes {
            let (mark, style) = marker(change.action);
            let address = change.address.to_string();
            let drift = drift_note(change)
                .map(|note| format!(" {YELLOW}({note}){YELLOW:#}"))
                .unwrap_or_default();
            put!(
                out,
                "  {style}{mark:>3} {address:<width$}{style:#}  {}{drift}",
                change.summary,
                width = width
            );
            if matches!(change.action, PlanAction::Update | PlanAction::Replace) {
                for field in &change.fields {
                    let show = |value: &Option<serde_json::Value>| {
                        value
                            .as_ref()
                            .map_or_else(|| "(unset)".to_string(), shortened)
                    };
                    put!(
                        out,
                        "        {DIM}{}: {} → {}{DIM:#}",
                        field.path,
                        show(&field.before),
                        show(&field.after)
                    );
                }
            }
        }
        let counts: Vec<String> = plan
            .counts()
            .into_iter()
            .map(|(action, count)| format!("{count} to {}", action.as_str()))
            .collect();
        put!(
            out,
            "\n{BOLD}Plan:{BOLD:#} {}; {} unchanged.",
            counts.join(", "),
            plan.unchanged
        );
    }
    if !plan.held.is_empty() {
        put!(
            out,
            "\n{BOLD}Held on purpose{BOLD:#} (no change while the hold lasts):"
        );
        for held in &plan.held {
            let withheld = held
                .withheld
                .as_ref()
                .map(|summary| format!(": {summary} waits"))
                .unwrap_or_default();
            put!(
                out,
                "  {} by {} for {} more{withheld}",
                held.address,
                held.by,
                human_ms(held.for_ms)
            );
        }
    }
    if !plan.scheduled.is_empty() {
        put!(out, "\n{BOLD}Scheduled{BOLD:#} (compared again over time):");
        for scheduled in &plan.scheduled {
            put!(out, "  {}  {}", scheduled.address, scheduled.summary);
        }
    }
    for note in &plan.notes {
        put!(out, "{YELLOW}note:{YELLOW:#} {note}");
    }
    findings_into(out, &plan.findings);
    let blocking = plan.blocking_policies(&[]);
    if !blocking.is_empty() {
        put!(
            out,
            "\n{RED}Blocked by policy:{RED:#} {}. Nothing can be applied until the commit passes{}.",
            blocking.join(", "),
            if plan
                .findings
                .iter()
                .any(|f| f.blocks() && f.enforcement == Enforcement::SoftMandatory)
            {
                ", or an operator overrides the soft-mandatory ones (`cairn apply --override-policy ID --reason WHY`)"
            } else {
                ""
            }
        );
    }
}

/// The longest field value a plan shows whole: a longer one (a record
/// kept by a provider, a manifest) is cut, its start shown.
const SHOWN_VALUE_CHARS: usize = 120;

/// A field's value as a plan shows it: its JSON, cut after
/// [`SHOWN_VALUE_CHARS`].
fn shortened(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(SHOWN_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// `250ms`, `12s`, `4m30s`.
fn human_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{}s", ms.div_ceil(1_000)),
        _ => {
            let seconds = ms.div_ceil(1_000);
            match seconds % 60 {
                0 => format!("{}m", seconds / 60),
                rest => format!("{}m{rest}s", seconds / 60),
            }
        }
    }
}

/// Prints what the tenant's policies found, blocking findings first.
pub fn findings(findings: &[PolicyFinding]) {
    let mut out = String::new();
    findings_into(&mut out, findings);
    emit(&out);
}

/// What the tenant's policies found, written into `out`.
fn findings_into(out: &mut String, findings: &[PolicyFinding]) {
    if findings.is_empty() {
        return;
    }
    put!(out, "\n{BOLD}Policy findings:{BOLD:#}");
    for found in findings {
        let finding = &found.finding;
        let word = found.verdict();
        let style = match (found.blocks(), finding.severity) {
            (true, _) => RED,
            (false, FindingSeverity::Error | FindingSeverity::Warning) => YELLOW,
            (false, FindingSeverity::Info) => DIM,
        };
        let place = match (&finding.address, &finding.field) {
            (Some(address), Some(field)) => format!(" {address} ({field})"),
            (Some(address), None) => format!(" {address}"),
            _ => String::new(),
        };
        put!(
            out,
            "  {style}{word:>7}{style:#} {}/{} [{}]{place}: {}",
            found.policy,
            finding.rule,
            found.enforcement.as_str(),
            finding.message
        );
        if let Some(help) = &finding.help {
            put!(out, "          {DIM}help: {help}{DIM:#}");
        }
    }
}

/// What the plan says of a change that repairs drift: Git did not move
/// for the resource, the world did. `None` for a change Git asks for.
fn drift_note(change: &PlannedChange) -> Option<&'static str> {
    if !change.drift {
        return None;
    }
    Some(match change.action {
        PlanAction::Create => "drift: removed outside Git",
        _ => "drift: changed outside Git",
    })
}

/// Prints finished changes of an apply, a line each.
pub fn actions(reports: &[ActionReport]) {
    let mut out = String::new();
    for report in reports {
        let (mark, style) = match report.result {
            ActionResult::Ok => ("✓", GREEN),
            ActionResult::Failed if report.not_converged => ("≠", RED),
            ActionResult::Failed => ("✗", RED),
            ActionResult::Skipped | ActionResult::Detected => ("·", DIM),
        };
        let detail = match &report.error {
            Some(error) => format!(": {error}"),
            None => String::new(),
        };
        put!(
            out,
            "  {style}{mark}{style:#} {} {} {DIM}({} ms){DIM:#}{detail}",
            report.action.as_str(),
            report.address,
            report.duration_ms
        );
    }
    emit(&out);
}

/// Prints the history for people.
pub fn history(runs: &[RunRecord]) {
    if runs.is_empty() {
        println!("No plans or applies recorded yet.");
        return;
    }
    for run in runs {
        let when = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(run.started_at.max(0) as u64),
        );
        let outcome = run.outcome.unwrap_or(RunOutcome::Interrupted);
        let style = match outcome {
            RunOutcome::Succeeded | RunOutcome::Planned => GREEN,
            RunOutcome::Partial => YELLOW,
            _ => RED,
        };
        println!(
            "{BOLD}#{} {}{BOLD:#} {when} commit {} by {}: {}",
            run.id,
            run.kind,
            &run.commit_id[..run.commit_id.len().min(12)],
            run.commit_author,
            run.commit_summary
        );
        if let Some(reason) = &run.reason {
            println!("    {style}{outcome}{style:#}: {reason}");
        } else if run.kind == RunKind::Plan {
            println!(
                "    {style}{outcome}{style:#}: {} change(s) to make",
                run.changes
            );
        } else {
            println!(
                "    {style}{outcome}{style:#}: {} change(s), {} not made",
                run.changes, run.failures
            );
        }
        if let Some(given) = &run.policy_override {
            println!(
                "    {YELLOW}policy override{YELLOW:#} of {} by {}: {}",
                given.policies.join(", "),
                given.by,
                given.reason
            );
        }
        for found in &run.findings {
            println!(
                "    {} {}/{} [{}]{}: {}",
                found.verdict(),
                found.policy,
                found.finding.rule,
                found.enforcement.as_str(),
                found
                    .finding
                    .address
                    .as_ref()
                    .map(|a| format!(" {a}"))
                    .unwrap_or_default(),
                found.finding.message
            );
        }
        for action in &run.actions {
            let error = action
                .error
                .as_ref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default();
            let summary = action
                .summary
                .as_ref()
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            println!(
                "    {} {} {}{summary}{error}",
                action.result, action.action, action.address
            );
        }
    }
}

/// Prints an error: diagnostics with their source excerpts, anything else
/// as its chain of causes.
pub fn error(error: &anyhow::Error) {
    if let Some(diagnostic) = error.downcast_ref::<ReconcileError>()
        && matches!(
            diagnostic,
            ReconcileError::Load(cairn::model::LoadError::Invalid(_))
        )
    {
        let handler = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            miette::GraphicalReportHandler::new()
        } else {
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        };
        let mut text = String::new();
        if handler.render_report(&mut text, diagnostic).is_ok() {
            eprintln!("{text}");
            return;
        }
    }
    eprintln!("{RED}error:{RED:#} {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Prints one tenant's status (as the store or the API reports it).
pub fn status(report: &serde_json::Value) {
    let text = |value: &serde_json::Value| value.as_str().map(str::to_string);
    let short = |value: &serde_json::Value| {
        text(value).map_or_else(|| "none".to_string(), |id| id.chars().take(12).collect())
    };
    let control = &report["control"];
    let reference = text(&report["reference"])
        .map(|reference| format!(" (following {reference})"))
        .unwrap_or_default();
    println!(
        "{BOLD}Tenant {}{BOLD:#}{reference}",
        report["name"].as_str().unwrap_or("?")
    );
    println!(
        "  last commit {}, last applied {}",
        short(&control["last_commit"]),
        short(&control["last_applied_commit"])
    );
    if let Some(commit) = report["commit"].as_object() {
        println!(
            "  last reconciled by the daemon: commit {} by {}: {}",
            short(&commit["id"]),
            commit["author"].as_str().unwrap_or("?"),
            commit["summary"].as_str().unwrap_or("")
        );
    }
    if let Some(error) = text(&report["load_error"]) {
        println!("  {RED}plugins not loaded{RED:#}: {error}");
    }
    match report["lease"].as_object() {
        Some(lease) => println!(
            "  held by daemon {} ({}), lease token {}",
            lease["holder"].as_str().unwrap_or("?"),
            lease["holder_address"]
                .as_str()
                .unwrap_or("address unknown"),
            lease["token"]
        ),
        None => println!("  held by no daemon"),
    }
    if control["suspended"].as_bool() == Some(true) {
        println!("  {YELLOW}suspended{YELLOW:#}: automatic applies are stopped (`cairn resume`)");
    }
    if let Some(held) = text(&control["held_commit"]) {
        println!(
            "  {YELLOW}held{YELLOW:#} at commit {} by a rollback, until `cairn resume` or a new commit",
            held.chars().take(12).collect::<String>()
        );
    }
    if let Some(run) = report["last_run"].as_object() {
        println!(
            "  last reconcile: {} ({}) at {}",
            run["outcome"].as_str().unwrap_or("?"),
            run["trigger"].as_str().unwrap_or("?"),
            run["at"].as_str().unwrap_or("?")
        );
    }
    if let Some(error) = text(&report["last_error"]) {
        println!("  {RED}last error{RED:#}: {error}");
    }
    let list = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .map(|items| items.iter().filter_map(&text).collect())
            .unwrap_or_default()
    };
    for reason in list("blocked") {
        println!("  {RED}blocked{RED:#}: {reason}");
    }
    let findings: Vec<PolicyFinding> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|finding| serde_json::from_value(finding.clone()).ok())
        .collect();
    for found in findings {
        println!("  {YELLOW}policy {}{YELLOW:#}: {found}", found.verdict());
    }
    for (key, what) in [("drifted", "drifted"), ("retrying", "retrying")] {
        let addresses = list(key);
        if !addresses.is_empty() {
            println!("  {YELLOW}{what}{YELLOW:#}: {}", addresses.join(", "));
        }
    }
    if let Some(run) = report["last_recorded_run"].as_object() {
        let reason = text(&run["reason"])
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        println!(
            "  last recorded run: #{} {} {} at commit {}{reason}",
            run["id"],
            run["kind"].as_str().unwrap_or("?"),
            run["outcome"].as_str().unwrap_or("running"),
            short(&run["commit_id"])
        );
    }
    let resources = report["resources"].as_array().cloned().unwrap_or_default();
    if resources.is_empty() {
        println!("  no owned resources");
    }
    for resource in resources {
        let status = resource["status"].as_str().unwrap_or("?");
        let style = match status {
            "in-sync" => GREEN,
            "pending" | "drifted" => YELLOW,
            _ => RED,
        };
        let error = text(&resource["last_error"])
            .map(|e| format!(" — {e}"))
            .unwrap_or_default();
        println!(
            "    {style}{status:<8}{style:#} {}{error}",
            resource["address"].as_str().unwrap_or("?")
        );
    }
}
