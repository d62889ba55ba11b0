/* publish.c: see publish.h. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "entry/note.h"
#include "entry/tileleaf.h"
#include "logd/publish.h"
#include "storage/storage.h"

#define MAX_CHECKPOINT 4096
#define SEEN_CAP 65536 /* issuers remembered as uploaded */

struct held {
	struct api_submission *sub;
	void (*done)(struct api_submission *sub, int status, const uint8_t *sct,
		     size_t sct_len, uint64_t index);
	void *ctx;
	uint64_t index;
	uint8_t *sct;
	size_t sct_len;
	struct publisher *pub;
	struct held *next;
};

struct publisher {
	struct api *api;
	struct store *st;
	struct objstore *os;
	struct api_sequencer inner;
	char name[80];
	int hold;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poked, started;
	/* under mu */
	uint64_t published, tree_size, ahead_since_ms;
	int failing;
	char error[256];
	uint64_t objects, bytes, failures;
	struct held *held;
	size_t num_held;

	/* thread only */
	uint8_t *last_cp;
	size_t last_cp_len;
	uint8_t (*seen)[32];
	size_t num_seen;
};

static void answer(struct held *h, int status)
{
	struct api_submission *sub = h->sub;

	sub->done = h->done;
	sub->ctx = h->ctx;
	h->done(sub, status, h->sct, h->sct_len, h->index);
	free(h->sct);
	free(h);
}

/* take_ready: unlinks the held submissions published covers (all with |all|). */
static struct held *take_ready(struct publisher *p, int all)
{
	struct held *ready = NULL, **pp = &p->held;

	while (*pp != NULL) {
		struct held *h = *pp;
		if (all || h->index < p->published) {
			*pp = h->next;
			h->next = ready;
			ready = h;
			p->num_held--;
		} else {
			pp = &h->next;
		}
	}
	return ready;
}

static void answer_all(struct held *list, int status)
{
	while (list != NULL) {
		struct held *next = list->next;
		answer(list, status);
		list = next;
	}
}

/* --- one round ---------------------------------------------------------------- */

struct round {
	struct publisher *p;
	char err[512];
	uint64_t objects, bytes;
};

static int put_object(struct round *r, const char *path, size_t len)
{
	struct api_response resp;
	int ret;

	if (!api_static_get(r->p->api, path, len, &resp) || resp.status != 200) {
		snprintf(r->err, sizeof(r->err), "cannot make %s: HTTP %d", path, resp.status);
		api_response_free(&resp);
		return MN_EINTERNAL;
	}
	/* durable at the round's barrier (round_once), before the checkpoint */
	ret = objstore_put_deferred(r->p->os, path, resp.body, resp.body_len, resp.content_type,
				    strncmp(path, "/tile/data/", 11) == 0, r->err, sizeof(r->err));
	if (ret == 0) {
		r->objects++;
		r->bytes += resp.body_len;
	}
	api_response_free(&resp);
	return ret;
}

static int object_fn(void *ctx, const char *path, size_t len)
{
	return put_object(ctx, path, len);
}

struct fps {
	uint8_t (*fp)[32];
	size_t num, cap;
};

static int collect_fp(void *ctx, const uint8_t *der, size_t der_len,
		      const uint8_t fp[TILELEAF_FP_LEN])
{
	struct fps *f = ctx;

	(void)der;
	(void)der_len;
	for (size_t i = 0; i < f->num; i++)
		if (memcmp(f->fp[i], fp, 32) == 0)
			return 0;
	if (f->num == f->cap) {
		size_t cap = f->cap != 0 ? f->cap * 2 : 16;
		void *n = realloc(f->fp, cap * 32);
		if (n == NULL)
			return MN_ENOMEM;
		f->fp = n;
		f->cap = cap;
	}
	memcpy(f->fp[f->num++], fp, 32);
	return 0;
}

static int seen(struct publisher *p, const uint8_t fp[32])
{
	for (size_t i = 0; i < p->num_seen; i++)
		if (memcmp(p->seen[i], fp, 32) == 0)
			return 1;
	return 0;
}

/* the issuers the entries [from, to) name, not uploaded yet; those put are
 * left in |f| (f->num), to be remembered once the barrier made them durable */
