//! The revision each release tag of a repository named when Cairn first
//! read it, for every daemon sharing the store (`source::tags` refuses a
//! tag found naming another). Keyed by repository, not tenant: tenants
//! reading one repository share what its tags named.
//!
//! The `repo_digest` column holds `sha256:` and the hex digest of the
//! repository's address, never the address: an address may carry a user
//! and token (`https://user:token@…`), and the store is copied into
//! backups.

use super::error::Result;
use super::{StateStore, now_ms};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// The revision remembered for a repository's tag.
const REMEMBERED: &str = "SELECT revision FROM tag_revisions WHERE repo_digest = ? AND tag = ?";

/// What the store keeps of the repository `repo`: its digest.
fn repo_digest(repo: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(repo.as_bytes())))
}

impl StateStore {
    /// The revision `tag` of `repo` named when first read, if it was read
    /// before. Nearly every read of a tag finds it: a read, which takes no
    /// write lock (a daemon polls a tag-following tenant every interval).
    pub async fn remembered_revision_of_tag(
        &self,
        repo: &str,
        tag: &str,
    ) -> Result<Option<String>> {
        let row = self
            .query(REMEMBERED)
            .bind(repo_digest(repo))
            .bind(tag.to_string())
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        Ok(row.map(|row| row.try_get("revision")).transpose()?)
    }

    /// The revision `tag` of `repo` named when first read, for a reader
    /// that found none remembered ([`StateStore::remembered_revision_of_tag`]):
    /// `revision` when this is the first read (and it is remembered from
    /// now on), else what a reader racing this one recorded first, which
    /// this one cannot replace.
    pub async fn first_revision_of_tag(
        &self,
        repo: &str,
        tag: &str,
        revision: &str,
    ) -> Result<String> {
        let repo = repo_digest(repo);
        // Not the tenant's record, so not fenced: whichever reader inserts
        // first wins, and every reader then reads the winner.
        let mut connection = self.connection().await?;
        self.query(
            "INSERT INTO tag_revisions (repo_digest, tag, revision, first_read_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (repo_digest, tag) DO NOTHING",
        )
        .bind(repo.clone())
        .bind(tag.to_string())
        .bind(revision.to_string())
        .bind(now_ms())
        .execute(&mut *connection)
        .await?;
        Ok(self
            .query(REMEMBERED)
            .bind(repo)
            .bind(tag.to_string())
            .fetch_one(&mut *connection)
            .await?
            .try_get("revision")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_store_keeps_a_digest_of_the_address_never_the_address() {
        let (store, _dir) = crate::store::tests::store().await;
        let repo = "https://ada:s3cret-token@git.example.org/zones";
        store.first_revision_of_tag(repo, "v1", "a").await.unwrap();
        assert_eq!(
            store.remembered_revision_of_tag(repo, "v1").await.unwrap(),
            Some("a".to_string())
        );
        let kept: String = store
            .query("SELECT repo_digest FROM tag_revisions")
            .fetch_one(&mut *store.connection().await.unwrap())
            .await
            .unwrap()
            .try_get("repo_digest")
            .unwrap();
        assert!(kept.starts_with("sha256:"), "{kept}");
        assert!(!kept.contains("s3cret"), "{kept}");
    }
}
