//! Users, owners and security descriptors on Windows.
//!
//! * memlink's "user id" is the RID (last sub-authority) of the process
//!   token's user SID: 1000 and up for local accounts.
//! * A section's owner is read from its security descriptor; it is this
//!   user's when it is the token's user or the token's default owner (which
//!   is Administrators for elevated tokens).
//! * A mode becomes a DACL: owner bits for the token's user, group bits for
//!   its primary group, other bits for Everyone; read is `GENERIC_READ`,
//!   write `GENERIC_WRITE`, except that the owner of a writable section gets
//!   `GENERIC_ALL`, as for any section `CreateFileMappingW` makes (so
//!   `OpenFileMappingW(FILE_MAP_ALL_ACCESS, ..)` works for the owner). Companion objects (semaphores, endpoint mutexes,
//!   the wait table) get `GENERIC_ALL` for every principal with any access.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::os::windows::io::OwnedHandle;
use std::ptr::null_mut;
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo,
    SDDL_REVISION_1, SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    EqualSid, GetSidSubAuthority, GetSidSubAuthorityCount, GetTokenInformation, TokenOwner,
    TokenPrimaryGroup, TokenUser, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SECURITY_ATTRIBUTES, TOKEN_OWNER, TOKEN_PRIMARY_GROUP, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::handle::{owned, raw, wide};

/// The SIDs of this process's token, read once.
struct Token {
    user: Vec<u64>,
    owner: Vec<u64>,
    group: Vec<u64>,
}

impl Token {
    fn get() -> Option<&'static Token> {
        static TOKEN: OnceLock<Option<Token>> = OnceLock::new();
        TOKEN.get_or_init(Token::read).as_ref()
    }

    fn read() -> Option<Token> {
        let mut handle: HANDLE = null_mut();
        // SAFETY: the pseudo-handle of this process; `handle` is a valid
        // out-pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut handle) } == 0 {
            return None;
        }
        let token = owned(handle)?;
        let query = |class| -> Option<Vec<u64>> {
            let mut len = 0u32;
            // SAFETY: a size query: no buffer, `len` is a valid out-pointer.
            unsafe { GetTokenInformation(raw(&token), class, null_mut(), 0, &mut len) };
            let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
            // SAFETY: `buf` is writable for `len` bytes (rounded up).
            let ok = unsafe {
                GetTokenInformation(raw(&token), class, buf.as_mut_ptr().cast(), len, &mut len)
            };
            (ok != 0).then_some(buf)
        };
        Some(Token {
            user: query(TokenUser)?,
            owner: query(TokenOwner)?,
            group: query(TokenPrimaryGroup)?,
        })
    }

    // The token structures start with a pointer to a SID that lives in the
    // same buffer, which never moves (it is a Vec's heap allocation).
    fn user_sid(&self) -> PSID {
        // SAFETY: `user` holds a TOKEN_USER written by GetTokenInformation.
        unsafe { (*self.user.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }
    fn owner_sid(&self) -> PSID {
        // SAFETY: `owner` holds a TOKEN_OWNER written by GetTokenInformation.
        unsafe { (*self.owner.as_ptr().cast::<TOKEN_OWNER>()).Owner }
    }
    fn group_sid(&self) -> PSID {
        // SAFETY: `group` holds a TOKEN_PRIMARY_GROUP.
        unsafe { (*self.group.as_ptr().cast::<TOKEN_PRIMARY_GROUP>()).PrimaryGroup }
    }
}

/// The last sub-authority of a SID (its RID).
///
/// # Safety
///
/// `sid` must point to a valid SID.
unsafe fn rid(sid: PSID) -> u32 {
    // SAFETY: valid SID (the caller's promise); the count is read before the
    // index is used.
    unsafe {
        let count = *GetSidSubAuthorityCount(sid);
        if count == 0 {
            return 0;
        }
        *GetSidSubAuthority(sid, u32::from(count) - 1)
    }
}

/// A SID in its string form (`S-1-5-...`).
///
/// # Safety
///
/// `sid` must point to a valid SID.
unsafe fn sid_string(sid: PSID) -> Option<String> {
    let mut text: *mut u16 = null_mut();
    // SAFETY: valid SID; `text` is a valid out-pointer, freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return None;
    }
    let mut len = 0;
    // SAFETY: the string is NUL-terminated; it is freed once, after use.
    unsafe {
        while *text.add(len) != 0 {
            len += 1;
        }
        let out = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        Some(out)
    }
}

/// The RID of this process's user: memlink's "user id" on Windows.
pub(crate) fn effective_uid() -> u32 {
    static UID: OnceLock<u32> = OnceLock::new();
    *UID.get_or_init(|| {
        // SAFETY: the token's user SID is valid for the life of the process.
        Token::get().map_or(0, |t| unsafe { rid(t.user_sid()) })
    })
}

/// Whether a section's owner is this process's user, and the owner's RID;
/// `None` when Windows does not say (Wine records no owners).
pub(super) fn section_owner(section: &OwnedHandle) -> Option<(bool, u32)> {
    let mut owner: PSID = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: an open handle; the out-pointers are valid; the descriptor is
    // freed below and `owner` points into it.
    let status = unsafe {
        GetSecurityInfo(
            raw(section),
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            null_mut(),
            null_mut(),
            null_mut(),
            &mut descriptor,
        )
    };
    let answer = if status == 0 && !owner.is_null() {
        Token::get().map(|token| {
            // SAFETY: `owner` points into `descriptor`, still allocated; the
            // token's SIDs live as long as the process.
            unsafe {
                // The token's default owner may be a group (Administrators
                // for elevated tokens, oddities under Wine): this user's
                // objects all the same, reported with this user's id.
                let mine = EqualSid(owner, token.user_sid()) != 0
                    || EqualSid(owner, token.owner_sid()) != 0;
                (mine, if mine { effective_uid() } else { rid(owner) })
            }
        })
    } else {
        None
    };
    if !descriptor.is_null() {
        // SAFETY: allocated by GetSecurityInfo, freed once.
        unsafe { LocalFree(descriptor) };
    }
    answer
}

