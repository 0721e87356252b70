//! The record of webhook deliveries (`chatbots/{id}/webhook-records/`).

use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::Result;
use crate::models::{PageRequest, Paged, WebhookRecord, new_id};
use crate::params;
use crate::sql::{Db, Row};

const COLUMNS: &str = "id, organization_id, chatbot_id, message_id, url, request_body, \
    status_code, response, error, attempt, duration_ms, created_at";

fn from_row(mut row: Row) -> Result<WebhookRecord> {
    Ok(WebhookRecord {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        chatbot_id: row.uuid(2)?,
        message_id: row.opt_uuid(3)?,
        url: row.text(4)?,
        request_body: row.opt_json(5)?.unwrap_or(serde_json::Value::Null),
        status_code: row.opt_i64(6)?,
        response: row.text(7)?,
        error: row.opt_text(8)?,
        attempt: row.i64(9)?,
        duration_ms: row.i64(10)?,
        created_at: row.timestamp(11)?,
    })
}

impl Db<'_> {
    /// Records a delivery attempt; `id` and `created_at` are assigned here.
    pub fn insert_webhook_record(&mut self, record: &WebhookRecord) -> Result<WebhookRecord> {
        let r = record;
        let stored = WebhookRecord { id: new_id(), created_at: Timestamp::now(), ..r.clone() };
        self.execute(
            &format!(
                "INSERT INTO webhook_records ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            params![
                stored.id,
                r.organization_id,
                r.chatbot_id,
                r.message_id,
                &r.url,
                &r.request_body,
                r.status_code,
                &r.response,
                &r.error,
                r.attempt,
                r.duration_ms,
                stored.created_at
            ],
        )?;
        Ok(stored)
    }

    /// An assistant's delivery attempts, newest first.
    pub fn list_webhook_records(
        &mut self,
        organization_id: Uuid,
        chatbot_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<WebhookRecord>> {
        let list = format!(
            "SELECT {COLUMNS} FROM webhook_records WHERE organization_id = $1 AND chatbot_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        );
        self.paginate(
            "SELECT COUNT(*) FROM webhook_records WHERE organization_id = $1 AND chatbot_id = $2",
            &list,
            params![organization_id, chatbot_id],
            page,
            from_row,
        )
    }
}
