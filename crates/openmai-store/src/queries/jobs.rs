use openmai_types::Timestamp;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::models::{Job, JobStatus, NewJob, new_id};
use crate::params;
use crate::sql::{Db, Dialect, Param, Row, placeholders};

const COLUMNS: &str = "id, kind, organization_id, subject_id, payload, status, attempts, \
    max_attempts, run_after, locked_by, locked_until, last_error, created_at, updated_at";

fn job_from_row(mut row: Row) -> Result<Job> {
    let status = row.text(5)?;
    Ok(Job {
        id: row.uuid(0)?,
        kind: row.text(1)?,
        organization_id: row.opt_uuid(2)?,
        subject_id: row.opt_uuid(3)?,
        payload: row.opt_json(4)?.unwrap_or(serde_json::Value::Null),
        status: JobStatus::parse(&status).ok_or_else(|| StoreError::Decode {
            column: 5,
            message: format!("unknown job status {status:?}"),
        })?,
        attempts: row.i64(6)?,
        max_attempts: row.i64(7)?,
        run_after: row.timestamp(8)?,
        locked_by: row.opt_text(9)?,
        locked_until: row.opt_timestamp(10)?,
        last_error: row.opt_text(11)?,
        created_at: row.timestamp(12)?,
        updated_at: row.timestamp(13)?,
    })
}

impl Db<'_> {
    /// Queues a job to run now.
    pub fn enqueue_job(&mut self, new: &NewJob) -> Result<Job> {
        let id = new_id();
        let now = Timestamp::now();
        self.execute(
            "INSERT INTO jobs (id, kind, organization_id, subject_id, payload, status, attempts, \
             max_attempts, run_after, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10)",
            params![
                id,
                &new.kind,
                new.organization_id,
                new.subject_id,
                &new.payload,
                JobStatus::Queued.as_str(),
                new.max_attempts,
                now,
                now,
                now
            ],
        )?;
        self.get_job(id)
    }

    pub fn get_job(&mut self, id: Uuid) -> Result<Job> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        job_from_row(self.query_one(&sql, params![id])?)
    }

    /// Takes the next job of one of `kinds` that is due: a queued one whose time has come, or
    /// a running one whose worker stopped renewing its lease (it crashed). The claim counts an
    /// attempt. On PostgreSQL, `SKIP LOCKED` lets any number of workers claim concurrently.
    pub fn claim_job(
        &mut self,
        worker: &str,
        now: Timestamp,
        lease_ms: i64,
        kinds: &[&str],
    ) -> Result<Option<Job>> {
        let skip_locked = match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE ((status = 'queued' AND run_after <= $3) \
             OR (status = 'running' AND locked_until < $3)) AND kind IN ({}) \
             ORDER BY run_after, created_at, id LIMIT 1{skip_locked}) \
             RETURNING {COLUMNS}",
            placeholders(4, kinds.len())
        );
        let until = now.plus_millis(lease_ms);
        let mut values = vec![Param::from(worker), Param::from(until), Param::from(now)];
        values.extend(kinds.iter().map(|kind| Param::Text(kind)));
        self.query_opt(&sql, &values)?.map(job_from_row).transpose()
    }

    /// Extends the lease of a job the worker still holds; false when it no longer does (the
    /// job was cancelled, or another worker took it over).
    pub fn renew_job_lease(&mut self, id: Uuid, worker: &str, until: Timestamp) -> Result<bool> {
        let changed = self.execute(
            "UPDATE jobs SET locked_until = $3, updated_at = $4 \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
            params![id, worker, until, Timestamp::now()],
        )?;
        Ok(changed > 0)
    }

    /// Marks a job the worker holds as done.
    pub fn complete_job(&mut self, id: Uuid, worker: &str) -> Result<()> {
        self.execute(
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = $3 \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
            params![id, worker, Timestamp::now()],
        )?;
        Ok(())
    }

    /// Puts a job back in the queue to run again at `run_after`.
    pub fn retry_job(
        &mut self,
        id: Uuid,
        worker: &str,
        run_after: Timestamp,
        error: &str,
    ) -> Result<()> {
        self.execute(
            "UPDATE jobs SET status = 'queued', run_after = $3, last_error = $4, locked_by = NULL, \
             locked_until = NULL, updated_at = $5 \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
            params![id, worker, run_after, error, Timestamp::now()],
        )?;
        Ok(())
    }

    /// Gives a job up for good.
    pub fn fail_job(&mut self, id: Uuid, worker: &str, error: &str) -> Result<()> {
        self.execute(
            "UPDATE jobs SET status = 'failed', last_error = $3, locked_by = NULL, \
             locked_until = NULL, updated_at = $4 \
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
            params![id, worker, error, Timestamp::now()],
        )?;
        Ok(())
    }

    /// Cancels every queued or running job about `subject_id` (say, a deleted file).
    pub fn cancel_jobs(&mut self, subject_id: Uuid) -> Result<u64> {
        self.execute(
            "UPDATE jobs SET status = 'cancelled', locked_by = NULL, locked_until = NULL, updated_at = $2 \
             WHERE subject_id = $1 AND status IN ('queued', 'running')",
            params![subject_id, Timestamp::now()],
        )
    }

    /// When the next job of one of `kinds` becomes due, if any (so idle workers can sleep
    /// until then).
    pub fn next_job_due(&mut self, kinds: &[&str]) -> Result<Option<Timestamp>> {
        let values: Vec<Param<'_>> = kinds.iter().map(|kind| Param::Text(kind)).collect();
        let row = self.query_one(
            &format!(
                "SELECT MIN(CASE WHEN status = 'queued' THEN run_after ELSE locked_until END) \
                 FROM jobs WHERE status IN ('queued', 'running') AND kind IN ({})",
                placeholders(1, kinds.len())
            ),
            &values,
        )?;
        let mut row = row;
        row.opt_timestamp(0)
    }

    /// Jobs about a subject, newest first.
    pub fn jobs_for(&mut self, subject_id: Uuid) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE subject_id = $1 ORDER BY created_at DESC, id DESC"
        );
        self.query(&sql, params![subject_id])?.into_iter().map(job_from_row).collect()
    }

    /// Puts every running job back in the queue. Only for SQLite at start-up: one process
    /// owns the file, so a job still "running" was left by a process that died.
    pub fn requeue_running_jobs(&mut self) -> Result<u64> {
        self.execute(
            "UPDATE jobs SET status = 'queued', run_after = $1, locked_by = NULL, locked_until = NULL, \
             updated_at = $1 WHERE status = 'running'",
            params![Timestamp::now()],
        )
    }

    /// How many jobs are queued or running.
    pub fn pending_jobs(&mut self) -> Result<u64> {
        self.count("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')", params![])
    }
}
