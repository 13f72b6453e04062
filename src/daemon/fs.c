/* The daemon's lifecycle: its state, policy reloads, the sweep of checkouts
 * that ran out, and the daemon's own audit records. */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* A scratch file gone: its owner holds one fewer, and its bytes no more. */
static void scratch_freed(void *ctx, uid_t owner, size_t charged)
{
	struct fs *fs = ctx;
	const int64_t *limits = atomic_load(&fs->policy)->limits;
	enum limit which;
	people_scratch(fs->people, limits, owner, -1, &which);
	if (charged)
		people_charge(fs->people, limits, owner, -(int64_t)charged, true, &which);
}

int fs_init(struct fs *fs, struct vault *v, const char *view, double entry_timeout)
{
	memset(fs, 0, sizeof *fs);
	fs->v = v;
	fs->entry_timeout = entry_timeout;
	fs->mounted_ns = clock_now_ns();
	atomic_store(&fs->policy, v->policy);
	atomic_store(&fs->acl_epoch, 1);
	pthread_mutex_init(&fs->retired_lock, NULL);
	pthread_mutex_init(&fs->rights_lock, NULL);
	fs->people = people_new();
	fs->scratch = scratch_table_new(SCRATCH_MAX_FILES, scratch_freed, fs);
	fs->inflight = inflight_new();
	fs->turns = turns_new();
	fs->why = notes_new();
	fs->explain = notes_new();
	size_t n = strlen(v->dir) + sizeof "/" VAULT_POLICY_DIR;
	fs->policy_dir = malloc(n);
	if (fs->policy_dir)
		snprintf(fs->policy_dir, n, "%s/%s", v->dir, VAULT_POLICY_DIR);
	fs->view = view ? strdup(view) : NULL;
	if (!fs->people || !fs->scratch || !fs->inflight || !fs->turns || !fs->why || !fs->explain ||
	    !fs->policy_dir || (view && !fs->view)) {
		fs_destroy(fs);
		return ENOMEM;
	}
	return 0;
}

void fs_destroy(struct fs *fs)
{
	scratch_table_free(fs->scratch);
	people_free(fs->people);
	inflight_free(fs->inflight);
	turns_free(fs->turns);
	notes_free(fs->why);
	notes_free(fs->explain);
	/* The vault frees the policy it loaded; the daemon frees the ones it swapped in. */
	struct policy *cur = atomic_load(&fs->policy);
	if (fs->v && cur != fs->v->policy)
		policy_free(cur);
	for (size_t i = 0; i < fs->nretired; i++)
		if (!fs->v || fs->retired[i] != fs->v->policy)
			policy_free(fs->retired[i]);
	free(fs->retired);
	pthread_mutex_destroy(&fs->retired_lock);
	pthread_mutex_destroy(&fs->rights_lock);
	free(fs->rights);
	free(fs->policy_dir);
	free(fs->view);
	memset(fs, 0, sizeof *fs);
}

static int daemon_record(struct fs *fs, const char *action, const char *detail)
{
	struct audit_event ev = {
		.uid = getuid(), .pid = getpid(), .comm = "custfs", .exe = "",
		.mount = fs->mountpoint ? fs->mountpoint : "", .view = fs->view ? fs->view : "",
		.action = action, .allow = true, .rule = "", .reason = "", .detail = detail,
	};
	return fs->v->audit ? audit_append(fs->v->audit, &ev, true) : EIO;
}

int fs_audit_event(struct fs *fs, const char *action, const char *detail)
{
	int rc = daemon_record(fs, action, detail);
	if (rc)
		log_err("audit: cannot record %s", action);
	return rc;
}

/* Swaps FRESH in. Readers may still hold the old policy for the rest of their
 * request: it is kept until unmount (reloads are rare, policies small). */
static int swap_policy(struct fs *fs, struct policy *fresh)
{
	pthread_mutex_lock(&fs->retired_lock);
	struct policy **r = realloc(fs->retired, (fs->nretired + 1) * sizeof *r);
	if (!r) {
		pthread_mutex_unlock(&fs->retired_lock);
		return ENOMEM;
	}
	fs->retired = r;
	fs->retired[fs->nretired++] = atomic_exchange(&fs->policy, fresh);
	pthread_mutex_unlock(&fs->retired_lock);
	return 0;
}

static void log_lines(const char *prefix, char *text)
{
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		log_err("%s: %s", prefix, line);
}

int fs_reload_policy(struct fs *fs)
{
	char *errs = NULL;
	size_t errlen = 0;
	struct policy *fresh = NULL;
	FILE *mem = open_memstream(&errs, &errlen);
	int nerr = mem ? policy_load(fs->policy_dir, mem, &fresh) : -1;
	if (mem)
		fclose(mem);
	if (nerr != 0) {
		log_lines("policy reload", errs);
		log_err("policy reload: %d error%s; keeping the old policy", nerr < 0 ? 1 : nerr,
			nerr == 1 ? "" : "s");
		free(errs);
		return EINVAL;
	}
	free(errs);
	if (fs->view && !policy_role(fresh, fs->view)) {
		log_err("policy reload: the new policy has no role '%s' for this mount's view; "
			"keeping the old policy", fs->view);
		policy_free(fresh);
		return EINVAL;
	}
	/* On the record before it takes effect, or it does not. */
	if (daemon_record(fs, "policy-reload", fs->policy_dir) != 0) {
		log_err("policy reload: the audit record cannot be written; keeping the old policy");
		policy_free(fresh);
		return EIO;
	}
	if (swap_policy(fs, fresh) != 0) {
		policy_free(fresh);
		log_err("policy reload: out of memory; keeping the old policy");
		return ENOMEM;
	}
	/* What anyone may do may have changed: every cached page goes. */
	people_invalidate_all(fs->people);
	log_info("policy reloaded from %s", fs->policy_dir);
	return 0;
}

static void log_expired(void *ctx, const struct checkout *c)
{
	struct fs *fs = ctx;
	int err = 0;
	const struct staff *s = staff_current(fs->v->db, 0, &err);
	const struct employee *e = NULL;
	for (size_t i = 0; s && i < s->n && !e; i++)
		if (s->emps[i].id == c->employee_id)
			e = &s->emps[i];
	log_warn("checkout #%lld of customer #%lld%s%s by %s expired unreturned (R3.5); access "
		 "ended at its end time", (long long)c->id, (long long)c->customer_id,
		 c->field[0] || c->cls[0] ? "/" : "", c->field[0] ? c->field : c->cls,
		 e ? e->login : "?");
}

int64_t fs_sweep_checkouts(struct fs *fs)
{
	staff_checkouts_expire(fs->v->db, clock_now_ns(), log_expired, fs);
	record_flush_repeats(fs, false);
	if (fs->v->audit)
		audit_flush(fs->v->audit);
	/* A signed checkpoint of the audit chain every minute or so. */
	int64_t now = clock_now_ns();
	if (fs->v->audit && now - fs->last_checkpoint_ns > 60LL * 1000000000) {
		char line[512];
		if (audit_checkpoint(fs->v->audit, line, sizeof line) == 0)
			fs->last_checkpoint_ns = now;
	}
	return fs_rights_check(fs, false);
}
