/*
 * bcryptprimitives.dll for Wine 8, which lacks it.
 *
 * Rust's std (1.78 and later) imports ProcessPrng from bcryptprimitives.dll
 * to seed HashMap keys; under Wine 8 every Rust program then fails to start
 * (status 53, rust-lang/rust#121337). This DLL provides only that function,
 * on top of advapi32's RtlGenRandom (SystemFunction036), which Wine has.
 * It is copied into the test prefix's system32 by .ci/windows.sh; it is a
 * test-harness shim, never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
