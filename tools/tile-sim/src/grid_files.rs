//! The file service's state per tile, for `tile-sim view` and `snapshot`:
//! the one place that knows where it comes from, kept apart from the
//! tiles' trees ([`crate::grid_read`]) so the source can change alone.
//!
//! Today it is the grid's `ctl files` request: a grid that runs the file
//! service answers with lines that each start with a tile's name and go
//! on with what that tile holds (a name, its live version, the progress
//! of a fetch), shown as given ([`Grid::set_files`]). A grid without the
//! service, or a `tile-sim` that does not know the request, answers with
//! an error, and the picture has no file lines.
//!
//! Each tile's own daemon can also be asked directly, as `itc files status
//! --json` does (its store's control socket, the `status` request, one
//! JSON reply); reading that here, once the grid says where each tile's
//! store is, changes nothing else: the lines go to [`Grid::set_files`]
//! the same way.

use std::path::Path;

use crate::client;
use crate::grid_model::Grid;

/// Adds the file service's lines of every tile to `grid`, if the grid at
/// `dir` runs the service.
pub fn read(dir: &Path, grid: &mut Grid) {
    if let Ok(lines) = client::request(dir, "files") {
        grid.set_files(&lines);
    }
}
