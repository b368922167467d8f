//! Full file systems: a page that the file system cannot back must be a
//! clear `NoSpace` when a view is mapped, never SIGBUS when it is touched.
//!
//! memlink allocates the objects it creates, but it also maps what others
//! made: a sparse object (`truncate -s`, Python's `shared_memory`) or a
//! sparse backing file. Each test runs in a mount namespace of its own with
//! a 256 KiB tmpfs on `/dev/shm`, fills it, and checks what every kind of
//! view says; the parent checks that the child exited normally (a SIGBUS
//! kills it with signal 7). Needs root (as in CI) for the namespace and the
//! mount; run as another user the test says so and passes without checking.
#![cfg(target_os = "linux")]

mod support;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use memlink::{Access, Error, Mapping, MappingOptions};

const SHM: &str = "/dev/shm";
const OBJECT: u64 = 1 << 20;
/// Far inside the 1 MiB object, past what 256 KiB can hold.
const DEEP: u64 = 900_000;

fn mount_small_shm() {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "memlink-test", SHM])
        .status()
        .expect("run mount");
    assert!(status.success(), "mount a small tmpfs on {SHM}: {status}");
}

/// Writes to `/dev/shm/fill` until the file system is full.
fn fill_shm() {
    let mut fill = File::create(format!("{SHM}/fill")).unwrap();
    let block = [0u8; 4096];
    while fill.write_all(&block).is_ok() {}
}

fn sparse(path: &str) {
    File::create(path).unwrap().set_len(OBJECT).unwrap();
}

fn expect_no_space(what: &str, got: memlink::Result<memlink::View>) {
    match got {
        Err(Error::NoSpace { .. }) => {}
        Err(e) => panic!("{what}: expected NoSpace, got {e}"),
        Ok(_) => panic!("{what}: a view of unbacked pages on a full file system was mapped"),
    }
}

fn play(role: &str, _arg: &str) {
    assert_eq!(role, "full-shm");
    mount_small_shm();
    // Another program's sparse object, and a sparse backing file behind a
    // file-backed memlink mapping (made while there is still room for its
    // entry).
    sparse(&format!("{SHM}/foreign"));
    sparse(&format!("{SHM}/backing"));
    let file_backed = MappingOptions::new()
        .file(format!("{SHM}/backing"))
        .create("Global\\file-backed")
        .unwrap();
    fill_shm();

    let foreign = Mapping::open("Global\\foreign").unwrap();
    expect_no_space("read-write view", foreign.view(DEEP, 5));
    expect_no_space(
        "copy-on-write view",
        foreign.view_with(DEEP, 5, Access::CopyOnWrite),
    );
    let read_only = MappingOptions::new()
        .access(Access::ReadOnly)
        .open("Global\\foreign")
        .unwrap();
    expect_no_space("read-only view", read_only.view(DEEP, 5));
    expect_no_space("file-backed view", file_backed.view(DEEP, 5));

    // With room again, the same views work and nothing was lost or changed.
    std::fs::remove_file(format!("{SHM}/fill")).unwrap();
    let view = foreign.view(DEEP, 5).unwrap();
    let mut buf = [1u8; 5];
    view.read_at(0, &mut buf).unwrap();
    assert_eq!(buf, [0; 5]);
    view.write_at(0, b"hello").unwrap();
    read_only
        .view(DEEP, 5)
        .unwrap()
        .read_at(0, &mut buf)
        .unwrap();
    assert_eq!(&buf, b"hello");
    file_backed
        .view(DEEP, 5)
        .unwrap()
        .write_at(0, b"disk!")
        .unwrap();
    let mut file = OpenOptions::new()
        .read(true)
        .open(format!("{SHM}/backing"))
        .unwrap();
    let mut back = vec![0u8; OBJECT as usize];
    std::io::Read::read_exact(&mut file, &mut back).unwrap();
    assert_eq!(&back[DEEP as usize..DEEP as usize + 5], b"disk!");
}

#[test]
fn views_of_unbacked_pages_on_a_full_file_system_say_no_space() {
    const TEST: &str = "views_of_unbacked_pages_on_a_full_file_system_say_no_space";
    if let Some((role, arg)) = support::role() {
        return play(&role, &arg);
    }
    if !support::is_root() {
        eprintln!("skipped: a mount namespace with a small /dev/shm needs root");
        return;
    }
    let output = support::run_in_own_mount_namespace(TEST, "full-shm", "")
        .expect("run unshare (util-linux)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.signal(),
        Some(7),
        "the child died of SIGBUS:\n{stderr}"
    );
    assert!(
        output.status.success(),
        "the child failed ({}):\n{stderr}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
}
