/* The C ABI's wait set from C99: bad arguments, readiness of receivers,
 * senders, deadlines, intervals, events and peer watches, endpoints that
 * are busy, and real child processes (fork): one sends to the second of two
 * channels while the parent waits on both, one is killed with SIGKILL and
 * its channel is reported disconnected, one sets a named event, one is
 * killed with SIGKILL and its receiver's peer watch says it died, one
 * attaches during a wait and is killed at once (seen all the same), one
 * attaches and is killed while no wait runs (the next wait reports it).
 * Usage: waitset NAME (a unique prefix). Prints
 * "c waitset: N passed, 0 failed". Built and run by tests/c_abi.rs. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memlink.h"

#include "check.h"

static char base[200];

static void unique(char *out, size_t len, const char *tag) { snprintf(out, len, "%s-%s", base, tag); }

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static int test_arguments(void) {
    char name[256];
    ml_waitset *set = NULL;
    ml_sender *tx = NULL;
    ml_receiver *rx = NULL;
    ml_ready ready[4];
    size_t count = 99, token = 99, len = 0;
    unique(name, sizeof name, "args");
    FAILS(ML_ERR_NULL, ml_waitset_new(NULL));
    OK(ml_waitset_new(&set));
    OK(ml_sender_create(name, NULL, &tx));
    OK(ml_receiver_open(name, NULL, &rx));
    FAILS(ML_ERR_NULL, ml_waitset_add_receiver(NULL, rx, &token));
    FAILS(ML_ERR_NULL, ml_waitset_add_receiver(set, NULL, &token));
    /* A handle of another type, either way round. */
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_receiver(set, (const ml_receiver *)tx, &token));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_receiver((const ml_waitset *)rx, rx, &token));
    /* An empty set that would wait forever. */
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_wait(set, ML_TIMEOUT_INFINITE, ready, 4, &count));
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(count == 0);
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_deadline(set, -5, &token));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_wait(set, -7, ready, 4, &count));
    OK(ml_waitset_add_receiver(set, rx, &token));
    TRUE(token == 0);
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_receiver(set, rx, NULL));
    OK(ml_waitset_add_sender(set, tx, 8, NULL));
    OK(ml_waitset_len(set, &len));
    TRUE(len == 2);
    FAILS(ML_ERR_NULL, ml_waitset_wait(set, 0, NULL, 4, &count));
    FAILS(ML_ERR_NULL, ml_waitset_wait(set, 0, ready, 4, NULL));
    /* cap 0: only the count. The sender has room, so one is ready. */
    OK(ml_waitset_wait(set, 0, NULL, 0, &count));
    TRUE(count == 1);
    OK(ml_waitset_clear(set));
    OK(ml_waitset_len(set, &len));
    TRUE(len == 0);
    ml_waitset_free(set);
    ml_waitset_free(NULL);
    ml_receiver_close(rx);
    ml_sender_close(tx);
    return 0;
}

