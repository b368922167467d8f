//! `memlink demo`, part one: two real processes share one named mapping.
//!
//! The article's server/client, at its smallest. This process (the server)
//! creates a transient mapping under a unique name and writes a message; it
//! then starts a second copy of this executable (`memlink demo-client NAME`),
//! which opens the mapping *by name*, reads the message and writes a reply.
//! When both have let go, the name is gone: nothing to clean up.
//!
//! The two sides take turns through a stage word at the start of the
//! mapping, polled: raw shared memory has no "wake me" of its own. Part two
//! ([`super::channel`]) shows what channels add.
//!
//! # Layout of the demo mapping
//!
//! | offset | size | contents                                        |
//! |--------|------|-------------------------------------------------|
//! | 0      | 4    | stage, a `u32` (see below)                      |
//! | 64     | 4    | length of the server's message                  |
//! | 68     | 956  | the server's message                            |
//! | 1024   | 4    | length of the client's reply                    |
//! | 1028   | 956  | the client's reply                              |
//!
//! | stage | meaning                        | set by | next  |
//! |-------|--------------------------------|--------|-------|
//! | 0     | nothing written yet            | create | 1     |
//! | 1     | the message is ready           | server | 2     |
//! | 2     | the reply is ready             | client | 3     |
//! | 3     | the server has read the reply  | server | —     |
//!
//! Every store of the stage is `Release`, after the bytes it announces; every
//! load is `Acquire`, before those bytes are read: the pair makes the message
//! (or reply) visible to the side that sees the new stage.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use memlink::{Error, Mapping, View};

use super::{poll_until, unique_name, ClientProcess, STEP_DEADLINE};
use crate::error::{CliResult, Failure};

/// The size of the demo mapping.
const SIZE: u64 = 4096;
/// Offset of the stage word.
const STAGE: usize = 0;
/// The server's message: a length word, then the bytes.
const MESSAGE: Slot = Slot {
    at: 64,
    capacity: 956,
};
/// The client's reply: a length word, then the bytes.
const REPLY: Slot = Slot {
    at: 1024,
    capacity: 956,
};

// The fields must not overlap and must fit in the mapping.
const _: () = {
    assert!(STAGE + 4 <= MESSAGE.at);
    assert!(MESSAGE.at + 4 + MESSAGE.capacity <= REPLY.at);
    assert!((REPLY.at + 4 + REPLY.capacity) as u64 <= SIZE);
};

const MESSAGE_READY: u32 = 1;
const REPLY_READY: u32 = 2;
const SERVER_DONE: u32 = 3;

/// A length-prefixed text field in the mapping.
#[derive(Clone, Copy)]
struct Slot {
    at: usize,
    capacity: usize,
}

