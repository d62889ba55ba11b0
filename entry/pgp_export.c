/* pgp_export.c: finding the packets the check chose by RNP handle index in
 * RNP's binary export of the endorsed key: where the user ID's signatures
 * start (for pgp__pick_uid_sigs), then the primary key packet, the two chosen
 * signatures, and the chosen subkeys with their bindings (for the leaf).
 *
 * Which exported packet is which relies on RNP writing a key as: key packet,
 * its signatures in rnp_key_get_signature_at order, then each user ID
 * (rnp_key_get_uid_handle_at order) followed by its signatures in
 * rnp_uid_get_signature_at order, then each subkey (rnp_key_get_subkey_at
 * order) with its signatures (pgp_key_t::write / write_xfer in RNP 0.16); the
 * tags, counts and signature types are cross-checked, and any mismatch is
 * MN_EINTERNAL rather than a wrong leaf. */
#include <rnp/rnp.h>
#include <rnp/rnp_err.h>

#include "common/err.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"

/* pgp__find_uid_sigs positions |out| at the first signature packet of user ID
 * |uid_idx| in RNP's export |exp| of the key (see the top of this file). */
int pgp__find_uid_sigs(struct pgp__check *ck, const uint8_t *exp, size_t exp_len,
		       size_t uid_idx, struct cbs *out)
{
	struct cbs c, body;
	uint8_t tag;
	size_t n = 0, nuids = 0;

	cbs_init(&c, exp, exp_len);
	if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 6 ||
	    rnp_key_get_signature_count(ck->key, &n) != RNP_SUCCESS ||
	    rnp_key_get_uid_count(ck->key, &nuids) != RNP_SUCCESS || uid_idx >= nuids)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
			goto bad;
	for (size_t u = 0; u <= uid_idx; u++) {
		rnp_uid_handle_t uid = NULL;
		if (!pgp_packet_get(&c, &tag, &body, NULL) || (tag != 13 && tag != 17))
			goto bad;
		if (u == uid_idx)
			break;
		if (rnp_key_get_uid_handle_at(ck->key, u, &uid) != RNP_SUCCESS || !uid)
			goto bad;
		int ok = rnp_uid_get_signature_count(uid, &n) == RNP_SUCCESS;
		rnp_uid_handle_destroy(uid);
		if (!ok)
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
				goto bad;
	}
	*out = c;
	return 0;
bad:
	return pgp__fail(ck, MN_EINTERNAL, "RNP's key export does not match its key handles");
}

/* pgp__split_export walks RNP's export of the endorsed key and picks the packets
 * chosen by handle index (see the top of this file). */
int pgp__split_export(struct pgp__check *ck, const uint8_t *exp, size_t exp_len,
		      size_t uid_idx, size_t self_idx, size_t cert_idx,
		      int self_type, int cert_type, struct cbs *out_key,
		      struct cbs *out_self, struct cbs *out_cert,
		      struct pgp__sub_pick *subs, size_t num_subs)
{
	struct cbs c, body;
	uint8_t tag;
	size_t n = 0, nuids = 0, nsubs = 0, k = 0;
	int have_self = 0, have_cert = 0;

	cbs_init(&c, exp, exp_len);
	if (!pgp_packet_get(&c, &tag, out_key, NULL) || tag != 6 ||
	    rnp_key_get_signature_count(ck->key, &n) != RNP_SUCCESS)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
			goto bad;
	if (rnp_key_get_uid_count(ck->key, &nuids) != RNP_SUCCESS)
		goto bad;
	for (size_t u = 0; u < nuids; u++) {
		rnp_uid_handle_t uid = NULL;
		if (!pgp_packet_get(&c, &tag, &body, NULL) || (tag != 13 && tag != 17) ||
		    rnp_key_get_uid_handle_at(ck->key, u, &uid) != RNP_SUCCESS || !uid)
			goto bad;
		int ok = rnp_uid_get_signature_count(uid, &n) == RNP_SUCCESS;
		rnp_uid_handle_destroy(uid);
		if (!ok)
			goto bad;
		for (size_t i = 0; i < n; i++) {
			if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
				goto bad;
			if (u == uid_idx && i == self_idx) {
				*out_self = body;
				have_self = 1;
			} else if (u == uid_idx && i == cert_idx) {
				*out_cert = body;
				have_cert = 1;
			}
		}
	}
	if (rnp_key_get_subkey_count(ck->key, &nsubs) != RNP_SUCCESS)
		goto bad;
	for (size_t j = 0; j < nsubs; j++) {
		rnp_key_handle_t sub = NULL;
		struct pgp__sub_pick *sp =
			(k < num_subs && subs[k].sub_idx == j) ? &subs[k++] : NULL;
		if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 14 ||
		    rnp_key_get_subkey_at(ck->key, j, &sub) != RNP_SUCCESS || !sub)
			goto bad;
		int ok = rnp_key_get_signature_count(sub, &n) == RNP_SUCCESS;
		rnp_key_handle_destroy(sub);
		if (!ok)
			goto bad;
		if (sp) {
			sp->key = body;
			if (!pgp__v4_fingerprint(sp->fpr, &body))
				goto bad;
		}
		for (size_t i = 0; i < n; i++) {
			if (!pgp_packet_get(&c, &tag, &body, NULL) || tag != 2)
				goto bad;
			if (sp && i == sp->sig_idx)
				sp->binding = body;
		}
		if (sp && (cbs_len(&sp->binding) < 2 || cbs_data(&sp->binding)[1] != 0x18))
			goto bad;
	}
	if (cbs_len(&c) != 0 || k != num_subs || !have_self || !have_cert ||
	    cbs_len(out_self) < 2 || cbs_data(out_self)[1] != self_type ||
	    cbs_len(out_cert) < 2 || cbs_data(out_cert)[1] != cert_type)
		goto bad;
	return 0;
bad:
	return pgp__fail(ck, MN_EINTERNAL, "RNP's key export does not match its key handles");
}
