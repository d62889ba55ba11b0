/* cosign.c: see cosign.h. */
#include "logd/cosign.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "api/api.h"
#include "common/b64.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "entry/cosig.h"
#include "entry/note.h"
#include "entry/tpolicy.h"
#include "storage/storage.h"

#define MAX_RESP 8192          /* a 200 or 409 body we read */
#define MAX_CP 16384           /* the log's checkpoint with every cosignature */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define POLL_MS 100

enum reason {
	R_CONFLICT,       /* 409 that a retry with the told size did not resolve */
	R_BAD_PROOF,      /* 422 */
	R_FORBIDDEN,      /* 403 */
	R_UNKNOWN_LOG,    /* 404 */
	R_BAD_REQUEST,    /* 400 */
	R_TIMEOUT,
	R_CONNECT,        /* no connection, or the transfer broke */
	R_HTTP,           /* any other status */
	R_BAD_COSIG,      /* a line by the witness's key that does not verify */
	R_BAD_RESPONSE,   /* not signature lines, none by its key, too long */
	R_NUM
};
static const char *const reason_names[R_NUM] = {
	"conflict", "bad_proof", "forbidden", "unknown_log", "bad_request",
	"timeout", "connect", "http_error", "bad_cosignature", "bad_response",
};

/* One checkpoint being witnessed. Thread only; freed when neither the round
 * nor a request holds it. */
struct target {
	int refs;
	uint64_t gen;
	uint8_t *cp;              /* the log's checkpoint (text and its two lines) */
	size_t cp_len;
	uint64_t size, ts;
	int met;                  /* its cosigners meet the quorum */
	unsigned char witnessed[TPOLICY_MAX_WITNESSES];
	char *lines[TPOLICY_MAX_WITNESSES]; /* each witness's verified line(s) */
	size_t line_len[TPOLICY_MAX_WITNESSES];
};

struct wit {
	struct cosign *w;
	size_t i;
	const struct tpolicy_witness *pw;
	char url[TPOLICY_MAX_URL + 32];
	CURL *easy;
	struct curl_slist *hdrs;
	int busy;
	struct target *t;         /* in flight */
	uint8_t *req;
	size_t req_len;
	uint8_t resp[MAX_RESP];
	size_t resp_len;
	int resp_over;
	int retried;              /* this request is the retry after a 409 */
	int size_known;
	uint64_t size;            /* what it last cosigned (or told us in a 409) */
	uint64_t answered_gen, failed_gen;
	uint64_t next_try_ms, backoff_ms;
	/* under w->mu */
	uint64_t cosigs, fails[R_NUM];
};

/* A policy made ready by cosign_prepare: its witnesses and info object. */
struct cosign_next {
	struct tpolicy *policy;   /* owned */
	size_t num;
	struct wit *wits;
	char *info;
};

struct cosign {
	const struct tpolicy *policy; /* the one in use: borrowed, or own */
	struct tpolicy *own;      /* a reloaded policy (cosign_commit), or NULL */
	uint64_t timeout_ms;
	uint64_t interval_ms;     /* the least time between two new targets */
	uint64_t last_new_ms;     /* when the current target was made */
	int fail_open;
	char name[80];
	struct store *st;
	void (*on_served)(void *ctx);
	void *on_served_ctx;
	struct api *api;
	/* swapped by the thread under mu (cosign_metrics and cosign_info read
	 * them under mu; the thread reads them without it) */
	char *info;
	size_t num;
	struct wit *wits;

	pthread_t thread;
	int started;
	CURLM *multi;
	pthread_mutex_t mu;
	/* under mu */
	int stop;
	struct cosign_next *next; /* committed, not yet taken by the thread */
	uint64_t sth_seq, latest_size;
	int served;
	uint64_t served_size, served_ts, start_ms, unwitnessed;

	/* thread only */
	struct target *cur;
	uint64_t cur_seq, next_gen, served_gen, pending_since;
};

/* --- the info object ------------------------------------------------------------ */

static int jstr(struct cbb *b, const char *s)
{
	int ok = cbb_add_u8(b, '"');

	for (; ok && *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			ok = cbb_add_u8(b, '\\') && cbb_add_u8(b, ch);
		} else if (ch < 0x20 || ch == 0x7f) {
			char e[8];
			snprintf(e, sizeof(e), "\\u%04x", ch);
			ok = cbb_add_bytes(b, (const uint8_t *)e, 6);
		} else {
			ok = cbb_add_u8(b, ch);
		}
	}
	return ok && cbb_add_u8(b, '"');
}

