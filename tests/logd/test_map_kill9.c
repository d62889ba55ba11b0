/* test_map_kill9.c: kill -9 while logd updates its lookup map. Client threads
 * POST add-chain (TLS and S/MIME certificates) without pause to a logd with
 * the map on; the main thread SIGKILLs logd 20 times at random moments (after
 * a random number of answers, with other submissions in flight, so most
 * kills land inside a batch's transaction: its map apply, its map-root leaf
 * or its commit) and restarts it on the same data directory. A submission
 * whose answer was lost is sent again to the next logd.
 *
 * After every restart:
 *   - logd starts: the store opens and agrees with itself;
 *   - every SCT ever answered verifies and its leaf is in the tree
 *     (get-proof-by-hash, audit path verified), at the index proven before;
 *   - `mnctl monitor --audit-map` with a new state recomputes the map from
 *     leaf 0 and finds every map-root leaf right (the map and the log agree);
 *   - a lookup of an answered certificate's name carries a map section that
 *     verifies (tests/lib/mapcheck) and whose list holds that leaf, and the
 *     list under:crash.example (every certificate) verifies too.
 * At the end get-entries is walked: every leaf is one of ours or a map-root
 * leaf, no certificate appears twice. */
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
#include "tests/lib/mapcheck.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define NCERTS 600
#define NTHREADS 4
#define NKILLS 20
#define MAX_WAIT_ANSWERS 40

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
	char dir[64], data[128], roots[128], sroots[128], errlog[128], keyfile[128], cfg[128];
	struct pki_cert *root, *ca, *sroot, *sca, *holder, *certs[NCERTS];
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
	unsigned long answers, io_errors, busy;
	struct rec recs[NCERTS];
	unsigned kills;
} S;

static int is_smime(int i)
{
	return i % 4 == 3;
}

static void name_of(char *out, size_t cap, int i)
{
	if (is_smime(i))
		snprintf(out, cap, "u%d@mail.crash.example", i);
	else
		snprintf(out, cap, "c%d.crash.example", i);
}

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
	const char *args[] = {"--data", S.data, "--tls-roots", S.roots, "--smime-roots", S.sroots,
			      "--threads", "2", NULL};
	return logd_start_stderr(&S.logd, args, S.errlog);
}

