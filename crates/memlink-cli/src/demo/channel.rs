//! `memlink demo`, part two: the article's server and client over channels.
//!
//! This process (the server) creates two one-to-one channels, `…-requests`
//! (server to client) and `…-replies` (client to server), and starts
//! `memlink demo-channel-client REQUESTS REPLIES`. Then, in turn: ten
//! narrated messages that the client prints as it wakes for each; round
//! trips (a request out, the same bytes back) timed one by one; and a
//! one-way stream of small messages, timed as a whole. Finally the server
//! closes its sender; the client reads what is left, sees the disconnection
//! and exits; both channels are then gone.
//!
//! Every message starts with a tag byte saying what the client does with it:
//!
//! | tag | on       | rest                | the client                                          |
//! |-----|----------|---------------------|-----------------------------------------------------|
//! | `H` | replies  | text                | (sends it once, when both channels are open)        |
//! | `T` | requests | text                | prints it, counts it                                |
//! | `P` | requests | anything            | sends the same bytes back on replies                |
//! | `D` | requests | `u64` sequence, pad | checks the sequence (0, 1, 2, ...), counts it       |
//! | `Q` | requests | —                   | replies `Q<messages> <bytes>` counted since the last `Q` |
//!
//! Every wait has a deadline; a client that dies is noticed within the
//! library's liveness bound (the server's receive returns `Disconnected`) or
//! at the next check of the process.

use std::io::Write;
use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Kind, Receiver, Sender};
use memlink::{Error, Mapping};

use super::{unique_name, ClientProcess, STEP_DEADLINE};
use crate::commands::channel::rate;
use crate::duration::human;
use crate::error::{CliResult, Failure};

/// Messages narrated one by one.
const NARRATED: u32 = 10;
/// The size of the timed messages, tag included.
const MESSAGE_SIZE: usize = 64;
/// Round trips not counted: the first ones pay for page faults and caches.
const WARM_UP: usize = 100;
/// Round trips timed, at most...
const ROUND_TRIPS: usize = 10_000;
/// ...and for at most this long, so a slow machine still finishes quickly.
const ROUND_TRIP_BUDGET: Duration = Duration::from_millis(1000);
/// Messages streamed one way, at most...
const STREAM: u64 = 100_000;
/// ...and for at most this long.
const STREAM_BUDGET: Duration = Duration::from_millis(1500);
/// How long one receive waits before the server looks at the client process.
const LOOK_AT_CLIENT: Duration = Duration::from_millis(50);
/// The channels' ring size.
const CAPACITY: u64 = 64 * 1024;

/// The server's two endpoints and the client process.
struct Server {
    me: String,
    requests: Sender,
    replies: Receiver,
    client: ClientProcess,
    reply: Vec<u8>,
}

impl Server {
    fn send(&mut self, message: &[u8]) -> CliResult {
        self.requests
            .send_timeout(message, STEP_DEADLINE)
            .map_err(|e| self.client_trouble(e, "sending"))
    }

    /// Waits for the client's next reply, into `self.reply`.
    fn wait_reply(&mut self, what: &str) -> CliResult {
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            match self.replies.recv_timeout(&mut self.reply, LOOK_AT_CLIENT) {
                Ok(_) => return Ok(()),
                Err(Error::Timeout { .. }) if Instant::now() < deadline => {
                    self.client.check_running(&format!("sending {what}"))?;
                }
                Err(err) => return Err(self.client_trouble(err, &format!("waiting for {what}"))),
            }
        }
    }

    /// Asks the client how many messages it counted since the last ask.
    fn query(&mut self) -> CliResult<(u64, u64)> {
        self.send(b"Q")?;
        self.wait_reply("the client's count")?;
        let text = String::from_utf8_lossy(&self.reply);
        text.strip_prefix('Q')
            .and_then(|rest| rest.split_once(' '))
            .and_then(|(n, bytes)| Some((n.parse().ok()?, bytes.parse().ok()?)))
            .ok_or_else(|| Failure::msg(format!("demo: the client answered {text:?} to a count")))
    }

    fn client_trouble(&mut self, err: Error, doing: &str) -> Failure {
        // A client that failed has printed why; say so rather than only
        // "disconnected".
        if let Err(exited) = self.client.check_running(doing) {
            return exited;
        }
        Failure::msg(format!("demo: {doing}: {err}"))
    }

    fn say(&self, out: &mut dyn Write, text: &str) -> CliResult {
        writeln!(out, "{} {text}", self.me)?;
        out.flush()?;
        Ok(())
    }
}

