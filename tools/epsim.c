/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * epsim: a fleet of simulated endpoint agents against one rampartd, for
 * `make bench` (scripts/bench-endpoint.sh).  Not installed.
 *
 *   epsim --server URL --token T [--devices N] [--packages N] [--changes N]
 *         [--events N] [--event-batch N] [--concurrency N]
 *         [--server-pid PID] [--db FILE] [--json FILE]
 *
 * Phases, each timed from its first request to its last answer:
 *   1. enroll:  every device creates an Ed25519 key and enrolls with the one
 *               enrollment token (POST /api/v1/endpoint/enroll);
 *   2. full:    every device checks in with a full report of --packages
 *               packages (POST /api/v1/endpoint/checkin, signed as
 *               src/formats/devsig.h says, as rampart-agent signs);
 *   3. delta:   every device checks in again with only --changes changed
 *               packages and one removed;
 *   4. events:  when --events is above 0, every device sends that many
 *               operation-log events in batches of --event-batch
 *               (POST /api/v1/endpoint/events, seq 1..N); the answer's
 *               accepted_through must be the batch's last seq.
 * Requests run --concurrency at a time on one thread (libcurl multi, kept-
 * alive connections); the bodies are built as the requests start, so the
 * simulator's own CPU time is printed too.  With --server-pid, rampartd's
 * peak resident memory (VmHWM) and CPU time are read from /proc after each
 * phase; with --db, the database's size (with its WAL).
 * Every answer is checked; the exit status is 1 when any request failed.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/rtime.h"
#include "common/str.h"
#include "formats/devsig.h"

#define SIM_MAX_DEVICES 1000000
#define SIM_MAX_PACKAGES 50000
#define SIM_MAX_RESPONSE ((size_t)1 << 20)
#define SIM_MAX_BODY ((size_t)64 << 20)
#define SIM_ERRORS_SHOWN 5

enum phase { PH_ENROLL, PH_FULL, PH_DELTA, PH_EVENTS, PH_COUNT };

static const char *const phase_name[PH_COUNT] = { "enroll", "check-in full", "check-in delta", "events" };
static const char *const phase_path[PH_COUNT] = {
	"/api/v1/endpoint/enroll", "/api/v1/endpoint/checkin", "/api/v1/endpoint/checkin",
	"/api/v1/endpoint/events",
};

struct opts {
	const char *server, *token, *db, *json_out;
	int64_t devices, packages, changes, events, event_batch, concurrency, server_pid;
};

struct dev {
	char id[32];              /* "" until enrolled */
	unsigned char sk[DEVSIG_SK_BYTES];
	bool busy;                /* a request of this device is in flight */
};

struct xfer {
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body, resp;
	int64_t item, dev, started_ns;
	bool active;
};

struct server_sample {
	int64_t hwm_kb, rss_kb, cpu_ms, db_bytes;
};

struct phase_result {
	int64_t requests, ok, failed, units;   /* units: devices or events */
	double seconds, p50_ms, p99_ms, sim_cpu_ms;
	struct server_sample after;
	int64_t server_cpu_ms;
	bool run;
};

struct sim {
	struct opts o;
	struct dev *devs;
	struct xfer *x;
	CURLM *multi;
	double *lat;
	int64_t nbatches;           /* event batches per device */
	int errors_shown;
	struct phase_result res[PH_COUNT];
	struct server_sample start;
};

/* ---------------------------------------------------------------- measurements */

