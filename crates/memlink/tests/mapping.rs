//! Named mappings between real processes: sharing, lifetime (including
//! `kill -9`), persistence, file backing, access and the size rules.

mod support;

#[cfg(unix)]
use std::path::Path;

use memlink::{Access, Backing, Disposition, Error, Mapping, MappingOptions, Namespace};
use support::{role, unique_name, Child, Cleanup};

/// Where a Local name of this user lives: `/dev/shm/memlink-UID/NAME` on
/// Linux, `/tmp/memlink-UID/NAME` (its entry file) on macOS.
#[cfg(unix)]
fn local_path(base: &str) -> std::path::PathBuf {
    let root = if cfg!(target_os = "linux") {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let uid = rustix::process::geteuid().as_raw();
    Path::new(root).join(format!("memlink-{uid}")).join(base)
}

/// Whether the OS still has something under the Local name `base`: its
/// file on Unix (a leak check), the named section on Windows (which Windows
/// deletes with its last handle).
#[cfg(unix)]
fn still_there(base: &str) -> bool {
    local_path(base).exists()
}

#[cfg(windows)]
fn still_there(base: &str) -> bool {
    Mapping::inspect(base).is_ok()
}

fn read_all(mapping: &Mapping) -> Vec<u8> {
    let mut buf = vec![0u8; mapping.size() as usize];
    mapping.view_all().unwrap().read_at(0, &mut buf).unwrap();
    buf
}

/// Child roles shared by several tests.
fn play(role: &str, name: &str) {
    match role {
        // Creates a transient mapping, writes into it, then holds it until
        // told to go (or killed).
        "create-and-hold" => {
            let mapping = Mapping::create(name, 4096).unwrap();
            mapping
                .view_all()
                .unwrap()
                .write_at(0, b"from the child")
                .unwrap();
            support::tell_parent("ready");
            support::wait_for_parent();
            drop(mapping);
            support::tell_parent("released");
        }
        // Opens an existing mapping and holds it until told to go.
        "open-and-hold" => {
            let mapping = Mapping::open(name).unwrap();
            support::tell_parent("ready");
            support::wait_for_parent();
            drop(mapping);
        }
        "create-persistent" => {
            let mapping = MappingOptions::new()
                .size(100)
                .persistent(true)
                .create(name)
                .unwrap();
            mapping.view_all().unwrap().write_at(0, b"kept").unwrap();
        }
        "open-or-create" => {
            support::wait_for_parent();
            let (mapping, disposition) = Mapping::open_or_create(name, 4096).unwrap();
            support::tell_parent(match disposition {
                Disposition::Created => "created",
                Disposition::Opened => "opened",
            });
            support::wait_for_parent();
            drop(mapping);
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_mapping_written_by_one_process_is_read_by_another() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("share");
    let _cleanup = Cleanup(name.clone());
    let mut child = Child::spawn(
        "a_mapping_written_by_one_process_is_read_by_another",
        "create-and-hold",
        &name,
    );
    child.expect("ready");
    let mapping = Mapping::open(&name).unwrap();
    assert_eq!(mapping.size(), 4096);
    assert_eq!(&read_all(&mapping)[..14], b"from the child");
    child.finish();
}

#[test]
fn a_transient_mapping_lives_until_its_last_holder_closes() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("lifetime");
    let _cleanup = Cleanup(name.clone());
    let mut child = Child::spawn(
        "a_transient_mapping_lives_until_its_last_holder_closes",
        "create-and-hold",
        &name,
    );
    child.expect("ready");
    let mapping = Mapping::open(&name).unwrap();
    // The creator lets go; we still hold it, so it stays.
    child.send("go");
    child.expect("released");
    child.finish();
    assert!(still_there(&name));
    let again = Mapping::open(&name).unwrap();
    assert_eq!(&read_all(&again)[..14], b"from the child");
    drop(again);
    drop(mapping);
    // The last holder left: the name and the memory are gone.
    assert!(!still_there(&name));
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
}

#[test]
fn a_mapping_outlives_a_killed_creator_while_others_hold_it() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("kill-creator");
    let _cleanup = Cleanup(name.clone());
    let mut child = Child::spawn(
        "a_mapping_outlives_a_killed_creator_while_others_hold_it",
        "create-and-hold",
        &name,
    );
    child.expect("ready");
    let mapping = Mapping::open(&name).unwrap();
    child.kill9();
    // Still there for us, and for anyone who opens it now.
    let second = Mapping::open(&name).unwrap();
    assert_eq!(&read_all(&second)[..14], b"from the child");
    drop(second);
    drop(mapping);
    assert!(!still_there(&name), "last holder left: no leak");
}

#[test]
fn a_mapping_whose_only_holder_was_killed_is_gone() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("kill-only");
    let _cleanup = Cleanup(name.clone());
    let mut child = Child::spawn(
        "a_mapping_whose_only_holder_was_killed_is_gone",
        "create-and-hold",
        &name,
    );
    child.expect("ready");
    child.kill9();
    // Nobody could remove the name, but nobody holds it either: it is dead,
    // opening it says so and reclaims the memory.
    // (A concurrent `reclaim_stale` elsewhere may already have swept it.)
    if let Ok(info) = Mapping::inspect(&name) {
        assert_eq!(info.live, Some(false));
    }
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
    assert!(!still_there(&name));
    // And the name is free again.
    let fresh = Mapping::create(&name, 10).unwrap();
    assert_eq!(read_all(&fresh), vec![0u8; 10]);
}

