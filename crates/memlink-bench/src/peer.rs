//! The other process of a case: `memlink-bench peer [--cpu N] <role> ...`.
//!
//! Each role is the mirror of one measuring loop in [`crate::baselines`] or
//! [`crate::channel`]: it echoes (latency) or drains and counts (throughput),
//! and reports counts as lines on stdout. Every wait has a deadline, so a
//! peer whose benchmark process died exits on its own.

use clap::{Args, Subcommand};

use crate::channel::Wait;
use crate::error::Result;
use crate::{baselines, channel, pin, raw, rawcopy, waitset};

/// Arguments of the hidden `peer` subcommand.
#[derive(Debug, Args)]
pub(crate) struct PeerArgs {
    /// Pin this process to this core first.
    #[arg(long)]
    cpu: Option<usize>,
    #[command(subcommand)]
    role: Role,
}

/// What the peer does.
#[derive(Debug, Subcommand)]
pub(crate) enum Role {
    /// Answers atomics in a mapping (the raw cache-line ping-pong).
    RawEcho {
        name: String,
        #[arg(value_enum)]
        variant: raw::RawVariant,
    },
    /// Drains 1 MiB messages from the raw copy slots.
    RawCopySink {
        name: String,
        #[arg(value_enum)]
        with: rawcopy::CopyWith,
    },
    /// Answers a futex word in a mapping.
    FutexEcho { name: String },
    /// Echoes `size`-byte messages on a Unix socket.
    UnixEcho { path: String, size: usize },
    /// Counts `size`-byte messages from a Unix socket.
    UnixSink { path: String, size: usize },
    /// Echoes `size`-byte messages from stdin to stdout.
    PipeEcho { size: usize },
    /// Counts `size`-byte messages from stdin.
    PipeSink { size: usize },
    /// Echoes channel `input` to channel `output`.
    ChannelEcho {
        input: String,
        output: String,
        #[arg(value_enum)]
        wait: Wait,
    },
    /// Drains channel `name`, by copy or by borrowing.
    ChannelSink {
        name: String,
        #[arg(long)]
        zero_copy: bool,
        /// Print `ready` once attached (broadcast: the sender waits for it).
        #[arg(long)]
        announce: bool,
    },
    /// Drains every channel of `names` (the watch-cost cases).
    MultiSink { names: Vec<String> },
    /// Samples every channel of `names`, `hz` times a second (0: never),
    /// until stdin closes.
    Watcher {
        #[arg(long, default_value_t = 1)]
        hz: u32,
        names: Vec<String>,
    },
    /// Echoes iceoryx2 service `input` to service `output`.
    #[cfg(feature = "iceoryx2")]
    Iceoryx2Echo { input: String, output: String },
}

/// Runs the peer side.
pub(crate) fn run(args: &PeerArgs) -> Result<()> {
    if let Some(cpu) = args.cpu {
        // Not fatal: the parent reported its placement already, and an
        // unpinned peer still gives figures (noisier ones).
        if let Err(e) = pin::pin_to(cpu) {
            eprintln!("memlink-bench peer: cannot pin to CPU {cpu}: {e}");
        }
    }
    match &args.role {
        Role::RawEcho { name, variant } => raw::echo(name, *variant),
        Role::RawCopySink { name, with } => rawcopy::sink(name, *with),
        Role::FutexEcho { name } => baselines::futex_echo(name),
        Role::UnixEcho { path, size } => baselines::unix_echo(path, *size),
        Role::UnixSink { path, size } => baselines::unix_sink(path, *size),
        Role::PipeEcho { size } => baselines::pipe_echo(*size),
        Role::PipeSink { size } => baselines::pipe_sink(*size),
        Role::ChannelEcho {
            input,
            output,
            wait,
        } => channel::echo(input, output, *wait),
        Role::ChannelSink {
            name,
            zero_copy,
            announce,
        } => channel::sink(name, *zero_copy, *announce),
        Role::MultiSink { names } => waitset::multi_sink(names),
        Role::Watcher { names, hz } => waitset::watcher(names, *hz),
        #[cfg(feature = "iceoryx2")]
        Role::Iceoryx2Echo { input, output } => crate::iceoryx2::echo(input, output),
    }
}
