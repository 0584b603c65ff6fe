/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ep_routes: the route tables of the endpoint platform's parts, which
 * endpoint_routes (endpoint.c) registers together.  Each returns 0 or
 * -ENOMEM.  Not for use outside src/endpoint.
 */
#ifndef RAMPART_EP_ROUTES_H
#define RAMPART_EP_ROUTES_H

struct http_server;

/* ep_enroll.c: /api/v1/endpoint/enrollment-tokens[/{id}] and POST /api/v1/endpoint/enroll. */
int ep_enroll_routes(struct http_server *s);

/* ep_checkin.c: POST /api/v1/endpoint/checkin. */
int ep_checkin_routes(struct http_server *s);

/* ep_devices.c: GET /api/v1/devices, /api/v1/devices/{id} and /api/v1/endpoint/summary. */
int ep_devices_routes(struct http_server *s);

/* ep_policies.c: GET and PUT /api/v1/endpoint/policies/{id}. */
int ep_policies_routes(struct http_server *s);

/* ep_sweep.c: POST /api/v1/endpoint/sweep. */
int ep_sweep_routes(struct http_server *s);

#endif
