/* mnsub.c: see mnsub.h. */
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
#include "entry/ct.h"
#include "merkle/merkle.h"
#include "tests/lib/mnsub.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400

struct mnsub_state mnsub;
/* T: the fixture, under its name in the tests this code came from */
#define T mnsub

static int gpg(const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --quiet --no-tty --homedir %s --pinentry-mode loopback "
		 "--passphrase '' %s >>%s/gpg.log 2>&1",
		 T.home, args, T.dir);
	return system(cmd);
}

int mnsub_read_all(const char *path, struct mnsub_buf *out)
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
static int export(const char *what, struct mnsub_buf *out)
{
	char args[512], path[128];

	snprintf(path, sizeof(path), "%s/export.out", T.dir);
	unlink(path);
	snprintf(args, sizeof(args), "--output %s %s", path, what);
	if (gpg(args) != 0)
		return -1;
	return mnsub_read_all(path, out);
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

void mnsub_rm_rf(const char *dir)
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
	if (gpg("--quick-gen-key '" MNSUB_ALICE "' ed25519 sign 1y") ||
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

int mnsub_setup(void **state)
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

int mnsub_teardown(void **state)
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
		struct mnsub_buf *all[] = {&T.plain, &T.ca_cert, &T.eve_cert, &T.sha1, &T.secret};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			free(all[i]->p);
	}
	free(T.jws1);
	json_decref(T.ans1);
	snprintf(cmd, sizeof(cmd), "gpgconf --homedir %s --kill gpg-agent >/dev/null 2>&1",
		 T.home);
	if (system(cmd) != 0)
		fprintf(stderr, "gpgconf --kill failed\n");
	mnsub_rm_rf(T.dir);
	if (st != 0)
		fprintf(stderr, "logd exited with %d\n", st);
	return st == 0 ? 0 : -1;
}

/* --- HTTP and log helpers ------------------------------------------------- */

json_t *mnsub_get_json_port(uint16_t port, const char *target, int want_status)
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

json_t *mnsub_get_json(const char *target, int want_status)
{
	return mnsub_get_json_port(T.logd.port, target, want_status);
}

/* post_json posts |body| to |path| and returns the parsed answer and status. */
json_t *mnsub_post_json_port(uint16_t port, const char *path, const char *body,
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

json_t *mnsub_post_json(const char *path, const char *body, int *status)
{
	return mnsub_post_json_port(T.logd.port, path, body, strlen(body), status);
}

/* post_ok posts and requires 200. */
json_t *mnsub_post_ok(const char *path, const char *body)
{
	int st;
	json_t *j = mnsub_post_json(path, body, &st);
	if (st != 200) {
		char *s = json_dumps(j, JSON_COMPACT);
		fprintf(stderr, "POST %s: %d %s\n", path, st, s);
		free(s);
	}
	assert_int_equal(st, 200);
	return j;
}

uint8_t *mnsub_b64field(json_t *j, const char *name, size_t *len)
{
	json_t *f = json_object_get(j, name);
	uint8_t *out;

	assert_true(json_is_string(f));
	assert_int_equal(mn_b64_decode(&out, len, json_string_value(f), json_string_length(f),
				       1 << 24), 0);
	return out;
}

struct mnsub_sth mnsub_get_sth(void)
{
	json_t *j = mnsub_get_json("/ct/v1/get-sth", 200);
	struct mnsub_sth s;
	struct ct_sig sig;
	struct cbs cbs;
	uint8_t *root, *sigb;
	size_t rl, sl;

	s.size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	s.ts = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	root = mnsub_b64field(j, "sha256_root_hash", &rl);
	sigb = mnsub_b64field(j, "tree_head_signature", &sl);
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
	id = mnsub_b64field(j, "id", &idl);
	SHA256(T.logd.spki, T.logd.spki_len, want_id);
	assert_int_equal(idl, 32);
	assert_memory_equal(id, want_id, 32);
	ext = mnsub_b64field(j, "extensions", &extl);
	assert_int_equal(extl, 8);
	sig = mnsub_b64field(j, "signature", &sigl);
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
int mnsub_same_sct(const json_t *a, const json_t *b)
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
void mnsub_check_inclusion(const uint8_t lh[32], uint64_t want_index,
			   const struct mnsub_sth *s)
{
	char target[256], enc[128];
	json_t *j, *path;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	size_t n;

	urlenc_b64(enc, lh, 32);
	snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%llu", enc,
		 (unsigned long long)s->size);
	j = mnsub_get_json(target, 200);
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
uint8_t *mnsub_logged(uint64_t index, json_t *sct, uint16_t type, size_t *out_len)
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
	j = mnsub_get_json(target, 200);
	ents = json_object_get(j, "entries");
	assert_int_equal(json_array_size(ents), 1);
	leaf = mnsub_b64field(json_array_get(ents, 0), "leaf_input", &ll);
	extra = mnsub_b64field(json_array_get(ents, 0), "extra_data", &el);
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
		struct mnsub_sth s = mnsub_get_sth();
		assert_true(s.size > index);
		assert_true(s.ts >= ts);
		mnsub_check_inclusion(lh, index, &s);
	}
	assert_true(T.num_acc < MNSUB_MAX_ACC);
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
void mnsub_expect_reject_port(uint16_t port, const char *path, const char *body,
			      size_t len, const char *code, const char *needle)
{
	struct mnsub_sth before = mnsub_get_sth(), after;
	const char *msg, *c;
	int st;
	json_t *j = mnsub_post_json_port(port, path, body, len, &st);

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
	after = mnsub_get_sth();
	assert_int_equal(after.size, before.size);
}

void mnsub_expect_reject(const char *path, const char *body, const char *code,
			 const char *needle)
{
	mnsub_expect_reject_port(T.logd.port, path, body, strlen(body), code, needle);
}

void mnsub_check_tree(size_t want)
{
	struct mnsub_sth s = mnsub_get_sth();

	assert_int_equal(T.num_acc, want);
	assert_int_equal(s.size, T.num_acc);
	for (size_t i = 0; i < T.num_acc; i++) {
		assert_int_equal(T.acc[i].index, i);
		mnsub_check_inclusion(T.acc[i].lh, T.acc[i].index, &s);
	}
}
