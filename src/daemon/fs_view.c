/* The file view of a value.
 *
 * A stored value has no trailing newline (imports and exports carry it as is);
 * its file ends with one, as text files do, so cat, grep and editors behave.
 * Writing strips exactly one trailing newline back off. Masked views keep the
 * value's size (mask.h), so stat never needs to decrypt. */
#include "fs.h"
#include "i18n.h"
#include "log.h"

#include <errno.h>
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

/* Tries to store a version this many times while others store theirs first. */
#define STORE_ATTEMPTS 4
/* Waits this long for the field's turn: the store's and the log's own wait. */
#define TURN_WAIT_MS 5000

/* The version a write would make: one after the stored one (1 for none). */
static int next_version(const struct who *w, int64_t customer_id, const char *field,
			int64_t *next)
{
	struct field_row f;
	int rc = vault_field_by_name(w->fs->v, customer_id, field, &f);
	if (rc == ENOENT) {
		*next = 1;
		return 0;
	}
	if (!rc)
		*next = f.version + 1;
	return rc;
}

/* A write, a truncate or a rename over a field that stored nothing: the
 * writer hears why, not just an errno. */
static void store_failed(const struct who *w, const struct customer *c, const char *field, int rc)
{
	log_err("write failed: uid %u customer #%lld/%s: %s; nothing stored", (unsigned)w->uid,
		(long long)c->id, field, strerror(rc));
	note_refusal(w, N_("a new value"),
		     N_("the store could not take it just now (busy, or an error the daemon's "
			"log names); nothing was stored: write it again"));
}

/* The version goes on the record before the store's transaction begins, so
 * that no writer holds the store while a record waits for the log (or the
 * disk); the store then takes it as exactly that version, or none. The
 * field's turn keeps this daemon's other writers of it from taking the
 * number meanwhile (turns.h). */
int store_presented(const struct who *w, const struct customer *c, const char *field,
		    const struct secbuf *b, int64_t checkout_id, bool durable,
		    struct write_result *res)
{
	const struct field_def *def = catalog_field(w->cat, field);
	int rc = presented_problem(w->cat, field, b, &res->why);
	if (rc)
		return rc; /* not a version: nothing to record */
	struct turn *turn = turn_take(w->fs->turns, c->id, field, TURN_WAIT_MS, &rc);
	if (!turn) {
		rc = rc == ETIMEDOUT ? EBUSY : rc;
		store_failed(w, c, field, rc);
		return rc;
	}
	for (int attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
		int64_t next;
		if ((rc = next_version(w, c->id, field, &next)))
			break;
		if (record_version(w, c, def, checkout_id, next, durable)) {
			note_refusal(w, N_("a new value"),
				     N_("its audit record could not be written, and nothing is "
					"stored without one (R5.1); the field keeps its value. The "
					"daemon's log says why: tell the technical department"));
			rc = EACCES;
			break;
		}
		rc = vault_write(w->fs->v, w->cat, c->id, field, b->data, value_len(b), w->uid,
				 durable, next, res);
		if (!rc)
			break;
		record_not_stored(w, c, def, checkout_id, next, rc);
		if (rc != EAGAIN)
			break;
		rc = EBUSY; /* another process (a mount, custctl) came first every time */
	}
	turn_give(w->fs->turns, turn);
	/* EACCES was noted above; a bad value is refused with its reason by the
	 * caller (refuse_value, refuse_handle). */
	if (rc && rc != EACCES && rc != EINVAL && rc != EFBIG)
		store_failed(w, c, field, rc);
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
