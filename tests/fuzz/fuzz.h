/* Shared by the libFuzzer targets: the entry points' prototypes, CHECK, an assert that stays
 * on whatever the build type (NDEBUG) and names the failed condition, and the control script
 * of the targets that drive a connection. */
#ifndef REACTOR_FUZZ_FUZZ_H
#define REACTOR_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input of a target that drives a connection: byte 0 is the length L of a control script,
 * bytes 1..L are the script (one event per byte, read with fuzz_script_next: 0 once it is
 * exhausted), the rest is what the client sends. */
struct fuzz_script {
    const uint8_t *p;
    size_t n, i;
    const char *input;
    size_t input_len;
};

static inline struct fuzz_script fuzz_script_split(const uint8_t *data, size_t size)
{
    struct fuzz_script s = {0};
    if (size > 0) {
        s.n = data[0] < size - 1 ? data[0] : size - 1;
        s.p = data + 1;
        s.input = (const char *)data + 1 + s.n;
        s.input_len = size - 1 - s.n;
    }
    return s;
}

static inline unsigned fuzz_script_next(struct fuzz_script *s)
{
    return s->i < s->n ? s->p[s->i++] : 0;
}

#endif
