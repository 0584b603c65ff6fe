/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * net: libcurl through dlopen() (see net.h).  Only the functions below are
 * resolved; the headers give their types, so a libcurl whose ABI differs
 * (another soname) is not loaded at all.
 */
#include "agent/net.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static struct {
	bool loaded;
	void *handle;
	__typeof__(&curl_global_init) global_init;
	__typeof__(&curl_global_cleanup) global_cleanup;
	__typeof__(&curl_easy_init) easy_init;
	__typeof__(&curl_easy_setopt) easy_setopt;
	__typeof__(&curl_easy_perform) easy_perform;
	__typeof__(&curl_easy_getinfo) easy_getinfo;
	__typeof__(&curl_easy_cleanup) easy_cleanup;
	__typeof__(&curl_easy_strerror) easy_strerror;
	__typeof__(&curl_slist_append) slist_append;
	__typeof__(&curl_slist_free_all) slist_free_all;
	__typeof__(&curl_url) url;
	__typeof__(&curl_url_set) url_set;
	__typeof__(&curl_url_get) url_get;
	__typeof__(&curl_url_cleanup) url_cleanup;
	__typeof__(&curl_free) free;
} net;

int net_load(struct rerr *e)
{
	const struct {
		const char *name;
		void *slot;   /* the address of the function pointer */
	} syms[] = {
		{ "curl_global_init", &net.global_init }, { "curl_global_cleanup", &net.global_cleanup },
		{ "curl_easy_init", &net.easy_init }, { "curl_easy_setopt", &net.easy_setopt },
		{ "curl_easy_perform", &net.easy_perform }, { "curl_easy_getinfo", &net.easy_getinfo },
		{ "curl_easy_cleanup", &net.easy_cleanup }, { "curl_easy_strerror", &net.easy_strerror },
		{ "curl_slist_append", &net.slist_append }, { "curl_slist_free_all", &net.slist_free_all },
		{ "curl_url", &net.url }, { "curl_url_set", &net.url_set }, { "curl_url_get", &net.url_get },
		{ "curl_url_cleanup", &net.url_cleanup }, { "curl_free", &net.free },
	};
	const char *why;
	void *h;

	if (net.loaded)
		return 0;
	if (!net.handle) {
		h = dlopen(NET_LIBCURL, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			why = dlerror();
			return rerr_set(e, -ENOENT, NULL,
					"cannot load %s, which the agent needs to reach the server (%s); "
					"install libcurl 4 (Debian: apt-get install libcurl4)",
					NET_LIBCURL, why ? why : "not found");
		}
		for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
			void *sym = dlsym(h, syms[i].name);

			if (!sym) {
				dlclose(h);
				return rerr_set(e, -ENOENT, NULL, "%s lacks %s: a newer libcurl is needed",
						NET_LIBCURL, syms[i].name);
			}
			memcpy(syms[i].slot, &sym, sizeof(sym));
		}
		net.handle = h;
	}
	if (net.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return rerr_set(e, -EIO, NULL, "cannot initialize libcurl");
	net.loaded = true;
	return 0;
}

void net_done(void)
{
	if (net.loaded)
		net.global_cleanup();
	net.loaded = false;
}

static size_t net_write(char *data, size_t size, size_t nmemb, void *ud)
{
	return buf_append(ud, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

int net_post(const struct net_post *p, long *status, struct buf *resp, struct rerr *e)
{
	struct curl_slist *hdrs = NULL, *h;
	CURLcode cr;
	CURL *c;
	int r;

	r = net_load(e);
	if (r < 0)
		return r;
	c = net.easy_init();
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_headers; i++) {
		h = net.slist_append(hdrs, p->headers[i]);
		if (!h) {
			net.slist_free_all(hdrs);
			net.easy_cleanup(c);
			return -ENOMEM;
		}
		hdrs = h;
	}
	net.easy_setopt(c, CURLOPT_URL, p->url);
	net.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	net.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	net.easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
	net.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body_len);
	net.easy_setopt(c, CURLOPT_WRITEFUNCTION, net_write);
	net.easy_setopt(c, CURLOPT_WRITEDATA, resp);
	net.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, p->connect_timeout_s);
	net.easy_setopt(c, CURLOPT_TIMEOUT, p->timeout_s);
	if (p->user_agent)
		net.easy_setopt(c, CURLOPT_USERAGENT, p->user_agent);
	if (p->ca)
		net.easy_setopt(c, CURLOPT_CAINFO, p->ca);
	cr = net.easy_perform(c);
	if (cr != CURLE_OK)
		r = rerr_set(e, -EIO, NULL, "%s", net.easy_strerror(cr));
	else
		net.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	net.slist_free_all(hdrs);
	net.easy_cleanup(c);
	return r;
}

int net_url_host_port(const char *url, char **host, char **port, struct rerr *e)
{
	char *h = NULL, *p = NULL;
	CURLU *u;
	int r;

	*host = *port = NULL;
	r = net_load(e);
	if (r < 0)
		return r;
	u = net.url();
	if (!u)
		return -ENOMEM;
	if (net.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || net.url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    net.url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		r = ERR_INVALID;
		goto out;
	}
	/* curl keeps the brackets of an IPv6 literal. */
	if (h[0] == '[')
		*host = strndup(h + 1, strcspn(h + 1, "]"));
	else
		*host = strdup(h);
	*port = strdup(p);
	if (!*host || !*port) {
		free(*host);
		free(*port);
		*host = *port = NULL;
		r = -ENOMEM;
	}
out:
	net.free(h);
	net.free(p);
	net.url_cleanup(u);
	return r;
}
