/* test_diskfull.c: logd on a data directory that fills up or is read-only (the
 * "Faults" issue). The test mounts a 4 MiB tmpfs under a mkdtemp directory
 * (root only: without CAP_SYS_ADMIN the tests are skipped with a message) and
 * runs logd on it with a 1 MiB initial LMDB map that may grow to 64 MiB, more
 * than the disk holds.
 *
 *   disk full: submissions until the disk is full are answered 200 with a
 *   verified SCT; then they fail with 507 (or 503) and a JSON error, logd logs
 *   the failure on stderr and keeps serving get-sth, get-entries and
 *   get-proof-by-hash; every SCT answered before is still provable and every
 *   STH seen is consistent. After `mount -o remount,size=64m` submissions
 *   succeed again (the refused certificates too, each logged once) and the tree
 *   extends the old one. A restart on the same directory opens it cleanly.
 *
 *   read-only: the tmpfs is remounted read-only (Linux refuses that while logd
 *   holds its files open for writing, so logd is stopped first and started on
 *   the read-only directory): logd says so on stderr, get-sth / get-entries /
 *   proofs work, submissions get 503 with a JSON error; after remounting
 *   read-write and a restart they succeed again. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define MAX_CERTS 40000
#define MAX_STHS 512

struct answered {
	int cert;
	struct ctc_sct ts;
	uint8_t leaf_hash[32];
};

static struct {
	char dir[64], mnt[128], data[128], roots[128], errlog[128];
	int mounted, skip;
	struct pki_cert *root, *ca;
	struct pki_cert *certs[MAX_CERTS];
	int num_certs;
	struct logd_proc logd;
	struct ct_verifier *v;
	struct kconn kc;
	struct answered *ans;
	size_t num_ans;
	struct ctc_sth sths[MAX_STHS];
	size_t num_sths;
	int refused[64];
	size_t num_refused;
} D;

static int remount(const char *opts, unsigned long flags)
{
	if (mount("tmpfs", D.mnt, "tmpfs", MS_REMOUNT | flags, opts) != 0) {
		fprintf(stderr, "remount %s (%s): %s\n", D.mnt, opts, strerror(errno));
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	const struct pki_cert *rs[1];
	int64_t now = pki_now();

	(void)state;
	strcpy(D.dir, "/tmp/mn-diskfull-XXXXXX");
	if (mkdtemp(D.dir) == NULL)
		return -1;
	snprintf(D.mnt, sizeof(D.mnt), "%s/mnt", D.dir);
	snprintf(D.data, sizeof(D.data), "%s/mnt/data", D.dir);
	snprintf(D.roots, sizeof(D.roots), "%s/roots.pem", D.dir);
	snprintf(D.errlog, sizeof(D.errlog), "%s/logd.err", D.dir);
	if (mkdir(D.mnt, 0700) != 0)
		return -1;
	if (mount("tmpfs", D.mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0700") != 0) {
		fprintf(stderr, "test_diskfull: cannot mount a tmpfs (%s): run as root to test "
			"a full and a read-only disk; skipping\n", strerror(errno));
		D.skip = 1;
	} else {
		D.mounted = 1;
	}
	D.root = pki_root("Diskfull Root", 0);
	D.ca = pki_issue(D.root, "Diskfull CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	rs[0] = D.root;
	D.ans = calloc(MAX_CERTS, sizeof(*D.ans));
	D.kc.fd = -1;
	return D.root != NULL && D.ca != NULL && D.ans != NULL &&
	       pki_write_pem(D.roots, rs, 1) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	int ret = 0;

	(void)state;
	kc_close(&D.kc);
	if (D.logd.pid > 0)
		logd_stop(&D.logd, SIGKILL);
	if (D.mounted && umount2(D.mnt, MNT_DETACH) != 0) {
		fprintf(stderr, "cannot unmount %s: %s\n", D.mnt, strerror(errno));
		ret = -1;
	}
	ct_verifier_free(D.v);
	for (int i = 0; i < D.num_certs; i++)
		pki_free(D.certs[i]);
	pki_free(D.ca);
	pki_free(D.root);
	free(D.ans);
	if (getenv("MN_KEEP") != NULL) return ret;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", D.dir);
	if (system(cmd) != 0)
		ret = -1;
	return ret;
}

static void start(void)
{
	const char *args[] = {"--no-map", "--data", D.data, "--tls-roots", D.roots, "--threads", "2",
			      "--map-size", "1048576", "--max-map-size", "67108864",
			      "--max-entries", "1000", NULL};

	assert_int_equal(logd_start_stderr(&D.logd, args, D.errlog), 0);
	if (D.v == NULL)
		D.v = ct_verifier_new(D.logd.spki, D.logd.spki_len);
	assert_non_null(D.v);
	kc_close(&D.kc);
	assert_int_equal(kc_open(&D.kc, D.logd.port, 10000), 0);
}

static int new_cert(void)
{
	int64_t now = pki_now();
	char name[64];
	const char *dns[1] = {name};

	assert_true(D.num_certs < MAX_CERTS);
	snprintf(name, sizeof(name), "d%d.diskfull.example", D.num_certs);
	D.certs[D.num_certs] = pki_issue(D.ca, name, dns, 1, 0, now - 3600, now + 86400 * 90);
	assert_non_null(D.certs[D.num_certs]);
	return D.num_certs++;
}

/* submit posts certificate |i| and returns the status; a 200 is verified and
 * recorded, anything else must carry a JSON error. */
