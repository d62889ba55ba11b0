/* pgp_sigs.c: judging the signatures RNP verified over the endorsed key
 * (hash, times, the key that made them), and choosing the ones the leaf
 * carries (pgp.h): the latest self-signature and the latest certifier
 * signature over the user ID, a revocation winning a tie, and the binding of
 * each encryption subkey worth keeping. A certifier's revocation is not RNP's
 * to verify: pgp__verify_revocation (pgp_revocation.c) judges it by the same
 * rules. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "common/err.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"

/* Signature type codes of RFC 4880 section 5.2.1 from RNP's names. */
static int sig_type_code(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} map[] = {
		{"certification (generic)", 0x10},  {"certification (persona)", 0x11},
		{"certification (casual)", 0x12},   {"certification (positive)", 0x13},
		{"subkey binding", 0x18},           {"certification revocation", 0x30},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(name, map[i].name))
			return map[i].code;
	return -1;
}

static int hash_is_weak(const char *name)
{
	return !strcasecmp(name, "MD5") || !strcasecmp(name, "SHA1") ||
	       !strcasecmp(name, "RIPEMD160");
}

/* sig_issuer_is returns 1 if |sig| names |fpr_hex| as its issuer, by Issuer
 * Fingerprint or else by key ID (verification later proves it). */
static int sig_issuer_is(rnp_signature_handle_t sig, const char *fpr_hex)
{
	char *s = NULL;
	int r = 0;
	if (rnp_signature_get_key_fprint(sig, &s) == RNP_SUCCESS && s) {
		r = !strcasecmp(s, fpr_hex);
	} else {
		rnp_buffer_destroy(s);
		s = NULL;
		size_t l = strlen(fpr_hex);
		if (l >= 16 && rnp_signature_get_keyid(sig, &s) == RNP_SUCCESS && s)
			r = !strcasecmp(s, fpr_hex + l - 16);
	}
	rnp_buffer_destroy(s);
	return r;
}

static const struct pgp__role kSelf = {
	"self-signature over the user ID uses a weak hash (MD5, SHA-1 or RIPEMD-160)",
	"self-signature is created in the future",
	"self-signature is older than the key",
	"self-signature has expired",
	"self-signature over the user ID does not verify",
};
const struct pgp__role pgp__certifier_role = {
	"certifier signature uses a weak hash (MD5, SHA-1 or RIPEMD-160)",
	"certifier signature is created in the future",
	"certifier signature is older than the key or the certifier key",
	"certifier signature has expired",
	"certifier signature does not verify",
};

/* eval_sig judges one candidate signature made by |signer_hex| (whose key was
 * created at |signer_created|) over a key created at |target_created|. Returns
 * 0 if usable (|*out_created| set), else a negative code with the reason. */
static int eval_sig(struct pgp__check *ck, rnp_signature_handle_t sig,
		    const struct pgp__role *ro, const char *signer_hex,
		    uint32_t signer_created, uint32_t target_created, uint32_t *out_created)
{
	char *hash = NULL;
	uint32_t created = 0;
	rnp_key_handle_t signer = NULL;
	char *sfpr = NULL;
	rnp_result_t r;
	int weak, rv;

	if (rnp_signature_get_hash_alg(sig, &hash) != RNP_SUCCESS || !hash)
		return pgp__fail(ck, MN_EINTERNAL, "cannot read a signature's hash algorithm");
	weak = hash_is_weak(hash);
	rnp_buffer_destroy(hash);
	if (weak)
		return pgp__fail(ck, MN_EBADCERT, ro->weak);
	if (rnp_signature_get_creation(sig, &created) != RNP_SUCCESS)
		return pgp__fail(ck, MN_EINTERNAL, "cannot read a signature's creation time");
	if ((uint64_t)created > ck->now + PGP_MAX_SKEW_S)
		return pgp__fail(ck, MN_EBADCERT, ro->future);
	if (created < target_created || created < signer_created)
		return pgp__fail(ck, MN_EBADCERT, ro->older);
	r = rnp_signature_is_valid(sig, 0);
	if (r == RNP_ERROR_SIGNATURE_EXPIRED)
		return pgp__fail(ck, MN_EBADCERT, ro->expired);
	if (r != RNP_SUCCESS)
		return pgp__fail(ck, MN_EBADSIG, ro->bad);
	/* The key that verified it must be the one named, not a key ID twin. */
	if (rnp_signature_get_signer(sig, &signer) != RNP_SUCCESS || !signer ||
	    rnp_key_get_fprint(signer, &sfpr) != RNP_SUCCESS || !sfpr ||
	    strcasecmp(sfpr, signer_hex))
		rv = pgp__fail(ck, MN_EBADSIG, ro->bad);
	else
		rv = 0;
	rnp_buffer_destroy(sfpr);
	rnp_key_handle_destroy(signer);
	*out_created = created;
	return rv;
}

/* pgp__pick_uid_sigs chooses the self-signature and the certifier signature
 * among the signatures over |uid| (user ID |user_id| on the key |key_body|);
 * |sigs| is RNP's export positioned at that user ID's first signature. RNP
 * verifies everything except the certifier's revocations
 * (pgp__verify_revocation). */
