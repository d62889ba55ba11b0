/* pgp.c: OpenPGP endorsements checked with RNP (see pgp.h for the rules and the
 * body format): pgp_endorsement_check, from the cheap checks (the signer, its
 * term and scope, the user ID's address) through RNP's import of both keys and
 * the key checks to the leaf (body, opening, commitment, dedup key).
 *
 * RNP does all OpenPGP parsing and signature verification except for a
 * certifier's certification revocation (0x30), which RNP 0.16 checks against
 * the wrong key and pgp_revocation.c verifies with OpenSSL. The pgp*.c files
 * otherwise only frame packets (RFC 4880 section 4.2 headers, to reject
 * truncation and secret key packets before RNP sees them, and to split what
 * RNP exports) and read the fixed leading fields of a v4 signature (section
 * 5.2.3) to replace its unhashed subpacket area. The steps of the check that
 * have files of their own:
 *
 *   pgp_sigs.c        judging the signatures RNP verified, and choosing the
 *                     self-signature, the certifier's signature and the
 *                     encryption subkeys the leaf carries
 *   pgp_revocation.c  the certifier's certification revocation, with OpenSSL
 *   pgp_export.c      finding the chosen packets in RNP's export of the key */
#include "entry/pgp.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "common/err.h"
#include "entry/ct.h"
#include "entry/pgp_internal.h"

static const uint8_t kDedupLabel[] = "mn-dedup-pgp2"; /* + its NUL: 14 bytes */

/* --- domains ---------------------------------------------------------------*/

/* uid_address finds the email address of a user ID, "Name <local@domain>"
 * (the last '<', and the '>' must end the user ID) or a bare "local@domain",
 * and writes its normalized domain (pgp__domain_normalize) to |out_domain|
 * and the whole address as names_email_normalize writes it to |out_addr|
 * (*out_addr_len bytes, NUL-terminated). Returns 1 or 0. */
static int uid_address(char out_domain[256], char out_addr[NAMES_MAX_EMAIL_LEN + 1],
		       size_t *out_addr_len, const uint8_t *uid, size_t len)
{
	const uint8_t *addr = uid;
	size_t addr_len = len, at;
	int n;

	for (size_t i = len; i > 0; i--) {
		if (uid[i - 1] == '<') {
			if (len < i + 1 || uid[len - 1] != '>')
				return 0;
			addr = uid + i;
			addr_len = len - i - 1;
			break;
		}
	}
	for (at = addr_len; at > 0 && addr[at - 1] != '@'; at--)
		;
	if (at < 2) /* no '@', or an empty local part */
		return 0;
	for (size_t i = 0; i < addr_len; i++)
		if (addr[i] <= ' ' || addr[i] == '<' || addr[i] == '>' || addr[i] >= 0x7f)
			return 0;
	if (!pgp__domain_normalize(out_domain, addr + at, addr_len - at))
		return 0;
	n = names_email_normalize(out_addr, NAMES_MAX_EMAIL_LEN + 1, (const char *)addr,
				  addr_len, 0);
	if (n <= 0)
		return 0;
	*out_addr_len = (size_t)n;
	return 1;
}

static int domain_in_scope(const char *domain, const char *scope)
{
	size_t dl = strlen(domain), sl = strlen(scope);
	if (dl == sl)
		return strcmp(domain, scope) == 0;
	return dl > sl && domain[dl - sl - 1] == '.' && strcmp(domain + dl - sl, scope) == 0;
}

/* --- checking ---------------------------------------------------------------*/

void pgp_result_cleanup(struct pgp_result *r)
{
	if (!r)
		return;
	free(r->body);
	if (r->opening)
		OPENSSL_cleanse(r->opening, r->opening_len);
	free(r->opening);
	memset(r, 0, sizeof(*r));
}

int pgp__fail(struct pgp__check *ck, int code, const char *reason)
{
	ck->reason = reason;
	return code;
}

