//! Where things are in `itcd`'s tree (`docs/reference.md`), and the two kinds of
//! packet traffic with the headers `itc` writes for them.
//!
//! ```text
//! DIR/itc/{mfm,svc/NN,events,status,self,physics}
//! DIR/tile/<D>/{mfm,svc/NN,events,status}
//! DIR/itc/batch/{mfm,svc/NN}, DIR/tile/<D>/batch/... (where served)
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use itc_proto::Dir;
use itc_proto::{HeaderRepr, Packet, RoutedHeader, MAX_SERVICE, SVC_HELLO};

/// The mount point used when neither `--mount` nor `$ITC_MOUNT` is given.
pub const DEFAULT_MOUNT: &str = "/run/itc";

/// The environment variable naming the mount point.
pub const MOUNT_ENV: &str = "ITC_MOUNT";

/// Packet traffic: MFM, or one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MFM packets (MFMT set).
    Mfm,
    /// Packets of one service, 2..=63.
    Svc(u8),
}

impl Kind {
    /// The packet file's path below `itc/` or `tile/<D>/`.
    fn file(self) -> String {
        match self {
            Kind::Mfm => "mfm".to_string(),
            Kind::Svc(n) => format!("svc/{n:02}"),
        }
    }

    /// A whole packet of this kind to `dir` with `payload` after the
    /// header. Fails if the service is not valid.
    pub fn packet(self, dir: Dir, payload: &[u8]) -> Result<Vec<u8>, itc_proto::Error> {
        let header = HeaderRepr::Routed(RoutedHeader {
            mfm: self == Kind::Mfm,
            ovrn: false,
            eror: false,
            dir: dir.dir8(),
            service: match self {
                Kind::Mfm => None,
                Kind::Svc(n) => Some(n),
            },
        });
        let mut bytes = vec![0; header.header_len() + payload.len()];
        header.emit(&mut Packet::new_unchecked(&mut bytes[..]))?;
        bytes[header.header_len()..].copy_from_slice(payload);
        Ok(bytes)
    }
}

impl fmt::Display for Kind {
    /// `mfm` or `svcNN`, as in `recv` lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Mfm => f.write_str("mfm"),
            Kind::Svc(n) => write!(f, "svc{n:02}"),
        }
    }
}

/// Parses a service number for `--svc`: decimal, 2..=63 (service 1 belongs
/// to `itcd`, service 0 is null).
pub fn parse_service(text: &str) -> Result<u8, String> {
    let n: u8 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a service number (2..={MAX_SERVICE})"))?;
    match n {
        0 => Err("service 0 is null and never valid".to_string()),
        SVC_HELLO => Err("service 1 (hello) belongs to itcd and has no file".to_string()),
        n if n > MAX_SERVICE => Err(format!("service {n} is out of range (2..={MAX_SERVICE})")),
        n => Ok(n),
    }
}

/// A mounted tree.
#[derive(Debug, Clone)]
pub struct Tree {
    root: PathBuf,
}

