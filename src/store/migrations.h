/* The schema history of the SQLite backend: an ordered list of migrations. A migration is
 * never edited once released; a change to the schema is a new entry at the end. */
#ifndef REACTOR_STORE_MIGRATIONS_H
#define REACTOR_STORE_MIGRATIONS_H

struct migration {
    int version;      /* 1, 2, 3, ... with no gaps */
    const char *name; /* short description, kept in schema_migrations */
    const char *sql;  /* one or more statements */
};

extern const struct migration sqlite_migrations[];
extern const int sqlite_migrations_count;

#endif
