/* x509.c: chain validation for add-chain / add-pre-chain (RFC 6962 section 3.1).
 * See x509.h for what is and is not checked, and why. */
#include "entry/x509.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509_internal.h"

#define DEFAULT_MAX_CHAIN 10
#define HARD_MAX_CHAIN 32 /* chains live in a stack array */
#define DEFAULT_MAX_CERT (64 * 1024)
#define DEFAULT_CACHE_CAP 4096
#define CACHE_WAYS 4
#define MAX_BUNDLE_LEN (64u * 1024 * 1024)


struct root {
	struct xcert c;
	uint8_t *der;
	size_t der_len;
};

struct x509_roots {
	struct root *v; /* bundle order */
	size_t num;
	struct root **by_subject; /* sorted by X509_NAME_cmp of the subject */
	struct root **by_hash;    /* sorted by der_hash */
};

/* A direct-mapped, CACHE_WAYS-way set associative table: bounded, eviction is
 * by a hash byte, i.e. arbitrary. Entries are refcounted so a reader may keep
 * one after dropping the lock while a writer evicts it. */
struct cache {
	pthread_rwlock_t lock;
	size_t num_sets;
	struct xcert **slots; /* num_sets * CACHE_WAYS */
	size_t num_entries;   /* under lock */
	atomic_ullong decodes, hits, verifies, fast_leaves;
};

struct x509_validator {
	const struct x509_roots *tls_roots;   /* NULL: none */
	const struct x509_roots *smime_roots; /* NULL: none */
	struct x509_limits lim;
	struct cache *cache; /* mutable behind a const validator */
	EVP_MD *sha256;
};

static const char kDedupX509[] = "mn-dedup-x509";   /* sizeof includes the NUL */
static const char kDedupPrecert[] = "mn-dedup-precert";

/* --- helpers ------------------------------------------------------------- */

static void xcert_release(struct xcert *c)
{
	if (c == NULL || (c->flags & XC_ROOT))
		return;
	if (atomic_fetch_sub(&c->refs, 1) == 1) {
		X509_free(c->x);
		free(c);
	}
}



/* asn1_time_ms converts |t| to ms since the epoch (negative before 1970). */
static int asn1_time_ms(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	*out = (int64_t)timegm(&tm) * 1000;
	return 1;
}

/* --- roots --------------------------------------------------------------- */

static int cmp_subject(const void *a, const void *b)
{
	const struct root *ra = *(const struct root *const *)a;
	const struct root *rb = *(const struct root *const *)b;
	return X509_NAME_cmp(X509_get_subject_name(ra->c.x), X509_get_subject_name(rb->c.x));
}

static int cmp_hash(const void *a, const void *b)
{
	const struct root *ra = *(const struct root *const *)a;
	const struct root *rb = *(const struct root *const *)b;
	return memcmp(ra->c.der_hash, rb->c.der_hash, 32);
}

void x509_roots_free(struct x509_roots *roots)
{
	if (roots == NULL)
		return;
	for (size_t i = 0; i < roots->num; i++) {
		X509_free(roots->v[i].c.x);
		free(roots->v[i].der);
	}
	free(roots->v);
	free(roots->by_subject);
	free(roots->by_hash);
	free(roots);
}

static const uint8_t *find_mem(const uint8_t *hay, size_t hay_len, const char *needle)
{
	return memmem(hay, hay_len, needle, strlen(needle));
}

/* add_root decodes one DER root into |r|. Returns 1 if added, 0 if skipped
 * (undecodable or duplicate), -1 on OOM. Takes ownership of |der|. */
