//! `memlink`: create, inspect, read, write and remove named shared-memory
//! mappings from the shell, and watch two processes share one (`memlink demo`).
//!
//! This file holds the command-line grammar (clap) and the one place where a
//! failure becomes `memlink: <message>` on stderr and an exit status; the
//! commands live in [`commands`], the two-process demo in [`demo`].
#![forbid(unsafe_code)]

mod commands;
mod demo;
mod error;
mod output;
mod size;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::{one_line, Failure};

const NAMES_HELP: &str = "\
Names:
  Global\\NAME   machine-wide; on Linux the POSIX shared-memory name /NAME
  Local\\NAME    private to the current user
  NAME          the same as Local\\NAME
  Quote names that contain a backslash: memlink info 'Global\\demo'

Sizes, offsets and lengths take units: 4096, 0x1000, 4KiB (= 4k), 1MiB (= 1M),
2GiB (= 2G); KB, MB, GB are powers of 1000.

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
    /// Watch two processes share a named mapping (start here)
    #[command(long_about = "Watch two processes share a named mapping.\n\n\
            This process creates a transient mapping under a unique name and writes a \
            message into it; a second memlink process opens the same name, reads the \
            message and writes a reply; both let go, and the name is shown to be gone.")]
    Demo,

    /// The second process of `memlink demo` (internal)
    #[command(hide = true)]
    DemoClient {
        /// The mapping the demo created.
        name: String,
    },

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
            namespace, size, owner, mode, lifetime, state and the processes holding \
            each.\n\n\
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
    },

    /// Reclaim transient mappings whose holders all died
    #[command(
        long_about = "Reclaim this user's transient mappings whose holders all died \
            without letting go (for example killed with kill -9), in both namespaces, \
            and print their names. Such mappings can no longer be opened; this gives \
            their memory back."
    )]
    Gc,
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
    let cli = Cli::parse();
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
        Command::Create(args) => commands::create::run(
            &args.name,
            args.size.unwrap_or(0),
            args.file,
            args.mode,
            out,
        ),
        Command::Ls { json } => commands::inspect::ls(json, out),
        Command::Info { name, json } => commands::inspect::info(&name, json, out),
        Command::Write { name, offset, data } => {
            commands::io::write(&name, offset, data.as_deref(), out)
        }
        Command::Read {
            name,
            offset,
            len,
            hex,
        } => commands::io::read(&name, offset, len, hex, out),
        Command::Rm { name } => commands::remove::rm(&name, out),
        Command::Gc => commands::remove::gc(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
}
