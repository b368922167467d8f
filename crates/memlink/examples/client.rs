//! The article's client: open the server's channel by name and print every
//! message until the server has gone.
//!
//! Start the server first (`cargo run -p memlink --example server`), then:
//!
//! ```text
//! cargo run -p memlink --example client            # or: --example client -- NAME
//! ```

use std::time::Duration;

use memlink::channel::Receiver;
use memlink::Error;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "memlink-example".to_owned());

    let mut rx = match Receiver::open(&name) {
        Ok(rx) => rx,
        Err(Error::NotFound { .. }) => {
            return Err(format!("no channel {name}: start the server first").into())
        }
        Err(err) => return Err(err.into()),
    };
    println!("client: connected to {name}");

    // One buffer, reused for every message.
    let mut message = Vec::new();
    loop {
        // Sleeps until a message comes (no polling), at most 30 s.
        match rx.recv_timeout(&mut message, Duration::from_secs(30)) {
            Ok(_) => println!("client: received {:?}", String::from_utf8_lossy(&message)),
            // The server has gone, and every message it sent has been read.
            Err(Error::Disconnected { .. }) => break,
            Err(err) => return Err(err.into()),
        }
    }
    println!("client: the server has gone; everything it sent was read");
    Ok(())
}