static int jraw(struct cbb *b, const char *s)
{
	return cbb_add_bytes(b, (const uint8_t *)s, strlen(s));
}

static const char *quorum_name(const struct tpolicy *p)
{
	if (p->quorum_none)
		return "none";
	if (p->quorum >= 0)
		return p->witnesses[p->quorum].name;
	return p->groups[-1 - p->quorum].name;
}

static int make_info(const struct cosign *w, const struct tpolicy *p, char **info)
{
	char num[32], inum[32], vkey[NOTE_MAX_VKEY + 1];
	struct cbb b;
	uint8_t *out;
	size_t len;
	int ok;

	snprintf(num, sizeof(num), "%" PRIu64, w->timeout_ms);
	snprintf(inum, sizeof(inum), "%" PRIu64, w->interval_ms);
	ok = cbb_init(&b, 512, 1024 * 1024) &&
	     jraw(&b, w->fail_open ? "{\"mode\":\"fail-open\"" : "{\"mode\":\"wait\"") &&
	     jraw(&b, ",\"timeout_ms\":") && jraw(&b, num) &&
	     jraw(&b, ",\"interval_ms\":") && jraw(&b, inum) && jraw(&b, ",\"quorum\":") &&
	     jstr(&b, quorum_name(p)) && jraw(&b, ",\"witnesses\":[");
	for (size_t i = 0; ok && i < p->num_witnesses; i++) {
		note_vkey_format(vkey, &p->witnesses[i].key);
		ok = jraw(&b, i > 0 ? ",{\"name\":" : "{\"name\":") &&
		     jstr(&b, p->witnesses[i].name) && jraw(&b, ",\"vkey\":") && jstr(&b, vkey) &&
		     jraw(&b, ",\"url\":") && jstr(&b, p->witnesses[i].url) && jraw(&b, "}");
	}
	ok = ok && jraw(&b, "]}") && cbb_add_u8(&b, 0) && cbb_finish(&b, &out, &len);
	if (!ok) {
		cbb_cleanup(&b);
		return MN_ENOMEM;
	}
	*info = (char *)out;
	return 0;
}

/* --- targets --------------------------------------------------------------------- */

static void target_put(struct target *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	for (size_t i = 0; i < TPOLICY_MAX_WITNESSES; i++)
		free(t->lines[i]);
	free(t->cp);
	free(t);
}

static int servable(struct cosign *w, const struct target *t);
static void serve(struct cosign *w, struct target *t);

/* new_target: the log's checkpoint of its latest STH becomes the round's. */
static void new_target(struct cosign *w, uint64_t seq)
{
	struct note_checkpoint nc;
	struct target *t = calloc(1, sizeof(*t));
	int ret;

	if (t == NULL)
		return;
	ret = api_log_checkpoint(w->api, &t->cp, &t->cp_len, &t->ts);
	if (ret != 0 || note_parse_checkpoint(&nc, t->cp, t->cp_len) != 0) {
		if (ret != MN_ENOTFOUND)
			mn_warn("witness", "log=%s msg=\"cannot make the checkpoint: %s\"", w->name,
				mn_strerror(ret != 0 ? ret : MN_EMALFORMED));
		free(t->cp);
		free(t);
		return;
	}
	t->refs = 1;
	t->gen = ++w->next_gen;
	t->size = nc.tree_size;
	t->met = tpolicy_quorum_met(w->policy, t->witnessed);
	target_put(w->cur);
	w->cur = t;
	w->cur_seq = seq;
	pthread_mutex_lock(&w->mu);
	int ahead = !w->served || t->size > w->served_size;
	pthread_mutex_unlock(&w->mu);
	if (ahead && w->pending_since == 0)
		w->pending_since = mn_now_ms();
	if (t->met && servable(w, t))
		serve(w, t); /* "quorum none": nothing to wait for */
}

