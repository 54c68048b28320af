# common.sh — sourced by the bench scripts.

# wait_up PORT: waits until a node on 127.0.0.1:PORT serves /checkpoint
# (polling every 5 ms, so restart times are measured to a few ms); gives up
# after 300 s (a full redb repair of a large log takes over a minute).
wait_up() {
    for _ in $(seq 60000); do
        curl -sf "http://127.0.0.1:$1/checkpoint" >/dev/null && return 0
        sleep 0.005
    done
    return 1
}

# node_up PORT PID LOG: waits until the node started as PID serves on PORT;
# if it exits first, or does not answer within 300 s, prints its log and
# exits the script, so a bench never measures a load against no node.
node_up() {
    for _ in $(seq 60000); do
        curl -sf "http://127.0.0.1:$1/checkpoint" >/dev/null && return 0
        if ! kill -0 "$2" 2>/dev/null; then
            echo "error: the node (pid $2) exited before it served port $1; its log ($3):" >&2
            cat "$3" >&2
            exit 1
        fi
        sleep 0.005
    done
    echo "error: the node (pid $2) did not serve port $1 within 300 s; its log ($3):" >&2
    cat "$3" >&2
    exit 1
}

# pg_database PORT NAME: creates database NAME on the throwaway cluster that
# tests/pg_server.sh started on PORT, and prints the node's --store URL for it.
pg_database() {
    psql -h 127.0.0.1 -p "$1" -U regledger -d postgres -qc "CREATE DATABASE $2" >&2 || return 1
    echo "postgres://regledger@127.0.0.1:$1/$2"
}

# pick_port: a loopback port from 20000–39999 that nothing listens on at this
# moment. The tests take theirs from 10000–32000, so a bench run beside a test
# run (a crash campaign) would otherwise now and then start its node on a
# port already taken, and stop.
pick_port() {
    local p
    for _ in $(seq 100); do
        p=$(( 20000 + RANDOM % 20000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    echo "$p"
}
