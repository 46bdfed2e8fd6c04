/* The statistics stage: counts every item that arrives (it is the pipeline's first stage and keeps
 * everything), and writes reports that join its own counters to those of the pipeline, the listener and
 * the outputs, through one metrics writer whatever the format (Prometheus text, JSON, a text report).
 * Fixed memory: arrays indexed by qtype and rcode, sketches for the top lists, a fixed table for the
 * latency pairs, all allocated by dt_stats_new(). The item is decoded through the pipeline's shared
 * decoder (decoded once for every stage and output), and its DNS message read with the wire layer. */
#include "config.h"

#include "dns_print.h"
#include "dns_rrtype.h"
#include "dns_wire.h"
#include "output.h"
#include "stats.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INPUTS 32
#define INPUT_NAME_MAX 120
#define MAX_OUTS 16
#define MAX_SOURCES 16
#define N_TYPES 15     /* 1..14, and 0 for the others */
#define N_PROTOCOLS 8  /* 1..7, and 0 for none or others */
#define N_FAMILIES 3   /* 1, 2, and 0 */
#define N_RCODES 4096  /* 12 bits with EDNS */
#define N_QTYPES 65536 /* every type: 512 KiB, fixed */

/* Upper bounds of the latency buckets, in seconds and in nanoseconds. */
static const char *const bucket_text[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
					  "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10"};
static const uint64_t bucket_ns[] = {100000,     250000,     500000,     1000000,    2500000,   5000000,
				     10000000,   25000000,   50000000,   100000000,  250000000, 500000000,
				     1000000000, 2500000000, 5000000000, 10000000000};
#define N_BUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]))

struct input {
	char name[INPUT_NAME_MAX + 1];
	uint64_t n;
};

struct out {
	const struct dt_output *o;
	char *name;
	enum dt_stats_output_kind kind;
};

struct run {
	const char *ptr; /* it->input, or it->peer, of the items of the run; NULL: none */
	char name[DT__SKETCH_KEY_MAX + 1];
	size_t len;
	bool is_peer;
	uint64_t *input;  /* its input's counter */
	uint64_t pending; /* items of the run not yet in the peers sketch */
};

struct ident_run {
	uint8_t key[DT__SKETCH_KEY_MAX];
	size_t len;
	uint64_t hash;
	uint64_t pending; /* items of the run not yet in the identities sketch */
};

struct source {
	dt_stats_source_fn fn;
	void *arg;
};

struct dt_stats {
	struct dt_stats_options opt;
	uint64_t messages, bytes;
	uint64_t undecodable, no_message, no_dns, bad_dns;
	uint64_t types[N_TYPES], protocols[N_PROTOCOLS], families[N_FAMILIES];
	uint64_t *qtypes, *rcodes;
	struct input inputs[MAX_INPUTS];
	unsigned n_inputs;
	uint64_t inputs_other;
	struct dt__sketch qnames, nxdomain, servfail, clients, identities, peers;
	struct dt__pairs pairs;
	struct run run;
	struct ident_run ident;
	uint64_t buckets[N_BUCKETS + 1]; /* the last: above every bound */
	uint64_t lat_count;
	double lat_sum;

	const struct dt_pipeline *pipe;
	const struct dt_listener *listener;
	struct out outs[MAX_OUTS];
	unsigned n_outs;
	struct source sources[MAX_SOURCES];
	unsigned n_sources;
	struct timespec start, last;
	uint64_t last_messages, last_dropped;
};

/* ==== Counting ==== */

/* Where the item came from: its file, or the listening socket of its connection ("PATH: connection 3"
 * counts under PATH), so that the number of inputs stays that of the sockets, not of connections. NULL:
 * counted as other. */
static uint64_t *find_input(struct dt_stats *st, const struct dt_item *it)
{
	const char *name = it->input;
	size_t len;
	if (name != NULL) {
		len = strlen(name);
	} else if (it->peer != NULL) {
		name = it->peer;
		const char *cut = strstr(name, ": connection ");
		len = cut != NULL ? (size_t)(cut - name) : strlen(name);
	} else {
		name = "(api)";
		len = 5;
	}
	if (len > INPUT_NAME_MAX)
		len = INPUT_NAME_MAX;
	for (unsigned i = 0; i < st->n_inputs; i++)
		if (strncmp(st->inputs[i].name, name, len) == 0 && st->inputs[i].name[len] == '\0')
			return &st->inputs[i].n;
	if (st->n_inputs == MAX_INPUTS)
		return &st->inputs_other;
	struct input *in = &st->inputs[st->n_inputs++];
	memcpy(in->name, name, len);
	in->name[len] = '\0';
	in->n = 0;
	return &in->n;
}

/* The peers sketch gets a run's count at once, when the run ends or a report is made. */
static void end_identity_run(struct dt_stats *st);

static void end_run(struct dt_stats *st)
{
	end_identity_run(st);
	if (st->run.pending > 0 && st->run.is_peer)
		dt__sketch_add_n(&st->peers, (const uint8_t *)st->run.name, st->run.len, st->run.pending);
	st->run.pending = 0;
}

/* Items come in runs from one file or one connection: the origin of a run is matched by its pointer and
 * its bytes (a pointer alone could be a new connection's name where an old one's was), which spares the
 * lookups and a hash per item. */
