/* Running under a service manager: sockets passed in by systemd's socket activation, and readiness told
 * to it. libsystemd does both where the build found it (the field's reference implementation of the
 * protocol); otherwise the same protocol is spoken by hand: LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, and a
 * datagram to NOTIFY_SOCKET. Outside a service manager both do nothing. */
#ifndef DNSTAP_SERVICE_H
#define DNSTAP_SERVICE_H

#define SERVICE_FIRST_FD 3 /* SD_LISTEN_FDS_START */

/* The sockets passed to this process: returns how many (0 when none, or when they are for another
 * process), from fd SERVICE_FIRST_FD on, and sets *names to a NULL-terminated array of their names (the
 * units' FileDescriptorName=, "unknown" where none was given), to free with service_free_names(). The
 * environment variables are removed, so that children do not take the sockets for theirs. Returns -1
 * with errno on a malformed environment. */
int service_listen_fds(char ***names);

void service_free_names(char **names);

/* Tells the service manager about a state change ("READY=1", "STOPPING=1", "RELOADING=1"). Errors are
 * ignored: readiness is a courtesy to the manager, never a reason to stop. */
void service_notify(const char *state);

#endif
