//! Configuration, layered once: built-in defaults < `openmai.toml` < `OPENMAI_*` environment
//! variables < command-line flags. The result is one [`Config`] value held by the application
//! state (never a global), so tests build their own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use openmai_store::DatabaseUrl;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The longest `index_commit_interval_ms` accepted.
const MAX_INDEX_COMMIT_INTERVAL_MS: u64 = 60_000;

/// The file read when present, unless `--config`/`OPENMAI_CONFIG` names another.
pub const DEFAULT_CONFIG_FILE: &str = "openmai.toml";

/// Environment variables (after the `OPENMAI_` prefix, lower-cased) that map onto settings.
const ENV_KEYS: &[&str] = &[
    "bind",
    "data_dir",
    "database_url",
    "database_max_connections",
    "public_url",
    "admin_email",
    "admin_password",
    "organization_name",
    "rate_limit_per_minute",
    "login_attempts_per_minute",
    "access_token_minutes",
    "refresh_token_days",
    "session_days",
    "max_body_bytes",
    "log_format",
    "default_chat_model",
    "max_upload_bytes",
    "ingest_workers",
    "ingest_timeout_seconds",
    "ingest_memory_mb",
    "job_lease_seconds",
    "job_retry_delay_ms",
    "index_commit_interval_ms",
    "storage",
    "search_index",
    "reply_workers",
    "stream_keep_alive_seconds",
    "webhook_timeout_seconds",
    "webhook_max_attempts",
    "webhook_retry_delay_ms",
    "outbound_allow_private_networks",
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Where the embedded database, uploaded files (local storage) and the search index live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; defaults to `sqlite://<data_dir>/openmai.db`.
    pub database_url: Option<String>,
    /// SQLite readers or PostgreSQL connections per process (the PostgreSQL search index,
    /// when in use, has a pool of its own of the same size).
    pub database_max_connections: usize,
    /// The address clients reach OpenMai at (e.g. `https://ai.example.com`). When set, it is
    /// used for absolute links; otherwise the request's `Host` and `X-Forwarded-*` are.
    pub public_url: Option<url::Url>,
    /// The first administrator, created on the first start of an empty store.
    pub admin_email: Option<String>,
    #[serde(skip_serializing)]
    pub admin_password: Option<SecretString>,
    /// Name of the organisation created on the first start.
    pub organization_name: String,
    /// Requests per minute allowed for each API key (and each console user); 0 turns the
    /// limit off.
    pub rate_limit_per_minute: u32,
    /// Login attempts per minute for each email address.
    pub login_attempts_per_minute: u32,
    pub access_token_minutes: i64,
    pub refresh_token_days: i64,
    pub session_days: i64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    /// `provider/model` of the chat model new assistants default to; the built-in offline
    /// model when unset.
    pub default_chat_model: Option<String>,
    /// Model providers; each adds its models to the catalogues.
    pub providers: Vec<ProviderConfig>,
    /// Largest file accepted by upload, in bytes.
    pub max_upload_bytes: u64,
    /// Files parsed at once by this process; 0 runs no ingestion here (API-only replicas,
    /// with `openmai worker` processes doing it).
    pub ingest_workers: usize,
    /// How long parsing one file may take before it fails.
    pub ingest_timeout_seconds: u64,
    /// Memory the parser process of one file may use.
    pub ingest_memory_mb: u64,
    /// How long a worker holds a job without renewing it before another may take it over.
    pub job_lease_seconds: u64,
    /// The delay before a job that met a passing problem (a provider's 429 or 5xx, storage
    /// unreachable) runs again; it doubles with each attempt, up to 5 minutes.
    pub job_retry_delay_ms: u64,
    /// Index commits that make ingested files searchable are spaced at least this far apart:
    /// files finished in between are committed together (a file that arrives alone, or the
    /// last of a batch, is committed at once). Larger: cheaper bulk ingestion, files `done` a
    /// little later.
    pub index_commit_interval_ms: u64,
    /// Where uploaded files live: `local` (under the data directory) or `s3`.
    pub storage: StorageKind,
    /// S3-compatible storage, when `storage = "s3"`.
    pub s3: Option<S3Settings>,
    /// Where the search index lives: `auto` (in PostgreSQL when the database is PostgreSQL
    /// with pgvector, else embedded in `data_dir`), `embedded` or `postgres`.
    pub search_index: SearchIndexKind,
    /// Replies to asynchronous messages (`POST messages/`) and webhook deliveries run at once
    /// by this process; 0 leaves them to other processes (`openmai worker`).
    pub reply_workers: usize,
    /// A streamed completion sends an SSE comment after this many quiet seconds, so proxies
    /// and clients do not drop a connection waiting on a slow model.
    pub stream_keep_alive_seconds: u64,
    /// How long a webhook receiver has to answer one delivery.
    pub webhook_timeout_seconds: u64,
    /// Deliveries of one webhook before giving up; each failure (no answer or a non-2xx)
    /// waits `webhook_retry_delay_ms`, doubling each time, up to 5 minutes.
    pub webhook_max_attempts: i64,
    pub webhook_retry_delay_ms: u64,
    /// Whether webhooks (and other outbound requests) may go to loopback, private, link-local
    /// and other non-public addresses. Off by default, so an assistant's webhook URL cannot be
    /// used to reach the server's own network.
    pub outbound_allow_private_networks: bool,
    /// The `openmai` executable that parses files in a child process (default: this one).
    /// Tests, which run the server inside the test binary, point it at the built binary.
    #[serde(skip)]
    pub parser_executable: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Local,
    S3,
}

