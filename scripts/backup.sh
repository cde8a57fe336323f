#!/usr/bin/env bash
# Back up and restore Colloquy: the PostgreSQL database and the media files, side by side.
#
#   scripts/backup.sh backup DIR            pg_dump of $DATABASE_URL -> DIR/database.dump,
#                                           $MEDIA_ROOT -> DIR/media.tar.gz, DIR/rows.txt
#   scripts/backup.sh restore DIR DB_URL    into an empty database DB_URL (and $MEDIA_ROOT),
#                                           then `manage.py recount --check` and the row
#                                           counts compared with DIR/rows.txt
#
# DATABASE_URL and MEDIA_ROOT as the site's (postgres://user:pass@host:port/name). Uses the
# PostgreSQL client tools (pg_dump, pg_restore, psql) of the server's major version or newer.
# The dump is taken in one snapshot (pg_dump's default): a backup of a live site is consistent.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
media=${MEDIA_ROOT:-$root/var/media}

die() { echo "backup.sh: $*" >&2; exit 1; }

# Row counts of every table of the site's schema, one "table count" per line, sorted.
row_counts() {
  psql "$1" -At -F ' ' -c "SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1" |
    while read -r table; do
      echo "$table $(psql "$1" -At -c "SELECT count(*) FROM \"$table\"")"
    done
}

case ${1:-} in
  backup)
    dir=${2:?usage: backup.sh backup DIR}
    [[ -n ${DATABASE_URL:-} ]] || die "DATABASE_URL is not set"
    mkdir -p "$dir"
    pg_dump --format=custom --no-owner --file="$dir/database.dump" "$DATABASE_URL"
    row_counts "$DATABASE_URL" >"$dir/rows.txt"
    if [[ -d $media ]]; then
      tar -C "$media" -czf "$dir/media.tar.gz" .
    else
      tar -czf "$dir/media.tar.gz" --files-from /dev/null
    fi
    echo "backup.sh: backed up $(wc -l <"$dir/rows.txt") tables and the media to $dir"
    ;;
  restore)
    dir=${2:?usage: backup.sh restore DIR DB_URL}
    target=${3:?usage: backup.sh restore DIR DB_URL}
    [[ -f $dir/database.dump ]] || die "no $dir/database.dump"
    tables=$(psql "$target" -At -c "SELECT count(*) FROM information_schema.tables
        WHERE table_schema = 'public'")
    ((tables == 0)) || die "the target database is not empty ($tables tables)"
    pg_restore --no-owner --exit-on-error --dbname="$target" "$dir/database.dump"
    mkdir -p "$media"
    tar -C "$media" -xzf "$dir/media.tar.gz"
    DATABASE_URL=$target "$python" "$root/manage.py" recount --check
    if ! diff <(row_counts "$target") "$dir/rows.txt"; then
      die "the restored row counts differ from the backup's"
    fi
    echo "backup.sh: restored into $target; counters right, every table's rows as backed up"
    ;;
  *) die "usage: backup.sh backup DIR | restore DIR DB_URL" ;;
esac
