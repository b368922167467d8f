/* The article's client, as a Win32 program would write it: open a named
 * mapping with OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, name), map a
 * view with FILE_MAP_ALL_ACCESS, print what is there, write a reply.
 *
 * Usage: article_client NAME SIZE REPLY
 *   Prints the first SIZE bytes of the mapping (up to a NUL) on stdout, then
 *   writes REPLY (with its NUL) at byte SIZE. Exit status: 0 on success, else
 *   the GetLastError() code of the call that failed (also on stderr).
 * Built with mingw by .ci/windows.sh; run by tests/article_client.rs. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: article_client NAME SIZE REPLY\n");
        return 87; /* ERROR_INVALID_PARAMETER */
    }
    size_t size = (size_t)_wtoi(argv[2]);
    HANDLE hMapFile = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, argv[1]);
    if (hMapFile == NULL) {
        DWORD error = GetLastError();
        fprintf(stderr, "OpenFileMappingW(FILE_MAP_ALL_ACCESS) failed: %lu\n", error);
        return (int)error;
    }
    char *pBuf = (char *)MapViewOfFile(hMapFile, FILE_MAP_ALL_ACCESS, 0, 0, 0);
    if (pBuf == NULL) {
        DWORD error = GetLastError();
        fprintf(stderr, "MapViewOfFile(FILE_MAP_ALL_ACCESS) failed: %lu\n", error);
        CloseHandle(hMapFile);
        return (int)error;
    }
    fwrite(pBuf, 1, strnlen(pBuf, size), stdout);
    fflush(stdout);
    char reply[256];
    int len = WideCharToMultiByte(CP_UTF8, 0, argv[3], -1, reply, sizeof reply, NULL, NULL);
    if (len > 0) {
        CopyMemory(pBuf + size, reply, (size_t)len);
    }
    UnmapViewOfFile(pBuf);
    CloseHandle(hMapFile);
    return 0;
}
