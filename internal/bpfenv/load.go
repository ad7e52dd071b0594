package bpfenv

import (
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Load loads spec into objs as LoadAndAssign does, but first creates the
// named maps and reads the kernel's BTF side by side: each large map is
// one system call in which the kernel allocates and clears it, and the
// kernel's BTF is parsed in user space, so on several CPUs they overlap
// instead of adding up before the program can be attached.
func Load(spec *ebpf.CollectionSpec, objs any, parallel ...string) error {
	cache := btf.NewCache()
	made := make(map[string]*ebpf.Map, len(parallel))
	errs := make([]error, len(parallel)+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// An error here is the loader's to report, with its context.
		cache.Kernel()
	}()
	for i, name := range parallel {
		ms, ok := spec.Maps[name]
		if !ok {
			errs[i+1] = fmt.Errorf("map %s: not in the BPF object", name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := ebpf.NewMap(ms)
			if err != nil {
				errs[i+1] = fmt.Errorf("map %s: %w", name, err)
				return
			}
			mu.Lock()
			made[name] = m
			mu.Unlock()
		}()
	}
	wg.Wait()
	// The collection holds clones of these; ours are no longer needed.
	defer func() {
		for _, m := range made {
			m.Close()
		}
	}()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return spec.LoadAndAssign(objs, &ebpf.CollectionOptions{Cache: cache, MapReplacements: made})
}