static int put_issuers(struct round *r, uint64_t from, uint64_t to, struct fps *put)
{
	struct publisher *p = r->p;
	struct store_entry ents[256];
	struct fps f = {0};
	size_t num_put = 0;
	int ret = 0;

	for (uint64_t i = from; ret == 0 && i < to;) {
		struct store_reader *rd;
		size_t num = 0, want = to - i > 256 ? 256 : (size_t)(to - i);
		ret = store_read_begin(p->st, &rd);
		if (ret != 0)
			break;
		ret = store_r_entries(rd, i, want, ents, &num);
		if (ret == 0 && num != want)
			ret = MN_ECORRUPT;
		for (size_t k = 0; ret == 0 && k < num; k++) {
			const uint8_t *l = ents[k].leaf_input;
			uint16_t type;
			if (ents[k].leaf_input_len < 12) {
				ret = MN_ECORRUPT;
				break;
			}
			type = (uint16_t)(l[10] << 8 | l[11]);
			if (type == 0 || type == 1)
				ret = tileleaf_issuers(type, ents[k].extra, ents[k].extra_len,
						       collect_fp, &f);
		}
		store_read_end(rd);
		i += num;
	}
	if (ret != 0)
		snprintf(r->err, sizeof(r->err), "cannot read the entries: %s", mn_strerror(ret));
	for (size_t i = 0; ret == 0 && i < f.num; i++) {
		char path[80];
		if (seen(p, f.fp[i]))
			continue;
		memcpy(path, "/issuer/", 8);
		for (size_t k = 0; k < 32; k++)
			snprintf(path + 8 + 2 * k, 3, "%02x", f.fp[i][k]);
		ret = put_object(r, path, 72);
		if (ret == 0)
			memmove(f.fp[num_put++], f.fp[i], 32); /* num_put <= i */
	}
	f.num = num_put;
	*put = f;
	return ret;
}

static void remember_issuers(struct publisher *p, const struct fps *f)
{
	for (size_t i = 0; i < f->num; i++) {
		if (p->num_seen == SEEN_CAP)
			p->num_seen = 0;
		memcpy(p->seen[p->num_seen++], f->fp[i], 32);
	}
}

/* round: publishes up to the current checkpoint. 0 or MN_E* (r->err).
 *
 * Durability: the round's tiles and issuers are put deferred (a directory
 * store writes and renames them without an fsync each), then one barrier
 * (objstore_sync) makes them all durable, and only then is the checkpoint put
 * (durably), so a durable checkpoint never commits to a tile that a crash can
 * take away. A crash before the checkpoint may leave the round's objects
 * missing, empty or torn; none of them is below the durable checkpoint (every
 * tile path a round writes is new: a tile at a width the last checkpoint did
 * not have; an issuer put again over its durable copy is fsynced before its
 * rename, objstore.h), and the next round, from that checkpoint (resume),
 * rewrites every object above it that a checkpoint will name. A failed round
 * is redone from the same size, and the issuers it put are only remembered as
 * uploaded after the barrier, so it puts them again too. */
static int round_once(struct round *r)
{
	struct publisher *p = r->p;
	struct api_response cp;
	struct note_checkpoint nc;
	struct fps issuers = {0};
	uint64_t from;
	int ret;

	if (!api_static_get(p->api, "/checkpoint", 11, &cp) || cp.status != 200) {
		api_response_free(&cp);
		return 0; /* no tree head yet */
	}
	if (note_parse_checkpoint(&nc, cp.body, cp.body_len) != 0) {
		api_response_free(&cp);
		snprintf(r->err, sizeof(r->err), "the log's own checkpoint does not parse");
		return MN_EINTERNAL;
	}
	pthread_mutex_lock(&p->mu);
	from = p->published;
	p->tree_size = nc.tree_size;
	if (nc.tree_size > from && p->ahead_since_ms == 0)
		p->ahead_since_ms = mn_now_ms();
	pthread_mutex_unlock(&p->mu);
	if (nc.tree_size < from) {
		api_response_free(&cp);
		return 0;
	}
	if (nc.tree_size == from && p->last_cp != NULL && p->last_cp_len == cp.body_len &&
	    memcmp(p->last_cp, cp.body, cp.body_len) == 0) {
		api_response_free(&cp);
		return 0;
	}
	ret = api_static_objects(from, nc.tree_size, object_fn, r);
	if (ret == 0)
		ret = put_issuers(r, from, nc.tree_size, &issuers);
	if (ret == 0)
		ret = objstore_sync(p->os, r->err, sizeof(r->err));
	if (ret == 0)
		remember_issuers(p, &issuers);
	free(issuers.fp);
	if (ret == 0)
		ret = objstore_put(p->os, "/checkpoint", cp.body, cp.body_len, cp.content_type, 0,
				   r->err, sizeof(r->err));
	if (ret == 0) {
		r->objects++;
		r->bytes += cp.body_len;
		free(p->last_cp);
		p->last_cp = cp.body;
		p->last_cp_len = cp.body_len;
		cp.body = NULL;
		pthread_mutex_lock(&p->mu);
		p->published = nc.tree_size;
		if (p->tree_size <= p->published)
			p->ahead_since_ms = 0;
		pthread_mutex_unlock(&p->mu);
	}
	api_response_free(&cp);
	return ret;
}

