#!/usr/bin/env bash
# Installs the Bento's Python dependencies in the image (run by the Dockerfile with bash).
set -exuo pipefail

BASEDIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]:-$0}")" &> /dev/null && pwd 2> /dev/null)"
PIP_ARGS=(--no-warn-script-location)
REQUIREMENTS_TXT="$BASEDIR/requirements.txt"
REQUIREMENTS_LOCK="$BASEDIR/requirements.lock.txt"
WHEELS_DIR="$BASEDIR/wheels"
BENTOML_VERSION=${BENTOML_VERSION:-1.1.11}

# Prefer the locked requirements when the Bento has them.
if [ -f "$REQUIREMENTS_LOCK" ]; then
    pip3 install -r "$REQUIREMENTS_LOCK" "${PIP_ARGS[@]}"
elif [ -s "$REQUIREMENTS_TXT" ]; then
    pip3 install -r "$REQUIREMENTS_TXT" "${PIP_ARGS[@]}"
fi

if [ -d "$WHEELS_DIR" ]; then
    pip3 install "$WHEELS_DIR"/*.whl "${PIP_ARGS[@]}"
fi

# BentoML itself, unless the requirements already brought it.
if python3 -c "import bentoml" &> /dev/null; then
    installed=$(python3 -c "import bentoml; print(bentoml.__version__)")
    if [ "$installed" != "$BENTOML_VERSION" ]; then
        echo "WARNING: using BentoML version ${installed}"
    fi
else
    pip3 install bentoml=="$BENTOML_VERSION"
fi
