/* test_pgp.c: OpenPGP endorsements (entry/pgp*.c) against keys and signatures
 * made at test time by the gpg command line, with gpg (and RNP) also as the
 * independent judge of what the module stores (the key rebuilt from leaf and
 * opening must pass gpg --check-sigs). New entries are body version 2: the
 * leaf holds no user ID byte and no signature over it, and an address key
 * (a VRF output); version 1 bodies still parse and rebuild. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/vrf.h"
#include "entry/pgp.h"

#define ALICE "Alice <alice@example.com>"
#define DAY 86400

struct buf {
	uint8_t *p;
	size_t len;
};

static struct {
	int ready;
	char dir[64], home[96], home2[96];
	char alice[41], ca[41], weak[41], eve[41], bob[41], p256[41];
	struct buf plain, ca_cert, junk, sha1, rev, secret, bob_cert, certs, certs_armored,
		secret_certs, rsa_rev, p256_rev, p256_key, sha1_rev, eve_rev;
	struct pgp_certifiers *c, *c256;
	struct vrf_key *vrf;
	uint64_t now;
} F;

static void cleanup_fixtures(void)
{
	char cmd[512];
	if (!F.dir[0])
		return;
	snprintf(cmd, sizeof(cmd),
		 "gpgconf --homedir %s --kill gpg-agent >/dev/null 2>&1; "
		 "gpgconf --homedir %s --kill gpg-agent >/dev/null 2>&1; rm -rf %s",
		 F.home, F.home2, F.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
	struct buf *all[] = {&F.plain, &F.ca_cert, &F.junk, &F.sha1, &F.rev, &F.secret,
			     &F.bob_cert, &F.certs, &F.certs_armored, &F.secret_certs,
			     &F.rsa_rev, &F.p256_rev, &F.p256_key, &F.sha1_rev, &F.eve_rev};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->p);
	pgp_certifiers_free(F.c);
	pgp_certifiers_free(F.c256);
	vrf_key_free(F.vrf);
}

/* gpg runs gpg in |home| with |args|; returns its exit status. */
static int gpg(const char *home, const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --quiet --no-tty --homedir %s --pinentry-mode loopback "
		 "--passphrase '' %s >>%s/gpg.log 2>&1",
		 home, args, F.dir);
	return system(cmd);
}

static int read_all(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	out->p = NULL;
	out->len = 0;
	uint8_t tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		uint8_t *p = realloc(out->p, out->len + n);
		if (!p) {
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

static int write_all(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* export runs gpg |what| (e.g. "--export FPR") into a file and reads it back. */
static int export(const char *what, struct buf *out)
{
	char args[512], path[128];
	snprintf(path, sizeof(path), "%s/export.out", F.dir);
	unlink(path);
	snprintf(args, sizeof(args), "--output %s %s", path, what);
	if (gpg(F.home, args) != 0)
		return -1;
	return read_all(path, out);
}

/* fpr_of fills |out| with the fingerprint of the key gpg finds for |who|. */
static int fpr_of(const char *who, char out[41])
{
	char cmd[512], line[512];
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --no-tty --homedir %s --with-colons --list-keys '%s' 2>/dev/null",
		 F.home, who);
	FILE *p = popen(cmd, "r");
	int found = 0;
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (!found && !strncmp(line, "fpr:::::::::", 12) && strlen(line) >= 52) {
			memcpy(out, line + 12, 40);
			out[40] = '\0';
			found = 1;
		}
	pclose(p);
	return found ? 0 : -1;
}

static int export_key(const char *fpr, struct buf *out)
{
	char a[128];
	snprintf(a, sizeof(a), "--export %s", fpr);
	return export(a, out);
}

static int make_fixtures(void)
{
	char a[512];
	if (F.ready)
		return F.ready > 0 ? 0 : -1;
	F.ready = -1;
	F.now = (uint64_t)time(NULL);
	snprintf(F.dir, sizeof(F.dir), "/tmp/mn-test-pgp.XXXXXX");
	if (!mkdtemp(F.dir))
		return -1;
	atexit(cleanup_fixtures);
	snprintf(F.home, sizeof(F.home), "%s/g", F.dir);
	snprintf(F.home2, sizeof(F.home2), "%s/v", F.dir);
	if (mkdir(F.home, 0700) || mkdir(F.home2, 0700))
		return -1;

	if (gpg(F.home, "--quick-gen-key '" ALICE "' ed25519 sign 1y") ||
	    gpg(F.home, "--quick-gen-key 'Cert Authority <ca@certifier.example>' ed25519 sign 1y") ||
	    gpg(F.home, "--quick-gen-key 'Weak CA <weak@certifier.example>' rsa2048 sign 1y") ||
	    gpg(F.home, "--quick-gen-key 'Eve <eve@evil.example>' ed25519 sign 1y") ||
	    gpg(F.home, "--quick-gen-key 'Bob <bob@example.com>' ed25519 sign 1d") ||
	    fpr_of("alice@example.com", F.alice) || fpr_of("ca@certifier.example", F.ca) ||
	    fpr_of("weak@certifier.example", F.weak) || fpr_of("eve@evil.example", F.eve) ||
	    fpr_of("bob@example.com", F.bob))
		return -1;
	snprintf(a, sizeof(a), "--quick-add-key %s cv25519 encr 1y", F.alice);
	if (gpg(F.home, a) || export_key(F.alice, &F.plain))
		return -1;
	snprintf(a, sizeof(a), "--export-secret-keys %s", F.alice);
	if (export(a, &F.secret))
		return -1;
	/* the endorsement */
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", F.ca, F.alice);
	if (gpg(F.home, a) || export_key(F.alice, &F.ca_cert))
		return -1;
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", F.ca, F.bob);
	if (gpg(F.home, a) || export_key(F.bob, &F.bob_cert))
		return -1;
	/* the same endorsement with junk: another user ID, a third party's
	 * certifications of both user IDs */
	snprintf(a, sizeof(a), "--quick-add-uid %s 'Alice Work <alice@work.example>'", F.alice);
	if (gpg(F.home, a))
		return -1;
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", F.eve, F.alice);
	if (gpg(F.home, a) || export_key(F.alice, &F.junk))
		return -1;
	/* a SHA-1 certification by another configured certifier */
	snprintf(a, sizeof(a),
		 "-u %s --cert-digest-algo SHA1 --allow-weak-digest-algos "
		 "--allow-weak-key-signatures --quick-sign-key %s",
		 F.weak, F.alice);
	if (gpg(F.home, a) || export_key(F.alice, &F.sha1))
		return -1;
	/* the certifier revokes its certification */
	snprintf(a, sizeof(a), "-u %s --quick-revoke-sig %s %s", F.ca, F.alice, F.ca);
	if (gpg(F.home, a) || export_key(F.alice, &F.rev))
		return -1;
	/* the RSA certifier revokes its SHA-1 certification with a strong hash */
	snprintf(a, sizeof(a), "-u %s --quick-revoke-sig %s %s", F.weak, F.alice, F.weak);
	if (gpg(F.home, a) || export_key(F.alice, &F.rsa_rev))
		return -1;
	/* an ECDSA P-256 certifier certifies, then revokes */
	if (gpg(F.home, "--quick-gen-key 'P256 CA <p256@certifier.example>' nistp256 sign 1y") ||
	    fpr_of("p256@certifier.example", F.p256) || export_key(F.p256, &F.p256_key))
		return -1;
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", F.p256, F.alice);
	if (gpg(F.home, a))
		return -1;
	snprintf(a, sizeof(a), "-u %s --quick-revoke-sig %s %s", F.p256, F.alice, F.p256);
	if (gpg(F.home, a) || export_key(F.alice, &F.p256_rev))
		return -1;
	/* a non-configured key (Eve) revokes her certification */
	snprintf(a, sizeof(a), "-u %s --quick-revoke-sig %s %s", F.eve, F.alice, F.eve);
	if (gpg(F.home, a) || export_key(F.alice, &F.eve_rev))
		return -1;
	/* the RSA certifier certifies Bob, then revokes with SHA-1 */
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", F.weak, F.bob);
	if (gpg(F.home, a))
		return -1;
	snprintf(a, sizeof(a),
		 "-u %s --cert-digest-algo SHA1 --digest-algo SHA1 --allow-weak-digest-algos "
		 "--allow-weak-key-signatures --quick-revoke-sig %s %s",
		 F.weak, F.bob, F.weak);
	if (gpg(F.home, a) || export_key(F.bob, &F.sha1_rev))
		return -1;
	if (pgp_certifiers_load(&F.c256, F.p256_key.p, F.p256_key.len, NULL, 0) != 0)
		return -1;
	snprintf(a, sizeof(a), "--export %s %s", F.ca, F.weak);
	if (export(a, &F.certs))
		return -1;
	snprintf(a, sizeof(a), "--armor --export %s %s", F.ca, F.weak);
	if (export(a, &F.certs_armored))
		return -1;
	snprintf(a, sizeof(a), "--export-secret-keys %s", F.ca);
	if (export(a, &F.secret_certs))
		return -1;
	if (pgp_certifiers_load(&F.c, F.certs.p, F.certs.len, NULL, 0) != 0)
		return -1;
	{
		uint8_t *pem;
		size_t pem_len;
		int rv = vrf_key_generate_pem(&pem, &pem_len);
		if (rv == 0)
			rv = vrf_key_from_pem(&F.vrf, pem, pem_len);
		free(pem);
		if (rv != 0)
			return -1;
	}
	F.now = (uint64_t)time(NULL);
	F.ready = 1;
	return 0;
}

static void need_fixtures(void)
{
	assert_int_equal(make_fixtures(), 0);
}

static size_t hex_decode_test(uint8_t *out, const char *hex)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (uint8_t)v;
	}
	return n;
}

