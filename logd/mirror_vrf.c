/* mirror_vrf.c: the origin's VRF proofs for a mirror (mirror_vrf.h). */
#include "logd/mirror_vrf.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/vrf.h"
#include "entry/pgp.h"

#define MAX_ANSWER 4096
#define MAX_INFO (64u << 10)
#define KEY_RETRY_MS 5000 /* between attempts to learn an unpinned key */
#define MAX_FETCHERS 16

struct slot {
	uint8_t addr_hash[32];
	uint8_t proof[VRF_PROOF_LEN];
	int used;
};

struct mirror_vrf {
	char *url;               /* without a trailing '/' */
	uint8_t *spki;
	size_t spki_len;
	char *pin_path;
	long timeout_ms;

	pthread_mutex_t mu;      /* the key and the cache */
	int has_key;
	uint8_t pub[VRF_PUBLIC_LEN];
	uint64_t key_tried_ms;   /* last attempt to learn it (0: none) */
	int learning;            /* a fetcher is learning it */
	struct slot *slots;
	size_t num_slots;

	/* the fetch queue and its threads */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct job *queue, *tail; /* guarded by qmu */
	unsigned pending;        /* guarded by qmu: queued or being fetched */
	unsigned max_pending;
	int stop;                /* guarded by qmu */
	pthread_t threads[MAX_FETCHERS];
	unsigned num_threads;

	atomic_uint_fast64_t hits, fetches, failures, bad;
};

struct job;

struct buf {
	uint8_t *data;
	size_t len, max;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t add = size * n;
	uint8_t *nb;

	if (add > b->max - b->len)
		return 0; /* too big: the transfer fails */
	nb = realloc(b->data, b->len + add + 1);
	if (nb == NULL)
		return 0;
	memcpy(nb + b->len, p, add);
	b->data = nb;
	b->len += add;
	return add;
}

/* get fetches v->url + |path| (at most |max| bytes, 200 only) into *out. 0 or
 * MN_EIO (logged). */
static int get(struct mirror_vrf *v, const char *path, size_t max, struct buf *out)
{
	char url[4600];
	long status = 0;
	CURLcode rc;
	CURL *c = curl_easy_init();

	memset(out, 0, sizeof(*out));
	out->max = max;
	if (c == NULL)
		return MN_ENOMEM;
	snprintf(url, sizeof(url), "%s%s", v->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, v->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "metanotary-mirror/1");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || status != 200) {
		mn_warn("mirror_vrf_fetch", "url=\"%.300s\" status=%ld err=\"%s\"", url, status,
			rc != CURLE_OK ? curl_easy_strerror(rc) : "not 200");
		free(out->data);
		memset(out, 0, sizeof(*out));
		return MN_EIO;
	}
	return 0;
}

/* b64_field decodes the base64 string |name| of |j| into exactly |len| bytes.
 * 1 or 0. */
static int b64_field(const json_t *j, const char *name, uint8_t *out, size_t len)
{
	const json_t *s = json_object_get(j, name);
	uint8_t *d = NULL;
	size_t dl = 0;
	int ok;

	if (!json_is_string(s) ||
	    mn_b64_decode(&d, &dl, json_string_value(s), json_string_length(s), len) != 0)
		return 0;
	ok = dl == len;
	if (ok)
		memcpy(out, d, len);
	free(d);
	return ok;
}

/* parse_pub: a compressed P-256 point's shape (vrf_verify decodes it). */
static int pub_shaped(const uint8_t pub[VRF_PUBLIC_LEN])
{
	return pub[0] == 0x02 || pub[0] == 0x03;
}

/* --- the pin ----------------------------------------------------------------- */

static int read_pin(struct mirror_vrf *v)
{
	char text[128];
	uint8_t *d = NULL;
	size_t n, dl = 0;
	FILE *f = fopen(v->pin_path, "r");

	if (f == NULL)
		return MN_ENOTFOUND;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	if (mn_b64_decode(&d, &dl, text, n, VRF_PUBLIC_LEN) != 0 || dl != VRF_PUBLIC_LEN ||
	    !pub_shaped(d)) {
		free(d);
		fprintf(stderr, "logd: %s: not the base64 of a compressed P-256 point (the "
			"origin's VRF public key)\n", v->pin_path);
		return MN_EMALFORMED;
	}
	memcpy(v->pub, d, VRF_PUBLIC_LEN);
	free(d);
	v->has_key = 1;
	return 0;
}

/* write_pin writes |pub| to the pin file: a temporary file, fsynced, renamed. */
static int write_pin(const struct mirror_vrf *v, const uint8_t pub[VRF_PUBLIC_LEN])
{
	char tmp[4200], text[64];
	size_t n = mn_b64_encode(text, pub, VRF_PUBLIC_LEN);
	int fd, ok;

	text[n++] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.tmp", v->pin_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return MN_EIO;
	ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, v->pin_path) != 0) {
		unlink(tmp);
		return MN_EIO;
	}
	return 0;
}

