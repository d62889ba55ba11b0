/* test_mn_submit.c: the metanotary submission endpoints over HTTP (issue 5):
 * POST /mn/v1/add-pgp, GET /mn/v1/get-certifiers, POST /mn/v1/add-policy.
 *
 * logd runs as a child process on 127.0.0.1 with a TLS root set, an S/MIME
 * root set and an OpenPGP certifier keyring. OpenPGP keys and certifications
 * are made at test time by the gpg command line; X.509 signers by tests/lib/pki;
 * JWS are built here with the OpenSSL API. Every SCT is checked with OpenSSL
 * directly against the log key over the RFC 6962 section 3.2 input built here
 * byte by byte (and with ct_verify_sct), every accepted leaf is fetched back with
 * get-entries, rebuilt byte by byte, and proven from get-sth with
 * get-proof-by-hash. Every rejection is a 400 with a reason and no new leaf; at
 * the end the tree holds exactly the leaves accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"
#include "merkle/merkle.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define ALICE "Alice <alice@example.com>"
#define DAY 86400
#define MAX_ACC 64

struct buf {
	uint8_t *p;
	size_t len;
};

static struct {
	char dir[64], home[96];
	char alice[41], ca[41], weak[41], eve[41];
	struct buf plain, ca_cert, eve_cert, sha1, secret;
	char certifiers[128], tls_roots[128], smime_roots[128];
	struct logd_proc logd;
	struct ct_verifier *v;
	struct merkle_hasher *h;
	EVP_PKEY *logkey;
	struct pki_cert *root, *ica, *leaf, *leaf2, *other, *expired, *rsa, *sroot, *sca, *email;
	int64_t now;
	/* every new leaf an accepted submission made */
	struct {
		uint8_t lh[32];
		uint64_t index;
	} acc[MAX_ACC];
	size_t num_acc;
	/* the first policy: its JWS and answer */
	char *jws1;
	json_t *ans1;
	uint64_t signer_index;
} T;

/* --- files, gpg ---------------------------------------------------------- */

static int gpg(const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --quiet --no-tty --homedir %s --pinentry-mode loopback "
		 "--passphrase '' %s >>%s/gpg.log 2>&1",
		 T.home, args, T.dir);
	return system(cmd);
}

static int read_all(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t tmp[65536];
	size_t n;

	if (f == NULL)
		return -1;
	out->p = NULL;
	out->len = 0;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		uint8_t *p = realloc(out->p, out->len + n);
		if (p == NULL) {
			fclose(f);
			return -1;
		}
		out->p = p;
		memcpy(p + out->len, tmp, n);
		out->len += n;
	}
	fclose(f);
	return out->len ? 0 : -1;
}

static int write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* export runs gpg --output FILE |what| and reads FILE back into |out|. */
static int export(const char *what, struct buf *out)
{
	char args[512], path[128];

	snprintf(path, sizeof(path), "%s/export.out", T.dir);
	unlink(path);
	snprintf(args, sizeof(args), "--output %s %s", path, what);
	if (gpg(args) != 0)
		return -1;
	return read_all(path, out);
}

static int fpr_of(const char *who, char out[41])
{
	char cmd[512], line[512];
	FILE *p;
	int found = 0;

	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --no-tty --homedir %s --with-colons --list-keys '%s' 2>/dev/null",
		 T.home, who);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL)
		if (!found && strncmp(line, "fpr:::::::::", 12) == 0 && strlen(line) >= 52) {
			memcpy(out, line + 12, 40);
			out[40] = '\0';
			found = 1;
		}
	pclose(p);
	return found ? 0 : -1;
}

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int make_pgp_fixtures(void)
{
	char a[512], pol[128];

	snprintf(T.home, sizeof(T.home), "%s/g", T.dir);
	if (mkdir(T.home, 0700) != 0)
		return -1;
	if (gpg("--quick-gen-key '" ALICE "' ed25519 sign 1y") ||
	    gpg("--quick-gen-key 'Cert Authority <ca@certifier.example>' ed25519 sign 1y") ||
	    gpg("--quick-gen-key 'Weak CA <weak@certifier.example>' rsa2048 sign 1y") ||
	    gpg("--quick-gen-key 'Eve <eve@evil.example>' ed25519 sign 1y") ||
	    fpr_of("alice@example.com", T.alice) || fpr_of("ca@certifier.example", T.ca) ||
	    fpr_of("weak@certifier.example", T.weak) || fpr_of("eve@evil.example", T.eve))
		return -1;
	snprintf(a, sizeof(a), "--quick-add-key %s cv25519 encr 1y", T.alice);
	if (gpg(a))
		return -1;
	snprintf(a, sizeof(a), "--export %s", T.alice);
	if (export(a, &T.plain))
		return -1;
	snprintf(a, sizeof(a), "--export-secret-keys %s", T.alice);
	if (export(a, &T.secret))
		return -1;
	/* the endorsement: the certifier certifies Alice's user ID */
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", T.ca, T.alice);
	if (gpg(a))
		return -1;
	snprintf(a, sizeof(a), "--export %s", T.alice);
	if (export(a, &T.ca_cert))
		return -1;
	/* Eve (not configured) certifies it too */
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", T.eve, T.alice);
	if (gpg(a))
		return -1;
	snprintf(a, sizeof(a), "--export %s", T.alice);
	if (export(a, &T.eve_cert))
		return -1;
	/* a SHA-1 certification by a configured certifier */
	snprintf(a, sizeof(a),
		 "-u %s --cert-digest-algo SHA1 --allow-weak-digest-algos "
		 "--allow-weak-key-signatures --quick-sign-key %s",
		 T.weak, T.alice);
	if (gpg(a))
		return -1;
	snprintf(a, sizeof(a), "--export %s", T.alice);
	if (export(a, &T.sha1))
		return -1;
	/* the certifier keyring: CA (scoped to example.com) and Weak CA */
	snprintf(T.certifiers, sizeof(T.certifiers), "%s/certifiers.pgp", T.dir);
	snprintf(a, sizeof(a), "--output %s --export %s %s", T.certifiers, T.ca, T.weak);
	if (gpg(a))
		return -1;
	snprintf(a, sizeof(a), "%s.policy", T.certifiers);
	snprintf(pol, sizeof(pol), "# test certifiers\n%s scope=example.com\n", T.ca);
	return write_file(a, pol, strlen(pol));
}

