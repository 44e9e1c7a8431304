//! The revision each release tag of a repository named when Cairn first
//! read it, for every daemon sharing the store (`source::tags` refuses a
//! tag found naming another). Keyed by repository, not tenant: tenants
//! reading one repository share what its tags named.

use super::error::Result;
use super::{StateStore, now_ms};
use sqlx::Row;

/// The revision remembered for a repository's tag.
const REMEMBERED: &str = "SELECT revision FROM tag_revisions WHERE repo = ? AND tag = ?";

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
        let mut connection = self.connection().await?;
        // Nearly every read of a tag finds it remembered: a read, which
        // takes no write lock (a daemon polls a tag-following tenant every
        // interval).
        if let Some(first) = self.remembered(&mut connection, repo, tag).await? {
            return Ok(first);
        }
        // Not the tenant's record, so not fenced: whichever reader inserts
        // first wins, and every reader then reads the winner.
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
        Ok(self
            .query(REMEMBERED)
            .bind(repo.to_string())
            .bind(tag.to_string())
            .fetch_one(&mut *connection)
            .await?
            .try_get("revision")?)
    }

    /// The revision remembered for `tag` of `repo`, if any.
    async fn remembered(
        &self,
        connection: &mut sqlx::pool::PoolConnection<sqlx::Any>,
        repo: &str,
        tag: &str,
    ) -> Result<Option<String>> {
        let row = self
            .query(REMEMBERED)
            .bind(repo.to_string())
            .bind(tag.to_string())
            .fetch_optional(&mut **connection)
            .await?;
        Ok(row.map(|row| row.try_get("revision")).transpose()?)
    }
}
