/* advice.h: what /mn/v1/resolve advises, computed from COMPLETE lists of
 * leaves (the map's lists, DESIGN.md section 10). logd builds its answer with
 * these functions and mnctl recomputes the answer from the proven items with
 * the same ones, refusing an answer whose advice differs: the rules live in
 * one place.
 *
 * For an address A at domain D the lists are those of the map keys
 *   email:A             S/MIME certificates (and policies whose subject is A)
 *   pgpaddr:VRF(A)      OpenPGP endorsements of keys for A (body version 2)
 *   policy:A|email-e2e  the address's end-to-end policies
 *   policy:D|smtp       the domain's SMTP transport policies
 * and the rules:
 *   smime   final certificates (x509_entry) of the email:A list that are
 *           inside their validity at |now| and whose extendedKeyUsage holds
 *           emailProtection; in leaf order, at most ADVICE_MAX_ITEMS
 *   pgp     for each (endorsed key, certifier) the newest endorsement (highest
 *           signature creation time, then highest leaf index); pairs whose
 *           newest is a revocation (0x30) are dropped; in leaf order
 *   policy  the list's policy with the highest serial is the head; it is in
 *           force if its mode is not "none" and its exp is after |now|;
 *           otherwise there is no policy (withdrawn or expired)
 * A list longer than ADVICE_MAX_LIST is not advised on (the caller refuses). */
#ifndef MN_ENTRY_ADVICE_H
#define MN_ENTRY_ADVICE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ADVICE_MAX_ITEMS 64
#define ADVICE_MAX_LIST 1024

/* A leaf of a list, borrowed. */
struct advice_leaf {
	uint64_t index;
	const uint8_t *leaf_input;
	size_t leaf_input_len;
};

struct advice_list {
	const struct advice_leaf *leaves;
	size_t num;
};

/* advice_policy picks the policy in force from |l| at |now_s| (seconds):
 * returns 1 with *out_index and *out_payload (the JWS payload, caller
 * decrefs), or 0 if there is none. */
int advice_policy(const struct advice_list *l, uint64_t now_s, uint64_t *out_index,
		  json_t **out_payload);

/* The result of advice_email. */
struct advice_email {
	uint64_t smime[ADVICE_MAX_ITEMS];
	size_t num_smime;
	uint64_t pgp[ADVICE_MAX_ITEMS];
	size_t num_pgp;
	int has_smtp, has_e2e;
	uint64_t smtp, e2e;     /* leaf indexes of the policies in force */
	json_t *advice;         /* {"smime", "pgp", "starttls", "tls_min", "e2e"} */
};

/* advice_email applies the rules to the four lists (any may be empty). 0 or
 * MN_ENOMEM. advice_email_cleanup releases out->advice. */
int advice_email(struct advice_email *out, const struct advice_list *email,
		 const struct advice_list *pgpaddr, const struct advice_list *e2e,
		 const struct advice_list *smtp, uint64_t now_s);
void advice_email_cleanup(struct advice_email *a);

/* advice_domain: the "advice" object of a domain resolve from the policy in
 * force (NULL: none -> JSON null). New reference. */
json_t *advice_domain(const json_t *payload);

#endif
