/* UUIDs (RFC 9562) in their 36-character text form: version 4 (random) for ids, and version 7
 * (a millisecond timestamp, then random bits) for keys that are inserted in time order, so
 * that an index over them grows at its end instead of splitting pages at random places. */
#ifndef REACTOR_CORE_UUID_H
#define REACTOR_CORE_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_LEN 36

/* Each fills out (UUID_LEN + 1 bytes) and returns 0, or -1 if the CSPRNG fails. */
int uuid_v4(char out[UUID_LEN + 1]);
int uuid_v7(int64_t unix_ms, char out[UUID_LEN + 1]);

/* A version 7 UUID whose bits after the timestamp carry `seq` (52 bits) and 22 random bits:
 * the keys the server gives events, which say where their row is (store, events). */
#define UUID_SEQ_MAX ((UINT64_C(1) << 52) - 1)
int uuid_v7_seq(int64_t unix_ms, uint64_t seq, char out[UUID_LEN + 1]);
/* The seq in s[0..len) when it is a version 7 UUID in text form (any UUIDv7 decodes to some
 * number: the caller checks the row it names). */
bool uuid_v7_seq_of(const char *s, size_t len, uint64_t *seq);

#endif
