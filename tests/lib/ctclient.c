/* ctclient.c: see ctclient.h. */
#include "tests/lib/ctclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "merkle/merkle.h"
#include "tests/lib/pki.h"

int logd_start_stderr(struct logd_proc *p, const char *const *args, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int saved, ret;

	if (fd < 0)
		return -1;
	fflush(stderr);
	saved = dup(2);
	if (saved < 0 || dup2(fd, 2) < 0) {
		close(fd);
		return -1;
	}
	ret = logd_start(p, args);
	dup2(saved, 2);
	close(saved);
	close(fd);
	return ret;
}

int file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int found;

	if (f == NULL)
		return 0;
	buf = malloc((1 << 22) + 1);
	n = buf ? fread(buf, 1, 1 << 22, f) : 0;
	fclose(f);
	if (buf == NULL)
		return 0;
	buf[n] = '\0';
	found = memmem(buf, n, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

/* --- keep-alive HTTP ------------------------------------------------------ */

static int connect_to(uint16_t port, unsigned timeout_ms)
{
	struct sockaddr_in a;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static unsigned kc_timeout_ms = 10000;

int kc_open(struct kconn *c, uint16_t port, unsigned timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->port = port;
	kc_timeout_ms = timeout_ms;
	c->fd = connect_to(port, timeout_ms);
	return c->fd < 0 ? -1 : 0;
}

void kc_close(struct kconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

static int send_all(int fd, const void *p, size_t len)
{
	const char *s = p;

	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* read_response reads one Content-Length framed response. Returns 0, -1 on a
 * protocol or I/O error, -2 if the connection closed before any byte. */
static int read_response(struct kconn *c, struct http_resp *out)
{
	size_t need = 0, head = 0;

	for (;;) {
		if (head == 0) {
			char *e = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
			if (e != NULL) {
				char *cl;
				head = (size_t)(e - c->buf) + 4;
				c->buf[head - 1] = '\0';
				if (sscanf(c->buf, "HTTP/1.1 %d", &out->status) != 1)
					return -1;
				cl = strcasestr(c->buf, "\r\nContent-Length:");
				if (cl == NULL)
					return -1;
				need = head + strtoul(cl + 17, NULL, 10);
				snprintf(out->headers, sizeof(out->headers), "%.*s",
					 (int)(head - 4), c->buf);
			}
		}
		if (head != 0 && c->len >= need)
			break;
		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 16384;
			char *nb = realloc(c->buf, ncap + 1);
			if (nb == NULL)
				return -1;
			c->buf = nb;
			c->cap = ncap;
		}
		{
			ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return c->len == 0 ? -2 : -1;
			c->len += (size_t)n;
		}
	}
	out->body_len = need - head;
	out->body = malloc(out->body_len + 1);
	if (out->body == NULL)
		return -1;
	memcpy(out->body, c->buf + head, out->body_len);
	out->body[out->body_len] = 0;
	memmove(c->buf, c->buf + need, c->len - need);
	c->len -= need;
	return 0;
}

int kc_request(struct kconn *c, const char *method, const char *target,
	       const void *body, size_t body_len, int retry, struct http_resp *out)
{
	char head[1024];
	int hl, r;

	memset(out, 0, sizeof(*out));
	hl = snprintf(head, sizeof(head),
		      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n",
		      method, target, body_len ? "Content-Type: application/json\r\n" : "",
		      body_len);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0) {
			c->len = 0;
			c->fd = connect_to(c->port, kc_timeout_ms);
			if (c->fd < 0)
				return -1;
		}
		if (send_all(c->fd, head, (size_t)hl) == 0 &&
		    (body_len == 0 || send_all(c->fd, body, body_len) == 0)) {
			r = read_response(c, out);
			if (r == 0) {
				if (strcasestr(out->headers, "\r\nConnection: close") != NULL) {
					close(c->fd);
					c->fd = -1;
				}
				return 0;
			}
		} else {
			r = -2;
		}
		close(c->fd);
		c->fd = -1;
		if (r != -2 || !retry)
			return -1;
	}
	return -1;
}

/* --- CT checks ------------------------------------------------------------ */

char *ctc_chain_json(const struct pki_cert *const *certs, size_t n)
{
	json_t *arr = json_array(), *obj = json_object();
	char *s;

	for (size_t i = 0; i < n; i++) {
		char *b = malloc(mn_b64_encoded_len(certs[i]->der_len) + 1);
		mn_b64_encode(b, certs[i]->der, certs[i]->der_len);
		json_array_append_new(arr, json_string(b));
		free(b);
	}
	json_object_set_new(obj, "chain", arr);
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return s;
}

static int b64field(json_t *j, const char *name, uint8_t *out, size_t cap, size_t *len)
{
	json_t *f = json_object_get(j, name);
	uint8_t *d;

	if (!json_is_string(f) ||
	    mn_b64_decode(&d, len, json_string_value(f), json_string_length(f), cap) != 0)
		return -1;
	memcpy(out, d, *len);
	free(d);
	return 0;
}

int ctc_parse_sth(const struct ct_verifier *v, const uint8_t *body, size_t len,
		  struct ctc_sth *out)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)body, len, 0, &e);
	uint8_t sigb[256];
	size_t rl, sl;
	struct ct_sig sig;
	struct cbs cbs;
	int ret = -1;

	if (j == NULL || !json_is_integer(json_object_get(j, "tree_size")) ||
	    !json_is_integer(json_object_get(j, "timestamp")))
		goto out;
	out->size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	out->ts = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	if (b64field(j, "sha256_root_hash", out->root, 32, &rl) != 0 || rl != 32 ||
	    b64field(j, "tree_head_signature", sigb, sizeof(sigb), &sl) != 0)
		goto out;
	cbs_init(&cbs, sigb, sl);
	if (!ct_parse_sig(&sig, &cbs) || cbs_len(&cbs) != 0 ||
	    !ct_verify_sth(v, &sig, out->ts, out->size, out->root))
		goto out;
	ret = 0;
