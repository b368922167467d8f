//! Helpers shared by the CLI's test binaries: running `memlink` as a
//! separate process with a deadline, and names no other test uses.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Longest any one process of a test may take; generous for loaded CI.
pub const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Running the binary

/// What a finished `memlink` process left.
pub struct Out {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    /// Asserts success and returns stdout as text.
    #[track_caller]
    pub fn ok(self) -> String {
        assert!(
            self.status.success(),
            "memlink {:?} failed ({}): {}",
            self.args,
            self.status,
            self.stderr
        );
        String::from_utf8(self.stdout).expect("stdout is UTF-8")
    }

    /// Asserts success and returns stdout as bytes.
    #[track_caller]
    pub fn ok_bytes(self) -> Vec<u8> {
        assert!(
            self.status.success(),
            "memlink {:?} failed ({}): {}",
            self.args,
            self.status,
            self.stderr
        );
        self.stdout
    }

    /// Asserts a runtime failure: exit status 1, nothing on stdout, and
    /// exactly one line `memlink: ...` on stderr, which is returned.
    #[track_caller]
    pub fn error(self) -> String {
        assert_eq!(
            self.status.code(),
            Some(1),
            "memlink {:?}: expected exit status 1, got {}; stderr: {}",
            self.args,
            self.status,
            self.stderr
        );
        assert!(self.stdout.is_empty(), "stdout: {:?}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "not one line: {:?}", self.stderr);
        assert!(lines[0].starts_with("memlink: "), "{:?}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        lines[0].to_owned()
    }

    /// Asserts a usage error as clap reports it: exit status 2.
    #[track_caller]
    pub fn usage_error(self) -> String {
        assert_eq!(
            self.status.code(),
            Some(2),
            "memlink {:?}: expected exit status 2, got {}; stderr: {}",
            self.args,
            self.status,
            self.stderr
        );
        self.stderr
    }
}

pub fn memlink(args: &[&str]) -> Out {
    run(args, None)
}

pub fn memlink_with_stdin(args: &[&str], input: &[u8]) -> Out {
    run(args, Some(input))
}

pub fn run(args: &[&str], input: Option<&[u8]>) -> Out {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memlink"));
    command.args(args);
    collect(command, args, input)
}

/// Runs `memlink ARGS` as the unprivileged user `nobody` (65534), through
/// `setpriv` (util-linux) and a copy of the binary that user may execute.
/// Needs root.
#[cfg(target_os = "linux")]
pub fn run_as_nobody(args: &[&str]) -> Out {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(world_executable_copy())
        .args(args)
        .current_dir("/");
    collect(command, args, None)
}

/// Whether this process runs as root (needed to act as a second user).
#[cfg(unix)]
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// A copy of the `memlink` binary that any user can execute (the build
/// directory may not be reachable by them).
#[cfg(target_os = "linux")]
fn world_executable_copy() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static COPY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("memlink-cli-exe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for the binary");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let copy = dir.join("memlink");
        std::fs::copy(env!("CARGO_BIN_EXE_memlink"), &copy).expect("copy the binary");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        copy
    })
    .clone()
}

fn collect(mut command: Command, args: &[&str], input: Option<&[u8]>) -> Out {
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start memlink");
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.unwrap_or_default().to_vec();
        // The binary may refuse the input half-way (too long): ignore EPIPE.
        thread::spawn(move || drop(stdin.write_all(&input)))
    });
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    let status = wait_with_deadline(&mut child, &format!("memlink {args:?}"));
    if let Some(writer) = writer {
        writer.join().expect("stdin writer");
    }
    Out {
        args: args.iter().map(|s| s.to_string()).collect(),
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned(),
    }
}

pub fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Waits for a child; kills it and fails the test at the deadline.
pub fn wait_with_deadline(child: &mut Child, what: &str) -> ExitStatus {
    wait_within(child, what, DEADLINE)
}

