/* Output dispatch: every call goes through the output's operation table. */
#include "output.h"

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

dt_res dt_output_close(struct dt_output *o)
{
	return o == NULL ? DT_OK : o->ops->close(o);
}
