/* err.h: metanotary's one error table (cf. libuv's UV_ERRNO_MAP).
 * Functions that are not cursors/predicates return 0 on success or a negative
 * MN_E* code. mn_strerror / mn_err_name never return NULL. */
#ifndef MN_COMMON_ERR_H
#define MN_COMMON_ERR_H

#define MN_ERRNO_MAP(X)                                                          \
	X(NOMEM, "out of memory")                                                \
	X(INVAL, "invalid argument")                                             \
	X(MALFORMED, "malformed input")                                          \
	X(TOOBIG, "input exceeds a configured limit")                            \
	X(NOTFOUND, "not found")                                                 \
	X(EXISTS, "already exists")                                              \
	X(IO, "I/O error")                                                       \
	X(NOSPACE, "storage is full")                                            \
	X(READONLY, "storage is read-only")                                      \
	X(CORRUPT, "stored state is inconsistent")                               \
	X(CRYPTO, "cryptographic operation failed")                              \
	X(BADSIG, "signature does not verify")                                   \
	X(BADCHAIN, "certificate chain does not verify")                         \
	X(UNKNOWNANCHOR, "chain does not end at an accepted root")               \
	X(BADCERT, "certificate is not acceptable")                              \
	X(BUSY, "queue is full, try later")                                      \
	X(SHUTDOWN, "shutting down")                                             \
	X(RANGE, "value out of range")                                           \
	X(INTERNAL, "internal error")

enum {
	MN_OK = 0,
#define MN_ERR_ENUM(name, msg) MN_E##name,
	MN_E_FIRST_ = -1000,
	MN_ERRNO_MAP(MN_ERR_ENUM)
#undef MN_ERR_ENUM
	MN_E_LAST_
};
/* Codes are negative: MN_ENOMEM == -999 ... */

/* mn_strerror returns the message for |err| (0 gives "ok"). */
const char *mn_strerror(int err);
/* mn_err_name returns "MN_ENOMEM" style names. */
const char *mn_err_name(int err);

#endif
