/* test_trust.c: api_set_trust swaps the trust set under concurrent requests.
 *   - a request that holds the set keeps it: the swap waits, and the old set
 *     is released only after the request let it go;
 *   - reader threads answering get-roots while another thread swaps sets
 *     hundreds of times always see one whole set (1 or 2 roots, never a
 *     freed one: run under ASan, a use after free aborts), and every replaced
 *     owned set is released exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "api/internal.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"

#define NREADERS 4
#define NSWAPS 300

static struct {
	char *pem1, *pem2; /* one root, two roots */
	size_t len1, len2;
	atomic_uint released;
} T;

struct owned {
	struct x509_roots *roots;
	struct x509_validator *v;
};

static void release(void *p)
{
	struct owned *o = p;

	x509_validator_free(o->v);
	x509_roots_free(o->roots);
	/* poison what a late reader would read, then free */
	memset(o, 0xa5, sizeof(*o));
	free(o);
	atomic_fetch_add(&T.released, 1);
}

/* make_set loads |pem| into a fresh owned set. */
static struct api_trust make_set(const char *pem, size_t len)
{
	struct owned *o = calloc(1, sizeof(*o));
	struct api_trust t = {0};

	assert_non_null(o);
	assert_int_equal(x509_roots_load_pem(&o->roots, NULL, (const uint8_t *)pem, len), 0);
	o->v = x509_validator_new(o->roots, NULL);
	assert_non_null(o->v);
	t.tls = o->v;
	t.tls_roots = o->roots;
	t.release = release;
	t.owner = o;
	return t;
}

static int setup(void **state)
{
	struct pki_cert *a = pki_root("Trust Root A", 0), *b = pki_root("Trust Root B", 0);
	const struct pki_cert *both[2] = {a, b};

	(void)state;
	if (a == NULL || b == NULL)
		return -1;
	T.pem1 = pki_pem(both, 1, &T.len1);
	T.pem2 = pki_pem(both, 2, &T.len2);
	pki_free(a);
	pki_free(b);
	return T.pem1 != NULL && T.pem2 != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(T.pem1);
	free(T.pem2);
	return 0;
}

static struct api *new_api(void)
{
	struct api_config ac = {0};
	struct api *api = api_new(&ac); /* no initial set: get-roots lists none */

	assert_non_null(api);
	return api;
}

struct swapper {
	struct api *api;
	struct api_trust t;
	int ret;
};

static void *swap_main(void *arg)
{
	struct swapper *s = arg;

	s->ret = api_set_trust(s->api, &s->t);
	return NULL;
}

static void test_holder_keeps_its_set(void **state)
{
	struct api *api = new_api();
	struct swapper sw;
	const struct api_trust *held, *now;
	unsigned slot, slot2;
	pthread_t th;

	(void)state;
	atomic_store(&T.released, 0);
	sw.api = api;
	sw.t = make_set(T.pem1, T.len1);
	assert_int_equal(api_set_trust(api, &sw.t), 0); /* the borrowed empty one: no release */
	assert_int_equal(atomic_load(&T.released), 0);

	held = api__trust_get(api, &slot);
	assert_true(held->tls_roots == sw.t.tls_roots);
	sw.t = make_set(T.pem2, T.len2);
	assert_int_equal(pthread_create(&th, NULL, swap_main, &sw), 0);
	/* wait until new requests see the new set: the swapper is then waiting
	 * for us (each get/put is one request) */
	for (;;) {
		now = api__trust_get(api, &slot2);
		int swapped = now->tls_roots == sw.t.tls_roots;
		api__trust_put(api, slot2);
		if (swapped)
			break;
		sched_yield();
	}
	/* we still hold the old set: it is intact and not released */
	assert_int_equal(atomic_load(&T.released), 0);
	assert_int_equal(x509_roots_count(held->tls_roots), 1);
	api__trust_put(api, slot);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sw.ret, 0);
	assert_int_equal(atomic_load(&T.released), 1);
	api_free(api); /* releases the current one */
	assert_int_equal(atomic_load(&T.released), 2);
}

static atomic_int stop_readers;

struct reader {
	pthread_t th;
	struct api *api;
	unsigned answers, bad;
	unsigned seen[3];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct api_request rq = {0};

	rq.method = API_GET;
	rq.path = "/ct/v1/get-roots";
	rq.path_len = strlen(rq.path);
	while (!atomic_load(&stop_readers)) {
		struct api_response rs;
		json_t *j;
		size_t n;

		if (api_handle(r->api, &rq, &rs, NULL, NULL) != API_DONE || rs.status != 200) {
			r->bad++;
			api_response_free(&rs);
			continue;
		}
		j = json_loadb((char *)rs.body, rs.body_len, 0, NULL);
		n = json_array_size(json_object_get(j, "certificates"));
		if (j == NULL || n > 2)
			r->bad++;
		else
			r->seen[n]++;
		json_decref(j);
		api_response_free(&rs);
		r->answers++;
	}
	return NULL;
}

static void test_swaps_under_readers(void **state)
{
	static struct reader R[NREADERS];
	struct api *api = new_api();
	unsigned total[3] = {0, 0, 0};

	(void)state;
	atomic_store(&T.released, 0);
	atomic_store(&stop_readers, 0);
	for (int i = 0; i < NREADERS; i++) {
		memset(&R[i], 0, sizeof(R[i]));
		R[i].api = api;
		assert_int_equal(pthread_create(&R[i].th, NULL, reader_main, &R[i]), 0);
	}
	for (int s = 0; s < NSWAPS; s++) {
		struct api_trust t = s % 2 == 0 ? make_set(T.pem1, T.len1) : make_set(T.pem2, T.len2);
		assert_int_equal(api_set_trust(api, &t), 0);
	}
	atomic_store(&stop_readers, 1);
	for (int i = 0; i < NREADERS; i++) {
		assert_int_equal(pthread_join(R[i].th, NULL), 0);
		assert_int_equal(R[i].bad, 0);
		for (int k = 0; k < 3; k++)
			total[k] += R[i].seen[k];
	}
	/* the first swap replaced the borrowed (empty) set: no release */
	assert_int_equal(atomic_load(&T.released), NSWAPS - 1);
	api_free(api);
	assert_int_equal(atomic_load(&T.released), NSWAPS);
	/* the readers ran during the swaps and saw both owned sets */
	fprintf(stderr, "answers with 0/1/2 roots: %u/%u/%u\n", total[0], total[1], total[2]);
	assert_true(total[1] + total[2] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_holder_keeps_its_set),
		cmocka_unit_test(test_swaps_under_readers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
