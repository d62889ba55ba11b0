/* mirror.c: the verifying mirror's follower (mirror.h). The checks are
 * entry/tilecheck.h's (shared with mnctl monitor --tiles); this file fetches,
 * keeps the round's new entries until the checkpoint's root is proved, and
 * stores them with the checkpoint's STH. */
#include "logd/mirror.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "entry/tilecheck.h"
#include "logd/mapcatch.h"
#include "storage/storage.h"

#define MAX_KEY_FILE 65536
#define MAX_CHECKPOINT 65536
#define MAX_ISSUERS 4096

struct issuer {
	uint8_t fp[TILELEAF_FP_LEN];
	uint8_t *der;
	size_t der_len;
};

/* A growable byte buffer with a cap. */
struct buf {
	uint8_t *data;
	size_t len, cap, max;
};

/* One new leaf of the round: offsets into the round's bytes, and its
 * certificate index keys (STORE_IDX_CERT: the x509_entry's x5t#S256, and
 * 'i' || SHA-256 of each chain certificate, which issuer/<hex> serves by) at
 * [key_off, key_off + num_keys) of the round's keys. */
#define KEY_SLOT 34 /* length (32 or 33), then the key */
struct newleaf {
	size_t leaf_off, leaf_len, extra_off, extra_len;
	size_t key_off, num_keys;
	uint8_t hash[MERKLE_HASH_LEN];
};

struct mirror {
	char *url;              /* with a trailing '/' removed */
	char *origin;
	uint8_t *spki;
	size_t spki_len;
	struct ct_verifier *v;
	struct store *st;
	int map;                /* recompute and check the map (mirror.h, 5.) */
	unsigned poll_ms;
	size_t max_tile_bytes;
	void (*failed)(void *ctx, const char *why);
	void *ctx;

	CURL *curl;
	struct merkle_hasher *h;
	uint8_t *leaf_buf;      /* TILECHECK_MAX_LEAF scratch */
	struct issuer *issuers; /* the issuers seen, checked against their hash */
	size_t num_issuers;

	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	atomic_int stop;
	atomic_int stopped;     /* a verification failure stopped it */
	atomic_uint_fast64_t rounds, round_errors, entries, tree_size, last_ok_ms;
};

/* --- the origin's key ------------------------------------------------------ */

static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	size_t n;

	if (f == NULL)
		return MN_EIO;
	b = malloc(MAX_KEY_FILE + 1);
	if (b == NULL) {
		fclose(f);
		return MN_ENOMEM;
	}
	n = fread(b, 1, MAX_KEY_FILE + 1, f);
	fclose(f);
	if (n > MAX_KEY_FILE) {
		free(b);
		return MN_ETOOBIG;
	}
	*out = b;
	*out_len = n;
	return 0;
}

int mirror_key_load(const char *where, const char *arg, uint8_t **out, size_t *out_len)
{
	struct stat sb;
	uint8_t *b = NULL, *der = NULL;
	size_t len = 0, der_len = 0;
	struct ct_verifier *v;
	int ret;

	*out = NULL;
	if (stat(arg, &sb) == 0) {
		ret = read_file(arg, &b, &len);
		if (ret != 0) {
			fprintf(stderr, "%s: mirror key %s: cannot read: %s\n", where, arg,
				mn_strerror(ret));
			return ret;
		}
		if (len > 10 && memmem(b, len, "-----BEGIN", 10) != NULL) {
			BIO *bio = BIO_new_mem_buf(b, (int)len);
			EVP_PKEY *pk = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
			unsigned char *p = NULL;
			int n = pk != NULL ? i2d_PUBKEY(pk, &p) : -1;
			if (n > 0) {
				der = malloc((size_t)n);
				if (der != NULL) {
					memcpy(der, p, (size_t)n);
					der_len = (size_t)n;
				}
			}
			OPENSSL_free(p);
			EVP_PKEY_free(pk);
			BIO_free(bio);
			free(b);
		} else {
			der = b;
			der_len = len;
		}
	} else if (mn_b64_decode(&der, &der_len, arg, strlen(arg), MAX_KEY_FILE) != 0) {
		fprintf(stderr, "%s: mirror key %s: no such file, and not base64\n", where, arg);
		return MN_EMALFORMED;
	}
	v = der != NULL ? ct_verifier_new(der, der_len) : NULL;
	if (v == NULL) {
		fprintf(stderr, "%s: mirror key %s: not an ECDSA P-256 public key "
			"(SubjectPublicKeyInfo, PEM or DER)\n", where, arg);
		free(der);
		return MN_EMALFORMED;
	}
	ct_verifier_free(v);
	*out = der;
	*out_len = der_len;
	return 0;
}

