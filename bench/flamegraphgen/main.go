// Command flamegraphgen writes synthetic folded stacks for benchmarking
// flamegraph: deep stacks (about 40 frames, about 1.1 KB a line) from a
// random call graph in which each function mostly calls the same few
// callees, so that stacks share long prefixes and diverge towards the leaf,
// as in real profiles. The output depends only on the flags.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	lines := flag.Int("lines", 10000, "number of lines to write")
	seed := flag.Uint64("seed", 1, "random seed")
	funcs := flag.Int("funcs", 20000, "number of distinct functions")
	flag.Parse()
	if err := generate(*lines, *funcs, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "flamegraphgen:", err)
		os.Exit(1)
	}
}

func generate(lines, nfuncs int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	names := make([]string, nfuncs)
	for i := range names {
		// Go-like names of varied length.
		pkg := rng.IntN(300)
		switch rng.IntN(3) {
		case 0:
			names[i] = fmt.Sprintf("github.com/acme/svc/pkg%d.(*T%d).M%d", pkg, rng.IntN(50), i)
		case 1:
			names[i] = fmt.Sprintf("pkg%d.func%d", pkg, i)
		default:
			names[i] = fmt.Sprintf("lib%d_do_work_%d", pkg, i)
		}
	}
	// Each function calls up to four others; the first is called most.
	callees := make([][4]int32, nfuncs)
	for i := range callees {
		for j := range callees[i] {
			callees[i][j] = int32(rng.IntN(nfuncs))
		}
	}
	comms := []string{"java", "nginx", "postgres", "ember-test", "kworker/0:1", "python3", "node", "envoy"}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	var buf []byte
	for range lines {
		buf = buf[:0]
		c := rng.IntN(len(comms))
		buf = append(buf, comms[c]...)
		f := c * 7 % nfuncs
		depth := 27 + rng.IntN(30)
		for d := range depth {
			buf = append(buf, ';')
			buf = append(buf, names[f]...)
			var k int
			switch r := rng.IntN(100); {
			case d < 8 && r < 97, r < 80:
				k = 0
			case r < 92:
				k = 1
			case r < 98:
				k = 2
			default:
				k = 3
			}
			f = int(callees[f][k])
		}
		if rng.IntN(4) == 0 {
			// A kernel part, annotated as profile -a does.
			buf = append(buf, ";entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k]"...)
		}
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(1+rng.IntN(200)), 10)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return w.Flush()
}
