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
	bool has_timeout;
	unsigned timeout_ms;     /* -t */
	uint64_t max_frame_size; /* --max-frame-size */
	uint64_t max_connections;
	uint64_t split;          /* --split SECONDS */
	uint64_t max_size;       /* --max-size BYTES */
	bool verbose, silent;
	uint64_t socket_mode;     /* --socket-mode, parsed (0: not given) */
	const char *socket_owner, *socket_group, *user;
	/* resolved by check_args() */
	long socket_uid, socket_gid;
	uid_t uid;
	gid_t gid;
	bool drop;
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
	size_t off;   /* of the field in struct args */
	uint64_t max; /* NUMBER */
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
	{"Running as a service (sockets passed by systemd's socket activation are used as -u/-l):", HEADING,
	 0, 0, NULL, NULL},
	{"socket-mode", OCTAL, F(socket_mode), 07777, "OCTAL", "permissions of the -u socket files (such as 0660)"},
	{"socket-owner", NAME, F(socket_owner), 0, "USER", "owner of the -u socket files"},
	{"socket-group", NAME, F(socket_group), 0, "GROUP",
	 "group of the -u socket files (so that unbound, bind or knot may connect)"},
	{"user", NAME, F(user), 0, "USER[:GROUP]",
	 "run as USER (and GROUP, else USER's group) once the sockets and the\n"
	 "first output file are open, before any frame is read"},
	{"Other:", HEADING, 0, 0, NULL, NULL},
	{"h", SHOW_HELP, 0, 0, NULL, "show this help and exit"},
	{"help", SHOW_HELP, 0, 0, NULL, NULL},
	{"version", SHOW_VERSION, 0, 0, NULL, "show the version and exit"},
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
			usage_error("invalid value \"%s\" for flag -%s (want an octal mode such as 0660)", value, f->name);
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

/* The combinations that make no sense, in the Go tool's words where it has them. */
static void check_args(const struct args *a, int passed)
{
	if (a->read.n + a->unix_in.n + a->tcp_in.n + (size_t)passed == 0)
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
	if (geteuid() == 0 && (initgroups(pw != NULL ? pw->pw_name : name, a->gid) != 0 && setgroups(1, &a->gid) != 0)) {
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
	bool bad;         /* an input or frame was bad: exit 1 at the end */
	bool in_log;      /* a log line is being written (flushing for it must not log again) */
	const char *relay; /* -U/-T's address, NULL without a relay */
	int passed;        /* listening sockets passed by the service manager, from SERVICE_FIRST_FD */
	char **passed_names;
	bool relay_spoke; /* the relay's own log has said why its first connection failed */
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
	r->relay = a->unix_out.n > 0 ? a->unix_out.v[0] : a->tcp_out.v[0];
	snprintf(spec, sizeof(spec), "%s%s", a->unix_out.n > 0 ? "unix://" : "tcp://", r->relay);
	struct dt_output *o = dt_output_socket_open(spec, &so, &res);
	if (o != NULL || r->relay_spoke)
		return o;
	if (res == DT_ERR_INVALID && a->unix_out.n > 0 && strlen(r->relay) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		warn("%s: %s", r->relay, strerror(ENAMETOOLONG));
	else if (res == DT_ERR_INVALID && a->unix_out.n == 0)
		warn("%s: bad address (want HOST:PORT or [IPv6]:PORT)", r->relay);
	else
		warn("%s: %s", r->relay, res == DT_ERR_IO ? strerror(errno) : dt_strerror(res));
	return NULL;
}

/* The output the flags ask for: a relay, standard output, or a file (rotating with --split/--max-size). */
static bool open_output(struct run *r)
{
	const struct args *a = &r->args;
	bool text = a->quiet || a->yaml || a->json;
	bool to_stdout = a->write == NULL || strcmp(a->write, "-") == 0;
	struct dt_output *o;
	const char *name = NULL;
	dt_res res;
	if (a->unix_out.n + a->tcp_out.n > 0) {
		if ((o = open_relay(r)) == NULL)
			return false;
		name = r->relay;
	} else if (to_stdout) {
		if (a->append && text) {
			warn("cannot append to standard output (-a with -w -)");
			return false;
		}
		if ((o = dt_output_text_open(NULL, chosen_format(a), false, &res)) == NULL) {
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

/* ==== Listening ==== */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct run *r = arg;
	if (sig == SIGHUP) {
		service_notify("RELOADING=1");
		dt_pipeline_reopen(r->pipe);
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
	if (a->has_timeout && dt_listener_set_handshake_timeout(r->listener, a->timeout_ms) != DT_OK)
		fail(1, "cannot set up the listener: out of memory");
	if (a->socket_mode != 0 || a->socket_uid >= 0 || a->socket_gid >= 0)
		dt_listener_set_unix_permissions(r->listener, (unsigned)a->socket_mode, a->socket_uid, a->socket_gid);

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
		dt_res res = dt_listener_add_tcp(r->listener, addr);
		if (res == DT_OK)
			continue;
		if (res == DT_ERR_INVALID)
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
	struct run r = {0};
	parse_args(argc, argv, &r.args);
	r.passed = service_listen_fds(&r.passed_names);
	if (r.passed < 0)
		fail(1, "LISTEN_FDS: %s", strerror(errno));
	check_args(&r.args, r.passed);
	resolve_users(&r.args);
	r.log_level = r.args.silent ? LOG_WARNING : r.args.verbose ? LOG_DEBUG : LOG_INFO;

	/* a vanished reader of standard output shows up as EPIPE, handled where we write */
	signal(SIGPIPE, SIG_IGN);

	bool listening = r.args.unix_in.n + r.args.tcp_in.n > 0 || r.passed > 0;
	if (listening && (r.base = event_base_new()) == NULL)
		fail(1, "cannot set up the event loop");
	struct dt_pipeline_options po;
	dt_pipeline_options_init(&po);
	po.base = r.base;
	po.log = on_log;
	po.log_arg = &r;
	if ((r.pipe = dt_pipeline_new(&po)) == NULL)
		fail(1, "cannot set up the pipeline: out of memory");

	/* sockets, then the first output file, then no more privileges, then the first frame */
	bool ok = (!listening || start_listening(&r)) && (r.args.drop || safe_rotation_dir(&r.args)) &&
		  open_output(&r) && drop_privileges(&r.args);
	if (ok) {
		service_notify("READY=1");
		read_files(&r);
		if (listening && !failed(&r))
			run_listener(&r);
	}
	if (r.listener != NULL)
		dt_listener_shutdown(r.listener);
	struct dt_pipeline_stats ps;
	dt_pipeline_get_stats(r.pipe, &ps);
	dt_res res = dt_pipeline_close(r.pipe);
	cleanup(&r);
	service_free_names(r.passed_names);
	if (!ok)
		return 1;
	if (res != DT_OK && !(res == DT_ERR_IO && errno == EPIPE))
		return 1;
	return r.bad || (ps.broken && !ps.reader_gone) ? 1 : 0;
}
