use std::borrow::Cow;
use std::collections::HashMap;

use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{
    Chunk, FileContent, FileStatus, KbFile, LabelRef, NewChunk, NewKbFile, PageRequest, Paged,
    embedding_from_bytes, embedding_to_bytes, new_id,
};
use crate::params;
use crate::sql::{Db, Param, Row, placeholders};
use crate::text_layout;

/// Whose labels [`Db::labels_of`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LabelLinks {
    Files,
    Faqs,
}

const FILE_COLUMNS: &str = "f.id, f.organization_id, f.knowledge_base_id, f.filename, \
    f.storage_key, f.file_type, f.size, f.parser_id, f.status, f.failed_reason, \
    f.raw_user_define_metadata, f.pages, f.chunks_count, f.created_at, f.updated_at";

fn file_from_row(mut row: Row) -> Result<KbFile> {
    let status = row.text(8)?;
    Ok(KbFile {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        knowledge_base_id: row.uuid(2)?,
        filename: row.text(3)?,
        storage_key: row.text(4)?,
        file_type: row.text(5)?,
        size: row.i64(6)?,
        parser_id: row.opt_uuid(7)?,
        status: FileStatus::parse(&status).ok_or_else(|| StoreError::Decode {
            column: 8,
            message: format!("unknown file status {status:?}"),
        })?,
        failed_reason: row.opt_text(9)?,
        raw_user_define_metadata: row.opt_json(10)?,
        pages: row.opt_i64(11)?,
        chunks_count: row.i64(12)?,
        created_at: row.timestamp(13)?,
        updated_at: row.timestamp(14)?,
        labels: Vec::new(),
    })
}

const CHUNK_COLUMNS: &str = "c.id, c.organization_id, c.knowledge_base_id, c.file_id, c.ordinal, \
    c.content, c.page_number, c.heading, c.metadata, c.embedding, c.hits_count, c.created_at, \
    c.updated_at, f.filename";

fn chunk_from_row(mut row: Row) -> Result<Chunk> {
    Ok(Chunk {
        id: row.uuid(0)?,
        organization_id: row.uuid(1)?,
        knowledge_base_id: row.uuid(2)?,
        file_id: row.uuid(3)?,
        ordinal: row.i64(4)?,
        content: row.text(5)?,
        page_number: row.opt_i64(6)?,
        heading: row.opt_text(7)?,
        metadata: row.opt_json(8)?,
        embedding: row.opt_bytes(9)?.map(|bytes| embedding_from_bytes(&bytes)),
        hits_count: row.i64(10)?,
        created_at: row.timestamp(11)?,
        updated_at: row.timestamp(12)?,
        filename: row.text(13)?,
    })
}