static int setup(void **state)
{
	int64_t now = pki_now();
	const struct pki_cert *rs[1];

	(void)state;
	pthread_mutex_init(&S.mu, NULL);
	pthread_cond_init(&S.cond, NULL);
	strcpy(S.dir, "/tmp/mn-mapkill-XXXXXX");
	if (mkdtemp(S.dir) == NULL)
		return -1;
	snprintf(S.data, sizeof(S.data), "%s/data", S.dir);
	snprintf(S.roots, sizeof(S.roots), "%s/roots.pem", S.dir);
	snprintf(S.sroots, sizeof(S.sroots), "%s/sroots.pem", S.dir);
	snprintf(S.errlog, sizeof(S.errlog), "%s/logd.err", S.dir);
	snprintf(S.keyfile, sizeof(S.keyfile), "%s/log.der", S.dir);
	snprintf(S.cfg, sizeof(S.cfg), "%s/cfg", S.dir);
	S.root = pki_root("Map Kill Root", 0);
	S.ca = pki_issue(S.root, "Map Kill CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	S.sroot = pki_root("Map Kill Mail Root", 0);
	S.sca = pki_issue(S.sroot, "Map Kill Mail CA", NULL, 0, PKI_CA, now - 86400,
			  now + 86400 * 365);
	/* one subject key for all: signing is then all a certificate costs */
	S.holder = pki_issue(S.ca, "key holder", NULL, 0, 0, now - 3600, now + 86400);
	if (S.ca == NULL || S.sca == NULL || S.holder == NULL)
		return -1;
	for (int i = 0; i < NCERTS; i++) {
		char name[64];
		const char *dns[1] = {name};
		const struct pki_cert *chain[2];
		struct pki_opts o = {.cn = "crash", .dns = dns, .num_dns = 1,
				     .not_before = now - 3600, .not_after = now + 86400 * 90,
				     .key = S.holder->key};
		name_of(name, sizeof(name), i);
		if (is_smime(i))
			o.flags = PKI_EMAIL;
		S.certs[i] = pki_issue_opts(is_smime(i) ? S.sca : S.ca, &o);
		if (S.certs[i] == NULL)
			return -1;
		chain[0] = S.certs[i];
		chain[1] = is_smime(i) ? S.sca : S.ca;
		S.bodies[i] = ctc_chain_json(chain, 2);
		{
			struct merkle_hasher *h = merkle_hasher_new();
			merkle_sha256(h, S.recs[i].der_hash, S.certs[i]->der, S.certs[i]->der_len);
			merkle_hasher_free(h);
		}
	}
	rs[0] = S.root;
	if (pki_write_pem(S.roots, rs, 1) != 0)
		return -1;
	rs[0] = S.sroot;
	if (pki_write_pem(S.sroots, rs, 1) != 0 || start_logd() != 0)
		return -1;
	S.port = S.logd.port;
	S.v = ct_verifier_new(S.logd.spki, S.logd.spki_len);
	return S.v != NULL && mnfix_write_file(S.keyfile, S.logd.spki, S.logd.spki_len) == 0 ? 0
											       : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (S.logd.pid > 0)
		logd_stop(&S.logd, SIGKILL);
	ct_verifier_free(S.v);
	for (int i = 0; i < NCERTS; i++) {
		pki_free(S.certs[i]);
		free(S.bodies[i]);
	}
	pki_free(S.holder);
	pki_free(S.ca);
	pki_free(S.root);
	pki_free(S.sca);
	pki_free(S.sroot);
	return mnfix_rm_rf(S.dir);
}

/* --- submitters ------------------------------------------------------------ */

struct submitter {
	pthread_t th;
	unsigned seed;
};

static void record(int idx, const struct ctc_sct *sct)
{
	uint64_t ts = sct->ts;

	pthread_mutex_lock(&S.mu);
	if (S.recs[idx].answered && !ctc_sct_same(&S.recs[idx].sct, sct)) {
		if (S.failure[0] == '\0')
			snprintf(S.failure, sizeof(S.failure),
				 "certificate %d answered with timestamps %llu and %llu", idx,
				 (unsigned long long)S.recs[idx].ts, (unsigned long long)ts);
	} else if (!S.recs[idx].answered) {
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
			else /* all sent: duplicates */
				cur = (int)(rand_r(&me->seed) % NCERTS);
		}
		pthread_mutex_unlock(&S.mu);

		kc.port = port;
		rc = kc_request(&kc, "POST", "/ct/v1/add-chain", S.bodies[cur],
				strlen(S.bodies[cur]), 0, &r);
		if (rc != 0) {
			/* logd died under us: wait for the next one, send it again */
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

/* audit_from_zero runs mnctl monitor --audit-map with a new state. */
static void audit_from_zero(uint16_t port)
{
	char url[64], st[128], *out = NULL, *err = NULL;
	int rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	snprintf(st, sizeof(st), "%s/state-%u", S.dir, S.kills);
	{
		const char *args[] = {"--config", S.cfg, "--log", url, "--key", S.keyfile,
				      "monitor", "--audit-map", "--state", st, NULL};
		rc = mnrun_mnctl(S.dir, args, &out, &err);
	}
	{
		const char *line = strstr(out, "map audit: ");
		unsigned long roots = 0;
		if (rc != 0 || line == NULL || sscanf(line, "map audit: %lu map roots", &roots) != 1 ||
		    roots == 0)
			fail_msg("mnctl monitor --audit-map after kill %u: exit %d\n%s%s", S.kills,
				 rc, out, err);
	}
	free(out);
	free(err);
}

static json_t *lookup(struct kconn *kc, const char *query)
{
	char target[256];
	struct http_resp r;
	json_t *j;

	snprintf(target, sizeof(target), "/mn/v1/lookup?%s", query);
	assert_int_equal(kc_request(kc, "GET", target, NULL, 0, 1, &r), 0);
	if (r.status != 200)
		fail_msg("lookup %s: %d %s", query, r.status, (char *)r.body);
	j = json_loadb((const char *)r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

/* check_lookups: an answered certificate's own list holds its leaf, and the
 * list of every certificate verifies. */
static void check_lookups(struct kconn *kc, unsigned *seed)
{
	uint64_t items[256], count;
	size_t n, answered = 0;
	char name[64], q[128], key[128], *at;
	int pick = -1;
	json_t *j;

	for (int i = 0; i < NCERTS; i++)
		if (S.recs[i].proven) {
			answered++;
			if (pick < 0 || rand_r(seed) % answered == 0)
				pick = i;
		}
	if (pick >= 0) {
		name_of(name, sizeof(name), pick);
		at = strchr(name, '@');
		snprintf(q, sizeof(q), "%s=%s", at ? "email" : "domain", name);
		snprintf(key, sizeof(key), "%s:%s", at ? "email" : "dns", name);
		j = lookup(kc, q);
		if (mapcheck_lookup(j, key, &count, items, 256, &n) != 0)
			fail_msg("lookup %s after kill %u: the map section does not verify", q,
				 S.kills);
		assert_int_equal(count, 1);
		assert_int_equal(n, 1);
		assert_int_equal(items[0], S.recs[pick].index);
		json_decref(j);
	}
	j = lookup(kc, "domain=crash.example&subdomains=1");
	if (mapcheck_lookup(j, "under:crash.example", &count, items, 256, &n) != 0)
		fail_msg("lookup of crash.example after kill %u: the map section does not verify",
			 S.kills);
	assert_true(count >= answered);
	json_decref(j);
}

static void verify_all(uint16_t port, unsigned *seed)
{
	static struct rec snap[NCERTS];
	struct kconn kc;
	struct ctc_sth cur;

	assert_int_equal(kc_open(&kc, port, 10000), 0);
	assert_int_equal(ctc_get_sth(&kc, S.v, &cur), 0);
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
		} else if (S.recs[i].index != index) {
			fail_msg("certificate %d moved from leaf %llu to %llu", i,
				 (unsigned long long)S.recs[i].index, (unsigned long long)index);
		}
	}
	check_lookups(&kc, seed);
	kc_close(&kc);
	audit_from_zero(port);
}

/* walk_entries: every leaf is one of ours or a map-root leaf, none twice. */
static void walk_entries(uint16_t port)
{
	struct kconn kc;
	struct ctc_sth cur;
	struct merkle_hasher *h = merkle_hasher_new();
	static int count[NCERTS];
	uint64_t start = 0, roots = 0;

	assert_int_equal(kc_open(&kc, port, 10000), 0);
	assert_int_equal(ctc_get_sth(&kc, S.v, &cur), 0);
	while (start < cur.size) {
		char target[128];
		struct http_resp r;
		json_t *j, *ents;
		size_t n;

		snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=%llu",
			 (unsigned long long)start, (unsigned long long)cur.size - 1);
		assert_int_equal(kc_request(&kc, "GET", target, NULL, 0, 1, &r), 0);
		assert_int_equal(r.status, 200);
		j = json_loadb((char *)r.body, r.body_len, 0, NULL);
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

			assert_int_equal(mn_b64_decode(&leaf, &ll, json_string_value(li),
						       json_string_length(li), 1 << 20), 0);
			assert_true(ct_parse_leaf(&ent, leaf, ll));
			if (ent.entry_type == MN_MAP_ROOT_ENTRY) {
				roots++;
				free(leaf);
				continue;
			}
			assert_int_equal(ent.entry_type, CT_X509_ENTRY);
			merkle_sha256(h, dh, ent.body, ent.body_len);
			for (int k = 0; k < NCERTS; k++)
				if (memcmp(dh, S.recs[k].der_hash, 32) == 0) {
					found = k;
					break;
				}
			if (found < 0)
				fail_msg("leaf %llu is not one of ours", (unsigned long long)(start + i));
			if (++count[found] > 1)
				fail_msg("certificate %d appears twice", found);
			if (S.recs[found].answered && S.recs[found].index != start + i)
				fail_msg("certificate %d at leaf %llu, proven at %llu", found,
					 (unsigned long long)(start + i),
					 (unsigned long long)S.recs[found].index);
			free(leaf);
		}
		start += n;
		json_decref(j);
		http_resp_free(&r);
	}
	assert_true(roots > 0);
	merkle_hasher_free(h);
	kc_close(&kc);
}

static void test_map_kill9(void **state)
{
	struct submitter subs[NTHREADS];
	unsigned seed = (unsigned)time(NULL), answered = 0;
	struct timespec t0, t1;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fprintf(stderr, "map kill9: seed %u\n", seed);
	for (int i = 0; i < NTHREADS; i++) {
		subs[i].seed = seed + (unsigned)i;
		assert_int_equal(pthread_create(&subs[i].th, NULL, submit_loop, &subs[i]), 0);
	}
	for (S.kills = 0; S.kills < NKILLS;) {
		unsigned want = (unsigned)(rand_r(&seed) % (MAX_WAIT_ANSWERS + 1));

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
		/* and a random moment inside the next batches: 0..5 ms */
		{
			struct timespec d = {0, (long)(rand_r(&seed) % 5000) * 1000};
			nanosleep(&d, NULL);
		}
		pthread_mutex_lock(&S.mu);
		S.down = 1;
		pthread_mutex_unlock(&S.mu);
		assert_int_equal(logd_stop(&S.logd, SIGKILL), 128 + SIGKILL);
		S.kills++;
		if (start_logd() != 0)
			fail_msg("logd did not restart after kill %u (see %s)", S.kills, S.errlog);
		verify_all(S.logd.port, &seed);
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
	verify_all(S.logd.port, &seed);
	walk_entries(S.logd.port);
	for (int i = 0; i < NCERTS; i++)
		answered += (unsigned)S.recs[i].answered;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "map kill9: %u kills, %lu answers (%u certificates), %lu requests cut, "
		"%lu busy, %.1f s\n", S.kills, S.answers, answered, S.io_errors, S.busy,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_int_equal(S.kills, NKILLS);
	assert_true(answered > 0);
	assert_int_equal(logd_stop(&S.logd, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_kill9),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
