//! `memlink`: create, inspect, read, write and remove named shared-memory
//! mappings from the shell, send and receive messages over channels, and
//! watch two processes share both (`memlink demo`).
//!
//! This file holds the command-line grammar (clap) and the one place where a
//! failure becomes `memlink: <message>` on stderr and an exit status; the
//! commands live in [`commands`], the two-process demo in [`demo`].
#![forbid(unsafe_code)]

mod commands;
mod demo;
mod duration;
mod error;
mod output;
mod progress;
#[cfg(test)]
mod short_inputs;
mod size;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::commands::channel::{KindArg, Shape};
use crate::commands::receive::Format;
use crate::commands::send::Source;
use crate::commands::trust::Trust;
use crate::error::{one_line, Failure};

const NAMES_HELP: &str = "\
Names:
  Global\\NAME   machine-wide; on Linux the POSIX shared-memory name /NAME
  Local\\NAME    private to the current user
  NAME          the same as Local\\NAME
  Quote names that contain a backslash: memlink info 'Global\\demo'

Sizes, offsets and lengths take units: 4096, 0x1000, 4KiB (= 4k), 1MiB (= 1M),
2GiB (= 2G); KB, MB, GB are powers of 1000.

Durations take units: 500ms, 2s (= 2), 1.5s, 1m, 1h; also us and ns.

Exit status: 0 on success, 1 on failure (one line on stderr), 2 on a usage error.";

