//! Conversations and their messages. Both are listed newest first by cursor.

use std::collections::HashMap;

use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{
    Attachment, Conversation, ConversationFilter, CursorPage, CursorRequest, InboxRef, Message,
    MessageStatus, MessageType, MessageUsage, NewMessage, ReplyOutcome, new_id,
};
use crate::params;
use crate::sql::{Db, Param, Row, placeholders};

/// Characters of the first message kept as a conversation's title.
const TITLE_CHARS: usize = 100;

const CONVERSATION_COLUMNS: &str = "v.id, v.organization_id, v.chatbot_id, v.inbox_id, i.name, \
    i.channel_type, i.web_chat_id, v.title, v.user_id, v.last_message_at, v.last_read_at, \
    v.created_at, v.updated_at, \
    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = v.id \
     AND m.message_type = 'outgoing' AND (v.last_read_at IS NULL OR m.created_at > v.last_read_at))";
const CONVERSATION_FROM: &str = "FROM conversations v JOIN inboxes i ON i.id = v.inbox_id";

fn conversation_from_row(mut row: Row) -> Result<Conversation> {
    Ok(Conversation {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        chatbot_id: row.uuid(2)?,
        inbox: InboxRef { id: row.uuid(3)?, name: row.text(4)?, channel_type: row.text(5)? },
        web_chat_id: row.opt_uuid(6)?,
        title: row.text(7)?,
        user_id: row.opt_uuid(8)?,
        last_message_at: row.opt_timestamp(9)?,
        last_read_at: row.opt_timestamp(10)?,
        created_at: row.timestamp(11)?,
        updated_at: row.timestamp(12)?,
        unread_messages_count: row.i64(13)?,
        last_message: None,
    })
}

const MESSAGE_COLUMNS: &str = "m.id, m.organization_id, m.conversation_id, m.message_type, \
    m.sender_id, m.sender_name, m.content, m.status, m.feedback, m.reply_to_id, m.query_metadata, m.content_payload, \
    m.citations, m.model, m.input_tokens, m.output_tokens, m.words_count, m.error, \
    m.created_at, m.updated_at";

fn message_from_row(mut row: Row) -> Result<Message> {
    let kind = row.text(3)?;
    let status = row.text(7)?;
    Ok(Message {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        conversation_id: row.uuid(2)?,
        message_type: MessageType::parse(&kind).ok_or_else(|| StoreError::Decode {
            column: 3,
            message: format!("unknown message type {kind:?}"),
        })?,
        sender_id: row.opt_uuid(4)?,
        sender_name: row.text(5)?,
        content: row.text(6)?,
        status: MessageStatus::parse(&status).ok_or_else(|| StoreError::Decode {
            column: 7,
            message: format!("unknown message status {status:?}"),
        })?,
        feedback: row.opt_text(8)?,
        reply_to_id: row.opt_uuid(9)?,
        query_metadata: row.opt_json(10)?,
        content_payload: row.opt_json(11)?,
        citations: row.opt_json(12)?,
        model: row.opt_text(13)?,
        usage: MessageUsage {
            input_tokens: row.i64(14)?,
            output_tokens: row.i64(15)?,
            words_count: row.i64(16)?,
        },
        error: row.opt_text(17)?,
        created_at: row.timestamp(18)?,
        updated_at: row.timestamp(19)?,
        attachments: Vec::new(),
    })
}

