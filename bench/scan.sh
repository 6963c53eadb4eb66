#!/usr/bin/env bash
# Whole-program benchmark of `breakglass scan` on the invictus CloudTrail dataset replicated
# to at least 1 GB (default) under a temporary directory, never inside the repository.
#
# Each copy of the dataset gets its own event IDs (the first 8 hex digits replaced by the
# copy number) so duplicate removal does not collapse the data. Every figure is a ratio
# against a reference measured in the same run:
#   1. built-in rules, one core                  vs  MB/s (target >= 500 MB/s of JSON)
#   2. one pattern, one core                     vs  jq doing the same select (target >= 10x)
#   3. built-in rules on gzip objects, one core  vs  zcat of the same objects (target >= 0.8x)
#   4. built-in rules, two cores                 vs  one core (target >= 1.7x)
#   5. peak memory of every breakglass run                   (target < 200 MB)
#
# Usage: bench/scan.sh [MEGABYTES]   (or SCAN_BENCH_MB; default 1024). RUNS=3 by default.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"

TARGET_MB=${1:-${SCAN_BENCH_MB:-1024}}
RUNS=${RUNS:-3}
SHARED=${BREAKGLASS_SHARED_DIR:-$ROOT/../shared}
SRC=$SHARED/data/cloudtrail/invictus-aws-dataset/CloudTrail
[ -d "$SRC" ] || { warn "the invictus dataset is absent ($SRC)"; exit 2; }
for tool in jq zcat gzip perl awk /usr/bin/time; do
  command -v "$tool" >/dev/null || { warn "$tool is required"; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/breakglass-scan-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say "building breakglass (release)"
cargo build --quiet --release --locked -p breakglass
BIN=$ROOT/target/release/breakglass

say "replicating the dataset to ${TARGET_MB} MB under $WORK"
perl -e '
  use strict; use warnings;
  my ($src, $dst, $target) = @ARGV;
  opendir(my $d, $src) or die "$src: $!";
  my @files = sort grep { /\.json$/ } readdir($d);
  my (%data, $size);
  for my $f (@files) {
    local $/; open(my $in, "<", "$src/$f") or die; $data{$f} = <$in>; $size += length $data{$f};
  }
  my $copies = int(($target * 1_000_000 + $size - 1) / $size);
  for my $c (0 .. $copies - 1) {
    my $hex = sprintf("%08x", $c);
    my $dir = sprintf("%s/plain/AWSLogs/123837392027/CloudTrail/us-east-1/2023/07/%02d/copy%05d",
                      $dst, 1 + $c % 28, $c);
    system("mkdir", "-p", $dir) == 0 or die;
    for my $f (@files) {
      (my $out = $data{$f}) =~ s/"eventID":"[0-9a-f]{8}/"eventID":"$hex/g;
      open(my $o, ">", "$dir/$f") or die; print $o $out; close $o;
    }
  }
  print STDERR "$copies copies of ", scalar(@files), " objects\n";
' "$SRC" "$WORK" "$TARGET_MB"
BYTES=$(find "$WORK/plain" -name '*.json' -printf '%s\n' | awk '{s+=$1} END {print s}')
FILES=$(find "$WORK/plain" -name '*.json' | wc -l)
say "$FILES objects, $BYTES bytes of JSON"

say "gzipping a copy (gzip -6, as CloudTrail delivers)"
cp -r "$WORK/plain" "$WORK/gz"
find "$WORK/gz" -name '*.json' -print0 | xargs -0 -n 500 -P 2 gzip -6

# time_runs NAME CMD...: runs CMD $RUNS times (output discarded); prints the median wall
# seconds, the median CPU seconds (user + sys) and the largest peak RSS (KB). On a shared
# machine the CPU figures show what the program costs; wall figures show what you wait.
time_runs() {
  local name=$1; shift
  local walls=() cpus=() peak=0 i wall user sys kb
  for ((i = 0; i < RUNS; i++)); do
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || true
    read -r wall user sys kb < <(tail -n 1 "$WORK/time")
    walls+=("$wall")
    cpus+=("$(awk "BEGIN {print $user + $sys}")")
    ((kb > peak)) && peak=$kb
  done
  local mw mc
  mw=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  mc=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%s %s %s\n' "$mw" "$mc" "$peak"
  printf '  %-34s wall %6.2f s  cpu %6.2f s  peak %6.1f MB\n' "$name" "$mw" "$mc" "$(awk "BEGIN {print $peak/1024}")" >&2
}

PATTERN='{ $.eventName = "AssumeRole" && $.requestParameters.roleArn = "*stratus*" }'
JQ='.Records[] | select(.eventName == "AssumeRole" and ((.requestParameters.roleArn // "") | contains("stratus")))'

say "measuring ($RUNS runs each)"
read -r scan1 scan1c mem1 < <(time_runs "scan, built-in rules, 1 core" "$BIN" scan --jobs 1 --format jsonl --no-progress "$WORK/plain")
read -r scan2 scan2c mem2 < <(time_runs "scan, built-in rules, 2 cores" "$BIN" scan --jobs 2 --format jsonl --no-progress "$WORK/plain")
read -r match1 match1c mem3 < <(time_runs "trail match, 1 core" "$BIN" trail match --jobs 1 --no-progress --pattern "$PATTERN" "$WORK/plain")
read -r jq1 jq1c _ < <(time_runs "jq, same select" sh -c "find '$WORK/plain' -name '*.json' -print0 | xargs -0 jq -c '$JQ'")
read -r gz1 gz1c mem4 < <(time_runs "scan gzip, built-in rules, 1 core" "$BIN" scan --jobs 1 --format jsonl --no-progress "$WORK/gz")
read -r zcat1 zcat1c _ < <(time_runs "zcat of the same objects" sh -c "find '$WORK/gz' -name '*.gz' -print0 | xargs -0 zcat")

mbps() { awk "BEGIN {printf \"%.0f\", $BYTES / 1000000 / $1}"; }
ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
peak=$(printf '%s\n' "$mem1" "$mem2" "$mem3" "$mem4" | sort -n | tail -1)
printf '\nresults (%s MB of JSON in %s objects; load average %s):\n' "$((BYTES / 1000000))" "$FILES" "$(cut -d' ' -f1 /proc/loadavg)"
printf '                              by wall time        by CPU time       target\n'
printf '  built-in rules, 1 core      %6s MB/s         %6s MB/s       >= 500 MB/s\n' "$(mbps "$scan1")" "$(mbps "$scan1c")"
printf '  one pattern vs jq           %6sx              %6sx            >= 10x\n' "$(ratio "$jq1" "$match1")" "$(ratio "$jq1c" "$match1c")"
printf '  gzip scan vs zcat           %6sx              %6sx            >= 0.8x\n' "$(ratio "$zcat1" "$gz1")" "$(ratio "$zcat1c" "$gz1c")"
printf '  2 cores vs 1 core           %6sx         (CPU %sx of 1 core) >= 1.7x\n' "$(ratio "$scan1" "$scan2")" "$(ratio "$scan2c" "$scan1c")"
printf '  peak memory                 %6.1f MB                              < 200 MB\n' "$(awk "BEGIN {print $peak/1024}")"
