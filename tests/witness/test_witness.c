/* test_witness.c: witness/witness.h against c2sp.org/tlog-witness v1.0.0:
 * every status of add-checkpoint with bodies built here (tests/lib/witfix.h:
 * checkpoints signed by a test log key over the reference tree, proofs from
 * the reference tree), the 200 answer checked with cosig_verify and with
 * openssl's Ed25519, the monitoring checkpoint, state across restarts, and
 * concurrent requests racing on one log. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/cosig.h"
#include "entry/note.h"
#include "tests/lib/files.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/witfix.h"
#include "witness/witness.h"

static char dir[] = "/tmp/mn-witness-XXXXXX";
static char path_state[256], path_key[256], path_logs[256];

static struct witfix *logA, *forkA, *logB, *stranger;

static void paths(void)
{
	snprintf(path_state, sizeof(path_state), "%s/state", dir);
	snprintf(path_key, sizeof(path_key), "%s/witness.pem", dir);
	snprintf(path_logs, sizeof(path_logs), "%s/logs", dir);
}

static struct witness *open_witness(void)
{
	struct witness *w = NULL;
	char err[512] = "";
	int r = witness_new(&w, path_state, path_logs, path_key, "witness.example/w1", err,
			    sizeof(err));

	if (r != 0)
		fprintf(stderr, "witness_new: %s\n", err);
	assert_int_equal(r, 0);
	return w;
}

/* post sends |body| and returns the answer (cleanup by the caller). */
static struct witness_answer post(struct witness *w, const uint8_t *body, size_t len)
{
	struct witness_answer a;

	assert_int_equal(witness_add_checkpoint(w, body, len, &a), 0);
	assert_non_null(a.body);
	assert_non_null(a.content_type);
	return a;
}

static int post_status(struct witness *w, const uint8_t *body, size_t len)
{
	struct witness_answer a = post(w, body, len);
	int st = a.status;

	witness_answer_cleanup(&a);
	return st;
}

/* add: a correct request from |old| to |n| of |f|: the status. */
static int add(struct witness *w, struct witfix *f, size_t old, size_t n)
{
	size_t len;
	uint8_t *b = witfix_body(f, old, n, &len);
	int st = post_status(w, b, len);

	free(b);
	return st;
}

/* body_with: a request with a chosen proof and root. */
static uint8_t *body_with(struct witfix *f, uint64_t old, const uint8_t (*proof)[32], size_t pl,
			  size_t n, const uint8_t *root, size_t *len)
{
	size_t cl;
	uint8_t *cp = witfix_checkpoint(f, n, root, &cl), *out;
	struct cbb b;

	assert_true(cbb_init(&b, cl + 4096, 1 << 20));
	assert_true(wit_format_request(&b, old, proof, pl, cp, cl));
	assert_true(cbb_finish(&b, &out, len));
	free(cp);
	return out;
}

/* status_with: the status of a request made by body_with. */
static int status_with(struct witness *w, struct witfix *f, uint64_t old,
		       const uint8_t (*proof)[32], size_t pl, size_t n, const uint8_t *root)
{
	size_t len;
	uint8_t *b = body_with(f, old, proof, pl, n, root, &len);
	int st = post_status(w, b, len);

	free(b);
	return st;
}

static void reset_state(void)
{
	assert_int_equal(mnfix_rm_rf(path_state), 0);
}

