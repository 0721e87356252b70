//! The conversation workers: they write the replies to asynchronous messages
//! (`POST messages/`) and deliver replies to assistants' webhooks, from the durable queue, so a
//! restart loses neither. A reply whose model is briefly unavailable (a 429, a 5xx, a timeout)
//! is retried with back-off; a delivery is retried until the receiver answers 2xx or the
//! attempts run out. A reply is never written twice: a job that finds its reply already stored
//! (it crashed just after storing it) only finishes what followed.

use openmai_store::StoreError;
use openmai_store::models::{Job, Message, MessageStatus};
use openmai_types::{Code, Timestamp};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::api::messages::webhook_job;
use crate::chat::engine::{self, Turn};
use crate::chat::webhooks::{self, Delivery};
use crate::chat::{REPLY_JOB, WEBHOOK_JOB};
use crate::jobs;
use crate::state::AppState;

pub const KINDS: &[&str] = &[REPLY_JOB, WEBHOOK_JOB];

/// Starts `count` workers; they stop when `shutdown` is cancelled.
pub fn spawn(
    state: &AppState,
    count: usize,
    shutdown: CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let queue = jobs::Queue {
        store: state.store.clone(),
        kinds: KINDS,
        wake: state.chat.wake.clone(),
        lease: state.chat.settings.lease,
    };
    let state = state.clone();
    jobs::spawn(&queue, "reply", count, shutdown, move |job, worker| {
        let state = state.clone();
        async move {
            let outcome = match job.kind.as_str() {
                REPLY_JOB => reply(&state, &worker, &job).await,
                _ => deliver(&state, &worker, &job).await,
            };
            if let Err(err) = outcome {
                tracing::warn!(%err, job = %job.id, kind = %job.kind, "a conversation job went wrong");
                // A database hiccup: try again after the usual delay.
                let delay = jobs::backoff(state.chat.settings.retry_delay, job.attempts);
                let (id, reason) = (job.id, err.to_string());
                let _ = state
                    .store
                    .write(move |db| db.retry_job(id, &worker, later(delay), &reason))
                    .await;
            }
        }
    })
}

fn later(delay: std::time::Duration) -> Timestamp {
    Timestamp::now().plus_millis(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
}

fn message_of(job: &Job) -> Option<(Uuid, Uuid)> {
    let id = job.payload.get("message")?.as_str().and_then(|s| Uuid::parse_str(s).ok())?;
    Some((job.organization_id?, id))
}

/// Writes the reply to an asynchronous message, then queues its delivery.
async fn reply(state: &AppState, worker: &str, job: &Job) -> anyhow::Result<()> {
    let worker = worker.to_owned();
    let id = job.id;
    let Some((org, message)) = message_of(job) else {
        state.store.write(move |db| db.fail_job(id, &worker, "The job names no message.")).await?;
        return Ok(());
    };
    let question = match state.store.read(move |db| db.get_message(org, message)).await {
        Ok(question) => question,
        // Deleted meanwhile (its conversation or assistant went): nothing to answer.
        Err(StoreError::NotFound) => {
            state.store.write(move |db| db.complete_job(id, &worker)).await?;
            return Ok(());
        }
        Err(err) => return Err(err.into()),
    };
    if let Some(existing) = state.store.read(move |db| db.find_reply_to(org, message)).await? {
        return replied(state, &worker, job, existing).await;
    }
    let conversation = question.conversation_id;
    let chatbot = state
        .store
        .read(move |db| {
            let conversation = db.get_conversation(org, conversation)?;
            db.get_chatbot(org, conversation.chatbot_id)
        })
        .await?;
    let turn = Turn { chatbot, question };
    let stored = match engine::start(state, &turn).await {
        Ok(answer) => engine::run(state, &turn, answer, None, CancellationToken::new()).await?,
        Err(err) => {
            let passing = matches!(
                err.code(),
                Code::ProviderTimeout | Code::ProviderUnavailable | Code::ProviderRateLimited
            );
            if passing && job.attempts < job.max_attempts {
                let delay = jobs::backoff(state.chat.settings.retry_delay, job.attempts);
                let reason = err.to_string();
                tracing::info!(job = %id, %reason, ?delay, "retrying a reply");
                state
                    .store
                    .write(move |db| db.retry_job(id, &worker, later(delay), &reason))
                    .await?;
                return Ok(());
            }
            engine::record_failure(state, &turn, err.to_string()).await;
            let reason = err.to_string();
            state.store.write(move |db| db.fail_job(id, &worker, &reason)).await?;
            return Ok(());
        }
    };
    replied(state, &worker, job, stored).await
}

/// Ends a reply job whose reply is stored: queues the delivery of a complete reply to the
/// assistant's webhook, in the same transaction that completes the job.
async fn replied(state: &AppState, worker: &str, job: &Job, reply: Message) -> anyhow::Result<()> {
    let (id, worker) = (job.id, worker.to_owned());
    let org = reply.organization_id;
    let attempts = state.chat.settings.webhook_max_attempts;
    let conversation = reply.conversation_id;
    state
        .store
        .write(move |db| {
            db.transaction(|db| {
                let chatbot_id = db.get_conversation(org, conversation)?.chatbot_id;
                let chatbot = db.get_chatbot(org, chatbot_id)?;
                if chatbot.webhook_url.is_some() && reply.status == MessageStatus::Done {
                    db.enqueue_job(&webhook_job(org, reply.id, attempts))?;
                }
                db.complete_job(id, &worker)
            })
        })
        .await?;
    state.chat.wake.notify_waiters();
    Ok(())
}

/// Delivers a reply to its assistant's webhook once; retries later unless it was delivered,
/// refused for good, or out of attempts.
async fn deliver(state: &AppState, worker: &str, job: &Job) -> anyhow::Result<()> {
    let (id, worker) = (job.id, worker.to_owned());
    let Some((org, message)) = message_of(job) else {
        state.store.write(move |db| db.fail_job(id, &worker, "The job names no message.")).await?;
        return Ok(());
    };
    let found = state
        .store
        .read(move |db| {
            let message = db.get_message(org, message)?;
            let conversation = db.get_conversation(org, message.conversation_id)?;
            Ok((message, db.get_chatbot(org, conversation.chatbot_id)?))
        })
        .await;
    let (message, chatbot) = match found {
        Ok(found) => found,
        Err(StoreError::NotFound) => {
            state.store.write(move |db| db.complete_job(id, &worker)).await?;
            return Ok(());
        }
        Err(err) => return Err(err.into()),
    };
    // The URL is read when delivering: a webhook removed meanwhile is not called.
    let Some(url) = chatbot.webhook_url.clone() else {
        state.store.write(move |db| db.complete_job(id, &worker)).await?;
        return Ok(());
    };
    match webhooks::deliver(state, &chatbot, &url, message, job.attempts).await? {
        Delivery::Delivered => {
            state.store.write(move |db| db.complete_job(id, &worker)).await?;
        }
        Delivery::Failed(reason) if job.attempts < job.max_attempts => {
            let delay = jobs::backoff(state.chat.settings.webhook_retry_delay, job.attempts);
            tracing::info!(job = %id, %reason, ?delay, "retrying a webhook delivery");
            state.store.write(move |db| db.retry_job(id, &worker, later(delay), &reason)).await?;
        }
        Delivery::Failed(reason) | Delivery::Refused(reason) => {
            tracing::info!(job = %id, %reason, "a webhook delivery gave up");
            state.store.write(move |db| db.fail_job(id, &worker, &reason)).await?;
        }
    }
    Ok(())
}
