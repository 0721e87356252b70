use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{
    ChatbotRef, Faq, KnowledgeBase, KnowledgeBaseRef, Label, LabelRef, PageRequest, Paged, new_id,
};
use crate::params;
use crate::queries::files::LabelLinks;
use crate::sql::{Db, Param, Row, placeholders};

const KB_COLUMNS: &str = "kb.id, kb.organization_id, kb.name, kb.description, \
    kb.embedding_model_id, kb.reranker_model_id, kb.number_of_retrieved_chunks, \
    kb.sentence_window_size, kb.enable_hyde, kb.similarity_cutoff, kb.enable_rerank, \
    kb.chunk_size, kb.chunk_overlap, kb.created_at, kb.updated_at, \
    (SELECT COUNT(*) FROM kb_files f WHERE f.knowledge_base_id = kb.id)";

fn kb_from_row(mut row: Row) -> Result<KnowledgeBase> {
    Ok(KnowledgeBase {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        name: row.text(2)?,
        description: row.opt_text(3)?,
        embedding_model_id: row.opt_uuid(4)?,
        reranker_model_id: row.opt_uuid(5)?,
        number_of_retrieved_chunks: row.i64(6)?,
        sentence_window_size: row.i64(7)?,
        enable_hyde: row.bool(8)?,
        similarity_cutoff: row.f64(9)?,
        enable_rerank: row.bool(10)?,
        chunk_size: row.i64(11)?,
        chunk_overlap: row.i64(12)?,
        created_at: row.timestamp(13)?,
        updated_at: row.timestamp(14)?,
        files_count: row.i64(15)?,
        chatbots: Vec::new(),
    })
}

fn kb_params(kb: &KnowledgeBase) -> Vec<Param<'_>> {
    vec![
        kb.id.into(),
        kb.organization_id.into(),
        (&kb.name).into(),
        (&kb.description).into(),
        kb.embedding_model_id.into(),
        kb.reranker_model_id.into(),
        kb.number_of_retrieved_chunks.into(),
        kb.sentence_window_size.into(),
        kb.enable_hyde.into(),
        kb.similarity_cutoff.into(),
        kb.enable_rerank.into(),
        kb.chunk_size.into(),
        kb.chunk_overlap.into(),
        kb.created_at.into(),
        kb.updated_at.into(),
    ]
}

fn label_ref(mut row: Row) -> Result<LabelRef> {
    Ok(LabelRef { id: row.uuid(0)?, name: row.text(1)? })
}

