/* The clocks custfs reads: wall time for records and end times, a monotonic
 * coarse clock for "how long since", and today's date for grants and
 * engagements (local time; YYYY-MM-DD dates compare as strings). */
#ifndef CUSTFS_CLOCK_H
#define CUSTFS_CLOCK_H

#include <stdint.h>

#define DATE_LEN 11 /* YYYY-MM-DD and NUL */

int64_t clock_now_ns(void);  /* CLOCK_REALTIME, nanoseconds */
int64_t clock_mono_ms(void); /* CLOCK_MONOTONIC_COARSE, milliseconds */
void clock_today(char out[DATE_LEN]);

#endif
