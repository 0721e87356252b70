//! Ingestion workers. Each claims a job from the durable queue, renews its lease while it
//! works, and ends the job one way or another, so nothing stays "processing": a parse failure
//! fails the file with its reason at once; a provider outage or a storage hiccup retries with
//! back-off and fails the file after [`MAX_ATTEMPTS`]; a crash leaves a lease that runs out,
//! and another worker (or this one after a restart) takes the job over.

use openmai_store::models::{FileStatus, Job, NewChunk};
use openmai_types::Timestamp;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::jobs;

use crate::knowledge::parse::{self, Outcome};
use crate::knowledge::{INGEST_JOB, Knowledge, MAX_ATTEMPTS, REEMBED_JOB, faq_record, faq_text};

/// The job kinds ingestion workers run.
pub const KINDS: &[&str] = &[INGEST_JOB, REEMBED_JOB];

/// Starts `count` workers; they stop when `shutdown` is cancelled.
pub fn spawn(
    knowledge: &Knowledge,
    count: usize,
    shutdown: CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = jobs::Queue {
        store: knowledge.store.clone(),
        kinds: KINDS,
        wake: knowledge.wake.clone(),
        lease: knowledge.settings.lease,
    };
    let knowledge = knowledge.clone();
    let pool = queue.clone();
    jobs::spawn(&pool, "ingest", count, shutdown, move |job, worker| {
        let (knowledge, queue) = (knowledge.clone(), queue.clone());
        async move { handle(&knowledge, &queue, &worker, job).await }
    })
}

/// Where an ingestion job stands when its worker lets go of it.
enum Staged {
    Ended(Ending),
    /// The file's chunks are stored and in the index writer; a commit remains.
    Indexed {
        organization_id: Uuid,
        file_id: Uuid,
        /// What the commit must cover (see [`crate::knowledge::commit`]).
        ticket: u64,
    },
}

/// How a job ended.
enum Ending {
    Done,
    /// Try again later (a transient failure).
    Retry(String),
    /// Give up: the file fails with this reason.
    Fail(String),
}

async fn handle(knowledge: &Knowledge, queue: &jobs::Queue, worker: &str, job: Job) {
    let ending = if job.attempts > job.max_attempts {
        let last = job
            .last_error
            .clone()
            .unwrap_or_else(|| "the worker stopped while processing it".into());
        Ending::Fail(format!("Gave up after {} attempts. Last problem: {last}", job.max_attempts))
    } else {
        match job.kind.as_str() {
            INGEST_JOB => match ingest_counted(knowledge, &job).await {
                Staged::Ended(ending) => ending,
                Staged::Indexed { organization_id, file_id, ticket } => {
                    // The commit that makes the file searchable, and the job's end, go on
                    // without this worker, which takes the next file meanwhile: parsing one
                    // file then overlaps the analysis of the last, and a commit covers every
                    // file staged before it (a group commit, see `commit`). The lease is
                    // held until then, so no other worker takes the job over.
                    let keeper = jobs::keep_lease(queue, worker, job.id, Default::default());
                    let (knowledge, worker) = (knowledge.clone(), worker.to_owned());
                    tokio::spawn(async move {
                        let ending =
                            commit_staged(&knowledge, organization_id, file_id, ticket).await;
                        if let Err(err) = finish(&knowledge, &worker, &job, ending).await {
                            tracing::warn!(%err, job = %job.id, "could not record a job's end");
                        }
                        keeper.abort();
                    });
                    return;
                }
            },
            REEMBED_JOB => reembed(knowledge, &job).await,
            other => Ending::Fail(format!("Unknown job kind {other:?}.")),
        }
    };
    if let Err(err) = finish(knowledge, worker, &job, ending).await {
        tracing::warn!(%err, job = %job.id, "could not record a job's end");
    }
}

