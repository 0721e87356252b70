//! S3Store against a real S3-compatible server: moto's server mode, started by this test on a
//! free loopback port. Covers put (single and multipart) / head / get / delete through
//! object_store, and a real browser-style POST upload with the fields `presign_post` made.
//!
//! moto must be installed: `crates/openmai-blobs/tests/setup.sh` puts it in a venv at
//! `~/.cache/openmai/moto-venv`, which this test finds; `moto_server` on PATH or
//! `OPENMAI_MOTO_SERVER=/path/to/moto_server` work too. Without moto the test fails (it is
//! never skipped silently). moto does not check POST signatures or policies (S3 does; the
//! signer is tested against AWS's published example in the unit tests), so this proves the
//! form is one an S3 implementation accepts and stores.

use std::time::Duration;

use openmai_blobs::testing::Moto;
use openmai_blobs::{
    BlobError, BlobStore, Credentials, S3Config, S3Store, object_key, verify_post,
};
use time::OffsetDateTime;
use uuid::Uuid;

const BUCKET: &str = "openmai-test";
fn creds() -> Credentials {
    openmai_blobs::testing::moto_credentials()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_against_moto() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path()).await;
    let http = reqwest::Client::new();

    // moto does not check auth, so a plain PUT creates the bucket.
    let created = http.put(format!("{}/{BUCKET}", moto.endpoint)).send().await.unwrap();
    assert!(created.status().is_success(), "creating the bucket: {}", created.status());

    let store = S3Store::new(S3Config {
        bucket: BUCKET.to_owned(),
        credentials: creds(),
        endpoint: Some(moto.endpoint.clone()),
        path_style: true,
        public_url: None,
    })
    .unwrap();
    let org = Uuid::new_v4();

    // put_file / head / get_to_file / delete, single PUT and multipart (over 8 MiB).
    for (len, seed) in [(1234usize, 1u8), (9 * 1024 * 1024 + 17, 2)] {
        let key = object_key("chatbot-file", org, "台灣高鐵 退票.pdf");
        let source = dir.path().join(format!("source-{seed}"));
        let data = pattern(len, seed);
        std::fs::write(&source, &data).unwrap();
        assert_eq!(store.head(&key).await.unwrap(), None);
        store.put_file(&key, &source).await.unwrap();
        assert_eq!(store.head(&key).await.unwrap(), Some(len as u64));

        let out = dir.path().join(format!("out-{seed}"));
        assert_eq!(store.get_to_file(&key, &out, len as u64).await.unwrap(), len as u64);
        assert!(std::fs::read(&out).unwrap() == data, "downloaded bytes differ");
        let too_small = dir.path().join(format!("too-small-{seed}"));
        let err = store.get_to_file(&key, &too_small, len as u64 - 1).await.unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { .. }), "{err}");
        assert!(!too_small.exists());

        store.delete(&key).await.unwrap();
        assert_eq!(store.head(&key).await.unwrap(), None);
        store.delete(&key).await.unwrap();
        let err = store.get_to_file(&key, &out, 1 << 30).await.unwrap_err();
        assert!(matches!(err, BlobError::NotFound { .. }), "{err}");
    }

    // A browser-style POST upload: the six fields in order, then the file part last.
    let key = object_key("attachment", org, "photo.png");
    let now = OffsetDateTime::now_utc();
    let form = store.presign_post(&key, 1 << 20, Duration::from_secs(900), now).unwrap();
    assert_eq!(form.url, format!("{}/{BUCKET}", moto.endpoint));
    // The same form passes our own verifier (what the local store's endpoint runs).
    let verified = verify_post(&creds(), BUCKET, &form.fields, now).unwrap();
    assert_eq!(verified.key, key);
    let data = pattern(300_000, 3);
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in &form.fields {
        multipart = multipart.text(name.clone(), value.clone());
    }
    let file = reqwest::multipart::Part::bytes(data.clone())
        .file_name("photo.png")
        .mime_str("image/png")
        .unwrap();
    multipart = multipart.part("file", file);
    let resp = http.post(&form.url).multipart(multipart).send().await.unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(status.as_u16(), 204, "POST upload answered {status}: {body}");

    assert_eq!(store.head(&key).await.unwrap(), Some(data.len() as u64));
    let out = dir.path().join("posted");
    store.get_to_file(&key, &out, 1 << 20).await.unwrap();
    assert!(std::fs::read(&out).unwrap() == data, "the POSTed object differs");
    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);

    moto.stop().await;
}
