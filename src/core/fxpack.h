/* An event's effects in the compact form the store keeps, and their JSON.
 *
 * The JSON of an event's effects (as earlier versions stored it) is about 120 bytes an
 * effect, most of it member names and the rule's id as text; the event row written with every
 * event held it, and writing it was the largest part of what the rules cost an event. The row
 * now holds this form instead, about a quarter of the size, and it is expanded to the same JSON,
 * byte for byte, only where effects are read: an event read back, its ledger entries, the
 * events applied again at start-up, and answers, channels and webhooks that show them.
 *
 * The form: a version byte (FXPACK_VERSION), then each effect as a head byte and its fields.
 * The head's low 3 bits are the effect's type (enum fxpack_type), bits 3-4 the source of an
 * award (enum fxpack_source), bit 5 set when the source's reference is a UUID held as its 16
 * bytes. Integers are zigzag varints (at most 10 bytes); strings a varint length, then their
 * bytes; a tier a varint of its JSON text's length plus one (0: null), then the text.
 *
 *   xp.awarded, currency.changed: name, amount, total, [reference]
 *   level.up:                     track, from, to
 *   streak.updated:               key, current, best, freezes used
 *   achievement.unlocked:         id, code, name, tier, claims
 *
 * The writers append to a buffer the caller owns (fxpack_begin first). fxpack_json reads any
 * bytes safely: a form that is damaged or cut short is refused, never read past its end.
 */
#ifndef REACTOR_CORE_FXPACK_H
#define REACTOR_CORE_FXPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The writers are a function of the effects alone (one form for given effects: shortest
 * varints, a rule's id as 16 bytes exactly when uuid_parse reads it): the engine tells an event
 * applied again that gives the effects its row holds by comparing the bytes. A writer that
 * changes the bytes for the same effects needs a new version, and that comparison must then
 * compare expansions for rows of the older one. */
#define FXPACK_VERSION 1

enum fxpack_type {
    FXPACK_XP = 1,          /* xp.awarded */
    FXPACK_LEVEL,           /* level.up */
    FXPACK_CURRENCY,        /* currency.changed */
    FXPACK_STREAK,          /* streak.updated */
    FXPACK_ACHIEVEMENT,     /* achievement.unlocked */
};

/* Where an award comes from: "source" and "ruleId" or "achievementCode" in its JSON. */
enum fxpack_source {
    FXPACK_SOURCE_NONE = 0,
    FXPACK_SOURCE_RULE,     /* ref: the rule's id */
    FXPACK_SOURCE_ACHIEVEMENT, /* ref: the achievement's code */
};

/* Starts a form in b (appends the version byte). */
void fxpack_begin(struct buf *b);
/* An XP (FXPACK_XP) or currency (FXPACK_CURRENCY) award: its track or currency, the amount
 * added, the total XP or balance after; ref is NULL with FXPACK_SOURCE_NONE. */
void fxpack_award(struct buf *b, enum fxpack_type type, const char *name, int64_t amount,
                  int64_t total, enum fxpack_source source, const char *ref);
/* The same for an award of a rule whose id uuid_parse (core/uuid.h) read once, into rule_uuid
 * (NULL: the id is not a UUID): what the engine writes for every award of an event. rule_uuid
 * must be what uuid_parse(rule_id) gives, or the expansion shows another id. */
void fxpack_award_by_rule(struct buf *b, enum fxpack_type type, const char *name,
                          int64_t amount, int64_t total, const char *rule_id,
                          const unsigned char *rule_uuid);
void fxpack_level(struct buf *b, const char *track, int64_t from, int64_t to);
void fxpack_streak(struct buf *b, const char *key, int64_t current, int64_t best,
                   int64_t freezes_used);
/* tier: the tier's JSON text as the effect shows it, or NULL for null. */
void fxpack_achievement(struct buf *b, const char *id, const char *code, const char *name,
                        const char *tier, int64_t claims);

/* Appends the JSON array of the effects in p[0..len) to out: 0, or -1 when the bytes are not
 * a form this version wrote (out is then as it was). */
int fxpack_json(const void *p, size_t len, struct buf *out);
/* The same, but a damaged form still gives the effects before its fault: appends a JSON
 * array in any case (of all of them: 0; of those before the fault, or none when p is not a
 * form of this version: -1). What the ledger reads an event's entries from, as it reads a
 * damaged JSON array up to its fault. */
int fxpack_json_readable(const void *p, size_t len, struct buf *out);

#endif