/// Waits for a child at most `limit`; kills it and fails the test then.
pub fn wait_within(child: &mut Child, what: &str, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A `memlink` process left running while the test does something else
/// (starts its peer, say). Its standard output is read line by line as it
/// comes, so the test can wait for a line instead of sleeping. Killed and
/// reaped on drop, so a failing test leaves no process behind.
pub struct Running {
    args: Vec<String>,
    child: Child,
    lines: mpsc::Receiver<Vec<u8>>,
    /// Every line read so far, with its newline.
    seen: Vec<Vec<u8>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
    writer: Option<thread::JoinHandle<()>>,
    /// The process's stdin, when the test writes it as it goes.
    stdin: Option<ChildStdin>,
}

impl Running {
    /// Starts `memlink ARGS`, with `input` on its stdin (then closed), or an
    /// empty stdin.
    pub fn start(args: &[&str], input: Option<&[u8]>) -> Running {
        Running::start_exe(Path::new(env!("CARGO_BIN_EXE_memlink")), args, input)
    }

    /// Starts `memlink ARGS` with a stdin that the test writes through
    /// [`Running::stdin`] while the process runs.
    pub fn start_interactive(args: &[&str]) -> Running {
        Running::spawn(Path::new(env!("CARGO_BIN_EXE_memlink")), args, Input::Open)
    }

    /// The process's stdin (see [`Running::start_interactive`]).
    pub fn stdin(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().expect("started with start_interactive")
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        wait_with_deadline(&mut self.child, "killed process");
    }

    /// Starts another program the same way.
    pub fn start_exe(exe: &Path, args: &[&str], input: Option<&[u8]>) -> Running {
        let input = match input {
            Some(bytes) => Input::Bytes(bytes.to_vec()),
            None => Input::Null,
        };
        Running::spawn(exe, args, input)
    }

    fn spawn(exe: &Path, args: &[&str], input: Input) -> Running {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(if matches!(input, Input::Null) {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
        let (writer, stdin) = match (child.stdin.take(), input) {
            (Some(stdin), Input::Open) => (None, Some(stdin)),
            (Some(mut stdin), Input::Bytes(input)) => (
                Some(thread::spawn(move || drop(stdin.write_all(&input)))),
                None,
            ),
            _ => (None, None),
        };
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Running {
            args: std::iter::once(exe.display().to_string())
                .chain(args.iter().map(|s| s.to_string()))
                .collect(),
            stderr: Some(drain(child.stderr.take().expect("stderr"))),
            child,
            lines,
            seen: Vec::new(),
            writer,
            stdin,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most [`DEADLINE`]) for a line of stdout containing
    /// `needle` and returns it.
    #[track_caller]
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let text = |line: &[u8]| String::from_utf8_lossy(line).into_owned();
        if let Some(line) = self.seen.iter().find(|l| text(l).contains(needle)) {
            return text(line);
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if text(&line).contains(needle) {
                        return text(&line);
                    }
                }
                Err(why) => {
                    let _ = self.child.kill();
                    let status = self.child.wait();
                    let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
                    panic!(
                        "{:?} printed no line with {needle:?} ({why:?}, {status:?}); \
                         stdout so far: {:?}; stderr: {:?}",
                        self.args,
                        self.seen.iter().map(|l| text(l)).collect::<String>(),
                        String::from_utf8_lossy(&stderr.unwrap_or_default())
                    );
                }
            }
        }
    }

    /// Waits for the process to exit (at most [`DEADLINE`]) and returns
    /// everything it printed, including the lines already waited for.
    pub fn finish(mut self) -> Out {
        drop(self.stdin.take());
        let status = wait_with_deadline(&mut self.child, &format!("{:?}", self.args));
        if let Some(writer) = self.writer.take() {
            writer.join().expect("stdin writer");
        }
        // The reader ends at end of file, which came with the exit (unless
        // the process left a child holding its stdout: then the deadline).
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().map(|h| h.join().expect("stderr reader"));
        Out {
            args: self.args.clone(),
            status,
            stdout: self.seen.concat(),
            stderr: String::from_utf8_lossy(&stderr.unwrap_or_default()).into_owned(),
        }
    }
}

/// What a [`Running`] process gets on stdin.
enum Input {
    Null,
    /// Written by a thread, then closed.
    Bytes(Vec<u8>),
    /// Kept open for the test to write.
    Open,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Names and files that clean up after themselves

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn unique(tag: &str) -> String {
    format!(
        "memlink-cli-test-{}-{}-{tag}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
