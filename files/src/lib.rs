//! The managed file service (service 8) below its daemon loop: everything
//! a tile needs to spread named, signed files to its neighbours, newest
//! version winning, and to install them atomically.
//!
//! - [`name`]: valid file names; [`keys`]: ed25519 keys, key files, the
//!   trusted keyring.
//! - [`manifest`] and [`tombstone`]: the signed records, their canonical
//!   encodings and bounded parsers; [`id`]: their hashes.
//! - [`version`]: which record wins, and what is left to install.
//! - [`store`]: the on-disk store (`live/`, `staging/`), crash-safe.
//! - [`wire`]: the service-8 messages, each one packet.
//! - [`assembly`]: a piece or manifest put together from chunks.
//!
//! `docs/file-protocol.md` describes the protocol byte by byte.
#![forbid(unsafe_code)]

pub mod codec;
pub mod hex;
pub mod id;
pub mod keys;
pub mod manifest;
pub mod name;
pub mod tombstone;
pub mod version;
pub mod wire;

pub use id::{RecordId, ShortId};
pub use keys::{KeyError, KeyId, Keyring, PublicKey, SecretKey, VerifyError};
pub use manifest::{Manifest, ManifestError};
pub use name::{Name, NameError};
pub use tombstone::{Tombstone, TombstoneError};
pub use version::{Action, Applied, Entry, Stamp, State, Versions};
