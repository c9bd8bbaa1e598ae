//! The managed file service (service 8) below its daemon loop: everything
//! a tile needs to spread named, signed files to its neighbours, newest
//! version winning, and to install them atomically.
//!
//! - [`name`]: valid file names; [`keys`]: ed25519 keys, key files, the
//!   trusted keyring.
//! - [`manifest`] and [`tombstone`]: the signed records, their canonical
//!   encodings and bounded parsers; [`id`]: their hashes.
//! - [`version`]: which record wins, and what is left to install.
//! - [`store`]: the on-disk store, crash-safe; it owns the [`live`] files,
//!   the [`staging`] of files being fetched (with their [`pieces`]), the
//!   tombstones and the [`hooks`] record; [`disk`] holds its careful file
//!   system steps and [`recovered`] what opening it repaired.
//! - [`wire`]: the service-8 messages, each one packet; [`transfer`]: the
//!   receiving side of one file (what to ask whom, time-outs, back-off);
//!   [`assembly`]: a manifest or piece put together from chunks.
//! - [`codec`] and [`hex`]: bounded reading and hex text.
//! - [`control`]: the daemon's control socket: framing and the status it
//!   reports (no I/O); [`client`]: its client side, which signs, with
//!   [`client_error`] for what goes wrong.
//!
//! `docs/file-protocol.md` describes the protocol byte by byte.
#![forbid(unsafe_code)]

pub mod assembly;
pub mod client;
pub mod client_error;
pub mod codec;
pub mod control;
pub mod disk;
pub mod hex;
pub mod hooks;
pub mod id;
pub mod keys;
pub mod live;
pub mod manifest;
pub mod name;
pub mod pieces;
pub mod recovered;
pub mod staging;
pub mod store;
pub mod tombstone;
pub mod transfer;
pub mod version;
pub mod wire;

pub use assembly::{Assembly, AssemblyError};
pub use disk::StoreError;
pub use hooks::{HookLog, HookRecord};
pub use id::{RecordId, ShortId};
pub use keys::{KeyError, KeyId, Keyring, PublicKey, SecretKey, VerifyError};
pub use manifest::{Manifest, ManifestError};
pub use name::{Name, NameError};
pub use pieces::PieceSet;
pub use recovered::Recovered;
pub use store::{Deleted, ServeError, Store, Written};
pub use tombstone::{Tombstone, TombstoneError};
pub use transfer::{Event, Transfer};
pub use version::{Action, Applied, Entry, Stamp, State, Versions};
