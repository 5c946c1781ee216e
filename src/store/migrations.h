/* The schema history of the SQLite backend: an ordered list of migrations. A migration is
 * never edited once released; a change to the schema is a new entry at the end. */
#ifndef REACTOR_STORE_MIGRATIONS_H
#define REACTOR_STORE_MIGRATIONS_H

#include <stdbool.h>

struct migration {
    int version;      /* 1, 2, 3, ... with no gaps */
    const char *name; /* short description, kept in schema_migrations */
    const char *sql;  /* one or more statements */
    /* The statements edit table definitions in sqlite_schema (SQLite's documented way to
     * change a constraint without rebuilding a table): the runner turns writable_schema on
     * around them and bumps schema_version, so that every connection reads the new one. */
    bool edits_schema;
};

extern const struct migration sqlite_migrations[];
extern const int sqlite_migrations_count;

#endif
