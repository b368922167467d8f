//! `memlink rm` and `memlink gc`: ending mappings.

use std::io::Write;

use memlink::{Mapping, Name};

use crate::error::CliResult;

/// Removes a name, whatever its lifetime.
pub fn rm(name: &str, out: &mut dyn Write) -> CliResult {
    // Parsed first so the confirmation shows the full name (`Local\x`).
    let name = Name::parse(name)?;
    Mapping::remove(&name.to_string())?;
    writeln!(out, "removed {name}")?;
    Ok(())
}

/// Reclaims transient mappings whose holders all died, and names them.
pub fn gc(out: &mut dyn Write) -> CliResult {
    let reclaimed = Mapping::reclaim_stale()?;
    if reclaimed.is_empty() {
        writeln!(out, "nothing to reclaim: no stale mappings")?;
    }
    for name in reclaimed {
        writeln!(out, "reclaimed {name}")?;
    }
    Ok(())
}