static void count_origin(struct dt_stats *st, const struct dt_item *it)
{
	const char *o = it->input != NULL ? it->input : it->peer;
	struct run *r = &st->run;
	if (o != NULL && o == r->ptr && dt__stats_same(o, r->name, r->len) && o[r->len] == '\0') {
		(*r->input)++;
		r->pending++;
		return;
	}
	end_run(st);
	r->input = find_input(st, it);
	(*r->input)++;
	r->ptr = NULL;
	if (o == NULL) {
		return;
	}
	size_t n = strlen(o);
	if (n >= sizeof(r->name)) {
		/* too long to be a run: counted one by one */
		if (it->input == NULL)
			dt__sketch_add(&st->peers, (const uint8_t *)o, n);
		return;
	}
	memcpy(r->name, o, n + 1);
	r->len = n;
	r->ptr = o;
	r->is_peer = it->input == NULL;
	r->pending = 1;
}

/* Identities, like origins, come in runs (one sender's): the sketch gets a run's count at once. */
static void end_identity_run(struct dt_stats *st)
{
	struct ident_run *r = &st->ident;
	if (r->pending > 0)
		dt__sketch_add_hashed(&st->identities, r->key, r->len, r->hash, r->pending);
	r->pending = 0;
}

static void count_identity(struct dt_stats *st, struct dt_bytes id)
{
	struct ident_run *r = &st->ident;
	size_t n = id.len < DT__SKETCH_KEY_MAX ? id.len : DT__SKETCH_KEY_MAX;
	if (n == r->len && dt__stats_same(id.data, r->key, n)) {
		r->pending++;
		return;
	}
	end_identity_run(st);
	memcpy(r->key, id.data, n);
	r->len = n;
	r->hash = dt__stats_hash(r->key, n);
	r->pending = 1;
}

static uint64_t ns_of(uint64_t sec, uint32_t nsec)
{
	return sec * 1000000000ull + nsec;
}

static void observe(struct dt_stats *st, uint64_t ns)
{
	unsigned i = 0;
	while (i < N_BUCKETS && ns > bucket_ns[i])
		i++;
	st->buckets[i]++;
	st->lat_count++;
	st->lat_sum += (double)ns / 1e9;
}

/* Eight bytes of a name with A-Z turned to a-z, all at once: a byte gets 0x20 where its low seven bits
 * are in 'A'..'Z' and its top bit is clear. */
static inline uint64_t fold8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, top = 0x80 * ones;
	uint64_t low = w & 0x7f * ones;
	uint64_t ge_a = low + (0x80 - 'A') * ones, gt_z = low + (0x7f - 'Z') * ones;
	return w | (ge_a & ~gt_z & ~w & top) >> 2;
}

/* Folds the case of name[0:n) in place (names compare case-blind: 0x20 randomisation must not split a
 * name) and returns dt__stats_hash() of the result, in one pass. name[] has room for 8 bytes past n,
 * which are zeroed. */
static uint64_t fold_and_hash(uint8_t *name, size_t n)
{
	memset(name + n, 0, 8);
	uint64_t h = dt__stats_hash_init(n), w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, name + i, 8);
		w = fold8(w);
		memcpy(name + i, &w, 8);
		h = dt__stats_hash_step(h, w);
	}
	memcpy(&w, name + i, 8);
	w = fold8(w);
	memcpy(name + i, &w, 8);
	return dt__stats_hash_final(h, w);
}

/* An address of 0 to 16 octets as two zero-padded words. */
static inline void addr_words(struct dt_bytes a, size_t n, uint64_t w[2])
{
	if (n == 4) {
		uint32_t v;
		memcpy(&v, a.data, 4);
		w[0] = v;
		w[1] = 0;
	} else if (n == 16) {
		memcpy(w, a.data, 16);
	} else {
		uint8_t b[16] = {0};
		if (n > 0)
			memcpy(b, a.data, n);
		memcpy(w, b, 16);
	}
}

/* The transaction a query and its response share: the type pair, the addresses and ports, the ID and
 * the question (the name by its hash, made once for the sketches too). */
static uint64_t latency_key(const struct dt__stats_fields *f, const struct dt__dns_msg *d, uint64_t name_hash)
{
	size_t qa = f->has_query_address && f->query_address.len <= 16 ? f->query_address.len : 0;
	size_t ra = f->has_response_address && f->response_address.len <= 16 ? f->response_address.len : 0;
	uint64_t a[2], b[2];
	addr_words(f->query_address, qa, a);
	addr_words(f->response_address, ra, b);
	uint64_t w0 = (uint64_t)((f->type + 1) / 2 & 0xff) | (uint64_t)qa << 8 | (uint64_t)ra << 16 |
		      (uint64_t)d->hdr.id << 32 | (uint64_t)d->qtype << 48;
	uint64_t w1 = (uint64_t)(f->has_query_port ? f->query_port : 0) |
		      (uint64_t)(f->has_response_port ? f->response_port : 0) << 32;
	uint64_t h = dt__stats_hash_step(name_hash, w0);
	h = dt__stats_hash_step(h, w1);
	h = dt__stats_hash_step(h, a[0]);
	h = dt__stats_hash_step(h, a[1]);
	h = dt__stats_hash_step(h, b[0]);
	return dt__stats_hash_final(h, b[1]);
}

