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
use memlink::channel::{ChannelOptions, WaitStrategy};

use crate::channel::capacity_for;
use crate::process::unique_name;
use crate::Result;

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
}

/// Runs the loop and prints the messages and the time taken.
pub(crate) fn run(args: &HotpathArgs) -> Result<()> {
    let name = unique_name("hotpath");
    let mut options = ChannelOptions::new();
    options
        .capacity(capacity_for(args.size))
        .max_message(args.size.max(8) as u32)
        .wait(WaitStrategy::Spin);
    let mut tx = options.create_sender(&name)?;
    let mut rx = options.open_receiver(&name)?;
    let msg = vec![1u8; args.size];
    let mut buf = Vec::with_capacity(args.size);
    let mut stamp = [0u8; 8];
    let start = std::time::Instant::now();
    for i in 0..args.iterations {
        if args.zero_copy {
            let mut loan = tx.loan(args.size)?;
            loan.write_at(0, &i.to_le_bytes())?;
            loan.commit();
            let message = rx.recv_borrow()?;
            message.read_at(0, &mut stamp)?;
        } else {
            tx.send(&msg)?;
            rx.recv_into(&mut buf)?;
        }
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
