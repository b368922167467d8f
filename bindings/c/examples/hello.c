/* The article's CreateFileMapping / MapViewOfFile / CopyMemory in C, with
 * the robust mutex guarding the bytes: creates (or opens) the mapping NAME,
 * writes a greeting under the lock, reads it back, prints it.
 *
 *   hello NAME
 *
 * Build against an installed memlink:
 *   cc hello.c $(pkg-config --cflags --libs memlink) -o hello
 * or with CMake: find_package(memlink) and link memlink::memlink. */
#include <stdio.h>
#include <string.h>

#include <memlink.h>

static int fail(const char *what, ml_result r) {
    char msg[512] = {0};
    ml_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "%s: %s: %s\n", what, ml_result_name(r), msg);
    return 1;
}

int main(int argc, char **argv) {
    ml_mapping *mapping = NULL;
    ml_mutex *lock = NULL;
    ml_view *view = NULL;
    int32_t created = 0, owner_died = 0;
    const char greeting[] = "hello from C";
    char back[sizeof greeting] = {0};
    ml_result r;

    if (argc != 2) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 2;
    }
    if ((r = ml_mapping_open_or_create(argv[1], 4096, &mapping, &created)) != ML_OK)
        return fail("ml_mapping_open_or_create", r);
    /* The mutex takes the first 128 bytes; the data follows. */
    r = created ? ml_mutex_init(mapping, 0, &lock) : ml_mutex_open(mapping, 0, &lock);
    if (r != ML_OK) return fail("mutex", r);
    if ((r = ml_mapping_view(mapping, ML_MUTEX_SIZE, 0, &view)) != ML_OK)
        return fail("ml_mapping_view", r);

    if ((r = ml_mutex_lock(lock, 5000, &owner_died)) != ML_OK) return fail("ml_mutex_lock", r);
    if (owner_died) ml_mutex_mark_consistent(lock); /* nothing to repair here */
    ml_view_write(view, 0, (const uint8_t *)greeting, sizeof greeting);
    ml_view_read(view, 0, (uint8_t *)back, sizeof back);
    ml_mutex_unlock(lock);

    printf("%s (libmemlink %s)\n", back, ml_version());
    ml_view_close(view);
    ml_mutex_close(lock);
    ml_mapping_close(mapping);
    return strcmp(back, greeting) == 0 ? 0 : 1;
}
