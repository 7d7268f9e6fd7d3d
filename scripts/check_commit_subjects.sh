#!/usr/bin/env bash
# Fails when a commit subject is longer than 72 characters (it no longer fits `git log --oneline`
# and GitHub cuts it); the detail belongs in the body. Commits up to SINCE landed before the rule
# was checked and are left as history.
#
# usage: scripts/check_commit_subjects.sh     exit 0 when every subject fits, 1 otherwise
set -euo pipefail
cd "$(dirname "$0")/.."
SINCE=fa68409
MAX=72
if ! git rev-parse --git-dir >/dev/null 2>&1 || ! git cat-file -e "$SINCE^{commit}" 2>/dev/null; then
  echo "commit subjects: no history to check here (not a clone, or a shallow one)"
  exit 0
fi
long=$(git log --format='%h %s' "$SINCE..HEAD" | awk -v max="$MAX" '{ s = substr($0, index($0, " ") + 1); if (length(s) > max) printf "%s: %d characters: %s\n", $1, length(s), s }')
if [[ -n $long ]]; then
  echo "$long"
  echo "commit subjects: the commits above have subjects over $MAX characters; put the detail in the body"
  exit 1
fi
echo "commit subjects: $(git rev-list --count "$SINCE..HEAD") commit(s) since $SINCE, every subject within $MAX characters"
