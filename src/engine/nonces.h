/* The set of signature nonces an engine has seen, in memory, for replay detection.
 *
 * Each entry is the 64-bit keyed hash of (app id, nonce) and the second its use expires, in an
 * open-addressing table: 16 bytes a nonce, no allocation per nonce. Two different nonces with
 * the same hash would make the second look like a replay: with a per-process random key that
 * needs about 2^32 live nonces of one window to be likely, far beyond what a window holds.
 * Expired entries count as absent; they are dropped when the table is rebuilt to grow.
 *
 * Not thread-safe: the engine thread owns it. Durability is the store's job (the nonce rows
 * written with each batch); this set is rebuilt from them at start. */
#ifndef REACTOR_ENGINE_NONCES_H
#define REACTOR_ENGINE_NONCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nonce_set;

struct nonce_set *nonce_set_new(uint64_t key0, uint64_t key1);
void nonce_set_free(struct nonce_set *s);

/* The hash that identifies (app, nonce) in this set. */
uint64_t nonce_set_hash(const struct nonce_set *s, const char *app_id, const char *nonce,
                        size_t nonce_len);
/* Adds hash h, used until `expires_s`, unless it is present and not expired at `now_s`.
 * Returns true when added, false for a replay. */
bool nonce_set_claim(struct nonce_set *s, uint64_t h, int64_t expires_s, int64_t now_s);
/* Removes the claim of h until `expires_s` (a claim that did not commit). */
void nonce_set_forget(struct nonce_set *s, uint64_t h, int64_t expires_s);
/* Entries held (expired ones not yet dropped included). */
size_t nonce_set_size(const struct nonce_set *s);
/* Bytes of memory the set uses. */
size_t nonce_set_bytes(const struct nonce_set *s);

#endif
