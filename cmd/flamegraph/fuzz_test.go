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
func FuzzRun(f *testing.F) {
	f.Add([]byte("a;b 150\na;c 50\n"), false)
	f.Add([]byte("a;b 1 2\n\xff;\x00 3\r\n"), true)
	f.Add([]byte(""), false)
	f.Add([]byte("\x7fELF\x02\x01\x01\x00garbage\x00"), false)
	f.Add([]byte("\x1f\x8b\x08\x00truncated"), false)
	f.Add([]byte("a\x01;b 150\n"), false)
	f.Add(goProfile(f, true), false)
	f.Add(goProfile(f, false), false)
	f.Add(goProfile(f, false)[:60], false)
	f.Fuzz(func(t *testing.T, in []byte, gz bool) {
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(in)
			zw.Close()
			in = b.Bytes()
		}
		var out, errb bytes.Buffer
		code := run(nil, bytes.NewReader(in), &out, &errb)
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
			if msg := strings.TrimSpace(errb.String()); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("exit 1 without a one-line error: %q", errb.String())
			}
		default:
			t.Fatalf("exit %d; stderr %q", code, errb.String())
		}
	})
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
