/* The fields of struct dt_message (lib/dnstap.h), listed once, so that the code that walks all of them
 * (merging repeated messages and encoding in message.c, the tap's queue records in output_socket.c) is
 * generated from one list and a new field is added here, in dnstap.h and in the decoder's switch only.
 * The decoder's hot path (message.c) stays written out by hand, field number by field number.
 *
 * Each list calls X once a field, in field-number order:
 *   bytes fields   X(field, pb)                 a struct dt_bytes `field` with `has_field`
 *   number fields  X(field, pb, type, absent)   a `type field` with `has_field`; absent: the value an
 *                                               absent field reads as after decoding (protobuf-c leaves
 *                                               an enum at its first value, 1)
 * where pb is the field's name in the protobuf-c structs of dnstap.pb-c.h. Not listed, being one of a
 * kind: Dnstap.type (dnstap_type), Dnstap.message (has_message), Message.type (required, no has_),
 * Message.policy (has_policy) and Policy.type (a NUL-terminated string). Internal to libdnstap. */
#ifndef DT_MESSAGE_FIELDS_H
#define DT_MESSAGE_FIELDS_H

/* Dnstap */
#define DT_DNSTAP_BYTES(X)    \
	X(identity, identity) \
	X(version, version)   \
	X(extra, extra)

/* Dnstap.message */
#define DT_MESSAGE_BYTES(X)                   \
	X(query_address, query_address)       \
	X(response_address, response_address) \
	X(query_message, query_message)       \
	X(query_zone, query_zone)             \
	X(response_message, response_message)

#define DT_MESSAGE_NUMBERS(X)                                  \
	X(socket_family, socket_family, int, 1)                \
	X(socket_protocol, socket_protocol, int, 1)            \
	X(query_port, query_port, uint32_t, 0)                 \
	X(response_port, response_port, uint32_t, 0)           \
	X(query_time_sec, query_time_sec, uint64_t, 0)         \
	X(query_time_nsec, query_time_nsec, uint32_t, 0)       \
	X(response_time_sec, response_time_sec, uint64_t, 0)   \
	X(response_time_nsec, response_time_nsec, uint32_t, 0) \
	X(http_protocol, http_protocol, int, 1)

/* Dnstap.message.policy */
#define DT_POLICY_BYTES(X)   \
	X(policy_rule, rule) \
	X(policy_value, value)

#define DT_POLICY_NUMBERS(X)             \
	X(policy_action, action, int, 1) \
	X(policy_match, match, int, 1)

#endif
