/* err.c: names and messages for the MN_E* codes, from the one table in
 * err.h (MN_ERRNO_MAP), as libuv does with UV_ERRNO_MAP. */
#include "common/err.h"

const char *mn_strerror(int err)
{
	switch (err) {
	case MN_OK:
		return "ok";
#define MN_ERR_MSG(name, msg) \
	case MN_E##name:      \
		return msg;
		MN_ERRNO_MAP(MN_ERR_MSG)
#undef MN_ERR_MSG
	default:
		return "unknown error";
	}
}

const char *mn_err_name(int err)
{
	switch (err) {
	case MN_OK:
		return "MN_OK";
#define MN_ERR_NAME(name, msg) \
	case MN_E##name:       \
		return "MN_E" #name;
		MN_ERRNO_MAP(MN_ERR_NAME)
#undef MN_ERR_NAME
	default:
		return "MN_EUNKNOWN";
	}
}
