/* router.c: several logs behind one HTTP server (router.h). */
#include "logd/router.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "logd/publish.h"
#include "logd/cosign.h"
#include "storage/storage.h"

struct route_log {
	const char *name;
	size_t name_len;
	struct api *api;
	struct store *st;
	int writable, open;
	uint64_t mmd_s;
	struct publisher *pub;
	struct cosign *wit;
};

struct router {
	struct route_log *logs;
	size_t num, cap;
};

struct router *router_new(size_t cap)
{
	struct router *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->logs = calloc(cap > 0 ? cap : 1, sizeof(*r->logs));
	if (r->logs == NULL) {
		free(r);
		return NULL;
	}
	r->cap = cap;
	return r;
}

int router_add(struct router *r, const char *name, struct api *api, struct store *st,
	       int writable, uint64_t mmd_s, int open)
{
	struct route_log *l;

	if (r->num == r->cap)
		return MN_EINVAL;
	l = &r->logs[r->num++];
	l->name = name;
	l->name_len = strlen(name);
	l->api = api;
	l->st = st;
	l->writable = writable;
	l->mmd_s = mmd_s;
	l->open = open;
	return 0;
}

void router_set_publisher(struct router *r, const char *name, struct publisher *pub)
{
	for (size_t i = 0; i < r->num; i++)
		if (strcmp(r->logs[i].name, name) == 0)
			r->logs[i].pub = pub;
}

void router_set_witness(struct router *r, const char *name, struct cosign *wit)
{
	for (size_t i = 0; i < r->num; i++)
		if (strcmp(r->logs[i].name, name) == 0)
			r->logs[i].wit = wit;
}

void router_free(struct router *r)
{
	if (r == NULL)
		return;
	free(r->logs);
	free(r);
}

