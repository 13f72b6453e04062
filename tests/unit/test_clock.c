/* clock_today keeps today's date per thread until the local day ends: the
 * day's span must hold exactly the instants of that date, on days of 23 and
 * 25 hours too (a grant that ends "today" must end at the real midnight). */
#include "check.h"

#include <stdlib.h>
#include <time.h>

#include "clock.h"

static long check_span(const char *zone, time_t t)
{
	char d[DATE_LEN], ds[DATE_LEN], dlast[DATE_LEN], dend[DATE_LEN];
	time_t start, end;
	setenv("TZ", zone, 1);
	tzset();
	check_ctx("%s at %lld", zone, (long long)t);
	CHECK(clock_day_span(t, &start, &end));
	clock_date_of(t, d);
	clock_date_of(start, ds);
	clock_date_of(end - 1, dlast);
	clock_date_of(end, dend);
	CHECK_STR(ds, d);
	CHECK_STR(dlast, d);
	CHECK(strcmp(dend, d) > 0);
	time_t before = start - 1;
	char dbefore[DATE_LEN];
	clock_date_of(before, dbefore);
	CHECK(strcmp(dbefore, d) < 0);
	CHECK(end - start >= 22 * 3600 && end - start <= 26 * 3600);
	return (long)(end - start);
}

int main(void)
{
	/* 2026-03-08 (New York: 23 hours), 2026-11-01 (25 hours), 2026-03-29
	 * (London: 23 hours), an ordinary day in Shanghai, and UTC. */
	CHECK_EQ_INT(check_span("America/New_York", 1772971200 + 12 * 3600), 23 * 3600);
	CHECK_EQ_INT(check_span("America/New_York", 1793505600 + 12 * 3600), 25 * 3600);
	CHECK_EQ_INT(check_span("Europe/London", 1774742400 + 6 * 3600), 23 * 3600);
	CHECK_EQ_INT(check_span("Asia/Shanghai", 1796400000), 24 * 3600);
	CHECK_EQ_INT(check_span("UTC", 1796400000), 24 * 3600);
	CHECK_EQ_INT(check_span("UTC", 1796428800), 24 * 3600); /* exactly midnight */

	/* The kept date is the formatted one, first call and later ones. */
	setenv("TZ", "Asia/Shanghai", 1);
	tzset();
	char a[DATE_LEN], b[DATE_LEN], want[DATE_LEN];
	time_t now = time(NULL);
	clock_today(a);
	clock_today(b);
	clock_date_of(now, want);
	check_ctx("today");
	if (time(NULL) == now) {
		CHECK_STR(a, want);
		CHECK_STR(b, want);
	}
	return check_done();
}
