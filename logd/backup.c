/* backup.c: logd backup (see backup.h). */
#include "logd/backup.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "entry/ct.h"
#include "logd/config.h"
#include "storage/storage.h"

static const char usage[] =
	"usage: logd backup --data DIR DEST\n"
	"       logd backup --config FILE --log NAME DEST\n"
	"  Copies the log in DIR (served or not) to DEST/data.mdb: one consistent\n"
	"  snapshot, compacted, then opened and checked against the live log.\n"
	"  The keys (DIR/log-key.pem, DIR/vrf-key.pem) are not copied: save them\n"
	"  once, apart, as secrets. Restore: README, section Backups.\n";

/* root_at: the root of the first |size| leaves of |s|, in one reader. */
static int root_at(struct store *s, uint64_t size, uint8_t out[MERKLE_HASH_LEN])
{
	struct store_reader *rd;
	int err = store_read_begin(s, &rd);

	if (err != 0)
		return err;
	err = size <= store_r_tree_size(rd) ? store_r_root(rd, size, out) : MN_ECORRUPT;
	store_read_end(rd);
	return err;
}

static int copy_sth(struct store *s, struct store_sth *out)
{
	struct store_reader *rd;
	int err = store_read_begin(s, &rd);

	if (err != 0)
		return err;
	err = store_r_sth(rd, out);
	store_read_end(rd);
	return err;
}

static void remove_copy(const char *dest)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s/data.mdb", dest) < (int)sizeof(p))
		unlink(p);
	if (snprintf(p, sizeof(p), "%s/lock.mdb", dest) < (int)sizeof(p))
		unlink(p);
}

int logd_backup(const char *data_dir, const char *dest, struct logd_backup_result *out)
{
	struct store_options lo = {0}, co = {0};
	struct store *live = NULL, *copy = NULL;
	struct store_sth sth;
	uint8_t root[MERKLE_HASH_LEN];
	char d[256];
	int err, copied = 0;

	lo.dir = data_dir;
	lo.read_only = 1; /* never writes the live log, and works beside a logd */
	err = store_open(&live, &lo);
	if (err != 0)
		goto out;
	err = store_backup(live, dest);
	if (err != 0)
		goto out;
	copied = 1;
	co.dir = dest;
	co.read_only = 1;
	err = store_open(&copy, &co); /* the open-time check, on the copy */
	if (err == 0)
		err = copy_sth(copy, &sth);
	if (err == MN_ENOTFOUND) {
		/* a log that never signed: nothing to compare, an empty copy */
		memset(&sth, 0, sizeof(sth));
		err = 0;
	}
	if (err == 0 && sth.tree_size > 0) {
		err = root_at(live, sth.tree_size, root);
		if (err == 0 && memcmp(root, sth.root, MERKLE_HASH_LEN) != 0) {
			mn_error("backup_failed", "dest=%s reason=\"the copy's root at size %" PRIu64
				 " differs from the live log's\"",
				 mn_log_sanitize(d, sizeof(d), dest, strlen(dest)), sth.tree_size);
			err = MN_ECORRUPT;
		}
	}
	if (err == 0 && out != NULL) {
		out->tree_size = sth.tree_size;
		out->timestamp = sth.timestamp;
		memcpy(out->root, sth.root, MERKLE_HASH_LEN);
	}
out:
	store_close(copy);
	store_close(live);
	if (copied) {
		char p[PATH_MAX];
		/* the copy is the data file alone; its lock file came from our check */
		if (snprintf(p, sizeof(p), "%s/lock.mdb", dest) < (int)sizeof(p))
			unlink(p);
		if (err != 0)
			remove_copy(dest);
	}
	return err;
}

/* b64_field decodes the base64 string member |name| of |j| into |out|
 * (malloc'd). 0 or MN_EMALFORMED. */
static int b64_field(json_t *j, const char *name, uint8_t **out, size_t *out_len)
{
	json_t *v = json_object_get(j, name);

	if (!json_is_string(v) ||
	    mn_b64_decode(out, out_len, json_string_value(v), json_string_length(v), 4096) != 0)
		return MN_EMALFORMED;
	return 0;
}