/* The DNS side of a message: its qtype, rcode, names and clients, and the latency pairing. */
static void count_dns(struct dt_stats *st, const struct dt__stats_fields *f, bool query)
{
	const struct dt_bytes *w = query ? &f->query_message : &f->response_message;
	bool has = query ? f->has_query_message : f->has_response_message;
	if (!has) {
		st->no_dns++;
		return;
	}
	/* the header and the question; a response's records too, for EDNS's rcode bits */
	struct dt__dns_msg d;
	uint8_t name[255 + 8];
	size_t name_len;
	if (dt__dns_parse_lax(&d, w->data, w->len, !query, name, &name_len) != NULL) {
		st->bad_dns++;
		return;
	}
	if (d.count[DT__DNS_QUESTION] == 0) {
		if (!query)
			st->rcodes[d.rcode & (N_RCODES - 1)]++;
		return;
	}
	st->qtypes[d.qtype]++;
	uint64_t nh = fold_and_hash(name, name_len);

	/* latency: the time is the message's own (so that a file read later gives the same histogram); the
	 * pair table's bucket is fetched while the sketches are counted */
	bool timed = query ? f->has_query_time_sec : f->has_response_time_sec;
	uint64_t k = 0;
	if (timed) {
		k = latency_key(f, &d, nh);
		__builtin_prefetch(dt__pairs_where(&st->pairs, k));
	}
	if (query) {
		dt__sketch_add_hashed(&st->qnames, name, name_len, nh, 1);
		if (f->has_query_address && (f->query_address.len == 4 || f->query_address.len == 16))
			dt__sketch_add_hashed(&st->clients, f->query_address.data, f->query_address.len,
					      dt__stats_hash_addr(f->query_address.data, f->query_address.len), 1);
	} else {
		st->rcodes[d.rcode & (N_RCODES - 1)]++;
		if (d.rcode == 3)
			dt__sketch_add_hashed(&st->nxdomain, name, name_len, nh, 1);
		else if (d.rcode == 2)
			dt__sketch_add_hashed(&st->servfail, name, name_len, nh, 1);
	}
	if (!timed)
		return;
	if (query) {
		dt__pairs_query(&st->pairs, k, ns_of(f->query_time_sec, f->query_time_nsec));
		return;
	}
	uint64_t qt, rt = ns_of(f->response_time_sec, f->response_time_nsec);
	if (dt__pairs_response(&st->pairs, k, &qt))
		observe(st, rt >= qt ? rt - qt : 0);
}

static enum dt_verdict process(void *state, struct dt_item *it)
{
	struct dt_stats *st = state;
	st->messages++;
	st->bytes += it->len;
	count_origin(st, it);
	struct dt__stats_fields f;
	if (dt__item_fields(it, NULL, &f) != DT_OK) {
		st->undecodable++;
		return DT_KEEP;
	}
	if (f.identity.len > 0)
		count_identity(st, f.identity);
	if (!f.has_message) {
		st->no_message++;
		return DT_KEEP;
	}
	st->types[f.type >= 1 && f.type <= 14 ? f.type : 0]++;
	st->protocols[f.has_socket_protocol && f.socket_protocol >= 1 && f.socket_protocol <= 7 ? f.socket_protocol
												: 0]++;
	st->families[f.has_socket_family && f.socket_family >= 1 && f.socket_family <= 2 ? f.socket_family : 0]++;
	if (f.type >= 1 && f.type <= 14)
		count_dns(st, &f, f.type % 2 == 1);
	return DT_KEEP;
}

static void stage_free(void *state)
{
	dt_stats_free(state);
}

const struct dt_stage_ops dt_stats_stage = {
	.name = "stats",
	.process = process,
	.free = stage_free,
};

void dt_stats_options_init(struct dt_stats_options *opt)
{
	opt->top = 10;
	opt->latency_slots = 65536;
	opt->latency_timeout_ms = 10000;
}

struct dt_stats *dt_stats_new(const struct dt_stats_options *opt, dt_res *res)
{
	struct dt_stats_options o;
	dt_stats_options_init(&o);
	if (opt != NULL)
		o = *opt;
	if (o.top == 0 || o.top > 1000 || o.latency_slots == 0 || o.latency_slots > (1u << 24)) {
		*res = DT_ERR_INVALID;
		return NULL;
	}
	struct dt_stats *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	st->opt = o;
	unsigned cap = o.top * DT_STATS_SKETCH_FACTOR;
	st->qtypes = calloc(N_QTYPES, sizeof(*st->qtypes));
	st->rcodes = calloc(N_RCODES, sizeof(*st->rcodes));
	bool ok = st->qtypes != NULL && st->rcodes != NULL && dt__sketch_init(&st->qnames, cap) &&
		  dt__sketch_init(&st->nxdomain, cap) && dt__sketch_init(&st->servfail, cap) &&
		  dt__sketch_init(&st->clients, cap) && dt__sketch_init(&st->identities, cap) &&
		  dt__sketch_init(&st->peers, cap) &&
		  dt__pairs_init(&st->pairs, o.latency_slots, (uint64_t)o.latency_timeout_ms * 1000000);
	if (!ok) {
		dt_stats_free(st);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &st->start);
	st->last = st->start;
	*res = DT_OK;
	return st;
}

void dt_stats_free(struct dt_stats *st)
{
	if (st == NULL)
		return;
	free(st->qtypes);
	free(st->rcodes);
	dt__sketch_free(&st->qnames);
	dt__sketch_free(&st->nxdomain);
	dt__sketch_free(&st->servfail);
	dt__sketch_free(&st->clients);
	dt__sketch_free(&st->identities);
	dt__sketch_free(&st->peers);
	dt__pairs_free(&st->pairs);
	for (unsigned i = 0; i < st->n_outs; i++)
		free(st->outs[i].name);
	free(st);
}

void dt_stats_set_pipeline(struct dt_stats *st, const struct dt_pipeline *p)
{
	st->pipe = p;
}

void dt_stats_set_listener(struct dt_stats *st, const struct dt_listener *l)
{
	st->listener = l;
}

dt_res dt_stats_add_output(struct dt_stats *st, const struct dt_output *o, const char *name,
			   enum dt_stats_output_kind kind)
{
	char *copy = strdup(name != NULL ? name : dt_output_name(o));
	if (st->n_outs == MAX_OUTS || copy == NULL) {
		free(copy);
		return DT_ERR_NOMEM;
	}
	st->outs[st->n_outs++] = (struct out){o, copy, kind};
	return DT_OK;
}

