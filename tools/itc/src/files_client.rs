//! The client side of the `itc-files` control socket (`STORE/control.sock`,
//! seqpacket; the framing is `itc_files::control`): one request per
//! message, the content of a publish passed as a file descriptor, and
//! replies read one message at a time, with a time limit so a hung daemon
//! does not hang the command.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use itc_files::control::{parse_reply, Request, Status, SOCKET_NAME};
use nix::errno::Errno;
use nix::sys::socket::{
    connect, recvmsg, sendmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessage,
    MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::time::TimeVal;

use crate::files_error::FilesError;

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
    pub fn next(&mut self) -> Result<Option<&[u8]>, FilesError> {
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
        match self.next()? {
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
}
