// SPDX-License-Identifier: GPL-2.0
/* sampler.bpf.c: runs on every cpu-clock perf event, takes the interrupted
 * task's kernel and user stacks and counts them in the kernel, keyed by task
 * and stacks, so user space reads one entry per distinct stack, not one event
 * per sample. */
#include "ember.h"
#include <bpf/bpf_helpers.h>
#include "stacks.h"

struct key {
	__u32 tgid;
	__u32 tid;
	__u64 kernel_stack;
	__u64 user_stack;
	char comm[TASK_COMM_LEN];
	__u32 kernel_state;
	__u32 user_state;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960); /* set from --hash-storage-size */
	__type(key, struct key);
	__type(value, __u64);
} counts SEC(".maps");

/* Filters, set before load. The maps hold the wanted IDs only when the matching
 * flag is on. */
const volatile bool filter_tgid = false;
const volatile bool filter_tid = false;
const volatile bool include_idle = false;
const volatile bool kernel_stacks = true;
const volatile bool user_stacks = true;

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

static __always_inline void announce(__u32 tgid)
{
	__u8 one = 1;
	if (bpf_map_lookup_elem(&seen, &tgid))
		return;
	if (bpf_map_update_elem(&seen, &tgid, &one, BPF_NOEXIST))
		return;
	/* If the ring is full, forget the process so a later sample retries. */
	if (bpf_ringbuf_output(&new_procs, &tgid, sizeof(tgid), 0))
		bpf_map_delete_elem(&seen, &tgid);
}

SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;

	if (!include_idle && tid == 0)
		return 0;
	if (filter_tgid && !bpf_map_lookup_elem(&tgids, &tgid))
		return 0;
	if (filter_tid && !bpf_map_lookup_elem(&tids, &tid))
		return 0;

	struct key key = {};
	key.tgid = tgid;
	key.tid = tid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	key.kernel_state = STACK_SKIPPED;
	key.user_state = STACK_SKIPPED;
	if (kernel_stacks)
		key.kernel_state = take_stack(ctx, 0, &key.kernel_stack);
	if (user_stacks) {
		key.user_state = take_user_stack(bpf_get_current_task_btf(), &key.user_stack);
		if (check_user_walk && key.user_state == STACK_OK)
			check_walk(ctx);
	}

	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v) {
		__sync_fetch_and_add(v, 1);
	} else {
		__u64 one = 1;
		long err = bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
		if (err == -EEXIST) {
			v = bpf_map_lookup_elem(&counts, &key);
			if (v)
				__sync_fetch_and_add(v, 1);
		} else if (err) {
			count_loss(LOSS_COUNT_FULL);
		}
	}
	if (tgid)
		announce(tgid);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int on_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_delete_elem(&seen, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