out:
	if (ret != 0)
		fprintf(stderr, "ctclient: STH does not verify: %.*s\n", (int)len, (const char *)body);
	json_decref(j);
	return ret;
}

int ctc_get_sth(struct kconn *c, const struct ct_verifier *v, struct ctc_sth *out)
{
	struct http_resp r;
	int ret;

	if (kc_request(c, "GET", "/ct/v1/get-sth", NULL, 0, 1, &r) != 0) {
		fprintf(stderr, "ctclient: get-sth: no answer\n");
		return -1;
	}
	ret = r.status == 200 ? ctc_parse_sth(v, r.body, r.body_len, out) : -1;
	if (r.status != 200)
		fprintf(stderr, "ctclient: get-sth: %d %s\n", r.status, (char *)r.body);
	http_resp_free(&r);
	return ret;
}

int ctc_sct_same(const struct ctc_sct *a, const struct ctc_sct *b)
{
	return a->ts == b->ts && a->has_index == b->has_index &&
	       (!a->has_index || a->index == b->index);
}

/* the CtExtensions of |sct| */
static int sct_ext(const struct ctc_sct *sct, uint8_t ext[CT_LEAF_INDEX_EXT_LEN], size_t *len)
{
	*len = 0;
	if (!sct->has_index)
		return 1;
	*len = CT_LEAF_INDEX_EXT_LEN;
	return ct_leaf_index_ext(ext, sct->index);
}