static int check(struct pgp_result *r, const char **reason, const struct buf *cert,
		 const char *uid, const char *signer, uint64_t now)
{
	return pgp_endorsement_check(F.c, pgp_addr_key_vrf, F.vrf, r, reason, cert->p, cert->len,
				     (const uint8_t *)uid, strlen(uid), signer,
				     strlen(signer), now);
}

static void expect_fail(const struct buf *cert, const char *uid, const char *signer,
			uint64_t now, int code, const char *reason_part)
{
	struct pgp_result r;
	const char *reason = NULL;
	int rv = check(&r, &reason, cert, uid, signer, now);
	if (rv != code || !reason || !strstr(reason, reason_part))
		fprintf(stderr, "got %s (%s), want %s (%s)\n", mn_err_name(rv),
			reason ? reason : "-", mn_err_name(code), reason_part);
	assert_int_equal(rv, code);
	assert_non_null(reason);
	assert_non_null(strstr(reason, reason_part));
	assert_null(r.body);
	assert_null(r.opening);
	pgp_result_cleanup(&r);
}

/* Packets of a gpg export, for building bad inputs. */
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
	while (cbs_len(&c)) {
		assert_true(out->n < 64);
		assert_true(pgp_packet_get(&c, &out->tag[out->n], &body, &out->p[out->n]));
		out->n++;
	}
}

static int contains(const struct pkts *set, const struct cbs *p)
{
	for (size_t i = 0; i < set->n; i++)
		if (cbs_len(&set->p[i]) == cbs_len(p) &&
		    !memcmp(cbs_data(&set->p[i]), cbs_data(p), cbs_len(p)))
			return 1;
	return 0;
}

/* The certifier's signature in ca_cert: the one signature not in plain. */
static size_t ca_sig_index(const struct pkts *cert, const struct pkts *plain)
{
	size_t found = SIZE_MAX;
	for (size_t i = 0; i < cert->n; i++)
		if (cert->tag[i] == 2 && !contains(plain, &cert->p[i])) {
			assert_int_equal(found, SIZE_MAX);
			found = i;
		}
	assert_int_not_equal(found, SIZE_MAX);
	return found;
}

static void join(struct buf *out, const struct pkts *p, size_t skip)
{
	out->len = 0;
	out->p = malloc(65536);
	assert_non_null(out->p);
	for (size_t i = 0; i < p->n; i++) {
		if (i == skip)
			continue;
		memcpy(out->p + out->len, cbs_data(&p->p[i]), cbs_len(&p->p[i]));
		out->len += cbs_len(&p->p[i]);
	}
}

/* gpg_check_sigs imports the certifier keys and |tpk| into a fresh homedir and
 * returns gpg --check-sigs --with-colons output for the endorsed key. */
static char *gpg_check_sigs(const uint8_t *tpk, size_t tpk_len, const char *fpr)
{
	char path[160], args[512], cmd[512];
	static char out[16384];
	size_t n;
	snprintf(path, sizeof(path), "%s/tpk.pgp", F.dir);
	assert_int_equal(write_all(path, tpk, tpk_len), 0);
	snprintf(path, sizeof(path), "%s/certs.pgp", F.dir);
	assert_int_equal(write_all(path, F.certs.p, F.certs.len), 0);
	snprintf(args, sizeof(args), "--import %s/certs.pgp %s/tpk.pgp", F.dir, F.dir);
	assert_int_equal(gpg(F.home2, args), 0);
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --no-tty --homedir %s --with-colons --check-sigs %s 2>/dev/null",
		 F.home2, fpr);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	/* forget it again, so the next call starts clean */
	snprintf(args, sizeof(args), "--yes --delete-keys %s", fpr);
	assert_int_equal(gpg(F.home2, args), 0);
	return out;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* rnp_check_tpk imports the certifier keys and |tpk| into a fresh RNP context
 * and returns how many signatures over the endorsed key's one user ID RNP
 * finds valid (the self-signature and the certification: 2). */
static int rnp_check_tpk(const uint8_t *tpk, size_t tpk_len, const char *fpr)
{
	rnp_ffi_t ffi = NULL;
	rnp_input_t in = NULL;
	rnp_key_handle_t key = NULL;
	rnp_uid_handle_t uid = NULL;
	size_t n = 0, nuids = 0;
	int good = 0;

	assert_int_equal(rnp_ffi_create(&ffi, "GPG", "GPG"), RNP_SUCCESS);
	assert_int_equal(rnp_input_from_memory(&in, F.certs.p, F.certs.len, false), RNP_SUCCESS);
	assert_int_equal(rnp_import_keys(ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS, NULL), RNP_SUCCESS);
	rnp_input_destroy(in);
	assert_int_equal(rnp_input_from_memory(&in, tpk, tpk_len, false), RNP_SUCCESS);
	assert_int_equal(rnp_import_keys(ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS, NULL), RNP_SUCCESS);
	rnp_input_destroy(in);
	assert_int_equal(rnp_locate_key(ffi, "fingerprint", fpr, &key), RNP_SUCCESS);
	assert_non_null(key);
	assert_int_equal(rnp_key_get_uid_count(key, &nuids), RNP_SUCCESS);
	assert_int_equal(nuids, 1);
	assert_int_equal(rnp_key_get_uid_handle_at(key, 0, &uid), RNP_SUCCESS);
	assert_int_equal(rnp_uid_get_signature_count(uid, &n), RNP_SUCCESS);
	for (size_t i = 0; i < n; i++) {
		rnp_signature_handle_t sig = NULL;
		assert_int_equal(rnp_uid_get_signature_at(uid, i, &sig), RNP_SUCCESS);
		good += rnp_signature_is_valid(sig, 0) == RNP_SUCCESS;
		rnp_signature_handle_destroy(sig);
	}
	rnp_uid_handle_destroy(uid);
	rnp_key_handle_destroy(key);
	rnp_ffi_destroy(ffi);
	return good;
}

/* sig_value: the signature MPIs of a whole v4 signature packet (what no
 * re-encoding of the packet changes). */
