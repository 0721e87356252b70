//! `openmai kb …`: knowledge bases from the command line, through a running server's API —
//! the same presigned uploads and registrations any MaiAgent client makes, so it works beside
//! the server (which owns the embedded index) and against any replica.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

use crate::FILE_STREAM_READ_BYTES;

/// Where the server is, and the key to use.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The server's address.
    #[arg(long, env = "OPENMAI_URL", default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// An API key (Account → API keys in the console, or `openmai api-key create`).
    #[arg(long, env = "OPENMAI_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    pub fn new(args: &ApiArgs) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
        Ok(Client {
            http,
            base: args.url.trim_end_matches('/').to_owned(),
            key: args.api_key.clone(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{}", self.base, path.trim_start_matches('/'))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .header("Authorization", format!("Api-Key {}", self.key))
            .send()
            .await
            .with_context(|| format!("cannot reach OpenMai at {}", self.base))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{} {}", status.as_u16(), text);
        }
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// A knowledge base by id or by exact name.
    pub async fn find_kb(&self, name_or_id: &str) -> anyhow::Result<Value> {
        let mut path = "knowledge-bases/?pageSize=1000".to_owned();
        loop {
            let page = self.get(&path).await?;
            for kb in page["results"].as_array().into_iter().flatten() {
                if kb["id"] == name_or_id || kb["name"] == name_or_id {
                    return Ok(kb.clone());
                }
            }
            match page["next"].as_str() {
                Some(next) => path = next.split("/api/v1/").nth(1).unwrap_or_default().to_owned(),
                None => bail!("no knowledge base is named or has the id {name_or_id:?}"),
            }
        }
    }

    /// `openmai kb create`.
    pub async fn create_kb(&self, name: &str, description: Option<&str>) -> anyhow::Result<Value> {
        self.post("knowledge-bases/", &json!({ "name": name, "description": description })).await
    }

    /// Uploads one file the MaiAgent way and returns its storage key.
    async fn upload(&self, path: &Path) -> anyhow::Result<(String, String)> {
        let filename = path.file_name().and_then(|n| n.to_str()).context("file name")?.to_owned();
        let size = tokio::fs::metadata(path).await?.len();
        let form = self
            .post("upload-presigned-url/", &json!({
                "filename": filename, "modelName": "chatbot-file", "fieldName": "file", "fileSize": size,
            }))
            .await?;
        let url = form["url"].as_str().context("no url in the presigned form")?;
        let mut multipart = reqwest::multipart::Form::new();
        let mut key = String::new();
        for (name, value) in form["fields"].as_object().into_iter().flatten() {
            let value = value.as_str().unwrap_or_default().to_owned();
            if name == "key" {
                key.clone_from(&value);
            }
            multipart = multipart.text(name.clone(), value);
        }
        let file = tokio::fs::File::open(path).await?;
        let body =
            reqwest::Body::wrap_stream(ReaderStream::with_capacity(file, FILE_STREAM_READ_BYTES));
        multipart = multipart.part(
            "file",
            reqwest::multipart::Part::stream_with_length(body, size).file_name(filename.clone()),
        );
        let response = self.http.post(url).multipart(multipart).send().await?;
        if response.status() != reqwest::StatusCode::NO_CONTENT {
            bail!(
                "the upload of {} was refused: {} {}",
                path.display(),
                response.status(),
                response.text().await?
            );
        }
        Ok((key, filename))
    }

    /// `openmai kb ingest`: uploads files and folders, registers them, and follows their
    /// processing with a progress bar. Returns (done, failed with reasons).
    pub async fn ingest(
        &self,
        kb: &str,
        paths: &[PathBuf],
    ) -> anyhow::Result<(usize, Vec<(String, String)>)> {
        let kb = self.find_kb(kb).await?;
        let kb_id = kb["id"].as_str().context("knowledge base id")?.to_owned();
        let files = collect_files(paths)?;
        if files.is_empty() {
            bail!("no files of a supported type under the given paths");
        }
        let bar = ProgressBar::new(files.len() as u64 * 2);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {msg}")?
                .progress_chars("=> "),
        );
        bar.set_message("uploading");
        let mut failed: Vec<(String, String)> = Vec::new();
        // Registered files not yet done or failed: id → name.
        let mut registered: std::collections::HashMap<String, String> = Default::default();
        // Files are registered in batches, and each batch starts processing at once: the
        // first batches are small, so the server starts on the first file while the rest
        // upload; later ones save requests.
        let mut rest = &files[..];
        let mut batch_size = 1;
        while !rest.is_empty() {
            let (batch, tail) = rest.split_at(batch_size.min(rest.len()));
            rest = tail;
            batch_size = (batch_size * 2).min(20);
            let mut entries = Vec::new();
            for path in batch {
                // One refused file (too large, say) does not stop the others.
                match self.upload(path).await {
                    Ok((key, filename)) => {
                        entries.push(json!({ "file": key, "filename": filename }));
                    }
                    Err(err) => {
                        failed.push((path.display().to_string(), err.to_string()));
                        bar.inc(1);
                    }
                }
                bar.inc(1);
            }
            if entries.is_empty() {
                continue;
            }
            let created = self
                .post(&format!("knowledge-bases/{kb_id}/files/"), &json!({ "files": entries }))
                .await?;
            registered.extend(created.as_array().into_iter().flatten().filter_map(|f| {
                Some((f["id"].as_str()?.to_owned(), f["filename"].as_str()?.to_owned()))
            }));
        }
        bar.set_message("processing");
        let mut done = 0;
        while !registered.is_empty() {
            let mut path = format!("knowledge-bases/{kb_id}/files/?pageSize=1000");
            let mut seen = std::collections::HashSet::new();
            loop {
                let page = self.get(&path).await?;
                for file in page["results"].as_array().into_iter().flatten() {
                    let id = file["id"].as_str().unwrap_or_default();
                    seen.insert(id.to_owned());
                    let status = file["status"].as_str().unwrap_or_default();
                    if !matches!(status, "done" | "failed") || registered.remove(id).is_none() {
                        continue;
                    }
                    bar.inc(1);
                    if status == "done" {
                        done += 1;
                    } else {
                        failed.push((
                            file["filename"].as_str().unwrap_or_default().to_owned(),
                            file["failedReason"].as_str().unwrap_or_default().to_owned(),
                        ));
                    }
                }
                match page["next"].as_str() {
                    Some(next) => {
                        path = next.split("/api/v1/").nth(1).unwrap_or_default().to_owned();
                    }
                    None => break,
                }
            }
            // Someone deleted these meanwhile.
            registered.retain(|id, name| {
                let gone = !seen.contains(id);
                if gone {
                    failed.push((name.clone(), "deleted before it was processed".into()));
                    bar.inc(1);
                }
                !gone
            });
            if !registered.is_empty() {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        bar.finish_and_clear();
        Ok((done, failed))
    }

    /// `openmai kb search`.
    pub async fn search(
        &self,
        kb: &str,
        query: &str,
        limit: Option<usize>,
    ) -> anyhow::Result<Vec<Value>> {
        let kb = self.find_kb(kb).await?;
        let kb_id = kb["id"].as_str().context("knowledge base id")?;
        let mut body = json!({ "query": query });
        if let Some(limit) = limit {
            body["numberOfRetrievedChunks"] = json!(limit);
        }
        let hits = self.post(&format!("knowledge-bases/{kb_id}/search/"), &body).await?;
        Ok(hits.as_array().cloned().unwrap_or_default())
    }
}

/// What `openmai chat` prints after the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEnd {
    pub conversation: String,
    /// The cited files (`name, p. N`), in citation order.
    pub sources: Vec<String>,
}

impl Client {
    /// An assistant by id or by exact name.
    pub async fn find_chatbot(&self, name_or_id: &str) -> anyhow::Result<Value> {
        let mut path = "chatbots/?pageSize=1000".to_owned();
        loop {
            let page = self.get(&path).await?;
            for chatbot in page["results"].as_array().into_iter().flatten() {
                if chatbot["id"] == name_or_id || chatbot["name"] == name_or_id {
                    return Ok(chatbot.clone());
                }
            }
            match page["next"].as_str() {
                Some(next) => path = next.split("/api/v1/").nth(1).unwrap_or_default().to_owned(),
                None => bail!("no assistant is named or has the id {name_or_id:?}"),
            }
        }
    }

    /// `openmai chat`: asks an assistant through the streaming completions API, handing each
    /// piece of the answer to `piece` as it arrives, and returns the conversation (to continue
    /// it) and the sources the answer cites.
    pub async fn chat(
        &self,
        assistant: &str,
        question: &str,
        conversation: Option<&str>,
        mut piece: impl FnMut(&str),
    ) -> anyhow::Result<ChatEnd> {
        use eventsource_stream::Eventsource;
        use futures::StreamExt;

        let chatbot = self.find_chatbot(assistant).await?;
        let id = chatbot["id"].as_str().context("assistant id")?;
        let body = json!({
            "conversation": conversation,
            "message": { "content": question },
            "isStreaming": true,
        });
        let response = self
            .http
            .post(self.url(&format!("chatbots/{id}/completions/")))
            .header("Authorization", format!("Api-Key {}", self.key))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach OpenMai at {}", self.base))?;
        let status = response.status();
        if !status.is_success() {
            bail!("{} {}", status.as_u16(), response.text().await?);
        }
        let mut events = response.bytes_stream().eventsource();
        let mut conversation_id = None;
        while let Some(event) = events.next().await {
            let event = event.context("the answer stream broke off")?;
            let chunk: Value = serde_json::from_str(&event.data)
                .with_context(|| format!("unreadable event {:?}", event.data))?;
            conversation_id = chunk["conversationId"].as_str().map(str::to_owned);
            if chunk["done"] == true {
                if let Some(error) = chunk["error"].as_str() {
                    bail!("the answer stopped: {error}");
                }
                break;
            }
            piece(chunk["content"].as_str().unwrap_or_default());
        }
        let conversation = conversation_id.context("the answer named no conversation")?;
        let latest = self.get(&format!("messages/?conversation={conversation}&pageSize=1")).await?;
        let sources = latest["results"][0]["citationNodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|node| {
                let node = &node["chatbotTextNode"];
                let name = node["filename"].as_str().unwrap_or_default();
                match node["pageNumber"].as_i64() {
                    Some(page) => format!("{name}, p. {page}"),
                    None => name.to_owned(),
                }
            })
            .fold(Vec::new(), |mut sources: Vec<String>, source| {
                if !sources.contains(&source) {
                    sources.push(source);
                }
                sources
            });
        Ok(ChatEnd { conversation, sources })
    }
}

/// Files under `paths` (folders recursively) whose extension OpenMai parses, sorted.
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let supported = |path: &Path| {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| openmai_ingest::Format::from_extension(&e.to_lowercase()).is_some())
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in walkdir::WalkDir::new(path).follow_links(false) {
                let entry = entry?;
                if entry.file_type().is_file() && supported(entry.path()) {
                    files.push(entry.into_path());
                }
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            bail!("{} does not exist", path.display());
        }
    }
    files.sort();
    Ok(files)
}
