-- Conversations: the ways an assistant is reached (web chats and their inboxes), conversations
-- with their messages and attachments, and the record of every webhook delivery.
-- Mirrored in migrations/postgres/: keep both files in step.

-- Signs the webhooks an assistant sends (HMAC-SHA256), so receivers can tell them from forgeries.
ALTER TABLE chatbots ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
UPDATE chatbots SET webhook_secret = lower(hex(randomblob(24)));

-- A web chat: one way to reach an assistant. `access_type`: `api` (every assistant has exactly
-- one, its `apiWebChatId`, used by the API's completions), `web` (the public widget) or
-- `admin` (the console's internal Q&A). The displayed name is the assistant's.
CREATE TABLE web_chats (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    chatbot_id BLOB NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
    access_type TEXT NOT NULL,
    avatar TEXT,
    logo TEXT,
    cover TEXT,
    description TEXT NOT NULL DEFAULT '',
    back_url TEXT NOT NULL DEFAULT '',
    is_active BOOLEAN NOT NULL DEFAULT 1,
    enable_file_upload BOOLEAN NOT NULL DEFAULT 0,
    enable_display_citations BOOLEAN NOT NULL DEFAULT 1,
    enable_share_conversation BOOLEAN NOT NULL DEFAULT 0,
    enable_location BOOLEAN NOT NULL DEFAULT 0,
    enable_show_powered_by BOOLEAN NOT NULL DEFAULT 1,
    theme TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX web_chats_org_idx ON web_chats (organization_id, created_at, id);
CREATE INDEX web_chats_chatbot_idx ON web_chats (chatbot_id, access_type);

-- An inbox: where an assistant's conversations from one channel arrive. A `web` inbox's
-- channel is a web chat (one inbox per web chat); other channel types have none here.
CREATE TABLE inboxes (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    chatbot_id BLOB NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
    web_chat_id BLOB REFERENCES web_chats (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX inboxes_org_idx ON inboxes (organization_id, created_at, id);
CREATE INDEX inboxes_chatbot_idx ON inboxes (chatbot_id);
CREATE UNIQUE INDEX inboxes_web_chat_key ON inboxes (web_chat_id);

CREATE TABLE conversations (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    chatbot_id BLOB NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
    inbox_id BLOB NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    title TEXT NOT NULL DEFAULT '',
    -- The user (API key owner or console user) who started it, when one did.
    user_id BLOB REFERENCES users (id) ON DELETE SET NULL,
    last_message_at BIGINT,
    last_read_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_org_idx ON conversations (organization_id, created_at, id);
CREATE INDEX conversations_inbox_idx ON conversations (inbox_id, created_at, id);
CREATE INDEX conversations_chatbot_idx ON conversations (chatbot_id, created_at, id);

-- A message. `message_type`: `incoming` (from the person) or `outgoing` (the assistant's
-- reply). `status`: `done`, `pending` (an asynchronous reply still being written) or `failed`
-- (`error` says why). `citations` is a snapshot of what the reply cited, taken when it was
-- written, so later edits to the knowledge base do not rewrite history.
CREATE TABLE messages (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    conversation_id BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_type TEXT NOT NULL,
    -- Who wrote it: the user (or contact) for incoming messages, the assistant for replies.
    sender_id BLOB,
    sender_name TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL,
    status TEXT NOT NULL,
    feedback TEXT,
    reply_to_id BLOB,
    query_metadata TEXT,
    content_payload TEXT,
    citations TEXT,
    model TEXT,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    words_count BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at, id);
CREATE INDEX messages_org_idx ON messages (organization_id, created_at, id);

-- An uploaded file attached to messages. `storage_key` is the ASCII key of the object.
-- `attachment_type`: image, video, audio, sticker or other.
CREATE TABLE attachments (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    conversation_id BLOB REFERENCES conversations (id) ON DELETE CASCADE,
    attachment_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX attachments_org_idx ON attachments (organization_id, created_at, id);

CREATE TABLE message_attachments (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attachment_id BLOB NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    PRIMARY KEY (message_id, attachment_id)
);
CREATE INDEX message_attachments_attachment_idx ON message_attachments (attachment_id);

-- One delivery attempt of a webhook: what was sent, and what came back (`status_code` and
-- `response`), or why nothing did (`error`).
CREATE TABLE webhook_records (
    id BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    chatbot_id BLOB NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
    message_id BLOB,
    url TEXT NOT NULL,
    request_body TEXT NOT NULL,
    status_code BIGINT,
    response TEXT NOT NULL DEFAULT '',
    error TEXT,
    attempt BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_records_chatbot_idx ON webhook_records (chatbot_id, created_at, id);

-- Every existing assistant gets its API web chat and that web chat's inbox.
INSERT INTO web_chats (id, organization_id, chatbot_id, access_type, created_at, updated_at)
    SELECT randomblob(16), organization_id, id, 'api', created_at, created_at FROM chatbots;
INSERT INTO inboxes (id, organization_id, chatbot_id, web_chat_id, name, channel_type, created_at, updated_at)
    SELECT randomblob(16), w.organization_id, w.chatbot_id, w.id, c.name, 'web', w.created_at, w.created_at
    FROM web_chats w JOIN chatbots c ON c.id = w.chatbot_id;
