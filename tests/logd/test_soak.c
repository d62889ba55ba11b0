/* test_soak.c: kill -9 soak (the "Faults" issue). Several client threads POST
 * add-chain without pause while the main thread kills logd with SIGKILL at
 * random moments (after a random number of answers, with other submissions in
 * flight) and restarts it on the same data directory, at least 50 times. A
 * submission whose answer was lost is sent again to the next logd, so lost
 * answers turn into duplicates the log must recognise.
 *
 * After every restart, against the new logd's signed tree head:
 *   - every SCT ever answered verifies and its leaf (rebuilt from the
 *     certificate and the SCT timestamp, RFC 6962 section 3.4) is in the tree:
 *     get-proof-by-hash, audit path verified against the STH root;
 *   - every STH ever seen is consistent with the current one
 *     (get-sth-consistency, verified; the tree never shrinks);
 *   - a certificate answered twice always got the same SCT timestamp.
 * At the end get-entries is walked: no certificate appears twice, every leaf is
 * one of ours, and every answered SCT's leaf sits at the index proven. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "entry/ct.h"
#include "merkle/merkle.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define NCERTS 900
#define NTHREADS 4
#define NKILLS 70
#define MAX_WAIT_ANSWERS 30
#define MAX_STHS (4 * NKILLS + 16)

struct rec {
	int answered;
	uint64_t ts;
	struct ctc_sct sct; /* as answered: ts and leaf_index */
	uint8_t leaf_hash[32];
	int proven;
	uint64_t index; /* as proven */
	uint8_t der_hash[32];
};

static struct {
	char dir[64], data[128], roots[128], errlog[128];
	struct pki_cert *root, *ca, *certs[NCERTS];
	char *bodies[NCERTS];
	struct logd_proc logd;
	struct ct_verifier *v;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint16_t port;
	unsigned gen;
	int down, stop;
	char failure[512];
	unsigned next_cert;
	unsigned long answers, dup_answers, io_errors, busy;
	struct rec recs[NCERTS];

	struct ctc_sth sths[MAX_STHS];
	size_t num_sths;
	unsigned kills;
} S;

