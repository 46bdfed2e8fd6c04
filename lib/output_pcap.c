/* PCAP output: each DNS wire message a dnstap message carries becomes one packet, so that Wireshark,
 * tshark, dnscap, PacketQ and replay tools can read dnstap. The file is written by libpcap's own dump
 * API (pcap_open_dead(), pcap_dump()): only the packets' headers are made here.
 *
 * What a packet is:
 * - the addresses and ports are the message's; the query goes from the query address (the initiator)
 *   to the response address, the response back, so the direction follows the message type;
 * - UDP, DNSCrypt over UDP and DoQ are UDP datagrams; TCP, DoT, DoH and DNSCrypt over TCP are TCP
 *   segments that carry the two-byte length and the message, with sequence numbers that follow on per
 *   flow (and acknowledgements per the flow back), so that stream reassembly sees a stream. Every kind
 *   keeps its real ports: DoT on 853 is shown as DNS over TCP on 853 (Wireshark's "Decode As" DNS);
 * - the time is the query time for a query message, the response time for a response (the other one
 *   when that is missing);
 * - IPv4 headers get their checksum, and UDP and TCP their checksums over the pseudo-header;
 * - a message without a wire message (a server that logs no wire bytes) writes nothing and is counted
 *   as skipped; so is one whose addresses are malformed or whose message is too large for a packet. */
#include "output.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#if defined(__has_include)
#if __has_include(<stdio_ext.h>)
#include <stdio_ext.h> /* __fsetlocking() */
#define HAVE_FSETLOCKING 1
#endif
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ETH_LEN 14
#define IP4_LEN 20
#define IP6_LEN 40
#define UDP_LEN 8
#define TCP_LEN 20
#define MAX_WIRE 65535
#define SNAPLEN (ETH_LEN + IP6_LEN + TCP_LEN + 2 + MAX_WIRE)
#define FLOWS 4096 /* TCP flows whose sequence numbers are remembered; more share slots */
#define PAIRS 1024 /* TCP connections whose flows' hashes are remembered */
#define FILE_BUFFER (1024 * 1024)
#define KEY_WORDS 5 /* a flow's key, 37 bytes, zero-padded to 40 */

/* A flow's key: its family (the address length), addresses and ports of one direction. */
union key {
	uint8_t b[KEY_WORDS * 8];
	uint64_t w[KEY_WORDS];
};

struct flow {
	union key key;
	uint32_t next_seq;
	bool used;
};

/* The FNV hashes of both directions of a connection, by the key of one: they place the flows and seed
 * their sequence numbers, and cost more than the rest of a packet to compute byte by byte. */
struct pair {
	union key key;
	uint32_t h, back;
	bool used;
};

struct pcap_output {
	struct dt_output base;
	char *name;
	bool ethernet;
	pcap_t *pcap;
	pcap_dumper_t *dump;
	FILE *fp;
	char *fbuf;
	struct dt_decoder *decoder;
	dt_res error;
	int error_errno;
	uint64_t items, packets, skipped;
	struct flow *flows;
	struct pair *pairs;
	uint8_t pkt[2 + SNAPLEN] __attribute__((aligned(8))); /* see packet() */
};

/* ==== Checksums ==== */

/* The Internet checksum (RFC 1071) is summed in the machine's byte order, 8 bytes at a time with the
 * carry added back: a one's complement sum of byte-swapped words is the byte-swapped sum, and 2^64 - 1
 * is a multiple of 2^16 - 1, so the folded result is stored as it is and lands in network order.
 *
 * Nothing is summed from the packet buffer just written: a wide load over several narrower stores that
 * have not yet left the CPU waits for them (a failed store-to-load forwarding), which cost more than
 * the rest of a packet. The headers' words are summed from their values, the message and the
 * addresses from where they come from. Every range summed starts at an even offset of its header. */
static inline uint64_t add(uint64_t s, uint64_t w)
{
	s += w;
	return s + (s < w);
}

/* p[0:n), which may end anywhere: nothing past it is read. The last 1 to 7 bytes are taken from a load
 * of the last 8 (from registers, not through a store: see above) when there are 8 at all. */
