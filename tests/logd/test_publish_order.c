/* test_publish_order.c: the publisher's durability order (logd/publish.h,
 * logd/objstore.h), seen through the directory store's trace hook
 * (objstore_options.trace), with both barriers (fsync per file and
 * directory, syncfs).
 *
 * In-process: a store, the real sequencer and api, and a publisher to a
 * directory whose trace records every operation the store completed:
 * "write" (a deferred object renamed into place, not durable), "sync" (the
 * barrier) and "put" (a durable object). Entries are added in waves, each
 * waited for until published, so there are several rounds:
 *
 *   order   every "put /checkpoint" comes after a "sync" that follows every
 *           "write" before it (a checkpoint never commits to an object that
 *           is not durable yet), every round that wrote objects had its
 *           barrier, and the issuer the entries name was written;
 *   fault   the first barrier fails (the hook returns nonzero, as a failed
 *           fsync would): no checkpoint is put until a later barrier
 *           succeeded, and the retried round writes again every object the
 *           failed one wrote, the issuer included (it must not count as
 *           uploaded before it was durable). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "api/api.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "logd/keys.h"
#include "logd/objstore.h"
#include "logd/publish.h"
#include "logd/sequencer.h"
#include "storage/storage.h"

#define ORIGIN "order.example/publish"
#define CERT_LEN 300
#define MAX_OPS 4096

struct op {
	char op[8];
	char path[100];
};

struct trace {
	pthread_mutex_t mu;
	struct op ops[MAX_OPS];
	size_t num;
	int fail_syncs;  /* barriers still to fail */
	size_t failed_at; /* ops index of the failed barrier, or 0 */
};

static int record(void *ctx, const char *op, const char *path)
{
	struct trace *t = ctx;
	int fail = 0;

	pthread_mutex_lock(&t->mu);
	if (strcmp(op, "sync") == 0 && t->fail_syncs > 0) {
		t->fail_syncs--;
		t->failed_at = t->num;
		fail = 1;
		op = "FAILED";
	}
	if (t->num < MAX_OPS) {
		snprintf(t->ops[t->num].op, sizeof(t->ops[0].op), "%s", op);
		snprintf(t->ops[t->num].path, sizeof(t->ops[0].path), "%s",
			 path != NULL ? path : "");
		t->num++;
	}
	pthread_mutex_unlock(&t->mu);
	return fail;
}

