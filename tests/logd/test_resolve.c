/* test_resolve.c: /mn/v1/lookup and /mn/v1/resolve over the OpenPGP and policy
 * classes (issue 6; test_lookup.c covers TLS and S/MIME).
 *
 * One logd (--tls-roots, --smime-roots, --certifiers) is filled at test time:
 * OpenPGP endorsements made by the gpg command line (two certifiers, two keys
 * for alice@example.com, one of them endorsed by both certifiers and later
 * re-endorsed, and decoys bob@example.co, carol@sub.example.com, an upper-case
 * user ID and an IDN in A-label form), smtp policies for example.com (serial 1
 * enforce, 2 testing, 3 none) next to decoy policies for example.co and
 * sub.example.com, and an email-e2e policy for alice@example.com, each signed by
 * a test-PKI certificate that add-policy logs first. Every answer is checked
 * whole: its STH signature verifies with the key logd printed in its log-list
 * line, every entry's audit path verifies against that STH, every entry is the
 * leaf this test submitted at that index (endorsed and certifier fingerprints,
 * JWS, certificate DER), classes are right, a PGP "opening" is given exactly to
 * email lookups and opens the body's commitment to the submitted user ID, and
 * each lookup returns exactly the expected set, in leaf order, once per leaf
 * across pages. Bad parameters get 400. A certifier's revocation (0x30, made by
 * gpg --quick-revoke-sig) is logged, is in the lookup history, and makes
 * resolve stop advising that certifier's endorsement of the key; it does not
 * touch another certifier's statement.
 *
 * Not covered, by necessity:
 *   - an expired policy: exp in the past is refused at submission, and a short
 *     exp cannot be made to pass without waiting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"
#include "merkle/merkle.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400
#define MAX_LEAVES 64

#define UID_A1 "Alice <alice@example.com>"
#define UID_A2 "Alice Two <Alice@Example.COM>" /* upper case: same address */
#define UID_B "Bob <bob@example.co>"
#define UID_C "Carol <carol@sub.example.com>"
#define UID_D "Dave <dave@xn--bcher-kva.example>"

/* What this test put at each leaf index. */
struct leaf {
	const char *cls; /* "tls", "smime", "pgp", "policy" */
	uint16_t type;
	const char *uid; /* pgp: the user ID */
	char endorsed[41], certifier[41];
	char *jws;                   /* policy */
	const struct pki_cert *cert; /* x509 */
};

/* Endorsements, by number. */
enum { E_A1_CA1, E_A1_CA2, E_A2_CA1, E_B_CA1, E_C_CA2, E_D_CA1, E_A1_CA1_NEW, NUM_E };

static struct {
	char dir[64];
	struct mnfix_gpg g;
	char a1[41], a2[41], b[41], c[41], d[41], ca1[41], ca2[41];
	struct mnfix_buf x_a1, x_a2, x_b, x_c, x_d, x_a1_new, x_a1_rev;
	char certifiers[128], tls_roots[128], smime_roots[128];
	struct logd_proc logd;
	struct ct_verifier *v;
	struct merkle_hasher *h;
	struct pki_cert *root, *ica, *sroot, *sca, *s_ex, *s_co, *s_sub, *s_alice, *extra;
	int64_t now;
	struct leaf leaf[MAX_LEAVES];
	uint64_t num;
	uint64_t e[NUM_E];
	/* policies and their signers */
	uint64_t sig_ex, sig_co, sig_sub, sig_alice;
	uint64_t p_ex[3], p_co, p_sub, p_e2e;
	int gpg_ok;
} T;

/* --- setup ------------------------------------------------------------------- */

static int export_key(const char *fpr, struct mnfix_buf *out)
{
	char what[128];
	snprintf(what, sizeof(what), "--export %s", fpr);
	return mnfix_gpg_export(&T.g, what, out);
}

static int make_pgp(void)
{
	char t0[32], t1[32], args[512], pol[256];
	static const char *const uids[] = {UID_A1, UID_A2, UID_B, UID_C, UID_D,
					   "Cert One <ca1@certifier.example>",
					   "Cert Two <ca2@certifier.example>"};
	char *fprs[] = {T.a1, T.a2, T.b, T.c, T.d, T.ca1, T.ca2};

	if (mnfix_gpg_init(&T.g, T.dir) != 0)
		return -1;
	T.gpg_ok = 1;
	/* keys two hours old, certifications one hour old, so that a later
	 * certification (at the real time) is newer without waiting */
	snprintf(t0, sizeof(t0), "%lld!", (long long)(T.now - 7200));
	snprintf(t1, sizeof(t1), "%lld!", (long long)(T.now - 3600));
	for (size_t i = 0; i < 7; i++) {
		char who[128];
		snprintf(args, sizeof(args), "--faked-system-time %s --quick-gen-key '%s' ed25519 sign 1y",
			 t0, uids[i]);
		if (mnfix_gpg(&T.g, args) != 0)
			return -1;
		snprintf(who, sizeof(who), "=%s", uids[i]);
		if (mnfix_gpg_fpr(&T.g, who, fprs[i]) != 0)
			return -1;
	}
	{
		const char *const pairs[][2] = {{T.ca1, T.a1}, {T.ca2, T.a1}, {T.ca1, T.a2},
						{T.ca1, T.b},  {T.ca2, T.c},  {T.ca1, T.d}};
		for (size_t i = 0; i < 6; i++) {
			snprintf(args, sizeof(args), "--faked-system-time %s -u %s --quick-sign-key %s",
				 t1, pairs[i][0], pairs[i][1]);
			if (mnfix_gpg(&T.g, args) != 0)
				return -1;
		}
	}
	if (export_key(T.a1, &T.x_a1) || export_key(T.a2, &T.x_a2) || export_key(T.b, &T.x_b) ||
	    export_key(T.c, &T.x_c) || export_key(T.d, &T.x_d))
		return -1;
	/* a newer certification of A1 by CA1, at the real time */
	snprintf(args, sizeof(args), "-u %s --force-sign-key --quick-sign-key %s", T.ca1, T.a1);
	if (mnfix_gpg(&T.g, args) != 0 || export_key(T.a1, &T.x_a1_new))
		return -1;
	/* then CA1 revokes its certification (gpg: key, then signing key) */
	snprintf(args, sizeof(args), "--quick-revoke-sig %s %s", T.a1, T.ca1);
	if (mnfix_gpg(&T.g, args) != 0 || export_key(T.a1, &T.x_a1_rev))
		return -1;
	snprintf(T.certifiers, sizeof(T.certifiers), "%s/certifiers.pgp", T.dir);
	snprintf(args, sizeof(args), "--output %s --export %s %s", T.certifiers, T.ca1, T.ca2);
	if (mnfix_gpg(&T.g, args) != 0)
		return -1;
	snprintf(args, sizeof(args), "%s.policy", T.certifiers);
	snprintf(pol, sizeof(pol), "# CA2 only for example.com and below\n%s scope=example.com\n",
		 T.ca2);
	return mnfix_write_file(args, pol, strlen(pol));
}

