#!/usr/bin/env bash
# Checks, in a real bash in a real terminal, that 'asyncftp completion bash'
# completes remote paths: tmux runs an interactive bash that has sourced the
# completion script, 'asyncftp serve' (the built-in server on 127.0.0.1) is the
# server, and keys are typed as a user types them:
#   asyncftp get ftp://127.0.0.1:PORT/pub/<Tab><Tab>   lists hello.txt and nested/
#   n<Tab>                                               completes nested/
#   <Tab><Tab>                                           deeper/, then deep%20file.bin
#   <Enter>                                              downloads "deep file.bin"
# The pane is read back with capture-pane after each step.
#
# Usage: scripts/complete-tmux.sh            (builds ./cmd/asyncftp itself)
#        ASYNCFTP_BIN=/path/asyncftp scripts/complete-tmux.sh
# Installs tmux and bash-completion (cobra's bash script uses its
# _get_comp_words_by_ref, as kubectl's and gh's do) with apt-get when they are
# missing. Exit status: 0 pass, 1 fail, 77 tmux or bash-completion missing and
# not installable (or ASYNCFTP_NO_TMUX=1 forbids installing).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/asyncftp-complete.XXXXXX")
sock="asyncftp-complete-$$"
server_pid=""

cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null || true
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work" 2>/dev/null || { sleep 0.5; rm -rf "$work" 2>/dev/null; } || true
}
trap cleanup EXIT

fail() {
	echo "complete-tmux: FAIL: $*" >&2
	echo "---- pane ----" >&2
	tmux -L "$sock" capture-pane -p -t complete 2>/dev/null | sed '/^$/d' >&2 || true
	exit 1
}

apt_install() {
	apt-get install -y "$1" >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y "$1" >/dev/null 2>&1; }
}
if ! command -v tmux >/dev/null 2>&1; then
	if [ "${ASYNCFTP_NO_TMUX:-}" = 1 ]; then
		echo "complete-tmux: tmux is missing and ASYNCFTP_NO_TMUX=1: not installing it" >&2
		exit 77
	fi
	echo "complete-tmux: tmux is missing; installing it with apt-get" >&2
	apt_install tmux || { echo "complete-tmux: cannot install tmux" >&2; exit 77; }
fi
bashcomp=/usr/share/bash-completion/bash_completion
if [ ! -f "$bashcomp" ]; then
	if [ "${ASYNCFTP_NO_TMUX:-}" = 1 ]; then
		echo "complete-tmux: bash-completion is missing and ASYNCFTP_NO_TMUX=1: not installing it" >&2
		exit 77
	fi
	echo "complete-tmux: bash-completion is missing; installing it with apt-get" >&2
	apt_install bash-completion && [ -f "$bashcomp" ] || { echo "complete-tmux: cannot install bash-completion" >&2; exit 77; }
fi

mkdir -p "$work/bin" "$work/dl"
if [ -n "${ASYNCFTP_BIN:-}" ]; then
	ln -s "$ASYNCFTP_BIN" "$work/bin/asyncftp"
else
	(cd "$repo" && go build -o "$work/bin/asyncftp" ./cmd/asyncftp)
fi
bin="$work/bin/asyncftp"

"$bin" serve --for 120s >"$work/serve.out" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
	addr=$(sed -n 's/^asyncftp serve: listening on //p' "$work/serve.out")
	[ -n "$addr" ] && break
	sleep 0.1
done
[ -n "$addr" ] || fail "the server did not start: $(cat "$work/serve.out")"

# The shell's start-up file: bash-completion if there, then asyncftp's script,
# as a user's ~/.bashrc would have it.
{
	echo ". $bashcomp"
	echo 'source <(asyncftp completion bash)'
	echo 'PS1="$ "'
} >"$work/bashrc"
tmux -L "$sock" -f /dev/null new-session -d -s complete -x 200 -y 40 \
	"env -i HOME=$work PATH=$work/bin:$PATH TERM=xterm-256color GORACE=${GORACE:-} bash --noprofile --rcfile $work/bashrc -i"

# wait_for PATTERN WHAT: poll the pane until PATTERN (grep -E) shows.
wait_for() {
	for _ in $(seq 1 100); do
		if tmux -L "$sock" capture-pane -p -t complete | grep -Eq -- "$1"; then return 0; fi
		sleep 0.1
	done
	fail "$2"
}
wait_for '^\$' "no prompt"
tmux -L "$sock" send-keys -t complete 'complete -p asyncftp && echo completion-loaded' Enter
wait_for '^completion-loaded' "the completion script did not load"
tmux -L "$sock" send-keys -t complete C-l

url="ftp://$addr/pub/"
tmux -L "$sock" send-keys -t complete -l "cd $work/dl && asyncftp get $url"
tmux -L "$sock" send-keys -t complete Tab Tab
wait_for 'hello\.txt' "Tab Tab after pub/ did not list hello.txt"
wait_for 'nested/' "Tab Tab after pub/ did not list nested/"
echo "---- pub/<Tab><Tab> ----"
tmux -L "$sock" capture-pane -p -t complete | sed '/^$/d'

tmux -L "$sock" send-keys -t complete -l "n"
tmux -L "$sock" send-keys -t complete Tab
wait_for "asyncftp get ftp://$addr/pub/nested/\$" "n<Tab> did not complete pub/nested/"
tmux -L "$sock" send-keys -t complete Tab
wait_for "asyncftp get ftp://$addr/pub/nested/deeper/\$" "<Tab> did not complete nested/deeper/"
tmux -L "$sock" send-keys -t complete Tab
wait_for "asyncftp get ftp://$addr/pub/nested/deeper/deep%20file\.bin\$" "<Tab> did not complete deep%20file.bin"
echo "---- after n<Tab><Tab><Tab> ----"
tmux -L "$sock" capture-pane -p -t complete | sed '/^$/d'

# The completed line is a working command.
tmux -L "$sock" send-keys -t complete -l '; echo asyncftp-exit=$?'
tmux -L "$sock" send-keys -t complete Enter
wait_for '^asyncftp-exit=' "the completed command did not finish"
# A file ends the word: the shell added a space after it.
tmux -L "$sock" capture-pane -p -t complete | grep -q 'deep%20file\.bin ; echo' || fail "no space after the completed file name"
tmux -L "$sock" capture-pane -p -t complete | grep -q '^asyncftp-exit=0' || fail "the completed 'asyncftp get' failed"
[ -f "$work/dl/deep file.bin" ] && [ "$(stat -c %s "$work/dl/deep file.bin")" = 12345 ] ||
	fail "the completed 'asyncftp get' did not download 'deep file.bin' (12345 bytes)"

# A server that is gone: Tab offers nothing, prints nothing, and comes back.
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
tmux -L "$sock" send-keys -t complete C-l
tmux -L "$sock" send-keys -t complete -l "asyncftp ls $url"
tmux -L "$sock" send-keys -t complete Tab Tab
sleep 1
tmux -L "$sock" send-keys -t complete -l "X"
wait_for "asyncftp ls ${url}X\$" "Tab against a stopped server did not come back to the line"
pane=$(tmux -L "$sock" capture-pane -p -t complete)
if grep -Eqi 'error|refused|asyncftp ls:' <<<"$pane"; then fail "Tab against a stopped server printed an error"; fi

echo "complete-tmux: PASS (bash $BASH_VERSION with bash-completion: remote folders listed, completed and downloaded; a stopped server offers nothing, silently)"