static void test_statuses(void **state)
{
	static const uint8_t empty[32] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8,
		0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
		0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};
	uint8_t proof[66][32], root[32], *b;
	struct witness_answer a;
	struct witness *w;
	size_t len, pl;

	(void)state;
	reset_state();
	w = open_witness();

	/* 400: malformed bodies */
	{
		static const char *bad[] = {
			"", "old 0\n", "old x\n\nfoo\n", "old 01\n\n", "old 0\nnot base64!\n\n",
			"old 0\n\nnot a checkpoint\n", "old 0\n\norigin\n1\n",
			"new 0\n\nlog.a\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			a = post(w, (const uint8_t *)bad[i], strlen(bad[i]));
			assert_int_equal(a.status, 400);
			assert_string_equal(a.content_type, "text/plain; charset=utf-8");
			assert_non_null(strstr((char *)a.body, "malformed"));
			witness_answer_cleanup(&a);
		}
	}
	/* 400: 64 proof lines (the client MUST NOT send more than 63) */
	memset(proof, 7, sizeof(proof));
	/* 63 parse: the size check */
	assert_int_equal(status_with(w, logA, 5, (const uint8_t(*)[32])proof, 63, 10, NULL), 409);
	{
		/* a 64th line, inserted by hand */
		uint8_t *b63 = body_with(logA, 5, (const uint8_t(*)[32])proof, 63, 10, NULL, &len);
		uint8_t *b64 = malloc(len + 45);
		const char *line = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n";
		size_t first = (size_t)((uint8_t *)memchr(b63, '\n', len) + 1 - b63);
		memcpy(b64, b63, first);
		memcpy(b64 + first, line, 45);
		memcpy(b64 + first + 45, b63 + first, len - first);
		a = post(w, b64, len + 45);
		assert_int_equal(a.status, 400);
		assert_non_null(strstr((char *)a.body, "63"));
		witness_answer_cleanup(&a);
		free(b63);
		free(b64);
	}
	/* 404: an origin the logs file does not list */
	b = witfix_body(stranger, 0, 3, &len);
	assert_int_equal(post_status(w, b, len), 404);
	free(b);
	/* 403: the origin, signed by another key */
	{
		struct witfix *imp = witfix_new("log.example/a", 4, "A");
		b = witfix_body(imp, 0, 3, &len);
		assert_int_equal(post_status(w, b, len), 403);
		free(b);
		witfix_free(imp);
	}
	/* 403: the right key name and ID, a bad signature (a flipped byte of the
	 * Ed25519 line) */
	{
		b = witfix_body(logA, 0, 3, &len);
		/* the last line is the Ed25519 one: flip a base64 char in its middle */
		size_t at = len - 30;
		b[at] = b[at] == 'A' ? 'B' : 'A';
		a = post(w, b, len);
		assert_int_equal(a.status, 403);
		witness_answer_cleanup(&a);
		free(b);
	}
	/* 403: only the RFC 6962 line (the Ed25519 line cut off) */
	{
		size_t cl;
		uint8_t *cp = witfix_checkpoint(logA, 3, NULL, &cl);
		uint8_t *last = (uint8_t *)memrchr(cp, '\n', cl - 1);
		struct cbb bb;
		assert_true(cbb_init(&bb, 1024, 1 << 20));
		assert_true(wit_format_request(&bb, 0, NULL, 0, cp, (size_t)(last + 1 - cp)));
		assert_true(cbb_finish(&bb, &b, &len));
		assert_int_equal(post_status(w, b, len), 403);
		free(b);
		free(cp);
	}
	/* 400: old > size */
	assert_int_equal(status_with(w, logA, 4, NULL, 0, 3, NULL), 400);
	/* 409: old is not the size last cosigned (0): body "0\n", text/x.tlog.size */
	pl = witfix_proof(logA, 2, 3, proof);
	b = body_with(logA, 2, (const uint8_t(*)[32])proof, pl, 3, NULL, &len);
	a = post(w, b, len);
	assert_int_equal(a.status, 409);
	assert_string_equal(a.content_type, "text/x.tlog.size");
	{
		uint64_t sz = 99;
		assert_int_equal(wit_parse_size(a.body, a.body_len, &sz), 0);
		assert_int_equal(sz, 0);
	}
	witness_answer_cleanup(&a);
	free(b);
	/* 422: size 0 with another root */
	memset(root, 1, 32);
	assert_int_equal(status_with(w, logA, 0, NULL, 0, 0, root), 422);
	/* 422: a proof with old 0 */
	memset(proof, 9, 32);
	assert_int_equal(status_with(w, logA, 0, (const uint8_t(*)[32])proof, 1, 3, NULL), 422);
	/* 200: size 0, the empty root */
	assert_int_equal(status_with(w, logA, 0, NULL, 0, 0, empty), 200);
	/* 200: 0 -> 10 without a proof */
	assert_int_equal(add(w, logA, 0, 10), 200);
	/* 409 now says 10 */
	b = witfix_body(logA, 0, 12, &len);
	a = post(w, b, len);
	assert_int_equal(a.status, 409);
	assert_memory_equal(a.body, "10\n", 3);
	assert_int_equal(a.body_len, 3);
	witness_answer_cleanup(&a);
	free(b);
	/* 422: each bit of the proof flipped in turn, 10 -> 37 */
	pl = witfix_proof(logA, 10, 37, proof);
	assert_true(pl > 2);
	for (size_t i = 0; i < pl; i++) {
		proof[i][i % 32] ^= 0x10;
		assert_int_equal(status_with(w, logA, 10, (const uint8_t(*)[32])proof, pl, 37, NULL), 422);
		proof[i][i % 32] ^= 0x10;
	}
	/* 422: the proof with a line missing, or one line more */
	assert_int_equal(status_with(w, logA, 10, (const uint8_t(*)[32])proof, pl - 1, 37, NULL), 422);
	memcpy(proof[pl], proof[0], 32);
	assert_int_equal(status_with(w, logA, 10, (const uint8_t(*)[32])proof, pl + 1, 37, NULL), 422);
	/* 422: the fork's proof and root (same keys, other leaves) */
	assert_int_equal(add(w, forkA, 10, 37), 422);
	/* 200: the real one, 10 -> 37 */
	assert_int_equal(add(w, logA, 10, 37), 200);
	/* 422: same size, another root (the fork at 37) */
	witfix_root(forkA, 37, root);
	assert_int_equal(status_with(w, logA, 37, NULL, 0, 37, root), 422);
	/* 422: same size with a proof line */
	memset(proof, 1, 32);
	assert_int_equal(status_with(w, logA, 37, (const uint8_t(*)[32])proof, 1, 37, NULL), 422);
	/* 200: same size, same root (a replay) */
	assert_int_equal(add(w, logA, 37, 37), 200);
	/* a rollback is a 409: 37 -> 20 */
	b = witfix_body(logA, 10, 20, &len);
	a = post(w, b, len);
	assert_int_equal(a.status, 409);
	assert_memory_equal(a.body, "37\n", 3);
	witness_answer_cleanup(&a);
	free(b);
	/* another log has its own state */
	assert_int_equal(add(w, logB, 0, 5), 200);
	assert_int_equal(add(w, logB, 5, 6), 200);
	witness_free(w);
}