static int make_pki(void)
{
	static const char *const ex[] = {"example.com"}, *const co[] = {"example.co"},
				 *const sub[] = {"sub.example.com"}, *const al[] = {"alice@example.com"};
	const struct pki_cert *rs[1];
	int64_t nb = T.now - DAY, na = T.now + 90 * DAY;

	T.root = pki_root("Resolve Root", 0);
	T.ica = pki_issue(T.root, "Resolve CA", NULL, 0, PKI_CA, nb, T.now + 365 * DAY);
	T.sroot = pki_root("Resolve Mail Root", 0);
	T.sca = pki_issue(T.sroot, "Resolve Mail CA", NULL, 0, PKI_CA, nb, T.now + 365 * DAY);
	if (T.root == NULL || T.ica == NULL || T.sroot == NULL || T.sca == NULL)
		return -1;
	T.s_ex = pki_issue(T.ica, "example.com", ex, 1, 0, nb, na);
	T.s_co = pki_issue(T.ica, "example.co", co, 1, 0, nb, na);
	T.s_sub = pki_issue(T.ica, "sub.example.com", sub, 1, 0, nb, na);
	T.s_alice = pki_issue(T.sca, "alice", al, 1, PKI_EMAIL, nb, na);
	T.extra = pki_issue(T.ica, "example.com", ex, 1, 0, nb, na);
	if (T.s_ex == NULL || T.s_co == NULL || T.s_sub == NULL || T.s_alice == NULL ||
	    T.extra == NULL)
		return -1;
	snprintf(T.tls_roots, sizeof(T.tls_roots), "%s/tls.pem", T.dir);
	snprintf(T.smime_roots, sizeof(T.smime_roots), "%s/smime.pem", T.dir);
	rs[0] = T.root;
	if (pki_write_pem(T.tls_roots, rs, 1) != 0)
		return -1;
	rs[0] = T.sroot;
	return pki_write_pem(T.smime_roots, rs, 1);
}

static int setup(void **state)
{
	char data[128];

	(void)state;
	T.now = pki_now();
	strcpy(T.dir, "/tmp/mn-resolve-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	if (make_pgp() != 0) {
		fprintf(stderr, "gpg fixtures failed, see %s/gpg.log\n", T.dir);
		return -1;
	}
	if (make_pki() != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", T.dir);
	{
		const char *args[] = {"--data", data, "--tls-roots", T.tls_roots,
				      "--smime-roots", T.smime_roots, "--certifiers",
				      T.certifiers, NULL};
		if (logd_start(&T.logd, args) != 0)
			return -1;
	}
	/* a new mapped log starts with the root of the empty map at leaf 0 */
	T.leaf[0].type = MN_MAP_ROOT_ENTRY;
	T.num = 1;
	/* the log key from the log-list line logd printed */
	T.v = ct_verifier_new(T.logd.spki, T.logd.spki_len);
	T.h = merkle_hasher_new();
	return T.v != NULL && T.h != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	int st, ok = 1;

	(void)state;
	st = logd_stop(&T.logd, SIGTERM); /* a graceful stop: exit status 0 */
	if (st != 0)
		fprintf(stderr, "logd exited with %d\n", st);
	ct_verifier_free(T.v);
	merkle_hasher_free(T.h);
	{
		struct pki_cert *all[] = {T.root, T.ica,   T.sroot,   T.sca,  T.s_ex,
					  T.s_co, T.s_sub, T.s_alice, T.extra};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			pki_free(all[i]);
	}
	{
		struct mnfix_buf *all[] = {&T.x_a1, &T.x_a2, &T.x_b, &T.x_c,
					   &T.x_d,  &T.x_a1_new, &T.x_a1_rev};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			free(all[i]->p);
	}
	for (size_t i = 0; i < MAX_LEAVES; i++)
		free(T.leaf[i].jws);
	if (T.gpg_ok && mnfix_gpg_kill(&T.g) != 0) {
		fprintf(stderr, "gpgconf --kill all failed\n");
		ok = 0;
	}
	if (mnfix_rm_rf(T.dir) != 0)
		ok = 0;
	return st == 0 && ok ? 0 : -1;
}

/* --- HTTP, STH and entry checks ----------------------------------------------- */

static json_t *get_json(const char *target, int want_status)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(T.logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != want_status)
		fprintf(stderr, "GET %s: %d %s\n", target, r.status, (char *)r.body);
	assert_int_equal(r.status, want_status);
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static json_t *post_json(const char *path, const char *body, int *status)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(T.logd.port, "POST", path, "Content-Type: application/json\r\n",
				 body, strlen(body), &r), 0);
	*status = r.status;
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	if (j == NULL || r.status != 200)
		fprintf(stderr, "POST %s: %d %s\n", path, r.status, (char *)r.body);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static uint8_t *b64(json_t *s, size_t *len)
{
	uint8_t *out;

	assert_true(json_is_string(s));
	assert_int_equal(mn_b64_decode(&out, len, json_string_value(s), json_string_length(s),
				       1 << 24), 0);
	return out;
}

static uint64_t tree_size(void)
{
	json_t *j = get_json("/ct/v1/get-sth", 200);
	uint64_t n = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	json_decref(j);
	return n;
}

struct sth {
	uint64_t size, ts;
	uint8_t root[32];
};

/* check_sth: |j| is an STH object whose signature verifies with the log key. */
static struct sth check_sth(json_t *j)
{
	struct sth s;
	struct ct_sig sig;
	struct cbs cbs;
	uint8_t *root, *sigb;
	size_t rl, sl;

	assert_true(json_is_object(j));
	assert_true(json_is_integer(json_object_get(j, "tree_size")));
	s.size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	s.ts = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	root = b64(json_object_get(j, "sha256_root_hash"), &rl);
	sigb = b64(json_object_get(j, "tree_head_signature"), &sl);
	assert_int_equal(rl, 32);
	memcpy(s.root, root, 32);
	cbs_init(&cbs, sigb, sl);
	assert_true(ct_parse_sig(&sig, &cbs));
	assert_int_equal(cbs_len(&cbs), 0);
	assert_true(ct_verify_sth(T.v, &sig, s.ts, s.size, s.root));
	/* and not for another size */
	assert_false(ct_verify_sth(T.v, &sig, s.ts, s.size + 1, s.root));
	assert_true(s.size <= T.num);
	free(root);
	free(sigb);
	return s;
}

static void hex_upper(char *out, const struct cbs *c)
{
	assert_true(cbs_len(c) <= PGP_MAX_FPR_LEN);
	for (size_t i = 0; i < cbs_len(c); i++)
		sprintf(out + 2 * i, "%02X", cbs_data(c)[i]);
	out[2 * cbs_len(c)] = 0;
}

/* check_entry: |en| is the leaf this test put at its index, with |cls| among
 * its classes (NULL: any), proven against |s|; a PGP endorsement carries an
 * opening iff |want_opening|, and it opens the body's commitment to the user
 * ID submitted. Returns the leaf index. */
