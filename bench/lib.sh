# bench/lib.sh - the measuring machinery every bench/ script shares, by
# the method of shared/ANCHORS.md (wrk -t1 -c32 -d10s --latency, warm-up,
# medians of runs; servers pinned to one core, wrk to the other; server
# µs/request from /proc/stat).  Sourced by bench/run (auth, route),
# bench/cache and bench/limit after they set BENCH_NAME.
#
# A suite script: sets BENCH_NAME (and BENCH_EXTRA_PKGS), sources this file,
# calls check_tools, builds with build_tree, writes and starts its servers
# (start_server ... adds them to SERVER_PIDS so cleanup stops them), sets
# INST_URL[x] / INST_PID[x] per measured httpd, defines ROWS as
#   "id|label|instance|path|expected status|wrk args (eval'd)"
# and calls measure_rows with them, then prints with the helpers below.
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_CONNS=${BENCH_CONNS:-32}
BENCH_TOKENS=${BENCH_TOKENS:-200000}
BENCH_SERVER_CPU=${BENCH_SERVER_CPU:-0}
BENCH_CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
BENCH_ROWS=${BENCH_ROWS:-all}
BENCH_PERF=${BENCH_PERF:-0}
BENCH_PERF_SECONDS=${BENCH_PERF_SECONDS:-6}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_QUIET_PCT=${BENCH_QUIET_PCT:-5}
BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-900}
BENCH_FOREIGN_MAX=${BENCH_FOREIGN_MAX:-3}
BENCH_RETRIES=${BENCH_RETRIES:-3}
RETRIES=0
BENCH_NO_BUILD=${BENCH_NO_BUILD:-0}
BENCH_PAIRS=${BENCH_PAIRS:-60}
BENCH_PAIR_SECONDS=${BENCH_PAIR_SECONDS:-1}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NPORT=""     # the nginx upstream with stub_status, when the suite runs one
REPO=$(cd "$BENCH_DIR/.." && pwd)
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}

say()  { printf '%s\n' "bench: $*" >&2; }
die()  { printf '%s\n' "bench: error: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

for v in BENCH_SECONDS BENCH_RUNS BENCH_WARMUP BENCH_CONNS BENCH_TOKENS \
         BENCH_SERVER_CPU BENCH_CLIENT_CPU BENCH_PERF_SECONDS BENCH_QUIET_PCT BENCH_QUIET_WAIT BENCH_FOREIGN_MAX BENCH_RETRIES \
         BENCH_PAIRS BENCH_PAIR_SECONDS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( BENCH_SECONDS >= 1 && BENCH_RUNS >= 1 && BENCH_CONNS >= 1 \
   && BENCH_TOKENS >= 1 )) || die "BENCH_SECONDS, BENCH_RUNS, BENCH_CONNS and BENCH_TOKENS must be >= 1"

# ---- tools ------------------------------------------------------------------
PYTHON=""
find_python() {
    local p
    PYTHON=""
    for p in python3 /usr/bin/python3; do
        if have "$p" && "$p" -c 'import cryptography.hazmat.primitives.asymmetric.ec' 2>/dev/null; then
            PYTHON=$(command -v "$p"); return 0
        fi
    done
    return 1
}

SUDO=""
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif have sudo && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1; fi
}

