//! The client side of the `itc-files` control socket (`STORE/control.sock`,
//! seqpacket; the framing is [`crate::control`]): one request per message,
//! the content of a publish passed as a file descriptor, and replies read
//! one message at a time, with a time limit so a hung daemon does not hang
//! the caller. [`Client::publish`] and [`Client::delete`] sign here, with a
//! secret key the daemon never sees; `itc files` and `tile-sim ctl` use
//! them alike.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client_error::FilesError;
use crate::control::{parse_reply, Request, Status, SOCKET_NAME};
use crate::keys::SecretKey;
use crate::manifest::Manifest;
use crate::name::Name;
use crate::tombstone::Tombstone;
use crate::version::next_version;
use nix::errno::Errno;
use nix::sys::socket::{
    connect, recvmsg, sendmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessage,
    MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::time::TimeVal;

/// The largest reply read: a status of many names.
const MAX_REPLY: usize = 4 << 20;
/// How long a reply may take (a publish stores the whole file first).
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to the daemon of one store.
pub struct Client {
    fd: OwnedFd,
    socket: PathBuf,
    buf: Vec<u8>,
}

impl Client {
    /// Connects to the daemon of `store`.
    pub fn connect(store: &Path) -> Result<Client, FilesError> {
        let socket_path = store.join(SOCKET_NAME);
        let no_daemon = |e: Errno| FilesError::NoDaemon {
            store: store.to_owned(),
            socket: socket_path.clone(),
            source: e.into(),
        };
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(no_daemon)?;
        let addr = UnixAddr::new(&socket_path).map_err(no_daemon)?;
        connect(fd.as_raw_fd(), &addr).map_err(no_daemon)?;
        let client = Client {
            fd,
            socket: socket_path,
            buf: vec![0; MAX_REPLY],
        };
        let tv = TimeVal::new(REPLY_TIMEOUT.as_secs() as i64, 0);
        setsockopt(&client.fd, sockopt::ReceiveTimeout, &tv).map_err(|e| client.broken(e))?;
        Ok(client)
    }

    fn broken(&self, e: Errno) -> FilesError {
        let what = match e {
            Errno::EAGAIN => format!(
                "no answer within {} s: is the daemon hung?",
                REPLY_TIMEOUT.as_secs()
            ),
            Errno::EPIPE | Errno::ECONNRESET => "the daemon closed the connection".to_string(),
            e => e.desc().to_string(),
        };
        FilesError::Exchange {
            socket: self.socket.clone(),
            what,
        }
    }

    /// Sends `req`, with `content` beside it if given.
    pub fn send(
        &self,
        req: &Request<'_>,
        content: Option<BorrowedFd<'_>>,
    ) -> Result<(), FilesError> {
        let bytes = req.encode();
        let iov = [IoSlice::new(&bytes)];
        let fds;
        let cmsgs: Vec<ControlMessage<'_>> = match content {
            Some(fd) => {
                fds = [fd.as_raw_fd()];
                vec![ControlMessage::ScmRights(&fds)]
            }
            None => Vec::new(),
        };
        loop {
            match sendmsg::<UnixAddr>(
                self.fd.as_raw_fd(),
                &iov,
                &cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(self.broken(e)),
            }
        }
    }

    /// The next reply's body; `None` when the daemon closed the connection.
    pub fn next_reply(&mut self) -> Result<Option<&[u8]>, FilesError> {
        let n = loop {
            let mut iov = [IoSliceMut::new(&mut self.buf)];
            match recvmsg::<UnixAddr>(self.fd.as_raw_fd(), &mut iov, None, MsgFlags::empty()) {
                Ok(msg) if msg.flags.contains(MsgFlags::MSG_TRUNC) => {
                    return Err(FilesError::Exchange {
                        socket: self.socket.clone(),
                        what: format!("a reply longer than {MAX_REPLY} bytes"),
                    })
                }
                Ok(msg) => break msg.bytes,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(self.broken(e)),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        parse_reply(&self.buf[..n])
            .map(Some)
            .map_err(FilesError::Refused)
    }

    /// Sends `req` and reads its reply.
    pub fn call(
        &mut self,
        req: &Request<'_>,
        content: Option<BorrowedFd<'_>>,
    ) -> Result<Vec<u8>, FilesError> {
        self.send(req, content)?;
        let socket = self.socket.clone();
        match self.next_reply()? {
            Some(body) => Ok(body.to_vec()),
            None => Err(FilesError::Exchange {
                socket,
                what: "the daemon closed the connection without answering".to_string(),
            }),
        }
    }

    /// Decodes a status reply.
    pub fn decode_status(&self, body: &[u8]) -> Result<Status, FilesError> {
        serde_json::from_slice(body).map_err(|e| FilesError::Exchange {
            socket: self.socket.clone(),
            what: format!("a status that does not decode ({e}): is the daemon another version?"),
        })
    }

    /// The daemon's status.
    pub fn status(&mut self) -> Result<Status, FilesError> {
        let body = self.call(&Request::Status, None)?;
        self.decode_status(&body)
    }

    /// Waits for watch updates without a time limit.
    pub fn no_timeout(&self) -> Result<(), FilesError> {
        let tv = TimeVal::new(0, 0);
        setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv).map_err(|e| self.broken(e))
    }

    /// Signs the file at `path` with `key` and publishes it as `name`
    /// (default: the file's own name) at `version` (default: above any the
    /// daemon knows for the name); the daemon's one-line answer.
    pub fn publish(
        &mut self,
        path: &Path,
        name: Option<&str>,
        key: &SecretKey,
        version: Option<u64>,
    ) -> Result<String, FilesError> {
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
        let content = |source| FilesError::Content {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(content)?;
        let meta = file.metadata().map_err(content)?;
        if !meta.is_file() {
            return Err(FilesError::Usage(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let version = match version {
            Some(v) => v,
            None => {
                let known = self
                    .status()?
                    .file(name.as_str())
                    .and_then(|f| f.known_version());
                next_version(known, now_secs())
            }
        };
        let manifest = Manifest::build(&name, version, meta.len(), &file, key).map_err(content)?;
        let line = self.call(&Request::Publish(manifest.bytes()), Some(file.as_fd()))?;
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Signs a deletion of `name` up to `version` (default: the newest the
    /// daemon knows) with `key` and hands it to the daemon; its one-line
    /// answer.
    pub fn delete(
        &mut self,
        name: &str,
        key: &SecretKey,
        version: Option<u64>,
    ) -> Result<String, FilesError> {
        let name = Name::new(name).map_err(|e| FilesError::Usage(format!("{name:?}: {e}")))?;
        let version = match version {
            Some(v) => v,
            None => self
                .status()?
                .file(name.as_str())
                .and_then(|f| f.known_version())
                .ok_or_else(|| {
                    FilesError::Usage(format!(
                        "the daemon knows no version of {name}; give the version to delete up to with --version"
                    ))
                })?,
        };
        let tombstone = Tombstone::new(&name, version, key);
        let line = self.call(&Request::Delete(tombstone.bytes()), None)?;
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
