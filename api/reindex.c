/* reindex.c: what a stored entry was filed under, rebuilt from the entry
 * (api.h api_leaf_index), for `logd restore` (logd/restore.c), which gets the
 * leaves from published tiles but none of the indexes. The keys are made by
 * the very functions the submission handlers use (keys.c api__keys_x509,
 * api__keys_pgp, api__keys_policy; entry/ dedup keys), from the facts the
 * entry carries (entry/x509.h x509_logged, entry/policy.h policy_logged,
 * entry/pgp.h pgp_body_parse) instead of a validation's. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "entry/pgp.h"
#include "entry/policy.h"
#include "entry/x509.h"

struct leaf_index_impl {
	struct api_keys keys;
	struct x509_result x509;
	struct policy_result policy;
};

void api_leaf_index_cleanup(struct api_leaf_index *x)
{
	struct leaf_index_impl *im = x->impl;

	if (im != NULL) {
		api__keys_cleanup(&im->keys);
		x509_result_cleanup(&im->x509);
		policy_result_cleanup(&im->policy);
		free(im);
	}
	memset(x, 0, sizeof(*x));
}

int api_leaf_index(struct api_leaf_index *out, struct merkle_hasher *h, const uint8_t *leaf,
		   size_t leaf_len, const uint8_t leaf_hash[32], const uint8_t *extra,
		   size_t extra_len)
{
	struct leaf_index_impl *im;
	struct ct_entry e;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!ct_parse_leaf(&e, leaf, leaf_len))
		return MN_EMALFORMED;
	im = calloc(1, sizeof(*im));
	if (im == NULL)
		return MN_ENOMEM;
	out->impl = im;
	api__keys_init(&im->keys);
	switch (e.entry_type) {
	case CT_X509_ENTRY:
	case CT_PRECERT_ENTRY:
		/* as add-chain: api__keys_x509 of the certificate's facts */
		ret = x509_logged(&im->x509, e.entry_type, e.body, e.body_len, e.issuer_key_hash,
				  extra, extra_len);
		if (ret == 0)
			ret = api__keys_x509(&im->keys, &im->x509);
		if (ret == 0) {
			memcpy(out->dedup_key, im->x509.dedup_key, 32);
			out->has_dedup = 1;
		}
		break;
	case MN_PGP_ENDORSEMENT_ENTRY: {
		/* as add-pgp, but without the address (it is in the opening,
		 * which is not published) and without the dedup key (it hashes
		 * the user ID and the signature, both in the opening too) */
		struct pgp_body pb;
		ret = pgp_body_parse(&pb, e.body, e.body_len);
		if (ret == 0)
			ret = api__keys_pgp(&im->keys, cbs_data(&pb.domain), cbs_len(&pb.domain), NULL,
					    0, cbs_data(&pb.endorsed_fpr),
					    cbs_len(&pb.endorsed_fpr), cbs_data(&pb.certifier_fpr),
					    cbs_len(&pb.certifier_fpr));
		break;
	}
	case MN_SIGNED_POLICY_ENTRY: {
		/* as add-policy: its subject and policy_head key, its serial */
		struct policy_body pb;
		if (!policy_parse_body(&pb, e.body, e.body_len)) {
			ret = MN_EMALFORMED;
			break;
		}
		ret = policy_logged(&im->policy, (const char *)pb.jws, pb.jws_len);
		if (ret == 0)
			ret = api__keys_policy(&im->keys, &im->policy);
		if (ret == 0) {
			memcpy(out->dedup_key, im->policy.dedup_key, 32);
			out->has_dedup = 1;
			out->policy_key = im->policy.subject_key;
			out->policy_key_len = im->policy.subject_key_len;
			out->policy_serial = im->policy.serial;
		}
		break;
	}
	case MN_MAP_ROOT_ENTRY:
		/* as the sequencer files it (logd/sequencer.c) */
		mapkeys_root_dedup(h, out->dedup_key, leaf_hash);
		out->has_dedup = 1;
		break;
	default:
		ret = MN_EMALFORMED;
	}
	if (ret != 0) {
		api_leaf_index_cleanup(out);
		return ret == MN_ENOMEM || ret == MN_ECRYPTO ? ret : MN_EMALFORMED;
	}
	out->keys = im->keys.arr;
	out->num_keys = im->keys.num;
	return 0;
}
