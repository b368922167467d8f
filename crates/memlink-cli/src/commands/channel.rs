//! What the channel commands share: the shape of a channel they create, the
//! CLI's wording of channel errors, standard input as lines, and rates.

use std::io::BufRead;
use std::time::Duration;

use memlink::channel::{ChannelOptions, Kind};
use memlink::Error;

use crate::duration;
use crate::error::{CliResult, Failure};
use crate::size;

/// The channel kinds as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// One sender, one receiver.
    OneToOne,
    /// Several senders, one receiver.
    ManyToOne,
    /// One sender; every receiver gets every message.
    Broadcast,
}

impl KindArg {
    fn kind(self) -> Kind {
        match self {
            KindArg::OneToOne => Kind::OneToOne,
            KindArg::ManyToOne => Kind::ManyToOne,
            KindArg::Broadcast => Kind::Broadcast,
        }
    }

    /// The name the command line uses.
    pub fn word(self) -> &'static str {
        match self {
            KindArg::OneToOne => "one-to-one",
            KindArg::ManyToOne => "many-to-one",
            KindArg::Broadcast => "broadcast",
        }
    }
}

/// The largest message when neither `--max-message` nor a larger `--size`
/// asks for more (the library's default).
const DEFAULT_MAX_MESSAGE: u64 = 4096;
/// The smallest ring the CLI makes by default (the library's default).
const DEFAULT_CAPACITY: u64 = 64 * 1024;

/// The shape of a channel a command creates, as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub kind: KindArg,
    pub capacity: Option<u64>,
    pub max_message: Option<u64>,
    /// Many-to-one: how many senders may attach at once [library default].
    pub max_senders: Option<u32>,
    /// Broadcast: how many receivers may attach at once [library default].
    pub max_receivers: Option<u32>,
    /// Permission bits of a channel this command creates [library default].
    pub mode: Option<u32>,
}

/// A shape resolved to numbers the library accepts (or rejects with its own
/// clear message).
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub kind: KindArg,
    pub capacity: u64,
    pub max_message: u32,
    pub max_senders: Option<u32>,
    pub max_receivers: Option<u32>,
    pub mode: Option<u32>,
}

impl Shape {
    /// Fills in what was not given so that messages of `largest` bytes fit:
    /// the maximum message grows to `largest`, and the ring to at least
    /// twice the largest record (message + 8 bytes, rounded up to 8), as the
    /// library requires.
    pub fn resolve(&self, largest: u64) -> CliResult<Resolved> {
        let max_message = self
            .max_message
            .unwrap_or_else(|| DEFAULT_MAX_MESSAGE.max(largest));
        let max_message = u32::try_from(max_message)
            .ok()
            .filter(|&m| m < u32::MAX)
            .ok_or_else(|| {
                Failure::msg(format!(
                    "a maximum message of {max_message} bytes is too large (at most {} bytes)",
                    u32::MAX - 1
                ))
            })?;
        if u64::from(max_message) < largest {
            return Err(Failure::msg(format!(
                "messages of {largest} bytes do not fit a --max-message of {max_message} bytes"
            )));
        }
        let record = (u64::from(max_message) + 8 + 7) & !7;
        let capacity = self.capacity.unwrap_or_else(|| {
            (2 * record)
                .checked_next_power_of_two()
                .unwrap_or(u64::MAX)
                .max(DEFAULT_CAPACITY)
        });
        Ok(Resolved {
            kind: self.kind,
            capacity,
            max_message,
            max_senders: self.max_senders,
            max_receivers: self.max_receivers,
            mode: self.mode,
        })
    }
}

impl Resolved {
    /// Library options for this shape.
    pub fn options(&self) -> ChannelOptions {
        let mut options = ChannelOptions::new();
        options
            .kind(self.kind.kind())
            .capacity(self.capacity)
            .max_message(self.max_message);
        if let Some(n) = self.max_senders {
            options.max_senders(n);
        }
        if let Some(n) = self.max_receivers {
            options.max_receivers(n);
        }
        if let Some(mode) = self.mode {
            options.mode(mode);
        }
        options
    }

    /// `one-to-one, 64 KiB ring, messages up to 4 KiB`.
    pub fn describe(&self) -> String {
        format!(
            "{}, {} ring, messages up to {}",
            self.kind.word(),
            size::format(self.capacity),
            size::format(u64::from(self.max_message))
        )
    }
}