impl Db<'_> {
    /// Registers uploaded files in a knowledge base, status `initial`, in the order given.
    pub fn insert_files(
        &mut self,
        organization_id: Uuid,
        files: &[NewKbFile],
    ) -> Result<Vec<KbFile>> {
        self.transaction(|db| {
            let mut stored = Vec::with_capacity(files.len());
            for new in files {
                let id = new_id();
                let now = Timestamp::now();
                db.execute(
                    "INSERT INTO kb_files (id, organization_id, knowledge_base_id, filename, \
                     storage_key, file_type, size, parser_id, status, chunks_count, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11)",
                    params![
                        id,
                        organization_id,
                        new.knowledge_base_id,
                        &new.filename,
                        &new.storage_key,
                        &new.file_type,
                        new.size,
                        new.parser_id,
                        FileStatus::Initial.as_str(),
                        now,
                        now
                    ],
                )?;
                stored.push(db.get_file(organization_id, id)?);
            }
            Ok(stored)
        })
    }

    /// A file of the organisation, by id alone.
    pub fn get_file(&mut self, organization_id: Uuid, id: Uuid) -> Result<KbFile> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM kb_files f WHERE f.organization_id = $1 AND f.id = $2"
        );
        let mut file = file_from_row(self.query_one(&sql, params![organization_id, id])?)?;
        file.labels = self.labels_of_file(file.id)?;
        Ok(file)
    }

    /// A file, only when it belongs to one of `kb_ids`.
    pub fn get_file_in(
        &mut self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        id: Uuid,
    ) -> Result<KbFile> {
        let file = self.get_file(organization_id, id)?;
        if kb_ids.contains(&file.knowledge_base_id) { Ok(file) } else { Err(StoreError::NotFound) }
    }

    /// Files of the given knowledge bases, newest first.
    pub fn list_files(
        &mut self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        page: PageRequest,
    ) -> Result<Paged<KbFile>> {
        if kb_ids.is_empty() {
            return Ok(Paged { count: 0, number: 1, size: page.size.max(1), items: Vec::new() });
        }
        let kbs = placeholders(2, kb_ids.len());
        let next = 2 + kb_ids.len();
        let count = format!(
            "SELECT COUNT(*) FROM kb_files WHERE organization_id = $1 AND knowledge_base_id IN ({kbs})"
        );
        let list = format!(
            "SELECT {FILE_COLUMNS} FROM kb_files f WHERE f.organization_id = $1 \
             AND f.knowledge_base_id IN ({kbs}) ORDER BY f.created_at DESC, f.id DESC \
             LIMIT ${next} OFFSET ${}",
            next + 1
        );
        let mut all = vec![Param::Uuid(organization_id)];
        all.extend(kb_ids.iter().map(Param::from));
        let mut paged = self.paginate(&count, &list, &all, page, file_from_row)?;
        let ids: Vec<Uuid> = paged.items.iter().map(|file| file.id).collect();
        let mut labels = self.labels_of_files(&ids)?;
        for file in &mut paged.items {
            file.labels = labels.remove(&file.id).unwrap_or_default();
        }
        Ok(paged)
    }

    /// Every file of a knowledge base in a given status (for reindexing and recovery).
    pub fn files_with_status(
        &mut self,
        organization_id: Uuid,
        kb_id: Uuid,
        status: FileStatus,
    ) -> Result<Vec<KbFile>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM kb_files f WHERE f.organization_id = $1 \
             AND f.knowledge_base_id = $2 AND f.status = $3 ORDER BY f.created_at, f.id"
        );
        self.query(&sql, params![organization_id, kb_id, status.as_str()])?
            .into_iter()
            .map(file_from_row)
            .collect()
    }

    pub fn rename_file(
        &mut self,
        organization_id: Uuid,
        file_id: Uuid,
        filename: &str,
    ) -> Result<()> {
        let changed = self.execute(
            "UPDATE kb_files SET filename = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
            params![organization_id, file_id, filename, Timestamp::now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Moves a file to `status`, with the reason when it failed.
    pub fn set_file_status(
        &mut self,
        file_id: Uuid,
        status: FileStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        self.execute(
            "UPDATE kb_files SET status = $2, failed_reason = $3, updated_at = $4 WHERE id = $1",
            params![file_id, status.as_str(), reason, Timestamp::now()],
        )?;
        Ok(())
    }

    /// Replaces a file's labels (only labels of its knowledge base are kept) and, when given,
    /// its free-form metadata.
    pub fn update_file_metadata(
        &mut self,
        organization_id: Uuid,
        file_id: Uuid,
        labels: Option<&[Uuid]>,
        metadata: Option<&serde_json::Value>,
    ) -> Result<KbFile> {
        self.transaction(|db| {
            let file = db.get_file(organization_id, file_id)?;
            if let Some(labels) = labels {
                db.execute("DELETE FROM kb_file_labels WHERE file_id = $1", params![file_id])?;
                for label in db.find_labels(organization_id, file.knowledge_base_id, labels)? {
                    db.execute(
                        "INSERT INTO kb_file_labels (file_id, label_id) VALUES ($1, $2)",
                        params![file_id, label.id],
                    )?;
                }
            }
            if let Some(metadata) = metadata {
                db.execute(
                    "UPDATE kb_files SET raw_user_define_metadata = $2, updated_at = $3 WHERE id = $1",
                    params![file_id, metadata, Timestamp::now()],
                )?;
            }
            db.get_file(organization_id, file_id)
        })
    }

    /// Deletes files of the given knowledge bases (with their chunks and contents) and
    /// returns them, so the caller can cancel their jobs and remove objects and index entries.
    pub fn delete_files(
        &mut self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        ids: &[Uuid],
    ) -> Result<Vec<KbFile>> {
        if ids.is_empty() || kb_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.transaction(|db| {
            let mut deleted = Vec::new();
            for id in ids {
                match db.get_file_in(organization_id, kb_ids, *id) {
                    Ok(file) => deleted.push(file),
                    Err(StoreError::NotFound) => continue,
                    Err(err) => return Err(err),
                }
            }
            for file in &deleted {
                db.execute("DELETE FROM kb_files WHERE id = $1", params![file.id])?;
            }
            Ok(deleted)
        })
    }

    fn labels_of_file(&mut self, file_id: Uuid) -> Result<Vec<LabelRef>> {
        self.query(
            "SELECT l.id, l.name FROM kb_file_labels fl JOIN kb_labels l ON l.id = fl.label_id \
             WHERE fl.file_id = $1 ORDER BY l.name, l.id",
            params![file_id],
        )?
        .into_iter()
        .map(|mut row| Ok(LabelRef { id: row.uuid(0)?, name: row.text(1)? }))
        .collect()
    }

    /// Label ids of a file (for the search index).
    pub fn label_ids_of_file(&mut self, file_id: Uuid) -> Result<Vec<Uuid>> {
        Ok(self.labels_of_file(file_id)?.into_iter().map(|l| l.id).collect())
    }

    // Parsed content and chunks.

    /// Stores the outcome of parsing a file: its text and chunks replace any earlier ones. The
    /// file stays `processing` (its failure reason cleared) until the worker has indexed the
    /// chunks and marks it `done`, so `done` always means searchable. Returns `None`, writing
    /// nothing, when the file was deleted meanwhile.
    pub fn store_parsed_file(
        &mut self,
        file_id: Uuid,
        content: &str,
        encoding: Option<&str>,
        pages: Option<i64>,
        chunks: &[NewChunk],
    ) -> Result<Option<Vec<Chunk>>> {
        self.transaction(|db| {
            let sql = format!("SELECT {FILE_COLUMNS} FROM kb_files f WHERE f.id = $1{}", db.for_update());
            let Some(row) = db.query_opt(&sql, params![file_id])? else { return Ok(None) };
            let file = file_from_row(row)?;
            let now = Timestamp::now();
            // The old text goes first, so that replacing the chunks has none to write out.
            db.execute(
                "DELETE FROM kb_file_contents WHERE file_id = $1",
                params![file_id],
            )?;
            let stored = db.replace_chunks(&file, chunks)?;
            let placed = chunks.iter().map(|chunk| text_layout::Placed {
                ordinal: chunk.ordinal,
                start: chunk.source_start,
                text: &chunk.content,
            });
            let (stored_text, layout) = match text_layout::split(content, placed) {
                Some((gaps, layout)) => (Cow::Owned(gaps), Some(layout.to_json())),
                None => (Cow::Borrowed(content), None),
            };
            db.execute(
                "INSERT INTO kb_file_contents (file_id, organization_id, content, layout, encoding, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                params![file_id, file.organization_id, &*stored_text, layout.as_deref(), encoding, now],
            )?;
            db.execute(
                "UPDATE kb_files SET status = $2, failed_reason = NULL, pages = $3, updated_at = $4 \
                 WHERE id = $1",
                params![file_id, FileStatus::Processing.as_str(), pages, now],
            )?;
            Ok(Some(stored))
        })
    }

    /// Replaces a file's chunks (after its content was edited), counts them, and returns
    /// them as stored (in order), without reading them back.
    pub fn replace_chunks(&mut self, file: &KbFile, chunks: &[NewChunk]) -> Result<Vec<Chunk>> {
        let now = Timestamp::now();
        self.materialize_file_text(file.id)?;
        self.execute("DELETE FROM chunks WHERE file_id = $1", params![file.id])?;
        let mut stored = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let embedding = chunk.embedding.as_deref().map(embedding_to_bytes);
            let id = new_id();
            self.execute(
                "INSERT INTO chunks (id, organization_id, knowledge_base_id, file_id, ordinal, \
                 content, page_number, heading, embedding, hits_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11)",
                params![
                    id,
                    file.organization_id,
                    file.knowledge_base_id,
                    file.id,
                    chunk.ordinal,
                    &chunk.content,
                    chunk.page_number,
                    &chunk.heading,
                    embedding.as_deref().map_or(Param::Null, Param::Bytes),
                    now,
                    now
                ],
            )?;
            stored.push(Chunk {
                id,
                organization_id: file.organization_id,
                knowledge_base_id: file.knowledge_base_id,
                file_id: file.id,
                ordinal: chunk.ordinal,
                content: chunk.content.clone(),
                page_number: chunk.page_number,
                heading: chunk.heading.clone(),
                metadata: None,
                embedding: chunk.embedding.clone(),
                hits_count: 0,
                created_at: now,
                updated_at: now,
                filename: file.filename.clone(),
            });
        }
        self.execute(
            "UPDATE kb_files SET chunks_count = $2 WHERE id = $1",
            params![file.id, i64::try_from(chunks.len()).unwrap_or(i64::MAX)],
        )?;
        // The order `chunks_of_file` reads them in.
        stored.sort_by_key(|c| (c.ordinal, c.id));
        Ok(stored)
    }

    pub fn get_file_content(
        &mut self,
        organization_id: Uuid,
        file_id: Uuid,
    ) -> Result<FileContent> {
        // The text and the chunks it may be assembled from, as of one moment.
        self.consistent_reads(|db| {
            let mut row = db.query_one(
                "SELECT file_id, content, layout, modified_content, encoding, updated_at \
                 FROM kb_file_contents WHERE organization_id = $1 AND file_id = $2",
                params![organization_id, file_id],
            )?;
            let stored = row.text(1)?;
            let content = match row.opt_text(2)? {
                Some(layout) => db.assemble_file_text(file_id, &stored, &layout)?,
                None => stored,
            };
            Ok(FileContent {
                file_id: row.uuid(0)?,
                content,
                modified_content: row.opt_text(3)?,
                encoding: row.opt_text(4)?,
                updated_at: row.timestamp(5)?,
            })
        })
    }

    /// A file's text from its stored gaps, its layout and its chunks (see `text_layout`).
    fn assemble_file_text(&mut self, file_id: Uuid, gaps: &str, layout: &str) -> Result<String> {
        let chunks = self
            .query(
                "SELECT ordinal, content FROM chunks WHERE file_id = $1 ORDER BY ordinal",
                params![file_id],
            )?
            .into_iter()
            .map(|mut row| Ok((row.i64(0)?, row.text(1)?)))
            .collect::<Result<Vec<_>>>()?;
        text_layout::Layout::from_json(layout)
            .and_then(|layout| text_layout::assemble(gaps, &layout, &chunks))
            .ok_or_else(|| {
                StoreError::Backend(format!("the text of file {file_id} no longer fits its chunks"))
            })
    }

    /// Stores a file's text whole where it was kept as the gaps between its chunks: called
    /// before any of those chunks changes.
    fn materialize_file_text(&mut self, file_id: Uuid) -> Result<()> {
        // On PostgreSQL, the file's row is locked first, as storing a parsed file does, so the
        // two never wait for each other's locks.
        let lock = format!("SELECT id FROM kb_files WHERE id = $1{}", self.for_update());
        self.query_opt(&lock, params![file_id])?;
        let sql = format!(
            "SELECT content, layout FROM kb_file_contents WHERE file_id = $1 AND layout IS NOT NULL{}",
            self.for_update()
        );
        let Some(mut row) = self.query_opt(&sql, params![file_id])? else {
            return Ok(());
        };
        let (gaps, layout) = (row.text(0)?, row.text(1)?);
        let text = self.assemble_file_text(file_id, &gaps, &layout)?;
        self.execute(
            "UPDATE kb_file_contents SET content = $2, layout = NULL WHERE file_id = $1",
            params![file_id, &text],
        )?;
        Ok(())
    }

    pub fn set_modified_content(
        &mut self,
        organization_id: Uuid,
        file_id: Uuid,
        modified: Option<&str>,
    ) -> Result<FileContent> {
        let changed = self.execute(
            "UPDATE kb_file_contents SET modified_content = $3, updated_at = $4 \
             WHERE organization_id = $1 AND file_id = $2",
            params![organization_id, file_id, modified, Timestamp::now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_file_content(organization_id, file_id)
    }

    /// A file's chunks in order.
    pub fn chunks_of_file(&mut self, organization_id: Uuid, file_id: Uuid) -> Result<Vec<Chunk>> {
        let sql = format!(
            "SELECT {CHUNK_COLUMNS} FROM chunks c JOIN kb_files f ON f.id = c.file_id \
             WHERE c.organization_id = $1 AND c.file_id = $2 ORDER BY c.ordinal, c.id"
        );
        self.query(&sql, params![organization_id, file_id])?
            .into_iter()
            .map(chunk_from_row)
            .collect()
    }

    /// Chunks of the given knowledge bases, optionally of one file, in file and reading order.
    pub fn list_chunks(
        &mut self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        file_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Paged<Chunk>> {
        if kb_ids.is_empty() {
            return Ok(Paged { count: 0, number: 1, size: page.size.max(1), items: Vec::new() });
        }
        let kbs = placeholders(2, kb_ids.len());
        let mut filter = format!("c.organization_id = $1 AND c.knowledge_base_id IN ({kbs})");
        let mut all = vec![Param::Uuid(organization_id)];
        all.extend(kb_ids.iter().map(Param::from));
        if let Some(file_id) = file_id {
            filter.push_str(&format!(" AND c.file_id = ${}", all.len() + 1));
            all.push(Param::Uuid(file_id));
        }
        let next = all.len() + 1;
        let count = format!("SELECT COUNT(*) FROM chunks c WHERE {filter}");
        let list = format!(
            "SELECT {CHUNK_COLUMNS} FROM chunks c JOIN kb_files f ON f.id = c.file_id WHERE {filter} \
             ORDER BY c.created_at, c.file_id, c.ordinal, c.id LIMIT ${next} OFFSET ${}",
            next + 1
        );
        self.paginate(&count, &list, &all, page, chunk_from_row)
    }

    /// Chunks by id, within the organisation (to hydrate search hits), in no order.
    pub fn chunks_by_ids(&mut self, organization_id: Uuid, ids: &[Uuid]) -> Result<Vec<Chunk>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CHUNK_COLUMNS} FROM chunks c JOIN kb_files f ON f.id = c.file_id \
             WHERE c.organization_id = $1 AND c.id IN ({})",
            placeholders(2, ids.len())
        );
        let mut all = vec![Param::Uuid(organization_id)];
        all.extend(ids.iter().map(Param::from));
        self.query(&sql, &all)?.into_iter().map(chunk_from_row).collect()
    }

    /// A chunk of one of `kb_ids`.
    pub fn get_chunk(&mut self, organization_id: Uuid, kb_ids: &[Uuid], id: Uuid) -> Result<Chunk> {
        let chunk =
            self.chunks_by_ids(organization_id, &[id])?.pop().ok_or(StoreError::NotFound)?;
        if kb_ids.contains(&chunk.knowledge_base_id) {
            Ok(chunk)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// Changes a chunk's text (clearing its embedding, which no longer matches) and metadata.
    pub fn update_chunk(
        &mut self,
        organization_id: Uuid,
        id: Uuid,
        content: Option<&str>,
        metadata: Option<&serde_json::Value>,
        embedding: Option<&[f32]>,
    ) -> Result<()> {
        self.transaction(|db| {
            let now = Timestamp::now();
            if let Some(content) = content {
                let file = db.query_opt(
                    "SELECT file_id FROM chunks WHERE organization_id = $1 AND id = $2",
                    params![organization_id, id],
                )?;
                if let Some(file_id) = file.map(|mut row| row.uuid(0)).transpose()? {
                    db.materialize_file_text(file_id)?;
                }
                let bytes = embedding.map(embedding_to_bytes);
                db.execute(
                    "UPDATE chunks SET content = $3, embedding = $4, updated_at = $5 \
                     WHERE organization_id = $1 AND id = $2",
                    params![
                        organization_id,
                        id,
                        content,
                        bytes.as_deref().map_or(Param::Null, Param::Bytes),
                        now
                    ],
                )?;
            }
            if let Some(metadata) = metadata {
                db.execute(
                    "UPDATE chunks SET metadata = $3, updated_at = $4 \
                     WHERE organization_id = $1 AND id = $2",
                    params![organization_id, id, metadata, now],
                )?;
            }
            Ok(())
        })
    }

    pub fn delete_chunk(&mut self, organization_id: Uuid, id: Uuid) -> Result<()> {
        self.transaction(|db| {
            let chunk = db.chunks_by_ids(organization_id, &[id])?.pop().ok_or(StoreError::NotFound)?;
            db.materialize_file_text(chunk.file_id)?;
            db.execute("DELETE FROM chunks WHERE id = $1", params![id])?;
            db.execute(
                "UPDATE kb_files SET chunks_count = chunks_count - 1 WHERE id = $1 AND chunks_count > 0",
                params![chunk.file_id],
            )?;
            Ok(())
        })
    }

    /// Counts retrievals, for `hitsCount` of chunks and FAQs, in one transaction.
    pub fn add_hits(&mut self, chunks: &[(Uuid, i64)], faqs: &[(Uuid, i64)]) -> Result<()> {
        self.transaction(|db| {
            for (id, hits) in chunks {
                db.execute(
                    "UPDATE chunks SET hits_count = hits_count + $2 WHERE id = $1",
                    params![*id, *hits],
                )?;
            }
            for (id, hits) in faqs {
                db.execute(
                    "UPDATE faqs SET hits_count = hits_count + $2 WHERE id = $1",
                    params![*id, *hits],
                )?;
            }
            Ok(())
        })
    }

    /// Stores (or clears) chunk embeddings after a knowledge base's embedding model changed.
    pub fn set_chunk_embeddings(&mut self, updates: &[(Uuid, Option<Vec<f32>>)]) -> Result<()> {
        self.transaction(|db| {
            let now = Timestamp::now();
            for (id, embedding) in updates {
                let bytes = embedding.as_deref().map(embedding_to_bytes);
                db.execute(
                    "UPDATE chunks SET embedding = $2, updated_at = $3 WHERE id = $1",
                    params![id, bytes.as_deref().map_or(Param::Null, Param::Bytes), now],
                )?;
            }
            Ok(())
        })
    }

    /// Labels of many files at once (to hydrate search hits).
    pub fn labels_of_files(&mut self, file_ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<LabelRef>>> {
        self.labels_of(LabelLinks::Files, file_ids)
    }

    /// The labels of many files or FAQs, by holder, each in name order: a query per thousand
    /// holders, where one per holder made a page of 1,000 files 1,001 queries.
    pub(crate) fn labels_of(
        &mut self,
        links: LabelLinks,
        holders: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<LabelRef>>> {
        let (table, holder) = match links {
            LabelLinks::Files => ("kb_file_labels", "file_id"),
            LabelLinks::Faqs => ("faq_labels", "faq_id"),
        };
        let mut ids = holders.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut labels: HashMap<Uuid, Vec<LabelRef>> = HashMap::new();
        for batch in ids.chunks(1000) {
            let sql = format!(
                "SELECT x.{holder}, l.id, l.name FROM {table} x \
                 JOIN kb_labels l ON l.id = x.label_id \
                 WHERE x.{holder} IN ({}) ORDER BY l.name, l.id",
                placeholders(1, batch.len())
            );
            let all: Vec<Param<'_>> = batch.iter().map(Param::from).collect();
            for mut row in self.query(&sql, &all)? {
                let holder = row.uuid(0)?;
                labels
                    .entry(holder)
                    .or_default()
                    .push(LabelRef { id: row.uuid(1)?, name: row.text(2)? });
            }
        }
        Ok(labels)
    }

    /// Files and FAQs carrying a label (to relabel them in the index when it is deleted).
    pub fn holders_of_label(&mut self, label_id: Uuid) -> Result<Vec<Uuid>> {
        self.query(
            "SELECT file_id FROM kb_file_labels WHERE label_id = $1 \
             UNION SELECT faq_id FROM faq_labels WHERE label_id = $1",
            params![label_id],
        )?
        .into_iter()
        .map(|mut row| row.uuid(0))
        .collect()
    }

    /// Label ids of a file or an FAQ, whichever `holder_id` is.
    pub fn label_ids_of(&mut self, holder_id: Uuid) -> Result<Vec<Uuid>> {
        self.query(
            "SELECT label_id FROM kb_file_labels WHERE file_id = $1 \
             UNION SELECT label_id FROM faq_labels WHERE faq_id = $1",
            params![holder_id],
        )?
        .into_iter()
        .map(|mut row| row.uuid(0))
        .collect()
    }
}