/* serve: |t| with its cosignature lines becomes the served checkpoint. */
static void serve(struct cosign *w, struct target *t)
{
	size_t len = t->cp_len;
	uint8_t *buf;

	for (size_t i = 0; i < w->num; i++)
		len += t->line_len[i];
	if (len > MAX_CP || (buf = malloc(len)) == NULL) {
		mn_warn("witness", "log=%s size=%" PRIu64 " bytes=%zu msg=\"cannot serve the "
			"cosigned checkpoint (over %d bytes, or out of memory)\"", w->name, t->size,
			len, MAX_CP);
		return;
	}
	memcpy(buf, t->cp, t->cp_len);
	len = t->cp_len;
	for (size_t i = 0; i < w->num; i++) {
		if (t->lines[i] != NULL)
			memcpy(buf + len, t->lines[i], t->line_len[i]);
		len += t->line_len[i];
	}
	if (api_set_checkpoint(w->api, buf, len) == 0) {
		pthread_mutex_lock(&w->mu);
		w->served = 1;
		w->served_size = t->size;
		w->served_ts = t->ts;
		pthread_mutex_unlock(&w->mu);
		w->served_gen = t->gen;
		if (w->cur != NULL && t->size >= w->cur->size)
			w->pending_since = 0;
		if (w->on_served != NULL)
			w->on_served(w->on_served_ctx);
	}
	free(buf);
}

/* servable: serving |t| moves nothing backwards. */
static int servable(struct cosign *w, const struct target *t)
{
	int ok;

	pthread_mutex_lock(&w->mu);
	ok = !w->served || t->size > w->served_size ||
	     (t->size == w->served_size && t->gen >= w->served_gen);
	pthread_mutex_unlock(&w->mu);
	return ok;
}

/* --- requests ----------------------------------------------------------------------- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct wit *x = ctx;
	size_t n = size * nmemb;

	if (n > MAX_RESP - x->resp_len) {
		x->resp_over = 1;
		return 0; /* aborts the transfer */
	}
	memcpy(x->resp + x->resp_len, data, n);
	x->resp_len += n;
	return n;
}

static void fail(struct wit *x, enum reason r, const char *detail)
{
	struct cosign *w = x->w;
	uint64_t now = mn_now_ms();

	x->failed_gen = x->t != NULL ? x->t->gen : x->failed_gen;
	x->backoff_ms = x->backoff_ms == 0 ? BACKOFF_MIN_MS
			: x->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : x->backoff_ms * 2;
	x->next_try_ms = now + x->backoff_ms;
	pthread_mutex_lock(&w->mu);
	x->fails[r]++;
	pthread_mutex_unlock(&w->mu);
	mn_warn("witness", "log=%s witness=%s size=%" PRIu64 " reason=%s retry_ms=%" PRIu64
		" msg=\"%s\"", w->name, x->pw->name, x->t != NULL ? x->t->size : 0,
		reason_names[r], x->backoff_ms, detail);
}

/* send: POSTs add-checkpoint for x->t with the proof from what |x| last
 * cosigned. 0, or a failure already counted. */
static int send_req(struct wit *x)
{
	struct cosign *w = x->w;
	struct target *t = x->t;
	uint64_t old = x->size_known ? x->size : 0;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t num = 0;
	struct cbb b;
	int ret = 0;

	if (old > t->size) {
		fail(x, R_CONFLICT, "the witness cosigned a larger tree than the log has");
		return -1;
	}
	if (old != 0 && old != t->size) {
		struct store_reader *rd;
		ret = store_read_begin(w->st, &rd);
		if (ret == 0) {
			ret = store_r_consistency_proof(rd, old, t->size, proof, &num);
			store_read_end(rd);
		}
		if (ret == 0 && num > WIT_MAX_PROOF)
			ret = MN_ETOOBIG;
		if (ret != 0) {
			mn_warn("witness", "log=%s witness=%s msg=\"no consistency proof %" PRIu64
				" -> %" PRIu64 ": %s\"", w->name, x->pw->name, old, t->size,
				mn_strerror(ret));
			x->size_known = 0; /* ask it again */
			fail(x, R_CONFLICT, "no consistency proof from its size");
			return -1;
		}
	}
	free(x->req);
	x->req = NULL;
	if (!cbb_init(&b, t->cp_len + 64 * (num + 2), WIT_MAX_BODY) ||
	    !wit_format_request(&b, old, (const uint8_t(*)[32])proof, num, t->cp, t->cp_len) ||
	    !cbb_finish(&b, &x->req, &x->req_len)) {
		cbb_cleanup(&b);
		fail(x, R_BAD_REQUEST, "cannot format the request");
		return -1;
	}
	x->resp_len = 0;
	x->resp_over = 0;
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, (const char *)x->req);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req_len);
	if (curl_multi_add_handle(w->multi, x->easy) != CURLM_OK) {
		fail(x, R_CONNECT, "cannot start the request");
		return -1;
	}
	x->busy = 1;
	return 0;
}

