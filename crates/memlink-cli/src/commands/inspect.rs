//! `memlink ls` and `memlink info`: describing mappings without holding
//! them (a channel's header and counters are read through a read-only open
//! that lasts a moment).

use std::io::Write;

use memlink::channel::{ChannelInfo, EndpointInfo};
use memlink::{Backing, Mapping, MappingInfo, Namespace};

use crate::error::CliResult;
use crate::output::{self, Column, Contents, InfoJson, Table};
use crate::size;

/// Lists the mappings of both namespaces, as a table or a JSON array.
pub fn ls(json: bool, out: &mut dyn Write) -> CliResult {
    let mut all = Mapping::list(Namespace::Local)?;
    all.extend(Mapping::list(Namespace::Global)?);
    let contents: Vec<Contents> = all.iter().map(Contents::of).collect();
    if json {
        let items: Vec<InfoJson> = all
            .iter()
            .zip(&contents)
            .map(|(info, contents)| InfoJson::new(info, contents))
            .collect();
        output::write_json(out, &items)?;
        return Ok(());
    }
    if all.is_empty() {
        writeln!(out, "no mappings")?;
        return Ok(());
    }
    let users = output::user_names();
    let column = |title, right| Column { title, right };
    let mut table = Table::new(vec![
        column("NAME", false),
        column("NAMESPACE", false),
        column("KIND", false),
        column("SIZE", true),
        column("OWNER", false),
        column("MODE", false),
        column("LIFETIME", false),
        column("STATE", false),
        column("HOLDERS", false),
    ]);
    for (info, contents) in all.iter().zip(&contents) {
        table.push(vec![
            info.name.to_string(),
            info.name.namespace().to_string(),
            contents.word().to_owned(),
            size::format(info.size),
            output::owner(info.owner, &users),
            output::known_mode(info.mode),
            output::lifetime(info).to_owned(),
            output::state(info).to_owned(),
            output::holders(&info.holders),
        ]);
    }
    table.write(out)?;
    Ok(())
}

/// Describes one mapping, as `key: value` lines or a JSON object.
pub fn info(name: &str, json: bool, out: &mut dyn Write) -> CliResult {
    let info = Mapping::inspect(name)?;
    let contents = Contents::of(&info);
    if json {
        output::write_json(out, &InfoJson::new(&info, &contents))?;
    } else {
        write_info(&info, &contents, out)?;
    }
    Ok(())
}

fn write_info(info: &MappingInfo, contents: &Contents, out: &mut dyn Write) -> std::io::Result<()> {
    let users = output::user_names();
    let backing = match &info.backing {
        Backing::Memory => "memory".to_owned(),
        Backing::File(path) => format!("file {}", path.display()),
        Backing::Unknown => "unknown (made by another program; the OS does not say)".to_owned(),
    };
    let state = match output::state(info) {
        "live" => "live (held by a process)",
        "idle" => "idle (persistent, no process holds it)",
        "stale" => "stale (every holder died; `memlink gc` reclaims it)",
        _ => "unknown (this user may not look)",
    };
    let owner = match users.get(&info.owner) {
        Some(user) => format!("{user} (uid {})", info.owner),
        None => format!("uid {}", info.owner),
    };
    let rows = [
        ("name", info.name.to_string()),
        ("namespace", info.name.namespace().to_string()),
        ("size", output::size_with_unit(info.size)),
        ("os name", info.os_name.clone()),
        ("path", info.path.display().to_string()),
        ("backing", backing),
        ("owner", owner),
        ("mode", output::known_mode(info.mode)),
        ("lifetime", output::lifetime(info).to_owned()),
        ("state", state.to_owned()),
        ("holders", output::holders(&info.holders)),
    ];
    let kind = match contents {
        Contents::Channel(channel) => format!("channel, {}", output::channel_kind(channel)),
        Contents::Object(memlink::ObjectKind::Channel) => {
            "channel (of a layout or state this version cannot read)".to_owned()
        }
        Contents::Object(kind) => format!("memlink {kind}"),
        Contents::Mapping => "mapping".to_owned(),
        Contents::Unknown => "unknown (this user may not look inside)".to_owned(),
    };
    let mut rows = rows.to_vec();
    rows.insert(2, ("kind", kind));
    if let Contents::Channel(channel) = contents {
        rows.extend(channel_rows(channel));
    }
    for (key, value) in rows {
        writeln!(out, "{:<11}{value}", format!("{key}:"))?;
    }
    Ok(())
}

/// The rows `info` adds for a channel.
fn channel_rows(channel: &ChannelInfo) -> Vec<(&'static str, String)> {
    let endpoints = |slots: &[EndpointInfo]| {
        let shown: Vec<String> = slots
            .iter()
            .filter(|e| e.pid != 0 || e.alive)
            .map(|e| {
                let state = if e.alive { "alive" } else { "gone" };
                format!("slot {} pid {} {state}", e.slot, e.pid)
            })
            .collect();
        if shown.is_empty() {
            "none yet".to_owned()
        } else {
            shown.join(", ")
        }
    };
    let mut rows = vec![
        ("capacity", output::size_with_unit(channel.capacity)),
        (
            "max msg",
            output::size_with_unit(u64::from(channel.max_message)),
        ),
        (
            "fill",
            format!(
                "{} of {} ({:.0}%)",
                size::format(channel.used),
                size::format(channel.capacity),
                100.0 * channel.used as f64 / channel.capacity as f64
            ),
        ),
        ("messages", format!("{} sent", channel.messages)),
        (
            "bytes",
            format!("{} through the ring", size::format(channel.bytes)),
        ),
        ("senders", endpoints(&channel.senders)),
        ("receivers", endpoints(&channel.receivers)),
    ];
    // Wait sets asleep on the channel by doorbell (a killed one counts
    // until the next publication clears it): shown only when there are.
    if channel.doorbells != 0 {
        rows.push((
            "wait sets",
            format!("{} asleep by doorbell", channel.doorbells),
        ));
    }
    rows
}
