/* test_map_audit.c: `mnctl monitor --audit-map` against logd.
 *
 * test_mixed_workload: one logd with all four classes (TLS and S/MIME
 * roots, an OpenPGP certifier made by gpg, policies signed by test-PKI
 * certificates that add-policy logs first) takes a shuffled mix of
 * submissions from 4 threads at once, so batches come in whatever sizes the
 * race gives, with duplicates among them. mnctl monitor --audit-map (saving
 * its state every 7 entries, so mid-batch) recomputes the map and accepts
 * every map-root leaf; after a second wave it resumes from its saved audit;
 * an audit from a new state checks as many map roots as get-entries shows;
 * and a state saved without --audit-map is audited from leaf 0.
 *
 * test_tampered_root: a store written through the storage API with the log's
 * key, whose map-root leaf K commits a root with one byte flipped (a
 * store_map_commit hook), is served by logd: mnctl monitor --audit-map fails
 * with exit 3 naming leaf K, and a state from before K does not save past
 * it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "logd/keys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400
#define NPGP 4
#define MAX_REQS 512

struct req {
	const char *path;
	char *body;
};

static struct {
	char dir[64], data[128], roots[128], sroots[128], certifiers[160], keyfile[128],
		cfg[128];
	struct mnfix_gpg g;
	int gpg_ok;
	char ca1[41], users[NPGP][41];
	struct mnfix_buf pgp[NPGP];
	struct pki_cert *root, *ca, *sroot, *sca;
	struct pki_cert *certs[MAX_REQS];
	size_t num_certs;
	struct logd_proc logd;
	int64_t now;
	struct req reqs[MAX_REQS];
	size_t num_reqs, next_req;
	pthread_mutex_t mu;
	char failure[512];
} T;

static int make_pgp(void)
{
	char args[512], who[128], pol[128];

	if (mnfix_gpg_init(&T.g, T.dir) != 0)
		return -1;
	T.gpg_ok = 1;
	if (mnfix_gpg(&T.g, "--quick-gen-key 'Cert One <ca1@certifier.example>' ed25519 sign 1y") ||
	    mnfix_gpg_fpr(&T.g, "=Cert One <ca1@certifier.example>", T.ca1))
		return -1;
	for (int k = 0; k < NPGP; k++) {
		snprintf(args, sizeof(args), "--quick-gen-key 'User %d <u%d@pgp%d.mix.example>' "
			 "ed25519 sign 1y", k, k, k % 2);
		snprintf(who, sizeof(who), "=User %d <u%d@pgp%d.mix.example>", k, k, k % 2);
		if (mnfix_gpg(&T.g, args) || mnfix_gpg_fpr(&T.g, who, T.users[k]))
			return -1;
		snprintf(args, sizeof(args), "-u %s --quick-sign-key %s", T.ca1, T.users[k]);
		if (mnfix_gpg(&T.g, args))
			return -1;
		snprintf(args, sizeof(args), "--export %s", T.users[k]);
		if (mnfix_gpg_export(&T.g, args, &T.pgp[k]))
			return -1;
	}
	snprintf(T.certifiers, sizeof(T.certifiers), "%s/certifiers.pgp", T.dir);
	snprintf(args, sizeof(args), "--output %s --export %s", T.certifiers, T.ca1);
	if (mnfix_gpg(&T.g, args))
		return -1;
	snprintf(args, sizeof(args), "%s.policy", T.certifiers);
	snprintf(pol, sizeof(pol), "# test certifier\n%s\n", T.ca1);
	return mnfix_write_file(args, pol, strlen(pol));
}

static struct pki_cert *keep(struct pki_cert *c)
{
	if (c != NULL && T.num_certs < MAX_REQS)
		T.certs[T.num_certs++] = c;
	return c;
}

static void add_req(const char *path, char *body)
{
	assert_non_null(body);
	assert_true(T.num_reqs < MAX_REQS);
	T.reqs[T.num_reqs].path = path;
	T.reqs[T.num_reqs].body = body;
	T.num_reqs++;
}

static char *chain_body(const struct pki_cert *leaf, const struct pki_cert *ca)
{
	const struct pki_cert *c[2] = {leaf, ca};
	return ctc_chain_json(c, 2);
}

/* add_tls / add_smime / add_policy queue a new submission of the class. */
static void add_tls(unsigned i)
{
	char n1[64], n2[64];
	const char *dns[2] = {n1, n2};
	struct pki_cert *c;

	snprintf(n1, sizeof(n1), "w%u.t%u.mix.example", i, i % 7);
	if (i % 5 == 0)
		snprintf(n2, sizeof(n2), "*.t%u.mix.example", i % 7);
	else
		snprintf(n2, sizeof(n2), "www.w%u.t%u.mix.example", i, i % 7);
	c = keep(pki_issue(T.ca, n1, dns, 2, 0, T.now - DAY, T.now + 90 * DAY));
	assert_non_null(c);
	add_req("/ct/v1/add-chain", chain_body(c, T.ca));
}

