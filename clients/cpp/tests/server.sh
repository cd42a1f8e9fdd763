#!/bin/sh
# server.sh start|stop VITRINE DIR: run `vitrine serve` on an ephemeral loopback port with the
# procedural and texture-gan models, its bound port in DIR/port, its pid in DIR/pid.
set -eu
verb=$1 vitrine=$2 dir=$3
case "$verb" in
start)
  rm -rf "$dir" && mkdir -p "$dir"
  "$vitrine" serve --address 127.0.0.1:0 --port-file "$dir/port" --models procedural,texture-gan \
    --data-dir "$dir/data" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  i=0
  while [ ! -s "$dir/port" ]; do
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/log"; exit 1; }
    i=$((i + 1)); [ $i -lt 1200 ] || { echo "no port after 120 s"; exit 1; }
    sleep 0.1
  done
  echo "vitrine serve on port $(cat "$dir/port")";;
stop)
  [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true;;
esac
