/* api.c: routing, errors and metrics. The handlers are in ct.c. */
#include "api/api.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/internal.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/prom.h"
#include "entry/pgp.h"
#include "entry/x509.h"
#include "storage/storage.h"

#define NUM_STATUS 12
#define NUM_LAT 12
static const int statuses[NUM_STATUS] = {200, 400, 403, 404, 405, 410, 413, 429, 500, 503, 507, 0};
static const double lat_bounds[NUM_LAT - 1] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
					       0.005,  0.01,    0.025,  0.05,  0.1, 1.0};
static const char *const ep_names[EP_COUNT] = {
	"add-chain",       "add-pre-chain",     "get-sth",
	"get-sth-consistency", "get-proof-by-hash", "get-entries",
	"get-roots",       "get-entry-and-proof", "mn-info",
	"add-pgp",         "add-policy",        "get-certifiers",
	"mn-get-roots",    "lookup",            "resolve",
	"vrf",
	"metrics",         "healthz",           "checkpoint",
	"tile",            "data-tile",         "issuer",
	"unknown"};

struct trust_box {
	struct api_trust t;
};

/* Reader counts, one pair per slot, each slot on its own cache line so that
 * threads announcing themselves do not contend; a thread always uses the
 * same slot (threads beyond TRUST_SLOTS share). */
#define TRUST_SLOTS 64
struct trust_slot {
	_Alignas(64) atomic_uint_fast64_t n[2];
};

struct api {
	struct api_config cfg;
	pthread_mutex_t mu;
	uint64_t count[EP_COUNT][NUM_STATUS];
	uint64_t lat[EP_COUNT][NUM_LAT];
	double lat_sum[EP_COUNT];
	/* The trust set, swapped by api_set_trust (see api__trust_get). */
	_Atomic(struct trust_box *) trust;
	atomic_uint epoch;
	struct trust_slot readers[TRUST_SLOTS];
	pthread_mutex_t trust_mu; /* serialises api_set_trust */
	atomic_uint_fast64_t trust_swaps;
	/* The served witnessed checkpoint (api_set_checkpoint), under cp_mu. */
	pthread_mutex_t cp_mu;
	uint8_t *cp;
	size_t cp_len;
};

struct api *api_new(const struct api_config *cfg)
{
	/* aligned: the reader slots are cache-line aligned */
	struct api *api = aligned_alloc(_Alignof(struct api), sizeof(*api));

	if (api == NULL)
		return NULL;
	memset(api, 0, sizeof(*api));
	api->cfg = *cfg;
	if (api->cfg.max_entries == 0)
		api->cfg.max_entries = 256;
	if (api->cfg.max_chain == 0)
		api->cfg.max_chain = 10;
	if (api->cfg.max_cert_bytes == 0)
		api->cfg.max_cert_bytes = 64 * 1024;
	{
		struct trust_box *b = calloc(1, sizeof(*b));
		if (b == NULL) {
			free(api);
			return NULL;
		}
		b->t.tls = cfg->tls;
		b->t.tls_roots = cfg->tls_roots;
		b->t.smime_roots = cfg->smime_roots;
		b->t.certifiers = cfg->certifiers;
		atomic_init(&api->trust, b);
	}
	atomic_init(&api->epoch, 0);
	for (unsigned i = 0; i < TRUST_SLOTS; i++) {
		atomic_init(&api->readers[i].n[0], 0);
		atomic_init(&api->readers[i].n[1], 0);
	}
	atomic_init(&api->trust_swaps, 0);
	pthread_mutex_init(&api->mu, NULL);
	pthread_mutex_init(&api->trust_mu, NULL);
	pthread_mutex_init(&api->cp_mu, NULL);
	return api;
}

int api_set_checkpoint(struct api *api, const uint8_t *cp, size_t len)
{
	uint8_t *copy = malloc(len != 0 ? len : 1), *old;

	if (copy == NULL)
		return MN_ENOMEM;
	memcpy(copy, cp, len);
	pthread_mutex_lock(&api->cp_mu);
	old = api->cp;
	api->cp = copy;
	api->cp_len = len;
	pthread_mutex_unlock(&api->cp_mu);
	free(old);
	return 0;
}