/// Where the search index lives (`search_index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchIndexKind {
    /// PostgreSQL when the database is PostgreSQL and has pgvector; embedded otherwise.
    #[default]
    Auto,
    /// Always the embedded index under `data_dir` (one `serve` process per data directory).
    Embedded,
    /// Always PostgreSQL (pgvector); starting fails when it is not available.
    Postgres,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// The S3 API address for MinIO, moto and the like (`http://127.0.0.1:9000`); leave it
    /// out for AWS, which is reached by region.
    #[serde(default)]
    pub endpoint: Option<url::Url>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    #[serde(skip_serializing)]
    pub secret_access_key: SecretString,
    /// `https://host/bucket` addressing (MinIO, moto) instead of `https://bucket.host`.
    #[serde(default)]
    pub path_style: bool,
    /// The bucket URL clients upload to, when they reach it by another address than OpenMai
    /// does (a compose network, say). Defaults to the bucket's own URL.
    #[serde(default)]
    pub public_url: Option<url::Url>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_max_connections: 16,
            public_url: None,
            admin_email: None,
            admin_password: None,
            organization_name: "OpenMai".into(),
            rate_limit_per_minute: 1200,
            login_attempts_per_minute: 10,
            access_token_minutes: 60,
            refresh_token_days: 7,
            session_days: 14,
            max_body_bytes: 4 * 1024 * 1024,
            log_format: LogFormat::Text,
            default_chat_model: None,
            providers: Vec::new(),
            max_upload_bytes: 100 * 1024 * 1024,
            ingest_workers: 2,
            ingest_timeout_seconds: 300,
            ingest_memory_mb: 1024,
            job_lease_seconds: 60,
            job_retry_delay_ms: 5_000,
            index_commit_interval_ms: 1_000,
            storage: StorageKind::Local,
            s3: None,
            search_index: SearchIndexKind::Auto,
            reply_workers: 4,
            stream_keep_alive_seconds: 15,
            webhook_timeout_seconds: 10,
            webhook_max_attempts: 6,
            webhook_retry_delay_ms: 5_000,
            outbound_allow_private_networks: false,
            parser_executable: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible API: OpenAI, Groq, vLLM, Ollama, LM Studio, DeepSeek…
    Openai,
    Anthropic,
    Gemini,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Short identifier, used in `default_chat_model` and shown in model names.
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: Option<url::Url>,
    #[serde(default, skip_serializing)]
    pub api_key: Option<SecretString>,
    /// Read the key from this environment variable instead of the file.
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub chat_models: Vec<String>,
    #[serde(default)]
    pub embedding_models: Vec<String>,
    #[serde(default)]
    pub reranker_models: Vec<String>,
    /// Chat models among `chat_models` that accept images (vision models); image attachments
    /// go to them, other models are told an image was attached.
    #[serde(default)]
    pub vision_models: Vec<String>,
    /// Tokens of prompt and answer the chat models take (the prompt is cut to fit).
    #[serde(default = "default_context_tokens")]
    pub context_tokens: usize,
    /// Answers streamed from each chat model at once; more wait for a turn. Default 256.
    #[serde(default)]
    pub max_concurrent_requests: Option<usize>,
    /// Speak HTTP/2 without TLS (h2c) to a plain-`http` gateway that supports it, so all
    /// answers in flight share a few connections. `https` providers negotiate HTTP/2 anyway.
    #[serde(default)]
    pub http2_prior_knowledge: bool,
}

