/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * endpoint: the endpoint platform's routes, registered together
 * (endpoint_routes, see endpoint.h).  The handlers live with their parts:
 * ep_enroll.c, ep_checkin.c, ep_devices.c, ep_policies.c, ep_sweep.c,
 * quarantine_http.c and oplog_http.c.
 */
#include "endpoint/endpoint.h"

#include "endpoint/ep_routes.h"
#include "endpoint/oplog.h"
#include "endpoint/quarantine.h"
#include "http/http.h"

int endpoint_routes(struct http_server *s)
{
	int r = 0;

	r = r ? r : ep_enroll_routes(s);
	r = r ? r : ep_checkin_routes(s);
	r = r ? r : ep_sweep_routes(s);
	r = r ? r : ep_policies_routes(s);
	r = r ? r : ep_devices_routes(s);
	r = r ? r : quarantine_routes(s);
	r = r ? r : oplog_routes(s);
	return r;
}
