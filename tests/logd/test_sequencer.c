/* test_sequencer.c: the group-commit sequencer over a real store and key:
 * SCTs and STHs verify, duplicates get the original SCT, a full queue says
 * busy, and SIGKILL at random moments never loses an answered submission.
 * The tests that depend on the log's format run for both: the static-ct-api
 * format (leaf_index SCTs signed after the commit, the default of a new
 * store) and the RFC 6962 one (SCTs signed before sequencing, stored). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "logd/keys.h"
#include "logd/sequencer.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

struct env {
	char dir[64];
	char key[128];
	struct store *st;
	struct ct_signer *signer;
	struct ct_verifier *verifier;
};

/* the format env_open creates a new store with: 1 = RFC 6962 (no leaf_index) */
static int legacy;

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void env_open(struct env *e, int sync)
{
	struct store_options so = {0};
	size_t spki_len;
	const uint8_t *spki;

	so.dir = e->dir;
	so.no_sync = !sync;
	so.no_leaf_index = legacy;
	assert_int_equal(store_open(&e->st, &so), 0);
	assert_int_equal(logd_key_load(&e->signer, e->key, 1), 0);
	spki = ct_signer_spki(e->signer, &spki_len);
	e->verifier = ct_verifier_new(spki, spki_len);
	assert_non_null(e->verifier);
}

static void env_close(struct env *e)
{
	ct_verifier_free(e->verifier);
	ct_signer_free(e->signer);
	store_close(e->st);
	e->verifier = NULL;
	e->signer = NULL;
	e->st = NULL;
}

