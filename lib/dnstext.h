/* DNS wire messages as text, exactly as the Go dnstap tool prints them (miekg/dns 1.1.50's Msg.String()
 * and name presentation). One pass over the wire checks what miekg accepts and prints it, with no
 * allocation: that is both exact (ldns accepts and rejects other messages than miekg) and fast.
 * Internal to libdnstap (not installed). */
#ifndef DT_DNSTEXT_H
#define DT_DNSTEXT_H

#include "buf.h"

/* Appends the full dig-like text of the message (miekg/dns Msg.String(), including its final newline).
 * Returns 0 on success. If the message does not parse, appends nothing, returns -1 and sets *err to a static
 * string in the Go tool's words (for example "dns: overflow unpacking uint16"). */
int dt__dns_msg_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err);

/* Quiet format: appends `"qname." CLASS TYPE` for the first question (qname in miekg presentation form,
 * CLASS/TYPE mnemonics or CLASSnnn/TYPEnnn). Returns 0 on success; returns -1 and appends nothing when the
 * whole message would not parse for the Go tool or has no question (the caller prints "X "). Fast: no
 * allocation. */
int dt__dns_question_text(struct dt_buf *out, const uint8_t *wire, size_t len);

/* Appends an uncompressed wire-format domain name (dnstap's query_zone) in presentation form, as
 * miekg/dns UnpackDomainName() returns it (with trailing dot; no quoting added). Returns 0, or -1 with *err
 * set to the Go error text (for example "dns: buffer size too small"), appending nothing. */
int dt__dns_name_text(struct dt_buf *out, const uint8_t *wire, size_t len, const char **err);

#endif
