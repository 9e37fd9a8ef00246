# Shared by benches/callgrind.sh and benches/syscalls.sh (sourced, from the
# repository root): which command runs an echo server, and a free port.

# echo_server_command NAME: sets the array `cmd` to the echo server NAME
# (duplex, fastwebsockets, tungstenite, uws, or the path of a `duplex`
# binary), as benches/run.sh builds them; `--listen ADDR` is appended by the caller.
echo_server_command() {
  case $1 in
    duplex) cmd=(target/release/duplex echo) ;;
    fastwebsockets | tungstenite) cmd=("target/bench-peers/release/$1-echo") ;;
    uws) cmd=(target/bench-peers/uws/uws-echo) ;;
    *) cmd=("$1" echo) ;;
  esac
}

# free_port: prints a free loopback TCP port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_listening PORT TRIES PAUSE: waits until something accepts on PORT.
wait_listening() {
  for _ in $(seq "$2"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep "$3"
  done
  return 1
}
