//! What can go wrong reading a source, each cause kept as it came (from
//! gix, `hg`, the OCI client, the file system or the signature verifier)
//! behind the message the operator reads.

use super::CommitInfo;
use crate::quota::QuotaExceeded;
use std::path::PathBuf;
use std::time::Duration;

/// What a source's own machinery reported (gix, `hg`, the OCI client, the
/// file system, or the task that ran it), kept as it came.
pub type CauseError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong reading a repository.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A local repository could not be opened.
    #[error(
        "cannot open the repository {repo}: {source}. Check `repo` in cairn.toml; nothing was applied"
    )]
    Open {
        /// The repository.
        repo: String,
        /// Why.
        #[source]
        source: CauseError,
    },
    /// A remote could not be cloned or fetched.
    #[error("cannot fetch {repo}: {source}. Is the repository reachable? Nothing was applied")]
    Fetch {
        /// The repository.
        repo: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// The ref names no commit.
    #[error(
        "the ref `{reference}` names no commit in {repo}: use a branch, tag or commit id that exists"
    )]
    UnknownRef {
        /// The repository.
        repo: String,
        /// The ref.
        reference: String,
    },
    /// The remote no longer has the branch or tag the tenant follows: it
    /// was deleted there. The mirror still holds it (a fetch adds and
    /// moves refs, never removes them), and it is not read.
    #[error(
        "the ref `{reference}` no longer exists on the remote {repo}: it was deleted there (it last named commit {}). Nothing was applied, and what was applied stays as it is. Push the branch to the remote again, or set `ref` in cairn.toml to a branch or tag that exists",
        .last_seen.short_id()
    )]
    RefGone {
        /// The repository.
        repo: String,
        /// The ref.
        reference: String,
        /// The commit the ref named when it was last fetched.
        last_seen: Box<CommitInfo>,
    },
    /// A plain folder was asked for a revision it no longer holds: it
    /// keeps none but the present.
    #[error(
        "{repo} is a plain folder, which keeps no past revisions: it holds revision {} now, not {revision}. Nothing was applied; edit the folder to the state wanted, or use Git for a history to go back in",
        &.now[..12]
    )]
    NoPast {
        /// The folder.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The revision it holds.
        now: String,
    },
    /// A blob did not match the digest it was asked for by.
    #[error(
        "the {what} of {repo} does not match its digest {expected} (it came as {found}): it was altered in the registry or on the way. Nothing was applied; push the artifact again, or pin a digest you trust"
    )]
    Tampered {
        /// The artifact.
        repo: String,
        /// Which blob (`manifest`, `layer`).
        what: &'static str,
        /// The digest asked for.
        expected: String,
        /// What came instead.
        found: String,
    },
    /// A tag names another revision than when it was first read: tags are
    /// releases, and a moved one is not followed.
    #[error(
        "the tag `{tag}` of {repo} moved: it named {first} when Cairn first read it, and names {} now. Nothing was applied; tags are releases and are not followed when they move. If the move is intended, set `ref` to the new commit or to a new tag",
        .now.short_id()
    )]
    TagMoved {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
        /// The revision it named first.
        first: String,
        /// The revision it names now.
        now: Box<CommitInfo>,
    },
    /// What a tag named when first read could not be looked up in the
    /// state store, so the tag's revision is not used.
    #[error(
        "cannot check the tag `{tag}` of {repo} against the revision it named when Cairn first read it: {source}. Nothing was applied; try again once the state store answers (the daemon retries on its own)"
    )]
    TagUnchecked {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
        /// Why (boxed: a store error is large beside the others).
        #[source]
        source: Box<crate::store::StoreError>,
    },
    /// The configured folder is not in the commit.
    #[error("the folder `{path}` is not in commit {commit} of {repo}: check `path` in cairn.toml")]
    MissingPath {
        /// The repository.
        repo: String,
        /// The folder.
        path: String,
        /// The commit.
        commit: String,
    },
    /// The commit goes over one of the tenant's repository quotas.
    #[error("commit {}: {source}", .commit.id)]
    Quota {
        /// The commit.
        commit: Box<CommitInfo>,
        /// Which quota.
        #[source]
        source: QuotaExceeded,
    },
    /// The tenant applies only signed commits, and this one is not signed.
    #[error(
        "commit {} is not signed, and this tenant applies only commits signed by a key in {allowed_signers}: sign it (`git commit -S` with an SSH key listed there). Nothing was applied",
        .commit.id
    )]
    Unsigned {
        /// The commit.
        commit: Box<CommitInfo>,
        /// The operator's allowed-signers file.
        allowed_signers: String,
    },
    /// The tenant applies only signed artifacts, and this one has no
    /// signature beside it.
    #[error(
        "the artifact {} has no signature, and this tenant applies only artifacts signed by a key in {allowed_signers}: push it with `cairn push … --sign-key KEY`, KEY's public half listed there. Nothing was applied",
        .commit.id
    )]
    UnsignedArtifact {
        /// The artifact's revision.
        commit: Box<CommitInfo>,
        /// The operator's allowed-signers file.
        allowed_signers: String,
    },
    /// The commit's signature is not from a trusted key, or does not verify.
    #[error(
        "commit {} is not signed by a key in {allowed_signers}: {reason}. Nothing was applied",
        .commit.id
    )]
    Untrusted {
        /// The commit.
        commit: Box<CommitInfo>,
        /// The operator's allowed-signers file.
        allowed_signers: String,
        /// What the verifier said.
        #[source]
        reason: UntrustedSignature,
    },
    /// The tenant's `allowed_signers` file cannot be read, so no signature
    /// can be checked.
    #[error(
        "commit {} cannot be checked: the tenant's allowed_signers file cannot be read ({problem}). Nothing was applied; restore the file, or change `allowed_signers` in cairn.toml",
        .commit.id
    )]
    SignersUnreadable {
        /// The commit.
        commit: Box<CommitInfo>,
        /// Why the file cannot be read.
        #[source]
        problem: UnreadableSigners,
    },
    /// A file is not readable as a resource file.
    #[error("{file} at commit {commit}: {reason}")]
    BadFile {
        /// The file.
        file: String,
        /// The commit.
        commit: String,
        /// Why.
        #[source]
        reason: FileProblem,
    },
    /// Reading objects failed.
    #[error("cannot read commit {commit} of {repo}: {source}")]
    Read {
        /// The repository.
        repo: String,
        /// The commit.
        commit: String,
        /// Why.
        #[source]
        source: CauseError,
    },
}

