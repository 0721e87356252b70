//! Web chats and inboxes: the ways an assistant is reached, and where the conversations from
//! each arrive. A web chat always has exactly one inbox (created and deleted with it).

use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{Inbox, InboxFilter, PageRequest, Paged, WebChat, new_id};
use crate::params;
use crate::sql::{Db, Row};

const WEB_CHAT_COLUMNS: &str = "w.id, w.organization_id, w.chatbot_id, w.access_type, w.avatar, \
    w.logo, w.cover, w.description, w.back_url, w.is_active, w.enable_file_upload, \
    w.enable_display_citations, w.enable_share_conversation, w.enable_location, \
    w.enable_show_powered_by, w.theme, w.created_at, w.updated_at, c.name";
const WEB_CHAT_FROM: &str = "FROM web_chats w JOIN chatbots c ON c.id = w.chatbot_id";

fn web_chat_from_row(mut row: Row) -> Result<WebChat> {
    Ok(WebChat {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        chatbot_id: row.uuid(2)?,
        access_type: row.text(3)?,
        avatar: row.opt_text(4)?,
        logo: row.opt_text(5)?,
        cover: row.opt_text(6)?,
        description: row.text(7)?,
        back_url: row.text(8)?,
        is_active: row.bool(9)?,
        enable_file_upload: row.bool(10)?,
        enable_display_citations: row.bool(11)?,
        enable_share_conversation: row.bool(12)?,
        enable_location: row.bool(13)?,
        enable_show_powered_by: row.bool(14)?,
        theme: row.opt_json(15)?,
        created_at: row.timestamp(16)?,
        updated_at: row.timestamp(17)?,
        name: row.text(18)?,
    })
}

const INBOX_COLUMNS: &str = "i.id, i.organization_id, i.chatbot_id, i.web_chat_id, i.name, \
    i.channel_type, i.created_at, i.updated_at, \
    CASE WHEN i.web_chat_id IS NULL THEN NULL ELSE c.name END, \
    (SELECT COUNT(*) FROM conversations v WHERE v.inbox_id = i.id \
     AND v.last_message_at IS NOT NULL \
     AND (v.last_read_at IS NULL OR v.last_read_at < v.last_message_at))";
const INBOX_FROM: &str = "FROM inboxes i JOIN chatbots c ON c.id = i.chatbot_id";

fn inbox_from_row(mut row: Row) -> Result<Inbox> {
    Ok(Inbox {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        chatbot_id: row.uuid(2)?,
        web_chat_id: row.opt_uuid(3)?,
        name: row.text(4)?,
        channel_type: row.text(5)?,
        created_at: row.timestamp(6)?,
        updated_at: row.timestamp(7)?,
        channel_name: row.opt_text(8)?,
        unread_conversations_count: row.i64(9)?,
    })
}

