//! `memlink read` and `memlink write`: copying bytes out of and into a
//! mapping.
//!
//! Both open the mapping first (read-only for `read`), learn its size, and
//! check the range themselves before mapping a view, so that a range outside
//! the mapping is reported in the terms the user typed (offset, length, size)
//! and a write that does not fit changes nothing.

use std::ffi::OsStr;
use std::io::{IsTerminal, Read, Write};

use memlink::{Access, Mapping, MappingOptions};

use crate::commands::trust::Trust;
use crate::error::{CliResult, Failure};
use crate::output::{self, HexDump};

/// How much is copied per step, so a read of a large mapping streams instead
/// of allocating its whole size.
const CHUNK: usize = 64 * 1024;

/// How `read` shows the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// As they are.
    Raw,
    /// A hex dump.
    Hex,
    /// One JSON object (text, or base64).
    Json,
}

/// Prints `len` bytes (default: the rest) from `offset`: raw, as a hex
/// dump, or as JSON.
pub fn read(
    name: &str,
    offset: u64,
    len: Option<u64>,
    shown: Shown,
    trust: Trust,
    out: &mut dyn Write,
) -> CliResult {
    let mapping = open(name, Access::ReadOnly, trust)?;
    let size = mapping.size();
    let len = match len {
        Some(len) => len,
        None => size
            .checked_sub(offset)
            .ok_or_else(|| past_end(&mapping, offset))?,
    };
    check_range(&mapping, "read", offset, len)?;
    if shown == Shown::Json {
        let bytes = if len > 0 {
            let mut bytes =
                vec![0u8; usize::try_from(len).map_err(|_| past_end(&mapping, offset))?];
            mapping.view(offset, len)?.read_at(0, &mut bytes)?;
            bytes
        } else {
            Vec::new()
        };
        let (encoding, data) = match std::str::from_utf8(&bytes) {
            Ok(text) => ("utf8", text.to_owned()),
            Err(_) => ("base64", output::base64(&bytes)),
        };
        let json = serde_json::json!({
            "name": mapping.name().to_string(),
            "offset": offset,
            "len": len,
            "encoding": encoding,
            "data": data,
        });
        output::write_json(out, &json)?;
        return Ok(());
    }
    let mut sink = if shown == Shown::Hex {
        Sink::Hex(HexDump::new(out, offset))
    } else {
        Sink::Raw(out)
    };
    if len > 0 {
        let view = mapping.view(offset, len)?;
        let mut buf = vec![0u8; CHUNK.min(view.len())];
        let mut done = 0;
        while done < view.len() {
            let n = CHUNK.min(view.len() - done);
            view.read_at(done, &mut buf[..n])?;
            sink.push(&buf[..n])?;
            done += n;
        }
    }
    sink.finish()?;
    Ok(())
}

/// Where `read` sends the bytes.
enum Sink<'a> {
    Raw(&'a mut dyn Write),
    Hex(HexDump<'a>),
}

impl Sink<'_> {
    fn push(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Raw(out) => out.write_all(bytes),
            Sink::Hex(dump) => dump.push(bytes),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Raw(out) => out.flush(),
            Sink::Hex(dump) => dump.finish(),
        }
    }
}

/// Writes `data` (or all of standard input) at `offset`, all or nothing.
pub fn write(
    name: &str,
    offset: u64,
    data: Option<&OsStr>,
    trust: Trust,
    json: bool,
    out: &mut dyn Write,
) -> CliResult {
    let mapping = open(name, Access::ReadWrite, trust)?;
    let size = mapping.size();
    let room = size
        .checked_sub(offset)
        .ok_or_else(|| past_end(&mapping, offset))?;
    let bytes = match data {
        // On Unix these are exactly the bytes of the argument, UTF-8 or not.
        Some(data) => data.as_encoded_bytes().to_vec(),
        None => read_stdin(&mapping, offset, room)?,
    };
    check_range(&mapping, "write", offset, bytes.len() as u64)?;
    if !bytes.is_empty() {
        let view = mapping.view(offset, bytes.len() as u64)?;
        view.write_at(0, &bytes)?;
        // A file-backed mapping should be on disk when the command returns.
        view.flush()?;
    }
    if json {
        let json = serde_json::json!({
            "name": mapping.name().to_string(),
            "offset": offset,
            "written": bytes.len(),
        });
        output::write_json(out, &json)?;
    } else {
        writeln!(
            out,
            "wrote {} bytes to {} at offset {offset}",
            bytes.len(),
            mapping.name()
        )?;
    }
    Ok(())
}

/// Opens `name` with `access`, trusting another user's name as `trust` says.
fn open(name: &str, access: Access, trust: Trust) -> CliResult<Mapping> {
    let opened = trust.open(
        |foreign| {
            MappingOptions::new()
                .access(access)
                .allow_foreign_owner(foreign)
                .open(name)
        },
        Mapping::owner,
    )?;
    opened.or_refuse(name)
}

/// Reads standard input to its end, refusing more than `room` bytes without
/// reading everything a runaway producer sends.
fn read_stdin(mapping: &Mapping, offset: u64, room: u64) -> CliResult<Vec<u8>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("memlink: reading the data from the terminal; end it with Ctrl-D");
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(room.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::io("cannot read standard input", e))?;
    if bytes.len() as u64 > room {
        return Err(Failure::msg(format!(
            "standard input holds more than the {room} bytes that fit in {} (size {} bytes) \
             from offset {offset}; nothing was written",
            mapping.name(),
            mapping.size()
        )));
    }
    Ok(bytes)
}

/// Checks that `offset..offset + len` lies inside the mapping.
fn check_range(mapping: &Mapping, what: &str, offset: u64, len: u64) -> CliResult {
    match offset.checked_add(len) {
        Some(end) if end <= mapping.size() => Ok(()),
        _ => Err(Failure::msg(format!(
            "cannot {what} {len} bytes at offset {offset}: {} is {} bytes long",
            mapping.name(),
            mapping.size()
        ))),
    }
}

fn past_end(mapping: &Mapping, offset: u64) -> Failure {
    Failure::msg(format!(
        "offset {offset} is past the end of {} ({} bytes long)",
        mapping.name(),
        mapping.size()
    ))
}