static int path_is(const struct api_request *req, const char *p)
{
	return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

/* --- /metrics ------------------------------------------------------------- */

/* metrics: every log's api writes the whole exposition (logd/metrics.h
 * logd_metrics_fn over all the logs, each family once, a log="NAME" label on
 * each log's samples), so the first log's answer is the process's. */
static void metrics(struct router *r, struct api_response *resp)
{
	struct api_request q = {.method = API_GET, .path = "/metrics", .path_len = 8};

	if (r->num == 0 || api_handle(r->logs[0].api, &q, resp, NULL, NULL) != API_DONE)
		api_response_error(resp, 500, "internal", "cannot write the metrics");
}

/* --- /readyz -------------------------------------------------------------- */

/* cosign_ready: 0 with the reason when, in wait mode, the served checkpoint
 * is an MMD old or older. */
static int cosign_ready(struct cosign *w, uint64_t mmd_s, char *reason, size_t len)
{
	struct cosign_status ws;

	cosign_status(w, &ws);
	if (ws.fail_open || ws.age_ms < mmd_s * 1000)
		return 1;
	if (ws.served)
		snprintf(reason, len, "the witnessed checkpoint (size %" PRIu64 ") is %" PRIu64
			 " s old, not younger than the MMD: the witnesses do not meet the quorum",
			 ws.served_size, ws.age_ms / 1000);
	else
		snprintf(reason, len, "no witnessed checkpoint %" PRIu64 " s after start: the "
			 "witnesses do not meet the quorum", ws.age_ms / 1000);
	return 0;
}

static void readyz(struct router *r, struct api_response *resp)
{
	size_t cap = 256 + r->num * 512, off = 0;
	char *buf = malloc(cap);
	uint64_t now = mn_now_ms();
	int all = 1;

	if (buf == NULL) {
		api_response_error(resp, 500, "internal", "out of memory");
		return;
	}
	off += (size_t)snprintf(buf, cap, "{\"logs\":[");
	for (size_t i = 0; i < r->num; i++) {
		struct route_log *l = &r->logs[i];
		struct store_reader *rd = NULL;
		struct store_sth sth;
		char reason[160] = "";
		int ret, ready = 1;
		uint64_t age_s = 0;

		ret = store_read_begin(l->st, &rd);
		if (ret == 0) {
			ret = store_r_sth(rd, &sth);
			store_read_end(rd);
		}
		if (ret != 0) {
			ready = 0;
			snprintf(reason, sizeof(reason), "storage is not readable: %s",
				 mn_strerror(ret));
		} else {
			age_s = now > sth.timestamp ? (now - sth.timestamp) / 1000 : 0;
			if (l->open && !l->writable) {
				ready = 0;
				snprintf(reason, sizeof(reason), "storage is read-only: the log "
					 "cannot append or re-sign");
			} else if (l->open && now > sth.timestamp &&
				   now - sth.timestamp >= l->mmd_s * 1000) {
				ready = 0;
				snprintf(reason, sizeof(reason), "latest STH is %" PRIu64
					 " s old, not younger than the MMD (%" PRIu64 " s)",
					 age_s, l->mmd_s);
			} else if (l->wit != NULL && !cosign_ready(l->wit, l->mmd_s, reason,
								     sizeof(reason))) {
				ready = 0;
			} else if (l->pub != NULL) {
				struct publish_status ps;
				publish_status(l->pub, &ps);
				if (ps.tree_size > ps.published &&
				    (ps.failing || ps.lag_ms >= l->mmd_s * 1000)) {
					ready = 0;
					snprintf(reason, sizeof(reason), "publishing is %" PRIu64
						 " entries and %" PRIu64 " s behind%s",
						 ps.tree_size - ps.published, ps.lag_ms / 1000,
						 ps.failing ? ": the object store fails" : "");
				}
			}
		}
		all &= ready;
		off += (size_t)snprintf(buf + off, cap - off,
					"%s{\"name\":\"%s\",\"state\":\"%s\",\"ready\":%s,"
					"\"sth_age_s\":%" PRIu64 ",\"mmd_s\":%" PRIu64 "%s%s%s}",
					i > 0 ? "," : "", l->name, l->open ? "open" : "read-only",
					ready ? "true" : "false", age_s, l->mmd_s,
					ready ? "" : ",\"reason\":\"", reason, ready ? "" : "\"");
	}
	snprintf(buf + off, cap - off, "],\"ready\":%s}", all ? "true" : "false");
	resp->status = all ? 200 : 503;
	resp->content_type = NULL;
	resp->body = (uint8_t *)buf;
	resp->body_len = strlen(buf);
	if (!all)
		resp->retry_after = 5;
}

static void healthz(struct api_response *resp)
{
	static const char body[] = "{\"status\":\"ok\"}";

	resp->body = malloc(sizeof(body) - 1);
	if (resp->body == NULL) {
		api_response_error(resp, 503, "unavailable", "out of memory");
		return;
	}
	memcpy(resp->body, body, sizeof(body) - 1);
	resp->body_len = sizeof(body) - 1;
	resp->status = 200;
}

/* --- dispatch ------------------------------------------------------------- */

/* The api may answer later; the request it was given must live until then,
 * so a log's request (the prefix stripped) lives here until done. */
struct fwd {
	struct api_request req;
	api_done_fn done;
	void *done_ctx;
};

static void fwd_done(void *ctx, struct api_response *resp)
{
	struct fwd *f = ctx;
	api_done_fn done = f->done;
	void *done_ctx = f->done_ctx;

	free(f);
	done(done_ctx, resp);
}

int router_handle(void *ctx, const struct api_request *req, struct api_response *resp,
		  api_done_fn done, void *done_ctx)
{
	struct router *r = ctx;
	struct fwd *f;
	int ret;

	memset(resp, 0, sizeof(*resp));
	if (path_is(req, "/healthz") || path_is(req, "/readyz") || path_is(req, "/metrics")) {
		if (req->method != API_GET) {
			api_response_error(resp, 405, "methodNotAllowed", "use GET");
			return API_DONE;
		}
		if (path_is(req, "/metrics"))
			metrics(r, resp);
		else if (path_is(req, "/readyz"))
			readyz(r, resp);
		else
			healthz(resp);
		return API_DONE;
	}
	for (size_t i = 0; i < r->num; i++) {
		struct route_log *l = &r->logs[i];
		if (req->path_len < 1 + l->name_len || req->path[0] != '/' ||
		    memcmp(req->path + 1, l->name, l->name_len) != 0)
			continue;
		if (req->path_len > 1 + l->name_len && req->path[1 + l->name_len] != '/')
			continue;
		f = malloc(sizeof(*f));
		if (f == NULL) {
			api_response_error(resp, 503, "unavailable", "out of memory");
			resp->retry_after = 1;
			return API_DONE;
		}
		f->req = *req;
		f->req.path = req->path + 1 + l->name_len;
		f->req.path_len = req->path_len - 1 - l->name_len;
		if (f->req.path_len == 0)
			f->req.path = "/", f->req.path_len = 1;
		f->done = done;
		f->done_ctx = done_ctx;
		ret = api_handle(l->api, &f->req, resp, fwd_done, f);
		if (ret != API_ASYNC)
			free(f);
		return ret;
	}
	{
		char msg[512];
		size_t off = (size_t)snprintf(msg, sizeof(msg), "unknown path; logs are served under");
		for (size_t i = 0; i < r->num && off < sizeof(msg); i++)
			off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%s /%s/",
						i > 0 ? "," : "", r->logs[i].name);
		api_response_error(resp, 404, "notFound", msg);
	}
	return API_DONE;
}
