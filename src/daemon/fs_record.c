/* The audit record of an access (R5.1), and the note a denied person reads
 * in .custfs/why (R4.2).
 *
 * MUST: an access that gates anything (an open, a create, a command) is
 * granted only after its record is committed; a record that cannot be
 * written is a deny. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include <sodium.h>
#include "i18n.h"
#include "log.h"

void note_denial(const struct who *w, const struct customer *c, const struct field_def *def,
		 enum access_right right, const struct decision *d)
{
	char note[NOTE_TEXT];
	/* In the caller's language: the decision again, for its words only. */
	locale_t old = who_speak(w);
	struct decision again;
	const char *says = d->says[0] ? d->says : d->reason;
	if (old) {
		judge(w, c, def, right, &again);
		if (!again.allow && again.rule == d->rule)
			says = again.says;
	}
	char what[NOTE_TEXT / 4];
	snprintf(what, sizeof what, "%s%s%s", c ? c->name : "/", def ? "/" : "",
		 def ? def->name : "");
	snprintf(note, sizeof note,
		 right == RIGHT_READ ? _("custfs denied read of %s (uid %u, pid %d):\n")
		 : right == RIGHT_CREATE ? _("custfs denied create of %s (uid %u, pid %d):\n")
		 : right == RIGHT_LIST ? _("custfs denied list of %s (uid %u, pid %d):\n")
		 : _("custfs denied write of %s (uid %u, pid %d):\n"),
		 what, (unsigned)w->uid, (int)w->pid);
	size_t n = strlen(note);
	snprintf(note + n, sizeof note - n,
		 _("  %s [rule: %s]\n%s\n"
		   "For the whole decision: echo '%s %s' > .custfs/explain; cat .custfs/explain\n"),
		 says, d->rule, _(ACCESS_APPEAL_HINT), c ? what : "",
		 right == RIGHT_READ ? "read" : "write");
	i18n_restore(old);
	notes_record(w->fs->why, w->uid, note);
	log_info("deny: uid %u pid %d %s customer #%lld%s%s: %s [%s]", (unsigned)w->uid,
		 (int)w->pid, access_right_name(right), c ? (long long)c->id : 0LL,
		 def ? "/" : "", def ? def->name : "", d->reason, d->rule);
}

void note_refusal(const struct who *w, const char *what, const char *why)
{
	char note[NOTE_TEXT];
	locale_t old = who_speak(w);
	snprintf(note, sizeof note, _("custfs refused %s (uid %u, pid %d): %s\n"), _(what),
		 (unsigned)w->uid, (int)w->pid, _(why));
	i18n_restore(old);
	notes_record(w->fs->why, w->uid, note);
}

int refuse_value(const struct who *w, const struct customer *c, const char *field,
		 const char *why, int rc)
{
	char note[NOTE_TEXT];
	locale_t old = who_speak(w);
	snprintf(note, sizeof note,
		 _("custfs refused the value written to %s/%s (uid %u, pid %d): %s.\n  Nothing was "
		   "stored; the field keeps its value. Write it again in the field's format (a "
		   "value is UTF-8 text of at most 1 MiB).\n"),
		 c->name, field, (unsigned)w->uid, (int)w->pid, _(why));
	i18n_restore(old);
	notes_record(w->fs->why, w->uid, note);
	log_warn("refused: uid %u customer #%lld/%s: %s; nothing stored", (unsigned)w->uid,
		 (long long)c->id, field, why);
	struct decision d = { .allow = false, .rule = "value" };
	snprintf(d.reason, sizeof d.reason, "%s", why);
	record_denial(w, c, catalog_field(w->cat, field), "write-refused", &d, NULL);
	return rc;
}

