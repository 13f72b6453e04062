/* What the report's writers share: labels, times, the format's name. */
#include "report.h"

#include <string.h>
#include <time.h>

#include "i18n.h"

int report_format_parse(const char *s)
{
	static const char *const names[] = { "text", "csv", "json", "html" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int report_write(const struct report *r, enum report_format f, FILE *out)
{
	switch (f) {
	case REPORT_TEXT:
		return report_text(r, out);
	case REPORT_CSV:
		return report_csv(r, out);
	case REPORT_JSON:
		return report_json(r, out);
	case REPORT_HTML:
		return report_html(r, out);
	}
	return -1;
}

const char *report_person_label(const struct report_person *p, char *buf, size_t cap)
{
	if (p->login[0])
		return p->login;
	if (p->uid == 0)
		snprintf(buf, cap, "%s", _("root"));
	else
		snprintf(buf, cap, _("uid %u"), p->uid);
	return buf;
}

const char *report_key_label(const char *name)
{
	return name[0] ? name : _("(none)");
}

void report_time(int64_t ns, char out[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	out[0] = '\0';
	if (ns && localtime_r(&t, &tm))
		strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

void report_time_iso(int64_t ns, char out[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char z[8];
	out[0] = '\0';
	if (!ns || !localtime_r(&t, &tm))
		return;
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(z, sizeof z, "%z", &tm); /* +0800 */
	size_t n = strlen(out);
	if (strlen(z) == 5)
		snprintf(out + n, 32 - n, "%.3s:%s", z, z + 3);
}

void report_night(const struct report *r, char out[16])
{
	int a = r->opts.night_from, b = r->opts.night_to;
	snprintf(out, 16, "%02d:%02d-%02d:%02d", (a / 60) % 100, a % 60, (b / 60) % 100, b % 60);
}

const char *report_anomaly_name(enum report_anomaly_kind k)
{
	return k == ANOMALY_MANY_CUSTOMERS ? "many-customers" : k == ANOMALY_NIGHT ? "night"
											 : "denials";
}
