//! What the tenant's policies found in a plan, and what that does to it:
//! which findings block, which an operator may override, and the digest
//! they add to the plan's checksum. Pure: the policies themselves run in
//! `crate::policy`.

use crate::config::Enforcement;
use cairn_contract::{Finding, FindingSeverity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// One finding of one policy, as a plan carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFinding {
    /// The policy's id in `cairn.toml`.
    pub policy: String,
    /// The policy's enforcement level when it ran.
    pub enforcement: Enforcement,
    /// What it found.
    #[serde(flatten)]
    pub finding: Finding,
}

impl PolicyFinding {
    /// Whether it blocks the plan: an `error` of a policy that is not
    /// advisory.
    pub fn blocks(&self) -> bool {
        self.enforcement.blocks() && self.finding.severity == FindingSeverity::Error
    }

    /// The word it is shown with: `blocks`, or its severity.
    pub fn verdict(&self) -> &'static str {
        match self.blocks() {
            true => "blocks",
            false => self.finding.severity.as_str(),
        }
    }
}

/// One line: `POLICY/RULE ADDRESS: MESSAGE`, the address when it has one.
impl std::fmt::Display for PolicyFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.policy, self.finding.rule)?;
        if let Some(address) = &self.finding.address {
            write!(f, " {address}")?;
        }
        write!(f, ": {}", self.finding.message)
    }
}

/// An operator's override of soft-mandatory policies for one apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOverride {
    /// The ids of the policies overridden.
    pub policies: Vec<String>,
    /// Who overrode them.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// Why an override cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// It names a mandatory policy.
    #[error(
        "policy `{0}` is mandatory: it cannot be overridden. Change the commit so that it passes, or ask the operator to change the policy in cairn.toml"
    )]
    Mandatory(String),
    /// It names a policy that does not block this plan.
    #[error(
        "--override-policy {0}: that policy does not block this plan; override only the policies that do (shown under the plan)"
    )]
    NotBlocking(String),
    /// It gives no reason.
    #[error("an override needs a reason: add --reason \"WHY\", which the history records")]
    NoReason,
}

/// The findings that block the plan once `overridden` is taken into
/// account: those of mandatory policies, and those of soft-mandatory
/// policies not overridden.
pub fn blocking<'a>(
    findings: &'a [PolicyFinding],
    overridden: &[String],
) -> Vec<&'a PolicyFinding> {
    findings
        .iter()
        .filter(|finding| finding.blocks())
        .filter(|finding| {
            finding.enforcement == Enforcement::Mandatory || !overridden.contains(&finding.policy)
        })
        .collect()
}

/// Checks an override against the plan's findings: every policy it names
/// must block the plan and be soft-mandatory, and it must say why.
pub fn check_override(
    findings: &[PolicyFinding],
    policies: &[String],
    reason: &str,
) -> Result<(), OverrideError> {
    if reason.trim().is_empty() {
        return Err(OverrideError::NoReason);
    }
    for id in policies {
        let mut its = findings.iter().filter(|finding| &finding.policy == id);
        match its.clone().find(|finding| finding.blocks()) {
            Some(finding) if finding.enforcement == Enforcement::Mandatory => {
                return Err(OverrideError::Mandatory(id.clone()));
            }
            Some(_) => {}
            None if its.any(|finding| finding.enforcement == Enforcement::Mandatory) => {
                return Err(OverrideError::Mandatory(id.clone()));
            }
            None => return Err(OverrideError::NotBlocking(id.clone())),
        }
    }
    Ok(())
}

