/* The whole C ABI from plain C99 (POSIX for the processes): every mapping
 * option, views and flush ranges, the robust mutex with a real second
 * process killed with SIGKILL (owner_died, mark_consistent, not
 * recoverable), the byte seqlock, list / inspect / reclaim, identify, the
 * busy timeout (a name whose entry is held locked), the version.
 *
 * Usage: abi NAME      runs every test; prints "c abi: N passed, 0 failed".
 *        abi --hold-mutex NAME OFFSET   (child role) locks the mutex at
 *        OFFSET of mapping NAME, also creates the transient mapping
 *        NAME-stale-OFFSET, writes "locked\n" to stdout and waits on stdin.
 *        abi --foreign NAME  (child role, run as another user) creates the
 *        Global mapping NAME with mode 0666, writes "made\n", waits on stdin.
 * Every wait has a deadline or ends when the parent goes (stdin closes). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memlink.h"

#include "check.h"

static char base[200];
static const char *self_path;

static void unique(char *out, size_t len, const char *tag) {
    snprintf(out, len, "%s-%s", base, tag);
}

/* ---- processes ---------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int to_child;   /* the child's stdin: closing it lets the child go */
    int from_child; /* the child's stdout */
} child_t;

/* Starts this program in a child role; -1 on failure. `uid` != 0: the
 * child drops to that user first. */
static int spawn(child_t *c, char *const argv[], uid_t uid) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return -1;
    c->pid = fork();
    if (c->pid < 0) return -1;
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        if (uid != 0 && (setgid(uid) != 0 || setuid(uid) != 0)) _exit(3);
        execv(self_path, argv);
        _exit(4);
    }
    close(in[0]);
    close(out[1]);
    c->to_child = in[1];
    c->from_child = out[0];
    return 0;
}

/* Reads one line from the child (blocking until it writes or exits). */
static int expect(child_t *c, const char *line) {
    char buf[64] = {0};
    size_t n = 0;
    while (n + 1 < sizeof buf) {
        ssize_t r = read(c->from_child, buf + n, 1);
        if (r <= 0) break;
        if (buf[n++] == '\n') break;
    }
    return strcmp(buf, line) == 0 ? 0 : -1;
}

