//! `memlink watch`: a live view of channels, sampled at an interval.
//!
//! Each sample reads every channel's counters from outside (no endpoint is
//! attached); rates are the differences between two samples. On a terminal
//! the screen is redrawn; otherwise each sample is appended (a table, or one
//! JSON object per line with `--json`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use memlink::channel::{ChannelInfo, ChannelOptions};
use memlink::{Mapping, Namespace};
use serde::Serialize;

use crate::error::CliResult;
use crate::output::{self, Column, Contents, Table};
use crate::size;

/// One channel in one sample.
#[derive(Debug, Serialize)]
struct ChannelSample {
    name: String,
    kind: &'static str,
    /// Messages sent since the channel was made (wraps at 2^32).
    messages: u32,
    /// Messages per second since the previous sample (`null` in the first).
    msgs_per_s: Option<f64>,
    /// Ring bytes per second since the previous sample.
    bytes_per_s: Option<f64>,
    used: u64,
    capacity: u64,
    senders: usize,
    receivers: usize,
    /// Endpoint slots whose last process is gone (left, or died).
    gone: usize,
}

/// One sample of every watched channel.
#[derive(Debug, Serialize)]
struct Sample {
    /// Seconds since `watch` started.
    elapsed_s: f64,
    channels: Vec<ChannelSample>,
    /// Named channels that could not be read, with why.
    errors: Vec<String>,
}

/// Samples `names` (every channel this user can see when empty) every
/// `interval`, `count` times (until interrupted when `None`).
pub fn watch(
    names: &[String],
    interval: Duration,
    count: Option<u64>,
    json: bool,
    out: &mut dyn Write,
) -> CliResult {
    let started = Instant::now();
    let redraw = !json && std::io::stdout().is_terminal();
    let mut previous: HashMap<String, (Instant, ChannelInfo)> = HashMap::new();
    let mut taken = 0u64;
    loop {
        let (infos, errors) = read(names)?;
        let now = Instant::now();
        let channels = infos
            .iter()
            .map(|info| sample(info, now, previous.get(&info.name)))
            .collect();
        let sample = Sample {
            elapsed_s: now.duration_since(started).as_secs_f64(),
            channels,
            errors,
        };
        if json {
            serde_json::to_writer(&mut *out, &sample).map_err(std::io::Error::from)?;
            writeln!(out)?;
        } else {
            if redraw {
                write!(out, "\x1b[H\x1b[2J")?;
            }
            write_table(&sample, out)?;
        }
        out.flush()?;
        previous = infos
            .into_iter()
            .map(|i| (i.name.clone(), (now, i)))
            .collect();
        taken += 1;
        if count.is_some_and(|count| taken >= count) {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// The channels to show now: the named ones, or every channel listed.
fn read(names: &[String]) -> CliResult<(Vec<ChannelInfo>, Vec<String>)> {
    let mut infos = Vec::new();
    let mut errors = Vec::new();
    if names.is_empty() {
        let mut all = Mapping::list(Namespace::Local)?;
        all.extend(Mapping::list(Namespace::Global)?);
        for mapping in all {
            if let Contents::Channel(info) = Contents::of(&mapping) {
                infos.push(info);
            }
        }
        return Ok((infos, errors));
    }
    for name in names {
        match ChannelOptions::new()
            .allow_foreign_owner(true)
            .inspect(name)
        {
            Ok(info) => infos.push(info),
            // Named, but not (or no longer) a readable channel: said in the
            // sample, and the others still shown.
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok((infos, errors))
}

fn sample(
    info: &ChannelInfo,
    now: Instant,
    before: Option<&(Instant, ChannelInfo)>,
) -> ChannelSample {
    let rates = before.and_then(|(then, old)| {
        let seconds = now.duration_since(*then).as_secs_f64();
        (seconds > 0.0).then(|| {
            (
                f64::from(info.messages.wrapping_sub(old.messages)) / seconds,
                info.bytes.saturating_sub(old.bytes) as f64 / seconds,
            )
        })
    });
    let gone = info
        .senders
        .iter()
        .chain(&info.receivers)
        .filter(|e| e.pid != 0 && !e.alive)
        .count();
    ChannelSample {
        name: info.name.clone(),
        kind: output::channel_kind(info),
        messages: info.messages,
        msgs_per_s: rates.map(|r| r.0),
        bytes_per_s: rates.map(|r| r.1),
        used: info.used,
        capacity: info.capacity,
        senders: info.live_senders(),
        receivers: info.live_receivers(),
        gone,
    }
}

fn write_table(sample: &Sample, out: &mut dyn Write) -> std::io::Result<()> {
    if sample.channels.is_empty() && sample.errors.is_empty() {
        writeln!(out, "no channels")?;
    }
    if !sample.channels.is_empty() {
        let column = |title, right| Column { title, right };
        let mut table = Table::new(vec![
            column("CHANNEL", false),
            column("KIND", false),
            column("MSG/S", true),
            column("MB/S", true),
            column("FILL", true),
            column("SENDERS", true),
            column("RECEIVERS", true),
            column("GONE", true),
        ]);
        for c in &sample.channels {
            let rate = |r: Option<f64>, scale: f64| match r {
                Some(r) => format!("{:.1}", r / scale),
                None => "-".to_owned(),
            };
            table.push(vec![
                c.name.clone(),
                c.kind.to_owned(),
                rate(c.msgs_per_s, 1.0),
                rate(c.bytes_per_s, 1e6),
                format!("{} / {}", size::format(c.used), size::format(c.capacity)),
                c.senders.to_string(),
                c.receivers.to_string(),
                c.gone.to_string(),
            ]);
        }
        table.write(out)?;
    }
    for error in &sample.errors {
        writeln!(out, "{error}")?;
    }
    writeln!(out)
}
