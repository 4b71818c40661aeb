"""Vulnerability scanning: package inventories matched against OSV advisories.

Layout: `versions` (one comparator per ecosystem), `osv` (the OSV range semantics), `db` (the
local advisory database), `inventory/` (readers for OS package databases and lockfiles),
`severity` (CVSS, KEV, priority, fix commands), `scanner` (the `vuln` scanner) and `cli`
(`hostwarden vulndb`).
"""