static void add_smime(unsigned i)
{
	char n1[64];
	const char *dns[1] = {n1};
	struct pki_cert *c;

	snprintf(n1, sizeof(n1), "m%u@t%u.mail.mix.example", i, i % 3);
	c = keep(pki_issue(T.sca, "mail user", dns, 1, PKI_EMAIL, T.now - DAY, T.now + 90 * DAY));
	assert_non_null(c);
	add_req("/ct/v1/add-chain", chain_body(c, T.sca));
}

static void add_policy(unsigned i)
{
	char subject[64], p[1024];
	const char *dns[1] = {subject};
	struct pki_cert *signer;
	char *jws;

	if (i % 4 == 3) {
		snprintf(subject, sizeof(subject), "e%u@mail.mix.example", i);
		signer = keep(pki_issue(T.sca, "e2e", dns, 1, PKI_EMAIL, T.now - DAY,
					T.now + 90 * DAY));
		snprintf(p, sizeof(p),
			 "{\"e2e\":{\"pgp\":\"prefer\",\"smime\":\"require\"},\"exp\":%lld,"
			 "\"iat\":%lld,\"mode\":\"enforce\",\"protocol\":\"email-e2e\","
			 "\"serial\":1,\"subject\":{\"email\":\"%s\"},\"v\":1}",
			 (long long)(T.now + 30 * DAY), (long long)T.now, subject);
		assert_non_null(signer);
		jws = mnfix_x5c_jws(signer, T.sca, p);
	} else {
		snprintf(subject, sizeof(subject), "p%u.mix.example", i);
		signer = keep(pki_issue(T.ca, subject, dns, 1, 0, T.now - DAY, T.now + 90 * DAY));
		snprintf(p, sizeof(p),
			 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"mx.%s\"],"
			 "\"protocol\":\"smtp\",\"serial\":1,\"subject\":{\"domain\":\"%s\"},"
			 "\"tls\":{\"min\":\"1.2\",\"transport\":\"starttls\"},\"v\":1}",
			 (long long)(T.now + 30 * DAY), (long long)T.now, subject, subject);
		assert_non_null(signer);
		jws = mnfix_x5c_jws(signer, T.ca, p);
	}
	assert_non_null(jws);
	add_req("/mn/v1/add-policy", mnfix_policy_request(jws));
	free(jws);
}

static void add_dups(size_t from, size_t n, unsigned *seed)
{
	size_t end = T.num_reqs;

	for (size_t i = 0; i < n; i++) {
		const struct req *r = &T.reqs[from + (size_t)rand_r(seed) % (end - from)];
		add_req(r->path, strdup(r->body));
	}
}

static void shuffle(size_t from, unsigned *seed)
{
	for (size_t i = T.num_reqs - 1; i > from; i--) {
		size_t j = from + (size_t)rand_r(seed) % (i - from + 1);
		struct req t = T.reqs[i];
		T.reqs[i] = T.reqs[j];
		T.reqs[j] = t;
	}
}

