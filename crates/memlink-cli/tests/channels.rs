//! The channel commands (`serve`, `connect`, `send`, `recv`), the demo and
//! the library's `server`/`client` examples, each side a separate process.
//!
//! Ordering between processes comes from what they print (`serve` says when
//! the channel exists) or from the channel's own existence, never from
//! sleeping. Every process is killed at a deadline, every name is unique to
//! the test and removed by a guard however the test ends.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use memlink::{Error, Mapping};
use serde_json::Value;
use support::*;

/// A unique channel name; whatever is left under it when the test ends
/// (say, after a failed test killed a process) is removed.
struct Channel {
    name: String,
}

impl Channel {
    fn new(tag: &str) -> Channel {
        Channel { name: unique(tag) }
    }

    /// The name as `memlink` prints it.
    fn full(&self) -> String {
        format!("Local\\{}", self.name)
    }

    /// Whether the name exists now.
    fn exists(&self) -> bool {
        match Mapping::inspect(&self.name) {
            Ok(_) => true,
            Err(Error::NotFound { .. }) => false,
            Err(err) => panic!("inspect {}: {err}", self.name),
        }
    }

    /// Waits (bounded) until some process has created the channel.
    #[track_caller]
    fn wait_until_created(&self) {
        let deadline = Instant::now() + DEADLINE;
        let mut pause = Duration::from_millis(1);
        while !self.exists() {
            assert!(
                Instant::now() < deadline,
                "{} was not created within {DEADLINE:?}",
                self.name
            );
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let _ = Mapping::remove(&self.name);
    }
}

/// Starts `memlink serve` and waits until the channel exists.
fn serve(args: &[&str], input: Option<&[u8]>) -> Running {
    let mut all = vec!["serve"];
    all.extend(args);
    let mut server = Running::start(&all, input);
    server.wait_for_line("waiting for a receiver");
    server
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

// ---------------------------------------------------------------------------
// serve + connect

#[test]
fn serve_sends_stdin_lines_and_connect_prints_them() {
    let ch = Channel::new("lines");
    let server = serve(&[&ch.name], Some(b"one\ntwo\r\n\nthree, no newline"));
    let text = memlink(&["connect", &ch.name, "--timeout", "30s"]).ok();
    assert_eq!(text, "one\ntwo\n\nthree, no newline\n");

    let log = server.finish().ok();
    assert!(log.contains(&format!("serving {}", ch.full())), "{log}");
    assert!(log.contains("one-to-one"), "{log}");
    assert!(log.contains("sent 4 messages (23 bytes)"), "{log}");
    // The server waits until its receiver has read everything.
    assert!(log.contains("the receiver has read everything"), "{log}");
    // Both ends let go: the transient channel is gone.
    assert!(!ch.exists());
}

#[test]
fn serve_count_and_connect_count_agree_across_a_full_ring() {
    let ch = Channel::new("count");
    // 5000 records of 104 bytes do not fit the 16 KiB ring: the server
    // waits for the client to make room, and nothing is lost.
    let server = serve(
        &[
            &ch.name,
            "--count",
            "5000",
            "--size",
            "96",
            "--capacity",
            "16k",
        ],
        None,
    );
    let text = memlink(&["connect", &ch.name, "--count", "--timeout", "30s"]).ok();
    assert!(
        text.starts_with(&format!(
            "received 5000 messages (480000 bytes) from {}",
            ch.full()
        )),
        "{text}"
    );
    assert!(text.contains("msg/s"), "{text}");
    assert!(
        text.trim_end().ends_with("the sender disconnected"),
        "{text}"
    );
    let log = server.finish().ok();
    assert!(log.contains("16 KiB ring"), "{log}");
    assert!(
        log.contains("sent 5000 messages (480000 bytes) in"),
        "{log}"
    );
    assert!(!ch.exists());
}

#[test]
fn connect_count_json_is_one_summary_object() {
    let ch = Channel::new("countjson");
    let server = serve(&[&ch.name, "--count", "300", "--size", "10"], None);
    let text = memlink(&["connect", &ch.name, "--count", "--json"]).ok();
    let summary = json_lines(&text);
    assert_eq!(summary.len(), 1, "{text}");
    assert_eq!(summary[0]["messages"], 300);
    assert_eq!(summary[0]["bytes"], 3000);
    assert!(summary[0]["seconds"].is_f64(), "{text}");
    server.finish().ok();
}

#[test]
fn connect_prints_generated_messages() {
    let ch = Channel::new("generated");
    let server = serve(&[&ch.name, "--count", "3", "--size", "12"], None);
    let text = memlink(&["connect", &ch.name]).ok();
    assert_eq!(text, "message 1...\nmessage 2...\nmessage 3...\n");
    server.finish().ok();
}

#[test]
fn connect_json_has_one_object_per_message() {
    let ch = Channel::new("connectjson");
    let server = serve(&[&ch.name], Some("héllo\n\u{1F980}\n".as_bytes()));
    let messages = json_lines(&memlink(&["connect", &ch.name, "--json"]).ok());
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["seq"], 0);
    assert_eq!(messages[0]["len"], 6);
    assert_eq!(messages[0]["encoding"], "utf8");
    assert_eq!(messages[0]["data"], "héllo");
    assert_eq!(messages[1]["seq"], 1);
    assert_eq!(messages[1]["data"], "\u{1F980}");
    server.finish().ok();
}

#[test]
fn serve_broadcast_reaches_its_receiver() {
    let ch = Channel::new("broadcast");
    let server = serve(&[&ch.name, "--kind", "broadcast"], Some(b"a\nb\nc\n"));
    assert_eq!(memlink(&["connect", &ch.name]).ok(), "a\nb\nc\n");
    assert!(server.finish().ok().contains("broadcast"));
}

#[test]
fn connect_ends_when_the_server_is_killed() {
    let ch = Channel::new("killed");
    let mut server = Running::start_interactive(&["serve", &ch.name]);
    server.wait_for_line("waiting for a receiver");
    let mut client = Running::start(&["connect", &ch.name, "--timeout", "60s"], None);
    server.wait_for_line("a receiver connected");
    server.stdin().write_all(b"before\nthe crash\n").unwrap();
    server.stdin().flush().unwrap();
    client.wait_for_line("the crash");
    // kill -9: the server never says goodbye, and the client still learns
    // that it is alone (the library promises within 100 ms), long before
    // its own timeout.
    let killed = Instant::now();
    server.kill();
    let out = client.finish();
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "{:?}",
        killed.elapsed()
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, b"before\nthe crash\n");
}

