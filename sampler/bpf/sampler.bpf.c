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

#include "procs.h"

SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;

	if (!include_idle && tid == 0)
		return 0;
	if (!id_wanted(tgid, tid))
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

char LICENSE[] SEC("license") = "GPL";
