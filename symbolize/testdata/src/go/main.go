// Command prog is a Go fixture for the symbolizer: small functions the
// compiler inlines, a closure, a generic function and a method.
package main

import (
	"os"
	"slices"
	"strconv"
)

type point struct{ x, y int }

func (p point) norm() int { return abs(p.x) + abs(p.y) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sum[T int | float64](v []T) T {
	var s T
	for _, x := range v {
		s += x
	}
	return s
}

//go:noinline
func work(n int) int {
	ps := make([]point, n)
	for i := range ps {
		ps[i] = point{i - n/2, n - 2*i}
	}
	slices.SortFunc(ps, func(a, b point) int { return a.norm() - b.norm() })
	v := make([]int, len(ps))
	for i, p := range ps {
		v[i] = p.norm()
	}
	return sum(v)
}

func main() {
	n := 10
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	os.Stdout.WriteString(strconv.Itoa(work(n)) + "\n")
}
