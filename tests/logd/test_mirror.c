/* test_mirror.c: logd --mirror (logd/mirror.h) against a running logd (the
 * flag form) with a few hundred entries. The mirror's RFC 6962 answers must be
 * byte for byte the origin's (get-sth, get-entries, get-proof-by-hash,
 * get-sth-consistency, get-entry-and-proof), and so must its checkpoint (the
 * origin's text, both signature lines), which verifies with the origin's key
 * and note key; it follows new entries; submissions get 405 naming
 * the origin. A level-0 hash tile flipped on the way (tests/lib/liar's
 * LIAR_FLIP_TILE) and a fork (a second logd with the same key and origin but
 * other entries) and a checkpoint not signed by the key it was given each
 * stop it with exit status 3 and a message naming the
 * problem, and leave its store as it was (opened here afterwards).
 * test_mirror_unmapped: an origin without the map: lookups stay 501 (by
 * address too, without asking the origin for a VRF proof).
 * Lookups and resolve on a mirror of a mapped origin: test_mirror_lookup.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
#include "entry/note.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/files.h"
#include "tests/lib/liar.h"
#include "tests/lib/mirrorrun.h"
#include "tests/lib/mnfix.h"
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

/* same: the two logs give the same 200 answer to |target|. */
static void same(uint16_t a, uint16_t b, const char *target)
{
	assert_int_equal(mirrorrun_same(a, b, target), 0);
}