static void start(struct wit *x, struct target *t)
{
	t->refs++;
	x->t = t;
	x->retried = 0;
	if (send_req(x) != 0) {
		target_put(x->t);
		x->t = NULL;
	}
}

/* keep_lines: the lines of |body| by |k| (its name and key ID), into t. */
static int keep_lines(struct target *t, size_t i, const struct note_vkey *k, const uint8_t *body,
		      size_t len)
{
	char *out = malloc(len);
	size_t n = 0;

	if (out == NULL)
		return 0;
	for (size_t off = 0; off < len;) {
		const uint8_t *nl = memchr(body + off, '\n', len - off);
		const uint8_t *line = body + off, *sp;
		size_t ll = (size_t)(nl - line) + 1; /* wit_valid_sig_lines: each ends in \n */
		uint8_t *raw = NULL;
		size_t raw_len = 0;

		off += ll;
		/* "— " (U+2014 is 3 bytes) name " " base64 */
		if (ll < 5)
			continue;
		sp = memchr(line + 4, ' ', ll - 4);
		if (sp == NULL || (size_t)(sp - (line + 4)) != k->name_len ||
		    memcmp(line + 4, k->name, k->name_len) != 0)
			continue;
		if (mn_b64_decode(&raw, &raw_len, (const char *)sp + 1,
				  (size_t)(nl - sp) - 1, 256) == 0 &&
		    raw_len >= 4 && ((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
				     (uint32_t)raw[2] << 8 | raw[3]) == k->key_id) {
			memcpy(out + n, line, ll);
			n += ll;
		}
		free(raw);
	}
	free(t->lines[i]);
	t->lines[i] = out;
	t->line_len[i] = n;
	return n > 0;
}

/* cosigned: a 200. Verifies the lines before they count. */
static void cosigned(struct wit *x)
{
	struct cosign *w = x->w;
	struct target *t = x->t;
	struct note_checkpoint nc;
	uint8_t *tmp;
	int v;

	if (!wit_valid_sig_lines(x->resp, x->resp_len)) {
		fail(x, R_BAD_RESPONSE, "the answer is not signature lines");
		return;
	}
	tmp = malloc(t->cp_len + x->resp_len);
	if (tmp == NULL) {
		fail(x, R_BAD_RESPONSE, "out of memory");
		return;
	}
	memcpy(tmp, t->cp, t->cp_len);
	memcpy(tmp + t->cp_len, x->resp, x->resp_len);
	v = note_parse_checkpoint(&nc, tmp, t->cp_len + x->resp_len) != 0
		    ? 0 : cosig_verify(&nc, &x->pw->key, NULL);
	free(tmp);
	if (v < 0) {
		fail(x, R_BAD_COSIG, "its cosignature does not verify");
		return;
	}
	if (v == 0 || !keep_lines(t, x->i, &x->pw->key, x->resp, x->resp_len)) {
		fail(x, R_BAD_RESPONSE, "no cosignature by its key in the answer");
		return;
	}
	t->witnessed[x->i] = 1;
	x->answered_gen = t->gen;
	x->size_known = 1;
	x->size = t->size;
	x->backoff_ms = 0;
	x->next_try_ms = 0;
	pthread_mutex_lock(&w->mu);
	x->cosigs++;
	pthread_mutex_unlock(&w->mu);
	if (!t->met)
		t->met = tpolicy_quorum_met(w->policy, t->witnessed);
	if (t->met && servable(w, t))
		serve(w, t);
}

/* finished: one transfer of |x| ended with |res|. */
static void finished(struct wit *x, CURLcode res)
{
	long status = 0;
	char why[160];
	uint64_t told;

	curl_multi_remove_handle(x->w->multi, x->easy);
	x->busy = 0;
	if (res != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
		if (x->resp_over)
			fail(x, R_BAD_RESPONSE, "the answer is too long");
		else
			fail(x, res == CURLE_OPERATION_TIMEDOUT ? R_TIMEOUT : R_CONNECT, why);
		goto done;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	switch (status) {
	case 200:
		cosigned(x);
		break;
	case 409:
		if (wit_parse_size(x->resp, x->resp_len, &told) != 0) {
			fail(x, R_BAD_RESPONSE, "409 without a tree size");
			break;
		}
		x->size_known = 1;
		x->size = told;
		if (!x->retried && told <= x->t->size) {
			/* it told us what it last cosigned: redo the request with a
			 * proof from there, once */
			x->retried = 1;
			if (send_req(x) == 0)
				return;
			break;
		}
		snprintf(why, sizeof(why), "it cosigned size %" PRIu64 " and refuses %" PRIu64
			 " from there", told, x->t->size);
		fail(x, R_CONFLICT, why);
		break;
	case 422:
		fail(x, R_BAD_PROOF, "422: the checkpoint is not consistent with what it cosigned");
		break;
	case 403:
		fail(x, R_FORBIDDEN, "403: it does not accept the log's signature");
		break;
	case 404:
		fail(x, R_UNKNOWN_LOG, "404: it does not know the log's origin");
		break;
	case 400:
		fail(x, R_BAD_REQUEST, "400: it refused the request");
		break;
	default:
		snprintf(why, sizeof(why), "HTTP %ld", status);
		fail(x, R_HTTP, why);
		break;
	}
done:
	target_put(x->t);
	x->t = NULL;
}

/* --- rounds ----------------------------------------------------------------------- */

/* round_over: the current checkpoint needs nothing more now. */
static int round_over(struct cosign *w, uint64_t now)
{
	struct target *t = w->cur;

	if (t == NULL || t->met)
		return 1;
	for (size_t i = 0; i < w->num; i++) {
		struct wit *x = &w->wits[i];
		if (x->busy && x->t == t)
			return 0;
		if (x->answered_gen != t->gen && x->failed_gen != t->gen && now >= x->next_try_ms)
			return 0; /* not asked yet */
	}
	return 1;
}

static void fail_open_check(struct cosign *w, uint64_t now)
{
	struct target *t = w->cur;
	size_t n = 0;

	if (!w->fail_open || t == NULL || t->met || w->pending_since == 0 ||
	    now < w->pending_since + w->timeout_ms || !servable(w, t))
		return;
	for (size_t i = 0; i < w->num; i++)
		n += t->witnessed[i] != 0;
	mn_warn("witness", "log=%s size=%" PRIu64 " cosignatures=%zu msg=\"fail-open: no quorum "
		"within %" PRIu64 " ms, publishing the checkpoint without it\"", w->name, t->size, n,
		w->timeout_ms);
	pthread_mutex_lock(&w->mu);
	w->unwitnessed++;
	pthread_mutex_unlock(&w->mu);
	serve(w, t);
	w->pending_since = 0;
}

static int take_next(struct cosign *w);

static void *cosign_thread(void *arg)
{
	struct cosign *w = arg;

	for (;;) {
		uint64_t seq, now;
		int stop, running = 0;
		long wait = POLL_MS;
		CURLMsg *m;
		int left;

		pthread_mutex_lock(&w->mu);
		stop = w->stop;
		seq = w->sth_seq;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		take_next(w);
		now = mn_now_ms();
		if (w->cur == NULL ||
		    (seq != w->cur_seq && round_over(w, now) && now >= w->last_new_ms + w->interval_ms)) {
			new_target(w, seq);
			w->last_new_ms = now;
		}
		if (w->cur != NULL) {
			for (size_t i = 0; i < w->num; i++) {
				struct wit *x = &w->wits[i];
				if (!x->busy && x->answered_gen != w->cur->gen && now >= x->next_try_ms)
					start(x, w->cur);
			}
		}
		fail_open_check(w, now);
		curl_multi_perform(w->multi, &running);
		while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
			struct wit *x = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (x != NULL)
				finished(x, m->data.result);
		}
		/* sleep until a transfer moves, the sequencer pokes, a backoff
		 * or the fail-open deadline ends */
		now = mn_now_ms();
		for (size_t i = 0; i < w->num; i++) {
			struct wit *x = &w->wits[i];
			if (!x->busy && x->next_try_ms > now && (long)(x->next_try_ms - now) < wait)
				wait = (long)(x->next_try_ms - now);
		}
		if (w->cur != NULL && seq != w->cur_seq && w->last_new_ms + w->interval_ms > now &&
		    (long)(w->last_new_ms + w->interval_ms - now) < wait)
			wait = (long)(w->last_new_ms + w->interval_ms - now);
		if (w->fail_open && w->pending_since != 0) {
			uint64_t end = w->pending_since + w->timeout_ms;
			wait = end <= now ? 0 : (long)(end - now) < wait ? (long)(end - now) : wait;
		}
		if (wait > 0)
			curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
	}
	return NULL;
}

/* --- life cycle ------------------------------------------------------------------ */

int cosign_check_policy(const struct tpolicy *p, char *err, size_t err_len)
{
	if (!p->has_quorum) {
		snprintf(err, err_len, "the policy has no quorum line");
		return MN_EINVAL;
	}
	if (p->num_witnesses == 0 && !p->quorum_none) {
		snprintf(err, err_len, "the policy lists no witness");
		return MN_EINVAL;
	}
	for (size_t i = 0; i < p->num_witnesses; i++)
		if (strncmp(p->witnesses[i].url, "http://", 7) != 0 &&
		    strncmp(p->witnesses[i].url, "https://", 8) != 0) {
			snprintf(err, err_len, "witness %s has no http(s) URL (witness NAME VKEY URL)",
				 p->witnesses[i].name);
			return MN_EINVAL;
		}
	return 0;
}

/* wits_free frees |n| witnesses; the thread's (busy ones leave the multi
 * handle first), or ones never started (any thread). */
static void wits_free(struct cosign *w, struct wit *wits, size_t n)
{
	for (size_t i = 0; wits != NULL && i < n; i++) {
		struct wit *x = &wits[i];
		if (x->busy)
			curl_multi_remove_handle(w->multi, x->easy);
		if (x->easy != NULL)
			curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->hdrs);
		target_put(x->t);
		free(x->req);
	}
	free(wits);
}

