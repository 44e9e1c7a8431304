//! `cairn validate`: parse and validate the desired state, and have the
//! tenant's policies check it; change nothing.

use super::session::Session;
use super::{EXIT_ERROR, EXIT_OK, Target};
use anstream::println;
use cairn::model::LoadError;
use cairn::plan::findings;
use cairn::reconcile::{self, ReconcileError};

/// Runs the command.
pub async fn run(target: &Target, json: bool) -> anyhow::Result<u8> {
    let session = Session::open(target).await?;
    let result = reconcile::desired_state(&session.tenant).await;
    if !json {
        let desired = result?;
        for warning in &desired.warnings {
            eprintln!("warning: {warning}");
        }
        let findings = reconcile::check_desired(&session.tenant, &desired).await;
        let blocking = findings::blocking_policies(&findings, &[]);
        println!(
            "The desired state at commit {} is valid: {} resource(s).",
            desired.commit.short_id(),
            desired.resources.len()
        );
        super::render::findings(&findings);
        if !blocking.is_empty() {
            println!(
                "\nBlocked by policy: {}. A plan of this commit would not be applied.",
                blocking.join(", ")
            );
            return Ok(EXIT_ERROR);
        }
        return Ok(EXIT_OK);
    }
    match result {
        Ok(desired) => {
            let findings = reconcile::check_desired(&session.tenant, &desired).await;
            let blocking = findings::blocking_policies(&findings, &[]);
            let report = serde_json::json!({
                "valid": true,
                "commit": desired.commit,
                "resources": desired.resources.iter().map(|r| r.address.to_string()).collect::<Vec<_>>(),
                "warnings": desired.warnings.iter().map(diagnostic_json).collect::<Vec<_>>(),
                "findings": findings,
                "blocked_by": blocking,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(if blocking.is_empty() {
                EXIT_OK
            } else {
                EXIT_ERROR
            })
        }
        Err(ReconcileError::Load(LoadError::Invalid(invalid))) => {
            let report = serde_json::json!({
                "valid": false,
                "commit": invalid.commit,
                "errors": invalid.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(EXIT_ERROR)
        }
        Err(error) => Err(error.into()),
    }
}

fn diagnostic_json(diagnostic: &cairn::model::diagnostic::SourceDiagnostic) -> serde_json::Value {
    serde_json::json!({
        "file": diagnostic.location.file,
        "line": diagnostic.location.line,
        "column": diagnostic.location.column,
        "snippet": diagnostic.snippet(),
        "message": diagnostic.message,
        "help": diagnostic.help,
        "related": diagnostic.related.iter().map(|r| serde_json::json!({
            "file": r.location.file, "line": r.location.line, "column": r.location.column,
            "snippet": r.snippet(), "message": r.message,
        })).collect::<Vec<_>>(),
    })
}
