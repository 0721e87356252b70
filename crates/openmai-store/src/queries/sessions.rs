use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::Result;
use crate::models::{Session, new_id};
use crate::params;
use crate::sql::{Db, Row};

fn session_from_row(mut row: Row) -> Result<Session> {
    Ok(Session {
        id: row.uuid(0)?,
        user_id: row.uuid(1)?,
        organization_id: row.opt_uuid(2)?,
        csrf_token: row.text(3)?,
        expires_at: row.timestamp(4)?,
    })
}

impl Db<'_> {
    pub fn insert_session(
        &mut self,
        token_hash: &[u8],
        user_id: Uuid,
        organization_id: Option<Uuid>,
        csrf_token: &str,
        expires_at: Timestamp,
    ) -> Result<Session> {
        let session = Session {
            id: new_id(),
            user_id,
            organization_id,
            csrf_token: csrf_token.into(),
            expires_at,
        };
        self.execute(
            "INSERT INTO sessions (id, token_hash, user_id, organization_id, csrf_token, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            params![
                session.id,
                token_hash,
                user_id,
                organization_id,
                csrf_token,
                Timestamp::now(),
                expires_at
            ],
        )?;
        Ok(session)
    }

    /// A live session of an active user.
    pub fn find_session(&mut self, token_hash: &[u8], now: Timestamp) -> Result<Option<Session>> {
        self.query_opt(
            "SELECT s.id, s.user_id, s.organization_id, s.csrf_token, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active",
            params![token_hash, now],
        )?
        .map(session_from_row)
        .transpose()
    }

    pub fn set_session_organization(
        &mut self,
        session_id: Uuid,
        organization_id: Uuid,
    ) -> Result<()> {
        self.execute(
            "UPDATE sessions SET organization_id = $2 WHERE id = $1",
            params![session_id, organization_id],
        )?;
        Ok(())
    }

    pub fn delete_session(&mut self, session_id: Uuid) -> Result<()> {
        self.execute("DELETE FROM sessions WHERE id = $1", params![session_id])?;
        Ok(())
    }

    /// Drops sessions and revoked-token records that can no longer matter.
    pub fn delete_expired_credentials(&mut self, now: Timestamp) -> Result<u64> {
        let sessions = self.execute("DELETE FROM sessions WHERE expires_at <= $1", params![now])?;
        let tokens =
            self.execute("DELETE FROM revoked_tokens WHERE expires_at <= $1", params![now])?;
        Ok(sessions + tokens)
    }

    /// Records a refresh token as revoked (logout) until it would have expired anyway.
    pub fn revoke_token(&mut self, jti: &str, expires_at: Timestamp) -> Result<()> {
        self.execute(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO NOTHING",
            params![jti, expires_at],
        )?;
        Ok(())
    }

    pub fn is_token_revoked(&mut self, jti: &str) -> Result<bool> {
        Ok(self.query_opt("SELECT 1 FROM revoked_tokens WHERE jti = $1", params![jti])?.is_some())
    }
}
