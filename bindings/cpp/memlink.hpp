// memlink.hpp: a header-only C++17 wrapper over memlink's C ABI.
//
// RAII, move-only handles; every failure throws memlink::Error, which carries
// the ML_ERR_* code and memlink's message. Calls that may time out or find
// nothing (recv_for, try_recv, send_for, try_send, Event::wait_for) report
// that in their return value instead of throwing.
//
//   #include "memlink.hpp"
//   auto tx = memlink::Sender::create("orders");
//   tx.send("data is ready");
//
// Build: g++ -std=c++17 -I crates/memlink-ffi/include -I bindings/cpp app.cpp
//            -L <dir of libmemlink.so> -lmemlink
#ifndef MEMLINK_HPP
#define MEMLINK_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

// C++20: std::span views of mappings, loans and borrows.
#if __cplusplus >= 202002L && __has_include(<span>)
#include <span>
#endif
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#define MEMLINK_HAS_SPAN 1
#endif

#include "memlink.h"

namespace memlink {

// ---------------------------------------------------------------------------
// Errors

// What every failing call throws: the ML_ERR_* code and memlink's message.
class Error : public std::runtime_error {
public:
    Error(ml_result code, const std::string& message)
        : std::runtime_error(message), code_(code) {}

    // The ML_ERR_* code.
    ml_result code() const noexcept { return code_; }
    // The code's name, such as "ML_ERR_NOT_FOUND".
    const char* code_name() const noexcept { return ml_result_name(code_); }

    bool not_found() const noexcept { return code_ == ML_ERR_NOT_FOUND; }
    bool already_exists() const noexcept { return code_ == ML_ERR_ALREADY_EXISTS; }
    bool disconnected() const noexcept { return code_ == ML_ERR_DISCONNECTED; }
    bool timed_out() const noexcept { return code_ == ML_ERR_TIMEOUT; }

private:
    ml_result code_;
};

namespace detail {

// The calling thread's last error message.
inline std::string last_message() {
    size_t len = 0;
    ml_last_error_message(nullptr, 0, &len);
    std::string text(len + 1, '\0');
    ml_last_error_message(text.data(), text.size(), &len);
    text.resize(len);
    return text;
}

inline void check(ml_result r) {
    if (r != ML_OK) throw Error(r, last_message());
}

// Whether `r` is `expected` (returned as false) rather than success (true);
// anything else throws.
inline bool check_or(ml_result r, ml_result expected) {
    if (r == ML_OK) return true;
    if (r == expected) return false;
    throw Error(r, last_message());
}

inline int64_t to_ms(std::chrono::milliseconds t) { return static_cast<int64_t>(t.count()); }

// A move-only owner of one C handle.
template <typename T, auto Close>
class Handle {
public:
    Handle() noexcept = default;
    explicit Handle(T* raw) noexcept : raw_(raw) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            reset();
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    ~Handle() { reset(); }

    T* get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    void reset() noexcept {
        // An endpoint's close can be refused (ML_ERR_STATE) only while
        // another thread is inside a call on it, which an owner being
        // destroyed or reassigned rules out.
        if (raw_) (void)Close(std::exchange(raw_, nullptr));
    }

private:
    T* raw_ = nullptr;
};

}  // namespace detail

// Waits forever, where a timeout is taken.
inline constexpr std::chrono::milliseconds forever{ML_TIMEOUT_INFINITE};

// The PAGE_READONLY / PAGE_READWRITE / PAGE_WRITECOPY of the article.
enum class Access : ml_access {
    ReadOnly = ML_ACCESS_READ_ONLY,
    ReadWrite = ML_ACCESS_READ_WRITE,
    CopyOnWrite = ML_ACCESS_COPY_ON_WRITE,
};

// ---------------------------------------------------------------------------
// Mappings and views

// A mapped range of a mapping (MapViewOfFile). Keeps its mapping alive.
// Other processes may write these bytes at any time: read() and write()
// copy and check bounds; data() is the raw address for protocols that say
// who writes when.
class View {
public:
    View() = default;
    explicit View(ml_view* raw) : h_(raw) { detail::check(ml_view_len(raw, &len_)); }

    size_t size() const noexcept { return len_; }
    uint8_t* data() const {
        uint8_t* p = nullptr;
        detail::check(ml_view_ptr(h_.get(), &p));
        return p;
    }

    void read(size_t offset, void* buf, size_t len) const {
        detail::check(ml_view_read(h_.get(), offset, static_cast<uint8_t*>(buf), len));
    }
    std::vector<uint8_t> read(size_t offset, size_t len) const {
        std::vector<uint8_t> out(len);
        read(offset, out.data(), len);
        return out;
    }
    void write(size_t offset, const void* data, size_t len) const {
        detail::check(ml_view_write(h_.get(), offset, static_cast<const uint8_t*>(data), len));
    }
    void write(size_t offset, std::string_view text) const { write(offset, text.data(), text.size()); }

