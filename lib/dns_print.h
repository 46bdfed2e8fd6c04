/* DNS wire messages as text, exactly as the Go dnstap tool prints them (miekg/dns 1.1.50's Msg.String()
 * and name presentation), on the wire layer (dns_wire.h), with no allocation: that is both exact (ldns
 * accepts and rejects other messages than miekg) and fast. Implemented in dns_print.c. Internal to
 * libdnstap (not installed).
 *
 * Each function appends to out, a buffer the caller owns, and on failure appends nothing. Error texts are
 * static strings in the Go tool's words. */
#ifndef DT_DNS_PRINT_H
#define DT_DNS_PRINT_H

#include "buf.h"
#include "dns_wire.h"

/* Appends the full dig-like text of the message (miekg/dns Msg.String(), including its final newline).
 * Returns 0 on success. If the message does not parse, appends nothing, returns -1 and sets *err to a static
 * string in the Go tool's words (for example "dns: overflow unpacking uint16"). */
int dt__dns_msg_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err);

/* Quiet format: appends `"qname." CLASS TYPE` for the first question (qname in miekg presentation form,
 * CLASS/TYPE mnemonics or CLASSnnn/TYPEnnn). Returns 0 on success; returns -1 and appends nothing when the
 * whole message would not parse for the Go tool or has no question (the caller prints "X "). Fast: no
 * allocation. */
int dt__dns_question_text(struct dt_buf *out, const uint8_t *wire, size_t len);

/* Appends a wire-format domain name (dnstap's query_zone: uncompressed, though pointers within wire[0:len)
 * are followed as miekg follows them) in presentation form, as miekg/dns UnpackDomainName() returns it
 * (with trailing dot; no quoting added; Go's escapes: \. \" \\ and the like, \DDD for unprintable bytes).
 * Returns 0, or -1 with *err set to the Go error text (for example "dns: buffer size too small"), appending
 * nothing. */
int dt__dns_name_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err);

/* ---- Pieces for formats that print a message field by field (format_jsonfull.c, format_template.c) ----
 * Each appends to out and allocates nothing beyond out's growth. */

/* The name at wire[off] of the message wire[0:len) in presentation form, as the functions above print it:
 * used on names the wire walk (dns_wire.h) accepted. Returns the offset after it (after its first
 * pointer when compressed); on a name that does not check, appends nothing and returns 0. */
size_t dt__dns_name_at_text(struct dt_buf *out, const uint8_t *wire, size_t len, size_t off);

/* The rdata of a record the walk accepted, in miekg's presentation form: what Msg.String() prints after
 * the record's type and tab (RFC 3597 "\# N hex" for a type miekg has no struct for; an OPT record's
 * options as its pseudosection lines, without the title). */
void dt__dns_rdata_text(struct dt_buf *out, const uint8_t *wire, const struct dt__dns_rr *rr);

/* Type.String() / Class.String(): the mnemonic, or TYPEnnn / CLASSnnn. */
void dt__dns_type_text(struct dt_buf *out, uint16_t type);
void dt__dns_class_text(struct dt_buf *out, uint16_t class);

/* miekg's names for an rcode (header bits and OPT extension together), an opcode and an EDE info code; NULL
 * when it has none. Static strings. */
const char *dt__dns_rcode_name(unsigned rcode);
const char *dt__dns_opcode_name(unsigned opcode);
const char *dt__dns_ede_name(unsigned code);

#endif
