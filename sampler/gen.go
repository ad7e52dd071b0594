package sampler

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -I../bpf/include" -target amd64,arm64 -type key -type value -type stack_state -type unwind_row -type unwind_slot sampler bpf/sampler.bpf.c
