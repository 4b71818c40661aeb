# One entry point for set-up, the main job, tests and benchmarks. `make run` and `make test`
# both run `install` first, so a fresh clone needs nothing else.
PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
# Debian packages the tests and benchmarks drive for real (installed only when missing and root).
APT_PACKAGES := iproute2 iptables nftables ipset nginx-light passwd fail2ban systemd-journal-remote lynis rpm fzf db5.3-util chromium

.PHONY: install apt run test test-unit test-integration lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory apt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not root: skipping Debian packages:$$missing (tests needing them skip)"; fi; \
	fi

run: install
	@grep -v '^#' examples/demo-host.modes | while read -r mode path; do chmod "$$mode" "examples/demo-host/$$path"; done
	$(BIN)/hostwarden scan --root examples/demo-host --advisories examples/advisories,examples/kev/known_exploited_vulnerabilities.json
	$(BIN)/hostwarden scan --root / --format table

test: install lint test-unit test-integration

test-unit:
	$(BIN)/pytest -q tests/unit tests/corpus

test-integration:
	$(BIN)/pytest -q tests/integration

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

# Peers only the benchmarks drive (fail2ban's inotify backend, for a fair ban-latency comparison).
BENCH_APT := python3-pyinotify

bench: install
	@missing=""; for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