static uint64_t check_entry(json_t *en, const struct sth *s, const char *cls, int want_opening)
{
	json_t *path = json_object_get(en, "audit_path"), *classes = json_object_get(en, "classes");
	uint8_t proof[MERKLE_MAX_PROOF][32], lh[32], *leaf, *extra;
	size_t ll, el, np = json_array_size(path);
	const struct leaf *want;
	struct ct_entry e;
	uint64_t index;

	assert_true(json_is_object(en));
	assert_true(json_is_integer(json_object_get(en, "leaf_index")));
	index = (uint64_t)json_integer_value(json_object_get(en, "leaf_index"));
	assert_true(index < s->size);
	want = &T.leaf[index];
	assert_non_null(want->cls);
	/* the proof */
	leaf = b64(json_object_get(en, "leaf_input"), &ll);
	extra = b64(json_object_get(en, "extra_data"), &el);
	merkle_leaf_hash(T.h, lh, leaf, ll);
	assert_true(json_is_array(path));
	assert_true(np <= MERKLE_MAX_PROOF);
	for (size_t k = 0; k < np; k++) {
		size_t pl;
		uint8_t *p = b64(json_array_get(path, k), &pl);
		assert_int_equal(pl, 32);
		memcpy(proof[k], p, 32);
		free(p);
	}
	assert_true(merkle_verify_inclusion(T.h, lh, index, s->size,
					    (const uint8_t(*)[32])proof, np, s->root));
	if (np > 0) {
		proof[np - 1][0] ^= 1;
		assert_false(merkle_verify_inclusion(T.h, lh, index, s->size,
						     (const uint8_t(*)[32])proof, np, s->root));
	}
	/* the leaf */
	assert_true(ct_parse_leaf(&e, leaf, ll));
	assert_int_equal(e.entry_type, want->type);
	assert_int_equal(json_integer_value(json_object_get(en, "entry_type")), want->type);
	assert_true(json_is_array(classes));
	assert_int_equal(json_array_size(classes), 1);
	assert_string_equal(json_string_value(json_array_get(classes, 0)), want->cls);
	if (cls != NULL)
		assert_string_equal(want->cls, cls);
	if (want->type == MN_PGP_ENDORSEMENT_ENTRY) {
		struct pgp_body pb;
		char hex[2 * PGP_MAX_FPR_LEN + 1];
		json_t *op = json_object_get(en, "opening");

		assert_int_equal(pgp_body_parse(&pb, e.body, e.body_len), 0);
		hex_upper(hex, &pb.endorsed_fpr);
		assert_string_equal(hex, want->endorsed);
		hex_upper(hex, &pb.certifier_fpr);
		assert_string_equal(hex, want->certifier);
		if (want_opening) {
			size_t ol;
			uint8_t *o = b64(op, &ol);
			struct pgp_opening po;
			assert_true(pgp_opening_matches(&pb, o, ol));
			assert_int_equal(pgp_opening_parse(&po, pb.version, o, ol), 0);
			assert_true(cbs_mem_equal(&po.user_id, (const uint8_t *)want->uid,
						  strlen(want->uid)));
			/* a changed user ID does not open it */
			o[PGP_SALT_LEN + 2] ^= 1;
			assert_false(pgp_opening_matches(&pb, o, ol));
			free(o);
		} else {
			assert_null(op);
		}
	} else if (want->type == MN_SIGNED_POLICY_ENTRY) {
		struct policy_body pb;
		assert_true(policy_parse_body(&pb, e.body, e.body_len));
		assert_int_equal(pb.jws_len, strlen(want->jws));
		assert_memory_equal(pb.jws, want->jws, pb.jws_len);
		assert_null(json_object_get(en, "opening"));
	} else {
		assert_int_equal(e.body_len, want->cert->der_len);
		assert_memory_equal(e.body, want->cert->der, e.body_len);
		assert_null(json_object_get(en, "opening"));
	}
	free(leaf);
	free(extra);
	return index;
}

/* --- lookups ------------------------------------------------------------------ */

/* lookup_page runs one lookup, checks the STH and every entry, stores the
 * indexes in |out| and the next cursor in |next| ("" for null). */
static size_t lookup_page(const char *query, uint64_t *out, size_t cap, char *next, size_t next_cap)
{
	char target[512];
	json_t *j, *ents, *nc;
	struct sth s;
	size_t n;
	int email = strncmp(query, "email=", 6) == 0;

	snprintf(target, sizeof(target), "/mn/v1/lookup?%s", query);
	j = get_json(target, 200);
	s = check_sth(json_object_get(j, "sth"));
	ents = json_object_get(j, "entries");
	assert_true(json_is_array(ents));
	n = json_array_size(ents);
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		out[i] = check_entry(json_array_get(ents, i), &s, NULL, email);
		if (i > 0)
			assert_true(out[i] > out[i - 1]);
	}
	nc = json_object_get(j, "next_cursor");
	assert_non_null(nc);
	if (json_is_string(nc)) {
		snprintf(next, next_cap, "%s", json_string_value(nc));
		assert_true(n > 0);
		/* the cursor is the last index returned */
		assert_int_equal(strtoull(next, NULL, 10), out[n - 1]);
	} else {
		assert_true(json_is_null(nc));
		next[0] = 0;
	}
	json_decref(j);
	return n;
}