    // The view's access (ML_ACCESS_*): read-only views refuse writes.
    ml_access access() const {
        ml_access a = 0;
        detail::check(ml_view_access(h_.get(), &a));
        return a;
    }

#ifdef MEMLINK_HAS_SPAN
    // The whole view as bytes, in place (C++20). A read-only view throws
    // Error(ML_ERR_ACCESS_MISMATCH): use const_bytes() for it.
    std::span<std::byte> bytes() const {
        if (access() == ML_ACCESS_READ_ONLY)
            throw Error(ML_ERR_ACCESS_MISMATCH, "a read-only view has no writable bytes: use const_bytes()");
        return {reinterpret_cast<std::byte*>(data()), len_};
    }
    std::span<const std::byte> const_bytes() const {
        return {reinterpret_cast<const std::byte*>(data()), len_};
    }
    // `count` objects of a trivially copyable T at byte `offset`, in place:
    // Error(ML_ERR_OUT_OF_RANGE) past the end, Error(ML_ERR_INVALID_ARGUMENT)
    // when data() + offset is not aligned for T. A span<const T> works on any
    // view; a span<T> (T not const) needs a writable one. The objects are
    // shared with other processes: synchronise access (RobustMutex, SeqLock).
    template <class T>
    std::span<T> as_span(size_t offset, size_t count) const {
        static_assert(std::is_trivially_copyable_v<T>, "as_span<T> needs a trivially copyable T");
        if (offset > len_ || count > (len_ - offset) / sizeof(T))
            throw Error(ML_ERR_OUT_OF_RANGE, "as_span: " + std::to_string(count) + " objects of " +
                                                 std::to_string(sizeof(T)) + " bytes at offset " +
                                                 std::to_string(offset) + " pass the view's end (" +
                                                 std::to_string(len_) + " bytes)");
        std::byte* at = reinterpret_cast<std::byte*>(data()) + offset;
        if (reinterpret_cast<uintptr_t>(at) % alignof(T) != 0)
            throw Error(ML_ERR_INVALID_ARGUMENT, "as_span: offset " + std::to_string(offset) +
                                                     " is not aligned for the type (alignment " +
                                                     std::to_string(alignof(T)) + ")");
        if constexpr (!std::is_const_v<T>) {
            if (access() == ML_ACCESS_READ_ONLY)
                throw Error(ML_ERR_ACCESS_MISMATCH, "a read-only view has no writable objects: use as_span<const T>");
        }
        return {reinterpret_cast<T*>(at), count};
    }
#endif

    // Acquire loads and release stores, for flags shared with other processes.
    uint32_t load_u32(size_t offset) const {
        uint32_t v = 0;
        detail::check(ml_view_load_u32(h_.get(), offset, &v));
        return v;
    }
    void store_u32(size_t offset, uint32_t v) const { detail::check(ml_view_store_u32(h_.get(), offset, v)); }
    uint64_t load_u64(size_t offset) const {
        uint64_t v = 0;
        detail::check(ml_view_load_u64(h_.get(), offset, &v));
        return v;
    }
    void store_u64(size_t offset, uint64_t v) const { detail::check(ml_view_store_u64(h_.get(), offset, v)); }

    // FlushViewOfFile (and wait for the file), or only start it.
    void flush() const { detail::check(ml_view_flush(h_.get())); }
    void flush_async() const { detail::check(ml_view_flush_async(h_.get())); }
    // Writes back `len` bytes from `offset` and waits.
    void flush_range(size_t offset, size_t len) const {
        detail::check(ml_view_flush_range(h_.get(), offset, len));
    }

    ml_view* raw() const noexcept { return h_.get(); }

private:
    detail::Handle<ml_view, ml_view_close> h_;
    size_t len_ = 0;
};

namespace detail {
inline std::string string_out(ml_result (*get)(const ml_mapping*, char*, size_t, size_t*),
                              const ml_mapping* m) {
    size_t len = 0;
    ml_result r = get(m, nullptr, 0, &len);
    if (r != ML_ERR_BUFFER_TOO_SMALL) check(r);
    std::string text(len + 1, '\0');
    check(get(m, text.data(), text.size(), &len));
    text.resize(len);
    return text;
}
}  // namespace detail

// A named mapping (the article's file-mapping object). Lives, by default,
// until its last holder in any process lets go or dies.
class Mapping {
public:
    Mapping() = default;
    explicit Mapping(ml_mapping* raw) noexcept : h_(raw) {}

    // CreateFileMapping(INVALID_HANDLE_VALUE, ..., size, name); throws
    // (already_exists()) if the name is taken.
    static Mapping create(const std::string& name, uint64_t size) {
        ml_mapping* m = nullptr;
        detail::check(ml_mapping_create(name.c_str(), size, &m));
        return Mapping(m);
    }
    // OpenFileMapping; throws (not_found()) if there is none.
    static Mapping open(const std::string& name, Access access = Access::ReadWrite) {
        ml_mapping* m = nullptr;
        detail::check(ml_mapping_open(name.c_str(), static_cast<ml_access>(access), &m));
        return Mapping(m);
    }
    // Opens or creates; `created` says which (ERROR_ALREADY_EXISTS).
    static Mapping open_or_create(const std::string& name, uint64_t size, bool* created = nullptr) {
        ml_mapping* m = nullptr;
        int32_t c = 0;
        detail::check(ml_mapping_open_or_create(name.c_str(), size, &m, &c));
        if (created) *created = c != 0;
        return Mapping(m);
    }
    // Removes the name now; holders keep their memory.
    static void remove(const std::string& name) { detail::check(ml_mapping_remove(name.c_str())); }

    // MapViewOfFile: `len` 0 means "to the end".
    View view(uint64_t offset = 0, uint64_t len = 0) const {
        ml_view* v = nullptr;
        detail::check(ml_mapping_view(h_.get(), offset, len, &v));
        return View(v);
    }
    View view(uint64_t offset, uint64_t len, Access access) const {
        ml_view* v = nullptr;
        detail::check(ml_mapping_view_with_access(h_.get(), offset, len, static_cast<ml_access>(access), &v));
        return View(v);
    }