/* learn_key fetches the origin's /mn/v1/info and pins its "vrf_public_key"
 * in the pin file (and |pub|) if its "key" is the mirrored log's. Called
 * without v->mu (it waits for the network), by one thread at a time. 0 or
 * MN_E*. */
static int learn_key(struct mirror_vrf *v, uint8_t pub[VRF_PUBLIC_LEN])
{
	struct buf b;
	json_t *j;
	uint8_t *key = NULL;
	size_t key_len = 0;
	const json_t *k;
	int ret;

	ret = get(v, "/mn/v1/info", MAX_INFO, &b);
	if (ret != 0)
		return ret;
	j = json_loadb((const char *)b.data, b.len, 0, NULL);
	free(b.data);
	k = json_object_get(j, "key");
	if (j == NULL || !json_is_string(k) ||
	    mn_b64_decode(&key, &key_len, json_string_value(k), json_string_length(k),
			  MAX_INFO) != 0 ||
	    key_len != v->spki_len || memcmp(key, v->spki, key_len) != 0) {
		mn_warn("mirror_vrf_key", "url=\"%.300s\" msg=\"the origin's /mn/v1/info does "
			"not name the mirrored log's key: its VRF key is not taken\"", v->url);
		ret = MN_EIO;
	} else if (!b64_field(j, "vrf_public_key", pub, VRF_PUBLIC_LEN) || !pub_shaped(pub)) {
		mn_warn("mirror_vrf_key", "url=\"%.300s\" msg=\"the origin's /mn/v1/info has no "
			"vrf_public_key\"", v->url);
		ret = MN_EIO;
	} else if ((ret = write_pin(v, pub)) != 0) {
		mn_error("mirror_vrf_key", "path=\"%s\" msg=\"cannot write the pin file\"",
			 v->pin_path);
	} else {
		mn_info("mirror_vrf_key", "url=\"%.300s\" path=\"%s\" msg=\"origin's VRF public "
			"key pinned\"", v->url, v->pin_path);
	}
	free(key);
	json_decref(j);
	return ret;
}

/* key_get copies the pinned key, learning it first (one fetcher at a time,
 * v->mu not held meanwhile, so cache reads never wait for the network) if
 * it is not pinned and the last attempt is old enough. 1 or 0. */
static int key_get(struct mirror_vrf *v, uint8_t pub[VRF_PUBLIC_LEN])
{
	uint8_t learned[VRF_PUBLIC_LEN];
	uint64_t now = mn_now_ms();
	int ok, ret;

	pthread_mutex_lock(&v->mu);
	if (v->has_key || v->learning ||
	    (v->key_tried_ms != 0 && now - v->key_tried_ms < KEY_RETRY_MS)) {
		ok = v->has_key;
		if (ok)
			memcpy(pub, v->pub, VRF_PUBLIC_LEN);
		pthread_mutex_unlock(&v->mu);
		return ok;
	}
	v->learning = 1;
	v->key_tried_ms = now;
	pthread_mutex_unlock(&v->mu);
	ret = learn_key(v, learned);
	pthread_mutex_lock(&v->mu);
	v->learning = 0;
	if (ret == 0) {
		memcpy(v->pub, learned, VRF_PUBLIC_LEN);
		v->has_key = 1;
	}
	ok = v->has_key;
	if (ok)
		memcpy(pub, v->pub, VRF_PUBLIC_LEN);
	pthread_mutex_unlock(&v->mu);
	return ok;
}

/* --- proofs -------------------------------------------------------------------- */

/* slot_of: the cache slot of the address whose SHA-256 is |h|. */
static struct slot *slot_of(struct mirror_vrf *v, const uint8_t h[32])
{
	return &v->slots[(((size_t)h[0] << 16) | ((size_t)h[1] << 8) | h[2]) % v->num_slots];
}

int mirror_vrf_cached(void *ctx, uint8_t proof[VRF_PROOF_LEN], const char *addr,
		      size_t addr_len)
{
	struct mirror_vrf *v = ctx;
	uint8_t h[32];
	struct slot *s;
	int hit;

	SHA256((const uint8_t *)addr, addr_len, h);
	s = slot_of(v, h);
	pthread_mutex_lock(&v->mu);
	hit = s->used && memcmp(s->addr_hash, h, 32) == 0;
	if (hit)
		memcpy(proof, s->proof, VRF_PROOF_LEN);
	pthread_mutex_unlock(&v->mu);
	if (hit)
		atomic_fetch_add(&v->hits, 1);
	return hit;
}

/* fetch_proof gets, verifies and caches the origin's proof of |addr| (on a
 * fetcher thread). 0, MN_EIO, MN_EBADSIG, MN_ENOMEM. */