static void print_set(const char *what, const uint64_t *v, size_t n)
{
	fprintf(stderr, "%s:", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %llu", (unsigned long long)v[i]);
	fprintf(stderr, "\n");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* expect_set: |got| (in any order) is exactly |want| (in any order). */
static void expect_set(const char *what, uint64_t *got, size_t n, const uint64_t *want, size_t nw)
{
	uint64_t w[MAX_LEAVES];

	assert_true(nw <= MAX_LEAVES);
	if (nw > 0)
		memcpy(w, want, nw * sizeof(w[0]));
	qsort(w, nw, sizeof(w[0]), cmp_u64);
	qsort(got, n, sizeof(got[0]), cmp_u64);
	if (n != nw || memcmp(got, w, n * sizeof(w[0])) != 0) {
		fprintf(stderr, "%s\n", what);
		print_set("  got", got, n);
		print_set("  want", w, nw);
	}
	assert_int_equal(n, nw);
	assert_memory_equal(got, w, n * sizeof(w[0]));
}

/* expect_lookup: the lookup |query|, paged with |limit| (0: the default), gives
 * exactly |want|, each once, in leaf order. */
static void expect_lookup_paged(const char *query, unsigned limit, const uint64_t *want, size_t nw)
{
	uint64_t all[MAX_LEAVES], page[MAX_LEAVES], copy[MAX_LEAVES];
	char cursor[32] = "", q[512];
	size_t total = 0, n, pages = 0;

	do {
		size_t len = (size_t)snprintf(q, sizeof(q), "%s", query);
		if (limit)
			len += (size_t)snprintf(q + len, sizeof(q) - len, "&limit=%u", limit);
		if (cursor[0])
			snprintf(q + len, sizeof(q) - len, "&cursor=%s", cursor);
		n = lookup_page(q, page, MAX_LEAVES, cursor, sizeof(cursor));
		assert_true(limit == 0 || n <= limit);
		assert_true(total + n <= MAX_LEAVES);
		/* pages continue in order: nothing twice */
		if (total > 0 && n > 0)
			assert_true(page[0] > all[total - 1]);
		memcpy(all + total, page, n * sizeof(page[0]));
		total += n;
		assert_true(++pages <= MAX_LEAVES + 1);
	} while (cursor[0]);
	memcpy(copy, all, total * sizeof(all[0]));
	expect_set(query, copy, total, want, nw);
	/* in leaf order already */
	assert_memory_equal(copy, all, total * sizeof(all[0]));
}

static void expect_lookup(const char *query, const uint64_t *want, size_t nw)
{
	expect_lookup_paged(query, 0, want, nw);
}

#define WANT(...) ((const uint64_t[]){__VA_ARGS__})
#define NUMW(...) (sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))
#define EXPECT(q, ...) expect_lookup(q, WANT(__VA_ARGS__), NUMW(__VA_ARGS__))
#define EXPECT_NONE(q) expect_lookup(q, NULL, 0)

/* --- submissions ---------------------------------------------------------------- */

/* map_leaf records the map-root leaf the log appends after each batch (one
 * submission at a time here: a batch each) */
static void map_leaf(void)
{
	assert_true(T.num < MAX_LEAVES);
	T.leaf[T.num].cls = NULL;
	T.leaf[T.num].type = MN_MAP_ROOT_ENTRY;
	T.num++;
}

static uint64_t submit_pgp(const struct mnfix_buf *x, const char *uid, const char *signer,
			   const char *endorsed)
{
	char *req = mnfix_pgp_request(x->p, x->len, uid, signer);
	uint64_t before = tree_size(), index = T.num;
	json_t *j;
	int st;

	assert_non_null(req);
	assert_int_equal(before, T.num);
	j = post_json("/mn/v1/add-pgp", req, &st);
	assert_int_equal(st, 200);
	assert_int_equal(tree_size(), before + 2);
	assert_true(T.num < MAX_LEAVES);
	T.leaf[index].cls = "pgp";
	T.leaf[index].type = MN_PGP_ENDORSEMENT_ENTRY;
	T.leaf[index].uid = uid;
	snprintf(T.leaf[index].endorsed, 41, "%s", endorsed);
	snprintf(T.leaf[index].certifier, 41, "%s", signer);
	T.num++;
	map_leaf();
	json_decref(j);
	free(req);
	return index;
}

/* submit_policy: |payload| signed by |signer| (chain to |ca|); the signer is
 * logged first when |signer_index| is UINT64_MAX (then set). Returns the
 * policy's leaf index. */
static uint64_t submit_policy(const struct pki_cert *signer, const struct pki_cert *ca,
			      const char *cls, const char *payload, uint64_t *signer_index)
{
	char *jws = mnfix_x5c_jws(signer, ca, payload), *req;
	uint64_t before = tree_size(), li;
	int st, new_signer = *signer_index == UINT64_MAX;
	json_t *j;

	assert_non_null(jws);
	req = mnfix_policy_request(jws);
	assert_non_null(req);
	assert_int_equal(before, T.num);
	j = post_json("/mn/v1/add-policy", req, &st);
	assert_int_equal(st, 200);
	li = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	if (new_signer) {
		assert_non_null(json_object_get(j, "signer_sct"));
		*signer_index = (uint64_t)json_integer_value(json_object_get(j, "signer_leaf_index"));
		assert_int_equal(*signer_index, T.num);
		T.leaf[T.num].cls = cls;
		T.leaf[T.num].type = CT_X509_ENTRY;
		T.leaf[T.num].cert = signer;
		T.num++;
		map_leaf(); /* the signer is logged first, in a batch of its own */
	} else {
		assert_null(json_object_get(j, "signer_sct"));
		assert_int_equal(json_integer_value(json_object_get(j, "signer_leaf_index")),
				 *signer_index);
	}
	assert_int_equal(li, T.num);
	assert_true(T.num < MAX_LEAVES);
	T.leaf[li].cls = "policy";
	T.leaf[li].type = MN_SIGNED_POLICY_ENTRY;
	T.leaf[li].jws = jws;
	T.num++;
	map_leaf();
	assert_int_equal(tree_size(), T.num);
	json_decref(j);
	free(req);
	return li;
}

/* smtp_payload: an RFC 8785 canonical smtp policy ("none": withdrawn). */
static char *smtp_payload(const char *domain, uint64_t serial, const char *mode,
			  const char *tls_min)
{
	char *p = malloc(1024);

	assert_non_null(p);
	if (strcmp(mode, "none") == 0)
		snprintf(p, 1024,
			 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"none\",\"protocol\":\"smtp\","
			 "\"serial\":%llu,\"subject\":{\"domain\":\"%s\"},\"v\":1}",
			 (long long)(T.now + 30 * DAY), (long long)T.now,
			 (unsigned long long)serial, domain);
	else
		snprintf(p, 1024,
			 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"%s\",\"mx\":[\"mx%llu.%s\"],"
			 "\"protocol\":\"smtp\",\"serial\":%llu,\"subject\":{\"domain\":\"%s\"},"
			 "\"tls\":{\"min\":\"%s\",\"transport\":\"starttls\"},\"v\":1}",
			 (long long)(T.now + 30 * DAY), (long long)T.now, mode,
			 (unsigned long long)serial, domain, (unsigned long long)serial, domain,
			 tls_min);
	return p;
}

/* --- PGP ------------------------------------------------------------------------- */

static void test_pgp_submit(void **state)
{
	(void)state;
	assert_int_equal(tree_size(), 1);
	T.e[E_A1_CA1] = submit_pgp(&T.x_a1, UID_A1, T.ca1, T.a1);
	T.e[E_A1_CA2] = submit_pgp(&T.x_a1, UID_A1, T.ca2, T.a1);
	T.e[E_A2_CA1] = submit_pgp(&T.x_a2, UID_A2, T.ca1, T.a2);
	T.e[E_B_CA1] = submit_pgp(&T.x_b, UID_B, T.ca1, T.b);
	T.e[E_C_CA2] = submit_pgp(&T.x_c, UID_C, T.ca2, T.c);
	T.e[E_D_CA1] = submit_pgp(&T.x_d, UID_D, T.ca1, T.d);
	/* CA1's newer certification of A1: a new statement, a new leaf */
	T.e[E_A1_CA1_NEW] = submit_pgp(&T.x_a1_new, UID_A1, T.ca1, T.a1);
	assert_int_equal(T.num, 1 + 2 * NUM_E); /* each with its map-root leaf */
}

static void test_lookup_email_pgp(void **state)
{
	const uint64_t *e = T.e;

	(void)state;
	/* both keys, both certifiers, and the older and newer statements (history);
	 * the upper-case user ID is the same address */
	EXPECT("email=alice@example.com", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW]);
	EXPECT("email=ALICE@Example.Com", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW]);
	EXPECT("email=alice@example.com&types=pgp", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1],
	       e[E_A1_CA1_NEW]);
	EXPECT_NONE("email=alice@example.com&types=tls,smime,policy");
	EXPECT("email=bob@example.co", e[E_B_CA1]);
	EXPECT("email=carol@sub.example.com", e[E_C_CA2]);
	EXPECT("email=dave@xn--bcher-kva.example", e[E_D_CA1]);
	EXPECT("email=dave@XN--BCHER-KVA.example", e[E_D_CA1]);
	/* decoys */
	EXPECT_NONE("email=alice@example.co");
	EXPECT_NONE("email=bob@example.com");
	EXPECT_NONE("email=carol@example.com");
	EXPECT_NONE("email=alice@sub.example.com");
	EXPECT_NONE("email=alic@example.com");
	EXPECT_NONE("email=alice2@example.com");
}

static void test_lookup_domain_pgp(void **state)
{
	const uint64_t *e = T.e;

	(void)state;
	/* no opening for a domain lookup (lookup_page checks it is absent) */
	EXPECT("domain=example.com", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW]);
	EXPECT("domain=EXAMPLE.com.", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW]);
	EXPECT("domain=example.com&types=pgp", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1],
	       e[E_A1_CA1_NEW]);
	EXPECT_NONE("domain=example.com&types=tls,smime,policy");
	EXPECT("domain=example.com&subdomains=1", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1],
	       e[E_C_CA2], e[E_A1_CA1_NEW]);
	EXPECT("domain=example.co", e[E_B_CA1]);
	EXPECT("domain=sub.example.com", e[E_C_CA2]);
	EXPECT("domain=xn--bcher-kva.example", e[E_D_CA1]);
	EXPECT("domain=Xn--Bcher-Kva.Example", e[E_D_CA1]);
	EXPECT_NONE("domain=examples.com");
	EXPECT_NONE("domain=www.example.com");
	EXPECT_NONE("domain=certifier.example");
	EXPECT_NONE("domain=example.co&subdomains=0&types=tls");
}

