//! The tile served as the FUSE tree: [`fuse_fs::Backend`] for [`Tile`].
//!
//! Only translates, both ways: the tree's file kinds (directions as raw
//! indices, which may name none of the six) into the tile's, `open(2)`
//! flags into an [`Access`], handles into [`FileId`]s and back, the tile's
//! errors into errno values, its readiness into the tree's. Every decision
//! is the tile's; this is the one place that names both.

use fuse_fs::{Backend, Errno, Fh, Scope};

use crate::tile::{Access, Error, FileId, FileKind, Readiness, Tile};
use itc_proto::Dir;

/// The tile's kind for a kind of the tree; `None` for a direction past
/// the six.
fn file_kind(kind: fuse_fs::FileKind) -> Option<FileKind> {
    let dir = |scope: Scope| match scope {
        Scope::All => Some(None),
        Scope::Dir(i) => Dir::ALL.get(usize::from(i)).map(|d| Some(*d)),
    };
    Some(match kind {
        fuse_fs::FileKind::Mfm(s) => FileKind::Mfm(dir(s)?),
        fuse_fs::FileKind::Svc(s, n) => FileKind::Svc(dir(s)?, n),
        fuse_fs::FileKind::BatchMfm(s) => FileKind::BatchMfm(dir(s)?),
        fuse_fs::FileKind::BatchSvc(s, n) => FileKind::BatchSvc(dir(s)?, n),
        fuse_fs::FileKind::Events(s) => FileKind::Events(dir(s)?),
        fuse_fs::FileKind::Status(s) => FileKind::Status(dir(s)?),
        fuse_fs::FileKind::SelfInfo => FileKind::SelfInfo,
        fuse_fs::FileKind::Physics => FileKind::Physics,
        fuse_fs::FileKind::Capture => FileKind::Capture,
    })
}

/// The access mode of `open(2)` flags.
fn access(flags: i32) -> Access {
    match flags & libc::O_ACCMODE {
        libc::O_RDONLY => Access::READ,
        libc::O_WRONLY => Access::WRITE,
        _ => Access::READ | Access::WRITE,
    }
}

fn errno(e: Error) -> Errno {
    Errno(e.errno())
}

fn readiness(r: Readiness) -> fuse_fs::Readiness {
    let mut out = fuse_fs::Readiness::empty();
    out.set(
        fuse_fs::Readiness::READABLE,
        r.contains(Readiness::READABLE),
    );
    out.set(
        fuse_fs::Readiness::WRITABLE,
        r.contains(Readiness::WRITABLE),
    );
    out.set(fuse_fs::Readiness::ERROR, r.contains(Readiness::ERROR));
    out
}

impl Backend for Tile {
    fn open(&mut self, kind: fuse_fs::FileKind, flags: i32) -> Result<Fh, Errno> {
        // The server opens only files it looked up, but a backend cannot
        // rely on that: a direction past the six is no file.
        let kind = file_kind(kind).ok_or(Errno::ENOENT)?;
        self.open_file(kind, access(flags))
            .map(|id| id.0)
            .map_err(errno)
    }

    fn release(&mut self, fh: Fh) {
        self.release_file(FileId(fh));
    }

    fn flush(&mut self, fh: Fh) {
        self.flush_file(FileId(fh));
    }

    fn read(&mut self, fh: Fh, offset: u64, size: u32, out: &mut Vec<u8>) -> Result<(), Errno> {
        self.read_file(FileId(fh), offset, size, out).map_err(errno)
    }

    fn write(&mut self, fh: Fh, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        self.write_file(FileId(fh), offset, data).map_err(errno)
    }

    fn poll(&mut self, fh: Fh) -> fuse_fs::Readiness {
        readiness(self.poll_file(FileId(fh)))
    }

    fn take_changed(&mut self, out: &mut Vec<Fh>) {
        out.extend(self.drain_changed().map(|id| id.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::Config;
    use itc_proto::Pru;
    use std::time::Instant;

    #[test]
    fn files_the_tree_lacks_cannot_be_opened() {
        let mut tile = Tile::new(Config::default());
        let now = Instant::now();
        tile.set_pru_up(Pru::Pru0, true);
        tile.on_pru_message(Pru::Pru0, &[0xc3, b'P', Dir::ET.dir8()], now);
        tile.on_pru_message(Pru::Pru0, &[0x80 | Dir::ET.dir8(), 1, 1, 1, b'Z', 0], now);
        assert!(tile.neighbour(Dir::ET).present());
        for kind in [
            fuse_fs::FileKind::Svc(Scope::All, 0),
            fuse_fs::FileKind::Svc(Scope::All, 1),
            fuse_fs::FileKind::Svc(Scope::Dir(0), 64),
            fuse_fs::FileKind::Mfm(Scope::Dir(6)),
            fuse_fs::FileKind::Events(Scope::Dir(200)),
            fuse_fs::FileKind::Status(Scope::Dir(6)),
        ] {
            assert_eq!(
                tile.open(kind, libc::O_RDWR),
                Err(Errno::ENOENT),
                "{kind:?}"
            );
        }
        // Nothing took the neighbour's hellos or its packets.
        let fh = tile
            .open(fuse_fs::FileKind::Svc(Scope::All, 9), libc::O_RDWR)
            .unwrap();
        assert!(
            tile.poll(fh).contains(fuse_fs::Readiness::READABLE),
            "the Connect"
        );
    }

    #[test]
    fn every_kind_of_the_tree_is_a_kind_of_the_tile() {
        for (i, dir) in Dir::ALL.into_iter().enumerate() {
            let s = Scope::Dir(i as u8);
            assert_eq!(
                file_kind(fuse_fs::FileKind::Svc(s, 8)),
                Some(FileKind::Svc(Some(dir), 8))
            );
            assert_eq!(
                file_kind(fuse_fs::FileKind::Status(s)),
                Some(FileKind::Status(Some(dir)))
            );
        }
        assert_eq!(
            file_kind(fuse_fs::FileKind::Mfm(Scope::All)),
            Some(FileKind::Mfm(None))
        );
        assert_eq!(
            file_kind(fuse_fs::FileKind::BatchMfm(Scope::Dir(1))),
            Some(FileKind::BatchMfm(Some(Dir::SE)))
        );
        assert_eq!(
            file_kind(fuse_fs::FileKind::BatchSvc(Scope::All, 9)),
            Some(FileKind::BatchSvc(None, 9))
        );
        assert_eq!(access(libc::O_RDONLY | libc::O_NONBLOCK), Access::READ);
        assert_eq!(access(libc::O_WRONLY), Access::WRITE);
        assert_eq!(access(libc::O_RDWR), Access::READ | Access::WRITE);
        assert_eq!(errno(Error::Unreachable), Errno::EHOSTUNREACH);
        assert_eq!(
            readiness(Readiness::all()),
            fuse_fs::Readiness::all(),
            "every bit crosses"
        );
    }
}
