# SPDX-License-Identifier: MIT
# The git fixture of the git scenarios (t0840, t0842), sourced after lib.sh:
# a work tree $G on branch main with scripts/process.sh (prints "v1" and
# scripts/data.txt), its first commit $c1, and a bare clone $T/repo.git,
# the jobs' repository, as $url (file://).
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
G=$T/src
git init -q -b main "$G"
mkdir -p "$G/scripts"
printf '#!/bin/sh\necho "v1 $(cat data.txt)"\n' > "$G/scripts/process.sh"
chmod +x "$G/scripts/process.sh"
echo one > "$G/scripts/data.txt"
git -C "$G" add -A && git -C "$G" commit -qm one
c1=$(git -C "$G" rev-parse HEAD)
git clone -q --bare "$G" "$T/repo.git"
url="file://$T/repo.git"
