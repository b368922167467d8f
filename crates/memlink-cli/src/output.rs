//! How the CLI shows things: JSON objects, aligned tables, hex dumps.
//!
//! Everything writes to a `&mut dyn Write` and returns its I/O errors instead
//! of using `println!`, which panics when the reader of a pipe goes away
//! (`memlink ls | head -1`).

use std::collections::HashMap;
use std::io::{self, Write};

use memlink::channel::{ChannelInfo, ChannelOptions, EndpointInfo, Kind};
use memlink::{Backing, Error, MappingInfo, ObjectKind};
use serde::Serialize;

use crate::size;

/// Whether a mapping is in use, in one word.
///
/// The library reports only "somebody holds it" (`live`); what that means
/// depends on the lifetime: an unheld persistent mapping is merely idle,
/// while an unheld transient one is dead and waits for `memlink gc`.
pub fn state(info: &MappingInfo) -> &'static str {
    match (info.live, info.persistent) {
        (Some(true), _) => "live",
        (Some(false), true) => "idle",
        (Some(false), false) => "stale",
        (None, _) => "unknown",
    }
}

/// The lifetime of a mapping, in one word.
pub fn lifetime(info: &MappingInfo) -> &'static str {
    if info.persistent {
        "persistent"
    } else {
        "transient"
    }
}

/// Permission bits the way `chmod` takes them.
pub fn mode(bits: u32) -> String {
    format!("{bits:04o}")
}

/// A mapping's permission bits as [`mode`] shows them, or `unknown` when
/// the OS does not say (another program's mapping, on Windows).
pub fn known_mode(bits: Option<u32>) -> String {
    bits.map_or_else(|| "unknown".to_owned(), mode)
}

/// The JSON description of a mapping, shared by `info --json` and
/// `ls --json` so scripts see one schema. Field order is the order printed.
#[derive(Debug, Serialize)]
pub struct InfoJson {
    /// The full name, with its namespace prefix (`Local\x`).
    pub name: String,
    /// `Local` or `Global`.
    pub namespace: String,
    /// The name without its prefix.
    pub base_name: String,
    /// The logical size in bytes.
    pub size: u64,
    /// The name the OS knows it by (`/NAME` for a Global name).
    pub os_name: String,
    /// Where the object sits in the file system.
    pub path: String,
    /// `memory`, `file`, or `unknown` (the OS does not say: another
    /// program's mapping, on Windows).
    pub backing: &'static str,
    /// The backing file's path, `null` for memory.
    pub file: Option<String>,
    /// The owner's uid.
    pub owner: u32,
    /// Permission bits, octal as `chmod` takes them (`"0600"`); `null` when
    /// the OS does not say (another program's mapping, on Windows).
    pub mode: Option<String>,
    /// Whether it stays after its last holder goes.
    pub persistent: bool,
    /// Whether some process holds it; `null` when this user may not look.
    pub live: Option<bool>,
    /// `live`, `idle`, `stale` or `unknown` (see [`state`]).
    pub state: &'static str,
    /// The pids of the processes holding it.
    pub holders: Vec<u32>,
    /// `mapping`, `channel`, or `unknown` (this user may not look inside).
    pub kind: &'static str,
    /// What a channel holds; `null` for anything else.
    pub channel: Option<ChannelJson>,
}

/// A channel seen from outside (`memlink::channel::ChannelInfo`).
#[derive(Debug, Serialize)]
pub struct ChannelJson {
    /// `one-to-one`, `many-to-one` or `broadcast`.
    pub kind: &'static str,
    /// Lossy broadcast: slow readers lose the oldest messages.
    pub lossy: bool,
    /// The ring's size in bytes.
    pub capacity: u64,
    /// The largest message in bytes.
    pub max_message: u32,
    /// Ring bytes waiting for the slowest receiver.
    pub used: u64,
    /// Messages sent so far (wraps at 2^32).
    pub messages: u32,
    /// Ring bytes published so far.
    pub bytes: u64,
    /// The endpoint slots, senders first.
    pub endpoints: Vec<EndpointJson>,
}

/// One endpoint slot of a channel.
#[derive(Debug, Serialize)]
pub struct EndpointJson {
    /// `sender` or `receiver`.
    pub role: &'static str,
    /// The slot's index within its role.
    pub slot: u32,
    /// The process that last attached there (0: never).
    pub pid: u32,
    /// Whether a live endpoint holds it now.
    pub alive: bool,
}

/// The words the CLI uses for a channel's kind.
pub fn channel_kind(info: &ChannelInfo) -> &'static str {
    match (info.kind, info.lossy) {
        (Kind::OneToOne, _) => "one-to-one",
        (Kind::ManyToOne, _) => "many-to-one",
        (Kind::Broadcast, false) => "broadcast",
        (Kind::Broadcast, true) => "lossy broadcast",
    }
}

