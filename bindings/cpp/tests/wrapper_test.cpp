// Tests of the C++ wrapper itself: exceptions and codes, RAII and moves,
// optional-returning calls, loans and borrows; built as C++20 also the
// std::span views (it then prints "C++20 spans: tested"). Usage:
// wrapper_test PREFIX (a unique name prefix). Prints "N passed, 0 failed".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "memlink.hpp"

#ifdef __linux__
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#endif

using namespace std::chrono_literals;

// A Loan / Borrow holds its endpoint's raw handle: made from a temporary
// endpoint (`Sender::create(n).loan(5)`) it would dangle at once. Those
// calls must not compile; on a named endpoint they must.
template <typename E, typename = void>
struct loans : std::false_type {};
template <typename E>
struct loans<E, std::void_t<decltype(std::declval<E>().loan(1))>> : std::true_type {};
template <typename E, typename = void>
struct try_loans : std::false_type {};
template <typename E>
struct try_loans<E, std::void_t<decltype(std::declval<E>().try_loan(1))>> : std::true_type {};
template <typename E, typename = void>
struct borrows : std::false_type {};
template <typename E>
struct borrows<E, std::void_t<decltype(std::declval<E>().borrow())>> : std::true_type {};
template <typename E, typename = void>
struct try_borrows : std::false_type {};
template <typename E>
struct try_borrows<E, std::void_t<decltype(std::declval<E>().try_borrow())>> : std::true_type {};

static_assert(loans<memlink::Sender&>::value && loans<const memlink::Sender&>::value);
static_assert(!loans<memlink::Sender>::value && !loans<memlink::Sender&&>::value);
static_assert(!loans<const memlink::Sender&&>::value);
static_assert(try_loans<memlink::Sender&>::value && !try_loans<memlink::Sender>::value);
static_assert(borrows<memlink::Receiver&>::value && borrows<const memlink::Receiver&>::value);
static_assert(!borrows<memlink::Receiver>::value && !borrows<memlink::Receiver&&>::value);
static_assert(try_borrows<memlink::Receiver&>::value && !try_borrows<memlink::Receiver>::value);

static std::string prefix;
static int passed = 0, failed = 0;

