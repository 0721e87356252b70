//! S3-compatible storage (AWS S3, MinIO, moto, s3rver) through object_store. Clients upload
//! straight to the bucket with a real SigV4 POST policy; the bucket checks it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::{ObjectStore, ObjectStoreExt as _};
use secrecy::ExposeSecret as _;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt as _;

use crate::policy::{Credentials, sign_post_policy};
use crate::{BlobError, BlobStore, PostForm, RemoveOnDrop, expiry, validate_key};

/// Part size for streamed uploads: files up to this size go up in one PUT, larger ones as a
/// multipart upload of parts this big (S3 needs at least 5 MiB per part but the last).
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts in flight at once per upload; bounds memory to about (1 + this) × [`PART_BYTES`].
const PARTS_IN_FLIGHT: usize = 2;

/// Where the bucket is and how to reach it.
#[derive(Clone, Debug)]
pub struct S3Config {
    pub bucket: String,
    /// The bucket's credentials: they sign our requests and the clients' POST policies.
    pub credentials: Credentials,
    /// The S3 API endpoint, e.g. `http://127.0.0.1:9000` for MinIO/moto/s3rver; `None` for
    /// AWS (`https://s3.{region}.amazonaws.com`). Plain `http` is allowed when configured.
    pub endpoint: Option<String>,
    /// `true`: path-style URLs, `{endpoint}/{bucket}` (MinIO, moto, s3rver). `false`:
    /// virtual-hosted style, `https://{bucket}.s3.{region}.amazonaws.com` (AWS); with a custom
    /// `endpoint` it must then already name the bucket (object_store's convention).
    pub path_style: bool,
    /// The URL clients POST uploads to, when they reach the bucket by another address than
    /// OpenMai does (say, `minio:9000` inside a compose network). Defaults to the bucket URL.
    pub public_url: Option<String>,
}

/// Objects in an S3-compatible bucket.
#[derive(Debug)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    credentials: Credentials,
    bucket: String,
    post_url: String,
}

impl S3Store {
    /// Builds the client (no network access yet; a bad bucket or credentials show up on the
    /// first request).
    pub fn new(config: S3Config) -> Result<Self, BlobError> {
        let S3Config { bucket, credentials, endpoint, path_style, public_url } = config;
        if bucket.is_empty() {
            return Err(BlobError::InvalidArgument("the S3 bucket name is empty".to_owned()));
        }
        let region = &credentials.region;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region(region)
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(credentials.secret_access_key.expose_secret())
            .with_virtual_hosted_style_request(!path_style);
        let bucket_url = match &endpoint {
            Some(endpoint) => {
                let parsed = check_url(endpoint, "S3 endpoint")?;
                builder =
                    builder.with_endpoint(endpoint).with_allow_http(parsed.scheme() == "http");
                let endpoint = endpoint.trim_end_matches('/');
                if path_style { format!("{endpoint}/{bucket}") } else { format!("{endpoint}/") }
            }
            None if path_style => format!("https://s3.{region}.amazonaws.com/{bucket}"),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com/"),
        };
        let post_url = match public_url {
            Some(url) => {
                check_url(&url, "public S3 upload URL")?;
                url
            }
            None => bucket_url,
        };
        let store = builder.build()?;
        Ok(Self { store: Arc::new(store), credentials, bucket, post_url })
    }

    /// The URL `presign_post` hands out.
    pub fn post_url(&self) -> &str {
        &self.post_url
    }

    /// The underlying object_store client, for anything this crate does not wrap.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }
}

fn check_url(url: &str, what: &str) -> Result<url::Url, BlobError> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Ok(parsed)
        }
        _ => Err(BlobError::InvalidArgument(format!(
            "the {what} {url:?} is not an absolute http(s) URL"
        ))),
    }
}