/* wits_make: one struct wit per witness of |p|, with its easy handle. */
static int wits_make(struct cosign *w, const struct tpolicy *p, struct wit **out)
{
	struct wit *wits = calloc(p->num_witnesses != 0 ? p->num_witnesses : 1, sizeof(*wits));

	*out = NULL;
	if (wits == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < p->num_witnesses; i++) {
		struct wit *x = &wits[i];
		const char *u = p->witnesses[i].url;
		size_t ul = strlen(u);
		x->w = w;
		x->i = i;
		x->pw = &p->witnesses[i];
		while (ul > 0 && u[ul - 1] == '/')
			ul--;
		snprintf(x->url, sizeof(x->url), "%.*s/add-checkpoint", (int)ul, u);
		x->easy = curl_easy_init();
		x->hdrs = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
		if (x->hdrs != NULL)
			x->hdrs = curl_slist_append(x->hdrs, "Expect:");
		if (x->easy == NULL || x->hdrs == NULL) {
			wits_free(w, wits, p->num_witnesses);
			return MN_ENOMEM;
		}
		curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
		curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
		curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
		curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
		curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "metanotary-logd");
		curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	}
	*out = wits;
	return 0;
}

int cosign_new(struct cosign **out, const struct cosign_options *o, char *err,
		size_t err_len)
{
	const struct tpolicy *p = o->policy;
	struct cosign *w;
	int ret;

	*out = NULL;
	ret = cosign_check_policy(p, err, err_len);
	if (ret != 0)
		return ret;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return MN_ENOMEM;
	w->policy = p;
	w->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : 5000;
	w->fail_open = o->fail_open;
	w->interval_ms = o->interval_ms;
	snprintf(w->name, sizeof(w->name), "%s", o->name != NULL ? o->name : "/");
	w->st = o->st;
	w->on_served = o->on_served;
	w->on_served_ctx = o->on_served_ctx;
	pthread_mutex_init(&w->mu, NULL);
	w->multi = curl_multi_init();
	ret = w->multi == NULL ? MN_ENOMEM : make_info(w, p, &w->info);
	if (ret == 0)
		ret = wits_make(w, p, &w->wits);
	if (ret != 0) {
		cosign_stop(w);
		return ret;
	}
	w->num = p->num_witnesses;
	*out = w;
	return 0;
}

