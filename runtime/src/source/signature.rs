//! Signed commits: a tenant with an `allowed_signers` file applies only
//! commits carrying an SSH signature by one of its keys, checked with
//! `ssh-keygen -Y verify` as Git checks them. The file is checked when the
//! configuration loads ([`check_allowed_signers`]) and again before every
//! verification: a file gone missing is said so, never mistaken for a
//! signature the verifier did not trust.

use super::{CommitInfo, SourceError, UnreadableSigners, UntrustedSignature};
use std::path::Path;

/// Whether `path` is an `allowed_signers` file Cairn can read.
pub fn check_allowed_signers(path: &Path) -> Result<(), UnreadableSigners> {
    match std::fs::read(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(UnreadableSigners::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(source) => Err(UnreadableSigners::Unreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Checks that `commit` (read as `info`) is signed by a key of
/// `allowed_signers`, with `ssh-keygen -Y verify` as Git does it; returns
/// the signing key's fingerprint (`SHA256:…`) when the verifier names it.
pub(super) fn verify(
    commit: &gix::Commit<'_>,
    info: &CommitInfo,
    allowed_signers: &Path,
) -> Result<Option<String>, SourceError> {
    use gix::objs::signature::verify::{Options, TrustLevel};
    let signers = allowed_signers.display().to_string();
    let untrusted = |reason: UntrustedSignature| SourceError::Untrusted {
        commit: Box::new(info.clone()),
        allowed_signers: signers.clone(),
        reason,
    };
    let Some((signature, signed)) = commit
        .signature()
        .map_err(|error| untrusted(UntrustedSignature::Unreadable(error.into())))?
    else {
        return Err(SourceError::Unsigned {
            commit: Box::new(info.clone()),
            allowed_signers: signers.clone(),
        });
    };
    // ssh-keygen given a missing file reports the signature as not
    // trusted, which reads as the signer's fault: say what is wrong.
    check_allowed_signers(allowed_signers).map_err(|problem| SourceError::SignersUnreadable {
        commit: Box::new(info.clone()),
        problem,
    })?;
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
        Ok(outcome.fingerprint.map(|key| key.to_string()))
    } else {
        Err(untrusted(UntrustedSignature::Refused {
            status: format!("{:?}", outcome.status),
            trust: format!("{:?}", outcome.trust_level),
            key: outcome.fingerprint.map(|key| key.to_string()),
        }))
    }
}
