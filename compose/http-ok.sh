#!/bin/bash
# http-ok PORT PATH [TOKEN_VARIABLE]: the containers' healthcheck. Exit 0 when 127.0.0.1:PORT answers GET PATH
# with a 2xx status within 2 s; the reason otherwise on stderr (`docker inspect` shows it). Bash alone: a check
# runs every second in every container, and a Python interpreter's start would cost each one ~50 ms of CPU.
set -u
port=$1 path=$2 token_variable=${3:-}
if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
    echo "127.0.0.1:$port refuses connections" >&2
    exit 1
fi
{
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n' "$path"
    if [ -n "$token_variable" ]; then
        printf 'Authorization: Bearer %s\r\n' "${!token_variable:-}"
    fi
    printf '\r\n'
} >&3
if ! read -r -t 2 status <&3; then
    echo "127.0.0.1:$port$path: no answer in 2 s" >&2
    exit 1
fi
case $status in
    "HTTP/1."?" 2"*) exit 0 ;;
esac
echo "127.0.0.1:$port$path: $status" >&2
exit 1
