#!/usr/bin/env bash
# Installs what a fresh Debian machine may lack to build and test Sluice:
# Go modules, and PostgreSQL server binaries (initdb, pg_ctl, pgbench).
set -euo pipefail
need_pg=0
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then need_pg=1; fi
if ! command -v pgbench >/dev/null 2>&1; then need_pg=1; fi
if [ "$need_pg" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then echo "deps: PostgreSQL server binaries missing; run as root or: apt-get install postgresql postgresql-contrib" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi
if ! id postgres >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi
go mod download
