/* The file view of a value.
 *
 * A stored value has no trailing newline (imports and exports carry it as is);
 * its file ends with one, as text files do, so cat, grep and editors behave.
 * Writing strips exactly one trailing newline back off. Masked views keep the
 * value's size (mask.h), so stat never needs to decrypt. */
#include "fs.h"
#include "i18n.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

struct version_record {
	const struct who *w;
	const struct customer *c;
	const struct field_def *def;
	int64_t checkout_id;
	bool recorded, unrecordable;
};

/* A new version goes on the record (never its value) before it commits: a
 * version the log cannot take is not stored (R5.1). A sensitive one waits
 * for its record to reach the disk (record_access). */
static int record_version(void *arg, const struct write_result *res)
{
	struct version_record *vr = arg;
	char detail[48];
	snprintf(detail, sizeof detail, "version %lld", (long long)res->version);
	struct decision d = { .allow = true, .rule = "write", .checkout_id = vr->checkout_id };
	int rc = record_access(vr->w, vr->c, vr->def, "version", &d, 0, 0, detail);
	vr->recorded = rc == 0;
	vr->unrecordable = rc != 0;
	return rc;
}

int store_presented(const struct who *w, const struct customer *c, const char *field,
		    const struct secbuf *b, int64_t checkout_id, bool durable,
		    struct write_result *res)
{
	struct version_record vr = { w, c, catalog_field(w->cat, field), checkout_id, false, false };
	const struct vault_before_commit before = { record_version, &vr };
	int rc = vault_write(w->fs->v, w->cat, c->id, field, b->data, value_len(b), w->uid,
			     durable, &before, res);
	if (rc && vr.recorded) {
		/* On the record, then not committed: the log says so too. */
		char detail[48];
		snprintf(detail, sizeof detail, "version %lld", (long long)res->version);
		struct decision no = { .rule = "not-stored", .checkout_id = checkout_id };
		snprintf(no.reason, sizeof no.reason, "the store could not commit it: %s",
			 strerror(rc));
		record_denial(w, c, vr.def, "version", &no, detail);
	} else if (vr.unrecordable) {
		note_refusal(w, N_("a new value"),
			     N_("its audit record could not be written, and nothing is stored "
				"without one (R5.1); the field keeps its value. The daemon's log "
				"says why: tell the technical department"));
	}
	return rc;
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
