/* SQLite schema migrations, in order (see migrations.h). */
#include "store/migrations.h"

const struct migration sqlite_migrations[] = {
    { 1, "meta",
      "CREATE TABLE meta (\n"
      "  key   TEXT PRIMARY KEY,\n"
      "  value TEXT NOT NULL\n"
      ") STRICT;\n"
      "INSERT INTO meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\n",
      false },
    { 2, "apps_keys_users",
      "CREATE TABLE apps (\n"
      "  id               TEXT PRIMARY KEY,\n"
      "  name             TEXT NOT NULL,\n"
      "  settings         TEXT NOT NULL DEFAULT '{}',\n"
      "  default_timezone TEXT NOT NULL DEFAULT 'UTC',\n"
      "  webhook_url      TEXT,\n"
      "  webhook_secret   TEXT,\n"
      "  created_at       INTEGER NOT NULL,\n"
      "  updated_at       INTEGER NOT NULL\n"
      ") STRICT;\n"
      "CREATE TABLE api_keys (\n"
      "  id           TEXT PRIMARY KEY,\n"
      "  app_id       TEXT NOT NULL REFERENCES apps(id),\n"
      "  name         TEXT NOT NULL,\n"
      "  role         TEXT NOT NULL CHECK (role IN ('ADMIN', 'INGEST', 'READONLY')),\n"
      "  key_hash     BLOB NOT NULL UNIQUE,\n"
      "  created_at   INTEGER NOT NULL,\n"
      "  last_used_at INTEGER,\n"
      "  revoked_at   INTEGER\n"
      ") STRICT;\n"
      "CREATE INDEX api_keys_app ON api_keys (app_id, created_at);\n"
      "CREATE TABLE users (\n"
      "  app_id     TEXT NOT NULL REFERENCES apps(id),\n"
      "  user_id    TEXT NOT NULL,\n"
      "  attributes TEXT NOT NULL DEFAULT '{}',\n"
      "  created_at INTEGER NOT NULL,\n"
      "  updated_at INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, user_id)\n"
      ") STRICT, WITHOUT ROWID;\n", false },
    /* Events carry their outcome and effects in their own row, keyed by (app, idempotency
     * key) without a rowid: one B-tree insert per event (a rowid table with a unique index
     * took two; the engine thread spent 12 % less per batched event without it).
     * Nonces are kept until their signature's timestamp leaves the tolerance window; replays
     * are detected in memory (engine/nonces.h), so the table is only appended to (no index:
     * one on the random nonce would dirty a random page per insert) and read at start; rows
     * are forgotten from its oldest end (since migration 18, by an index on their expiry). */
    { 3, "events_nonces",
      "CREATE TABLE events (\n"
      "  app_id          TEXT NOT NULL,\n"
      "  idempotency_key TEXT NOT NULL,\n"
      "  user_id         TEXT NOT NULL,\n"
      "  event_type      TEXT NOT NULL,\n"
      "  metadata        TEXT,\n"
      "  occurred_at     INTEGER NOT NULL,\n"
      "  received_at     INTEGER NOT NULL,\n"
      "  processed_at    INTEGER,\n"
      "  status          TEXT NOT NULL CHECK (status IN ('RECEIVED', 'PROCESSED', 'FAILED')),\n"
      "  error           TEXT,\n"
      "  effects         TEXT,\n"
      "  PRIMARY KEY (app_id, idempotency_key)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "CREATE TABLE nonces (\n"
      "  app_id     TEXT NOT NULL,\n"
      "  nonce      TEXT NOT NULL,\n"
      "  expires_at INTEGER NOT NULL\n"
      ") STRICT;\n", false },
    /* The game model (engine/): rules, achievements and seasons are JSON documents keyed by
     * (app, kind, id), compiled by the engine when loaded. A user's game state (XP per track,
     * balances, streaks, achievement claims, rule caps) is one JSON row written once per batch
     * in which it changed; the ledger keeps a row per XP or currency change, numbered per user
     * (seq) so a page of it is one range scan. Spends with an idempotency key point at their
     * ledger row. */
    { 4, "game_model",
      "CREATE TABLE definitions (\n"
      "  app_id     TEXT NOT NULL,\n"
      "  kind       TEXT NOT NULL CHECK (kind IN ('rule', 'achievement', 'season')),\n"
      "  id         TEXT NOT NULL,\n"
      "  body       TEXT NOT NULL,\n"
      "  created_at INTEGER NOT NULL,\n"
      "  updated_at INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, kind, id)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "CREATE TABLE game_users (\n"
      "  app_id     TEXT NOT NULL,\n"
      "  user_id    TEXT NOT NULL,\n"
      "  state      TEXT NOT NULL,\n"
      "  updated_at INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, user_id)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "CREATE TABLE ledger (\n"
      "  app_id        TEXT NOT NULL,\n"
      "  user_id       TEXT NOT NULL,\n"
      "  seq           INTEGER NOT NULL,\n"
      "  id            TEXT NOT NULL,\n"
      "  kind          TEXT NOT NULL CHECK (kind IN ('xp', 'currency')),\n"
      "  name          TEXT NOT NULL,\n"
      "  amount        INTEGER NOT NULL,\n"
      "  balance_after INTEGER NOT NULL,\n"
      "  reason        TEXT NOT NULL,\n"
      "  source        TEXT,\n"
      "  ref           TEXT,\n"
      "  metadata      TEXT,\n"
      "  created_at    INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, user_id, seq)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "CREATE TABLE spend_keys (\n"
      "  app_id          TEXT NOT NULL,\n"
      "  idempotency_key TEXT NOT NULL,\n"
      "  user_id         TEXT NOT NULL,\n"
      "  seq             INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, idempotency_key)\n"
      ") STRICT, WITHOUT ROWID;\n", false },
    /* Leaderboards and leagues (engine/boards.h): a board is one (app, metric, period) with a
     * small integer id, so that a score row is short and a board's rows are one range; scores
     * are added to once per batch per (board, user), and `at` is when the user reached the
     * score. updated_at tells start-up which boards are recent enough to load. A league keeps
     * its body as JSON beside the columns its queries need; a user is in at most one league
     * per season (season_key '' for leagues without one). Results are written when a league
     * is settled at its season's end. */
    { 5, "leaderboards_and_leagues",
      "CREATE TABLE boards (\n"
      "  id         INTEGER PRIMARY KEY,\n"
      "  app_id     TEXT NOT NULL,\n"
      "  metric     TEXT NOT NULL,\n"
      "  period     TEXT NOT NULL,\n"
      "  updated_at INTEGER NOT NULL,\n"
      "  UNIQUE (app_id, metric, period)\n"
      ") STRICT;\n"
      "CREATE TABLE board_scores (\n"
      "  board   INTEGER NOT NULL,\n"
      "  user_id TEXT NOT NULL,\n"
      "  score   INTEGER NOT NULL,\n"
      "  at      INTEGER NOT NULL,\n"
      "  PRIMARY KEY (board, user_id)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "CREATE TABLE leagues (\n"
      "  app_id     TEXT NOT NULL,\n"
      "  id         TEXT NOT NULL,\n"
      "  body       TEXT NOT NULL,\n"
      "  tier       INTEGER NOT NULL,\n"
      "  season_key TEXT NOT NULL,\n"
      "  created_at INTEGER NOT NULL,\n"
      "  updated_at INTEGER NOT NULL,\n"
      "  settled_at INTEGER,\n"
      "  PRIMARY KEY (app_id, id)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "CREATE INDEX leagues_by_tier ON leagues (app_id, season_key, tier);\n"
      "CREATE TABLE league_members (\n"
      "  app_id     TEXT NOT NULL,\n"
      "  league_id  TEXT NOT NULL,\n"
      "  user_id    TEXT NOT NULL,\n"
      "  season_key TEXT NOT NULL,\n"
      "  joined_at  INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, league_id, user_id),\n"
      "  UNIQUE (app_id, season_key, user_id)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "CREATE TABLE league_results (\n"
      "  app_id     TEXT NOT NULL,\n"
      "  league_id  TEXT NOT NULL,\n"
      "  user_id    TEXT NOT NULL,\n"
      "  rank       INTEGER NOT NULL,\n"
      "  score      INTEGER NOT NULL,\n"
      "  outcome    TEXT NOT NULL CHECK (outcome IN ('promoted', 'stayed', 'demoted')),\n"
      "  tier_after INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, league_id, user_id)\n"
      ") STRICT, WITHOUT ROWID;\n", false },
    /* Score changes are appended to a log in commit order (its pages fill one after another)
     * and folded into board_scores now and then, many changes per row: a batch no longer
     * rewrites a random page of board_scores per (board, user) it touched. */
    { 6, "board_log",
      "CREATE TABLE board_log (\n"
      "  seq     INTEGER PRIMARY KEY,\n"
      "  board   INTEGER NOT NULL,\n"
      "  user_id TEXT NOT NULL,\n"
      "  delta   INTEGER NOT NULL,\n"
      "  at      INTEGER NOT NULL\n"
      ") STRICT;\n", false },
    /* Durable jobs (src/jobs/): a queue claimed by the engine thread, the webhook attempts it
     * made, and the scheduler's runs, one row per (schedule, slot) so a slot runs once. */
    { 7, "jobs_webhooks_schedules",
      "ALTER TABLE apps ADD COLUMN webhook_events TEXT;\n"
      "CREATE TABLE jobs (\n"
      "  id           INTEGER PRIMARY KEY,\n"
      "  kind         TEXT NOT NULL,\n"
      "  app_id       TEXT NOT NULL,\n"
      "  order_key    TEXT,\n"
      "  payload      TEXT NOT NULL,\n"
      "  state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', "
      "'failed', 'dead')),\n"
      "  attempts     INTEGER NOT NULL DEFAULT 0,\n"
      "  max_attempts INTEGER NOT NULL,\n"
      "  run_at       INTEGER NOT NULL,\n"
      "  claimed_at   INTEGER,\n"
      "  lease_until  INTEGER,\n"
      "  last_error   TEXT,\n"
      "  created_at   INTEGER NOT NULL,\n"
      "  updated_at   INTEGER NOT NULL\n"
      ") STRICT;\n"
      "CREATE INDEX jobs_ready ON jobs (run_at, id) WHERE state IN ('queued', 'failed');\n"
      "CREATE INDEX jobs_open_order ON jobs (order_key, id) "
      "WHERE state IN ('queued', 'failed', 'running');\n"
      "CREATE INDEX jobs_by_app ON jobs (app_id, id);\n"
      "CREATE INDEX jobs_done ON jobs (updated_at) WHERE state = 'succeeded';\n"
      "CREATE TABLE webhook_deliveries (\n"
      "  seq         INTEGER PRIMARY KEY,\n"
      "  app_id      TEXT NOT NULL,\n"
      "  job_id      INTEGER NOT NULL,\n"
      "  webhook_id  TEXT NOT NULL,\n"
      "  delivery_id TEXT NOT NULL,\n"
      "  event_type  TEXT NOT NULL,\n"
      "  url         TEXT NOT NULL,\n"
      "  attempt     INTEGER NOT NULL,\n"
      "  status_code INTEGER NOT NULL,\n"
      "  latency_ms  INTEGER NOT NULL,\n"
      "  error       TEXT,\n"
      "  at          INTEGER NOT NULL\n"
      ") STRICT;\n"
      "CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, seq);\n"
      "CREATE TABLE schedule_runs (\n"
      "  schedule    TEXT NOT NULL,\n"
      "  slot        INTEGER NOT NULL,\n"
      "  ran_at      INTEGER NOT NULL,\n"
      "  PRIMARY KEY (schedule, slot)\n"
      ") STRICT, WITHOUT ROWID;\n", false },
    /* The audit trail: one row per change made through the API or by the system, written in
     * the transaction of the change. The rowid orders rows (newest first = highest id); each
     * filter of GET /audit has an index that ends in it, so a page is an index range scan.
     * Retention deletes by time. */
    { 8, "audit",
      "CREATE TABLE audit (\n"
      "  id            INTEGER PRIMARY KEY,\n"
      "  app_id        TEXT NOT NULL,\n"
      "  at            INTEGER NOT NULL,\n"
      "  actor         TEXT NOT NULL,\n"
      "  action        TEXT NOT NULL,\n"
      "  resource_type TEXT NOT NULL,\n"
      "  resource_id   TEXT NOT NULL,\n"
      "  before        TEXT,\n"
      "  after         TEXT,\n"
      "  request_id    TEXT\n"
      ") STRICT;\n"
      "CREATE INDEX audit_app ON audit (app_id, id);\n"
      "CREATE INDEX audit_actor ON audit (app_id, actor, id);\n"
      "CREATE INDEX audit_action ON audit (app_id, action, id);\n"
      "CREATE INDEX audit_resource ON audit (app_id, resource_type, resource_id, id);\n"
      "CREATE INDEX audit_at ON audit (at);\n", false },
    /* A closed season's final standings: the top of its board (and every prize winner),
     * written once, in the batch that closes the season. prize is JSON text or NULL. */
    { 9, "season results and resets",
      "CREATE TABLE season_results (\n"
      "  app_id      TEXT NOT NULL,\n"
      "  season_id   TEXT NOT NULL,\n"
      "  rank        INTEGER NOT NULL,\n"
      "  metric      TEXT NOT NULL,\n"
      "  user_id     TEXT NOT NULL,\n"
      "  score       INTEGER NOT NULL,\n"
      "  prize       TEXT,\n"
      "  closed_at   INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, season_id, rank)\n"
      ") STRICT, WITHOUT ROWID;\n"
      /* The users whose XP a season's resetXpOnStart has reset: a reset runs in chunks of
       * users across batches, and a user found here is not reset again. */
      "CREATE TABLE season_resets (\n"
      "  app_id      TEXT NOT NULL,\n"
      "  season_id   TEXT NOT NULL,\n"
      "  user_id     TEXT NOT NULL,\n"
      "  at          INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, season_id, user_id)\n"
      ") STRICT, WITHOUT ROWID;\n", false },
    /* Event retention (the event-retention schedule) deletes the oldest events by the time
     * they were received; the index grows at its end, as events arrive in time order. */
    { 10, "events_by_received_at",
      "CREATE INDEX events_received ON events (received_at);\n", false },
    /* Users' game state and ledger rows are appended to logs in commit order (their pages
     * fill one after another) and folded into game_users and ledger now and then: a batch no
     * longer rewrites a random page of each table per user it touched. The engine keeps in
     * memory which log rows are whose until they are folded (engine.c); start-up folds. */
    { 11, "game_logs",
      "CREATE TABLE state_log (\n"
      "  seq        INTEGER PRIMARY KEY,\n"
      "  app_id     TEXT NOT NULL,\n"
      "  user_id    TEXT NOT NULL,\n"
      "  state      TEXT NOT NULL,\n"
      "  updated_at INTEGER NOT NULL\n"
      ") STRICT;\n"
      "CREATE TABLE ledger_log (\n"
      "  lseq          INTEGER PRIMARY KEY,\n"
      "  app_id        TEXT NOT NULL,\n"
      "  user_id       TEXT NOT NULL,\n"
      "  seq           INTEGER NOT NULL,\n"
      "  id            TEXT NOT NULL,\n"
      "  kind          TEXT NOT NULL CHECK (kind IN ('xp', 'currency')),\n"
      "  name          TEXT NOT NULL,\n"
      "  amount        INTEGER NOT NULL,\n"
      "  balance_after INTEGER NOT NULL,\n"
      "  reason        TEXT NOT NULL,\n"
      "  source        TEXT,\n"
      "  ref           TEXT,\n"
      "  metadata      TEXT,\n"
      "  created_at    INTEGER NOT NULL\n"
      ") STRICT;\n", false },
    /* The score log holds one row per user a batch changed, with that user's changes on every
     * board ("board:delta:at", comma-separated): an XP award counts on four boards or more,
     * which were four rows. Rows not yet folded are carried over as they are. */
    { 12, "board_log_per_user",
      "CREATE TABLE board_log_by_user (\n"
      "  seq     INTEGER PRIMARY KEY,\n"
      "  user_id TEXT NOT NULL,\n"
      "  changes TEXT NOT NULL\n"
      ") STRICT;\n"
      "INSERT INTO board_log_by_user (seq, user_id, changes) "
      "SELECT seq, user_id, board || ':' || delta || ':' || at FROM board_log ORDER BY seq;\n"
      "DROP TABLE board_log;\n"
      "ALTER TABLE board_log_by_user RENAME TO board_log;\n", false },
    /* Ledger rows are no longer copied out of ledger_log, keyed by user, when the logs are
     * folded (a B-tree insert at a random place per row): they stay where they were written,
     * and a fold lists each user's new rows in one ledger_index row, in seq order. The ledger
     * table keeps the rows earlier versions folded into it; meta's 'ledger_indexed_through'
     * (absent: 0) is the last ledger_log row indexed. */
    { 13, "ledger_index",
      "CREATE TABLE ledger_index (\n"
      "  app_id    TEXT NOT NULL,\n"
      "  user_id   TEXT NOT NULL,\n"
      "  first_seq INTEGER NOT NULL,\n"
      "  lseqs     TEXT NOT NULL,\n"
      "  PRIMARY KEY (app_id, user_id, first_seq)\n"
      ") STRICT, WITHOUT ROWID;\n", false },
    /* A CHECK (or a partial index's WHERE) with an IN list of three or more values builds a
     * temporary B-tree of the list every time a row is checked: 2 of the 5 microseconds of an
     * event row's insert. The same conditions as comparisons joined by OR cost nothing of the
     * kind; they hold for the same rows, so only the definitions change. Every store's text
     * of them comes from the migrations above, word for word; were one to differ, its
     * definition would stay as it is, still correct, and the open-jobs queries (written to
     * match the new index condition) would scan the table instead of using the index. */
    { 14, "check_constraints_without_in_lists",
      "UPDATE sqlite_schema SET sql = replace(sql, "
      "'CHECK (status IN (''RECEIVED'', ''PROCESSED'', ''FAILED''))', "
      "'CHECK (status = ''RECEIVED'' OR status = ''PROCESSED'' OR status = ''FAILED'')') "
      "WHERE type = 'table' AND name = 'events';\n"
      "UPDATE sqlite_schema SET sql = replace(sql, "
      "'CHECK (state IN (''queued'', ''running'', ''succeeded'', ''failed'', ''dead''))', "
      "'CHECK (state = ''queued'' OR state = ''running'' OR state = ''succeeded'' OR "
      "state = ''failed'' OR state = ''dead'')') "
      "WHERE type = 'table' AND name = 'jobs';\n"
      "UPDATE sqlite_schema SET sql = replace(sql, "
      "'WHERE state IN (''queued'', ''failed'', ''running'')', "
      "'WHERE state = ''queued'' OR state = ''failed'' OR state = ''running''') "
      "WHERE type = 'index' AND name = 'jobs_open_order';\n",
      true },
    /* A write to the ledger (an event's XP and currency changes, a grant, a spend) is one row
     * holding its entries as JSON, not one row per entry: an event of a typical rule set wrote
     * four. Rows of ledger_log become rows of one entry, keeping their place (lseq), so the
     * ledger index stays valid. */
    { 15, "ledger_rows",
      "CREATE TABLE ledger_rows (\n"
      "  lseq      INTEGER PRIMARY KEY,\n"
      "  app_id    TEXT NOT NULL,\n"
      "  user_id   TEXT NOT NULL,\n"
      "  first_seq INTEGER NOT NULL,\n"
      "  entries   TEXT NOT NULL\n"
      ") STRICT;\n"
      "INSERT INTO ledger_rows (lseq, app_id, user_id, first_seq, entries) "
      "SELECT lseq, app_id, user_id, seq, json_array(json_array(seq, id, kind, name, amount, "
      "balance_after, reason, source, ref, metadata, created_at)) FROM ledger_log ORDER BY lseq;\n"
      "DROP TABLE ledger_log;\n",
      false },
    /* Events are appended in the engine's order (seq, the rowid): an insert goes to the end of
     * one B-tree, with no string key to place and no index on the time of receipt (which
     * retention needs no more: seq follows it). A key the server gives carries its event's
     * seq (core/uuid.h, uuid_v7_seq), so it needs no index; a key the client chose goes into
     * event_keys. Events of earlier versions keep their keys there. */
    { 16, "events_by_seq",
      "CREATE TABLE events_by_seq (\n"
      "  seq             INTEGER PRIMARY KEY,\n"
      "  app_id          TEXT NOT NULL,\n"
      "  idempotency_key TEXT NOT NULL,\n"
      "  user_id         TEXT NOT NULL,\n"
      "  event_type      TEXT NOT NULL,\n"
      "  metadata        TEXT,\n"
      "  occurred_at     INTEGER NOT NULL,\n"
      "  received_at     INTEGER NOT NULL,\n"
      "  processed_at    INTEGER,\n"
      "  status          TEXT NOT NULL CHECK (status = 'RECEIVED' OR status = 'PROCESSED' OR "
      "status = 'FAILED'),\n"
      "  error           TEXT,\n"
      "  effects         TEXT\n"
      ") STRICT;\n"
      "CREATE TABLE event_keys (\n"
      "  app_id          TEXT NOT NULL,\n"
      "  idempotency_key TEXT NOT NULL,\n"
      "  seq             INTEGER NOT NULL,\n"
      "  PRIMARY KEY (app_id, idempotency_key)\n"
      ") STRICT, WITHOUT ROWID;\n"
      "INSERT INTO events_by_seq (app_id, idempotency_key, user_id, event_type, metadata, "
      "occurred_at, received_at, processed_at, status, error, effects) "
      "SELECT app_id, idempotency_key, user_id, event_type, metadata, occurred_at, received_at, "
      "processed_at, status, error, effects FROM events "
      "ORDER BY received_at, app_id, idempotency_key;\n"
      "INSERT INTO event_keys (app_id, idempotency_key, seq) "
      "SELECT app_id, idempotency_key, seq FROM events_by_seq;\n"
      "DROP TABLE events;\n"
      "ALTER TABLE events_by_seq RENAME TO events;\n",
      false },
    /* The state log holds one row per batch: the states of every user the batch changed, as
     * a JSON array of [app, user, state, updated_at] (a batch of single events wrote a row
     * for each of its users, a batch of thousands of events thousands). Rows of the earlier
     * form become one-entry rows at the same place; a state that is not JSON stays a string,
     * as it was. */
    { 17, "state_log_rows",
      "CREATE TABLE state_rows (\n"
      "  seq    INTEGER PRIMARY KEY,\n"
      "  states TEXT NOT NULL\n"
      ") STRICT;\n"
      "INSERT INTO state_rows (seq, states) SELECT seq, json_array(json_array(app_id, user_id, "
      "CASE WHEN json_valid(state) THEN json(state) ELSE state END, updated_at)) "
      "FROM state_log ORDER BY seq;\n"
      "DROP TABLE state_log;\n"
      "ALTER TABLE state_rows RENAME TO state_log;\n",
      false },
    /* Nonces are one row per batch now (store_nonces_record), few enough for an index on
     * their expiry: retention deletes exactly the expired rows, wherever they are, instead of
     * reading the oldest thousands every tick to find them, and start-up reads only the live
     * ones. */
    { 18, "nonces_expiry",
      "CREATE INDEX nonces_expiry ON nonces (expires_at);\n", false },
    /* An event's XP and currency entries are read from its row, whose effects hold them,
     * instead of being written again as a ledger row: ledger_seq is the user's seq of the
     * first (NULL: the event has none). In the ledger index such a row's place is the event's
     * seq, negated. Before retention deletes such an event, it copies what the entries are
     * read from to ledger_moved, where that place finds it; it deletes only events whose
     * entries are indexed (meta's 'ledger_events_indexed_through', to begin with every event
     * before this migration: they have none). Seqs are never given again: meta's
     * 'events_deleted_through' is the last seq retention deleted. */
    { 19, "event_ledger",
      "ALTER TABLE events ADD COLUMN ledger_seq INTEGER;\n"
      "CREATE TABLE ledger_moved (\n"
      "  event_seq       INTEGER PRIMARY KEY,\n"
      "  idempotency_key TEXT NOT NULL,\n"
      "  processed_at    INTEGER NOT NULL,\n"
      "  ledger_seq      INTEGER NOT NULL,\n"
      "  effects         TEXT\n"
      ") STRICT;\n"
      "INSERT INTO meta (key, value) SELECT 'ledger_events_indexed_through', "
      "CAST(coalesce(max(seq), 0) AS TEXT) FROM events;\n", false },
    /* An event no longer writes its user's state to the state log: a state in the store says
     * the last event it holds (events_through), and the events after it are applied again
     * when the logs are read back (store_game_replay). Rows logged before this migration hold
     * every event stored so far (every batch logged its users), and a state in game_users
     * every event before its next row in the log: 0 says so, as no event of its user comes
     * between. */
    { 20, "game_replay",
      "ALTER TABLE state_log ADD COLUMN events_through INTEGER NOT NULL DEFAULT 0;\n"
      "ALTER TABLE game_users ADD COLUMN events_through INTEGER NOT NULL DEFAULT 0;\n"
      "UPDATE state_log SET events_through = (SELECT max(coalesce((SELECT max(seq) FROM "
      "events), 0), coalesce((SELECT CAST(value AS INTEGER) FROM meta "
      "WHERE key = 'events_deleted_through'), 0)));\n", false },
    /* An event the engine applied keeps its effects in the compact form (core/fxpack.h), in
     * fx, and NULL in effects, which keeps those of the rows written before (JSON). What the
     * ledger reads of an event that retention deletes goes with it. */
    { 21, "event_fx",
      "ALTER TABLE events ADD COLUMN fx BLOB;\n"
      "ALTER TABLE ledger_moved ADD COLUMN fx BLOB;\n", false },
};

const int sqlite_migrations_count = (int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]));
