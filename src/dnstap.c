/* dnstap: read dnstap from files and from DNS servers on unix and TCP sockets; print it as text or write
 * it to Frame Streams files (rotated on SIGHUP, by time or by size). Flag-compatible with the Go dnstap
 * tool; its text output matches that tool's byte for byte. main() reads like a table of contents: parse
 * the flags, listen, open the output, read the files, run the event loop, close. */
#include "config.h"

#include <dnstap.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

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
	unsigned timeout_ms; /* -t, parsed */
	bool has_timeout;
	unsigned max_connections;
	unsigned split;    /* --split SECONDS */
	uint64_t max_size; /* --max-size BYTES */
	bool verbose, silent;
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
	"Rotation of -w FILE (FILE may hold strftime(3) fields such as %Y%m%d-%H%M%S):\n"
	"  --split SECONDS\n"
	"                 start a new file every SECONDS seconds (at multiples of SECONDS)\n"
	"  --max-size BYTES\n"
	"                 start a new file before the current one would exceed BYTES\n"
	"                 (SIGHUP also starts a new file; without these flags it reopens FILE)\n"
	"Limits:\n"
	"  -t DURATION    time a socket sender has to complete its handshake (Go syntax: 500ms,\n"
	"                 2s, 1m; default 10s; 0 for no limit)\n"
	"  --max-frame-size BYTES\n"
	"                 largest data frame accepted (default 262144); larger ones are skipped\n"
	"  --max-connections N\n"
	"                 most sender connections at once (default 1024); more wait their turn\n"
	"Logging (on standard error):\n"
	"  -v             also log each sender's handshake\n"
	"  --silent       log only problems, not connections and totals\n"
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

static void list_add(struct list *l, const char *flag, const char *v)
{
	if (l->n == MAX_LIST)
		usage_error("too many -%s flags (at most %d)", flag, MAX_LIST);
	if (v[0] == '\0')
		usage_error("-%s needs a name, not an empty string", flag);
	l->v[l->n++] = v;
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

static size_t parse_size(const char *flag, const char *v)
{
	return (size_t)parse_number(flag, v, UINT32_MAX);
}

/* A Go duration ("500ms", "2s", "1m30s", "1.5h", "0") in milliseconds; sub-millisecond values round up. */
static unsigned parse_duration(const char *flag, const char *v)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"\xce\xbcs", 1e-3}, {"ms", 1},
		     {"s", 1e3},   {"m", 6e4},   {"h", 3.6e6}};
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
		else if (strcmp(flag, "v") == 0)
			boolean = &a->verbose;
		else if (strcmp(flag, "silent") == 0)
			boolean = &a->silent;
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

		static const char *const valued[] = {"r", "u", "l", "U", "T", "w", "t", "max-frame-size",
						     "max-connections", "split", "max-size"};
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
		else if (strcmp(flag, "w") == 0 && value[0] == '\0')
			usage_error("-w needs a file name, not an empty string");
		else if (strcmp(flag, "w") == 0)
			a->write = value;
		else if (strcmp(flag, "t") == 0) {
			a->timeout = value;
			a->timeout_ms = parse_duration(flag, value);
			a->has_timeout = true;
		} else if (strcmp(flag, "max-frame-size") == 0)
			a->max_frame_size = parse_size(flag, value);
		else if (strcmp(flag, "max-connections") == 0)
			a->max_connections = (unsigned)parse_number(flag, value, 1000000);
		else if (strcmp(flag, "split") == 0)
			a->split = (unsigned)parse_number(flag, value, 366u * 24 * 3600);
		else if (strcmp(flag, "max-size") == 0)
			a->max_size = parse_number(flag, value, UINT64_MAX);
		else
			usage_error("flag provided but not defined: -%s", flag);
	}
}

/* ==== Running ==== */

/* What arrives is written out (to the kernel) within this many milliseconds. */
#define FLUSH_DELAY_MS 10

/* Sizes of the framing around the frames of a Frame Streams file: START with the content type, STOP. */
#define FILE_START_SIZE 42
#define FILE_STOP_SIZE 12

