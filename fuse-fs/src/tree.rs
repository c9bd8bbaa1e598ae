//! The shape of the tree: every node, its inode number, name, type and mode.
//!
//! The tree is fixed at mount time, so nodes are computed, never
//! stored: an inode number encodes the node and [`Node::from_ino`] decodes
//! it back. Nothing here does I/O.
//!
//! ```text
//! /itc/mfm  /itc/svc/NN  /itc/events  /itc/status  /itc/self  /itc/physics
//! /itc/capture
//! /tile/<D>/mfm  /tile/<D>/svc/NN  /tile/<D>/events  /tile/<D>/status
//! /itc/batch/mfm  /itc/batch/svc/NN  /tile/<D>/batch/mfm  /tile/<D>/batch/svc/NN
//! ```

use itc_proto::service::FILE_SERVICES;
use itc_proto::Dir;

/// Lowest service number with a file (service 1, hello, belongs to `itcd`).
const FIRST_SERVICE: u8 = *FILE_SERVICES.start();
/// Highest service number.
const LAST_SERVICE: u8 = *FILE_SERVICES.end();

/// Which directions a file covers: all of them (`itc/...`) or one neighbour
/// (`tile/<D>/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `itc/...`: every direction.
    All,
    /// `tile/<D>/...`: the direction with this index into [`Dir::ALL`].
    Dir(u8),
}

/// A regular file of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `mfm`: MFM packets.
    Mfm(Scope),
    /// `svc/NN`: packets of one service (2..=63).
    Svc(Scope, u8),
    /// `batch/mfm`: the batched twin of `mfm`.
    BatchMfm(Scope),
    /// `batch/svc/NN`: the batched twin of `svc/NN`.
    BatchSvc(Scope, u8),
    /// `events`: Tile Event Packets.
    Events(Scope),
    /// `status`: the status table (`itc`) or key/value lines (`tile/<D>`).
    Status(Scope),
    /// `itc/self`: this tile.
    SelfInfo,
    /// `itc/physics`: this tile's physics id.
    Physics,
    /// `itc/capture`: records of every packet received, sent or dropped.
    Capture,
}

impl FileKind {
    /// Packet files carry packets (one per call, or framed items in the
    /// batched twins) and are exclusive.
    pub fn is_packet_file(self) -> bool {
        matches!(
            self,
            FileKind::Mfm(_) | FileKind::Svc(..) | FileKind::BatchMfm(_) | FileKind::BatchSvc(..)
        )
    }

    /// The batched twins, which carry framed items.
    pub fn is_batched(self) -> bool {
        matches!(self, FileKind::BatchMfm(_) | FileKind::BatchSvc(..))
    }

    /// Whether the tree has this file: a `FileKind` can name a direction
    /// past the six, or a service without a file (0, 1, above 63).
    pub fn exists(self) -> bool {
        let node = Node::File(self);
        Node::from_ino(node.ino()) == Some(node)
    }

    /// Permission bits of the file.
    pub fn mode(self) -> u32 {
        match self {
            FileKind::Mfm(_)
            | FileKind::Svc(..)
            | FileKind::BatchMfm(_)
            | FileKind::BatchSvc(..) => 0o660,
            FileKind::Physics => 0o664,
            FileKind::Events(_) | FileKind::Status(_) | FileKind::SelfInfo | FileKind::Capture => {
                0o444
            }
        }
    }
}

/// A node of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// The mount point.
    Root,
    /// `itc/`.
    ItcDir,
    /// `tile/`.
    TileDir,
    /// `itc/svc/` or `tile/<D>/svc/`.
    SvcDir(Scope),
    /// `tile/<D>/`.
    DirDir(u8),
    /// `itc/batch/` or `tile/<D>/batch/`.
    BatchDir(Scope),
    /// `itc/batch/svc/` or `tile/<D>/batch/svc/`.
    BatchSvcDir(Scope),
    /// A regular file.
    File(FileKind),
}

// Inode layout. Directories and itc files sit below 0x100; service files of
// a scope are base + service, their batched twins base + 0x40 + service;
// each direction gets a block of 0x100.
const INO_ROOT: u64 = 1;
const INO_ITC: u64 = 2;
const INO_TILE: u64 = 3;
const OFF_DIRDIR: u64 = 0x10;
const OFF_SVCDIR: u64 = 0x11;
const OFF_MFM: u64 = 0x12;
const OFF_EVENTS: u64 = 0x13;
const OFF_STATUS: u64 = 0x14;
const OFF_SELF: u64 = 0x15;
const OFF_PHYSICS: u64 = 0x16;
const OFF_CAPTURE: u64 = 0x17;
const OFF_BATCHDIR: u64 = 0x18;
const OFF_BATCHSVCDIR: u64 = 0x19;
const OFF_BATCHMFM: u64 = 0x1a;
const OFF_SVC: u64 = 0x40;
const OFF_BATCHSVC: u64 = 0x80;
const SCOPE_ALL_BASE: u64 = 0x100;
const SCOPE_BLOCK: u64 = 0x100;

