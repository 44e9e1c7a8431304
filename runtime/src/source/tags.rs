//! Tags do not move: the revision a tag named when a source first read it
//! is remembered (in the state store, so that every daemon sharing it and
//! every CLI command remembers the same), and a tag found naming another
//! is [`SourceError::TagMoved`], every time, until `ref` names something
//! else. A moved release tag is how a repository's history is rewritten
//! under a deployment; a branch or an artifact's tag is followed as it
//! moves, a Git or Mercurial tag is not.

use super::{CommitInfo, SourceError};
use crate::store::StateStore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where what a tag named when first read is found.
pub(super) struct FirstRead<'a> {
    /// The store: every reader sharing it remembers the same.
    pub store: &'a StateStore,
    /// The cache folder of remote sources, where an earlier version of
    /// Cairn kept one file of tags per repository: a tag it remembered
    /// and the store does not is taken from there on its first read (read
    /// only then), so that a move this host refused before an upgrade
    /// stays refused after it.
    pub before: &'a Path,
}

impl FirstRead<'_> {
    /// Fails when `tag` of `repo` named another revision than `commit`
    /// when first read; else remembers `commit` for it. A store that
    /// cannot answer fails the read: nothing is applied from a tag that
    /// could not be checked.
    pub async fn check(
        &self,
        repo: &str,
        tag: &str,
        commit: &CommitInfo,
    ) -> Result<(), SourceError> {
        let unchecked = |source| SourceError::TagUnchecked {
            repo: repo.to_string(),
            tag: tag.to_string(),
            source: Box::new(source),
        };
        let remembered = self
            .store
            .remembered_revision_of_tag(repo, tag)
            .await
            .map_err(unchecked)?;
        let first = match remembered {
            Some(first) => first,
            // The first read: what an earlier version kept, or this commit.
            None => {
                let remembered_before = remembered_in_folder(self.before, repo, tag);
                let candidate = remembered_before.as_deref().unwrap_or(&commit.id);
                self.store
                    .first_revision_of_tag(repo, tag, candidate)
                    .await
                    .map_err(unchecked)?
            }
        };
        if first == commit.id {
            return Ok(());
        }
        Err(SourceError::TagMoved {
            repo: repo.to_string(),
            tag: tag.to_string(),
            first: first[..first.len().min(12)].to_string(),
            now: Box::new(commit.clone()),
        })
    }
}

/// The revision an earlier version of Cairn remembered for `tag` of
/// `repo` in `folder`, if any.
fn remembered_in_folder(folder: &Path, repo: &str, tag: &str) -> Option<String> {
    let bytes = std::fs::read(folder_file(folder, repo)).ok()?;
    let mut seen: BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    seen.remove(tag)
}

/// The file of `repo`'s tags an earlier version kept in `folder`.
fn folder_file(folder: &Path, repo: &str) -> PathBuf {
    let key = hex::encode(Sha256::digest(repo.as_bytes()));
    folder.join(format!("tags-{}.json", &key[..24]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::store_in;

    fn commit(id: &str) -> CommitInfo {
        CommitInfo {
            id: id.to_string(),
            author: "Ada <ada@example.org>".into(),
            summary: "release".into(),
            time: 0,
        }
    }

    async fn check(
        store: &StateStore,
        repo: &str,
        tag: &str,
        now: &CommitInfo,
    ) -> Result<(), SourceError> {
        let nothing_before = tempfile::tempdir().unwrap();
        let first_read = FirstRead {
            store,
            before: nothing_before.path(),
        };
        first_read.check(repo, tag, now).await
    }

    #[tokio::test]
    async fn a_tag_is_remembered_and_a_move_refused_every_time_by_every_reader() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let first = "a".repeat(40);
        let second = "b".repeat(40);
        check(&store, "repo", "v1", &commit(&first)).await.unwrap();
        check(&store, "repo", "v1", &commit(&first)).await.unwrap();
        // Another process opening the same store (a CLI command beside the
        // daemon, another daemon) remembers the same.
        let other = store_in(dir.path()).await;
        for reader in [&store, &other] {
            let moved = check(reader, "repo", "v1", &commit(&second))
                .await
                .unwrap_err()
                .to_string();
            assert!(moved.contains("the tag `v1` of repo moved"), "{moved}");
            assert!(
                moved.contains("aaaaaaaaaaaa") && moved.contains("bbbbbbbbbbbb"),
                "{moved}"
            );
        }
        // Another tag, another repository: their own.
        check(&store, "repo", "v2", &commit(&second)).await.unwrap();
        check(&other, "other", "v1", &commit(&second))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn what_an_earlier_version_kept_in_the_cache_folder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let before = dir.path().join("repos");
        std::fs::create_dir_all(&before).unwrap();
        let first = "a".repeat(40);
        let second = "b".repeat(40);
        // As the earlier version wrote it: v1 first read at `first`.
        std::fs::write(
            folder_file(&before, "repo"),
            serde_json::to_vec(&BTreeMap::from([("v1", &first)])).unwrap(),
        )
        .unwrap();
        let first_read = FirstRead {
            store: &store,
            before: &before,
        };
        let moved = first_read
            .check("repo", "v1", &commit(&second))
            .await
            .unwrap_err()
            .to_string();
        assert!(moved.contains("aaaaaaaaaaaa"), "{moved}");
        // Remembered in the store from then on, the file gone or not.
        std::fs::remove_dir_all(&before).unwrap();
        let moved = first_read.check("repo", "v1", &commit(&second)).await;
        assert!(moved.is_err(), "the move is refused once the file is gone");
        first_read
            .check("repo", "v1", &commit(&first))
            .await
            .unwrap();
        // A tag the file does not hold is remembered as read.
        first_read
            .check("repo", "v2", &commit(&second))
            .await
            .unwrap();
    }
}