async fn finish(
    knowledge: &Knowledge,
    worker: &str,
    job: &Job,
    ending: Ending,
) -> anyhow::Result<()> {
    let (id, name) = (job.id, worker.to_owned());
    let file = (job.kind == INGEST_JOB).then_some(job.subject_id).flatten();
    match ending {
        Ending::Done => {
            knowledge
                .store
                .write(move |db| {
                    db.transaction(|db| {
                        // Only now, with its chunks indexed, is the file searchable.
                        if let Some(file) = file {
                            db.set_file_status(file, FileStatus::Done, None)?;
                        }
                        db.complete_job(id, &name)
                    })
                })
                .await?;
            if let Some(file) = file {
                let _ = knowledge.settled.send(file);
            }
        }
        Ending::Retry(reason) if job.attempts < MAX_ATTEMPTS.min(job.max_attempts) => {
            let delay = jobs::backoff(knowledge.settings.retry_delay, job.attempts);
            tracing::info!(job = %id, %reason, ?delay, "retrying a job");
            knowledge
                .store
                .write(move |db| {
                    db.transaction(|db| {
                        if let Some(file) = file {
                            // Still processing; the reason shows what it is waiting out.
                            db.set_file_status(
                                file,
                                FileStatus::Processing,
                                Some(&format!("Will retry: {reason}")),
                            )?;
                        }
                        db.retry_job(
                            id,
                            &name,
                            Timestamp::now()
                                .plus_millis(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
                            &reason,
                        )
                    })
                })
                .await?;
        }
        Ending::Retry(reason) | Ending::Fail(reason) => {
            tracing::info!(job = %id, %reason, "a job failed");
            knowledge
                .store
                .write(move |db| {
                    db.transaction(|db| {
                        if let Some(file) = file {
                            db.set_file_status(file, FileStatus::Failed, Some(&reason))?;
                        }
                        db.fail_job(id, &name, &reason)
                    })
                })
                .await?;
            if let Some(file) = file {
                let _ = knowledge.settled.send(file);
            }
        }
    }
    Ok(())
}

/// Deletes a temporary file when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn payload_id(job: &Job, key: &str) -> Option<Uuid> {
    job.payload.get(key).and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok())
}

/// [`ingest`], counted as in flight meanwhile: a commit waiting to group files waits for it
/// only while it is (see [`crate::knowledge::commit`]).
async fn ingest_counted(knowledge: &Knowledge, job: &Job) -> Staged {
    let _ingesting = knowledge.group_commit.ingesting();
    ingest(knowledge, job).await
}

