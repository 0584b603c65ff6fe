# SPDX-License-Identifier: AGPL-3.0-or-later
"""The documents agree with the code: docs/api.yaml lists exactly the routes
`rampartd --routes` prints, its references resolve, and docs/operations.md
describes every setting in src/common/config.c."""

import os
import re
import unittest

import harness

API_YAML = os.path.join(harness.REPO, "docs", "api.yaml")
OPERATIONS = os.path.join(harness.REPO, "docs", "operations.md")
CONFIG_C = os.path.join(harness.REPO, "src", "common", "config.c")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")


def parse_api_paths(text):
    """(METHOD, path) pairs from the document's `paths:` section.

    The layout is ours and kept regular: a path at two spaces of indent
    ending in ':', its operations at four."""
    result = []
    in_paths = False
    path = None
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            in_paths = line.rstrip() == "paths:"
            path = None
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path = m.group(1)
            continue
        m = re.match(r"^    ([a-z]+):", line)
        if m and m.group(1) in METHODS:
            if path is None:
                raise ValueError("line %d: operation outside a path" % no)
            result.append((m.group(1).upper(), path))
    return result


def component_names(text):
    """{"schemas": {...}, "responses": {...}, ...} from the components section."""
    names = {}
    in_components = False
    section = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            in_components = line.rstrip() == "components:"
            continue
        if not in_components:
            continue
        m = re.match(r"^  ([A-Za-z]+):\s*$", line)
        if m:
            section = m.group(1)
            names.setdefault(section, set())
            continue
        m = re.match(r"^    ([A-Za-z0-9_]+):", line)
        if m and section:
            names[section].add(m.group(1))
    return names


class ApiDocument(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        with open(API_YAML, encoding="utf-8") as f:
            cls.text = f.read()
        cls.documented = parse_api_paths(cls.text)
        cls.routes = harness.routes()

    def test_parser_sees_the_document(self):
        # Guards the check below against a parser that finds nothing.
        self.assertIn(("GET", "/healthz"), self.documented)
        self.assertIn(("POST", "/api/v1/auth/login"), self.documented)
        self.assertGreater(len(self.documented), 20)

    def test_no_duplicate_operations(self):
        seen = set()
        dups = [op for op in self.documented if op in seen or seen.add(op)]
        self.assertEqual(dups, [])

    def test_every_route_is_documented(self):
        missing = sorted(set(self.routes) - set(self.documented))
        self.assertEqual(missing, [], "routes that docs/api.yaml does not describe")

    def test_every_documented_operation_exists(self):
        extra = sorted(set(self.documented) - set(self.routes))
        self.assertEqual(extra, [], "operations in docs/api.yaml that rampartd does not serve")

    def test_path_parameters_declared(self):
        """Every {param} of a path appears as a parameter name in its block."""
        blocks = re.split(r"\n(?=  /)", self.text.split("\npaths:\n", 1)[1].split("\ncomponents:\n", 1)[0])
        for block in blocks:
            m = re.match(r"\s*(/\S*):", block)
            if not m:
                continue
            for param in re.findall(r"\{(\w+)\}", m.group(1)):
                declared = (re.search(r"name: %s\b" % param, block) or
                            (param == "id" and "#/components/parameters/Id" in block))
                self.assertTrue(declared, "%s: parameter {%s} is not declared" % (m.group(1), param))

    def test_references_resolve(self):
        names = component_names(self.text)
        refs = re.findall(r'\$ref:\s*"#/components/(\w+)/(\w+)"', self.text)
        self.assertTrue(refs)
        broken = sorted({"%s/%s" % r for r in refs if r[1] not in names.get(r[0], set())})
        self.assertEqual(broken, [])

    def test_security_schemes(self):
        names = component_names(self.text)
        self.assertEqual(names.get("securitySchemes"), {"bearerAuth", "cookieAuth", "csrfToken", "scimBearer"})

    # The document's validity against the OpenAPI schema is checked by
    # web/tests/api-doc.test.mjs (@apidevtools/swagger-parser), which runs
    # wherever the console's npm packages are installed.

    def test_document_is_openapi3_and_tabless(self):
        self.assertRegex(self.text, r"(?m)^openapi: 3\.\d+\.\d+$")
        self.assertNotIn("\t", self.text)


class OperationsDocument(unittest.TestCase):
    def test_every_setting_is_documented(self):
        with open(CONFIG_C, encoding="utf-8") as f:
            code = f.read()
        settings = re.findall(r'^\s*[SID]\("(\w+)",\s*"(\w+)"', code, re.M)
        self.assertGreater(len(settings), 15, "could not read the settings table of config.c")
        with open(OPERATIONS, encoding="utf-8") as f:
            doc = f.read()
        missing = []
        for section, key in settings:
            env = "RAMPART_%s_%s" % (section.upper(), key.upper())
            if "### [%s]" % section not in doc or "| `%s` |" % key not in doc or env not in doc:
                missing.append("[%s] %s (%s)" % (section, key, env))
        self.assertEqual(missing, [], "settings that docs/operations.md does not describe")


if __name__ == "__main__":
    unittest.main()
