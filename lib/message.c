/* Decoding and encoding between payload bytes and struct dt_message, on top of the protobuf-c code that
 * protoc-c generates from lib/dnstap.proto. Decoding uses a per-decoder arena so that, once warm, it does
 * no allocation: protobuf-c asks our allocator for every struct and byte string, and all of it is
 * released at once by resetting the arena before the next payload. */
#include "dnstap.h"
#include "dnstap.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An allocation that did not fit the arena (hostile payloads full of tiny unknown fields can need more
 * than the usual bound); kept on a list and freed before the next decode. */
struct overflow {
	struct overflow *next;
	max_align_t data[];
};

struct dt_decoder {
	/* Arena: one block, grown before each decode to the size a normal payload needs. */
	unsigned char *mem;
	size_t cap;
	size_t used;
	struct overflow *overflow;
	ProtobufCAllocator alloc;
	struct dt_message view;
};

/* protobuf-c's unpacked output never exceeds the payload length in byte strings, plus a fixed number of
 * structs; alignment padding is bounded per allocation. The slack covers the structs and the padding. */
#define ARENA_SLACK 8192

static void *arena_alloc(void *ctx, size_t size)
{
	struct dt_decoder *d = ctx;
	size_t off = (d->used + 15) & ~(size_t)15;
	if (off <= d->cap && d->cap - off >= size) {
		d->used = off + size;
		return d->mem + off;
	}
	if (size > SIZE_MAX - sizeof(struct overflow))
		return NULL;
	struct overflow *o = malloc(sizeof(*o) + size);
	if (o == NULL)
		return NULL; /* protobuf-c turns this into an unpack failure */
	o->next = d->overflow;
	d->overflow = o;
	return o->data;
}

static void arena_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p; /* released all at once by the next decode */
}

static void arena_release_overflow(struct dt_decoder *d)
{
	while (d->overflow != NULL) {
		struct overflow *next = d->overflow->next;
		free(d->overflow);
		d->overflow = next;
	}
}

static bool arena_prepare(struct dt_decoder *d, size_t payload_len)
{
	arena_release_overflow(d);
	if (payload_len > (SIZE_MAX - ARENA_SLACK) / 2)
		return false;
	size_t need = 2 * payload_len + ARENA_SLACK;
	if (need > d->cap) {
		unsigned char *p = realloc(d->mem, need);
		if (p == NULL)
			return false;
		d->mem = p;
		d->cap = need;
	}
	d->used = 0;
	return true;
}

struct dt_decoder *dt_decoder_new(void)
{
	struct dt_decoder *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->alloc.alloc = arena_alloc;
	d->alloc.free = arena_free;
	d->alloc.allocator_data = d;
	if (!arena_prepare(d, 64 * 1024)) {
		free(d);
		return NULL;
	}
	return d;
}

void dt_decoder_free(struct dt_decoder *d)
{
	if (d == NULL)
		return;
	arena_release_overflow(d);
	free(d->mem);
	free(d);
}

static struct dt_bytes bytes_of(ProtobufCBinaryData b)
{
	return (struct dt_bytes){.data = b.data, .len = b.len};
}

static void view_policy(struct dt_message *v, const Dnstap__Policy *p)
{
	v->has_policy = true;
	v->has_policy_type = p->type != NULL;
	v->policy_type = p->type;
	v->has_policy_rule = p->has_rule;
	v->policy_rule = bytes_of(p->rule);
	v->has_policy_action = p->has_action;
	v->policy_action = (int)p->action;
	v->has_policy_match = p->has_match;
	v->policy_match = (int)p->match;
	v->has_policy_value = p->has_value;
	v->policy_value = bytes_of(p->value);
}