    uint64_t size() const {
        uint64_t s = 0;
        detail::check(ml_mapping_size(h_.get(), &s));
        return s;
    }
    std::string name() const { return detail::string_out(ml_mapping_name, h_.get()); }
    // The OS name: "/NAME" for Global\NAME on Linux, for shm_open.
    std::string os_name() const { return detail::string_out(ml_mapping_os_name, h_.get()); }
    // The backing file's path; empty for a memory-backed mapping.
    std::string file() const { return detail::string_out(ml_mapping_file, h_.get()); }
    uint32_t mode() const {
        uint32_t v = 0;
        detail::check(ml_mapping_mode(h_.get(), &v));
        return v;
    }
    uint32_t owner() const {
        uint32_t v = 0;
        detail::check(ml_mapping_owner(h_.get(), &v));
        return v;
    }
    bool persistent() const {
        int32_t v = 0;
        detail::check(ml_mapping_is_persistent(h_.get(), &v));
        return v != 0;
    }

    ml_mapping* raw() const noexcept { return h_.get(); }

private:
    detail::Handle<ml_mapping, ml_mapping_close> h_;
};

// Everything else about creating and opening mappings, as a builder. A
// plain value: copy it, keep it, chain it on a temporary.
class MappingOptions {
public:
    MappingOptions& size(uint64_t bytes) { return put(size_, bytes); }
    MappingOptions& access(Access a) { return put(access_, a); }
    MappingOptions& mode(uint32_t bits) { return put(mode_, bits); }
    MappingOptions& persistent(bool on) { return put(persistent_, on); }
    MappingOptions& file(const std::string& path) { return put(file_, path); }
    MappingOptions& allow_foreign_owner(bool on) { return put(allow_foreign_owner_, on); }
    MappingOptions& populate(bool on) { return put(populate_, on); }
    MappingOptions& lock_in_memory(bool on) { return put(lock_, on); }
    MappingOptions& huge_pages(bool on) { return put(huge_, on); }
    // How long open waits for a name that another process is removing at
    // that moment, or holds locked, before it throws Error(ML_ERR_BUSY)
    // (default 2 s). 0: never wait. A lock held longer than a removal takes
    // (250 ms) is somebody else's, and open then goes ahead without it;
    // with a shorter timeout it throws instead. The wait is always bounded:
    // a negative value (memlink::forever too) makes create / open throw
    // Error(ML_ERR_INVALID_ARGUMENT). Unix only: on Windows a name is never
    // busy for open.
    MappingOptions& busy_timeout(std::chrono::milliseconds timeout) { return put(busy_timeout_, timeout); }

    Mapping create(const std::string& name) const {
        ml_mapping* m = nullptr;
        detail::check(ml_mapping_options_create(build().get(), name.c_str(), &m));
        return Mapping(m);
    }
    Mapping open(const std::string& name) const {
        ml_mapping* m = nullptr;
        detail::check(ml_mapping_options_open(build().get(), name.c_str(), &m));
        return Mapping(m);
    }
    Mapping open_or_create(const std::string& name, bool* created = nullptr) const {
        ml_mapping* m = nullptr;
        int32_t c = 0;
        detail::check(ml_mapping_options_open_or_create(build().get(), name.c_str(), &m, &c));
        if (created) *created = c != 0;
        return Mapping(m);
    }

private:
    template <typename T, typename V>
    MappingOptions& put(std::optional<T>& field, V value) {
        field = std::move(value);
        return *this;
    }

    detail::Handle<ml_mapping_options, ml_mapping_options_free> build() const {
        ml_mapping_options* raw = nullptr;
        detail::check(ml_mapping_options_new(&raw));
        detail::Handle<ml_mapping_options, ml_mapping_options_free> o(raw);
        if (size_) detail::check(ml_mapping_options_set_size(raw, *size_));
        if (access_) detail::check(ml_mapping_options_set_access(raw, static_cast<ml_access>(*access_)));
        if (mode_) detail::check(ml_mapping_options_set_mode(raw, *mode_));
        if (persistent_) detail::check(ml_mapping_options_set_persistent(raw, *persistent_));
        if (file_) detail::check(ml_mapping_options_set_file(raw, file_->c_str()));
        if (allow_foreign_owner_)
            detail::check(ml_mapping_options_set_allow_foreign_owner(raw, *allow_foreign_owner_));
        if (populate_) detail::check(ml_mapping_options_set_populate(raw, *populate_));
        if (lock_) detail::check(ml_mapping_options_set_lock_in_memory(raw, *lock_));
        if (huge_) detail::check(ml_mapping_options_set_huge_pages(raw, *huge_));
        if (busy_timeout_)
            detail::check(ml_mapping_options_set_busy_timeout(raw, detail::to_ms(*busy_timeout_)));
        return o;
    }

    std::optional<uint64_t> size_;
    std::optional<Access> access_;
    std::optional<uint32_t> mode_;
    std::optional<bool> persistent_;
    std::optional<std::string> file_;
    std::optional<bool> allow_foreign_owner_;
    std::optional<bool> populate_;
    std::optional<bool> lock_;
    std::optional<bool> huge_;
    std::optional<std::chrono::milliseconds> busy_timeout_;
};

// ---------------------------------------------------------------------------
// Named events

enum class EventKind : ml_event_kind {
    AutoReset = ML_EVENT_AUTO_RESET,
    ManualReset = ML_EVENT_MANUAL_RESET,
};

// A named event: the article's "data is ready" message without a window.
// One Event may be used from many threads at once.
class Event {
public:
    Event() = default;
    explicit Event(ml_event* raw) noexcept : h_(raw) {}