/// The policies whose findings block the plan, each once, in id order.
pub fn blocking_policies(findings: &[PolicyFinding], overridden: &[String]) -> Vec<String> {
    blocking(findings, overridden)
        .into_iter()
        .map(|finding| finding.policy.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The findings in the order they are shown and checksummed: blocking
/// first, then by severity, policy, address and rule.
pub fn sort(findings: &mut [PolicyFinding]) {
    findings.sort_by(|a, b| {
        (
            !a.blocks(),
            a.finding.severity,
            &a.policy,
            &a.finding.address,
            &a.finding.rule,
        )
            .cmp(&(
                !b.blocks(),
                b.finding.severity,
                &b.policy,
                &b.finding.address,
                &b.finding.rule,
            ))
            .then_with(|| a.finding.cmp(&b.finding))
    });
}

/// A plan's checksum extended by its findings and the digest of the
/// policies that made them: a saved plan is applied only if the same
/// policies find the same things.
pub fn seal(checksum: &str, findings: &[PolicyFinding], policies_digest: &str) -> String {
    if findings.is_empty() && policies_digest.is_empty() {
        return checksum.to_string();
    }
    let mut hasher = Sha256::new();
    hasher.update(checksum.as_bytes());
    hasher.update([0]);
    hasher.update(policies_digest.as_bytes());
    for finding in findings {
        hasher.update([0]);
        hasher.update(serde_json::to_string(finding).expect("findings serialize"));
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(policy: &str, enforcement: Enforcement, severity: FindingSeverity) -> PolicyFinding {
        PolicyFinding {
            policy: policy.into(),
            enforcement,
            finding: Finding::new("rule", severity, "message"),
        }
    }

    #[test]
    fn only_errors_of_enforced_policies_block() {
        use Enforcement::*;
        use FindingSeverity::*;
        let rows = [
            (Advisory, Error, false),
            (Advisory, Warning, false),
            (SoftMandatory, Error, true),
            (SoftMandatory, Warning, false),
            (SoftMandatory, Info, false),
            (Mandatory, Error, true),
            (Mandatory, Warning, false),
        ];
        for (enforcement, severity, blocks) in rows {
            assert_eq!(
                finding("p", enforcement, severity).blocks(),
                blocks,
                "{enforcement:?} {severity:?}"
            );
        }
    }

    #[test]
    fn an_override_lifts_soft_mandatory_findings_only() {
        use Enforcement::*;
        let findings = vec![
            finding("soft", SoftMandatory, FindingSeverity::Error),
            finding("hard", Mandatory, FindingSeverity::Error),
            finding("note", Advisory, FindingSeverity::Error),
        ];
        assert_eq!(blocking_policies(&findings, &[]), ["hard", "soft"]);
        assert_eq!(blocking_policies(&findings, &["soft".into()]), ["hard"]);
        assert_eq!(
            blocking_policies(&findings, &["hard".into()]),
            ["hard", "soft"]
        );

        assert_eq!(
            check_override(&findings, &["soft".into()], "incident 42"),
            Ok(())
        );
        assert_eq!(
            check_override(&findings, &["hard".into()], "because"),
            Err(OverrideError::Mandatory("hard".into()))
        );
        assert_eq!(
            check_override(&findings, &["note".into()], "because"),
            Err(OverrideError::NotBlocking("note".into()))
        );
        assert_eq!(
            check_override(&findings, &["soft".into()], "  "),
            Err(OverrideError::NoReason)
        );
        // A mandatory policy that found nothing blocking still cannot be
        // named.
        let quiet = vec![finding("hard", Mandatory, FindingSeverity::Warning)];
        assert_eq!(
            check_override(&quiet, &["hard".into()], "because"),
            Err(OverrideError::Mandatory("hard".into()))
        );
    }

    #[test]
    fn findings_and_policies_change_the_checksum() {
        let base = "c0ffee";
        assert_eq!(seal(base, &[], ""), base);
        let one = vec![finding(
            "p",
            Enforcement::Advisory,
            FindingSeverity::Warning,
        )];
        let sealed = seal(base, &one, "policies");
        assert_ne!(sealed, base);
        assert_ne!(sealed, seal(base, &[], "policies"));
        assert_ne!(sealed, seal(base, &one, "other policies"));
        assert_eq!(sealed, seal(base, &one, "policies"));
    }

    #[test]
    fn blocking_findings_come_first() {
        let mut findings = vec![
            finding("a", Enforcement::Advisory, FindingSeverity::Error),
            finding("b", Enforcement::Mandatory, FindingSeverity::Warning),
            finding("c", Enforcement::Mandatory, FindingSeverity::Error),
        ];
        sort(&mut findings);
        let order: Vec<&str> = findings.iter().map(|f| f.policy.as_str()).collect();
        assert_eq!(order, ["c", "a", "b"]);
    }
}