static int cmp_sub(const void *a, const void *b)
{
	return memcmp(((const struct pgp__sub_pick *)a)->fpr,
		      ((const struct pgp__sub_pick *)b)->fpr, V4_FPR_LEN);
}

static void check_free(struct pgp__check *ck)
{
	rnp_key_handle_destroy(ck->key);
	rnp_key_handle_destroy(ck->cert_key);
	rnp_ffi_destroy(ck->ffi);
}

static int import_bytes(rnp_ffi_t ffi, const uint8_t *b, size_t len)
{
	rnp_input_t in = NULL;
	rnp_result_t r;
	if (rnp_input_from_memory(&in, b, len, false) != RNP_SUCCESS)
		return 0;
	r = rnp_import_keys(ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS, NULL);
	rnp_input_destroy(in);
	return r == RNP_SUCCESS;
}

/* build_body writes the canonical packets, then the opening (salt, user ID,
 * both signatures), its commitment and the PgpEndorsementBodyV2 (pgp.h) into
 * |out|; |cert_prefix| gets the certifier signature's signed prefix for the
 * dedup key (borrowing from |cert|). */
static int build_body(struct pgp__check *ck, struct pgp_result *out,
		      const uint8_t salt[PGP_SALT_LEN], const uint8_t *user_id,
		      size_t user_id_len, const struct cbs *key, const struct cbs *self,
		      const struct cbs *cert, struct pgp__sub_pick *subs, size_t num_subs,
		      struct cbs *cert_prefix)
{
	struct cbb kp, sp, cp, sl, f;
	struct cbs ignored, kpc, spc, cpc, slc;
	int ok, rv;

	/* four scratch builders, so that one cleanup path frees them all */
	ok = cbb_init(&kp, cbs_len(key) + 8, CT_MAX_BODY_LEN);
	ok = cbb_init(&sp, cbs_len(self) + 32, CT_MAX_BODY_LEN) && ok;
	ok = cbb_init(&cp, cbs_len(cert) + 32, CT_MAX_BODY_LEN) && ok;
	ok = cbb_init(&sl, 1024, CT_MAX_BODY_LEN) && ok;
	if (!ok) {
		rv = pgp__fail(ck, MN_ENOMEM, "out of memory");
		goto out;
	}
	ok = pgp_packet_add(&kp, 6, cbs_data(key), cbs_len(key)) &&
	     pgp__canonical_sig(&sp, &ignored, self, out->endorsed_fpr) &&
	     pgp__canonical_sig(&cp, cert_prefix, cert, out->certifier_fpr);
	for (size_t i = 0; ok && i < num_subs; i++)
		ok = cbb_add_u24_length_prefixed(&sl, &f) &&
		     pgp_packet_add(&f, 14, cbs_data(&subs[i].key), cbs_len(&subs[i].key)) &&
		     cbb_add_u24_length_prefixed(&sl, &f) &&
		     pgp__canonical_sig(&f, &ignored, &subs[i].binding, out->endorsed_fpr);
	ok = ok && cbb_flush(&sl);
	if (!ok) {
		rv = pgp__fail(ck, MN_ETOOBIG,
			       "endorsement does not fit a leaf, or a signature is not version 4");
		goto out;
	}
	cbs_init(&kpc, cbb_data(&kp), cbb_len(&kp));
	cbs_init(&spc, cbb_data(&sp), cbb_len(&sp));
	cbs_init(&cpc, cbb_data(&cp), cbb_len(&cp));
	cbs_init(&slc, cbb_data(&sl), cbb_len(&sl));
	rv = pgp__opening_v2_encode(&out->opening, &out->opening_len, salt, user_id, user_id_len,
				    &spc, &cpc);
	if (rv < 0) {
		pgp__fail(ck, rv, rv == MN_ENOMEM ? "out of memory" : "user ID and signatures are too large");
		goto out;
	}
	pgp_uid_commitment_v2(out->uid_commitment, out->opening, out->opening_len);
	rv = pgp__body_v2_encode(&out->body, &out->body_len, out, &kpc, &slc);
	if (rv < 0)
		pgp__fail(ck, rv, rv == MN_ENOMEM ? "out of memory" : "endorsement does not fit a leaf");
out:
	cbb_cleanup(&kp);
	cbb_cleanup(&sp);
	cbb_cleanup(&cp);
	cbb_cleanup(&sl);
	return rv;
}

