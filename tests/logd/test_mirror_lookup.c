/* test_mirror_lookup.c: lookups and resolve on a verifying mirror
 * (logd --mirror, logd/mirror.h, logd/mirror_vrf.h) of a mapped origin with
 * tls and smime certificates, smtp policies and an OpenPGP endorsement:
 * mnctl lookup and resolve against the mirror, the origin's key pinned,
 * verify with completeness and list what they list against the origin, by
 * domain and by address. By address, the pgpaddr: map key comes with the
 * origin's VRF proof (fetched by the mirror from /mn/v1/vrf, cached; the map
 * sections equal the origin's), the origin's VRF key pinned in the mirror's
 * data directory; with the origin stopped a cached proof still answers and a
 * new address gets 503 vrfUnavailable; a valid VRF proof of another address
 * (tests/lib/liar LIAR_OTHER_VRF) gets 503 badVrfProof, and so does an
 * operator's pin of another VRF key (never replaced from the origin's info);
 * an origin whose map-root leaf lies stops the mirror. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/files.h"
#include "tests/lib/liar.h"
#include "tests/lib/mirrorrun.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define ORIGIN "log.example/mirror"

static char dir[64];
static struct pki_cert *root, *ca;
static int added;

static void rm_rf(const char *d)
{
	if (mnfix_rm_rf(d) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
}

static void add_n(uint16_t port, int n)
{
	assert_int_equal(mirrorrun_add(port, ca, added, n), 0);
	added += n;
}

static void get(uint16_t port, const char *target, struct http_resp *r)
{
	assert_int_equal(mirrorrun_get(port, target, r), 0);
}

static void same(uint16_t a, uint16_t b, const char *target)
{
	assert_int_equal(mirrorrun_same(a, b, target), 0);
}

static void synced(uint16_t origin, uint16_t mirror)
{
	assert_int_equal(mirrorrun_synced(origin, mirror, ""), 0);
}

/* start_mirror: logd --mirror of the logd on |upstream| with the origin's key
 * (write_key), the origin taken from the first checkpoint; stderr to
 * |errfile| when not NULL. */
static void start_mirror(struct logd_proc *p, uint16_t upstream, const char *data,
			 const char *errfile)
{
	char key[128];

	snprintf(key, sizeof(key), "%s/origin.spki", dir);
	assert_int_equal(mirrorrun_start(p, upstream, data, key, NULL, errfile), 0);
}

static void write_key(const struct logd_proc *p)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/origin.spki", dir);
	assert_int_equal(logd_write_spki(p, path), 0);
}

static char *slurp(const char *path)
{
	char *b = tf_read(path, NULL);

	assert_non_null(b);
	return b;
}

/* stored_sth reads the STH in the mirror's store (logd stopped). */
static void stored_sth(const char *data, struct store_sth *out)
{
	assert_int_equal(mirrorrun_stored_sth(data, out), 0);
}

/* mn runs mnctl against the log at |port| with the origin's key pinned
 * (--log-key) and a fresh --config of its own; exit status, stdout in *out. */
static int mn(uint16_t port, const char *cfgname, char **out, const char *a1, const char *a2,
	      const char *a3, const char *a4)
{
	char url[64], cfg[160], key[160];
	const char *args[16];
	char *err = NULL;
	int n = 0, rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	snprintf(cfg, sizeof(cfg), "%s/%s", dir, cfgname);
	snprintf(key, sizeof(key), "%s/origin.spki", dir);
	args[n++] = "--config";
	args[n++] = cfg;
	args[n++] = "--log";
	args[n++] = url;
	args[n++] = "--log-key";
	args[n++] = key;
	args[n++] = "--json";
	for (const char *const *a = (const char *const[]){a1, a2, a3, a4}; n < 11 && *a; a++)
		args[n++] = *a;
	args[n] = NULL;
	rc = mnrun_mnctl(dir, args, out, &err);
	if (rc != 0)
		fprintf(stderr, "mnctl %s %s against :%u: exit %d\n%s\n%s\n", a1, a2 ? a2 : "",
			port, rc, *out, err);
	free(err);
	return rc;
}