static int kill9(child_t *c) {
    int status = 0;
    kill(c->pid, SIGKILL);
    if (waitpid(c->pid, &status, 0) != c->pid) return -1;
    close(c->to_child);
    close(c->from_child);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

static int finish(child_t *c) {
    int status = 0;
    close(c->to_child);
    waitpid(c->pid, &status, 0);
    close(c->from_child);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void wait_for_parent(void) {
    char b;
    while (read(0, &b, 1) > 0) {
    }
}

static int role_hold_mutex(const char *name, const char *offset) {
    ml_mapping *m = NULL, *stale = NULL;
    ml_mutex *mx = NULL;
    char stale_name[300];
    int died = -1;
    snprintf(stale_name, sizeof stale_name, "%s-stale-%s", name, offset);
    if (ml_mapping_open(name, ML_ACCESS_READ_WRITE, &m) != ML_OK) return 10;
    if (ml_mutex_open(m, (uint64_t)strtoull(offset, NULL, 10), &mx) != ML_OK) return 11;
    if (ml_mutex_lock(mx, 10000, &died) != ML_OK) return 12;
    if (ml_mapping_create(stale_name, 4096, &stale) != ML_OK) return 13;
    printf("locked\n");
    fflush(stdout);
    wait_for_parent();
    return 0;
}

static int role_foreign(const char *name) {
    ml_mapping_options *o = NULL;
    ml_mapping *m = NULL;
    if (ml_mapping_options_new(&o) != ML_OK) return 10;
    ml_mapping_options_set_size(o, 4096);
    ml_mapping_options_set_mode(o, 0666);
    if (ml_mapping_options_create(o, name, &m) != ML_OK) return 11;
    printf("made\n");
    fflush(stdout);
    wait_for_parent();
    ml_mapping_close(m);
    ml_mapping_options_free(o);
    return 0;
}

/* ---- mapping options ---------------------------------------------------- */

static int test_version(void) {
    const char *v = ml_version();
    TRUE(v != NULL && strchr(v, '.') != NULL);
    return 0;
}

static int test_file_backed_size_rules(void) {
    char path[400], name[300];
    ml_mapping_options *o = NULL;
    ml_mapping *m = NULL;
    ml_view *v = NULL;
    uint64_t size = 0;
    char back[400];
    size_t back_len = 0;
    struct stat st;
    FILE *f;
    unique(name, sizeof name, "file");
    snprintf(path, sizeof path, "/tmp/%s.bin", name);
    unlink(path);

    OK(ml_mapping_options_new(&o));
    OK(ml_mapping_options_set_file(o, path));
    /* A missing (so zero-length) file with size 0: ERROR_FILE_INVALID. */
    FAILS(ML_ERR_ZERO_SIZE, ml_mapping_options_create(o, name, &m));
    TRUE(m == NULL);

    /* Size 4096 creates and grows the file. */
    OK(ml_mapping_options_set_size(o, 4096));
    OK(ml_mapping_options_create(o, name, &m));
    TRUE(stat(path, &st) == 0 && st.st_size == 4096);
    OK(ml_mapping_file(m, back, sizeof back, &back_len));
    TRUE(back_len > 0 && strstr(back, ".bin") != NULL);
    OK(ml_mapping_view(m, 0, 0, &v));
    OK(ml_view_write(v, 100, (const uint8_t *)"persisted", 9));
    OK(ml_view_flush_range(v, 100, 9));
    OK(ml_view_flush_range_async(v, 0, 4096));
    OK(ml_view_flush_async(v));
    OK(ml_view_flush(v));
    FAILS(ML_ERR_OUT_OF_RANGE, ml_view_flush_range(v, 4000, 200));
    ml_view_close(v);
    ml_mapping_close(m);
    m = NULL;
    {
        char got[10] = {0};
        f = fopen(path, "rb");
        TRUE(f != NULL);
        TRUE(fseek(f, 100, SEEK_SET) == 0 && fread(got, 1, 9, f) == 9);
        fclose(f);
        TRUE(memcmp(got, "persisted", 9) == 0);
    }

    /* Size 0 with an existing file: the file's size. A larger size grows it. */
    OK(ml_mapping_options_set_size(o, 0));
    OK(ml_mapping_options_create(o, name, &m));
    OK(ml_mapping_size(m, &size));
    TRUE(size == 4096);
    ml_mapping_close(m);
    m = NULL;
    OK(ml_mapping_options_set_size(o, 8192));
    OK(ml_mapping_options_create(o, name, &m));
    OK(ml_mapping_size(m, &size));
    TRUE(size == 8192 && stat(path, &st) == 0 && st.st_size == 8192);
    ml_mapping_close(m);
    ml_mapping_options_free(o);
    unlink(path);
    return 0;
}

static int test_copy_on_write_and_read_only_views(void) {
    char name[300];
    ml_mapping *m = NULL;
    ml_view *shared = NULL, *cow = NULL, *ro = NULL;
    ml_access access = 0;
    uint64_t offset = 0;
    char got[8] = {0};
    unique(name, sizeof name, "cow");
    OK(ml_mapping_create(name, 8192, &m));
    OK(ml_mapping_view(m, 0, 0, &shared));
    OK(ml_view_write(shared, 0, (const uint8_t *)"shared", 6));
    OK(ml_mapping_view_with_access(m, 0, 4096, ML_ACCESS_COPY_ON_WRITE, &cow));
    OK(ml_view_access(cow, &access));
    TRUE(access == ML_ACCESS_COPY_ON_WRITE);
    OK(ml_view_write(cow, 0, (const uint8_t *)"privat", 6));
    OK(ml_view_read(cow, 0, (uint8_t *)got, 6));
    TRUE(memcmp(got, "privat", 6) == 0);
    OK(ml_view_read(shared, 0, (uint8_t *)got, 6));
    TRUE(memcmp(got, "shared", 6) == 0);

    /* A view at an unaligned offset; a read-only one refuses writes. */
    OK(ml_mapping_view_with_access(m, 4097, 100, ML_ACCESS_READ_ONLY, &ro));
    OK(ml_view_offset(ro, &offset));
    TRUE(offset == 4097);
    FAILS(ML_ERR_ACCESS_MISMATCH, ml_view_write(ro, 0, (const uint8_t *)"x", 1));
    ml_view_close(ro);
    /* A bad access fails and leaves the out-pointer NULL. */
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_mapping_view_with_access(m, 0, 1, 42, &ro));
    TRUE(ro == NULL);
    ml_view_close(cow);
    ml_view_close(shared);
    ml_mapping_close(m);
    return 0;
}

static int test_mode_persistent_and_hints(void) {
    char name[300];
    ml_mapping_options *o = NULL;
    ml_mapping *m = NULL, *again = NULL;
    ml_view *v = NULL;
    uint32_t mode = 0, owner = 12345;
    int32_t persistent = 0;
    uint32_t word = 0;
    unique(name, sizeof name, "persist");
    OK(ml_mapping_options_new(&o));
    OK(ml_mapping_options_set_size(o, 1 << 21));
    OK(ml_mapping_options_set_mode(o, 0640));
    OK(ml_mapping_options_set_persistent(o, 1));
    OK(ml_mapping_options_set_populate(o, 1));
    OK(ml_mapping_options_set_lock_in_memory(o, 1));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_mapping_options_set_access(o, 0));
    OK(ml_mapping_options_create(o, name, &m));
    OK(ml_mapping_mode(m, &mode));
    TRUE(mode == 0640);
    OK(ml_mapping_owner(m, &owner));
    TRUE(owner == (uint32_t)geteuid());
    OK(ml_mapping_is_persistent(m, &persistent));
    TRUE(persistent == 1);
    /* Populated, locked, huge-page-hinted views work like any other. */
    OK(ml_mapping_view(m, 0, 0, &v));
    OK(ml_view_store_u32(v, 1 << 20, 77));
    ml_view_close(v);
    ml_mapping_close(m);

    /* Persistent: still there with nobody holding it. */
    OK(ml_mapping_open(name, ML_ACCESS_READ_ONLY, &again));
    OK(ml_mapping_view(again, 0, 0, &v));
    OK(ml_view_load_u32(v, 1 << 20, &word));
    TRUE(word == 77);
    ml_view_close(v);
    ml_mapping_close(again);
    OK(ml_mapping_remove(name));
    FAILS(ML_ERR_NOT_FOUND, ml_mapping_open(name, ML_ACCESS_READ_ONLY, &again));

    /* Huge pages reach the library: the mapping gets them, or the call
     * says why it cannot (a tmpfs mounted with huge=never, say). */
    OK(ml_mapping_options_set_persistent(o, 0));
    OK(ml_mapping_options_set_lock_in_memory(o, 0));
    OK(ml_mapping_options_set_huge_pages(o, 1));
    {
        ml_result r = ml_mapping_options_create(o, name, &m);
        char why[512] = {0};
        if (r == ML_ERR_UNSUPPORTED) {
            ml_last_error_message(why, sizeof why, NULL);
            TRUE(strstr(why, "huge pages") != NULL);
            TRUE(m == NULL);
            printf("huge pages: %s\n", why);
        } else {
            OK(r);
            ml_mapping_close(m);
        }
    }
    ml_mapping_options_free(o);
    return 0;
}

