//! The desired-state model: the resources a commit declares, validated and
//! canonicalized by their providers, with addresses, dependencies and
//! lifecycle flags.
//!
//! Loading is all-or-nothing: every problem of every file is collected and
//! reported with its file, line and column, and if there is any, nothing of
//! the commit is applied.

mod across;
pub mod cache;
pub mod count;
pub mod diagnostic;
pub mod files;
pub mod graph;
mod incremental;
mod load;
pub mod parse;
pub mod spec;
mod yaml;

use crate::host::{PluginError, ProviderInstance};
use crate::source::{CommitInfo, Snapshot, SourceError};
pub use cache::ModelCache;
use diagnostic::{InvalidState, Location, SourceDiagnostic};
use serde::{Deserialize, Serialize};
pub use spec::Spec;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The hasher of the maps that hold one entry per resource or file (by
/// address, by blob id), filled and probed thousands of times in every
/// plan and load: foldhash hashes such short keys several times faster
/// than the standard SipHash, and is seeded anew in each process, so keys
/// a tenant chooses cannot be made to collide ahead of time.
pub type FastHash = foldhash::fast::RandomState;

/// A map by address, with [`FastHash`].
pub type AddressMap<V> = std::collections::HashMap<Address, V, FastHash>;

/// A set of addresses, with [`FastHash`].
pub type AddressSet = std::collections::HashSet<Address, FastHash>;

/// A resource's address: `PROVIDER/TYPE/ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Address {
    /// The provider instance.
    pub provider: String,
    /// The resource type.
    pub type_name: String,
    /// The id, built from the identity fields.
    pub id: String,
}

impl Address {
    /// Parses `PROVIDER/TYPE/ID`; the id may itself contain `/`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '/');
        let (provider, type_name, id) = (parts.next()?, parts.next()?, parts.next()?);
        if provider.is_empty() || type_name.is_empty() || id.is_empty() {
            return None;
        }
        Some(Self {
            provider: provider.to_string(),
            type_name: type_name.to_string(),
            id: id.to_string(),
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.provider, self.type_name, self.id)
    }
}

impl From<Address> for String {
    fn from(address: Address) -> Self {
        address.to_string()
    }
}

/// Text that is not an address `PROVIDER/TYPE/ID`.
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not an address PROVIDER/TYPE/ID")]
pub struct NotAnAddress {
    /// The text.
    pub text: String,
}

impl TryFrom<String> for Address {
    type Error = NotAnAddress;

    fn try_from(text: String) -> Result<Self, NotAnAddress> {
        Self::parse(&text).ok_or(NotAnAddress { text })
    }
}

/// An address is read from its text where the text is (an inventory's
/// document holds ten thousand of them), not from a copy made first.
impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AddressText;
        impl serde::de::Visitor<'_> for AddressText {
            type Value = Address;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address PROVIDER/TYPE/ID")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Address, E> {
                Address::parse(text).ok_or_else(|| {
                    E::custom(NotAnAddress {
                        text: text.to_string(),
                    })
                })
            }
        }
        deserializer.deserialize_str(AddressText)
    }
}

/// What happens to an object when its resource leaves Git.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// Delete the object (the default).
    #[default]
    Delete,
    /// Leave the object and forget it.
    Orphan,
}

/// Per-resource lifecycle flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Never delete or replace the object.
    #[serde(default)]
    pub protect: bool,
    /// Fields never updated once the object exists.
    #[serde(default)]
    pub ignore_changes: Vec<String>,
    /// What to do when the resource leaves Git.
    #[serde(default)]
    pub on_delete: OnDelete,
    /// Take over an existing object Cairn did not create.
    #[serde(default)]
    pub adopt: bool,
}

/// One validated resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DesiredResource {
    /// Its address.
    pub address: Address,
    /// The canonical spec.
    pub spec: Spec,
    /// The addresses it must come after.
    pub depends_on: Vec<Address>,
    /// Its lifecycle flags.
    pub lifecycle: Lifecycle,
    /// Where it is declared.
    pub origin: Location,
}

/// A desired resource, in a set by its address (which it holds: the set
/// copies no address).
#[derive(Debug, Clone)]
pub(crate) struct ByAddress(pub Arc<DesiredResource>);

impl std::borrow::Borrow<Address> for ByAddress {
    fn borrow(&self) -> &Address {
        &self.0.address
    }
}

impl PartialEq for ByAddress {
    fn eq(&self, other: &Self) -> bool {
        self.0.address == other.0.address
    }
}

impl Eq for ByAddress {}

impl std::hash::Hash for ByAddress {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.address.hash(state);
    }
}

/// Everything a commit declares, valid.
#[derive(Debug)]
pub struct DesiredState {
    /// The commit.
    pub commit: CommitInfo,
    /// The resources, in the order they are declared (file, then position).
    /// Each is shared with the model cache's entry for its file, so that a
    /// commit's state is built, and freed, without copying the resources
    /// of files it did not change.
    pub resources: Vec<Arc<DesiredResource>>,
    /// Providers' warnings, which do not stop anything.
    pub warnings: Vec<SourceDiagnostic>,
    /// The key that signed the commit, when the tenant checks signatures.
    pub signer: Option<String>,
}

/// Why a commit's desired state could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The files have problems.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] InvalidState),
    /// A provider could not validate.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The files' texts could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The commit goes over one of the tenant's quotas: more resources,
    /// values or bytes of named manifests than it allows.
    #[error(transparent)]
    Quota(#[from] crate::quota::QuotaExceeded),
    /// A file of the snapshot was listed without its text, and no cache
    /// knows it.
    #[error("a resource file was listed without being read; read the commit again in full")]
    Unread,
}

/// Reads, parses and validates every resource file of `snapshot` (see
/// [`ModelCache::load`] for the incremental way), within `quotas`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn load(
    snapshot: &Snapshot,
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
    quotas: &crate::quota::Quotas,
) -> Result<DesiredState, LoadError> {
    let texts: Vec<Option<String>> = snapshot
        .read_texts(snapshot.files.iter())
        .await?
        .into_iter()
        .map(Some)
        .collect();
    match load::load_files(
        snapshot,
        &texts,
        providers,
        &load::KnownFiles::default(),
        quotas,
    )
    .await?
    {
        load::Outcome::Loaded(loaded) => Ok(loaded.state),
        load::Outcome::NeedsEveryText => Err(LoadError::Unread),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_on_the_first_two_slashes() {
        let address = Address::parse("dns/record/www.example.org./A").unwrap();
        assert_eq!(address.provider, "dns");
        assert_eq!(address.type_name, "record");
        assert_eq!(address.id, "www.example.org./A");
        assert_eq!(address.to_string(), "dns/record/www.example.org./A");
        assert!(Address::parse("dns/record").is_none());
    }
}
