//! Gemini's native API: `POST {base}/models/{model}:streamGenerateContent?alt=sse` with
//! `x-goog-api-key`, answered by SSE `data:` events that each carry a `GenerateContentResponse`
//! (text parts, whole `functionCall` parts, a `finishReason` and cumulative `usageMetadata`).

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eventsource_stream::Event;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::decode::{
    Decoder, Progress, arguments_object, chat_stream, check_images, error_message, error_status,
    missing_call_id, push_text,
};
use super::{
    ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatSettings, ChatStream, FinishReason, Part,
    Role, ToolCall, Usage,
};
use crate::BoxFuture;
use crate::error::{ModelError, Origin, Service};
use crate::http::{KeyHeader, StreamErrors, Transport};
use crate::options::ClientOptions;
use crate::provider::ProviderSettings;

/// Joins a call id and its thought signature (see [`GeminiChat`]). Signatures are base64, so
/// they never contain it.
const SIGNATURE_MARK: &str = "#thought:";

/// A Gemini model behind the native Generative Language API (default base
/// `https://generativelanguage.googleapis.com/v1beta`).
///
/// [`ProviderKind::Gemini`](crate::ProviderKind::Gemini)'s default base URL is the
/// OpenAI-compatible surface (`…/v1beta/openai`, used for embeddings), so one provider
/// setting serves both: a base URL ending in `/openai` has that segment removed here.
///
/// Gemini gives function calls no id (or only sometimes), so calls are numbered `call_0`,
/// `call_1`… per answer; a tool result's function name, which Gemini wants back, is looked up
/// from the assistant call with that id earlier in the history. Gemini 3 models also attach a
/// `thoughtSignature` to function calls and refuse history that does not return it; as
/// [`ToolCall`] has no field for it, it travels inside the call's id (`call_0#thought:…`), so
/// history replayed from storage keeps working.
#[derive(Debug)]
pub struct GeminiChat {
    transport: Transport,
    model: String,
    settings: ChatSettings,
}

impl GeminiChat {
    pub fn new(
        provider: &ProviderSettings,
        model: &str,
        options: ClientOptions,
        settings: ChatSettings,
    ) -> Result<GeminiChat, ModelError> {
        let transport = Transport::with_key_header(
            provider.origin(Service::Chat, model),
            native_base_url(provider.base_url_or_default()),
            provider.api_key.as_ref(),
            KeyHeader::Named("x-goog-api-key"),
            options,
        )?;
        Ok(GeminiChat { transport, model: model.to_owned(), settings })
    }

    fn body(&self, request: &ChatRequest) -> Result<Value, ModelError> {
        let origin = self.transport.origin();
        check_images(request, self.settings.accepts_images, origin)?;
        // (role, parts), consecutive roles merged: the results of parallel calls must come
        // back together in one turn.
        let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
        for (position, message) in request.messages.iter().enumerate() {
            let mut parts: Vec<Value> = Vec::new();
            let role = match message.role {
                Role::User => {
                    parts.extend(message.content.iter().filter_map(content_part));
                    "user"
                }
                Role::Assistant => {
                    parts.extend(message.content.iter().filter_map(content_part));
                    for call in &message.tool_calls {
                        let mut part = json!({"functionCall": {
                            "name": call.name,
                            "args": arguments_object(call, origin)?,
                        }});
                        if let Some((_, signature)) = call.id.split_once(SIGNATURE_MARK) {
                            part["thoughtSignature"] = json!(signature);
                        }
                        parts.push(part);
                    }
                    "model"
                }
                Role::Tool => {
                    let id =
                        message.tool_call_id.as_deref().ok_or_else(|| missing_call_id(origin))?;
                    if message.content.iter().any(|part| matches!(part, Part::Image { .. })) {
                        return Err(ModelError::Unsupported {
                            origin: origin.clone(),
                            reason: "Gemini takes only text in tool results".into(),
                        });
                    }
                    let name =
                        called_function(&request.messages[..position], id).ok_or_else(|| {
                            ModelError::Unsupported {
                                origin: origin.clone(),
                                reason: format!(
                                    "the tool result for call {} answers no earlier tool call",
                                    id.split_once(SIGNATURE_MARK).map_or(id, |(id, _)| id)
                                ),
                            }
                        })?;
                    parts.push(json!({"functionResponse": {
                        "name": name,
                        "response": {"content": message.text_content()},
                    }}));
                    "user"
                }
            };
            if parts.is_empty() {
                continue;
            }
            match turns.last_mut() {
                Some((last, previous)) if *last == role => previous.extend(parts),
                _ => turns.push((role, parts)),
            }
        }
        let contents: Vec<Value> =
            turns.into_iter().map(|(role, parts)| json!({"role": role, "parts": parts})).collect();
        let mut body = json!({"contents": contents});
        if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
            body["systemInstruction"] = json!({"parts": [{"text": system}]});
        }
        if !request.tools.is_empty() {
            // `parametersJsonSchema`, not `parameters`: the latter is an OpenAPI subset that
            // refuses common JSON Schema keywords (`additionalProperties`, `$schema`).
            let declarations: Vec<Value> = request
                .tools
                .iter()
                .map(|tool| {
                    json!({
                        "name": tool.name,
                        "description": tool.description,
                        "parametersJsonSchema": tool.parameters,
                    })
                })
                .collect();
            body["tools"] = json!([{"functionDeclarations": declarations}]);
        }
        let mut config = serde_json::Map::new();
        if let Some(max_tokens) = request.max_tokens {
            config.insert("maxOutputTokens".into(), json!(max_tokens));
        }
        if let Some(temperature) = request.temperature {
            config.insert("temperature".into(), json!(temperature));
        }
        if !config.is_empty() {
            body["generationConfig"] = Value::Object(config);
        }
        Ok(body)
    }

    async fn start(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let body = self.body(&request)?;
        let model = self.model.strip_prefix("models/").unwrap_or(&self.model);
        let path = format!("models/{model}:streamGenerateContent");
        let events = self.transport.post_events(&path, &[("alt", "sse")], &body).await?;
        Ok(chat_stream(events, GeminiDecoder::new(self.transport.stream_errors())))
    }
}

