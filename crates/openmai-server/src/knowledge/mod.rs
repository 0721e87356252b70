//! Knowledge bases at work: keeps the store (the source of truth), the search index (derived
//! from it), blob storage and the ingestion queue consistent. Handlers call this, never the
//! index or the blobs directly.
//!
//! - Uploads: [`Knowledge::presign`] and [`Knowledge::accept_upload`] (the embedded store's
//!   S3-style endpoint).
//! - Ingestion: registering files queues a job per file; [`worker`] runs them (parse in an
//!   isolated child process, embed, store, index).
//! - Retrieval: [`retrieval`].

pub mod commit;
pub mod models;
pub mod parse;
pub mod retrieval;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use openmai_blobs::{BlobStore, LocalStore, PostForm, StoredObject, UploadError};
use openmai_index::{ChunkRecord, SearchIndex};
use openmai_store::Store;
use openmai_store::models::{
    Chunk, Faq, FileContent, FileStatus, KbFile, NewChunk, NewJob, NewKbFile,
};
use openmai_types::Timestamp;
use tokio::sync::Notify;
use uuid::Uuid;

pub use self::retrieval::{SearchHit, SearchRequest};
use crate::config::{Config, SearchIndexKind, StorageKind};
use crate::error::{ApiError, ApiResult};
use crate::wire::links::RequestUrl;

/// The job kinds of the queue.
pub const INGEST_JOB: &str = "ingest_file";
pub const REEMBED_JOB: &str = "reembed_knowledge_base";
/// Attempts before a file's job gives up (parse failures are final at once; these are for
/// provider outages and crashes).
pub const MAX_ATTEMPTS: i64 = 5;
/// How long an upload form stays valid.
pub const UPLOAD_TTL: Duration = Duration::from_secs(3600);
/// The bucket name the embedded store signs into its policies.
pub const LOCAL_BUCKET: &str = "openmai";

#[derive(Clone)]
pub struct Knowledge(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub index: Arc<dyn SearchIndex>,
    pub blobs: Arc<dyn BlobStore>,
    /// The embedded store, which is also the upload endpoint; `None` with S3.
    pub local: Option<Arc<LocalStore>>,
    pub models: models::Models,
    /// Wakes idle ingestion workers when a job is queued.
    pub wake: Arc<Notify>,
    /// Announces each file whose ingestion ended (`done` or `failed`), for pages that show
    /// progress and for tests that wait for it.
    pub settled: tokio::sync::broadcast::Sender<Uuid>,
    pub settings: Settings,
    /// Retrieval hits waiting to be counted.
    pub hits: std::sync::Mutex<retrieval::PendingHits>,
    /// Spaces out the index commits that make ingested files searchable.
    pub group_commit: commit::GroupCommit,
    /// The processes that parse uploaded files.
    pub parsers: parse::Parsers,
}

/// What ingestion needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_upload_bytes: u64,
    pub temp_dir: PathBuf,
    pub lease: Duration,
    /// The first retry's delay; each further retry waits twice as long.
    pub retry_delay: Duration,
    pub workers: usize,
}