static void set_failure(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&S.mu);
	if (S.failure[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(S.failure, sizeof(S.failure), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
}

static int start_logd(void)
{
	const char *args[] = {"--no-map", "--data", S.data, "--tls-roots", S.roots, "--threads", "2",
			      "--max-entries", "256", NULL};
	return logd_start_stderr(&S.logd, args, S.errlog);
}

static int setup(void **state)
{
	int64_t now = pki_now();
	const struct pki_cert *rs[1];

	(void)state;
	pthread_mutex_init(&S.mu, NULL);
	pthread_cond_init(&S.cond, NULL);
	strcpy(S.dir, "/tmp/mn-soak-XXXXXX");
	if (mkdtemp(S.dir) == NULL)
		return -1;
	snprintf(S.data, sizeof(S.data), "%s/data", S.dir);
	snprintf(S.roots, sizeof(S.roots), "%s/roots.pem", S.dir);
	snprintf(S.errlog, sizeof(S.errlog), "%s/logd.err", S.dir);
	S.root = pki_root("Soak Root", 0);
	S.ca = pki_issue(S.root, "Soak CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	if (S.root == NULL || S.ca == NULL)
		return -1;
	for (int i = 0; i < NCERTS; i++) {
		char name[64];
		const char *dns[1] = {name};
		const struct pki_cert *chain[2];
		snprintf(name, sizeof(name), "s%d.soak.example", i);
		S.certs[i] = pki_issue(S.ca, name, dns, 1, 0, now - 3600, now + 86400 * 90);
		if (S.certs[i] == NULL)
			return -1;
		chain[0] = S.certs[i];
		chain[1] = S.ca;
		S.bodies[i] = ctc_chain_json(chain, 2);
		{
			struct merkle_hasher *h = merkle_hasher_new();
			merkle_sha256(h, S.recs[i].der_hash, S.certs[i]->der, S.certs[i]->der_len);
			merkle_hasher_free(h);
		}
	}
	rs[0] = S.root;
	if (pki_write_pem(S.roots, rs, 1) != 0 || start_logd() != 0)
		return -1;
	S.port = S.logd.port;
	S.v = ct_verifier_new(S.logd.spki, S.logd.spki_len);
	return S.v != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (S.logd.pid > 0)
		logd_stop(&S.logd, SIGKILL);
	ct_verifier_free(S.v);
	for (int i = 0; i < NCERTS; i++) {
		pki_free(S.certs[i]);
		free(S.bodies[i]);
	}
	pki_free(S.ca);
	pki_free(S.root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", S.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- submitters ------------------------------------------------------------ */

struct submitter {
	pthread_t th;
	int keep_alive;
	unsigned seed;
};

/* record an answered SCT; a second answer for the same certificate must carry
 * the same timestamp (it is the stored SCT of the same leaf). */
static void record(int idx, const struct ctc_sct *sct)
{
	uint64_t ts = sct->ts;

	pthread_mutex_lock(&S.mu);
	if (S.recs[idx].answered && !ctc_sct_same(&S.recs[idx].sct, sct)) {
		if (S.failure[0] == '\0')
			snprintf(S.failure, sizeof(S.failure),
				 "certificate %d answered with timestamps %llu and %llu: logged twice",
				 idx, (unsigned long long)S.recs[idx].ts, (unsigned long long)ts);
	} else if (S.recs[idx].answered) {
		S.dup_answers++;
	} else {
		S.recs[idx].answered = 1;
		S.recs[idx].ts = ts;
		S.recs[idx].sct = *sct;
		ctc_x509_leaf_hash(S.certs[idx]->der, S.certs[idx]->der_len, sct,
				   S.recs[idx].leaf_hash);
	}
	S.answers++;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
}

static void *submit_loop(void *arg)
{
	struct submitter *me = arg;
	struct kconn kc = {.fd = -1};
	unsigned my_gen = ~0u;
	uint16_t port = 0;
	int cur = -1;

	for (;;) {
		struct http_resp r;
		int rc;

		pthread_mutex_lock(&S.mu);
		while (!S.stop && S.failure[0] == '\0' && S.down)
			pthread_cond_wait(&S.cond, &S.mu);
		if (S.stop || S.failure[0] != '\0') {
			pthread_mutex_unlock(&S.mu);
			break;
		}
		if (my_gen != S.gen) {
			my_gen = S.gen;
			port = S.port;
			kc_close(&kc);
		}
		if (cur < 0) {
			if (S.next_cert < NCERTS)
				cur = (int)S.next_cert++;
			else /* all sent: send answered ones again (duplicates) */
				cur = (int)(rand_r(&me->seed) % NCERTS);
		}
		pthread_mutex_unlock(&S.mu);

		if (me->keep_alive) {
			kc.port = port;
			rc = kc_request(&kc, "POST", "/ct/v1/add-chain", S.bodies[cur],
					strlen(S.bodies[cur]), 0, &r);
		} else {
			rc = http_do(port, "POST", "/ct/v1/add-chain",
				     "Content-Type: application/json\r\n", S.bodies[cur],
				     strlen(S.bodies[cur]), &r);
		}
		if (rc != 0) {
			/* logd died under us (or is being killed): wait for the next
			 * one and send the same certificate again. */
			kc_close(&kc);
			pthread_mutex_lock(&S.mu);
			S.io_errors++;
			while (!S.stop && S.failure[0] == '\0' && S.gen == my_gen)
				pthread_cond_wait(&S.cond, &S.mu);
			pthread_mutex_unlock(&S.mu);
			continue;
		}
		if (r.status == 200) {
			struct ctc_sct ts;
			if (ctc_parse_sct(S.v, r.body, r.body_len, S.certs[cur]->der,
					  S.certs[cur]->der_len, &ts) != 0)
				set_failure("bad SCT for certificate %d", cur);
			else
				record(cur, &ts);
			cur = -1;
		} else if (r.status == 503) {
			pthread_mutex_lock(&S.mu);
			S.busy++;
			pthread_mutex_unlock(&S.mu);
		} else {
			set_failure("add-chain of certificate %d: %d %s", cur, r.status, (char *)r.body);
		}
		http_resp_free(&r);
	}
	kc_close(&kc);
	return NULL;
}

/* --- checks ---------------------------------------------------------------- */

static void add_sth(const struct ctc_sth *s)
{
	if (S.num_sths < MAX_STHS)
		S.sths[S.num_sths++] = *s;
}

/* verify_all runs the after-restart checks against logd at |port|. */
static void verify_all(uint16_t port)
{
	struct kconn kc;
	struct ctc_sth cur;
	static struct rec snap[NCERTS];
	uint64_t max_ts = 0;

	assert_int_equal(kc_open(&kc, port, 10000), 0);
	assert_int_equal(ctc_get_sth(&kc, S.v, &cur), 0);
	/* every STH seen is consistent with the current one */
	for (size_t i = 0; i < S.num_sths; i++) {
		if (S.sths[i].ts > max_ts)
			max_ts = S.sths[i].ts;
		if (ctc_check_consistency(&kc, &S.sths[i], &cur) != 0)
			fail_msg("STH %zu (size %llu) is not consistent with the tree after kill %u",
			     i, (unsigned long long)S.sths[i].size, S.kills);
	}
	if (cur.ts < max_ts)
		fail_msg("STH timestamp went back from %llu to %llu", (unsigned long long)max_ts,
		     (unsigned long long)cur.ts);
	/* every SCT answered is in the tree */
	pthread_mutex_lock(&S.mu);
	memcpy(snap, S.recs, sizeof(snap));
	pthread_mutex_unlock(&S.mu);
	for (int i = 0; i < NCERTS; i++) {
		uint64_t index;
		if (!snap[i].answered)
			continue;
		if (ctc_check_inclusion(&kc, snap[i].leaf_hash, &cur, &index) != 0)
			fail_msg("SCT of certificate %d (ts %llu) is not in the tree of size %llu "
			     "after kill %u", i, (unsigned long long)snap[i].ts,
			     (unsigned long long)cur.size, S.kills);
		if (snap[i].sct.has_index && snap[i].sct.index != index)
			fail_msg("certificate %d: its SCT says leaf %llu, the tree has it at %llu",
				 i, (unsigned long long)snap[i].sct.index, (unsigned long long)index);
		if (!S.recs[i].proven) {
			S.recs[i].proven = 1;
			S.recs[i].index = index;
		} else if (S.recs[i].index != index)
			fail_msg("certificate %d moved from leaf %llu to %llu", i,
			     (unsigned long long)S.recs[i].index, (unsigned long long)index);
	}
	add_sth(&cur);
	kc_close(&kc);
}

/* walk_entries checks the whole tree: each leaf one of ours, none twice. */
static void walk_entries(uint16_t port)
{
	struct kconn kc;
	struct ctc_sth cur;
	struct merkle_hasher *h = merkle_hasher_new();
	static int count[NCERTS];
	uint64_t start = 0;

	assert_int_equal(kc_open(&kc, port, 10000), 0);
	assert_int_equal(ctc_get_sth(&kc, S.v, &cur), 0);
	while (start < cur.size) {
		char target[128];
		struct http_resp r;
		json_error_t e;
		json_t *j, *ents;
		size_t n;

		snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=%llu",
			 (unsigned long long)start, (unsigned long long)cur.size - 1);
		assert_int_equal(kc_request(&kc, "GET", target, NULL, 0, 1, &r), 0);
		assert_int_equal(r.status, 200);
		j = json_loadb((char *)r.body, r.body_len, 0, &e);
		assert_non_null(j);
		ents = json_object_get(j, "entries");
		n = json_array_size(ents);
		assert_true(n >= 1);
		for (size_t i = 0; i < n; i++) {
			json_t *li = json_object_get(json_array_get(ents, i), "leaf_input");
			uint8_t *leaf, dh[32];
			size_t ll;
			struct ct_entry ent;
			int found = -1;

			assert_true(json_is_string(li));
			assert_int_equal(mn_b64_decode(&leaf, &ll, json_string_value(li),
						       json_string_length(li), 1 << 20), 0);
			assert_true(ct_parse_leaf(&ent, leaf, ll));
			assert_int_equal(ent.entry_type, CT_X509_ENTRY);
			merkle_sha256(h, dh, ent.body, ent.body_len);
			for (int k = 0; k < NCERTS; k++)
				if (memcmp(dh, S.recs[k].der_hash, 32) == 0) {
					found = k;
					break;
				}
			if (found < 0)
				fail_msg("leaf %llu is not one of the submitted certificates",
				     (unsigned long long)(start + i));
			if (++count[found] > 1)
				fail_msg("certificate %d appears twice (again at leaf %llu)", found,
				     (unsigned long long)(start + i));
			if (S.recs[found].answered) {
				if (ent.timestamp != S.recs[found].ts ||
				    S.recs[found].index != start + i)
					fail_msg("certificate %d: leaf %llu ts %llu, answered ts %llu "
					     "proven at %llu", found, (unsigned long long)(start + i),
					     (unsigned long long)ent.timestamp,
					     (unsigned long long)S.recs[found].ts,
					     (unsigned long long)S.recs[found].index);
			}
			free(leaf);
		}
		start += n;
		json_decref(j);
		http_resp_free(&r);
	}
	for (int k = 0; k < NCERTS; k++)
		if (S.recs[k].answered && count[k] != 1)
			fail_msg("answered certificate %d is in the tree %d times", k, count[k]);
	merkle_hasher_free(h);
	kc_close(&kc);
}

/* --- the soak --------------------------------------------------------------- */

static void test_kill9_soak(void **state)
{
	struct submitter subs[NTHREADS];
	unsigned seed = (unsigned)time(NULL);
	struct timespec t0, t1;
	unsigned long answered = 0;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fprintf(stderr, "soak: seed %u\n", seed);
	verify_all(S.port);
	for (int i = 0; i < NTHREADS; i++) {
		subs[i].keep_alive = i % 2 == 0;
		subs[i].seed = seed + (unsigned)i;
		assert_int_equal(pthread_create(&subs[i].th, NULL, submit_loop, &subs[i]), 0);
	}
	for (S.kills = 0; S.kills < NKILLS; ) {
		unsigned want = (unsigned)(rand_r(&seed) % (MAX_WAIT_ANSWERS + 1));
		struct kconn kc;
		struct ctc_sth s;

		/* let a random number of submissions be answered (0: kill right
		 * after the start, while the first requests arrive) */
		pthread_mutex_lock(&S.mu);
		{
			unsigned long base = S.answers;
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += 60; /* a safety net, not synchronisation */
			while (S.failure[0] == '\0' && S.answers < base + want)
				if (pthread_cond_timedwait(&S.cond, &S.mu, &dl) == ETIMEDOUT) {
					snprintf(S.failure, sizeof(S.failure),
						 "no progress for 60 s (answers %lu)", S.answers);
					break;
				}
		}
		pthread_mutex_unlock(&S.mu);
		if (S.failure[0] != '\0')
			break;
		/* an STH seen by a client, sometimes before and always after */
		if (want % 2 == 0) {
			assert_int_equal(kc_open(&kc, S.port, 10000), 0);
			assert_int_equal(ctc_get_sth(&kc, S.v, &s), 0);
			add_sth(&s);
			kc_close(&kc);
		}
		pthread_mutex_lock(&S.mu);
		S.down = 1;
		pthread_mutex_unlock(&S.mu);
		assert_int_equal(logd_stop(&S.logd, SIGKILL), 128 + SIGKILL);
		S.kills++;
		if (start_logd() != 0)
			fail_msg("logd did not restart after kill %u (see %s)", S.kills, S.errlog);
		verify_all(S.logd.port);
		pthread_mutex_lock(&S.mu);
		S.port = S.logd.port;
		S.gen++;
		S.down = 0;
		pthread_cond_broadcast(&S.cond);
		pthread_mutex_unlock(&S.mu);
	}
	pthread_mutex_lock(&S.mu);
	S.stop = 1;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(subs[i].th, NULL);
	if (S.failure[0] != '\0')
		fail_msg("%s", S.failure);
	verify_all(S.logd.port);
	walk_entries(S.logd.port);
	for (int i = 0; i < NCERTS; i++)
		answered += (unsigned long)S.recs[i].answered;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "soak: %u kills survived, %lu answers (%lu distinct certificates, "
		"%lu repeated answers), %lu requests cut by a kill, %lu busy, %zu STHs, "
		"tree %llu, %.1f s\n",
		S.kills, S.answers, answered, S.dup_answers, S.io_errors, S.busy, S.num_sths,
		(unsigned long long)S.sths[S.num_sths - 1].size,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_true(S.kills >= 50);
	assert_true(answered > 0);
	/* a graceful stop at the end */
	assert_int_equal(logd_stop(&S.logd, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_soak),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
