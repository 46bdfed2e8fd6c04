/* What the Kafka output and input share that does not need librdkafka: the message key derived from a
 * dnstap message, kept apart so that it is unit-tested in every build. Internal to libdnstap. */
#ifndef DT_KAFKA_H
#define DT_KAFKA_H

#include "dnstap.h"

/* Longest key made: a presentation name of 255 wire octets with every octet escaped (\DDD) fits. */
#define DT__KAFKA_KEY_MAX 1024

/* Writes the key of m for mode into out (at least DT__KAFKA_KEY_MAX bytes) and returns its length, or 0
 * when m has no such field (no identity, no query address, no parsable question): the message then goes
 * without a key. identity: Dnstap.identity as it is. client-ip: the query (initiator) address as text,
 * "192.0.2.1" or "2001:db8::1". qname: the first question's name from the query message (else the
 * response), in presentation form with a final dot, ASCII letters lowercased, so that names differing
 * only in case (0x20 randomization) share a key. */
size_t dt__kafka_key(enum dt_kafka_key mode, const struct dt_message *m, char *out);

#ifdef HAVE_KAFKA
#include <librdkafka/rdkafka.h>

/* Sets one property on conf: prop and value, or prop "PROP=VALUE" and value NULL (a -X argument).
 * False with errstr filled ("-X PROP=VALUE: why", in librdkafka's words) when it is refused. */
bool dt__kafka_conf_set(rd_kafka_conf_t *conf, const char *prop, const char *value, char *errstr, size_t errsize);

/* dt__kafka_conf_set() on each of the n "PROP=VALUE" strings of the -X flags, in order; false at the
 * first one refused. */
bool dt__kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t n, char *errstr, size_t errsize);
#endif

#endif