static void view_message(struct dt_message *v, const Dnstap__Message *m)
{
	v->has_message = true;
	v->type = (int)m->type;
	v->has_socket_family = m->has_socket_family;
	v->socket_family = (int)m->socket_family;
	v->has_socket_protocol = m->has_socket_protocol;
	v->socket_protocol = (int)m->socket_protocol;
	v->has_query_address = m->has_query_address;
	v->query_address = bytes_of(m->query_address);
	v->has_response_address = m->has_response_address;
	v->response_address = bytes_of(m->response_address);
	v->has_query_port = m->has_query_port;
	v->query_port = m->query_port;
	v->has_response_port = m->has_response_port;
	v->response_port = m->response_port;
	v->has_query_time_sec = m->has_query_time_sec;
	v->query_time_sec = m->query_time_sec;
	v->has_query_time_nsec = m->has_query_time_nsec;
	v->query_time_nsec = m->query_time_nsec;
	v->has_response_time_sec = m->has_response_time_sec;
	v->response_time_sec = m->response_time_sec;
	v->has_response_time_nsec = m->has_response_time_nsec;
	v->response_time_nsec = m->response_time_nsec;
	v->has_query_message = m->has_query_message;
	v->query_message = bytes_of(m->query_message);
	v->has_response_message = m->has_response_message;
	v->response_message = bytes_of(m->response_message);
	v->has_query_zone = m->has_query_zone;
	v->query_zone = bytes_of(m->query_zone);
	v->has_http_protocol = m->has_http_protocol;
	v->http_protocol = (int)m->http_protocol;
	if (m->policy != NULL)
		view_policy(v, m->policy);
}

dt_res dt_decode(struct dt_decoder *d, const uint8_t *payload, size_t len, const struct dt_message **msg)
{
	if (d == NULL || (payload == NULL && len != 0) || msg == NULL)
		return DT_ERR_INVALID;
	if (!arena_prepare(d, len))
		return DT_ERR_NOMEM;
	Dnstap__Dnstap *dt = dnstap__dnstap__unpack(&d->alloc, len, payload);
	if (dt == NULL)
		return DT_ERR_DECODE;

	struct dt_message *v = &d->view;
	memset(v, 0, sizeof(*v));
	v->has_identity = dt->has_identity;
	v->identity = bytes_of(dt->identity);
	v->has_version = dt->has_version;
	v->version = bytes_of(dt->version);
	v->has_extra = dt->has_extra;
	v->extra = bytes_of(dt->extra);
	v->dnstap_type = (int)dt->type;
	if (dt->message != NULL)
		view_message(v, dt->message);
	*msg = v;
	return DT_OK;
}

/* ==== Encoding ==== */

static ProtobufCBinaryData pb_bytes(struct dt_bytes b)
{
	/* protobuf-c only reads through this pointer when packing */
	return (ProtobufCBinaryData){.len = b.len, .data = (uint8_t *)(uintptr_t)b.data};
}

/* Builds the protobuf-c structs that describe m; they point into m's byte strings, copy nothing. */
static void pb_fill(const struct dt_message *m, Dnstap__Dnstap *dt, Dnstap__Message *pm, Dnstap__Policy *pp)
{
	dnstap__dnstap__init(dt);
	dt->has_identity = m->has_identity;
	dt->identity = pb_bytes(m->identity);
	dt->has_version = m->has_version;
	dt->version = pb_bytes(m->version);
	dt->has_extra = m->has_extra;
	dt->extra = pb_bytes(m->extra);
	dt->type = (Dnstap__Dnstap__Type)m->dnstap_type;
	if (!m->has_message)
		return;

	dnstap__message__init(pm);
	dt->message = pm;
	pm->type = (Dnstap__Message__Type)m->type;
	pm->has_socket_family = m->has_socket_family;
	pm->socket_family = (Dnstap__SocketFamily)m->socket_family;
	pm->has_socket_protocol = m->has_socket_protocol;
	pm->socket_protocol = (Dnstap__SocketProtocol)m->socket_protocol;
	pm->has_query_address = m->has_query_address;
	pm->query_address = pb_bytes(m->query_address);
	pm->has_response_address = m->has_response_address;
	pm->response_address = pb_bytes(m->response_address);
	pm->has_query_port = m->has_query_port;
	pm->query_port = m->query_port;
	pm->has_response_port = m->has_response_port;
	pm->response_port = m->response_port;
	pm->has_query_time_sec = m->has_query_time_sec;
	pm->query_time_sec = m->query_time_sec;
	pm->has_query_time_nsec = m->has_query_time_nsec;
	pm->query_time_nsec = m->query_time_nsec;
	pm->has_response_time_sec = m->has_response_time_sec;
	pm->response_time_sec = m->response_time_sec;
	pm->has_response_time_nsec = m->has_response_time_nsec;
	pm->response_time_nsec = m->response_time_nsec;
	pm->has_query_message = m->has_query_message;
	pm->query_message = pb_bytes(m->query_message);
	pm->has_response_message = m->has_response_message;
	pm->response_message = pb_bytes(m->response_message);
	pm->has_query_zone = m->has_query_zone;
	pm->query_zone = pb_bytes(m->query_zone);
	pm->has_http_protocol = m->has_http_protocol;
	pm->http_protocol = (Dnstap__HttpProtocol)m->http_protocol;
	if (!m->has_policy)
		return;

	dnstap__policy__init(pp);
	pm->policy = pp;
	pp->type = m->has_policy_type ? (char *)(uintptr_t)m->policy_type : NULL;
	pp->has_rule = m->has_policy_rule;
	pp->rule = pb_bytes(m->policy_rule);
	pp->has_action = m->has_policy_action;
	pp->action = (Dnstap__Policy__Action)m->policy_action;
	pp->has_match = m->has_policy_match;
	pp->match = (Dnstap__Policy__Match)m->policy_match;
	pp->has_value = m->has_policy_value;
	pp->value = pb_bytes(m->policy_value);
}

