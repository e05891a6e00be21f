#!/bin/bash
# SageMaker notebook lifecycle, on start (runs at every start, as root, within 5 minutes).
# 1. Installs the SageMaker SDK the notebooks are written for into the kernel's
#    environment, in the background (nohup: the install can outlast the 5-minute limit),
#    and marks it ready; the notebooks wait for that mark instead of upgrading the SDK
#    inside a running kernel.
# 2. Installs a cron job that stops the instance once Jupyter has been idle for
#    __IDLE_MINUTES__ minutes (0 turns it off), so a forgotten notebook stops billing.
# Cron runs with a minimal PATH, so every program is named by its absolute path, resolved
# here (Amazon Linux 2023 notebook instances: platform notebook-al2023-v1).
set -euo pipefail

IDLE_MINUTES=__IDLE_MINUTES__
SDK_SPEC="__SDK_SPEC__"
BIN_DIR="${BIN_DIR:-/usr/local/bin}"
CRON_DIR="${CRON_DIR:-/etc/cron.d}"
LOG_DIR="${LOG_DIR:-/var/log}"
WORKSHOP_HOME="${WORKSHOP_HOME:-/home/ec2-user/SageMaker}"
KERNEL_PYTHON="${KERNEL_PYTHON:-/home/ec2-user/anaconda3/envs/python3/bin/python}"
PYTHON="${PYTHON:-$(command -v python3)}"
AWS="${AWS:-$(command -v aws || true)}"
SDK_READY="$WORKSHOP_HOME/workshop/.sdk-ready"

if [ -z "$AWS" ] || [ ! -x "$AWS" ]; then
  echo "workshop: no aws CLI found on PATH ($PATH)" >&2
  exit 1
fi

mkdir -p "$(dirname "$SDK_READY")"
rm -f "$SDK_READY"
nohup bash -c "'$KERNEL_PYTHON' -m pip install --quiet '$SDK_SPEC' && echo '$SDK_SPEC' > '$SDK_READY'" \
  >> "$LOG_DIR/workshop-sdk-install.log" 2>&1 &
echo "workshop: installing $SDK_SPEC in the background (log: $LOG_DIR/workshop-sdk-install.log)"

if [ "$IDLE_MINUTES" -le 0 ]; then
  rm -f "$CRON_DIR/workshop-auto-stop"
  echo "workshop: idle auto-stop is off"
  exit 0
fi

cat > "$BIN_DIR/workshop-auto-stop.py" <<'AUTOSTOP'
__AUTO_STOP_PY__
AUTOSTOP
chmod 755 "$BIN_DIR/workshop-auto-stop.py"

echo "*/5 * * * * root $PYTHON $BIN_DIR/workshop-auto-stop.py --idle-minutes $IDLE_MINUTES --aws $AWS >> $LOG_DIR/workshop-auto-stop.log 2>&1" \
  > "$CRON_DIR/workshop-auto-stop"
echo "workshop: the instance stops after $IDLE_MINUTES idle minutes"