static int add_root(struct x509_roots *r, size_t *cap, uint8_t *der, size_t der_len)
{
	uint8_t h[32];
	X509 *x;
	if (!x509__is_one_der_element(der, der_len) || (x = x509__d2i_exact(der, der_len)) == NULL) {
		free(der);
		return 0;
	}
	SHA256(der, der_len, h);
	for (size_t i = 0; i < r->num; i++) {
		if (memcmp(r->v[i].c.der_hash, h, 32) == 0) {
			X509_free(x);
			free(der);
			return 2; /* duplicate: not an error, not counted */
		}
	}
	if (r->num == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct root *nv = realloc(r->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			X509_free(x);
			free(der);
			return -1;
		}
		r->v = nv;
		*cap = ncap;
	}
	struct root *rt = &r->v[r->num];
	memset(rt, 0, sizeof(*rt));
	rt->c.flags = XC_ROOT;
	if (!x509__xcert_fill(&rt->c, x)) {
		X509_free(x);
		free(der);
		return 0;
	}
	rt->c.flags |= XC_ROOT;
	memcpy(rt->c.der_hash, h, 32);
	rt->der = der;
	rt->der_len = der_len;
	r->num++;
	return 1;
}

int x509_roots_load_pem(struct x509_roots **out, size_t *out_num_skipped,
			const uint8_t *pem, size_t pem_len)
{
	static const char kBegin[] = "-----BEGIN ", kEnd[] = "-----END ", kDashes[] = "-----";
	size_t cap = 0, skipped = 0;
	char *b64 = NULL;
	int ret = MN_ENOMEM;
	struct x509_roots *r = calloc(1, sizeof(*r));
	*out = NULL;
	if (r == NULL)
		goto err;
	const uint8_t *p = pem, *end = pem + pem_len;
	for (;;) {
		const uint8_t *begin = find_mem(p, (size_t)(end - p), kBegin);
		if (begin == NULL)
			break;
		const uint8_t *label = begin + strlen(kBegin);
		const uint8_t *label_end = find_mem(label, (size_t)(end - label), kDashes);
		if (label_end == NULL)
			break;
		const uint8_t *body = label_end + strlen(kDashes);
		const uint8_t *stop = find_mem(body, (size_t)(end - body), kEnd);
		if (stop == NULL) {
			skipped++; /* unterminated block */
			break;
		}
		p = stop + strlen(kEnd);
		if ((size_t)(label_end - label) != strlen("CERTIFICATE") ||
		    memcmp(label, "CERTIFICATE", strlen("CERTIFICATE")) != 0) {
			skipped++;
			continue;
		}
		/* Strip line breaks and spaces; anything else is left for the
		 * strict decoder to reject (e.g. RFC 1421 headers). */
		size_t n = 0, body_len = (size_t)(stop - body);
		char *nb = realloc(b64, body_len + 1);
		if (nb == NULL)
			goto err;
		b64 = nb;
		for (size_t i = 0; i < body_len; i++)
			if (body[i] != '\n' && body[i] != '\r' && body[i] != ' ' && body[i] != '\t')
				b64[n++] = (char)body[i];
		uint8_t *der = NULL;
		size_t der_len = 0;
		int rc = mn_b64_decode(&der, &der_len, b64, n, DEFAULT_MAX_CERT * 16);
		if (rc == MN_ENOMEM)
			goto err;
		if (rc != 0) {
			skipped++;
			continue;
		}
		rc = add_root(r, &cap, der, der_len);
		if (rc < 0)
			goto err;
		if (rc == 0)
			skipped++;
	}
	ERR_clear_error(); /* from rejected blocks */
	if (r->num == 0) {
		ret = MN_ENOTFOUND;
		goto err;
	}
	r->by_subject = malloc(r->num * sizeof(*r->by_subject));
	r->by_hash = malloc(r->num * sizeof(*r->by_hash));
	if (r->by_subject == NULL || r->by_hash == NULL)
		goto err;
	for (size_t i = 0; i < r->num; i++)
		r->by_subject[i] = r->by_hash[i] = &r->v[i];
	qsort(r->by_subject, r->num, sizeof(*r->by_subject), cmp_subject);
	qsort(r->by_hash, r->num, sizeof(*r->by_hash), cmp_hash);
	free(b64);
	if (out_num_skipped != NULL)
		*out_num_skipped = skipped;
	*out = r;
	return 0;
err:
	if (out_num_skipped != NULL)
		*out_num_skipped = skipped;
	free(b64);
	x509_roots_free(r);
	return ret;
}