fn default_context_tokens() -> usize {
    8192
}

impl ProviderConfig {
    /// What the model clients need: the kind, base URL and key (`api_key`, else the variable
    /// `api_key_env` names; a named variable that is unset is an error, not "no key").
    pub fn settings(&self) -> anyhow::Result<openmai_models::ProviderSettings> {
        use openmai_models::{ProviderKind as Kind, ProviderSettings};
        let key =
            ProviderSettings::resolve_api_key(self.api_key.as_ref(), self.api_key_env.as_deref())
                .map_err(|e| anyhow::anyhow!("provider {:?}: {e}", self.name))?;
        let kind = match self.kind {
            ProviderKind::Openai => Kind::OpenAi,
            ProviderKind::Anthropic => Kind::Anthropic,
            ProviderKind::Gemini => Kind::Gemini,
        };
        let mut settings = ProviderSettings::new(&self.name, kind);
        settings.base_url.clone_from(&self.base_url);
        settings.api_key = key;
        Ok(settings)
    }
}

/// Values given on the command line; they beat every other source.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

impl Config {
    /// Reads the layered configuration. `file` is the explicit `--config` path, which must
    /// exist; otherwise `openmai.toml` is read when present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} does not exist", path.display());
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        figment = figment.merge(Env::prefixed("OPENMAI_").only(ENV_KEYS));
        let mut config: Config = figment.extract()?;
        if let Some(bind) = overrides.bind {
            config.bind = bind;
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir.clone_from(dir);
        }
        if let Some(url) = &overrides.database_url {
            config.database_url = Some(url.clone());
        }
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that cannot work, with a message saying which and why.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.database()?;
        anyhow::ensure!(self.database_max_connections > 0, "database_max_connections must be > 0");
        anyhow::ensure!(self.access_token_minutes > 0, "access_token_minutes must be > 0");
        anyhow::ensure!(self.refresh_token_days > 0, "refresh_token_days must be > 0");
        anyhow::ensure!(self.session_days > 0, "session_days must be > 0");
        anyhow::ensure!(self.max_body_bytes >= 1024, "max_body_bytes must be at least 1024");
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https") && url.host().is_some(),
                "public_url must be an http(s) URL with a host"
            );
        }
        anyhow::ensure!(self.max_upload_bytes > 0, "max_upload_bytes must be > 0");
        anyhow::ensure!(self.ingest_timeout_seconds > 0, "ingest_timeout_seconds must be > 0");
        anyhow::ensure!(self.ingest_memory_mb >= 64, "ingest_memory_mb must be at least 64");
        anyhow::ensure!(self.job_lease_seconds >= 1, "job_lease_seconds must be at least 1");
        // A finished file waits up to this long to become searchable (and `done`).
        anyhow::ensure!(
            self.index_commit_interval_ms <= MAX_INDEX_COMMIT_INTERVAL_MS,
            "index_commit_interval_ms must be at most {MAX_INDEX_COMMIT_INTERVAL_MS} (a minute)"
        );
        anyhow::ensure!(
            self.stream_keep_alive_seconds >= 1,
            "stream_keep_alive_seconds must be at least 1"
        );
        anyhow::ensure!(
            self.webhook_timeout_seconds >= 1,
            "webhook_timeout_seconds must be at least 1"
        );
        anyhow::ensure!(self.webhook_max_attempts >= 1, "webhook_max_attempts must be at least 1");
        anyhow::ensure!(
            self.storage != StorageKind::S3 || self.s3.is_some(),
            "storage = \"s3\" needs an [s3] section (bucket, region, access_key_id, secret_access_key; endpoint for MinIO and the like)"
        );
        anyhow::ensure!(
            self.search_index != SearchIndexKind::Postgres
                || matches!(self.database()?, DatabaseUrl::Postgres(_)),
            "search_index = \"postgres\" needs a postgres:// database_url"
        );
        let mut names = std::collections::HashSet::new();
        for provider in &self.providers {
            anyhow::ensure!(
                !provider.name.is_empty() && !provider.name.contains('/'),
                "provider names must be non-empty and contain no '/'"
            );
            anyhow::ensure!(
                names.insert(&provider.name),
                "provider {:?} is defined twice",
                provider.name
            );
            anyhow::ensure!(
                provider.context_tokens >= 1024,
                "provider {:?}: context_tokens must be at least 1024",
                provider.name
            );
            if let Some(model) =
                provider.vision_models.iter().find(|m| !provider.chat_models.contains(m))
            {
                anyhow::bail!(
                    "provider {:?}: vision model {model:?} is not among its chat_models",
                    provider.name
                );
            }
        }
        Ok(())
    }

    /// The database to use: `database_url`, or the SQLite file in the data directory.
    pub fn database(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => Ok(DatabaseUrl::parse(url.trim())?),
            _ => Ok(DatabaseUrl::sqlite(self.data_dir.join("openmai.db"))),
        }
    }
}

