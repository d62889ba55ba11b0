/* version.h: metanotary's version, for mn_build_info and --version. Raise it
 * with each release. */
#ifndef MN_COMMON_VERSION_H
#define MN_COMMON_VERSION_H

#define MN_VERSION "0.1.0"

#endif