fn scope_base(scope: Scope) -> u64 {
    match scope {
        Scope::All => SCOPE_ALL_BASE,
        Scope::Dir(i) => SCOPE_ALL_BASE + SCOPE_BLOCK * (1 + u64::from(i)),
    }
}

impl Node {
    /// The inode number of this node.
    pub fn ino(self) -> u64 {
        match self {
            Node::Root => INO_ROOT,
            Node::ItcDir => INO_ITC,
            Node::TileDir => INO_TILE,
            Node::DirDir(i) => scope_base(Scope::Dir(i)) + OFF_DIRDIR,
            Node::SvcDir(s) => scope_base(s) + OFF_SVCDIR,
            Node::BatchDir(s) => scope_base(s) + OFF_BATCHDIR,
            Node::BatchSvcDir(s) => scope_base(s) + OFF_BATCHSVCDIR,
            Node::File(f) => match f {
                FileKind::Mfm(s) => scope_base(s) + OFF_MFM,
                FileKind::Events(s) => scope_base(s) + OFF_EVENTS,
                FileKind::Status(s) => scope_base(s) + OFF_STATUS,
                FileKind::SelfInfo => scope_base(Scope::All) + OFF_SELF,
                FileKind::Physics => scope_base(Scope::All) + OFF_PHYSICS,
                FileKind::Capture => scope_base(Scope::All) + OFF_CAPTURE,
                FileKind::Svc(s, n) => scope_base(s) + OFF_SVC + u64::from(n),
                FileKind::BatchMfm(s) => scope_base(s) + OFF_BATCHMFM,
                FileKind::BatchSvc(s, n) => scope_base(s) + OFF_BATCHSVC + u64::from(n),
            },
        }
    }

    /// The node with this inode number, if there is one.
    pub fn from_ino(ino: u64) -> Option<Node> {
        match ino {
            INO_ROOT => return Some(Node::Root),
            INO_ITC => return Some(Node::ItcDir),
            INO_TILE => return Some(Node::TileDir),
            _ => {}
        }
        if ino < SCOPE_ALL_BASE {
            return None;
        }
        let block = (ino - SCOPE_ALL_BASE) / SCOPE_BLOCK;
        let off = (ino - SCOPE_ALL_BASE) % SCOPE_BLOCK;
        let scope = match block {
            0 => Scope::All,
            b if b <= Dir::ALL.len() as u64 => Scope::Dir((b - 1) as u8),
            _ => return None,
        };
        let node = match (off, scope) {
            (OFF_DIRDIR, Scope::Dir(i)) => Node::DirDir(i),
            (OFF_SVCDIR, s) => Node::SvcDir(s),
            (OFF_BATCHDIR, s) => Node::BatchDir(s),
            (OFF_BATCHSVCDIR, s) => Node::BatchSvcDir(s),
            (OFF_BATCHMFM, s) => Node::File(FileKind::BatchMfm(s)),
            (OFF_MFM, s) => Node::File(FileKind::Mfm(s)),
            (OFF_EVENTS, s) => Node::File(FileKind::Events(s)),
            (OFF_STATUS, s) => Node::File(FileKind::Status(s)),
            (OFF_SELF, Scope::All) => Node::File(FileKind::SelfInfo),
            (OFF_PHYSICS, Scope::All) => Node::File(FileKind::Physics),
            (OFF_CAPTURE, Scope::All) => Node::File(FileKind::Capture),
            (o, s)
                if o >= OFF_SVC + u64::from(FIRST_SERVICE)
                    && o <= OFF_SVC + u64::from(LAST_SERVICE) =>
            {
                Node::File(FileKind::Svc(s, (o - OFF_SVC) as u8))
            }
            (o, s)
                if o >= OFF_BATCHSVC + u64::from(FIRST_SERVICE)
                    && o <= OFF_BATCHSVC + u64::from(LAST_SERVICE) =>
            {
                Node::File(FileKind::BatchSvc(s, (o - OFF_BATCHSVC) as u8))
            }
            _ => return None,
        };
        Some(node)
    }

    /// Whether this node is a directory.
    pub fn is_dir(self) -> bool {
        !matches!(self, Node::File(_))
    }