static int setup(void **state)
{
	const struct pki_cert *rs[1];

	(void)state;
	pthread_mutex_init(&T.mu, NULL);
	T.now = pki_now();
	strcpy(T.dir, "/tmp/mn-mapaudit-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	snprintf(T.data, sizeof(T.data), "%s/data", T.dir);
	snprintf(T.roots, sizeof(T.roots), "%s/roots.pem", T.dir);
	snprintf(T.sroots, sizeof(T.sroots), "%s/sroots.pem", T.dir);
	snprintf(T.keyfile, sizeof(T.keyfile), "%s/log.der", T.dir);
	snprintf(T.cfg, sizeof(T.cfg), "%s/cfg", T.dir);
	if (make_pgp() != 0) {
		fprintf(stderr, "gpg fixtures failed, see %s/gpg.log\n", T.dir);
		return -1;
	}
	T.root = pki_root("Map Audit Root", 0);
	T.ca = pki_issue(T.root, "Map Audit CA", NULL, 0, PKI_CA, T.now - DAY, T.now + 365 * DAY);
	T.sroot = pki_root("Map Audit Mail Root", 0);
	T.sca = pki_issue(T.sroot, "Map Audit Mail CA", NULL, 0, PKI_CA, T.now - DAY,
			  T.now + 365 * DAY);
	if (T.ca == NULL || T.sca == NULL)
		return -1;
	rs[0] = T.root;
	if (pki_write_pem(T.roots, rs, 1) != 0)
		return -1;
	rs[0] = T.sroot;
	return pki_write_pem(T.sroots, rs, 1);
}

static int teardown(void **state)
{
	int ok = 0;

	(void)state;
	if (T.logd.pid > 0)
		logd_stop(&T.logd, SIGKILL);
	for (size_t i = 0; i < T.num_certs; i++)
		pki_free(T.certs[i]);
	for (size_t i = 0; i < T.num_reqs; i++)
		free(T.reqs[i].body);
	for (int k = 0; k < NPGP; k++)
		free(T.pgp[k].p);
	pki_free(T.ca);
	pki_free(T.root);
	pki_free(T.sca);
	pki_free(T.sroot);
	if (T.gpg_ok && mnfix_gpg_kill(&T.g) != 0)
		ok = -1;
	if (mnfix_rm_rf(T.dir) != 0)
		ok = -1;
	return ok;
}

/* --- submitting ------------------------------------------------------------- */

static void *submit_loop(void *arg)
{
	(void)arg;
	for (;;) {
		struct http_resp r;
		size_t i;
		int tries = 0;

		pthread_mutex_lock(&T.mu);
		i = T.next_req < T.num_reqs && T.failure[0] == '\0' ? T.next_req++ : SIZE_MAX;
		pthread_mutex_unlock(&T.mu);
		if (i == SIZE_MAX)
			return NULL;
		for (;;) {
			if (http_do(T.logd.port, "POST", T.reqs[i].path,
				    "Content-Type: application/json\r\n", T.reqs[i].body,
				    strlen(T.reqs[i].body), &r) != 0) {
				r.status = 0;
				r.body = NULL;
			}
			if (r.status != 503 || ++tries > 100)
				break;
			http_resp_free(&r);
			usleep(10000);
		}
		if (r.status != 200) {
			pthread_mutex_lock(&T.mu);
			if (T.failure[0] == '\0')
				snprintf(T.failure, sizeof(T.failure), "POST %s: %d %s", T.reqs[i].path,
					 r.status, r.body ? (char *)r.body : "");
			pthread_mutex_unlock(&T.mu);
		}
		http_resp_free(&r);
	}
}

/* submit_all sends requests [T.next_req, T.num_reqs) from 4 threads. */
static void submit_all(void)
{
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, submit_loop, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	if (T.failure[0] != '\0')
		fail_msg("%s", T.failure);
}

/* --- running mnctl ---------------------------------------------------------- */

/* monitor runs mnctl monitor --audit-map (and |extra|, NULL-terminated) with
 * state |st| and returns its exit code; *out / *err get its output. */
static int monitor(const char *st, const char *const *extra, int audit, char **out, char **err)
{
	char url[64];
	const char *args[32];
	int n = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", T.logd.port);
	args[n++] = "--config";
	args[n++] = T.cfg;
	args[n++] = "--log";
	args[n++] = url;
	args[n++] = "--key";
	args[n++] = T.keyfile;
	args[n++] = "monitor";
	if (audit)
		args[n++] = "--audit-map";
	args[n++] = "--state";
	args[n++] = st;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	return mnrun_mnctl(T.dir, args, out, err);
}

/* audit_ok runs the audit and returns the "map roots verified" it reports. */
static unsigned long audit_ok(const char *st, const char *const *extra, uint64_t *new_entries)
{
	char *out, *err;
	const char *line, *v;
	unsigned long roots = 0, size = 0, fresh = 0;
	int rc = monitor(st, extra, 1, &out, &err);

	v = strstr(out, "verified tree_size ");

	line = strstr(out, "map audit: ");
	if (rc != 0 || line == NULL || sscanf(line, "map audit: %lu map roots", &roots) != 1 ||
	    v == NULL || sscanf(v, "verified tree_size %lu", &size) != 1 ||
	    strchr(v, ':') == NULL || sscanf(strchr(v, ':') + 1, " %lu new entries", &fresh) != 1)
		fail_msg("mnctl monitor --audit-map: exit %d\n%s%s", rc, out, err);
	if (new_entries != NULL)
		*new_entries = fresh;
	free(out);
	free(err);
	return roots;
}

/* count_map_roots walks get-entries and counts the map-root leaves. */
static unsigned long count_map_roots(uint64_t *out_size)
{
	struct kconn kc;
	uint64_t start = 0, size;
	unsigned long roots = 0;
	struct http_resp r;
	json_t *j;

	assert_int_equal(kc_open(&kc, T.logd.port, 10000), 0);
	assert_int_equal(kc_request(&kc, "GET", "/ct/v1/get-sth", NULL, 0, 1, &r), 0);
	j = json_loadb((char *)r.body, r.body_len, 0, NULL);
	size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	json_decref(j);
	http_resp_free(&r);
	while (start < size) {
		char target[128];
		json_t *ents;

		snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%" PRIu64 "&end=%" PRIu64,
			 start, size - 1);
		assert_int_equal(kc_request(&kc, "GET", target, NULL, 0, 1, &r), 0);
		assert_int_equal(r.status, 200);
		j = json_loadb((char *)r.body, r.body_len, 0, NULL);
		ents = json_object_get(j, "entries");
		assert_true(json_array_size(ents) > 0);
		for (size_t i = 0; i < json_array_size(ents); i++) {
			json_t *li = json_object_get(json_array_get(ents, i), "leaf_input");
			uint8_t *leaf;
			size_t ll;
			struct ct_entry e;
			assert_int_equal(mn_b64_decode(&leaf, &ll, json_string_value(li),
						       json_string_length(li), 1 << 20), 0);
			assert_true(ct_parse_leaf(&e, leaf, ll));
			roots += e.entry_type == MN_MAP_ROOT_ENTRY;
			free(leaf);
		}
		start += json_array_size(ents);
		json_decref(j);
		http_resp_free(&r);
	}
	kc_close(&kc);
	*out_size = size;
	return roots;
}

