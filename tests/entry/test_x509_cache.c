/* test_x509_cache.c: the validator's cache of decoded intermediates
 * (entry/x509.c): hits, eviction under a tiny capacity, and threads sharing
 * one validator while its entries are evicted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"
#include "tests/lib/x509fix.h"

#define DAY X509FIX_DAY

static void test_cache(void **state)
{
	(void)state;
	struct x509_validator *v = x509fix_new_validator();
	struct x509_stats st;
	struct x509_result r;

	/* A failing chain leaves nothing behind. */
	const struct pki_cert *bad[] = {x509fix.expired, x509fix.ca};
	x509fix_expect_reject(v, bad, 2, 0, MN_EBADCERT);
	const struct pki_cert *badsig[] = {x509fix.leaf_of_not_ca, x509fix.ca};
	x509fix_expect_reject(v, badsig, 2, 0, MN_EBADCHAIN);
	x509_validator_stats(v, &st);
	assert_int_equal(st.cache_entries, 0);
	assert_int_equal(st.cert_decodes, 1);

	const struct pki_cert *a[] = {x509fix.leaf, x509fix.ca}, *b[] = {x509fix.leaf2, x509fix.ca};
	assert_int_equal(x509fix_validate(v, a, 2, 0, &r), 0);
	x509_result_cleanup(&r);
	x509_validator_stats(v, &st);
	assert_int_equal(st.cert_decodes, 2);
	assert_int_equal(st.cache_hits, 0);
	assert_int_equal(st.cache_entries, 1);
	uint64_t verifies = st.sig_verifies;

	/* The second chain with the same CA: no decode, one signature check. */
	assert_int_equal(x509fix_validate(v, b, 2, 0, &r), 0);
	const struct pki_cert *want[] = {x509fix.ca, x509fix.root};
	x509fix_check_extra(&r, NULL, want, 2);
	x509_result_cleanup(&r);
	x509_validator_stats(v, &st);
	assert_int_equal(st.cert_decodes, 2);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.sig_verifies, verifies + 1);
	/* A broken leaf under a cached CA still fails. */
	uint8_t *bl = malloc(x509fix.leaf2->der_len);
	assert_non_null(bl);
	memcpy(bl, x509fix.leaf2->der, x509fix.leaf2->der_len);
	bl[x509fix.leaf2->der_len - 1] ^= 0x80;
	const uint8_t *d[] = {bl, x509fix.ca->der};
	size_t l[] = {x509fix.leaf2->der_len, x509fix.ca->der_len};
	x509fix_expect_reject_raw(v, d, l, 2, 0, MN_EBADCHAIN);
	free(bl);
	/* A PSC learned from a precert chain is still refused in add-chain. */
	const struct pki_cert *p[] = {x509fix.psc_precert, x509fix.psc, x509fix.ca};
	assert_int_equal(x509fix_validate(v, p, 3, 1, &r), 0);
	x509_result_cleanup(&r);
	const struct pki_cert *px[] = {x509fix.psc_final_cert, x509fix.psc, x509fix.ca};
	x509fix_expect_reject(v, px, 3, 0, MN_EBADCHAIN);
	x509_validator_free(v);

	/* A tiny cache evicts but stays correct. */
	struct x509_limits lim = {.cache_cap = 1};
	v = x509_validator_new(x509fix.roots, &lim);
	assert_non_null(v);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(x509fix_validate(v, a, 2, 0, &r), 0);
		x509_result_cleanup(&r);
		assert_int_equal(x509fix_validate(v, p, 3, 1, &r), 0);
		x509_result_cleanup(&r);
	}
	x509_validator_stats(v, &st);
	assert_true(st.cache_entries <= 4);
	x509_validator_free(v);
}

/* Threads share one validator whose cache holds fewer intermediates than the
 * chains use, so entries are evicted while other threads hold them. */
#define NUM_CAS 7
struct thread_arg {
	struct x509_validator *v;
	struct pki_cert **cas, **leaves;
	int failures;
};

static void *hammer(void *p)
{
	struct thread_arg *a = p;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < NUM_CAS; i++) {
			const uint8_t *der[] = {a->leaves[i]->der, a->cas[i]->der};
			size_t len[] = {a->leaves[i]->der_len, a->cas[i]->der_len};
			struct x509_result r;
			if (x509_validate(a->v, der, len, 2, 0, x509fix_now_ms(), &r, NULL) != 0 ||
			    r.body_len != a->leaves[i]->der_len)
				a->failures++;
			x509_result_cleanup(&r);
			/* and a chain that must fail under the same CA */
			der[0] = a->leaves[(i + 1) % NUM_CAS]->der;
			len[0] = a->leaves[(i + 1) % NUM_CAS]->der_len;
			if (x509_validate(a->v, der, len, 2, 0, x509fix_now_ms(), &r, NULL) !=
			    MN_EBADCHAIN)
				a->failures++;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct pki_cert *cas[NUM_CAS], *leaves[NUM_CAS];
	for (int i = 0; i < NUM_CAS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "Test CA %d", i);
		cas[i] = pki_issue(x509fix.root, name, NULL, 0, PKI_CA, x509fix.now - DAY,
				   x509fix.now + DAY);
		assert_non_null(cas[i]);
		leaves[i] = pki_issue(cas[i], "t.example", NULL, 0, 0, x509fix.now - DAY,
				      x509fix.now + DAY);
		assert_non_null(leaves[i]);
	}
	struct x509_limits lim = {.cache_cap = 2};
	struct x509_validator *v = x509_validator_new(x509fix.roots, &lim);
	assert_non_null(v);
	pthread_t th[4];
	struct thread_arg args[4];
	for (int t = 0; t < 4; t++) {
		args[t] = (struct thread_arg){.v = v, .cas = cas, .leaves = leaves};
		assert_int_equal(pthread_create(&th[t], NULL, hammer, &args[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(args[t].failures, 0);
	}
	struct x509_stats st;
	x509_validator_stats(v, &st);
	assert_true(st.cache_entries <= 4);
	assert_true(st.cert_decodes > NUM_CAS); /* evictions forced re-decoding */
	x509_validator_free(v);
	for (int i = 0; i < NUM_CAS; i++) {
		pki_free(cas[i]);
		pki_free(leaves[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_threads),
	};
	if (x509fix_make() != 0) {
		fprintf(stderr, "test_x509_cache: cannot build the test PKI\n");
		x509fix_free();
		return 1;
	}
	atexit(x509fix_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