    static Event create(const std::string& name, EventKind kind) {
        ml_event* e = nullptr;
        detail::check(ml_event_create(name.c_str(), static_cast<ml_event_kind>(kind), &e));
        return Event(e);
    }
    static Event open(const std::string& name) {
        ml_event* e = nullptr;
        detail::check(ml_event_open(name.c_str(), &e));
        return Event(e);
    }
    static Event open_or_create(const std::string& name, EventKind kind, bool* created = nullptr) {
        ml_event* e = nullptr;
        int32_t c = 0;
        detail::check(ml_event_open_or_create(name.c_str(), static_cast<ml_event_kind>(kind), &e, &c));
        if (created) *created = c != 0;
        return Event(e);
    }

    void set() const { detail::check(ml_event_set(h_.get())); }
    void reset() const { detail::check(ml_event_reset(h_.get())); }
    void notify_one() const { detail::check(ml_event_notify_one(h_.get())); }
    void notify_all() const { detail::check(ml_event_notify_all(h_.get())); }
    bool is_set() const {
        int32_t v = 0;
        detail::check(ml_event_is_set(h_.get(), &v));
        return v != 0;
    }
    void wait() const { detail::check(ml_event_wait(h_.get(), ML_TIMEOUT_INFINITE)); }
    // False if `timeout` passed first.
    bool wait_for(std::chrono::milliseconds timeout) const {
        return detail::check_or(ml_event_wait(h_.get(), detail::to_ms(timeout)), ML_ERR_TIMEOUT);
    }

    ml_event* raw() const noexcept { return h_.get(); }

private:
    detail::Handle<ml_event, ml_event_close> h_;
};

// ---------------------------------------------------------------------------
// Robust mutex and seqlock (they live inside a mapping)

// Holds a RobustMutex until destroyed (or unlock()). owner_died(): the
// previous owner died holding the lock; repair the data it guards and call
// mark_consistent() before the guard goes, or the mutex becomes not
// recoverable (every later lock throws, code ML_ERR_NOT_RECOVERABLE).
class LockGuard {
public:
    LockGuard(LockGuard&& other) noexcept
        : m_(std::exchange(other.m_, nullptr)), owner_died_(other.owner_died_) {}
    LockGuard& operator=(LockGuard&&) = delete;
    LockGuard(const LockGuard&) = delete;
    ~LockGuard() { unlock_noexcept(); }

    bool owner_died() const noexcept { return owner_died_; }
    void mark_consistent() const;
    void unlock();

private:
    friend class RobustMutex;
    // The native handle, not the RobustMutex: that may move meanwhile.
    LockGuard(ml_mutex* m, bool owner_died) noexcept : m_(m), owner_died_(owner_died) {}
    void unlock_noexcept() noexcept;

    ml_mutex* m_;
    bool owner_died_;
};

// A process-shared mutex that survives its owner's kill -9, in
// ML_MUTEX_SIZE bytes at an ML_MUTEX_ALIGN-aligned offset of a mapping.
// The lock belongs to the process (not the thread).
class RobustMutex {
public:
    RobustMutex() = default;
    // Makes the bytes at `offset` a new, unlocked mutex (once, before others
    // open it).
    static RobustMutex init(const Mapping& m, uint64_t offset) {
        ml_mutex* raw = nullptr;
        detail::check(ml_mutex_init(m.raw(), offset, &raw));
        return RobustMutex(raw);
    }
    // The mutex that init() made at `offset` (usually in another process).
    static RobustMutex open(const Mapping& m, uint64_t offset) {
        ml_mutex* raw = nullptr;
        detail::check(ml_mutex_open(m.raw(), offset, &raw));
        return RobustMutex(raw);
    }

    // Waits for as long as it takes.
    LockGuard lock() const { return *lock_for(forever); }
    // Empty if `timeout` passed first.
    std::optional<LockGuard> lock_for(std::chrono::milliseconds timeout) const {
        int32_t died = 0;
        if (!detail::check_or(ml_mutex_lock(h_.get(), detail::to_ms(timeout), &died), ML_ERR_TIMEOUT))
            return std::nullopt;
        return LockGuard(h_.get(), died != 0);
    }
    std::optional<LockGuard> try_lock() const { return lock_for(std::chrono::milliseconds(0)); }

