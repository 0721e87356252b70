//! Plain records as stored. The HTTP layer turns them into the API's shapes.

use openmai_types::Timestamp;
use uuid::Uuid;

/// A fresh primary key: time-ordered (v7), so new rows land at the end of the index.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    /// Always lower-case; logins compare lower-cased input.
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub avatar: Option<String>,
    pub company: String,
    pub invitation_code: String,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub company: String,
    pub invitation_code: String,
}

/// The editable part of a user's profile.
#[derive(Debug, Clone)]
pub struct UserProfile {
    pub name: String,
    pub email: String,
    pub avatar: Option<String>,
    pub company: String,
    pub invitation_code: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A user's membership of an organisation, with the user's details.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub is_owner: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the key, shown so people can tell keys apart.
    pub prefix: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub key_hash: Vec<u8>,
}

/// Who a live API key acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyOwner {
    pub key_id: Uuid,
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub last_used_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub organization_id: Option<Uuid>,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    pub id: Uuid,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeBaseRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chatbot {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub large_language_model_id: Uuid,
    pub rag_id: Uuid,
    pub embedding_model_id: Option<Uuid>,
    pub reranker_model_id: Option<Uuid>,
    pub instructions: String,
    pub webhook_url: Option<String>,
    pub reply_mode: String,
    pub template: Option<String>,
    pub unanswerable_template: Option<String>,
    pub enable_chinese_conversion: bool,
    pub output_mode: String,
    pub output_format: Option<serde_json::Value>,
    pub number_of_retrieved_chunks: i64,
    pub total_words_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Linked knowledge bases, ordered by name.
    pub knowledge_bases: Vec<KnowledgeBaseRef>,
    /// The key its webhooks are signed with (assigned when the assistant is created).
    pub webhook_secret: String,
    /// Its API web chat (`apiWebChatId`), created with it.
    pub api_web_chat_id: Option<Uuid>,
}

/// Which page of a list to read. `Last` is DRF's `?page=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageNumber {
    Number(u64),
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub number: PageNumber,
    pub size: u64,
}

impl PageRequest {
    pub fn first(size: u64) -> Self {
        PageRequest { number: PageNumber::Number(1), size }
    }
}

/// One page of a list plus the total, as DRF's page-number pagination reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub count: u64,
    /// The page actually returned (resolves `Last`).
    pub number: u64,
    pub size: u64,
    pub items: Vec<T>,
}

impl<T> Paged<T> {
    pub fn has_next(&self) -> bool {
        self.number * self.size < self.count
    }

    pub fn has_previous(&self) -> bool {
        self.number > 1
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            count: self.count,
            number: self.number,
            size: self.size,
            items: self.items.into_iter().map(f).collect(),
        }
    }
}

/// A knowledge base and its retrieval settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeBase {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub embedding_model_id: Option<Uuid>,
    pub reranker_model_id: Option<Uuid>,
    pub number_of_retrieved_chunks: i64,
    pub sentence_window_size: i64,
    pub enable_hyde: bool,
    pub similarity_cutoff: f64,
    pub enable_rerank: bool,
    /// Characters per chunk when files are split, and the overlap between chunks.
    pub chunk_size: i64,
    pub chunk_overlap: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Computed: files in the knowledge base.
    pub files_count: i64,
    /// Linked assistants, ordered by name.
    pub chatbots: Vec<ChatbotRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatbotRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub id: Uuid,
    pub knowledge_base_id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabelRef {
    pub id: Uuid,
    pub name: String,
}

/// Where a knowledge file is in its life: MaiAgent's `StatusBbcEnum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Initial,
    Processing,
    Done,
    Deleting,
    Failed,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Initial => "initial",
            FileStatus::Processing => "processing",
            FileStatus::Done => "done",
            FileStatus::Deleting => "deleting",
            FileStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<FileStatus> {
        Some(match text {
            "initial" => FileStatus::Initial,
            "processing" => FileStatus::Processing,
            "done" => FileStatus::Done,
            "deleting" => FileStatus::Deleting,
            "failed" => FileStatus::Failed,
            _ => return None,
        })
    }
}

/// A file in a knowledge base.
#[derive(Debug, Clone, PartialEq)]
pub struct KbFile {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub knowledge_base_id: Uuid,
    /// The name the user gave the file.
    pub filename: String,
    /// The ASCII key of the stored object.
    pub storage_key: String,
    /// The extension, lower-case, without the dot (`pdf`).
    pub file_type: String,
    pub size: i64,
    pub parser_id: Option<Uuid>,
    pub status: FileStatus,
    pub failed_reason: Option<String>,
    pub raw_user_define_metadata: Option<serde_json::Value>,
    pub pages: Option<i64>,
    pub chunks_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub labels: Vec<LabelRef>,
}

