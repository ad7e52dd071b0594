/* ember.h: the few kernel types and constants ember's BPF programs use, written
 * out by hand so the build needs neither kernel headers nor a 5 MB vmlinux.h.
 * Kernel structs are read through CO-RE (preserve_access_index), so their layout
 * here need not match the running kernel. */
#ifndef EMBER_H
#define EMBER_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_LPM_TRIE = 11,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_F_NO_PREALLOC = 1,
	BPF_F_MMAPABLE = 1 << 10,
};

enum {
	BPF_F_SKIP_FIELD_MASK = 0xff,
	BPF_F_USER_STACK = 1 << 8,
};

enum {
	BPF_LOCAL_STORAGE_GET_F_CREATE = 1,
};

#define EFAULT 14
#define EEXIST 17
#define ENOMEM 12
#define E2BIG 7

/* The uapi register layout of x86_64 (struct pt_regs as user space sees it);
 * the verifier rewrites context accesses, so this layout is fixed. */
struct user_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

struct bpf_perf_event_data {
	struct user_regs regs;
	__u64 sample_period;
	__u64 addr;
};

struct mm_struct;

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live; /* threads of the group not yet exiting */
} __attribute__((preserve_access_index));

struct task_struct {
	struct mm_struct *mm;
	struct signal_struct *signal;
	int pid;
	int tgid;
	unsigned int flags;
	unsigned int __state;
	unsigned long long start_time;
	char comm[16];
} __attribute__((preserve_access_index));

/* The kernel's saved registers of a task, as bpf_task_pt_regs returns them. */
struct pt_regs {
	unsigned long bp;
	unsigned long ip;
	unsigned long sp;
} __attribute__((preserve_access_index));

#define TASK_COMM_LEN 16
#define PF_KTHREAD 0x00200000
#define PF_FORKNOEXEC 0x00000040

#endif
