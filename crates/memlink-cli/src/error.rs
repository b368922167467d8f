//! The CLI's failure type: one message, printed as one line.
//!
//! The library's [`memlink::Error`] already says which name, size or access
//! was involved, so it is passed through unchanged; the CLI adds its own
//! messages only for what it checks itself (ranges, stdin, the demo).

use std::fmt;
use std::io;

/// Why a command failed, ready to be printed as `memlink: <message>`.
#[derive(Debug)]
pub enum Failure {
    /// A library error, shown as the library words it.
    Memlink(memlink::Error),
    /// Anything the CLI itself found wrong.
    Message(String),
    /// Standard output was closed by the reader (`memlink read X | head`).
    /// Not an error for the user: the process exits quietly.
    BrokenPipe,
}

impl Failure {
    /// A failure with a message of the CLI's own.
    pub fn msg(text: impl Into<String>) -> Failure {
        Failure::Message(text.into())
    }

    /// An I/O failure while doing `what`.
    pub fn io(what: &str, err: io::Error) -> Failure {
        if err.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Message(format!("{what}: {err}"))
        }
    }
}

impl From<memlink::Error> for Failure {
    fn from(err: memlink::Error) -> Failure {
        Failure::Memlink(err)
    }
}

/// Writing to stdout is the only I/O most commands do; a closed pipe there is
/// a normal way for a reader to stop.
impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        Failure::io("cannot write to standard output", err)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Memlink(err) => write!(f, "{err}"),
            Failure::Message(text) => f.write_str(text),
            Failure::BrokenPipe => f.write_str("standard output was closed"),
        }
    }
}

/// The result of a command.
pub type CliResult<T = ()> = Result<T, Failure>;

/// Makes a message safe to print as exactly one line: a path or an OS message
/// could contain a newline, which would break the one-line promise that
/// scripts rely on.
pub fn one_line(message: &str) -> String {
    message
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_control_characters_only() {
        assert_eq!(one_line("plain Local\\x ü"), "plain Local\\x ü");
        assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
    }

    #[test]
    fn broken_pipe_is_recognised() {
        let err = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(matches!(Failure::from(err), Failure::BrokenPipe));
        let err = io::Error::other("disk on fire");
        assert_eq!(
            Failure::io("cannot read standard input", err).to_string(),
            "cannot read standard input: disk on fire"
        );
    }
}
