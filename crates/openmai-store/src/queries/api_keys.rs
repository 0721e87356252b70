use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::Result;
use crate::models::{ApiKey, ApiKeyOwner, NewApiKey, new_id};
use crate::params;
use crate::sql::{Db, Row};

const COLUMNS: &str =
    "id, organization_id, user_id, name, prefix, created_at, last_used_at, revoked_at";

fn from_row(mut row: Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        user_id: row.uuid(2)?,
        name: row.text(3)?,
        prefix: row.text(4)?,
        created_at: row.timestamp(5)?,
        last_used_at: row.opt_timestamp(6)?,
        revoked_at: row.opt_timestamp(7)?,
    })
}

impl Db<'_> {
    /// Stores a key by its hash only; the key itself is never written anywhere.
    pub fn insert_api_key(&mut self, new: &NewApiKey) -> Result<ApiKey> {
        let key = ApiKey {
            id: new_id(),
            organization_id: new.organization_id,
            user_id: new.user_id,
            name: new.name.clone(),
            prefix: new.prefix.clone(),
            created_at: Timestamp::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.execute(
            "INSERT INTO api_keys (id, organization_id, user_id, name, prefix, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            params![
                key.id,
                key.organization_id,
                key.user_id,
                &key.name,
                &key.prefix,
                new.key_hash.as_slice(),
                key.created_at
            ],
        )?;
        Ok(key)
    }

    /// Resolves a key hash to the user and organisation it acts as. Revoked keys, inactive
    /// users and users who left the organisation resolve to nothing.
    pub fn find_api_key_owner(&mut self, key_hash: &[u8]) -> Result<Option<ApiKeyOwner>> {
        let row = self.query_opt(
            "SELECT k.id, k.user_id, k.organization_id, k.last_used_at FROM api_keys k \
             JOIN users u ON u.id = k.user_id \
             JOIN memberships m ON m.organization_id = k.organization_id AND m.user_id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.is_active",
            params![key_hash],
        )?;
        row.map(|mut row| {
            Ok(ApiKeyOwner {
                key_id: row.uuid(0)?,
                user_id: row.uuid(1)?,
                organization_id: row.uuid(2)?,
                last_used_at: row.opt_timestamp(3)?,
            })
        })
        .transpose()
    }

    /// The user's live keys in one organisation, newest first.
    pub fn list_api_keys(&mut self, organization_id: Uuid, user_id: Uuid) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_keys WHERE organization_id = $1 AND user_id = $2 \
             AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        );
        self.query(&sql, params![organization_id, user_id])?.into_iter().map(from_row).collect()
    }

    /// Revokes one of the user's keys; false when there is no such live key.
    pub fn revoke_api_key(
        &mut self,
        organization_id: Uuid,
        user_id: Uuid,
        key_id: Uuid,
    ) -> Result<bool> {
        let changed = self.execute(
            "UPDATE api_keys SET revoked_at = $4 WHERE organization_id = $1 AND user_id = $2 \
             AND id = $3 AND revoked_at IS NULL",
            params![organization_id, user_id, key_id, Timestamp::now()],
        )?;
        Ok(changed > 0)
    }

    pub fn touch_api_key(&mut self, key_id: Uuid, at: Timestamp) -> Result<()> {
        self.execute("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", params![key_id, at])?;
        Ok(())
    }
}
