// SPDX-License-Identifier: AGPL-3.0-or-later
// docs/api.yaml is a valid OpenAPI 3 document: parsed, every $ref resolved,
// and checked against the OpenAPI schema by @apidevtools/swagger-parser, so
// that the check runs wherever the console's npm packages are installed.
// (tests/integration/test_api_doc.py checks that it and the router agree.)
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { WEB } from './lib.mjs';

const DOC = join(WEB, '..', 'docs', 'api.yaml');

describe('docs/api.yaml', () => {
  it('is a valid OpenAPI 3 document', async () => {
    const api = await SwaggerParser.validate(DOC);
    assert.match(api.openapi, /^3\./);
    assert.ok(Object.keys(api.paths).length > 50, 'the document lists the API');
  });

  it('is refused when broken, so the check can fail', async () => {
    const api = await SwaggerParser.parse(DOC);
    const broken = structuredClone(api);
    const first = Object.keys(broken.paths)[0];
    broken.paths[first].get = { responses: { 200: { $ref: '#/components/responses/NoSuchResponse' } } };
    await assert.rejects(() => SwaggerParser.validate(broken));
  });
});