#[test]
fn reclaim_stale_sweeps_mappings_of_killed_holders() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("gc");
    let _cleanup = Cleanup(name.clone());
    let global = format!("Global\\{}", unique_name("gc-global"));
    let _cleanup_global = Cleanup(global.clone());
    for n in [&name, &global] {
        let mut child = Child::spawn(
            "reclaim_stale_sweeps_mappings_of_killed_holders",
            "create-and-hold",
            n,
        );
        child.expect("ready");
        child.kill9();
    }
    // Other tests may sweep at the same time, so check what is left rather
    // than who removed it.
    Mapping::reclaim_stale().unwrap();
    assert!(!still_there(&name));
    assert!(matches!(
        Mapping::inspect(&global),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_live_mapping_is_listed_with_its_holders() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("holders");
    let _cleanup = Cleanup(name.clone());
    let mine = Mapping::create(&name, 4096).unwrap();
    let mut child = Child::spawn(
        "a_live_mapping_is_listed_with_its_holders",
        "open-and-hold",
        &name,
    );
    child.expect("ready");
    let listed = Mapping::list(Namespace::Local).unwrap();
    let info = listed
        .iter()
        .find(|i| i.name.base() == name)
        .expect("listed");
    assert_eq!(info.size, 4096);
    assert_eq!(info.live, Some(true));
    assert!(!info.persistent);
    assert!(info.holders.contains(&std::process::id()), "{info:?}");
    assert!(info.holders.contains(&child.pid()), "{info:?}");
    child.finish();
    drop(mine);
}

// Unix only: Windows has no persistent sections (see the next test).
#[cfg(unix)]
#[test]
fn a_persistent_mapping_stays_until_removed() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("persistent");
    let _cleanup = Cleanup(name.clone());
    Child::spawn(
        "a_persistent_mapping_stays_until_removed",
        "create-persistent",
        &name,
    )
    .finish();
    let mapping = Mapping::open(&name).unwrap();
    assert!(mapping.is_persistent());
    assert_eq!(mapping.size(), 100, "the logical size, not a page");
    assert_eq!(&read_all(&mapping)[..4], b"kept");
    drop(mapping);
    assert!(Mapping::open(&name).is_ok(), "no holder, still there");
    Mapping::remove(&name).unwrap();
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
    assert!(matches!(
        Mapping::remove(&name),
        Err(Error::NotFound { .. })
    ));
}

