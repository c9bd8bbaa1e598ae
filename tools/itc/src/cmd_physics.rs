//! `itc physics [ID]`: prints this tile's physics id (`(none)` when it is
//! empty, as `itc status` shows it), or sets it by writing `itc/physics`.
//!
//! Setting writes the id and a newline in one `write()` (so an empty id
//! clears it); `itcd` trims the newline and blanks and rejects ids over 64
//! bytes or with control characters (`EINVAL`). A change makes open MFM
//! files stale.

use std::fs::OpenOptions;
use std::io::Write;

use crate::errors::Error;
use crate::tree::Tree;
use crate::{output, show, text_file};

/// Runs `itc physics` (print) or `itc physics ID` (set).
pub fn run(tree: &Tree, id: Option<&str>) -> Result<u8, Error> {
    let path = tree.physics();
    match id {
        None => {
            let text = text_file::read(&path, tree.root())?;
            output::line(show::physics_id(text.trim_end_matches('\n')))?;
        }
        Some(id) => {
            let mut file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| Error::file(&path, tree.root(), e))?;
            file.write_all(format!("{id}\n").as_bytes())
                .map_err(|e| Error::file(&path, tree.root(), e))?;
        }
    }
    Ok(0)
}
