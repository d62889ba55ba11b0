/* test_ct.c: entry/ct.c against byte layouts written out by hand from RFC 6962
 * sections 3.2-3.5, and its signatures against the openssl command line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"

/* ---- helpers ---- */

#define MAX_OUT (1u << 26)

/* finish hands back the bytes of |cbb| (free() them). */
static uint8_t *finish(struct cbb *cbb, size_t *out_len)
{
	uint8_t *data = NULL;

	assert_true(cbb_finish(cbb, &data, out_len));
	return data;
}

static uint8_t *leaf_bytes(const struct ct_entry *e, size_t *out_len)
{
	struct cbb cbb;

	assert_true(cbb_init(&cbb, 64, MAX_OUT));
	assert_true(ct_write_leaf(&cbb, e));
	return finish(&cbb, out_len);
}

static uint8_t *sct_bytes(const struct ct_sct *sct, size_t *out_len)
{
	struct cbb cbb;

	assert_true(cbb_init(&cbb, 64, MAX_OUT));
	assert_true(ct_write_sct(&cbb, sct));
	return finish(&cbb, out_len);
}

static uint8_t *sct_input_bytes(const struct ct_entry *e, size_t *out_len)
{
	struct cbb cbb;

	assert_true(cbb_init(&cbb, 64, MAX_OUT));
	assert_true(ct_write_sct_input(&cbb, e));
	return finish(&cbb, out_len);
}

static uint8_t *sth_input_bytes(uint64_t ts, uint64_t size, const uint8_t root[32],
				size_t *out_len)
{
	struct cbb cbb;

	assert_true(cbb_init(&cbb, 64, MAX_OUT));
	assert_true(ct_write_sth_input(&cbb, ts, size, root));
	return finish(&cbb, out_len);
}

/* A fake DER certificate and TBS: the leaf codec treats them as opaque. */
static const uint8_t cert[5] = {0x30, 0x03, 0x02, 0x01, 0x05};
static const uint8_t tbs[3] = {0x30, 0x01, 0x00};
static const uint8_t body_pgp[4] = {0x99, 0x00, 0x01, 0x04};
static const uint8_t body_policy[6] = {'e', 'y', 'J', '.', '.', 'x'};
static const uint8_t exts[2] = {0xde, 0xad};

static struct ct_entry x509_entry(void)
{
	struct ct_entry e;

	memset(&e, 0, sizeof(e));
	e.timestamp = 0x0102030405060708ull;
	e.entry_type = CT_X509_ENTRY;
	e.body = cert;
	e.body_len = sizeof(cert);
	return e;
}

static struct ct_entry precert_entry(void)
{
	struct ct_entry e;

	memset(&e, 0, sizeof(e));
	e.timestamp = 0x000001800000abcdull;
	e.entry_type = CT_PRECERT_ENTRY;
	for (int i = 0; i < 32; i++)
		e.issuer_key_hash[i] = (uint8_t)(0xa0 + i);
	e.body = tbs;
	e.body_len = sizeof(tbs);
	e.extensions = exts;
	e.extensions_len = sizeof(exts);
	return e;
}

static struct ct_entry other_entry(uint16_t type)
{
	struct ct_entry e;

	memset(&e, 0, sizeof(e));
	e.timestamp = 1700000000123ull;
	e.entry_type = type;
	if (type == MN_PGP_ENDORSEMENT_ENTRY) {
		e.body = body_pgp;
		e.body_len = sizeof(body_pgp);
	} else {
		e.body = body_policy;
		e.body_len = sizeof(body_policy);
		e.extensions = exts;
		e.extensions_len = 1;
	}
	return e;
}

/* ---- MerkleTreeLeaf ---- */

static void test_leaf_x509_layout(void **state)
{
	/* RFC 6962 section 3.4, byte by byte. */
	static const uint8_t want[] = {
		0x00,                                           /* version v1 */
		0x00,                                           /* timestamped_entry */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* timestamp */
		0x00, 0x00,                                     /* x509_entry */
		0x00, 0x00, 0x05,                               /* ASN.1Cert length */
		0x30, 0x03, 0x02, 0x01, 0x05,                   /* ASN.1Cert */
		0x00, 0x00,                                     /* extensions length */
	};
	struct ct_entry e = x509_entry();
	size_t len;
	uint8_t *got = leaf_bytes(&e, &len);

	(void)state;
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	free(got);
}

static void test_leaf_precert_layout(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x00,                                     /* v1, timestamped_entry */
		0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0xab, 0xcd, /* timestamp */
		0x00, 0x01,                                     /* precert_entry */
		0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, /* issuer_key_hash */
		0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
		0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
		0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
		0x00, 0x00, 0x03,                               /* TBSCertificate length */
		0x30, 0x01, 0x00,                               /* TBSCertificate */
		0x00, 0x02, 0xde, 0xad,                         /* extensions */
	};
	struct ct_entry e = precert_entry();
	size_t len;
	uint8_t *got = leaf_bytes(&e, &len);

	(void)state;
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	free(got);
}

static void test_leaf_metanotary_layout(void **state)
{
	/* DESIGN.md section 6: 0x8001 carries an opaque body with a 3-byte length. */
	static const uint8_t want[] = {
		0x00, 0x00,
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, /* 1700000000123 */
		0x80, 0x01,                                     /* pgp_endorsement_entry */
		0x00, 0x00, 0x04, 0x99, 0x00, 0x01, 0x04,       /* body */
		0x00, 0x00,
	};
	struct ct_entry e = other_entry(MN_PGP_ENDORSEMENT_ENTRY);
	size_t len;
	uint8_t *got = leaf_bytes(&e, &len);

	(void)state;
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	free(got);
}

