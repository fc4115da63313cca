# syntax=docker/dockerfile:1.7
# konductor-action's image: konductor, its baseline policy pack, the pinned
# Pulumi CLI and provider plugins, on Debian slim. Built by release.yml for
# linux/amd64 and linux/arm64; users pull it (action.yml), they never build it.
#
# One recipe: the build stage runs `make dist`, the same target the tests run
# the action from, so the tree tested locally is the tree shipped.

ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=debian:bookworm-slim

# Go cross-compiles: the build runs on the builder's own platform, fast, for
# the target's. Everything is pure Go (CGO_ENABLED=0), so the binaries are
# static and need nothing from the final image but ca-certificates and git.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} GOFLAGS=-buildvcs=false
WORKDIR /src
# Module downloads first: a layer cached while go.mod and the tool pins are
# unchanged.
COPY go.mod go.sum ./
COPY tools/ tools/
RUN go mod download \
 && for t in tools/pulumi tools/pulumi-resource-kubernetes; do (cd $t && go mod download); done
COPY . .
# The Pulumi CLI (~8 min) and the kubernetes provider (~12 min, ~4.5 GB of
# memory) are built from Go modules by the Makefile's own recipes, into a
# cache dir that stays in this (discarded) stage.
ARG GO_BUILD_FLAGS=-trimpath
ARG VERSION=dev
RUN make dist CACHE=/cache DIST=/dist GO_BUILD_FLAGS="$GO_BUILD_FLAGS" VERSION="$VERSION"

# The aws and azure-native providers cannot be built from Go modules (their
# provider modules need generated sources the module zips lack): the tree's
# own pulumi installs Pulumi's released plugins at the versions go.mod's SDKs
# request. It runs on the target platform so it fetches the target's build.
FROM ${BASE_IMAGE} AS plugins
ARG CLOUD_PLUGINS=true
ARG AWS_PLUGIN_SHA256=
ARG AZURE_NATIVE_PLUGIN_SHA256=
COPY --from=build /dist/ /opt/konductor/
COPY Makefile /src/Makefile
RUN if [ "$CLOUD_PLUGINS" = true ]; then \
      apt-get update && apt-get install -y --no-install-recommends ca-certificates make \
      && make -C /src cloud-plugins DIST=/opt/konductor \
           AWS_PLUGIN_SHA256="$AWS_PLUGIN_SHA256" AZURE_NATIVE_PLUGIN_SHA256="$AZURE_NATIVE_PLUGIN_SHA256"; \
    fi

FROM ${BASE_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=
LABEL org.opencontainers.image.title="konductor-action" \
      org.opencontainers.image.description="Preview and deploy Pulumi stacks from configuration, with policy checks and one sticky PR comment" \
      org.opencontainers.image.source="https://github.com/containercraft/konductor-action" \
      org.opencontainers.image.url="https://github.com/containercraft/konductor-action" \
      org.opencontainers.image.documentation="https://github.com/containercraft/konductor-action#readme" \
      org.opencontainers.image.vendor="ContainerCraft" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# git: module metadata reads the checkout's commit. safe.directory: the
# workspace is mounted from the runner and owned by its user, not by root
# (konductor passes it to the git it runs too; this covers any other).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && git config --system --add safe.directory '*'
COPY --from=plugins /opt/konductor/ /opt/konductor/
ENV PATH=/opt/konductor/bin:$PATH \
    PULUMI_SKIP_UPDATE_CHECK=true
# No USER: GitHub's docs require Docker container actions to run as the
# default Docker user (root), or they cannot write GITHUB_WORKSPACE and the
# file commands (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) on runners whose uid is
# not 1001: self-hosted runners, GHES, actions-runner-controller.
# https://docs.github.com/en/actions/reference/workflows-and-actions/dockerfile-support#user
ENTRYPOINT ["/opt/konductor/bin/konductor", "action"]