static struct cbs sig_value(const struct cbs *packet)
{
	struct cbs c = *packet, body, hashed, unhashed;
	uint8_t tag, v[4];
	assert_true(pgp_packet_get(&c, &tag, &body, NULL));
	assert_true(cbs_copy_bytes(&body, v, 4));
	assert_true(cbs_get_u16_length_prefixed(&body, &hashed));
	assert_true(cbs_get_u16_length_prefixed(&body, &unhashed));
	assert_true(cbs_skip(&body, 2));
	return body;
}

/* v1_body writes the version 1 body (pgp.h) and opening of the endorsement a
 * v2 check produced, from the v2 body and opening: what the log wrote before
 * version 2. */
static void v1_body(struct buf *body, struct buf *opening, const struct pgp_result *r)
{
	struct pgp_body b;
	struct pgp_opening o;
	struct cbb c, f;
	uint8_t com[32];

	assert_int_equal(pgp_body_parse(&b, r->body, r->body_len), 0);
	assert_int_equal(pgp_opening_parse(&o, 2, r->opening, r->opening_len), 0);
	pgp_uid_commitment(com, o.salt, cbs_data(&o.user_id), cbs_len(&o.user_id));
	assert_true(cbb_init(&c, 4096, 1 << 24));
	assert_true(cbb_add_u8(&c, 1) && cbb_add_u8_length_prefixed(&c, &f) &&
		    cbb_add_bytes(&f, cbs_data(&b.endorsed_fpr), cbs_len(&b.endorsed_fpr)) &&
		    cbb_add_u8_length_prefixed(&c, &f) &&
		    cbb_add_bytes(&f, cbs_data(&b.certifier_fpr), cbs_len(&b.certifier_fpr)) &&
		    cbb_add_u8(&c, b.sig_type) && cbb_add_u64(&c, b.sig_created) &&
		    cbb_add_u8_length_prefixed(&c, &f) &&
		    cbb_add_bytes(&f, cbs_data(&b.domain), cbs_len(&b.domain)) &&
		    cbb_add_bytes(&c, com, 32) && cbb_add_u24_length_prefixed(&c, &f) &&
		    cbb_add_bytes(&f, cbs_data(&b.primary_key), cbs_len(&b.primary_key)) &&
		    cbb_add_u24_length_prefixed(&c, &f) &&
		    cbb_add_bytes(&f, cbs_data(&o.self_sig), cbs_len(&o.self_sig)) &&
		    cbb_add_u24_length_prefixed(&c, &f) &&
		    cbb_add_bytes(&f, cbs_data(&o.certifier_sig), cbs_len(&o.certifier_sig)) &&
		    cbb_add_u24_length_prefixed(&c, &f) &&
		    cbb_add_bytes(&f, cbs_data(&b.subkeys), cbs_len(&b.subkeys)));
	assert_true(cbb_finish(&c, &body->p, &body->len));
	opening->len = PGP_SALT_LEN + cbs_len(&o.user_id);
	opening->p = malloc(opening->len);
	assert_non_null(opening->p);
	memcpy(opening->p, o.salt, PGP_SALT_LEN);
	memcpy(opening->p + PGP_SALT_LEN, cbs_data(&o.user_id), cbs_len(&o.user_id));
}