/// The server side.
pub fn run(out: &mut dyn Write) -> CliResult {
    let pid = std::process::id();
    let me = format!("[server, pid {pid}]");
    let base = unique_name(pid);
    let requests_name = format!("{base}-requests");
    let replies_name = format!("{base}-replies");

    let mut options = ChannelOptions::new();
    options
        .kind(Kind::OneToOne)
        .capacity(CAPACITY)
        .max_message(4096);
    let requests = options.create_sender(&requests_name)?;
    let replies = options.create_receiver(&replies_name)?;
    writeln!(
        out,
        "{me} created two one-to-one channels with 64 KiB rings: {requests_name} \
         (server to client) and {replies_name} (client to server)"
    )?;
    writeln!(
        out,
        "{me} starting a third process: memlink demo-channel-client {requests_name} {replies_name}"
    )?;
    out.flush()?;
    let client = ClientProcess::spawn(&["demo-channel-client", &requests_name, &replies_name])?;
    let mut server = Server {
        me,
        requests,
        replies,
        client,
        reply: Vec::new(),
    };

    server.wait_reply("its hello")?;
    let hello = String::from_utf8_lossy(server.reply.strip_prefix(b"H").unwrap_or_default());
    server.say(out, &format!("the client is connected: {hello:?}"))?;

    // 1. The article's "data is ready", ten times: the client is asleep in
    // `recv` and wakes for each message.
    server.say(
        out,
        &format!("sending {NARRATED} messages on {requests_name}, one by one"),
    )?;
    for i in 1..=NARRATED {
        server.send(format!("Tmessage {i} of {NARRATED}: data is ready").as_bytes())?;
    }
    let (count, bytes) = server.query()?;
    if count != u64::from(NARRATED) {
        return Err(Failure::msg(format!(
            "demo: the client counted {count} messages, not {NARRATED}"
        )));
    }
    server.say(
        out,
        &format!("the client confirms {count} messages ({bytes} bytes)"),
    )?;

    // 2. Latency: one request out, the same bytes back, timed one by one.
    server.say(
        out,
        &format!(
            "timing round trips: {MESSAGE_SIZE} bytes to the client, the same {MESSAGE_SIZE} back"
        ),
    )?;
    let mut ping = [b'.'; MESSAGE_SIZE];
    ping[0] = b'P';
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    let started = Instant::now();
    for i in 0..WARM_UP + ROUND_TRIPS {
        ping[1..9].copy_from_slice(&(i as u64).to_le_bytes());
        let sent = Instant::now();
        server.send(&ping)?;
        server.wait_reply("an echo")?;
        let round_trip = sent.elapsed();
        if server.reply != ping {
            return Err(Failure::msg("demo: an echo came back different"));
        }
        if i >= WARM_UP {
            samples.push(round_trip);
        }
        if started.elapsed() >= ROUND_TRIP_BUDGET && samples.len() >= 100 {
            break;
        }
    }
    samples.sort_unstable();
    let (p50, p99) = (percentile(&samples, 50), percentile(&samples, 99));
    server.say(
        out,
        &format!(
            "{} round trips: p50 {}, p99 {}",
            samples.len(),
            human(p50),
            human(p99)
        ),
    )?;

    // 3. Throughput: a stream one way, as fast as the client takes it; the
    // ring's back-pressure paces the server.
    server.say(
        out,
        &format!("streaming up to {STREAM} messages of {MESSAGE_SIZE} bytes to the client"),
    )?;
    let mut data = [b'.'; MESSAGE_SIZE];
    data[0] = b'D';
    let started = Instant::now();
    let mut streamed = 0u64;
    while streamed < STREAM {
        data[1..9].copy_from_slice(&streamed.to_le_bytes());
        server.send(&data)?;
        streamed += 1;
        if streamed.is_multiple_of(1024) && started.elapsed() >= STREAM_BUDGET {
            break;
        }
    }
    let (count, bytes) = server.query()?;
    let elapsed = started.elapsed();
    if (count, bytes) != (streamed, streamed * MESSAGE_SIZE as u64) {
        return Err(Failure::msg(format!(
            "demo: the client counted {count} messages and {bytes} bytes, not {streamed} and {}",
            streamed * MESSAGE_SIZE as u64
        )));
    }
    server.say(
        out,
        &format!(
            "the client received all {count} ({bytes} bytes) in order, in {}",
            human(elapsed)
        ),
    )?;

    // The end: closing our sender is how the client learns we are done.
    server.say(
        out,
        &format!("closing {requests_name}; the client will see that once it has read everything"),
    )?;
    let Server {
        me,
        requests,
        replies,
        mut client,
        ..
    } = server;
    drop(requests);
    client.finish()?;
    drop(replies);
    for name in [&requests_name, &replies_name] {
        match Mapping::open(name) {
            Err(Error::NotFound { .. }) => {}
            Ok(_) => {
                return Err(Failure::msg(format!(
                    "demo: {name} still exists after both processes let go"
                )))
            }
            Err(err) => return Err(err.into()),
        }
    }
    writeln!(
        out,
        "{me} done: both channels ended with their last endpoint, nothing to clean up"
    )?;

    writeln!(out)?;
    let build = if cfg!(debug_assertions) {
        " (a debug build: a release build is faster)"
    } else {
        ""
    };
    writeln!(out, "summary{build}:")?;
    writeln!(
        out,
        "  round trip, {MESSAGE_SIZE} B each way ({} samples): p50 {}, p99 {}",
        samples.len(),
        human(p50),
        human(p99)
    )?;
    writeln!(
        out,
        "  one way, {streamed} messages of {MESSAGE_SIZE} B: {}",
        rate(streamed, streamed * MESSAGE_SIZE as u64, elapsed)
            .unwrap_or_else(|| "too fast to time".to_owned())
    )?;
    Ok(())
}