#[derive(Debug, Clone)]
pub struct NewKbFile {
    pub knowledge_base_id: Uuid,
    pub filename: String,
    pub storage_key: String,
    pub file_type: String,
    pub size: i64,
    pub parser_id: Option<Uuid>,
}

/// The parsed text of a file, and the user's edited version of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileContent {
    pub file_id: Uuid,
    pub content: String,
    pub modified_content: Option<String>,
    pub encoding: Option<String>,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Faq {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub knowledge_base_id: Uuid,
    pub question: String,
    pub answer: String,
    pub raw_user_define_metadata: Option<serde_json::Value>,
    pub hits_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub labels: Vec<LabelRef>,
}

/// A retrievable piece of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub knowledge_base_id: Uuid,
    pub file_id: Uuid,
    pub ordinal: i64,
    pub content: String,
    pub page_number: Option<i64>,
    pub heading: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub embedding: Option<Vec<f32>>,
    pub hits_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The file's name, for listings and citations.
    pub filename: String,
}

#[derive(Debug, Clone)]
pub struct NewChunk {
    pub ordinal: i64,
    pub content: String,
    /// Where `content` starts in the file's text, in bytes, when it is a slice of it (the file's
    /// text is then stored without that copy, see `store_parsed_file`).
    pub source_start: Option<u64>,
    pub page_number: Option<i64>,
    pub heading: Option<String>,
    pub embedding: Option<Vec<f32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        Some(match text {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }
}

/// A unit of background work.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub organization_id: Option<Uuid>,
    /// What the job works on (a file id for ingestion); cancelling it cancels its jobs.
    pub subject_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: Timestamp,
    pub locked_by: Option<String>,
    pub locked_until: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub organization_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub max_attempts: i64,
}

/// Embeddings are stored as little-endian `f32`s.
pub fn embedding_to_bytes(embedding: &[f32]) -> Vec<u8> {
    embedding.iter().flat_map(|f| f.to_le_bytes()).collect()
}

pub fn embedding_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Where a cursor page starts: just past the row at `position` (`created_at`, `id`), going
/// towards older rows, or towards newer ones when `reverse` (a "previous" link). Lists read
/// this way stay stable while rows are added, unlike page numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorRequest {
    pub position: Option<(Timestamp, Uuid)>,
    pub reverse: bool,
    pub size: u64,
}

/// One cursor page, newest first whichever way it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorPage<T> {
    pub items: Vec<T>,
    /// Older rows exist past the last item.
    pub has_older: bool,
    /// Newer rows exist before the first item.
    pub has_newer: bool,
}

impl<T> CursorPage<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> CursorPage<U> {
        CursorPage {
            items: self.items.into_iter().map(f).collect(),
            has_older: self.has_older,
            has_newer: self.has_newer,
        }
    }
}

/// A way to reach an assistant (`web-chats/`). Its name is the assistant's.
#[derive(Debug, Clone, PartialEq)]
pub struct WebChat {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub chatbot_id: Uuid,
    /// `api`, `web` or `admin`.
    pub access_type: String,
    pub avatar: Option<String>,
    pub logo: Option<String>,
    pub cover: Option<String>,
    pub description: String,
    pub back_url: String,
    pub is_active: bool,
    pub enable_file_upload: bool,
    pub enable_display_citations: bool,
    pub enable_share_conversation: bool,
    pub enable_location: bool,
    pub enable_show_powered_by: bool,
    /// `{primaryColor, dialogColor, navbarTextColor}`.
    pub theme: Option<serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Computed: the assistant's name.
    pub name: String,
}

impl WebChat {
    /// A web chat of `access_type` for an assistant, with the default settings (id and
    /// timestamps are assigned when it is stored).
    pub fn new(organization_id: Uuid, chatbot_id: Uuid, access_type: &str) -> WebChat {
        WebChat {
            id: Uuid::nil(),
            organization_id,
            chatbot_id,
            access_type: access_type.to_owned(),
            avatar: None,
            logo: None,
            cover: None,
            description: String::new(),
            back_url: String::new(),
            is_active: true,
            enable_file_upload: false,
            enable_display_citations: true,
            enable_share_conversation: false,
            enable_location: false,
            enable_show_powered_by: true,
            theme: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            name: String::new(),
        }
    }
}

/// Filters of `inboxes/`.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub chatbot_id: Option<Uuid>,
    pub channel_type: Option<String>,
    /// `name`, `-name`, `created_at` or `-created_at` (the default).
    pub ordering: Option<String>,
}

/// Where an assistant's conversations from one channel arrive (`inboxes/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Inbox {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub chatbot_id: Uuid,
    /// The channel of a `web` inbox.
    pub web_chat_id: Option<Uuid>,
    pub name: String,
    /// `web`, `line`, `telegram` or `messenger`.
    pub channel_type: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Computed: the web chat's (that is, the assistant's) name.
    pub channel_name: Option<String>,
    /// Computed: conversations with replies not yet read.
    pub unread_conversations_count: i64,
}

