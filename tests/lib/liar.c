/* liar.c: the lying log of liar.h. One thread accepts and serves one request
 * per connection (Connection: close), forwarding it with http_do. */
#include "tests/lib/liar.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "map/map.h"
#include "tests/lib/proc.h"

#define MAX_RECORDED 64
#define MAX_REQUEST (1 << 20)

struct recorded {
	char *target;
	char *body;
};

struct liar {
	uint16_t upstream, port;
	int lfd;
	pthread_t thr;
	pthread_mutex_t mu;
	enum liar_mode mode;    /* under mu */
	char key[300];          /* under mu; "" = the first key */
	char *replay;           /* under mu: the body to answer with */
	struct recorded rec[MAX_RECORDED]; /* under mu */
	char *checkpoint;       /* under mu: the note to serve, or NULL */
	size_t checkpoint_len;
	atomic_int tampered;
	atomic_int checkpoint_hits;
};

/* --- rewriting ------------------------------------------------------------ */

static json_t *find_key(json_t *j, const char *key)
{
	json_t *keys = json_object_get(json_object_get(j, "map"), "keys"), *o;
	size_t i;

	json_array_foreach(keys, i, o) {
		const char *k = json_string_value(json_object_get(o, "key"));
		if (k != NULL && strncmp(k, key, strlen(key)) == 0)
			return o;
	}
	return NULL;
}

/* the list of entries of an answer: lookup "entries", resolve "items" */
static json_t *entries_of(json_t *j)
{
	json_t *e = json_object_get(j, "entries");
	return e != NULL ? e : json_object_get(j, "items");
}

static void drop_entry(json_t *arr, json_int_t index)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
		if (json_integer_value(json_object_get(e, "leaf_index")) == index) {
			json_array_remove(arr, i);
			return;
		}
}

/* absence_proof fetches the MapProof of a key the log does not hold. */
static json_t *absence_proof(struct liar *l)
{
	struct http_resp r;
	json_t *j, *p = NULL;

	if (http_do(l->upstream, "GET", "/mn/v1/lookup?domain=absent-by-liar.example", NULL,
		    NULL, 0, &r) != 0)
		return NULL;
	j = r.status == 200 ? json_loadb((const char *)r.body, r.body_len, 0, NULL) : NULL;
	http_resp_free(&r);
	if (j != NULL && json_integer_value(json_object_get(find_key(j, ""), "count")) == 0)
		p = json_incref(json_object_get(find_key(j, ""), "proof"));
	json_decref(j);
	return p;
}

/* whole_list fetches the key's whole list (the same query, unpaged). */
static json_t *whole_list(struct liar *l, const char *target, const char *key)
{
	char t[2048];
	const char *q = strchr(target, '?');
	size_t n;
	struct http_resp r;
	json_t *j, *o, *items = NULL;

	if (q == NULL)
		return NULL;
	n = (size_t)(q + 1 - target);
	memcpy(t, target, n);
	t[n] = '\0';
	for (const char *p = q + 1; *p != '\0';) {
		size_t len = strcspn(p, "&");
		if (strncmp(p, "limit=", 6) != 0 && strncmp(p, "cursor=", 7) != 0 &&
		    n + len + 2 < sizeof(t)) {
			memcpy(t + n, p, len);
			n += len;
			t[n++] = '&';
		}
		p += len + (p[len] == '&');
	}
	snprintf(t + n, sizeof(t) - n, "limit=100");
	if (http_do(l->upstream, "GET", t, NULL, NULL, 0, &r) != 0)
		return NULL;
	j = r.status == 200 ? json_loadb((const char *)r.body, r.body_len, 0, NULL) : NULL;
	http_resp_free(&r);
	o = find_key(j, key);
	if (o != NULL && json_integer_value(json_object_get(o, "start")) == 0)
		items = json_incref(json_object_get(o, "items"));
	json_decref(j);
	return items;
}

static int item_hash(const json_t *it, uint8_t out[32], json_int_t *out_index)
{
	uint8_t *p = NULL;
	size_t len = 0;
	const json_t *h = json_object_get(it, "leaf_hash");
	int ok = json_is_string(h) &&
		 mn_b64_decode(&p, &len, json_string_value(h), json_string_length(h), 64) == 0 &&
		 len == 32;

	if (ok)
		memcpy(out, p, 32);
	free(p);
	*out_index = json_integer_value(json_object_get(it, "leaf_index"));
	return ok;
}

/* narrow keeps the items of |o| whose indexes are in [lo, hi] and proves
 * them with a range proof computed from |all| (the whole list). */