static inline uint64_t sum(uint64_t s, const uint8_t *p, size_t n)
{
	const size_t total = n;
	uint64_t w, v;
	for (; n >= 16; p += 16, n -= 16) {
		memcpy(&w, p, 8);
		memcpy(&v, p + 8, 8);
		s = add(add(s, w), v);
	}
	if (n >= 8) {
		memcpy(&w, p, 8);
		s = add(s, w);
		p += 8, n -= 8;
	}
	if (n == 0)
		return s;
	/* an odd last byte is the high byte of a word padded with zero */
	if (total >= 8) {
		memcpy(&w, p + n - 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		w >>= 8 * (8 - n);
#else
		w <<= 8 * (8 - n);
#endif
	} else {
		w = 0;
		for (size_t i = 0; i < n; i++)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			w |= (uint64_t)p[i] << (8 * i);
#else
			w |= (uint64_t)p[i] << (56 - 8 * i);
#endif
	}
	return add(s, w);
}

/* An address of 4 or 16 bytes. */
static inline uint64_t addr_sum(const uint8_t *a, size_t alen)
{
	if (alen == 4) {
		uint32_t v;
		memcpy(&v, a, 4);
		return v;
	}
	uint64_t w, v;
	memcpy(&w, a, 8);
	memcpy(&v, a + 8, 8);
	return add(w, v);
}

/* A 16-bit value of a header, as sum() would read its network-order bytes. */
static uint64_t word(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (v >> 8 & 0xff) | (v & 0xff) << 8;
#else
	return v & 0xffff;
#endif
}

/* The sum folded to 16 bits and complemented, stored at p. */
static void put_sum(uint8_t *p, uint64_t s, bool udp)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	uint16_t c = (uint16_t)~s;
	if (udp && c == 0)
		c = 0xffff; /* 0 means "no checksum" in UDP */
	memcpy(p, &c, 2);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* ==== TCP flows ==== */

static uint32_t hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

static void make_key(union key *k, const uint8_t *src, const uint8_t *dst, size_t alen, uint16_t sport, uint16_t dport)
{
	memset(k, 0, sizeof(*k));
	k->b[0] = (uint8_t)alen;
	memcpy(k->b + 1, src, alen);
	memcpy(k->b + 1 + alen, dst, alen);
	put16(k->b + 1 + 2 * alen, sport);
	put16(k->b + 3 + 2 * alen, dport);
}

static bool same_key(const union key *a, const union key *b)
{
	uint64_t d = 0;
	for (int i = 0; i < KEY_WORDS; i++)
		d |= a->w[i] ^ b->w[i];
	return d == 0;
}

/* The flow of one direction, whose key hashes to h: its slot, started at a sequence number taken from
 * the hash the first time (or when another flow took the slot over). */
static struct flow *flow_of(struct pcap_output *o, const union key *k, uint32_t h)
{
	struct flow *f = &o->flows[h % FLOWS];
	if (!f->used || !same_key(&f->key, k)) {
		f->key = *k;
		f->next_seq = h;
		f->used = true;
	}
	return f;
}

/* The TCP header's sequence and acknowledgement numbers for n more bytes from src to dst. */
static void tcp_seq(struct pcap_output *o, uint8_t *l4h, const uint8_t *src, const uint8_t *dst, size_t alen,
		    uint16_t sport, uint16_t dport, size_t n, uint32_t *seq, uint32_t *ack)
{
	union key k, back;
	make_key(&k, src, dst, alen, sport, dport);
	make_key(&back, dst, src, alen, dport, sport);
	uint64_t x = k.w[0] ^ k.w[1] * 0x9e3779b97f4a7c15ULL ^ k.w[2] * 0xc2b2ae3d27d4eb4fULL ^
		     k.w[3] * 0x165667b19e3779f9ULL ^ k.w[4] * 0xd6e8feb86659fd93ULL;
	struct pair *p = &o->pairs[(x * 0x9e3779b97f4a7c15ULL) >> 54]; /* PAIRS: 2^10 */
	if (!p->used || !same_key(&p->key, &k)) {
		p->key = k;
		p->h = hash(k.b, 37);
		p->back = hash(back.b, 37);
		p->used = true;
	}
	struct flow *f = flow_of(o, &k, p->h);
	struct flow *b = flow_of(o, &back, p->back);
	*seq = f->next_seq;
	*ack = b->next_seq;
	put32(l4h + 4, *seq);
	put32(l4h + 8, *ack);
	f->next_seq += (uint32_t)n;
}

/* ==== Packets ==== */

static bool is_tcp(const struct dt__stats_fields *m)
{
	if (!m->has_socket_protocol)
		return false;
	switch (m->socket_protocol) {
	case DT_TCP:
	case DT_DOT:
	case DT_DOH:
	case DT_DNSCRYPT_TCP:
		return true;
	default:
		return false; /* UDP, DNSCrypt over UDP, DoQ */
	}
}

/* An address of the message as 4 or 16 bytes; a missing one is the unspecified address of the
 * message's family. False when it is malformed. */
static bool address(bool has, const struct dt_bytes *a, size_t *alen, const uint8_t **out)
{
	static const uint8_t zero[16];
	if (has) {
		if (a->len != 4 && a->len != 16)
			return false;
		if (*alen != 0 && *alen != a->len)
			return false;
		*alen = a->len;
		*out = a->data;
		return true;
	}
	*out = zero;
	return true;
}

/* The headers up to the addresses, all but the lengths and checksums, by family and transport; the
 * IPv4 header's sum is taken with its length and addresses added. */
/* clang-format off */
static const uint8_t ip4_udp[IP4_LEN] = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17};
static const uint8_t ip4_tcp[IP4_LEN] = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6}; /* don't fragment, TTL 64 */
static const uint8_t ip6_udp[8] = {0x60, 0, 0, 0, 0, 0, 17, 64};
static const uint8_t ip6_tcp[8] = {0x60, 0, 0, 0, 0, 0, 6, 64};
/* locally administered addresses: 02:00:00:00:00:01 the initiator, :02 the responder */
static const uint8_t eth_q4[ETH_LEN] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
static const uint8_t eth_r4[ETH_LEN] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
static const uint8_t eth_q6[ETH_LEN] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd};
static const uint8_t eth_r6[ETH_LEN] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd};
/* TCP from the sequence numbers on: header length 5 words, PSH and ACK, window 65535 */
static const uint8_t tcp_tail[12] = {0, 0, 0, 0, 0, 0, 0, 0, 5 << 4, 0x18, 0xff, 0xff};
/* clang-format on */

