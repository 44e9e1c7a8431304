//! An OCI artifact of resource files, in the form `flux push artifact`
//! makes: one layer, a gzipped tar of the files
//! ([`CONTENT_MEDIA_TYPE`]), an empty JSON config
//! ([`CONFIG_MEDIA_TYPE`]), and the `org.opencontainers.image.*`
//! annotations on the manifest saying who made it, when, from what and
//! why. `cairn push` packs one; the OCI source unpacks it.

use oci_client::Reference;
use oci_client::client::{ClientConfig, ClientProtocol};
use std::collections::BTreeMap;

/// The prefix of an OCI artifact's `repo`.
pub const OCI_PREFIX: &str = "oci://";

/// The layer's media type: Flux's, so that Flux and Cairn read each
/// other's artifacts.
pub const CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// A plain OCI image layer, also read.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The config's media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";

/// Who made the artifact (`Name <email>`): the revision's author.
pub const AUTHORS: &str = oci_client::annotations::ORG_OPENCONTAINERS_IMAGE_AUTHORS;
/// Why: the revision's message.
pub const DESCRIPTION: &str = oci_client::annotations::ORG_OPENCONTAINERS_IMAGE_DESCRIPTION;
/// When, RFC 3339: the revision's time.
pub const CREATED: &str = oci_client::annotations::ORG_OPENCONTAINERS_IMAGE_CREATED;
/// From which revision of which source (a Git commit, say).
pub const REVISION: &str = oci_client::annotations::ORG_OPENCONTAINERS_IMAGE_REVISION;
/// Where that source lives.
pub const SOURCE: &str = oci_client::annotations::ORG_OPENCONTAINERS_IMAGE_SOURCE;

/// Where an artifact lives: `oci://HOST[:PORT]/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `HOST[:PORT]`.
    pub registry: String,
    /// `NAME`, which may hold slashes.
    pub repository: String,
}

/// A `repo` that is not `oci://HOST[:PORT]/NAME`.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not an OCI artifact's address: write oci://HOST[:PORT]/NAME, the tag or digest in `ref` (or after `:` / `@` for cairn push)"
)]
pub struct BadAddress(pub String);

impl Address {
    /// Parses `oci://HOST[:PORT]/NAME`.
    pub fn parse(repo: &str) -> Result<Self, BadAddress> {
        let bad = || BadAddress(repo.to_string());
        let rest = repo.strip_prefix(OCI_PREFIX).ok_or_else(bad)?;
        let (registry, repository) = rest.split_once('/').ok_or_else(bad)?;
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/:[]".contains(c))
        };
        if !valid(registry) || !valid(repository) || repository.contains(':') {
            return Err(bad());
        }
        Ok(Self {
            registry: registry.to_string(),
            repository: repository.trim_end_matches('/').to_string(),
        })
    }

    /// The reference of `tag_or_digest` here: a digest is `sha256:HEX`
    /// (or the 64 hexadecimal digits alone, as Cairn records revisions).
    pub fn reference(&self, tag_or_digest: &str) -> Reference {
        match digest_of(tag_or_digest) {
            Some(digest) => {
                Reference::with_digest(self.registry.clone(), self.repository.clone(), digest)
            }
            None => Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                tag_or_digest.to_string(),
            ),
        }
    }

    /// Whether the registry is on this machine, where it is spoken to
    /// over plain HTTP, as Docker does; any other over HTTPS.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => &self.registry,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// A client for the registry.
    pub fn client(&self) -> oci_client::Client {
        let protocol = match self.is_loopback() {
            true => ClientProtocol::Http,
            false => ClientProtocol::Https,
        };
        oci_client::Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(30)),
            ..ClientConfig::default()
        })
    }
}

/// `sha256:HEX` when `text` is a SHA-256 digest, with or without its
/// algorithm.
pub fn digest_of(text: &str) -> Option<String> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// The annotations of an artifact made by `author` at `created` (RFC
/// 3339) with `message`, from `revision` of `source` when given.
pub fn annotations(
    author: &str,
    message: &str,
    created: &str,
    revision: Option<&str>,
    source: Option<&str>,
) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([
        (AUTHORS.to_string(), author.to_string()),
        (DESCRIPTION.to_string(), message.to_string()),
        (CREATED.to_string(), created.to_string()),
    ]);
    if let Some(revision) = revision {
        annotations.insert(REVISION.to_string(), revision.to_string());
    }
    if let Some(source) = source {
        annotations.insert(SOURCE.to_string(), source.to_string());
    }
    annotations
}

/// A gzipped tar of `files` (path, contents), in the order given, each a
/// regular file of mode 0644 owned by root at time 0: the same files make
/// the same layer, and so the same digest.
pub fn pack(files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut archive = tar::Builder::new(gzip);
    archive.mode(tar::HeaderMode::Deterministic);
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        archive.append_data(&mut header, path, contents.as_slice())?;
    }
    archive.into_inner()?.finish()
}
