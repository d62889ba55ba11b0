/* objstore.c: see objstore.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/sha.h>

#include "common/err.h"
#include "common/file.h"
#include "logd/objstore.h"

enum kind { K_DIR, K_S3, K_URL };

/* deferred DIR objects kept open for the barrier; past this many, the
 * barrier's file part runs early (still before the caller's objstore_sync
 * returns, so the contract holds; it only costs more fsyncs) */
#define PEND_FILES_MAX 256
#define PEND_DIRS_MAX 256

struct objstore {
	enum kind kind;
	char base[4096];   /* DIR, or the URL prefix objects are appended to */
	char desc[4400];
	char userpwd[1100]; /* s3: key:secret */
	char sigv4[128];   /* s3: aws:amz:REGION:s3 */
	unsigned timeout_ms;
	CURL *curl;

	/* DIR, objstore_put_deferred and objstore_sync */
	int barrier;
	int (*trace)(void *ctx, const char *op, const char *path);
	void *trace_ctx;
	int dirty;                      /* deferred objects since the last barrier */
	int pend_fd[PEND_FILES_MAX];    /* FSYNC: their files, open */
	size_t num_pend;
	char *pend_dir[PEND_DIRS_MAX];  /* FSYNC: directories to fsync (malloc) */
	size_t num_dirs;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* credentials: from the file (KEY=VALUE lines) or the environment. */
static int load_credentials(struct objstore *s, const char *file, char *err, size_t err_len)
{
	char id[512] = "", secret[512] = "", line[512];
	const char *e;

	if (file != NULL) {
		FILE *f = fopen(file, "r");
		if (f == NULL) {
			snprintf(err, err_len, "cannot read credentials %s: %s", file, strerror(errno));
			return MN_EIO;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			trim(line);
			if (strncmp(line, "AWS_ACCESS_KEY_ID=", 18) == 0)
				snprintf(id, sizeof(id), "%s", line + 18);
			else if (strncmp(line, "AWS_SECRET_ACCESS_KEY=", 22) == 0)
				snprintf(secret, sizeof(secret), "%s", line + 22);
		}
		fclose(f);
	} else {
		if ((e = getenv("AWS_ACCESS_KEY_ID")) != NULL)
			snprintf(id, sizeof(id), "%s", e);
		if ((e = getenv("AWS_SECRET_ACCESS_KEY")) != NULL)
			snprintf(secret, sizeof(secret), "%s", e);
	}
	if (id[0] == '\0' || secret[0] == '\0' || strchr(id, ':') != NULL) {
		snprintf(err, err_len, "no S3 credentials: %s needs AWS_ACCESS_KEY_ID and "
			 "AWS_SECRET_ACCESS_KEY", file != NULL ? file : "the environment");
		return MN_EINVAL;
	}
	snprintf(s->userpwd, sizeof(s->userpwd), "%s:%s", id, secret);
	return 0;
}

int objstore_new(struct objstore **out, const struct objstore_options *o, char *err,
		 size_t err_len)
{
	struct objstore *s;
	const char *u = o->url;
	int ret;

	*out = NULL;
	err[0] = '\0';
	if (u == NULL || u[0] == '\0' || strlen(u) >= 2048) {
		snprintf(err, err_len, "no object store given");
		return MN_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MN_ENOMEM;
	s->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : 10000;
	if (o->barrier != OBJSTORE_BARRIER_FSYNC && o->barrier != OBJSTORE_BARRIER_SYNCFS) {
		snprintf(err, err_len, "unknown durability barrier %d", o->barrier);
		free(s);
		return MN_EINVAL;
	}
	s->barrier = o->barrier;
	s->trace = o->trace;
	s->trace_ctx = o->trace_ctx;
	if (strncmp(u, "s3://", 5) == 0) {
		const char *bucket = u + 5;
		size_t blen = strcspn(bucket, "/"), elen;
		s->kind = K_S3;
		if (blen == 0 || o->endpoint == NULL ||
		    (strncmp(o->endpoint, "http://", 7) != 0 &&
		     strncmp(o->endpoint, "https://", 8) != 0) || strlen(o->endpoint) >= 1024) {
			snprintf(err, err_len, "%s: s3 needs a bucket name and an endpoint "
				 "http(s)://HOST:PORT", u);
			free(s);
			return MN_EINVAL;
		}
		elen = strlen(o->endpoint);
		while (elen > 0 && o->endpoint[elen - 1] == '/')
			elen--;
		snprintf(s->base, sizeof(s->base), "%.*s/%s", (int)elen, o->endpoint, bucket);
		elen = strlen(s->base);
		while (elen > 0 && s->base[elen - 1] == '/')
			s->base[--elen] = '\0';
		snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3",
			 o->region != NULL ? o->region : "us-east-1");
		snprintf(s->desc, sizeof(s->desc), "%s at %s", u, o->endpoint);
		ret = load_credentials(s, o->credentials, err, err_len);
		if (ret != 0) {
			free(s);
			return ret;
		}
	} else if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) {
		size_t n;
		s->kind = K_URL;
		snprintf(s->base, sizeof(s->base), "%s", u);
		n = strlen(s->base);
		while (n > 0 && s->base[n - 1] == '/')
			s->base[--n] = '\0';
		snprintf(s->desc, sizeof(s->desc), "%s", u);
	} else {
		size_t n;
		s->kind = K_DIR;
		snprintf(s->base, sizeof(s->base), "%s", u);
		n = strlen(s->base);
		while (n > 1 && s->base[n - 1] == '/')
			s->base[--n] = '\0';
		snprintf(s->desc, sizeof(s->desc), "%s", u);
	}
	if (s->kind != K_DIR) {
		pthread_once(&curl_once, curl_init);
		s->curl = curl_easy_init();
		if (s->curl == NULL) {
			free(s);
			return MN_ENOMEM;
		}
	}
	*out = s;
	return 0;
}

