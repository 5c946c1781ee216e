/* SQLite schema migrations, in order (see migrations.h). */
#include "store/migrations.h"

const struct migration sqlite_migrations[] = {
    { 1, "meta",
      "CREATE TABLE meta (\n"
      "  key   TEXT PRIMARY KEY,\n"
      "  value TEXT NOT NULL\n"
      ") STRICT;\n"
      "INSERT INTO meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\n" },
};

const int sqlite_migrations_count = (int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]));