/* leaf_indexes collects every entry's "index" and "classes" in |s| (mnctl
 * --json output, one object a line), in order, as "i[classes],...". */
static void leaf_indexes(const char *s, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (const char *p = s; (p = strstr(p, "{\"index\":")) != NULL;) {
		const char *c = strstr(p, "\"classes\":["), *e = c ? strchr(c, ']') : NULL;
		p += strlen("{\"index\":");
		o += (size_t)snprintf(out + o, len - o, "%llu%.*s,", strtoull(p, NULL, 10),
				      e ? (int)(e - c) - 10 : 0, e ? c + 10 : "");
		if (o >= len)
			break;
	}
}

static void same_answer(uint16_t origin, uint16_t mirror, const char *a1, const char *a2,
			const char *a3, const char *a4)
{
	char *oa = NULL, *ma = NULL, io[4096], im[4096];

	assert_int_equal(mn(origin, "cfg-origin", &oa, a1, a2, a3, a4), 0);
	assert_int_equal(mn(mirror, "cfg-mirror", &ma, a1, a2, a3, a4), 0);
	leaf_indexes(oa, io, sizeof(io));
	leaf_indexes(ma, im, sizeof(im));
	if (strcmp(io, im) != 0 || io[0] == '\0')
		fprintf(stderr, "%s %s:\n origin: %s\n mirror: %s\n", a1, a2, oa, ma);
	assert_true(io[0] != '\0');
	assert_string_equal(io, im);
	free(oa);
	free(ma);
}

static void add_chain2(uint16_t port, const struct pki_cert *leaf, const struct pki_cert *iss)
{
	const struct pki_cert *chain[2] = {leaf, iss};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;

	assert_int_equal(http_do(port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body), &r),
			 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
}

static void add_smtp_policy(uint16_t port, const struct pki_cert *signer,
			    const struct pki_cert *sca, uint64_t serial)
{
	char *req = mnfix_smtp_policy_request(signer, sca, "mirror.example", serial);
	struct http_resp r;

	assert_non_null(req);
	assert_int_equal(http_do(port, "POST", "/mn/v1/add-policy",
				 "Content-Type: application/json\r\n", req, strlen(req), &r), 0);
	if (r.status != 200)
		fprintf(stderr, "add-policy: %d %s\n", r.status, (char *)r.body);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(req);
}

/* lying_map_root appends to the log in |data| (logd stopped) a map-root leaf
 * whose root is not its map's, with an STH of the new tree signed by the
 * log's key (data/log-key.pem): what a lying origin would publish. */
