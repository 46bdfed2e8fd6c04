/* dnstap: read dnstap from files and from DNS servers on unix and TCP sockets; print it as text or write
 * it to Frame Streams files (rotated on SIGHUP, by time or by size) or relay it. Flag-compatible with the
 * Go dnstap tool; its text output matches that tool's byte for byte.
 *
 * The program only wires flags to library objects: the table of flags below is the whole interface;
 * main() turns it into inputs (files, a listener) pushing into one pipeline, and the pipeline's output
 * (a file that rotates, standard output, a relay). How frames are read, counted, formatted, written and
 * rotated is libdnstap's. */
#include "config.h"

#include <dnstap.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "evmem.h"
#include "service.h"

#define MAX_LIST 64

/* ==== Flags ==== */

struct list {
	const char *v[MAX_LIST];
	size_t n;
};

struct args {
	struct list read, unix_in, tcp_in, unix_out, tcp_out;
	const char *write;
	bool append, quiet, yaml, json;
	const char *format;    /* --format NAME */
	const char *anonymize; /* --anonymize MODE */
	bool anonymize_answers, anonymize_qname;
	const char *filter, *filter_file; /* --filter EXPR, --filter-file FILE */
	bool print_filter;
	uint64_t sample; /* --sample N (0: not given) */
	const char *sample_key;
	bool pcap, pcap_raw;
	/* formats of our own (resolve_format()) */
	bool json_full, flat, ldns, csv, tsv;
	const char *template_, *fields;
	struct dt_template *tmpl; /* --template, --csv, --tsv, compiled by resolve_format() */
	bool has_timeout;
	unsigned timeout_ms;     /* -t */
	uint64_t max_frame_size; /* --max-frame-size */
	uint64_t max_connections;
	uint64_t split;    /* --split SECONDS */
	uint64_t max_size; /* --max-size BYTES */
	bool verbose, silent;
	uint64_t socket_mode; /* --socket-mode, parsed (0: not given) */
	const char *socket_owner, *socket_group, *user;
	/* resolved by check_args() */
	long socket_uid, socket_gid;
	uid_t uid;
	gid_t gid;
	bool drop;
	/* Kafka: --kafka (an output), --kafka-in (an input) */
	const char *kafka, *kafka_in, *kafka_group, *kafka_format, *kafka_key, *kafka_from;
	struct list kafka_topic, kafka_props;
	unsigned kafka_flush_ms, kafka_stats_ms;
	bool kafka_exit_at_end;
	/* resolved by check_args() */
	enum dt_kafka_format kformat;
	enum dt_kafka_key kkey;
	enum dt_kafka_from kfrom;
	/* TLS: -l with --tls-cert/--tls-key, -T with --tls */
	const char *tls_cert, *tls_key, *tls_client_ca, *tls_ca, *tls_server_name;
	bool tls, tls_insecure;
	struct list allow;
	/* statistics: --stats, --metrics (see add_stats()) */
	bool stats;
	const char *stats_format, *metrics;
	uint64_t stats_interval, top, latency_slots;
	struct list metrics_allow;
};

enum kind {
	HEADING, /* a line of --help only */
	BOOL,    /* -q, -q=true, -q=false */
	LIST,    /* repeatable, each value kept */
	FILE_NAME,
	DURATION, /* Go syntax */
	NUMBER,   /* 1..max */
	OCTAL,    /* a file mode */
	NAME,     /* a user or group name, resolved later */
	SHOW_HELP,
	SHOW_VERSION,
};

struct flag {
	const char *name; /* as typed after one or two dashes; for HEADING, the heading */
	enum kind kind;
	size_t off;       /* of the field in struct args */
	uint64_t max;     /* NUMBER */
	const char *arg;  /* the value's name in --help */
	const char *help; /* lines after the first are indented under it */
};

#define F(field) offsetof(struct args, field)