static int make_pki(void)
{
	static const char *const ex[] = {"example.com", "www.example.com"};
	static const char *const oth[] = {"other.com"};
	static const char *const alice[] = {"alice@example.com"};
	const struct pki_cert *rs[1];
	int64_t now = T.now, nb = now - DAY, na = now + 90 * DAY;

	T.root = pki_root("MN Submit Root", 0);
	T.ica = pki_issue(T.root, "MN Submit CA", NULL, 0, PKI_CA, nb, now + 365 * DAY);
	T.sroot = pki_root("MN Submit S/MIME Root", 0);
	T.sca = pki_issue(T.sroot, "MN Submit S/MIME CA", NULL, 0, PKI_CA, nb, now + 365 * DAY);
	if (T.root == NULL || T.ica == NULL || T.sroot == NULL || T.sca == NULL)
		return -1;
	T.leaf = pki_issue(T.ica, "example.com", ex, 2, 0, nb, na);
	T.leaf2 = pki_issue(T.ica, "example.com", ex, 2, 0, nb, na);
	T.other = pki_issue(T.ica, "other.com", oth, 1, 0, nb, na);
	T.expired = pki_issue(T.ica, "example.com", ex, 2, 0, now - 30 * DAY, now - DAY);
	T.rsa = pki_issue(T.ica, "example.com", ex, 2, PKI_RSA, nb, na);
	T.email = pki_issue(T.sca, "alice", alice, 1, PKI_EMAIL, nb, na);
	if (T.leaf == NULL || T.leaf2 == NULL || T.other == NULL || T.expired == NULL || T.rsa == NULL ||
	    T.email == NULL)
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
	const uint8_t *p;

	(void)state;
	T.now = pki_now();
	strcpy(T.dir, "/tmp/mn-mnsub-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	if (make_pgp_fixtures() != 0) {
		fprintf(stderr, "gpg fixtures failed, see %s/gpg.log\n", T.dir);
		return -1;
	}
	if (make_pki() != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", T.dir);
	{
		const char *args[] = {"--no-map", "--data", data, "--tls-roots", T.tls_roots,
				      "--smime-roots", T.smime_roots, "--certifiers",
				      T.certifiers, "--threads", "2", NULL};
		if (logd_start(&T.logd, args) != 0)
			return -1;
	}
	T.v = ct_verifier_new(T.logd.spki, T.logd.spki_len);
	T.h = merkle_hasher_new();
	p = T.logd.spki;
	T.logkey = d2i_PUBKEY(NULL, &p, (long)T.logd.spki_len);
	return T.v != NULL && T.h != NULL && T.logkey != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];
	int st;

	(void)state;
	/* SIGTERM is a graceful stop: exit status 0 */
	st = logd_stop(&T.logd, SIGTERM);
	ct_verifier_free(T.v);
	merkle_hasher_free(T.h);
	EVP_PKEY_free(T.logkey);
	{
		struct pki_cert *all[] = {T.root, T.ica, T.leaf, T.leaf2, T.other, T.expired,
					  T.rsa, T.sroot, T.sca, T.email};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			pki_free(all[i]);
	}
	{
		struct buf *all[] = {&T.plain, &T.ca_cert, &T.eve_cert, &T.sha1, &T.secret};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			free(all[i]->p);
	}
	free(T.jws1);
	json_decref(T.ans1);
	snprintf(cmd, sizeof(cmd), "gpgconf --homedir %s --kill gpg-agent >/dev/null 2>&1",
		 T.home);
	if (system(cmd) != 0)
		fprintf(stderr, "gpgconf --kill failed\n");
	rm_rf(T.dir);
	if (st != 0)
		fprintf(stderr, "logd exited with %d\n", st);
	return st == 0 ? 0 : -1;
}

/* --- HTTP and log helpers ------------------------------------------------- */

static json_t *get_json_port(uint16_t port, const char *target, int want_status)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != want_status)
		fprintf(stderr, "GET %s: %d %s\n", target, r.status, (char *)r.body);
	assert_int_equal(r.status, want_status);
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static json_t *get_json(const char *target, int want_status)
{
	return get_json_port(T.logd.port, target, want_status);
}

/* post_json posts |body| to |path| and returns the parsed answer and status. */
static json_t *post_json_port(uint16_t port, const char *path, const char *body,
			      size_t len, int *status)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(port, "POST", path, "Content-Type: application/json\r\n",
				 body, len, &r), 0);
	*status = r.status;
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	if (j == NULL)
		fprintf(stderr, "POST %s: %d, not JSON: %s\n", path, r.status, (char *)r.body);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static json_t *post_json(const char *path, const char *body, int *status)
{
	return post_json_port(T.logd.port, path, body, strlen(body), status);
}

/* post_ok posts and requires 200. */
static json_t *post_ok(const char *path, const char *body)
{
	int st;
	json_t *j = post_json(path, body, &st);
	if (st != 200) {
		char *s = json_dumps(j, JSON_COMPACT);
		fprintf(stderr, "POST %s: %d %s\n", path, st, s);
		free(s);
	}
	assert_int_equal(st, 200);
	return j;
}

static uint8_t *b64field(json_t *j, const char *name, size_t *len)
{
	json_t *f = json_object_get(j, name);
	uint8_t *out;

	assert_true(json_is_string(f));
	assert_int_equal(mn_b64_decode(&out, len, json_string_value(f), json_string_length(f),
				       1 << 24), 0);
	return out;
}

struct sth {
	uint64_t size, ts;
	uint8_t root[32];
};

static struct sth get_sth(void)
{
	json_t *j = get_json("/ct/v1/get-sth", 200);
	struct sth s;
	struct ct_sig sig;
	struct cbs cbs;
	uint8_t *root, *sigb;
	size_t rl, sl;

	s.size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	s.ts = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	root = b64field(j, "sha256_root_hash", &rl);
	sigb = b64field(j, "tree_head_signature", &sl);
	assert_int_equal(rl, 32);
	memcpy(s.root, root, 32);
	cbs_init(&cbs, sigb, sl);
	assert_true(ct_parse_sig(&sig, &cbs));
	assert_int_equal(cbs_len(&cbs), 0);
	assert_true(ct_verify_sth(T.v, &sig, s.ts, s.size, s.root));
	free(root);
	free(sigb);
	json_decref(j);
	return s;
}

