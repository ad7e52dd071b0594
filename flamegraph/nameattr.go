package flamegraph

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ReadNameAttr reads flamegraph.pl's --nameattr file: per line a frame name,
// a tab, then tab-separated name=value attributes for that frame.
func ReadNameAttr(r io.Reader) (map[string]map[string]string, error) {
	m := make(map[string]map[string]string)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		name, rest, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: want name<TAB>attr=value..., got %q", n, line)
		}
		attrs := m[name]
		if attrs == nil {
			attrs = make(map[string]string)
			m[name] = attrs
		}
		for _, kv := range strings.Split(rest, "\t") {
			k, v, _ := strings.Cut(kv, "=")
			attrs[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read name attributes: %w", err)
	}
	return m, nil
}
