//! OCI artifacts as a source: `repo = "oci://HOST[:PORT]/NAME"`, `ref` a
//! tag or a digest (`sha256:…`: pinned). The revision is the manifest's
//! digest; its author, message and time are the manifest's
//! `org.opencontainers.image.authors`, `.description` and `.created`
//! annotations ([`artifact`]), as `cairn push` writes them.
//!
//! Pulled with the ORAS project's `oci-client`, which checks every blob
//! against its digest: a layer altered in the registry or on the way is
//! refused. A manifest and a layer once pulled are kept in the cache by
//! digest (checked again when read), so a rollback to an earlier digest
//! needs no registry. The layer's size, compressed, is checked against the
//! tenant's `repository_bytes` before it is pulled, and unpacked within a
//! bound; its entries are then listed like any source's
//! ([`super::listing`]) and the resource files read once, with the
//! listing. A registry on this machine (`localhost`, a loopback address)
//! is spoken to over HTTP, as Docker does; any other over HTTPS. Basic
//! credentials come from the operator's secret. With `allowed_signers`,
//! the artifact's SSH signature ([`signature`]) is checked before its
//! layer is pulled.

pub mod artifact;
pub mod push;
pub mod signature;

use super::listing::{self, Entry, EntryKind, Revision};
use super::snapshot::Listing;
use super::{
    CommitInfo, FETCH_TIMEOUT, FetchError, MAX_RESOURCE_FILE_BYTES, ReadPolicy, Snapshot,
    SourceError,
};
use crate::quota::QuotaExceeded;
use crate::secrets::SecretRef;
use artifact::Address;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// What each entry of a layer may add to its unpacked size beyond its
/// contents: a 512-byte header and up to 511 bytes of padding.
const TAR_ENTRY_OVERHEAD: u64 = 1024;

/// The operator's credentials for a tenant's registry.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: SecretRef,
}

/// A tenant's OCI artifact.
#[derive(Debug, Clone)]
pub(super) struct Oci {
    /// As configured.
    pub repo: String,
    pub address: Address,
    pub reference: String,
    pub path: String,
    pub cache_dir: PathBuf,
    pub policy: ReadPolicy,
    pub credentials: Option<Credentials>,
}

impl Oci {
    /// Reads `reference` (`None`: the tenant's ref; a digest pulled
    /// before is read from the cache unless `fetch`); lists its files when
    /// `with_files`. It blocks on the runtime it is called from.
    pub fn read_at(
        &self,
        reference: Option<&str>,
        fetch: bool,
        with_files: bool,
    ) -> Result<Snapshot, SourceError> {
        let reference = reference.unwrap_or(&self.reference).to_string();
        let read = self.read(reference, fetch, with_files);
        tokio::runtime::Handle::current()
            .block_on(async { tokio::time::timeout(FETCH_TIMEOUT, read).await })
            .map_err(|_| SourceError::Fetch {
                repo: self.repo.clone(),
                source: FetchError::NoAnswer {
                    after: FETCH_TIMEOUT,
                },
            })?
    }

    async fn read(
        &self,
        reference: String,
        fetch: bool,
        with_files: bool,
    ) -> Result<Snapshot, SourceError> {
        let auth = self.auth()?;
        let client = self.address.client();
        let (digest, manifest) = self.manifest(&client, &auth, &reference, fetch).await?;
        let commit = commit_info(&digest, &manifest);
        if !with_files {
            return Ok(Snapshot::held(
                Listing::without_files(commit),
                HashMap::new(),
            ));
        }
        let signer = match &self.policy.allowed_signers {
            Some(allowed_signers) => Some(
                self.check_signature(&client, &auth, &digest, &commit, allowed_signers)
                    .await?,
            ),
            None => None,
        };
        let layer = self.layer(&client, &auth, &reference, &manifest).await?;
        let mut snapshot = self.unpack(commit, &layer)?;
        snapshot.signer = signer;
        Ok(snapshot)
    }

