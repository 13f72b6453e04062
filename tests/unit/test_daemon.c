/* The daemon's own modules, without a mount: inode numbers, the scratch
 * table (each person's names their own, bounded), the table of open writers,
 * the turns of a field's writers, the notes of .custfs/why, and the parsers
 * of .custfs/explain and .custfs/ctl. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "fs.h"

static void test_inodes(void)
{
	static const struct {
		enum kind k;
		uid_t uid;
		int64_t id;
	} cases[] = {
		{ K_CTL, 0, CTL_DIR },        { K_CTL, 1001, CTL_CMD },     { K_CTL, 0, CTL_WHY },
		{ K_SCRATCH, 0, 1 },          { K_CUSTOMER, 0, 1 },         { K_FIELD, 1001, 1 },
		{ K_FIELD, 4294967294u, INO_PERSONAL_ID_MAX },               { K_CUSTOMER, 0, 123456789 },
		{ K_FIELD, 0, 7 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int64_t id = -1;
		bool personal = kind_is_personal(cases[i].k, cases[i].id);
		fuse_ino_t ino = personal ? ino_for(cases[i].k, cases[i].uid, cases[i].id)
					  : ino_of(cases[i].k, cases[i].id);
		check_ctx("inode case %zu", i);
		CHECK(ino != FUSE_ROOT_ID);
		CHECK_EQ_INT(kind_of(ino, &id), cases[i].k);
		CHECK_EQ_INT(id, cases[i].id);
		if (personal)
			CHECK_EQ_INT(ino_uid(ino), cases[i].uid);
	}
	/* Two people, one field: two inodes (their pages never mix). */
	CHECK(ino_for(K_FIELD, 1001, 5) != ino_for(K_FIELD, 1002, 5));
	CHECK(ino_for(K_FIELD, 1001, 5) != ino_for(K_CTL, 1001, 5));
	check_ctx("%s", "");
	int64_t id = 0;
	CHECK_EQ_INT(kind_of(FUSE_ROOT_ID, &id), K_ROOT);
}

static void test_scratch(void)
{
	struct scratch_table *t = scratch_table_new(300, NULL, NULL);
	struct scratch_node *a = NULL, *b = NULL, *n;
	CHECK_NOT_NULL(t);
	CHECK_EQ_INT(scratch_create(t, 7, "sedAbc123", 1001, 0600, &a), 0);
	/* Another person may use the same name: names are per person. */
	CHECK_EQ_INT(scratch_create(t, 7, "sedAbc123", 1002, 0600, &b), 0);
	CHECK(a != b);
	CHECK_EQ_INT(scratch_create(t, 7, "sedAbc123", 1001, 0600, &n), EEXIST);
	n = scratch_find(t, 7, 1001, "sedAbc123");
	CHECK(n == a);
	scratch_put(t, n);
	CHECK_NULL(scratch_find(t, 8, 1001, "sedAbc123")); /* another customer */
	CHECK(scratch_get(t, a->id) == a);
	scratch_put(t, a);
	/* Rename over an existing scratch name replaces it. */
	struct scratch_node *c = NULL;
	CHECK_EQ_INT(scratch_create(t, 7, "x~", 1001, 0600, &c), 0);
	scratch_rename(t, a, "x~");
	n = scratch_find(t, 7, 1001, "x~");
	CHECK(n == a);
	scratch_put(t, n);
	CHECK_NULL(scratch_find(t, 7, 1001, "sedAbc123"));
	scratch_put(t, c); /* c was unlinked by the rename: freed now */
	/* Unlink keeps the node alive while referenced. */
	scratch_unlink(t, b);
	CHECK_NULL(scratch_find(t, 7, 1002, "sedAbc123"));
	CHECK_EQ_INT(secbuf_set(&b->buf, "still here", 10), 0);
	scratch_put(t, b);
	scratch_put(t, a);
	/* Bounded: at most the table's files (SCRATCH_MAX_FILES in the daemon). */
	int made = 0, rc = 0;
	for (int i = 0; i < 300 + 5; i++) {
		char name[32];
		struct scratch_node *m = NULL;
		snprintf(name, sizeof name, "f%d", i);
		rc = scratch_create(t, 9, name, 1003, 0600, &m);
		if (rc)
			break;
		made++;
		scratch_put(t, m);
	}
	CHECK_EQ_INT(rc, ENOSPC);
	CHECK(made <= 300);
	scratch_table_free(t);
}

