//! The revision each release tag of a repository named when Cairn first
//! read it, for every daemon sharing the store (`source::tags` refuses a
//! tag found naming another). Keyed by repository, not tenant: tenants
//! reading one repository share what its tags named.

use super::error::Result;
use super::{StateStore, now_ms};
use sqlx::Row;

impl StateStore {
    /// The revision `tag` of `repo` named when first read: `revision` when
    /// this is the first read (and it is remembered from now on), else
    /// what the first read recorded, which a second reader racing this
    /// one cannot replace.
    pub async fn first_revision_of_tag(
        &self,
        repo: &str,
        tag: &str,
        revision: &str,
    ) -> Result<String> {
        // Not the tenant's record, so not fenced: whichever reader inserts
        // first wins, and every reader then reads the winner.
        let mut connection = self.connection().await?;
        self.query(
            "INSERT INTO tag_revisions (repo, tag, revision, first_read_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (repo, tag) DO NOTHING",
        )
        .bind(repo.to_string())
        .bind(tag.to_string())
        .bind(revision.to_string())
        .bind(now_ms())
        .execute(&mut *connection)
        .await?;
        let first: String = self
            .query("SELECT revision FROM tag_revisions WHERE repo = ? AND tag = ?")
            .bind(repo.to_string())
            .bind(tag.to_string())
            .fetch_one(&mut *connection)
            .await?
            .try_get("revision")?;
        Ok(first)
    }
}