#[test]
fn serve_gives_up_without_a_receiver() {
    let ch = Channel::new("noreceiver");
    let started = Instant::now();
    let out = run(
        &["serve", &ch.name, "--count", "1", "--timeout", "300ms"],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("memlink: timed out after 300ms waiting for a receiver"),
        "{}",
        lines[0]
    );
    assert!(!ch.exists());
}

#[test]
fn serve_fails_when_the_receiver_leaves_early() {
    let ch = Channel::new("leaves");
    // Far more than the ring holds, so the server is still sending when the
    // receiver goes.
    let input: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
    let server = serve(&[&ch.name], Some(input.as_bytes()));
    let text = memlink(&["recv", &ch.name, "--count", "2", "--timeout", "30s"]).ok();
    assert_eq!(text, "line 0\nline 1\n");
    let out = server.finish();
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("disconnected"), "{}", out.stderr);
    assert!(out.stderr.contains("messages sent)"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn connect_to_a_missing_channel_says_how_to_start_one() {
    let ch = Channel::new("missing");
    let line = memlink(&["connect", &ch.name]).error();
    assert!(line.contains("does not exist"), "{line}");
    assert!(
        line.contains(&format!("memlink serve {}", ch.name)),
        "{line}"
    );
    let line = memlink(&["send", &ch.name, "x"]).error();
    assert!(
        line.contains(&format!("channel {} does not exist", ch.full())),
        "{line}"
    );
}

#[test]
fn a_second_server_on_the_same_name_is_refused() {
    let ch = Channel::new("twice");
    let server = serve(&[&ch.name, "--count", "1"], None);
    let line = memlink(&["serve", &ch.name]).error();
    assert!(line.contains("already exists"), "{line}");
    // The first one still works.
    assert_eq!(
        memlink(&["connect", &ch.name]).ok(),
        format!("message 1{}\n", ".".repeat(55))
    );
    server.finish().ok();
}

// ---------------------------------------------------------------------------
// send + recv

#[test]
fn recv_first_then_send_delivers_in_order() {
    let ch = Channel::new("sendrecv");
    let receiver = Running::start(
        &[
            "recv",
            &ch.name,
            "--count",
            "3",
            "--json",
            "--timeout",
            "30s",
        ],
        None,
    );
    ch.wait_until_created();
    let text = memlink(&["send", &ch.name, "hello", "wörld"]).ok();
    assert_eq!(
        text,
        format!("sent 2 messages (11 bytes) to {}\n", ch.full())
    );
    // Not UTF-8: base64 in the JSON.
    memlink_with_stdin(&["send", &ch.name], b"\xff\xfe\n").ok();

    let messages = json_lines(&receiver.finish().ok());
    let data: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["encoding"].as_str().unwrap(), m["data"].as_str().unwrap()))
        .collect();
    assert_eq!(
        data,
        [("utf8", "hello"), ("utf8", "wörld"), ("base64", "//4=")]
    );
    let seqs: Vec<u64> = messages
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(messages[2]["len"], 2);
    assert!(!ch.exists());
}

