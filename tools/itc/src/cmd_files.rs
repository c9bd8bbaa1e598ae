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

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use itc_files::control::Request;
use itc_files::version::next_version;
use itc_files::{Manifest, Name, SecretKey, Tombstone};

use crate::errors::Error;
use crate::files_client::Client;
use crate::files_error::FilesError;
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

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn publish(
    store: &Path,
    path: &Path,
    name: Option<&str>,
    key: &Path,
    version: Option<u64>,
) -> Result<u8, Error> {
    let name_text = match name {
        Some(n) => n.to_string(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let name = Name::new(&name_text).map_err(|e| {
        FilesError::Usage(format!(
            "{name_text:?} cannot be a file name on the tiles ({e}); give one with --name"
        ))
    })?;
    let key = load_key(key)?;
    let content = |source| FilesError::Content {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(content)?;
    let meta = file.metadata().map_err(content)?;
    if !meta.is_file() {
        return Err(FilesError::Usage(format!("{} is not a regular file", path.display())).into());
    }
    let mut client = Client::connect(store)?;
    let version = match version {
        Some(v) => v,
        None => {
            let known = client
                .status()?
                .file(name.as_str())
                .and_then(|f| f.known_version());
            next_version(known, now_secs())
        }
    };
    let manifest = Manifest::build(&name, version, meta.len(), &file, &key).map_err(content)?;
    let line = client.call(&Request::Publish(manifest.bytes()), Some(file.as_fd()))?;
    output::line(&String::from_utf8_lossy(&line))?;
    Ok(0)
}

fn delete(store: &Path, name: &str, key: &Path, version: Option<u64>) -> Result<u8, Error> {
    let name = Name::new(name).map_err(|e| FilesError::Usage(format!("{name:?}: {e}")))?;
    let key = load_key(key)?;
    let mut client = Client::connect(store)?;
    let version = match version {
        Some(v) => v,
        None => client
            .status()?
            .file(name.as_str())
            .and_then(|f| f.known_version())
            .ok_or_else(|| {
                FilesError::Usage(format!(
                    "the daemon knows no version of {name}; give the version to delete up to with --version"
                ))
            })?,
    };
    let tombstone = Tombstone::new(&name, version, &key);
    let line = client.call(&Request::Delete(tombstone.bytes()), None)?;
    output::line(&String::from_utf8_lossy(&line))?;
    Ok(0)
}