static int narrow(json_t *o, const json_t *all, json_int_t lo, json_int_t hi)
{
	size_t num = json_array_size(all), s = num, e = 0, pn;
	uint8_t (*ih)[32] = calloc(num ? num : 1, 32), (*rp)[32] = calloc(128, 32);
	struct merkle_hasher *h = merkle_hasher_new();
	json_t *items = json_array(), *range = json_array();
	int ok = ih != NULL && rp != NULL && h != NULL && num > 0;

	for (size_t i = 0; ok && i < num; i++) {
		uint8_t lh[32];
		json_int_t idx;
		ok = item_hash(json_array_get(all, i), lh, &idx);
		map_list_item(h, ih[i], (uint64_t)idx, lh);
		if (ok && idx >= lo && idx <= hi) {
			if (s == num)
				s = i;
			e = i + 1;
			json_array_append(items, json_array_get(all, i));
		}
	}
	ok = ok && s < e;
	pn = ok ? map_list_range_proof(h, (const uint8_t(*)[32])ih, num, s, e, rp, 128) : 0;
	ok = ok && pn != (size_t)-1;
	for (size_t i = 0; ok && i < pn; i++) {
		char b[64];
		mn_b64_encode(b, rp[i], 32);
		json_array_append_new(range, json_string(b));
	}
	if (ok) {
		json_object_set(o, "items", items);
		json_object_set(o, "range_proof", range);
		json_object_set_new(o, "start", json_integer((json_int_t)s));
	}
	json_decref(items);
	json_decref(range);
	free(ih);
	free(rp);
	merkle_hasher_free(h);
	return ok;
}

/* rewrite returns the altered body (malloc'd) or NULL to pass it on. */
static char *rewrite(struct liar *l, enum liar_mode mode, const char *key, const char *target,
		     const uint8_t *body, size_t len)
{
	json_t *j = json_loadb((const char *)body, len, 0, NULL), *o, *items, *ents;
	char *out = NULL;
	int changed = 0;

	if (j == NULL)
		return NULL;
	ents = entries_of(j);
	o = find_key(j, key);
	items = json_object_get(o, "items");
	switch (mode) {
	case LIAR_DROP_ENTRY:
		if (json_array_size(ents) > 0)
			changed = json_array_remove(ents, json_array_size(ents) / 2) == 0;
		break;
	case LIAR_DROP_NEWEST:
		if (json_array_size(items) > 0) {
			size_t last = json_array_size(items) - 1;
			json_int_t idx = json_integer_value(
				json_object_get(json_array_get(items, last), "leaf_index"));
			json_int_t count = json_integer_value(json_object_get(o, "count"));
			json_array_remove(items, last);
			json_object_set_new(o, "count", json_integer(count - 1));
			drop_entry(ents, idx);
			changed = 1;
		}
		break;
	case LIAR_CLAIM_ABSENT:
		if (o != NULL) {
			json_t *p = absence_proof(l), *it;
			size_t i;
			json_array_foreach(items, i, it)
				drop_entry(ents, json_integer_value(json_object_get(it, "leaf_index")));
			if (p != NULL)
				json_object_set_new(o, "proof", p);
			json_object_set_new(o, "count", json_integer(0));
			json_object_set_new(o, "start", json_integer(0));
			json_object_set_new(o, "items", json_array());
			json_object_set_new(o, "range_proof", json_array());
			if (json_object_get(j, "next_cursor") != NULL)
				json_object_set_new(j, "next_cursor", json_null());
			changed = 1;
		}
		break;
	case LIAR_GAP:
		if (json_array_size(items) >= 3) {
			size_t mid = json_array_size(items) / 2;
			json_int_t idx = json_integer_value(
				json_object_get(json_array_get(items, mid), "leaf_index"));
			json_array_remove(items, mid);
			drop_entry(ents, idx);
			changed = 1;
		}
		break;
	case LIAR_STRIP_MAP:
		changed = json_object_del(j, "map") == 0;
		break;
	case LIAR_NO_POLICY:
		if (json_object_get(j, "smtp_policy") != NULL) {
			json_t *a = json_object_get(j, "advice");
			json_object_set_new(j, "smtp_policy", json_null());
			json_object_set_new(a, "starttls", json_null());
			json_object_set_new(a, "tls_min", json_null());
			changed = 1;
		} else if (json_object_get(j, "policy") != NULL) {
			json_object_set_new(j, "policy", json_null());
			json_object_set_new(j, "advice", json_null());
			changed = 1;
		}
		break;
	case LIAR_NARROW_RIGHT:
	case LIAR_NARROW_LEFT: {
		const char *cur = strstr(target, "&cursor=");
		json_t *all, *e;
		json_int_t cut;
		if (o == NULL || json_array_size(ents) == 0 ||
		    (mode == LIAR_NARROW_RIGHT && !json_is_string(json_object_get(j, "next_cursor"))) ||
		    (mode == LIAR_NARROW_LEFT && cur == NULL))
			break;
		all = whole_list(l, target, key);
		if (mode == LIAR_NARROW_RIGHT) {
			e = json_array_get(ents, json_array_size(ents) - 1);
			cut = json_integer_value(json_object_get(e, "leaf_index"));
			changed = narrow(o, all, 0, cut - 1);
			if (changed)
				json_array_remove(ents, json_array_size(ents) - 1);
		} else {
			e = json_array_get(ents, 0);
			cut = json_integer_value(json_object_get(e, "leaf_index"));
			changed = narrow(o, all, cut + 1, INT64_MAX);
			if (changed)
				json_array_remove(ents, 0);
		}
		json_decref(all);
		break;
	}
	default:
		break;
	}
	if (changed) {
		out = json_dumps(j, JSON_COMPACT);
		atomic_fetch_add(&l->tampered, 1);
	}
	json_decref(j);
	return out;
}

