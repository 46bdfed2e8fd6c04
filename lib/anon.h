/* Address anonymisation, the primitives of the anonymisation stage: truncation to a prefix, a keyed HMAC
 * that maps an address to another of the same family, and Crypto-PAn (Xu, Fan, Ammar, Moon, "Prefix-
 * Preserving IP Address Anonymization", ICNP 2002), whose mapping keeps shared prefixes shared so that
 * subnets stay subnets. Internal to libdnstap.
 *
 * Addresses are 4 (IPv4) or 16 (IPv6) bytes in network order, rewritten in place. An anonymiser is used
 * by one thread at a time (the pipeline's): Crypto-PAn keeps its cipher context, and the keyed modes a
 * cache of their last results. */
#ifndef DT_ANON_H
#define DT_ANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dt__anon_mode {
	DT__ANON_MASK,      /* keep the first bits4 / bits6 bits, zero the rest */
	DT__ANON_HMAC,      /* the first 4 or 16 bytes of HMAC-SHA256(key, family byte || address) */
	DT__ANON_CRYPTOPAN, /* Crypto-PAn with AES-128: a 32-byte key, the first half the cipher's key and
			     * the second half, encrypted, the pad (as the reference implementation) */
};

struct dt__anon;

/* A mask anonymiser: prefixes of bits4 (0..32) and bits6 (0..128) bits are kept. NULL if out of memory
 * or out of range. */
struct dt__anon *dt__anon_mask_new(unsigned bits4, unsigned bits6);

/* A keyed anonymiser (DT__ANON_HMAC or DT__ANON_CRYPTOPAN) from key[0:len): HMAC takes any key of at
 * least 16 bytes, Crypto-PAn exactly 32. NULL with err set to why ("key must be 32 bytes", ...). The key
 * is copied; the caller should wipe its own copy. */
struct dt__anon *dt__anon_keyed_new(enum dt__anon_mode mode, const uint8_t *key, size_t len, const char **err);

/* Rewrites the address a[0:len) (len 4 or 16; other lengths are left as they are and false returned). */
bool dt__anon_address(struct dt__anon *an, uint8_t *a, size_t len);

/* The replacement of one label for --anonymize-qname: out[0:n) (n up to 63) gets n characters of
 * [a-z0-9] from HMAC-SHA256 under the anonymiser's name key over name[0:len), the label's name in
 * uncompressed wire form with ASCII letters in lower case (the label, then its parent up to the root), so
 * that equal names map to equal names and an equal label under another parent to another label. The name
 * key is derived from the key of the keyed modes (HMAC-SHA256(key, "dnstap anonymize-qname"): not the
 * function the addresses go through); a mask anonymiser, which has no key, draws a random one when it is
 * made, so its names stay consistent within one run only. False if libcrypto fails. */
bool dt__anon_label(struct dt__anon *an, const uint8_t *name, size_t len, uint8_t *out, size_t n);

/* Wipes the key and frees an. Accepts NULL. */
void dt__anon_free(struct dt__anon *an);

#endif
