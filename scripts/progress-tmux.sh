#!/usr/bin/env bash
# Checks, in a real terminal, that 'asyncftp get' draws a progress bar: tmux runs
# the command against 'asyncftp serve' (the built-in server on 127.0.0.1), the
# pane is read back with capture-pane, and the bar must be there, from 0% to 100%,
# with the file byte-exact. A second run with stdout redirected must draw none.
#
# Usage: scripts/progress-tmux.sh            (builds ./cmd/asyncftp itself)
#        ASYNCFTP_BIN=/path/asyncftp scripts/progress-tmux.sh
# Installs tmux with apt-get when it is missing. Exit status: 0 pass, 1 fail,
# 77 tmux missing and not installable (the Go test turns that into a failure
# unless ASYNCFTP_NO_TMUX=1).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/asyncftp-progress.XXXXXX")
sock="asyncftp-progress-$$"
server_pid=""

cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null || true
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	# tmux's pipe-pane reader may still be closing its file: try twice.
	rm -rf "$work" 2>/dev/null || { sleep 0.5; rm -rf "$work" 2>/dev/null; } || true
}
trap cleanup EXIT

fail() { echo "progress-tmux: FAIL: $*" >&2; exit 1; }

if ! command -v tmux >/dev/null 2>&1; then
	if [ "${ASYNCFTP_NO_TMUX:-}" = 1 ]; then
		echo "progress-tmux: tmux is missing and ASYNCFTP_NO_TMUX=1: not installing it" >&2
		exit 77
	fi
	echo "progress-tmux: tmux is missing; installing it with apt-get" >&2
	if ! { apt-get install -y tmux >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y tmux >/dev/null 2>&1; }; }; then
		echo "progress-tmux: cannot install tmux (apt-get failed)" >&2
		exit 77
	fi
	command -v tmux >/dev/null 2>&1 || { echo "progress-tmux: tmux still missing after apt-get" >&2; exit 77; }
fi

bin=${ASYNCFTP_BIN:-}
if [ -z "$bin" ]; then
	bin="$work/asyncftp"
	(cd "$repo" && go build -o "$bin" ./cmd/asyncftp)
fi

# The server: a 4 MiB big.bin besides the sample tree; it stops by itself.
"$bin" serve --big 4MiB --for 120s >"$work/serve.out" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
	addr=$(sed -n 's/^asyncftp serve: listening on //p' "$work/serve.out")
	[ -n "$addr" ] && break
	sleep 0.1
done
[ -n "$addr" ] || fail "the server did not start: $(cat "$work/serve.out")"
root=$(sed -n 's/^  root:  //p' "$work/serve.out")
want=$(sha256sum "$root/big.bin" | cut -d' ' -f1)

mkdir -p "$work/dl"
# A clean shell in a fixed-size window; pipe-pane keeps every byte written to it.
tmux -L "$sock" -f /dev/null new-session -d -s progress -x 120 -y 30 "env -i HOME=$work PATH=$PATH TERM=xterm-256color bash --norc --noprofile"
tmux -L "$sock" pipe-pane -o -t progress "cat >>'$work/pane.log'"
tmux -L "$sock" send-keys -t progress "cd '$work/dl' && '$bin' get 'ftp://$addr/big.bin'; echo asyncftp-exit=\$?" Enter

pane=""
for _ in $(seq 1 200); do
	pane=$(tmux -L "$sock" capture-pane -p -t progress)
	grep -q '^asyncftp-exit=' <<<"$pane" && break
	sleep 0.1
done
echo "---- pane ----"
sed '/^$/d' <<<"$pane"
echo "--------------"

grep -q '^asyncftp-exit=0' <<<"$pane" || fail "asyncftp get did not exit 0"
grep -Eq 'big\.bin +100% \|█+\|' <<<"$pane" || fail "no finished progress bar ('big.bin 100% |███|') on the screen"
# The bar was drawn from the start (blank state), not only printed at the end.
grep -aEq '0% \| +\|' "$work/pane.log" || fail "the bar was never drawn at 0%"
got=$(sha256sum "$work/dl/big.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "big.bin differs: sha256 $got, want $want"
[ ! -e "$work/dl/big.bin.part" ] || fail "big.bin.part left behind"

# Same command with stdout redirected: not a terminal, so no bar.
tmux -L "$sock" send-keys -t progress "rm -f big.bin; '$bin' get 'ftp://$addr/big.bin' >piped.txt; echo asyncftp-exit2=\$?" Enter
for _ in $(seq 1 200); do
	pane=$(tmux -L "$sock" capture-pane -p -t progress)
	grep -q '^asyncftp-exit2=' <<<"$pane" && break
	sleep 0.1
done
grep -q '^asyncftp-exit2=0' <<<"$pane" || fail "the redirected asyncftp get did not exit 0"
if grep -aq '%' "$work/dl/piped.txt"; then fail "a bar was drawn into a redirected stdout: $(cat "$work/dl/piped.txt")"; fi
grep -q "big.bin: 4194304 bytes" "$work/dl/piped.txt" || fail "the redirected run did not report the file: $(cat "$work/dl/piped.txt")"

echo "progress-tmux: PASS (bar drawn in tmux from 0% to 100%; none when stdout is redirected; sha256 $got)"
