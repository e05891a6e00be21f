#!/bin/bash
# SageMaker notebook lifecycle, on create (runs once, as root, at most 5 minutes).
# Puts the participant's own settings and the workshop notebooks in place, so that no
# notebook ever has to guess which bucket or endpoint is "theirs".
set -euo pipefail

WORKSHOP_HOME="${WORKSHOP_HOME:-/home/ec2-user/SageMaker}"
WORKSHOP_DIR="$WORKSHOP_HOME/workshop"
mkdir -p "$WORKSHOP_DIR"

cat > "$WORKSHOP_DIR/settings.json" <<'SETTINGS'
__SETTINGS_JSON__
SETTINGS

aws s3 cp --recursive --only-show-errors "__NOTEBOOKS_URI__" "$WORKSHOP_DIR/"

if id ec2-user >/dev/null 2>&1; then
  chown -R ec2-user:ec2-user "$WORKSHOP_DIR"
fi
echo "workshop: settings and notebooks are in $WORKSHOP_DIR"
