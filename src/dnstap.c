/* dnstap: read dnstap from files (and, later, sockets), print it as text or write it to Frame Streams
 * files. Flag-compatible with the Go dnstap tool; its text output matches that tool's byte for byte.
 * main() reads like a table of contents: parse the flags, open the output, run the inputs, close. */
#include "config.h"

#include <dnstap.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const char *timeout;
	size_t max_frame_size;
};

static const char usage_text[] =
	"Usage: dnstap [OPTION]...\n"
	"Read dnstap from files or sockets; print it as text or write it to Frame Streams files.\n"
	"\n"
	"Inputs (each may be given several times):\n"
	"  -r FILE        read dnstap payloads from a Frame Streams file (- for standard input)\n"
	"  -u PATH        read dnstap payloads from a unix socket\n"
	"  -l ADDR:PORT   read dnstap payloads from tcp/ip\n"
	"Outputs:\n"
	"  -w FILE        write output to FILE (- for standard output); without -q, -y or -j, FILE\n"
	"                 is a binary Frame Streams file holding the input's frames unchanged\n"
	"  -a             append to the text output file instead of overwriting it\n"
	"  -U PATH        write dnstap payloads to a unix socket\n"
	"  -T ADDR:PORT   write dnstap payloads to a tcp/ip address\n"
	"Formats (at most one; quiet text is the default on standard output):\n"
	"  -q             quiet text output, one line per message\n"
	"  -y             verbose YAML output\n"
	"  -j             verbose JSON output, one object per line\n"
	"Limits:\n"
	"  -t DURATION    I/O timeout for sockets (Go syntax: 500ms, 2s, 1m)\n"
	"  --max-frame-size BYTES\n"
	"                 largest data frame accepted (default 262144); larger ones are skipped\n"
	"Other:\n"
	"  -h, --help     show this help and exit\n"
	"  --version      show the version and exit\n"
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

