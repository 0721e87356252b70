use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{Chatbot, KnowledgeBaseRef, PageRequest, Paged, new_id};
use crate::params;
use crate::sql::{Db, Param, Row};

const COLUMNS: &str = "id, organization_id, name, large_language_model_id, rag_id, \
    embedding_model_id, reranker_model_id, instructions, webhook_url, reply_mode, template, \
    unanswerable_template, enable_chinese_conversion, output_mode, output_format, \
    number_of_retrieved_chunks, total_words_count, created_at, updated_at, webhook_secret";

/// The chatbot's columns (prefixed `c.`) followed by one linked knowledge base's id and name.
const JOINED_COLUMNS: &str = "c.id, c.organization_id, c.name, c.large_language_model_id, \
    c.rag_id, c.embedding_model_id, c.reranker_model_id, c.instructions, c.webhook_url, \
    c.reply_mode, c.template, c.unanswerable_template, c.enable_chinese_conversion, \
    c.output_mode, c.output_format, c.number_of_retrieved_chunks, c.total_words_count, \
    c.created_at, c.updated_at, c.webhook_secret, \
    (SELECT w.id FROM web_chats w WHERE w.chatbot_id = c.id AND w.access_type = 'api' \
     ORDER BY w.created_at LIMIT 1), kb.id, kb.name";
const LINKS: &str = "LEFT JOIN chatbot_knowledge_bases l ON l.chatbot_id = c.id \
    LEFT JOIN knowledge_bases kb ON kb.id = l.knowledge_base_id";

/// Folds joined rows (one per chatbot and linked knowledge base, in any order) into
/// chatbots, each with its links ordered by name. The result keeps the order in which each
/// chatbot first appears.
fn with_links(rows: Vec<Row>) -> Result<Vec<Chatbot>> {
    let mut chatbots: Vec<Chatbot> = Vec::new();
    for mut row in rows {
        let link = match row.opt_uuid(21)? {
            Some(id) => Some(KnowledgeBaseRef { id, name: row.text(22)? }),
            None => None,
        };
        let id = row.peek_uuid(0)?;
        let index = match chatbots.iter().rposition(|c| c.id == id) {
            Some(index) => index,
            None => {
                chatbots.push(from_row(row)?);
                chatbots.len() - 1
            }
        };
        if let Some(link) = link {
            chatbots[index].knowledge_bases.push(link);
        }
    }
    for chatbot in &mut chatbots {
        chatbot.knowledge_bases.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    }
    Ok(chatbots)
}

fn from_row(mut row: Row) -> Result<Chatbot> {
    Ok(Chatbot {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        name: row.text(2)?,
        large_language_model_id: row.uuid(3)?,
        rag_id: row.uuid(4)?,
        embedding_model_id: row.opt_uuid(5)?,
        reranker_model_id: row.opt_uuid(6)?,
        instructions: row.text(7)?,
        webhook_url: row.opt_text(8)?,
        reply_mode: row.text(9)?,
        template: row.opt_text(10)?,
        unanswerable_template: row.opt_text(11)?,
        enable_chinese_conversion: row.bool(12)?,
        output_mode: row.text(13)?,
        output_format: row.opt_json(14)?,
        number_of_retrieved_chunks: row.i64(15)?,
        total_words_count: row.i64(16)?,
        created_at: row.timestamp(17)?,
        updated_at: row.timestamp(18)?,
        webhook_secret: row.text(19)?,
        api_web_chat_id: row.opt_uuid(20)?,
        knowledge_bases: Vec::new(),
    })
}

