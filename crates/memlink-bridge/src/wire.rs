//! What one Zenoh sample carries: a 16-byte header, then the message.
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..2 | magic `ML` | refuses samples that are not ours |
//! | 2 | version, 1 | refuses samples from an incompatible bridge |
//! | 3 | kind | 0 a message, 1 the end of a stream (its sender left) |
//! | 4..8 | stream (u32, little-endian) | chosen at random each time an exporter opens its channel |
//! | 8..16 | sequence (u64, little-endian) | 0, 1, 2... within a stream; an end carries the next one |
//!
//! The sequence number lets the importer count what never arrived (lossy
//! mode, or messages in flight when a bridge died) and drop a repeated or
//! stale one; the stream tells a restarted exporter from the one before.

/// Header size in bytes.
pub const HEADER: usize = 16;
const MAGIC: [u8; 2] = *b"ML";
const VERSION: u8 = 1;
const KIND_MESSAGE: u8 = 0;
const KIND_END: u8 = 1;

/// A decoded sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A message of stream `stream`, number `seq`.
    Message {
        /// The stream it belongs to.
        stream: u32,
        /// Its number in the stream.
        seq: u64,
        /// The message itself.
        payload: &'a [u8],
    },
    /// Stream `stream` ended after `seq` messages: its local sender left.
    End {
        /// The stream that ended.
        stream: u32,
        /// How many messages it had.
        seq: u64,
    },
}

/// The header that goes before message `seq` of stream `stream`.
pub fn message_header(stream: u32, seq: u64) -> [u8; HEADER] {
    header(KIND_MESSAGE, stream, seq)
}

/// The whole sample that ends stream `stream` after `seq` messages.
pub fn end(stream: u32, seq: u64) -> [u8; HEADER] {
    header(KIND_END, stream, seq)
}

fn header(kind: u8, stream: u32, seq: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..2].copy_from_slice(&MAGIC);
    h[2] = VERSION;
    h[3] = kind;
    h[4..8].copy_from_slice(&stream.to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h
}

/// Decodes a sample, or says why it is not one of ours.
pub fn decode(sample: &[u8]) -> Result<Frame<'_>, String> {
    let Some((h, payload)) = sample.split_first_chunk::<HEADER>() else {
        return Err(format!(
            "{} bytes, shorter than the {HEADER}-byte header",
            sample.len()
        ));
    };
    if h[0..2] != MAGIC {
        return Err(format!("bad magic {:02x}{:02x}", h[0], h[1]));
    }
    if h[2] != VERSION {
        return Err(format!("version {} (this bridge speaks {VERSION})", h[2]));
    }
    let mut stream = [0u8; 4];
    stream.copy_from_slice(&h[4..8]);
    let stream = u32::from_le_bytes(stream);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[8..16]);
    let seq = u64::from_le_bytes(seq);
    match h[3] {
        KIND_MESSAGE => Ok(Frame::Message {
            stream,
            seq,
            payload,
        }),
        KIND_END if payload.is_empty() => Ok(Frame::End { stream, seq }),
        KIND_END => Err(format!("an end with {} trailing bytes", payload.len())),
        kind => Err(format!("unknown kind {kind}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_named() {
        let mut sample = message_header(7, 42).to_vec();
        sample.extend_from_slice(b"hello");
        assert_eq!(
            decode(&sample),
            Ok(Frame::Message {
                stream: 7,
                seq: 42,
                payload: b"hello"
            })
        );
        assert_eq!(decode(&end(7, 43)), Ok(Frame::End { stream: 7, seq: 43 }));
        assert!(decode(b"short").unwrap_err().contains("shorter"));
        assert!(decode(&[0u8; 20]).unwrap_err().contains("magic"));
        let mut v2 = end(1, 1);
        v2[2] = 2;
        assert!(decode(&v2).unwrap_err().contains("version"));
        let mut odd = end(1, 1);
        odd[3] = 9;
        assert!(decode(&odd).unwrap_err().contains("kind"));
        let mut long_end = end(1, 1).to_vec();
        long_end.push(0);
        assert!(decode(&long_end).unwrap_err().contains("trailing"));
    }
}
