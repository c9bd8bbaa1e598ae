//! The control socket between the `itc-files` daemon and the programs that
//! drive it (`itc files`, `tile-sim ctl`): where it is, how requests and
//! replies are framed, and the status they carry. No I/O.
//!
//! The socket is `STORE/control.sock`, a UNIX `SOCK_SEQPACKET` socket: one
//! request is one message, one reply is one message. A message starts with
//! a text line, the rest is binary:
//!
//! ```text
//! request   publish\n MANIFEST      the signed manifest; the content's file
//!                                   descriptor travels with it (SCM_RIGHTS)
//!           delete\n TOMBSTONE      the signed tombstone
//!           status\n                one reply: the status as JSON
//!           watch\n                 a reply now and one whenever the status
//!                                   changes (at most a few a second), until
//!                                   the client closes the socket
//! reply     ok\n BODY               BODY: JSON for status and watch, a line
//!                                   of text for publish and delete
//!           error: MESSAGE\n        one line, for a person
//! ```
//!
//! Signing happens in the client, so the secret key never reaches the
//! daemon; the daemon checks every record against its trusted keys as it
//! does records from neighbours. Passing the content as a descriptor lets a
//! user publish a file the daemon could not open by name.
//!
//! [`Status`] is what `status` and `watch` return (and what `itc files
//! status --json` prints): per name, the live version, the highest
//! deletion, a fetch in progress with its pieces, rate and sources, and the
//! last hook run; the daemon's counters, bad input from neighbours counted
//! by reason, and the service library's counters.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::manifest::MAX_MANIFEST_LEN;

/// The socket's file name in the store directory.
pub const SOCKET_NAME: &str = "control.sock";
/// The store when neither `--store` nor `$ITC_STORE` says otherwise.
pub const DEFAULT_STORE: &str = "/var/lib/itc-files";
/// The longest request: a verb line and the largest manifest.
pub const MAX_REQUEST_LEN: usize = 16 + MAX_MANIFEST_LEN;
/// The format of [`Status`]; grows when a field changes meaning.
pub const STATUS_FORMAT: u32 = 1;

