//! Cross-language tests: C++, C#, Python and Rust programs, each a real
//! process, share named mappings and channels through libmemlink.
//!
//! The programs are the examples in `bindings/*/examples` (and, for Rust,
//! this test binary re-executed in the `rust_client_process` role). They all
//! speak one protocol (see `bindings/cpp/examples/server.cpp`): the server
//! writes a greeting into the raw mapping `Global\NAME-map`, waits for every
//! client's "ready" on a many-to-one channel, sends numbered messages on a
//! broadcast channel, then collects every client's "done". Each client
//! checks the greeting (through memlink, and through plain `shm_open` in C++
//! and `multiprocessing.shared_memory` in Python) and every message.
//!
//! The Python programs use the native module (`pip install
//! ./bindings/python`), found with `$MEMLINK_PYTHON` or `python3`; its own
//! tests are pytest's (`.ci/bindings.sh` runs them).
//!
//! Tools missing (g++, mono/mcs, the Python module) skip the tests that need
//! them, loudly, unless `MEMLINK_REQUIRE_BINDINGS=1` (set by `.ci/bindings.sh`,
//! which installs them) makes that a failure. Every wait has a deadline;
//! children are killed when a test fails; names are unique per test.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use support::{lib_dir, repo, required, run, works};

/// How long one program may take to start, or to finish once started.
const DEADLINE: Duration = Duration::from_secs(60);
const ROLE: &str = "MEMLINK_XL_ROLE";
const COUNT: u32 = 200;

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("mltest-xl-{tag}-{}-{n}-{nanos:x}", std::process::id())
}

/// The programs of one language, built once per test run.
struct Programs {
    server: Vec<String>,
    client: Vec<String>,
}

/// Why a language's programs are not available.
type Built = Result<Programs, String>;

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bindings");
    std::fs::create_dir_all(&dir).expect("build directory");
    dir
}

/// Compiles a C++17 program against the wrapper and the library.
fn compile_cpp(source: &Path, out: &Path) {
    compile_cpp_as("c++17", source, out);
}

/// Compiles a C++ program against libmemlink as the C++ standard `std`
/// (`c++17`, `c++20`).
fn compile_cpp_as(std: &str, source: &Path, out: &Path) {
    let lib = lib_dir();
    run(Command::new("g++")
        .arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(repo().join("crates/memlink-ffi/include"))
        .arg("-I")
        .arg(repo().join("bindings/cpp"))
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg("-L")
        .arg(&lib)
        .arg("-lmemlink")
        .arg(format!("-Wl,-rpath,{}", lib.display())));
}

/// Compiles C# sources together with the binding into `out`.
fn compile_cs(sources: &[PathBuf], out: &Path, extra: &[&str]) {
    run(Command::new("mcs")
        .args(["-nologo", "-warnaserror"])
        .args(extra)
        .arg(format!("-out:{}", out.display()))
        .arg(repo().join("bindings/csharp/Memlink.cs"))
        .args(sources));
}

fn cpp() -> &'static Built {
    static CPP: OnceLock<Built> = OnceLock::new();
    CPP.get_or_init(|| {
        if !works("g++") {
            return Err("g++ is not installed".into());
        }
        let mut built = Vec::new();
        for program in ["server", "client"] {
            let out = out_dir().join(format!("cpp-{program}"));
            compile_cpp(
                &repo().join(format!("bindings/cpp/examples/{program}.cpp")),
                &out,
            );
            built.push(vec![out.display().to_string()]);
        }
        let client = built.pop().unwrap_or_default();
        let server = built.pop().unwrap_or_default();
        Ok(Programs { server, client })
    })
}

fn csharp() -> &'static Built {
    static CS: OnceLock<Built> = OnceLock::new();
    CS.get_or_init(|| {
        if !works("mcs") || !works("mono") {
            return Err("mono (mcs, mono) is not installed".into());
        }
        let mut built = Vec::new();
        for (program, source) in [("server", "Server.cs"), ("client", "Client.cs")] {
            let out = out_dir().join(format!("cs-{program}.exe"));
            compile_cs(
                &[repo().join(format!("bindings/csharp/examples/{source}"))],
                &out,
                &[],
            );
            built.push(vec!["mono".to_owned(), out.display().to_string()]);
        }
        let client = built.pop().unwrap_or_default();
        let server = built.pop().unwrap_or_default();
        Ok(Programs { server, client })
    })
}

