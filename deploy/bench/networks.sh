#!/usr/bin/env bash
# Prints SQL that makes benchmark mirror 1 (seed_bench's first) a mirror that serves only
# its networks, with N distinct IPv4 /24 blocks none of which holds the benchmark client
# (127.0.0.1), so every request pays the full "is this client in its networks?" question.
#   deploy/bench/networks.sh N > /tmp/nets-N.sql
# Used with ab.sh's SQL_A/SQL_B to compare one catalogue with another on one binary:
#   SQL_A=/tmp/nets-1.sql SQL_B=/tmp/nets-10000.sql deploy/bench/ab.sh DIR DIR 6
set -euo pipefail
n="${1:?usage: networks.sh N}"
echo "INSERT INTO bouncer_mirror_settings (mirror_id, reference, network_mode) VALUES (1, 0, 'only');"
awk -v n="$n" 'BEGIN {
  for (i = 0; i < n; i++) {
    if (i % 1000 == 0) printf "%sINSERT INTO bouncer_mirror_networks (mirror_id, network) VALUES ", (i ? ";\n" : "")
    else printf ", "
    printf "(1, \"10.%d.%d.0/24\")", int(i / 256), i % 256
  }
  print ";"
}'