size_t dt_encoded_size(const struct dt_message *m)
{
	Dnstap__Dnstap dt;
	Dnstap__Message pm;
	Dnstap__Policy pp;
	pb_fill(m, &dt, &pm, &pp);
	return dnstap__dnstap__get_packed_size(&dt);
}

dt_res dt_encode(const struct dt_message *m, uint8_t *out, size_t *len)
{
	if (m == NULL || out == NULL || len == NULL)
		return DT_ERR_INVALID;
	Dnstap__Dnstap dt;
	Dnstap__Message pm;
	Dnstap__Policy pp;
	pb_fill(m, &dt, &pm, &pp);
	*len = dnstap__dnstap__pack(&dt, out);
	return DT_OK;
}

/* ==== Enum names ==== */

#define NAME_OF(table, v) ((v) >= 1 && (size_t)(v) < sizeof(table) / sizeof(table[0]) ? table[v] : NULL)

const char *dt_message_type_name(int type)
{
	static const char *const names[] = {
		NULL, "AUTH_QUERY", "AUTH_RESPONSE", "RESOLVER_QUERY", "RESOLVER_RESPONSE", "CLIENT_QUERY",
		"CLIENT_RESPONSE", "FORWARDER_QUERY", "FORWARDER_RESPONSE", "STUB_QUERY", "STUB_RESPONSE",
		"TOOL_QUERY", "TOOL_RESPONSE", "UPDATE_QUERY", "UPDATE_RESPONSE",
	};
	return NAME_OF(names, type);
}

const char *dt_socket_family_name(int family)
{
	static const char *const names[] = {NULL, "INET", "INET6"};
	return NAME_OF(names, family);
}

const char *dt_socket_protocol_name(int protocol)
{
	static const char *const names[] = {NULL, "UDP", "TCP", "DOT", "DOH", "DNSCryptUDP", "DNSCryptTCP", "DOQ"};
	return NAME_OF(names, protocol);
}

const char *dt_http_protocol_name(int protocol)
{
	static const char *const names[] = {NULL, "HTTP1", "HTTP2", "HTTP3"};
	return NAME_OF(names, protocol);
}

const char *dt_policy_action_name(int action)
{
	static const char *const names[] = {NULL, "NXDOMAIN", "NODATA", "PASS", "DROP", "TRUNCATE", "LOCAL_DATA"};
	return NAME_OF(names, action);
}

const char *dt_policy_match_name(int match)
{
	static const char *const names[] = {NULL, "QNAME", "CLIENT_IP", "RESPONSE_IP", "NS_NAME", "NS_IP"};
	return NAME_OF(names, match);
}

const char *dt_strerror(dt_res res)
{
	switch (res) {
	case DT_OK: return "success";
	case DT_STOP: return "end of stream";
	case DT_ERR_INVALID: return "invalid argument";
	case DT_ERR_NOMEM: return "out of memory";
	case DT_ERR_IO: return "input/output error";
	case DT_ERR_EOF: return "input ended without a STOP frame";
	case DT_ERR_TRUNCATED: return "input ended in the middle of a frame";
	case DT_ERR_NOT_FSTRM: return "not a Frame Streams file (no START frame)";
	case DT_ERR_CONTROL: return "malformed Frame Streams control frame";
	case DT_ERR_CONTENT_TYPE: return "content type is not " DT_CONTENT_TYPE;
	case DT_ERR_TOO_BIG: return "data frame too large";
	case DT_ERR_DECODE: return "payload is not a valid dnstap protobuf";
	case DT_ERR_NO_MESSAGE: return "dnstap MESSAGE without its message field";
	case DT_ERR_NOT_MESSAGE: return "dnstap type is not MESSAGE";
	}
	return "unknown error";
}
