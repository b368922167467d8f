//! Two namespaced "machines" bridged over TCP on 127.0.0.1: order, no loss,
//! large messages, `Disconnected` within 1 s when the far side dies (its
//! sender or either bridge killed with kill -9), resuming when a bridge
//! comes back, lossy counting, and bad input.

mod support;

use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Receiver};
use memlink::Error;
use support::{can_run, free_port, unique, Machine, Proc};

const LONG: Duration = Duration::from_secs(120);
/// The lease of the tests' bridges, except the one about the lease: long
/// enough that a bridge starved of CPU on a busy machine is not taken for
/// gone (kill -9 closes TCP at once: that needs no lease).
const TEST_LEASE: &str = "2000";
/// How many messages a resuming receiver takes after the sender is back.
const RESUMED: u64 = 5000;
/// A sender that does not finish during a test (it is killed at the end).
const ENDLESS: &str = "100000000";
const DISCONNECT_BOUND: Duration = Duration::from_secs(1);

/// Sizes of a test stream, by mode.
fn size_of(mode: &str, seq: u64) -> usize {
    match mode {
        "small" => 24 + (seq % 233) as usize,
        "large" => [1 << 20, 24, 64 << 10, 1000, (512 << 10) + 3][(seq % 5) as usize],
        "every10big" if seq.is_multiple_of(10) => 100 << 10,
        "every10big" => 100,
        other => other.parse().expect("size mode"),
    }
}

/// The programs run on a machine: `send NAME COUNT MODE` and
/// `recv NAME COUNT strict|resume`.
#[test]
fn role() {
    let Ok(role) = std::env::var("MEMLINK_BRIDGE_ROLE") else {
        return;
    };
    let args = std::env::var("MEMLINK_BRIDGE_ARGS").unwrap();
    let args: Vec<&str> = args.split(' ').collect();
    let (name, count) = (args[0], args[1].parse::<u64>().unwrap());
    match role.as_str() {
        "send" => send(name, count, args[2]),
        "recv" => recv(name, count, args[2]),
        other => panic!("unknown role {other}"),
    }
}

fn send(name: &str, count: u64, mode: &str) {
    let mut tx = ChannelOptions::new()
        .capacity(4 << 20)
        .max_message(1 << 20)
        .create_sender(name)
        .unwrap();
    println!("@@ created");
    for seq in 0..count {
        let m = support::message(seq, size_of(mode, seq));
        loop {
            match tx.send(&m) {
                Ok(()) => break,
                // The bridge reading this channel died: wait for the next.
                Err(Error::Disconnected { .. }) => {
                    println!("@@ receiver left at {seq}");
                    while tx.wait_for_receiver(Duration::from_secs(1)).is_err() {}
                }
                Err(e) => panic!("send {seq}: {e}"),
            }
        }
    }
    println!("@@ sent all {count}");
    while let Err(e) = tx.wait_drained(LONG) {
        assert!(matches!(e, Error::Disconnected { .. }), "@@ error {e}");
        while tx.wait_for_receiver(Duration::from_secs(1)).is_err() {}
    }
    println!("@@ drained");
}

