//! `itc files`: the managed file service from the command line.
//!
//! ```text
//! itc files keygen KEY                         a key pair: KEY (secret) and KEY.pub
//! itc files publish FILE [--name N] --key KEY [--version V]
//! itc files delete NAME --key KEY [--version V]
//! itc files list | status [--json] | watch     [--store DIR] on any of them
//! ```
//!
//! Signing happens here, so the secret key never leaves the user: publish
//! hashes the file piece by piece into a manifest, signs it and hands the
//! daemon the manifest and the open file; delete signs a tombstone. The
//! daemon (`itc-files`) is found through `STORE/control.sock`, STORE from
//! `--store`, else `$ITC_STORE`, else `/var/lib/itc-files`. A publish gets
//! by default a version above any the daemon knows for the name (the time
//! in seconds, or one more); a delete removes every version up to the
//! newest the daemon knows.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use itc_files::client::Client;
use itc_files::client_error::FilesError;
use itc_files::control::Request;
use itc_files::SecretKey;

use crate::errors::Error;
use crate::{files_show, files_watch, output};

/// The `itc files` subcommands.
#[derive(Debug, Subcommand)]
pub enum FilesCmd {
    /// Create a signing key: KEY (secret, mode 0600) and KEY.pub (copy it
    /// to every tile's keys directory, /etc/itc/keys).
    Keygen {
        /// Where to write the secret key.
        #[arg(value_name = "KEY")]
        key: PathBuf,
    },
    /// Sign FILE and publish it: every tile gets it, newest version wins.
    Publish {
        /// The file to publish.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Its name on the tiles [default: FILE's own name].
        #[arg(long, value_name = "N")]
        name: Option<String>,
        /// The secret key to sign with.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// The version [default: now in seconds, or one more than the
        /// newest known].
        #[arg(long, value_name = "V")]
        version: Option<u64>,
    },
    /// Delete NAME on every tile (every version up to --version).
    Delete {
        /// The name.
        #[arg(value_name = "NAME")]
        name: String,
        /// The secret key to sign with.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// The version to delete up to [default: the newest known].
        #[arg(long, value_name = "V")]
        version: Option<u64>,
    },
    /// One line per name: version, size, state.
    List,
    /// The daemon's state: files, fetches, hooks, counters, bad input.
    Status {
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Follow fetches as they go: progress bars on a terminal, lines
    /// otherwise.
    Watch,
}

/// The store when `--store` is not given.
fn store_of(store: Option<PathBuf>) -> PathBuf {
    store.unwrap_or_else(itc_files::control::default_store)
}

/// Runs an `itc files` subcommand.
pub fn run(store: Option<PathBuf>, cmd: FilesCmd) -> Result<u8, Error> {
    let store = store_of(store);
    match cmd {
        FilesCmd::Keygen { key } => keygen(&key),
        FilesCmd::Publish {
            file,
            name,
            key,
            version,
        } => publish(&store, &file, name.as_deref(), &key, version),
        FilesCmd::Delete { name, key, version } => delete(&store, &name, &key, version),
        FilesCmd::List => {
            let s = Client::connect(&store)?.status()?;
            for line in files_show::list(&s) {
                output::line(&line)?;
            }
            Ok(0)
        }
        FilesCmd::Status { json } => {
            let mut client = Client::connect(&store)?;
            if json {
                let body = client.call(&Request::Status, None)?;
                output::line(&String::from_utf8_lossy(&body))?;
            } else {
                for line in files_show::status(&client.status()?) {
                    output::line(&line)?;
                }
            }
            Ok(0)
        }
        FilesCmd::Watch => files_watch::run(Client::connect(&store)?),
    }
}

fn keygen(path: &Path) -> Result<u8, Error> {
    let key = SecretKey::generate().map_err(FilesError::Key)?;
    let public = key.write_pair(path).map_err(FilesError::Key)?;
    output::line(&format!(
        "key {}: secret in {} (keep it), public in {} (copy it to /etc/itc/keys on every tile)",
        key.id(),
        path.display(),
        public.display()
    ))?;
    Ok(0)
}

fn load_key(path: &Path) -> Result<SecretKey, FilesError> {
    SecretKey::load(path).map_err(FilesError::Key)
}

fn publish(
    store: &Path,
    path: &Path,
    name: Option<&str>,
    key: &Path,
    version: Option<u64>,
) -> Result<u8, Error> {
    let key = load_key(key)?;
    let line = Client::connect(store)?.publish(path, name, &key, version)?;
    output::line(&line)?;
    Ok(0)
}

fn delete(store: &Path, name: &str, key: &Path, version: Option<u64>) -> Result<u8, Error> {
    let key = load_key(key)?;
    let line = Client::connect(store)?.delete(name, &key, version)?;
    output::line(&line)?;
    Ok(0)
}