#[cfg(windows)]
#[test]
fn persistent_mappings_are_unsupported_on_windows() {
    let name = unique_name("persistent");
    match MappingOptions::new()
        .size(100)
        .persistent(true)
        .create(&name)
    {
        Err(e @ Error::Unsupported { .. }) => assert!(e.to_string().contains("--hold"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));

    // A backing file keeps the bytes, not the name: refused the same way,
    // before the file is touched.
    let path = std::env::temp_dir().join(format!("{}.bin", unique_name("persistent-file")));
    match MappingOptions::new()
        .size(100)
        .file(&path)
        .persistent(true)
        .create(&name)
    {
        Err(e @ Error::Unsupported { .. }) => assert!(e.to_string().contains("--hold"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(!path.exists(), "{} was created", path.display());

    // A taken name says so first.
    let _held = Mapping::create(&name, 100).unwrap();
    for file in [None, Some(&path)] {
        let mut options = MappingOptions::new();
        options.size(100).persistent(true);
        if let Some(path) = file {
            options.file(path);
        }
        match options.create(&name) {
            Err(Error::AlreadyExists { name: n }) => assert!(n.ends_with(&name)),
            other => panic!("{other:?}"),
        }
    }
    assert!(!path.exists(), "{} was created", path.display());
}

#[test]
fn open_or_create_creates_exactly_once_across_processes() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("ooc");
    let _cleanup = Cleanup(name.clone());
    let mut children: Vec<Child> = (0..4)
        .map(|_| {
            Child::spawn(
                "open_or_create_creates_exactly_once_across_processes",
                "open-or-create",
                &name,
            )
        })
        .collect();
    // Release them together so they race.
    for child in &mut children {
        child.send("go");
    }
    let outcomes: Vec<String> = children.iter_mut().map(Child::recv).collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "created").count(),
        1,
        "{outcomes:?}"
    );
    for child in children {
        child.finish();
    }
}

#[test]
fn create_of_an_existing_name_fails_and_open_of_a_missing_one_too() {
    let name = unique_name("exists");
    let _cleanup = Cleanup(name.clone());
    let _first = Mapping::create(&name, 64).unwrap();
    match Mapping::create(&name, 64) {
        Err(Error::AlreadyExists { name: n }) => assert!(n.ends_with(&name)),
        other => panic!("{other:?}"),
    }
    let (_again, disposition) = Mapping::open_or_create(&name, 64).unwrap();
    assert_eq!(disposition, Disposition::Opened);
    let missing = unique_name("missing");
    match Mapping::open(&missing) {
        Err(e @ Error::NotFound { .. }) => assert!(e.to_string().contains(&missing)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sizes_the_system_cannot_back_fail_at_creation() {
    let name = unique_name("nospace");
    let _cleanup = Cleanup(name.clone());
    assert!(matches!(
        Mapping::create(&name, 0),
        Err(Error::ZeroSize { .. })
    ));
    // One petabyte, one page more than /dev/shm can ever hold (Linux), and
    // the largest size there is.
    #[cfg(target_os = "linux")]
    let sizes = [
        1u64 << 50,
        rustix_statvfs_total("/dev/shm") + 4096,
        u64::MAX,
    ];
    #[cfg(not(target_os = "linux"))]
    let sizes = [1u64 << 50, u64::MAX];
    for size in sizes {
        match Mapping::create(&name, size) {
            Err(Error::NoSpace { size: s, .. }) => assert_eq!(s, size),
            other => panic!("size {size}: {other:?}"),
        }
        assert!(!still_there(&name), "nothing left behind");
    }
}

/// The total size of a file system, from `df`'s point of view.
#[cfg(target_os = "linux")]
fn rustix_statvfs_total(path: &str) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=size", "-B1", path])
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df size")
}

#[test]
fn views_of_any_offset_see_the_same_bytes() {
    let name = unique_name("views");
    let _cleanup = Cleanup(name.clone());
    let mapping = Mapping::create(&name, 3 * 4096 + 10).unwrap();
    let whole = mapping.view_all().unwrap();
    whole.write_at(5000, b"middle").unwrap();
    let part = mapping.view(4999, 8).unwrap();
    let mut buf = [0u8; 8];
    part.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"\0middle\0");
    part.write_at(7, b"!").unwrap();
    let mut one = [0u8; 1];
    whole.read_at(5006, &mut one).unwrap();
    assert_eq!(&one, b"!");
    // The last byte is reachable, one more is not.
    let size = mapping.size();
    assert!(mapping.view(size - 1, 1).is_ok());
    for (offset, len) in [(size, 1), (size - 1, 2), (0, size + 1), (u64::MAX, 2)] {
        assert!(
            matches!(mapping.view(offset, len), Err(Error::OutOfRange { .. })),
            "{offset} {len}"
        );
    }
    assert!(matches!(
        mapping.view(0, 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        part.read_at(1, &mut [0u8; 8]),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        part.write_at(usize::MAX, b"x"),
        Err(Error::OutOfRange { .. })
    ));
}

#[test]
fn access_modes_are_enforced() {
    let name = unique_name("access");
    let _cleanup = Cleanup(name.clone());
    let writer = Mapping::create(&name, 4096).unwrap();
    writer.view_all().unwrap().write_at(0, b"shared").unwrap();

    let reader = MappingOptions::new()
        .access(Access::ReadOnly)
        .open(&name)
        .unwrap();
    let ro = reader.view_all().unwrap();
    assert!(matches!(
        ro.write_at(0, b"x"),
        Err(Error::AccessMismatch { .. })
    ));
    assert!(matches!(
        ro.atomic_u32(0),
        Err(Error::AccessMismatch { .. })
    ));
    assert!(matches!(
        reader.view_with(0, 10, Access::ReadWrite),
        Err(Error::AccessMismatch { .. })
    ));

    // Copy-on-write: private changes, even from a read-only mapping.
    let private = reader.view_with(0, 4096, Access::CopyOnWrite).unwrap();
    private.write_at(0, b"PRIVATE").unwrap();
    let mut buf = [0u8; 7];
    private.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"PRIVATE");
    writer.view_all().unwrap().read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..6], b"shared");
}