static void test_lookup_fpr(void **state)
{
	const uint64_t *e = T.e;
	char q[128], lower[41];

	(void)state;
	snprintf(q, sizeof(q), "pgp=%s", T.a1);
	EXPECT(q, e[E_A1_CA1], e[E_A1_CA2], e[E_A1_CA1_NEW]);
	for (size_t i = 0; i < 41; i++)
		lower[i] = (char)(T.a1[i] >= 'A' && T.a1[i] <= 'F' ? T.a1[i] + 32 : T.a1[i]);
	snprintf(q, sizeof(q), "pgp=%s", lower);
	EXPECT(q, e[E_A1_CA1], e[E_A1_CA2], e[E_A1_CA1_NEW]);
	snprintf(q, sizeof(q), "pgp=%s", T.a2);
	EXPECT(q, e[E_A2_CA1]);
	snprintf(q, sizeof(q), "pgp=%s", T.ca1);
	EXPECT(q, e[E_A1_CA1], e[E_A2_CA1], e[E_B_CA1], e[E_D_CA1], e[E_A1_CA1_NEW]);
	snprintf(q, sizeof(q), "pgp=%s", T.ca2);
	EXPECT(q, e[E_A1_CA2], e[E_C_CA2]);
	snprintf(q, sizeof(q), "pgp=%s&types=pgp", T.ca2);
	EXPECT(q, e[E_A1_CA2], e[E_C_CA2]);
	snprintf(q, sizeof(q), "pgp=%s&types=tls,smime,policy", T.ca2);
	EXPECT_NONE(q);
	/* paged, one at a time */
	snprintf(q, sizeof(q), "pgp=%s", T.ca1);
	expect_lookup_paged(q, 1, WANT(e[E_A1_CA1], e[E_A2_CA1], e[E_B_CA1], e[E_D_CA1],
				       e[E_A1_CA1_NEW]), 5);
	snprintf(q, sizeof(q), "pgp=%s", T.b);
	EXPECT(q, e[E_B_CA1]);
	/* a key nobody endorsed */
	EXPECT_NONE("pgp=0000000000000000000000000000000000000000");
}

/* resolve_check: GET resolve?|query|, check the STH and every proven item;
 * returns the answer (caller decrefs) with its STH in |*s|. */
static json_t *resolve(const char *query, struct sth *s)
{
	char target[512];
	json_t *j;

	snprintf(target, sizeof(target), "/mn/v1/resolve?%s", query);
	j = get_json(target, 200);
	*s = check_sth(json_object_get(j, "sth"));
	return j;
}

struct email_answer {
	uint64_t smime[MAX_LEAVES], pgp[MAX_LEAVES];
	size_t num_smime, num_pgp;
	int64_t smtp, e2e; /* -1: null */
	json_t *advice;    /* borrowed from the answer */
};

static json_t *resolve_email(const char *addr, const char *want_addr, struct email_answer *a)
{
	char q[300];
	struct sth s;
	json_t *j, *arr, *p;

	snprintf(q, sizeof(q), "email=%s", addr);
	j = resolve(q, &s);
	assert_string_equal(json_string_value(json_object_get(j, "email")), want_addr);
	arr = json_object_get(j, "smime");
	assert_true(json_is_array(arr));
	a->num_smime = json_array_size(arr);
	for (size_t i = 0; i < a->num_smime; i++)
		a->smime[i] = check_entry(json_array_get(arr, i), &s, "smime", 0);
	arr = json_object_get(j, "pgp");
	assert_true(json_is_array(arr));
	a->num_pgp = json_array_size(arr);
	for (size_t i = 0; i < a->num_pgp; i++)
		a->pgp[i] = check_entry(json_array_get(arr, i), &s, "pgp", 1);
	p = json_object_get(j, "smtp_policy");
	assert_non_null(p);
	a->smtp = json_is_null(p) ? -1 : (int64_t)check_entry(p, &s, "policy", 0);
	p = json_object_get(j, "e2e_policy");
	assert_non_null(p);
	a->e2e = json_is_null(p) ? -1 : (int64_t)check_entry(p, &s, "policy", 0);
	a->advice = json_object_get(j, "advice");
	assert_true(json_is_object(a->advice));
	/* the advice follows from the items */
	assert_true(json_is_boolean(json_object_get(a->advice, "smime")));
	assert_int_equal(json_is_true(json_object_get(a->advice, "smime")), a->num_smime > 0);
	assert_int_equal(json_is_true(json_object_get(a->advice, "pgp")), a->num_pgp > 0);
	if (a->smtp < 0) {
		assert_true(json_is_null(json_object_get(a->advice, "starttls")));
		assert_true(json_is_null(json_object_get(a->advice, "tls_min")));
	}
	if (a->e2e < 0)
		assert_true(json_is_null(json_object_get(a->advice, "e2e")));
	return j;
}

static void test_resolve_pgp(void **state)
{
	struct email_answer a;
	const uint64_t *e = T.e;
	json_t *j;

	(void)state;
	/* the newest statement per (key, certifier): CA1's older one is superseded */
	j = resolve_email("alice@example.com", "alice@example.com", &a);
	expect_set("resolve alice pgp", a.pgp, a.num_pgp,
		   WANT(e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW]), 3);
	assert_int_equal(a.num_smime, 0);
	assert_true(json_is_true(json_object_get(a.advice, "pgp")));
	assert_int_equal(a.smtp, -1);
	assert_int_equal(a.e2e, -1);
	json_decref(j);
	j = resolve_email("Alice@EXAMPLE.com", "alice@example.com", &a);
	expect_set("resolve Alice pgp", a.pgp, a.num_pgp,
		   WANT(e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW]), 3);
	json_decref(j);
	j = resolve_email("bob@example.co", "bob@example.co", &a);
	expect_set("resolve bob pgp", a.pgp, a.num_pgp, WANT(e[E_B_CA1]), 1);
	json_decref(j);
	j = resolve_email("dave@xn--bcher-kva.example", "dave@xn--bcher-kva.example", &a);
	expect_set("resolve dave pgp", a.pgp, a.num_pgp, WANT(e[E_D_CA1]), 1);
	json_decref(j);
	/* decoys */
	j = resolve_email("alice@example.co", "alice@example.co", &a);
	assert_int_equal(a.num_pgp, 0);
	assert_true(json_is_false(json_object_get(a.advice, "pgp")));
	json_decref(j);
	j = resolve_email("carol@example.com", "carol@example.com", &a);
	assert_int_equal(a.num_pgp, 0);
	json_decref(j);
}

/* --- policies ----------------------------------------------------------------- */

/* resolve_domain: resolve?domain=|d|&protocol=|proto|; returns the policy's
 * index or -1 (policy and advice null); |advice| gets the advice (borrowed
 * from *|j|, which the caller decrefs). */
static int64_t resolve_domain(const char *d, const char *proto, const char *want_domain,
			      json_t **j, json_t **advice)
{
	char q[300];
	struct sth s;
	json_t *p;

	snprintf(q, sizeof(q), "domain=%s&protocol=%s", d, proto);
	*j = resolve(q, &s);
	assert_string_equal(json_string_value(json_object_get(*j, "domain")), want_domain);
	assert_string_equal(json_string_value(json_object_get(*j, "protocol")), proto);
	p = json_object_get(*j, "policy");
	*advice = json_object_get(*j, "advice");
	assert_non_null(p);
	assert_non_null(*advice);
	if (json_is_null(p)) {
		assert_true(json_is_null(*advice));
		return -1;
	}
	assert_true(json_is_object(*advice));
	return (int64_t)check_entry(p, &s, "policy", 0);
}

/* expect_smtp: the effective smtp policy of |d| is leaf |want| with this
 * serial, mode and tls.min, or none (|want| -1). */
static void expect_smtp(const char *d, int64_t want, uint64_t serial, const char *mode,
			const char *tls_min)
{
	json_t *j, *adv;
	int64_t got = resolve_domain(d, "smtp", d, &j, &adv);
	char mx[128];

	if (got != want)
		fprintf(stderr, "resolve %s smtp: got %lld, want %lld\n", d, (long long)got,
			(long long)want);
	assert_int_equal(got, want);
	if (want >= 0) {
		assert_string_equal(json_string_value(json_object_get(adv, "mode")), mode);
		assert_int_equal(json_integer_value(json_object_get(adv, "serial")), serial);
		assert_string_equal(
			json_string_value(json_object_get(json_object_get(adv, "tls"), "min")),
			tls_min);
		assert_string_equal(
			json_string_value(json_object_get(json_object_get(adv, "tls"), "transport")),
			"starttls");
		snprintf(mx, sizeof(mx), "mx%llu.%s", (unsigned long long)serial, d);
		assert_int_equal(json_array_size(json_object_get(adv, "mx")), 1);
		assert_string_equal(json_string_value(json_array_get(json_object_get(adv, "mx"), 0)),
				    mx);
	}
	json_decref(j);
}

