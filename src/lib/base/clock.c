#include "clock.h"

#include <string.h>
#include <time.h>

int64_t clock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_date_of(time_t t, char out[DATE_LEN])
{
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, DATE_LEN, "%Y-%m-%d", &tm);
}

bool clock_day_span(time_t t, time_t *start, time_t *end)
{
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return false;
	/* mktime normalises the day after the last of a month, and finds each
	 * midnight's offset itself (tm_isdst -1): a day of 23 or 25 hours too. */
	struct tm day = { .tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday,
			  .tm_isdst = -1 };
	*start = mktime(&day);
	day = (struct tm){ .tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday + 1,
			   .tm_isdst = -1 };
	*end = mktime(&day);
	return *start != (time_t)-1 && *end != (time_t)-1 && *start <= t && t < *end;
}

/* Every request asks for today's date: each thread keeps the day it last
 * formatted and the local times at which it starts and ends, and formats
 * again only outside them (a new day, or the clock set back). */
static __thread struct {
	time_t start, end;
	char date[DATE_LEN];
} today_cache;

void clock_today(char out[DATE_LEN])
{
	time_t now = time(NULL);
	if (now >= today_cache.start && now < today_cache.end) {
		memcpy(out, today_cache.date, DATE_LEN);
		return;
	}
	clock_date_of(now, out);
	time_t start, end;
	if (!clock_day_span(now, &start, &end))
		return; /* an odd zone (midnight skipped): no cache, format each time */
	today_cache.start = start;
	today_cache.end = end;
	memcpy(today_cache.date, out, DATE_LEN);
}
