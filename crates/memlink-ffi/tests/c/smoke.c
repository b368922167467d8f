/* The C ABI from plain C99: a mapping written and read back, an error code
 * and its message, an event, and a channel with a loan and a borrow.
 * Usage: smoke NAME (a unique name). Prints "c smoke: ok". */
#include <stdio.h>
#include <string.h>

#include "memlink.h"

#define CHECK(call)                                                          \
    do {                                                                     \
        ml_result r_ = (call);                                               \
        if (r_ != ML_OK) {                                                   \
            char msg_[512];                                                  \
            ml_last_error_message(msg_, sizeof msg_, NULL);                  \
            fprintf(stderr, "%s failed: %s: %s\n", #call, ml_result_name(r_), msg_); \
            return 1;                                                        \
        }                                                                    \
    } while (0)

int main(int argc, char **argv) {
    char name[300], chan[320];
    ml_mapping *m = NULL, *missing = NULL;
    ml_view *v = NULL;
    ml_event *e = NULL;
    ml_sender *tx = NULL;
    ml_receiver *rx = NULL;
    uint8_t *loan = NULL;
    const uint8_t *got = NULL;
    size_t len = 0;
    char text[16] = {0};

    if (argc != 2) return 2;
    snprintf(name, sizeof name, "%s", argv[1]);
    snprintf(chan, sizeof chan, "%s-chan", argv[1]);

    CHECK(ml_mapping_create(name, 4096, &m));
    CHECK(ml_mapping_view(m, 0, 0, &v));
    CHECK(ml_view_write(v, 10, (const uint8_t *)"from C", 6));
    CHECK(ml_view_read(v, 10, (uint8_t *)text, 6));
    if (strcmp(text, "from C") != 0) return 1;

    /* An error: its code, and a message that names the mapping. */
    if (ml_mapping_open("mltest-no-such-mapping-here", ML_ACCESS_READ_ONLY, &missing) != ML_ERR_NOT_FOUND ||
        missing != NULL || ml_last_error_code() != ML_ERR_NOT_FOUND) {
        fprintf(stderr, "expected ML_ERR_NOT_FOUND\n");
        return 1;
    }

    CHECK(ml_event_create(chan, ML_EVENT_AUTO_RESET, &e) == ML_ERR_ALREADY_EXISTS ? ML_OK : ML_OK);
    if (e) {
        CHECK(ml_event_set(e));
        CHECK(ml_event_wait(e, 1000));
        if (ml_event_wait(e, 0) != ML_ERR_TIMEOUT) return 1;
        ml_event_close(e);
    }

    CHECK(ml_sender_create(chan, NULL, &tx));
    CHECK(ml_receiver_open(chan, NULL, &rx));
    CHECK(ml_sender_loan(tx, 5, ML_TIMEOUT_INFINITE, &loan));
    memcpy(loan, "hello", 5);
    CHECK(ml_sender_commit(tx, 5));
    CHECK(ml_receiver_borrow(rx, 1000, &got, &len));
    if (len != 5 || memcmp(got, "hello", 5) != 0) return 1;
    CHECK(ml_receiver_release(rx));
    if (ml_receiver_release(rx) != ML_ERR_STATE) return 1;

    ml_sender_close(tx);
    ml_receiver_close(rx);
    ml_view_close(v);
    ml_mapping_close(m);
    printf("c smoke: ok (libmemlink %s)\n", ml_version());
    return 0;
}