static int submit(int i)
{
	const struct pki_cert *chain[2] = {D.certs[i], D.ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;
	int status;

	assert_int_equal(kc_request(&D.kc, "POST", "/ct/v1/add-chain", body, strlen(body), 1,
				    &r), 0);
	status = r.status;
	if (status == 200) {
		struct answered *a = &D.ans[D.num_ans++];
		a->cert = i;
		assert_int_equal(ctc_parse_sct(D.v, r.body, r.body_len, D.certs[i]->der,
					       D.certs[i]->der_len, &a->ts), 0);
		assert_int_equal(ctc_x509_leaf_hash(D.certs[i]->der, D.certs[i]->der_len, &a->ts,
						    a->leaf_hash), 0);
	} else {
		if (!ctc_json_error(r.body, r.body_len))
			fail_msg("status %d without a JSON error: %s", status, (char *)r.body);
	}
	http_resp_free(&r);
	free(body);
	return status;
}

static void record_sth(void)
{
	struct ctc_sth s;

	assert_int_equal(ctc_get_sth(&D.kc, D.v, &s), 0);
	if (D.num_sths < MAX_STHS)
		D.sths[D.num_sths++] = s;
}

/* check_reads: get-sth works, every STH seen is consistent with it, every SCT
 * answered is provable in it, and get-entries serves the last leaves. */
static void check_reads(void)
{
	struct ctc_sth cur;
	struct http_resp r;
	char target[128];

	assert_int_equal(ctc_get_sth(&D.kc, D.v, &cur), 0);
	for (size_t i = 0; i < D.num_sths; i++)
		assert_int_equal(ctc_check_consistency(&D.kc, &D.sths[i], &cur), 0);
	for (size_t i = 0; i < D.num_ans; i++)
		assert_int_equal(ctc_check_inclusion(&D.kc, D.ans[i].leaf_hash, &cur, NULL), 0);
	if (cur.size > 0) {
		json_error_t e;
		json_t *j;
		snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=%llu",
			 (unsigned long long)(cur.size > 10 ? cur.size - 10 : 0),
			 (unsigned long long)cur.size - 1);
		assert_int_equal(kc_request(&D.kc, "GET", target, NULL, 0, 1, &r), 0);
		assert_int_equal(r.status, 200);
		j = json_loadb((char *)r.body, r.body_len, 0, &e);
		assert_non_null(j);
		assert_int_equal(json_array_size(json_object_get(j, "entries")),
				 cur.size > 10 ? 10 : cur.size);
		json_decref(j);
		http_resp_free(&r);
	}
	if (D.num_sths < MAX_STHS)
		D.sths[D.num_sths++] = cur;
}

