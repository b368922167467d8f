//! `memlink serve` and `memlink send`: the sending side of a channel.
//!
//! `serve` is the article's server: it creates the channel, waits for a
//! receiver, sends, and exits. Whatever the receiver has not read yet when
//! `serve` exits is not lost: the receiver holds the channel too, so the
//! channel (and its ring) lives on until the receiver has read everything
//! and let go; it then sees the disconnection. That is why `serve` waits for
//! a receiver *before* it sends, and need not wait *after*: by then someone
//! holds the channel who will drain it.
//!
//! `send` is the one-shot tool: it opens an existing channel (made by
//! `memlink recv`, `serve --kind many-to-one` or a program), sends, exits.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Sender};

use crate::commands::channel::{self, channel_error, timed_out, Shape};
use crate::commands::trust::Trust;
use crate::duration;
use crate::error::{CliResult, Failure};
use crate::output;
use crate::progress::Progress;

/// What `serve` sends.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// Standard input, one message per line.
    Lines,
    /// `count` generated messages of `size` bytes each.
    Generated { count: u64, size: u64 },
}

/// `memlink serve`: creates `name`, waits for a receiver (at most `timeout`),
/// sends, reports.
pub fn serve(
    name: &str,
    source: Source,
    shape: &Shape,
    timeout: Option<Duration>,
    json: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> CliResult {
    let largest = match source {
        Source::Lines => 0,
        Source::Generated { size, .. } => size,
    };
    let resolved = shape.resolve(largest)?;
    let mut tx = resolved
        .options()
        .create_sender(name)
        .map_err(|e| channel_error(e, timeout, "creating the channel"))?;
    let name = tx.name().to_owned();
    if !json {
        writeln!(
            out,
            "serving {name} ({}); waiting for a receiver (memlink connect {name})",
            resolved.describe()
        )?;
        out.flush()?;
    }
    wait_for_receiver(&tx, timeout)?;
    if !json {
        writeln!(out, "a receiver connected to {name}")?;
        out.flush()?;
    }

    let mut sending = Sending::new(&mut tx, timeout);
    match source {
        Source::Lines => channel::for_each_line(input, |line| sending.send(line))?,
        Source::Generated { count, size } => {
            let size = usize::try_from(size).map_err(|_| Failure::msg("--size is too large"))?;
            sending.total = Some(count);
            let mut message = Vec::with_capacity(size);
            for i in 1..=count {
                generated(i, size, &mut message);
                sending.send(&message)?;
            }
        }
    }
    let report = sending.report();
    let summary = sending.summary(&name);
    let receiver = if tx.is_connected() {
        // Exiting at once would be safe (the receiver holds the channel too),
        // but waiting lets us say that everything arrived.
        match tx.wait_drained(timeout.unwrap_or(DRAIN_WAIT)) {
            Ok(()) => "read everything",
            Err(_) => "reads the rest",
        }
    } else {
        // Gone already: done and left (`recv --count`), or killed. The
        // library does not say how far it read, so neither can we.
        "left"
    };
    if json {
        let mut summary = summary;
        summary["receiver"] = receiver.into();
        output::write_json(out, &summary)?;
        return Ok(());
    }
    match receiver {
        "read everything" => writeln!(out, "sent {report}; the receiver has read everything")?,
        "reads the rest" => writeln!(out, "sent {report}; exiting, the receiver reads the rest")?,
        _ => writeln!(
            out,
            "sent {report}; the receiver has already left (whether it read everything \
             is not known)"
        )?,
    }
    Ok(())
}

/// How long `serve` waits, at most, for its receiver to read everything.
const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// `memlink send`: opens `name` as a sender and sends `messages`, or the
/// lines of standard input when there are none.
pub fn send(
    name: &str,
    messages: &[OsString],
    timeout: Option<Duration>,
    trust: Trust,
    json: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> CliResult {
    let mut tx = trust
        .open(
            |foreign| {
                ChannelOptions::new()
                    .allow_foreign_owner(foreign)
                    .open_sender(name)
            },
            Sender::owner,
        )
        .map_err(|e| channel_error(e, timeout, "opening the channel"))?
        .or_refuse(name)?;
    let name = tx.name().to_owned();
    let mut sending = Sending::new(&mut tx, timeout);
    if messages.is_empty() {
        channel::for_each_line(input, |line| sending.send(line))?;
    } else {
        for message in messages {
            // On Unix these are exactly the bytes of the argument.
            sending.send(message.as_encoded_bytes())?;
        }
    }
    let report = sending.report();
    let mut summary = sending.summary(&name);
    let connected = tx.is_connected();
    if json {
        summary["receiver_attached"] = connected.into();
        output::write_json(out, &summary)?;
        return Ok(());
    }
    let alone = if connected {
        ""
    } else {
        " (no receiver is attached now)"
    };
    writeln!(out, "sent {report} to {name}{alone}")?;
    Ok(())
}

/// Waits (in the kernel, woken when one attaches) until a receiver is
/// attached.
fn wait_for_receiver(tx: &Sender, timeout: Option<Duration>) -> CliResult {
    tx.wait_for_receiver(timeout.unwrap_or(Duration::MAX))
        .map_err(|_| {
            timed_out(
                timeout.unwrap_or_default(),
                &format!("waiting for a receiver to connect to {}", tx.name()),
            )
        })
}

/// The `i`-th generated message, `size` bytes: `message 7` padded with dots
/// (or cut short), so that a receiver printing them shows something legible.
fn generated(i: u64, size: usize, buf: &mut Vec<u8>) {
    buf.clear();
    let _ = write!(buf, "message {i}");
    buf.resize(size, b'.');
}

/// Counts what one command sends, with each send's wait bounded by the
/// timeout.
struct Sending<'a> {
    tx: &'a mut Sender,
    timeout: Option<Duration>,
    /// How many messages there are to send, when known.
    total: Option<u64>,
    progress: Option<Progress>,
    messages: u64,
    bytes: u64,
    first: Option<Instant>,
}

impl<'a> Sending<'a> {
    fn new(tx: &'a mut Sender, timeout: Option<Duration>) -> Self {
        Sending {
            tx,
            timeout,
            total: None,
            progress: None,
            messages: 0,
            bytes: 0,
            first: None,
        }
    }

    fn send(&mut self, message: &[u8]) -> CliResult {
        self.first.get_or_insert_with(Instant::now);
        let result = match self.timeout {
            Some(timeout) => self.tx.send_timeout(message, timeout),
            None => self.tx.send(message),
        };
        result.map_err(|err| match err {
            // Say how far it got: the receiver has what was sent before.
            err @ memlink::Error::Disconnected { .. } => {
                let of = self.total.map(|t| format!(" of {t}")).unwrap_or_default();
                Failure::msg(format!("{err} ({}{of} messages sent)", self.messages))
            }
            err => channel_error(err, self.timeout, "waiting for room to send"),
        })?;
        self.messages += 1;
        self.bytes += message.len() as u64;
        self.progress
            .get_or_insert_with(|| Progress::new(self.tx.name(), self.total, false))
            .inc();
        Ok(())
    }

    /// What was sent, as JSON: name, messages, bytes, seconds.
    fn summary(&self, name: &str) -> serde_json::Value {
        let seconds = self
            .first
            .map_or(0.0, |first| first.elapsed().as_secs_f64());
        serde_json::json!({
            "name": name,
            "messages": self.messages,
            "bytes": self.bytes,
            "seconds": seconds,
        })
    }

    /// `3 messages (15 bytes)`, with a rate when there were enough to time.
    fn report(&mut self) -> String {
        if let Some(progress) = &mut self.progress {
            progress.finish();
        }
        let plural = if self.messages == 1 { "" } else { "s" };
        let mut text = format!("{} message{plural} ({} bytes)", self.messages, self.bytes);
        if let Some(first) = self.first.filter(|_| self.messages >= 100) {
            let elapsed = first.elapsed();
            if let Some(rate) = channel::rate(self.messages, self.bytes, elapsed) {
                text.push_str(&format!(" in {}: {rate}", duration::human(elapsed)));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_messages_have_the_size_asked_for() {
        let mut buf = Vec::new();
        generated(7, 16, &mut buf);
        assert_eq!(buf, b"message 7.......");
        generated(12345, 4, &mut buf);
        assert_eq!(buf, b"mess");
        generated(1, 0, &mut buf);
        assert!(buf.is_empty());
    }
}
