//! Deadlines and the small pieces of waiting shared by the primitives.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::layout::{self, Shared};
use crate::mapping::View;
use crate::sys::Limits;

/// A waiter re-reads its word 64 times, with a CPU pause in between, before
/// it parks in the kernel. Short: most of these primitives wait for another
/// *process*, which on a busy machine is often not running at all.
pub(crate) const SPIN_THEN_PARK: Limits = Limits {
    spins: 64,
    yields: 0,
};

/// The deadline `timeout` from now; `None` (no deadline) when it is too far
/// away to represent.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Whether `deadline` has passed.
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// The earlier of a deadline and `slice` from now.
pub(crate) fn slice_deadline(deadline: Option<Instant>, slice: Duration) -> Option<Instant> {
    let end = deadline_after(slice);
    match (deadline, end) {
        (Some(d), Some(e)) => Some(d.min(e)),
        (d, None) => d,
        (None, e) => e,
    }
}

/// Places a `T` and checks the tag word that `init_in` wrote last; `tag_of`
/// picks the tag out of the placed value, `accept` says whether it is right.
pub(crate) fn attach<'v, T: Shared>(
    view: &'v View,
    offset: usize,
    what: &'static str,
    tag_of: impl FnOnce(&T) -> u32,
    accept: impl FnOnce(u32) -> bool,
) -> Result<&'v T> {
    let placed = layout::place::<T>(view, offset, what)?;
    let tag = tag_of(placed);
    if accept(tag) {
        Ok(placed)
    } else {
        Err(Error::WrongKind {
            name: format!("{} at offset {offset}", view.name()),
            expected: what,
            found: layout::describe_tag(tag),
        })
    }
}