impl Db<'_> {
    /// Stores a web chat for an assistant of its organisation, and the web chat's inbox
    /// (named after the assistant). `id` and the timestamps are assigned here.
    pub fn insert_web_chat(&mut self, web_chat: &WebChat) -> Result<WebChat> {
        self.transaction(|db| {
            let chatbot_name = db
                .query_one(
                    "SELECT name FROM chatbots WHERE organization_id = $1 AND id = $2",
                    params![web_chat.organization_id, web_chat.chatbot_id],
                )?
                .text(0)?;
            let now = Timestamp::now();
            let id = new_id();
            let w = web_chat;
            db.execute(
                "INSERT INTO web_chats (id, organization_id, chatbot_id, access_type, avatar, logo, \
                 cover, description, back_url, is_active, enable_file_upload, \
                 enable_display_citations, enable_share_conversation, enable_location, \
                 enable_show_powered_by, theme, created_at, updated_at) VALUES ($1, $2, $3, $4, \
                 $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                params![
                    id,
                    w.organization_id,
                    w.chatbot_id,
                    &w.access_type,
                    &w.avatar,
                    &w.logo,
                    &w.cover,
                    &w.description,
                    &w.back_url,
                    w.is_active,
                    w.enable_file_upload,
                    w.enable_display_citations,
                    w.enable_share_conversation,
                    w.enable_location,
                    w.enable_show_powered_by,
                    &w.theme,
                    now,
                    now
                ],
            )?;
            db.execute(
                "INSERT INTO inboxes (id, organization_id, chatbot_id, web_chat_id, name, \
                 channel_type, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'web', $6, $7)",
                params![new_id(), w.organization_id, w.chatbot_id, id, &chatbot_name, now, now],
            )?;
            db.get_web_chat(w.organization_id, id)
        })
    }

    pub fn get_web_chat(&mut self, organization_id: Uuid, id: Uuid) -> Result<WebChat> {
        let sql = format!(
            "SELECT {WEB_CHAT_COLUMNS} {WEB_CHAT_FROM} WHERE w.organization_id = $1 AND w.id = $2"
        );
        web_chat_from_row(self.query_one(&sql, params![organization_id, id])?)
    }

    /// Every web chat of the organisation, oldest first (`web-chats/` is not paginated).
    pub fn list_web_chats(&mut self, organization_id: Uuid) -> Result<Vec<WebChat>> {
        let sql = format!(
            "SELECT {WEB_CHAT_COLUMNS} {WEB_CHAT_FROM} WHERE w.organization_id = $1 \
             ORDER BY w.created_at, w.id"
        );
        self.query(&sql, params![organization_id])?.into_iter().map(web_chat_from_row).collect()
    }

    /// Writes a web chat's editable settings; bumps `updated_at`.
    pub fn update_web_chat(&mut self, w: &WebChat) -> Result<WebChat> {
        let changed = self.execute(
            "UPDATE web_chats SET avatar = $3, logo = $4, cover = $5, description = $6, \
             back_url = $7, is_active = $8, enable_file_upload = $9, \
             enable_display_citations = $10, enable_share_conversation = $11, \
             enable_location = $12, enable_show_powered_by = $13, theme = $14, updated_at = $15 \
             WHERE organization_id = $1 AND id = $2",
            params![
                w.organization_id,
                w.id,
                &w.avatar,
                &w.logo,
                &w.cover,
                &w.description,
                &w.back_url,
                w.is_active,
                w.enable_file_upload,
                w.enable_display_citations,
                w.enable_share_conversation,
                w.enable_location,
                w.enable_show_powered_by,
                &w.theme,
                Timestamp::now()
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_web_chat(w.organization_id, w.id)
    }

    /// A new inbox for an assistant of the organisation. A `web` inbox gets a web chat of
    /// its own (access type `web`) as its channel.
    pub fn insert_inbox(
        &mut self,
        organization_id: Uuid,
        chatbot_id: Uuid,
        name: &str,
        channel_type: &str,
    ) -> Result<Inbox> {
        self.transaction(|db| {
            if channel_type == "web" {
                let web_chat =
                    db.insert_web_chat(&WebChat::new(organization_id, chatbot_id, "web"))?;
                let id = db
                    .query_one(
                        "SELECT id FROM inboxes WHERE web_chat_id = $1",
                        params![web_chat.id],
                    )?
                    .uuid(0)?;
                db.execute("UPDATE inboxes SET name = $2 WHERE id = $1", params![id, name])?;
                return db.get_inbox(organization_id, id);
            }
            // The assistant must be the organisation's.
            db.query_one(
                "SELECT id FROM chatbots WHERE organization_id = $1 AND id = $2",
                params![organization_id, chatbot_id],
            )?;
            let id = new_id();
            let now = Timestamp::now();
            db.execute(
                "INSERT INTO inboxes (id, organization_id, chatbot_id, name, channel_type, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                params![id, organization_id, chatbot_id, name, channel_type, now, now],
            )?;
            db.get_inbox(organization_id, id)
        })
    }

    pub fn get_inbox(&mut self, organization_id: Uuid, id: Uuid) -> Result<Inbox> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} {INBOX_FROM} WHERE i.organization_id = $1 AND i.id = $2"
        );
        inbox_from_row(self.query_one(&sql, params![organization_id, id])?)
    }

    /// The id of the inbox whose channel is `web_chat_id`: what starting a conversation needs,
    /// without the inbox's computed counts.
    pub fn find_inbox_of_web_chat(
        &mut self,
        organization_id: Uuid,
        web_chat_id: Uuid,
    ) -> Result<Option<Uuid>> {
        self.query_opt(
            "SELECT id FROM inboxes WHERE organization_id = $1 AND web_chat_id = $2",
            params![organization_id, web_chat_id],
        )?
        .map(|mut row| row.uuid(0))
        .transpose()
    }

    /// The inbox whose channel is `web_chat_id`.
    pub fn get_inbox_of_web_chat(
        &mut self,
        organization_id: Uuid,
        web_chat_id: Uuid,
    ) -> Result<Inbox> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} {INBOX_FROM} WHERE i.organization_id = $1 AND i.web_chat_id = $2"
        );
        inbox_from_row(self.query_one(&sql, params![organization_id, web_chat_id])?)
    }

    pub fn list_inboxes(
        &mut self,
        organization_id: Uuid,
        filter: &InboxFilter,
        page: PageRequest,
    ) -> Result<Paged<Inbox>> {
        let order = match filter.ordering.as_deref() {
            Some("name") => "i.name, i.id",
            Some("-name") => "i.name DESC, i.id DESC",
            Some("created_at") => "i.created_at, i.id",
            _ => "i.created_at DESC, i.id DESC",
        };
        // Absent filters bind as NULL and match everything.
        let condition = "WHERE i.organization_id = $1 AND (i.chatbot_id = $2 OR $2 IS NULL) \
                         AND (i.channel_type = $3 OR $3 IS NULL)";
        let count = format!("SELECT COUNT(*) FROM inboxes i {condition}");
        let list = format!(
            "SELECT {INBOX_COLUMNS} {INBOX_FROM} {condition} ORDER BY {order} LIMIT $4 OFFSET $5"
        );
        self.paginate(
            &count,
            &list,
            params![organization_id, filter.chatbot_id, filter.channel_type.as_deref()],
            page,
            inbox_from_row,
        )
    }

    pub fn rename_inbox(&mut self, organization_id: Uuid, id: Uuid, name: &str) -> Result<Inbox> {
        let changed = self.execute(
            "UPDATE inboxes SET name = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
            params![organization_id, id, name, Timestamp::now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_inbox(organization_id, id)
    }

    /// Deletes an inbox with its conversations, and its web chat when it has one.
    pub fn delete_inbox(&mut self, organization_id: Uuid, id: Uuid) -> Result<()> {
        self.transaction(|db| {
            let inbox = db.get_inbox(organization_id, id)?;
            if let Some(web_chat) = inbox.web_chat_id {
                db.execute("DELETE FROM web_chats WHERE id = $1", params![web_chat])?;
            }
            db.execute("DELETE FROM inboxes WHERE id = $1", params![id])?;
            Ok(())
        })
    }
}
