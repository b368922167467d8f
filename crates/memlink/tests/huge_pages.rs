//! Huge pages: `MappingOptions::huge_pages(true)` gives huge pages where
//! the system allows them, says `Unsupported` where it does not, and still
//! reserves the memory up front (`NoSpace`, never SIGBUS).
//!
//! Runs in a mount namespace of its own, with tmpfs mounts on `/dev/shm`
//! made for the test (`huge=never`, then `huge=advise`), and reads the
//! kernel's own counters of huge-page-mapped shared memory. Needs root (as
//! in CI) for the namespace and the mounts; run as another user the test
//! says so and passes without checking.
#![cfg(target_os = "linux")]

mod support;

use std::process::Command;

use memlink::{Error, MappingOptions};

const MIB: u64 = 1 << 20;

fn mount_shm(options: &str) {
    let _ = Command::new("umount").arg("/dev/shm").status();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "memlink-test", "/dev/shm"])
        .status()
        .expect("run mount");
    assert!(status.success(), "mount -o {options}: {status}");
}

/// This process's shared memory mapped with huge pages (PMD entries), in
/// bytes.
fn shmem_pmd_mapped() -> u64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("ShmemPmdMapped:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("ShmemPmdMapped in smaps_rollup")
        * 1024
}

fn create_huge(name: &str, size: u64) -> memlink::Result<memlink::Mapping> {
    MappingOptions::new()
        .size(size)
        .huge_pages(true)
        .create(name)
}

fn play(role: &str) {
    assert_eq!(role, "huge");
    mount_shm("size=256m,huge=never");
    match create_huge("Global\\never", 8 * MIB) {
        Err(Error::Unsupported { what }) => assert!(what.contains("huge=never"), "{what}"),
        other => panic!("huge pages on a huge=never tmpfs: {other:?}"),
    }

    mount_shm("size=256m,huge=advise");
    let before = shmem_pmd_mapped();
    let huge = create_huge("Global\\huge", 64 * MIB).unwrap();
    let view = huge.view_all().unwrap();
    // Touch every huge page, so each is mapped in this process.
    for at in (0..64 * MIB).step_by(2 * MIB as usize) {
        view.write_at(at as usize, b"huge").unwrap();
    }
    let gained = shmem_pmd_mapped() - before;
    assert!(
        gained >= 64 * MIB,
        "only {} KiB mapped with huge pages",
        gained / 1024
    );
    drop((view, huge));

    // Reserved up front: a size the tmpfs cannot hold fails at create.
    match create_huge("Global\\too-big", 512 * MIB) {
        Err(Error::NoSpace { .. }) => {}
        other => panic!("a huge mapping larger than the tmpfs: {other:?}"),
    }
    // A small-page mapping on the same tmpfs gets no huge pages.
    let before = shmem_pmd_mapped();
    let small = MappingOptions::new()
        .size(64 * MIB)
        .create("Global\\small")
        .unwrap();
    let view = small.view_all().unwrap();
    for at in (0..64 * MIB).step_by(2 * MIB as usize) {
        view.write_at(at as usize, b"small").unwrap();
    }
    assert_eq!(shmem_pmd_mapped(), before, "huge pages without asking");
}

#[test]
fn huge_pages_where_the_tmpfs_allows_them_unsupported_where_not() {
    const TEST: &str = "huge_pages_where_the_tmpfs_allows_them_unsupported_where_not";
    if let Some((role, _)) = support::role() {
        return play(&role);
    }
    if !support::is_root() {
        eprintln!("skipped: a mount namespace with its own /dev/shm needs root");
        return;
    }
    let output =
        support::run_in_own_mount_namespace(TEST, "huge", "").expect("run unshare (util-linux)");
    assert!(
        output.status.success(),
        "the child failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
