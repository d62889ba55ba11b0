/* test_liar_map.c: a log that commits a wrong map. A proxy cannot make this
 * lie (the map-root leaf is in the signed tree), so the test is the log
 * operator: it stops logd, appends a batch with the storage API itself
 * (store_append_mapped, the tree head signed with the log's key) and serves
 * the data directory with logd again. No test-only code path in logd: it
 * serves what its storage holds.
 *
 * Two lies:
 *  - the map-root leaf hook writes a wrong root into the leaf. The storage's
 *    map state keeps the true root (and since bd77b79 the store refuses to
 *    open when its tiles do not give the stored root, so the state cannot be
 *    made to agree with the lie): logd cross-checks the leaf against its state
 *    and answers lookups and resolves with 500, and mnctl refuses (exit 2);
 *    `mnctl monitor --audit-map` names the leaf (exit 3);
 *  - the batch files its certificate under no map key: tiles, state and leaf
 *    agree on a root that is wrong for the log's leaves. Every answer is then
 *    consistent with the committed root and mnctl lookup cannot tell (it
 *    lists the entries the map holds, without the hidden one); replaying the
 *    log, `mnctl monitor --audit-map`, catches it (exit 3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "logd/keys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/proc.h"

#define DAY 86400

static struct {
	char dir[64], data[128], cfg[128], tls[128], url[64];
	struct pki_cert *root, *ica;
	struct logd_proc logd;
} T;

static int run_mnctl_io(const char *const *args, char **err, char **out);

static int run_mnctl(const char *const *args, char **err)
{
	return run_mnctl_io(args, err, NULL);
}

/* run_mnctl_out runs mnctl and returns its exit code and stdout (*out). */
static int run_mnctl_out(const char *const *args, char **out)
{
	char *err = NULL;
	int rc = run_mnctl_io(args, &err, out);

	if (rc != 0)
		fprintf(stderr, "mnctl: %s", err ? err : "");
	free(err);
	return rc;
}

/* has_index: |out| has a JSON line with "index": |index|. */
static int has_index(char *out, json_int_t index)
{
	char *save = NULL;

	for (char *l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(l, 0, NULL);
		int hit = json_integer_value(json_object_get(j, "index")) == index &&
			  json_object_get(j, "index") != NULL;
		json_decref(j);
		if (hit)
			return 1;
	}
	return 0;
}

/* run_mnctl_io runs mnctl with this test's --config (tests/lib/mnrun). */
static int run_mnctl_io(const char *const *args, char **err, char **out)
{
	return mnrun_mnctl_pre(T.dir, MNRUN_ARGV("--config", T.cfg), args, out, err);
}

#define mnctl(rc, needle, ...) mnctl_(__LINE__, rc, needle, (const char *const[]){__VA_ARGS__, NULL})
static void mnctl_(int line, int rc, const char *needle, const char *const *args)
{
	char *err = NULL;
	int got = run_mnctl(args, &err);

	if (got != rc || (needle != NULL && strstr(err, needle) == NULL)) {
		fprintf(stderr, "line %d: mnctl exit %d (want %d, stderr with %s)\nstderr: %s\n",
			line, got, rc, needle ? needle : "-", err ? err : "");
		free(err);
		fail();
	}
	if (rc != 0)
		fprintf(stderr, "    refused as it should: %s", err);
	free(err);
}