static int fetch_proof(struct mirror_vrf *v, uint8_t proof[VRF_PROOF_LEN], const char *addr,
		       size_t addr_len)
{
	uint8_t h[32], pub[VRF_PUBLIC_LEN], beta[VRF_OUTPUT_LEN];
	struct slot *s;
	struct buf b;
	json_t *j;
	char path[1200], *esc;
	int ret;

	if (mirror_vrf_cached(v, proof, addr, addr_len))
		return 0; /* fetched meanwhile for another request */
	atomic_fetch_add(&v->fetches, 1);
	if (!key_get(v, pub))
		return MN_EIO;
	esc = curl_easy_escape(NULL, addr, (int)addr_len);
	if (esc == NULL)
		return MN_ENOMEM;
	snprintf(path, sizeof(path), "/mn/v1/vrf?email=%s", esc);
	curl_free(esc);
	ret = get(v, path, MAX_ANSWER, &b);
	if (ret != 0)
		return ret;
	j = json_loadb((const char *)b.data, b.len, 0, NULL);
	free(b.data);
	/* the proof must verify for the address asked, whatever the answer
	 * says it is for (RFC 9381 section 5.3) */
	ret = j != NULL && b64_field(j, "vrf_proof", proof, VRF_PROOF_LEN) &&
			      pgp_address_vrf_verify(beta, pub, proof, addr, addr_len)
		      ? 0
		      : MN_EBADSIG;
	json_decref(j);
	if (ret != 0) {
		atomic_fetch_add(&v->bad, 1);
		mn_warn("mirror_vrf_bad_proof", "url=\"%.300s\" msg=\"the origin's VRF proof of "
			"an address does not verify with its pinned VRF key\"", v->url);
		return ret;
	}
	SHA256((const uint8_t *)addr, addr_len, h);
	s = slot_of(v, h);
	pthread_mutex_lock(&v->mu);
	memcpy(s->addr_hash, h, 32);
	memcpy(s->proof, proof, VRF_PROOF_LEN);
	s->used = 1;
	pthread_mutex_unlock(&v->mu);
	return 0;
}

/* --- the fetcher threads ----------------------------------------------------- */

struct job {
	struct job *next;
	void (*fetched)(void *arg, int status, const uint8_t *proof);
	void *arg;
	size_t addr_len;
	char addr[];
};

static void *fetcher(void *arg)
{
	struct mirror_vrf *v = arg;

	for (;;) {
		struct job *j;
		uint8_t proof[VRF_PROOF_LEN];
		int ret, stopping;

		pthread_mutex_lock(&v->qmu);
		while (v->queue == NULL && !v->stop)
			pthread_cond_wait(&v->qcv, &v->qmu);
		j = v->queue;
		if (j == NULL) { /* stopping, nothing left */
			pthread_mutex_unlock(&v->qmu);
			return NULL;
		}
		v->queue = j->next;
		if (v->queue == NULL)
			v->tail = NULL;
		stopping = v->stop;
		pthread_mutex_unlock(&v->qmu);
		ret = stopping ? MN_EIO : fetch_proof(v, proof, j->addr, j->addr_len);
		if (ret != 0)
			atomic_fetch_add(&v->failures, 1);
		j->fetched(j->arg, ret, ret == 0 ? proof : NULL);
		pthread_mutex_lock(&v->qmu);
		v->pending--;
		pthread_mutex_unlock(&v->qmu);
		free(j);
	}
}

int mirror_vrf_fetch(void *ctx, const char *addr, size_t addr_len,
		     void (*fetched)(void *arg, int status, const uint8_t *proof), void *arg)
{
	struct mirror_vrf *v = ctx;
	struct job *j;

	pthread_mutex_lock(&v->qmu);
	if (v->stop || v->pending >= v->max_pending) {
		pthread_mutex_unlock(&v->qmu);
		atomic_fetch_add(&v->failures, 1);
		return MN_EBUSY;
	}
	v->pending++;
	pthread_mutex_unlock(&v->qmu);
	j = malloc(sizeof(*j) + addr_len + 1);
	if (j == NULL) {
		pthread_mutex_lock(&v->qmu);
		v->pending--;
		pthread_mutex_unlock(&v->qmu);
		return MN_ENOMEM;
	}
	j->next = NULL;
	j->fetched = fetched;
	j->arg = arg;
	j->addr_len = addr_len;
	memcpy(j->addr, addr, addr_len);
	j->addr[addr_len] = '\0';
	pthread_mutex_lock(&v->qmu);
	if (v->tail != NULL)
		v->tail->next = j;
	else
		v->queue = j;
	v->tail = j;
	pthread_cond_signal(&v->qcv);
	pthread_mutex_unlock(&v->qmu);
	return 0;
}