dt_res dt_stats_add_source(struct dt_stats *st, dt_stats_source_fn fn, void *arg)
{
	if (st->n_sources == MAX_SOURCES)
		return DT_ERR_NOMEM;
	st->sources[st->n_sources++] = (struct source){fn, arg};
	return DT_OK;
}

/* ==== The metrics writer ==== */

void dt__prom_escape(struct dt_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			dt__buf_lit(b, "\\\\");
		else if (*s == '"')
			dt__buf_lit(b, "\\\"");
		else if (*s == '\n')
			dt__buf_lit(b, "\\n");
		else
			dt__buf_putc(b, *s);
	}
}

void dt__json_escape(struct dt_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dt__buf_putc(b, '\\');
			dt__buf_putc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			dt__buf_put(b, e, 6);
		} else {
			dt__buf_putc(b, (char)c);
		}
	}
}

static const char *type_text(enum dt_metric_type t)
{
	return t == DT_METRIC_COUNTER ? "counter" : t == DT_METRIC_GAUGE ? "gauge" : "histogram";
}

static void json_close_family(struct dt_metrics_writer *w)
{
	if (w->family != NULL)
		dt__buf_lit(w->out, "]}");
}

void dt_metrics_family(struct dt_metrics_writer *w, const char *name, enum dt_metric_type type, const char *help)
{
	struct dt_buf *b = w->out;
	if (w->mode == DT__METRICS_PROMETHEUS) {
		dt__buf_lit(b, "# HELP ");
		dt__buf_puts(b, name);
		dt__buf_putc(b, ' ');
		/* help text: backslash and newline escaped */
		for (const char *p = help; *p != '\0'; p++) {
			if (*p == '\\')
				dt__buf_lit(b, "\\\\");
			else if (*p == '\n')
				dt__buf_lit(b, "\\n");
			else
				dt__buf_putc(b, *p);
		}
		dt__buf_lit(b, "\n# TYPE ");
		dt__buf_puts(b, name);
		dt__buf_putc(b, ' ');
		dt__buf_puts(b, type_text(type));
		dt__buf_putc(b, '\n');
	} else {
		json_close_family(w);
		if (w->any_family)
			dt__buf_putc(b, ',');
		dt__buf_putc(b, '"');
		dt__json_escape(b, name);
		dt__buf_lit(b, "\":{\"type\":\"");
		dt__buf_puts(b, type_text(type));
		dt__buf_lit(b, "\",\"help\":\"");
		dt__json_escape(b, help);
		dt__buf_lit(b, "\",\"samples\":[");
		w->any_family = true;
		w->sample_open = false;
	}
	w->family = name;
}

static void sample_head(struct dt_metrics_writer *w, const char *suffix, const struct dt_label *labels, size_t n)
{
	struct dt_buf *b = w->out;
	if (w->mode == DT__METRICS_PROMETHEUS) {
		dt__buf_puts(b, w->family);
		if (suffix != NULL)
			dt__buf_puts(b, suffix);
		if (n > 0) {
			dt__buf_putc(b, '{');
			for (size_t i = 0; i < n; i++) {
				if (i > 0)
					dt__buf_putc(b, ',');
				dt__buf_puts(b, labels[i].name);
				dt__buf_lit(b, "=\"");
				dt__prom_escape(b, labels[i].value);
				dt__buf_putc(b, '"');
			}
			dt__buf_putc(b, '}');
		}
		dt__buf_putc(b, ' ');
		return;
	}
	if (w->sample_open)
		dt__buf_putc(b, ',');
	w->sample_open = true;
	dt__buf_putc(b, '{');
	if (suffix != NULL) {
		dt__buf_lit(b, "\"name\":\"");
		dt__json_escape(b, w->family);
		dt__json_escape(b, suffix);
		dt__buf_lit(b, "\",");
	}
	dt__buf_lit(b, "\"labels\":{");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			dt__buf_putc(b, ',');
		dt__buf_putc(b, '"');
		dt__json_escape(b, labels[i].name);
		dt__buf_lit(b, "\":\"");
		dt__json_escape(b, labels[i].value);
		dt__buf_putc(b, '"');
	}
	dt__buf_lit(b, "},\"value\":");
}

void dt_metrics_sample(struct dt_metrics_writer *w, const char *suffix, const struct dt_label *labels, size_t n,
		       uint64_t value)
{
	if (w->family == NULL)
		return;
	sample_head(w, suffix, labels, n);
	dt__buf_put_u64(w->out, value);
	dt__buf_putc(w->out, w->mode == DT__METRICS_PROMETHEUS ? '\n' : '}');
}

void dt_metrics_sample_double(struct dt_metrics_writer *w, const char *suffix, const struct dt_label *labels, size_t n,
			      double value)
{
	if (w->family == NULL)
		return;
	char num[40];
	if (isnan(value) || isinf(value))
		snprintf(num, sizeof(num), "%s",
			 w->mode == DT__METRICS_JSON ? "null"
			 : isnan(value)              ? "NaN"
			 : value > 0                 ? "+Inf"
						     : "-Inf");
	else
		snprintf(num, sizeof(num), "%.9g", value);
	sample_head(w, suffix, labels, n);
	dt__buf_puts(w->out, num);
	dt__buf_putc(w->out, w->mode == DT__METRICS_PROMETHEUS ? '\n' : '}');
}

/* ==== What the reports say ==== */

static void one(struct dt_metrics_writer *w, const char *name, enum dt_metric_type t, const char *help, uint64_t v)
{
	dt_metrics_family(w, name, t, help);
	dt_metrics_sample(w, NULL, NULL, 0, v);
}

