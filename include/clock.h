/* The clocks custfs reads: wall time for records and end times, a monotonic
 * coarse clock for "how long since", and today's date for grants and
 * engagements (local time; YYYY-MM-DD dates compare as strings). */
#ifndef CUSTFS_CLOCK_H
#define CUSTFS_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define DATE_LEN 11 /* YYYY-MM-DD and NUL */

int64_t clock_now_ns(void);  /* CLOCK_REALTIME, nanoseconds */
int64_t clock_mono_ms(void); /* CLOCK_MONOTONIC_COARSE, milliseconds */
void clock_today(char out[DATE_LEN]); /* kept per thread until the local day ends */
void clock_date_of(time_t t, char out[DATE_LEN]); /* T's local date */
/* The local day holding T: [*START, *END). False where the zone has no such
 * day mktime can find (then nothing may be kept). */
bool clock_day_span(time_t t, time_t *start, time_t *end);

#endif