static void test_valid_endorsement(void **state)
{
	(void)state;
	need_fixtures();
	struct pgp_result r;
	const char *reason = NULL;
	struct pgp_body b;
	struct pgp_opening o;
	uint8_t fpr[20], beta[32];
	char hex[41];

	int rv = check(&r, &reason, &F.ca_cert, ALICE, F.ca, F.now);
	if (rv)
		fprintf(stderr, "%s: %s\n", mn_err_name(rv), reason);
	assert_int_equal(rv, 0);
	assert_null(reason);
	assert_int_equal(r.revocation, 0);
	assert_int_equal(r.sig_type, 0x10); /* gpg --quick-sign-key: generic */
	assert_true(r.sig_created_s >= F.now - 60 && r.sig_created_s <= F.now + 600);
	assert_string_equal(r.domain, "example.com");
	assert_string_equal(r.address, "alice@example.com");
	assert_int_equal(r.address_len, 17);
	assert_int_equal(r.endorsed_fpr_len, 20);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02X", r.endorsed_fpr[i]);
	assert_string_equal(hex, F.alice);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02X", r.certifier_fpr[i]);
	assert_string_equal(hex, F.ca);

	/* the body parses back (version 2) and names the same things */
	assert_int_equal(pgp_body_parse(&b, r.body, r.body_len), 0);
	assert_int_equal(b.version, 2);
	assert_true(cbs_mem_equal(&b.endorsed_fpr, r.endorsed_fpr, 20));
	assert_true(cbs_mem_equal(&b.certifier_fpr, r.certifier_fpr, 20));
	assert_true(cbs_mem_equal(&b.domain, (const uint8_t *)"example.com", 11));
	assert_int_equal(b.sig_type, 0x10);
	assert_int_equal(b.sig_created, r.sig_created_s);
	assert_int_equal(b.num_subkeys, 1);
	assert_memory_equal(b.uid_commitment, r.uid_commitment, 32);
	/* the address key is the VRF output of the normalized address */
	assert_memory_equal(b.address_key, r.address_key, 32);
	assert_int_equal(pgp_address_vrf(F.vrf, beta, NULL, "alice@example.com", 17), 0);
	assert_memory_equal(b.address_key, beta, 32);
	/* the exact v2 layout: version, fprs, type, time, domain, address key,
	 * commitment, then the primary key */
	{
		size_t off = 1 + 21 + 21 + 1 + 8 + 12;
		assert_memory_equal(r.body + off, beta, 32);
		assert_memory_equal(r.body + off + 32, r.uid_commitment, 32);
		assert_ptr_equal(b.primary_key.data, r.body + off + 64 + 3);
	}
	/* no user ID in clear */
	assert_null(memmem(r.body, r.body_len, ALICE, strlen(ALICE)));
	assert_null(memmem(r.body, r.body_len, "alice@", 6));
	assert_null(memmem(r.body, r.body_len, "Alice", 5));

	/* the opening holds the user ID and both signatures over it */
	assert_int_equal(pgp_opening_parse(&o, 2, r.opening, r.opening_len), 0);
	assert_true(cbs_mem_equal(&o.user_id, (const uint8_t *)ALICE, strlen(ALICE)));
	assert_int_equal(r.opening_len, PGP_SALT_LEN + 2 + strlen(ALICE) + 3 +
						cbs_len(&o.self_sig) + 3 + cbs_len(&o.certifier_sig));
	/* and the leaf holds neither signature packet, nor even their values */
	assert_null(memmem(r.body, r.body_len, cbs_data(&o.self_sig), cbs_len(&o.self_sig)));
	assert_null(memmem(r.body, r.body_len, cbs_data(&o.certifier_sig),
			   cbs_len(&o.certifier_sig)));
	{
		struct cbs sv = sig_value(&o.self_sig), cv = sig_value(&o.certifier_sig);
		assert_true(cbs_len(&sv) > 32 && cbs_len(&cv) > 32);
		assert_null(memmem(r.body, r.body_len, cbs_data(&sv), cbs_len(&sv)));
		assert_null(memmem(r.body, r.body_len, cbs_data(&cv), cbs_len(&cv)));
	}
	/* An offline guesser with the leaf alone has nothing to verify a guess
	 * against: parsing every packet of the leaf finds the primary key,
	 * subkeys and subkey bindings (0x18), which sign no user ID. */
	assert_int_equal(cbs_len(&b.self_sig), 0);
	assert_int_equal(cbs_len(&b.certifier_sig), 0);
	{
		struct cbs list = b.subkeys, k, sg, body;
		uint8_t tag;
		size_t num_sigs = 0;
		while (cbs_len(&list)) {
			assert_true(pgp_body_next_subkey(&list, &k, &sg));
			assert_true(pgp_packet_get(&sg, &tag, &body, NULL));
			assert_int_equal(tag, 2);
			assert_int_equal(cbs_data(&body)[1], 0x18);
			num_sigs++;
		}
		assert_int_equal(num_sigs, 1);
	}

	/* the commitment opens with the opening, and only with it: a change in
	 * the salt, the user ID or either signature does not open it */
	assert_true(pgp_opening_matches(&b, r.opening, r.opening_len));
	{
		size_t at[] = {0, PGP_SALT_LEN - 1, PGP_SALT_LEN + 2,
			       PGP_SALT_LEN + 2 + strlen(ALICE) - 1,
			       (size_t)(cbs_data(&o.self_sig) - r.opening) + 5,
			       (size_t)(cbs_data(&o.self_sig) - r.opening) + cbs_len(&o.self_sig) - 1,
			       (size_t)(cbs_data(&o.certifier_sig) - r.opening) + 5,
			       r.opening_len - 1};
		uint8_t *tpk;
		size_t tpk_len;
		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			r.opening[at[i]] ^= 1;
			assert_false(pgp_opening_matches(&b, r.opening, r.opening_len));
			assert_int_equal(pgp_body_to_tpk(&tpk, &tpk_len, &b, r.opening, r.opening_len),
					 MN_EINVAL);
			r.opening[at[i]] ^= 1;
		}
		/* nor do a shorter or longer opening, or a v1-style one */
		assert_false(pgp_opening_matches(&b, r.opening, r.opening_len - 1));
		assert_false(pgp_opening_matches(&b, r.opening, PGP_SALT_LEN + strlen(ALICE)));
		assert_true(pgp_opening_matches(&b, r.opening, r.opening_len));
	}

	/* canonical signatures: unhashed area is exactly Issuer(certifier key ID) */
	{
		struct cbs c = o.certifier_sig, body, hashed, unhashed;
		uint8_t tag, v[4];
		assert_true(pgp_packet_get(&c, &tag, &body, NULL));
		assert_true(cbs_copy_bytes(&body, v, 4));
		assert_int_equal(v[0], 4);
		assert_int_equal(v[1], 0x10);
		assert_true(cbs_get_u16_length_prefixed(&body, &hashed));
		assert_true(cbs_get_u16_length_prefixed(&body, &unhashed));
		assert_int_equal(cbs_len(&unhashed), 10);
		assert_int_equal(cbs_data(&unhashed)[0], 9);
		assert_int_equal(cbs_data(&unhashed)[1], 16);
		assert_int_equal(hex_decode_test(fpr, F.ca), 20);
		assert_memory_equal(cbs_data(&unhashed) + 2, fpr + 12, 8);
	}

	/* gpg and RNP, independently: the key rebuilt from leaf and opening has
	 * the exact user ID, and the self-signature, the certification and the
	 * subkey binding all verify */
	uint8_t *tpk;
	size_t tpk_len;
	assert_int_equal(pgp_body_to_tpk(&tpk, &tpk_len, &b, r.opening, r.opening_len), 0);
	assert_int_equal(rnp_check_tpk(tpk, tpk_len, F.alice), 2);
	char *out = gpg_check_sigs(tpk, tpk_len, F.alice);
	assert_non_null(strstr(out, "uid:"));
	assert_non_null(strstr(out, "Alice <alice@example.com>"));
	assert_int_equal(count(out, "\nuid:"), 1);
	assert_int_equal(count(out, "\nsub:"), 1);
	assert_int_equal(count(out, "\nsig:!:"), 3);
	assert_int_equal(count(out, "sig:-:"), 0);
	assert_int_equal(count(out, "sig:?:"), 0);
	assert_non_null(strstr(out, F.ca + 24)); /* certifier's key ID */

	/* version 1: the same endorsement as the log wrote it before version 2
	 * still parses, opens and rebuilds the very same key */
	{
		struct buf b1, o1;
		struct pgp_body p1;
		struct pgp_opening q1;
		uint8_t *tpk1;
		size_t tpk1_len;

		v1_body(&b1, &o1, &r);
		assert_int_equal(pgp_body_parse(&p1, b1.p, b1.len), 0);
		assert_int_equal(p1.version, 1);
		assert_int_equal(p1.sig_type, 0x10);
		assert_int_equal(p1.num_subkeys, 1);
		assert_true(cbs_len(&p1.self_sig) > 0 && cbs_len(&p1.certifier_sig) > 0);
		assert_int_equal(pgp_opening_parse(&q1, 1, o1.p, o1.len), 0);
		assert_true(cbs_mem_equal(&q1.user_id, (const uint8_t *)ALICE, strlen(ALICE)));
		assert_true(pgp_opening_matches(&p1, o1.p, o1.len));
		/* a v2 opening does not open a v1 body, nor a v1 opening a v2 one */
		assert_false(pgp_opening_matches(&p1, r.opening, r.opening_len));
		assert_false(pgp_opening_matches(&b, o1.p, o1.len));
		o1.p[o1.len - 1] ^= 1;
		assert_false(pgp_opening_matches(&p1, o1.p, o1.len));
		o1.p[o1.len - 1] ^= 1;
		assert_int_equal(pgp_body_to_tpk(&tpk1, &tpk1_len, &p1, o1.p, o1.len), 0);
		assert_int_equal(tpk1_len, tpk_len);
		assert_memory_equal(tpk1, tpk, tpk_len);
		free(tpk1);
		free(b1.p);
		free(o1.p);
	}
	free(tpk);
	pgp_result_cleanup(&r);
}

/* The address key: alpha is built in one place, from the normalized address;
 * the proof verifies under the public key; a failing callback fails the check. */
static int addr_seen_len;
static char addr_seen[300];

static int failing_addr_key(void *ctx, uint8_t out[32], const char *addr, size_t addr_len)
{
	(void)ctx;
	(void)out;
	addr_seen_len = (int)addr_len;
	memcpy(addr_seen, addr, addr_len < sizeof(addr_seen) ? addr_len : sizeof(addr_seen));
	return MN_ENOMEM;
}

static void test_address_key(void **state)
{
	static const char want[] = "mn-map-email-pgp\0alice@example.com";
	uint8_t alpha[PGP_MAX_ALPHA_LEN], beta[32], beta2[32], proof[VRF_PROOF_LEN];
	uint8_t pub[VRF_PUBLIC_LEN];
	struct pgp_result r;
	const char *reason = NULL;

	(void)state;
	need_fixtures();
	assert_int_equal(pgp_address_alpha(alpha, sizeof(alpha), "Alice@Example.COM", 17),
			 (int)sizeof(want) - 1);
	assert_memory_equal(alpha, want, sizeof(want) - 1);
	assert_int_equal(pgp_address_alpha(alpha, sizeof(alpha), "no address", 10), MN_EMALFORMED);
	assert_int_equal(pgp_address_alpha(alpha, 20, "alice@example.com", 17), MN_EINVAL);
	/* the same key however the address is written */
	assert_int_equal(pgp_address_vrf(F.vrf, beta, proof, "Alice@EXAMPLE.com", 17), 0);
	assert_int_equal(pgp_address_vrf(F.vrf, beta2, NULL, "alice@example.com", 17), 0);
	assert_memory_equal(beta, beta2, 32);
	vrf_public(F.vrf, pub);
	memset(beta2, 0, sizeof(beta2));
	assert_int_equal(pgp_address_vrf_verify(beta2, pub, proof, "alice@example.com", 17), 1);
	assert_memory_equal(beta, beta2, 32);
	assert_int_equal(pgp_address_vrf_verify(beta2, pub, proof, "bob@example.com", 15), 0);
	assert_int_equal(pgp_address_vrf(F.vrf, beta2, NULL, "bob@example.com", 15), 0);
	assert_memory_not_equal(beta, beta2, 32);
	/* it is alpha, not the bare address, that is hashed */
	assert_int_equal(vrf_hash(F.vrf, beta2, (const uint8_t *)"alice@example.com", 17), 0);
	assert_memory_not_equal(beta, beta2, 32);
	assert_int_equal(vrf_hash(F.vrf, beta2, (const uint8_t *)want, sizeof(want) - 1), 0);
	assert_memory_equal(beta, beta2, 32);

	/* the callback sees the normalized address; its failure is the check's */
	int rv = pgp_endorsement_check(F.c, failing_addr_key, NULL, &r, &reason, F.ca_cert.p,
				       F.ca_cert.len, (const uint8_t *)ALICE, strlen(ALICE),
				       F.ca, strlen(F.ca), F.now);
	assert_int_equal(rv, MN_ENOMEM);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "address key"));
	assert_null(r.body);
	assert_null(r.opening);
	assert_int_equal(addr_seen_len, 17);
	assert_memory_equal(addr_seen, "alice@example.com", 17);
	/* no callback is a programming error */
	rv = pgp_endorsement_check(F.c, NULL, NULL, &r, &reason, F.ca_cert.p, F.ca_cert.len,
				   (const uint8_t *)ALICE, strlen(ALICE), F.ca, strlen(F.ca), F.now);
	assert_int_equal(rv, MN_EINVAL);
	/* the ready-made callback without a key */
	assert_int_equal(pgp_addr_key_vrf(NULL, beta, "alice@example.com", 17), MN_EINVAL);
}