static int test_readiness(void) {
    char a[256], b[256];
    ml_channel_options *small = NULL;
    ml_waitset *set = NULL;
    ml_sender *ta = NULL, *tb = NULL;
    ml_receiver *ra = NULL, *rb = NULL;
    ml_ready ready[4];
    size_t count = 0, deadline = 0, len = 0, max = 0;
    uint8_t buf[600], tiny[2];
    double started;
    unique(a, sizeof a, "ready-a");
    unique(b, sizeof b, "ready-b");
    OK(ml_channel_options_new(&small));
    OK(ml_channel_options_set_capacity(small, 2048));
    OK(ml_channel_options_set_max_message(small, 512));
    OK(ml_sender_create(a, NULL, &ta));
    OK(ml_receiver_open(a, NULL, &ra));
    OK(ml_sender_create(b, small, &tb));
    OK(ml_receiver_open(b, NULL, &rb));
    OK(ml_waitset_new(&set));
    OK(ml_waitset_add_receiver(set, ra, NULL));
    OK(ml_waitset_add_receiver(set, rb, NULL));

    /* Nothing sent: a bounded wait times out, after its time. */
    started = now_ms();
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 50, ready, 4, &count));
    TRUE(now_ms() - started >= 45.0);
    /* A message on the second: token 1, readable; level-triggered. */
    OK(ml_sender_send(tb, (const uint8_t *)"hi", 2));
    OK(ml_waitset_wait(set, 5000, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == 1 && ready[0].readiness == ML_READY_READABLE);
    OK(ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == 1);
    /* Both: in token order. */
    OK(ml_sender_send(ta, (const uint8_t *)"one", 3));
    OK(ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(count == 2 && ready[0].token == 0 && ready[1].token == 1);
    /* cap 1: the count says 2, one entry is written. */
    ready[1].token = 77;
    OK(ml_waitset_wait(set, 0, ready, 1, &count));
    TRUE(count == 2 && ready[0].token == 0 && ready[1].token == 77);

    /* A borrow outstanding makes the receiver busy for the wait. */
    {
        const uint8_t *p = NULL;
        OK(ml_receiver_borrow(ra, 0, &p, &len));
        FAILS(ML_ERR_STATE, ml_waitset_wait(set, 0, ready, 4, &count));
        OK(ml_receiver_release(ra));
    }
    /* A message kept because the buffer was too small: still readable. */
    FAILS(ML_ERR_BUFFER_TOO_SMALL, ml_receiver_try_recv(rb, tiny, 1, &len));
    OK(ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == 1 && ready[0].readiness == ML_READY_READABLE);
    OK(ml_receiver_try_recv(rb, buf, sizeof buf, &len));
    TRUE(len == 2);

    /* A deadline. */
    OK(ml_waitset_add_deadline(set, 40, &deadline));
    TRUE(deadline == 2);
    started = now_ms();
    OK(ml_waitset_wait(set, 5000, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == 2 && ready[0].readiness == ML_READY_DEADLINE);
    TRUE(now_ms() - started >= 35.0);

    /* A sender: writable while 500 bytes fit, not when the ring is full. */
    OK(ml_waitset_clear(set));
    OK(ml_sender_max_message(tb, &max));
    TRUE(max >= 500);
    OK(ml_waitset_add_sender(set, tb, 500, NULL));
    OK(ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(count == 1 && ready[0].readiness == ML_READY_WRITABLE);
    memset(buf, 7, sizeof buf);
    while (ml_sender_try_send(tb, buf, 500) == ML_OK) {
    }
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 20, ready, 4, &count));
    OK(ml_receiver_recv(rb, buf, sizeof buf, &len));
    OK(ml_waitset_wait(set, 5000, ready, 4, &count));
    TRUE(count == 1 && ready[0].readiness == ML_READY_WRITABLE);

    /* Full again, then the receiver goes: the sender's source says
     * disconnected. */
    while (ml_sender_try_send(tb, buf, 500) == ML_OK) {
    }
    ml_receiver_close(rb);
    OK(ml_waitset_wait(set, 5000, ready, 4, &count));
    TRUE(count == 1 && ready[0].readiness == ML_READY_DISCONNECTED);

    ml_waitset_free(set);
    ml_receiver_close(ra);
    ml_sender_close(ta);
    ml_sender_close(tb);
    ml_channel_options_free(small);
    return 0;
}

/* ---- real processes ------------------------------------------------------ */

/* Child: opens `name` as a sender, says "ready", waits for one byte on
 * stdin, sends "from the child", then waits until stdin closes. */
static int child_sends(const char *name, int go, int said) {
    ml_sender *tx = NULL;
    char b;
    if (ml_sender_open(name, NULL, &tx) != ML_OK) return 10;
    if (write(said, "r", 1) != 1) return 11;
    if (read(go, &b, 1) != 1) return 12;
    if (ml_sender_send(tx, (const uint8_t *)"from the child", 14) != ML_OK) return 13;
    while (read(go, &b, 1) > 0) {
    }
    ml_sender_close(tx);
    return 0;
}

/* Child: creates `name` as its sender, says "ready", then sleeps in read()
 * until it is killed. */
static int child_holds(const char *name, int go, int said) {
    ml_sender *tx = NULL;
    char b;
    if (ml_sender_create(name, NULL, &tx) != ML_OK) return 10;
    if (write(said, "r", 1) != 1) return 11;
    while (read(go, &b, 1) > 0) {
    }
    return 0;
}

typedef struct {
    pid_t pid;
    int go;   /* write end: the child's commands */
    int said; /* read end: the child's "ready" */
} child_t;

static int spawn(child_t *c, int (*role)(const char *, int, int), const char *name) {
    int go[2], said[2];
    if (pipe(go) != 0 || pipe(said) != 0) return -1;
    fflush(stdout);
    c->pid = fork();
    if (c->pid < 0) return -1;
    if (c->pid == 0) {
        close(go[1]);
        close(said[0]);
        _exit(role(name, go[0], said[1]));
    }
    close(go[0]);
    close(said[1]);
    c->go = go[1];
    c->said = said[0];
    {
        char b = 0;
        if (read(c->said, &b, 1) != 1 || b != 'r') return -1;
    }
    return 0;
}

static int test_another_process_sends(void) {
    char a[256], b[256];
    ml_sender *ta = NULL;
    ml_receiver *ra = NULL, *rb = NULL;
    ml_waitset *set = NULL;
    ml_ready ready[4];
    size_t count = 0, len = 0;
    uint8_t buf[64];
    child_t c;
    int status = 0;
    unique(a, sizeof a, "proc-a");
    unique(b, sizeof b, "proc-b");
    /* The parent makes both channels (receivers) and keeps a sender on
     * each, so neither looks abandoned; the child sends on the second. */
    OK(ml_receiver_create(a, NULL, &ra));
    OK(ml_receiver_create(b, NULL, &rb));
    OK(ml_sender_open(a, NULL, &ta));
    TRUE(spawn(&c, child_sends, b) == 0);
    OK(ml_waitset_new(&set));
    OK(ml_waitset_add_receiver(set, ra, NULL));
    OK(ml_waitset_add_receiver(set, rb, NULL));
    OK(ml_waitset_add_deadline(set, 20000, NULL));
    /* Nothing yet; then the child is told to send while we wait. */
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(write(c.go, "s", 1) == 1);
    OK(ml_waitset_wait(set, ML_TIMEOUT_INFINITE, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == 1 && ready[0].readiness == ML_READY_READABLE);
    OK(ml_receiver_recv(rb, buf, sizeof buf, &len));
    TRUE(len == 14 && memcmp(buf, "from the child", 14) == 0);
    close(c.go);
    TRUE(waitpid(c.pid, &status, 0) == c.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(c.said);
    ml_waitset_free(set);
    ml_sender_close(ta);
    ml_receiver_close(ra);
    ml_receiver_close(rb);
    return 0;
}

static int test_killed_peer_is_seen(void) {
    char a[256], b[256];
    ml_sender *ta = NULL;
    ml_receiver *ra = NULL, *rb = NULL;
    ml_waitset *set = NULL;
    ml_ready ready[4];
    size_t count = 0;
    child_t c;
    int status = 0;
    double started, took;
    unique(a, sizeof a, "kill-a");
    unique(b, sizeof b, "kill-b");
    OK(ml_sender_create(a, NULL, &ta));
    OK(ml_receiver_open(a, NULL, &ra));
    TRUE(spawn(&c, child_holds, b) == 0);
    OK(ml_receiver_open(b, NULL, &rb));
    OK(ml_waitset_new(&set));
    OK(ml_waitset_add_receiver(set, ra, NULL));
    OK(ml_waitset_add_receiver(set, rb, NULL));
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 100, ready, 4, &count));
    TRUE(kill(c.pid, SIGKILL) == 0);
    TRUE(waitpid(c.pid, &status, 0) == c.pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    started = now_ms();
    OK(ml_waitset_wait(set, 10000, ready, 4, &count));
    took = now_ms() - started;
    TRUE(count == 1 && ready[0].token == 1 && ready[0].readiness == ML_READY_DISCONNECTED);
    printf("a peer killed with SIGKILL seen in %.0f ms\n", took);
    TRUE(took < 1000.0);
    close(c.go);
    close(c.said);
    ml_waitset_free(set);
    ml_receiver_close(rb);
    ml_receiver_close(ra);
    ml_sender_close(ta);
    return 0;
}

static int test_new_source_arguments(void) {
    char name[256], ev[256];
    ml_waitset *set = NULL;
    ml_sender *tx = NULL;
    ml_receiver *rx = NULL;
    ml_event *e = NULL;
    size_t token = 99;
    unique(name, sizeof name, "args2");
    unique(ev, sizeof ev, "args2-ev");
    OK(ml_waitset_new(&set));
    OK(ml_sender_create(name, NULL, &tx));
    OK(ml_receiver_open(name, NULL, &rx));
    OK(ml_event_create(ev, ML_EVENT_AUTO_RESET, &e));
    FAILS(ML_ERR_NULL, ml_waitset_add_event(set, NULL, &token));
    FAILS(ML_ERR_NULL, ml_waitset_add_event(NULL, e, &token));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_event(set, (const ml_event *)rx, &token));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_interval(set, 0, &token));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_interval(set, -3, &token));
    FAILS(ML_ERR_NULL, ml_waitset_add_interval(NULL, 10, &token));
    FAILS(ML_ERR_NULL, ml_waitset_add_peer_death(set, NULL, NULL, &token));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_peer_death(set, rx, tx, &token));
    FAILS(ML_ERR_INVALID_ARGUMENT,
          ml_waitset_add_peer_death(set, (const ml_receiver *)tx, NULL, &token));
    FAILS(ML_ERR_NULL, ml_waitset_add_peer_death(NULL, rx, NULL, &token));
    TRUE(token == 99);
    OK(ml_waitset_add_event(set, e, &token));
    TRUE(token == 0);
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_event(set, e, NULL));
    OK(ml_waitset_add_peer_death(set, rx, NULL, &token));
    TRUE(token == 1);
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_waitset_add_peer_death(set, rx, NULL, NULL));
    /* The receiver itself may be in the set beside its peer watch. */
    OK(ml_waitset_add_receiver(set, rx, &token));
    TRUE(token == 2);
    OK(ml_waitset_add_peer_death(set, NULL, tx, &token));
    TRUE(token == 3);
    ml_waitset_free(set);
    ml_event_close(e);
    ml_receiver_close(rx);
    ml_sender_close(tx);
    return 0;
}

