//! Helpers for tests that run real child processes.
//!
//! A multi-process test re-executes its own test binary, running only itself
//! (`--exact NAME`), with a role in `MEMLINK_TEST_ROLE`. The test checks
//! [`role`] first: in the child it plays the role and returns; in the parent
//! it spawns children with [`Child::spawn`] and talks to them over their
//! stdin/stdout. Every wait has a deadline; nothing sleeps to synchronise.
#![allow(dead_code)]

pub mod roles;

use std::io::{BufRead, BufReader, Write};
#[cfg(unix)]
use std::os::unix::process::CommandExt;
#[cfg(unix)]
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long any single wait on a child may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

const ROLE_VAR: &str = "MEMLINK_TEST_ROLE";
const ARG_VAR: &str = "MEMLINK_TEST_ARG";
/// Messages a child sends to its parent carry this mark, so that the test
/// harness's own output is never mistaken for a message.
const MARK: &str = "@@memlink ";

/// The role this process plays and its argument, when it is a child.
pub fn role() -> Option<(String, String)> {
    let role = std::env::var(ROLE_VAR).ok()?;
    Some((role, std::env::var(ARG_VAR).unwrap_or_default()))
}

/// A name no other test, process or earlier run uses.
pub fn unique_name(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("mltest-{tag}-{}-{n}-{nanos:x}", std::process::id())
}

/// Sends a message to the parent (from a child).
pub fn tell_parent(message: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{MARK}{message}").expect("stdout to the parent");
    out.flush().expect("stdout to the parent");
}

/// Blocks until the parent closes our stdin or writes a line; returns the
/// line (empty when closed). Children that must hold something until killed
/// wait here.
pub fn wait_for_parent() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    line.trim_end().to_owned()
}

/// A child process playing a role in the current test.
pub struct Child {
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Child {
    /// Spawns this test binary to run `test` (the full test path, as
    /// `module::name`) with `role` and `arg`.
    pub fn spawn(test: &str, role: &str, arg: &str) -> Child {
        Self::spawn_as(test, role, arg, None)
    }

    /// Like [`Child::spawn`], as another user (`uid`, `gid`); needs root.
    pub fn spawn_as(test: &str, role: &str, arg: &str, user: Option<(u32, u32)>) -> Child {
        let exe = match user {
            None => std::env::current_exe().expect("test binary path"),
            #[cfg(unix)]
            Some(_) => world_executable_copy(),
            // Only the Unix-only multi-user tests (tests/users.rs) switch users.
            #[cfg(not(unix))]
            Some(_) => panic!("children running as another user need Unix"),
        };
        Self::spawn_binary(&exe, test, role, arg, user)
    }

    /// Like [`Child::spawn`], running `exe`: another build of this same test
    /// file (for another target, say).
    pub fn spawn_binary(
        exe: &std::path::Path,
        test: &str,
        role: &str,
        arg: &str,
        user: Option<(u32, u32)>,
    ) -> Child {
        let mut command = Command::new(exe);
        command
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE_VAR, role)
            .env(ARG_VAR, arg)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        #[cfg(unix)]
        if let Some((uid, gid)) = user {
            command.uid(uid).gid(gid).current_dir("/");
        }
        #[cfg(not(unix))]
        assert!(user.is_none(), "children running as another user need Unix");
        let mut child = spawn_retrying(&mut command);
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness may have started the line ("test x ... ").
                if let Some((_, message)) = line.split_once(MARK) {
                    if send.send(message.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        Child {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    /// The next message from the child; panics after [`DEADLINE`] or if the
    /// child ends without sending one.
    pub fn recv(&mut self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(e) => {
                let status = self.child.try_wait().ok().flatten();
                panic!("no message from the child ({e:?}); its status: {status:?}")
            }
        }
    }

    /// The next message from the child if one comes within `timeout`;
    /// `None` otherwise (used to check that a child stays blocked).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Waits for the message `expected`.
    pub fn expect(&mut self, expected: &str) {
        let got = self.recv();
        assert_eq!(got, expected, "unexpected message from the child");
    }

    /// Sends a line to the child's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the child");
        stdin.flush().expect("write to the child");
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the child with SIGKILL (a real `kill -9`) and reaps it.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL the child");
        self.child.wait().expect("reap the child");
    }

    /// Sends SIGKILL (a real `kill -9`) without reaping: the child stays a
    /// zombie until this value is dropped, as a dead process whose parent
    /// has not yet called `wait` does.
    pub fn kill9_unreaped(&mut self) {
        self.child.kill().expect("SIGKILL the child");
    }

    /// Closes the child's stdin and waits (bounded) for it to exit; panics
    /// unless it succeeded.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                assert!(status.success(), "child failed: {status}");
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "child did not exit in time"
            );
            // Polling an exit status with a bounded period, not synchronising.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Spawns `command`, retrying while the kernel says "text file busy": a
/// sibling thread that forks while the binary copy is still open for writing
/// makes exec fail with ETXTBSY for a moment.
fn spawn_retrying(command: &mut Command) -> std::process::Child {
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(26) && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("spawn the child test process: {e}"),
        }
    }
}

/// Runs this test binary's `test` with `role` and `arg` in a mount namespace
/// of its own (`unshare --mount`, private propagation: what it mounts, such
/// as a small tmpfs on `/dev/shm`, nobody else sees), and waits for it.
/// Needs root; `None` when `unshare` cannot be run here.
#[cfg(target_os = "linux")]
pub fn run_in_own_mount_namespace(
    test: &str,
    role: &str,
    arg: &str,
) -> Option<std::process::Output> {
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--"])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .env(ARG_VAR, arg)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(output)
}

/// Whether this process runs as root (needed to act as a second user).
#[cfg(unix)]
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The unprivileged user that multi-user tests switch to.
pub const NOBODY: (u32, u32) = (65534, 65534);

/// A copy of the test binary that any user can execute, for children that
/// drop privileges: the build directory may not be reachable by them.
#[cfg(unix)]
fn world_executable_copy() -> PathBuf {
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(make_world_executable_copy).clone()
}

#[cfg(unix)]
fn make_world_executable_copy() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().expect("test binary path");
    let dir = std::env::temp_dir().join(format!("memlink-test-exe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir for the test binary");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let copy = dir.join(exe.file_name().expect("binary file name"));
    if !copy.exists() {
        let tmp = dir.join(format!("partial-{}", unique_name("exe")));
        std::fs::copy(&exe, &tmp).expect("copy the test binary");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&tmp, &copy).expect("place the test binary");
    }
    copy
}

/// Removes a name when dropped, so a failing test leaves nothing behind.
pub struct Cleanup(pub String);

/// `count` fresh names `TAG-0`, `TAG-1`, ... (each made unique), with the
/// guards that remove them at the end of the test.
pub fn unique_names(tag: &str, count: usize) -> (Vec<String>, Vec<Cleanup>) {
    let names: Vec<String> = (0..count)
        .map(|i| unique_name(&format!("{tag}-{i}")))
        .collect();
    let cleanup = names.iter().cloned().map(Cleanup).collect();
    (names, cleanup)
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = memlink::Mapping::remove(&self.0);
    }
}

/// Removes a file (or FIFO) when dropped, so a failing test leaves nothing
/// behind in the temporary directory.
#[allow(dead_code)] // not every test binary makes files
pub struct TempPath(pub std::path::PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