impl Slot {
    fn put(self, view: &View, text: &str) -> CliResult {
        let bytes = text.as_bytes();
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|&n| n as usize <= self.capacity)
            .ok_or_else(|| Failure::msg("demo: a message is too long for its slot"))?;
        view.write_at(self.at + 4, bytes)?;
        view.write_at(self.at, &len.to_ne_bytes())?;
        Ok(())
    }

    /// Reads the text back; the length comes from shared memory, so it is
    /// checked before it is used.
    fn get(self, view: &View) -> CliResult<String> {
        let mut word = [0u8; 4];
        view.read_at(self.at, &mut word)?;
        let len = u32::from_ne_bytes(word) as usize;
        if len > self.capacity {
            return Err(Failure::msg(format!(
                "demo: the mapping holds a length of {len} bytes where at most {} fit; \
                 another process changed it",
                self.capacity
            )));
        }
        let mut bytes = vec![0u8; len];
        view.read_at(self.at + 4, &mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The server side.
pub fn run(out: &mut dyn Write) -> CliResult {
    let pid = std::process::id();
    let me = format!("[server, pid {pid}]");
    let name = unique_name(pid);

    let mapping = Mapping::create(&name, SIZE)?;
    let view = mapping.view_all()?;
    writeln!(
        out,
        "{me} created {name}: {SIZE} bytes of shared memory, transient \
         (it ends when the last process holding it lets go)"
    )?;
    writeln!(out, "{me} the OS knows it as {}", mapping.os_name())?;

    let message = format!("hello from the server, pid {pid}");
    MESSAGE.put(&view, &message)?;
    writeln!(out, "{me} wrote {message:?} at offset {}", MESSAGE.at)?;
    view.atomic_u32(STAGE)?
        .store(MESSAGE_READY, Ordering::Release);

    writeln!(
        out,
        "{me} starting a second process: memlink demo-client {name}"
    )?;
    out.flush()?;
    let mut client = ClientProcess::spawn(&["demo-client", &name])?;

    // Wait for the reply, or for the client to fail first.
    let deadline = Instant::now() + STEP_DEADLINE;
    poll_until("the client's reply", deadline, || {
        if view.load_u32(STAGE, Ordering::Acquire)? == REPLY_READY {
            return Ok(true);
        }
        client.check_running("replying")?;
        Ok(false)
    })?;
    let reply = REPLY.get(&view)?;
    writeln!(out, "{me} read the client's reply: {reply:?}")?;

    let holders = Mapping::inspect(&name)?.holders;
    writeln!(
        out,
        "{me} processes holding {name} now: {}",
        holders
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    out.flush()?;
    view.atomic_u32(STAGE)?
        .store(SERVER_DONE, Ordering::Release);

    client.finish()?;
    writeln!(out, "{me} the client has exited; letting go of {name}")?;
    drop(view);
    drop(mapping);

    match Mapping::open(&name) {
        Err(err @ Error::NotFound { .. }) => {
            writeln!(out, "{me} opening {name} again: {err}")?;
            writeln!(
                out,
                "{me} done: the mapping ended with its last holder, nothing to clean up"
            )?;
            Ok(())
        }
        Ok(_) => Err(Failure::msg(format!(
            "demo: {name} still exists after both processes let go"
        ))),
        Err(err) => Err(err.into()),
    }
}

/// The client side: `memlink demo-client NAME`, started by [`run`].
pub fn run_client(name: &str, out: &mut dyn Write) -> CliResult {
    let pid = std::process::id();
    let me = format!("  [client, pid {pid}]");

    let mapping = Mapping::open(name)?;
    if mapping.size() < SIZE {
        return Err(Failure::msg(format!(
            "demo client: {name} is {} bytes, not a demo mapping of {SIZE}",
            mapping.size()
        )));
    }
    let view = mapping.view(0, SIZE)?;
    writeln!(
        out,
        "{me} opened {} by name: {} bytes",
        mapping.name(),
        mapping.size()
    )?;
    // The server announced the message before starting us.
    if view.load_u32(STAGE, Ordering::Acquire)? != MESSAGE_READY {
        return Err(Failure::msg(format!(
            "demo client: {name} holds no message from the demo server"
        )));
    }
    let message = MESSAGE.get(&view)?;
    writeln!(out, "{me} read {message:?}")?;

    let reply = format!("hello back from the client, pid {pid}");
    REPLY.put(&view, &reply)?;
    writeln!(out, "{me} wrote {reply:?} at offset {}", REPLY.at)?;
    out.flush()?;
    view.atomic_u32(STAGE)?
        .store(REPLY_READY, Ordering::Release);

    // Stay a holder until the server has looked, so it can see both of us.
    poll_until(
        "the server to read the reply",
        Instant::now() + STEP_DEADLINE,
        || Ok(view.load_u32(STAGE, Ordering::Acquire)? == SERVER_DONE),
    )?;
    writeln!(out, "{me} letting go of {} and exiting", mapping.name())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_refuse_a_corrupt_length() {
        let name = format!("memlink-cli-demo-unit-{}", std::process::id());
        let mapping = Mapping::create(&name, SIZE).unwrap();
        let view = mapping.view_all().unwrap();
        MESSAGE.put(&view, "hello").unwrap();
        assert_eq!(MESSAGE.get(&view).unwrap(), "hello");
        assert!(REPLY.put(&view, &"x".repeat(REPLY.capacity + 1)).is_err());

        // Another process may write anything: a length past the slot is an
        // error, not a read of someone else's bytes.
        view.write_at(REPLY.at, &u32::MAX.to_ne_bytes()).unwrap();
        let err = REPLY.get(&view).unwrap_err().to_string();
        assert!(err.contains("at most 956"), "{err}");
    }
}