impl Db<'_> {
    /// Stores a knowledge base and links it to `chatbots` (ids of the same organisation;
    /// others are ignored). `id`, `created_at` and `updated_at` are assigned here.
    pub fn insert_kb(&mut self, draft: &KnowledgeBase, chatbots: &[Uuid]) -> Result<KnowledgeBase> {
        self.transaction(|db| {
            let now = Timestamp::now();
            let kb =
                KnowledgeBase { id: new_id(), created_at: now, updated_at: now, ..draft.clone() };
            db.execute(
                "INSERT INTO knowledge_bases (id, organization_id, name, description, \
                 embedding_model_id, reranker_model_id, number_of_retrieved_chunks, \
                 sentence_window_size, enable_hyde, similarity_cutoff, enable_rerank, chunk_size, \
                 chunk_overlap, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                &kb_params(&kb),
            )?;
            db.replace_kb_chatbots(kb.organization_id, kb.id, chatbots)?;
            db.get_kb(kb.organization_id, kb.id)
        })
    }

    /// A bare knowledge base with default settings (used by tests and the legacy
    /// chatbot-scoped routes, which create one for an assistant that has none).
    pub fn insert_knowledge_base(
        &mut self,
        organization_id: Uuid,
        name: &str,
        description: Option<&str>,
    ) -> Result<KnowledgeBaseRef> {
        let kb = self.insert_kb(&KnowledgeBase::draft(organization_id, name, description), &[])?;
        Ok(KnowledgeBaseRef { id: kb.id, name: kb.name })
    }

    /// The knowledge base, only within its organisation; elsewhere it is `NotFound`.
    pub fn get_kb(&mut self, organization_id: Uuid, id: Uuid) -> Result<KnowledgeBase> {
        let sql = format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.organization_id = $1 AND kb.id = $2"
        );
        let mut kb = kb_from_row(self.query_one(&sql, params![organization_id, id])?)?;
        kb.chatbots = self.chatbots_of_kb(kb.id)?;
        Ok(kb)
    }

    /// Newest first.
    pub fn list_kbs(
        &mut self,
        organization_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<KnowledgeBase>> {
        let list = format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.organization_id = $1 \
             ORDER BY kb.created_at DESC, kb.id DESC LIMIT $2 OFFSET $3"
        );
        let mut paged = self.paginate(
            "SELECT COUNT(*) FROM knowledge_bases WHERE organization_id = $1",
            &list,
            params![organization_id],
            page,
            kb_from_row,
        )?;
        for kb in &mut paged.items {
            kb.chatbots = self.chatbots_of_kb(kb.id)?;
        }
        Ok(paged)
    }

    /// Every knowledge base of the organisation, by name (for menus and the CLI).
    pub fn all_kbs(&mut self, organization_id: Uuid) -> Result<Vec<KnowledgeBase>> {
        let sql = format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.organization_id = $1 \
             ORDER BY kb.name, kb.id"
        );
        self.query(&sql, params![organization_id])?.into_iter().map(kb_from_row).collect()
    }

    /// Every knowledge base of every organisation, as (organisation, knowledge base) ids
    /// (for re-analysing the whole search index after an upgrade).
    pub fn all_knowledge_base_ids(&mut self) -> Result<Vec<(Uuid, Uuid)>> {
        self.query("SELECT organization_id, id FROM knowledge_bases ORDER BY id", params![])?
            .into_iter()
            .map(|mut row| Ok((row.uuid(0)?, row.uuid(1)?)))
            .collect()
    }

    /// Writes every editable column; `chatbots`, when given, replaces the links.
    pub fn update_kb(
        &mut self,
        kb: &KnowledgeBase,
        chatbots: Option<&[Uuid]>,
    ) -> Result<KnowledgeBase> {
        self.transaction(|db| {
            let stored = KnowledgeBase { updated_at: Timestamp::now(), ..kb.clone() };
            let mut values = kb_params(&stored);
            values.remove(13); // created_at never changes
            let changed = db.execute(
                "UPDATE knowledge_bases SET name = $3, description = $4, embedding_model_id = $5, \
                 reranker_model_id = $6, number_of_retrieved_chunks = $7, \
                 sentence_window_size = $8, enable_hyde = $9, similarity_cutoff = $10, \
                 enable_rerank = $11, chunk_size = $12, chunk_overlap = $13, updated_at = $14 \
                 WHERE id = $1 AND organization_id = $2",
                &values,
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            if let Some(chatbots) = chatbots {
                db.replace_kb_chatbots(stored.organization_id, stored.id, chatbots)?;
            }
            db.get_kb(stored.organization_id, stored.id)
        })
    }

    /// Deletes the knowledge base with its files, chunks, labels and FAQs, and returns the
    /// storage keys of its files so the caller can remove the objects.
    pub fn delete_kb(&mut self, organization_id: Uuid, id: Uuid) -> Result<Vec<String>> {
        self.transaction(|db| {
            let keys = db
                .query(
                    "SELECT storage_key FROM kb_files WHERE organization_id = $1 AND knowledge_base_id = $2",
                    params![organization_id, id],
                )?
                .into_iter()
                .map(|mut row| row.text(0))
                .collect::<Result<Vec<_>>>()?;
            let changed = db.execute(
                "DELETE FROM knowledge_bases WHERE organization_id = $1 AND id = $2",
                params![organization_id, id],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(keys)
        })
    }

    fn chatbots_of_kb(&mut self, kb_id: Uuid) -> Result<Vec<ChatbotRef>> {
        self.query(
            "SELECT c.id, c.name FROM chatbot_knowledge_bases l JOIN chatbots c ON c.id = l.chatbot_id \
             WHERE l.knowledge_base_id = $1 ORDER BY c.name, c.id",
            params![kb_id],
        )?
        .into_iter()
        .map(|mut row| Ok(ChatbotRef { id: row.uuid(0)?, name: row.text(1)? }))
        .collect()
    }

    fn replace_kb_chatbots(
        &mut self,
        organization_id: Uuid,
        kb_id: Uuid,
        chatbots: &[Uuid],
    ) -> Result<()> {
        self.execute(
            "DELETE FROM chatbot_knowledge_bases WHERE knowledge_base_id = $1",
            params![kb_id],
        )?;
        for chatbot in self.find_chatbots(organization_id, chatbots)? {
            self.execute(
                "INSERT INTO chatbot_knowledge_bases (chatbot_id, knowledge_base_id) VALUES ($1, $2)",
                params![chatbot.id, kb_id],
            )?;
        }
        Ok(())
    }

    /// Those of `ids` that are assistants of the organisation.
    pub fn find_chatbots(
        &mut self,
        organization_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<ChatbotRef>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, name FROM chatbots WHERE organization_id = $1 AND id IN ({}) ORDER BY name, id",
            placeholders(2, ids.len())
        );
        let mut all = vec![Param::Uuid(organization_id)];
        all.extend(ids.iter().map(Param::from));
        self.query(&sql, &all)?
            .into_iter()
            .map(|mut row| Ok(ChatbotRef { id: row.uuid(0)?, name: row.text(1)? }))
            .collect()
    }

    /// The knowledge bases linked to an assistant (of the organisation).
    pub fn kbs_of_chatbot(
        &mut self,
        organization_id: Uuid,
        chatbot_id: Uuid,
    ) -> Result<Vec<KnowledgeBase>> {
        let sql = format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases kb \
             JOIN chatbot_knowledge_bases l ON l.knowledge_base_id = kb.id \
             WHERE kb.organization_id = $1 AND l.chatbot_id = $2 ORDER BY kb.name, kb.id"
        );
        self.query(&sql, params![organization_id, chatbot_id])?
            .into_iter()
            .map(kb_from_row)
            .collect()
    }

    /// Links an existing knowledge base to an assistant (both of the organisation).
    pub fn link_kb_to_chatbot(&mut self, chatbot_id: Uuid, kb_id: Uuid) -> Result<()> {
        self.execute(
            "INSERT INTO chatbot_knowledge_bases (chatbot_id, knowledge_base_id) VALUES ($1, $2) \
             ON CONFLICT (chatbot_id, knowledge_base_id) DO NOTHING",
            params![chatbot_id, kb_id],
        )?;
        Ok(())
    }

    /// Those of `ids` that are knowledge bases of the organisation, ordered by name.
    pub fn find_knowledge_bases(
        &mut self,
        organization_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<KnowledgeBaseRef>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, name FROM knowledge_bases WHERE organization_id = $1 AND id IN ({}) \
             ORDER BY name, id",
            placeholders(2, ids.len())
        );
        let mut all = vec![Param::Uuid(organization_id)];
        all.extend(ids.iter().map(Param::from));
        self.query(&sql, &all)?
            .into_iter()
            .map(|mut row| Ok(KnowledgeBaseRef { id: row.uuid(0)?, name: row.text(1)? }))
            .collect()
    }

    // Labels.

    /// A new label; a name already used in the knowledge base conflicts on
    /// `kb_labels_kb_name_key`.
    pub fn insert_label(
        &mut self,
        organization_id: Uuid,
        kb_id: Uuid,
        name: &str,
    ) -> Result<Label> {
        let now = Timestamp::now();
        let label = Label {
            id: new_id(),
            knowledge_base_id: kb_id,
            name: name.to_owned(),
            created_at: now,
            updated_at: now,
        };
        self.execute(
            "INSERT INTO kb_labels (id, organization_id, knowledge_base_id, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            params![label.id, organization_id, kb_id, name, now, now],
        )?;
        Ok(label)
    }

    pub fn list_labels(
        &mut self,
        organization_id: Uuid,
        kb_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<Label>> {
        self.paginate(
            "SELECT COUNT(*) FROM kb_labels WHERE organization_id = $1 AND knowledge_base_id = $2",
            "SELECT id, knowledge_base_id, name, created_at, updated_at FROM kb_labels \
             WHERE organization_id = $1 AND knowledge_base_id = $2 \
             ORDER BY created_at, id LIMIT $3 OFFSET $4",
            params![organization_id, kb_id],
            page,
            |mut row| {
                Ok(Label {
                    id: row.uuid(0)?,
                    knowledge_base_id: row.uuid(1)?,
                    name: row.text(2)?,
                    created_at: row.timestamp(3)?,
                    updated_at: row.timestamp(4)?,
                })
            },
        )
    }

    pub fn get_label(&mut self, organization_id: Uuid, kb_id: Uuid, id: Uuid) -> Result<Label> {
        let mut row = self.query_one(
            "SELECT id, knowledge_base_id, name, created_at, updated_at FROM kb_labels \
             WHERE organization_id = $1 AND knowledge_base_id = $2 AND id = $3",
            params![organization_id, kb_id, id],
        )?;
        Ok(Label {
            id: row.uuid(0)?,
            knowledge_base_id: row.uuid(1)?,
            name: row.text(2)?,
            created_at: row.timestamp(3)?,
            updated_at: row.timestamp(4)?,
        })
    }

    pub fn rename_label(
        &mut self,
        organization_id: Uuid,
        kb_id: Uuid,
        id: Uuid,
        name: &str,
    ) -> Result<Label> {
        let changed = self.execute(
            "UPDATE kb_labels SET name = $4, updated_at = $5 \
             WHERE organization_id = $1 AND knowledge_base_id = $2 AND id = $3",
            params![organization_id, kb_id, id, name, Timestamp::now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_label(organization_id, kb_id, id)
    }

    pub fn delete_label(&mut self, organization_id: Uuid, kb_id: Uuid, id: Uuid) -> Result<()> {
        let changed = self.execute(
            "DELETE FROM kb_labels WHERE organization_id = $1 AND knowledge_base_id = $2 AND id = $3",
            params![organization_id, kb_id, id],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Those of `ids` that are labels of the knowledge base, by name.
    pub fn find_labels(
        &mut self,
        organization_id: Uuid,
        kb_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<LabelRef>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, name FROM kb_labels WHERE organization_id = $1 AND knowledge_base_id = $2 \
             AND id IN ({}) ORDER BY name, id",
            placeholders(3, ids.len())
        );
        let mut all = vec![Param::Uuid(organization_id), Param::Uuid(kb_id)];
        all.extend(ids.iter().map(Param::from));
        self.query(&sql, &all)?.into_iter().map(label_ref).collect()
    }

    // FAQs.

    /// Stores an FAQ with its labels (only labels of its knowledge base are kept).
    pub fn insert_faq(&mut self, draft: &Faq) -> Result<Faq> {
        self.transaction(|db| {
            let now = Timestamp::now();
            let faq = Faq {
                id: new_id(),
                created_at: now,
                updated_at: now,
                hits_count: 0,
                ..draft.clone()
            };
            db.execute(
                "INSERT INTO faqs (id, organization_id, knowledge_base_id, question, answer, \
                 raw_user_define_metadata, hits_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
                params![
                    faq.id,
                    faq.organization_id,
                    faq.knowledge_base_id,
                    &faq.question,
                    &faq.answer,
                    &faq.raw_user_define_metadata,
                    now,
                    now
                ],
            )?;
            db.replace_faq_labels(&faq)?;
            db.get_faq(faq.organization_id, faq.knowledge_base_id, faq.id)
        })
    }

    pub fn get_faq(&mut self, organization_id: Uuid, kb_id: Uuid, id: Uuid) -> Result<Faq> {
        let row = self.query_one(
            "SELECT id, organization_id, knowledge_base_id, question, answer, \
             raw_user_define_metadata, hits_count, created_at, updated_at FROM faqs \
             WHERE organization_id = $1 AND knowledge_base_id = $2 AND id = $3",
            params![organization_id, kb_id, id],
        )?;
        let mut faq = faq_from_row(row)?;
        faq.labels = self.labels_of_faq(faq.id)?;
        Ok(faq)
    }

    /// FAQs of the given knowledge bases (all of the organisation), newest first.
    pub fn list_faqs(
        &mut self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        page: PageRequest,
    ) -> Result<Paged<Faq>> {
        if kb_ids.is_empty() {
            return Ok(Paged { count: 0, number: 1, size: page.size.max(1), items: Vec::new() });
        }
        let kbs = placeholders(2, kb_ids.len());
        let next = 2 + kb_ids.len();
        let count = format!(
            "SELECT COUNT(*) FROM faqs WHERE organization_id = $1 AND knowledge_base_id IN ({kbs})"
        );
        let list = format!(
            "SELECT id, organization_id, knowledge_base_id, question, answer, \
             raw_user_define_metadata, hits_count, created_at, updated_at FROM faqs \
             WHERE organization_id = $1 AND knowledge_base_id IN ({kbs}) \
             ORDER BY created_at DESC, id DESC LIMIT ${next} OFFSET ${}",
            next + 1
        );
        let mut all = vec![Param::Uuid(organization_id)];
        all.extend(kb_ids.iter().map(Param::from));
        let mut paged = self.paginate(&count, &list, &all, page, faq_from_row)?;
        self.label_faqs(&mut paged.items)?;
        Ok(paged)
    }

    /// FAQs by id, within the organisation (to hydrate search hits), in no order.
    pub fn faqs_by_ids(&mut self, organization_id: Uuid, ids: &[Uuid]) -> Result<Vec<Faq>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, organization_id, knowledge_base_id, question, answer, \
             raw_user_define_metadata, hits_count, created_at, updated_at FROM faqs \
             WHERE organization_id = $1 AND id IN ({})",
            placeholders(2, ids.len())
        );
        let mut all = vec![Param::Uuid(organization_id)];
        all.extend(ids.iter().map(Param::from));
        let mut faqs =
            self.query(&sql, &all)?.into_iter().map(faq_from_row).collect::<Result<Vec<_>>>()?;
        self.label_faqs(&mut faqs)?;
        Ok(faqs)
    }

    /// Every FAQ of a knowledge base (for indexing).
    pub fn all_faqs(&mut self, organization_id: Uuid, kb_id: Uuid) -> Result<Vec<Faq>> {
        let rows = self.query(
            "SELECT id, organization_id, knowledge_base_id, question, answer, \
             raw_user_define_metadata, hits_count, created_at, updated_at FROM faqs \
             WHERE organization_id = $1 AND knowledge_base_id = $2 ORDER BY created_at, id",
            params![organization_id, kb_id],
        )?;
        let mut faqs = rows.into_iter().map(faq_from_row).collect::<Result<Vec<_>>>()?;
        self.label_faqs(&mut faqs)?;
        Ok(faqs)
    }

    /// Writes question, answer, metadata and labels.
    pub fn update_faq(&mut self, faq: &Faq) -> Result<Faq> {
        self.transaction(|db| {
            let changed = db.execute(
                "UPDATE faqs SET question = $4, answer = $5, raw_user_define_metadata = $6, updated_at = $7 \
                 WHERE organization_id = $1 AND knowledge_base_id = $2 AND id = $3",
                params![
                    faq.organization_id,
                    faq.knowledge_base_id,
                    faq.id,
                    &faq.question,
                    &faq.answer,
                    &faq.raw_user_define_metadata,
                    Timestamp::now()
                ],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            db.replace_faq_labels(faq)?;
            db.get_faq(faq.organization_id, faq.knowledge_base_id, faq.id)
        })
    }

    /// Deletes FAQs of a knowledge base: `ids`, or all of them when `ids` is empty (as the
    /// example client means it). Returns the ids deleted.
    pub fn delete_faqs(
        &mut self,
        organization_id: Uuid,
        kb_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<Uuid>> {
        self.transaction(|db| {
            let (select, delete, mut values) = if ids.is_empty() {
                (
                    "SELECT id FROM faqs WHERE organization_id = $1 AND knowledge_base_id = $2".to_owned(),
                    "DELETE FROM faqs WHERE organization_id = $1 AND knowledge_base_id = $2".to_owned(),
                    vec![Param::Uuid(organization_id), Param::Uuid(kb_id)],
                )
            } else {
                let list = placeholders(3, ids.len());
                (
                    format!("SELECT id FROM faqs WHERE organization_id = $1 AND knowledge_base_id = $2 AND id IN ({list})"),
                    format!("DELETE FROM faqs WHERE organization_id = $1 AND knowledge_base_id = $2 AND id IN ({list})"),
                    vec![Param::Uuid(organization_id), Param::Uuid(kb_id)],
                )
            };
            values.extend(ids.iter().map(Param::from));
            let deleted = db
                .query(&select, &values)?
                .into_iter()
                .map(|mut row| row.uuid(0))
                .collect::<Result<Vec<_>>>()?;
            db.execute(&delete, &values)?;
            Ok(deleted)
        })
    }

    /// Fills in the labels of many FAQs at once.
    fn label_faqs(&mut self, faqs: &mut [Faq]) -> Result<()> {
        let ids: Vec<Uuid> = faqs.iter().map(|faq| faq.id).collect();
        let mut labels = self.labels_of(LabelLinks::Faqs, &ids)?;
        for faq in faqs {
            faq.labels = labels.remove(&faq.id).unwrap_or_default();
        }
        Ok(())
    }

    fn labels_of_faq(&mut self, faq_id: Uuid) -> Result<Vec<LabelRef>> {
        self.query(
            "SELECT l.id, l.name FROM faq_labels fl JOIN kb_labels l ON l.id = fl.label_id \
             WHERE fl.faq_id = $1 ORDER BY l.name, l.id",
            params![faq_id],
        )?
        .into_iter()
        .map(label_ref)
        .collect()
    }

    fn replace_faq_labels(&mut self, faq: &Faq) -> Result<()> {
        self.execute("DELETE FROM faq_labels WHERE faq_id = $1", params![faq.id])?;
        let wanted: Vec<Uuid> = faq.labels.iter().map(|l| l.id).collect();
        for label in self.find_labels(faq.organization_id, faq.knowledge_base_id, &wanted)? {
            self.execute(
                "INSERT INTO faq_labels (faq_id, label_id) VALUES ($1, $2)",
                params![faq.id, label.id],
            )?;
        }
        Ok(())
    }
}

fn faq_from_row(mut row: Row) -> Result<Faq> {
    Ok(Faq {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        knowledge_base_id: row.uuid(2)?,
        question: row.text(3)?,
        answer: row.text(4)?,
        raw_user_define_metadata: row.opt_json(5)?,
        hits_count: row.i64(6)?,
        created_at: row.timestamp(7)?,
        updated_at: row.timestamp(8)?,
        labels: Vec::new(),
    })
}

impl KnowledgeBase {
    /// A knowledge base with the defaults MaiAgent's clients assume.
    pub fn draft(organization_id: Uuid, name: &str, description: Option<&str>) -> KnowledgeBase {
        KnowledgeBase {
            id: Uuid::nil(),
            organization_id,
            name: name.to_owned(),
            description: description.map(str::to_owned),
            embedding_model_id: None,
            reranker_model_id: None,
            number_of_retrieved_chunks: 12,
            sentence_window_size: 2,
            enable_hyde: false,
            similarity_cutoff: 0.0,
            enable_rerank: true,
            chunk_size: 800,
            chunk_overlap: 100,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            files_count: 0,
            chatbots: Vec::new(),
        }
    }
}
