/* .custfs/explain: anyone may ask "why?" about their own access (R1.3,
 * R4.2) with ordinary tools:
 *     echo 'C1001/phone write' > .custfs/explain; cat .custfs/explain
 * The answer walks through the decision for the person who asks. A customer
 * they may not see is answered as one that does not exist. */
#include "fs.h"

#include <sodium.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "i18n.h"
#include "names.h"

int explain_parse(const char *q, size_t len, struct explain_query *out)
{
	char buf[1025], *save = NULL;
	memset(out, 0, sizeof *out);
	if (len >= sizeof buf || memchr(q, '\0', len))
		return EINVAL;
	memcpy(buf, q, len);
	buf[len] = '\0';
	char *path = strtok_r(buf, " \t\n", &save);
	char *right = strtok_r(NULL, " \t\n", &save);
	if (!path || strtok_r(NULL, " \t\n", &save))
		return EINVAL;
	if (!right || strcmp(right, "read") == 0)
		out->right = RIGHT_READ;
	else if (strcmp(right, "write") == 0)
		out->right = RIGHT_WRITE;
	else
		return EINVAL;
	char *slash = strchr(path, '/');
	if (slash)
		*slash++ = '\0';
	if (name_problem(path, strlen(path), false) ||
	    (slash && name_problem(slash, strlen(slash), false)))
		return EINVAL;
	snprintf(out->customer, sizeof out->customer, "%s", path);
	snprintf(out->field, sizeof out->field, "%s", slash ? slash : "");
	return 0;
}

struct trace_buf {
	char *p;
	size_t len, cap;
};

static void trace_line(void *ctx, const char *line)
{
	struct trace_buf *t = ctx;
	int n = snprintf(t->p + t->len, t->cap - t->len, "  %s\n", line);
	if (n > 0)
		t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

static void say(struct trace_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct trace_buf *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

static void answer(const struct who *w, const struct explain_query *q, struct trace_buf *t)
{
	struct customer c;
	const struct field_def *def = NULL;
	struct decision d;

	if (w->uid != 0 && !w->emp) {
		say(t, _("uid %u is not on the staff register: custfs gives you nothing (R1.1)\n"),
		    (unsigned)w->uid);
		return;
	}
	/* A customer you may not see is answered as one that does not exist. */
	if (vault_customer_by_name(w->fs->v, q->customer, &c) != 0 || visible(w, &c, NULL) != 0 ||
	    (q->field[0] && !(def = catalog_field(w->cat, q->field)))) {
		say(t, _("No such customer or field: %s%s%s\n"), q->customer, q->field[0] ? "/" : "",
		    q->field);
		return;
	}
	say(t, q->right == RIGHT_WRITE ? _("custfs explains: uid %u, write of %s%s%s\n")
				       : _("custfs explains: uid %u, read of %s%s%s\n"),
	    (unsigned)w->uid, c.name, def ? "/" : "", def ? def->name : "");
	if (w->broken) {
		trace_line(t, _("the policy could not be evaluated (see the daemon's log): DENY"));
		return;
	}
	struct access_request ar = {
		.uid = w->uid, .emp = w->emp, .customer_id = c.id, .customer = c.name,
		.field = def, .right = def ? q->right : RIGHT_LIST, .today = w->today,
		.now_ns = clock_now_ns(), .view = w->view,
	};
	access_decide(w->pol, &ar, &d, trace_line, t);
	say(t, "%s\n", d.allow ? (d.masked ? _("Decision: ALLOW (masked)") : _("Decision: ALLOW"))
			       : _("Decision: DENY"));
	if (!d.allow)
		say(t, "%s\n", _(ACCESS_APPEAL_HINT));
}

void explain_answer(struct fs *fs, const struct handle *h)
{
	/* The trace names the customer: locked memory, wiped when freed. */
	struct trace_buf t = { sodium_malloc(NOTE_TEXT), 0, NOTE_TEXT };
	struct explain_query q;
	struct who w;
	if (!t.p)
		return;
	t.p[0] = '\0';
	/* The asker is the handle's opener, as at open(), answered in the
	 * language their process asks for. */
	who_init(&w, fs, NULL, h->uid, h->gid, h->pid);
	locale_t old = who_speak(&w);
	if (explain_parse((const char *)h->buf.data, h->buf.len, &q) != 0)
		say(&t, _("Ask: CUSTOMER/FIELD [read|write]\n"));
	else
		answer(&w, &q, &t);
	i18n_restore(old);
	notes_record(fs->explain, h->uid, t.p);
	sodium_free(t.p);
}