int logd_check_published(struct store *st, const struct ct_signer *signer, const char *path)
{
	char p[256];
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	uint8_t *root = NULL, *sigb = NULL, have[MERKLE_HASH_LEN];
	size_t root_len = 0, sig_len = 0, spki_len;
	const uint8_t *spki = ct_signer_spki(signer, &spki_len);
	struct ct_verifier *v = NULL;
	struct store_reader *rd;
	struct ct_sig sig;
	struct cbs cs;
	json_int_t size, ts;
	uint64_t stored;
	int err;

	mn_log_sanitize(p, sizeof(p), path, strlen(path));
	if (j == NULL) {
		mn_error("published_sth", "path=%s reason=\"cannot be read or is not JSON\"", p);
		return MN_EIO;
	}
	size = json_integer_value(json_object_get(j, "tree_size"));
	ts = json_integer_value(json_object_get(j, "timestamp"));
	if (!json_is_integer(json_object_get(j, "tree_size")) || size < 0 ||
	    !json_is_integer(json_object_get(j, "timestamp")) || ts < 0 ||
	    b64_field(j, "sha256_root_hash", &root, &root_len) != 0 || root_len != MERKLE_HASH_LEN ||
	    b64_field(j, "tree_head_signature", &sigb, &sig_len) != 0) {
		mn_error("published_sth", "path=%s reason=\"not a get-sth answer\"", p);
		err = MN_EMALFORMED;
		goto out;
	}
	cbs_init(&cs, sigb, sig_len);
	v = ct_verifier_new(spki, spki_len);
	if (v == NULL || !ct_parse_sig(&sig, &cs) || cs.len != 0 ||
	    !ct_verify_sth(v, &sig, (uint64_t)ts, (uint64_t)size, root)) {
		mn_error("published_sth", "path=%s reason=\"its signature does not verify with "
			 "this log's key\"", p);
		err = MN_EBADSIG;
		goto out;
	}
	err = store_read_begin(st, &rd);
	if (err != 0)
		goto out;
	stored = store_r_tree_size(rd);
	if (stored < (uint64_t)size) {
		store_read_end(rd);
		mn_error("published_sth", "path=%s tree_size=%" PRIu64 " published=%" PRIu64
			 " reason=\"the store is behind what the log published: catch it up "
			 "before it signs (README, Backups)\"", p, stored, (uint64_t)size);
		err = MN_ERANGE;
		goto out;
	}
	err = size > 0 ? store_r_root(rd, (uint64_t)size, have) : 0;
	if (size == 0)
		memcpy(have, root, MERKLE_HASH_LEN); /* nothing to compare */
	store_read_end(rd);
	if (err == 0 && memcmp(have, root, MERKLE_HASH_LEN) != 0) {
		mn_error("published_sth", "path=%s published=%" PRIu64 " reason=\"the store's "
			 "tree at that size is not the published one: it would fork the log\"",
			 p, (uint64_t)size);
		err = MN_ECORRUPT;
	}
	if (err == 0)
		mn_info("published_sth", "path=%s tree_size=%" PRIu64 " published=%" PRIu64
			" msg=\"the store holds the published tree\"", p, stored, (uint64_t)size);
out:
	ct_verifier_free(v);
	free(root);
	free(sigb);
	json_decref(j);
	return err;
}

/* config_data finds log |name|'s data directory in the config |file| and
 * copies it to |out|. 0, or 2 after printing why. */
static int config_data(const char *file, const char *name, char *out, size_t len)
{
	struct logd_config c;
	char err[1024];
	int rc = 2;

	memset(&c, 0, sizeof(c));
	if (logd_config_load(&c, file, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err[0] != '\0' ? err : "logd backup: cannot read the config");
		goto out;
	}
	for (size_t i = 0; i < c.num_logs; i++)
		if (c.logs[i].name != NULL && strcmp(c.logs[i].name, name) == 0) {
			if (strlen(c.logs[i].data) >= len) {
				fprintf(stderr, "logd backup: data path of log %s too long\n", name);
				goto out;
			}
			snprintf(out, len, "%s", c.logs[i].data);
			rc = 0;
			goto out;
		}
	fprintf(stderr, "logd backup: %s has no log named %s\n", file, name);
out:
	logd_config_cleanup(&c);
	return rc;
}

int logd_backup_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct logd_backup_result r;
	const char *data = NULL, *config = NULL, *log = NULL;
	char hex[2 * MERKLE_HASH_LEN + 1], dir[PATH_MAX];
	int o, err;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 'c': config = optarg; break;
		case 'l': log = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc - 1 || (data != NULL) == (config != NULL) ||
	    (config != NULL) != (log != NULL)) {
		fputs(usage, stderr);
		return 2;
	}
	if (config != NULL) {
		if (config_data(config, log, dir, sizeof(dir)) != 0)
			return 2;
		data = dir;
	}
	err = logd_backup(data, argv[optind], &r);
	if (err != 0) {
		fprintf(stderr, "logd backup: %s to %s failed: %s\n", data, argv[optind],
			mn_strerror(err));
		return 1;
	}
	for (size_t i = 0; i < MERKLE_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", r.root[i]);
	printf("backup %s tree_size=%" PRIu64 " root=%s timestamp=%" PRIu64 "\n", argv[optind],
	       r.tree_size, hex, r.timestamp);
	return 0;
}