int ctc_parse_sct(const struct ct_verifier *v, const uint8_t *body, size_t len,
		  const uint8_t *der, size_t der_len, struct ctc_sct *out)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)body, len, 0, &e);
	struct ct_sct sct;
	struct ct_entry ent = {0};
	uint8_t id[64], sigb[256], ext[16];
	size_t idl, sl, el;
	struct cbs cbs;
	int ret = -1;

	memset(&sct, 0, sizeof(sct));
	if (j == NULL || json_integer_value(json_object_get(j, "sct_version")) != 0 ||
	    !json_is_integer(json_object_get(j, "timestamp")) ||
	    b64field(j, "id", id, sizeof(id), &idl) != 0 || idl != 32 ||
	    memcmp(id, ct_verifier_log_id(v), 32) != 0 ||
	    b64field(j, "extensions", ext, sizeof(ext), &el) != 0 ||
	    !ct_parse_extensions(ext, el, &out->has_index, &out->index) ||
	    el != (out->has_index ? CT_LEAF_INDEX_EXT_LEN : 0) ||
	    b64field(j, "signature", sigb, sizeof(sigb), &sl) != 0)
		goto out;
	memcpy(sct.log_id, id, 32);
	sct.timestamp = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	cbs_init(&cbs, sigb, sl);
	if (!ct_parse_sig(&sct.sig, &cbs) || cbs_len(&cbs) != 0)
		goto out;
	ent.entry_type = CT_X509_ENTRY;
	ent.body = der;
	ent.body_len = der_len;
	ent.timestamp = sct.timestamp;
	sct.extensions = ext;
	sct.extensions_len = el;
	if (!ct_verify_sct(v, &sct, &ent))
		goto out;
	out->ts = sct.timestamp;
	ret = 0;
out:
	if (ret != 0)
		fprintf(stderr, "ctclient: SCT does not verify: %.*s\n", (int)len, (const char *)body);
	json_decref(j);
	return ret;
}

int ctc_x509_leaf_hash(const uint8_t *der, size_t der_len, const struct ctc_sct *sct,
		       uint8_t out[32])
{
	struct ct_entry e = {0};
	struct merkle_hasher *h;
	struct cbb b;
	uint8_t *leaf, ext[CT_LEAF_INDEX_EXT_LEN];
	size_t len;

	if (!sct_ext(sct, ext, &e.extensions_len))
		return -1;
	e.extensions = ext;
	h = merkle_hasher_new();
	e.entry_type = CT_X509_ENTRY;
	e.timestamp = sct->ts;
	e.body = der;
	e.body_len = der_len;
	if (h == NULL || !cbb_init(&b, 256, 1 << 24)) {
		merkle_hasher_free(h);
		return -1;
	}
	if (!ct_write_leaf(&b, &e) || !cbb_finish(&b, &leaf, &len)) {
		cbb_cleanup(&b);
		merkle_hasher_free(h);
		return -1;
	}
	merkle_leaf_hash(h, out, leaf, len);
	free(leaf);
	merkle_hasher_free(h);
	return 0;
}

