// SPDX-License-Identifier: GPL-2.0
/* sampler.bpf.c: runs on every cpu-clock perf event, takes the interrupted
 * task's kernel and user stacks and counts them in the kernel, keyed by task
 * and stacks, so user space reads one entry per distinct stack, not one event
 * per sample. */
#include "ember.h"
#include <bpf/bpf_helpers.h>
#include "stacks.h"
#include "counts.h"

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

	count_event(&key, 0);
	if (tgid)
		announce(tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
