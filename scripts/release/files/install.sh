#!/bin/sh
# Installs ssd-server from this unpacked folder as a systemd service: see `bin/ssd-server install
# --help` for the options (a certificate from a CA with --cert/--key, for one). Everything it needs
# is in this folder, so it works on a server without Internet access. Run it as root.
set -e
exec "$(dirname "$0")/bin/ssd-server" install "$@"
