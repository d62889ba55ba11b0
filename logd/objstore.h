/* objstore.h: where a log's static objects are published (logd/publish.h) and
 * where `logd restore` reads them from: a directory, an S3-compatible bucket,
 * or (read-only) any HTTP(S) URL serving them, such as logd itself or a CDN.
 *
 *   DIR                    objects are files DIR/<path>; a put writes a
 *                          temporary file, fsyncs it, renames it into place and
 *                          fsyncs the directory: once put returns, the object
 *                          is durable and readers only ever see whole objects.
 *                          objstore_put_deferred writes and renames the same
 *                          way without the fsyncs, and objstore_sync makes
 *                          every object put so far durable with one barrier.
 *   s3://BUCKET[/PREFIX]   PUT/GET of ENDPOINT/BUCKET/PREFIX/<path> (path
 *                          style), signed with AWS SigV4 by libcurl
 *                          (CURLOPT_AWS_SIGV4) for |region| (default
 *                          us-east-1). S3 acknowledges a PUT once stored.
 *   http://... https://... GET URL/<path>; put is MN_EREADONLY.
 *
 * Object bytes are stored as given: a data tile stays gzip-compressed (and
 * goes to S3 with Content-Encoding: gzip, as logd serves it); a get returns
 * the stored bytes without decoding. Credentials for s3: the file |credentials|
 * (lines AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=...), else the
 * environment variables of the same names.
 *
 * Threads: one objstore is used by one thread at a time (it keeps a curl
 * handle); objects of different objstores are independent. The only module
 * that includes <curl/curl.h> in logd. */
#ifndef MN_LOGD_OBJSTORE_H
#define MN_LOGD_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

struct objstore_options {
	const char *url;          /* DIR, s3://bucket/prefix or http(s)://... */
	const char *endpoint;     /* s3: http(s)://host:port (required) */
	const char *region;       /* s3: default us-east-1 */
	const char *credentials;  /* s3: key file; NULL = the environment */
	unsigned timeout_ms;      /* per request; 0 = 10000 */
	/* DIR: how objstore_sync makes deferred objects durable.
	 *   OBJSTORE_BARRIER_FSYNC   fsync of each file written since the last
	 *                            barrier (kept open), then of each directory
	 *                            they, or directories created for them, are in;
	 *   OBJSTORE_BARRIER_SYNCFS  syncfs(2) of DIR's filesystem: everything
	 *                            dirty on it, whoever wrote it (Linux >= 5.8
	 *                            reports writeback errors through it). */
	int barrier;
	/* trace (tests; NULL = none): told each DIR operation once it succeeded,
	 * with |op| "write" (a deferred object renamed into place, not durable),
	 * "sync" (objstore_sync's barrier done; |path| NULL) or "put" (a durable
	 * object: fsynced, renamed, directory fsynced). A nonzero return makes the
	 * operation fail with MN_EIO, as a failed fsync would (fault injection). */
	int (*trace)(void *ctx, const char *op, const char *path);
	void *trace_ctx;
};

#define OBJSTORE_BARRIER_FSYNC 0
#define OBJSTORE_BARRIER_SYNCFS 1

struct objstore;

/* objstore_new checks |o| and returns a store in *out (nothing is contacted
 * or created yet). 0, or MN_EINVAL / MN_EIO / MN_ENOMEM with the reason in
 * |err| (NUL-terminated). objstore_free(NULL) is a no-op. */
int objstore_new(struct objstore **out, const struct objstore_options *o, char *err,
		 size_t err_len);
void objstore_free(struct objstore *s);

/* objstore_describe: "DIR", "s3://bucket/prefix at ENDPOINT" or the URL. */
const char *objstore_describe(const struct objstore *s);

/* objstore_put stores |len| bytes under |path| ("/tile/0/001", "/checkpoint";
 * leading '/'), replacing what was there. |gzip_encoded|: the bytes are a gzip
 * stream to be served with Content-Encoding: gzip. 0, MN_EREADONLY (a URL
 * source), MN_EIO (with the reason in |err|). */
int objstore_put(struct objstore *s, const char *path, const uint8_t *data, size_t len,
		 const char *content_type, int gzip_encoded, char *err, size_t err_len);

/* objstore_put_deferred is objstore_put whose durability may wait for the
 * next objstore_sync. DIR: the file is written to a temporary file and
 * renamed into place without an fsync, so readers still see only whole
 * objects, but after an OS crash before the barrier the object may be
 * missing, empty or absent; an object that replaces an existing file is
 * fsynced before its rename, so what was durable stays whole. S3: the same as
 * objstore_put (a PUT is durable when acknowledged). Same results as
 * objstore_put. */
int objstore_put_deferred(struct objstore *s, const char *path, const uint8_t *data,
			  size_t len, const char *content_type, int gzip_encoded, char *err,
			  size_t err_len);

/* objstore_sync returns once every object objstore_put_deferred stored is
 * durable (DIR: the barrier of objstore_options.barrier; nothing to do if
 * none was put since the last barrier; S3: nothing to do). 0, or MN_EIO with
 * the reason in |err|: then some of those objects may be lost and must be put
 * again (the pending list is cleared either way). */
int objstore_sync(struct objstore *s, char *err, size_t err_len);

/* objstore_get reads the object at |path| into a new buffer (*out, free()),
 * at most |max| bytes. 0, MN_ENOTFOUND (no such object: 404, or no file),
 * MN_ETOOBIG, MN_EIO (with the reason in |err|), MN_ENOMEM. */
int objstore_get(struct objstore *s, const char *path, size_t max, uint8_t **out,
		 size_t *out_len, char *err, size_t err_len);

#endif