/* Writes wire (from src:sport to dst:dport) as one packet at the given time. */
static void packet(struct pcap_output *o, const struct dt__stats_fields *m, bool query, const struct dt_bytes *wire,
		   uint64_t sec, uint32_t nsec)
{
	size_t alen = 0;
	const uint8_t *qa, *ra;
	if (!address(m->has_query_address, &m->query_address, &alen, &qa) ||
	    !address(m->has_response_address, &m->response_address, &alen, &ra)) {
		o->skipped++;
		return;
	}
	if (alen == 0)
		alen = m->has_socket_family && m->socket_family == DT_INET6 ? 16 : 4;
	bool tcp = is_tcp(m);
	size_t l4 = tcp ? TCP_LEN + 2 : UDP_LEN;
	size_t ip = alen == 4 ? IP4_LEN : IP6_LEN;
	if (wire->len > MAX_WIRE || l4 + wire->len + (alen == 4 ? IP4_LEN : 0) > 65535) {
		o->skipped++;
		return;
	}
	const uint8_t *src = query ? qa : ra, *dst = query ? ra : qa;
	uint16_t qp = m->has_query_port ? (uint16_t)m->query_port : 0;
	uint16_t rp = m->has_response_port ? (uint16_t)m->response_port : 0;
	uint16_t sport = query ? qp : rp, dport = query ? rp : qp;

	/* the IP header starts on a boundary of 8 bytes, the Ethernet header (if any) before it */
	size_t off = o->ethernet ? ETH_LEN : 0;
	uint8_t *iph = o->pkt + 2 + ETH_LEN, *p = iph - off, *l4h = iph + ip, *data = l4h + l4;
	size_t l4_total = l4 + wire->len;
	uint8_t proto = tcp ? 6 : 17;
	if (o->ethernet)
		memcpy(p, alen == 4 ? (query ? eth_q4 : eth_r4) : (query ? eth_q6 : eth_r6), ETH_LEN);
	/* the addresses' sum, in the IPv4 header and in the pseudo-header */
	uint64_t addrs = add(addr_sum(src, alen), addr_sum(dst, alen));
	if (alen == 4) {
		memcpy(iph, tcp ? ip4_tcp : ip4_udp, IP4_LEN);
		put16(iph + 2, (uint32_t)(IP4_LEN + l4_total));
		memcpy(iph + 12, src, 4);
		memcpy(iph + 16, dst, 4);
		/* version and header length, length, identification 0, flags, TTL and protocol */
		uint64_t h =
			word(0x4500) + word((uint32_t)(IP4_LEN + l4_total)) + word(0x4000) + word(64u << 8 | proto);
		put_sum(iph + 10, add(addrs, h), false);
	} else {
		memcpy(iph, tcp ? ip6_tcp : ip6_udp, 8);
		put16(iph + 4, (uint32_t)l4_total);
		memcpy(iph + 8, src, 16);
		memcpy(iph + 24, dst, 16);
	}
	put16(l4h, sport);
	put16(l4h + 2, dport);
	/* the pseudo-header (addresses, protocol, length), the header's words, then the message */
	uint64_t s = add(addrs, word(proto) + word((uint32_t)l4_total) + word(sport) + word(dport));
	if (tcp) {
		uint32_t seq, ack;
		memcpy(l4h + 4, tcp_tail, sizeof(tcp_tail));
		tcp_seq(o, l4h, src, dst, alen, sport, dport, 2 + wire->len, &seq, &ack);
		memset(l4h + 16, 0, 4);               /* checksum, urgent pointer */
		put16(l4h + 20, (uint32_t)wire->len); /* DNS over TCP's length */
		/* the sequence and acknowledgement numbers, header length and flags, window, length */
		s = add(s, word(seq >> 16) + word(seq & 0xffff) + word(ack >> 16) + word(ack & 0xffff) + word(0x5018) +
				   word(0xffff) + word((uint32_t)wire->len));
	} else {
		put16(l4h + 4, (uint32_t)l4_total);
		memset(l4h + 6, 0, 2);
		s = add(s, word((uint32_t)l4_total));
	}
	memcpy(data, wire->data, wire->len);
	put_sum(l4h + (tcp ? 16 : 6), sum(s, wire->data, wire->len), !tcp);

	struct pcap_pkthdr h;
	h.ts.tv_sec = (time_t)sec;
	h.ts.tv_usec = (suseconds_t)(nsec / 1000);
	h.caplen = h.len = (bpf_u_int32)(off + ip + l4_total);
	pcap_dump((u_char *)o->dump, &h, p);
	o->packets++;
}

