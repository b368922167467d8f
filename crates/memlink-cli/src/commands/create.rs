//! `memlink create`: a persistent mapping, memory- or file-backed; or, with
//! `--hold`, a transient one that this process holds until it is ended.

use std::io::Write;
use std::path::PathBuf;

use memlink::{Backing, MappingOptions};

use crate::error::{CliResult, Failure};
use crate::output;

/// Parses `--mode`: octal permission bits as `chmod` takes them (`644`,
/// `0644`, `0o644`), at most `777`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(format!(
            "invalid mode {text:?}: expected octal permission bits such as 600 or 644"
        ));
    }
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!(
            "invalid mode {text:?}: only the permission bits up to 777 are allowed"
        )),
    }
}

/// Creates the mapping and prints one line saying what was made.
///
/// Without `hold`, the mapping is persistent: the command exits at once, and
/// a transient mapping would vanish with it. (Windows has no persistent
/// mappings: there the library refuses, after "already exists" for a taken
/// name, with an error that points to `--hold`.) With `hold`, it is transient
/// and this process holds it until it is ended (Ctrl-C, a signal, or end of
/// input on standard input): the mapping then goes with its last holder.
/// That is the flow on Windows, which has no persistent mappings.
pub fn run(
    name: &str,
    size: u64,
    file: Option<PathBuf>,
    mode: Option<u32>,
    hold: bool,
    json: bool,
    out: &mut dyn Write,
) -> CliResult {
    let mut options = MappingOptions::new();
    options.persistent(!hold).size(size);
    if let Some(mode) = mode {
        options.mode(mode);
    }
    // The library creates a missing backing file before it knows whether the
    // mapping can be made; remember whether the file is ours to clean up.
    let created_file = match &file {
        Some(path) if !path.exists() => {
            if size == 0 {
                return Err(Failure::msg(format!(
                    "backing file {} does not exist, and size 0 means the file's size; \
                     give --size to create it",
                    path.display()
                )));
            }
            Some(path.clone())
        }
        _ => None,
    };
    if let Some(path) = &file {
        options.file(path);
    }
    let mapping = match options.create(name) {
        Ok(mapping) => mapping,
        Err(err) => {
            if let Some(path) = created_file {
                // Best effort: the error about the mapping matters more.
                let _ = std::fs::remove_file(path);
            }
            return Err(err.into());
        }
    };
    let backing = match mapping.backing() {
        Backing::Memory => "memory-backed".to_owned(),
        Backing::File(path) => format!("backed by {}", path.display()),
        Backing::Unknown => "backing unknown".to_owned(),
    };
    let lifetime = if hold {
        "held by this process until it ends (Ctrl-C, or end of input)"
    } else {
        "persistent (remove with `memlink rm`)"
    };
    if json {
        let info = memlink::Mapping::inspect(&mapping.name().to_string())?;
        output::write_json(
            out,
            &output::InfoJson::new(&info, &output::Contents::Mapping),
        )?;
    } else {
        writeln!(
            out,
            "created {}: {}, {backing}, mode {}, {lifetime}",
            mapping.name(),
            output::size_with_unit(mapping.size()),
            output::mode(mapping.mode()),
        )?;
    }
    if hold {
        out.flush()?;
        // Held until standard input ends, or a signal ends the process
        // (then the kernel lets go of the mapping for us).
        std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())?;
        drop(mapping);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_permission_bits() {
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert_eq!(parse_mode("0o640"), Ok(0o640));
        assert_eq!(parse_mode("0"), Ok(0));
        assert_eq!(parse_mode("777"), Ok(0o777));
        for bad in ["", "0o", "8", "rw-r--r--", "+644", "1777", "0x644"] {
            let err = parse_mode(bad).expect_err(bad);
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