#[test]
fn recv_prints_one_message_by_default() {
    let ch = Channel::new("one");
    let server = serve(&[&ch.name], Some(b"first\nsecond\n"));
    assert_eq!(
        memlink(&["recv", &ch.name, "--timeout", "30s"]).ok(),
        "first\n"
    );
    // The server may or may not have sent "second" before the receiver
    // left; either way it ends (at worst with "disconnected").
    let _ = server.finish();
}

#[test]
fn recv_with_nothing_times_out_with_one_line() {
    let ch = Channel::new("timeout");
    let started = Instant::now();
    let line = memlink(&["recv", &ch.name, "--timeout", "300ms"]).error();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        line.starts_with("memlink: timed out after 300ms waiting for a message on"),
        "{line}"
    );
    assert!(line.contains(&ch.full()), "{line}");
    // The channel it made for the wait went with it.
    assert!(!ch.exists());
}

#[test]
fn recv_waits_for_the_next_sender_until_its_timeout() {
    let ch = Channel::new("next");
    let receiver = Running::start(&["recv", &ch.name, "--count", "3", "--timeout", "1s"], None);
    ch.wait_until_created();
    // Two senders, one after the other: the first leaving does not end recv.
    memlink(&["send", &ch.name, "a"]).ok();
    memlink(&["send", &ch.name, "b"]).ok();
    let out = receiver.finish();
    // No third message: what did come is printed, the error says how much.
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, b"a\nb\n");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("memlink: timed out after 1s waiting for a message"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("(2 of 3 received)"), "{}", out.stderr);
}

#[test]
fn several_senders_share_a_many_to_one_channel() {
    let ch = Channel::new("many");
    let receiver = Running::start(
        &["recv", &ch.name, "--count", "4", "--timeout", "30s"],
        None,
    );
    ch.wait_until_created();
    let a = Running::start(&["send", &ch.name, "a1", "a2"], None);
    let b = Running::start(&["send", &ch.name, "b1", "b2"], None);
    a.finish().ok();
    b.finish().ok();
    let text = receiver.finish().ok();
    let mut lines: Vec<&str> = text.lines().collect();
    // Each sender's messages stay in order; the two may interleave.
    let a_order: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with('a'))
        .collect();
    assert_eq!(a_order, ["a1", "a2"]);
    lines.sort_unstable();
    assert_eq!(lines, ["a1", "a2", "b1", "b2"]);
}

#[test]
fn send_refuses_a_message_larger_than_the_channel_allows() {
    let ch = Channel::new("large");
    let receiver = Running::start(
        &["recv", &ch.name, "--max-message", "16", "--timeout", "30s"],
        None,
    );
    ch.wait_until_created();
    let line = memlink(&["send", &ch.name, &"x".repeat(17)]).error();
    assert!(line.contains("17 bytes") && line.contains("16"), "{line}");
    memlink(&["send", &ch.name, &"x".repeat(16)]).ok();
    assert_eq!(receiver.finish().ok(), format!("{}\n", "x".repeat(16)));
}