#[test]
fn atomics_in_a_view_are_shared_with_other_views() {
    use std::sync::atomic::Ordering;
    let name = unique_name("atomics");
    let _cleanup = Cleanup(name.clone());
    let mapping = Mapping::create(&name, 4096).unwrap();
    let a = mapping.view_all().unwrap();
    let b = Mapping::open(&name).unwrap().view(8, 64).unwrap();
    a.atomic_u64(8).unwrap().store(7, Ordering::Release);
    assert_eq!(b.load_u64(0, Ordering::Acquire).unwrap(), 7);
    b.atomic_u32(4).unwrap().fetch_add(2, Ordering::AcqRel);
    assert_eq!(a.load_u32(12, Ordering::Acquire).unwrap(), 2);
    assert!(matches!(
        a.atomic_u32(2),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.load_u64(4092, Ordering::Relaxed),
        Err(Error::OutOfRange { .. })
    ));
}

// Linux only: POSIX interoperability through /dev/shm. On Windows a Global
// name is the native section name; the backend's own tests share sections
// with raw Win32 calls.
#[cfg(target_os = "linux")]
#[test]
fn global_names_are_plain_posix_shared_memory() {
    let base = unique_name("posix");
    let global = format!("Global\\{base}");
    let _cleanup = Cleanup(global.clone());
    let mapping = Mapping::create(&global, 4096).unwrap();
    assert_eq!(mapping.os_name(), format!("/{base}"));
    mapping
        .view_all()
        .unwrap()
        .write_at(0, b"to posix")
        .unwrap();
    // What shm_open("/NAME") opens is /dev/shm/NAME.
    let raw = std::fs::read(Path::new("/dev/shm").join(&base)).unwrap();
    assert_eq!(&raw[..8], b"to posix");
    drop(mapping);

    // And the other way: an object made by another program, opened by name.
    let other = unique_name("posix-other");
    let other_global = format!("Global\\{other}");
    let _cleanup_other = Cleanup(other_global.clone());
    std::fs::write(Path::new("/dev/shm").join(&other), b"from elsewhere").unwrap();
    let opened = Mapping::open(&other_global).unwrap();
    assert_eq!(opened.size(), 14);
    assert_eq!(read_all(&opened), b"from elsewhere");
    assert!(opened.is_persistent(), "not ours to remove when we let go");
    drop(opened);
    assert!(Path::new("/dev/shm").join(&other).exists());
}

