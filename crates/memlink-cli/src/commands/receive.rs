//! `memlink connect` and `memlink recv`: the receiving side of a channel.
//!
//! `connect` is the article's client: it opens a channel someone serves and
//! prints (or counts) everything until the sender goes away. `recv` takes a
//! given number of messages and exits; it creates the channel when it does
//! not exist yet, so that it can be started before `memlink send`.

use std::io::Write;
use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Receiver};
use memlink::Error;
use serde::Serialize;

use crate::commands::channel::{self, channel_error, timed_out, Shape};
use crate::commands::trust::Trust;
use crate::duration;
use crate::error::{CliResult, Failure};
use crate::output;
use crate::progress::Progress;

/// How received messages are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Each message's bytes, then a newline.
    Lines,
    /// One JSON object per line (see [`MessageJson`]).
    Json,
}

/// `memlink connect`: receives until the sender disconnects.
pub fn connect(
    name: &str,
    count_only: bool,
    timeout: Option<Duration>,
    format: Format,
    trust: Trust,
    out: &mut dyn Write,
) -> CliResult {
    let mut rx = trust
        .open(
            |foreign| {
                ChannelOptions::new()
                    .allow_foreign_owner(foreign)
                    .open_receiver(name)
            },
            Receiver::owner,
        )
        .map_err(|e| match e {
            Error::NotFound { name: full } => Failure::msg(format!(
                "channel {full} does not exist (start the server first: memlink serve {name})"
            )),
            e => channel_error(e, timeout, "opening the channel"),
        })?
        .or_refuse(name)?;
    let mut stats = Stats::default();
    let mut buf = Vec::new();
    let mut progress = Progress::new(rx.name(), None, !count_only);
    loop {
        match receive(&mut rx, &mut buf, timeout) {
            Ok(missed) => {
                stats.add(buf.len());
                progress.inc();
                if !count_only {
                    show(out, format, stats.messages - 1, &buf, missed)?;
                }
            }
            // The server sent everything and left: the normal end.
            Err(Error::Disconnected { .. }) => break,
            Err(Error::Timeout { name, after, .. }) => {
                let what = format!(
                    "waiting for a message on {name} ({} received)",
                    stats.messages
                );
                return Err(timed_out(timeout.unwrap_or(after), &what));
            }
            Err(err) => return Err(err.into()),
        }
    }
    progress.finish();
    if count_only {
        stats.write(out, format, rx.name())?;
    }
    Ok(())
}