static const struct flag flags[] = {
	{"Inputs (each may be given several times):", HEADING, 0, 0, NULL, NULL},
	{"r", LIST, F(read), 0, "FILE", "read dnstap payloads from a Frame Streams file (- for standard input)"},
	{"u", LIST, F(unix_in), 0, "PATH", "read dnstap payloads from a unix socket"},
	{"l", LIST, F(tcp_in), 0, "ADDR:PORT", "read dnstap payloads from tcp/ip"},
	{"Outputs:", HEADING, 0, 0, NULL, NULL},
	{"w", FILE_NAME, F(write), 0, "FILE",
	 "write output to FILE (- for standard output); without -q, -y or -j, FILE\n"
	 "is a binary Frame Streams file holding the input's frames unchanged"},
	{"a", BOOL, F(append), 0, NULL, "append to the text output file instead of overwriting it"},
	{"U", LIST, F(unix_out), 0, "PATH", "write dnstap payloads to a unix socket"},
	{"T", LIST, F(tcp_out), 0, "ADDR:PORT", "write dnstap payloads to a tcp/ip address"},
	{"Formats (at most one; quiet text is the default on standard output):", HEADING, 0, 0, NULL, NULL},
	{"q", BOOL, F(quiet), 0, NULL, "quiet text output, one line per message"},
	{"y", BOOL, F(yaml), 0, NULL, "verbose YAML output"},
	{"j", BOOL, F(json), 0, NULL, "verbose JSON output, one object per line"},
	{"format", NAME, F(format), 0, "NAME",
	 "output format by name: quiet, yaml, json (as -q, -y, -j), json-full (-J),\n"
	 "csv, tsv, dnstap (binary), or pcap: one packet per DNS wire message,\n"
	 "for Wireshark and tshark"},
	{"pcap-raw", BOOL, F(pcap_raw), 0, NULL, "pcap in raw IP framing instead of Ethernet"},
	{"J", BOOL, F(json_full), 0, NULL,
	 "structured JSON, one object per line with every DNS field parsed\n"
	 "(as --format json-full; schema in dnstap(1))"},
	{"flat", BOOL, F(flat), 0, NULL, "with -J: one flat object per line, keys the dotted paths"},
	{"ldns", BOOL, F(ldns), 0, NULL, "with -q or -y: print exactly what dnstap-ldns -q or -y prints"},
	{"template", NAME, F(template_), 0, "STRING",
	 "one line per message made of the named fields, as DNS-collector's\n"
	 "text-format (\"timestamp-rfc3339ns identity operation qname ...\") or\n"
	 "with {name} in literal text; dnstap(1) lists the names"},
	{"csv", BOOL, F(csv), 0, NULL, "comma-separated values (RFC 4180) with a header line"},
	{"tsv", BOOL, F(tsv), 0, NULL, "tab-separated values with a header line"},
	{"fields", NAME, F(fields), 0, "A,B,...", "the columns of --csv and --tsv, by --template names"},
	{"Rotation of -w FILE (FILE may hold strftime(3) fields such as %Y%m%d-%H%M%S):", HEADING, 0, 0, NULL, NULL},
	{"split", NUMBER, F(split), 366u * 24 * 3600, "SECONDS",
	 "start a new file every SECONDS seconds (at multiples of SECONDS)"},
	{"max-size", NUMBER, F(max_size), UINT64_MAX, "BYTES",
	 "start a new file before the current one would exceed BYTES\n"
	 "(SIGHUP also starts a new file; without these flags it reopens FILE)"},
	{"Limits:", HEADING, 0, 0, NULL, NULL},
	{"t", DURATION, F(timeout_ms), 0, "DURATION",
	 "time a socket sender has to complete its handshake (Go syntax: 500ms,\n"
	 "2s, 1m; default 10s; 0 for no limit)"},
	{"max-frame-size", NUMBER, F(max_frame_size), UINT32_MAX, "BYTES",
	 "largest data frame accepted (default 262144); larger ones are skipped"},
	{"max-connections", NUMBER, F(max_connections), 1000000, "N",
	 "most sender connections at once (default 1024); more wait their turn"},
	{"Logging (on standard error):", HEADING, 0, 0, NULL, NULL},
	{"v", BOOL, F(verbose), 0, NULL, "also log each sender's handshake"},
	{"silent", BOOL, F(silent), 0, NULL, "log only problems, not connections and totals"},
	{"Anonymisation (before every output):", HEADING, 0, 0, NULL, NULL},
	{"anonymize", NAME, F(anonymize), 0, "MODE",
	 "rewrite client and server addresses and the EDNS Client Subnet: mask:/24,/64\n"
	 "(keep the prefixes), hmac:KEYFILE, or cryptopan:KEYFILE (prefix-preserving)"},
	{"anonymize-answers", BOOL, F(anonymize_answers), 0, NULL,
	 "also rewrite the A and AAAA records of the DNS messages"},
	{"anonymize-qname", BOOL, F(anonymize_qname), 0, NULL,
	 "also rewrite the names' labels below the registrable domain (Public Suffix\n"
	 "List) to keyed labels of the same length"},
	{"Filtering and sampling (before anonymisation and every output; see FILTERS in dnstap(1)):", HEADING, 0, 0,
	 NULL, NULL},
	{"filter", NAME, F(filter), 0, "EXPR",
	 "keep only the messages EXPR matches, such as\n"
	 "'type CQ,CR and suffix example.com and not rcode NOERROR'"},
	{"filter-file", FILE_NAME, F(filter_file), 0, "FILE",
	 "read the filter expression from FILE ('#' starts a comment)"},
	{"print-filter", BOOL, F(print_filter), 0, NULL, "print the parsed filter in its normal form and exit"},
	{"sample", NUMBER, F(sample), UINT32_MAX, "N",
	 "keep 1 message in N, the same ones on every run; a query and its response\n"
	 "are kept or dropped together"},
	{"sample-key", NAME, F(sample_key), 0, "KEY",
	 "what --sample keeps together: message (the default: client, DNS ID and\n"
	 "qname) or client (each client whole, or not at all)"},
	{"Running as a service (sockets passed by systemd's socket activation are used as -u/-l):", HEADING, 0, 0, NULL,
	 NULL},
	{"socket-mode", OCTAL, F(socket_mode), 07777, "OCTAL", "permissions of the -u socket files (such as 0660)"},
	{"socket-owner", NAME, F(socket_owner), 0, "USER", "owner of the -u socket files"},
	{"socket-group", NAME, F(socket_group), 0, "GROUP",
	 "group of the -u socket files (so that unbound, bind or knot may connect)"},
	{"user", NAME, F(user), 0, "USER[:GROUP]",
	 "run as USER (and GROUP, else USER's group) once the sockets and the\n"
	 "first output file are open, before any frame is read"},
	{"Kafka (through librdkafka; see KAFKA in dnstap(1)):", HEADING, 0, 0, NULL, NULL},
	{"kafka", NAME, F(kafka), 0, "BROKERS",
	 "produce every frame to a Kafka topic (HOST:PORT[,HOST:PORT...]); with -w,\n"
	 "-q, -y or -j also written there"},
	{"kafka-in", NAME, F(kafka_in), 0, "BROKERS", "read dnstap payloads from a Kafka topic (the only input then)"},
	{"kafka-topic", LIST, F(kafka_topic), 0, "TOPIC",
	 "the topic (with both --kafka-in and --kafka, give it twice: the input's\n"
	 "first, then the output's)"},
	{"kafka-format", NAME, F(kafka_format), 0, "FORMAT",
	 "what a message holds: dnstap (the payload, byte for byte; the default),\n"
	 "json (a -j line) or text (a -q line)"},
	{"kafka-key", NAME, F(kafka_key), 0, "KEY",
	 "message key, which keeps its messages in order in one partition:\n"
	 "none (the default), identity, client-ip or qname"},
	{"X", LIST, F(kafka_props), 0, "PROP=VALUE",
	 "set a librdkafka property (compression.codec=lz4, security.protocol=ssl...)"},
	{"kafka-flush-timeout", DURATION, F(kafka_flush_ms), 0, "DURATION",
	 "when finishing, wait this long for the brokers to acknowledge what is in\n"
	 "flight (default 10s); what is left then is reported undelivered"},
	{"kafka-stats-interval", DURATION, F(kafka_stats_ms), 0, "DURATION",
	 "log the delivery counters this often (default 1m; 0: only at the end)"},
	{"kafka-group", NAME, F(kafka_group), 0, "GROUP",
	 "consumer group whose committed offsets --kafka-in uses (default dnstap)"},
	{"kafka-from", NAME, F(kafka_from), 0, "WHERE",
	 "where --kafka-in starts: committed (the default: the group's offsets,\n"
	 "else the beginning), beginning or end"},
	{"kafka-exit-at-end", BOOL, F(kafka_exit_at_end), 0, NULL,
	 "--kafka-in stops once every partition has been read to its end"},
	{"TLS (-l serves TLS with --tls-cert and --tls-key; -T sends it with --tls):", HEADING, 0, 0, NULL, NULL},
	{"tls-cert", FILE_NAME, F(tls_cert), 0, "FILE",
	 "certificate chain (PEM): the -l listener's; with -T --tls, the client\n"
	 "certificate shown to the collector"},
	{"tls-key", FILE_NAME, F(tls_key), 0, "FILE", "the private key of --tls-cert (PEM)"},
	{"tls-client-ca", FILE_NAME, F(tls_client_ca), 0, "FILE",
	 "-l: require a client certificate issued by these CAs (mutual TLS)"},
	{"allow", LIST, F(allow), 0, "CIDR",
	 "-l: accept connections only from this range (repeatable; 192.0.2.0/24,\n"
	 "::1, 2001:db8::/32); others are refused with one line"},
	{"tls", BOOL, F(tls), 0, NULL, "-T: send over TLS (TLS 1.2 or 1.3)"},
	{"tls-ca", FILE_NAME, F(tls_ca), 0, "FILE",
	 "-T --tls: CAs the collector's certificate must come from (default: the\n"
	 "system's)"},
	{"tls-server-name", NAME, F(tls_server_name), 0, "NAME",
	 "-T --tls: name sent as SNI and checked in the collector's certificate\n"
	 "(default: the -T host)"},
	{"tls-insecure", BOOL, F(tls_insecure), 0, NULL, "-T --tls: do not verify the collector's certificate"},
	{"Other:", HEADING, 0, 0, NULL, NULL},
	{"h", SHOW_HELP, 0, 0, NULL, "show this help and exit"},
	{"help", SHOW_HELP, 0, 0, NULL, NULL},
	{"version", SHOW_VERSION, 0, 0, NULL, "show the version and exit"},
	{"Statistics (see METRICS in dnstap(1)):", HEADING, 0, 0, NULL, NULL},
	{"stats", BOOL, F(stats), 0, NULL,
	 "print a report when the run ends (on standard output, or standard error\n"
	 "when messages are printed there; alone, nothing else is printed)"},
	{"stats-format", NAME, F(stats_format), 0, "FORMAT", "the --stats report: text (the default) or json"},
	{"stats-interval", NUMBER, F(stats_interval), 86400, "SECONDS",
	 "a listening run (or --kafka-in) logs one summary line every SECONDS\n"
	 "seconds"},
	{"metrics", NAME, F(metrics), 0, "ADDR:PORT",
	 "serve /metrics (Prometheus), /stats.json and a live page / over HTTP\n"
	 "(a listening run: -u, -l or passed sockets; or --kafka-in)"},
	{"metrics-allow", LIST, F(metrics_allow), 0, "CIDR",
	 "answer --metrics requests only from this range (repeatable; default\n"
	 "loopback: 127.0.0.0/8 and ::1); others get 403"},
	{"top", NUMBER, F(top), 1000, "N", "entries in each top list of the statistics (default 10)"},
	{"latency-slots", NUMBER, F(latency_slots), 1u << 24, "N",
	 "queries held to pair with their responses for the latency histogram\n"
	 "(default 65536); more are counted as overflow"},
};

static const char usage_head[] =
	"Usage: dnstap [OPTION]...\n"
	"Read dnstap from files or sockets; print it as text or write it to Frame Streams files.\n";

static const char usage_tail[] =
	"\n"
	"Flags take one or two dashes, and a value as the next argument or after '='.\n"
	"Exit status: 0 ok; 1 an input or output failed, or a frame was bad; 2 usage error.\n"
	"\n"
	"Quiet mode message types:\n"
	"  AQ: AUTH_QUERY        AR: AUTH_RESPONSE\n"
	"  RQ: RESOLVER_QUERY    RR: RESOLVER_RESPONSE\n"
	"  CQ: CLIENT_QUERY      CR: CLIENT_RESPONSE\n"
	"  FQ: FORWARDER_QUERY   FR: FORWARDER_RESPONSE\n"
	"  SQ: STUB_QUERY        SR: STUB_RESPONSE\n"
	"  TQ: TOOL_QUERY        TR: TOOL_RESPONSE\n"
	"  UQ: UPDATE_QUERY      UR: UPDATE_RESPONSE\n";

/* --help, made from the table: "  -r FILE        text", long flags on a line of their own. */
static void usage(void)
{
	fputs(usage_head, stdout);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const struct flag *f = &flags[i];
		char left[64];
		if (f->kind == HEADING) {
			printf("%s%s\n", i == 0 ? "\n" : "", f->name);
			continue;
		}
		if (f->help == NULL)
			continue;
		if (f->kind == SHOW_HELP)
			snprintf(left, sizeof(left), "-h, --help");
		else
			snprintf(left, sizeof(left), "%s%s%s%s", f->name[1] ? "--" : "-", f->name, f->arg ? " " : "",
				 f->arg ? f->arg : "");
		if (strlen(left) <= 13)
			printf("  %-15s", left);
		else
			printf("  %s\n%17s", left, "");
		for (const char *p = f->help; *p != '\0';) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			printf("%.*s\n", (int)n, p);
			p += n;
			if (*p == '\n' && *++p != '\0')
				printf("%17s", "");
		}
	}
	fputs(usage_tail, stdout);
}

/* Every message is one line on stderr: "dnstap: " and the text (and a hint after usage errors). */
static void vsay(const char *fmt, va_list ap, const char *tail)
{
	fputs("dnstap: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(tail, stderr);
}

static void fail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap, "\n");
	va_end(ap);
	exit(code);
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap, "\n");
	va_end(ap);
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap, " (see dnstap --help)\n");
	va_end(ap);
	exit(2);
}