struct run {
	struct args args;
	struct dt_output *out;
	const char *out_name;
	bool bad;       /* some input or frame was bad: exit 1 at the end */
	bool reader_gone; /* standard output's reader went away: stop quietly */
	bool rotate_held; /* a rotation failed: --max-size tries again at the next tick, not every frame */

	/* The output file, for SIGHUP and rotation. */
	bool text, to_stdout;
	bool rotating;       /* --split or --max-size: -w is a strftime pattern, every file a new one */
	char path[PATH_MAX]; /* the file being written */
	bool have_id;        /* dev/ino of path when it was opened: has it been moved away since? */
	dev_t dev;
	ino_t ino;
	uint64_t size;        /* bytes in the current Frame Streams file, STOP not included */
	uint64_t file_frames; /* frames in the current file */

	/* Listening: one libevent loop for the sockets, the signals and the timers. */
	struct event_base *base;
	struct dt_listener *listener;
	struct event *sigint, *sigterm, *sighup, *tick, *soon, *split;
	bool soon_pending;
	bool ran;      /* the loop ran: a summary is due */
	bool broken;   /* the output failed: stop */
	uint64_t lost;       /* payloads received that the output lacks: it failed */
	uint64_t out_frames; /* payloads handed to the current output */
	int log_level; /* syslog priority of the least urgent line shown */
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
	va_start(ap, fmt);
	vsay(fmt, ap, "\n");
	va_end(ap);
}

/* A line about the listener's life (connections, rotation, the summary), shown as -v/--silent say. */
static void note(struct run *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void note(struct run *r, int level, const char *fmt, ...)
{
	if (level > r->log_level)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "dnstap: %s\n", line);
}

static bool rotate(struct run *r, const char *why);
static void output_failed(struct run *r, dt_res res);

/* With --max-size, starts a new Frame Streams file before this frame would make the current one too
 * big (a file always takes at least one frame). Text files are measured by the timer instead. */
static void rotate_for_size(struct run *r, size_t n)
{
	if (r->args.max_size != 0 && !r->text && r->file_frames > 0 && !r->rotate_held &&
	    r->size + 4 + n + FILE_STOP_SIZE > r->args.max_size)
		rotate(r, "size");
}