/// One file: download, parse (isolated), embed, store, and stage in the index.
async fn ingest(knowledge: &Knowledge, job: &Job) -> Staged {
    let (Some(org), Some(file_id)) = (job.organization_id, payload_id(job, "file")) else {
        return Staged::Ended(Ending::Fail("The job names no file.".into()));
    };
    let file = match knowledge.store.read(move |db| db.get_file(org, file_id)).await {
        Ok(file) => file,
        Err(openmai_store::StoreError::NotFound) => return Staged::Ended(Ending::Done),
        Err(err) => {
            return Staged::Ended(Ending::Retry(format!("The database could not be read: {err}")));
        }
    };
    let kb_id = file.knowledge_base_id;
    let kb = match knowledge.store.read(move |db| db.get_kb(org, kb_id)).await {
        Ok(kb) => kb,
        Err(openmai_store::StoreError::NotFound) => return Staged::Ended(Ending::Done),
        Err(err) => {
            return Staged::Ended(Ending::Retry(format!("The database could not be read: {err}")));
        }
    };
    if let Err(err) = knowledge
        .store
        .write(move |db| db.set_file_status(file_id, FileStatus::Processing, None))
        .await
    {
        return Staged::Ended(Ending::Retry(format!("The database could not be written: {err}")));
    }

    let temp = TempFile(knowledge.temp_path(&format!("ingest-{}", job.id)));
    let max = knowledge.settings.max_upload_bytes;
    match knowledge.blobs.get_to_file(&file.storage_key, &temp.0, max).await {
        Ok(_) => {}
        Err(openmai_blobs::BlobError::NotFound { .. }) => {
            return Staged::Ended(Ending::Fail(
                "The uploaded file is missing from storage; upload it again.".into(),
            ));
        }
        Err(openmai_blobs::BlobError::TooLarge { max_bytes, .. }) => {
            return Staged::Ended(Ending::Fail(format!(
                "The file is larger than the {} MB limit.",
                max_bytes / (1024 * 1024)
            )));
        }
        Err(err) => {
            return Staged::Ended(Ending::Retry(format!(
                "The stored file could not be read: {err}"
            )));
        }
    }

    let options = parse::options(&kb, max);
    let parsed = match knowledge.parsers.parse(&temp.0, &file.filename, &options).await {
        Ok(Outcome::Parsed(parsed)) => parsed,
        Ok(Outcome::Refused { message, .. }) => return Staged::Ended(Ending::Fail(message)),
        Err(failure) => return Staged::Ended(Ending::Fail(failure.to_string())),
    };
    drop(temp);

    let mut starts = parsed.chunk_starts.into_iter();
    let parsed = parsed.file;
    let mut chunks: Vec<NewChunk> = parsed
        .chunks
        .into_iter()
        .map(|c| NewChunk {
            ordinal: i64::from(c.ordinal),
            content: c.text,
            source_start: starts.next().flatten(),
            page_number: c.page_number.map(i64::from),
            heading: c.heading,
            embedding: None,
        })
        .collect();
    if let Some(embedder) = knowledge.models.embedder_for(&kb) {
        let texts: Vec<String> = chunks.iter().map(|c| c.content.clone()).collect();
        match embedder.embed(&texts, openmai_models::EmbedKind::Document).await {
            Ok(vectors) => {
                for (chunk, vector) in chunks.iter_mut().zip(vectors) {
                    chunk.embedding = Some(vector);
                }
            }
            Err(err) if err.is_transient() => return Staged::Ended(Ending::Retry(err.to_string())),
            Err(err) => return Staged::Ended(Ending::Fail(err.to_string())),
        }
    }

    let pages = parsed.pages.map(i64::from);
    let (text, encoding) = (parsed.text, parsed.encoding);
    let stored = knowledge
        .store
        .write(move |db| {
            db.transaction(|db| {
                let Some(chunks) =
                    db.store_parsed_file(file_id, &text, encoding.as_deref(), pages, &chunks)?
                else {
                    return Ok(None);
                };
                Ok(Some((chunks, db.label_ids_of_file(file_id)?)))
            })
        })
        .await;
    let (chunks, labels) = match stored {
        Ok(Some(stored)) => stored,
        Ok(None) => return Staged::Ended(Ending::Done), // deleted meanwhile
        Err(err) => {
            return Staged::Ended(Ending::Retry(format!(
                "The database could not be written: {err}"
            )));
        }
    };
    if let Err(err) = knowledge.stage_file(org, file_id, chunks, labels).await {
        return Staged::Ended(Ending::Retry(format!(
            "The search index could not be updated: {err}"
        )));
    }
    Staged::Indexed { organization_id: org, file_id, ticket: knowledge.group_commit.staged() }
}

/// Waits for a commit that covers the file's staging (making it, unless another task's
/// covers it) and removes the file's entries again if it was deleted meanwhile.
async fn commit_staged(knowledge: &Knowledge, org: Uuid, file_id: Uuid, ticket: u64) -> Ending {
    let committed = knowledge
        .group_commit
        .commit_covering(ticket, || knowledge.index(|index| index.commit()))
        .await;
    if let Err(err) = committed {
        return Ending::Retry(format!("The search index could not be updated: {err}"));
    }
    // A delete that raced the indexing above leaves no stray entries.
    if let Ok(Err(openmai_store::StoreError::NotFound)) =
        knowledge.store.read(move |db| Ok(db.get_file(org, file_id))).await.map(|r| r.map(drop))
    {
        let _ = knowledge
            .index(move |index| {
                index.delete_file(org, file_id)?;
                index.commit()
            })
            .await;
    }
    Ending::Done
}

