/* router.h: the HTTP handler of a logd serving several logs (--config). A
 * request for /NAME/REST goes to log NAME's api as /REST (so /2027h1/ct/v1/
 * add-chain is that log's add-chain); the process answers three paths itself:
 *
 *   GET /healthz  200 {"status":"ok"}: the process is up and answering.
 *   GET /readyz   200 when every open log's latest STH is younger than its MMD
 *                 and its storage was opened writable (read-only logs only need
 *                 readable storage), and a published log's store keeps up
 *                 (router_set_publisher); else 503. The body lists each log:
 *                 {"ready":false,"logs":[{"name":..,"state":..,"ready":..,
 *                 "sth_age_s":..,"mmd_s":..,"reason":".."}]}.
 *   GET /metrics  the process's exposition (logd/metrics.h): build info and the
 *                 transport once, then each log's families with a log="NAME"
 *                 label (each family's # HELP / # TYPE once).
 * Anything else is a 404 JSON error naming the logs' prefixes. */
#ifndef MN_LOGD_ROUTER_H
#define MN_LOGD_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

struct store;
struct router;

/* router_new returns a router for up to |cap| logs, or NULL on OOM. */
struct router *router_new(size_t cap);
/* router_add adds log |name| (borrowed, like everything here; must outlive the
 * router) served by |api|. |st| and |writable|, |mmd_s| and |open| are for
 * /readyz. Returns 0 or MN_EINVAL (full). Call before serving. */
int router_add(struct router *r, const char *name, struct api *api, struct store *st,
	       int writable, uint64_t mmd_s, int open);
/* router_set_publisher: log |name| is published by |pub| (logd/publish.h,
 * borrowed): /readyz then says not ready while committed entries are not
 * published and the object store fails, or they have waited an MMD. */
struct publisher;
void router_set_publisher(struct router *r, const char *name, struct publisher *pub);
/* router_set_witness: log |name| collects cosignatures with |wit|
 * (logd/cosign.h, borrowed): in wait mode /readyz then says not ready while
 * the served checkpoint's tree head is an MMD old or older (or none is served
 * an MMD after start). */
struct cosign;
void router_set_witness(struct router *r, const char *name, struct cosign *wit);
/* router_handle is an http_handler_fn (logd/http.h) with |ctx| the router. */
int router_handle(void *ctx, const struct api_request *req, struct api_response *resp,
		  api_done_fn done, void *done_ctx);
void router_free(struct router *r);

#endif