static void test_inflight(void)
{
	struct inflight *f = inflight_new();
	size_t size = 0;
	CHECK_NOT_NULL(f);
	CHECK(!inflight_size(f, 5, 1000, &size));
	CHECK(!inflight_any(f, 5));
	CHECK_EQ_INT(inflight_add_writer(f, 5, 1000, 10), 0);
	CHECK_EQ_INT(inflight_add_writer(f, 5 + 64, 1000, 3), 0); /* the same stripe */
	CHECK(inflight_size(f, 5, 1000, &size) && size == 10);
	inflight_set_size(f, 5, 1000, 3000);
	CHECK(inflight_size(f, 5, 1000, &size) && size == 3000);
	CHECK(inflight_size(f, 69, 1000, &size) && size == 3);
	/* stored: no pending size until the next write, but still being written */
	inflight_settled(f, 5, 1000);
	CHECK(!inflight_size(f, 5, 1000, &size));
	CHECK(inflight_any(f, 5));
	inflight_set_size(f, 5, 1000, 3000);
	CHECK(inflight_size(f, 5, 1000, &size) && size == 3000);
	/* another person's pending size is theirs alone */
	CHECK(!inflight_size(f, 5, 1001, &size));
	CHECK_EQ_INT(inflight_add_writer(f, 5, 1001, 7), 0);
	CHECK(inflight_size(f, 5, 1001, &size) && size == 7);
	CHECK(inflight_size(f, 5, 1000, &size) && size == 3000);
	inflight_remove_writer(f, 5, 1001);
	CHECK(!inflight_size(f, 5, 1001, &size));
	CHECK_EQ_INT(inflight_add_writer(f, 5, 1000, 3000), 0);
	inflight_remove_writer(f, 5, 1000);
	CHECK(inflight_size(f, 5, 1000, &size)); /* one writer left */
	CHECK(inflight_any(f, 5));
	inflight_remove_writer(f, 5, 1000);
	CHECK(!inflight_size(f, 5, 1000, &size));
	CHECK(!inflight_any(f, 5));
	inflight_remove_writer(f, 69, 1000);
	inflight_free(f);
}

/* Writers of one field take turns; another field's writer waits for none. */
struct turn_worker {
	struct turns *t;
	int64_t customer_id;
	const char *field;
	int *counter; /* read, yield, written back: torn without the turn */
	int rounds;
};

static void *turn_work(void *arg)
{
	struct turn_worker *tw = arg;
	for (int i = 0; i < tw->rounds; i++) {
		int err = 0;
		struct turn *u = turn_take(tw->t, tw->customer_id, tw->field, 60000, &err);
		if (!u)
			return NULL;
		int seen = *tw->counter;
		sched_yield();
		*tw->counter = seen + 1;
		turn_give(tw->t, u);
	}
	return tw;
}

/* Waits 50 ms for a turn held elsewhere: *COUNTER gets the error. */
static void *turn_late(void *arg)
{
	struct turn_worker *tw = arg;
	struct turn *u = turn_take(tw->t, tw->customer_id, tw->field, 50, tw->counter);
	if (u)
		turn_give(tw->t, u);
	return NULL;
}