/// The nearest-rank percentile `p` of sorted samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// The client side: `memlink demo-channel-client REQUESTS REPLIES`.
pub fn run_client(requests: &str, replies: &str, out: &mut dyn Write) -> CliResult {
    let pid = std::process::id();
    let me = format!("  [client, pid {pid}]");
    let mut rx = Receiver::open(requests)?;
    let mut tx = Sender::open(replies)?;
    writeln!(
        out,
        "{me} opened {requests} to receive and {replies} to reply"
    )?;
    out.flush()?;
    tx.send_timeout(
        format!("Hhello from the client, pid {pid}").as_bytes(),
        STEP_DEADLINE,
    )?;

    let (mut count, mut bytes, mut next_data) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        match rx.recv_timeout(&mut buf, STEP_DEADLINE) {
            Ok(_) => {}
            Err(Error::Disconnected { .. }) => break,
            Err(err) => return Err(err.into()),
        }
        match buf.first() {
            Some(b'T') => {
                writeln!(
                    out,
                    "{me} received {:?}",
                    String::from_utf8_lossy(&buf[1..])
                )?;
                out.flush()?;
            }
            Some(b'P') => {
                tx.send_timeout(&buf, STEP_DEADLINE)?;
                continue;
            }
            Some(b'D') => {
                let seq = buf
                    .get(1..9)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes);
                if seq != Some(next_data) {
                    return Err(Failure::msg(format!(
                        "demo client: expected message {next_data}, got {seq:?}"
                    )));
                }
                next_data += 1;
            }
            Some(b'Q') => {
                tx.send_timeout(format!("Q{count} {bytes}").as_bytes(), STEP_DEADLINE)?;
                (count, bytes) = (0, 0);
                continue;
            }
            _ => {
                return Err(Failure::msg(format!(
                    "demo client: unexpected message {:?}",
                    String::from_utf8_lossy(&buf)
                )))
            }
        }
        count += 1;
        bytes += buf.len() as u64;
    }
    writeln!(
        out,
        "{me} {requests} is disconnected: the server has gone and everything it sent was read; exiting"
    )?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&samples, 50), Duration::from_micros(50));
        assert_eq!(percentile(&samples, 99), Duration::from_micros(99));
        assert_eq!(percentile(&samples[..1], 99), Duration::from_micros(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }
}