static int test_interval_and_event(void) {
    char ev[256];
    ml_waitset *set = NULL;
    ml_event *e = NULL;
    ml_ready ready[4];
    size_t count = 0, tick = 0, on_event = 0;
    int set_now = 1, i;
    double started;
    unique(ev, sizeof ev, "tick-ev");
    OK(ml_event_create(ev, ML_EVENT_AUTO_RESET, &e));
    OK(ml_waitset_new(&set));
    OK(ml_waitset_add_event(set, e, &on_event));
    /* Three ticks: each one a period after the one before (timed from
     * before the interval starts). */
    started = now_ms();
    OK(ml_waitset_add_interval(set, 20, &tick));
    for (i = 0; i < 3; i++) {
        OK(ml_waitset_wait(set, 5000, ready, 4, &count));
        TRUE(count == 1 && ready[0].token == tick && ready[0].readiness == ML_READY_TICK);
    }
    TRUE(now_ms() - started >= 55.0);
    /* Not ready again right after a tick. */
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 0, ready, 4, &count));
    /* An auto-reset event: reported once, and the report took the signal. */
    OK(ml_event_set(e));
    OK(ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == on_event && ready[0].readiness == ML_READY_SIGNALED);
    OK(ml_event_is_set(e, &set_now));
    TRUE(set_now == 0);
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 0, ready, 4, &count));
    ml_waitset_free(set);
    ml_event_close(e);
    return 0;
}