static void drop_pending(struct objstore *s)
{
	for (size_t i = 0; i < s->num_pend; i++)
		close(s->pend_fd[i]);
	for (size_t i = 0; i < s->num_dirs; i++)
		free(s->pend_dir[i]);
	s->num_pend = 0;
	s->num_dirs = 0;
	s->dirty = 0;
}

void objstore_free(struct objstore *s)
{
	if (s == NULL)
		return;
	drop_pending(s);
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	free(s);
}

const char *objstore_describe(const struct objstore *s)
{
	return s->desc;
}

/* --- directory -------------------------------------------------------------- */

/* traced: tells the test hook about a done operation; 1 = go on, 0 = an
 * injected fault (errno EIO). */
static int traced(struct objstore *s, const char *op, const char *path)
{
	if (s->trace == NULL || s->trace(s->trace_ctx, op, path) == 0)
		return 1;
	errno = EIO;
	return 0;
}

static int fsync_path(const char *d)
{
	int fd = open(d[0] != '\0' ? d : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

/* the files' part of the FSYNC barrier: start the writeback of every pending
 * file first, so that the kernel writes them together and the fsyncs after
 * mostly wait (one journal commit rather than one per file) */
static int flush_files(struct objstore *s)
{
	int ok = 1, e = 0;

	for (size_t i = 0; i < s->num_pend; i++)
		(void)sync_file_range(s->pend_fd[i], 0, 0, SYNC_FILE_RANGE_WRITE);
	for (size_t i = 0; i < s->num_pend; i++) {
		if (fsync(s->pend_fd[i]) != 0 && ok) {
			ok = 0;
			e = errno;
		}
		close(s->pend_fd[i]);
	}
	s->num_pend = 0;
	errno = e;
	return ok;
}

static int flush_dirs(struct objstore *s)
{
	int ok = 1, e = 0;

	for (size_t i = 0; i < s->num_dirs; i++) {
		if (!fsync_path(s->pend_dir[i]) && ok) {
			ok = 0;
			e = errno;
		}
		free(s->pend_dir[i]);
	}
	s->num_dirs = 0;
	errno = e;
	return ok;
}

/* note_dir: directory |d| (|len| bytes) must be fsynced by the barrier. */
static int note_dir(struct objstore *s, const char *d, size_t len)
{
	char *c;

	for (size_t i = 0; i < s->num_dirs; i++)
		if (strlen(s->pend_dir[i]) == len && memcmp(s->pend_dir[i], d, len) == 0)
			return 1;
	if (s->num_dirs == PEND_DIRS_MAX && !flush_dirs(s))
		return 0;
	c = malloc(len + 1);
	if (c == NULL)
		return 0;
	memcpy(c, d, len);
	c[len] = '\0';
	s->pend_dir[s->num_dirs++] = c;
	return 1;
}

/* parent_sync: the entry of |path| (a file or a directory just created) is
 * in its parent directory: fsync it now (|deferred| 0) or note it for the
 * barrier (FSYNC; SYNCFS covers it anyway). */
static int parent_sync(struct objstore *s, const char *path, int deferred)
{
	const char *slash = strrchr(path, '/');
	char d[4400];

	if (slash == NULL)
		return 1;
	if (deferred)
		return s->barrier == OBJSTORE_BARRIER_SYNCFS || note_dir(s, path, (size_t)(slash - path));
	snprintf(d, sizeof(d), "%.*s", (int)(slash - path), path);
	return fsync_path(d);
}

/* mkdirs creates the directories of |path| (up to its last '/'); the entry of
 * each one created is made durable like the object's own (parent_sync). */
static int mkdirs(struct objstore *s, char *path, int deferred)
{
	size_t upto = strlen(path);

	for (size_t i = 1; i < upto; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) == 0) {
			if (!parent_sync(s, path, deferred)) {
				path[i] = '/';
				return 0;
			}
		} else if (errno != EEXIST) {
			path[i] = '/';
			return 0;
		}
		path[i] = '/';
	}
	return 1;
}

