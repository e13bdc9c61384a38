#!/bin/sh
# Render a self-contained nginx configuration for bridge.conf: any listen
# address, any list of bridge nodes, every path under one directory. For a
# bare-metal proxy, or a test that puts a real nginx in front of local bridge
# processes:
#
#   deploy/nginx/render.sh -o /tmp/px -l 127.0.0.1:18080 \
#       -u 127.0.0.1:18001 -u 127.0.0.1:18002
#   nginx -p /tmp/px -c /tmp/px/nginx.conf -t                     # check
#   nginx -p /tmp/px -c /tmp/px/nginx.conf -g 'daemon off;'       # run in front
#   nginx -p /tmp/px -c /tmp/px/nginx.conf -s quit                # graceful stop
#
# Writes into OUTDIR: nginx.conf (main context: pid, logs and temp paths in
# OUTDIR), bridge.conf (this directory's, with `listen` and `access_log`
# replaced) and bridge-upstream.conf (one `server` line per -u). Rendering again
# over the same OUTDIR and `nginx -s reload` changes the node list live.
#
# Options:
#   -o DIR        output directory (created)                        required
#   -l [ADDR:]PORT  listen address                                  required
#   -u HOST:PORT  a bridge node; repeat for each node               required
#   -p PARAMS     server parameters for every node
#                 (default "max_fails=1 fail_timeout=10s")
#   -w N          worker processes (default 1)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out='' listen='' params='max_fails=1 fail_timeout=10s' workers=1
servers=$(mktemp)
trap 'rm -f "$servers"' EXIT

usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

while getopts "o:l:u:p:w:h" opt; do
    case $opt in
        o) out=$OPTARG ;;
        l) listen=$OPTARG ;;
        u) case $OPTARG in
               *:[0-9]*) printf '%s\n' "$OPTARG" >>"$servers" ;;
               *) echo "render.sh: -u wants HOST:PORT, got '$OPTARG'" >&2; exit 2 ;;
           esac ;;
        p) params=$OPTARG ;;
        w) workers=$OPTARG ;;
        *) usage ;;
    esac
done
if [ -z "$out" ] || [ -z "$listen" ] || [ ! -s "$servers" ]; then usage; fi

mkdir -p "$out/logs" "$out/temp"
out=$(cd "$out" && pwd)

# bridge.conf with the two deployment-specific lines replaced; fail loudly if
# they are not found exactly once (someone edited bridge.conf).
for pattern in '^    listen 8080;$' '^    access_log /dev/stdout bridge;$'; do
    n=$(grep -c -- "$pattern" "$here/bridge.conf" || true)
    if [ "$n" != 1 ]; then
        echo "render.sh: expected one line matching '$pattern' in bridge.conf, found $n" >&2
        exit 1
    fi
done
sed -e "s|^    listen 8080;\$|    listen $listen;|" \
    -e "s|^    access_log /dev/stdout bridge;\$|    access_log $out/logs/access.log bridge;|" \
    "$here/bridge.conf" >"$out/bridge.conf.tmp"
mv "$out/bridge.conf.tmp" "$out/bridge.conf"

{
    echo "# rendered by deploy/nginx/render.sh"
    while IFS= read -r node; do
        echo "server $node $params;"
    done <"$servers"
} >"$out/bridge-upstream.conf.tmp"
mv "$out/bridge-upstream.conf.tmp" "$out/bridge-upstream.conf"

# Workers of a root master run as `nobody` by default and could not use temp
# paths inside a private (0700) directory; a root test run keeps them as root.
user_line=
if [ "$(id -u)" = 0 ]; then
    user_line="user root;"
fi

cat >"$out/nginx.conf" <<EOF
# rendered by deploy/nginx/render.sh: listen $listen
$user_line
worker_processes $workers;
pid $out/nginx.pid;
error_log $out/logs/error.log notice;

events {
    worker_connections 1024;
}

http {
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65s;
    client_body_temp_path $out/temp/client_body;
    proxy_temp_path $out/temp/proxy;
    fastcgi_temp_path $out/temp/fastcgi;
    uwsgi_temp_path $out/temp/uwsgi;
    scgi_temp_path $out/temp/scgi;

    include $out/bridge.conf;
}
EOF
echo "$out/nginx.conf"
