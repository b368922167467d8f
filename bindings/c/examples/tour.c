/* A tour of the C ABI in one process, the same on Linux, macOS and Windows:
 * a named mapping written through one handle and read through a second one
 * opened by name, a channel (copying and zero-copy), a named event, and a
 * wait set over two channels and a deadline.
 * Prints one line per step and "tour: ok" at the end; exits 1 (with the
 * error on stderr) when anything fails.
 *
 *   tour NAME
 *
 * Build against an installed memlink:
 *   cc tour.c $(pkg-config --cflags --libs memlink) -o tour
 * or for Windows with mingw (the DLL and its import library from
 * `cargo build -p memlink-ffi --target x86_64-pc-windows-gnu`):
 *   x86_64-w64-mingw32-gcc tour.c -I crates/memlink-ffi/include \
 *       target/x86_64-pc-windows-gnu/debug/libmemlink.dll.a -o tour.exe */
#include <stdio.h>
#include <string.h>

#include <memlink.h>

static int fail(const char *what, ml_result r) {
    char msg[512] = {0};
    ml_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "%s: %s: %s\n", what, ml_result_name(r), msg);
    return 1;
}

#define CHECK(call)                                  \
    do {                                             \
        ml_result r_ = (call);                       \
        if (r_ != ML_OK) return fail(#call, r_);     \
    } while (0)

static int mapping_step(const char *name) {
    char map_name[256];
    ml_mapping *writer = NULL, *reader = NULL;
    ml_view *out = NULL, *in = NULL;
    const char text[] = "Message from first process.";
    char back[sizeof text] = {0};
    snprintf(map_name, sizeof map_name, "Local\\%s-map", name);
    CHECK(ml_mapping_create(map_name, 4096, &writer));
    CHECK(ml_mapping_view(writer, 0, 0, &out));
    CHECK(ml_view_write(out, 100, (const uint8_t *)text, sizeof text));
    /* A second handle, opened by name, as another process would. */
    CHECK(ml_mapping_open(map_name, ML_ACCESS_READ_ONLY, &reader));
    CHECK(ml_mapping_view(reader, 100, sizeof text, &in));
    CHECK(ml_view_read(in, 0, (uint8_t *)back, sizeof back));
    if (strcmp(back, text) != 0) {
        fprintf(stderr, "mapping: read back '%s'\n", back);
        return 1;
    }
    /* A read-only view refuses writes with a clear code. */
    if (ml_view_write(in, 0, (const uint8_t *)"x", 1) == ML_OK) {
        fprintf(stderr, "mapping: a read-only view took a write\n");
        return 1;
    }
    printf("mapping: %s\n", back);
    ml_view_close(in);
    ml_view_close(out);
    ml_mapping_close(reader);
    ml_mapping_close(writer);
    return 0;
}

static int channel_step(const char *name) {
    char channel[256];
    ml_sender *tx = NULL;
    ml_receiver *rx = NULL;
    uint8_t buf[64];
    size_t len = 0;
    uint8_t *loan = NULL;
    const uint8_t *borrowed = NULL;
    int i;
    snprintf(channel, sizeof channel, "%s-orders", name);
    CHECK(ml_sender_create(channel, NULL, &tx));
    CHECK(ml_receiver_open(channel, NULL, &rx));
    for (i = 0; i < 3; i++) {
        char message[32];
        int n = snprintf(message, sizeof message, "order %d", i);
        CHECK(ml_sender_send(tx, (const uint8_t *)message, (size_t)n));
    }
    for (i = 0; i < 3; i++) {
        char expected[32];
        int n = snprintf(expected, sizeof expected, "order %d", i);
        CHECK(ml_receiver_recv_timeout(rx, buf, sizeof buf, &len, 5000));
        if (len != (size_t)n || memcmp(buf, expected, len) != 0) {
            fprintf(stderr, "channel: got '%.*s', expected '%s'\n", (int)len, (const char *)buf, expected);
            return 1;
        }
    }
    if (ml_receiver_try_recv(rx, buf, sizeof buf, &len) != ML_ERR_EMPTY) {
        fprintf(stderr, "channel: a fourth message appeared\n");
        return 1;
    }
    /* Zero-copy: write into the ring, read in place. */
    CHECK(ml_sender_loan(tx, 5, 5000, &loan));
    memcpy(loan, "hello", 5);
    CHECK(ml_sender_commit(tx, 5));
    CHECK(ml_receiver_borrow(rx, 5000, &borrowed, &len));
    printf("channel: 3 copied messages, then '%.*s' in place\n", (int)len, (const char *)borrowed);
    CHECK(ml_receiver_release(rx));
    ml_receiver_close(rx);
    ml_sender_close(tx);
    return 0;
}

static int event_step(const char *name) {
    char event_name[256];
    ml_event *event = NULL, *same = NULL;
    ml_result r;
    snprintf(event_name, sizeof event_name, "%s-ready", name);
    CHECK(ml_event_create(event_name, ML_EVENT_AUTO_RESET, &event));
    CHECK(ml_event_open(event_name, &same));
    if ((r = ml_event_wait(same, 0)) != ML_ERR_TIMEOUT) return fail("an unset event released a waiter", r);
    CHECK(ml_event_set(event));
    CHECK(ml_event_wait(same, 5000));
    /* Auto-reset: the wait consumed the signal. */
    if ((r = ml_event_wait(same, 50)) != ML_ERR_TIMEOUT) return fail("an auto-reset event stayed set", r);
    printf("event: set, released one wait, reset itself\n");
    ml_event_close(same);
    ml_event_close(event);
    return 0;
}

static int waitset_step(const char *name) {
    char a[256], b[256];
    ml_sender *ta = NULL, *tb = NULL;
    ml_receiver *ra = NULL, *rb = NULL;
    ml_waitset *set = NULL;
    ml_ready ready[3];
    size_t count = 0, on_b = 0, deadline = 0;
    snprintf(a, sizeof a, "%s-a", name);
    snprintf(b, sizeof b, "%s-b", name);
    CHECK(ml_sender_create(a, NULL, &ta));
    CHECK(ml_receiver_open(a, NULL, &ra));
    CHECK(ml_sender_create(b, NULL, &tb));
    CHECK(ml_receiver_open(b, NULL, &rb));
    CHECK(ml_waitset_new(&set));
    CHECK(ml_waitset_add_receiver(set, ra, NULL));
    CHECK(ml_waitset_add_receiver(set, rb, &on_b));
    CHECK(ml_waitset_add_deadline(set, 10000, &deadline));
    CHECK(ml_sender_send(tb, (const uint8_t *)"b", 1));
    CHECK(ml_waitset_wait(set, ML_TIMEOUT_INFINITE, ready, 3, &count));
    if (count != 1 || ready[0].token != on_b || ready[0].readiness != ML_READY_READABLE) {
        fprintf(stderr, "waitset: %lu ready, the first token %lu\n", (unsigned long)count, (unsigned long)ready[0].token);
        return 1;
    }
    /* Only a deadline left to wait for. */
    CHECK(ml_waitset_clear(set));
    CHECK(ml_waitset_add_deadline(set, 20, &deadline));
    CHECK(ml_waitset_wait(set, ML_TIMEOUT_INFINITE, ready, 3, &count));
    if (count != 1 || ready[0].readiness != ML_READY_DEADLINE) {
        fprintf(stderr, "waitset: the deadline did not end the wait\n");
        return 1;
    }
    printf("waitset: the second of two channels ready, then a deadline\n");
    ml_waitset_free(set);
    ml_receiver_close(rb);
    ml_receiver_close(ra);
    ml_sender_close(tb);
    ml_sender_close(ta);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 2;
    }
    if (mapping_step(argv[1]) || channel_step(argv[1]) || event_step(argv[1]) || waitset_step(argv[1]))
        return 1;
    printf("tour: ok (libmemlink %s)\n", ml_version());
    return 0;
}
