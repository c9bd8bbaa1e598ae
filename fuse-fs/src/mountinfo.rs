//! What is mounted where, read from `/proc/self/mountinfo` (proc(5)).
//!
//! A line the parser cannot read (too few fields, no `-` separator) is
//! passed over; an unreadable table reads as empty. Mount points are
//! compared byte for byte after undoing the kernel's octal escapes (`\040`
//! for a blank, `\134` for a backslash), with the path asked about
//! canonicalized where it exists.
#![deny(unsafe_code)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The table of this process's mount namespace.
const TABLE: &str = "/proc/self/mountinfo";

/// One line of the table: where something is mounted and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount point, unescaped.
    pub mount_point: PathBuf,
    /// The file system type, e.g. `fuse.itcd`.
    pub fstype: String,
}

/// Parse a mountinfo table, one [`Mount`] per readable line, in order.
pub fn parse(table: &str) -> Vec<Mount> {
    table.lines().filter_map(parse_line).collect()
}

/// `id parent major:minor root mountpoint options [optional...] - fstype source super`
fn parse_line(line: &str) -> Option<Mount> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-")?;
    Some(Mount {
        mount_point: unescape(fields.get(4)?),
        fstype: fields.get(sep + 1)?.to_string(),
    })
}

/// Undo the octal escapes (`\ooo`) of a mountinfo field; a backslash not
/// followed by three octal digits stays as it is.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Every mount of this process's mount namespace, in table order (a mount
/// stacked on another comes after it).
pub fn mounts() -> Vec<Mount> {
    parse(&fs::read_to_string(TABLE).unwrap_or_default())
}

/// Every mount point of this process's mount namespace.
pub fn mount_points() -> Vec<PathBuf> {
    mounts().into_iter().map(|m| m.mount_point).collect()
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let dir = canonical(dir);
    mount_points()
        .into_iter()
        .filter(|m| m.starts_with(&dir))
        .collect()
}

/// Whether something is mounted exactly at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let path = canonical(path);
    mounts().iter().any(|m| m.mount_point == path)
}

/// The file system type of the topmost mount exactly at `path`, if any.
pub fn fstype_at(path: &Path) -> Option<String> {
    let path = canonical(path);
    mounts()
        .into_iter()
        .rfind(|m| m.mount_point == path)
        .map(|m| m.fstype)
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_octal_sequences() {
        assert_eq!(unescape("/tmp/a\\040b"), Path::new("/tmp/a b"));
        assert_eq!(unescape("/x\\134y\\011z\\012"), Path::new("/x\\y\tz\n"));
        assert_eq!(unescape("/plain"), Path::new("/plain"));
        // Not three octal digits: left as it is.
        assert_eq!(unescape("/trailing\\04"), Path::new("/trailing\\04"));
        assert_eq!(unescape("/not\\089octal"), Path::new("/not\\089octal"));
        // Bytes that are not UTF-8 survive.
        assert_eq!(
            unescape("/\\377").into_os_string().into_vec(),
            b"/\xff".to_vec()
        );
    }

    #[test]
    fn parses_lines_with_and_without_optional_fields() {
        let table = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
61 22 0:52 / /tmp/grid\\040one/r0c0 rw,nosuid,nodev - fuse.itcd itc rw,user_id=0
62 22 0:53 / /odd\\134name rw master:3 shared:7 - tmpfs tmpfs rw
short line
63 22 0:54 / /no/separator rw shared:1 tmpfs
";
        assert_eq!(
            parse(table),
            [
                Mount {
                    mount_point: "/".into(),
                    fstype: "ext4".into()
                },
                Mount {
                    mount_point: "/tmp/grid one/r0c0".into(),
                    fstype: "fuse.itcd".into()
                },
                Mount {
                    mount_point: "/odd\\name".into(),
                    fstype: "tmpfs".into()
                },
            ]
        );
    }

    #[test]
    fn the_root_is_mounted() {
        assert!(is_mounted(Path::new("/")));
        assert!(fstype_at(Path::new("/")).is_some());
        assert!(mounts_under(Path::new("/")).contains(&PathBuf::from("/")));
    }
}