/* resume: the checkpoint already in the store, if it is this log's. */
static void resume(struct publisher *p)
{
	uint8_t *buf = NULL, root[MERKLE_HASH_LEN];
	size_t len = 0;
	struct note_checkpoint nc;
	struct store_reader *rd;
	char err[512];
	int ret;

	ret = objstore_get(p->os, "/checkpoint", MAX_CHECKPOINT, &buf, &len, err, sizeof(err));
	if (ret != 0) {
		if (ret != MN_ENOTFOUND)
			mn_warn("publish", "log=%s store=%s cannot read its checkpoint, publishing "
				"from 0: %s", p->name, objstore_describe(p->os), err);
		return;
	}
	if (note_parse_checkpoint(&nc, buf, len) == 0 && store_read_begin(p->st, &rd) == 0) {
		if (nc.tree_size <= store_r_tree_size(rd) &&
		    store_r_root(rd, nc.tree_size, root) == 0 &&
		    memcmp(root, nc.root, MERKLE_HASH_LEN) == 0) {
			p->published = nc.tree_size;
			p->tree_size = nc.tree_size;
		} else {
			mn_warn("publish", "log=%s store=%s holds a checkpoint of size %" PRIu64
				" that is not this log's tree: publishing from 0", p->name,
				objstore_describe(p->os), nc.tree_size);
		}
		store_read_end(rd);
	}
	free(buf);
}

static void wait_ms(struct publisher *p, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	while (!p->stop && !p->poked)
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0)
			break;
	p->poked = 0;
	pthread_mutex_unlock(&p->mu);
}

static int run_round(struct publisher *p)
{
	struct round r = {.p = p};
	struct held *ready;
	int ret = round_once(&r);

	pthread_mutex_lock(&p->mu);
	p->objects += r.objects;
	p->bytes += r.bytes;
	if (ret != 0) {
		if (!p->failing)
			mn_warn("publish", "log=%s store=%s publishing failed (will retry): %s",
				p->name, objstore_describe(p->os), r.err);
		p->failures++;
		p->failing = 1;
		snprintf(p->error, sizeof(p->error), "%.*s", (int)sizeof(p->error) - 1, r.err);
	} else if (p->failing) {
		p->failing = 0;
		p->error[0] = '\0';
		mn_info("publish", "log=%s store=%s publishing again, published=%" PRIu64,
			p->name, objstore_describe(p->os), p->published);
	}
	ready = take_ready(p, 0);
	pthread_mutex_unlock(&p->mu);
	answer_all(ready, 0);
	return ret;
}

static void *publish_thread(void *arg)
{
	struct publisher *p = arg;
	uint64_t backoff = 0;

	resume(p);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		if (run_round(p) != 0)
			backoff = backoff == 0 ? 100 : backoff * 2 > 5000 ? 5000 : backoff * 2;
		else
			backoff = 0;
		wait_ms(p, backoff != 0 ? backoff : 100);
		if (backoff != 0) {
			/* a poke does not cut a backoff short; only stop does */
			pthread_mutex_lock(&p->mu);
			p->poked = 0;
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

int publish_new(struct publisher **out, struct store *st, const struct publish_options *o)
{
	struct publisher *p = calloc(1, sizeof(*p));
	char err[512];
	int ret;

	*out = NULL;
	if (p == NULL || (p->seen = malloc(SEEN_CAP * 32)) == NULL) {
		free(p);
		return MN_ENOMEM;
	}
	ret = objstore_new(&p->os, &o->store, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "%s: publish: %s\n", o->name != NULL ? o->name : "logd", err);
		free(p->seen);
		free(p);
		return ret;
	}
	p->st = st;
	p->hold = o->sct_after_publish;
	snprintf(p->name, sizeof(p->name), "%s", o->name != NULL ? o->name : "/");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return 0;
}

int publish_start(struct publisher *p, struct api *api)
{
	p->api = api;
	if (pthread_create(&p->thread, NULL, publish_thread, p) != 0)
		return MN_ENOMEM;
	p->started = 1;
	mn_info("publish", "log=%s store=%s sct_after=%s", p->name, objstore_describe(p->os),
		p->hold ? "publish" : "commit");
	return 0;
}

void publish_poke(struct publisher *p)
{
	pthread_mutex_lock(&p->mu);
	p->poked = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void publish_stop(struct publisher *p)
{
	struct held *rest;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started) {
		pthread_join(p->thread, NULL);
		(void)run_round(p); /* what the sequencer committed while stopping */
	}
	pthread_mutex_lock(&p->mu);
	rest = take_ready(p, 1);
	pthread_mutex_unlock(&p->mu);
	answer_all(rest, MN_ESHUTDOWN);
	objstore_free(p->os);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->last_cp);
	free(p->seen);
	free(p);
}

