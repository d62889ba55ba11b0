/* keys.c: the lookup-index keys a leaf is stored with (entry/names.h says
 * which keys each class gets; storage/storage.h stores them). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/internal.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/policy.h"
#include "entry/tileleaf.h"
#include "entry/x509.h"

void api__keys_init(struct api_keys *k)
{
	memset(k, 0, sizeof(*k));
	names_keyset_init(&k->ks, API_MAX_KEYS);
}

void api__keys_cleanup(struct api_keys *k)
{
	names_keyset_cleanup(&k->ks);
	free(k->issuers);
	free(k->arr);
	memset(k, 0, sizeof(*k));
}

static uint8_t store_index_of(uint8_t names_index)
{
	switch (names_index) {
	case NAMES_INDEX_DNS:
		return STORE_IDX_DNS;
	case NAMES_INDEX_EMAIL:
		return STORE_IDX_EMAIL;
	default:
		return STORE_IDX_PGP;
	}
}

int api__keys_finish(struct api_keys *k)
{
	size_t n = k->ks.num_keys + (k->has_thumb ? 1 : 0) + (k->policy_key_len ? 1 : 0) +
		   k->num_issuers, i;

	free(k->arr);
	k->arr = calloc(n ? n : 1, sizeof(*k->arr));
	if (k->arr == NULL)
		return MN_ENOMEM;
	for (i = 0; i < k->ks.num_keys; i++) {
		k->arr[i].index = store_index_of(k->ks.keys[i].index);
		k->arr[i].key_len = k->ks.keys[i].len;
		k->arr[i].key = k->ks.keys[i].data;
	}
	if (k->has_thumb) {
		k->arr[i].index = STORE_IDX_CERT;
		k->arr[i].key_len = 32;
		k->arr[i].key = k->thumb;
		i++;
	}
	for (size_t j = 0; j < k->num_issuers; j++, i++) {
		k->arr[i].index = STORE_IDX_CERT;
		k->arr[i].key_len = 33;
		k->arr[i].key = k->issuers[j];
	}
	if (k->policy_key_len) {
		k->arr[i].index = STORE_IDX_POLICY;
		k->arr[i].key_len = (uint8_t)k->policy_key_len;
		k->arr[i].key = k->policy_key;
		i++;
	}
	k->num = i;
	return 0;
}

/* add_issuer files one chain certificate's issuer key (once per leaf). */
static int add_issuer(void *ctx, const uint8_t *der, size_t der_len,
		      const uint8_t fp[TILELEAF_FP_LEN])
{
	struct api_keys *k = ctx;
	uint8_t(*n)[33];

	(void)der;
	(void)der_len;
	for (size_t i = 0; i < k->num_issuers; i++)
		if (memcmp(k->issuers[i] + 1, fp, 32) == 0)
			return 0;
	n = realloc(k->issuers, (k->num_issuers + 1) * sizeof(*n));
	if (n == NULL)
		return MN_ENOMEM;
	k->issuers = n;
	n[k->num_issuers][0] = 'i';
	memcpy(n[k->num_issuers] + 1, fp, 32);
	k->num_issuers++;
	return 0;
}

int api__keys_x509(struct api_keys *k, const struct x509_result *r)
{
	size_t i;
	int ret;

	api__keys_init(k);
	/* A name that is not a valid DNS name (or address) cannot match a valid
	 * lookup, so it is left out rather than failing a certificate that CT
	 * must accept; get-entries still serves the certificate to monitors. */
	if (r->classes & X509_CLASS_TLS)
		for (i = 0; i < r->num_dns_names; i++) {
			ret = names_keyset_add_dns(&k->ks, (const char *)r->dns_names[i].data,
						   r->dns_names[i].len,
						   NAMES_ALLOW_WILDCARD | NAMES_ALLOW_UNDERSCORE,
						   NAMES_CLASS_TLS);
			if (ret == MN_ENOMEM)
				return ret;
		}
	if (r->classes & X509_CLASS_SMIME)
		for (i = 0; i < r->num_emails; i++) {
			ret = names_keyset_add_email(&k->ks, (const char *)r->emails[i].data,
						     r->emails[i].len, 1, NAMES_CLASS_SMIME);
			if (ret == MN_ENOMEM)
				return ret;
		}
	if (r->entry_type == CT_X509_ENTRY) {
		/* x5t#S256: SHA-256 of the certificate's DER */
		if (!EVP_Digest(r->body, r->body_len, k->thumb, NULL, EVP_sha256(), NULL))
			return MN_ECRYPTO;
		k->has_thumb = 1;
	}
	ret = tileleaf_issuers(r->entry_type, r->extra, r->extra_len, add_issuer, k);
	if (ret != 0)
		return ret == MN_EMALFORMED ? MN_EINTERNAL : ret;
	return api__keys_finish(k);
}

int api__keys_pgp(struct api_keys *k, const uint8_t *domain, size_t domain_len,
		  const char *address, size_t address_len, const uint8_t *endorsed_fpr,
		  size_t endorsed_fpr_len, const uint8_t *certifier_fpr, size_t certifier_fpr_len)
{
	if (names_keyset_add_dns(&k->ks, (const char *)domain, domain_len, 0, NAMES_CLASS_PGP) ==
		    MN_ENOMEM ||
	    (address != NULL && names_keyset_add_email(&k->ks, address, address_len, 0,
						       NAMES_CLASS_PGP) == MN_ENOMEM) ||
	    names_keyset_add_fpr(&k->ks, endorsed_fpr, endorsed_fpr_len, NAMES_CLASS_PGP) ==
		    MN_ENOMEM ||
	    names_keyset_add_fpr(&k->ks, certifier_fpr, certifier_fpr_len, NAMES_CLASS_PGP) ==
		    MN_ENOMEM)
		return MN_ENOMEM;
	return api__keys_finish(k);
}

int api__keys_policy(struct api_keys *k, const struct policy_result *r)
{
	int ret;

	if (r->subject_is_email)
		ret = names_keyset_add_email(&k->ks, r->subject, strlen(r->subject), 1,
					     NAMES_CLASS_POLICY);
	else
		ret = names_keyset_add_dns(&k->ks, r->subject, strlen(r->subject), 0,
					   NAMES_CLASS_POLICY);
	k->policy_key = r->subject_key;
	k->policy_key_len = r->subject_key_len;
	return ret != 0 ? ret : api__keys_finish(k);
}
