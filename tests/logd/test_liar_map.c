/* test_liar_map.c: a log that commits a wrong map root. A proxy cannot make
 * this lie (the map-root leaf is in the signed tree), so the test is the log
 * operator: it stops logd, appends a batch with the storage API itself
 * (store_append_mapped) whose map-root leaf hook writes a wrong root, signs
 * the tree head with the log's key, and serves the data directory with logd
 * again. No test-only code path in logd: it serves what its storage holds.
 *
 * To be served at all, the wrong root must also be the root of the map state
 * the storage keeps (logd cross-checks the two and answers 500 otherwise): the
 * hook writes it through the |map_root| pointer store_append_mapped hands it,
 * which is that state (storage/store.c; the map-root leaf adds no keys, so
 * nothing recomputes it). The map's tiles keep the true trie, so every MapProof
 * logd serves leads to the true root, not the committed one, and mnctl lookup
 * must fail on the map proof (`mnctl monitor --audit-map` would see the wrong
 * root by replaying the log). */
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

#include "common/bytes.h"
#include "common/clock.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "logd/keys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400

static struct {
	char dir[64], data[128], cfg[128], tls[128], url[64];
	struct pki_cert *root, *ica;
	struct logd_proc logd;
} T;

static int run_mnctl(const char *const *args, char **err)
{
	const char *build = getenv("MN_BUILD");
	char bin[256], ep[128];
	const char *argv[32];
	int argc = 0, status;
	pid_t pid;
	FILE *f;
	long n;

	snprintf(bin, sizeof(bin), "%s/mnctl", build ? build : "build");
	snprintf(ep, sizeof(ep), "%s/err.txt", T.dir);
	argv[argc++] = bin;
	argv[argc++] = "--config";
	argv[argc++] = T.cfg;
	for (size_t i = 0; args[i] != NULL && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	pid = fork();
	if (pid == 0) {
		int o = open("/dev/null", O_WRONLY);
		int e = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1);
		dup2(e, 2);
		unsetenv("MN_LOG");
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	f = fopen(ep, "rb");
	*err = calloc(1, 8192);
	if (f != NULL) {
		n = (long)fread(*err, 1, 8191, f);
		(void)n;
		fclose(f);
	}
	return WEXITSTATUS(status);
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

	/* the lie: one bit of the root, in the leaf and in the stored state */
	((uint8_t *)map_root)[7] ^= 0x20;
	memcpy(mr.root, map_root, MERKLE_HASH_LEN);
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
 * leaf with a wrong root, in the log's own storage, signed with its key. */
static void append_lying_batch(void)
{
	static const char *const dns[1] = {"example.com"};
	struct store_options opt = {.dir = T.data, .map = 1};
	struct liar_commit c = {0};
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

	assert_non_null(keys);
	assert_non_null(cert);
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
	leaf.num_map_keys = num_keys;
	assert_int_equal(store_open(&st, &opt), 0);
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
}

/* --- the test ------------------------------------------------------------- */

static void test_wrong_map_root(void **state)
{
	(void)state;
	start_logd();
	add_cert("example.com");
	add_cert("www.example.com");
	mnctl(0, NULL, "info", T.url, "--trust-on-first-use");
	mnctl(0, NULL, "--log", T.url, "lookup", "example.com");
	mnctl(0, NULL, "--log", T.url, "lookup", "example.com", "--subdomains");
	assert_int_equal(logd_stop(&T.logd, SIGTERM), 0);

	append_lying_batch();
	/* the same log, on a new port: mnctl's pin and history are per URL */
	start_logd();
	mnctl(0, NULL, "info", T.url, "--trust-on-first-use");
	mnctl(3, "does not match the committed root", "--log", T.url, "lookup", "example.com");
	mnctl(3, "does not match the committed root", "--log", T.url, "lookup", "www.example.com");
	mnctl(3, "does not match the committed root", "--log", T.url, "resolve", "example.com",
	      "--protocol", "smtp");
	/* the entries themselves are all included: only the map lies */
	mnctl(0, NULL, "--log", T.url, "lookup", "example.com", "--no-completeness");
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
		cmocka_unit_test(test_wrong_map_root),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
