#!/usr/bin/env bash
# Ingestion benchmark: CloudTrail read from the trail's S3 bucket (the moto emulator)
# against the same objects read from disk, in the same run, through the same engine
# (`breakglass scan`: the built-in rule pack with eventID dedupe; `breakglass scan sessions`:
# session linking), alternating the two paths run by run.
#
# The objects are the invictus dataset replicated to MEGABYTES of decompressed JSON (default
# 1024), each copy with its own event IDs so dedupe keeps them, named and laid out as
# CloudTrail writes them (AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_
# <region>_<stamp>_<rand>.json.gz, gzip -6), under a temporary directory that is removed
# at the end, as is the emulator this script starts. Nothing is written in the repository.
#
# Reported, per path: MB/s of decompressed CloudTrail per core (CPU time of the breakglass
# process, one scan worker: --jobs 1) and by wall time, the ratio S3/disk, the peak RSS
# (/usr/bin/time) of every run, and the headroom over 1 TB/day (= 11.6 MB/s sustained).
#
# Object size: by default each object is one of the dataset's files (about 66 KB of JSON,
# 7.5 KB gzipped), so the S3 path pays one GET (and, on the emulator, which closes every
# connection, one TCP connection) per 66 KB. OBJECT_MB=N merges consecutive files of a copy
# into objects of about N MB of JSON (a copy's last object takes what is left; at most one
# copy of the dataset, 3.7 MB: OBJECT_MB=4 makes one object per copy), the size CloudTrail
# delivers for a busy account: an
# organisation writing 1 TB a day through 1,000 account-region partitions, one delivery per
# partition every 5 minutes, averages 10^12 / (1,000 x 288) = 3.5 MB per object.
#
# Usage: bench/ingest.sh [MEGABYTES]   (or INGEST_BENCH_MB). RUNS=3 by default.
#        PROFILE=dev bench/ingest.sh  the test profile's binary (dependencies optimised, ours
#                                     not): quicker to build, slower to run.
#        BIN=path/to/breakglass       a binary already built; SESSIONS=0 skips `scan sessions`.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"

TARGET_MB=${1:-${INGEST_BENCH_MB:-1024}}
OBJECT_MB=${OBJECT_MB:-0}
RUNS=${RUNS:-3}
SHARED=${BREAKGLASS_SHARED_DIR:-$ROOT/../shared}
SRC=$SHARED/data/cloudtrail/invictus-aws-dataset/CloudTrail
[ -d "$SRC" ] || { warn "the invictus dataset is absent ($SRC)"; exit 2; }
for tool in gzip perl awk /usr/bin/time; do
  command -v "$tool" >/dev/null || { warn "$tool is required"; exit 2; }
done
ensure_venv
MOTO=$VENV/bin/moto_server
AWS=$VENV/bin/aws