/// Re-embeds a knowledge base's chunks and FAQs with its (new) embedding model, or drops
/// their vectors when it has none.
async fn reembed(knowledge: &Knowledge, job: &Job) -> Ending {
    let (Some(org), Some(kb_id)) = (job.organization_id, payload_id(job, "knowledgeBase")) else {
        return Ending::Fail("The job names no knowledge base.".into());
    };
    let kb = match knowledge.store.read(move |db| db.get_kb(org, kb_id)).await {
        Ok(kb) => kb,
        Err(openmai_store::StoreError::NotFound) => return Ending::Done,
        Err(err) => return Ending::Retry(err.to_string()),
    };
    let embedder = knowledge.models.embedder_for(&kb);
    let files = match knowledge
        .store
        .read(move |db| db.files_with_status(org, kb_id, FileStatus::Done))
        .await
    {
        Ok(files) => files,
        Err(err) => return Ending::Retry(err.to_string()),
    };
    for file in files {
        let file_id = file.id;
        let chunks = match knowledge.store.read(move |db| db.chunks_of_file(org, file_id)).await {
            Ok(chunks) => chunks,
            Err(err) => return Ending::Retry(err.to_string()),
        };
        let vectors: Vec<Option<Vec<f32>>> = match &embedder {
            Some(embedder) => {
                let texts: Vec<String> = chunks.iter().map(|c| c.content.clone()).collect();
                match embedder.embed(&texts, openmai_models::EmbedKind::Document).await {
                    Ok(vectors) => vectors.into_iter().map(Some).collect(),
                    Err(err) if err.is_transient() => return Ending::Retry(err.to_string()),
                    Err(err) => return Ending::Fail(err.to_string()),
                }
            }
            None => vec![None; chunks.len()],
        };
        let updates: Vec<(Uuid, Option<Vec<f32>>)> =
            chunks.iter().map(|c| c.id).zip(vectors).collect();
        let stored = knowledge
            .store
            .write(move |db| {
                db.set_chunk_embeddings(&updates)?;
                Ok((db.chunks_of_file(org, file_id)?, db.label_ids_of_file(file_id)?))
            })
            .await;
        match stored {
            Ok((chunks, labels)) => {
                if let Err(err) = knowledge.reindex_file(org, file_id, chunks, labels).await {
                    return Ending::Retry(err.to_string());
                }
            }
            Err(err) => return Ending::Retry(err.to_string()),
        }
    }
    let faqs = match knowledge.store.read(move |db| db.all_faqs(org, kb_id)).await {
        Ok(faqs) => faqs,
        Err(err) => return Ending::Retry(err.to_string()),
    };
    let texts: Vec<String> = faqs.iter().map(faq_text).collect();
    let vectors: Vec<Option<Vec<f32>>> = match (&embedder, texts.is_empty()) {
        (Some(embedder), false) => {
            match embedder.embed(&texts, openmai_models::EmbedKind::Document).await {
                Ok(vectors) => vectors.into_iter().map(Some).collect(),
                Err(err) if err.is_transient() => return Ending::Retry(err.to_string()),
                Err(err) => return Ending::Fail(err.to_string()),
            }
        }
        _ => vec![None; faqs.len()],
    };
    let records: Vec<openmai_index::ChunkRecord> =
        faqs.iter().zip(vectors).map(|(faq, embedding)| faq_record(faq, embedding)).collect();
    let index = knowledge.index.clone();
    let indexed =
        tokio::task::spawn_blocking(move || index.upsert(&records).and_then(|()| index.commit()))
            .await;
    match indexed {
        Ok(Ok(())) => Ending::Done,
        Ok(Err(err)) => Ending::Retry(err.to_string()),
        Err(err) => Ending::Retry(err.to_string()),
    }
}
