#!/bin/bash
# SageMaker notebook lifecycle, on start (runs at every start, as root).
# Installs a cron job that stops the instance once Jupyter has been idle for
# __IDLE_MINUTES__ minutes (0 turns it off), so a forgotten notebook stops billing.
set -euo pipefail

IDLE_MINUTES=__IDLE_MINUTES__
BIN_DIR="${BIN_DIR:-/usr/local/bin}"
CRON_DIR="${CRON_DIR:-/etc/cron.d}"
PYTHON="${PYTHON:-/usr/bin/python3}"

if [ "$IDLE_MINUTES" -le 0 ]; then
  rm -f "$CRON_DIR/workshop-auto-stop"
  echo "workshop: idle auto-stop is off"
  exit 0
fi

cat > "$BIN_DIR/workshop-auto-stop.py" <<'AUTOSTOP'
__AUTO_STOP_PY__
AUTOSTOP
chmod 755 "$BIN_DIR/workshop-auto-stop.py"

echo "*/5 * * * * root $PYTHON $BIN_DIR/workshop-auto-stop.py --idle-minutes $IDLE_MINUTES >> /var/log/workshop-auto-stop.log 2>&1" \
  > "$CRON_DIR/workshop-auto-stop"
echo "workshop: the instance stops after $IDLE_MINUTES idle minutes"