static void check_leaf_roundtrip(const struct ct_entry *e)
{
	struct ct_entry p;
	size_t len, len2;
	uint8_t *enc = leaf_bytes(e, &len), *enc2;

	assert_true(ct_parse_leaf(&p, enc, len));
	assert_true(p.timestamp == e->timestamp);
	assert_int_equal(p.entry_type, e->entry_type);
	if (e->entry_type == CT_PRECERT_ENTRY)
		assert_memory_equal(p.issuer_key_hash, e->issuer_key_hash, 32);
	assert_int_equal(p.body_len, e->body_len);
	assert_memory_equal(p.body, e->body, e->body_len);
	assert_int_equal(p.extensions_len, e->extensions_len);
	if (e->extensions_len > 0)
		assert_memory_equal(p.extensions, e->extensions, e->extensions_len);
	/* The parsed fields point into the encoding. */
	assert_true(p.body > enc && p.body < enc + len);
	enc2 = leaf_bytes(&p, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(enc2, enc, len);
	free(enc);
	free(enc2);
}

static void test_leaf_roundtrip(void **state)
{
	struct ct_entry e;

	(void)state;
	e = x509_entry();
	check_leaf_roundtrip(&e);
	e = precert_entry();
	check_leaf_roundtrip(&e);
	e = other_entry(MN_PGP_ENDORSEMENT_ENTRY);
	check_leaf_roundtrip(&e);
	e = other_entry(MN_SIGNED_POLICY_ENTRY);
	check_leaf_roundtrip(&e);
}

static void test_leaf_large_body(void **state)
{
	/* The largest body (2^24-1) round-trips; one more byte is refused. */
	struct ct_entry e = x509_entry(), p;
	uint8_t *big = calloc(1, CT_MAX_BODY_LEN + 1), *enc;
	struct cbb cbb;
	size_t len;

	(void)state;
	assert_non_null(big);
	e.body = big;
	e.body_len = CT_MAX_BODY_LEN;
	enc = leaf_bytes(&e, &len);
	assert_int_equal(len, 2 + 8 + 2 + 3 + CT_MAX_BODY_LEN + 2);
	assert_true(ct_parse_leaf(&p, enc, len));
	assert_int_equal(p.body_len, CT_MAX_BODY_LEN);
	free(enc);
	e.body_len = CT_MAX_BODY_LEN + 1;
	assert_true(cbb_init(&cbb, 64, MAX_OUT));
	assert_false(ct_write_leaf(&cbb, &e));
	cbb_cleanup(&cbb);
	free(big);
}

static void test_leaf_rejects(void **state)
{
	struct ct_entry e, p;
	struct cbb cbb;
	uint8_t *enc, *buf;
	size_t len;
	int types[] = {CT_X509_ENTRY, CT_PRECERT_ENTRY, MN_PGP_ENDORSEMENT_ENTRY,
		       MN_SIGNED_POLICY_ENTRY};

	(void)state;
	for (size_t t = 0; t < 4; t++) {
		e = types[t] == CT_X509_ENTRY	   ? x509_entry()
		    : types[t] == CT_PRECERT_ENTRY ? precert_entry()
						   : other_entry((uint16_t)types[t]);
		enc = leaf_bytes(&e, &len);
		buf = malloc(len + 1);
		memcpy(buf, enc, len);
		assert_true(ct_parse_leaf(&p, buf, len));
		/* Every truncation, each copied so ASan sees reads past the end. */
		for (size_t n = 0; n < len; n++) {
			uint8_t *cut = malloc(n ? n : 1);
			memcpy(cut, enc, n);
			assert_false(ct_parse_leaf(&p, cut, n));
			free(cut);
		}
		buf[len] = 0x00; /* trailing byte */
		assert_false(ct_parse_leaf(&p, buf, len + 1));
		buf[0] = 1; /* version 1 */
		assert_false(ct_parse_leaf(&p, buf, len));
		buf[0] = 0;
		buf[1] = 1; /* leaf_type 1 */
		assert_false(ct_parse_leaf(&p, buf, len));
		buf[1] = 0;
		assert_true(ct_parse_leaf(&p, buf, len));
		free(buf);
		free(enc);
	}

	/* entry type 2, otherwise a well-formed x509-shaped leaf */
	e = x509_entry();
	enc = leaf_bytes(&e, &len);
	enc[11] = 2;
	assert_false(ct_parse_leaf(&p, enc, len));
	enc[10] = 0x80;
	enc[11] = 0x03; /* 0x8003: the map-root type is known */
	assert_true(ct_parse_leaf(&p, enc, len));
	enc[11] = 0x04; /* 0x8004: not a metanotary type */
	assert_false(ct_parse_leaf(&p, enc, len));
	free(enc);

	/* zero-length body: 00 00 ts(8) 00 00 000000 0000 */
	{
		static const uint8_t empty[] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
						0, 0, 0, 0, 0, 0, 0};
		static const uint8_t empty_pgp[] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
						    0x80, 0x01, 0, 0, 0, 0, 0};
		assert_false(ct_parse_leaf(&p, empty, sizeof(empty)));
		assert_false(ct_parse_leaf(&p, empty_pgp, sizeof(empty_pgp)));
	}
	/* body length larger than what follows */
	{
		static const uint8_t lie[] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
					      0, 0, 0xff, 0xff, 0xff, 0x30, 0, 0};
		assert_false(ct_parse_leaf(&p, lie, sizeof(lie)));
	}

	/* The writer refuses what the parser refuses. */
	assert_true(cbb_init(&cbb, 64, MAX_OUT));
	e = x509_entry();
	e.body_len = 0;
	assert_false(ct_write_leaf(&cbb, &e));
	e = x509_entry();
	e.entry_type = 2;
	assert_false(ct_write_leaf(&cbb, &e));
	assert_false(ct_write_sct_input(&cbb, &e));
	e = x509_entry();
	e.extensions = cert;
	e.extensions_len = 0x10000;
	assert_false(ct_write_leaf(&cbb, &e));
	cbb_cleanup(&cbb);

	assert_true(ct_entry_type_known(0));
	assert_true(ct_entry_type_known(1));
	assert_true(ct_entry_type_known(0x8001));
	assert_true(ct_entry_type_known(0x8002));
	assert_false(ct_entry_type_known(2));
	assert_false(ct_entry_type_known(0x8000));
	assert_true(ct_entry_type_known(0x8003)); /* map_root_entry */
	assert_false(ct_entry_type_known(0x8004));
	assert_false(ct_entry_type_known(0xffff));
}

