//! The console's form bodies, for the OpenAPI document only: the handlers read them as
//! [`super::Fields`].

#![allow(dead_code)]

use utoipa::ToSchema;

/// The login form.
#[derive(ToSchema)]
pub struct LoginForm {
    email: String,
    password: String,
}

/// A form that only carries the session's CSRF token.
#[derive(ToSchema)]
pub struct CsrfForm {
    /// The session's CSRF token, from the page the form is on.
    csrf: String,
}

/// The assistant form. `knowledgeBases` repeats once per linked knowledge base; an unticked
/// `enableChineseConversion` is not sent; blank templates and webhook URL mean none.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ChatbotForm {
    csrf: String,
    name: String,
    /// A chat model id from the catalogue.
    large_language_model: String,
    /// `normal`, `template`, `hybrid` or `agent`.
    reply_mode: String,
    instructions: String,
    /// The answer template (`{{ answer }}`, `{{ question }}`).
    template: Option<String>,
    /// What to answer when nothing matches (`{{ question }}`).
    unanswerable_template: Option<String>,
    /// A knowledge base of the organisation to link (repeated).
    knowledge_bases: Option<Vec<String>>,
    /// Where new messages are POSTed, signed with the assistant's webhook secret.
    webhook_url: Option<String>,
    /// Present (any value) to convert answers to Taiwan Traditional Chinese.
    enable_chinese_conversion: Option<String>,
    /// Passages per answer (1–100).
    number_of_retrieved_chunks: String,
}

/// The new-API-key form.
#[derive(ToSchema)]
pub struct ApiKeyForm {
    csrf: String,
    /// A label to recognise the key by.
    name: String,
}

/// The new-organisation form.
#[derive(ToSchema)]
pub struct OrganizationForm {
    csrf: String,
    name: String,
}

/// The knowledge-base form. Numbers are sent as typed; `chatbots` repeats once per linked
/// assistant; an unticked `enableRerank` is not sent.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct KnowledgeBaseForm {
    csrf: String,
    name: String,
    description: Option<String>,
    /// An assistant of the organisation to link (repeated).
    chatbots: Option<Vec<String>>,
    number_of_retrieved_chunks: String,
    similarity_cutoff: String,
    chunk_size: String,
    chunk_overlap: String,
    /// An embedding model id from the catalogue; empty for keyword search only.
    embedding_model: Option<String>,
    /// A reranker model id from the catalogue; empty for none.
    reranker_model: Option<String>,
    /// Present (any value) when reranking is on.
    enable_rerank: Option<String>,
}

/// The FAQ form.
#[derive(ToSchema)]
pub struct FaqForm {
    csrf: String,
    question: String,
    answer: String,
    /// A label of the knowledge base (repeated).
    labels: Option<Vec<String>>,
}

/// The form naming a label.
#[derive(ToSchema)]
pub struct LabelForm {
    csrf: String,
    name: String,
}

/// A file's labels.
#[derive(ToSchema)]
pub struct FileLabelsForm {
    csrf: String,
    /// A label of the knowledge base (repeated); none clears them.
    labels: Option<Vec<String>>,
}

/// The search test.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SearchForm {
    csrf: String,
    query: String,
    /// Hits to return; empty for the knowledge base's setting.
    number_of_retrieved_chunks: Option<String>,
}

/// Asks for a form to upload one file (JSON, with the session's CSRF token in
/// `X-CSRFToken`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UploadPresignInput {
    filename: String,
    /// The file's exact size in bytes; the upload may not exceed it.
    file_size: u64,
}

/// Registers uploaded files in the knowledge base (JSON, with `X-CSRFToken`).
#[derive(ToSchema)]
pub struct UploadRegisterInput {
    files: Vec<UploadedFile>,
}

#[derive(ToSchema)]
pub struct UploadedFile {
    /// The `key` field of the upload form.
    file: String,
    filename: String,
}
