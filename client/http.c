/* http.c: one libcurl easy handle per invocation (so connections are reused),
 * with a timeout on every request and a cap on every response. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client/mnctl.h"

struct mnctl_http {
	CURL *curl;
	long timeout_s;
	size_t max_response;
	/* the response being received */
	uint8_t *buf;
	size_t len, cap;
	int too_big;
};

struct mnctl_http *mnctl_http_new(long timeout_s, size_t max_response)
{
	struct mnctl_http *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		free(c);
		return NULL;
	}
	c->timeout_s = timeout_s;
	c->max_response = max_response;
	return c;
}

void mnctl_http_free(struct mnctl_http *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c->buf);
	free(c);
}

void mnctl_resp_cleanup(struct mnctl_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* on_data appends to the buffer; returning less than asked makes libcurl abort
 * the transfer (CURLE_WRITE_ERROR), which is how the cap is enforced. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct mnctl_http *c = ctx;
	size_t n = size * nmemb;

	if (n > c->max_response - c->len) {
		c->too_big = 1;
		return 0;
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 16384;
		uint8_t *p;
		while (cap < c->len + n + 1)
			cap *= 2;
		p = realloc(c->buf, cap);
		if (p == NULL)
			return 0;
		c->buf = p;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, ptr, n);
	c->len += n;
	return n;
}

int mnctl_http_do(struct mnctl *m, const char *path, const char *body,
		  size_t body_len, struct mnctl_resp *out)
{
	struct mnctl_http *c = m->http;
	struct curl_slist *hdrs = NULL;
	size_t ul = strlen(m->url), pl = strlen(path);
	char *url = malloc(ul + pl + 1);
	CURLcode rc;
	CURL *h = c->curl;
	int ret = MNCTL_ENET;

	memset(out, 0, sizeof(*out));
	if (url == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	memcpy(url, m->url, ul);
	memcpy(url + ul, path, pl + 1);
	c->len = 0;
	c->too_big = 0;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout_s < 10 ? c->timeout_s : 10L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mnctl/1");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (body != NULL) {
		/* No "Expect: 100-continue": it costs a round trip (or libcurl's
		 * one-second wait) on every submission larger than 1 KiB. */
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = curl_slist_append(hdrs, "Expect:");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	rc = curl_easy_perform(h);
	if (c->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		mnctl_fail(MNCTL_ENET, "%s: response larger than %zu bytes", path,
			   c->max_response);
		goto out;
	}
	if (rc != CURLE_OK) {
		mnctl_fail(MNCTL_ENET, "%s: %s", path, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	out->body = malloc(c->len + 1);
	if (out->body == NULL) {
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		goto out;
	}
	if (c->len > 0)
		memcpy(out->body, c->buf, c->len);
	out->body[c->len] = '\0';
	out->body_len = c->len;
	ret = MNCTL_OK;
out:
	curl_slist_free_all(hdrs);
	free(url);
	return ret;
}

int mnctl_get_json(struct mnctl *m, const char *path, json_t **out, long *out_status)
{
	struct mnctl_resp r;
	json_error_t jerr;
	int ret;

	*out = NULL;
	if (out_status != NULL)
		*out_status = 0;
	ret = mnctl_http_do(m, path, NULL, 0, &r);
	if (ret != MNCTL_OK)
		return ret;
	if (r.status != 200) {
		if (out_status != NULL) {
			*out_status = r.status;
			mnctl_resp_cleanup(&r);
			return MNCTL_OK;
		}
		char msg[200];
		mnctl_sanitize(msg, sizeof(msg), r.body, r.body_len);
		ret = mnctl_fail(MNCTL_ENET, "%s: HTTP %ld: %s", path, r.status, msg);
		mnctl_resp_cleanup(&r);
		return ret;
	}
	*out = json_loadb((const char *)r.body, r.body_len, JSON_REJECT_DUPLICATES, &jerr);
	mnctl_resp_cleanup(&r);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return mnctl_fail(MNCTL_ENET, "%s: response is not a JSON object", path);
	}
	return MNCTL_OK;
}