static void record(struct liar *l, const char *target, const uint8_t *body, size_t len)
{
	size_t i, free_slot = MAX_RECORDED;
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return;
	memcpy(copy, body, len);
	copy[len] = '\0';
	for (i = 0; i < MAX_RECORDED; i++) {
		if (l->rec[i].target != NULL && strcmp(l->rec[i].target, target) == 0)
			break;
		if (l->rec[i].target == NULL && free_slot == MAX_RECORDED)
			free_slot = i;
	}
	if (i == MAX_RECORDED) {
		i = free_slot;
		if (i == MAX_RECORDED || (l->rec[i].target = strdup(target)) == NULL) {
			free(copy);
			return;
		}
	}
	free(l->rec[i].body);
	l->rec[i].body = copy;
}

/* --- serving ------------------------------------------------------------- */

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

/* other_vrf: the answer |body| with the vrf_proof of another address. */
static char *other_vrf(struct liar *l, const uint8_t *body, size_t len)
{
	struct http_resp o;
	json_t *a = json_loadb((const char *)body, len, 0, NULL), *b = NULL;
	char *out = NULL;

	if (a != NULL && http_do(l->upstream, "GET", "/mn/v1/vrf?email=other%40liar.example",
				 NULL, NULL, 0, &o) == 0) {
		b = o.status == 200 ? json_loadb((const char *)o.body, o.body_len, 0, NULL) : NULL;
		http_resp_free(&o);
	}
	if (b != NULL && json_object_get(b, "vrf_proof") != NULL &&
	    json_object_set(a, "vrf_proof", json_object_get(b, "vrf_proof")) == 0) {
		out = json_dumps(a, JSON_COMPACT);
		atomic_fetch_add(&l->tampered, 1);
	}
	json_decref(a);
	json_decref(b);
	return out;
}

