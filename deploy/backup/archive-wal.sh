#!/bin/sh
# archive_command: archive-wal.sh %p %f ARCHIVE_DIR
# Copies one finished WAL segment into the archive, never over one already there (a segment
# archived twice with other content means two primaries: stop and look). Exit 0 only when the
# copy is on disk; PostgreSQL keeps the segment and tries again otherwise.
set -eu
src=$1 name=$2 archive=$3
dest="$archive/$name"
if [ -f "$dest" ]; then
    cmp -s "$src" "$dest" && exit 0
    echo "archive-wal: $dest exists with other content" >&2
    exit 1
fi
cp "$src" "$dest.tmp"
sync "$dest.tmp" 2>/dev/null || sync
mv "$dest.tmp" "$dest"
