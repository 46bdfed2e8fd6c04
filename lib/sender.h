/* The bridge between the tap API (tap.c) and the socket output (output_socket.c): the tap hands
 * messages to the sender, which queues their fields and encodes them on its own thread. Internal to
 * libdnstap. */
#ifndef DT_SENDER_H
#define DT_SENDER_H

#include "dnstap.h"

/* Queues m (as a record of its fields; the sender's thread encodes it) without ever waiting. m is
 * read during the call only; it is sent as a dnstap MESSAGE whatever its dnstap_type. DT_OK when
 * queued; DT_ERR_FULL when dropped because the queue is full; DT_ERR_TOO_BIG when it
 * can never fit (also counted as dropped). */
dt_res dt__socket_send_message(struct dt_output *o, const struct dt_message *m);

/* Identity and version for messages that have none of their own. The strings are not copied: they
 * must stay valid until o is closed. Call before the first message. */
void dt__socket_set_envelope(struct dt_output *o, const char *identity, const char *version);

/* True if o was made by dt_output_socket_open(): the tap then queues records instead of payloads. */
bool dt__is_socket_output(const struct dt_output *o);

#endif
