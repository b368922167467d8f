//! `memlink-bridge`: carries memlink channels over Zenoh.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use memlink_bridge::{Bridge, ChannelKind, Config, Route};

/// Carry memlink channels to and from other machines over Zenoh.
///
/// Exported channels are read here and published on their Zenoh key
/// (default memlink/NAME); imported keys are delivered into local channels
/// of that name, created if missing. Flags add to the configuration file.
#[derive(Parser)]
#[command(name = "memlink-bridge", version)]
struct Args {
    /// A JSON5 configuration file (see the crate's README).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Export a local channel on its default key.
    #[arg(long, value_name = "CHANNEL")]
    export: Vec<String>,
    /// Import a channel from its default key.
    #[arg(long, value_name = "CHANNEL")]
    import: Vec<String>,
    /// Make the channels given by flags lossy (never block; drops counted).
    #[arg(long)]
    lossy: bool,
    /// Kind of the channels that --import creates.
    #[arg(long, value_parser = ["one-to-one", "many-to-one", "broadcast"])]
    kind: Option<String>,
    /// Largest message of the channels that --import creates.
    #[arg(long, value_name = "BYTES")]
    max_message: Option<u32>,
    /// Ring size of the channels that --import creates.
    #[arg(long, value_name = "BYTES")]
    capacity: Option<u64>,
    /// Listen on a Zenoh locator (tcp/HOST:PORT); repeatable.
    #[arg(long, value_name = "LOCATOR")]
    listen: Vec<String>,
    /// Connect to a Zenoh locator (tcp/HOST:PORT); repeatable.
    #[arg(long, value_name = "LOCATOR")]
    connect: Vec<String>,
    /// Turn off multicast scouting (peers then come from --connect/--listen).
    #[arg(long)]
    no_scouting: bool,
    /// Zenoh mode.
    #[arg(long, value_parser = ["peer", "client"])]
    mode: Option<String>,
    /// Milliseconds of silence after which a remote peer is gone.
    #[arg(long, value_name = "MS")]
    lease_ms: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memlink-bridge: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Config::default(),
    };
    let kind = match args.kind.as_deref() {
        Some("many-to-one") => ChannelKind::ManyToOne,
        Some("broadcast") => ChannelKind::Broadcast,
        _ => ChannelKind::OneToOne,
    };
    let route = |channel: &String| {
        let mut r = Route::new(channel);
        r.lossy = args.lossy;
        r.kind = kind;
        if let Some(m) = args.max_message {
            r.max_message = m;
        }
        if let Some(c) = args.capacity {
            r.capacity = c;
        }
        r
    };
    config.export.extend(args.export.iter().map(route));
    config.import.extend(args.import.iter().map(route));
    config.listen.extend(args.listen.iter().cloned());
    config.connect.extend(args.connect.iter().cloned());
    if args.no_scouting {
        config.scouting = false;
    }
    if let Some(mode) = args.mode {
        config.mode = mode;
    }
    if let Some(lease) = args.lease_ms {
        config.lease_ms = lease;
    }
    let bridge = Bridge::start(&config)?;
    eprintln!(
        "memlink-bridge: running (zenoh id {})",
        bridge.session().zid()
    );
    bridge.wait();
    Ok(())
}