void cosign_next_free(struct cosign *w, struct cosign_next *n)
{
	if (n == NULL)
		return;
	wits_free(w, n->wits, n->num);
	tpolicy_free(n->policy);
	free(n->info);
	free(n);
}

int cosign_prepare(struct cosign *w, struct tpolicy *p, struct cosign_next **out, char *err,
		   size_t err_len)
{
	struct cosign_next *n;
	int ret;

	*out = NULL;
	ret = cosign_check_policy(p, err, err_len);
	if (ret != 0)
		return ret;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return MN_ENOMEM;
	ret = make_info(w, p, &n->info);
	if (ret == 0)
		ret = wits_make(w, p, &n->wits);
	if (ret != 0) {
		cosign_next_free(w, n);
		return ret;
	}
	n->num = p->num_witnesses;
	n->policy = p;
	*out = n;
	return 0;
}

void cosign_commit(struct cosign *w, struct cosign_next *n)
{
	struct cosign_next *old;

	pthread_mutex_lock(&w->mu);
	old = w->next;
	w->next = n;
	pthread_mutex_unlock(&w->mu);
	cosign_next_free(w, old); /* never started: no multi handle involved */
	curl_multi_wakeup(w->multi);
}

static int same_key(const struct note_vkey *a, const struct note_vkey *b)
{
	return a->type == b->type && a->key_id == b->key_id && a->name_len == b->name_len &&
	       memcmp(a->name, b->name, a->name_len) == 0 && memcmp(a->pub, b->pub, 32) == 0;
}

