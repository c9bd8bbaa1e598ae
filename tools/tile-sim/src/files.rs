//! `run --files`: the managed file service on every tile. Where its parts
//! live, the grid's signing key, and the control requests that drive the
//! tiles' `itc-files` daemons (`publish`, `delete`, `files`) through their
//! control sockets, as `itc files` does.
//!
//! Layout under `DIR/.sim`:
//!
//! ```text
//! store/r{row}c{col}/   a tile's store (live/ holds its complete files)
//! keys/grid.pub         the key every tile trusts (--keys of each daemon)
//! grid.key              its secret half, which signs publish and delete
//!                       (grid.key.pub beside it is the public half again)
//! hooks/                every tile's --hooks (empty unless a user adds some)
//! ```
//!
//! The stores, the key and the hooks outlive the grid: a stopped grid
//! leaves them, so that its files can be inspected, and a later `run
//! --files` on the same DIR starts from them with the same key (remove DIR
//! to start afresh).

use std::fs;
use std::path::{Path, PathBuf};

use itc_files::client::Client;
use itc_files::control::{FileStatus, Status};
use itc_files::SecretKey;

/// The file service's directories of a grid in `DIR/.sim`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `DIR/.sim`.
    pub sim: PathBuf,
}

impl Layout {
    /// The layout under `sim` (`DIR/.sim`).
    pub fn new(sim: &Path) -> Layout {
        Layout {
            sim: sim.to_owned(),
        }
    }

    /// A tile's store.
    pub fn store(&self, tile: &str) -> PathBuf {
        self.sim.join("store").join(tile)
    }

    /// The trusted keys.
    pub fn keys(&self) -> PathBuf {
        self.sim.join("keys")
    }

    /// The secret key.
    pub fn secret(&self) -> PathBuf {
        self.sim.join("grid.key")
    }

    /// The hooks.
    pub fn hooks(&self) -> PathBuf {
        self.sim.join("hooks")
    }

    /// Creates the directories and, unless one is there, the grid's key
    /// pair; returns the key's id.
    pub fn prepare(&self) -> Result<String, String> {
        for dir in [self.sim.join("store"), self.keys(), self.hooks()] {
            fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let key = match SecretKey::load(&self.secret()) {
            Ok(key) => key,
            Err(_) if !self.secret().exists() => {
                let key = SecretKey::generate().map_err(|e| e.to_string())?;
                key.write_pair(&self.secret()).map_err(|e| e.to_string())?;
                key
            }
            Err(e) => return Err(format!("{e} (remove it to make a new key)")),
        };
        // Written afresh, so that it always matches the secret key.
        let public = self.keys().join("grid.pub");
        match fs::remove_file(&public) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", public.display())),
        }
        key.public().write(&public).map_err(|e| e.to_string())?;
        Ok(key.id().to_string())
    }

    fn key(&self) -> Result<SecretKey, String> {
        SecretKey::load(&self.secret()).map_err(|e| e.to_string())
    }

    /// Publishes `file` from `tile` (as `name`, default the file's own).
    pub fn publish(&self, tile: &str, file: &Path, name: Option<&str>) -> Result<String, String> {
        let key = self.key()?;
        Client::connect(&self.store(tile))
            .and_then(|mut c| c.publish(file, name, &key, None))
            .map_err(|e| e.to_string())
    }

    /// Deletes `name` from `tile` (every version it knows).
    pub fn delete(&self, tile: &str, name: &str) -> Result<String, String> {
        let key = self.key()?;
        Client::connect(&self.store(tile))
            .and_then(|mut c| c.delete(name, &key, None))
            .map_err(|e| e.to_string())
    }

    /// The status of `tile`'s daemon.
    pub fn status(&self, tile: &str) -> Result<Status, String> {
        Client::connect(&self.store(tile))
            .and_then(|mut c| c.status())
            .map_err(|e| e.to_string())
    }
}

/// `ctl files` lines for one tile: `TILE NAME STATE`, one per name, or
/// one line saying why there are none.
pub fn lines(tile: &str, status: Result<Status, String>) -> Vec<String> {
    let status = match status {
        Ok(s) => s,
        Err(e) => return vec![format!("{tile:<8} -  ({e})")],
    };
    if status.files.is_empty() {
        return vec![format!("{tile:<8} -  no files")];
    }
    status
        .files
        .iter()
        .map(|f| format!("{tile:<8} {:<24} {}", f.name, state(f)))
        .collect()
}

/// Where a name stands on a tile: `live v5`, `live v5, fetching v6
/// 12/40 pieces`, `deleted up to v6`.
fn state(f: &FileStatus) -> String {
    let mut parts = Vec::new();
    if let Some(live) = &f.live {
        parts.push(format!("live v{}", live.version));
    }
    if let Some(fetch) = &f.fetch {
        let what = match fetch.state.as_str() {
            "manifest" => "the manifest".to_string(),
            "waiting" => format!(
                "{}/{} pieces, waiting for disk space",
                fetch.pieces, fetch.total
            ),
            "installing" => "installing".to_string(),
            _ => format!("{}/{} pieces", fetch.pieces, fetch.total),
        };
        parts.push(format!("fetching v{} {what}", fetch.version));
    }
    if let Some(v) = f.deleted {
        if f.live.is_none() && f.fetch.is_none() {
            parts.push(format!("deleted up to v{v}"));
        }
    }
    if parts.is_empty() {
        parts.push("-".to_string());
    }
    parts.join(", ")
}