/* dir_put: temporary file, rename into place. |deferred| 0: fsync the file
 * before the rename and its directory after it. |deferred| 1: the barrier
 * does that later, except for the file of an object that replaces an existing
 * one, fsynced before its rename, so a crash before the barrier cannot leave
 * a durable object torn. */
static int dir_put(struct objstore *s, const char *path, const uint8_t *data, size_t len,
		   int deferred, char *err, size_t err_len)
{
	char file[4400], tmp[4500];
	int fd, sync_now;

	snprintf(file, sizeof(file), "%s%s", s->base, path);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", file, (long)getpid());
	if (!mkdirs(s, file, deferred)) {
		snprintf(err, err_len, "cannot create the directories of %s: %s", file,
			 strerror(errno));
		return MN_EIO;
	}
	sync_now = !deferred || access(file, F_OK) == 0;
	if (deferred && s->barrier == OBJSTORE_BARRIER_FSYNC && !sync_now &&
	    s->num_pend == PEND_FILES_MAX && !flush_files(s))
		goto fail;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if ((sync_now ? mn_write_sync(fd, data, len) : mn_write_all(fd, data, len)) != 0 ||
	    rename(tmp, file) != 0) {
		close(fd);
		goto fail;
	}
	if (deferred) {
		s->dirty = 1;
		if (s->barrier == OBJSTORE_BARRIER_FSYNC && !sync_now)
			s->pend_fd[s->num_pend++] = fd;
		else
			close(fd);
		if (!parent_sync(s, file, 1) || !traced(s, "write", path))
			goto fail_renamed;
		return 0;
	}
	close(fd);
	if (!parent_sync(s, file, 0) || !traced(s, "put", path))
		goto fail_renamed;
	return 0;
fail:
	snprintf(err, err_len, "cannot write %s: %s", file, strerror(errno));
	unlink(tmp);
	return MN_EIO;
fail_renamed:
	snprintf(err, err_len, "cannot make %s durable: %s", file, strerror(errno));
	return MN_EIO;
}

