# Tooling entry points: local AWS (moto, dynalite) setup, demo, benchmarks, tests.
# Paths: scripts/ the developer entry points (demo, build, fuzz, validate, requirements.txt);
#        scripts/localaws/ the local AWS the tests and the demo start (moto_server.py, localaws.py,
#        localaws.sh, proxy.py, with_parent.py); tests/infra/ the Python proofs of the template,
#        alarms, policy and deployment; bench/ the benchmark and its fake AWS.
#   make setup  - .venv from scripts/requirements.txt, node_modules from package-lock.json, cfn-guard
#                 (pinned, cargo install into .tools/bin; a few minutes to compile the first time) (stamped)
#   make demo   - scripts/demo.sh against a local moto
#   make bench  - bench/bench.sh: release `check` vs a threaded boto3 peer against bench/fake_aws.py
#                 (needs only .venv: boto3); 1-3 minutes
#   make mutants - cargo-mutants over the modules of .cargo/mutants.toml (unit tests, then the full suite)
#                 (hours; not in CI; mutates the working tree while it runs)
#   make build  - scripts/build-lambda.sh: the arm64 Lambda zip, $CARGO_TARGET_DIR (else target)/lambda/
#                 dynamodb-auth-canary/bootstrap.zip (adds the rustup target aarch64-unknown-linux-gnu if missing)
#   make setup-system - Debian packages the artifact and SAM tests need (qemu-user-static, binfmt-support,
#                 libc6-arm64-cross, libgcc-s1-arm64-cross, docker.io, containerd, runc, iptables,
#                 busybox-static), apt-get installed only when dpkg says one is missing (root)
#   make test-artifact - build, then tests/infra/artifact_test.py: the zip (bootstrap at the root, executable,
#                 aarch64 ELF, GLIBC_ <= 2.34, size limits), the bootstrap under qemu-aarch64-static as the
#                 CLI (`check` over HTTPS through a loopback TLS front, trusted by AWS_CA_BUNDLE; untrusted)
#                 and as the Lambda (a local Runtime API, events/scheduled.json and on-demand.json, EMF)
#   make test-sam - build, then scripts/sam-local.sh: `sam local invoke` of template.yaml's CanaryFunction
#                 (the built zip) on events/ with its own dockerd (vfs, private socket, FORWARD dropped),
#                 a locally imported base image (never pulled), binfmt qemu-aarch64 and moto on the bridge
#   make test   - fmt, clippy, cargo test, the Lambda handler under cargo-lambda's emulator
#                 (tests/infra/lambda_local_test.py), the alarm evaluator test (tests/infra/alarm_test.py:
#                 template alarms over what the binary publishes) (+ scripts/validate-template.sh if present)
#   make validate - scripts/validate-template.sh: sam validate --lint, cfn-lint, cfn-guard (rules/),
#                 tests/infra/template_checks.py (+ --self-test), deploy_test.py (the stack in a local moto),
#                 target_role_test.py and policy_test.py; needs target/debug/dynamodb-auth-canary
#   make fuzz   - scripts/fuzz.sh: every fuzz target for FUZZ_SECONDS (make fuzz-smoke: 10 s each, CI)
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
TOOLS := .tools
CFN_GUARD_VERSION := 3.2.1
CARGO_FUZZ_VERSION := 0.13.2
CARGO_MUTANTS_VERSION := 27.1.0
FUZZ_SECONDS ?= 60
export AWS_EC2_METADATA_DISABLED := true
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup setup-fuzz setup-system demo bench build test test-artifact test-sam validate fuzz fuzz-smoke mutants

setup: $(VENV)/.requirements.stamp node_modules/.lock.stamp $(TOOLS)/.cfn-guard-$(CFN_GUARD_VERSION).stamp

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.requirements.stamp: scripts/requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --disable-pip-version-check -q -r scripts/requirements.txt
	touch $@

