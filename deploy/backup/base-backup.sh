#!/bin/sh
# 基础备份 Linli base backup: base-backup.sh BACKUP_ROOT [KEEP]
# Runs nightly (cron or a systemd timer) as postgres on the primary or the replica. Makes
# BACKUP_ROOT/base/<UTC time>/backup/ (a copy of the data directory with the WAL it needs, checked
# against its manifest by pg_verifybackup),
# keeps the newest KEEP (default 7) and deletes archived WAL older than the oldest one kept.
# Connection: the usual PG* variables (PGHOST, PGPORT, PGUSER), a role with REPLICATION.
set -eu
root=$1 keep=${2:-7}
dir="$root/base/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dir"
touch "$dir/started"   # WAL archived before this is not needed by this backup
pg_basebackup --pgdata="$dir/backup" --format=plain --wal-method=stream --checkpoint=fast \
    --label="linli $(basename "$dir")" --no-password
pg_verifybackup --quiet "$dir/backup"
touch "$dir/done"
# keep the newest $keep complete backups
ls -1d "$root"/base/*/ | sort -r | while read -r old; do
    [ -f "$old/done" ] || continue
    keep=$((keep - 1))
    if [ "$keep" -lt 0 ]; then rm -rf "$old"; fi
done
oldest=$(ls -1d "$root"/base/*/ | sort | head -n 1)
if [ -d "$root/wal" ] && [ -f "$oldest/started" ]; then
    find "$root/wal" -type f ! -newer "$oldest/started" -delete
fi
echo "base backup: $dir"