static void put_u(uint8_t **p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

/* signed_input builds, byte by byte, the RFC 6962 section 3.2 digitally-signed
 * struct of an SCT over an entry of |type| whose signed_entry is opaque
 * <1..2^24-1> (x509_entry's ASN.1Cert and the metanotary bodies are all framed
 * that way), with the extensions of a new log: the static-ct-api leaf_index
 * |index| (type 0, a 2-byte length of 5, the 5-byte index; 8 bytes behind
 * their own 2-byte length). For these entry types it is also, byte for
 * byte, the section 3.4 MerkleTreeLeaf: sct_version v1(0) and
 * signature_type certificate_timestamp(0) sit where Version v1(0) and
 * MerkleLeafType timestamped_entry(0) do. Returns a malloc'd buffer. */
static uint8_t *signed_input(uint64_t ts, uint16_t type, const uint8_t *body,
			     size_t body_len, uint64_t index, size_t *out_len)
{
	/* 1 + 1 + 8 + 2 + 3 + body + 2 + 8 */
	uint8_t *buf = malloc(body_len + 25), *p = buf;

	assert_non_null(buf);
	*p++ = 0; /* sct_version v1 / Version v1 */
	*p++ = 0; /* certificate_timestamp / timestamped_entry */
	put_u(&p, ts, 8);
	put_u(&p, type, 2);
	put_u(&p, body_len, 3);
	memcpy(p, body, body_len);
	p += body_len;
	put_u(&p, 8, 2); /* extensions<0..2^16-1> */
	put_u(&p, 0, 1); /* extension_type leaf_index(0) */
	put_u(&p, 5, 2); /* extension_data<0..2^16-1> */
	put_u(&p, index, 5); /* uint40 LeafIndex */
	*out_len = (size_t)(p - buf);
	assert_int_equal(*out_len, body_len + 25);
	return buf;
}

/* openssl_verify: |ds| is a DigitallySigned (RFC 5246 section 4.7) from the log;
 * checks it is sha256/ecdsa and verifies it over |msg| with OpenSSL directly. */
static int openssl_verify(const uint8_t *ds, size_t ds_len, const uint8_t *msg, size_t msg_len)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (ds_len < 4 || ds[0] != 4 || ds[1] != 3 || (size_t)(ds[2] << 8 | ds[3]) != ds_len - 4)
		return 0;
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, T.logkey) == 1 &&
	     EVP_DigestVerify(ctx, ds + 4, ds_len - 4, msg, msg_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* check_sct: |j| is an SCT in RFC 6962 section 4.1 JSON from a new log, so
 * with the leaf_index extension |index|. Verifies it over the section 3.2
 * input for (|type|, |body|, |index|) with OpenSSL and with ct_verify_sct,
 * checks that a changed body or index does not verify, and returns its
 * timestamp. */
static uint64_t check_sct(json_t *j, uint16_t type, const uint8_t *body, size_t body_len,
			  uint64_t index)
{
	uint8_t *id, *sig, *ext, *in, want_id[32];
	size_t idl, sigl, extl, inl;
	struct ct_sct sct;
	struct ct_entry e;
	struct cbs cbs;

	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "sct_version")), 0);
	id = b64field(j, "id", &idl);
	SHA256(T.logd.spki, T.logd.spki_len, want_id);
	assert_int_equal(idl, 32);
	assert_memory_equal(id, want_id, 32);
	ext = b64field(j, "extensions", &extl);
	assert_int_equal(extl, 8);
	sig = b64field(j, "signature", &sigl);
	memset(&sct, 0, sizeof(sct));
	sct.timestamp = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	assert_true(sct.timestamp > (uint64_t)(T.now - 60) * 1000);

	in = signed_input(sct.timestamp, type, body, body_len, index, &inl);
	/* the extensions as signed are the SCT's */
	assert_memory_equal(ext, in + inl - 8, 8);
	assert_true(openssl_verify(sig, sigl, in, inl));
	in[inl - 11] ^= 1; /* the last byte of the body */
	assert_false(openssl_verify(sig, sigl, in, inl));
	in[inl - 11] ^= 1;
	in[inl - 1] ^= 1; /* another leaf index */
	assert_false(openssl_verify(sig, sigl, in, inl));
	in[inl - 1] ^= 1;
	/* the other entry type over the same body does not verify either */
	in[10] ^= 0x80;
	assert_false(openssl_verify(sig, sigl, in, inl));
	free(in);

	memcpy(sct.log_id, id, 32);
	cbs_init(&cbs, sig, sigl);
	assert_true(ct_parse_sig(&sct.sig, &cbs));
	assert_int_equal(cbs_len(&cbs), 0);
	memset(&e, 0, sizeof(e));
	e.timestamp = sct.timestamp;
	e.entry_type = type;
	e.body = body;
	e.body_len = body_len;
	sct.extensions = ext;
	sct.extensions_len = extl;
	assert_true(ct_verify_sct(T.v, &sct, &e));
	free(id);
	free(sig);
	free(ext);
	return sct.timestamp;
}

/* same_sct: SCT objects |a| and |b| are the same but for their signature
 * bytes. A leaf_index log stores no SCT: it signs a duplicate's SCT again,
 * from the stored leaf (the same timestamp, leaf_index and signed bytes),
 * and ECDSA signatures are randomized. That the duplicate's signature
 * verifies is test_logd's test_duplicate. */
static int same_sct(const json_t *a, const json_t *b)
{
	json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
	int same;

	json_object_del(x, "signature");
	json_object_del(y, "signature");
	same = json_is_string(json_object_get(a, "signature")) &&
	       json_is_string(json_object_get(b, "signature")) && json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return same;
}

static void urlenc_b64(char *out, const uint8_t *data, size_t len)
{
	char tmp[128];
	mn_b64_encode(tmp, data, len);
	for (char *p = tmp; *p; p++) {
		if (*p == '+')
			out += sprintf(out, "%%2B");
		else if (*p == '/')
			out += sprintf(out, "%%2F");
		else if (*p == '=')
			out += sprintf(out, "%%3D");
		else
			*out++ = *p;
	}
	*out = 0;
}

/* check_inclusion proves leaf hash |lh| at |want_index| from |s|. */
static void check_inclusion(const uint8_t lh[32], uint64_t want_index, const struct sth *s)
{
	char target[256], enc[128];
	json_t *j, *path;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	size_t n;

	urlenc_b64(enc, lh, 32);
	snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%llu", enc,
		 (unsigned long long)s->size);
	j = get_json(target, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "leaf_index")), want_index);
	path = json_object_get(j, "audit_path");
	n = json_array_size(path);
	assert_true(n <= MERKLE_MAX_PROOF);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p;
		size_t l;
		json_t *e = json_array_get(path, i);
		assert_int_equal(mn_b64_decode(&p, &l, json_string_value(e), json_string_length(e),
					       32), 0);
		assert_int_equal(l, 32);
		memcpy(proof[i], p, 32);
		free(p);
	}
	assert_true(merkle_verify_inclusion(T.h, lh, want_index, s->size,
					    (const uint8_t(*)[32])proof, n, s->root));
	if (n > 0) {
		proof[n - 1][31] ^= 1;
		assert_false(merkle_verify_inclusion(T.h, lh, want_index, s->size,
						     (const uint8_t(*)[32])proof, n, s->root));
	}
	json_decref(j);
}

/* logged: leaf |index| (fetched with get-entries) must be an entry of |type|
 * whose body |sct| signs. The leaf is rebuilt byte by byte and compared, its
 * hash (SHA-256 of 0x00 || leaf, RFC 6962 section 2.1) is proven from a fresh
 * STH and recorded as accepted. Returns a malloc'd copy of the body. */
