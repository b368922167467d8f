//! `memlink demo`: the article's server and client as real processes.
//!
//! Part one ([`mapping`]) shares a named mapping between this process and a
//! second one; part two ([`channel`]) talks to a third one over a pair of
//! channels and measures latency and throughput. Each part starts its client
//! as another copy of this executable with a hidden role
//! (`memlink demo-client`, `memlink demo-channel-client`), waits for it with
//! a deadline, and checks at the end that every name it made is gone.

mod channel;
mod mapping;

use std::io::Write;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{CliResult, Failure};

pub use channel::run_client as run_channel_client;
pub use mapping::run_client;

/// How long either side waits for the other at each step. Generous: a loaded
/// CI machine may take a while to start a process, and a healthy run takes
/// milliseconds.
const STEP_DEADLINE: Duration = Duration::from_secs(20);

/// `memlink demo`: both parts, one after the other.
pub fn run(out: &mut dyn Write) -> CliResult {
    mapping::run(out)?;
    writeln!(out)?;
    channel::run(out)
}

/// A name no other run (of this or any process) uses: the machine-wide
/// namespace is shared with everything else on it.
fn unique_name(pid: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("Local\\memlink-demo-{pid}-{nanos:08x}")
}

/// Polls `ready` with a growing pause (up to a millisecond) until it says
/// yes, fails, or the deadline passes.
fn poll_until(
    what: &str,
    deadline: Instant,
    mut ready: impl FnMut() -> CliResult<bool>,
) -> CliResult {
    let mut pause = Duration::from_micros(20);
    loop {
        if ready()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Failure::msg(format!(
                "demo: gave up waiting for {what} after {} s",
                STEP_DEADLINE.as_secs()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// A client process (this executable in a hidden role); killed and reaped
/// if the server gives up early, so a failed demo leaves no process (and
/// hence no mapping) behind.
struct ClientProcess {
    child: Child,
    reaped: bool,
}

impl ClientProcess {
    /// Starts `memlink ARGS...`, sharing our standard output and error.
    fn spawn(args: &[&str]) -> CliResult<ClientProcess> {
        let exe = std::env::current_exe()
            .map_err(|e| Failure::io("demo: cannot find this executable to start the client", e))?;
        let child = Command::new(&exe)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| {
                Failure::io(
                    &format!("demo: cannot start {} {}", exe.display(), args.join(" ")),
                    e,
                )
            })?;
        Ok(ClientProcess {
            child,
            reaped: false,
        })
    }

    fn try_wait(&mut self) -> CliResult<Option<ExitStatus>> {
        let status = self
            .child
            .try_wait()
            .map_err(|e| Failure::io("demo: cannot wait for the client", e))?;
        self.reaped |= status.is_some();
        Ok(status)
    }

    /// Fails if the client has exited already, whatever its status: it was
    /// expected to be still working.
    fn check_running(&mut self, doing: &str) -> CliResult {
        match self.try_wait()? {
            Some(status) => Err(self.failed(&format!("exited ({status}) before {doing}"))),
            None => Ok(()),
        }
    }

    /// Waits for the client to exit; kills it at the deadline.
    fn wait(&mut self, deadline: Instant) -> CliResult<ExitStatus> {
        let mut status = None;
        poll_until("the client to exit", deadline, || {
            status = self.try_wait()?;
            Ok(status.is_some())
        })?;
        status.ok_or_else(|| Failure::msg("demo: the client vanished"))
    }

    /// Waits for the client to exit and insists that it succeeded.
    fn finish(&mut self) -> CliResult {
        let status = self.wait(Instant::now() + STEP_DEADLINE)?;
        if status.success() {
            Ok(())
        } else {
            Err(self.failed(&format!("failed ({status})")))
        }
    }

    fn failed(&self, how: &str) -> Failure {
        Failure::msg(format!(
            "demo: the client process (pid {}) {how}",
            self.child.id()
        ))
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
