//! Workers over the durable job queue in the store. A worker claims a job of its kinds,
//! renews the job's lease while working on it, and stops working (writing nothing) when the job
//! is no longer its own: cancelled, say, because its file was deleted. What a job does, and how
//! its end is recorded, is the caller's `work`; ingestion and conversations (asynchronous
//! replies, webhook deliveries) each have their own pool of workers and kinds, so a long parse
//! never delays a reply.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openmai_store::Store;
use openmai_store::models::Job;
use openmai_types::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long an idle worker waits before looking at the queue again, when nothing wakes it.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// A pool's share of the queue.
#[derive(Clone)]
pub struct Queue {
    pub store: Store,
    /// The job kinds this pool runs.
    pub kinds: &'static [&'static str],
    /// Notified when a job of these kinds is queued, so idle workers look at once.
    pub wake: Arc<Notify>,
    /// How long a worker holds a job without renewing it before another may take it over.
    pub lease: Duration,
}

/// Starts `count` workers named `{prefix}-{process}-{n}`; they stop when `shutdown` is
/// cancelled. `work(job, worker)` runs each claimed job to its end, recording that end itself
/// (it is dropped, mid-way, when the job is taken away from this worker).
pub fn spawn<W, F>(
    queue: &Queue,
    prefix: &str,
    count: usize,
    shutdown: CancellationToken,
    work: W,
) -> Vec<tokio::task::JoinHandle<()>>
where
    W: Fn(Job, String) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let process = Uuid::new_v4().simple().to_string();
    (0..count)
        .map(|n| {
            let queue = queue.clone();
            let worker = format!("{prefix}-{}-{n}", &process[..12]);
            let shutdown = shutdown.clone();
            let work = work.clone();
            tokio::spawn(async move { run(queue, worker, shutdown, work).await })
        })
        .collect()
}

async fn run<W, F>(queue: Queue, worker: String, shutdown: CancellationToken, work: W)
where
    W: Fn(Job, String) -> F,
    F: Future<Output = ()>,
{
    let lease_ms = i64::try_from(queue.lease.as_millis()).unwrap_or(60_000);
    let kinds = queue.kinds;
    loop {
        // Registered before looking, so a job queued meanwhile still wakes us.
        let wake = queue.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let name = worker.clone();
        let claimed = queue
            .store
            .write(move |db| db.claim_job(&name, Timestamp::now(), lease_ms, kinds))
            .await;
        match claimed {
            Ok(Some(job)) => {
                let lost = Arc::new(Notify::new());
                let keeper = keep_lease(&queue, &worker, job.id, lost.clone());
                tokio::select! {
                    () = work(job, worker.clone()) => {}
                    // Cancelled or taken over: stop, writing nothing.
                    () = lost.notified() => {}
                    () = shutdown.cancelled() => {
                        keeper.abort();
                        return;
                    }
                }
                keeper.abort();
                continue;
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, "could not claim a job"),
        }
        let pause = match queue.store.read(move |db| db.next_job_due(kinds)).await {
            Ok(Some(due)) => Duration::from_millis(
                u64::try_from((due.millis() - Timestamp::now().millis()).max(50)).unwrap_or(50),
            )
            .min(IDLE_POLL),
            _ => IDLE_POLL,
        };
        tokio::select! {
            () = &mut wake => {}
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Renews the job's lease at a third of its length; tells `lost` when the job is no
/// longer ours. Abort the task to stop.
pub fn keep_lease(
    queue: &Queue,
    worker: &str,
    job: Uuid,
    lost: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    let store = queue.store.clone();
    let lease = queue.lease;
    let worker = worker.to_owned();
    tokio::spawn(async move {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(60_000);
        loop {
            tokio::time::sleep(lease / 3).await;
            let name = worker.clone();
            match store
                .write(move |db| {
                    db.renew_job_lease(job, &name, Timestamp::now().plus_millis(lease_ms))
                })
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    lost.notify_one();
                    return;
                }
                Err(err) => tracing::warn!(%err, "could not renew a job's lease"),
            }
        }
    })
}

/// `first`, twice that, four times … up to 5 minutes: the wait before a job's next attempt.
pub fn backoff(first: Duration, attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 7) - 1).unwrap_or(0);
    (first * 2_u32.pow(exponent)).min(Duration::from_secs(300))
}
