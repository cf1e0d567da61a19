#!/usr/bin/env bash
# A backup: archive a directory into a dated .tar.gz, printing "N/M files" as it goes.
#
# Monitored with `batchgate run`, which reads that progress line, sends heartbeats with the
# resource use of tar and gzip, and reports the exit code and the last lines of stderr:
#
#   batchgate run --job backup --label host="$(hostname)" \
#       --progress-regex '(?P<done>\d+)/(?P<total>\d+) files' \
#       -- docs/examples/backup.sh /etc /tmp/backups
#
# A crontab line is the same (BATCHGATE_URL set at the top of the crontab).
set -euo pipefail

source_dir=${1:?usage: backup.sh SOURCE_DIR DESTINATION_DIR}
destination=${2:?usage: backup.sh SOURCE_DIR DESTINATION_DIR}
mkdir -p "$destination"

total=$(find "$source_dir" -type f 2>/dev/null | wc -l)
archive="$destination/backup-$(date +%Y%m%dT%H%M%S).tar.gz"

# tar lists each entry it archives (-v, on stdout since the archive is a file); count the
# files, not the directories, and print progress line by line as it happens.
tar -czvf "$archive" -C "$source_dir" . |
    awk -v total="$total" '!/\/$/ { done++; printf "%d/%d files\n", done, total; fflush() }'

echo "archived $total files into $archive ($(du -h "$archive" | cut -f1))"
