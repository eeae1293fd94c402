#!/bin/sh
# 恢复 Linli restore (point in time): restore.sh BASE_BACKUP_DIR WAL_ARCHIVE NEW_DATA_DIR [TARGET_TIME]
# Run as postgres on the host that becomes the primary. Unpacks the base backup into an empty
# NEW_DATA_DIR and sets recovery to replay the archived WAL up to TARGET_TIME (for example
# '2026-12-07 08:15:00+08': just before the mistake) or, without it, to the archive's end; then
# start PostgreSQL on it (pg_ctl -D NEW_DATA_DIR start, or point the service at it). It replays,
# promotes itself and takes writes. Check with `linli ledger verify` before the servers start.
set -eu
base=$1 wal=$2 data=$3 target=${4:-}
[ -f "$base/done" ] || { echo "restore: $base is not a complete base backup" >&2; exit 1; }
mkdir -p "$data"
[ -z "$(ls -A "$data")" ] || { echo "restore: $data is not empty" >&2; exit 1; }
chmod 700 "$data"
cp -a "$base/backup/." "$data/"
{
    echo "restore_command = 'cp $wal/%f %p'"
    echo "recovery_target_action = 'promote'"
    if [ -n "$target" ]; then echo "recovery_target_time = '$target'"; fi
    # the restored server must not archive into the old primary's archive
    echo "archive_mode = off"
} >> "$data/postgresql.auto.conf"
touch "$data/recovery.signal"
echo "restore: $data ready; start PostgreSQL on it"
