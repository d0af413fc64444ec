#!/usr/bin/env bash
# Installs what a fresh Debian machine may lack to build and test Sluice:
# Go modules, PostgreSQL server binaries (initdb, pg_ctl, pgbench), MariaDB
# server binaries (mariadbd, mariadb-install-db), sysbench, kcat (the Kafka
# client the stream tests read with) and nats-server.
set -euo pipefail
pkgs=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then pkgs+=(postgresql); fi
command -v pgbench >/dev/null 2>&1 || pkgs+=(postgresql-contrib)
{ command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } || pkgs+=(mariadb-server)
command -v mariadb-install-db >/dev/null 2>&1 || pkgs+=(mariadb-server)
command -v sysbench >/dev/null 2>&1 || pkgs+=(sysbench)
command -v kcat >/dev/null 2>&1 || pkgs+=(kcat)
{ command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; } || pkgs+=(nats-server)
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "deps: missing ${pkgs[*]}; run as root or: apt-get install ${pkgs[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
if ! id postgres >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi
go mod download
