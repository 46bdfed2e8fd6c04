/* Output dispatch: every call goes through the output's operation table. */
#include "output.h"

#include <string.h>
#include <sys/stat.h>

bool dt__output_not_moved(const char *path, int fd)
{
	struct stat a, b;
	return stat(path, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

dt_res dt_output_write_item(struct dt_output *o, struct dt_item *it)
{
	return o->ops->write(o, it);
}

dt_res dt_output_write(struct dt_output *o, const uint8_t *payload, size_t len)
{
	struct dt_item it;
	dt_item_init(&it, payload, len, NULL, NULL, 0);
	return o->ops->write(o, &it);
}

dt_res dt_output_flush(struct dt_output *o)
{
	return o->ops->flush(o);
}

dt_res dt_output_reopen(struct dt_output *o)
{
	return o->ops->reopen(o);
}

const char *dt_output_name(const struct dt_output *o)
{
	if (o == NULL)
		return "";
	return o->ops->get_name != NULL ? o->ops->get_name(o) : o->ops->name;
}

dt_res dt_output_stats(const struct dt_output *o, struct dt_output_stats *st)
{
	if (o == NULL || st == NULL)
		return DT_ERR_INVALID;
	memset(st, 0, sizeof(*st));
	if (o->ops->stats != NULL)
		o->ops->stats(o, st);
	return DT_OK;
}

dt_res dt_output_close(struct dt_output *o)
{
	return o == NULL ? DT_OK : o->ops->close(o);
}