    ml_mutex* raw() const noexcept { return h_.get(); }

private:
    explicit RobustMutex(ml_mutex* raw) noexcept : h_(raw) {}
    detail::Handle<ml_mutex, ml_mutex_close> h_;
};

inline void LockGuard::mark_consistent() const {
    if (!m_) throw Error(ML_ERR_STATE, "the guard no longer holds the lock");
    detail::check(ml_mutex_mark_consistent(m_));
}
inline void LockGuard::unlock() {
    if (!m_) throw Error(ML_ERR_STATE, "the guard no longer holds the lock");
    detail::check(ml_mutex_unlock(std::exchange(m_, nullptr)));
}
inline void LockGuard::unlock_noexcept() noexcept {
    if (m_) (void)ml_mutex_unlock(std::exchange(m_, nullptr));
}

// One writer publishes snapshots of a trivially copyable T; readers in any
// process copy them whole, never torn. The same bytes as Rust's
// memlink::SeqLock<[u8; sizeof(T)]>.
template <typename T>
class SeqLock {
    static_assert(std::is_trivially_copyable_v<T>, "SeqLock<T> needs a trivially copyable T");

public:
    SeqLock() = default;
    // The bytes a SeqLock<T> takes in a mapping.
    static size_t footprint() {
        size_t n = 0;
        detail::check(ml_seqlock_size(sizeof(T), &n));
        return n;
    }
    // Makes the bytes at `offset` (a multiple of ML_SEQLOCK_ALIGN) a
    // seqlock holding `initial`.
    static SeqLock init(const Mapping& m, uint64_t offset, const T& initial) {
        ml_seqlock* raw = nullptr;
        detail::check(ml_seqlock_init(m.raw(), offset, reinterpret_cast<const uint8_t*>(&initial), sizeof(T), &raw));
        return SeqLock(raw);
    }
    // The seqlock that init() made (a read-only mapping reads only).
    static SeqLock open(const Mapping& m, uint64_t offset) {
        ml_seqlock* raw = nullptr;
        detail::check(ml_seqlock_open(m.raw(), offset, sizeof(T), &raw));
        return SeqLock(raw);
    }

    // One writer at a time.
    void write(const T& value) const {
        detail::check(ml_seqlock_write(h_.get(), reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
    }
    // A snapshot; waits while writes overlap.
    T read() const { return *read_for(forever); }
    // Empty if no snapshot could be taken in time (a writer died mid-write).
    std::optional<T> read_for(std::chrono::milliseconds timeout) const {
        T value;
        ml_result r = ml_seqlock_read(h_.get(), reinterpret_cast<uint8_t*>(&value), sizeof(T), detail::to_ms(timeout));
        if (r == ML_ERR_TIMEOUT || r == ML_ERR_EMPTY) return std::nullopt;
        detail::check(r);
        return value;
    }
    // Completed writes so far.
    uint64_t version() const {
        uint64_t v = 0;
        detail::check(ml_seqlock_version(h_.get(), &v));
        return v;
    }

private:
    explicit SeqLock(ml_seqlock* raw) noexcept : h_(raw) {}
    detail::Handle<ml_seqlock, ml_seqlock_close> h_;
};

// ---------------------------------------------------------------------------
// Channels

enum class ChannelKind : ml_channel_kind {
    OneToOne = ML_CHANNEL_ONE_TO_ONE,
    ManyToOne = ML_CHANNEL_MANY_TO_ONE,
    Broadcast = ML_CHANNEL_BROADCAST,
};

enum class WaitStrategy : ml_wait_strategy {
    Spin = ML_WAIT_SPIN,
    SpinThenPark = ML_WAIT_SPIN_THEN_PARK,
    Park = ML_WAIT_PARK,
};

// Options for Sender/Receiver create and open, as a builder. A plain
// value: copy it, keep it, chain it on a temporary.
class ChannelOptions {
public:
    ChannelOptions& kind(ChannelKind k) { return put(kind_, k); }
    ChannelOptions& capacity(uint64_t bytes) { return put(capacity_, bytes); }
    ChannelOptions& max_message(uint32_t bytes) { return put(max_message_, bytes); }
    ChannelOptions& max_senders(uint32_t n) { return put(max_senders_, n); }
    ChannelOptions& max_receivers(uint32_t n) { return put(max_receivers_, n); }
    ChannelOptions& lossy(bool on) { return put(lossy_, on); }
    ChannelOptions& wait(WaitStrategy s, uint32_t spin_us = 50) {
        wait_ = s;
        spin_us_ = spin_us;
        return *this;
    }
    ChannelOptions& mode(uint32_t bits) { return put(mode_, bits); }
    ChannelOptions& persistent(bool on) { return put(persistent_, on); }
    ChannelOptions& allow_foreign_owner(bool on) { return put(allow_foreign_owner_, on); }

    // The C options object these values describe.
    detail::Handle<ml_channel_options, ml_channel_options_free> build() const {
        ml_channel_options* raw = nullptr;
        detail::check(ml_channel_options_new(&raw));
        detail::Handle<ml_channel_options, ml_channel_options_free> o(raw);
        if (kind_) detail::check(ml_channel_options_set_kind(raw, static_cast<ml_channel_kind>(*kind_)));
        if (capacity_) detail::check(ml_channel_options_set_capacity(raw, *capacity_));
        if (max_message_) detail::check(ml_channel_options_set_max_message(raw, *max_message_));
        if (max_senders_) detail::check(ml_channel_options_set_max_senders(raw, *max_senders_));
        if (max_receivers_) detail::check(ml_channel_options_set_max_receivers(raw, *max_receivers_));
        if (lossy_) detail::check(ml_channel_options_set_lossy(raw, *lossy_));
        if (wait_)
            detail::check(ml_channel_options_set_wait(raw, static_cast<ml_wait_strategy>(*wait_), spin_us_));
        if (mode_) detail::check(ml_channel_options_set_mode(raw, *mode_));
        if (persistent_) detail::check(ml_channel_options_set_persistent(raw, *persistent_));
        if (allow_foreign_owner_)
            detail::check(ml_channel_options_set_allow_foreign_owner(raw, *allow_foreign_owner_));
        return o;
    }

private:
    template <typename T, typename V>
    ChannelOptions& put(std::optional<T>& field, V value) {
        field = value;
        return *this;
    }

    std::optional<ChannelKind> kind_;
    std::optional<uint64_t> capacity_;
    std::optional<uint32_t> max_message_;
    std::optional<uint32_t> max_senders_;
    std::optional<uint32_t> max_receivers_;
    std::optional<bool> lossy_;
    std::optional<WaitStrategy> wait_;
    uint32_t spin_us_ = 50;
    std::optional<uint32_t> mode_;
    std::optional<bool> persistent_;
    std::optional<bool> allow_foreign_owner_;
};

class Sender;

// Room for one message in the ring, lent by Sender::loan: write into
// data(), then commit(). Destroying it uncommitted publishes nothing.
//
// A Loan points into its Sender's ring through the Sender's handle: it must
// not outlive the Sender (nor the Sender be move-assigned over) — destroy,
// commit or abandon it first. Sender::loan cannot be called on a temporary
// for that reason. While it is outstanding, other calls on the Sender fail
// with ML_ERR_STATE.
class Loan {
public:
    Loan(Loan&& o) noexcept
        : tx_(std::exchange(o.tx_, nullptr)), data_(o.data_), size_(o.size_) {}
    Loan& operator=(Loan&&) = delete;
    Loan(const Loan&) = delete;
    ~Loan() {
        if (tx_) ml_sender_abandon(tx_);
    }

    uint8_t* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }
#ifdef MEMLINK_HAS_SPAN
    // The loaned bytes, in place (C++20).
    std::span<std::byte> bytes() const noexcept { return {reinterpret_cast<std::byte*>(data_), size_}; }
#endif

    // Publishes the first `len` bytes (all of them by default).
    void commit(size_t len) {
        detail::check(ml_sender_commit(tx_, len));
        tx_ = nullptr;
    }
    void commit() { commit(size_); }
    void abandon() { detail::check(ml_sender_abandon(std::exchange(tx_, nullptr))); }

private:
    friend class Sender;
    Loan(ml_sender* tx, uint8_t* data, size_t size) : tx_(tx), data_(data), size_(size) {}
    ml_sender* tx_;
    uint8_t* data_;
    size_t size_;
};

// The sending end of a channel. One call at a time per Sender.
class Sender {
public:
    Sender() = default;
    explicit Sender(ml_sender* raw) noexcept : h_(raw) {}

