/* Frame Streams framing: frame recognition over a byte buffer, and control frames through libfstrm. */
#include "frame.h"

#include <fstrm.h>

void dt__frame_peek(const uint8_t *p, size_t n, struct dt_frame *f)
{
	f->need = 0;
	if (n < 4) {
		f->kind = DT_FRAME_NEED_MORE;
		f->need = 4;
		return;
	}
	uint32_t len = dt__be32(p);
	if (len != 0) {
		f->kind = DT_FRAME_DATA;
		f->header = 4;
		f->len = len;
		return;
	}
	if (n < 8) {
		f->kind = DT_FRAME_NEED_MORE;
		f->need = 8;
		return;
	}
	f->header = 8;
	f->len = dt__be32(p + 4);
	f->kind = f->len >= 4 && f->len <= DT_CONTROL_MAX ? DT_FRAME_CONTROL : DT_FRAME_BAD;
}

dt_res dt__control_parse(const uint8_t *p, size_t n, struct dt_control *c)
{
	c->n_content_types = 0;
	c->dnstap = false;
	if (n < 4 || n > DT_CONTROL_MAX)
		return DT_ERR_CONTROL;
	c->type = dt__be32(p);
	if (c->type < DT_CTRL_ACCEPT || c->type > DT_CTRL_FINISH)
		return DT_OK; /* unknown type: to be ignored, so its fields do not matter */

	struct fstrm_control *fc = fstrm_control_init();
	if (fc == NULL)
		return DT_ERR_NOMEM;
	dt_res res = DT_ERR_CONTROL;
	size_t count = 0;
	if (fstrm_control_decode(fc, p, n, 0) == fstrm_res_success &&
	    fstrm_control_get_num_field_content_type(fc, &count) == fstrm_res_success) {
		c->n_content_types = (unsigned)count;
		for (size_t i = 0; i < count; i++) {
			const uint8_t *ct;
			size_t ct_len;
			if (fstrm_control_get_field_content_type(fc, i, &ct, &ct_len) == fstrm_res_success &&
			    ct_len == sizeof(DT_CONTENT_TYPE) - 1 && memcmp(ct, DT_CONTENT_TYPE, ct_len) == 0)
				c->dnstap = true;
		}
		res = DT_OK;
	}
	fstrm_control_destroy(&fc);
	return res;
}

size_t dt__control_build(uint8_t *out, uint32_t type, bool with_content_type)
{
	struct fstrm_control *fc = fstrm_control_init();
	if (fc == NULL)
		return 0;
	size_t len = DT_CONTROL_FRAME_MAX;
	if (fstrm_control_set_type(fc, (fstrm_control_type)type) != fstrm_res_success ||
	    (with_content_type &&
	     fstrm_control_add_field_content_type(fc, (const uint8_t *)DT_CONTENT_TYPE, sizeof(DT_CONTENT_TYPE) - 1) !=
		     fstrm_res_success) ||
	    fstrm_control_encode(fc, out, &len, FSTRM_CONTROL_FLAG_WITH_HEADER) != fstrm_res_success)
		len = 0;
	fstrm_control_destroy(&fc);
	return len;
}
