//! The bridge against plain Zenoh, between the same two processes, in one
//! run: a 64 B and a 1 KiB message stream (msg/s) and a ping-pong (one-way
//! latency = round trip / 2, percentiles).
//!
//! Bridged path: program -> memlink channel -> bridge A -> Zenoh (TCP on
//! 127.0.0.1) -> bridge B -> memlink channel -> program. Both bridges run
//! inside the two bench processes (the library, as the `memlink-bridge`
//! binary runs it). Plain path: a Zenoh publisher in one process, a
//! subscriber in the other, same sessions settings, same link.
//!
//! ```sh
//! cargo run --release -p memlink-bridge --example bench [-- STREAM_MESSAGES PINGS]
//! ```
//!
//! Next to each stream's rate it prints the CPU time both processes spent
//! per message (process CPU clocks, all threads: the programs, Zenoh's and
//! the bridges'). When the machine's cores are all busy, cores / CPU per
//! message bounds the rate a path can reach, which says whether a ratio is
//! bounded by the work per message or by something else (waiting).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Receiver, Sender};
use memlink_bridge::{Bridge, Config, Route};
use zenoh::qos::CongestionControl;
use zenoh::{Session, Wait};

const PEER: &str = "MEMLINK_BRIDGE_BENCH_PEER";