static void test_turns(void)
{
	struct turns *t = turns_new();
	CHECK_NOT_NULL(t);
	/* Held here, "C1/order_qty" does not hold up C2's, nor C1's "phone". */
	int err = 0;
	struct turn *held = turn_take(t, 1, "order_qty", 0, &err);
	CHECK_NOT_NULL(held);
	/* Held: another writer gives up after its wait, and leaves nothing. */
	pthread_t gives_up;
	struct turn_worker late = { t, 1, "order_qty", &err, 1 };
	CHECK_EQ_INT(pthread_create(&gives_up, NULL, turn_late, &late), 0);
	CHECK_EQ_INT(pthread_join(gives_up, NULL), 0);
	CHECK_EQ_INT(err, ETIMEDOUT);
	int other = 0, same = 0;
	struct turn_worker free_ones[] = { { t, 2, "order_qty", &other, 50 },
					   { t, 1, "phone", &other, 50 } };
	for (size_t i = 0; i < 2; i++) {
		pthread_t th;
		void *done = NULL;
		CHECK_EQ_INT(pthread_create(&th, NULL, turn_work, &free_ones[i]), 0);
		CHECK_EQ_INT(pthread_join(th, &done), 0); /* would hang if it waited */
		CHECK(done == &free_ones[i]);
	}
	CHECK_EQ_INT(other, 100);
	turn_give(t, held);
	/* Four writers of one field, 200 turns each: no update lost. */
	struct turn_worker w = { t, 1, "order_qty", &same, 200 };
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(pthread_create(&th[i], NULL, turn_work, &w), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(pthread_join(th[i], NULL), 0);
	CHECK_EQ_INT(same, 800);
	/* Chinese field names are names like any other. */
	struct turn *zh = turn_take(t, 3, "电话", 0, &err);
	CHECK_NOT_NULL(zh);
	turn_give(t, zh);
	turns_free(t); /* nothing left held: LeakSanitizer checks the frees */
}

static void test_notes(void)
{
	struct notes *n = notes_new();
	char out[NOTE_TEXT];
	CHECK_NOT_NULL(n);
	CHECK_EQ_INT(notes_get(n, 1000, out, sizeof out), 0);
	notes_record(n, 1000, "first");
	notes_record(n, 1000, "second");
	CHECK_EQ_INT(notes_get(n, 1000, out, sizeof out), 6);
	CHECK_STR(out, "second");
	/* Bounded: the oldest person's note gives way. */
	for (uid_t u = 2000; u < 2000 + NOTES_MAX; u++)
		notes_record(n, u, "x");
	CHECK_EQ_INT(notes_get(n, 1000, out, sizeof out), 0);
	CHECK_EQ_INT(notes_get(n, 2000 + NOTES_MAX - 1, out, sizeof out), 1);
	notes_free(n);
}

static void test_explain_parse(void)
{
	static const struct {
		const char *q;
		int rc;
		const char *customer, *field;
		enum access_right right;
	} cases[] = {
		{ "C1001/phone read\n", 0, "C1001", "phone", RIGHT_READ },
		{ "C1001/phone", 0, "C1001", "phone", RIGHT_READ },
		{ "C1001 write", 0, "C1001", "", RIGHT_WRITE },
		{ "杭州西湖茶庄/address write\n", 0, "杭州西湖茶庄", "address", RIGHT_WRITE },
		{ "", EINVAL, "", "", RIGHT_READ },
		{ "\n", EINVAL, "", "", RIGHT_READ },
		{ "C1001/phone delete", EINVAL, "", "", RIGHT_READ },
		{ "C1001/phone read extra", EINVAL, "", "", RIGHT_READ },
		{ "../etc/passwd", EINVAL, "", "", RIGHT_READ },
		{ "C1001/../x", EINVAL, "", "", RIGHT_READ },
		{ "C1001/a/b", EINVAL, "", "", RIGHT_READ },
		{ ".custfs/why", EINVAL, "", "", RIGHT_READ },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct explain_query q;
		check_ctx("explain %zu: %s", i, cases[i].q);
		CHECK_EQ_INT(explain_parse(cases[i].q, strlen(cases[i].q), &q), cases[i].rc);
		if (cases[i].rc)
			continue;
		CHECK_STR(q.customer, cases[i].customer);
		CHECK_STR(q.field, cases[i].field);
		CHECK_EQ_INT(q.right, cases[i].right);
	}
	struct explain_query q;
	CHECK_EQ_INT(explain_parse("C1\0/x", 5, &q), EINVAL); /* a NUL inside */
	char big[2000];
	memset(big, 'a', sizeof big);
	CHECK_EQ_INT(explain_parse(big, sizeof big, &q), EINVAL);
	check_ctx("%s", "");
}

static void test_ctl_split(void)
{
	int argc;
	char **argv;
	static const unsigned char req[] = "app\0new\0li\0sales\0";
	CHECK_EQ_INT(ctl_request_split(req, sizeof req - 1, &argc, &argv), 0);
	CHECK_EQ_INT(argc, 4);
	CHECK_STR(argv[0], "app");
	CHECK_STR(argv[3], "sales");
	CHECK_NULL(argv[4]);
	free(argv);
	CHECK_EQ_INT(ctl_request_split((const unsigned char *)"app", 3, &argc, &argv), EINVAL);
	CHECK_EQ_INT(ctl_request_split(req, 0, &argc, &argv), EINVAL);
	unsigned char *many = malloc(2 * (CTL_MAX_WORDS + 1));
	memset(many, 0, 2 * (CTL_MAX_WORDS + 1));
	CHECK_EQ_INT(ctl_request_split(many, 2 * (CTL_MAX_WORDS + 1), &argc, &argv), EINVAL);
	free(many);
}

int main(void)
{
	if (crypto_init() != 0)
		return 1;
	test_inodes();
	test_scratch();
	test_inflight();
	test_turns();
	test_notes();
	test_explain_parse();
	test_ctl_split();
	return check_done();
}