/* strip_certs copies |in| without its 0x10-0x13 certifications by keys other
 * than |keep_fpr| (so only self-signatures, given the endorsed key's own
 * fingerprint, and revocations remain). Returns the index in |out| of the
 * last 0x30 packet, or SIZE_MAX. */
static size_t strip_certs(struct buf *out, const struct buf *in, const char *keep_fpr)
{
	struct pkts p, q;
	uint8_t fpr[20];
	size_t rev = SIZE_MAX;
	assert_int_equal(hex_decode_test(fpr, keep_fpr), 20);
	split(&p, in);
	q.n = 0;
	for (size_t i = 0; i < p.n; i++) {
		if (p.tag[i] == 2) {
			struct cbs c = p.p[i], body;
			uint8_t tag;
			assert_true(pgp_packet_get(&c, &tag, &body, NULL));
			uint8_t type = cbs_data(&body)[1];
			/* gpg writes the issuer fingerprint in the hashed area */
			int self = memmem(cbs_data(&body), cbs_len(&body), fpr, 20) != NULL;
			if (type >= 0x10 && type <= 0x13 && !self)
				continue;
			if (type == 0x30)
				rev = q.n;
		}
		q.p[q.n] = p.p[i];
		q.tag[q.n++] = p.tag[i];
	}
	join(out, &q, SIZE_MAX);
	return rev;
}

/* sig_body_at returns the (writable) body of signature packet |idx| in |b|. */
static uint8_t *sig_body_at(struct buf *b, size_t idx, size_t *out_len)
{
	struct pkts p;
	struct cbs c, body;
	uint8_t tag;
	split(&p, b);
	assert_true(idx < p.n);
	c = p.p[idx];
	assert_true(pgp_packet_get(&c, &tag, &body, NULL));
	assert_int_equal(tag, 2);
	*out_len = cbs_len(&body);
	return b->p + (cbs_data(&body) - b->p);
}

static void expect_revocation(const struct pgp_certifiers *c, const struct buf *cert,
			      const char *uid, const char *signer)
{
	struct pgp_result r;
	const char *reason = NULL;
	int rv = pgp_endorsement_check(c, pgp_addr_key_vrf, F.vrf, &r, &reason, cert->p, cert->len,
				       (const uint8_t *)uid, strlen(uid), signer,
				       strlen(signer), F.now);
	if (rv)
		fprintf(stderr, "%s: %s\n", mn_err_name(rv), reason);
	assert_int_equal(rv, 0);
	assert_int_equal(r.revocation, 1);
	assert_int_equal(r.sig_type, 0x30);
	assert_true(r.sig_created_s >= F.now - 600 && r.sig_created_s <= F.now + 600);
	struct pgp_body b;
	assert_int_equal(pgp_body_parse(&b, r.body, r.body_len), 0);
	assert_int_equal(b.sig_type, 0x30);
	/* gpg, independently, finds the stored revocation good */
	uint8_t *tpk;
	size_t tpk_len;
	assert_int_equal(pgp_body_to_tpk(&tpk, &tpk_len, &b, r.opening, r.opening_len), 0);
	if (c == F.c) {
		char *out = gpg_check_sigs(tpk, tpk_len, F.alice);
		assert_non_null(strstr(out, "\nrev:!:"));
	}
	free(tpk);
	pgp_result_cleanup(&r);
}

static void test_revocation(void **state)
{
	(void)state;
	need_fixtures();
	/* gpg --quick-revoke-sig made a valid 0x30 (gpg --check-sigs says so);
	 * RNP 0.16 cannot verify it, the module does, with OpenSSL. */
	struct buf tpk = F.rev;
	char path[160], args[512], cmd[512], out[16384];
	snprintf(path, sizeof(path), "%s/rev.pgp", F.dir);
	assert_int_equal(write_all(path, tpk.p, tpk.len), 0);
	snprintf(args, sizeof(args), "--import %s", path);
	assert_int_equal(gpg(F.home2, args), 0);
	snprintf(path, sizeof(path), "%s/certs.pgp", F.dir);
	assert_int_equal(write_all(path, F.certs.p, F.certs.len), 0);
	snprintf(args, sizeof(args), "--import %s", path);
	assert_int_equal(gpg(F.home2, args), 0);
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --no-tty --homedir %s --with-colons --check-sigs %s 2>/dev/null",
		 F.home2, F.alice);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	assert_non_null(strstr(out, "\nrev:!:"));
	snprintf(args, sizeof(args), "--yes --delete-keys %s", F.alice);
	assert_int_equal(gpg(F.home2, args), 0);

	/* Ed25519: the revocation is newer than the certification and wins */
	expect_revocation(F.c, &F.rev, ALICE, F.ca);
	/* the same key without the revocation is still a fine endorsement */
	struct pgp_result r;
	const char *reason;
	assert_int_equal(check(&r, &reason, &F.junk, ALICE, F.ca, F.now), 0);
	assert_int_equal(r.revocation, 0);
	pgp_result_cleanup(&r);

	/* the revocation alone (no certification next to it) */
	struct buf only, bad;
	size_t ri = strip_certs(&only, &F.rev, F.alice), blen;
	assert_int_not_equal(ri, SIZE_MAX);
	expect_revocation(F.c, &only, ALICE, F.ca);
	/* a flipped signature byte, and a flipped hashed byte */
	bad.len = only.len;
	bad.p = malloc(only.len);
	assert_non_null(bad.p);
	memcpy(bad.p, only.p, only.len);
	uint8_t *body = sig_body_at(&bad, ri, &blen);
	body[blen - 1] ^= 1;
	expect_fail(&bad, ALICE, F.ca, F.now, MN_EBADSIG, "does not verify");
	body[blen - 1] ^= 1;
	body[8] ^= 1; /* inside the hashed subpackets (the issuer fingerprint) */
	expect_fail(&bad, ALICE, F.ca, F.now, MN_EBADSIG, "does not verify");
	body[8] ^= 1;
	free(bad.p);
	free(only.p);

	/* RSA (the SHA-1 certification is unusable, the revocation is not) */
	expect_revocation(F.c, &F.rsa_rev, ALICE, F.weak);
	/* ECDSA P-256 */
	expect_revocation(F.c256, &F.p256_rev, ALICE, F.p256);

	/* a revocation by a key that is not configured */
	size_t ei = strip_certs(&only, &F.eve_rev, F.alice);
	assert_int_not_equal(ei, SIZE_MAX);
	expect_fail(&F.eve_rev, ALICE, F.eve, F.now, MN_EBADCERT, "not a configured certifier");
	struct pkts ps;
	split(&ps, &only);
	/* drop the CA's and the RSA certifier's revocations: only Eve's is left */
	{
		struct pkts q = {.n = 0};
		for (size_t i = 0; i < ps.n; i++) {
			if (ps.tag[i] == 2) {
				struct cbs c = ps.p[i], b2;
				uint8_t tag, fpr[20];
				assert_true(pgp_packet_get(&c, &tag, &b2, NULL));
				assert_int_equal(hex_decode_test(fpr, F.eve), 20);
				if (cbs_data(&b2)[1] == 0x30 &&
				    !memmem(cbs_data(&b2), cbs_len(&b2), fpr, 20))
					continue;
			}
			q.p[q.n] = ps.p[i];
			q.tag[q.n++] = ps.tag[i];
		}
		join(&bad, &q, SIZE_MAX);
	}
	expect_fail(&bad, ALICE, F.ca, F.now, MN_EBADCERT, "no certification");
	free(bad.p);
	free(only.p);

	/* a SHA-1 revocation (hash algorithm 2) is refused */
	size_t si = strip_certs(&only, &F.sha1_rev, F.bob);
	assert_int_not_equal(si, SIZE_MAX);
	assert_int_equal(sig_body_at(&only, si, &blen)[3], 2);
	expect_fail(&only, "Bob <bob@example.com>", F.weak, F.now, MN_EBADCERT, "weak hash");
	free(only.p);
}

