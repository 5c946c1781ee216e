/* Structured logging: one JSON object per line on stderr.
 *
 *   log_info("request", LOG_S("method", "GET"), LOG_I("status", 200));
 *
 * Each line carries "time" (RFC 3339, UTC, milliseconds), "level", "msg", then the fields
 * in the order given. The level check happens in the macro, before any argument is formatted.
 *
 * Threads: every thread formats into its own buffer. A thread that calls log_defer_flush(true)
 * (the I/O threads) keeps lines in that buffer until log_flush() or until it grows past 16 KiB,
 * so a busy event loop writes many lines per system call; other threads write each line
 * at once. Lines are written whole and never interleave.
 */
#ifndef REACTOR_CORE_LOG_H
#define REACTOR_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log__type { LOG__T_END, LOG__T_STR, LOG__T_STRN, LOG__T_INT, LOG__T_UINT, LOG__T_DBL, LOG__T_BOOL, LOG__T_RAW };

#define LOG_S(k, v) LOG__T_STR, (const char *)(k), (const char *)(v)
#define LOG_SN(k, v, n) LOG__T_STRN, (const char *)(k), (const char *)(v), (size_t)(n)
#define LOG_I(k, v) LOG__T_INT, (const char *)(k), (int64_t)(v)
#define LOG_U(k, v) LOG__T_UINT, (const char *)(k), (uint64_t)(v)
#define LOG_F(k, v) LOG__T_DBL, (const char *)(k), (double)(v)
#define LOG_B(k, v) LOG__T_BOOL, (const char *)(k), (int)(v)
/* A value that is already valid JSON text, written as is. */
#define LOG_J(k, v) LOG__T_RAW, (const char *)(k), (const char *)(v)

extern enum log_level log__min_level;

#define LOG__AT(lvl, ...)                               \
    do {                                                \
        if ((lvl) >= log__min_level)                    \
            log__write((lvl), __VA_ARGS__, LOG__T_END); \
    } while (0)
#define log_debug(...) LOG__AT(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) LOG__AT(LOG_INFO, __VA_ARGS__)
#define log_warn(...) LOG__AT(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG__AT(LOG_ERROR, __VA_ARGS__)

static inline bool log_enabled(enum log_level lvl)
{
    return lvl >= log__min_level;
}

void log_set_level(enum log_level lvl);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level lvl);
/* Redirects output to `fd` (default 2); for tests. */
void log_set_fd(int fd);
/* Per calling thread: keep lines until log_flush (see above). */
void log_defer_flush(bool defer);
void log_flush(void);
/* Frees the calling thread's buffer after flushing it; call before a thread exits. */
void log_thread_release(void);

void log__write(enum log_level lvl, const char *msg, ...);

#endif