/* take_next (thread): a committed policy replaces the one in use between two
 * rounds. A witness with the same key keeps what was learned about it (the
 * size it cosigned, its backoff, its counters); the current round is over,
 * and the next one asks the new set. Returns 1 if it swapped. */
static int take_next(struct cosign *w)
{
	struct cosign_next *n;
	struct tpolicy *old_own;
	struct wit *old_wits;
	size_t old_num;
	char *old_info;

	pthread_mutex_lock(&w->mu);
	n = w->next;
	w->next = NULL;
	if (n == NULL) {
		pthread_mutex_unlock(&w->mu);
		return 0;
	}
	for (size_t j = 0; j < n->num; j++) {
		struct wit *x = &n->wits[j];
		for (size_t i = 0; i < w->num; i++) {
			const struct wit *o = &w->wits[i];
			if (!same_key(&o->pw->key, &x->pw->key))
				continue;
			x->size_known = o->size_known;
			x->size = o->size;
			x->backoff_ms = o->backoff_ms;
			x->next_try_ms = o->next_try_ms;
			x->cosigs = o->cosigs;
			memcpy(x->fails, o->fails, sizeof(x->fails));
			break;
		}
	}
	old_own = w->own;
	old_wits = w->wits;
	old_num = w->num;
	old_info = w->info;
	w->own = n->policy;
	w->policy = n->policy;
	w->wits = n->wits;
	w->num = n->num;
	w->info = n->info;
	pthread_mutex_unlock(&w->mu);
	free(n);
	wits_free(w, old_wits, old_num); /* abandons their requests in flight */
	free(old_info);
	tpolicy_free(old_own);
	/* the round of the old set is over */
	target_put(w->cur);
	w->cur = NULL;
	mn_info("witness", "log=%s witnesses=%zu quorum=%s msg=\"new witness policy in use\"",
		w->name, w->num, quorum_name(w->policy));
	return 1;
}

int cosign_info(void *ctx, struct cbb *b)
{
	struct cosign *w = ctx;
	int ok;

	pthread_mutex_lock(&w->mu);
	ok = jraw(b, w->info);
	pthread_mutex_unlock(&w->mu);
	return ok;
}

void cosign_on_served(struct cosign *w, void (*fn)(void *ctx), void *ctx)
{
	w->on_served = fn;
	w->on_served_ctx = ctx;
}

void cosign_sth(void *ctx, uint64_t tree_size, uint64_t timestamp)
{
	struct cosign *w = ctx;

	(void)timestamp;
	pthread_mutex_lock(&w->mu);
	w->sth_seq++;
	w->latest_size = tree_size;
	pthread_mutex_unlock(&w->mu);
	curl_multi_wakeup(w->multi);
}