static void test_dedup(void **state)
{
	(void)state;
	need_fixtures();
	struct pgp_result a, b, c, d;
	const char *reason = NULL;
	struct pkts p;
	struct buf old = {0};

	assert_int_equal(check(&a, &reason, &F.ca_cert, ALICE, F.ca, F.now), 0);
	/* junk: another user ID, a third party's certifications */
	int rv = check(&b, &reason, &F.junk, ALICE, F.ca, F.now);
	if (rv)
		fprintf(stderr, "%s: %s\n", mn_err_name(rv), reason);
	assert_int_equal(rv, 0);
	assert_memory_equal(a.dedup_key, b.dedup_key, 32);
	/* same again: same key, fresh salt */
	assert_int_equal(check(&c, &reason, &F.ca_cert, ALICE, F.ca, F.now), 0);
	assert_memory_equal(a.dedup_key, c.dedup_key, 32);
	assert_memory_not_equal(a.opening, c.opening, PGP_SALT_LEN);
	assert_memory_not_equal(a.uid_commitment, c.uid_commitment, 32);
	/* and the junk is gone: same body as the clean submission but for the
	 * commitment (the extra user ID's address is nowhere) */
	assert_int_equal(a.body_len, b.body_len);
	assert_null(memmem(b.body, b.body_len, "work.example", 12));
	assert_null(memmem(b.body, b.body_len, F.eve + 24, 16));

	/* re-encoding: every packet with an old-format 4-byte length header */
	split(&p, &F.ca_cert);
	old.p = malloc(F.ca_cert.len + 8 * p.n);
	assert_non_null(old.p);
	for (size_t i = 0; i < p.n; i++) {
		struct cbs q = p.p[i], body;
		uint8_t tag;
		assert_true(pgp_packet_get(&q, &tag, &body, NULL));
		assert_true(tag < 16);
		old.p[old.len++] = (uint8_t)(0x80 | tag << 2 | 2);
		old.p[old.len++] = (uint8_t)(cbs_len(&body) >> 24);
		old.p[old.len++] = (uint8_t)(cbs_len(&body) >> 16);
		old.p[old.len++] = (uint8_t)(cbs_len(&body) >> 8);
		old.p[old.len++] = (uint8_t)cbs_len(&body);
		memcpy(old.p + old.len, cbs_data(&body), cbs_len(&body));
		old.len += cbs_len(&body);
	}
	assert_int_not_equal(old.len, F.ca_cert.len);
	assert_int_equal(check(&d, &reason, &old, ALICE, F.ca, F.now), 0);
	assert_memory_equal(a.dedup_key, d.dedup_key, 32);
	/* bodies equal once the commitment is set aside */
	struct pgp_body ba, bd;
	assert_int_equal(pgp_body_parse(&ba, a.body, a.body_len), 0);
	assert_int_equal(pgp_body_parse(&bd, d.body, d.body_len), 0);
	memcpy(bd.uid_commitment, ba.uid_commitment, 32);
	assert_int_equal(a.body_len, d.body_len);
	size_t off = (size_t)(ba.primary_key.data - a.body);
	assert_memory_equal(a.body + off, d.body + off, a.body_len - off);
	free(old.p);
	/* the dedup key as pgp.h writes it down, and tagged apart from the
	 * version 1 one: the same fields under "mn-dedup-pgp\0" differ */
	{
		struct pgp_opening o;
		struct cbs sig, body, hashed;
		uint8_t tag, v[4], k1[32], k2[32];
		static const uint8_t l1[] = "mn-dedup-pgp", l2[] = "mn-dedup-pgp2";
		const uint8_t *labels[2] = {l1, l2};
		size_t label_len[2] = {sizeof(l1), sizeof(l2)};
		uint8_t *outs[2] = {k1, k2};

		assert_int_equal(pgp_opening_parse(&o, 2, a.opening, a.opening_len), 0);
		sig = o.certifier_sig;
		assert_true(pgp_packet_get(&sig, &tag, &body, NULL));
		size_t plen = cbs_len(&body);
		assert_true(cbs_copy_bytes(&body, v, 4));
		assert_true(cbs_get_u16_length_prefixed(&body, &hashed));
		plen -= cbs_len(&body);
		for (int i = 0; i < 2; i++) {
			EVP_MD_CTX *md = EVP_MD_CTX_new();
			uint8_t n20 = 20, ul[4] = {0, 0, 0, (uint8_t)strlen(ALICE)},
				pl[4] = {0, 0, (uint8_t)(plen >> 8), (uint8_t)plen};
			assert_non_null(md);
			assert_true(EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
				    EVP_DigestUpdate(md, labels[i], label_len[i]) &&
				    EVP_DigestUpdate(md, &n20, 1) &&
				    EVP_DigestUpdate(md, a.endorsed_fpr, 20) &&
				    EVP_DigestUpdate(md, &n20, 1) &&
				    EVP_DigestUpdate(md, a.certifier_fpr, 20) &&
				    EVP_DigestUpdate(md, ul, 4) &&
				    EVP_DigestUpdate(md, ALICE, strlen(ALICE)) &&
				    EVP_DigestUpdate(md, pl, 4) &&
				    EVP_DigestUpdate(md, cbs_data(&o.certifier_sig) + 2, plen) &&
				    EVP_DigestFinal_ex(md, outs[i], NULL));
			EVP_MD_CTX_free(md);
		}
		assert_memory_equal(k2, a.dedup_key, 32);
		assert_memory_not_equal(k1, a.dedup_key, 32);
	}
	pgp_result_cleanup(&a);
	pgp_result_cleanup(&b);
	pgp_result_cleanup(&c);
	pgp_result_cleanup(&d);
}

static void test_forged(void **state)
{
	(void)state;
	need_fixtures();
	struct pkts cert, plain;
	split(&cert, &F.ca_cert);
	split(&plain, &F.plain);
	size_t i = ca_sig_index(&cert, &plain);
	struct buf forged = {malloc(F.ca_cert.len), F.ca_cert.len};
	assert_non_null(forged.p);
	memcpy(forged.p, F.ca_cert.p, F.ca_cert.len);
	/* the last byte of the signature value */
	size_t last = (size_t)(cbs_data(&cert.p[i]) - F.ca_cert.p) + cbs_len(&cert.p[i]) - 1;
	forged.p[last] ^= 0x01;
	expect_fail(&forged, ALICE, F.ca, F.now, MN_EBADSIG, "does not verify");
	free(forged.p);
}