static void lying_map_root(const char *data)
{
	struct store_options so = {.dir = data};
	struct store *st;
	struct store_leaf l;
	struct store_sth sth;
	struct merkle_range r;
	struct mapkeys_root mr;
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t leaf[MAPKEYS_ROOT_LEAF_IDX_LEN];
	struct ct_signer *signer;
	struct ct_sig sig;
	struct cbb b;
	char path[160];
	EVP_PKEY *pkey;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log-key.pem", data);
	f = fopen(path, "r");
	assert_non_null(f);
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pkey);
	signer = ct_signer_new(pkey);
	assert_non_null(signer);
	assert_int_equal(store_open(&st, &so), 0);
	store_get_range(st, &r);
	memset(&mr, 0, sizeof(mr));
	mr.covered = r.size;
	mr.num_keys = 1;
	memset(mr.root, 0x42, sizeof(mr.root));
	memset(&l, 0, sizeof(l));
	l.leaf_input = leaf;
	if (store_format(st) & STORE_FMT_LEAF_INDEX) {
		assert_int_equal(mapkeys_root_leaf_indexed(leaf, (uint64_t)pki_now() * 1000, &mr), 1);
		l.leaf_input_len = MAPKEYS_ROOT_LEAF_IDX_LEN;
	} else {
		mapkeys_root_leaf(leaf, (uint64_t)pki_now() * 1000, &mr);
		l.leaf_input_len = MAPKEYS_ROOT_LEAF_LEN;
	}
	merkle_leaf_hash(h, l.leaf_hash, leaf, l.leaf_input_len);
	SHA256(l.leaf_hash, 32, l.dedup_key);
	assert_int_equal(merkle_range_append(&r, h, l.leaf_hash, NULL, NULL), 0);
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = r.size;
	sth.timestamp = (uint64_t)pki_now() * 1000 + 1000;
	merkle_range_root(&r, h, sth.root);
	assert_int_equal(ct_sign_sth(signer, &sig, sth.timestamp, sth.tree_size, sth.root), 0);
	assert_true(cbb_init(&b, 128, STORE_MAX_SIG_LEN));
	assert_true(ct_write_sig(&b, &sig));
	sth.sig_len = (uint16_t)cbb_len(&b);
	memcpy(sth.sig, cbb_data(&b), sth.sig_len);
	cbb_cleanup(&b);
	assert_int_equal(store_append_batch(st, &l, 1, &sth), 0);
	store_close(st);
	ct_signer_free(signer);
	EVP_PKEY_free(pkey);
	merkle_hasher_free(h);
}

#define ALICE_UID "Alice <alice@mirror.example>"

/* make_pgp: a certifier and alice's key certified by it (gpg command line),
 * the certifiers file (and its policy) for logd, alice's exported key. */
static int make_pgp(struct mnfix_gpg *g, char *certifiers, struct mnfix_buf *x_alice,
		    char alice_fpr[41], char ca_fpr[41])
{
	char args[512], pol[128];

	if (mnfix_gpg_init(g, dir) != 0 ||
	    mnfix_gpg(g, "--quick-gen-key 'Mirror Certifier <ca@certifier.example>' ed25519 "
		      "sign 1y") != 0 ||
	    mnfix_gpg_fpr(g, "=Mirror Certifier <ca@certifier.example>", ca_fpr) != 0 ||
	    mnfix_gpg(g, "--quick-gen-key '" ALICE_UID "' ed25519 sign 1y") != 0 ||
	    mnfix_gpg_fpr(g, "=" ALICE_UID, alice_fpr) != 0)
		return -1;
	snprintf(args, sizeof(args), "-u %s --quick-sign-key %s", ca_fpr, alice_fpr);
	if (mnfix_gpg(g, args) != 0)
		return -1;
	snprintf(args, sizeof(args), "--export %s", alice_fpr);
	if (mnfix_gpg_export(g, args, x_alice) != 0)
		return -1;
	snprintf(certifiers, 160, "%s/certifiers.pgp", dir);
	snprintf(args, sizeof(args), "--output %s --export %s", certifiers, ca_fpr);
	if (mnfix_gpg(g, args) != 0)
		return -1;
	snprintf(args, sizeof(args), "%s.policy", certifiers);
	snprintf(pol, sizeof(pol), "# test certifier\n%s\n", ca_fpr);
	return mnfix_write_file(args, pol, strlen(pol));
}