static uint8_t *logged(uint64_t index, json_t *sct, uint16_t type, size_t *out_len)
{
	char target[128];
	json_t *j, *ents;
	uint8_t *leaf, *extra, *body, *mine, lh[32], pre = 0;
	size_t ll, el, ml;
	struct ct_entry e;
	uint64_t ts;
	EVP_MD_CTX *md;

	snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=%llu",
		 (unsigned long long)index, (unsigned long long)index);
	j = get_json(target, 200);
	ents = json_object_get(j, "entries");
	assert_int_equal(json_array_size(ents), 1);
	leaf = b64field(json_array_get(ents, 0), "leaf_input", &ll);
	extra = b64field(json_array_get(ents, 0), "extra_data", &el);
	assert_true(ct_parse_leaf(&e, leaf, ll));
	assert_int_equal(e.entry_type, type);
	/* leaf i carries leaf_index i, and so does its SCT */
	assert_true(ct_extensions_match_index(e.extensions, e.extensions_len, index));
	assert_int_equal(e.extensions_len, 8);
	ts = check_sct(sct, type, e.body, e.body_len, index);
	assert_int_equal(e.timestamp, ts);
	/* the leaf is exactly the section 3.4 MerkleTreeLeaf of that entry */
	mine = signed_input(ts, type, e.body, e.body_len, index, &ml);
	assert_int_equal(ml, ll);
	assert_memory_equal(mine, leaf, ll);
	free(mine);
	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, &pre, 1), 1);
	assert_int_equal(EVP_DigestUpdate(md, leaf, ll), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, lh, NULL), 1);
	EVP_MD_CTX_free(md);
	{
		struct sth s = get_sth();
		assert_true(s.size > index);
		assert_true(s.ts >= ts);
		check_inclusion(lh, index, &s);
	}
	assert_true(T.num_acc < MAX_ACC);
	memcpy(T.acc[T.num_acc].lh, lh, 32);
	T.acc[T.num_acc].index = index;
	T.num_acc++;
	body = malloc(e.body_len);
	assert_non_null(body);
	memcpy(body, e.body, e.body_len);
	*out_len = e.body_len;
	free(leaf);
	free(extra);
	json_decref(j);
	return body;
}

/* expect_reject: POST |body| to |path| is a 400 whose error_message contains
 * |needle| (and error_code is |code| if not NULL), and the tree did not grow. */
static void expect_reject_port(uint16_t port, const char *path, const char *body,
			       size_t len, const char *code, const char *needle)
{
	struct sth before = get_sth(), after;
	const char *msg, *c;
	int st;
	json_t *j = post_json_port(port, path, body, len, &st);

	msg = json_string_value(json_object_get(j, "error_message"));
	c = json_string_value(json_object_get(j, "error_code"));
	if (st != 400 || msg == NULL || strstr(msg, needle) == NULL ||
	    (code != NULL && (c == NULL || strcmp(c, code) != 0)))
		fprintf(stderr, "POST %s: got %d %s (%s), want 400 %s (%s)\n", path, st,
			c ? c : "-", msg ? msg : "-", code ? code : "*", needle);
	assert_int_equal(st, 400);
	assert_non_null(msg);
	assert_non_null(strstr(msg, needle));
	if (code != NULL)
		assert_string_equal(c, code);
	json_decref(j);
	after = get_sth();
	assert_int_equal(after.size, before.size);
}

static void expect_reject(const char *path, const char *body, const char *code,
			  const char *needle)
{
	expect_reject_port(T.logd.port, path, body, strlen(body), code, needle);
}

/* --- add-pgp ------------------------------------------------------------- */

/* pgp_request: {"cert": base64(cert), "user_id": uid, "signer": signer}. */
static char *pgp_request(const uint8_t *cert, size_t len, const char *uid, const char *signer)
{
	char *b = malloc(mn_b64_encoded_len(len) + 1), *s;
	json_t *o;

	assert_non_null(b);
	mn_b64_encode(b, cert, len);
	o = json_pack("{s:s, s:s, s:s}", "cert", b, "user_id", uid, "signer", signer);
	assert_non_null(o);
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	json_decref(o);
	free(b);
	return s;
}