/// Why a remote could not be cloned or fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The transfer failed (Git's, Mercurial's pull, the registry's).
    #[error(transparent)]
    Transfer(CauseError),
    /// The cache folder the mirror goes into could not be made.
    #[error("cannot create {}: {source}", .folder.display())]
    CacheFolder {
        /// The folder.
        folder: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The registry refused the credentials (or asked for some).
    #[error(
        "the registry {registry} refused the credentials ({reason}): check registry_credentials in cairn.toml and the secret it names"
    )]
    Refused {
        /// The registry.
        registry: String,
        /// What it said.
        reason: String,
    },
    /// The remote did not answer in time; the transfer was stopped.
    #[error("no answer within {after:?}")]
    NoAnswer {
        /// How long it was given.
        after: Duration,
    },
}

/// Why an `allowed_signers` file cannot be used: said when the
/// configuration loads, and again if the file goes away later.
#[derive(Debug, thiserror::Error)]
pub enum UnreadableSigners {
    /// There is no such file.
    #[error("file not found: {}", .path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// It exists and cannot be read (permissions, a folder).
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Why a commit's signature is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum UntrustedSignature {
    /// The signature could not be read from the commit.
    #[error("the signature cannot be read: {0}")]
    Unreadable(#[source] CauseError),
    /// The committer or its time could not be read.
    #[error(transparent)]
    Committer(CauseError),
    /// The verifier could not run or could not check the signature.
    #[error("it could not be verified ({0}); is it an SSH signature, and is ssh-keygen installed?")]
    Unverifiable(#[source] CauseError),
    /// The verifier checked the signature and refused it.
    #[error("the signature is {status} with trust {trust}{}", .key.as_ref().map(|key| format!(", key {key}")).unwrap_or_default())]
    Refused {
        /// The verifier's status.
        status: String,
        /// The trust it gave the key.
        trust: String,
        /// The key's fingerprint, when known.
        key: Option<String>,
    },
}

/// Why a file below the tenant's folder cannot be read as a resource file.
#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    /// Its path is not UTF-8.
    #[error("its path is not UTF-8: rename it")]
    PathNotUtf8,
    /// It is a symbolic link.
    #[error(
        "it is a symbolic link; Cairn follows no link in the desired state: put the file itself there"
    )]
    SymbolicLink,
    /// It is larger than a resource file may be.
    #[error("the file is {size} bytes; resource files may be at most {limit}: split it")]
    TooLarge {
        /// Its size.
        size: u64,
        /// [`super::MAX_RESOURCE_FILE_BYTES`].
        limit: usize,
    },
    /// Its content is not UTF-8.
    #[error("the file is not UTF-8 text")]
    NotUtf8(#[source] std::str::Utf8Error),
}

/// Why a manifest cannot be used; said only if a resource names it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UnreadableManifest {
    /// It is larger than a manifest may be.
    #[error("the file is {size} bytes; manifests may be at most {limit}: split it")]
    TooLarge {
        /// Its size.
        size: u64,
        /// [`super::MAX_RESOURCE_FILE_BYTES`].
        limit: usize,
    },
    /// Its content is not UTF-8.
    #[error("the file is not UTF-8 text")]
    NotUtf8(#[source] std::str::Utf8Error),
}
