"""Supply chain: install-time hooks of npm and PyPI packages that fetch, decode and run code.

A `MAL-` advisory arrives hours after a malicious release starts executing; the hook itself is
visible at once. We parse, never grep: package.json `preinstall`/`install`/`postinstall` scripts
are split into shell words (`shlex`), the JavaScript files they run are parsed with tree-sitter,
and `setup.py` with Python's `ast`. Each file yields *capabilities* seen in real syntax nodes:

- `network`: http/https/net/dgram/axios/node-fetch modules, `fetch()`, urllib/requests/socket;
  `curl`/`wget` in the hook command;
- `execute`: child_process, `eval`, `new Function`, `vm.run*`, `exec`/`compile`, subprocess,
  `os.system`; `sh`/`bash`/`node -e` in the hook command;
- `decode`: `Buffer.from(…, 'base64')`, `atob`, base64/codecs/zlib/marshal decoding;
- `credentials`: reads of ~/.npmrc, ~/.ssh, ~/.aws, ~/.pypirc, id_rsa, and token-like
  environment variables (`NPM_TOKEN`, `*_SECRET*`, `*_KEY`).

A hook is flagged when capabilities combine into a known attack shape: download-and-execute,
decode-and-execute, or credentials-plus-network (exfiltration). One capability alone (a hook
that only downloads a prebuilt binary, say) is common and legitimate, so it is not flagged.

Files are found by the root's bounded, iterative walk and read through its resolver: a hook
script named `../../../../etc/shadow` or linked out of the root is read inside the root or not
at all, and manifests are parsed with the depth-limited JSON loader.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.core.safeload import safe_json_loads
from hostwarden.scan.rootfs import RootFS

HOOKS = ("preinstall", "install", "postinstall")
_NET_MODULES = {"http", "https", "net", "dgram", "tls", "axios", "node-fetch", "request", "got", "undici"}
_EXEC_MODULES = {"child_process", "vm"}
_SECRET_PATHS = (".npmrc", ".ssh", ".aws", ".pypirc", "id_rsa", ".git-credentials", ".docker/config.json",
                 ".kube/config", "/etc/shadow")
_SECRET_ENV = re.compile(r"(TOKEN|SECRET|PASSWORD|_KEY$|^AWS_|^GITHUB_|^NPM_)", re.I)
_SHAPES = {
    frozenset({"network", "execute"}): "downloads and executes code",
    frozenset({"decode", "execute"}): "decodes and executes a hidden payload",
    frozenset({"credentials", "network"}): "reads credentials and talks to the network",
}


@dataclass
class HookReport:
    package: str
    version: str
    ecosystem: str
    location: str
    hook: str
    capabilities: dict[str, list[str]] = field(default_factory=dict)

    def add(self, cap: str, why: str) -> None:
        self.capabilities.setdefault(cap, [])
        if why not in self.capabilities[cap] and len(self.capabilities[cap]) < 10:
            self.capabilities[cap].append(why)

    @property
    def verdicts(self) -> list[str]:
        have = set(self.capabilities)
        return [text for shape, text in _SHAPES.items() if shape <= have]


# --- JavaScript ---------------------------------------------------------------------------
def _js_parser() -> Any:
    import tree_sitter_javascript
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_javascript.language()))


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _string_value(node: Any) -> str | None:
    if node is not None and node.type in ("string", "template_string"):
        return _text(node)[1:-1]
    return None


def scan_javascript(source: bytes, report: HookReport) -> None:
    """Walk the syntax tree of one JavaScript file and record capabilities."""
    tree = _js_parser().parse(source)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            name = _text(fn)
            if name == "require" or fn is not None and fn.type == "import":
                module = (_string_value(first) or "").removeprefix("node:")
                if module in _NET_MODULES:
                    report.add("network", f"require('{module}')")
                if module in _EXEC_MODULES:
                    report.add("execute", f"require('{module}')")
            elif name in ("eval", "Function"):
                report.add("execute", f"{name}(…)")
            elif name == "fetch":
                report.add("network", "fetch(…)")
            elif name == "atob":
                report.add("decode", "atob(…)")
            elif name.endswith((".exec", ".execSync", ".spawn", ".spawnSync", ".execFile", ".execFileSync",
                                ".runInNewContext", ".runInThisContext", ".runInContext")):
                report.add("execute", name)
            elif name == "Buffer.from" and args is not None and len(args.named_children) > 1:
                if _string_value(args.named_children[1]) in ("base64", "hex"):
                    report.add("decode", "Buffer.from(…, 'base64')")
            elif name.endswith((".readFileSync", ".readFile", ".createReadStream")):
                path_text = _text(first)
                if any(s in path_text for s in _SECRET_PATHS):
                    report.add("credentials", f"{name}({path_text[:60]})")
        elif node.type == "new_expression" and _text(node.child_by_field_name("constructor")) == "Function":
            report.add("execute", "new Function(…)")
        elif node.type == "import_statement":
            module = (_string_value(node.child_by_field_name("source")) or "").removeprefix("node:")
            if module in _NET_MODULES:
                report.add("network", f"import '{module}'")
            if module in _EXEC_MODULES:
                report.add("execute", f"import '{module}'")
        elif node.type == "member_expression" and _text(node.child_by_field_name("object")) == "process.env":
            prop = _text(node.child_by_field_name("property"))
            if _SECRET_ENV.search(prop):
                report.add("credentials", f"process.env.{prop}")
        elif node.type in ("string", "template_string"):
            value = _text(node)
            if any(s in value for s in (".npmrc", ".ssh/", "id_rsa", ".aws/credentials")):
                report.add("credentials", f"path {value[:60]}")


def _shell_words(command: str) -> list[list[str]]:
    """A hook command split into simple commands at |, ;, && and ||, each as shell words."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        words = command.split()
    out: list[list[str]] = [[]]
    for word in words:
        if word in ("|", ";", "&&", "||", "&"):
            out.append([])
        else:
            out[-1].append(word)
    return [w for w in out if w]


