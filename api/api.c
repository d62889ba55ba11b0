/* api.c: routing, errors and metrics. The handlers are in ct.c. */
#include "api/api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "storage/storage.h"

#define NUM_STATUS 10
#define NUM_LAT 12
static const int statuses[NUM_STATUS] = {200, 400, 404, 405, 413, 429, 500, 503, 507, 0};
static const double lat_bounds[NUM_LAT - 1] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
					       0.005,  0.01,    0.025,  0.05,  0.1, 1.0};
static const char *const ep_names[EP_COUNT] = {
	"add-chain",       "add-pre-chain",     "get-sth",
	"get-sth-consistency", "get-proof-by-hash", "get-entries",
	"get-roots",       "get-entry-and-proof", "mn-info",
	"add-pgp",         "add-policy",        "get-certifiers",
	"mn-get-roots",    "lookup",            "resolve",
	"metrics",         "healthz",           "checkpoint",
	"tile",            "data-tile",         "issuer",
	"unknown"};

struct api {
	struct api_config cfg;
	pthread_mutex_t mu;
	uint64_t count[EP_COUNT][NUM_STATUS];
	uint64_t lat[EP_COUNT][NUM_LAT];
	double lat_sum[EP_COUNT];
};

struct api *api_new(const struct api_config *cfg)
{
	struct api *api = calloc(1, sizeof(*api));

	if (api == NULL)
		return NULL;
	api->cfg = *cfg;
	if (api->cfg.max_entries == 0)
		api->cfg.max_entries = 256;
	if (api->cfg.max_chain == 0)
		api->cfg.max_chain = 10;
	if (api->cfg.max_cert_bytes == 0)
		api->cfg.max_cert_bytes = 64 * 1024;
	pthread_mutex_init(&api->mu, NULL);
	return api;
}

void api_set_metrics_ctx(struct api *api, unsigned i, void *ctx)
{
	if (i < 4)
		api->cfg.metrics_ctx[i] = ctx;
}

void api_free(struct api *api)
{
	if (api == NULL)
		return;
	pthread_mutex_destroy(&api->mu);
	free(api);
}

const struct api_config *api__config(const struct api *api)
{
	return &api->cfg;
}

