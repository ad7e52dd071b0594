package flamegraph

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValidPalette reports whether name is one of the palettes --colors accepts:
// hot, mem, io, wakeup, chain, java, js, perl, red, green, blue, aqua, yellow,
// purple and orange.
func ValidPalette(name string) bool {
	switch name {
	case "hot", "mem", "io", "wakeup", "chain", "java", "js", "perl",
		"red", "green", "blue", "aqua", "yellow", "purple", "orange":
		return true
	}
	return false
}

// rgb is a colour as flamegraph.pl writes it.
type rgb struct{ r, g, b int }

func (c rgb) String() string {
	return "rgb(" + strconv.Itoa(c.r) + "," + strconv.Itoa(c.g) + "," + strconv.Itoa(c.b) + ")"
}

func (c rgb) append(b []byte) []byte {
	b = append(b, "rgb("...)
	b = strconv.AppendInt(b, int64(c.r), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(c.g), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(c.b), 10)
	return append(b, ')')
}

// colorer picks frame colours the way flamegraph.pl does, so that a graph
// drawn by either tool colours the same function the same way.
type colorer struct {
	palette string
	hash    bool
	rnd     *rand.Rand // only for --random
}

// nameSum is Perl's unpack("%32W*", name): the sum of the code points, mod 2^32.
// Bytes that are not UTF-8 count as their byte value.
func nameSum(name string) uint32 {
	var sum uint32
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && n == 1 {
			r = rune(name[i])
		}
		sum += uint32(r)
		i += n
	}
	return sum
}

// perlRand returns the first value of Perl's rand(1) after srand(seed). Perl
// (5.20 and later, on every platform) uses its own drand48.
func perlRand(seed uint32) float64 {
	x := uint64(seed)<<16 | 0x330E
	x = (x*0x5DEECE66D + 0xB) & (1<<48 - 1)
	return float64(x) / (1 << 48)
}

// nameHash is flamegraph.pl's --hash value: it weights the first characters
// most, after dropping a "module`" prefix, so similar names get similar colours.
func nameHash(name string) float64 {
	if i := strings.IndexByte(name, '`'); i >= 1 {
		name = name[i+1:]
	}
	vector, weight, max, mod := 0.0, 1.0, 1.0, 10
	for _, c := range name {
		i := int(c) % mod
		vector += float64(i) / float64(mod-1) * weight
		mod++
		max += weight
		weight *= 0.70
		if mod > 12 {
			break
		}
	}
	return 1 - vector/max
}

