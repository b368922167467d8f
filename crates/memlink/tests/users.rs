//! Mappings and other users: owner-only by default, planted names refused,
//! sharing when the mode allows it. A child drops to another user, so these
//! tests need root (as in CI); run as another user they say so and pass
//! without checking anything.
//!
//! Unix only: they switch users with setuid/setgid, read uids and permission
//! bits, and plant directories in `/dev/shm`, none of which exists on Windows
//! (where owners are SIDs, checked by the backend's own tests).
#![cfg(unix)]

mod support;

use memlink::{Access, Error, ErrorCode, Mapping, MappingOptions};
use support::{role, unique_name, Child, Cleanup, NOBODY};

/// A user id with no account, whose `Local\` directory nobody else uses.
#[cfg(target_os = "linux")]
const STRANGER: (u32, u32) = (65533, 65533);

fn outcome<T>(result: memlink::Result<T>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => format!("{:?}", e.code()),
    }
}

fn play(role: &str, name: &str) {
    match role {
        "open-rw" => support::tell_parent(&outcome(Mapping::open(name))),
        "open-ro" => support::tell_parent(&outcome(
            MappingOptions::new().access(Access::ReadOnly).open(name),
        )),
        "open-ro-foreign" => {
            let result = MappingOptions::new()
                .access(Access::ReadOnly)
                .allow_foreign_owner(true)
                .open(name)
                .and_then(|m| {
                    let mut buf = [0u8; 4];
                    m.view(0, 4)?.read_at(0, &mut buf)?;
                    Ok(buf)
                });
            match result {
                Ok(buf) => support::tell_parent(&String::from_utf8_lossy(&buf)),
                Err(e) => support::tell_parent(&format!("{:?}", e.code())),
            }
        }
        "open-rw-foreign" => support::tell_parent(&outcome(
            MappingOptions::new().allow_foreign_owner(true).open(name),
        )),
        "create-shared-and-hold" => {
            let mapping = MappingOptions::new()
                .size(4096)
                .mode(0o666)
                .create(name)
                .unwrap();
            mapping.view_all().unwrap().write_at(0, b"mine").unwrap();
            support::tell_parent("ready");
            support::wait_for_parent();
        }
        "open-or-create" => {
            let result = Mapping::open_or_create(name, 1);
            support::tell_parent(&match result {
                Ok((_, d)) => format!("{d:?}"),
                Err(e) => format!("{:?}", e.code()),
            });
        }
        "create" => support::tell_parent(&outcome(Mapping::create(name, 1))),
        // `name` is "NAME PATH": the entry of a file-backed mapping cannot be
        // rewritten by this user, but the mapping is usable through its file.
        "rewrite-link-then-write" => {
            let (name, entry) = name.split_once(' ').unwrap();
            let rewrite = std::fs::OpenOptions::new().write(true).open(entry);
            let refused =
                matches!(&rewrite, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied);
            let wrote = MappingOptions::new()
                .allow_foreign_owner(true)
                .open(name)
                .and_then(|m| m.view_all()?.write_at(0, b"nobody"));
            support::tell_parent(&format!("refused {refused}, wrote {}", outcome(wrote)));
        }
        // `name` is "NAME PATH": a file-backed mapping of PATH, shared (0666),
        // held until the parent says go.
        "create-link-and-hold" => {
            let (name, file) = name.split_once(' ').unwrap();
            let _m = MappingOptions::new()
                .mode(0o666)
                .file(file)
                .create(name)
                .unwrap();
            support::tell_parent("ready");
            support::wait_for_parent();
        }
        // `name` is an entry's path: a read-only opener takes the whole
        // entry exclusively (flock needs no write access) and keeps it.
        "flock-exclusive" => {
            let entry = std::fs::File::open(name).unwrap();
            let locked =
                rustix::fs::flock(&entry, rustix::fs::FlockOperation::NonBlockingLockExclusive);
            support::tell_parent(&format!("{locked:?}"));
            support::wait_for_parent();
        }
        // Attaches a sender, sends one message and holds until killed.
        "send-one" => {
            let mut tx = memlink::channel::Sender::open(name).unwrap();
            tx.send(b"one").unwrap();
            support::tell_parent("sent");
            support::wait_for_parent();
        }
        // `name` is an entry's path: a read-only opener takes an OFD read
        // lock on the first endpoint slot's byte (the sender's) and keeps it.
        #[cfg(target_os = "linux")]
        "read-lock-sender-slot" => {
            use std::os::fd::AsRawFd;
            let entry = std::fs::File::open(name).unwrap();
            // SAFETY: all-zero is a valid `flock64`.
            let mut lock: libc::flock64 = unsafe { std::mem::zeroed() };
            lock.l_type = libc::F_RDLCK as libc::c_short;
            lock.l_whence = libc::SEEK_SET as libc::c_short;
            lock.l_start = ENDPOINT_LOCK_BASE;
            lock.l_len = 1;
            #[cfg(target_pointer_width = "32")]
            let fcntl64 = libc::SYS_fcntl64;
            #[cfg(target_pointer_width = "64")]
            let fcntl64 = libc::SYS_fcntl;
            // SAFETY: an open descriptor and a valid `flock64`, as the
            // 64-bit fcntl takes.
            let rc = unsafe {
                libc::syscall(
                    fcntl64,
                    entry.as_raw_fd(),
                    libc::F_OFD_SETLK,
                    &mut lock as *mut libc::flock64,
                )
            };
            support::tell_parent(&format!("{rc}"));
            support::wait_for_parent();
        }
        other => panic!("unknown role {other}"),
    }
}