static void test_missing_self_sig(void **state)
{
	(void)state;
	need_fixtures();
	struct pkts cert, plain;
	struct buf b;
	split(&cert, &F.ca_cert);
	split(&plain, &F.plain);
	/* plain is key, uid, self-signature, subkey, binding */
	assert_int_equal(plain.n, 5);
	assert_int_equal(plain.tag[2], 2);
	size_t self = SIZE_MAX;
	for (size_t i = 0; i < cert.n; i++)
		if (cbs_len(&cert.p[i]) == cbs_len(&plain.p[2]) &&
		    !memcmp(cbs_data(&cert.p[i]), cbs_data(&plain.p[2]), cbs_len(&plain.p[2])))
			self = i;
	assert_int_not_equal(self, SIZE_MAX);
	join(&b, &cert, self);
	expect_fail(&b, ALICE, F.ca, F.now, MN_EBADCERT, "no self-signature");
	free(b.p);
}

static void test_rejections(void **state)
{
	(void)state;
	need_fixtures();
	/* signer not configured (eve did certify alice in junk) */
	expect_fail(&F.junk, ALICE, F.eve, F.now, MN_EBADCERT, "not a configured certifier");
	/* configured, but never signed this user ID */
	expect_fail(&F.plain, ALICE, F.ca, F.now, MN_EBADCERT, "no certification");
	/* SHA-1 certification by a configured certifier */
	expect_fail(&F.sha1, ALICE, F.weak, F.now, MN_EBADCERT, "weak hash");
	/* secret key material */
	expect_fail(&F.secret, ALICE, F.ca, F.now, MN_EMALFORMED, "secret key");
	/* user ID not on the key, including one that differs only in case */
	expect_fail(&F.ca_cert, "Alice <alice@example.org>", F.ca, F.now, MN_EBADCERT,
		    "not on the key");
	expect_fail(&F.ca_cert, "alice <alice@example.com>", F.ca, F.now, MN_EBADCERT,
		    "not on the key");
	expect_fail(&F.ca_cert, "Alice", F.ca, F.now, MN_EBADCERT, "email address");
	/* expired key: bob's key lives one day */
	expect_fail(&F.bob_cert, "Bob <bob@example.com>", F.ca, F.now + 2 * DAY,
		    MN_EBADCERT, "key has expired");
	/* ...and was fine before that */
	struct pgp_result r;
	const char *reason;
	assert_int_equal(check(&r, &reason, &F.bob_cert, "Bob <bob@example.com>", F.ca, F.now), 0);
	pgp_result_cleanup(&r);
	/* insane times: judged a day before the key existed */
	expect_fail(&F.ca_cert, ALICE, F.ca, F.now - DAY, MN_EBADCERT, "in the future");
	/* malformed signer */
	expect_fail(&F.ca_cert, ALICE, "xyz", F.now, MN_EMALFORMED, "hex");
	/* armor is not binary */
	struct buf junk = {(uint8_t *)"-----BEGIN PGP PUBLIC KEY BLOCK-----", 36};
	expect_fail(&junk, ALICE, F.ca, F.now, MN_EMALFORMED, "not binary OpenPGP");
	/* two keys */
	struct buf two = {malloc(2 * F.ca_cert.len), 2 * F.ca_cert.len};
	assert_non_null(two.p);
	memcpy(two.p, F.ca_cert.p, F.ca_cert.len);
	memcpy(two.p + F.ca_cert.len, F.ca_cert.p, F.ca_cert.len);
	expect_fail(&two, ALICE, F.ca, F.now, MN_EMALFORMED, "one primary key");
	free(two.p);
	/* endorsing the certifier itself */
	struct buf cab;
	assert_int_equal(export_key(F.ca, &cab), 0);
	expect_fail(&cab, "Cert Authority <ca@certifier.example>", F.ca, F.now, MN_EBADCERT,
		    "own key");
	free(cab.p);
}

static void test_truncated(void **state)
{
	(void)state;
	need_fixtures();
	struct pkts p;
	split(&p, &F.ca_cert);
	for (size_t len = 0; len < F.ca_cert.len; len++) {
		struct buf b = {F.ca_cert.p, len};
		struct pgp_result r;
		const char *reason = NULL;
		int boundary = 0;
		for (size_t i = 0; i < p.n; i++)
			boundary |= (size_t)(cbs_data(&p.p[i]) - F.ca_cert.p) == len;
		int rv = check(&r, &reason, &b, ALICE, F.ca, F.now);
		if (!boundary) {
			assert_int_equal(rv, MN_EMALFORMED);
		} else {
			/* a shorter but whole key: fine or rejected, never a crash */
			assert_true(rv <= 0);
			assert_non_null(rv ? reason : "ok");
		}
		pgp_result_cleanup(&r);
	}
}

static void test_certifiers(void **state)
{
	(void)state;
	need_fixtures();
	struct pgp_certifiers *c = NULL, *s = NULL;
	char pol[512];
	size_t len;

	/* sorted by fingerprint, with keys gpg agrees about */
	assert_int_equal(pgp_certifiers_count(F.c), 2);
	const char *first = strcmp(F.ca, F.weak) < 0 ? F.ca : F.weak;
	const char *second = first == F.ca ? F.weak : F.ca;
	assert_string_equal(pgp_certifiers_fpr_hex(F.c, 0), first);
	assert_string_equal(pgp_certifiers_fpr_hex(F.c, 1), second);
	assert_null(pgp_certifiers_fpr_hex(F.c, 2));
	assert_non_null(pgp_certifiers_fpr(F.c, 0, &len));
	assert_int_equal(len, 20);
	const uint8_t *k = pgp_certifiers_key(F.c, 1, &len);
	assert_non_null(k);
	{
		char path[160], cmd[512], line[512];
		snprintf(path, sizeof(path), "%s/c1.pgp", F.dir);
		assert_int_equal(write_all(path, k, len), 0);
		snprintf(cmd, sizeof(cmd),
			 "gpg --batch --no-tty --homedir %s --with-colons --show-keys %s 2>/dev/null",
			 F.home2, path);
		FILE *p = popen(cmd, "r");
		int seen = 0;
		assert_non_null(p);
		while (fgets(line, sizeof(line), p))
			if (!strncmp(line, "fpr:::::::::", 12) && !strncmp(line + 12, second, 40))
				seen = 1;
		pclose(p);
		assert_true(seen);
	}
	assert_int_equal(pgp_certifiers_num_scopes(F.c, 0), 0);
	assert_int_equal(pgp_certifiers_expires(F.c, 0), 0);

	/* armored keyring: the same set */
	assert_int_equal(pgp_certifiers_load(&c, F.certs_armored.p, F.certs_armored.len, NULL, 0), 0);
	assert_int_equal(pgp_certifiers_count(c), 2);
	assert_string_equal(pgp_certifiers_fpr_hex(c, 0), first);
	pgp_certifiers_free(c);
	c = NULL;
	/* secret keys are refused */
	assert_int_equal(pgp_certifiers_load(&c, F.secret_certs.p, F.secret_certs.len, NULL, 0),
			 MN_EINVAL);
	assert_int_equal(pgp_certifiers_load(&c, (const uint8_t *)"junk", 4, NULL, 0),
			 MN_EMALFORMED);

	/* policy: scope and expiry, through the file loader */
	snprintf(pol, sizeof(pol),
		 "# certifiers\n%s scope=Example.ORG,other.example\n\n%s expires=2000-01-01\n",
		 F.ca, F.weak);
	char path[160], ppath[176];
	snprintf(path, sizeof(path), "%s/certifiers.pgp", F.dir);
	snprintf(ppath, sizeof(ppath), "%s.policy", path);
	assert_int_equal(write_all(path, F.certs.p, F.certs.len), 0);
	assert_int_equal(write_all(ppath, (const uint8_t *)pol, strlen(pol)), 0);
	assert_int_equal(pgp_certifiers_load_file(&s, path), 0);
	size_t ica = strcmp(pgp_certifiers_fpr_hex(s, 0), F.ca) ? 1 : 0;
	assert_int_equal(pgp_certifiers_num_scopes(s, ica), 2);
	assert_string_equal(pgp_certifiers_scope(s, ica, 0), "example.org");
	assert_int_equal(pgp_certifiers_expires(s, 1 - ica), 946684800); /* 2000-01-01 */
	struct pgp_certifiers *keep = F.c;
	F.c = s;
	expect_fail(&F.ca_cert, ALICE, F.ca, F.now, MN_EBADCERT, "outside the certifier's scope");
	expect_fail(&F.sha1, ALICE, F.weak, F.now, MN_EBADCERT, "configured term");
	F.c = keep;
	pgp_certifiers_free(s);
	s = NULL;

	/* a scope covering subdomains admits alice */
	snprintf(pol, sizeof(pol), "%s scope=com\n", F.ca);
	assert_int_equal(pgp_certifiers_load(&s, F.certs.p, F.certs.len, pol, strlen(pol)), 0);
	F.c = s;
	struct pgp_result r;
	const char *reason;
	assert_int_equal(check(&r, &reason, &F.ca_cert, ALICE, F.ca, F.now), 0);
	pgp_result_cleanup(&r);
	F.c = keep;
	pgp_certifiers_free(s);

	/* bad policies */
	for (int i = 0; i < 6; i++) {
		switch (i) {
		case 0: snprintf(pol, sizeof(pol), "00112233445566778899AABBCCDDEEFF00112233\n"); break;
		case 1: snprintf(pol, sizeof(pol), "%s scope=-bad\n", F.ca); break;
		case 2: snprintf(pol, sizeof(pol), "%s expires=2027-02-30\n", F.ca); break;
		case 3: snprintf(pol, sizeof(pol), "%s colour=blue\n", F.ca); break;
		case 4: snprintf(pol, sizeof(pol), "%s\n%s\n", F.ca, F.ca); break;
		default: snprintf(pol, sizeof(pol), "%s scope=a..b\n", F.ca); break;
		}
		s = NULL;
		assert_int_equal(pgp_certifiers_load(&s, F.certs.p, F.certs.len, pol, strlen(pol)),
				 MN_EINVAL);
		assert_null(s);
	}
}

