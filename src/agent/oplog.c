/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * oplog: the agent's on-disk event buffer (see oplog.h and
 * docs/formats/agent-events.md).
 *
 * Layout of @dir:
 *   lock                 flock'd by the one writer
 *   state.json           {"next_seq", "acked_through", "dropped"}, replaced
 *                        atomically; next_seq is a floor (the segments may
 *                        hold later numbers, never earlier unused ones)
 *   NNNNNNNNNNNNNNNNNNNN.seg   segments, named by their first sequence number
 * A segment: the 8-byte magic "RPEVSEG1", then records
 *   u32 payload length (little endian, 1..OPLOG_MAX_RECORD)
 *   u32 CRC-32 (zlib) of the 8 sequence bytes followed by the payload
 *   u64 sequence number (little endian)
 *   payload: the event's compact JSON text, without "seq"
 * Within a segment the numbers are consecutive; the next segment starts
 * wherever the numbers continue.
 */
#include "agent/oplog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/fsio.h"
#include "common/err.h"
#include "common/log.h"

#define OL_MAGIC "RPEVSEG1"
#define OL_MAGIC_LEN 8
#define OL_HDR 16
#define OL_PATH 4096
#define OL_MAX_SEGMENTS 4096

struct o_seg {
	int64_t first, last;   /* last < first: empty */
	uint64_t size;         /* bytes, magic included */
};

struct oplog {
	char dir[OL_PATH];
	int lock_fd;
	int fd;                /* the last segment, open for appending; -1 none */
	bool read_only;
	uint64_t max_bytes, seg_bytes, total, torn;
	int64_t next_seq, acked, dropped;
	struct o_seg *segs;
	size_t nsegs, cap;
};

static void o_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void o_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t o_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t o_get64(const unsigned char *p)
{
	return (uint64_t)o_get32(p) | (uint64_t)o_get32(p + 4) << 32;
}

static uint32_t o_crc(const unsigned char *seq8, const void *payload, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, seq8, 8);
	c = crc32(c, payload, (uInt)len);
	return (uint32_t)c;
}

