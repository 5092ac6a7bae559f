#!/usr/bin/env bash
# poof quick start: install what is missing (rclone, npm packages), build poof, map the given
# directories (default: ~/Documents) to the built-in local-directory "cloud", verify, back up.
# Usage: bash scripts/quickstart.sh [DIR ...]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "poof needs Node.js 20 or newer: https://nodejs.org/ (or: brew install node / apt-get install nodejs)" >&2
  exit 2
fi
if ! command -v rclone >/dev/null 2>&1; then
  echo "installing rclone ..."
  if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq rclone
  elif command -v brew >/dev/null 2>&1; then
    brew install rclone
  else
    echo "please install rclone (https://rclone.org/install/) and run this again" >&2
    exit 6
  fi
fi

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
poof() { node "$PWD/dist/bin/poof.js" "$@"; }

dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=("$HOME/Documents")
maps=()
for dir in "${dirs[@]}"; do
  if [ ! -d "$dir" ]; then
    echo "$dir does not exist: pass the directories to back up, e.g. bash scripts/quickstart.sh ~/Pictures" >&2
    exit 2
  fi
  maps+=(--map "$dir")
done

conf=$(poof paths --json | node -e 'const p=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(p.poofConf + "\n" + p.rcloneConf)')
poof_conf=$(echo "$conf" | sed -n 1p)
rclone_conf=$(echo "$conf" | sed -n 2p)
if [ -f "$poof_conf" ]; then
  echo "using the existing $poof_conf"
else
  poof config "${maps[@]}"
fi
[ -f "$rclone_conf" ] || poof cconfig --provider local
poof verify
poof backup
echo
echo "Done. Run poof as a command with:  npm link   (or: alias poof='node $PWD/dist/bin/poof.js')"