static void test_body_parse_rejects(void **state)
{
	(void)state;
	need_fixtures();
	struct pgp_result r;
	const char *reason;
	struct pgp_body b;
	assert_int_equal(check(&r, &reason, &F.ca_cert, ALICE, F.ca, F.now), 0);
	/* every strict prefix, and a trailing byte, are malformed */
	for (size_t len = 0; len < r.body_len; len++)
		assert_int_equal(pgp_body_parse(&b, r.body, len), MN_EMALFORMED);
	uint8_t *longer = malloc(r.body_len + 1);
	assert_non_null(longer);
	memcpy(longer, r.body, r.body_len);
	longer[r.body_len] = 0;
	assert_int_equal(pgp_body_parse(&b, longer, r.body_len + 1), MN_EMALFORMED);
	longer[0] = 3; /* unknown version */
	assert_int_equal(pgp_body_parse(&b, longer, r.body_len), MN_EMALFORMED);
	longer[0] = 0;
	assert_int_equal(pgp_body_parse(&b, longer, r.body_len), MN_EMALFORMED);
	free(longer);
	/* the opening likewise: every strict prefix and a trailing byte */
	struct pgp_opening o;
	for (size_t len = 0; len < r.opening_len; len++)
		assert_int_equal(pgp_opening_parse(&o, 2, r.opening, len), MN_EMALFORMED);
	longer = malloc(r.opening_len + 1);
	assert_non_null(longer);
	memcpy(longer, r.opening, r.opening_len);
	longer[r.opening_len] = 0;
	assert_int_equal(pgp_opening_parse(&o, 2, longer, r.opening_len + 1), MN_EMALFORMED);
	assert_int_equal(pgp_opening_parse(&o, 3, longer, r.opening_len), MN_EMALFORMED);
	assert_int_equal(pgp_opening_parse(&o, 2, longer, r.opening_len), 0);
	free(longer);
	pgp_result_cleanup(&r);
}

static void test_packet_framing(void **state)
{
	(void)state;
	/* RFC 4880 section 4.2.2.4 lengths round-trip through the writer */
	static const size_t lens[] = {0, 1, 191, 192, 193, 8383, 8384, 70000};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct cbb c;
		uint8_t *p, *body = calloc(1, lens[i] + 1);
		size_t len;
		struct cbs in, got, whole;
		uint8_t tag;
		assert_non_null(body);
		assert_true(cbb_init(&c, 16, 1 << 20));
		assert_true(pgp_packet_add(&c, 13, body, lens[i]));
		assert_true(cbb_finish(&c, &p, &len));
		size_t hdr = lens[i] < 192 ? 2 : lens[i] < 8384 ? 3 : 6;
		assert_int_equal(len, hdr + lens[i]);
		cbs_init(&in, p, len);
		assert_true(pgp_packet_get(&in, &tag, &got, &whole));
		assert_int_equal(tag, 13);
		assert_int_equal(cbs_len(&got), lens[i]);
		assert_int_equal(cbs_len(&whole), len);
		assert_int_equal(cbs_len(&in), 0);
		free(p);
		free(body);
	}
	/* known encoding: two-octet length 0xC5 0xFB is 1723 (RFC 4880 4.2.3) */
	static uint8_t two[3 + 1723] = {0xc2, 0xc5, 0xfb};
	struct cbs in, got;
	uint8_t tag;
	cbs_init(&in, two, sizeof(two) - 1);
	assert_false(pgp_packet_get(&in, &tag, &got, NULL)); /* one byte short */
	assert_int_equal(cbs_len(&in), sizeof(two) - 1);     /* cursor unchanged */
	cbs_init(&in, two, sizeof(two));
	assert_true(pgp_packet_get(&in, &tag, &got, NULL));
	assert_int_equal(tag, 2);
	assert_int_equal(cbs_len(&got), 1723);
	/* old format, tag 6, two-byte length 0x0105 */
	static uint8_t old[3 + 0x105] = {0x99, 0x01, 0x05};
	cbs_init(&in, old, sizeof(old));
	assert_true(pgp_packet_get(&in, &tag, &got, NULL));
	assert_int_equal(tag, 6);
	assert_int_equal(cbs_len(&got), 0x105);
	/* partial length and indeterminate old-format length are refused */
	uint8_t partial[] = {0xcb, 0xe1, 0, 0};
	cbs_init(&in, partial, sizeof(partial));
	assert_false(pgp_packet_get(&in, &tag, &got, NULL));
	uint8_t indet[] = {0xb7, 0, 0};
	cbs_init(&in, indet, sizeof(indet));
	assert_false(pgp_packet_get(&in, &tag, &got, NULL));
	uint8_t not_pgp[] = {0x30, 0x03, 0, 0, 0};
	cbs_init(&in, not_pgp, sizeof(not_pgp));
	assert_false(pgp_packet_get(&in, &tag, &got, NULL));
}

static void *thread_main(void *arg)
{
	struct pgp_result r;
	const char *reason;
	uint8_t *key = arg;
	for (int i = 0; i < 4; i++) {
		if (check(&r, &reason, &F.ca_cert, ALICE, F.ca, F.now) != 0)
			return (void *)1;
		if (memcmp(r.dedup_key, key, 32)) {
			pgp_result_cleanup(&r);
			return (void *)1;
		}
		pgp_result_cleanup(&r);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	need_fixtures();
	struct pgp_result r;
	const char *reason;
	pthread_t t[4];
	assert_int_equal(check(&r, &reason, &F.ca_cert, ALICE, F.ca, F.now), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, r.dedup_key), 0);
	for (int i = 0; i < 4; i++) {
		void *ret;
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	pgp_result_cleanup(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet_framing),
		cmocka_unit_test(test_valid_endorsement),
		cmocka_unit_test(test_address_key),
		cmocka_unit_test(test_revocation),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_missing_self_sig),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_certifiers),
		cmocka_unit_test(test_body_parse_rejects),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