/* json_of: the 200 answer to |target| as JSON. */
static json_t *json_of(uint16_t port, const char *target)
{
	struct http_resp r;
	json_t *j;

	get(port, target, &r);
	j = json_loadb((char *)r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

/* same_map: the "map" sections of the two answers to |target| are equal (the
 * same map-root leaf, keys, proofs and vrf_proof); the origin's entries
 * carry user ID openings a mirror does not have, so only the map is
 * compared byte for byte (same_answer compares the entries listed). */
static void same_map(uint16_t origin, uint16_t mirror, const char *target)
{
	json_t *a = json_of(origin, target), *b = json_of(mirror, target);
	json_t *ma = json_object_get(a, "map"), *mb = json_object_get(b, "map");
	char *sa = json_dumps(ma, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(ma);
	assert_non_null(strstr(sa, "\"vrf_proof\""));
	assert_non_null(strstr(sa, "pgpaddr:"));
	if (!json_equal(ma, mb))
		fprintf(stderr, "%s: map sections differ\n", target);
	assert_true(json_equal(ma, mb));
	free(sa);
	json_decref(a);
	json_decref(b);
}

/* same_vrf: the mirror's info names the origin's VRF key, pinned in its data
 * directory, and /mn/v1/vrf answers the same on both. */
static void same_vrf(uint16_t origin, uint16_t mirror, const char *mdata)
{
	json_t *a = json_of(origin, "/mn/v1/info"), *b = json_of(mirror, "/mn/v1/info");
	const char *ka = json_string_value(json_object_get(a, "vrf_public_key"));
	const char *kb = json_string_value(json_object_get(b, "vrf_public_key"));
	char pin[200], *text;

	assert_non_null(ka);
	assert_non_null(kb);
	assert_string_equal(ka, kb);
	snprintf(pin, sizeof(pin), "%s/origin-vrf-key", mdata);
	text = slurp(pin);
	assert_int_equal(strncmp(text, ka, strlen(ka)), 0);
	free(text);
	json_decref(a);
	json_decref(b);
	same(origin, mirror, "/mn/v1/vrf?email=Alice@Mirror.Example");
	/* bad queries: 400 naming the problem, on both */
	for (int i = 0; i < 2; i++) {
		static const char *const bad[3] = {"/mn/v1/vrf", "/mn/v1/vrf?email=not-an-address",
						   "/mn/v1/vrf?email=a@b.example&x=1"};
		for (int k = 0; k < 3; k++) {
			struct http_resp r;
			assert_int_equal(http_do(i == 0 ? origin : mirror, "GET", bad[k], NULL, NULL,
						 0, &r), 0);
			assert_int_equal(r.status, 400);
			assert_true(ctc_json_error(r.body, r.body_len));
			http_resp_free(&r);
		}
	}
}

/* expect_503: |target| gets 503 with |code| and a Retry-After header. */
static void expect_503(uint16_t port, const char *target, const char *code)
{
	struct http_resp r;

	assert_int_equal(http_do(port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != 503 || strstr((char *)r.body, code) == NULL)
		fprintf(stderr, "GET %s: %d %s\n", target, r.status, (char *)r.body);
	assert_int_equal(r.status, 503);
	assert_true(ctc_json_error(r.body, r.body_len));
	assert_non_null(strstr((char *)r.body, code));
	assert_non_null(strcasestr(r.headers, "Retry-After:"));
	http_resp_free(&r);
}

/* A mapped origin with tls and smime certificates and smtp policies: the
 * mirror recomputes the map from the leaves it verified, and mnctl lookup and
 * resolve against the mirror (the origin's key pinned) verify, completeness
 * included, and list the same entries as against the origin. Then an origin
 * that signed a map-root leaf whose root is not the map of its leaves (made
 * here: the last map-root leaf rewritten in a copy of its store and the tree
 * re-signed with its key) stops the mirror. */
static void test_mirror_lookup(void **state)
{
	static const char *const ex[] = {"mirror.example"}, *const www[] = {"www.mirror.example"};
	static const char *const al[] = {"alice@mirror.example"};
	char troots[128], sroots[128], odata[128], mdata[128];
	struct pki_cert *sroot, *sca, *c_ex, *c_www, *c_al;
	struct logd_proc origin, mirror;
	int64_t now = pki_now();
	struct mnfix_gpg g;
	struct mnfix_buf x_alice = {0};
	char certifiers[160], alice_fpr[41], ca_fpr[41];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mn-mlookup-XXXXXX");
	assert_non_null(mkdtemp(dir));
	root = pki_root("Mirror Root", 0);
	ca = pki_issue(root, "Mirror CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	sroot = pki_root("Mirror Mail Root", 0);
	sca = pki_issue(sroot, "Mirror Mail CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	c_ex = pki_issue(ca, "mirror.example", ex, 1, 0, now - 86400, now + 90 * 86400);
	c_www = pki_issue(ca, "www.mirror.example", www, 1, 0, now - 86400, now + 90 * 86400);
	c_al = pki_issue(sca, "alice", al, 1, PKI_EMAIL, now - 86400, now + 90 * 86400);
	assert_non_null(c_ex);
	assert_non_null(c_al);
	snprintf(troots, sizeof(troots), "%s/tls.pem", dir);
	snprintf(sroots, sizeof(sroots), "%s/smime.pem", dir);
	snprintf(odata, sizeof(odata), "%s/origin", dir);
	snprintf(mdata, sizeof(mdata), "%s/mirror", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(troots, rs, 1), 0);
		rs[0] = sroot;
		assert_int_equal(pki_write_pem(sroots, rs, 1), 0);
	}
	assert_int_equal(make_pgp(&g, certifiers, &x_alice, alice_fpr, ca_fpr), 0);
	{
		const char *args[] = {"--data", odata, "--tls-roots", troots, "--smime-roots",
				      sroots, "--origin", ORIGIN, "--certifiers", certifiers, NULL};
		assert_int_equal(logd_start(&origin, args), 0);
	}
	write_key(&origin);
	add_chain2(origin.port, c_ex, ca);
	add_chain2(origin.port, c_www, ca);
	add_chain2(origin.port, c_al, sca);
	{
		/* alice's OpenPGP key, endorsed by the certifier: filed under
		 * pgpaddr:VRF(alice@mirror.example) in the map */
		char *req = mnfix_pgp_request(x_alice.p, x_alice.len, ALICE_UID, ca_fpr);
		struct http_resp r;
		assert_non_null(req);
		assert_int_equal(http_do(origin.port, "POST", "/mn/v1/add-pgp",
					 "Content-Type: application/json\r\n", req, strlen(req),
					 &r), 0);
		if (r.status != 200)
			fprintf(stderr, "add-pgp: %d %s\n", r.status, (char *)r.body);
		assert_int_equal(r.status, 200);
		http_resp_free(&r);
		free(req);
	}
	add_chain2(origin.port, c_ex, ca); /* a duplicate: the same leaf, not a new one */
	add_n(origin.port, 5);
	add_smtp_policy(origin.port, c_ex, ca, 1);
	add_smtp_policy(origin.port, c_ex, ca, 2);

	start_mirror(&mirror, origin.port, mdata, NULL);
	synced(origin.port, mirror.port);
	same_answer(origin.port, mirror.port, "lookup", "mirror.example", NULL, NULL);
	same_answer(origin.port, mirror.port, "lookup", "www.mirror.example", NULL, NULL);
	same_answer(origin.port, mirror.port, "resolve", "mirror.example", "--protocol", "smtp");
	/* an address: its OpenPGP endorsements are under pgpaddr:VRF(address)
	 * of the origin's private key; the mirror answers with the origin's
	 * proof (GET /mn/v1/vrf), and mnctl verifies it with the origin's VRF
	 * key, completeness included (pinned by mnctl info: the mirror's info
	 * names the origin's VRF key, same_vrf) */
	{
		char *oa = NULL, *ma = NULL;
		assert_int_equal(mn(origin.port, "cfg-origin", &oa, "info", NULL, NULL, NULL), 0);
		assert_int_equal(mn(mirror.port, "cfg-mirror", &ma, "info", NULL, NULL, NULL), 0);
		free(oa);
		free(ma);
	}
	same_answer(origin.port, mirror.port, "lookup", "alice@mirror.example", NULL, NULL);
	same_answer(origin.port, mirror.port, "resolve", "alice@mirror.example", NULL, NULL);
	same_vrf(origin.port, mirror.port, mdata);
	same_map(origin.port, mirror.port, "/mn/v1/lookup?email=alice@mirror.example");
	same_map(origin.port, mirror.port, "/mn/v1/resolve?email=alice@mirror.example");
	{
		char *ma = NULL;
		assert_int_equal(mn(mirror.port, "cfg-mirror", &ma, "resolve",
				    "alice@mirror.example", NULL, NULL), 0);
		assert_non_null(strstr(ma, alice_fpr));
		free(ma);
	}
	/* the origin stopped: a cached proof still answers; an address never
	 * asked gets 503 vrfUnavailable with Retry-After, never an answer
	 * without its pgp part */
	assert_int_equal(logd_stop(&origin, 15), 0);
	{
		struct http_resp r;
		char *ma = NULL;
		assert_int_equal(mn(mirror.port, "cfg-mirror", &ma, "lookup",
				    "alice@mirror.example", NULL, NULL), 0);
		free(ma);
		expect_503(mirror.port, "/mn/v1/lookup?email=bob@mirror.example", "vrfUnavailable");
		expect_503(mirror.port, "/mn/v1/resolve?email=bob@mirror.example",
			   "vrfUnavailable");
		assert_int_equal(http_do(mirror.port, "GET", "/mn/v1/resolve?email=alice@"
					 "mirror.example", NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		http_resp_free(&r);
	}
	assert_int_equal(logd_stop(&mirror, 15), 0);
	{
		const char *args[] = {"--data", odata, "--tls-roots", troots, "--smime-roots",
				      sroots, "--origin", ORIGIN, "--certifiers", certifiers, NULL};
		assert_int_equal(logd_start(&origin, args), 0);
	}
	start_mirror(&mirror, origin.port, mdata, NULL);
	synced(origin.port, mirror.port);
	/* an origin whose VRF proof is valid, but for another address (the
	 * liar rewrites /mn/v1/vrf answers): refused with 503 badVrfProof, and
	 * an address's answer never comes without its pgp part */
	{
		char mdata2[160], *ma = NULL;
		struct logd_proc mirror2;
		struct liar *lr = liar_start(origin.port);
		assert_non_null(lr);
		liar_set(lr, LIAR_OTHER_VRF, NULL);
		snprintf(mdata2, sizeof(mdata2), "%s/mirror2", dir);
		start_mirror(&mirror2, liar_port(lr), mdata2, NULL);
		synced(origin.port, mirror2.port);
		expect_503(mirror2.port, "/mn/v1/lookup?email=alice@mirror.example", "badVrfProof");
		expect_503(mirror2.port, "/mn/v1/resolve?email=alice@mirror.example", "badVrfProof");
		assert_true(liar_tampered(lr) >= 2);
		assert_int_not_equal(mn(mirror2.port, "cfg-mirror2", &ma, "lookup",
					"alice@mirror.example", NULL, NULL), 0);
		free(ma);
		/* the honest answer again: it verifies (a bad proof is not cached) */
		liar_set(lr, LIAR_PASS, NULL);
		same_map(origin.port, mirror2.port, "/mn/v1/lookup?email=alice@mirror.example");
		assert_int_equal(logd_stop(&mirror2, 15), 0);
		liar_stop(lr);
	}
	/* a VRF key pinned by the operator before the first start is the one
	 * used (and shown in info), never replaced from the origin's info: the
	 * origin's proofs do not verify under another key */
	{
		char mdata3[160], pin[200], text[64];
		struct logd_proc mirror3;
		struct vrf_key *other = mnfix_vrf_key_new();
		uint8_t pub[VRF_PUBLIC_LEN];
		json_t *info;
		assert_non_null(other);
		vrf_public(other, pub);
		vrf_key_free(other);
		mn_b64_encode(text, pub, sizeof(pub));
		snprintf(mdata3, sizeof(mdata3), "%s/mirror3", dir);
		assert_int_equal(mkdir(mdata3, 0700), 0);
		snprintf(pin, sizeof(pin), "%s/origin-vrf-key", mdata3);
		assert_int_equal(mnfix_write_file(pin, text, strlen(text)), 0);
		start_mirror(&mirror3, origin.port, mdata3, NULL);
		synced(origin.port, mirror3.port);
		info = json_of(mirror3.port, "/mn/v1/info");
		assert_string_equal(json_string_value(json_object_get(info, "vrf_public_key")), text);
		json_decref(info);
		expect_503(mirror3.port, "/mn/v1/lookup?email=alice@mirror.example", "badVrfProof");
		assert_int_equal(logd_stop(&mirror3, 15), 0);
	}
	/* by OpenPGP fingerprint: answered, with the map section (absent here) */
	{
		struct http_resp r;
		assert_int_equal(http_do(mirror.port, "GET", "/mn/v1/lookup?pgp="
					 "0123456789abcdef0123456789abcdef01234567", NULL, NULL,
					 0, &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr((char *)r.body, "\"map\""));
		http_resp_free(&r);
	}
	/* a name the log does not hold: proven absent on both */
	{
		char *oa = NULL, *ma = NULL;
		assert_int_equal(mn(origin.port, "cfg-origin", &oa, "lookup", "none.example", NULL,
				    NULL), 0);
		assert_int_equal(mn(mirror.port, "cfg-mirror", &ma, "lookup", "none.example", NULL,
				    NULL), 0);
		assert_null(strstr(ma, "{\"index\":"));
		assert_null(strstr(oa, "{\"index\":"));
		free(oa);
		free(ma);
	}
	/* it follows: a third policy, and the answers move together */
	add_smtp_policy(origin.port, c_ex, ca, 3);
	synced(origin.port, mirror.port);
	same_answer(origin.port, mirror.port, "resolve", "mirror.example", "--protocol", "smtp");
	/* restarted with its map deleted: rebuilt from the copy's leaves */
	assert_int_equal(logd_stop(&mirror, 15), 0);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s/map'", mdata);
		assert_int_equal(system(cmd), 0);
	}
	start_mirror(&mirror, origin.port, mdata, NULL);
	synced(origin.port, mirror.port);
	same_answer(origin.port, mirror.port, "lookup", "mirror.example", NULL, NULL);
	assert_int_equal(logd_stop(&mirror, 15), 0);
	assert_int_equal(logd_stop(&origin, 15), 0);

	/* an origin that lies about its map: one more map-root leaf committing
	 * to another root, in a tree signed with its key; served by logd
	 * --no-map (which keeps the leaves as they are) */
	lying_map_root(odata);
	{
		const char *args[] = {"--data", odata, "--tls-roots", troots, "--smime-roots",
				      sroots, "--origin", ORIGIN, "--no-map", NULL};
		char errf[160], *err;
		struct store_sth before, after;
		snprintf(errf, sizeof(errf), "%s/mirror.err", dir);
		stored_sth(mdata, &before);
		assert_int_equal(logd_start(&origin, args), 0);
		start_mirror(&mirror, origin.port, mdata, errf);
		assert_int_equal(logd_stop(&mirror, 0), 3);
		err = slurp(errf);
		if (strstr(err, "is not the map of the verified leaves") == NULL)
			fprintf(stderr, "%s\n", err);
		assert_non_null(strstr(err, "is not the map of the verified leaves"));
		assert_non_null(strstr(err, "mirror_stopped"));
		free(err);
		/* the leaves, verified against the signed tree, are stored; the
		 * map that disagrees with them is what stopped it (logd exits) */
		stored_sth(mdata, &after);
		assert_int_equal(after.tree_size, before.tree_size + 1);
		/* and it stops again when restarted on that copy */
		start_mirror(&mirror, origin.port, mdata, errf);
		assert_int_equal(logd_stop(&mirror, 0), 3);
		assert_int_equal(logd_stop(&origin, 15), 0);
	}

	mnfix_gpg_kill(&g);
	free(x_alice.p);
	pki_free(c_ex);
	pki_free(c_www);
	pki_free(c_al);
	pki_free(sca);
	pki_free(sroot);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