static int o_path(const struct oplog *ol, char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", ol->dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int o_seg_path(const struct oplog *ol, char *out, size_t size, int64_t first)
{
	int n = snprintf(out, size, "%s/%020lld.seg", ol->dir, (long long)first);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int o_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* ---------------------------------------------------------------- state.json */

static int o_state_save(const struct oplog *ol)
{
	char path[OL_PATH], text[160];
	int n, r;

	n = snprintf(text, sizeof(text), "{\"acked_through\":%lld,\"dropped\":%lld,\"next_seq\":%lld}\n",
		     (long long)ol->acked, (long long)ol->dropped, (long long)ol->next_seq);
	if (n < 0 || (size_t)n >= sizeof(text))
		return ERR_INTERNAL;
	r = o_path(ol, path, sizeof(path), "state.json");
	if (r == 0)
		r = fsio_replace(path, text, (size_t)n, 0600);
	if (r == 0)
		r = fsio_sync_dir(ol->dir);
	return r;
}

static int o_state_load(struct oplog *ol)
{
	char path[OL_PATH];
	json_error_t je;
	json_t *v, *a, *d, *s;
	int r;

	r = o_path(ol, path, sizeof(path), "state.json");
	if (r < 0)
		return r;
	v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return 0;   /* a new buffer */
		log_error("oplog: unreadable state", "path=%s", path);
		return ERR_INVALID;
	}
	a = json_object_get(v, "acked_through");
	d = json_object_get(v, "dropped");
	s = json_object_get(v, "next_seq");
	if (!json_is_integer(a) || !json_is_integer(d) || !json_is_integer(s) || json_integer_value(a) < 0 ||
	    json_integer_value(d) < 0 || json_integer_value(s) < 1 ||
	    json_integer_value(a) >= json_integer_value(s)) {
		json_decref(v);
		log_error("oplog: invalid state", "path=%s", path);
		return ERR_INVALID;
	}
	ol->acked = json_integer_value(a);
	ol->dropped = json_integer_value(d);
	ol->next_seq = json_integer_value(s);
	json_decref(v);
	return 0;
}

/* ---------------------------------------------------------------- scanning */

static int o_seg_cmp(const void *a, const void *b)
{
	const struct o_seg *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int o_seg_push(struct oplog *ol, const struct o_seg *s)
{
	if (ol->nsegs == ol->cap) {
		size_t cap = ol->cap ? ol->cap * 2 : 16;
		struct o_seg *n;

		if (cap > OL_MAX_SEGMENTS)
			return ERR_TOO_LARGE;
		n = realloc(ol->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ol->segs = n;
		ol->cap = cap;
	}
	ol->segs[ol->nsegs++] = *s;
	return 0;
}

/*
 * Walks the records of the open segment @fd (size @size) whose name says
 * @first: returns the end offset of the last good record in *ret_good and
 * the last sequence number in *ret_last (first - 1 when none).
 */
static int o_scan(int fd, uint64_t size, int64_t first, uint64_t *ret_good, int64_t *ret_last)
{
	unsigned char hdr[OL_HDR], *payload = NULL;
	uint64_t off = OL_MAGIC_LEN;
	int64_t expect = first;
	char magic[OL_MAGIC_LEN];

	*ret_good = 0;
	*ret_last = first - 1;
	if (size < OL_MAGIC_LEN || o_pread_full(fd, magic, OL_MAGIC_LEN, 0) < 0 ||
	    memcmp(magic, OL_MAGIC, OL_MAGIC_LEN) != 0)
		return 0;
	payload = malloc(OPLOG_MAX_RECORD);
	if (!payload)
		return -ENOMEM;
	while (off + OL_HDR <= size) {
		uint32_t len, crc;

		if (o_pread_full(fd, hdr, OL_HDR, off) < 0)
			break;
		len = o_get32(hdr);
		crc = o_get32(hdr + 4);
		if (len == 0 || len > OPLOG_MAX_RECORD || off + OL_HDR + len > size ||
		    (int64_t)o_get64(hdr + 8) != expect || o_pread_full(fd, payload, len, off + OL_HDR) < 0 ||
		    o_crc(hdr + 8, payload, len) != crc)
			break;
		off += OL_HDR + len;
		expect++;
	}
	free(payload);
	*ret_good = off;
	*ret_last = expect - 1;
	return 0;
}

static int o_scan_dir(struct oplog *ol)
{
	struct dirent *de;
	DIR *d = opendir(ol->dir);
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long long first;
		struct o_seg s;

		if (strlen(de->d_name) != 24 || strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		errno = 0;
		first = strtoll(de->d_name, &end, 10);
		if (errno || end != de->d_name + 20 || first < 1)
			continue;
		s = (struct o_seg){ .first = first, .last = first - 1, .size = 0 };
		r = o_seg_push(ol, &s);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		return r;
	if (ol->nsegs > 1)
		qsort(ol->segs, ol->nsegs, sizeof(ol->segs[0]), o_seg_cmp);
	for (size_t i = 0; i < ol->nsegs; i++) {
		struct o_seg *s = &ol->segs[i];
		char path[OL_PATH];
		struct stat st;
		uint64_t good;
		int fd;

		r = o_seg_path(ol, path, sizeof(path), s->first);
		if (r < 0)
			return r;
		fd = open(path, (ol->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		r = o_scan(fd, (uint64_t)st.st_size, s->first, &good, &s->last);
		if (r == 0 && good < (uint64_t)st.st_size) {
			/* A torn or corrupted tail: cut it, so it is never read as an event. */
			ol->torn += (uint64_t)st.st_size - good;
			log_warn("oplog: cut a torn tail", "segment=%s kept=%llu cut=%llu", path,
				 (unsigned long long)good, (unsigned long long)((uint64_t)st.st_size - good));
			if (!ol->read_only) {
				if (good < OL_MAGIC_LEN)
					good = 0;
				if (ftruncate(fd, (off_t)good) < 0 || fsync(fd) < 0)
					r = -errno;
			}
		}
		s->size = good;
		close(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Removes segment @i from disk and from the list. */
static int o_seg_remove(struct oplog *ol, size_t i)
{
	char path[OL_PATH];
	int r = o_seg_path(ol, path, sizeof(path), ol->segs[i].first);

	if (r < 0)
		return r;
	if (i == ol->nsegs - 1 && ol->fd >= 0) {
		close(ol->fd);
		ol->fd = -1;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	ol->total -= ol->segs[i].size;
	memmove(&ol->segs[i], &ol->segs[i + 1], (ol->nsegs - i - 1) * sizeof(ol->segs[0]));
	ol->nsegs--;
	return 0;
}

/*
 * The writer's lock is an flock on an open file, and fork() shares it: a
 * child that outlives its parent (a check-in still running when the agent
 * is killed) would keep the buffer locked against the restarted agent.
 * Every fork()ed child closes its copies at once (pthread_atfork); the
 * parent's lock stays.  A process has few writers: the slots are a bound.
 */
#define O_LOCK_SLOTS 8
static int o_lock_fds[O_LOCK_SLOTS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static pthread_once_t o_atfork_once = PTHREAD_ONCE_INIT;

static void o_atfork_child(void)
{
	for (int i = 0; i < O_LOCK_SLOTS; i++)
		if (o_lock_fds[i] >= 0) {
			close(o_lock_fds[i]);
			o_lock_fds[i] = -1;
		}
}

static void o_atfork_register(void)
{
	pthread_atfork(NULL, NULL, o_atfork_child);
}

static void o_lock_track(int fd, bool add)
{
	for (int i = 0; i < O_LOCK_SLOTS; i++)
		if (o_lock_fds[i] == (add ? -1 : fd)) {
			o_lock_fds[i] = add ? fd : -1;
			return;
		}
}

/* ---------------------------------------------------------------- open, close */

int oplog_open(const char *dir, const struct oplog_opts *opts, struct oplog **ret)
{
	struct oplog *ol;
	char path[OL_PATH];
	int64_t floor;
	size_t i;
	int r;

	ol = calloc(1, sizeof(*ol));
	if (!ol)
		return -ENOMEM;
	ol->lock_fd = -1;
	ol->fd = -1;
	ol->read_only = opts && opts->read_only;
	ol->max_bytes = opts && opts->max_bytes ? opts->max_bytes : OPLOG_DEFAULT_MAX_BYTES;
	ol->seg_bytes = ol->max_bytes / OPLOG_SEGMENTS;
	ol->next_seq = 1;
	if (ol->max_bytes < OPLOG_MIN_MAX_BYTES || ol->max_bytes > OPLOG_MAX_MAX_BYTES) {
		r = ERR_INVALID;
		goto fail;
	}
	if (snprintf(ol->dir, sizeof(ol->dir), "%s", dir) >= (int)sizeof(ol->dir)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (!ol->read_only) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			goto fail;
		}
		r = o_path(ol, path, sizeof(path), "lock");
		if (r < 0)
			goto fail;
		ol->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (ol->lock_fd < 0) {
			r = -errno;
			goto fail;
		}
		if (flock(ol->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			r = errno == EWOULDBLOCK ? -EBUSY : -errno;
			goto fail;
		}
		pthread_once(&o_atfork_once, o_atfork_register);
		o_lock_track(ol->lock_fd, true);
	} else if (access(dir, F_OK) < 0) {
		r = -errno;
		goto fail;
	}
	r = o_state_load(ol);
	if (r == 0)
		r = o_scan_dir(ol);
	if (r < 0)
		goto fail;
	floor = ol->next_seq;
	for (i = 0; i < ol->nsegs; i++) {
		ol->total += ol->segs[i].size;
		if (ol->segs[i].last + 1 > ol->next_seq)
			ol->next_seq = ol->segs[i].last + 1;
	}
	/* Segments cut to nothing, or holding only acknowledged events, go now. */
	for (i = 0; !ol->read_only && i < ol->nsegs;) {
		if (ol->segs[i].size <= OL_MAGIC_LEN || ol->segs[i].last <= ol->acked) {
			if (ol->next_seq != floor) {
				r = o_state_save(ol);   /* the floor first, so numbers stay unique */
				if (r < 0)
					goto fail;
				floor = ol->next_seq;
			}
			r = o_seg_remove(ol, i);
			if (r < 0)
				goto fail;
			continue;
		}
		i++;
	}
	*ret = ol;
	return 0;
fail:
	oplog_close(ol);
	return r;
}

void oplog_close(struct oplog *ol)
{
	if (!ol)
		return;
	if (ol->fd >= 0)
		close(ol->fd);
	if (ol->lock_fd >= 0) {
		o_lock_track(ol->lock_fd, false);
		close(ol->lock_fd);   /* releases the flock */
	}
	free(ol->segs);
	free(ol);
}

/* ---------------------------------------------------------------- append */

/* Removes the oldest segment to make room, counting its unacknowledged events as dropped. */
static int o_drop_oldest(struct oplog *ol)
{
	struct o_seg *s = &ol->segs[0];
	int64_t lost = s->last - (s->first - 1 > ol->acked ? s->first - 1 : ol->acked);
	int r;

	if (lost > 0) {
		ol->dropped += lost;
		ol->acked = s->last;   /* nothing at or below it will ever be sent */
		log_warn("oplog: buffer full, dropped the oldest events", "count=%lld first_seq=%lld last_seq=%lld",
			 (long long)lost, (long long)(s->last - lost + 1), (long long)s->last);
		r = o_state_save(ol);
		if (r < 0)
			return r;
	}
	return o_seg_remove(ol, 0);
}

/* Opens a new last segment starting at @first and writes its magic. */
static int o_seg_start(struct oplog *ol, int64_t first)
{
	struct o_seg s = { .first = first, .last = first - 1, .size = OL_MAGIC_LEN };
	char path[OL_PATH];
	int r;

	if (ol->fd >= 0) {
		/* The previous segment's records were fsync'd with their batch except this batch's own. */
		if (fsync(ol->fd) < 0)
			return -errno;
		close(ol->fd);
		ol->fd = -1;
	}
	r = o_seg_path(ol, path, sizeof(path), first);
	if (r < 0)
		return r;
	ol->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (ol->fd < 0)
		return -errno;
	r = fsio_pwrite_all(ol->fd, OL_MAGIC, OL_MAGIC_LEN, 0);
	if (r == 0)
		r = o_seg_push(ol, &s);
	if (r < 0) {
		close(ol->fd);
		ol->fd = -1;
		unlink(path);
		return r;
	}
	ol->total += OL_MAGIC_LEN;
	return 0;
}

static int o_open_last(struct oplog *ol)
{
	char path[OL_PATH];
	int r;

	if (ol->fd >= 0 || ol->nsegs == 0)
		return 0;
	r = o_seg_path(ol, path, sizeof(path), ol->segs[ol->nsegs - 1].first);
	if (r < 0)
		return r;
	ol->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	return ol->fd < 0 ? -errno : 0;
}

int oplog_append(struct oplog *ol, json_t *const *events, size_t n, int64_t *ret_first_seq)
{
	unsigned char hdr[OL_HDR];
	int64_t first = ol->next_seq, old_last_first = 0;
	uint64_t old_size = 0, sum = 0;
	char **texts;
	bool new_seg = false;
	size_t i;
	int r = 0;

	if (ol->read_only)
		return -EROFS;
	texts = calloc(n ? n : 1, sizeof(*texts));
	if (!texts)
		return -ENOMEM;
	for (i = 0; i < n && r == 0; i++) {
		if (!json_is_object(events[i]) || json_object_get(events[i], "seq")) {
			r = ERR_INVALID;
			break;
		}
		texts[i] = json_dumps(events[i], JSON_COMPACT | JSON_SORT_KEYS);
		if (!texts[i])
			r = -ENOMEM;
		else if (strlen(texts[i]) > OPLOG_MAX_RECORD)
			r = ERR_INVALID;
		else
			sum += OL_HDR + strlen(texts[i]);
	}
	/* Refused before anything old is dropped to make room for it. */
	if (r == 0 && sum + OL_MAGIC_LEN * (sum / ol->seg_bytes + 2) > ol->max_bytes)
		r = ERR_TOO_LARGE;
	if (r == 0)
		r = o_open_last(ol);
	if (r < 0)
		goto out;
	if (ol->nsegs) {
		old_last_first = ol->segs[ol->nsegs - 1].first;
		old_size = ol->segs[ol->nsegs - 1].size;
	}
	for (i = 0; i < n && r == 0; i++) {
		const char *text = texts[i];
		size_t len = strlen(text);
		uint64_t need = OL_HDR + len;
		struct o_seg *last;
		bool fits;

		for (;;) {
			last = ol->nsegs ? &ol->segs[ol->nsegs - 1] : NULL;
			fits = last && last->last + 1 == ol->next_seq &&
			       (last->size + need <= ol->seg_bytes || last->size == OL_MAGIC_LEN);
			if (ol->total + need + (fits ? 0 : OL_MAGIC_LEN) <= ol->max_bytes || ol->nsegs == 0)
				break;
			/* Never drop this batch's own records: the batch is larger than the buffer. */
			if (ol->segs[0].last >= first) {
				r = ERR_TOO_LARGE;
				break;
			}
			r = o_drop_oldest(ol);
			if (r < 0)
				break;
		}
		if (r == 0 && !fits) {
			r = o_seg_start(ol, ol->next_seq);
			new_seg = true;
			last = &ol->segs[ol->nsegs - 1];
		}
		if (r == 0) {
			o_put32(hdr, (uint32_t)len);
			o_put64(hdr + 8, (uint64_t)ol->next_seq);
			o_put32(hdr + 4, o_crc(hdr + 8, text, len));
			r = fsio_pwrite_all(ol->fd, hdr, OL_HDR, (off_t)last->size);
			if (r == 0)
				r = fsio_pwrite_all(ol->fd, text, len, (off_t)(last->size + OL_HDR));
			if (r == 0) {
				last->size += need;
				last->last = ol->next_seq++;
				ol->total += need;
			}
		}
	}
	if (r == 0 && ol->fd >= 0 && fdatasync(ol->fd) < 0)
		r = -errno;
	if (r == 0 && new_seg)
		r = fsio_sync_dir(ol->dir);
	if (r < 0) {
		/* Undo the batch: remove the segments it started, cut the one it appended to. */
		while (ol->nsegs && ol->segs[ol->nsegs - 1].first >= first)
			o_seg_remove(ol, ol->nsegs - 1);
		if (ol->nsegs && ol->segs[ol->nsegs - 1].first == old_last_first &&
		    ol->segs[ol->nsegs - 1].last >= first && o_open_last(ol) == 0) {
			struct o_seg *last = &ol->segs[ol->nsegs - 1];

			if (ftruncate(ol->fd, (off_t)old_size) == 0) {
				ol->total -= last->size - old_size;
				last->size = old_size;
				last->last = first - 1;
			}
		}
		ol->next_seq = first;
		goto out;
	}
	if (ret_first_seq)
		*ret_first_seq = first;
out:
	for (i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	return r;
}

/* ---------------------------------------------------------------- read, drop */

int oplog_read(struct oplog *ol, size_t max_events, size_t max_bytes, json_t **ret, int64_t *ret_last_seq)
{
	unsigned char hdr[OL_HDR];
	char *payload = NULL;
	json_t *arr = json_array();
	int64_t last_seq = 0;
	size_t bytes = 0;
	int r = 0;

	payload = malloc(OPLOG_MAX_RECORD);
	if (!arr || !payload) {
		free(payload);
		json_decref(arr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ol->nsegs && r == 0 && json_array_size(arr) < max_events; i++) {
		const struct o_seg *s = &ol->segs[i];
		uint64_t off = OL_MAGIC_LEN;
		char path[OL_PATH];
		int fd;

		if (s->last <= ol->acked || s->last < s->first)
			continue;
		r = o_seg_path(ol, path, sizeof(path), s->first);
		if (r < 0)
			break;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT && ol->read_only)
			continue;   /* the writer removed it since this reader opened the buffer */
		if (fd < 0) {
			r = -errno;
			break;
		}
		while (off + OL_HDR <= s->size && json_array_size(arr) < max_events) {
			uint32_t len;
			int64_t seq;
			json_t *ev;

			if (o_pread_full(fd, hdr, OL_HDR, off) < 0)
				break;
			len = o_get32(hdr);
			seq = (int64_t)o_get64(hdr + 8);
			if (len == 0 || len > OPLOG_MAX_RECORD || off + OL_HDR + len > s->size)
				break;
			if (seq <= ol->acked) {
				off += OL_HDR + len;
				continue;
			}
			/* The JSON text plus "seq":N, and a comma between events. */
			if (json_array_size(arr) > 0 && bytes + len + 32 > max_bytes) {
				max_events = 0;
				break;
			}
			if (o_pread_full(fd, payload, len, off + OL_HDR) < 0 ||
			    o_crc(hdr + 8, payload, len) != o_get32(hdr + 4)) {
				log_warn("oplog: a record changed on disk since it was written; skipping the rest of its segment",
					 "segment=%s offset=%llu", path, (unsigned long long)off);
				break;
			}
			ev = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
			if (!json_is_object(ev)) {
				json_decref(ev);
				off += OL_HDR + len;
				continue;
			}
			json_object_set_new(ev, "seq", json_integer(seq));
			json_array_append_new(arr, ev);
			bytes += len + 32;
			last_seq = seq;
			off += OL_HDR + len;
		}
		close(fd);
	}
	free(payload);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	*ret_last_seq = last_seq;
	return 0;
}

int oplog_drop_through(struct oplog *ol, int64_t seq)
{
	int r;

	if (ol->read_only)
		return -EROFS;
	if (seq <= ol->acked)
		return 0;
	ol->acked = seq;
	if (seq >= ol->next_seq)
		ol->next_seq = seq + 1;
	r = o_state_save(ol);
	if (r < 0)
		return r;
	while (ol->nsegs && ol->segs[0].last <= ol->acked) {
		r = o_seg_remove(ol, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

void oplog_stats(const struct oplog *ol, struct oplog_stats *ret)
{
	int64_t pending = 0;

	for (size_t i = 0; i < ol->nsegs; i++) {
		const struct o_seg *s = &ol->segs[i];
		int64_t from = s->first > ol->acked + 1 ? s->first : ol->acked + 1;

		if (s->last >= from)
			pending += s->last - from + 1;
	}
	*ret = (struct oplog_stats){
		.next_seq = ol->next_seq, .acked_through = ol->acked, .pending = pending,
		.dropped = ol->dropped, .bytes = ol->total, .max_bytes = ol->max_bytes,
		.torn_bytes = ol->torn, .segments = ol->nsegs,
	};
}