static int has_audit_file(const char *st, uint64_t size)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/map-audit.%" PRIu64 ".bin", st, size);
	return stat(path, &sb) == 0;
}

static void test_mixed_workload(void **state)
{
	char st[128], st2[128], st3[128], watch[128];
	unsigned seed = 4242, i;
	unsigned long roots1, roots2, roots_all, walked;
	uint64_t size1, size2, fresh;
	size_t wave2;

	(void)state;
	{
		const char *args[] = {"--data", T.data, "--tls-roots", T.roots, "--smime-roots",
				      T.sroots, "--certifiers", T.certifiers, "--threads", "2", NULL};
		assert_int_equal(logd_start(&T.logd, args), 0);
		assert_int_equal(mnfix_write_file(T.keyfile, T.logd.spki, T.logd.spki_len), 0);
	}
	/* wave 1: every class, then duplicates of any of them, shuffled */
	for (i = 0; i < 120; i++)
		add_tls(i);
	for (i = 0; i < 40; i++)
		add_smime(i);
	for (i = 0; i < 16; i++)
		add_policy(i);
	for (int k = 0; k < NPGP; k++) {
		char uid[64];
		snprintf(uid, sizeof(uid), "User %d <u%d@pgp%d.mix.example>", k, k, k % 2);
		add_req("/mn/v1/add-pgp", mnfix_pgp_request(T.pgp[k].p, T.pgp[k].len, uid, T.ca1));
	}
	add_dups(0, 40, &seed);
	shuffle(0, &seed);
	submit_all();

	snprintf(st, sizeof(st), "%s/st1", T.dir);
	{
		const char *extra[] = {"--checkpoint", "7", "--batch", "5", NULL};
		roots1 = audit_ok(st, extra, &fresh);
	}
	walked = count_map_roots(&size1);
	assert_int_equal(fresh, size1);
	assert_int_equal(roots1, walked);
	assert_true(roots1 >= 2);
	assert_true(has_audit_file(st, size1));

	/* wave 2: more of each, and duplicates of wave 1; the saved audit resumes */
	wave2 = T.num_reqs;
	for (i = 200; i < 240; i++)
		add_tls(i);
	for (i = 100; i < 110; i++)
		add_smime(i);
	for (i = 100; i < 104; i++)
		add_policy(i);
	add_dups(0, 20, &seed);
	shuffle(wave2, &seed);
	submit_all();
	roots2 = audit_ok(st, NULL, &fresh);
	walked = count_map_roots(&size2);
	assert_int_equal(fresh, size2 - size1);
	assert_int_equal(roots2, walked); /* the count is carried in the saved audit */
	assert_true(roots2 > roots1);
	assert_true(has_audit_file(st, size2));
	assert_false(has_audit_file(st, size1)); /* the old one is gone */

	/* from scratch: the same number of roots */
	snprintf(st2, sizeof(st2), "%s/st2", T.dir);
	roots_all = audit_ok(st2, NULL, NULL);
	assert_int_equal(roots_all, walked);

	/* a state made without --audit-map: the audit starts from leaf 0 */
	snprintf(st3, sizeof(st3), "%s/st3", T.dir);
	snprintf(watch, sizeof(watch), "%s/watch.txt", T.dir);
	assert_int_equal(mnfix_write_file(watch, "mix.example\n", 12), 0);
	{
		const char *extra[] = {"--watch", watch, NULL};
		char *out, *err;
		assert_int_equal(monitor(st3, extra, 0, &out, &err), 0);
		free(out);
		free(err);
		assert_false(has_audit_file(st3, size2));
		assert_int_equal(audit_ok(st3, extra, &fresh), walked);
		assert_int_equal(fresh, 0);
		assert_true(has_audit_file(st3, size2));
		/* a run without --audit-map drops the audit it cannot keep up */
		assert_int_equal(monitor(st3, extra, 0, &out, &err), 0);
		free(out);
		free(err);
		assert_false(has_audit_file(st3, size2));
		assert_int_equal(audit_ok(st3, extra, &fresh), walked);
	}
	fprintf(stderr, "map audit: %zu submissions, tree size %" PRIu64 ", %lu map roots\n",
		T.num_reqs, size2, walked);
	assert_int_equal(logd_stop(&T.logd, SIGTERM), 0);
}

