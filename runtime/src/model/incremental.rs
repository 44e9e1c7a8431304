//! Loading a commit from the last one a tenant loaded: the files whose
//! path and blob are unchanged keep their resources, as they are; only
//! the files that changed or appeared are read, parsed and validated, and
//! the checks across files look only at what moved. A commit in which one
//! file changed among 10,000 then costs its file and a walk of the two
//! listings, not a pass over every resource.
//!
//! Whatever this way cannot settle on its own, it leaves to the full load
//! ([`super::ModelCache::load`] falls back to it), which then reports any
//! problem exactly as it always does: a changed file with a problem or a
//! warning, a changed resource with `depends_on` (its targets and the
//! cycles it could close are checked over the whole commit), an address
//! that leaves while some resource of the commit depends on anything, a
//! duplicate address, a commit over its quotas.

use super::cache::CachedFile;
use super::load::{self, KnownFiles, Outcome};
use super::{ByAddress, DesiredResource, DesiredState, FastHash};
use crate::host::ProviderInstance;
use crate::quota::Quotas;
use crate::source::{Snapshot, SourceFile};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// What a load of a tenant's commit leaves for loading the next one from
/// it: kept only when every file of the commit could be cached (none has
/// a warning, none declares resources that read other files).
#[derive(Debug)]
pub(super) struct LastLoad {
    /// The commit's files, in the snapshot's order (by path): the
    /// snapshot's own, shared.
    files: Arc<[SourceFile]>,
    /// Each file's entry, in the same order.
    per_file: Vec<Arc<CachedFile>>,
    /// Every address the commit declares.
    addresses: HashSet<ByAddress, FastHash>,
    /// How many of its resources have `depends_on`.
    with_dependencies: usize,
}

impl LastLoad {
    /// What a full load of `snapshot` leaves, its files' entries
    /// `per_file`.
    pub(super) fn of(snapshot: &Snapshot, per_file: Vec<Arc<CachedFile>>) -> Self {
        let resources = || per_file.iter().flat_map(|file| &file.resources);
        let mut addresses =
            HashSet::with_capacity_and_hasher(resources().count(), FastHash::default());
        addresses.extend(resources().map(|r| ByAddress(r.resource.clone())));
        let with_dependencies = resources()
            .filter(|r| !r.resource.depends_on.is_empty())
            .count();
        Self {
            files: snapshot.files.clone(),
            per_file,
            addresses,
            with_dependencies,
        }
    }
}

impl LastLoad {
    /// How many files the commit has.
    pub(super) fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The blobs of its files.
    pub(super) fn blobs(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|file| file.blob.as_str())
    }
}

/// A commit loaded from the last one.
pub(super) struct Loaded {
    /// Its desired state.
    pub state: DesiredState,
    /// What it leaves for the next load.
    pub last: LastLoad,
    /// Blob id → entry, for the files read here.
    pub fresh: Vec<(String, Arc<CachedFile>)>,
    /// The blobs of the last commit's files this one no longer has (it may
    /// still have the same contents at another path).
    pub gone: Vec<String>,
    /// How many files were read.
    pub read: usize,
}

/// A file of the new commit, against the last one's files.
#[derive(Debug, Clone, Copy)]
enum Listed {
    /// The last commit's file at this index, unchanged.
    Kept(usize),
    /// Changed, or new.
    Moved,
}

/// Loads `snapshot` from `last`, reading only the files it changed or
/// added (those whose blob `known` holds are not read either). `None`
/// when it cannot be settled this way (see the module's comment): the
/// caller then loads the commit in full.
pub(super) async fn load_from_last(
    mut last: LastLoad,
    snapshot: &Snapshot,
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
    known: &KnownFiles,
    quotas: &Quotas,
) -> Option<Loaded> {
    let (listed, removed) = compare_listings(&last.files, &snapshot.files)?;

    // The changed files' entries: from the cache, or read and validated
    // here, apart from the rest of the commit.
    let unread: Vec<SourceFile> = snapshot
        .files
        .iter()
        .zip(&listed)
        .filter(|(file, listed)| {
            matches!(listed, Listed::Moved) && CachedFile::known(known, file).is_none()
        })
        .map(|(file, _)| file.clone())
        .collect();
    let read = unread.len();
    let (fresh, read_entries) = match unread.is_empty() {
        true => (Vec::new(), Vec::new()),
        false => load_apart(snapshot.with_files(unread), providers, quotas).await?,
    };
    // The entries read are in the order of the files that were not known.
    let mut read_entries = read_entries.into_iter();
    let mut per_file = Vec::with_capacity(snapshot.files.len());
    for (file, listed) in snapshot.files.iter().zip(&listed) {
        per_file.push(match *listed {
            Listed::Kept(index) => last.per_file[index].clone(),
            Listed::Moved => match CachedFile::known(known, file) {
                Some(cached) => cached.clone(),
                None => read_entries.next()?,
            },
        });
    }

    // The checks across files, on what moved.
    let mut left: Vec<Arc<DesiredResource>> = Vec::new();
    for &index in &removed {
        for resource in &last.per_file[index].resources {
            last.addresses.remove(resource.address());
            if !resource.resource.depends_on.is_empty() {
                last.with_dependencies -= 1;
            }
            left.push(resource.resource.clone());
        }
    }
    for (file, listed) in per_file.iter().zip(&listed) {
        if matches!(listed, Listed::Kept(_)) {
            continue;
        }
        for resource in &file.resources {
            // Its targets, and the cycles it could close, are a question
            // for the whole commit.
            if !resource.depends_on.is_empty() {
                return None;
            }
            // A duplicate: the full load says where both are.
            if !last.addresses.insert(ByAddress(resource.resource.clone())) {
                return None;
            }
        }
    }
    if last.with_dependencies > 0
        && left
            .iter()
            .any(|resource| !last.addresses.contains(&resource.address))
    {
        return None;
    }
    let resources = per_file
        .iter()
        .map(|file| file.resources.len())
        .sum::<usize>();
    let values = per_file.iter().map(|file| file.values).sum::<usize>();
    if resources > quotas.resources || values > quotas.values {
        return None;
    }

    let state = DesiredState {
        commit: snapshot.commit.clone(),
        resources: per_file
            .iter()
            .flat_map(|file| file.resources.iter().map(|r| r.resource.clone()))
            .collect(),
        warnings: Vec::new(),
        signer: snapshot.signer.clone(),
    };
    let gone = removed
        .iter()
        .map(|&index| last.files[index].blob.clone())
        .collect();
    last.files = snapshot.files.clone();
    last.per_file = per_file;
    Some(Loaded {
        state,
        last,
        fresh,
        gone,
        read,
    })
}

