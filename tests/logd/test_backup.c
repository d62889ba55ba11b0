/* test_backup.c: `logd backup --data DIR DEST` while logd serves under
 * add-chain load (a thread submitting without pause):
 *   - the copy opens with store_open, whose open-time check (leaves, compact
 *     range, tree hashes, STH, map) passes, and it holds a tree of the size
 *     the command printed;
 *   - its root at its size is consistent with the live log: the live logd's
 *     get-sth-consistency proof from the copy's STH to the live STH verifies
 *     (RFC 9162 section 2.1.4.2), and the copy's root equals the live store's
 *     root at that size;
 *   - a logd started on the copy (with the key, saved apart) serves it: its
 *     get-sth is the copy's tree, signed by the same key;
 *   - DEST already holding a data.mdb is refused; usage errors exit 2;
 *   - the restore guard --published-sth: logd refuses to start on the copy
 *     with the live log's newer STH (the copy is behind), with an STH of the
 *     copy's size but another root, signed by the log's key (a fork), and
 *     with an STH whose signature does not verify; it starts with the
 *     copy's own STH. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "logd/keys.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define NCERTS 2000

static struct {
	char dir[64], data[128], roots[128], dest[128], errlog[128];
	struct pki_cert *root, *ca;
	char *bodies[NCERTS];
	struct logd_proc logd;
	struct ct_verifier *v;
	atomic_int stop;
	atomic_uint answered;
	unsigned failed;
} S;

static void *load_main(void *arg)
{
	struct kconn c;

	(void)arg;
	if (kc_open(&c, S.logd.port, 10000) != 0) {
		S.failed++;
		return NULL;
	}
	for (unsigned i = 0; i < NCERTS && !atomic_load(&S.stop); i++) {
		struct http_resp r;
		if (kc_request(&c, "POST", "/ct/v1/add-chain", S.bodies[i], strlen(S.bodies[i]), 0,
			       &r) != 0) {
			S.failed++;
			break;
		}
		if (r.status == 200)
			atomic_fetch_add(&S.answered, 1);
		else
			S.failed++;
		http_resp_free(&r);
	}
	kc_close(&c);
	return NULL;
}

static void wait_answered(unsigned n)
{
	struct timespec ts = {0, 1000000};

	for (int i = 0; i < 20000 && atomic_load(&S.answered) < n; i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&S.answered) >= n);
}

/* run_backup runs `logd backup ARGS`, puts its stdout in |out|, returns its
 * exit status. */