static void hex_to_bytes(uint8_t *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static json_t *pgp_sct1;

static void test_pgp_accept(void **state)
{
	struct sth before = get_sth(), after;
	char *req = pgp_request(T.ca_cert.p, T.ca_cert.len, ALICE, T.ca);
	struct pgp_body pb;
	uint8_t *body, fpr[20];
	size_t len;
	json_t *j;

	(void)state;
	assert_int_equal(before.size, 0);
	j = post_ok("/mn/v1/add-pgp", req);
	after = get_sth();
	/* the answer comes after the commit: exactly one new leaf, already signed */
	assert_int_equal(after.size, before.size + 1);
	body = logged(before.size, j, MN_PGP_ENDORSEMENT_ENTRY, &len);
	/* the published body never holds the user ID or the address */
	assert_null(memmem(body, len, ALICE, strlen(ALICE)));
	assert_null(memmem(body, len, "alice@example.com", 17));
	assert_null(memmem(body, len, "alice@", 6));
	assert_null(memmem(body, len, "Alice", 5));
	assert_int_equal(pgp_body_parse(&pb, body, len), 0);
	assert_int_equal(pb.version, PGP_BODY_VERSION);
	assert_true(cbs_mem_equal(&pb.domain, (const uint8_t *)"example.com", 11));
	hex_to_bytes(fpr, T.alice, 20);
	assert_true(cbs_mem_equal(&pb.endorsed_fpr, fpr, 20));
	hex_to_bytes(fpr, T.ca, 20);
	assert_true(cbs_mem_equal(&pb.certifier_fpr, fpr, 20));
	assert_int_equal(pb.sig_type, 0x10); /* gpg --quick-sign-key */
	assert_int_equal(pb.num_subkeys, 1);
	/* version 2: no signature over the user ID in the leaf (they travel in
	 * the opening), only the address key, the VRF output of the address
	 * under the key logd generated beside its log key (mode 0600), which
	 * /mn/v1/info publishes */
	assert_int_equal(cbs_len(&pb.self_sig), 0);
	assert_int_equal(cbs_len(&pb.certifier_sig), 0);
	{
		char path[300];
		struct stat st;
		uint8_t beta[32], proof[VRF_PROOF_LEN], pub[VRF_PUBLIC_LEN], *ipub;
		struct buf pem;
		size_t ipub_len;
		struct vrf_key *k = NULL;
		json_t *info = get_json("/mn/v1/info", 200);

		snprintf(path, sizeof(path), "%s/data/vrf-key.pem", T.dir);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(read_all(path, &pem), 0);
		assert_int_equal(vrf_key_from_pem(&k, pem.p, pem.len), 0);
		free(pem.p);
		assert_int_equal(pgp_address_vrf(k, beta, proof, "alice@example.com", 17), 0);
		assert_memory_equal(pb.address_key, beta, 32);
		vrf_public(k, pub);
		ipub = b64field(info, "vrf_public_key", &ipub_len);
		assert_int_equal(ipub_len, VRF_PUBLIC_LEN);
		assert_memory_equal(ipub, pub, VRF_PUBLIC_LEN);
		assert_int_equal(pgp_address_vrf_verify(beta, ipub, proof, "Alice@example.com", 17), 1);
		free(ipub);
		json_decref(info);
		vrf_key_free(k);
	}
	pgp_sct1 = j;
	free(body);
	free(req);
}

static void test_pgp_duplicate(void **state)
{
	struct sth before = get_sth(), after;
	char *req = pgp_request(T.ca_cert.p, T.ca_cert.len, ALICE, T.ca);
	json_t *j;

	(void)state;
	assert_non_null(pgp_sct1);
	j = post_ok("/mn/v1/add-pgp", req);
	assert_true(same_sct(j, pgp_sct1));
	json_decref(j);
	free(req);
	/* the same endorsement decorated with Eve's certification: same statement */
	req = pgp_request(T.eve_cert.p, T.eve_cert.len, ALICE, T.ca);
	j = post_ok("/mn/v1/add-pgp", req);
	assert_true(same_sct(j, pgp_sct1));
	json_decref(j);
	free(req);
	after = get_sth();
	assert_int_equal(after.size, before.size);
	json_decref(pgp_sct1);
	pgp_sct1 = NULL;
}

static void test_get_certifiers(void **state)
{
	json_t *j = get_json("/mn/v1/get-certifiers", 200), *arr, *ca = NULL, *weak = NULL;

	(void)state;
	arr = json_object_get(j, "certifiers");
	assert_int_equal(json_array_size(arr), 2);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		const char *f = json_string_value(json_object_get(e, "fingerprint"));
		assert_non_null(f);
		if (strcmp(f, T.ca) == 0)
			ca = e;
		else if (strcmp(f, T.weak) == 0)
			weak = e;
	}
	assert_non_null(ca);
	assert_non_null(weak);
	/* Eve is not a certifier */
	{
		char *s = json_dumps(j, JSON_COMPACT);
		assert_null(strstr(s, T.eve));
		free(s);
	}
	/* scope from the .policy file; the key is the certifier's public key */
	assert_int_equal(json_array_size(json_object_get(ca, "scope")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(ca, "scope"), 0)),
			    "example.com");
	assert_int_equal(json_array_size(json_object_get(weak, "scope")), 0);
	assert_true(json_is_null(json_object_get(ca, "expires")));
	{
		size_t kl;
		uint8_t *k = b64field(ca, "key", &kl), fpr[20];
		struct cbs c;
		struct cbs pb;
		uint8_t tag;
		cbs_init(&c, k, kl);
		/* a public key packet first (tag 6), and no secret material (5, 7) */
		assert_true(pgp_packet_get(&c, &tag, &pb, NULL));
		assert_int_equal(tag, 6);
		while (cbs_len(&c) > 0) {
			assert_true(pgp_packet_get(&c, &tag, &pb, NULL));
			assert_true(tag != 5 && tag != 7);
		}
		/* its v4 fingerprint (RFC 4880 section 12.2) is the listed one */
		{
			struct cbs c2;
			uint8_t hdr[3], md[20];
			EVP_MD_CTX *m = EVP_MD_CTX_new();
			cbs_init(&c2, k, kl);
			assert_true(pgp_packet_get(&c2, &tag, &pb, NULL));
			hdr[0] = 0x99;
			hdr[1] = (uint8_t)(cbs_len(&pb) >> 8);
			hdr[2] = (uint8_t)cbs_len(&pb);
			assert_int_equal(EVP_DigestInit_ex(m, EVP_sha1(), NULL), 1);
			assert_int_equal(EVP_DigestUpdate(m, hdr, 3), 1);
			assert_int_equal(EVP_DigestUpdate(m, cbs_data(&pb), cbs_len(&pb)), 1);
			assert_int_equal(EVP_DigestFinal_ex(m, md, NULL), 1);
			EVP_MD_CTX_free(m);
			hex_to_bytes(fpr, T.ca, 20);
			assert_memory_equal(md, fpr, 20);
		}
		free(k);
	}
	json_decref(j);
}

/* Packets of a gpg export. */
struct pkts {
	struct cbs p[64];
	uint8_t tag[64];
	size_t n;
};

static void split(struct pkts *out, const struct buf *b)
{
	struct cbs c, body;

	cbs_init(&c, b->p, b->len);
	out->n = 0;
	while (cbs_len(&c) > 0) {
		assert_true(out->n < 64);
		assert_true(pgp_packet_get(&c, &out->tag[out->n], &body, &out->p[out->n]));
		out->n++;
	}
}

static int contains(const struct pkts *set, const struct cbs *p)
{
	for (size_t i = 0; i < set->n; i++)
		if (cbs_len(&set->p[i]) == cbs_len(p) &&
		    memcmp(cbs_data(&set->p[i]), cbs_data(p), cbs_len(p)) == 0)
			return 1;
	return 0;
}

static void reject_pgp(const uint8_t *cert, size_t len, const char *uid, const char *signer,
		       const char *needle)
{
	char *req = pgp_request(cert, len, uid, signer);
	expect_reject("/mn/v1/add-pgp", req, NULL, needle);
	free(req);
}

static void test_pgp_rejections(void **state)
{
	struct pkts cert, plain;
	size_t sig = SIZE_MAX, off;
	uint8_t *forged;

	(void)state;
	/* forged: the last byte of the certifier's signature value flipped */
	split(&cert, &T.ca_cert);
	split(&plain, &T.plain);
	for (size_t i = 0; i < cert.n; i++)
		if (cert.tag[i] == 2 && !contains(&plain, &cert.p[i])) {
			assert_int_equal(sig, SIZE_MAX);
			sig = i;
		}
	assert_int_not_equal(sig, SIZE_MAX);
	forged = malloc(T.ca_cert.len);
	assert_non_null(forged);
	memcpy(forged, T.ca_cert.p, T.ca_cert.len);
	off = (size_t)(cbs_data(&cert.p[sig]) - T.ca_cert.p) + cbs_len(&cert.p[sig]) - 1;
	forged[off] ^= 0x01;
	reject_pgp(forged, T.ca_cert.len, ALICE, T.ca, "does not verify");
	free(forged);
	/* a signer that is not configured (Eve did certify the user ID) */
	reject_pgp(T.eve_cert.p, T.eve_cert.len, ALICE, T.eve, "not a configured certifier");
	/* a SHA-1 certification by a configured certifier */
	reject_pgp(T.sha1.p, T.sha1.len, ALICE, T.weak, "weak hash");
	/* secret key material */
	reject_pgp(T.secret.p, T.secret.len, ALICE, T.ca, "secret key");
	/* truncated packets: inside the first packet, inside the last one, and
	 * one byte short */
	reject_pgp(T.ca_cert.p, 10, ALICE, T.ca, "truncated");
	off = (size_t)(cbs_data(&cert.p[cert.n - 1]) - T.ca_cert.p) + 3;
	reject_pgp(T.ca_cert.p, off, ALICE, T.ca, "truncated");
	reject_pgp(T.ca_cert.p, T.ca_cert.len - 1, ALICE, T.ca, "truncated");
	/* a user ID that is not on the key, also one differing only in case */
	reject_pgp(T.ca_cert.p, T.ca_cert.len, "Alice <bob@example.com>", T.ca,
		   "not on the key");
	reject_pgp(T.ca_cert.p, T.ca_cert.len, "alice <alice@example.com>", T.ca,
		   "not on the key");
	/* a domain outside the certifier's configured scope (example.com) */
	reject_pgp(T.ca_cert.p, T.ca_cert.len, "Alice <alice@example.org>", T.ca,
		   "outside the certifier's scope");
	/* the certifier did not certify the key at all */
	reject_pgp(T.plain.p, T.plain.len, ALICE, T.ca, "certification");
	/* signer not hex */
	reject_pgp(T.ca_cert.p, T.ca_cert.len, ALICE, "not-a-fingerprint", "hex");
}

