/* UUIDs (RFC 9562) in their 36-character text form: version 4 (random) for ids, and version 7
 * (a millisecond timestamp, then random bits) for keys that are inserted in time order, so
 * that an index over them grows at its end instead of splitting pages at random places. */
#ifndef REACTOR_CORE_UUID_H
#define REACTOR_CORE_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_LEN 36
#define UUID_BYTES 16

/* The text form of 16 bytes (lower-case hex, 8-4-4-4-12) into out (UUID_LEN + 1 bytes). */
void uuid_text(const unsigned char u[UUID_BYTES], char out[UUID_LEN + 1]);
/* The 16 bytes of s when s is exactly a UUID in the text form uuid_text writes (lower-case:
 * an upper-case one would not come back the same): true; false for any other text. */
bool uuid_parse(const char *s, unsigned char out[UUID_BYTES]);

/* Each fills out (UUID_LEN + 1 bytes) and returns 0, or -1 if the CSPRNG fails. */
int uuid_v4(char out[UUID_LEN + 1]);
int uuid_v7(int64_t unix_ms, char out[UUID_LEN + 1]);

/* `id` (a UUID in text form) with `add` added to its last 48 bits (the last group), modulo
 * 2^48, into out: ids that follow one random version 7 UUID in the same millisecond, as RFC
 * 9562's monotonic method (a fixed increment of the random bits) gives them. False when `id`
 * is not a UUID in text form (lower-case hex, as these functions write it). */
bool uuid_add(const char *id, uint64_t add, char out[UUID_LEN + 1]);
/* The same with add = 1, in place, for an id known to be in that form (one uuid_add took). */
void uuid_next(char id[UUID_LEN + 1]);

/* A version 7 UUID whose bits after the timestamp carry `seq` (52 bits) and 22 random bits:
 * the keys the server gives events, which say where their row is (store, events). The seq is
 * hidden: XORed with 52 bits of AES-128 (a secret kept with the data) of the key's timestamp
 * and random bits, so a client cannot read how many events the server took between two of
 * its keys (the seq counts every app's events). */
#define UUID_SEQ_MAX ((UINT64_C(1) << 52) - 1)
#define UUID_SEQ_SECRET_LEN 16
struct uuid_seq_key;
struct uuid_seq_key *uuid_seq_key_new(const unsigned char secret[UUID_SEQ_SECRET_LEN]);
void uuid_seq_key_free(struct uuid_seq_key *k);
int uuid_v7_seq(const struct uuid_seq_key *k, int64_t unix_ms, uint64_t seq,
                char out[UUID_LEN + 1]);
/* A version 8 UUID: the millisecond timestamp, then 74 bits of AES-128 (under k) of
 * (unix_ms, seq, n). No randomness: the same arguments give the same UUID; different ones
 * give different UUIDs but for chance (as likely as two random UUIDv7 of one millisecond
 * meeting), and the bits show nothing of seq. The ids of the ledger entries an event's row
 * holds (store): seq the event's, n the entry's place among them. */
int uuid_v8_seq(const struct uuid_seq_key *k, int64_t unix_ms, uint64_t seq, uint16_t n,
                char out[UUID_LEN + 1]);
/* The seq in s[0..len) when it is a version 7 UUID in text form (any UUIDv7 decodes to some
 * number: the caller checks the row it names). */
bool uuid_v7_seq_of(const struct uuid_seq_key *k, const char *s, size_t len, uint64_t *seq);

#endif