static int run_backup(const char *args, char *out, size_t out_len)
{
	const char *b = getenv("MN_BUILD");
	char cmd[600];
	FILE *f;
	size_t n = 0, r;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/logd backup %s 2>>%s", b != NULL ? b : "build", args,
		 S.errlog);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (n < out_len - 1 && (r = fread(out + n, 1, out_len - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* write_sth writes a get-sth answer (RFC 6962 section 4.3) for |size|,
 * |ts|, |root| signed by |signer| to |path|; |flip| corrupts the root after
 * signing. */
static void write_sth(const char *path, const struct ct_signer *signer, uint64_t size,
		      uint64_t ts, const uint8_t root[32], int flip)
{
	struct ct_sig sig;
	struct cbb b;
	uint8_t *enc, r[32];
	size_t enc_len;
	char rb[64], sb[256], json[600];

	memcpy(r, root, 32);
	assert_int_equal(ct_sign_sth(signer, &sig, ts, size, r), 0);
	assert_true(cbb_init(&b, 128, 1024));
	assert_true(ct_write_sig(&b, &sig));
	assert_true(cbb_finish(&b, &enc, &enc_len));
	if (flip)
		r[0] ^= 1;
	mn_b64_encode(rb, r, 32);
	mn_b64_encode(sb, enc, enc_len);
	free(enc);
	snprintf(json, sizeof(json), "{\"tree_size\":%" PRIu64 ",\"timestamp\":%" PRIu64
		 ",\"sha256_root_hash\":\"%s\",\"tree_head_signature\":\"%s\"}", size, ts, rb, sb);
	assert_int_equal(mnfix_write_file(path, json, strlen(json)), 0);
}

static int setup(void **state)
{
	int64_t now = pki_now();
	const struct pki_cert *rs[1];

	(void)state;
	strcpy(S.dir, "/tmp/mn-backup-XXXXXX");
	if (mkdtemp(S.dir) == NULL)
		return -1;
	snprintf(S.data, sizeof(S.data), "%s/data", S.dir);
	snprintf(S.roots, sizeof(S.roots), "%s/roots.pem", S.dir);
	snprintf(S.dest, sizeof(S.dest), "%s/backup", S.dir);
	snprintf(S.errlog, sizeof(S.errlog), "%s/logd.err", S.dir);
	S.root = pki_root("Backup Root", 0);
	S.ca = pki_issue(S.root, "Backup CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	if (S.ca == NULL)
		return -1;
	for (int i = 0; i < NCERTS; i++) {
		char name[64];
		const char *dns[1] = {name};
		struct pki_cert *leaf;
		const struct pki_cert *chain[2];
		snprintf(name, sizeof(name), "b%d.backup.example", i);
		leaf = pki_issue(S.ca, name, dns, 1, 0, now - 3600, now + 86400 * 90);
		if (leaf == NULL)
			return -1;
		chain[0] = leaf;
		chain[1] = S.ca;
		S.bodies[i] = ctc_chain_json(chain, 2);
		pki_free(leaf);
	}
	rs[0] = S.root;
	return pki_write_pem(S.roots, rs, 1);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NCERTS; i++)
		free(S.bodies[i]);
	pki_free(S.ca);
	pki_free(S.root);
	ct_verifier_free(S.v);
	mnfix_rm_rf(S.dir);
	return 0;
}

static void test_backup_under_load(void **state)
{
	const char *args[] = {"--data", S.data, "--tls-roots", S.roots, "--threads", "2", NULL};
	char bargs[400], out[512], hex[65], key[200], vrf[200];
	uint64_t size = 0, ts = 0;
	struct store_options so = {0};
	struct store *copy = NULL, *live = NULL;
	struct store_reader *rd;
	struct store_sth sth;
	struct ctc_sth copy_sth, live_sth;
	uint8_t root[32];
	struct kconn kc;
	pthread_t th;

	(void)state;
	assert_int_equal(logd_start_stderr(&S.logd, args, S.errlog), 0);
	S.v = ct_verifier_new(S.logd.spki, S.logd.spki_len);
	assert_non_null(S.v);
	assert_int_equal(pthread_create(&th, NULL, load_main, NULL), 0);
	wait_answered(50);

	/* the backup, while the thread goes on submitting */
	snprintf(bargs, sizeof(bargs), "--data %s %s", S.data, S.dest);
	assert_int_equal(run_backup(bargs, out, sizeof(out)), 0);
	assert_int_equal(sscanf(out, "backup %*s tree_size=%" SCNu64 " root=%64s timestamp=%" SCNu64,
				&size, hex, &ts), 3);
	assert_true(size >= 50);
	{
		/* the load went on after the copy */
		unsigned after = atomic_load(&S.answered);
		wait_answered(after + 50);
	}

	/* the copy passes store_open's open-time check and holds that tree */
	so.dir = S.dest;
	so.read_only = 1;
	assert_int_equal(store_open(&copy, &so), 0);
	assert_int_equal(store_read_begin(copy, &rd), 0);
	assert_int_equal(store_r_sth(rd, &sth), 0);
	assert_int_equal(sth.tree_size, size);
	assert_int_equal(store_r_tree_size(rd), size);
	assert_int_equal(store_r_root(rd, size, root), 0);
	assert_memory_equal(root, sth.root, 32);
	store_read_end(rd);
	store_close(copy);
	{
		char got[65];
		for (int i = 0; i < 32; i++)
			snprintf(got + 2 * i, 3, "%02x", sth.root[i]);
		assert_string_equal(got, hex);
	}

	/* consistent with the live log: the live logd proves it, and the live
	 * store computes the same root at that size */
	assert_int_equal(kc_open(&kc, S.logd.port, 10000), 0);
	assert_int_equal(ctc_get_sth(&kc, S.v, &live_sth), 0);
	assert_true(live_sth.size > size);
	copy_sth.size = size;
	copy_sth.ts = sth.timestamp;
	memcpy(copy_sth.root, sth.root, 32);
	assert_int_equal(ctc_check_consistency(&kc, &copy_sth, &live_sth), 0);
	kc_close(&kc);
	so.dir = S.data;
	assert_int_equal(store_open(&live, &so), 0);
	assert_int_equal(store_read_begin(live, &rd), 0);
	assert_int_equal(store_r_root(rd, size, root), 0);
	assert_memory_equal(root, sth.root, 32);
	store_read_end(rd);
	store_close(live);

	atomic_store(&S.stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(S.failed, 0);

	/* DEST holding a data.mdb is refused, and left alone */
	assert_int_equal(run_backup(bargs, out, sizeof(out)), 1);
	assert_true(file_contains(S.errlog, "reason=\"it already holds a data.mdb\""));
	so.dir = S.dest;
	assert_int_equal(store_open(&copy, &so), 0);
	store_close(copy);
	assert_int_equal(run_backup("--data", out, sizeof(out)), 2);
	assert_int_equal(run_backup(S.dest, out, sizeof(out)), 2);
	assert_int_equal(logd_stop(&S.logd, SIGTERM), 0);

	/* logd on the copy, with the key saved apart, serves the copy's tree;
	 * the restore guard first */
	{
		char pub[160];
		const char *args2[] = {"--data", S.dest, "--key", key, "--vrf-key", vrf,
				       "--tls-roots", S.roots, "--published-sth", pub, NULL};
		struct logd_proc p2;
		struct ctc_sth got;
		struct ct_signer *signer;
		uint8_t other[32];
		snprintf(key, sizeof(key), "%s/log-key.pem", S.data);
		snprintf(vrf, sizeof(vrf), "%s/vrf-key.pem", S.data);
		snprintf(pub, sizeof(pub), "%s/published.json", S.dir);
		assert_int_equal(logd_key_load(&signer, key, 0), 0);
		/* behind: the live log published a bigger tree */
		write_sth(pub, signer, live_sth.size, live_sth.ts, live_sth.root, 0);
		assert_int_equal(logd_start_stderr(&p2, args2, S.errlog), -1);
		assert_true(file_contains(S.errlog, "reason=\"the store is behind what the log "
						    "published"));
		/* a fork: the same size, another root, the log's own signature */
		memcpy(other, sth.root, 32);
		other[5] ^= 0x40;
		write_sth(pub, signer, size, sth.timestamp, other, 0);
		assert_int_equal(logd_start_stderr(&p2, args2, S.errlog), -1);
		assert_true(file_contains(S.errlog, "it would fork the log"));
		/* not this log's signature */
		write_sth(pub, signer, size, sth.timestamp, sth.root, 1);
		assert_int_equal(logd_start_stderr(&p2, args2, S.errlog), -1);
		assert_true(file_contains(S.errlog, "its signature does not verify"));
		/* the copy's own tree, and an older one, pass */
		write_sth(pub, signer, size - 10, sth.timestamp - 1, live_sth.root, 0);
		assert_int_equal(logd_start_stderr(&p2, args2, S.errlog), -1); /* wrong root */
		{
			uint8_t r10[32];
			so.dir = S.dest;
			assert_int_equal(store_open(&copy, &so), 0);
			assert_int_equal(store_read_begin(copy, &rd), 0);
			assert_int_equal(store_r_root(rd, size - 10, r10), 0);
			store_read_end(rd);
			store_close(copy);
			write_sth(pub, signer, size - 10, sth.timestamp - 1, r10, 0);
			assert_int_equal(logd_start_stderr(&p2, args2, S.errlog), 0);
			assert_int_equal(logd_stop(&p2, SIGTERM), 0);
		}
		write_sth(pub, signer, size, sth.timestamp, sth.root, 0);
		ct_signer_free(signer);
		assert_int_equal(logd_start_stderr(&p2, args2, S.errlog), 0);
		assert_memory_equal(p2.log_id, S.logd.log_id, 32);
		assert_int_equal(kc_open(&kc, p2.port, 10000), 0);
		assert_int_equal(ctc_get_sth(&kc, S.v, &got), 0);
		assert_int_equal(got.size, size);
		assert_memory_equal(got.root, sth.root, 32);
		kc_close(&kc);
		assert_int_equal(logd_stop(&p2, SIGTERM), 0);
	}
}

/* logd backup --config FILE --log NAME DEST copies that log's data directory;
 * a name the file does not have is a usage error (exit 2), nothing copied. */
static void test_backup_by_config(void **state)
{
	char cfg[160], dest[160], bargs[600], out[512];
	uint64_t size = 0;
	struct store_options so = {0};
	struct store *copy = NULL;
	struct stat sb;
	FILE *f;

	(void)state;
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", S.dir);
	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: other\n    data: %s/other\n"
		   "    classes: [tls]\n    roots: {tls: %s}\n  - name: x\n    data: %s\n"
		   "    classes: [tls]\n    roots: {tls: %s}\n",
		S.dir, S.roots, S.data, S.roots);
	fclose(f);
	snprintf(dest, sizeof(dest), "%s/by-config", S.dir);
	snprintf(bargs, sizeof(bargs), "--config %s --log nosuch %s", cfg, dest);
	assert_int_equal(run_backup(bargs, out, sizeof(out)), 2);
	assert_true(file_contains(S.errlog, "has no log named nosuch"));
	assert_int_not_equal(stat(dest, &sb), 0);
	snprintf(bargs, sizeof(bargs), "--config %s --log x --data %s %s", cfg, S.data, dest);
	assert_int_equal(run_backup(bargs, out, sizeof(out)), 2); /* one source only */
	snprintf(bargs, sizeof(bargs), "--config %s --log x %s", cfg, dest);
	assert_int_equal(run_backup(bargs, out, sizeof(out)), 0);
	assert_int_equal(sscanf(out, "backup %*s tree_size=%" SCNu64, &size), 1);
	assert_true(size >= 50);
	so.dir = dest;
	so.read_only = 1;
	assert_int_equal(store_open(&copy, &so), 0);
	store_close(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_under_load),
		cmocka_unit_test(test_backup_by_config),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