/* The file is ours alone (__fsetlocking(FSETLOCKING_BYCALLER)): its error flag is read without the
 * call and the lock, on every item. */
#ifdef HAVE_FSETLOCKING
#define file_error(fp) ferror_unlocked(fp)
#else
#define file_error(fp) ferror(fp)
#endif

static dt_res check_file(struct pcap_output *o)
{
	if (o->error == DT_OK && file_error(o->fp)) {
		o->error = DT_ERR_IO;
		o->error_errno = errno != 0 ? errno : EIO;
	}
	if (o->error != DT_OK)
		errno = o->error_errno;
	return o->error;
}

static dt_res pcap_output_write(struct dt_output *base, struct dt_item *it)
{
	struct pcap_output *o = (struct pcap_output *)base;
	if (o->error != DT_OK) {
		errno = o->error_errno;
		return o->error;
	}
	/* only the fields a packet needs: a scan, not a whole decode, unless a stage has decoded it */
	struct dt__stats_fields f, *m = &f;
	dt_res res = dt__item_fields(it, o->decoder, &f);
	if (res != DT_OK)
		return res;
	o->items++;
	errno = 0;
	bool any = false;
	if (m->has_query_message) {
		bool t = m->has_query_time_sec;
		packet(o, m, true, &m->query_message, t ? m->query_time_sec : m->response_time_sec,
		       t ? m->query_time_nsec : m->response_time_nsec);
		any = true;
	}
	if (m->has_response_message) {
		bool t = m->has_response_time_sec;
		packet(o, m, false, &m->response_message, t ? m->response_time_sec : m->query_time_sec,
		       t ? m->response_time_nsec : m->query_time_nsec);
		any = true;
	}
	if (!any)
		o->skipped++;
	return check_file(o);
}