int refuse_limit(const struct who *w, enum limit which, const struct customer *c)
{
	char note[NOTE_TEXT];
	int64_t used[LIMIT_COUNT];
	people_usage(w->fs->people, w->uid, used);
	struct decision d = { .allow = false, .rule = "limit" };
	if (which == LIMIT_CTL_PER_MINUTE)
		snprintf(d.reason, sizeof d.reason, "the limit %s (%lld) is reached: more commands "
			 "than that within a minute", limit_name(which),
			 (long long)w->pol->limits[which]);
	else
		snprintf(d.reason, sizeof d.reason, "the limit %s (%lld) is reached: you hold %lld",
			 limit_name(which), (long long)w->pol->limits[which],
			 (long long)used[which]);
	char says[sizeof d.reason * 2];
	locale_t old = who_speak(w);
	if (which == LIMIT_CTL_PER_MINUTE)
		snprintf(says, sizeof says, _("the limit %s (%lld) is reached: more commands "
					      "than that within a minute"), limit_name(which),
			 (long long)w->pol->limits[which]);
	else
		snprintf(says, sizeof says, _("the limit %s (%lld) is reached: you hold %lld"),
			 limit_name(which), (long long)w->pol->limits[which],
			 (long long)used[which]);
	snprintf(note, sizeof note,
		 _("custfs refused (uid %u, pid %d): %s.\n  Close files you no longer need (editors' "
		   "scratch files count too); the limits are the policy's (limit %s), and they "
		   "keep one person from using up what everyone shares.\n"),
		 (unsigned)w->uid, (int)w->pid, says, limit_name(which));
	i18n_restore(old);
	notes_record(w->fs->why, w->uid, note);
	log_info("limit: uid %u pid %d: %s", (unsigned)w->uid, (int)w->pid, d.reason);
	record_denial(w, c, NULL, "limit", &d, limit_name(which));
	return EDQUOT;
}

/* The process behind a request: its name and executable, cached per thread
 * for a moment (reading /proc costs a few system calls). */
struct proc_info {
	pid_t pid;
	int64_t at_ms;
	char comm[32];
	char exe[256];
};

static void proc_info(pid_t pid, struct proc_info *out)
{
	static __thread struct proc_info cache[8];
	int64_t now = clock_mono_ms();
	struct proc_info *slot = &cache[(unsigned)pid % 8];
	if (slot->pid == pid && pid > 0 && now - slot->at_ms < 1000) {
		*out = *slot;
		return;
	}
	char path[64];
	memset(out, 0, sizeof *out);
	out->pid = pid;
	out->at_ms = now;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* The whole name, newlines and all (prctl allows any byte): only the
		 * kernel's final newline goes; listings make it inert. */
		ssize_t n = read(fd, out->comm, sizeof out->comm - 1);
		out->comm[n > 0 ? n : 0] = '\0';
		if (n > 0 && out->comm[n - 1] == '\n')
			out->comm[n - 1] = '\0';
		close(fd);
	}
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, out->exe, sizeof out->exe - 1);
	out->exe[n > 0 ? n : 0] = '\0';
	*slot = *out;
}

static void fill_event(const struct who *w, const struct customer *c,
		       const struct field_def *def, const char *action, const struct decision *d,
		       int64_t bytes_read, int64_t bytes_written, const char *detail,
		       const struct proc_info *pi, struct audit_event *out)
{
	*out = (struct audit_event){
		.uid = w->uid,
		.login = w->emp ? w->emp->login : "",
		.department = w->emp ? w->emp->department : "",
		.pid = w->pid,
		.comm = pi->comm,
		.exe = pi->exe,
		.mount = w->fs->mountpoint ? w->fs->mountpoint : "",
		.view = w->fs->view ? w->fs->view : "",
		.customer_id = c ? c->id : 0,
		.field = def ? def->name : "",
		.cls = def ? def->cls->name : "",
		.action = action,
		.allow = d ? d->allow : true,
		.rule = d ? d->rule : "",
		.reason = d ? d->reason : "",
		.checkout_id = d ? d->checkout_id : 0,
		.bytes_read = bytes_read,
		.bytes_written = bytes_written,
		.detail = detail,
	};
}

enum record_how {
	RECORD_AS_USUAL,
	RECORD_DURABLE, /* the access itself is to survive power loss (an fsync): its record too */
	RECORD_QUEUED,  /* the log took no record just now: written when it does */
	RECORD_ANSWER,  /* committed, never synced (even for a sensitive field) */
};