/// What a descriptor is for.
#[derive(Clone, Copy)]
pub(super) enum Grant {
    /// The mapping and its record: read and write as the mode says.
    Section,
    /// Companion objects for waiting and liveness: everything, for every
    /// principal that has any access to the mapping.
    Sync,
}

/// A self-relative security descriptor made from a mode.
pub(super) struct Security {
    descriptor: PSECURITY_DESCRIPTOR,
}

// SAFETY: the descriptor is an immutable heap block owned by this value.
unsafe impl Send for Security {}
// SAFETY: as above; it is only read.
unsafe impl Sync for Security {}

impl Security {
    /// The descriptor for `mode` (owner, group, others: see the module docs).
    pub(super) fn for_mode(mode: u32, grant: Grant) -> io::Result<Security> {
        let token =
            Token::get().ok_or_else(|| io::Error::other("cannot read the process token"))?;
        // SAFETY: the token's SIDs are valid for the life of the process.
        let (user, group) =
            unsafe { (sid_string(token.user_sid()), sid_string(token.group_sid())) };
        let user = user.ok_or_else(io::Error::last_os_error)?;
        let text = wide(&sddl(mode, grant, &user, group.as_deref()));
        let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
        // SAFETY: `text` is NUL-terminated; `descriptor` is a valid
        // out-pointer, freed in `Drop`.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                text.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Security { descriptor })
    }

    /// Attributes that point to this descriptor (valid while `self` lives).
    pub(super) fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.descriptor,
            bInheritHandle: 0,
        }
    }
}

impl Drop for Security {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptor..., freed once.
        unsafe { LocalFree(self.descriptor) };
    }
}

/// Who an ACE is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Principal {
    /// The token's user: the mapping's owner.
    Owner,
    /// The token's primary group, or Everyone.
    Others,
}

/// The DACL, in SDDL, for `mode`: one allow ACE each for the owner (`user`,
/// a SID string), the group and Everyone (`WD`), with what their bits grant.
fn sddl(mode: u32, grant: Grant, user: &str, group: Option<&str>) -> String {
    let mut sddl = String::from("D:P");
    for (bits, who, principal) in [
        ((mode >> 6) & 7, Some(user), Principal::Owner),
        ((mode >> 3) & 7, group, Principal::Others),
        (mode & 7, Some("WD"), Principal::Others),
    ] {
        if let (Some(rights), Some(who)) = (rights(bits, grant, principal), who) {
            sddl.push_str(&format!("(A;;{rights};;;{who})"));
        }
    }
    sddl
}

/// The SDDL rights for three mode bits (`rwx`) of `principal`.
///
/// The owner of a writable section gets `GENERIC_ALL` (`SECTION_ALL_ACCESS`),
/// as the default DACL gives it for any section `CreateFileMappingW` makes:
/// the article's client opens with `FILE_MAP_ALL_ACCESS`, which asks for the
/// standard rights (delete, read and write the DACL, take ownership) and
/// `SECTION_EXTEND_SIZE` besides reading and writing. Everyone else gets
/// exactly what the mode says, and a read-only owner only reading.
fn rights(bits: u32, grant: Grant, principal: Principal) -> Option<&'static str> {
    let (read, write) = (bits & 4 != 0, bits & 2 != 0);
    match grant {
        Grant::Section if write && principal == Principal::Owner => Some("GA"),
        Grant::Section => match (read, write) {
            (true, true) => Some("GRGW"),
            (true, false) => Some("GR"),
            (false, true) => Some("GW"),
            (false, false) => None,
        },
        Grant::Sync => (read || write).then_some("GA"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_become_dacls() {
        use Principal::{Others, Owner};
        assert_eq!(rights(6, Grant::Section, Others), Some("GRGW"));
        assert_eq!(rights(4, Grant::Section, Others), Some("GR"));
        assert_eq!(rights(0, Grant::Section, Others), None);
        assert_eq!(rights(4, Grant::Sync, Others), Some("GA"));
        assert_eq!(rights(1, Grant::Sync, Others), None);
        // The owner of a writable section may do all that sections allow
        // (FILE_MAP_ALL_ACCESS); a read-only owner only reads.
        assert_eq!(rights(6, Grant::Section, Owner), Some("GA"));
        assert_eq!(rights(2, Grant::Section, Owner), Some("GA"));
        assert_eq!(rights(4, Grant::Section, Owner), Some("GR"));
        assert_eq!(rights(0, Grant::Section, Owner), None);
        assert_eq!(
            sddl(
                0o640,
                Grant::Section,
                "S-1-5-21-1-2-3-1000",
                Some("S-1-5-21-1-2-3-513")
            ),
            "D:P(A;;GA;;;S-1-5-21-1-2-3-1000)(A;;GR;;;S-1-5-21-1-2-3-513)"
        );
        assert_eq!(
            sddl(0o466, Grant::Section, "S-1-5-21-1-2-3-1000", None),
            "D:P(A;;GR;;;S-1-5-21-1-2-3-1000)(A;;GRGW;;;WD)"
        );
        Security::for_mode(0o640, Grant::Section).unwrap();
        Security::for_mode(0, Grant::Sync).unwrap();
    }
}
