#!/bin/sh
# Entry point of the Bouncer image: the first argument picks the service, the rest are its
# arguments (`bounce serve`, `tuxedo migrate`, `sentry daemon --checkall`, ...).
set -eu
service="${1:-}"
case "$service" in
  bounce | tuxedo | sentry)
    shift
    exec "/usr/local/bin/$service" "$@"
    ;;
  *)
    echo "usage: <bounce|tuxedo|sentry> [ARGS...]   (got '${service}')" >&2
    exit 64
    ;;
esac