static int test_foreign_owner(void) {
    char name[300], global[320];
    child_t c;
    ml_mapping_options *o = NULL;
    ml_mapping *m = NULL;
    uint32_t owner = 0;
    char *argv[4];
    if (geteuid() != 0) {
        printf("skip foreign_owner: needs root to run a child as another user\n");
        return 0;
    }
    unique(name, sizeof name, "foreign");
    snprintf(global, sizeof global, "Global\\%s", name);
    argv[0] = (char *)self_path;
    argv[1] = "--foreign";
    argv[2] = global;
    argv[3] = NULL;
    TRUE(spawn(&c, argv, 65534) == 0);
    TRUE(expect(&c, "made\n") == 0);
    FAILS(ML_ERR_FOREIGN_OWNER, ml_mapping_open(global, ML_ACCESS_READ_WRITE, &m));
    OK(ml_mapping_options_new(&o));
    OK(ml_mapping_options_set_allow_foreign_owner(o, 1));
    OK(ml_mapping_options_open(o, global, &m));
    OK(ml_mapping_owner(m, &owner));
    TRUE(owner == 65534);
    ml_mapping_close(m);
    ml_mapping_options_free(o);
    TRUE(finish(&c) == 0);
    return 0;
}

/* ---- robust mutex ------------------------------------------------------- */

