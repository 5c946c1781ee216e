/* UUIDs (RFC 9562) in their 36-character text form: version 4 (random) for ids, and version 7
 * (a millisecond timestamp, then random bits) for keys that are inserted in time order, so
 * that an index over them grows at its end instead of splitting pages at random places. */
#ifndef REACTOR_CORE_UUID_H
#define REACTOR_CORE_UUID_H

#include <stdint.h>

#define UUID_LEN 36

/* Each fills out (UUID_LEN + 1 bytes) and returns 0, or -1 if the CSPRNG fails. */
int uuid_v4(char out[UUID_LEN + 1]);
int uuid_v7(int64_t unix_ms, char out[UUID_LEN + 1]);

#endif