    /// The parent directory (the root is its own parent).
    pub fn parent(self) -> Node {
        match self {
            Node::Root | Node::ItcDir | Node::TileDir => Node::Root,
            Node::DirDir(_) => Node::TileDir,
            Node::SvcDir(s) | Node::BatchDir(s) => scope_dir(s),
            Node::BatchSvcDir(s) => Node::BatchDir(s),
            Node::File(f) => match f {
                FileKind::Svc(s, _) => Node::SvcDir(s),
                FileKind::BatchSvc(s, _) => Node::BatchSvcDir(s),
                FileKind::BatchMfm(s) => Node::BatchDir(s),
                FileKind::Mfm(s) | FileKind::Events(s) | FileKind::Status(s) => scope_dir(s),
                FileKind::SelfInfo | FileKind::Physics | FileKind::Capture => Node::ItcDir,
            },
        }
    }

    /// Hard link count: 1 for a file; for a directory 2 (its entry and
    /// its `.`) plus one `..` per subdirectory, as `ls -l` and `find`
    /// expect.
    pub fn nlink(self) -> u32 {
        if !self.is_dir() {
            return 1;
        }
        2 + self.children().iter().filter(|(_, c)| c.is_dir()).count() as u32
    }

    /// Permission bits (directories are 0555).
    pub fn mode(self) -> u32 {
        match self {
            Node::File(f) => f.mode(),
            _ => 0o555,
        }
    }

    /// The entries of a directory, in listing order (without `.` and `..`).
    pub fn children(self) -> Vec<(String, Node)> {
        let mut out = Vec::new();
        match self {
            Node::Root => {
                out.push(("itc".to_string(), Node::ItcDir));
                out.push(("tile".to_string(), Node::TileDir));
            }
            Node::ItcDir => {
                scope_files(Scope::All, &mut out);
                out.push(("self".to_string(), Node::File(FileKind::SelfInfo)));
                out.push(("physics".to_string(), Node::File(FileKind::Physics)));
                out.push(("capture".to_string(), Node::File(FileKind::Capture)));
            }
            Node::TileDir => {
                for (i, dir) in Dir::ALL.iter().enumerate() {
                    out.push((dir.name().to_string(), Node::DirDir(i as u8)));
                }
            }
            Node::DirDir(i) => scope_files(Scope::Dir(i), &mut out),
            Node::SvcDir(s) => {
                for n in FIRST_SERVICE..=LAST_SERVICE {
                    out.push((format!("{n:02}"), Node::File(FileKind::Svc(s, n))));
                }
            }
            Node::BatchDir(s) => {
                out.push(("mfm".to_string(), Node::File(FileKind::BatchMfm(s))));
                out.push(("svc".to_string(), Node::BatchSvcDir(s)));
            }
            Node::BatchSvcDir(s) => {
                for n in FIRST_SERVICE..=LAST_SERVICE {
                    out.push((format!("{n:02}"), Node::File(FileKind::BatchSvc(s, n))));
                }
            }
            Node::File(_) => {}
        }
        out
    }

    /// The child of a directory with this name.
    pub fn lookup(self, name: &[u8]) -> Option<Node> {
        let name = std::str::from_utf8(name).ok()?;
        let service = |name: &str| {
            // Only the canonical two-digit spelling exists.
            if name.len() != 2 || !name.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u8 = name.parse().ok()?;
            (FIRST_SERVICE..=LAST_SERVICE).contains(&n).then_some(n)
        };
        match self {
            Node::SvcDir(s) => service(name).map(|n| Node::File(FileKind::Svc(s, n))),
            Node::BatchSvcDir(s) => service(name).map(|n| Node::File(FileKind::BatchSvc(s, n))),
            Node::TileDir => Dir::ALL
                .iter()
                .position(|d| d.name() == name)
                .map(|i| Node::DirDir(i as u8)),
            _ => self
                .children()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, node)| node),
        }
    }
}

fn scope_dir(s: Scope) -> Node {
    match s {
        Scope::All => Node::ItcDir,
        Scope::Dir(i) => Node::DirDir(i),
    }
}

