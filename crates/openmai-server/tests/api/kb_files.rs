//! Uploads (the presigned POST policy and the embedded storage endpoint), knowledge files and
//! their ingestion, chunks, parsed contents and search, on every engine.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, each_engine, each_engine_with, fixture, is_uuid, keys, send, status_and_body,
};
use crate::snapshot;

fn kb_id(kb: &Value) -> String {
    kb["id"].as_str().unwrap().to_owned()
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

/// Replaces one form field's value.
fn with_field(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.clone(), if k == name { value.to_owned() } else { v.clone() }))
        .collect()
}

#[tokio::test]
async fn presigned_upload_round_trip_as_the_example_clients_do_it() {
    each_engine(|app| async move {
        let (status, body) = app
            .post(
                "/api/v1/upload-presigned-url/",
                json!({"filename": "台灣 手冊.pdf", "modelName": "chatbot-file", "fieldName": "file", "fileSize": 5}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        snapshot!(keys(&body), @"fields,url");
        // Keys verbatim and in the order S3 clients post them.
        let raw = crate::helpers::status_and_text(app.request(Method::POST, "/api/v1/upload-presigned-url/").json(
            &json!({"filename": "a.pdf", "modelName": "chatbot-file", "fieldName": "file", "fileSize": 5}),
        ))
        .await;
        let order: Vec<usize> = ["\"key\"", "\"x-amz-algorithm\"", "\"x-amz-credential\"", "\"x-amz-date\"", "\"policy\"", "\"x-amz-signature\""]
            .iter()
            .map(|name| raw.find(name).unwrap_or_else(|| panic!("{name} in {raw}")))
            .collect();
        assert!(order.is_sorted(), "{raw}");
        let key = body["fields"]["key"].as_str().unwrap();
        assert!(key.is_ascii() && key.ends_with("/file.pdf"), "{key}");
        let url = body["url"].as_str().unwrap();
        assert_eq!(url, app.url("/storage/openmai"));

        // No credentials on the storage POST; 204 with no body.
        let fields: Vec<(String, String)> = body["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let (status, text) = app.post_form(url, &fields, "台灣 手冊.pdf", b"%PDF-".to_vec()).await;
        assert_eq!((status, text.as_str()), (StatusCode::NO_CONTENT, ""));
    })
    .await;
}

#[tokio::test]
async fn storage_refuses_expired_tampered_and_oversized_uploads_as_s3_does() {
    each_engine(|app| async move {
        let (url, fields) = app.presign_as(&app.key.clone(), "a.txt", 10).await;

        // Tampered: another key than the policy's.
        let other_key = with_field(&fields, "key", "uploads/elsewhere/x.txt");
        let (status, text) = app.post_form(&url, &other_key, "a.txt", b"hello".to_vec()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("<Code>AccessDenied</Code>") || text.contains("<Code>SignatureDoesNotMatch</Code>"), "{text}");

        // Tampered: a signature that does not match.
        let signature = &fields.iter().find(|(k, _)| k == "x-amz-signature").unwrap().1;
        let flipped: String = signature.chars().rev().collect();
        let bad_signature = with_field(&fields, "x-amz-signature", &flipped);
        let (status, text) = app.post_form(&url, &bad_signature, "a.txt", b"hello".to_vec()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("<Code>SignatureDoesNotMatch</Code>"), "{text}");

        // Oversized: more bytes than the declared (and signed) size.
        let (status, text) = app.post_form(&url, &fields, "a.txt", vec![b'x'; 11]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("<Code>EntityTooLarge</Code>"), "{text}");

        // Missing fields.
        let (status, text) = app.post_form(&url, &fields[..2], "a.txt", b"hello".to_vec()).await;
        assert!(status.is_client_error(), "{status} {text}");
        assert!(text.starts_with("<?xml"), "{text}");

        // Expired: a policy signed an hour and a bit ago.
        let key = fields.iter().find(|(k, _)| k == "key").unwrap().1.clone();
        let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(61);
        let old = app.state.knowledge.blobs.presign_post(&key, 10, openmai_server::knowledge::UPLOAD_TTL, past).unwrap();
        let (status, text) = app.post_form(&url, &old.fields, "a.txt", b"hello".to_vec()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("expired"), "{text}");

        // Nothing was stored by any of these, so the key cannot be registered.
        let kb = app.kb("k").await;
        let text = app
            .raw(
                Method::POST,
                &format!("/api/v1/knowledge-bases/{}/files/", kb_id(&kb)),
                json!({"files": [{"file": key, "filename": "a.txt"}]}),
            )
            .await;
        snapshot!(text, @r#"400 {"files":[{"file":["No uploaded file has this key: upload it with the form from upload-presigned-url/ first."]}]}"#);
    })
    .await;
}

#[tokio::test]
async fn presign_validates_its_fields() {
    each_engine_with(
        |config| config.max_upload_bytes = 1024,
        |app| async move {
            let text = app.raw(Method::POST, "/api/v1/upload-presigned-url/", json!({})).await;
            snapshot!(text, @r#"400 {"filename":["This field is required."],"modelName":["This field is required."],"fileSize":["This field is required."]}"#);
            let text = app
                .raw(
                    Method::POST,
                    "/api/v1/upload-presigned-url/",
                    json!({"filename": "a.exe", "modelName": "chatbot-file", "fieldName": "file", "fileSize": 10}),
                )
                .await;
            snapshot!(text, @r#"400 {"filename":["Files of type \".exe\" cannot be uploaded as chatbot-file. Allowed: .pdf, .docx, .pptx, .xlsx, .csv, .tsv, .html, .htm, .xhtml, .md, .markdown, .txt, .text."]}"#);
            // A 1 GB upload is refused before a byte is sent, with the limit in the message.
            let text = app
                .raw(
                    Method::POST,
                    "/api/v1/upload-presigned-url/",
                    json!({"filename": "big.pdf", "modelName": "chatbot-file", "fieldName": "file", "fileSize": 1_073_741_824_u64}),
                )
                .await;
            snapshot!(text, @r#"400 {"fileSize":["Ensure this value is less than or equal to 1024."]}"#);
            let (status, types) = app.get("/api/v1/allowed-file-types/").await;
            assert_eq!(status, StatusCode::OK);
            snapshot!(keys(&types), @"attachment,batchQa,chatbotFile,maxFileSize");
        },
    )
    .await;
}

#[tokio::test]
async fn a_huge_body_is_cut_off_at_the_signed_limit_without_being_buffered() {
    each_engine(|app| async move {
        let (url, fields) = app.presign_as(&app.key.clone(), "big.txt", 1024).await;
        // 1 GB, generated as it is sent: the server must stop reading long before the end.
        let chunk = bytes::Bytes::from(vec![b'a'; 1 << 20]);
        let stream =
            futures::stream::iter((0..1024).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in &fields {
            form = form.text(name.clone(), value.clone());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream))
                .file_name("big.txt"),
        );
        match app.client.post(&url).multipart(form).send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
                assert!(text.contains("EntityTooLarge"), "{text}");
            }
            // The server may close the connection while the client is still sending.
            Err(err) => assert!(err.is_request() || err.is_body(), "{err}"),
        }
        let (status, _) = app.get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
    })
    .await;
}

/// A download is streamed in reads of `FILE_STREAM_READ_BYTES`: a file of several reads, of
/// bytes that are not text, comes back byte for byte.
#[tokio::test]
async fn a_file_of_several_reads_downloads_byte_for_byte() {
    each_engine(|app| async move {
        let kb = app.kb("掃描檔").await;
        let kb = kb_id(&kb);
        let len = 2 * openmai_server::FILE_STREAM_READ_BYTES + 12_345;
        let bytes: Vec<u8> =
            (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let file = app.add_file(&kb, "scan.pdf", bytes.clone()).await;
        let file_id = id(&file).to_owned();
        let response = app
            .request(
                Method::GET,
                &format!("/api/v1/knowledge-bases/{kb}/files/{file_id}/download/"),
            )
            .send()
            .await
            .expect("request reaches the server");
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().await.expect("body");
        assert_eq!(body.len(), len);
        assert!(body == bytes, "the download differs from the upload");
        // Not a PDF: the file fails, with a reason.
        let settled = app.settle(&kb, &file_id).await;
        assert_eq!(settled["status"], "failed", "{settled}");
        assert!(settled["failedReason"].as_str().is_some_and(|r| !r.is_empty()), "{settled}");
    })
    .await;
}

#[tokio::test]
async fn files_register_list_get_download_and_delete() {
    each_engine(|app| async move {
        let kb = app.kb("手冊").await;
        let kb = kb_id(&kb);
        let text = "# 退貨政策\n\n商品到貨七天內可以退貨。請保留發票。\n\n# Shipping\n\nOrders ship within two days.\n";
        let storage_key = app.upload("退貨政策.md", text.as_bytes().to_vec()).await;
        let (status, created) = app
            .post(
                &format!("/api/v1/knowledge-bases/{kb}/files/"),
                json!({"files": [{"file": storage_key, "filename": "退貨政策.md"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        // A bare list, as the example clients read `[0].id`.
        let file = &created.as_array().expect("a bare list")[0];
        snapshot!(keys(file), @"chatbotFileContent,chunksCount,createdAt,failedReason,file,fileType,filename,id,knowledgeBase,labels,pages,parser,rawUserDefineMetadata,size,status,updatedAt");
        assert_eq!(file["filename"], "退貨政策.md");
        assert_eq!(file["fileType"], "md");
        assert_eq!(file["size"], text.len());
        assert!(matches!(file["status"].as_str(), Some("initial" | "processing" | "done")), "{file}");
        let file_id = id(file).to_owned();

        let done = app.settle(&kb, &file_id).await;
        assert_eq!(done["status"], "done", "{done}");
        assert!(done["chunksCount"].as_i64().unwrap() >= 2, "{done}");
        assert_eq!(done["failedReason"], Value::Null);

        // page/page_size; `count` a JSON integer; `createdAt` epoch-ms digits.
        let (status, page) = app.get(&format!("/api/v1/knowledge-bases/{kb}/files/?page=1&page_size=5")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page["count"].is_u64());
        assert_eq!(page["results"][0]["id"], file_id.as_str());
        assert!(crate::helpers::is_timestamp(&page["results"][0]["createdAt"]));

        // The original, byte for byte, under its real name.
        let (status, headers, body) = crate::helpers::send_raw(
            app.request(Method::GET, &format!("/api/v1/knowledge-bases/{kb}/files/{file_id}/download/")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, text);
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
        let (status, _) = app.get(&format!("/api/v1/knowledge-bases/{kb}/")).await;
        assert_eq!(status, StatusCode::OK);
        let (_, kb_now) = app.get(&format!("/api/v1/knowledge-bases/{kb}/")).await;
        assert_eq!(kb_now["filesCount"], 1);

        let (status, body) = app.delete(&format!("/api/v1/knowledge-bases/{kb}/files/{file_id}/")).await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
        let (status, _) = app.get(&format!("/api/v1/knowledge-bases/{kb}/files/{file_id}/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let hits = search(&app, &kb, "退貨").await;
        assert!(hits.as_array().unwrap().is_empty(), "deleted chunks must leave the index: {hits}");
    })
    .await;
}

#[tokio::test]
async fn register_refuses_keys_that_are_not_the_callers_uploads() {
    each_engine(|app| async move {
        let kb = kb_id(&app.kb("k").await);
        let other = app.tenant("other@example.com").await;
        let foreign = app.upload_as(&other.key, "x.txt", b"secret".to_vec()).await;
        let path = format!("/api/v1/knowledge-bases/{kb}/files/");
        let text = app.raw(Method::POST, &path, json!({"files": [{"file": foreign, "filename": "x.txt"}]})).await;
        snapshot!(text, @r#"400 {"files":[{"file":["No uploaded file has this key: upload it with the form from upload-presigned-url/ first."]}]}"#);
        let text = app.raw(Method::POST, &path, json!({"files": []})).await;
        snapshot!(text, @r#"400 {"files":["This list may not be empty."]}"#);
        let text = app.raw(Method::POST, &path, json!({"files": [{"filename": "x.txt"}]})).await;
        snapshot!(text, @r#"400 {"files":[{"file":["This field is required."]}]}"#);
        let text = app.raw(Method::POST, &path, json!({})).await;
        snapshot!(text, @r#"400 {"files":["This field is required."]}"#);
    })
    .await;
}

/// Every supported format becomes chunks; page numbers survive for PDFs and slides.
#[tokio::test]
async fn each_format_is_ingested() {
    each_engine(|app| async move {
        let kb = kb_id(&app.kb("formats").await);
        let mut outcomes = Vec::new();
        for name in [
            "refund.pdf",
            "guide.docx",
            "slides.pptx",
            "fares.xlsx",
            "fares_big5.csv",
            "article.html",
            "manual.md",
            "notice_big5.txt",
            "notice_utf16le.txt",
        ] {
            let file = app.ingest(&kb, name, fixture(name)).await;
            assert_eq!(file["status"], "done", "{name}: {file}");
            assert!(file["chunksCount"].as_i64().unwrap() > 0, "{name}: {file}");
            outcomes.push(format!("{name}: pages={}", file["pages"]));
        }
        snapshot!(outcomes.join("\n"), @r#"
refund.pdf: pages=3
guide.docx: pages=1
slides.pptx: pages=2
fares.xlsx: pages=2
fares_big5.csv: pages=null
article.html: pages=null
manual.md: pages=null
notice_big5.txt: pages=null
notice_utf16le.txt: pages=null
"#);
        // Chunks keep page numbers (PDF) and headers (tables).
        let (_, docs) =
            app.get(&format!("/api/v1/knowledge-bases/{kb}/documents/?page_size=100")).await;
        let pdf_pages: Vec<i64> = docs["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["chatbotFile"]["filename"] == "refund.pdf")
            .filter_map(|d| d["pageNumber"].as_i64())
            .collect();
        assert!(pdf_pages.contains(&1) && pdf_pages.iter().any(|&p| p > 1), "{pdf_pages:?}");
    })
    .await;
}

/// Files that must fail, each with a reason a person can act on, and never take the server
/// (or another file) down with them.
#[tokio::test]
async fn the_bad_file_corpus_fails_each_file_with_a_reason() {
    each_engine_with(
        |config| config.ingest_memory_mb = 512,
        |app| async move {
            let kb = kb_id(&app.kb("bad").await);
            let bomb = zip_bomb();
            let cases: Vec<(&str, Vec<u8>)> = vec![
                ("empty.txt", Vec::new()),
                ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage".to_vec()),
                ("renamed.pdf", fixture("guide.docx")),
                ("encrypted.pdf", fixture("encrypted.pdf")),
                ("scan.pdf", fixture("scan.pdf")),
                ("bomb.docx", bomb),
                ("image.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
            ];
            let mut reasons = Vec::new();
            for (name, bytes) in cases {
                let file = app.ingest(&kb, name, bytes).await;
                assert_eq!(file["status"], "failed", "{name}: {file}");
                let reason = file["failedReason"].as_str().unwrap_or_default().to_owned();
                assert!(!reason.is_empty(), "{name}");
                let (status, latest) = app
                    .get(&format!("/api/v1/knowledge-bases/{kb}/files/{}/latest-failed-reason/", id(&file)))
                    .await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(latest["latestFailedReason"], reason.as_str());
                reasons.push(format!("{name}: {reason}"));
            }
            snapshot!(reasons.join("\n"), @r#"
empty.txt: The file is empty (0 bytes).
corrupt.pdf: The PDF could not be read: it is damaged or not a valid PDF file (failed parsing cross reference table). Open it in the program that made it, save or export it again, and upload the new copy.
renamed.pdf: The file says .pdf but its contents are a Word document (DOCX): upload it with its real extension (.docx).
encrypted.pdf: The PDF is password-protected: save a copy without the password and upload that.
scan.pdf: The PDF has no text layer (a scan?): this version extracts text only, not images; run OCR first.
bomb.docx: The DOCX was not opened: its part word/document.xml would expand to 1 GB (limit 200 MB). A normal document does not do that (is it a ZIP bomb?).
image.txt: The file says .txt but its contents are a PNG image: this version extracts text only, not images; run OCR first and upload the text.
"#);
            // The server is fine and a good file still goes through.
            let good = app.ingest(&kb, "ok.txt", "still works".as_bytes().to_vec()).await;
            assert_eq!(good["status"], "done", "{good}");
        },
    )
    .await;
}

/// A DOCX whose one member inflates to 1 GiB of zeros.
fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("[Content_Types].xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#)
        .unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    let zeros = vec![0_u8; 1 << 20];
    for _ in 0..1024 {
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

#[tokio::test]
async fn metadata_labels_batch_operations_and_failed_reasons() {
    each_engine(|app| async move {
        let kb = kb_id(&app.kb("meta").await);
        let (_, label) = app.post(&format!("/api/v1/knowledge-bases/{kb}/labels/"), json!({"name": "政策"})).await;
        let label_id = id(&label).to_owned();
        let a = app.ingest(&kb, "a.txt", "退貨要在七天內申請。".as_bytes().to_vec()).await;
        let b = app.ingest(&kb, "b.txt", "運費由買家負擔。".as_bytes().to_vec()).await;
        let (a, b) = (id(&a).to_owned(), id(&b).to_owned());

        // Python sends `[{id}]`, C# sends `["<id>"]`; an unknown id is ignored.
        let path = format!("/api/v1/knowledge-bases/{kb}/files/{a}/update-metadata/");
        let (status, file) = app
            .patch(&path, json!({"labels": [{"id": label_id}], "rawUserDefineMetadata": {"dept": "客服"}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(file["labels"], json!([{"id": label_id, "name": "政策"}]));
        assert_eq!(file["rawUserDefineMetadata"], json!({"dept": "客服"}));
        let (status, file) = app
            .patch(&path, json!({"labels": [label_id, "00000000-0000-0000-0000-000000000000"]}))
            .await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(file["labels"].as_array().unwrap().len(), 1);
        assert_eq!(file["rawUserDefineMetadata"], json!({"dept": "客服"}));
        let text = app.raw(Method::PATCH, &path, json!({"rawUserDefineMetadata": [1]})).await;
        snapshot!(text, @r#"400 {"rawUserDefineMetadata":["Invalid data. Expected a dictionary, but got list."]}"#);

        // Label filters in search: only the labelled file answers.
        let (status, hits) = app
            .post(&format!("/api/v1/knowledge-bases/{kb}/search/"), json!({"query": "退貨 運費", "labels": [label_id]}))
            .await;
        assert_eq!(status, StatusCode::OK, "{hits}");
        let files: Vec<&str> = hits.as_array().unwrap().iter().map(|h| h["chatbotFile"]["id"].as_str().unwrap()).collect();
        assert_eq!(files, [a.as_str()]);

        // Reparse is a PATCH with a bare list; the files come back to `done`.
        let (status, body) = app
            .patch(
                &format!("/api/v1/knowledge-bases/{kb}/files/batch-reparse/"),
                json!([{"id": a, "parser": "maiagent"}, b]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body.as_array().unwrap().len(), 2, "{body}");
        let text = app
            .raw(
                Method::PATCH,
                &format!("/api/v1/knowledge-bases/{kb}/files/batch-reparse/"),
                json!([{"id": a, "parser": "00000000-0000-0000-0000-000000000000"}]),
            )
            .await;
        snapshot!(text, @r#"400 [{"parser":["Invalid pk \"00000000-0000-0000-0000-000000000000\" - object does not exist."]}]"#);
        assert_eq!(app.settle(&kb, &a).await["status"], "done");
        assert_eq!(app.settle(&kb, &b).await["status"], "done");

        let (status, latest) = app.get(&format!("/api/v1/knowledge-bases/{kb}/files/{a}/latest-failed-reason/")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(latest["latestFailedReason"], Value::Null);

        let (status, body) = app
            .post(&format!("/api/v1/knowledge-bases/{kb}/files/batch-delete/"), json!({"ids": [a, b]}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut deleted: Vec<String> =
            body["deletedIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        deleted.sort();
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        assert_eq!(deleted, expected);
        let (_, page) = app.get(&format!("/api/v1/knowledge-bases/{kb}/files/")).await;
        assert_eq!(page["count"], 0);
    })
    .await;
}

#[tokio::test]
async fn deleting_a_file_while_it_is_processing_cancels_its_job() {
    // No workers: the file stays queued, as if a worker were busy with it.
    each_engine_with(
        |config| config.ingest_workers = 0,
        |app| async move {
            let kb = kb_id(&app.kb("k").await);
            let file = app.add_file(&kb, "a.txt", b"hello".to_vec()).await;
            let file_id = id(&file).to_owned();
            let (status, _) =
                app.delete(&format!("/api/v1/knowledge-bases/{kb}/files/{file_id}/")).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            let file_uuid = uuid::Uuid::parse_str(&file_id).unwrap();
            let jobs = app.state.store.read(move |db| db.jobs_for(file_uuid)).await.unwrap();
            assert!(
                jobs.iter().all(|j| j.status != openmai_store::models::JobStatus::Queued),
                "{jobs:?}"
            );
            let pending = app.state.store.read(|db| db.pending_jobs()).await.unwrap();
            assert_eq!(pending, 0);
        },
    )
    .await;
}

#[tokio::test]
async fn documents_contents_and_text_nodes() {
    each_engine(|app| async move {
        let kb = kb_id(&app.kb("docs").await);
        let file = app
            .ingest(&kb, "faq.md", "# 付款\n\n可以用信用卡付款。\n\n# 發票\n\n發票會寄到信箱。\n".as_bytes().to_vec())
            .await;
        let file_id = id(&file).to_owned();

        let (status, docs) = app.get(&format!("/api/v1/knowledge-bases/{kb}/documents/?chatbot_file_id={file_id}")).await;
        assert_eq!(status, StatusCode::OK, "{docs}");
        let first = &docs["results"][0];
        snapshot!(keys(first), @"charactersCount,chatbotFile,content,createdAt,heading,hitsCount,id,knowledgeBase,metadata,ordinal,pageNumber,updatedAt");
        let doc_id = id(first).to_owned();

        // Editing a chunk re-indexes it at once.
        let (status, edited) = app
            .put(&format!("/api/v1/knowledge-bases/{kb}/documents/{doc_id}/"), json!({"content": "可以用街口支付付款。", "metadata": {"v": 2}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        assert_eq!(edited["content"], "可以用街口支付付款。");
        let hits = search(&app, &kb, "街口支付").await;
        assert_eq!(hits[0]["id"], doc_id.as_str(), "{hits}");

        // The parsed text, and an edited version the chunks are rebuilt from.
        let (status, content) = app.get(&format!("/api/v1/chatbot-file-contents/{file_id}/")).await;
        assert_eq!(status, StatusCode::OK, "{content}");
        assert!(content["content"].as_str().unwrap().contains("發票會寄到信箱"));
        let (status, content) = app
            .patch(&format!("/api/v1/chatbot-file-contents/{file_id}/"), json!({"modifiedContent": "# 付款\n\n只收現金。"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{content}");
        assert_eq!(content["modifiedContent"], "# 付款\n\n只收現金。");
        let hits = search(&app, &kb, "現金").await;
        assert!(hits[0]["text"].as_str().unwrap().contains("只收現金"), "{hits}");
        assert!(search(&app, &kb, "發票").await.as_array().unwrap().is_empty());

        let (status, nodes) = app.get(&format!("/api/v1/chatbot-text-nodes/?chatbotFileContent={file_id}")).await;
        assert_eq!(status, StatusCode::OK, "{nodes}");
        snapshot!(keys(&nodes["results"][0]), @"charactersCount,filename,hitsCount,id,pageNumber,text,updatedAt");
        let node = id(&nodes["results"][0]).to_owned();

        let (status, _) = app.delete(&format!("/api/v1/knowledge-bases/{kb}/documents/{node}/")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(search(&app, &kb, "現金").await.as_array().unwrap().is_empty());
    })
    .await;
}

/// A file's text is stored without the copy its chunks already hold, and reads back the same
/// after those chunks are edited or deleted.
#[tokio::test]
async fn a_files_text_reads_back_the_same_after_its_chunks_change() {
    each_engine(|app| async move {
        let kb = kb_id(&app.kb("long").await);
        let text: String = (0..80)
            .map(|i| {
                format!(
                    "第{i}條：旅客於開車前退票，收取手續費。Refunds before departure, rule {i}.\n\n"
                )
            })
            .collect();
        let file = app.ingest(&kb, "rules.md", text.into_bytes()).await;
        let file_id = id(&file).to_owned();
        let content_path = format!("/api/v1/chatbot-file-contents/{file_id}/");
        let (status, before) = app.get(&content_path).await;
        assert_eq!(status, StatusCode::OK, "{before}");
        let parsed = before["content"].as_str().unwrap().to_owned();
        assert!(parsed.starts_with("第0條") && parsed.ends_with("rule 79."), "{parsed}");
        let file_uuid = uuid::Uuid::parse_str(&file_id).unwrap();
        let laid_out = app
            .state
            .store
            .read(move |db| {
                db.query_one(
                    "SELECT layout IS NOT NULL FROM kb_file_contents WHERE file_id = $1",
                    openmai_store::params![file_uuid],
                )?
                .bool(0)
            })
            .await
            .unwrap();
        assert!(laid_out, "the text is kept as the gaps between its chunks");

        let docs_path = format!("/api/v1/knowledge-bases/{kb}/documents/");
        let (_, docs) = app.get(&format!("{docs_path}?chatbot_file_id={file_id}")).await;
        assert!(docs["count"].as_u64().unwrap() >= 3, "{docs}");
        let (first, second) =
            (id(&docs["results"][0]).to_owned(), id(&docs["results"][1]).to_owned());
        let (status, body) =
            app.put(&format!("{docs_path}{first}/"), json!({"content": "改過的段落。"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = app.delete(&format!("{docs_path}{second}/")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, after) = app.get(&content_path).await;
        assert_eq!(status, StatusCode::OK, "{after}");
        assert_eq!(after["content"], parsed.as_str());
    })
    .await;
}

async fn search(app: &TestApp, kb: &str, query: &str) -> Value {
    let (status, hits) =
        app.post(&format!("/api/v1/knowledge-bases/{kb}/search/"), json!({"query": query})).await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    assert!(hits.is_array(), "{hits}");
    hits
}

#[tokio::test]
async fn traditional_and_simplified_chinese_find_each_other() {
    each_engine(|app| async move {
        let kb = kb_id(&app.kb("中文").await);
        let simplified = app
            .ingest(&kb, "简体.txt", "台湾高铁的退票规定：开车前可以免费退票，开车后需要支付手续费。".as_bytes().to_vec())
            .await;
        let traditional = app
            .ingest(&kb, "繁體.txt", "軟體更新後請重新啟動電腦，並確認網路連線正常。".as_bytes().to_vec())
            .await;
        app.ingest(&kb, "english.txt", b"Refund policy: unopened items can be returned within 30 days.".to_vec()).await;

        // Traditional question, Simplified passage.
        let hits = search(&app, &kb, "高鐵退票規定").await;
        assert_eq!(hits[0]["chatbotFile"]["id"], simplified["id"], "{hits}");
        // Simplified question, Traditional passage; multi-word query.
        let hits = search(&app, &kb, "软件更新 重新启动").await;
        assert_eq!(hits[0]["chatbotFile"]["id"], traditional["id"], "{hits}");
        // English, with stemming and case folding.
        let hits = search(&app, &kb, "REFUNDS returned").await;
        assert_eq!(hits[0]["chatbotFile"]["filename"], "english.txt", "{hits}");
        // The example client reads snake_case keys.
        snapshot!(keys(&hits[0]), @"chatbotFile,chatbot_file,faq,heading,id,knowledgeBase,labels,pageNumber,page_number,score,text,type");
        let score = hits[0]["score"].as_f64().unwrap();
        assert!(score > 0.0 && score <= 1.0, "{score}");
        // Nothing relevant: no hits rather than noise.
        assert!(search(&app, &kb, "股票投資").await.as_array().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn faqs_are_searchable_and_cutoff_and_limits_apply() {
    each_engine(|app| async move {
        let kb = kb_id(&app.kb("faq").await);
        let (_, faq) = app
            .post(
                &format!("/api/v1/knowledge-bases/{kb}/faqs/"),
                json!({"question": "營業時間是幾點？", "answer": "週一到週五九點到六點。"}),
            )
            .await;
        for n in 0..5 {
            app.ingest(
                &kb,
                &format!("{n}.txt"),
                format!("第{n}家門市的營業時間不同。").into_bytes(),
            )
            .await;
        }
        let hits = search(&app, &kb, "營業時間").await;
        assert_eq!(hits.as_array().unwrap().len(), 6, "{hits}");
        let faq_hit =
            hits.as_array().unwrap().iter().find(|h| h["type"] == "faq").expect("the FAQ is found");
        assert_eq!(faq_hit["faq"]["id"], faq["id"]);

        let (_, hits) = app
            .post(
                &format!("/api/v1/knowledge-bases/{kb}/search/"),
                json!({"query": "營業時間", "numberOfRetrievedChunks": 2}),
            )
            .await;
        assert_eq!(hits.as_array().unwrap().len(), 2);
        let (_, hits) = app
            .post(
                &format!("/api/v1/knowledge-bases/{kb}/search/"),
                json!({"query": "營業時間", "similarityCutoff": 1.0}),
            )
            .await;
        assert!(hits.as_array().unwrap().len() <= 1, "{hits}");

        let text = app
            .raw(Method::POST, &format!("/api/v1/knowledge-bases/{kb}/search/"), json!({}))
            .await;
        snapshot!(text, @r#"400 {"query":["This field is required."]}"#);
    })
    .await;
}

#[tokio::test]
async fn search_never_crosses_tenants() {
    each_engine(|app| async move {
        let mine = kb_id(&app.kb("mine").await);
        app.ingest(&mine, "secret.txt", "公司的年度營收是三億元。".as_bytes().to_vec()).await;
        let other = app.tenant("other@example.com").await;
        let (status, theirs) = send(
            app.request_as(&other.key, Method::POST, "/api/v1/knowledge-bases/")
                .json(&json!({"name": "theirs"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, hits) = send(
            app.request_as(
                &other.key,
                Method::POST,
                &format!("/api/v1/knowledge-bases/{}/search/", id(&theirs)),
            )
            .json(&json!({"query": "年度營收"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(hits, json!([]));
        let (status, body) = send(
            app.request_as(
                &other.key,
                Method::POST,
                &format!("/api/v1/knowledge-bases/{mine}/search/"),
            )
            .json(&json!({"query": "年度營收"})),
        )
        .await;
        snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
    })
    .await;
}

#[tokio::test]
async fn assistant_file_routes_and_the_csharp_knowledge_base_id_quirk() {
    each_engine(|app| async move {
        let bot = app.chatbot("客服").await;
        let bot_id = id(&bot).to_owned();
        let storage_key = app.upload("guide.txt", "退貨請聯絡客服專線。".as_bytes().to_vec()).await;
        let (status, created) = app
            .post(
                &format!("/api/v1/chatbots/{bot_id}/files/"),
                json!({"files": [{"file": storage_key, "filename": "guide.txt"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let file_id = id(&created[0]).to_owned();
        let kb = created[0]["knowledgeBase"].as_str().unwrap().to_owned();
        app.settle(&kb, &file_id).await;

        let (status, page) = app.get(&format!("/api/v1/chatbots/{bot_id}/files/")).await;
        assert_eq!((status, page["count"].clone()), (StatusCode::OK, json!(1)));
        let (status, renamed) = app
            .patch(
                &format!("/api/v1/chatbots/{bot_id}/files/{file_id}/"),
                json!({"filename": "客服指南.txt"}),
            )
            .await;
        assert_eq!(
            (status, renamed["filename"].clone()),
            (StatusCode::OK, json!("客服指南.txt")),
            "{renamed}"
        );
        let (status, hits) =
            app.post(&format!("/api/v1/chatbots/{bot_id}/search/"), json!({"query": "退貨"})).await;
        assert_eq!(status, StatusCode::OK, "{hits}");
        assert_eq!(hits[0]["chatbotFile"]["filename"], "客服指南.txt");
        assert_eq!(hits[0]["chatbot_file"]["filename"], "客服指南.txt");
        let (status, latest) = app
            .get(&format!("/api/v1/chatbots/{bot_id}/files/{file_id}/latest-failed-reason/"))
            .await;
        assert_eq!((status, latest["status"].clone()), (StatusCode::OK, json!("done")));

        // delete_knowledge_file.cs passes the knowledge-base id as the chatbot id.
        let (status, body) = app.delete(&format!("/api/v1/chatbots/{kb}/files/{file_id}/")).await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
        let (_, page) = app.get(&format!("/api/v1/chatbots/{bot_id}/files/")).await;
        assert_eq!(page["count"], 0);
    })
    .await;
}

#[tokio::test]
async fn parsers_and_supported_file_types() {
    each_engine(|app| async move {
        let (status, page) = app.get("/api/v1/parsers/").await;
        assert_eq!(status, StatusCode::OK);
        let parser = &page["results"][0];
        assert!(is_uuid(&parser["id"]));
        snapshot!(keys(parser), @"id,name,priority,provider");
        let (status, one) = app.get(&format!("/api/v1/parsers/{}/", id(parser))).await;
        assert_eq!((status, one["id"].clone()), (StatusCode::OK, parser["id"].clone()));
        let (status, types) = app.get("/api/v1/parsers/supported-file-types/").await;
        assert_eq!(status, StatusCode::OK);
        let listed: Vec<String> = types
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{} {}", t["fileType"].as_str().unwrap(), t["extensions"]))
            .collect();
        snapshot!(listed.join("\n"), @r#"
PDF [".pdf"]
DOCX [".docx"]
PPTX [".pptx"]
XLSX [".xlsx"]
CSV [".csv",".tsv"]
HTML [".html",".htm",".xhtml"]
Markdown [".md",".markdown"]
TXT [".txt",".text"]
"#);
    })
    .await;
}

/// With S3 storage the form posts straight to the bucket (moto here), and ingestion,
/// download and delete work against it.
#[tokio::test]
async fn uploads_go_to_s3_compatible_storage() {
    let dir = tempfile::tempdir().unwrap();
    let moto = openmai_blobs::testing::Moto::start(dir.path()).await;
    moto.create_bucket("openmai-files").await;
    let endpoint = moto.endpoint.clone();
    each_engine_with(
        |config| {
            config.storage = openmai_server::config::StorageKind::S3;
            config.s3 = Some(openmai_server::config::S3Settings {
                endpoint: Some(endpoint.parse().unwrap()),
                bucket: "openmai-files".into(),
                region: "us-east-1".into(),
                access_key_id: "testing".into(),
                secret_access_key: "testing".to_owned().into(),
                path_style: true,
                public_url: None,
            });
        },
        |app| {
            let endpoint = endpoint.clone();
            async move {
                let kb = kb_id(&app.kb("s3").await);
                let (url, fields) = app.presign_as(&app.key.clone(), "退貨.txt", 100).await;
                assert_eq!(url, format!("{endpoint}/openmai-files"));
                let text = "退貨請在七天內申請。".as_bytes().to_vec();
                let (status, body) = app.post_form(&url, &fields, "退貨.txt", text.clone()).await;
                assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
                let key = fields.iter().find(|(k, _)| k == "key").unwrap().1.clone();
                let (status, created) = app
                    .post(
                        &format!("/api/v1/knowledge-bases/{kb}/files/"),
                        json!({"files": [{"file": key, "filename": "退貨.txt"}]}),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{created}");
                let file = app.settle(&kb, id(&created[0])).await;
                assert_eq!(file["status"], "done", "{file}");
                assert_eq!(search(&app, &kb, "退貨").await[0]["chatbotFile"]["id"], file["id"]);
                let (status, _, body) = crate::helpers::send_raw(app.request(
                    Method::GET,
                    &format!("/api/v1/knowledge-bases/{kb}/files/{}/download/", id(&file)),
                ))
                .await;
                assert_eq!((status, body.into_bytes()), (StatusCode::OK, text));

                let (status, _) =
                    app.delete(&format!("/api/v1/knowledge-bases/{kb}/files/{}/", id(&file))).await;
                assert_eq!(status, StatusCode::NO_CONTENT);
                let stored =
                    app.client.get(format!("{endpoint}/openmai-files/{key}")).send().await.unwrap();
                assert_eq!(stored.status(), StatusCode::NOT_FOUND, "the object is deleted too");
            }
        },
    )
    .await;
    moto.stop().await;
}