/// The one-line error for a wait that ran out of time.
pub fn timed_out(after: Duration, what: &str) -> Failure {
    Failure::msg(format!(
        "timed out after {} {what}",
        duration::format(after)
    ))
}

/// Words a library error the way a channel command's user thinks of it: a
/// missing name is a missing channel, a deadline is "timed out" with the
/// duration the user gave rather than the one measured.
pub fn channel_error(err: Error, timeout: Option<Duration>, what: &str) -> Failure {
    match err {
        Error::NotFound { name } => Failure::msg(format!("channel {name} does not exist")),
        Error::AlreadyExists { name } => Failure::msg(format!(
            "{name} already exists (another server, or a mapping of that name)"
        )),
        Error::Timeout { name, after, .. } => {
            timed_out(timeout.unwrap_or(after), &format!("{what} on {name}"))
        }
        other => Failure::Memlink(other),
    }
}

/// Reads standard input line by line, handing each line without its line
/// ending (`\n` or `\r\n`) to `each`. Lines are bytes: they need not be UTF-8.
/// A last line without a newline still counts; an empty input has no lines.
pub fn for_each_line(
    input: &mut dyn BufRead,
    mut each: impl FnMut(&[u8]) -> CliResult,
) -> CliResult {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::io("cannot read standard input", e))?;
        if n == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        each(&line)?;
    }
}

/// `81.3 k msg/s, 5.20 MB/s` (decimal megabytes, as network rates are
/// given); `None` when the time is too short to divide by.
pub fn rate(messages: u64, bytes: u64, elapsed: Duration) -> Option<String> {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 || messages == 0 {
        return None;
    }
    Some(format!(
        "{} msg/s, {} MB/s",
        scaled(messages as f64 / secs),
        duration::three_digits(bytes as f64 / secs / 1e6)
    ))
}

/// `950`, `81.3 k`, `2.41 M`.
fn scaled(value: f64) -> String {
    if value >= 1e6 {
        format!("{} M", duration::three_digits(value / 1e6))
    } else if value >= 1e3 {
        format!("{} k", duration::three_digits(value / 1e3))
    } else {
        duration::three_digits(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(capacity: Option<u64>, max_message: Option<u64>) -> Shape {
        Shape {
            kind: KindArg::OneToOne,
            capacity,
            max_message,
            max_senders: None,
            max_receivers: None,
            mode: None,
        }
    }

    #[test]
    fn defaults_grow_to_fit_the_messages() {
        let r = shape(None, None).resolve(0).unwrap();
        assert_eq!((r.capacity, r.max_message), (64 * 1024, 4096));
        let r = shape(None, None).resolve(100_000).unwrap();
        assert_eq!(r.max_message, 100_000);
        assert_eq!(r.capacity, 256 * 1024);
        assert!(r.capacity >= 2 * (100_000 + 8));
        let r = shape(Some(4096), Some(100)).resolve(64).unwrap();
        assert_eq!((r.capacity, r.max_message), (4096, 100));
        assert_eq!(r.describe(), "one-to-one, 4 KiB ring, messages up to 100 B");
    }

    #[test]
    fn messages_larger_than_the_maximum_are_refused() {
        let err = shape(None, Some(100)).resolve(101).unwrap_err();
        assert!(err.to_string().contains("101 bytes"), "{err}");
        let err = shape(None, Some(1 << 40)).resolve(0).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn lines_lose_their_endings_only() {
        let mut input: &[u8] = b"one\ntwo\r\n\n\xffbinary\nlast";
        let mut lines = Vec::new();
        for_each_line(&mut input, |line| {
            lines.push(line.to_vec());
            Ok(())
        })
        .unwrap();
        let expected: Vec<&[u8]> = vec![b"one", b"two", b"", b"\xffbinary", b"last"];
        assert_eq!(lines, expected);

        let mut empty: &[u8] = b"";
        for_each_line(&mut empty, |_| panic!("no lines")).unwrap();
    }

    #[test]
    fn rates_read_well() {
        assert_eq!(
            rate(1_000_000, 64_000_000, Duration::from_millis(500)).unwrap(),
            "2.00 M msg/s, 128 MB/s"
        );
        assert_eq!(
            rate(81_300, 813_000, Duration::from_secs(1)).unwrap(),
            "81.3 k msg/s, 0.81 MB/s"
        );
        assert_eq!(rate(0, 0, Duration::from_secs(1)), None);
        assert_eq!(rate(5, 5, Duration::ZERO), None);
    }
}