/* A decimal number from 1 to max. */
static uint64_t parse_number(const char *flag, const char *v, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < 1 || n > max)
		usage_error("invalid value \"%s\" for flag -%s", v, flag);
	return n;
}

/* A Go duration ("500ms", "2s", "1m30s", "1.5h", "0") in milliseconds; sub-millisecond values round up. */
static unsigned parse_duration(const char *flag, const char *v)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"\xce\xbcs", 1e-3},
		     {"ms", 1},    {"s", 1e3},   {"m", 6e4},          {"h", 3.6e6}};
	const char *p = v;
	double total = 0;
	if (strcmp(v, "0") == 0)
		return 0;
	if (*p == '+')
		p++;
	if (*p == '\0')
		usage_error("invalid value \"%s\" for flag -%s: parse error", v, flag);
	while (*p != '\0') {
		char *end;
		if (!(*p >= '0' && *p <= '9') && *p != '.')
			usage_error("invalid value \"%s\" for flag -%s: parse error", v, flag);
		double n = strtod(p, &end);
		if (end == p)
			usage_error("invalid value \"%s\" for flag -%s: parse error", v, flag);
		p = end;
		size_t best = 0, best_len = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].unit);
			if (len > best_len && strncmp(p, units[i].unit, len) == 0) {
				best = i;
				best_len = len;
			}
		}
		if (best_len == 0)
			usage_error("invalid value \"%s\" for flag -%s: missing unit (ms, s, m, h...)", v, flag);
		total += n * units[best].ms;
		p += best_len;
	}
	if (total > UINT_MAX)
		usage_error("invalid value \"%s\" for flag -%s: too long", v, flag);
	unsigned ms = (unsigned)total;
	return ms < total ? ms + 1 : ms;
}

static const struct flag *find_flag(const char *name)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i].kind != HEADING && strcmp(flags[i].name, name) == 0)
			return &flags[i];
	return NULL;
}

/* Stores one flag's value into its field. */
static void set_flag(struct args *a, const struct flag *f, const char *value)
{
	void *field = (char *)a + f->off;
	switch (f->kind) {
	case LIST: {
		struct list *l = field;
		if (l->n == MAX_LIST)
			usage_error("too many -%s flags (at most %d)", f->name, MAX_LIST);
		if (value[0] == '\0')
			usage_error("-%s needs a name, not an empty string", f->name);
		l->v[l->n++] = value;
		break;
	}
	case FILE_NAME:
		if (value[0] == '\0')
			usage_error("-%s needs a file name, not an empty string", f->name);
		*(const char **)field = value;
		break;
	case DURATION:
		*(unsigned *)field = parse_duration(f->name, value);
		if (f->off == F(timeout_ms))
			a->has_timeout = true;
		break;
	case NUMBER:
		*(uint64_t *)field = parse_number(f->name, value, f->max);
		break;
	case OCTAL: {
		char *end;
		errno = 0;
		unsigned long m = strtoul(value, &end, 8);
		/* 0 would let no sender connect: not a mode anyone means */
		if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || m == 0 || m > f->max)
			usage_error("invalid value \"%s\" for flag -%s (want an octal mode such as 0660)", value,
				    f->name);
		*(uint64_t *)field = m;
		break;
	}
	case NAME:
		if (value[0] == '\0')
			usage_error("-%s needs a name, not an empty string", f->name);
		*(const char **)field = value;
		break;
	default:
		break;
	}
}

/* Go's flag syntax: -name, --name, -name=value, -name value; boolean flags also take =true/=false. */
static void parse_args(int argc, char **argv, struct args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			if (i + 1 < argc)
				usage_error("unexpected argument '%s'", argv[i + 1]);
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			usage_error("unexpected argument '%s'", arg);
		const char *name = arg + 1 + (arg[1] == '-');
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		char flag[32];
		if (len == 0 || len >= sizeof(flag))
			usage_error("bad flag syntax: %s", arg);
		memcpy(flag, name, len);
		flag[len] = '\0';

		const struct flag *f = find_flag(flag);
		if (f == NULL)
			usage_error("flag provided but not defined: -%s", flag);
		if (f->kind == BOOL) {
			bool *b = (bool *)((char *)a + f->off);
			if (eq == NULL || strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0)
				*b = true;
			else if (strcmp(eq + 1, "false") == 0 || strcmp(eq + 1, "0") == 0)
				*b = false;
			else
				usage_error("invalid boolean value \"%s\" for -%s", eq + 1, flag);
			continue;
		}
		if (f->kind == SHOW_HELP) {
			usage();
			exit(0);
		}
		if (f->kind == SHOW_VERSION) {
			printf("dnstap (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			exit(0);
		}
		const char *value = eq ? eq + 1 : NULL;
		if (value == NULL) {
			if (i + 1 >= argc)
				usage_error("flag needs an argument: -%s", flag);
			value = argv[++i];
		}
		set_flag(a, f, value);
	}
}

/* TLS flags that have nothing to apply to, or half a pair. */
static void check_tls_args(const struct args *a)
{
	bool sends = a->tcp_out.n > 0 && a->tls;
	if ((a->tls_cert != NULL) != (a->tls_key != NULL))
		usage_error("--tls-cert and --tls-key go together");
	if (a->tls_cert != NULL && a->tcp_in.n == 0 && !sends)
		usage_error("--tls-cert and --tls-key apply to -l listeners or to -T with --tls; there is none");
	if (a->tls_client_ca != NULL && (a->tcp_in.n == 0 || a->tls_cert == NULL))
		usage_error("--tls-client-ca needs -l with --tls-cert and --tls-key");
	if (a->tls && a->tcp_out.n == 0)
		usage_error("--tls applies to -T; there is none");
	if ((a->tls_ca != NULL || a->tls_server_name != NULL || a->tls_insecure) && !sends)
		usage_error("--tls-ca, --tls-server-name and --tls-insecure need -T with --tls");
	if (a->allow.n > 0 && a->tcp_in.n == 0)
		usage_error("--allow applies to -l listeners; there is none");
}

/* How many text formats the flags ask for. */
static int text_formats(const struct args *a)
{
	return (int)a->quiet + (int)a->yaml + (int)a->json + (int)a->json_full + (int)a->csv + (int)a->tsv +
	       (a->template_ != NULL);
}

/* --format NAME: the format flags it stands for; and the flags that refine a format. */
static void resolve_format(struct args *a)
{
	if (a->format != NULL) {
		if (text_formats(a) > 0)
			usage_error("--format and -q, -y, -j, -J, --csv, --tsv or --template: give one of them");
		if (strcmp(a->format, "quiet") == 0)
			a->quiet = true;
		else if (strcmp(a->format, "yaml") == 0)
			a->yaml = true;
		else if (strcmp(a->format, "json") == 0)
			a->json = true;
		else if (strcmp(a->format, "json-full") == 0)
			a->json_full = true;
		else if (strcmp(a->format, "csv") == 0)
			a->csv = true;
		else if (strcmp(a->format, "tsv") == 0)
			a->tsv = true;
		else if (strcmp(a->format, "pcap") == 0)
			a->pcap = true;
		else if (strcmp(a->format, "dnstap") != 0)
			usage_error(
				"--format %s: unknown format (want quiet, yaml, json, json-full, csv, tsv, dnstap "
				"or pcap)",
				a->format);
	}
	if (text_formats(a) > 1 && (a->json_full || a->csv || a->tsv || a->template_ != NULL))
		usage_error("give one format: -q, -y, -j, -J, --csv, --tsv or --template");
	if (a->flat && !a->json_full)
		usage_error("--flat needs -J (--format json-full)");
	if (a->ldns && !a->quiet && !a->yaml)
		usage_error("--ldns needs -q or -y");
	if (a->fields != NULL && !a->csv && !a->tsv)
		usage_error("--fields needs --csv or --tsv");
	if (a->template_ != NULL || a->csv || a->tsv) {
		char err[128];
		dt_res res;
		enum dt_template_kind k = a->csv ? DT_TEMPLATE_CSV : a->tsv ? DT_TEMPLATE_TSV : DT_TEMPLATE_TEXT;
		a->tmpl = dt_template_new(k, a->template_ != NULL ? a->template_ : a->fields, err, sizeof(err), &res);
		if (a->tmpl == NULL && res == DT_ERR_NOMEM)
			fail(1, "out of memory");
		if (a->tmpl == NULL)
			usage_error("--%s: %s", a->template_ != NULL ? "template" : "fields", err);
	}
	if (a->pcap_raw && !a->pcap)
		usage_error("--pcap-raw needs --format pcap");
	if (a->pcap && (a->split != 0 || a->max_size != 0))
		usage_error("--split and --max-size do not apply to --format pcap");
	if (a->pcap && a->append)
		usage_error("-a does not apply to --format pcap: a pcap file is always written anew");
}

/* The index of v in names (NULL-terminated), or a usage error naming the flag. */
static int choose(const char *flag, const char *v, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	char all[200] = "";
	for (int i = 0; names[i] != NULL; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? ", " : "", names[i]);
	usage_error("invalid value \"%s\" for flag --%s (want %s)", v, flag, all);
}