impl std::ops::Deref for Knowledge {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Opens the search index `search_index` asks for: PostgreSQL (pgvector) when the store is
/// PostgreSQL and the extension is there (`auto`), else the embedded index under `data_dir`.
/// Logs which one is in use, and why.
async fn open_index(config: &Config, store: &Store) -> anyhow::Result<Arc<dyn SearchIndex>> {
    let postgres_url = match store.url() {
        openmai_store::DatabaseUrl::Postgres(url) => Some(url.clone()),
        openmai_store::DatabaseUrl::Sqlite(_) => None,
    };
    let reason = match (config.search_index, postgres_url) {
        (SearchIndexKind::Embedded, _) => "search_index = \"embedded\"".to_owned(),
        (SearchIndexKind::Postgres, None) => {
            anyhow::bail!("search_index = \"postgres\" needs a postgres:// database_url")
        }
        (SearchIndexKind::Auto, None) => "the database is SQLite".to_owned(),
        (kind, Some(url)) => {
            let options = openmai_index::PgOptions {
                max_connections: config.database_max_connections,
                ..openmai_index::PgOptions::default()
            };
            let opened =
                tokio::task::spawn_blocking(move || openmai_index::PgIndex::open(&url, options))
                    .await?;
            match opened {
                Ok(index) => {
                    tracing::info!("search index: PostgreSQL (pgvector, shared by every replica)");
                    return Ok(Arc::new(index));
                }
                Err(err) if kind == SearchIndexKind::Postgres => {
                    anyhow::bail!("cannot open the PostgreSQL search index: {err}")
                }
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        "the PostgreSQL search index is unavailable; using the embedded index, \
                         so run one `serve` per data directory"
                    );
                    format!("PostgreSQL has no usable pgvector ({err})")
                }
            }
        }
    };
    let index_dir = config.data_dir.join("index");
    let dir = index_dir.display().to_string();
    let index = tokio::task::spawn_blocking(move || {
        openmai_index::EmbeddedIndex::open(&index_dir, openmai_index::EmbeddedOptions::default())
    })
    .await??;
    tracing::info!(%reason, %dir, "search index: embedded");
    Ok(Arc::new(index))
}

/// Hands every chunk and FAQ entry of the database to an index whose terms an older analyzer
/// made (see [`SearchIndex::needs_reanalysis`]), then records that it is done. A crash
/// meanwhile leaves the index asking again at the next start.
async fn reanalyse_index(store: &Store, index: &Arc<dyn SearchIndex>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    tracing::info!("re-analysing the search index from the database");
    let reanalyse = |records: Vec<ChunkRecord>| {
        let index = index.clone();
        async move {
            tokio::task::spawn_blocking(move || index.reanalyse(&records)).await??;
            anyhow::Ok(())
        }
    };
    let mut count = 0;
    for (org, kb) in store.read(|db| db.all_knowledge_base_ids()).await? {
        let files = store.read(move |db| db.files_with_status(org, kb, FileStatus::Done)).await?;
        for file in files {
            let file_id = file.id;
            let (chunks, labels) = store
                .read(move |db| {
                    Ok((db.chunks_of_file(org, file_id)?, db.label_ids_of_file(file_id)?))
                })
                .await?;
            let records: Vec<ChunkRecord> =
                chunks.iter().map(|c| chunk_record(c, labels.clone())).collect();
            count += records.len();
            reanalyse(records).await?;
        }
        let faqs = store.read(move |db| db.all_faqs(org, kb)).await?;
        count += faqs.len();
        reanalyse(faqs.iter().map(|faq| faq_record(faq, None)).collect()).await?;
    }
    let index = index.clone();
    tokio::task::spawn_blocking(move || index.finish_reanalysis()).await??;
    tracing::info!(
        chunks = count,
        seconds = started.elapsed().as_secs(),
        "re-analysed the search index"
    );
    Ok(())
}

