# Shell helpers the test scripts share (sourced, not run).

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT PID LOG WHAT TRIES: waits until something listens on
# 127.0.0.1:PORT, trying every 0.1 s TRIES times; fails, showing LOG, if
# process PID exits first or it never does.
wait_for_port() {
  local port=$1 pid=$2 log=$3 what=$4 tries=$5
  for _ in $(seq 1 "$tries"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "$what did not start" >&2; return 1; }
    sleep 0.1
  done
  cat "$log"
  echo "$what did not listen on port $port" >&2
  return 1
}