#define EXPECT(cond)                                                              \
    do {                                                                          \
        if (!(cond)) throw std::runtime_error(std::string("expected: ") + #cond); \
    } while (0)

template <typename F>
static ml_result code_of(F f) {
    try {
        f();
    } catch (const memlink::Error& e) {
        return e.code();
    }
    return ML_OK;
}

static void run(const char* name, const std::function<void()>& test) {
    try {
        test();
        passed++;
    } catch (const std::exception& e) {
        failed++;
        std::printf("FAILED %s: %s\n", name, e.what());
    }
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    prefix = argv[1];

    run("errors carry code and message", [] {
        try {
            memlink::Mapping::open(prefix + "-missing");
            EXPECT(false);
        } catch (const memlink::Error& e) {
            EXPECT(e.not_found());
            EXPECT(std::string(e.code_name()) == "ML_ERR_NOT_FOUND");
            EXPECT(std::string(e.what()).find(prefix + "-missing") != std::string::npos);
        }
        auto m = memlink::Mapping::create(prefix + "-twice", 4096);
        EXPECT(code_of([] { memlink::Mapping::create(prefix + "-twice", 4096); }) == ML_ERR_ALREADY_EXISTS);
        EXPECT(code_of([&] { m.view(5000); }) == ML_ERR_OUT_OF_RANGE);
    });

    run("mappings, views and moves", [] {
        bool created = false;
        auto m = memlink::Mapping::open_or_create(prefix + "-map", 8192, &created);
        EXPECT(created);
        memlink::Mapping moved = std::move(m);
        EXPECT(!m.raw() && moved.raw());
        EXPECT(moved.size() == 8192);
        EXPECT(moved.name().find(prefix) != std::string::npos);
        memlink::View v = moved.view(4096);
        EXPECT(v.size() == 4096);
        v.write(0, "abc");
        EXPECT(v.read(0, 3) == (std::vector<uint8_t>{'a', 'b', 'c'}));
        v.store_u32(8, 42);
        EXPECT(v.load_u32(8) == 42);
        v.flush_range(0, 3);
        EXPECT(code_of([&] { v.flush_range(4000, 1000); }) == ML_ERR_OUT_OF_RANGE);
        EXPECT(v.data()[0] == 'a');
        auto ro = memlink::Mapping::open(prefix + "-map", memlink::Access::ReadOnly);
        EXPECT(code_of([&] { ro.view().write(0, "x"); }) == ML_ERR_ACCESS_MISMATCH);
        auto opts = memlink::MappingOptions().size(100).persistent(true);
#ifdef _WIN32
        // Windows deletes a named mapping with its last handle: memlink says so.
        EXPECT(code_of([&] { opts.create(prefix + "-persist"); }) == ML_ERR_UNSUPPORTED);
#else
        { auto p = opts.create(prefix + "-persist"); }
        memlink::Mapping::remove(prefix + "-persist");
#endif
    });

    run("events", [] {
        auto e = memlink::Event::create(prefix + "-event", memlink::EventKind::ManualReset);
        auto other = memlink::Event::open(prefix + "-event");
        EXPECT(!other.wait_for(10ms));
        e.set();
        EXPECT(other.wait_for(1s));
        EXPECT(other.is_set());
        e.reset();
        EXPECT(!e.is_set());
    });

    run("channels: copies, timeouts, full", [] {
        auto tx = memlink::Sender::create(prefix + "-chan",
                                          memlink::ChannelOptions().capacity(1024).max_message(256));
        auto rx = memlink::Receiver::open(prefix + "-chan");
        EXPECT(!rx.try_recv());
        EXPECT(!rx.recv_for(10ms));
        tx.send("one");
        EXPECT(tx.try_send("two"));
        auto one = rx.recv();
        EXPECT(std::string(one.begin(), one.end()) == "one");
        auto two = rx.try_recv();
        EXPECT(two && std::string(two->begin(), two->end()) == "two");
        std::vector<uint8_t> big(200, 7);
        while (tx.try_send(big.data(), big.size())) {
        }
        EXPECT(!tx.send_for(big.data(), big.size(), 10ms));
        EXPECT(!tx.try_loan(200));
        EXPECT(code_of([&] { (void)tx.loan(200, 10ms); }) == ML_ERR_TIMEOUT);
        EXPECT(rx.max_message() == 256);
        EXPECT(tx.connected());
    });

    run("loans and borrows", [] {
        auto tx = memlink::Sender::create(prefix + "-loan");
        auto rx = memlink::Receiver::open(prefix + "-loan");
        {
            auto loan = tx.loan(3);
            std::copy_n("abc", 3, loan.data());
            EXPECT(code_of([&] { tx.send("x"); }) == ML_ERR_STATE);
        }  // destroyed uncommitted: nothing is sent
        EXPECT(!rx.try_recv());
        auto loan = tx.loan(8);
        std::copy_n("zero", 4, loan.data());
        loan.commit(4);
        {
            memlink::Borrow b = rx.borrow(1s);
            EXPECT(b.text() == "zero");
            EXPECT(code_of([&] { rx.try_recv(); }) == ML_ERR_STATE);
            memlink::Borrow moved = std::move(b);
            EXPECT(moved.size() == 4);
        }  // released
        EXPECT(!rx.try_borrow());
        tx.send("kept");
        char small[2];
        EXPECT(code_of([&] { rx.recv(small, sizeof small); }) == ML_ERR_BUFFER_TOO_SMALL);
        auto kept = rx.recv();
        EXPECT(std::string(kept.begin(), kept.end()) == "kept");
    });

    run("disconnection", [] {
        auto rx = memlink::Receiver::create(prefix + "-disc");
        {
            auto tx = memlink::Sender::open(prefix + "-disc");
            tx.send("last");
        }
        auto last = rx.recv();
        EXPECT(std::string(last.begin(), last.end()) == "last");
        try {
            rx.recv();
            EXPECT(false);
        } catch (const memlink::Error& e) {
            EXPECT(e.disconnected());
        }
    });

    run("robust mutex guard and seqlock", [] {
        auto m = memlink::MappingOptions().size(4096).mode(0640).lock_in_memory(true).create(prefix + "-sync");
        // Huge pages: granted, or refused with the reason (tmpfs huge=never).
        try {
            memlink::MappingOptions().size(1 << 21).huge_pages(true).create(prefix + "-huge");
        } catch (const memlink::Error& e) {
            EXPECT(e.code() == ML_ERR_UNSUPPORTED && std::string(e.what()).find("huge pages") != std::string::npos);
        }
        EXPECT(m.mode() == 0640 && !m.persistent() && m.file().empty());
        auto made = memlink::RobustMutex::init(m, 0);
        auto a = std::move(made);
        auto b = memlink::RobustMutex::open(m, 0);
        {
            auto guard = a.lock();
            EXPECT(!guard.owner_died());
            EXPECT(!b.try_lock());
            EXPECT(!b.lock_for(20ms));
        }
        {
            auto guard = b.lock_for(1s);
            EXPECT(guard && !guard->owner_died());
            guard->unlock();
            EXPECT(code_of([&] { guard->unlock(); }) == ML_ERR_STATE);
        }
        EXPECT(code_of([&] { memlink::RobustMutex::init(m, 64); }) == ML_ERR_INVALID_ARGUMENT);

        struct Pose {
            double x, y;
            uint32_t tick;
        };
        EXPECT(memlink::SeqLock<Pose>::footprint() == 128);
        auto w = memlink::SeqLock<Pose>::init(m, 256, Pose{1.0, 2.0, 0});
        auto r = memlink::SeqLock<Pose>::open(m, 256);
        EXPECT(r.read().y == 2.0 && r.version() == 0);
        w.write(Pose{3.0, 4.0, 9});
        auto got = r.read_for(1s);
        EXPECT(got && got->x == 3.0 && got->tick == 9 && r.version() == 1);
        EXPECT(code_of([&] { memlink::SeqLock<double>::open(m, 256); }) == ML_ERR_CORRUPT);
    });

    run("wait set over receivers, senders and deadlines", [] {
        auto ta = memlink::Sender::create(prefix + "-ws-a");
        auto ra = memlink::Receiver::open(prefix + "-ws-a");
        auto tb = memlink::Sender::create(prefix + "-ws-b");
        auto rb = memlink::Receiver::open(prefix + "-ws-b");
        memlink::WaitSet set;
        EXPECT(set.add(ra) == 0 && set.add(rb) == 1 && set.size() == 2);
        EXPECT(code_of([&] { set.add(ra); }) == ML_ERR_INVALID_ARGUMENT);
        EXPECT(set.wait_for(20ms).empty());
        tb.send("b");
        auto ready = set.wait_for(5s);
        EXPECT(ready.size() == 1 && ready[0].token == 1 && ready[0].readiness == memlink::Readiness::Readable);
        {
            auto held = rb.borrow(1s);  // busy: the wait cannot use it
            EXPECT(code_of([&] { set.wait_for(0ms); }) == ML_ERR_STATE);
        }
        EXPECT(set.wait_for(0ms).empty());  // the borrow took the message
        const size_t deadline = set.add_deadline(30ms);
        ready = set.wait();
        EXPECT(ready.size() == 1 && ready[0].token == deadline && ready[0].readiness == memlink::Readiness::Deadline);
        set.clear();
        EXPECT(set.size() == 0);
        set.add(ta, 16);
        ready = set.wait_for(1s);
        EXPECT(ready.size() == 1 && ready[0].readiness == memlink::Readiness::Writable);
        memlink::WaitSet moved = std::move(set);
        EXPECT(!set.raw() && moved.size() == 1);
    });

    run("wait set over intervals, events and peer watches", [] {
        auto ev = memlink::Event::create(prefix + "-ws-ev", memlink::EventKind::AutoReset);
        auto tx = memlink::Sender::create(prefix + "-ws-peers");
        auto rx = memlink::Receiver::open(prefix + "-ws-peers");
        memlink::WaitSet set;
        const size_t on_event = set.add(ev);
        const auto started = std::chrono::steady_clock::now();  // before the interval starts
        const size_t tick = set.add_interval(15ms);
        EXPECT(set.add_peer_death(rx) == 2 && set.add_peer_death(tx) == 3);
        EXPECT(code_of([&] { set.add(ev); }) == ML_ERR_INVALID_ARGUMENT);
        EXPECT(code_of([&] { set.add_interval(0ms); }) == ML_ERR_INVALID_ARGUMENT);
        EXPECT(code_of([&] { set.add_peer_death(rx); }) == ML_ERR_INVALID_ARGUMENT);
        for (int i = 0; i < 2; i++) {
            auto ready = set.wait_for(5s);
            EXPECT(ready.size() == 1 && ready[0].token == tick && ready[0].readiness == memlink::Readiness::Tick);
        }
        EXPECT(std::chrono::steady_clock::now() - started >= 30ms);
        ev.set();
        auto ready = set.wait_for(0ms);
        EXPECT(ready.size() == 1 && ready[0].token == on_event && ready[0].readiness == memlink::Readiness::Signaled);
        EXPECT(!ev.is_set());  // the wait took the auto-reset signal
        EXPECT(set.wait_for(0ms).empty());
    });

    run("identify tells what a name holds", [] {
        static_assert(static_cast<ml_object_kind>(memlink::ObjectKind::Channel) == ML_OBJECT_CHANNEL);
        static_assert(static_cast<ml_object_kind>(memlink::ObjectKind::Event) == ML_OBJECT_EVENT);
        static_assert(static_cast<ml_object_kind>(memlink::ObjectKind::Doorbell) == ML_OBJECT_DOORBELL);
        static_assert(static_cast<ml_object_kind>(memlink::ObjectKind::Unknown) == ML_OBJECT_UNKNOWN);
        static_assert(static_cast<ml_object_kind>(memlink::ObjectKind::Mapping) == ML_OBJECT_MAPPING);
        auto m = memlink::Mapping::create(prefix + "-id-map", 4096);
        auto e = memlink::Event::create(prefix + "-id-ev", memlink::EventKind::AutoReset);
        auto tx = memlink::Sender::create(prefix + "-id-ch");
        EXPECT(memlink::identify(prefix + "-id-map") == memlink::ObjectKind::Mapping);
        EXPECT(memlink::identify(prefix + "-id-ev") == memlink::ObjectKind::Event);
        EXPECT(memlink::identify(prefix + "-id-ch") == memlink::ObjectKind::Channel);
        try {
            memlink::identify(prefix + "-id-none");
            EXPECT(false);
        } catch (const memlink::Error& err) {
            EXPECT(err.not_found());
            EXPECT(std::string(err.what()).find(prefix + "-id-none") != std::string::npos);
        }
        EXPECT(code_of([] { memlink::identify("a/b"); }) == ML_ERR_INVALID_NAME);
        // Looking held nothing: closed, the mapping is gone.
        m = memlink::Mapping();
        EXPECT(code_of([] { memlink::identify(prefix + "-id-map"); }) == ML_ERR_NOT_FOUND);
    });

    run("mapping options: busy timeout", [] {
        const std::string name = prefix + "-busy";
        // Zero is taken, and an open with it succeeds when nobody is busy.
        auto m = memlink::MappingOptions().size(4096).busy_timeout(0ms).create(name);
        auto again = memlink::MappingOptions().busy_timeout(0ms).open(name);
        EXPECT(again.size() == 4096);
        auto longer = memlink::MappingOptions().busy_timeout(std::chrono::seconds(3)).open(name);
        EXPECT(longer.size() == 4096);
        // Always bounded: negative (forever included) is refused.
        EXPECT(code_of([&] { memlink::MappingOptions().busy_timeout(-1ms).open(name); }) ==
               ML_ERR_INVALID_ARGUMENT);
        EXPECT(code_of([&] { memlink::MappingOptions().busy_timeout(memlink::forever).open(name); }) ==
               ML_ERR_INVALID_ARGUMENT);
#ifdef __linux__
        // An entry held locked, as a remover holds it while it unlinks the
        // name: zero says Busy at once, 100 ms (shorter than a removal takes)
        // after waiting, and the default finds the lock outlasts any removal
        // and opens. Nobody may hold the name for the lock to be taken.
        m = memlink::Mapping();
        again = memlink::Mapping();
        longer = memlink::Mapping();
        { auto p = memlink::MappingOptions().size(4096).persistent(true).create(name + "-held"); }
        std::string entry = "/dev/shm/memlink-" + std::to_string(geteuid()) + "/" + name + "-held";
        int fd = open(entry.c_str(), O_RDONLY);
        bool locked = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
        ml_result zero = code_of([&] { memlink::MappingOptions().busy_timeout(0ms).open(name + "-held"); });
        ml_result short_wait = code_of([&] { memlink::MappingOptions().busy_timeout(100ms).open(name + "-held"); });
        ml_result by_default = code_of([&] { memlink::MappingOptions().open(name + "-held"); });
        if (fd >= 0) close(fd);
        memlink::Mapping::remove(name + "-held");
        EXPECT(locked);
        EXPECT(zero == ML_ERR_BUSY);
        EXPECT(short_wait == ML_ERR_BUSY);
        EXPECT(by_default == ML_OK);
#endif
    });

#ifdef MEMLINK_HAS_SPAN
    run("C++20 spans over views, loans and borrows", [] {
        auto m = memlink::Mapping::create(prefix + "-span", 4096);
        memlink::View v = m.view();
        std::span<std::byte> all = v.bytes();
        EXPECT(all.size() == 4096 && all.data() == reinterpret_cast<std::byte*>(v.data()));
        all[10] = std::byte{0x5a};
        EXPECT(v.read(10, 1)[0] == 0x5a);
        // Typed: writes through the span are the view's bytes.
        std::span<uint32_t> words = v.as_span<uint32_t>(64, 4);
        words[3] = 0xdeadbeef;
        EXPECT(v.load_u32(64 + 12) == 0xdeadbeef);
        std::span<const uint32_t> same = v.as_span<const uint32_t>(64, 4);
        EXPECT(same[3] == 0xdeadbeef);
        EXPECT(code_of([&] { (void)v.as_span<uint32_t>(66, 1); }) == ML_ERR_INVALID_ARGUMENT);
        EXPECT(code_of([&] { (void)v.as_span<uint64_t>(4096 - 8, 2); }) == ML_ERR_OUT_OF_RANGE);
        EXPECT(code_of([&] { (void)v.as_span<uint64_t>(5000, 0); }) == ML_ERR_OUT_OF_RANGE);
        EXPECT(v.as_span<uint64_t>(4096, 0).empty());
        // A read-only view: const spans only.
        auto ro = memlink::Mapping::open(prefix + "-span", memlink::Access::ReadOnly);
        memlink::View rv = ro.view();
        EXPECT(rv.const_bytes()[10] == std::byte{0x5a});
        EXPECT(rv.as_span<const uint32_t>(64, 4)[3] == 0xdeadbeef);
        EXPECT(code_of([&] { (void)rv.bytes(); }) == ML_ERR_ACCESS_MISMATCH);
        EXPECT(code_of([&] { (void)rv.as_span<uint32_t>(64, 4); }) == ML_ERR_ACCESS_MISMATCH);

        auto tx = memlink::Sender::create(prefix + "-spanchan");
        auto rx = memlink::Receiver::open(prefix + "-spanchan");
        auto loan = tx.loan(3);
        std::span<std::byte> out = loan.bytes();
        EXPECT(out.size() == 3);
        out[0] = std::byte{'a'};
        out[1] = std::byte{'b'};
        out[2] = std::byte{'c'};
        loan.commit();
        memlink::Borrow in = rx.borrow(1s);
        std::span<const std::byte> got = in.bytes();
        EXPECT(got.size() == 3 && got[2] == std::byte{'c'} && in.text() == "abc");
    });
    std::printf("C++20 spans: tested\n");
#endif

    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