/// Where endpoint byte locks start (`sys/linux/peers.rs`).
#[cfg(target_os = "linux")]
const ENDPOINT_LOCK_BASE: i64 = 1 << 40;

macro_rules! root_only {
    () => {
        if let Some((r, name)) = role() {
            return play(&r, &name);
        }
        if !support::is_root() {
            eprintln!("skipped: switching to another user needs root");
            return;
        }
    };
}

fn ask(test: &str, role: &str, name: &str, user: (u32, u32)) -> String {
    let mut child = Child::spawn_as(test, role, name, Some(user));
    let answer = child.recv();
    child.finish();
    answer
}

#[test]
fn owner_only_by_default() {
    root_only!();
    let name = format!("Global\\{}", unique_name("owner-only"));
    let _cleanup = Cleanup(name.clone());
    let _mine = Mapping::create(&name, 4096).unwrap();
    let answer = ask("owner_only_by_default", "open-rw", &name, NOBODY);
    assert_eq!(answer, format!("{:?}", ErrorCode::PermissionDenied));
}

#[test]
fn a_wider_mode_shares_read_only_and_no_more() {
    root_only!();
    let name = format!("Global\\{}", unique_name("shared-ro"));
    let _cleanup = Cleanup(name.clone());
    let mine = MappingOptions::new()
        .size(4096)
        .mode(0o644)
        .create(&name)
        .unwrap();
    mine.view_all().unwrap().write_at(0, b"root").unwrap();
    let test = "a_wider_mode_shares_read_only_and_no_more";
    // Without trusting the owner, the other user refuses; trusting, it reads.
    assert_eq!(
        ask(test, "open-ro", &name, NOBODY),
        format!("{:?}", ErrorCode::ForeignOwner)
    );
    assert_eq!(ask(test, "open-ro-foreign", &name, NOBODY), "root");
    assert_eq!(
        ask(test, "open-rw-foreign", &name, NOBODY),
        format!("{:?}", ErrorCode::PermissionDenied)
    );
}