static void add_cert(const char *name)
{
	const char *dns[1] = {name};
	int64_t now = pki_now();
	struct pki_cert *c = pki_issue(T.ica, name, dns, 1, 0, now - DAY, now + 90 * DAY);
	const struct pki_cert *chain[2] = {c, T.ica};
	char *body;
	struct http_resp r;

	assert_non_null(c);
	body = ctc_chain_json(chain, 2);
	assert_int_equal(http_do(T.logd.port, "POST", "/ct/v1/add-chain",
				 "Content-Type: application/json\r\n", body, strlen(body), &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	pki_free(c);
}

static void start_logd(void)
{
	const char *args[] = {"--data", T.data, "--tls-roots", T.tls, "--threads", "1", NULL};

	assert_int_equal(logd_start(&T.logd, args), 0);
	snprintf(T.url, sizeof(T.url), "http://127.0.0.1:%u", T.logd.port);
}

/* --- the lying operator's batch ------------------------------------------ */

struct liar_commit {
	int wrong_root;  /* 1: flip a bit of the root in the map-root leaf */
	int leaf_index;  /* the log's leaves carry their index (a new log's do):
			  * so do the liar's, or the monitor would see that first */
	struct merkle_hasher *h;
	struct ct_signer *signer;
	uint64_t ts;
	uint8_t *leaf;
	size_t leaf_len;
};

static int wrong_root_leaf(void *ctx, uint64_t covered, uint64_t num_keys,
			   const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out)
{
	struct liar_commit *c = ctx;
	uint8_t body[MAPKEYS_ROOT_BODY_LEN];
	struct mapkeys_root mr = {.covered = covered, .num_keys = num_keys};
	struct ct_entry e = {.timestamp = c->ts, .entry_type = MN_MAP_ROOT_ENTRY};
	struct cbb cbb;
	uint8_t ext[CT_LEAF_INDEX_EXT_LEN];

	if (c->leaf_index) {
		if (!ct_leaf_index_ext(ext, covered))
			return -1;
		e.extensions = ext;
		e.extensions_len = sizeof(ext);
	}
	memcpy(mr.root, map_root, MERKLE_HASH_LEN);
	if (c->wrong_root)
		mr.root[7] ^= 0x20; /* the lie: one bit of the committed root */
	mapkeys_root_encode(body, &mr);
	e.body = body;
	e.body_len = sizeof(body);
	if (!cbb_init(&cbb, 128, 1024) || !ct_write_leaf(&cbb, &e) ||
	    !cbb_finish(&cbb, &c->leaf, &c->leaf_len)) {
		cbb_cleanup(&cbb);
		return -1;
	}
	out->leaf_input = c->leaf;
	out->leaf_input_len = c->leaf_len;
	merkle_leaf_hash(c->h, out->leaf_hash, c->leaf, c->leaf_len);
	merkle_sha256(c->h, out->dedup_key, out->leaf_hash, MERKLE_HASH_LEN);
	return 0;
}

static int sign_sth(void *ctx, uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
		    struct store_sth *out)
{
	struct liar_commit *c = ctx;
	struct ct_sig sig;
	struct cbb cbb;
	uint8_t *der;
	size_t der_len;

	memset(out, 0, sizeof(*out));
	out->tree_size = tree_size;
	out->timestamp = c->ts;
	memcpy(out->root, root, MERKLE_HASH_LEN);
	if (ct_sign_sth(c->signer, &sig, c->ts, tree_size, root) != 0 ||
	    !cbb_init(&cbb, 96, STORE_MAX_SIG_LEN) || !ct_write_sig(&cbb, &sig) ||
	    !cbb_finish(&cbb, &der, &der_len))
		return -1;
	memcpy(out->sig, der, der_len);
	out->sig_len = (uint16_t)der_len;
	free(der);
	return 0;
}

/* append_lying_batch appends one certificate for example.com and a map-root
 * leaf in the log's own storage, signed with its key: with |wrong_root| the
 * leaf's root is wrong, else the certificate is filed under no map key. */
static uint64_t append_lying_batch(int wrong_root)
{
	static const char *const dns[1] = {"example.com"};
	struct store_options opt = {.dir = T.data, .map = 1};
	struct liar_commit c = {.wrong_root = wrong_root};
	struct store *st = NULL;
	struct store_leaf leaf = {0};
	struct store_sth sth;
	struct ct_entry e = {.entry_type = CT_X509_ENTRY};
	uint8_t (*keys)[MAP_KEY_LEN] = calloc(MAPKEYS_MAX, MAP_KEY_LEN);
	uint8_t *leaf_input;
	size_t leaf_len, num_keys;
	int truncated;
	char keypath[192];
	struct cbb cbb;
	int64_t now = pki_now();
	struct pki_cert *cert = pki_issue(T.ica, "example.com", dns, 1, 0, now - DAY, now + DAY);
	uint8_t ext[CT_LEAF_INDEX_EXT_LEN];

	assert_non_null(keys);
	assert_non_null(cert);
	assert_int_equal(store_open(&st, &opt), 0);
	c.leaf_index = (store_format(st) & STORE_FMT_LEAF_INDEX) != 0;
	if (c.leaf_index) {
		struct merkle_range r;
		store_get_range(st, &r);
		assert_true(ct_leaf_index_ext(ext, r.size));
		e.extensions = ext;
		e.extensions_len = sizeof(ext);
	}
	c.h = merkle_hasher_new();
	c.ts = mn_now_ms();
	snprintf(keypath, sizeof(keypath), "%s/log-key.pem", T.data);
	assert_int_equal(logd_key_load(&c.signer, keypath, 0), 0);
	e.timestamp = c.ts;
	e.body = cert->der;
	e.body_len = cert->der_len;
	assert_true(cbb_init(&cbb, 2048, 1 << 20) && ct_write_leaf(&cbb, &e) &&
		    cbb_finish(&cbb, &leaf_input, &leaf_len));
	leaf.leaf_input = leaf_input;
	leaf.leaf_input_len = leaf_len;
	merkle_leaf_hash(c.h, leaf.leaf_hash, leaf_input, leaf_len);
	merkle_sha256(c.h, leaf.dedup_key, cert->der, cert->der_len);
	assert_int_equal(mapkeys_leaf(c.h, leaf_input, leaf_len, keys, &num_keys, &truncated), 0);
	assert_true(num_keys > 0);
	leaf.map_keys = (const uint8_t(*)[32])keys;
	leaf.num_map_keys = wrong_root ? num_keys : 0;
	{
		struct store_map_commit mc = {wrong_root_leaf, sign_sth, &c};
		assert_int_equal(store_append_mapped(st, &leaf, 1, &mc, &sth), 0);
	}
	store_close(st);
	free(leaf_input);
	free(c.leaf);
	free(keys);
	ct_signer_free(c.signer);
	merkle_hasher_free(c.h);
	pki_free(cert);
	return sth.tree_size - 2; /* the certificate's index, before its map-root leaf */
}

/* --- the tests ------------------------------------------------------------ */

/* new_log starts logd on a fresh data directory, logs two certificates and
 * checks honest answers. */
static void new_log(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s/monitor'", T.data, T.cfg, T.dir);
	assert_int_equal(system(cmd), 0);
	start_logd();
	add_cert("example.com");
	add_cert("www.example.com");
	mnctl(0, NULL, "info", T.url, "--trust-on-first-use");
	mnctl(0, NULL, "--log", T.url, "lookup", "example.com");
	mnctl(0, NULL, "--log", T.url, "lookup", "example.com", "--subdomains");
	assert_int_equal(logd_stop(&T.logd, SIGTERM), 0);
}

static void test_wrong_root_in_leaf(void **state)
{
	(void)state;
	new_log();
	(void)append_lying_batch(1);
	/* the same log, on a new port: mnctl's pin and history are per URL */
	start_logd();
	mnctl(0, NULL, "info", T.url, "--trust-on-first-use");
	mnctl(2, "HTTP 500", "--log", T.url, "lookup", "example.com");
	mnctl(2, "HTTP 500", "--log", T.url, "resolve", "example.com", "--protocol", "smtp");
	{
		char st[160];
		snprintf(st, sizeof(st), "%s/monitor", T.dir);
		mnctl(3, "map-root leaf", "--log", T.url, "monitor", "--audit-map", "--state", st);
	}
	logd_stop(&T.logd, SIGTERM);
}

static void test_map_hides_leaf(void **state)
{
	const char *const args[] = {"--log", T.url, "--json", "lookup", "example.com", NULL};
	char *out = NULL, *copy;
	uint64_t hidden;

	(void)state;
	new_log();
	hidden = append_lying_batch(0);
	start_logd();
	mnctl(0, NULL, "info", T.url, "--trust-on-first-use");
	/* consistent with the committed root: accepted, without the hidden
	 * certificate (only a replay of the log sees the lie) */
	assert_int_equal(run_mnctl_out(args, &out), 0);
	copy = strdup(out);
	assert_false(has_index(out, (json_int_t)hidden));
	assert_true(has_index(copy, 1)); /* example.com: leaf 0 is the empty map's root */
	free(copy);
	free(out);
	/* the replay of the log finds the root wrong */
	{
		char st[160];
		snprintf(st, sizeof(st), "%s/monitor", T.dir);
		mnctl(3, "map-root leaf", "--log", T.url, "monitor", "--audit-map", "--state", st);
	}
	logd_stop(&T.logd, SIGTERM);
}

static int setup(void **state)
{
	const struct pki_cert *rs[1];
	int64_t now = pki_now();

	(void)state;
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-liarmap-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	snprintf(T.data, sizeof(T.data), "%s/data", T.dir);
	snprintf(T.cfg, sizeof(T.cfg), "%s/config", T.dir);
	snprintf(T.tls, sizeof(T.tls), "%s/tls.pem", T.dir);
	T.root = pki_root("Liar Map Root", 0);
	T.ica = T.root ? pki_issue(T.root, "Liar Map CA", NULL, 0, PKI_CA, now - DAY,
				   now + 365 * DAY)
		       : NULL;
	rs[0] = T.root;
	return T.ica != NULL && pki_write_pem(T.tls, rs, 1) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	pki_free(T.ica);
	pki_free(T.root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_root_in_leaf),
		cmocka_unit_test(test_map_hides_leaf),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
