# syntax=docker/dockerfile:1
#
# Sluice in a container: a static binary on distroless, running as non-root.
#
#   docker build -t sluice --build-arg VERSION=$(git describe --tags --always --dirty) .
#   docker run --rm -v $PWD/sluice.yaml:/etc/sluice/sluice.yaml:ro -v sluice-state:/var/lib/sluice sluice
#
# The config is read from /etc/sluice/sluice.yaml (override with CMD); keep
# checkpoint.path under /var/lib/sluice, the volume, so progress survives a
# new container, and set http.listen: 0.0.0.0:9187 for the health check and
# Prometheus. See docker-compose.yml and examples/docker/.

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
# The port examples use for http.listen (/healthz /readyz /metrics /status).
EXPOSE 9187
# Distroless has no shell or curl: the binary probes itself. `sluice health`
# GETs /healthz at the config's http.listen (0.0.0.0 is asked on 127.0.0.1)
# and exits 0 on 200, else 1 saying why. Without http.listen in the config
# the container shows as unhealthy; with another config path, override the
# check (docker run --health-cmd, compose healthcheck:). `--ready` probes
# /readyz instead: unhealthy also while the source or target is unreachable.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/sluice", "health", "--config", "/etc/sluice/sluice.yaml"]
ENTRYPOINT ["/sluice"]
CMD ["run", "--config", "/etc/sluice/sluice.yaml"]