/* Child: opens the event `name`, says "ready", waits for one byte on
 * stdin, sets the event, then waits until stdin closes. */
static int child_sets_event(const char *name, int go, int said) {
    ml_event *e = NULL;
    char b;
    if (ml_event_open(name, &e) != ML_OK) return 10;
    if (write(said, "r", 1) != 1) return 11;
    if (read(go, &b, 1) != 1) return 12;
    if (ml_event_set(e) != ML_OK) return 13;
    while (read(go, &b, 1) > 0) {
    }
    ml_event_close(e);
    return 0;
}

/* Child: opens `name` as a sender, says "ready", then sleeps in read()
 * until it is killed. */
static int child_attaches(const char *name, int go, int said) {
    ml_sender *tx = NULL;
    char b;
    if (ml_sender_open(name, NULL, &tx) != ML_OK) return 10;
    if (write(said, "r", 1) != 1) return 11;
    while (read(go, &b, 1) > 0) {
    }
    return 0;
}

static int test_event_set_by_another_process(void) {
    char ev[256];
    ml_waitset *set = NULL;
    ml_event *e = NULL;
    ml_ready ready[4];
    size_t count = 0;
    child_t c;
    int status = 0, set_now = 1;
    unique(ev, sizeof ev, "proc-ev");
    OK(ml_event_create(ev, ML_EVENT_AUTO_RESET, &e));
    TRUE(spawn(&c, child_sets_event, ev) == 0);
    OK(ml_waitset_new(&set));
    OK(ml_waitset_add_deadline(set, 20000, NULL));
    OK(ml_waitset_add_event(set, e, NULL));
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(write(c.go, "s", 1) == 1);
    OK(ml_waitset_wait(set, ML_TIMEOUT_INFINITE, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == 1 && ready[0].readiness == ML_READY_SIGNALED);
    OK(ml_event_is_set(e, &set_now));
    TRUE(set_now == 0);
    close(c.go);
    TRUE(waitpid(c.pid, &status, 0) == c.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(c.said);
    ml_waitset_free(set);
    ml_event_close(e);
    return 0;
}

/* The kill must come while the parent is inside ml_waitset_wait (the case
 * this test is about): this thread waits until the waiting thread sleeps
 * in the kernel (state S in /proc/self/task/TID/stat, which only the
 * wait's futex sleep gives it here), then kills the child with SIGKILL.
 * With `cue`, it first tells the child to attach and waits until it has,
 * so the child is killed microseconds after attaching, before any look of
 * the wait could see it alive. */
typedef struct {
    long waiter; /* the waiting thread's id */
    pid_t victim;
    int cue;      /* -1, or the child's command pipe: write to attach */
    int attached; /* with `cue`: the child's answer pipe */
    int ok;
} killer_t;

static char thread_state(long tid) {
    char path[64], line[512];
    const char *close_paren;
    FILE *f;
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    f = fopen(path, "r");
    if (f == NULL) return '?';
    if (fgets(line, sizeof line, f) == NULL) line[0] = 0;
    fclose(f);
    close_paren = strrchr(line, ')');
    return close_paren != NULL && close_paren[1] == ' ' ? close_paren[2] : '?';
}

static void *killer(void *arg) {
    killer_t *k = arg;
    char state;
    /* No /proc ('?'): the test fails (the wait times out), not hangs. */
    char b = 0;
    while ((state = thread_state(k->waiter)) != 'S' && state != '?') sched_yield();
    if (state == 'S' && k->cue >= 0) {
        if (write(k->cue, "a", 1) != 1 || read(k->attached, &b, 1) != 1 || b != 'a') {
            k->ok = 0;
            return NULL;
        }
    }
    k->ok = state == 'S' && kill(k->victim, SIGKILL) == 0;
    return NULL;
}

/* Child: says "ready", attaches as a sender of `name` when told (one byte
 * on stdin), says "a", then sleeps in read() until it is killed. */
static int child_attaches_on_cue(const char *name, int go, int said) {
    ml_sender *tx = NULL;
    char b;
    if (write(said, "r", 1) != 1) return 11;
    if (read(go, &b, 1) != 1) return 12;
    if (ml_sender_open(name, NULL, &tx) != ML_OK) return 10;
    if (write(said, "a", 1) != 1) return 13;
    while (read(go, &b, 1) > 0) {
    }
    return 0;
}

/* A peer that attaches during the wait and is killed right away, before
 * any look could see it alive, is still reported (the slot's generation
 * moved and the slot is dead); then a peer that attaches and is killed
 * while no wait runs is reported by the next wait; each once. */
static int test_peer_attached_during_wait(void) {
    char a[256];
    ml_channel_options *mpsc = NULL;
    ml_sender *mine = NULL;
    ml_receiver *rx = NULL;
    ml_waitset *set = NULL;
    ml_ready ready[4];
    size_t count = 0, watch = 0;
    child_t c, d;
    killer_t k;
    pthread_t t;
    int status = 0;
    double t0;
    unique(a, sizeof a, "late");
    OK(ml_channel_options_new(&mpsc));
    OK(ml_channel_options_set_kind(mpsc, ML_CHANNEL_MANY_TO_ONE));
    OK(ml_channel_options_set_max_senders(mpsc, 4));
    OK(ml_receiver_create(a, mpsc, &rx));
    OK(ml_sender_open(a, NULL, &mine));
    OK(ml_waitset_new(&set));
    OK(ml_waitset_add_peer_death(set, rx, NULL, &watch));
    TRUE(watch == 0);
    /* The child exists but has not attached: nothing to report. */
    TRUE(spawn(&c, child_attaches_on_cue, a) == 0);
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 0, ready, 4, &count));
    k.waiter = (long)syscall(SYS_gettid);
    k.victim = c.pid;
    k.cue = c.go;
    k.attached = c.said;
    k.ok = 0;
    TRUE(pthread_create(&t, NULL, killer, &k) == 0);
    t0 = now_ms();
    OK(ml_waitset_wait(set, 10000, ready, 4, &count));
    TRUE(pthread_join(t, NULL) == 0 && k.ok);
    TRUE(count == 1 && ready[0].token == watch && ready[0].readiness == ML_READY_PEER_DIED);
    TRUE(now_ms() - t0 < 5000);
    TRUE(waitpid(c.pid, &status, 0) == c.pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 60, ready, 4, &count));
    close(c.go);
    close(c.said);

    /* Attached and killed while no wait runs: the next wait says so at once. */
    TRUE(spawn(&d, child_attaches_on_cue, a) == 0);
    {
        char b = 0;
        TRUE(write(d.go, "a", 1) == 1 && read(d.said, &b, 1) == 1 && b == 'a');
    }
    TRUE(kill(d.pid, SIGKILL) == 0);
    TRUE(waitpid(d.pid, &status, 0) == d.pid && WIFSIGNALED(status));
    OK(ml_waitset_wait(set, 0, ready, 4, &count));
    TRUE(count == 1 && ready[0].token == watch && ready[0].readiness == ML_READY_PEER_DIED);
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 60, ready, 4, &count));
    close(d.go);
    close(d.said);
    ml_waitset_free(set);
    ml_sender_close(mine);
    ml_receiver_close(rx);
    ml_channel_options_free(mpsc);
    return 0;
}