impl Knowledge {
    /// Opens the index and the blob store the configuration names.
    pub async fn open(
        config: &Config,
        store: Store,
        catalog: &crate::catalog::Catalog,
    ) -> anyhow::Result<Knowledge> {
        let data = &config.data_dir;
        let temp_dir = data.join("tmp");
        std::fs::create_dir_all(&temp_dir)?;
        let index = open_index(config, &store).await?;
        if index.needs_reanalysis() {
            reanalyse_index(&store, &index).await?;
        }
        let (blobs, local): (Arc<dyn BlobStore>, Option<Arc<LocalStore>>) = match config.storage {
            StorageKind::Local => {
                let secret = store_secret(&store, "storage_secret").await?;
                let creds = openmai_blobs::Credentials {
                    access_key_id: "openmai".into(),
                    secret_access_key: secret.into(),
                    region: "local".into(),
                };
                // The URL handed out is rewritten per request to the address the client used.
                let upload_url = format!("http://{}/storage/{LOCAL_BUCKET}", config.bind);
                let local =
                    Arc::new(LocalStore::new(data.join("blobs"), creds, LOCAL_BUCKET, upload_url)?);
                (local.clone(), Some(local))
            }
            StorageKind::S3 => {
                let s3 = config
                    .s3
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("storage = \"s3\" needs [s3]"))?;
                let store = openmai_blobs::S3Store::new(openmai_blobs::S3Config {
                    bucket: s3.bucket.clone(),
                    credentials: openmai_blobs::Credentials {
                        access_key_id: s3.access_key_id.clone(),
                        secret_access_key: s3.secret_access_key.clone(),
                        region: s3.region.clone(),
                    },
                    endpoint: s3
                        .endpoint
                        .as_ref()
                        .map(|url| url.as_str().trim_end_matches('/').to_owned()),
                    path_style: s3.path_style,
                    public_url: s3
                        .public_url
                        .as_ref()
                        .map(|url| url.as_str().trim_end_matches('/').to_owned()),
                })?;
                (Arc::new(store), None)
            }
        };
        Ok(Knowledge(Arc::new(Inner {
            store,
            index,
            blobs,
            local,
            models: models::Models::from_config(config, catalog)?,
            wake: Arc::new(Notify::new()),
            settled: tokio::sync::broadcast::channel(256).0,
            hits: std::sync::Mutex::default(),
            group_commit: commit::GroupCommit::new(Duration::from_millis(
                config.index_commit_interval_ms,
            )),
            parsers: parse::Parsers::new(
                config.parser_executable.clone(),
                Duration::from_secs(config.ingest_timeout_seconds),
                config.ingest_memory_mb * 1024 * 1024,
                // One per ingestion worker, and one for chat attachments.
                config.ingest_workers + 1,
            ),
            settings: Settings {
                max_upload_bytes: config.max_upload_bytes,
                temp_dir,
                lease: Duration::from_secs(config.job_lease_seconds),
                retry_delay: Duration::from_millis(config.job_retry_delay_ms),
                workers: config.ingest_workers,
            },
        })))
    }

    /// Runs blocking index work off the async threads.
    pub(crate) async fn index<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SearchIndex) -> Result<T, openmai_index::IndexError> + Send + 'static,
    ) -> ApiResult<T> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || f(index.as_ref()))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }

    // Uploads.

    /// A signed form to upload `key` (at most `max_bytes`). On the embedded store the form
    /// posts to this server, at the address the client used.
    pub fn presign(&self, key: &str, max_bytes: u64, url: &RequestUrl) -> ApiResult<PostForm> {
        let now = time::OffsetDateTime::now_utc();
        let mut form =
            self.blobs.presign_post(key, max_bytes, UPLOAD_TTL, now).map_err(ApiError::internal)?;
        if self.local.is_some() {
            form.url = url.absolute(&format!("/storage/{LOCAL_BUCKET}"));
        }
        Ok(form)
    }

    /// The embedded store's POST upload (S3 handles its own).
    pub async fn accept_upload<S>(
        &self,
        fields: &[(String, String)],
        file: S,
        now: time::OffsetDateTime,
    ) -> Result<StoredObject, UploadError>
    where
        S: Stream<Item = Result<Bytes, String>> + Send,
    {
        match &self.local {
            Some(local) => local.accept_upload(fields, file, now).await,
            None => Err(UploadError::InvalidArgument {
                message: "Uploads go to the S3 bucket named in the form, not to this server."
                    .into(),
                argument_name: "bucket".into(),
                argument_value: LOCAL_BUCKET.into(),
            }),
        }
    }

    /// The size of an uploaded object of the organisation, or `None` when there is none.
    /// Keys of other organisations are never found.
    pub async fn uploaded_size(&self, organization_id: Uuid, key: &str) -> ApiResult<Option<u64>> {
        if !key.starts_with(&format!("uploads/{organization_id}/"))
            || openmai_blobs::validate_key(key).is_err()
        {
            return Ok(None);
        }
        self.blobs.head(key).await.map_err(ApiError::internal)
    }

    /// A stored object as a byte stream (for downloads).
    pub async fn open_object(
        &self,
        key: &str,
    ) -> ApiResult<impl Stream<Item = std::io::Result<Bytes>> + use<>> {
        let path = self.settings.temp_dir.join(format!("download-{}", Uuid::new_v4()));
        self.blobs.get_to_file(key, &path, u64::MAX).await.map_err(|e| match e {
            openmai_blobs::BlobError::NotFound { .. } => ApiError::not_found(),
            other => ApiError::internal(other),
        })?;
        let file = tokio::fs::File::open(&path).await.map_err(ApiError::internal)?;
        // The open file stays readable after its name is gone, and nothing is left behind.
        let _ = tokio::fs::remove_file(&path).await;
        Ok(tokio_util::io::ReaderStream::with_capacity(file, crate::FILE_STREAM_READ_BYTES))
    }

    // Files.

    /// Stores new files and queues their ingestion, atomically.
    pub async fn register_files(
        &self,
        organization_id: Uuid,
        files: Vec<NewKbFile>,
    ) -> ApiResult<Vec<KbFile>> {
        let stored = self
            .store
            .write(move |db| {
                db.transaction(|db| {
                    let stored = db.insert_files(organization_id, &files)?;
                    for file in &stored {
                        db.enqueue_job(&ingest_job(organization_id, file.id))?;
                    }
                    Ok(stored)
                })
            })
            .await?;
        self.wake.notify_waiters();
        Ok(stored)
    }

    /// Parses files again (with the knowledge base's current chunk settings).
    pub async fn reparse_files(
        &self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        ids: &[Uuid],
    ) -> ApiResult<Vec<KbFile>> {
        let (kbs, ids) = (kb_ids.to_vec(), ids.to_vec());
        let files = self
            .store
            .write(move |db| {
                db.transaction(|db| {
                    let mut files = Vec::new();
                    for id in ids {
                        let Ok(file) = db.get_file_in(organization_id, &kbs, id) else { continue };
                        db.cancel_jobs(file.id)?;
                        db.set_file_status(file.id, FileStatus::Initial, None)?;
                        db.enqueue_job(&ingest_job(organization_id, file.id))?;
                        files.push(db.get_file(organization_id, file.id)?);
                    }
                    Ok(files)
                })
            })
            .await?;
        self.wake.notify_waiters();
        Ok(files)
    }

    /// Deletes files (also while they are processing: their jobs are cancelled), their
    /// chunks, index entries and stored objects. Returns the ids deleted.
    pub async fn delete_files(
        &self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        ids: &[Uuid],
    ) -> ApiResult<Vec<Uuid>> {
        let (kbs, ids) = (kb_ids.to_vec(), ids.to_vec());
        let deleted = self
            .store
            .write(move |db| {
                db.transaction(|db| {
                    let deleted = db.delete_files(organization_id, &kbs, &ids)?;
                    for file in &deleted {
                        db.cancel_jobs(file.id)?;
                    }
                    Ok(deleted)
                })
            })
            .await?;
        let file_ids: Vec<Uuid> = deleted.iter().map(|f| f.id).collect();
        let ids = file_ids.clone();
        self.index(move |index| {
            for id in ids {
                index.delete_file(organization_id, id)?;
            }
            index.commit()
        })
        .await?;
        for file in deleted {
            self.forget_object(&file.storage_key).await;
        }
        Ok(file_ids)
    }

    /// Deletes a knowledge base with everything in it.
    pub async fn delete_kb(&self, organization_id: Uuid, kb_id: Uuid) -> ApiResult<()> {
        let keys = self
            .store
            .write(move |db| {
                db.transaction(|db| {
                    let files = db.list_files(
                        organization_id,
                        &[kb_id],
                        crate::api::knowledge_bases::everything(),
                    )?;
                    for file in &files.items {
                        db.cancel_jobs(file.id)?;
                    }
                    db.cancel_jobs(kb_id)?;
                    db.delete_kb(organization_id, kb_id)
                })
            })
            .await?;
        self.index(move |index| {
            index.delete_knowledge_base(organization_id, kb_id)?;
            index.commit()
        })
        .await?;
        for key in keys {
            self.forget_object(&key).await;
        }
        Ok(())
    }

    /// Removing a stored object is best effort: the database no longer refers to it.
    async fn forget_object(&self, key: &str) {
        if let Err(err) = self.blobs.delete(key).await {
            tracing::warn!(%err, key, "could not delete a stored object");
        }
    }

    /// Replaces a file's labels and/or metadata; the index learns the new labels.
    pub async fn set_file_metadata(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        labels: Option<Vec<Uuid>>,
        metadata: Option<serde_json::Value>,
    ) -> ApiResult<KbFile> {
        let relabel = labels.is_some();
        let file = self
            .store
            .write(move |db| {
                db.update_file_metadata(
                    organization_id,
                    file_id,
                    labels.as_deref(),
                    metadata.as_ref(),
                )
            })
            .await?;
        if relabel {
            let ids: Vec<Uuid> = file.labels.iter().map(|l| l.id).collect();
            let chunks = self.records_of_source(organization_id, file_id).await?;
            self.index(move |index| {
                index.set_labels(organization_id, file_id, &ids, &chunks)?;
                index.commit()
            })
            .await?;
        }
        Ok(file)
    }

    /// Deletes a label; files and FAQs that carried it are relabelled in the index.
    pub async fn delete_label(
        &self,
        organization_id: Uuid,
        kb_id: Uuid,
        label_id: Uuid,
    ) -> ApiResult<()> {
        let relabel = self
            .store
            .write(move |db| {
                db.transaction(|db| {
                    let holders = db.holders_of_label(label_id)?;
                    db.delete_label(organization_id, kb_id, label_id)?;
                    let mut relabel = Vec::with_capacity(holders.len());
                    for holder in holders {
                        relabel.push((holder, db.label_ids_of(holder)?));
                    }
                    Ok(relabel)
                })
            })
            .await?;
        for (holder, labels) in relabel {
            let chunks = self.records_of_source(organization_id, holder).await?;
            self.index(move |index| index.set_labels(organization_id, holder, &labels, &chunks))
                .await?;
        }
        self.index(|index| index.commit()).await
    }

    /// The index records of a file's chunks, or of an FAQ entry, whichever `source` is, as
    /// the database holds them (for `set_labels`, which ignores their own labels and vectors).
    async fn records_of_source(
        &self,
        organization_id: Uuid,
        source: Uuid,
    ) -> ApiResult<Vec<ChunkRecord>> {
        let (chunks, faqs) = self
            .store
            .read(move |db| {
                let chunks = db.chunks_of_file(organization_id, source)?;
                let faqs = match chunks.is_empty() {
                    true => db.faqs_by_ids(organization_id, &[source])?,
                    false => Vec::new(),
                };
                Ok((chunks, faqs))
            })
            .await?;
        let chunks = chunks.iter().map(|c| chunk_record(c, Vec::new()));
        Ok(chunks.chain(faqs.iter().map(|faq| faq_record(faq, None))).collect())
    }

    // FAQs.

    /// Stores an FAQ and (re)indexes it, embedding it when its knowledge base has a model.
    pub async fn save_faq(&self, faq: Faq, creating: bool) -> ApiResult<Faq> {
        let saved = self
            .store
            .write(move |db| if creating { db.insert_faq(&faq) } else { db.update_faq(&faq) })
            .await?;
        let (org, kb_id) = (saved.organization_id, saved.knowledge_base_id);
        let kb = self.store.read(move |db| db.get_kb(org, kb_id)).await?;
        let mut record = faq_record(&saved, None);
        if let Some(embedder) = self.models.embedder_for(&kb) {
            let kind = openmai_models::EmbedKind::Document;
            record.embedding = Some(embed_one(embedder.as_ref(), &record.text, kind).await?);
        }
        self.index(move |index| {
            index.upsert(&[record])?;
            index.commit()
        })
        .await?;
        Ok(saved)
    }

    pub async fn delete_faqs(
        &self,
        organization_id: Uuid,
        kb_id: Uuid,
        ids: &[Uuid],
    ) -> ApiResult<Vec<Uuid>> {
        let ids = ids.to_vec();
        let deleted =
            self.store.write(move |db| db.delete_faqs(organization_id, kb_id, &ids)).await?;
        let gone = deleted.clone();
        self.index(move |index| {
            index.delete(&gone)?;
            index.commit()
        })
        .await?;
        Ok(deleted)
    }

    // Chunks and contents.

    /// Changes a chunk's text and/or metadata; new text is re-embedded and re-indexed.
    pub async fn edit_chunk(
        &self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        id: Uuid,
        content: Option<String>,
        metadata: Option<serde_json::Value>,
    ) -> ApiResult<Chunk> {
        let kbs = kb_ids.to_vec();
        let chunk = self.store.read(move |db| db.get_chunk(organization_id, &kbs, id)).await?;
        let kb_id = chunk.knowledge_base_id;
        let kb = self.store.read(move |db| db.get_kb(organization_id, kb_id)).await?;
        let embedding = match (&content, self.models.embedder_for(&kb)) {
            (Some(text), Some(embedder)) => {
                Some(embed_one(embedder.as_ref(), text, openmai_models::EmbedKind::Document).await?)
            }
            _ => None,
        };
        let (text, vector) = (content.clone(), embedding.clone());
        let file_id = chunk.file_id;
        let (updated, labels) = self
            .store
            .write(move |db| {
                db.update_chunk(
                    organization_id,
                    id,
                    text.as_deref(),
                    metadata.as_ref(),
                    vector.as_deref(),
                )?;
                let chunk = db
                    .chunks_by_ids(organization_id, &[id])?
                    .pop()
                    .ok_or(openmai_store::StoreError::NotFound)?;
                Ok((chunk, db.label_ids_of_file(file_id)?))
            })
            .await?;
        if content.is_some() {
            let record = chunk_record(&updated, labels);
            self.index(move |index| {
                index.upsert(&[record])?;
                index.commit()
            })
            .await?;
        }
        Ok(updated)
    }

    pub async fn delete_chunk(
        &self,
        organization_id: Uuid,
        kb_ids: &[Uuid],
        id: Uuid,
    ) -> ApiResult<()> {
        let kbs = kb_ids.to_vec();
        self.store
            .write(move |db| {
                db.get_chunk(organization_id, &kbs, id)?;
                db.delete_chunk(organization_id, id)
            })
            .await?;
        self.index(move |index| {
            index.delete(&[id])?;
            index.commit()
        })
        .await
    }

    /// Replaces a file's edited text (or clears it, back to the parsed text) and re-chunks,
    /// re-embeds and re-indexes the file from it.
    pub async fn edit_content(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        modified: Option<String>,
    ) -> ApiResult<FileContent> {
        let (file, kb, content) = self
            .store
            .write(move |db| {
                let content =
                    db.set_modified_content(organization_id, file_id, modified.as_deref())?;
                let file = db.get_file(organization_id, file_id)?;
                let kb = db.get_kb(organization_id, file.knowledge_base_id)?;
                Ok((file, kb, content))
            })
            .await?;
        let text = content.modified_content.clone().unwrap_or_else(|| content.content.clone());
        let options = parse::options(&kb, self.settings.max_upload_bytes);
        let pieces =
            tokio::task::spawn_blocking(move || openmai_ingest::chunk_text(&text, &options))
                .await
                .map_err(ApiError::internal)?;
        let mut chunks: Vec<NewChunk> = pieces
            .into_iter()
            .map(|c| NewChunk {
                ordinal: i64::from(c.ordinal),
                content: c.text,
                // Only a parsed file's text is stored without its chunks' copy; an edited
                // text is kept whole.
                source_start: None,
                page_number: c.page_number.map(i64::from),
                heading: c.heading,
                embedding: None,
            })
            .collect();
        if let Some(embedder) = self.models.embedder_for(&kb) {
            let texts: Vec<String> = chunks.iter().map(|c| c.content.clone()).collect();
            let vectors = embedder
                .embed(&texts, openmai_models::EmbedKind::Document)
                .await
                .map_err(ApiError::from)?;
            for (chunk, vector) in chunks.iter_mut().zip(vectors) {
                chunk.embedding = Some(vector);
            }
        }
        let stored = self
            .store
            .write(move |db| {
                db.transaction(|db| {
                    Ok((db.replace_chunks(&file, &chunks)?, db.label_ids_of_file(file.id)?))
                })
            })
            .await?;
        self.reindex_file(organization_id, file_id, stored.0, stored.1).await?;
        Ok(content)
    }

    /// Replaces a file's entries in the index with `chunks`, and commits.
    pub async fn reindex_file(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        chunks: Vec<Chunk>,
        labels: Vec<Uuid>,
    ) -> ApiResult<()> {
        self.stage_file(organization_id, file_id, chunks, labels).await?;
        self.index(|index| index.commit()).await
    }

    /// Replaces a file's entries in the index writer with `chunks`, uncommitted: the file is
    /// searchable after the next commit, whoever makes it.
    pub async fn stage_file(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        chunks: Vec<Chunk>,
        labels: Vec<Uuid>,
    ) -> ApiResult<()> {
        let records: Vec<ChunkRecord> =
            chunks.iter().map(|c| chunk_record(c, labels.clone())).collect();
        self.index(move |index| index.replace_file(organization_id, file_id, &records)).await
    }

    /// Queues re-embedding every chunk and FAQ of a knowledge base (its embedding model
    /// changed).
    pub async fn reembed_kb(&self, organization_id: Uuid, kb_id: Uuid) -> ApiResult<()> {
        self.store
            .write(move |db| {
                db.transaction(|db| {
                    db.cancel_jobs(kb_id)?;
                    db.enqueue_job(&NewJob {
                        kind: REEMBED_JOB.into(),
                        organization_id: Some(organization_id),
                        subject_id: Some(kb_id),
                        payload: serde_json::json!({ "knowledgeBase": kb_id }),
                        max_attempts: MAX_ATTEMPTS,
                    })
                })
            })
            .await?;
        self.wake.notify_waiters();
        Ok(())
    }

    /// A directory for a job's temporary files.
    pub fn temp_path(&self, name: &str) -> PathBuf {
        self.settings.temp_dir.join(name)
    }

    pub fn temp_dir(&self) -> &Path {
        &self.settings.temp_dir
    }
}