    // Creates the channel and attaches as its sender.
    static Sender create(const std::string& name, const ChannelOptions& options = ChannelOptions()) {
        ml_sender* s = nullptr;
        detail::check(ml_sender_create(name.c_str(), options.build().get(), &s));
        return Sender(s);
    }
    // Opens an existing channel as a sender (its geometry is the channel's).
    static Sender open(const std::string& name, const ChannelOptions& options = ChannelOptions()) {
        ml_sender* s = nullptr;
        detail::check(ml_sender_open(name.c_str(), options.build().get(), &s));
        return Sender(s);
    }

    void send(const void* data, size_t len) const {
        detail::check(ml_sender_send(h_.get(), static_cast<const uint8_t*>(data), len));
    }
    void send(std::string_view text) const { send(text.data(), text.size()); }
    // False if `timeout` passed before there was room.
    bool send_for(const void* data, size_t len, std::chrono::milliseconds timeout) const {
        return detail::check_or(
            ml_sender_send_timeout(h_.get(), static_cast<const uint8_t*>(data), len, detail::to_ms(timeout)),
            ML_ERR_TIMEOUT);
    }
    // False if the channel is full now.
    bool try_send(const void* data, size_t len) const {
        return detail::check_or(ml_sender_try_send(h_.get(), static_cast<const uint8_t*>(data), len),
                                ML_ERR_FULL);
    }
    bool try_send(std::string_view text) const { return try_send(text.data(), text.size()); }

    // Zero-copy: room for `len` bytes in the ring, waiting up to `timeout`
    // (throws timed_out()). The Loan must not outlive this Sender: on a
    // temporary (`Sender::create(n).loan(5)`) it would dangle at once, so
    // that does not compile.
    [[nodiscard]] Loan loan(size_t len, std::chrono::milliseconds timeout = forever) const& {
        uint8_t* p = nullptr;
        detail::check(ml_sender_loan(h_.get(), len, detail::to_ms(timeout), &p));
        return Loan(h_.get(), p, len);
    }
    Loan loan(size_t len, std::chrono::milliseconds timeout = forever) const&& = delete;
    [[nodiscard]] std::optional<Loan> try_loan(size_t len) const& {
        uint8_t* p = nullptr;
        if (!detail::check_or(ml_sender_try_loan(h_.get(), len, &p), ML_ERR_FULL)) return std::nullopt;
        return Loan(h_.get(), p, len);
    }
    std::optional<Loan> try_loan(size_t len) const&& = delete;

    bool connected() const {
        int32_t v = 0;
        detail::check(ml_sender_is_connected(h_.get(), &v));
        return v != 0;
    }
    size_t max_message() const {
        size_t n = 0;
        detail::check(ml_sender_max_message(h_.get(), &n));
        return n;
    }