int cosign_start(struct cosign *w, struct api *api)
{
	struct store_reader *rd;

	w->api = api;
	w->start_ms = mn_now_ms();
	if (store_read_begin(w->st, &rd) == 0) {
		pthread_mutex_lock(&w->mu);
		w->latest_size = store_r_tree_size(rd);
		pthread_mutex_unlock(&w->mu);
		store_read_end(rd);
	}
	if (pthread_create(&w->thread, NULL, cosign_thread, w) != 0)
		return MN_ENOMEM;
	w->started = 1;
	mn_info("witness", "log=%s witnesses=%zu quorum=%s mode=%s timeout_ms=%" PRIu64, w->name,
		w->num, quorum_name(w->policy), w->fail_open ? "fail-open" : "wait",
		w->timeout_ms);
	return 0;
}

void cosign_stop(struct cosign *w)
{
	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_mutex_unlock(&w->mu);
		curl_multi_wakeup(w->multi);
		pthread_join(w->thread, NULL);
	}
	wits_free(w, w->wits, w->num);
	cosign_next_free(w, w->next);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	target_put(w->cur);
	pthread_mutex_destroy(&w->mu);
	tpolicy_free(w->own);
	free(w->info);
	free(w);
}

/* --- status and metrics ------------------------------------------------------------ */

void cosign_status(struct cosign *w, struct cosign_status *out)
{
	uint64_t now = mn_now_ms(), since;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&w->mu);
	out->fail_open = w->fail_open;
	out->served = w->served;
	out->served_size = w->served_size;
	out->latest_size = w->latest_size;
	since = w->served ? w->served_ts : w->start_ms;
	pthread_mutex_unlock(&w->mu);
	out->age_ms = now > since ? now - since : 0;
}

void cosign_metrics(struct cosign *w, struct prom *p, const char *labels)
{
	struct cosign_status s;
	char esc[TPOLICY_MAX_NAME * 2 + 8], extra[sizeof(esc) + 64];
	uint64_t unwitnessed;

	cosign_status(w, &s);
	/* under mu: a reload may swap the witnesses */
	pthread_mutex_lock(&w->mu);
	prom_family(p, "mn_witness_cosignatures_total", PROM_COUNTER,
		    "Verified cosignatures received, per witness.");
	for (size_t i = 0; i < w->num; i++) {
		prom_label_escape(esc, sizeof(esc), w->wits[i].pw->name);
		snprintf(extra, sizeof(extra), "witness=\"%s\"", esc);
		prom_u64(p, labels, extra, w->wits[i].cosigs);
	}
	prom_family(p, "mn_witness_failures_total", PROM_COUNTER,
		    "Failed add-checkpoint requests, per witness and reason.");
	for (size_t i = 0; i < w->num; i++) {
		prom_label_escape(esc, sizeof(esc), w->wits[i].pw->name);
		for (int r = 0; r < R_NUM; r++) {
			snprintf(extra, sizeof(extra), "witness=\"%s\",reason=\"%s\"", esc,
				 reason_names[r]);
			prom_u64(p, labels, extra, w->wits[i].fails[r]);
		}
	}
	unwitnessed = w->unwitnessed;
	pthread_mutex_unlock(&w->mu);
	prom_family(p, "mn_witness_served_size", PROM_GAUGE,
		    "Tree size of the served (witnessed) checkpoint.");
	prom_u64(p, labels, NULL, s.served_size);
	prom_family(p, "mn_witness_lag_entries", PROM_GAUGE,
		    "Entries in the latest STH that the served checkpoint does not cover.");
	prom_u64(p, labels, NULL, s.latest_size > s.served_size ? s.latest_size - s.served_size : 0);
	prom_family(p, "mn_witness_served_age_seconds", PROM_GAUGE,
		    "Age of the served checkpoint's tree head (since start while none).");
	prom_f64(p, labels, NULL, (double)s.age_ms / 1000.0);
	prom_family(p, "mn_witness_unwitnessed_total", PROM_COUNTER,
		    "Checkpoints served without the quorum (witness_mode: fail-open).");
	prom_u64(p, labels, NULL, unwitnessed);
}