/* --- sct_after: publish -------------------------------------------------------- */

static void held_done(struct api_submission *sub, int status, const uint8_t *sct,
		      size_t sct_len, uint64_t index)
{
	struct held *h = sub->ctx;
	struct publisher *p = h->pub;

	if (status != 0) {
		h->sct = NULL;
		h->sct_len = 0;
		sub->done = h->done;
		sub->ctx = h->ctx;
		h->done(sub, status, sct, sct_len, index);
		free(h);
		return;
	}
	h->index = index;
	h->sct = malloc(sct_len != 0 ? sct_len : 1);
	if (h->sct == NULL) {
		h->sct_len = 0;
		answer(h, MN_ENOMEM);
		return;
	}
	memcpy(h->sct, sct, sct_len);
	h->sct_len = sct_len;
	pthread_mutex_lock(&p->mu);
	if (index < p->published) {
		pthread_mutex_unlock(&p->mu);
		answer(h, 0);
		return;
	}
	h->next = p->held;
	p->held = h;
	p->num_held++;
	p->poked = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int held_submit(void *impl, struct api_submission *sub)
{
	struct publisher *p = impl;
	struct held *h = calloc(1, sizeof(*h));
	int ret;

	if (h == NULL)
		return MN_ENOMEM;
	h->sub = sub;
	h->done = sub->done;
	h->ctx = sub->ctx;
	h->pub = p;
	sub->done = held_done;
	sub->ctx = h;
	ret = p->inner.submit(p->inner.impl, sub);
	if (ret != 0) {
		sub->done = h->done;
		sub->ctx = h->ctx;
		free(h);
	}
	return ret;
}

struct api_sequencer publish_wrap(struct publisher *p, struct api_sequencer inner)
{
	if (p == NULL || !p->hold)
		return inner;
	p->inner = inner;
	return (struct api_sequencer){held_submit, p};
}

/* --- status and metrics ---------------------------------------------------------- */

void publish_status(struct publisher *p, struct publish_status *out)
{
	uint64_t now = mn_now_ms();

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->mu);
	out->published = p->published;
	out->tree_size = p->tree_size;
	out->lag_ms = p->ahead_since_ms != 0 && now > p->ahead_since_ms
			      ? now - p->ahead_since_ms : 0;
	out->failing = p->failing;
	snprintf(out->error, sizeof(out->error), "%.*s", (int)sizeof(out->error) - 1, p->error);
	pthread_mutex_unlock(&p->mu);
	snprintf(out->where, sizeof(out->where), "%.*s", (int)sizeof(out->where) - 1,
		 objstore_describe(p->os));
}

void publish_metrics(struct publisher *p, struct prom *w, const char *labels)
{
	struct publish_status s;
	uint64_t objects, bytes, failures;
	size_t held;

	publish_status(p, &s);
	pthread_mutex_lock(&p->mu);
	objects = p->objects;
	bytes = p->bytes;
	failures = p->failures;
	held = p->num_held;
	pthread_mutex_unlock(&p->mu);
	prom_family(w, "mn_publish_published_size", PROM_GAUGE,
		    "Tree size of the last checkpoint stored in the object store.");
	prom_u64(w, labels, NULL, s.published);
	prom_family(w, "mn_publish_lag_entries", PROM_GAUGE,
		    "Entries committed but not yet published.");
	prom_u64(w, labels, NULL, s.tree_size > s.published ? s.tree_size - s.published : 0);
	prom_family(w, "mn_publish_lag_seconds", PROM_GAUGE,
		    "How long the log has been ahead of its published checkpoint.");
	prom_f64(w, labels, NULL, (double)s.lag_ms / 1000.0);
	prom_family(w, "mn_publish_failing", PROM_GAUGE,
		    "1 while the last publishing round failed.");
	prom_u64(w, labels, NULL, (uint64_t)s.failing);
	prom_family(w, "mn_publish_objects_total", PROM_COUNTER, "Objects stored.");
	prom_u64(w, labels, NULL, objects);
	prom_family(w, "mn_publish_bytes_total", PROM_COUNTER, "Bytes of objects stored.");
	prom_u64(w, labels, NULL, bytes);
	prom_family(w, "mn_publish_failures_total", PROM_COUNTER, "Publishing rounds that failed.");
	prom_u64(w, labels, NULL, failures);
	prom_family(w, "mn_publish_held_scts", PROM_GAUGE,
		    "SCTs waiting for their publication (sct_after: publish).");
	prom_u64(w, labels, NULL, held);
}