int pgp__pick_uid_sigs(struct pgp__check *ck, rnp_uid_handle_t uid, struct cbs sigs,
		       const struct cbs *key_body, const uint8_t *user_id,
		       size_t user_id_len, struct pgp__pick *self, struct pgp__pick *cert)
{
	size_t n = 0;
	if (rnp_uid_get_signature_count(uid, &n) != RNP_SUCCESS)
		return pgp__fail(ck, MN_EINTERNAL, "cannot count user ID signatures");
	for (size_t i = 0; i < n; i++) {
		rnp_signature_handle_t sig = NULL;
		char *tname = NULL;
		int type;
		if (rnp_uid_get_signature_at(uid, i, &sig) != RNP_SUCCESS || !sig)
			return pgp__fail(ck, MN_EINTERNAL, "cannot read a user ID signature");
		if (rnp_signature_get_type(sig, &tname) != RNP_SUCCESS || !tname) {
			rnp_signature_handle_destroy(sig);
			return pgp__fail(ck, MN_EINTERNAL, "cannot read a signature type");
		}
		type = sig_type_code(tname);
		rnp_buffer_destroy(tname);

		struct pgp__pick *p = NULL;
		const struct pgp__role *ro = NULL;
		const char *signer_hex = NULL;
		uint32_t signer_created = 0;
		if (type >= 0x10 && type <= 0x13 && sig_issuer_is(sig, ck->key_hex)) {
			p = self;
			ro = &kSelf;
			signer_hex = ck->key_hex;
			signer_created = ck->key_created;
		} else if (((type >= 0x10 && type <= 0x13) || type == 0x30) &&
			   sig_issuer_is(sig, ck->ct->fpr_hex)) {
			p = cert;
			ro = &pgp__certifier_role;
			signer_hex = ck->ct->fpr_hex;
			signer_created = ck->cert_key_created;
		}
		struct cbs raw;
		uint8_t rtag;
		if (!pgp_packet_get(&sigs, &rtag, &raw, NULL) || rtag != 2 ||
		    cbs_len(&raw) < 2 ||
		    (type >= 0 && cbs_data(&raw)[0] == 4 && cbs_data(&raw)[1] != type)) {
			rnp_signature_handle_destroy(sig);
			return pgp__fail(ck, MN_EINTERNAL,
					 "RNP's key export does not match its key handles");
		}
		if (p) {
			uint32_t created = 0;
			/* RNP 0.16 checks every 0x30 on a user ID against the key's
			 * own primary key (pgp_key_t::is_uid_revocation ignores the
			 * issuer), so the certifier's revocation is verified here. */
			int rv = p == cert && type == 0x30
					 ? pgp__verify_revocation(ck, &raw, key_body, user_id,
								  user_id_len, &created)
					 : eval_sig(ck, sig, ro, signer_hex, signer_created,
						    ck->key_created, &created);
			if (rv == MN_EINTERNAL || rv == MN_ENOMEM) {
				rnp_signature_handle_destroy(sig);
				return rv;
			}
			if (rv < 0) {
				if (!p->err) {
					p->err = rv;
					p->reason = ck->reason;
				}
			} else if (!p->found || created > p->created ||
				   (p == cert && created == p->created && type == 0x30 &&
				    p->type != 0x30)) {
				p->found = 1;
				p->idx = i;
				p->created = created;
				p->type = type;
			}
		}
		rnp_signature_handle_destroy(sig);
	}
	return 0;
}

/* pgp__pick_subkeys selects the encryption subkeys worth keeping (see pgp.h). */
int pgp__pick_subkeys(struct pgp__check *ck, struct pgp__sub_pick *out, size_t *out_num)
{
	size_t n = 0, num = 0;
	static const struct pgp__role kBinding = {"", "", "", "", ""};

	if (rnp_key_get_subkey_count(ck->key, &n) != RNP_SUCCESS)
		return pgp__fail(ck, MN_EINTERNAL, "cannot count subkeys");
	for (size_t j = 0; j < n; j++) {
		rnp_key_handle_t sub = NULL;
		bool enc = false, revoked = true;
		uint32_t created = 0, expiration = 0;
		size_t m = 0;
		int found = 0;
		size_t best = 0;
		uint32_t best_created = 0;

		if (rnp_key_get_subkey_at(ck->key, j, &sub) != RNP_SUCCESS || !sub)
			return pgp__fail(ck, MN_EINTERNAL, "cannot read a subkey");
		if (rnp_key_allows_usage(sub, "encrypt", &enc) != RNP_SUCCESS || !enc ||
		    rnp_key_is_revoked(sub, &revoked) != RNP_SUCCESS || revoked ||
		    rnp_key_get_creation(sub, &created) != RNP_SUCCESS ||
		    (uint64_t)created > ck->now + PGP_MAX_SKEW_S || created < ck->key_created ||
		    rnp_key_get_expiration(sub, &expiration) != RNP_SUCCESS ||
		    (expiration && (uint64_t)created + expiration <= ck->now) ||
		    rnp_key_get_signature_count(sub, &m) != RNP_SUCCESS) {
			rnp_key_handle_destroy(sub);
			continue;
		}
		for (size_t i = 0; i < m; i++) {
			rnp_signature_handle_t sig = NULL;
			char *tname = NULL;
			uint32_t sc = 0;
			int type = -1;
			if (rnp_key_get_signature_at(sub, i, &sig) != RNP_SUCCESS || !sig)
				continue;
			if (rnp_signature_get_type(sig, &tname) == RNP_SUCCESS && tname)
				type = sig_type_code(tname);
			rnp_buffer_destroy(tname);
			if (type == 0x18 && sig_issuer_is(sig, ck->key_hex) &&
			    eval_sig(ck, sig, &kBinding, ck->key_hex, ck->key_created,
				     created, &sc) == 0 &&
			    (!found || sc > best_created)) {
				found = 1;
				best = i;
				best_created = sc;
			}
			rnp_signature_handle_destroy(sig);
		}
		rnp_key_handle_destroy(sub);
		if (!found)
			continue;
		if (num == PGP_MAX_SUBKEYS)
			return pgp__fail(ck, MN_ETOOBIG, "too many encryption subkeys");
		out[num].sub_idx = j;
		out[num].sig_idx = best;
		num++;
	}
	ck->reason = NULL;
	*out_num = num;
	return 0;
}