/// An inbox as a conversation shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRef {
    pub id: Uuid,
    pub name: String,
    pub channel_type: String,
}

/// Filters of `conversations/`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConversationFilter {
    pub inbox_id: Option<Uuid>,
    pub chatbot_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub chatbot_id: Uuid,
    pub inbox: InboxRef,
    pub web_chat_id: Option<Uuid>,
    /// The start of its first message.
    pub title: String,
    pub user_id: Option<Uuid>,
    pub last_message_at: Option<Timestamp>,
    pub last_read_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Computed: the newest message.
    pub last_message: Option<Box<Message>>,
    /// Computed: replies newer than `last_read_at`.
    pub unread_messages_count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// From the person.
    Incoming,
    /// The assistant's (or a human agent's) reply.
    Outgoing,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Incoming => "incoming",
            MessageType::Outgoing => "outgoing",
        }
    }

    pub fn parse(text: &str) -> Option<MessageType> {
        match text {
            "incoming" => Some(MessageType::Incoming),
            "outgoing" => Some(MessageType::Outgoing),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Done,
    /// An asynchronous reply still being written.
    Pending,
    /// The reply could not be written; `error` says why.
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Done => "done",
            MessageStatus::Pending => "pending",
            MessageStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<MessageStatus> {
        match text {
            "done" => Some(MessageStatus::Done),
            "pending" => Some(MessageStatus::Pending),
            "failed" => Some(MessageStatus::Failed),
            _ => None,
        }
    }
}

/// Tokens and words a reply used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub words_count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub message_type: MessageType,
    /// The user for incoming messages, the assistant for replies.
    pub sender_id: Option<Uuid>,
    pub sender_name: String,
    pub content: String,
    pub status: MessageStatus,
    /// `like`, `dislike`, or none.
    pub feedback: Option<String>,
    /// The incoming message an outgoing one answers.
    pub reply_to_id: Option<Uuid>,
    pub query_metadata: Option<serde_json::Value>,
    pub content_payload: Option<serde_json::Value>,
    /// What the reply cited, as it was when written (the API's `citations` and
    /// `citationNodes`).
    pub citations: Option<serde_json::Value>,
    /// `provider/model` that wrote a reply.
    pub model: Option<String>,
    pub usage: MessageUsage,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub organization_id: Uuid,
    pub conversation_id: Uuid,
    pub message_type: MessageType,
    pub sender_id: Option<Uuid>,
    pub sender_name: String,
    pub content: String,
    pub status: MessageStatus,
    pub reply_to_id: Option<Uuid>,
    pub query_metadata: Option<serde_json::Value>,
    pub content_payload: Option<serde_json::Value>,
    /// Attachments of the organisation, in order.
    pub attachment_ids: Vec<Uuid>,
}

impl NewMessage {
    /// The message this becomes when stored with `id` at `now` (no reply outcome yet).
    pub fn stored(&self, id: Uuid, now: Timestamp, attachments: Vec<Attachment>) -> Message {
        Message {
            id,
            organization_id: self.organization_id,
            conversation_id: self.conversation_id,
            message_type: self.message_type,
            sender_id: self.sender_id,
            sender_name: self.sender_name.clone(),
            content: self.content.clone(),
            status: self.status,
            feedback: None,
            reply_to_id: self.reply_to_id,
            query_metadata: self.query_metadata.clone(),
            content_payload: self.content_payload.clone(),
            citations: None,
            model: None,
            usage: MessageUsage::default(),
            error: None,
            created_at: now,
            updated_at: now,
            attachments,
        }
    }
}

/// What a finished (or failed) reply is stored with.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyOutcome {
    pub content: String,
    pub status: MessageStatus,
    pub citations: Option<serde_json::Value>,
    pub model: Option<String>,
    pub usage: MessageUsage,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub conversation_id: Option<Uuid>,
    /// `image`, `video`, `audio`, `sticker` or `other`.
    pub attachment_type: String,
    /// The name the user gave the file.
    pub filename: String,
    /// The ASCII key of the stored object.
    pub storage_key: String,
    pub size: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub chatbot_id: Uuid,
    pub message_id: Option<Uuid>,
    pub url: String,
    pub request_body: serde_json::Value,
    /// The receiver's status, when it answered.
    pub status_code: Option<i64>,
    /// The start of the receiver's answer.
    pub response: String,
    /// Why there was no answer (refused address, timeout, connection failure).
    pub error: Option<String>,
    /// 1 for the first try.
    pub attempt: i64,
    pub duration_ms: i64,
    pub created_at: Timestamp,
}
