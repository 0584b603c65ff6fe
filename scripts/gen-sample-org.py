#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Generates examples/hr/sample-org.csv: the fictional Kestrel group Rampart
loads on first start (rampartd --seed-hr).

The output is deterministic: the same --seed always gives the same file, so
the committed CSV can be checked against this script.

    Kestrel Group                      group root
      Kestrel Holdings                 the parent company ("own")
      Kestrel Logistics                group company
      Kestrel Software                 group company
      Harbor Systems, Blue Pine Security, Northwind Staffing
                                       business partners (partner_staff people)

Every department has a head who reports to the division head, who reports
to the company's president; the group companies' presidents report to the
Holdings CEO.  Partner staff report to their company's account lead, who
reports to the Kestrel manager of the department the partner serves.  A few
people are on leave and a few have retired.

Usage: scripts/gen-sample-org.py [--seed N] [--out PATH]
"""

import argparse
import csv
import io
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "examples", "hr", "sample-org.csv")
GROUP = "Kestrel Group"
COLUMNS = ["employee_number", "family_name", "given_name", "email", "org_unit", "title", "status",
           "kind", "manager", "org_kind"]

JP_FAMILY = ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
             "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto", "Inoue",
             "Kimura", "Hayashi", "Shimizu", "Yamazaki", "Mori", "Abe", "Ikeda", "Hashimoto",
             "Yamashita", "Ishikawa", "Nakajima", "Maeda", "Fujita", "Ogawa", "Goto", "Okada",
             "Hasegawa", "Murakami", "Kondo", "Ishii", "Saito", "Sakamoto", "Endo", "Aoki",
             "Fujii", "Nishimura", "Fukuda", "Ota", "Miura", "Fujiwara", "Okamoto", "Matsuda",
             "Nakagawa", "Harada", "Ono", "Tamura", "Takeuchi", "Kaneko", "Wada", "Nakano"]
JP_GIVEN = ["Hiroshi", "Takashi", "Makoto", "Kenji", "Daisuke", "Shota", "Yuta", "Kazuki", "Ryo",
            "Haruto", "Sota", "Takumi", "Naoki", "Satoshi", "Tsuyoshi", "Kenta", "Yusuke", "Sho",
            "Yuki", "Akira", "Hanako", "Yoko", "Keiko", "Yumi", "Naomi", "Akiko", "Mai", "Aya",
            "Haruka", "Misaki", "Yui", "Sakura", "Nanami", "Asuka", "Emi", "Rie", "Kaori", "Mayu",
            "Chihiro", "Tomoko", "Megumi", "Ayumi", "Rina", "Saki", "Noriko", "Shiori"]
EN_FAMILY = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
             "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
             "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "Allen", "King", "Wright",
             "Scott", "Green", "Baker", "Adams", "Nelson", "Carter", "Mitchell", "Roberts",
             "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins"]
EN_GIVEN = ["James", "John", "Robert", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
            "Daniel", "Matthew", "Andrew", "Ryan", "Kevin", "Brian", "Emily", "Sarah", "Jessica",
            "Jennifer", "Laura", "Emma", "Olivia", "Hannah", "Rachel", "Megan", "Amy", "Lucy",
            "Chloe", "Grace", "Sophie", "Claire", "Anna", "Kate", "Helen", "Alice", "Ruth"]

STAFF_TITLES = ["Specialist", "Senior Specialist", "Staff", "Assistant Manager", "Analyst",
                "Senior Analyst", "Coordinator", "Associate"]

# (company, kind, email domain, employee number prefix, share of English names,
#  president title, [(division, [departments])])
COMPANIES = [
    ("Kestrel Holdings", "own", "kestrel-holdings.example", "KH", 0.1, "President and CEO", [
        ("Corporate Planning", ["Strategy", "Investor Relations"]),
        ("Finance and Accounting", ["Accounting", "Treasury", "Tax"]),
        ("Human Resources", ["Recruiting", "Labor Relations", "Training"]),
        ("Information Security", ["Security Operations", "Governance Risk and Compliance",
                                  "Identity and Access"]),
        ("Information Systems", ["Infrastructure", "Business Applications", "Service Desk"]),
        ("Legal", ["Contracts", "Compliance"]),
    ]),
    ("Kestrel Logistics", "group_company", "kestrel-logistics.example", "KL", 0.1, "President", [
        ("Operations", ["Warehousing", "Transport", "Customs"]),
        ("Sales", ["Domestic Sales", "International Sales"]),
        ("Administration", ["General Affairs", "Accounting"]),
    ]),
    ("Kestrel Software", "group_company", "kestrel-software.example", "KS", 0.45, "President", [
        ("Engineering", ["Platform", "Mobile", "Quality Assurance"]),
        ("Product", ["Product Management", "Design"]),
        ("Customer Success", ["Support", "Onboarding"]),
    ]),
]

# (company, domain, prefix, share of English names, unit below the company,
#  the Kestrel department it serves, number of staff)
PARTNERS = [
    ("Harbor Systems", "harbor-systems.example", "HS", 0.2, "Managed Services",
     "Kestrel Holdings/Information Systems/Service Desk", 8),
    ("Blue Pine Security", "bluepine-security.example", "BP", 0.5, "Security Monitoring",
     "Kestrel Holdings/Information Security/Security Operations", 6),
    ("Northwind Staffing", "northwind-staffing.example", "NW", 0.3, "Logistics Support",
     "Kestrel Logistics/Operations/Warehousing", 8),
]


class Org:
    def __init__(self, rng):
        self.rng = rng
        self.rows = []
        self.emails = set()
        self.names = set()

    def person(self, english_share):
        """A name not used yet in the group."""
        for _ in range(1000):
            if self.rng.random() < english_share:
                fam, giv = self.rng.choice(EN_FAMILY), self.rng.choice(EN_GIVEN)
            else:
                fam, giv = self.rng.choice(JP_FAMILY), self.rng.choice(JP_GIVEN)
            if (fam, giv) not in self.names:
                self.names.add((fam, giv))
                return fam, giv
        raise SystemExit("gen-sample-org: ran out of names")

    def email(self, fam, giv, domain):
        base = "%s.%s" % (giv.lower(), fam.lower())
        e, n = "%s@%s" % (base, domain), 2
        while e in self.emails:
            e, n = "%s%d@%s" % (base, n, domain), n + 1
        self.emails.add(e)
        return e

    def add(self, number, names, domain, unit, title, kind, manager, org_kind=""):
        fam, giv = names
        self.rows.append({
            "employee_number": number, "family_name": fam, "given_name": giv,
            "email": self.email(fam, giv, domain), "org_unit": "%s/%s" % (GROUP, unit),
            "title": title, "status": "active", "kind": kind, "manager": manager or "",
            "org_kind": org_kind,
        })
        return number


def build(seed):
    rng = random.Random(seed)
    org = Org(rng)
    heads = {}          # department path below the group -> its head's number
    ceo = None
    staff = []          # rows that may go on leave or retire (no reports)
    for company, kind, domain, prefix, en, top_title, divisions in COMPANIES:
        seq = iter(range(1, 10000))
        num = lambda: "%s%04d" % (prefix, next(seq))
        president = org.add(num(), org.person(en), domain, company, top_title, "employee",
                            ceo, org_kind=kind)
        if ceo is None:
            ceo = president
        for division, departments in divisions:
            dpath = "%s/%s" % (company, division)
            dhead = org.add(num(), org.person(en), domain, dpath, "General Manager, " + division,
                            "employee", president)
            for dept in departments:
                path = "%s/%s" % (dpath, dept)
                head = org.add(num(), org.person(en), domain, path, "Manager, " + dept, "employee", dhead)
                heads[path] = head
                for _ in range(rng.randint(6, 10)):
                    n = org.add(num(), org.person(en), domain, path, rng.choice(STAFF_TITLES), "employee", head)
                    staff.append(n)
    for company, domain, prefix, en, unit, serves, count in PARTNERS:
        seq = iter(range(1, 1000))
        num = lambda: "%s%03d" % (prefix, next(seq))
        path = "%s/%s" % (company, unit)
        lead = org.add(num(), org.person(en), domain, path, "Account Lead", "partner_staff",
                       heads[serves], org_kind="business_partner")
        for _ in range(count - 1):
            n = org.add(num(), org.person(en), domain, path,
                        rng.choice(["Engineer", "Senior Engineer", "Operator", "Analyst", "Consultant"]),
                        "partner_staff", lead)
            staff.append(n)
    by_number = {r["employee_number"]: r for r in org.rows}
    picks = rng.sample(sorted(staff), 9)
    for n in picks[:5]:
        by_number[n]["status"] = "on_leave"
    for n in picks[5:]:
        by_number[n]["status"] = "retired"
    return org.rows


def main():
    ap = argparse.ArgumentParser(description="Generate the sample HR file of the Kestrel group.")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output path, or - for stdout")
    args = ap.parse_args()
    rows = build(args.seed)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    if args.out == "-":
        sys.stdout.write(buf.getvalue())
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
        print("gen-sample-org: %d people written to %s" % (len(rows), os.path.relpath(args.out)),
              file=sys.stderr)


if __name__ == "__main__":
    main()
