/* Socket activation and readiness, with libsystemd where available and the documented protocol
 * otherwise (see service.h). */
#include "config.h"

#include "service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

int service_listen_fds(char ***names)
{
	*names = NULL;
	int n = sd_listen_fds_with_names(1, names);
	if (n < 0) {
		errno = -n;
		return -1;
	}
	if (n > 0 && *names == NULL) {
		/* libsystemd returns no names when LISTEN_FDNAMES is not set */
		*names = calloc((size_t)n + 1, sizeof(char *));
		for (int i = 0; *names != NULL && i < n; i++)
			(*names)[i] = strdup("unknown");
	}
	return n;
}

void service_notify(const char *state)
{
	sd_notify(0, state);
}

#else /* the protocol by hand */

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int service_listen_fds(char ***names)
{
	*names = NULL;
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS"), *fdnames = getenv("LISTEN_FDNAMES");
	int n = 0;
	if (pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid()) {
		char *end;
		long v = strtol(fds, &end, 10);
		if (*end != '\0' || v < 0 || v > 4096) {
			errno = EINVAL;
			return -1;
		}
		n = (int)v;
	}
	char *copy = fdnames != NULL ? strdup(fdnames) : NULL;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n == 0) {
		free(copy);
		return 0;
	}
	*names = calloc((size_t)n + 1, sizeof(char *));
	if (*names == NULL) {
		free(copy);
		errno = ENOMEM;
		return -1;
	}
	char *save = NULL, *tok = copy != NULL ? strtok_r(copy, ":", &save) : NULL;
	for (int i = 0; i < n; i++) {
		(*names)[i] = strdup(tok != NULL ? tok : "unknown");
		if (tok != NULL)
			tok = strtok_r(NULL, ":", &save);
	}
	free(copy);
	return n;
}

void service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (path == NULL || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, strlen(path));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* an abstract socket */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
	close(fd);
}

#endif

void service_free_names(char **names)
{
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}