int api__served_checkpoint(struct api *api, uint8_t **out, size_t *out_len)
{
	int ret = 0;

	*out = NULL;
	*out_len = 0;
	pthread_mutex_lock(&api->cp_mu);
	if (api->cp == NULL) {
		ret = MN_ENOTFOUND;
	} else if ((*out = malloc(api->cp_len)) == NULL) {
		ret = MN_ENOMEM;
	} else {
		memcpy(*out, api->cp, api->cp_len);
		*out_len = api->cp_len;
	}
	pthread_mutex_unlock(&api->cp_mu);
	return ret;
}

void api_set_metrics_ctx(struct api *api, void *ctx)
{
	api->cfg.metrics_ctx = ctx;
}

static void trust_box_free(struct trust_box *b)
{
	if (b != NULL && b->t.release != NULL)
		b->t.release(b->t.owner);
	free(b);
}

void api_free(struct api *api)
{
	if (api == NULL)
		return;
	trust_box_free(atomic_load(&api->trust));
	pthread_mutex_destroy(&api->trust_mu);
	pthread_mutex_destroy(&api->cp_mu);
	free(api->cp);
	pthread_mutex_destroy(&api->mu);
	free(api);
}

/* The trust set is read on many threads and replaced rarely (SIGHUP), so the
 * request path takes no lock: a reader announces itself in its slot's counter
 * for the current epoch's parity, n[epoch & 1], then loads the pointer; a
 * writer publishes the new pointer, flips the epoch and waits until the old
 * parity's counters of every slot are 0, after which nobody can hold the old
 * pointer (a grace period, as in userspace RCU). All atomics are
 * sequentially consistent:
 *   - a reader that loaded the old pointer did so after its epoch re-check,
 *     so before the writer's exchange and epoch store: it saw the old epoch e
 *     (counted in n[e & 1], which the writer waits for), or e - 1, whose
 *     readers the previous writer waited for before this one could start;
 *   - a reader whose re-check fails (the epoch moved under it) backs out and
 *     retries under the new epoch, which only delays the writer.
 * Cost per request that needs the set: two atomic increments and a decrement
 * on the thread's own cache line, and two loads of the read-mostly epoch
 * (bench/RESULTS.md, ops2). */
static atomic_uint next_slot;
static _Thread_local unsigned my_slot; /* 1 + the slot index; 0: none yet */

const struct api_trust *api__trust_get(struct api *api, unsigned *out_slot)
{
	unsigned e, i;

	if (my_slot == 0)
		my_slot = 1 + atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed) %
				      TRUST_SLOTS;
	i = my_slot - 1;
	for (;;) {
		e = atomic_load(&api->epoch);
		atomic_fetch_add(&api->readers[i].n[e & 1], 1);
		if (atomic_load(&api->epoch) == e)
			break;
		atomic_fetch_sub(&api->readers[i].n[e & 1], 1);
	}
	*out_slot = i * 2 + (e & 1);
	return &atomic_load(&api->trust)->t;
}

void api__trust_put(struct api *api, unsigned slot)
{
	atomic_fetch_sub(&api->readers[slot / 2].n[slot & 1], 1);
}

/* old_readers: how many readers of parity |par| are still in. */
static uint64_t old_readers(struct api *api, unsigned par)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < TRUST_SLOTS; i++)
		n += atomic_load(&api->readers[i].n[par]);
	return n;
}

