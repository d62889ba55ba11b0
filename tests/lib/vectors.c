/* vectors.c: see vectors.h. */
#include "tests/lib/vectors.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define DEBIAN_PATH "/usr/lib/python3/dist-packages/cryptography_vectors"

static int has_x509(const char *dir)
{
	char p[PATH_MAX + 64];
	struct stat st;
	snprintf(p, sizeof(p), "%s/x509/PKITS_data/certs", dir);
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *vectors_dir(void)
{
	static char dir[PATH_MAX];
	if (dir[0] != '\0')
		return dir;
	FILE *f = popen("python3 -c 'import cryptography_vectors, os; "
			"print(os.path.dirname(cryptography_vectors.__file__))' 2>/dev/null",
			"r");
	if (f != NULL) {
		if (fgets(dir, sizeof(dir), f) != NULL)
			dir[strcspn(dir, "\n")] = '\0';
		pclose(f);
	}
	if (dir[0] != '\0' && has_x509(dir))
		return dir;
	snprintf(dir, sizeof(dir), "%s", DEBIAN_PATH);
	if (has_x509(dir))
		return dir;
	dir[0] = '\0';
	return NULL;
}

uint8_t *vectors_read(const char *rel, size_t *out_len)
{
	char p[2 * PATH_MAX];
	const char *d = vectors_dir();
	uint8_t *buf = NULL;
	if (d == NULL)
		return NULL;
	snprintf(p, sizeof(p), "%s/%s", d, rel);
	FILE *f = fopen(p, "rb");
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL) {
			if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
				free(buf);
				buf = NULL;
			} else {
				*out_len = (size_t)n;
			}
		}
	}
	fclose(f);
	return buf;
}

size_t vectors_pem_certs(const char *rel, uint8_t **der, size_t *lens, size_t max)
{
	size_t len, n = 0;
	uint8_t *pem = vectors_read(rel, &len);
	if (pem == NULL)
		return 0;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	while (b != NULL && n < max && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		unsigned char *d = NULL;
		int dl = i2d_X509(x, &d);
		X509_free(x);
		if (dl <= 0)
			break;
		der[n] = malloc((size_t)dl);
		if (der[n] == NULL) {
			OPENSSL_free(d);
			break;
		}
		memcpy(der[n], d, (size_t)dl);
		lens[n++] = (size_t)dl;
		OPENSSL_free(d);
	}
	BIO_free(b);
	free(pem);
	return n;
}
