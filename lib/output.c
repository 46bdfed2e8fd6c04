/* Output dispatch: every call goes through the output's operation table. */
#include "output.h"

#include <sys/stat.h>

bool dt__output_not_moved(const char *path, int fd)
{
	struct stat a, b;
	return stat(path, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

dt_res dt_output_write(struct dt_output *o, const uint8_t *payload, size_t len)
{
	return o->ops->write(o, payload, len);
}

dt_res dt_output_flush(struct dt_output *o)
{
	return o->ops->flush(o);
}

dt_res dt_output_reopen(struct dt_output *o)
{
	return o->ops->reopen(o);
}

uint64_t dt_output_frames_written(const struct dt_output *o)
{
	return o != NULL && o->ops->frames_written != NULL ? o->ops->frames_written(o) : UINT64_MAX;
}

dt_res dt_output_close(struct dt_output *o)
{
	return o == NULL ? DT_OK : o->ops->close(o);
}
