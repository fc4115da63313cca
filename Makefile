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
BIN := bin/konductor

# Everything the binary and the tests need to find the pinned tools.
export KONDUCTOR_PULUMI_ROOT := $(PULUMI_ROOT)
export KONDUCTOR_PLUGIN_PATH := $(PLUGIN_DIR)
export KONDUCTOR_KUBE_CLUSTER := $(KUBE_CLUSTER)
export KONDUCTOR_NPM_BIN := $(NPM_DIR)/node_modules/.bin

.PHONY: build tools demo test lint unit clean-cache

build: $(BIN)

# The baseline policy pack ships next to the binary, where konductor looks
# for it.
$(BIN): FORCE
	$(GO) build -o $(BIN) ./cmd/konductor
	$(GO) build -o $(dir $(BIN))konductor-baseline ./policies/baseline
FORCE:

tools: $(PULUMI) $(K8S_PROVIDER) $(KUBE_CLUSTER) $(NPM_DIR)/node_modules/.installed

$(PULUMI):
	@echo ">> building the Pulumi CLI $(PULUMI_VERSION) from Go modules (first run only, ~8 min)"
	cd tools/pulumi && $(GO) build -trimpath \
	  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(PULUMI_VERSION)" \
	  -o $(PULUMI).tmp github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	mv $(PULUMI).tmp $(PULUMI)

# The upstream main embeds generated files the module zip lacks: stamp the
# schema's version and copy the mapping next to our wrapper main, then build.
$(K8S_PROVIDER):
	@echo ">> building pulumi-resource-kubernetes $(K8S_PROVIDER_VERSION) from Go modules (first run only, ~12 min)"
	cd tools/pulumi-resource-kubernetes && \
	  dir=$$($(GO) list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4) && \
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
# printing the PR comment it would post.
demo: tools $(BIN)
	@# Offline cert-manager chart for the example (chart_path): the pinned
	@# version's chart from the Go module zip, whose Chart.yaml carries
	@# placeholder versions (v0.0.0) that its release tool fills in.
	v=$$(awk '/^cert_manager:/{m=1;next} /^[^ #]/{m=0} m&&$$1=="version:"{print $$2;exit}' modules/versions/versions.yaml); \
	src=$$($(GO) mod download -json github.com/cert-manager/cert-manager@$$v | grep '"Dir"' | cut -d'"' -f4); \
	dst=examples/platform/.konductor/charts/cert-manager; \
	rm -rf $$dst; mkdir -p $$(dirname $$dst); cp -R $$src/deploy/charts/cert-manager $$dst; chmod -R u+w $$dst; \
	sed -i -E "s/^(version|appVersion): .*/\1: $$v/" $$dst/Chart.yaml
	$(BIN) preview --stack dev --cwd examples/platform

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

test: tools lint
	$(GO) test -count=1 -timeout 60m ./...

clean-cache:
	rm -rf $(CACHE)
