//! Listing a commit's folder from the last listing: Git says which entries
//! changed between the two folder trees (a subtree whose id did not move
//! is not even opened), and only those are listed again — their sizes
//! read, their manifests read, the quotas counted from the last totals.
//! A commit that changed one file among 10,000 then costs the comparison
//! of two trees, not a size read and a path built for every file.
//!
//! Whatever this way meets that the listing would refuse (a symbolic link
//! or a name that is not UTF-8 where a resource file would be, a file too
//! large, a quota passed), it leaves to the listing of every entry, which
//! then says exactly what it always says.

use super::Objects;
use crate::source::listing::{self, Bytes, Entry, Listed};
use crate::source::{CommitInfo, ManifestFile, ReadPolicy, SourceFile};
use gix::ObjectId;
use gix::bstr::BString;
use gix::diff::tree::recorder::Change;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The last listing of the tenant's folder, what the next starts from.
#[derive(Debug, Clone)]
pub(crate) struct LastListing {
    /// The folder's tree.
    pub tree: ObjectId,
    /// How many entries the folder holds (folders aside), as counted
    /// against the quota of files.
    pub entries: usize,
    /// The size of its resource files and manifests together, as counted
    /// against the quota of bytes.
    pub bytes: u64,
    /// Its resource files, sorted by path (shared with the snapshots that
    /// list them).
    pub files: Arc<[SourceFile]>,
    /// Its manifests, by path.
    pub manifests: BTreeMap<String, ManifestFile>,
    /// The folder's trees that the last comparison read on the new side
    /// (the folder's own, and its changed subtrees), as Git stores them:
    /// the next comparison finds its old side here instead of inflating
    /// it again (a folder of 10,000 files is a tree of about 400 KiB).
    pub trees: Arc<[Tree]>,
}

/// A tree's id and its data, as Git stores it.
pub(crate) type Tree = (ObjectId, Vec<u8>);

/// A commit's folder, its `tree`, listed from `last`: `None` when Git
/// cannot compare the two trees or when a changed entry is one the
/// listing refuses (see the module's comment); the caller then lists every
/// entry.
pub(super) fn list(
    last: &LastListing,
    tree: &gix::Tree<'_>,
    folder: &str,
    policy: &ReadPolicy,
    objects: &Objects<'_>,
    commit: &CommitInfo,
) -> Option<LastListing> {
    if last.tree == tree.id {
        return Some(last.clone());
    }
    let (changes, trees) = changes(objects.repository, last, tree)?;
    let prefix = listing::folder_prefix(folder);
    let mut entries = last.entries;
    let mut bytes = last.bytes;
    let mut manifests = last.manifests.clone();
    // What leaves the listing first, then what enters it: the bytes
    // counted against the quota never go above the new total on the way.
    let mut left: Vec<String> = Vec::new();
    for (path, mode, id) in changes.iter().filter_map(Change::before) {
        entries = entries.checked_sub(1)?;
        if !listing::is_listed(path) || !mode.is_blob() {
            continue;
        }
        let path = format!("{prefix}{}", std::str::from_utf8(path).ok()?);
        bytes = bytes.checked_sub(objects.size_of(id).ok()?)?;
        if manifests.remove(&path).is_none() {
            left.push(path);
        }
    }
    let mut bytes = Bytes::new(commit, policy, bytes);
    let mut entered: Vec<SourceFile> = Vec::new();
    for (path, mode, id) in changes.iter().filter_map(Change::after) {
        entries += 1;
        let entry = Entry {
            path: path.to_vec(),
            kind: super::kind_of(mode),
            id: id.to_string(),
        };
        match listing::list(&prefix, entry, objects, &mut bytes).ok()? {
            Listed::Unlisted => {}
            Listed::File(file) => entered.push(file),
            Listed::Manifest(path, manifest) => {
                manifests.insert(path, manifest);
            }
        }
    }
    listing::check_file_count(commit, folder, entries, policy).ok()?;
    Some(LastListing {
        tree: tree.id,
        entries,
        bytes: bytes.counted,
        files: merged(&last.files, left, entered),
        manifests,
        trees,
    })
}

/// The changes from the last listing's folder tree to `new` (folders'
/// own entries aside), and the trees of the new side read on the way;
/// `None` when Git cannot tell them.
fn changes(
    repository: &gix::Repository,
    last: &LastListing,
    new: &gix::Tree<'_>,
) -> Option<(Vec<Change>, Arc<[Tree]>)> {
    let old: Cow<'_, [u8]> = match kept(&last.trees, &last.tree) {
        Some(data) => Cow::Borrowed(data),
        None => Cow::Owned(repository.find_tree(last.tree).ok()?.detach().data),
    };
    let hash = repository.object_hash();
    let objects = KeptFirst {
        kept: &last.trees,
        objects: &repository.objects,
        read: RefCell::default(),
    };
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(&old, hash),
        gix::objs::TreeRefIter::from_bytes(&new.data, hash),
        gix::diff::tree::State::default(),
        &objects,
        &mut recorder,
    )
    .ok()?;
    // The new side's trees: the folder's own, and each changed subtree's.
    let mut read = objects.read.into_inner();
    let mut trees = vec![(new.id, new.data.clone())];
    for change in &recorder.records {
        if let Some(id) = change.after_tree()
            && let Some(at) = read.iter().position(|(read, _)| *read == id)
        {
            trees.push(read.swap_remove(at));
        }
    }
    Some((recorder.records, trees.into()))
}