static uint64_t tree_size(uint16_t port)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;
	uint64_t n;

	get(port, "/ct/v1/get-sth", &r);
	j = json_loadb((char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	n = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	json_decref(j);
	http_resp_free(&r);
	return n;
}

/* synced waits (polling, 60 s at most) until the mirror serves the origin's
 * get-sth, byte for byte. */
static void synced_at(uint16_t origin, uint16_t mirror, const char *prefix)
{
	assert_int_equal(mirrorrun_synced(origin, mirror, prefix), 0);
}

static void synced(uint16_t origin, uint16_t mirror)
{
	synced_at(origin, mirror, "");
}

/* start_mirror runs logd --mirror http://127.0.0.1:|upstream|/ on |data|
 * with the key |keyfile| (NULL: the origin's, written by write_key, and the
 * origin taken from the first checkpoint; else --origin ORIGIN); its stderr
 * goes to |errfile| when not NULL. */
static void start_mirror_key(struct logd_proc *p, uint16_t upstream, const char *data,
			     const char *errfile, const char *keyfile)
{
	char key[128];

	if (keyfile == NULL)
		snprintf(key, sizeof(key), "%s/origin.spki", dir);
	assert_int_equal(mirrorrun_start(p, upstream, data, keyfile != NULL ? keyfile : key,
					 keyfile != NULL ? ORIGIN : NULL, errfile), 0);
}

static void start_mirror(struct logd_proc *p, uint16_t upstream, const char *data,
			 const char *errfile)
{
	start_mirror_key(p, upstream, data, errfile, NULL);
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

/* urlenc: base64 of a hash, percent-encoded for a query. */
static void hash_query(char *out, size_t len, const uint8_t h[32])
{
	char b64[64];
	size_t o = 0;

	mn_b64_encode(b64, h, 32);
	for (const char *p = b64; *p != '\0' && o + 4 < len; p++) {
		if (*p == '+' || *p == '/' || *p == '=')
			o += (size_t)snprintf(out + o, len - o, "%%%02X", (unsigned char)*p);
		else
			out[o++] = *p;
	}
	out[o] = '\0';
}

/* answers_equal compares the read endpoints of the two logs over a tree of
 * |size| leaves. */
static void answers_equal(uint16_t a, uint16_t b, uint64_t size)
{
	char t[512], hq[160];
	struct http_resp r;
	json_error_t e;
	json_t *j, *entries;

	same(a, b, "/ct/v1/get-sth");
	/* the checkpoint: the origin's, byte for byte (its RFC 6962 and its
	 * Ed25519 signature lines) */
	same(a, b, "/checkpoint");
	snprintf(t, sizeof(t), "/ct/v1/get-entries?start=0&end=%llu",
		 (unsigned long long)size - 1);
	same(a, b, t); /* capped at 256 by both */
	snprintf(t, sizeof(t), "/ct/v1/get-entries?start=250&end=%llu",
		 (unsigned long long)size - 1);
	same(a, b, t);
	snprintf(t, sizeof(t), "/ct/v1/get-sth-consistency?first=7&second=%llu",
		 (unsigned long long)size);
	same(a, b, t);
	snprintf(t, sizeof(t), "/ct/v1/get-sth-consistency?first=256&second=%llu",
		 (unsigned long long)size);
	same(a, b, t);
	snprintf(t, sizeof(t), "/ct/v1/get-entry-and-proof?leaf_index=3&tree_size=%llu",
		 (unsigned long long)size);
	same(a, b, t);
	/* get-proof-by-hash for a few leaves, hashes from the entries */
	get(a, "/ct/v1/get-entries?start=0&end=299", &r);
	j = json_loadb((char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	entries = json_object_get(j, "entries");
	for (size_t i = 0; i < json_array_size(entries); i += 37) {
		const char *li = json_string_value(json_object_get(json_array_get(entries, i),
								   "leaf_input"));
		uint8_t *leaf, h[32];
		size_t leaf_len;
		uint8_t *buf;
		assert_int_equal(mn_b64_decode(&leaf, &leaf_len, li, strlen(li), 1 << 20), 0);
		buf = malloc(leaf_len + 1);
		buf[0] = 0;
		memcpy(buf + 1, leaf, leaf_len);
		SHA256(buf, leaf_len + 1, h);
		hash_query(hq, sizeof(hq), h);
		snprintf(t, sizeof(t), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%llu", hq,
			 (unsigned long long)size);
		same(a, b, t);
		free(buf);
		free(leaf);
	}
	json_decref(j);
	http_resp_free(&r);
}

static void write_key(const struct logd_proc *p)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/origin.spki", dir);
	assert_int_equal(logd_write_spki(p, path), 0);
}

static void expect_405(uint16_t port, const char *path, uint16_t origin)
{
	struct http_resp r;
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", origin);
	assert_int_equal(http_do(port, "POST", path, NULL, "{}", 2, &r), 0);
	assert_int_equal(r.status, 405);
	assert_true(ctc_json_error(r.body, r.body_len));
	assert_non_null(strstr((char *)r.body, "\"mirror\""));
	assert_non_null(strstr((char *)r.body, url));
	http_resp_free(&r);
}

static void test_mirror(void **state)
{
	char roots[128], odata[128], mdata[128], fdata[128], key[160], errf[128];
	struct logd_proc origin, mirror, fork;
	struct store_sth before, after;
	int64_t now = pki_now();
	uint64_t size;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mn-mirror-XXXXXX");
	assert_non_null(mkdtemp(dir));
	root = pki_root("Mirror Root", 0);
	ca = pki_issue(root, "Mirror CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(odata, sizeof(odata), "%s/origin", dir);
	snprintf(mdata, sizeof(mdata), "%s/mirror", dir);
	snprintf(fdata, sizeof(fdata), "%s/fork", dir);
	snprintf(errf, sizeof(errf), "%s/mirror.err", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	{
		const char *args[] = {"--data", odata, "--tls-roots", roots, "--origin", ORIGIN,
				      NULL};
		assert_int_equal(logd_start(&origin, args), 0);
	}
	write_key(&origin);
	add_n(origin.port, 300);
	size = tree_size(origin.port);
	assert_true(size > 512); /* a map-root leaf after each batch, too */

	/* a mirror from scratch: the same answers, byte for byte */
	start_mirror(&mirror, origin.port, mdata, NULL);
	/* its log-list line has the origin's key and says what it mirrors */
	assert_int_equal(mirror.spki_len, origin.spki_len);
	assert_memory_equal(mirror.spki, origin.spki, origin.spki_len);
	assert_non_null(strstr(mirror.log_line, "\"mirror_of\""));
	assert_non_null(strstr(mirror.log_line, ORIGIN));
	synced(origin.port, mirror.port);
	answers_equal(origin.port, mirror.port, size);
	/* its checkpoint verifies with the origin's key and, being the
	 * origin's text, with the origin's Ed25519 note key (note_vkey) */
	{
		struct http_resp r, ri;
		struct note_checkpoint cp;
		struct ct_verifier *v = ct_verifier_new(origin.spki, origin.spki_len);
		json_t *info;
		const char *vkey;
		uint64_t ts;
		get(mirror.port, "/checkpoint", &r);
		assert_int_equal(note_parse_checkpoint(&cp, r.body, r.body_len), 0);
		assert_int_equal(cp.tree_size, size);
		assert_int_equal(cp.origin_len, strlen(ORIGIN));
		assert_int_equal(cp.num_sigs, 2);
		assert_true(note_verify_rfc6962(&cp, v, &ts));
		get(origin.port, "/mn/v1/info", &ri);
		info = json_loadb((char *)ri.body, ri.body_len, 0, NULL);
		vkey = json_string_value(json_object_get(info, "note_vkey"));
		assert_non_null(vkey);
		assert_true(note_verify_ed25519(&cp, vkey, strlen(vkey)));
		/* and not with another key of the same name */
		{
			char other[256];
			size_t vl = strlen(vkey);
			snprintf(other, sizeof(other), "%s", vkey);
			other[vl - 2] = other[vl - 2] == 'A' ? 'B' : 'A';
			assert_false(note_verify_ed25519(&cp, other, vl));
		}
		json_decref(info);
		http_resp_free(&ri);
		ct_verifier_free(v);
		http_resp_free(&r);
	}
	/* tiles served from its copy equal the origin's */
	same(origin.port, mirror.port, "/tile/0/000");
	same(origin.port, mirror.port, "/tile/data/001");
	{
		/* the issuer the data tiles name, served from the mirror's copy */
		uint8_t fp[32];
		char t[128];
		int o = snprintf(t, sizeof(t), "/issuer/");
		SHA256(ca->der, ca->der_len, fp);
		for (int i = 0; i < 32; i++)
			o += snprintf(t + o, sizeof(t) - (size_t)o, "%02x", fp[i]);
		same(origin.port, mirror.port, t);
	}
	/* submissions: 405 naming the origin; info says it is a mirror */
	expect_405(mirror.port, "/ct/v1/add-chain", origin.port);
	expect_405(mirror.port, "/ct/v1/add-pre-chain", origin.port);
	expect_405(mirror.port, "/mn/v1/add-pgp", origin.port);
	expect_405(mirror.port, "/mn/v1/add-policy", origin.port);
	{
		struct http_resp r;
		get(mirror.port, "/mn/v1/info", &r);
		assert_non_null(strstr((char *)r.body, "\"mirror_of\""));
		http_resp_free(&r);
		/* the origin keeps the map: lookups are answered from the copy's */
		assert_int_equal(http_do(mirror.port, "GET", "/mn/v1/lookup?domain=mirror.example",
					 NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr((char *)r.body, "\"map\""));
		http_resp_free(&r);
	}

	/* it follows new entries; and a mirror of the mirror follows it (the
	 * mirror's static path is complete: checkpoint, tiles, issuers) */
	add_n(origin.port, 20);
	size = tree_size(origin.port);
	synced(origin.port, mirror.port);
	answers_equal(origin.port, mirror.port, size);
	{
		struct logd_proc m2;
		char m2data[160];
		snprintf(m2data, sizeof(m2data), "%s/mirror2", dir);
		start_mirror(&m2, mirror.port, m2data, NULL);
		synced(origin.port, m2.port);
		answers_equal(origin.port, m2.port, size);
		assert_int_equal(logd_stop(&m2, 15), 0);
	}
	assert_int_equal(logd_stop(&mirror, 15), 0);

	/* a flipped level-0 hash tile: stops it (exit 3), its copy as it was */
	add_n(origin.port, 10);
	stored_sth(mdata, &before);
	{
		struct liar *l = liar_start(origin.port);
		char *err;
		assert_non_null(l);
		liar_set(l, LIAR_FLIP_TILE, NULL);
		start_mirror(&mirror, liar_port(l), mdata, errf);
		assert_int_equal(logd_stop(&mirror, 0), 3);
		assert_true(liar_tampered(l) > 0);
		err = slurp(errf);
		assert_non_null(strstr(err, "a tampered tile"));
		assert_non_null(strstr(err, "mirror_stopped"));
		free(err);
		liar_stop(l);
	}
	stored_sth(mdata, &after);
	assert_int_equal(after.tree_size, before.tree_size);
	assert_memory_equal(after.root, before.root, 32);
	assert_int_equal(after.timestamp, before.timestamp);

	/* a fork: another logd with the same key and origin, other entries */
	snprintf(key, sizeof(key), "%s/log-key.pem", odata);
	{
		const char *args[] = {"--data", fdata, "--tls-roots", roots, "--origin", ORIGIN,
				      "--key", key, NULL};
		char *err;
		assert_int_equal(logd_start(&fork, args), 0);
		assert_memory_equal(fork.spki, origin.spki, origin.spki_len);
		add_n(fork.port, 3); /* a smaller tree than the copy's */
		start_mirror(&mirror, fork.port, mdata, errf);
		assert_int_equal(logd_stop(&mirror, 0), 3);
		err = slurp(errf);
		assert_non_null(strstr(err, "a fork"));
		free(err);
		add_n(fork.port, 400); /* and a larger one */
		start_mirror(&mirror, fork.port, mdata, errf);
		assert_int_equal(logd_stop(&mirror, 0), 3);
		err = slurp(errf);
		assert_non_null(strstr(err, "a fork"));
		free(err);
		assert_int_equal(logd_stop(&fork, 15), 0);
	}
	/* a checkpoint not signed by the key given (another P-256 key, as PEM) */
	{
		struct pki_cert *other = pki_root("Not The Log", 0);
		char pem[160], *err;
		FILE *f;
		snprintf(pem, sizeof(pem), "%s/other.pem", dir);
		f = fopen(pem, "w");
		assert_non_null(f);
		assert_int_equal(PEM_write_PUBKEY(f, other->key), 1);
		fclose(f);
		start_mirror_key(&mirror, origin.port, mdata, errf, pem);
		assert_int_equal(logd_stop(&mirror, 0), 3);
		err = slurp(errf);
		assert_non_null(strstr(err, "no valid RFC 6962 note signature by the origin's "
					    "log key"));
		free(err);
		pki_free(other);
	}
	stored_sth(mdata, &after);
	assert_int_equal(after.tree_size, before.tree_size);
	assert_memory_equal(after.root, before.root, 32);

	/* a mirror in a config file, under its prefix */
	{
		char cfg[160], cdata[160], y[1024], spki[160];
		struct logd_proc c;
		struct http_resp ra, rb;
		FILE *f;
		snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
		snprintf(cdata, sizeof(cdata), "%s/cmirror", dir);
		snprintf(spki, sizeof(spki), "%s/origin.spki", dir);
		snprintf(y, sizeof(y),
			 "listen: 127.0.0.1:0\n"
			 "logs:\n"
			 "  - name: m1\n"
			 "    data: %s\n"
			 "    mirror: http://127.0.0.1:%u/\n"
			 "    mirror_key: %s\n"
			 "    origin: " ORIGIN "\n", cdata, origin.port, spki);
		f = fopen(cfg, "w");
		assert_non_null(f);
		fputs(y, f);
		fclose(f);
		{
			const char *args[] = {"--config", cfg, NULL};
			assert_int_equal(logd_start(&c, args), 0);
		}
		assert_non_null(strstr(c.log_line, "\"mirror_of\""));
		synced_at(origin.port, c.port, "/m1");
		get(origin.port, "/ct/v1/get-entries?start=300&end=400", &ra);
		get(c.port, "/m1/ct/v1/get-entries?start=300&end=400", &rb);
		assert_int_equal(ra.body_len, rb.body_len);
		assert_memory_equal(ra.body, rb.body, ra.body_len);
		http_resp_free(&ra);
		http_resp_free(&rb);
		expect_405(c.port, "/m1/ct/v1/add-chain", origin.port);
		get(c.port, "/readyz", &ra);
		http_resp_free(&ra);
		assert_int_equal(logd_stop(&c, 15), 0);
	}

	/* and the honest origin again: it resumes from its copy */
	start_mirror(&mirror, origin.port, mdata, NULL);
	synced(origin.port, mirror.port);
	answers_equal(origin.port, mirror.port, tree_size(origin.port));
	assert_int_equal(logd_stop(&mirror, 15), 0);
	assert_int_equal(logd_stop(&origin, 15), 0);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

/* An origin without the map: the mirror has nothing to prove a lookup
 * complete with, and none of the origin's indexes: lookup and resolve keep
 * 501 notMirrored (and the read endpoints are served as ever). */
static void test_mirror_unmapped(void **state)
{
	char roots[128], odata[128], mdata[128];
	struct logd_proc origin, mirror;
	int64_t now = pki_now();
	static const char *const t[5] = {"/mn/v1/lookup?domain=mirror.example",
					 "/mn/v1/resolve?domain=mirror.example&protocol=smtp",
					 "/mn/v1/lookup?pgp=0123456789abcdef0123456789abcdef01234567",
					 "/mn/v1/lookup?email=alice@mirror.example",
					 "/mn/v1/resolve?email=alice@mirror.example"};

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mn-munmapped-XXXXXX");
	assert_non_null(mkdtemp(dir));
	root = pki_root("Mirror Root", 0);
	ca = pki_issue(root, "Mirror CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(odata, sizeof(odata), "%s/origin", dir);
	snprintf(mdata, sizeof(mdata), "%s/mirror", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	{
		const char *args[] = {"--data", odata, "--tls-roots", roots, "--origin", ORIGIN,
				      "--no-map", NULL};
		assert_int_equal(logd_start(&origin, args), 0);
	}
	write_key(&origin);
	add_n(origin.port, 5);
	start_mirror(&mirror, origin.port, mdata, NULL);
	synced(origin.port, mirror.port);
	same(origin.port, mirror.port, "/ct/v1/get-entries?start=0&end=4");
	for (int i = 0; i < 5; i++) {
		struct http_resp r;
		assert_int_equal(http_do(mirror.port, "GET", t[i], NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, 501);
		assert_true(ctc_json_error(r.body, r.body_len));
		assert_non_null(strstr((char *)r.body, "notMirrored"));
		http_resp_free(&r);
	}
	/* and the origin was not asked for a VRF proof it could not use */
	{
		struct http_resp r;
		get(mirror.port, "/metrics", &r);
		assert_non_null(strstr((char *)r.body, "\nmn_mirror_vrf_fetches_total 0\n"));
		http_resp_free(&r);
	}
	assert_int_equal(logd_stop(&mirror, 15), 0);
	assert_int_equal(logd_stop(&origin, 15), 0);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

/* bad flags: refused before anything is created */
static void test_mirror_flags(void **state)
{
	struct logd_proc p;
	const char *a1[] = {"--mirror", "http://127.0.0.1:1/", "--data", "/tmp/mn-nomirror", NULL};
	const char *a2[] = {"--mirror", "ftp://x/", "--mirror-key", "AAAA", NULL};
	const char *a3[] = {"--mirror", "http://127.0.0.1:1/", "--mirror-key", "notbase64!",
			    "--data", "/tmp/mn-nomirror", NULL};

	(void)state;
	assert_int_not_equal(logd_start(&p, a1), 0);
	assert_int_not_equal(logd_start(&p, a2), 0);
	assert_int_not_equal(logd_start(&p, a3), 0);
	assert_int_not_equal(access("/tmp/mn-nomirror", F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_flags),
		cmocka_unit_test(test_mirror),
		cmocka_unit_test(test_mirror_unmapped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
