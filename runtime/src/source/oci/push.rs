//! `cairn push`: a folder's resource files and manifests packed as an OCI
//! artifact ([`super::artifact`]) and pushed to a registry under a tag,
//! with the annotations an OCI source reads its revision's author, time
//! and message from. The folder is read as a `dir:` source reads it, so
//! what it refuses (a link, a name that is not UTF-8, a file too large)
//! is refused before anything is sent. With a key, the artifact's digest
//! is signed and the signature pushed beside it ([`super::signature`]).

use super::artifact::{self, Address};
use crate::source::{FileProblem, Snapshot, Source, SourceError, UnreadableManifest};
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use std::path::PathBuf;

/// What to push, where and as whom.
#[derive(Debug)]
pub struct Push {
    /// The folder of resource files.
    pub folder: PathBuf,
    /// The artifact's address.
    pub address: Address,
    /// The tag to push it under.
    pub tag: String,
    /// Who made it, `Name <email>`.
    pub author: String,
    /// Why.
    pub message: String,
    /// The revision of the source it was made from (a Git commit).
    pub revision: Option<String>,
    /// Where that source lives.
    pub source: Option<String>,
    /// The registry's credentials.
    pub auth: RegistryAuth,
    /// An SSH private key to sign the artifact with ([`super::signature`]).
    pub sign_key: Option<PathBuf>,
}

/// What was pushed.
#[derive(Debug)]
pub struct Pushed {
    /// The manifest's digest, `sha256:…`: the revision a tenant reads.
    pub digest: String,
    /// How many files the layer holds.
    pub files: usize,
}

/// Why a push failed; nothing is tagged.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The folder could not be read as resource files.
    #[error("{0}")]
    Folder(#[from] SourceError),
    /// The layer could not be made.
    #[error("cannot pack the files: {0}")]
    Pack(#[source] std::io::Error),
    /// The artifact could not be signed; it is pushed, unsigned.
    #[error("the artifact was pushed as {digest}, and could not be signed: {source}")]
    Sign {
        /// The artifact's digest.
        digest: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The registry refused or failed.
    #[error("cannot push to {registry}: {source}")]
    Registry {
        /// The registry.
        registry: String,
        /// What went wrong.
        #[source]
        source: oci_client::errors::OciDistributionError,
    },
}

/// Packs `push.folder` and pushes it.
pub async fn push(push: &Push) -> Result<Pushed, PushError> {
    let files = folder_files(push).await?;
    let layer = artifact::pack(&files).map_err(PushError::Pack)?;
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let annotations = artifact::annotations(
        &push.author,
        &push.message,
        &created,
        push.revision.as_deref(),
        push.source.as_deref(),
    );
    let layers = [ImageLayer::new(
        layer,
        artifact::CONTENT_MEDIA_TYPE.to_string(),
        None,
    )];
    let config = Config::new(
        b"{}".to_vec(),
        artifact::CONFIG_MEDIA_TYPE.to_string(),
        None,
    );
    let manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    let registry = |source| PushError::Registry {
        registry: push.address.registry.clone(),
        source,
    };
    let client = push.address.client();
    let reference = push.address.reference(&push.tag);
    client
        .push(&reference, &layers, config, &push.auth, Some(manifest))
        .await
        .map_err(registry)?;
    // The registry's digest of what it stored under the tag.
    let stored = client
        .fetch_manifest_digest(&reference, &push.auth)
        .await
        .map_err(registry)?;
    if let Some(key) = &push.sign_key {
        let signature = super::signature::sign(key, &stored).map_err(|source| PushError::Sign {
            digest: stored.clone(),
            source,
        })?;
        let layers = [ImageLayer::new(
            signature,
            super::signature::SIGNATURE_MEDIA_TYPE.to_string(),
            None,
        )];
        let config = Config::new(
            b"{}".to_vec(),
            artifact::CONFIG_MEDIA_TYPE.to_string(),
            None,
        );
        let tag = push
            .address
            .reference(&super::signature::signature_tag(&stored));
        client
            .push(&tag, &layers, config, &push.auth, None)
            .await
            .map_err(registry)?;
    }
    Ok(Pushed {
        digest: stored,
        files: files.len(),
    })
}

/// The folder's resource files and manifests, by path, read as a `dir:`
/// source reads them.
async fn folder_files(push: &Push) -> Result<Vec<(String, Vec<u8>)>, SourceError> {
    let scratch = std::env::temp_dir();
    let source = Source::new(
        &format!("{}{}", crate::source::FOLDER_PREFIX, push.folder.display()),
        "",
        ".",
        &scratch,
    );
    let snapshot: Snapshot = source.snapshot().await?;
    let texts = snapshot.read_texts(snapshot.files.iter()).await?;
    let mut files: Vec<(String, Vec<u8>)> = snapshot
        .files
        .iter()
        .zip(texts)
        .map(|(file, text)| (file.path.clone(), text.into_bytes()))
        .collect();
    for (path, manifest) in &snapshot.manifests {
        let text = manifest
            .text
            .as_ref()
            .map_err(|problem| SourceError::BadFile {
                file: path.clone(),
                commit: snapshot.commit.id.clone(),
                reason: match problem {
                    UnreadableManifest::NotUtf8(error) => FileProblem::NotUtf8(*error),
                    UnreadableManifest::TooLarge { size, limit } => FileProblem::TooLarge {
                        size: *size,
                        limit: *limit,
                    },
                },
            })?;
        files.push((path.clone(), text.as_bytes().to_vec()));
    }
    files.sort();
    Ok(files)
}