func reverseString(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

// color returns the colour of a frame named name.
func (c *colorer) color(name string) rgb {
	var v1, v2, v3 float64
	switch {
	case c.hash:
		v1 = nameHash(name)
		v2 = nameHash(reverseString(name))
		v3 = v2
	case c.rnd != nil:
		v1, v2, v3 = c.rnd.Float64(), c.rnd.Float64(), c.rnd.Float64()
	default:
		v1 = perlRand(nameSum(name))
		v2, v3 = v1, v1
	}
	switch c.palette {
	case "hot":
		return rgb{205 + int(50*v3), int(230 * v1), int(55 * v2)}
	case "mem":
		return rgb{0, 190 + int(50*v2), int(210 * v1)}
	case "io":
		r := 80 + int(60*v1)
		return rgb{r, r, 190 + int(55*v2)}
	}
	return flat(family(c.palette, name), v1)
}

// family maps the multi-colour palettes to a flat one by the kind of code a
// name looks like, using the _[k], _[j], _[i] and _[w] annotations first.
func family(palette, name string) string {
	switch palette {
	case "java":
		switch {
		case strings.HasSuffix(name, "_[j]"):
			return "green"
		case strings.HasSuffix(name, "_[i]"):
			return "aqua"
		case javaName(name), strings.Contains(name, ":::"):
			return "green"
		case strings.Contains(name, "::"):
			return "yellow"
		case strings.HasSuffix(name, "_[k]"):
			return "orange"
		}
		return "red"
	case "perl":
		switch {
		case strings.Contains(name, "::"):
			return "yellow"
		case strings.Contains(name, "Perl"), strings.Contains(name, ".pl"):
			return "green"
		case strings.HasSuffix(name, "_[k]"):
			return "orange"
		}
		return "red"
	case "js":
		switch {
		case strings.HasSuffix(name, "_[j]"):
			if strings.Contains(name, "/") {
				return "green"
			}
			return "aqua"
		case strings.Contains(name, "::"):
			return "yellow"
		case jsPath(name):
			return "green"
		case strings.Contains(name, ":"):
			return "aqua"
		case name == " ":
			return "green"
		case strings.Contains(name, "_[k]"):
			return "orange"
		}
		return "red"
	case "wakeup":
		return "aqua"
	case "chain":
		if strings.Contains(name, "_[w]") {
			return "aqua"
		}
		return "blue"
	}
	return palette
}

// javaName matches ^L?(java|javax|jdk|net|org|com|io|sun)/.
func javaName(name string) bool {
	name = strings.TrimPrefix(name, "L")
	for _, p := range []string{"java/", "javax/", "jdk/", "net/", "org/", "com/", "io/", "sun/"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// jsPath matches /.*\.js: a ".js" somewhere after a "/".
func jsPath(name string) bool {
	i := strings.IndexByte(name, '/')
	return i >= 0 && strings.Contains(name[i:], ".js")
}

func flat(palette string, v float64) rgb {
	switch palette {
	case "red":
		x := 50 + int(80*v)
		return rgb{200 + int(55*v), x, x}
	case "green":
		x := 50 + int(60*v)
		return rgb{x, 200 + int(55*v), x}
	case "blue":
		x := 80 + int(60*v)
		return rgb{x, x, 205 + int(50*v)}
	case "yellow":
		x := 175 + int(55*v)
		return rgb{x, x, 50 + int(20*v)}
	case "purple":
		x := 190 + int(65*v)
		return rgb{x, 80 + int(60*v), x}
	case "aqua":
		return rgb{50 + int(60*v), 165 + int(55*v), 165 + int(55*v)}
	case "orange":
		return rgb{190 + int(65*v), 90 + int(65*v), 0}
	}
	return rgb{0, 0, 0}
}

// diffColor is the colour of a differential frame: red when it grew, blue
// when it shrank (swapped by negate), paler the smaller the change is next to
// the largest one.
func diffColor(delta, max float64, negate bool) rgb {
	if negate {
		delta = -delta
	}
	if max <= 0 {
		return rgb{255, 255, 255}
	}
	// A frame's change can exceed the largest line's change when lines merge.
	delta = min(max, delta)
	delta = maxf(-max, delta)
	switch {
	case delta > 0:
		v := int(210 * (max - delta) / max)
		return rgb{255, v, v}
	case delta < 0:
		v := int(210 * (max + delta) / max)
		return rgb{v, v, 255}
	}
	return rgb{255, 255, 255}
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// stripAnnotation removes the _[k], _[w], _[i] or _[j] suffix that only
// chooses a colour.
func stripAnnotation(name string) string {
	if n := len(name); n >= 4 && name[n-4] == '_' && name[n-3] == '[' && name[n-1] == ']' {
		switch name[n-2] {
		case 'k', 'w', 'i', 'j':
			return name[:n-4]
		}
	}
	return name
}

// ReadPalette reads a palette.map file (flamegraph.pl's --cp): one
// "name->rgb(r,g,b)" per line, giving fixed colours to frame names.
func ReadPalette(r io.Reader) (map[string]string, error) {
	m := make(map[string]string)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		// The colour never holds "->"; a C++ name may.
		i := strings.LastIndex(line, "->")
		if i < 0 || i+2 == len(line) {
			return nil, fmt.Errorf("palette line %d: want name->rgb(r,g,b), got %q", n, line)
		}
		m[line[:i]] = line[i+2:]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read palette: %w", err)
	}
	return m, nil
}

// WritePalette writes a palette map in ReadPalette's format, sorted by name so
// that the file does not change when the colours do not.
func WritePalette(w io.Writer, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.ContainsAny(k, "\n\r") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	bw := bufio.NewWriter(w)
	for _, k := range keys {
		bw.WriteString(k)
		bw.WriteString("->")
		bw.WriteString(m[k])
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
