# syntax=docker/dockerfile:1
#
# Sluice in a container: a static binary on distroless, running as non-root.
#
#   docker build -t sluice --build-arg VERSION=$(git describe --tags --always --dirty) .
#   docker run --rm -v $PWD/sluice.yaml:/etc/sluice/sluice.yaml:ro -v sluice-state:/var/lib/sluice sluice
#
# The config is read from /etc/sluice/sluice.yaml (override with CMD); keep
# checkpoint.path under /var/lib/sluice, the volume, so progress survives a
# new container. See docker-compose.yml and examples/docker/.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sluice ./cmd/sluice \
 && /out/sluice version \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice /sluice
# The state directory belongs to the runtime user, so a new named volume
# mounted there (which copies it) is writable for the checkpoint.
COPY --from=build --chown=65532:65532 /out/state /var/lib/sluice
USER 65532:65532
VOLUME /var/lib/sluice
ENTRYPOINT ["/sluice"]
CMD ["run", "--config", "/etc/sluice/sluice.yaml"]
