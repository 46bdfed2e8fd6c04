/* Address anonymisation: mask, HMAC and Crypto-PAn (see anon.h). The cipher and the HMAC are OpenSSL's
 * libcrypto, the one the TLS transport already links. */
#include "anon.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_SLOTS 1024 /* 320 KiB, allocated on the first label */
#define CACHE_SLOTS 4096 /* 132 KiB; slot_of() takes 12 bits */

struct dt__anon {
	enum dt__anon_mode mode;
	unsigned bits4, bits6; /* mask */
	uint8_t key[64];       /* hmac */
	size_t key_len;
	uint8_t pad[16];      /* cryptopan: the encrypted second half of the key */
	EVP_CIPHER_CTX *aes;  /* cryptopan: AES-128-ECB with the first half, no padding */
	uint8_t name_key[32]; /* dt__anon_label()'s: derived from the key, or random for a mask */
	/* dt__anon_label()'s last results, direct-mapped by name: an HMAC costs thousands of instructions,
	 * and a capture asks for the same names over and over */
	struct label_cached {
		uint16_t len; /* of name; 0: empty */
		uint8_t n;    /* characters in out */
		uint8_t name[255], out[63];
	} * labels;
	/* Keyed modes: the last results, direct-mapped by address. Crypto-PAn costs one AES block for every
	 * bit (32 for IPv4, 128 for IPv6), HMAC a SHA-256; a capture has few distinct clients and servers,
	 * each in many messages. */
	struct cached {
		uint8_t len; /* 0: empty */
		uint8_t in[16], out[16];
	} cache[CACHE_SLOTS];
};

struct dt__anon *dt__anon_mask_new(unsigned bits4, unsigned bits6)
{
	if (bits4 > 32 || bits6 > 128)
		return NULL;
	struct dt__anon *an = calloc(1, sizeof(*an));
	if (an == NULL)
		return NULL;
	an->mode = DT__ANON_MASK;
	an->bits4 = bits4;
	an->bits6 = bits6;
	if (RAND_bytes(an->name_key, sizeof(an->name_key)) != 1) {
		dt__anon_free(an);
		return NULL;
	}
	return an;
}

static bool aes_block(const struct dt__anon *an, const uint8_t in[16], uint8_t out[16])
{
	int n = 0;
	return EVP_EncryptUpdate(an->aes, out, &n, in, 16) == 1 && n == 16;
}

/* The name key of a keyed mode: its own HMAC of the key, so that no label is the address mapping's. */
static bool name_key(struct dt__anon *an, const uint8_t *key, size_t len)
{
	static const char label[] = "dnstap anonymize-qname";
	unsigned md_len = 0;
	return HMAC(EVP_sha256(), key, (int)len, (const uint8_t *)label, sizeof(label) - 1, an->name_key, &md_len) !=
		       NULL &&
	       md_len == sizeof(an->name_key);
}

struct dt__anon *dt__anon_keyed_new(enum dt__anon_mode mode, const uint8_t *key, size_t len, const char **err)
{
	struct dt__anon *an = calloc(1, sizeof(*an));
	if (an == NULL) {
		*err = "out of memory";
		return NULL;
	}
	an->mode = mode;
	if (mode == DT__ANON_HMAC) {
		if (len < 16 || len > sizeof(an->key)) {
			*err = "an HMAC key must be 16 to 64 bytes";
			free(an);
			return NULL;
		}
		memcpy(an->key, key, len);
		an->key_len = len;
		if (!name_key(an, key, len)) {
			*err = "cannot compute HMAC-SHA256";
			dt__anon_free(an);
			return NULL;
		}
		return an;
	}
	if (mode != DT__ANON_CRYPTOPAN || len != 32) {
		*err = mode == DT__ANON_CRYPTOPAN ? "a Crypto-PAn key must be 32 bytes" : "not a keyed mode";
		free(an);
		return NULL;
	}
	if (!name_key(an, key, len)) {
		*err = "cannot compute HMAC-SHA256";
		dt__anon_free(an);
		return NULL;
	}
	an->aes = EVP_CIPHER_CTX_new();
	if (an->aes == NULL || EVP_EncryptInit_ex(an->aes, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(an->aes, 0) != 1 || !aes_block(an, key + 16, an->pad)) {
		*err = "cannot set up AES-128";
		dt__anon_free(an);
		return NULL;
	}
	return an;
}

static void mask(uint8_t *a, size_t len, unsigned keep)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bit = (unsigned)i * 8;
		if (bit >= keep)
			a[i] = 0;
		else if (keep - bit < 8)
			a[i] &= (uint8_t)(0xff << (8 - (keep - bit)));
	}
}

/* Crypto-PAn: bit i of the result is bit i of the address flipped by the first bit of AES over a block
 * made of the address's first i bits followed by the pad's other bits, so that the flip of bit i depends
 * on the bits before it only: addresses that share a prefix keep sharing it. */
