/* Frame Streams framing shared by every reader and writer: recognising frames in a byte buffer (files and
 * sockets alike) and building control frames. Control-frame encoding and decoding are libfstrm's; the
 * incremental scanning is ours because libfstrm's reader can neither skip an oversize frame nor run
 * inside an event loop. Internal to libdnstap (not installed). */
#ifndef DT_FRAME_H
#define DT_FRAME_H

#include "dnstap.h"

#include <string.h>

/* Control frame types (Frame Streams). */
enum {
	DT_CTRL_ACCEPT = 1,
	DT_CTRL_START = 2,
	DT_CTRL_STOP = 3,
	DT_CTRL_READY = 4,
	DT_CTRL_FINISH = 5,
};

/* Largest control frame payload a peer may send (libfstrm's limit). */
#define DT_CONTROL_MAX 512

enum dt_frame_kind {
	DT_FRAME_NEED_MORE, /* fewer bytes than a frame header; f->need says how many are required */
	DT_FRAME_DATA,      /* data frame: payload of f->len bytes follows f->header bytes */
	DT_FRAME_CONTROL,   /* control frame: f->len bytes of control payload follow f->header bytes */
	DT_FRAME_BAD,       /* control frame with an impossible length: the stream cannot be trusted */
};

struct dt_frame {
	enum dt_frame_kind kind;
	size_t header; /* 4 for data frames, 8 for control frames */
	uint32_t len;  /* payload length */
	size_t need;   /* with DT_FRAME_NEED_MORE: bytes needed to know the frame */
};

/* Looks at the start of p[0..n) and says what frame begins there. Never reads past n. */
void dt__frame_peek(const uint8_t *p, size_t n, struct dt_frame *f);

/* What a control frame says, as far as dnstap cares. */
struct dt_control {
	uint32_t type;
	unsigned n_content_types; /* CONTENT_TYPE fields present */
	bool dnstap;              /* one of them is protobuf:dnstap.Dnstap */
};

/* Parses a control payload (without the 8-byte header). Unknown control types are reported with their
 * type and no fields (the spec says to ignore them). DT_ERR_CONTROL if a known type is malformed. */
dt_res dt__control_parse(const uint8_t *p, size_t n, struct dt_control *c);

/* Writes a complete control frame (escape, length, payload) of the given type into out, with the dnstap
 * content type when with_content_type. out needs DT_CONTROL_FRAME_MAX bytes. Returns the length, or 0 on
 * failure. */
#define DT_CONTROL_FRAME_MAX 64
size_t dt__control_build(uint8_t *out, uint32_t type, bool with_content_type);

/* dt_reader_open() on an open descriptor (what it does for "-" with standard input): reads the START
 * frame from fd. The reader does not own fd: dt_reader_close() leaves it open. res must not be NULL. The
 * fuzzers feed their input this way. */
struct dt_reader *dt__reader_open_fd(int fd, size_t max_frame_size, dt_res *res);

/* The descriptor a writer writes to (still owned by the writer). */
int dt__writer_fd(const struct dt_writer *w);

/* Data frames the kernel has taken whole from this writer (see dt_output_frames_written()). */
uint64_t dt__writer_frames_written(const struct dt_writer *w);

static inline uint32_t dt__be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void dt__put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
