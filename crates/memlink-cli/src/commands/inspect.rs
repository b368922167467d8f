//! `memlink ls` and `memlink info`: describing mappings without holding them.

use std::io::Write;

use memlink::{Backing, Mapping, MappingInfo, Namespace};

use crate::error::CliResult;
use crate::output::{self, Column, InfoJson, Table};
use crate::size;

/// Lists the mappings of both namespaces, as a table or a JSON array.
pub fn ls(json: bool, out: &mut dyn Write) -> CliResult {
    let mut all = Mapping::list(Namespace::Local)?;
    all.extend(Mapping::list(Namespace::Global)?);
    if json {
        let items: Vec<InfoJson> = all.iter().map(InfoJson::from).collect();
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
        column("SIZE", true),
        column("OWNER", false),
        column("MODE", false),
        column("LIFETIME", false),
        column("STATE", false),
        column("HOLDERS", false),
    ]);
    for info in &all {
        table.push(vec![
            info.name.to_string(),
            info.name.namespace().to_string(),
            size::format(info.size),
            output::owner(info.owner, &users),
            output::mode(info.mode),
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
    if json {
        output::write_json(out, &InfoJson::from(&info))?;
    } else {
        write_info(&info, out)?;
    }
    Ok(())
}

fn write_info(info: &MappingInfo, out: &mut dyn Write) -> std::io::Result<()> {
    let users = output::user_names();
    let backing = match &info.backing {
        Backing::Memory => "memory".to_owned(),
        Backing::File(path) => format!("file {}", path.display()),
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
        ("mode", output::mode(info.mode)),
        ("lifetime", output::lifetime(info).to_owned()),
        ("state", state.to_owned()),
        ("holders", output::holders(&info.holders)),
    ];
    for (key, value) in rows {
        writeln!(out, "{:<11}{value}", format!("{key}:"))?;
    }
    Ok(())
}
