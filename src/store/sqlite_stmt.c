/* The SQLite backend's statements, prepared once and cached, and the helpers every file of
 * the backend uses to run them (see sqlite_int.h). */
#include <stdio.h>

#include "core/mem.h"
#include "store/sqlite_int.h"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_APP_INSERT] = "INSERT INTO apps (id, name, settings, default_timezone, webhook_url, "
                      "webhook_secret, created_at, updated_at, webhook_events) "
                      "VALUES (?,?,?,?,?,?,?,?,?)",
    [ST_APP_GET] = "SELECT id, name, settings, default_timezone, webhook_url, webhook_secret, "
                   "created_at, updated_at, webhook_events FROM apps WHERE id = ?",
    [ST_APP_UPDATE] = "UPDATE apps SET name = ?, settings = ?, default_timezone = ?, "
                      "webhook_url = ?, webhook_secret = ?, updated_at = ?, webhook_events = ? "
                      "WHERE id = ?",
    [ST_APP_ALL] = "SELECT id, name, settings, default_timezone, webhook_url, webhook_secret, "
                   "created_at, updated_at, webhook_events FROM apps ORDER BY id",
    [ST_KEY_INSERT] = "INSERT INTO api_keys (id, app_id, name, role, key_hash, created_at) "
                      "VALUES (?,?,?,?,?,?)",
    [ST_KEY_LIST] = "SELECT id, app_id, name, role, key_hash, created_at, last_used_at, "
                    "revoked_at FROM api_keys WHERE app_id = ? ORDER BY created_at, id",
    [ST_KEY_LIST_ACTIVE] = "SELECT id, app_id, name, role, key_hash, created_at, last_used_at, "
                           "revoked_at FROM api_keys WHERE app_id = ? AND revoked_at IS NULL "
                           "ORDER BY created_at, id",
    [ST_KEY_ALL_ACTIVE] = "SELECT id, app_id, name, role, key_hash, created_at, last_used_at, "
                          "revoked_at FROM api_keys WHERE revoked_at IS NULL",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ? WHERE app_id = ? AND id = ? AND "
                      "revoked_at IS NULL",
    [ST_KEY_TOUCH] = "UPDATE api_keys SET last_used_at = max(COALESCE(last_used_at, 0), ?) "
                     "WHERE id = ?",
    [ST_USER_INSERT] = "INSERT INTO users (app_id, user_id, attributes, created_at, updated_at) "
                       "VALUES (?1, ?2, COALESCE(?3, '{}'), ?4, ?4) "
                       "ON CONFLICT (app_id, user_id) DO NOTHING "
                       "RETURNING attributes, created_at, updated_at",
    [ST_USER_UPDATE] = "UPDATE users SET attributes = COALESCE(?3, attributes), updated_at = ?4 "
                       "WHERE app_id = ?1 AND user_id = ?2 "
                       "RETURNING attributes, created_at, updated_at",
    [ST_USER_GET] = "SELECT app_id, user_id, attributes, created_at, updated_at FROM users "
                    "WHERE app_id = ? AND user_id = ?",
    [ST_USER_EXISTS] = "SELECT 1 FROM users WHERE app_id = ? AND user_id = ?",
    [ST_USER_CREATE] = "INSERT INTO users (app_id, user_id, created_at, updated_at) "
                       "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (app_id, user_id) DO NOTHING",
    [ST_NONCE_INSERT] = "INSERT INTO nonces (app_id, nonce, expires_at) VALUES (?, ?, ?)",
    [ST_NONCE_LIVE] = "SELECT app_id, nonce, expires_at, rowid FROM nonces "
                      "WHERE expires_at >= ?",
    /* The expired rows, earliest first, through the index on their expiry (migration 18: a
     * row a batch, so an index entry a batch). */
    [ST_NONCE_EXPIRE] = "DELETE FROM nonces WHERE rowid IN (SELECT rowid FROM nonces "
                        "WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)",
    [ST_EVENT_INSERT] = "INSERT INTO events (seq, app_id, idempotency_key, user_id, event_type, "
                        "metadata, occurred_at, received_at, processed_at, status, error, "
                        "effects, ledger_seq, fx) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_EVENT_KEY_INSERT] = "INSERT INTO event_keys (app_id, idempotency_key, seq) "
                            "VALUES (?, ?, ?) ON CONFLICT (app_id, idempotency_key) DO NOTHING",
    [ST_EVENT_GET] = "SELECT app_id, idempotency_key, user_id, event_type, metadata, "
                     "occurred_at, received_at, processed_at, status, error, effects, fx "
                     "FROM events WHERE seq = coalesce((SELECT seq FROM event_keys "
                     "WHERE app_id = ?1 AND idempotency_key = ?2), ?3) "
                     "AND app_id = ?1 AND idempotency_key = ?2",
    /* Seqs are never given again, even once retention deleted every event (migration 19). */
    [ST_EVENT_LAST_SEQ] = "SELECT max(coalesce((SELECT max(seq) FROM events), 0), "
                          "coalesce((SELECT CAST(value AS INTEGER) FROM meta "
                          "WHERE key = 'events_deleted_through'), 0))",
    [ST_EVENTS_DELETED_SET] = "INSERT INTO meta (key, value) VALUES "
                              "('events_deleted_through', ?1) ON CONFLICT (key) DO UPDATE "
                              "SET value = excluded.value",
    [ST_EVENT_SECRET_GET] = "SELECT value FROM meta WHERE key = 'event_key_secret'",
    [ST_EVENT_SECRET_PUT] = "INSERT INTO meta (key, value) VALUES ('event_key_secret', ?)",
    [ST_DEF_PUT] = "INSERT INTO definitions (app_id, kind, id, body, created_at, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (app_id, kind, id) DO UPDATE "
                   "SET body = excluded.body, updated_at = excluded.updated_at",
    [ST_DEF_DELETE] = "DELETE FROM definitions WHERE app_id = ? AND kind = ? AND id = ?",
    [ST_DEF_LIST] = "SELECT id, body, created_at, updated_at FROM definitions "
                    "WHERE app_id = ? AND kind = ? ORDER BY created_at, id",
    [ST_USER_LOAD] = "SELECT u.attributes, g.state, g.events_through FROM users u "
                     "LEFT JOIN game_users g "
                     "ON g.app_id = u.app_id AND g.user_id = u.user_id "
                     "WHERE u.app_id = ?1 AND u.user_id = ?2",
    [ST_STATE_PUT] = "INSERT INTO game_users (app_id, user_id, state, updated_at, "
                     "events_through) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (app_id, user_id) "
                     "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at, "
                     "events_through = excluded.events_through",
    [ST_LEDGER_PAGE] = "SELECT seq, id, kind, name, amount, balance_after, reason, source, "
                       "ref, metadata, created_at FROM ledger WHERE app_id = ?1 AND "
                       "user_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4",
    [ST_LEDGER_PAGE_KIND] = "SELECT seq, id, kind, name, amount, balance_after, reason, "
                            "source, ref, metadata, created_at FROM ledger WHERE app_id = ?1 "
                            "AND user_id = ?2 AND seq < ?3 AND kind = ?5 "
                            "ORDER BY seq DESC LIMIT ?4",
    [ST_LEDGER_GET] = "SELECT seq, id, kind, name, amount, balance_after, reason, source, "
                      "ref, metadata, created_at FROM ledger WHERE app_id = ?1 AND "
                      "user_id = ?2 AND seq = ?3",
    [ST_SPEND_KEY_PUT] = "INSERT INTO spend_keys (app_id, idempotency_key, user_id, seq) "
                         "VALUES (?,?,?,?) ON CONFLICT (app_id, idempotency_key) DO NOTHING",
    [ST_SPEND_KEY_GET] = "SELECT user_id, seq FROM spend_keys WHERE app_id = ? AND "
                         "idempotency_key = ?",
    [ST_STATE_LOG] = "INSERT INTO state_log (states, events_through) VALUES (?, ?)",
    [ST_LEDGER_LOG] = "INSERT INTO ledger_rows (app_id, user_id, first_seq, entries) "
                      "VALUES (?, ?, ?, ?)",
    [ST_LEDGER_LOGGED] = "SELECT entries, first_seq FROM ledger_rows WHERE lseq = ?",
    [ST_LEDGER_ROW_FIRST] = "SELECT first_seq FROM ledger_rows WHERE lseq = ?",
    /* An event's entries are in its row (migration 19). */
    [ST_LEDGER_EVENT] = "SELECT idempotency_key, processed_at, ledger_seq, effects, fx "
                        "FROM events WHERE seq = ? AND ledger_seq IS NOT NULL",
    [ST_LEDGER_EVENT_FIRST] = "SELECT ledger_seq FROM events WHERE seq = ? AND "
                              "ledger_seq IS NOT NULL",
    [ST_LEDGER_MOVED_GET] = "SELECT idempotency_key, processed_at, ledger_seq, effects, fx "
                            "FROM ledger_moved WHERE event_seq = ?",
    [ST_LEDGER_MOVED_FIRST] = "SELECT ledger_seq FROM ledger_moved WHERE event_seq = ?",
    [ST_LEDGER_MOVED_PUT] = "INSERT INTO ledger_moved (event_seq, idempotency_key, "
                            "processed_at, ledger_seq, effects, fx) SELECT seq, idempotency_key, "
                            "coalesce(processed_at, 0), ledger_seq, effects, fx FROM events "
                            "WHERE seq <= ? AND ledger_seq IS NOT NULL",
    [ST_GAME_REPLAY] = "SELECT seq, app_id, idempotency_key, user_id, event_type, metadata, "
                       "occurred_at, processed_at, effects, ledger_seq, fx FROM events "
                       "WHERE seq > ? AND status = 'PROCESSED' ORDER BY seq",
    [ST_LEDGER_EVENTS_INDEXED_GET] = "SELECT value FROM meta "
                                     "WHERE key = 'ledger_events_indexed_through'",
    [ST_LEDGER_EVENTS_INDEXED_SET] = "INSERT INTO meta (key, value) VALUES "
                                     "('ledger_events_indexed_through', ?1) ON CONFLICT (key) "
                                     "DO UPDATE SET value = excluded.value",
    /* Each user's newest logged state (the last entry of the last row naming it); in key
     * order, so the upserts walk game_users once. A row that is not JSON is left out (and
     * reported: ST_FOLD_STATE_BAD). */
    [ST_FOLD_STATE] = "INSERT INTO game_users (app_id, user_id, state, updated_at, "
                      "events_through) SELECT app, usr, st, upd, thr FROM (SELECT "
                      "json_extract(j.value, '$[0]') AS app, "
                      "json_extract(j.value, '$[1]') AS usr, json_extract(j.value, '$[2]') AS st, "
                      "json_extract(j.value, '$[3]') AS upd, l.events_through AS thr, "
                      "row_number() OVER (PARTITION BY "
                      "json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]') "
                      "ORDER BY l.seq DESC, j.key DESC) AS rn FROM state_log l, "
                      "json_each(CASE WHEN json_valid(l.states) THEN l.states ELSE '[]' END) j) "
                      "WHERE rn = 1 ORDER BY app, usr ON CONFLICT (app_id, user_id) DO UPDATE "
                      "SET state = excluded.state, updated_at = excluded.updated_at, "
                      "events_through = excluded.events_through",
    [ST_FOLD_STATE_BAD] = "SELECT seq FROM state_log WHERE NOT json_valid(states)",
    [ST_FOLD_STATE_CLEAR] = "DELETE FROM state_log",
    /* The ledger's rows stay in ledger_rows, in the order they were written; a fold indexes
     * the new ones, one ledger_index row per user listing its rows. */
    [ST_LEDGER_UNINDEXED] = "SELECT lseq, app_id, user_id, first_seq FROM ledger_rows "
                            "WHERE lseq > ?1 UNION ALL "
                            "SELECT -seq, app_id, user_id, ledger_seq FROM events "
                            "WHERE seq > ?2 AND ledger_seq IS NOT NULL ORDER BY 2, 3, 4",
    [ST_LEDGER_INDEX_PUT] = "INSERT INTO ledger_index (app_id, user_id, first_seq, lseqs) "
                            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE "
                            "SET lseqs = lseqs || ',' || excluded.lseqs",
    [ST_LEDGER_INDEXED_GET] = "SELECT value FROM meta WHERE key = 'ledger_indexed_through'",
    [ST_LEDGER_INDEXED_SET] = "INSERT INTO meta (key, value) VALUES "
                              "('ledger_indexed_through', ?1) ON CONFLICT (key) DO UPDATE "
                              "SET value = excluded.value",
    [ST_LEDGER_INDEX_PAGE] = "SELECT first_seq, lseqs FROM ledger_index WHERE app_id = ?1 AND "
                             "user_id = ?2 AND first_seq < ?3 ORDER BY first_seq DESC",
    [ST_LEDGER_INDEX_AT] = "SELECT first_seq, lseqs FROM ledger_index WHERE app_id = ?1 AND "
                           "user_id = ?2 AND first_seq <= ?3 ORDER BY first_seq DESC LIMIT 1",
    [ST_BOARD_CREATE] = "INSERT INTO boards (app_id, metric, period, updated_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
    [ST_BOARD_TOUCH] = "UPDATE boards SET updated_at = max(updated_at, ?2) WHERE id = ?1",
    [ST_BOARD_ALL] = "SELECT id, app_id, metric, period, updated_at FROM boards",
    [ST_BOARD_LOG] = "INSERT INTO board_log (user_id, changes) VALUES (?, ?)",
    [ST_BOARD_LOG_SCAN] = "SELECT seq, user_id, changes FROM board_log ORDER BY seq",
    [ST_BOARD_FOLD] = "INSERT INTO board_scores (board, user_id, score, at) VALUES (?1, ?2, ?3, ?4) "
                      "ON CONFLICT DO UPDATE SET score = CASE WHEN excluded.score > ?5 - score "
                      "THEN ?5 ELSE score + excluded.score END, at = max(at, excluded.at)",
    [ST_BOARD_LOG_CLEAR_THROUGH] = "DELETE FROM board_log WHERE seq <= ?",
    [ST_BOARD_LOG_ROWS] = "SELECT count(*) FROM board_log",
    [ST_BOARD_SCORES] = "SELECT user_id, score, at FROM board_scores WHERE board = ?",
    [ST_LEAGUE_PUT] = "INSERT INTO leagues (app_id, id, body, tier, season_key, created_at, "
                      "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                      "body = excluded.body, tier = excluded.tier, "
                      "season_key = excluded.season_key, updated_at = excluded.updated_at",
    [ST_LEAGUE_GET] = "SELECT id, body, tier, season_key, created_at, updated_at, settled_at, "
                      "(SELECT count(*) FROM league_members m WHERE m.app_id = l.app_id AND "
                      "m.league_id = l.id) FROM leagues l WHERE app_id = ? AND id = ?",
    [ST_LEAGUE_DELETE] = "DELETE FROM leagues WHERE app_id = ? AND id = ?",
    [ST_LEAGUE_DELETE_MEMBERS] = "DELETE FROM league_members WHERE app_id = ? AND league_id = ?",
    [ST_LEAGUE_DELETE_RESULTS] = "DELETE FROM league_results WHERE app_id = ? AND league_id = ?",
    [ST_LEAGUE_LIST] = "SELECT id, body, tier, season_key, created_at, updated_at, settled_at, "
                       "(SELECT count(*) FROM league_members m WHERE m.app_id = l.app_id AND "
                       "m.league_id = l.id) FROM leagues l WHERE app_id = ?1 AND "
                       "(?2 < 0 OR tier = ?2) AND (?3 IS NULL OR season_key = ?3) "
                       "ORDER BY created_at, id",
    [ST_MEMBER_ADD] = "INSERT INTO league_members (app_id, league_id, user_id, season_key, "
                      "joined_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    [ST_MEMBER_REMOVE] = "DELETE FROM league_members WHERE app_id = ? AND league_id = ? AND "
                         "user_id = ?",
    [ST_MEMBER_OF] = "SELECT league_id FROM league_members WHERE app_id = ? AND season_key = ? "
                     "AND user_id = ?",
    [ST_MEMBER_LIST] = "SELECT user_id, joined_at FROM league_members WHERE app_id = ? AND "
                       "league_id = ? ORDER BY joined_at, user_id",
    [ST_RESULT_PUT] = "INSERT INTO league_results (app_id, league_id, user_id, rank, score, "
                      "outcome, tier_after) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_RESULT_LIST] = "SELECT user_id, rank, score, outcome, tier_after FROM league_results "
                       "WHERE app_id = ? AND league_id = ? ORDER BY rank",
    [ST_LEAGUE_SETTLE] = "UPDATE leagues SET settled_at = ?3 WHERE app_id = ?1 AND id = ?2 AND "
                         "settled_at IS NULL",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (app_id, at, actor, action, resource_type, "
                        "resource_id, before, after, request_id) VALUES (?,?,?,?,?,?,?,?,?)",
    /* The oldest rows first, a bounded number per call, so one call never holds the writer
     * long. */
    [ST_AUDIT_PRUNE] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 "
                       "ORDER BY at LIMIT ?2)",
    [ST_JOB_INSERT] = "INSERT INTO jobs (kind, app_id, order_key, payload, state, attempts, "
                      "max_attempts, run_at, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
    /* Open jobs are tested as the partial index jobs_open_order says it, word for word: the
     * planner uses the index only for a condition it can match to the index's. */
    [ST_JOB_OPEN_OF_KEY] = "SELECT 1 FROM jobs WHERE order_key = ? AND (state = 'queued' OR "
                           "state = 'failed' OR state = 'running') LIMIT 1",
    /* The next job of the finished one's order key becomes due. */
    [ST_JOB_PROMOTE] = "UPDATE jobs SET run_at = ?2 WHERE id = (SELECT n.id FROM jobs n, jobs f "
                       "WHERE f.id = ?1 AND n.order_key = f.order_key AND n.id > ?1 AND "
                       "(n.state = 'queued' OR n.state = 'failed' OR n.state = 'running') "
                       "ORDER BY n.id LIMIT 1) "
                       "AND state = 'queued' AND run_at > ?2",
    /* Ready: due, and no older open job with the same order key (per-user order). */
    [ST_JOB_READY] = "SELECT id, kind, app_id, order_key, payload, attempts, max_attempts, "
                     "run_at, created_at FROM jobs j WHERE state IN ('queued', 'failed') AND "
                     "run_at <= ?1 AND (order_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs p "
                     "WHERE p.order_key = j.order_key AND p.id < j.id AND (p.state = "
                     "'queued' OR p.state = 'failed' OR p.state = 'running'))) "
                     "ORDER BY run_at, id LIMIT ?2",
    [ST_JOB_CLAIM] = "UPDATE jobs SET state = 'running', attempts = attempts + 1, "
                     "claimed_at = ?2, lease_until = ?3, updated_at = ?2 WHERE id = ?1 AND "
                     "state IN ('queued', 'failed')",
    [ST_JOB_FINISH] = "UPDATE jobs SET state = ?2, run_at = ?3, last_error = ?4, "
                      "updated_at = ?5, lease_until = NULL WHERE id = ?1 AND state = 'running'",
    [ST_JOB_RETURN] = "UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), "
                      "updated_at = ?2, lease_until = NULL WHERE id = ?1 AND state = 'running'",
    [ST_JOB_RECOVER] = "UPDATE jobs SET state = 'queued', updated_at = ?1, lease_until = NULL, "
                       "last_error = 'the process stopped while the job ran' "
                       "WHERE state = 'running'",
    [ST_JOB_PAGE] = "SELECT id, kind, app_id, order_key, payload, state, attempts, "
                    "max_attempts, run_at, claimed_at, last_error, created_at, updated_at "
                    "FROM jobs WHERE app_id = ?1 AND (?2 IS NULL OR state = ?2) AND "
                    "(?3 IS NULL OR kind = ?3) AND (?4 <= 0 OR id < ?4) ORDER BY id DESC "
                    "LIMIT ?5",
    [ST_JOB_GET] = "SELECT id, kind, app_id, order_key, payload, state, attempts, "
                   "max_attempts, run_at, claimed_at, last_error, created_at, updated_at "
                   "FROM jobs WHERE app_id = ? AND id = ?",
    [ST_JOB_RETRY] = "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?3, "
                     "updated_at = ?3 WHERE app_id = ?1 AND id = ?2 AND state = 'dead'",
    [ST_JOB_COUNTS] = "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state",
    [ST_EVENTS_OLDEST] = "SELECT seq, received_at FROM events ORDER BY seq LIMIT ?",
    [ST_EVENT_KEYS_EXPIRE] = "DELETE FROM event_keys WHERE (app_id, idempotency_key) IN "
                             "(SELECT app_id, idempotency_key FROM events WHERE seq <= ?)",
    [ST_EVENTS_EXPIRE] = "DELETE FROM events WHERE seq <= ?",
    [ST_JOB_PURGE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE "
                     "state = 'succeeded' AND updated_at < ? ORDER BY updated_at LIMIT ?)",
    [ST_DELIVERY_INSERT] = "INSERT INTO webhook_deliveries (app_id, job_id, webhook_id, "
                           "delivery_id, event_type, url, attempt, status_code, latency_ms, "
                           "error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_DELIVERY_PAGE] = "SELECT seq, job_id, webhook_id, delivery_id, event_type, url, "
                         "attempt, status_code, latency_ms, error, at FROM webhook_deliveries "
                         "WHERE app_id = ?1 AND (?2 <= 0 OR seq < ?2) ORDER BY seq DESC "
                         "LIMIT ?3",
    [ST_DELIVERY_PURGE] = "DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM "
                          "webhook_deliveries WHERE at < ? ORDER BY seq LIMIT ?)",
    [ST_SCHEDULE_RUN] = "INSERT INTO schedule_runs (schedule, slot, ran_at) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING",
    [ST_SCHEDULE_LAST] = "SELECT max(slot) FROM schedule_runs WHERE schedule = ?",
    [ST_SCHEDULE_RAN] = "SELECT slot, ran_at FROM schedule_runs WHERE schedule = ? "
                        "ORDER BY slot DESC LIMIT 1",
    [ST_SEASON_RESULT_PUT] = "INSERT INTO season_results (app_id, season_id, rank, metric, "
                             "user_id, score, prize, closed_at) VALUES (?,?,?,?,?,?,?,?)",
    [ST_SEASON_RESULT_PAGE] = "SELECT rank, metric, user_id, score, prize, closed_at FROM "
                              "season_results WHERE app_id = ? AND season_id = ? "
                              "ORDER BY rank LIMIT ? OFFSET ?",
    [ST_SEASON_RESET_MARK] = "INSERT INTO season_resets (app_id, season_id, user_id, at) "
                             "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    [ST_SEASON_RESET_HAS] = "SELECT 1 FROM season_resets WHERE app_id = ? AND season_id = ? "
                            "AND user_id = ?",
    [ST_SEASON_RESET_COUNT] = "SELECT count(*) FROM season_resets WHERE app_id = ? AND "
                              "season_id = ?",
    [ST_USER_IDS_AFTER] = "SELECT user_id FROM users WHERE app_id = ? AND user_id > ? "
                          "ORDER BY user_id LIMIT ?",
    [ST_SEASON_RESULT_COUNT] = "SELECT count(*) FROM season_results WHERE app_id = ? AND "
                               "season_id = ?",
};

int sqlite__fail(struct store *s, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
    return -1;
}

sqlite3_stmt *sqlite__stmt(struct store *s, enum stmt_id id, char *err, size_t errlen)
{
    sqlite3_stmt *st = s->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK) {
            sqlite__fail(s, err, errlen);
            return NULL;
        }
        s->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

char *sqlite__col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

bool sqlite__decimal(const char **p, const char *end, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (s == *p)
        return false;
    *out = v;
    *p = s;
    return true;
}

/* Steps a statement that returns no rows and resets it. */
int sqlite__step_done(struct store *s, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int sqlite__delete_older(struct store *s, enum stmt_id id, int64_t before, int limit,
                         int64_t *deleted, char *err, size_t errlen)
{
    if (deleted)
        *deleted = 0;
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, limit);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    if (deleted)
        *deleted = sqlite3_changes64(s->db);
    return 0;
}
