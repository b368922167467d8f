//! memlink channels carried over Zenoh: the same channel names and the same
//! guarantees between machines.
//!
//! A bridge process *exports* local channels (reads them and publishes each
//! message on a Zenoh key) and *imports* keys (sends what arrives into local
//! channels, created if missing), so a program and its peer on another
//! machine keep their code and their channel names. See the crate's
//! README for what is guaranteed and how each guarantee is tested.
//!
//! ```no_run
//! use memlink_bridge::{Bridge, Config, Route};
//!
//! let mut config = Config::default();
//! config.scouting = false;
//! config.listen.push("tcp/127.0.0.1:7447".into());
//! config.export.push(Route::new("orders"));
//! let bridge = Bridge::start(&config)?;
//! bridge.wait(); // runs until the process ends
//! # Ok::<(), String>(())
//! ```

pub mod config;
mod export;
mod import;
pub mod key;
pub mod tally;
pub mod wire;

use std::thread::JoinHandle;

pub use config::{ChannelKind, Config, Route};
use zenoh::Wait;

/// A running bridge: its Zenoh session and one thread per route.
pub struct Bridge {
    session: zenoh::Session,
    threads: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// Checks `config`, opens the Zenoh session, creates or opens every
    /// imported channel and starts every route. Any problem is an error
    /// that names what was wrong.
    pub fn start(config: &Config) -> Result<Bridge, String> {
        let (exports, imports) = config.resolve()?;
        let session = zenoh::open(config.zenoh()?)
            .wait()
            .map_err(|e| format!("opening the Zenoh session: {e}"))?;
        let mut threads = Vec::new();
        // Imports first: their subscribers exist before any export on the
        // same session looks for a match.
        for route in imports {
            threads.push(import::start(&session, route)?);
        }
        for route in exports {
            threads.push(export::start(&session, route)?);
        }
        Ok(Bridge { session, threads })
    }

    /// The Zenoh session (for example to learn its id or its locators).
    pub fn session(&self) -> &zenoh::Session {
        &self.session
    }

    /// Waits for every route's thread, which run until the process ends.
    pub fn wait(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Writes one line to stderr, prefixed so it can be told from the
/// program's own output.
pub(crate) fn log(line: std::fmt::Arguments<'_>) {
    eprintln!("memlink-bridge: {line}");
}
