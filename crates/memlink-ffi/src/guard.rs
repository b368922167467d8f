//! The per-endpoint "one call at a time" guard.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::failure::Failure;

/// An endpoint's state with a guard that lets one call in at a time: a
/// second thread calling meanwhile gets `ML_ERR_STATE` instead of a race.
pub(crate) struct Endpoint<S> {
    busy: AtomicBool,
    state: UnsafeCell<S>,
}

impl<S> Endpoint<S> {
    pub(crate) fn new(state: S) -> Self {
        Endpoint {
            busy: AtomicBool::new(false),
            state: UnsafeCell::new(state),
        }
    }

    /// Enters the endpoint, or fails if another call is inside.
    pub(crate) fn enter(&self, what: &'static str) -> Result<Entered<'_, S>, Failure> {
        // Acquire: pairs with the Release in `Entered::drop`, so this call
        // sees everything the previous call (maybe on another thread) did.
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(Failure::state(format!(
                "another thread is inside a call on this {what}; an endpoint serves one call at \
                 a time"
            )));
        }
        Ok(Entered {
            busy: &self.busy,
            // SAFETY: `busy` was false and is now ours: no other reference
            // to the state exists until `Entered` drops.
            state: unsafe { &mut *self.state.get() },
        })
    }
}

/// The state of an entered endpoint; leaving (also by unwinding) lets the
/// next call in.
pub(crate) struct Entered<'a, S> {
    busy: &'a AtomicBool,
    state: &'a mut S,
}

impl<S> Deref for Entered<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        self.state
    }
}

impl<S> DerefMut for Entered<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        self.state
    }
}

impl<S> Drop for Entered<'_, S> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `Endpoint::enter`.
        self.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_admits_one_call_at_a_time() {
        let e = Endpoint::new(5u32);
        let mut first = e.enter("sender").unwrap();
        *first += 1;
        assert!(matches!(e.enter("sender"), Err(f) if f.code == crate::codes::ML_ERR_STATE));
        drop(first);
        assert_eq!(*e.enter("sender").unwrap(), 6);
    }
}