/// Another program's object whose mode happens to carry the sticky bit (as
/// memlink's transient marker once was, alone) is not taken for a dead
/// memlink mapping: opening and letting go leaves it where it is.
#[cfg(target_os = "linux")]
#[test]
fn a_foreign_object_with_the_sticky_bit_is_never_removed() {
    use std::os::unix::fs::PermissionsExt;
    let base = unique_name("sticky");
    let global = format!("Global\\{base}");
    let _cleanup = Cleanup(global.clone());
    let path = Path::new("/dev/shm").join(&base);
    std::fs::write(&path, b"not memlink's").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1600)).unwrap();
    let opened = Mapping::open(&global).expect("a foreign object opens");
    assert!(opened.is_persistent(), "not ours to remove when we let go");
    assert_eq!(read_all(&opened), b"not memlink's");
    drop(opened);
    assert!(
        path.exists(),
        "a plain open removed another program's object"
    );
    assert_eq!(Mapping::reclaim_stale().map(|_| ()).ok(), Some(()));
    assert!(path.exists(), "gc removed another program's object");
}

#[test]
fn local_and_global_are_separate_namespaces() {
    let base = unique_name("ns");
    let _c1 = Cleanup(base.clone());
    let _c2 = Cleanup(format!("Global\\{base}"));
    let local = Mapping::create(&format!("Local\\{base}"), 10).unwrap();
    let global = Mapping::create(&format!("Global\\{base}"), 20).unwrap();
    assert_eq!(Mapping::open(&base).unwrap().size(), 10);
    assert_eq!(
        Mapping::open(&format!("Global\\{base}")).unwrap().size(),
        20
    );
    drop((local, global));
}

// Linux only: the other kind here is a directory in /dev/shm. On Windows
// (a mutex under the name) the backend's own tests check it.
#[cfg(target_os = "linux")]
#[test]
fn a_name_held_by_another_kind_of_object_is_refused() {
    // The per-user directory that holds Local names is visible in the
    // Global namespace: it is not a mapping.
    let keep = Mapping::create(&unique_name("kind"), 1).unwrap();
    let dir = local_path("x");
    let dir_name = dir.parent().unwrap().file_name().unwrap().to_str().unwrap();
    match Mapping::open(&format!("Global\\{dir_name}")) {
        Err(Error::WrongKind { found, .. }) => assert_eq!(found, "directory"),
        other => panic!("{other:?}"),
    }
    drop(keep);
}