int mirror_vrf_public(void *ctx, uint8_t pub[VRF_PUBLIC_LEN])
{
	struct mirror_vrf *v = ctx;
	int ok;

	pthread_mutex_lock(&v->mu);
	ok = v->has_key;
	if (ok)
		memcpy(pub, v->pub, VRF_PUBLIC_LEN);
	pthread_mutex_unlock(&v->mu);
	return ok;
}

int mirror_vrf_new(struct mirror_vrf **out, const struct mirror_vrf_options *opt)
{
	struct mirror_vrf *v = calloc(1, sizeof(*v));
	size_t ul;
	int ret;

	*out = NULL;
	if (v == NULL)
		return MN_ENOMEM;
	ul = strlen(opt->url);
	while (ul > 0 && opt->url[ul - 1] == '/')
		ul--;
	pthread_mutex_init(&v->mu, NULL);
	pthread_mutex_init(&v->qmu, NULL);
	pthread_cond_init(&v->qcv, NULL);
	v->url = strndup(opt->url, ul);
	v->pin_path = strdup(opt->pin_path);
	v->spki = malloc(opt->spki_len ? opt->spki_len : 1);
	v->timeout_ms = opt->timeout_ms ? (long)opt->timeout_ms : 2000;
	v->max_pending = opt->max_pending ? opt->max_pending : 64;
	v->num_slots = opt->cache_slots ? opt->cache_slots : 4096;
	v->slots = calloc(v->num_slots, sizeof(*v->slots));
	if (v->url == NULL || v->pin_path == NULL || v->spki == NULL || v->slots == NULL) {
		mirror_vrf_free(v);
		return MN_ENOMEM;
	}
	memcpy(v->spki, opt->spki, opt->spki_len);
	v->spki_len = opt->spki_len;
	ret = read_pin(v);
	if (ret == MN_ENOTFOUND) {
		v->key_tried_ms = mn_now_ms();
		ret = learn_key(v, v->pub);
		if (ret == 0)
			v->has_key = 1;
		if (ret == MN_EIO && access(v->pin_path, F_OK) != 0)
			ret = 0; /* not reachable now: learned at first use */
	}
	if (ret != 0 && ret != MN_EIO) {
		mirror_vrf_free(v);
		return ret;
	}
	/* v->num_threads counts the threads started (mirror_vrf_free joins them) */
	for (unsigned i = 0; i < (opt->fetchers ? opt->fetchers : 4) && i < MAX_FETCHERS; i++) {
		if (pthread_create(&v->threads[i], NULL, fetcher, v) != 0) {
			mirror_vrf_free(v);
			return MN_ENOMEM;
		}
		v->num_threads = i + 1;
	}
	*out = v;
	return 0;
}

void mirror_vrf_metrics(struct mirror_vrf *v, struct prom *w, const char *labels)
{
	prom_family(w, "mn_mirror_vrf_fetches_total", PROM_COUNTER,
		    "VRF proofs of addresses fetched from the origin (cache misses).");
	prom_u64(w, labels, NULL, atomic_load(&v->fetches));
	prom_family(w, "mn_mirror_vrf_cache_hits_total", PROM_COUNTER,
		    "VRF proofs of addresses answered from the cache of verified proofs.");
	prom_u64(w, labels, NULL, atomic_load(&v->hits));
	prom_family(w, "mn_mirror_vrf_failures_total", PROM_COUNTER,
		    "VRF proofs the origin did not give (unreachable, HTTP error, busy, no key).");
	prom_u64(w, labels, NULL, atomic_load(&v->failures));
	prom_family(w, "mn_mirror_vrf_bad_proofs_total", PROM_COUNTER,
		    "VRF proofs from the origin that did not verify with its pinned key.");
	prom_u64(w, labels, NULL, atomic_load(&v->bad));
	prom_family(w, "mn_mirror_vrf_key_pinned", PROM_GAUGE,
		    "1 once the origin's VRF public key is pinned.");
	pthread_mutex_lock(&v->mu);
	prom_u64(w, labels, NULL, (uint64_t)v->has_key);
	pthread_mutex_unlock(&v->mu);
}

void mirror_vrf_free(struct mirror_vrf *v)
{
	if (v == NULL)
		return;
	/* queued fetches are answered MN_EIO (none are left once the transport
	 * stopped: it waits for every request) */
	pthread_mutex_lock(&v->qmu);
	v->stop = 1;
	pthread_cond_broadcast(&v->qcv);
	pthread_mutex_unlock(&v->qmu);
	for (unsigned i = 0; i < v->num_threads; i++)
		pthread_join(v->threads[i], NULL);
	pthread_mutex_destroy(&v->qmu);
	pthread_cond_destroy(&v->qcv);
	pthread_mutex_destroy(&v->mu);
	free(v->slots);
	free(v->spki);
	free(v->pin_path);
	free(v->url);
	free(v);
}
