# clinvk — the two entry points are `make run` and `make test`.
SHELL := /bin/bash
NPM ?= npm
ARGS ?=

.PHONY: run test test-browser chromium-check e2e install build generate check-generated lint-spec lint typecheck unit bench clean services cluster-demo

node_modules/.package-lock.json: package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

install: node_modules/.package-lock.json

build: install
	$(NPM) run -s generate
	$(NPM) run -s build

# Installs, builds and starts the server (127.0.0.1:8080 unless configured otherwise).
run: build
	node bin/clinvk.js serve $(ARGS)

# 2 API nodes + 2 workers on this machine against the local Redis and PostgreSQL (docs/deployment.md);
# ARGS=--fake uses the fake CLIs of test/fixtures/bin. Ctrl-C stops everything.
cluster-demo: build
	scripts/cluster-demo.sh $(ARGS)

generate: install
	$(NPM) run -s generate

# Fails when generated/ does not match openapi/ (contract drift).
# Without .git (a source archive) the generated files are compared by content instead.
check-generated: install
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  $(NPM) run -s generate && \
	  { git diff --exit-code --stat -- generated docs/configuration.md config.example.yaml || { echo "generated files are stale: run 'npm run generate' and commit"; exit 1; }; }; \
	else \
	  node scripts/generate.mjs --check && node scripts/generate-config-docs.cjs --check; \
	fi

lint-spec: install
	$(NPM) run -s lint:spec

# ESLint (correctness rules + the layer rules in eslint.config.mjs) and the Prettier format check.
lint: install
	$(NPM) run -s lint
	$(NPM) run -s format:check

typecheck: install
	$(NPM) run -s typecheck

unit: install services
	npx jest

# PostgreSQL for the store suites (started, or installed when missing; see scripts/services.sh).
services: install
	@scripts/services.sh

# Installs everything, checks the contract, lint, format and types, builds, and runs the whole test suite,
# then the HTTP suites against a cluster of processes (test/jest.cluster.config.js).
test: install check-generated lint-spec lint typecheck build services
	@mkdir -p .tmp
	npx jest --ci --json --outputFile=.tmp/jest-results.json
	@node -e 'const r=require("./.tmp/jest-results.json"); console.log("jest: " + r.numPassedTests + " passed, " + r.numFailedTests + " failed, " + r.numPendingTests + " skipped")'
	npx jest -c test/jest.cluster.config.js --ci --json --outputFile=.tmp/jest-cluster-results.json
	@node -e 'const r=require("./.tmp/jest-cluster-results.json"); console.log("jest (cluster): " + r.numPassedTests + " passed, " + r.numFailedTests + " failed, " + r.numPendingTests + " skipped")'

# The operator console in a real browser: Debian Chromium (/usr/bin/chromium, or $CHROMIUM_PATH) driven by
# playwright-core, against a server with the fake CLIs. Never downloads a browser. Screenshots: .tmp/browser/.
CHROMIUM_PATH ?= $(firstword $(wildcard /usr/bin/chromium /usr/bin/chromium-browser))
test-browser: chromium-check build
	CHROMIUM_PATH="$(CHROMIUM_PATH)" npx jest -c test/browser/jest.config.js --ci

chromium-check:
	@test -n "$(CHROMIUM_PATH)" && test -x "$(CHROMIUM_PATH)" || { echo "test-browser: chromium not found (apt-get install -y chromium, or set CHROMIUM_PATH)"; exit 1; }

# The real claude, codex and gemini CLIs against the fake model provider (docs/e2e.md). The CLIs are
# installed into a cache outside the repository (CLINVK_E2E_CACHE, default ~/.cache/clinvk-e2e).
# CLI_VERSIONS=latest runs the same suite against the newest published CLIs (drift report).
CLI_VERSIONS ?= pinned
e2e: build
	node test/e2e/run.js --versions $(CLI_VERSIONS)

# Benchmarks (numbers go into issue notes, never into assertions): each bounds its own run time.
bench: build services
	node scripts/bench/overhead.mjs
	node scripts/bench/stream.mjs
	node scripts/bench/parallel.mjs
	node scripts/bench/sessions.mjs
	node scripts/bench/api.mjs
	node scripts/bench/rss.mjs
	node scripts/bench/cluster.mjs

clean:
	rm -rf dist coverage
