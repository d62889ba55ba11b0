/* test_mapkeys.c: the map keys of leaves (entry/mapkeys.h) as known answers.
 * The certificates are made by the openssl command line (not by our code), the
 * registrable domains come from the pinned Public Suffix List, and the
 * expected key strings are written out by hand from the rules in mapkeys.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"

struct got {
	char keys[64][MAPKEYS_MAX_STR];
	size_t num;
};

static int collect(void *ctx, const char *key, size_t len)
{
	struct got *g = ctx;
	assert_true(g->num < 64 && len < MAPKEYS_MAX_STR);
	memcpy(g->keys[g->num], key, len);
	g->keys[g->num][len] = 0;
	g->num++;
	return 0;
}

static int has(const struct got *g, const char *k)
{
	for (size_t i = 0; i < g->num; i++)
		if (strcmp(g->keys[i], k) == 0)
			return 1;
	return 0;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(1 << 16);
	assert_non_null(f);
	*len = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

static uint8_t *leaf_of(uint16_t type, const uint8_t *body, size_t body_len, size_t *len)
{
	struct ct_entry e;
	struct cbb c;
	uint8_t *out;

	memset(&e, 0, sizeof(e));
	e.entry_type = type;
	e.body = body;
	e.body_len = body_len;
	assert_true(cbb_init(&c, body_len + 64, SIZE_MAX));
	assert_true(ct_write_leaf(&c, &e));
	assert_true(cbb_finish(&c, &out, len));
	return out;
}

static void test_certificate(void **state)
{
	char dir[] = "/tmp/mn-mapkeys-XXXXXX", cmd[1024], path[128], thumb[80], want[128];
	uint8_t *der, *leaf;
	size_t der_len, leaf_len;
	struct got g = {0};
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s/k.pem -subj '/CN=www.example.co.uk/emailAddress=bob@example.com' "
		 "-addext 'subjectAltName=DNS:www.Example.co.uk,DNS:*.a.b.example.com,"
		 "DNS:foo.github.io,email:Alice@Example.COM,DNS:co.uk,DNS:bad..name' "
		 "-days 30 -outform DER -out %s/c.der 2>/dev/null",
		 dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/c.der", dir);
	der = read_all(path, &der_len);
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -r %s | cut -c1-64", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(thumb, sizeof(thumb), f));
	pclose(f);
	thumb[64] = 0;

	leaf = leaf_of(CT_X509_ENTRY, der, der_len, &leaf_len);
	assert_int_equal(mapkeys_walk(leaf, leaf_len, collect, &g), 0);
	/* www.example.co.uk: registrable domain example.co.uk (co.uk is a suffix) */
	assert_true(has(&g, "dns:www.example.co.uk"));
	assert_true(has(&g, "under:example.co.uk"));
	/* a wildcard name: every ancestor down to example.com */
	assert_true(has(&g, "dns:*.a.b.example.com"));
	assert_true(has(&g, "under:a.b.example.com"));
	assert_true(has(&g, "under:b.example.com"));
	assert_true(has(&g, "under:example.com"));
	/* github.io is a public suffix (private section): foo.github.io is
	 * registrable, nothing above it */
	assert_true(has(&g, "dns:foo.github.io"));
	assert_false(has(&g, "under:github.io"));
	/* the address, lowercased, and its domain */
	assert_true(has(&g, "email:alice@example.com"));
	assert_true(has(&g, "dns:example.com"));
	/* a public suffix as a name: its dns key only */
	assert_true(has(&g, "dns:co.uk"));
	assert_false(has(&g, "under:uk"));
	/* the subject's address only counts when the SAN has none */
	assert_false(has(&g, "email:bob@example.com"));
	/* a name that is not a DNS name gives nothing */
	for (size_t i = 0; i < g.num; i++)
		assert_null(strstr(g.keys[i], ".."));
	snprintf(want, sizeof(want), "cert:%s", thumb);
	assert_true(has(&g, want));
	assert_int_equal(g.num, 11);

	/* the same TBS as a precertificate: the same keys but cert: */
	free(leaf);
	{
		struct cbs c, cert, tbs;
		uint8_t body[1 << 16];
		size_t n;
		struct got p = {0};
		cbs_init(&c, der, der_len);
		assert_true(cbs_get_asn1(&c, &cert, CBS_ASN1_SEQUENCE));
		assert_true(cbs_get_asn1_element(&cert, &tbs, CBS_ASN1_SEQUENCE));
		n = cbs_len(&tbs);
		memcpy(body, cbs_data(&tbs), n);
		leaf = leaf_of(CT_PRECERT_ENTRY, body, n, &leaf_len);
		assert_int_equal(mapkeys_walk(leaf, leaf_len, collect, &p), 0);
		assert_int_equal(p.num, 10);
		assert_false(has(&p, want));
		assert_true(has(&p, "under:b.example.com"));
	}
	free(leaf);
	free(der);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_legacy_subject_email(void **state)
{
	char dir[] = "/tmp/mn-mapkeys-XXXXXX", cmd[1024], path[128];
	uint8_t *der, *leaf;
	size_t der_len, leaf_len;
	struct got g = {0};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s/k.pem -subj '/CN=Bob/emailAddress=Bob@Mail.Example.org' "
		 "-days 30 -outform DER -out %s/c.der 2>/dev/null",
		 dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/c.der", dir);
	der = read_all(path, &der_len);
	leaf = leaf_of(CT_X509_ENTRY, der, der_len, &leaf_len);
	assert_int_equal(mapkeys_walk(leaf, leaf_len, collect, &g), 0);
	assert_true(has(&g, "email:bob@mail.example.org"));
	assert_true(has(&g, "dns:mail.example.org"));
	assert_true(has(&g, "under:example.org"));
	assert_int_equal(g.num, 4); /* and cert: */
	free(leaf);
	free(der);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_map_root_and_junk(void **state)
{
	struct mapkeys_root r = {7, 3, {1, 2, 3}}, back;
	uint8_t body[MAPKEYS_ROOT_BODY_LEN], *leaf;
	size_t len, n;
	struct got g = {0};
	int cut;
	static uint8_t keys[MAPKEYS_MAX][MAP_KEY_LEN];
	struct merkle_hasher *h = merkle_hasher_new();

	(void)state;
	mapkeys_root_encode(body, &r);
	assert_true(mapkeys_root_parse(&back, body, sizeof(body)));
	assert_int_equal(back.covered, 7);
	assert_int_equal(back.num_keys, 3);
	assert_memory_equal(back.root, r.root, 32);
	assert_false(mapkeys_root_parse(&back, body, sizeof(body) - 1));
	body[0] = 2;
	assert_false(mapkeys_root_parse(&back, body, sizeof(body)));
	/* a map-root leaf has no keys; nor has junk of any type */
	mapkeys_root_encode(body, &r);
	leaf = leaf_of(MN_MAP_ROOT_ENTRY, body, sizeof(body), &len);
	{
		/* mapkeys_root_leaf writes what ct_write_leaf writes (timestamp 0) */
		uint8_t direct[MAPKEYS_ROOT_LEAF_LEN];
		mapkeys_root_leaf(direct, 0, &r);
		assert_int_equal(len, MAPKEYS_ROOT_LEAF_LEN);
		assert_memory_equal(direct, leaf, len);
	}
	{
		/* in a leaf_index log: the same leaf with the extension naming
		 * its own index, |covered|; it fits only 40 bits */
		uint8_t ix[MAPKEYS_ROOT_LEAF_IDX_LEN];
		struct ct_entry ce;
		struct mapkeys_root big = r;
		assert_true(mapkeys_root_leaf_indexed(ix, 5, &r));
		assert_true(ct_parse_leaf(&ce, ix, sizeof(ix)));
		assert_int_equal(ce.entry_type, MN_MAP_ROOT_ENTRY);
		assert_int_equal(ce.timestamp, 5);
		assert_int_equal(ce.body_len, MAPKEYS_ROOT_BODY_LEN);
		assert_memory_equal(ce.body, body, MAPKEYS_ROOT_BODY_LEN);
		assert_true(ct_extensions_match_index(ce.extensions, ce.extensions_len, 7));
		assert_int_equal(ce.extensions_len, CT_LEAF_INDEX_EXT_LEN);
		assert_int_equal(mapkeys_walk(ix, sizeof(ix), collect, &g), 0);
		assert_int_equal(g.num, 0);
		big.covered = CT_LEAF_INDEX_MAX;
		assert_false(mapkeys_root_leaf_indexed(ix, 5, &big));
	}
	assert_int_equal(mapkeys_walk(leaf, len, collect, &g), 0);
	assert_int_equal(g.num, 0);
	free(leaf);
	for (uint16_t t = 0; t < 2; t++) {
		leaf = leaf_of(t, (const uint8_t *)"\x30\x03\x02\x01\x01", 5, &len);
		assert_int_equal(mapkeys_leaf(h, leaf, len, keys, &n, &cut), 0);
		assert_int_equal(n, t == 0 ? 1 : 0); /* an x509_entry keeps its cert: key */
		free(leaf);
	}
	/* registrable domains from the pinned list */
	assert_int_equal(mapkeys_registrable("www.example.co.uk", 17), strlen("example.co.uk"));
	assert_int_equal(mapkeys_registrable("co.uk", 5), 0);
	assert_int_equal(mapkeys_registrable("com", 3), 0);
	merkle_hasher_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certificate),
		cmocka_unit_test(test_legacy_subject_email),
		cmocka_unit_test(test_map_root_and_junk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