/* The 200 answer: one cosignature line that verifies with cosig_verify over
 * the checkpoint, and with openssl over the spec's message. */
static void test_cosignature(void **state)
{
	struct witness_answer a;
	struct note_checkpoint cp;
	struct witness *w;
	uint8_t *b, *note, *msg;
	size_t len, note_len, msg_len;
	uint64_t ts = 0;
	time_t before = time(NULL);

	(void)state;
	reset_state();
	w = open_witness();
	b = witfix_body(logA, 0, 21, &len);
	a = post(w, b, len);
	free(b);
	assert_int_equal(a.status, 200);
	assert_true(wit_valid_sig_lines(a.body, a.body_len));
	assert_memory_equal(a.body, "\xe2\x80\x94 witness.example/w1 ", 23);
	assert_int_equal(a.body[a.body_len - 1], '\n');
	assert_null(memchr(a.body, '\n', a.body_len - 1)); /* one line */
	note = witfix_cosigned(logA, 21, a.body, a.body_len, &note_len);
	assert_int_equal(note_parse_checkpoint(&cp, note, note_len), 0);
	assert_int_equal(cosig_verify(&cp, cosigner_key(witness_cosigner(w)), &ts), 1);
	assert_true(ts >= (uint64_t)before && ts <= (uint64_t)time(NULL));
	/* the vkey names the same key */
	{
		struct note_vkey k;
		const char *v = witness_vkey(w);
		assert_int_equal(note_vkey_parse(&k, v, strlen(v)), 0);
		assert_int_equal(k.type, NOTE_TYPE_COSIG_V1);
		assert_int_equal(cosig_verify(&cp, &k, NULL), 1);
	}
	/* openssl: pkey from our key file, message per tlog-cosignature */
	{
		struct cbb mb;
		char cmd[1024], *out = NULL, *err = NULL, p[300];
		FILE *f;
		size_t sig_i = cp.num_sigs - 1;
		assert_true(cbb_init(&mb, 256, 8192));
		assert_true(cosig_message(&mb, cp.text, cp.text_len, ts));
		assert_true(cbb_finish(&mb, &msg, &msg_len));
		snprintf(p, sizeof(p), "%s/msg", dir);
		f = fopen(p, "wb");
		assert_int_equal(fwrite(msg, 1, msg_len, f), msg_len);
		fclose(f);
		snprintf(p, sizeof(p), "%s/sig", dir);
		f = fopen(p, "wb");
		assert_int_equal(fwrite(cp.sigs[sig_i].sig + 8, 1, 64, f), 64);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -pubout -out pub.pem && "
			 "openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg -sigfile sig",
			 path_key);
		assert_int_equal(tf_run(dir, dir, cmd, &out, &err), 0);
		assert_non_null(strstr(out, "Signature Verified Successfully"));
		free(out);
		free(err);
		/* the spec's message with another time: openssl refuses */
		msg[22] ^= 1;
		snprintf(p, sizeof(p), "%s/msg", dir);
		f = fopen(p, "wb");
		assert_int_equal(fwrite(msg, 1, msg_len, f), msg_len);
		fclose(f);
		assert_int_not_equal(tf_run(dir, dir, "openssl pkeyutl -verify -pubin -inkey "
					    "pub.pem -rawin -in msg -sigfile sig", &out, &err), 0);
		free(out);
		free(err);
		free(msg);
	}
	free(note);
	witness_answer_cleanup(&a);
	witness_free(w);
}