/* --- a log that commits a wrong map root ------------------------------------ */

struct tamper {
	struct ct_signer *signer;
	uint64_t ts, bad, num_roots;
	uint8_t *leaf;
	struct merkle_hasher *h;
};

static int tamper_leaf(void *ctx, uint64_t covered, uint64_t num_keys,
		       const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out)
{
	struct tamper *t = ctx;
	struct mapkeys_root mr = {covered, num_keys, {0}};
	uint8_t body[MAPKEYS_ROOT_BODY_LEN];
	struct ct_entry e;
	struct cbb b;
	size_t len;

	memcpy(mr.root, map_root, 32);
	if (t->num_roots++ == 3) {
		t->bad = covered;
		mr.root[5] ^= 1;
	}
	mapkeys_root_encode(body, &mr);
	memset(&e, 0, sizeof(e));
	e.timestamp = t->ts;
	e.entry_type = MN_MAP_ROOT_ENTRY;
	e.body = body;
	e.body_len = sizeof(body);
	free(t->leaf);
	if (!cbb_init(&b, 128, 1024) || !ct_write_leaf(&b, &e) || !cbb_finish(&b, &t->leaf, &len))
		return MN_ENOMEM;
	out->leaf_input = t->leaf;
	out->leaf_input_len = len;
	merkle_leaf_hash(t->h, out->leaf_hash, t->leaf, len);
	merkle_sha256(t->h, out->dedup_key, out->leaf_hash, 32);
	return 0;
}

static int tamper_sign(void *ctx, uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
		       struct store_sth *out)
{
	struct tamper *t = ctx;
	struct ct_sig sig;
	struct cbb b;
	uint8_t *der;
	size_t len;
	int ret;

	memset(out, 0, sizeof(*out));
	out->tree_size = tree_size;
	out->timestamp = t->ts;
	memcpy(out->root, root, 32);
	if ((ret = ct_sign_sth(t->signer, &sig, t->ts, tree_size, root)) != 0)
		return ret;
	if (!cbb_init(&b, 96, STORE_MAX_SIG_LEN) || !ct_write_sig(&b, &sig) ||
	    !cbb_finish(&b, &der, &len))
		return MN_ENOMEM;
	memcpy(out->sig, der, len);
	out->sig_len = (uint16_t)len;
	free(der);
	return 0;
}

