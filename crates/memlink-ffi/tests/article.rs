//! The article's program end to end, across languages and processes: the
//! C++ server (`bindings/cpp/examples/article_server.cpp`) maps the file
//! backed `Global\NAME`, writes under the robust mutex and sets a named
//! event; the C# client (`bindings/csharp/examples/ArticleClient.cs`) waits
//! on the event and reads under the mutex. Then the server takes the lock
//! and is killed with SIGKILL holding it: the client's next lock reports
//! that the owner died, the client repairs the message, marks the mutex
//! consistent and goes on; the repaired message is in the file.
//!
//! g++ or Mono missing skips the test, loudly, unless
//! `MEMLINK_REQUIRE_BINDINGS=1` (`.ci/bindings.sh`) makes that a failure.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{lib_dir, repo, required, run, works};

const DEADLINE: Duration = Duration::from_secs(60);

/// A running program whose output lines arrive on a channel; killed if the
/// test ends while it runs.
struct Proc {
    what: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn start(what: &'static str, command: &mut Command) -> Proc {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (tx, lines) = mpsc::channel();
        for (stream, prefix) in [
            (
                Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
                "",
            ),
            (Box::new(child.stderr.take().expect("stderr")), "stderr: "),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(format!("{prefix}{line}")).is_err() {
                        break;
                    }
                }
            });
        }
        Proc {
            what,
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn expect_line(&mut self, wanted: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line == wanted;
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!(
                    "{} never printed {wanted:?}; its output:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether every program in `programs` runs; when one does not, the test
/// is skipped (or fails, with `MEMLINK_REQUIRE_BINDINGS=1`, as in CI).
fn have(programs: &[&str]) -> bool {
    let missing: Vec<&&str> = programs.iter().filter(|p| !works(p)).collect();
    if missing.is_empty() {
        return true;
    }
    if required() {
        panic!("{missing:?} not installed (MEMLINK_REQUIRE_BINDINGS=1)");
    }
    eprintln!("skipped: {missing:?} not installed; .ci/bindings.sh installs them");
    false
}

/// The build directory of this test's programs.
fn build_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("article");
    std::fs::create_dir_all(&dir).expect("build directory");
    dir
}

/// The article's C++ server, built against libmemlink once for all tests
/// (two builds to one path would race: "text file busy").
fn server() -> PathBuf {
    static SERVER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    SERVER.get_or_init(build_server).clone()
}

fn build_server() -> PathBuf {
    let lib = lib_dir();
    let server = build_dir().join("article_server");
    run(Command::new("g++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(repo().join("crates/memlink-ffi/include"))
        .arg("-I")
        .arg(repo().join("bindings/cpp"))
        .arg(repo().join("bindings/cpp/examples/article_server.cpp"))
        .arg("-o")
        .arg(&server)
        .arg("-L")
        .arg(&lib)
        .arg("-lmemlink")
        .arg(format!("-Wl,-rpath,{}", lib.display())));
    server
}

/// The article end to end: the C++ server writes under the mutex and sets
/// the event; `client` (given the mapping's name as its last argument)
/// reads; the server, holding the lock, is killed with kill -9; the client
/// sees `owner_died`, repairs the message as `who` and goes on.
fn article(mut client: Command, who: &str) {
    let server = server();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("mltest-xl-article-{}-{nanos:x}", std::process::id());
    let file = build_dir().join(format!("{name}.bin"));
    let _ = std::fs::remove_file(&file);

    let mut srv = Proc::start("C++ server", Command::new(&server).arg(&name).arg(&file));
    srv.expect_line("server wrote");
    let mut cli = Proc::start("client", client.arg(&name));
    cli.expect_line("client read: Message from first process.");
    srv.expect_line("server holding the lock");
    // SIGKILL while it holds the mutex.
    srv.child.kill().expect("kill -9 the server");
    let status = srv.child.wait().expect("wait for the server");
    assert!(!status.success(), "the server was killed: {status}");

    let repaired = format!("Repaired by the {who} client.");
    cli.expect_line("client: owner died: True");
    cli.expect_line(&format!("client read: {repaired}"));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = cli.child.try_wait().expect("client status") {
            break status;
        }
        assert!(Instant::now() < deadline, "the client did not exit");
        // Polling the exit status, not synchronising with the program.
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "client: {status}\n{}",
        cli.seen.join("\n")
    );

    // The file holds the repaired message, after the mutex's 128 bytes.
    let bytes = std::fs::read(&file).expect("the backing file");
    assert_eq!(bytes.len(), 4096);
    assert!(
        bytes[128..].starts_with(format!("{repaired}\0").as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&bytes[128..160])
    );
    std::fs::remove_file(&file).expect("remove the backing file");
}

#[test]
fn cpp_server_killed_holding_the_mutex_csharp_client_recovers() {
    if !have(&["g++", "mcs", "mono"]) {
        return;
    }
    let client = build_dir().join("ArticleClient.exe");
    run(Command::new("mcs")
        .args(["-nologo", "-warnaserror"])
        .arg(format!("-out:{}", client.display()))
        .arg(repo().join("bindings/csharp/Memlink.cs"))
        .arg(repo().join("bindings/csharp/examples/ArticleClient.cs")));
    let mut mono = Command::new("mono");
    mono.arg(&client).env("LD_LIBRARY_PATH", lib_dir());
    article(mono, "C#");
}

#[test]
fn cpp_server_killed_holding_the_mutex_python_client_recovers() {
    // The interpreter with the native module (`.ci/bindings.sh` sets it to
    // its venv's python).
    let python = std::env::var("MEMLINK_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if !have(&["g++", &python]) {
        return;
    }
    let has_module = Command::new(&python)
        .args(["-c", "import memlink; memlink.RobustMutex"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_module {
        if required() {
            panic!("the memlink module is not installed for {python} (MEMLINK_REQUIRE_BINDINGS=1)");
        }
        eprintln!("skipped: no memlink module for {python} (pip install ./bindings/python)");
        return;
    }
    let mut client = Command::new(&python);
    client.arg(repo().join("bindings/python/examples/article_client.py"));
    article(client, "Python");
}