impl From<&ChannelInfo> for ChannelJson {
    fn from(info: &ChannelInfo) -> ChannelJson {
        let endpoints = |role, slots: &[EndpointInfo]| {
            slots
                .iter()
                .filter(|e| e.pid != 0 || e.alive)
                .map(move |e| EndpointJson {
                    role,
                    slot: e.slot,
                    pid: e.pid,
                    alive: e.alive,
                })
                .collect::<Vec<_>>()
        };
        let mut all = endpoints("sender", &info.senders);
        all.extend(endpoints("receiver", &info.receivers));
        ChannelJson {
            kind: match info.kind {
                Kind::OneToOne => "one-to-one",
                Kind::ManyToOne => "many-to-one",
                _ => "broadcast",
            },
            lossy: info.lossy,
            capacity: info.capacity,
            max_message: info.max_message,
            used: info.used,
            messages: info.messages,
            bytes: info.bytes,
            endpoints: all,
        }
    }
}

/// What a named object is, as far as this user can tell: a channel (its
/// header says so and checks out), another memlink object (an event, a
/// doorbell), a plain mapping, or unknown (it cannot be opened to look).
pub enum Contents {
    Channel(ChannelInfo),
    /// A memlink object that is not a readable channel: an event, a wait
    /// set's doorbell, or a channel of another layout version.
    Object(ObjectKind),
    Mapping,
    Unknown,
}

impl Contents {
    /// Looks inside the mapping `info` describes (read-only, for a moment;
    /// another user's too: a header is validated before anything in it is
    /// believed). A stale one is left alone: opening it would reclaim it.
    pub fn of(info: &MappingInfo) -> Contents {
        if state(info) == "stale" {
            return Contents::Unknown;
        }
        match ChannelOptions::new()
            .allow_foreign_owner(true)
            .inspect(&info.name.to_string())
        {
            Ok(info) => Contents::Channel(info),
            Err(Error::WrongKind { .. } | Error::Corrupt { .. } | Error::Unsupported { .. }) => {
                match memlink::identify(&info.name.to_string()) {
                    Ok(ObjectKind::Mapping) | Err(_) => Contents::Mapping,
                    Ok(kind) => Contents::Object(kind),
                }
            }
            Err(_) => Contents::Unknown,
        }
    }

    /// The short word for `ls`.
    pub fn word(&self) -> &'static str {
        match self {
            Contents::Channel(info) => channel_kind(info),
            Contents::Object(kind) => kind.as_str(),
            Contents::Mapping => "mapping",
            Contents::Unknown => "?",
        }
    }
}

impl InfoJson {
    /// The JSON of `info`, with what `contents` found inside.
    pub fn new(info: &MappingInfo, contents: &Contents) -> InfoJson {
        let mut json = InfoJson::from(info);
        (json.kind, json.channel) = match contents {
            Contents::Channel(channel) => ("channel", Some(ChannelJson::from(channel))),
            Contents::Object(kind) => (kind.as_str(), None),
            Contents::Mapping => ("mapping", None),
            Contents::Unknown => ("unknown", None),
        };
        json
    }
}

impl From<&MappingInfo> for InfoJson {
    fn from(info: &MappingInfo) -> InfoJson {
        let (backing, file) = match &info.backing {
            Backing::Memory => ("memory", None),
            Backing::File(path) => ("file", Some(path.to_string_lossy().into_owned())),
            Backing::Unknown => ("unknown", None),
        };
        InfoJson {
            name: info.name.to_string(),
            namespace: info.name.namespace().to_string(),
            base_name: info.name.base().to_owned(),
            size: info.size,
            os_name: info.os_name.clone(),
            path: info.path.to_string_lossy().into_owned(),
            backing,
            file,
            owner: info.owner,
            mode: info.mode.map(mode),
            persistent: info.persistent,
            live: info.live,
            state: state(info),
            holders: info.holders.clone(),
            kind: "unknown",
            channel: None,
        }
    }
}

/// Writes a value as pretty JSON, with a final newline.
pub fn write_json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// The user names of uids, from `/etc/passwd`; uids it does not list (or a
/// system without the file) are shown as numbers.
pub fn user_names() -> HashMap<u32, String> {
    let Ok(text) = std::fs::read_to_string("/etc/passwd") else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            Some((uid, name.to_owned()))
        })
        .collect()
}

/// The owner column: a user name when known, else the uid.
pub fn owner(uid: u32, names: &HashMap<u32, String>) -> String {
    names.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
}

