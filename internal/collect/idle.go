package collect

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// idleMeter tells whether the machine had a CPU to spare since it was last
// asked, from the idle time in /proc/stat. Symbolizing while collecting only
// saves time at the end; on a machine whose every CPU is busy it would take
// that time from the programs being profiled, so it waits for spare time
// (or the end), as perf record leaves all symbolizing to perf report.
type idleMeter struct {
	path        string // /proc/stat
	idle, total uint64 // at the last reading
	ok          bool   // idle and total were read
}

// idleWindow is how long warm measures idle time before it symbolizes.
const idleWindow = 100 * time.Millisecond

// spare reports whether the idle time since the last call adds up to at
// least one CPU's worth; true when /proc/stat cannot be read.
func (m *idleMeter) spare() bool {
	idle, total, cpus, err := readStat(m.path)
	if err != nil {
		return true
	}
	prevIdle, prevTotal, had := m.idle, m.total, m.ok
	m.idle, m.total, m.ok = idle, total, true
	if !had || total <= prevTotal || cpus == 0 {
		return true
	}
	return (idle-prevIdle)*uint64(cpus) >= total-prevTotal
}

// readStat returns the idle (idle and iowait) and total time of all CPUs
// from a /proc/stat, in ticks, and how many CPUs it lists.
func readStat(path string) (idle, total uint64, cpus int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cpu") || len(line) < 4 {
			break // the cpu lines come first
		}
		if line[3] != ' ' {
			cpus++
			continue
		}
		// user nice system idle iowait irq softirq steal (guest time is
		// also counted in user).
		for i, f := range strings.Fields(line)[1:] {
			if i >= 8 {
				break
			}
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return 0, 0, 0, err
			}
			total += v
			if i == 3 || i == 4 {
				idle += v
			}
		}
	}
	return idle, total, cpus, nil
}