static void urlenc_b64(char *out, const uint8_t *data, size_t len)
{
	char tmp[128];

	mn_b64_encode(tmp, data, len);
	for (char *p = tmp; *p; p++) {
		if (*p == '+' || *p == '/' || *p == '=') {
			snprintf(out, 4, "%%%02X", (unsigned char)*p);
			out += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = 0;
}

/* proof_array decodes a JSON array of base64 hashes. 0 / -1. */
static int proof_array(json_t *arr, uint8_t proof[MERKLE_MAX_PROOF][32], size_t *n)
{
	*n = json_array_size(arr);
	if (!json_is_array(arr) || *n > MERKLE_MAX_PROOF)
		return -1;
	for (size_t i = 0; i < *n; i++) {
		json_t *e = json_array_get(arr, i);
		uint8_t *p;
		size_t l;
		if (!json_is_string(e) ||
		    mn_b64_decode(&p, &l, json_string_value(e), json_string_length(e), 32) != 0)
			return -1;
		if (l != 32) {
			free(p);
			return -1;
		}
		memcpy(proof[i], p, 32);
		free(p);
	}
	return 0;
}

int ctc_check_inclusion(struct kconn *c, const uint8_t leaf_hash[32],
			const struct ctc_sth *sth, uint64_t *out_index)
{
	char target[256], enc[128];
	uint8_t proof[MERKLE_MAX_PROOF][32];
	struct http_resp r;
	struct merkle_hasher *h;
	json_error_t e;
	json_t *j = NULL;
	size_t n;
	uint64_t index;
	int ret = -1;

	urlenc_b64(enc, leaf_hash, 32);
	snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%llu", enc,
		 (unsigned long long)sth->size);
	if (kc_request(c, "GET", target, NULL, 0, 1, &r) != 0) {
		fprintf(stderr, "ctclient: get-proof-by-hash: no answer\n");
		return -1;
	}
	if (r.status != 200) {
		fprintf(stderr, "ctclient: get-proof-by-hash (tree %llu): %d %s\n",
			(unsigned long long)sth->size, r.status, (char *)r.body);
		goto out;
	}
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	if (j == NULL || !json_is_integer(json_object_get(j, "leaf_index")) ||
	    proof_array(json_object_get(j, "audit_path"), proof, &n) != 0)
		goto out;
	index = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	h = merkle_hasher_new();
	if (h != NULL && merkle_verify_inclusion(h, leaf_hash, index, sth->size,
						 (const uint8_t(*)[32])proof, n, sth->root)) {
		if (out_index != NULL)
			*out_index = index;
		ret = 0;
	}
	merkle_hasher_free(h);
	if (ret != 0)
		fprintf(stderr, "ctclient: inclusion proof for index %llu in tree %llu does "
			"not verify\n", (unsigned long long)index, (unsigned long long)sth->size);
out:
	json_decref(j);
	http_resp_free(&r);
	return ret;
}

int ctc_check_consistency(struct kconn *c, const struct ctc_sth *a, const struct ctc_sth *b)
{
	char target[128];
	uint8_t proof[MERKLE_MAX_PROOF][32];
	struct http_resp r;
	struct merkle_hasher *h;
	json_error_t e;
	json_t *j = NULL;
	size_t n;
	int ret = -1;

	if (a->size > b->size) {
		fprintf(stderr, "ctclient: the tree shrank from %llu to %llu\n",
			(unsigned long long)a->size, (unsigned long long)b->size);
		return -1;
	}
	if (a->size == b->size || a->size == 0) {
		uint8_t empty[32];
		merkle_empty_root(empty);
		if (a->size == b->size ? memcmp(a->root, b->root, 32) == 0
				       : memcmp(a->root, empty, 32) == 0)
			return 0;
		fprintf(stderr, "ctclient: two roots for tree size %llu\n",
			(unsigned long long)a->size);
		return -1;
	}
	snprintf(target, sizeof(target), "/ct/v1/get-sth-consistency?first=%llu&second=%llu",
		 (unsigned long long)a->size, (unsigned long long)b->size);
	if (kc_request(c, "GET", target, NULL, 0, 1, &r) != 0) {
		fprintf(stderr, "ctclient: get-sth-consistency: no answer\n");
		return -1;
	}
	if (r.status != 200)
		goto out;
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	if (j == NULL || proof_array(json_object_get(j, "consistency"), proof, &n) != 0)
		goto out;
	h = merkle_hasher_new();
	if (h != NULL && merkle_verify_consistency(h, a->size, b->size, a->root, b->root,
						   (const uint8_t(*)[32])proof, n))
		ret = 0;
	merkle_hasher_free(h);
out:
	if (ret != 0)
		fprintf(stderr, "ctclient: trees %llu and %llu are not consistent: %d %s\n",
			(unsigned long long)a->size, (unsigned long long)b->size, r.status,
			(char *)r.body);
	json_decref(j);
	http_resp_free(&r);
	return ret;
}

int ctc_json_error(const uint8_t *body, size_t len)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)body, len, 0, &e);
	int ok = j != NULL && json_is_string(json_object_get(j, "error_code")) &&
		 json_is_string(json_object_get(j, "error_message"));

	json_decref(j);
	return ok;
}