/// Holder pids as a short list, `-` when there are none.
pub fn holders(pids: &[u32]) -> String {
    if pids.is_empty() {
        "-".to_owned()
    } else {
        pids.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Standard base64 (RFC 4648, with padding), for bytes that are not text.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// Size as exact bytes and, when it helps, in a binary unit: `4096 (4 KiB)`.
pub fn size_with_unit(bytes: u64) -> String {
    let human = size::format(bytes);
    if human.ends_with(" B") {
        format!("{bytes} bytes")
    } else {
        format!("{bytes} bytes ({human})")
    }
}

/// A column of a [`Table`].
pub struct Column {
    /// The header.
    pub title: &'static str,
    /// Numbers read better right-aligned.
    pub right: bool,
}

/// A plain text table whose columns are as wide as their widest cell.
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// Writes the header and the rows, two spaces between columns, no
    /// trailing spaces.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(i))
                    .map(|cell| cell.chars().count())
                    .chain([column.title.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let header: Vec<String> = self.columns.iter().map(|c| c.title.to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, column)) in row.iter().zip(&self.columns).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                if column.right {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// A streaming hex dump in the layout of `hexdump -C`: offset, sixteen bytes
/// in two groups, the printable ones beside them, runs of identical lines
/// folded into `*`, and the end offset last. Offsets are those of the
/// mapping, so a dump from `--offset` lines up with one of the whole mapping.
pub struct HexDump<'a> {
    out: &'a mut dyn Write,
    /// The mapping offset of the first byte in `pending`.
    offset: u64,
    pending: Vec<u8>,
    previous: Option<[u8; 16]>,
    folded: bool,
}

impl<'a> HexDump<'a> {
    /// A dump whose first byte is at `offset` in the mapping.
    pub fn new(out: &'a mut dyn Write, offset: u64) -> Self {
        HexDump {
            out,
            offset,
            pending: Vec::with_capacity(16),
            previous: None,
            folded: false,
        }
    }

    /// Adds bytes; full lines are written at once.
    pub fn push(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let take = (16 - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == 16 {
                let mut line = [0u8; 16];
                line.copy_from_slice(&self.pending);
                self.pending.clear();
                self.full_line(line)?;
            }
        }
        Ok(())
    }

    /// Writes the last partial line and the end offset.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(&rest)?;
            self.offset += rest.len() as u64;
        }
        writeln!(self.out, "{:08x}", self.offset)
    }

    fn full_line(&mut self, line: [u8; 16]) -> io::Result<()> {
        if self.previous == Some(line) {
            if !self.folded {
                writeln!(self.out, "*")?;
                self.folded = true;
            }
        } else {
            self.line(&line)?;
            self.previous = Some(line);
            self.folded = false;
        }
        self.offset += 16;
        Ok(())
    }

    fn line(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut text = format!("{:08x}  ", self.offset);
        for i in 0..16 {
            match bytes.get(i) {
                Some(b) => text.push_str(&format!("{b:02x} ")),
                None => text.push_str("   "),
            }
            if i == 7 {
                text.push(' ');
            }
        }
        text.push_str(" |");
        text.extend(bytes.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        }));
        text.push('|');
        writeln!(self.out, "{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(offset: u64, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        let mut hex = HexDump::new(&mut out, offset);
        for chunk in chunks {
            hex.push(chunk).unwrap();
        }
        hex.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn hex_dump_matches_hexdump_c() {
        let text = dump(0, &[b"hello", b" world\n"]);
        assert_eq!(
            text,
            "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |hello world.|\n\
             0000000c\n"
        );
    }

    #[test]
    fn hex_dump_folds_repeated_lines_and_keeps_offsets() {
        let zeros = [0u8; 64];
        let text = dump(0x1000, &[&zeros[..10], &zeros[10..], b"!"]);
        assert_eq!(
            text,
            "00001000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00001040  21                                                |!|\n\
             00001041\n"
        );
    }

    #[test]
    fn empty_dump_is_just_the_offset() {
        assert_eq!(dump(7, &[]), "00000007\n");
    }

    #[test]
    fn table_aligns_columns() {
        let mut table = Table::new(vec![
            Column {
                title: "NAME",
                right: false,
            },
            Column {
                title: "SIZE",
                right: true,
            },
        ]);
        table.push(vec!["Local\\a".into(), "4 KiB".into()]);
        table.push(vec!["b".into(), "1 MiB".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME      SIZE\nLocal\\a  4 KiB\nb        1 MiB\n"
        );
    }

    #[test]
    fn base64_matches_rfc_4648() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
            (b"\xff\xfe\xfd", "//79"),
        ] {
            assert_eq!(base64(input), expected, "{input:?}");
        }
    }

    #[test]
    fn sizes_are_exact_with_a_unit_when_round() {
        assert_eq!(size_with_unit(4096), "4096 bytes (4 KiB)");
        assert_eq!(size_with_unit(5000), "5000 bytes");
    }
}