#[cfg(test)]
// figment's `Jail` closures return its (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_the_embedded_store_under_data() {
        let config = Config::default();
        assert_eq!(config.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(config.database().unwrap(), DatabaseUrl::sqlite("data/openmai.db"));
        config.validate().unwrap();
    }

    #[test]
    fn toml_env_and_flags_layer_in_that_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                r#"
                bind = "0.0.0.0:9000"
                data_dir = "from-file"
                rate_limit_per_minute = 5

                [[providers]]
                name = "openai"
                kind = "openai"
                chat_models = ["gpt-4o-mini"]
                "#,
            )?;
            jail.set_env("OPENMAI_DATA_DIR", "from-env");
            jail.set_env("OPENMAI_TEST_DATABASE_URL", "ignored: not a setting");
            let overrides =
                Overrides { bind: Some("127.0.0.1:1".parse().unwrap()), ..Default::default() };
            let config = Config::load(Some(Path::new("custom.toml")), &overrides).unwrap();
            assert_eq!(config.bind.to_string(), "127.0.0.1:1");
            assert_eq!(config.data_dir, PathBuf::from("from-env"));
            assert_eq!(config.rate_limit_per_minute, 5);
            assert_eq!(config.providers[0].chat_models, ["gpt-4o-mini"]);
            Ok(())
        });
    }

    #[test]
    fn search_index_comes_from_the_environment_and_postgres_needs_postgresql() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.search_index, SearchIndexKind::Auto);
            jail.set_env("OPENMAI_SEARCH_INDEX", "embedded");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.search_index, SearchIndexKind::Embedded);
            jail.set_env("OPENMAI_SEARCH_INDEX", "postgres");
            let err = Config::load(None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("postgres:// database_url"), "{err}");
            let overrides = Overrides {
                database_url: Some("postgres://u@127.0.0.1/openmai".into()),
                ..Default::default()
            };
            let config = Config::load(None, &overrides).unwrap();
            assert_eq!(config.search_index, SearchIndexKind::Postgres);
            Ok(())
        });
    }

    #[test]
    fn the_example_file_is_a_valid_configuration() {
        let example = include_str!("../../../openmai.example.toml");
        figment::Jail::expect_with(|jail| {
            jail.create_file("example.toml", example)?;
            let config =
                Config::load(Some(Path::new("example.toml")), &Overrides::default()).unwrap();
            assert_eq!(config.bind.to_string(), "127.0.0.1:8000");
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_and_bad_urls_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "bnid = \"0.0.0.0:1\"")?;
            assert!(Config::load(Some(Path::new("typo.toml")), &Overrides::default()).is_err());
            jail.create_file("bad.toml", "database_url = \"mysql://x\"")?;
            assert!(Config::load(Some(Path::new("bad.toml")), &Overrides::default()).is_err());
            assert!(Config::load(Some(Path::new("missing.toml")), &Overrides::default()).is_err());
            jail.create_file("slow.toml", "index_commit_interval_ms = 9223372036854775807")?;
            let err =
                Config::load(Some(Path::new("slow.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("index_commit_interval_ms"), "{err}");
            Ok(())
        });
    }
}