static int dedup_key(struct pgp_result *out, const uint8_t *user_id,
		     size_t user_id_len, const struct cbs *prefix)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t l1 = (uint8_t)out->endorsed_fpr_len, l2 = (uint8_t)out->certifier_fpr_len;
	uint8_t ul[4] = {(uint8_t)(user_id_len >> 24), (uint8_t)(user_id_len >> 16),
			 (uint8_t)(user_id_len >> 8), (uint8_t)user_id_len};
	uint8_t pl[4] = {(uint8_t)(cbs_len(prefix) >> 24), (uint8_t)(cbs_len(prefix) >> 16),
			 (uint8_t)(cbs_len(prefix) >> 8), (uint8_t)cbs_len(prefix)};
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, kDedupLabel, sizeof(kDedupLabel)) &&
		 EVP_DigestUpdate(ctx, &l1, 1) &&
		 EVP_DigestUpdate(ctx, out->endorsed_fpr, l1) &&
		 EVP_DigestUpdate(ctx, &l2, 1) &&
		 EVP_DigestUpdate(ctx, out->certifier_fpr, l2) &&
		 EVP_DigestUpdate(ctx, ul, 4) &&
		 EVP_DigestUpdate(ctx, user_id, user_id_len) &&
		 EVP_DigestUpdate(ctx, pl, 4) &&
		 EVP_DigestUpdate(ctx, cbs_data(prefix), cbs_len(prefix)) &&
		 EVP_DigestFinal_ex(ctx, out->dedup_key, NULL);
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* scan_input frames every packet of the submission before RNP sees it. */
static int scan_input(struct pgp__check *ck, const uint8_t *cert, size_t cert_len,
		      struct cbs *out_key_body)
{
	struct cbs c, body;
	uint8_t tag;
	size_t n = 0;

	cbs_init(&c, cert, cert_len);
	while (cbs_len(&c)) {
		if (!pgp_packet_get(&c, &tag, &body, NULL))
			return pgp__fail(ck, MN_EMALFORMED,
					 "cert is not binary OpenPGP, or a packet is truncated or has a partial length");
		if (++n > PGP_MAX_PACKETS)
			return pgp__fail(ck, MN_ETOOBIG, "cert has too many packets");
		if (tag == 5 || tag == 7)
			return pgp__fail(ck, MN_EMALFORMED, "cert contains secret key material");
		if (tag == 6) {
			if (n != 1)
				return pgp__fail(ck, MN_EMALFORMED,
						 "cert must hold exactly one primary key, first");
			*out_key_body = body;
		}
	}
	if (n == 0 || cbs_len(out_key_body) == 0)
		return pgp__fail(ck, MN_EMALFORMED,
				 "cert must hold exactly one primary key, first");
	return 0;
}

static int check_keys(struct pgp__check *ck)
{
	bool b = false;
	uint32_t exp = 0;

	if (rnp_key_get_creation(ck->key, &ck->key_created) != RNP_SUCCESS ||
	    rnp_key_get_creation(ck->cert_key, &ck->cert_key_created) != RNP_SUCCESS)
		return pgp__fail(ck, MN_EINTERNAL, "cannot read key creation times");
	if ((uint64_t)ck->key_created > ck->now + PGP_MAX_SKEW_S)
		return pgp__fail(ck, MN_EBADCERT, "key is created in the future");
	if ((uint64_t)ck->cert_key_created > ck->now + PGP_MAX_SKEW_S)
		return pgp__fail(ck, MN_EBADCERT, "certifier key is created in the future");
	if (rnp_key_is_revoked(ck->cert_key, &b) != RNP_SUCCESS || b)
		return pgp__fail(ck, MN_EBADCERT, "certifier key is revoked");
	if (rnp_key_get_expiration(ck->cert_key, &exp) != RNP_SUCCESS ||
	    (exp && (uint64_t)ck->cert_key_created + exp <= ck->now))
		return pgp__fail(ck, MN_EBADCERT, "certifier key has expired");
	if (rnp_key_get_expiration(ck->key, &exp) != RNP_SUCCESS ||
	    (exp && (uint64_t)ck->key_created + exp <= ck->now))
		return pgp__fail(ck, MN_EBADCERT, "key has expired");
	return 0;
}