static void labelled(struct dt_metrics_writer *w, const char *label, const char *value, uint64_t v)
{
	struct dt_label l = {label, value};
	dt_metrics_sample(w, NULL, &l, 1, v);
}

static const char *rcode_name(unsigned r, char *buf, size_t size)
{
	static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",   "REFUSED",
					    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",  "RCODE11",
					    "RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "BADSIG",   "BADKEY",
					    "BADTIME",  "BADMODE", "BADNAME",  "BADALG",   "BADTRUNC", "BADCOOKIE"};
	if (r < sizeof(names) / sizeof(names[0]))
		return names[r];
	snprintf(buf, size, "RCODE%u", r);
	return buf;
}

static const char *qtype_name(unsigned t, char *buf, size_t size)
{
	const struct dt__rrtype *row = dt__rrtype((uint16_t)t);
	if (row->name_len > 0)
		return row->name;
	snprintf(buf, size, "TYPE%u", t);
	return buf;
}

/* A sketch entry's key as text: a name in presentation form, an address, or the bytes as they are
 * (identities and peers, with control bytes left to the escaping of each format). */
enum key_kind { KEY_NAME, KEY_ADDR, KEY_TEXT };

static void key_text(const struct dt__sketch_entry *e, enum key_kind kind, char *out, size_t size)
{
	if (kind == KEY_ADDR) {
		if (inet_ntop(e->len == 4 ? AF_INET : AF_INET6, e->key, out, (socklen_t)size) == NULL)
			snprintf(out, size, "?");
		return;
	}
	if (kind == KEY_NAME) {
		struct dt_buf b = {0};
		const char *err;
		if (dt__dns_name_text(&b, e->key, e->len, &err) == 0 && !b.failed)
			snprintf(out, size, "%.*s", (int)b.len, b.data);
		else
			snprintf(out, size, "?");
		dt__buf_free(&b);
		return;
	}
	size_t n = e->len < size - 1 ? e->len : size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = e->key[i] == '\0' ? '?' : (char)e->key[i];
	out[n] = '\0';
}

static void top_family(struct dt_stats *st, struct dt_metrics_writer *w, const char *name, const char *help,
		       const struct dt__sketch *s, const char *label, enum key_kind kind)
{
	const struct dt__sketch_entry *top[1000];
	unsigned n = dt__sketch_top(s, top, st->opt.top);
	dt_metrics_family(w, name, DT_METRIC_GAUGE, help);
	for (unsigned i = 0; i < n; i++) {
		char text[1100];
		key_text(top[i], kind, text, sizeof(text));
		labelled(w, label, text, top[i]->count);
	}
}

struct drops {
	uint64_t queue_full, output_error, relay, kafka, stages, total;
};

/* The drops, each item under one reason: stages (by name), full queues (refused at once by a relay or
 * Kafka), a failed output, and what a relay or Kafka accepted and could then not deliver. */
static void count_drops(const struct dt_stats *st, struct drops *d, struct dt_pipeline_stats *ps)
{
	memset(d, 0, sizeof(*d));
	memset(ps, 0, sizeof(*ps));
	if (st->pipe != NULL) {
		dt_pipeline_get_stats(st->pipe, ps);
		for (unsigned i = 0; i < ps->stages; i++)
			d->stages += ps->dropped[i];
		d->queue_full = ps->queue_full;
		d->output_error = ps->lost;
	}
	uint64_t kafka_refused = 0, relay_dropped = 0;
	for (unsigned i = 0; i < st->n_outs; i++) {
		struct dt_output_stats os;
		if (dt_output_stats(st->outs[i].o, &os) != DT_OK)
			continue;
		if (st->outs[i].kind == DT_STATS_OUTPUT_KAFKA) {
			struct dt_kafka_stats ks;
			if (dt_output_kafka_stats(st->outs[i].o, &ks) == DT_OK) {
				kafka_refused += ks.dropped_full + ks.dropped_other;
				d->kafka += ks.failed + ks.undelivered;
			}
		} else if (st->outs[i].kind == DT_STATS_OUTPUT_RELAY) {
			relay_dropped += os.dropped;
		}
	}
	/* the pipeline counts every refusal of a full queue; what the relay dropped beyond its own
	 * refusals was lost on the way (a collector gone, a connection cut) */
	uint64_t relay_refused = d->queue_full > kafka_refused ? d->queue_full - kafka_refused : 0;
	d->relay = relay_dropped > relay_refused ? relay_dropped - relay_refused : 0;
	d->total = d->stages + d->queue_full + d->output_error + d->relay + d->kafka;
}