static void test_policy_current(void **state)
{
	char *p;
	json_t *j, *adv;
	struct email_answer a;

	(void)state;
	T.sig_ex = T.sig_co = T.sig_sub = T.sig_alice = UINT64_MAX;
	p = smtp_payload("example.com", 1, "enforce", "1.2");
	T.p_ex[0] = submit_policy(T.s_ex, T.ica, "tls", p, &T.sig_ex);
	free(p);
	p = smtp_payload("example.co", 1, "enforce", "1.3");
	T.p_co = submit_policy(T.s_co, T.ica, "tls", p, &T.sig_co);
	free(p);
	p = smtp_payload("sub.example.com", 7, "testing", "1.2");
	T.p_sub = submit_policy(T.s_sub, T.ica, "tls", p, &T.sig_sub);
	free(p);

	expect_smtp("example.com", (int64_t)T.p_ex[0], 1, "enforce", "1.2");
	expect_smtp("example.co", (int64_t)T.p_co, 1, "enforce", "1.3");
	expect_smtp("sub.example.com", (int64_t)T.p_sub, 7, "testing", "1.2");
	/* the query is normalized */
	assert_int_equal(resolve_domain("EXAMPLE.Com.", "smtp", "example.com", &j, &adv),
			 (int64_t)T.p_ex[0]);
	json_decref(j);
	/* nothing for another protocol, a name below or beside */
	assert_int_equal(resolve_domain("example.com", "https", "example.com", &j, &adv), -1);
	json_decref(j);
	assert_int_equal(resolve_domain("example.com", "email-e2e", "example.com", &j, &adv), -1);
	json_decref(j);
	assert_int_equal(resolve_domain("www.example.com", "smtp", "www.example.com", &j, &adv), -1);
	json_decref(j);
	assert_int_equal(resolve_domain("examples.com", "smtp", "examples.com", &j, &adv), -1);
	json_decref(j);
	/* an address at the domain gets the domain's smtp policy */
	j = resolve_email("alice@example.com", "alice@example.com", &a);
	assert_int_equal(a.smtp, (int64_t)T.p_ex[0]);
	assert_string_equal(json_string_value(json_object_get(a.advice, "starttls")), "enforce");
	assert_string_equal(json_string_value(json_object_get(a.advice, "tls_min")), "1.2");
	assert_int_equal(a.e2e, -1);
	json_decref(j);
	j = resolve_email("bob@example.co", "bob@example.co", &a);
	assert_int_equal(a.smtp, (int64_t)T.p_co);
	assert_string_equal(json_string_value(json_object_get(a.advice, "tls_min")), "1.3");
	json_decref(j);
	j = resolve_email("carol@sub.example.com", "carol@sub.example.com", &a);
	assert_int_equal(a.smtp, (int64_t)T.p_sub);
	assert_string_equal(json_string_value(json_object_get(a.advice, "starttls")), "testing");
	json_decref(j);
}

static void test_policy_superseded(void **state)
{
	char *p = smtp_payload("example.com", 2, "testing", "1.3");
	struct email_answer a;
	json_t *j;

	(void)state;
	/* the signer is logged already: only the policy is new */
	T.p_ex[1] = submit_policy(T.s_ex, T.ica, "tls", p, &T.sig_ex);
	free(p);
	expect_smtp("example.com", (int64_t)T.p_ex[1], 2, "testing", "1.3");
	j = resolve_email("alice@example.com", "alice@example.com", &a);
	assert_int_equal(a.smtp, (int64_t)T.p_ex[1]);
	assert_string_equal(json_string_value(json_object_get(a.advice, "starttls")), "testing");
	assert_string_equal(json_string_value(json_object_get(a.advice, "tls_min")), "1.3");
	json_decref(j);
	/* the decoys are untouched */
	expect_smtp("example.co", (int64_t)T.p_co, 1, "enforce", "1.3");
	expect_smtp("sub.example.com", (int64_t)T.p_sub, 7, "testing", "1.2");
}

static void test_policy_e2e(void **state)
{
	char p[1024];
	struct email_answer a;
	json_t *j, *want;
	json_error_t err;

	(void)state;
	snprintf(p, sizeof(p),
		 "{\"e2e\":{\"pgp\":\"prefer\",\"smime\":\"require\"},\"exp\":%lld,\"iat\":%lld,"
		 "\"mode\":\"enforce\",\"protocol\":\"email-e2e\",\"serial\":1,"
		 "\"subject\":{\"email\":\"alice@example.com\"},\"v\":1}",
		 (long long)(T.now + 30 * DAY), (long long)T.now);
	T.p_e2e = submit_policy(T.s_alice, T.sca, "smime", p, &T.sig_alice);
	want = json_loads("{\"pgp\":\"prefer\",\"smime\":\"require\"}", 0, &err);
	assert_non_null(want);

	j = resolve_email("alice@example.com", "alice@example.com", &a);
	assert_int_equal(a.e2e, (int64_t)T.p_e2e);
	assert_true(json_equal(json_object_get(a.advice, "e2e"), want));
	assert_int_equal(a.smtp, (int64_t)T.p_ex[1]);
	/* the policy's S/MIME signer is a valid certificate for the address */
	expect_set("resolve alice smime", a.smime, a.num_smime, WANT(T.sig_alice), 1);
	assert_true(json_is_true(json_object_get(a.advice, "smime")));
	expect_set("resolve alice pgp", a.pgp, a.num_pgp,
		   WANT(T.e[E_A1_CA2], T.e[E_A2_CA1], T.e[E_A1_CA1_NEW]), 3);
	json_decref(j);
	j = resolve_email("ALICE@example.COM", "alice@example.com", &a);
	assert_int_equal(a.e2e, (int64_t)T.p_e2e);
	json_decref(j);
	/* not someone else's, not a domain's */
	j = resolve_email("bob@example.co", "bob@example.co", &a);
	assert_int_equal(a.e2e, -1);
	assert_int_equal(a.num_smime, 0);
	json_decref(j);
	j = resolve_email("alice@example.co", "alice@example.co", &a);
	assert_int_equal(a.e2e, -1);
	json_decref(j);
	j = resolve_email("alice@sub.example.com", "alice@sub.example.com", &a);
	assert_int_equal(a.e2e, -1);
	assert_int_equal(a.smtp, (int64_t)T.p_sub);
	json_decref(j);
	json_decref(want);
}

static void test_policy_withdrawn(void **state)
{
	char *p = smtp_payload("example.com", 3, "none", NULL);
	struct email_answer a;
	json_t *j;

	(void)state;
	T.p_ex[2] = submit_policy(T.s_ex, T.ica, "tls", p, &T.sig_ex);
	free(p);
	/* withdrawn: no effective policy, serial 2 does not come back */
	expect_smtp("example.com", -1, 0, NULL, NULL);
	j = resolve_email("alice@example.com", "alice@example.com", &a);
	assert_int_equal(a.smtp, -1);
	assert_int_equal(a.e2e, (int64_t)T.p_e2e);
	assert_true(json_is_object(json_object_get(a.advice, "e2e")));
	json_decref(j);
	/* a stale serial cannot revive it */
	{
		char *req, *jws;
		int st;
		p = smtp_payload("example.com", 2, "enforce", "1.2");
		jws = mnfix_x5c_jws(T.s_ex, T.ica, p);
		req = mnfix_policy_request(jws);
		j = post_json("/mn/v1/add-policy", req, &st);
		assert_int_equal(st, 400);
		assert_string_equal(json_string_value(json_object_get(j, "error_code")),
				    "staleSerial");
		json_decref(j);
		free(req);
		free(jws);
		free(p);
		assert_int_equal(tree_size(), T.num);
	}
	expect_smtp("example.com", -1, 0, NULL, NULL);
	/* the names below and beside keep theirs */
	expect_smtp("sub.example.com", (int64_t)T.p_sub, 7, "testing", "1.2");
	expect_smtp("example.co", (int64_t)T.p_co, 1, "enforce", "1.3");
}