int api_set_trust(struct api *api, const struct api_trust *t)
{
	struct trust_box *b = calloc(1, sizeof(*b)), *old;
	unsigned e, spins = 0;

	if (b == NULL)
		return MN_ENOMEM;
	b->t = *t;
	pthread_mutex_lock(&api->trust_mu);
	old = atomic_exchange(&api->trust, b);
	e = atomic_load(&api->epoch);
	atomic_store(&api->epoch, e + 1);
	/* Readers are inside a synchronous handler (a chain validation: well
	 * under a second), so poll with a short backoff rather than make every
	 * reader signal. */
	while (old_readers(api, e & 1) != 0) {
		if (++spins < 100) {
			sched_yield();
		} else {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
	}
	atomic_fetch_add(&api->trust_swaps, 1);
	pthread_mutex_unlock(&api->trust_mu);
	trust_box_free(old);
	return 0;
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

/* fmt_time: RFC 3339 UTC, whole seconds. */
static void fmt_time(char out[32], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%" PRIu64 "ms", ms);
}

static unsigned log_classes(const struct api_config *cfg)
{
	return cfg->classes != 0 ? cfg->classes : 15;
}

/* classes_str: "tls, smime, pgp, policy" for the bits of |c|. */
static void classes_str(char *out, size_t len, unsigned c)
{
	static const char *const names[4] = {"tls", "smime", "pgp", "policy"};
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (c & (1u << i)) {
			int n = snprintf(out + off, len - off, "%s%s", off > 0 ? ", " : "", names[i]);
			if (n < 0 || (size_t)n >= len - off)
				return;
			off += (size_t)n;
		}
}

static const char *log_name(const struct api_config *cfg)
{
	return cfg->name != NULL ? cfg->name : "this log";
}

const uint8_t *api__log_id(const struct api_config *cfg)
{
	return cfg->signer != NULL ? ct_signer_log_id(cfg->signer) : cfg->mirror_log_id;
}

const uint8_t *api__log_spki(const struct api_config *cfg, size_t *out_len)
{
	if (cfg->signer != NULL)
		return ct_signer_spki(cfg->signer, out_len);
	*out_len = cfg->mirror_spki_len;
	return cfg->mirror_spki;
}

void api__not_mirrored(const struct api_config *cfg, struct api_response *resp)
{
	char msg[700];

	snprintf(msg, sizeof(msg), "this mirror does not serve this endpoint (for lookup and "
		 "resolve: its origin keeps no lookup map to prove answers with); ask %.500s",
		 cfg->mirror_of);
	api_response_error(resp, 501, "notMirrored", msg);
}

void api__not_mirrored_vrf(const struct api_config *cfg, struct api_response *resp)
{
	char msg[700];

	snprintf(msg, sizeof(msg), "a mirror does not answer for an address: its OpenPGP "
		 "endorsements are filed under a VRF of the origin's private key, which a "
		 "mirror cannot compute or prove; ask %.500s", cfg->mirror_of);
	api_response_error(resp, 501, "notMirrored", msg);
}

/* mirror_refuses answers a submission to a mirror: 405, naming the log to
 * submit to. */
static void mirror_refuses(const struct api_config *cfg, struct api_response *resp)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "this log is a read-only mirror of %.500s: submit there",
		 cfg->mirror_of);
	api_response_error(resp, 405, "mirror", msg);
	resp->headers = "Allow: \r\n"; /* no method submits to a mirror */
}

int api__admit(struct api *api, unsigned classes, struct api_response *resp)
{
	const struct api_config *cfg = &api->cfg;
	char msg[256], cl[64], a[32], b[32];

	if (cfg->state == API_STATE_READ_ONLY) {
		snprintf(msg, sizeof(msg), "log %s is read-only: it serves reads, takes no "
			 "submissions", log_name(cfg));
		api_response_error(resp, 403, "readOnly", msg);
		return 0;
	}
	if (cfg->window_limit_ms != 0 && mn_now_ms() >= cfg->window_limit_ms + cfg->grace_ms) {
		fmt_time(a, cfg->window_start_ms);
		fmt_time(b, cfg->window_limit_ms);
		snprintf(msg, sizeof(msg), "log %s is frozen: its NotAfter window [%s, %s) has "
			 "ended", log_name(cfg), a, b);
		api_response_error(resp, 410, "frozen", msg);
		return 0;
	}
	if ((log_classes(cfg) & classes) == 0) {
		classes_str(cl, sizeof(cl), log_classes(cfg));
		snprintf(msg, sizeof(msg), "log %s does not accept this class; it accepts: %s",
			 log_name(cfg), cl);
		api_response_error(resp, 400, "classNotAccepted", msg);
		return 0;
	}
	return 1;
}

int api__cert_admissible(struct api *api, const struct x509_result *r,
			 struct api_response *resp)
{
	const struct api_config *cfg = &api->cfg;
	unsigned got = 0;
	char msg[256], cl[64], a[32], b[32], na[32];