static void test_pgp_malformed_json(void **state)
{
	char *good = pgp_request(T.ca_cert.p, T.ca_cert.len, ALICE, T.ca), buf[8192];
	json_t *o;
	char *s;

	(void)state;
	assert_true(strlen(good) < sizeof(buf) - 64);
	expect_reject("/mn/v1/add-pgp", "{not json", "malformed", "JSON");
	expect_reject("/mn/v1/add-pgp", "", "malformed", "JSON");
	expect_reject("/mn/v1/add-pgp", "[]", "malformed", "not a JSON object");
	/* a whole valid request with trailing garbage */
	snprintf(buf, sizeof(buf), "%s}", good);
	expect_reject("/mn/v1/add-pgp", buf, "malformed", "JSON");
	/* unknown field */
	snprintf(buf, sizeof(buf), "%.*s,\"note\":\"x\"}", (int)strlen(good) - 1, good);
	expect_reject("/mn/v1/add-pgp", buf, "malformed", "unknown field");
	/* duplicate field */
	snprintf(buf, sizeof(buf), "%.*s,\"signer\":\"%s\"}", (int)strlen(good) - 1, good, T.ca);
	expect_reject("/mn/v1/add-pgp", buf, "malformed", "repeats");
	/* missing field, each in turn */
	{
		static const char *const f[] = {"cert", "user_id", "signer"};
		for (size_t i = 0; i < 3; i++) {
			json_error_t e;
			o = json_loads(good, 0, &e);
			assert_non_null(o);
			assert_int_equal(json_object_del(o, f[i]), 0);
			s = json_dumps(o, JSON_COMPACT);
			expect_reject("/mn/v1/add-pgp", s, "malformed", "missing");
			free(s);
			json_decref(o);
		}
	}
	/* a field that is not a string */
	{
		json_error_t e;
		o = json_loads(good, 0, &e);
		json_object_set_new(o, "user_id", json_integer(1));
		s = json_dumps(o, JSON_COMPACT);
		expect_reject("/mn/v1/add-pgp", s, "malformed", "not a string");
		free(s);
		json_decref(o);
	}
	/* bad base64: a stray character, base64url, and empty */
	{
		json_error_t e;
		static const char *const bad[] = {"mQ!!", "mQ-_", "mQ", ""};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			o = json_loads(good, 0, &e);
			json_object_set_new(o, "cert", json_string(bad[i]));
			s = json_dumps(o, JSON_COMPACT);
			expect_reject("/mn/v1/add-pgp", s, "malformed", "base64");
			free(s);
			json_decref(o);
		}
	}
	free(good);
}

/* A logd without --certifiers refuses every endorsement. */
static void test_pgp_not_accepted(void **state)
{
	char dir[64], data[128];
	struct logd_proc p;
	char *req = pgp_request(T.ca_cert.p, T.ca_cert.len, ALICE, T.ca);
	json_t *j;
	int st;

	(void)state;
	strcpy(dir, "/tmp/mn-mnsub2-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	{
		const char *args[] = {"--no-map", "--data", data, "--tls-roots", T.tls_roots, NULL};
		assert_int_equal(logd_start(&p, args), 0);
	}
	j = post_json_port(p.port, "/mn/v1/add-pgp", req, strlen(req), &st);
	assert_int_equal(st, 400);
	assert_string_equal(json_string_value(json_object_get(j, "error_code")), "notAccepted");
	assert_non_null(json_string_value(json_object_get(j, "error_message")));
	json_decref(j);
	j = get_json_port(p.port, "/mn/v1/get-certifiers", 200);
	assert_int_equal(json_array_size(json_object_get(j, "certifiers")), 0);
	json_decref(j);
	j = get_json_port(p.port, "/ct/v1/get-sth", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "tree_size")), 0);
	json_decref(j);
	assert_int_equal(logd_stop(&p, SIGTERM), 0);
	rm_rf(dir);
	free(req);
}

/* --- add-policy ------------------------------------------------------------ */

enum how { H_ES256, H_RS256 };

/* sign_raw signs |msg| the JWS way: R || S for ES256 (RFC 7518 section 3.4). */
static uint8_t *sign_raw(EVP_PKEY *key, enum how how, const uint8_t *msg, size_t msg_len,
			 size_t *out_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = 0;
	uint8_t *sig;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, &len, msg, msg_len), 1);
	sig = malloc(len);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len, msg, msg_len), 1);
	EVP_MD_CTX_free(ctx);
	if (how == H_ES256) {
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		uint8_t *raw = malloc(64);
		assert_non_null(es);
		assert_non_null(raw);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 64;
	}
	*out_len = len;
	return sig;
}

static char *b64url(const void *in, size_t len)
{
	char *s = malloc(mn_b64url_encoded_len(len) + 1);
	assert_non_null(s);
	mn_b64url_encode(s, in, len);
	return s;
}

/* jws_with_sig: BASE64URL(header).BASE64URL(payload).BASE64URL(sig). */
static char *jws_with_sig(const char *header, const char *payload, const uint8_t *sig,
			  size_t sig_len)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	char *s = b64url(sig, sig_len);
	size_t n = strlen(h) + strlen(p) + strlen(s) + 3;
	char *out = malloc(n);

	assert_non_null(out);
	snprintf(out, n, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	free(s);
	return out;
}

static char *make_jws(const char *header, const char *payload, EVP_PKEY *key, enum how how)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	size_t n = strlen(h) + strlen(p) + 2, sig_len;
	char *input = malloc(n), *out;
	uint8_t *sig;

	assert_non_null(input);
	snprintf(input, n, "%s.%s", h, p);
	sig = sign_raw(key, how, (const uint8_t *)input, strlen(input), &sig_len);
	out = jws_with_sig(header, payload, sig, sig_len);
	free(sig);
	free(input);
	free(h);
	free(p);
	return out;
}

/* x5c_header: {"alg":ALG,"x5c":[leaf, ca]} (standard base64 DER). */
static char *x5c_header(const char *alg, const struct pki_cert *leaf,
			const struct pki_cert *ca)
{
	char *a = malloc(mn_b64_encoded_len(leaf->der_len) + 1);
	char *b = malloc(mn_b64_encoded_len(ca->der_len) + 1), *h;
	size_t n;

	assert_non_null(a);
	assert_non_null(b);
	mn_b64_encode(a, leaf->der, leaf->der_len);
	mn_b64_encode(b, ca->der, ca->der_len);
	n = strlen(a) + strlen(b) + strlen(alg) + 64;
	h = malloc(n);
	assert_non_null(h);
	snprintf(h, n, "{\"alg\":\"%s\",\"x5c\":[\"%s\",\"%s\"]}", alg, a, b);
	free(a);
	free(b);
	return h;
}

