//! Tags do not move: the revision a tag named when a source first read it
//! is remembered (in the state store, so that every daemon sharing it and
//! every CLI command remembers the same), and a tag found naming another
//! is [`SourceError::TagMoved`], every time, until `ref` names something
//! else. A moved release tag is how a repository's history is rewritten
//! under a deployment; a branch or an artifact's tag is followed as it
//! moves, a Git or Mercurial tag is not.

use super::{CommitInfo, SourceError};
use crate::store::StateStore;

/// Fails when `tag` of `repo` named another revision than `commit` when
/// first read by any reader sharing `store`; else remembers `commit` for
/// it. A store that cannot answer fails the read: nothing is applied from
/// a tag that could not be checked.
pub(super) async fn check(
    store: &StateStore,
    repo: &str,
    tag: &str,
    commit: &CommitInfo,
) -> Result<(), SourceError> {
    let first = store
        .first_revision_of_tag(repo, tag, &commit.id)
        .await
        .map_err(|source| SourceError::TagUnchecked {
            repo: repo.to_string(),
            tag: tag.to_string(),
            source: Box::new(source),
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(id: &str) -> CommitInfo {
        CommitInfo {
            id: id.to_string(),
            author: "Ada <ada@example.org>".into(),
            summary: "release".into(),
            time: 0,
        }
    }

    #[tokio::test]
    async fn a_tag_is_remembered_and_a_move_refused_every_time_by_every_reader() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("state.db").display());
        let store = StateStore::open(&url).await.unwrap();
        let first = "a".repeat(40);
        let second = "b".repeat(40);
        check(&store, "repo", "v1", &commit(&first)).await.unwrap();
        check(&store, "repo", "v1", &commit(&first)).await.unwrap();
        // Another process opening the same store (a CLI command beside the
        // daemon, another daemon) remembers the same.
        let other = StateStore::open(&url).await.unwrap();
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
}
