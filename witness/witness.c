/* witness.c: the witness's checks, state and cosigning (see witness.h). */
#include "witness/witness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "entry/note.h"
#include "entry/tpolicy.h"
#include "merkle/merkle.h"

/* A state file holds one checkpoint with at most NOTE_MAX_SIGS lines. */
#define WIT_MAX_STATE (WIT_MAX_BODY + 4096)
#define WIT_MAX_KEYS_PER_LOG TPOLICY_MAX_LOGS

/* SHA-256 of the empty string: the root of the empty tree (RFC 6962 2.1). */
static const uint8_t empty_root[32] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8,
	0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* One log origin and what was last cosigned for it. */
struct wlog {
	char origin[NOTE_MAX_ORIGIN + 1];
	size_t origin_len;
	char hex[65];                    /* SHA-256(origin), lowercase hex: file name */
	size_t num_keys;
	struct note_vkey keys[WIT_MAX_KEYS_PER_LOG];
	pthread_mutex_t mu;              /* held from the size check to the persist */
	uint64_t size;                   /* 0 and no cp: never cosigned */
	uint8_t root[32];
	uint8_t *cp;                     /* the last cosigned checkpoint, or NULL */
	size_t cp_len;
};

struct witness {
	struct cosigner *cosigner;
	char *state_dir;
	int dir_fd;
	size_t num_logs;
	struct wlog *logs;
};

static void set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static void hex_of(char out[65], const uint8_t h[32])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[64] = '\0';
}

/* --- key ------------------------------------------------------------------ */

/* write_new_key writes a new Ed25519 key in PEM to |path|, mode 0600, never
 * replacing a file (O_EXCL). 0 or MN_E*. */
static int write_new_key(const char *path, char *err, size_t err_len)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *f = NULL;
	int fd, ret = MN_EIO;

	if (pkey == NULL) {
		set_err(err, err_len, "cannot generate an Ed25519 key");
		return MN_ECRYPTO;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		set_err(err, err_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		set_err(err, err_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		set_err(err, err_len, "%s: cannot write the key", path);
		goto out;
	}
	ret = 0;
out:
	if (f != NULL && fclose(f) != 0 && ret == 0) {
		set_err(err, err_len, "%s: %s", path, strerror(errno));
		ret = MN_EIO;
	}
	if (ret != 0 && f != NULL)
		unlink(path);
	EVP_PKEY_free(pkey);
	return ret;
}

static int load_key(EVP_PKEY **out, const char *path, char *err, size_t err_len)
{
	struct stat st;
	FILE *f;
	int ret;

	*out = NULL;
	if (stat(path, &st) != 0) {
		if (errno != ENOENT) {
			set_err(err, err_len, "%s: %s", path, strerror(errno));
			return MN_EIO;
		}
		ret = write_new_key(path, err, err_len);
		if (ret != 0)
			return ret;
		mn_info("witness_key_created", "path=%s", path);
	}
	f = fopen(path, "r");
	if (f == NULL) {
		set_err(err, err_len, "%s: %s", path, strerror(errno));
		return MN_EIO;
	}
	*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*out == NULL || EVP_PKEY_get_id(*out) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(*out);
		*out = NULL;
		set_err(err, err_len, "%s: not an Ed25519 private key in PEM", path);
		return MN_EMALFORMED;
	}
	return 0;
}

/* --- state ---------------------------------------------------------------- */

/* load_state reads |l|'s state file, if any. 0, or MN_E* when it exists and
 * cannot be read or trusted. */
