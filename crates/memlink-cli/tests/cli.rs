//! The `memlink` binary, run as a separate process for every command.
//!
//! Every test uses names of its own (pid + counter: the shared-memory
//! namespace is machine-wide) and removes what it creates through a guard,
//! even when it fails. Every wait has a deadline. Tests that need a process
//! holding a mapping re-run this test binary in the role named by
//! `MEMLINK_CLI_TEST_ROLE` (see [`holder_process`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;

mod support;

use memlink::{Mapping, MappingOptions};
use serde_json::Value;
use support::*;

const ROLE_VAR: &str = "MEMLINK_CLI_TEST_ROLE";
const NAME_VAR: &str = "MEMLINK_CLI_TEST_NAME";
const READY: &str = "MEMLINK-CLI-TEST-HOLDER-READY";

/// A unique mapping name, removed when the test ends however it ends.
struct Scratch {
    name: String,
}

impl Scratch {
    fn local(tag: &str) -> Scratch {
        Scratch { name: unique(tag) }
    }

    fn global(tag: &str) -> Scratch {
        Scratch {
            name: format!("Global\\{}", unique(tag)),
        }
    }

    /// The name as `memlink` prints it.
    fn full(&self) -> String {
        if self.name.contains('\\') {
            self.name.clone()
        } else {
            format!("Local\\{}", self.name)
        }
    }

    fn create(&self, size: &str) {
        memlink(&["create", &self.name, "--size", size]).ok();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Mapping::remove(&self.name);
    }
}

/// A unique path in the temp directory, removed when the test ends.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new(tag: &str) -> TempFile {
        TempFile {
            path: std::env::temp_dir().join(unique(tag)),
        }
    }

    fn str(&self) -> &str {
        self.path.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn info_json(name: &str) -> Value {
    serde_json::from_str(&memlink(&["info", name, "--json"]).ok()).expect("info --json is JSON")
}

// ---------------------------------------------------------------------------
// A second process that holds a mapping

/// Not a test of its own: the body of the holder process that
/// [`Holder::start`] runs. Without the role variable it does nothing.
#[test]
fn holder_process() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let name = std::env::var(NAME_VAR).expect("holder name");
    let mapping = match role.as_str() {
        "create-transient" => Mapping::create(&name, 4096).expect("holder creates"),
        "open" => MappingOptions::new().open(&name).expect("holder opens"),
        other => panic!("unknown role {other}"),
    };
    println!("{READY}");
    std::io::stdout().flush().expect("flush");
    // Hold until the test closes our stdin (or kills us).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(mapping);
}

/// A process holding a mapping, killed and reaped on drop.
struct Holder {
    child: Child,
}