static void write_all(struct dt_stats *st, struct dt_metrics_writer *w)
{
	end_run(st);
	char buf[32];
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double up = (double)(now.tv_sec - st->start.tv_sec) + (double)(now.tv_nsec - st->start.tv_nsec) / 1e9;
	dt_metrics_family(w, "dnstap_uptime_seconds", DT_METRIC_GAUGE, "Seconds since the statistics began.");
	dt_metrics_sample_double(w, NULL, NULL, 0, up);

	one(w, "dnstap_messages_total", DT_METRIC_COUNTER, "Messages (data frames) that arrived.", st->messages);
	one(w, "dnstap_bytes_total", DT_METRIC_COUNTER, "Payload bytes of the messages that arrived.", st->bytes);

	dt_metrics_family(w, "dnstap_input_messages_total", DT_METRIC_COUNTER,
			  "Messages by input: the file, or the listening socket.");
	for (unsigned i = 0; i < st->n_inputs; i++)
		labelled(w, "input", st->inputs[i].name, st->inputs[i].n);
	if (st->inputs_other > 0)
		labelled(w, "input", "(other)", st->inputs_other);

	dt_metrics_family(w, "dnstap_message_types_total", DT_METRIC_COUNTER, "Messages by dnstap message type.");
	for (int t = 1; t <= 14; t++)
		if (st->types[t] > 0)
			labelled(w, "type", dt_message_type_name(t), st->types[t]);
	if (st->types[0] > 0)
		labelled(w, "type", "OTHER", st->types[0]);

	dt_metrics_family(w, "dnstap_protocols_total", DT_METRIC_COUNTER, "Messages by socket protocol.");
	for (int p = 1; p < N_PROTOCOLS; p++)
		if (st->protocols[p] > 0)
			labelled(w, "protocol", dt_socket_protocol_name(p), st->protocols[p]);
	if (st->protocols[0] > 0)
		labelled(w, "protocol", "NONE", st->protocols[0]);

	dt_metrics_family(w, "dnstap_families_total", DT_METRIC_COUNTER, "Messages by socket family.");
	for (int f = 1; f < N_FAMILIES; f++)
		if (st->families[f] > 0)
			labelled(w, "family", dt_socket_family_name(f), st->families[f]);
	if (st->families[0] > 0)
		labelled(w, "family", "NONE", st->families[0]);

	dt_metrics_family(w, "dnstap_qtypes_total", DT_METRIC_COUNTER,
			  "Messages by the type of their question (the query of a query, the response of a response).");
	for (unsigned t = 0; t < N_QTYPES; t++)
		if (st->qtypes[t] > 0)
			labelled(w, "qtype", qtype_name(t, buf, sizeof(buf)), st->qtypes[t]);

	dt_metrics_family(w, "dnstap_rcodes_total", DT_METRIC_COUNTER, "Responses by rcode (with EDNS's bits).");
	for (unsigned r = 0; r < N_RCODES; r++)
		if (st->rcodes[r] > 0)
			labelled(w, "rcode", rcode_name(r, buf, sizeof(buf)), st->rcodes[r]);

	dt_metrics_family(w, "dnstap_decode_errors_total", DT_METRIC_COUNTER,
			  "Messages not counted in full: payload not dnstap, no message, no DNS message, DNS message "
			  "that does not parse.");
	labelled(w, "what", "payload", st->undecodable);
	labelled(w, "what", "no_message", st->no_message);
	labelled(w, "what", "no_dns", st->no_dns);
	labelled(w, "what", "dns", st->bad_dns);

	/* latency */
	dt_metrics_family(w, "dnstap_latency_seconds", DT_METRIC_HISTOGRAM,
			  "Response time: a response's time minus its query's, for responses whose query was seen.");
	uint64_t cum = 0;
	for (unsigned i = 0; i < N_BUCKETS; i++) {
		cum += st->buckets[i];
		struct dt_label l = {"le", bucket_text[i]};
		dt_metrics_sample(w, "_bucket", &l, 1, cum);
	}
	struct dt_label inf = {"le", "+Inf"};
	dt_metrics_sample(w, "_bucket", &inf, 1, st->lat_count);
	dt_metrics_sample_double(w, "_sum", NULL, 0, st->lat_sum);
	dt_metrics_sample(w, "_count", NULL, 0, st->lat_count);
	one(w, "dnstap_latency_unmatched_total", DT_METRIC_COUNTER,
	    "Responses whose query was not (or no longer) held.", st->pairs.unmatched);
	one(w, "dnstap_latency_overflow_total", DT_METRIC_COUNTER,
	    "Queries not held for pairing: their slot bucket was full (--latency-slots).", st->pairs.overflow);
	one(w, "dnstap_latency_expired_total", DT_METRIC_COUNTER,
	    "Queries that gave up their slot unanswered after the timeout.", st->pairs.expired);
	one(w, "dnstap_latency_pending", DT_METRIC_GAUGE, "Queries held now, waiting for a response.",
	    st->pairs.pending);

	/* top lists */
	top_family(st, w, "dnstap_top_qnames", "Most queried names (space-saving estimate: an upper bound).",
		   &st->qnames, "qname", KEY_NAME);
	top_family(st, w, "dnstap_top_nxdomain_qnames", "Names answered NXDOMAIN most (upper bound).", &st->nxdomain,
		   "qname", KEY_NAME);
	top_family(st, w, "dnstap_top_servfail_qnames", "Names answered SERVFAIL most (upper bound).", &st->servfail,
		   "qname", KEY_NAME);
	top_family(st, w, "dnstap_top_clients", "Query addresses of the most queries (upper bound).", &st->clients,
		   "client", KEY_ADDR);
	top_family(st, w, "dnstap_top_identities", "Dnstap identities of the most messages (upper bound).",
		   &st->identities, "identity", KEY_TEXT);
	top_family(st, w, "dnstap_top_peers", "Sender connections of the most messages (upper bound).", &st->peers,
		   "peer", KEY_TEXT);

	/* drops, and the other components */
	struct drops d;
	struct dt_pipeline_stats ps;
	count_drops(st, &d, &ps);
	dt_metrics_family(
		w, "dnstap_dropped_total", DT_METRIC_COUNTER,
		"Messages that did not reach an output, by reason (each message under one reason per output).");
	if (st->pipe != NULL) {
		for (unsigned i = 0; i < ps.stages; i++) {
			const char *name = dt_pipeline_stage_name(st->pipe, i);
			if (name != NULL && strcmp(name, "stats") != 0)
				labelled(w, "reason", name, ps.dropped[i]);
		}
	}
	labelled(w, "reason", "queue_full", d.queue_full);
	labelled(w, "reason", "output_error", d.output_error);
	labelled(w, "reason", "relay", d.relay);
	labelled(w, "reason", "kafka", d.kafka);
	one(w, "dnstap_unformatted_total", DT_METRIC_COUNTER,
	    "Messages an output could not format (undecodable payload, no message).", ps.unformatted);

	if (st->listener != NULL) {
		struct dt_listener_stats ls;
		dt_listener_get_stats(st->listener, &ls);
		one(w, "dnstap_connections_open", DT_METRIC_GAUGE, "Sender connections open now.", ls.open);
		one(w, "dnstap_connections_total", DT_METRIC_COUNTER, "Sender connections accepted.", ls.connections);
		one(w, "dnstap_connections_refused_total", DT_METRIC_COUNTER,
		    "Connections refused at accept: not in the --allow ranges.", ls.refused);
		dt_metrics_family(w, "dnstap_connections_closed_total", DT_METRIC_COUNTER,
				  "Connections closed because the sender misbehaved, by reason.");
		uint64_t known = ls.handshake_timeouts + ls.handshake_errors + ls.bad_control + ls.cut;
		labelled(w, "reason", "handshake_timeout", ls.handshake_timeouts);
		labelled(w, "reason", "handshake_error", ls.handshake_errors);
		labelled(w, "reason", "bad_control", ls.bad_control);
		labelled(w, "reason", "cut", ls.cut);
		labelled(w, "reason", "other", ls.rejected > known ? ls.rejected - known : 0);
		one(w, "dnstap_frames_received_total", DT_METRIC_COUNTER, "Data frames received by the listener.",
		    ls.frames);
		dt_metrics_family(w, "dnstap_frames_skipped_total", DT_METRIC_COUNTER,
				  "Data frames received and not passed on, by reason.");
		labelled(w, "reason", "oversize", ls.skipped);
	}

	for (unsigned pass = 0; pass < 5 && st->n_outs > 0; pass++) {
		static const char *const names[] = {"dnstap_output_written_total", "dnstap_output_dropped_total",
						    "dnstap_output_queued", "dnstap_output_connected",
						    "dnstap_output_skipped_total"};
		static const char *const helps[] = {
			"Messages an output handed on whole (to the kernel, on an established connection).",
			"Messages an output will never deliver (its queue full, connection lost, at close).",
			"Messages waiting in an output's queue now.",
			"Whether a relay or Kafka output is connected (1) or not (0).",
			"Messages an output had nothing to write for (pcap: no DNS message)."};
		dt_metrics_family(w, names[pass], pass == 2 || pass == 3 ? DT_METRIC_GAUGE : DT_METRIC_COUNTER,
				  helps[pass]);
		for (unsigned i = 0; i < st->n_outs; i++) {
			struct dt_output_stats os;
			if (dt_output_stats(st->outs[i].o, &os) != DT_OK)
				continue;
			uint64_t v[] = {os.written, os.dropped, os.queued, os.connected, os.skipped};
			if (pass == 3 && st->outs[i].kind == DT_STATS_OUTPUT_FILE)
				continue;
			labelled(w, "output", st->outs[i].name, v[pass]);
		}
	}

	for (unsigned i = 0; i < st->n_sources; i++)
		st->sources[i].fn(st->sources[i].arg, w);
}