/* ---- signed inputs ---- */

static void test_sct_input_layout(void **state)
{
	/* Section 3.2: sct_version, signature_type certificate_timestamp(0), then the
	 * same fields as a TimestampedEntry. */
	static const uint8_t want_x509[] = {
		0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x00, 0x00, 0x00, 0x05, 0x30, 0x03, 0x02, 0x01, 0x05,
		0x00, 0x00,
	};
	static const uint8_t want_policy[] = {
		0x00,                                           /* sct_version v1 */
		0x00,                                           /* certificate_timestamp */
		0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, /* timestamp */
		0x80, 0x02,                                     /* signed_policy_entry */
		0x00, 0x00, 0x06, 'e', 'y', 'J', '.', '.', 'x', /* body */
		0x00, 0x01, 0xde,                               /* extensions */
	};
	struct ct_entry e = x509_entry();
	size_t len;
	uint8_t *got = sct_input_bytes(&e, &len);

	(void)state;
	assert_int_equal(len, sizeof(want_x509));
	assert_memory_equal(got, want_x509, len);
	free(got);
	e = other_entry(MN_SIGNED_POLICY_ENTRY);
	got = sct_input_bytes(&e, &len);
	assert_int_equal(len, sizeof(want_policy));
	assert_memory_equal(got, want_policy, len);
	free(got);
}

static void test_sth_input_layout(void **state)
{
	uint8_t root[32], want[50];
	size_t len;
	uint8_t *got;

	(void)state;
	for (int i = 0; i < 32; i++)
		root[i] = (uint8_t)(0x40 + i);
	/* 00 01 | timestamp(8) | tree_size(8) | root(32) */
	want[0] = 0x00; /* version v1 */
	want[1] = 0x01; /* tree_hash */
	const uint8_t ts[8] = {0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b};
	const uint8_t sz[8] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a};
	memcpy(want + 2, ts, 8);
	memcpy(want + 10, sz, 8);
	memcpy(want + 18, root, 32);
	got = sth_input_bytes(1700000000123ull, 0x10000002aull, root, &len);
	assert_int_equal(len, 50);
	assert_memory_equal(got, want, 50);
	free(got);
}

/* ---- DigitallySigned and SCT ---- */

static struct ct_sig small_sig(uint16_t len, uint8_t fill)
{
	struct ct_sig s;

	memset(&s, 0, sizeof(s));
	s.hash_alg = 4;
	s.sig_alg = 3;
	s.len = len;
	memset(s.sig, fill, len);
	return s;
}