fn ingest_job(organization_id: Uuid, file_id: Uuid) -> NewJob {
    NewJob {
        kind: INGEST_JOB.into(),
        organization_id: Some(organization_id),
        subject_id: Some(file_id),
        payload: serde_json::json!({ "file": file_id }),
        max_attempts: MAX_ATTEMPTS,
    }
}

/// What the index holds for an FAQ: its question and answer.
pub fn faq_text(faq: &Faq) -> String {
    format!("{}\n{}", faq.question, faq.answer)
}

/// An FAQ entry as the search index holds it.
pub fn faq_record(faq: &Faq, embedding: Option<Vec<f32>>) -> ChunkRecord {
    ChunkRecord {
        id: faq.id,
        organization_id: faq.organization_id,
        knowledge_base_id: faq.knowledge_base_id,
        file_id: None,
        faq_id: Some(faq.id),
        label_ids: faq.labels.iter().map(|l| l.id).collect(),
        text: faq_text(faq),
        embedding,
    }
}

pub fn chunk_record(chunk: &Chunk, label_ids: Vec<Uuid>) -> ChunkRecord {
    ChunkRecord {
        id: chunk.id,
        organization_id: chunk.organization_id,
        knowledge_base_id: chunk.knowledge_base_id,
        file_id: Some(chunk.file_id),
        faq_id: None,
        label_ids,
        text: match &chunk.heading {
            // Headings carry meaning the chunk text may not repeat ("退票規定").
            Some(heading) => [heading.as_str(), "\n", &chunk.content].concat(),
            None => chunk.content.clone(),
        },
        embedding: chunk.embedding.clone(),
    }
}

async fn embed_one(
    embedder: &dyn openmai_models::Embedder,
    text: &str,
    kind: openmai_models::EmbedKind,
) -> ApiResult<Vec<f32>> {
    embedder
        .embed(&[text.to_owned()], kind)
        .await
        .map_err(ApiError::from)?
        .pop()
        .ok_or_else(|| ApiError::internal("the embedding provider returned no vector"))
}

/// A random secret kept in the store, created on first use and shared by every replica.
pub async fn store_secret(store: &Store, name: &'static str) -> anyhow::Result<String> {
    let candidate = crate::auth::keys::generate() + &crate::auth::keys::generate();
    Ok(store.write(move |db| db.insert_setting_if_absent(name, &candidate)).await?)
}

/// `now`, for jobs.
pub fn now() -> Timestamp {
    Timestamp::now()
}