    ml_sender* raw() const noexcept { return h_.get(); }

private:
    detail::Handle<ml_sender, ml_sender_close> h_;
};

class Receiver;

// A received message lent in place by Receiver::borrow; its space goes back
// to the sender when it is destroyed (or release()d).
//
// Like a Loan, a Borrow must not outlive its Receiver; Receiver::borrow
// cannot be called on a temporary. While it is outstanding, other calls on
// the Receiver fail with ML_ERR_STATE.
class Borrow {
public:
    Borrow(Borrow&& o) noexcept
        : rx_(std::exchange(o.rx_, nullptr)), data_(o.data_), size_(o.size_) {}
    Borrow& operator=(Borrow&&) = delete;
    Borrow(const Borrow&) = delete;
    ~Borrow() {
        if (rx_) ml_receiver_release(rx_);
    }

    const uint8_t* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }
#ifdef MEMLINK_HAS_SPAN
    // The message's bytes, in place (C++20).
    std::span<const std::byte> bytes() const noexcept {
        return {reinterpret_cast<const std::byte*>(data_), size_};
    }
#endif
    std::string_view text() const noexcept {
        return std::string_view(reinterpret_cast<const char*>(data_), size_);
    }
    std::vector<uint8_t> to_vector() const { return std::vector<uint8_t>(data_, data_ + size_); }
    void release() { detail::check(ml_receiver_release(std::exchange(rx_, nullptr))); }

private:
    friend class Receiver;
    Borrow(ml_receiver* rx, const uint8_t* data, size_t size) : rx_(rx), data_(data), size_(size) {}
    ml_receiver* rx_;
    const uint8_t* data_;
    size_t size_;
};

// The receiving end of a channel. One call at a time per Receiver.
// recv() throws disconnected() once the sender is gone and everything it
// sent was received.
class Receiver {
public:
    Receiver() = default;
    explicit Receiver(ml_receiver* raw) : h_(raw) { detail::check(ml_receiver_max_message(raw, &max_)); }

    // Creates the channel and attaches as its receiver.
    static Receiver create(const std::string& name, const ChannelOptions& options = ChannelOptions()) {
        ml_receiver* r = nullptr;
        detail::check(ml_receiver_create(name.c_str(), options.build().get(), &r));
        return Receiver(r);
    }
    // Opens an existing channel as a receiver.
    static Receiver open(const std::string& name, const ChannelOptions& options = ChannelOptions()) {
        ml_receiver* r = nullptr;
        detail::check(ml_receiver_open(name.c_str(), options.build().get(), &r));
        return Receiver(r);
    }

    std::vector<uint8_t> recv() const { return *recv_impl(ML_TIMEOUT_INFINITE, false); }
    // Nothing if `timeout` passed first.
    std::optional<std::vector<uint8_t>> recv_for(std::chrono::milliseconds timeout) const {
        return recv_impl(detail::to_ms(timeout), false);
    }
    // Nothing if no message is waiting.
    std::optional<std::vector<uint8_t>> try_recv() const { return recv_impl(0, true); }
    // Into a caller's buffer: the message's length. A message larger than
    // `cap` throws (code ML_ERR_BUFFER_TOO_SMALL) and stays for the next call.
    size_t recv(void* buf, size_t cap) const {
        size_t len = 0;
        detail::check(ml_receiver_recv(h_.get(), static_cast<uint8_t*>(buf), cap, &len));
        return len;
    }

    // Zero-copy: the next message in place, waiting up to `timeout`
    // (throws timed_out()). The Borrow must not outlive this Receiver, so
    // there is no borrow() on a temporary.
    [[nodiscard]] Borrow borrow(std::chrono::milliseconds timeout = forever) const& {
        const uint8_t* p = nullptr;
        size_t len = 0;
        detail::check(ml_receiver_borrow(h_.get(), detail::to_ms(timeout), &p, &len));
        return Borrow(h_.get(), p, len);
    }
    Borrow borrow(std::chrono::milliseconds timeout = forever) const&& = delete;
    [[nodiscard]] std::optional<Borrow> try_borrow() const& {
        const uint8_t* p = nullptr;
        size_t len = 0;
        if (!detail::check_or(ml_receiver_try_borrow(h_.get(), &p, &len), ML_ERR_EMPTY)) return std::nullopt;
        return Borrow(h_.get(), p, len);
    }
    std::optional<Borrow> try_borrow() const&& = delete;

    bool connected() const {
        int32_t v = 0;
        detail::check(ml_receiver_is_connected(h_.get(), &v));
        return v != 0;
    }
    size_t max_message() const noexcept { return max_; }
    uint64_t take_missed() const {
        uint64_t n = 0;
        detail::check(ml_receiver_take_missed(h_.get(), &n));
        return n;
    }

    ml_receiver* raw() const noexcept { return h_.get(); }

private:
    std::optional<std::vector<uint8_t>> recv_impl(int64_t timeout_ms, bool try_only) const {
        std::vector<uint8_t> buf(max_);
        size_t len = 0;
        ml_result r = try_only ? ml_receiver_try_recv(h_.get(), buf.data(), buf.size(), &len)
                               : ml_receiver_recv_timeout(h_.get(), buf.data(), buf.size(), &len, timeout_ms);
        if (!detail::check_or(r, try_only ? ML_ERR_EMPTY : ML_ERR_TIMEOUT)) return std::nullopt;
        buf.resize(len);
        return buf;
    }