/* lookup is history: every serial, withdrawn or not */
static void test_lookup_policies(void **state)
{
	const uint64_t *e = T.e, *p = T.p_ex;

	(void)state;
	/* an email subject's policy is indexed under its domain too (api/mn.c
	 * adds the address's domain key, like S/MIME and PGP leaves) */
	EXPECT("domain=example.com&types=policy", p[0], p[1], T.p_e2e, p[2]);
	EXPECT("domain=example.com&types=tls", T.sig_ex);
	EXPECT("domain=example.com&types=smime", T.sig_alice);
	EXPECT("domain=example.com&types=tls,policy", T.sig_ex, p[0], p[1], T.p_e2e, p[2]);
	EXPECT("domain=example.com", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW],
	       T.sig_ex, p[0], p[1], T.sig_alice, T.p_e2e, p[2]);
	EXPECT("domain=example.com&subdomains=1&types=policy", p[0], T.p_sub, p[1], T.p_e2e, p[2]);
	EXPECT("domain=example.com&subdomains=1&types=tls", T.sig_ex, T.sig_sub);
	EXPECT("domain=example.co&types=policy", T.p_co);
	EXPECT("domain=example.co", e[E_B_CA1], T.sig_co, T.p_co);
	EXPECT("domain=sub.example.com&types=policy", T.p_sub);
	EXPECT_NONE("domain=examples.com&types=policy");
	EXPECT_NONE("domain=www.example.com");
	/* by address: endorsements (with openings), the S/MIME signer, the policy */
	EXPECT("email=alice@example.com", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1],
	       e[E_A1_CA1_NEW], T.sig_alice, T.p_e2e);
	EXPECT("email=alice@example.com&types=policy", T.p_e2e);
	EXPECT("email=alice@example.com&types=smime,policy", T.sig_alice, T.p_e2e);
	EXPECT_NONE("email=bob@example.co&types=policy");
	/* fingerprint lookups see no policies */
	{
		char q[128];
		snprintf(q, sizeof(q), "pgp=%s", T.a1);
		EXPECT(q, e[E_A1_CA1], e[E_A1_CA2], e[E_A1_CA1_NEW]);
	}
}

/* Paging: every item once, in order, at every page size, also while the log
 * grows between pages. */
static void test_paging(void **state)
{
	const uint64_t *e = T.e, *p = T.p_ex;
	uint64_t all[16] = {e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW], T.sig_ex,
			    p[0],        p[1],        T.sig_alice, T.p_e2e,          p[2]};
	size_t n = 10;
	uint64_t page[MAX_LEAVES], got[MAX_LEAVES];
	char cursor[32], q[128];
	size_t total = 0, k;

	(void)state;
	for (unsigned lim = 1; lim <= 11; lim++)
		expect_lookup_paged("domain=example.com", lim, all, n);
	expect_lookup_paged("domain=example.com&subdomains=1&types=policy", 2,
			    WANT(p[0], T.p_sub, p[1], T.p_e2e, p[2]), 5);
	expect_lookup_paged("email=alice@example.com", 4,
			    WANT(e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1], e[E_A1_CA1_NEW],
				 T.sig_alice, T.p_e2e),
			    6);
	/* a cursor past everything: nothing */
	snprintf(q, sizeof(q), "domain=example.com&cursor=%llu", (unsigned long long)T.num);
	assert_int_equal(lookup_page(q, page, MAX_LEAVES, cursor, sizeof(cursor)), 0);
	assert_int_equal(lookup_page("domain=example.com&cursor=18446744073709551615", page,
				     MAX_LEAVES, cursor, sizeof(cursor)), 0);

	/* first page, then a new certificate for example.com, then the rest */
	k = lookup_page("domain=example.com&limit=3", page, MAX_LEAVES, cursor, sizeof(cursor));
	assert_int_equal(k, 3);
	memcpy(got, page, k * sizeof(page[0]));
	total = k;
	{
		const struct pki_cert *c[2] = {T.extra, T.ica};
		json_t *arr = json_array(), *o = json_object();
		char *body;
		int st;
		for (size_t i = 0; i < 2; i++) {
			char *b = malloc(mn_b64_encoded_len(c[i]->der_len) + 1);
			assert_non_null(b);
			mn_b64_encode(b, c[i]->der, c[i]->der_len);
			json_array_append_new(arr, json_string(b));
			free(b);
		}
		json_object_set_new(o, "chain", arr);
		body = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		json_decref(post_json("/ct/v1/add-chain", body, &st));
		assert_int_equal(st, 200);
		free(body);
		T.leaf[T.num].cls = "tls";
		T.leaf[T.num].type = CT_X509_ENTRY;
		T.leaf[T.num].cert = T.extra;
		all[n++] = T.num++;
		map_leaf();
		assert_int_equal(tree_size(), T.num);
	}
	while (cursor[0]) {
		snprintf(q, sizeof(q), "domain=example.com&limit=3&cursor=%s", cursor);
		k = lookup_page(q, page, MAX_LEAVES, cursor, sizeof(cursor));
		assert_true(k <= 3);
		assert_true(total + k <= MAX_LEAVES);
		memcpy(got + total, page, k * sizeof(page[0]));
		total += k;
	}
	assert_int_equal(total, n);
	assert_memory_equal(got, all, n * sizeof(all[0]));
}

/* --- bad parameters ------------------------------------------------------------ */

static void expect_400(const char *target)
{
	json_t *j = get_json(target, 400);
	const char *m = json_string_value(json_object_get(j, "error_message"));

	assert_non_null(m);
	assert_true(strlen(m) > 0);
	assert_non_null(json_string_value(json_object_get(j, "error_code")));
	json_decref(j);
}