impl Db<'_> {
    /// Stores a new assistant with its knowledge-base links, its API web chat and that web
    /// chat's inbox. `id`, `created_at`, `updated_at` and the webhook secret are assigned here.
    pub fn insert_chatbot(&mut self, chatbot: &Chatbot) -> Result<Chatbot> {
        self.transaction(|db| {
            let now = Timestamp::now();
            let stored = Chatbot {
                id: new_id(),
                created_at: now,
                updated_at: now,
                webhook_secret: new_secret(),
                ..chatbot.clone()
            };
            db.execute(
                &format!(
                    "INSERT INTO chatbots ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
                ),
                &row_params(&stored),
            )?;
            db.replace_chatbot_knowledge_bases(&stored)?;
            db.insert_web_chat(&crate::models::WebChat::new(
                stored.organization_id,
                stored.id,
                "api",
            ))?;
            db.get_chatbot(stored.organization_id, stored.id)
        })
    }

    /// The assistant, only within its organisation; elsewhere it is `NotFound`.
    pub fn get_chatbot(&mut self, organization_id: Uuid, id: Uuid) -> Result<Chatbot> {
        let sql = format!(
            "SELECT {JOINED_COLUMNS} FROM chatbots c {LINKS} \
             WHERE c.organization_id = $1 AND c.id = $2"
        );
        with_links(self.query(&sql, params![organization_id, id])?)?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// Like [`Db::get_chatbot`], but locks the row first for a read-modify-write on
    /// PostgreSQL.
    pub fn get_chatbot_for_update(&mut self, organization_id: Uuid, id: Uuid) -> Result<Chatbot> {
        let lock = format!(
            "SELECT id FROM chatbots WHERE organization_id = $1 AND id = $2{}",
            self.for_update()
        );
        self.query_one(&lock, params![organization_id, id])?;
        self.get_chatbot(organization_id, id)
    }

    /// Newest first, each with its knowledge-base links: one query for the page and its
    /// links, plus the count. The page is ordered in SQL; the joined rows are put back in
    /// that order here, which is cheaper than sorting wide rows in the database.
    pub fn list_chatbots(
        &mut self,
        organization_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<Chatbot>> {
        let list = format!(
            "SELECT {JOINED_COLUMNS} FROM (SELECT * FROM chatbots WHERE organization_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3) c {LINKS}"
        );
        let (count, number, rows) = self.paginate_rows(
            "SELECT COUNT(*) FROM chatbots WHERE organization_id = $1",
            &list,
            params![organization_id],
            page,
        )?;
        let mut items = with_links(rows)?;
        items.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        Ok(Paged { count, number, size: page.size.max(1), items })
    }

    pub fn count_chatbots(&mut self, organization_id: Uuid) -> Result<u64> {
        self.count(
            "SELECT COUNT(*) FROM chatbots WHERE organization_id = $1",
            params![organization_id],
        )
    }

    /// Writes every editable column and the knowledge-base links; bumps `updated_at`.
    pub fn update_chatbot(&mut self, chatbot: &Chatbot) -> Result<Chatbot> {
        self.transaction(|db| {
            let stored = Chatbot { updated_at: Timestamp::now(), ..chatbot.clone() };
            // Every column but `created_at` and the secret, which never change.
            let mut values = row_params(&stored);
            values.truncate(19);
            values.remove(17);
            let changed = db.execute(
                "UPDATE chatbots SET name = $3, large_language_model_id = $4, rag_id = $5, \
                 embedding_model_id = $6, reranker_model_id = $7, instructions = $8, \
                 webhook_url = $9, reply_mode = $10, template = $11, unanswerable_template = $12, \
                 enable_chinese_conversion = $13, output_mode = $14, output_format = $15, \
                 number_of_retrieved_chunks = $16, total_words_count = $17, updated_at = $18 \
                 WHERE id = $1 AND organization_id = $2",
                &values,
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            db.replace_chatbot_knowledge_bases(&stored)?;
            db.get_chatbot(stored.organization_id, stored.id)
        })
    }

    pub fn delete_chatbot(&mut self, organization_id: Uuid, id: Uuid) -> Result<()> {
        let changed = self.execute(
            "DELETE FROM chatbots WHERE organization_id = $1 AND id = $2",
            params![organization_id, id],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn replace_chatbot_knowledge_bases(&mut self, chatbot: &Chatbot) -> Result<()> {
        self.execute(
            "DELETE FROM chatbot_knowledge_bases WHERE chatbot_id = $1",
            params![chatbot.id],
        )?;
        // Only knowledge bases of the assistant's own organisation can be linked.
        let wanted: Vec<Uuid> = chatbot.knowledge_bases.iter().map(|kb| kb.id).collect();
        for kb in self.find_knowledge_bases(chatbot.organization_id, &wanted)? {
            self.execute(
                "INSERT INTO chatbot_knowledge_bases (chatbot_id, knowledge_base_id) VALUES ($1, $2)",
                params![chatbot.id, kb.id],
            )?;
        }
        Ok(())
    }
}

fn row_params(c: &Chatbot) -> Vec<Param<'_>> {
    vec![
        c.id.into(),
        c.organization_id.into(),
        (&c.name).into(),
        c.large_language_model_id.into(),
        c.rag_id.into(),
        c.embedding_model_id.into(),
        c.reranker_model_id.into(),
        (&c.instructions).into(),
        (&c.webhook_url).into(),
        (&c.reply_mode).into(),
        (&c.template).into(),
        (&c.unanswerable_template).into(),
        c.enable_chinese_conversion.into(),
        (&c.output_mode).into(),
        (&c.output_format).into(),
        c.number_of_retrieved_chunks.into(),
        c.total_words_count.into(),
        c.created_at.into(),
        c.updated_at.into(),
        (&c.webhook_secret).into(),
    ]
}

/// 256 random bits as hex: the key a new assistant's webhooks are signed with.
fn new_secret() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

impl Db<'_> {
    /// Adds a reply's words to the assistant's running total (`totalWordsCount`).
    pub fn add_chatbot_words(&mut self, chatbot_id: Uuid, words: i64) -> Result<()> {
        self.execute(
            "UPDATE chatbots SET total_words_count = total_words_count + $2 WHERE id = $1",
            params![chatbot_id, words],
        )?;
        Ok(())
    }
}