static void fail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void fail(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("dnstap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
	va_list ap;
	fputs("dnstap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("dnstap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'dnstap --help' for more information.\n", stderr);
	exit(2);
}

static void list_add(struct list *l, const char *flag, const char *v)
{
	if (l->n == MAX_LIST)
		usage_error("too many -%s flags (at most %d)", flag, MAX_LIST);
	l->v[l->n++] = v;
}

static size_t parse_size(const char *flag, const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < 1 || n > UINT32_MAX)
		usage_error("invalid value \"%s\" for flag -%s", v, flag);
	return (size_t)n;
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

		bool *boolean = NULL;
		if (strcmp(flag, "q") == 0)
			boolean = &a->quiet;
		else if (strcmp(flag, "y") == 0)
			boolean = &a->yaml;
		else if (strcmp(flag, "j") == 0)
			boolean = &a->json;
		else if (strcmp(flag, "a") == 0)
			boolean = &a->append;
		if (boolean != NULL) {
			if (eq == NULL || strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0)
				*boolean = true;
			else if (strcmp(eq + 1, "false") == 0 || strcmp(eq + 1, "0") == 0)
				*boolean = false;
			else
				usage_error("invalid boolean value \"%s\" for -%s", eq + 1, flag);
			continue;
		}
		if (strcmp(flag, "h") == 0 || strcmp(flag, "help") == 0) {
			fputs(usage_text, stdout);
			exit(0);
		}
		if (strcmp(flag, "version") == 0) {
			printf("dnstap (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			exit(0);
		}

		static const char *const valued[] = {"r", "u", "l", "U", "T", "w", "t", "max-frame-size"};
		bool known = false;
		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			known = known || strcmp(flag, valued[k]) == 0;
		if (!known)
			usage_error("flag provided but not defined: -%s", flag);
		const char *value = eq ? eq + 1 : NULL;
		if (value == NULL) {
			if (i + 1 >= argc)
				usage_error("flag needs an argument: -%s", flag);
			value = argv[++i];
		}
		if (strcmp(flag, "r") == 0)
			list_add(&a->read, flag, value);
		else if (strcmp(flag, "u") == 0)
			list_add(&a->unix_in, flag, value);
		else if (strcmp(flag, "l") == 0)
			list_add(&a->tcp_in, flag, value);
		else if (strcmp(flag, "U") == 0)
			list_add(&a->unix_out, flag, value);
		else if (strcmp(flag, "T") == 0)
			list_add(&a->tcp_out, flag, value);
		else if (strcmp(flag, "w") == 0)
			a->write = value;
		else if (strcmp(flag, "t") == 0)
			a->timeout = value;
		else if (strcmp(flag, "max-frame-size") == 0)
			a->max_frame_size = parse_size(flag, value);
		else
			usage_error("flag provided but not defined: -%s", flag);
	}
}

/* ==== Running ==== */

struct run {
	struct args args;
	struct dt_output *out;
	const char *out_name;
	bool bad;       /* some input or frame was bad: exit 1 at the end */
	bool reader_gone; /* standard output's reader went away: stop quietly */
};

/* Says what was wrong with an input. Pending output is written first so that, on a terminal, the
 * complaint appears after the frames that preceded it. */
static void complain(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void complain(struct run *r, const char *fmt, ...)
{
	va_list ap;
	r->bad = true;
	if (r->out != NULL)
		dt_output_flush(r->out);
	fputs("dnstap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Hands one payload to the output. Returns false when the output is broken and the run must stop. */
static bool deliver(struct run *r, const char *input, uint64_t frame, const uint8_t *p, size_t n)
{
	dt_res res = dt_output_write(r->out, p, n);
	if (res == DT_OK)
		return true;
	if (res == DT_ERR_IO) {
		if (errno == EPIPE) {
			r->reader_gone = true;
			return false;
		}
		fail(1, "%s: write error: %s", r->out_name, strerror(errno));
	}
	complain(r, "%s: frame %llu: %s", input, (unsigned long long)frame, dt_strerror(res));
	return true;
}

static void read_file(struct run *r, const char *path)
{
	const char *name = strcmp(path, "-") == 0 ? "(stdin)" : path;
	dt_res res;
	struct dt_reader *rd = dt_reader_open(path, r->args.max_frame_size, &res);
	if (rd == NULL) {
		if (res == DT_ERR_IO)
			complain(r, "%s: %s", name, strerror(errno));
		else if (res == DT_ERR_EOF)
			complain(r, "%s: empty file, not a Frame Streams file", name);
		else
			complain(r, "%s: %s", name, dt_strerror(res));
		return;
	}
	if (dt_reader_no_content_type(rd))
		warn("%s: START frame has no content type; reading it as %s", name, DT_CONTENT_TYPE);

	for (;;) {
		const uint8_t *p = NULL;
		size_t n = 0;
		res = dt_reader_next(rd, &p, &n);
		uint64_t frame = dt_reader_frame_count(rd);
		if (res == DT_OK) {
			if (!deliver(r, name, frame, p, n))
				break;
			continue;
		}
		if (res == DT_STOP)
			break;
		if (res == DT_ERR_TOO_BIG) {
			size_t limit = r->args.max_frame_size ? r->args.max_frame_size : DT_DEFAULT_MAX_FRAME_SIZE;
			complain(r, "%s: frame %llu: data frame larger than %zu bytes, skipped", name,
			     (unsigned long long)frame, limit);
			continue;
		}
		if (res == DT_ERR_EOF)
			complain(r, "%s: file ends without a STOP frame after %llu frames (cut short?)", name,
			     (unsigned long long)frame);
		else if (res == DT_ERR_TRUNCATED)
			complain(r, "%s: frame %llu: file ends in the middle of a frame", name,
			     (unsigned long long)frame + 1);
		else if (res == DT_ERR_IO)
			complain(r, "%s: read error: %s", name, strerror(errno));
		else
			complain(r, "%s: after frame %llu: %s", name, (unsigned long long)frame, dt_strerror(res));
		break;
	}
	dt_reader_close(rd);
}

static enum dt_format chosen_format(const struct args *a)
{
	if (a->yaml)
		return DT_FORMAT_YAML;
	if (a->json)
		return DT_FORMAT_JSON;
	return DT_FORMAT_QUIET;
}

static void open_output(struct run *r)
{
	const struct args *a = &r->args;
	bool text = a->quiet || a->yaml || a->json;
	bool to_stdout = a->write == NULL || strcmp(a->write, "-") == 0;
	dt_res res;
	r->out_name = to_stdout ? "(stdout)" : a->write;
	if (to_stdout) {
		if (a->append && text)
			fail(1, "cannot append to standard output (-a with -w -)");
		r->out = dt_output_text_open(NULL, chosen_format(a), false, &res);
	} else if (text) {
		r->out = dt_output_text_open(a->write, chosen_format(a), a->append, &res);
	} else {
		if (a->append)
			warn("-a ignored: a binary Frame Streams file is always written anew");
		r->out = dt_output_fstrm_open(a->write, false, &res);
	}
	if (r->out == NULL)
		fail(1, "%s: %s", r->out_name, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
}

int main(int argc, char **argv)
{
	struct run r = {0};
	parse_args(argc, argv, &r.args);
	struct args *a = &r.args;

	if (a->read.n + a->unix_in.n + a->tcp_in.n == 0)
		fail(1, "Error: no inputs specified.");
	if ((int)a->quiet + (int)a->yaml + (int)a->json > 1)
		fail(1, "Error: specify at most one of -q, -y, or -j.");
	if (a->unix_in.n + a->tcp_in.n + a->unix_out.n + a->tcp_out.n > 0)
		fail(1, "socket inputs and outputs (-u, -l, -U, -T) are not available in this version yet");

	/* a vanished reader of standard output shows up as EPIPE, handled where we write */
	signal(SIGPIPE, SIG_IGN);

	open_output(&r);
	for (size_t i = 0; i < a->read.n && !r.reader_gone; i++)
		read_file(&r, a->read.v[i]);
	dt_res res = dt_output_close(r.out);
	if (res != DT_OK && !(res == DT_ERR_IO && errno == EPIPE))
		fail(1, "%s: write error: %s", r.out_name, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
	return r.bad ? 1 : 0;
}
