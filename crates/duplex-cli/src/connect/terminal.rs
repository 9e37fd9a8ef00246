//! The terminal's settings, saved at start and put back at exit.
//!
//! The line editor switches the terminal to raw mode while it waits for a
//! line. When the server ends the connection the editor is still waiting,
//! and the process exits from another thread: without this the shell would
//! be left in raw mode.

use std::os::fd::AsFd;
use std::sync::OnceLock;

use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions, Termios};

/// The settings of stdin's terminal before we touched it.
static SAVED: OnceLock<Termios> = OnceLock::new();

/// Saves stdin's terminal settings, if it is a terminal.
pub fn save() {
    if let Ok(termios) = tcgetattr(std::io::stdin().as_fd()) {
        let _ = SAVED.set(termios);
    }
}

/// Puts the saved settings back (nothing if none were saved).
pub fn restore() {
    if let Some(termios) = SAVED.get() {
        let _ = tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, termios);
    }
}

/// The width of the terminal on stdout, in columns (80 if unknown).
pub fn columns() -> usize {
    match tcgetwinsize(std::io::stdout().as_fd()) {
        Ok(size) if size.ws_col > 0 => usize::from(size.ws_col),
        _ => 80,
    }
}
