-- Knowledge bases: their retrieval settings, files with their parsed content and chunks,
-- labels, FAQs, and the durable job queue that ingests files.
-- Mirrored in migrations/sqlite/: keep both files in step.

ALTER TABLE knowledge_bases ADD COLUMN embedding_model_id UUID;
ALTER TABLE knowledge_bases ADD COLUMN reranker_model_id UUID;
ALTER TABLE knowledge_bases ADD COLUMN number_of_retrieved_chunks BIGINT NOT NULL DEFAULT 12;
ALTER TABLE knowledge_bases ADD COLUMN sentence_window_size BIGINT NOT NULL DEFAULT 2;
ALTER TABLE knowledge_bases ADD COLUMN enable_hyde BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE knowledge_bases ADD COLUMN similarity_cutoff DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE knowledge_bases ADD COLUMN enable_rerank BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE knowledge_bases ADD COLUMN chunk_size BIGINT NOT NULL DEFAULT 800;
ALTER TABLE knowledge_bases ADD COLUMN chunk_overlap BIGINT NOT NULL DEFAULT 100;

-- A knowledge file. `storage_key` is the ASCII key of the uploaded object; `filename` is
-- the name the user gave it. `status`: initial, processing, done, deleting, failed.
CREATE TABLE kb_files (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    knowledge_base_id UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    file_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    parser_id UUID,
    status TEXT NOT NULL,
    failed_reason TEXT,
    raw_user_define_metadata JSONB,
    pages BIGINT,
    chunks_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX kb_files_kb_idx ON kb_files (knowledge_base_id, created_at, id);
CREATE INDEX kb_files_org_idx ON kb_files (organization_id);

-- The parsed text of a file (`chatbot-file-contents`), and the user's edited version.
CREATE TABLE kb_file_contents (
    file_id UUID PRIMARY KEY REFERENCES kb_files (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    content TEXT NOT NULL,
    modified_content TEXT,
    encoding TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE kb_labels (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    knowledge_base_id UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX kb_labels_kb_name_key ON kb_labels (knowledge_base_id, name);

CREATE TABLE kb_file_labels (
    file_id UUID NOT NULL REFERENCES kb_files (id) ON DELETE CASCADE,
    label_id UUID NOT NULL REFERENCES kb_labels (id) ON DELETE CASCADE,
    PRIMARY KEY (file_id, label_id)
);
CREATE INDEX kb_file_labels_label_idx ON kb_file_labels (label_id);

CREATE TABLE faqs (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    knowledge_base_id UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    raw_user_define_metadata JSONB,
    hits_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX faqs_kb_idx ON faqs (knowledge_base_id, created_at, id);

CREATE TABLE faq_labels (
    faq_id UUID NOT NULL REFERENCES faqs (id) ON DELETE CASCADE,
    label_id UUID NOT NULL REFERENCES kb_labels (id) ON DELETE CASCADE,
    PRIMARY KEY (faq_id, label_id)
);
CREATE INDEX faq_labels_label_idx ON faq_labels (label_id);

-- A retrievable piece of a file (`documents`, `chatbot-text-nodes`). The search index is
-- derived from these rows and can always be rebuilt from them. `embedding` holds
-- little-endian f32s when an embedding model is configured.
CREATE TABLE chunks (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    knowledge_base_id UUID NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    file_id UUID NOT NULL REFERENCES kb_files (id) ON DELETE CASCADE,
    ordinal BIGINT NOT NULL,
    content TEXT NOT NULL,
    page_number BIGINT,
    heading TEXT,
    metadata JSONB,
    embedding BYTEA,
    hits_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX chunks_file_idx ON chunks (file_id, ordinal);
CREATE INDEX chunks_kb_idx ON chunks (knowledge_base_id);

-- The durable job queue. A worker claims a queued job whose `run_after` has passed, or a
-- running one whose lease (`locked_until`) expired because its worker died; it renews the
-- lease while working. `status`: queued, running, done, failed, cancelled.
CREATE TABLE jobs (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL,
    organization_id UUID,
    subject_id UUID,
    payload JSONB NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_ready_idx ON jobs (status, run_after);
CREATE INDEX jobs_subject_idx ON jobs (subject_id);
