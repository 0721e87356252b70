-- Foundation schema: accounts, organisations, API keys, sessions, AI assistants.
-- Mirrored in migrations/sqlite/: keep both files in step.
-- UUIDs are native UUIDs; timestamps are epoch milliseconds (BIGINT).

CREATE TABLE instance_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    avatar TEXT,
    company TEXT NOT NULL DEFAULT '',
    invitation_code TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE organizations (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    owner_id UUID NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX memberships_organization_user_key ON memberships (organization_id, user_id);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE api_keys (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_owner_idx ON api_keys (organization_id, user_id);

CREATE TABLE sessions (
    id UUID PRIMARY KEY,
    token_hash BYTEA NOT NULL,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id UUID REFERENCES organizations (id) ON DELETE SET NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);

-- Refresh tokens handed back at logout; kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE permissions (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE UNIQUE INDEX permissions_name_key ON permissions (name);
INSERT INTO permissions (id, name, description) VALUES
    ('b793e7b4-2fe6-58c3-8867-8f97307671c2', 'chatbot.view', 'View AI assistants and their settings.'),
    ('57b8f188-a9df-5395-8ac8-696837ee9f69', 'chatbot.manage', 'Create, edit and delete AI assistants.'),
    ('15d56031-431e-513b-bdca-1e8bfa646550', 'knowledge_base.view', 'View knowledge bases, files and FAQs.'),
    ('99775810-0543-5b27-9a3a-98f84448d743', 'knowledge_base.manage', 'Create, edit and delete knowledge bases, files and FAQs.'),
    ('e6b414d9-1a7a-53ce-9c07-c01bda7d1867', 'conversation.view', 'Read conversations and messages.'),
    ('caedffd6-1dde-53be-9fe2-d87d3cc9c17a', 'api_key.manage', 'Create and revoke your own API keys.'),
    ('2b3f61cf-cc2d-59dc-9fff-a524e96ca498', 'organization.manage', 'Rename the organization.'),
    ('8146b107-1678-5934-baa3-42bc0bd914a9', 'member.manage', 'Add and remove organization members.');

CREATE TABLE knowledge_bases (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX knowledge_bases_org_idx ON knowledge_bases (organization_id, created_at);

CREATE TABLE chatbots (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    large_language_model_id UUID NOT NULL,
    rag_id UUID NOT NULL,
    embedding_model_id UUID,
    reranker_model_id UUID,
    instructions TEXT NOT NULL DEFAULT '',
    webhook_url TEXT,
    reply_mode TEXT NOT NULL,
    template TEXT,
    unanswerable_template TEXT,
    enable_chinese_conversion BOOLEAN NOT NULL,
    output_mode TEXT NOT NULL,
    output_format JSONB,
    number_of_retrieved_chunks BIGINT NOT NULL,
    total_words_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX chatbots_org_created_idx ON chatbots (organization_id, created_at, id);

CREATE TABLE chatbot_knowledge_bases (
    chatbot_id UUID NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
    knowledge_base_id UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    PRIMARY KEY (chatbot_id, knowledge_base_id)
);
CREATE INDEX chatbot_knowledge_bases_kb_idx ON chatbot_knowledge_bases (knowledge_base_id);