static void test_sig_codec(void **state)
{
	static const uint8_t good[] = {0x04, 0x03, 0x00, 0x02, 0x11, 0x22, 0xff};
	uint8_t buf[4 + CT_MAX_SIG_LEN + 1];
	struct ct_sig s;
	struct cbs cbs;
	struct cbb cbb;
	uint8_t *enc;
	size_t len;

	(void)state;
	cbs_init(&cbs, good, sizeof(good));
	assert_true(ct_parse_sig(&s, &cbs));
	assert_int_equal(s.hash_alg, 4);
	assert_int_equal(s.sig_alg, 3);
	assert_int_equal(s.len, 2);
	assert_int_equal(s.sig[0], 0x11);
	assert_int_equal(s.sig[1], 0x22);
	assert_int_equal(cbs_len(&cbs), 1); /* it leaves what follows */

	assert_true(cbb_init(&cbb, 16, 1024));
	assert_true(ct_write_sig(&cbb, &s));
	enc = finish(&cbb, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(enc, good, 6);
	free(enc);

	/* every truncation fails and leaves the cursor where it was */
	for (size_t n = 0; n < 6; n++) {
		cbs_init(&cbs, good, n);
		assert_false(ct_parse_sig(&s, &cbs));
		assert_ptr_equal(cbs_data(&cbs), good);
		assert_int_equal(cbs_len(&cbs), n);
	}
	memcpy(buf, good, 6);
	buf[0] = 5; /* sha384 */
	cbs_init(&cbs, buf, 6);
	assert_false(ct_parse_sig(&s, &cbs));
	assert_int_equal(cbs_len(&cbs), 6);
	buf[0] = 4;
	buf[1] = 1; /* rsa */
	cbs_init(&cbs, buf, 6);
	assert_false(ct_parse_sig(&s, &cbs));

	/* length CT_MAX_SIG_LEN is accepted, one more is not */
	memset(buf, 0x5a, sizeof(buf));
	buf[0] = 4;
	buf[1] = 3;
	buf[2] = 0;
	buf[3] = CT_MAX_SIG_LEN;
	cbs_init(&cbs, buf, 4 + CT_MAX_SIG_LEN);
	assert_true(ct_parse_sig(&s, &cbs));
	assert_int_equal(s.len, CT_MAX_SIG_LEN);
	buf[3] = CT_MAX_SIG_LEN + 1;
	cbs_init(&cbs, buf, 4 + CT_MAX_SIG_LEN + 1);
	assert_false(ct_parse_sig(&s, &cbs));

	/* the writer refuses what the parser refuses */
	assert_true(cbb_init(&cbb, 16, 1024));
	s = small_sig(2, 1);
	s.hash_alg = 2;
	assert_false(ct_write_sig(&cbb, &s));
	s = small_sig(2, 1);
	s.sig_alg = 1;
	assert_false(ct_write_sig(&cbb, &s));
	s = small_sig(2, 1);
	s.len = CT_MAX_SIG_LEN + 1;
	assert_false(ct_write_sig(&cbb, &s));
	cbb_cleanup(&cbb);
}

/* A v1 SCT with log ID 32 x 0x11, timestamp 0x0102..08, extensions {0xab},
 * signature 04 03 0003 c1 c2 c3; 51 bytes. */
static const uint8_t sct_a[] = {
	0x00,                                           /* sct_version v1 */
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, /* log id */
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* timestamp */
	0x00, 0x01, 0xab,                               /* extensions */
	0x04, 0x03,                                     /* sha256, ecdsa */
	0x00, 0x03, 0xc1, 0xc2, 0xc3,                   /* signature */
};
/* log ID 32 x 0x22, timestamp 1, no extensions, signature of 2 bytes; 49 bytes. */
static const uint8_t sct_b[] = {
	0x00,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00,
	0x04, 0x03,
	0x00, 0x02, 0xd1, 0xd2,
};
static const uint8_t ext_ab[1] = {0xab};

static struct ct_sct make_sct_a(void)
{
	struct ct_sct s;

	memset(&s, 0, sizeof(s));
	memset(s.log_id, 0x11, 32);
	s.timestamp = 0x0102030405060708ull;
	s.extensions = ext_ab;
	s.extensions_len = 1;
	s.sig = small_sig(3, 0);
	s.sig.sig[0] = 0xc1;
	s.sig.sig[1] = 0xc2;
	s.sig.sig[2] = 0xc3;
	return s;
}

static struct ct_sct make_sct_b(void)
{
	struct ct_sct s;

	memset(&s, 0, sizeof(s));
	memset(s.log_id, 0x22, 32);
	s.timestamp = 1;
	s.sig = small_sig(2, 0);
	s.sig.sig[0] = 0xd1;
	s.sig.sig[1] = 0xd2;
	return s;
}

static void test_sct_codec(void **state)
{
	struct ct_sct a = make_sct_a(), p;
	uint8_t buf[sizeof(sct_a) + 1];
	size_t len;
	uint8_t *enc = sct_bytes(&a, &len);

	(void)state;
	assert_int_equal(len, sizeof(sct_a));
	assert_memory_equal(enc, sct_a, len);
	free(enc);

	assert_true(ct_parse_sct(&p, sct_a, sizeof(sct_a)));
	assert_int_equal(p.version, 0);
	assert_memory_equal(p.log_id, a.log_id, 32);
	assert_true(p.timestamp == a.timestamp);
	assert_int_equal(p.extensions_len, 1);
	assert_int_equal(p.extensions[0], 0xab);
	assert_int_equal(p.sig.len, 3);
	assert_memory_equal(p.sig.sig, a.sig.sig, 3);
	enc = sct_bytes(&p, &len);
	assert_memory_equal(enc, sct_a, sizeof(sct_a));
	free(enc);

	for (size_t n = 0; n < sizeof(sct_a); n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, sct_a, n);
		assert_false(ct_parse_sct(&p, cut, n));
		free(cut);
	}
	memcpy(buf, sct_a, sizeof(sct_a));
	buf[sizeof(sct_a)] = 0;
	assert_false(ct_parse_sct(&p, buf, sizeof(buf))); /* trailing byte */
	buf[0] = 1;
	assert_false(ct_parse_sct(&p, buf, sizeof(sct_a))); /* version 1 */
	buf[0] = 0;
	buf[44] = 5; /* hash sha384 */
	assert_false(ct_parse_sct(&p, buf, sizeof(sct_a)));
	buf[44] = 4;
	assert_true(ct_parse_sct(&p, buf, sizeof(sct_a)));

	a.version = 1;
	{
		struct cbb cbb;
		assert_true(cbb_init(&cbb, 64, 1024));
		assert_false(ct_write_sct(&cbb, &a));
		cbb_cleanup(&cbb);
	}
}