/* --- HTTP ---------------------------------------------------------------- */

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *nb;
		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		nb = realloc(b->data, cap);
		if (nb == NULL)
			return 0;
		b->data = nb;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 1;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	return buf_add(ctx, p, size * n) ? size * n : 0;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct mirror *m = ctx;

	(void)a, (void)b, (void)c, (void)d;
	return atomic_load(&m->stop) ? 1 : 0;
}

/* get fetches m->url + |path| into |out| (which the caller frees). 0 with a
 * 200 answer, else MN_EIO (logged). */
static int get(struct mirror *m, const char *path, size_t max, struct buf *out)
{
	char url[4600];
	long status = 0;
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	out->max = max;
	snprintf(url, sizeof(url), "%s%s", m->url, path);
	curl_easy_setopt(m->curl, CURLOPT_URL, url);
	curl_easy_setopt(m->curl, CURLOPT_WRITEDATA, out);
	rc = curl_easy_perform(m->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		if (!atomic_load(&m->stop))
			mn_warn("mirror_fetch", "url=\"%s\" status=%ld err=\"%s\"", url, status,
				rc != CURLE_OK ? curl_easy_strerror(rc) : "not 200");
		free(out->data);
		memset(out, 0, sizeof(*out));
		return MN_EIO;
	}
	return 0;
}

/* --- a round -------------------------------------------------------------- */

static int why_set(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return MN_EBADSIG;
}

/* fetch_checkpoint fetches, parses and verifies the checkpoint. */
static int fetch_checkpoint(struct mirror *m, struct buf *body, struct note_checkpoint *cp,
			    uint64_t *ts, struct ct_sig *sig, char *why, size_t why_len)
{
	int ret = get(m, "/checkpoint", MAX_CHECKPOINT, body);

	if (ret != 0)
		return ret;
	if (note_parse_checkpoint(cp, body->data, body->len) != 0)
		return why_set(why, why_len, "%s/checkpoint: not a checkpoint (signed note)",
			       m->url);
	if (m->origin != NULL &&
	    (cp->origin_len != strlen(m->origin) || memcmp(cp->origin, m->origin, cp->origin_len)))
		return why_set(why, why_len, "%s/checkpoint: origin \"%.*s\" is not the "
			       "mirrored log's \"%s\"", m->url, (int)(cp->origin_len > 255 ? 255 :
			       cp->origin_len), cp->origin, m->origin);
	if (!tilecheck_checkpoint(cp, m->v, ts, sig))
		return why_set(why, why_len, "%s/checkpoint (tree size %" PRIu64 "): no valid "
			       "RFC 6962 note signature by the origin's log key", m->url,
			       cp->tree_size);
	return 0;
}

/* The round's state while data tiles are checked. */
struct round {
	struct mirror *m;
	struct store_reader *rd;  /* the copy, for entries it already has */
	uint64_t have;            /* the copy's tree size */
	struct merkle_range range;
	struct buf bytes;         /* leaf inputs and extra_data of new leaves */
	struct newleaf *leaves;
	size_t num, cap;
	struct buf keys;          /* KEY_SLOT bytes each */
	const char *path;         /* the data tile being checked */
	char *why;
	size_t why_len;
	int err;                  /* MN_EIO when an issuer could not be fetched */
};