struct env {
	char dir[64], data[100], pub[100], key[100], nkey[100];
	struct store *st;
	struct ct_signer *signer;
	struct note_signer *note;
	struct seq *q;
	struct api *api;
	struct publisher *p;
	uint8_t extra[6 + CERT_LEN];
	uint8_t issuer_key[33];
	struct store_index_key keys[1];
	uint64_t next_id;
};

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void env_start(struct env *e, struct trace *t, int barrier)
{
	struct store_options so = {0};
	struct publish_options po = {0};
	struct api_config ac = {0};
	uint8_t *cert = e->extra + 6;

	memset(e, 0, sizeof(*e));
	strcpy(e->dir, "/tmp/mn-puborder-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->data, sizeof(e->data), "%s/data", e->dir);
	snprintf(e->pub, sizeof(e->pub), "%s/pub", e->dir);
	snprintf(e->key, sizeof(e->key), "%s/log-key.pem", e->dir);
	snprintf(e->nkey, sizeof(e->nkey), "%s/note-key.pem", e->dir);
	/* certificate_chain<0..2^24-1> holding one ASN.1Cert (RFC 6962 section
	 * 4.6), filed under its issuer key 'i' || SHA-256(cert) as add-chain
	 * files it, so the publisher uploads it as /issuer/<hex> */
	for (size_t i = 0; i < CERT_LEN; i++)
		cert[i] = (uint8_t)(i * 31 + 5);
	e->extra[0] = 0, e->extra[1] = (3 + CERT_LEN) >> 8, e->extra[2] = (3 + CERT_LEN) & 0xff;
	e->extra[3] = 0, e->extra[4] = CERT_LEN >> 8, e->extra[5] = CERT_LEN & 0xff;
	e->issuer_key[0] = 'i';
	SHA256(cert, CERT_LEN, e->issuer_key + 1);
	e->keys[0].index = STORE_IDX_CERT;
	e->keys[0].key_len = sizeof(e->issuer_key);
	e->keys[0].key = e->issuer_key;

	so.dir = e->data;
	so.no_sync = 1;
	assert_int_equal(store_open(&e->st, &so), 0);
	assert_int_equal(logd_key_load(&e->signer, e->key, 1), 0);
	assert_int_equal(logd_note_key_load(&e->note, e->nkey, 1, ORIGIN), 0);
	assert_int_equal(seq_start(&e->q, e->st, e->signer, NULL), 0);
	po.store.url = e->pub;
	po.store.barrier = barrier;
	po.store.trace = record;
	po.store.trace_ctx = t;
	assert_int_equal(publish_new(&e->p, e->st, &po), 0);
	ac.store = e->st;
	ac.signer = e->signer;
	ac.note = e->note;
	ac.origin = ORIGIN;
	ac.seq = publish_wrap(e->p, seq_api(e->q));
	ac.max_entries = 256;
	e->api = api_new(&ac);
	assert_non_null(e->api);
	assert_int_equal(publish_start(e->p, e->api), 0);
}

static void env_stop(struct env *e)
{
	seq_stop(e->q);
	publish_stop(e->p);
	api_free(e->api);
	store_close(e->st);
	ct_signer_free(e->signer);
	note_signer_free(e->note);
	rm_rf(e->dir);
}

struct sub {
	struct api_submission s;
	uint8_t body[64];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static size_t num_done, num_failed;

static void on_done(struct api_submission *s, int status, const uint8_t *sct, size_t len,
		    uint64_t index)
{
	(void)s, (void)sct, (void)len, (void)index;
	pthread_mutex_lock(&mu);
	num_done++;
	num_failed += status != 0;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* add: |n| new entries through the sequencer, answered (committed). */
static void add(struct env *e, size_t n)
{
	struct sub *subs = calloc(n, sizeof(*subs));
	struct api_sequencer sq = seq_api(e->q);

	assert_non_null(subs);
	pthread_mutex_lock(&mu);
	num_done = num_failed = 0;
	pthread_mutex_unlock(&mu);
	for (size_t i = 0; i < n; i++) {
		struct sub *x = &subs[i];
		uint64_t id = e->next_id++;
		memset(x->body, 0x5a, sizeof(x->body));
		for (int k = 0; k < 8; k++)
			x->body[k] = (uint8_t)(id >> (8 * k));
		x->s.entry.entry_type = CT_X509_ENTRY;
		x->s.entry.body = x->body;
		x->s.entry.body_len = sizeof(x->body);
		x->s.extra = e->extra;
		x->s.extra_len = sizeof(e->extra);
		x->s.keys = e->keys;
		x->s.num_keys = 1;
		memcpy(x->s.dedup_key, x->body, 32);
		x->s.done = on_done;
		assert_int_equal(sq.submit(sq.impl, &x->s), 0);
	}
	pthread_mutex_lock(&mu);
	while (num_done < n)
		pthread_cond_wait(&cv, &mu);
	assert_int_equal(num_failed, 0);
	pthread_mutex_unlock(&mu);
	free(subs);
}

/* wait_published: polls publish_status until |size| is published (20 s). */
static void wait_published(struct env *e, uint64_t size)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	struct publish_status s;

	for (int i = 0; i < 2000; i++) {
		publish_poke(e->p);
		publish_status(e->p, &s);
		if (s.published == size)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("published %llu, never %llu (%s)", (unsigned long long)s.published,
		 (unsigned long long)size, s.error);
}

/* check_order: the durability rule over the whole trace; returns the number
 * of checkpoints put after objects had been written. */
static int check_order(struct trace *t)
{
	long last_write = -1, last_sync = -1;
	int rounds = 0, issuer = 0;

	for (size_t i = 0; i < t->num; i++) {
		const struct op *o = &t->ops[i];
		if (strcmp(o->op, "write") == 0) {
			last_write = (long)i;
			issuer |= strncmp(o->path, "/issuer/", 8) == 0;
			assert_string_not_equal(o->path, "/checkpoint");
		} else if (strcmp(o->op, "sync") == 0) {
			last_sync = (long)i;
		} else if (strcmp(o->op, "put") == 0) {
			assert_string_equal(o->path, "/checkpoint");
			if (last_write > last_sync)
				fail_msg("op %zu: the checkpoint was put after %s was written "
					 "(op %ld) with no barrier between them", i,
					 t->ops[last_write].path, last_write);
			rounds += last_write >= 0 && last_sync > last_write;
			last_write = -1;
		}
	}
	assert_true(issuer);
	return rounds;
}

static void run_order(int barrier)
{
	static struct trace t;
	struct env e;
	uint64_t size = 0;
	int rounds;

	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.mu, NULL);
	env_start(&e, &t, barrier);
	/* waves across a full tile, so rounds write full and partial tiles of
	 * levels 0 and 1 and data tiles */
	const size_t waves[] = {3, 40, 250, 17, 1};
	for (size_t w = 0; w < sizeof(waves) / sizeof(waves[0]); w++) {
		add(&e, waves[w]);
		size += waves[w];
		wait_published(&e, size);
	}
	env_stop(&e);
	rounds = check_order(&t);
	assert_true(rounds >= 5);
	pthread_mutex_destroy(&t.mu);
}

static void test_order_fsync(void **state)
{
	(void)state;
	run_order(OBJSTORE_BARRIER_FSYNC);
}

static void test_order_syncfs(void **state)
{
	(void)state;
	run_order(OBJSTORE_BARRIER_SYNCFS);
}

static void test_failed_barrier(void **state)
{
	static struct trace t;
	struct env e;
	size_t failed_at, first_write = 0, num_before = 0;
	int seen_issuer = 0;

	(void)state;
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.mu, NULL);
	t.fail_syncs = 1;
	env_start(&e, &t, OBJSTORE_BARRIER_FSYNC);
	add(&e, 300);
	wait_published(&e, 300);
	env_stop(&e);
	failed_at = t.failed_at;
	assert_true(failed_at > 0);
	/* the failed round: its writes, then no checkpoint until a barrier
	 * succeeded */
	for (size_t i = 0; i < failed_at; i++)
		if (strcmp(t.ops[i].op, "put") == 0)
			first_write = i + 1;
	for (size_t i = first_write; i < failed_at; i++) {
		assert_string_equal(t.ops[i].op, "write");
		num_before++;
	}
	assert_true(num_before > 0);
	for (size_t i = failed_at + 1; i < t.num; i++) {
		if (strcmp(t.ops[i].op, "sync") == 0)
			break;
		assert_string_not_equal(t.ops[i].op, "put");
	}
	/* each object of the failed round is written again before the next
	 * checkpoint */
	for (size_t i = first_write; i < failed_at; i++) {
		int again = 0;
		seen_issuer |= strncmp(t.ops[i].path, "/issuer/", 8) == 0;
		for (size_t k = failed_at + 1; k < t.num && !again; k++) {
			if (strcmp(t.ops[k].op, "put") == 0)
				break;
			again = strcmp(t.ops[k].op, "write") == 0 &&
				strcmp(t.ops[k].path, t.ops[i].path) == 0;
		}
		if (!again)
			fail_msg("%s, written in the round whose barrier failed, was not "
				 "written again before the next checkpoint", t.ops[i].path);
	}
	assert_true(seen_issuer);
	check_order(&t);
	pthread_mutex_destroy(&t.mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_fsync),
		cmocka_unit_test(test_order_syncfs),
		cmocka_unit_test(test_failed_barrier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
