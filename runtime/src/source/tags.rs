//! Tags do not move: the revision a tag named when a source first read it
//! is remembered (in the cache folder, one small JSON file per
//! repository), and a tag found naming another is
//! [`SourceError::TagMoved`], every time, until `ref` names something
//! else. A moved release tag is how a repository's history is rewritten
//! under a deployment; a branch or an artifact's tag is followed as it
//! moves, a Git or Mercurial tag is not.

use super::{CommitInfo, SourceError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One check-and-record at a time in this process: two tenants reading
/// one repository write one file.
static WRITING: Mutex<()> = Mutex::new(());

/// Fails when `tag` of `repo` named another revision than `commit` when
/// first read; else remembers `commit` for it.
pub(super) fn check(
    cache_dir: &Path,
    repo: &str,
    tag: &str,
    commit: &CommitInfo,
) -> Result<(), SourceError> {
    let _writing = WRITING.lock().expect("the tags file lock");
    let path = file(cache_dir, repo);
    let mut seen: BTreeMap<String, String> = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    match seen.get(tag) {
        Some(first) if *first == commit.id => Ok(()),
        Some(first) => Err(SourceError::TagMoved {
            repo: repo.to_string(),
            tag: tag.to_string(),
            first: first[..first.len().min(12)].to_string(),
            now: Box::new(commit.clone()),
        }),
        None => {
            seen.insert(tag.to_string(), commit.id.clone());
            let written = std::fs::create_dir_all(cache_dir).and_then(|()| {
                let partial = path.with_extension("partial");
                std::fs::write(
                    &partial,
                    serde_json::to_vec(&seen).expect("a map serializes"),
                )?;
                std::fs::rename(&partial, &path)
            });
            if let Err(error) = written {
                tracing::warn!(%repo, %tag, %error, "the tag's revision was not remembered: a move of it will not be noticed");
            }
            Ok(())
        }
    }
}

/// The file of `repo`'s tags.
fn file(cache_dir: &Path, repo: &str) -> PathBuf {
    let key = hex::encode(Sha256::digest(repo.as_bytes()));
    cache_dir.join(format!("tags-{}.json", &key[..24]))
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

    #[test]
    fn a_tag_is_remembered_and_a_move_refused_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = "a".repeat(40);
        let second = "b".repeat(40);
        check(dir.path(), "repo", "v1", &commit(&first)).unwrap();
        check(dir.path(), "repo", "v1", &commit(&first)).unwrap();
        for _ in 0..2 {
            let moved = check(dir.path(), "repo", "v1", &commit(&second))
                .unwrap_err()
                .to_string();
            assert!(moved.contains("the tag `v1` of repo moved"), "{moved}");
            assert!(
                moved.contains("aaaaaaaaaaaa") && moved.contains("bbbbbbbbbbbb"),
                "{moved}"
            );
        }
        // Another tag, another repository: their own.
        check(dir.path(), "repo", "v2", &commit(&second)).unwrap();
        check(dir.path(), "other", "v1", &commit(&second)).unwrap();
    }
}