int pgp_endorsement_check(const struct pgp_certifiers *c, pgp_addr_key_fn addr_key,
			  void *addr_key_ctx, struct pgp_result *out,
			  const char **out_reason, const uint8_t *cert,
			  size_t cert_len, const uint8_t *user_id,
			  size_t user_id_len, const char *signer_hex,
			  size_t signer_hex_len, uint64_t now_s)
{
	struct pgp__check ck;
	struct cbs key_body, ex_key, ex_self, ex_cert, prefix, uid_sigs;
	uint8_t signer[PGP_MAX_FPR_LEN], salt[PGP_SALT_LEN];
	size_t signer_len, nuids = 0, uid_idx = 0, num_subs = 0;
	struct pgp__sub_pick subs[PGP_MAX_SUBKEYS];
	struct pgp__pick self, certp;
	rnp_uid_handle_t uid = NULL;
	uint8_t *exp = NULL;
	size_t exp_len = 0;
	int rv, found_uid = 0;

	memset(&ck, 0, sizeof(ck));
	cbs_init(&key_body, NULL, 0);
	memset(&self, 0, sizeof(self));
	memset(&certp, 0, sizeof(certp));
	memset(subs, 0, sizeof(subs));
	ck.now = now_s;
	if (out)
		memset(out, 0, sizeof(*out));
	if (out_reason)
		*out_reason = NULL;
	if (!c || !addr_key || !out || (!cert && cert_len) || (!user_id && user_id_len) ||
	    (!signer_hex && signer_hex_len)) {
		rv = pgp__fail(&ck, MN_EINVAL, "missing argument");
		goto done;
	}
	if (cert_len > PGP_MAX_CERT_LEN) {
		rv = pgp__fail(&ck, MN_ETOOBIG, "cert is too large");
		goto done;
	}

	/* The cheap checks first: signer, its term and scope, the address. */
	if (!(signer_len = pgp__hex_decode(signer, sizeof(signer), signer_hex, signer_hex_len))) {
		rv = pgp__fail(&ck, MN_EMALFORMED, "signer is not a hex fingerprint");
		goto done;
	}
	for (size_t i = 0; i < c->num; i++)
		if (c->v[i].fpr_len == signer_len && !memcmp(c->v[i].fpr, signer, signer_len))
			ck.ct = &c->v[i];
	if (!ck.ct) {
		rv = pgp__fail(&ck, MN_EBADCERT, "signer is not a configured certifier");
		goto done;
	}
	if (ck.ct->expires && now_s >= ck.ct->expires) {
		rv = pgp__fail(&ck, MN_EBADCERT, "certifier's configured term has expired");
		goto done;
	}
	if (user_id_len > 0xffff) {
		rv = pgp__fail(&ck, MN_ETOOBIG, "user ID is too long");
		goto done;
	}
	if (user_id_len == 0 ||
	    !uid_address(out->domain, out->address, &out->address_len, user_id, user_id_len)) {
		rv = pgp__fail(&ck, MN_EBADCERT, "user ID has no usable email address");
		goto done;
	}
	if (ck.ct->num_scopes) {
		int in = 0;
		for (size_t j = 0; j < ck.ct->num_scopes; j++)
			in |= domain_in_scope(out->domain, ck.ct->scopes[j]);
		if (!in) {
			rv = pgp__fail(&ck, MN_EBADCERT, "user ID's domain is outside the certifier's scope");
			goto done;
		}
	}
	if ((rv = scan_input(&ck, cert, cert_len, &key_body)) < 0)
		goto done;
	if (cbs_data(&key_body)[0] != 4 || cbs_len(&key_body) > 0xffff ||
	    !pgp__v4_fingerprint(out->endorsed_fpr, &key_body)) {
		rv = pgp__fail(&ck, MN_EBADCERT, "only version 4 keys are accepted");
		goto done;
	}
	out->endorsed_fpr_len = V4_FPR_LEN;
	pgp__hex_encode(ck.key_hex, out->endorsed_fpr, V4_FPR_LEN);
	if (ck.ct->fpr_len == V4_FPR_LEN && !memcmp(ck.ct->fpr, out->endorsed_fpr, V4_FPR_LEN)) {
		rv = pgp__fail(&ck, MN_EBADCERT, "a certifier cannot endorse its own key");
		goto done;
	}
	memcpy(out->certifier_fpr, ck.ct->fpr, ck.ct->fpr_len);
	out->certifier_fpr_len = ck.ct->fpr_len;

	/* RNP: the certifier's key (trusted, from the configuration), then the
	 * submission, judged at |now_s|. */
	if (rnp_ffi_create(&ck.ffi, "GPG", "GPG") != RNP_SUCCESS) {
		rv = pgp__fail(&ck, MN_ENOMEM, "cannot create an RNP context");
		goto done;
	}
	pgp__quiet_ffi(ck.ffi);
	/* RNP refuses signatures created after its "now"; tolerate the same skew
	 * as the checks here. RNP then judges signature expiry PGP_MAX_SKEW_S
	 * early, which errs on the safe side; key expiry is computed here. */
	if (rnp_set_timestamp(ck.ffi, now_s + PGP_MAX_SKEW_S) != RNP_SUCCESS) {
		rv = pgp__fail(&ck, MN_EINTERNAL, "cannot set RNP's time");
		goto done;
	}
	if (!import_bytes(ck.ffi, ck.ct->key, ck.ct->key_len)) {
		rv = pgp__fail(&ck, MN_EINTERNAL, "cannot import the certifier key");
		goto done;
	}
	if (!import_bytes(ck.ffi, cert, cert_len)) {
		rv = pgp__fail(&ck, MN_EMALFORMED, "cert does not parse as an OpenPGP public key");
		goto done;
	}
	if (rnp_locate_key(ck.ffi, "fingerprint", ck.key_hex, &ck.key) != RNP_SUCCESS ||
	    !ck.key || rnp_locate_key(ck.ffi, "fingerprint", ck.ct->fpr_hex, &ck.cert_key) !=
			       RNP_SUCCESS || !ck.cert_key) {
		rv = pgp__fail(&ck, MN_EMALFORMED, "cert does not parse as an OpenPGP public key");
		goto done;
	}
	if ((rv = check_keys(&ck)) < 0)
		goto done;

	/* The user ID, byte for byte. */
	if (rnp_key_get_uid_count(ck.key, &nuids) != RNP_SUCCESS) {
		rv = pgp__fail(&ck, MN_EINTERNAL, "cannot count user IDs");
		goto done;
	}
	for (size_t u = 0; u < nuids && !found_uid; u++) {
		rnp_uid_handle_t h = NULL;
		uint32_t type = 0;
		void *data = NULL;
		size_t len = 0;
		if (rnp_key_get_uid_handle_at(ck.key, u, &h) != RNP_SUCCESS || !h) {
			rv = pgp__fail(&ck, MN_EINTERNAL, "cannot read a user ID");
			goto done;
		}
		if (rnp_uid_get_type(h, &type) == RNP_SUCCESS && type == RNP_USER_ID &&
		    rnp_uid_get_data(h, &data, &len) == RNP_SUCCESS && len == user_id_len &&
		    !memcmp(data, user_id, len)) {
			found_uid = 1;
			uid_idx = u;
			uid = h;
		} else {
			rnp_uid_handle_destroy(h);
		}
		rnp_buffer_destroy(data);
	}
	if (!found_uid) {
		rv = pgp__fail(&ck, MN_EBADCERT, "user ID is not on the key");
		goto done;
	}
	if ((rv = pgp__export_key(ck.key, &exp, &exp_len)) < 0) {
		pgp__fail(&ck, rv, "cannot export the key");
		goto done;
	}
	if ((rv = pgp__find_uid_sigs(&ck, exp, exp_len, uid_idx, &uid_sigs)) < 0 ||
	    (rv = pgp__pick_uid_sigs(&ck, uid, uid_sigs, &key_body, user_id, user_id_len, &self,
				     &certp)) < 0)
		goto done;
	if (!self.found) {
		rv = self.err ? pgp__fail(&ck, self.err, self.reason)
			      : pgp__fail(&ck, MN_EBADCERT, "key has no self-signature over the user ID");
		goto done;
	}
	if (!certp.found) {
		rv = certp.err ? pgp__fail(&ck, certp.err, certp.reason)
			       : pgp__fail(&ck, MN_EBADCERT, "signer made no certification of the user ID");
		goto done;
	}
	out->revocation = certp.type == 0x30;
	out->sig_type = (uint8_t)certp.type;
	out->sig_created_s = certp.created;
	if (!out->revocation) {
		bool b = false;
		if (rnp_key_is_revoked(ck.key, &b) != RNP_SUCCESS || b) {
			rv = pgp__fail(&ck, MN_EBADCERT, "key is revoked");
			goto done;
		}
		if (rnp_uid_is_revoked(uid, &b) != RNP_SUCCESS || b) {
			rv = pgp__fail(&ck, MN_EBADCERT, "user ID is revoked by its key");
			goto done;
		}
	}
	if ((rv = pgp__pick_subkeys(&ck, subs, &num_subs)) < 0)
		goto done;

	/* Split the export, canonicalize. */
	if ((rv = pgp__split_export(&ck, exp, exp_len, uid_idx, self.idx, certp.idx, self.type,
				    certp.type, &ex_key, &ex_self, &ex_cert, subs, num_subs)) < 0)
		goto done;
	if (cbs_len(&ex_self) < 1 || cbs_data(&ex_self)[0] != 4 || cbs_len(&ex_cert) < 1 ||
	    cbs_data(&ex_cert)[0] != 4) {
		rv = pgp__fail(&ck, MN_EBADCERT, "only version 4 signatures are accepted");
		goto done;
	}
	qsort(subs, num_subs, sizeof(subs[0]), cmp_sub);

	/* Everything is checked: now the address key (a VRF evaluation, the
	 * costliest step after RNP's) and the leaf. */
	rv = addr_key(addr_key_ctx, out->address_key, out->address, out->address_len);
	if (rv != 0) {
		rv = pgp__fail(&ck, rv < 0 ? rv : MN_EINTERNAL, "cannot compute the address key");
		goto done;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		rv = pgp__fail(&ck, MN_EINTERNAL, "no randomness for the salt");
		goto done;
	}
	if ((rv = build_body(&ck, out, salt, user_id, user_id_len, &ex_key, &ex_self, &ex_cert,
			     subs, num_subs, &prefix)) < 0)
		goto done;
	if (!dedup_key(out, user_id, user_id_len, &prefix)) {
		rv = pgp__fail(&ck, MN_ENOMEM, "out of memory");
		goto done;
	}
	rv = 0;
done:
	OPENSSL_cleanse(salt, sizeof(salt));
	free(exp);
	rnp_uid_handle_destroy(uid);
	check_free(&ck);
	if (rv < 0) {
		pgp_result_cleanup(out);
		if (out_reason)
			*out_reason = ck.reason ? ck.reason : mn_strerror(rv);
	}
	return rv;
}