    /// The signer of the artifact of `digest` (its signature pushed
    /// beside it, [`signature`]), when a key of `allowed_signers` made it.
    async fn check_signature(
        &self,
        client: &oci_client::Client,
        auth: &RegistryAuth,
        digest: &str,
        commit: &CommitInfo,
        allowed_signers: &std::path::Path,
    ) -> Result<String, SourceError> {
        let signers = allowed_signers.display().to_string();
        let tag = signature::signature_tag(digest);
        let unsigned = || SourceError::UnsignedArtifact {
            commit: Box::new(commit.clone()),
            allowed_signers: signers.clone(),
        };
        let raw = match client
            .pull_manifest_raw(&self.address.reference(&tag), auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
        {
            Ok((raw, _)) => raw,
            Err(error) if names_nothing(&error) => return Err(unsigned()),
            Err(error) => return Err(self.pull_error(&tag, error)),
        };
        let manifest: OciImageManifest = serde_json::from_slice(&raw).map_err(|_| unsigned())?;
        let Some(layer) = manifest
            .layers
            .iter()
            .find(|layer| layer.media_type == signature::SIGNATURE_MEDIA_TYPE)
            .filter(|layer| {
                u64::try_from(layer.size).is_ok_and(|size| size <= signature::MAX_SIGNATURE_BYTES)
            })
        else {
            return Err(unsigned());
        };
        check_signers(allowed_signers, commit)?;
        let mut capped = Capped::new(signature::MAX_SIGNATURE_BYTES);
        let pulled = client
            .pull_blob(&self.address.reference(&tag), layer, &mut capped)
            .await;
        if capped.over {
            return Err(self.tampered("signature", layer.digest.clone(), "a larger one".into()));
        }
        pulled.map_err(|error| self.pull_error(&tag, error))?;
        signature::verify(&capped.bytes, digest, allowed_signers).map_err(|reason| {
            SourceError::Untrusted {
                commit: Box::new(commit.clone()),
                allowed_signers: signers.clone(),
                reason,
            }
        })
    }

    /// The registry's credentials, from the operator's secret.
    fn auth(&self) -> Result<RegistryAuth, SourceError> {
        let Some(credentials) = &self.credentials else {
            return Ok(RegistryAuth::Anonymous);
        };
        let password = credentials
            .password
            .resolve("registry password")
            .map_err(|error| SourceError::Fetch {
                repo: self.repo.clone(),
                source: FetchError::Transfer(Box::new(error)),
            })?;
        Ok(RegistryAuth::Basic(
            credentials.username.clone(),
            password.expose().to_string(),
        ))
    }

    /// Where this artifact's manifests and layers are kept, by digest.
    fn cache(&self) -> PathBuf {
        let key = hex::encode(Sha256::digest(
            format!("{}/{}", self.address.registry, self.address.repository).as_bytes(),
        ));
        self.cache_dir.join(format!("oci-{}", &key[..24]))
    }

    /// The blob of `digest` in the cache, when it is there and still
    /// matches it.
    fn cached(&self, digest: &str) -> Option<Vec<u8>> {
        let hex = digest.strip_prefix("sha256:")?;
        let bytes = std::fs::read(self.cache().join(hex)).ok()?;
        (hex::encode(Sha256::digest(&bytes)) == hex).then_some(bytes)
    }

    /// Keeps the blob of `digest` in the cache (a failure only costs a
    /// pull later).
    fn keep(&self, digest: &str, bytes: &[u8]) {
        let Some(hex) = digest.strip_prefix("sha256:") else {
            return;
        };
        let folder = self.cache();
        let partial = folder.join(format!("{hex}.partial"));
        let kept = std::fs::create_dir_all(&folder)
            .and_then(|()| std::fs::write(&partial, bytes))
            .and_then(|()| std::fs::rename(&partial, folder.join(hex)));
        if let Err(error) = kept {
            tracing::warn!(repo = %self.repo, %error, "an artifact's blob was not cached");
        }
    }

    /// The manifest `reference` names, and its digest: from the cache for
    /// a digest pulled before (unless `fetch`), else from the registry.
    async fn manifest(
        &self,
        client: &oci_client::Client,
        auth: &RegistryAuth,
        reference: &str,
        fetch: bool,
    ) -> Result<(String, OciImageManifest), SourceError> {
        let pinned = artifact::digest_of(reference);
        let cached = pinned
            .as_deref()
            .filter(|_| !fetch)
            .and_then(|digest| Some((digest.to_string(), self.cached(digest)?)));
        let (digest, raw) = match cached {
            Some(found) => found,
            None => {
                let (raw, digest) = client
                    .pull_manifest_raw(
                        &self.address.reference(reference),
                        auth,
                        &[OCI_IMAGE_MEDIA_TYPE],
                    )
                    .await
                    .map_err(|error| self.pull_error(reference, error))?;
                // The digest of what came, whatever a header said.
                let computed = format!("sha256:{}", hex::encode(Sha256::digest(&raw)));
                if computed != digest || pinned.as_ref().is_some_and(|pin| *pin != computed) {
                    return Err(self.tampered("manifest", pinned.unwrap_or(digest), computed));
                }
                self.keep(&computed, &raw);
                (computed, raw.to_vec())
            }
        };
        let manifest = serde_json::from_slice(&raw).map_err(|error| SourceError::Read {
            repo: self.repo.clone(),
            commit: digest.clone(),
            source: Box::new(error),
        })?;
        Ok((digest, manifest))
    }

    /// The one layer of `manifest`, checked against the quota before it
    /// is pulled and against its digest after.
    async fn layer(
        &self,
        client: &oci_client::Client,
        auth: &RegistryAuth,
        reference: &str,
        manifest: &OciImageManifest,
    ) -> Result<Vec<u8>, SourceError> {
        let layers: Vec<_> = manifest
            .layers
            .iter()
            .filter(|layer| {
                [artifact::CONTENT_MEDIA_TYPE, artifact::LAYER_MEDIA_TYPE]
                    .contains(&layer.media_type.as_str())
            })
            .collect();
        let [layer] = layers[..] else {
            return Err(SourceError::Read {
                repo: self.repo.clone(),
                commit: reference.to_string(),
                source: format!(
                    "the artifact has {} layers of resource files ({} or {}); Cairn reads artifacts of exactly one, as `cairn push` and `flux push artifact` make them",
                    layers.len(),
                    artifact::CONTENT_MEDIA_TYPE,
                    artifact::LAYER_MEDIA_TYPE
                )
                .into(),
            });
        };
        let size = u64::try_from(layer.size).unwrap_or(u64::MAX);
        QuotaExceeded::check(
            "repository_bytes",
            "the size of the artifact's layer",
            size,
            self.policy.max_bytes,
        )
        .map_err(|source| SourceError::Quota {
            commit: Box::new(CommitInfo {
                id: layer.digest.clone(),
                author: String::new(),
                summary: String::new(),
                time: 0,
            }),
            source,
        })?;
        if let Some(bytes) = self.cached(&layer.digest) {
            return Ok(bytes);
        }
        // The manifest may have come from the cache: log in for the blob.
        client
            .store_auth_if_needed(&self.address.registry, auth)
            .await;
        let mut capped = Capped::new(size);
        let pulled = client
            .pull_blob(&self.address.reference(reference), layer, &mut capped)
            .await;
        if capped.over {
            return Err(self.tampered("layer", layer.digest.clone(), "a larger one".into()));
        }
        pulled.map_err(|error| match error {
            OciDistributionError::DigestError(_) => {
                self.tampered("layer", layer.digest.clone(), "another".into())
            }
            other => self.pull_error(reference, other),
        })?;
        self.keep(&layer.digest, &capped.bytes);
        Ok(capped.bytes)
    }

    /// Lists and reads the layer's entries below the tenant's folder.
    fn unpack(&self, commit: CommitInfo, layer: &[u8]) -> Result<Snapshot, SourceError> {
        let prefix = listing::folder_prefix(&self.path);
        let bound = self.policy.max_bytes + (self.policy.max_files as u64 + 2) * TAR_ENTRY_OVERHEAD;
        let cut_off = std::rc::Rc::new(std::cell::Cell::new(false));
        // Whatever the archive reader says once the bound is reached, the
        // layer is too large (a layer cut off looks like a shorter or a
        // broken archive).
        let unreadable = |error: std::io::Error| match cut_off.get() {
            true => SourceError::Quota {
                commit: Box::new(commit.clone()),
                source: QuotaExceeded::check(
                    "repository_bytes",
                    "the artifact's layer, unpacked (with 1 KiB per file allowed)",
                    bound + 1,
                    bound,
                )
                .expect_err("over the bound"),
            },
            false => SourceError::Read {
                repo: self.repo.clone(),
                commit: commit.id.clone(),
                source: Box::new(error),
            },
        };
        let gzip = Bounded {
            inner: flate2::read::GzDecoder::new(layer),
            left: bound,
            cut_off: cut_off.clone(),
        };
        let mut archive = tar::Archive::new(gzip);
        let mut entries = Vec::new();
        let mut contents: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut sizes: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut folder_seen = prefix.is_empty();
        for entry in archive.entries().map_err(unreadable)? {
            let mut entry = entry.map_err(unreadable)?;
            let raw = entry.path_bytes().into_owned();
            let path = raw.strip_prefix(b"./").unwrap_or(&raw);
            let Some(relative) = path.strip_prefix(prefix.as_bytes()) else {
                continue;
            };
            folder_seen = true;
            let kind = match entry.header().entry_type() {
                tar::EntryType::Directory => continue,
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
                tar::EntryType::Symlink | tar::EntryType::Link => EntryKind::Link,
                _ => EntryKind::Other,
            };
            let relative = relative.to_vec();
            let size = entry.header().size().map_err(unreadable)?;
            if kind == EntryKind::File && listing::is_listed(&relative) {
                let mut bytes = Vec::new();
                (&mut entry)
                    .take(MAX_RESOURCE_FILE_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(unreadable)?;
                // The header's size, not what was read: a file too large
                // is refused by the listing, naming it.
                contents.insert(relative.clone(), bytes);
            }
            sizes.insert(relative.clone(), size);
            entries.push(Entry {
                id: String::from_utf8_lossy(&relative).into_owned(),
                path: relative,
                kind,
            });
            // Counted again by the listing; stopping here bounds the work.
            if entries.len() > self.policy.max_files {
                break;
            }
        }
        // The end of the archive read too: a layer cut off by the bound
        // must not pass for a shorter archive (its missing files would be
        // planned as deleted).
        if entries.len() <= self.policy.max_files {
            let mut rest = archive.into_inner();
            std::io::copy(&mut rest, &mut std::io::sink()).map_err(unreadable)?;
            if cut_off.get() {
                return Err(unreadable(std::io::ErrorKind::FileTooLarge.into()));
            }
        }
        if !folder_seen {
            return Err(SourceError::MissingPath {
                repo: self.repo.clone(),
                path: self.path.clone(),
                commit: commit.id.clone(),
            });
        }
        let layer = Layer {
            sizes: &sizes,
            contents: &contents,
        };
        let listing::Files {
            files, manifests, ..
        } = listing::files(&commit, &self.path, entries, &self.policy, &layer)?;
        let (files, held) = listing::held_by_content(files, &self.path, |relative, _| {
            Ok(contents.remove(relative.as_bytes()).unwrap_or_default())
        })?;
        Ok(Snapshot::held(
            Listing {
                commit,
                files: files.into(),
                manifests,
                signer: None,
            },
            held,
        ))
    }

    /// What the registry's answer means to the operator.
    fn pull_error(&self, reference: &str, error: OciDistributionError) -> SourceError {
        match error {
            error if names_nothing(&error) => SourceError::UnknownRef {
                repo: self.repo.clone(),
                reference: reference.to_string(),
            },
            OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::UnauthorizedError { .. } => SourceError::Fetch {
                repo: self.repo.clone(),
                source: FetchError::Refused {
                    registry: self.address.registry.clone(),
                    reason: error.to_string(),
                },
            },
            other => SourceError::Fetch {
                repo: self.repo.clone(),
                source: FetchError::Transfer(Box::new(other)),
            },
        }
    }

    /// A blob that does not match its digest.
    fn tampered(&self, what: &'static str, expected: String, found: String) -> SourceError {
        SourceError::Tampered {
            repo: self.repo.clone(),
            what,
            expected,
            found,
        }
    }
}

/// The revision of the manifest of `digest`, from its annotations.
fn commit_info(digest: &str, manifest: &OciImageManifest) -> CommitInfo {
    let annotation = |key: &str| {
        manifest
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(key))
            .cloned()
    };
    let mut summary = annotation(artifact::DESCRIPTION).unwrap_or_default();
    if let Some(revision) = annotation(artifact::REVISION) {
        let source = annotation(artifact::SOURCE).unwrap_or_else(|| "its source".into());
        summary = format!("{summary} (revision {revision} of {source})")
            .trim()
            .to_string();
    }
    CommitInfo {
        id: digest.trim_start_matches("sha256:").to_string(),
        author: annotation(artifact::AUTHORS)
            .unwrap_or_else(|| "unknown (the artifact names no author)".into()),
        summary: summary.lines().next().unwrap_or_default().to_string(),
        time: annotation(artifact::CREATED)
            .and_then(|created| humantime::parse_rfc3339_weak(&created).ok())
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_secs() as i64),
    }
}

