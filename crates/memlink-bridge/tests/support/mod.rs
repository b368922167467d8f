//! Two "machines" on one host: each is a mount namespace with a private
//! tmpfs on /dev/shm, held by a small process; everything that runs "on" a
//! machine enters that namespace with nsenter. Bridges talk TCP on
//! 127.0.0.1 only, multicast scouting off.
//!
//! The programs (sender, receiver) are this test binary run again with a
//! role in `MEMLINK_BRIDGE_ROLE`; they print `@@ ...` lines, which the test
//! reads as they come, with deadlines.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whether this process can make mount namespaces (root, as in CI).
pub fn can_run() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0");
    if !root {
        println!("skipped: two namespaced machines need root");
    }
    root
}

/// One namespaced machine.
pub struct Machine {
    holder: Child,
    _stdin: ChildStdin,
    pub name: &'static str,
}

impl Machine {
    pub fn new(name: &'static str) -> Machine {
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm && echo ready && exec cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "machine {name} did not start");
        let stdin = holder.stdin.take().unwrap();
        Machine {
            holder,
            _stdin: stdin,
            name,
        }
    }

    /// A command that runs inside this machine.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--mount=/proc/{}/ns/mnt", self.holder.id()))
            .arg("--")
            .arg(program);
        c
    }

    /// Starts a bridge here with these arguments (plus --no-scouting).
    pub fn bridge(&self, args: &[&str]) -> Proc {
        let mut c = self.command(env!("CARGO_BIN_EXE_memlink-bridge"));
        c.arg("--no-scouting").args(args);
        Proc::spawn(c, &format!("{} bridge", self.name))
    }

    /// Starts the `memlink` CLI here (see [`memlink_cli`]).
    pub fn cli(&self, args: &[&str]) -> Proc {
        let mut c = self.command(memlink_cli().to_str().unwrap());
        c.args(args);
        Proc::spawn(c, &format!("{} memlink {}", self.name, args.join(" ")))
    }

    /// Starts this test binary here in `role` with `args`.
    pub fn role(&self, role: &str, args: &[&str]) -> Proc {
        let exe = std::env::current_exe().unwrap();
        let mut c = self.command(exe.to_str().unwrap());
        c.args(["--exact", "role", "--nocapture", "--test-threads=1"])
            .env("MEMLINK_BRIDGE_ROLE", role)
            .env("MEMLINK_BRIDGE_ARGS", args.join(" "));
        Proc::spawn(c, &format!("{} {role}", self.name))
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A running program whose output lines (stdout and stderr) are collected.
pub struct Proc {
    child: Child,
    lines: Receiver<String>,
    pub log: Arc<Mutex<Vec<String>>>,
    pub what: String,
    _stdin: Option<ChildStdin>,
}

impl Proc {
    pub fn spawn(mut c: Command, what: &str) -> Proc {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let (tx, lines) = channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        let stdin = child.stdin.take();
        Proc {
            child,
            lines,
            log,
            what: what.to_owned(),
            _stdin: stdin,
        }
    }

    /// Waits for a line containing `needle`, at most `timeout`; returns it.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no line with {needle:?} within {timeout:?}; output:\n{}",
                    self.what,
                    self.output()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: ended without a line with {needle:?}; output:\n{}",
                    self.what,
                    self.output()
                ),
            }
        }
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Writes a line to the program's stdin.
    pub fn tell(&mut self, line: &str) {
        let stdin = self._stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
    }

    /// Closes the program's stdin (its end of input).
    pub fn close_stdin(&mut self) {
        self._stdin = None;
    }

    /// Sends a signal (`STOP`, `CONT`...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {}", self.what);
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the program to exit, at most `timeout`; its exit code.
    pub fn exit_code(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not exit within {timeout:?}:\n{}",
                    self.what,
                    self.output()
                );
            }
            // Polling a child's exit with a deadline: std has no timed wait.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `memlink` CLI built next to this test (`cargo build -p
/// memlink-cli`, which `cargo test --workspace` does).
pub fn memlink_cli() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let cli = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("memlink");
    assert!(
        cli.exists(),
        "{} is missing: build it first with `cargo build -p memlink-cli`",
        cli.display()
    );
    cli
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A channel name unique to this test run.
pub fn unique(tag: &str) -> String {
    format!("bridge-{tag}-{}", std::process::id())
}

/// Message `seq` of a test stream: seq, length and a checksum, then filler
/// derived from seq; `size` bytes in all (at least 24).
pub fn message(seq: u64, size: usize) -> Vec<u8> {
    let size = size.max(24);
    let mut m = vec![0u8; size];
    m[0..8].copy_from_slice(&seq.to_le_bytes());
    m[8..16].copy_from_slice(&(size as u64).to_le_bytes());
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in &mut m[24..] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let sum = checksum(&m[24..]);
    m[16..24].copy_from_slice(&sum.to_le_bytes());
    m
}

/// Checks a test message; its sequence number.
pub fn check(m: &[u8]) -> Result<u64, String> {
    if m.len() < 24 {
        return Err(format!("{} bytes", m.len()));
    }
    let word = |i: usize| u64::from_le_bytes(m[i..i + 8].try_into().unwrap());
    let (seq, len, sum) = (word(0), word(8), word(16));
    if len != m.len() as u64 {
        return Err(format!("message {seq}: length {} says {len}", m.len()));
    }
    if checksum(&m[24..]) != sum || message(seq, m.len()) != m {
        return Err(format!("message {seq}: bad checksum"));
    }
    Ok(seq)
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
