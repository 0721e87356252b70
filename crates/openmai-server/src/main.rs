//! `openmai`: run the server, apply migrations, and manage users and API keys.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use openmai_server::cli::ApiArgs;
use openmai_server::config::{Config, LogFormat, Overrides};
use openmai_server::{AppState, accounts};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "openmai",
    version,
    about = "OpenMai: a self-hosted AI-assistant platform speaking the MaiAgent API"
)]
struct Cli {
    /// Configuration file (default: ./openmai.toml when present).
    #[arg(long, env = "OPENMAI_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates the first administrator on an empty store).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8000].
        #[arg(long)]
        bind: Option<SocketAddr>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Knowledge bases, through a running server's API.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Ask an assistant (by name or id) through a running server's API; the answer streams
    /// into the terminal, followed by its sources.
    Chat {
        assistant: String,
        question: String,
        /// Continue this conversation (printed after each answer).
        #[arg(long)]
        conversation: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Parse the files requested on stdin, one after another, and write each outcome to
    /// stdout (the server runs this in child processes; frames of postcard).
    #[command(hide = true)]
    IngestWorker(openmai_server::knowledge::parse::WorkerArgs),
}

#[derive(Subcommand)]
enum KbCommand {
    /// Create a knowledge base.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Upload files and folders into a knowledge base and wait for them to be processed.
    Ingest {
        /// The knowledge base, by name or id.
        kb: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Search a knowledge base.
    Search {
        /// The knowledge base, by name or id.
        kb: String,
        query: String,
        /// Hits to show [default: the knowledge base's setting].
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Data directory [default: ./data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://…` [default: sqlite://<data-dir>/openmai.db].
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for a user; the key is printed alone on the last line.
    Create {
        #[arg(long)]
        email: String,
        /// A label to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Organisation (name or id) the key acts in [default: the user's first].
        #[arg(long)]
        organization: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; with --organization, also a new organisation they own.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        organization: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn overrides(store: &StoreArgs, bind: Option<SocketAddr>) -> Overrides {
    Overrides { bind, data_dir: store.data_dir.clone(), database_url: store.database_url.clone() }
}

fn init_logging(config: &Config, default_level: &str) {
    let filter = EnvFilter::try_from_env("OPENMAI_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default_level));
    // A closed log pipe must not stop the server: by default tracing-subscriber reports its
    // own write failures with eprintln!, which panics when stderr is gone.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // A parser process needs no async runtime: without one it starts faster and has no
        // idle worker threads inside its memory limit.
        Command::IngestWorker(args) => {
            openmai_server::knowledge::parse::run_worker(&args).map_err(anyhow::Error::from)
        }
        _ => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(run(cli))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.as_deref();
    match cli.command {
        // `main` runs it without a runtime; this arm is for completeness.
        Command::IngestWorker(args) => Ok(openmai_server::knowledge::parse::run_worker(&args)?),
        Command::Kb(command) => kb(command).await,
        Command::Chat { assistant, question, conversation, api } => {
            chat(&assistant, &question, conversation.as_deref(), &api).await
        }
        Command::Serve { bind, store } => {
            let config = Config::load(file, &overrides(&store, bind))?;
            init_logging(&config, "info");
            serve(config).await
        }
        Command::Migrate { store } => {
            let config = Config::load(file, &overrides(&store, None))?;
            init_logging(&config, "warn");
            let url = config.database()?;
            openmai_store::Store::migrate(&url).await?;
            println!("migrations applied to {url}");
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create { email, name, organization, store }) => {
            let config = Config::load(file, &overrides(&store, None))?;
            init_logging(&config, "warn");
            let store = openmai_server::open_store(&config).await?;
            let lookup = email.clone();
            let user = store
                .read(move |db| db.find_user_by_email(&lookup))
                .await?
                .with_context(|| format!("no user has the email {email}"))?;
            let user_id = user.id;
            let orgs = store.read(move |db| db.organizations_of_user(user_id)).await?;
            let org = match &organization {
                Some(wanted) => {
                    orgs.iter().find(|o| o.name == *wanted || o.id.to_string() == *wanted)
                }
                None => orgs.first(),
            }
            .with_context(|| match &organization {
                Some(wanted) => {
                    format!("{email} is not a member of an organisation named {wanted}")
                }
                None => {
                    format!("{email} belongs to no organisation; create one in the console first")
                }
            })?;
            let (key, secret) = accounts::create_api_key(&store, org.id, user.id, &name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "Created API key {:?} ({}…) for {} in {}. It is shown only now:",
                key.name, key.prefix, user.email, org.name
            );
            println!("{secret}");
            Ok(())
        }
        Command::User(UserCommand::Create { email, password, name, organization, store }) => {
            let config = Config::load(file, &overrides(&store, None))?;
            init_logging(&config, "warn");
            let store = openmai_server::open_store(&config).await?;
            let (user, org) = accounts::create_user(
                &store,
                &email,
                &password,
                name.as_deref(),
                organization.as_deref(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            match org {
                Some(org) => println!(
                    "created user {} ({}) owning organisation {} ({})",
                    user.email, user.id, org.name, org.id
                ),
                None => println!("created user {} ({})", user.email, user.id),
            }
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = openmai_server::open_store(&config).await?;
    tracing::info!(database = %store.url(), "database ready");
    let state = AppState::new(config.clone(), store.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let address = listener.local_addr()?;
    if let Some(first) = accounts::bootstrap(&store, &config).await? {
        print_first_start(address, &first);
    }
    let router = openmai_server::router(state.clone())?;
    let workers = openmai_server::start_workers(&state, state.config.ingest_workers).await?;
    openmai_server::spawn_housekeeping(state);
    tracing::info!("OpenMai listening on http://{address}");
    openmai_server::serve(router, listener, shutdown_signal()).await?;
    workers.cancel();
    tracing::info!("stopped");
    Ok(())
}

async fn chat(
    assistant: &str,
    question: &str,
    conversation: Option<&str>,
    api: &ApiArgs,
) -> anyhow::Result<()> {
    use std::io::Write;
    let client = openmai_server::cli::Client::new(api)?;
    let mut out = std::io::stdout();
    let end = client
        .chat(assistant, question, conversation, |piece| {
            // Shown as it arrives: flushed per piece.
            let _ = out.write_all(piece.as_bytes());
            let _ = out.flush();
        })
        .await?;
    println!();
    if !end.sources.is_empty() {
        println!("\nSources:");
        for (n, source) in end.sources.iter().enumerate() {
            println!("  [{}] {source}", n + 1);
        }
    }
    eprintln!(
        "conversation: {} (continue with --conversation {})",
        end.conversation, end.conversation
    );
    Ok(())
}

async fn kb(command: KbCommand) -> anyhow::Result<()> {
    match command {
        KbCommand::Create { name, description, api } => {
            let client = openmai_server::cli::Client::new(&api)?;
            let kb = client.create_kb(&name, description.as_deref()).await?;
            println!(
                "created knowledge base {} ({})",
                kb["name"].as_str().unwrap_or_default(),
                kb["id"].as_str().unwrap_or_default()
            );
            Ok(())
        }
        KbCommand::Ingest { kb, paths, api } => {
            let client = openmai_server::cli::Client::new(&api)?;
            let (done, failed) = client.ingest(&kb, &paths).await?;
            println!("{done} done, {} failed", failed.len());
            for (name, reason) in &failed {
                println!("  failed: {name}: {reason}");
            }
            anyhow::ensure!(failed.is_empty(), "{} file(s) failed", failed.len());
            Ok(())
        }
        KbCommand::Search { kb, query, limit, api } => {
            let client = openmai_server::cli::Client::new(&api)?;
            let hits = client.search(&kb, &query, limit).await?;
            if hits.is_empty() {
                println!("no passage matches");
            }
            for (rank, hit) in hits.iter().enumerate() {
                let source =
                    match (hit["chatbotFile"]["filename"].as_str(), hit["pageNumber"].as_i64()) {
                        (Some(file), Some(page)) => format!("{file}, p. {page}"),
                        (Some(file), None) => file.to_owned(),
                        (None, _) => "FAQ".to_owned(),
                    };
                let text: String =
                    hit["text"].as_str().unwrap_or_default().chars().take(200).collect();
                println!(
                    "{}. [{:.3}] {source}\n   {}",
                    rank + 1,
                    hit["score"].as_f64().unwrap_or(0.0),
                    text.replace('\n', " ")
                );
            }
            Ok(())
        }
    }
}

fn print_first_start(address: SocketAddr, first: &accounts::FirstStart) {
    let password = first
        .generated_password
        .clone()
        .unwrap_or_else(|| "(the one set in OPENMAI_ADMIN_PASSWORD)".into());
    println!(
        "\nOpenMai first start: an administrator, an organisation and an API key were created.\n\
         Keep these now; the password and key are not shown again.\n\n  \
         Console       http://{bind}/console/\n  \
         Email         {email}\n  \
         Password      {password}\n  \
         Organisation  {org}\n  \
         API key       {key}\n\n  \
         Try: curl -H 'Authorization: Api-Key {key}' http://{bind}/api/v1/chatbots/\n",
        bind = address,
        email = first.email,
        org = first.organization,
        key = first.api_key,
    );
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