static int load_state(struct witness *w, struct wlog *l, char *err, size_t err_len)
{
	struct note_checkpoint *cp = NULL;
	uint8_t *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, ret = MN_EMALFORMED;

	fd = openat(w->dir_fd, l->hex, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		set_err(err, err_len, "%s/%s: %s", w->state_dir, l->hex, strerror(errno));
		return MN_EIO;
	}
	buf = malloc(WIT_MAX_STATE + 1);
	cp = malloc(sizeof(*cp));
	if (buf == NULL || cp == NULL) {
		ret = MN_ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf + len, WIT_MAX_STATE + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		set_err(err, err_len, "%s/%s: %s", w->state_dir, l->hex, strerror(errno));
		ret = MN_EIO;
		goto out;
	}
	if (len > WIT_MAX_STATE || note_parse_checkpoint_ext(cp, buf, len) != 0 ||
	    cp->origin_len != l->origin_len || memcmp(cp->origin, l->origin, l->origin_len) != 0) {
		set_err(err, err_len, "%s/%s: not a checkpoint of %s: refusing to forget it",
			w->state_dir, l->hex, l->origin);
		goto out;
	}
	l->size = cp->tree_size;
	memcpy(l->root, cp->root, 32);
	l->cp = buf;
	l->cp_len = len;
	buf = NULL;
	ret = 0;
out:
	close(fd);
	free(buf);
	free(cp);
	return ret;
}

/* persist replaces |l|'s state file by |data| durably: temporary file, fsync,
 * rename, fsync of the directory. Called with l->mu held. 0 or MN_EIO. */
static int persist(struct witness *w, const struct wlog *l, const uint8_t *data, size_t len)
{
	char tmp[80];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", l->hex);
	fd = openat(w->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (mn_write_sync(fd, data, len) != 0) {
		close(fd);
		goto fail;
	}
	if (close(fd) != 0 || renameat(w->dir_fd, tmp, w->dir_fd, l->hex) != 0 ||
	    fsync(w->dir_fd) != 0)
		goto fail;
	return 0;
fail:
	mn_error("witness_persist", "dir=%s file=%s errno=%d msg=\"%s\"", w->state_dir, l->hex,
		 errno, strerror(errno));
	return MN_EIO;
}

/* --- setup ---------------------------------------------------------------- */

static struct wlog *find_origin(const struct witness *w, const char *origin, size_t len)
{
	for (size_t i = 0; i < w->num_logs; i++)
		if (w->logs[i].origin_len == len && memcmp(w->logs[i].origin, origin, len) == 0)
			return &w->logs[i];
	return NULL;
}

int witness_new(struct witness **out, const char *state_dir, const char *logs_file,
		const char *key_file, const char *name, char *err, size_t err_len)
{
	struct tpolicy *pol = NULL;
	struct witness *w;
	EVP_PKEY *pkey = NULL;
	int ret;

	*out = NULL;
	set_err(err, err_len, "out of memory");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return MN_ENOMEM;
	w->dir_fd = -1;
	if (!note_valid_name(name, strlen(name))) {
		set_err(err, err_len, "the witness name must be 1 to %d printable ASCII "
			"characters without space or '+'", NOTE_MAX_ORIGIN);
		ret = MN_EINVAL;
		goto err;
	}
	ret = tpolicy_load(&pol, logs_file, TPOLICY_LOGS_ONLY, err, err_len);
	if (ret != 0)
		goto err;
	if (pol->num_logs == 0) {
		set_err(err, err_len, "%s: no log lines", logs_file);
		ret = MN_EMALFORMED;
		goto err;
	}
	ret = load_key(&pkey, key_file, err, err_len);
	if (ret != 0)
		goto err;
	w->cosigner = cosigner_new(pkey, name, strlen(name));
	EVP_PKEY_free(pkey);
	if (w->cosigner == NULL) {
		set_err(err, err_len, "cannot use the key");
		ret = MN_ECRYPTO;
		goto err;
	}
	w->state_dir = strdup(state_dir);
	w->logs = calloc(pol->num_logs, sizeof(*w->logs));
	ret = MN_ENOMEM;
	if (w->state_dir == NULL || w->logs == NULL)
		goto err;
	if (mkdir(state_dir, 0700) == 0) {
		/* the new directory's entry is durable before any state in it */
		char *parent = strdup(state_dir);
		int pfd = parent ? open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		int synced = pfd >= 0 && fsync(pfd) == 0;
		if (pfd >= 0)
			close(pfd);
		free(parent);
		if (!synced) {
			set_err(err, err_len, "%s: cannot fsync its parent directory", state_dir);
			ret = MN_EIO;
			goto err;
		}
	} else if (errno != EEXIST) {
		set_err(err, err_len, "%s: %s", state_dir, strerror(errno));
		ret = MN_EIO;
		goto err;
	}
	w->dir_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0) {
		set_err(err, err_len, "%s: %s", state_dir, strerror(errno));
		ret = MN_EIO;
		goto err;
	}
	for (size_t i = 0; i < pol->num_logs; i++) {
		const struct note_vkey *k = &pol->logs[i].key;
		struct wlog *l = find_origin(w, k->name, k->name_len);
		if (k->type != NOTE_TYPE_ED25519) {
			set_err(err, err_len, "%s: log %s: not an Ed25519 note key (type 0x01)",
				logs_file, k->name);
			ret = MN_EMALFORMED;
			goto err;
		}
		if (l == NULL) {
			uint8_t h[32];
			l = &w->logs[w->num_logs++];
			memcpy(l->origin, k->name, k->name_len);
			l->origin_len = k->name_len;
			SHA256((const uint8_t *)k->name, k->name_len, h);
			hex_of(l->hex, h);
			pthread_mutex_init(&l->mu, NULL);
			ret = load_state(w, l, err, err_len);
			if (ret != 0)
				goto err;
		}
		l->keys[l->num_keys++] = *k;
	}
	tpolicy_free(pol);
	*out = w;
	return 0;
err:
	tpolicy_free(pol);
	witness_free(w);
	return ret;
}