/// Named shared memory between processes, from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "memlink",
    version,
    about = "Named shared memory between processes, from the command line",
    long_about = "Named shared memory between processes, from the command line.\n\n\
        A mapping is a named block of memory (or a file) that any process can open by \
        name. Mappings made by programs normally vanish when the last process holding \
        them closes or dies; those made with `memlink create` are persistent and stay \
        until `memlink rm`.\n\n\
        A channel is a mapping that carries messages: a sender writes whole messages \
        into a ring, a waiting receiver wakes and reads them in order. Channels vanish \
        when their last sender and receiver are gone.\n\n\
        New here? Run `memlink demo`.",
    after_help = NAMES_HELP,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Watch two processes share a mapping and talk over a channel (start here)
    #[command(
        long_about = "Watch two processes share a named mapping and talk over a \
            channel.\n\n\
            First, this process creates a transient mapping under a unique name and \
            writes a message into it; a second memlink process opens the same name, \
            reads the message and writes a reply; both let go, and the name is shown to \
            be gone.\n\n\
            Then it serves a pair of channels to a new client process: ten narrated \
            messages, a round-trip latency measurement (request on one channel, reply on \
            the other) and a one-way throughput run of small messages, and prints a short \
            summary. Every wait has a deadline; nothing is left behind."
    )]
    Demo,

    /// The second process of `memlink demo` (internal)
    #[command(hide = true)]
    DemoClient {
        /// The mapping the demo created.
        name: String,
    },

    /// The client process of `memlink demo`'s channel part (internal)
    #[command(hide = true)]
    DemoChannelClient {
        /// The channel the demo server sends on.
        requests: String,
        /// The channel the client answers on.
        replies: String,
    },

    /// Serve a channel: create it, wait for a receiver, send (the article's server)
    #[command(
        long_about = "Create a channel and send messages into it: the lines of standard \
            input (one message per line, without the line ending), or with --count, N \
            generated messages of --size bytes (\"message 1\" padded with dots).\n\n\
            serve first waits for a receiver (`memlink connect NAME`) to attach, so that \
            no message goes into an empty room; then it sends. Nothing is lost: when \
            the ring is full, serve waits for the receiver to make room. When all is \
            sent, serve exits at once: the receiver holds the channel too, reads what is \
            left, and then learns that the sender has gone.\n\n\
            The channel is transient (it vanishes with its last endpoint) and owner-only. \
            By default the ring and the largest message grow to fit --size. If the \
            receiver leaves early, the next send fails: exit status 1.",
        after_help = "Examples:\n  \
            memlink serve news                      # then type lines; Ctrl-D ends\n  \
            seq 1000 | memlink serve numbers\n  \
            memlink serve bulk --count 100000 --size 64\n  \
            memlink serve feed --kind broadcast --timeout 30s < lines.txt"
    )]
    Serve(ServeArgs),

    /// Print what a served channel sends, until the sender leaves (the article's client)
    #[command(
        long_about = "Open an existing channel as its receiver and print every message, \
            each followed by a newline, until the sender has gone and everything it sent \
            has been read; then exit 0.\n\n\
            With --count, print nothing per message but a summary at the end: messages, \
            bytes and the rate. With --json, one JSON object per message (as `recv \
            --json`), or the summary as one object with --count. With --timeout, give up \
            (exit status 1, \"timed out\") when no message comes for that long.",
        after_help = "Examples:\n  \
            memlink connect news\n  \
            memlink connect bulk --count\n  \
            memlink connect feed --json --timeout 5s | jq .data"
    )]
    Connect(ConnectArgs),

    /// Send messages into an existing channel
    #[command(
        long_about = "Open an existing channel as a sender and send each MESSAGE, or, when \
            none is given, each line of standard input, then exit.\n\n\
            The channel must exist: made by `memlink recv` (which may be started first), \
            by `memlink serve --kind many-to-one`, or by a program. When the ring is full, \
            send waits for the receiver to make room (at most --timeout). Messages sent \
            stay in the channel for its receiver after send exits.",
        after_help = "Examples:\n  \
            memlink recv inbox --count 2 &   # creates inbox and waits\n  \
            memlink send inbox hello world\n  \
            printf 'a\\nb\\n' | memlink send inbox"
    )]
    Send {
        /// The channel's name.
        name: String,
        /// The messages to send; the lines of standard input when absent.
        messages: Vec<OsString>,
        /// Give up when a message waits longer than this for room in the ring.
        #[arg(long, value_name = "DUR", value_parser = duration::parse)]
        timeout: Option<std::time::Duration>,
        /// Print the result as a JSON object.
        #[arg(long)]
        json: bool,
        /// Trust this name although another user created it, if that user is
        /// USER (a name or a numeric uid).
        #[arg(long, value_name = "USER|UID", value_parser = commands::trust::parse_owner)]
        owner: Option<u32>,
    },

    /// Receive messages from a channel (creating it if missing)
    #[command(
        long_about = "Receive --count messages (default 1) from a channel and print each, \
            followed by a newline, or as one JSON object per line with --json: \
            {\"seq\": 0, \"len\": 5, \"encoding\": \"utf8\", \"data\": \"hello\"}, \
            where seq counts from 0, and a message that is not UTF-8 has \
            \"encoding\": \"base64\" and its bytes base64-encoded in data.\n\n\
            When the channel does not exist, recv creates it (as --kind, --capacity and \
            --max-message say) and waits for a sender, so it may be started before \
            `memlink send`. It waits as long as it takes unless --timeout is given; \
            then, with no message in time, it fails with \"timed out\" (exit status 1), \
            after printing the messages that did come.\n\n\
            A sender that leaves does not end recv: it waits for the next one, so \
            several `memlink send` in a row reach one `memlink recv`. (To stop when \
            the sender leaves, use `memlink connect`.)",
        after_help = "Examples:\n  \
            memlink recv inbox\n  \
            memlink recv inbox --count 10 --timeout 2s\n  \
            memlink recv inbox --json | jq -r .data"
    )]
    Recv(RecvArgs),

    /// Create a persistent mapping (it stays until `memlink rm`)
    #[command(
        long_about = "Create a persistent mapping, filled with zeros, that stays until \
            `memlink rm`.\n\n\
            Memory-backed by default. With --file, the mapping is backed by that file \
            (created if missing); --size 0 or no --size means the file's size, and a \
            larger size grows the file.",
        after_help = "Examples:\n  \
            memlink create scratch --size 1MiB\n  \
            memlink create 'Global\\shared' --size 64k --mode 644\n  \
            memlink create data --file ./data.bin"
    )]
    Create(CreateArgs),

    /// List the mappings this user can see, in both namespaces
    #[command(
        long_about = "List the mappings this user can see, in both namespaces: name, \
            namespace, kind, size, owner, mode, lifetime, state and the processes \
            holding each.\n\n\
            Kind is what memlink finds inside: `mapping` (plain bytes), a channel's \
            kind (`one-to-one`, `many-to-one`, `broadcast`, `lossy broadcast`), \
            `event`, `doorbell` (the word a wait set sleeps on; it goes with the \
            set) or `?` (this user may not look).\n\n\
            State is `live` (some process holds it), `idle` (persistent, nobody holds \
            it), `stale` (transient, every holder died; `memlink gc` reclaims it) or \
            `unknown` (this user may not look)."
    )]
    Ls {
        /// Print a JSON array (one object per mapping, as `info --json`).
        #[arg(long)]
        json: bool,
    },

    /// Describe one mapping
    #[command(
        long_about = "Describe one mapping without opening it: size in bytes, the name the \
            OS knows it by, where it lives, what backs it, owner, mode, lifetime, state \
            and holders."
    )]
    Info {
        /// The mapping's name.
        name: String,
        /// Print a JSON object with `name`, `size` (bytes), `os_name`, `path`,
        /// `backing`, `file`, `owner`, `mode`, `persistent`, `live`, `state`,
        /// `holders`.
        #[arg(long)]
        json: bool,
    },

    /// Write bytes into a mapping (from DATA, or from stdin)
    #[command(
        long_about = "Write bytes into a mapping at an offset: DATA as given, or, when \
            DATA is absent, everything on standard input.\n\n\
            Nothing is written unless all of it fits: writing past the end of the \
            mapping is an error.",
        after_help = "Examples:\n  \
            memlink write scratch 'hello'\n  \
            memlink write scratch --offset 4KiB < frame.bin\n  \
            memlink write scratch -- '-starts-with-a-dash'"
    )]
    Write {
        /// The mapping's name.
        name: String,
        /// Where to start writing, in bytes from the start of the mapping.
        #[arg(long, default_value = "0", value_parser = size::parse)]
        offset: u64,
        /// The bytes to write; read from standard input when absent.
        data: Option<OsString>,
        /// Print the result as a JSON object.
        #[arg(long)]
        json: bool,
        /// Trust this name although another user created it, if that user is
        /// USER (a name or a numeric uid).
        #[arg(long, value_name = "USER|UID", value_parser = commands::trust::parse_owner)]
        owner: Option<u32>,
    },

    /// Print bytes of a mapping (raw, or as a hex dump)
    #[command(
        long_about = "Print bytes of a mapping to standard output: raw bytes, or a hex \
            dump with --hex. The mapping is opened read-only. Reading past the end of \
            the mapping is an error.",
        after_help = "Examples:\n  \
            memlink read scratch --len 5\n  \
            memlink read scratch --offset 4KiB --len 64 --hex\n  \
            memlink read scratch > copy.bin"
    )]
    Read {
        /// The mapping's name.
        name: String,
        /// Where to start reading, in bytes from the start of the mapping.
        #[arg(long, default_value = "0", value_parser = size::parse)]
        offset: u64,
        /// How many bytes to read [default: the rest of the mapping].
        #[arg(long, value_parser = size::parse)]
        len: Option<u64>,
        /// Print a hex dump (like `hexdump -C`) instead of raw bytes.
        #[arg(long)]
        hex: bool,
        /// Print the bytes as a JSON object (`utf8` text, or `base64`).
        #[arg(long, conflicts_with = "hex")]
        json: bool,
        /// Trust this name although another user created it, if that user is
        /// USER (a name or a numeric uid).
        #[arg(long, value_name = "USER|UID", value_parser = commands::trust::parse_owner)]
        owner: Option<u32>,
    },

    /// Remove a mapping's name now, whatever its lifetime
    #[command(
        long_about = "Remove a mapping's name now, whatever its lifetime. Processes that \
            hold it keep their memory until they let go, but nobody can open it any \
            more. A backing file is not deleted."
    )]
    Rm {
        /// The mapping's name.
        name: String,
        /// Print the result as a JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Watch channels live: rates, fill, endpoints
    #[command(
        long_about = "Watch channels live, like top: for each, messages and megabytes \
            per second (since the previous sample), how full the ring is, live senders \
            and receivers, and endpoint slots whose process is gone. Every channel this \
            user can see, or the ones named. Samples every --interval (1s) until \
            interrupted, or --count times; --json prints one JSON object per sample \
            and line.",
        after_help = "Examples:\n  \
            memlink watch\n  \
            memlink watch 'Global\\feed' --interval 200ms\n  \
            memlink watch feed --count 10 --json | jq .channels[0].msgs_per_s"
    )]
    Watch {
        /// The channels to watch [default: every channel this user can see].
        names: Vec<String>,
        /// Time between samples.
        #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "1s")]
        interval: std::time::Duration,
        /// Stop after this many samples [default: until interrupted].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        /// One JSON object per sample and line.
        #[arg(long)]
        json: bool,
    },

    /// Reclaim transient mappings whose holders all died
    #[command(
        long_about = "Reclaim this user's transient mappings whose holders all died \
            without letting go (for example killed with kill -9), in both namespaces, \
            and print their names. Such mappings can no longer be opened; this gives \
            their memory back."
    )]
    Gc {
        /// Print the result as a JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Carry channels to other machines over Zenoh (runs `memlink-bridge`)
    #[command(
        long_about = "Carry channels to and from other machines over Zenoh: runs the \
            `memlink-bridge` program found next to this one or on PATH, with these \
            arguments (`memlink bridge --help` is its help). It is a separate program \
            so that memlink itself never builds the network stack: \
            `cargo build --release -p memlink-bridge`.",
        disable_help_flag = true
    )]
    Bridge {
        /// The bridge's arguments (for example --export NAME --listen tcp/0.0.0.0:7447).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        long_about = "Print a completion script for SHELL, generated from memlink's own \
            command-line definition, so it always matches this build.",
        after_help = "Examples:\n  \
            memlink completions bash > ~/.local/share/bash-completion/completions/memlink\n  \
            memlink completions zsh > ~/.zfunc/_memlink\n  \
            memlink completions fish > ~/.config/fish/completions/memlink.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print memlink's man page (roff)
    #[command(
        long_about = "Print the man page, generated from memlink's own command-line \
            definition (roff, for man).",
        after_help = "Example:\n  memlink man > memlink.1 && man ./memlink.1"
    )]
    Man,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The channel's name.
    name: String,
    /// Send N generated messages instead of the lines of standard input.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// The size of each generated message (with --count).
    #[arg(long, value_name = "SIZE", value_parser = size::parse, requires = "count",
          default_value = "64")]
    size: u64,
    /// What the channel connects.
    #[arg(long, value_enum, default_value_t = KindArg::OneToOne)]
    kind: KindArg,
    /// The ring's size, a power of two [default: 64 KiB, or twice the largest
    /// message if that is more].
    #[arg(long, value_name = "SIZE", value_parser = size::parse)]
    capacity: Option<u64>,
    /// The largest message [default: 4 KiB, or --size if that is more].
    #[arg(long, value_name = "SIZE", value_parser = size::parse)]
    max_message: Option<u64>,
    /// Many-to-one: how many senders may attach at once [default: 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_senders: Option<u32>,
    /// Broadcast: how many receivers may attach at once [default: 8].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_receivers: Option<u32>,
    /// Give up when no receiver comes, or a message waits for room, this long.
    #[arg(long, value_name = "DUR", value_parser = duration::parse)]
    timeout: Option<std::time::Duration>,
    /// If this creates the channel: its permission bits in octal [default:
    /// 600, owner only; 660 or 666 to share, a channel has no read-only role].
    #[arg(long, value_name = "OCTAL", value_parser = commands::create::parse_mode)]
    mode: Option<u32>,
    /// Print only a JSON summary at the end.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// The channel's name.
    name: String,
    /// Count the messages instead of printing them; print a summary at the end.
    #[arg(long)]
    count: bool,
    /// Give up when no message comes for this long.
    #[arg(long, value_name = "DUR", value_parser = duration::parse)]
    timeout: Option<std::time::Duration>,
    /// Print one JSON object per message (or the summary, with --count).
    #[arg(long)]
    json: bool,
    /// Trust this name although another user created it, if that user is
    /// USER (a name or a numeric uid).
    #[arg(long, value_name = "USER|UID", value_parser = commands::trust::parse_owner)]
    owner: Option<u32>,
}