/// The Python interpreter that has the native `memlink` module installed:
/// `$MEMLINK_PYTHON` (set by `.ci/bindings.sh` to its venv's python), else
/// `python3`.
fn python_interpreter() -> String {
    std::env::var("MEMLINK_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn python() -> &'static Built {
    static PY: OnceLock<Built> = OnceLock::new();
    PY.get_or_init(|| {
        let interpreter = python_interpreter();
        if !works(&interpreter) {
            return Err(format!("{interpreter} is not installed"));
        }
        // The native module (PyO3), not a stray file of the same name.
        let probe = Command::new(&interpreter)
            .args(["-c", "import memlink; memlink.Borrow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            return Err(format!(
                "the memlink module is not installed for {interpreter} \
                 (pip install ./bindings/python, or set MEMLINK_PYTHON)"
            ));
        }
        let examples = repo().join("bindings/python/examples");
        let script = |name: &str| {
            vec![
                interpreter.clone(),
                examples.join(name).display().to_string(),
            ]
        };
        Ok(Programs {
            server: script("server.py"),
            client: script("client.py"),
        })
    })
}

fn rust() -> &'static Built {
    static RUST: OnceLock<Built> = OnceLock::new();
    RUST.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        Ok(Programs {
            server: Vec::new(),
            client: vec![
                exe.display().to_string(),
                "--exact".into(),
                "rust_client_process".into(),
                "--nocapture".into(),
                "--test-threads=1".into(),
            ],
        })
    })
}