impl Holder {
    fn start(role: &str, name: &str) -> Holder {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "holder_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE_VAR, role)
            .env(NAME_VAR, name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start holder");
        let stdout = child.stdout.take().expect("holder stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    // The harness prints `test holder_process ... ` first, unterminated.
                    Ok(line) if line.contains(READY) => {
                        let _ = tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        let mut holder = Holder { child };
        if rx.recv_timeout(DEADLINE).is_err() {
            let status = holder.child.try_wait();
            panic!("holder ({role} {name}) never became ready: {status:?}");
        }
        holder
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: the holder gets no chance to let go.
    fn kill(mut self) {
        self.child.kill().expect("kill holder");
        wait_with_deadline(&mut self.child, "killed holder");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// create

#[test]
fn create_makes_a_persistent_mapping_that_info_describes() {
    let m = Scratch::local("create");
    let text = memlink(&["create", &m.name, "--size", "4KiB"]).ok();
    assert!(text.contains(&m.full()) && text.contains("4096"), "{text}");

    let info = info_json(&m.name);
    assert_eq!(info["name"], m.full());
    assert_eq!(info["namespace"], "Local");
    assert_eq!(info["size"], 4096);
    assert!(info["os_name"]
        .as_str()
        .is_some_and(|s| s.contains(&m.name)));
    assert!(info["path"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(info["backing"], "memory");
    assert_eq!(info["file"], Value::Null);
    assert_eq!(info["mode"], "0600");
    assert_eq!(info["persistent"], true);
    assert_eq!(info["live"], false);
    assert_eq!(info["state"], "idle");
    assert_eq!(info["holders"], serde_json::json!([]));
    assert!(info["owner"].is_u64());

    let text = memlink(&["info", &m.name]).ok();
    assert!(text.contains("4096 bytes (4 KiB)"), "{text}");
    assert!(text.contains("persistent"), "{text}");
}

#[test]
fn create_twice_is_already_exists() {
    let m = Scratch::local("twice");
    m.create("4096");
    let line = memlink(&["create", &m.name, "--size", "4096"]).error();
    assert!(line.contains("already exists"), "{line}");
    assert!(line.contains(&m.full()), "{line}");
}

#[test]
fn create_global_with_mode() {
    let m = Scratch::global("global");
    memlink(&["create", &m.name, "--size", "1M", "--mode", "644"]).ok();
    let info = info_json(&m.name);
    assert_eq!(info["namespace"], "Global");
    assert_eq!(info["size"], 1 << 20);
    assert_eq!(info["mode"], "0644");
    // On Linux, Global\NAME is the POSIX shared-memory name /NAME.
    let base = m.name.strip_prefix("Global\\").unwrap();
    assert_eq!(info["os_name"], format!("/{base}"));
}

#[test]
fn create_refuses_zero_and_absurd_sizes() {
    let m = Scratch::local("zero");
    let line = memlink(&["create", &m.name, "--size", "0"]).error();
    assert!(line.contains("size 0"), "{line}");
    let line = memlink(&["create", &m.name, "--size", "1PiB"]).error();
    assert!(line.contains(&m.full()), "{line}");
    memlink(&["info", &m.name]).error();
}

#[test]
fn bad_names_are_one_line_errors() {
    for bad in ["a/b", "Other\\x", "Global\\", "..", "a\\b"] {
        let line = memlink(&["create", bad, "--size", "4096"]).error();
        assert!(line.contains("invalid name"), "{bad}: {line}");
        let line = memlink(&["info", bad]).error();
        assert!(line.contains("invalid name"), "{bad}: {line}");
    }
    let long = "n".repeat(300);
    let line = memlink(&["read", &long]).error();
    assert!(line.contains("longer than 255"), "{line}");
}

#[test]
fn an_unquoted_global_name_is_warned_about() {
    // `memlink create Global\demo` unquoted reaches memlink as `Globaldemo`.
    let m = Scratch {
        name: format!("Global{}", unique("unq")),
    };
    let out = memlink(&["create", &m.name, "--size", "4096"]);
    let stderr = out.stderr.clone();
    out.ok();
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(stderr.contains("quote it"), "{stderr}");
    let out = memlink(&["info", &m.name]);
    assert!(out.stderr.contains("quote it"), "{}", out.stderr);
    let out = memlink(&["info", &m.full()]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn bad_sizes_and_modes_are_usage_errors() {
    let m = Scratch::local("badsize");
    for bad in ["4XB", "1.5MiB", "-1", "", "99999999999999999999"] {
        let text = memlink(&["create", &m.name, &format!("--size={bad}")]).usage_error();
        assert!(text.contains("invalid size"), "{bad}: {text}");
    }
    let text = memlink(&["create", &m.name, "--size", "4k", "--mode", "999"]).usage_error();
    assert!(text.contains("invalid mode"), "{text}");
    let text = memlink(&["read", &m.name, "--len", "lots"]).usage_error();
    assert!(text.contains("invalid size"), "{text}");
    // As the README says: a malformed value also prints a usage line.
    assert!(text.contains("Usage: memlink read"), "{text}");
    memlink(&["create", &m.name]).usage_error();
    memlink(&["info", &m.name]).error();
}

// ---------------------------------------------------------------------------
// file-backed

#[test]
fn file_backed_size_zero_takes_the_files_size() {
    let m = Scratch::local("file");
    let file = TempFile::new("file.bin");
    let content: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file.path, &content).unwrap();

    let text = memlink(&["create", &m.name, "--file", file.str(), "--size", "0"]).ok();
    assert!(text.contains("3000 bytes"), "{text}");
    let info = info_json(&m.name);
    assert_eq!(info["size"], 3000);
    assert_eq!(info["backing"], "file");
    let canonical = std::fs::canonicalize(&file.path).unwrap();
    assert_eq!(info["file"], canonical.to_str().unwrap());

    assert_eq!(memlink(&["read", &m.name]).ok_bytes(), content);
    memlink(&["write", &m.name, "--offset", "10", "on disk"]).ok();
    let on_disk = std::fs::read(&file.path).unwrap();
    assert_eq!(&on_disk[10..17], b"on disk");
    assert_eq!(on_disk.len(), 3000);
}

#[test]
fn file_backed_without_size_and_growing() {
    let m = Scratch::local("nosize");
    let grown = Scratch::local("grow");
    let file = TempFile::new("nosize.bin");
    std::fs::write(&file.path, b"12345").unwrap();
    memlink(&["create", &m.name, "--file", file.str()]).ok();
    assert_eq!(info_json(&m.name)["size"], 5);
    assert_eq!(memlink(&["read", &m.name]).ok_bytes(), b"12345");

    memlink(&[
        "create",
        &grown.name,
        "--file",
        file.str(),
        "--size",
        "8KiB",
    ])
    .ok();
    assert_eq!(std::fs::metadata(&file.path).unwrap().len(), 8192);
}

#[test]
fn empty_or_missing_file_with_size_zero_is_an_error() {
    let m = Scratch::local("empty");
    let file = TempFile::new("empty.bin");
    std::fs::write(&file.path, b"").unwrap();
    let line = memlink(&["create", &m.name, "--file", file.str(), "--size", "0"]).error();
    assert!(line.contains("size 0") && line.contains("empty"), "{line}");
    memlink(&["info", &m.name]).error();

    let missing = TempFile::new("missing.bin");
    let line = memlink(&["create", &m.name, "--file", missing.str()]).error();
    assert!(line.contains("does not exist"), "{line}");
    assert!(!missing.path.exists(), "a failed create left a file behind");

    // A create that fails for another reason leaves no new file either.
    let taken = Scratch::local("taken");
    taken.create("4096");
    let line = memlink(&[
        "create",
        &taken.name,
        "--file",
        missing.str(),
        "--size",
        "4k",
    ])
    .error();
    assert!(line.contains("already exists"), "{line}");
    assert!(!missing.path.exists(), "a failed create left a file behind");
}

// ---------------------------------------------------------------------------
// write and read

#[test]
fn write_then_read_round_trips() {
    let m = Scratch::local("rw");
    m.create("4KiB");
    let text = memlink(&["write", &m.name, "hello"]).ok();
    assert!(text.contains("wrote 5 bytes"), "{text}");
    assert_eq!(
        memlink(&["read", &m.name, "--len", "5"]).ok_bytes(),
        b"hello"
    );

    memlink(&["write", &m.name, "--offset", "1KiB", "--", "-dash"]).ok();
    assert_eq!(
        memlink(&["read", &m.name, "--offset", "0x400", "--len", "5"]).ok_bytes(),
        b"-dash"
    );

    // Without --len, the rest of the mapping.
    let rest = memlink(&["read", &m.name, "--offset", "4000"]).ok_bytes();
    assert_eq!(rest.len(), 96);
    let all = memlink(&["read", &m.name]).ok_bytes();
    assert_eq!(all.len(), 4096);
    assert_eq!(&all[..5], b"hello");

    // Reading nothing at the very end is fine and prints nothing.
    assert!(memlink(&["read", &m.name, "--offset", "4096"])
        .ok_bytes()
        .is_empty());
    assert!(memlink(&["read", &m.name, "--len", "0"])
        .ok_bytes()
        .is_empty());
}

#[test]
fn write_reads_binary_data_from_stdin() {
    let m = Scratch::local("stdin");
    m.create("4KiB");
    let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let text = memlink_with_stdin(&["write", &m.name, "--offset", "100"], &data).ok();
    assert!(text.contains("wrote 512 bytes"), "{text}");
    assert_eq!(
        memlink(&["read", &m.name, "--offset", "100", "--len", "512"]).ok_bytes(),
        data
    );
    // Empty stdin writes nothing and succeeds.
    memlink_with_stdin(&["write", &m.name], b"").ok();
}

#[test]
fn read_hex_is_a_hex_dump() {
    let m = Scratch::local("hex");
    m.create("4096");
    memlink(&["write", &m.name, "--offset", "16", "hello world\n"]).ok();
    let text = memlink(&["read", &m.name, "--hex", "--offset", "16", "--len", "12"]).ok();
    assert_eq!(
        text,
        "00000010  68 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |hello world.|\n\
         0000001c\n"
    );
    // A whole mapping of zeros folds into a few lines.
    let text = memlink(&["read", &m.name, "--hex", "--offset", "32"]).ok();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.ends_with("*\n00001000\n"), "{text}");
}

#[test]
fn reading_or_writing_outside_the_mapping_is_an_error() {
    let m = Scratch::local("range");
    m.create("4096");
    for args in [
        vec!["read", &m.name, "--offset", "4090", "--len", "10"],
        vec!["read", &m.name, "--offset", "5000"],
        vec!["read", &m.name, "--len", "4097"],
        vec![
            "read",
            &m.name,
            "--offset",
            "18446744073709551615",
            "--len",
            "2",
        ],
        vec!["write", &m.name, "--offset", "4095", "ab"],
        vec!["write", &m.name, "--offset", "1MiB", "x"],
    ] {
        let line = memlink(&args).error();
        assert!(line.contains("4096"), "{args:?}: {line}");
        assert!(line.contains(&m.full()), "{args:?}: {line}");
    }
    let too_long = vec![b'x'; 5000];
    let line = memlink_with_stdin(&["write", &m.name], &too_long).error();
    assert!(line.contains("nothing was written"), "{line}");
    // All or nothing: the failed writes changed no byte.
    let all = memlink(&["read", &m.name]).ok_bytes();
    assert!(all.iter().all(|&b| b == 0));
}

#[test]
fn read_of_a_missing_mapping_is_not_found() {
    let m = Scratch::local("missing");
    let line = memlink(&["read", &m.name]).error();
    assert!(line.contains("does not exist"), "{line}");
    let line = memlink(&["write", &m.name, "x"]).error();
    assert!(line.contains("does not exist"), "{line}");
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let m = Scratch::local("pipe");
    m.create("4MiB");
    let mut child = Command::new(env!("CARGO_BIN_EXE_memlink"))
        .args(["read", &m.name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `| head -c 0`
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait_with_deadline(&mut child, "read into a closed pipe");
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "{status}");
    assert!(stderr.is_empty(), "{}", String::from_utf8_lossy(&stderr));
}

// ---------------------------------------------------------------------------
// ls, rm, gc

#[test]
fn ls_shows_a_created_mapping_with_its_size() {
    let m = Scratch::local("ls");
    m.create("12KiB");
    let table = memlink(&["ls"]).ok();
    let header = table.lines().next().unwrap();
    for column in [
        "NAME",
        "NAMESPACE",
        "SIZE",
        "OWNER",
        "LIFETIME",
        "STATE",
        "HOLDERS",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = table
        .lines()
        .find(|line| line.starts_with(&format!("{} ", m.full())))
        .unwrap_or_else(|| panic!("{} not in:\n{table}", m.full()));
    for cell in ["Local", "12 KiB", "persistent", "idle"] {
        assert!(row.contains(cell), "{row}");
    }

    let list: Value = serde_json::from_str(&memlink(&["ls", "--json"]).ok()).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == m.full())
        .expect("listed in JSON");
    assert_eq!(entry["size"], 12288);
    assert_eq!(entry["persistent"], true);
}

#[test]
fn ls_and_info_show_the_processes_holding_a_mapping() {
    let m = Scratch::local("held");
    m.create("4096");
    let holder = Holder::start("open", &m.name);
    let info = info_json(&m.name);
    assert_eq!(info["state"], "live");
    assert_eq!(info["live"], true);
    let holders: Vec<u64> = info["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(
        holders.contains(&u64::from(holder.pid())),
        "{holders:?} lacks {}",
        holder.pid()
    );
    let table = memlink(&["ls"]).ok();
    let row = table
        .lines()
        .find(|line| line.starts_with(&format!("{} ", m.full())))
        .unwrap();
    assert!(row.contains(&holder.pid().to_string()), "{row}");
    assert!(row.contains("live"), "{row}");
}

#[test]
fn rm_then_info_is_not_found() {
    let m = Scratch::local("rm");
    m.create("4096");
    let text = memlink(&["rm", &m.name]).ok();
    assert!(text.contains(&m.full()), "{text}");
    let line = memlink(&["info", &m.name]).error();
    assert!(line.contains("does not exist"), "{line}");
    let line = memlink(&["rm", &m.name]).error();
    assert!(line.contains("does not exist"), "{line}");
}

#[test]
fn gc_reclaims_a_mapping_whose_holder_was_killed() {
    let m = Scratch::local("gc");
    let holder = Holder::start("create-transient", &m.name);
    let info = info_json(&m.name);
    assert_eq!(info["persistent"], false);
    assert_eq!(info["state"], "live");

    holder.kill();
    // Only `info` here: opening a stale name would reclaim it on the way.
    assert_eq!(info_json(&m.name)["state"], "stale");
    let text = memlink(&["gc"]).ok();
    assert!(
        text.lines().any(|l| l == format!("reclaimed {}", m.full())),
        "{text}"
    );
    memlink(&["info", &m.name]).error();
    // Nothing of ours is left to reclaim; and the same as JSON.
    let text = memlink(&["gc"]).ok();
    assert!(!text.contains(&m.full()), "{text}");
    let gc: Value = serde_json::from_str(&memlink(&["gc", "--json"]).ok()).unwrap();
    let reclaimed = gc["reclaimed"].as_array().expect("a list");
    assert!(!reclaimed.iter().any(|n| n == m.full().as_str()), "{gc}");
}

// ---------------------------------------------------------------------------
// demo and help

#[test]
fn demo_shows_two_processes_and_leaves_nothing() {
    let text = memlink(&["demo"]).ok();
    assert!(text.contains("[server, pid"), "{text}");
    assert!(text.contains("[client, pid"), "{text}");
    assert!(text.contains("hello back from the client"), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    // The name it used is gone.
    let name = text
        .split_once("created ")
        .and_then(|(_, rest)| rest.split_once(':'))
        .map(|(name, _)| name.to_owned())
        .expect("demo names its mapping");
    assert!(name.starts_with("Local\\memlink-demo-"), "{name}");
    let line = memlink(&["info", &name]).error();
    assert!(line.contains("does not exist"), "{line}");
}

#[test]
fn every_command_has_help() {
    let top = memlink(&["--help"]).ok();
    for command in ["demo", "create", "ls", "info", "write", "read", "rm", "gc"] {
        assert!(top.contains(command), "{top}");
        let help = memlink(&[command, "--help"]).ok();
        assert!(
            help.contains(&format!("Usage: memlink {command}")),
            "{help}"
        );
        assert!(help.lines().count() > 4, "{help}");
    }
    assert!(!top.contains("demo-client"), "the client role is hidden");
    memlink(&[]).usage_error();
    memlink(&["frobnicate"]).usage_error();
}

/// Another user reads a mapping shared with mode 0644 only by saying whom
/// it trusts: refused without `--owner`, read with the right owner, refused
/// with another.
#[cfg(target_os = "linux")]
#[test]
fn another_users_mapping_is_read_with_owner_and_refused_without() {
    if !is_root() {
        eprintln!("skipped: acting as a second user needs root");
        return;
    }
    let m = Scratch::global("owner");
    memlink(&["create", &m.name, "--size", "4096", "--mode", "644"]).ok();
    memlink(&["write", &m.name, "shared"]).ok();
    let refused = run_as_nobody(&["read", &m.name, "--len", "6"]).error();
    assert!(refused.contains("owned by uid 0"), "{refused}");
    assert_eq!(
        run_as_nobody(&["read", &m.name, "--len", "6", "--owner", "root"]).ok(),
        "shared"
    );
    assert_eq!(
        run_as_nobody(&["read", &m.name, "--len", "6", "--owner", "0"]).ok(),
        "shared"
    );
    let wrong = run_as_nobody(&["read", &m.name, "--len", "6", "--owner", "65533"]).error();
    assert!(wrong.contains("not by uid 65533"), "{wrong}");
    // Writing needs write permission, which 0644 does not give: refused,
    // clearly, even when the owner is trusted.
    let write = run_as_nobody(&["write", &m.name, "x", "--owner", "root"]).error();
    assert!(write.contains("ermission"), "{write}");
}

/// `create --hold`: a transient mapping that `write` and `read` use while
/// the creating process holds it, gone with it (the flow Windows needs); a
/// killed holder's mapping is gone too.
#[test]
fn create_hold_keeps_a_transient_mapping_while_it_runs() {
    let m = Scratch::local("hold");
    let mut holder = Running::start_interactive(&["create", &m.name, "--size", "4096", "--hold"]);
    let line = holder.wait_for_line("created");
    assert!(line.contains("held by this process"), "{line}");
    let info = info_json(&m.name);
    assert_eq!(info["persistent"], false, "{info}");
    memlink(&["write", &m.name, "held"]).ok();
    assert_eq!(memlink(&["read", &m.name, "--len", "4"]).ok(), "held");
    holder.finish().ok();
    let gone = memlink(&["read", &m.name, "--len", "4"]).error();
    assert!(
        gone.contains("does not exist") || gone.contains("not found"),
        "{gone}"
    );

    let mut killed = Running::start_interactive(&["create", &m.name, "--size", "4096", "--hold"]);
    killed.wait_for_line("created");
    killed.kill();
    let gone = memlink(&["read", &m.name, "--len", "4"]).error();
    assert!(
        gone.contains("does not exist") || gone.contains("not found"),
        "{gone}"
    );
}

/// Completion scripts and the man page come from the CLI's own definition:
/// every subcommand is in them.
#[test]
fn completions_and_man_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = memlink(&["completions", shell]).ok();
        for command in ["serve", "connect", "watch", "create", "gc"] {
            assert!(
                script.contains(command),
                "{shell} completion lacks {command}"
            );
        }
    }
    let bash = memlink(&["completions", "bash"]).ok();
    assert!(bash.contains("--owner"), "options are completed too");
    let man = memlink(&["man"]).ok();
    assert!(
        man.starts_with(".ie") || man.contains(".TH memlink"),
        "{}",
        &man[..80.min(man.len())]
    );
    for command in ["serve", "watch", "completions"] {
        assert!(man.contains(command), "man page lacks {command}");
    }
    memlink(&["completions", "tcsh"]).usage_error();
}

/// Every command that prints has `--json`, and what it prints parses.
#[test]
fn printing_commands_speak_json() {
    let m = Scratch::local("json");
    let json = |args: &[&str]| -> Value { serde_json::from_str(&memlink(args).ok()).unwrap() };
    let created = json(&["create", &m.name, "--size", "4096", "--json"]);
    assert_eq!(created["name"], m.full().as_str());
    assert_eq!(
        (created["size"].clone(), created["persistent"].clone()),
        (4096.into(), true.into())
    );
    let wrote = json(&["write", &m.name, "--offset", "8", "hello", "--json"]);
    assert_eq!(wrote["written"], 5);
    let read = json(&["read", &m.name, "--offset", "8", "--len", "5", "--json"]);
    assert_eq!(
        (read["encoding"].clone(), read["data"].clone()),
        ("utf8".into(), "hello".into())
    );
    let binary = json(&["read", &m.name, "--len", "2", "--json"]);
    assert_eq!(
        (binary["encoding"].clone(), binary["data"].clone()),
        ("utf8".into(), "\0\0".into())
    );
    memlink(&["write", &m.name, "--offset", "100", "--", "\u{7f}"]).ok();
    memlink_with_stdin(&["write", &m.name, "--offset", "200"], &[0xff, 0xfe]).ok();
    let base64 = json(&["read", &m.name, "--offset", "200", "--len", "2", "--json"]);
    assert_eq!(
        (base64["encoding"].clone(), base64["data"].clone()),
        ("base64".into(), "//4=".into())
    );
    memlink(&["read", &m.name, "--json", "--hex"]).usage_error();
    let removed = json(&["rm", &m.name, "--json"]);
    assert_eq!(removed["removed"], m.full().as_str());
    // `gc --json` is checked in gc_reclaims_a_mapping_whose_holder_was_killed:
    // a gc here would reclaim that test's stale mapping under it.
}