impl Db<'_> {
    /// Starts a conversation in an inbox of the organisation.
    pub fn insert_conversation(
        &mut self,
        organization_id: Uuid,
        inbox_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Conversation> {
        self.transaction(|db| {
            let id = db.start_conversation(organization_id, inbox_id, user_id)?;
            db.get_conversation(organization_id, id)
        })
    }

    /// Like [`Db::insert_conversation`], returning only the new conversation's id (what a
    /// completion needs, without reading the conversation back).
    pub fn start_conversation(
        &mut self,
        organization_id: Uuid,
        inbox_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Uuid> {
        self.start_conversation_as(new_id(), Timestamp::now(), organization_id, inbox_id, user_id)
    }

    /// Like [`Db::start_conversation`], with the id and time chosen by the caller (who may
    /// need them before the conversation is stored).
    pub fn start_conversation_as(
        &mut self,
        id: Uuid,
        now: Timestamp,
        organization_id: Uuid,
        inbox_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Uuid> {
        let chatbot_id = self
            .query_one(
                "SELECT chatbot_id FROM inboxes WHERE organization_id = $1 AND id = $2",
                params![organization_id, inbox_id],
            )?
            .uuid(0)?;
        self.execute(
            "INSERT INTO conversations (id, organization_id, chatbot_id, inbox_id, user_id, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            params![id, organization_id, chatbot_id, inbox_id, user_id, now, now],
        )?;
        Ok(id)
    }

    /// A conversation of the organisation, with its newest message.
    pub fn get_conversation(&mut self, organization_id: Uuid, id: Uuid) -> Result<Conversation> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} {CONVERSATION_FROM} \
             WHERE v.organization_id = $1 AND v.id = $2"
        );
        let mut conversations =
            vec![conversation_from_row(self.query_one(&sql, params![organization_id, id])?)?];
        self.attach_last_messages(&mut conversations)?;
        Ok(conversations.remove(0))
    }

    pub fn list_conversations(
        &mut self,
        organization_id: Uuid,
        filter: ConversationFilter,
        cursor: CursorRequest,
    ) -> Result<CursorPage<Conversation>> {
        let (rows, has_older, has_newer) = self.cursor_rows(
            &format!("SELECT {CONVERSATION_COLUMNS} {CONVERSATION_FROM}"),
            "WHERE v.organization_id = $1 AND (v.inbox_id = $2 OR $2 IS NULL) \
             AND (v.chatbot_id = $3 OR $3 IS NULL)",
            "v",
            params![organization_id, filter.inbox_id, filter.chatbot_id],
            cursor,
        )?;
        let mut items = rows.into_iter().map(conversation_from_row).collect::<Result<Vec<_>>>()?;
        self.attach_last_messages(&mut items)?;
        Ok(CursorPage { items, has_older, has_newer })
    }

    /// Fills each conversation's `last_message` with one query.
    fn attach_last_messages(&mut self, conversations: &mut [Conversation]) -> Result<()> {
        if conversations.is_empty() {
            return Ok(());
        }
        let ids: Vec<Param<'_>> = conversations.iter().map(|c| Param::Uuid(c.id)).collect();
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id IN (SELECT (SELECT l.id FROM \
             messages l WHERE l.conversation_id = v.id ORDER BY l.created_at DESC, l.id DESC \
             LIMIT 1) FROM conversations v WHERE v.id IN ({}))",
            placeholders(1, ids.len())
        );
        let mut messages = self
            .query(&sql, &ids)?
            .into_iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.attach_attachments(&mut messages)?;
        let mut by_conversation: HashMap<Uuid, Message> =
            messages.into_iter().map(|m| (m.conversation_id, m)).collect();
        for conversation in conversations {
            conversation.last_message = by_conversation.remove(&conversation.id).map(Box::new);
        }
        Ok(())
    }

    /// Marks a conversation's replies as read up to now.
    pub fn mark_conversation_read(&mut self, organization_id: Uuid, id: Uuid) -> Result<()> {
        let changed = self.execute(
            "UPDATE conversations SET last_read_at = $3 WHERE organization_id = $1 AND id = $2",
            params![organization_id, id, Timestamp::now()],
        )?;
        if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Stores a message with its attachments (which must be the organisation's; others are
    /// `NotFound`) and makes it the conversation's latest. The first incoming message names
    /// the conversation.
    pub fn insert_message(&mut self, new: &NewMessage) -> Result<Message> {
        self.insert_message_with(new_id(), Timestamp::now(), new, None)
    }

    /// Like [`Db::insert_message`], with the id and time chosen by the caller (who may need
    /// them before the message is stored).
    pub fn insert_message_as(
        &mut self,
        id: Uuid,
        now: Timestamp,
        new: &NewMessage,
    ) -> Result<Message> {
        self.insert_message_with(id, now, new, None)
    }

    /// Stores a finished reply in one statement: the message and its outcome (citations,
    /// model, usage, error).
    pub fn insert_reply(&mut self, new: &NewMessage, outcome: &ReplyOutcome) -> Result<Message> {
        self.insert_message_with(new_id(), Timestamp::now(), new, Some(outcome))
    }

    fn insert_message_with(
        &mut self,
        id: Uuid,
        now: Timestamp,
        new: &NewMessage,
        outcome: Option<&ReplyOutcome>,
    ) -> Result<Message> {
        self.transaction(|db| {
            let org = new.organization_id;
            db.query_one(
                "SELECT id FROM conversations WHERE organization_id = $1 AND id = $2",
                params![org, new.conversation_id],
            )?;
            let mut attachments = db.attachments_by_ids(org, &new.attachment_ids)?;
            if attachments.len() != new.attachment_ids.len() {
                return Err(StoreError::NotFound);
            }
            // As the update below leaves them: in this conversation unless already in one.
            for attachment in &mut attachments {
                attachment.conversation_id.get_or_insert(new.conversation_id);
            }
            let mut message = new.stored(id, now, attachments);
            if let Some(outcome) = outcome {
                message.content.clone_from(&outcome.content);
                message.status = outcome.status;
                message.citations.clone_from(&outcome.citations);
                message.model.clone_from(&outcome.model);
                message.usage = outcome.usage;
                message.error.clone_from(&outcome.error);
            }
            let m = &message;
            db.execute(
                "INSERT INTO messages (id, organization_id, conversation_id, message_type, \
                 sender_id, sender_name, content, status, reply_to_id, query_metadata, \
                 content_payload, citations, model, input_tokens, output_tokens, words_count, \
                 error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                params![
                    m.id,
                    org,
                    m.conversation_id,
                    m.message_type.as_str(),
                    m.sender_id,
                    &m.sender_name,
                    &m.content,
                    m.status.as_str(),
                    m.reply_to_id,
                    &m.query_metadata,
                    &m.content_payload,
                    &m.citations,
                    &m.model,
                    m.usage.input_tokens,
                    m.usage.output_tokens,
                    m.usage.words_count,
                    &m.error,
                    now,
                    now
                ],
            )?;
            for (position, attachment) in new.attachment_ids.iter().enumerate() {
                db.execute(
                    "INSERT INTO message_attachments (message_id, attachment_id, position) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    params![m.id, *attachment, i64::try_from(position).unwrap_or(i64::MAX)],
                )?;
                db.execute(
                    "UPDATE attachments SET conversation_id = $2 \
                     WHERE id = $1 AND conversation_id IS NULL",
                    params![*attachment, new.conversation_id],
                )?;
            }
            let title: String = new.content.trim().chars().take(TITLE_CHARS).collect();
            let title =
                if new.message_type == MessageType::Incoming { title } else { String::new() };
            db.execute(
                "UPDATE conversations SET last_message_at = $2, updated_at = $2, \
                 title = CASE WHEN title = '' THEN $3 ELSE title END WHERE id = $1",
                params![new.conversation_id, now, &title],
            )?;
            Ok(message)
        })
    }

    /// A message of the organisation, with its attachments.
    pub fn get_message(&mut self, organization_id: Uuid, id: Uuid) -> Result<Message> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.organization_id = $1 AND m.id = $2"
        );
        let mut messages =
            vec![message_from_row(self.query_one(&sql, params![organization_id, id])?)?];
        self.attach_attachments(&mut messages)?;
        Ok(messages.remove(0))
    }

    /// Messages of the organisation (of one conversation when `conversation_id` is given),
    /// newest first.
    pub fn list_messages(
        &mut self,
        organization_id: Uuid,
        conversation_id: Option<Uuid>,
        cursor: CursorRequest,
    ) -> Result<CursorPage<Message>> {
        let (rows, has_older, has_newer) = self.cursor_rows(
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages m"),
            "WHERE m.organization_id = $1 AND (m.conversation_id = $2 OR $2 IS NULL)",
            "m",
            params![organization_id, conversation_id],
            cursor,
        )?;
        let mut items = rows.into_iter().map(message_from_row).collect::<Result<Vec<_>>>()?;
        self.attach_attachments(&mut items)?;
        Ok(CursorPage { items, has_older, has_newer })
    }

    /// The conversation's latest `limit` messages written no later than `before`, except
    /// message `except` (the question being answered), oldest first: the history a reply is
    /// written with. Failed and pending replies are left out.
    pub fn conversation_history(
        &mut self,
        conversation_id: Uuid,
        before: Timestamp,
        except: Uuid,
        limit: u64,
    ) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 \
             AND m.id <> $2 AND m.status = 'done' AND m.created_at <= $3 \
             ORDER BY m.created_at DESC, m.id DESC LIMIT $4"
        );
        let rows = self.query(
            &sql,
            params![conversation_id, except, before, i64::try_from(limit).unwrap_or(i64::MAX)],
        )?;
        let mut messages = rows.into_iter().map(message_from_row).collect::<Result<Vec<_>>>()?;
        messages.reverse();
        self.attach_attachments(&mut messages)?;
        Ok(messages)
    }

    /// The reply already written to `message`, if any.
    pub fn find_reply_to(
        &mut self,
        organization_id: Uuid,
        message: Uuid,
    ) -> Result<Option<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.organization_id = $1 \
             AND m.reply_to_id = $2 ORDER BY m.created_at, m.id LIMIT 1"
        );
        match self.query_opt(&sql, params![organization_id, message])? {
            Some(row) => {
                let mut found = vec![message_from_row(row)?];
                self.attach_attachments(&mut found)?;
                Ok(found.pop())
            }
            None => Ok(None),
        }
    }

    /// Sets or clears (`None`) a message's feedback.
    pub fn set_message_feedback(
        &mut self,
        organization_id: Uuid,
        id: Uuid,
        feedback: Option<&str>,
    ) -> Result<Message> {
        let changed = self.execute(
            "UPDATE messages SET feedback = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
            params![organization_id, id, feedback, Timestamp::now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_message(organization_id, id)
    }

    /// Fills each message's `attachments`, in the order they were attached.
    fn attach_attachments(&mut self, messages: &mut [Message]) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let ids: Vec<Param<'_>> = messages.iter().map(|m| Param::Uuid(m.id)).collect();
        let sql = format!(
            "SELECT l.message_id, {} FROM message_attachments l \
             JOIN attachments a ON a.id = l.attachment_id \
             WHERE l.message_id IN ({}) ORDER BY l.message_id, l.position",
            super::attachments::COLUMNS,
            placeholders(1, ids.len())
        );
        let mut by_message: HashMap<Uuid, Vec<Attachment>> = HashMap::new();
        for mut row in self.query(&sql, &ids)? {
            let message = row.uuid(0)?;
            row.0.remove(0);
            by_message.entry(message).or_default().push(super::attachments::from_row(row)?);
        }
        for message in messages {
            message.attachments = by_message.remove(&message.id).unwrap_or_default();
        }
        Ok(())
    }
}