static int64_t sim_status_kb(int64_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	int64_t v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/status", (long long)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtoll(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* utime + stime of @pid in milliseconds, or -1. */
static int64_t sim_cpu_ms(int64_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields are counted after its closing parenthesis. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (int64_t)((ut + st) * 1000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static int64_t sim_file_size(const char *path)
{
	char wal[4096];
	struct stat st;
	int64_t n = 0;

	if (!path)
		return -1;
	if (stat(path, &st) == 0)
		n += st.st_size;
	if (snprintf(wal, sizeof(wal), "%s-wal", path) < (int)sizeof(wal) && stat(wal, &st) == 0)
		n += st.st_size;
	return n;
}

static void sim_sample(const struct sim *s, struct server_sample *ss)
{
	ss->hwm_kb = s->o.server_pid ? sim_status_kb(s->o.server_pid, "VmHWM") : -1;
	ss->rss_kb = s->o.server_pid ? sim_status_kb(s->o.server_pid, "VmRSS") : -1;
	ss->cpu_ms = s->o.server_pid ? sim_cpu_ms(s->o.server_pid) : -1;
	ss->db_bytes = sim_file_size(s->o.db);
}

static double sim_self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- bodies */

/*
 * Package @i of device @d: the same names on every device (a fleet of
 * similar PCs), versions that differ a little between devices, a source
 * package shared by three binary packages.  @bump marks a changed version.
 */
static int sim_package(struct buf *b, int64_t d, int64_t i, bool first, bool bump)
{
	return buf_printf(b, "%s{\"name\":\"sim-lib%05lld-common\",\"version\":\"%lld.%lld.%lld-%lld%s\","
			  "\"source\":\"sim-src%05lld\"}",
			  first ? "" : ",", (long long)i, (long long)(1 + i % 9), (long long)(i % 31),
			  (long long)(d % 4), (long long)(1 + i % 3), bump ? "+sec1" : "", (long long)(i / 3));
}

static int sim_checkin_body(const struct sim *s, struct buf *b, int64_t d, bool full)
{
	int64_t i, n = full ? s->o.packages : s->o.changes;
	int r;

	r = buf_printf(b, "{\"agent_version\":\"%s\",\"policy_version\":0,"
			  "\"os\":{\"codename\":\"bookworm\",\"id\":\"debian\",\"version_id\":\"12\",\"pretty_name\":\"Debian GNU/Linux 12 (bookworm)\"},"
			  "\"kernel\":{\"release\":\"6.1.0-28-amd64\"},\"uptime_s\":%lld,"
			  "\"machine_id\":\"%032llx\",\"hostname\":\"sim-%06lld\",\"packages\":{\"mode\":\"%s\",\"items\":[",
		       RAMPART_VERSION, (long long)(3600 + d), (unsigned long long)(0x5eed0000ULL + (unsigned long long)d),
		       (long long)d, full ? "full" : "delta");
	/* A delta changes packages spread over the list, and removes the last one. */
	for (i = 0; r == 0 && i < n; i++)
		r = sim_package(b, d, full ? i : (i * 97 + d) % (s->o.packages > 1 ? s->o.packages - 1 : 1), i == 0,
				!full);
	if (r == 0)
		r = buf_puts(b, "]");
	if (r == 0 && !full && s->o.packages > 0)
		r = buf_printf(b, ",\"removed\":[\"sim-lib%05lld-common\"]", (long long)(s->o.packages - 1));
	if (r == 0)
		r = buf_puts(b, "},\"disk_encryption\":[{\"mount\":\"/\",\"device\":\"/dev/mapper/root\","
				"\"encrypted\":true},{\"mount\":\"/home\",\"device\":\"/dev/mapper/home\",\"encrypted\":true}],"
				"\"firewall\":{\"nftables_active\":true,\"rules\":24},"
				"\"antivirus\":{\"databases\":3,\"present\":true,\"product\":\"clamav\",\"signature_age_s\":7200},"
				"\"usb_storage\":[],\"errors\":[]}");
	return r;
}

/* Events seq @first .. @first + @n - 1 of device @d, kinds mixed as a desk PC's day. */
static int sim_events_body(struct buf *b, int64_t d, int64_t first, int64_t n)
{
	int64_t now = rtime_now_ms(), i, seq;
	int r = buf_puts(b, "{\"events\":[");

	for (i = 0; r == 0 && i < n; i++) {
		seq = first + i;
		r = buf_printf(b, "%s{\"seq\":%lld,\"ts\":%lld,", i ? "," : "", (long long)seq,
			       (long long)(now - (n - i) * 50));
		if (r < 0)
			break;
		switch (seq % 20) {
		case 0:
			r = buf_printf(b, "\"kind\":\"login\",\"user\":\"user%06lld\",\"tty\":\"tty2\"}", (long long)d);
			break;
		case 10:
			r = buf_printf(b, "\"kind\":\"logout\",\"user\":\"user%06lld\",\"tty\":\"tty2\"}", (long long)d);
			break;
		case 5:
			r = buf_printf(b, "\"kind\":\"file_write\",\"path\":\"/media/user%06lld/USB/report-%lld.pdf\","
					  "\"device\":\"0781:5583:4C53000%lld\",\"size\":%lld,\"user\":\"user%06lld\"}",
				       (long long)d, (long long)seq, (long long)(d % 10), (long long)(seq * 1000),
				       (long long)d);
			break;
		default:
			r = buf_printf(b, "\"kind\":\"exec\",\"pid\":%lld,\"ppid\":%lld,\"uid\":1000,"
					  "\"user\":\"user%06lld\",\"path\":\"/usr/bin/git\","
					  "\"argv\":[\"git\",\"commit\",\"-m\",\"change %lld\"],\"cwd\":\"/home/user%06lld/src\"}",
				       (long long)(1000 + seq), (long long)(900 + seq / 7), (long long)d, (long long)seq,
				       (long long)d);
			break;
		}
	}
	return r == 0 ? buf_puts(b, "]}") : r;
}

/* ---------------------------------------------------------------- requests */

static size_t sim_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;

	return buf_append(b, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static int sim_header(struct curl_slist **h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int sim_header(struct curl_slist **h, const char *fmt, ...)
{
	char line[256];
	struct curl_slist *t;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return ERR_INVALID;
	t = curl_slist_append(*h, line);
	if (!t)
		return -ENOMEM;
	*h = t;
	return 0;
}

/* The device of request @item in phase @ph (events: batch-major, so one device's batches go in order). */
static int64_t sim_item_dev(const struct sim *s, enum phase ph, int64_t item)
{
	return ph == PH_EVENTS ? item % s->o.devices : item;
}

/* Prepares and adds request @item of @ph on @x.  Returns 0, 1 when skipped (device not enrolled) or an error. */
static int sim_start(struct sim *s, enum phase ph, struct xfer *x, int64_t item)
{
	int64_t d = sim_item_dev(s, ph, item), ts = rtime_now_ms();
	struct dev *dv = &s->devs[d];
	char url[1024], sig[DEVSIG_SIG_B64_SIZE];
	int r = 0;

	if (ph != PH_ENROLL && !dv->id[0])
		return 1;
	buf_reset(&x->body);
	buf_reset(&x->resp);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	if (ph == PH_ENROLL) {
		unsigned char pk[DEVSIG_PK_BYTES];
		char pk_b64[DEVSIG_PK_B64_SIZE];

		crypto_sign_keypair(pk, dv->sk);
		devsig_b64_encode(pk, sizeof(pk), pk_b64, sizeof(pk_b64));
		r = buf_printf(&x->body, "{\"token\":\"%s\",\"hostname\":\"sim-%06lld\",\"machine_id\":\"%032llx\","
					 "\"public_key\":\"%s\"}",
			       s->o.token, (long long)d, (unsigned long long)(0x5eed0000ULL + (unsigned long long)d),
			       pk_b64);
	} else if (ph == PH_EVENTS) {
		int64_t batch = item / s->o.devices, first = 1 + batch * s->o.event_batch;
		int64_t n = s->o.events - batch * s->o.event_batch;

		r = sim_events_body(&x->body, d, first, n < s->o.event_batch ? n : s->o.event_batch);
	} else {
		r = sim_checkin_body(s, &x->body, d, ph == PH_FULL);
	}
	if (r == 0)
		r = sim_header(&x->hdrs, "Content-Type: application/json");
	if (r == 0)
		r = sim_header(&x->hdrs, "Expect:");
	if (r == 0 && ph != PH_ENROLL) {
		r = devsig_sign(dv->sk, "POST", phase_path[ph], ts, x->body.data, x->body.len, sig);
		if (r == 0)
			r = sim_header(&x->hdrs, DEVSIG_HDR_DEVICE ": %s", dv->id);
		if (r == 0)
			r = sim_header(&x->hdrs, DEVSIG_HDR_TIMESTAMP ": %lld", (long long)ts);
		if (r == 0)
			r = sim_header(&x->hdrs, DEVSIG_HDR_SIGNATURE ": %s", sig);
	}
	if (r < 0)
		return r;
	snprintf(url, sizeof(url), "%s%s", s->o.server, phase_path[ph]);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body.data);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
	x->item = item;
	x->dev = d;
	x->started_ns = rtime_mono_ns();
	x->active = true;
	dv->busy = true;
	return curl_multi_add_handle(s->multi, x->easy) == CURLM_OK ? 0 : -EIO;
}

static void sim_fail(struct sim *s, enum phase ph, const struct xfer *x, long status, const char *what)
{
	s->res[ph].failed++;
	if (s->errors_shown++ < SIM_ERRORS_SHOWN)
		fprintf(stderr, "epsim: %s device %lld: %s (HTTP %ld): %.300s\n", phase_name[ph], (long long)x->dev,
			what, status, x->resp.data ? x->resp.data : "");
}

/* Checks the answer of a finished request. */
static void sim_finish(struct sim *s, enum phase ph, struct xfer *x, CURLcode cc)
{
	struct dev *dv = &s->devs[x->dev];
	long status = 0;
	json_t *ans = NULL;

	s->lat[s->res[ph].requests++] = (double)(rtime_mono_ns() - x->started_ns) / 1e6;
	dv->busy = false;
	x->active = false;
	if (cc != CURLE_OK) {
		sim_fail(s, ph, x, 0, curl_easy_strerror(cc));
		return;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != (ph == PH_ENROLL ? 201 : 200)) {
		sim_fail(s, ph, x, status, "refused");
		return;
	}
	if (ph == PH_ENROLL || ph == PH_EVENTS)
		ans = json_loadb(x->resp.data, x->resp.len, 0, NULL);
	if (ph == PH_ENROLL) {
		const char *id = json_string_value(json_object_get(ans, "device_id"));

		if (!id || str_copy(dv->id, sizeof(dv->id), id) < 0) {
			dv->id[0] = '\0';
			sim_fail(s, ph, x, status, "no device_id in the answer");
		} else {
			s->res[ph].ok++;
			s->res[ph].units++;
		}
	} else if (ph == PH_EVENTS) {
		int64_t batch = x->item / s->o.devices, first = 1 + batch * s->o.event_batch;
		int64_t n = s->o.events - batch * s->o.event_batch;
		json_t *at = json_object_get(ans, "accepted_through");

		n = n < s->o.event_batch ? n : s->o.event_batch;
		if (!json_is_integer(at) || json_integer_value(at) != first + n - 1) {
			sim_fail(s, ph, x, status, "accepted_through is not the batch's last seq");
		} else {
			s->res[ph].ok++;
			s->res[ph].units += n;
		}
	} else {
		s->res[ph].ok++;
		s->res[ph].units++;
	}
	json_decref(ans);
}

static int sim_phase(struct sim *s, enum phase ph)
{
	struct phase_result *pr = &s->res[ph];
	int64_t total = ph == PH_EVENTS ? s->o.devices * s->nbatches : s->o.devices;
	int64_t next = 0, active = 0, t0, k, cpu0 = 0;
	struct server_sample before;
	double self0 = sim_self_cpu_ms();
	int r = 0, running;

	memset(pr, 0, sizeof(*pr));
	pr->run = true;
	sim_sample(s, &before);
	cpu0 = before.cpu_ms;
	t0 = rtime_mono_ns();
	for (;;) {
		/* Fill every free slot; a device whose previous batch is still in flight waits. */
		for (k = 0; k < s->o.concurrency && next < total; k++) {
			struct xfer *x = &s->x[k];

			if (x->active)
				continue;
			if (s->devs[sim_item_dev(s, ph, next)].busy)
				break;
			r = sim_start(s, ph, x, next++);
			if (r == 1) {
				r = 0;
				k--;   /* skipped: the same slot takes the next item */
				continue;
			}
			if (r < 0)
				return r;
			active++;
		}
		if (active == 0 && next >= total)
			break;
		if (curl_multi_perform(s->multi, &running) != CURLM_OK)
			return -EIO;
		for (;;) {
			int left;
			CURLMsg *m = curl_multi_info_read(s->multi, &left);

			if (!m)
				break;
			if (m->msg != CURLMSG_DONE)
				continue;
			for (k = 0; k < s->o.concurrency; k++)
				if (s->x[k].easy == m->easy_handle)
					break;
			curl_multi_remove_handle(s->multi, m->easy_handle);
			if (k < s->o.concurrency) {
				sim_finish(s, ph, &s->x[k], m->data.result);
				active--;
			}
		}
		if (active > 0 && curl_multi_poll(s->multi, NULL, 0, 100, NULL) != CURLM_OK)
			return -EIO;
	}
	pr->seconds = (double)(rtime_mono_ns() - t0) / 1e9;
	pr->sim_cpu_ms = sim_self_cpu_ms() - self0;
	sim_sample(s, &pr->after);
	pr->server_cpu_ms = cpu0 >= 0 && pr->after.cpu_ms >= 0 ? pr->after.cpu_ms - cpu0 : -1;
	if (pr->requests) {
		qsort(s->lat, (size_t)pr->requests, sizeof(double), cmp_double);
		pr->p50_ms = s->lat[(pr->requests - 1) / 2];
		pr->p99_ms = s->lat[(int64_t)ceil(0.99 * (double)pr->requests) - 1];
	}
	return 0;
}

/* ---------------------------------------------------------------- report */

static void sim_print(const struct sim *s)
{
	static const char *const unit[PH_COUNT] = { "enrollments", "check-ins", "check-ins", "events" };
	const struct phase_result *pr;
	int ph;

	for (ph = 0; ph < PH_COUNT; ph++) {
		pr = &s->res[ph];
		if (!pr->run)
			continue;
		printf("   %-15s %8lld req %8.2f s %10.0f %s/s  p50 %7.2fms p99 %8.2fms  failed %lld\n",
		       phase_name[ph], (long long)pr->requests, pr->seconds,
		       pr->seconds > 0 ? (double)pr->units / pr->seconds : 0.0, unit[ph], pr->p50_ms, pr->p99_ms,
		       (long long)pr->failed);
		if (pr->server_cpu_ms >= 0 && pr->ok)
			printf("   %-15s rampartd CPU %.2f ms per request (%.0f%% of one core), epsim CPU %.2f ms per request,"
			       " rampartd peak RSS %.1f MiB\n", "",
			       (double)pr->server_cpu_ms / (double)pr->requests,
			       pr->seconds > 0 ? (double)pr->server_cpu_ms / 10.0 / pr->seconds : 0.0,
			       pr->sim_cpu_ms / (double)pr->requests, (double)pr->after.hwm_kb / 1024.0);
		else
			printf("   %-15s epsim CPU %.2f ms per request\n", "", pr->sim_cpu_ms / (double)(pr->requests ? pr->requests : 1));
	}
}

static int sim_write_json(const struct sim *s, const char *path)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "devices", (json_int_t)s->o.devices,
			      "packages", (json_int_t)s->o.packages, "changes", (json_int_t)s->o.changes,
			      "events", (json_int_t)s->o.events, "event_batch", (json_int_t)s->o.event_batch,
			      "concurrency", (json_int_t)s->o.concurrency);
	int ph, r;

	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "server_start", json_pack("{s:I, s:I, s:I}", "vm_hwm_kb", (json_int_t)s->start.hwm_kb,
							  "vm_rss_kb", (json_int_t)s->start.rss_kb,
							  "db_bytes", (json_int_t)s->start.db_bytes));
	for (ph = 0; ph < PH_COUNT; ph++) {
		const struct phase_result *pr = &s->res[ph];

		if (!pr->run)
			continue;
		json_object_set_new(o, phase_name[ph],
				    json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I}",
					      "requests", (json_int_t)pr->requests, "ok", (json_int_t)pr->ok,
					      "failed", (json_int_t)pr->failed, "units", (json_int_t)pr->units,
					      "seconds", pr->seconds, "p50_ms", pr->p50_ms, "p99_ms", pr->p99_ms,
					      "epsim_cpu_ms", pr->sim_cpu_ms, "server_cpu_ms", (json_int_t)pr->server_cpu_ms,
					      "server_vm_hwm_kb", (json_int_t)pr->after.hwm_kb,
					      "server_vm_rss_kb", (json_int_t)pr->after.rss_kb,
					      "db_bytes", (json_int_t)pr->after.db_bytes));
	}
	r = json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? 0 : -EIO;
	json_decref(o);
	return r;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fputs("usage: epsim --server URL --token TOKEN [--devices N (20000)] [--packages N (1500)]\n"
	      "             [--changes N (5)] [--events N per device (0)] [--event-batch N (500)]\n"
	      "             [--concurrency N (16)] [--server-pid PID] [--db FILE] [--json FILE]\n"
	      "Enrolls N simulated devices with one enrollment token, checks each in with a full\n"
	      "report and then a delta, and sends operation-log events; prints requests per second.\n", f);
}

