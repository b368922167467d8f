//! Starting the other process of a case: this same program, re-executed with
//! the hidden `peer` subcommand.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::Result;

/// How long a peer may take to say what it has to say (a report line, its
/// exit) before the case is declared failed. Generous: the machine may be
/// busy compiling.
pub(crate) const PEER_DEADLINE: Duration = Duration::from_secs(30);

/// A running peer process. Killed on drop if it has not exited, so a failed
/// case never leaves a spinning process behind.
pub(crate) struct Peer {
    child: Child,
    what: String,
    lines: Option<mpsc::Receiver<String>>,
}

impl Peer {
    /// Starts `memlink-bench peer <args...>`, pinned to `cpu` if given. Its
    /// stdin and stdout are pipes (the pipe baseline uses them as the
    /// transport; every other case reads its report lines from stdout).
    pub fn spawn(args: &[String], cpu: Option<usize>) -> Result<Peer> {
        let exe = std::env::current_exe()?;
        let mut command = Command::new(exe);
        command.arg("peer");
        if let Some(cpu) = cpu {
            command.arg("--cpu").arg(cpu.to_string());
        }
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start the peer process: {e}"))?;
        Ok(Peer {
            child,
            what: args.join(" "),
            lines: None,
        })
    }

    /// The peer's stdin, for the pipe baseline.
    pub fn take_stdin(&mut self) -> Result<ChildStdin> {
        self.child
            .stdin
            .take()
            .ok_or_else(|| "the peer's stdin is gone".into())
    }

    /// The peer's stdout, for the pipe baseline.
    pub fn take_stdout(&mut self) -> Result<ChildStdout> {
        self.child
            .stdout
            .take()
            .ok_or_else(|| "the peer's stdout is gone".into())
    }

    /// The next line the peer prints, waiting at most [`PEER_DEADLINE`].
    pub fn line(&mut self) -> Result<String> {
        if self.lines.is_none() {
            let stdout = self.take_stdout()?;
            let (tx, rx) = mpsc::channel();
            // A reader thread turns a blocking pipe into a receive with a
            // deadline; it ends when the peer closes its stdout.
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    match line {
                        Ok(line) => {
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
            });
            self.lines = Some(rx);
        }
        let lines = self.lines.as_ref().ok_or("no peer output")?;
        lines.recv_timeout(PEER_DEADLINE).map_err(|_| {
            format!(
                "peer `{}` said nothing within {:?} (or exited)",
                self.what, PEER_DEADLINE
            )
            .into()
        })
    }

    /// The next line, parsed as a `u64` count.
    pub fn count(&mut self) -> Result<u64> {
        let line = self.line()?;
        line.trim()
            .parse()
            .map_err(|_| format!("peer `{}` reported {line:?}, not a count", self.what).into())
    }

    /// Waits for the peer to exit successfully, at most [`PEER_DEADLINE`].
    pub fn finish(mut self) -> Result<()> {
        // Closing our end of its stdin tells a peer that reads it to stop.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + PEER_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("peer `{}` failed: {status}", self.what).into())
                };
            }
            if Instant::now() >= deadline {
                return Err(format!("peer `{}` did not exit", self.what).into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Only our own child, by its handle.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A name unique to this run and case: the shared-memory namespace is
/// machine-wide and other engineers run tests at the same time.
pub(crate) fn unique_name(what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Relaxed: only uniqueness within this process matters.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("mlbench-{}-{what}-{n}", std::process::id())
}
