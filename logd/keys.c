/* keys.c: load or create the log key and the VRF key. */
#include "logd/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/err.h"
#include "common/file.h"
#include "common/log.h"

static int write_new_key_alg(const char *path, int ed25519)
{
	EVP_PKEY *pkey = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
				 : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FILE *f = NULL;
	int fd = -1, ret = MN_EIO;

	if (pkey == NULL)
		return MN_ECRYPTO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		mn_error("key_create", "path=%s errno=%d msg=\"%s\"", path, errno,
			 strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (f == NULL)
		goto out;
	fd = -1;
	if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0) {
		mn_error("key_create", "path=%s msg=\"cannot write key\"", path);
		goto out;
	}
	mn_info("key_created", "path=%s alg=%s", path, ed25519 ? "ed25519" : "ecdsa-p256");
	ret = 0;
out:
	if (f != NULL && fclose(f) != 0)
		ret = MN_EIO;
	if (fd >= 0)
		close(fd);
	if (ret != 0 && f != NULL)
		unlink(path);
	EVP_PKEY_free(pkey);
	return ret;
}

static int write_new_key(const char *path)
{
	return write_new_key_alg(path, 0);
}

static int write_new_note_key(const char *path)
{
	return write_new_key_alg(path, 1);
}

/* key_file makes sure |path| exists: if it does not and |generate| is set,
 * |make| writes a new key there (mode 0600). 0, MN_ENOTFOUND, MN_EIO, or
 * what |make| returned. */
static int key_file(const char *path, int generate, int (*make)(const char *path))
{
	struct stat st;

	if (stat(path, &st) == 0)
		return 0;
	if (errno != ENOENT || !generate) {
		mn_error("key_load", "path=%s msg=\"%s\"", path, strerror(errno));
		return errno == ENOENT ? MN_ENOTFOUND : MN_EIO;
	}
	return make(path);
}

/* read_private_key makes sure the key file at |path| exists (key_file: written
 * by |write_new| when missing and |generate| is set) and reads its PEM private
 * key into *out. 0, or MN_E* with a log line. */
static int read_private_key(EVP_PKEY **out, const char *path, int generate,
			    int (*write_new)(const char *path))
{
	FILE *f;
	int ret;

	*out = NULL;
	ret = key_file(path, generate, write_new);
	if (ret != 0)
		return ret;
	f = fopen(path, "r");
	if (f == NULL) {
		mn_error("key_load", "path=%s msg=\"%s\"", path, strerror(errno));
		return MN_EIO;
	}
	*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*out == NULL) {
		mn_error("key_load", "path=%s msg=\"not a PEM private key\"", path);
		return MN_EMALFORMED;
	}
	return 0;
}

int logd_key_load(struct ct_signer **out, const char *path, int generate)
{
	EVP_PKEY *pkey;
	int ret;

	*out = NULL;
	ret = read_private_key(&pkey, path, generate, write_new_key);
	if (ret != 0)
		return ret;
	*out = ct_signer_new(pkey);
	EVP_PKEY_free(pkey);
	if (*out == NULL) {
		mn_error("key_load", "path=%s msg=\"not an ECDSA P-256 private key\"", path);
		return MN_EMALFORMED;
	}
	return 0;
}

/* write_new_vrf_key writes a new P-256 PEM private key to |path| like
 * write_new_key, from vrf_key_generate_pem. */
static int write_new_vrf_key(const char *path)
{
	uint8_t *pem = NULL;
	size_t pem_len = 0;
	int fd, ret;

	ret = vrf_key_generate_pem(&pem, &pem_len);
	if (ret != 0)
		return ret;
	ret = MN_EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		mn_error("key_create", "path=%s errno=%d msg=\"%s\"", path, errno,
			 strerror(errno));
		goto out;
	}
	if (mn_write_sync(fd, pem, pem_len) == 0)
		ret = 0;
	if (close(fd) != 0)
		ret = MN_EIO;
	if (ret != 0) {
		mn_error("key_create", "path=%s msg=\"cannot write key\"", path);
		unlink(path);
	} else {
		mn_info("key_created", "path=%s alg=ecvrf-p256-sha256-tai", path);
	}
out:
	OPENSSL_cleanse(pem, pem_len);
	free(pem);
	return ret;
}

int logd_vrf_key_load(struct vrf_key **out, const char *path, int generate)
{
	uint8_t *pem = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int ret;

	*out = NULL;
	ret = key_file(path, generate, write_new_vrf_key);
	if (ret != 0)
		return ret;
	f = fopen(path, "r");
	if (f == NULL) {
		mn_error("key_load", "path=%s msg=\"%s\"", path, strerror(errno));
		return MN_EIO;
	}
	/* A PEM key is a few hundred bytes; 64 KiB is plenty. */
	cap = 65536;
	pem = malloc(cap);
	if (pem == NULL) {
		fclose(f);
		return MN_ENOMEM;
	}
	len = fread(pem, 1, cap, f);
	ret = ferror(f) ? MN_EIO : len == cap ? MN_EMALFORMED : 0;
	fclose(f);
	if (ret == 0)
		ret = vrf_key_from_pem(out, pem, len);
	OPENSSL_cleanse(pem, cap);
	free(pem);
	if (ret == MN_EMALFORMED)
		mn_error("key_load", "path=%s msg=\"not a P-256 PEM private key\"", path);
	else if (ret != 0)
		mn_error("key_load", "path=%s msg=\"%s\"", path, mn_strerror(ret));
	return ret;
}

int logd_note_key_load(struct note_signer **out, const char *path, int generate,
		       const char *origin)
{
	EVP_PKEY *pkey;
	int ret;

	*out = NULL;
	if (!note_valid_name(origin, strlen(origin))) {
		mn_error("key_load", "path=%s msg=\"origin is not a valid note key name\"", path);
		return MN_EINVAL;
	}
	ret = read_private_key(&pkey, path, generate, write_new_note_key);
	if (ret != 0)
		return ret;
	*out = note_signer_new(pkey, origin, strlen(origin));
	EVP_PKEY_free(pkey);
	if (*out == NULL) {
		mn_error("key_load", "path=%s msg=\"not an Ed25519 private key\"", path);
		return MN_EMALFORMED;
	}
	return 0;
}

void logd_default_origin(char *out, size_t out_len, const char *origin, const char *url,
			 const char *host, unsigned port)
{
	size_t n;

	if (origin != NULL) {
		snprintf(out, out_len, "%s", origin);
		return;
	}
	if (url != NULL) {
		const char *p = strstr(url, "://");
		snprintf(out, out_len, "%s", p != NULL ? p + 3 : url);
		n = strlen(out);
		while (n > 0 && out[n - 1] == '/')
			out[--n] = '\0';
		return;
	}
	snprintf(out, out_len, "%s:%u", host, port);
}
