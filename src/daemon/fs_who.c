/* Who is asking: one constructor for a request's view of the world, and the
 * decision taken for that caller. */
#include "fs.h"

#include <errno.h>
#include <string.h>

#include "clock.h"
#include "i18n.h"
#include "log.h"

void who_init(struct who *w, struct fs *fs, fuse_req_t req, uid_t uid, gid_t gid, pid_t pid)
{
	int err = 0;
	memset(w, 0, sizeof *w);
	w->req = req;
	w->fs = fs;
	w->pol = atomic_load(&fs->policy);
	w->cat = w->pol->cat;
	w->uid = uid;
	w->gid = gid;
	w->pid = pid;
	clock_today(w->today);
	if (fs->view) {
		w->view = policy_role(w->pol, fs->view);
		w->broken |= !w->view;
	}
	if (uid == 0)
		return; /* root administers the store: no register entry */
	const struct staff *s = staff_current(fs->v->db, atomic_load(&fs->acl_epoch), &err);
	if (s) {
		w->emp = staff_by_uid(s, uid);
	} else {
		w->broken = true; /* fail closed */
		log_err("cannot read the staff register: %s; denying", strerror(err));
	}
}

void who_from_req(struct who *w, fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	who_init(w, fuse_req_userdata(req), req, ctx->uid, ctx->gid, ctx->pid);
}

static void judge_as(const struct who *w, const struct customer *c, const struct field_def *def,
		     enum access_right right, struct decision *d, bool quiet)
{
	if (w->broken) {
		memset(d, 0, sizeof *d);
		d->rule = "unavailable";
		snprintf(d->reason, sizeof d->reason,
			 "the policy could not be evaluated (see the daemon's log)");
		snprintf(d->says, sizeof d->says, "%s",
			 _("the policy could not be evaluated (see the daemon's log)"));
		return;
	}
	struct access_request ar = {
		.uid = w->uid,
		.emp = w->emp,
		.customer_id = c ? c->id : 0,
		.customer = c ? c->name : NULL,
		.field = def,
		.right = right,
		.today = w->today,
		.now_ns = clock_now_ns(),
		.view = w->view,
		.quiet = quiet,
	};
	access_decide(w->pol, &ar, d, NULL, NULL);
}

void judge(const struct who *w, const struct customer *c, const struct field_def *def,
	   enum access_right right, struct decision *d)
{
	judge_as(w, c, def, right, d, false);
}

void judge_quiet(const struct who *w, const struct customer *c, const struct field_def *def,
		 enum access_right right, struct decision *d)
{
	judge_as(w, c, def, right, d, true);
}

int visible(const struct who *w, const struct customer *c, const struct field_def *def)
{
	struct decision d;
	judge_quiet(w, c, def, RIGHT_LIST, &d);
	return d.allow ? 0 : ENOENT;
}

locale_t who_speak_pid(pid_t pid)
{
	/* The language the process asks for, read from its environment (its
	 * own choice, used for nothing but the words): kept per thread for a
	 * moment, as a loop of cats is one process after another. */
	static __thread struct {
		pid_t pid;
		int64_t at_ms;
		bool ok;
		char name[64];
	} last;
	int64_t now = clock_mono_ms();
	if (pid <= 0)
		return (locale_t)0;
	if (last.pid != pid || now - last.at_ms > 1000) {
		last.pid = pid;
		last.at_ms = now;
		last.ok = i18n_locale_of_pid(pid, last.name, sizeof last.name);
	}
	return last.ok ? i18n_use(last.name) : (locale_t)0;
}

locale_t who_speak(const struct who *w)
{
	return who_speak_pid(w->pid);
}