impl Tree {
    /// The tree at `explicit`, else at `$ITC_MOUNT`, else at `/run/itc`.
    pub fn locate(explicit: Option<PathBuf>) -> Tree {
        let root = explicit
            .or_else(|| {
                std::env::var_os(MOUNT_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MOUNT));
        Tree { root }
    }

    /// The mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `itc/status`: the table of all directions.
    pub fn status(&self) -> PathBuf {
        self.root.join("itc/status")
    }

    /// `itc/self`: this tile's name, physics, version.
    pub fn self_info(&self) -> PathBuf {
        self.root.join("itc/self")
    }

    /// `itc/physics`.
    pub fn physics(&self) -> PathBuf {
        self.root.join("itc/physics")
    }

    /// `tile/<D>/status`.
    pub fn dir_status(&self, dir: Dir) -> PathBuf {
        self.scope_dir(Some(dir)).join("status")
    }

    /// `itc/capture`.
    pub fn capture(&self) -> PathBuf {
        self.root.join("itc").join("capture")
    }

    /// `itc/events` or `tile/<D>/events`.
    pub fn events(&self, scope: Option<Dir>) -> PathBuf {
        self.scope_dir(scope).join("events")
    }

    /// `itc/mfm`, `itc/svc/NN`, or the same under `tile/<D>/`.
    pub fn packet_file(&self, kind: Kind, scope: Option<Dir>) -> PathBuf {
        self.scope_dir(scope).join(kind.file())
    }

    /// The batched twin of [`Tree::packet_file`] (`itc/batch/mfm`, ...),
    /// one channel with it, where the tree has batched files.
    pub fn batch_packet_file(&self, kind: Kind, scope: Option<Dir>) -> PathBuf {
        self.scope_dir(scope).join("batch").join(kind.file())
    }

    fn scope_dir(&self, scope: Option<Dir>) -> PathBuf {
        match scope {
            Some(dir) => self.root.join("tile").join(dir.name()),
            None => self.root.join("itc"),
        }
    }
}

/// The batched twin of the packet file at `path`: `.../itc/svc/20` is
/// `.../itc/batch/svc/20`, `.../tile/WT/mfm` is `.../tile/WT/batch/mfm`.
pub fn batched_twin(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default();
    let parent = path.parent().unwrap_or(path);
    if parent.file_name().is_some_and(|n| n == "svc") {
        let scope = parent.parent().unwrap_or(parent);
        scope.join("batch").join("svc").join(name)
    } else {
        parent.join("batch").join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = Tree::locate(Some(PathBuf::from("/m")));
        assert_eq!(t.status(), Path::new("/m/itc/status"));
        assert_eq!(t.dir_status(Dir::ET), Path::new("/m/tile/ET/status"));
        assert_eq!(t.events(None), Path::new("/m/itc/events"));
        assert_eq!(t.events(Some(Dir::NW)), Path::new("/m/tile/NW/events"));
        assert_eq!(
            t.packet_file(Kind::Svc(2), Some(Dir::ET)),
            Path::new("/m/tile/ET/svc/02")
        );
        assert_eq!(t.packet_file(Kind::Mfm, None), Path::new("/m/itc/mfm"));
        assert_eq!(
            t.batch_packet_file(Kind::Svc(20), None),
            Path::new("/m/itc/batch/svc/20")
        );
        for (kind, scope) in [(Kind::Svc(20), None), (Kind::Mfm, Some(Dir::WT))] {
            assert_eq!(
                batched_twin(&t.packet_file(kind, scope)),
                t.batch_packet_file(kind, scope)
            );
        }
        assert_eq!(
            batched_twin(Path::new("/m/itc/mfm")),
            Path::new("/m/itc/batch/mfm")
        );
    }

    #[test]
    fn headers() {
        assert_eq!(
            Kind::Mfm.packet(Dir::ET, &[0xde, 0xad]).unwrap(),
            [
                0xa2, // routed, MFMT, DIR=2 (ET)
                0xde, 0xad, // payload
            ]
        );
        assert_eq!(
            Kind::Svc(20).packet(Dir::WT, b"hi").unwrap(),
            [
                0x86, // routed, service traffic, DIR=6 (WT)
                0x14, // service 20
                b'h', b'i', // payload
            ]
        );
        assert_eq!(Kind::Mfm.packet(Dir::NE, &[]).unwrap(), [0xa1]);
    }

    #[test]
    fn service_numbers() {
        assert_eq!(parse_service("02"), Ok(2));
        assert_eq!(parse_service("63"), Ok(63));
        assert!(parse_service("1").unwrap_err().contains("hello"));
        assert!(parse_service("0").is_err());
        assert!(parse_service("64").is_err());
        assert!(parse_service("x").is_err());
        assert_eq!(Kind::Svc(7).to_string(), "svc07");
    }
}
