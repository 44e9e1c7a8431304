//! Signed commits: a tenant with an `allowed_signers` file applies only
//! commits carrying an SSH signature by one of its keys, checked with
//! `ssh-keygen -Y verify` as Git checks them.

use super::SourceError;
use std::path::Path;

/// Checks that `commit` is signed by a key of `allowed_signers`, with
/// `ssh-keygen -Y verify` as Git does it.
pub(super) fn verify(commit: &gix::Commit<'_>, allowed_signers: &Path) -> Result<(), SourceError> {
    use gix::objs::signature::verify::{Options, TrustLevel};
    let id = commit.id().to_string();
    let signers = allowed_signers.display().to_string();
    let untrusted = |reason: String| SourceError::Untrusted {
        commit: id.clone(),
        allowed_signers: signers.clone(),
        reason,
    };
    let Some((signature, signed)) = commit
        .signature()
        .map_err(|error| untrusted(format!("the signature cannot be read: {error}")))?
    else {
        return Err(SourceError::Unsigned {
            commit: id.clone(),
            allowed_signers: signers.clone(),
        });
    };
    let time = commit
        .committer()
        .map_err(|error| untrusted(error.to_string()))?
        .time()
        .map_err(|error| untrusted(error.to_string()))?;
    let options = Options::Ssh {
        program: "ssh-keygen".into(),
        program_arguments: Vec::new(),
        environment: Vec::new(),
        allowed_signers: allowed_signers.to_path_buf(),
        revocation_file: None,
        verify_time: time,
        minimum_trust: TrustLevel::Fully,
    };
    let outcome = signed
        .verify(signature.as_ref(), options)
        .map_err(|error| untrusted(format!("it could not be verified ({error}); is it an SSH signature, and is ssh-keygen installed?")))?;
    if outcome.is_valid() {
        Ok(())
    } else {
        Err(untrusted(format!(
            "the signature is {:?} with trust {:?}{}",
            outcome.status,
            outcome.trust_level,
            outcome
                .fingerprint
                .map(|key| format!(", key {key}"))
                .unwrap_or_default()
        )))
    }
}