remote_chat_model!(GeminiChat);

/// The base URL of the native API: the configured one without a trailing `/openai`.
fn native_base_url(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/');
    if let Some(native) = path.strip_suffix("/openai") {
        let native = native.to_owned();
        url.set_path(&native);
    }
    url
}

/// The function the latest assistant call with `id` (before a tool result) named.
fn called_function<'a>(history: &'a [ChatMessage], id: &str) -> Option<&'a str> {
    history
        .iter()
        .rev()
        .filter(|message| message.role == Role::Assistant)
        .flat_map(|message| message.tool_calls.iter().rev())
        .find(|call| call.id == id)
        .map(|call| call.name.as_str())
}

/// A text or inline-data part; `None` for empty text, which Gemini refuses.
fn content_part(part: &Part) -> Option<Value> {
    match part {
        Part::Text(text) if text.is_empty() => None,
        Part::Text(text) => Some(json!({"text": text})),
        Part::Image { media_type, data } => {
            Some(json!({"inlineData": {"mimeType": media_type, "data": BASE64.encode(data)}}))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<ResponsePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponsePart {
    #[serde(default)]
    text: Option<String>,
    /// A thought summary (with `includeThoughts`): not part of the answer.
    #[serde(default)]
    thought: bool,
    #[serde(default)]
    function_call: Option<FunctionCall>,
    #[serde(default)]
    thought_signature: Option<String>,
}

#[derive(Deserialize)]
struct FunctionCall {
    name: String,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    /// Thinking tokens, billed as output.
    #[serde(default)]
    thoughts_token_count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

struct GeminiDecoder {
    errors: StreamErrors,
    calls: usize,
    finish: Option<FinishReason>,
    /// Cumulative in every chunk; reported once, at the end.
    usage: Option<Usage>,
}

impl GeminiDecoder {
    fn new(errors: StreamErrors) -> Self {
        GeminiDecoder { errors, calls: 0, finish: None, usage: None }
    }
}

impl Decoder for GeminiDecoder {
    fn event(
        &mut self,
        event: &Event,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<Progress, ModelError> {
        let chunk: Chunk = serde_json::from_str(&event.data).map_err(|err| {
            self.errors.invalid(&format!("a chunk of the answer is not valid ({err})"))
        })?;
        if let Some(error) = chunk.error {
            return Err(self.errors.provider(error_status(&error), &error_message(&error)));
        }
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(Usage {
                input_tokens: usage.prompt_token_count,
                output_tokens: usage.candidates_token_count + usage.thoughts_token_count,
            });
        }
        if chunk.prompt_feedback.and_then(|feedback| feedback.block_reason).is_some() {
            // The prompt itself was blocked: no candidates follow.
            self.finish = Some(FinishReason::ContentFilter);
        }
        // One candidate is asked for (no `candidateCount`).
        if let Some(candidate) = chunk.candidates.into_iter().next() {
            for part in candidate.content.map(|content| content.parts).unwrap_or_default() {
                if let Some(call) = part.function_call {
                    let mut id = call
                        .id
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| format!("call_{}", self.calls));
                    if let Some(signature) = part.thought_signature.filter(|s| !s.is_empty()) {
                        id = format!("{id}{SIGNATURE_MARK}{signature}");
                    }
                    let arguments = match call.args {
                        Some(args @ Value::Object(_)) => args.to_string(),
                        _ => "{}".to_owned(),
                    };
                    out.push_back(ChatEvent::ToolCall(ToolCall { id, name: call.name, arguments }));
                    self.calls += 1;
                } else if !part.thought {
                    push_text(out, part.text.as_deref().unwrap_or_default());
                }
            }
            if let Some(reason) = candidate.finish_reason {
                self.finish = Some(match reason.as_str() {
                    "STOP" if self.calls > 0 => FinishReason::ToolCalls,
                    "STOP" => FinishReason::Stop,
                    "MAX_TOKENS" => FinishReason::Length,
                    "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII"
                    | "IMAGE_SAFETY" => FinishReason::ContentFilter,
                    _ => FinishReason::Other(reason),
                });
            }
        }
        Ok(Progress::More)
    }

    /// Gemini has no end marker: the body ends after the chunk with `finishReason`.
    fn end(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), ModelError> {
        let Some(finish) = self.finish.take() else {
            return Err(self.errors.cut_off());
        };
        if let Some(usage) = self.usage.take() {
            out.push_back(ChatEvent::Usage(usage));
        }
        out.push_back(ChatEvent::Finish(finish));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openai_suffix_is_removed_from_the_base_url() {
        let native = |url: &str| native_base_url(Url::parse(url).unwrap()).to_string();
        assert_eq!(
            native("https://generativelanguage.googleapis.com/v1beta/openai"),
            "https://generativelanguage.googleapis.com/v1beta"
        );
        assert_eq!(native("http://127.0.0.1:8/v1beta/openai/"), "http://127.0.0.1:8/v1beta");
        assert_eq!(native("http://127.0.0.1:8/v1beta"), "http://127.0.0.1:8/v1beta");
        assert_eq!(native("http://127.0.0.1:8/v1/openaix"), "http://127.0.0.1:8/v1/openaix");
    }
}
