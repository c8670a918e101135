#!/usr/bin/env python3
"""Runs a command and writes its own CPU time and peak memory to a file as one line:
`user_s=<s> sys_s=<s> hwm_kib=<KiB> maxrss_kib=<KiB> wall_s=<s> vcsw=<n> ivcsw=<n>`.

user_s/sys_s come from wait4's rusage of the child (all its threads; processes it did not
wait for are not counted). hwm_kib is the child's own VmHWM (peak resident set) read from
/proc/<pid>/status every 20 ms while it runs (the last reading before it exits); maxrss_kib is
wait4's ru_maxrss, which on Linux is never below this script's own resident set (≈ 13 MiB,
inherited through the spawn), so hwm_kib is the figure to use for small clients. vcsw and
ivcsw are the child's voluntary (blocking) and involuntary (preempted) context switches.

Usage: rusage.py OUT_FILE COMMAND [ARGS...]; exits with the command's exit status.
Used by benches/compare.sh and benches/memory.sh (not part of CI)."""
import os
import sys
import time

if len(sys.argv) < 3:
    sys.exit("usage: rusage.py OUT_FILE COMMAND [ARGS...]")
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
hwm = 0
while True:
    done, status, ru = os.wait4(pid, os.WNOHANG)
    if done == pid:
        break
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.02)
wall = time.monotonic() - t0
with open(out, "w") as f:
    f.write(
        f"user_s={ru.ru_utime:.3f} sys_s={ru.ru_stime:.3f} hwm_kib={hwm} "
        f"maxrss_kib={ru.ru_maxrss} wall_s={wall:.3f} vcsw={ru.ru_nvcsw} ivcsw={ru.ru_nivcsw}\n"
    )
sys.exit(os.waitstatus_to_exitcode(status))