/* Hands one payload to the output. Returns false when the output is broken and the run must stop. */
static bool deliver(struct run *r, const char *input, uint64_t frame, const uint8_t *p, size_t n)
{
	rotate_for_size(r, n);
	if (r->broken)
		return false;
	dt_res res = dt_output_write(r->out, p, n);
	r->size += 4 + n;
	r->file_frames++;
	if (res == DT_OK)
		return true;
	if (res == DT_ERR_IO) {
		/* no exit() from here: the reader is open, and the sanitizer build counts it as a leak */
		output_failed(r, res);
		return false;
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

static struct dt_output *open_file(struct run *r, const char *path, dt_res *res)
{
	if (r->text)
		return dt_output_text_open(path, chosen_format(&r->args), r->args.append, res);
	return dt_output_fstrm_open(path, false, res);
}

/* Notes which file path names now, so that SIGHUP can tell whether it has been moved away. */
static void remember_file(struct run *r)
{
	struct stat st;
	r->have_id = stat(r->path, &st) == 0;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->size = FILE_START_SIZE;
	r->file_frames = 0;
}

/* The name of the next file of a rotating output: the -w pattern through strftime(3), in local time,
 * with "-N" added before the extension when that file exists already (two rotations within one second,
 * or a pattern without time fields): a finished file is never overwritten. */
static bool next_name(struct run *r, char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	char name[PATH_MAX];
	struct stat st;
	size_t n = localtime_r(&now, &tm) ? strftime(name, sizeof(name), r->args.write, &tm) : 0;
	if (n == 0 || n >= size)
		return false;
	if (lstat(name, &st) != 0 && errno == ENOENT) {
		memcpy(out, name, n + 1);
		return true;
	}
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *ext = strrchr(base, '.');
	if (ext == NULL || ext == base)
		ext = name + n;
	for (unsigned i = 1; i < 1000000; i++) {
		int len = snprintf(out, size, "%.*s-%u%s", (int)(ext - name), name, i, ext);
		if (len < 0 || (size_t)len >= size)
			return false;
		if (lstat(out, &st) != 0 && errno == ENOENT)
			return true;
	}
	return false;
}

/* Set once the relay's own log has said something: its reason for a failed first connection (a name
 * that does not resolve, say) is more precise than the errno open returns. */
static bool relay_spoke;

static void relay_log(void *ctx, const char *msg)
{
	relay_spoke = true;
	fprintf(stderr, "dnstap: %s: %s\n", (const char *)ctx, msg);
}

/* -U/-T: relay payloads to a Frame Streams receiver. Reading files, the relay waits for room rather than
 * drop, and the run ends only once the receiver has acknowledged STOP with FINISH; fed by sockets, it
 * never blocks the listener: a full queue drops and counts, and it reconnects on its own. */
static bool open_relay(struct run *r)
{
	const struct args *a = &r->args;
	char spec[PATH_MAX + 8];
	struct dt_sender_options so;
	dt_res res;
	dt_sender_options_init(&so);
	so.blocking = a->unix_in.n + a->tcp_in.n == 0;
	so.log = relay_log;
	r->out_name = a->unix_out.n > 0 ? a->unix_out.v[0] : a->tcp_out.v[0];
	so.log_ctx = (void *)(uintptr_t)r->out_name;
	snprintf(spec, sizeof(spec), "%s%s", a->unix_out.n > 0 ? "unix://" : "tcp://", r->out_name);
	r->out = dt_output_socket_open(spec, &so, &res);
	if (r->out != NULL || relay_spoke)
		return r->out != NULL;
	if (res == DT_ERR_INVALID && a->unix_out.n > 0 && strlen(r->out_name) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		warn("%s: %s", r->out_name, strerror(ENAMETOOLONG));
	else if (res == DT_ERR_INVALID && a->unix_out.n == 0)
		warn("%s: bad address (want HOST:PORT or [IPv6]:PORT)", r->out_name);
	else
		warn("%s: %s", r->out_name, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
	return false;
}

static bool open_output(struct run *r)
{
	const struct args *a = &r->args;
	dt_res res;
	r->text = a->quiet || a->yaml || a->json;
	r->to_stdout = a->write == NULL || strcmp(a->write, "-") == 0;
	r->rotating = !r->to_stdout && (a->split != 0 || a->max_size != 0);
	r->out_name = r->to_stdout ? "(stdout)" : a->write;
	if (a->unix_out.n + a->tcp_out.n > 0)
		return open_relay(r);
	if (r->to_stdout) {
		if (a->append && r->text) {
			warn("cannot append to standard output (-a with -w -)");
			return false;
		}
		r->out = dt_output_text_open(NULL, chosen_format(a), false, &res);
	} else {
		if (a->append && !r->text)
			warn("-a ignored: a binary Frame Streams file is always written anew");
		if (!r->rotating) {
			/* path serves SIGHUP's "has it been moved?" only; a name too long for it fails to open */
			snprintf(r->path, sizeof(r->path), "%s", a->write);
			r->out = open_file(r, a->write, &res);
		} else if (!next_name(r, r->path, sizeof(r->path))) {
			warn("%s: cannot make a file name from this pattern", a->write);
			return false;
		} else {
			r->out_name = r->path;
			r->out = open_file(r, r->path, &res);
			if (r->out != NULL)
				note(r, LOG_INFO, "writing %s", r->path);
		}
		remember_file(r);
	}
	if (r->out == NULL) {
		warn("%s: %s", r->out_name, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
		return false;
	}
	return true;
}

/* ==== Rotation and flushing ==== */

/* The output cannot take more: stop (quietly if it was standard output's reader that went away). */
static void output_failed(struct run *r, dt_res res)
{
	if (!r->broken && r->out != NULL) {
		/* a Frame Streams file knows which of its frames made it out whole; for text, the frame that
		 * met the error is the one counted (what was pending with it may be cut too) */
		int e = errno;
		uint64_t written = dt_output_frames_written(r->out);
		r->lost += written <= r->out_frames ? r->out_frames - written : 1;
		errno = e;
	}
	if (!r->broken) {
		if (res == DT_ERR_IO && errno == EPIPE) {
			r->reader_gone = true;
		} else {
			warn("%s: write error: %s", r->out_name, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
			r->bad = true;
		}
	}
	r->broken = true;
	if (r->base != NULL)
		event_base_loopbreak(r->base);
}

static void flush_output(struct run *r)
{
	if (r->broken)
		return;
	dt_res res = dt_output_flush(r->out);
	if (res != DT_OK)
		output_failed(r, res);
}

/* Starts the next file of a rotating output: the new one is opened first, so that a failure leaves the
 * current file in use; then the current one is finished (STOP) and closed. */
static bool rotate(struct run *r, const char *why)
{
	char path[PATH_MAX];
	dt_res res;
	if (r->broken)
		return false;
	if (!next_name(r, path, sizeof(path))) {
		warn("%s: cannot make a new file name from this pattern; still writing %s", r->args.write, r->path);
		return false;
	}
	struct dt_output *o = open_file(r, path, &res);
	if (o == NULL) {
		int e = errno;
		unlink(path); /* next_name() found nothing there: whatever is there now is this failed start */
		warn("%s: %s; still writing %s", path, res == DT_ERR_IO ? strerror(e) : dt_strerror(res), r->path);
		r->rotate_held = true;
		return false;
	}
	r->rotate_held = false;
	/* the last batch first, so that a failure meets (and counts) it while it is still the output */
	res = dt_output_flush(r->out);
	if (res == DT_OK) {
		res = dt_output_close(r->out);
		r->out = NULL;
	}
	if (res != DT_OK) {
		/* the file being finished could not take its last frames: the disk is full or failing, and
		 * the next file would fare no better. Stop, as an output without rotation does. */
		int e = errno;
		dt_output_close(o);
		unlink(path);
		errno = e;
		output_failed(r, res); /* names r->path, the file that failed */
		dt_output_close(r->out);
		r->out = NULL;
		return false;
	}
	r->out = o;
	r->out_frames = 0;
	note(r, LOG_INFO, "%s: finished (%s), %llu frame%s; now writing %s", r->path, why,
	     (unsigned long long)r->file_frames, r->file_frames == 1 ? "" : "s", path);
	memcpy(r->path, path, sizeof(path));
	remember_file(r);
	return true;
}

/* SIGHUP. A rotating output starts its next file. A plain file is finished and reopened for logrotate
 * (rename, then HUP), but only if it has been moved away: reopening it in place would truncate it. */
static void reopen(struct run *r)
{
	struct stat st;
	if (r->broken)
		return;
	if (r->to_stdout) {
		flush_output(r);
		return;
	}
	if (r->rotating) {
		rotate(r, "SIGHUP");
		return;
	}
	if (r->have_id && stat(r->path, &st) == 0 && st.st_dev == r->dev && st.st_ino == r->ino) {
		flush_output(r);
		note(r, LOG_INFO, "SIGHUP: %s has not been moved away; flushed, and still writing it", r->path);
		return;
	}
	uint64_t frames = r->file_frames;
	dt_res res = dt_output_reopen(r->out);
	if (res != DT_OK) {
		warn("Error: failed to reopen %s: %s", r->path, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
		r->bad = true;
		r->broken = true;
		event_base_loopbreak(r->base);
		return;
	}
	remember_file(r);
	note(r, LOG_INFO, "SIGHUP: finished the previous %s (%llu frame%s) and opened it anew", r->path,
	     (unsigned long long)frames, frames == 1 ? "" : "s");
}

/* ==== Listening ==== */

static void on_payload(void *arg, const uint8_t *p, size_t n, const char *peer, uint64_t frame)
{
	struct run *r = arg;
	if (r->broken) {
		r->lost++;
		return;
	}
	rotate_for_size(r, n);
	if (r->broken) {
		r->lost++;
		return;
	}
	r->out_frames++;
	dt_res res = dt_output_write(r->out, p, n);
	if (res == DT_ERR_IO) {
		output_failed(r, res);
		return;
	}
	r->size += 4 + n;
	r->file_frames++;
	if (res != DT_OK)
		warn("%s: frame %llu: %s", peer, (unsigned long long)frame, dt_strerror(res));
	/* written out within FLUSH_DELAY: at a low rate that is at once, under load a batch every
	 * FLUSH_DELAY (the output itself writes whenever its buffer fills) */
	if (!r->soon_pending) {
		static const struct timeval delay = {0, FLUSH_DELAY_MS * 1000};
		r->soon_pending = true;
		evtimer_add(r->soon, &delay);
	}
}

static void on_log(void *arg, int level, const char *line)
{
	(void)level;
	(void)arg;
	fprintf(stderr, "dnstap: %s\n", line);
}

/* Writes out what is pending. A text file is measured after that: one that has reached --max-size
 * starts the next (text is measured on disk, so it may pass the size by what arrived since the last
 * flush; Frame Streams files are measured frame by frame and never pass it). */
static void flush_and_measure(struct run *r)
{
	struct stat st;
	flush_output(r);
	if (r->rotating && r->text && r->args.max_size != 0 && !r->broken && stat(r->path, &st) == 0 &&
	    (uint64_t)st.st_size >= r->args.max_size)
		rotate(r, "size");
}

static void on_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;
	r->soon_pending = false;
	flush_and_measure(r);
}

/* Once a second, for good measure: data is never older than FLUSH_DELAY_MS anyway. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;
	r->rotate_held = false;
	flush_and_measure(r);
}

/* Arms the --split timer for the next multiple of the interval (so --split 3600 turns files over on
 * the hour). */
static void arm_split(struct run *r)
{
	struct timeval now, tv;
	gettimeofday(&now, NULL);
	uint64_t period_us = (uint64_t)r->args.split * 1000000;
	uint64_t now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_usec;
	uint64_t wait_us = period_us - now_us % period_us;
	tv.tv_sec = (time_t)(wait_us / 1000000);
	tv.tv_usec = (suseconds_t)(wait_us % 1000000);
	evtimer_add(r->split, &tv);
}

static void on_split(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;
	rotate(r, "time");
	arm_split(r);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct run *r = arg;
	if (sig == SIGHUP) {
		reopen(r);
		return;
	}
	note(r, LOG_INFO, "%s: reading what the senders have sent, then finishing", sig == SIGINT ? "SIGINT" : "SIGTERM");
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

static struct event *add_event(struct run *r, int fd, short what, event_callback_fn cb, const struct timeval *tv)
{
	struct event *ev = event_new(r->base, fd, what, cb, r);
	if (ev == NULL || (tv != NULL && event_add(ev, tv) != 0) || (what & EV_SIGNAL && event_add(ev, NULL) != 0))
		fail(1, "cannot set up the event loop: out of memory");
	return ev;
}

/* Binds every -u and -l socket. On failure says why and returns false. */
static bool start_listening(struct run *r)
{
	const struct args *a = &r->args;
	raise_fd_limit();
	r->base = event_base_new();
	if (r->base == NULL)
		fail(1, "cannot set up the event loop");
	r->listener = dt_listener_new(r->base, on_payload, r);
	if (r->listener == NULL)
		fail(1, "cannot set up the listener: out of memory");
	dt_listener_set_log(r->listener, on_log, r, r->log_level);
	dt_listener_set_max_frame_size(r->listener, a->max_frame_size);
	dt_listener_set_max_connections(r->listener, a->max_connections);
	if (a->has_timeout && dt_listener_set_handshake_timeout(r->listener, a->timeout_ms) != DT_OK)
		fail(1, "cannot set up the listener: out of memory");

	for (size_t i = 0; i < a->unix_in.n; i++) {
		const char *path = a->unix_in.v[i];
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
		dt_res res = dt_listener_add_tcp(r->listener, addr);
		if (res == DT_OK)
			continue;
		if (res == DT_ERR_INVALID)
			warn("%s: bad address (want HOST:PORT or [IPv6]:PORT, with a host that resolves)", addr);
		else
			warn("%s: cannot listen: %s", addr, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
		return false;
	}

	r->sigint = add_event(r, SIGINT, EV_SIGNAL | EV_PERSIST, on_signal, NULL);
	r->sigterm = add_event(r, SIGTERM, EV_SIGNAL | EV_PERSIST, on_signal, NULL);
	r->sighup = add_event(r, SIGHUP, EV_SIGNAL | EV_PERSIST, on_signal, NULL);
	return true;
}

/* Runs the loop until a signal or a failed output ends it, then lets the listener finish. */
static void run_listener(struct run *r)
{
	const struct timeval second = {1, 0};
	r->tick = add_event(r, -1, EV_PERSIST, on_tick, &second);
	r->soon = add_event(r, -1, 0, on_soon, NULL);
	if (r->rotating && r->args.split != 0) {
		r->split = add_event(r, -1, 0, on_split, NULL);
		arm_split(r);
	}
	r->ran = true;
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
}

/* Frees what listening took, after the line with the totals. */
static void stop_listening(struct run *r)
{
	if (r->listener != NULL) {
		struct dt_listener_stats st;
		dt_listener_get_stats(r->listener, &st);
		dt_listener_free(r->listener);
		r->listener = NULL;
		char extra[200] = "";
		size_t n = 0;
		if (st.skipped > 0)
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", %llu oversize frame%s skipped",
					      (unsigned long long)st.skipped, st.skipped == 1 ? "" : "s");
		if (st.rejected > 0 && n < sizeof(extra))
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", %llu misbehaving sender%s disconnected",
					      (unsigned long long)st.rejected, st.rejected == 1 ? "" : "s");
		if (r->lost > 0 && n < sizeof(extra))
			snprintf(extra + n, sizeof(extra) - n, ", %llu frame%s not written (output failed)",
				 (unsigned long long)r->lost, r->lost == 1 ? "" : "s");
		if (r->ran)
			note(r, LOG_INFO, "received %llu frame%s (%llu bytes) on %llu connection%s%s",
			     (unsigned long long)st.frames, st.frames == 1 ? "" : "s", (unsigned long long)st.bytes,
			     (unsigned long long)st.connections, st.connections == 1 ? "" : "s", extra);
	}
	struct event **evs[] = {&r->sigint, &r->sigterm, &r->sighup, &r->tick, &r->soon, &r->split};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (*evs[i] != NULL)
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
	if (r->base != NULL)
		event_base_free(r->base);
	r->base = NULL;
}

int main(int argc, char **argv)
{
	struct run r = {0};
	parse_args(argc, argv, &r.args);
	struct args *a = &r.args;
	r.log_level = a->silent ? LOG_WARNING : a->verbose ? LOG_DEBUG : LOG_INFO;

	if (a->read.n + a->unix_in.n + a->tcp_in.n == 0)
		fail(1, "Error: no inputs specified.");
	if ((int)a->quiet + (int)a->yaml + (int)a->json > 1)
		fail(1, "Error: specify at most one of -q, -y, or -j.");
	if (a->unix_out.n + a->tcp_out.n > 1)
		fail(1, "Error: give at most one -U or -T.");
	if ((a->split != 0 || a->max_size != 0) && (a->write == NULL || strcmp(a->write, "-") == 0))
		fail(1, "--split and --max-size need -w FILE");
	if (a->verbose && a->silent)
		usage_error("-v and --silent contradict each other");
	if (a->unix_out.n + a->tcp_out.n > 0 && (a->quiet || a->yaml || a->json || a->write != NULL))
		warn("-q, -y, -j and -w are ignored with -U/-T: frames are relayed as they are");

	/* a vanished reader of standard output shows up as EPIPE, handled where we write */
	signal(SIGPIPE, SIG_IGN);

	bool listening = a->unix_in.n + a->tcp_in.n > 0;
	if (listening && !start_listening(&r)) {
		stop_listening(&r);
		return 1;
	}
	if (!open_output(&r)) {
		stop_listening(&r);
		return 1;
	}
	for (size_t i = 0; i < a->read.n && !r.broken; i++)
		read_file(&r, a->read.v[i]);
	if (listening && !r.broken)
		run_listener(&r);
	stop_listening(&r);
	dt_res res = dt_output_close(r.out);
	if (res != DT_OK && !r.broken && !(res == DT_ERR_IO && errno == EPIPE))
		fail(1, "%s: write error: %s", r.out_name, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
	return r.bad ? 1 : 0;
}
