//! The article's Win32 client against memlink's mappings: a C program built
//! with mingw (`tests/windows/article_client.c`, by `.ci/windows.sh`) opens
//! a mapping that this test process made and wrote, with the article's exact
//! calls: `OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, name)` and
//! `MapViewOfFile(.., FILE_MAP_ALL_ACCESS, ..)`.
//!
//! `MEMLINK_ARTICLE_CLIENT` names the client executable; without it these
//! tests fail (they are the proof that the article's client works, so they
//! must not pass without running it).
#![cfg(windows)]

mod support;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

use memlink::{Mapping, MappingOptions};
use support::{unique_name, DEADLINE};

/// Where the message sits; the client writes its reply right after it.
const MESSAGE_ROOM: usize = 64;

/// Runs the article's client on `os_name`, with a deadline.
fn run_client(os_name: &str, reply: &str) -> Output {
    let exe = std::env::var_os("MEMLINK_ARTICLE_CLIENT").expect(
        "MEMLINK_ARTICLE_CLIENT must name the mingw build of tests/windows/article_client.c \
         (.ci/windows.sh builds it and sets it)",
    );
    let child = Command::new(exe)
        .args([os_name, &MESSAGE_ROOM.to_string(), reply])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the article's client");
    let (send, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    done.recv_timeout(DEADLINE)
        .expect("the article's client did not finish within the deadline")
        .expect("wait for the article's client")
}

/// The owner of a read-write mapping opens it with `FILE_MAP_ALL_ACCESS`,
/// reads what memlink wrote and writes back, in `namespace`.
fn owner_opens_with_all_access(namespace: &str) {
    let name = format!("{namespace}\\{}", unique_name("article"));
    let mapping = Mapping::create(&name, 4096).unwrap();
    assert_eq!(mapping.mode(), 0o600);
    let view = mapping.view_all().unwrap();
    view.write_at(0, b"Message from first process.").unwrap();

    let output = run_client(mapping.os_name(), "reply from the article's client");
    assert!(
        output.status.success(),
        "the article's client failed with status {:?} (5 is ERROR_ACCESS_DENIED): {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Message from first process."
    );
    let mut reply = [0u8; 31];
    view.read_at(MESSAGE_ROOM, &mut reply).unwrap();
    assert_eq!(&reply, b"reply from the article's client");
}

#[test]
fn the_owner_opens_a_global_mapping_with_file_map_all_access() {
    owner_opens_with_all_access("Global");
}

#[test]
fn the_owner_opens_a_local_mapping_with_file_map_all_access() {
    owner_opens_with_all_access("Local");
}

/// Full access comes with write access: a mapping whose mode lets nobody
/// write (0400) stays closed to `FILE_MAP_ALL_ACCESS`, even for its owner.
#[test]
fn a_read_only_mode_still_refuses_file_map_all_access() {
    let name = unique_name("article-ro");
    let mapping = MappingOptions::new()
        .size(4096)
        .mode(0o400)
        .create(&name)
        .unwrap();
    let output = run_client(mapping.os_name(), "must not land");
    // ERROR_ACCESS_DENIED
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut bytes = [0u8; 4];
    mapping
        .view_all()
        .unwrap()
        .read_at(MESSAGE_ROOM, &mut bytes)
        .unwrap();
    assert_eq!(bytes, [0; 4]);
}
