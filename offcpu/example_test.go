package offcpu_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/emberprof/ember/offcpu"
	"github.com/emberprof/ember/symbolize"
)

// Measure five seconds of blocking on the whole machine, blocks of 1 ms or
// more, and print the total per thread and kernel stack depth.
func Example() {
	tr, err := offcpu.Open(offcpu.Config{MinBlock: time.Millisecond, KernelStacks: true, UserStacks: true})
	if err != nil {
		log.Fatal(err) // one line: what is missing and how to fix it
	}
	defer tr.Close()

	// Capture each process the first time it blocks, so that it still
	// symbolizes if it exits before the end.
	sym := symbolize.New(symbolize.Config{})
	defer sym.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go tr.NewProcesses(ctx, func(pid uint32) { sym.Capture(pid) })
	<-ctx.Done()
	tr.Stop()

	recs, losses, err := tr.Read()
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("%s (%d): %v blocked in %d blocks, %d kernel frames\n",
			r.Comm, r.TID, time.Duration(r.Nanos), r.Count, len(r.Kernel.PCs))
	}
	if n := losses.Stacks(); n > 0 {
		fmt.Printf("%d stacks lost\n", n)
	}
	// sym.Profile(recs, symbolize.ProfileOptions{OffCPU: true, KernelLeaf:
	// offcpu.KernelLeaf}) names the frames.
}