install_packages() {
    (( $# )) || return 0
    say "installing missing packages: $*"
    if [ "$(id -u)" != 0 ] && ! { have sudo && sudo -n true 2>/dev/null; }; then
        die "missing: $* (run as root or with passwordless sudo, or apt-get install them)"
    fi
    # Installing apache2 and nginx starts both system services on port 80,
    # and the second then fails its postinst.  We never use those services:
    # keep them from starting for the length of the install.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && made_policy=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 \
        || { (( made_policy )) && as_root rm -f "$policy"; die "apt-get install $* failed"; }
    (( made_policy )) && as_root rm -f "$policy"
    return 0
}


# The suite may override need_build (e.g. when given a prebuilt .so).
need_build() { [ "$BENCH_NO_BUILD" != 1 ]; }

# The suite's own tools beyond the common ones, as "command:package"
# (e.g. "memcached:memcached"); check_tools installs the missing ones.
BENCH_EXTRA_TOOLS=${BENCH_EXTRA_TOOLS:-}
check_tools() {
    local pkgs=()
    have apache2 || pkgs+=(apache2)
    have nginx   || pkgs+=(nginx-light)
    have wrk     || pkgs+=(wrk)
    have taskset || pkgs+=(util-linux)
    have curl    || pkgs+=(curl)
    find_python  || pkgs+=(python3 python3-cryptography)
    if [ "$BENCH_PERF" = 1 ] && ! have perf; then pkgs+=(linux-perf); fi
    local t
    for t in $BENCH_EXTRA_TOOLS; do
        have "${t%%:*}" || [ -e "${t%%:*}" ] || pkgs+=("${t#*:}")
    done
    if need_build; then
        have gcc        || pkgs+=(gcc libc6-dev)
        have make       || pkgs+=(make)
        have autoreconf || pkgs+=(autoconf)
        have aclocal    || pkgs+=(automake)
        have pkg-config || pkgs+=(pkg-config)
        have apxs || have apxs2 || pkgs+=(apache2-dev)
        if have pkg-config; then
            pkg-config --exists json-c        || pkgs+=(libjson-c-dev)
            pkg-config --exists libcrypto     || pkgs+=(libssl-dev)
            pkg-config --exists libmemcached  || pkgs+=(libmemcached-dev)
        else
            pkgs+=(libjson-c-dev libssl-dev libmemcached-dev)
        fi
    fi
    install_packages "${pkgs[@]}"
    find_python || die "python3 with the cryptography module is needed (apt-get install python3-cryptography)"
    have apache2 && have nginx && have wrk && have taskset && have curl \
        || die "apache2, nginx, wrk, taskset and curl are needed"
    for t in $BENCH_EXTRA_TOOLS; do
        have "${t%%:*}" || [ -e "${t%%:*}" ] || die "${t%%:*} is needed (apt-get install ${t#*:})"
    done
}


NPROC=$(nproc)
for c in "$BENCH_SERVER_CPU" "$BENCH_CLIENT_CPU"; do
    [ -d "/sys/devices/system/cpu/cpu$c" ] || die "cpu$c does not exist (nproc $NPROC); set BENCH_SERVER_CPU / BENCH_CLIENT_CPU"
done
[ "$BENCH_SERVER_CPU" != "$BENCH_CLIENT_CPU" ] \
    || say "warning: servers and wrk share cpu$BENCH_SERVER_CPU: rows are not comparable with shared/ANCHORS.md"

# ---- temp dir and clean-up ---------------------------------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/vip-bench.XXXXXX")
chmod 755 "$T"          # httpd and nginx workers (www-data / nobody) read from it
SERVER_PIDS=()          # parents we started; their children are found at stop time
WRK_PID=""

stop_pid() {            # TERM, wait up to 10 s, then KILL the pid and its children
    local pid=$1 kids i
    kill -0 "$pid" 2>/dev/null || return 0
    kids=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' | tr '\n' ' ' || true)
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid did not stop on TERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for i in $kids; do
        if kill -0 "$i" 2>/dev/null; then
            sleep 1
            kill -0 "$i" 2>/dev/null && { say "killing leftover child $i"; kill -KILL "$i" 2>/dev/null || true; }
        fi
    done
}

cleanup() {
    local rc=$? i
    set +e
    trap - EXIT INT TERM
    [ -n "$WRK_PID" ] && kill -TERM "$WRK_PID" 2>/dev/null
    for (( i=${#SERVER_PIDS[@]}-1; i>=0; i-- )); do
        stop_pid "${SERVER_PIDS[$i]}"
    done
    if [ "$BENCH_KEEP" = 1 ]; then
        say "kept $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---- building the tree -----------------------------------------------------------
# build_tree: make in the tree unless BENCH_NO_BUILD=1; sets BUILD_NOTE.  A
# failed build while an .so exists measures that .so and says so.
BUILD_NOTE=""
build_tree() {
    if ! need_build; then
        BUILD_NOTE="taken as built (BENCH_NO_BUILD=1)"
        return 0
    fi
    say "building the modules in $REPO (log: build.log in the temp dir)"
    if ( cd "$REPO"
         if [ ! -x configure ] || [ ! -f Makefile ] || [ configure.ac -nt configure ]; then
             autoreconf -fi && ./configure
         fi
         make ) > "$T/build.log" 2>&1; then
        BUILD_NOTE="built with make in the tree"
    else
        tail -n 20 "$T/build.log" >&2
        say "warning: the build failed (someone may be mid-edit); measuring the .so files already in the tree"
        BUILD_NOTE="make FAILED; measured the .so files already in the tree"
    fi
}
# copy_module x: a private copy of mod_vip_x.so in $T, so a rebuild during
# the run cannot change what is measured.
copy_module() {
    local so=$REPO/mod_vip_$1/mod_vip_$1.so
    [ -f "$so" ] || die "$so is not built"
    cp "$so" "$T/mod_vip_$1.so"
}

MODDIR=""
find_moddir() {
    local a
    for a in apxs apxs2; do
        if have "$a"; then MODDIR=$("$a" -q LIBEXECDIR 2>/dev/null || true); break; fi
    done
    [ -n "$MODDIR" ] && [ -f "$MODDIR/mod_proxy.so" ] || MODDIR=/usr/lib/apache2/modules
    for a in "$@"; do
        [ -f "$MODDIR/mod_$a.so" ] || die "$MODDIR/mod_$a.so is missing"
    done
}

# httpd's User/Group lines when we run as root.
httpd_user() {
    if [ "$(id -u)" = 0 ]; then
        if id www-data >/dev/null 2>&1; then printf 'User www-data\nGroup www-data\n'
        else printf 'User nobody\nGroup nogroup\n'; fi
    fi
}

# The serving part every bench httpd shares: one child of 64 threads (one
# process for perf to follow, threads for wrk's connections), keep-alive
# without limits, and no .htaccess lookups in any directory, as Debian's
# apache2.conf has it (httpd would otherwise try one in every directory
# above the document root, an openat() each per request).  The document
# root is $T/htdocs.
httpd_serving() {
    cat <<EOF
StartServers 1
ServerLimit 1
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 1
MaxSpareThreads 64
MaxConnectionsPerChild 0
KeepAlive On
KeepAliveTimeout 30
MaxKeepAliveRequests 0
Timeout 30
DocumentRoot "$T/htdocs"
<Directory "/">
    AllowOverride None
</Directory>
EOF
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# free_ports N: N distinct free ports, one a line.
free_ports() {
    "$PYTHON" -c 'import socket,sys
socks=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1",0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

wait_port() {   # port what
    local i
    for i in $(seq 1 100); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    die "$2 did not answer on port $1 (logs in $T; BENCH_KEEP=1 keeps them)"
}

# start_server name cmd...: on the server core, in the background; its pid
# goes to SERVER_PIDS (cleanup stops it) and to LAST_PID.
LAST_PID=""
start_server() {
    local name=$1; shift
    taskset -c "$BENCH_SERVER_CPU" "$@" > "$T/$name.stdout.log" 2>&1 &
    LAST_PID=$!
    SERVER_PIDS+=("$LAST_PID")
}

child_of() { ps -o pid= --ppid "$1" | tr -d ' ' | head -n1; }

# ---- pre-flight: every row answers what it should -----------------------------
check() {       # name expected-status url [curl args...]
    local name=$1 want=$2 url=$3 got; shift 3
    got=$(curl -s -o "$T/check.body" -D "$T/check.head" -w '%{http_code}' --max-time 5 "$@" "$url" || true)
    if [ "$got" != "$want" ]; then
        say "pre-flight '$name': got HTTP $got, want $want"
        sed 's/^/  /' "$T/check.head" "$T/check.body" >&2 || true
        tail -n 5 "$T"/httpd-*/error.log >&2 || true
        die "pre-flight failed: nothing would be measured correctly"
    fi
}

# ---- measuring ---------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
cpu_jiffies() {         # prints "busy total user+nice+system" for cpu N from /proc/stat
    awk -v c="cpu$1" '$1 == c { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6, $2 + $3 + $4 }' /proc/stat
}
server_pid_list() {     # the server processes we started, parents and children
    local t
    for t in "${SERVER_PIDS[@]}"; do echo "$t"; ps -o pid= --ppid "$t"; done | tr -d ' ' | tr '\n' ' '
}
server_ticks() {        # user+system ticks of the given parents (default: every server we started) and their children
    local p s=0 t
    (( $# )) || set -- "${SERVER_PIDS[@]}"
    for p in $( { for t in "$@"; do echo "$t"; ps -o pid= --ppid "$t"; done; } | tr -d ' ' ); do
        t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) && s=$(( s + ${t:-0} ))
    done
    echo "$s"
}
# Other people's processes (builds, fuzzers, tests) on the cores skew every
# row.  Before each row, wait until both cores are nearly idle.
QUIET_WAITED=0
quiet_wait() {
    local a0 a1 b0 b1 x pa pb waited=0
    while :; do
        read -r a0 x x < <(cpu_jiffies "$BENCH_SERVER_CPU"); read -r b0 x x < <(cpu_jiffies "$BENCH_CLIENT_CPU")
        sleep 1
        read -r a1 x x < <(cpu_jiffies "$BENCH_SERVER_CPU"); read -r b1 x x < <(cpu_jiffies "$BENCH_CLIENT_CPU")
        pa=$(( (a1 - a0) * 100 / HZ )) pb=$(( (b1 - b0) * 100 / HZ ))
        (( pa <= BENCH_QUIET_PCT && pb <= BENCH_QUIET_PCT )) && break
        if (( QUIET_WAITED >= BENCH_QUIET_WAIT )); then
            say "  warning: cores still busy (cpu$BENCH_SERVER_CPU $pa%, cpu$BENCH_CLIENT_CPU $pb%) after waiting ${QUIET_WAITED}s in all; measuring anyway"
            break
        fi
        (( waited % 30 == 0 )) && say "  waiting for quiet cores (cpu$BENCH_SERVER_CPU $pa%, cpu$BENCH_CLIENT_CPU $pb% busy; others by lifetime %cpu: $(ps -eo pid=,pcpu=,comm= --sort=-pcpu | awk -v ours=" $(server_pid_list) $$ " 'index(ours, " " $1 " ") == 0' | head -n 3 | awk '{ printf "%s %s%% ", $3, $2 }'))"
        sleep 4
        waited=$(( waited + 5 )) QUIET_WAITED=$(( QUIET_WAITED + 5 ))
    done
}
nginx_counts() {        # prints "accepts requests" of the upstream; each call adds one of each
    [ -n "$NPORT" ] || { echo "0 0"; return; }
    curl -s --max-time 2 "http://127.0.0.1:$NPORT/nginx_status" | awk 'NR == 3 { print $1, $3 }'
}
to_ms() {               # wrk latency value (e.g. 812.00us, 2.21ms, 1.02s) to ms
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# wrk_run OUT SECONDS URL [wrk args...]: wrk pinned to the client core, bounded in time
# wrk's own CPU time goes to $out.times (children's user and system time from
# the shell's `times`), so the load of other processes on the wrk core shows.
cat > "$T/wrk-run.sh" <<'EOF2'
#!/bin/bash
out=$1; shift
wrk "$@" > "$out" 2>&1; rc=$?
times > "$out.times"     # not in a pipeline: a subshell would report no children
exit $rc
EOF2
chmod 755 "$T/wrk-run.sh"
wrk_ticks() {           # wrk's user+system time of a finished run, in clock ticks
    awk -v hz="$HZ" 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] }
        printf "%d\n", n * hz + 0.5 }' "$1.times" 2>/dev/null || echo 0
}
wrk_run() {
    local out=$1 secs=$2 url=$3; shift 3
    taskset -c "$BENCH_CLIENT_CPU" timeout -k 5 $(( secs + 60 )) \
        "$T/wrk-run.sh" "$out" -t1 -c"$BENCH_CONNS" -d"${secs}s" --latency "$url" "$@" &
    WRK_PID=$!
    wait "$WRK_PID" || { WRK_PID=""; cat "$out" >&2; die "wrk failed for $url"; }
    WRK_PID=""
}
wrk_rps()    { awk '/^Requests\/sec/ { print $2 }' "$1"; }     # of a finished wrk run
wrk_non2xx() { awk '/Non-2xx or 3xx responses/ { n = $NF } END { print n + 0 }' "$1"; }


# Instances: INST_URL[x] (http://127.0.0.1:port) and INST_PID[x] (httpd parent).
declare -A INST_URL INST_PID
# The rows a suite always runs (its baselines), besides BENCH_ROWS.
BENCH_BASE_ROWS=${BENCH_BASE_ROWS:-plain}
row_wanted() {
    [ "$BENCH_ROWS" = all ] && return 0
    [[ " $BENCH_BASE_ROWS " == *" $1 "* ]] && return 0
    [[ " $BENCH_ROWS " == *" $1 "* ]]
}


declare -A R_USH R_CBUSY R_USP R_FGN R_RPS R_P99 R_US R_BUSY R_RUNS R_NON2XX R_ERR R_UPSTREAM R_LABEL R_INST R_WANT
ORDER=()
STAMP=$(date '+%Y-%m-%d-%H%M')
PERF_DIR=""
if [ "$BENCH_PERF" = 1 ]; then
    have perf || die "BENCH_PERF=1 needs perf (apt-get install linux-perf)"
    PERF_DIR=$BENCH_RESULTS/perf-$STAMP
    mkdir -p "$PERF_DIR"
fi

perf_row() {            # id url args...: one extra profiled run of the httpd child, with call graphs
    local id=$1 url=$2 pid child rep; shift 2
    pid=${INST_PID[${R_INST[$id]}]}
    child=$(child_of "$pid")
    taskset -c "$BENCH_CLIENT_CPU" timeout -k 5 $(( BENCH_PERF_SECONDS + 60 )) \
        wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_PERF_SECONDS}s" "$url" "$@" > "$T/wrk/$id-perf.txt" 2>&1 &
    WRK_PID=$!
    sleep 1
    timeout $(( BENCH_PERF_SECONDS + 30 )) perf record -q -F 499 --call-graph dwarf,16384 -p "$child" \
        -o "$T/$id.perf.data" -- sleep $(( BENCH_PERF_SECONDS - 2 )) > /dev/null 2>&1 || true
    wait "$WRK_PID" || true
    WRK_PID=""
    rep="perf report -i $T/$id.perf.data --stdio"
    (   set +e +o pipefail     # head closes the pipes early
        echo "# perf record -F 499 --call-graph dwarf -p <httpd child> during wrk -t1 -c$BENCH_CONNS ${BENCH_PERF_SECONDS}s,"
        echo "# row $id: ${R_LABEL[$id]}; req/s while profiled: $(wrk_rps "$T/wrk/$id-perf.txt")"
        echo "# Percentages are of the httpd child's CPU samples (cpu-clock; no PMU in this VM)."
        echo
        echo "## self time by shared object"
        $rep --no-children -g none --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 14
        echo
        echo "## inclusive time (children) of request phases and of mod_vip_auth and what it calls"
        $rep --children --sort symbol -g none --percent-limit 0.2 2>/dev/null | grep -v '^#' | grep -v '^$' \
            | grep -E '\] (vip_|by_token|by_key|segment_json|header_rules|verify_pkey|ecdsa_raw|EVP_|json_|RSA_|BN_mod_exp|ECDSA|ossl_ec|SHA256|ap_run_check_user_id|ap_run_post_read_request|ap_run_fixups|ap_process_request_internal|ap_run_handler|ap_run_insert_error_filter|proxy_run_scheme_handler|ap_proxy_pass_brigade|apr_table_|malloc|free|apr_palloc|__GI___lll_lock_wait)' \
            | head -n 60
        echo
        echo "## self time by symbol (>= 0.7%)"
        $rep --no-children -g none --sort dso,symbol --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 40
    ) > "$PERF_DIR/$id.txt"
    say "  perf profile: ${PERF_DIR#$REPO/}/$id.txt"
}

# Rows are measured interleaved: every row gets its warm-up, then run 1 of
# every row, run 2 of every row, and so on.  On a VM whose speed drifts by
# several per cent over minutes, rows compared with each other then see the
# same conditions, which one row after another did not.
declare -A A_URL A_HPID A_ARGS A_RPS A_P99 A_US A_BUSY A_USP A_USH A_FGN A_CBUSY A_RUNS A_NON2XX A_ERR A_UPC A_UPR
row_begin() {           # spec: registers the row and warms it up; 1 if not wanted
    local spec=$1 id label inst path want args url
    IFS='|' read -r id label inst path want args <<< "$spec"
    row_wanted "$id" || return 1
    url=${INST_URL[$inst]}$path
    R_LABEL[$id]=$label R_INST[$id]=$inst R_WANT[$id]=$want
    A_URL[$id]=$url A_HPID[$id]=${INST_PID[$inst]} A_ARGS[$id]=$args
    A_RPS[$id]="" A_P99[$id]="" A_US[$id]="" A_BUSY[$id]="" A_USP[$id]="" A_USH[$id]="" A_FGN[$id]="" A_CBUSY[$id]="" A_RUNS[$id]=""
    A_NON2XX[$id]=0 A_ERR[$id]=0 A_UPC[$id]=0 A_UPR[$id]=0
    ORDER+=("$id")
    local START=0
    local -a wargs=()
    eval "wargs=($args)"
    say "row $id: $label"
    quiet_wait
    wrk_run "$T/wrk/$id-warmup.txt" "$BENCH_WARMUP" "$url" "${wargs[@]}"
    return 0
}

row_run() {             # id r: measured run r of row id
    local id=$1 r=$2 url=${A_URL[$1]} hpid=${A_HPID[$1]} args=${A_ARGS[$1]} out rps p99 reqs non2xx err
    local b0 t0 b1 t1 busy us share n0 n1 u0 u1 s0 s1 usp fgn c0 c1 ct0 ct1 cu0 cu1 cshare cfgn attempt h0 h1 ush
    local START=$(( r * BENCH_TOKENS / (BENCH_RUNS + 1) ))    # token-file offset (bench/run)
    local -a wargs=()
    eval "wargs=($args)"
    out=$T/wrk/$id-$r.txt
    attempt=0
    quiet_wait
    read -r n0 < <(nginx_counts | tr ' ' ':')
    while :; do
        h0=$(server_ticks "$hpid"); s0=$(server_ticks); read -r b0 t0 u0 < <(cpu_jiffies "$BENCH_SERVER_CPU")
        read -r c0 ct0 cu0 < <(cpu_jiffies "$BENCH_CLIENT_CPU")
        wrk_run "$out" "$BENCH_SECONDS" "$url" "${wargs[@]}"
        read -r c1 ct1 cu1 < <(cpu_jiffies "$BENCH_CLIENT_CPU")
        read -r b1 t1 u1 < <(cpu_jiffies "$BENCH_SERVER_CPU"); s1=$(server_ticks); h1=$(server_ticks "$hpid")
        # The share of each core that went to processes that are not ours
        # (other sessions' builds and tests): busy time minus our processes'
        # time, which includes the softirq work done in their context.
        fgn=$(awk -v u="$(( b1 - b0 ))" -v s="$(( s1 - s0 ))" -v t="$(( t1 - t0 ))" 'BEGIN { f = t ? 100 * (u - s) / t : 0; printf "%.1f", f < 0 ? 0 : f }')
        cfgn=$(awk -v u="$(( c1 - c0 ))" -v s="$(wrk_ticks "$out")" -v t="$(( ct1 - ct0 ))" 'BEGIN { f = t ? 100 * (u - s) / t : 0; printf "%.1f", f < 0 ? 0 : f }')
        if awk -v f="$fgn" -v g="$cfgn" -v m="$BENCH_FOREIGN_MAX" 'BEGIN { exit !(f <= m && g <= m) }' || (( attempt >= BENCH_RETRIES )); then
            break
        fi
        attempt=$(( attempt + 1 )) RETRIES=$(( RETRIES + 1 ))
        say "  $id run $r: foreign load $fgn% on cpu$BENCH_SERVER_CPU, $cfgn% on cpu$BENCH_CLIENT_CPU (> $BENCH_FOREIGN_MAX%): discarded, repeating ($attempt/$BENCH_RETRIES)"
        quiet_wait
    done
    read -r n1 < <(nginx_counts | tr ' ' ':')
    # Upstream connections opened vs requests during the kept run (each
    # status request counts one of each): proves reuse.
    A_UPC[$id]=$(awk -v a="$n0" -v b="$n1" -v s="${A_UPC[$id]}" 'BEGIN { split(a, x, ":"); split(b, y, ":"); print s + y[1] - x[1] - 1 }')
    A_UPR[$id]=$(awk -v a="$n0" -v b="$n1" -v s="${A_UPR[$id]}" 'BEGIN { split(a, x, ":"); split(b, y, ":"); print s + y[2] - x[2] - 1 }')
    rps=$(wrk_rps "$out")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    non2xx=$(wrk_non2xx "$out")
    err=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out"); err=${err:-0}
    busy=$(( b1 - b0 ))
    us=$(awk -v b="$busy" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.1f", n ? b * 1e6 / hz / n : 0 }')
    share=$(awk -v b="$busy" -v t="$(( t1 - t0 ))" 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')
    cshare=$(awk -v b="$(( c1 - c0 ))" -v t="$(( ct1 - ct0 ))" 'BEGIN { printf "%.0f", t ? 100 * b / t : 0 }')
    # The server processes' own user+system time per request.
    usp=$(awk -v b="$(( s1 - s0 ))" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.1f", n ? b * 1e6 / hz / n : 0 }')
    ush=$(awk -v b="$(( h1 - h0 ))" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.1f", n ? b * 1e6 / hz / n : 0 }')
    say "  $id run $r: $rps req/s, p99 $p99 ms, $us µs/req on cpu$BENCH_SERVER_CPU (busy $share%, foreign $fgn%; server processes $usp µs/req, httpd $ush; cpu$BENCH_CLIENT_CPU busy $cshare%, foreign $cfgn%)$( (( non2xx )) && echo ", non-2xx $non2xx")$( (( err )) && echo ", socket errors $err")"
    A_RPS[$id]+="$rps " A_P99[$id]+="$p99 " A_US[$id]+="$us " A_BUSY[$id]+="$share " A_USP[$id]+="$usp " A_USH[$id]+="$ush " A_FGN[$id]+="$fgn $cfgn " A_CBUSY[$id]+="$cshare "
    A_RUNS[$id]+="$(printf '%.0f' "$rps")/$p99/$us/$fgn%/$cfgn% "
    A_NON2XX[$id]=$(( ${A_NON2XX[$id]} + non2xx )) A_ERR[$id]=$(( ${A_ERR[$id]} + err ))
    R_REQS_SUM[$id]=$(( ${R_REQS_SUM[$id]:-0} + reqs ))
}

row_end() {             # id: medians of the runs, then the optional profile
    local id=$1 START=0
    local -a wargs=()
    R_RPS[$id]=$(median <<< "${A_RPS[$id]}")
    R_P99[$id]=$(median <<< "${A_P99[$id]}")
    R_US[$id]=$(median <<< "${A_US[$id]}")
    R_BUSY[$id]=$(median <<< "${A_BUSY[$id]}")
    R_USP[$id]=$(median <<< "${A_USP[$id]}")
    R_USH[$id]=$(median <<< "${A_USH[$id]}")
    R_CBUSY[$id]=$(median <<< "${A_CBUSY[$id]}")
    R_FGN[$id]=$(echo ${A_FGN[$id]} | tr ' ' '\n' | sort -g | tail -n1)
    R_RUNS[$id]=${A_RUNS[$id]}
    R_NON2XX[$id]=${A_NON2XX[$id]}
    R_ERR[$id]=${A_ERR[$id]}
    R_UPSTREAM[$id]="${A_UPC[$id]} new conns / ${A_UPR[$id]} reqs"
    if [ "$BENCH_PERF" = 1 ] && [[ $id != static ]]; then
        eval "wargs=(${A_ARGS[$id]})"
        perf_row "$id" "${A_URL[$id]}" "${wargs[@]}"
    fi
}

# measure_rows spec...: the rows, interleaved (see above).
measure_rows() {
    local spec id r ids=()
    for spec in "$@"; do
        row_begin "$spec" && ids+=("${spec%%|*}")
    done
    for r in $(seq 1 "$BENCH_RUNS"); do
        for id in "${ids[@]}"; do row_run "$id" "$r"; done
    done
    for id in "${ids[@]}"; do row_end "$id"; done
}
declare -A R_REQS_SUM

# Paired comparison, for differences of a few per cent: medians of three
# 10-s runs do not resolve them on this VM (rows that differ only by an
# empty <Location> came out 0.94-1.05x of each other in one run).  Each of
# BENCH_PAIRS rounds runs the base row and the compared rows back to back
# for BENCH_PAIR_SECONDS each, in an order rotated every round, and takes
# each row's ratio to the base within the round: the VM's drift over
# seconds and minutes is then common to both sides of a ratio.  The rows
# must have been registered by measure_rows (their warm-up is done).
declare -A P_RATIOS P_NON2XX P_BASE
PAIR_IDS=()     # compared rows of every measure_pairs call, in order
measure_pairs() {       # base-id id...
    local base=$1 all=("$@") n=$# r j id out line ratio START=0
    local -A got
    local -a wargs
    shift
    for id in "${all[@]}"; do
        [ -n "${A_URL[$id]:-}" ] || return 0     # a row not run (BENCH_ROWS)
    done
    for id in "${all[@]}"; do P_RATIOS[$id]="" P_NON2XX[$id]=0; done
    for id in "$@"; do P_BASE[$id]=$base; PAIR_IDS+=("$id"); done
    say "paired: ${BENCH_PAIRS} rounds of ${BENCH_PAIR_SECONDS} s runs of $base and $*"
    for r in $(seq 1 "$BENCH_PAIRS"); do
        # every 10th round: the second's pause of a quiet check before each
        # round made the round's first run start from an idle core, which
        # spread the ratios twice as wide
        (( r % 10 == 1 )) && quiet_wait
        for j in $(seq 0 $(( n - 1 ))); do
            id=${all[$(( (j + r) % n ))]}
            out=$T/wrk/pair-$id.txt
            eval "wargs=(${A_ARGS[$id]})"
            wrk_run "$out" "$BENCH_PAIR_SECONDS" "${A_URL[$id]}" "${wargs[@]}"
            got[$id]=$(wrk_rps "$out")
            P_NON2XX[$id]=$(( ${P_NON2XX[$id]} + $(wrk_non2xx "$out") ))
        done
        line=""
        for id in "$@"; do
            ratio=$(awk -v a="${got[$id]}" -v b="${got[$base]}" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }')
            P_RATIOS[$id]+="$ratio " line+=" $id $ratio"
        done
        say "  round $r: $base ${got[$base]} req/s;$line"
    done
}
# ratios on stdin -> "median q1 q3 mean standard-error count"
pair_stats() {
    tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1; s += $1; ss += $1 * $1 } END {
        if (NR == 0) { print "- - - - - 0"; exit }
        m = s / NR; v = NR > 1 ? (ss - NR * m * m) / (NR - 1) : 0; if (v < 0) v = 0
        med = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%.3f %.3f %.3f %.3f %.3f %d\n", med, a[int((NR - 1) / 4) + 1], a[int(3 * (NR - 1) / 4) + 1], m, sqrt(v / NR), NR }'
}
pair_table() {          # every row compared by measure_pairs
    local id base med q1 q3 mean se cnt resp bad
    (( ${#PAIR_IDS[@]} )) || return 0
    echo "| row | compared with | × that row (median of rounds) | quartiles | mean ± standard error | rounds | responses |"
    echo "|---|---|---:|---:|---:|---:|---|"
    for id in "${PAIR_IDS[@]}"; do
        base=${P_BASE[$id]}
        read -r med q1 q3 mean se cnt < <(pair_stats <<< "${P_RATIOS[$id]}")
        resp="all ${R_WANT[$id]}" bad=$(( ${P_NON2XX[$id]} + ${P_NON2XX[$base]} ))
        [[ ${R_WANT[$id]} == 2* ]] && (( bad )) && resp="non-2xx: $bad!"
        printf '| %s | %s | %s× | %s-%s | %s ± %s | %s | %s |\n' "${R_LABEL[$id]}" "$base" "$med" "$q1" "$q3" "$mean" "$se" "$cnt" "$resp"
    done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "") printf "%.2f×", a / b; else printf "-" }'; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%+.1f", a - b; else printf "-" }'; }
fmt_int() { printf "%.0f" "$1"; }

# The machine lines of a results file.
machine_info() {
    echo "- nproc: $NPROC; CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); kernel $(uname -r)"
    echo "- httpd: $(apache2 -v | head -n1 | sed 's/^Server version: //') (event MPM)"
    echo "- nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //')"
    echo "- wrk: $(wrk -v 2>&1 | head -n1 | awk '{ print $2 }')"
}

# row_table BASEFN: the results table of the rows run; BASEFN id prints the
# id of the row that row is compared with (or nothing).  Expected non-2xx
# rows (429, 401) count as correct when every response was non-2xx.
row_table() {
    local basefn=$1 id base resp
    echo "| row | req/s (median) | compared with | × that row | p99 ms (median) | server µs/req (median) | µs/req over that row | cpu$BENCH_SERVER_CPU busy | foreign load (max) | responses |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"
    for id in "${ORDER[@]}"; do
        base=$($basefn "$id")
        resp="all ${R_WANT[$id]}"
        if [[ ${R_WANT[$id]} == 2* ]] && [ "${R_NON2XX[$id]}" != 0 ]; then resp="${R_NON2XX[$id]} non-2xx!"; fi
        if [[ ${R_WANT[$id]} != 2* ]] && [ "${R_NON2XX[$id]}" != "${R_REQS_SUM[$id]}" ]; then resp="only ${R_NON2XX[$id]} of ${R_REQS_SUM[$id]} non-2xx!"; fi
        if [ "${R_ERR[$id]}" != 0 ]; then resp="$resp, ${R_ERR[$id]} socket errors"; fi
        printf '| %s | %s | %s | %s | %.2f | %.1f | %s | %s%% | %s%% | %s |\n' \
            "${R_LABEL[$id]}" "$(fmt_int "${R_RPS[$id]}")" \
            "${base:--}" "$( [ -n "$base" ] && ratio "${R_RPS[$id]}" "${R_RPS[$base]:-}" || echo -)" \
            "${R_P99[$id]}" "${R_US[$id]}" \
            "$( [ -n "$base" ] && delta "${R_US[$id]}" "${R_US[$base]:-}" || echo -)" \
            "${R_BUSY[$id]}" "${R_FGN[$id]}" "$resp"
    done
}

# results_file NAME: bench/results/NAME-<date>[-quick].md (a fresh name).
results_file() {
    local suffix=""
    if [ "$BENCH_SECONDS" != 10 ] || [ "$BENCH_RUNS" != 3 ] || [ "$BENCH_WARMUP" != 2 ] \
       || [ "$BENCH_CONNS" != 32 ] || [ "$BENCH_ROWS" != all ] \
       || [ "$BENCH_PAIRS" != 60 ] || [ "$BENCH_PAIR_SECONDS" != 1 ]; then
        suffix="-quick"
    fi
    mkdir -p "$BENCH_RESULTS"
    local f=$BENCH_RESULTS/$1-$(date +%F)$suffix.md
    [ -e "$f" ] && f=$BENCH_RESULTS/$1-$STAMP$suffix.md
    echo "$f"
}
quick_note() {
    case "$1" in *-quick.md) echo "**Quick run with non-default settings: not comparable with full runs.**"; echo ;; esac
}