static int dir_sync(struct objstore *s, char *err, size_t err_len)
{
	int ok, fd;

	if (!s->dirty)
		return 0;
	if (s->barrier == OBJSTORE_BARRIER_SYNCFS) {
		fd = open(s->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ok = fd >= 0 && syncfs(fd) == 0;
		if (fd >= 0) {
			int e = errno;
			close(fd);
			errno = e;
		}
	} else {
		ok = flush_files(s);
		if (!flush_dirs(s) && ok)
			ok = 0;
	}
	if (ok && !traced(s, "sync", NULL))
		ok = 0;
	if (!ok)
		snprintf(err, err_len, "cannot make the objects written to %s durable: %s",
			 s->base, strerror(errno));
	drop_pending(s);
	return ok ? 0 : MN_EIO;
}

static int dir_get(struct objstore *s, const char *path, size_t max, uint8_t **out,
		   size_t *out_len, char *err, size_t err_len)
{
	char file[4400];
	uint8_t *buf;
	struct stat st;
	size_t off = 0;
	int fd;

	snprintf(file, sizeof(file), "%s%s", s->base, path);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return MN_ENOTFOUND;
		snprintf(err, err_len, "cannot read %s: %s", file, strerror(errno));
		return MN_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_len, "%s is not a readable file", file);
		return MN_EIO;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		snprintf(err, err_len, "%s is larger than %zu bytes", file, max);
		return MN_ETOOBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return MN_ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off != (size_t)st.st_size) {
		free(buf);
		snprintf(err, err_len, "cannot read %s", file);
		return MN_EIO;
	}
	*out = buf;
	*out_len = off;
	return 0;
}

/* --- HTTP (S3 and plain URLs) ------------------------------------------------- */

struct sink {
	uint8_t *buf;
	size_t len, cap, max;
	int toobig;
};

static size_t sink_write(char *p, size_t sz, size_t n, void *ctx)
{
	struct sink *k = ctx;
	size_t add = sz * n;

	if (k->len + add > k->max) {
		k->toobig = 1;
		return 0;
	}
	if (k->len + add > k->cap) {
		size_t cap = k->cap != 0 ? k->cap : 4096;
		uint8_t *nb;
		while (cap < k->len + add)
			cap *= 2;
		nb = realloc(k->buf, cap);
		if (nb == NULL)
			return 0;
		k->buf = nb;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, p, add);
	k->len += add;
	return add;
}

struct source {
	const uint8_t *data;
	size_t len, off;
};

static size_t source_read(char *p, size_t sz, size_t n, void *ctx)
{
	struct source *src = ctx;
	size_t want = sz * n, left = src->len - src->off;

	if (want > left)
		want = left;
	memcpy(p, src->data + src->off, want);
	src->off += want;
	return want;
}

/* http_req: one GET (data NULL) or PUT. Returns the HTTP status, or -1 with
 * the reason in |err|. */
static long http_req(struct objstore *s, const char *path, const uint8_t *data, size_t len,
		     struct curl_slist *hdrs, struct sink *k, char *err, size_t err_len)
{
	char url[4400];
	struct source src = {data, len, 0};
	struct curl_slist *own = NULL;
	long status = 0;
	CURLcode rc;
	CURL *c = s->curl;

