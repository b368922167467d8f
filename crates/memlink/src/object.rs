//! What a named mapping holds, told from its first bytes: a channel, one of
//! the other named memlink objects (an event, a wait set's doorbell), or
//! bytes memlink did not lay out. For listings (`memlink ls`): nothing in
//! it is trusted beyond the two words it reads.

use crate::error::Result;
use crate::layout::{kind, OBJECT_MAGIC};
use crate::mapping::MappingOptions;
use crate::types::Access;

/// What a named mapping holds (see [`identify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A channel ([`crate::channel`]).
    Channel,
    /// A [`NamedEvent`](crate::NamedEvent).
    Event,
    /// A wait set's doorbell: the named word a
    /// [`WaitSet`](crate::channel::WaitSet) sleeps on, removed with it.
    Doorbell,
    /// A named memlink object of a kind this version does not know.
    UnknownObject,
    /// A mapping without a memlink header: the user's own bytes.
    Mapping,
}

impl ObjectKind {
    /// A short lowercase word for it (`channel`, `event`, `doorbell`,
    /// `memlink-object`, `mapping`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Channel => "channel",
            ObjectKind::Event => "event",
            ObjectKind::Doorbell => "doorbell",
            ObjectKind::UnknownObject => "memlink-object",
            ObjectKind::Mapping => "mapping",
        }
    }

    /// What a mapping whose first 16 bytes are `head` holds.
    fn of(head: [u8; 16]) -> ObjectKind {
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&head[at..at + 8]);
            u64::from_ne_bytes(bytes)
        };
        let magic = word(0);
        if crate::channel::is_channel_magic(magic) {
            return ObjectKind::Channel;
        }
        if magic != OBJECT_MAGIC {
            return ObjectKind::Mapping;
        }
        match word(8) as u32 {
            kind::EVENT => ObjectKind::Event,
            kind::DOORBELL => ObjectKind::Doorbell,
            _ => ObjectKind::UnknownObject,
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tells what the mapping `name` holds from its header, opening it
/// read-only for a moment (another user's too), without counting as one of
/// its holders on Unix: looking never keeps an object alive. A mapping
/// smaller than a header is a plain [`ObjectKind::Mapping`]. Which kind of
/// channel, and its state: [`crate::channel::inspect`].
///
/// ```
/// use memlink::{identify, EventKind, Mapping, NamedEvent, ObjectKind};
/// # let id = std::process::id();
/// # let (event_name, plain_name) = (format!("doc-id-ev-{id}"), format!("doc-id-map-{id}"));
/// let event = NamedEvent::create(&event_name, EventKind::AutoReset)?;
/// let plain = Mapping::create(&plain_name, 4096)?;
/// assert_eq!(identify(&event_name)?, ObjectKind::Event);
/// assert_eq!(identify(&plain_name)?, ObjectKind::Mapping);
/// # Ok::<(), memlink::Error>(())
/// ```
pub fn identify(name: &str) -> Result<ObjectKind> {
    let mapping = MappingOptions::new()
        .access(Access::ReadOnly)
        .allow_foreign_owner(true)
        .open(name)?;
    mapping.stop_holding();
    if mapping.size() < 16 {
        return Ok(ObjectKind::Mapping);
    }
    let view = mapping.view(0, 16)?;
    let mut head = [0u8; 16];
    view.read_at(0, &mut head)?;
    Ok(ObjectKind::of(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(magic: u64, second: u64) -> [u8; 16] {
        let mut head = [0u8; 16];
        head[..8].copy_from_slice(&magic.to_ne_bytes());
        head[8..].copy_from_slice(&second.to_ne_bytes());
        head
    }

    #[test]
    fn each_header_is_told_apart() {
        assert_eq!(ObjectKind::of(head(OBJECT_MAGIC, 1)), ObjectKind::Event);
        assert_eq!(ObjectKind::of(head(OBJECT_MAGIC, 2)), ObjectKind::Doorbell);
        assert_eq!(
            ObjectKind::of(head(OBJECT_MAGIC, 99)),
            ObjectKind::UnknownObject
        );
        assert_eq!(ObjectKind::of([0; 16]), ObjectKind::Mapping);
        assert_eq!(ObjectKind::of([0xff; 16]), ObjectKind::Mapping);
    }
}
