#!/usr/bin/env bash
# Install, configure, start, check and stop real FTP servers (vsftpd, pure-ftpd,
# proftpd) on 127.0.0.1 for asyncftp's interop tests. See README.md beside this file.
#
#   servers.sh install                 unpack the servers (apt-get download + dpkg -x) and their libraries
#   servers.sh start [INSTANCE...]     write configs, build the served tree, start, write run/env
#   servers.sh check [INSTANCE...]     log in to each running instance and exercise it; non-zero on failure
#   servers.sh status [INSTANCE...]    which instances run (exit 3 if any is not running)
#   servers.sh stop                    stop every instance recorded in the run folder
#   servers.sh versions                print each server's version
#
# INSTANCE is one of: vsftpd pure-ftpd proftpd vsftpd-tls pure-ftpd-tls (default: all).
# Environment: ASYNCFTP_SERVERS_RUN (run folder, default: run/ beside this script),
# ASYNCFTP_SERVERS_CACHE (default /var/cache/asyncftp-servers), ASYNCFTP_SERVERS_PASS
# (password of the local user; default: random per start).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CACHE=${ASYNCFTP_SERVERS_CACHE:-/var/cache/asyncftp-servers}
RUN=${ASYNCFTP_SERVERS_RUN:-$SCRIPT_DIR/run}
FTPUSER=ftptest          # local system user with a writable home
ANONUSER=ftp             # system user behind anonymous logins (pure-ftpd serves its home)
PAM_SERVICE=asyncftp-vsftpd
PY=/usr/bin/python3

PACKAGES=(vsftpd pure-ftpd proftpd-core)
ALL_INSTANCES=(vsftpd pure-ftpd proftpd vsftpd-tls pure-ftpd-tls)

VSFTPD_BIN=$CACHE/vsftpd/usr/sbin/vsftpd
PUREFTPD_BIN=$CACHE/pure-ftpd/usr/sbin/pure-ftpd
PROFTPD_BIN=$CACHE/proftpd-core/usr/sbin/proftpd

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
umask 022