int x509_roots_load_file(struct x509_roots **out, size_t *out_num_skipped,
			 const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int ret = MN_EIO;
	*out = NULL;
	if (out_num_skipped != NULL)
		*out_num_skipped = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return MN_EIO;
	for (;;) {
		if (len == cap) {
			if (cap >= MAX_BUNDLE_LEN) {
				ret = MN_ETOOBIG;
				goto err;
			}
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, ncap);
			if (nb == NULL) {
				ret = MN_ENOMEM;
				goto err;
			}
			buf = nb;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				goto err;
			break;
		}
	}
	ret = x509_roots_load_pem(out, out_num_skipped, buf, len);
err:
	fclose(f);
	free(buf);
	return ret;
}

size_t x509_roots_count(const struct x509_roots *roots)
{
	return roots->num;
}

static struct root *root_by_hash(const struct x509_roots *r, const uint8_t h[32]);

int x509_roots_contains(const struct x509_roots *roots, const uint8_t *der, size_t len)
{
	uint8_t h[32];
	if (roots == NULL)
		return 0;
	SHA256(der, len, h);
	const struct root *r = root_by_hash(roots, h);
	return r != NULL && r->der_len == len && memcmp(r->der, der, len) == 0;
}

const uint8_t *x509_roots_der(const struct x509_roots *roots, size_t i, size_t *out_len)
{
	if (i >= roots->num) {
		*out_len = 0;
		return NULL;
	}
	*out_len = roots->v[i].der_len;
	return roots->v[i].der;
}