/* The Kafka flags: each belongs to the output (--kafka) or the input (--kafka-in). */
static void check_kafka_args(struct args *a)
{
	static const char *const formats[] = {"dnstap", "json", "text", NULL};
	static const char *const keys[] = {"none", "identity", "client-ip", "qname", NULL};
	static const char *const froms[] = {"committed", "beginning", "end", NULL};
	size_t want = (a->kafka != NULL) + (a->kafka_in != NULL);
	if (want == 0 && (a->kafka_topic.n > 0 || a->kafka_props.n > 0))
		usage_error("--kafka-topic and -X need --kafka or --kafka-in");
	if (a->kafka == NULL && (a->kafka_format || a->kafka_key))
		usage_error("--kafka-format and --kafka-key need --kafka");
	if (a->kafka_in == NULL && (a->kafka_group || a->kafka_from || a->kafka_exit_at_end))
		usage_error("--kafka-group, --kafka-from and --kafka-exit-at-end need --kafka-in");
	if (want > 0 && a->kafka_topic.n != want)
		usage_error(want == 1
				    ? "give one --kafka-topic"
				    : "give two --kafka-topic: the input's (--kafka-in), then the output's (--kafka)");
	if (want == 2 && strcmp(a->kafka_topic.v[0], a->kafka_topic.v[1]) == 0)
		usage_error("--kafka-in and --kafka on the same topic would feed it its own messages");
	if (a->kafka_in != NULL && a->read.n + a->unix_in.n + a->tcp_in.n > 0)
		usage_error("--kafka-in is the only input of a run: not with -r, -u or -l");
	if (a->kafka_in != NULL && a->split != 0)
		usage_error("--split needs a listening run; with --kafka-in use --max-size");
	a->kformat = a->kafka_format ? (enum dt_kafka_format)choose("kafka-format", a->kafka_format, formats)
				     : DT_KAFKA_DNSTAP;
	a->kkey = a->kafka_key ? (enum dt_kafka_key)choose("kafka-key", a->kafka_key, keys) : DT_KAFKA_KEY_NONE;
	a->kfrom = a->kafka_from ? (enum dt_kafka_from)choose("kafka-from", a->kafka_from, froms)
				 : DT_KAFKA_FROM_COMMITTED;
}

/* The combinations that make no sense, in the Go tool's words where it has them. */
static void check_args(struct args *a, int passed)
{
	check_kafka_args(a);
	if (a->read.n + a->unix_in.n + a->tcp_in.n + (size_t)passed == 0 && a->kafka_in == NULL)
		fail(1, "Error: no inputs specified.");
	if ((int)a->quiet + (int)a->yaml + (int)a->json > 1)
		fail(1, "Error: specify at most one of -q, -y, or -j.");
	if (a->unix_out.n + a->tcp_out.n > 1)
		fail(1, "Error: give at most one -U or -T.");
	if ((a->split != 0 || a->max_size != 0) && (a->write == NULL || strcmp(a->write, "-") == 0))
		fail(1, "--split and --max-size need -w FILE");
	if (a->verbose && a->silent)
		usage_error("-v and --silent contradict each other");
	if (a->unix_out.n + a->tcp_out.n > 0 && (text_formats(a) > 0 || a->pcap || a->write != NULL))
		warn("-q, -y, -j, --format and -w are ignored with -U/-T: frames are relayed as they are");
	check_tls_args(a);
}

/* A user or group, by name or number. */
static bool lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name);
	char *end;
	if (pw == NULL && name[0] >= '0' && name[0] <= '9') {
		unsigned long v = strtoul(name, &end, 10);
		if (*end == '\0')
			pw = getpwuid((uid_t)v);
	}
	if (pw == NULL)
		return false;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return true;
}

static bool lookup_group(const char *name, gid_t *gid)
{
	struct group *gr = getgrnam(name);
	char *end;
	if (gr == NULL && name[0] >= '0' && name[0] <= '9') {
		unsigned long v = strtoul(name, &end, 10);
		if (*end == '\0')
			gr = getgrgid((gid_t)v);
	}
	if (gr == NULL)
		return false;
	*gid = gr->gr_gid;
	return true;
}

/* --socket-owner, --socket-group and --user name users and groups that must exist. */
static void resolve_users(struct args *a)
{
	uid_t uid;
	gid_t gid;
	a->socket_uid = a->socket_gid = -1;
	if ((a->socket_mode || a->socket_owner || a->socket_group) && a->unix_in.n == 0)
		usage_error("--socket-mode, --socket-owner and --socket-group apply to -u sockets; there is none");
	if (a->socket_owner != NULL) {
		if (!lookup_user(a->socket_owner, &uid, &gid))
			usage_error("--socket-owner: no such user: %s", a->socket_owner);
		a->socket_uid = (long)uid;
	}
	if (a->socket_group != NULL) {
		if (!lookup_group(a->socket_group, &gid))
			usage_error("--socket-group: no such group: %s", a->socket_group);
		a->socket_gid = (long)gid;
	}
	if (a->user != NULL) {
		char name[256];
		const char *colon = strchr(a->user, ':');
		size_t n = colon != NULL ? (size_t)(colon - a->user) : strlen(a->user);
		if (n == 0 || n >= sizeof(name) || (colon != NULL && colon[1] == '\0'))
			usage_error("--user wants USER or USER:GROUP, not \"%s\"", a->user);
		memcpy(name, a->user, n);
		name[n] = '\0';
		if (!lookup_user(name, &a->uid, &a->gid))
			usage_error("--user: no such user: %s", name);
		if (colon != NULL && !lookup_group(colon + 1, &a->gid))
			usage_error("--user: no such group: %s", colon + 1);
		a->drop = true;
	}
}

/* --user: from now on, USER and GROUP only (with USER's supplementary groups), for good. */
static bool drop_privileges(const struct args *a)
{
	if (!a->drop)
		return true;
	char name[256];
	const char *colon = strchr(a->user, ':');
	size_t n = colon != NULL ? (size_t)(colon - a->user) : strlen(a->user);
	memcpy(name, a->user, n);
	name[n] = '\0';
	struct passwd *pw = getpwuid(a->uid);
	if (geteuid() == 0 &&
	    (initgroups(pw != NULL ? pw->pw_name : name, a->gid) != 0 && setgroups(1, &a->gid) != 0)) {
		warn("--user %s: cannot set the groups: %s", a->user, strerror(errno));
		return false;
	}
	if (setgid(a->gid) != 0 || setuid(a->uid) != 0) {
		warn("--user %s: %s", a->user, strerror(errno));
		return false;
	}
	if (a->uid != 0 && setuid(0) == 0) { /* a drop that can be undone is no drop */
		warn("--user %s: privileges could be regained; not going on", a->user);
		return false;
	}
	return true;
}

/* Rotated files are created anew all the time: as root, in a directory anyone can write, another user
 * could plant a link where the next name will be. Refuse, as logrotate does. */
static bool safe_rotation_dir(const struct args *a)
{
	if ((a->split == 0 && a->max_size == 0) || a->write == NULL || geteuid() != 0)
		return true;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", a->write);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH)) {
		warn("%s: writable by anyone; not rotating files there as root (use --user or another directory)", dir);
		return false;
	}
	return true;
}

/* ==== Running ==== */

struct run {
	struct args args;
	int log_level; /* syslog priority of the least urgent line shown */
	struct event_base *base;
	struct dt_pipeline *pipe;
	struct dt_listener *listener;
	struct event *sigint, *sigterm, *sighup;
	bool bad;          /* an input or frame was bad: exit 1 at the end */
	bool in_log;       /* a log line is being written (flushing for it must not log again) */
	const char *relay; /* -U/-T's address, NULL without a relay */
	int passed;        /* listening sockets passed by the service manager, from SERVICE_FIRST_FD */
	char **passed_names;
	bool relay_spoke;                 /* the relay's own log has said why its first connection failed */
	struct dt_output *pcap_out;       /* --format pcap's output (the pipeline's), for the summary */
	struct dt_anonymizer *anonymizer; /* --anonymize's stage (the pipeline's), for the summary */
	unsigned anonymizer_stage;        /* its index in the pipeline's dropped[] */
	struct dt_filter *filter;         /* --filter's stage (the pipeline's), for the summary */
	unsigned filter_stage, stages;
	enum dt_sample_key sample_key;
	bool usage;             /* a value was refused once tried (a -X property): exit 2 */
	struct dt_stats *stats; /* --stats, --metrics, --stats-interval: the first stage */
	struct dt_metrics_server *metrics;
	struct event *stats_tick;
};

/* Library lines: "dnstap: " and the line, as -v and --silent say. */
static void on_log(void *arg, int level, const char *line)
{
	struct run *r = arg;
	if (level <= r->log_level)
		fprintf(stderr, "dnstap: %s\n", line);
}

/* A file input's complaint: pending output is written first so that, on a terminal, it appears after
 * the frames that preceded it. */
static void on_input_log(void *arg, int level, const char *line)
{
	struct run *r = arg;
	if (!r->in_log && r->pipe != NULL) {
		r->in_log = true;
		dt_pipeline_flush(r->pipe);
		r->in_log = false;
	}
	on_log(arg, level, line);
}

/* The relay's lines name it; its own reason for a failed first connection (a name that does not
 * resolve, say) is more precise than the errno the open returns. */