static void origin_hex(const char *origin, char out[65])
{
	uint8_t h[32];

	SHA256((const uint8_t *)origin, strlen(origin), h);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* GET <hex>/checkpoint, and the state across a restart. */
static void test_monitoring_and_restart(void **state)
{
	struct witness_answer a, g;
	struct note_checkpoint cp, cp_;
	struct note_vkey lk;
	struct witness *w;
	char hex[65], vkey_before[NOTE_MAX_VKEY + 1];
	uint8_t *b;
	size_t len;

	(void)state;
	reset_state();
	w = open_witness();
	snprintf(vkey_before, sizeof(vkey_before), "%s", witness_vkey(w));
	origin_hex("log.example/a", hex);
	assert_int_equal(witness_get_checkpoint(w, hex, 64, &g), 0);
	assert_int_equal(g.status, 404);
	witness_answer_cleanup(&g);
	assert_int_equal(witness_get_checkpoint(w, "00", 2, &g), 0);
	assert_int_equal(g.status, 404);
	witness_answer_cleanup(&g);

	b = witfix_body(logA, 0, 17, &len);
	a = post(w, b, len);
	free(b);
	assert_int_equal(a.status, 200);
	assert_int_equal(witness_get_checkpoint(w, hex, 64, &g), 0);
	assert_int_equal(g.status, 200);
	/* the checkpoint, the log's Ed25519 line (verified; not the RFC 6962
	 * line the witness has no key for), and the cosignature it answered */
	assert_int_equal(note_parse_checkpoint(&cp, g.body, g.body_len), 0);
	assert_int_equal(cp.tree_size, 17);
	assert_int_equal(cp.num_sigs, 2);
	assert_int_equal(note_vkey_parse(&lk, witfix_vkey(logA), strlen(witfix_vkey(logA))), 0);
	assert_int_equal(note_verify_vkey(&cp, &lk), 1);
	assert_int_equal(cosig_verify(&cp, cosigner_key(witness_cosigner(w)), NULL), 1);
	assert_non_null(memmem(g.body, g.body_len, a.body, a.body_len));
	witness_answer_cleanup(&g);
	witness_answer_cleanup(&a);
	witness_free(w);

	/* a restart remembers: same key, 409 with 17, the same checkpoint */
	w = open_witness();
	assert_string_equal(witness_vkey(w), vkey_before);
	b = witfix_body(logA, 0, 20, &len);
	a = post(w, b, len);
	free(b);
	assert_int_equal(a.status, 409);
	assert_memory_equal(a.body, "17\n", 3);
	witness_answer_cleanup(&a);
	assert_int_equal(witness_get_checkpoint(w, hex, 64, &g), 0);
	assert_int_equal(g.status, 200);
	witness_answer_cleanup(&g);
	assert_int_equal(add(w, logA, 17, 20), 200);
	witness_free(w);

	/* the key file is private */
	{
		struct stat st;
		assert_int_equal(stat(path_key, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* a state file that does not parse stops the witness: it must not forget */
	{
		char p[400];
		FILE *f;
		struct witness *w2 = NULL;
		char err[512];
		snprintf(p, sizeof(p), "%s/%s", path_state, hex);
		f = fopen(p, "w");
		fputs("garbage\n", f);
		fclose(f);
		assert_int_equal(witness_new(&w2, path_state, path_logs, path_key, "w", err,
					     sizeof(err)), MN_EMALFORMED);
		assert_null(w2);
		assert_non_null(strstr(err, "refusing"));
	}
	/* a checkpoint with the log's line 63 times (64 lines, all valid): the
	 * state keeps one line per key, so it still parses at the next start */
	{
		size_t cl, ll, nl;
		uint8_t *one, *note;
		const uint8_t *last;
		struct cbb bb;
		reset_state();
		w = open_witness();
		one = witfix_checkpoint(logB, 5, NULL, &cl);
		last = (const uint8_t *)memrchr(one, '\n', cl - 1) + 1;
		ll = (size_t)(one + cl - last);
		note = malloc(cl + 62 * ll);
		memcpy(note, one, cl);
		for (int i = 0; i < 62; i++)
			memcpy(note + cl + (size_t)i * ll, last, ll);
		nl = cl + 62 * ll;
		assert_true(cbb_init(&bb, nl + 64, 1 << 20));
		assert_true(wit_format_request(&bb, 0, NULL, 0, note, nl));
		assert_true(cbb_finish(&bb, &b, &len));
		assert_int_equal(post_status(w, b, len), 200);
		free(b);
		free(note);
		free(one);
		witness_free(w);
		w = open_witness();
		origin_hex("log.example/b", hex);
		assert_int_equal(witness_get_checkpoint(w, hex, 64, &g), 0);
		assert_int_equal(g.status, 200);
		assert_int_equal(note_parse_checkpoint(&cp_, g.body, g.body_len), 0);
		assert_int_equal(cp_.num_sigs, 2);
		witness_answer_cleanup(&g);
		witness_free(w);
	}
	/* bad setups */
	{
		struct witness *w2 = NULL;
		char err[512], p[300];
		FILE *f;
		reset_state();
		assert_int_equal(witness_new(&w2, path_state, path_logs, path_key, "a b", err,
					     sizeof(err)), MN_EINVAL);
		snprintf(p, sizeof(p), "%s/nologs", dir);
		f = fopen(p, "w");
		fputs("# nothing\n", f);
		fclose(f);
		assert_int_not_equal(witness_new(&w2, path_state, p, path_key, "w", err,
						 sizeof(err)), 0);
		f = fopen(p, "w");
		fputs("witness w w+00000000+AAAA\n", f);
		fclose(f);
		assert_int_not_equal(witness_new(&w2, path_state, p, path_key, "w", err,
						 sizeof(err)), 0);
		snprintf(p, sizeof(p), "%s/notakey.pem", dir);
		f = fopen(p, "w");
		fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", f);
		fclose(f);
		assert_int_equal(witness_new(&w2, path_state, path_logs, p, "w", err,
					     sizeof(err)), MN_EMALFORMED);
		assert_null(w2);
	}
}

/* --- concurrency --------------------------------------------------------- */

#define RACE_THREADS 8
#define RACE_ROUNDS 60
#define RACE_LEAVES 200

struct race_result {
	uint64_t old, size;
	uint8_t root[32];
};

static struct {
	pthread_mutex_t mu;
	struct witness *w;
	struct race_result res[RACE_THREADS * RACE_ROUNDS];
	size_t num_res;
	int unexpected;
} race;

static void *race_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	uint64_t known = 0;

	for (int r = 0; r < RACE_ROUNDS; r++) {
		/* one thread in three speaks for the fork */
		struct witfix *f = (seed % 3 == 0) ? forkA : logA;
		uint64_t n = known + (uint64_t)(rand_r(&seed) % 4);
		struct witness_answer a;
		uint8_t *b;
		size_t len;
		if (n > RACE_LEAVES)
			n = RACE_LEAVES;
		pthread_mutex_lock(&race.mu); /* the reference tree memoizes */
		b = witfix_body(f, known, n, &len);
		pthread_mutex_unlock(&race.mu);
		if (witness_add_checkpoint(race.w, b, len, &a) != 0) {
			free(b);
			race.unexpected++;
			continue;
		}
		free(b);
		pthread_mutex_lock(&race.mu);
		if (a.status == 200) {
			struct race_result *x = &race.res[race.num_res++];
			x->old = known;
			x->size = n;
			witfix_root(f, n, x->root);
			known = n;
		} else if (a.status == 409) {
			if (wit_parse_size(a.body, a.body_len, &known) != 0)
				race.unexpected++;
		} else if (a.status != 422) {
			race.unexpected++;
		}
		pthread_mutex_unlock(&race.mu);
		witness_answer_cleanup(&a);
	}
	return NULL;
}

/* Many threads race on one log, from two forks: the witness never cosigns
 * two roots for one size, and every cosigned step starts from the size
 * cosigned just before (no lost update: no two steps leave one old size). */
static void test_concurrent(void **state)
{
	pthread_t t[RACE_THREADS];
	uint8_t roots[RACE_LEAVES + 1][32];
	int have[RACE_LEAVES + 1] = {0};
	size_t steps_from[RACE_LEAVES + 1] = {0};
	uint64_t max = 0;

	(void)state;
	reset_state();
	memset(&race, 0, sizeof(race));
	pthread_mutex_init(&race.mu, NULL);
	race.w = open_witness();
	for (uintptr_t i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race_thread, (void *)(i + 1)), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(race.unexpected, 0);
	assert_true(race.num_res > 10);
	for (size_t i = 0; i < race.num_res; i++) {
		struct race_result *x = &race.res[i];
		if (have[x->size])
			assert_memory_equal(roots[x->size], x->root, 32);
		memcpy(roots[x->size], x->root, 32);
		have[x->size] = 1;
		if (x->size > x->old)
			steps_from[x->old]++;
		if (x->size > max)
			max = x->size;
	}
	for (size_t s = 0; s <= RACE_LEAVES; s++)
		assert_true(steps_from[s] <= 1);
	/* all cosigned roots are of one fork: the forks differ from leaf 0 */
	{
		int fork = -1;
		for (size_t s = 1; s <= RACE_LEAVES; s++) {
			uint8_t r[32];
			int f;
			if (!have[s])
				continue;
			witfix_root(logA, s, r);
			f = memcmp(r, roots[s], 32) == 0 ? 0 : 1;
			if (fork < 0)
				fork = f;
			assert_int_equal(f, fork);
		}
	}
	/* the stored size is the largest cosigned */
	{
		size_t len;
		uint8_t *b = witfix_body(logA, 0, 1, &len);
		struct witness_answer a = post(race.w, b, len);
		uint64_t sz = 0;
		free(b);
		if (max > 0) {
			assert_int_equal(a.status, 409);
			assert_int_equal(wit_parse_size(a.body, a.body_len, &sz), 0);
			assert_int_equal(sz, max);
		}
		witness_answer_cleanup(&a);
	}
	witness_free(race.w);
	pthread_mutex_destroy(&race.mu);
}

static int setup(void **state)
{
	struct witfix *fs[2];

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	paths();
	logA = witfix_new("log.example/a", RACE_LEAVES, "A");
	forkA = witfix_fork(logA, RACE_LEAVES, "fork");
	logB = witfix_new("log.example/b", 16, "B");
	stranger = witfix_new("log.example/unknown", 4, "S");
	fs[0] = logA;
	fs[1] = logB;
	witfix_write_logs(path_logs, fs, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	witfix_free(logA);
	witfix_free(forkA);
	witfix_free(logB);
	witfix_free(stranger);
	return mnfix_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_cosignature),
		cmocka_unit_test(test_monitoring_and_restart),
		cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
