//! The article's server: create a named channel, wait for a client, and tell
//! it that data is ready, a few times.
//!
//! Run it, then the client, in two terminals:
//!
//! ```text
//! cargo run -p memlink --example server            # or: --example server -- NAME
//! cargo run -p memlink --example client
//! ```

use std::time::Duration;

use memlink::channel::{ChannelOptions, Kind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "memlink-example".to_owned());

    // One sender (us), one receiver (the client), a 64 KiB ring. The channel
    // is transient: it vanishes when the last process using it lets go, even
    // if that process crashes, so there is nothing to clean up.
    let mut tx = ChannelOptions::new()
        .kind(Kind::OneToOne)
        .capacity(64 * 1024)
        .max_message(1024)
        .create_sender(&name)?;
    println!("server: created channel {name}; waiting for a client");
    println!("server: (run: cargo run -p memlink --example client -- {name})");

    // Messages sent now would wait in the ring for the client anyway; waiting
    // first makes sure that someone else holds the channel before we leave.
    // (It sleeps in the kernel; the client's arrival wakes it.)
    tx.wait_for_receiver(Duration::from_secs(60))
        .map_err(|_| "no client came within a minute")?;
    println!("server: a client connected");

    for i in 1..=5 {
        let message = format!("data is ready: reading {i} of 5");
        // Copies the message into shared memory and wakes the client. It
        // waits only if the ring is full (the client is behind), at most 10 s.
        tx.send_timeout(message.as_bytes(), Duration::from_secs(10))?;
        println!("server: sent {message:?}");
        // Pretend that the next reading takes a while, so the client is
        // asleep in `recv` when it comes.
        std::thread::sleep(Duration::from_millis(50));
    }

    // Leaving is safe now: the client holds the channel too, reads what it has
    // not read yet, and then learns that we have gone (`Disconnected`).
    println!("server: done");
    Ok(())
}
