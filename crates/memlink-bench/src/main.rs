//! `memlink-bench`: memlink channels measured between two processes, beside
//! the limits of the machine (a raw cache-line ping-pong, a futex ping-pong,
//! memcpy) and the OS's own IPC (Unix sockets, pipes), all in one run, so
//! that the ratios compare like with like.
//!
//! ```text
//! memlink-bench            # the full run (a few minutes)
//! memlink-bench --quick    # under a minute
//! memlink-bench --json     # machine-readable results on stdout
//! memlink-bench --filter spin
//! ```
//!
//! The program re-executes itself as the other process (`memlink-bench peer
//! ...`, hidden), pins the two to separate cores when it can, and prints a
//! table, a latency histogram of the headline case, and the targets of the
//! benchmark issue as PASS/FAIL lines. Figures are reported, never asserted;
//! a case that fails is reported (`FAILED`, or `"kind": "error"` in JSON)
//! with the others, and makes the exit status non-zero.
#![deny(unsafe_code)]

mod analysis;
mod baselines;
mod budget;
mod cases;
mod channel;
mod error;
mod harness;
mod hotpath;
#[cfg(feature = "iceoryx2")]
mod iceoryx2;
mod peer;
mod pin;
mod process;
mod progress;
mod raw;
mod rawcopy;
mod report;
mod stats;
mod waitset;
mod watchcost;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use budget::Budget;

/// Benchmarks memlink channels between two processes against the hardware
/// and OS baselines, measured in the same run.
#[derive(Debug, Parser)]
#[command(name = "memlink-bench", version)]
struct Args {
    /// A short run (under a minute): shorter measurements, one repetition.
    #[arg(long)]
    quick: bool,
    /// A tiny run that only checks that every case works (seconds; figures
    /// meaningless).
    #[arg(long, conflicts_with = "quick")]
    smoke: bool,
    /// Print the results as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Run only the cases whose key or title contains this text (case
    /// insensitive). A case's paired baseline still runs for its ratio.
    #[arg(long, value_name = "SUBSTR")]
    filter: Option<String>,
    /// Measure each case this many times and report the median run
    /// (default: 3 for a full run, 1 with --quick or --smoke).
    #[arg(long, value_name = "N")]
    repeat: Option<u32>,
    /// Do not pin the processes to cores.
    #[arg(long)]
    no_pin: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The other process of a two-process case (started by the benchmark).
    #[command(hide = true)]
    Peer(peer::PeerArgs),
    /// Sends and receives in one process with no peer, for instruction
    /// counts of the hot path under `valgrind --tool=callgrind`.
    #[command(hide = true)]
    Hotpath(hotpath::HotpathArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Some(Command::Peer(peer)) => peer::run(&peer),
        Some(Command::Hotpath(hot)) => hotpath::run(&hot),
        None => {
            let budget = if args.smoke {
                Budget::smoke()
            } else if args.quick {
                Budget::quick()
            } else {
                Budget::full()
            };
            let budget = match args.repeat {
                Some(n) => budget.with_repeat(n.max(1)),
                None => budget,
            };
            let plan = cases::Plan {
                budget,
                filter: args.filter.map(|f| f.to_lowercase()),
                pin: !args.no_pin,
            };
            cases::run_all(&plan).and_then(|report| {
                // The whole report first, failed cases included; then a
                // failed case fails the run.
                if args.json {
                    report::print_json(&report)?;
                } else {
                    report::print_table(&report);
                }
                match report.failed().as_slice() {
                    [] => Ok(()),
                    failed => {
                        Err(
                            format!("{} case(s) failed: {}", failed.len(), failed.join(", "))
                                .into(),
                        )
                    }
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memlink-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