static int find_issuer(void *ctx, const uint8_t fp[TILELEAF_FP_LEN], const uint8_t **der,
		       size_t *der_len)
{
	struct round *r = ctx;
	struct mirror *m = r->m;
	char path[8 + 2 * TILELEAF_FP_LEN + 1];
	struct issuer *is;
	struct buf b;

	for (size_t i = 0; i < m->num_issuers; i++)
		if (memcmp(m->issuers[i].fp, fp, TILELEAF_FP_LEN) == 0) {
			*der = m->issuers[i].der;
			*der_len = m->issuers[i].der_len;
			return 0;
		}
	if (m->num_issuers == MAX_ISSUERS) {
		/* a full cache starts again (they are refetched as needed); the
		 * issuers of the entry being rebuilt are fetched after this */
		for (size_t i = 0; i < m->num_issuers; i++)
			free(m->issuers[i].der);
		free(m->issuers);
		m->issuers = NULL;
		m->num_issuers = 0;
	}
	memcpy(path, "/issuer/", 8);
	for (size_t i = 0; i < TILELEAF_FP_LEN; i++)
		snprintf(path + 8 + 2 * i, 3, "%02x", fp[i]);
	if (get(m, path, m->max_tile_bytes, &b) != 0) {
		r->err = MN_EIO;
		return MN_EIO;
	}
	if (!tilecheck_issuer_ok(b.data, b.len, fp)) {
		free(b.data);
		why_set(r->why, r->why_len, "%s%s: the certificate does not hash to its name",
			m->url, path);
		return MN_EBADSIG;
	}
	if (m->num_issuers % 64 == 0) {
		struct issuer *n = realloc(m->issuers, (m->num_issuers + 64) * sizeof(*n));
		if (n == NULL) {
			free(b.data);
			return MN_ENOMEM;
		}
		m->issuers = n;
	}
	is = &m->issuers[m->num_issuers++];
	memcpy(is->fp, fp, TILELEAF_FP_LEN);
	is->der = b.data;
	is->der_len = b.len;
	*der = is->der;
	*der_len = is->der_len;
	return 0;
}

/* add_issuer_key files a chain certificate's 'i' || SHA-256 key (once per
 * leaf). */
static int add_issuer_key(void *ctx, const uint8_t *der, size_t der_len,
			  const uint8_t fp[TILELEAF_FP_LEN])
{
	struct round *r = ctx;
	struct newleaf *nl = &r->leaves[r->num];
	uint8_t k[KEY_SLOT];

	(void)der;
	(void)der_len;
	k[0] = 1 + TILELEAF_FP_LEN;
	k[1] = 'i';
	memcpy(k + 2, fp, TILELEAF_FP_LEN);
	for (size_t i = 0; i < nl->num_keys; i++)
		if (memcmp(r->keys.data + (nl->key_off + i) * KEY_SLOT, k, KEY_SLOT) == 0)
			return 0;
	if (!buf_add(&r->keys, k, KEY_SLOT))
		return MN_ENOMEM;
	nl->num_keys++;
	return 0;
}

/* leaf_keys files the certificate keys of the new leaf r->leaves[r->num]. */
static int leaf_keys(struct round *r, const struct tileleaf *tl, const uint8_t *leaf,
		     size_t leaf_len, const uint8_t *extra, size_t extra_len)
{
	struct newleaf *nl = &r->leaves[r->num];
	struct ct_entry e;
	uint8_t k[KEY_SLOT] = {0};

	nl->key_off = r->keys.len / KEY_SLOT;
	nl->num_keys = 0;
	if (tl->entry_type == CT_X509_ENTRY && ct_parse_leaf(&e, leaf, leaf_len)) {
		/* x5t#S256: SHA-256 of the certificate's DER */
		k[0] = 32;
		SHA256(e.body, e.body_len, k + 1);
		if (!buf_add(&r->keys, k, KEY_SLOT))
			return MN_ENOMEM;
		nl->num_keys++;
	}
	return tileleaf_issuers(tl->entry_type, extra, extra_len, add_issuer_key, r);
}