fn main() {
    if let Ok(port) = std::env::var(PEER) {
        return peer(port.parse().unwrap());
    }
    let mut args = std::env::args().skip(1);
    let (n, pings) = match (
        count_arg(args.next(), 200_000),
        count_arg(args.next(), 5_000),
    ) {
        (Ok(n), Ok(pings)) if args.next().is_none() => (n, pings as usize),
        (Err(e), _) | (_, Err(e)) => usage(&e),
        _ => usage("too many arguments"),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tag = std::process::id();
    let stream_tx = channel_sender(&format!("bench-a-stream-{tag}"));
    let ping_tx = channel_sender(&format!("bench-a-ping-{tag}"));
    let plain = session(&[format!("tcp/127.0.0.1:{port}")], &[]);
    let bridge = Bridge::start(&bridge_config(
        &[format!("tcp/127.0.0.1:{}", port + 1)],
        &[],
        &[
            (format!("bench-a-stream-{tag}"), "bench/bridged/stream"),
            (format!("bench-a-ping-{tag}"), "bench/bridged/ping"),
        ],
        &[(format!("bench-a-pong-{tag}"), "bench/bridged/pong")],
    ))
    .unwrap();
    let (done_tx, done) = mpsc::channel();
    let _done = plain
        .declare_subscriber("bench/ctl/done")
        // Each "done" carries the peer's process CPU time so far (ns).
        .callback(move |sample| {
            let cpu = sample
                .payload()
                .try_to_string()
                .ok()
                .and_then(|t| t.parse().ok());
            let _ = done_tx.send(cpu.unwrap_or(0u64));
        })
        .wait()
        .unwrap();
    let (pong_tx, pong) = mpsc::channel();
    let _pong = plain
        .declare_subscriber("bench/plain/pong")
        .callback(move |_| {
            let _ = pong_tx.send(Instant::now());
        })
        .wait()
        .unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(PEER, port.to_string())
        .env("BENCH_TAG", tag.to_string())
        .env("BENCH_N", n.to_string())
        .spawn()
        .unwrap();
    let mut peer_cpu = done
        .recv_timeout(Duration::from_secs(60))
        .expect("peer ready");
    let mut pong_rx = open_receiver(&format!("bench-a-pong-{tag}"));
    let stream = plain
        .declare_publisher("bench/plain/stream")
        .congestion_control(CongestionControl::Block)
        .wait()
        .unwrap();
    let ping = plain
        .declare_publisher("bench/plain/ping")
        .congestion_control(CongestionControl::Block)
        .wait()
        .unwrap();
    wait_matching(&stream);
    wait_matching(&ping);
    let mut stream_tx = stream_tx;
    let mut ping_tx = ping_tx;

    println!(
        "memlink-bridge bench: {n} messages per stream, {pings} pings; 2 processes, TCP 127.0.0.1"
    );
    println!(
        "{:<28} {:>14} {:>14} {:>8}",
        "case", "plain Zenoh", "bridged", "ratio"
    );
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let mut cpu_lines = Vec::new();
    for size in [64usize, 1024] {
        let payload = vec![0x5au8; size];
        // Paired: the baseline right before the bridged run. The CPU time of
        // a case is this process's and the peer's (reported with "done").
        let mut case = |send: &mut dyn FnMut()| {
            let (started, cpu) = (Instant::now(), process_cpu_ns());
            for _ in 0..n {
                send();
            }
            let peer_now = done
                .recv_timeout(Duration::from_secs(300))
                .expect("stream done");
            let rate = n as f64 / started.elapsed().as_secs_f64();
            let spent = process_cpu_ns() - cpu + peer_now.saturating_sub(peer_cpu);
            peer_cpu = peer_now;
            (rate, spent as f64 / n as f64 / 1e3)
        };
        let (plain_rate, plain_cpu) = case(&mut || stream.put(payload.clone()).wait().unwrap());
        let (bridged_rate, bridged_cpu) = case(&mut || stream_tx.send(&payload).unwrap());
        println!(
            "{:<28} {:>10.0} m/s {:>10.0} m/s {:>7.2}x   (target >= 0.90x)",
            format!("stream {size} B msg/s"),
            plain_rate,
            bridged_rate,
            bridged_rate / plain_rate
        );
        cpu_lines.push(format!(
            "{:<28} {:>11.2} us {:>11.2} us {:>7.2}x   ({cores} cores bound bridged at {:.0} m/s)",
            format!("  CPU per {size} B message"),
            plain_cpu,
            bridged_cpu,
            bridged_cpu / plain_cpu,
            cores as f64 / bridged_cpu * 1e6
        ));
    }
    for line in cpu_lines {
        println!("{line}");
    }
    let mut plain_lat = Vec::with_capacity(pings);
    let mut bridged_lat = Vec::with_capacity(pings);
    let mut buf = Vec::new();
    let message = [0x11u8; 64];
    for i in 0..pings + pings / 10 {
        let t = Instant::now();
        ping.put(message.to_vec()).wait().unwrap();
        let back = pong
            .recv_timeout(Duration::from_secs(10))
            .expect("plain pong");
        let t2 = Instant::now();
        ping_tx.send(&message).unwrap();
        pong_rx.recv_into(&mut buf).unwrap();
        let back2 = Instant::now();
        if i >= pings / 10 {
            plain_lat.push(back.duration_since(t) / 2);
            bridged_lat.push(back2.duration_since(t2) / 2);
        }
    }
    plain_lat.sort();
    bridged_lat.sort();
    for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
        let at = |v: &[Duration]| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
        let (p, b) = (at(&plain_lat), at(&bridged_lat));
        println!(
            "{:<28} {:>11.1} us {:>11.1} us {:>7.2}x   (target <= 1.2x + 5 us = {:.1} us)",
            format!("ping-pong 64 B one-way {label}"),
            p.as_secs_f64() * 1e6,
            b.as_secs_f64() * 1e6,
            b.as_secs_f64() / p.as_secs_f64(),
            p.as_secs_f64() * 1.2e6 + 5.0
        );
    }
    drop((stream_tx, ping_tx));
    let _ = child.kill();
    let _ = child.wait();
    drop(bridge);
}

