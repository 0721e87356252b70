//! Webhook deliveries: a reply is POSTed to its assistant's `webhookUrl` as the message JSON
//! of the API (`type: "outgoing"`, `content`, `citations`, `createdAt`…), signed so the
//! receiver can tell it came from here:
//!
//! `X-OpenMai-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhookSecret, "<t>.<body>")>`
//!
//! (the timestamp is signed too, so an old delivery cannot be replayed as new). Each attempt
//! is recorded (`chatbots/{id}/webhook-records/`); anything but a 2xx is retried with back-off.

use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use openmai_store::models::{Chatbot, Message, WebhookRecord};
use openmai_types::Timestamp;
use sha2::Sha256;
use url::Url;

use crate::api::messages::MessageView;
use crate::state::AppState;
use crate::wire::links::RequestUrl;

/// Characters of the receiver's answer kept in the record.
const RESPONSE_CHARS: usize = 2000;

pub const SIGNATURE_HEADER: &str = "x-openmai-signature";

/// The signature header's value for `body` sent at `unix_seconds`.
pub fn signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{unix_seconds}.").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_seconds},v1={hex}")
}

/// How one delivery went.
pub enum Delivery {
    /// The receiver answered 2xx.
    Delivered,
    /// Try again later (no answer, or not a 2xx); the reason.
    Failed(String),
    /// Never deliverable: the URL is refused (a private address, say); the reason.
    Refused(String),
}

/// Links in webhook bodies point here: the public URL, else the address the server listens on.
pub fn links(state: &AppState) -> RequestUrl {
    let base = match &state.config.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("http://{}", state.config.bind),
    };
    RequestUrl { base, path: String::new(), query: Vec::new() }
}

/// POSTs `message` to the assistant's webhook once and records the attempt.
pub async fn deliver(
    state: &AppState,
    chatbot: &Chatbot,
    url: &str,
    message: Message,
    attempt: i64,
) -> anyhow::Result<Delivery> {
    let message_id = message.id;
    let body = serde_json::to_value(MessageView::new(message, &links(state)))?;
    let bytes = serde_json::to_vec(&body)?;
    let started = Instant::now();
    let mut record = WebhookRecord {
        id: uuid::Uuid::nil(),
        organization_id: chatbot.organization_id,
        chatbot_id: chatbot.id,
        message_id: Some(message_id),
        url: url.to_owned(),
        request_body: body,
        status_code: None,
        response: String::new(),
        error: None,
        attempt,
        duration_ms: 0,
        created_at: Timestamp(0),
    };
    let outbound = &state.chat.outbound;
    let parsed = Url::parse(url).map_err(|e| e.to_string()).and_then(|u| {
        outbound.check(&u).map_err(|e| e.to_string())?;
        Ok(u)
    });
    let delivery = match parsed {
        Err(reason) => {
            record.error = Some(reason.clone());
            Delivery::Refused(reason)
        }
        Ok(target) => {
            let now = Timestamp::now().millis() / 1000;
            let sent = outbound
                .client()
                .post(target)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signature(&chatbot.webhook_secret, now, &bytes))
                .header("x-openmai-event", "message")
                .body(bytes)
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let status = response.status();
                    record.status_code = Some(i64::from(status.as_u16()));
                    let text = response.text().await.unwrap_or_default();
                    record.response = text.chars().take(RESPONSE_CHARS).collect();
                    if status.is_success() {
                        Delivery::Delivered
                    } else {
                        Delivery::Failed(format!("The receiver answered {status}."))
                    }
                }
                Err(err) => {
                    let reason = describe(&err);
                    record.error = Some(reason.clone());
                    if reason.contains("not a public address") {
                        Delivery::Refused(reason)
                    } else {
                        Delivery::Failed(reason)
                    }
                }
            }
        }
    };
    record.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    state.store.write(move |db| db.insert_webhook_record(&record)).await?;
    let _ = state.chat.happened.send(crate::chat::Happened::Delivered {
        chatbot: chatbot.id,
        message: message_id,
        delivered: matches!(delivery, Delivery::Delivered),
    });
    Ok(delivery)
}

/// A request failure in one line, with its causes (the resolver's refusal, say).
fn describe(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let what = if err.is_timeout() {
        "The receiver did not answer in time"
    } else if err.is_connect() {
        "The receiver could not be reached"
    } else {
        "The delivery failed"
    };
    let mut causes = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes.dedup();
    if causes.is_empty() { format!("{what}.") } else { format!("{what}: {}.", causes.join(": ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_time_and_the_body() {
        let a = signature("secret", 1_700_000_000, b"{\"content\":\"hi\"}");
        assert!(a.starts_with("t=1700000000,v1="), "{a}");
        assert_eq!(a.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(a, signature("secret", 1_700_000_001, b"{\"content\":\"hi\"}"));
        assert_ne!(a, signature("secret", 1_700_000_000, b"{\"content\":\"ho\"}"));
        assert_ne!(a, signature("other", 1_700_000_000, b"{\"content\":\"hi\"}"));
        // Python: hmac.new(b"secret", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