static void test_tampered_root(void **state)
{
	char data[128], keypath[160], st[128], want[96], *out, *err;
	struct store_options so = {.map = 1};
	struct tamper t = {0};
	struct store *s;
	uint64_t index = 0;
	int rc;

	(void)state;
	snprintf(data, sizeof(data), "%s/tampered", T.dir);
	snprintf(keypath, sizeof(keypath), "%s/log-key.pem", data);
	so.dir = data;
	assert_int_equal(store_open(&s, &so), 0);
	assert_int_equal(logd_key_load(&t.signer, keypath, 1), 0);
	t.h = merkle_hasher_new();
	t.ts = (uint64_t)T.now * 1000 - 60000;
	/* six batches of certificates, map-root leaf 3 wrong */
	for (int b = 0; b < 6; b++) {
		struct store_leaf l[3];
		uint8_t *leaves[3], (*keys[3])[MAP_KEY_LEN];
		struct store_map_commit mc = {tamper_leaf, tamper_sign, &t};
		struct store_sth sth;

		memset(l, 0, sizeof(l));
		for (int i = 0; i < 3; i++) {
			char name[64];
			const char *dns[1] = {name};
			struct pki_cert *c;
			struct ct_entry e;
			struct cbb cb;
			size_t len;
			int cut;

			snprintf(name, sizeof(name), "x%d.tamper.example", b * 3 + i);
			c = keep(pki_issue(T.ca, name, dns, 1, 0, T.now - DAY, T.now + 90 * DAY));
			assert_non_null(c);
			memset(&e, 0, sizeof(e));
			e.timestamp = ++t.ts;
			e.entry_type = CT_X509_ENTRY;
			e.body = c->der;
			e.body_len = c->der_len;
			assert_true(cbb_init(&cb, 2048, 1 << 20) && ct_write_leaf(&cb, &e) &&
				    cbb_finish(&cb, &leaves[i], &len));
			l[i].leaf_input = leaves[i];
			l[i].leaf_input_len = len;
			merkle_leaf_hash(t.h, l[i].leaf_hash, leaves[i], len);
			memcpy(l[i].dedup_key, l[i].leaf_hash, 32);
			keys[i] = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
			assert_int_equal(mapkeys_leaf(t.h, leaves[i], len, keys[i],
						      &l[i].num_map_keys, &cut), 0);
			l[i].map_keys = (const uint8_t(*)[32])keys[i];
		}
		t.ts++;
		assert_int_equal(store_append_mapped(s, l, 3, &mc, &sth), 0);
		for (int i = 0; i < 3; i++) {
			free(leaves[i]);
			free(keys[i]);
		}
	}
	store_close(s);
	ct_signer_free(t.signer);
	free(t.leaf);
	merkle_hasher_free(t.h);
	assert_int_equal(t.bad, 4 * 4 - 1); /* batches of 3 + its map-root leaf */

	{
		const char *args[] = {"--data", data, "--tls-roots", T.roots, NULL};
		assert_int_equal(logd_start(&T.logd, args), 0);
		assert_int_equal(mnfix_write_file(T.keyfile, T.logd.spki, T.logd.spki_len), 0);
	}
	snprintf(st, sizeof(st), "%s/st-tampered", T.dir);
	{
		const char *extra[] = {"--checkpoint", "4", NULL};
		rc = monitor(st, extra, 1, &out, &err);
	}
	snprintf(want, sizeof(want), "map-root leaf %" PRIu64 " (tree size %" PRIu64 ")", t.bad,
		 t.bad + 1);
	if (rc != 3 || strstr(err, want) == NULL)
		fail_msg("want exit 3 naming \"%s\", got %d\n%s%s", want, rc, out, err);
	free(out);
	free(err);
	/* the saved state stops before the bad leaf */
	{
		char path[256];
		struct stat sb;
		for (index = t.bad; index <= 24; index++) {
			snprintf(path, sizeof(path), "%s/map-audit.%" PRIu64 ".bin", st, index);
			assert_int_not_equal(stat(path, &sb), 0);
		}
	}
	/* and a resumed run fails the same way */
	rc = monitor(st, NULL, 1, &out, &err);
	if (rc != 3 || strstr(err, want) == NULL)
		fail_msg("resumed: want exit 3 naming \"%s\", got %d\n%s%s", want, rc, out, err);
	free(out);
	free(err);
	assert_int_equal(logd_stop(&T.logd, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mixed_workload),
		cmocka_unit_test(test_tampered_root),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