static void serve_one(struct liar *l, int fd, char *buf)
{
	char method[16], target[2048], head[256], key[300];
	size_t n = 0, hl, cl = 0;
	char *end, *p, *changed = NULL;
	const char *b;
	size_t bl;
	struct http_resp r;
	enum liar_mode mode;
	int mn;

	for (;;) {
		ssize_t got;
		if (n == MAX_REQUEST - 1)
			return;
		got = read(fd, buf + n, MAX_REQUEST - 1 - n);
		if (got <= 0)
			return;
		n += (size_t)got;
		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	hl = (size_t)(end + 4 - buf);
	if ((p = strcasestr(buf, "\r\nContent-Length:")) != NULL && p < end)
		cl = strtoul(p + 17, NULL, 10);
	if (cl > MAX_REQUEST - 1 - hl)
		return;
	while (n < hl + cl) {
		ssize_t got = read(fd, buf + n, hl + cl - n);
		if (got <= 0)
			return;
		n += (size_t)got;
	}
	if (sscanf(buf, "%15s %2047s", method, target) != 2)
		return;
	if (strcmp(method, "GET") == 0 && strcmp(target, "/checkpoint") == 0) {
		char *note = NULL;
		size_t nl = 0;
		pthread_mutex_lock(&l->mu);
		if (l->checkpoint != NULL && (note = malloc(l->checkpoint_len)) != NULL) {
			memcpy(note, l->checkpoint, l->checkpoint_len);
			nl = l->checkpoint_len;
		}
		pthread_mutex_unlock(&l->mu);
		if (note != NULL) {
			snprintf(head, sizeof(head),
				 "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n", nl);
			write_all(fd, head, strlen(head));
			write_all(fd, note, nl);
			free(note);
			atomic_fetch_add(&l->checkpoint_hits, 1);
			return;
		}
	}
	if (http_do(l->upstream, method, target, cl ? "Content-Type: application/json\r\n" : NULL,
		    buf + hl, cl, &r) != 0)
		return;
	mn = r.status == 200 && (strncmp(target, "/mn/v1/lookup?", 14) == 0 ||
				 strncmp(target, "/mn/v1/resolve?", 15) == 0);
	pthread_mutex_lock(&l->mu);
	mode = l->mode;
	memcpy(key, l->key, sizeof(key));
	if (mn && mode == LIAR_REPLAY && l->replay != NULL) {
		changed = strdup(l->replay);
		atomic_fetch_add(&l->tampered, 1);
	} else if (mn && mode != LIAR_REPLAY) {
		record(l, target, r.body, r.body_len);
	}
	pthread_mutex_unlock(&l->mu);
	if (mode == LIAR_FLIP_TILE && r.status == 200 && strncmp(target, "/tile/0/", 8) == 0 &&
	    r.body_len > 40) {
		r.body[40] ^= 1;
		atomic_fetch_add(&l->tampered, 1);
	}
	if (mode == LIAR_OTHER_VRF && r.status == 200 && strncmp(target, "/mn/v1/vrf?", 11) == 0)
		changed = other_vrf(l, r.body, r.body_len);
	if (mn && changed == NULL && mode != LIAR_PASS && mode != LIAR_REPLAY)
		changed = rewrite(l, mode, key, target, r.body, r.body_len);
	b = changed ? changed : (const char *)r.body;
	bl = changed ? strlen(changed) : r.body_len;
	snprintf(head, sizeof(head),
		 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n", r.status, bl);
	write_all(fd, head, strlen(head));
	write_all(fd, b, bl);
	free(changed);
	http_resp_free(&r);
}

static void *liar_main(void *arg)
{
	struct liar *l = arg;
	char *buf = malloc(MAX_REQUEST);

	if (buf == NULL)
		return NULL;
	for (;;) {
		int fd = accept(l->lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		serve_one(l, fd, buf);
		close(fd);
	}
	free(buf);
	return NULL;
}

struct liar *liar_start(uint16_t upstream)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	struct liar *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->upstream = upstream;
	pthread_mutex_init(&l->mu, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->lfd < 0 || bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(l->lfd, 16) != 0 || getsockname(l->lfd, (struct sockaddr *)&sa, &sl) != 0 ||
	    pthread_create(&l->thr, NULL, liar_main, l) != 0) {
		if (l->lfd >= 0)
			close(l->lfd);
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	l->port = ntohs(sa.sin_port);
	return l;
}

uint16_t liar_port(const struct liar *l)
{
	return l->port;
}

void liar_set(struct liar *l, enum liar_mode mode, const char *key)
{
	pthread_mutex_lock(&l->mu);
	l->mode = mode;
	snprintf(l->key, sizeof(l->key), "%s", key ? key : "");
	atomic_store(&l->tampered, 0);
	pthread_mutex_unlock(&l->mu);
}

int liar_replay(struct liar *l, const char *target)
{
	int ret = -1;

	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < MAX_RECORDED; i++)
		if (l->rec[i].target != NULL && strcmp(l->rec[i].target, target) == 0) {
			free(l->replay);
			l->replay = strdup(l->rec[i].body);
			ret = l->replay != NULL ? 0 : -1;
			break;
		}
	if (ret == 0) {
		l->mode = LIAR_REPLAY;
		atomic_store(&l->tampered, 0);
	}
	pthread_mutex_unlock(&l->mu);
	return ret;
}

int liar_checkpoint(struct liar *l, const char *note, size_t len)
{
	char *copy = NULL;

	if (note != NULL && (copy = malloc(len ? len : 1)) == NULL)
		return -1;
	if (copy != NULL)
		memcpy(copy, note, len);
	pthread_mutex_lock(&l->mu);
	free(l->checkpoint);
	l->checkpoint = copy;
	l->checkpoint_len = len;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

int liar_checkpoint_hits(const struct liar *l)
{
	return atomic_load(&((struct liar *)l)->checkpoint_hits);
}

int liar_tampered(const struct liar *l)
{
	return atomic_load(&((struct liar *)l)->tampered);
}

void liar_stop(struct liar *l)
{
	if (l == NULL)
		return;
	shutdown(l->lfd, SHUT_RDWR);
	pthread_join(l->thr, NULL);
	close(l->lfd);
	for (size_t i = 0; i < MAX_RECORDED; i++) {
		free(l->rec[i].target);
		free(l->rec[i].body);
	}
	free(l->replay);
	free(l->checkpoint);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
