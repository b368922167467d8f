//! iceoryx2 as a baseline (the `iceoryx2` cargo feature): the same 64-byte
//! one-way latency that `lat.memlink.spin.64B` measures, through iceoryx2's
//! publish-subscribe, so the "memlink vs iceoryx2" comparison of issue 13
//! is made in one run, paired, on the same pinned cores.
//!
//! What it does, side by side with [`crate::channel::pingpong`] in
//! [`Wait::Spin`](crate::channel::Wait::Spin):
//!
//! | step | memlink spin | iceoryx2 |
//! |---|---|---|
//! | transport | two one-to-one channels (there, back) | two publish-subscribe services (there, back), one publisher and one subscriber each |
//! | send | `Sender::send` (copies 64 B into the ring) | `Publisher::loan_uninit` + `write_payload` (64 B into the loaned sample) + `send` |
//! | wait | spin in `recv_into` | busy-poll `Subscriber::receive` (with the CPU's pause hint) |
//! | receive | `recv_into` copies 64 B out | the 64 B are copied out of the borrowed sample, which is then released |
//! | echo side | `recv_into`, then `send` of the same bytes | `receive`, then loan + write the same 64 B + `send` |
//!
//! Both sides run `ipc::Service` (the inter-process flavour), one node per
//! process, signal handling off (the bench owns its processes), history 0,
//! one publisher and one subscriber per service. One-way latency is the
//! round trip / 2, as for every latency case.

use iceoryx2::prelude::*;

use crate::error::Result;
use crate::harness::{read_stamp, spin_until, stamp, Ctx};
use crate::process::unique_name;
use crate::stats::{self, Latency};

/// The message: 64 bytes, as `lat.memlink.spin.64B`.
pub(crate) const SIZE: usize = 64;
type Payload = [u8; SIZE];

/// The stamp that tells the echo side to stop.
const STOP: u64 = u64::MAX;

/// One process's iceoryx2 node: quiet (errors only: it warns that it runs
/// without a config file, which is how the bench means it) and without signal
/// handlers of its own.
fn node() -> Result<Node<ipc::Service>> {
    set_log_level(LogLevel::Error);
    Ok(NodeBuilder::new()
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()?)
}

/// Opens (or creates: whichever side comes first) the 64-byte service
/// `name`.
fn service(
    node: &Node<ipc::Service>,
    name: &str,
) -> Result<
    iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, Payload, ()>,
> {
    Ok(node
        .service_builder(&ServiceName::new(name)?)
        .publish_subscribe::<Payload>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .open_or_create()?)
}

/// Busy-polls `subscriber` for the next sample (up to the harness's peer
/// deadline); its stamp and its bytes.
fn next_stamp(
    subscriber: &iceoryx2::port::subscriber::Subscriber<ipc::Service, Payload, ()>,
) -> Result<(u64, Payload)> {
    let sample = spin_until(|| subscriber.receive().transpose())??;
    let payload = *sample.payload();
    let seq = read_stamp(&payload).unwrap_or(0);
    Ok((seq, payload))
}

/// Sends `payload` by loaning a sample and writing it there.
fn publish(
    publisher: &iceoryx2::port::publisher::Publisher<ipc::Service, Payload, ()>,
    payload: Payload,
) -> Result<()> {
    let sample = publisher.loan_uninit()?;
    sample.write_payload(payload).send()?;
    Ok(())
}

/// Ping-pong over two iceoryx2 services, measuring side. The peer echoes
/// each sample back; one-way latency is round trip / 2.
pub(crate) fn pingpong(ctx: &Ctx) -> Result<Latency> {
    let there = unique_name("ice-ping");
    let back = unique_name("ice-pong");
    let node = node()?;
    let ping = service(&node, &there)?;
    let pong = service(&node, &back)?;
    let publisher = ping.publisher_builder().create()?;
    let subscriber = pong.subscriber_builder().create()?;
    let mut peer = ctx.spawn(&["iceoryx2-echo".into(), there, back], 0)?;
    // The echo side's subscriber must exist before the first sample (history
    // 0: a sample sent to nobody is gone).
    let line = peer.line()?;
    if line != "ready" {
        return Err(format!("the iceoryx2 echo said {line:?}").into());
    }
    let mut msg: Payload = [7; SIZE];
    let mut seq = 0u64;
    let h = stats::round_trips(ctx.budget, || {
        stamp(&mut msg, seq);
        publish(&publisher, msg)?;
        let (got, _) = next_stamp(&subscriber)?;
        if got != seq {
            return Err(format!("sent sample {seq}, sample {got} came back").into());
        }
        seq += 1;
        Ok(())
    })?;
    stamp(&mut msg, STOP);
    publish(&publisher, msg)?;
    peer.finish()?;
    Ok(Latency::from_round_trips(&h))
}

/// Ping-pong, answering side (`memlink-bench peer iceoryx2-echo`): echoes
/// every sample of `input` to `output` until the stop stamp.
pub(crate) fn echo(input: &str, output: &str) -> Result<()> {
    let node = node()?;
    let subscriber = service(&node, input)?.subscriber_builder().create()?;
    let publisher = service(&node, output)?.publisher_builder().create()?;
    println!("ready");
    loop {
        let (seq, payload) = next_stamp(&subscriber)?;
        if seq == STOP {
            return Ok(());
        }
        publish(&publisher, payload)?;
    }
}
