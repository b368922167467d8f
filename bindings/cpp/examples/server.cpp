// The article's server, over memlink: a raw named mapping with a greeting,
// then messages on a broadcast channel to every client that says it is ready.
//
//   server NAME CLIENTS COUNT
//
// Protocol (the same in every language's example, so they can be mixed):
//   Global\NAME-map  mapping (4 KiB): a NUL-terminated greeting at offset 0
//   NAME-up          many-to-one channel, clients -> server: "ready LABEL",
//                    then "done LABEL N"
//   NAME             broadcast channel, server -> clients: "message 0" ...
//                    "message COUNT-1", then "bye"
// Every wait is bounded (30 s). Prints "server ready" once clients may start.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "memlink.hpp"

using namespace std::chrono_literals;

static std::string text(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

// One line of progress, flushed at once (stdout may be a pipe).
static void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s NAME CLIENTS COUNT\n", argv[0]);
        return 2;
    }
    const std::string name = argv[1];
    const int clients = std::atoi(argv[2]);
    const int count = std::atoi(argv[3]);
    try {
        // CreateFileMapping + MapViewOfFile + CopyMemory, as in the article.
        auto mapping = memlink::Mapping::create("Global\\" + name + "-map", 4096);
        const std::string greeting = "hello from the C++ server";
        mapping.view().write(0, greeting.c_str(), greeting.size() + 1);

        auto up = memlink::Receiver::create(
            name + "-up", memlink::ChannelOptions().kind(memlink::ChannelKind::ManyToOne).max_senders(16));
        auto tx = memlink::Sender::create(name, memlink::ChannelOptions()
                                                    .kind(memlink::ChannelKind::Broadcast)
                                                    .max_receivers(8)
                                                    .max_message(1024));
        say("server ready");

        for (int i = 0; i < clients; i++) {
            auto hello = up.recv_for(30s);
            if (!hello) throw std::runtime_error("no client said ready within 30 s");
            say("server: " + text(*hello));
        }
        for (int i = 0; i < count; i++) {
            // Zero-copy: write the message straight into the ring.
            const std::string message = "message " + std::to_string(i);
            auto loan = tx.loan(message.size(), 30s);
            std::copy(message.begin(), message.end(), loan.data());
            loan.commit();
        }
        tx.send("bye");
        for (int i = 0; i < clients; i++) {
            auto done = up.recv_for(30s);
            if (!done) throw std::runtime_error("a client did not finish within 30 s");
            say("server: " + text(*done));
        }
        say("server done: " + std::to_string(clients) + " clients, " + std::to_string(count) + " messages each");
        return 0;
    } catch (const memlink::Error& e) {
        std::fprintf(stderr, "server: %s: %s\n", e.code_name(), e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "server: %s\n", e.what());
    }
    return 1;
}
