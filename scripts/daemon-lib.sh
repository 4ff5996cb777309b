# Helpers shared by scripts/containerd.sh and scripts/dockerd.sh, which run
# private daemons for the tests. Sourced, not run. The caller sets $name (for
# messages), $dir (the daemon's folder) and $stop_timeout (seconds).

die() { echo "$name: $*" >&2; exit 1; }
log() { echo "$name: $*" >&2; }

usage() { die "usage: $0 start|stop DIR"; }

# stop_pid sends TERM, waits, then sends KILL.
stop_pid() {
	local pid=$1 deadline=$((SECONDS + stop_timeout))
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "pid $pid did not stop within ${stop_timeout}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
}

# wait_ready PID LOG SOCK TIMEOUT CMD... polls CMD until it succeeds, and
# dies with the log's tail if the daemon PID exits or TIMEOUT seconds pass.
wait_ready() {
	local pid=$1 logf=$2 sock=$3 timeout=$4
	shift 4
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$logf" >&2
			die "the daemon exited during start-up (log: $logf)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 20 "$logf" >&2
			die "the daemon did not answer on $sock within ${timeout}s (log: $logf)"
		fi
		sleep 0.1
	done
}

# unmount_all unmounts everything under $dir, deepest first.
unmount_all() {
	local m
	# mountinfo field 5 is the mount point (octal-escaped).
	awk -v d="$dir/" 'index($5, d) == 1 { print length($5), $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2- | while read -r m; do
			m=$(printf '%b' "$m")
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: cannot unmount $m"
		done
}