static struct root *root_by_hash(const struct x509_roots *r, const uint8_t h[32])
{
	if (r == NULL)
		return NULL;
	size_t lo = 0, hi = r->num;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(r->by_hash[mid]->c.der_hash, h, 32);
		if (c == 0)
			return r->by_hash[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* roots_by_subject returns the index in by_subject of the first root whose
 * subject equals |name| and sets |*out_num| to how many follow it. */
static size_t roots_by_subject(const struct x509_roots *r, const X509_NAME *name,
			       size_t *out_num)
{
	*out_num = 0;
	if (r == NULL)
		return 0;
	size_t lo = 0, hi = r->num;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (X509_NAME_cmp(X509_get_subject_name(r->by_subject[mid]->c.x), name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t n = 0;
	while (lo + n < r->num &&
	       X509_NAME_cmp(X509_get_subject_name(r->by_subject[lo + n]->c.x), name) == 0)
		n++;
	*out_num = n;
	return lo;
}

/* --- the intermediate cache ---------------------------------------------- */

static struct cache *cache_new(size_t cap)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->num_sets = (cap + CACHE_WAYS - 1) / CACHE_WAYS;
	c->slots = calloc(c->num_sets * CACHE_WAYS, sizeof(*c->slots));
	if (c->slots == NULL || pthread_rwlock_init(&c->lock, NULL) != 0) {
		free(c->slots);
		free(c);
		return NULL;
	}
	return c;
}

static void cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->num_sets * CACHE_WAYS; i++)
		xcert_release(c->slots[i]);
	pthread_rwlock_destroy(&c->lock);
	free(c->slots);
	free(c);
}

static struct xcert **cache_set(const struct cache *c, const uint8_t h[32])
{
	uint64_t k;
	memcpy(&k, h, sizeof(k));
	return &c->slots[(size_t)(k % c->num_sets) * CACHE_WAYS];
}

/* cache_get returns a new reference to the entry for |h|, or NULL. */
static struct xcert *cache_get(struct cache *c, const uint8_t h[32])
{
	struct xcert *found = NULL;
	pthread_rwlock_rdlock(&c->lock);
	struct xcert **set = cache_set(c, h);
	for (int w = 0; w < CACHE_WAYS; w++) {
		if (set[w] != NULL && memcmp(set[w]->der_hash, h, 32) == 0) {
			found = set[w];
			atomic_fetch_add(&found->refs, 1);
			break;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return found;
}

/* cache_put inserts |xc| (taking a new reference) unless its hash is there. */
static void cache_put(struct cache *c, struct xcert *xc)
{
	struct xcert *victim = NULL;
	pthread_rwlock_wrlock(&c->lock);
	struct xcert **set = cache_set(c, xc->der_hash);
	int slot = -1;
	for (int w = 0; w < CACHE_WAYS; w++) {
		if (set[w] != NULL && memcmp(set[w]->der_hash, xc->der_hash, 32) == 0)
			goto out;
		if (set[w] == NULL && slot < 0)
			slot = w;
	}
	if (slot < 0) {
		slot = xc->der_hash[8] % CACHE_WAYS;
		victim = set[slot];
		c->num_entries--;
	}
	atomic_fetch_add(&xc->refs, 1);
	set[slot] = xc;
	c->num_entries++;
out:
	pthread_rwlock_unlock(&c->lock);
	xcert_release(victim);
}

/* --- validator ----------------------------------------------------------- */

struct x509_validator *x509_validator_new(const struct x509_roots *roots,
					  const struct x509_limits *limits)
{
	return x509_validator_new2(roots, NULL, limits);
}

struct x509_validator *x509_validator_new2(const struct x509_roots *tls_roots,
					   const struct x509_roots *smime_roots,
					   const struct x509_limits *limits)
{
	struct x509_validator *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	v->tls_roots = tls_roots;
	v->smime_roots = smime_roots;
	if (limits != NULL)
		v->lim = *limits;
	if (v->lim.max_chain_len == 0)
		v->lim.max_chain_len = DEFAULT_MAX_CHAIN;
	if (v->lim.max_chain_len > HARD_MAX_CHAIN)
		v->lim.max_chain_len = HARD_MAX_CHAIN;
	if (v->lim.max_cert_len == 0)
		v->lim.max_cert_len = DEFAULT_MAX_CERT;
	if (v->lim.cache_cap == 0)
		v->lim.cache_cap = DEFAULT_CACHE_CAP;
	v->cache = cache_new(v->lim.cache_cap);
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (v->cache == NULL || v->sha256 == NULL) {
		x509_validator_free(v);
		return NULL;
	}
	return v;
}

void x509_validator_free(struct x509_validator *v)
{
	if (v == NULL)
		return;
	cache_free(v->cache);
	EVP_MD_free(v->sha256);
	free(v);
}

void x509_validator_stats(const struct x509_validator *v, struct x509_stats *out)
{
	struct cache *c = v->cache;
	out->cert_decodes = atomic_load(&c->decodes);
	out->cache_hits = atomic_load(&c->hits);
	out->sig_verifies = atomic_load(&c->verifies);
	out->fast_leaves = atomic_load(&c->fast_leaves);
	pthread_rwlock_rdlock(&c->lock);
	out->cache_entries = c->num_entries;
	pthread_rwlock_unlock(&c->lock);
}

void x509_result_cleanup(struct x509_result *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->extra);
	free(r->names_mem);
	memset(r, 0, sizeof(*r));
}

/* sha256_3 hashes the concatenation of up to three byte strings. */
static int sha256_3(const EVP_MD *md, uint8_t out[32], const void *a, size_t a_len,
		    const void *b, size_t b_len, const void *c, size_t c_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) &&
		 EVP_DigestUpdate(ctx, a, a_len) && EVP_DigestUpdate(ctx, b, b_len) &&
		 EVP_DigestUpdate(ctx, c, c_len) && EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok;
}

int x509__dedup_key(uint8_t out[32], int precert, const uint8_t *der, size_t der_len,
		    const uint8_t issuer_key_hash[32])
{
	const EVP_MD *md = EVP_sha256();

	return precert ? sha256_3(md, out, kDedupPrecert, sizeof(kDedupPrecert), der, der_len,
				  issuer_key_hash, 32)
		       : sha256_3(md, out, kDedupX509, sizeof(kDedupX509), der, der_len, NULL, 0);
}

/* verify_link checks that the leaf |lf| (if not NULL) or else |child| is
 * signed by |parent|, skipping the check when |child_xc| (NULL for the leaf)
 * records that |parent| already verified it. A fresh |child_xc| (|fresh|)
 * records the result for the cache. */
static int verify_link(struct cache *cache, struct leaf *lf, X509 *child,
		       struct xcert *child_xc, int fresh, const struct xcert *parent)
{
	if (child_xc != NULL && (child_xc->flags & XC_VERIFIED) &&
	    memcmp(child_xc->verified_by, parent->der_hash, 32) == 0)
		return 1;
	atomic_fetch_add(&cache->verifies, 1);
	if (lf != NULL ? !x509__leaf_verify(lf, parent->pkey) : X509_verify(child, parent->pkey) != 1)
		return 0;
	/* The first verifier is kept: with two root sets the last certificate
	 * may verify under a TLS and an S/MIME root, and TLS comes first. */
	if (child_xc != NULL && fresh && !(child_xc->flags & XC_VERIFIED)) {
		memcpy(child_xc->verified_by, parent->der_hash, 32);
		child_xc->flags |= XC_VERIFIED;
	}
	return 1;
}


/* write_extra writes extra_data (RFC 6962 section 4.6): for precerts
 *   struct { ASN.1Cert pre_certificate; ASN.1Cert precertificate_chain<0..2^24-1>; }
 * and for x509 entries just the certificate_chain<0..2^24-1>, each being
 * certs[1..] followed by |root| when the submitter left it out. */
static int write_extra(struct x509_result *out, const uint8_t *const *certs,
		       const size_t *cert_lens, size_t num_certs, int precert,
		       const struct root *root)
{
	struct cbb cbb, list, c;
	size_t total = 16 + (root ? root->der_len + 3 : 0);
	for (size_t i = 0; i < num_certs; i++)
		total += cert_lens[i] + 3;
	if (!cbb_init(&cbb, total, CT_MAX_BODY_LEN + 3 + CT_MAX_BODY_LEN + 3))
		return MN_ENOMEM;
	if (precert && (!cbb_add_u24_length_prefixed(&cbb, &c) ||
			!cbb_add_bytes(&c, certs[0], cert_lens[0])))
		goto err;
	if (!cbb_add_u24_length_prefixed(&cbb, &list))
		goto err;
	for (size_t i = 1; i < num_certs; i++)
		if (!cbb_add_u24_length_prefixed(&list, &c) ||
		    !cbb_add_bytes(&c, certs[i], cert_lens[i]))
			goto err;
	if (root != NULL && (!cbb_add_u24_length_prefixed(&list, &c) ||
			     !cbb_add_bytes(&c, root->der, root->der_len)))
		goto err;
	if (!cbb_finish(&cbb, &out->extra, &out->extra_len))
		return MN_ENOMEM;
	return 0;
err:
	cbb_cleanup(&cbb);
	return MN_ENOMEM;
}

/* find_anchor returns the root of |roots| that ends the chain whose last
 * certificate is |lx| (|lxc| its cache entry), or the leaf |lf| for a lone leaf
 * (then |lx| and |lxc| are NULL): the same DER as |given| (a root the
 * submitter included) or |hint| (the anchor found in the other set), else a
 * root named by the last certificate's issuer whose key verifies it. */
static const struct root *find_anchor(struct cache *cache, const struct x509_roots *roots,
				      struct leaf *lf, X509 *lx, struct xcert *lxc,
				      int fresh, const struct xcert *given,
				      const struct root *hint)
{
	if (roots == NULL)
		return NULL;
	if (given != NULL)
		return root_by_hash(roots, given->der_hash);
	if (hint != NULL) {
		const struct root *r = root_by_hash(roots, hint->c.der_hash);
		if (r != NULL)
			return r;
	}
	const X509_NAME *issuer = lf != NULL ? lf->issuer : X509_get_issuer_name(lx);
	size_t n, first = roots_by_subject(roots, issuer, &n);
	for (size_t k = 0; k < n; k++) {
		const struct root *r = roots->by_subject[first + k];
		if (verify_link(cache, lf, lx, lxc, fresh, &r->c))
			return r;
	}
	return NULL;
}

/* ossl_malloc_failed: whether an allocation failed inside OpenSSL since
 * x509_validate's ERR_set_mark. OpenSSL 3.0 raises ERR_R_MALLOC_FAILURE where
 * it happens and stacks the callers' errors on top (d2i_X509 adds
 * ERR_R_NESTED_ASN1_ERROR for each enclosing field), so the whole queue is
 * read. If the queue held nothing at the mark (|clean|: then ERR_set_mark set
 * none and ERR_pop_to_mark empties it anyway) it is consumed here; otherwise
 * only the newest error is looked at, leaving the caller's errors alone. */
static int ossl_malloc_failed(int clean)
{
	unsigned long e;
	int found = 0;

	if (!clean)
		return ERR_GET_REASON(ERR_peek_last_error()) == ERR_R_MALLOC_FAILURE;
	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			found = 1;
	return found;
}

#define FAIL(code, why)                                                          \
	do {                                                                     \
		ret = (code);                                                    \
		reason = (why);                                                  \
		goto err;                                                        \
	} while (0)

int x509_validate(const struct x509_validator *v, const uint8_t *const *certs,
		  const size_t *cert_lens, size_t num_certs, int precert,
		  uint64_t now_ms, struct x509_result *out, const char **out_reason)
{
	struct cache *cache = v->cache;
	struct xcert *chain[HARD_MAX_CHAIN] = {0}; /* chain[0] unused: the leaf */
	int fresh[HARD_MAX_CHAIN] = {0};
	const struct root *anchor = NULL; /* the root that ends the chain */
	int anchor_implied = 0;           /* not part of the submission */
	struct leaf leaf;
	const char *reason = "ok";
	struct names names;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&leaf, 0, sizeof(leaf));
	names.num_dns = names.num_email = 0;
	names.incomplete = 0;
	int clean = ERR_peek_error() == 0;
	ERR_set_mark();
	if (num_certs == 0)
		FAIL(MN_EMALFORMED, "empty certificate chain");
	if (num_certs > v->lim.max_chain_len)
		FAIL(MN_ETOOBIG, "certificate chain is longer than allowed");
	for (size_t i = 0; i < num_certs; i++) {
		if (cert_lens[i] > v->lim.max_cert_len)
			FAIL(MN_ETOOBIG, "certificate is larger than allowed");
		if (!x509__is_one_der_element(certs[i], cert_lens[i]))
			FAIL(MN_EMALFORMED, "certificate is not exactly one DER structure");
	}