static bool cryptopan(const struct dt__anon *an, uint8_t *a, size_t len)
{
	uint8_t flips[16] = {0}, block[16], out[16];
	unsigned bits = (unsigned)len * 8;
	for (unsigned pos = 0; pos < bits; pos++) {
		memcpy(block, an->pad, 16);
		unsigned whole = pos / 8, rest = pos % 8;
		memcpy(block, a, whole);
		if (rest != 0) {
			uint8_t keep = (uint8_t)(0xff << (8 - rest));
			block[whole] = (uint8_t)((a[whole] & keep) | (an->pad[whole] & (uint8_t)~keep));
		}
		if (!aes_block(an, block, out))
			return false;
		flips[pos / 8] |= (uint8_t)((out[0] >> 7) << (7 - pos % 8));
	}
	for (size_t i = 0; i < len; i++)
		a[i] ^= flips[i];
	return true;
}

static bool keyed(const struct dt__anon *an, uint8_t *a, size_t len)
{
	if (an->mode == DT__ANON_CRYPTOPAN)
		return cryptopan(an, a, len);
	uint8_t in[17], md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	in[0] = (uint8_t)len; /* the family: an IPv4 address and an IPv6 one never collide by accident */
	memcpy(in + 1, a, len);
	if (HMAC(EVP_sha256(), an->key, (int)an->key_len, in, 1 + len, md, &md_len) == NULL || md_len < len)
		return false;
	memcpy(a, md, len);
	return true;
}

/* The cache slot of an address: a multiplicative hash of its words (CACHE_SLOTS is 2^12). */
static unsigned slot_of(const uint8_t *a, size_t len)
{
	uint64_t x, y = 0;
	if (len == 4) {
		uint32_t v;
		memcpy(&v, a, 4);
		x = v;
	} else {
		memcpy(&x, a, 8);
		memcpy(&y, a + 8, 8);
	}
	x ^= (y ^ len) * 0xc2b2ae3d27d4eb4fULL;
	return (unsigned)((x * 0x9e3779b97f4a7c15ULL) >> 52);
}

/* The keyed modes, for len 4 or 16 (a constant where it is inlined, so the copies are too). */
static inline bool cached(struct dt__anon *an, uint8_t *a, size_t len)
{
	struct cached *c = &an->cache[slot_of(a, len)];
	if (c->len == len && memcmp(c->in, a, len) == 0) {
		memcpy(a, c->out, len);
		return true;
	}
	uint8_t orig[16];
	memcpy(orig, a, len);
	if (!keyed(an, a, len))
		return false;
	c->len = (uint8_t)len;
	memcpy(c->in, orig, len);
	memcpy(c->out, a, len);
	return true;
}

bool dt__anon_address(struct dt__anon *an, uint8_t *a, size_t len)
{
	if (len != 4 && len != 16)
		return false;
	if (an->mode == DT__ANON_MASK) {
		mask(a, len, len == 4 ? an->bits4 : an->bits6);
		return true;
	}
	return len == 4 ? cached(an, a, 4) : cached(an, a, 16);
}

static bool label_hmac(const struct dt__anon *an, const uint8_t *name, size_t len, uint8_t *out, size_t n);

bool dt__anon_label(struct dt__anon *an, const uint8_t *name, size_t len, uint8_t *out, size_t n)
{
	if (len == 0 || len > 255 || n > 63)
		return false;
	if (an->labels == NULL && (an->labels = calloc(LABEL_SLOTS, sizeof(*an->labels))) == NULL)
		return label_hmac(an, name, len, out, n);
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ name[i]) * 0x100000001b3ULL;
	struct label_cached *c = &an->labels[(h ^ h >> 32) % LABEL_SLOTS];
	if (c->len == len && c->n >= n && memcmp(c->name, name, len) == 0) {
		memcpy(out, c->out, n); /* a label's characters are the start of the same stream */
		return true;
	}
	if (!label_hmac(an, name, len, out, n))
		return false;
	c->len = (uint16_t)len;
	c->n = (uint8_t)n;
	memcpy(c->name, name, len);
	memcpy(c->out, out, n);
	return true;
}

static bool label_hmac(const struct dt__anon *an, const uint8_t *name, size_t len, uint8_t *out, size_t n)
{
	static const char alphabet[36] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	/* a label of more than 32 characters takes a second block, keyed over a leading 1 */
	for (size_t done = 0, block = 0; done < n; block++) {
		uint8_t in[1 + 255];
		if (len > 255)
			return false;
		in[0] = (uint8_t)block;
		memcpy(in + 1, name, len);
		if (HMAC(EVP_sha256(), an->name_key, sizeof(an->name_key), in, 1 + len, md, &md_len) == NULL ||
		    md_len < 32)
			return false;
		for (size_t i = 0; i < 32 && done < n; i++)
			out[done++] = (uint8_t)alphabet[md[i] % 36]; /* 256 = 7 * 36 + 4: a slight bias, no leak */
	}
	return true;
}

void dt__anon_free(struct dt__anon *an)
{
	if (an == NULL)
		return;
	EVP_CIPHER_CTX_free(an->aes);
	if (an->labels != NULL) {
		OPENSSL_cleanse(an->labels, LABEL_SLOTS * sizeof(*an->labels));
		free(an->labels);
	}
	OPENSSL_cleanse(an, sizeof(*an));
	free(an);
}
