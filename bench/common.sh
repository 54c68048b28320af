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