#[derive(Debug, Args)]
struct RecvArgs {
    /// The channel's name.
    name: String,
    /// How many messages to receive.
    #[arg(long, value_name = "N", default_value = "1",
          value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Give up when a message does not come within this long.
    #[arg(long, value_name = "DUR", value_parser = duration::parse)]
    timeout: Option<std::time::Duration>,
    /// Print one JSON object per message.
    #[arg(long)]
    json: bool,
    /// If recv creates the channel: what it connects.
    #[arg(long, value_enum, default_value_t = KindArg::ManyToOne)]
    kind: KindArg,
    /// If recv creates the channel: the ring's size [default: 64 KiB, or
    /// twice --max-message if that is more].
    #[arg(long, value_name = "SIZE", value_parser = size::parse)]
    capacity: Option<u64>,
    /// If recv creates the channel: the largest message [default: 4 KiB].
    #[arg(long, value_name = "SIZE", value_parser = size::parse)]
    max_message: Option<u64>,
    /// If recv creates the channel, many-to-one: how many senders may attach at once [default: 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_senders: Option<u32>,
    /// If recv creates the channel, broadcast: how many receivers may attach at once [default: 8].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_receivers: Option<u32>,
    /// If this creates the channel: its permission bits in octal [default:
    /// 600, owner only; 660 or 666 to share, a channel has no read-only role].
    #[arg(long, value_name = "OCTAL", value_parser = commands::create::parse_mode)]
    mode: Option<u32>,
    /// Trust this name although another user created it, if that user is
    /// USER (a name or a numeric uid).
    #[arg(long, value_name = "USER|UID", value_parser = commands::trust::parse_owner)]
    owner: Option<u32>,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The mapping's name.
    name: String,
    /// The size in bytes (4096, 64KiB, 1MiB, ...). With --file, 0 or absent
    /// means the file's size.
    #[arg(long, value_parser = size::parse, required_unless_present = "file")]
    size: Option<u64>,
    /// Back the mapping with this file instead of memory.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Permission bits in octal, as chmod takes them [default: 600, owner only].
    #[arg(long, value_name = "OCTAL", value_parser = commands::create::parse_mode)]
    mode: Option<u32>,
    /// Make it transient and hold it until this process is ended (Ctrl-C)
    /// or its standard input ends; the mapping goes with its last holder.
    /// The way to keep a mapping for `write` and `read` on Windows, which has
    /// no persistent mappings.
    #[arg(long)]
    hold: bool,
    /// Print what was made as a JSON object (as `info --json`).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    // A bug must still end in one line, not a multi-line panic report.
    std::panic::set_hook(Box::new(|panic| {
        let message = panic
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        let place = panic
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("memlink: internal error: {}{place}", one_line(&message));
    }));