static void test_sct_list_layout(void **state)
{
	/* Section 3.3: opaque SerializedSCT<1..2^16-1>; SerializedSCT sct_list<1..2^16-1>.
	 * Total: 2 + (2 + 51) + (2 + 49) = 106 bytes, outer length 104 = 0x0068. */
	uint8_t want[106];
	struct ct_sct scts[2] = {make_sct_a(), make_sct_b()};
	struct cbb cbb;
	uint8_t *got;
	size_t len;

	(void)state;
	assert_int_equal(sizeof(sct_a), 51);
	assert_int_equal(sizeof(sct_b), 49);
	want[0] = 0x00;
	want[1] = 0x68;
	want[2] = 0x00;
	want[3] = 0x33; /* 51 */
	memcpy(want + 4, sct_a, 51);
	want[55] = 0x00;
	want[56] = 0x31; /* 49 */
	memcpy(want + 57, sct_b, 49);

	assert_true(cbb_init(&cbb, 8, 4096));
	assert_true(ct_write_sct_list(&cbb, scts, 2));
	got = finish(&cbb, &len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	free(got);

	assert_true(cbb_init(&cbb, 8, 4096));
	assert_false(ct_write_sct_list(&cbb, scts, 0)); /* list<1..> */
	cbb_cleanup(&cbb);
}

/* ---- signatures, against the openssl command line ---- */

struct fixture {
	char dir[64];
	EVP_PKEY *pkey;
	struct ct_signer *signer;
};

static void vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, cap, fmt, ap);

	assert_true(n > 0 && (size_t)n < cap);
}

static void path(char *buf, size_t cap, const struct fixture *f, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", f->dir, name);

	assert_true(n > 0 && (size_t)n < cap);
}

/* sh runs a shell command (stdout/stderr discarded unless redirected) and returns
 * its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vfmt(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* sh_out runs a command and returns its first output line (stdout+stderr). */
