//! Attachments: uploaded files sent with messages.

use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{Attachment, PageRequest, Paged, new_id};
use crate::params;
use crate::sql::{Db, Param, Row, placeholders};

pub(crate) const COLUMNS: &str = "a.id, a.organization_id, a.conversation_id, a.attachment_type, \
    a.filename, a.storage_key, a.size, a.created_at, a.updated_at";

pub(crate) fn from_row(mut row: Row) -> Result<Attachment> {
    Ok(Attachment {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        conversation_id: row.opt_uuid(2)?,
        attachment_type: row.text(3)?,
        filename: row.text(4)?,
        storage_key: row.text(5)?,
        size: row.i64(6)?,
        created_at: row.timestamp(7)?,
        updated_at: row.timestamp(8)?,
    })
}

impl Db<'_> {
    /// Stores an attachment; `id` and the timestamps are assigned here. A conversation, when
    /// given, must be the organisation's.
    pub fn insert_attachment(&mut self, attachment: &Attachment) -> Result<Attachment> {
        self.transaction(|db| {
            let a = attachment;
            if let Some(conversation) = a.conversation_id {
                db.query_one(
                    "SELECT id FROM conversations WHERE organization_id = $1 AND id = $2",
                    params![a.organization_id, conversation],
                )?;
            }
            let id = new_id();
            let now = Timestamp::now();
            db.execute(
                "INSERT INTO attachments (id, organization_id, conversation_id, attachment_type, \
                 filename, storage_key, size, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                params![
                    id,
                    a.organization_id,
                    a.conversation_id,
                    &a.attachment_type,
                    &a.filename,
                    &a.storage_key,
                    a.size,
                    now,
                    now
                ],
            )?;
            db.get_attachment(a.organization_id, id)
        })
    }

    pub fn get_attachment(&mut self, organization_id: Uuid, id: Uuid) -> Result<Attachment> {
        let sql = format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.organization_id = $1 AND a.id = $2"
        );
        from_row(self.query_one(&sql, params![organization_id, id])?)
    }

    /// The organisation's attachments among `ids`, in the order of `ids` (unknown ids and
    /// other organisations' are left out).
    pub fn attachments_by_ids(
        &mut self,
        organization_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<Attachment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut values: Vec<Param<'_>> = vec![Param::Uuid(organization_id)];
        values.extend(ids.iter().map(|id| Param::Uuid(*id)));
        let sql = format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.organization_id = $1 AND a.id IN ({})",
            placeholders(2, ids.len())
        );
        let mut found =
            self.query(&sql, &values)?.into_iter().map(from_row).collect::<Result<Vec<_>>>()?;
        found.sort_by_key(|a| ids.iter().position(|id| *id == a.id));
        found.dedup_by_key(|a| a.id);
        Ok(found)
    }

    /// Newest first.
    pub fn list_attachments(
        &mut self,
        organization_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<Attachment>> {
        let list = format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.organization_id = $1 \
             ORDER BY a.created_at DESC, a.id DESC LIMIT $2 OFFSET $3"
        );
        self.paginate(
            "SELECT COUNT(*) FROM attachments WHERE organization_id = $1",
            &list,
            params![organization_id],
            page,
            from_row,
        )
    }

    /// Writes an attachment's type, name and object; bumps `updated_at`.
    pub fn update_attachment(&mut self, a: &Attachment) -> Result<Attachment> {
        let changed = self.execute(
            "UPDATE attachments SET attachment_type = $3, filename = $4, storage_key = $5, \
             size = $6, updated_at = $7 WHERE organization_id = $1 AND id = $2",
            params![
                a.organization_id,
                a.id,
                &a.attachment_type,
                &a.filename,
                &a.storage_key,
                a.size,
                Timestamp::now()
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_attachment(a.organization_id, a.id)
    }

    /// Deletes an attachment (messages that carried it no longer do) and returns it, so its
    /// object can be removed too.
    pub fn delete_attachment(&mut self, organization_id: Uuid, id: Uuid) -> Result<Attachment> {
        self.transaction(|db| {
            let attachment = db.get_attachment(organization_id, id)?;
            db.execute("DELETE FROM attachments WHERE id = $1", params![id])?;
            Ok(attachment)
        })
    }

    /// Whether another attachment still refers to `storage_key` (so its object must stay).
    pub fn storage_key_in_use(&mut self, storage_key: &str) -> Result<bool> {
        Ok(self.count(
            "SELECT COUNT(*) FROM attachments WHERE storage_key = $1",
            params![storage_key],
        )? > 0)
    }
}
