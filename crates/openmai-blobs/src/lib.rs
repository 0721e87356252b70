//! Where OpenMai's uploaded files live, and the browser-style presigned POST upload that puts
//! them there.
//!
//! Clients upload the MaiAgent way: `POST upload-presigned-url/` answers `{url, fields}`, the
//! client POSTs a multipart form (the six fields, then `file` last) to `url` without any
//! `Authorization`, and the storage answers 204. Two stores implement [`BlobStore`]:
//!
//! - [`LocalStore`] (the embedded default): objects under a directory. OpenMai itself is the
//!   storage endpoint; [`LocalStore::accept_upload`] verifies the signed policy exactly as S3
//!   does (signature, expiry, key, size) and streams the file to disk.
//! - [`S3Store`]: any S3-compatible storage (AWS, MinIO, moto, s3rver) through object_store;
//!   `url` points at the bucket and the policy is a real AWS SigV4 POST policy.
//!
//! The POST policy itself (no crate implements it) is in [`sign_post_policy`] and
//! [`verify_post`]. Keys are ASCII ([`object_key`], [`validate_key`]); real file names live in
//! the database.

mod key;
mod local;
mod policy;
mod s3;
#[cfg(feature = "testing")]
pub mod testing;

use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

pub use crate::key::{object_key, validate_key};
pub use crate::local::LocalStore;
pub use crate::policy::{
    ALGORITHM, Credentials, MAX_KEY_BYTES, S3_MAX_POST_BYTES, UploadError, VerifiedPolicy,
    sign_post_policy, verify_post,
};
pub use crate::s3::{S3Config, S3Store};

/// What `upload-presigned-url/` returns: the absolute URL to POST to and the form fields to
/// send before the file, in order (`key`, `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`,
/// `policy`, `x-amz-signature`; names verbatim). A list rather than a map so the order is
/// kept; the server serialises it as the JSON object `fields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostForm {
    pub url: String,
    pub fields: Vec<(String, String)>,
}

/// An object that a POST upload stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The key is not one we store (see [`validate_key`]).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// The object does not exist.
    #[error("object {key:?} not found")]
    NotFound { key: String },
    /// The object is bigger than the caller allowed.
    #[error("object {key:?} is larger than the allowed {max_bytes} bytes")]
    TooLarge { key: String, max_bytes: u64 },
    /// A bad argument or configuration (an unusable URL, a TTL out of range, …).
    #[error("{0}")]
    InvalidArgument(String),
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The S3-compatible storage failed.
    #[error("object storage: {0}")]
    Store(#[from] object_store::Error),
}

impl BlobError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// Where uploaded files live. Object-safe, so the server can hold an `Arc<dyn BlobStore>`
/// chosen by configuration.
///
/// Whole objects move between the store and local files: ingestion parses from a file on
/// disk, and no method ever holds an object in memory.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// A signed form that lets a client upload exactly `key` (at most `max_bytes`) until
    /// `now + ttl`. For [`LocalStore`] `url` is OpenMai's own storage endpoint; for
    /// [`S3Store`] it is the bucket.
    fn presign_post(
        &self,
        key: &str,
        max_bytes: u64,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<PostForm, BlobError>;

    /// Stores the file at `path` as `key` (replacing any existing object), streaming it.
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), BlobError>;

    /// Streams the object to `path` (created or replaced) and returns its size. Refuses with
    /// [`BlobError::TooLarge`] an object over `max_bytes` (leaving no file behind), and with
    /// [`BlobError::NotFound`] a missing one. The file is for reading only: the local store
    /// may hard-link it to the object.
    async fn get_to_file(&self, key: &str, path: &Path, max_bytes: u64) -> Result<u64, BlobError>;

    /// The object's size, or `None` when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError>;

    /// Deletes the object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// `now + ttl` without overflow panics.
pub(crate) fn expiry(now: OffsetDateTime, ttl: Duration) -> Result<OffsetDateTime, BlobError> {
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .filter(|at| at.year() <= 9999)
        .ok_or_else(|| BlobError::InvalidArgument(format!("upload TTL {ttl:?} is out of range")))
}

/// Removes a file when dropped, unless disarmed: on every error path, and when a future that
/// was writing it is cancelled (the client went away), no partial file stays behind.
pub(crate) struct RemoveOnDrop {
    path: PathBuf,
    armed: bool,
}

impl RemoveOnDrop {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file is wanted after all (committed or complete).
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if self.armed {
            // Best effort and quick (an unlink); the local store also clears stale temp files
            // at start-up.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
