//! `tile-sim completions SHELL`: prints the shell completion
//! script for bash, zsh, fish, elvish or PowerShell, generated from the
//! command line parser, so completions can never disagree with the
//! options. The package installs the bash, zsh and fish ones.

use std::io;

use clap_complete::Shell;

/// Writes `command`'s completion script for `shell` to standard output.
pub fn print(shell: Shell, mut command: clap::Command) {
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name, &mut io::stdout());
}