WORK=$(mktemp -d "${TMPDIR:-/tmp}/breakglass-ingest-bench.XXXXXX")
MOTO_PID=
cleanup() {
  if [ -n "$MOTO_PID" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [ -n "${BIN:-}" ]; then
  say "using $BIN as built"
elif [ "${PROFILE:-release}" = dev ]; then
  # The test profile (dependencies optimised, ours not): the binary `cargo test` builds.
  say "building breakglass (test profile)"
  cargo test --quiet --locked --workspace --no-run
  BIN=$ROOT/target/debug/breakglass
else
  say "building breakglass (release)"
  cargo build --quiet --release --locked -p breakglass
  BIN=$ROOT/target/release/breakglass
fi

ACCOUNT=218007301253
say "replicating the dataset to ${TARGET_MB} MB under $WORK, in CloudTrail's key layout"
perl -e '
  use strict; use warnings;
  my ($src, $dst, $target, $acct, $object_mb) = @ARGV;
  my $merge = $object_mb * 1_000_000;
  opendir(my $d, $src) or die "$src: $!";
  my @files = sort grep { /\.json$/ } readdir($d);
  my (%data, $size);
  for my $f (@files) {
    local $/; open(my $in, "<", "$src/$f") or die; $data{$f} = <$in>; $size += length $data{$f};
  }
  my $copies = int(($target * 1_000_000 + $size - 1) / $size);
  for my $c (0 .. $copies - 1) {
    my $hex = sprintf("%08x", $c);
    my $day = 1 + $c % 28;
    my $dir = sprintf("%s/trail/AWSLogs/%s/CloudTrail/us-east-1/2023/07/%02d", $dst, $acct, $day);
    system("mkdir", "-p", $dir) == 0 or die;
    my ($pending, $pending_name) = ("", undef);
    my $flush = sub {
      return unless defined $pending_name;
      open(my $o, ">", "$dir/$pending_name") or die;
      print $o "{\"Records\":[", $pending, "]}"; close $o;
      ($pending, $pending_name) = ("", undef);
    };
    for my $f (@files) {
      # <acct>_CloudTrail_<region>_<stamp>_<rand>.json: the copy number joins the random part.
      (my $name = $f) =~ s/_([A-Za-z0-9]+)\.json$/_${1}c${c}.json/;
      $name =~ s/^\d{12}_/${acct}_/;
      $name =~ s/_20230710T/sprintf("_202307%02dT", $day)/e;
      (my $out = $data{$f}) =~ s/"eventID":"[0-9a-f]{8}/"eventID":"$hex/g;
      if (!$merge) {
        open(my $o, ">", "$dir/$name") or die; print $o $out; close $o;
        next;
      }
      # Merged: the records of consecutive files, in one object named as the first.
      $out =~ s/^\{"Records":\[//; $out =~ s/\]\}\s*$//;
      next if $out eq "";
      $pending .= "," if $pending ne "";
      $pending .= $out;
      $pending_name //= $name;
      $flush->() if length($pending) >= $merge;
    }
    $flush->();
  }
  print STDERR "$copies copies of ", scalar(@files), " objects\n";
' "$SRC" "$WORK" "$TARGET_MB" "$ACCOUNT" "$OBJECT_MB"
BYTES=$(find "$WORK/trail" -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s}')
FILES=$(find "$WORK/trail" -name '*.json' | wc -l)
find "$WORK/trail" -name '*.json' -print0 | xargs -0 -n 500 -P 2 gzip -6
GZBYTES=$(find "$WORK/trail" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
say "$FILES objects: $BYTES bytes of JSON, $GZBYTES bytes gzipped"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENDPOINT=http://127.0.0.1:$PORT
"$MOTO" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN
say "uploading to the emulator's bucket s3://bench-trail ($ENDPOINT)"
"$AWS" --endpoint-url "$ENDPOINT" s3 mb s3://bench-trail >/dev/null
"$AWS" --endpoint-url "$ENDPOINT" s3 cp --recursive --only-show-errors "$WORK/trail" s3://bench-trail/

# one NAME CMD...: runs CMD once (output discarded); prints wall, CPU (user + sys) seconds
# and peak RSS (KB). Fails loudly if the command did not scan.
one() {
  local name=$1; shift
  local status=0
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/stderr" || status=$?
  # scan exits 1 when the built-in rules find something (they do on this dataset).
  if [ "$status" -gt 1 ]; then
    warn "$name failed (exit $status):"; cat "$WORK/stderr" >&2; exit 1
  fi
  local wall user sys kb
  read -r wall user sys kb < <(tail -n 1 "$WORK/time")
  printf '%s %s %s\n' "$wall" "$(awk "BEGIN {print $user + $sys}")" "$kb"
}

S3=(--endpoint-url "$ENDPOINT" --region us-east-1 s3://bench-trail)
declare -A WALL CPU PEAK
record() {  # record KEY wall cpu kb: keeps every run's figures
  WALL[$1]="${WALL[$1]:-} $2"; CPU[$1]="${CPU[$1]:-} $3"
  local p=${PEAK[$1]:-0}; ((${4} > p)) && p=$4; PEAK[$1]=$p
}
say "measuring: $RUNS rounds, each disk then S3, for scan and scan sessions"
for ((i = 1; i <= RUNS; i++)); do
  record scan-disk $(one "scan, disk" "$BIN" scan --jobs 1 --format jsonl --no-progress "$WORK/trail")
  record scan-s3 $(one "scan, S3" "$BIN" scan --jobs 1 --format jsonl --no-progress "${S3[@]}")
  if [ "${SESSIONS:-1}" = 1 ]; then
    record sessions-disk $(one "sessions, disk" "$BIN" scan sessions --jobs 1 --format json --no-progress "$WORK/trail")
    record sessions-s3 $(one "sessions, S3" "$BIN" scan sessions --jobs 1 --format json --no-progress "${S3[@]}")
  fi
  printf '  round %d done\n' "$i" >&2
done
# The S3 scan with both cores, for the peak memory of the parallel reader.
record scan-s3-2 $(one "scan, S3, 2 jobs" "$BIN" scan --jobs 2 --format jsonl --no-progress "${S3[@]}")

median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { awk "BEGIN {printf \"%.0f\", $BYTES / 1000000 / $1}"; }

printf '\nresults: %s MB of decompressed CloudTrail (%s MB gzipped) in %s objects; %s rounds\n' \
  "$((BYTES / 1000000))" "$((GZBYTES / 1000000))" "$FILES" "$RUNS"
printf 'objects: %s KB of JSON each on average (OBJECT_MB=%s)\n' "$((BYTES / FILES / 1000))" "$OBJECT_MB"
printf 'binary: %s (profile %s)\n' "$BIN" "${PROFILE:-release}"
printf 'machine: %s, %s cores; load average (1, 5, 15 min): %s\n' \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-22s %12s %12s %12s\n' "" "MB/s per core" "MB/s (wall)" "peak RSS"
for key in scan-disk scan-s3 sessions-disk sessions-s3 scan-s3-2; do
  [ -n "${CPU[$key]:-}" ] || continue
  c=$(median "${CPU[$key]}"); w=$(median "${WALL[$key]}")
  printf '  %-22s %12s %12s %9.1f MB\n' "$key" "$(mbps "$c")" "$(mbps "$w")" "$(awk "BEGIN {print ${PEAK[$key]}/1024}")"
done
sc=$(median "${CPU[scan-s3]}"); dc=$(median "${CPU[scan-disk]}")
sw=$(median "${WALL[scan-s3]}"); dw=$(median "${WALL[scan-disk]}")
printf '  S3 / disk, scan:       %s by CPU, %s by wall time\n' \
  "$(awk "BEGIN {printf \"%.2f\", $dc / $sc}")" "$(awk "BEGIN {printf \"%.2f\", $dw / $sw}")"
printf '  1 TB/day = 10^12 B / 86,400 s = 11.6 MB/s sustained; S3 scan on one core: %s MB/s = %sx that\n' \
  "$(mbps "$sc")" "$(awk "BEGIN {printf \"%.0f\", $BYTES / 1000000 / $sc / 11.574}")"