/* smtp_payload: an RFC 8785 canonical smtp policy for |domain|. */
static char *smtp_payload(const char *domain, int64_t iat, uint64_t serial)
{
	char *p = malloc(1024);

	assert_non_null(p);
	snprintf(p, 1024,
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"*.mx.%s\","
		 "\"mx1.%s\"],\"protocol\":\"smtp\",\"serial\":%llu,\"subject\":"
		 "{\"domain\":\"%s\"},\"tls\":{\"min\":\"1.2\",\"transport\":\"starttls\"},"
		 "\"v\":1}",
		 (long long)(iat + 30 * DAY), (long long)iat, domain, domain,
		 (unsigned long long)serial, domain);
	return p;
}

/* x5c_jws: |payload| signed by |leaf| under |ca| with |alg| / |how|. */
static char *x5c_jws(const char *alg, enum how how, const struct pki_cert *leaf,
		     const struct pki_cert *ca, const char *payload)
{
	char *h = x5c_header(alg, leaf, ca);
	char *j = make_jws(h, payload, leaf->key, how);
	free(h);
	return j;
}

static char *policy_request(const char *jws)
{
	json_t *o = json_pack("{s:s}", "jws", jws);
	char *s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	json_decref(o);
	return s;
}

/* check_policy_leaf: the 0x8002 leaf at |index| carries |jws|, names the signer
 * at |signer_index| and its certificate |signer|. */
static void check_policy_leaf(uint64_t index, json_t *sct, const char *jws,
			      uint64_t signer_index, const struct pki_cert *signer)
{
	struct policy_body pb;
	uint8_t *body, h[32];
	size_t len;

	body = logged(index, sct, MN_SIGNED_POLICY_ENTRY, &len);
	assert_true(policy_parse_body(&pb, body, len));
	assert_int_equal(pb.jws_len, strlen(jws));
	assert_memory_equal(pb.jws, jws, pb.jws_len);
	assert_int_equal(pb.signer_index, signer_index);
	SHA256(signer->der, signer->der_len, h);
	assert_memory_equal(pb.signer_cert_hash, h, 32);
	/* the SignedPolicyBody, byte by byte: u24 jws, u64 index, hash[32] */
	assert_int_equal(len, 3 + strlen(jws) + 8 + 32);
	assert_int_equal((size_t)body[0] << 16 | (size_t)body[1] << 8 | body[2], strlen(jws));
	free(body);
}

/* check_signer_leaf: the x509_entry at |index| is |signer|'s DER, signed by the
 * SCT |sct|. */
static void check_signer_leaf(uint64_t index, json_t *sct, const struct pki_cert *signer)
{
	uint8_t *body;
	size_t len;

	body = logged(index, sct, CT_X509_ENTRY, &len);
	assert_int_equal(len, signer->der_len);
	assert_memory_equal(body, signer->der, len);
	free(body);
}

static void test_policy_accept(void **state)
{
	struct sth before = get_sth(), after;
	char *payload = smtp_payload("example.com", T.now, 5);
	char *req;
	json_t *j;
	uint64_t li, si;

	(void)state;
	T.jws1 = x5c_jws("ES256", H_ES256, T.leaf, T.ica, payload);
	req = policy_request(T.jws1);
	j = post_ok("/mn/v1/add-policy", req);
	assert_int_equal(json_object_size(j), 4);
	assert_true(json_is_object(json_object_get(j, "sct")));
	assert_true(json_is_object(json_object_get(j, "signer_sct")));
	assert_true(json_is_integer(json_object_get(j, "leaf_index")));
	assert_true(json_is_integer(json_object_get(j, "signer_leaf_index")));
	li = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	si = (uint64_t)json_integer_value(json_object_get(j, "signer_leaf_index"));
	/* the signer's certificate went in first, then the policy naming it */
	after = get_sth();
	assert_int_equal(after.size, before.size + 2);
	assert_int_equal(si, before.size);
	assert_int_equal(li, before.size + 1);
	check_signer_leaf(si, json_object_get(j, "signer_sct"), T.leaf);
	check_policy_leaf(li, json_object_get(j, "sct"), T.jws1, si, T.leaf);
	T.signer_index = si;
	T.ans1 = j;
	free(req);
	free(payload);
}

static void test_policy_duplicate(void **state)
{
	struct sth before = get_sth(), after;
	char *req = policy_request(T.jws1);
	json_t *j;

	(void)state;
	assert_non_null(T.ans1);
	j = post_ok("/mn/v1/add-policy", req);
	/* the same SCT, and the same leaf and signer */
	assert_true(same_sct(json_object_get(j, "sct"), json_object_get(T.ans1, "sct")));
	assert_true(json_equal(json_object_get(j, "leaf_index"),
			       json_object_get(T.ans1, "leaf_index")));
	assert_true(json_equal(json_object_get(j, "signer_leaf_index"),
			       json_object_get(T.ans1, "signer_leaf_index")));
	after = get_sth();
	assert_int_equal(after.size, before.size);
	json_decref(j);
	free(req);
}

static char *x5t_header(const struct pki_cert *c)
{
	uint8_t h[32];
	char *t, *out = malloc(128);

	assert_non_null(out);
	SHA256(c->der, c->der_len, h);
	t = b64url(h, 32);
	snprintf(out, 128, "{\"alg\":\"ES256\",\"x5t#S256\":\"%s\"}", t);
	free(t);
	return out;
}

static void test_policy_x5t(void **state)
{
	struct sth before = get_sth(), after;
	char *payload = smtp_payload("example.com", T.now, 6);
	char *hdr = x5t_header(T.leaf), *jws = make_jws(hdr, payload, T.leaf->key, H_ES256);
	char *req = policy_request(jws);
	json_t *j;
	uint64_t li;

	(void)state;
	j = post_ok("/mn/v1/add-policy", req);
	/* the signer is already logged: no signer_sct, its old index */
	assert_int_equal(json_object_size(j), 3);
	assert_null(json_object_get(j, "signer_sct"));
	assert_int_equal(json_integer_value(json_object_get(j, "signer_leaf_index")),
			 T.signer_index);
	li = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	after = get_sth();
	assert_int_equal(after.size, before.size + 1);
	assert_int_equal(li, before.size);
	check_policy_leaf(li, json_object_get(j, "sct"), jws, T.signer_index, T.leaf);
	json_decref(j);
	free(req);
	free(jws);
	free(hdr);
	free(payload);

	/* x5t#S256 of a certificate that is not logged */
	payload = smtp_payload("example.com", T.now, 7);
	hdr = x5t_header(T.other);
	jws = make_jws(hdr, payload, T.other->key, H_ES256);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "badCertificate", "names no logged certificate");
	free(req);
	free(jws);
	free(hdr);
	free(payload);
}

