#!/usr/bin/env bash
# Makes sure the real services the tests use are here: PostgreSQL on 127.0.0.1:5432,
# Debian's Alertmanager binary, and Prometheus with promtool. Installs them with apt when run as root on a
# machine without them; otherwise says what is missing (the tests then skip, or fail under CI=true).
set -uo pipefail

as_root() { [ "$(id -u)" = 0 ]; }
apt_updated=
apt_install() {
  as_root || return 1
  [ -n "$apt_updated" ] || { apt-get update -qq && apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "services: installing prometheus-alertmanager"
  apt_install prometheus-alertmanager || echo "services: Alertmanager missing (apt-get install -y prometheus-alertmanager)"
fi

# Debian's prometheus package: promtool checks and unit-tests monitoring/'s alert rules and
# the bake analysis queries; the tests start the prometheus server itself on loopback.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "services: installing prometheus (server and promtool)"
  apt_install prometheus || echo "services: promtool missing (apt-get install -y prometheus)"
fi

# Chromium and its WebDriver run the sandbox page's browser tests (tests/sandbox_page);
# the emoji font makes the screenshots show reactions as people see them.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "services: installing chromium and chromium-driver"
  apt_install chromium chromium-driver fonts-noto-color-emoji \
    || echo "services: Chromium missing (apt-get install -y chromium chromium-driver)"
fi

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "services: installing postgresql"
    apt_install postgresql || echo "services: PostgreSQL missing (apt-get install -y postgresql)"
  fi
  if ls /etc/postgresql/*/main >/dev/null 2>&1 && as_root; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    # Tests connect over TCP as postgres without a password, as on the development machines.
    conf_dir=/etc/postgresql/$version/main
    if ! grep -q "chatops-tests" "$conf_dir/pg_hba.conf" 2>/dev/null; then
      sed -i '1i host all all 127.0.0.1/32 trust # chatops-tests' "$conf_dir/pg_hba.conf"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if pg_up; then echo "services: PostgreSQL ready"; else echo "services: PostgreSQL not reachable on 127.0.0.1:5432"; fi
exit 0