#[test]
fn a_name_planted_by_another_user_is_refused_unless_allowed() {
    root_only!();
    let name = format!("Global\\{}", unique_name("planted"));
    let _cleanup = Cleanup(name.clone());
    let mut child = Child::spawn_as(
        "a_name_planted_by_another_user_is_refused_unless_allowed",
        "create-shared-and-hold",
        &name,
        Some(NOBODY),
    );
    child.expect("ready");
    match Mapping::open(&name) {
        Err(Error::ForeignOwner { owner, .. }) => assert_eq!(owner, NOBODY.0),
        other => panic!("{other:?}"),
    }
    // Sharing across users when both sides agree: the planted mapping's mode
    // allows it and we choose to trust its owner.
    let trusted = MappingOptions::new()
        .allow_foreign_owner(true)
        .open(&name)
        .unwrap();
    assert_eq!(trusted.owner(), NOBODY.0);
    let mut buf = [0u8; 4];
    trusted.view(0, 4).unwrap().read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"mine");
    // The creator leaves; we are the last holder, and cleaning up works
    // across users too.
    child.finish();
    drop(trusted);
    assert!(matches!(
        Mapping::inspect(&name),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn local_names_belong_to_each_user() {
    root_only!();
    let name = unique_name("per-user");
    let _cleanup = Cleanup(name.clone());
    let _mine = Mapping::create(&name, 64).unwrap();
    let answer = ask(
        "local_names_belong_to_each_user",
        "open-or-create",
        &name,
        NOBODY,
    );
    assert_eq!(
        answer, "Created",
        "the other user has its own Local namespace"
    );
}

// Linux only: the per-user directory it plants lives in /dev/shm.
#[cfg(target_os = "linux")]
#[test]
fn a_planted_local_directory_is_refused() {
    root_only!();
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::Path::new("/dev/shm").join(format!("memlink-{}", STRANGER.0));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let answer = ask(
        "a_planted_local_directory_is_refused",
        "create",
        &unique_name("stranger"),
        STRANGER,
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(answer, format!("{:?}", ErrorCode::ForeignOwner));
}

/// A shared file-backed mapping: its entry (which names the file to open)
/// is writable by its owner only, so another user cannot point the owner's
/// opens at a file of their choosing; yet that user shares the mapping
/// through the file, as its permissions allow.
#[cfg(target_os = "linux")]
#[test]
fn a_shared_file_link_cannot_be_rewritten_by_another_user() {
    use std::os::unix::fs::PermissionsExt;
    root_only!();
    let test = "a_shared_file_link_cannot_be_rewritten_by_another_user";
    let name = format!("Global\\{}", unique_name("link-rw"));
    let _cleanup = Cleanup(name.clone());
    let file = std::env::temp_dir().join(unique_name("link-rw"));
    let _remove = support::TempPath(file.clone());
    std::fs::write(&file, [0u8; 4096]).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mine = MappingOptions::new()
        .mode(0o666)
        .file(&file)
        .create(&name)
        .unwrap();
    let entry = Mapping::inspect(&name).unwrap().path;
    let entry_mode = std::fs::metadata(&entry).unwrap().permissions().mode();
    assert_eq!(entry_mode & 0o022, 0, "entry mode {entry_mode:o}");
    let answer = ask(
        test,
        "rewrite-link-then-write",
        &format!("{name} {}", entry.display()),
        NOBODY,
    );
    assert_eq!(answer, "refused true, wrote ok");
    let mut seen = [0u8; 6];
    mine.view_all().unwrap().read_at(0, &mut seen).unwrap();
    assert_eq!(&seen, b"nobody");
}

/// Another user's file-backed mapping (trusted: `allow_foreign_owner`) may
/// only lead to that user's own files: one that points at a file of ours,
/// which we could open and its owner could not make us open, is refused.
#[cfg(target_os = "linux")]
#[test]
fn a_foreign_file_link_leads_only_to_its_owners_files() {
    use std::os::unix::fs::PermissionsExt;
    root_only!();
    let test = "a_foreign_file_link_leads_only_to_its_owners_files";
    let name = format!("Global\\{}", unique_name("link-foreign"));
    let _cleanup = Cleanup(name.clone());
    // Ours, but open to everyone (so the other user can make the mapping).
    let file = std::env::temp_dir().join(unique_name("link-foreign"));
    let _remove = support::TempPath(file.clone());
    std::fs::write(&file, b"root's data").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut child = Child::spawn_as(
        test,
        "create-link-and-hold",
        &format!("{name} {}", file.display()),
        Some(NOBODY),
    );
    child.expect("ready");
    match MappingOptions::new().allow_foreign_owner(true).open(&name) {
        Err(Error::File { source, .. }) => assert!(
            source.to_string().contains("not by the mapping's owner"),
            "{source}"
        ),
        other => panic!("{other:?}"),
    }
    child.finish();
}

/// A read-only peer (mode 0644) that holds the entry with `flock(LOCK_EX)`
/// does not lock its owner out: `open` waits a moment for what could be a
/// removal, then goes on, and the memory is usable.
#[cfg(target_os = "linux")]
#[test]
fn a_read_only_peers_exclusive_lock_does_not_lock_the_owner_out() {
    const TEST: &str = "a_read_only_peers_exclusive_lock_does_not_lock_the_owner_out";
    root_only!();
    let base = unique_name("foreign-ex");
    let name = format!("Global\\{base}");
    let _cleanup = Cleanup(name.clone());
    MappingOptions::new()
        .size(4096)
        .mode(0o644)
        .persistent(true)
        .create(&name)
        .unwrap()
        .view_all()
        .unwrap()
        .write_at(0, b"kept")
        .unwrap();
    let mut peer = Child::spawn_as(
        TEST,
        "flock-exclusive",
        &format!("/dev/shm/{base}"),
        Some(NOBODY),
    );
    assert_eq!(peer.recv(), "Ok(())", "the read-only peer's lock");
    let opened = std::time::Instant::now();
    let mine = Mapping::open(&name).expect("the owner opens despite the foreign lock");
    let waited = opened.elapsed();
    let view = mine.view_all().unwrap();
    let mut buf = [0u8; 4];
    view.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"kept");
    view.write_at(0, b"mine").unwrap();
    eprintln!("open took {waited:?} with the foreign exclusive lock held");
    drop(view);
    drop(mine);
    peer.finish();
}

/// A reader of a channel (one whose mode lets others read without writing:
/// made before memlink refused such modes, or chmod-ed since) takes a read
/// lock on the dead sender's slot byte. It does not pass for a live sender:
/// the receiver learns that its sender was killed; a new sender is told
/// what is in its way; and such a mode is refused for new channels.
#[cfg(target_os = "linux")]
#[test]
fn a_read_only_peers_byte_locks_do_not_pass_for_endpoints() {
    use memlink::channel::{ChannelOptions, Sender};
    use std::os::unix::fs::PermissionsExt;
    const TEST: &str = "a_read_only_peers_byte_locks_do_not_pass_for_endpoints";
    root_only!();
    let base = unique_name("ro-peer");
    let name = format!("Global\\{base}");
    let _cleanup = Cleanup(name.clone());
    let mut options = ChannelOptions::new();
    options.capacity(4096).max_message(1000);
    let mut rx = options.create_receiver(&name).unwrap();
    let entry = format!("/dev/shm/{base}");
    let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
    std::fs::set_permissions(
        &entry,
        std::fs::Permissions::from_mode((mode & !0o777) | 0o644),
    )
    .unwrap();

    let mut sender = Child::spawn(TEST, "send-one", &name);
    sender.expect("sent");
    let mut buf = Vec::new();
    rx.recv_timeout(&mut buf, support::DEADLINE).unwrap();
    assert_eq!(buf, b"one");
    sender.kill9();
    let mut reader = Child::spawn_as(TEST, "read-lock-sender-slot", &entry, Some(NOBODY));
    assert_eq!(reader.recv(), "0", "the read-only peer's read lock");

    match rx.recv_timeout(&mut buf, support::DEADLINE) {
        Err(Error::Disconnected { .. }) => {}
        other => panic!("a read lock passed for the killed sender: {other:?}"),
    }
    match Sender::open(&name) {
        Err(Error::Os { source, .. }) => {
            assert!(source.to_string().contains("read-locked"), "{source}");
        }
        other => panic!("expected the obstruction to be named: {other:?}"),
    }
    reader.finish();

    let refused = ChannelOptions::new()
        .mode(0o644)
        .create_sender(&format!("Global\\{}", unique_name("ro-mode")));
    match refused {
        Err(Error::InvalidArgument { what }) => assert!(what.contains("others"), "{what}"),
        other => panic!("a channel mode with read-only others was accepted: {other:?}"),
    }
}
