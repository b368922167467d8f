// The article's first process, over memlink: a file-backed mapping named
// Global\NAME (the article's Global\MyFileMappingObject), written under a
// robust mutex, with a named event saying "the data is ready".
//
//   article_server NAME FILE
//
// Layout of the mapping (4 KiB, backed by FILE):
//   0    robust mutex (ML_MUTEX_SIZE bytes): whoever writes or reads holds it
//   128  a NUL-terminated message
// Events: NAME-ready (the server wrote), NAME-go (the client read, the
// server may take the lock again), NAME-held (the server holds it).
//
// After the client's "go" the server takes the lock, starts a new message
// and prints "server holding the lock": the test kills it there with
// kill -9, and the client, locking next, learns that the owner died.
// Every wait is bounded (30 s).
#include <chrono>
#include <cstdio>
#include <string>

#include "memlink.hpp"

using namespace std::chrono_literals;

static void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s NAME FILE\n", argv[0]);
        return 2;
    }
    const std::string name = argv[1];
    try {
        // CreateFile + CreateFileMapping(hFile, ..., 4096, "Global\\NAME").
        auto mapping = memlink::MappingOptions().file(argv[2]).size(4096).create("Global\\" + name);
        auto mutex = memlink::RobustMutex::init(mapping, 0);
        auto ready = memlink::Event::create(name + "-ready", memlink::EventKind::AutoReset);
        auto go = memlink::Event::create(name + "-go", memlink::EventKind::AutoReset);
        auto held = memlink::Event::create(name + "-held", memlink::EventKind::AutoReset);
        // MapViewOfFile of the data, after the mutex.
        auto data = mapping.view(ML_MUTEX_SIZE, 0);

        {
            auto guard = mutex.lock();
            const std::string message = "Message from first process.";
            data.write(0, message.c_str(), message.size() + 1);  // CopyMemory
            data.flush();
        }
        ready.set();
        say("server wrote");

        if (!go.wait_for(30s)) throw std::runtime_error("the client never said go");
        auto guard = mutex.lock();
        data.write(0, "Half-writ");  // a new message, never finished
        held.set();
        say("server holding the lock");
        // Killed here by the test (kill -9). Otherwise: wait for stdin to
        // close, then leave the lock the normal way.
        while (std::getchar() != EOF) {
        }
        return 0;
    } catch (const memlink::Error& e) {
        std::fprintf(stderr, "server: %s: %s\n", e.code_name(), e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "server: %s\n", e.what());
    }
    return 1;
}
