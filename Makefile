# konductor-action. `make demo` and `make test` build whatever they need on
# first use; pinned tools are built from Go modules into $(CACHE), keyed by the
# content of their wrapper modules so a changed pin rebuilds and an unchanged
# one is reused across clones.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

CACHE ?= $(HOME)/.cache/konductor
GO ?= go
export GOFLAGS ?= -buildvcs=false

PULUMI_VERSION := v3.274.1
K8S_PROVIDER_VERSION := 4.24.0
KUBE_VERSION := v1.36.1

key = $(shell cat $(1)/go.mod $(1)/go.sum $(wildcard $(1)/*.go) $(1)/package.json $(1)/package-lock.json 2>/dev/null | sha256sum | cut -c1-12)

PULUMI_ROOT := $(CACHE)/pulumi-$(PULUMI_VERSION)-$(call key,tools/pulumi)
PULUMI := $(PULUMI_ROOT)/bin/pulumi
PLUGIN_DIR := $(CACHE)/plugins-$(K8S_PROVIDER_VERSION)-$(call key,tools/pulumi-resource-kubernetes)
K8S_PROVIDER := $(PLUGIN_DIR)/pulumi-resource-kubernetes
KUBE_CLUSTER := $(CACHE)/kube-cluster-$(KUBE_VERSION)-$(call key,tools/kube-cluster)/kube-cluster
STATICCHECK := $(CACHE)/staticcheck-$(call key,tools/staticcheck)/staticcheck
NPM_DIR := $(CACHE)/npm-$(call key,tools/npm)
ACTIONLINT := $(CACHE)/actionlint-$(call key,tools/actionlint)/actionlint
BIN := bin/konductor
# `konductor version` and every run's first log line.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION_LDFLAGS = -X github.com/containercraft/konductor-action/cmd/konductor/cli.Version=$(VERSION) \
  -X github.com/containercraft/konductor-action/cmd/konductor/cli.PulumiVersion=$(PULUMI_VERSION)

# The install tree the container image ships (`make dist`). The image build
# adds -trimpath (GO_BUILD_FLAGS); locally it would recompile every package.
DIST ?= dist
GO_BUILD_FLAGS ?=
# Pulumi's released aws and azure-native plugins, at the versions the SDKs in
# go.mod request (`make cloud-plugins`: a download, run by the image build
# only). A SHA-256 given here is checked.
AWS_PROVIDER_VERSION := 6.83.4
AZURE_NATIVE_PROVIDER_VERSION := 2.90.0
AWS_PLUGIN_SHA256 ?=
AZURE_NATIVE_PLUGIN_SHA256 ?=

# Everything the binary and the tests need to find the pinned tools.
export KONDUCTOR_PULUMI_ROOT := $(PULUMI_ROOT)
export KONDUCTOR_PLUGIN_PATH := $(PLUGIN_DIR)
export KONDUCTOR_KUBE_CLUSTER := $(KUBE_CLUSTER)
export KONDUCTOR_NPM_BIN := $(NPM_DIR)/node_modules/.bin
# `make test` builds it (lint); the init test lints the workflow it writes.
export KONDUCTOR_ACTIONLINT := $(ACTIONLINT)

.PHONY: build tools demo test lint unit check-modcache fuzz clean-cache dist cloud-plugins coldstart bench bench-profile bench-cli-calls

build: $(BIN)

# The baseline policy pack ships next to the binary, where konductor looks
# for it.
$(BIN): FORCE
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN) ./cmd/konductor
	$(GO) build -o $(dir $(BIN))konductor-baseline ./policies/baseline
FORCE:

tools: $(PULUMI) $(K8S_PROVIDER) $(KUBE_CLUSTER) $(NPM_DIR)/node_modules/.installed

$(PULUMI):
	@echo ">> building the Pulumi CLI $(PULUMI_VERSION) from Go modules (first run only, ~8 min)"
	cd tools/pulumi && $(GO) build -trimpath \
	  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(PULUMI_VERSION)" \
	  -o $(PULUMI).tmp github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	mv $(PULUMI).tmp $(PULUMI)

# The module-resolving parts of the recipes that read a module's files, kept
# apart so `make check-modcache` can run them on an empty module cache: each
# downloads what it reads (`go list -m` alone prints nothing for a module
# that is not in the cache yet). Each prints the module's directory.
k8s_provider_dir = $(GO) mod download -json github.com/pulumi/pulumi-kubernetes/provider/v4 | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'
cert_manager_dir = $(GO) mod download -json github.com/cert-manager/cert-manager@$(1) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'
cert_manager_version = $$(awk '/^cert_manager:/{m=1;next} /^[^ \#]/{m=0} m&&$$1=="version:"{print $$2;exit}' modules/versions/versions.yaml)

# The upstream main embeds generated files the module zip lacks: stamp the
# schema's version and copy the mapping next to our wrapper main, then build.
$(K8S_PROVIDER):
	@echo ">> building pulumi-resource-kubernetes $(K8S_PROVIDER_VERSION) from Go modules (first run only, ~12 min)"
	cd tools/pulumi-resource-kubernetes && \
	  dir=$$($(k8s_provider_dir)) && \
	  test -n "$$dir" && \
	  sed '1s/^{/{"version":"$(K8S_PROVIDER_VERSION)",/' $$dir/cmd/pulumi-resource-kubernetes/schema.json > schema-embed.json && \
	  cp $$dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json terraform-mapping-embed.json && \
	  chmod 644 schema-embed.json terraform-mapping-embed.json && \
	  $(GO) build -trimpath -ldflags "-s -w \
	    -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$(K8S_PROVIDER_VERSION) \
	    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
	    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=33" \
	    -o $(K8S_PROVIDER).tmp .
	mv $(K8S_PROVIDER).tmp $(K8S_PROVIDER)

$(STATICCHECK):
	cd tools/staticcheck && $(GO) build -o $(STATICCHECK) honnef.co/go/tools/cmd/staticcheck

$(ACTIONLINT):
	cd tools/actionlint && $(GO) build -o $(ACTIONLINT) github.com/rhysd/actionlint/cmd/actionlint

# The tree the image's final stage copies to /opt/konductor, laid out so that
# `bin/konductor action` finds everything next to itself with no variable
# set: bin/{konductor,konductor-baseline,pulumi} and plugins/. The pinned
# tools are hard-linked from $(CACHE) where it shares the file system.
dist: $(PULUMI) $(K8S_PROVIDER)
	@test -n "$(DIST)"
	rm -rf $(DIST)/bin $(DIST)/plugins
	mkdir -p $(DIST)/bin $(DIST)/plugins
	$(GO) build $(GO_BUILD_FLAGS) -ldflags "-s -w $(VERSION_LDFLAGS)" -o $(DIST)/bin/konductor ./cmd/konductor
	$(GO) build $(GO_BUILD_FLAGS) -ldflags "-s -w" -o $(DIST)/bin/konductor-baseline ./policies/baseline
	ln -f $(PULUMI) $(DIST)/bin/pulumi 2>/dev/null || cp $(PULUMI) $(DIST)/bin/pulumi
	ln -f $(K8S_PROVIDER) $(DIST)/plugins/ 2>/dev/null || cp $(K8S_PROVIDER) $(DIST)/plugins/

# Adds the aws and azure-native plugins to $(DIST)/plugins with the tree's
# own pulumi, which fetches the build for the platform it runs on.
cloud-plugins:
	home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && \
	PULUMI_HOME=$$home $(DIST)/bin/pulumi plugin install resource aws $(AWS_PROVIDER_VERSION) --exact \
	  $(if $(AWS_PLUGIN_SHA256),--checksum $(AWS_PLUGIN_SHA256)) && \
	PULUMI_HOME=$$home $(DIST)/bin/pulumi plugin install resource azure-native $(AZURE_NATIVE_PROVIDER_VERSION) --exact \
	  $(if $(AZURE_NATIVE_PLUGIN_SHA256),--checksum $(AZURE_NATIVE_PLUGIN_SHA256)) && \
	cp $$home/plugins/resource-aws-v$(AWS_PROVIDER_VERSION)/pulumi-resource-aws \
	   $$home/plugins/resource-azure-native-v$(AZURE_NATIVE_PROVIDER_VERSION)/pulumi-resource-azure-native $(DIST)/plugins/

# Cold start of the dist tree's `konductor action`: process start to the first
# engine call, median of several runs; prints the tree's size too.
coldstart: dist
	$(GO) run ./scripts/coldstart -dist $(DIST) -runs 9

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok in one
# multi-call binary; `kube-cluster up` runs a local cluster for the tests.
$(KUBE_CLUSTER):
	@echo ">> building kube-cluster $(KUBE_VERSION) from Go modules (first run only, ~5 min)"
	cd tools/kube-cluster && $(GO) build -trimpath -ldflags "-s -w \
	    $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	      -X $(p).gitVersion=$(KUBE_VERSION) \
	      -X $(p).gitMajor=$(patsubst v%,%,$(word 1,$(subst ., ,$(KUBE_VERSION)))) \
	      -X $(p).gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) \
	      -X $(p).gitTreeState=clean)" \
	  -o $(KUBE_CLUSTER).tmp . && mv $(KUBE_CLUSTER).tmp $(KUBE_CLUSTER)

# s3rver and azurite, the self-managed state backends test/backends runs on
# loopback, installed from the committed lock.
$(NPM_DIR)/node_modules/.installed:
	@echo ">> installing s3rver and azurite from npm (first run only, ~1 min)"
	mkdir -p $(NPM_DIR)
	cp tools/npm/package.json tools/npm/package-lock.json $(NPM_DIR)/
	npm ci --prefix $(NPM_DIR) --no-audit --no-fund
	touch $@

# A real preview of examples/platform (stack dev) on the embedded file backend,
# printing the PR comment it would post. It builds only what it runs: the
# CLI, the kubernetes provider and konductor (not the test cluster or the npm
# test backends).
demo: $(PULUMI) $(K8S_PROVIDER) $(BIN)
	@# Offline cert-manager chart for the example (chart_path): the pinned
	@# version's chart from the Go module zip, whose Chart.yaml carries
	@# placeholder versions (v0.0.0) that its release tool fills in.
	v=$(cert_manager_version); \
	src=$$($(call cert_manager_dir,$$v)); test -n "$$src"; \
	dst=examples/platform/.konductor/charts/cert-manager; \
	rm -rf $$dst; mkdir -p $$(dirname $$dst); cp -R $$src/deploy/charts/cert-manager $$dst; chmod -R u+w $$dst; \
	sed -i -E "s/^(version|appVersion): .*/\1: $$v/" $$dst/Chart.yaml
	$(BIN) preview --stack dev --cwd examples/platform

lint: $(STATICCHECK) $(ACTIONLINT)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(ACTIONLINT) .github/workflows/*.yml examples/workflows/*.yml
	@# The examples again as if they used this checkout's action (`./`), so
	@# actionlint checks their inputs and outputs against action.yml.
	@for f in examples/workflows/*.yml; do \
	  tmp=$$(mktemp -p examples/workflows .local-XXXXXX.yml); \
	  sed 's#containercraft/konductor-action@v[0-9.]*#./#' $$f > $$tmp; \
	  if ! $(ACTIONLINT) $$tmp; then rm -f $$tmp; echo "$$f: see above ($$tmp is $$f using ./)"; exit 1; fi; \
	  rm -f $$tmp; \
	done

test: tools lint check-modcache
	$(GO) test -count=1 -timeout 60m ./...
	@# The external-module example is its own Go module, outside ./...
	cd examples/custom-module && $(GO) vet ./... && $(GO) test -count=1 ./...

# Scale benchmarks (docs/performance.md): P2 rendering, P1 runner overhead
# against a bare Automation-API program, P3 one to eight stacks in one run
# with peak memory, P4 a no-op pull request. Figures, never assertions; each
# ratio is measured side by side in the same iterations.
BENCHTIME ?= 5x
bench: tools
	$(GO) test ./runner/report -run '^$$' -bench Render10k -benchmem
	$(GO) test ./test/action -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 90m

# Where one preview's CPU goes (konductor, the CLI, the provider, the pack).
bench-profile: demo
	BIN=$(dir $(BIN)) scripts/perf/profile-preview.sh

# The Pulumi CLI starts one run pays for two stacks (shared setup).
bench-cli-calls: $(BIN)
	BINS="this=$(dir $(BIN))" scripts/perf/cli-calls.sh

# The config loaders' fuzz targets, each for FUZZTIME (make test runs only
# their seeds): the stack-file loader, the secure-path walk, konductor.yaml.
FUZZTIME ?= 2m
fuzz:
	for t in FuzzLoad FuzzSecurePaths FuzzLoadSettings; do \
	  $(GO) test ./runner/config -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s || exit 1; \
	done

# Runs the module-resolving part of every recipe that reads a module's files
# with GOMODCACHE pointed at an empty directory (fed from the local download
# cache first, so it is quick and mostly offline), and checks the files the
# recipes read are there: a recipe that works only on a warm cache fails.
check-modcache:
	@tmp=$$(mktemp -d) && trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT && \
	export GOPROXY="file://$$($(GO) env GOMODCACHE)/cache/download,$$($(GO) env GOPROXY)" GOMODCACHE="$$tmp" GOFLAGS="$(GOFLAGS) -modcacherw" && \
	d=$$(cd tools/pulumi-resource-kubernetes && $(k8s_provider_dir)) && \
	test -f "$$d/cmd/pulumi-resource-kubernetes/schema.json" -a -f "$$d/cmd/pulumi-resource-kubernetes/terraform-mapping.json" || \
	  { echo "check-modcache: the kubernetes provider recipe does not find its module's files on an empty module cache ($$d)"; exit 1; }; \
	v=$(cert_manager_version); d=$$($(call cert_manager_dir,$$v)) && \
	test -f "$$d/deploy/charts/cert-manager/Chart.yaml" || \
	  { echo "check-modcache: the demo's cert-manager chart is not found on an empty module cache ($$d)"; exit 1; }; \
	echo "check-modcache: every recipe resolves its modules from an empty module cache"

clean-cache:
	rm -rf $(CACHE)
