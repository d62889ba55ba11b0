/* mnfix.c: gpg and JWS fixtures for the metanotary tests (see mnfix.h). */
#include "tests/lib/mnfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/vrf.h"
#include "tests/lib/pki.h"

int mnfix_read_file(const char *path, struct mnfix_buf *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t tmp[65536];
	size_t n;

	out->p = NULL;
	out->len = 0;
	if (f == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		uint8_t *p = realloc(out->p, out->len + n);
		if (p == NULL) {
			fclose(f);
			free(out->p);
			out->p = NULL;
			out->len = 0;
			return -1;
		}
		out->p = p;
		memcpy(p + out->len, tmp, n);
		out->len += n;
	}
	fclose(f);
	return out->len ? 0 : -1;
}

int mnfix_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int mnfix_rm_rf(const char *dir)
{
	char cmd[600];

	if (strchr(dir, '\'') != NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int mnfix_gpg_init(struct mnfix_gpg *g, const char *dir)
{
	if (strlen(dir) >= sizeof(g->dir) || strchr(dir, '\'') != NULL)
		return -1;
	snprintf(g->dir, sizeof(g->dir), "%s", dir);
	snprintf(g->home, sizeof(g->home), "%s/g", dir);
	return mkdir(g->home, 0700) == 0 ? 0 : -1;
}

int mnfix_gpg(const struct mnfix_gpg *g, const char *args)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd),
			 "gpg --batch --quiet --no-tty --homedir '%s' --pinentry-mode loopback "
			 "--passphrase '' %s >>'%s/gpg.log' 2>&1",
			 g->home, args, g->dir);

	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

int mnfix_gpg_export(const struct mnfix_gpg *g, const char *what, struct mnfix_buf *out)
{
	char args[1024], path[400];

	snprintf(path, sizeof(path), "%s/export.out", g->dir);
	unlink(path);
	snprintf(args, sizeof(args), "--output '%s' %s", path, what);
	if (mnfix_gpg(g, args) != 0)
		return -1;
	return mnfix_read_file(path, out);
}

int mnfix_gpg_fpr(const struct mnfix_gpg *g, const char *who, char out[41])
{
	char cmd[1024], line[1024];
	FILE *p;
	int found = 0;

	if (strchr(who, '\'') != NULL)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --no-tty --homedir '%s' --with-colons --list-keys '%s' 2>/dev/null",
		 g->home, who);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL)
		if (!found && strncmp(line, "fpr:::::::::", 12) == 0 && strlen(line) >= 52) {
			memcpy(out, line + 12, 40);
			out[40] = '\0';
			found = 1;
		}
	pclose(p);
	return found ? 0 : -1;
}

int mnfix_gpg_kill(const struct mnfix_gpg *g)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "GNUPGHOME='%s' gpgconf --kill all >/dev/null 2>&1", g->home);
	return system(cmd) == 0 ? 0 : -1;
}

char *mnfix_pgp_request(const uint8_t *cert, size_t len, const char *uid, const char *signer)
{
	char *b = malloc(mn_b64_encoded_len(len) + 1), *s = NULL;
	json_t *o;

	if (b == NULL)
		return NULL;
	mn_b64_encode(b, cert, len);
	o = json_pack("{s:s, s:s, s:s}", "cert", b, "user_id", uid, "signer", signer);
	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(b);
	return s;
}

char *mnfix_b64url(const void *in, size_t len)
{
	char *s = malloc(mn_b64url_encoded_len(len) + 1);

	if (s != NULL)
		mn_b64url_encode(s, in, len);
	return s;
}

/* sign_raw: the JWS signature value over |msg| (R || S for an EC key). */
static uint8_t *sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t msg_len, size_t *out_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *sig = NULL, *raw = NULL;
	ECDSA_SIG *es = NULL;
	size_t len = 0;
	const uint8_t *p;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &len, msg, msg_len) != 1 || (sig = malloc(len)) == NULL ||
	    EVP_DigestSign(ctx, sig, &len, msg, msg_len) != 1)
		goto err;
	EVP_MD_CTX_free(ctx);
	ctx = NULL;
	if (EVP_PKEY_base_id(key) != EVP_PKEY_EC) {
		*out_len = len;
		return sig;
	}
	p = sig;
	es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	raw = malloc(64);
	if (es == NULL || raw == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32)
		goto err;
	ECDSA_SIG_free(es);
	free(sig);
	*out_len = 64;
	return raw;