static int record_event(const struct who *w, const struct customer *c,
			const struct field_def *def, const char *action,
			const struct decision *d, int64_t bytes_read, int64_t bytes_written,
			const char *detail, enum record_how how)
{
	struct proc_info pi;
	struct audit_event ev;
	proc_info(w->pid, &pi);
	fill_event(w, c, def, action, d, bytes_read, bytes_written, detail, &pi, &ev);
	struct audit *log = w->fs->v->audit;
	/* Closes gate nothing: they ride with the next record. A new version
	 * is committed before it is stored: a record that only waits in memory
	 * is lost with the daemon, or dropped by a queue that is full. */
	bool closing = strcmp(action, "close") == 0;
	bool gates = !closing;
	bool sensitive = def && def->cls->sensitive;
	/* A sensitive access waits for a commit that survives power loss: its
	 * open (and a new version of it), before they happen. Its close (the
	 * bytes read) is committed before the RELEASE ends, surviving a crash
	 * of custfs, but waits for no disk sync (that was a second one per
	 * read), unless every record is to be durable (audit durable all, -o
	 * audit_durable). */
	bool durable = how != RECORD_ANSWER && ((!closing && sensitive) || how == RECORD_DURABLE ||
						w->fs->audit_durable || w->pol->audit_durable);
	bool waits = how != RECORD_QUEUED && (gates || durable || sensitive);
	int rc = !log ? EIO : waits ? audit_append(log, &ev, durable) : audit_note(log, &ev);
	if (rc)
		log_err("audit: the record of %s by uid %u cannot be written (%s): denying",
			action, (unsigned)w->uid, strerror(rc));
	return rc ? EACCES : 0;
}

int record_access(const struct who *w, const struct customer *c, const struct field_def *def,
		  const char *action, const struct decision *d, int64_t bytes_read,
		  int64_t bytes_written, const char *detail)
{
	return record_event(w, c, def, action, d, bytes_read, bytes_written, detail,
			    RECORD_AS_USUAL);
}

int record_version(const struct who *w, const struct customer *c, const struct field_def *def,
		   int64_t checkout_id, int64_t version, bool durable)
{
	char detail[48];
	snprintf(detail, sizeof detail, "version %lld", (long long)version);
	struct decision d = { .allow = true, .rule = "write", .checkout_id = checkout_id };
	return record_event(w, c, def, "version", &d, 0, 0, detail,
			    durable ? RECORD_DURABLE : RECORD_AS_USUAL);
}

void record_not_stored(const struct who *w, const struct customer *c,
		       const struct field_def *def, int64_t checkout_id, int64_t version, int err)
{
	char detail[48];
	snprintf(detail, sizeof detail, "version %lld", (long long)version);
	struct decision no = { .rule = "not-stored", .checkout_id = checkout_id };
	snprintf(no.reason, sizeof no.reason, "%s",
		 err == EAGAIN ? "another version was stored first"
			       : "the store could not commit it");
	/* Each on its own (not counted as a repeat): it answers one record.
	 * Committed, not synced: a failed sync would add a not-durable denial,
	 * a second answer to one claim. If the log takes no record now, it
	 * waits in the queue, ahead of what is queued later (audit_commit.c). */
	if (record_event(w, c, def, "version", &no, 0, 0, detail, RECORD_ANSWER) &&
	    record_event(w, c, def, "version", &no, 0, 0, detail, RECORD_QUEUED))
		log_err("audit: version %lld of customer #%lld/%s is on the record, but was not "
			"stored, and no record can say so", (long long)version, (long long)c->id,
			def ? def->name : "?");
}

int decide(const struct who *w, const struct customer *c, const struct field_def *def,
	   enum access_right right, struct decision *d)
{
	judge(w, c, def, right, d);
	if (right == RIGHT_LIST)
		return d->allow ? 0 : EACCES;
	if (!d->allow) {
		record_denial(w, c, def, access_right_name(right), d, NULL);
		note_denial(w, c, def, right, d);
		return EACCES;
	}
	return record_access(w, c, def, access_right_name(right), d, 0, 0, NULL) ? EACCES : 0;
}

/* ---- denials, coalesced ----
 * A denial gates nothing (the access is refused either way), so its record
 * is queued, not waited for; and the same denial repeated by the same person
 * within REPEAT_WINDOW becomes one record with a count (written when the
 * window closes), so nobody can flood the log, and nothing distinct is
 * dropped: a full table writes out its oldest entry before reusing it. */
#define REPEAT_SLOTS 256
#define REPEAT_WINDOW_NS (10LL * 1000000000)