static void sh_out(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void sh_out(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vfmt(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = '\0';
	if (fgets(out, (int)cap, p) == NULL)
		out[0] = '\0';
	while (fgetc(p) != EOF)
		;
	pclose(p);
}

static void write_file(const struct fixture *f, const char *name,
		       const uint8_t *data, size_t len)
{
	char p[256];
	FILE *fp;

	path(p, sizeof(p), f, name);
	fp = fopen(p, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_file(const struct fixture *f, const char *name, size_t *out_len)
{
	char p[256];
	uint8_t *buf = malloc(65536);
	FILE *fp;

	path(p, sizeof(p), f, name);
	fp = fopen(p, "rb");
	assert_non_null(fp);
	assert_non_null(buf);
	*out_len = fread(buf, 1, 65536, fp);
	assert_true(*out_len < 65536);
	fclose(fp);
	return buf;
}

static EVP_PKEY *read_key(const struct fixture *f, const char *name)
{
	char p[256];
	EVP_PKEY *k;
	FILE *fp;

	path(p, sizeof(p), f, name);
	fp = fopen(p, "r");
	assert_non_null(fp);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(k);
	return k;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mn-test-ct-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if (sh("cd %s && openssl ecparam -name prime256v1 -genkey -noout -out key.pem"
	       " 2>/dev/null && openssl pkey -in key.pem -pubout -out pub.pem && "
	       "openssl pkey -pubin -in pub.pem -outform DER -out pub.der",
	       f->dir) != 0)
		return -1;
	f->pkey = read_key(f, "key.pem");
	f->signer = ct_signer_new(f->pkey);
	if (f->signer == NULL)
		return -1;
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ct_signer_free(f->signer);
	EVP_PKEY_free(f->pkey);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct ct_verifier *verifier_from_cli(const struct fixture *f)
{
	size_t len;
	uint8_t *der = read_file(f, "pub.der", &len);
	struct ct_verifier *v = ct_verifier_new(der, len);

	free(der);
	assert_non_null(v);
	return v;
}

static int cli_verifies(const struct fixture *f)
{
	char out[256];

	sh_out(out, sizeof(out),
	       "cd %s && openssl dgst -sha256 -verify pub.pem -signature sig.der "
	       "input.bin 2>&1",
	       f->dir);
	return strncmp(out, "Verified OK", 11) == 0;
}

static void test_log_id_matches_cli(void **state)
{
	struct fixture *f = *state;
	struct ct_verifier *v = verifier_from_cli(f);
	size_t id_len, der_len, spki_len;
	uint8_t *id, *der;
	const uint8_t *spki;

	assert_int_equal(sh("cd %s && openssl pkey -pubin -in pub.pem -outform DER | "
			    "openssl dgst -sha256 -binary > id.bin",
			    f->dir),
			 0);
	id = read_file(f, "id.bin", &id_len);
	assert_int_equal(id_len, 32);
	assert_memory_equal(ct_signer_log_id(f->signer), id, 32);
	assert_memory_equal(ct_verifier_log_id(v), id, 32);
	der = read_file(f, "pub.der", &der_len);
	spki = ct_signer_spki(f->signer, &spki_len);
	assert_int_equal(spki_len, der_len);
	assert_memory_equal(spki, der, der_len);
	free(id);
	free(der);
	ct_verifier_free(v);
}

static void test_sth_signature_cli(void **state)
{
	struct fixture *f = *state;
	struct ct_verifier *v = verifier_from_cli(f);
	uint8_t root[32], *input;
	struct ct_sig sig;
	size_t len;

	for (int i = 0; i < 32; i++)
		root[i] = (uint8_t)(i * 7);
	assert_int_equal(ct_sign_sth(f->signer, &sig, 1700000000123ull, 12345, root), 0);
	assert_int_equal(sig.hash_alg, 4);
	assert_int_equal(sig.sig_alg, 3);
	assert_true(sig.len >= 8 && sig.len <= 72);
	input = sth_input_bytes(1700000000123ull, 12345, root, &len);
	assert_int_equal(len, 50);
	write_file(f, "input.bin", input, len);
	write_file(f, "sig.der", sig.sig, sig.len);
	assert_true(cli_verifies(f));
	assert_true(ct_verify_sth(v, &sig, 1700000000123ull, 12345, root));
	assert_true(ct_verify(v, &sig, input, len));
	assert_false(ct_verify_sth(v, &sig, 1700000000124ull, 12345, root));
	assert_false(ct_verify_sth(v, &sig, 1700000000123ull, 12346, root));
	root[31] ^= 1;
	assert_false(ct_verify_sth(v, &sig, 1700000000123ull, 12345, root));
	/* The CLI check is meaningful: it rejects a changed input too. */
	input[49] ^= 1;
	write_file(f, "input.bin", input, len);
	assert_false(cli_verifies(f));
	free(input);
	ct_verifier_free(v);
}

static void test_sct_signature_cli(void **state)
{
	struct fixture *f = *state;
	struct ct_verifier *v = verifier_from_cli(f);
	struct ct_entry e = precert_entry(), e2;
	struct ct_sct sct, parsed;
	uint8_t *input, *enc;
	size_t len, enc_len;

	assert_int_equal(ct_sign_sct(f->signer, &sct, &e), 0);
	assert_int_equal(sct.version, 0);
	assert_memory_equal(sct.log_id, ct_signer_log_id(f->signer), 32);
	assert_true(sct.timestamp == e.timestamp);
	assert_int_equal(sct.extensions_len, e.extensions_len);
	input = sct_input_bytes(&e, &len);
	write_file(f, "input.bin", input, len);
	write_file(f, "sig.der", sct.sig.sig, sct.sig.len);
	assert_true(cli_verifies(f));
	free(input);

	/* through the wire encoding and back */
	enc = sct_bytes(&sct, &enc_len);
	assert_true(ct_parse_sct(&parsed, enc, enc_len));
	assert_true(ct_verify_sct(v, &parsed, &e));
	/* the timestamp and extensions come from the SCT, not the entry */
	e2 = e;
	e2.timestamp = 0;
	e2.extensions_len = 0;
	assert_true(ct_verify_sct(v, &parsed, &e2));
	parsed.timestamp++;
	assert_false(ct_verify_sct(v, &parsed, &e));
	parsed.timestamp--;
	parsed.log_id[0] ^= 1; /* not this log's */
	assert_false(ct_verify_sct(v, &parsed, &e));
	parsed.log_id[0] ^= 1;
	e2 = e;
	e2.issuer_key_hash[5] ^= 1;
	assert_false(ct_verify_sct(v, &parsed, &e2));
	e2 = e;
	e2.entry_type = CT_X509_ENTRY; /* same body, other type */
	assert_false(ct_verify_sct(v, &parsed, &e2));
	assert_true(ct_verify_sct(v, &parsed, &e));
	free(enc);

	/* all four types sign and verify */
	for (int t = 0; t < 4; t++) {
		static const uint16_t types[] = {0, 1, 0x8001, 0x8002};
		e2 = types[t] == 0   ? x509_entry()
		     : types[t] == 1 ? precert_entry()
				     : other_entry(types[t]);
		assert_int_equal(ct_sign_sct(f->signer, &sct, &e2), 0);
		assert_true(ct_verify_sct(v, &sct, &e2));
	}
	/* an invalid entry is refused before signing */
	e2 = x509_entry();
	e2.entry_type = 7;
	assert_int_equal(ct_sign_sct(f->signer, &sct, &e2), MN_EINVAL);
	e2 = x509_entry();
	e2.body_len = 0;
	assert_int_equal(ct_sign_sct(f->signer, &sct, &e2), MN_EINVAL);
	ct_verifier_free(v);
}

/* static-ct-api CtExtensions: the leaf_index encoding (known answer), its
 * parser against truncation, bad lengths, duplicates and trailing bytes, and
 * unknown types (skipped). */
static void test_leaf_index_ext(void **state)
{
	static const uint8_t want[8] = {0x00, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05};
	uint8_t ext[CT_LEAF_INDEX_EXT_LEN], buf[32];
	uint64_t idx;
	int has;

	(void)state;
	assert_true(ct_leaf_index_ext(ext, 0x0102030405ull));
	assert_memory_equal(ext, want, 8);
	assert_true(ct_leaf_index_ext(ext, CT_LEAF_INDEX_MAX - 1));
	assert_false(ct_leaf_index_ext(ext, CT_LEAF_INDEX_MAX)); /* not in 40 bits */
	assert_true(ct_leaf_index_ext(ext, 0));
	assert_true(ct_parse_extensions(ext, 8, &has, &idx));
	assert_true(has);
	assert_int_equal(idx, 0);
	assert_true(ct_parse_extensions(want, 8, &has, &idx));
	assert_true(has);
	assert_int_equal(idx, 0x0102030405ull);
	assert_true(ct_extensions_match_index(want, 8, 0x0102030405ull));
	assert_false(ct_extensions_match_index(want, 8, 0x0102030406ull));
	/* empty: well formed, no index (the RFC 6962 format), fits any index */
	assert_true(ct_parse_extensions(NULL, 0, &has, &idx));
	assert_false(has);
	assert_true(ct_extensions_match_index(NULL, 0, 42));
	/* every truncation is malformed */
	for (size_t n = 1; n < 8; n++)
		assert_false(ct_parse_extensions(want, n, &has, &idx));
	/* a trailing byte, a leaf_index of 4 or 6 bytes */
	memcpy(buf, want, 8);
	buf[8] = 0;
	assert_false(ct_parse_extensions(buf, 9, &has, &idx));
	{
		static const uint8_t four[7] = {0, 0, 4, 1, 2, 3, 4};
		static const uint8_t six[9] = {0, 0, 6, 1, 2, 3, 4, 5, 6};
		assert_false(ct_parse_extensions(four, sizeof(four), &has, &idx));
		assert_false(ct_parse_extensions(six, sizeof(six), &has, &idx));
	}
	/* the same type twice is refused, even with equal values */
	memcpy(buf, want, 8);
	memcpy(buf + 8, want, 8);
	assert_false(ct_parse_extensions(buf, 16, &has, &idx));
	/* an unknown type is skipped, before or after leaf_index; twice: refused */
	{
		static const uint8_t unk[5] = {0x07, 0x00, 0x02, 0xaa, 0xbb};
		memcpy(buf, unk, 5);
		memcpy(buf + 5, want, 8);
		assert_true(ct_parse_extensions(buf, 13, &has, &idx));
		assert_true(has);
		assert_int_equal(idx, 0x0102030405ull);
		/* but it is not what a leaf of this log carries */
		assert_false(ct_extensions_match_index(buf, 13, 0x0102030405ull));
		assert_true(ct_parse_extensions(unk, 5, &has, &idx));
		assert_false(has);
		memcpy(buf + 5, unk, 5);
		assert_false(ct_parse_extensions(buf, 10, &has, &idx));
	}
	/* a length running past the end */
	{
		static const uint8_t over[4] = {0x00, 0xff, 0xff, 0x00};
		assert_false(ct_parse_extensions(over, sizeof(over), &has, &idx));
	}
}

/* ct_sign_leaf_sct signs a stored MerkleTreeLeaf as it is: the result is the
 * SCT ct_sign_sct makes for the same entry (timestamp and extensions from the
 * leaf), and it verifies over the entry. */
static void test_sign_leaf_sct(void **state)
{
	struct fixture *f = *state;
	struct ct_verifier *v = verifier_from_cli(f);
	uint8_t ext[CT_LEAF_INDEX_EXT_LEN], *leaf;
	struct ct_entry e = precert_entry(), parsed;
	struct ct_sct sct;
	struct cbb b;
	size_t len;

	assert_true(ct_leaf_index_ext(ext, 77));
	e.extensions = ext;
	e.extensions_len = sizeof(ext);
	assert_true(cbb_init(&b, 256, 1 << 20));
	assert_true(ct_write_leaf(&b, &e));
	assert_true(cbb_finish(&b, &leaf, &len));
	assert_int_equal(ct_sign_leaf_sct(f->signer, &sct, leaf, len), 0);
	assert_int_equal(sct.timestamp, e.timestamp);
	assert_int_equal(sct.extensions_len, 8);
	assert_memory_equal(sct.extensions, ext, 8);
	assert_memory_equal(sct.log_id, ct_signer_log_id(f->signer), 32);
	assert_true(ct_verify_sct(v, &sct, &e));
	/* and the section 3.2 input is the leaf, byte for byte */
	{
		uint8_t *in;
		size_t in_len;
		in = sct_input_bytes(&e, &in_len);
		assert_int_equal(in_len, len);
		assert_memory_equal(in, leaf, len);
		free(in);
	}
	/* another index is another signed message */
	assert_true(ct_parse_leaf(&parsed, leaf, len));
	{
		uint8_t other[CT_LEAF_INDEX_EXT_LEN];
		assert_true(ct_leaf_index_ext(other, 78));
		sct.extensions = other;
		assert_false(ct_verify_sct(v, &sct, &e));
	}
	/* not a leaf: refused before signing */
	assert_int_equal(ct_sign_leaf_sct(f->signer, &sct, leaf, len - 1), MN_EINVAL);
	free(leaf);
	ct_verifier_free(v);
}

static void test_cli_signature_accepted(void **state)
{
	struct fixture *f = *state;
	struct ct_verifier *v = verifier_from_cli(f);
	struct ct_entry e = other_entry(MN_SIGNED_POLICY_ENTRY);
	struct ct_sig sig;
	struct ct_sct sct;
	uint8_t *input, *der;
	size_t len, der_len;

	input = sct_input_bytes(&e, &len);
	write_file(f, "input.bin", input, len);
	assert_int_equal(sh("cd %s && openssl dgst -sha256 -sign key.pem -out cli.der "
			    "input.bin",
			    f->dir),
			 0);
	der = read_file(f, "cli.der", &der_len);
	assert_true(der_len > 0 && der_len <= CT_MAX_SIG_LEN);
	sig = small_sig((uint16_t)der_len, 0);
	memcpy(sig.sig, der, der_len);
	assert_true(ct_verify(v, &sig, input, len));
	memset(&sct, 0, sizeof(sct));
	memcpy(sct.log_id, ct_verifier_log_id(v), 32);
	sct.timestamp = e.timestamp;
	sct.extensions = e.extensions;
	sct.extensions_len = e.extensions_len;
	sct.sig = sig;
	assert_true(ct_verify_sct(v, &sct, &e));

	/* every single-bit change of the input or the signature is refused */
	for (size_t i = 0; i < len * 8; i++) {
		input[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_false(ct_verify(v, &sig, input, len));
		input[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (size_t i = 0; i < (size_t)sig.len * 8; i++) {
		sig.sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_false(ct_verify(v, &sig, input, len));
		sig.sig[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_true(ct_verify(v, &sig, input, len));
	/* wrong algorithm labels, empty or truncated signature */
	sig.hash_alg = 5;
	assert_false(ct_verify(v, &sig, input, len));
	sig.hash_alg = 4;
	sig.sig_alg = 1;
	assert_false(ct_verify(v, &sig, input, len));
	sig.sig_alg = 3;
	sig.len--;
	assert_false(ct_verify(v, &sig, input, len));
	sig.len = 0;
	assert_false(ct_verify(v, &sig, input, len));
	free(der);
	free(input);
	ct_verifier_free(v);
}

static void test_key_rejects(void **state)
{
	struct fixture *f = *state;
	struct ct_verifier *v;
	EVP_PKEY *k;
	uint8_t *der, *longer;
	size_t len;

	assert_int_equal(
		sh("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
		   "-out rsa.pem 2>/dev/null && openssl pkey -in rsa.pem -pubout "
		   "-outform DER -out rsa.der && "
		   "openssl ecparam -name secp384r1 -genkey -noout -out p384.pem && "
		   "openssl pkey -in p384.pem -pubout -outform DER -out p384.der",
		   f->dir),
		0);
	der = read_file(f, "rsa.der", &len);
	assert_null(ct_verifier_new(der, len));
	free(der);
	der = read_file(f, "p384.der", &len);
	assert_null(ct_verifier_new(der, len));
	free(der);

	k = read_key(f, "rsa.pem");
	assert_null(ct_signer_new(k));
	EVP_PKEY_free(k);
	k = read_key(f, "p384.pem");
	assert_null(ct_signer_new(k));
	EVP_PKEY_free(k);
	assert_null(ct_signer_new(NULL));

	/* a P-256 public key cannot sign */
	{
		char p[256];
		FILE *fp;
		path(p, sizeof(p), f, "pub.pem");
		fp = fopen(p, "r");
		assert_non_null(fp);
		k = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
		fclose(fp);
		assert_non_null(k);
		assert_null(ct_signer_new(k));
		EVP_PKEY_free(k);
	}

	/* the good SPKI with a trailing byte, and every truncation */
	der = read_file(f, "pub.der", &len);
	v = ct_verifier_new(der, len);
	assert_non_null(v);
	ct_verifier_free(v);
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_null(ct_verifier_new(longer, len + 1));
	for (size_t n = 0; n < len; n++)
		assert_null(ct_verifier_new(der, n));
	free(longer);
	free(der);
	ct_verifier_free(NULL);
	ct_signer_free(NULL);
}

/* The signer is shared by threads that sign at the same time. */
struct sign_job {
	const struct ct_signer *signer;
	const struct ct_verifier *verifier;
	int ok;
};

static void *sign_many(void *arg)
{
	struct sign_job *j = arg;
	uint8_t root[32];

	j->ok = 1;
	for (uint64_t i = 0; i < 200; i++) {
		struct ct_sig sig;
		memset(root, (int)i, sizeof(root));
		if (ct_sign_sth(j->signer, &sig, i, i * 3, root) != 0 ||
		    !ct_verify_sth(j->verifier, &sig, i, i * 3, root))
			j->ok = 0;
	}
	return NULL;
}

static void test_sign_threads(void **state)
{
	struct fixture *f = *state;
	struct ct_verifier *v = verifier_from_cli(f);
	struct sign_job jobs[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		jobs[i].signer = f->signer;
		jobs[i].verifier = v;
		jobs[i].ok = 0;
		assert_int_equal(pthread_create(&th[i], NULL, sign_many, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].ok, 1);
	}
	ct_verifier_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_x509_layout),
		cmocka_unit_test(test_leaf_precert_layout),
		cmocka_unit_test(test_leaf_metanotary_layout),
		cmocka_unit_test(test_leaf_roundtrip),
		cmocka_unit_test(test_leaf_large_body),
		cmocka_unit_test(test_leaf_rejects),
		cmocka_unit_test(test_sct_input_layout),
		cmocka_unit_test(test_sth_input_layout),
		cmocka_unit_test(test_sig_codec),
		cmocka_unit_test(test_sct_codec),
		cmocka_unit_test(test_sct_list_layout),
		cmocka_unit_test_setup_teardown(test_log_id_matches_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sth_signature_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sct_signature_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_signature_accepted, setup, teardown),
		cmocka_unit_test(test_leaf_index_ext),
		cmocka_unit_test_setup_teardown(test_sign_leaf_sct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
