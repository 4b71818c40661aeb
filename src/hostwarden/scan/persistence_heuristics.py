"""What makes a persistence entry suspicious: patterns attackers use, each with a name and a grade.

Kept apart from the inventory so the same patterns can judge cron lines, unit files, shell
start-up files and authorized_keys `command=` options alike.
"""

from __future__ import annotations

import re

# Dot-folders tools create in home directories and projects (`.venv` is where `python -m venv` and
# uv put an application's environment); a hidden folder with any other name is suspicious.
KNOWN_DOTDIRS = ["ssh", "config", "local", "cache", "cargo", "rustup", "pyenv", "rbenv", "nvm", "npm", "gem", "m2",
                 "gradle", "vscode-server", "git", "bun", "deno", "sdkman", "asdf", "kube", "docker", "ansible",
                 "oh-my-zsh", "krew", "dotnet", "poetry", "pixi", "conda", "volta", "fzf", "tmux", "vim", "linuxbrew",
                 "venv", "virtualenvs"]

# name → (pattern, grade). Grades follow DESIGN.md: a reverse shell is confirmed compromise (L1).
HEURISTICS: dict[str, tuple[re.Pattern[str], str]] = {
    "reverse_shell": (re.compile(
        r"/dev/(tcp|udp)/[^/\s]+/\d+"
        r"|\bbash\s+-i\s*>&"
        r"|\bn(c|cat)\b[^\n|;]*\s-[a-z]*e\s*/bin/(ba|da|z)?sh"
        r"|\bsocat\b[^\n]*\bexec:"
        r"|\bmkfifo\b[^\n]*\bn(c|cat)\b"
        r"|socket\.socket\([^\n]*(subprocess|pty\.spawn|os\.dup2)"
        r"|\bperl\b[^\n]*\bsocket\b[^\n]*\bexec\b", re.IGNORECASE), "L1"),
    "download_exec": (re.compile(
        r"\b(curl|wget|fetch)\b[^\n|;&]*\|\s*(sudo\s+)?(ba|da|z|k)?sh\b"
        r"|\b(curl|wget)\b[^\n]*(;|&&)\s*(chmod\s+\+?[0-7x]+|(ba|da)?sh\s)"
        r"|\b(curl|wget)\b[^\n]*-O-?\s*/(tmp|dev/shm|var/tmp)/", re.IGNORECASE), "L2"),
    # A path in a world-writable folder in command position (start of a command, after a shell
    # operator, a quote, `=` or a cron schedule); `/tmp/$VAR` and `mktemp /tmp/x.XXXX` are not.
    "tmp_binary": (re.compile(
        r"(^\s*|[;&|`(]\s*|['\"=]|\b(?:nohup|exec|setsid|sh|bash|-c)\s+|^\s*(?:@\w+\s+|(?:\S+\s+){5}(?:\w+\s+)?))"
        r"(/tmp|/dev/shm|/var/tmp)/[^\s;'\"$]+(?=[\s;'\"&|)]|$)", re.MULTILINE), "L2"),
    "hidden_path": (re.compile(r"(^|[\s;'\"=])/[^\s;'\"]*/\.(?!(?:" + "|".join(KNOWN_DOTDIRS) + r")/)[A-Za-z0-9_.-]+/"), "L2"),
    "base64_payload": (re.compile(r"\bbase64\s+(-d|--decode)\b|\becho\s+[A-Za-z0-9+/]{60,}={0,2}\s*\|"), "L2"),
    "preload_library": (re.compile(r"^\s*/\S+\.so\b", re.MULTILINE), "L1"),
    "pam_exec": (re.compile(r"^\s*\w+\s+\S+\s+pam_exec\.so", re.MULTILINE), "L2"),
    "ssh_forced_command": (re.compile(r"^\s*(\S+,)?command=\"", re.MULTILINE), "L3"),
}

# Some heuristics only make sense for some categories (an authorized key is base64 by nature).
ONLY_FOR = {"preload_library": {"preload"}, "pam_exec": {"pam"}, "ssh_forced_command": {"ssh_keys"}}
NOT_FOR = {"base64_payload": {"ssh_keys"}, "hidden_path": {"ssh_keys"}}


def judge(category: str, text: str) -> list[tuple[str, str, str]]:
    """(heuristic, grade, matching snippet) for every pattern the text shows."""
    found: list[tuple[str, str, str]] = []
    # Comments describe; they do not run (and a shebang is no threat).
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for name, (pattern, grade) in HEURISTICS.items():
        if name in ONLY_FOR and category not in ONLY_FOR[name]:
            continue
        if category in NOT_FOR.get(name, set()):
            continue
        m = pattern.search(text)
        if m:
            line = text[text.rfind("\n", 0, m.start()) + 1: text.find("\n", m.end()) if "\n" in text[m.end():] else len(text)]
            found.append((name, grade, line.strip()[:200]))
    return found


def worst(grades: list[str]) -> str:
    return min(grades, default="L3")