static dt_res render(struct dt_stats *st, struct dt_buf *out, enum dt__metrics_mode mode)
{
	struct dt_metrics_writer w = {out, mode, NULL, false, false};
	if (mode == DT__METRICS_JSON)
		dt__buf_lit(out, "{\"version\":\"" PACKAGE_VERSION "\",\"top\":");
	if (mode == DT__METRICS_JSON) {
		dt__buf_put_u64(out, st->opt.top);
		dt__buf_lit(out, ",\"metrics\":{");
	}
	write_all(st, &w);
	if (mode == DT__METRICS_JSON) {
		json_close_family(&w);
		dt__buf_lit(out, "}}\n");
	}
	return out->failed ? DT_ERR_NOMEM : DT_OK;
}

dt_res dt_stats_prometheus(struct dt_stats *st, struct dt_buf *out)
{
	return render(st, out, DT__METRICS_PROMETHEUS);
}

dt_res dt_stats_json(struct dt_stats *st, struct dt_buf *out)
{
	return render(st, out, DT__METRICS_JSON);
}

/* ==== The text report ==== */

static void printf_buf(struct dt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void printf_buf(struct dt_buf *b, const char *fmt, ...)
{
	char line[1400];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		dt__buf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* A table of the nonzero rows of counts[0:n), largest first, at most limit rows. */
static void table(struct dt_buf *b, const char *title, const uint64_t *counts, unsigned n, unsigned limit,
		  const char *(*name)(unsigned i, char *buf, size_t size))
{
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++)
		total += counts[i];
	printf_buf(b, "\n%-28s %12s %7s\n", title, "count", "%");
	if (total == 0) {
		printf_buf(b, "  %-26s\n", "(none)");
		return;
	}
	/* repeated selection of the largest: limit is small, n at most 65536, and this is a report */
	uint64_t prev = UINT64_MAX;
	unsigned prev_i = 0, shown = 0;
	while (shown < limit) {
		unsigned best = n;
		for (unsigned i = 0; i < n; i++) {
			if (counts[i] == 0)
				continue;
			bool after = counts[i] < prev || (counts[i] == prev && i > prev_i);
			if (after && (best == n || counts[i] > counts[best]))
				best = i;
		}
		if (best == n)
			break;
		char buf[32];
		printf_buf(b, "  %-26s %12llu %6.2f%%\n", name(best, buf, sizeof(buf)),
			   (unsigned long long)counts[best], pct(counts[best], total));
		prev = counts[best];
		prev_i = best;
		shown++;
	}
}

static const char *type_row(unsigned i, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	return i == 0 ? "OTHER" : dt_message_type_name((int)i);
}

static const char *protocol_row(unsigned i, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	return i == 0 ? "NONE" : dt_socket_protocol_name((int)i);
}

static const char *family_row(unsigned i, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	return i == 0 ? "NONE" : dt_socket_family_name((int)i);
}

static const char *qtype_row(unsigned i, char *buf, size_t size)
{
	return qtype_name(i, buf, size);
}

static const char *rcode_row(unsigned i, char *buf, size_t size)
{
	return rcode_name(i, buf, size);
}

static void top_table(struct dt_stats *st, struct dt_buf *b, const char *title, const struct dt__sketch *s,
		      enum key_kind kind)
{
	const struct dt__sketch_entry *top[1000];
	unsigned n = dt__sketch_top(s, top, st->opt.top);
	printf_buf(b, "\n%-52s %12s %7s\n", title, "count", "%");
	if (n == 0)
		printf_buf(b, "  %-50s\n", "(none)");
	for (unsigned i = 0; i < n; i++) {
		char text[1100];
		key_text(top[i], kind, text, sizeof(text));
		printf_buf(b, "  %-50s %12llu %6.2f%%%s\n", text, (unsigned long long)top[i]->count,
			   pct(top[i]->count, s->total), top[i]->error > 0 ? " ~" : "");
	}
}

/* The latency at quantile q, from the buckets: the upper bound of the bucket it falls in. */
static const char *quantile(const struct dt_stats *st, double q)
{
	if (st->lat_count == 0)
		return "-";
	uint64_t want = (uint64_t)ceil(q * (double)st->lat_count), cum = 0;
	for (unsigned i = 0; i < N_BUCKETS; i++) {
		cum += st->buckets[i];
		if (cum >= want)
			return bucket_text[i];
	}
	return "+Inf";
}

dt_res dt_stats_report(struct dt_stats *st, struct dt_buf *b)
{
	end_run(st);
	struct drops d;
	struct dt_pipeline_stats ps;
	count_drops(st, &d, &ps);
	printf_buf(b, "%-28s %12llu\n", "messages", (unsigned long long)st->messages);
	printf_buf(b, "%-28s %12llu\n", "bytes", (unsigned long long)st->bytes);
	printf_buf(b, "%-28s %12llu\n", "dropped", (unsigned long long)d.total);
	printf_buf(b, "%-28s %12llu\n", "undecodable payloads", (unsigned long long)st->undecodable);
	printf_buf(b, "%-28s %12llu\n", "unparsable DNS messages", (unsigned long long)st->bad_dns);
	printf_buf(b, "\n%-28s %12s\n", "input", "count");
	for (unsigned i = 0; i < st->n_inputs; i++)
		printf_buf(b, "  %-26s %12llu\n", st->inputs[i].name, (unsigned long long)st->inputs[i].n);
	table(b, "message type", st->types, N_TYPES, N_TYPES, type_row);
	table(b, "protocol", st->protocols, N_PROTOCOLS, N_PROTOCOLS, protocol_row);
	table(b, "family", st->families, N_FAMILIES, N_FAMILIES, family_row);
	table(b, "qtype", st->qtypes, N_QTYPES, 20, qtype_row);
	table(b, "rcode", st->rcodes, N_RCODES, 20, rcode_row);
	top_table(st, b, "top qnames", &st->qnames, KEY_NAME);
	top_table(st, b, "top NXDOMAIN qnames", &st->nxdomain, KEY_NAME);
	top_table(st, b, "top SERVFAIL qnames", &st->servfail, KEY_NAME);
	top_table(st, b, "top clients", &st->clients, KEY_ADDR);
	printf_buf(b, "\n%-28s %12llu\n", "latency: pairs", (unsigned long long)st->lat_count);
	if (st->lat_count > 0)
		printf_buf(b, "  %-26s %12.6f\n  %-26s %12s\n  %-26s %12s\n  %-26s %12s\n", "mean (s)",
			   st->lat_sum / (double)st->lat_count, "p50 at most (s)", quantile(st, 0.5), "p90 at most (s)",
			   quantile(st, 0.9), "p99 at most (s)", quantile(st, 0.99));
	printf_buf(b, "  %-26s %12llu\n", "unmatched responses", (unsigned long long)st->pairs.unmatched);
	return b->failed ? DT_ERR_NOMEM : DT_OK;
}

dt_res dt_stats_summary_line(struct dt_stats *st, struct dt_buf *b)
{
	struct drops d;
	struct dt_pipeline_stats ps;
	count_drops(st, &d, &ps);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - st->last.tv_sec) + (double)(now.tv_nsec - st->last.tv_nsec) / 1e9;
	uint64_t n = st->messages - st->last_messages, dropped = d.total - st->last_dropped;
	printf_buf(
		b,
		"stats: %.0fs: %llu messages (%.1f/s), %llu dropped (%llu in all: queue full %llu, output error %llu, relay %llu, kafka %llu, stages %llu); %llu in all",
		secs, (unsigned long long)n, secs > 0 ? (double)n / secs : 0.0, (unsigned long long)dropped,
		(unsigned long long)d.total, (unsigned long long)d.queue_full, (unsigned long long)d.output_error,
		(unsigned long long)d.relay, (unsigned long long)d.kafka, (unsigned long long)d.stages,
		(unsigned long long)st->messages);
	st->last = now;
	st->last_messages = st->messages;
	st->last_dropped = d.total;
	return b->failed ? DT_ERR_NOMEM : DT_OK;
}
