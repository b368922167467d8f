//! [`NamedEvent`]: an event that is a named object of its own.
//!
//! It is a small mapping (256 bytes) that starts with the header every named
//! memlink object has (magic `"memlink\0"`, kind, layout version, size),
//! followed by an [`Event`] in the next 128-byte line. The creator writes both
//! before the name becomes visible, and every open validates the header, so
//! opening a plain mapping or another kind of object as an event is a clear
//! error.

use std::ops::Deref;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use super::event::EventKind;
use crate::error::{Error, Result};
use crate::layout::{
    self, kind, Anchored, Event, NamedEventLayout, ObjectHeader, LINE, NAMED_EVENT_VERSION,
    OBJECT_MAGIC, TAG_EVENT_AUTO, TAG_EVENT_MANUAL,
};
use crate::mapping::{Disposition, Mapping, MappingOptions, View};
use crate::name::Name;

/// The size of a named event's mapping.
const SIZE: usize = std::mem::size_of::<NamedEventLayout>();
const WHAT: &str = "event";
const NOT_MEMLINK: &str = "mapping without a memlink header";

/// An [`Event`] that other processes find by name: the article's
/// "data is ready" message, without a window to post it to.
///
/// It dereferences to [`Event`], so it has every method of one (`set`,
/// `wait_timeout`, `notify_all`, ...). It lives, like a mapping, until its
/// last holder drops it or dies. Names follow [`Name`]: `Local\NAME` (the
/// default) or `Global\NAME`, in the same namespace as mappings.
///
/// ```
/// use memlink::{EventKind, NamedEvent};
/// use std::time::Duration;
/// # let name = format!("doc-named-event-{}", std::process::id());
///
/// // The server:
/// let data_ready = NamedEvent::create(&name, EventKind::AutoReset)?;
///
/// // The client, normally in another process:
/// let client = NamedEvent::open(&name)?;
///
/// data_ready.set();
/// assert!(client.wait_timeout(Duration::from_secs(1)));
/// # Ok::<(), memlink::Error>(())
/// ```
pub struct NamedEvent {
    /// Shared with the reactor while a `wait_async` is pending.
    object: Arc<Anchored<NamedEventLayout>>,
}

impl NamedEvent {
    /// Creates a named event, not set. Fails with
    /// [`Error::AlreadyExists`] if the name is taken (by an event or any
    /// other mapping).
    pub fn create(name: &str, kind: EventKind) -> Result<NamedEvent> {
        let mapping = MappingOptions::new()
            .size(SIZE as u64)
            .create_initialized(name, |view| initialise(view, kind))?;
        Self::from_mapping(&mapping)
    }

    /// Opens an existing named event.
    ///
    /// Fails with [`Error::NotFound`] if there is none, with
    /// [`Error::WrongKind`] if the name is a plain mapping or another kind of
    /// memlink object, and with [`Error::Corrupt`] if its header is
    /// damaged or from an incompatible version.
    pub fn open(name: &str) -> Result<NamedEvent> {
        Self::from_mapping(&Mapping::open(name)?)
    }