/// The data of tree `id` among `trees`.
fn kept<'a>(trees: &'a [Tree], id: &gix::oid) -> Option<&'a [u8]> {
    trees
        .iter()
        .find(|(kept, _)| kept.as_ref() == id)
        .map(|(_, data)| data.as_slice())
}

/// A repository's objects, the trees kept from the last listing first;
/// the trees read from the repository are noted.
struct KeptFirst<'a, Objects> {
    kept: &'a [Tree],
    objects: &'a Objects,
    read: RefCell<Vec<Tree>>,
}

impl<Objects: gix::objs::Find> gix::objs::Find for KeptFirst<'_, Objects> {
    fn try_find<'a>(
        &self,
        id: &gix::oid,
        buffer: &'a mut Vec<u8>,
    ) -> gix::error::Result<Option<gix::objs::Data<'a>>> {
        if let Some(data) = kept(self.kept, id) {
            buffer.clear();
            buffer.extend_from_slice(data);
            return Ok(Some(gix::objs::Data::new(
                buffer,
                gix::objs::Kind::Tree,
                id.kind(),
            )));
        }
        let found = self.objects.try_find(id, buffer)?;
        if let Some(data) = &found
            && data.kind == gix::objs::Kind::Tree
        {
            self.read
                .borrow_mut()
                .push((id.to_owned(), data.data.to_vec()));
        }
        Ok(found)
    }
}

/// One side of a change, as the listing sees entries.
trait Side {
    /// The entry before the change (its path, mode and id), when there was
    /// one and it is not a folder.
    fn before(&self) -> Option<(&BString, gix::object::tree::EntryMode, ObjectId)>;
    /// The entry after the change, when there is one and it is not a
    /// folder.
    fn after(&self) -> Option<(&BString, gix::object::tree::EntryMode, ObjectId)>;
    /// The id after the change, when it is a folder's.
    fn after_tree(&self) -> Option<ObjectId>;
}

impl Side for Change {
    fn before(&self) -> Option<(&BString, gix::object::tree::EntryMode, ObjectId)> {
        let (path, mode, id) = match self {
            Change::Addition { .. } => return None,
            Change::Deletion {
                entry_mode,
                oid,
                path,
                ..
            } => (path, *entry_mode, *oid),
            Change::Modification {
                previous_entry_mode,
                previous_oid,
                path,
                ..
            } => (path, *previous_entry_mode, *previous_oid),
        };
        (!mode.is_tree()).then_some((path, mode, id))
    }

    fn after(&self) -> Option<(&BString, gix::object::tree::EntryMode, ObjectId)> {
        let (path, mode, id) = match self {
            Change::Deletion { .. } => return None,
            Change::Addition {
                entry_mode,
                oid,
                path,
                ..
            }
            | Change::Modification {
                entry_mode,
                oid,
                path,
                ..
            } => (path, *entry_mode, *oid),
        };
        (!mode.is_tree()).then_some((path, mode, id))
    }

    fn after_tree(&self) -> Option<ObjectId> {
        match self {
            Change::Deletion { .. } => None,
            Change::Addition {
                entry_mode, oid, ..
            }
            | Change::Modification {
                entry_mode, oid, ..
            } => entry_mode.is_tree().then_some(*oid),
        }
    }
}

/// `files` (sorted by path) without the paths in `left`, with the files
/// `entered`: sorted by path.
fn merged(
    files: &[SourceFile],
    mut left: Vec<String>,
    mut entered: Vec<SourceFile>,
) -> Arc<[SourceFile]> {
    left.sort_unstable();
    entered.sort_by(|a, b| a.path.cmp(&b.path));
    let mut entered = entered.into_iter().peekable();
    let mut merged = Vec::with_capacity(files.len() + entered.len());
    for file in files {
        while let Some(next) = entered.next_if(|next| next.path < file.path) {
            merged.push(next);
        }
        if left.binary_search(&file.path).is_err() {
            merged.push(file.clone());
        }
    }
    merged.extend(entered);
    merged.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> Vec<SourceFile> {
        paths
            .iter()
            .map(|path| SourceFile {
                path: path.to_string(),
                blob: format!("blob of {path}"),
            })
            .collect()
    }

    fn paths(files: &[SourceFile]) -> Vec<&str> {
        files.iter().map(|file| file.path.as_str()).collect()
    }

    #[test]
    fn files_that_left_go_and_files_that_entered_take_their_place_by_path() {
        let last = files(&["a", "c", "e", "g"]);
        let left = vec!["g".to_string(), "c".to_string()];
        // A changed file leaves and enters again.
        let merged = merged(&last, left, files(&["h", "c", "b", "0"]));
        assert_eq!(paths(&merged), ["0", "a", "b", "c", "e", "h"]);
        assert_eq!(
            paths(&super::merged(&last, Vec::new(), Vec::new())),
            ["a", "c", "e", "g"]
        );
    }
}