/// The object_store path for a key; keys are validated first so object_store never
/// percent-encodes anything into the stored name.
fn location(key: &str) -> Result<object_store::path::Path, BlobError> {
    validate_key(key)?;
    object_store::path::Path::parse(key).map_err(|_| BlobError::InvalidKey {
        key: key.to_owned(),
        reason: "object_store refuses the key",
    })
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
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
            url: self.post_url.clone(),
            fields: sign_post_policy(
                &self.credentials,
                &self.bucket,
                key,
                max_bytes,
                expires_at,
                now,
            ),
        })
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<(), BlobError> {
        let location = location(key)?;
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(BlobError::io(format!("opening {}", path.display())))?;
        let mut writer = BufWriter::with_capacity(self.store.clone(), location, PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let written = async {
            tokio::io::copy(&mut file, &mut writer).await?;
            writer.shutdown().await
        }
        .await;
        if let Err(e) = written {
            // Abort a started multipart upload, or its parts linger (and are billed) on S3.
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, key, "aborting a failed multipart upload failed");
            }
            return Err(BlobError::io(format!("uploading {} as {key}", path.display()))(e));
        }
        Ok(())
    }

    async fn get_to_file(&self, key: &str, path: &Path, max_bytes: u64) -> Result<u64, BlobError> {
        let location = location(key)?;
        let result = match self.store.get(&location).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound { key: key.to_owned() });
            }
            Err(e) => return Err(e.into()),
        };
        if result.meta.size > max_bytes {
            return Err(BlobError::TooLarge { key: key.to_owned(), max_bytes });
        }
        let guard = RemoveOnDrop::new(path.to_owned());
        let mut out = tokio::io::BufWriter::with_capacity(
            256 * 1024,
            tokio::fs::File::create(path)
                .await
                .map_err(BlobError::io(format!("creating {}", path.display())))?,
        );
        let mut size: u64 = 0;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            // The object may have been replaced by a bigger one since the size was read.
            size = size.saturating_add(chunk.len() as u64);
            if size > max_bytes {
                return Err(BlobError::TooLarge { key: key.to_owned(), max_bytes });
            }
            out.write_all(&chunk)
                .await
                .map_err(BlobError::io(format!("writing {}", path.display())))?;
        }
        out.flush().await.map_err(BlobError::io(format!("writing {}", path.display())))?;
        guard.disarm();
        Ok(size)
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let location = location(key)?;
        match self.store.head(&location).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let location = location(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn config(endpoint: Option<&str>, path_style: bool) -> S3Config {
        S3Config {
            bucket: "files".to_owned(),
            credentials: Credentials {
                access_key_id: "AKID".to_owned(),
                secret_access_key: SecretString::from("secret"),
                region: "eu-west-1".to_owned(),
            },
            endpoint: endpoint.map(str::to_owned),
            path_style,
            public_url: None,
        }
    }

    #[test]
    fn post_urls() {
        let url =
            |endpoint, path_style| S3Store::new(config(endpoint, path_style)).unwrap().post_url;
        assert_eq!(url(Some("http://127.0.0.1:9000"), true), "http://127.0.0.1:9000/files");
        assert_eq!(url(Some("http://127.0.0.1:9000/"), true), "http://127.0.0.1:9000/files");
        assert_eq!(url(None, false), "https://files.s3.eu-west-1.amazonaws.com/");
        assert_eq!(url(None, true), "https://s3.eu-west-1.amazonaws.com/files");
        assert_eq!(
            url(Some("https://files.minio.example.com"), false),
            "https://files.minio.example.com/"
        );
        let mut with_public = config(Some("http://minio:9000"), true);
        with_public.public_url = Some("https://uploads.example.com/files".to_owned());
        assert_eq!(
            S3Store::new(with_public).unwrap().post_url,
            "https://uploads.example.com/files"
        );

        assert!(S3Store::new(config(Some("minio:9000"), true)).is_err());
        let mut empty = config(None, false);
        empty.bucket.clear();
        assert!(S3Store::new(empty).is_err());
    }

    #[test]
    fn presign_signs_for_the_bucket() {
        let store = S3Store::new(config(Some("http://127.0.0.1:9000"), true)).unwrap();
        let now = time::macros::datetime!(2026-03-01 10:00 UTC);
        let form = store.presign_post("uploads/a/b.pdf", 99, Duration::from_secs(60), now).unwrap();
        assert_eq!(form.url, "http://127.0.0.1:9000/files");
        let verified = crate::verify_post(&store.credentials, "files", &form.fields, now).unwrap();
        assert_eq!((verified.key.as_str(), verified.max_bytes), ("uploads/a/b.pdf", 99));
        assert!(store.presign_post("../x", 1, Duration::from_secs(60), now).is_err());
    }
}