static int on_leaf(void *ctx, uint64_t index, const struct tileleaf *tl, const uint8_t *leaf,
		   size_t leaf_len, const uint8_t hash[MERKLE_HASH_LEN])
{
	struct round *r = ctx;
	struct newleaf *nl;
	struct cbb b;
	uint8_t *extra = NULL;
	size_t extra_len = 0;
	int ret;

	if (index < r->have) {
		uint8_t mine[MERKLE_HASH_LEN];
		ret = store_r_leaf_hash(r->rd, index, mine);
		if (ret != 0)
			return ret;
		if (memcmp(mine, hash, MERKLE_HASH_LEN) != 0)
			return why_set(r->why, r->why_len, "%s%s: entry %" PRIu64 " is not the "
				       "entry the mirror verified before (a fork)", r->m->url,
				       r->path, index);
		return 0;
	}
	if (r->num == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		struct newleaf *n = realloc(r->leaves, cap * sizeof(*n));
		if (n == NULL)
			return MN_ENOMEM;
		r->leaves = n;
		r->cap = cap;
	}
	if (!cbb_init(&b, 1024, 0xffffff + 4))
		return MN_ENOMEM;
	ret = tilecheck_extra(&b, tl, find_issuer, r);
	if (ret == 0 && !cbb_finish(&b, &extra, &extra_len))
		ret = MN_ENOMEM;
	if (ret != 0) {
		cbb_cleanup(&b);
		if (ret == MN_EMALFORMED)
			ret = why_set(r->why, r->why_len, "%s%s: entry %" PRIu64 " has an "
				      "unusable chain", r->m->url, r->path, index);
		return ret;
	}
	nl = &r->leaves[r->num];
	ret = leaf_keys(r, tl, leaf, leaf_len, extra, extra_len);
	if (ret != 0) {
		free(extra);
		return ret == MN_EMALFORMED ? why_set(r->why, r->why_len, "%s%s: entry %" PRIu64
						      " has an unusable chain", r->m->url,
						      r->path, index) : ret;
	}
	nl->leaf_off = r->bytes.len;
	nl->leaf_len = leaf_len;
	nl->extra_off = r->bytes.len + leaf_len;
	nl->extra_len = extra_len;
	memcpy(nl->hash, hash, MERKLE_HASH_LEN);
	ret = buf_add(&r->bytes, leaf, leaf_len) && buf_add(&r->bytes, extra, extra_len)
		      ? 0 : MN_ENOMEM;
	free(extra);
	if (ret != 0)
		return ret;
	if (merkle_range_append(&r->range, r->m->h, hash, NULL, NULL) != 0)
		return MN_ERANGE;
	r->num++;
	return 0;
}

/* fetch_tiles checks the tiles covering [from, to) of the tree of |size|
 * leaves; new entries go into |r|. */
static int fetch_tiles(struct round *r, uint64_t from, uint64_t size)
{
	struct mirror *m = r->m;
	char hpath[128], dpath[128];
	int ret = 0;

	for (uint64_t n = from / TILECHECK_WIDTH; n * TILECHECK_WIDTH < size && ret == 0; n++) {
		uint64_t left = size - n * TILECHECK_WIDTH;
		unsigned w = left < TILECHECK_WIDTH ? (unsigned)left : TILECHECK_WIDTH;
		struct buf hb, db;
		uint8_t *data = NULL;
		size_t data_len = 0;
		uint64_t bad = 0;

		tilecheck_path(hpath, sizeof(hpath), "0", n, w);
		tilecheck_path(dpath, sizeof(dpath), "data", n, w);
		if ((ret = get(m, hpath, (size_t)w * MERKLE_HASH_LEN + 1, &hb)) != 0)
			break;
		if (hb.len != (size_t)w * MERKLE_HASH_LEN) {
			free(hb.data);
			ret = why_set(r->why, r->why_len, "%s%s: %zu bytes, not %u hashes", m->url,
				      hpath, hb.len, w);
			break;
		}
		if ((ret = get(m, dpath, m->max_tile_bytes, &db)) != 0) {
			free(hb.data);
			break;
		}
		ret = tilecheck_gunzip(db.data, db.len, m->max_tile_bytes, &data, &data_len);
		free(db.data);
		if (ret != 0) {
			free(hb.data);
			ret = why_set(r->why, r->why_len, "%s%s: bad gzip encoding (%s)", m->url,
				      dpath, mn_strerror(ret));
			break;
		}
		r->path = dpath;
		ret = tilecheck_data(m->h, n, w, hb.data, data, data_len, m->leaf_buf, on_leaf, r,
				     &bad);
		if (ret == MN_EBADSIG && r->why != NULL && r->why[0] == '\0')
			why_set(r->why, r->why_len, "%s%s: entry %" PRIu64 " does not hash to its "
				"slot in %s: a tampered tile", m->url, dpath, bad, hpath);
		else if (ret == MN_EMALFORMED)
			ret = why_set(r->why, r->why_len, "%s%s: entry %" PRIu64 " is malformed, "
				      "or bytes follow the last entry", m->url, dpath, bad);
		else if (ret == MN_EIO || (ret != 0 && r->err == MN_EIO))
			ret = MN_EIO;
		free(hb.data);
		free(data);
	}
	return ret;
}

/* store_round stores the round's leaves with the checkpoint's STH and its
 * text (|note|), which the mirror serves as its checkpoint. */