static void test_disk_full(void **state)
{
	int status = 200, i, full_status;
	size_t before_full, first_logged;

	(void)state;
	if (D.skip)
		skip();
	start();
	record_sth();
	/* fill the disk */
	while (status == 200) {
		assert_true(D.num_certs < MAX_CERTS - 100);
		i = new_cert();
		status = submit(i);
		if (D.num_ans % 200 == 0)
			record_sth();
	}
	before_full = D.num_ans;
	fprintf(stderr, "diskfull: %zu certificates logged before the disk filled; then %d\n",
		before_full, status);
	if (status != 507 && status != 503)
		fail_msg("a submission on a full disk got %d", status);
	full_status = status;
	D.refused[D.num_refused++] = i;
	/* more submissions keep failing the same way, and logd stays up. A page
	 * freed by the aborted transaction may still take a small batch, so an
	 * occasional 200 is allowed (submit() records it like any answer); any
	 * other status is not, and most must be refused. */
	{
		int refused = 0;
		for (int k = 0; k < 10; k++) {
			i = new_cert();
			status = submit(i);
			if (status == 200)
				continue;
			assert_int_equal(status, full_status);
			D.refused[D.num_refused++] = i;
			refused++;
		}
		assert_true(refused >= 5);
	}
	assert_int_equal(kill(D.logd.pid, 0), 0);
	/* the failure is logged clearly */
	if (!file_contains(D.errlog, "store_append_failed") ||
	    !file_contains(D.errlog, "err=MN_ENOSPACE"))
		fail_msg("no store_append_failed ... err=MN_ENOSPACE line in logd's stderr (%s)",
			 D.errlog);
	/* reads keep working and nothing answered is lost */
	check_reads();

	/* space returns: the refused certificates and new ones are logged */
	assert_int_equal(remount("size=64m", 0), 0);
	/* (not before_full: an occasional 200 above took that answer slot) */
	first_logged = D.num_ans;
	for (size_t k = 0; k < D.num_refused; k++)
		assert_int_equal(submit(D.refused[k]), 200);
	for (int k = 0; k < 100; k++)
		assert_int_equal(submit(new_cert()), 200);
	check_reads();
	/* a restart opens the directory cleanly and serves the same tree */
	assert_int_equal(logd_stop(&D.logd, SIGTERM), 0);
	start();
	check_reads();
	/* each refused certificate was logged once: a second submission is a
	 * duplicate with the same SCT timestamp */
	{
		size_t n = D.num_ans;
		assert_int_equal(submit(D.refused[0]), 200);
		assert_true(ctc_sct_same(&D.ans[n].ts, &D.ans[first_logged].ts));
		{
			struct ctc_sth s;
			assert_int_equal(ctc_get_sth(&D.kc, D.v, &s), 0);
			assert_int_equal(s.size, (uint64_t)D.num_ans - 1);
		}
	}
}

static void test_read_only(void **state)
{
	struct http_resp r;
	const struct pki_cert *chain[2];
	char *body;
	int i;

	(void)state;
	if (D.skip)
		skip();
	if (D.logd.pid <= 0)
		start();
	/* the log has leaves (from the test above, or these) */
	for (int k = 0; k < 5; k++)
		assert_int_equal(submit(new_cert()), 200);
	record_sth();
	kc_close(&D.kc);
	assert_int_equal(logd_stop(&D.logd, SIGTERM), 0);
	/* with logd running, Linux refuses this (EBUSY: files open for writing) */
	assert_int_equal(remount("", MS_RDONLY), 0);
	assert_int_equal(truncate(D.errlog, 0), 0);
	start();
	if (!file_contains(D.errlog, "read-only"))
		fail_msg("logd did not say that its data directory is read-only (%s)", D.errlog);
	check_reads();
	i = new_cert();
	chain[0] = D.certs[i];
	chain[1] = D.ca;
	body = ctc_chain_json(chain, 2);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(kc_request(&D.kc, "POST", "/ct/v1/add-chain", body, strlen(body),
					    1, &r), 0);
		if (r.status != 503)
			fail_msg("add-chain on a read-only disk: %d %s", r.status, (char *)r.body);
		assert_true(ctc_json_error(r.body, r.body_len));
		http_resp_free(&r);
	}
	free(body);
	check_reads();
	kc_close(&D.kc);
	assert_int_equal(logd_stop(&D.logd, SIGTERM), 0);
	/* writable again: submissions succeed, the tree extends the old one */
	assert_int_equal(remount("", 0), 0);
	start();
	assert_int_equal(submit(i), 200);
	check_reads();
	kc_close(&D.kc);
	assert_int_equal(logd_stop(&D.logd, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_full),
		cmocka_unit_test(test_read_only),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
