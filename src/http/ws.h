/* WebSocket sessions (RFC 6455) on the HTTP server's connections, framed by wslay, speaking
 * the real-time protocol (realtime/proto.h) with the hub (realtime/hub.h).
 *
 * A GET /ws handler authenticates the request, then calls ws_accept: it checks the upgrade
 * headers and the connection limits, answers 101 and hands the connection to a session
 * (http_request_upgrade). From then on the session lives on the I/O thread that accepted the
 * connection: it reads commands, answers them, and queues the hub's pushes.
 *
 * Back-pressure: what a session has not written yet (its send queue plus the bytes the
 * transport holds) is bounded by the hub's send_queue_bytes. A push that would pass it closes
 * the connection with 4008 "slow consumer" and nothing more is queued; so do replies that pass
 * it while the transport still holds an earlier write (a peer that sends commands but does
 * not read their answers). Other close codes:
 * 4001 "token expired" (unless refreshed in time), 1001 on shutdown, 1003 for binary frames,
 * 1009 for a message over the size limit; a peer that does not answer a ping within the
 * interval is dropped. */
#ifndef REACTOR_HTTP_WS_H
#define REACTOR_HTTP_WS_H

#include <stdint.h>

#include "http/http.h"
#include "realtime/hub.h"
#include "realtime/token.h"

#define WS_CLOSE_TOKEN_EXPIRED 4001
#define WS_CLOSE_SLOW_CONSUMER 4008

/* Upgrades `req` for app `app_id`: `claims` for a client token (NULL for an API key). Answers
 * 400/426 for a request that is not a valid upgrade, 503 or 429 over the connection limits,
 * otherwise 101. */
void ws_accept(struct http_request *req, struct rt_hub *hub, const char *app_id,
               const struct rt_claims *claims);

/* The hub's callbacks (rt_hub_set_server). */
bool ws_deliver(void *conn, struct rt_msg *m);
void ws_prefetch(const void *conn, unsigned stage);
void ws_sweep(struct rt_link *link, int64_t now_ms);

#endif