static int store_round(struct round *r, const struct store_sth *sth, const struct buf *note)
{
	struct store_leaf *l = calloc(r->num ? r->num : 1, sizeof(*l));
	size_t num_keys = r->keys.len / KEY_SLOT;
	struct store_index_key *keys = calloc(num_keys ? num_keys : 1, sizeof(*keys));
	int ret;

	if (l == NULL || keys == NULL) {
		free(l);
		free(keys);
		return MN_ENOMEM;
	}
	for (size_t i = 0; i < num_keys; i++) {
		const uint8_t *k = r->keys.data + i * KEY_SLOT;
		keys[i].index = STORE_IDX_CERT;
		keys[i].key_len = k[0];
		keys[i].key = k + 1;
	}
	for (size_t i = 0; i < r->num; i++) {
		const struct newleaf *nl = &r->leaves[i];
		uint8_t k[16];
		l[i].keys = keys + nl->key_off;
		l[i].num_keys = nl->num_keys;
		l[i].leaf_input = r->bytes.data + nl->leaf_off;
		l[i].leaf_input_len = nl->leaf_len;
		l[i].extra = r->bytes.data + nl->extra_off;
		l[i].extra_len = nl->extra_len;
		memcpy(l[i].leaf_hash, nl->hash, MERKLE_HASH_LEN);
		/* a mirror takes no submissions: its dedup key only has to be
		 * distinct, so it is a hash of the leaf's index */
		memcpy(k, "mirror\0\0", 8);
		mn_put_be64(k + 8, r->have + i);
		SHA256(k, sizeof(k), l[i].dedup_key);
	}
	ret = store_append_batch_note(r->m->st, l, r->num, sth, note->data, note->len);
	free(l);
	free(keys);
	return ret;
}

/* check_map brings the map up to the stored tree and checks it against the
 * origin's last map-root leaf (mirror.h, 5.). */
static int check_map(struct mirror *m, char *why, size_t why_len)
{
	char w[512];
	int ret = mapcatch_run(m->st, m->h);

	if (ret != 0)
		return ret;
	ret = mapcatch_verify(m->st, w, sizeof(w));
	if (ret == MN_ENOTFOUND)
		return 0; /* an origin without the map (or an empty tree) */
	if (ret == MN_EBADSIG)
		return why_set(why, why_len, "%s: %s", m->url, w);
	return ret;
}