    /// Opens the named event, or creates it if it does not exist, and says
    /// which happened. As on Windows, `kind` only matters when the event is
    /// created; an opened event keeps its own kind (see [`Event::kind`]).
    pub fn open_or_create(name: &str, kind: EventKind) -> Result<(NamedEvent, Disposition)> {
        // Another process may create or remove the name between our
        // attempts; a few rounds settle any such race.
        for _ in 0..8 {
            match Self::open(name) {
                Ok(event) => return Ok((event, Disposition::Opened)),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            match Self::create(name, kind) {
                Ok(event) => return Ok((event, Disposition::Created)),
                Err(Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::Busy {
            name: name.to_owned(),
        })
    }

    /// The event's name.
    pub fn name(&self) -> &Name {
        self.object.view().name()
    }

    fn from_mapping(mapping: &Mapping) -> Result<NamedEvent> {
        let name = mapping.name().to_string();
        let len = usize::try_from(mapping.size())
            .unwrap_or(usize::MAX)
            .min(SIZE);
        if len < LINE {
            return Err(wrong_kind(name, NOT_MEMLINK));
        }
        let view = mapping.view(0, len as u64)?;
        validate_header(
            layout::place::<ObjectHeader>(&view, 0, WHAT)?,
            &name,
            mapping.size(),
        )?;
        let object = Anchored::<NamedEventLayout>::new(view, 0, WHAT)?;
        let tag = object.event.tag.load(Relaxed);
        if tag != TAG_EVENT_AUTO && tag != TAG_EVENT_MANUAL {
            return Err(Error::Corrupt {
                name,
                what: format!(
                    "the header says event, but the event inside is {} (tag {tag:#010x})",
                    layout::describe_tag(tag)
                ),
            });
        }
        Ok(NamedEvent {
            object: Arc::new(object),
        })
    }

    /// The event's mapping, for keeping it alive in the reactor.
    pub(super) fn shared(&self) -> &Arc<Anchored<NamedEventLayout>> {
        &self.object
    }
}

/// Writes a new named event into `view` (the whole, still unpublished
/// mapping): the event first, the header's magic last.
fn initialise(view: &View, kind: EventKind) -> Result<()> {
    Event::init_in(view, LINE, kind)?;
    let header = layout::place::<ObjectHeader>(view, 0, WHAT)?;
    header.kind.store(layout::kind::EVENT, Relaxed);
    header.version.store(NAMED_EVENT_VERSION, Relaxed);
    header.size.store(SIZE as u64, Relaxed);
    // Release: pairs with the Acquire load of the magic in `validate_header`.
    header.magic.store(OBJECT_MAGIC, Release);
    Ok(())
}

/// Reads each header field once and checks it; `mapping_size` is what the
/// OS says the mapping's size is.
fn validate_header(header: &ObjectHeader, name: &str, mapping_size: u64) -> Result<()> {
    // Acquire: pairs with the Release store in `initialise`.
    if header.magic.load(Acquire) != OBJECT_MAGIC {
        return Err(wrong_kind(name.to_owned(), NOT_MEMLINK));
    }
    let found = header.kind.load(Relaxed);
    if found != kind::EVENT {
        return Err(wrong_kind(name.to_owned(), layout::kind_name(found)));
    }
    let version = header.version.load(Relaxed);
    if version != NAMED_EVENT_VERSION {
        return Err(Error::Corrupt {
            name: name.to_owned(),
            what: format!(
                "event layout version {version}; this build of memlink understands version \
                 {NAMED_EVENT_VERSION}"
            ),
        });
    }
    let size = header.size.load(Relaxed);
    if size != SIZE as u64 || mapping_size != SIZE as u64 {
        return Err(Error::Corrupt {
            name: name.to_owned(),
            what: format!(
                "an event is {SIZE} bytes, but the header says {size} and the mapping has \
                 {mapping_size}"
            ),
        });
    }
    Ok(())
}

fn wrong_kind(name: String, found: &'static str) -> Error {
    Error::WrongKind {
        name,
        expected: WHAT,
        found,
    }
}

impl Deref for NamedEvent {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.object.event
    }
}

impl std::fmt::Debug for NamedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedEvent")
            .field("name", &self.name().to_string())
            .field("event", &**self)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    fn unique(tag: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        format!(
            "unit-named-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    #[test]
    fn create_open_and_open_or_create() {
        let name = unique("basic");
        let (a, d) = NamedEvent::open_or_create(&name, EventKind::ManualReset).unwrap();
        assert_eq!(d, Disposition::Created);
        let (b, d) = NamedEvent::open_or_create(&name, EventKind::AutoReset).unwrap();
        assert_eq!(d, Disposition::Opened);
        assert_eq!(b.kind(), EventKind::ManualReset);
        assert!(matches!(
            NamedEvent::create(&name, EventKind::AutoReset),
            Err(Error::AlreadyExists { .. })
        ));
        a.set();
        assert!(b.wait_timeout(Duration::ZERO));
        assert!(NamedEvent::open(&name).unwrap().is_set());
        assert_eq!(a.name(), b.name());
        drop((a, b));
        assert!(matches!(
            NamedEvent::open(&name),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn plain_mappings_are_not_events() {
        let name = unique("plain");
        let _small = Mapping::create(&name, 16).unwrap();
        assert!(matches!(
            NamedEvent::open(&name),
            Err(Error::WrongKind {
                found: NOT_MEMLINK,
                ..
            })
        ));
        let name = unique("plain-big");
        let _big = Mapping::create(&name, 4096).unwrap();
        assert!(matches!(
            NamedEvent::open(&name),
            Err(Error::WrongKind {
                found: NOT_MEMLINK,
                ..
            })
        ));
        assert!(matches!(
            NamedEvent::open_or_create(&name, EventKind::AutoReset),
            Err(Error::WrongKind { .. })
        ));
    }

    #[test]
    fn damaged_headers_are_reported() {
        let name = unique("damaged");
        let event = NamedEvent::create(&name, EventKind::AutoReset).unwrap();
        let view = Mapping::open(&name).unwrap().view_all().unwrap();
        let header = layout::place::<ObjectHeader>(&view, 0, WHAT).unwrap();

        header.kind.store(77, Relaxed);
        assert!(matches!(
            NamedEvent::open(&name),
            Err(Error::WrongKind { found, .. }) if found.contains("unknown kind")
        ));
        header.kind.store(kind::EVENT, Relaxed);

        header.version.store(2, Relaxed);
        let err = NamedEvent::open(&name).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("version 2"), "{err}");
        header.version.store(NAMED_EVENT_VERSION, Relaxed);

        header.size.store(1 << 40, Relaxed);
        assert!(matches!(
            NamedEvent::open(&name),
            Err(Error::Corrupt { .. })
        ));
        header.size.store(SIZE as u64, Relaxed);

        event.tag.store(0, Relaxed);
        assert!(matches!(
            NamedEvent::open(&name),
            Err(Error::Corrupt { .. })
        ));
        event.tag.store(TAG_EVENT_AUTO, Relaxed);
        NamedEvent::open(&name).unwrap();

        // Random bytes over the whole object: an error or an event, never a
        // panic.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut bytes = [0u8; SIZE];
            for b in bytes.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            // Keep a valid prefix for some rounds, so later checks are reached.
            if round % 2 == 0 {
                bytes[..8].copy_from_slice(&OBJECT_MAGIC.to_ne_bytes());
                bytes[8..12].copy_from_slice(&kind::EVENT.to_ne_bytes());
            }
            if round % 4 == 0 {
                bytes[12..16].copy_from_slice(&NAMED_EVENT_VERSION.to_ne_bytes());
                bytes[16..24].copy_from_slice(&(SIZE as u64).to_ne_bytes());
            }
            view.write_at(0, &bytes).unwrap();
            if let Ok(e) = NamedEvent::open(&name) {
                let _ = e.wait_timeout(Duration::ZERO);
            }
        }
    }
}