static void on_relay_log(void *arg, int level, const char *line)
{
	struct run *r = arg;
	r->relay_spoke = true;
	if (level <= r->log_level)
		fprintf(stderr, "dnstap: %s: %s\n", r->relay, line);
}

static enum dt_format chosen_format(const struct args *a)
{
	if (a->ldns)
		return a->yaml ? DT_FORMAT_LDNS_YAML : DT_FORMAT_LDNS_QUIET;
	if (a->json_full)
		return a->flat ? DT_FORMAT_JSON_FLAT : DT_FORMAT_JSON_FULL;
	return a->yaml ? DT_FORMAT_YAML : a->json ? DT_FORMAT_JSON : DT_FORMAT_QUIET;
}

/* -U/-T: relay payloads to a Frame Streams receiver. Reading files, the relay waits for room rather than
 * drop, and the run ends only once the receiver has acknowledged STOP with FINISH; fed by sockets, it
 * never blocks the listener: a full queue drops and counts, and it reconnects on its own. */
static struct dt_output *open_relay(struct run *r)
{
	const struct args *a = &r->args;
	char spec[PATH_MAX + 8];
	struct dt_sender_options so;
	dt_res res;
	dt_sender_options_init(&so);
	so.blocking = a->unix_in.n + a->tcp_in.n == 0;
	so.log = on_relay_log;
	so.log_arg = r;
	if (a->tcp_out.n > 0 && a->tls) {
		so.tls.enable = true;
		so.tls.ca_file = a->tls_ca;
		so.tls.server_name = a->tls_server_name;
		so.tls.cert_file = a->tls_cert;
		so.tls.key_file = a->tls_key;
		so.tls.insecure = a->tls_insecure;
	}
	r->relay = a->unix_out.n > 0 ? a->unix_out.v[0] : a->tcp_out.v[0];
	snprintf(spec, sizeof(spec), "%s%s", a->unix_out.n > 0 ? "unix://" : a->tls ? "tls://" : "tcp://", r->relay);
	struct dt_output *o = dt_output_socket_open(spec, &so, &res);
	if (o != NULL || r->relay_spoke)
		return o;
	if (res == DT_ERR_INVALID && a->unix_out.n > 0 &&
	    strlen(r->relay) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		warn("%s: %s", r->relay, strerror(ENAMETOOLONG));
	else if (res == DT_ERR_INVALID && a->unix_out.n == 0)
		warn("%s: bad address (want HOST:PORT or [IPv6]:PORT)", r->relay);
	else
		warn("%s: %s", r->relay, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
	return NULL;
}

/* --kafka: a producer. Fed by files or by --kafka-in, it waits for room in librdkafka's queue rather
 * than drop; fed by sockets it never blocks the listener: a full queue drops and counts. */
static bool open_kafka(struct run *r)
{
	const struct args *a = &r->args;
	struct dt_kafka_options ko;
	char err[1024];
	dt_res res;
	dt_kafka_options_init(&ko);
	ko.brokers = a->kafka;
	ko.topic = a->kafka_topic.v[a->kafka_in != NULL ? 1 : 0];
	ko.format = a->kformat;
	ko.key = a->kkey;
	ko.props = a->kafka_props.v;
	ko.n_props = a->kafka_props.n;
	ko.flush_timeout_ms = a->kafka_flush_ms;
	ko.stats_interval_ms = a->kafka_stats_ms;
	ko.blocking = a->unix_in.n + a->tcp_in.n == 0 && r->passed == 0;
	ko.log = on_log;
	ko.log_arg = r;
	struct dt_output *o = dt_output_kafka_open(&ko, err, sizeof(err), &res);
	if (o == NULL) {
		warn("--kafka %s: %s", a->kafka, res == DT_ERR_NOMEM ? "out of memory" : err);
		r->usage = res == DT_ERR_INVALID;
		return false;
	}
	return dt_pipeline_add_output(r->pipe, o, NULL) == DT_OK;
}

/* The output the flags ask for: a relay, standard output, or a file (rotating with --split/--max-size);
 * with --kafka, a producer too (alone unless -w, -q, -y, -j or a relay ask for more). */
static bool open_output(struct run *r)
{
	const struct args *a = &r->args;
	bool text = text_formats(a) > 0;
	bool to_stdout = a->write == NULL || strcmp(a->write, "-") == 0;
	struct dt_output *o;
	const char *name = NULL;
	dt_res res;
	if (a->kafka != NULL) {
		if (!open_kafka(r))
			return false;
		if (a->unix_out.n + a->tcp_out.n == 0 && a->write == NULL && !text)
			return true;
	}
	if (a->unix_out.n + a->tcp_out.n > 0) {
		if ((o = open_relay(r)) == NULL)
			return false;
		name = r->relay;
	} else if (a->pcap) {
		struct dt_pcap_options po;
		dt_pcap_options_init(&po);
		po.ethernet = !a->pcap_raw;
		if ((o = dt_output_pcap_open(to_stdout ? NULL : a->write, &po, &res)) == NULL) {
			warn("%s: %s", to_stdout ? "(stdout)" : a->write,
			     res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
			return false;
		}
		r->pcap_out = o;
	} else if (to_stdout) {
		if (a->append && text) {
			warn("cannot append to standard output (-a with -w -)");
			return false;
		}
		o = a->tmpl != NULL ? dt_output_template_open(NULL, a->tmpl, false, &res)
				    : dt_output_text_open(NULL, chosen_format(a), false, &res);
		if (o == NULL) {
			warn("(stdout): %s", res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
			return false;
		}
	} else {
		if (a->append && !text)
			warn("-a ignored: a binary Frame Streams file is always written anew");
		struct dt_file_options fo;
		dt_file_options_init(&fo);
		fo.text = text;
		fo.format = chosen_format(a);
		fo.tmpl = a->tmpl;
		fo.append = a->append;
		fo.split_seconds = (unsigned)a->split;
		fo.max_size = a->max_size;
		fo.base = r->base;
		fo.log = on_log;
		fo.log_arg = r;
		if ((o = dt_output_file_open(a->write, &fo, &res)) == NULL) {
			if (res == DT_ERR_INVALID)
				warn("%s: cannot make a file name from this pattern", a->write);
			else
				warn("%s: %s", a->write, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
			return false;
		}
	}
	return dt_pipeline_add_output(r->pipe, o, name) == DT_OK;
}

/* An output has failed: the pipeline has said so, and the run ends. */
static bool failed(const struct run *r)
{
	struct dt_pipeline_stats ps;
	dt_pipeline_get_stats(r->pipe, &ps);
	return ps.broken;
}

static void read_files(struct run *r)
{
	struct dt_file_input_options fo;
	struct dt_sink sink = dt_pipeline_sink(r->pipe);
	dt_file_input_options_init(&fo);
	fo.max_frame_size = r->args.max_frame_size;
	fo.log = on_input_log;
	fo.log_arg = r;
	for (size_t i = 0; i < r->args.read.n && !failed(r); i++) {
		dt_res res = dt_input_file_read(r->args.read.v[i], &sink, &fo);
		if (res != DT_OK && !failed(r)) /* an output's failure is the pipeline's to say */
			r->bad = true;
	}
}

/* ==== Reading Kafka ==== */

static struct dt_kafka_input *stop_on_signal; /* what SIGINT and SIGTERM stop while --kafka-in reads */
static volatile sig_atomic_t reopen_asked;    /* SIGHUP came: the reading loop reopens the outputs */

static void on_stop_signal(int sig)
{
	if (sig == SIGHUP) {
		reopen_asked = 1;
		return;
	}
	struct dt_kafka_input *in = stop_on_signal;
	if (in != NULL)
		dt_kafka_input_stop(in);
}

static dt_res flush_pipeline(void *arg)
{
	struct run *r = arg;
	return dt_pipeline_flush(r->pipe);
}

/* Every 100 ms or so while --kafka-in reads: a SIGHUP's reopen, and a few turns of the metrics server's
 * and the --stats-interval timer's loop, none of which waits (an HTTP request takes a turn to be
 * accepted, one to be read and one to be answered). */
static void kafka_tick(void *arg)
{
	struct run *r = arg;
	if (r->base != NULL)
		for (int i = 0; i < 4; i++)
			event_base_loop(r->base, EVLOOP_NONBLOCK);
	if (!reopen_asked)
		return;
	reopen_asked = 0;
	service_notify("RELOADING=1");
	dt_pipeline_reopen(r->pipe);
	service_notify("READY=1");
}

/* --kafka-in: the topic into the pipeline until SIGINT/SIGTERM (or its end with --kafka-exit-at-end);
 * offsets are committed once the outputs have written the frames. */
static void read_kafka(struct run *r)
{
	const struct args *a = &r->args;
	struct dt_kafka_input_options ko;
	struct dt_sink sink = dt_pipeline_sink(r->pipe);
	char err[1024];
	dt_res res;
	dt_kafka_input_options_init(&ko);
	ko.brokers = a->kafka_in;
	ko.topic = a->kafka_topic.v[0];
	ko.group = a->kafka_group;
	ko.from = a->kfrom;
	ko.exit_at_end = a->kafka_exit_at_end;
	ko.props = a->kafka_props.v;
	ko.n_props = a->kafka_props.n;
	ko.max_frame_size = (size_t)a->max_frame_size;
	ko.timeout_ms = a->kafka_flush_ms;
	ko.flush = flush_pipeline;
	ko.tick = kafka_tick;
	ko.flush_arg = r;
	ko.log = on_input_log;
	ko.log_arg = r;
	struct dt_kafka_input *in = dt_kafka_input_open(&ko, err, sizeof(err), &res);
	if (in == NULL) {
		warn("--kafka-in %s: %s", a->kafka_in, res == DT_ERR_NOMEM ? "out of memory" : err);
		r->usage = res == DT_ERR_INVALID;
		r->bad = true;
		return;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	stop_on_signal = in;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	res = dt_kafka_input_run(in, &sink);
	stop_on_signal = NULL; /* a second signal while finishing does not cut the final flush short */
	if (res != DT_OK && !failed(r))
		r->bad = true;
	dt_kafka_input_close(in);
}

/* ==== Listening ==== */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct run *r = arg;
	if (sig == SIGHUP) {
		service_notify("RELOADING=1");
		dt_pipeline_reopen(r->pipe);
		if (r->listener != NULL)
			dt_listener_reload(r->listener); /* TLS certificates; it says how that went */
		service_notify("READY=1");
		return;
	}
	service_notify("STOPPING=1");
	if (r->log_level >= LOG_INFO)
		fprintf(stderr, "dnstap: %s: reading what the senders have sent, then finishing\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopbreak(r->base);
}

/* Many senders need many descriptors: lift the soft limit to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static struct event *add_signal(struct run *r, int sig)
{
	struct event *ev = evsignal_new(r->base, sig, on_signal, r);
	if (ev == NULL || event_add(ev, NULL) != 0)
		fail(1, "cannot set up the event loop: out of memory");
	return ev;
}

/* What a passed socket is bound to, written as -u and -l take it: "/run/dnstap.sock", "127.0.0.1:6000",
 * "[::1]:6000". */
static void bound_name(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	snprintf(out, size, "socket %d", fd);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
		if (len > offsetof(struct sockaddr_un, sun_path) && sun->sun_path[0] != '\0')
			snprintf(out, size, "%.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)), sun->sun_path);
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, size, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
	}
}

/* Binds every -u and -l socket. On failure says why and returns false. */
static bool start_listening(struct run *r)
{
	const struct args *a = &r->args;
	struct dt_sink sink = dt_pipeline_sink(r->pipe);
	raise_fd_limit();
	r->listener = dt_listener_new(r->base, &sink);
	if (r->listener == NULL)
		fail(1, "cannot set up the listener: out of memory");
	dt_listener_set_log(r->listener, on_log, r, r->log_level);
	dt_listener_set_max_frame_size(r->listener, (size_t)a->max_frame_size);
	dt_listener_set_max_connections(r->listener, (unsigned)a->max_connections);
	/* batched reads (the base has precise timers): much less CPU for senders that write frame by
	 * frame; 200 us on unix sockets, whose buffer holds little (see dt_listener_set_read_delay()) */
	if (dt_listener_set_read_delay(r->listener, 1000) != DT_OK)
		fail(1, "cannot set up the listener: out of memory");
	if (a->has_timeout && dt_listener_set_handshake_timeout(r->listener, a->timeout_ms) != DT_OK)
		fail(1, "cannot set up the listener: out of memory");
	if (a->socket_mode != 0 || a->socket_uid >= 0 || a->socket_gid >= 0)
		dt_listener_set_unix_permissions(r->listener, (unsigned)a->socket_mode, a->socket_uid, a->socket_gid);
	for (size_t i = 0; i < a->allow.n; i++)
		if (dt_listener_allow(r->listener, a->allow.v[i]) != DT_OK)
			usage_error("invalid value \"%s\" for flag -allow (want an address or ADDRESS/BITS)",
				    a->allow.v[i]);

	/* sockets from the service manager first: a -u/-l naming one of them is served by it */
	bool taken_u[MAX_LIST] = {false}, taken_l[MAX_LIST] = {false};
	for (int i = 0; i < r->passed; i++) {
		int fd = SERVICE_FIRST_FD + i;
		char name[PATH_MAX];
		bound_name(fd, name, sizeof(name));
		for (size_t k = 0; k < a->unix_in.n; k++)
			taken_u[k] = taken_u[k] || strcmp(a->unix_in.v[k], name) == 0;
		for (size_t k = 0; k < a->tcp_in.n; k++)
			taken_l[k] = taken_l[k] || strcmp(a->tcp_in.v[k], name) == 0;
		if (dt_listener_add_listening(r->listener, fd, name) != DT_OK) {
			warn("socket %d (\"%s\") from the service manager: not a listening stream socket: %s", fd,
			     r->passed_names[i], strerror(errno));
			return false;
		}
	}
	for (size_t i = 0; i < a->unix_in.n; i++) {
		const char *path = a->unix_in.v[i];
		if (taken_u[i])
			continue;
		dt_res res = dt_listener_add_unix(r->listener, path);
		if (res == DT_OK)
			continue;
		if (res == DT_ERR_IO && errno == EEXIST)
			warn("%s: exists and is not a socket; not replacing it", path);
		else if (res == DT_ERR_IO && errno == EADDRINUSE)
			warn("%s: another process is listening on this socket", path);
		else
			warn("%s: cannot listen: %s", path, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
		return false;
	}
	for (size_t i = 0; i < a->tcp_in.n; i++) {
		const char *addr = a->tcp_in.v[i];
		if (taken_l[i])
			continue;
		struct dt_tls_server_options to = {a->tls_cert, a->tls_key, a->tls_client_ca};
		dt_res res = a->tls_cert != NULL ? dt_listener_add_tls(r->listener, addr, &to)
						 : dt_listener_add_tcp(r->listener, addr);
		if (res == DT_OK)
			continue;
		if (res == DT_ERR_INVALID && a->tls_cert != NULL)
			warn("%s: cannot listen with TLS: a bad address, or the TLS files above are unusable", addr);
		else if (res == DT_ERR_INVALID)
			warn("%s: bad address (want HOST:PORT or [IPv6]:PORT, with a host that resolves)", addr);
		else
			warn("%s: cannot listen: %s", addr, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
		return false;
	}
	return true;
}

/* Runs the loop until a signal or a failed output ends it, then lets the listener finish. */
static void run_listener(struct run *r)
{
	r->sigint = add_signal(r, SIGINT);
	r->sigterm = add_signal(r, SIGTERM);
	r->sighup = add_signal(r, SIGHUP);
	event_base_dispatch(r->base);
	/* Finishing takes a moment: a second SIGTERM (or ^C) must not kill us before STOP is written, and
	 * once the loop's signal events are gone these signals would do just that. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	dt_listener_shutdown(r->listener);

	struct dt_listener_stats st;
	struct dt_pipeline_stats ps;
	dt_listener_get_stats(r->listener, &st);
	dt_pipeline_get_stats(r->pipe, &ps);
	char extra[200] = "";
	size_t n = 0;
	if (st.skipped > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", %llu oversize frame%s skipped",
				      (unsigned long long)st.skipped, st.skipped == 1 ? "" : "s");
	if (st.rejected > 0 && n < sizeof(extra))
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", %llu misbehaving sender%s disconnected",
				      (unsigned long long)st.rejected, st.rejected == 1 ? "" : "s");
	if (ps.lost > 0 && n < sizeof(extra))
		snprintf(extra + n, sizeof(extra) - n, ", %llu frame%s not written (output failed)",
			 (unsigned long long)ps.lost, ps.lost == 1 ? "" : "s");
	if (r->log_level >= LOG_INFO)
		fprintf(stderr, "dnstap: received %llu frame%s (%llu bytes) on %llu connection%s%s\n",
			(unsigned long long)st.frames, st.frames == 1 ? "" : "s", (unsigned long long)st.bytes,
			(unsigned long long)st.connections, st.connections == 1 ? "" : "s", extra);
}

/* What the anonymisation could not pass on: undecodable items dropped, unparsable wire messages taken out. */
static void anonymize_summary(const struct run *r, const struct dt_pipeline_stats *ps)
{
	uint64_t stripped = dt_anonymizer_stripped(r->anonymizer), dropped = ps->dropped[r->anonymizer_stage];
	if (stripped + dropped > 0)
		fprintf(stderr,
			"dnstap: --anonymize: %llu undecodable message%s dropped, %llu unparsable DNS message%s taken out\n",
			(unsigned long long)dropped, dropped == 1 ? "" : "s", (unsigned long long)stripped,
			stripped == 1 ? "" : "s");
}

/* --anonymize: the stage in front of every output; the key file is read now, before privileges go. */
static void add_anonymizer(struct run *r)
{
	struct dt_anonymize_options ao = {
		.mode = r->args.anonymize, .answers = r->args.anonymize_answers, .qnames = r->args.anonymize_qname};
	char err[300];
	dt_res res;
	struct dt_anonymizer *st = dt_anonymizer_new(&ao, err, sizeof(err), &res);
	if (st == NULL && res == DT_ERR_INVALID)
		usage_error("--anonymize %s", err);
	if (st == NULL)
		fail(1, "--anonymize: %s", err);
	if (dt_pipeline_add_stage(r->pipe, &dt_anonymize_stage, st) != DT_OK)
		fail(1, "cannot set up the pipeline: out of memory");
	r->anonymizer = st;
	r->anonymizer_stage = r->stages++;
}

/* The whole of a --filter-file. */
static char *read_filter_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL)
		fail(1, "--filter-file %s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (buf == NULL)
			fail(1, "--filter-file %s: out of memory", path);
		n += fread(buf + n, 1, cap - n, fp);
		if (n < cap)
			break;
		if (cap >= (size_t)1 << 24)
			fail(2, "--filter-file %s: too large (over 16 MiB)", path);
		buf = realloc(buf, cap *= 2);
	}
	bool bad = ferror(fp);
	fclose(fp);
	if (bad)
		fail(1, "--filter-file %s: %s", path, strerror(errno));
	*len = n;
	return buf;
}

/* A filter that does not parse: one line with where and why, then the line of the expression that holds
 * the error, under which a caret points at the column; exit 2. */
static void filter_error(const char *what, const char *expr, size_t len, size_t off, const char *why)
{
	if (off > len)
		off = len;
	size_t bol = off, eol = off, line = 1;
	while (bol > 0 && expr[bol - 1] != '\n')
		bol--;
	while (eol < len && expr[eol] != '\n')
		eol++;
	for (size_t i = 0; i < bol; i++)
		line += expr[i] == '\n';
	char where[64];
	if (line > 1 || eol < len)
		snprintf(where, sizeof(where), "line %zu, column %zu", line, off - bol + 1);
	else
		snprintf(where, sizeof(where), "column %zu", off - bol + 1);
	/* the reason quotes the value, which may hold a newline: one line all the same */
	char reason[300];
	snprintf(reason, sizeof(reason), "%s", why);
	for (char *c = reason; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
	int lead = fprintf(stderr, "dnstap: %s: %s: %s: ", what, where, reason);
	for (size_t i = bol; i < eol; i++) {
		unsigned char c = (unsigned char)expr[i];
		fputc(c == '\t' ? ' ' : c < ' ' || c == 0x7f ? '?' : c, stderr);
	}
	fprintf(stderr, "\n%*s^\n", lead + (int)(off - bol), "");
	exit(2);
}

static void on_predicate(void *arg, const char *text, uint64_t evaluated, uint64_t matched)
{
	(void)arg;
	fprintf(stderr, "dnstap: --filter: %s: matched %llu of %llu\n", text, (unsigned long long)matched,
		(unsigned long long)evaluated);
}

/* With -v, or where a listening run reports its totals: what the filter kept, predicate by predicate. */
static void filter_summary(const struct run *r, const struct dt_pipeline_stats *ps, bool listening)
{
	if (!(r->args.verbose || (listening && r->log_level >= LOG_INFO)))
		return;
	uint64_t dropped = ps->dropped[r->filter_stage], seen = ps->items;
	for (unsigned i = 0; i < r->filter_stage; i++)
		seen -= ps->dropped[i];
	fprintf(stderr, "dnstap: --filter: kept %llu of %llu message%s\n", (unsigned long long)(seen - dropped),
		(unsigned long long)seen, seen == 1 ? "" : "s");
	dt_filter_foreach_predicate(r->filter, on_predicate, NULL);
}

/* --filter or --filter-file and --sample, checked before anything else (a run that needs no input:
 * --print-filter prints the parsed filter and ends there). */
static void parse_filter(struct run *r)
{
	const struct args *a = &r->args;
	if (a->filter != NULL && a->filter_file != NULL)
		usage_error("--filter and --filter-file: give one of them");
	if (a->print_filter && a->filter == NULL && a->filter_file == NULL)
		usage_error("--print-filter needs --filter or --filter-file");
	if (a->sample_key != NULL && a->sample == 0)
		usage_error("--sample-key needs --sample");
	enum dt_sample_key key = DT_SAMPLE_MESSAGE;
	if (a->sample_key != NULL && strcmp(a->sample_key, "client") == 0)
		key = DT_SAMPLE_CLIENT;
	else if (a->sample_key != NULL && strcmp(a->sample_key, "message") != 0)
		usage_error("invalid value \"%s\" for flag --sample-key (want message or client)", a->sample_key);
	if (a->filter != NULL || a->filter_file != NULL) {
		size_t len = a->filter != NULL ? strlen(a->filter) : 0;
		char *file = a->filter_file != NULL ? read_filter_file(a->filter_file, &len) : NULL;
		const char *expr = file != NULL ? file : a->filter;
		char err[300], what[PATH_MAX + 20];
		size_t off;
		dt_res res;
		struct dt_filter *f = dt_filter_new(expr, len, err, sizeof(err), &off, &res);
		if (file != NULL)
			snprintf(what, sizeof(what), "--filter-file %s", a->filter_file);
		else
			snprintf(what, sizeof(what), "--filter");
		if (f == NULL && res == DT_ERR_INVALID)
			filter_error(what, expr, len, off, err);
		if (f == NULL)
			fail(1, "%s: %s", what, err);
		free(file);
		if (a->print_filter) {
			struct dt_buf b = {0};
			if (dt_filter_format(f, &b) != DT_OK)
				fail(1, "%s: out of memory", what);
			printf("%.*s\n", (int)b.len, b.data);
			dt_buf_free(&b);
			dt_filter_free(f);
			exit(fflush(stdout) == 0 ? 0 : 1);
		}
		r->filter = f;
	}
	r->sample_key = key;
}

/* The filter and the sampler: stages in front of the anonymisation and every output. */
/* The filter's per-predicate counters in the statistics' reports (/metrics, /stats.json, --stats). */
static void predicate_sample(void *arg, const char *text, uint64_t evaluated, uint64_t matched)
{
	struct dt_metrics_writer *w = arg;
	struct dt_label l[2] = {{"predicate", text}, {"result", "matched"}};
	dt_metrics_sample(w, NULL, l, 2, matched);
	l[1].value = "evaluated";
	dt_metrics_sample(w, NULL, l, 2, evaluated);
}

static void filter_source(void *arg, struct dt_metrics_writer *w)
{
	dt_metrics_family(w, "dnstap_filter_predicate_total", DT_METRIC_COUNTER,
			  "Items each --filter predicate was evaluated on, and matched.");
	dt_filter_foreach_predicate(arg, predicate_sample, w);
}

static void add_filter_and_sampler(struct run *r)
{
	const struct args *a = &r->args;
	if (r->filter != NULL) {
		if (dt_pipeline_add_stage(r->pipe, &dt_filter_stage, r->filter) != DT_OK)
			fail(1, "cannot set up the pipeline: out of memory");
		r->filter_stage = r->stages++;
		if (r->stats != NULL && dt_stats_add_source(r->stats, filter_source, r->filter) != DT_OK)
			fail(1, "cannot set up the statistics: out of memory");
	}
	if (a->sample > 0) {
		struct dt_sample_options so = {.n = a->sample, .key = r->sample_key};
		dt_res res;
		struct dt_sampler *s = dt_sampler_new(&so, &res);
		if (s == NULL || dt_pipeline_add_stage(r->pipe, &dt_sample_stage, s) != DT_OK)
			fail(1, "cannot set up the pipeline: out of memory");
		r->stages++;
	}
}

/* ==== Statistics ==== */

static bool wants_stats(const struct args *a)
{
	return a->stats || a->metrics != NULL || a->stats_interval != 0;
}

/* --stats alone prints the report and nothing per message: no output is opened. */
static bool stats_only(const struct args *a)
{
	return a->stats && a->write == NULL && !a->quiet && !a->yaml && !a->json && a->format == NULL &&
	       a->unix_out.n + a->tcp_out.n == 0 && a->kafka == NULL;
}

static void on_stats_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;
	struct dt_buf b = {0};
	if (dt_stats_summary_line(r->stats, &b) == DT_OK)
		fprintf(stderr, "dnstap: %.*s\n", (int)b.len, b.data);
	dt_buf_free(&b);
}

/* The statistics stage, first in the pipeline so that it sees every arrival (before a filter or a
 * sample drops anything); its flags are checked here. */
static void add_stats(struct run *r)
{
	const struct args *a = &r->args;
	bool listening = a->unix_in.n + a->tcp_in.n > 0 || r->passed > 0;
	if (!wants_stats(a)) {
		if (a->stats_format || a->metrics_allow.n > 0 || a->top || a->latency_slots)
			usage_error(
				"--stats-format, --metrics-allow, --top and --latency-slots need --stats, --metrics or --stats-interval");
		return;
	}
	if (a->stats_format != NULL && strcmp(a->stats_format, "text") != 0 && strcmp(a->stats_format, "json") != 0)
		usage_error("invalid value \"%s\" for flag --stats-format (want text or json)", a->stats_format);
	if (a->stats_format != NULL && !a->stats)
		usage_error("--stats-format needs --stats");
	if (a->metrics_allow.n > 0 && a->metrics == NULL)
		usage_error("--metrics-allow needs --metrics");
	/* serving metrics while a file is read is over before anyone could ask */
	if ((a->metrics != NULL || a->stats_interval != 0) && !listening && a->kafka_in == NULL)
		usage_error(
			"--metrics and --stats-interval need a listening run (-u, -l or passed sockets) or --kafka-in");
	struct dt_stats_options so;
	dt_stats_options_init(&so);
	if (a->top)
		so.top = (unsigned)a->top;
	if (a->latency_slots)
		so.latency_slots = (unsigned)a->latency_slots;
	dt_res res;
	r->stats = dt_stats_new(&so, &res);
	if (r->stats == NULL)
		fail(1, "cannot set up the statistics: out of memory");
	if (dt_pipeline_add_stage(r->pipe, &dt_stats_stage, r->stats) != DT_OK)
		fail(1, "cannot set up the pipeline: out of memory");
	r->stages++; /* the stages after it count their drops from index 1 */
	dt_stats_set_pipeline(r->stats, r->pipe);
}

/* Once the listener and the outputs exist: their counters into the reports, the HTTP server and the
 * interval timer on the listener's loop. Before privileges go, so that a low port can be bound. */
static bool start_stats(struct run *r)
{
	const struct args *a = &r->args;
	if (r->stats == NULL)
		return true;
	if (r->listener != NULL)
		dt_stats_set_listener(r->stats, r->listener);
	/* --kafka-in reads in a loop of its own: the server and the timer get a loop that its tick turns
	 * (see kafka_tick()) */
	if (r->base == NULL && (a->metrics != NULL || a->stats_interval != 0) && (r->base = event_base_new()) == NULL)
		fail(1, "cannot set up the event loop: out of memory");
	const char *name;
	const struct dt_output *o;
	for (unsigned i = 0; (o = dt_pipeline_output(r->pipe, i, &name)) != NULL; i++) {
		struct dt_kafka_stats ks;
		enum dt_stats_output_kind kind = dt_output_kafka_stats(o, &ks) == DT_OK ? DT_STATS_OUTPUT_KAFKA
						 : r->relay != NULL && strcmp(name, r->relay) == 0
							 ? DT_STATS_OUTPUT_RELAY
							 : DT_STATS_OUTPUT_FILE;
		if (dt_stats_add_output(r->stats, o, name, kind) != DT_OK)
			fail(1, "cannot set up the statistics: out of memory");
	}
	if (a->metrics != NULL) {
		dt_res res;
		r->metrics = dt_metrics_server_new(r->base, r->stats, a->metrics, &res);
		if (r->metrics == NULL && res == DT_ERR_INVALID)
			usage_error("invalid value \"%s\" for flag --metrics (want HOST:PORT or [IPv6]:PORT)",
				    a->metrics);
		if (r->metrics == NULL) {
			warn("--metrics %s: cannot listen: %s", a->metrics,
			     res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
			return false;
		}
		for (size_t i = 0; i < a->metrics_allow.n; i++)
			if (dt_metrics_server_allow(r->metrics, a->metrics_allow.v[i]) != DT_OK)
				usage_error(
					"invalid value \"%s\" for flag --metrics-allow (want an address or ADDRESS/BITS)",
					a->metrics_allow.v[i]);
		if (r->log_level >= LOG_INFO)
			fprintf(stderr, "dnstap: metrics on http://%.*s:%u/\n",
				(int)(strrchr(a->metrics, ':') - a->metrics), a->metrics,
				dt_metrics_server_port(r->metrics));
	}
	if (a->stats_interval != 0) {
		struct timeval tv = {(time_t)a->stats_interval, 0};
		r->stats_tick = event_new(r->base, -1, EV_PERSIST, on_stats_tick, r);
		if (r->stats_tick == NULL || event_add(r->stats_tick, &tv) != 0)
			fail(1, "cannot set up the event loop: out of memory");
	}
	return true;
}

/* The end: the server and the timer go (before the pipeline, which owns the statistics), and --stats
 * prints its report. */
static void finish_stats(struct run *r)
{
	if (r->stats == NULL)
		return;
	dt_metrics_server_free(r->metrics);
	r->metrics = NULL;
	if (r->stats_tick != NULL)
		event_free(r->stats_tick);
	r->stats_tick = NULL;
	if (!r->args.stats)
		return;
	dt_pipeline_flush(r->pipe); /* so that what the outputs wrote is in the counts */
	struct dt_buf b = {0};
	bool json = r->args.stats_format != NULL && strcmp(r->args.stats_format, "json") == 0;
	dt_res res = json ? dt_stats_json(r->stats, &b) : dt_stats_report(r->stats, &b);
	/* standard output is the report's unless messages are printed there */
	const struct args *a = &r->args;
	bool text = a->quiet || a->yaml || a->json || a->format != NULL;
	bool printing = !stats_only(a) && a->unix_out.n + a->tcp_out.n == 0 &&
			(a->write == NULL || strcmp(a->write, "-") == 0) &&
			!(a->kafka != NULL && a->write == NULL && !text);
	FILE *f = printing ? stderr : stdout;
	if (res == DT_OK) {
		fwrite(b.data, 1, b.len, f);
		fflush(f);
	} else {
		warn("--stats: out of memory");
	}
	dt_buf_free(&b);
}

/* What --format pcap wrote, and what it could not: messages that carry no DNS wire bytes. */
static void pcap_summary(const struct dt_output *o)
{
	struct dt_output_stats st;
	if (dt_output_stats(o, &st) != DT_OK)
		return;
	fprintf(stderr, "dnstap: %s: %llu packet%s from %llu message%s; %llu message%s skipped (no DNS wire message)\n",
		dt_output_name(o), (unsigned long long)st.packets, st.packets == 1 ? "" : "s",
		(unsigned long long)st.written, st.written == 1 ? "" : "s", (unsigned long long)st.skipped,
		st.skipped == 1 ? "" : "s");
}

/* Frees what the run took; the pipeline (and with it the output) is closed by the caller first. */
static void cleanup(struct run *r)
{
	dt_listener_free(r->listener);
	struct event *evs[] = {r->sigint, r->sigterm, r->sighup};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	if (r->base != NULL)
		event_base_free(r->base);
}

int main(int argc, char **argv)
{
	evmem_install(); /* before any libevent call */
	struct run r = {0};
	r.args.kafka_flush_ms = 10000;
	r.args.kafka_stats_ms = 60000;
	parse_args(argc, argv, &r.args);
	parse_filter(&r);
	r.passed = service_listen_fds(&r.passed_names);
	if (r.passed < 0)
		fail(1, "LISTEN_FDS: %s", strerror(errno));
	resolve_format(&r.args);
	check_args(&r.args, r.passed);
	resolve_users(&r.args);
	r.log_level = r.args.silent ? LOG_WARNING : r.args.verbose ? LOG_DEBUG : LOG_INFO;

	/* a vanished reader of standard output shows up as EPIPE, handled where we write */
	signal(SIGPIPE, SIG_IGN);

	bool listening = r.args.unix_in.n + r.args.tcp_in.n > 0 || r.passed > 0;
	if (listening) {
		/* precise timers: the listener's batched reads wait 200 us on a unix socket, which
		 * epoll's millisecond timeouts would stretch to a millisecond or more */
		struct event_config *cfg = event_config_new();
		if (cfg != NULL)
			event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
		r.base = cfg != NULL ? event_base_new_with_config(cfg) : NULL;
		if (cfg != NULL)
			event_config_free(cfg);
		if (r.base == NULL)
			fail(1, "cannot set up the event loop");
	}
	struct dt_pipeline_options po;
	dt_pipeline_options_init(&po);
	po.base = r.base;
	po.log = on_log;
	po.log_arg = &r;
	if ((r.pipe = dt_pipeline_new(&po)) == NULL)
		fail(1, "cannot set up the pipeline: out of memory");
	add_stats(&r);
	add_filter_and_sampler(&r);
	if (r.args.anonymize != NULL)
		add_anonymizer(&r);
	else if (r.args.anonymize_answers)
		usage_error("--anonymize-answers needs --anonymize");
	else if (r.args.anonymize_qname)
		usage_error("--anonymize-qname needs --anonymize");

	/* sockets, then the first output file, then no more privileges, then the first frame */
	bool ok = (!listening || start_listening(&r)) && (r.args.drop || safe_rotation_dir(&r.args)) &&
		  (stats_only(&r.args) || open_output(&r)) && start_stats(&r) && drop_privileges(&r.args);
	if (ok) {
		service_notify("READY=1");
		read_files(&r);
		if (r.args.kafka_in != NULL)
			read_kafka(&r);
		if (listening && !failed(&r))
			run_listener(&r);
	}
	if (r.listener != NULL)
		dt_listener_shutdown(r.listener);
	struct dt_pipeline_stats ps;
	dt_pipeline_get_stats(r.pipe, &ps);
	if (r.pcap_out != NULL && r.log_level >= LOG_INFO && !ps.broken)
		pcap_summary(r.pcap_out);
	if (r.filter != NULL)
		filter_summary(&r, &ps, listening);
	if (r.anonymizer != NULL)
		anonymize_summary(&r, &ps);
	finish_stats(&r);
	dt_res res = dt_pipeline_close(r.pipe);
	dt_template_free(r.args.tmpl);
	cleanup(&r);
	service_free_names(r.passed_names);
	if (!ok || r.usage)
		return r.usage ? 2 : 1;
	if (res != DT_OK && !(res == DT_ERR_IO && errno == EPIPE))
		return 1;
	return r.bad || (ps.broken && !ps.reader_gone) ? 1 : 0;
}