/// `memlink recv`: receives `count` messages, creating the channel with
/// `shape` when it does not exist.
///
/// Unlike `connect`, a sender that leaves does not end `recv`: each `memlink
/// send` is a process of its own, and the next one may be about to attach.
/// Only the count or the timeout ends it.
pub fn recv(
    name: &str,
    count: u64,
    timeout: Option<Duration>,
    format: Format,
    shape: &Shape,
    trust: Trust,
    out: &mut dyn Write,
) -> CliResult {
    let mut rx = open_or_create(name, shape, trust, timeout)?;
    let mut buf = Vec::new();
    for seq in 0..count {
        match receive_across_senders(&mut rx, &mut buf, timeout) {
            Ok(missed) => show(out, format, seq, &buf, missed)?,
            Err(Error::Timeout { name, after, .. }) => {
                let what = format!("waiting for a message on {name} ({seq} of {count} received)");
                return Err(timed_out(timeout.unwrap_or(after), &what));
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// Like [`receive`], but when no sender is attached (the last one left), it
/// keeps waiting for the next one instead of reporting `Disconnected`.
///
/// Between senders it sleeps in the kernel until the next one attaches
/// (`Receiver::wait_for_sender`).
fn receive_across_senders(
    rx: &mut Receiver,
    buf: &mut Vec<u8>,
    timeout: Option<Duration>,
) -> memlink::Result<u64> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match receive(rx, buf, left) {
            Err(Error::Disconnected { .. }) => {
                if rx.wait_for_sender(left.unwrap_or(Duration::MAX)).is_err() {
                    return Err(Error::Timeout {
                        name: rx.name().to_owned(),
                        operation: "receive",
                        after: timeout.unwrap_or_default(),
                    });
                }
            }
            other => return other,
        }
    }
}

/// Opens `name` as a receiver, or creates it when it does not exist. Two
/// `recv`s racing to create it are fine: the loser opens the winner's.
fn open_or_create(
    name: &str,
    shape: &Shape,
    trust: Trust,
    timeout: Option<Duration>,
) -> CliResult<Receiver> {
    let wrap = |e| channel_error(e, timeout, "opening the channel");
    let open = || {
        trust.open(
            |foreign| {
                ChannelOptions::new()
                    .allow_foreign_owner(foreign)
                    .open_receiver(name)
            },
            Receiver::owner,
        )
    };
    match open() {
        Err(Error::NotFound { .. }) => {}
        other => return other.map_err(wrap)?.or_refuse(name),
    }
    match shape.resolve(0)?.options().create_receiver(name) {
        Err(Error::AlreadyExists { .. }) => open().map_err(wrap)?.or_refuse(name),
        other => other.map_err(wrap),
    }
}

/// Receives one message into `buf`, waiting at most `timeout` (forever with
/// `None`); returns how many messages were lost before it (lossy broadcast
/// channels only).
fn receive(
    rx: &mut Receiver,
    buf: &mut Vec<u8>,
    timeout: Option<Duration>,
) -> memlink::Result<u64> {
    match timeout {
        Some(timeout) => rx.recv_timeout(buf, timeout)?,
        None => rx.recv_into(buf)?,
    };
    Ok(rx.take_missed())
}

/// One received message as `--json` prints it: one object per line.
#[derive(Debug, Serialize)]
pub struct MessageJson<'a> {
    /// The message's position among those this command received, from 0.
    pub seq: u64,
    /// Its length in bytes.
    pub len: usize,
    /// `utf8` when `data` is the message as text, `base64` when the message
    /// is not valid UTF-8 and `data` is its standard base64 encoding.
    pub encoding: &'static str,
    /// The message.
    pub data: std::borrow::Cow<'a, str>,
    /// Messages lost just before this one (lossy broadcast channels); absent
    /// when none were.
    #[serde(skip_serializing_if = "is_zero")]
    pub missed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<'a> MessageJson<'a> {
    /// Describes `message`, received as number `seq`.
    pub fn new(seq: u64, message: &'a [u8], missed: u64) -> Self {
        let (encoding, data) = match std::str::from_utf8(message) {
            Ok(text) => ("utf8", text.into()),
            Err(_) => ("base64", output::base64(message).into()),
        };
        MessageJson {
            seq,
            len: message.len(),
            encoding,
            data,
            missed,
        }
    }
}

/// Prints one message in `format`.
fn show(
    out: &mut dyn Write,
    format: Format,
    seq: u64,
    message: &[u8],
    missed: u64,
) -> std::io::Result<()> {
    match format {
        Format::Lines => {
            if missed > 0 {
                eprintln!("memlink: {missed} messages were overwritten before they could be read");
            }
            out.write_all(message)?;
            out.write_all(b"\n")
        }
        Format::Json => {
            serde_json::to_writer(&mut *out, &MessageJson::new(seq, message, missed))?;
            out.write_all(b"\n")
        }
    }
}

/// What `connect --count` counts.
#[derive(Debug, Default)]
struct Stats {
    messages: u64,
    bytes: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// `connect --count --json`: the summary as one object.
#[derive(Debug, Serialize)]
struct StatsJson {
    messages: u64,
    bytes: u64,
    /// From the first message received to the last.
    seconds: f64,
    messages_per_second: Option<f64>,
    megabytes_per_second: Option<f64>,
}

impl Stats {
    fn add(&mut self, len: usize) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.messages += 1;
        self.bytes += len as u64;
    }

    fn elapsed(&self) -> Duration {
        match (self.first, self.last) {
            (Some(first), Some(last)) => last - first,
            _ => Duration::ZERO,
        }
    }

    fn write(&self, out: &mut dyn Write, format: Format, name: &str) -> std::io::Result<()> {
        let elapsed = self.elapsed();
        match format {
            Format::Json => {
                let secs = elapsed.as_secs_f64();
                let per_second = |n: u64| (secs > 0.0).then(|| n as f64 / secs);
                let summary = StatsJson {
                    messages: self.messages,
                    bytes: self.bytes,
                    seconds: secs,
                    messages_per_second: per_second(self.messages),
                    megabytes_per_second: per_second(self.bytes).map(|b| b / 1e6),
                };
                serde_json::to_writer(&mut *out, &summary)?;
                writeln!(out)
            }
            Format::Lines => {
                let plural = if self.messages == 1 { "" } else { "s" };
                write!(
                    out,
                    "received {} message{plural} ({} bytes) from {name}",
                    self.messages, self.bytes
                )?;
                if let Some(rate) = channel::rate(self.messages, self.bytes, elapsed) {
                    write!(out, " in {}: {rate}", duration::human(elapsed))?;
                }
                writeln!(out, "; the sender disconnected")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(seq: u64, message: &[u8], missed: u64) -> String {
        serde_json::to_string(&MessageJson::new(seq, message, missed)).unwrap()
    }

    #[test]
    fn json_messages_are_text_or_base64() {
        assert_eq!(
            json(0, b"hello", 0),
            r#"{"seq":0,"len":5,"encoding":"utf8","data":"hello"}"#
        );
        assert_eq!(
            json(3, b"\xff\x00a", 2),
            r#"{"seq":3,"len":3,"encoding":"base64","data":"/wBh","missed":2}"#
        );
        assert_eq!(
            json(1, b"", 0),
            r#"{"seq":1,"len":0,"encoding":"utf8","data":""}"#
        );
    }
}