/// A buffer that takes at most `cap` bytes: a registry sending more of a
/// blob than its descriptor says is cut off, not held in memory.
struct Capped {
    bytes: Vec<u8>,
    cap: u64,
    /// More was sent than `cap`.
    over: bool,
}

impl Capped {
    fn new(cap: u64) -> Self {
        Self {
            bytes: Vec::with_capacity(cap.min(MAX_PREALLOCATED) as usize),
            cap,
            over: false,
        }
    }
}

/// The most a [`Capped`] buffer reserves before any byte came: a
/// descriptor's size is the registry's word, not yet its bytes.
const MAX_PREALLOCATED: u64 = 1 << 20;

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buffer: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.bytes.len() as u64 + buffer.len() as u64 > self.cap {
            self.over = true;
            return std::task::Poll::Ready(Err(std::io::ErrorKind::FileTooLarge.into()));
        }
        self.bytes.extend_from_slice(buffer);
        std::task::Poll::Ready(Ok(buffer.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A reader that ends after `left` bytes and says whether it did.
struct Bounded<R> {
    inner: R,
    left: u64,
    cut_off: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // Past the bound only if anything is left to read.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? > 0 {
                self.cut_off.set(true);
            }
            return Ok(0);
        }
        let most = buffer.len().min(self.left.min(usize::MAX as u64) as usize);
        let read = self.inner.read(&mut buffer[..most])?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// A layer's entries as unpacked, for [`listing::files`].
struct Layer<'a> {
    sizes: &'a HashMap<Vec<u8>, u64>,
    contents: &'a HashMap<Vec<u8>, Vec<u8>>,
}