#[test]
fn send_waits_for_room_at_most_its_timeout() {
    let ch = Channel::new("full");
    // A many-to-one channel on the smallest ring that nobody receives from:
    // `serve` waits for a receiver that never comes, and a second sender
    // fills the ring.
    let server = serve(
        &[
            &ch.name,
            "--kind",
            "many-to-one",
            "--capacity",
            "256",
            "--max-message",
            "16",
            "--timeout",
            "60s",
        ],
        None,
    );
    let input = "0123456789\n".repeat(100);
    let started = Instant::now();
    let line =
        memlink_with_stdin(&["send", &ch.name, "--timeout", "300ms"], input.as_bytes()).error();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        line.starts_with("memlink: timed out after 300ms waiting for room to send on"),
        "{line}"
    );
    drop(server);
}

// ---------------------------------------------------------------------------
// demo, help

#[test]
fn demo_talks_over_channels_and_leaves_nothing() {
    let started = Instant::now();
    let text = memlink(&["demo"]).ok();
    let took = started.elapsed();
    for needle in [
        "[server, pid",
        "[client, pid",
        "hello back from the client",
        "created two one-to-one channels",
        "received \"message 1 of 10: data is ready\"",
        "received \"message 10 of 10: data is ready\"",
        "the client confirms 10 messages",
        "round trips: p50",
        "in order",
        "is disconnected: the server has gone",
        "both channels ended with their last endpoint",
        "summary",
        "round trip, 64 B each way",
        "msg/s",
        "MB/s",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    // Narrated messages arrive in order.
    let narrated: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("data is ready\""))
        .collect();
    assert_eq!(narrated.len(), 10, "{text}");
    assert!(narrated[9].contains("message 10 of 10"), "{text}");
    // Every name the demo made is gone.
    let names: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ':' || c == '"')
        .filter(|w| w.starts_with("Local\\memlink-demo-"))
        .collect();
    assert!(names.len() >= 3, "{text}");
    for name in names {
        assert!(
            matches!(Mapping::inspect(name), Err(Error::NotFound { .. })),
            "{name} is left behind"
        );
    }
    // Budgets keep it short; allow for a loaded machine.
    assert!(took < Duration::from_secs(30), "the demo took {took:?}");
}

#[test]
fn channel_commands_have_help() {
    let top = memlink(&["--help"]).ok();
    for command in ["serve", "connect", "send", "recv"] {
        assert!(top.contains(command), "{top}");
        let help = memlink(&[command, "--help"]).ok();
        assert!(
            help.contains(&format!("Usage: memlink {command}")),
            "{help}"
        );
        assert!(help.contains("Examples:"), "{help}");
    }
    assert!(
        !top.contains("demo-channel-client"),
        "the client role is hidden"
    );
    let text = memlink(&["recv", "x", "--timeout", "soon"]).usage_error();
    assert!(text.contains("invalid duration"), "{text}");
}

// ---------------------------------------------------------------------------
// The library's examples

/// Builds the `memlink` crate's examples with the cargo that runs these
/// tests, and returns the server's and the client's executables.
fn build_examples() -> (PathBuf, PathBuf) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cargo = Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "memlink",
            "--example",
            "server",
            "--example",
            "client",
            "--message-format=json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cargo");
    let stdout = drain(cargo.stdout.take().unwrap());
    let stderr = drain(cargo.stderr.take().unwrap());
    // Compiling may take a while on a busy machine.
    let status = wait_within(
        &mut cargo,
        "cargo build --examples",
        Duration::from_secs(600),
    );
    let stdout = String::from_utf8(stdout.join().unwrap()).unwrap();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    assert!(status.success(), "cargo build failed: {stderr}");
    let exe = |name: &str| -> PathBuf {
        stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|m| {
                m["reason"] == "compiler-artifact"
                    && m["target"]["name"] == name
                    && m["target"]["kind"][0] == "example"
            })
            .and_then(|m| m["executable"].as_str().map(PathBuf::from))
            .unwrap_or_else(|| panic!("no executable for example {name} in: {stdout}"))
    };
    (exe("server"), exe("client"))
}