err:
	EVP_MD_CTX_free(ctx);
	ECDSA_SIG_free(es);
	free(sig);
	free(raw);
	return NULL;
}

char *mnfix_jws_sign(const char *header, const char *payload, EVP_PKEY *key)
{
	char *h = mnfix_b64url(header, strlen(header));
	char *p = mnfix_b64url(payload, strlen(payload));
	char *input = NULL, *s = NULL, *out = NULL;
	uint8_t *sig = NULL;
	size_t n, sig_len;

	if (h == NULL || p == NULL)
		goto done;
	n = strlen(h) + strlen(p) + 2;
	if ((input = malloc(n)) == NULL)
		goto done;
	snprintf(input, n, "%s.%s", h, p);
	if ((sig = sign_raw(key, (const uint8_t *)input, strlen(input), &sig_len)) == NULL ||
	    (s = mnfix_b64url(sig, sig_len)) == NULL)
		goto done;
	n = strlen(input) + strlen(s) + 2;
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "%s.%s", input, s);
done:
	free(h);
	free(p);
	free(input);
	free(sig);
	free(s);
	return out;
}

char *mnfix_x5c_header(const char *alg, const struct pki_cert *leaf, const struct pki_cert *ca)
{
	char *a = malloc(mn_b64_encoded_len(leaf->der_len) + 1);
	char *b = malloc(mn_b64_encoded_len(ca->der_len) + 1), *h = NULL;
	size_t n;

	if (a != NULL && b != NULL) {
		mn_b64_encode(a, leaf->der, leaf->der_len);
		mn_b64_encode(b, ca->der, ca->der_len);
		n = strlen(a) + strlen(b) + strlen(alg) + 64;
		if ((h = malloc(n)) != NULL)
			snprintf(h, n, "{\"alg\":\"%s\",\"x5c\":[\"%s\",\"%s\"]}", alg, a, b);
	}
	free(a);
	free(b);
	return h;
}

char *mnfix_x5c_jws(const struct pki_cert *leaf, const struct pki_cert *ca, const char *payload)
{
	char *h = mnfix_x5c_header("ES256", leaf, ca), *j = NULL;

	if (h != NULL)
		j = mnfix_jws_sign(h, payload, leaf->key);
	free(h);
	return j;
}

char *mnfix_policy_request(const char *jws)
{
	json_t *o = json_pack("{s:s}", "jws", jws);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *mnfix_smtp_policy_request(const struct pki_cert *leaf, const struct pki_cert *ca,
				const char *domain, uint64_t serial)
{
	char p[1024], *jws, *req;
	int64_t now = pki_now();
	int n = snprintf(p, sizeof(p),
			 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"mx.%s\"],"
			 "\"protocol\":\"smtp\",\"serial\":%llu,\"subject\":{\"domain\":\"%s\"},"
			 "\"tls\":{\"min\":\"1.2\",\"transport\":\"starttls\"},\"v\":1}",
			 (long long)(now + 30 * 86400), (long long)now, domain,
			 (unsigned long long)serial, domain);

	if (n < 0 || (size_t)n >= sizeof(p))
		return NULL;
	jws = mnfix_x5c_jws(leaf, ca, p);
	req = jws != NULL ? mnfix_policy_request(jws) : NULL;
	free(jws);
	return req;
}

struct vrf_key *mnfix_vrf_key_new(void)
{
	struct vrf_key *k = NULL;
	uint8_t *pem = NULL;
	size_t pem_len = 0;

	if (vrf_key_generate_pem(&pem, &pem_len) != 0)
		return NULL;
	if (vrf_key_from_pem(&k, pem, pem_len) != 0)
		k = NULL;
	free(pem);
	return k;
}
