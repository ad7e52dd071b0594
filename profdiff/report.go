package profdiff

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/emberprof/ember/flamegraph"
)

// Formats are the report formats Write takes.
var Formats = []string{"table", "markdown", "json"}

// Write writes the report in format: "table", "markdown" or "json".
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		return r.writeTable(w)
	case "markdown":
		return r.writeMarkdown(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("unknown format %q: use table, markdown or json", format)
}

// what names the measure, e.g. "cpu seconds per run".
func (r *Report) what() string {
	s := r.Unit + " per run"
	if r.Kind != "" {
		s = r.Kind + " " + s
	}
	return s
}

func (r *Report) header() string {
	return fmt.Sprintf("base %s (%s) vs new %s (%s): %s, %g%% confidence over %d judgements, noise from %s",
		clean(r.Base.Name, 80), plural(len(r.Base.Runs), "run"), clean(r.New.Name, 80), plural(len(r.New.Runs), "run"),
		r.what(), r.Options.Confidence*100, r.Judgements, r.Model)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// Summary is the one-line verdict.
func (r *Report) Summary() string {
	switch r.Verdict {
	case NoiseUnknown:
		return "verdict: not judged: " + r.Note
	case Regression:
		var parts []string
		if r.Total.Verdict == Regression {
			parts = append(parts, "total "+r.change(r.Total.Cost))
		}
		for _, f := range r.Regressions() {
			parts = append(parts, clean(f.Name, 60)+" "+r.change(f.Self))
		}
		return "verdict: REGRESSION: " + strings.Join(parts, ", ")
	case TooFew:
		return "verdict: no regression found, but too few samples to rule one out for some rows: give more or longer runs"
	case Improved:
		return "verdict: no regression; improved: total " + r.change(r.Total.Cost)
	}
	return "verdict: no regression (total " + r.change(r.Total.Cost) + ")"
}

// change formats a change as "+12.3% ±4.5%", or in the unit when the base
// is zero.
func (r *Report) change(e Estimate) string {
	if e.Percent != nil {
		return fmt.Sprintf("%+.1f%% ±%.1f%%", *e.Percent, *e.PercentHalfWidth)
	}
	return fmt.Sprintf("%s ±%s", r.signed(e.Change), r.cost(e.HalfWidth))
}

// cost formats an amount of the report's unit.
func (r *Report) cost(v float64) string {
	if r.Unit != "seconds" {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0s"
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 3, 64) + "s"
	case a >= 1e-3:
		return strconv.FormatFloat(v*1e3, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v*1e6, 'f', 1, 64) + "µs"
}

func (r *Report) signed(v float64) string {
	s := r.cost(v)
	if v >= 0 {
		s = "+" + s
	}
	return s
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

// rows gives the table's cells: the total, then each judged function.
func (r *Report) rows() (head []string, rows [][]string) {
	head = []string{"", "base", "new", "change", "±", "share base→new", "±pt", "inclusive base→new", "verdict"}
	rel := func(e Estimate) (string, string) {
		if e.Percent != nil {
			return fmt.Sprintf("%+.1f%%", *e.Percent), fmt.Sprintf("±%.1f%%", *e.PercentHalfWidth)
		}
		return r.signed(e.Change), "±" + r.cost(e.HalfWidth)
	}
	unknown := r.Model == ModelUnknown
	t := r.Total.Cost
	c, hw := rel(t)
	if unknown {
		hw = "?"
	}
	rows = append(rows, []string{"TOTAL", r.cost(t.Base), r.cost(t.New), c, hw, "", "", "", shout(r.Total.Verdict)})
	for _, f := range r.Functions {
		if !f.Judged {
			continue
		}
		c, hw := rel(f.Self)
		shw := fmt.Sprintf("±%.1f", 100*f.Share.HalfWidth)
		if unknown {
			hw, shw = "?", "?"
		}
		v := shout(f.Verdict)
		rows = append(rows, []string{clean(f.Name, 60), r.cost(f.Self.Base), r.cost(f.Self.New), c, hw,
			pct(f.Share.Base) + "→" + pct(f.Share.New), shw,
			r.cost(f.InclusiveBase) + "→" + r.cost(f.InclusiveNew), v})
	}
	return head, rows
}

// shout makes a regression stand out in a column of verdicts.
func shout(v string) string {
	if v == Regression {
		return "REGRESSION"
	}
	return v
}

func (r *Report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "profdiff: %s\n\n", r.header())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head, rows := r.rows()
	head[0] = "function (self cost)"
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	notJudged := len(r.Functions) + 1 - r.Judgements
	fmt.Fprintf(w, "\n(%d functions not judged: self share under %g%% on both sides, or --ignore; see --format json)\n",
		notJudged, r.Options.MinShare)
	if r.Base.Ignored+r.New.Ignored > 0 {
		fmt.Fprintf(w, "(ignored %d lines with invalid format)\n", r.Base.Ignored+r.New.Ignored)
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

func (r *Report) writeMarkdown(w io.Writer) error {
	icon := map[string]string{Regression: "❌", OK: "✅", Improved: "✅", TooFew: "❔", NoiseUnknown: "❔"}
	fmt.Fprintf(w, "### %s profdiff: %s\n\n%s\n\n", icon[r.Verdict], r.Verdict, mdEscape(r.header()))
	head, rows := r.rows()
	head[0] = "function (self cost)"
	cells := func(c []string) string {
		for i := range c {
			c[i] = mdEscape(c[i])
		}
		return "| " + strings.Join(c, " | ") + " |\n"
	}
	io.WriteString(w, cells(head))
	io.WriteString(w, strings.Repeat("|---", len(head))+"|\n")
	for _, row := range rows {
		io.WriteString(w, cells(row))
	}
	_, err := fmt.Fprintf(w, "\n**%s**\n", mdEscape(r.Summary()))
	return err
}

// clean makes a name safe to print: invalid UTF-8 and control characters
// become escapes, and a long name is cut to max runes.
func clean(s string, max int) string {
	var b strings.Builder
	for n := 0; s != ""; n++ {
		if n == max {
			b.WriteString("…")
			break
		}
		c, size := utf8.DecodeRuneInString(s)
		switch {
		case c == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case unicode.IsControl(c) || c == '\u2028' || c == '\u2029':
			b.WriteString(strings.Trim(strconv.QuoteRune(c), "'"))
		default:
			b.WriteRune(c)
		}
		s = s[size:]
	}
	return b.String()
}

// mdEscape escapes the characters Markdown (GitHub's) would read as markup.
func mdEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 0x80 && strings.ContainsRune("\\`*_[]<>|~&", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// DiffStacks gives each side's stacks summed over its runs and divided by
// their number, for flamegraph.WriteDiffSVG: sides with different run counts
// compare per run. Seconds become microseconds, which the graph shows as
// whole numbers; the name of the unit shown is returned.
func DiffStacks(base, new []*Run, o Options) (before, after []flamegraph.Stack, countName string) {
	scale, countName := 1.0, "samples"
	if len(base) > 0 && base[0].Unit == "seconds" {
		scale, countName = 1e6, "microseconds"
	}
	return perRun(base, o, scale), perRun(new, o, scale), countName
}

func perRun(runs []*Run, o Options, scale float64) []flamegraph.Stack {
	sums := map[string]*flamegraph.Stack{}
	var out []flamegraph.Stack
	var keys []string
	for _, r := range runs {
		for _, s := range r.Stacks {
			if len(o.Focus) > 0 && !containsMatch(s.Frames, o.Focus) {
				continue
			}
			k := strings.Join(s.Frames, "\x00")
			st, ok := sums[k]
			if !ok {
				st = &flamegraph.Stack{Frames: s.Frames}
				sums[k] = st
				keys = append(keys, k)
			}
			st.Value += s.Value * scale / float64(len(runs))
		}
	}
	for _, k := range keys {
		out = append(out, *sums[k])
	}
	return out
}
