//! A one-line progress indicator on stderr, drawn only when stderr is a
//! terminal (logs and tests get nothing).

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Counts steps of a run and redraws one status line.
pub(crate) struct Progress {
    total: u32,
    done: u32,
    start: Instant,
    draw: bool,
}

impl Progress {
    pub fn new(total: u32) -> Progress {
        Progress {
            total,
            done: 0,
            start: Instant::now(),
            draw: std::io::stderr().is_terminal(),
        }
    }

    /// Announces the next step.
    pub fn step(&mut self, what: &str) {
        self.done += 1;
        if self.draw {
            let width = 30;
            let filled = (self.done as usize * width) / self.total.max(1) as usize;
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {}/{} {:>4.0}s  {what}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.done,
                self.total,
                self.start.elapsed().as_secs_f64()
            );
            let _ = err.flush();
        }
    }

    /// Clears the line.
    pub fn done(&mut self) {
        if self.draw {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
