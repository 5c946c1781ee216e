/* Allocation wrappers: out of memory is not a condition this server recovers from, so every
 * allocation goes through these, which abort with a message instead of returning NULL. */
#ifndef REACTOR_CORE_MEM_H
#define REACTOR_CORE_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* For allocations made inside libraries that report exhaustion as an error: the same message
 * and abort as the wrappers above. */
_Noreturn void mem_fail(size_t n);

#endif