static void env_init(struct env *e)
{
	strcpy(e->dir, "/tmp/mn-seq-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->key, sizeof(e->key), "%s/key.pem", e->dir);
}

/* A submission with its own body and a waiter. */
struct sub {
	struct api_submission s;
	uint8_t body[40];
	int status;
	uint64_t index;
	uint8_t sct[256];
	size_t sct_len;
	int done;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static size_t num_done;

static void on_done(struct api_submission *s, int status, const uint8_t *sct, size_t len,
		    uint64_t index)
{
	struct sub *x = (struct sub *)s;
	pthread_mutex_lock(&mu);
	x->status = status;
	x->index = index;
	if (status == 0 && len <= sizeof(x->sct)) {
		memcpy(x->sct, sct, len);
		x->sct_len = len;
	}
	x->done = 1;
	num_done++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void wait_done(size_t n)
{
	pthread_mutex_lock(&mu);
	while (num_done < n)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void make_sub(struct sub *x, uint64_t id)
{
	memset(x, 0, sizeof(*x));
	memset(x->body, 0xab, sizeof(x->body));
	for (int i = 0; i < 8; i++)
		x->body[i] = (uint8_t)(id >> (8 * i));
	x->s.entry.entry_type = CT_X509_ENTRY;
	x->s.entry.body = x->body;
	x->s.entry.body_len = sizeof(x->body);
	x->s.extra = (const uint8_t *)"\x00\x00\x00";
	x->s.extra_len = 3;
	/* the dedup key is the content: equal bodies are duplicates */
	memset(x->s.dedup_key, 0, 32);
	memcpy(x->s.dedup_key, x->body, 8);
	x->s.done = on_done;
}

/* check that |x|'s SCT verifies over its entry and that the stored leaf is it:
 * in a leaf_index log its extensions name the index it was answered with, and
 * so do the stored leaf's; the RFC 6962 format stores the SCT handed out */
static void check_sct(struct env *e, struct store_reader *rd, struct sub *x)
{
	struct ct_sct sct;
	struct ct_entry ent, stored;
	struct store_entry se;
	uint64_t idx;
	int has;

	assert_int_equal(x->status, 0);
	assert_true(ct_parse_sct(&sct, x->sct, x->sct_len));
	assert_memory_equal(sct.log_id, ct_verifier_log_id(e->verifier), 32);
	assert_true(ct_parse_extensions(sct.extensions, sct.extensions_len, &has, &idx));
	assert_int_equal(has, !legacy);
	if (has)
		assert_int_equal(idx, x->index);
	ent = x->s.entry;
	ent.timestamp = sct.timestamp;
	ent.extensions = sct.extensions;
	ent.extensions_len = sct.extensions_len;
	assert_true(ct_verify_sct(e->verifier, &sct, &ent));
	assert_int_equal(store_r_entry(rd, x->index, &se), 0);
	if (legacy) {
		assert_int_equal(se.sct_len, x->sct_len);
		assert_memory_equal(se.sct, x->sct, x->sct_len);
	} else {
		assert_int_equal(se.sct_len, 0);
	}
	assert_true(ct_parse_leaf(&stored, se.leaf_input, se.leaf_input_len));
	assert_int_equal(stored.timestamp, sct.timestamp);
	assert_int_equal(stored.extensions_len, sct.extensions_len);
	assert_memory_equal(stored.extensions, sct.extensions, sct.extensions_len);
	assert_int_equal(stored.body_len, sizeof(x->body));
	assert_memory_equal(stored.body, x->body, sizeof(x->body));
}

/* same_sct: |a| and |b| are the same SCT but, in a leaf_index log, for the
 * signature bytes: a duplicate of a stored leaf gets its SCT signed again
 * (the same timestamp, leaf_index and signed bytes; ECDSA is randomized).
 * The RFC 6962 format hands out the stored SCT itself. */
static void same_sct(const struct sub *a, const struct sub *b)
{
	struct ct_sct x, y;

	if (legacy || (a->sct_len == b->sct_len &&
		       memcmp(a->sct, b->sct, a->sct_len) == 0)) {
		assert_int_equal(a->sct_len, b->sct_len);
		assert_memory_equal(a->sct, b->sct, a->sct_len);
		return;
	}
	assert_true(ct_parse_sct(&x, a->sct, a->sct_len));
	assert_true(ct_parse_sct(&y, b->sct, b->sct_len));
	assert_int_equal(x.timestamp, y.timestamp);
	assert_int_equal(x.extensions_len, y.extensions_len);
	assert_memory_equal(x.extensions, y.extensions, x.extensions_len);
	assert_memory_equal(x.log_id, y.log_id, 32);
}

static void check_sth(struct env *e, struct store_reader *rd, uint64_t min_ts)
{
	struct store_sth sth;
	struct ct_sig sig;
	struct cbs cbs;
	uint8_t root[32];

	assert_int_equal(store_r_sth(rd, &sth), 0);
	cbs_init(&cbs, sth.sig, sth.sig_len);
	assert_true(ct_parse_sig(&sig, &cbs));
	assert_int_equal(cbs_len(&cbs), 0);
	assert_true(ct_verify_sth(e->verifier, &sig, sth.timestamp, sth.tree_size, sth.root));
	assert_true(sth.timestamp >= min_ts);
	assert_true(sth.timestamp <= mn_now_ms());
	assert_int_equal(store_r_root(rd, sth.tree_size, root), 0);
	assert_memory_equal(root, sth.root, 32);
}

#define NSUB 3000
#define NTHREADS 4

struct submitter {
	struct seq *q;
	struct sub *subs;
	size_t n;
};

static void *submit_thread(void *arg)
{
	struct submitter *s = arg;
	for (size_t i = 0; i < s->n; i++)
		assert_int_equal(seq_submit(s->q, &s->subs[i].s), 0);
	return NULL;
}

static void concurrent_submissions(void)
{
	struct env e;
	struct seq *q;
	struct sub *subs = calloc(NSUB, sizeof(*subs));
	struct submitter sm[NTHREADS];
	pthread_t th[NTHREADS];
	struct store_reader *rd;
	uint64_t max_ts = 0;
	size_t i;
	uint8_t *seen;

	env_init(&e);
	env_open(&e, 0);
	assert_int_equal(store_format(e.st), legacy ? 0 : STORE_FMT_LEAF_INDEX);
	num_done = 0;
	assert_int_equal(seq_start(&q, e.st, e.signer, NULL), 0);
	/* a new log has a signed STH for the empty tree at once */
	assert_int_equal(store_read_begin(e.st, &rd), 0);
	check_sth(&e, rd, 0);
	store_read_end(rd);
	for (i = 0; i < NSUB; i++)
		make_sub(&subs[i], i % (NSUB - 100)); /* the last 100 duplicate the first */
	for (i = 0; i < NTHREADS; i++) {
		sm[i].q = q;
		sm[i].subs = subs + i * (NSUB / NTHREADS);
		sm[i].n = NSUB / NTHREADS;
		assert_int_equal(pthread_create(&th[i], NULL, submit_thread, &sm[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	wait_done(NSUB);
	seq_stop(q);

	seen = calloc(NSUB, 1);
	assert_int_equal(store_read_begin(e.st, &rd), 0);
	assert_int_equal(store_r_tree_size(rd), NSUB - 100);
	for (i = 0; i < NSUB; i++) {
		struct ct_sct sct;
		check_sct(&e, rd, &subs[i]);
		assert_true(ct_parse_sct(&sct, subs[i].sct, subs[i].sct_len));
		if (sct.timestamp > max_ts)
			max_ts = sct.timestamp;
		if (i >= NSUB - 100) {
			/* a duplicate: the same leaf and the same SCT as the original */
			struct sub *orig = &subs[i - (NSUB - 100)];
			assert_int_equal(subs[i].index, orig->index);
			same_sct(&subs[i], orig);
		} else {
			assert_int_equal(seen[subs[i].index], 0);
			seen[subs[i].index] = 1;
		}
	}
	/* the STH covers every SCT and is not older than any of them */
	check_sth(&e, rd, max_ts);
	store_read_end(rd);

	/* a resubmission after the commit gets the stored SCT */
	assert_int_equal(seq_start(&q, e.st, e.signer, NULL), 0);
	{
		struct sub again;
		make_sub(&again, 7);
		num_done = 0;
		assert_int_equal(seq_submit(q, &again.s), 0);
		wait_done(1);
		assert_int_equal(again.status, 0);
		assert_int_equal(again.index, subs[7].index);
		same_sct(&again, &subs[7]);
		assert_int_equal(store_read_begin(e.st, &rd), 0);
		check_sct(&e, rd, &again);
		store_read_end(rd);
	}
	seq_stop(q);
	env_close(&e);
	/* the format is the store's, from its creation: reopened the other way
	 * round, it is what it was */
	legacy = !legacy;
	env_open(&e, 0);
	assert_int_equal(store_format(e.st), !legacy ? 0 : STORE_FMT_LEAF_INDEX);
	env_close(&e);
	legacy = !legacy;
	free(seen);
	free(subs);
	rm_rf(e.dir);
}

static void test_concurrent_submissions(void **state)
{
	(void)state;
	legacy = 0;
	concurrent_submissions();
}

static void test_concurrent_submissions_rfc6962(void **state)
{
	(void)state;
	legacy = 1;
	concurrent_submissions();
	legacy = 0;
}

/* max_signers = 1: submissions from several threads take turns signing and all
 * commit; a refused submission gives its turn back (a leaked turn would block
 * every later submission: the alarm fails the test then). */
static void max_signers(void)
{
	struct env e;
	struct seq *q;
	struct seq_options o = {.max_signers = 1};
	struct sub *subs = calloc(400, sizeof(*subs)), bad;
	struct submitter sm[NTHREADS];
	pthread_t th[NTHREADS];
	struct store_reader *rd;
	size_t i;

	assert_non_null(subs);
	env_init(&e);
	env_open(&e, 0);
	num_done = 0;
	assert_int_equal(seq_start(&q, e.st, e.signer, &o), 0);
	alarm(120);
	make_sub(&bad, 1u << 20);
	bad.s.entry.body_len = 0;
	assert_int_equal(seq_submit(q, &bad.s), MN_EINVAL);
	assert_int_equal(seq_submit(q, &bad.s), MN_EINVAL);
	for (i = 0; i < 400; i++)
		make_sub(&subs[i], i);
	for (i = 0; i < NTHREADS; i++) {
		sm[i].q = q;
		sm[i].subs = subs + i * (400 / NTHREADS);
		sm[i].n = 400 / NTHREADS;
		assert_int_equal(pthread_create(&th[i], NULL, submit_thread, &sm[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	wait_done(400);
	seq_stop(q);
	alarm(0);
	assert_int_equal(store_read_begin(e.st, &rd), 0);
	assert_int_equal(store_r_tree_size(rd), 400);
	for (i = 0; i < 400; i++)
		check_sct(&e, rd, &subs[i]);
	store_read_end(rd);
	env_close(&e);
	free(subs);
	rm_rf(e.dir);
}

/* In a leaf_index log max_signers is the number of signing threads: one
 * answers everything too. */
static void test_max_signers(void **state)
{
	(void)state;
	legacy = 1;
	max_signers();
	legacy = 0;
	max_signers();
}

/* The queue bound: while the sequencer thread (RFC 6962 format) or the one
 * signing thread (leaf_index) is inside a done callback, nothing is answered,
 * so the queue fills deterministically: what waits for its SCT counts too. */
static struct seq *busy_q;
static struct sub busy_subs[5];
static int busy_results[5];

static void on_done_fill(struct api_submission *s, int status, const uint8_t *sct,
			 size_t len, uint64_t index)
{
	for (int i = 0; i < 5; i++) {
		make_sub(&busy_subs[i], 1000 + (uint64_t)i);
		busy_results[i] = seq_submit(busy_q, &busy_subs[i].s);
	}
	on_done(s, status, sct, len, index);
}

static void queue_full(void)
{
	struct env e;
	struct seq_options o = {.max_queue = 3, .max_signers = 1};
	struct sub first;

	memset(busy_results, 0, sizeof(busy_results));
	env_init(&e);
	env_open(&e, 0);
	num_done = 0;
	assert_int_equal(seq_start(&busy_q, e.st, e.signer, &o), 0);
	make_sub(&first, 1);
	first.s.done = on_done_fill;
	assert_int_equal(seq_submit(busy_q, &first.s), 0);
	wait_done(1 + 3);
	assert_int_equal(busy_results[0], 0);
	assert_int_equal(busy_results[1], 0);
	assert_int_equal(busy_results[2], 0);
	assert_int_equal(busy_results[3], MN_EBUSY);
	assert_int_equal(busy_results[4], MN_EBUSY);
	seq_stop(busy_q);
	/* after stop, nothing is accepted (the object is gone; a new one stops too) */
	env_close(&e);
	rm_rf(e.dir);
}

static void test_queue_full(void **state)
{
	(void)state;
	legacy = 1;
	queue_full();
	legacy = 0;
	queue_full();
}

/* Policy heads: a serial not above the current head is refused alone, both
 * against the stored head and within one batch. */
static struct sub pol[4];

static void on_done_policies(struct api_submission *s, int status, const uint8_t *sct,
			     size_t len, uint64_t index)
{
	/* the sequencer is busy in this callback: these two share the next batch */
	assert_int_equal(seq_submit(busy_q, &pol[2].s), 0);
	assert_int_equal(seq_submit(busy_q, &pol[3].s), 0);
	on_done(s, status, sct, len, index);
}

static void test_policy_serials(void **state)
{
	struct env e;
	static const uint64_t serials[4] = {5, 5, 9, 8};

	(void)state;
	env_init(&e);
	env_open(&e, 0);
	num_done = 0;
	assert_int_equal(seq_start(&busy_q, e.st, e.signer, NULL), 0);
	for (int i = 0; i < 4; i++) {
		make_sub(&pol[i], 500 + (uint64_t)i);
		pol[i].s.entry.entry_type = MN_SIGNED_POLICY_ENTRY;
		pol[i].s.policy_key = (const uint8_t *)"example.com|smtp";
		pol[i].s.policy_key_len = 16;
		pol[i].s.policy_serial = serials[i];
	}
	assert_int_equal(seq_submit(busy_q, &pol[0].s), 0);
	wait_done(1);
	assert_int_equal(pol[0].status, 0);
	pol[1].s.done = on_done_policies;
	/* serial 5 again (different content): refused, then 9 and 8 together */
	assert_int_equal(seq_submit(busy_q, &pol[1].s), 0);
	wait_done(4);
	assert_int_equal(pol[1].status, MN_ERANGE);
	assert_int_equal(pol[2].status, 0);
	assert_int_equal(pol[3].status, MN_ERANGE);
	seq_stop(busy_q);
	{
		struct store_reader *rd;
		uint64_t serial, index;
		assert_int_equal(store_read_begin(e.st, &rd), 0);
		assert_int_equal(store_r_tree_size(rd), 2);
		assert_int_equal(store_r_policy_head(rd, (const uint8_t *)"example.com|smtp", 16,
						     &serial, &index), 0);
		assert_int_equal(serial, 9);
		assert_int_equal(index, pol[2].index);
		store_read_end(rd);
	}
	env_close(&e);
	rm_rf(e.dir);
}

/* An idle log re-signs its STH every resign_ms, so the STH is never older than
 * the MMD; the tree stays the same and the timestamp only moves forward. */
static void test_idle_resign(void **state)
{
	struct env e;
	struct seq_options o = {.resign_ms = 20};
	struct store_reader *rd;
	struct store_sth first, now;
	uint64_t deadline = mn_mono_ns() + 10ull * 1000000000ull;
	struct seq *q;

	(void)state;
	env_init(&e);
	env_open(&e, 0);
	assert_int_equal(seq_start(&q, e.st, e.signer, &o), 0);
	assert_int_equal(store_read_begin(e.st, &rd), 0);
	assert_int_equal(store_r_sth(rd, &first), 0);
	store_read_end(rd);
	/* wait for a time-driven event: poll the store, bounded */
	do {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
		assert_int_equal(store_read_begin(e.st, &rd), 0);
		check_sth(&e, rd, first.timestamp);
		assert_int_equal(store_r_sth(rd, &now), 0);
		store_read_end(rd);
	} while (now.timestamp == first.timestamp && mn_mono_ns() < deadline);
	assert_true(now.timestamp > first.timestamp);
	assert_int_equal(now.tree_size, first.tree_size);
	assert_memory_equal(now.root, first.root, 32);
	seq_stop(q);
	env_close(&e);
	rm_rf(e.dir);
}

static void test_key_files(void **state)
{
	struct env e;
	struct ct_signer *s = NULL;
	struct stat st;
	char bad[160];
	FILE *f;

	(void)state;
	env_init(&e);
	assert_int_equal(logd_key_load(&s, e.key, 0), MN_ENOTFOUND);
	assert_int_equal(logd_key_load(&s, e.key, 1), 0);
	assert_int_equal(stat(e.key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	{
		/* the same key loads again with the same log ID */
		struct ct_signer *s2;
		assert_int_equal(logd_key_load(&s2, e.key, 1), 0);
		assert_memory_equal(ct_signer_log_id(s), ct_signer_log_id(s2), 32);
		ct_signer_free(s2);
	}
	ct_signer_free(s);
	snprintf(bad, sizeof(bad), "%s/bad.pem", e.dir);
	f = fopen(bad, "w");
	fputs("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	assert_int_equal(logd_key_load(&s, bad, 1), MN_EMALFORMED);
	/* an RSA key is not a log key */
	snprintf(bad, sizeof(bad), "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
		 "-out %s/rsa.pem 2>/dev/null", e.dir);
	assert_int_equal(system(bad), 0);
	snprintf(bad, sizeof(bad), "%s/rsa.pem", e.dir);
	assert_int_equal(logd_key_load(&s, bad, 1), MN_EMALFORMED);
	rm_rf(e.dir);
}

/* Crash safety: a child runs the sequencer with durable commits and reports
 * every answered submission (index and SCT) on a pipe; the parent SIGKILLs it
 * at random moments. After each kill the log must hold every answered entry
 * with the SCT handed out, match its STH, and stay consistent with every STH
 * seen before. */
struct ack {
	uint64_t id, index;
	uint16_t sct_len;
	uint8_t sct[200];
};

static int ack_fd = -1;

static void on_done_ack(struct api_submission *s, int status, const uint8_t *sct,
			size_t len, uint64_t index)
{
	struct sub *x = (struct sub *)s;
	struct ack a;

	if (status == 0 && len <= sizeof(a.sct)) {
		memset(&a, 0, sizeof(a));
		memcpy(&a.id, x->body, 8);
		a.index = index;
		a.sct_len = (uint16_t)len;
		memcpy(a.sct, sct, len);
		/* a pipe write of <= PIPE_BUF bytes is atomic */
		if (write(ack_fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(3);
	}
	free(x);
}

static void child_run(struct env *e, uint64_t first_id, int fd)
{
	struct seq *q;
	uint64_t id = first_id;

	ack_fd = fd;
	env_open(e, 1);
	if (seq_start(&q, e->st, e->signer, NULL) != 0)
		_exit(2);
	for (;;) {
		struct sub *x = malloc(sizeof(*x));
		make_sub(x, id++);
		x->s.done = on_done_ack;
		while (seq_submit(q, &x->s) == MN_EBUSY)
			sched_yield();
	}
}

#define KILLS 20

static void test_kill9(void **state)
{
	struct env e;
	struct ack *acks = NULL;
	size_t num_acks = 0, cap = 0;
	struct store_sth seen[KILLS + 1];
	size_t num_seen = 0;
	uint64_t next_id = 1;
	struct merkle_hasher *h = merkle_hasher_new();

	(void)state;
	env_init(&e);
	for (int k = 0; k < KILLS; k++) {
		int fds[2];
		pid_t pid;
		unsigned char r;
		size_t want, got = 0;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_run(&e, next_id, fds[1]);
			_exit(0);
		}
		close(fds[1]);
		assert_int_equal(RAND_bytes(&r, 1), 1);
		want = 1 + r % 200;
		/* kill after a random number of answers, at a random point of a commit */
		while (got < want) {
			if (cap == num_acks) {
				cap = cap ? 2 * cap : 1024;
				acks = realloc(acks, cap * sizeof(*acks));
			}
			ssize_t n = read(fds[0], &acks[num_acks], sizeof(*acks));
			assert_int_equal(n, (ssize_t)sizeof(*acks));
			num_acks++;
			got++;
		}
		kill(pid, SIGKILL);
		/* answers already in the pipe were given out too: keep them */
		for (;;) {
			if (cap == num_acks) {
				cap *= 2;
				acks = realloc(acks, cap * sizeof(*acks));
			}
			ssize_t n = read(fds[0], &acks[num_acks], sizeof(*acks));
			if (n <= 0)
				break;
			assert_int_equal(n, (ssize_t)sizeof(*acks));
			num_acks++;
		}
		close(fds[0]);
		waitpid(pid, NULL, 0);
		next_id += 1000000;

		/* reopen as the restarted log would */
		env_open(&e, 1);
		{
			struct store_reader *rd;
			struct store_sth sth;
			struct merkle_range range;
			uint8_t root[32];
			uint64_t size;

			assert_int_equal(store_read_begin(e.st, &rd), 0);
			check_sth(&e, rd, 0);
			assert_int_equal(store_r_sth(rd, &sth), 0);
			size = store_r_tree_size(rd);
			assert_int_equal(size, sth.tree_size);
			for (size_t i = 0; i < num_acks; i++) {
				struct store_entry se;
				struct ct_sct sct;
				struct ct_entry ent;
				int has;
				uint64_t idx;
				assert_true(acks[i].index < size);
				assert_int_equal(store_r_entry(rd, acks[i].index, &se), 0);
				/* a new store: leaf_index SCTs, signed from the leaf
				 * after the commit, not stored; so the SCT handed out
				 * must verify over the stored leaf and name its index */
				assert_int_equal(se.sct_len, 0);
				assert_true(ct_parse_sct(&sct, acks[i].sct, acks[i].sct_len));
				assert_true(ct_parse_leaf(&ent, se.leaf_input, se.leaf_input_len));
				assert_int_equal(ent.timestamp, sct.timestamp);
				assert_true(ct_parse_extensions(sct.extensions, sct.extensions_len,
								&has, &idx));
				assert_true(has);
				assert_int_equal(idx, acks[i].index);
				assert_int_equal(ent.extensions_len, sct.extensions_len);
				assert_memory_equal(ent.extensions, sct.extensions,
						    sct.extensions_len);
				assert_true(ct_verify_sct(e.verifier, &sct, &ent));
			}
			/* recompute the root from the stored leaves */
			merkle_range_init(&range);
			for (uint64_t i = 0; i < size; i++) {
				struct store_entry se;
				uint8_t lh[32];
				assert_int_equal(store_r_entry(rd, i, &se), 0);
				merkle_leaf_hash(h, lh, se.leaf_input, se.leaf_input_len);
				assert_int_equal(merkle_range_append(&range, h, lh, NULL, NULL), 0);
			}
			merkle_range_root(&range, h, root);
			assert_memory_equal(root, sth.root, 32);
			/* consistent with every STH seen before the kills */
			for (size_t i = 0; i < num_seen; i++) {
				uint8_t proof[MERKLE_MAX_PROOF][32];
				size_t num;
				assert_true(seen[i].tree_size <= size);
				assert_true(seen[i].timestamp <= sth.timestamp);
				assert_int_equal(store_r_consistency_proof(rd, seen[i].tree_size, size,
									   proof, &num), 0);
				assert_true(merkle_verify_consistency(h, seen[i].tree_size, size,
								      seen[i].root, sth.root,
								      (const uint8_t(*)[32])proof, num));
			}
			seen[num_seen++] = sth;
			store_read_end(rd);
		}
		env_close(&e);
	}
	assert_true(num_acks >= KILLS);
	merkle_hasher_free(h);
	free(acks);
	rm_rf(e.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_submissions),
		cmocka_unit_test(test_concurrent_submissions_rfc6962),
		cmocka_unit_test(test_max_signers),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_policy_serials),
		cmocka_unit_test(test_idle_resign),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_kill9),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