#[test]
fn library_examples_server_and_client_talk() {
    let (server_exe, client_exe) = build_examples();
    let ch = Channel::new("example");
    let mut server = Running::start_exe(&server_exe, &[&ch.name], None);
    server.wait_for_line("waiting for a client");
    let text = Running::start_exe(&client_exe, &[&ch.name], None)
        .finish()
        .ok();
    let received: Vec<&str> = text.lines().filter(|l| l.contains("received")).collect();
    assert_eq!(received.len(), 5, "{text}");
    for (i, line) in received.iter().enumerate() {
        assert!(
            line.contains(&format!("data is ready: reading {} of 5", i + 1)),
            "{text}"
        );
    }
    assert!(text.contains("the server has gone"), "{text}");
    let server_text = server.finish().ok();
    assert!(server_text.contains("a client connected"), "{server_text}");
    assert!(!ch.exists());
}

/// Another user connects to a channel served with `--mode 666` by saying
/// whom it trusts (`--owner`); without it the name is refused. A channel
/// `recv` creates takes `--mode` too, and a read-only mode is refused.
#[cfg(target_os = "linux")]
#[test]
fn another_user_connects_with_owner_and_modes_reach_created_channels() {
    if !is_root() {
        eprintln!("skipped: acting as a second user needs root");
        return;
    }
    let ch = Channel {
        name: format!("Global\\{}", unique("owner")),
    };
    let server = serve(&[&ch.name, "--count", "50", "--mode", "666"], None);
    let refused = run_as_nobody(&["connect", &ch.name, "--count"]).error();
    assert!(refused.contains("owned by uid 0"), "{refused}");
    let summary = run_as_nobody(&["connect", &ch.name, "--count", "--owner", "root"]).ok();
    assert!(summary.contains("50 messages"), "{summary}");
    server.finish().ok();

    let inbox = Channel {
        name: format!("Global\\{}", unique("recv-mode")),
    };
    let mut receiver = Running::start(&["recv", &inbox.name, "--mode", "660"], None);
    inbox.wait_until_created();
    assert_eq!(Mapping::inspect(&inbox.name).unwrap().mode, Some(0o660));
    memlink(&["send", &inbox.name, "hello"]).ok();
    receiver.wait_for_line("hello");
    receiver.finish().ok();
    let read_only = memlink(&["recv", &unique("ro"), "--mode", "644"]).error();
    assert!(read_only.contains("read without writing"), "{read_only}");
}

