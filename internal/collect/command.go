package collect

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/emberprof/ember/internal/getopt"
	"github.com/emberprof/ember/internal/idlist"
	"github.com/emberprof/ember/internal/launch"
	"github.com/emberprof/ember/internal/outfile"
)

// UsageError is a mistake in the command line, for exit status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// ParseIDs is idlist.Parse with its syntax errors made usage errors.
func ParseIDs(list, flag, what, procRoot string) ([]uint32, error) {
	ids, err := idlist.Parse(list, flag, what, procRoot)
	var se *idlist.SyntaxError
	var tm *idlist.TooManyError
	if errors.As(err, &se) || errors.As(err, &tm) {
		return nil, UsageError{err}
	}
	return ids, err
}

// Main runs a command's run function on the process's arguments and exits
// with its status, made 1 if standard output cannot be closed.
func Main(name string, run func(args []string, stdout, stderr io.Writer) int) {
	launch.Exec() // a command's launcher (-- CMD) goes no further
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	if err := outfile.CloseStdout(os.Stdout); err != nil && code == 0 {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		code = 1
	}
	os.Exit(code)
}

// Parsed handles the outcome of parsing a command line: help prints usage,
// a usage error or a bad -o output path exits 2, another error 1. It returns
// false with the exit status when the command should not go on.
func Parsed(name string, err error, usage func() string, output string, stdout, stderr io.Writer) (int, bool) {
	var ue UsageError
	switch {
	case errors.Is(err, getopt.ErrHelp):
		fmt.Fprint(stdout, usage())
		return 0, false
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n(see %s --help)\n", name, err, name)
		return 2, false
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1, false
	}
	if err := outfile.Check(output); err != nil {
		// A bad -o is a usage error, found before collecting.
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2, false
	}
	return 0, true
}