node_modules/.lock.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# cfn-guard (AWS CloudFormation Guard) checks rules/*.guard in validate-template.sh.
$(TOOLS)/.cfn-guard-$(CFN_GUARD_VERSION).stamp:
	cargo install --locked --root $(TOOLS) cfn-guard --version $(CFN_GUARD_VERSION)
	touch $@

# cargo-fuzz (pinned) for `make fuzz`; fuzzing also needs the nightly toolchain (scripts/fuzz.sh
# names the one it was measured with).
setup-fuzz: $(TOOLS)/.cargo-fuzz-$(CARGO_FUZZ_VERSION).stamp

$(TOOLS)/.cargo-fuzz-$(CARGO_FUZZ_VERSION).stamp:
	cargo install --locked --root $(TOOLS) cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	touch $@

# Every fuzz target for FUZZ_SECONDS each (default 60); `make fuzz-smoke` is CI's short run.
fuzz: setup-fuzz
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: setup-fuzz
	bash scripts/fuzz.sh 10

# cargo-mutants (pinned) over the modules of .cargo/mutants.toml. Two passes into one mutants.out/:
# the unit tests alone first (seconds a mutant), then, with --iterate, the full suite on the
# mutants the unit tests missed; a mutant counts as missed only if the full suite misses it too.
# Still an hour or more on 2 cores, so not in CI. In place: the working tree is mutated while it
# runs (the tests need .venv and node_modules beside the sources); do not edit src/ meanwhile.
# cargo-mutants exits 2 (missed) or 3 (timeouts) when it ran; anything else stops the target.
# MUTANTS_ARGS passes more; to run some files only, leave the config's list out:
# MUTANTS_ARGS="--no-config --timeout 180 -f src/redact.rs".
$(TOOLS)/.cargo-mutants-$(CARGO_MUTANTS_VERSION).stamp:
	cargo install --locked --root $(TOOLS) cargo-mutants --version $(CARGO_MUTANTS_VERSION)
	touch $@

mutants: setup $(TOOLS)/.cargo-mutants-$(CARGO_MUTANTS_VERSION).stamp
	$(TOOLS)/bin/cargo-mutants mutants --in-place --no-shuffle --cargo-arg=--lib $(MUTANTS_ARGS); \
	  rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 2 ] || [ $$rc -eq 3 ] || exit $$rc
	$(TOOLS)/bin/cargo-mutants mutants --in-place --no-shuffle --iterate $(MUTANTS_ARGS)

demo: setup
	bash scripts/demo.sh

bench: $(VENV)/.requirements.stamp
	bash bench/bench.sh

build: setup
	bash scripts/build-lambda.sh

# Debian packages of test-artifact and test-sam: qemu user-mode emulation and the aarch64 sysroot
# (the loader and glibc the bootstrap links), and for SAM a docker engine, iptables and busybox
# (the base image's rootfs). Installed only when missing; services are not started by the install
# (policy-rc.d denies them: test-sam starts its own dockerd).
SYSTEM_PACKAGES := qemu-user-static binfmt-support libc6-arm64-cross libgcc-s1-arm64-cross \
	docker.io containerd runc iptables busybox-static
setup-system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup-system: installing" $$missing; \
	  policy=0; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; \
	    chmod +x /usr/sbin/policy-rc.d; policy=1; fi; \
	  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $$missing; then rc=0; else rc=$$?; fi; \
	  [ $$policy = 0 ] || rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi

test-artifact: build setup-system
	$(VENV)/bin/python tests/infra/artifact_test.py

test-sam: build setup-system
	bash scripts/sam-local.sh

validate: setup
	bash scripts/validate-template.sh

test: setup
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo test
	$(VENV)/bin/python tests/infra/lambda_local_test.py
	$(VENV)/bin/python tests/infra/alarm_test.py target/debug/dynamodb-auth-canary
	$(VENV)/bin/python tests/infra/sdk_conformance.py target/debug/dynamodb-auth-canary
	if [ -f scripts/validate-template.sh ]; then bash scripts/validate-template.sh; fi