static int test_killed_peer_died(void) {
    char a[256];
    ml_channel_options *mpsc = NULL;
    ml_sender *mine = NULL;
    ml_receiver *rx = NULL;
    ml_waitset *set = NULL;
    ml_ready ready[4];
    size_t count = 0, watch = 0;
    child_t c;
    killer_t k;
    pthread_t t;
    int status = 0;
    unique(a, sizeof a, "died");
    /* Many-to-one, our own sender stays, so the receiver is not
     * disconnected: only the peer watch can see the child go. */
    OK(ml_channel_options_new(&mpsc));
    OK(ml_channel_options_set_kind(mpsc, ML_CHANNEL_MANY_TO_ONE));
    OK(ml_channel_options_set_max_senders(mpsc, 4));
    OK(ml_receiver_create(a, mpsc, &rx));
    OK(ml_sender_open(a, NULL, &mine));
    TRUE(spawn(&c, child_attaches, a) == 0);
    OK(ml_waitset_new(&set));
    OK(ml_waitset_add_receiver(set, rx, NULL));
    OK(ml_waitset_add_peer_death(set, rx, NULL, &watch));
    TRUE(watch == 1);
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 0, ready, 4, &count));
    k.waiter = (long)syscall(SYS_gettid);
    k.victim = c.pid;
    k.cue = -1;
    k.attached = -1;
    k.ok = 0;
    TRUE(pthread_create(&t, NULL, killer, &k) == 0);
    OK(ml_waitset_wait(set, 10000, ready, 4, &count));
    TRUE(pthread_join(t, NULL) == 0 && k.ok);
    TRUE(count == 1 && ready[0].token == watch && ready[0].readiness == ML_READY_PEER_DIED);
    TRUE(waitpid(c.pid, &status, 0) == c.pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* Reported once; the receiver is still connected (our sender). */
    FAILS(ML_ERR_TIMEOUT, ml_waitset_wait(set, 60, ready, 4, &count));
    close(c.go);
    close(c.said);
    ml_waitset_free(set);
    ml_sender_close(mine);
    ml_receiver_close(rx);
    ml_channel_options_free(mpsc);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    snprintf(base, sizeof base, "%s", argv[1]);
    run("arguments", test_arguments);
    run("readiness", test_readiness);
    run("another_process_sends", test_another_process_sends);
    run("killed_peer_is_seen", test_killed_peer_is_seen);
    run("new_source_arguments", test_new_source_arguments);
    run("interval_and_event", test_interval_and_event);
    run("event_set_by_another_process", test_event_set_by_another_process);
    run("killed_peer_died", test_killed_peer_died);
    run("peer_attached_during_wait", test_peer_attached_during_wait);
    printf("c waitset: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