int mirror_sync(struct mirror *m, char *why, size_t why_len)
{
	struct buf cpb = {0};
	struct note_checkpoint cp;
	struct store_sth have_sth, sth;
	struct ct_sig sig;
	struct round r;
	struct cbb b;
	uint64_t ts = 0;
	uint8_t root[MERKLE_HASH_LEN];
	int ret, has, same_note;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	memset(&r, 0, sizeof(r));
	r.m = m;
	r.why = why;
	r.why_len = why_len;
	r.bytes.max = SIZE_MAX / 2;
	r.keys.max = SIZE_MAX / 2;
	ret = fetch_checkpoint(m, &cpb, &cp, &ts, &sig, why, why_len);
	if (ret != 0)
		goto out;
	/* the STH as stored: the checkpoint's own signature, not re-signed */
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = cp.tree_size;
	sth.timestamp = ts;
	memcpy(sth.root, cp.root, MERKLE_HASH_LEN);
	if (!cbb_init(&b, 128, STORE_MAX_SIG_LEN) || !ct_write_sig(&b, &sig)) {
		cbb_cleanup(&b);
		ret = why_set(why, why_len, "%s/checkpoint: its signature is too long", m->url);
		goto out;
	}
	sth.sig_len = (uint16_t)cbb_len(&b);
	memcpy(sth.sig, cbb_data(&b), sth.sig_len);
	cbb_cleanup(&b);

	if ((ret = store_read_begin(m->st, &r.rd)) != 0)
		goto out;
	has = store_r_sth(r.rd, &have_sth) == 0;
	{
		const uint8_t *note;
		size_t note_len;
		/* the stored text, if it is this checkpoint's byte for byte */
		same_note = store_r_note(r.rd, &note, &note_len) == 0 && note_len == cpb.len &&
			    memcmp(note, cpb.data, note_len) == 0;
	}
	r.have = store_r_tree_size(r.rd);
	if (cp.tree_size <= r.have) {
		/* a tree the copy has: the same root, or a fork */
		ret = store_r_root(r.rd, cp.tree_size, root);
		store_read_end(r.rd);
		r.rd = NULL;
		if (ret != 0)
			goto out;
		if (memcmp(root, cp.root, MERKLE_HASH_LEN) != 0) {
			ret = why_set(why, why_len, "%s/checkpoint: a fork: its root for tree size "
				      "%" PRIu64 " is not the root of the entries the mirror "
				      "verified", m->url, cp.tree_size);
			goto out;
		}
		/* a newer STH of the tree the copy has: keep it, with its text;
		 * and another text of the same STH (more signatures, such as
		 * witness cosignatures, or a copy made before texts were
		 * stored) */
		if (cp.tree_size == r.have &&
		    (!has || ts > have_sth.timestamp ||
		     (ts == have_sth.timestamp && !same_note)))
			ret = store_append_batch_note(m->st, NULL, 0, &sth, cpb.data, cpb.len);
		goto out;
	}
	store_get_range(m->st, &r.range);
	ret = fetch_tiles(&r, r.have, cp.tree_size);
	store_read_end(r.rd);
	r.rd = NULL;
	if (ret != 0)
		goto out;
	merkle_range_root(&r.range, m->h, root);
	if (r.range.size != cp.tree_size || memcmp(root, cp.root, MERKLE_HASH_LEN) != 0) {
		ret = why_set(why, why_len, "%s/checkpoint: a fork: tree size %" PRIu64 " has "
			      "another root than the mirror's %" PRIu64 " verified entries followed "
			      "by the tiles' new ones", m->url, cp.tree_size, r.have);
		goto out;
	}
	ret = store_round(&r, &sth, &cpb);
	if (ret == 0)
		atomic_fetch_add(&m->entries, r.num);
out:
	if (r.rd != NULL)
		store_read_end(r.rd);
	if (ret == 0 && m->map)
		ret = check_map(m, why, why_len);
	if (ret == 0) {
		atomic_store(&m->tree_size, cp.tree_size);
		atomic_store(&m->last_ok_ms, mn_now_ms());
	}
	free(r.leaves);
	free(r.keys.data);
	free(r.bytes.data);
	free(cpb.data);
	return ret;
}

/* --- the follower ---------------------------------------------------------- */

