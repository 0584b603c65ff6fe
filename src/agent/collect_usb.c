/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * collect_usb: USB insert, removal and block events from snapshots of
 * /sys/bus/usb/devices (see collect.h).  A device is an entry without ':'
 * (its interfaces are "DEV:C.I"); it is storage when one of its interfaces
 * has bInterfaceClass 08, and blocked when its "authorized" attribute is 0
 * (what USBGuard does to a device its rules block).  Descriptor strings
 * come from the device itself and are untrusted: they are made printable
 * and cut before they enter an event.
 */
#include "agent/collect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/posture.h"
#include "common/log.h"

#define U_PATH 4096

struct collect_usb {
	char root[U_PATH];
	char state_path[U_PATH];
	json_t *last;        /* the last snapshot; NULL before the first one */
	json_t *media;       /* designated media, or NULL */
	enum collect_usb_mode mode;
	bool dirty;
};

/* Reads the first line of @root + /sys/bus/usb/devices/@dev/@attr into @out. */
static int u_attr(const char *root, const char *dev, const char *attr, char *out, size_t size)
{
	char path[U_PATH];

	if (snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/%s", dev, attr) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return posture_read_line(root, path, out, size);
}

static bool u_is_hex4(const char *s)
{
	if (strlen(s) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

int collect_usb_snapshot(const char *root, json_t **ret)
{
	char dir[U_PATH];
	struct dirent *de;
	json_t *snap = json_object();
	size_t n = 0;
	DIR *d;

	if (!snap)
		return -ENOMEM;
	if (snprintf(dir, sizeof(dir), "%s/sys/bus/usb/devices", strcmp(root, "/") == 0 ? "" : root) >=
	    (int)sizeof(dir)) {
		json_decref(snap);
		return -ENAMETOOLONG;
	}
	d = opendir(dir);
	if (!d) {
		*ret = snap;   /* no USB bus: no devices */
		return 0;
	}
	while ((de = readdir(d))) {
		char vendor[16], product[16], val[POSTURE_MAX_FIELD + 1], name[2 * POSTURE_MAX_FIELD + 2] = "";
		json_t *dev;

		if (de->d_name[0] == '.' || strchr(de->d_name, ':') || strlen(de->d_name) > 64)
			continue;
		if (u_attr(root, de->d_name, "idVendor", vendor, sizeof(vendor)) < 0 ||
		    u_attr(root, de->d_name, "idProduct", product, sizeof(product)) < 0 || !u_is_hex4(vendor) ||
		    !u_is_hex4(product))
			continue;
		if (n++ >= COLLECT_MAX_USB)
			break;
		for (char *p = vendor; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
		for (char *p = product; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
		dev = json_pack("{s:s, s:s, s:b, s:b}", "vendor", vendor, "product", product, "storage", 0,
				"authorized", 1);
		if (!dev)
			break;
		if (u_attr(root, de->d_name, "serial", val, sizeof(val)) == 0 && val[0])
			json_object_set_new(dev, "serial", collect_str(val, strlen(val), COLLECT_MAX_STR, NULL));
		if (u_attr(root, de->d_name, "manufacturer", val, sizeof(val)) == 0)
			snprintf(name, sizeof(name), "%s", val);
		if (u_attr(root, de->d_name, "product", val, sizeof(val)) == 0) {
			size_t l = strlen(name);

			snprintf(name + l, sizeof(name) - l, "%s%s", l ? " " : "", val);
		}
		if (name[0])
			json_object_set_new(dev, "name", collect_str(name, strlen(name), COLLECT_MAX_STR, NULL));
		if (u_attr(root, de->d_name, "authorized", val, sizeof(val)) == 0 && strcmp(val, "0") == 0)
			json_object_set_new(dev, "authorized", json_false());
		json_object_set_new(snap, de->d_name, dev);
	}
	closedir(d);
	/* Interfaces: DEV:C.I with bInterfaceClass 08 make DEV storage. */
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char *colon = strchr(de->d_name, ':'), parent[80], cls[16];
		json_t *dev;

		if (!colon || (size_t)(colon - de->d_name) >= sizeof(parent))
			continue;
		memcpy(parent, de->d_name, (size_t)(colon - de->d_name));
		parent[colon - de->d_name] = '\0';
		dev = json_object_get(snap, parent);
		if (dev && u_attr(root, de->d_name, "bInterfaceClass", cls, sizeof(cls)) == 0 && strcmp(cls, "08") == 0)
			json_object_set_new(dev, "storage", json_true());
	}
	if (d)
		closedir(d);
	*ret = snap;
	return 0;
}

bool collect_usb_is_designated(const json_t *media, const json_t *dev)
{
	const char *v = json_string_value(json_object_get(dev, "vendor"));
	const char *p = json_string_value(json_object_get(dev, "product"));
	const char *s = json_string_value(json_object_get(dev, "serial"));
	json_t *m;
	size_t i;

	if (!v || !p || !s)
		return false;   /* a designated medium is named by its serial: one without cannot match */
	json_array_foreach((json_t *)media, i, m) {
		const char *mv = json_string_value(json_object_get(m, "vendor"));
		const char *mp = json_string_value(json_object_get(m, "product"));
		const char *ms = json_string_value(json_object_get(m, "serial"));

		if (mv && mp && ms && strcasecmp(mv, v) == 0 && strcasecmp(mp, p) == 0 && strcmp(ms, s) == 0)
			return true;
	}
	return false;
}

int collect_usb_open(const char *root, const char *state_dir, struct collect_usb **ret)
{
	struct collect_usb *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (snprintf(c->root, sizeof(c->root), "%s", root) >= (int)sizeof(c->root) ||
	    snprintf(c->state_path, sizeof(c->state_path), "%s/usb.json", state_dir) >= (int)sizeof(c->state_path)) {
		free(c);
		return -ENAMETOOLONG;
	}
	c->last = json_load_file(c->state_path, JSON_REJECT_DUPLICATES, NULL);
	if (c->last && !json_is_object(c->last)) {
		json_decref(c->last);
		c->last = NULL;
	}
	*ret = c;
	return 0;
}

void collect_usb_close(struct collect_usb *c)
{
	if (!c)
		return;
	json_decref(c->last);
	json_decref(c->media);
	free(c);
}

void collect_usb_set_policy(struct collect_usb *c, const json_t *media, enum collect_usb_mode mode)
{
	json_decref(c->media);
	c->media = media ? json_deep_copy(media) : NULL;
	c->mode = mode;
}

static json_t *u_event(const char *kind, int64_t now_ms, const json_t *dev, bool with_name)
{
	json_t *ev = collect_event(kind, now_ms);

	if (!ev)
		return NULL;
	json_object_set(ev, "vendor", json_object_get(dev, "vendor"));
	json_object_set(ev, "product", json_object_get(dev, "product"));
	if (json_object_get(dev, "serial"))
		json_object_set(ev, "serial", json_object_get(dev, "serial"));
	if (with_name && json_object_get(dev, "name"))
		json_object_set(ev, "name", json_object_get(dev, "name"));
	return ev;
}

/* json_equal() is false when either side is missing; here two missing serials are the same. */
static bool u_same_field(const json_t *a, const json_t *b, const char *key)
{
	const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);

	return (!x && !y) || (x && y && json_equal(x, y));
}

static bool u_same_device(const json_t *a, const json_t *b)
{
	return a && b && u_same_field(a, b, "vendor") && u_same_field(a, b, "product") &&
	       u_same_field(a, b, "serial");
}

int collect_usb_tick(struct collect_usb *c, int64_t now_ms, json_t *out)
{
	json_t *snap = NULL, *dev, *old;
	const char *name;
	int r;

	r = collect_usb_snapshot(c->root, &snap);
	if (r < 0)
		return r;
	if (!c->last) {
		/* The first snapshot ever: what is attached when the agent is installed is the baseline. */
		c->last = snap;
		c->dirty = true;
		return 0;
	}
	json_object_foreach(c->last, name, old) {
		dev = json_object_get(snap, name);
		if (!u_same_device(old, dev))
			json_array_append_new(out, u_event("usb_remove", now_ms, old, false));
	}
	json_object_foreach(snap, name, dev) {
		bool blocked = json_is_false(json_object_get(dev, "authorized"));

		old = json_object_get(c->last, name);
		if (!u_same_device(old, dev)) {
			json_t *ev = u_event("usb_insert", now_ms, dev, true);
			bool storage = json_is_true(json_object_get(dev, "storage"));
			const char *action = "allowed";

			if (blocked)
				action = "blocked";
			else if (storage && !collect_usb_is_designated(c->media, dev))
				action = c->mode == COLLECT_USB_BLOCK ? "blocked" : "reported";
			if (ev) {
				json_object_set_new(ev, "storage", json_boolean(storage));
				json_object_set_new(ev, "action", json_string(action));
			}
			json_array_append_new(out, ev);
			old = NULL;
		}
		if (blocked && (!old || !json_is_false(json_object_get(old, "authorized"))))
			json_array_append_new(out, u_event("usb_block", now_ms, dev, true));
	}
	if (!json_equal(snap, c->last))
		c->dirty = true;
	json_decref(c->last);
	c->last = snap;
	return 0;
}

int collect_usb_commit(struct collect_usb *c)
{
	char tmp[U_PATH + 8];
	int r = 0;

	if (!c->dirty || !c->last)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", c->state_path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (json_dump_file(c->last, tmp, JSON_COMPACT | JSON_SORT_KEYS) < 0)
		r = -EIO;
	if (r == 0 && rename(tmp, c->state_path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	c->dirty = false;
	return 0;
}
