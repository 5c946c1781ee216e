/* The store: where Forge Reactor keeps everything durable. This header is the whole interface;
 * nothing outside src/store/ writes SQL.
 *
 * Backends: SQLite (default: a file in the data directory, WAL mode, fsync on commit) and,
 * later, PostgreSQL. Callers never see which one they have. The interface is batch-oriented
 * ("apply this batch of effects atomically", "load the state of these users"): later issues
 * add those calls here, each implemented by every backend.
 *
 * Threads: a struct store is used by one thread at a time (the engine owns it in serve; the
 * main thread during start-up and for readiness probes, serialised with the engine by the
 * caller). Errors: 0 or a negative value, with a message in the optional err buffer.
 */
#ifndef REACTOR_STORE_STORE_H
#define REACTOR_STORE_STORE_H

#include <stddef.h>

struct store;

struct store_options {
    const char *data_dir;     /* created (0700) if missing */
    const char *database_url; /* "" or NULL = <data_dir>/reactor.db; "sqlite:<path>" */
};

/* Opens (creating if needed) the store. Does not migrate. NULL and a message on failure. */
struct store *store_open(const struct store_options *opt, char *err, size_t errlen);
void store_close(struct store *s);

/* Applies every migration newer than the store's schema, each in its own transaction.
 * `applied` (may be NULL) receives how many ran. */
int store_migrate(struct store *s, int *applied, char *err, size_t errlen);
/* The newest migration applied (0 for an empty store). */
int store_schema_version(struct store *s, int *version, char *err, size_t errlen);
/* The newest migration this build knows. */
int store_latest_version(void);
/* A cheap round trip proving the store answers (for /ready). */
int store_ping(struct store *s);
/* Backend name and location, for logs: "sqlite:/path/to/reactor.db". */
const char *store_describe(const struct store *s);

#endif