static void *follow(void *arg)
{
	struct mirror *m = arg;
	char why[1024];

	while (!atomic_load(&m->stop)) {
		struct timespec until;
		int ret = mirror_sync(m, why, sizeof(why));

		atomic_fetch_add(&m->rounds, 1);
		if (ret == MN_EBADSIG) {
			mn_error("mirror_stopped", "origin=\"%s\" why=\"%s\"", m->url, why);
			atomic_store(&m->stopped, 1);
			if (m->failed != NULL)
				m->failed(m->ctx, why);
			break;
		}
		if (ret != 0) {
			atomic_fetch_add(&m->round_errors, 1);
			if (ret != MN_EIO)
				mn_warn("mirror_round", "origin=\"%s\" err=%s", m->url,
					mn_err_name(ret));
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += m->poll_ms / 1000;
		until.tv_nsec += (long)(m->poll_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&m->mu);
		while (!atomic_load(&m->stop) &&
		       pthread_cond_timedwait(&m->cond, &m->mu, &until) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&m->mu);
	}
	return NULL;
}

int mirror_new(struct mirror **out, const struct mirror_options *opt)
{
	struct mirror *m = calloc(1, sizeof(*m));
	size_t ul;

	*out = NULL;
	if (m == NULL)
		return MN_ENOMEM;
	ul = strlen(opt->url);
	while (ul > 0 && opt->url[ul - 1] == '/')
		ul--;
	m->url = strndup(opt->url, ul);
	m->origin = opt->origin != NULL ? strdup(opt->origin) : NULL;
	m->spki = malloc(opt->spki_len ? opt->spki_len : 1);
	m->v = ct_verifier_new(opt->spki, opt->spki_len);
	m->st = opt->st;
	m->map = opt->map;
	m->poll_ms = opt->poll_ms ? opt->poll_ms : 1000;
	m->max_tile_bytes = opt->max_tile_bytes ? opt->max_tile_bytes : 64u << 20;
	m->failed = opt->failed;
	m->ctx = opt->ctx;
	m->curl = curl_easy_init();
	m->h = merkle_hasher_new();
	m->leaf_buf = malloc(TILECHECK_MAX_LEAF);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cond, NULL);
	if (m->url == NULL || (opt->origin != NULL && m->origin == NULL) || m->spki == NULL ||
	    m->curl == NULL || m->h == NULL || m->leaf_buf == NULL) {
		mirror_free(m);
		return MN_ENOMEM;
	}
	if (m->v == NULL) {
		mirror_free(m);
		return MN_EINVAL;
	}
	memcpy(m->spki, opt->spki, opt->spki_len);
	m->spki_len = opt->spki_len;
	curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m->curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(m->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(m->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(m->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(m->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(m->curl, CURLOPT_XFERINFODATA, m);
	curl_easy_setopt(m->curl, CURLOPT_USERAGENT, "metanotary-mirror/1");
	curl_easy_setopt(m->curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (m->origin == NULL) {
		struct note_checkpoint cp;
		struct ct_sig sig;
		struct buf b;
		char why[1024] = "";
		uint64_t ts;
		int ret = fetch_checkpoint(m, &b, &cp, &ts, &sig, why, sizeof(why));
		if (ret == 0 && (m->origin = strndup(cp.origin, cp.origin_len)) == NULL)
			ret = MN_ENOMEM;
		free(b.data);
		if (ret != 0) {
			fprintf(stderr, "logd: mirror of %s: %s\n", m->url,
				ret == MN_EIO ? "cannot fetch its checkpoint (to start without "
						"reaching it, give its --origin)"
					      : why[0] ? why : mn_strerror(ret));
			mirror_free(m);
			return ret;
		}
	}
	*out = m;
	return 0;
}

const char *mirror_origin(const struct mirror *m)
{
	return m->origin;
}

const uint8_t *mirror_log_id(const struct mirror *m)
{
	return ct_verifier_log_id(m->v);
}

const uint8_t *mirror_spki(const struct mirror *m, size_t *out_len)
{
	*out_len = m->spki_len;
	return m->spki;
}

const char *mirror_url(const struct mirror *m)
{
	return m->url;
}

int mirror_start(struct mirror *m)
{
	if (pthread_create(&m->thread, NULL, follow, m) != 0)
		return MN_ENOMEM;
	m->running = 1;
	return 0;
}

int mirror_stopped(const struct mirror *m)
{
	return atomic_load(&m->stopped);
}

void mirror_metrics(struct mirror *m, struct prom *w, const char *labels)
{
	prom_family(w, "mn_mirror_tree_size", PROM_GAUGE,
		    "Tree size of the origin's newest checkpoint the mirror has verified and stored.");
	prom_u64(w, labels, NULL, atomic_load(&m->tree_size));
	prom_family(w, "mn_mirror_entries_total", PROM_COUNTER,
		    "Entries the mirror verified and stored.");
	prom_u64(w, labels, NULL, atomic_load(&m->entries));
	prom_family(w, "mn_mirror_rounds_total", PROM_COUNTER, "Follower rounds.");
	prom_u64(w, labels, NULL, atomic_load(&m->rounds));
	prom_family(w, "mn_mirror_round_errors_total", PROM_COUNTER,
		    "Rounds that failed on the network or the store (retried).");
	prom_u64(w, labels, NULL, atomic_load(&m->round_errors));
	prom_family(w, "mn_mirror_stopped", PROM_GAUGE,
		    "1 once a verification failure stopped the follower.");
	prom_u64(w, labels, NULL, (uint64_t)atomic_load(&m->stopped));
	prom_family(w, "mn_mirror_last_sync_seconds", PROM_GAUGE,
		    "Unix time of the last round that ended up to date.");
	prom_u64(w, labels, NULL, atomic_load(&m->last_ok_ms) / 1000);
}

void mirror_free(struct mirror *m)
{
	if (m == NULL)
		return;
	if (m->running) {
		pthread_mutex_lock(&m->mu);
		atomic_store(&m->stop, 1);
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cond);
	for (size_t i = 0; i < m->num_issuers; i++)
		free(m->issuers[i].der);
	free(m->issuers);
	free(m->leaf_buf);
	merkle_hasher_free(m->h);
	if (m->curl != NULL)
		curl_easy_cleanup(m->curl);
	ct_verifier_free(m->v);
	free(m->spki);
	free(m->origin);
	free(m->url);
	free(m);
}