	/* The leaf. */
	if (!x509__leaf_parse(&leaf, certs[0], cert_lens[0], v->lim.slow))
		FAIL(MN_EMALFORMED, "leaf certificate does not parse");
	if (leaf.fast)
		atomic_fetch_add(&cache->fast_leaves, 1);
	if (leaf.invalid)
		FAIL(MN_EMALFORMED, "leaf certificate has invalid extensions");
	const char *why = x509__poison_problem(leaf.exts, precert);
	if (why != NULL)
		FAIL(MN_EBADCERT, why);
	int64_t not_before, not_after;
	if (!asn1_time_ms(leaf.not_before, &not_before) ||
	    !asn1_time_ms(leaf.not_after, &not_after))
		FAIL(MN_EMALFORMED, "leaf certificate has unreadable validity dates");
	if (not_before > not_after)
		FAIL(MN_EBADCERT, "leaf certificate's notBefore is after its notAfter");
	if (not_after < 0 || (uint64_t)not_after < now_ms)
		FAIL(MN_EBADCERT, "leaf certificate has expired");

	/* The rest: configured roots by DER hash, then the cache, then decode. */
	for (size_t i = 1; i < num_certs; i++) {
		uint8_t h[32];
		if (!sha256_3(v->sha256, h, certs[i], cert_lens[i], NULL, 0, NULL, 0))
			FAIL(MN_ECRYPTO, "hashing failed");
		struct root *r = root_by_hash(v->tls_roots, h);
		if (r == NULL)
			r = root_by_hash(v->smime_roots, h);
		if (r != NULL) {
			/* The chain ends at the first root: a log validates the
			 * path it is given, and a path goes no further than its
			 * trust anchor (RFC 5280 section 6.1). */
			if (i != num_certs - 1)
				FAIL(MN_EBADCHAIN, "a configured root is not the last certificate");
			chain[i] = &r->c;
			continue;
		}
		chain[i] = v->lim.slow ? NULL : cache_get(cache, h);
		if (chain[i] != NULL) {
			atomic_fetch_add(&cache->hits, 1);
		} else {
			atomic_fetch_add(&cache->decodes, 1);
			X509 *x = x509__d2i_exact(certs[i], cert_lens[i]);
			if (x == NULL)
				FAIL(MN_EMALFORMED, "certificate in the chain does not parse");
			struct xcert *xc = calloc(1, sizeof(*xc));
			if (xc == NULL) {
				X509_free(x);
				FAIL(MN_ENOMEM, "out of memory");
			}
			if (!x509__xcert_fill(xc, x)) {
				X509_free(x);
				free(xc);
				FAIL(MN_EBADCHAIN, "certificate in the chain has an "
						   "unsupported public key");
			}
			atomic_init(&xc->refs, 1);
			memcpy(xc->der_hash, h, 32);
			chain[i] = xc;
			fresh[i] = 1;
		}
		why = x509__path_issuer_problem(chain[i], i, precert);
		if (why != NULL)
			FAIL(MN_EBADCHAIN, why);
	}

