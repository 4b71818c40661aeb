# One entry point for set-up, the main job, tests and benchmarks. `make run` installs what the
# main job needs; `make test` and `make bench` add what only they drive (a browser, peers, the
# test tools). A fresh clone needs nothing else.
PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# Debian packages, installed only when missing and when root (otherwise the tests needing them skip).
# The main job: the firewall tools `watch --respond` drives on this host.
RUN_APT   := iproute2 nftables
# Only the tests: netfilter fallbacks, nginx and its ModSecurity connector for the WAF action,
# account tools for disable_user, Chromium for the HTML report, and the peers and formats the
# real-component tests read.
TEST_APT  := iptables ipset nginx-light libnginx-mod-http-modsecurity passwd fail2ban systemd-journal-remote lynis rpm fzf db5.3-util chromium
# Only the benchmarks: fail2ban's inotify backend, for a fair ban-latency comparison.
BENCH_APT := python3-pyinotify

.PHONY: install install-test run test test-unit test-integration lint bench clean

install: $(RUN_STAMP)

install-test: $(TEST_STAMP)

$(RUN_STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory apt PACKAGES="$(RUN_APT)"
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_APT)"
	$(BIN)/pip install -q -e '.[dev]'
	touch $(TEST_STAMP)

apt:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not root: skipping Debian packages:$$missing (what needs them skips)"; fi; \
	fi

run: install
	@grep -v '^#' examples/demo-host.modes | while read -r mode path; do chmod "$$mode" "examples/demo-host/$$path"; done
	$(BIN)/hostwarden scan --root examples/demo-host --advisories examples/advisories,examples/kev/known_exploited_vulnerabilities.json
	$(BIN)/hostwarden scan --root / --format table

test: install-test lint test-unit test-integration

test-unit: install-test
	$(BIN)/pytest -q tests/unit tests/corpus

test-integration: install-test
	$(BIN)/pytest -q tests/integration

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

bench: install-test
	@$(MAKE) --no-print-directory apt PACKAGES="$(BENCH_APT)"
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
