/* vectors.h: the certificates of Debian's python3-cryptography-vectors (PKITS
 * and real chains), for tests that check logd against suites it did not
 * write. scripts/deps.sh installs the package; a test fails, never skips, when
 * it is missing. */
#ifndef MN_TESTS_VECTORS_H
#define MN_TESTS_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* vectors_dir returns the cryptography_vectors package directory (asked of
 * python3, else the fixed Debian path), or NULL if it has no x509/ inside. The
 * string is static. */
const char *vectors_dir(void);

/* vectors_read reads the file |rel| under vectors_dir() into a malloc'd
 * buffer. Returns NULL if it cannot. */
uint8_t *vectors_read(const char *rel, size_t *out_len);

/* vectors_pem_certs decodes up to |max| CERTIFICATE blocks of the PEM file
 * |rel| under vectors_dir() into |der| (each malloc'd) and |lens|. Returns how
 * many, 0 on any failure. */
size_t vectors_pem_certs(const char *rel, uint8_t **der, size_t *lens, size_t max);

#endif
