#!/bin/sh
# Runs @SCRIPT@ on the Node runtime unpacked beside it, wherever this folder was put, also when
# started through a symbolic link (readlink -f finds the real place). Nothing here reads the
# system's Node.
set -e
root=$(dirname "$(dirname "$(readlink -f "$0")")")
exec "$root/@NODE@" "$root/@SCRIPT@" "$@"