    // Usage errors and --help are clap's: it prints them and exits (2 or 0).
    let cli = Cli::try_parse().unwrap_or_else(|error| exit_with_usage(error));
    if let Some(name) = cli.command.name() {
        warn_if_unquoted(name);
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = run(cli.command, &mut out).and_then(|()| out.flush().map_err(Failure::from));
    match result {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(failure) => {
            drop(out);
            eprintln!("memlink: {}", one_line(&failure.to_string()));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, out: &mut dyn Write) -> error::CliResult {
    match command {
        Command::Demo => demo::run(out),
        Command::DemoClient { name } => demo::run_client(&name, out),
        Command::DemoChannelClient { requests, replies } => {
            demo::run_channel_client(&requests, &replies, out)
        }
        Command::Serve(args) => {
            let source = match args.count {
                Some(count) => Source::Generated {
                    count,
                    size: args.size,
                },
                None => {
                    hint_if_terminal("type the messages, one per line; end with Ctrl-D");
                    Source::Lines
                }
            };
            let shape = Shape {
                kind: args.kind,
                capacity: args.capacity,
                max_message: args.max_message,
                max_senders: args.max_senders,
                max_receivers: args.max_receivers,
                mode: args.mode,
            };
            commands::send::serve(
                &args.name,
                source,
                &shape,
                args.timeout,
                args.json,
                &mut io::stdin().lock(),
                out,
            )
        }
        Command::Connect(args) => commands::receive::connect(
            &args.name,
            args.count,
            args.timeout,
            format(args.json),
            Trust::new(args.owner),
            out,
        ),
        Command::Send {
            name,
            messages,
            timeout,
            json,
            owner,
        } => {
            if messages.is_empty() {
                hint_if_terminal("type the messages, one per line; end with Ctrl-D");
            }
            commands::send::send(
                &name,
                &messages,
                timeout,
                Trust::new(owner),
                json,
                &mut io::stdin().lock(),
                out,
            )
        }
        Command::Recv(args) => {
            let shape = Shape {
                kind: args.kind,
                capacity: args.capacity,
                max_message: args.max_message,
                max_senders: args.max_senders,
                max_receivers: args.max_receivers,
                mode: args.mode,
            };
            commands::receive::recv(
                &args.name,
                args.count,
                args.timeout,
                format(args.json),
                &shape,
                Trust::new(args.owner),
                out,
            )
        }
        Command::Create(args) => commands::create::run(
            &args.name,
            args.size.unwrap_or(0),
            args.file,
            args.mode,
            args.hold,
            args.json,
            out,
        ),
        Command::Ls { json } => commands::inspect::ls(json, out),
        Command::Info { name, json } => commands::inspect::info(&name, json, out),
        Command::Write {
            name,
            offset,
            data,
            json,
            owner,
        } => commands::io::write(&name, offset, data.as_deref(), Trust::new(owner), json, out),
        Command::Read {
            name,
            offset,
            len,
            hex,
            json,
            owner,
        } => {
            let shown = if json {
                commands::io::Shown::Json
            } else if hex {
                commands::io::Shown::Hex
            } else {
                commands::io::Shown::Raw
            };
            commands::io::read(&name, offset, len, shown, Trust::new(owner), out)
        }
        Command::Rm { name, json } => commands::remove::rm(&name, json, out),
        Command::Gc { json } => commands::remove::gc(json, out),
        Command::Bridge { args } => commands::bridge::run(&args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "memlink", out);
            Ok(())
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(out)?;
            Ok(())
        }
        Command::Watch {
            names,
            interval,
            count,
            json,
        } => commands::watch::watch(&names, interval, count, json, out),
    }
}

impl Command {
    /// The name the command opens or creates, if it takes one from the user.
    fn name(&self) -> Option<&str> {
        match self {
            Command::Serve(args) => Some(&args.name),
            Command::Connect(args) => Some(&args.name),
            Command::Recv(args) => Some(&args.name),
            Command::Create(args) => Some(&args.name),
            Command::Send { name, .. }
            | Command::Info { name, .. }
            | Command::Write { name, .. }
            | Command::Read { name, .. }
            | Command::Rm { name, .. } => Some(name),
            Command::Demo
            | Command::DemoClient { .. }
            | Command::DemoChannelClient { .. }
            | Command::Ls { .. }
            | Command::Watch { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Gc { .. }
            | Command::Bridge { .. } => None,
        }
    }
}

/// The warning for a plain name that looks like `Global\NAME` or
/// `Local\NAME` whose backslash an unquoting shell removed, if it is one.
fn unquoted_prefix_warning(name: &str) -> Option<String> {
    if name.contains('\\') {
        return None;
    }
    let prefix = ["Global", "Local"].into_iter().find(|prefix| {
        name.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    })?;
    let rest = &name[prefix.len()..];
    Some(format!(
        "warning: `{name}` is the plain name Local\\{name}; if you meant \
         {prefix}\\{rest}, quote it so the shell keeps the backslash: '{prefix}\\{rest}'"
    ))
}

/// The shell eats the backslash of an unquoted `Global\demo`: say so.
fn warn_if_unquoted(name: &str) {
    if let Some(warning) = unquoted_prefix_warning(name) {
        eprintln!("memlink: {warning}");
    }
}

fn format(json: bool) -> Format {
    if json {
        Format::Json
    } else {
        Format::Lines
    }
}

/// Prints a usage error as clap does, adding the usage line clap leaves out
/// for a malformed option value, and exits (2, or 0 for --help/--version).
fn exit_with_usage(error: clap::Error) -> ! {
    use clap::CommandFactory;
    let rendered = error.render().to_string();
    if !error.use_stderr() || rendered.contains("Usage:") {
        error.exit();
    }
    let mut command = Cli::command();
    let sub = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .and_then(|name| command.find_subcommand_mut(&name).cloned());
    let usage = match sub {
        Some(mut sub) => {
            let usage = sub.render_usage().to_string();
            usage.replacen("Usage: ", "Usage: memlink ", 1)
        }
        None => command.render_usage().to_string(),
    };
    let (message, tail) = match rendered.split_once("\n\nFor more information") {
        Some((message, tail)) => (message.to_owned(), format!("For more information{tail}")),
        None => (rendered.trim_end().to_owned(), String::new()),
    };
    eprint!("{message}\n\n{}\n\n{tail}", usage.trim_end());
    std::process::exit(error.exit_code());
}

/// A person typing at a terminal should know how to end the input.
fn hint_if_terminal(hint: &str) {
    use std::io::IsTerminal;
    if io::stdin().is_terminal() {
        eprintln!("memlink: {hint}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn a_plain_name_starting_with_a_prefix_is_warned_about() {
        let warning = unquoted_prefix_warning("Globaldemo").expect("warned");
        assert!(warning.contains("'Global\\demo'"), "{warning}");
        assert!(unquoted_prefix_warning("localx").is_some());
        assert!(unquoted_prefix_warning("Global\\demo").is_none());
        assert!(unquoted_prefix_warning("demo").is_none());
        assert!(unquoted_prefix_warning("Glob").is_none());
    }

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create_needs_a_size_unless_a_file_is_given() {
        assert!(Cli::try_parse_from(["memlink", "create", "x"]).is_err());
        assert!(Cli::try_parse_from(["memlink", "create", "x", "--file", "f"]).is_ok());
        assert!(Cli::try_parse_from(["memlink", "create", "x", "--size", "4k"]).is_ok());
        assert!(Cli::try_parse_from(["memlink", "create", "x", "--size", "4q"]).is_err());
    }

    #[test]
    fn channel_commands_parse_sizes_durations_and_kinds() {
        let ok = |args: &[&str]| {
            let mut all = vec!["memlink"];
            all.extend(args);
            Cli::try_parse_from(all).is_ok()
        };
        assert!(ok(&["serve", "x"]));
        assert!(ok(&["serve", "x", "--count", "10", "--size", "1KiB"]));
        assert!(
            !ok(&["serve", "x", "--size", "1KiB"]),
            "--size needs --count"
        );
        assert!(ok(&[
            "serve",
            "x",
            "--kind",
            "broadcast",
            "--capacity",
            "1M"
        ]));
        assert!(!ok(&["serve", "x", "--kind", "both-ways"]));
        assert!(ok(&[
            "serve",
            "x",
            "--kind",
            "broadcast",
            "--max-receivers",
            "64"
        ]));
        assert!(ok(&[
            "serve",
            "x",
            "--kind",
            "many-to-one",
            "--max-senders",
            "64"
        ]));
        assert!(ok(&[
            "recv",
            "x",
            "--max-senders",
            "3",
            "--max-receivers",
            "2"
        ]));
        assert!(!ok(&["serve", "x", "--max-receivers", "0"]));
        assert!(ok(&["serve", "x", "--timeout", "1.5s"]));
        assert!(!ok(&["serve", "x", "--timeout", "soon"]));
        assert!(ok(&[
            "connect",
            "x",
            "--count",
            "--json",
            "--timeout",
            "2s"
        ]));
        assert!(ok(&["send", "x", "a", "b", "--timeout", "500ms"]));
        assert!(ok(&["send", "x", "--", "-a"]));
        assert!(ok(&[
            "recv",
            "x",
            "--count",
            "3",
            "--timeout",
            "1m",
            "--json"
        ]));
        assert!(!ok(&["recv", "x", "--count", "0"]));
        assert!(ok(&[
            "recv",
            "x",
            "--kind",
            "one-to-one",
            "--max-message",
            "64k"
        ]));
    }
}
