//! `memlink-bench hotpath`: sends and receives on one channel in one
//! process, with no peer and no waiting, so that an instruction counter
//! (`valgrind --tool=callgrind`) sees the send/receive path alone:
//!
//! ```text
//! valgrind --tool=callgrind memlink-bench hotpath --size 64 --iterations 100000
//! ```
//!
//! Running it twice with different `--iterations` and subtracting gives the
//! instructions per message without the setup.

use clap::Args;
use memlink::channel::{ChannelOptions, Receiver, Sender, WaitStrategy};

use crate::channel::capacity_for;
use crate::error::Result;
use crate::harness::in_process_rate;
use crate::harness::Ctx;
use crate::process::unique_name;
use crate::stats::Throughput;

/// Arguments of the hidden `hotpath` subcommand.
#[derive(Debug, Args)]
pub(crate) struct HotpathArgs {
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Messages to send and receive.
    #[arg(long, default_value_t = 100_000)]
    iterations: u64,
    /// Use `loan`/`recv_borrow` instead of `send`/`recv_into`.
    #[arg(long)]
    zero_copy: bool,
    /// Zero-copy without writing or reading the stamp.
    #[arg(long)]
    no_touch: bool,
}

/// A channel with both ends in this process.
struct Loopback {
    tx: Sender,
    rx: Receiver,
    msg: Vec<u8>,
    buf: Vec<u8>,
}

impl Loopback {
    fn new(size: usize) -> Result<Loopback> {
        let name = unique_name("hotpath");
        let mut options = ChannelOptions::new();
        options
            .capacity(capacity_for(size))
            .max_message(size.max(8) as u32)
            .wait(WaitStrategy::Spin);
        let tx = options.create_sender(&name)?;
        let rx = options.open_receiver(&name)?;
        Ok(Loopback {
            tx,
            rx,
            msg: vec![1u8; size],
            buf: Vec::with_capacity(size),
        })
    }

    /// Sends message `i` and receives it back.
    fn step(&mut self, i: u64, zero_copy: bool, touch: bool) -> Result<()> {
        if zero_copy {
            let mut loan = self.tx.loan(self.msg.len())?;
            if touch {
                loan.write_at(0, &i.to_le_bytes())?;
            }
            loan.commit();
            let message = self.rx.recv_borrow()?;
            if touch {
                let mut stamp = [0u8; 8];
                message.read_at(0, &mut stamp)?;
            }
        } else {
            self.tx.send(&self.msg)?;
            self.rx.recv_into(&mut self.buf)?;
        }
        Ok(())
    }
}

/// The rate of send + receive pairs in one process (for the report): the
/// CPU cost of the channel's code and copies, without any cross-core
/// traffic or waiting.
pub(crate) fn rate(ctx: &Ctx, size: usize, zero_copy: bool) -> Result<Throughput> {
    let mut lb = Loopback::new(size)?;
    let mut i = 0u64;
    let mut result = Ok(());
    let t = in_process_rate(ctx, size, || {
        if result.is_ok() {
            result = lb.step(i, zero_copy, true);
        }
        i += 1;
    })?;
    result.map(|()| t)
}

/// Runs the loop and prints the messages and the time taken.
pub(crate) fn run(args: &HotpathArgs) -> Result<()> {
    let mut lb = Loopback::new(args.size)?;
    let start = std::time::Instant::now();
    for i in 0..args.iterations {
        lb.step(i, args.zero_copy, !args.no_touch)?;
    }
    let elapsed = start.elapsed();
    println!(
        "{} messages of {} B ({}): {:.1} ns per send+receive, in one process",
        args.iterations,
        args.size,
        if args.zero_copy { "zero-copy" } else { "copy" },
        elapsed.as_nanos() as f64 / args.iterations.max(1) as f64
    );
    Ok(())
}
