package main

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// FuzzRun feeds arbitrary bytes to the command as its input, plain and
// gzipped, and checks what a user sees: success or flamegraph.pl's "no stack
// counts" SVG (exit 2) with a whole, well-formed SVG on stdout, or a one-line
// error (exit 1) with nothing on stdout. Never a panic or a partial SVG.
// With small set, it runs with bounds small enough for inputs to cross.
func FuzzRun(f *testing.F) {
	f.Add([]byte("a;b 150\na;c 50\n"), false, false)
	f.Add([]byte("a;b 1 2\n\xff;\x00 3\r\n"), true, false)
	f.Add([]byte(""), false, false)
	f.Add([]byte("\x7fELF\x02\x01\x01\x00garbage\x00"), false, false)
	f.Add([]byte("\x1f\x8b\x08\x00truncated"), false, false)
	f.Add([]byte("a\x01;b 150\n"), false, false)
	f.Add(goProfile(f, true), false, false)
	f.Add(goProfile(f, false), false, false)
	f.Add(goProfile(f, false)[:60], false, false)
	// Bounds: a line at and over --max-line, a truncated gzip, a deep stack,
	// a profile over --max-profile, gzip inside gzip, a zero byte first.
	atBound := []byte(strings.Repeat("a;", 30) + "b 12\n")
	f.Add(atBound, false, true)
	f.Add(append([]byte("x 1\n"), append(atBound[:len(atBound)-1], "3\n"...)...), true, true)
	f.Add(gzipped(atBound)[:20], false, true)
	f.Add(gzipped(bytes.Repeat(atBound, 20))[:40], false, false)
	f.Add([]byte("a;b;c;d;e;f 1\na;b 2\n"), false, true)
	f.Add(goProfile(f, false), false, true)
	f.Add(gzipped(goProfile(f, true)), false, false)
	f.Add([]byte("\x00\x00\x00\x00\x03\x00\x00\x00"), false, false)
	f.Fuzz(func(t *testing.T, in []byte, gz, small bool) {
		raw := in
		if gz {
			in = gzipped(in)
		}
		var args []string
		if small {
			args = []string{"--max-line=64", "--max-profile=256", "--max-depth=4"}
		}
		var out, errb bytes.Buffer
		code := run(args, bytes.NewReader(in), &out, &errb)
		switch code {
		case 0, 2:
			checkSVG(t, out.Bytes())
			if code == 2 && !strings.Contains(errb.String(), "No stack counts found") {
				t.Fatalf("exit 2 without the no-stacks error: %q", errb.String())
			}
		case 1:
			if out.Len() != 0 {
				t.Fatalf("exit 1 with %d bytes on stdout", out.Len())
			}
			msg := strings.TrimSpace(errb.String())
			if msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("exit 1 without a one-line error: %q", errb.String())
			}
			if strings.Contains(msg, "--max-line") && !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) && !hasLongLine(raw, 64) {
				t.Fatalf("no line over 64 bytes, yet %q", msg)
			}
		default:
			t.Fatalf("exit %d; stderr %q", code, errb.String())
		}
	})
}

func hasLongLine(b []byte, max int) bool {
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > max {
			return true
		}
	}
	return false
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// checkSVG fails unless b is one whole, well-formed SVG document.
func checkSVG(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("</svg>\n")) {
		t.Fatalf("output does not end the SVG: %q", b[max(0, len(b)-40):])
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("output is not well-formed XML: %v", err)
		}
	}
}