static void test_policy_stale(void **state)
{
	char *payload, *jws, *req;

	(void)state;
	/* serial 4 < 6: refused by serial, even from the x5c signer already logged */
	payload = smtp_payload("example.com", T.now, 4);
	jws = x5c_jws("ES256", H_ES256, T.leaf, T.ica, payload);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "staleSerial", "serial");
	free(req);
	free(jws);
	free(payload);
	/* serial 4 from a signer not logged yet: refused, and the refused
	 * statement's signer is not logged either */
	payload = smtp_payload("example.com", T.now, 4);
	jws = x5c_jws("ES256", H_ES256, T.leaf2, T.ica, payload);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "staleSerial", "serial");
	free(req);
	free(jws);
	free(payload);
	/* serial 6 again, a different statement (iat a second earlier): not higher */
	payload = smtp_payload("example.com", T.now - 1, 6);
	jws = x5c_jws("ES256", H_ES256, T.leaf, T.ica, payload);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "staleSerial", "serial");
	free(req);
	free(jws);
	free(payload);
}

static void test_policy_email(void **state)
{
	struct sth before = get_sth(), after;
	char payload[1024], *jws, *req;
	json_t *j;
	uint64_t li, si;

	(void)state;
	snprintf(payload, sizeof(payload),
		 "{\"e2e\":{\"pgp\":\"prefer\",\"smime\":\"require\"},\"exp\":%lld,\"iat\":"
		 "%lld,\"mode\":\"enforce\",\"protocol\":\"email-e2e\",\"serial\":1,"
		 "\"subject\":{\"email\":\"alice@example.com\"},\"v\":1}",
		 (long long)T.now + DAY, (long long)T.now);
	/* a TLS signer for an email subject is refused */
	jws = x5c_jws("ES256", H_ES256, T.leaf, T.ica, payload);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "badCertificate", "email");
	free(req);
	free(jws);
	/* the S/MIME signer */
	jws = x5c_jws("ES256", H_ES256, T.email, T.sca, payload);
	req = policy_request(jws);
	j = post_ok("/mn/v1/add-policy", req);
	assert_int_equal(json_object_size(j), 4);
	li = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	si = (uint64_t)json_integer_value(json_object_get(j, "signer_leaf_index"));
	after = get_sth();
	assert_int_equal(after.size, before.size + 2);
	assert_int_equal(si, before.size);
	assert_int_equal(li, before.size + 1);
	check_signer_leaf(si, json_object_get(j, "signer_sct"), T.email);
	check_policy_leaf(li, json_object_get(j, "sct"), jws, si, T.email);
	json_decref(j);
	free(req);
	free(jws);
}

static void test_policy_rejections(void **state)
{
	char *payload = smtp_payload("example.com", T.now, 100), *jws, *req, *h, p[1024];

	(void)state;
	/* alg none */
	h = x5c_header("none", T.leaf, T.ica);
	jws = jws_with_sig(h, payload, (const uint8_t *)"x", 1);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "badCertificate", "alg none");
	free(req);
	free(jws);
	free(h);
	/* non-canonical payload: a space after the first colon */
	{
		const char *colon = strchr(payload, ':');
		snprintf(p, sizeof(p), "%.*s: %s", (int)(colon - payload), payload, colon + 1);
	}
	jws = x5c_jws("ES256", H_ES256, T.leaf, T.ica, p);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "malformed", "canonical");
	free(req);
	free(jws);
	/* a duplicate JSON key in the payload ("v" twice, still sorted) */
	snprintf(p, sizeof(p), "%.*s,\"v\":1}", (int)strlen(payload) - 1, payload);
	jws = x5c_jws("ES256", H_ES256, T.leaf, T.ica, p);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "malformed", "duplicate");
	free(req);
	free(jws);
	/* ... and in the JWS header */
	jws = make_jws("{\"alg\":\"ES256\",\"alg\":\"ES256\",\"x5t#S256\":\"x\"}", payload,
		       T.leaf->key, H_ES256);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "malformed", "duplicate");
	free(req);
	free(jws);
	/* a signer for another domain */
	jws = x5c_jws("ES256", H_ES256, T.other, T.ica, payload);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "badCertificate", "no dNSName equal");
	free(req);
	free(jws);
	/* an expired signer */
	jws = x5c_jws("ES256", H_ES256, T.expired, T.ica, payload);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "badCertificate", "expired");
	free(req);
	free(jws);
	/* alg and key do not match: ES256 header, RSA key (a real RS256 signature) */
	jws = x5c_jws("ES256", H_RS256, T.rsa, T.ica, payload);
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, "badCertificate", "does not fit");
	free(req);
	free(jws);
	/* a signature that does not verify: the last signature byte changed */
	jws = x5c_jws("ES256", H_ES256, T.leaf, T.ica, payload);
	{
		char *last = jws + strlen(jws) - 2;
		*last = *last == 'A' ? 'B' : 'A';
	}
	req = policy_request(jws);
	expect_reject("/mn/v1/add-policy", req, NULL, "does not verify");
	free(req);
	free(jws);
	/* request JSON: missing jws, unknown field, jws not a string, not JSON */
	expect_reject("/mn/v1/add-policy", "{}", "malformed", "missing");
	expect_reject("/mn/v1/add-policy", "{\"jws\":\"a.b.c\",\"x\":\"y\"}", "malformed",
		      "unknown field");
	expect_reject("/mn/v1/add-policy", "{\"jws\":1}", "malformed", "not a string");
	expect_reject("/mn/v1/add-policy", "{\"jws\":", "malformed", "JSON");
	expect_reject("/mn/v1/add-policy", "{\"jws\":\"a.b\"}", "malformed", "three");
	free(payload);
}

/* --- the whole tree ----------------------------------------------------------- */

static void test_final_tree(void **state)
{
	struct sth s = get_sth();

	(void)state;
	/* pgp 1, policy 2 (signer + policy), x5t 1, email 2 */
	assert_int_equal(T.num_acc, 6);
	assert_int_equal(s.size, T.num_acc);
	for (size_t i = 0; i < T.num_acc; i++) {
		assert_int_equal(T.acc[i].index, i);
		check_inclusion(T.acc[i].lh, T.acc[i].index, &s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgp_accept),
		cmocka_unit_test(test_pgp_duplicate),
		cmocka_unit_test(test_get_certifiers),
		cmocka_unit_test(test_pgp_rejections),
		cmocka_unit_test(test_pgp_malformed_json),
		cmocka_unit_test(test_pgp_not_accepted),
		cmocka_unit_test(test_policy_accept),
		cmocka_unit_test(test_policy_duplicate),
		cmocka_unit_test(test_policy_x5t),
		cmocka_unit_test(test_policy_stale),
		cmocka_unit_test(test_policy_email),
		cmocka_unit_test(test_policy_rejections),
		cmocka_unit_test(test_final_tree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
