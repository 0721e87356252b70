//! The embedded default store: objects are files under one directory (`data/blobs`), and
//! OpenMai's own HTTP endpoint plays S3 for browser POST uploads.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use time::OffsetDateTime;
use tokio::io::{AsyncWriteExt as _, BufWriter};
use uuid::Uuid;

use crate::key::TMP_DIR;
use crate::policy::{Credentials, UploadError, sign_post_policy, verify_post};
use crate::{BlobError, BlobStore, PostForm, RemoveOnDrop, StoredObject, expiry, validate_key};

/// Buffer between the upload stream and the file, so the blocking pool is not woken for every
/// small multipart chunk.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// Leftover temp files (from a crash mid-upload) older than this are removed at start-up. Not
/// "all of them": another process may share the directory and be uploading right now.
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Objects stored as files under a directory. Every write goes to a temp file in
/// `{dir}/.openmai-tmp/`, is fsynced, and is renamed into place (then the directory is
/// fsynced), so a reader sees either the old object or the whole new one, never a torn file,
/// even across a crash. Keys are checked by [`validate_key`], so none can name a path outside
/// the directory.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    tmp: PathBuf,
    creds: Credentials,
    bucket: String,
    upload_url: String,
}

impl LocalStore {
    /// A store rooted at `dir` (created if missing). `creds` sign and verify upload forms (the
    /// secret should be random and private); `bucket` is the name the policies carry (clients
    /// never see a difference from S3); `upload_url` is the absolute URL of OpenMai's own
    /// storage endpoint, as clients reach it, which `presign_post` hands out.
    pub fn new(
        dir: impl Into<PathBuf>,
        creds: Credentials,
        bucket: impl Into<String>,
        upload_url: impl Into<String>,
    ) -> Result<Self, BlobError> {
        let root = dir.into();
        let upload_url = upload_url.into();
        match url::Url::parse(&upload_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => {
                return Err(BlobError::InvalidArgument(format!(
                    "the upload URL {upload_url:?} is not an absolute http(s) URL"
                )));
            }
        }
        let tmp = root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp)
            .map_err(BlobError::io(format!("creating {}", tmp.display())))?;
        remove_stale_temp_files(&tmp);
        Ok(Self { root, tmp, creds, bucket: bucket.into(), upload_url })
    }

    /// The directory objects live in.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The bucket name signed into policies.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The whole local POST-upload path, as S3 does it: [`verify_post`] the form fields, then
    /// stream the file part to a temp file, counting bytes as they arrive and aborting as soon
    /// as the policy's `content-length-range` maximum is passed (so an oversized upload is
    /// never buffered, nor written beyond the limit), check the minimum at the end, fsync, and
    /// rename into place. A refused or interrupted upload leaves nothing behind, even if this
    /// future is dropped mid-way (the client went away).
    ///
    /// `fields` are the form fields that came before the file part (S3 ignores fields after
    /// it); `file` is the file part's body, e.g. an axum/multer field passed straight through.
    /// The caller answers 204 on success, and `err.status()` with `err.to_xml()` otherwise.
    pub async fn accept_upload<S, E>(
        &self,
        fields: &[(String, String)],
        file: S,
        now: OffsetDateTime,
    ) -> Result<StoredObject, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let policy = verify_post(&self.creds, &self.bucket, fields, now)?;
        let dest = self.path_for(&policy.key).map_err(|e| UploadError::InvalidArgument {
            message: e.to_string(),
            argument_name: "key".to_owned(),
            argument_value: policy.key.clone(),
        })?;

        let temp = RemoveOnDrop::new(self.tmp.join(format!("{}.part", Uuid::new_v4())));
        let file_handle = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temp.path())
            .await
            .map_err(BlobError::io(format!("creating {}", temp.path().display())))
            .map_err(UploadError::Internal)?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file_handle);
        let mut size: u64 = 0;
        let mut file = pin!(file);
        while let Some(chunk) = file.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::debug!(error = %e, key = %policy.key, "upload body failed mid-way");
                UploadError::MalformedPost
            })?;
            size = size.saturating_add(chunk.len() as u64);
            if size > policy.max_bytes {
                return Err(UploadError::EntityTooLarge {
                    max_allowed: policy.max_bytes,
                    proposed: None,
                });
            }
            out.write_all(&chunk)
                .await
                .map_err(BlobError::io(format!("writing {}", temp.path().display())))
                .map_err(UploadError::Internal)?;
        }
        if size < policy.min_bytes {
            return Err(UploadError::EntityTooSmall {
                min_allowed: policy.min_bytes,
                proposed: size,
            });
        }
        out.flush()
            .await
            .map_err(BlobError::io("flushing an upload"))
            .map_err(UploadError::Internal)?;
        let file_handle = out.into_inner();
        file_handle
            .sync_all()
            .await
            .map_err(BlobError::io("syncing an upload"))
            .map_err(UploadError::Internal)?;
        drop(file_handle);
        self.commit(temp, dest).await.map_err(UploadError::Internal)?;
        Ok(StoredObject { key: policy.key, size })
    }

    fn path_for(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    /// Renames a finished temp file into place (on the blocking pool: rename and directory
    /// fsync are blocking calls).
    async fn commit(&self, temp: RemoveOnDrop, dest: PathBuf) -> Result<(), BlobError> {
        let root = self.root.clone();
        run_blocking(move || commit_blocking(temp, &dest, &root)).await
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalStore {
    fn presign_post(
        &self,
        key: &str,
        max_bytes: u64,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<PostForm, BlobError> {
        validate_key(key)?;
        let expires_at = expiry(now, ttl)?;
        Ok(PostForm {
            url: self.upload_url.clone(),
            fields: sign_post_policy(&self.creds, &self.bucket, key, max_bytes, expires_at, now),
        })
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<(), BlobError> {
        let dest = self.path_for(key)?;
        let source = path.to_owned();
        let temp = RemoveOnDrop::new(self.tmp.join(format!("{}.part", Uuid::new_v4())));
        let root = self.root.clone();
        run_blocking(move || {
            // std::fs::copy uses copy_file_range/sendfile where it can: no user-space buffer.
            std::fs::copy(&source, temp.path())
                .map_err(BlobError::io(format!("copying {}", source.display())))?;
            std::fs::File::open(temp.path())
                .and_then(|f| f.sync_all())
                .map_err(BlobError::io(format!("syncing {}", temp.path().display())))?;
            commit_blocking(temp, &dest, &root)
        })
        .await
    }

    async fn get_to_file(&self, key: &str, path: &Path, max_bytes: u64) -> Result<u64, BlobError> {
        let source = self.path_for(key)?;
        let dest = path.to_owned();
        let key = key.to_owned();
        run_blocking(move || {
            let mut input = match std::fs::File::open(&source) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(BlobError::NotFound { key });
                }
                Err(e) => return Err(BlobError::io(format!("opening {}", source.display()))(e)),
            };
            let meta =
                input.metadata().map_err(BlobError::io(format!("reading {}", source.display())))?;
            if !meta.is_file() {
                return Err(BlobError::NotFound { key });
            }
            if meta.len() > max_bytes {
                return Err(BlobError::TooLarge { key, max_bytes });
            }
            // A hard link instead of a copy, when both are on one filesystem: objects are
            // never written in place (a new version is a new file renamed over the old one),
            // so the link keeps this version whatever happens to the key, and costs no I/O.
            let _ = std::fs::remove_file(&dest);
            if std::fs::hard_link(&source, &dest).is_ok() {
                // The key may have been replaced since the check above: check what was linked.
                let linked = std::fs::metadata(&dest)
                    .map_err(BlobError::io(format!("reading {}", dest.display())))?
                    .len();
                if linked > max_bytes {
                    let _ = std::fs::remove_file(&dest);
                    return Err(BlobError::TooLarge { key, max_bytes });
                }
                return Ok(linked);
            }
            let guard = RemoveOnDrop::new(dest.clone());
            let mut output = std::fs::File::create(&dest)
                .map_err(BlobError::io(format!("creating {}", dest.display())))?;
            // One byte past the limit tells "exactly max" from "more than max".
            let mut limited = io::Read::take(&mut input, max_bytes.saturating_add(1));
            let copied = io::copy(&mut limited, &mut output)
                .map_err(BlobError::io(format!("copying {}", source.display())))?;
            if copied > max_bytes {
                return Err(BlobError::TooLarge { key, max_bytes });
            }
            output.flush().map_err(BlobError::io(format!("writing {}", dest.display())))?;
            guard.disarm();
            Ok(copied)
        })
        .await
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let path = self.path_for(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::io(format!("reading {}", path.display()))(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path_for(key)?;
        let root = self.root.clone();
        run_blocking(move || {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(BlobError::io(format!("deleting {}", path.display()))(e)),
            }
            // Every upload has its own `{uuid}/` directory: prune the now-empty ones so they
            // do not pile up. A concurrent commit into one of them retries (commit_blocking).
            let mut dir = path.parent();
            while let Some(d) = dir {
                if d == root || std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
            Ok(())
        })
        .await
    }
}

/// Renames the fsynced temp file to `dest` and fsyncs the directory, so the rename itself
/// survives a crash.
fn commit_blocking(temp: RemoveOnDrop, dest: &Path, root: &Path) -> Result<(), BlobError> {
    let parent = dest.parent().unwrap_or(root);
    let mut attempt = 0;
    loop {
        std::fs::create_dir_all(parent)
            .map_err(BlobError::io(format!("creating {}", parent.display())))?;
        match std::fs::rename(temp.path(), dest) {
            Ok(()) => break,
            // A concurrent delete pruned the (then empty) directory between the two calls.
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 3 => attempt += 1,
            Err(e) => return Err(BlobError::io(format!("storing {}", dest.display()))(e)),
        }
    }
    temp.disarm();
    sync_dir(parent).map_err(BlobError::io(format!("syncing {}", parent.display())))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals the rename's metadata.
    Ok(())
}

fn remove_stale_temp_files(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else { return };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| BlobError::Io {
        context: "a blocking file task failed".to_owned(),
        source: io::Error::other(e.to_string()),
    })?
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use secrecy::SecretString;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-01 10:00 UTC);
    const KEY: &str = "uploads/org/chatbot-file/0000/big.bin";

    fn store(dir: &Path) -> LocalStore {
        let creds = Credentials {
            access_key_id: "openmai".to_owned(),
            secret_access_key: SecretString::from("local-secret"),
            region: "us-east-1".to_owned(),
        };
        LocalStore::new(dir.join("blobs"), creds, "openmai", "http://127.0.0.1:8080/storage/")
            .unwrap()
    }

    /// `len` bytes of a recognisable pattern, delivered in `piece`-byte chunks.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn chunks(data: &[u8], piece: usize) -> impl Stream<Item = Result<Bytes, Infallible>> {
        let parts: Vec<Result<Bytes, Infallible>> =
            data.chunks(piece).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(parts)
    }

    fn temp_files(store: &LocalStore) -> usize {
        std::fs::read_dir(&store.tmp).unwrap().count()
    }

    #[tokio::test]
    async fn accepts_a_streamed_multi_megabyte_upload() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let form = store.presign_post(KEY, 8 << 20, Duration::from_secs(900), NOW).unwrap();
        assert_eq!(form.url, "http://127.0.0.1:8080/storage/");
        let data = pattern(5 << 20);
        let stored =
            store.accept_upload(&form.fields, chunks(&data, 64 * 1024 + 7), NOW).await.unwrap();
        assert_eq!(stored, StoredObject { key: KEY.to_owned(), size: data.len() as u64 });
        assert_eq!(store.head(KEY).await.unwrap(), Some(data.len() as u64));
        assert_eq!(std::fs::read(dir.path().join("blobs").join(KEY)).unwrap(), data);
        assert_eq!(temp_files(&store), 0);

        let out = dir.path().join("out.bin");
        std::fs::write(&out, b"an older file in the way").unwrap();
        assert_eq!(store.get_to_file(KEY, &out, 5 << 20).await.unwrap(), data.len() as u64);
        assert_eq!(std::fs::read(&out).unwrap(), data);
        // One byte short of the object: refused, and the destination is not left behind.
        let out2 = dir.path().join("out2.bin");
        let err = store.get_to_file(KEY, &out2, (5 << 20) - 1).await.unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { .. }), "{err}");
        assert!(!out2.exists());
        // The copy (a hard link here) keeps its content when the object is replaced, and the
        // object outlives the copy.
        let replacement = dir.path().join("replacement.bin");
        std::fs::write(&replacement, b"version two").unwrap();
        store.put_file(KEY, &replacement).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), data);
        std::fs::remove_file(&out).unwrap();
        assert_eq!(store.head(KEY).await.unwrap(), Some(11));

        store.delete(KEY).await.unwrap();
        assert_eq!(store.head(KEY).await.unwrap(), None);
        // Empty per-upload directories are pruned, the root is kept.
        assert!(!dir.path().join("blobs/uploads").exists());
        assert!(dir.path().join("blobs").exists());
        store.delete(KEY).await.unwrap();
        let err = store.get_to_file(KEY, &out, 1 << 30).await.unwrap_err();
        assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    }

    #[tokio::test]
    async fn refuses_an_oversized_stream_mid_way_leaving_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let form = store.presign_post(KEY, 1 << 20, Duration::from_secs(900), NOW).unwrap();
        // A stream that would go on forever: the upload must stop reading once past the limit.
        let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = pulled.clone();
        let endless = futures::stream::repeat_with(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok::<_, Infallible>(Bytes::from_static(&[7u8; 64 * 1024]))
        });
        let err = store.accept_upload(&form.fields, endless, NOW).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "EntityTooLarge"));
        assert!(err.to_xml().contains("<MaxSizeAllowed>1048576</MaxSizeAllowed>"));
        assert_eq!(pulled.load(std::sync::atomic::Ordering::Relaxed), 17);
        assert_eq!(store.head(KEY).await.unwrap(), None);
        assert!(!dir.path().join("blobs").join(KEY).exists());
        assert_eq!(temp_files(&store), 0);

        // Exactly at the limit is fine.
        let data = pattern(1 << 20);
        store.accept_upload(&form.fields, chunks(&data, 10_000), NOW).await.unwrap();
        assert_eq!(store.head(KEY).await.unwrap(), Some(1 << 20));
    }

    #[tokio::test]
    async fn refuses_bad_forms_and_broken_streams_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let form = store.presign_post(KEY, 100, Duration::from_secs(60), NOW).unwrap();

        let err = store
            .accept_upload(&form.fields, chunks(b"hi", 1), NOW + time::Duration::minutes(2))
            .await
            .unwrap_err();
        assert_eq!(err.message(), "Invalid according to Policy: Policy expired.");

        let mut tampered = form.fields.clone();
        tampered[0].1 = "uploads/org/chatbot-file/0000/other.bin".to_owned();
        let err = store.accept_upload(&tampered, chunks(b"hi", 1), NOW).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (403, "AccessDenied"));

        // The client disconnects mid-body.
        let broken = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err("connection reset"),
        ]);
        let err = store.accept_upload(&form.fields, broken, NOW).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "MalformedPOSTRequest"));

        assert_eq!(store.head(KEY).await.unwrap(), None);
        assert_eq!(temp_files(&store), 0);

        // An empty file is allowed by content-length-range [0, max].
        let empty = futures::stream::iter(Vec::<Result<Bytes, Infallible>>::new());
        let stored = store.accept_upload(&form.fields, empty, NOW).await.unwrap();
        assert_eq!(stored.size, 0);
    }

    #[tokio::test]
    async fn a_dropped_upload_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let form = store.presign_post(KEY, 1 << 20, Duration::from_secs(60), NOW).unwrap();
        // One chunk, then a stream that never ends: the future is dropped while waiting.
        let stalled = futures::stream::iter(vec![Ok::<_, Infallible>(Bytes::from_static(b"abc"))])
            .chain(futures::stream::pending());
        let upload = store.accept_upload(&form.fields, stalled, NOW);
        let res = tokio::time::timeout(Duration::from_millis(200), upload).await;
        assert!(res.is_err(), "the stalled upload cannot finish");
        assert_eq!(temp_files(&store), 0);
        assert_eq!(store.head(KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn refuses_unsafe_keys_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let source = dir.path().join("src.txt");
        std::fs::write(&source, b"data").unwrap();
        for key in ["../escape", "a/../../escape", "/abs", "a\\b", "台灣.txt", ".openmai-tmp/x", ""]
        {
            let invalid = |r: Result<_, BlobError>| matches!(r, Err(BlobError::InvalidKey { .. }));
            assert!(invalid(store.put_file(key, &source).await.map(|_| ())), "{key}");
            assert!(invalid(store.head(key).await.map(|_| ())), "{key}");
            assert!(invalid(store.delete(key).await), "{key}");
            assert!(invalid(store.get_to_file(key, &source, 10).await.map(|_| ())), "{key}");
            assert!(invalid(store.presign_post(key, 10, Duration::from_secs(1), NOW).map(|_| ())));
        }
        assert!(!dir.path().join("escape").exists());

        // A validly signed form for an unsafe key (only a misconfigured signer could make
        // one) is refused by the store before anything is written.
        let fields = sign_post_policy(
            &store.creds,
            "openmai",
            "../../escape",
            100,
            NOW + time::Duration::minutes(1),
            NOW,
        );
        let err = store.accept_upload(&fields, chunks(b"x", 1), NOW).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "InvalidArgument"));
        assert!(!dir.path().join("escape").exists());
    }

    #[tokio::test]
    async fn put_file_head_get_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let source = dir.path().join("src.txt");
        std::fs::write(&source, b"hello blobs").unwrap();
        assert_eq!(store.head("a/b.txt").await.unwrap(), None);
        store.put_file("a/b.txt", &source).await.unwrap();
        assert_eq!(store.head("a/b.txt").await.unwrap(), Some(11));
        // Replacing an object is atomic and leaves no temp file.
        std::fs::write(&source, b"v2").unwrap();
        store.put_file("a/b.txt", &source).await.unwrap();
        let out = dir.path().join("out.txt");
        assert_eq!(store.get_to_file("a/b.txt", &out, 2).await.unwrap(), 2);
        assert_eq!(std::fs::read(&out).unwrap(), b"v2");
        assert_eq!(temp_files(&store), 0);
        // A directory is not an object.
        assert_eq!(store.head("a").await.unwrap(), None);
        let missing = dir.path().join("missing");
        assert!(matches!(store.put_file("x", &missing).await, Err(BlobError::Io { .. })));
        assert_eq!(temp_files(&store), 0);
        store.delete("a/b.txt").await.unwrap();
        assert_eq!(store.head("a/b.txt").await.unwrap(), None);
    }

    #[test]
    fn new_checks_the_upload_url() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials {
            access_key_id: "k".to_owned(),
            secret_access_key: SecretString::from("s"),
            region: "us-east-1".to_owned(),
        };
        for bad in ["/storage/", "ftp://host/x", "not a url"] {
            assert!(LocalStore::new(dir.path(), creds.clone(), "b", bad).is_err(), "{bad}");
        }
        let store = LocalStore::new(dir.path(), creds, "b", "https://files.example.com/").unwrap();
        let err = store.presign_post("k", 1, Duration::MAX, NOW).unwrap_err();
        assert!(matches!(err, BlobError::InvalidArgument(_)));
    }
}