/// `ls`, `info` and `watch` say what a name is and show a channel's shape,
/// fill, counters and endpoints, read from outside.
#[test]
fn ls_info_and_watch_show_what_a_channel_holds() {
    use memlink::channel::{ChannelOptions, Receiver};
    let ch = Channel::new("seen");
    let plain = Channel::new("plain");
    let _mapping = Mapping::create(&plain.name, 4096).unwrap();
    let event = Channel::new("event");
    let _event = memlink::NamedEvent::create(&event.name, memlink::EventKind::AutoReset).unwrap();
    let mut tx = ChannelOptions::new()
        .capacity(4096)
        .max_message(100)
        .create_sender(&ch.name)
        .unwrap();
    let _rx = Receiver::open(&ch.name).unwrap();
    for _ in 0..10 {
        tx.send(&[1; 40]).unwrap();
    }

    let info: Value = serde_json::from_str(&memlink(&["info", &ch.name, "--json"]).ok()).unwrap();
    assert_eq!(info["kind"], "channel");
    let channel = &info["channel"];
    assert_eq!(channel["kind"], "one-to-one");
    assert_eq!(channel["capacity"], 4096);
    assert_eq!(channel["max_message"], 100);
    assert_eq!(channel["messages"], 10);
    assert_eq!(channel["used"], 10 * 48);
    let me = u64::from(std::process::id());
    let endpoints = channel["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2, "{endpoints:?}");
    assert!(endpoints
        .iter()
        .all(|e| e["pid"] == me && e["alive"] == true));
    let text = memlink(&["info", &ch.name]).ok();
    assert!(text.contains("kind:      channel, one-to-one"), "{text}");
    assert!(text.contains(&format!("slot 0 pid {me} alive")), "{text}");

    let ls: Value = serde_json::from_str(&memlink(&["ls", "--json"]).ok()).unwrap();
    let kind_of = |full: String| {
        ls.as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == full.as_str())
            .map(|m| m["kind"].clone())
    };
    assert_eq!(kind_of(ch.full()), Some(Value::from("channel")));
    assert_eq!(kind_of(plain.full()), Some(Value::from("mapping")));
    assert_eq!(kind_of(event.full()), Some(Value::from("event")));
    let table = memlink(&["ls"]).ok();
    assert!(table.contains("one-to-one"));
    let event_row = table.lines().find(|l| l.contains(&event.name)).unwrap();
    // NAME NAMESPACE KIND ...
    let kind_column = event_row.split_whitespace().nth(2);
    assert_eq!(kind_column, Some("event"), "{table}");
    let text = memlink(&["info", &event.name]).ok();
    assert!(text.contains("memlink event"), "{text}");

    let out = memlink(&[
        "watch",
        &ch.name,
        "--count",
        "2",
        "--interval",
        "10ms",
        "--json",
    ])
    .ok();
    let samples: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(samples.len(), 2, "{out}");
    let first = &samples[0]["channels"][0];
    assert_eq!(first["messages"], 10);
    assert_eq!(
        (first["senders"].clone(), first["receivers"].clone()),
        (1.into(), 1.into())
    );
    assert!(first["msgs_per_s"].is_null(), "no rate before two samples");
    assert_eq!(
        samples[1]["channels"][0]["msgs_per_s"], 0.0,
        "nothing sent between"
    );
    drop(tx);
    let out = memlink(&["watch", &ch.name, "--count", "1", "--json"]).ok();
    let sample: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(sample["channels"][0]["senders"], 0);
    assert_eq!(
        sample["channels"][0]["gone"], 1,
        "the sender left: {sample}"
    );
}

/// A long `serve` shows progress when its standard error is a terminal
/// (here the pseudo-terminal of `script`, from util-linux) and prints
/// nothing extra when piped.
#[cfg(target_os = "linux")]
#[test]
fn progress_shows_on_a_terminal_and_not_in_a_pipe() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to give memlink a terminal");
        return;
    }
    let ch = Channel::new("progress");
    let command = format!(
        "{} serve {} --count 100000 --size 64",
        env!("CARGO_BIN_EXE_memlink"),
        ch.name
    );
    let mut server =
        Running::start_exe(Path::new("script"), &["-qec", &command, "/dev/null"], None);
    server.wait_for_line("waiting for a receiver");
    let summary = memlink(&["connect", &ch.name, "--count"]).ok();
    assert!(summary.contains("100000 messages"), "{summary}");
    let out = server.finish();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("/100,000 messages"),
        "no progress line: {text:?}"
    );

    let piped = Channel::new("progress-piped");
    let server = serve(&[&piped.name, "--count", "1000"], None);
    memlink(&["connect", &piped.name, "--count"]).ok();
    let out = server.finish();
    assert!(out.status.success());
    assert_eq!(out.stderr, "", "progress in a pipe");
}

/// `serve --json` and `send --json` print one JSON summary and nothing else.
#[test]
fn serve_and_send_speak_json() {
    let ch = Channel::new("json-serve");
    let server = Running::start(
        &["serve", &ch.name, "--count", "20", "--size", "10", "--json"],
        None,
    );
    ch.wait_until_created();
    memlink(&["connect", &ch.name, "--count"]).ok();
    let out = server.finish().ok();
    let summary: Value = serde_json::from_str(&out).expect("only JSON on stdout");
    assert_eq!(
        (summary["messages"].clone(), summary["bytes"].clone()),
        (20.into(), 200.into())
    );
    assert!(summary["receiver"].is_string(), "{summary}");

    let inbox = Channel::new("json-send");
    let mut receiver = Running::start(&["recv", &inbox.name, "--count", "2"], None);
    inbox.wait_until_created();
    let sent: Value =
        serde_json::from_str(&memlink(&["send", &inbox.name, "a", "bc", "--json"]).ok()).unwrap();
    assert_eq!(
        (sent["messages"].clone(), sent["bytes"].clone()),
        (2.into(), 3.into())
    );
    receiver.wait_for_line("bc");
}