struct repeat {
	bool used;
	uint64_t key;
	int64_t first_ns, last_ns;
	unsigned count; /* repeats after the first, which was recorded */
	struct audit_record first;
};

static struct {
	pthread_mutex_t lock;
	struct repeat slot[REPEAT_SLOTS];
} repeats = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t event_key(const struct audit_event *ev)
{
	unsigned char h[8];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	int64_t nums[2] = { ev->uid, ev->customer_id }; /* not the pid: a loop of cats is one person */
	crypto_generichash_update(&st, (const unsigned char *)nums, sizeof nums);
	const char *texts[4] = { ev->field, ev->action, ev->rule, ev->detail };
	for (int i = 0; i < 4; i++)
		crypto_generichash_update(&st, (const unsigned char *)(texts[i] ? texts[i] : ""),
					  strlen(texts[i] ? texts[i] : "") + 1);
	crypto_generichash_final(&st, h, sizeof h);
	uint64_t k;
	memcpy(&k, h, sizeof k);
	return k;
}

/* Writes the summary of slot R (lock held) and frees it. */
static void flush_repeat_locked(struct audit *log, struct repeat *r)
{
	if (r->used && r->count > 0 && log) {
		char detail[AUDIT_TEXT_MAX];
		struct audit_event ev = r->first.ev;
		audit_repeat_detail(detail, sizeof detail, r->count,
				    (r->last_ns - r->first_ns) / 1000000000 + 1, ev.detail);
		ev.detail = detail;
		ev.time_ns = r->last_ns;
		audit_note(log, &ev);
	}
	r->used = false;
}

int record_denial(const struct who *w, const struct customer *c, const struct field_def *def,
		  const char *action, const struct decision *d, const char *detail)
{
	struct proc_info pi;
	struct audit_event ev;
	proc_info(w->pid, &pi);
	fill_event(w, c, def, action, d, 0, 0, detail, &pi, &ev);
	ev.allow = false;
	struct audit *log = w->fs->v->audit;
	int64_t now = clock_now_ns();
	uint64_t key = event_key(&ev);
	pthread_mutex_lock(&repeats.lock);
	struct repeat *hit = NULL, *free_slot = NULL, *oldest = &repeats.slot[0];
	for (int i = 0; i < REPEAT_SLOTS; i++) {
		struct repeat *r = &repeats.slot[i];
		if (!r->used) {
			free_slot = free_slot ? free_slot : r;
			continue;
		}
		if (r->key == key && now - r->first_ns < REPEAT_WINDOW_NS)
			hit = r;
		if (r->first_ns < oldest->first_ns || !oldest->used)
			oldest = r;
	}
	if (hit) {
		hit->count++;
		hit->last_ns = now;
		pthread_mutex_unlock(&repeats.lock);
		return 0;
	}
	struct repeat *slot = free_slot ? free_slot : oldest;
	flush_repeat_locked(log, slot);
	slot->used = true;
	slot->key = key;
	slot->first_ns = slot->last_ns = now;
	slot->count = 0;
	ev.time_ns = now;
	audit_record_copy(&slot->first, &ev);
	pthread_mutex_unlock(&repeats.lock);
	/* The first of a kind is on the record before the reply (repeats are
	 * counted in memory and written when their window closes). */
	int rc = log ? audit_append(log, &ev, false) : EIO;
	if (rc) {
		log_err("audit: the record of a denied %s by uid %u cannot be written (%s)", action,
			(unsigned)w->uid, strerror(rc));
		/* No first record: its repeats would be counted against nothing. */
		pthread_mutex_lock(&repeats.lock);
		if (slot->used && slot->key == key && slot->first_ns == now && slot->count == 0)
			slot->used = false;
		pthread_mutex_unlock(&repeats.lock);
	}
	return rc;
}

void record_flush_repeats(struct fs *fs, bool all)
{
	int64_t now = clock_now_ns();
	pthread_mutex_lock(&repeats.lock);
	for (int i = 0; i < REPEAT_SLOTS; i++) {
		struct repeat *r = &repeats.slot[i];
		if (r->used && (all || now - r->first_ns >= REPEAT_WINDOW_NS))
			flush_repeat_locked(fs->v->audit, r);
	}
	pthread_mutex_unlock(&repeats.lock);
}