    detail::Handle<ml_receiver, ml_receiver_close> h_;
    size_t max_ = 0;
};

// Why a source of a WaitSet is ready.
enum class Readiness : ml_readiness {
    Readable = ML_READY_READABLE,          // a receiver has a message
    Writable = ML_READY_WRITABLE,          // a sender has room
    Disconnected = ML_READY_DISCONNECTED,  // the endpoint's peers are gone
    Deadline = ML_READY_DEADLINE,          // a deadline passed
    Signaled = ML_READY_SIGNALED,          // an event was set (its signal taken)
    Tick = ML_READY_TICK,                  // an interval's period came round
    PeerDied = ML_READY_PEER_DIED,         // a watched endpoint's peer closed or died
};

// One ready source: the token that add() returned, and why.
struct Ready {
    size_t token;
    Readiness readiness;
};

// One wait on many receivers, senders, deadlines, intervals, events and
// peer watches (ml_waitset_*). It refers to its endpoints and events: they
// must outlive it (or clear() it first).
// While wait() runs, its endpoints are inside a call: another thread's call
// on one of them throws Error(ML_ERR_STATE). Readiness is level-triggered.
class WaitSet {
public:
    WaitSet() {
        ml_waitset* raw = nullptr;
        detail::check(ml_waitset_new(&raw));
        h_ = detail::Handle<ml_waitset, ml_waitset_free>(raw);
    }

    // Ready (Readable) when a message waits; Disconnected when its senders
    // are gone and nothing is left. Returns the source's token.
    size_t add(const Receiver& receiver) {
        size_t token = 0;
        detail::check(ml_waitset_add_receiver(h_.get(), receiver.raw(), &token));
        return token;
    }
    // Ready (Writable) when a message of `len` bytes fits now.
    size_t add(const Sender& sender, size_t len) {
        size_t token = 0;
        detail::check(ml_waitset_add_sender(h_.get(), sender.raw(), len, &token));
        return token;
    }
    // Ready (Deadline) from `after` from now on.
    size_t add_deadline(std::chrono::milliseconds after) {
        size_t token = 0;
        detail::check(ml_waitset_add_deadline(h_.get(), detail::to_ms(after), &token));
        return token;
    }
    // Ready (Tick) every `period` (1 ms or more), the first time one period
    // from now; periods missed while nobody waited are reported once.
    size_t add_interval(std::chrono::milliseconds period) {
        size_t token = 0;
        detail::check(ml_waitset_add_interval(h_.get(), detail::to_ms(period), &token));
        return token;
    }
    // Ready (Signaled) when the event is set or notified; the report takes
    // an auto-reset event's signal, as WaitForMultipleObjects does.
    size_t add(const Event& event) {
        size_t token = 0;
        detail::check(ml_waitset_add_event(h_.get(), event.raw(), &token));
        return token;
    }
    // Ready (PeerDied) when one of the receiver's senders closes or dies
    // (kill -9 included), once per departure. Covers every sender attached
    // since this call, one that attaches during a wait or leaves between
    // two included (see ml_waitset_add_peer_death).
    size_t add_peer_death(const Receiver& receiver) {
        size_t token = 0;
        detail::check(ml_waitset_add_peer_death(h_.get(), receiver.raw(), nullptr, &token));
        return token;
    }
    // As above, for the sender's receivers.
    size_t add_peer_death(const Sender& sender) {
        size_t token = 0;
        detail::check(ml_waitset_add_peer_death(h_.get(), nullptr, sender.raw(), &token));
        return token;
    }
    size_t size() const {
        size_t n = 0;
        detail::check(ml_waitset_len(h_.get(), &n));
        return n;
    }
    void clear() { detail::check(ml_waitset_clear(h_.get())); }

    // Every source ready once one is, in token order; empty when `timeout`
    // passed first (memlink::forever: only the set's deadlines end it).
    std::vector<Ready> wait_for(std::chrono::milliseconds timeout) const {
        std::vector<ml_ready> raw(std::max<size_t>(size(), 1));
        size_t count = 0;
        if (!detail::check_or(ml_waitset_wait(h_.get(), detail::to_ms(timeout), raw.data(), raw.size(), &count),
                              ML_ERR_TIMEOUT))
            return {};
        std::vector<Ready> ready;
        for (size_t i = 0; i < count && i < raw.size(); i++)
            ready.push_back(Ready{raw[i].token, static_cast<Readiness>(raw[i].readiness)});
        return ready;
    }
    std::vector<Ready> wait() const { return wait_for(forever); }

    ml_waitset* raw() const noexcept { return h_.get(); }

private:
    detail::Handle<ml_waitset, ml_waitset_free> h_;
};

// ---------------------------------------------------------------------------
// What a name holds

// What a named mapping holds, as identify() says (the ML_OBJECT_* values).
enum class ObjectKind : ml_object_kind {
    Channel = ML_OBJECT_CHANNEL,    // a channel (Sender / Receiver)
    Event = ML_OBJECT_EVENT,        // a named Event
    Doorbell = ML_OBJECT_DOORBELL,  // a WaitSet's doorbell, removed with it
    Unknown = ML_OBJECT_UNKNOWN,    // a memlink object of a kind newer than this library
    Mapping = ML_OBJECT_MAPPING,    // plain bytes: no memlink header
};

// What the mapping `name` holds, told from its first bytes. It is opened
// read-only for a moment (another user's too) without counting as one of
// its holders: looking never keeps an object alive. Throws not_found() if
// there is no such name.
inline ObjectKind identify(const std::string& name) {
    ml_object_kind kind = 0;
    detail::check(ml_identify(name.c_str(), &kind));
    return static_cast<ObjectKind>(kind);
}

}  // namespace memlink

#endif  // MEMLINK_HPP
