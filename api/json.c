/* json.c: minimal JSON writing and query parsing for the handlers. Responses
 * are written directly (no DOM) because get-entries builds megabytes of base64
 * per second; request bodies are parsed with jansson. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"

int api__jraw(struct cbb *b, const char *s)
{
	return cbb_add_bytes(b, (const uint8_t *)s, strlen(s));
}

int api__ju64(struct cbb *b, uint64_t v)
{
	uint8_t tmp[20], *p = tmp + sizeof(tmp);

	/* decimal digits from the right (snprintf's "%llu" is several times
	 * slower, and an answer carries dozens of numbers) */
	do {
		*--p = (uint8_t)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return cbb_add_bytes(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int api__jb64(struct cbb *b, const uint8_t *data, size_t len)
{
	size_t n = mn_b64_encoded_len(len);
	uint8_t *p;

	if (!cbb_add_u8(b, '"') || !cbb_add_space(b, &p, n + 1))
		return 0;
	/* mn_b64_encode writes a NUL after the text; overwrite it with the quote. */
	mn_b64_encode((char *)p, data, len);
	p[n] = '"';
	return 1;
}

int api__jstr(struct cbb *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (!cbb_add_u8(b, '"'))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int ok;
		if (c == '"' || c == '\\')
			ok = cbb_add_u8(b, '\\') && cbb_add_u8(b, c);
		else if (c < 0x20)
			ok = cbb_add_bytes(b, (const uint8_t *)"\\u00", 4) &&
			     cbb_add_u8(b, (uint8_t)hex[c >> 4]) &&
			     cbb_add_u8(b, (uint8_t)hex[c & 15]);
		else
			ok = cbb_add_u8(b, c);
		if (!ok)
			return 0;
	}
	return cbb_add_u8(b, '"');
}

void api__finish_json(struct api_response *resp, int status, struct cbb *b)
{
	uint8_t *data;
	size_t len;

	if (!cbb_finish(b, &data, &len)) {
		cbb_cleanup(b);
		api_response_error(resp, 500, "internal", "response too large");
		return;
	}
	resp->status = status;
	resp->content_type = NULL;
	resp->body = data;
	resp->body_len = len;
}

/* decode percent escapes of in[0..len) into out (cap bytes + NUL). */
static int pct_decode(char *out, size_t cap, size_t *out_len, const char *in, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		if (c == '%') {
			int h, l;
			if (len - i < 3)
				return 0;
			h = mn_hex_digit((unsigned char)in[i + 1]);
			l = mn_hex_digit((unsigned char)in[i + 2]);
			if (h < 0 || l < 0)
				return 0;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0 || o >= cap)
			return 0;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*out_len = o;
	return 1;
}

int api__parse_query(struct api_params *out, const char *q, size_t len)
{
	size_t pos = 0;

	out->num = 0;
	if (q == NULL || len == 0)
		return 0;
	while (pos <= len) {
		const char *seg = q + pos;
		const char *amp = memchr(seg, '&', len - pos);
		size_t seg_len = amp ? (size_t)(amp - seg) : len - pos;
		const char *eq = memchr(seg, '=', seg_len);
		size_t name_len, i;

		pos += seg_len + 1;
		if (seg_len == 0)
			continue; /* "a=1&&b=2" or a trailing '&' */
		if (out->num == API_MAX_PARAMS)
			return MN_EMALFORMED;
		name_len = eq ? (size_t)(eq - seg) : seg_len;
		if (name_len == 0 ||
		    !pct_decode(out->p[out->num].name, sizeof(out->p[0].name) - 1, &i,
				seg, name_len))
			return MN_EMALFORMED;
		if (!pct_decode(out->p[out->num].value, API_MAX_PARAM_LEN,
				&out->p[out->num].value_len, eq ? eq + 1 : seg + seg_len,
				eq ? seg_len - name_len - 1 : 0))
			return MN_EMALFORMED;
		for (i = 0; i < out->num; i++)
			if (strcmp(out->p[i].name, out->p[out->num].name) == 0)
				return MN_EMALFORMED;
		out->num++;
	}
	return 0;
}

const char *api__param(const struct api_params *p, const char *name, size_t *out_len)
{
	for (size_t i = 0; i < p->num; i++)
		if (strcmp(p->p[i].name, name) == 0) {
			if (out_len != NULL)
				*out_len = p->p[i].value_len;
			return p->p[i].value;
		}
	return NULL;
}

int api__param_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}
