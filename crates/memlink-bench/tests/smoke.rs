//! Keeps the benchmark working without timing anything: every case runs a
//! handful of iterations (`--smoke`) in real separate processes, and the
//! output must have its sections and no failed case. Figures are not looked
//! at: a busy CI machine makes them meaningless.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the benchmark binary with `args`, killing it after `limit`.
fn bench(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_memlink-bench"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("memlink-bench starts");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait works").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("memlink-bench {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output is readable")
}

#[test]
fn smoke_run_prints_every_section_and_no_failure() {
    let out = bench(&["--smoke"], Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for heading in [
        "LATENCY",
        "THROUGHPUT",
        "SETUP",
        "WHAT BOUNDS IT",
        "HISTOGRAM",
        "TARGETS",
        "p50",
        "p99.9",
        "msg/s",
        "GB/s",
        "raw cache-line ping-pong",
        "futex ping-pong",
        "unix socket",
        "pipe",
        "memcpy",
        "memlink spin 64 B",
        "memlink zero-copy 1 MiB",
        "memlink broadcast 64 B to 4 readers",
        "memlink watch (1 Hz) on 16 busy channels",
        "unwatched vs unwatched",
    ] {
        assert!(stdout.contains(heading), "no {heading:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "a case failed:\n{stdout}");
    // Eight targets (nine with the iceoryx2 baseline), each reported with
    // a status (never asserted).
    let targets = stdout
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("PASS") || l.starts_with("FAIL")
        })
        .count();
    let expected = if cfg!(feature = "iceoryx2") { 9 } else { 8 };
    assert_eq!(targets, expected, "targets missing in:\n{stdout}");
}

#[test]
fn json_and_filter() {
    let out = bench(
        &["--smoke", "--json", "--filter", "memlink spin 64 B"],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{results:?}");
    let row = &results[0];
    assert_eq!(row["key"], "lat.memlink.spin.64B");
    assert_eq!(row["outcome"]["kind"], "latency");
    assert!(row["outcome"]["p50"].as_f64().is_some());
    // Paired with the raw ping-pong even though that row is filtered out.
    assert!(row["ratio"].as_f64().is_some(), "{row}");
    assert!(report["placement"]["note"].is_string());
}

#[test]
fn unknown_filter_is_an_error() {
    let out = bench(
        &["--smoke", "--filter", "no such case"],
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no case matches"));
}
