//! Test support (feature `testing`): moto's S3 server mode as a child process, for tests of
//! the S3 path here and in the server.
//!
//! moto must be installed: `crates/openmai-blobs/tests/setup.sh` puts it in a venv at
//! `~/.cache/openmai/moto-venv`, which [`Moto::start`] finds; `moto_server` on PATH or
//! `OPENMAI_MOTO_SERVER=/path/to/moto_server` work too. Without moto the tests fail (they are
//! never skipped silently).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::Credentials;

/// Credentials moto accepts (it checks none).
pub fn moto_credentials() -> Credentials {
    Credentials {
        access_key_id: "testing".to_owned(),
        secret_access_key: SecretString::from("testing"),
        region: "us-east-1".to_owned(),
    }
}

const INSTALL_HINT: &str = "moto's server is required for the S3 tests and was not found. Install it with \
     `crates/openmai-blobs/tests/setup.sh` (a venv at ~/.cache/openmai/moto-venv), or \
     `pip install 'moto[server]'` so `moto_server` is on PATH, or set \
     OPENMAI_MOTO_SERVER=/path/to/moto_server";

/// Finds `moto_server`: $OPENMAI_MOTO_SERVER, then PATH, then setup.sh's venv.
fn find_moto() -> PathBuf {
    if let Some(path) = std::env::var_os("OPENMAI_MOTO_SERVER") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "OPENMAI_MOTO_SERVER={} does not exist. {INSTALL_HINT}",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"));
    let venv = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/openmai/moto-venv/bin/moto_server"));
    on_path.chain(venv).find(|p| p.is_file()).unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

/// A moto server child process, killed when dropped (also when the test panics).
pub struct Moto {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub endpoint: String,
    log: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Moto {
    /// Starts moto on a free loopback port, logging to `dir/moto.log`, and waits until it
    /// answers.
    pub async fn start(dir: &Path) -> Self {
        let program = find_moto();
        // Ask the OS for a free port; the tiny window before moto binds it is acceptable here.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join("moto.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}. {INSTALL_HINT}", program.display()));
        let mut moto = Self { child, endpoint: format!("http://127.0.0.1:{port}"), log };
        moto.wait_ready().await;
        moto
    }

    /// Polls until moto answers HTTP, within a bounded time; fails early if it exits.
    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited ({status}): {}", self.log_text());
            }
            if let Ok(resp) = client.get(&self.endpoint).send().await
                && resp.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within 60 s: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills moto and reaps it (Drop can only send the signal).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Moto {
    /// Creates a bucket (moto checks no credentials, so a plain PUT does it).
    pub async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto: {e}"));
        assert!(response.status().is_success(), "creating bucket {bucket}: {}", response.status());
    }
}