/// The programs, or `None` after saying why the test is skipped (or a
/// panic when the tools are required).
fn need(built: &'static Built, test: &str) -> Option<&'static Programs> {
    match built {
        Ok(programs) => Some(programs),
        Err(why) if required() => panic!("{test}: {why} (MEMLINK_REQUIRE_BINDINGS=1)"),
        Err(why) => {
            eprintln!("skipped: {test}: {why}; .ci/bindings.sh installs it");
            None
        }
    }
}

/// A running program; killed if the test ends while it runs.
struct Proc {
    what: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn start(what: &str, argv: &[String], args: &[&str], env: &[(&str, String)]) -> Proc {
        let lib = lib_dir();
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .args(args)
            .env("LD_LIBRARY_PATH", &lib)
            // No __pycache__ in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start {argv:?}: {e}"));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        forward(out, "", tx.clone());
        forward(err, "stderr: ", tx);
        Proc {
            what: what.to_owned(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads output until a line contains `needle`.
    fn expect_line(&mut self, needle: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!(
                    "{} never printed {needle:?}; its output:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the program to exit; returns its status and whole output.
    fn finish(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + DEADLINE;
        // Both pipes close when the program exits: read until then.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{} did not finish within {DEADLINE:?}; its output:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
            }
        }
        let status = self.child.wait().expect("wait for the program");
        (status, self.seen.join("\n"))
    }

    /// Waits for a successful exit and returns the output.
    fn succeed(&mut self) -> String {
        let (status, output) = self.finish();
        assert!(
            status.success(),
            "{} failed ({status}):\n{output}",
            self.what
        );
        output
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

fn forward(stream: impl Read + Send + 'static, prefix: &'static str, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(format!("{prefix}{line}")).is_err() {
                break;
            }
        }
    });
}

/// Runs `server` with `clients` (label, programs) and checks what everybody
/// printed.
fn exchange(server_lang: &str, server: &Programs, clients: &[(&str, &Programs)]) {
    let name = unique(server_lang);
    let count = COUNT.to_string();
    let n = clients.len().to_string();
    let mut srv = Proc::start(
        &format!("{server_lang} server"),
        &server.server,
        &[&name, &n, &count],
        &[],
    );
    srv.expect_line("server ready");
    let mut running: Vec<(String, Proc)> = clients
        .iter()
        .map(|(label, programs)| {
            let env = [
                (ROLE, "rust-client".to_owned()),
                ("MEMLINK_XL_NAME", name.clone()),
                ("MEMLINK_XL_LABEL", (*label).to_owned()),
            ];
            let args: &[&str] = if programs.server.is_empty() {
                &[] // the Rust client takes its arguments from the environment
            } else {
                &[&name, label]
            };
            let what = format!("{label} client of the {server_lang} server");
            (
                (*label).to_owned(),
                Proc::start(&what, &programs.client, args, &env),
            )
        })
        .collect();
    for (label, client) in &mut running {
        let output = client.succeed();
        let expected = format!("client {label}: {COUNT} messages");
        assert!(output.contains(&expected), "{label}: {output}");
        assert!(
            output.contains(&format!(
                "mapping says 'hello from the {server_lang} server'"
            )),
            "{label} read the wrong greeting: {output}"
        );
    }
    let output = srv.succeed();
    for (label, _) in &running {
        assert!(
            output.contains(&format!("done {label} {COUNT}")),
            "the server missed {label}'s done: {output}"
        );
    }
    // Everything was transient: nothing may be left under the test's names.
    assert!(
        memlink_core::Mapping::inspect(&format!("Global\\{name}-map")).is_err(),
        "the server's mapping outlived every holder"
    );
}

/// Not a test of its own: the Rust client, run by `exchange` as a child
/// process (this binary re-executed with `MEMLINK_XL_ROLE=rust-client`).
#[test]
fn rust_client_process() {
    if std::env::var(ROLE).as_deref() != Ok("rust-client") {
        return;
    }
    let name = std::env::var("MEMLINK_XL_NAME").expect("MEMLINK_XL_NAME");
    let label = std::env::var("MEMLINK_XL_LABEL").expect("MEMLINK_XL_LABEL");
    if let Err(e) = rust_client(&name, &label) {
        eprintln!("client {label}: {e}");
        std::process::exit(1);
    }
}

fn rust_client(name: &str, label: &str) -> Result<(), Box<dyn std::error::Error>> {
    use memlink_core::channel::{Receiver, Sender};
    use memlink_core::{Access, MappingOptions};
    let patience = Duration::from_secs(30);

    let mut rx = Receiver::open(name)?;
    let mapping = MappingOptions::new()
        .access(Access::ReadOnly)
        .open(&format!("Global\\{name}-map"))?;
    let mut raw = [0u8; 256];
    mapping.view(0, 256)?.read_at(0, &mut raw)?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let greeting = String::from_utf8_lossy(&raw[..end]).into_owned();

    let mut up = Sender::open(&format!("{name}-up"))?;
    up.send(format!("ready {label}").as_bytes())?;
    let mut received = 0u32;
    loop {
        let message = rx.recv_borrow_timeout(patience)?.to_vec();
        if message == b"bye" {
            break;
        }
        let expected = format!("message {received}");
        if message != expected.as_bytes() {
            return Err(format!(
                "got {:?}, expected {expected:?}",
                String::from_utf8_lossy(&message)
            )
            .into());
        }
        received += 1;
    }
    up.send(format!("done {label} {received}").as_bytes())?;
    println!("client {label}: {received} messages; mapping says '{greeting}'");
    Ok(())
}

#[test]
fn cpp_server_to_csharp_rust_and_python_clients() {
    let test = "cpp_server_to_csharp_rust_and_python_clients";
    let (Some(cpp), Some(cs), Some(py)) = (
        need(cpp(), test),
        need(csharp(), test),
        need(python(), test),
    ) else {
        return;
    };
    let rust = need(rust(), test).expect("the Rust client is always there");
    exchange("C++", cpp, &[("cs", cs), ("rust", rust), ("py", py)]);
}

#[test]
fn csharp_server_to_cpp_and_python_clients() {
    let test = "csharp_server_to_cpp_and_python_clients";
    let (Some(cs), Some(cpp), Some(py)) = (
        need(csharp(), test),
        need(cpp(), test),
        need(python(), test),
    ) else {
        return;
    };
    exchange("C#", cs, &[("cpp", cpp), ("py", py)]);
}

#[test]
fn python_server_to_rust_and_cpp_clients() {
    let test = "python_server_to_rust_and_cpp_clients";
    let (Some(py), Some(cpp)) = (need(python(), test), need(cpp(), test)) else {
        return;
    };
    let rust = need(rust(), test).expect("the Rust client is always there");
    exchange("Python", py, &[("rust", rust), ("cpp", cpp)]);
}

#[test]
fn the_header_is_plain_c() {
    let test = "the_header_is_plain_c";
    if !works("gcc") {
        if required() {
            panic!("{test}: gcc is not installed");
        }
        eprintln!("skipped: {test}: gcc is not installed");
        return;
    }
    let lib = lib_dir();
    let out = out_dir().join("c-smoke");
    run(Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(repo().join("crates/memlink-ffi/include"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/smoke.c"))
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(&lib)
        .arg("-lmemlink")
        .arg(format!("-Wl,-rpath,{}", lib.display())));
    let name = unique("c");
    let mut smoke = Proc::start("C smoke test", &[out.display().to_string()], &[&name], &[]);
    let output = smoke.succeed();
    assert!(output.contains("c smoke: ok"), "{output}");

    // The same program linked with the static library.
    let out = out_dir().join("c-smoke-static");
    run(Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(repo().join("crates/memlink-ffi/include"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/smoke.c"))
        .arg(lib.join("libmemlink.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out));
    let name = unique("c-static");
    let mut smoke = Proc::start(
        "static C smoke test",
        &[out.display().to_string()],
        &[&name],
        &[],
    );
    let output = smoke.succeed();
    assert!(output.contains("c smoke: ok"), "{output}");
}

/// Runs a binding's own test program and checks its "N passed, 0 failed".
fn suite(what: &str, argv: &[String], args: &[&str]) -> String {
    let mut run = Proc::start(what, argv, args, &[]);
    let output = run.succeed();
    let last = output.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") || last.ends_with("OK"),
        "{what}: {output}"
    );
    println!("{what}: {}", output.lines().last().unwrap_or_default());
    output
}

#[test]
fn cpp_wrapper_suite() {
    if need(cpp(), "cpp_wrapper_suite").is_none() {
        return;
    }
    let out = out_dir().join("cpp-wrapper-test");
    compile_cpp(&repo().join("bindings/cpp/tests/wrapper_test.cpp"), &out);
    let output = suite(
        "C++ wrapper tests",
        &[out.display().to_string()],
        &[&unique("cpp")],
    );
    assert!(!output.contains("C++20 spans"), "{output}");
}

/// The same suite as C++20, where it also tests the `std::span` views.
#[test]
fn cpp_wrapper_suite_cxx20_spans() {
    if need(cpp(), "cpp_wrapper_suite_cxx20_spans").is_none() {
        return;
    }
    let out = out_dir().join("cpp-wrapper-test-20");
    compile_cpp_as(
        "c++20",
        &repo().join("bindings/cpp/tests/wrapper_test.cpp"),
        &out,
    );
    let output = suite(
        "C++20 wrapper tests",
        &[out.display().to_string()],
        &[&unique("cpp20")],
    );
    assert!(output.contains("C++20 spans: tested"), "{output}");
}

#[test]
fn csharp_binding_suite() {
    if need(csharp(), "csharp_binding_suite").is_none() {
        return;
    }
    let output = csharp_suite("cs-binding-test.exe", &[], "cs");
    assert!(!output.contains("Span APIs"), "{output}");
}

/// The same suite with the `Span<byte>` APIs compiled in (`MEMLINK_SPAN`),
/// which it then also tests: Mono's own corlib has `Span<T>`.
#[test]
fn csharp_binding_suite_with_spans() {
    if need(csharp(), "csharp_binding_suite_with_spans").is_none() {
        return;
    }
    let output = csharp_suite(
        "cs-binding-test-span.exe",
        &["-unsafe", "-define:MEMLINK_SPAN"],
        "csspan",
    );
    assert!(output.contains("Span APIs: tested"), "{output}");
}

/// Builds bindings/csharp/tests/BindingTest.cs with `flags` and runs it.
fn csharp_suite(exe: &str, flags: &[&str], tag: &str) -> String {
    let out = out_dir().join(exe);
    compile_cs(
        &[repo().join("bindings/csharp/tests/BindingTest.cs")],
        &out,
        flags,
    );
    suite(
        "C# binding tests",
        &["mono".to_owned(), out.display().to_string()],
        &[&unique(tag)],
    )
}

/// The copyable examples of bindings/README.md compile and run (with their
/// names made unique).
#[test]
fn readme_examples_run() {
    let readme = std::fs::read_to_string(repo().join("bindings/README.md")).expect("README");
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in readme.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) if !lang.is_empty() => {
                current = Some((lang.to_owned(), String::new()))
            }
            (Some(_), Some("")) => blocks.extend(current.take()),
            (Some((_, code)), _) => {
                code.push_str(line);
                code.push('\n');
            }
            _ => {}
        }
    }
    let unique_names = |code: &str| {
        code.replace("\"orders\"", &format!("\"{}\"", unique("readme")))
            .replace("MyFileMappingObject", &unique("readme"))
    };
    let mut ran = 0;
    for (lang, code) in blocks {
        let code = unique_names(&code);
        let dir = out_dir();
        match lang.as_str() {
            "c" if works("gcc") => {
                let src = dir.join("readme.c");
                std::fs::write(&src, code).expect("write");
                let lib = lib_dir();
                run(Command::new("gcc")
                    .args(["-std=c99", "-Wall", "-Werror"])
                    .arg("-I")
                    .arg(repo().join("crates/memlink-ffi/include"))
                    .arg(&src)
                    .arg("-o")
                    .arg(dir.join("readme-c"))
                    .arg(format!("-L{}", lib.display()))
                    .arg("-lmemlink")
                    .arg(format!("-Wl,-rpath,{}", lib.display())));
                Proc::start(
                    "README C",
                    &[dir.join("readme-c").display().to_string()],
                    &[],
                    &[],
                )
                .succeed();
            }
            "cpp" if need(cpp(), "readme_examples_run (C++)").is_some() => {
                let src = dir.join("readme.cpp");
                std::fs::write(&src, code).expect("write");
                compile_cpp(&src, &dir.join("readme-cpp"));
                Proc::start(
                    "README C++",
                    &[dir.join("readme-cpp").display().to_string()],
                    &[],
                    &[],
                )
                .succeed();
            }
            "csharp" if need(csharp(), "readme_examples_run (C#)").is_some() => {
                let src = dir.join("Readme.cs");
                std::fs::write(&src, code).expect("write");
                let exe = dir.join("readme.exe");
                compile_cs(&[src], &exe, &[]);
                Proc::start(
                    "README C#",
                    &["mono".to_owned(), exe.display().to_string()],
                    &[],
                    &[],
                )
                .succeed();
            }
            "python" if need(python(), "readme_examples_run (Python)").is_some() => {
                let src = dir.join("readme.py");
                std::fs::write(&src, code).expect("write");
                Proc::start(
                    "README Python",
                    &[python_interpreter(), src.display().to_string()],
                    &[],
                    &[],
                )
                .succeed();
            }
            _ => continue,
        }
        ran += 1;
    }
    assert!(ran > 0, "no example of bindings/README.md ran");
}

/// kill -9 of the C++ server while a C# and a Python client wait for its
/// messages: both learn that it is gone (a disconnection, long before their
/// 30 s timeouts), and nothing of the server's is left behind.
#[test]
fn killed_cpp_server_disconnects_csharp_and_python_clients() {
    let test = "killed_cpp_server_disconnects_csharp_and_python_clients";
    let (Some(cpp), Some(cs), Some(py)) = (
        need(cpp(), test),
        need(csharp(), test),
        need(python(), test),
    ) else {
        return;
    };
    let name = unique("kill");
    // Three clients expected, two started: the server waits for ever.
    let mut server = Proc::start("C++ server", &cpp.server, &[&name, "3", "10"], &[]);
    server.expect_line("server ready");
    let mut clients = [("cs", cs), ("py", py)].map(|(label, programs)| {
        Proc::start(
            &format!("{label} client"),
            &programs.client,
            &[&name, label],
            &[],
        )
    });
    server.expect_line("server: ready");
    server.expect_line("server: ready");
    let killed = Instant::now();
    server.child.kill().expect("kill -9 the server");
    let _ = server.child.wait();
    for client in &mut clients {
        let (status, output) = client.finish();
        assert!(!status.success(), "{}: {output}", client.what);
        assert!(
            output.to_lowercase().contains("disconnected"),
            "{} did not report a disconnection: {output}",
            client.what
        );
    }
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "the clients took {:?} to notice",
        killed.elapsed()
    );
    assert!(
        memlink_core::Mapping::inspect(&format!("Global\\{name}-map")).is_err(),
        "the killed server's mapping was left behind"
    );
}
