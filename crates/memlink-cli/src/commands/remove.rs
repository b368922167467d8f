//! `memlink rm` and `memlink gc`: ending mappings.

use std::io::Write;

use memlink::{Mapping, Name};

use crate::error::CliResult;
use crate::output;

/// Removes a name, whatever its lifetime.
pub fn rm(name: &str, json: bool, out: &mut dyn Write) -> CliResult {
    // Parsed first so the confirmation shows the full name (`Local\x`).
    let name = Name::parse(name)?;
    Mapping::remove(&name.to_string())?;
    if json {
        output::write_json(out, &serde_json::json!({ "removed": name.to_string() }))?;
    } else {
        writeln!(out, "removed {name}")?;
    }
    Ok(())
}

/// Reclaims transient mappings whose holders all died, and names them.
pub fn gc(json: bool, out: &mut dyn Write) -> CliResult {
    let reclaimed = Mapping::reclaim_stale()?;
    if json {
        let names: Vec<String> = reclaimed.iter().map(ToString::to_string).collect();
        output::write_json(out, &serde_json::json!({ "reclaimed": names }))?;
        return Ok(());
    }
    if reclaimed.is_empty() {
        writeln!(out, "nothing to reclaim: no stale mappings")?;
    }
    for name in reclaimed {
        writeln!(out, "reclaimed {name}")?;
    }
    Ok(())
}
