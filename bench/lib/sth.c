/* sth.c: see sth.h. */
#include "bench/lib/sth.h"

#include <string.h>

#include "bench/lib/load.h"
#include "common/bytes.h"

void bench_sign_sth(const struct ct_signer *signer, struct store_sth *sth)
{
	struct ct_sig sig;
	struct cbb b;

	if (ct_sign_sth(signer, &sig, sth->timestamp, sth->tree_size, sth->root) != 0 ||
	    !cbb_init(&b, STORE_MAX_SIG_LEN, STORE_MAX_SIG_LEN) || !ct_write_sig(&b, &sig) ||
	    cbb_len(&b) == 0)
		load_die("cannot sign the STH");
	sth->sig_len = (uint16_t)cbb_len(&b);
	memcpy(sth->sig, cbb_data(&b), sth->sig_len);
	cbb_cleanup(&b);
}