/* A child locks the mutex and is killed with SIGKILL while it holds it. */
static int killed_holder(const char *name, uint64_t offset) {
    child_t c;
    char off[32];
    char *argv[5];
    snprintf(off, sizeof off, "%llu", (unsigned long long)offset);
    argv[0] = (char *)self_path;
    argv[1] = "--hold-mutex";
    argv[2] = (char *)name;
    argv[3] = off;
    argv[4] = NULL;
    if (spawn(&c, argv, 0) != 0) return -1;
    if (expect(&c, "locked\n") != 0) { kill9(&c); return -1; }
    return kill9(&c);
}

static int test_mutex_owner_died(void) {
    char name[300], stale[2][330];
    ml_mapping *m = NULL;
    ml_mutex *mx = NULL, *other = NULL;
    ml_info_list *reclaimed = NULL;
    ml_mapping_info info;
    size_t n = 0, i;
    int died = -1, found = 0, j;
    uint32_t pid = 1;
    unique(name, sizeof name, "mutex");
    snprintf(stale[0], sizeof stale[0], "Local\\%s-stale-0", name);
    snprintf(stale[1], sizeof stale[1], "Local\\%s-stale-%d", name, ML_MUTEX_ALIGN);
    OK(ml_mapping_create(name, 4096, &m));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_mutex_init(m, 64, &mx));
    FAILS(ML_ERR_WRONG_KIND, ml_mutex_open(m, 0, &mx));
    OK(ml_mutex_init(m, 0, &mx));
    OK(ml_mutex_init(m, ML_MUTEX_ALIGN, &other));

    /* Plain locking, in this process. */
    OK(ml_mutex_lock(mx, 0, &died));
    TRUE(died == 0);
    OK(ml_mutex_owner_pid(mx, &pid));
    TRUE(pid == (uint32_t)getpid());
    FAILS(ML_ERR_TIMEOUT, ml_mutex_lock(mx, 20, NULL));
    OK(ml_mutex_unlock(mx));
    FAILS(ML_ERR_STATE, ml_mutex_unlock(mx));
    FAILS(ML_ERR_STATE, ml_mutex_mark_consistent(mx));

    /* The owner is killed: the next locker learns it, repairs, goes on. */
    TRUE(killed_holder(name, 0) == 0);
    OK(ml_mutex_lock(mx, 10000, &died));
    TRUE(died == 1);
    OK(ml_mutex_mark_consistent(mx));
    OK(ml_mutex_unlock(mx));
    OK(ml_mutex_lock(mx, 10000, &died));
    TRUE(died == 0);
    OK(ml_mutex_unlock(mx));

    /* Killed again, and this time nobody marks it consistent. */
    TRUE(killed_holder(name, ML_MUTEX_ALIGN) == 0);
    OK(ml_mutex_lock(other, 10000, &died));
    TRUE(died == 1);
    OK(ml_mutex_unlock(other));
    FAILS(ML_ERR_NOT_RECOVERABLE, ml_mutex_lock(other, 1000, &died));
    FAILS(ML_ERR_NOT_RECOVERABLE, ml_mutex_lock(other, ML_TIMEOUT_INFINITE, &died));

    /* Each killed child left a dead transient mapping behind: reclaimed. */
    OK(ml_mapping_reclaim_stale(&reclaimed));
    OK(ml_info_list_len(reclaimed, &n));
    for (i = 0; i < n; i++) {
        OK(ml_info_list_get(reclaimed, i, &info));
        for (j = 0; j < 2; j++)
            if (strcmp(info.name, stale[j]) == 0) found++;
    }
    FAILS(ML_ERR_OUT_OF_RANGE, ml_info_list_get(reclaimed, n, &info));
    ml_info_list_free(reclaimed);
    TRUE(found == 2);

    ml_mutex_close(other);
    ml_mutex_close(mx);
    ml_mapping_close(m);
    return 0;
}

/* ---- seqlock ------------------------------------------------------------ */