/// The permission bits of a Local name's file (Linux).
#[cfg(unix)]
fn mode_on_disk(base: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(local_path(base))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn mode_is_applied_exactly_and_checked() {
    let name = unique_name("mode");
    let _cleanup = Cleanup(name.clone());
    let default = Mapping::create(&name, 1).unwrap();
    assert_eq!(default.mode(), 0o600);
    #[cfg(unix)]
    assert_eq!(mode_on_disk(&name), 0o600);
    drop(default);
    let wide = MappingOptions::new()
        .size(1)
        .mode(0o644)
        .create(&name)
        .unwrap();
    assert_eq!(wide.mode(), 0o644);
    #[cfg(unix)]
    assert_eq!(mode_on_disk(&name), 0o644, "exact, whatever the umask");
    drop(wide);
    assert!(matches!(
        MappingOptions::new().size(1).mode(0o4755).create(&name),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn invalid_names_are_refused_everywhere() {
    for bad in ["", "a/b", "Global\\", "x\\y", "Global\\a\\b", "..", "a\0b"] {
        assert!(
            matches!(Mapping::create(bad, 1), Err(Error::InvalidName { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(Mapping::open(bad), Err(Error::InvalidName { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(Mapping::remove(bad), Err(Error::InvalidName { .. })),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// File-backed mappings

fn temp_file(tag: &str, contents: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(unique_name(tag));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn a_file_backed_mapping_of_size_zero_takes_the_files_size() {
    let path = temp_file("file-size", b"0123456789");
    let name = unique_name("file0");
    let _cleanup = Cleanup(name.clone());
    let mapping = MappingOptions::new().file(&path).create(&name).unwrap();
    assert_eq!(mapping.size(), 10);
    assert_eq!(
        mapping.backing(),
        &Backing::File(std::fs::canonicalize(&path).unwrap())
    );
    assert_eq!(read_all(&mapping), b"0123456789");
    // Another opener, by name, reaches the same file.
    let other = Mapping::open(&name).unwrap();
    other.view(2, 3).unwrap().write_at(0, b"abc").unwrap();
    other.view_all().unwrap().flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"01abc56789");
    drop((mapping, other));
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
    assert!(path.exists(), "the file itself stays");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_larger_size_grows_the_file() {
    let path = temp_file("file-grow", b"abc");
    let name = unique_name("grow");
    let _cleanup = Cleanup(name.clone());
    let mapping = MappingOptions::new()
        .size(10_000)
        .file(&path)
        .create(&name)
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 10_000);
    let view = mapping.view_all().unwrap();
    view.write_at(9_990, b"end").unwrap();
    view.flush_range(9_990, 3).unwrap();
    let contents = std::fs::read(&path).unwrap();
    assert_eq!(&contents[..3], b"abc");
    assert_eq!(&contents[9_990..9_993], b"end");
    drop((view, mapping));
    std::fs::remove_file(path).unwrap();
}

#[test]
fn an_empty_file_with_size_zero_is_an_error() {
    let path = temp_file("file-empty", b"");
    let name = unique_name("empty");
    let _cleanup = Cleanup(name.clone());
    match MappingOptions::new().file(&path).create(&name) {
        Err(e @ Error::ZeroSize { .. }) => assert!(e.to_string().contains("empty")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
    std::fs::remove_file(path).unwrap();
}

/// A file that takes a new size without keeping it (procfs: writable by
/// root, always 0 bytes long) is refused at create, not found truncated by
/// every open after a create that said it worked.
#[cfg(target_os = "linux")]
#[test]
fn a_file_whose_size_cannot_be_set_is_refused() {
    let path = "/proc/version";
    let name = unique_name("procfile");
    let _cleanup = Cleanup(name.clone());
    match MappingOptions::new().file(path).size(4096).create(&name) {
        Err(e @ Error::File { .. }) => assert!(e.to_string().contains("size"), "{e}"),
        // Not writable here (not root): refused all the same.
        Err(Error::PermissionDenied { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
}

#[test]
fn a_read_only_file_cannot_back_a_read_write_mapping() {
    let path = temp_file("file-ro", b"read only");
    let name = unique_name("rofile");
    let _cleanup = Cleanup(name.clone());
    let file = std::fs::File::open(&path).unwrap();
    match MappingOptions::new().file_handle(file).create(&name) {
        Err(Error::AccessMismatch {
            requested, granted, ..
        }) => {
            assert_eq!(requested, Access::ReadWrite);
            assert_eq!(granted, Access::ReadOnly);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
    // Read-only on both sides is fine, and cannot grow the file.
    let file = std::fs::File::open(&path).unwrap();
    let ro = MappingOptions::new()
        .access(Access::ReadOnly)
        .file_handle(file)
        .create(&name)
        .unwrap();
    assert_eq!(read_all(&ro), b"read only");
    drop(ro);
    let file = std::fs::File::open(&path).unwrap();
    assert!(matches!(
        MappingOptions::new()
            .access(Access::ReadOnly)
            .size(100)
            .file_handle(file)
            .create(&name),
        Err(Error::AccessMismatch { .. })
    ));
    std::fs::remove_file(path).unwrap();
}

// Unix only: Windows refuses to shrink a file that a mapping uses (see the
// next test), so the situation cannot arise there.
#[cfg(unix)]
#[test]
fn a_file_truncated_behind_the_mappings_back_is_refused_on_open() {
    let path = temp_file("file-trunc", &[7u8; 8192]);
    let name = unique_name("trunc");
    let _cleanup = Cleanup(name.clone());
    let mapping = MappingOptions::new().file(&path).create(&name).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100)
        .unwrap();
    match Mapping::open(&name) {
        Err(e @ Error::File { .. }) => assert!(e.to_string().contains("truncated"), "{e}"),
        other => panic!("{other:?}"),
    }
    drop(mapping);
    std::fs::remove_file(path).unwrap();
}

#[cfg(windows)]
#[test]
fn a_file_under_a_mapping_cannot_be_truncated() {
    let path = temp_file("file-trunc", &[7u8; 8192]);
    let name = unique_name("trunc");
    let _cleanup = Cleanup(name.clone());
    let mapping = MappingOptions::new().file(&path).create(&name).unwrap();
    let refused = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100)
        .unwrap_err();
    // ERROR_USER_MAPPED_FILE
    assert_eq!(refused.raw_os_error(), Some(1224), "{refused}");
    assert_eq!(Mapping::open(&name).unwrap().size(), 8192);
    drop(mapping);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_mapping_appears_only_after_its_initialisation() {
    let name = unique_name("init");
    let _cleanup = Cleanup(name.clone());
    let failed = MappingOptions::new()
        .size(64)
        .create_initialized(&name, |view| {
            view.write_at(0, b"half")?;
            // While initialising, the name is not there for anyone.
            assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
            Err(Error::Unsupported {
                what: "give up".into(),
            })
        });
    assert!(matches!(failed, Err(Error::Unsupported { .. })));
    assert!(matches!(Mapping::open(&name), Err(Error::NotFound { .. })));
    assert!(!still_there(&name));
    let made = MappingOptions::new()
        .size(64)
        .create_initialized(&name, |view| view.write_at(0, b"whole"))
        .unwrap();
    let mut buf = [0u8; 5];
    Mapping::open(&name)
        .unwrap()
        .view(0, 5)
        .unwrap()
        .read_at(0, &mut buf)
        .unwrap();
    assert_eq!(&buf, b"whole");
    drop(made);
}

#[test]
fn a_taken_name_leaves_the_backing_file_untouched() {
    let name = unique_name("taken");
    let _cleanup = Cleanup(name.clone());
    let _live = Mapping::create(&name, 64).unwrap();
    let existing = temp_file("untouched", b"abc");
    let missing = std::env::temp_dir().join(unique_name("not-created"));
    assert!(matches!(
        MappingOptions::new()
            .size(4096)
            .file(&existing)
            .create(&name),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        MappingOptions::new()
            .size(4096)
            .file(&missing)
            .create(&name),
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(std::fs::read(&existing).unwrap(), b"abc", "not grown");
    assert!(!missing.exists(), "not created");
    std::fs::remove_file(existing).unwrap();
}

#[test]
fn populate_lock_and_huge_page_hints_map_usable_views() {
    let name = unique_name("hints");
    let _cleanup = Cleanup(name.clone());
    let mapping = MappingOptions::new()
        .size(64 << 10)
        .populate(true)
        .lock_in_memory(true)
        .create(&name)
        .unwrap();
    let view = mapping.view_all().unwrap();
    view.write_at((64 << 10) - 4, b"tail").unwrap();
    // For `open`, huge pages are a hint for this process's views (creating
    // with huge pages is tests/huge_pages.rs: it needs a tmpfs that allows
    // them).
    let other = MappingOptions::new()
        .huge_pages(true)
        .populate(true)
        .open(&name)
        .unwrap();
    let mut buf = [0u8; 4];
    other
        .view((64 << 10) - 4, 4)
        .unwrap()
        .read_at(0, &mut buf)
        .unwrap();
    assert_eq!(&buf, b"tail");
}

/// The backing file of a live file-backed mapping replaced by a FIFO: opening
/// the mapping says the file is not what it was, at once (opening a FIFO
/// would wait for a writer for ever).
#[cfg(target_os = "linux")]
#[test]
fn a_backing_file_replaced_by_a_fifo_is_refused_not_waited_for() {
    let path = temp_file("fifo", b"0123456789");
    let _remove = support::TempPath(path.clone());
    let name = unique_name("fifo");
    let _cleanup = Cleanup(name.clone());
    let _held = MappingOptions::new().file(&path).create(&name).unwrap();
    std::fs::remove_file(&path).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    match Mapping::open(&name) {
        Err(Error::File { source, .. }) => {
            assert!(
                source.to_string().contains("not a regular file"),
                "{source}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Two processes' worth of `open_or_create` racing on a name whose holders
/// all died: whatever each reports, both end up on the same memory, and
/// exactly one created it. (Before the dead entry was removed under its
/// exclusive lock, one opener could join the dead object while the other
/// replaced it.)
#[cfg(target_os = "linux")]
#[test]
fn open_or_create_on_a_dead_name_gives_everyone_the_same_memory() {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Barrier;
    // Makes this user's Local directory.
    drop(Mapping::create(&unique_name("dir"), 1).unwrap());
    for round in 0..1000 {
        let name = unique_name("dead-race");
        let _cleanup = Cleanup(name.clone());
        // What a holder killed with `kill -9` leaves: a transient entry
        // (memlink's marker: sticky and set-user-id) that nobody holds.
        let path = local_path(&name);
        std::fs::write(&path, [0u8; 64]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o5600)).unwrap();
        let barrier = Barrier::new(2);
        let (a, b) = std::thread::scope(|scope| {
            let open = || {
                barrier.wait();
                Mapping::open_or_create(&name, 64).unwrap()
            };
            let a = scope.spawn(open);
            let b = scope.spawn(open);
            (a.join().unwrap(), b.join().unwrap())
        });
        let created = [a.1, b.1]
            .iter()
            .filter(|d| **d == Disposition::Created)
            .count();
        assert_eq!(created, 1, "round {round}: {:?} and {:?}", a.1, b.1);
        a.0.view_all().unwrap().write_at(0, b"shared").unwrap();
        let mut seen = [0u8; 6];
        b.0.view_all().unwrap().read_at(0, &mut seen).unwrap();
        assert_eq!(&seen, b"shared", "round {round}: not the same memory");
    }
}

/// `busy_timeout`: an entry locked exclusively (as a remover holds it while
/// it unlinks the name) makes `open` wait. With no time allowed it says
/// `Busy` at once; by default it waits, finds that the lock outlasts any
/// removal (somebody else's), and opens the mapping all the same.
#[cfg(target_os = "linux")]
#[test]
fn an_open_waits_for_a_busy_name_only_as_long_as_allowed() {
    use std::time::Duration;
    let name = unique_name("busy");
    let _cleanup = Cleanup(name.clone());
    MappingOptions::new()
        .size(4096)
        .persistent(true)
        .create(&name)
        .unwrap();
    // Nobody holds it now; take its entry as a remover would.
    let entry = std::fs::File::open(local_path(&name)).unwrap();
    rustix::fs::flock(&entry, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();

    let refused = MappingOptions::new()
        .busy_timeout(Duration::ZERO)
        .open(&name);
    assert!(matches!(refused, Err(Error::Busy { .. })), "{refused:?}");
    let opened = MappingOptions::new().open(&name).unwrap();
    assert_eq!(opened.size(), 4096);
    drop(opened);
    drop(entry);
    Mapping::remove(&name).unwrap();
}