/// Each file of `new` against `old` (both sorted by path), and the indexes
/// of `old` files that are gone or changed; `None` when `new` is not
/// sorted.
fn compare_listings(old: &[SourceFile], new: &[SourceFile]) -> Option<(Vec<Listed>, Vec<usize>)> {
    let mut listed = Vec::with_capacity(new.len());
    let mut removed = Vec::new();
    let mut at = 0;
    for (index, file) in new.iter().enumerate() {
        if index > 0 && new[index - 1].path >= file.path {
            return None;
        }
        while at < old.len() && old[at].path < file.path {
            removed.push(at);
            at += 1;
        }
        match old.get(at) {
            Some(same) if same.path == file.path => {
                if same.blob == file.blob {
                    listed.push(Listed::Kept(at));
                } else {
                    removed.push(at);
                    listed.push(Listed::Moved);
                }
                at += 1;
            }
            _ => listed.push(Listed::Moved),
        }
    }
    removed.extend(at..old.len());
    Some((listed, removed))
}

/// The entries of files read apart: by blob, for the cache, and one per
/// file in the order of the part's files.
type ReadApart = (Vec<(String, Arc<CachedFile>)>, Vec<Arc<CachedFile>>);

/// Reads, parses and validates `part` (the changed files of a commit) as
/// a commit of its own: its entries, or `None` when any of its files has
/// a problem or a warning, or depends on other files (whatever the full
/// load would say of them, it says better).
async fn load_apart(
    part: Snapshot,
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
    quotas: &Quotas,
) -> Option<ReadApart> {
    let texts: Vec<Option<String>> = part
        .read_texts(part.files.iter())
        .await
        .ok()?
        .into_iter()
        .map(Some)
        .collect();
    let loaded =
        match load::load_files(&part, &texts, providers, &KnownFiles::default(), quotas).await {
            Ok(Outcome::Loaded(loaded)) => loaded,
            Ok(Outcome::NeedsEveryText) | Err(_) => return None,
        };
    let loaded = *loaded;
    loaded
        .every_file_cacheable
        .then_some((loaded.fresh, loaded.per_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(listed: &[(&str, &str)]) -> Vec<SourceFile> {
        listed
            .iter()
            .map(|(path, blob)| SourceFile {
                path: path.to_string(),
                blob: blob.to_string(),
            })
            .collect()
    }

    #[test]
    fn listings_are_compared_by_path_and_blob() {
        let old = files(&[("a", "1"), ("b", "2"), ("c", "3"), ("e", "5")]);
        let new = files(&[("a", "1"), ("b", "20"), ("d", "4"), ("e", "5"), ("f", "3")]);
        let (listed, removed) = compare_listings(&old, &new).unwrap();
        let listed: Vec<String> = listed.iter().map(|l| format!("{l:?}")).collect();
        assert_eq!(listed, ["Kept(0)", "Moved", "Moved", "Kept(3)", "Moved"]);
        // `b` changed, `c` left (its contents moved to `f`: read again or
        // found in the cache by blob, never by path).
        assert_eq!(removed, [1, 2]);
    }

    #[test]
    fn an_unsorted_listing_is_not_compared() {
        let old = files(&[("a", "1")]);
        assert!(compare_listings(&old, &files(&[("b", "2"), ("a", "1")])).is_none());
        assert!(compare_listings(&old, &files(&[("a", "1"), ("a", "1")])).is_none());
    }
}
