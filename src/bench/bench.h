/* reactor bench: the load generator. It holds keep-alive connections to a Reactor (or any
 * HTTP server in health mode), sends requests back to back on each, and reports throughput
 * and latency percentiles.
 *
 * Modes: health (GET /health), events (POST /events, one signed event per request), batch
 * (POST /events/batch, --batch-size signed events per request), get (GET of the --path
 * given, in turn, with {USER} replaced by a user id as events mode names them, and --key as
 * x-api-key; any 2xx answer succeeds). Signed requests follow
 * ForgeEngine's scheme: x-signature = hex HMAC-SHA256(secret, "<ts>.<nonce>.<body>"), with a
 * fresh nonce for every request. One libuv loop on the calling thread; our HTTP parser. */
#ifndef REACTOR_BENCH_BENCH_H
#define REACTOR_BENCH_BENCH_H

/* argv excludes the "bench" word. Returns the process exit status: 0 when the run completed
 * (errors are reported, not fatal), 2 on bad options, 1 when nothing could be measured. */
int bench_main(int argc, char **argv);

#endif
