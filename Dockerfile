# syntax=docker/dockerfile:1
#
# One Dockerfile for docker-compose.yml (and anyone who wants images):
#   target berth     the berth binary (server, worker, migrate) on Debian slim
#   target temporal  the pinned Temporal CLI (tools/temporal) for `server start-dev`
# Both binaries are built as `make build` and `make dev` build them.

ARG GO_IMAGE=golang:1.26
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: bin/berth ------------------------------------------------------
FROM ${GO_IMAGE} AS build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -o /out/berth ./cmd/berth

# ---- temporal-build: bin/temporal (~3.5 min cold) --------------------------
FROM ${GO_IMAGE} AS temporal-build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src/tools/temporal
COPY tools/temporal/go.mod tools/temporal/go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    version="$(go list -m -f '{{.Version}}' github.com/temporalio/cli)" && \
    go build -trimpath -ldflags "-X github.com/temporalio/cli/temporalcli.Version=${version#v}" \
        -o /out/temporal github.com/temporalio/cli/cmd/temporal

# ---- temporal: the dev server ----------------------------------------------
FROM ${RUNTIME_IMAGE} AS temporal
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data temporal \
    && mkdir -p /data && chown temporal:temporal /data
COPY --from=temporal-build /out/temporal /usr/local/bin/temporal
USER temporal
WORKDIR /data
EXPOSE 7233
ENTRYPOINT ["temporal"]
CMD ["server", "start-dev", "--ip", "0.0.0.0", "--headless"]

# ---- berth: API server and worker (last, so the default target) ------------
FROM ${RUNTIME_IMAGE} AS berth
# The worker runs provisioners as child processes in per-job directories;
# echo needs nothing, terraform would have to be added to this image.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10000 --create-home --home-dir /home/berth berth
COPY --from=build /out/berth /usr/local/bin/berth
USER berth
WORKDIR /home/berth
EXPOSE 3000
ENTRYPOINT ["berth"]
CMD ["server"]