	/* Each certificate is signed by the next (RFC 6962 section 3.1). */
	for (size_t i = 0; i + 1 < num_certs; i++) {
		X509 *child = i == 0 ? NULL : chain[i]->x;
		if (X509_NAME_cmp(i == 0 ? leaf.issuer : X509_get_issuer_name(child),
				  X509_get_subject_name(chain[i + 1]->x)) != 0)
			FAIL(MN_EBADCHAIN, "certificate's issuer is not the next "
					   "certificate's subject");
		if (!verify_link(cache, i == 0 ? &leaf : NULL, child, chain[i], fresh[i],
				 chain[i + 1]))
			FAIL(MN_EBADCHAIN, "certificate is not signed by the next one");
	}

	/* The anchor: the last certificate is a root, or a root signed it. The
	 * S/MIME set is searched only when it can change the outcome: with no
	 * TLS anchor, or for a leaf that may qualify as S/MIME (x509.h). */
	size_t last = num_certs - 1;
	struct leaf *llf = last == 0 ? &leaf : NULL;
	X509 *lx = last == 0 ? NULL : chain[last]->x;
	const struct xcert *given =
		last > 0 && (chain[last]->flags & XC_ROOT) ? chain[last] : NULL;
	const struct root *tls_anchor = find_anchor(cache, v->tls_roots, llf, lx, chain[last],
						    fresh[last], given, NULL);
	const struct root *smime_anchor = NULL;
	if (v->smime_roots != NULL && (tls_anchor == NULL || leaf.email_eku))
		smime_anchor = find_anchor(cache, v->smime_roots, llf, lx, chain[last],
					   fresh[last], given, tls_anchor);
	if (tls_anchor == NULL && smime_anchor == NULL)
		FAIL(MN_EUNKNOWNANCHOR, "chain does not end at an accepted root");
	anchor = tls_anchor != NULL ? tls_anchor : smime_anchor;
	anchor_implied = given == NULL;
	/* pathLenConstraint, the anchor's included (a chain with two anchors
	 * must satisfy both: either may be the one a relying party uses). */
	why = x509__path_len_problem((const struct xcert *const *)chain, num_certs,
				     anchor_implied ? &anchor->c : NULL);
	if (why == NULL && anchor_implied && tls_anchor != NULL && smime_anchor != NULL &&
	    smime_anchor != tls_anchor)
		why = x509__path_len_problem((const struct xcert *const *)chain, num_certs,
					     &smime_anchor->c);
	if (why != NULL)
		FAIL(MN_EBADCHAIN, why);

