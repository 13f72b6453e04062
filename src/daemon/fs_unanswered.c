/* What a daemon that died left unanswered on the record (R5.1).
 *
 * A new version is claimed on the record ("version N", allowed) before the
 * store takes it, and a claim the store did not take gets its answer (a
 * "version N" denial) after. A daemon killed between the two leaves a claim
 * that looks stored but is not, and the next writer claims N again.
 *
 * Each daemon holds its store's lock for its view (and person): one at a
 * time. Beside the lock it keeps a file naming its run (the log's last seq
 * before its mount record, its pid and mount point), removed at a clean stop
 * once its unmount record is in. The next holder finds the run still named
 * there only if that daemon died, reads the records it wrote (its mount
 * point and view, up to the next daemon mounted there: two live daemons never
 * share a mount point), and before serving anything answers each claim that
 * has no answer and that the store does not hold as that person's version N.
 * A run it cannot finish (the log held) stays named for the next start.
 *
 * Numbers are consecutive, so a version missing below the field's current
 * one was stored and later pruned or erased: whose it was cannot be told, and
 * it is left as it is (never answered wrongly). The same person storing N
 * through another mount after the crash passes for the claim. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "store.h"

/* Claims the store does not hold, waiting for their answer further on: a
 * claim that lost the race is answered within a moment, so few wait at once.
 * Past the bound a claim is left as it is (never answered wrongly). */
enum { PENDING_MAX = 1024, RUNS_MAX = 16 };

struct run {
	int64_t after; /* the log's last seq before its mount record */
	long pid;
	char mount[PATH_MAX];
};

struct unanswered {
	struct fs *fs;
	struct audit_record **pending;
	size_t n;
	bool overflowed;
};

enum stored { STORED, NOT_STORED, UNKNOWN };

static bool same_claim(const struct audit_event *a, const struct audit_event *b)
{
	return a->customer_id == b->customer_id && a->uid == b->uid &&
	       strcmp(a->field, b->field) == 0 && strcmp(a->detail, b->detail) == 0;
}

static enum stored stored_as_claimed(struct fs *fs, const struct audit_event *claim)
{
	long long version;
	char end;
	if (sscanf(claim->detail, "version %lld%c", &version, &end) != 1 || version <= 0)
		return UNKNOWN; /* not a claim this daemon writes: leave it be */
	struct field_row row;
	struct version_row got;
	if (store_field_by_name(fs->v->db, claim->customer_id, claim->field, &row) != 0)
		return UNKNOWN; /* erased, or unreadable just now */
	int rc = store_version_get(fs->v->db, row.id, version, &got);
	if (rc == ENOENT)
		return version > row.version ? NOT_STORED : UNKNOWN; /* else: pruned */
	if (rc)
		return UNKNOWN;
	return got.uid == (int64_t)claim->uid ? STORED : NOT_STORED;
}

static int take_record(void *ctx, const struct audit_record *r)
{
	struct unanswered *u = ctx;
	if (!r->ev.allow) { /* an answer: to the oldest claim it fits */
		for (size_t i = 0; i < u->n; i++)
			if (same_claim(&u->pending[i]->ev, &r->ev)) {
				free(u->pending[i]);
				memmove(&u->pending[i], &u->pending[i + 1],
					(u->n - i - 1) * sizeof *u->pending);
				u->n--;
				break;
			}
		return 0;
	}
	if (stored_as_claimed(u->fs, &r->ev) != NOT_STORED)
		return 0;
	struct audit_record *copy = u->n < PENDING_MAX ? malloc(sizeof *copy) : NULL;
	if (!copy) {
		u->overflowed = true;
		return 0;
	}
	*copy = *r;
	audit_record_copy(copy, &r->ev); /* its strings into its own storage */
	u->pending[u->n++] = copy;
	return 0;
}

static int answer(struct fs *fs, const struct audit_record *claim)
{
	struct audit_event ev = claim->ev;
	ev.time_ns = 0; /* now */
	ev.allow = false;
	ev.rule = "not-stored";
	ev.reason = "custfs stopped before it was stored (answered when the view was "
		    "mounted again)";
	ev.bytes_read = ev.bytes_written = 0;
	return audit_append(fs->v->audit, &ev, false);
}

