# syntax=docker/dockerfile:1
#
# One Dockerfile for docker-compose.yml (and anyone who wants images):
#   target berth     the berth binary (server, worker, migrate) on Debian slim
# The binaries are built as `make build` and `make terraform` build them; the
# berth image carries Terraform 1.5.7 and the coder provider mirror, so the
# worker runs terraform templates offline. Temporal runs from Temporal's own
# images (see docker-compose.yml).

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
    go build -trimpath -tags nomsgpack -o /out/berth ./cmd/berth

# ---- terraform-build: Terraform (tools/terraform) and the coder provider mirror
FROM ${GO_IMAGE} AS terraform-build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src/tools
COPY tools/terraform/go.mod tools/terraform/go.sum terraform/
COPY tools/coderprovider/go.mod tools/coderprovider/go.sum coderprovider/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -C terraform -trimpath -o /out/terraform github.com/hashicorp/terraform && \
    version="$(go list -C coderprovider -m -f '{{.Version}}' github.com/coder/terraform-provider-coder/v2)" && \
    dir="/out/terraform-providers/registry.terraform.io/coder/coder/${version#v}/$(go env GOOS)_$(go env GOARCH)" && \
    mkdir -p "$dir" && \
    go build -C coderprovider -trimpath -o "$dir/terraform-provider-coder_${version}" github.com/coder/terraform-provider-coder/v2

# ---- berth: API server and worker (last, so the default target) ------------
FROM ${RUNTIME_IMAGE} AS berth
# The worker runs provisioners as child processes in per-job directories.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10000 --create-home --home-dir /home/berth berth
COPY --from=build /out/berth /usr/local/bin/berth
COPY --from=terraform-build /out/terraform /usr/local/bin/terraform
COPY --from=terraform-build /out/terraform-providers /opt/berth/terraform-providers
ENV BERTH_TERRAFORM_MIRROR=/opt/berth/terraform-providers
USER berth
WORKDIR /home/berth
EXPOSE 3000
ENTRYPOINT ["berth"]
CMD ["server"]