void api_response_free(struct api_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

void api_response_error(struct api_response *r, int status, const char *code,
			const char *message)
{
	struct cbb b;

	r->status = status;
	r->content_type = NULL;
	r->headers = NULL; /* an error is never cacheable as immutable */
	r->body = NULL;
	r->body_len = 0;
	if (!cbb_init(&b, 128, 4096) || !api__jraw(&b, "{\"error_code\": ") ||
	    !api__jstr(&b, code, strlen(code)) || !api__jraw(&b, ", \"error_message\": ") ||
	    !api__jstr(&b, message, strlen(message)) || !api__jraw(&b, "}") ||
	    !cbb_finish(&b, &r->body, &r->body_len)) {
		cbb_cleanup(&b);
		r->body = NULL;
		r->body_len = 0;
	}
}

int api__status_for_err(int err, const char **out_code)
{
	switch (err) {
	case MN_EMALFORMED:
	case MN_EINVAL:
	case MN_ERANGE:
		*out_code = "malformed";
		return 400;
	case MN_ETOOBIG:
		*out_code = "tooLarge";
		return 413;
	case MN_EBADCHAIN:
		*out_code = "badChain";
		return 400;
	case MN_EUNKNOWNANCHOR:
		*out_code = "unknownAnchor";
		return 400;
	case MN_EBADCERT:
		*out_code = "badCertificate";
		return 400;
	case MN_EBADSIG:
		/* a submitted signature that does not verify: the client's fault */
		*out_code = "badSignature";
		return 400;
	case MN_ENOTFOUND:
		*out_code = "notFound";
		return 404;
	case MN_EBUSY:
		*out_code = "busy";
		return 503;
	case MN_ESHUTDOWN:
		*out_code = "shuttingDown";
		return 503;
	case MN_ENOSPACE:
		*out_code = "storageFull";
		return 507;
	case MN_EREADONLY:
		*out_code = "storageReadOnly";
		return 503;
	case MN_ENOMEM:
		/* transient: a client retries a 503 (Retry-After), not a 400 */
		*out_code = "unavailable";
		return 503;
	default:
		*out_code = "internal";
		return 500;
	}
}

/* jansson 2.14 reports few of its allocation failures as such: most return
 * NULL with no error set (json_error_t untouched), and a string or key that
 * could not be copied reads as a syntax error. A syntax error is
 * deterministic, so an error is trusted only if a second parse fails the
 * same way; a second parse that succeeds is used. */
struct json_t *api__json_loadb(const void *buf, size_t len, size_t flags, int *err)
{
	json_error_t e1, e2;
	json_t *j;

	memset(&e1, 0, sizeof(e1));
	memset(&e2, 0, sizeof(e2));
	*err = 0;
	j = json_loadb(buf, len, flags, &e1);
	if (j != NULL)
		return j;
	*err = MN_ENOMEM;
	if (e1.text[0] == '\0' || json_error_code(&e1) == json_error_out_of_memory)
		return NULL;
	j = json_loadb(buf, len, flags, &e2);
	if (j != NULL) {
		*err = 0;
		return j;
	}
	if (json_error_code(&e1) == json_error_code(&e2) && e1.position == e2.position &&
	    strcmp(e1.text, e2.text) == 0)
		*err = MN_EMALFORMED;
	return NULL;
}

void api__count(struct api *api, enum api_endpoint ep, int status, uint64_t ns)
{
	unsigned s, l = 0;
	double secs = (double)ns / 1e9;

	for (s = 0; s < NUM_STATUS - 1 && statuses[s] != status; s++)
		;
	while (l < NUM_LAT - 1 && secs > lat_bounds[l])
		l++;
	pthread_mutex_lock(&api->mu);
	api->count[ep][s]++;
	api->lat[ep][l]++;
	api->lat_sum[ep] += secs;
	pthread_mutex_unlock(&api->mu);
}

#define METRICS_CAP (256u << 10)

static void metrics(struct api *api, struct api_response *resp)
{
	char *buf = malloc(METRICS_CAP);
	size_t off = 0;
	unsigned e, s, l;

	if (buf == NULL) {
		api_response_error(resp, 500, "internal", "out of memory");
		return;
	}
#define P(...)                                                                   \
	do {                                                                     \
		if (off < METRICS_CAP) {                                         \
			int n_ = snprintf(buf + off, METRICS_CAP - off, __VA_ARGS__); \
			off += n_ > 0 ? (size_t)n_ : 0;                          \
		}                                                                \
	} while (0)
	pthread_mutex_lock(&api->mu);
	P("# TYPE mn_api_requests_total counter\n");
	for (e = 0; e < EP_COUNT; e++)
		for (s = 0; s < NUM_STATUS; s++)
			if (api->count[e][s] != 0) {
				if (statuses[s] != 0)
					P("mn_api_requests_total{endpoint=\"%s\",status=\"%d\"} %" PRIu64 "\n",
					  ep_names[e], statuses[s], api->count[e][s]);
				else
					P("mn_api_requests_total{endpoint=\"%s\",status=\"other\"} %" PRIu64 "\n",
					  ep_names[e], api->count[e][s]);
			}
	P("# TYPE mn_api_request_duration_seconds histogram\n");
	for (e = 0; e < EP_COUNT; e++) {
		uint64_t cum = 0;
		for (l = 0; l < NUM_LAT; l++)
			cum += api->lat[e][l];
		if (cum == 0)
			continue;
		cum = 0;
		for (l = 0; l < NUM_LAT; l++) {
			cum += api->lat[e][l];
			if (l < NUM_LAT - 1)
				P("mn_api_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %" PRIu64 "\n",
				  ep_names[e], lat_bounds[l], cum);
			else
				P("mn_api_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
				  ep_names[e], cum);
		}
		P("mn_api_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep_names[e],
		  api->lat_sum[e]);
		P("mn_api_request_duration_seconds_count{endpoint=\"%s\"} %" PRIu64 "\n",
		  ep_names[e], cum);
	}
	pthread_mutex_unlock(&api->mu);
	if (api->cfg.store != NULL) {
		struct store_stats st;
		store_get_stats(api->cfg.store, &st);
		P("# TYPE mn_store_map_bytes gauge\nmn_store_map_bytes %" PRIu64 "\n", st.map_size);
		P("# TYPE mn_store_used_bytes gauge\nmn_store_used_bytes %" PRIu64 "\n", st.used_bytes);
		P("# TYPE mn_store_file_bytes gauge\nmn_store_file_bytes %" PRIu64 "\n", st.file_bytes);
	}
#undef P
	for (unsigned i = 0; i < 4; i++)
		if (api->cfg.metrics[i] != NULL && off < METRICS_CAP)
			off += api->cfg.metrics[i](api->cfg.metrics_ctx[i], buf + off,
						   METRICS_CAP - off);
	if (off > METRICS_CAP)
		off = METRICS_CAP;
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	resp->body = (uint8_t *)buf;
	resp->body_len = off;
}

static void healthz(struct api *api, struct api_response *resp)
{
	struct store_reader *rd;
	struct cbb b;

	if (store_read_begin(api->cfg.store, &rd) != 0) {
		api_response_error(resp, 503, "unavailable", "storage is not readable");
		return;
	}
	if (!cbb_init(&b, 64, 256) || !api__jraw(&b, "{\"status\":\"ok\",\"tree_size\":") ||
	    !api__ju64(&b, store_r_tree_size(rd)) || !api__jraw(&b, "}"))
		cbb_cleanup(&b);
	store_read_end(rd);
	api__finish_json(resp, 200, &b);
}

struct route {
	const char *path;
	enum api_endpoint ep;
	enum api_method method;
};

static const struct route routes[] = {
	{"/ct/v1/add-chain", EP_ADD_CHAIN, API_POST},
	{"/ct/v1/add-pre-chain", EP_ADD_PRE_CHAIN, API_POST},
	{"/ct/v1/get-sth", EP_GET_STH, API_GET},
	{"/ct/v1/get-sth-consistency", EP_GET_STH_CONSISTENCY, API_GET},
	{"/ct/v1/get-proof-by-hash", EP_GET_PROOF_BY_HASH, API_GET},
	{"/ct/v1/get-entries", EP_GET_ENTRIES, API_GET},
	{"/ct/v1/get-roots", EP_GET_ROOTS, API_GET},
	{"/ct/v1/get-entry-and-proof", EP_GET_ENTRY_AND_PROOF, API_GET},
	{"/mn/v1/info", EP_MN_INFO, API_GET},
	{"/mn/v1/add-pgp", EP_MN_ADD_PGP, API_POST},
	{"/mn/v1/add-policy", EP_MN_ADD_POLICY, API_POST},
	{"/mn/v1/get-certifiers", EP_MN_GET_CERTIFIERS, API_GET},
	{"/mn/v1/get-roots", EP_MN_GET_ROOTS, API_GET},
	{"/mn/v1/lookup", EP_MN_LOOKUP, API_GET},
	{"/mn/v1/resolve", EP_MN_RESOLVE, API_GET},
	{"/metrics", EP_METRICS, API_GET},
	{"/healthz", EP_HEALTHZ, API_GET},
};

int api_handle(struct api *api, const struct api_request *req,
	       struct api_response *resp, api_done_fn done, void *done_ctx)
{
	const struct route *rt = NULL;
	struct api_params q;
	uint64_t t0 = mn_mono_ns();
	enum api_endpoint ep = EP_UNKNOWN;
	int ret = API_DONE;

	memset(resp, 0, sizeof(*resp));
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strlen(routes[i].path) == req->path_len &&
		    memcmp(routes[i].path, req->path, req->path_len) == 0) {
			rt = &routes[i];
			break;
		}
	if (rt == NULL && api__static_route(req->path, req->path_len, &ep)) {
		if (req->method != API_GET)
			api_response_error(resp, 405, "methodNotAllowed", "use GET");
		else
			api__static(api, ep, req, resp);
		goto out;
	}
	if (rt == NULL) {
		api_response_error(resp, 404, "notFound", "unknown path");
		goto out;
	}
	ep = rt->ep;
	if (req->method != rt->method) {
		api_response_error(resp, 405, "methodNotAllowed",
				   rt->method == API_GET ? "use GET" : "use POST");
		goto out;
	}
	if (api__parse_query(&q, req->query, req->query_len) != 0) {
		api_response_error(resp, 400, "malformed", "malformed query string");
		goto out;
	}
	switch (ep) {
	case EP_ADD_CHAIN:
	case EP_ADD_PRE_CHAIN:
		ret = api__add_chain(api, req, resp, ep == EP_ADD_PRE_CHAIN, done, done_ctx);
		if (ret == API_ASYNC)
			return ret; /* counted by ct.c when it completes */
		break;
	case EP_MN_ADD_PGP:
		ret = api__add_pgp(api, req, resp, done, done_ctx);
		if (ret == API_ASYNC)
			return ret;
		break;
	case EP_MN_ADD_POLICY:
		ret = api__add_policy(api, req, resp, done, done_ctx);
		if (ret == API_ASYNC)
			return ret;
		break;
	case EP_MN_LOOKUP:
		api__lookup(api, &q, resp);
		break;
	case EP_MN_RESOLVE:
		api__resolve(api, &q, resp);
		break;
	case EP_MN_GET_CERTIFIERS:
		api__get_certifiers(api, resp);
		break;
	case EP_GET_STH:
		api__get_sth(api, &q, resp);
		break;
	case EP_GET_STH_CONSISTENCY:
		api__get_sth_consistency(api, &q, resp);
		break;
	case EP_GET_PROOF_BY_HASH:
		api__get_proof_by_hash(api, &q, resp);
		break;
	case EP_GET_ENTRIES:
		api__get_entries(api, &q, resp);
		break;
	case EP_GET_ROOTS:
		api__get_roots(api, &q, resp);
		break;
	case EP_GET_ENTRY_AND_PROOF:
		api__get_entry_and_proof(api, &q, resp);
		break;
	case EP_MN_INFO:
		api__info(api, resp);
		break;
	case EP_MN_GET_ROOTS:
		api__mn_get_roots(api, &q, resp);
		break;
	case EP_METRICS:
		metrics(api, resp);
		break;
	case EP_HEALTHZ:
		healthz(api, resp);
		break;
	default:
		api_response_error(resp, 404, "notFound", "unknown path");
	}
out:
	api__count(api, ep, resp->status, mn_mono_ns() - t0);
	return ret;
}