void witness_free(struct witness *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->num_logs; i++) {
		pthread_mutex_destroy(&w->logs[i].mu);
		free(w->logs[i].cp);
	}
	free(w->logs);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	free(w->state_dir);
	cosigner_free(w->cosigner);
	free(w);
}

const char *witness_vkey(const struct witness *w)
{
	return cosigner_vkey(w->cosigner);
}

const struct cosigner *witness_cosigner(const struct witness *w)
{
	return w->cosigner;
}

/* --- answers -------------------------------------------------------------- */

void witness_answer_cleanup(struct witness_answer *a)
{
	free(a->body);
	a->body = NULL;
	a->body_len = 0;
}

static int answer(struct witness_answer *out, int status, const char *content_type,
		  const uint8_t *body, size_t len)
{
	out->status = status;
	out->content_type = content_type;
	out->body = malloc(len + 1);
	out->body_len = len;
	if (out->body == NULL)
		return MN_ENOMEM;
	memcpy(out->body, body, len);
	out->body[len] = '\0';
	return 0;
}

/* fail answers |status| with "reason\n" as text/plain. */
static int fail(struct witness_answer *out, int status, const char *reason)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s\n", reason);

	return answer(out, status, "text/plain; charset=utf-8", (const uint8_t *)line,
		      (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* add_sig_line appends "— name base64(key ID || sig)\n" for signature |i| of
 * |cp|, as it was in the note (the base64 decoder is strict, so this is the
 * very line). 1 or 0. */
static int add_sig_line(struct cbb *b, const struct note_checkpoint *cp, size_t i)
{
	static const uint8_t dash[] = {0xe2, 0x80, 0x94, ' '};
	uint8_t raw[4 + sizeof(cp->sigs[i].sig)];
	char b64[(sizeof(raw) + 2) / 3 * 4 + 1];
	size_t n;

	raw[0] = (uint8_t)(cp->sigs[i].key_id >> 24);
	raw[1] = (uint8_t)(cp->sigs[i].key_id >> 16);
	raw[2] = (uint8_t)(cp->sigs[i].key_id >> 8);
	raw[3] = (uint8_t)cp->sigs[i].key_id;
	memcpy(raw + 4, cp->sigs[i].sig, cp->sigs[i].sig_len);
	n = mn_b64_encode(b64, raw, 4 + cp->sigs[i].sig_len);
	return cbb_add_bytes(b, dash, sizeof(dash)) &&
	       cbb_add_bytes(b, (const uint8_t *)cp->sigs[i].name, cp->sigs[i].name_len) &&
	       cbb_add_u8(b, ' ') && cbb_add_bytes(b, (const uint8_t *)b64, n) &&
	       cbb_add_u8(b, '\n');
}

/* key_line: the first signature line of |cp| by |k|, or -1. */
static int key_line(const struct note_checkpoint *cp, const struct note_vkey *k)
{
	for (size_t i = 0; i < cp->num_sigs; i++)
		if (cp->sigs[i].name_len == k->name_len &&
		    memcmp(cp->sigs[i].name, k->name, k->name_len) == 0 &&
		    cp->sigs[i].key_id == k->key_id)
			return (int)i;
	return -1;
}

/* cosign_locked signs |cp|, persists the new state and fills |out| with the
 * 200 answer. Called with l->mu held, after every check passed. */
static int cosign_locked(struct witness *w, struct wlog *l, const struct note_checkpoint *cp,
			 struct witness_answer *out)
{
	struct cbb state, line;
	uint8_t *st = NULL, *ln = NULL;
	size_t st_len, ln_len;
	time_t now = time(NULL);
	int ret;

	if (!cbb_init(&line, 160, 1024))
		return MN_ENOMEM;
	ret = cosigner_sign(w->cosigner, &line, cp->text, cp->text_len,
			    now > 0 ? (uint64_t)now : 1);
	if (ret != 0 || !cbb_finish(&line, &ln, &ln_len)) {
		cbb_cleanup(&line);
		return fail(out, 500, ret == MN_ENOMEM ? "out of memory" : "cannot sign");
	}
	if (!cbb_init(&state, cp->text_len + 4096, WIT_MAX_STATE)) {
		free(ln);
		return MN_ENOMEM;
	}
	/* the checkpoint text, the blank line, the log's lines that verified, ours */
	int ok = cbb_add_bytes(&state, (const uint8_t *)cp->text, cp->text_len) &&
		 cbb_add_u8(&state, '\n');
	/* one line per key of the log (all verified), so that the state file
	 * holds at most NOTE_MAX_SIGS lines and parses again at start */
	for (size_t k = 0, n = 0; ok && k < l->num_keys && n < NOTE_MAX_SIGS - 1; k++) {
		int i = key_line(cp, &l->keys[k]);
		if (i >= 0) {
			ok = add_sig_line(&state, cp, (size_t)i);
			n++;
		}
	}
	ok = ok && cbb_add_bytes(&state, ln, ln_len) && cbb_finish(&state, &st, &st_len);
	if (!ok) {
		cbb_cleanup(&state);
		free(ln);
		return fail(out, 500, "cannot build the state");
	}
	if (persist(w, l, st, st_len) != 0) {
		free(st);
		free(ln);
		return fail(out, 500, "cannot store the new state; nothing was cosigned");
	}
	free(l->cp);
	l->cp = st;
	l->cp_len = st_len;
	l->size = cp->tree_size;
	memcpy(l->root, cp->root, 32);
	out->status = 200;
	out->content_type = "text/plain; charset=utf-8";
	out->body = ln;
	out->body_len = ln_len;
	return 0;
}

int witness_add_checkpoint(struct witness *w, const uint8_t *body, size_t len,
			   struct witness_answer *out)
{
	struct wit_request *req = NULL;
	struct note_checkpoint *cp = NULL;
	struct merkle_hasher *h = NULL;
	const char *why = NULL;
	struct wlog *l;
	int ret, good = 0;

	memset(out, 0, sizeof(*out));
	req = malloc(sizeof(*req));
	cp = malloc(sizeof(*cp));
	if (req == NULL || cp == NULL) {
		ret = MN_ENOMEM;
		goto out;
	}
	if (wit_parse_request(req, body, len, &why) != 0) {
		char reason[128];
		snprintf(reason, sizeof(reason), "malformed request: %s", why);
		ret = fail(out, 400, reason);
		goto out;
	}
	if (note_parse_checkpoint_ext(cp, req->note, req->note_len) != 0) {
		ret = fail(out, 400, "malformed request: the checkpoint is not a signed note");
		goto out;
	}
	l = find_origin(w, cp->origin, cp->origin_len);
	if (l == NULL) {
		ret = fail(out, 404, "unknown log origin");
		goto out;
	}
	for (size_t k = 0; k < l->num_keys; k++) {
		int r = note_verify_vkey(cp, &l->keys[k]);
		if (r < 0) {
			ret = fail(out, 403, "a signature of the log's key does not verify");
			goto out;
		}
		good |= r == 1;
	}
	if (!good) {
		ret = fail(out, 403, "no signature of the log's key");
		goto out;
	}
	if (req->old_size > cp->tree_size) {
		ret = fail(out, 400, "old size is larger than the checkpoint's size");
		goto out;
	}
	/* a hasher only for a proof to check (its creation fetches SHA-256) */
	if (req->old_size != 0 && req->old_size != cp->tree_size &&
	    (h = merkle_hasher_new()) == NULL) {
		ret = MN_ENOMEM;
		goto out;
	}

	pthread_mutex_lock(&l->mu);
	if (req->old_size != l->size) {
		char sz[32];
		int n = snprintf(sz, sizeof(sz), "%" PRIu64 "\n", l->size);
		ret = answer(out, 409, "text/x.tlog.size", (const uint8_t *)sz, (size_t)n);
	} else if (cp->tree_size == 0 && memcmp(cp->root, empty_root, 32) != 0) {
		ret = fail(out, 422, "a checkpoint of size 0 must have the empty tree's root");
	} else if (req->old_size == 0 && req->proof_len != 0) {
		ret = fail(out, 422, "old size 0 takes no consistency proof");
	} else if (req->old_size != 0 && req->old_size == cp->tree_size &&
		   (req->proof_len != 0 || memcmp(l->root, cp->root, 32) != 0)) {
		ret = fail(out, 422, req->proof_len != 0
				     ? "same size takes no consistency proof"
				     : "same size as the last cosigned checkpoint, another root");
	} else if (req->old_size != 0 && req->old_size != cp->tree_size &&
		   !merkle_verify_consistency(h, req->old_size, cp->tree_size, l->root, cp->root,
					      (const uint8_t(*)[32])req->proof,
					      req->proof_len)) {
		ret = fail(out, 422, "the consistency proof does not verify");
	} else {
		ret = cosign_locked(w, l, cp, out);
	}
	pthread_mutex_unlock(&l->mu);
	/* tlog-witness: a correctly signed checkpoint that fails a consistency
	 * check may be evidence of a misbehaving log: say so (not cosigned) */
	if (ret == 0 && out->status == 422) {
		char root_hex[65];
		hex_of(root_hex, cp->root);
		mn_warn("witness_inconsistent", "origin=%s old=%" PRIu64 " size=%" PRIu64
			" root=%s reason=\"%.*s\"", l->origin, req->old_size, cp->tree_size,
			root_hex, (int)(out->body_len ? out->body_len - 1 : 0),
			(const char *)out->body);
	}
out:
	merkle_hasher_free(h);
	free(req);
	free(cp);
	if (ret != 0)
		witness_answer_cleanup(out);
	return ret;
}

int witness_get_checkpoint(struct witness *w, const char *origin_hex, size_t hex_len,
			   struct witness_answer *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; hex_len == 64 && i < w->num_logs; i++) {
		struct wlog *l = &w->logs[i];
		if (memcmp(l->hex, origin_hex, 64) != 0)
			continue;
		pthread_mutex_lock(&l->mu);
		if (l->cp != NULL)
			ret = answer(out, 200, "text/plain; charset=utf-8", l->cp, l->cp_len);
		else
			ret = fail(out, 404, "no checkpoint of this log was cosigned");
		pthread_mutex_unlock(&l->mu);
		return ret;
	}
	return fail(out, 404, "unknown log");
}