fn scope_files(s: Scope, out: &mut Vec<(String, Node)>) {
    out.push(("mfm".to_string(), Node::File(FileKind::Mfm(s))));
    out.push(("svc".to_string(), Node::SvcDir(s)));
    out.push(("batch".to_string(), Node::BatchDir(s)));
    out.push(("events".to_string(), Node::File(FileKind::Events(s))));
    out.push(("status".to_string(), Node::File(FileKind::Status(s))));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(node: Node, out: &mut Vec<Node>) {
        out.push(node);
        for (_, child) in node.children() {
            walk(child, out);
        }
    }

    #[test]
    fn every_node_round_trips_through_its_inode() {
        let mut all = Vec::new();
        walk(Node::Root, &mut all);
        // 1 root + itc (dir, 4 + self + physics + capture, svc dir + 62)
        // + tile dir + 6 * (dir + 3 files + svc dir + 62); each of the
        // seven scopes also has batch/ (dir, mfm, svc dir + 62).
        let batch = 1 + 1 + 1 + 62;
        assert_eq!(
            all.len(),
            1 + (1 + 6 + 1 + 62) + 1 + 6 * (1 + 3 + 1 + 62) + 7 * batch
        );
        let mut inos = std::collections::HashSet::new();
        for n in &all {
            assert_eq!(Node::from_ino(n.ino()), Some(*n), "{n:?}");
            assert!(inos.insert(n.ino()), "duplicate inode for {n:?}");
        }
    }

    #[test]
    fn parents_list_their_children() {
        let mut all = Vec::new();
        walk(Node::Root, &mut all);
        for n in all.into_iter().filter(|n| *n != Node::Root) {
            assert!(n.parent().children().iter().any(|(_, c)| *c == n), "{n:?}");
        }
    }

    #[test]
    fn lookup_finds_paths_and_rejects_others() {
        let et = Node::TileDir.lookup(b"ET").unwrap();
        assert_eq!(et, Node::DirDir(0));
        let svc = et.lookup(b"svc").unwrap();
        assert_eq!(
            svc.lookup(b"08"),
            Some(Node::File(FileKind::Svc(Scope::Dir(0), 8)))
        );
        assert_eq!(svc.lookup(b"01"), None, "hello is not openable");
        let batch = et.lookup(b"batch").unwrap();
        assert_eq!(
            batch.lookup(b"mfm"),
            Some(Node::File(FileKind::BatchMfm(Scope::Dir(0))))
        );
        let bsvc = batch.lookup(b"svc").unwrap();
        assert_eq!(
            bsvc.lookup(b"63"),
            Some(Node::File(FileKind::BatchSvc(Scope::Dir(0), 63)))
        );
        assert_eq!(bsvc.lookup(b"01"), None);
        assert_eq!(batch.lookup(b"events"), None, "events have no twin");
        assert_eq!(svc.lookup(b"64"), None);
        assert_eq!(svc.lookup(b"8"), None);
        assert_eq!(Node::TileDir.lookup(b"NT"), None);
        assert_eq!(
            Node::ItcDir.lookup(b"self"),
            Some(Node::File(FileKind::SelfInfo))
        );
        assert_eq!(Node::Root.lookup(b"nope"), None);
        assert_eq!(Node::from_ino(0), None);
        assert_eq!(Node::from_ino(0x100 + 0x10), None, "itc has no DirDir");
        assert_eq!(Node::from_ino(0x100 * 8 + 0x12), None);
    }

    #[test]
    fn only_files_of_the_tree_exist() {
        let mut all = Vec::new();
        walk(Node::Root, &mut all);
        for n in all {
            if let Node::File(f) = n {
                assert!(f.exists(), "{f:?}");
            }
        }
        for f in [
            FileKind::Svc(Scope::All, 0),
            FileKind::Svc(Scope::All, 1),
            FileKind::Svc(Scope::Dir(0), 64),
            FileKind::Svc(Scope::Dir(5), 255),
            FileKind::Mfm(Scope::Dir(6)),
            FileKind::Events(Scope::Dir(255)),
            FileKind::Status(Scope::Dir(6)),
        ] {
            assert!(!f.exists(), "{f:?}");
        }
    }

    #[test]
    fn directory_link_counts_count_subdirectories() {
        assert_eq!(Node::Root.nlink(), 4, "itc and tile");
        assert_eq!(Node::ItcDir.nlink(), 4, "svc and batch");
        assert_eq!(Node::TileDir.nlink(), 8, "six directions");
        assert_eq!(Node::DirDir(0).nlink(), 4, "svc and batch");
        assert_eq!(Node::BatchDir(Scope::All).nlink(), 3, "batch/svc");
        assert_eq!(Node::SvcDir(Scope::All).nlink(), 2);
        assert_eq!(Node::File(FileKind::Physics).nlink(), 1);
    }

    #[test]
    fn modes_follow_the_spec() {
        assert_eq!(FileKind::Mfm(Scope::All).mode(), 0o660);
        assert_eq!(FileKind::Svc(Scope::Dir(2), 9).mode(), 0o660);
        assert_eq!(FileKind::BatchMfm(Scope::All).mode(), 0o660);
        assert_eq!(FileKind::BatchSvc(Scope::Dir(5), 63).mode(), 0o660);
        assert_eq!(FileKind::Events(Scope::All).mode(), 0o444);
        assert_eq!(FileKind::Status(Scope::Dir(1)).mode(), 0o444);
        assert_eq!(FileKind::SelfInfo.mode(), 0o444);
        assert_eq!(FileKind::Physics.mode(), 0o664);
        assert_eq!(FileKind::Capture.mode(), 0o444);
    }
}