def analyse_npm_package(pkg_dir: Path | str, manifest: dict[str, Any], location: str,
                        fs: RootFS | None = None) -> list[HookReport]:
    """Hook reports of one package.json; `pkg_dir` is a host path under `fs` (or a real folder without one)."""
    if fs is None:
        fs, pkg_dir = RootFS(Path(pkg_dir)), "/"
    pkg_host = "/" + str(pkg_dir).strip("/")
    reports = []
    scripts = manifest.get("scripts") if isinstance(manifest.get("scripts"), dict) else {}
    for hook in HOOKS:
        command = scripts.get(hook)
        if not isinstance(command, str) or not command.strip():
            continue
        report = HookReport(str(manifest.get("name") or posixpath.basename(pkg_host)),
                            str(manifest.get("version") or ""), "npm", location, f"{hook}: {command[:200]}")
        for words in _shell_words(command):
            prog = os.path.basename(words[0])
            if prog in ("curl", "wget"):
                report.add("network", prog)
            elif prog in ("sh", "bash", "zsh", "dash", "python", "python3", "perl") and len(words) == 1:
                report.add("execute", f"{prog} reading stdin")
            elif prog in ("eval", "source", "."):
                report.add("execute", prog)
            elif prog == "node" and len(words) > 1:
                if words[1] in ("-e", "--eval", "-p"):
                    report.add("execute", "node -e")
                    if len(words) > 2:
                        scan_javascript(words[2].encode(), report)
                else:
                    script = posixpath.normpath(posixpath.join(pkg_host, words[1]))
                    if script.startswith(pkg_host.rstrip("/") + "/"):
                        source = fs.read_bytes(script, kind="source")
                        if source is not None:
                            scan_javascript(source, report)
        reports.append(report)
    return reports


# --- Python -------------------------------------------------------------------------------
_PY_NET = {"urllib.request.urlopen", "urlopen", "requests.get", "requests.post", "http.client.HTTPConnection",
           "http.client.HTTPSConnection", "socket.socket", "socket.create_connection", "urllib.request.urlretrieve"}
_PY_EXEC = {"exec", "eval", "compile", "os.system", "os.popen", "subprocess.run", "subprocess.call",
            "subprocess.Popen", "subprocess.check_output", "subprocess.check_call", "os.execv", "os.execve"}
_PY_DECODE = {"base64.b64decode", "b64decode", "base64.b32decode", "codecs.decode", "zlib.decompress",
              "marshal.loads", "bytes.fromhex"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def scan_python(source: str, report: HookReport) -> None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # deeply nested code: not judged
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in _PY_NET:
                report.add("network", name)
            if name in _PY_EXEC:
                report.add("execute", name)
            if name in _PY_DECODE:
                report.add("decode", name)
            if name in ("open", "io.open", "pathlib.Path", "Path", "os.path.expanduser") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and any(
                        s in arg.value for s in _SECRET_PATHS):
                    report.add("credentials", f"{name}({arg.value[:60]!r})")
            if name in ("os.environ.get", "os.getenv") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _SECRET_ENV.search(arg.value):
                    report.add("credentials", f"{name}({arg.value!r})")
        elif isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and _SECRET_ENV.search(key.value):
                report.add("credentials", f"os.environ[{key.value!r}]")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for mod in mods:
                if mod.split(".")[0] in ("socket", "requests", "urllib", "http"):
                    report.add("network", f"import {mod}")


# --- discovery ----------------------------------------------------------------------------
def _npm_manifests(fs: RootFS) -> Iterator[str]:
    for folder, dirs, others in fs.walk("/"):
        if folder == "/":
            dirs[:] = [d for d in dirs if d.name not in ("proc", "sys", "dev", "run")]
        dirs[:] = [d for d in dirs if d.name not in (".git", "__pycache__")]
        names = {e.name for e in others if e.is_file}
        if "package.json" in names and "node_modules" in folder.split("/"):
            yield f"{folder.rstrip('/')}/package.json"
        if "setup.py" in names:
            yield f"{folder.rstrip('/')}/setup.py"


def scan_root(root: Path | RootFS) -> list[HookReport]:
    """Every flagged install hook under `root` (packages in node_modules, setup.py files)."""
    fs = root if isinstance(root, RootFS) else RootFS(Path(root))
    flagged: list[HookReport] = []
    for location in _npm_manifests(fs):
        folder = posixpath.dirname(location)
        try:
            if location.endswith("/setup.py"):
                report = HookReport(posixpath.basename(folder), "", "PyPI", location, "setup.py")
                scan_python(fs.read_text(location, kind="source") or "", report)
                reports = [report]
            else:
                text = fs.read_text(location, kind="lockfile", truncate=False)
                manifest = safe_json_loads(text) if text is not None else None
                if not isinstance(manifest, dict):
                    continue
                reports = analyse_npm_package(folder, manifest, location, fs)
        except (OSError, ValueError):
            continue
        flagged.extend(r for r in reports if r.verdicts)
    return flagged
