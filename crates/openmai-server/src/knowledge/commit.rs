//! Group commit for ingestion. Each ingested file must be committed to the search index
//! before it is `done`, but a commit per file is costly when files arrive back to back: each
//! writes (and fsyncs) new index segments, which tantivy then merges again. On a corpus of
//! 312 files, 8% of ingestion's CPU went to merging and syncing. So commits made for
//! ingestion are spaced at least `interval` apart: a file staged while the last commit is
//! recent waits for the next one, which covers every file staged until it starts. A file
//! that arrives alone is committed at once, and so is the last of a batch: the wait ends as
//! soon as no other file is being ingested, since nothing more would join the commit.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

/// See the module documentation.
#[derive(Debug)]
pub struct GroupCommit {
    /// Files staged in the index writer so far; each staging takes the next number.
    staged: AtomicU64,
    /// The highest staging number the last successful commit covered.
    covered: AtomicU64,
    /// Held by the task that commits next; remembers when the last commit ended.
    turn: Mutex<Option<Instant>>,
    interval: Duration,
    /// How many files are being ingested and not yet staged (see [`Self::ingesting`]).
    ingesting: watch::Sender<usize>,
}

/// A file being ingested, from its job's start until it is staged or ends; see
/// [`GroupCommit::ingesting`].
#[derive(Debug)]
pub struct Ingesting<'a>(&'a watch::Sender<usize>);

impl Drop for Ingesting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count -= 1);
    }
}

impl GroupCommit {
    pub fn new(interval: Duration) -> Self {
        GroupCommit {
            staged: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            turn: Mutex::new(None),
            interval,
            ingesting: watch::Sender::new(0),
        }
    }

    /// Marks a file as being ingested until the guard is dropped: while any is, a commit may
    /// wait for it to join (up to the interval); once none is, waiting commits go ahead.
    pub fn ingesting(&self) -> Ingesting<'_> {
        self.ingesting.send_modify(|count| *count += 1);
        Ingesting(&self.ingesting)
    }

    /// Records that a file's writes are in the index writer (call after staging them); the
    /// returned ticket is what [`Self::commit_covering`] waits for.
    pub fn staged(&self) -> u64 {
        self.staged.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once a commit that started after `ticket` was staged has succeeded, making
    /// that commit (with `commit`) unless another task's covers it. Fails when the commit it
    /// made failed; a later call tries again.
    pub async fn commit_covering<E, F, Fut>(&self, ticket: u64, commit: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        if self.covered.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Tokio's mutex is fair: waiters take turns in order, and most find their file
        // covered by the commit of the one before them.
        let mut last = self.turn.lock().await;
        if self.covered.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        if let Some(last) = *last {
            let mut ingesting = self.ingesting.subscribe();
            tokio::select! {
                () = tokio::time::sleep_until(last + self.interval) => {}
                // No other file on its way: waiting longer would group nothing more.
                _ = ingesting.wait_for(|count| *count == 0) => {}
            }
        }
        // Everything staged up to here is in the writer, so this commit covers it.
        let upto = self.staged.load(Ordering::SeqCst);
        let committed = commit().await;
        *last = Some(Instant::now());
        committed?;
        self.covered.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts commits.
    #[derive(Default)]
    struct Recorder {
        commits: AtomicUsize,
    }

    async fn commit(recorder: &Recorder) -> Result<(), ()> {
        recorder.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_file_is_committed_at_once() {
        let group = GroupCommit::new(Duration::from_secs(1));
        let recorder = Recorder::default();
        let started = Instant::now();
        let ticket = group.staged();
        group.commit_covering(ticket, || commit(&recorder)).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 1);

        // Covered already: no second commit.
        group.commit_covering(ticket, || commit(&recorder)).await.unwrap();
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 1);

        // Long after the last commit, the next file is committed at once too.
        tokio::time::advance(Duration::from_secs(5)).await;
        let started = Instant::now();
        let ticket = group.staged();
        group.commit_covering(ticket, || commit(&recorder)).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn files_staged_soon_after_a_commit_share_the_next_one() {
        let group = Arc::new(GroupCommit::new(Duration::from_secs(1)));
        let recorder = Arc::new(Recorder::default());
        let first = group.staged();
        group.commit_covering(first, || commit(&recorder)).await.unwrap();
        let started = Instant::now();
        // Another file is still on its way, so the next commit waits out the interval.
        let busy = group.ingesting();

        let waiters: Vec<_> = (0..10)
            .map(|_| {
                let ticket = group.staged();
                let (group, recorder) = (group.clone(), recorder.clone());
                tokio::spawn(async move {
                    group.commit_covering(ticket, || commit(&recorder)).await.unwrap();
                    started.elapsed()
                })
            })
            .collect();
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), Duration::from_secs(1));
        }
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 2, "ten files, one commit");
        drop(busy);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_ends_when_no_other_file_is_being_ingested() {
        let group = Arc::new(GroupCommit::new(Duration::from_secs(1)));
        let recorder = Arc::new(Recorder::default());
        let first = group.staged();
        group.commit_covering(first, || commit(&recorder)).await.unwrap();

        // Nothing else in flight: the next file is committed at once, interval or not.
        let started = Instant::now();
        let second = group.staged();
        group.commit_covering(second, || commit(&recorder)).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 2);

        // With one in flight the commit waits, until that file's ingestion ends.
        let busy = group.ingesting();
        let started = Instant::now();
        let third = group.staged();
        let waiter = {
            let (group, recorder) = (group.clone(), recorder.clone());
            tokio::spawn(async move {
                group.commit_covering(third, || commit(&recorder)).await.unwrap();
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 2, "still waiting");
        drop(busy);
        assert_eq!(waiter.await.unwrap(), Duration::from_millis(300));
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_commit_fails_its_caller_and_the_next_caller_tries_again() {
        let group = GroupCommit::new(Duration::ZERO);
        let ticket = group.staged();
        let failed = group.commit_covering(ticket, || async { Err::<(), _>("disk full") }).await;
        assert_eq!(failed, Err("disk full"));
        let recorder = Recorder::default();
        group.commit_covering(ticket, || commit(&recorder)).await.unwrap();
        assert_eq!(recorder.commits.load(Ordering::SeqCst), 1);
    }
}
