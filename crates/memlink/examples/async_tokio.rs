//! An async server under tokio: it answers requests from a channel and stops
//! when a named event is set, waiting on both in one `tokio::select!` and
//! blocking no thread. The client is another process (this example run
//! again with `client`), which sends requests, reads the answers and sets
//! the event.
//!
//! ```text
//! cargo run -p memlink --example async_tokio
//! ```

use std::process::Command;
use std::time::Duration;

use memlink::channel::{ChannelOptions, Receiver, Sender};
use memlink::{EventKind, NamedEvent};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn names(base: &str) -> (String, String, String) {
    (
        format!("{base}-requests"),
        format!("{base}-answers"),
        format!("{base}-stop"),
    )
}

/// The client process: five requests, five answers, then "stop".
fn client(base: &str) -> Result<()> {
    let (requests, answers, stop) = names(base);
    let mut tx = Sender::open(&requests)?;
    let mut rx = Receiver::open(&answers)?;
    for n in 1..=5u32 {
        tx.send(format!("square {n}").as_bytes())?;
        let mut answer = Vec::new();
        rx.recv_timeout(&mut answer, Duration::from_secs(10))?;
        println!("client: {}", String::from_utf8_lossy(&answer));
    }
    NamedEvent::open(&stop)?.set();
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn server(base: &str) -> Result<()> {
    let (requests, answers, stop) = names(base);
    let mut rx = ChannelOptions::new().create_receiver(&requests)?;
    let mut tx = ChannelOptions::new().create_sender(&answers)?;
    let stop = NamedEvent::create(&stop, EventKind::ManualReset)?;
    let mut client = Command::new(std::env::current_exe()?)
        .args(["client", base])
        .spawn()?;
    loop {
        tokio::select! {
            request = rx.recv_async() => {
                let request = match request {
                    Ok(request) => String::from_utf8(request)?,
                    // The client went before the stop was seen.
                    Err(memlink::Error::Disconnected { .. }) => break,
                    Err(e) => return Err(e.into()),
                };
                let n: u64 = request
                    .strip_prefix("square ")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("a request I do not understand: {request:?}"))?;
                println!("server: {request}");
                tx.send_async(format!("{n} squared is {}", n * n).as_bytes()).await?;
            }
            stopped = stop.wait_async() => {
                stopped?;
                println!("server: told to stop");
                break;
            }
        }
    }
    let status = tokio::task::spawn_blocking(move || client.wait()).await??;
    if !status.success() {
        return Err(format!("the client failed: {status}").into());
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("client") => client(args.get(2).ok_or("client NAME")?),
        _ => server(&format!("memlink-async-example-{}", std::process::id())),
    }
}