/// The store to use when none is given: `$ITC_STORE` if set and not
/// empty, else [`DEFAULT_STORE`].
pub fn default_store() -> PathBuf {
    match std::env::var_os("ITC_STORE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_STORE),
    }
}

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// Publish a file: its signed manifest (the content comes as a file
    /// descriptor beside the message).
    Publish(&'a [u8]),
    /// Delete a name: the signed tombstone.
    Delete(&'a [u8]),
    /// The status, once.
    Status,
    /// The status now and on every change.
    Watch,
}

/// Why a request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No verb line.
    #[error("a request starts with a verb and a newline")]
    NoVerb,
    /// A verb no daemon knows.
    #[error("unknown request {0:?} (publish, delete, status, watch)")]
    UnknownVerb(String),
    /// A verb that takes no body came with one, or one that needs a body
    /// came without.
    #[error("{0} request with the wrong body")]
    Body(&'static str),
    /// Longer than [`MAX_REQUEST_LEN`].
    #[error("request of {0} bytes is too long")]
    TooLong(usize),
}

impl<'a> Request<'a> {
    /// The verb.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Publish(_) => "publish",
            Request::Delete(_) => "delete",
            Request::Status => "status",
            Request::Watch => "watch",
        }
    }

    /// The message bytes.
    pub fn encode(&self) -> Vec<u8> {
        let body: &[u8] = match self {
            Request::Publish(b) | Request::Delete(b) => b,
            Request::Status | Request::Watch => &[],
        };
        let mut out = Vec::with_capacity(self.verb().len() + 1 + body.len());
        out.extend_from_slice(self.verb().as_bytes());
        out.push(b'\n');
        out.extend_from_slice(body);
        out
    }

    /// Reads a request message.
    pub fn parse(bytes: &'a [u8]) -> Result<Request<'a>, RequestError> {
        if bytes.len() > MAX_REQUEST_LEN {
            return Err(RequestError::TooLong(bytes.len()));
        }
        let nl = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(RequestError::NoVerb)?;
        let (verb, body) = (&bytes[..nl], &bytes[nl + 1..]);
        let req = match verb {
            b"publish" => Request::Publish(body),
            b"delete" => Request::Delete(body),
            b"status" => Request::Status,
            b"watch" => Request::Watch,
            other => {
                return Err(RequestError::UnknownVerb(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        };
        match req {
            Request::Publish(b) | Request::Delete(b) if b.is_empty() => {
                Err(RequestError::Body(req.verb()))
            }
            Request::Status | Request::Watch if !body.is_empty() => {
                Err(RequestError::Body(req.verb()))
            }
            _ => Ok(req),
        }
    }
}

/// The reply message for `result`: `ok\n` and the body, or one error line.
pub fn encode_reply(result: Result<&[u8], &str>) -> Vec<u8> {
    match result {
        Ok(body) => [&b"ok\n"[..], body].concat(),
        Err(message) => format!("error: {}\n", message.replace('\n', " ")).into_bytes(),
    }
}

/// Reads a reply message: the body, or the error message.
pub fn parse_reply(bytes: &[u8]) -> Result<&[u8], String> {
    if let Some(body) = bytes.strip_prefix(b"ok\n") {
        return Ok(body);
    }
    match bytes.strip_prefix(b"error: ") {
        Some(m) => Err(String::from_utf8_lossy(m).trim_end().to_string()),
        None => Err(format!(
            "unexpected reply from the daemon: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        )),
    }
}

/// Everything `status` reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// [`STATUS_FORMAT`].
    pub format: u32,
    /// The store directory.
    pub store: String,
    /// The tree the daemon uses.
    pub mount: String,
    /// Whether the daemon's packet file is open (its `itcd` runs).
    pub online: bool,
    /// The directions with a present neighbour.
    pub neighbours: Vec<String>,
    /// Ids of the trusted keys.
    pub keys: Vec<String>,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// One entry per name the daemon has records of.
    pub files: Vec<FileStatus>,
    /// Problems that stop progress now (a full disk), for a person.
    pub errors: Vec<String>,
    /// The daemon's counters by name (pieces received, served, installs...).
    pub counters: BTreeMap<String, u64>,
    /// Input from neighbours that was dropped, by reason.
    pub bad_input: BTreeMap<String, u64>,
    /// The service library's counters (packets, queues, the tree).
    pub service: BTreeMap<String, u64>,
}

/// One name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileStatus {
    /// The name.
    pub name: String,
    /// The version in `live/`, if any.
    pub live: Option<Live>,
    /// The highest deletion seen, if any.
    pub deleted: Option<u64>,
    /// A newer version being fetched, if any.
    pub fetch: Option<Fetch>,
    /// The last hook run for this name, if any.
    pub hook: Option<Hook>,
}

impl FileStatus {
    /// The highest version known for the name: live, fetched or deleted.
    pub fn known_version(&self) -> Option<u64> {
        [
            self.live.as_ref().map(|l| l.version),
            self.fetch.as_ref().map(|f| f.version),
            self.deleted,
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

/// A live file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// Its version.
    pub version: u64,
    /// Its manifest id, hex.
    pub id: String,
    /// Its length in bytes.
    pub length: u64,
    /// Where it is.
    pub path: String,
}

/// A fetch in progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fetch {
    /// The version.
    pub version: u64,
    /// The manifest id, hex.
    pub id: String,
    /// `manifest` (fetching the manifest), `pieces`, `waiting` (for disk
    /// space) or `installing`.
    pub state: String,
    /// The file's length (0 until the manifest is in).
    pub length: u64,
    /// Pieces verified.
    pub pieces: u32,
    /// Pieces in the file (0 until the manifest is in).
    pub total: u32,
    /// Pieces received and verified since the daemon started (fewer than
    /// `pieces` after a resumed fetch).
    pub fetched: u32,
    /// Bytes per second over the last seconds.
    pub rate: f64,
    /// Seconds left at that rate, if it is known.
    pub eta_secs: Option<f64>,
    /// Directions of the neighbours serving it.
    pub sources: Vec<String>,
    /// What stops it now, if anything.
    pub error: Option<String>,
}

/// The last hook run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// The installed version it ran for.
    pub version: u64,
    /// `running`, `exit N`, `signal N`, `timed out after N s`, ...
    pub status: String,
}

impl Status {
    /// The entry for `name`.
    pub fn file(&self, name: &str) -> Option<&FileStatus> {
        self.files.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for r in [
            Request::Publish(b"ITCM..."),
            Request::Delete(b"ITCT"),
            Request::Status,
            Request::Watch,
        ] {
            assert_eq!(Request::parse(&r.encode()), Ok(r.clone()));
        }
        assert_eq!(Request::Status.encode(), b"status\n");
    }

    #[test]
    fn bad_requests_say_why() {
        assert_eq!(Request::parse(b"status"), Err(RequestError::NoVerb));
        assert_eq!(
            Request::parse(b"frob\n"),
            Err(RequestError::UnknownVerb("frob".into()))
        );
        assert_eq!(
            Request::parse(b"publish\n"),
            Err(RequestError::Body("publish"))
        );
        assert_eq!(
            Request::parse(b"status\nx"),
            Err(RequestError::Body("status"))
        );
        let long = vec![b'x'; MAX_REQUEST_LEN + 1];
        assert_eq!(
            Request::parse(&long),
            Err(RequestError::TooLong(MAX_REQUEST_LEN + 1))
        );
    }

    #[test]
    fn replies_round_trip() {
        assert_eq!(parse_reply(&encode_reply(Ok(b"{}"))), Ok(&b"{}"[..]));
        assert_eq!(
            parse_reply(&encode_reply(Err("no\nway"))),
            Err("no way".to_string())
        );
        assert!(parse_reply(b"huh").unwrap_err().contains("unexpected"));
    }

    #[test]
    fn status_survives_json() {
        let mut s = Status {
            format: STATUS_FORMAT,
            store: "/s".into(),
            ..Status::default()
        };
        s.files.push(FileStatus {
            name: "a".into(),
            live: Some(Live {
                version: 3,
                ..Live::default()
            }),
            deleted: Some(7),
            fetch: Some(Fetch {
                version: 5,
                eta_secs: Some(1.5),
                ..Fetch::default()
            }),
            hook: None,
        });
        s.bad_input.insert("bad_piece".into(), 2);
        let text = serde_json::to_string(&s).unwrap();
        let back: Status = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.file("a").unwrap().known_version(), Some(7));
        assert!(back.file("b").is_none());
    }
}