fn peer(port: u16) {
    let tag = std::env::var("BENCH_TAG").unwrap();
    let n: u64 = std::env::var("BENCH_N").unwrap().parse().unwrap();
    let mut pong_tx = channel_sender(&format!("bench-b-pong-{tag}"));
    let plain = session(&[], &[format!("tcp/127.0.0.1:{port}")]);
    let _bridge = Bridge::start(&bridge_config(
        &[],
        &[format!("tcp/127.0.0.1:{}", port + 1)],
        &[(format!("bench-b-pong-{tag}"), "bench/bridged/pong")],
        &[
            (format!("bench-b-stream-{tag}"), "bench/bridged/stream"),
            (format!("bench-b-ping-{tag}"), "bench/bridged/ping"),
        ],
    ))
    .unwrap();
    let done = plain.declare_publisher("bench/ctl/done").wait().unwrap();
    let pong = plain
        .declare_publisher("bench/plain/pong")
        .congestion_control(CongestionControl::Block)
        .wait()
        .unwrap();
    let pong = std::sync::Arc::new(pong);
    let counter = plain.clone();
    let mut count = 0u64;
    let _stream = plain
        .declare_subscriber("bench/plain/stream")
        .callback_mut(move |_| {
            count += 1;
            if count.is_multiple_of(n) {
                let cpu = process_cpu_ns().to_string();
                counter.put("bench/ctl/done", cpu).wait().unwrap();
            }
        })
        .wait()
        .unwrap();
    let _ping = plain
        .declare_subscriber("bench/plain/ping")
        .callback({
            let pong = std::sync::Arc::clone(&pong);
            move |s| pong.put(s.payload().clone()).wait().unwrap()
        })
        .wait()
        .unwrap();
    let mut stream_rx = open_receiver(&format!("bench-b-stream-{tag}"));
    let mut ping_rx = open_receiver(&format!("bench-b-ping-{tag}"));
    let stream_done = plain.clone();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut count = 0u64;
        while stream_rx.recv_into(&mut buf).is_ok() {
            count += 1;
            if count.is_multiple_of(n) {
                let cpu = process_cpu_ns().to_string();
                stream_done.put("bench/ctl/done", cpu).wait().unwrap();
            }
        }
    });
    // Ready once the bench's subscribers are known here.
    wait_matching(&done);
    wait_matching(&pong);
    done.put(process_cpu_ns().to_string()).wait().unwrap();
    let mut buf = Vec::new();
    while ping_rx.recv_into(&mut buf).is_ok() {
        pong_tx.send(&buf).unwrap();
    }
}

/// A message count from the command line (`default` when absent).
fn count_arg(arg: Option<String>, default: u64) -> Result<u64, String> {
    match arg {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!("{text:?} is not a positive message count")),
            Ok(count) => Ok(count),
        },
    }
}

fn usage(why: &str) -> ! {
    eprintln!("bench: {why}\nusage: bench [STREAM_MESSAGES [PINGS]]");
    std::process::exit(2)
}

/// CPU time this process has used so far, all threads (ns).
#[cfg(unix)]
fn process_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// CPU time: not measured here (0), so the CPU lines say nothing.
#[cfg(not(unix))]
fn process_cpu_ns() -> u64 {
    0
}

/// Waits until some subscriber matches `publisher` (at most 30 s).
fn wait_matching(publisher: &zenoh::pubsub::Publisher<'_>) {
    let listener = publisher.matching_listener().wait().unwrap();
    if publisher.matching_status().wait().unwrap().matching() {
        return;
    }
    while let Ok(status) = listener.recv_timeout(Duration::from_secs(30)) {
        match status {
            Some(s) if s.matching() => return,
            Some(_) => {}
            None => panic!("no subscriber for {} within 30 s", publisher.key_expr()),
        }
    }
    panic!("matching listener closed");
}

fn session(listen: &[String], connect: &[String]) -> Session {
    let c = Config {
        scouting: false,
        listen: listen.to_vec(),
        connect: connect.to_vec(),
        ..Config::default()
    };
    zenoh::open(c.zenoh().unwrap()).wait().unwrap()
}

fn bridge_config(
    listen: &[String],
    connect: &[String],
    export: &[(String, &str)],
    import: &[(String, &str)],
) -> Config {
    let route = |(name, key): &(String, &str)| Route {
        key: Some((*key).to_owned()),
        capacity: 1 << 20,
        max_message: 4096,
        ..Route::new(name)
    };
    Config {
        scouting: false,
        listen: listen.to_vec(),
        connect: connect.to_vec(),
        export: export.iter().map(route).collect(),
        import: import.iter().map(route).collect(),
        ..Config::default()
    }
}

fn channel_sender(name: &str) -> Sender {
    ChannelOptions::new()
        .capacity(1 << 20)
        .max_message(4096)
        .create_sender(name)
        .unwrap()
}

fn open_receiver(name: &str) -> Receiver {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Receiver::open(name) {
            Ok(rx) => return rx,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("{name}: {e}"),
        }
    }
}