static int test_seqlock(void) {
    char name[300];
    ml_mapping *m = NULL, *ro = NULL;
    ml_seqlock *w = NULL, *r = NULL;
    uint8_t value[100], got[100];
    uint64_t version = 9;
    size_t size = 0;
    int i;
    unique(name, sizeof name, "seqlock");
    OK(ml_seqlock_size(100, &size));
    TRUE(size == 128);
    OK(ml_seqlock_size(113, &size));
    TRUE(size == 256);
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_seqlock_size(0, &size));

    for (i = 0; i < 100; i++) value[i] = (uint8_t)i;
    OK(ml_mapping_create(name, 4096, &m));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_seqlock_init(m, 8, value, 100, &w));
    FAILS(ML_ERR_WRONG_KIND, ml_seqlock_open(m, 256, 100, &r));
    OK(ml_seqlock_init(m, 256, value, 100, &w));
    OK(ml_seqlock_version(w, &version));
    TRUE(version == 0);

    /* A reader in a read-only mapping. */
    OK(ml_mapping_open(name, ML_ACCESS_READ_ONLY, &ro));
    FAILS(ML_ERR_CORRUPT, ml_seqlock_open(ro, 256, 99, &r));
    OK(ml_seqlock_open(ro, 256, 100, &r));
    OK(ml_seqlock_read(r, got, 100, 1000));
    TRUE(memcmp(got, value, 100) == 0);

    for (i = 0; i < 100; i++) value[i] = (uint8_t)(200 - i);
    OK(ml_seqlock_write(w, value, 100));
    OK(ml_seqlock_version(r, &version));
    TRUE(version == 1);
    OK(ml_seqlock_read(r, got, 100, 0));
    TRUE(memcmp(got, value, 100) == 0);
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_seqlock_read(r, got, 50, 0));
    FAILS(ML_ERR_ACCESS_MISMATCH, ml_seqlock_write(r, value, 100));
    ml_seqlock_close(r);
    ml_seqlock_close(w);
    ml_mapping_close(ro);
    ml_mapping_close(m);
    return 0;
}

/* ---- list / inspect ----------------------------------------------------- */

static int test_list_and_inspect(void) {
    char name[300], local[320];
    ml_mapping *m = NULL;
    ml_info_list *list = NULL;
    ml_mapping_info info;
    size_t n = 0, i;
    int found = 0;
    unique(name, sizeof name, "list");
    snprintf(local, sizeof local, "Local\\%s", name);
    OK(ml_mapping_create(name, 12345, &m));

    OK(ml_mapping_inspect(name, &list));
    OK(ml_info_list_len(list, &n));
    TRUE(n == 1);
    OK(ml_info_list_get(list, 0, &info));
    TRUE(strcmp(info.name, local) == 0);
    TRUE(info.size == 12345 && info.mode == 0600 && info.persistent == 0);
    TRUE(info.file == NULL && info.owner == (uint32_t)geteuid());
    TRUE(info.live == ML_LIVE_YES);
    for (i = 0; i < info.holders_len; i++)
        if (info.holders[i] == (uint32_t)getpid()) found = 1;
    TRUE(found);
    ml_info_list_free(list);

    found = 0;
    OK(ml_mapping_list(ML_NAMESPACE_LOCAL, &list));
    OK(ml_info_list_len(list, &n));
    for (i = 0; i < n; i++) {
        OK(ml_info_list_get(list, i, &info));
        if (strcmp(info.name, local) == 0) found = 1;
    }
    ml_info_list_free(list);
    TRUE(found);
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_mapping_list(7, &list));
    TRUE(list == NULL);

    ml_mapping_close(m);
    FAILS(ML_ERR_NOT_FOUND, ml_mapping_inspect(name, &list));
    return 0;
}

/* ---- identify / busy timeout ------------------------------------------ */

static int test_identify(void) {
    char plain[300], event[300], chan[300], missing[300];
    ml_mapping *m = NULL;
    ml_event *e = NULL;
    ml_sender *tx = NULL;
    ml_object_kind kind = 0;
    unique(plain, sizeof plain, "id-map");
    unique(event, sizeof event, "id-ev");
    unique(chan, sizeof chan, "id-ch");
    unique(missing, sizeof missing, "id-none");
    OK(ml_mapping_create(plain, 4096, &m));
    OK(ml_event_create(event, ML_EVENT_AUTO_RESET, &e));
    OK(ml_sender_create(chan, NULL, &tx));
    OK(ml_identify(plain, &kind));
    TRUE(kind == ML_OBJECT_MAPPING);
    OK(ml_identify(event, &kind));
    TRUE(kind == ML_OBJECT_EVENT);
    OK(ml_identify(chan, &kind));
    TRUE(kind == ML_OBJECT_CHANNEL);
    /* Its own values, distinct and stable. */
    TRUE(ML_OBJECT_CHANNEL == 1 && ML_OBJECT_EVENT == 2 && ML_OBJECT_DOORBELL == 3 &&
         ML_OBJECT_UNKNOWN == 4 && ML_OBJECT_MAPPING == 5);
    FAILS(ML_ERR_NOT_FOUND, ml_identify(missing, &kind));
    TRUE(kind == 0);
    FAILS(ML_ERR_NULL, ml_identify(NULL, &kind));
    FAILS(ML_ERR_NULL, ml_identify(plain, NULL));
    FAILS(ML_ERR_INVALID_NAME, ml_identify("\xff\xfe", &kind));
    OK(ml_sender_close(tx));
    ml_event_close(e);
    ml_mapping_close(m);
    /* Looking held nothing: closed, they are gone. */
    FAILS(ML_ERR_NOT_FOUND, ml_identify(plain, &kind));
    FAILS(ML_ERR_NOT_FOUND, ml_identify(event, &kind));
    return 0;
}

