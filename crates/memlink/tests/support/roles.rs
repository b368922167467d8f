//! Child roles that several multi-process test files play.

use memlink::channel::Sender;
use memlink::NamedEvent;

use super::{tell_parent, wait_for_parent};

/// Attaches a sender to `name`, says `attached`, and holds it until the
/// parent closes stdin (or kills this process).
pub fn hold_sender(name: &str) {
    let _tx = Sender::open(name).unwrap();
    tell_parent("attached");
    wait_for_parent();
}

/// Attaches a sender to `name`, says `attached`, sends `message` when told
/// (saying `sent`), and holds it until stdin closes.
pub fn send_when_told(name: &str, message: &[u8]) {
    let mut tx = Sender::open(name).unwrap();
    tell_parent("attached");
    wait_for_parent();
    tx.send(message).unwrap();
    tell_parent("sent");
    wait_for_parent();
}

/// Opens the event `name`, says `opened`, sets it when told (saying `set`),
/// and holds it until stdin closes.
pub fn set_when_told(name: &str) {
    let event = NamedEvent::open(name).unwrap();
    tell_parent("opened");
    wait_for_parent();
    event.set();
    tell_parent("set");
    wait_for_parent();
}