static void test_resolve_bad_params(void **state)
{
	static const char *const bad[] = {
		"email=",
		"domain=&protocol=smtp",
		"domain=example.com&protocol=",
		"protocol=smtp",
		"email=alice@example.com&domain=example.com&protocol=smtp",
		"email=alice@example.com&email=bob@example.com",
		"domain=example.com&domain=example.co&protocol=smtp",
		"domain=example.com&protocol=smtp&protocol=imap",
		"domain=example.com&protocol=SMTP",
		"domain=example.com&protocol=smtp%00",
		"domain=com&protocol=smtp",
		"domain=192.0.2.1&protocol=smtp",
		"domain=*.example.com&protocol=smtp",
		"domain=_dmarc.example.com&protocol=smtp",
		"domain=-example.com&protocol=smtp",
		"domain=example..com&protocol=smtp",
		"domain=exa%20mple.com&protocol=smtp",
		"domain=b%C3%BCcher.example&protocol=smtp",
		"domain=alice@example.com&protocol=smtp",
		"email=alice",
		"email=@example.com",
		"email=alice@",
		"email=alice@@example.com",
		"email=al%20ice@example.com",
		"email=alice%00@example.com",
		"email=alice@exa_mple.com",
		"email=alice@b%C3%BCcher.example",
		"email=%C3%A4lice@example.com",
	};
	char q[1200], name[600];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(q, sizeof(q), "/mn/v1/resolve?%s", bad[i]);
		expect_400(q);
	}
	/* too long: a 64-character label, a 254-character name, a 65-character
	 * local part, a 255-character address */
	memset(name, 'a', 64);
	snprintf(name + 64, sizeof(name) - 64, ".example.com");
	snprintf(q, sizeof(q), "/mn/v1/resolve?domain=%s&protocol=smtp", name);
	expect_400(q);
	for (size_t i = 0; i < 4; i++) {
		memset(name + 62 * i, 'a', 61);
		name[62 * i + 61] = '.';
	}
	snprintf(name + 248, sizeof(name) - 248, "abcdef"); /* 254 characters */
	snprintf(q, sizeof(q), "/mn/v1/resolve?domain=%s&protocol=smtp", name);
	expect_400(q);
	name[253] = 0; /* 253: valid, nothing there */
	{
		json_t *j, *adv;
		assert_int_equal(resolve_domain(name, "smtp", name, &j, &adv), -1);
		json_decref(j);
	}
	memset(name, 'a', 65);
	snprintf(name + 65, sizeof(name) - 65, "@example.com");
	snprintf(q, sizeof(q), "/mn/v1/resolve?email=%s", name);
	expect_400(q);
	memset(name, 'a', 64);
	name[64] = '@';
	for (size_t i = 0; i < 3; i++) {
		memset(name + 65 + 62 * i, 'b', 61);
		name[65 + 62 * i + 61] = '.';
	}
	snprintf(name + 251, sizeof(name) - 251, "com"); /* 254 characters: valid */
	snprintf(q, sizeof(q), "/mn/v1/resolve?email=%s", name);
	json_decref(get_json(q, 200));
	snprintf(name + 251, sizeof(name) - 251, "comx"); /* 255 */
	snprintf(q, sizeof(q), "/mn/v1/resolve?email=%s", name);
	expect_400(q);
}

static void test_lookup_bad_params(void **state)
{
	char fpr41[64], q[1200], name[600];
	const char *const bad[] = {
		"email=",
		"pgp=",
		"subdomains=1",
		"types=pgp",
		"limit=1",
		"domain=example.com&email=alice@example.com&pgp=0000000000000000000000000000000000000000",
		"domain=example.com&pgp=0000000000000000000000000000000000000000",
		"email=alice@example.com&pgp=0000000000000000000000000000000000000000",
		"domain=example.com&domain=example.co",
		"email=alice@example.com&email=bob@example.co",
		"pgp=0x00000000000000000000000000000000000000",
		"pgp=000000000000000000000000000000000000000",
		"pgp=00000000000000000000000000000000000000000",
		"pgp=000000000000000000000000000000000000000g",
		"pgp=00000000%200000000000000000000000000000000",
		"pgp=0000000000000000000000000000000000000000000000000000000000000000" "0",
		"pgp=0000000000000000000000000000000000000000&subdomains=1",
		"domain=*.example.com",
		"domain=_dmarc.example.com",
		"domain=192.0.2.1",
		"domain=example.com&types=tls,,pgp",
		"domain=example.com&types=tls,",
		"domain=example.com&types=,tls",
		"domain=example.com&types=TLS",
		"domain=example.com&types=x509",
		"domain=example.com&subdomains=",
		"domain=example.com&subdomains=true",
		"domain=example.com&subdomains=01",
		"domain=example.com&limit=",
		"domain=example.com&limit=-1",
		"domain=example.com&limit=18446744073709551616",
		"domain=example.com&cursor=",
		"domain=example.com&cursor=-1",
		"domain=example.com&cursor=18446744073709551616",
		"domain=example.com&cursor=1x",
		"email=alice@example.com&types=pgp&types=smime",
		"email=alice",
		"email=alice@exa_mple.com",
		"email=%C3%A4lice@example.com",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(q, sizeof(q), "/mn/v1/lookup?%s", bad[i]);
		expect_400(q);
	}
	/* a v6 (64 hex digit) fingerprint is a valid query */
	EXPECT_NONE("pgp=0000000000000000000000000000000000000000000000000000000000000000");
	/* 41 hex digits of a real fingerprint */
	snprintf(fpr41, sizeof(fpr41), "pgp=%s0", T.a1);
	snprintf(q, sizeof(q), "/mn/v1/lookup?%s", fpr41);
	expect_400(q);
	/* a 64-character label, a 65-character local part */
	memset(name, 'a', 64);
	snprintf(name + 64, sizeof(name) - 64, ".example.com");
	snprintf(q, sizeof(q), "/mn/v1/lookup?domain=%s", name);
	expect_400(q);
	memset(name, 'a', 65);
	snprintf(name + 65, sizeof(name) - 65, "@example.com");
	snprintf(q, sizeof(q), "/mn/v1/lookup?email=%s", name);
	expect_400(q);
}

/* CA1 revokes its certification of A1: the revocation is logged (as a new
 * statement, sig_type 0x30), lookups list it with the history, and resolve no
 * longer advises the (A1, CA1) pair. Runs last: it adds a leaf. */
static void test_pgp_revocation(void **state)
{
	const uint64_t *e = T.e;
	struct email_answer a;
	char *req;
	json_t *j, *j2;
	uint64_t rev;
	int st;

	(void)state;
	rev = (uint64_t)submit_pgp(&T.x_a1_rev, UID_A1, T.ca1, T.a1);
	/* the same revocation again is a duplicate: nothing new is logged */
	req = mnfix_pgp_request(T.x_a1_rev.p, T.x_a1_rev.len, UID_A1, T.ca1);
	j = post_json("/mn/v1/add-pgp", req, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	free(req);
	assert_int_equal(tree_size(), T.num);
	/* CA1's revocation says nothing about CA2's statement, which is already
	 * logged: the same key with CA2 as signer is a duplicate */
	req = mnfix_pgp_request(T.x_a1_rev.p, T.x_a1_rev.len, UID_A1, T.ca2);
	j = post_json("/mn/v1/add-pgp", req, &st);
	assert_int_equal(st, 200);
	free(req);
	req = mnfix_pgp_request(T.x_a1.p, T.x_a1.len, UID_A1, T.ca2);
	j2 = post_json("/mn/v1/add-pgp", req, &st);
	assert_int_equal(st, 200);
	/* the original SCT: its timestamp and leaf_index (a leaf_index log signs
	 * a duplicate's again, so only the ECDSA signature bytes differ) */
	json_object_del(j, "signature");
	json_object_del(j2, "signature");
	assert_true(json_equal(j, j2));
	json_decref(j);
	json_decref(j2);
	free(req);
	assert_int_equal(tree_size(), T.num);
	/* history: every statement, the revocation included */
	EXPECT("email=alice@example.com&types=pgp", e[E_A1_CA1], e[E_A1_CA2], e[E_A2_CA1],
	       e[E_A1_CA1_NEW], rev);
	/* resolve: the (A1, CA1) pair's newest statement is a revocation */
	j = resolve_email("alice@example.com", "alice@example.com", &a);
	expect_set("resolve alice pgp after revocation", a.pgp, a.num_pgp,
		   WANT(e[E_A1_CA2], e[E_A2_CA1]), 2);
	assert_true(json_is_true(json_object_get(a.advice, "pgp")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgp_submit),
		cmocka_unit_test(test_lookup_email_pgp),
		cmocka_unit_test(test_lookup_domain_pgp),
		cmocka_unit_test(test_lookup_fpr),
		cmocka_unit_test(test_resolve_pgp),
		cmocka_unit_test(test_policy_current),
		cmocka_unit_test(test_policy_superseded),
		cmocka_unit_test(test_policy_e2e),
		cmocka_unit_test(test_policy_withdrawn),
		cmocka_unit_test(test_lookup_policies),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_resolve_bad_params),
		cmocka_unit_test(test_lookup_bad_params),
		cmocka_unit_test(test_pgp_revocation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
