//! Signed commits: a tenant with an `allowed_signers` file applies only
//! commits carrying an SSH signature by one of its keys, checked with
//! `ssh-keygen -Y verify` as Git checks them.

use super::{SourceError, UntrustedSignature};
use std::path::Path;

/// Checks that `commit` is signed by a key of `allowed_signers`, with
/// `ssh-keygen -Y verify` as Git does it.
pub(super) fn verify(commit: &gix::Commit<'_>, allowed_signers: &Path) -> Result<(), SourceError> {
    use gix::objs::signature::verify::{Options, TrustLevel};
    let id = commit.id().to_string();
    let signers = allowed_signers.display().to_string();
    let untrusted = |reason: UntrustedSignature| SourceError::Untrusted {
        commit: id.clone(),
        allowed_signers: signers.clone(),
        reason,
    };
    let Some((signature, signed)) = commit
        .signature()
        .map_err(|error| untrusted(UntrustedSignature::Unreadable(error.into())))?
    else {
        return Err(SourceError::Unsigned {
            commit: id.clone(),
            allowed_signers: signers.clone(),
        });
    };
    let time = commit
        .committer()
        .map_err(|error| untrusted(UntrustedSignature::Committer(error.into())))?
        .time()
        .map_err(|error| untrusted(UntrustedSignature::Committer(error.into())))?;
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
        .map_err(|error| untrusted(UntrustedSignature::Unverifiable(error.into())))?;
    if outcome.is_valid() {
        Ok(())
    } else {
        Err(untrusted(UntrustedSignature::Refused {
            status: format!("{:?}", outcome.status),
            trust: format!("{:?}", outcome.trust_level),
            key: outcome.fingerprint.map(|key| key.to_string()),
        }))
    }
}
