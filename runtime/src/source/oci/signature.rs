//! Signatures of OCI artifacts, made and checked with the SSH keys the
//! operator already trusts for Git commits (`allowed_signers`):
//! `cairn push --sign-key KEY` signs the manifest's digest with
//! `ssh-keygen -Y sign` in the namespace [`NAMESPACE`] and pushes the
//! signature beside the artifact, under the tag `sha256-HEX.sig` (where
//! cosign keeps a digest's signature) as an artifact of one layer of type
//! [`SIGNATURE_MEDIA_TYPE`]. A tenant with `allowed_signers` reads it
//! before the artifact's layer is pulled and checks it with `ssh-keygen
//! -Y find-principals` and `-Y verify`; an artifact without one, or signed
//! by a key not listed, is refused with nothing applied. The namespace
//! keeps a signature made for anything else (a Git commit, a file) from
//! standing for an artifact.

use crate::source::UntrustedSignature;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The `ssh-keygen -Y` namespace of an artifact's signature.
pub const NAMESPACE: &str = "cairn-oci";

/// The media type of a signature's layer: the armored SSH signature.
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.cairn.ssh-signature.v1";

/// The largest signature read: an armored SSH signature is under 1 KiB;
/// a larger layer is not one, and is refused before it is pulled.
pub const MAX_SIGNATURE_BYTES: u64 = 16 << 10;

/// The tag under which the signature of `digest` (`sha256:HEX`) lives.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// Signs `digest` with the SSH private key at `key`: the armored
/// signature.
pub fn sign(key: &Path, digest: &str) -> std::io::Result<Vec<u8>> {
    let folder = tempfile::tempdir()?;
    let payload = folder.path().join("digest");
    std::fs::write(&payload, digest)?;
    let output = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key)
        .arg(&payload)
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!(
            "ssh-keygen -Y sign: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    std::fs::read(payload.with_extension("sig"))
}

/// Checks that `signature` signs `digest` with a key of
/// `allowed_signers`: the signer's principal and key fingerprint.
pub fn verify(
    signature: &[u8],
    digest: &str,
    allowed_signers: &Path,
) -> Result<String, UntrustedSignature> {
    let unverifiable = |error: std::io::Error| UntrustedSignature::Unverifiable(Box::new(error));
    let folder = tempfile::tempdir().map_err(unverifiable)?;
    let signature_file = folder.path().join("digest.sig");
    std::fs::write(&signature_file, signature).map_err(unverifiable)?;
    let principals = Command::new("ssh-keygen")
        .args(["-Y", "find-principals", "-f"])
        .arg(allowed_signers)
        .arg("-s")
        .arg(&signature_file)
        .stdin(Stdio::null())
        .output()
        .map_err(unverifiable)?;
    let principals = String::from_utf8_lossy(&principals.stdout).to_string();
    let Some(principal) = principals
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
    else {
        return Err(UntrustedSignature::Refused {
            status: "made with a key no principal of allowed_signers holds".into(),
            trust: "none".into(),
            key: None,
        });
    };
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", NAMESPACE, "-f"])
        .arg(allowed_signers)
        .arg("-I")
        .arg(principal)
        .arg("-s")
        .arg(&signature_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(unverifiable)?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(digest.as_bytes())
        .map_err(unverifiable)?;
    let output = child.wait_with_output().map_err(unverifiable)?;
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() {
        return Err(UntrustedSignature::Refused {
            status: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            trust: "none".into(),
            key: None,
        });
    }
    // `Good "cairn-oci" signature for P with ED25519 key SHA256:…`
    let key = said
        .split_whitespace()
        .find(|word| word.starts_with("SHA256:"))
        .unwrap_or("an unnamed key");
    Ok(format!("{principal} ({key})"))
}
