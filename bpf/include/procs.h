/* procs.h: the PID and TID filters and the announcement of new processes,
 * which every collector shares. The program that includes it defines
 * filter_tgid and filter_tid (const volatile) and gets the on_exec program;
 * on_fork, attached only to follow a command (profile -- CMD), so that the
 * command's processes join the tgids filter as they are forked; and
 * on_exit (see there). */
#ifndef EMBER_PROCS_H
#define EMBER_PROCS_H

#include "ember.h"
#include <bpf/bpf_helpers.h>

/* Values of tgids: wanted, or the command's first process waiting to exec
 * (its samples are the launcher's, not the command's, until then). */
#define PROC_WANTED 1
#define PROC_BEFORE_EXEC 2

/* The wanted IDs, filled before attaching when the matching filter is on;
 * sized at load (bigger when following a command). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} tids SEC(".maps");

/* seen holds processes already announced to user space; a new one is sent on
 * the ring buffer once, so user space can capture its mappings while it still
 * lives. An exec forgets it (see on_exec) because its mappings change. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} new_procs SEC(".maps");

/* self_tgid, when set, is left out: a whole-system profile would otherwise
 * count ember's own symbolizing, which its next read would symbolize in
 * turn (the DWARF of its own binary, and the table to walk it). */
const volatile __u32 self_tgid = 0;

/* id_wanted applies the -p and -t filters. */
static __always_inline bool id_wanted(__u32 tgid, __u32 tid)
{
	if (self_tgid && tgid == self_tgid)
		return false;
	if (filter_tgid) {
		__u8 *v = bpf_map_lookup_elem(&tgids, &tgid);
		if (!v || *v != PROC_WANTED)
			return false;
	}
	if (filter_tid && !bpf_map_lookup_elem(&tids, &tid))
		return false;
	return true;
}

static __always_inline void announce(__u32 tgid)
{
	__u8 one = 1;
	if (bpf_map_lookup_elem(&seen, &tgid))
		return;
	if (bpf_map_update_elem(&seen, &tgid, &one, BPF_NOEXIST))
		return;
	/* If the ring is full, forget the process so a later event retries. */
	if (bpf_ringbuf_output(&new_procs, &tgid, sizeof(tgid), 0))
		bpf_map_delete_elem(&seen, &tgid);
}

SEC("tp_btf/sched_process_exec")
int on_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	bpf_map_delete_elem(&seen, &tgid);
	if (filter_tgid) {
		__u8 *v = bpf_map_lookup_elem(&tgids, &tgid);
		if (v && *v == PROC_BEFORE_EXEC)
			*v = PROC_WANTED;
	}
	if (id_wanted(tgid, (__u32)id))
		unwind_exec(tgid);
	return 0;
}

/* follow_lost counts forks of followed processes that did not fit in
 * tgids, whose samples are then missing. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} follow_lost SEC(".maps");

/* on_fork adds a new process to tgids when its parent is followed; a new
 * thread is already there with its process. */
SEC("tp_btf/sched_process_fork")
int on_fork(unsigned long long *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx[0];
	struct task_struct *child = (struct task_struct *)ctx[1];
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	if (ptgid == ctgid)
		return 0;
	__u8 *v = bpf_map_lookup_elem(&tgids, &ptgid);
	if (!v || *v != PROC_WANTED)
		return 0;
	__u8 wanted = PROC_WANTED;
	if (bpf_map_update_elem(&tgids, &ctgid, &wanted, BPF_ANY)) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&follow_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
	}
	return 0;
}

/* on_exit forgets a process when its last thread exits: a followed one, so
 * that a long build's processes do not fill tgids, and one whose tables the
 * unwinder loaded. Not when its first thread exits: that one may go first,
 * and an exec from another thread ends it too, the process living on.
 * Attached to follow a command or to unwind by tables. */
SEC("tp_btf/sched_process_exit")
int on_exit(unsigned long long *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx[0];
	if (task->signal->live.counter != 0)
		return 0;
	__u32 tgid = task->tgid;
	if (filter_tgid)
		bpf_map_delete_elem(&tgids, &tgid);
	unwind_exited(tgid);
	return 0;
}

#endif
