/* The file view of a value.
 *
 * A stored value has no trailing newline (imports and exports carry it as is);
 * its file ends with one, as text files do, so cat, grep and editors behave.
 * Writing strips exactly one trailing newline back off. Masked views keep the
 * value's size (mask.h), so stat never needs to decrypt. */
#include "fs.h"
#include "i18n.h"

#include <errno.h>

#include "mask.h"

off_t presented_size(int64_t stored)
{
	return stored > 0 ? (off_t)stored + 1 : 0;
}

int present_value(const struct policy *pol, const struct field_def *def, bool masked,
		  struct secbuf *out)
{
	int rc = 0;
	if (masked) /* DEF and the mask from the same policy: a reload may reorder fields */
		rc = mask_apply(&pol->masks[def->index], out);
	if (!rc && out->len > 0)
		rc = secbuf_write(out, out->len, "\n", 1);
	if (rc)
		secbuf_truncate(out, 0);
	return rc;
}

int load_presented(const struct who *w, const struct field_def *def, bool masked,
		   int64_t field_id, struct secbuf *out)
{
	int rc = vault_read(w->fs->v, field_id, 0, out);
	return rc ? rc : present_value(w->pol, def, masked, out);
}

static size_t value_len(const struct secbuf *b)
{
	return b->len > 0 && b->data[b->len - 1] == '\n' ? b->len - 1 : b->len;
}

int store_presented(const struct who *w, int64_t customer_id, const char *field,
		    const struct secbuf *b, uid_t uid, bool durable, struct write_result *res)
{
	return vault_write(w->fs->v, w->cat, customer_id, field, b->data, value_len(b), uid,
			   durable, res);
}

int presented_problem(const struct catalog *cat, const char *field, const struct secbuf *b,
		      const char **why)
{
	const struct field_def *def = catalog_field(cat, field);
	size_t len = value_len(b);
	*why = !def ? N_("not a field of the catalogue")
	       : len > VALUE_MAX_BYTES ? N_("the value is larger than 1 MiB")
				       : value_format_problem(def->format, (const char *)b->data, len);
	return !*why ? 0 : def && len > VALUE_MAX_BYTES ? EFBIG : EINVAL;
}