fn recv(name: &str, count: u64, mode: &str) {
    let deadline = Instant::now() + LONG;
    let mut rx = loop {
        match Receiver::open(name) {
            Ok(rx) => break rx,
            Err(Error::NotFound { .. }) if Instant::now() < deadline => {
                // The bridge creates it when it starts: look again.
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("open {name}: {e}"),
        }
    };
    println!("@@ opened");
    if mode == "later" {
        // Read only once the test says so.
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
    }
    let (mut received, mut last, mut gaps) = (0u64, None::<u64>, 0u64);
    // Resume: messages received since the sender came back.
    let mut resumed = None::<u64>;
    let mut buf = Vec::new();
    let mut last_at = Instant::now();
    loop {
        match rx.recv_timeout(&mut buf, LONG) {
            Ok(_) => {
                last_at = Instant::now();
                let seq = support::check(&buf).unwrap_or_else(|e| panic!("@@ error {e}"));
                match (mode, last) {
                    (_, None) if mode == "strict" => assert_eq!(seq, 0, "@@ error first is {seq}"),
                    ("strict", Some(l)) => assert_eq!(seq, l + 1, "@@ error {seq} after {l}"),
                    (_, Some(l)) => {
                        assert!(seq > l, "@@ error {seq} after {l}: out of order");
                        if seq != l + 1 {
                            gaps += 1;
                            println!("@@ gap {l} -> {seq}");
                        }
                    }
                    _ => {}
                }
                received += 1;
                last = Some(seq);
                if received == 1 || received.is_multiple_of(1000) {
                    println!("@@ got {received}");
                }
                if let Some(r) = resumed.as_mut() {
                    *r += 1;
                }
                // The last message sent, or RESUMED messages after a resume.
                if mode == "resume" && (seq + 1 == count || resumed == Some(RESUMED)) {
                    break;
                }
            }
            Err(Error::Disconnected { .. }) => {
                // How long after the last message the news came.
                let idle = last_at.elapsed().as_micros();
                println!("@@ disconnected after {received} idle_us={idle}");
                if mode != "resume" {
                    break;
                }
                // Resume: wait for the bridge to attach again.
                while rx.wait_for_sender(Duration::from_secs(1)).is_err() {}
                println!("@@ sender back");
                resumed = Some(0);
            }
            Err(e) => panic!("@@ error {e}"),
        }
    }
    println!("@@ done received={received} gaps={gaps}");
}

/// Bridge arguments for the exporting and the importing side.
fn export_args(name: &str, port: u16, listen: bool) -> Vec<String> {
    export_args_lease(name, port, listen, TEST_LEASE)
}

fn export_args_lease(name: &str, port: u16, listen: bool, lease: &str) -> Vec<String> {
    let locator = format!("tcp/127.0.0.1:{port}");
    let side = if listen { "--listen" } else { "--connect" };
    let args = ["--export", name, side, &locator, "--lease-ms", lease];
    args.map(String::from).to_vec()
}

fn import_args(name: &str, port: u16, listen: bool, extra: &[&str]) -> Vec<String> {
    let locator = format!("tcp/127.0.0.1:{port}");
    let side = if listen { "--listen" } else { "--connect" };
    let mut v: Vec<String> = vec!["--import".into(), name.into(), side.into(), locator];
    if !extra.contains(&"--lease-ms") {
        v.extend(["--lease-ms".into(), TEST_LEASE.into()]);
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A: sender + exporting bridge (listening); B: importing bridge + receiver.
struct Pair {
    a: Machine,
    b: Machine,
    name: String,
    port: u16,
    bridge_a: Proc,
    bridge_b: Proc,
}

impl Pair {
    /// `a_listens`: which bridge listens (the other connects).
    fn new(tag: &str, a_listens: bool, import_extra: &[&str]) -> Pair {
        Pair::with_lease(tag, a_listens, import_extra, TEST_LEASE)
    }

    /// With both bridges' Zenoh lease `lease` (ms).
    fn with_lease(tag: &str, a_listens: bool, import_extra: &[&str], lease: &str) -> Pair {
        let (a, b) = (Machine::new("A"), Machine::new("B"));
        let name = unique(tag);
        let port = free_port();
        let start_a = |a: &Machine| {
            let mut p = a.bridge(&strs(&export_args_lease(&name, port, a_listens, lease)));
            p.expect("running", LONG);
            p
        };
        let start_b = |b: &Machine| {
            let lease = ["--lease-ms", lease];
            let extra = [import_extra, &lease[..]].concat();
            let mut p = b.bridge(&strs(&import_args(&name, port, !a_listens, &extra)));
            p.expect("running", LONG);
            p
        };
        // The listening side first, so the other connects at once.
        let (bridge_a, bridge_b) = if a_listens {
            let pa = start_a(&a);
            (pa, start_b(&b))
        } else {
            let pb = start_b(&b);
            (start_a(&a), pb)
        };
        Pair {
            a,
            b,
            name,
            port,
            bridge_a,
            bridge_b,
        }
    }
}

impl Pair {
    /// A receiver on B (resuming), then a sender on A that never finishes;
    /// returns once 2000 messages went through.
    fn endless_stream(&self) -> (Proc, Proc) {
        let mut rx = self.b.role("recv", &[&self.name, ENDLESS, "resume"]);
        rx.expect("@@ opened", LONG);
        let tx = self.a.role("send", &[&self.name, ENDLESS, "small"]);
        rx.expect("@@ got 2000", LONG);
        (rx, tx)
    }
}

/// Waits for a receiver's `@@ disconnected` line, which must come within
/// [`DISCONNECT_BOUND`] after the last message it received, and (when
/// `since` is given: nothing was left in flight) within the bound of `since`.
fn disconnected_within_bound(rx: &mut Proc, since: Option<Instant>) {
    let line = rx.expect("@@ disconnected", LONG);
    let took = since.map(|s| s.elapsed());
    let idle: u64 = line.split("idle_us=").nth(1).unwrap().parse().unwrap();
    let idle = Duration::from_micros(idle);
    println!(
        "{}: Disconnected {idle:?} after the last message, {took:?} after the kill",
        rx.what
    );
    assert!(
        idle < DISCONNECT_BOUND,
        "Disconnected came {idle:?} after the last message"
    );
    if let Some(took) = took {
        assert!(
            took < DISCONNECT_BOUND,
            "Disconnected took {took:?} after the kill"
        );
    }
}

/// The last "(N in all)" a bridge logged for drops of this reason.
fn total(log: &str, reason: &str) -> u64 {
    log.lines()
        .rev()
        .filter(|l| l.contains(reason))
        .find_map(|l| l.split(" in all").next()?.rsplit('(').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn hundred_thousand_messages_arrive_in_order_then_disconnected() {
    if !can_run() {
        return;
    }
    let p = Pair::new("order", true, &[]);
    let mut rx = p.b.role("recv", &[&p.name, "100000", "strict"]);
    rx.expect("@@ opened", LONG);
    let mut tx = p.a.role("send", &[&p.name, "100000", "small"]);
    tx.expect("@@ drained", LONG);
    // The sender left once everything was read: the receiver reads it all,
    // then sees Disconnected.
    disconnected_within_bound(&mut rx, None);
    rx.expect("@@ done received=100000 gaps=0", LONG);
    assert!(
        rx.output().contains("@@ disconnected after 100000 "),
        "{}",
        rx.output()
    );
    assert!(
        !p.bridge_b.output().contains("dropped"),
        "{}",
        p.bridge_b.output()
    );
}

#[test]
fn messages_up_to_one_mib_arrive_whole() {
    if !can_run() {
        return;
    }
    let p = Pair::new("large", false, &[]);
    let mut rx = p.b.role("recv", &[&p.name, "200", "strict"]);
    rx.expect("@@ opened", LONG);
    let mut tx = p.a.role("send", &[&p.name, "200", "large"]);
    tx.expect("@@ drained", LONG);
    rx.expect("@@ done received=200 gaps=0", LONG);
}

#[test]
fn remote_sender_killed_gives_disconnected_within_a_second() {
    if !can_run() {
        return;
    }
    let p = Pair::new("ksend", true, &[]);
    let mut rx = p.b.role("recv", &[&p.name, ENDLESS, "strict"]);
    rx.expect("@@ opened", LONG);
    let mut tx = p.a.role("send", &[&p.name, ENDLESS, "small"]);
    rx.expect("@@ got 2000", LONG);
    tx.kill9();
    // What both rings held still arrives first: the bound is from the last.
    disconnected_within_bound(&mut rx, None);
    rx.expect("@@ done", LONG);
}

#[test]
fn exporting_bridge_killed_then_restarted_resumes() {
    if !can_run() {
        return;
    }
    // B listens, so the restarted A connects to it afresh.
    let mut p = Pair::new("kexp", false, &[]);
    let (mut rx, mut tx) = p.endless_stream();
    p.bridge_a.kill9();
    disconnected_within_bound(&mut rx, Some(Instant::now()));
    tx.expect("@@ receiver left", LONG);
    let mut again = p.a.bridge(&strs(&export_args(&p.name, p.port, false)));
    again.expect("stream", LONG);
    rx.expect("@@ sender back", LONG);
    let done = rx.expect("@@ done", LONG);
    println!("resumed: {done}");
}

/// A bridge that goes silent (SIGSTOP: as a cut network looks from the
/// other side) is gone after the lease; when it comes back (SIGCONT) the
/// bridges reconnect and the stream resumes.
#[test]
fn a_silent_remote_bridge_is_gone_after_the_lease_then_resumes() {
    if !can_run() {
        return;
    }
    // The default lease (500 ms), which the other tests lengthen.
    let p = Pair::with_lease("silent", true, &[], "500");
    let (mut rx, _tx) = p.endless_stream();
    p.bridge_a.signal("STOP");
    let stopped = Instant::now();
    let line = rx.expect("@@ disconnected", LONG);
    let took = stopped.elapsed();
    println!("silent bridge: {line}, {took:?} after SIGSTOP");
    // Default lease 500 ms: the news comes within 1 s of the silence.
    assert!(
        took < DISCONNECT_BOUND,
        "Disconnected took {took:?} after SIGSTOP"
    );
    p.bridge_a.signal("CONT");
    rx.expect("@@ sender back", LONG);
    rx.expect("@@ done", LONG);
}

#[test]
fn importing_bridge_killed_then_restarted_resumes() {
    if !can_run() {
        return;
    }
    // A listens, so the restarted B connects to it afresh.
    let mut p = Pair::new("kimp", true, &[]);
    let (mut rx, _tx) = p.endless_stream();
    p.bridge_b.kill9();
    disconnected_within_bound(&mut rx, Some(Instant::now()));
    let mut again = p.b.bridge(&strs(&import_args(&p.name, p.port, false, &[])));
    again.expect("running", LONG);
    rx.expect("@@ sender back", LONG);
    let done = rx.expect("@@ done", LONG);
    println!("resumed: {done}");
}

#[test]
fn lossy_import_counts_every_drop() {
    if !can_run() {
        return;
    }
    // A small ring on B and a receiver that reads only once the stream is
    // over: most messages cannot fit, and each one that did not is counted.
    let p = Pair::new(
        "lossy",
        true,
        &["--lossy", "--capacity", "65536", "--max-message", "4096"],
    );
    let mut rx = p.b.role("recv", &[&p.name, "5000", "later"]);
    rx.expect("@@ opened", LONG);
    let mut tx = p.a.role("send", &[&p.name, "5000", "1000"]);
    tx.expect("@@ drained", LONG);
    let mut bridge_b = p.bridge_b;
    bridge_b.expect("ended", LONG);
    let out = bridge_b.output();
    // Dropped at B's full ring, and (Zenoh's lossy congestion control) on the way.
    let dropped = total(&out, "local ring full") + total(&out, "lost before");
    rx.tell("go");
    let done = rx.expect("@@ disconnected after", LONG);
    let received: u64 = done
        .split("after ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    println!("lossy: {received} received, {dropped} dropped");
    assert!(dropped > 0, "{}", bridge_b.output());
    assert_eq!(received + dropped, 5000, "{}", bridge_b.output());
}

#[test]
fn oversized_and_garbage_samples_are_counted_and_the_rest_arrives() {
    if !can_run() {
        return;
    }
    let p = Pair::new("bad", false, &["--max-message", "65536"]);
    let mut rx = p.b.role("recv", &[&p.name, "1000", "resume"]);
    rx.expect("@@ opened", LONG);
    // Garbage first, from a plain Zenoh session of this test process.
    {
        use zenoh::Wait;
        let mut c = zenoh::Config::default();
        c.insert_json5("mode", "\"client\"").unwrap();
        c.insert_json5("scouting/multicast/enabled", "false")
            .unwrap();
        c.insert_json5(
            "connect/endpoints",
            &format!("[\"tcp/127.0.0.1:{}\"]", p.port),
        )
        .unwrap();
        let z = zenoh::open(c).wait().unwrap();
        let key = format!("memlink/{}", p.name);
        let mut wrong_version = memlink_bridge::wire::end(1, 0);
        wrong_version[2] = 9;
        for garbage in [b"short".to_vec(), vec![0u8; 40], wrong_version.to_vec()] {
            z.put(&key, garbage).wait().unwrap();
        }
        z.close().wait().unwrap();
    }
    let mut bridge_b = p.bridge_b;
    let garbage = bridge_b.expect("not memlink messages", LONG);
    let mut tx = p.a.role("send", &[&p.name, "1000", "every10big"]);
    tx.expect("@@ drained", LONG);
    let done = rx.expect("@@ done", LONG);
    let received: u64 = done
        .split("received=")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    // Every 10th (100 KiB) is larger than B's 64 KiB channel allows.
    bridge_b.expect("ended", LONG);
    let out = bridge_b.output();
    let too_large = total(&out, "larger than the local channel allows");
    println!("garbage: {garbage}\nreceived {received}, too large {too_large:?}");
    assert_eq!(too_large, 100, "{out}");
    assert_eq!(received, 900, "{out}");
    assert_eq!(total(&out, "not memlink messages"), 3, "{out}");
}

#[test]
fn bad_routes_are_refused_with_a_clear_error() {
    let bin = env!("CARGO_BIN_EXE_memlink-bridge");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .arg("--no-scouting")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--export", "a/b"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("export \"a/b\""), "{err}");
    let dir = std::env::temp_dir().join(unique("cfg"));
    std::fs::write(&dir, r#"{ import: [{ channel: "x", key: "memlink/*" }] }"#).unwrap();
    let (code, err) = run(&["--config", dir.to_str().unwrap()]);
    std::fs::remove_file(&dir).unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("wildcards"), "{err}");
    let (code, err) = run(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nothing to bridge"), "{err}");
    // A channel that does not exist (yet) is said so, and waited for.
    let port = free_port().to_string();
    let missing = unique("missing");
    let mut c = std::process::Command::new(bin);
    c.args(["--no-scouting", "--export", &missing, "--listen"])
        .arg(format!("tcp/127.0.0.1:{port}"));
    let mut bridge = Proc::spawn(c, "bridge");
    let line = bridge.expect("waiting for it", LONG);
    assert!(line.contains(&missing), "{line}");
}

/// The README's two machines: the article's server (`memlink serve`) on A,
/// its client (`memlink connect`) on B, unchanged, through two bridges.
#[test]
fn the_articles_server_and_client_run_through_the_bridge() {
    if !can_run() {
        return;
    }
    let p = Pair::new("article", true, &[]);
    let mut client = p.b.cli(&["connect", &p.name]);
    let mut server = p.a.cli(&["serve", &p.name]);
    for line in ["data is ready", "Message from first process.", "bye"] {
        server.tell(line);
    }
    server.close_stdin();
    assert_eq!(server.exit_code(LONG), Some(0), "{}", server.output());
    // The client prints each message and ends when the server has gone.
    assert_eq!(client.exit_code(LONG), Some(0), "{}", client.output());
    let out = client.output();
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        ["data is ready", "Message from first process.", "bye"],
        "{out}"
    );
}

/// An exporting bridge with nobody importing does not read its channel,
/// but it notices its local server killed (kill -9) and lets the channel
/// go, so a server restarted under the same name creates it again; what
/// that one left in the ring when it was killed in turn is kept by the
/// bridge and arrives, whole and in order, once a bridge imports again.
#[test]
fn a_server_killed_while_nobody_imports_can_be_restarted() {
    if !can_run() {
        return;
    }
    let (a, b) = (Machine::new("A"), Machine::new("B"));
    let name = unique("restart");
    let port = free_port();
    let mut exporter = a.bridge(&strs(&export_args(&name, port, true)));
    exporter.expect("running", LONG);
    // The importing side and its receiver are there first, then go silent
    // (SIGSTOP): for A, nobody imports after the lease.
    let importer = b.bridge(&strs(&import_args(&name, port, false, &[])));
    exporter.expect("a bridge imports it", LONG);
    let mut rx = b.role("recv", &[&name, "3000", "strict"]);
    rx.expect("@@ opened", LONG);
    importer.signal("STOP");
    exporter.expect("no bridge imports it", LONG);

    let mut first = a.cli(&["serve", &name]);
    first.expect("a receiver connected", LONG);
    first.kill9();
    let gone = exporter.expect("local sender left while no bridge imports", LONG);
    assert!(gone.contains("0 of them kept"), "{gone}");

    // Created again (before the fix: `AlreadyExists`, the bridge held it).
    let mut again = a.role("send", &[&name, "3000", "small"]);
    again.expect("@@ sent all 3000", LONG);
    // Killed once the bridge holds the channel too (else it would die with
    // its only holder, and its messages with it).
    let open = exporter.expect(" open", LONG);
    assert!(open.ends_with(" open"), "{open}");
    again.kill9();
    let kept = exporter.expect("local sender left while no bridge imports", LONG);
    assert!(kept.contains("3000 of them kept"), "{kept}");

    importer.signal("CONT");
    exporter.expect("a bridge imports it", LONG);
    rx.expect("@@ disconnected after 3000", LONG);
    let done = rx.expect("@@ done", LONG);
    assert!(done.contains("received=3000 gaps=0"), "{done}");
    exporter.expect("kept messages of stream", LONG);
}
