#!/usr/bin/env bash
# pg_server.sh OWNER_PID — start a throwaway PostgreSQL cluster for tests
# (as bench/pg_hashchain.sh does): initdb into a temp dir, trust auth for
# the user "regledger" on 127.0.0.1, a free-looking loopback port, fsync and
# synchronous_commit on. Prints one line "PORT DIR" and returns; a watchdog
# stops the cluster (and DIR/replica, a standby a test may add) and
# deletes DIR once OWNER_PID (the test process) is
# gone, so a test that panics or is killed leaves nothing running.
# Exit 2 if no PostgreSQL server is installed.
set -euo pipefail
OWNER=${1:?owner pid}
PGBIN=${REGLEDGER_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "no PostgreSQL server (apt-get install postgresql)" >&2; exit 2
fi
RUNAS=()
if [ "$(id -u)" = 0 ]; then RUNAS=(runuser -u postgres --); fi
WORK=$(mktemp -d /tmp/regledger-pg.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
"${RUNAS[@]}" "$PGBIN/initdb" -D "$WORK/db" -U regledger --auth=trust >"$WORK/initdb.log" 2>&1
for _ in 1 2 3 4 5 6 7 8; do
  PORT=$(( 20000 + RANDOM % 30000 ))
  cat >> "$WORK/db/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
fsync = on
synchronous_commit = on
max_connections = 200
shared_buffers = ${PG_SHARED_BUFFERS:-64MB}
CONF
  if "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$WORK/db" -l "$WORK/pg.log" -w -t 30 start >/dev/null 2>&1; then
    break
  fi
  PORT=""
done
if [ -z "$PORT" ]; then
  echo "PostgreSQL did not start: $(tail -5 "$WORK/pg.log")" >&2; rm -rf "$WORK"; exit 1
fi
# The watchdog outlives this script (setsid, no inherited stdout).
setsid bash -c "
  while kill -0 $OWNER 2>/dev/null; do sleep 1; done
  for d in $WORK/db $WORK/replica; do
    [ -d \$d ] && ${RUNAS[*]} $PGBIN/pg_ctl -D \$d -m immediate stop >/dev/null 2>&1
  done
  rm -rf $WORK
" </dev/null >/dev/null 2>&1 &
echo "$PORT $WORK"