static int parse_num(const char *name, const char *arg, int64_t min, int64_t max, int64_t *ret)
{
	if (str_parse_i64(arg, min, max, ret) < 0) {
		fprintf(stderr, "epsim: --%s must be a number from %lld to %lld\n", name, (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' }, { "token", required_argument, NULL, 't' },
		{ "devices", required_argument, NULL, 'd' }, { "packages", required_argument, NULL, 'p' },
		{ "changes", required_argument, NULL, 'c' }, { "events", required_argument, NULL, 'e' },
		{ "event-batch", required_argument, NULL, 'b' }, { "concurrency", required_argument, NULL, 'n' },
		{ "server-pid", required_argument, NULL, 'P' }, { "db", required_argument, NULL, 'D' },
		{ "json", required_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim s = { .o = { .devices = 20000, .packages = 1500, .changes = 5, .events = 0,
				.event_batch = 500, .concurrency = 16 } };
	int64_t i, failed = 0;
	int ch, r = 0, ph;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': s.o.server = optarg; break;
		case 't': s.o.token = optarg; break;
		case 'd': r |= parse_num("devices", optarg, 1, SIM_MAX_DEVICES, &s.o.devices); break;
		case 'p': r |= parse_num("packages", optarg, 1, SIM_MAX_PACKAGES, &s.o.packages); break;
		case 'c': r |= parse_num("changes", optarg, 0, SIM_MAX_PACKAGES, &s.o.changes); break;
		case 'e': r |= parse_num("events", optarg, 0, 1000000, &s.o.events); break;
		case 'b': r |= parse_num("event-batch", optarg, 1, 1000, &s.o.event_batch); break;
		case 'n': r |= parse_num("concurrency", optarg, 1, 1024, &s.o.concurrency); break;
		case 'P': r |= parse_num("server-pid", optarg, 1, INT32_MAX, &s.o.server_pid); break;
		case 'D': s.o.db = optarg; break;
		case 'j': s.o.json_out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (r || optind != argc || !s.o.server || !s.o.token) {
		usage(stderr);
		return 2;
	}
	if (s.o.concurrency > s.o.devices)
		s.o.concurrency = s.o.devices;
	s.nbatches = (s.o.events + s.o.event_batch - 1) / s.o.event_batch;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("epsim: cannot initialize libsodium or libcurl\n", stderr);
		return 1;
	}
	s.devs = calloc((size_t)s.o.devices, sizeof(*s.devs));
	s.x = calloc((size_t)s.o.concurrency, sizeof(*s.x));
	s.lat = calloc((size_t)(s.o.devices * (s.nbatches > 1 ? s.nbatches : 1)), sizeof(double));
	s.multi = curl_multi_init();
	if (!s.devs || !s.x || !s.lat || !s.multi)
		r = -ENOMEM;
	else
		curl_multi_setopt(s.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)s.o.concurrency);
	for (i = 0; r == 0 && i < s.o.concurrency; i++) {
		struct xfer *x = &s.x[i];

		buf_init(&x->body, SIM_MAX_BODY);
		buf_init(&x->resp, SIM_MAX_RESPONSE);
		x->easy = curl_easy_init();
		if (!x->easy) {
			r = -ENOMEM;
			break;
		}
		curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, sim_write);
		curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, &x->resp);
		curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT, 30L);
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, 300L);
		curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "rampart-epsim/" RAMPART_VERSION);
	}
	if (r == 0) {
		sim_sample(&s, &s.start);
		for (ph = 0; ph < PH_COUNT && r == 0; ph++) {
			if (ph == PH_EVENTS && s.o.events == 0)
				break;
			r = sim_phase(&s, (enum phase)ph);
			failed += s.res[ph].failed;
		}
		sim_print(&s);
		if (s.o.json_out && sim_write_json(&s, s.o.json_out) < 0)
			fprintf(stderr, "epsim: cannot write %s\n", s.o.json_out);
	}
	if (r < 0)
		fprintf(stderr, "epsim: %s\n", err_str(r));
	for (i = 0; s.x && i < s.o.concurrency; i++) {
		curl_slist_free_all(s.x[i].hdrs);
		if (s.x[i].easy)
			curl_easy_cleanup(s.x[i].easy);
		buf_done(&s.x[i].body);
		buf_done(&s.x[i].resp);
	}
	curl_multi_cleanup(s.multi);
	if (s.devs)
		sodium_memzero(s.devs, (size_t)s.o.devices * sizeof(*s.devs));
	free(s.devs);
	free(s.x);
	free(s.lat);
	curl_global_cleanup();
	return r < 0 || failed ? 1 : 0;
}