	/* The class, and the names, copied out before precert_tbs edits |leaf|. */
	x509__collect_san(&leaf, smime_anchor != NULL, &names);
	if (tls_anchor != NULL)
		out->classes |= X509_CLASS_TLS;
	if (smime_anchor != NULL) {
		why = x509__smime_leaf_problem(&leaf, &names, &out->smime_legacy);
		if (why == NULL)
			out->classes |= X509_CLASS_SMIME;
		else if (tls_anchor == NULL)
			FAIL(MN_EBADCERT, why);
		else
			out->smime_legacy = 0;
	}
	if (x509__names_copy(out, &names, (out->classes & X509_CLASS_SMIME) != 0) != 0)
		FAIL(MN_ENOMEM, "out of memory");

	if (precert) {
		const struct xcert *psc = NULL, *issuer;
		if (num_certs >= 2 && (chain[1]->flags & (XC_PSC | XC_ROOT)) == XC_PSC)
			psc = chain[1];
		size_t fi = psc != NULL ? 2 : 1; /* the final issuer's position */
		if (fi < num_certs)
			issuer = chain[fi];
		else if (fi == num_certs)
			issuer = &anchor->c;
		else
			FAIL(MN_EBADCHAIN, "precertificate signing certificate is the root");
		memcpy(out->issuer_key_hash, issuer->spki_hash, 32);
		out->entry_type = CT_PRECERT_ENTRY;
		/* |leaf| is not read after this edit. */
		ret = x509__precert_tbs(&leaf, psc, &out->body, &out->body_len, &reason);
		if (ret != 0) {
			if (ret != MN_EBADCHAIN)
				reason = "cannot rebuild the precertificate's TBSCertificate";
			goto err;
		}
		if (!x509__dedup_key(out->dedup_key, 1, certs[0], cert_lens[0],
				     out->issuer_key_hash))
			FAIL(MN_ECRYPTO, "hashing failed");
	} else {
		out->entry_type = CT_X509_ENTRY;
		out->body = malloc(cert_lens[0]);
		if (out->body == NULL)
			FAIL(MN_ENOMEM, "out of memory");
		memcpy(out->body, certs[0], cert_lens[0]);
		out->body_len = cert_lens[0];
		if (!x509__dedup_key(out->dedup_key, 0, certs[0], cert_lens[0], NULL))
			FAIL(MN_ECRYPTO, "hashing failed");
	}
	ret = write_extra(out, certs, cert_lens, num_certs, precert,
			  anchor_implied ? anchor : NULL);
	if (ret != 0)
		FAIL(ret, "out of memory");
	out->not_after_ms = (uint64_t)not_after;

	/* Only now, after the whole chain verified, do its new intermediates
	 * become cache entries. */
	for (size_t i = 1; i < num_certs; i++)
		if (fresh[i] && (chain[i]->flags & XC_VERIFIED) && !v->lim.slow)
			cache_put(cache, chain[i]);
	ret = 0;
	goto done;
err:
	/* Out of memory in OpenSSL reads as a bad certificate or signature:
	 * answer it as what it is, so that the client retries. */
	if (ret != MN_ENOMEM && ossl_malloc_failed(clean)) {
		ret = MN_ENOMEM;
		reason = "out of memory";
	}
	x509_result_cleanup(out);
done:
	for (size_t i = 1; i < num_certs && i < HARD_MAX_CHAIN; i++)
		xcert_release(chain[i]);
	x509__leaf_cleanup(&leaf);
	ERR_pop_to_mark();
	if (out_reason != NULL)
		*out_reason = reason;
	return ret;
}
