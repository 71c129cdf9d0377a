# Sourced by selftests/check and host tests: what counts as a kernel problem in a log.
# kmemleak: its reports (and its being disabled by an internal error), not its boot message.
# shellcheck shell=bash
klog_bad_re='Oops|BUG:|kernel BUG|WARNING:|possible recursive locking|circular locking dependency|inconsistent lock state|lock held when returning|KASAN:|UBSAN:|general protection fault|list_(add|del) corruption|soft lockup|hard LOCKUP|blocked for more than|rcu_sched self-detected stall|RCU stall|Kernel panic|refcount_t:|kmemleak: [0-9]+ new suspected|unreferenced object 0x|Kernel memory leak detector disabled|kmemleak: (Cannot|Memory pool empty)|Call Trace:'
