/* keys.c: load or create the log key. */
#include "logd/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/err.h"
#include "common/log.h"

static int write_new_key(const char *path)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
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
	mn_info("key_created", "path=%s alg=ecdsa-p256", path);
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

int logd_key_load(struct ct_signer **out, const char *path, int generate)
{
	struct stat st;
	FILE *f;
	EVP_PKEY *pkey;
	int ret;

	*out = NULL;
	if (stat(path, &st) != 0) {
		if (errno != ENOENT || !generate) {
			mn_error("key_load", "path=%s msg=\"%s\"", path, strerror(errno));
			return errno == ENOENT ? MN_ENOTFOUND : MN_EIO;
		}
		ret = write_new_key(path);
		if (ret != 0)
			return ret;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		mn_error("key_load", "path=%s msg=\"%s\"", path, strerror(errno));
		return MN_EIO;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		mn_error("key_load", "path=%s msg=\"not a PEM private key\"", path);
		return MN_EMALFORMED;
	}
	*out = ct_signer_new(pkey);
	EVP_PKEY_free(pkey);
	if (*out == NULL) {
		mn_error("key_load", "path=%s msg=\"not an ECDSA P-256 private key\"", path);
		return MN_EMALFORMED;
	}
	return 0;
}