static dt_res pcap_output_flush(struct dt_output *base)
{
	struct pcap_output *o = (struct pcap_output *)base;
	if (o->error == DT_OK) {
		errno = 0;
		if (pcap_dump_flush(o->dump) != 0 && o->error == DT_OK) {
			o->error = DT_ERR_IO;
			o->error_errno = errno != 0 ? errno : EIO;
		}
	}
	return check_file(o);
}

static dt_res pcap_output_reopen(struct dt_output *base)
{
	return pcap_output_flush(base);
}

/* Frees o and what it holds; the file is closed by the dumper once there is one. */
static void destroy(struct pcap_output *o)
{
	if (o->dump != NULL)
		pcap_dump_close(o->dump); /* fcloses fp */
	else if (o->fp != NULL)
		fclose(o->fp);
	if (o->pcap != NULL)
		pcap_close(o->pcap);
	dt_decoder_free(o->decoder);
	free(o->fbuf);
	free(o->flows);
	free(o->pairs);
	free(o->name);
	free(o);
}

static dt_res pcap_close_output(struct dt_output *base)
{
	struct pcap_output *o = (struct pcap_output *)base;
	dt_res res = pcap_output_flush(base);
	int err = errno;
	destroy(o);
	errno = err;
	return res;
}

static void pcap_output_stats(const struct dt_output *base, struct dt_output_stats *st)
{
	const struct pcap_output *o = (const struct pcap_output *)base;
	st->written = o->items - o->skipped;
	st->skipped = o->skipped;
	st->packets = o->packets;
	st->files = 1;
	st->exact = false;
}

static const char *pcap_output_name(const struct dt_output *base)
{
	return ((const struct pcap_output *)base)->name;
}

static const struct dt_output_ops pcap_ops = {
	.write = pcap_output_write,
	.flush = pcap_output_flush,
	.reopen = pcap_output_reopen,
	.close = pcap_close_output,
	.stats = pcap_output_stats,
	.name = "pcap",
	.get_name = pcap_output_name,
};

void dt_pcap_options_init(struct dt_pcap_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->ethernet = true;
}

struct dt_output *dt_output_pcap_open(const char *path, const struct dt_pcap_options *opt, dt_res *res)
{
	struct dt_pcap_options defaults;
	if (opt == NULL) {
		dt_pcap_options_init(&defaults);
		opt = &defaults;
	}
	bool to_stdout = path == NULL || strcmp(path, "-") == 0;
	struct pcap_output *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	o->base.ops = &pcap_ops;
	o->ethernet = opt->ethernet;
	o->name = strdup(to_stdout ? "(stdout)" : path);
	o->flows = calloc(FLOWS, sizeof(*o->flows));
	o->pairs = calloc(PAIRS, sizeof(*o->pairs));
	o->fbuf = malloc(FILE_BUFFER);
	o->decoder = dt_decoder_new();
	o->pcap = pcap_open_dead_with_tstamp_precision(o->ethernet ? DLT_EN10MB : DLT_RAW, SNAPLEN,
						       PCAP_TSTAMP_PRECISION_MICRO);
	if (o->name == NULL || o->flows == NULL || o->pairs == NULL || o->fbuf == NULL || o->decoder == NULL ||
	    o->pcap == NULL) {
		destroy(o);
		*res = DT_ERR_NOMEM;
		return NULL;
	}
	int fd = to_stdout ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0)
			   : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 || (o->fp = fdopen(fd, "wb")) == NULL) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		destroy(o);
		errno = err;
		*res = DT_ERR_IO;
		return NULL;
	}
	/* Two fwrite() calls a packet (pcap_dump's header and data) into one large buffer, with no lock
	 * taken: only the pipeline's thread writes this file. */
	setvbuf(o->fp, o->fbuf, _IOFBF, FILE_BUFFER);
#ifdef HAVE_FSETLOCKING
	__fsetlocking(o->fp, FSETLOCKING_BYCALLER);
#endif
	errno = 0;
	if ((o->dump = pcap_dump_fopen(o->pcap, o->fp)) == NULL) {
		int err = errno != 0 ? errno : EIO;
		destroy(o);
		errno = err;
		*res = DT_ERR_IO;
		return NULL;
	}
	return &o->base;
}
