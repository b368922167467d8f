/* Another program's file-backed mapping, as the article's server makes one:
 * CreateFileW on PATH, CreateFileMappingW(hFile, NULL, PAGE_READWRITE, 0, 0,
 * NAME) with default security, TEXT written at the start. Prints "ready"
 * and holds the mapping until its standard input ends.
 *
 * Usage: file_server NAME PATH TEXT. Exit status: 0, or the GetLastError()
 * code of the call that failed. Built and run by .ci/windows.sh (`memlink
 * info` must not call its backing "memory" nor its mode "0000"). */
#include <windows.h>
#include <stdio.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: file_server NAME PATH TEXT\n");
        return 87; /* ERROR_INVALID_PARAMETER */
    }
    HANDLE hFile = CreateFileW(argv[2], GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                               NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (hFile == INVALID_HANDLE_VALUE) {
        DWORD error = GetLastError();
        fprintf(stderr, "CreateFileW failed: %lu\n", error);
        return (int)error;
    }
    HANDLE hMapFile = CreateFileMappingW(hFile, NULL, PAGE_READWRITE, 0, 0, argv[1]);
    if (hMapFile == NULL) {
        DWORD error = GetLastError();
        fprintf(stderr, "CreateFileMappingW failed: %lu\n", error);
        return (int)error;
    }
    char *pBuf = (char *)MapViewOfFile(hMapFile, FILE_MAP_ALL_ACCESS, 0, 0, 0);
    if (pBuf == NULL) {
        DWORD error = GetLastError();
        fprintf(stderr, "MapViewOfFile failed: %lu\n", error);
        return (int)error;
    }
    WideCharToMultiByte(CP_UTF8, 0, argv[3], -1, pBuf, 256, NULL, NULL);
    printf("ready\n");
    fflush(stdout);
    char byte;
    DWORD got;
    while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), &byte, 1, &got, NULL) && got == 1) {
    }
    UnmapViewOfFile(pBuf);
    CloseHandle(hMapFile);
    CloseHandle(hFile);
    return 0;
}
