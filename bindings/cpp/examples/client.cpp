// The article's client, over memlink: reads the server's greeting from the
// named mapping (through memlink, and through the OS's own calls to show
// that it is an ordinary named object: shm_open of /NAME on POSIX systems,
// OpenFileMapping on Windows), says it is ready, and receives every message
// in place (zero-copy borrows). See server.cpp for the protocol.
//
//   client NAME LABEL
#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "memlink.hpp"

using namespace std::chrono_literals;

#ifdef _WIN32
// The greeting, read with plain Win32 calls: no memlink involved.
static std::string read_with_os(const std::string& os_name) {
    HANDLE file = OpenFileMappingA(FILE_MAP_READ, FALSE, os_name.c_str());
    if (file == nullptr) throw std::runtime_error("OpenFileMapping " + os_name + ": " + std::to_string(GetLastError()));
    void* p = MapViewOfFile(file, FILE_MAP_READ, 0, 0, 4096);
    CloseHandle(file);
    if (p == nullptr) throw std::runtime_error("MapViewOfFile " + os_name + ": " + std::to_string(GetLastError()));
    std::string text(static_cast<const char*>(p), strnlen(static_cast<const char*>(p), 4096));
    UnmapViewOfFile(p);
    return text;
}
#else
// The greeting, read with plain POSIX calls: no memlink involved.
static std::string read_with_os(const std::string& os_name) {
    int fd = shm_open(os_name.c_str(), O_RDONLY, 0);
    if (fd < 0) throw std::runtime_error("shm_open " + os_name + ": " + std::strerror(errno));
    void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) throw std::runtime_error("mmap " + os_name + ": " + std::strerror(errno));
    std::string text(static_cast<const char*>(p), strnlen(static_cast<const char*>(p), 4096));
    munmap(p, 4096);
    return text;
}
#endif

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s NAME LABEL\n", argv[0]);
        return 2;
    }
    const std::string name = argv[1];
    const std::string label = argv[2];
    try {
        // Attach to the broadcast channel first: it delivers what is sent
        // after we attach, and the server sends only once we said ready.
        auto rx = memlink::Receiver::open(name);

        // OpenFileMapping + MapViewOfFile, read-only.
        auto mapping = memlink::Mapping::open("Global\\" + name + "-map", memlink::Access::ReadOnly);
        std::vector<uint8_t> bytes = mapping.view().read(0, 256);
        std::string greeting(reinterpret_cast<const char*>(bytes.data()),
                             strnlen(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        std::string via_os = read_with_os(mapping.os_name());
        if (via_os != greeting) throw std::runtime_error("the OS's own read gave '" + via_os + "'");

        auto up = memlink::Sender::open(name + "-up");
        up.send("ready " + label);

        int received = 0;
        for (;;) {
            memlink::Borrow message = rx.borrow(30s);
            if (message.text() == "bye") break;
            const std::string expected = "message " + std::to_string(received);
            if (message.text() != expected)
                throw std::runtime_error("got '" + std::string(message.text()) + "', expected '" + expected + "'");
            received++;
        }
        up.send("done " + label + " " + std::to_string(received));
        std::printf("client %s: %d messages; mapping says '%s' (the same through the OS's own calls on %s)\n", label.c_str(),
                    received, greeting.c_str(), mapping.os_name().c_str());
        return 0;
    } catch (const memlink::Error& e) {
        std::fprintf(stderr, "client %s: %s: %s\n", label.c_str(), e.code_name(), e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "client %s: %s\n", label.c_str(), e.what());
    }
    return 1;
}