/* A name whose entry another process holds locked, as a remover holds it
 * while it unlinks the name: with no busy timeout open says ML_ERR_BUSY at
 * once, and with one shorter than a removal takes (250 ms) after it; with
 * a longer one (and by default, 2 s) open finds that the lock outlasts any
 * removal and opens the mapping all the same. */
static int test_busy_timeout(void) {
    char name[300], entry[400];
    ml_mapping_options *o = NULL;
    ml_mapping *m = NULL;
    uint64_t size = 0;
    int fd;
    unique(name, sizeof name, "busy");
    /* The entry of a Local name: where the backend keeps this user's names. */
#ifdef __APPLE__
    snprintf(entry, sizeof entry, "/tmp/memlink-%u/%s", (unsigned)geteuid(), name);
#else
    snprintf(entry, sizeof entry, "/dev/shm/memlink-%u/%s", (unsigned)geteuid(), name);
#endif
    OK(ml_mapping_options_new(&o));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_mapping_options_set_busy_timeout(o, -1));
    FAILS(ML_ERR_INVALID_ARGUMENT, ml_mapping_options_set_busy_timeout(o, INT64_MIN));
    FAILS(ML_ERR_NULL, ml_mapping_options_set_busy_timeout(NULL, 10));
    OK(ml_mapping_options_set_size(o, 4096));
    OK(ml_mapping_options_set_persistent(o, 1));
    OK(ml_mapping_options_create(o, name, &m));
    ml_mapping_close(m);

    fd = open(entry, O_RDONLY);
    TRUE(fd >= 0);
    TRUE(flock(fd, LOCK_EX | LOCK_NB) == 0);
    OK(ml_mapping_options_set_busy_timeout(o, 0));
    FAILS(ML_ERR_BUSY, ml_mapping_options_open(o, name, &m));
    TRUE(m == NULL);
    OK(ml_mapping_options_set_busy_timeout(o, 100));
    FAILS(ML_ERR_BUSY, ml_mapping_options_open(o, name, &m));
    OK(ml_mapping_options_set_busy_timeout(o, 1500));
    OK(ml_mapping_options_open(o, name, &m));
    OK(ml_mapping_size(m, &size));
    TRUE(size == 4096);
    ml_mapping_close(m);
    OK(ml_mapping_options_open(NULL, name, &m)); /* the default, 2 s */
    ml_mapping_close(m);
    close(fd);

    /* Unlocked, zero opens at once. */
    OK(ml_mapping_options_set_busy_timeout(o, 0));
    OK(ml_mapping_options_open(o, name, &m));
    ml_mapping_close(m);
    ml_mapping_options_free(o);
    OK(ml_mapping_remove(name));
    return 0;
}

int main(int argc, char **argv) {
    self_path = argv[0];
    if (argc == 4 && strcmp(argv[1], "--hold-mutex") == 0) return role_hold_mutex(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--foreign") == 0) return role_foreign(argv[2]);
    if (argc != 2) return 2;
    snprintf(base, sizeof base, "%s", argv[1]);

    run("version", test_version);
    run("file_backed_size_rules", test_file_backed_size_rules);
    run("copy_on_write_and_read_only_views", test_copy_on_write_and_read_only_views);
    run("mode_persistent_and_hints", test_mode_persistent_and_hints);
    run("foreign_owner", test_foreign_owner);
    run("mutex_owner_died", test_mutex_owner_died);
    run("seqlock", test_seqlock);
    run("list_and_inspect", test_list_and_inspect);
    run("identify", test_identify);
    run("busy_timeout", test_busy_timeout);
    printf("c abi: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