log() { printf '[servers] %s\n' "$*" >&2; }
die() { printf '[servers] ERROR: %s\n' "$*" >&2; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (servers bind, chroot and switch users)"; }

# ---------------------------------------------------------------- instances
port_of() {
  case $1 in
    vsftpd) echo 2121 ;; pure-ftpd) echo 2122 ;; proftpd) echo 2123 ;;
    vsftpd-tls) echo 2124 ;; pure-ftpd-tls) echo 2125 ;; *) return 1 ;;
  esac
}
pasv_of() {  # "LOW HIGH"
  case $1 in
    vsftpd) echo "30000 30099" ;; pure-ftpd) echo "30100 30199" ;; proftpd) echo "30200 30299" ;;
    vsftpd-tls) echo "30300 30399" ;; pure-ftpd-tls) echo "30400 30499" ;; *) return 1 ;;
  esac
}
bin_of() {
  case $1 in
    vsftpd|vsftpd-tls) echo "$VSFTPD_BIN" ;;
    pure-ftpd|pure-ftpd-tls) echo "$PUREFTPD_BIN" ;;
    proftpd) echo "$PROFTPD_BIN" ;; *) return 1 ;;
  esac
}
# env var stem: vsftpd -> VSFTPD, pure-ftpd-tls -> PUREFTPD_TLS
stem_of() { local s=${1%-tls}; s=${s//-/}; s=${s^^}; [[ $1 == *-tls ]] && s+=_TLS; echo "$s"; }

instances_from_args() {
  if [[ $# -eq 0 ]]; then printf '%s\n' "${ALL_INSTANCES[@]}"; return; fi
  local i
  for i in "$@"; do port_of "$i" >/dev/null || die "unknown instance '$i' (one of: ${ALL_INSTANCES[*]})"; echo "$i"; done
}

# ---------------------------------------------------------------- install
apt_update() {
  local stamp=$CACHE/.apt-update-stamp
  if [[ ${1:-} != force && -f $stamp && -n $(find "$stamp" -mmin -360 2>/dev/null) ]] \
     && compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    return 0
  fi
  log "apt-get update"
  apt-get update -qq
  mkdir -p "$CACHE"; touch "$stamp"
}

# The first alternative of every lib* dependency of a .deb, without version constraints.
lib_depends() {
  dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/^[[:space:]]+//; s/[[:space:]]+$//' \
    | grep -E '^lib' || true
}

cmd_install() {
  need_root
  mkdir -p "$CACHE"
  apt_update
  local want=()
  command -v openssl >/dev/null || want+=(openssl)
  command -v curl >/dev/null || want+=(curl)
  [[ -x $PY ]] || want+=(python3)
  command -v setsid >/dev/null && command -v runuser >/dev/null || want+=(util-linux)
  command -v useradd >/dev/null && command -v chpasswd >/dev/null || want+=(passwd)

  local pkg dl deb
  dl=$CACHE/debs
  mkdir -p "$dl"
  # apt's sandbox user must be able to write where it downloads
  if id _apt >/dev/null 2>&1; then chown _apt "$dl"; fi
  for pkg in "${PACKAGES[@]}"; do
    if [[ -f $CACHE/$pkg/.unpacked ]]; then
      log "$pkg: already unpacked ($(cat "$CACHE/$pkg/.unpacked"))"
    else
      rm -f "$dl/${pkg}"_*.deb
      if ! (cd "$dl" && apt-get download -qq "$pkg"); then
        apt_update force
        (cd "$dl" && apt-get download -qq "$pkg") || die "apt-get download $pkg failed"
      fi
      deb=$(find "$dl" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
      rm -rf "$CACHE/$pkg.tmp"; mkdir -p "$CACHE/$pkg.tmp"
      dpkg -x "$deb" "$CACHE/$pkg.tmp"
      dpkg-deb -f "$deb" Version >"$CACHE/$pkg.tmp/.unpacked"
      cp "$deb" "$CACHE/$pkg.tmp/.deb"  # kept for lib_depends on later runs
      rm -rf "${CACHE:?}/$pkg"; mv "$CACHE/$pkg.tmp" "$CACHE/$pkg"
      log "$pkg: unpacked $(cat "$CACHE/$pkg/.unpacked") into $CACHE/$pkg"
    fi
    mapfile -t -O "${#want[@]}" want < <(lib_depends "$CACHE/$pkg/.deb")
  done
  rm -f "$dl"/*.deb

  # install only what is missing
  local missing=() p
  for p in "${want[@]}"; do
    [[ $(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
  done
  if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "apt-get install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || { apt_update force; apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  fi

  local b bad=0
  for b in "$VSFTPD_BIN" "$PUREFTPD_BIN" "$PROFTPD_BIN"; do
    if ldd "$b" | grep -q 'not found'; then
      log "$b still misses libraries:"; ldd "$b" | grep 'not found' >&2; bad=1
    fi
  done
  ((bad == 0)) || die "shared libraries missing"
  log "install done"
}

require_installed() {
  local b
  for b in "$VSFTPD_BIN" "$PUREFTPD_BIN" "$PROFTPD_BIN"; do
    [[ -x $b ]] || die "$b missing: run '$0 install' first"
  done
}

# ---------------------------------------------------------------- processes
pidfile_of() { echo "$RUN/pids/$1.pid"; }

# pid of a running instance (recorded pid, alive, and still our binary), or fail
live_pid() {
  local f pid exe
  f=$(pidfile_of "$1")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ ${exe% (deleted)} == "$(bin_of "$1")" ]] || return 1
  echo "$pid"
}

# true while process $1 exists and is not a zombie (a zombie stays until init reaps it)
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }; st=${st%% *}
  [[ -n $st && $st != Z && $st != X ]]
}
pgid_of() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0; st=${st##*) }; read -r _ _ pg _ <<<"$st"; echo "$pg"; }
any_alive() { local p; for p in "$@"; do alive "$p" && return 0; done; return 1; }

descendants() {  # all descendants of pid $1, deepest last
  local c
  # shellcheck disable=SC2013 # the file holds space-separated pids
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$c"; descendants "$c"
  done
}

# stop the given instances: TERM to each one's process group and descendants, KILL after
# 5 s, then wait (up to 5 s) until init has reaped them so that ps shows nothing left
stop_instances() {
  local name pid i all=() pids
  for name in "$@"; do
    if pid=$(live_pid "$name"); then
      mapfile -t pids < <(echo "$pid"; descendants "$pid")
      log "stopping $name (pid ${pids[*]})"
      # started with setsid: the server's pid is its process group
      if [[ $(pgid_of "$pid") == "$pid" ]]; then
        kill -TERM -- "-$pid" 2>/dev/null || true
      fi
      kill -TERM "${pids[@]}" 2>/dev/null || true
      all+=("${pids[@]}")
    fi
    rm -f "$(pidfile_of "$name")"
  done
  ((${#all[@]})) || return 0
  for ((i = 0; i < 100; i++)); do any_alive "${all[@]}" || break; sleep 0.05; done
  if any_alive "${all[@]}"; then
    log "still running after TERM: KILL"
    for pid in "${all[@]}"; do
      if alive "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; fi
    done
    for ((i = 0; i < 100; i++)); do any_alive "${all[@]}" || break; sleep 0.05; done
  fi
  ! any_alive "${all[@]}" || die "could not stop pids: ${all[*]}"
  for ((i = 0; i < 100; i++)); do
    for pid in "${all[@]}"; do [[ -e /proc/$pid ]] && break; done
    [[ -e /proc/$pid ]] || break
    sleep 0.05
  done
}

cmd_stop() {
  need_root
  local name
  stop_instances "${ALL_INSTANCES[@]}"
  rm -f "$RUN/env"
  log "stopped"
}

cmd_status() {
  local name pid rc=0
  while read -r name; do
    if pid=$(live_pid "$name"); then
      printf '%-14s running  pid %-7s 127.0.0.1:%s\n' "$name" "$pid" "$(port_of "$name")"
    else
      printf '%-14s stopped\n' "$name"; rc=3
    fi
  done < <(instances_from_args "$@")
  return $rc
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# first line the server sends on its control port
greeting() {
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf "%s" "${line%$'"'"'\r'"'"'}"; printf "QUIT\r\n" >&3' _ "$1" 2>/dev/null
}

# wait until instance $1 (pid $2) greets with 220, ~15 s at most
wait_220() {
  local name=$1 pid=$2 port line deadline=$((SECONDS + 15))
  port=$(port_of "$name")
  while ((SECONDS < deadline)); do
    alive "$pid" || return 1
    if line=$(greeting "$port") && [[ $line == 220* ]]; then
      log "$name up on 127.0.0.1:$port: $line"; return 0
    fi
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------- system setup
setup_system() {
  local tree=$1 home=$2 pass=$3
  getent group "$ANONUSER" >/dev/null || groupadd --system "$ANONUSER"
  if ! getent passwd "$ANONUSER" >/dev/null; then
    useradd --system --gid "$ANONUSER" --home-dir "$tree" --no-create-home \
      --shell /usr/sbin/nologin --comment "anonymous FTP (asyncftp tests)" "$ANONUSER"
  elif [[ $(getent passwd "$ANONUSER" | cut -d: -f6) != "$tree" ]]; then
    # pure-ftpd serves the home of user ftp to anonymous logins
    usermod --home "$tree" "$ANONUSER"
  fi
  # pure-ftpd (-l unix) only accepts users whose shell is listed in /etc/shells
  if ! getent passwd "$FTPUSER" >/dev/null; then
    useradd --user-group --home-dir "$home" --no-create-home \
      --shell /bin/bash --comment "asyncftp test user" "$FTPUSER"
  elif [[ $(getent passwd "$FTPUSER" | cut -d: -f6-7) != "$home:/bin/bash" ]]; then
    usermod --home "$home" --shell /bin/bash "$FTPUSER"
  fi
  printf '%s:%s\n' "$FTPUSER" "$pass" | chpasswd
  usermod --unlock "$FTPUSER" >/dev/null 2>&1 || true

  cat >"/etc/pam.d/$PAM_SERVICE" <<'EOF'
# PAM service for the vsftpd that asyncftp's fsm_test/servers/servers.sh runs (written by that script)
auth     required  pam_unix.so
account  required  pam_unix.so
session  required  pam_unix.so
EOF
}

# ---------------------------------------------------------------- served tree
# Writes the tree into $1 and the manifest into $2 (path, type, size, sha256; links
# are listed with the size and sha256 of what they point to) and link targets into $3.
make_tree() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import hashlib, os, sys
root, manifest, links = sys.argv[1:4]

def blob(name, size):
    """deterministic pseudo-random bytes: SHA-256 in counter mode, seeded by the name"""
    out, i, seed = bytearray(), 0, b"asyncftp:" + name.encode()
    while len(out) < size:
        out += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:size])

files = {
    "empty.bin": b"",
    "one.bin": b"A",
    "small.txt": b"hello from the asyncftp test tree\n",
    "1000.bin": blob("1000.bin", 1000),
    "65535.bin": blob("65535.bin", 65535),
    "65536.bin": blob("65536.bin", 65536),
    "65537.bin": blob("65537.bin", 65537),
    "big-3MiB.bin": blob("big-3MiB.bin", 3 * 1024 * 1024 + 7),
    "text-lf.txt": b"".join(b"line %04d of a text file with LF endings\n" % i for i in range(1, 201)),
    "with space.txt": b"a name with a space\n",
    " leading space.txt": b"a name with a leading space\n",
    "gr\u00fc\u00dfe.txt": "Gr\u00fc\u00dfe aus UTF-8\n".encode(),
    "dir1/file-in-dir1.txt": b"one level down\n",
    "dir1/dir2/deep.txt": b"two levels down\n",
}
dirs = ["dir1", "dir1/dir2", "empty-dir"]
# A link to a file and one to a folder ("dirlink" in the manifest: no content).
symlinks = {"link-to-small": "small.txt", "link-to-dir1": "dir1"}

os.umask(0o022)
os.makedirs(root, exist_ok=True)
for d in dirs:
    os.makedirs(os.path.join(root, d), exist_ok=True)
for p, data in files.items():
    with open(os.path.join(root, p), "wb") as f:
        f.write(data)
for p, target in symlinks.items():
    os.symlink(target, os.path.join(root, p))

rows = []
for d in dirs:
    rows.append((d, "dir", "0", "-"))
for p, data in files.items():
    rows.append((p, "file", str(len(data)), hashlib.sha256(data).hexdigest()))
for p, target in symlinks.items():
    if target in dirs:
        rows.append((p, "dirlink", "0", "-"))
        continue
    data = files[target]
    rows.append((p, "link", str(len(data)), hashlib.sha256(data).hexdigest()))
rows.sort(key=lambda r: r[0].encode())
with open(manifest, "w", encoding="utf-8") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")
with open(links, "w", encoding="utf-8") as f:
    for p, target in sorted(symlinks.items()):
        f.write(f"{p}\t{target}\n")
EOF
}

make_cert() {
  local dir=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj "/CN=localhost/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null
  cat "$dir/cert.pem" "$dir/key.pem" >"$dir/cert+key.pem"
  chmod 600 "$dir/key.pem" "$dir/cert+key.pem"
}

# ---------------------------------------------------------------- configs
write_vsftpd_conf() {
  local name=$1 tls=$2 tree=$3 port low high
  port=$(port_of "$name"); read -r low high <<<"$(pasv_of "$name")"
  cat <<EOF
# throwaway config written by servers.sh for instance $name
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
seccomp_sandbox=NO
secure_chroot_dir=$RUN/vsftpd-empty
pam_service_name=$PAM_SERVICE
pasv_enable=YES
pasv_min_port=$low
pasv_max_port=$high
port_enable=YES
connect_from_port_20=NO
anonymous_enable=YES
ftp_username=$ANONUSER
anon_root=$tree
no_anon_password=NO
anon_upload_enable=NO
anon_mkdir_write_enable=NO
anon_other_write_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
allow_writeable_chroot=YES
hide_ids=NO
use_localtime=NO
xferlog_enable=YES
vsftpd_log_file=$RUN/logs/$name.log
log_ftp_protocol=YES
syslog_enable=NO
EOF
  if [[ $tls == yes ]]; then
    cat <<EOF
ssl_enable=YES
rsa_cert_file=$RUN/cert.pem
rsa_private_key_file=$RUN/key.pem
ssl_ciphers=HIGH
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=YES
strict_ssl_read_eof=YES
strict_ssl_write_shutdown=YES
EOF
  fi
}

write_proftpd_conf() {
  local name=$1 tree=$2 port low high group
  port=$(port_of "$name"); read -r low high <<<"$(pasv_of "$name")"
  group=$(id -gn "$ANONUSER")
  cat <<EOF
# throwaway config written by servers.sh for instance $name
ServerName              "asyncftp proftpd"
ServerType              standalone
DefaultServer           on
UseIPv6                 off
DefaultAddress          127.0.0.1
SocketBindTight         on
Port                    $port
PassivePorts            $low $high
User                    nobody
Group                   nogroup
PidFile                 $RUN/proftpd.daemon.pid
ScoreboardFile          $RUN/proftpd.scoreboard
DelayTable              none
DelayEngine             off
WtmpLog                 off
UseReverseDNS           off
UseFtpUsers             off
RequireValidShell       off
AuthOrder               mod_auth_unix.c
AuthPAM                 off
SystemLog               $RUN/logs/$name.log
TransferLog             $RUN/logs/$name-xfer.log
DefaultRoot             ~
Umask                   022
AllowOverwrite          on
AllowStoreRestart       on
MaxInstances            50
TimeoutIdle             300

<Anonymous $tree>
  User                  $ANONUSER
  Group                 $group
  UserAlias             anonymous $ANONUSER
  RequireValidShell     off
  <Limit WRITE SITE_CHMOD>
    DenyAll
  </Limit>
</Anonymous>
EOF
}

# pure-ftpd takes everything on its command line
pureftpd_args() {
  local name=$1 tls=$2 port low high
  port=$(port_of "$name"); read -r low high <<<"$(pasv_of "$name")"
  local a=(-S "127.0.0.1,$port" -p "$low:$high" -4 -H -l unix -A -i -u 1 -U 133:022
           -f none -g "$RUN/$name.daemon.pid" -O "clf:$RUN/logs/$name-xfer.log" -c 50 -C 50)
  [[ $tls == yes ]] && a+=(-Y 2 -2 "$RUN/cert.pem,$RUN/key.pem")
  printf '%s\n' "${a[@]}"
}

start_instance() {  # prints pid
  local name=$1 tree=$2 bin pid
  bin=$(bin_of "$name")
  local -a cmd args
  case $name in
    vsftpd) write_vsftpd_conf "$name" no "$tree" >"$RUN/$name.conf"; cmd=("$bin" "$RUN/$name.conf") ;;
    vsftpd-tls) write_vsftpd_conf "$name" yes "$tree" >"$RUN/$name.conf"; cmd=("$bin" "$RUN/$name.conf") ;;
    proftpd) write_proftpd_conf "$name" "$tree" >"$RUN/$name.conf"; cmd=("$bin" -n -c "$RUN/$name.conf") ;;
    pure-ftpd) mapfile -t args < <(pureftpd_args "$name" no); cmd=("$bin" "${args[@]}") ;;
    pure-ftpd-tls) mapfile -t args < <(pureftpd_args "$name" yes); cmd=("$bin" "${args[@]}") ;;
  esac
  printf '%q ' "${cmd[@]}" >"$RUN/$name.cmdline"; echo >>"$RUN/$name.cmdline"
  # own session and process group, detached from our stdio
  setsid "${cmd[@]}" </dev/null >>"$RUN/logs/$name.out" 2>&1 &
  pid=$!
  echo "$pid" >"$(pidfile_of "$name")"
  echo "$pid"
}

cmd_start() {
  need_root
  require_installed
  local -a wanted
  mapfile -t wanted < <(instances_from_args "$@")

  # stop whatever an earlier start left running, drop stale pid files
  local name
  stop_instances "${ALL_INSTANCES[@]}"
  for name in "${wanted[@]}"; do
    ! port_busy "$(port_of "$name")" || die "127.0.0.1:$(port_of "$name") is already in use (not by a server this script recorded)"
  done

  [[ -n $RUN && $RUN != / ]] || die "bad run folder '$RUN'"
  mkdir -p "$RUN"
  RUN=$(cd "$RUN" && pwd)
  chmod 755 "$RUN"
  # The servers switch to the users ftp and ftptest, which must reach the served folders.
  # When a parent of the run folder is closed to other users, serve from a system folder.
  local data=$RUN
  if ! runuser -u nobody -- test -x "$RUN"; then
    data=/srv/asyncftp-servers
    log "note: other users cannot reach $RUN (a parent folder is closed): serving from $data"
  fi
  local tree=$data/tree home=$data/home
  rm -rf -- "${RUN:?}/tree" "${RUN:?}/home" "$tree" "$home" "$RUN/logs" "$RUN/pids" "$RUN/vsftpd-empty"
  rm -f -- "$RUN"/*.conf "$RUN"/*.cmdline "$RUN"/*.daemon.pid "$RUN/proftpd.scoreboard"* "$RUN/env" "$RUN/started"
  mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/vsftpd-empty" "$data"
  chmod 755 "$RUN/vsftpd-empty" "$data"

  local pass=${ASYNCFTP_SERVERS_PASS:-$(openssl rand -hex 12)}
  make_tree "$tree" "$RUN/manifest.tsv" "$RUN/links.tsv"
  chmod -R u=rwX,go=rX "$tree"
  mkdir -p "$home"
  cp -a "$tree/." "$home/"
  setup_system "$tree" "$home" "$pass"
  chown -R "$FTPUSER:$FTPUSER" "$home"
  chmod 755 "$home"
  make_cert "$RUN"
  printf '%s\n' "${wanted[@]}" >"$RUN/wanted"

  runuser -u "$ANONUSER" -- test -r "$tree/small.txt" \
    || log "WARNING: user $ANONUSER cannot read $tree (a parent folder is closed?)"
  runuser -u "$FTPUSER" -- test -w "$home" \
    || log "WARNING: user $FTPUSER cannot write $home (a parent folder is closed?)"

  local pid failed=() started=()
  for name in "${wanted[@]}"; do
    pid=$(start_instance "$name" "$tree")
    if wait_220 "$name" "$pid"; then
      started+=("$name")
    else
      if alive "$pid"; then log "$name did not greet with 220 within 15 s; its output:"
      else log "$name exited at start; its output:"; fi
      tail -n 20 "$RUN/logs/$name.out" "$RUN/logs/$name.log" >&2 2>/dev/null || true
      stop_instances "$name"; failed+=("$name")
    fi
  done
  printf '%s\n' "${started[@]}" >"$RUN/started"
  write_env "$tree" "$home" "$pass" "${started[@]}"
  log "env written to $RUN/env"
  if ((${#failed[@]})); then die "not started: ${failed[*]}"; fi
}

write_env() {
  local tree=$1 home=$2 pass=$3; shift 3
  local name plain=() tls=()
  {
    echo "# written by fsm_test/servers/servers.sh start; source it before the tests"
    for name in "$@"; do
      echo "export ASYNCFTP_$(stem_of "$name")_ADDR=127.0.0.1:$(port_of "$name")"
      if [[ $name == *-tls ]]; then tls+=("${name%-tls}"); else plain+=("$name"); fi
    done
    printf 'export ASYNCFTP_SERVERS_USER=%q\n' "$FTPUSER"
    printf 'export ASYNCFTP_SERVERS_PASS=%q\n' "$pass"
    printf 'export ASYNCFTP_SERVERS_TREE=%q\n' "$tree"
    printf 'export ASYNCFTP_SERVERS_USER_HOME=%q\n' "$home"
    printf 'export ASYNCFTP_SERVERS_MANIFEST=%q\n' "$RUN/manifest.tsv"
    printf 'export ASYNCFTP_SERVERS_CA=%q\n' "$RUN/cert.pem"
    printf 'export ASYNCFTP_SERVERS="%s"\n' "${plain[*]}"
    printf 'export ASYNCFTP_SERVERS_TLS="%s"\n' "${tls[*]}"
  } >"$RUN/env.tmp"
  mv "$RUN/env.tmp" "$RUN/env"
}

# ---------------------------------------------------------------- check
cmd_check() {
  need_root
  [[ -f $RUN/env ]] || die "no $RUN/env: run '$0 start' first"
  local -a wanted
  if [[ $# -gt 0 ]]; then mapfile -t wanted < <(instances_from_args "$@")
  elif [[ -f $RUN/wanted ]]; then mapfile -t wanted <"$RUN/wanted"
  else wanted=("${ALL_INSTANCES[@]}"); fi

  local name rc=0 ok=()
  for name in "${wanted[@]}"; do
    if live_pid "$name" >/dev/null; then ok+=("$name"); else log "FAIL $name: not running"; rc=1; fi
  done
  # shellcheck disable=SC1091
  (set -a; source "$RUN/env"; "$PY" "$SCRIPT_DIR/check.py" "${ok[@]}") || rc=1

  if command -v curl >/dev/null; then
    for name in "${ok[@]}"; do
      [[ $name == *-tls ]] || continue
      local out
      # shellcheck disable=SC1091
      if out=$(source "$RUN/env"; curl -sS --max-time 20 --ssl-reqd --cacert "$RUN/cert.pem" \
                 --user "$ASYNCFTP_SERVERS_USER:$ASYNCFTP_SERVERS_PASS" \
                 "ftp://127.0.0.1:$(port_of "$name")/dir1/dir2/deep.txt" 2>&1) \
         && [[ $out == "two levels down" ]]; then
        log "ok   $name: curl --ssl-reqd --cacert cert.pem (user login, RETR)"
      else
        log "FAIL $name: curl --ssl-reqd: $out"; rc=1
      fi
    done
  fi
  if ((rc == 0)); then log "check passed: ${ok[*]}"; else log "check FAILED"; fi
  return $rc
}

# ---------------------------------------------------------------- versions
cmd_versions() {
  require_installed
  local v
  v=$("$VSFTPD_BIN" -v 0>&1 2>&1 || true)   # vsftpd prints its version on fd 0
  printf 'vsftpd:    %s (Debian package %s)\n' "$v" "$(cat "$CACHE/vsftpd/.unpacked")"
  v=$("$PUREFTPD_BIN" --help 2>&1 | head -n1 || true)
  printf 'pure-ftpd: %s (Debian package %s)\n' "$v" "$(cat "$CACHE/pure-ftpd/.unpacked")"
  v=$("$PROFTPD_BIN" -v 2>&1 || true)
  printf 'proftpd:   %s (Debian package %s)\n' "$v" "$(cat "$CACHE/proftpd-core/.unpacked")"
}

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

main() {
  local sub=${1:-}
  [[ $# -gt 0 ]] && shift
  case $sub in
    install) cmd_install ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status "$@" ;;
    check) cmd_check "$@" ;;
    versions) cmd_versions ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}
main "$@"
