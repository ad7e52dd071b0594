/* procs.h: the PID and TID filters and the announcement of new processes,
 * which every collector shares. The program that includes it defines
 * filter_tgid and filter_tid (const volatile) and gets the on_exec program. */
#ifndef EMBER_PROCS_H
#define EMBER_PROCS_H

#include "ember.h"
#include <bpf/bpf_helpers.h>

/* The wanted IDs, filled before attaching when the matching filter is on. */
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

/* id_wanted applies the -p and -t filters. */
static __always_inline bool id_wanted(__u32 tgid, __u32 tid)
{
	if (filter_tgid && !bpf_map_lookup_elem(&tgids, &tgid))
		return false;
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
	if (id_wanted(tgid, (__u32)id))
		unwind_exec(tgid);
	return 0;
}

#endif
