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

struct objstore {
	enum kind kind;
	char base[4096];   /* DIR, or the URL prefix objects are appended to */
	char desc[4400];
	char userpwd[1100]; /* s3: key:secret */
	char sigv4[128];   /* s3: aws:amz:REGION:s3 */
	unsigned timeout_ms;
	CURL *curl;
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

void objstore_free(struct objstore *s)
{
	if (s == NULL)
		return;
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	free(s);
}

const char *objstore_describe(const struct objstore *s)
{
	return s->desc;
}

/* --- directory -------------------------------------------------------------- */

static int mkdirs(char *path, size_t upto)
{
	for (size_t i = 1; i < upto; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			path[i] = '/';
			return 0;
		}
		path[i] = '/';
	}
	return 1;
}

static int fsync_dir(const char *file)
{
	char d[4200];
	char *slash;
	int fd, ok;

	snprintf(d, sizeof(d), "%s", file);
	slash = strrchr(d, '/');
	if (slash == NULL)
		return 1;
	*slash = '\0';
	fd = open(d[0] != '\0' ? d : "/", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return 0;
	ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

static int dir_put(struct objstore *s, const char *path, const uint8_t *data, size_t len,
		   char *err, size_t err_len)
{
	char file[4400], tmp[4500];
	int fd;

	snprintf(file, sizeof(file), "%s%s", s->base, path);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", file, (long)getpid());
	if (!mkdirs(file, strlen(file))) {
		snprintf(err, err_len, "cannot create the directories of %s: %s", file,
			 strerror(errno));
		return MN_EIO;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if (mn_write_sync(fd, data, len) != 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, file) != 0 || !fsync_dir(file))
		goto fail;
	return 0;
fail:
	snprintf(err, err_len, "cannot write %s: %s", file, strerror(errno));
	unlink(tmp);
	return MN_EIO;
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

int objstore_put(struct objstore *s, const char *path, const uint8_t *data, size_t len,
		 const char *content_type, int gzip_encoded, char *err, size_t err_len)
{
	struct curl_slist *h = NULL, *t;
	struct sink k = {.max = 1u << 16};
	char ct[160], body[200];
	long st;

	err[0] = '\0';
	if (s->kind == K_DIR)
		return dir_put(s, path, data, len, err, err_len);
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