	snprintf(url, sizeof(url), "%s%s", s->base, path);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (s->kind == K_S3) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd);
	}
	if (data != NULL) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, source_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &src);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	}
	if (s->kind == K_S3) {
		/* SigV4 signs the payload's hash; S3 wants it in this header, and
		 * curl signs the value given here */
		uint8_t md[SHA256_DIGEST_LENGTH];
		char line[100];
		SHA256(data != NULL ? data : (const uint8_t *)"", data != NULL ? len : 0, md);
		memcpy(line, "x-amz-content-sha256: ", 22);
		for (size_t i = 0; i < sizeof(md); i++)
			snprintf(line + 22 + 2 * i, 3, "%02x", md[i]);
		own = curl_slist_append(NULL, line);
		if (own == NULL)
			return -1;
		for (struct curl_slist *i = hdrs; i != NULL; i = i->next) {
			struct curl_slist *t = curl_slist_append(own, i->data);
			if (t == NULL) {
				curl_slist_free_all(own);
				return -1;
			}
			own = t;
		}
		hdrs = own;
	}
	if (hdrs != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	curl_slist_free_all(own);
	if (rc != CURLE_OK) {
		if (!(k->toobig && rc == CURLE_WRITE_ERROR))
			snprintf(err, err_len, "%s %s: %s", data != NULL ? "PUT" : "GET", url,
				 curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* the start of an error body, printable only */
static void excerpt(char *out, size_t cap, const struct sink *k)
{
	size_t n = 0;

	for (size_t i = 0; i < k->len && n + 1 < cap && n < 160; i++)
		out[n++] = k->buf[i] >= 0x20 && k->buf[i] < 0x7f ? (char)k->buf[i] : ' ';
	out[n] = '\0';
}

static int put(struct objstore *s, const char *path, const uint8_t *data, size_t len,
	       const char *content_type, int gzip_encoded, int deferred, char *err,
	       size_t err_len)
{
	struct curl_slist *h = NULL, *t;
	struct sink k = {.max = 1u << 16};
	char ct[160], body[200];
	long st;

	err[0] = '\0';
	if (s->kind == K_DIR)
		return dir_put(s, path, data, len, deferred, err, err_len);
	if (s->kind == K_URL) {
		snprintf(err, err_len, "%s is read-only", s->desc);
		return MN_EREADONLY;
	}
	snprintf(ct, sizeof(ct), "Content-Type: %s",
		 content_type != NULL ? content_type : "application/octet-stream");
	h = curl_slist_append(h, ct);
	if (h != NULL && gzip_encoded && (t = curl_slist_append(h, "Content-Encoding: gzip")) != NULL)
		h = t;
	if (h == NULL)
		return MN_ENOMEM;
	st = http_req(s, path, data != NULL ? data : (const uint8_t *)"", len, h, &k, err,
		      err_len);
	curl_slist_free_all(h);
	if (st >= 200 && st < 300) {
		free(k.buf);
		return 0;
	}
	if (st > 0) {
		excerpt(body, sizeof(body), &k);
		snprintf(err, err_len, "PUT %s%s: HTTP %ld %s", s->base, path, st, body);
	}
	free(k.buf);
	return MN_EIO;
}

int objstore_put(struct objstore *s, const char *path, const uint8_t *data, size_t len,
		 const char *content_type, int gzip_encoded, char *err, size_t err_len)
{
	return put(s, path, data, len, content_type, gzip_encoded, 0, err, err_len);
}

int objstore_put_deferred(struct objstore *s, const char *path, const uint8_t *data,
			  size_t len, const char *content_type, int gzip_encoded, char *err,
			  size_t err_len)
{
	return put(s, path, data, len, content_type, gzip_encoded, 1, err, err_len);
}

int objstore_sync(struct objstore *s, char *err, size_t err_len)
{
	err[0] = '\0';
	return s->kind == K_DIR ? dir_sync(s, err, err_len) : 0;
}

int objstore_get(struct objstore *s, const char *path, size_t max, uint8_t **out,
		 size_t *out_len, char *err, size_t err_len)
{
	struct sink k = {.max = max};
	char body[200];
	long st;

	err[0] = '\0';
	if (s->kind == K_DIR)
		return dir_get(s, path, max, out, out_len, err, err_len);
	st = http_req(s, path, NULL, 0, NULL, &k, err, err_len);
	if (st < 0 && k.toobig) {
		free(k.buf);
		snprintf(err, err_len, "GET %s%s: larger than %zu bytes", s->base, path, max);
		return MN_ETOOBIG;
	}
	if (st == 200) {
		if (k.buf == NULL && (k.buf = malloc(1)) == NULL)
			return MN_ENOMEM;
		*out = k.buf;
		*out_len = k.len;
		return 0;
	}
	if (st > 0) {
		excerpt(body, sizeof(body), &k);
		snprintf(err, err_len, "GET %s%s: HTTP %ld %s", s->base, path, st, body);
	}
	free(k.buf);
	return st == 404 ? MN_ENOTFOUND : MN_EIO;
}