impl Revision for Layer<'_> {
    fn size(&self, entry: &Entry) -> Result<u64, SourceError> {
        Ok(self.sizes.get(&entry.path).copied().unwrap_or(0))
    }

    fn bytes(&self, entry: &Entry) -> Result<Vec<u8>, SourceError> {
        Ok(self.contents.get(&entry.path).cloned().unwrap_or_default())
    }
}

/// Whether the registry says the tag or digest asked for names no
/// manifest.
fn names_nothing(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|error| error.code == OciErrorCode::ManifestUnknown),
        _ => false,
    }
}

/// Fails when the operator's `allowed_signers` file is gone: a missing
/// file is said so, never taken for a signature the verifier refused.
fn check_signers(
    allowed_signers: &std::path::Path,
    commit: &CommitInfo,
) -> Result<(), SourceError> {
    crate::source::check_allowed_signers(allowed_signers).map_err(|problem| {
        SourceError::SignersUnreadable {
            commit: Box::new(commit.clone()),
            problem,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oci(policy: ReadPolicy) -> Oci {
        Oci {
            repo: "oci://127.0.0.1:5000/zones".into(),
            address: Address::parse("oci://127.0.0.1:5000/zones").unwrap(),
            reference: "v1".into(),
            path: "dns".into(),
            cache_dir: std::env::temp_dir(),
            policy,
            credentials: None,
        }
    }

    fn commit() -> CommitInfo {
        CommitInfo {
            id: "0".repeat(64),
            author: "Ada <ada@example.org>".into(),
            summary: "a hostile artifact".into(),
            time: 0,
        }
    }

    /// A layer made by another tool than `cairn push`, entry by entry.
    fn layer(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
        let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut archive = tar::Builder::new(gzip);
        for (path, kind, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path);
            if *kind == tar::EntryType::Symlink {
                header.set_link_name("/etc/passwd").unwrap();
            }
            header.set_cksum();
            archive.append(&header, *contents).unwrap();
        }
        archive.into_inner().unwrap().finish().unwrap()
    }

    const ZONE: &[u8] = b"[[dns.zone]]\nname = \"example.org.\"\n";

    fn error(layer: &[u8], policy: ReadPolicy) -> String {
        oci(policy)
            .unpack(commit(), layer)
            .expect_err("refused")
            .to_string()
    }

    /// What a hostile layer could attack with is refused as for any
    /// source, naming the file: a link, a name that is not UTF-8, a file
    /// over the size a resource file may have, more files than the quota;
    /// files outside the folder and other files are not read.
    #[tokio::test]
    async fn a_hostile_layer_is_refused_as_any_source_is() {
        let good = layer(&[
            (b"./dns/zone.toml", tar::EntryType::Regular, ZONE),
            (b"dns/notes.txt", tar::EntryType::Regular, b"not read"),
            (
                b"other/zone.toml",
                tar::EntryType::Regular,
                b"not = read = here",
            ),
        ]);
        let snapshot = oci(ReadPolicy::default()).unpack(commit(), &good).unwrap();
        let paths: Vec<&str> = snapshot.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["dns/zone.toml"]);
        let texts = snapshot.read_texts(snapshot.files.iter()).await.unwrap();
        assert_eq!(texts[0].as_bytes(), ZONE);

        let linked = layer(&[(b"dns/link.toml", tar::EntryType::Symlink, b"")]);
        let message = error(&linked, ReadPolicy::default());
        assert!(
            message.contains("dns/link.toml") && message.contains("symbolic link"),
            "{message}"
        );

        let named = layer(&[(b"dns/bad-\xff.toml", tar::EntryType::Regular, ZONE)]);
        let message = error(&named, ReadPolicy::default());
        assert!(message.contains("not UTF-8"), "{message}");

        let huge = vec![b'#'; MAX_RESOURCE_FILE_BYTES + 1];
        let large = layer(&[(b"dns/huge.toml", tar::EntryType::Regular, &huge)]);
        let message = error(&large, ReadPolicy::default());
        assert!(
            message.contains("dns/huge.toml") && message.contains("at most"),
            "{message}"
        );

        let names: Vec<String> = (0..10).map(|n| format!("dns/r{n}.toml")).collect();
        let many: Vec<(&[u8], tar::EntryType, &[u8])> = names
            .iter()
            .map(|name| (name.as_bytes(), tar::EntryType::Regular, ZONE))
            .collect();
        let counted = error(
            &layer(&many),
            ReadPolicy {
                max_files: 3,
                ..ReadPolicy::default()
            },
        );
        assert!(counted.contains("repository_files"), "{counted}");

        let missing = layer(&[(b"elsewhere/zone.toml", tar::EntryType::Regular, ZONE)]);
        let message = error(&missing, ReadPolicy::default());
        assert!(message.contains("`dns`"), "{message}");
    }

    /// A registry sending more of a blob than its descriptor says is cut
    /// off at the descriptor's size, and says so.
    #[tokio::test]
    async fn a_blob_larger_than_its_descriptor_is_cut_off() {
        use tokio::io::AsyncWriteExt;
        let mut capped = Capped::new(8);
        capped.write_all(b"12345678").await.unwrap();
        assert!(!capped.over);
        assert!(capped.write_all(b"9").await.is_err());
        assert!(capped.over);
        assert_eq!(capped.bytes, b"12345678");
    }

    /// A layer that unpacks to far more than the tenant's bytes (a gzip
    /// bomb) stops at the bound, without holding what it would unpack to.
    #[test]
    fn a_layer_that_unpacks_past_the_bound_is_cut_off() {
        let zeros = vec![0u8; 8 << 20];
        let bomb = layer(&[(b"dns/zeros.bin", tar::EntryType::Regular, &zeros)]);
        assert!(
            bomb.len() < 64 << 10,
            "a compressed layer of {} bytes",
            bomb.len()
        );
        let policy = ReadPolicy {
            max_bytes: 1 << 20,
            max_files: 10,
            ..ReadPolicy::default()
        };
        // Cut off mid-entry: an error, not 8 MiB read, and never a shorter
        // archive.
        let message = oci(policy)
            .unpack(commit(), &bomb)
            .expect_err("cut off")
            .to_string();
        assert!(
            message.contains("repository_bytes") && message.contains("unpacked"),
            "{message}"
        );
    }
}