	if (r->classes & X509_CLASS_TLS)
		got |= API_CLASS_TLS;
	if (r->classes & X509_CLASS_SMIME)
		got |= API_CLASS_SMIME;
	if ((log_classes(cfg) & got) == 0) {
		classes_str(cl, sizeof(cl), log_classes(cfg));
		snprintf(msg, sizeof(msg), "log %s does not accept this certificate's class; it "
			 "accepts: %s", log_name(cfg), cl);
		api_response_error(resp, 400, "classNotAccepted", msg);
		return 0;
	}
	if (cfg->window_limit_ms != 0 &&
	    (r->not_after_ms < cfg->window_start_ms || r->not_after_ms >= cfg->window_limit_ms)) {
		fmt_time(a, cfg->window_start_ms);
		fmt_time(b, cfg->window_limit_ms);
		fmt_time(na, r->not_after_ms);
		snprintf(msg, sizeof(msg), "certificate notAfter %s is outside log %s's NotAfter "
			 "window [%s, %s)", na, log_name(cfg), a, b);
		api_response_error(resp, 400, "notAfterOutOfWindow", msg);
		return 0;
	}
	return 1;
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

#define METRICS_CAP (4u << 20)

void api_metrics(struct api *api, struct prom *w, const char *labels)
{
	static const char *const help_req = "API requests answered, by endpoint and status.";
	uint64_t count[EP_COUNT][NUM_STATUS], lat[EP_COUNT][NUM_LAT];
	double lat_sum[EP_COUNT];
	char extra[96];
	unsigned e, s, slot;
	const struct api_trust *t;

	/* copy under the lock, format outside it */
	pthread_mutex_lock(&api->mu);
	memcpy(count, api->count, sizeof(count));
	memcpy(lat, api->lat, sizeof(lat));
	memcpy(lat_sum, api->lat_sum, sizeof(lat_sum));
	pthread_mutex_unlock(&api->mu);

	prom_family(w, "mn_api_requests_total", PROM_COUNTER, help_req);
	for (e = 0; e < EP_COUNT; e++)
		for (s = 0; s < NUM_STATUS; s++) {
			if (count[e][s] == 0)
				continue;
			if (statuses[s] != 0)
				snprintf(extra, sizeof(extra), "endpoint=\"%s\",status=\"%d\"",
					 ep_names[e], statuses[s]);
			else
				snprintf(extra, sizeof(extra), "endpoint=\"%s\",status=\"other\"",
					 ep_names[e]);
			prom_u64(w, labels, extra, count[e][s]);
		}
	prom_family(w, "mn_api_request_duration_seconds", PROM_HISTOGRAM,
		    "Time an API handler took (for a submission: until its commit).");
	for (e = 0; e < EP_COUNT; e++) {
		uint64_t n = 0;
		for (unsigned l = 0; l < NUM_LAT; l++)
			n += lat[e][l];
		if (n == 0)
			continue;
		snprintf(extra, sizeof(extra), "endpoint=\"%s\"", ep_names[e]);
		prom_histogram(w, labels, extra, lat_bounds, NUM_LAT - 1, lat[e], lat_sum[e]);
	}
	t = api__trust_get(api, &slot);
	prom_family(w, "mn_roots", PROM_GAUGE, "Accepted roots in the trust set, by class.");
	snprintf(extra, sizeof(extra), "class=\"tls\"");
	prom_u64(w, labels, extra, t->tls_roots != NULL ? x509_roots_count(t->tls_roots) : 0);
	snprintf(extra, sizeof(extra), "class=\"smime\"");
	prom_u64(w, labels, extra, t->smime_roots != NULL ? x509_roots_count(t->smime_roots) : 0);
	prom_family(w, "mn_pgp_certifiers", PROM_GAUGE, "OpenPGP certifiers in the trust set.");
	prom_u64(w, labels, NULL, t->certifiers != NULL ? pgp_certifiers_count(t->certifiers) : 0);
	api__trust_put(api, slot);
	prom_family(w, "mn_trust_swaps_total", PROM_COUNTER,
		    "Trust sets replaced since start (SIGHUP reloads that succeeded).");
	prom_u64(w, labels, NULL, atomic_load(&api->trust_swaps));
}

static void metrics(struct api *api, struct api_response *resp)
{
	struct prom *w = prom_new(METRICS_CAP);
	char *text = NULL;
	size_t len = 0;
	int err = MN_ENOMEM;

	if (w != NULL) {
		if (api->cfg.metrics != NULL) {
			api->cfg.metrics(api->cfg.metrics_ctx, w);
		} else {
			api_metrics(api, w, NULL);
			if (api->cfg.store != NULL)
				store_metrics(api->cfg.store, w, NULL);
		}
		err = prom_finish(w, &text, &len);
		prom_free(w);
	}
	if (err != 0) {
		api__err_response(resp, err, "cannot write the metrics");
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	resp->body = (uint8_t *)text;
	resp->body_len = len;
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
	{"/mn/v1/vrf", EP_MN_VRF, API_GET},
	{"/metrics", EP_METRICS, API_GET},
	{"/healthz", EP_HEALTHZ, API_GET},
};

/* by_address runs lookup, resolve or vrf (which may ask for the origin's VRF
 * proof of an address on a mirror: API__VRF_FETCH). */
static int by_address(struct api *api, enum api_endpoint ep, const struct api_params *q,
		      struct api__vrf_ask *vq, struct api_response *resp)
{
	switch (ep) {
	case EP_MN_LOOKUP:
		return api__lookup(api, q, vq, resp);
	case EP_MN_RESOLVE:
		return api__resolve(api, q, vq, resp);
	default:
		return api__vrf(api, q, vq, resp);
	}
}

/* A request by address on a mirror waiting for the origin's VRF proof. The
 * query is copied: the request may live in a caller's frame (a router). */
struct vrf_job {
	struct api *api;
	enum api_endpoint ep;
	api_done_fn done;
	void *done_ctx;
	uint64_t t0;
	size_t query_len;
	char query[];
};

/* vrf_fetched finishes a vrf_job on the fetcher's thread: the handler runs
 * again with the proof (or the failure is answered), then done. */
static void vrf_fetched(void *arg, int status, const uint8_t *proof)
{
	struct vrf_job *j = arg;
	struct api_response resp;
	struct api_params q;
	struct api__vrf_ask vq;

	memset(&resp, 0, sizeof(resp));
	memset(&vq, 0, sizeof(vq));
	if (status != 0) {
		api__vrf_error(&j->api->cfg, &resp, status);
	} else if (api__parse_query(&q, j->query, j->query_len) != 0) {
		api_response_error(&resp, 500, "internal", "the query no longer parses");
	} else {
		vq.given = proof;
		if (by_address(j->api, j->ep, &q, &vq, &resp) != API_DONE) {
			/* the proof given is the one asked for: cannot happen */
			api_response_free(&resp);
			api_response_error(&resp, 500, "internal", "the VRF proof was asked twice");
		}
	}
	api__count(j->api, j->ep, resp.status, mn_mono_ns() - j->t0);
	j->done(j->done_ctx, &resp);
	free(j);
}

/* vrf_fetch asks the origin for the VRF proof of |addr| and returns API_ASYNC
 * (vrf_fetched answers); or answers 503 into |resp| at once (no done to call,
 * too many waiting) and returns API_DONE. */
static int vrf_fetch(struct api *api, enum api_endpoint ep, const struct api_request *req,
		     const char *addr, api_done_fn done, void *done_ctx, uint64_t t0,
		     struct api_response *resp)
{
	const struct api_config *cfg = &api->cfg;
	struct vrf_job *j;

	if (done == NULL || cfg->mirror_vrf_fetch == NULL ||
	    (j = malloc(sizeof(*j) + req->query_len + 1)) == NULL) {
		api__vrf_error(cfg, resp, MN_EIO);
		return API_DONE;
	}
	j->api = api;
	j->ep = ep;
	j->done = done;
	j->done_ctx = done_ctx;
	j->t0 = t0;
	j->query_len = req->query_len;
	if (req->query_len > 0)
		memcpy(j->query, req->query, req->query_len);
	j->query[req->query_len] = '\0';
	if (cfg->mirror_vrf_fetch(cfg->mirror_vrf_ctx, addr, strlen(addr), vrf_fetched, j) != 0) {
		free(j);
		api__vrf_error(cfg, resp, MN_EIO);
		return API_DONE;
	}
	return API_ASYNC;
}

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
	if (api->cfg.mirror_of != NULL &&
	    (ep == EP_ADD_CHAIN || ep == EP_ADD_PRE_CHAIN || ep == EP_MN_ADD_PGP ||
	     ep == EP_MN_ADD_POLICY)) {
		mirror_refuses(&api->cfg, resp);
		goto out;
	}
	if (api->cfg.mirror_of != NULL &&
	    (ep == EP_GET_ROOTS || ep == EP_MN_GET_ROOTS || ep == EP_MN_GET_CERTIFIERS)) {
		api__not_mirrored(&api->cfg, resp);
		goto out;
	}
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
	case EP_MN_RESOLVE:
	case EP_MN_VRF: {
		struct api__vrf_ask vq;
		memset(&vq, 0, sizeof(vq));
		if (by_address(api, ep, &q, &vq, resp) == API__VRF_FETCH &&
		    vrf_fetch(api, ep, req, vq.addr, done, done_ctx, t0, resp) == API_ASYNC)
			return API_ASYNC; /* counted by vrf_fetched */
		break;
	}
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