/* Answers what RUN left unanswered. 0 when done (*ANSWERED counts them). */
static int answer_run(struct fs *fs, const struct run *run, int *answered)
{
	struct unanswered u = { .fs = fs, .pending = calloc(PENDING_MAX, sizeof *u.pending) };
	if (!u.pending)
		return ENOMEM;
	int rc = audit_run_records(fs->v->audit, run->after, run->mount,
				   fs->view ? fs->view : "", (pid_t)run->pid, "version",
				   take_record, &u);
	for (size_t i = 0; i < u.n; i++) {
		/* An answer past the walk's end (written by an earlier try at this
		 * run, after another daemon mounted there) still answers it. */
		bool denied = false;
		if (!rc)
			rc = audit_denied_after(fs->v->audit, u.pending[i], &denied);
		if (!rc && !denied && (rc = answer(fs, u.pending[i])) == 0) {
			(*answered)++;
			log_warn("audit: %s of customer #%" PRId64 "/%s (uid %u) was claimed "
				 "but not stored when the daemon mounted at %s stopped: "
				 "answered as not stored", u.pending[i]->ev.detail,
				 u.pending[i]->ev.customer_id, u.pending[i]->ev.field,
				 (unsigned)u.pending[i]->ev.uid, run->mount);
		}
		free(u.pending[i]);
	}
	free(u.pending);
	if (u.overflowed)
		log_err("audit: more than %d claimed versions wait for an answer; the rest "
			"are left as they are", PENDING_MAX);
	return rc;
}

/* Lines "AFTER PID LEN MOUNT\n": a mount point may hold any byte but NUL. A
 * file that does not read to its end is kept aside (PATH.bad), not lost. */
static size_t read_runs(const char *path, struct run *runs, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;
	long long after;
	size_t len;
	if (!f)
		return 0;
	while (n < cap && fscanf(f, "%lld %ld %zu", &after, &runs[n].pid, &len) == 3 &&
	       fgetc(f) == ' ' && len < sizeof runs[n].mount &&
	       fread(runs[n].mount, 1, len, f) == len && fgetc(f) == '\n') {
		runs[n].mount[len] = '\0';
		runs[n++].after = after;
	}
	bool whole = fgetc(f) == EOF && !ferror(f);
	fclose(f);
	if (!whole) {
		char bad[PATH_MAX + 8];
		snprintf(bad, sizeof bad, "%s.bad", path);
		log_err("audit: %s does not read to its end (%zu run(s) read); kept as %s: "
			"claims of the runs it names past that are not answered", path, n, bad);
		rename(path, bad);
	}
	return n;
}

/* Replaces PATH with RUNS (removes it when there are none), synced: a run
 * is named on disk before its daemon claims anything. 0 or errno. */
static int write_runs(const char *path, const struct run *runs, size_t n)
{
	if (n == 0)
		return unlink(path) == 0 || errno == ENOENT ? 0 : errno;
	char tmp[PATH_MAX + 8];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.new", path) >= sizeof tmp)
		return ENAMETOOLONG;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return errno;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%" PRId64 " %ld %zu %s\n", runs[i].after, runs[i].pid,
			strlen(runs[i].mount), runs[i].mount);
	int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : errno;
	if (fclose(f) != 0 && !rc)
		rc = errno;
	if (!rc && rename(tmp, path) != 0)
		rc = errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int fs_unanswered_start(struct fs *fs, const char *path, int *answered)
{
	*answered = 0;
	struct run runs[RUNS_MAX + 1];
	size_t n = read_runs(path, runs, RUNS_MAX), kept = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = answer_run(fs, &runs[i], answered);
		if (rc) { /* named again, for the next start */
			log_err("audit: cannot answer what the daemon mounted at %s left "
				"unanswered: %s (tried again at the next start)", runs[i].mount,
				strerror(rc));
			runs[kept++] = runs[i];
		}
	}
	if (kept == RUNS_MAX) { /* room for this run: the oldest goes */
		log_err("audit: %d runs wait for their answers; the oldest (mounted at %s) "
			"is no longer tried", RUNS_MAX, runs[0].mount);
		memmove(&runs[0], &runs[1], --kept * sizeof *runs);
	}
	struct run *mine = &runs[kept];
	int rc = audit_last_seq(fs->v->audit, &mine->after);
	if (!rc) {
		mine->pid = (long)getpid();
		snprintf(mine->mount, sizeof mine->mount, "%s", fs->mountpoint);
		rc = write_runs(path, runs, kept + 1);
	}
	return rc;
}

void fs_unanswered_stop(struct fs *fs, const char *path)
{
	struct run runs[RUNS_MAX + 1];
	size_t n = read_runs(path, runs, RUNS_MAX + 1), kept = 0;
	for (size_t i = 0; i < n; i++)
		if (runs[i].pid != (long)getpid() || strcmp(runs[i].mount, fs->mountpoint) != 0)
			runs[kept++] = runs[i];
	int rc = write_runs(path, runs, kept);
	if (rc)
		log_err("audit: %s: %s (the next start reads this run's records again)", path,
			strerror(rc));
}
